/* trace_recv.c — see trace_recv.h. */
#include "trace_recv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "log.h"
#include "mpwalk.h"
#include "trace_decode.h"
#include "trace_pb.h"

#define TRR_HEADERS_MAX (64u * 1024u)
#define TRR_TIMEOUT_S 60
#define TRR_RID_MAX 128u
#define TRR_STATS_DEPTH 16u

static const char TRACES_OK[] = "{\"rate_by_service\":{\"service:,env:\":1}}";
static const char INFO[] = "{\"version\":\"forkcap\",\"endpoints\":[\"/v0.4/traces\",\"/v0.5/traces\","
                           "\"/v0.6/stats\",\"/info\"],\"client_drop_p0s\":true,"
                           "\"span_meta_structs\":false,\"long_running_spans\":false}";

/* A payload whose frames are queued, answered when they are in the kernel. */
enum answer_kind { ANSWER_TRACES, ANSWER_OK, ANSWER_EMPTY_JSON };

struct waiting {
    struct evhttp_request *req;
    struct evhttp_connection *conn;
    enum answer_kind kind;
    struct waiting *next;
};

struct fl_trace_recv {
    struct evhttp *http;
    const struct cfg *cfg;
    struct fl_trace_recv_hooks h;
    struct waiting *head, *tail;
    struct fl_trace_recv_stats st;
    bool warned_malformed;
    char roots[TRR_ROOTS_SEEN][TRR_RID_MAX]; /* request ids of aws.lambda spans seen */
    unsigned roots_next;
};

static void reply(struct evhttp_request *req, int code, const char *reason, const char *ctype, const char *body)
{
    struct evbuffer *b = evbuffer_new();
    if (b && body)
        evbuffer_add(b, body, strlen(body));
    if (ctype)
        evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", ctype);
    evhttp_send_reply(req, code, reason, b);
    if (b)
        evbuffer_free(b);
}

static void answer(struct evhttp_request *req, enum answer_kind k)
{
    if (k == ANSWER_TRACES)
        reply(req, 200, "OK", "application/json", TRACES_OK);
    else if (k == ANSWER_EMPTY_JSON)
        reply(req, 200, "OK", "application/json", "{}");
    else
        reply(req, 200, "OK", "text/plain", "OK");
}

/* A connection closed while its payload waited: nobody to answer (the
 * frames still go on; the tracer may resend, and the intake dedupes nothing:
 * counted as a duplicate risk in the flusher's summary). */
static void on_conn_close(struct evhttp_connection *conn, void *arg)
{
    struct fl_trace_recv *r = arg;
    struct waiting **pp = &r->head, *last = NULL;
    while (*pp) {
        if ((*pp)->conn == conn) {
            struct waiting *w = *pp;
            *pp = w->next;
            free(w);
            r->st.waiting--;
            continue;
        }
        last = *pp;
        pp = &(*pp)->next;
    }
    r->tail = last;
}

static void wait_for_kernel(struct fl_trace_recv *r, struct evhttp_request *req, enum answer_kind k)
{
    if (r->h.in_kernel == NULL || r->h.in_kernel(r->h.arg)) {
        answer(req, k);
        return;
    }
    struct waiting *w = calloc(1, sizeof *w);
    if (w == NULL) { /* the frames are queued: the data is safe, only the wait is lost */
        answer(req, k);
        return;
    }
    w->req = req;
    w->conn = evhttp_request_get_connection(req);
    w->kind = k;
    if (w->conn)
        evhttp_connection_set_closecb(w->conn, on_conn_close, r);
    if (r->tail)
        r->tail->next = w;
    else
        r->head = w;
    r->tail = w;
    r->st.waiting++;
}

void fl_trace_recv_drained(struct fl_trace_recv *r)
{
    if (r == NULL)
        return;
    while (r->head) {
        struct waiting *w = r->head;
        r->head = w->next;
        if (w->conn)
            evhttp_connection_set_closecb(w->conn, NULL, NULL);
        answer(w->req, w->kind);
        free(w);
        r->st.waiting--;
    }
    r->tail = NULL;
}

