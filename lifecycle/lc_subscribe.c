/* lc_subscribe.c — see lc_subscribe.h. The subscription goes on a second
 * Runtime API connection so that /next (on the first) can start as soon as
 * the PUT is in the kernel, without waiting for its answer (Datadog measured
 * ~25 ms for it on Lambda). The platform accepts subscriptions until init
 * ends, and init cannot end before our /next; /next's connection is opened
 * only after the PUT's bytes were written, so the platform reads the PUT
 * first. (A platform that handled them out of order would answer 403
 * Telemetry.SubscriptionClosed: logged as an error, never retried.) */
#include "lc_subscribe.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include "lc_http.h"
#include "lc_listener.h"
#include "log.h"

struct lc_tele {
    struct event_base *base;
    struct lc_listener *listener;
    struct lc_http *http;
    unsigned port;
    bool logs;
    lc_proceed_fn proceed;
    lc_subscribed_fn done;
    void *arg;
};

int lc_subscribe_body(char *buf, size_t cap, unsigned port, bool logs_enabled)
{
    int n = snprintf(buf, cap,
                     "{\"schemaVersion\":\"%s\",\"destination\":{\"protocol\":\"HTTP\","
                     "\"URI\":\"http://sandbox.localdomain:%u\"},\"types\":[%s],"
                     "\"buffering\":{\"maxItems\":%d,\"maxBytes\":%d,\"timeoutMs\":%d}}",
                     LC_SUB_SCHEMA, port,
                     logs_enabled ? "\"platform\",\"function\",\"extension\"" : "\"platform\"",
                     LC_SUB_MAX_ITEMS, LC_SUB_MAX_BYTES, LC_SUB_TIMEOUT_MS);
    return n > 0 && (size_t)n < cap ? n : -1;
}

struct lc_tele *lc_tele_start(struct event_base *base, struct peer *sup, const struct lc_args *a)
{
    if (a->telemetry_fd < 0 || a->cfg->idle)
        return NULL;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    unsigned port = a->telemetry_port;
    if (getsockname(a->telemetry_fd, (struct sockaddr *)&ss, &sl) == 0) {
        if (ss.ss_family == AF_INET)
            port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
        else if (ss.ss_family == AF_INET6)
            port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    }
    struct lc_tele *t = calloc(1, sizeof *t);
    if (t == NULL)
        return NULL;
    t->base = base;
    t->port = port;
    t->logs = a->cfg->logs_enabled;
    t->listener = lc_listener_new(base, a->telemetry_fd, sup, t->logs);
    if (t->listener == NULL) {
        free(t);
        return NULL;
    }
    lc_listener_set_memory_mb(t->listener, a->cfg->memory_mb);
    return t;
}

void lc_tele_set_pressure(struct lc_tele *t, bool full)
{
    if (t)
        lc_listener_set_pressure(t->listener, full);
}

void lc_tele_free(struct lc_tele *t)
{
    if (t == NULL)
        return;
    lc_listener_free(t->listener);
    lc_http_free(t->http);
    free(t);
}

static void proceed_once(struct lc_tele *t)
{
    lc_proceed_fn fn = t->proceed;
    t->proceed = NULL;
    if (fn)
        fn(t->arg);
}

static void on_sent(void *arg)
{
    proceed_once(arg);
}

static void on_answer(const struct lc_http_resp *r, const char *err, void *arg)
{
    struct lc_tele *t = arg;
    int status = r ? r->status : -1;
    if (r == NULL)
        log_warn("telemetry subscribe: %s; no telemetry for this sandbox", err);
    else if (status == 202)
        log_info("telemetry subscribe: not supported here (202)");
    else if (status >= 400)
        log_error("telemetry subscribe refused: %d %.200s", status, r->body);
    else if (status != 200)
        log_warn("telemetry subscribe answered %d", status);
    proceed_once(t);
    lc_subscribed_fn done = t->done;
    t->done = NULL;
    if (done)
        done(status, t->arg);
}

void lc_telemetry_subscribe(struct lc_tele *t, const char *ext_id, const struct lc_args *a,
                            lc_proceed_fn proceed, lc_subscribed_fn done, void *arg)
{
    char body[512], idh[LC_EXT_ID_MAX + 40], err[160];
    if (t == NULL || lc_subscribe_body(body, sizeof body, t->port, t->logs) < 0) {
        proceed(arg);
        done(-1, arg);
        return;
    }
    if (t->http == NULL)
        t->http = lc_http_new(t->base, a->cfg->runtime_api, err, sizeof err);
    snprintf(idh, sizeof idh, "Lambda-Extension-Identifier: %s", ext_id);
    const char *hdrs[] = {idh, NULL};
    t->proceed = proceed;
    t->done = done;
    t->arg = arg;
    if (t->http == NULL ||
        lc_http_request(t->http, "PUT", LC_SUB_PATH, hdrs, body, strlen(body), on_answer, t) < 0) {
        log_warn("telemetry subscribe: cannot start the request");
        on_answer(NULL, "not sent", t);
        return;
    }
    lc_http_on_sent(t->http, on_sent, t);
}
