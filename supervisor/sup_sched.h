/* sup_sched.h — the flush scheduler (DD_SERVERLESS_FLUSH_STRATEGY): when the
 * supervisor asks the flusher to flush and when the lifecycle gets its go-ahead.
 *
 * A pure state machine: no I/O, no clock of its own. Every call takes the
 * current CLOCK_MONOTONIC time and fills a struct sched_act the caller
 * carries out (send FT_FLUSH first, then FT_GO); after every call the
 * caller re-arms one timer at sup_sched_next_wake() and calls
 * sup_sched_tick() when it fires. Timers, not hopes: once an invocation's
 * go-ahead is held, it is given at the latest at
 *   min(hold start + flush timeout, deadline - min(SCHED_GO_MARGIN_US, left / SCHED_GO_MARGIN_DIV))
 * whatever the flusher or the telemetry does.
 *
 * Strategies (datadog-intake.md, "Flush strategies"):
 *   end            hold at INVOKE; at platform.runtimeDone for that request,
 *                  flush; go when FT_FLUSHED arrives.
 *   end,<ms>       the same, plus a background flush every <ms>.
 *   periodically   as end, but only when <ms> passed since the last flush
 *                  started; otherwise go at once.
 *   continuously   go at once; a background flush every <ms>, a cycle
 *                  skipped while one is still running.
 *   default        end until SCHED_ADAPT_N invocations were seen; then, over
 *                  the last SCHED_ADAPT_N, an average gap >= 120 s stays on
 *                  end, a shorter one flushes continuously every 20 s
 *                  (re-evaluated at each INVOKE); a backup background flush
 *                  whenever 60 s passed without one.
 * Without a telemetry subscription no runtimeDone will come: an end flush
 * then starts at INVOKE (what is pending so far) and the go-ahead follows
 * its FT_FLUSHED.
 *
 * Circuit breaker: a flush that fails without any HTTP answer (refused,
 * TLS or connect stalled, timed out: FT_FLUSHED unreachable) or that never
 * answers opens the breaker. While open, an end flush gets at most
 * SCHED_TRIP_BUDGET_US and the go-ahead is given by then (reason
 * "breaker"): an unreachable intake must not cost every invocation the
 * whole budget. The end flush is itself the probe (the intake resends what
 * it kept first), and while the sandbox runs between invocations a
 * background probe flush of up to SCHED_PROBE_BUDGET_US runs after 1 s,
 * 2 s, 4 s... (at most SCHED_PROBE_MAX_US apart). The first flush that
 * sends something, or that gets an HTTP answer at all, closes it. Data
 * stays with the flusher's retry buffer and the spool meanwhile (bounded,
 * drops counted). */
#ifndef FORKCAP_SUP_SCHED_H
#define FORKCAP_SUP_SCHED_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"

#define SCHED_GO_MARGIN_US 200000u        /* before the invocation deadline */
#define SCHED_GO_MARGIN_DIV 5u            /* ... or a fifth of the time left, if less */
#define SCHED_FLUSH_SLACK_US 500000u      /* an unanswered flush times out at budget + this */
#define SCHED_MIN_INTERVAL_MS 10u         /* floor for a background flush period */
#define SCHED_ADAPT_N 20u                 /* default: invocations before adapting */
#define SCHED_ADAPT_GAP_US 120000000u     /* default: average gap that stays on end */
#define SCHED_DEFAULT_CONT_MS 20000u      /* default: continuous period */
#define SCHED_DEFAULT_BACKUP_MS 60000u    /* default: backup background flush */
#define SCHED_MAX_LEFT_US 900000000u      /* Lambda's longest timeout: 15 min */
#define SCHED_FLIGHTS 4u                  /* flushes in flight at once, at most */
#define SCHED_RID_MAX 128u                /* request ids are uuids */
#define SCHED_TRIP_BUDGET_US 100000u      /* breaker open: an end flush's budget */
#define SCHED_PROBE_FIRST_US 1000000u     /* breaker open: first background probe after */
#define SCHED_PROBE_MAX_US 60000000u      /* ... doubling up to this */
#define SCHED_PROBE_BUDGET_US 2000000u    /* a probe's budget (or the flush timeout, if less) */
#define SCHED_NEVER UINT64_MAX

