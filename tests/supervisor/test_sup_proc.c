/* test_sup_proc.c — the supervisor's process table (supervisor/sup_proc.c)
 * driven through its descriptors, on a fake system (socketpairs instead of
 * forks, recorded signals, a fake clock): routing of frames by row and
 * direction, protocol errors, throttled and immediate restarts, permanent
 * exits, stopping; and one real fork for what a child inherits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "fake_sys.h"
#include "frame.h"
#include "peer.h"
#include "sup_proc.h"

#define MS 1000ull
#define PERMANENT 125

/* ---- the fake system (tests/lib/fake_sys.c) and what the owner heard ---- */

struct fake {
    struct fake_sys sys;
    /* what the owner heard, in order */
    char log[64][48];
    unsigned nlog;
    unsigned frames[SUP_PROC_MAX];
    uint32_t last_type[SUP_PROC_MAX];
};
static struct fake F;
static struct sup_proc T;

static char *note(void)
{
    static char spare[48];
    return F.nlog < 64 ? F.log[F.nlog++] : spare;
}

/* ---- the owner ---- */

static void on_dispatch(void *owner, unsigned idx, const struct frame *f)
{
    assert_ptr_equal(owner, &F);
    F.frames[idx]++;
    F.last_type[idx] = f->type;
    snprintf(note(), sizeof F.log[0], "frame %u %s", idx, frame_type_name(f->type));
}

static void on_link_up(void *owner, unsigned idx)
{
    assert_ptr_equal(owner, &F);
    /* a link that can carry frames already */
    assert_non_null(sup_proc_link(&T, idx));
    snprintf(note(), sizeof F.log[0], "link_up %u", idx);
}

static void on_changed(void *owner, unsigned idx, enum sup_pstate from, enum sup_pstate to)
{
    assert_ptr_equal(owner, &F);
    snprintf(note(), sizeof F.log[0], "changed %u %s->%s", idx, sup_pstate_name(from), sup_pstate_name(to));
}

static const struct sup_proc_desc DESCS[2] = {
    {.name = "alpha", .title = "test: alpha", .accept_dirs = FRAME_DIR_L2S, .wq_max = 1 << 20,
     .permanent_exit = PERMANENT, .dispatch = on_dispatch, .link_up = on_link_up, .changed = on_changed},
    {.name = "beta", .title = "test: beta", .accept_dirs = FRAME_DIR_F2S, .wq_max = 1 << 20,
     .dispatch = on_dispatch, .link_up = on_link_up, .changed = on_changed},
};

static int setup(void **st)
{
    (void)st;
    memset(&F, 0, sizeof F);
    fake_sys_init(&F.sys, event_base_new(), 1000, 1 << 20, NULL);
    F.sys.now = 1000000 * MS;
    struct sup_proc_sys sys = fake_sys_ops(&F.sys);
    int socks[1] = {-1};
    assert_int_equal(sup_proc_init(&T, F.sys.base, DESCS, 2, socks, 1, &sys, &F), 0);
    return 0;
}

static int teardown(void **st)
{
    (void)st;
    sup_proc_free(&T);
    fake_sys_free(&F.sys);
    event_base_free(F.sys.base);
    return 0;
}

static bool logged(const char *line)
{
    for (unsigned i = 0; i < F.nlog; i++)
        if (strcmp(F.log[i], line) == 0)
            return true;
    return false;
}

static int log_index(const char *line)
{
    for (unsigned i = 0; i < F.nlog; i++)
        if (strcmp(F.log[i], line) == 0)
            return (int)i;
    return -1;
}

