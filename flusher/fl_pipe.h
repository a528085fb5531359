/* fl_pipe.h — the flusher's pipeline: data frames (FT_PLATFORM, FT_LOGS),
 * FT_CONTEXT and DogStatsD datagrams in; FT_FLUSH turns them into intake posts.
 *
 * What it does with each input:
 *  - FT_CONTEXT: identity for the function tag set (fl_tags.h), which goes
 *    on every series and sketch (the aggregator's common tags) and every
 *    log (ddtags), and for enhanced metrics' own tags. Before any
 *    FT_CONTEXT the tags come from the configuration (function name,
 *    region, memory). The runtime tag is resolved once, when first needed
 *    (fl_runtime.h).
 *  - FT_INVOCATION (a data frame, in order with the others): an invocation
 *    the supervisor counted (supervisor/sup_inv.h), the only source of
 *    enhanced "invocations", counted once per supervisor ordinal n; one
 *    from an INVOKE starts the invocation for the logs (records without an
 *    id take it), one from a platform.start record (from_start, the INVOKE
 *    was lost) does not.
 *  - FT_PLATFORM: the Datadog log line of START/END/REPORT/INIT_START
 *    records (DD_LOGS_ENABLED, in frame order with the FT_LOGS records),
 *    enhanced metrics (DD_ENHANCED_METRICS; a runtimeDone or report of a
 *    request id already counted is a duplicate, ignored; a start record of
 *    a request id no FT_INVOCATION named, as anyone in the sandbox can post
 *    telemetry, is counted in starts_unannounced: the supervisor counted no
 *    invocation for it); a logsDropped record is
 *    a warning in the extension's own log (Datadog's extension sends no
 *    metric for it); initStart's runtime_version names the runtime when it
 *    comes before the runtime is first needed.
 *  - FT_LOGS: one log record each (DD_LOGS_ENABLED), carrying the frame seq;
 *    forkcap's own lines among the extension records only within
 *    FL_PIPE_OWN_BURST / FL_PIPE_OWN_PER_MIN.
 *  - FT_TRACES, FT_TRACE_STATS: held (fl_traces.h) and posted at the next
 *    flush to the traces and stats endpoints; acked once their posts are
 *    final, like logs.
 *  - DogStatsD datagrams: parsed into the custom aggregator; copies of the
 *    enhanced metrics forkcap produces itself (enh_owns) are dropped and
 *    counted; that aggregator is checkpointed to the supervisor
 *    (FT_DSD_STATE, fl_ckpt.h) at least every FL_CKPT_INTERVAL_MS while it
 *    changes (fl_pipe_tick), at each drain and after each DogStatsD
 *    payload's final outcome.
 *  - FT_DSD_STATE (a restarted flusher): the payloads go out with the next
 *    flush.
 *  - FT_FLUSH {flush_id, budget_ms, final}: the aggregator is drained whole
 *    (as Datadog's extension does at the end of an invocation), encoded as
 *    series JSON and sketch protobuf, log payloads are taken (held records
 *    released first when final), and everything goes out in ONE intake flush
 *    with deadline now + budget_ms, the intake's retry buffer resent first.
 *    When it ends: FT_ACK {upto} (if the watermark moved) then FT_FLUSHED.
 *
 * One flush at a time. FT_FLUSH frames that arrive while one runs wait; when
 * it ends, ONE new flush runs for all of them (it carries whatever arrived
 * since), with the earliest of their deadlines and `final` if any asked for
 * it, and each waiting flush_id gets its own FT_FLUSHED with that result. A
 * waiting flush whose deadline passed is answered ok=false, sent=0.
 *
 * Acks: FT_ACK upto = min(logs watermark, metrics watermark, oldest trace
 * frame held - 1). A platform
 * frame folds into the aggregator at once, so its seq is held back until
 * every metric payload of the drain that took it is final (delivered,
 * rejected, or dropped and counted); a payload kept in the intake's retry
 * buffer keeps it held. Log payloads the intake keeps stay "in flight" in the
 * batcher until their resend is final; a failed one the intake could not keep
 * is requeued. So a seq is acked only once its content is delivered or
 * counted as dropped, and a restarted flusher gets the rest replayed.
 *
 * Idle mode (no intake): frames are accepted and acked, nothing is sent;
 * FT_FLUSH is answered ok at once. */
