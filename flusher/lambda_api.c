/* lambda_api.c — see lambda_api.h. */
#include "lambda_api.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

#include <event2/buffer.h>
#include <jansson.h>
#include <event2/http.h>

#include "clock.h"
#include "log.h"
#include "trace_decode.h"
#include "trace_pb.h"
#include "utf8.h"

#define LA_HEADERS_MAX (64u * 1024u)
#define LA_TIMEOUT_S 60
#define LA_RID_MAX 128u
#define LA_ENDED 8u
#define LA_META_MAX 12u
#define LA_ERR_MAX 4096u
#define LA_END_WAIT_MS 1000u

/* The invocation universal instrumentation is telling us about. */
struct inv {
    char rid[LA_RID_MAX];
    bool rid_from_header; /* lambda-runtime-aws-request-id, not FT_CONTEXT's */
    bool started;
    int64_t start_ns;
    uint64_t trace_id, span_id, parent_id;
    int priority;
};

struct flush_wait {
    struct evhttp_request *req; /* NULL once its connection closed */
    struct evhttp_connection *conn;
};

struct fl_lambda_api {
    struct event_base *base;
    struct evhttp *http;
    /* an end-invocation that came before FT_CONTEXT named its invocation
     * (the runtime can outrun the lifecycle -> supervisor -> flusher relay):
     * retried at the next FT_CONTEXT, given up after LA_END_WAIT_MS */
    struct evhttp_request *pending_end;
    struct event *pending_timer;
    const struct cfg *cfg;
    struct fl_pipe *pipe;
    struct fl_trace_recv *traces;
    struct inv cur;
    char ended[LA_ENDED][LA_RID_MAX];
    unsigned ended_next;
    struct fl_lambda_api_stats st;
};

static void reply(struct evhttp_request *req, int code, const char *reason, const char *body)
{
    struct evbuffer *b = evbuffer_new();
    if (b && body)
        evbuffer_add(b, body, strlen(body));
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "application/json");
    evhttp_send_reply(req, code, reason, b);
    if (b)
        evbuffer_free(b);
}

static const char *hdr(struct evhttp_request *req, const char *name)
{
    return evhttp_find_header(evhttp_request_get_input_headers(req), name);
}

/* A decimal uint64 header (Datadog's ids); 0 when absent or not a number. */
static uint64_t hdr_u64(struct evhttp_request *req, const char *name)
{
    const char *v = hdr(req, name);
    if (v == NULL || !isdigit((unsigned char)v[0]))
        return 0;
    errno = 0;
    char *end;
    unsigned long long n = strtoull(v, &end, 10);
    return errno || *end ? 0 : (uint64_t)n;
}

static uint64_t new_id(void)
{
    uint64_t v = 0;
    if (getrandom(&v, sizeof v, GRND_NONBLOCK) != (ssize_t)sizeof v)
        v = clock_us() * 0x9E3779B97F4A7C15ull; /* never blocks; ids need not be secret */
    v &= INT64_MAX; /* Datadog's ids stay below 2^63 */
    return v ? v : 1;
}

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* The request id: the header (Lambda Web Adapter passes it), else the
 * invocation FT_CONTEXT named. True when it came from the header. */
static bool current_rid(struct fl_lambda_api *a, struct evhttp_request *req, char out[LA_RID_MAX])
{
    const char *h = hdr(req, "lambda-runtime-aws-request-id");
    bool from_header = h && h[0] && strlen(h) < LA_RID_MAX;
    struct fl_pipe_invocation inv;
    fl_pipe_invocation(a->pipe, &inv);
    snprintf(out, LA_RID_MAX, "%s", from_header ? h : inv.request_id);
    return from_header;
}

/* ---- /lambda/flush ------------------------------------------------------------ */

static void on_flush_conn_close(struct evhttp_connection *conn, void *arg)
{
    struct flush_wait *w = arg;
    (void)conn;
    w->req = NULL;
}

