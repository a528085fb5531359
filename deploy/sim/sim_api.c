/* sim_api.c — the HTTP side of lambda-sim: Runtime API, Extensions API and
 * Telemetry API subscriptions on one evhttp server bound to 127.0.0.1. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/keyvalq_struct.h>

#include "sim.h"
#include "sim_parse.h"

#define EXT_PREFIX "/2020-01-01/extension/"
#define RT_PREFIX "/2018-06-01/runtime/"
#define TELE_PATH "/2022-07-01/telemetry"
#define LOGS_PATH "/2020-08-15/logs"

/* When each connection's current request began to arrive: evhttp tells
 * us of a request only once it is whole, and a runtime's response latency
 * ends at its first byte. An input-buffer callback sees every read; the
 * first read into an empty buffer after the previous request was handled
 * starts the next one. Slots are reused round robin (a lost slot only
 * makes the first byte the last one). */
#define API_CONN_SLOTS 256
static struct api_conn_slot {
    struct bufferevent *bev;
    uint64_t first_us;       /* 0: no request under way */
} api_slots[API_CONN_SLOTS];
static unsigned api_slot_next;

static struct api_conn_slot *api_slot_of(struct bufferevent *bev)
{
    for (unsigned i = 0; bev && i < API_CONN_SLOTS; i++)
        if (api_slots[i].bev == bev)
            return &api_slots[i];
    return NULL;
}

static void api_input_cb(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
    (void)buf;
    struct api_conn_slot *slot = api_slot_of(arg);
    if (slot && info->n_added > 0 && slot->first_us == 0)
        slot->first_us = sim_now_us();
}

static struct bufferevent *api_new_bev(struct event_base *base, void *arg)
{
    (void)arg;
    struct bufferevent *bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
    if (!bev)
        return NULL;
    struct api_conn_slot *slot = api_slot_of(bev);  /* an address reused after a free */
    if (!slot) {
        slot = &api_slots[api_slot_next++ % API_CONN_SLOTS];
        slot->bev = bev;
    }
    slot->first_us = 0;
    evbuffer_add_cb(bufferevent_get_input(bev), api_input_cb, bev);
    return bev;
}

/* When the request being handled began to arrive (now if unknown); the
 * connection's next request starts afresh. */
static uint64_t api_take_first_byte(struct evhttp_request *req)
{
    struct evhttp_connection *conn = evhttp_request_get_connection(req);
    struct api_conn_slot *slot = api_slot_of(conn ? evhttp_connection_get_bufferevent(conn) : NULL);
    uint64_t t = slot && slot->first_us ? slot->first_us : sim_now_us();
    if (slot)
        slot->first_us = 0;
    return t;
}

static uint64_t api_req_first_us;  /* of the request api_route is handling */

static void api_reply(struct evhttp_request *req, int code, const char *reason, const char *body,
                      const char *content_type)
{
    struct evbuffer *out = evbuffer_new();
    if (out && body)
        evbuffer_add(out, body, strlen(body));
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", content_type);
    evhttp_send_reply(req, code, reason, out);
    if (out)
        evbuffer_free(out);
}

static void api_json(struct evhttp_request *req, int code, const char *reason, json_t *j)
{
    char *body = json_dumps(j, JSON_COMPACT);
    api_reply(req, code, reason, body ? body : "{}", "application/json");
    free(body);
    json_decref(j);
}

static void api_error(struct evhttp_request *req, int code, const char *type, const char *msg)
{
    const char *reason = code == 400 ? "Bad Request" : code == 403 ? "Forbidden"
                       : code == 404 ? "Not Found" : code == 413 ? "Request Entity Too Large"
                       : code == 405 ? "Method Not Allowed" : "Error";
    api_json(req, code, reason, json_pack("{s:s,s:s}", "errorMessage", msg, "errorType", type));
}

static const char *api_header(struct evhttp_request *req, const char *name)
{
    return evhttp_find_header(evhttp_request_get_input_headers(req), name);
}

/* The request body as a NUL-terminated copy, or NULL when larger than max. */
static char *api_body(struct evhttp_request *req, size_t max, size_t *len)
{
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t n = evbuffer_get_length(in);
    *len = n;
    if (n > max)
        return NULL;
    char *b = malloc(n + 1);
    if (!b)
        return NULL;
    evbuffer_copyout(in, b, n);
    b[n] = '\0';
    return b;
}

/* Finds the extension named by Lambda-Extension-Identifier, or answers the
 * 403 the Extensions API gives and returns -1. */
