/* sup_sched.c — see sup_sched.h.
 *
 * Phases of the invocation's go-ahead (one invocation at a time):
 *
 *   event \ phase     IDLE                 WAIT_DONE              WAIT_FLUSH
 *   INVOKE            decide (below)       abandon, decide        abandon, decide
 *   runtimeDone(rid)  remember rid         rid matches: flush     remember rid
 *                                          -> WAIT_FLUSH
 *   FLUSHED(id)       count                count                  id matches: GO flushed
 *   hold limit        -                    GO deadline|timeout    GO deadline|timeout
 *   flusher lost      fail flights         -                      GO no_flusher
 *   lifecycle lost    -                    drop (no GO)           drop (no GO)
 *   SHUTDOWN          final flush          drop, final flush      drop, final flush
 *
 * decide: the strategy does not flush at this end -> GO immediate; else,
 * with telemetry and no runtimeDone yet -> WAIT_DONE; else flush now ->
 * WAIT_FLUSH. A hold whose limit has already passed -> GO at once.
 *
 * Breaker (see sup_sched.h): closed --(unreachable | flush expired)--> open
 * --(flush sent something | intake answered)--> closed. Open only shortens
 * the WAIT_FLUSH part of a hold (waiting for runtimeDone costs the
 * invocation nothing: the function is still running) and adds probes. */
#include "sup_sched.h"

#include <stdio.h>
#include <string.h>

/* Per strategy: the starting mode, the background period and the minimum
 * time between end flushes (periodically). */
static void strategy_params(const struct cfg_flush *f, enum sched_mode *mode, uint32_t *bg_ms,
                            uint32_t *period_ms)
{
    uint32_t iv = f->interval_ms < SCHED_MIN_INTERVAL_MS ? SCHED_MIN_INTERVAL_MS : f->interval_ms;
    *bg_ms = 0;
    *period_ms = 0;
    switch (f->kind) {
    case CFG_FLUSH_END:
        *mode = SCHED_MODE_END;
        break;
    case CFG_FLUSH_END_PERIODIC:
        *mode = SCHED_MODE_END;
        *bg_ms = iv;
        break;
    case CFG_FLUSH_PERIODICALLY:
        *mode = SCHED_MODE_PERIODICALLY;
        *period_ms = iv;
        break;
    case CFG_FLUSH_CONTINUOUSLY:
        *mode = SCHED_MODE_CONTINUOUSLY;
        *bg_ms = iv;
        break;
    case CFG_FLUSH_DEFAULT:
    default:
        *mode = SCHED_MODE_END;
        *bg_ms = SCHED_DEFAULT_BACKUP_MS;
        break;
    }
}

void sup_sched_init(struct sup_sched *s, const struct cfg_flush *strategy, uint32_t flush_timeout_ms,
                    bool enabled, uint64_t now_us)
{
    memset(s, 0, sizeof *s);
    s->strategy = *strategy;
    s->flush_timeout_us = (uint64_t)(flush_timeout_ms ? flush_timeout_ms : 1) * 1000u;
    s->enabled = enabled;
    strategy_params(strategy, &s->mode, &s->bg_ms, &s->period_ms);
    s->bg_due_us = s->bg_ms ? now_us + (uint64_t)s->bg_ms * 1000u : SCHED_NEVER;
}

void sup_sched_set_telemetry(struct sup_sched *s, bool subscribed)
{
    s->telemetry = subscribed;
}

static void act_clear(struct sched_act *out)
{
    memset(out, 0, sizeof *out);
}

static void go(struct sup_sched *s, enum sched_go_reason r, struct sched_act *out)
{
    s->phase = SCHED_IDLE;
    s->hold_flush = 0;
    s->rid[0] = '\0';
    s->st.go[r]++;
    out->go = true;
    out->reason = r;
}

static struct sched_flight *flight_find(struct sup_sched *s, uint64_t id)
{
    for (unsigned i = 0; i < SCHED_FLIGHTS; i++)
        if (s->flight[i].id && s->flight[i].id == id)
            return &s->flight[i];
    return NULL;
}

static struct sched_flight *flight_free(struct sup_sched *s)
{
    for (unsigned i = 0; i < SCHED_FLIGHTS; i++)
        if (s->flight[i].id == 0)
            return &s->flight[i];
    return NULL;
}

static bool flight_running(const struct sup_sched *s, enum sched_flight_kind k)
{
    for (unsigned i = 0; i < SCHED_FLIGHTS; i++)
        if (s->flight[i].id && s->flight[i].kind == k)
            return true;
    return false;
}

static void trip(struct sup_sched *s, uint64_t now_us)
{
    if (s->tripped)
        return;
    s->tripped = true;
    s->st.trips++;
    s->probe_gap_us = SCHED_PROBE_FIRST_US;
    s->probe_due_us = now_us + s->probe_gap_us;
}

