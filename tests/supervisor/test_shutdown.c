/* test_shutdown.c — the supervisor's shutdown sequence (supervisor/
 * sup_shutdown.c) as a pure state machine on a fake clock: settling and its
 * bounds, the final flush and its budget, a flusher lost and restarted
 * during it, stopping, the deadline, untrusted deadlines. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "sup_shutdown.h"

#define MS 1000ull
#define T0 (5000000ull * MS) /* fake monotonic start: far from zero */

static struct sup_shutdown M;
static struct sd_act A;

static void setup_up(uint32_t flush_timeout_ms)
{
    sup_shutdown_init(&M, flush_timeout_ms);
    sup_shutdown_flusher(&M, true, T0, &A);
    assert_false(A.final_flush || A.stop || A.exit || A.set_respawn);
    assert_int_equal(M.phase, SD_RUNNING);
    for (unsigned i = 0; i < SD_NTIMERS; i++)
        assert_true(sup_shutdown_due(&M, (enum sd_timer)i) == SD_NEVER);
}

/* Lambda's 2 s: settle on a quiet window, bounded; then the final flush. */
static void test_settle_then_final_flush(void **st)
{
    (void)st;
    setup_up(30000);
    sup_shutdown_begin(&M, 2000, true, T0, &A);
    assert_int_equal(M.phase, SD_SETTLING);
    assert_true(A.set_respawn);
    assert_int_equal(A.lifecycle, SUP_RESPAWN_AT_ONCE);
    assert_int_equal(A.flusher, SUP_RESPAWN_AT_ONCE);
    assert_false(A.final_flush);
    assert_true(sup_shutdown_due(&M, SD_T_EXIT) == T0 + (2000 - SD_EXIT_MARGIN_MS) * MS);
    assert_true(sup_shutdown_due(&M, SD_T_SETTLE) == T0 + SD_SETTLE_QUIET_MS * MS);

    /* data keeps it waiting for quiet ... */
    sup_shutdown_data(&M, T0 + 50 * MS, &A);
    assert_true(sup_shutdown_due(&M, SD_T_SETTLE) == T0 + (50 + SD_SETTLE_QUIET_MS) * MS);
    /* ... but never past the hard end (a third of 1850 ms, capped at 400) */
    sup_shutdown_data(&M, T0 + 380 * MS, &A);
    assert_true(sup_shutdown_due(&M, SD_T_SETTLE) == T0 + SD_SETTLE_MAX_MS * MS);
    sup_shutdown_data(&M, T0 + 450 * MS, &A);
    assert_true(sup_shutdown_due(&M, SD_T_SETTLE) == T0 + SD_SETTLE_MAX_MS * MS);

    sup_shutdown_timer(&M, SD_T_SETTLE, T0 + 400 * MS, &A);
    assert_int_equal(M.phase, SD_FINAL_FLUSH);
    assert_true(A.final_flush);
    /* the budget leaves the children their grace before the exit */
    assert_int_equal(A.budget_ms, 2000 - SD_EXIT_MARGIN_MS - SD_STOP_GRACE_MS - 400);
    assert_int_equal(A.lifecycle, SUP_RESPAWN_NEVER);
    assert_int_equal(A.flusher, SUP_RESPAWN_AT_ONCE);
    assert_true(sup_shutdown_due(&M, SD_T_SETTLE) == SD_NEVER);
    assert_true(sup_shutdown_due(&M, SD_T_FLUSH) == T0 + (400 + A.budget_ms) * MS);

    sup_shutdown_flush_started(&M, 7, T0 + 400 * MS, &A);
    assert_false(A.stop);
    /* someone else's answer does not end it */
    sup_shutdown_flushed(&M, 6, T0 + 500 * MS, &A);
    assert_int_equal(M.phase, SD_FINAL_FLUSH);
    assert_false(A.stop);
    sup_shutdown_flushed(&M, 7, T0 + 600 * MS, &A);
    assert_int_equal(M.phase, SD_STOPPING);
    assert_true(A.stop);
    assert_int_equal(A.lifecycle, SUP_RESPAWN_NEVER);
    assert_int_equal(A.flusher, SUP_RESPAWN_NEVER);
    assert_null(A.warn);
    assert_true(sup_shutdown_due(&M, SD_T_FLUSH) == SD_NEVER);
    assert_true(sup_shutdown_due(&M, SD_T_GRACE) == T0 + (600 + SD_STOP_GRACE_MS) * MS);

    sup_shutdown_all_gone(&M, T0 + 620 * MS, &A);
    assert_true(A.exit);
    assert_int_equal(M.phase, SD_EXIT);
    for (unsigned i = 0; i < SD_NTIMERS; i++)
        assert_true(sup_shutdown_due(&M, (enum sd_timer)i) == SD_NEVER);
    /* nothing after the exit */
    sup_shutdown_timer(&M, SD_T_EXIT, T0 + 2000 * MS, &A);
    assert_false(A.exit);
}

