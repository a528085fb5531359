/* sup.h — the supervisor's own state and the calls between its files:
 * sup_route.c (frames from the children, carrying out what the scheduler and
 * the shutdown machine decide), sup_children.c (the process table's rows),
 * sup_stats.c (the stats file) and sup_main.c (main: configuration, sockets,
 * signals, the event loop). The process table (sup_proc.h), the scheduler
 * (sup_sched.h), the shutdown machine (sup_shutdown.h) and the spool
 * (sup_spool.h) know nothing of this file. */
#ifndef FORKCAP_SUP_H
#define FORKCAP_SUP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <event2/event.h>

#include "config.h"
#include "lifecycle.h"
#include "log.h"
#include "peer.h"
#include "refusal.h"
#include "sup_proc.h"
#include "sup_inv.h"
#include "sup_sched.h"
#include "sup_shutdown.h"
#include "sup_spool.h"

#define SUP_WQ_LIFECYCLE (1u * 1024u * 1024u)
#define SUP_WQ_FLUSHER (SUP_SPOOL_WINDOW + 4u * 1024u * 1024u)

/* Rows of the process table (sup_children.c describes them). */
enum sup_kind { SUP_LIFECYCLE, SUP_FLUSHER, SUP_NKIND };
/* The listening sockets children inherit, by index (keep_socks bits). */
enum sup_sock { SUP_SOCK_TELEMETRY, SUP_SOCK_DOGSTATSD, SUP_SOCK_APM, SUP_SOCK_LAMBDA, SUP_NSOCK };

struct sup_sockets {
    int fd[SUP_NSOCK];        /* -1 when the bind failed */
    uint16_t port[SUP_NSOCK];
};

struct sup;
struct sup_sd_timer {
    struct event *ev;
    struct sup *s;
    enum sd_timer which;
};

struct sup {
    struct event_base *base;
    struct cfg cfg;
    /* the API key and proxy URL, sealed away from this process's memory
     * (cfg_seal_secrets); -1: none, or kept in cfg (no memfd) */
    int secrets_fd;
    /* input the children refused, per reason (common/refusals.def) */
    uint64_t refused[REF_N];
    struct sup_sockets socks;
    struct sup_proc procs;
    struct sup_spool spool;
    struct sup_sched sched;
    /* the flusher's latest DogStatsD checkpoint (FT_DSD_STATE), encoded; a
     * new flusher gets it before any other frame */
    struct frame_buf dsd_state;
    struct sup_shutdown sd;
    char ext_name[LC_NAME_MAX];
    /* identity from REGISTERED, kept across lifecycle restarts */
    char ext_id[LC_EXT_ID_MAX];
    char fn_name[CFG_STR_MAX], fn_version[CFG_STR_MAX], account_id[CFG_STR_MAX];
    char arn[2048], request_id[CFG_STR_MAX];
    int64_t deadline_ms;
    uint64_t invocations;      /* counted (sup_inv.h): the last FT_INVOCATION's n */
    struct sup_inv inv;        /* request ids counted, INVOKEs possibly lost */
    bool cold_start;           /* no invocation of this sandbox seen yet */
    struct event *sched_timer; /* armed at sup_sched_next_wake() */
    struct sup_sd_timer sd_timer[SD_NTIMERS]; /* armed at sup_shutdown_due(), one per purpose */
    /* checkpoints (CLOCK_MONOTONIC us) */
    uint64_t t0_us, t_register_us, t_subscribe_us, t_first_next_us;
    uint64_t t_fl_start_us, t_fl_tls_us, t_fl_ready_us;
    int subscribe_status;
    bool init_logged;
    bool breaker_logged;         /* the breaker state last acted on */
    bool breaker_said;           /* ... and its opening was logged */
    struct log_limit breaker_log; /* a flapping intake: rarely (log.h) */
    struct log_limit bound_log;   /* go-aheads at a bound, in a row */
    /* set when the loop must end: main then kills what is left and exits */
    bool exiting;
    int exit_code;
    const char *stats_file;
};

/* sup_cli.c: forkcap run by hand (argc > 1): --version, --help, check; the exit code. */
int sup_cli(int argc, char **argv);

/* sup_children.c: the process table's rows, indexed by enum sup_kind */
extern const struct sup_proc_desc sup_children[SUP_NKIND];

/* sup_route.c */
/* Everything but the sockets, the configuration and the children's start.
 * sys NULL: the real system (fork, kill, clock). 0, or -1 when out of memory. */
int sup_init(struct sup *s, struct event_base *base, const struct sup_proc_desc *descs,
             const struct sup_proc_sys *sys);
void sup_free(struct sup *s);
/* Spawn the children, lifecycle first: it is on Lambda's critical path. */
void sup_start(struct sup *s);
/* SHUTDOWN (left_ms until Lambda's deadline) or a signal. */
void sup_begin_shutdown(struct sup *s, int64_t left_ms, const char *why);
/* SIGCHLD arrived. */
void sup_on_sigchld(struct sup *s);
/* Leave: kill and reap what is left, write the stats, log the summary. */
void sup_finish(struct sup *s);
/* Process table callbacks (sup_children.c puts them in the rows). */
void sup_on_lifecycle(void *owner, unsigned idx, const struct frame *f);
void sup_on_flusher(void *owner, unsigned idx, const struct frame *f);
void sup_link_up(void *owner, unsigned idx);
void sup_changed(void *owner, unsigned idx, enum sup_pstate from, enum sup_pstate to);

/* sup_stats.c: FORKCAP_STATS_FILE snapshot (tests, bench), replaced
 * atomically; a no-op when unset. 0, or -1 when it could not be written. */
int sup_write_stats(const struct sup *s);

#endif
