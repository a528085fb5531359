/* sim_parse.c — register and telemetry-subscribe bodies: bounded JSON
 * parsing and validation with the errors Lambda gives. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <event2/http.h>
#include <jansson.h>

#include "sim_parse.h"

/* A request body that must be one JSON object (duplicate keys refused, as
 * Lambda does); NULL with msg set otherwise. */
static json_t *load_object(const char *body, size_t len, char *msg, size_t msglen)
{
    json_error_t jerr;
    json_t *j = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!json_is_object(j)) {
        json_decref(j);
        snprintf(msg, msglen, "body is not a JSON object");
        return NULL;
    }
    return j;
}

int sim_parse_register(const char *body, size_t len, struct sim_reg_req *out,
                       const char **err_type, char *msg, size_t msglen)
{
    memset(out, 0, sizeof *out);
    json_t *j = load_object(body, len, msg, msglen);
    if (j == NULL) {
        *err_type = "InvalidRequestFormat";
        return -1;
    }
    json_t *keys = json_object_get(j, "configurationKeys");
    if (keys && !json_is_null(keys) && !(json_is_array(keys) && json_array_size(keys) == 0)) {
        json_decref(j);
        *err_type = "InvalidRequestFormat";
        snprintf(msg, msglen, "configurationKeys are deprecated; use environment variables instead");
        return -1;
    }
    json_t *events = json_object_get(j, "events");
    if (events && !json_is_null(events) && !json_is_array(events)) {
        json_decref(j);
        *err_type = "InvalidRequestFormat";
        snprintf(msg, msglen, "events must be an array");
        return -1;
    }
    size_t k;
    json_t *ev;
    json_array_foreach(events, k, ev) {
        const char *e = json_string_value(ev);
        if (e && strcmp(e, "INVOKE") == 0) {
            out->ev_invoke = true;
        } else if (e && strcmp(e, "SHUTDOWN") == 0) {
            out->ev_shutdown = true;
        } else {
            snprintf(msg, msglen, "%.64s: invalid event type", e ? e : "(non-string)");
            json_decref(j);
            *err_type = "Extension.InvalidEventType";
            return -1;
        }
    }
    json_decref(j);
    return 0;
}

/* A dotted-quad 127.x.y.z. */
static bool sim_is_loopback_v4(const char *h)
{
    unsigned a, b, c, d;
    char tail;
    return sscanf(h, "%u.%u.%u.%u%c", &a, &b, &c, &d, &tail) == 4 && a == 127 && b < 256 && c < 256 && d < 256;
}

static int parse_limit(json_t *obj, const char *key, int def, int lo, int hi, int *out, char *msg, size_t msglen)
{
    json_t *v = json_object_get(obj, key);
    if (!v) {
        *out = def;
        return 0;
    }
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi) {
        snprintf(msg, msglen, "buffering.%s must be an integer in [%d, %d]", key, lo, hi);
        return -1;
    }
    *out = (int)json_integer_value(v);
    return 0;
}

static int parse_rest(json_t *body, struct sim_sub_req *out, char *msg, size_t msglen)
{
    json_t *types = json_object_get(body, "types");
    if (!json_is_array(types) || json_array_size(types) == 0) {
        snprintf(msg, msglen, "types must be a non-empty array");
        return -1;
    }
    size_t k;
    json_t *t;
    json_array_foreach(types, k, t) {
        const char *v = json_string_value(t);
        if (v && strcmp(v, "platform") == 0)
            out->want_platform = true;
        else if (v && strcmp(v, "function") == 0)
            out->want_function = true;
        else if (v && strcmp(v, "extension") == 0)
            out->want_extension = true;
        else {
            snprintf(msg, msglen, "types may hold only platform, function, extension");
            return -1;
        }
    }
    json_t *buffering = json_object_get(body, "buffering");
    if (buffering && !json_is_object(buffering)) {
        snprintf(msg, msglen, "buffering must be an object");
        return -1;
    }
    if (parse_limit(buffering, "maxItems", 10000, 1000, 10000, &out->max_items, msg, msglen) < 0
        || parse_limit(buffering, "maxBytes", 262144, 262144, 1048576, &out->max_bytes, msg, msglen) < 0
        || parse_limit(buffering, "timeoutMs", 1000, 25, 30000, &out->timeout_ms, msg, msglen) < 0)
        return -1;
    return 0;
}

