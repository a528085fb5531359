/* test_sup_route.c — the supervisor's router (supervisor/sup_route.c) with
 * its real process table rows, on a fake system (socketpairs instead of
 * forks, recorded signals): data frames from the lifecycle reach the
 * flusher through the spool, a restarted flusher gets its context and every
 * unacknowledged frame again, and at SHUTDOWN a flusher killed during the
 * final flush is restarted, replayed to and asked again, in that order,
 * before the children are stopped and the loop ends. Each invocation is
 * counted once (one FT_INVOCATION) from its INVOKE or its platform.start
 * record, whichever comes first (sup_inv.h). */
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
    uint64_t inv_n[SEEN_MAX];       /* FT_INVOCATION: n */
    bool from_start[SEEN_MAX];      /* ... from_start */
    char rid[SEEN_MAX][40];         /* ... request_id; FT_PLATFORM: request_id */
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
    if (f->type == FT_INVOCATION) {
        w->inv_n[w->n] = f->u.invocation.n;
        w->from_start[w->n] = f->u.invocation.has_from_start && f->u.invocation.from_start;
        snprintf(w->rid[w->n], sizeof w->rid[0], "%s", f->u.invocation.request_id);
    }
    if (f->type == FT_PLATFORM)
        snprintf(w->rid[w->n], sizeof w->rid[0], "%s", f->u.platform.request_id ? f->u.platform.request_id : "");
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

static void send_invoke(const char *rid)
{
    struct frame_buf fb = {0};
    frame_encode_invoke(&fb, &(struct ft_invoke){.request_id = rid, .deadline_ms = clock_epoch_ms() + 3000,
                                                 .arn = "arn:aws:lambda:us-east-1:123456789012:function:fn"});
    send_on(SUP_LIFECYCLE, &fb);
}