/* The flusher dies while it posts the final payload: restarted at once and
 * asked again with the time left. */
static void test_flusher_lost_in_final_flush(void **st)
{
    (void)st;
    setup_up(30000);
    sup_shutdown_begin(&M, 2000, false, T0, &A);
    assert_int_equal(M.phase, SD_FINAL_FLUSH);
    assert_true(A.final_flush);
    assert_int_equal(A.budget_ms, 2000 - SD_EXIT_MARGIN_MS - SD_STOP_GRACE_MS);
    sup_shutdown_flush_started(&M, 3, T0, &A);

    sup_shutdown_flusher(&M, false, T0 + 200 * MS, &A);
    assert_int_equal(M.phase, SD_FINAL_FLUSH);
    assert_false(A.stop);
    assert_false(A.final_flush);
    assert_non_null(A.warn);
    /* the lost flush's answer can no longer end the shutdown */
    sup_shutdown_flushed(&M, 3, T0 + 210 * MS, &A);
    assert_int_equal(M.phase, SD_FINAL_FLUSH);

    sup_shutdown_flusher(&M, true, T0 + 280 * MS, &A);
    assert_true(A.final_flush);
    assert_int_equal(A.budget_ms, 2000 - SD_EXIT_MARGIN_MS - SD_STOP_GRACE_MS - 280);
    assert_int_equal(M.final_flushes, 2);
    assert_true(sup_shutdown_due(&M, SD_T_FLUSH) == T0 + (280 + A.budget_ms) * MS);
    sup_shutdown_flush_started(&M, 4, T0 + 280 * MS, &A);
    sup_shutdown_flushed(&M, 4, T0 + 400 * MS, &A);
    assert_int_equal(M.phase, SD_STOPPING);
    assert_true(A.stop);
}

/* Too little time left for a restart: stop instead of waiting. */
static void test_flusher_lost_too_late(void **st)
{
    (void)st;
    setup_up(30000);
    sup_shutdown_begin(&M, 2000, false, T0, &A);
    sup_shutdown_flush_started(&M, 1, T0, &A);
    uint64_t late = T0 + (2000 - SD_EXIT_MARGIN_MS - SD_STOP_GRACE_MS - SD_RETRY_MIN_MS + 1) * MS;
    sup_shutdown_flusher(&M, false, late, &A);
    assert_int_equal(M.phase, SD_STOPPING);
    assert_true(A.stop);
    assert_non_null(A.warn);
    sup_shutdown_timer(&M, SD_T_GRACE, late + SD_STOP_GRACE_MS * MS, &A);
    assert_true(A.exit);
}