enum sched_go_reason {
    SCHED_GO_IMMEDIATE,  /* the strategy does not flush at this invocation's end */
    SCHED_GO_FLUSHED,    /* the end flush answered (ok or not) */
    SCHED_GO_DEADLINE,   /* invocation deadline minus the margin reached */
    SCHED_GO_TIMEOUT,    /* DD_FLUSH_TIMEOUT after the hold started */
    SCHED_GO_NO_FLUSHER, /* no flusher to ask, or it died during the flush */
    SCHED_GO_BREAKER,    /* the breaker's short budget ran out (intake unreachable) */
    SCHED_GO_NREASONS
};

/* What the invocation's go-ahead waits for. */
enum sched_phase {
    SCHED_IDLE,       /* nothing held */
    SCHED_WAIT_DONE,  /* held until runtimeDone of `rid` */
    SCHED_WAIT_FLUSH, /* held until FT_FLUSHED of `hold_flush` */
};

/* The effective mode (default adapts between END and CONTINUOUS). */
enum sched_mode { SCHED_MODE_END, SCHED_MODE_PERIODICALLY, SCHED_MODE_CONTINUOUSLY };

enum sched_flight_kind { SCHED_FL_END, SCHED_FL_BACKGROUND, SCHED_FL_FINAL };

struct sched_flight {
    uint64_t id; /* 0 = free slot */
    uint64_t t_expire_us;
    enum sched_flight_kind kind;
};

struct sched_stats {
    uint64_t started, ok, failed, timed_out, late; /* late: FT_FLUSHED after its time-out */
    uint64_t go[SCHED_GO_NREASONS];
    uint64_t bg_started, bg_skipped;
    uint64_t backlog_started; /* flushes started because the window was full */
    uint64_t done_matched, done_ignored; /* runtimeDone used / not for a go-ahead */
    uint64_t abandoned;                  /* holds dropped (lifecycle restarted, new INVOKE) */
    uint64_t mode_switches;
    uint64_t trips, recoveries, probes; /* circuit breaker */
};

/* What FT_FLUSHED says (a bool ok converts: false FAILED, true OK). */
enum sched_outcome {
    SCHED_FLUSH_FAILED = 0,      /* not all sent, but the intake answered */
    SCHED_FLUSH_OK = 1,          /* sent something, all of it */
    SCHED_FLUSH_UNREACHABLE = 2, /* failed without any HTTP answer */
    SCHED_FLUSH_EMPTY = 3,       /* ok, but nothing was sent: proves nothing */
    SCHED_FLUSH_SKIPPED = 4,     /* not ok, nothing tried (too late to start): proves nothing */
};

/* What the caller must do now: send FT_FLUSH (flush_id != 0) with budget_ms
 * and final, then FT_GO (go) for `reason`. */
struct sched_act {
    uint64_t flush_id;
    uint32_t budget_ms;
    bool final;
    bool go;
    enum sched_go_reason reason;
};

