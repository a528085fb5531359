/* fuzz_sup_route.c — libFuzzer: the supervisor's frame routing driven by a
 * script of frames from either child (well-formed frames of any type, in
 * any direction, and raw bytes on the link), child deaths, clock steps and
 * the supervisor's own timers, on a fake system (socketpairs, no fork).
 *
 * Checks, after every step: nothing crashes or leaks (ASan/UBSan); a child
 * that broke the protocol was killed, and once its death is seen it is
 * restarted (unless shutting down); no data frame the supervisor accepted
 * is lost: every one is still spooled or was released by the flusher's ACK.
 *
 * Script: records of [op][arg][len][bytes...] (missing bytes read as 0).
 *   op % 8: 0 raw bytes to child arg&1; 1 lifecycle frame; 2 flusher frame;
 *   3 any frame type arg from child (op>>3)&1; 4 child arg&1 dies;
 *   5 clock += arg*10 ms; 6 fire the shutdown timer arg%4 or the scheduler's
 *   (if armed); 7 run the loop. */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fake_sys.h"
#include "frame.h"
#include "log.h"
#include "sup.h"

struct fake {
    struct fake_sys sys; /* tests/lib/fake_sys.c: a signalled fake process dies in run() */
    uint64_t accepted;   /* data frames the supervisor took */
};
static struct fake F;
static struct sup S;
static struct sup_proc_desc D[SUP_NKIND];

/* The real rows, but counting the data frames the supervisor accepts. */
static void count_lifecycle(void *owner, unsigned idx, const struct frame *f)
{
    if ((f->type == FT_LOGS || f->type == FT_PLATFORM) && !S.cfg.idle)
        F.accepted++;
    /* an invocation counted (an INVOKE, unless after SHUTDOWN, or a
     * platform.start record, sup_inv.h) is spooled too: its FT_INVOCATION */
    uint64_t counted = S.inv.counted;
    sup_on_lifecycle(owner, idx, f);
    if (!S.cfg.idle)
        F.accepted += S.inv.counted - counted;
}

static const char *no_env(const char *name, void *arg)
{
    (void)arg;
    if (strcmp(name, "DD_API_KEY") == 0)
        return "0123456789abcdef0123456789abcdef";
    if (strcmp(name, "AWS_LAMBDA_RUNTIME_API") == 0)
        return "127.0.0.1:1";
    return NULL;
}

struct cursor {
    const uint8_t *p;
    size_t n;
};

static uint8_t byte(struct cursor *c)
{
    if (c->n == 0)
        return 0;
    c->n--;
    return *c->p++;
}

static const char *str_of(struct cursor *c, char *buf, size_t cap)
{
    size_t n = byte(c) % cap;
    for (size_t i = 0; i < n; i++)
        buf[i] = (char)('a' + byte(c) % 26);
    buf[n] = '\0';
    return buf;
}

/* A well-formed frame of `type`, fields from the script; -1 for a type no
 * frame has. */
static int build(struct frame_buf *fb, uint32_t type, struct cursor *c)
{
    static char a[64], b[64], msg[4][64];
    switch (type) {
    case FT_REGISTERED:
        return frame_encode_registered(fb, &(struct ft_registered){
            .ext_id = str_of(c, a, sizeof a), .fn_name = str_of(c, b, sizeof b), .fn_version = "1",
            .t_register_us = byte(c)});
    case FT_SUBSCRIBED:
        return frame_encode_subscribed(fb, &(struct ft_subscribed){.status = byte(c) & 1 ? 200 : -1,
                                                                   .t_subscribe_us = byte(c)});
    case FT_NEXT_WAIT:
        return frame_encode_next_wait(fb, &(struct ft_next_wait){.t_us = byte(c)});
    case FT_INVOKE:
        return frame_encode_invoke(fb, &(struct ft_invoke){.request_id = str_of(c, a, 8),
                                                           .deadline_ms = (int64_t)byte(c) * 100 - 1000,
                                                           .arn = str_of(c, b, sizeof b)});
    case FT_SHUTDOWN:
        return frame_encode_shutdown(fb, &(struct ft_shutdown){.reason = "spindown",
                                                               .deadline_ms = (int64_t)byte(c) * 100});
    case FT_FATAL: {
        struct ft_fatal m = {.error = str_of(c, a, sizeof a)};
        if (byte(c) & 1) {
            m.has_status = true;
            m.status = 400 + byte(c);
        }
        return frame_encode_fatal(fb, &m);
    }
    case FT_PLATFORM: {
        struct ft_platform m = {.event = (enum platform_event)(byte(c) % PE_COUNT), .time_ms = byte(c)};
        if (byte(c) & 1)
            m.request_id = str_of(c, a, 8);
        return frame_encode_platform(fb, &m);
    }
    case FT_LOGS: {
        struct ft_log_record r[4];
        uint32_t n = byte(c) % 4;
        for (uint32_t i = 0; i < n; i++) {
            r[i] = (struct ft_log_record){.time_ms = byte(c), .source = (enum log_source)(byte(c) % 3)};
            r[i].message = str_of(c, msg[i], sizeof msg[i]);
            r[i].message_len = strlen(msg[i]);
        }
        return frame_encode_logs(fb, &(struct ft_logs){.records = r, .n_records = n});
    }
    case FT_GO:
        return frame_encode_go(fb, &(struct ft_go){0});
    case FT_CONTEXT:
        return frame_encode_context(fb, &(struct ft_context){.fn_name = "f", .fn_version = "1"});
    case FT_FLUSH:
        return frame_encode_flush(fb, &(struct ft_flush){.flush_id = byte(c), .budget_ms = byte(c)});
    case FT_READY:
        return frame_encode_ready(fb, &(struct ft_ready){.t_start_us = byte(c), .t_tls_us = byte(c),
                                                         .t_ready_us = byte(c)});
    case FT_ACK:
        return frame_encode_ack(fb, &(struct ft_ack){.upto = byte(c)});
    case FT_FLUSHED:
        return frame_encode_flushed(fb, &(struct ft_flushed){.flush_id = byte(c) % 8, .ok = byte(c) & 1});
    case FT_REFUSED: /* reasons past the list included: ignored */
        return frame_encode_refused(fb, &(struct ft_refused){.reason = byte(c) % (REF_N + 2),
                                                             .count = (uint64_t)byte(c) << 56});
    default:
        return -1;
    }
}

