/* lambda_api.h — the /lambda endpoints Datadog's tracing libraries call, on
 * FORKCAP_LAMBDA_PORT (8124, bound by the supervisor): libevent's evhttp,
 * bodies bounded to LA_BODY_MAX.
 *
 *   GET  /lambda/hello             200 {}
 *   POST /lambda/flush             a flush of everything pending (the
 *        flusher's own, within DD_FLUSH_TIMEOUT); 200 {} when it is over.
 *        datadog-lambda-js calls it with a 100 ms timeout and moves on.
 *   POST /lambda/start-invocation  universal instrumentation (Java, .NET, Go):
 *        the event as body, x-datadog-trace-id / -parent-id /
 *        -sampling-priority headers when the invocation continues a trace
 *        (else the same keys in the event's "headers", as API Gateway
 *        events carry them).
 *        200 {} with x-datadog-trace-id, x-datadog-span-id (the aws.lambda
 *        span's id) and x-datadog-sampling-priority: what the tracer uses.
 *   POST /lambda/end-invocation    x-datadog-invocation-error ("true"),
 *        x-datadog-invocation-error-msg / -type / -stack (any of them also
 *        marks an error; base64 values, as some libraries send, are
 *        decoded), and the ids
 *        (x-datadog-trace-id, x-datadog-span-id win over start's). forkcap
 *        builds the aws.lambda span (start..end, request_id, cold_start,
 *        function_arn, error, the function tags) and ships it like a
 *        tracer's payload (answered 200 once its frame is in the kernel; its
 *        request id starts the end flush). Once per invocation: not when the
 *        tracer already sent an aws.lambda span for it, nor twice.
 *   anything else                  404
 * The invocation is the lambda-runtime-aws-request-id header's (on end, or
 * on start), else the one FT_CONTEXT names; an end that comes before
 * FT_CONTEXT moved on from an invocation already ended waits for the next
 * FT_CONTEXT, at most LA_END_WAIT_MS. */
#ifndef FORKCAP_LAMBDA_API_H
#define FORKCAP_LAMBDA_API_H

#include <stdbool.h>
#include <stdint.h>

#include <event2/event.h>

#include "config.h"
#include "fl_pipe.h"
#include "trace_recv.h"

#define LA_BODY_MAX (6u * 1024u * 1024u) /* Lambda's largest synchronous event */

struct fl_lambda_api;

struct fl_lambda_api_stats {
    uint64_t requests, hello, flushes, starts, ends, spans, skipped, not_found;
};

/* Serve the listening fd (not owned). pipe and traces are borrowed (traces
 * may be NULL: spans are then not shipped). NULL on failure (logged). */
struct fl_lambda_api *fl_lambda_api_start(struct event_base *base, int fd, const struct cfg *cfg,
                                          struct fl_pipe *pipe, struct fl_trace_recv *traces);
/* FT_CONTEXT arrived: an end-invocation waiting for its invocation is retried. */
void fl_lambda_api_context(struct fl_lambda_api *a);
void fl_lambda_api_get_stats(const struct fl_lambda_api *a, struct fl_lambda_api_stats *out);
void fl_lambda_api_free(struct fl_lambda_api *a);

#endif