struct sup_sched {
    struct cfg_flush strategy;
    uint64_t flush_timeout_us;
    bool enabled;    /* false in idle mode: never flush, always go at once */
    bool telemetry;  /* runtimeDone records are expected */
    bool flusher_up;
    bool shutting;
    enum sched_mode mode;
    uint32_t bg_ms;  /* background flush period; 0 = none */
    uint32_t period_ms; /* periodically: minimum time between end flushes */
    /* the invocation being held */
    enum sched_phase phase;
    char rid[SCHED_RID_MAX];
    char done_rid[SCHED_RID_MAX]; /* last runtimeDone seen (may precede its INVOKE) */
    char ended_rid[SCHED_RID_MAX]; /* the last invocation whose end started its flush */
    uint64_t hold_limit_us;
    enum sched_go_reason limit_reason;
    uint64_t hold_flush;
    /* flushes */
    uint64_t next_id;
    struct sched_flight flight[SCHED_FLIGHTS];
    uint64_t t_last_flush_us; /* start of the last flush (when flushed_once) */
    bool flushed_once;
    uint64_t bg_due_us;
    /* default strategy: INVOKE times, a ring of the last SCHED_ADAPT_N */
    uint64_t inv_t[SCHED_ADAPT_N];
    uint64_t invocations;
    /* circuit breaker */
    bool tripped;
    uint64_t probe_gap_us, probe_due_us;
    struct sched_stats st;
};

/* flush_timeout_ms: DD_FLUSH_TIMEOUT; enabled false = idle mode. */
void sup_sched_init(struct sup_sched *s, const struct cfg_flush *strategy, uint32_t flush_timeout_ms,
                    bool enabled, uint64_t now_us);
/* The Telemetry API subscription's outcome (true = runtimeDone will come). */
void sup_sched_set_telemetry(struct sup_sched *s, bool subscribed);
/* The flusher link came up (true) or was lost (false): flushes in flight on
 * a lost link count as failed and a go-ahead held for one is given. */
void sup_sched_flusher(struct sup_sched *s, bool up, uint64_t now_us, struct sched_act *out);
/* FT_INVOKE. deadline_us is the invocation's deadline on the monotonic
 * clock (sup_sched_deadline_us converts Lambda's epoch deadlineMs). */
void sup_sched_invoke(struct sup_sched *s, const char *rid, uint64_t deadline_us, uint64_t now_us,
                      struct sched_act *out);
/* platform.runtimeDone (or any sooner sign that the runtime finished) for
 * rid; ignored for the go-ahead unless rid is the invocation being held. */
void sup_sched_runtime_done(struct sup_sched *s, const char *rid, uint64_t now_us, struct sched_act *out);
/* FT_FLUSHED. Unknown or timed-out ids are counted and ignored (their
 * outcome still opens or closes the breaker). */
void sup_sched_flushed(struct sup_sched *s, uint64_t id, enum sched_outcome res, uint64_t now_us,
                       struct sched_act *out);
/* The lifecycle child was lost: its replacement calls /next by itself, so a
 * held go-ahead is dropped (not given). */
void sup_sched_lifecycle_lost(struct sup_sched *s);
/* SHUTDOWN: stop background flushing, drop any hold, and start the final
 * flush within budget_ms (flush_id 0 when there is no flusher or no time). */
void sup_sched_shutdown(struct sup_sched *s, uint32_t budget_ms, uint64_t now_us, struct sched_act *out);
/* The timer fired (or any time): hold bounds, flush time-outs, background. */
/* The spool holds frames the flusher's credit window cannot take until it
 * delivers and acknowledges what it has (sup_spool.h): start a background
 * flush now, unless a flush is already running (its end opens the window)
 * or the supervisor is shutting down (the final flush is the last). */
void sup_sched_backlog(struct sup_sched *s, uint64_t now_us, struct sched_act *out);
void sup_sched_tick(struct sup_sched *s, uint64_t now_us, struct sched_act *out);
/* When sup_sched_tick must run next (absolute, monotonic us); SCHED_NEVER = no timer. */
uint64_t sup_sched_next_wake(const struct sup_sched *s);

/* Lambda's deadlineMs (epoch ms) on the monotonic clock, given both clocks
 * now; a deadline already past maps to now, one beyond 15 min is capped. */
uint64_t sup_sched_deadline_us(int64_t deadline_ms, int64_t now_epoch_ms, uint64_t now_us);
const char *sup_sched_reason_name(enum sched_go_reason r);
const char *sup_sched_mode_name(enum sched_mode m);

#endif
