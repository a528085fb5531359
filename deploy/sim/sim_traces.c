/* sim_traces.c — the synthetic function's tracer (--traces-per-invoke N).
 * When the function's work is done, it PUTs N small v0.4 msgpack payloads
 * (one trace of two spans each) to the extension's trace receiver, one
 * after another on one connection, and returns only once the last one is
 * answered or timed out: a tracer flushes before the handler returns in
 * Lambda. A payload answered 200 is "sent"; any other answer, a connection
 * error or a timeout is "refused" and not retried (what a tracer does with
 * it is the tracer's business; the report counts what the extension took). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "sim.h"

/* ---- a minimal msgpack writer (the few types a tracer's payload uses) ---- */

static void mp_raw(struct evbuffer *b, const void *p, size_t n)
{
    evbuffer_add(b, p, n);
}

static void mp_be(struct evbuffer *b, uint8_t tag, uint64_t v, int bytes)
{
    uint8_t o[9];
    o[0] = tag;
    for (int i = 0; i < bytes; i++)
        o[1 + i] = (uint8_t)(v >> (8 * (bytes - 1 - i)));
    mp_raw(b, o, (size_t)bytes + 1);
}

static void mp_map(struct evbuffer *b, unsigned n)   /* n < 16 */
{
    uint8_t t = (uint8_t)(0x80 | n);
    mp_raw(b, &t, 1);
}

static void mp_array(struct evbuffer *b, unsigned n) /* n < 16 */
{
    uint8_t t = (uint8_t)(0x90 | n);
    mp_raw(b, &t, 1);
}

static void mp_str(struct evbuffer *b, const char *s)
{
    size_t n = strlen(s);
    if (n < 32) {
        uint8_t t = (uint8_t)(0xa0 | n);
        mp_raw(b, &t, 1);
    } else {  /* every string here is under 256 bytes */
        uint8_t t[2] = { 0xd9, (uint8_t)n };
        mp_raw(b, t, 2);
    }
    mp_raw(b, s, n);
}

static void mp_u64(struct evbuffer *b, uint64_t v) { mp_be(b, 0xcf, v, 8); }
static void mp_i64(struct evbuffer *b, int64_t v) { mp_be(b, 0xd3, (uint64_t)v, 8); }
static void mp_i32(struct evbuffer *b, int32_t v) { mp_be(b, 0xd2, (uint32_t)v, 4); }

static void mp_f64(struct evbuffer *b, double d)
{
    uint64_t v;
    memcpy(&v, &d, sizeof v);
    mp_be(b, 0xcb, v, 8);
}

/* ---- ids ---- */

static uint64_t mix64(uint64_t z)  /* splitmix64's finalizer */
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* A trace id of its own per (request id, payload index): FNV-1a of the
 * request id mixed with the index; 63 bits, never 0. */
static uint64_t trace_id_of(const char *rid, int k)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (const char *c = rid; *c; c++)
        h = (h ^ (uint8_t)*c) * 0x100000001b3ull;
    uint64_t id = mix64(h ^ ((uint64_t)k + 1) * 0x9e3779b97f4a7c15ull) & INT64_MAX;
    return id ? id : 1;
}

/* One span: 11 keys, and "metrics" (sampling priority 1) on the root. */
static void span(struct evbuffer *b, uint64_t tid, uint64_t sid, uint64_t parent, const char *name,
                 const char *type, int64_t start_ns, int64_t dur_ns, const char *rid, const char *key)
{
    mp_map(b, parent == 0 ? 12 : 11);
    mp_str(b, "trace_id"); mp_u64(b, tid);
    mp_str(b, "span_id"); mp_u64(b, sid);
    mp_str(b, "parent_id"); mp_u64(b, parent);
    mp_str(b, "name"); mp_str(b, name);
    mp_str(b, "resource"); mp_str(b, name);
    mp_str(b, "service"); mp_str(b, "lambda-sim");
    mp_str(b, "type"); mp_str(b, type);
    mp_str(b, "start"); mp_i64(b, start_ns);
    mp_str(b, "duration"); mp_i64(b, dur_ns);
    mp_str(b, "error"); mp_i32(b, 0);
    mp_str(b, "meta");
    mp_map(b, 2);
    mp_str(b, "request_id"); mp_str(b, rid);
    mp_str(b, "sim.trace_key"); mp_str(b, key);
    if (parent == 0) {
        mp_str(b, "metrics");
        mp_map(b, 1);
        mp_str(b, "_sampling_priority_v1"); mp_f64(b, 1.0);
    }
}

/* One payload: [[root, child]]. */
static void payload(struct evbuffer *b, const char *rid, int k, int64_t end_ns, int64_t dur_ns)
{
    char key[SIM_ID_LEN + 16];
    snprintf(key, sizeof key, "%s#%d", rid, k);
    uint64_t tid = trace_id_of(rid, k);
    uint64_t root = mix64(tid) & INT64_MAX, child = mix64(tid + 1) & INT64_MAX;
    if (root == 0)
        root = 1;
    if (child == 0 || child == root)
        child = root ^ 2;
    int64_t start = end_ns - dur_ns;
    mp_array(b, 1);
    mp_array(b, 2);
    span(b, tid, root, 0, "sim.handler", "serverless", start, dur_ns, rid, key);
    span(b, tid, child, root, "sim.work", "custom", start + dur_ns / 4, dur_ns / 2, rid, key);
}

/* ---- the flush ---- */

