/* sim_tele.c — the Telemetry API's delivery side: records in Lambda's shape,
 * per-subscriber buffering (maxItems/maxBytes/timeoutMs), ordered POSTs with
 * retry and backoff, and no delivery while the sandbox is frozen. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <arpa/inet.h>
#include <event2/bufferevent.h>
#include <event2/http.h>
#include <event2/http_struct.h>
#include <event2/keyvalq_struct.h>

#include "sim.h"
#include "sim_parse.h"

#define TELE_BACKOFF_MIN_MS 50
#define TELE_BACKOFF_MAX_MS 2000

static void tele_kick(struct sim_sub *sub, bool now);

static bool tele_wants(const struct sim_sub *sub, const char *type)
{
    if (strncmp(type, "platform.", 9) == 0)
        return sub->want_platform;
    if (strcmp(type, "function") == 0)
        return sub->want_function;
    if (strcmp(type, "extension") == 0)
        return sub->want_extension;
    return false;
}

static size_t tele_size(json_t *item)
{
    return json_dumpb(item, NULL, 0, JSON_COMPACT);
}

static void tele_append(struct sim_sub *sub, json_t *item, size_t size)
{
    if (json_array_size(sub->buf) == 0)
        sub->buf_first_us = sim_now_us();
    json_array_append(sub->buf, item);
    sub->buf_bytes += size;
}

/* A Telemetry API item in the Logs API's shape (2020-08-15), or NULL when
 * that API has no such record. */
static json_t *tele_logs_item(json_t *item, const char *as_type)
{
    const char *type = json_string_value(json_object_get(item, "type"));
    json_t *rec = json_object_get(item, "record");
    json_t *time = json_object_get(item, "time");
    json_t *out = NULL;
    if (!type)
        return NULL;
    if (as_type)
        type = as_type;
    if (strcmp(type, "function") == 0 || strcmp(type, "extension") == 0 || strcmp(type, "platform.extension") == 0
        || strcmp(type, "platform.logsSubscription") == 0 || strcmp(type, "platform.logsDropped") == 0) {
        out = json_deep_copy(rec);
    } else if (strcmp(type, "platform.start") == 0) {
        out = json_pack("{s:O,s:O}", "requestId", json_object_get(rec, "requestId"), "version",
                        json_object_get(rec, "version"));
    } else if (strcmp(type, "platform.end") == 0) {
        out = json_pack("{s:O}", "requestId", json_object_get(rec, "requestId"));
    } else if (strcmp(type, "platform.runtimeDone") == 0) {
        out = json_pack("{s:O,s:O}", "requestId", json_object_get(rec, "requestId"), "status",
                        json_object_get(rec, "status"));
    } else if (strcmp(type, "platform.report") == 0) {
        out = json_pack("{s:O,s:O}", "requestId", json_object_get(rec, "requestId"), "metrics",
                        json_object_get(rec, "metrics"));
    }
    if (!out)
        return NULL;
    return json_pack("{s:O,s:s,s:o}", "time", time, "type", type, "record", out);
}

static bool tele_kind_matches(const struct sim_sub *sub, const char *type)
{
    /* each API announces its own subscriptions */
    if (strcmp(type, "platform.telemetrySubscription") == 0)
        return !sub->logs_api;
    if (strcmp(type, "platform.logsSubscription") == 0)
        return sub->logs_api;
    return true;
}

static void tele_enqueue_raw(struct sim_sub *sub, json_t *item);

/* Queues an item for a subscriber, in the shape of its API. */
static void tele_enqueue(struct sim_sub *sub, json_t *item)
{
    const char *type = json_string_value(json_object_get(item, "type"));
    if (!type || !tele_kind_matches(sub, type))
        return;
    if (!sub->logs_api) {
        tele_enqueue_raw(sub, item);
        return;
    }
    json_t *l = tele_logs_item(item, NULL);
    if (l) {
        tele_enqueue_raw(sub, l);
        json_decref(l);
    }
    if (strcmp(type, "platform.runtimeDone") == 0) {  /* the Logs API's end of the invocation */
        json_t *end = tele_logs_item(item, "platform.end");
        if (end) {
            tele_enqueue_raw(sub, end);
            json_decref(end);
        }
    }
}

/* Records dropped for this subscriber (one record, or an array of them,
 * oldest first) are counted and, the first SIM_DROPPED_LOG, named in the
 * report: their type and, for a log line, its text. */