static void send_from(unsigned k, uint32_t type, struct cursor *c)
{
    if (!F.sys.child[k])
        return;
    struct frame_buf fb = {0};
    if (build(&fb, type, c) == 0)
        peer_send(F.sys.child[k], fb.p, fb.len);
    frame_buf_free(&fb);
}

static void run(void)
{
    for (int i = 0; i < 3; i++)
        event_base_loop(F.sys.base, EVLOOP_NONBLOCK);
    /* a signalled fake process dies: the supervisor sees it reaped */
    for (unsigned k = 0; k < SUP_NKIND; k++)
        if (F.sys.last_sig_pid[k] && S.procs.child[k].pid == F.sys.last_sig_pid[k]) {
            F.sys.last_sig_pid[k] = 0;
            sup_proc_exited(&S.procs, F.sys.pid_of[k], SIGKILL);
        }
    for (int i = 0; i < 3; i++)
        event_base_loop(F.sys.base, EVLOOP_NONBLOCK);
}

static void check(void)
{
    if (S.spool.dropped != 0 || S.spool.frames + S.spool.delivered != F.accepted)
        abort(); /* a data frame accepted is neither spooled nor acknowledged */
    if (sup_shutdown_active(&S.sd) || S.exiting)
        return;
    for (unsigned k = 0; k < SUP_NKIND; k++) {
        const struct sup_child *ch = &S.procs.child[k];
        /* a child is alive, or killed and about to be reaped, or reaped
         * and due to come back */
        if (ch->st != PS_STARTING && ch->st != PS_UP && !(ch->st == PS_DYING && ch->pid > 0) &&
            !(ch->st == PS_BACKOFF && evtimer_pending(ch->respawn, NULL)))
            abort();
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    signal(SIGPIPE, SIG_IGN);
    log_set_level(LOG_OFF);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 1 << 16)
        return 0;
    memset(&F, 0, sizeof F);
    memset(&S, 0, sizeof S);
    fake_sys_init(&F.sys, event_base_new(), 100, 64u << 20, NULL);
    F.sys.now = 1000000000ull;
    if (cfg_load(&S.cfg, no_env, NULL) < 0)
        abort();
    for (unsigned i = 0; i < SUP_NSOCK; i++)
        S.socks.fd[i] = -1;
    memcpy(D, sup_children, sizeof D);
    D[SUP_LIFECYCLE].dispatch = count_lifecycle;
    struct sup_proc_sys sys = fake_sys_ops(&F.sys);
    if (sup_init(&S, F.sys.base, D, &sys) < 0)
        abort();
    sup_start(&S);
    run();

    struct cursor c = {data, size};
    while (c.n > 0 && !S.exiting) {
        uint8_t op = byte(&c), arg = byte(&c);
        uint8_t len = byte(&c);
        struct cursor body = {c.p, len < c.n ? len : c.n};
        c.p += body.n;
        c.n -= body.n;
        unsigned k = arg & 1;
        switch (op % 8) {
        case 0:
            if (F.sys.child[k] && body.n) {
                ssize_t w = write(peer_fd(F.sys.child[k]), body.p, body.n);
                (void)w;
            }
            break;
        case 1: {
            static const uint32_t l2s[] = {FT_REGISTERED, FT_SUBSCRIBED, FT_NEXT_WAIT, FT_INVOKE,
                                           FT_SHUTDOWN,   FT_FATAL,      FT_PLATFORM,  FT_LOGS,
                                           FT_REFUSED};
            send_from(SUP_LIFECYCLE, l2s[arg % 9], &body);
            break;
        }
        case 2: {
            static const uint32_t f2s[] = {FT_READY, FT_ACK, FT_FLUSHED, FT_REFUSED};
            send_from(SUP_FLUSHER, f2s[arg % 4], &body);
            break;
        }
        case 3:
            send_from((op >> 3) & 1, arg, &body);
            break;
        case 4:
            if (S.procs.child[k].pid > 0) {
                pid_t pid = S.procs.child[k].pid;
                fake_sys_close(&F.sys, k);
                sup_proc_exited(&S.procs, pid, SIGKILL);
            }
            break;
        case 5:
            F.sys.now += (uint64_t)arg * 10000u;
            break;
        case 6: {
            struct event *ev = (arg & 4) ? S.sched_timer : S.sd_timer[arg % SD_NTIMERS].ev;
            if (evtimer_pending(ev, NULL)) {
                evtimer_del(ev);
                event_active(ev, EV_TIMEOUT, 0);
            }
            break;
        }
        default:
            break;
        }
        F.sys.now += 200000u; /* past the restart gap: a dead child comes back at once */
        run();
        check();
    }
    sup_free(&S);
    fake_sys_free(&F.sys);
    event_base_free(F.sys.base);
    return 0;
}