static void on_flushed(bool ok, void *arg)
{
    struct flush_wait *w = arg;
    (void)ok;
    if (w->req) {
        if (w->conn)
            evhttp_connection_set_closecb(w->conn, NULL, NULL);
        reply(w->req, 200, "OK", "{}");
    }
    free(w);
}

static void on_flush(struct fl_lambda_api *a, struct evhttp_request *req)
{
    a->st.flushes++;
    struct flush_wait *w = calloc(1, sizeof *w);
    if (w == NULL) {
        reply(req, 500, "Internal Server Error", "{}");
        return;
    }
    w->req = req;
    w->conn = evhttp_request_get_connection(req);
    if (w->conn)
        evhttp_connection_set_closecb(w->conn, on_flush_conn_close, w);
    uint32_t budget = a->cfg->flush_timeout_s ? (uint32_t)a->cfg->flush_timeout_s * 1000u : 30000u;
    fl_pipe_flush_local(a->pipe, budget, on_flushed, w);
}

/* ---- start / end -------------------------------------------------------------- */

/* The trace context an event carries (an API Gateway or ALB event's
 * "headers"), for a start-invocation without x-datadog-* headers. */
static void event_context(struct evhttp_request *req, uint64_t *trace_id, uint64_t *parent_id, int *priority)
{
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t len = evbuffer_get_length(in);
    if (len == 0 || len > LA_BODY_MAX)
        return;
    json_error_t je;
    json_t *ev = json_loadb((const char *)evbuffer_pullup(in, -1), len, 0, &je);
    json_t *h = json_is_object(ev) ? json_object_get(ev, "headers") : NULL;
    const char *k;
    json_t *v;
    if (json_is_object(h))
        json_object_foreach(h, k, v)
        {
            const char *s = json_string_value(v);
            char *end;
            if (s == NULL || !isdigit((unsigned char)s[0]))
                continue;
            errno = 0;
            unsigned long long n = strtoull(s, &end, 10);
            if (errno || *end)
                continue;
            if (!strcasecmp(k, "x-datadog-trace-id"))
                *trace_id = n;
            else if (!strcasecmp(k, "x-datadog-parent-id"))
                *parent_id = n;
            else if (!strcasecmp(k, "x-datadog-sampling-priority") && n <= 2)
                *priority = (int)n;
        }
    json_decref(ev);
}

static void on_start(struct fl_lambda_api *a, struct evhttp_request *req)
{
    a->st.starts++;
    struct inv *v = &a->cur;
    memset(v, 0, sizeof *v);
    v->rid_from_header = current_rid(a, req, v->rid);
    v->started = true;
    v->start_ns = now_ns();
    v->trace_id = hdr_u64(req, "x-datadog-trace-id");
    v->parent_id = v->trace_id ? hdr_u64(req, "x-datadog-parent-id") : 0;
    const char *pr = hdr(req, "x-datadog-sampling-priority");
    v->priority = pr && pr[0] ? atoi(pr) : 1;
    if (v->trace_id == 0) {
        uint64_t t = 0, p = 0;
        event_context(req, &t, &p, &v->priority);
        if (t) {
            v->trace_id = t;
            v->parent_id = p;
        }
    }
    if (v->priority < -1 || v->priority > 2)
        v->priority = 1;
    if (v->trace_id == 0)
        v->trace_id = new_id();
    v->span_id = new_id();
    struct evkeyvalq *out = evhttp_request_get_output_headers(req);
    char buf[32];
    snprintf(buf, sizeof buf, "%llu", (unsigned long long)v->trace_id);
    evhttp_add_header(out, "x-datadog-trace-id", buf);
    snprintf(buf, sizeof buf, "%llu", (unsigned long long)v->span_id);
    evhttp_add_header(out, "x-datadog-span-id", buf);
    snprintf(buf, sizeof buf, "%d", v->priority);
    evhttp_add_header(out, "x-datadog-sampling-priority", buf);
    reply(req, 200, "OK", "{}");
}