static void tele_drop(struct sim_sub *sub, json_t *items)
{
    size_t n = json_is_array(items) ? json_array_size(items) : items ? 1 : 0;
    sub->dropped += (long)n;
    if (sub->dropped_log == NULL)
        sub->dropped_log = json_array();
    for (size_t i = 0; i < n && sub->dropped_log; i++) {
        if (json_array_size(sub->dropped_log) >= SIM_DROPPED_LOG)
            break;
        json_t *it = json_is_array(items) ? json_array_get(items, i) : items;
        const char *type = json_string_value(json_object_get(it, "type"));
        const char *text = json_string_value(json_object_get(it, "record"));
        json_t *d = json_pack("{s:s}", "type", type ? type : "?");
        if (d && text)
            json_object_set_new(d, "record", json_stringn(text, strnlen(text, SIM_DROPPED_TEXT)));
        if (d)
            json_array_append_new(sub->dropped_log, d);
    }
}

/* Queues one record; past SIM_SUB_QUEUE_MAX (a listener that never takes
 * anything) records are dropped and counted, and a platform.logsDropped
 * record says so once there is room again, as Lambda does. */
static void tele_enqueue_raw(struct sim_sub *sub, json_t *item)
{
    size_t size = tele_size(item);
    if (sub->buf_bytes + size > SIM_SUB_QUEUE_MAX) {
        if (sub->overflow_records == 0)
            sim_log("WARN", "telemetry queue for %s is full: dropping records", sub->uri);
        sub->overflow_records++;
        sub->overflow_bytes += (long)size;
        tele_drop(sub, item);
        return;
    }
    if (sub->overflow_records > 0 && sub->want_platform) {
        char t[40];
        sim_iso_time(t, sizeof t);
        json_t *note = json_pack("{s:s,s:s,s:{s:s,s:I,s:I}}", "time", t, "type", "platform.logsDropped",
                                 "record", "reason", "Telemetry buffer full: the listener is not keeping up",
                                 "droppedRecords", (json_int_t)sub->overflow_records,
                                 "droppedBytes", (json_int_t)sub->overflow_bytes);
        if (note) {
            tele_append(sub, note, tele_size(note));
            json_decref(note);
        }
    }
    sub->overflow_records = sub->overflow_bytes = 0;
    tele_append(sub, item, size);
}

void sim_tele_emit(struct sim *s, const char *type, json_t *record)
{
    char t[40];
    sim_iso_time(t, sizeof t);
    json_t *item = json_pack("{s:s,s:s,s:o}", "time", t, "type", type, "record", record);
    if (!item)
        return;
    if (s->phase == PH_INIT && s->init_backlog && json_array_size(s->init_backlog) < SIM_BACKLOG_MAX)
        json_array_append(s->init_backlog, item);
    for (int k = 0; k < s->n_subs; k++) {
        struct sim_sub *sub = &s->subs[k];
        if (sub->active && tele_wants(sub, type)) {
            tele_enqueue(sub, item);
            tele_kick(sub, false);
        }
    }
    json_decref(item);
}

void sim_tele_line(struct sim *s, const char *type, const char *line)
{
    json_t *rec = NULL;
    if (s->o.json_logs && line[0] == '{') {
        json_error_t err;
        rec = json_loads(line, 0, &err);
        if (rec && !json_is_object(rec)) {
            json_decref(rec);
            rec = NULL;
        }
    }
    if (!rec)
        rec = json_string(line);
    if (!rec) {  /* not UTF-8: keep the line, lose the odd bytes */
        char *copy = strdup(line);
        if (copy) {
            sim_ascii(copy);
            rec = json_string(copy);
            free(copy);
        }
    }
    if (!rec)
        return;
    if (strcmp(type, "function") == 0)
        s->function_log_lines++;
    sim_tele_emit(s, type, rec);
}

static void tele_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct sim_sub *sub = arg;
    sub->retry_wait = false;
    tele_kick(sub, false);
}

/* Runs tele_kick from the loop rather than from inside a connection's own
 * callback (where the connection may not be freed). */
static void tele_defer_kick(struct sim_sub *sub)
{
    sub->retry_wait = true;
    struct timeval zero = { 0, 0 };
    evtimer_add(sub->timer, &zero);
}

/* The listener will close the connection after this answer: HTTP/1.0
 * without keep-alive (Python's BaseHTTPRequestHandler), or Connection: close. */
static bool tele_closes_after(struct evhttp_request *req)
{
    const char *c = evhttp_find_header(evhttp_request_get_input_headers(req), "Connection");
    if (c && strcasecmp(c, "close") == 0)
        return true;
    return req->major == 1 && req->minor == 0 && !(c && strcasecmp(c, "keep-alive") == 0);
}

/* The batch in flight reached the subscriber (HTTP 2xx, or every byte of
 * a TCP send written): counted, dropped, the retry count reset. */