static void untrip(struct sup_sched *s)
{
    if (!s->tripped)
        return;
    s->tripped = false;
    s->st.recoveries++;
    s->probe_due_us = 0;
}

/* Start a flush of budget_ms; 0 when none can start (no flusher, no slot,
 * no time). The background period restarts from here. */
static uint64_t flush_start(struct sup_sched *s, enum sched_flight_kind k, uint64_t budget_us,
                            uint64_t now_us, struct sched_act *out)
{
    if (!s->enabled || !s->flusher_up || budget_us < 1000u)
        return 0;
    struct sched_flight *slot = flight_free(s);
    if (slot == NULL)
        return 0;
    uint64_t id = ++s->next_id;
    slot->id = id;
    slot->kind = k;
    slot->t_expire_us = now_us + budget_us + SCHED_FLUSH_SLACK_US;
    s->st.started++;
    s->t_last_flush_us = now_us;
    s->flushed_once = true;
    if (s->bg_ms)
        s->bg_due_us = now_us + (uint64_t)s->bg_ms * 1000u;
    out->flush_id = id;
    out->budget_ms = (uint32_t)(budget_us / 1000u);
    out->final = k == SCHED_FL_FINAL;
    return id;
}

/* The end flush of the held invocation, within what is left of the hold. */
static void end_flush(struct sup_sched *s, uint64_t now_us, struct sched_act *out)
{
    if (now_us >= s->hold_limit_us) {
        go(s, s->limit_reason, out);
        return;
    }
    if (!s->flusher_up) {
        go(s, SCHED_GO_NO_FLUSHER, out);
        return;
    }
    if (s->tripped && s->hold_limit_us - now_us > SCHED_TRIP_BUDGET_US) {
        s->hold_limit_us = now_us + SCHED_TRIP_BUDGET_US;
        s->limit_reason = SCHED_GO_BREAKER;
    }
    uint64_t id = flush_start(s, SCHED_FL_END, s->hold_limit_us - now_us, now_us, out);
    if (id == 0) {
        /* under a millisecond left, or every slot taken by flushes that
         * have not answered: waiting would only spend the invocation's time */
        go(s, s->limit_reason, out);
        return;
    }
    s->phase = SCHED_WAIT_FLUSH;
    s->hold_flush = id;
}

/* default: adapt to the gaps between the last SCHED_ADAPT_N INVOKEs. */
static void adapt(struct sup_sched *s, uint64_t now_us)
{
    s->inv_t[s->invocations % SCHED_ADAPT_N] = now_us;
    s->invocations++;
    if (s->strategy.kind != CFG_FLUSH_DEFAULT || s->invocations < SCHED_ADAPT_N)
        return;
    uint64_t oldest = s->inv_t[s->invocations % SCHED_ADAPT_N];
    uint64_t avg_gap = (now_us - oldest) / (SCHED_ADAPT_N - 1);
    enum sched_mode m = avg_gap >= SCHED_ADAPT_GAP_US ? SCHED_MODE_END : SCHED_MODE_CONTINUOUSLY;
    if (m == s->mode)
        return;
    s->mode = m;
    s->st.mode_switches++;
    uint32_t bg = m == SCHED_MODE_CONTINUOUSLY ? SCHED_DEFAULT_CONT_MS : SCHED_DEFAULT_BACKUP_MS;
    /* keep the period's phase: due one new period after the last flush */
    uint64_t from = s->flushed_once ? s->t_last_flush_us : now_us;
    s->bg_ms = bg;
    s->bg_due_us = from + (uint64_t)bg * 1000u;
}

static bool rid_eq(const char *a, const char *b)
{
    return a[0] && strcmp(a, b) == 0;
}

void sup_sched_invoke(struct sup_sched *s, const char *rid, uint64_t deadline_us, uint64_t now_us,
                      struct sched_act *out)
{
    act_clear(out);
    if (s->phase != SCHED_IDLE)
        s->st.abandoned++; /* the lifecycle moved on without our go-ahead */
    s->phase = SCHED_IDLE;
    s->hold_flush = 0;
    snprintf(s->rid, sizeof s->rid, "%s", rid ? rid : "");
    adapt(s, now_us);