#ifndef FORKCAP_FL_PIPE_H
#define FORKCAP_FL_PIPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "frame.h"
#include "dogstatsd.h"
#include "intake.h"
#include "metrics.h"

#define FL_PIPE_GENS 64u          /* metric drains tracked until final */
/* Log payloads taken per flush round. A 1,000-entry payload is ~700 KB of
 * JSON until the intake client has compressed its copy, and a round's
 * payloads are all built before that: this bounds the flusher's memory
 * (~11 MB transient) rather than the rate, since one round fills every
 * transfer slot (FL_INTAKE_INFLIGHT_MAX) and the final flush goes on in
 * further rounds while records are ready and its deadline allows. */
#define FL_PIPE_LOG_PAYLOADS FL_INTAKE_INFLIGHT_MAX
#define FL_PIPE_SEEN_IDS 32u      /* request ids of FT_INVOCATIONs remembered (starts_unannounced) */
#define FL_PIPE_LOG_PAYLOADS_FINAL FL_PIPE_LOG_PAYLOADS /* ... by each round of the final flush */
#define FL_PIPE_WAITERS 16u       /* FT_FLUSH frames waiting for the running flush */
#define FL_PIPE_ENH_CONTEXTS 512u /* enhanced metrics' own aggregator: custom metrics
                                     (cfg metric_contexts) can never starve them */
/* forkcap's own log lines come back from the Telemetry API as "extension"
 * records; at most this many are shipped in a burst, then OWN_PER_MIN a
 * minute (the rest are counted in own_lines_dropped): a noisy forkcap must
 * not feed its own pipeline. */
#define FL_PIPE_OWN_BURST 20u
#define FL_PIPE_OWN_PER_MIN 10u

/* Sends one frame_buf the pipe built with frame_encode_*() (check fb->err);
 * the callee sends and frees it. */
typedef void (*fl_pipe_emit_fn)(struct frame_buf *fb, void *arg);
/* Same contract as fl_intake_flush (intake.h); sender is its first argument. */
typedef int (*fl_pipe_flush_fn)(void *sender, const struct fl_post *posts, size_t n,
                                uint64_t deadline_us, unsigned flags, fl_post_done_fn each,
                                fl_flush_done_fn done, void *arg);

struct fl_pipe_opts {
    const struct cfg *cfg;     /* borrowed; must outlive the pipe */
    void *sender;              /* struct fl_intake *; NULL = idle mode */
    fl_pipe_flush_fn flush;    /* NULL = fl_intake_flush (tests pass a fake) */
    fl_pipe_emit_fn emit;      /* frames to the supervisor */
    void *emit_arg;
    /* optional: wait until every emitted frame is written (checkpoints) */
    void (*settle)(void *emit_arg);
    const char *architecture;  /* "x86_64" | "arm64"; NULL = this machine's */
    const char *init_type;     /* AWS_LAMBDA_INITIALIZATION_TYPE; NULL = none */
    bool key_pending;          /* the API key is still being resolved (AWS secrets):
                                  frames are taken, FT_FLUSH waits, nothing is acked */
    const char *proc_root;     /* runtime detection (fl_runtime.h); NULL = /proc */
    const char *os_release;    /* NULL = /etc/os-release */
};

