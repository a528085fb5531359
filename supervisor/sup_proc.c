/* sup_proc.c — see sup_proc.h. No work is done inside a signal handler:
 * SIGCHLD arrives as a libevent signal event whose callback calls
 * sup_proc_reap(). */
#include "sup_proc.h"

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

enum sup_pstate sup_proc_next(enum sup_pstate st, enum sup_pevent ev)
{
    if ((unsigned)st >= PS_NSTATES || (unsigned)ev >= PE_NEVENTS)
        return KEEP;
    return next_state[st][ev];
}

const char *sup_pstate_name(enum sup_pstate st)
{
    return (unsigned)st < PS_NSTATES ? state_names[st] : "?";
}

/* ---- the system, as the real supervisor uses it ---- */

static pid_t sys_fork(struct sup_proc *t, unsigned idx, int *link_fd, void *arg);
static int sys_kill(pid_t pid, int sig, void *arg)
{
    (void)arg;
    return kill(pid, sig);
}

static void on_respawn(evutil_socket_t fd, short what, void *arg);
static void on_peer(struct peer *p, const struct frame *f, void *arg);

int sup_proc_init(struct sup_proc *t, struct event_base *base, const struct sup_proc_desc *descs,
                  unsigned n, const int *socks, unsigned nsocks, const struct sup_proc_sys *sys,
                  void *owner)
{
    memset(t, 0, sizeof *t);
    if (n > SUP_PROC_MAX || nsocks > SUP_SOCK_MAX)
        return -1;
    t->base = base;
    t->owner = owner;
    t->n = n;
    t->nsocks = nsocks;
    for (unsigned i = 0; i < SUP_SOCK_MAX; i++)
        t->socks[i] = i < nsocks ? socks[i] : -1;
    if (sys) {
        t->sys = *sys;
    } else {
        t->sys.spawn = sys_fork;
        t->sys.kill = sys_kill;
    }
    if (t->sys.now_us == NULL)
        t->sys.now_us = clock_us;
    for (unsigned k = 0; k < n; k++) {
        struct sup_child *c = &t->child[k];
        c->d = &descs[k];
        c->t = t;
        c->idx = k;
        c->st = PS_DOWN;
        c->respawn = evtimer_new(base, on_respawn, c);
        if (c->respawn == NULL)
            return -1;
    }
    return 0;
}

void sup_proc_free(struct sup_proc *t)
{
    for (unsigned k = 0; k < t->n; k++) {
        struct sup_child *c = &t->child[k];
        if (c->peer)
            peer_free(c->peer);
        c->peer = NULL;
        if (c->respawn)
            event_free(c->respawn);
        c->respawn = NULL;
    }
}

bool sup_proc_all_gone(const struct sup_proc *t)
{
    for (unsigned k = 0; k < t->n; k++)
        if (t->child[k].pid > 0)
            return false;
    return true;
}

struct peer *sup_proc_link(const struct sup_proc *t, unsigned idx)
{
    if (idx >= t->n)
        return NULL;
    const struct sup_child *c = &t->child[idx];
    return (c->st == PS_STARTING || c->st == PS_UP) ? c->peer : NULL;
}

static void drop_peer(struct sup_child *c)
{
    if (c->peer) {
        peer_free(c->peer);
        c->peer = NULL;
    }
}

static void arm_respawn(struct sup_child *c, uint64_t now, bool was_up)
{
    uint64_t delay = 0;
    if (c->respawn_policy == SUP_RESPAWN_THROTTLED) {
        uint64_t up = now - c->t_spawn_us;
        bool healthy = was_up && now - c->t_ready_us >= SUP_HEALTHY_US;
        delay = healthy || up >= SUP_RESTART_GAP_US ? 0 : SUP_RESTART_GAP_US - up;
    }
    log_warn("restarting %s in %llu ms (restart %u)", c->d->name, (unsigned long long)(delay / 1000),
             c->restarts);
    struct timeval tv = {(time_t)(delay / 1000000), (suseconds_t)(delay % 1000000)};
    evtimer_del(c->respawn);
    evtimer_add(c->respawn, &tv);
}

