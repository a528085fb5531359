/* test_sched.c — the flush scheduler (supervisor/sup_sched.c) as a pure
 * state machine on a fake clock: every strategy, the deadline and flush
 * timeout bounds, unknown request ids, the default strategy's adaptation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "sup_sched.h"

#define MS 1000ull
#define SEC 1000000ull
#define T0 (1000 * SEC) /* fake monotonic start: far from zero */

static struct sup_sched S;
static struct sched_act A;

static void setup(const char *strategy, uint32_t timeout_ms, bool telemetry)
{
    struct cfg_flush f;
    assert_true(cfg_parse_flush(strategy, &f));
    sup_sched_init(&S, &f, timeout_ms, true, T0);
    sup_sched_set_telemetry(&S, telemetry);
    sup_sched_flusher(&S, true, T0, &A);
    assert_false(A.go);
    assert_int_equal(A.flush_id, 0);
}

/* end: hold until runtimeDone of this request, flush, go on FLUSHED. */
static void test_end_runtime_done_then_flushed(void **st)
{
    (void)st;
    setup("end", 30000, true);
    uint64_t now = T0 + 10 * MS;
    sup_sched_invoke(&S, "req-1", now + 3000 * MS, now, &A);
    assert_false(A.go);
    assert_int_equal(A.flush_id, 0);
    assert_int_equal(S.phase, SCHED_WAIT_DONE);
    /* the go-ahead is bounded: deadline 3 s minus the 200 ms margin */
    assert_int_equal(sup_sched_next_wake(&S), now + 2800 * MS);

    /* someone else's runtimeDone does not release or flush anything */
    sup_sched_runtime_done(&S, "req-0", now + 5 * MS, &A);
    assert_false(A.go);
    assert_int_equal(A.flush_id, 0);
    assert_int_equal(S.st.done_ignored, 1);

    sup_sched_runtime_done(&S, "req-1", now + 40 * MS, &A);
    assert_false(A.go);
    assert_int_not_equal(A.flush_id, 0);
    assert_false(A.final);
    /* budget = what is left of the bound */
    assert_int_equal(A.budget_ms, 2800 - 40);
    uint64_t id = A.flush_id;
    assert_int_equal(S.phase, SCHED_WAIT_FLUSH);

    /* an unknown flush id changes nothing */
    sup_sched_flushed(&S, id + 7, true, now + 50 * MS, &A);
    assert_false(A.go);
    assert_int_equal(S.st.late, 1);

    sup_sched_flushed(&S, id, true, now + 60 * MS, &A);
    assert_true(A.go);
    assert_int_equal(A.reason, SCHED_GO_FLUSHED);
    assert_int_equal(S.phase, SCHED_IDLE);
    assert_int_equal(S.st.started, 1);
    assert_int_equal(S.st.ok, 1);
    assert_int_equal(S.st.go[SCHED_GO_FLUSHED], 1);
    assert_int_equal(sup_sched_next_wake(&S), SCHED_NEVER);

    /* a late, duplicate runtimeDone for it gives nothing more */
    sup_sched_runtime_done(&S, "req-1", now + 70 * MS, &A);
    assert_false(A.go);
    assert_int_equal(A.flush_id, 0);
}

/* A tracer reports the end of req-2 before INVOKE req-2 is relayed, and
 * Lambda's late runtimeDone for req-1 arrives in between: req-2's end flush
 * still starts at its INVOKE, without waiting for its own runtimeDone. */
static void test_end_reported_before_invoke(void **st)
{
    (void)st;
    setup("end", 30000, true);
    sup_sched_invoke(&S, "req-1", T0 + 3000 * MS, T0, &A);
    sup_sched_runtime_done(&S, "req-1", T0 + 5 * MS, &A); /* the tracer's end of req-1 */
    sup_sched_flushed(&S, A.flush_id, true, T0 + 7 * MS, &A);
    assert_true(A.go);
    sup_sched_runtime_done(&S, "req-2", T0 + 10 * MS, &A); /* tracer, before INVOKE req-2 */
    assert_false(A.go);
    assert_int_equal(A.flush_id, 0);
    sup_sched_runtime_done(&S, "req-1", T0 + 30 * MS, &A); /* Lambda's, late */
    assert_int_equal(A.flush_id, 0);
    sup_sched_invoke(&S, "req-2", T0 + 3000 * MS, T0 + 31 * MS, &A);
    assert_false(A.go);
    assert_int_not_equal(A.flush_id, 0);
    assert_int_equal(S.phase, SCHED_WAIT_FLUSH);
}