static int api_ext_of(struct sim *s, struct evhttp_request *req)
{
    const char *id = api_header(req, "Lambda-Extension-Identifier");
    if (!id || !*id) {
        api_error(req, 403, "Extension.MissingExtensionIdentifier", "Missing Lambda-Extension-Identifier header");
        return -1;
    }
    if (!sim_is_uuid(id)) {
        api_error(req, 403, "Extension.InvalidExtensionIdentifier", "Invalid Lambda-Extension-Identifier");
        return -1;
    }
    for (int i = 0; i < s->n_ext; i++)
        if (s->ext[i].registered && strcasecmp(s->ext[i].id, id) == 0)
            return i;
    api_error(req, 403, "Extension.UnknownExtensionIdentifier", "Unknown extension identifier");
    return -1;
}

/* A comma-separated header value holds this token (spaces around allowed). */
static bool api_has_token(const char *list, const char *token)
{
    size_t tl = strlen(token);
    for (const char *p = list; *p;) {
        while (*p == ' ' || *p == ',')
            p++;
        const char *end = p;
        while (*end && *end != ',')
            end++;
        const char *last = end;
        while (last > p && last[-1] == ' ')
            last--;
        if ((size_t)(last - p) == tl && strncmp(p, token, tl) == 0)
            return true;
        p = end;
    }
    return false;
}

static void api_register(struct sim *s, struct evhttp_request *req)
{
    const char *name = api_header(req, "Lambda-Extension-Name");
    if (!name || !*name) {
        api_error(req, 403, "Extension.InvalidExtensionName", "Empty extension name");
        return;
    }
    size_t len;
    char *body = api_body(req, SIM_BODY_MAX, &len);
    if (!body) {
        api_error(req, 403, "InvalidRequestFormat", "request body too large");
        return;
    }
    struct sim_reg_req rr;
    const char *etype;
    char msg[200];
    int prc = sim_parse_register(body, len, &rr, &etype, msg, sizeof msg);
    free(body);
    if (prc < 0) {
        api_error(req, 403, etype, msg);
        return;
    }
    bool inv = rr.ev_invoke, shut = rr.ev_shutdown;

    int i;
    for (i = 0; i < s->n_ext; i++)
        if (strcmp(s->ext[i].name, name) == 0 && s->ext[i].running)
            break;
    if (i == s->n_ext) {
        api_error(req, 403, "Extension.InvalidExtensionName",
                  "no extension executable with this file name is running");
        return;
    }
    struct sim_ext *e = &s->ext[i];
    if (e->registered || s->phase != PH_INIT) {
        if (s->phase != PH_INIT)
            api_error(req, 403, "Extension.RegistrationClosed", "registration is closed after init");
        else
            api_error(req, 403, "Extension.InvalidExtensionState", "extension already registered");
        return;
    }
    if (s->n_registered >= SIM_MAX_REGISTERED) {
        api_error(req, 403, "Extension.TooManyExtensions", "Extension limit (10) reached");
        return;
    }
    sim_uuid(e->id);
    e->registered = true;
    e->ev_invoke = inv;
    e->ev_shutdown = shut;
    e->registrations++;
    s->n_registered++;

    const char *feat = api_header(req, "Lambda-Extension-Accept-Feature");
    json_t *resp = json_pack("{s:s,s:s,s:s}", "functionName", s->o.function_name,
                             "functionVersion", s->o.function_version, "handler", s->o.handler);
    if (feat && api_has_token(feat, "accountId"))
        json_object_set_new(resp, "accountId", json_string(s->o.account_id));
    evhttp_add_header(evhttp_request_get_output_headers(req), "Lambda-Extension-Identifier", e->id);
    api_json(req, 200, "OK", resp);
    sim_on_register(s, i);
}

static void api_conn_closed(struct evhttp_connection *conn, void *arg)
{
    struct sim *s = arg;
    for (int i = 0; i < s->n_ext; i++) {
        struct sim_ext *e = &s->ext[i];
        if (e->waiting_conn == conn && e->waiting_req) {
            /* As AWS's emulator: the extension stays "waiting" on a dead
             * connection; the next event goes there and is lost. */
            e->waiting_req = NULL;
            e->waiting_conn = NULL;
            sim_log("INFO", "%s: pending /next connection closed; its next event will be lost", e->name);
        }
    }
    if (s->rt_conn == conn && s->rt_req) {
        s->rt_req = NULL;
        s->rt_conn = NULL;
        s->rt_waiting = false;
    }
}

/* True when the client end of a parked request has gone away (libevent
 * does not read a server connection while a request waits for its reply). */