/* ---- traces ----------------------------------------------------------------- */

struct conv {
    struct fl_trace_recv *r;
    struct tp_enc *enc;
    char rid[TRR_RID_MAX]; /* request id of an aws.lambda span, "" none */
};

static void note_root(struct fl_trace_recv *r, const char *rid)
{
    snprintf(r->roots[r->roots_next], TRR_RID_MAX, "%s", rid);
    r->roots_next = (r->roots_next + 1) % TRR_ROOTS_SEEN;
}

bool fl_trace_recv_saw_root(const struct fl_trace_recv *r, const char *rid)
{
    if (r == NULL || rid == NULL || !rid[0])
        return false;
    for (unsigned i = 0; i < TRR_ROOTS_SEEN; i++)
        if (!strcmp(r->roots[i], rid))
            return true;
    return false;
}

static bool str_is(struct tr_str s, const char *lit)
{
    size_t n = strlen(lit);
    return s.n == n && memcmp(s.p, lit, n) == 0;
}

static int on_trace(const struct tr_trace *t, void *arg)
{
    struct conv *c = arg;
    for (uint32_t i = 0; i < t->nspans; i++) {
        const struct tr_span *s = &t->spans[i];
        if (!str_is(s->name, "aws.lambda"))
            continue;
        for (uint32_t k = 0; k < s->nmeta; k++)
            if (str_is(s->meta[k].k, "request_id") && s->meta[k].v.n < TRR_RID_MAX) {
                memcpy(c->rid, s->meta[k].v.p, s->meta[k].v.n);
                c->rid[s->meta[k].v.n] = '\0';
            }
    }
    return tp_add(c->enc, t);
}

struct frames {
    struct frame_buf *v;
    size_t n, cap, data;
    const char *rid, *lang;
    bool err;
};

static struct frame_buf *frames_slot(struct frames *f)
{
    if (f->n == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 4;
        struct frame_buf *v = realloc(f->v, cap * sizeof *v);
        if (v == NULL)
            return NULL;
        f->v = v;
        f->cap = cap;
    }
    struct frame_buf *fb = &f->v[f->n++];
    memset(fb, 0, sizeof *fb);
    return fb;
}

static void frames_free(struct frames *f)
{
    for (size_t i = 0; i < f->n; i++)
        frame_buf_free(&f->v[i]);
    free(f->v);
}

static int to_frame(const uint8_t *pb, size_t len, uint32_t nspans, void *arg)
{
    struct frames *f = arg;
    struct frame_buf *fb = frames_slot(f);
    if (fb == NULL)
        return -1;
    struct ft_traces m = {.pb = pb, .pb_len = len, .spans = nspans};
    f->data += len;
    if (f->rid && f->rid[0]) {
        m.lambda_rid = f->rid;
        f->rid = NULL; /* once per payload is enough */
    }
    if (f->lang && f->lang[0])
        m.lang = f->lang;
    return frame_encode_traces(fb, &m) == 0 ? 0 : -1;
}

static const char *hdr(struct evhttp_request *req, const char *name)
{
    const char *v = evhttp_find_header(evhttp_request_get_input_headers(req), name);
    return v ? v : "";
}

/* "Datadog-Client-Computed-Stats": any non-empty value but false/0 means yes */
/* enc's frames to the supervisor, as one submission; rid (may be NULL or
 * "") is remembered as a root. On failure the request is answered (500 out
 * of memory, 503 when the link refuses: the tracer retries) and false
 * returned; on success answering is the caller's. */
static bool submit_frames(struct fl_trace_recv *r, struct evhttp_request *req, struct tp_enc *enc,
                          const char *rid, const char *lang)
{
    struct frames f = {.rid = rid, .lang = lang};
    if (tp_emit(enc, to_frame, &f) != 0) {
        frames_free(&f);
        reply(req, 500, "Internal Server Error", "text/plain", "out of memory\n");
        return false;
    }
    if (r->h.submit && f.n && r->h.submit(f.v, f.n, f.data, r->h.arg) != 0) {
        frames_free(&f);
        r->st.refused++;
        reply(req, 503, "Service Unavailable", "text/plain", "busy, retry\n");
        return false;
    }
    frames_free(&f);
    if (rid && rid[0])
        note_root(r, rid);
    return true;
}