static void tele_delivered(struct sim_sub *sub)
{
    sub->batches++;
    sub->records += (long)json_array_size(sub->inflight);
    json_decref(sub->inflight);
    sub->inflight = NULL;
    free(sub->inflight_body);
    sub->inflight_body = NULL;
    sub->attempt = 0;
}

static void tele_post_done(struct evhttp_request *req, void *arg)
{
    struct sim_sub *sub = arg;
    if (!sub->posting || !sub->active)
        return;
    struct sim *s = sub->sim;
    sub->posting = false;
    int code = req ? evhttp_request_get_response_code(req) : 0;
    bool was_used = sub->conn_used;
    if (code > 0) {
        sub->conn_used = true;
        if (tele_closes_after(req))
            sub->reconnect = true;  /* a fresh connection for the next POST */
    }
    if (code >= 200 && code < 300) {
        tele_delivered(sub);
        sub->stale_retry = false;
        if (sub->reconnect)
            tele_defer_kick(sub);
        else
            tele_kick(sub, false);
        return;
    }
    struct sim_ext *e = &s->ext[sub->ext_index];
    if (!e->running) {
        /* its extension is gone: nobody to deliver to (Lambda stops too) */
        tele_drop(sub, sub->inflight);
        json_decref(sub->inflight);
        sub->inflight = NULL;
        free(sub->inflight_body);
        sub->inflight_body = NULL;
        return;
    }
    if (code == 0 && was_used && !sub->stale_retry) {
        /* The listener dropped a kept-alive connection while it idled (a
         * server's keep-alive timeout): as an HTTP client does for a request
         * that got no answer on a reused connection, resend at once on a
         * new one. Not a failed POST. */
        sub->stale_retry = true;
        sub->reconnect = true;
        sub->reconnects++;
        tele_defer_kick(sub);
        return;
    }
    sub->stale_retry = false;
    /* during SHUTDOWN an extension may close its listener before it exits:
     * counted apart, not as a failure of the delivery */
    bool quiet = s->phase == PH_SHUTDOWN && e->got_shutdown;
    if (quiet)
        sub->shutdown_failures++;
    else
        sub->failed_posts++;
    sub->reconnect = true;  /* whatever broke, the next attempt starts clean */
    int delay = TELE_BACKOFF_MIN_MS << (sub->attempt < 6 ? sub->attempt : 6);
    if (delay > TELE_BACKOFF_MAX_MS)
        delay = TELE_BACKOFF_MAX_MS;
    if (!quiet)
        sim_log("WARN", "telemetry POST to %s failed (HTTP %d); retry %d in %d ms", sub->uri, code,
                sub->attempt + 1, delay);
    sub->attempt++;
    sub->retry_wait = true;
    struct timeval tv = { delay / 1000, (delay % 1000) * 1000 };
    evtimer_add(sub->timer, &tv);
}

/* ---- TCP: newline-delimited JSON on one connection; a batch counts as
 * delivered once the kernel has taken it (TCP has no answer to wait for). */

static void tele_tcp_close(struct sim_sub *sub)
{
    if (sub->tcp_bev) {
        bufferevent_free(sub->tcp_bev);
        sub->tcp_bev = NULL;
    }
}

static void tele_tcp_written(struct bufferevent *bev, void *arg)
{
    struct sim_sub *sub = arg;
    if (!sub->posting || evbuffer_get_length(bufferevent_get_output(bev)) > 0)
        return;
    sub->posting = false;
    tele_delivered(sub);
    tele_kick(sub, false);
}

static void tele_tcp_event(struct bufferevent *bev, short what, void *arg)
{
    (void)bev;
    struct sim_sub *sub = arg;
    if (what & BEV_EVENT_CONNECTED)
        return;
    /* refused, reset or closed by the listener: the batch goes again on a new connection */
    sub->reconnect = true;
    if (sub->posting)
        tele_post_done(NULL, sub);
}