static bool api_peer_gone(struct evhttp_connection *conn)
{
    struct bufferevent *bev = conn ? evhttp_connection_get_bufferevent(conn) : NULL;
    evutil_socket_t fd = bev ? bufferevent_getfd(bev) : -1;
    if (fd < 0)
        return true;
    char c;
    ssize_t n = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

void sim_ext_deliver(struct sim *s, int i, const char *body, bool shutdown)
{
    struct sim_ext *e = &s->ext[i];
    if (e->waiting && e->waiting_req) {
        struct evhttp_request *req = e->waiting_req;
        if (api_peer_gone(e->waiting_conn)) {
            e->lost_events++;
            sim_log("INFO", "%s: event handed to a dead /next connection (lost)", e->name);
        }
        e->waiting = false;
        e->waiting_req = NULL;
        e->waiting_conn = NULL;
        if (shutdown) {
            /* as the emulator: no event identifier, no content type of its own
             * (Go's sniffing makes it text/plain) */
            api_reply(req, 200, "OK", body, "text/plain; charset=utf-8");
        } else {
            char evid[SIM_ID_LEN + 1];
            sim_uuid(evid);
            evhttp_add_header(evhttp_request_get_output_headers(req), "Lambda-Extension-Event-Identifier", evid);
            api_reply(req, 200, "OK", body, "application/json");
        }
    } else if (e->waiting) {
        e->waiting = false;
        e->lost_events++;
        sim_log("INFO", "%s: event handed to a dead /next connection (lost)", e->name);
    } else {
        free(e->queued);
        e->queued = strdup(body);
        e->queued_shutdown = shutdown;
    }
}

static void api_ext_next(struct sim *s, struct evhttp_request *req)
{
    int i = api_ext_of(s, req);
    if (i < 0)
        return;
    struct sim_ext *e = &s->ext[i];
    if (e->failed) {
        api_error(req, 403, "Extension.InvalidExtensionState", "extension reported an error; it must exit");
        return;
    }
    if (e->waiting) {
        api_error(req, 403, "Extension.InvalidExtensionState",
                  "State transition from Waiting to Waiting failed: already waiting for an event");
        return;
    }
    e->waiting = true;
    e->waiting_req = req;
    e->waiting_conn = evhttp_request_get_connection(req);
    if (e->waiting_conn)
        evhttp_connection_set_closecb(e->waiting_conn, api_conn_closed, s);
    if (e->queued) {
        char *q = e->queued;
        e->queued = NULL;
        sim_ext_deliver(s, i, q, e->queued_shutdown);
        free(q);
    }
    sim_on_ext_next(s, i);
}

/* init/error and exit/error with the emulator's state rules: init/error
 * only before the extension's first /next, exit/error any time; the same
 * call again is a no-op 202, the other one 403. What Lambda reports is
 * Extension.InitError / Extension.ExitError, whatever type was sent. */
static void api_ext_error(struct sim *s, struct evhttp_request *req, bool init)
{
    int i = api_ext_of(s, req);
    if (i < 0)
        return;
    struct sim_ext *e = &s->ext[i];
    const char *type = api_header(req, "Lambda-Extension-Function-Error-Type");
    if (!type || !*type) {
        api_error(req, 403, "Extension.MissingHeader", "Lambda-Extension-Function-Error-Type not found");
        return;
    }
    if (e->failed) {
        if (e->init_failed == init)
            api_json(req, 202, "Accepted", json_pack("{s:s}", "status", "OK"));
        else
            api_error(req, 403, "Extension.InvalidExtensionState",
                      e->init_failed ? "State transition from InitError failed" : "State transition from ExitError failed");
        return;
    }
    if (init && (e->sent_next || s->phase != PH_INIT)) {
        api_error(req, 403, "Extension.InvalidExtensionState",
                  "State transition from Ready to InitError failed: init/error is for the init phase");
        return;
    }
    char t[128];
    snprintf(t, sizeof t, "%s", type);
    sim_ascii(t);
    e->failed = true;
    e->init_failed = init;
    api_json(req, 202, "Accepted", json_pack("{s:s}", "status", "OK"));
    sim_log("INFO", "%s: %s/error %s", e->name, init ? "init" : "exit", t);
    if (init)
        sim_on_init_error(s, "Extension.InitError");
}

/* PUT /2022-07-01/telemetry, or /2020-08-15/logs (logs_api): one API per
 * extension, as Lambda allows. */
static void api_subscribe(struct sim *s, struct evhttp_request *req, bool logs_api)
{
    int i = api_ext_of(s, req);
    if (i < 0)
        return;
    if (s->phase != PH_INIT) {
        api_error(req, 403, logs_api ? "Logs.SubscriptionClosed" : "Telemetry.SubscriptionClosed",
                  "subscriptions are closed after init");
        return;
    }
    int kind = sim_tele_sub_kind(s, i);
    if (kind >= 0 && kind != (int)logs_api) {
        api_error(req, 400, "ValidationError", logs_api ? "already subscribed through the Telemetry API"
                                                        : "already subscribed through the Logs API");
        return;
    }
    size_t len;
    char *body = api_body(req, SIM_BODY_MAX, &len);
    if (!body) {
        api_error(req, 400, "ValidationError", "request body too large");
        return;
    }
    char err[256];
    struct sim_sub_req sr;
    int rc = logs_api ? sim_parse_logs_subscribe(body, len, &sr, err, sizeof err)
                      : sim_parse_subscribe(body, len, &sr, err, sizeof err);
    free(body);
    if (rc < 0) {
        api_error(req, 400, "ValidationError", err);
        return;
    }
    sim_tele_subscribe(s, i, &sr, logs_api);
    api_reply(req, 200, "OK", "\"OK\"", "application/json");
}

void sim_rt_deliver(struct sim *s)
{
    if (!s->rt_event_pending || !s->rt_waiting || !s->rt_req || !s->cur)
        return;
    struct evhttp_request *req = s->rt_req;
    s->rt_req = NULL;
    s->rt_conn = NULL;
    s->rt_waiting = false;
    s->rt_event_pending = false;
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    char buf[256];
    evhttp_add_header(h, "Lambda-Runtime-Aws-Request-Id", s->cur->request_id);
    snprintf(buf, sizeof buf, "%lld", (long long)s->inv_deadline_ms);
    evhttp_add_header(h, "Lambda-Runtime-Deadline-Ms", buf);
    snprintf(buf, sizeof buf, "arn:aws:lambda:%s:%s:function:%s", s->o.region, s->o.account_id,
             s->o.function_name);
    evhttp_add_header(h, "Lambda-Runtime-Invoked-Function-Arn", buf);
    if (s->trace_id[0])
        evhttp_add_header(h, "Lambda-Runtime-Trace-Id", s->trace_id);
    snprintf(buf, sizeof buf, "{\"sim\":{\"invocation\":%d}}", s->inv_done);
    api_reply(req, 200, "OK", buf, "application/json");
}

static void api_rt_next(struct sim *s, struct evhttp_request *req)
{
    if (s->rt_waiting && s->rt_req) {
        api_error(req, 403, "InvalidStateTransition", "State transition from Ready to Ready failed for runtime");
        return;
    }
    s->rt_waiting = true;
    s->rt_req = req;
    s->rt_conn = evhttp_request_get_connection(req);
    if (s->rt_conn)
        evhttp_connection_set_closecb(s->rt_conn, api_conn_closed, s);
    sim_on_rt_next(s);
    sim_rt_deliver(s);
}

/* /runtime/invocation/{id}/response|error */
static void api_rt_result(struct sim *s, struct evhttp_request *req, const char *rest)
{
    const char *slash = strchr(rest, '/');
    if (!slash) {
        api_error(req, 404, "NotFound", "unknown path");
        return;
    }
    char id[64];
    size_t idlen = (size_t)(slash - rest);
    snprintf(id, sizeof id, "%.*s", (int)(idlen < sizeof id ? idlen : sizeof id - 1), rest);
    const char *what = slash + 1;
    bool is_resp = strcmp(what, "response") == 0, is_err = strcmp(what, "error") == 0;
    if (!is_resp && !is_err) {
        api_error(req, 404, "NotFound", "unknown path");
        return;
    }
    if (s->phase != PH_INVOKE || !s->cur || strcmp(id, s->cur->request_id) != 0) {
        api_error(req, 400, "InvalidRequestID", "Invalid request ID");
        return;
    }
    if (s->rt_responded) {
        api_error(req, 403, "InvalidStateTransition",
                  "State transition from InvocationResponse to InvocationResponse failed for runtime");
        return;
    }
    size_t len;
    char *body = api_body(req, SIM_RESPONSE_MAX, &len);
    if (!body && len > SIM_RESPONSE_MAX) {
        /* the caller gets an error and the runtime 413; the invocation's
         * result is given: the runtime is done once it calls /next */
        char msg[160];
        snprintf(msg, sizeof msg, "Response payload size (%zu bytes) exceeded maximum allowed payload size (%u bytes).",
                 len, SIM_RESPONSE_MAX);
        s->rt_responded = true;
        s->rt_produced = 0;
        s->rt_resp_first_us = api_req_first_us;
        s->rt_resp_done_us = sim_now_us();
        api_error(req, 413, "RequestEntityTooLarge", msg);
        sim_on_rt_result(s, true, "Function.ResponseSizeTooLarge");
        return;
    }
    char type[128] = "";
    if (is_err) {
        const char *h = api_header(req, "Lambda-Runtime-Function-Error-Type");
        if (h && *h) {
            snprintf(type, sizeof type, "%s", h);
        } else if (body) {
            json_error_t jerr;
            json_t *j = json_loads(body, 0, &jerr);
            const char *t = json_string_value(json_object_get(j, "errorType"));
            snprintf(type, sizeof type, "%s", t ? t : "");
            json_decref(j);
        }
        if (!type[0])
            snprintf(type, sizeof type, "Runtime.Unknown");
        sim_ascii(type);
    }
    free(body);
    s->rt_responded = true;
    s->rt_produced = len;
    s->rt_resp_first_us = api_req_first_us;
    s->rt_resp_done_us = sim_now_us();
    api_json(req, 202, "Accepted", json_pack("{s:s}", "status", "OK"));
    sim_on_rt_result(s, is_err, is_err ? type : NULL);
}

static void api_route(struct evhttp_request *req, void *arg)
{
    struct sim *s = arg;
    api_req_first_us = api_take_first_byte(req);
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
    enum evhttp_cmd_type m = evhttp_request_get_command(req);
    if (!path) {
        api_error(req, 404, "NotFound", "unknown path");
        return;
    }
    if (strncmp(path, EXT_PREFIX, strlen(EXT_PREFIX)) == 0) {
        const char *p = path + strlen(EXT_PREFIX);
        if (strcmp(p, "register") == 0 && m == EVHTTP_REQ_POST)
            api_register(s, req);
        else if (strcmp(p, "event/next") == 0 && m == EVHTTP_REQ_GET)
            api_ext_next(s, req);
        else if (strcmp(p, "init/error") == 0 && m == EVHTTP_REQ_POST)
            api_ext_error(s, req, true);
        else if (strcmp(p, "exit/error") == 0 && m == EVHTTP_REQ_POST)
            api_ext_error(s, req, false);
        else
            api_error(req, 404, "NotFound", "unknown Extensions API path or method");
        return;
    }
    if (strcmp(path, TELE_PATH) == 0 || strcmp(path, LOGS_PATH) == 0) {
        if (m == EVHTTP_REQ_PUT)
            api_subscribe(s, req, strcmp(path, LOGS_PATH) == 0);
        else
            api_error(req, 405, "MethodNotAllowed", "use PUT");
        return;
    }
    if (strncmp(path, RT_PREFIX, strlen(RT_PREFIX)) == 0) {
        const char *p = path + strlen(RT_PREFIX);
        if (strcmp(p, "invocation/next") == 0 && m == EVHTTP_REQ_GET) {
            api_rt_next(s, req);
        } else if (strncmp(p, "invocation/", 11) == 0 && m == EVHTTP_REQ_POST) {
            api_rt_result(s, req, p + 11);
        } else if (strcmp(p, "init/error") == 0 && m == EVHTTP_REQ_POST) {
            if (s->phase != PH_INIT) {
                api_error(req, 403, "InvalidStateTransition", "State transition to InitError failed for runtime: init is over");
                return;
            }
            const char *h = api_header(req, "Lambda-Runtime-Function-Error-Type");
            char t[128];
            snprintf(t, sizeof t, "%s", h && *h ? h : "Runtime.Unknown");
            sim_ascii(t);
            api_json(req, 202, "Accepted", json_pack("{s:s}", "status", "OK"));
            sim_on_init_error(s, t);
        } else {
            api_error(req, 404, "NotFound", "unknown Runtime API path or method");
        }
        return;
    }
    api_error(req, 404, "NotFound", "unknown path");
}

int sim_api_start(struct sim *s)
{
    s->http = evhttp_new(s->base);
    if (!s->http)
        return -1;
    evhttp_set_allowed_methods(s->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_PUT);
    /* Above the Runtime API's 6 MiB so that we answer 413 ourselves. */
    evhttp_set_max_body_size(s->http, SIM_RESPONSE_MAX + 1024 * 1024);
    evhttp_set_max_headers_size(s->http, 64 * 1024);
    evhttp_set_gencb(s->http, api_route, s);
    evhttp_set_bevcb(s->http, api_new_bev, s);
    struct evhttp_bound_socket *bs = evhttp_bind_socket_with_handle(s->http, "127.0.0.1", (ev_uint16_t)s->o.port);
    if (!bs)
        return -1;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    if (getsockname(evhttp_bound_socket_get_fd(bs), (struct sockaddr *)&ss, &sl) < 0)
        return -1;
    s->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
    return 0;
}