static bool computed_stats(struct evhttp_request *req)
{
    const char *v = hdr(req, "Datadog-Client-Computed-Stats");
    return v[0] && strcasecmp(v, "false") != 0 && strcmp(v, "0") != 0;
}

static void on_traces(struct fl_trace_recv *r, struct evhttp_request *req, enum tr_version v)
{
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t len = evbuffer_get_length(in);
    const uint8_t *body = len ? evbuffer_pullup(in, -1) : (const uint8_t *)"";
    if (len > TR_BODY_MAX) { /* evhttp enforces this already */
        r->st.too_big++;
        reply(req, 413, "Payload Too Large", "text/plain", "body over 10 MiB\n");
        return;
    }
    const char *tags = r->h.fn_tags ? r->h.fn_tags(r->h.arg) : NULL;
    struct tp_opts o = {.lang = hdr(req, "Datadog-Meta-Lang"),
                        .lang_version = hdr(req, "Datadog-Meta-Lang-Version"),
                        .tracer_version = hdr(req, "Datadog-Meta-Tracer-Version"),
                        .env = r->cfg->env, .app_version = r->cfg->version, .fn_tags = tags,
                        .drop_p0 = computed_stats(req)};
    struct conv c = {.r = r, .enc = tp_new(&o)};
    if (c.enc == NULL) {
        reply(req, 500, "Internal Server Error", "text/plain", "out of memory\n");
        return;
    }
    uint32_t nt = 0;
    uint64_t ns = 0;
    char err[160];
    int st = tr_decode(v, body, len, on_trace, &c, &nt, &ns, err, sizeof err);
    if (st != TR_OK) {
        tp_free(c.enc);
        if (st == TR_STOPPED || st == TR_NOMEM) {
            reply(req, 500, "Internal Server Error", "text/plain", "out of memory\n");
            return;
        }
        if (st == TR_TOO_BIG)
            r->st.too_big++;
        else
            r->st.malformed++;
        if (!r->warned_malformed) {
            log_warn("trace payload refused (%s: %s); further ones are only counted", tr_status_name(st),
                     err);
            r->warned_malformed = true;
        }
        char msg[200];
        snprintf(msg, sizeof msg, "%s\n", err);
        reply(req, st == TR_TOO_BIG ? 413 : 400, st == TR_TOO_BIG ? "Payload Too Large" : "Bad Request",
              "text/plain", msg);
        return;
    }
    struct tp_stats ts;
    tp_get_stats(c.enc, &ts);
    bool sent = submit_frames(r, req, c.enc, c.rid, o.lang);
    tp_free(c.enc);
    if (!sent)
        return;
    r->st.payloads++;
    r->st.traces += nt;
    r->st.spans += ts.spans;
    r->st.p0_chunks += ts.p0_chunks;
    r->st.big_spans += ts.big_spans;
    if (ts.big_spans)
        log_warn("%u span(s) larger than an intake payload dropped", ts.big_spans);
    wait_for_kernel(r, req, ANSWER_TRACES);
}

void fl_trace_recv_ship(struct fl_trace_recv *r, struct evhttp_request *req, struct tp_enc *enc, const char *rid)
{
    if (submit_frames(r, req, enc, rid, NULL))
        wait_for_kernel(r, req, ANSWER_EMPTY_JSON);
}

void fl_trace_recv_answer_when_sent(struct fl_trace_recv *r, struct evhttp_request *req)
{
    wait_for_kernel(r, req, ANSWER_EMPTY_JSON);
}

/* ---- stats ------------------------------------------------------------------- */