static int trc_port(struct sim *s)
{
    if (s->o.traces_port_file == NULL)
        return s->o.traces_port;
    json_t *j = json_load_file(s->o.traces_port_file, 0, NULL);
    json_int_t p = json_integer_value(json_object_get(json_object_get(j, "ports"), "apm"));
    json_decref(j);
    return p > 0 && p <= 65535 ? (int)p : 0;
}

static void trc_drop_conn(struct sim *s)
{
    if (s->trc.conn) {
        evhttp_connection_free(s->trc.conn);  /* pending requests go without their callback */
        s->trc.conn = NULL;
    }
}

static void trc_done(struct sim *s)
{
    s->trc.busy = false;
    trc_drop_conn(s);
    void (*cb)(struct sim *) = s->trc.then;
    s->trc.then = NULL;
    if (cb)
        cb(s);
}

static void trc_send(struct sim *s);

/* After an answer (or a failure), outside libevent's request callback. */
static void trc_step(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct sim *s = arg;
    if (!s->trc.busy)
        return;
    if (s->trc.k >= s->trc.n) {
        trc_done(s);
        return;
    }
    trc_send(s);
}

static void trc_later(struct sim *s)
{
    struct timeval zero = { 0, 0 };
    evtimer_add(s->trc.step, &zero);
}

static void trc_answer(struct evhttp_request *req, void *arg)
{
    struct sim *s = arg;
    if (!s->trc.busy || !s->trc.in_flight)
        return;
    s->trc.in_flight = false;
    int code = req ? evhttp_request_get_response_code(req) : 0;
    if (code == 200) {
        s->traces_sent++;
        if (json_array_size(s->trace_keys) < SIM_TRACE_KEYS_MAX) {
            char key[SIM_ID_LEN + 16];
            snprintf(key, sizeof key, "%s#%d", s->trc.rid, s->trc.k);
            json_array_append_new(s->trace_keys, json_string(key));
        } else {
            s->trace_keys_truncated = true;
        }
    } else {
        s->traces_refused++;
        if (code == 0)  /* the connection is unusable: a fresh one for the next payload */
            s->trc.fresh = true;
    }
    s->trc.k++;
    trc_later(s);
}

static void trc_send(struct sim *s)
{
    if (s->trc.fresh)
        trc_drop_conn(s);
    s->trc.fresh = false;
    if (s->trc.conn == NULL) {
        s->trc.conn = evhttp_connection_base_new(s->base, NULL, "127.0.0.1", (uint16_t)s->trc.port);
        if (s->trc.conn == NULL) {
            s->traces_refused += s->trc.n - s->trc.k;
            s->trc.k = s->trc.n;
            trc_later(s);
            return;
        }
        struct timeval tv = { s->o.traces_timeout_ms / 1000, (s->o.traces_timeout_ms % 1000) * 1000 };
        evhttp_connection_set_timeout_tv(s->trc.conn, &tv);
        evhttp_connection_set_retries(s->trc.conn, 0);
    }
    struct evhttp_request *req = evhttp_request_new(trc_answer, s);
    if (req == NULL) {
        s->traces_refused++;
        s->trc.k++;
        trc_later(s);
        return;
    }
    int64_t end_ns = sim_epoch_ms() * 1000000;
    int64_t dur_ns = (int64_t)(s->o.fn_ms > 0 ? s->o.fn_ms : 1) * 1000000;
    payload(evhttp_request_get_output_buffer(req), s->trc.rid, s->trc.k, end_ns, dur_ns);
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    evhttp_add_header(h, "Host", "127.0.0.1");
    evhttp_add_header(h, "Content-Type", "application/msgpack");
    evhttp_add_header(h, "X-Datadog-Trace-Count", "1");
    evhttp_add_header(h, "Datadog-Meta-Tracer-Version", "lambda-sim");
    s->trc.in_flight = true;
    if (evhttp_make_request(s->trc.conn, req, EVHTTP_REQ_PUT, "/v0.4/traces") != 0) {
        /* libevent has freed req */
        s->trc.in_flight = false;
        s->traces_refused++;
        s->trc.k++;
        s->trc.fresh = true;
        trc_later(s);
    }
}

bool sim_traces_flush(struct sim *s, void (*then)(struct sim *))
{
    if (s->o.traces_per_invoke <= 0 || s->cur == NULL)
        return false;
    if (s->trc.step == NULL && (s->trc.step = evtimer_new(s->base, trc_step, s)) == NULL) {
        s->traces_refused += s->o.traces_per_invoke;
        return false;
    }
    int port = trc_port(s);
    if (port <= 0) {  /* the extension has not said where (yet) */
        s->traces_refused += s->o.traces_per_invoke;
        return false;
    }
    snprintf(s->trc.rid, sizeof s->trc.rid, "%s", s->cur->request_id);
    s->trc.port = port;
    s->trc.k = 0;
    s->trc.n = s->o.traces_per_invoke;
    s->trc.busy = true;
    s->trc.in_flight = false;
    s->trc.fresh = true;
    s->trc.then = then;
    trc_send(s);
    return true;
}

void sim_traces_abort(struct sim *s)
{
    if (!s->trc.busy)
        return;
    s->traces_refused += s->trc.n - s->trc.k;  /* in flight or not yet sent: not answered 200 */
    s->trc.busy = false;
    s->trc.in_flight = false;
    s->trc.then = NULL;
    if (s->trc.step)
        evtimer_del(s->trc.step);
    trc_drop_conn(s);
}

void sim_traces_free(struct sim *s)
{
    sim_traces_abort(s);
    if (s->trc.step)
        event_free(s->trc.step);
    s->trc.step = NULL;
}
