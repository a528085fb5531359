/* telemetry.h — parse one Telemetry API batch (schema 2022-12-13) that Lambda
 * POSTs to the listener into typed records. Platform records are never
 * turned into text here: the flusher writes Datadog's log lines from the
 * FT_PLATFORM fields.
 *
 * Pure: no I/O, no globals, every size bounded by struct lc_tele_limits.
 *
 * Handling of bad input (the listener answers 200 in every case so Lambda
 * does not redeliver a poisoned batch forever):
 *  - The whole body is first parsed strictly by jansson (no EOF-check
 *    escape hatch: trailing garbage is an error).
 *  - When that fails (a syntax error, invalid UTF-8, nesting deeper than
 *    max_depth), the body is split at its top-level commas by a small
 *    string-aware scanner and each element is parsed on its own, so one
 *    broken record costs only itself. An element rejected for invalid
 *    UTF-8 is parsed once more with every invalid byte replaced by U+FFFD.
 *  - A body that is not a JSON array at all returns LC_TELE_ENOTJSON.
 *  - A record that parses but lacks required fields (time, type, record of
 *    the right shape) is skipped and counted in .malformed; an unknown
 *    type is skipped and counted in .unknown (forward compatible).
 *  - Messages longer than max_message are cut on a UTF-8 boundary and end
 *    with LC_TELE_TRUNC_MARK.
 */
#ifndef FORKCAP_LC_TELEMETRY_H
#define FORKCAP_LC_TELEMETRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "frame.h"

#define LC_TELE_MAX_BODY     (2u * 1024u * 1024u) /* 2 x maxBytes (1 MiB) */
#define LC_TELE_MAX_RECORDS  10000u               /* maxItems upper bound */
#define LC_TELE_MAX_MESSAGE  (1024u * 1024u)      /* Datadog's per-log cap */
#define LC_TELE_MAX_DEPTH    64
#define LC_TELE_TRUNC_MARK   "...TRUNCATED..."

struct lc_tele_limits {
    size_t max_body;     /* bytes; a larger body is refused (ETOOBIG)     */
    size_t max_records;  /* records beyond this are skipped and counted   */
    size_t max_message;  /* bytes of a log message before the marker      */
    int max_depth;       /* JSON nesting; deeper records are malformed    */
};

/* Fills the defaults above. */
void lc_tele_limits_default(struct lc_tele_limits *lim);

enum lc_tele_kind { LC_TELE_PLATFORM = 0, LC_TELE_LOG = 1 };

/* Which optional numbers of struct lc_tele_platform are present. */
enum {
    LC_TP_DURATION = 1u << 0,
    LC_TP_BILLED = 1u << 1,
    LC_TP_MEMORY = 1u << 2,
    LC_TP_MAX_MEMORY = 1u << 3,
    LC_TP_INIT = 1u << 4,
    LC_TP_PRODUCED = 1u << 5,
    LC_TP_OVERHEAD = 1u << 6,
    LC_TP_DROPPED_RECORDS = 1u << 7,
    LC_TP_DROPPED_BYTES = 1u << 8,
    LC_TP_RESTORE = 1u << 9,
};

/* One platform.* record as Lambda sent it (lc_tele_to_frame picks what
 * FT_PLATFORM carries; phase, init_type, name, state, restore_ms and
 * overhead_ms are parsed but not sent). Strings are NUL-terminated, NULL
 * when absent, and valid only during the callback. */
struct lc_tele_platform {
    enum platform_event event; /* the type without "platform."          */
    int64_t time_ms;         /* Unix epoch ms of the record's "time"      */
    const char *request_id;
    const char *status;      /* success | failure | error | timeout | ... */
    const char *error_type;
    const char *version;     /* start: function version                   */
    const char *runtime_version;
    const char *runtime_version_arn;
    const char *phase;       /* init | invoke (initStart, initReport, ...) */
    const char *init_type;   /* on-demand | provisioned-concurrency | ...  */
    const char *name;        /* extension / telemetrySubscription: name    */
    const char *state;       /* extension / telemetrySubscription: state   */
    const char *reason;      /* logsDropped                               */
    unsigned has;            /* LC_TP_* bits for the numbers below        */
    double duration_ms;      /* metrics.durationMs                        */
    int64_t billed_ms;       /* metrics.billedDurationMs                  */
    int64_t memory_mb;       /* metrics.memorySizeMB                      */
    int64_t max_memory_mb;   /* metrics.maxMemoryUsedMB                   */
    double init_ms;          /* report: metrics.initDurationMs            */
    double restore_ms;       /* report: metrics.restoreDurationMs         */
    int64_t produced_bytes;  /* runtimeDone: metrics.producedBytes        */
    double overhead_ms;      /* report: the extensionOverhead span        */
    int64_t dropped_records; /* logsDropped                               */
    int64_t dropped_bytes;   /* logsDropped                               */
};