    bool want = s->enabled && !s->shutting;
    if (s->mode == SCHED_MODE_CONTINUOUSLY)
        want = false;
    else if (s->mode == SCHED_MODE_PERIODICALLY)
        want = want && (!s->flushed_once ||
                        now_us - s->t_last_flush_us >= (uint64_t)s->period_ms * 1000u);
    if (!want) {
        go(s, SCHED_GO_IMMEDIATE, out);
        return;
    }
    /* the bounds of the hold */
    uint64_t left = deadline_us > now_us ? deadline_us - now_us : 0;
    if (left > SCHED_MAX_LEFT_US)
        left = SCHED_MAX_LEFT_US;
    /* a reset sandbox (timeout) costs the customer far more than giving up
     * on a stuck flush a little earlier */
    uint64_t margin = left / SCHED_GO_MARGIN_DIV < SCHED_GO_MARGIN_US ? left / SCHED_GO_MARGIN_DIV
                                                                      : SCHED_GO_MARGIN_US;
    uint64_t by_deadline = now_us + left - margin;
    uint64_t by_timeout = now_us + s->flush_timeout_us;
    if (by_timeout < by_deadline) {
        s->hold_limit_us = by_timeout;
        s->limit_reason = SCHED_GO_TIMEOUT;
    } else {
        s->hold_limit_us = by_deadline;
        s->limit_reason = SCHED_GO_DEADLINE;
    }
    if (s->telemetry && !rid_eq(s->rid, s->done_rid)) {
        if (now_us >= s->hold_limit_us) {
            go(s, s->limit_reason, out);
            return;
        }
        s->phase = SCHED_WAIT_DONE;
        return;
    }
    if (s->telemetry)
        s->st.done_matched++; /* its runtimeDone came first */
    snprintf(s->ended_rid, sizeof s->ended_rid, "%s", s->rid);
    end_flush(s, now_us, out);
}

void sup_sched_runtime_done(struct sup_sched *s, const char *rid, uint64_t now_us, struct sched_act *out)
{
    act_clear(out);
    if (rid == NULL || rid[0] == '\0') {
        s->st.done_ignored++;
        return;
    }
    /* a second end of an invocation already ended (Lambda's runtimeDone
     * after a tracer reported it) must not replace an end remembered for an
     * invocation whose INVOKE is still on its way */
    if (rid_eq(s->ended_rid, rid)) {
        s->st.done_ignored++;
        return;
    }
    snprintf(s->done_rid, sizeof s->done_rid, "%s", rid);
    if (s->phase != SCHED_WAIT_DONE || !rid_eq(s->rid, rid)) {
        s->st.done_ignored++;
        return;
    }
    s->st.done_matched++;
    snprintf(s->ended_rid, sizeof s->ended_rid, "%s", rid);
    end_flush(s, now_us, out);
}

void sup_sched_flushed(struct sup_sched *s, uint64_t id, enum sched_outcome res, uint64_t now_us,
                       struct sched_act *out)
{
    act_clear(out);
    /* a late answer still tells whether the intake can be reached */
    if (res == SCHED_FLUSH_UNREACHABLE)
        trip(s, now_us);
    else if (res == SCHED_FLUSH_OK || res == SCHED_FLUSH_FAILED)
        untrip(s);
    struct sched_flight *f = id ? flight_find(s, id) : NULL;
    if (f == NULL) {
        s->st.late++;
        return;
    }
    f->id = 0;
    if (res == SCHED_FLUSH_OK || res == SCHED_FLUSH_EMPTY)
        s->st.ok++;
    else
        s->st.failed++;
    if (s->phase == SCHED_WAIT_FLUSH && s->hold_flush == id)
        go(s, SCHED_GO_FLUSHED, out);
}

void sup_sched_flusher(struct sup_sched *s, bool up, uint64_t now_us, struct sched_act *out)
{
    (void)now_us;
    act_clear(out);
    s->flusher_up = up;
    if (up)
        return;
    for (unsigned i = 0; i < SCHED_FLIGHTS; i++)
        if (s->flight[i].id) {
            s->flight[i].id = 0;
            s->st.failed++;
        }
    if (s->phase == SCHED_WAIT_FLUSH)
        go(s, SCHED_GO_NO_FLUSHER, out);
}

void sup_sched_lifecycle_lost(struct sup_sched *s)
{
    if (s->phase != SCHED_IDLE)
        s->st.abandoned++;
    s->phase = SCHED_IDLE;
    s->hold_flush = 0;
}

void sup_sched_shutdown(struct sup_sched *s, uint32_t budget_ms, uint64_t now_us, struct sched_act *out)
{
    act_clear(out);
    if (s->phase != SCHED_IDLE)
        s->st.abandoned++;
    s->phase = SCHED_IDLE;
    s->hold_flush = 0;
    s->shutting = true;
    s->bg_due_us = SCHED_NEVER;
    uint64_t budget_us = (uint64_t)budget_ms * 1000u;
    if (budget_us > s->flush_timeout_us)
        budget_us = s->flush_timeout_us;
    /* the final flush must not be refused for want of a slot */
    if (flight_free(s) == NULL) {
        for (unsigned i = 0; i < SCHED_FLIGHTS; i++)
            if (s->flight[i].kind == SCHED_FL_BACKGROUND) {
                s->flight[i].id = 0;
                s->st.timed_out++;
                break;
            }
    }
    flush_start(s, SCHED_FL_FINAL, budget_us, now_us, out);
}