/* No flusher when the final flush is due: wait for its restart, bounded. */
static void test_final_flush_waits_for_flusher(void **st)
{
    (void)st;
    sup_shutdown_init(&M, 30000);
    sup_shutdown_begin(&M, 1000, false, T0, &A);
    assert_int_equal(M.phase, SD_FINAL_FLUSH);
    assert_false(A.final_flush);
    assert_true(sup_shutdown_due(&M, SD_T_FLUSH) == T0 + (1000 - SD_EXIT_MARGIN_MS - SD_STOP_GRACE_MS) * MS);
    sup_shutdown_timer(&M, SD_T_FLUSH, T0 + 750 * MS, &A);
    assert_int_equal(M.phase, SD_STOPPING);
    assert_true(A.stop);
    assert_string_equal(A.warn, "final flush not done in time");
}

/* The flush timeout caps the budget; a scheduler that starts nothing
 * (idle mode) goes straight to stopping. */
static void test_budget_capped_and_no_flush(void **st)
{
    (void)st;
    setup_up(500);
    sup_shutdown_begin(&M, 2000, false, T0, &A);
    assert_true(A.final_flush);
    assert_int_equal(A.budget_ms, 500);
    sup_shutdown_flush_started(&M, 0, T0, &A);
    assert_int_equal(M.phase, SD_STOPPING);
    assert_true(A.stop);
}

/* A deadline already past or far off is not trusted: Lambda's 2 s. */
static void test_untrusted_deadlines(void **st)
{
    (void)st;
    int64_t bad[] = {0, -5, (int64_t)SD_MAX_BUDGET_MS + 1, INT64_MAX};
    for (unsigned i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        setup_up(30000);
        sup_shutdown_begin(&M, bad[i], true, T0, &A);
        assert_true(sup_shutdown_due(&M, SD_T_EXIT) == T0 + (SD_DEFAULT_BUDGET_MS - SD_EXIT_MARGIN_MS) * MS);
    }
    /* a short one leaves no room to settle */
    setup_up(30000);
    sup_shutdown_begin(&M, SD_EXIT_MARGIN_MS + 3 * SD_SETTLE_QUIET_MS - 3, true, T0, &A);
    assert_int_equal(M.phase, SD_FINAL_FLUSH);
    /* and one that leaves not even the children's grace: no flush at all */
    setup_up(30000);
    sup_shutdown_begin(&M, SD_EXIT_MARGIN_MS + SD_STOP_GRACE_MS, true, T0, &A);
    assert_int_equal(M.phase, SD_STOPPING);
    assert_false(A.final_flush);
    assert_true(A.stop);
    assert_string_equal(A.warn, "no time left for the final flush");
}

/* The deadline ends every phase; before SHUTDOWN, nothing happens. */
static void test_deadline_and_running(void **st)
{
    (void)st;
    setup_up(30000);
    sup_shutdown_flushed(&M, 1, T0, &A);
    sup_shutdown_all_gone(&M, T0, &A);
    sup_shutdown_timer(&M, SD_T_EXIT, T0, &A);
    sup_shutdown_timer(&M, SD_T_SETTLE, T0, &A);
    sup_shutdown_data(&M, T0, &A);
    assert_false(A.exit || A.stop || A.final_flush);
    assert_int_equal(M.phase, SD_RUNNING);
    assert_false(sup_shutdown_active(&M));

    enum sd_phase reach[] = {SD_SETTLING, SD_FINAL_FLUSH, SD_STOPPING};
    for (unsigned i = 0; i < 3; i++) {
        setup_up(30000);
        sup_shutdown_begin(&M, 2000, true, T0, &A);
        if (reach[i] >= SD_FINAL_FLUSH)
            sup_shutdown_timer(&M, SD_T_SETTLE, T0 + 60 * MS, &A);
        if (reach[i] >= SD_STOPPING)
            sup_shutdown_timer(&M, SD_T_FLUSH, T0 + 1700 * MS, &A);
        assert_int_equal(M.phase, reach[i]);
        /* a second SHUTDOWN changes nothing */
        sup_shutdown_begin(&M, 5000, true, T0 + 61 * MS, &A);
        assert_false(A.set_respawn || A.final_flush);
        sup_shutdown_timer(&M, SD_T_EXIT, T0 + 1850 * MS, &A);
        assert_true(A.exit);
        assert_string_equal(A.warn, "shutdown deadline reached");
        assert_int_equal(M.phase, SD_EXIT);
    }
    assert_string_equal(sup_shutdown_phase_name(SD_FINAL_FLUSH), "final_flush");
}