/* A failed flush still releases the go-ahead, and is counted as failed. */
static void test_end_flush_failed_releases(void **st)
{
    (void)st;
    setup("end", 30000, true);
    sup_sched_invoke(&S, "r", T0 + 3000 * MS, T0, &A);
    sup_sched_runtime_done(&S, "r", T0 + 30 * MS, &A);
    uint64_t id = A.flush_id;
    sup_sched_flushed(&S, id, false, T0 + 40 * MS, &A);
    assert_true(A.go);
    assert_int_equal(A.reason, SCHED_GO_FLUSHED);
    assert_int_equal(S.st.failed, 1);
    assert_int_equal(S.st.ok, 0);
}

/* Without a telemetry subscription the end flush starts at INVOKE. */
static void test_end_without_telemetry_flushes_at_invoke(void **st)
{
    (void)st;
    setup("end", 30000, false);
    sup_sched_invoke(&S, "r", T0 + 3000 * MS, T0, &A);
    assert_false(A.go);
    assert_int_not_equal(A.flush_id, 0);
    assert_int_equal(A.budget_ms, 2800);
    uint64_t id = A.flush_id;
    sup_sched_flushed(&S, id, true, T0 + 3 * MS, &A);
    assert_true(A.go);
    assert_int_equal(A.reason, SCHED_GO_FLUSHED);
}

/* runtimeDone lost: the go-ahead comes at the deadline bound, by timer. */
static void test_lost_runtime_done_deadline_bound(void **st)
{
    (void)st;
    setup("end", 30000, true);
    sup_sched_invoke(&S, "r", T0 + 1000 * MS, T0, &A);
    uint64_t wake = sup_sched_next_wake(&S);
    assert_int_equal(wake, T0 + 800 * MS);
    sup_sched_tick(&S, wake - 1, &A);
    assert_false(A.go);
    sup_sched_tick(&S, wake, &A);
    assert_true(A.go);
    assert_int_equal(A.reason, SCHED_GO_DEADLINE);
    assert_int_equal(A.flush_id, 0);
    assert_int_equal(S.st.go[SCHED_GO_DEADLINE], 1);
}

/* The flush timeout bound, when it is nearer than the deadline. */
static void test_flush_timeout_bound(void **st)
{
    (void)st;
    setup("end", 1000, true);
    sup_sched_invoke(&S, "r", T0 + 60 * SEC, T0, &A);
    assert_int_equal(sup_sched_next_wake(&S), T0 + 1000 * MS);
    sup_sched_runtime_done(&S, "r", T0 + 200 * MS, &A);
    assert_int_equal(A.budget_ms, 800);
    uint64_t id = A.flush_id;
    /* the flusher never answers */
    sup_sched_tick(&S, T0 + 999 * MS, &A);
    assert_false(A.go);
    sup_sched_tick(&S, T0 + 1000 * MS, &A);
    assert_true(A.go);
    assert_int_equal(A.reason, SCHED_GO_TIMEOUT);
    /* the flush itself times out a little later, then its answer is late */
    uint64_t exp = sup_sched_next_wake(&S);
    assert_int_equal(exp, T0 + 200 * MS + 800 * MS + SCHED_FLUSH_SLACK_US);
    sup_sched_tick(&S, exp, &A);
    assert_int_equal(S.st.timed_out, 1);
    /* a flush that never answered opens the breaker: the next wake is its probe */
    assert_true(S.tripped);
    assert_int_equal(S.st.trips, 1);
    assert_int_equal(sup_sched_next_wake(&S), exp + SCHED_PROBE_FIRST_US);
    sup_sched_flushed(&S, id, true, exp + 1, &A);
    assert_false(A.go);
    assert_int_equal(S.st.late, 1);
    assert_int_equal(S.st.ok, 0);
    /* ... and its late success closes it again */
    assert_false(S.tripped);
    assert_int_equal(S.st.recoveries, 1);
    assert_int_equal(sup_sched_next_wake(&S), SCHED_NEVER);
}