/* The child of row idx sends a frame of this type. */
static void child_send(unsigned idx, enum frame_type type)
{
    struct frame_buf fb = {0};
    if (type == FT_NEXT_WAIT)
        frame_encode_next_wait(&fb, &(struct ft_next_wait){.t_us = 1});
    else if (type == FT_READY)
        frame_encode_ready(&fb, &(struct ft_ready){.t_start_us = 1, .t_tls_us = 2, .t_ready_us = 3});
    else
        fail_msg("no template for frame type %d", (int)type);
    assert_int_not_equal(peer_send(F.sys.child[idx], fb.p, fb.len), 0);
    frame_buf_free(&fb);
}

static void run(void)
{
    for (int i = 0; i < 4; i++)
        event_base_loop(F.sys.base, EVLOOP_NONBLOCK);
}

/* ---- tests ---- */

static void test_table_rules(void **st)
{
    (void)st;
    for (unsigned e = 0; e < PE_NEVENTS; e++)
        assert_int_equal(sup_proc_next(PS_GONE, (enum sup_pevent)e), PS_NSTATES);
    /* every live process is told to stop; an empty slot is simply gone */
    assert_int_equal(sup_proc_next(PS_STARTING, PE_STOP), PS_STOPPING);
    assert_int_equal(sup_proc_next(PS_UP, PE_STOP), PS_STOPPING);
    assert_int_equal(sup_proc_next(PS_DYING, PE_STOP), PS_STOPPING);
    assert_int_equal(sup_proc_next(PS_DOWN, PE_STOP), PS_GONE);
    assert_int_equal(sup_proc_next(PS_BACKOFF, PE_STOP), PS_GONE);
    /* a stopping process is never restarted */
    assert_int_equal(sup_proc_next(PS_STOPPING, PE_EXITED), PS_GONE);
    assert_int_equal(sup_proc_next(PS_STOPPING, PE_SPAWNED), PS_NSTATES);
    assert_int_equal(sup_proc_next(PS_NSTATES, PE_STOP), PS_NSTATES);
    assert_int_equal(sup_proc_next(PS_UP, PE_NEVENTS), PS_NSTATES);
}

/* A new child's link exists before the owner hears of its new state, and
 * frames reach the dispatch of the row they came from. */
static void test_spawn_and_routing(void **st)
{
    (void)st;
    assert_int_equal(sup_proc_spawn(&T, 0), 0);
    assert_int_equal(sup_proc_spawn(&T, 1), 0);
    assert_int_equal(T.child[0].pid, 1001);
    assert_int_equal(T.child[1].pid, 1002);
    assert_true(log_index("link_up 0") >= 0);
    assert_true(log_index("link_up 0") < log_index("changed 0 down->starting"));
    assert_true(log_index("link_up 1") < log_index("changed 1 down->starting"));

    child_send(0, FT_NEXT_WAIT);
    child_send(1, FT_READY);
    child_send(0, FT_NEXT_WAIT);
    run();
    assert_int_equal(F.frames[0], 2);
    assert_int_equal(F.last_type[0], FT_NEXT_WAIT);
    assert_int_equal(F.frames[1], 1);
    assert_int_equal(F.last_type[1], FT_READY);
    assert_int_equal(F.sys.nkills, 0);
    assert_false(sup_proc_all_gone(&T));
}

/* A frame the row may not send is a protocol error for that child only. */
static void test_wrong_direction_kills_offender(void **st)
{
    (void)st;
    sup_proc_spawn(&T, 0);
    sup_proc_spawn(&T, 1);
    child_send(0, FT_READY); /* F2S from row 0, which accepts L2S only */
    run();
    assert_int_equal(F.frames[0], 0);
    assert_int_equal(T.child[0].broken, 1);
    assert_int_equal(T.child[0].st, PS_DYING);
    assert_true(logged("changed 0 starting->dying"));
    assert_null(sup_proc_link(&T, 0));
    assert_int_equal(F.sys.nkills, 1);
    assert_int_equal(F.sys.kill_pid[0], 1001);
    assert_int_equal(F.sys.kill_sig[0], SIGKILL);
    /* the sibling is untouched and still routed */
    child_send(1, FT_READY);
    run();
    assert_int_equal(F.frames[1], 1);
    assert_int_equal(T.child[1].st, PS_STARTING);
    assert_int_equal(T.child[1].broken, 0);
}

