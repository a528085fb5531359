/* sup_shutdown.h — the supervisor's way out: from Lambda's SHUTDOWN (or
 * SIGTERM) to exit, within the deadline, with everything spooled flushed.
 *
 * A pure state machine like sup_sched.h: no I/O, no clock of its own. Every
 * call takes the current CLOCK_MONOTONIC time and fills a struct sd_act the
 * caller carries out (restart policies first, then the final flush, then
 * stop, then exit); after every call the caller re-arms each of its four
 * timers at sup_shutdown_due() (one timer per purpose) and calls
 * sup_shutdown_timer() when one fires.
 *
 *   event \ phase   RUNNING       SETTLING          FINAL_FLUSH            STOPPING     EXIT
 *   begin           settle|flush  -                 -                      -            -
 *   data            -             quiet again       -                      -            -
 *   lifecycle up    -             quiet again       -                      -            -
 *   lifecycle lost  -             await data        -                      -            -
 *   flusher up      note          note              flush (time left)      -            -
 *   flusher lost    note          note              time left: wait for    -            -
 *                                                   it, else stop
 *   flush started   -             -                 id 0: stop             -            -
 *   flushed(id)     -             -                 ours: stop             -            -
 *   all gone        -             -                 -                      exit         -
 *   T_SETTLE        -             final flush       -                      -            -
 *   T_FLUSH         -             -                 stop (late)            -            -
 *   T_GRACE         -             -                 -                      exit         -
 *   T_EXIT          -             exit              exit                   exit         -
 *
 *   begin: Lambda's deadline (one far off or already past is not trusted:
 *   SD_DEFAULT_BUDGET_MS) minus SD_EXIT_MARGIN_MS is when we are gone
 *   (T_EXIT). Lambda sends the last telemetry (the last REPORT) after
 *   SHUTDOWN, within its buffering time: unless told not to settle, the
 *   final flush waits until the data has been quiet for SD_SETTLE_QUIET_MS,
 *   but never longer than SD_SETTLE_MAX_MS nor a third of the time left.
 *   A lifecycle lost while settling held Lambda's POST: quiet counts only
 *   once telemetry reached its replacement (Lambda's retry), else the settle
 *   runs to its hard end.
 *   final flush: budget = time left - SD_STOP_GRACE_MS (capped at the flush
 *   timeout; none left: stop at once), bounded by T_FLUSH; a flusher lost meanwhile is restarted at
 *   once and, if at least SD_RETRY_MIN_MS are left, asked again with the
 *   time left (the spool replays to it first).
 *   stop: SIGTERM the children, T_GRACE later whoever is left is killed.
 *
 * Restart policies: running, the process table's throttle; settling, both
 * children come back at once (the lifecycle serves Lambda's last telemetry);
 * final flush, the flusher at once and the lifecycle never; from stopping
 * on, never. */
#ifndef FORKCAP_SUP_SHUTDOWN_H
#define FORKCAP_SUP_SHUTDOWN_H

#include <stdbool.h>
#include <stdint.h>

#include "sup_proc.h"

#define SD_EXIT_MARGIN_MS 150u       /* leave Lambda's deadline this early */
#define SD_STOP_GRACE_MS 100u        /* between SIGTERM and SIGKILL */
#define SD_DEFAULT_BUDGET_MS 2000u   /* Lambda's SHUTDOWN budget */
#define SD_MAX_BUDGET_MS 10000u      /* a deadline further off is not trusted */
#define SD_SIGTERM_BUDGET_MS 1000u   /* SIGTERM (an operator, a test) grants this */
#define SD_SETTLE_QUIET_MS 60u
#define SD_SETTLE_MAX_MS 400u
#define SD_RETRY_MIN_MS 100u         /* a flusher restart and replay needs ~80 ms */
#define SD_NEVER UINT64_MAX

enum sd_phase { SD_RUNNING, SD_SETTLING, SD_FINAL_FLUSH, SD_STOPPING, SD_EXIT, SD_NPHASES };
enum sd_timer { SD_T_SETTLE, SD_T_FLUSH, SD_T_GRACE, SD_T_EXIT, SD_NTIMERS };

/* What the caller must do now, in this order. */
struct sd_act {
    bool set_respawn;                      /* apply the two policies below */
    enum sup_respawn lifecycle, flusher;
    bool final_flush;                      /* ask the scheduler; report its id */
    uint32_t budget_ms;
    bool stop;                             /* PE_STOP to every child */
    bool exit;                             /* kill what is left and exit 0 */
    const char *warn;                      /* something went wrong: log it */
};

struct sup_shutdown {
    enum sd_phase phase;
    uint32_t flush_timeout_ms;
    bool flusher_up;
    uint64_t flush_id;         /* final flush in flight; 0 none */
    unsigned final_flushes;    /* asked (more than one: the flusher was restarted) */
    uint64_t t_flusher_lost_us; /* last loss during the final flush (for the logs) */
    uint64_t t_begin_us, exit_at_us, settle_until_us;
    bool await_data;           /* settling: a lifecycle was lost, no telemetry since */
    uint64_t due[SD_NTIMERS];  /* SD_NEVER: disarmed */
};

void sup_shutdown_init(struct sup_shutdown *m, uint32_t flush_timeout_ms);
/* SHUTDOWN with left_ms until Lambda's deadline, or SIGTERM. settle false:
 * no telemetry can come (idle mode, no lifecycle). Ignored unless running. */
void sup_shutdown_begin(struct sup_shutdown *m, int64_t left_ms, bool settle, uint64_t now_us,
                        struct sd_act *out);
/* A data frame (telemetry) arrived. */
void sup_shutdown_data(struct sup_shutdown *m, uint64_t now_us, struct sd_act *out);
/* The flusher's link came up (true) or went away (false). */
void sup_shutdown_flusher(struct sup_shutdown *m, bool up, uint64_t now_us, struct sd_act *out);
/* The lifecycle's link came up or went away (restarted while settling:
 * Lambda retries the telemetry it could not deliver, and the settle waits
 * for it). */
void sup_shutdown_lifecycle(struct sup_shutdown *m, bool up, uint64_t now_us, struct sd_act *out);
/* The scheduler's answer to final_flush: its flush id, 0 when none started. */
void sup_shutdown_flush_started(struct sup_shutdown *m, uint64_t id, uint64_t now_us, struct sd_act *out);
/* FT_FLUSHED for id. */
void sup_shutdown_flushed(struct sup_shutdown *m, uint64_t id, uint64_t now_us, struct sd_act *out);
/* No child process is left. */
void sup_shutdown_all_gone(struct sup_shutdown *m, uint64_t now_us, struct sd_act *out);
/* Timer `which` fired. */
void sup_shutdown_timer(struct sup_shutdown *m, enum sd_timer which, uint64_t now_us, struct sd_act *out);

/* When timer `which` must fire (absolute, monotonic us); SD_NEVER = disarmed. */
uint64_t sup_shutdown_due(const struct sup_shutdown *m, enum sd_timer which);
bool sup_shutdown_active(const struct sup_shutdown *m); /* past running */
const char *sup_shutdown_phase_name(enum sd_phase p);

#endif