/* One end-strategy invocation with telemetry at `now`; returns the end
 * flush's id (the go-ahead is then held for it). */
static uint64_t end_invocation(const char *rid, uint64_t now, uint32_t *budget_ms)
{
    sup_sched_invoke(&S, rid, now + 60 * SEC, now, &A);
    assert_false(A.go);
    sup_sched_runtime_done(&S, rid, now + 5 * MS, &A);
    assert_false(A.go);
    assert_int_not_equal(A.flush_id, 0);
    if (budget_ms)
        *budget_ms = A.budget_ms;
    return A.flush_id;
}

/* Breaker: an unreachable intake costs the full budget once; then end
 * flushes get SCHED_TRIP_BUDGET_US and the go-ahead comes by then, while
 * waiting for runtimeDone is not shortened; a probe between invocations
 * that sends closes it, and the full budget is back. */
static void test_breaker_unreachable(void **st)
{
    (void)st;
    setup("end", 10000, true);
    uint32_t budget;
    uint64_t now = T0;
    uint64_t id = end_invocation("r1", now, &budget);
    assert_int_equal(budget, 10000 - 5);
    /* TLS never answered: the flusher gives up at its budget */
    now += 10 * SEC;
    sup_sched_flushed(&S, id, SCHED_FLUSH_UNREACHABLE, now, &A);
    assert_true(A.go);
    assert_int_equal(A.reason, SCHED_GO_FLUSHED);
    assert_true(S.tripped);
    assert_int_equal(S.st.trips, 1);

    /* second invocation: runtimeDone is still awaited up to the usual bound */
    now += 50 * MS;
    sup_sched_invoke(&S, "r2", now + 60 * SEC, now, &A);
    assert_false(A.go);
    assert_int_equal(S.hold_limit_us, now + 10000 * MS);
    sup_sched_runtime_done(&S, "r2", now + 500 * MS, &A);
    now += 500 * MS;
    assert_int_equal(A.budget_ms, SCHED_TRIP_BUDGET_US / 1000u);
    assert_int_equal(sup_sched_next_wake(&S), now + SCHED_TRIP_BUDGET_US);
    sup_sched_tick(&S, now + SCHED_TRIP_BUDGET_US - 1, &A);
    assert_false(A.go);
    sup_sched_tick(&S, now + SCHED_TRIP_BUDGET_US, &A);
    assert_true(A.go);
    assert_int_equal(A.reason, SCHED_GO_BREAKER);
    assert_int_equal(S.st.go[SCHED_GO_BREAKER], 1);
    /* its unreachable answer comes a little later: still open, one trip */
    sup_sched_flushed(&S, S.next_id, SCHED_FLUSH_UNREACHABLE, now + SCHED_TRIP_BUDGET_US + 1 * MS, &A);
    assert_false(A.go);
    assert_int_equal(S.st.trips, 1);

    /* between invocations: the probe, with the probe budget */
    uint64_t due = sup_sched_next_wake(&S);
    assert_int_equal(due, T0 + 10 * SEC + SCHED_PROBE_FIRST_US);
    sup_sched_tick(&S, due, &A);
    assert_int_not_equal(A.flush_id, 0);
    assert_int_equal(A.budget_ms, SCHED_PROBE_BUDGET_US / 1000u);
    assert_int_equal(S.st.probes, 1);
    /* the intake is back: the probe sends everything kept */
    sup_sched_flushed(&S, A.flush_id, SCHED_FLUSH_OK, due + 30 * MS, &A);
    assert_false(S.tripped);
    assert_int_equal(S.st.recoveries, 1);
    assert_int_equal(sup_sched_next_wake(&S), SCHED_NEVER);
    now = due + 1 * SEC;
    end_invocation("r3", now, &budget);
    assert_int_equal(budget, 10000 - 5);
}

