/* sup_proc.c — the process table: spawn, reap, throttled restart. Every
 * (state, event) transition is in next_state[] below; entering a state
 * performs that state's one action (enter_state). No work is done inside a
 * signal handler: SIGCHLD arrives as a libevent signal event. */
#include "sup.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"
#include "fl_main.h"
#include "lifecycle.h"
#include "log.h"
#include "proctitle.h"

#define KEEP PS_NSTATES /* event ignored in this state */

static const enum sup_pstate next_state[PS_NSTATES][PE_NEVENTS] = {
    /*               SPAWNED      READY  LINK_LOST EXITED      GAVE_UP  STOP */
    [PS_DOWN]     = {PS_STARTING, KEEP,  KEEP,     KEEP,       KEEP,    PS_GONE},
    [PS_STARTING] = {KEEP,        PS_UP, PS_DYING, PS_BACKOFF, PS_GONE, PS_STOPPING},
    [PS_UP]       = {KEEP,        KEEP,  PS_DYING, PS_BACKOFF, PS_GONE, PS_STOPPING},
    [PS_DYING]    = {KEEP,        KEEP,  KEEP,     PS_BACKOFF, PS_GONE, PS_STOPPING},
    [PS_BACKOFF]  = {PS_STARTING, KEEP,  KEEP,     KEEP,       KEEP,    PS_GONE},
    [PS_STOPPING] = {KEEP,        KEEP,  KEEP,     PS_GONE,    PS_GONE, KEEP},
    [PS_GONE]     = {KEEP,        KEEP,  KEEP,     KEEP,       KEEP,    KEEP},
};

static const char *const state_names[PS_NSTATES] = {
    "down", "starting", "up", "dying", "backoff", "stopping", "gone",
};

const char *sup_pstate_name(enum sup_pstate st)
{
    return (unsigned)st < PS_NSTATES ? state_names[st] : "?";
}

static void on_respawn(evutil_socket_t fd, short what, void *arg);

void sup_proc_init(struct sup *s)
{
    static const char *const names[SUP_NKIND] = {"lifecycle", "flusher"};
    for (int k = 0; k < SUP_NKIND; k++) {
        struct sup_child *c = &s->child[k];
        memset(c, 0, sizeof *c);
        c->kind = (enum sup_kind)k;
        c->name = names[k];
        c->st = PS_DOWN;
        c->respawn = evtimer_new(s->base, on_respawn, s);
    }
}

bool sup_all_gone(const struct sup *s)
{
    for (int k = 0; k < SUP_NKIND; k++)
        if (s->child[k].pid > 0)
            return false;
    return true;
}

static void drop_peer(struct sup *s, struct sup_child *c)
{
    if (c->peer) {
        peer_free(c->peer);
        c->peer = NULL;
    }
    if (c->kind == SUP_FLUSHER)
        sup_spool_unsend(&s->spool);
}

static void enter_state(struct sup *s, struct sup_child *c, enum sup_pstate from)
{
    uint64_t now = clock_us();
    switch (c->st) {
    case PS_UP:
        c->t_ready_us = now;
        break;
    case PS_DYING:
        if (c->pid > 0)
            kill(c->pid, SIGKILL);
        break;
    case PS_BACKOFF: {
        drop_peer(s, c);
        uint64_t up = now - c->t_spawn_us;
        uint64_t delay = (from == PS_UP && now - c->t_ready_us >= SUP_HEALTHY_US) ||
                                 up >= SUP_RESTART_GAP_US
                             ? 0
                             : SUP_RESTART_GAP_US - up;
        c->restarts++;
        log_warn("restarting %s in %llu ms (restart %u)", c->name,
                 (unsigned long long)(delay / 1000), c->restarts);
        struct timeval tv = {(time_t)(delay / 1000000), (suseconds_t)(delay % 1000000)};
        evtimer_add(c->respawn, &tv);
        break;
    }
    case PS_STOPPING:
        if (c->pid > 0)
            kill(c->pid, SIGTERM);
        break;
    case PS_GONE:
        evtimer_del(c->respawn);
        drop_peer(s, c);
        break;
    default:
        break;
    }
}

void sup_proc_event(struct sup *s, enum sup_kind k, enum sup_pevent ev)
{
    struct sup_child *c = &s->child[k];
    enum sup_pstate to = next_state[c->st][ev];
    if (to == KEEP)
        return;
    enum sup_pstate from = c->st;
    c->st = to;
    log_debug("%s: %s -> %s", c->name, sup_pstate_name(from), sup_pstate_name(to));
    enter_state(s, c, from);
    sup_write_stats(s, s->shutting ? "shutdown" : s->init_logged ? "ready" : "init");
}

static void on_respawn(evutil_socket_t fd, short what, void *arg)
{
    struct sup *s = arg;
    (void)fd;
    (void)what;
    for (int k = 0; k < SUP_NKIND; k++)
        if (s->child[k].st == PS_BACKOFF && !evtimer_pending(s->child[k].respawn, NULL))
            sup_spawn(s, (enum sup_kind)k);
}