/* Restart throttling: within the gap the respawn waits; at once when the
 * owner asks, whatever the history. */
static void test_throttle_and_at_once(void **st)
{
    (void)st;
    sup_proc_spawn(&T, 0);
    F.sys.now += 1 * MS;
    fake_sys_close(&F.sys, 0); /* the child closes its link */
    run();
    assert_int_equal(T.child[0].st, PS_DYING);
    assert_int_equal(T.child[0].broken, 0);
    sup_proc_exited(&T, 1001, SIGKILL);
    assert_int_equal(T.child[0].st, PS_BACKOFF);
    assert_int_equal(T.child[0].restarts, 1);
    assert_int_equal(T.child[0].pid, 0);
    run();
    assert_int_equal(T.child[0].spawns, 1); /* 99 ms to wait yet */
    sup_proc_set_respawn(&T, 0, SUP_RESPAWN_AT_ONCE);
    run();
    assert_int_equal(T.child[0].spawns, 2);
    assert_int_equal(T.child[0].st, PS_STARTING);
    assert_int_equal(T.child[0].pid, 1002);
    assert_non_null(sup_proc_link(&T, 0));
    /* and the new link routes */
    child_send(0, FT_NEXT_WAIT);
    run();
    assert_int_equal(F.frames[0], 1);
}

/* A child that had been up for a while comes back without waiting. */
static void test_healthy_restarts_at_once(void **st)
{
    (void)st;
    sup_proc_spawn(&T, 1);
    sup_proc_event(&T, 1, PE_READY);
    assert_int_equal(T.child[1].st, PS_UP);
    F.sys.now += 2000 * MS;
    sup_proc_exited(&T, 1001, 1 << 8);
    assert_int_equal(T.child[1].st, PS_BACKOFF);
    run();
    assert_int_equal(T.child[1].spawns, 2);
    assert_int_equal(T.child[1].st, PS_STARTING);
}

/* The descriptor's permanent exit status empties the slot for good; a
 * NEVER policy does the same for any death. Unknown pids change nothing. */
static void test_permanent_and_never(void **st)
{
    (void)st;
    sup_proc_spawn(&T, 0);
    sup_proc_spawn(&T, 1);
    sup_proc_exited(&T, 4242, 0);
    assert_int_equal(T.child[0].st, PS_STARTING);
    sup_proc_exited(&T, 1001, PERMANENT << 8);
    assert_int_equal(T.child[0].st, PS_GONE);
    /* row 1 has no permanent status: 125 is an ordinary failure there */
    sup_proc_set_respawn(&T, 1, SUP_RESPAWN_NEVER);
    F.sys.now += 5000 * MS;
    sup_proc_exited(&T, 1002, PERMANENT << 8);
    assert_true(logged("changed 1 starting->backoff"));
    assert_int_equal(T.child[1].st, PS_GONE);
    run();
    assert_int_equal(T.child[0].spawns, 1);
    assert_int_equal(T.child[1].spawns, 1);
    assert_true(sup_proc_all_gone(&T));
}

/* Stopping: SIGTERM to every live child, gone once reaped. */
static void test_stop_all(void **st)
{
    (void)st;
    sup_proc_spawn(&T, 0);
    sup_proc_spawn(&T, 1);
    sup_proc_event(&T, 0, PE_READY);
    sup_proc_stop_all(&T);
    assert_int_equal(T.child[0].st, PS_STOPPING);
    assert_int_equal(T.child[1].st, PS_STOPPING);
    assert_int_equal(F.sys.nkills, 2);
    assert_int_equal(F.sys.kill_sig[0], SIGTERM);
    assert_int_equal(F.sys.kill_sig[1], SIGTERM);
    assert_null(sup_proc_link(&T, 0));
    sup_proc_exited(&T, 1001, 0);
    assert_false(sup_proc_all_gone(&T));
    sup_proc_exited(&T, 1002, SIGTERM);
    assert_int_equal(T.child[0].st, PS_GONE);
    assert_int_equal(T.child[1].st, PS_GONE);
    assert_true(sup_proc_all_gone(&T));
    run();
    assert_int_equal(T.child[0].spawns, 1);
}