/* Breaker: the end flush is the probe too; an answer of any kind closes it,
 * an empty or skipped flush proves nothing. */
static void test_breaker_closing(void **st)
{
    (void)st;
    setup("end", 10000, true);
    uint64_t now = T0;
    uint64_t id = end_invocation("r1", now, NULL);
    sup_sched_flushed(&S, id, SCHED_FLUSH_UNREACHABLE, now + 20 * MS, &A);
    assert_true(S.tripped);
    now += 100 * MS;
    uint32_t budget;
    id = end_invocation("r2", now, &budget);
    assert_int_equal(budget, SCHED_TRIP_BUDGET_US / 1000u);
    sup_sched_flushed(&S, id, SCHED_FLUSH_EMPTY, now + 10 * MS, &A);
    assert_true(A.go);
    assert_true(S.tripped);
    now += 100 * MS;
    id = end_invocation("r3", now, NULL);
    sup_sched_flushed(&S, id, SCHED_FLUSH_SKIPPED, now + 10 * MS, &A);
    assert_true(S.tripped);
    now += 100 * MS;
    id = end_invocation("r4", now, NULL);
    /* a 500 or a 400: the intake is there */
    sup_sched_flushed(&S, id, SCHED_FLUSH_FAILED, now + 10 * MS, &A);
    assert_true(A.go);
    assert_false(S.tripped);
    now += 100 * MS;
    end_invocation("r5", now, &budget);
    assert_int_equal(budget, 10000 - 5);
    assert_int_equal(S.st.probes, 0);
    assert_int_equal(S.st.recoveries, 1);
}

/* Breaker: probes back off (1 s, 2 s, 4 s... up to the maximum) and never
 * run beside another flush; none after SHUTDOWN. */
static void test_breaker_probe_backoff(void **st)
{
    (void)st;
    setup("end", 10000, false);
    uint64_t now = T0;
    sup_sched_invoke(&S, "r1", now + 60 * SEC, now, &A);
    sup_sched_flushed(&S, A.flush_id, SCHED_FLUSH_UNREACHABLE, now + 10 * MS, &A);
    assert_true(A.go);
    uint64_t gap = SCHED_PROBE_FIRST_US, t = now + 10 * MS;
    for (int i = 0; i < 10; i++) {
        uint64_t due = sup_sched_next_wake(&S);
        assert_int_equal(due, t + gap);
        sup_sched_tick(&S, due, &A);
        assert_int_not_equal(A.flush_id, 0);
        sup_sched_flushed(&S, A.flush_id, SCHED_FLUSH_UNREACHABLE, due + 5 * MS, &A);
        t = due;
        gap = gap * 2 > SCHED_PROBE_MAX_US ? SCHED_PROBE_MAX_US : gap * 2;
    }
    assert_int_equal(S.st.probes, 10);
    /* a flush still running when a probe is due: that probe is skipped */
    uint64_t due = sup_sched_next_wake(&S);
    sup_sched_invoke(&S, "r2", due - 1 * MS + 60 * SEC, due - 1 * MS, &A);
    assert_int_not_equal(A.flush_id, 0);
    sup_sched_tick(&S, due, &A);
    assert_int_equal(A.flush_id, 0);
    assert_int_equal(S.st.probes, 10);
    sup_sched_shutdown(&S, 1000, due + 1 * MS, &A);
    assert_true(A.final);
    sup_sched_flushed(&S, A.flush_id, SCHED_FLUSH_UNREACHABLE, due + 2 * MS, &A);
    uint64_t w = sup_sched_next_wake(&S);
    if (w != SCHED_NEVER) {
        sup_sched_tick(&S, w, &A);
        assert_int_equal(A.flush_id, 0);
    }
}

/* Tiny timeouts: the margin shrinks to a fifth of the time left; a
 * deadline already past gives the go-ahead at once. */
