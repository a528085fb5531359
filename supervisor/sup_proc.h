/* sup_proc.h — the supervisor's process table: one row per child, spawn,
 * reap, throttled restart, and the link to each child. It knows no child by
 * name: a row's descriptor (struct sup_proc_desc) says what the child is,
 * and the table reaches its owner only through the descriptor's callbacks.
 *
 * The (state, event) transitions are one table (sup_proc_next); entering a
 * state performs that state's one action:
 *
 *   state \ event  SPAWNED   READY  LINK_LOST  EXITED    GAVE_UP  STOP
 *   down           starting  -      -          -         -        gone
 *   starting       -         up     dying      backoff   gone     stopping
 *   up             -         -      dying      backoff   gone     stopping
 *   dying          -         -      -          backoff   gone     stopping
 *   backoff        starting  -      -          -         -        gone
 *   stopping       -         -      -          gone      gone     -
 *   gone           -         -      -          -         -        -
 *
 *   up: note the time; dying: SIGKILL; backoff: drop the link, arm the
 *   respawn timer (throttled, at once, or never = STOP); stopping:
 *   SIGTERM; gone: drop the link, disarm the respawn timer.
 *
 * Restart throttling (s6-style): a child is respawned at least
 * SUP_RESTART_GAP_US after its previous spawn, at once if it had been up for
 * SUP_HEALTHY_US or more, or at once whatever its history when its owner
 * set SUP_RESPAWN_AT_ONCE (a deadline that leaves no room for a gap). */
#ifndef FORKCAP_SUP_PROC_H
#define FORKCAP_SUP_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <event2/event.h>

#include "frame.h"
#include "peer.h"

#define SUP_RESTART_GAP_US 100000u
#define SUP_HEALTHY_US 1000000u
#define SUP_PROC_MAX 4u  /* rows in a table */
#define SUP_SOCK_MAX 8u  /* listening sockets the children may inherit */

enum sup_pstate {
    PS_DOWN,     /* no process, none scheduled (before the first spawn) */
    PS_STARTING, /* forked, not ready yet */
    PS_UP,       /* ready (the owner said so: PE_READY) */
    PS_DYING,    /* link lost or broken; killed, waiting for waitpid */
    PS_BACKOFF,  /* reaped; respawn timer armed */
    PS_STOPPING, /* shutdown: SIGTERM sent */
    PS_GONE,     /* reaped during shutdown, or never to be respawned */
    PS_NSTATES
};
enum sup_pevent {
    PE_SPAWNED,
    PE_READY,
    PE_LINK_LOST,
    PE_EXITED,
    PE_GAVE_UP, /* exited with the descriptor's permanent_exit status */
    PE_STOP,
    PE_NEVENTS
};

/* How a child that died is brought back. */
enum sup_respawn {
    SUP_RESPAWN_THROTTLED, /* the s6 rule above (the default) */
    SUP_RESPAWN_AT_ONCE,   /* no gap: the owner has a deadline to meet */
    SUP_RESPAWN_NEVER,     /* a death is final (backoff -> gone) */
};

/* One kind of child. Callbacks get the owner given to sup_proc_init and the
 * row's index; they may send on links and post events to the table, but
 * never free it. */
struct sup_proc_desc {
    const char *name;     /* in logs and the stats file */
    const char *title;    /* the child's ps title */
    /* Runs in the forked child, after the table closed what the child must
     * not hold; returns the child's exit status. */
    int (*entry)(void *owner, int link_fd, uint64_t t_start_us);
    unsigned accept_dirs; /* FRAME_DIR_* the child may send; others break the link */
    size_t wq_max;        /* bound on bytes queued towards the child */
    unsigned keep_socks;  /* bit i set: the child keeps inherited socket i */
    int permanent_exit;   /* exit status meaning "a restart cannot help"; 0 = none */
    /* a valid frame from the child (borrowed for the call) */
    void (*dispatch)(void *owner, unsigned idx, const struct frame *f);
    /* a fresh link exists (state starting): send what a new child needs;
     * runs before `changed` reports the new state, so before anything the
     * owner sends on news of it */
    void (*link_up)(void *owner, unsigned idx);
    /* the row changed state (after the state's action ran) */
    void (*changed)(void *owner, unsigned idx, enum sup_pstate from, enum sup_pstate to);
};

struct sup_proc;

/* One child slot. Read-only outside sup_proc.c. */
struct sup_child {
    const struct sup_proc_desc *d;
    struct sup_proc *t;
    unsigned idx;
    pid_t pid;            /* 0: no process */
    struct peer *peer;
    enum sup_pstate st;
    enum sup_respawn respawn_policy;
    uint64_t t_spawn_us, t_ready_us;
    unsigned spawns, restarts;
    unsigned broken;      /* protocol errors seen */
    struct event *respawn;
};

/* What the table asks of the system; tests and fuzzers inject their own.
 * spawn: start row idx (the real one forks and runs entry); returns the
 * pid (> 0) and the supervisor's end of a fresh socketpair in *link_fd, or
 * -1. kill: deliver sig to pid. now_us: CLOCK_MONOTONIC. */
struct sup_proc_sys {
    pid_t (*spawn)(struct sup_proc *t, unsigned idx, int *link_fd, void *arg);
    int (*kill)(pid_t pid, int sig, void *arg);
    uint64_t (*now_us)(void);
    void *arg;
};

struct sup_proc {
    struct event_base *base;
    void *owner;
    unsigned n;
    struct sup_child child[SUP_PROC_MAX];
    int socks[SUP_SOCK_MAX]; /* -1: none */
    unsigned nsocks;
    struct sup_proc_sys sys;
};

/* descs (n <= SUP_PROC_MAX, not copied: must outlive the table) and the
 * listening sockets children inherit (copied; -1 allowed). sys NULL: fork,
 * kill and the real clock. Returns 0, -1 on allocation failure. */
int sup_proc_init(struct sup_proc *t, struct event_base *base, const struct sup_proc_desc *descs,
                  unsigned n, const int *socks, unsigned nsocks, const struct sup_proc_sys *sys,
                  void *owner);
/* Free timers and links (does not kill anything). */
void sup_proc_free(struct sup_proc *t);

/* Start row idx now. 0, or -1 (then retried as if it had exited at once). */
int sup_proc_spawn(struct sup_proc *t, unsigned idx);
void sup_proc_event(struct sup_proc *t, unsigned idx, enum sup_pevent ev);
/* waitpid() every exited child (SIGCHLD arrived) and post their events. */
void sup_proc_reap(struct sup_proc *t);
/* One reaped child (status as waitpid gives it). Unknown pids are ignored. */
void sup_proc_exited(struct sup_proc *t, pid_t pid, int status);
/* How row idx comes back when it dies; applies to a pending respawn too. */
void sup_proc_set_respawn(struct sup_proc *t, unsigned idx, enum sup_respawn how);
/* PE_STOP to every row. */
void sup_proc_stop_all(struct sup_proc *t);
/* SIGKILL every live child and wait for it (the supervisor is leaving). */
void sup_proc_kill_all(struct sup_proc *t);

/* The link to row idx while it can carry frames (starting or up), else NULL. */
struct peer *sup_proc_link(const struct sup_proc *t, unsigned idx);
bool sup_proc_all_gone(const struct sup_proc *t);
/* The transition table; PS_NSTATES when the event is ignored in that state. */
enum sup_pstate sup_proc_next(enum sup_pstate st, enum sup_pevent ev);
const char *sup_pstate_name(enum sup_pstate st);

#endif