/* Datadog's libraries may send the error headers base64-encoded (.NET,
 * Go's stack): the decoded text when v is strict base64 of valid UTF-8,
 * else v as it is. out holds LA_ERR_MAX bytes. */
static const char *maybe_base64(const char *v, char *out)
{
    static const char A[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t n = strlen(v);
    if (n == 0 || n % 4 || n / 4 * 3 >= LA_ERR_MAX)
        return v;
    size_t o = 0;
    for (size_t i = 0; i < n; i += 4) {
        uint32_t acc = 0;
        int pad = 0;
        for (int k = 0; k < 4; k++) {
            char c = v[i + k];
            const char *at = c ? strchr(A, c) : NULL;
            if (c == '=' && i + 4 == n && k >= 2 && (k == 3 || v[i + 3] == '='))
                pad++;
            else if (at == NULL || pad)
                return v;
            acc = acc << 6 | (uint32_t)(at ? at - A : 0);
        }
        out[o++] = (char)(acc >> 16);
        if (pad < 2)
            out[o++] = (char)(acc >> 8);
        if (pad < 1)
            out[o++] = (char)acc;
    }
    out[o] = '\0';
    for (size_t i = 0; i < o;) {
        size_t k = utf8_seq((const unsigned char *)out + i, o - i);
        if (k == 0 || (unsigned char)out[i] < 0x09)
            return v; /* not text: it was not base64 after all */
        i += k;
    }
    return out;
}

static struct tr_str S(const char *s)
{
    return (struct tr_str){s ? s : "", s ? (uint32_t)strnlen(s, LA_ERR_MAX) : 0};
}

static bool ended(const struct fl_lambda_api *a, const char *rid)
{
    for (unsigned i = 0; i < LA_ENDED; i++)
        if (a->ended[i][0] && !strcmp(a->ended[i], rid))
            return true;
    return false;
}

static void on_end_conn_close(struct evhttp_connection *conn, void *arg)
{
    struct fl_lambda_api *a = arg;
    (void)conn;
    a->pending_end = NULL;
    evtimer_del(a->pending_timer);
}

static void give_up_end(evutil_socket_t fd, short what, void *arg)
{
    struct fl_lambda_api *a = arg;
    (void)fd;
    (void)what;
    if (a->pending_end == NULL)
        return;
    struct evhttp_request *req = a->pending_end;
    a->pending_end = NULL;
    struct evhttp_connection *c = evhttp_request_get_connection(req);
    if (c)
        evhttp_connection_set_closecb(c, NULL, NULL);
    a->st.skipped++;
    log_warn("/lambda/end-invocation: no invocation to attribute it to within %u ms; no aws.lambda span",
             LA_END_WAIT_MS);
    reply(req, 200, "OK", "{}");
}

static void end_span(struct fl_lambda_api *a, struct evhttp_request *req, const char *rid);

static void on_end(struct fl_lambda_api *a, struct evhttp_request *req)
{
    a->st.ends++;
    char rid[LA_RID_MAX];
    struct inv *v = &a->cur;
    bool from_header = current_rid(a, req, rid);
    if (!from_header && v->started && v->rid_from_header)
        snprintf(rid, sizeof rid, "%s", v->rid); /* start named it */
    else if (!from_header && (!rid[0] || ended(a, rid)) && a->pending_end == NULL && a->pending_timer) {
        /* FT_CONTEXT still names the invocation before this one: wait for it */
        a->pending_end = req;
        struct evhttp_connection *c = evhttp_request_get_connection(req);
        if (c)
            evhttp_connection_set_closecb(c, on_end_conn_close, a);
        struct timeval tv = {0, (suseconds_t)LA_END_WAIT_MS * 1000};
        evtimer_add(a->pending_timer, &tv);
        return;
    }
    end_span(a, req, rid);
}

void fl_lambda_api_context(struct fl_lambda_api *a)
{
    if (a == NULL || a->pending_end == NULL)
        return;
    char rid[LA_RID_MAX];
    struct evhttp_request *req = a->pending_end;
    current_rid(a, req, rid);
    if (!rid[0] || ended(a, rid))
        return; /* not this one yet */
    a->pending_end = NULL;
    evtimer_del(a->pending_timer);
    struct evhttp_connection *c = evhttp_request_get_connection(req);
    if (c)
        evhttp_connection_set_closecb(c, NULL, NULL);
    end_span(a, req, rid);
}

/* The aws.lambda span of rid, unless it has one already. */
static void end_span(struct fl_lambda_api *a, struct evhttp_request *req, const char *rid)
{
    struct inv *v = &a->cur;
    bool same = v->started; /* start and end come in pairs from one runtime */
    /* once per invocation: not twice, not when the tracer sent its own */
    if (!rid[0] || ended(a, rid) || fl_trace_recv_saw_root(a->traces, rid) || a->traces == NULL) {
        a->st.skipped++;
        reply(req, 200, "OK", "{}");
        return;
    }
    snprintf(a->ended[a->ended_next], LA_RID_MAX, "%s", rid);
    a->ended_next = (a->ended_next + 1) % LA_ENDED;

    int64_t end = now_ns();
    struct tr_span s = {0};
    s.trace_id = hdr_u64(req, "x-datadog-trace-id");
    s.span_id = hdr_u64(req, "x-datadog-span-id");
    if (!s.trace_id)
        s.trace_id = same ? v->trace_id : new_id();
    if (!s.span_id)
        s.span_id = same && s.trace_id == v->trace_id ? v->span_id : new_id();
    s.parent_id = same && s.trace_id == v->trace_id ? v->parent_id : 0;
    s.start = same ? v->start_ns : end;
    s.duration = end - s.start;
    const char *err = hdr(req, "x-datadog-invocation-error");
    /* an error message, type or stack means an error too (as Datadog's extension) */
    s.error = (err && !strcasecmp(err, "true")) || hdr(req, "x-datadog-invocation-error-msg") ||
              hdr(req, "x-datadog-invocation-error-type") || hdr(req, "x-datadog-invocation-error-stack");

    struct fl_pipe_invocation inv;
    fl_pipe_invocation(a->pipe, &inv);
    char arn[512];
    size_t i;
    for (i = 0; inv.arn[i] && i < sizeof arn - 1; i++)
        arn[i] = (char)tolower((unsigned char)inv.arn[i]);
    arn[i] = '\0';
    bool cold = inv.cold_start && !strcmp(inv.request_id, rid);
    struct tr_meta meta[LA_META_MAX];
    uint32_t nm = 0;
    meta[nm++] = (struct tr_meta){S("request_id"), S(rid)};
    meta[nm++] = (struct tr_meta){S("cold_start"), S(cold ? "true" : "false")};
    if (arn[0])
        meta[nm++] = (struct tr_meta){S("function_arn"), S(arn)};
    static const struct { const char *h, *k; } errs[] = {
        {"x-datadog-invocation-error-msg", "error.msg"},
        {"x-datadog-invocation-error-type", "error.type"},
        {"x-datadog-invocation-error-stack", "error.stack"},
    };
    static char decoded[3][LA_ERR_MAX];
    for (unsigned k = 0; k < sizeof errs / sizeof errs[0]; k++) {
        const char *val = hdr(req, errs[k].h);
        if (val && val[0])
            meta[nm++] = (struct tr_meta){S(errs[k].k), S(maybe_base64(val, decoded[k]))};
    }
    struct tr_metric metrics[2] = {{S("_sampling_priority_v1"), same ? v->priority : 1}, {S("_top_level"), 1}};
    s.service = S(a->cfg->service[0] ? a->cfg->service : "aws.lambda");
    s.name = S("aws.lambda");
    s.resource = S(inv.fn_name);
    s.type = S("serverless");
    s.meta = meta;
    s.nmeta = nm;
    s.metrics = metrics;
    s.nmetrics = 2;
    if (same)
        memset(v, 0, sizeof *v);

    const char *lang = hdr(req, "Datadog-Meta-Lang");
    struct tp_opts o = {.lang = lang, .env = a->cfg->env, .app_version = a->cfg->version,
                        .fn_tags = fl_pipe_function_tags(a->pipe)};
    struct tp_enc *enc = tp_new(&o);
    struct tr_trace t = {&s, 1};
    if (enc == NULL || tp_add(enc, &t) != 0) {
        tp_free(enc);
        reply(req, 500, "Internal Server Error", "{}");
        return;
    }
    a->st.spans++;
    fl_trace_recv_ship(a->traces, req, enc, rid);
    tp_free(enc);
}

/* ---- routing ------------------------------------------------------------------- */

static void on_request(struct evhttp_request *req, void *arg)
{
    struct fl_lambda_api *a = arg;
    a->st.requests++;
    const char *uri = evhttp_request_get_uri(req);
    size_t plen = strcspn(uri ? uri : "", "?");
    enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
#define PATH_IS(lit) (plen == sizeof(lit) - 1 && strncmp(uri, lit, plen) == 0)
    if (cmd == EVHTTP_REQ_GET && PATH_IS("/lambda/hello")) {
        a->st.hello++;
        reply(req, 200, "OK", "{}");
    } else if (cmd == EVHTTP_REQ_POST && PATH_IS("/lambda/flush"))
        on_flush(a, req);
    else if (cmd == EVHTTP_REQ_POST && PATH_IS("/lambda/start-invocation"))
        on_start(a, req);
    else if (cmd == EVHTTP_REQ_POST && PATH_IS("/lambda/end-invocation"))
        on_end(a, req);
    else {
        a->st.not_found++;
        reply(req, 404, "Not Found", "{}");
    }
#undef PATH_IS
}

struct fl_lambda_api *fl_lambda_api_start(struct event_base *base, int fd, const struct cfg *cfg,
                                          struct fl_pipe *pipe, struct fl_trace_recv *traces)
{
    if (fd < 0 || pipe == NULL)
        return NULL;
    struct fl_lambda_api *a = calloc(1, sizeof *a);
    if (a == NULL)
        return NULL;
    a->cfg = cfg;
    a->pipe = pipe;
    a->traces = traces;
    a->base = base;
    a->pending_timer = evtimer_new(base, give_up_end, a);
    a->http = evhttp_new(base);
    if (a->http == NULL) {
        free(a);
        return NULL;
    }
    evhttp_set_max_body_size(a->http, LA_BODY_MAX);
    evhttp_set_max_headers_size(a->http, LA_HEADERS_MAX);
    evhttp_set_timeout(a->http, LA_TIMEOUT_S);
    evhttp_set_allowed_methods(a->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_PUT | EVHTTP_REQ_HEAD);
    evhttp_set_gencb(a->http, on_request, a);
    evutil_make_socket_nonblocking(fd);
    if (evhttp_accept_socket_with_handle(a->http, fd) == NULL) {
        log_error("/lambda endpoints: cannot serve descriptor %d", fd);
        evhttp_free(a->http);
        free(a);
        return NULL;
    }
    return a;
}

void fl_lambda_api_get_stats(const struct fl_lambda_api *a, struct fl_lambda_api_stats *out)
{
    if (a)
        *out = a->st;
    else
        memset(out, 0, sizeof *out);
}

void fl_lambda_api_free(struct fl_lambda_api *a)
{
    if (a == NULL)
        return;
    evhttp_free(a->http);
    if (a->pending_timer)
        event_free(a->pending_timer);
    free(a);
}