/* ---- a real fork: what the child keeps ---- */

static int result_pipe[2];
static struct sup_proc R;

static int probe_entry(void *owner, int link_fd, uint64_t t_start_us)
{
    struct sup_proc *t = owner;
    (void)t_start_us;
    unsigned char r = 0;
    for (unsigned i = 0; i < t->nsocks; i++)
        if (fcntl(t->socks[i], F_GETFD) != -1)
            r |= (unsigned char)(1u << i);
    if (fcntl(link_fd, F_GETFD) != -1)
        r |= 0x10;
    /* the sibling's link is not ours to hold */
    if (t->child[1].peer && fcntl(peer_fd(t->child[1].peer), F_GETFD) == -1)
        r |= 0x20;
    char name[16] = "";
    prctl(PR_GET_NAME, name, 0, 0, 0);
    if (strcmp(name, "test: probe") == 0)
        r |= 0x40;
    if (write(result_pipe[1], &r, 1) != 1)
        return 2;
    return 0;
}

static const struct sup_proc_desc PROBE[2] = {
    {.name = "probe", .title = "test: probe", .entry = probe_entry, .accept_dirs = FRAME_DIR_L2S,
     .wq_max = 1 << 16, .keep_socks = 1u << 0 | 1u << 2},
    {.name = "sibling", .title = "test: sibling", .entry = probe_entry, .accept_dirs = FRAME_DIR_L2S,
     .wq_max = 1 << 16},
};

static void test_fork_keeps_its_sockets(void **st)
{
    (void)st;
    struct event_base *b = event_base_new();
    int socks[3];
    for (int i = 0; i < 3; i++)
        socks[i] = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    assert_int_equal(pipe(result_pipe), 0);
    assert_int_equal(sup_proc_init(&R, b, PROBE, 2, socks, 3, NULL, &R), 0);
    assert_int_equal(sup_proc_spawn(&R, 1), 0);
    unsigned char r1 = 0;
    assert_int_equal(read(result_pipe[0], &r1, 1), 1);
    assert_int_equal(sup_proc_spawn(&R, 0), 0);
    unsigned char r = 0;
    assert_int_equal(read(result_pipe[0], &r, 1), 1);
    assert_int_equal(r, 0x01 | 0x04 | 0x10 | 0x20 | 0x40);
    assert_int_equal(r1 & 0x07, 0); /* the sibling keeps none */
    /* reap both (wait for each without reaping, then the table's reap) */
    for (unsigned k = 0; k < 2; k++) {
        siginfo_t si;
        assert_int_equal(waitid(P_PID, (id_t)R.child[k].pid, &si, WEXITED | WNOWAIT), 0);
    }
    sup_proc_reap(&R);
    assert_true(sup_proc_all_gone(&R));
    assert_int_equal(R.child[0].st, PS_BACKOFF);
    sup_proc_stop_all(&R);
    assert_int_equal(R.child[0].st, PS_GONE);
    sup_proc_free(&R);
    event_base_free(b);
    for (int i = 0; i < 3; i++)
        close(socks[i]);
    close(result_pipe[0]);
    close(result_pipe[1]);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table_rules),
        cmocka_unit_test_setup_teardown(test_spawn_and_routing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrong_direction_kills_offender, setup, teardown),
        cmocka_unit_test_setup_teardown(test_throttle_and_at_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_healthy_restarts_at_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_permanent_and_never, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_all, setup, teardown),
        cmocka_unit_test(test_fork_keeps_its_sockets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