static void test_tiny_and_past_deadlines(void **st)
{
    (void)st;
    setup("end", 30000, true);
    sup_sched_invoke(&S, "r", T0 + 200 * MS, T0, &A);
    assert_false(A.go);
    assert_int_equal(sup_sched_next_wake(&S), T0 + 160 * MS);
    sup_sched_runtime_done(&S, "r", T0 + 159 * MS + 500, &A);
    /* under a millisecond left: no flush can fit, go now */
    assert_true(A.go);
    assert_int_equal(A.flush_id, 0);
    assert_int_equal(A.reason, SCHED_GO_DEADLINE);

    sup_sched_invoke(&S, "r2", T0 + 1 * SEC, T0 + 2 * SEC, &A);
    assert_true(A.go);
    assert_int_equal(A.reason, SCHED_GO_DEADLINE);
    assert_int_equal(A.flush_id, 0);

    /* the conversion from Lambda's epoch deadline */
    assert_int_equal(sup_sched_deadline_us(5000, 6000, T0), T0);
    assert_int_equal(sup_sched_deadline_us(7500, 6000, T0), T0 + 1500 * MS);
    assert_int_equal(sup_sched_deadline_us(INT64_MAX, 6000, T0), T0 + SCHED_MAX_LEFT_US);
    assert_int_equal(sup_sched_deadline_us(INT64_MIN, 6000, T0), T0);
}

/* A runtimeDone for an invocation whose INVOKE never came (lifecycle died
 * in /next) neither flushes nor gives a go-ahead; one that precedes its
 * own INVOKE makes that INVOKE flush at once. */
static void test_unknown_and_early_request_ids(void **st)
{
    (void)st;
    setup("end", 30000, true);
    sup_sched_runtime_done(&S, "never-invoked", T0, &A);
    assert_false(A.go);
    assert_int_equal(A.flush_id, 0);
    sup_sched_runtime_done(&S, "", T0, &A);
    sup_sched_runtime_done(&S, NULL, T0, &A);
    assert_int_equal(S.st.done_ignored, 3);
    assert_int_equal(S.phase, SCHED_IDLE);

    sup_sched_runtime_done(&S, "early", T0 + 1 * MS, &A);
    sup_sched_invoke(&S, "early", T0 + 3 * SEC, T0 + 2 * MS, &A);
    assert_false(A.go);
    assert_int_not_equal(A.flush_id, 0);
    assert_int_equal(S.phase, SCHED_WAIT_FLUSH);
}

/* The flusher dies during the end flush, or is down at runtimeDone. */
static void test_flusher_lost(void **st)
{
    (void)st;
    setup("end", 30000, true);
    sup_sched_invoke(&S, "a", T0 + 3 * SEC, T0, &A);
    sup_sched_runtime_done(&S, "a", T0 + 30 * MS, &A);
    assert_int_not_equal(A.flush_id, 0);
    sup_sched_flusher(&S, false, T0 + 40 * MS, &A);
    assert_true(A.go);
    assert_int_equal(A.reason, SCHED_GO_NO_FLUSHER);
    assert_int_equal(S.st.failed, 1);

    sup_sched_invoke(&S, "b", T0 + 5 * SEC, T0 + 1 * SEC, &A);
    assert_false(A.go);
    sup_sched_runtime_done(&S, "b", T0 + 1030 * MS, &A);
    assert_true(A.go);
    assert_int_equal(A.flush_id, 0);
    assert_int_equal(A.reason, SCHED_GO_NO_FLUSHER);
}

/* The lifecycle dies while its go-ahead is held: the hold is dropped
 * without a go-ahead (the new child calls /next itself). */
static void test_lifecycle_lost(void **st)
{
    (void)st;
    setup("end", 30000, true);
    sup_sched_invoke(&S, "a", T0 + 3 * SEC, T0, &A);
    sup_sched_lifecycle_lost(&S);
    assert_int_equal(S.phase, SCHED_IDLE);
    assert_int_equal(S.st.abandoned, 1);
    assert_int_equal(sup_sched_next_wake(&S), SCHED_NEVER);
    sup_sched_runtime_done(&S, "a", T0 + 30 * MS, &A);
    assert_false(A.go);
    assert_int_equal(A.flush_id, 0);
}