/* One function/extension log record; maps onto one FT_LOGS entry. */
struct lc_tele_log {
    int64_t time_ms;
    enum log_source source;  /* LOG_SRC_FUNCTION or LOG_SRC_EXTENSION     */
    const char *message;     /* NUL-terminated; the text, or the JSON text
                              * of an object record (JSON log format)     */
    size_t message_len;
    bool truncated;          /* message was cut and ends with the marker  */
    bool is_json;            /* record was an object                      */
    const char *level;       /* JSON log format: "level", else NULL       */
    const char *request_id;  /* JSON log format: requestId / AWSRequestId */
};

struct lc_tele_record {
    enum lc_tele_kind kind;
    union {
        struct lc_tele_platform platform;
        struct lc_tele_log log;
    } u;
};

/* Return 0 to go on, anything else to stop the parse (LC_TELE_ESTOPPED). */
typedef int (*lc_tele_cb)(const struct lc_tele_record *rec, void *arg);

struct lc_tele_stats {
    size_t records;      /* array elements seen                           */
    size_t emitted;      /* handed to the callback                        */
    size_t malformed;    /* skipped: unparsable or wrong shape            */
    size_t unknown;      /* skipped: unknown type                         */
    size_t over_limit;   /* skipped: beyond max_records                   */
    size_t truncated;    /* messages cut to max_message                   */
    size_t sanitized;    /* records kept after invalid UTF-8 -> U+FFFD    */
};

enum {
    LC_TELE_OK = 0,
    LC_TELE_ENOTJSON = -1,  /* body is not a JSON array                   */
    LC_TELE_ETOOBIG = -2,   /* body longer than max_body                  */
    LC_TELE_ENOMEM = -3,
    LC_TELE_ESTOPPED = -4,  /* the callback asked to stop                 */
    LC_TELE_EINVAL = -5,
};

/* Parses one batch and calls cb once per kept record, in batch order.
 * lim may be NULL (defaults); stats may be NULL. Returns LC_TELE_OK even
 * when records were skipped (see stats). */
int lc_telemetry_parse(const char *body, size_t len,
                       const struct lc_tele_limits *lim,
                       lc_tele_cb cb, void *arg, struct lc_tele_stats *stats);

/* Parses an ISO-8601 / RFC 3339 time ("2022-10-12T00:03:50.000Z", offsets
 * allowed) into Unix epoch ms. Returns 0, or -1 if it is not one. */
int lc_tele_time_ms(const char *s, int64_t *out_ms);

/* The FT_PLATFORM fields of a record (strings borrowed from p): what
 * Lambda sent, is_error (lc_tele_is_error) and, for a report, runtime_ms
 * when > 0 (lc_tele_runtime_ms). */
void lc_tele_to_frame(const struct lc_tele_platform *p, double runtime_ms, struct ft_platform *out);

/* A runtimeDone that timed out or failed and carries metrics: Datadog's
 * extension then adds the reason to its END line and gives the line the
 * "error" status. */
bool lc_tele_is_error(const struct lc_tele_platform *p);

/* The caller's memory between records: runtimeDone's durationMs, kept for
 * the report of the same request id. Zero-initialise it once per
 * lifecycle. */
struct lc_tele_linectx {
    char request_id[128];
    double runtime_ms;
};

/* Records a runtimeDone's duration into ctx; for a report of the same
 * request id returns that duration (the "Runtime Duration" of its REPORT
 * line), else 0. */
double lc_tele_runtime_ms(struct lc_tele_linectx *ctx, const struct lc_tele_platform *p);

#endif
