/* trace_decode.h — tracers' msgpack trace payloads (v0.4 and v0.5) into
 * spans. The body is untrusted: it is walked with mpw_walk (common/mpwalk.h)
 * before msgpack-c sees any of it, and decoded one trace at a time so
 * msgpack-c's zone stays within TR_TRACE_NODES_MAX values.
 *
 * v0.4: an array of traces, each an array of span maps with the keys
 *   service, name, resource, type (str), trace_id, span_id, parent_id (uint),
 *   start, duration (int, ns), error (int), meta (map str->str), metrics
 *   (map str->number); other keys (meta_struct, span_links, ...) are skipped.
 * v0.5: [strings, traces]: strings an array of str (index 0 is ""), traces
 *   an array of traces, each an array of 12-element span arrays
 *   [service, name, resource, trace_id, span_id, parent_id, start, duration,
 *    error, meta, metrics, type] where the string fields, meta keys and
 *   values and metrics keys are uint indexes into strings.
 *
 * Lenient where tracers differ (any integer kind for ids and times, nil for
 * an absent string), strict on structure: a value of the wrong shape, an
 * index past the string table, or a declared count the bytes cannot hold
 * rejects the whole payload (the caller answers 400 and counts it). */
#ifndef FORKCAP_TRACE_DECODE_H
#define FORKCAP_TRACE_DECODE_H

#include <stddef.h>
#include <stdint.h>

#define TR_BODY_MAX (10u * 1024u * 1024u)  /* Datadog's extension: 10 MiB */
#define TR_DEPTH_MAX 8u                     /* v0.4 meta_struct may nest a little */
#define TR_TRACE_NODES_MAX 262144u          /* values per trace (msgpack-c zone bound) */
#define TR_STRINGS_MAX 262144u              /* v0.5 string table entries */

enum tr_version { TR_V04 = 4, TR_V05 = 5 };

/* A string inside the body (not NUL-terminated; may be invalid UTF-8). */
struct tr_str {
    const char *p;
    uint32_t n;
};

struct tr_meta {
    struct tr_str k, v;
};

struct tr_metric {
    struct tr_str k;
    double v;
};

struct tr_span {
    struct tr_str service, name, resource, type;
    uint64_t trace_id, span_id, parent_id;
    int64_t start, duration;
    int32_t error;
    struct tr_meta *meta;
    uint32_t nmeta;
    struct tr_metric *metrics;
    uint32_t nmetrics;
};

/* One trace: spans borrowed for the callback only. */
struct tr_trace {
    const struct tr_span *spans;
    uint32_t nspans;
};

/* Return 0 to go on, anything else to stop (tr_decode returns TR_STOPPED). */
typedef int (*tr_trace_fn)(const struct tr_trace *t, void *arg);

enum tr_status {
    TR_OK = 0,
    TR_MALFORMED = -1, /* 400 */
    TR_TOO_BIG = -2,   /* 413: over TR_BODY_MAX, TR_TRACE_NODES_MAX or TR_STRINGS_MAX */
    TR_NOMEM = -3,     /* 500 */
    TR_STOPPED = -4,   /* the callback asked to stop */
};

/* Decode body; fn is called once per trace, in order (a trace with no spans
 * is skipped). A payload malformed past its first traces has already
 * handed those to fn: a caller that must not half-accept a payload keeps
 * what fn built aside until tr_decode returns TR_OK. *ntraces and *nspans
 * (may be NULL) count what was handed out. err, when not NULL, gets a
 * short reason. */
int tr_decode(enum tr_version v, const uint8_t *body, size_t len, tr_trace_fn fn, void *arg,
              uint32_t *ntraces, uint64_t *nspans, char *err, size_t errlen);

const char *tr_status_name(int st);

#endif