/* periodically,<ms>: flush at an invocation's end only when <ms> passed. */
static void test_periodically(void **st)
{
    (void)st;
    setup("periodically,1000", 30000, true);
    /* first invocation: never flushed yet, so it is due */
    sup_sched_invoke(&S, "1", T0 + 3 * SEC, T0, &A);
    assert_false(A.go);
    sup_sched_runtime_done(&S, "1", T0 + 10 * MS, &A);
    uint64_t id = A.flush_id;
    assert_int_not_equal(id, 0);
    sup_sched_flushed(&S, id, true, T0 + 20 * MS, &A);
    assert_true(A.go);
    /* 500 ms after that flush started: go at once */
    sup_sched_invoke(&S, "2", T0 + 3510 * MS, T0 + 510 * MS, &A);
    assert_true(A.go);
    assert_int_equal(A.reason, SCHED_GO_IMMEDIATE);
    assert_int_equal(A.flush_id, 0);
    /* no background timer in this strategy */
    assert_int_equal(sup_sched_next_wake(&S), SCHED_NEVER);
    /* 1000 ms after it: due again */
    sup_sched_invoke(&S, "3", T0 + 4010 * MS, T0 + 1010 * MS, &A);
    assert_false(A.go);
    assert_int_equal(S.phase, SCHED_WAIT_DONE);
}

/* continuously,<ms>: go at once, background flush every <ms>, a cycle
 * skipped while the previous one runs. */
static void test_continuously(void **st)
{
    (void)st;
    setup("continuously,100", 30000, true);
    assert_int_equal(sup_sched_next_wake(&S), T0 + 100 * MS);
    sup_sched_invoke(&S, "1", T0 + 3 * SEC, T0 + 10 * MS, &A);
    assert_true(A.go);
    assert_int_equal(A.reason, SCHED_GO_IMMEDIATE);
    assert_int_equal(A.flush_id, 0);
    sup_sched_runtime_done(&S, "1", T0 + 50 * MS, &A);
    assert_false(A.go);
    assert_int_equal(A.flush_id, 0);

    sup_sched_tick(&S, T0 + 99 * MS, &A);
    assert_int_equal(A.flush_id, 0);
    sup_sched_tick(&S, T0 + 100 * MS, &A);
    uint64_t id = A.flush_id;
    assert_int_not_equal(id, 0);
    assert_false(A.go);
    assert_int_equal(A.budget_ms, 30000);
    assert_int_equal(sup_sched_next_wake(&S), T0 + 200 * MS);
    /* still running at the next cycle: skipped */
    sup_sched_tick(&S, T0 + 200 * MS, &A);
    assert_int_equal(A.flush_id, 0);
    assert_int_equal(S.st.bg_skipped, 1);
    sup_sched_flushed(&S, id, true, T0 + 250 * MS, &A);
    assert_false(A.go);
    sup_sched_tick(&S, T0 + 300 * MS, &A);
    assert_int_not_equal(A.flush_id, 0);
    assert_int_equal(S.st.bg_started, 2);
    assert_int_equal(S.st.go[SCHED_GO_IMMEDIATE], 1);
    /* no background flush without a flusher */
    sup_sched_flusher(&S, false, T0 + 310 * MS, &A);
    assert_int_equal(sup_sched_next_wake(&S), SCHED_NEVER);
}

/* end,<ms>: end flushes plus background ones; an end flush restarts the period. */
static void test_end_periodic(void **st)
{
    (void)st;
    setup("end,500", 30000, true);
    assert_int_equal(sup_sched_next_wake(&S), T0 + 500 * MS);
    sup_sched_invoke(&S, "1", T0 + 3 * SEC, T0 + 100 * MS, &A);
    assert_false(A.go);
    sup_sched_runtime_done(&S, "1", T0 + 200 * MS, &A);
    uint64_t id = A.flush_id;
    assert_int_not_equal(id, 0);
    sup_sched_flushed(&S, id, true, T0 + 210 * MS, &A);
    assert_true(A.go);
    assert_int_equal(sup_sched_next_wake(&S), T0 + 700 * MS);
    sup_sched_tick(&S, T0 + 700 * MS, &A);
    assert_int_not_equal(A.flush_id, 0);
    assert_int_equal(S.st.bg_started, 1);
}