static void tele_tcp_send(struct sim_sub *sub)
{
    struct sim *s = sub->sim;
    if (sub->reconnect)
        tele_tcp_close(sub);
    sub->reconnect = false;
    if (sub->attempt > 0)
        sub->retries++;
    sub->posting = true;
    if (!sub->tcp_bev) {
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)sub->port) };
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        sub->tcp_bev = bufferevent_socket_new(s->base, -1, BEV_OPT_CLOSE_ON_FREE);
        if (!sub->tcp_bev || bufferevent_socket_connect(sub->tcp_bev, (struct sockaddr *)&sa, sizeof sa) < 0) {
            tele_tcp_close(sub);
            tele_post_done(NULL, sub);
            return;
        }
        bufferevent_setcb(sub->tcp_bev, NULL, tele_tcp_written, tele_tcp_event, sub);
        bufferevent_enable(sub->tcp_bev, EV_READ | EV_WRITE);
        evutil_socket_t fd = bufferevent_getfd(sub->tcp_bev);
        int one = 1;
        if (fd >= 0)
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    struct evbuffer *out = bufferevent_get_output(sub->tcp_bev);
    size_t k;
    json_t *it;
    json_array_foreach(sub->inflight, k, it) {
        char *line = json_dumps(it, JSON_COMPACT | JSON_REAL_PRECISION(10));
        if (line) {
            evbuffer_add(out, line, strlen(line));
            evbuffer_add(out, "\n", 1);
            free(line);
        }
    }
}

