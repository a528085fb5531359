/* sup.h — the supervisor's state and the calls between its files: the
 * process table (sup_proc.c) and the frame router/shutdown (sup_main.c). */
#ifndef FORKCAP_SUP_H
#define FORKCAP_SUP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <event2/event.h>

#include "config.h"
#include "lifecycle.h"
#include "peer.h"
#include "sup_sched.h"
#include "sup_spool.h"

/* Restart throttling (s6-style): a child is respawned at least
 * SUP_RESTART_GAP_US after its previous spawn, at once if it had been up
 * for SUP_HEALTHY_US or more. */
#define SUP_RESTART_GAP_US 100000u
#define SUP_HEALTHY_US 1000000u
/* Shutdown: leave Lambda's deadline with this much to spare, and give the
 * children this long between SIGTERM and SIGKILL. */
#define SUP_EXIT_MARGIN_MS 150
#define SUP_STOP_GRACE_MS 100
/* SIGTERM (not from Lambda: an operator or a test) grants this budget. */
#define SUP_SIGTERM_BUDGET_MS 1000
#define SUP_WQ_LIFECYCLE (1u * 1024u * 1024u)
#define SUP_WQ_FLUSHER (SUP_SPOOL_WINDOW + 4u * 1024u * 1024u)

enum sup_kind { SUP_LIFECYCLE, SUP_FLUSHER, SUP_NKIND };

/* Process states and events: the transition table is in sup_proc.c. */
enum sup_pstate {
    PS_DOWN,     /* no process, none scheduled (before the first spawn) */
    PS_STARTING, /* forked, not ready yet */
    PS_UP,       /* ready (REGISTERED or NEXT_WAIT / READY) */
    PS_DYING,    /* link lost or broken; killed, waiting for waitpid */
    PS_BACKOFF,  /* reaped; respawn timer armed */
    PS_STOPPING, /* shutdown: SIGTERM sent */
    PS_GONE,     /* reaped during shutdown; never respawned */
    PS_NSTATES
};
enum sup_pevent {
    PE_SPAWNED,
    PE_READY,
    PE_LINK_LOST,
    PE_EXITED,
    PE_GAVE_UP, /* exited with LC_EXIT_PERMANENT: restarting cannot help */
    PE_STOP,
    PE_NEVENTS
};

struct sup_child {
    enum sup_kind kind;
    const char *name;
    pid_t pid;
    struct peer *peer;
    enum sup_pstate st;
    uint64_t t_spawn_us;
    uint64_t t_ready_us;
    unsigned spawns;
    unsigned restarts;
    unsigned broken;      /* protocol errors seen */
    struct event *respawn;
};

struct sup_sockets {
    int telemetry, dogstatsd, apm, lambda; /* -1 when the bind failed */
    uint16_t telemetry_port, dogstatsd_port, apm_port, lambda_port;
};

struct sup {
    struct event_base *base;
    struct cfg cfg;
    struct sup_sockets socks;
    struct sup_child child[SUP_NKIND];
    struct sup_spool spool;
    struct sup_sched sched;
    char ext_name[LC_NAME_MAX];
    /* identity from REGISTERED, kept across lifecycle restarts */
    char ext_id[LC_EXT_ID_MAX];
    char fn_name[CFG_STR_MAX], fn_version[CFG_STR_MAX], account_id[CFG_STR_MAX];
    char arn[2048], request_id[CFG_STR_MAX];
    int64_t deadline_ms;
    uint64_t invocations;
    bool cold_start;      /* no invocation of this sandbox seen yet */
    struct event *sched_timer; /* armed at sup_sched_next_wake() */
    /* checkpoints (CLOCK_MONOTONIC us) */
    uint64_t t0_us, t_register_us, t_subscribe_us, t_first_next_us;
    uint64_t t_fl_start_us, t_fl_tls_us, t_fl_ready_us;
    int subscribe_status;
    bool init_logged;
    /* shutdown */
    bool shutting;
    bool stopping; /* children told to stop */
    uint64_t final_flush_id;
    int64_t exit_at_ms;
    struct event *stop_timer, *exit_timer;
    struct event *settle_timer;  /* SHUTDOWN: wait for Lambda's last telemetry */
    bool settling;
    int64_t settle_until_ms;     /* hard end of the settle window (epoch ms) */
    struct event *ev_chld, *ev_term, *ev_int;
    const char *stats_file;
};

/* sup_proc.c */
/* forkcap run by hand (argc > 1): --version, --help, check; the exit code. */
int sup_cli(int argc, char **argv);
void sup_proc_init(struct sup *s);
int sup_spawn(struct sup *s, enum sup_kind k);
void sup_proc_event(struct sup *s, enum sup_kind k, enum sup_pevent ev);
void sup_reap(struct sup *s);
const char *sup_pstate_name(enum sup_pstate st);
bool sup_all_gone(const struct sup *s);

/* sup_main.c: frames from each child (peer callbacks) */
void sup_on_lifecycle(struct peer *p, const struct frame *f, void *arg);
void sup_on_flusher(struct peer *p, const struct frame *f, void *arg);
/* sup_main.c: the link to a child came up (fresh peer) */
void sup_link_up(struct sup *s, enum sup_kind k);
/* sup_main.c: FORKCAP_STATS_FILE snapshot (tests, bench); no-op when unset */
void sup_write_stats(const struct sup *s, const char *phase);
/* sup_main.c: a child was reaped during shutdown */
void sup_check_exit(struct sup *s);

#endif