static void run_default(uint64_t gap_us, unsigned n)
{
    setup("default", 30000, false);
    uint64_t now = T0;
    for (unsigned i = 0; i < n; i++) {
        char rid[16];
        snprintf(rid, sizeof rid, "r%u", i);
        sup_sched_invoke(&S, rid, now + 3 * SEC, now, &A);
        if (!A.go) {
            assert_int_not_equal(A.flush_id, 0);
            sup_sched_flushed(&S, A.flush_id, true, now + 1 * MS, &A);
            assert_true(A.go);
        }
        /* background flushes in between, answered at once */
        for (;;) {
            uint64_t w = sup_sched_next_wake(&S);
            if (w > now + gap_us)
                break;
            sup_sched_tick(&S, w, &A);
            if (A.flush_id)
                sup_sched_flushed(&S, A.flush_id, true, w, &A);
        }
        now += gap_us;
    }
}

/* default: end for the first 20 invocations, then continuously every 20 s
 * when invocations come often. */
static void test_default_short_gaps(void **st)
{
    (void)st;
    run_default(1 * SEC, SCHED_ADAPT_N - 1);
    assert_int_equal(S.mode, SCHED_MODE_END);
    assert_int_equal(S.st.go[SCHED_GO_FLUSHED], SCHED_ADAPT_N - 1);
    assert_int_equal(S.st.go[SCHED_GO_IMMEDIATE], 0);
    run_default(1 * SEC, SCHED_ADAPT_N + 25);
    assert_int_equal(S.mode, SCHED_MODE_CONTINUOUSLY);
    assert_int_equal(S.st.mode_switches, 1);
    /* the 20th invocation already goes at once, and every one after it */
    assert_int_equal(S.st.go[SCHED_GO_FLUSHED], SCHED_ADAPT_N - 1);
    assert_int_equal(S.st.go[SCHED_GO_IMMEDIATE], 26);
    assert_int_equal(S.bg_ms, SCHED_DEFAULT_CONT_MS);
    /* the continuous flush ran 20 s after the last end flush (at 18 s) */
    assert_int_equal(S.st.bg_started, 1);
}

/* default with invocations >= 120 s apart stays on end (with 60 s backups). */
static void test_default_long_gaps(void **st)
{
    (void)st;
    run_default(130 * SEC, SCHED_ADAPT_N + 5);
    assert_int_equal(S.mode, SCHED_MODE_END);
    assert_int_equal(S.st.mode_switches, 0);
    assert_int_equal(S.st.go[SCHED_GO_FLUSHED], SCHED_ADAPT_N + 5);
    assert_int_equal(S.st.go[SCHED_GO_IMMEDIATE], 0);
    assert_int_equal(S.bg_ms, SCHED_DEFAULT_BACKUP_MS);
    /* the 60 s backup ran between invocations 130 s apart */
    assert_true(S.st.bg_started >= SCHED_ADAPT_N);
}

/* default adapts back to end when invocations slow down. */
static void test_default_adapts_back(void **st)
{
    (void)st;
    run_default(1 * SEC, SCHED_ADAPT_N);
    assert_int_equal(S.mode, SCHED_MODE_CONTINUOUSLY);
    uint64_t now = T0 + SCHED_ADAPT_N * SEC;
    for (unsigned i = 0; i < SCHED_ADAPT_N; i++) {
        now += 200 * SEC;
        sup_sched_invoke(&S, "slow", now + 3 * SEC, now, &A);
        if (!A.go)
            sup_sched_flushed(&S, A.flush_id, true, now, &A);
    }
    assert_int_equal(S.mode, SCHED_MODE_END);
    assert_int_equal(S.st.mode_switches, 2);
}

/* SHUTDOWN: the final flush within its budget (capped by the flush
 * timeout); background flushing stops; a held go-ahead is dropped. */