/* A lifecycle lost while settling: the settle waits for telemetry again
 * (Lambda retries what the dead one did not take), up to its hard end, and
 * for quiet once it flows; in other phases it changes nothing. */
static void test_lifecycle_while_settling(void **st)
{
    (void)st;
    setup_up(30000);
    sup_shutdown_begin(&M, 2000, true, T0, &A);
    sup_shutdown_lifecycle(&M, false, T0 + 40 * MS, &A);
    assert_true(sup_shutdown_due(&M, SD_T_SETTLE) == T0 + SD_SETTLE_MAX_MS * MS);
    /* back up, but Lambda has not retried yet: still no quiet window */
    sup_shutdown_lifecycle(&M, true, T0 + 70 * MS, &A);
    assert_true(sup_shutdown_due(&M, SD_T_SETTLE) == T0 + SD_SETTLE_MAX_MS * MS);
    assert_false(A.final_flush || A.stop || A.set_respawn);
    /* the retry arrives late (a loaded machine): now quiet counts */
    sup_shutdown_data(&M, T0 + 190 * MS, &A);
    assert_true(sup_shutdown_due(&M, SD_T_SETTLE) == T0 + (190 + SD_SETTLE_QUIET_MS) * MS);
    sup_shutdown_lifecycle(&M, true, T0 + 200 * MS, &A);
    assert_true(sup_shutdown_due(&M, SD_T_SETTLE) == T0 + (200 + SD_SETTLE_QUIET_MS) * MS);
    sup_shutdown_timer(&M, SD_T_SETTLE, T0 + 260 * MS, &A);
    assert_int_equal(M.phase, SD_FINAL_FLUSH);
    uint64_t flush_due = sup_shutdown_due(&M, SD_T_FLUSH);
    sup_shutdown_lifecycle(&M, false, T0 + 270 * MS, &A);
    assert_false(A.final_flush || A.stop || A.set_respawn);
    assert_true(sup_shutdown_due(&M, SD_T_FLUSH) == flush_due);
    assert_true(sup_shutdown_due(&M, SD_T_SETTLE) == SD_NEVER);
}

/* No telemetry after the loss: the settle ends at its hard end, not later. */
static void test_lifecycle_lost_no_retry(void **st)
{
    (void)st;
    setup_up(30000);
    sup_shutdown_begin(&M, 2000, true, T0, &A);
    sup_shutdown_lifecycle(&M, false, T0 + 10 * MS, &A);
    sup_shutdown_lifecycle(&M, true, T0 + 20 * MS, &A);
    assert_true(sup_shutdown_due(&M, SD_T_SETTLE) == T0 + SD_SETTLE_MAX_MS * MS);
    sup_shutdown_timer(&M, SD_T_SETTLE, T0 + SD_SETTLE_MAX_MS * MS, &A);
    assert_int_equal(M.phase, SD_FINAL_FLUSH);
    assert_true(A.final_flush);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_settle_then_final_flush),
        cmocka_unit_test(test_flusher_lost_in_final_flush),
        cmocka_unit_test(test_flusher_lost_too_late),
        cmocka_unit_test(test_final_flush_waits_for_flusher),
        cmocka_unit_test(test_budget_capped_and_no_flush),
        cmocka_unit_test(test_untrusted_deadlines),
        cmocka_unit_test(test_deadline_and_running),
        cmocka_unit_test(test_lifecycle_while_settling),
        cmocka_unit_test(test_lifecycle_lost_no_retry),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
