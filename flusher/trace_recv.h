/* trace_recv.h — the trace agent endpoints tracers talk to, on the trace
 * port (DD_APM_RECEIVER_PORT, bound by the supervisor): libevent's evhttp,
 * bodies bounded to TR_BODY_MAX (10 MiB, 413 beyond), headers to 64 KiB.
 *
 *   PUT|POST /v0.4/traces, /v0.5/traces  msgpack -> decoded and converted
 *       (trace_decode.h, trace_pb.h) -> FT_TRACES frames -> submit;
 *       200 {"rate_by_service":{"service:,env:":1}} once the frames are in
 *       the kernel (in_kernel, then fl_trace_recv_drained), so an answered
 *       payload survives a flusher crash in the supervisor's spool.
 *       Malformed 400, too big 413, no room on the link 503 (tracers retry);
 *       nothing of a refused payload is submitted.
 *   PUT|POST /v0.6/stats   one msgpack value (walked), at most
 *       TP_PAYLOAD_MAX_DEFAULT bytes -> FT_TRACE_STATS, 200 when in the kernel.
 *   GET /info              the endpoints served and client_drop_p0s: true.
 *   anything else          404 (dd-trace stops asking for /v0.7/config and
 *                          its telemetry proxy).
 *
 * P0 chunks (priority <= 0) are dropped when the tracer says it computed
 * stats itself (Datadog-Client-Computed-Stats): the spans then carry no
 * information the intake needs, which is what client_drop_p0s promises;
 * otherwise every chunk is kept (forkcap computes no stats of its own).
 *
 * Idle mode (submit NULL): payloads are checked, answered and dropped. */
#ifndef FORKCAP_TRACE_RECV_H
#define FORKCAP_TRACE_RECV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

#include "config.h"
#include "frame.h"

struct fl_trace_recv;

struct fl_trace_recv_hooks {
    /* The function tags ("k:v,k:v") to stamp on spans now; NULL = none. */
    const char *(*fn_tags)(void *arg);
    /* Queue n finished frames carrying `data` bytes of payload (their bin
     * fields), all or none: 0, or -1 when there is no room for all of them
     * (link queue, or the backlog of accepted data). NULL = idle mode. */
    int (*submit)(struct frame_buf *fbs, size_t n, size_t data, void *arg);
    /* True when everything submitted so far is in the kernel. */
    bool (*in_kernel)(void *arg);
    void *arg;
};

struct fl_trace_recv_stats {
    uint64_t requests, payloads, traces, spans, stats;
    uint64_t malformed, too_big, refused, not_found;
    uint64_t p0_chunks, big_spans, waiting;
};

/* Serve the listening fd (not owned). NULL on failure (logged). */
struct fl_trace_recv *fl_trace_recv_start(struct event_base *base, int fd, const struct cfg *cfg,
                                          const struct fl_trace_recv_hooks *h);
/* For the /lambda endpoints (lambda_api.h): ship what enc holds as
 * FT_TRACES frames (lambda_rid = rid when not NULL) and answer req 200 {}
 * once they are in the kernel; 503 when the link has no room, 500 out of
 * memory. enc is emptied, not freed. */
struct tp_enc;
struct evhttp_request;
void fl_trace_recv_ship(struct fl_trace_recv *r, struct evhttp_request *req, struct tp_enc *enc, const char *rid);
/* True when an aws.lambda span for rid came in on the trace port lately
 * (the last TRR_ROOTS_SEEN request ids). */
#define TRR_ROOTS_SEEN 16u
bool fl_trace_recv_saw_root(const struct fl_trace_recv *r, const char *rid);
/* Answer req 200 {} once everything submitted so far is in the kernel. */
void fl_trace_recv_answer_when_sent(struct fl_trace_recv *r, struct evhttp_request *req);

/* The link wrote everything queued: answer every payload waiting for it. */
void fl_trace_recv_drained(struct fl_trace_recv *r);
void fl_trace_recv_get_stats(const struct fl_trace_recv *r, struct fl_trace_recv_stats *out);
void fl_trace_recv_free(struct fl_trace_recv *r);

#endif