/* A platform record of event for rid (NULL: none) */
static void send_platform(enum platform_event ev, const char *rid)
{
    struct frame_buf fb = {0};
    frame_encode_platform(&fb, &(struct ft_platform){.event = ev, .time_ms = 1700000000123, .request_id = rid});
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

/* The lifecycle is killed (in /next, where it waits) and replaced. */
static void lifecycle_killed(void)
{
    unsigned spawns = F.sys.spawns[SUP_LIFECYCLE];
    child_dies(SUP_LIFECYCLE, SIGKILL);
    sup_proc_set_respawn(&S.procs, SUP_LIFECYCLE, SUP_RESPAWN_AT_ONCE);
    run();
    assert_int_equal(F.sys.spawns[SUP_LIFECYCLE], spawns + 1);
    send_registered();
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

/* The FT_INVOCATIONs the flusher got for rid. */
static unsigned invocations_of(const struct seen *w, const char *rid)
{
    unsigned n = 0;
    for (unsigned i = 0; i < w->n; i++)
        n += w->type[i] == FT_INVOCATION && !strcmp(w->rid[i], rid);
    return n;
}

/* INVOKE then its start record (the usual order): counted once, by the
 * INVOKE; then start then INVOKE: counted once, by the start record (a
 * lifecycle death made it admissible), and the INVOKE is the repeat. */
static void test_invocation_counted_once_either_order(void **st)
{
    (void)st;
    struct seen *fl = &F.seen[SUP_FLUSHER];
    send_invoke("rid-a");
    run();
    send_platform(PE_START, "rid-a");
    send_platform(PE_RUNTIME_DONE, "rid-a");
    send_platform(PE_REPORT, "rid-a");
    run();
    assert_int_equal(invocations_of(fl, "rid-a"), 1);
    int at = index_of(fl, FT_INVOCATION, 0);
    assert_int_equal(fl->inv_n[at], 1);
    assert_false(fl->from_start[at]);
    assert_int_equal(S.invocations, 1);

    lifecycle_killed();
    send_platform(PE_START, "rid-b");
    run();
    send_invoke("rid-b");
    send_platform(PE_RUNTIME_DONE, "rid-b");
    run();
    assert_int_equal(invocations_of(fl, "rid-b"), 1);
    assert_int_equal(count(fl, FT_INVOCATION), 2);
    at = index_of(fl, FT_INVOCATION, (unsigned)at + 1);
    assert_int_equal(fl->inv_n[at], 2);
    assert_true(fl->from_start[at]);
    assert_int_equal(S.invocations, 2);
    assert_int_equal(S.inv.repeats, 2); /* rid-a's start, rid-b's INVOKE */
}

/* The lifecycle is killed while it waits in /next: the INVOKE Lambda hands
 * that dead connection is lost. Its start record counts it, once: its
 * FT_INVOCATION (from_start, the record's time) goes ahead of the record,
 * after the later invocation's, and a batch Lambda delivers again counts
 * nothing more. A restarted flusher gets the same frames again (same n: it
 * counts an n once). */
static void test_invocation_lost_invoke_counted_from_start(void **st)
{
    (void)st;
    struct seen *fl = &F.seen[SUP_FLUSHER];
    send_invoke("rid-1");
    run();
    lifecycle_killed();
    /* rid-2's INVOKE went to the dead /next; rid-3's reaches the new one
     * before rid-2's telemetry does */
    send_invoke("rid-3");
    run();
    assert_int_equal(count(fl, FT_INVOCATION), 2);
    for (int rep = 0; rep < 2; rep++) { /* the second: a batch delivered again */
        send_platform(PE_START, "rid-1");
        send_platform(PE_START, "rid-2");
        send_platform(PE_RUNTIME_DONE, "rid-2");
        send_platform(PE_START, "rid-3");
        run();
    }
    send_invoke("rid-3"); /* and an INVOKE repeated */
    run();
    assert_int_equal(invocations_of(fl, "rid-1"), 1);
    assert_int_equal(invocations_of(fl, "rid-2"), 1);
    assert_int_equal(invocations_of(fl, "rid-3"), 1);
    assert_int_equal(count(fl, FT_INVOCATION), 3);
    assert_int_equal(S.invocations, 3);
    assert_int_equal(S.inv.from_start, 1);
    int at = index_of(fl, FT_INVOCATION, 0);
    at = index_of(fl, FT_INVOCATION, (unsigned)at + 1);
    at = index_of(fl, FT_INVOCATION, (unsigned)at + 1);
    assert_string_equal(fl->rid[at], "rid-2");
    assert_int_equal(fl->inv_n[at], 3);
    assert_true(fl->from_start[at]);
    /* right ahead of its start record */
    assert_int_equal(fl->type[at + 1], FT_PLATFORM);
    assert_string_equal(fl->rid[at + 1], "rid-2");

    /* nothing acknowledged: a new flusher gets the three again, same n */
    sup_proc_set_respawn(&S.procs, SUP_FLUSHER, SUP_RESPAWN_AT_ONCE);
    child_dies(SUP_FLUSHER, SIGKILL);
    assert_int_equal(count(fl, FT_INVOCATION), 3);
    unsigned from = 0;
    for (uint64_t want = 1; want <= 3; want++) {
        at = index_of(fl, FT_INVOCATION, from);
        assert_true(at >= 0);
        assert_int_equal(fl->inv_n[at], want);
        from = (unsigned)at + 1;
    }
}

/* Only a real invocation with a request id counts: a start record no INVOKE
 * named and no lifecycle death explains (anyone in the sandbox can post to
 * the listener) counts nothing, its INVOKE, if it comes, does; records
 * without an id, init and extension records never count; a lifecycle death
 * admits one start record, not two. */
static void test_invocation_start_needs_a_lost_invoke(void **st)
{
    (void)st;
    struct seen *fl = &F.seen[SUP_FLUSHER];
    send_platform(PE_INIT_START, NULL);
    send_platform(PE_INIT_REPORT, NULL);
    send_platform(PE_START, "forged");
    send_platform(PE_EXTENSION, "ext-record");
    run();
    assert_int_equal(count(fl, FT_INVOCATION), 0);
    assert_int_equal(S.inv.unannounced, 1);
    send_invoke("forged"); /* a real one after all: its INVOKE counts it */
    run();
    assert_int_equal(invocations_of(fl, "forged"), 1);

    lifecycle_killed();
    send_platform(PE_START, "lost");
    send_platform(PE_START, "forged-2");
    send_platform(PE_START, "");
    run();
    assert_int_equal(invocations_of(fl, "lost"), 1);
    assert_int_equal(invocations_of(fl, "forged-2"), 0);
    assert_int_equal(count(fl, FT_INVOCATION), 2);
    assert_int_equal(S.invocations, 2);
    assert_int_equal(S.inv.lost, 0);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    log_set_level(LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_spool_replayed_to_new_flusher, setup, teardown),
        cmocka_unit_test_setup_teardown(test_final_flush_survives_flusher_death, setup, teardown),
        cmocka_unit_test_setup_teardown(test_protocol_error_restarts_offender, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invocation_counted_once_either_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invocation_lost_invoke_counted_from_start, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invocation_start_needs_a_lost_invoke, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
