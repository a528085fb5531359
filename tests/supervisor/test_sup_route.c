/* test_sup_route.c — the supervisor's router (supervisor/sup_route.c) with
 * its real process table rows, on a fake system (socketpairs instead of
 * forks, recorded signals): data frames from the lifecycle reach the
 * flusher through the spool, a restarted flusher gets its context and every
 * unacknowledged frame again, and at SHUTDOWN a flusher killed during the
 * final flush is restarted, replayed to and asked again, in that order,
 * before the children are stopped and the loop ends. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "clock.h"
#include "fake_sys.h"
#include "frame.h"
#include "log.h"
#include "sup.h"

#define SEEN_MAX 256

/* What a fake child received, in order. */
struct seen {
    uint32_t type[SEEN_MAX];
    bool final[SEEN_MAX]; /* FT_FLUSH: final */
    uint64_t flush_id[SEEN_MAX];
    unsigned n;
};

struct fake {
    struct fake_sys sys; /* tests/lib/fake_sys.c */
    struct seen seen[SUP_NKIND];
};
static struct fake F;
static struct sup S;

/* ---- the frames, in one place ---- */

static void note_frame(struct seen *w, const struct frame *f)
{
    if (w->n >= SEEN_MAX)
        return;
    w->type[w->n] = f->type;
    if (f->type == FT_FLUSH) {
        w->final[w->n] = f->u.flush.has_final && f->u.flush.final;
        w->flush_id[w->n] = f->u.flush.flush_id;
    }
    w->n++;
}

static void send_on(unsigned k, struct frame_buf *fb)
{
    assert_int_not_equal(peer_send_buf(F.sys.child[k], fb), 0);
    frame_buf_free(fb);
}

static void send_registered(void)
{
    struct frame_buf fb = {0};
    frame_encode_registered(&fb, &(struct ft_registered){.ext_id = "ext-1", .fn_name = "fn", .fn_version = "1",
                                                         .t_register_us = 2});
    send_on(SUP_LIFECYCLE, &fb);
}

static void send_logs(const char *msg)
{
    struct frame_buf fb = {0};
    struct ft_log_record r = {.time_ms = 1, .source = LOG_SRC_FUNCTION, .message = msg,
                              .message_len = strlen(msg)};
    frame_encode_logs(&fb, &(struct ft_logs){.records = &r, .n_records = 1});
    send_on(SUP_LIFECYCLE, &fb);
}

static void send_shutdown(int64_t deadline_ms)
{
    struct frame_buf fb = {0};
    frame_encode_shutdown(&fb, &(struct ft_shutdown){.reason = "spindown", .deadline_ms = deadline_ms});
    send_on(SUP_LIFECYCLE, &fb);
}

static void send_ack(uint64_t upto)
{
    struct frame_buf fb = {0};
    frame_encode_ack(&fb, &(struct ft_ack){.upto = upto});
    send_on(SUP_FLUSHER, &fb);
}

static void send_flushed(uint64_t id)
{
    struct frame_buf fb = {0};
    frame_encode_flushed(&fb, &(struct ft_flushed){.flush_id = id, .ok = true});
    send_on(SUP_FLUSHER, &fb);
}

/* ---- the fake system ---- */

static void child_cb(struct peer *p, const struct frame *f, void *arg)
{
    (void)p;
    if (f)
        note_frame(arg, f);
}

/* A new child has heard nothing yet. */
static pid_t spawn_fresh(struct sup_proc *t, unsigned idx, int *link_fd, void *arg)
{
    memset(&F.seen[idx], 0, sizeof F.seen[idx]);
    return fake_sys_spawn(t, idx, link_fd, arg);
}

static void run(void)
{
    for (int i = 0; i < 6; i++)
        event_base_loop(F.sys.base, EVLOOP_NONBLOCK);
}

/* The child of row k dies (its link closes first, as a killed process's). */
static void child_dies(unsigned k, int status)
{
    pid_t pid = S.procs.child[k].pid;
    assert_true(pid > 0);
    fake_sys_close(&F.sys, k);
    run();
    sup_proc_exited(&S.procs, pid, status);
    run();
}