static int parse_sub(json_t *body, struct sim_sub_req *out, char *msg, size_t msglen, bool logs_api)
{
    const char *schema = json_string_value(json_object_get(body, "schemaVersion"));
    if (logs_api) {
        json_t *sv = json_object_get(body, "schemaVersion");
        if (sv && (!schema || (strcmp(schema, "2020-08-15") != 0 && strcmp(schema, "2021-03-18") != 0))) {
            snprintf(msg, msglen, "schemaVersion must be 2020-08-15 or 2021-03-18");
            return -1;
        }
    } else if (!schema || (strcmp(schema, "2022-07-01") != 0 && strcmp(schema, "2022-12-13") != 0
                           && strcmp(schema, "2025-01-29") != 0)) {
        snprintf(msg, msglen, "schemaVersion must be 2022-07-01, 2022-12-13 or 2025-01-29");
        return -1;
    }
    json_t *dest = json_object_get(body, "destination");
    const char *proto = json_string_value(json_object_get(dest, "protocol"));
    const char *uri = json_string_value(json_object_get(dest, "URI"));
    if (proto && strcmp(proto, "TCP") == 0) {
        /* newline-delimited JSON to a port of the sandbox */
        json_t *p = json_object_get(dest, "port");
        if (!json_is_integer(p) || json_integer_value(p) < 1 || json_integer_value(p) > 65535) {
            snprintf(msg, msglen, "destination.port must be an integer in 1-65535 for TCP");
            return -1;
        }
        out->tcp = true;
        out->port = (int)json_integer_value(p);
        snprintf(out->host, sizeof out->host, "127.0.0.1");
        snprintf(out->path, sizeof out->path, "/");
        snprintf(out->uri, sizeof out->uri, "tcp://sandbox.localdomain:%d", out->port);
        return parse_rest(body, out, msg, msglen);
    }
    if (!proto || strcmp(proto, "HTTP") != 0) {
        snprintf(msg, msglen, "destination.protocol must be HTTP or TCP");
        return -1;
    }
    if (!uri || strlen(uri) >= sizeof out->uri || strncmp(uri, "http://", 7) != 0) {
        snprintf(msg, msglen, "destination.URI must be an http:// URI");
        return -1;
    }
    struct evhttp_uri *u = evhttp_uri_parse(uri);
    const char *host = u ? evhttp_uri_get_host(u) : NULL;
    const char *path = u ? evhttp_uri_get_path(u) : NULL;
    int port = u ? evhttp_uri_get_port(u) : -1;
    if (!host || !*host || strlen(host) >= sizeof out->host || (path && strlen(path) >= sizeof out->path)
        || port == 0) {
        if (u)
            evhttp_uri_free(u);
        snprintf(msg, msglen, "destination.URI needs a host (and a port, if any, in 1-65535)");
        return -1;
    }
    snprintf(out->uri, sizeof out->uri, "%s", uri);
    /* Only listeners inside the sandbox: Lambda's names for it and loopback. */
    if (strcasecmp(host, "sandbox.localdomain") == 0 || strcasecmp(host, "sandbox") == 0
        || strcasecmp(host, "localhost") == 0) {
        host = "127.0.0.1";
    } else if (!sim_is_loopback_v4(host)) {
        evhttp_uri_free(u);
        snprintf(msg, msglen, "destination.URI must point into the sandbox (sandbox.localdomain, sandbox or "
                              "a loopback address)");
        return -1;
    }
    snprintf(out->host, sizeof out->host, "%s", host);
    out->port = port > 0 ? port : 80;
    snprintf(out->path, sizeof out->path, "%s", path && *path ? path : "/");
    evhttp_uri_free(u);

    return parse_rest(body, out, msg, msglen);
}

static int parse_any(const char *body, size_t len, struct sim_sub_req *out, char *msg, size_t msglen, bool logs_api)
{
    memset(out, 0, sizeof *out);
    json_t *j = load_object(body, len, msg, msglen);
    if (j == NULL)
        return -1;
    int rc = parse_sub(j, out, msg, msglen, logs_api);
    json_decref(j);
    return rc;
}

int sim_parse_subscribe(const char *body, size_t len, struct sim_sub_req *out, char *msg, size_t msglen)
{
    return parse_any(body, len, out, msg, msglen, false);
}

int sim_parse_logs_subscribe(const char *body, size_t len, struct sim_sub_req *out, char *msg, size_t msglen)
{
    return parse_any(body, len, out, msg, msglen, true);
}
