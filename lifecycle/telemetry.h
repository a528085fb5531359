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
    uint32_t memory_mb;  /* the function's configured memory; 0 = unknown:
                          * memorySizeMB / maxMemoryUsedMB above it are
                          * refused                                      */
};

/* Platform metrics out of these ranges are refused (the field is left out
 * and counted), as are values of the wrong JSON type: the Telemetry API
 * schema has numbers (durations) and integers (the rest), never strings. */
#define LC_TELE_MAX_DURATION_MS 900000.0 /* Lambda's longest timeout: 15 min */
#define LC_TELE_MEMORY_MIN_MB 128
#define LC_TELE_MEMORY_MAX_MB 10240
#define LC_TELE_MAX_PRODUCED_BYTES (1ll << 40)

/* Fills the defaults above. */
void lc_tele_limits_default(struct lc_tele_limits *lim);

enum lc_tele_kind { LC_TELE_PLATFORM = 0, LC_TELE_LOG = 1 };

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
        struct ft_platform platform; /* what Lambda sent; is_error and
                                      * runtime_ms are left to lc_tele_pair */
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
    size_t ill_typed;    /* platform fields refused: wrong JSON type      */
    size_t out_of_range; /* platform fields refused: value out of range   */
    const char *refused_field; /* the first refused field's name (static) */
    const char *ill_typed_field, *out_of_range_field; /* the first of each kind */
    /* the first record (offset and length in the body) behind each kind of
     * refusal, for a log line; len 0: none */
    struct lc_tele_example { size_t off, len; } ex_malformed, ex_unknown, ex_ill_typed, ex_out_of_range;
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

/* A runtimeDone that timed out or failed and carries metrics: Datadog's
 * extension then adds the reason to its END line and gives the line the
 * "error" status. */
bool lc_tele_is_error(const struct ft_platform *p);

/* The caller's memory between records: runtimeDone's durationMs, kept for
 * the report of the same request id. Zero-initialise it once per
 * lifecycle. */
struct lc_tele_linectx {
    char request_id[128];
    double runtime_ms;
    uint32_t memory_mb; /* the function's configured memory (lc_tele_limits) */
};

/* Completes a parsed record for FT_PLATFORM: is_error (lc_tele_is_error)
 * and, for the report of the runtimeDone last recorded in ctx, runtime_ms
 * (the "Runtime Duration" of its REPORT line). A runtimeDone's duration is
 * recorded into ctx. */
void lc_tele_pair(struct lc_tele_linectx *ctx, struct ft_platform *p);

#endif