static void tele_post(struct sim_sub *sub)
{
    struct sim *s = sub->sim;
    if (sub->tcp) {
        tele_tcp_send(sub);
        return;
    }
    if (sub->reconnect && sub->conn) {
        evhttp_connection_free(sub->conn);
        sub->conn = NULL;
    }
    sub->reconnect = false;
    if (!sub->conn) {
        sub->conn_used = false;
        sub->conn = evhttp_connection_base_new(s->base, NULL, sub->host, (ev_uint16_t)sub->port);
        if (!sub->conn) {
            tele_post_done(NULL, sub);
            return;
        }
        evhttp_connection_set_retries(sub->conn, 0);
        /* a POST sent just before a freeze waits for the thaw: no 50 s default */
        evhttp_connection_set_timeout(sub->conn, 3600);
    }
    if (sub->attempt > 0 && !sub->stale_retry)
        sub->retries++;
    struct evhttp_request *req = evhttp_request_new(tele_post_done, sub);
    if (!req) {
        sub->posting = true;
        tele_post_done(NULL, sub);
        return;
    }
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    char hostport[300];
    snprintf(hostport, sizeof hostport, "%s:%d", sub->host, sub->port);
    evhttp_add_header(h, "Host", hostport);
    evhttp_add_header(h, "Content-Type", "application/json");
    evbuffer_add(evhttp_request_get_output_buffer(req), sub->inflight_body, strlen(sub->inflight_body));
    sub->posting = true;
    if (evhttp_make_request(sub->conn, req, EVHTTP_REQ_POST, sub->path) < 0) {
        /* the request is freed by libevent on failure */
        evhttp_connection_free(sub->conn);
        sub->conn = NULL;
        tele_post_done(NULL, sub);
        return;
    }
    /* The socket exists once the request is queued. Without TCP_NODELAY,
     * bufferevent's 16 KiB writes meet Nagle and delayed ACKs: ~40 ms a batch. */
    struct bufferevent *bev = evhttp_connection_get_bufferevent(sub->conn);
    evutil_socket_t fd = bev ? bufferevent_getfd(bev) : -1;
    if (fd >= 0) {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
}

/* Sends the next batch when one is due (or now), unless a POST is in
 * flight, a retry is waiting, or the sandbox is frozen. */
static void tele_kick(struct sim_sub *sub, bool now)
{
    struct sim *s = sub->sim;
    if (!sub->active || sub->posting || sub->retry_wait || s->frozen || !s->ext[sub->ext_index].running)
        return;
    if (sub->inflight) {
        tele_post(sub);
        return;
    }
    size_t n = json_array_size(sub->buf);
    if (n == 0)
        return;
    if (s->phase == PH_SHUTDOWN)
        now = true;  /* the sandbox is going away: send what is buffered */
    uint64_t due = sub->buf_first_us + (uint64_t)sub->timeout_ms * 1000u;
    uint64_t t = sim_now_us();
    if (!now && n < (size_t)sub->max_items && sub->buf_bytes < (size_t)sub->max_bytes && t < due) {
        if (!evtimer_pending(sub->timer, NULL)) {
            uint64_t left = due - t;
            struct timeval tv = { (time_t)(left / 1000000u), (suseconds_t)(left % 1000000u) };
            evtimer_add(sub->timer, &tv);
        }
        return;
    }
    evtimer_del(sub->timer);
    /* cut one batch: at most maxItems records and maxBytes (at least one record) */
    json_t *batch = json_array();
    size_t bytes = 0, take = 0;
    for (; take < n && take < (size_t)sub->max_items; take++) {
        json_t *it = json_array_get(sub->buf, take);
        size_t sz = tele_size(it);
        if (take > 0 && bytes + sz > (size_t)sub->max_bytes)
            break;
        bytes += sz;
        json_array_append(batch, it);
    }
    json_t *rest = json_array();
    for (size_t k = take; k < n; k++)
        json_array_append(rest, json_array_get(sub->buf, k));
    json_decref(sub->buf);
    sub->buf = rest;
    sub->buf_bytes = sub->buf_bytes > bytes ? sub->buf_bytes - bytes : 0;
    sub->buf_first_us = sim_now_us();
    sub->inflight = batch;
    sub->inflight_body = json_dumps(batch, JSON_COMPACT | JSON_REAL_PRECISION(10));
    sub->attempt = 0;
    if (!sub->inflight_body) {
        json_decref(batch);
        sub->inflight = NULL;
        return;
    }
    tele_post(sub);
}

void sim_tele_flush_all(struct sim *s)
{
    for (int k = 0; k < s->n_subs; k++)
        tele_kick(&s->subs[k], true);
}

static void tele_release(struct sim_sub *sub)
{
    tele_drop(sub, sub->inflight); /* older than what is still buffered */
    tele_drop(sub, sub->buf);
    sub->active = false;
    sub->posting = false;
    json_decref(sub->buf);
    sub->buf = NULL;
    json_decref(sub->inflight);
    sub->inflight = NULL;
    free(sub->inflight_body);
    sub->inflight_body = NULL;
    if (sub->timer) {
        event_free(sub->timer);
        sub->timer = NULL;
    }
    if (sub->conn) {
        evhttp_connection_free(sub->conn);
        sub->conn = NULL;
    }
    tele_tcp_close(sub);
}

void sim_tele_drop_sandbox(struct sim *s)
{
    for (int k = 0; k < s->n_subs; k++)
        if (s->subs[k].active)
            tele_release(&s->subs[k]);
}

int sim_tele_sub_kind(struct sim *s, int ext_index)
{
    for (int j = 0; j < s->n_subs; j++)
        if (s->subs[j].active && s->subs[j].ext_index == ext_index)
            return s->subs[j].logs_api ? 1 : 0;
    return -1;
}

void sim_tele_subscribe(struct sim *s, int ext_index, const struct sim_sub_req *req, bool logs_api)
{
    struct sim_sub *sub = NULL;
    for (int j = 0; j < s->n_subs; j++)
        if (s->subs[j].active && s->subs[j].ext_index == ext_index)
            sub = &s->subs[j];
    bool is_new = !sub;
    if (!sub) {
        if (s->n_subs >= SIM_MAX_SUBS) {
            sim_log("WARN", "more than %d subscriptions in this run: %s not delivered to",
                    SIM_MAX_SUBS, s->ext[ext_index].name);
            return;
        }
        sub = &s->subs[s->n_subs++];
        memset(sub, 0, sizeof *sub);
        sub->sim = s;
        sub->ext_index = ext_index;
        sub->buf = json_array();
        sub->timer = evtimer_new(s->base, tele_timer_cb, sub);
        sub->active = true;
    } else if (!sub->posting) {
        if (sub->conn) {
            evhttp_connection_free(sub->conn);
            sub->conn = NULL;
        }
        tele_tcp_close(sub);
    }
    sub->logs_api = logs_api;
    sub->tcp = req->tcp;
    snprintf(sub->uri, sizeof sub->uri, "%s", req->uri);
    snprintf(sub->host, sizeof sub->host, "%s", req->host);
    sub->port = req->port;
    snprintf(sub->path, sizeof sub->path, "%s", req->path);
    sub->want_platform = req->want_platform;
    sub->want_function = req->want_function;
    sub->want_extension = req->want_extension;
    sub->max_items = req->max_items;
    sub->max_bytes = req->max_bytes;
    sub->timeout_ms = req->timeout_ms;
    json_decref(sub->types);
    sub->types = json_array();
    if (req->want_platform)
        json_array_append_new(sub->types, json_string("platform"));
    if (req->want_function)
        json_array_append_new(sub->types, json_string("function"));
    if (req->want_extension)
        json_array_append_new(sub->types, json_string("extension"));

    /* What happened since the sandbox started is delivered too (once). */
    size_t k;
    json_t *item;
    json_array_foreach(is_new ? s->init_backlog : NULL, k, item) {
        const char *ty = json_string_value(json_object_get(item, "type"));
        if (ty && tele_wants(sub, ty))
            tele_enqueue(sub, item);
    }
    sim_tele_emit(s, logs_api ? "platform.logsSubscription" : "platform.telemetrySubscription",
                  json_pack("{s:s,s:s,s:O}", "name", s->ext[ext_index].name, "state", "Subscribed",
                            "types", sub->types));
}