static void enter_state(struct sup_child *c, enum sup_pstate from)
{
    struct sup_proc *t = c->t;
    uint64_t now = t->sys.now_us();
    switch (c->st) {
    case PS_UP:
        c->t_ready_us = now;
        break;
    case PS_DYING:
        if (c->pid > 0)
            t->sys.kill(c->pid, SIGKILL, t->sys.arg);
        break;
    case PS_BACKOFF:
        drop_peer(c);
        c->restarts++;
        if (c->respawn_policy != SUP_RESPAWN_NEVER)
            arm_respawn(c, now, from == PS_UP);
        break;
    case PS_STOPPING:
        if (c->pid > 0)
            t->sys.kill(c->pid, SIGTERM, t->sys.arg);
        break;
    case PS_GONE:
        evtimer_del(c->respawn);
        drop_peer(c);
        break;
    default:
        break;
    }
}

void sup_proc_event(struct sup_proc *t, unsigned idx, enum sup_pevent ev)
{
    if (idx >= t->n)
        return;
    struct sup_child *c = &t->child[idx];
    enum sup_pstate to = sup_proc_next(c->st, ev);
    if (to == KEEP)
        return;
    enum sup_pstate from = c->st;
    c->st = to;
    log_debug("%s: %s -> %s", c->d->name, sup_pstate_name(from), sup_pstate_name(to));
    enter_state(c, from);
    /* a new child hears what it needs before anyone else may send to it */
    if (to == PS_STARTING && c->peer && c->d->link_up)
        c->d->link_up(t->owner, idx);
    if (c->d->changed)
        c->d->changed(t->owner, idx, from, to);
    /* a death its owner declared final: the row empties at once */
    if (c->st == PS_BACKOFF && c->respawn_policy == SUP_RESPAWN_NEVER)
        sup_proc_event(t, idx, PE_STOP);
}

void sup_proc_set_respawn(struct sup_proc *t, unsigned idx, enum sup_respawn how)
{
    if (idx >= t->n)
        return;
    struct sup_child *c = &t->child[idx];
    c->respawn_policy = how;
    if (c->st != PS_BACKOFF)
        return;
    if (how == SUP_RESPAWN_NEVER) {
        sup_proc_event(t, idx, PE_STOP);
    } else if (how == SUP_RESPAWN_AT_ONCE) {
        struct timeval now = {0, 0};
        evtimer_del(c->respawn);
        evtimer_add(c->respawn, &now);
    }
}

void sup_proc_stop_all(struct sup_proc *t)
{
    for (unsigned k = 0; k < t->n; k++)
        sup_proc_event(t, k, PE_STOP);
}

void sup_proc_kill_all(struct sup_proc *t)
{
    for (unsigned k = 0; k < t->n; k++)
        if (t->child[k].pid > 0)
            t->sys.kill(t->child[k].pid, SIGKILL, t->sys.arg);
    /* Reap them here: SIGKILL ends a child at once, and a child left to be
     * reaped by whatever init the sandbox has would linger as a zombie. */
    for (unsigned k = 0; k < t->n; k++) {
        struct sup_child *c = &t->child[k];
        if (c->pid > 0 && t->sys.spawn == sys_fork)
            while (waitpid(c->pid, NULL, 0) < 0 && errno == EINTR)
                ;
        c->pid = 0;
    }
}

static void on_respawn(evutil_socket_t fd, short what, void *arg)
{
    struct sup_child *c = arg;
    (void)fd;
    (void)what;
    if (c->st == PS_BACKOFF)
        sup_proc_spawn(c->t, c->idx);
}

/* The one peer callback of every link: frames go to the row's dispatch, the
 * end of the link is the table's business. */
static void on_peer(struct peer *p, const struct frame *f, void *arg)
{
    struct sup_child *c = arg;
    struct sup_proc *t = c->t;
    if (f != NULL) {
        if (c->d->dispatch)
            c->d->dispatch(t->owner, c->idx, f);
        return;
    }
    if (peer_error(p)) {
        c->broken++;
        log_error("protocol error from %s (pid %d): %s; restarting it", c->d->name, (int)c->pid,
                  peer_error(p));
    } else if (c->st != PS_STOPPING && c->pid > 0) { /* pid 0: reaped, its death is logged */
        log_warn("%s (pid %d) closed its link", c->d->name, (int)c->pid);
    }
    sup_proc_event(t, c->idx, PE_LINK_LOST);
}