void sup_sched_tick(struct sup_sched *s, uint64_t now_us, struct sched_act *out)
{
    act_clear(out);
    if (s->phase != SCHED_IDLE && now_us >= s->hold_limit_us)
        go(s, s->limit_reason, out);
    for (unsigned i = 0; i < SCHED_FLIGHTS; i++)
        if (s->flight[i].id && now_us >= s->flight[i].t_expire_us) {
            s->flight[i].id = 0;
            s->st.timed_out++;
            trip(s, now_us); /* not even a failure came back in time */
        }
    if (s->shutting || !s->enabled || !s->flusher_up)
        return;
    if (s->tripped && now_us >= s->probe_due_us) {
        /* probe between invocations; one at a time, never beside another flush */
        bool busy = false;
        for (unsigned i = 0; i < SCHED_FLIGHTS; i++)
            busy |= s->flight[i].id != 0;
        uint64_t budget = s->flush_timeout_us < SCHED_PROBE_BUDGET_US ? s->flush_timeout_us
                                                                       : SCHED_PROBE_BUDGET_US;
        if (!busy && flush_start(s, SCHED_FL_BACKGROUND, budget, now_us, out))
            s->st.probes++;
        s->probe_gap_us = s->probe_gap_us * 2 > SCHED_PROBE_MAX_US ? SCHED_PROBE_MAX_US : s->probe_gap_us * 2;
        s->probe_due_us = now_us + s->probe_gap_us;
        if (out->flush_id)
            return;
    }
    if (s->bg_ms == 0 || now_us < s->bg_due_us)
        return;
    if (flight_running(s, SCHED_FL_BACKGROUND)) {
        /* skip this cycle: the previous one is still running */
        s->st.bg_skipped++;
        s->bg_due_us = now_us + (uint64_t)s->bg_ms * 1000u;
        return;
    }
    if (flush_start(s, SCHED_FL_BACKGROUND, s->flush_timeout_us, now_us, out))
        s->st.bg_started++;
    else
        s->bg_due_us = now_us + (uint64_t)s->bg_ms * 1000u;
}

void sup_sched_backlog(struct sup_sched *s, uint64_t now_us, struct sched_act *out)
{
    act_clear(out);
    if (s->shutting || !s->enabled || !s->flusher_up)
        return;
    for (unsigned i = 0; i < SCHED_FLIGHTS; i++)
        if (s->flight[i].id)
            return; /* its delivery and acks will open the window */
    if (flush_start(s, SCHED_FL_BACKGROUND, s->flush_timeout_us, now_us, out))
        s->st.backlog_started++;
}

uint64_t sup_sched_next_wake(const struct sup_sched *s)
{
    uint64_t w = SCHED_NEVER;
    if (s->phase != SCHED_IDLE && s->hold_limit_us < w)
        w = s->hold_limit_us;
    for (unsigned i = 0; i < SCHED_FLIGHTS; i++)
        if (s->flight[i].id && s->flight[i].t_expire_us < w)
            w = s->flight[i].t_expire_us;
    if (!s->shutting && s->enabled && s->flusher_up && s->bg_ms && s->bg_due_us < w)
        w = s->bg_due_us;
    if (!s->shutting && s->enabled && s->flusher_up && s->tripped && s->probe_due_us < w)
        w = s->probe_due_us;
    return w;
}

uint64_t sup_sched_deadline_us(int64_t deadline_ms, int64_t now_epoch_ms, uint64_t now_us)
{
    if (deadline_ms <= now_epoch_ms)
        return now_us;
    uint64_t left_ms = (uint64_t)deadline_ms - (uint64_t)now_epoch_ms; /* > 0, no overflow */
    if (left_ms > SCHED_MAX_LEFT_US / 1000u)
        left_ms = SCHED_MAX_LEFT_US / 1000u;
    return now_us + left_ms * 1000u;
}

const char *sup_sched_reason_name(enum sched_go_reason r)
{
    static const char *const names[SCHED_GO_NREASONS] = {
        [SCHED_GO_IMMEDIATE] = "immediate", [SCHED_GO_FLUSHED] = "flushed",
        [SCHED_GO_DEADLINE] = "deadline",   [SCHED_GO_TIMEOUT] = "timeout",
        [SCHED_GO_NO_FLUSHER] = "no_flusher", [SCHED_GO_BREAKER] = "breaker",
    };
    return (unsigned)r < SCHED_GO_NREASONS ? names[r] : "?";
}

const char *sup_sched_mode_name(enum sched_mode m)
{
    switch (m) {
    case SCHED_MODE_END: return "end";
    case SCHED_MODE_PERIODICALLY: return "periodically";
    case SCHED_MODE_CONTINUOUSLY: return "continuously";
    }
    return "?";
}