static unsigned count(const struct seen *w, uint32_t type)
{
    unsigned n = 0;
    for (unsigned i = 0; i < w->n; i++)
        n += w->type[i] == type;
    return n;
}

static int index_of(const struct seen *w, uint32_t type, unsigned from)
{
    for (unsigned i = from; i < w->n; i++)
        if (w->type[i] == type)
            return (int)i;
    return -1;
}

static const char *test_env(const char *name, void *arg)
{
    (void)arg;
    if (strcmp(name, "DD_API_KEY") == 0)
        return "0123456789abcdef0123456789abcdef";
    if (strcmp(name, "AWS_LAMBDA_RUNTIME_API") == 0)
        return "127.0.0.1:1";
    if (strcmp(name, "DD_SERVERLESS_FLUSH_STRATEGY") == 0)
        return "continuously,60000";
    return NULL;
}

static int setup(void **st)
{
    (void)st;
    memset(&F, 0, sizeof F);
    memset(&S, 0, sizeof S);
    fake_sys_init(&F.sys, event_base_new(), 500, 64u << 20, child_cb);
    for (unsigned k = 0; k < SUP_NKIND; k++)
        F.sys.child_arg[k] = &F.seen[k];
    assert_int_equal(cfg_load(&S.cfg, test_env, NULL), 0);
    for (unsigned i = 0; i < SUP_NSOCK; i++)
        S.socks.fd[i] = -1;
    struct sup_proc_sys sys = fake_sys_ops(&F.sys);
    sys.spawn = spawn_fresh;
    sys.now_us = clock_us;
    assert_int_equal(sup_init(&S, F.sys.base, sup_children, &sys), 0);
    sup_start(&S);
    run();
    send_registered();
    run();
    return 0;
}

static int teardown(void **st)
{
    (void)st;
    sup_free(&S);
    fake_sys_free(&F.sys);
    event_base_free(F.sys.base);
    return 0;
}

/* Data from the lifecycle reaches the flusher; what it did not acknowledge
 * is sent again, after the context, to its replacement. */
static void test_spool_replayed_to_new_flusher(void **st)
{
    (void)st;
    struct seen *fl = &F.seen[SUP_FLUSHER];
    assert_int_equal(count(fl, FT_CONTEXT), 1);
    send_logs("one");
    send_logs("two");
    send_logs("three");
    run();
    assert_int_equal(count(fl, FT_LOGS), 3);
    assert_int_equal(S.spool.frames, 3);
    /* the flusher acknowledges the first (seq 2: the context was seq 1) */
    send_ack(2);
    run();
    assert_int_equal(S.spool.frames, 2);
    assert_int_equal(S.spool.delivered, 1);

    /* (the flusher was spawned just now: skip the restart gap) */
    sup_proc_set_respawn(&S.procs, SUP_FLUSHER, SUP_RESPAWN_AT_ONCE);
    child_dies(SUP_FLUSHER, SIGKILL);
    assert_int_equal(F.sys.spawns[SUP_FLUSHER], 2);
    assert_int_equal(S.procs.child[SUP_FLUSHER].restarts, 1);
    /* the replacement: context first, then the two unacknowledged frames */
    assert_int_equal(fl->n, 3);
    assert_int_equal(fl->type[0], FT_CONTEXT);
    assert_int_equal(fl->type[1], FT_LOGS);
    assert_int_equal(fl->type[2], FT_LOGS);
    assert_int_equal(S.spool.frames, 2);
    assert_int_equal(S.spool.dropped, 0);
}

/* SHUTDOWN: the final flush waits for quiet; the flusher killed during it
 * is restarted, replayed to, then asked again; its answer stops the
 * children and, once they are gone, the loop ends. */
