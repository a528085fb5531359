/* trace_pb.h — decoded traces (trace_decode.h) into Datadog's trace intake
 * protobuf: TraceChunks grouped in TracerPayloads (what the flusher spools),
 * and TracerPayloads grouped in AgentPayloads (what it posts to
 * /api/v0.2/traces). Field numbers: common/proto/trace.proto.
 *
 * Per trace (one TraceChunk):
 *  - priority: the `_sampling_priority_v1` metric of the root span (the
 *    span whose parent is 0 or not in the trace), else of any span; a trace
 *    without one is kept and sent with priority 1 (auto keep).
 *  - drop_p0: chunks with priority <= 0 are dropped and counted (the tracer
 *    computed its stats and asked the agent to drop them, see the receiver).
 *  - origin: the root span's `_dd.origin`, else "lambda".
 *  - every span gets meta `_dd.origin: lambda` and each function tag
 *    (`key:value` of fn_tags) unless the tracer set that key itself; the
 *    root span also gets `_dd.tags.function` = fn_tags.
 *  - strings are made valid UTF-8 (invalid bytes become U+FFFD): the intake
 *    rejects a whole protobuf for one bad string.
 * A chunk larger than max_payload is split into several chunks of the same
 * trace; a single span larger than that is dropped and counted. */
#ifndef FORKCAP_TRACE_PB_H
#define FORKCAP_TRACE_PB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "trace_decode.h"

#define TP_PAYLOAD_MAX_DEFAULT (1536u * 1024u) /* fits a frame (FRAME_MAX 2 MiB) */
#define TP_AGENT_PAYLOAD_MAX (3u * 1024u * 1024u) /* the agent's 3.2 MB, with room */
#define TP_AGENT_VERSION "forkcap"

struct tp_opts {
    const char *lang, *lang_version, *tracer_version; /* Datadog-Meta-* headers; NULL = "" */
    const char *env, *app_version;                    /* DD_ENV, DD_VERSION; NULL = "" */
    const char *fn_tags;                              /* "k:v,k:v"; NULL = none */
    bool drop_p0;
    size_t max_payload;                               /* 0 = TP_PAYLOAD_MAX_DEFAULT */
};

struct tp_stats {
    uint32_t chunks, spans;                 /* kept */
    uint32_t p0_chunks, p0_spans;           /* dropped by drop_p0 */
    uint32_t big_spans;                     /* dropped: larger than max_payload */
};

struct tp_enc;

struct tp_enc *tp_new(const struct tp_opts *o);
void tp_free(struct tp_enc *e);
/* Convert one trace; its chunk bytes are kept until tp_emit. 0, or -1 out of memory. */
int tp_add(struct tp_enc *e, const struct tr_trace *t);
/* A tr_trace_fn adapter: arg is the tp_enc. */
int tp_add_cb(const struct tr_trace *t, void *arg);

/* Hand every TracerPayload built so far to out (each at most max_payload
 * bytes, the chunks in arrival order); the encoder is empty afterwards.
 * Stops at the first non-zero return of out and returns it; 0, or -1 out of memory. */
typedef int (*tp_out_fn)(const uint8_t *pb, size_t len, uint32_t nspans, void *arg);
int tp_emit(struct tp_enc *e, tp_out_fn out, void *arg);
void tp_get_stats(const struct tp_enc *e, struct tp_stats *out);

/* An AgentPayload around already-encoded TracerPayloads: hostName "", env,
 * agentVersion TP_AGENT_VERSION, targetTPS/errorTPS 10 (the agent's
 * defaults), then each blob as a tracerPayloads entry. *out is malloc'd.
 * 0, or -1 out of memory. */
int tp_agent_payload(const char *env, const uint8_t *const *blobs, const size_t *lens, size_t n,
                     uint8_t **out, size_t *out_len);

#endif