/* In the new child: drop what belongs to the parent or to a sibling. */
static void child_setup(struct sup_proc *t, unsigned idx, pid_t parent)
{
    const struct sup_proc_desc *d = t->child[idx].d;
    /* The child builds its own event base. The parent's still holds the
     * process's signal events (libevent allows one base with signals, and
     * warns, in a line that would ship as a log line, when a second adds
     * one). Reinit first: freeing a base that shares the parent's epoll
     * instance would remove the parent's registrations; and before closing
     * the links, whose events the reinit adds again. */
    if (event_reinit(t->base) == 0)
        event_base_free(t->base);
    t->base = NULL;
    for (unsigned o = 0; o < t->n; o++)
        if (t->child[o].peer)
            close(peer_fd(t->child[o].peer));
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
    for (unsigned i = 0; i < t->nsocks; i++)
        if (t->socks[i] >= 0 && !(d->keep_socks & (1u << i)))
            close(t->socks[i]);
    proctitle_set(d->title);
}

static pid_t sys_fork(struct sup_proc *t, unsigned idx, int *link_fd, void *arg)
{
    const struct sup_proc_desc *d = t->child[idx].d;
    (void)arg;
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
        log_error("socketpair for %s: %s", d->name, strerror(errno));
        return -1;
    }
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        log_error("fork %s: %s", d->name, strerror(errno));
        close(sv[0]);
        close(sv[1]);
        return -1;
    }
    if (pid == 0) {
        uint64_t t_start = clock_us();
        close(sv[0]);
        child_setup(t, idx, parent);
        _exit(d->entry(t->owner, sv[1], t_start));
    }
    close(sv[1]);
    *link_fd = sv[0];
    return pid;
}

int sup_proc_spawn(struct sup_proc *t, unsigned idx)
{
    if (idx >= t->n)
        return -1;
    struct sup_child *c = &t->child[idx];
    int fd = -1;
    pid_t pid = t->sys.spawn(t, idx, &fd, t->sys.arg);
    if (pid <= 0) {
        /* try again later, as if it had exited at once */
        c->t_spawn_us = t->sys.now_us();
        if (c->st == PS_DOWN || c->st == PS_BACKOFF)
            c->st = PS_STARTING;
        sup_proc_event(t, idx, PE_EXITED);
        return -1;
    }
    c->pid = pid;
    c->t_spawn_us = t->sys.now_us();
    c->spawns++;
    c->peer = peer_new(t->base, fd, c->d->name, c->d->accept_dirs, c->d->wq_max, on_peer, c);
    if (c->peer == NULL)
        close(fd);
    log_info("%s started (pid %d)", c->d->name, (int)pid);
    sup_proc_event(t, idx, PE_SPAWNED);
    if (c->peer == NULL) {
        log_error("cannot watch %s's link", c->d->name);
        sup_proc_event(t, idx, PE_LINK_LOST);
        return -1;
    }
    return 0;
}

void sup_proc_exited(struct sup_proc *t, pid_t pid, int status)
{
    for (unsigned k = 0; k < t->n; k++) {
        struct sup_child *c = &t->child[k];
        if (pid <= 0 || c->pid != pid)
            continue;
        if (c->st == PS_STOPPING)
            log_debug("%s (pid %d) stopped", c->d->name, (int)pid);
        else if (WIFSIGNALED(status))
            log_warn("%s (pid %d) killed by signal %d", c->d->name, (int)pid, WTERMSIG(status));
        else
            log_warn("%s (pid %d) exited with status %d", c->d->name, (int)pid, WEXITSTATUS(status));
        c->pid = 0;
        /* read what it sent before dying; its end is closed, so this ends at EOF */
        if (c->peer)
            peer_drain(c->peer);
        bool gave_up = c->d->permanent_exit && WIFEXITED(status) &&
                       WEXITSTATUS(status) == c->d->permanent_exit;
        if (gave_up && c->st != PS_STOPPING)
            log_error("%s cannot run; not restarting it (staying alive until shutdown)", c->d->name);
        sup_proc_event(t, k, gave_up ? PE_GAVE_UP : PE_EXITED);
    }
}

void sup_proc_reap(struct sup_proc *t)
{
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
        sup_proc_exited(t, pid, status);
}