static void test_final_flush_survives_flusher_death(void **st)
{
    (void)st;
    struct seen *fl = &F.seen[SUP_FLUSHER];
    send_logs("last words");
    run();
    send_shutdown(clock_epoch_ms() + 2000);
    run();
    assert_true(sup_shutdown_active(&S.sd));
    assert_int_equal(S.sd.phase, SD_SETTLING);
    assert_int_equal(count(fl, FT_FLUSH), 0);
    /* the settle timer fires (quiet) */
    struct event *settle = S.sd_timer[SD_T_SETTLE].ev;
    assert_true(evtimer_pending(settle, NULL));
    evtimer_del(settle);
    event_active(settle, EV_TIMEOUT, 0);
    run();
    assert_int_equal(S.sd.phase, SD_FINAL_FLUSH);
    int at = index_of(fl, FT_FLUSH, 0);
    assert_true(at >= 0);
    assert_true(fl->final[at]);

    child_dies(SUP_FLUSHER, SIGKILL);
    assert_int_equal(S.sd.phase, SD_FINAL_FLUSH);
    assert_int_equal(F.sys.spawns[SUP_FLUSHER], 2);
    assert_int_equal(S.sd.final_flushes, 2);
    /* context, the spooled data, then the final flush, in that order */
    int ctx = index_of(fl, FT_CONTEXT, 0), logs = index_of(fl, FT_LOGS, 0), flush = index_of(fl, FT_FLUSH, 0);
    assert_true(ctx == 0);
    assert_true(logs > ctx);
    assert_true(flush > logs);
    assert_true(fl->final[flush]);
    /* the lifecycle is not restarted any more if it dies now */
    assert_int_equal(S.procs.child[SUP_LIFECYCLE].respawn_policy, SUP_RESPAWN_NEVER);

    send_flushed(fl->flush_id[flush]);
    run();
    assert_int_equal(S.sd.phase, SD_STOPPING);
    assert_int_equal(F.sys.last_sig[SUP_LIFECYCLE], SIGTERM);
    assert_int_equal(F.sys.last_sig[SUP_FLUSHER], SIGTERM);
    assert_false(S.exiting);
    sup_proc_exited(&S.procs, S.procs.child[SUP_LIFECYCLE].pid, SIGTERM);
    sup_proc_exited(&S.procs, S.procs.child[SUP_FLUSHER].pid, 0);
    run();
    assert_true(S.exiting);
    assert_int_equal(S.exit_code, 0);
    assert_int_equal(S.sd.phase, SD_EXIT);
    assert_int_equal(F.sys.spawns[SUP_LIFECYCLE], 1);
}

/* A frame the lifecycle may not send breaks only its link: it is killed,
 * restarted, and the flusher keeps what was spooled. */
static void test_protocol_error_restarts_offender(void **st)
{
    (void)st;
    send_logs("kept");
    run();
    struct frame_buf fb = {0};
    frame_encode_ack(&fb, &(struct ft_ack){.upto = 99}); /* flusher-to-supervisor only */
    send_on(SUP_LIFECYCLE, &fb);
    run();
    assert_int_equal(S.procs.child[SUP_LIFECYCLE].broken, 1);
    assert_int_equal(F.sys.last_sig[SUP_LIFECYCLE], SIGKILL);
    assert_int_equal(S.spool.frames, 1);
    assert_int_equal(S.spool.delivered, 0);
    child_dies(SUP_LIFECYCLE, SIGKILL);
    /* within the restart gap: not yet */
    assert_int_equal(S.procs.child[SUP_LIFECYCLE].st, PS_BACKOFF);
    sup_proc_set_respawn(&S.procs, SUP_LIFECYCLE, SUP_RESPAWN_AT_ONCE);
    run();
    assert_int_equal(F.sys.spawns[SUP_LIFECYCLE], 2);
    assert_int_equal(S.procs.child[SUP_FLUSHER].spawns, 1);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    log_set_level(LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_spool_replayed_to_new_flusher, setup, teardown),
        cmocka_unit_test_setup_teardown(test_final_flush_survives_flusher_death, setup, teardown),
        cmocka_unit_test_setup_teardown(test_protocol_error_restarts_offender, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