static void on_stats(struct fl_trace_recv *r, struct evhttp_request *req)
{
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t len = evbuffer_get_length(in);
    if (len > TP_PAYLOAD_MAX_DEFAULT) {
        r->st.too_big++;
        reply(req, 413, "Payload Too Large", "text/plain", "stats payload too large\n");
        return;
    }
    const uint8_t *body = len ? evbuffer_pullup(in, -1) : NULL;
    struct mpw_limits lim = {.max_depth = TRR_STATS_DEPTH, .max_elems = len, .max_bytes = TP_PAYLOAD_MAX_DEFAULT};
    if (len == 0 || mpw_check(body, len, &lim, NULL, 0) != MPW_OK) {
        r->st.malformed++;
        reply(req, 400, "Bad Request", "text/plain", "not one msgpack value\n");
        return;
    }
    if (r->h.submit) {
        struct frame_buf fb = {0};
        if (frame_encode_trace_stats(&fb, &(struct ft_trace_stats){.body = body, .body_len = len}) != 0) {
            frame_buf_free(&fb);
            reply(req, 500, "Internal Server Error", "text/plain", "out of memory\n");
            return;
        }
        int rc = r->h.submit(&fb, 1, len, r->h.arg);
        frame_buf_free(&fb);
        if (rc != 0) {
            r->st.refused++;
            reply(req, 503, "Service Unavailable", "text/plain", "busy, retry\n");
            return;
        }
    }
    r->st.stats++;
    wait_for_kernel(r, req, ANSWER_OK);
}

/* ---- routing -------------------------------------------------------------------- */

static void on_request(struct evhttp_request *req, void *arg)
{
    struct fl_trace_recv *r = arg;
    r->st.requests++;
    const char *uri = evhttp_request_get_uri(req);
    size_t plen = strcspn(uri ? uri : "", "?");
    enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
    bool put = cmd == EVHTTP_REQ_PUT || cmd == EVHTTP_REQ_POST;
#define PATH_IS(lit) (plen == sizeof(lit) - 1 && strncmp(uri, lit, plen) == 0)
    if (put && PATH_IS("/v0.4/traces"))
        on_traces(r, req, TR_V04);
    else if (put && PATH_IS("/v0.5/traces"))
        on_traces(r, req, TR_V05);
    else if (put && PATH_IS("/v0.6/stats"))
        on_stats(r, req);
    else if (cmd == EVHTTP_REQ_GET && PATH_IS("/info"))
        reply(req, 200, "OK", "application/json", INFO);
    else {
        r->st.not_found++;
        reply(req, 404, "Not Found", "text/plain", "404 page not found\n");
    }
#undef PATH_IS
}

struct fl_trace_recv *fl_trace_recv_start(struct event_base *base, int fd, const struct cfg *cfg,
                                          const struct fl_trace_recv_hooks *h)
{
    if (fd < 0)
        return NULL;
    struct fl_trace_recv *r = calloc(1, sizeof *r);
    if (r == NULL)
        return NULL;
    r->cfg = cfg;
    r->h = *h;
    r->http = evhttp_new(base);
    if (r->http == NULL) {
        free(r);
        return NULL;
    }
    evhttp_set_max_body_size(r->http, TR_BODY_MAX);
    evhttp_set_max_headers_size(r->http, TRR_HEADERS_MAX);
    evhttp_set_timeout(r->http, TRR_TIMEOUT_S);
    evhttp_set_allowed_methods(r->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_PUT | EVHTTP_REQ_HEAD);
    evhttp_set_gencb(r->http, on_request, r);
    evutil_make_socket_nonblocking(fd);
    if (evhttp_accept_socket_with_handle(r->http, fd) == NULL) {
        log_error("trace receiver: cannot serve descriptor %d", fd);
        evhttp_free(r->http);
        free(r);
        return NULL;
    }
    return r;
}

void fl_trace_recv_get_stats(const struct fl_trace_recv *r, struct fl_trace_recv_stats *out)
{
    if (r)
        *out = r->st;
    else
        memset(out, 0, sizeof *out);
}

void fl_trace_recv_free(struct fl_trace_recv *r)
{
    if (r == NULL)
        return;
    while (r->head) {
        struct waiting *w = r->head;
        r->head = w->next;
        free(w);
    }
    evhttp_free(r->http);
    free(r);
}