struct fl_pipe_stats {
    uint64_t frames_platform, frames_logs, records, records_bad;
    uint64_t frames_invocation;                    /* FT_INVOCATION received */
    uint64_t invocations_counted, invocations_repeated; /* enhanced "invocations" */
    uint64_t enh_replayed;                         /* replayed frames whose enhanced metrics a
                                                      previous flusher delivered (enh_done) */
    uint64_t datagrams, flushes, flushes_coalesced;
    uint64_t dsd_owned_dropped;                    /* DogStatsD copies of forkcap's own
                                                      enhanced metrics, dropped */
    uint64_t posts_ok, posts_failed, posts_dropped; /* payload outcomes, resends included */
    uint64_t series_skipped, sketches_skipped;     /* too big to encode: dropped */
    uint64_t split_413;                            /* metric and trace payloads split after a 413 */
    uint64_t dropped_413;                          /* single series/sketch payloads, trace
                                                      frames the intake refused alone (413) */
    uint64_t gens_forgotten;                       /* drains forgotten past FL_PIPE_GENS */
    uint64_t logs_dropped;                         /* records dropped by the batcher */
    uint64_t platform_logs_dropped;                /* platform.logsDropped records seen */
    uint64_t own_lines, own_lines_dropped;         /* forkcap's own lines seen / over the bound */
    uint64_t starts_unannounced;                   /* start records of no FT_INVOCATION: not counted */
    struct met_stats custom, enhanced;             /* the two aggregators' counters */
    struct dsd_stats dsd;                          /* DogStatsD parsing */
    uint64_t acked;                                /* last FT_ACK upto */
    uint64_t ckpts, ckpt_incomplete;               /* FT_DSD_STATE sent; with payloads left out */
    uint64_t dsd_metrics, dsd_invalid;             /* DogStatsD values taken; bad lines */
    uint64_t dsd_restored;                         /* payloads taken from a checkpoint */
    uint64_t trace_frames, trace_spans, trace_stats_frames; /* FT_TRACES / FT_TRACE_STATS in */
    uint64_t trace_delivered, trace_given_up;      /* frames whose posts were final */
    uint64_t traces_dropped;                       /* frames not kept (out of memory) */
    uint64_t trace_held_bytes;                     /* trace and stats bytes held now */
    bool flushing;
};

struct fl_pipe;

/* NULL on allocation failure or bad options. */
struct fl_pipe *fl_pipe_new(const struct fl_pipe_opts *o);
/* Frees everything; a running flush's callbacks must not come later (free
 * the intake first, it makes no callbacks once freed). */
void fl_pipe_free(struct fl_pipe *p);

/* FT_PLATFORM, FT_LOGS, FT_INVOCATION, FT_TRACES, FT_TRACE_STATS,
 * FT_CONTEXT, FT_FLUSH; other types are ignored.
 * Malformed record shapes are counted and skipped. */
void fl_pipe_frame(struct fl_pipe *p, const struct frame *f);

/* The invocation FT_CONTEXT last named (strings owned by the pipe, "" when unknown). */
struct fl_pipe_invocation {
    const char *request_id, *fn_name, *arn;
    bool cold_start;
};
void fl_pipe_invocation(const struct fl_pipe *p, struct fl_pipe_invocation *out);

/* A flush the flusher asks of itself (/lambda/flush): runs like an FT_FLUSH
 * (coalesced with them, one at a time) within budget_ms; done(ok, arg) is
 * called once instead of an FT_FLUSHED. */
typedef void (*fl_pipe_flushed_fn)(bool ok, void *arg);
void fl_pipe_flush_local(struct fl_pipe *p, uint32_t budget_ms, fl_pipe_flushed_fn done, void *arg);

/* One DogStatsD datagram (now = unix seconds). */
void fl_pipe_dogstatsd(struct fl_pipe *p, const char *buf, size_t len);

/* Every FL_CKPT_INTERVAL_MS: a DogStatsD checkpoint if anything changed. */
void fl_pipe_tick(struct fl_pipe *p);

void fl_pipe_get_stats(const struct fl_pipe *p, struct fl_pipe_stats *out);

/* The API key's resolution ended (key_pending): ok = waiting flushes run now;
 * !ok = idle mode from here on (everything received is acked, nothing sent). */
void fl_pipe_key_ready(struct fl_pipe *p, bool ok);

/* The key is still pending: answer each waiting non-final flush (FT_FLUSH
 * or local) that has waited max_wait_us, or whose deadline is within
 * margin_us (an invocation's end must not hang on a slow AWS call, and an
 * unanswered flush would read as an unreachable intake): not ok, nothing
 * sent or acked; its data stays for the first flush after the key. A final
 * flush keeps waiting (the supervisor's own deadline bounds it). Returns how
 * many were answered. */
unsigned fl_pipe_key_wait_over(struct fl_pipe *p, uint64_t max_wait_us, uint64_t margin_us);

/* The function tag set joined with commas (fl_tags.h), for traces'
 * _dd.tags.function; "" until FT_CONTEXT or configuration gave any. */
const char *fl_pipe_function_tags(const struct fl_pipe *p);

#endif