static void test_shutdown(void **st)
{
    (void)st;
    setup("end,100", 1000, true);
    sup_sched_invoke(&S, "a", T0 + 3 * SEC, T0, &A);
    sup_sched_shutdown(&S, 1700, T0 + 10 * MS, &A);
    assert_false(A.go);
    assert_true(A.final);
    assert_int_not_equal(A.flush_id, 0);
    assert_int_equal(A.budget_ms, 1000);
    assert_int_equal(S.phase, SCHED_IDLE);
    uint64_t id = A.flush_id;
    /* only the final flush's own time-out remains */
    assert_int_equal(sup_sched_next_wake(&S), T0 + 10 * MS + 1000 * MS + SCHED_FLUSH_SLACK_US);
    sup_sched_flushed(&S, id, true, T0 + 20 * MS, &A);
    assert_false(A.go);
    assert_int_equal(sup_sched_next_wake(&S), SCHED_NEVER);
    /* an INVOKE now is not held */
    sup_sched_invoke(&S, "b", T0 + 3 * SEC, T0 + 30 * MS, &A);
    assert_true(A.go);
    assert_int_equal(A.reason, SCHED_GO_IMMEDIATE);

    /* no flusher, or no time: no final flush */
    setup("end", 1000, true);
    sup_sched_flusher(&S, false, T0, &A);
    sup_sched_shutdown(&S, 1700, T0, &A);
    assert_int_equal(A.flush_id, 0);
    setup("end", 1000, true);
    sup_sched_shutdown(&S, 0, T0, &A);
    assert_int_equal(A.flush_id, 0);
}

/* Idle mode (nothing can be shipped): never flush, never hold. */
static void test_idle(void **st)
{
    (void)st;
    struct cfg_flush f = {CFG_FLUSH_END_PERIODIC, 100};
    sup_sched_init(&S, &f, 30000, false, T0);
    sup_sched_set_telemetry(&S, true);
    sup_sched_flusher(&S, true, T0, &A);
    sup_sched_invoke(&S, "a", T0 + 3 * SEC, T0, &A);
    assert_true(A.go);
    assert_int_equal(A.reason, SCHED_GO_IMMEDIATE);
    assert_int_equal(sup_sched_next_wake(&S), SCHED_NEVER);
    sup_sched_tick(&S, T0 + 10 * SEC, &A);
    assert_int_equal(A.flush_id, 0);
}

/* A second INVOKE while one is held (the lifecycle moved on) replaces it. */
static void test_invoke_while_held(void **st)
{
    (void)st;
    setup("end", 30000, true);
    sup_sched_invoke(&S, "a", T0 + 3 * SEC, T0, &A);
    sup_sched_invoke(&S, "b", T0 + 4 * SEC, T0 + 1 * SEC, &A);
    assert_int_equal(S.st.abandoned, 1);
    sup_sched_runtime_done(&S, "a", T0 + 1100 * MS, &A);
    assert_int_equal(A.flush_id, 0);
    sup_sched_runtime_done(&S, "b", T0 + 1200 * MS, &A);
    assert_int_not_equal(A.flush_id, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_end_runtime_done_then_flushed),
        cmocka_unit_test(test_end_flush_failed_releases),
        cmocka_unit_test(test_end_without_telemetry_flushes_at_invoke),
        cmocka_unit_test(test_lost_runtime_done_deadline_bound),
        cmocka_unit_test(test_flush_timeout_bound),
        cmocka_unit_test(test_tiny_and_past_deadlines),
        cmocka_unit_test(test_unknown_and_early_request_ids),
        cmocka_unit_test(test_flusher_lost),
        cmocka_unit_test(test_lifecycle_lost),
        cmocka_unit_test(test_periodically),
        cmocka_unit_test(test_continuously),
        cmocka_unit_test(test_end_periodic),
        cmocka_unit_test(test_default_short_gaps),
        cmocka_unit_test(test_default_long_gaps),
        cmocka_unit_test(test_default_adapts_back),
        cmocka_unit_test(test_shutdown),
        cmocka_unit_test(test_idle),
        cmocka_unit_test(test_invoke_while_held),
        cmocka_unit_test(test_breaker_unreachable),
        cmocka_unit_test(test_breaker_closing),
        cmocka_unit_test(test_breaker_probe_backoff),
        cmocka_unit_test(test_end_reported_before_invoke),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