/* In the new child: drop what belongs to the parent or to the sibling. */
static void child_setup(struct sup *s, enum sup_kind k, pid_t parent)
{
    /* The child builds its own event base. The supervisor's, inherited by
     * fork, still holds its signal events, and libevent lets one base per
     * process have signals (it warns on stderr, which ships as a log line).
     * event_reinit moves the copy off the epoll instance it shares with
     * the supervisor, so freeing it touches nothing of the parent's. */
    if (event_reinit(s->base) == 0)
        event_base_free(s->base);
    s->base = NULL;
    for (int o = 0; o < SUP_NKIND; o++)
        if (s->child[o].peer)
            close(peer_fd(s->child[o].peer));
    signal(SIGCHLD, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGINT, SIG_DFL);
    signal(SIGPIPE, SIG_IGN);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    /* never outlive the supervisor, even if it is SIGKILLed */
    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    if (getppid() != parent)
        _exit(0);
    int unused[3];
    if (k == SUP_LIFECYCLE) {
        unused[0] = s->socks.dogstatsd;
        unused[1] = s->socks.apm;
        unused[2] = s->socks.lambda;
    } else {
        unused[0] = s->socks.telemetry;
        unused[1] = unused[2] = -1;
    }
    for (int i = 0; i < 3; i++)
        if (unused[i] >= 0)
            close(unused[i]);
    proctitle_set(k == SUP_LIFECYCLE ? "forkcap: lifecycle" : "forkcap: flusher");
}

int sup_spawn(struct sup *s, enum sup_kind k)
{
    struct sup_child *c = &s->child[k];
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
        log_error("socketpair for %s: %s", c->name, strerror(errno));
        goto fail;
    }
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        log_error("fork %s: %s", c->name, strerror(errno));
        close(sv[0]);
        close(sv[1]);
        goto fail;
    }
    if (pid == 0) {
        uint64_t t_start = clock_us();
        close(sv[0]);
        child_setup(s, k, parent);
        if (k == SUP_LIFECYCLE) {
            /* it talks to Lambda only: no key, no proxy credentials in its memory */
            cfg_forget_secrets(&s->cfg, environ);
            struct lc_args a = {.cfg = &s->cfg, .sup_fd = sv[1], .telemetry_fd = s->socks.telemetry,
                                .telemetry_port = s->socks.telemetry_port, .t_start_us = t_start};
            snprintf(a.ext_name, sizeof a.ext_name, "%s", s->ext_name);
            snprintf(a.ext_id, sizeof a.ext_id, "%s", s->ext_id);
            _exit(lc_main(&a));
        }
        struct fl_args a = {.cfg = &s->cfg, .sup_fd = sv[1], .dogstatsd_fd = s->socks.dogstatsd,
                            .apm_fd = s->socks.apm, .lambda_fd = s->socks.lambda,
                            .t_start_us = t_start};
        _exit(fl_main(&a));
    }
    close(sv[1]);
    c->pid = pid;
    c->t_spawn_us = clock_us();
    c->spawns++;
    c->peer = peer_new(s->base, sv[0], c->name,
                       k == SUP_LIFECYCLE ? FRAME_DIR_L2S : FRAME_DIR_F2S,
                       k == SUP_LIFECYCLE ? SUP_WQ_LIFECYCLE : SUP_WQ_FLUSHER,
                       k == SUP_LIFECYCLE ? sup_on_lifecycle : sup_on_flusher, s);
    sup_proc_event(s, k, PE_SPAWNED);
    log_info("%s started (pid %d)", c->name, (int)pid);
    if (c->peer == NULL) {
        close(sv[0]);
        log_error("cannot watch %s's link", c->name);
        sup_proc_event(s, k, PE_LINK_LOST);
        return -1;
    }
    sup_link_up(s, k);
    return 0;
fail:
    /* try again later, as if it had exited at once */
    c->t_spawn_us = clock_us();
    if (c->st == PS_DOWN || c->st == PS_BACKOFF)
        c->st = PS_STARTING;
    sup_proc_event(s, k, PE_EXITED);
    return -1;
}

void sup_reap(struct sup *s)
{
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        for (int k = 0; k < SUP_NKIND; k++) {
            struct sup_child *c = &s->child[k];
            if (c->pid != pid)
                continue;
            if (c->st == PS_STOPPING)
                log_debug("%s (pid %d) stopped", c->name, (int)pid);
            else if (WIFSIGNALED(status))
                log_warn("%s (pid %d) killed by signal %d", c->name, (int)pid, WTERMSIG(status));
            else
                log_warn("%s (pid %d) exited with status %d", c->name, (int)pid, WEXITSTATUS(status));
            c->pid = 0;
            /* read what it sent before dying; its end is closed, so this ends at EOF */
            if (c->peer)
                peer_drain(c->peer);
            bool gave_up = WIFEXITED(status) && WEXITSTATUS(status) == LC_EXIT_PERMANENT;
            if (gave_up && c->st != PS_STOPPING)
                log_error("%s cannot run; not restarting it (staying alive until shutdown)", c->name);
            sup_proc_event(s, (enum sup_kind)k, gave_up ? PE_GAVE_UP : PE_EXITED);
        }
    }
    sup_check_exit(s);
}
