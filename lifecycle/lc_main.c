/* lc_main.c — the lifecycle child: register (or resume with the kept
 * identifier), report to the supervisor, then the /next loop. It never
 * waits for the flusher; it waits only for the supervisor's go-ahead. */
#include "lifecycle.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <event2/event.h>
#include <jansson.h>

#include "clock.h"
#include "frame.h"
#include "lc_http.h"
#include "lc_subscribe.h"
#include "log.h"
#include "peer.h"
#include "testfault.h"

#define LC_PATH_REGISTER "/2020-01-01/extension/register"
#define LC_PATH_NEXT "/2020-01-01/extension/event/next"
#define LC_WQ_MAX (8u * 1024u * 1024u)
#define LC_BACKOFF_MIN_MS 2u
#define LC_BACKOFF_MAX_MS 50u /* a frozen sandbox freezes the retries too */
#define LC_TRANSPORT_BACKOFF_MAX_MS 1000u
/* bounds on what one platform event may carry into a frame */
#define LC_REQID_MAX 256u
#define LC_ARN_MAX 2048u
#define LC_REASON_MAX 128u

enum lc_state {
    LC_REGISTERING,
    LC_SUBSCRIBING,
    LC_IN_NEXT,
    LC_WAIT_GO,
    LC_SHUTDOWN, /* SHUTDOWN received: nothing more to ask the platform */
    LC_REFUSED,  /* the platform refused us for good: stay alive, ask nothing */
};

struct lc {
    struct event_base *base;
    const struct lc_args *a;
    struct peer *sup;
    struct lc_http *http;
    struct lc_tele *tele; /* Telemetry API listener; NULL when off */
    enum lc_state st;
    char ext_id[LC_EXT_ID_MAX];
    struct event *retry;
    uint32_t backoff_ms;
    uint64_t t_register_us;
    unsigned invokes;
    int garbage_at; /* test builds only: send a broken frame after this INVOKE */
};

static void lc_next(struct lc *lc);
static void lc_register(struct lc *lc);

static void lc_send(struct lc *lc, struct frame_buf *fb)
{
    if (peer_send_buf(lc->sup, fb) == 0)
        log_error("cannot queue a frame to the supervisor");
    frame_buf_free(fb);
}

static void lc_fatal(struct lc *lc, int status, const char *error)
{
    struct frame_buf fb = {0};
    log_error("%s", error);
    frame_encode_fatal(&fb, &(struct ft_fatal){.error = error, .status = status,
                                               .has_status = true});
    lc_send(lc, &fb);
    lc->st = LC_REFUSED;
}

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
    struct lc *lc = arg;
    (void)fd;
    (void)what;
    if (lc->st == LC_REGISTERING)
        lc_register(lc);
    else if (lc->st == LC_IN_NEXT)
        lc_next(lc);
}

/* Retry the current step after a doubling delay, capped at max_ms. */
static void lc_backoff(struct lc *lc, uint32_t max_ms)
{
    lc->backoff_ms = lc->backoff_ms ? lc->backoff_ms * 2 : LC_BACKOFF_MIN_MS;
    if (lc->backoff_ms > max_ms)
        lc->backoff_ms = max_ms;
    struct timeval tv = {lc->backoff_ms / 1000, (lc->backoff_ms % 1000) * 1000};
    evtimer_add(lc->retry, &tv);
}

/* errorType of a platform error body, "" when none can be read. */
static void error_type(const struct lc_http_resp *r, char *out, size_t cap)
{
    out[0] = '\0';
    json_t *j = json_loadb(r->body, r->body_len, 0, NULL);
    const char *t = j ? json_string_value(json_object_get(j, "errorType")) : NULL;
    if (t)
        snprintf(out, cap, "%s", t);
    json_decref(j);
}

/* A bounded string member; false when absent, not a string or too long. */
static bool json_str(json_t *o, const char *key, size_t max, const char **out)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_string(v) || json_string_length(v) > max)
        return false;
    *out = json_string_value(v);
    return true;
}

/* deadlineMs: the emulator sends an integer, the docs a string. */
static bool json_deadline(json_t *o, int64_t *out)
{
    json_t *v = json_object_get(o, "deadlineMs");
    if (json_is_integer(v)) {
        *out = (int64_t)json_integer_value(v);
        return true;
    }
    if (json_is_real(v)) {
        *out = (int64_t)json_real_value(v);
        return true;
    }
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        char *end;
        errno = 0;
        long long d = strtoll(s, &end, 10);
        if (*s && !*end && errno == 0) {
            *out = d;
            return true;
        }
    }
    return false;
}

#ifdef FORKCAP_TEST_HOOKS
/* Test builds only: a frame whose declared body is far larger than it is. */
static void lc_send_garbage(struct lc *lc)
{
    uint8_t junk[] = {0, 0, 0, 10, 0x94, 0x01, 0x04, 0x01, 0xdf, 0x7f, 0xff, 0xff, 0xff, 0x00};
    log_warn("test hook: sending a malformed frame to the supervisor");
    ssize_t w = write(peer_fd(lc->sup), junk, sizeof junk);
    (void)w;
}

/* Test builds only: die as soon as FT_SHUTDOWN is on its way, before
 * Lambda's last telemetry arrives. */
static void lc_die(struct peer *p, void *arg)
{
    (void)p;
    (void)arg;
    raise(SIGKILL);
}

static void lc_die_at_shutdown(struct lc *lc)
{
    if (!getenv("FORKCAP_TEST_LIFECYCLE_DIE_AT_SHUTDOWN"))
        return;
    log_warn("test hook: dying at SHUTDOWN");
    if (peer_queued(lc->sup) == 0)
        raise(SIGKILL);
    peer_set_drained_cb(lc->sup, lc_die, lc);
}
#endif

static void on_event(const struct lc_http_resp *r, const char *err, void *arg)
{
    struct lc *lc = arg;
    if (r == NULL) {
        log_warn("/next: %s; retrying", err);
        lc_backoff(lc, LC_TRANSPORT_BACKOFF_MAX_MS);
        return;
    }
    if (r->status == 403) {
        char et[128];
        error_type(r, et, sizeof et);
        if (strcmp(et, "Extension.InvalidExtensionState") == 0) {
            /* an earlier child's /next is still pending on the platform */
            log_debug("/next: %s, retrying in %u ms", et, lc->backoff_ms ? lc->backoff_ms * 2 : LC_BACKOFF_MIN_MS);
            lc_backoff(lc, LC_BACKOFF_MAX_MS);
            return;
        }
        char msg[256];
        snprintf(msg, sizeof msg, "/next refused: 403 %.128s", et[0] ? et : "(no errorType)");
        lc_fatal(lc, r->status, msg);
        return;
    }
    if (r->status != 200) {
        log_warn("/next answered %d; retrying", r->status);
        lc_backoff(lc, LC_TRANSPORT_BACKOFF_MAX_MS);
        return;
    }
    lc->backoff_ms = 0;
    json_error_t jerr;
    json_t *j = json_loadb(r->body, r->body_len, JSON_REJECT_DUPLICATES, &jerr);
    const char *type = j ? json_string_value(json_object_get(j, "eventType")) : NULL;
    struct frame_buf fb = {0};
    int64_t deadline = 0;
    if (type && strcmp(type, "INVOKE") == 0) {
        const char *rid, *arn = "";
        if (!json_str(j, "requestId", LC_REQID_MAX, &rid) || !json_deadline(j, &deadline)) {
            log_warn("/next: INVOKE without a usable requestId or deadlineMs; calling /next again");
            json_decref(j);
            lc_next(lc);
            return;
        }
        if (!json_str(j, "invokedFunctionArn", LC_ARN_MAX, &arn))
            arn = "";
        frame_encode_invoke(&fb, &(struct ft_invoke){.request_id = rid, .deadline_ms = deadline,
                                                     .arn = arn});
        json_decref(j);
        lc->invokes++;
        lc->st = LC_WAIT_GO;
        lc_send(lc, &fb);
        TEST_FAULT("lc_invoke");
#ifdef FORKCAP_TEST_HOOKS
        if (lc->garbage_at > 0 && lc->invokes == (unsigned)lc->garbage_at)
            lc_send_garbage(lc);
#endif
        return;
    }
    if (type && strcmp(type, "SHUTDOWN") == 0) {
        const char *reason;
        if (!json_str(j, "shutdownReason", LC_REASON_MAX, &reason))
            reason = "unknown";
        if (!json_deadline(j, &deadline))
            deadline = clock_epoch_ms() + 2000; /* Lambda's shutdown budget */
        frame_encode_shutdown(&fb,
                              &(struct ft_shutdown){.reason = reason, .deadline_ms = deadline});
        json_decref(j);
        lc->st = LC_SHUTDOWN;
        lc_send(lc, &fb);
        TEST_FAULT("lc_shutdown");
#ifdef FORKCAP_TEST_HOOKS
        lc_die_at_shutdown(lc);
#endif
        return;
    }
    if (j == NULL)
        log_warn("/next: unreadable event (%s); calling /next again", jerr.text);
    else
        log_warn("/next: unknown event type %.64s; calling /next again", type ? type : "(none)");
    json_decref(j);
    lc_next(lc);
}

#ifdef FORKCAP_TEST_HOOKS
/* The /next request is in the kernel: the lifecycle is parked in /next, and
 * Lambda will hand its next event to this connection. */
static void on_next_sent(void *arg)
{
    (void)arg;
    TEST_FAULT("lc_next_wait");
}
#endif

static void lc_next(struct lc *lc)
{
    char idh[LC_EXT_ID_MAX + 40];
    snprintf(idh, sizeof idh, "Lambda-Extension-Identifier: %s", lc->ext_id);
    const char *hdrs[] = {idh, NULL};
    struct frame_buf fb = {0};
    TEST_FAULT("lc_next_before");
    lc->st = LC_IN_NEXT;
    frame_encode_next_wait(&fb, &(struct ft_next_wait){.t_us = clock_us()});
    lc_send(lc, &fb);
    if (lc_http_request(lc->http, "GET", LC_PATH_NEXT, hdrs, NULL, 0, on_event, lc) < 0) {
        log_warn("/next: cannot start the request; retrying");
        lc_backoff(lc, LC_TRANSPORT_BACKOFF_MAX_MS);
    }
#ifdef FORKCAP_TEST_HOOKS
    else
        lc_http_on_sent(lc->http, on_next_sent, lc);
#endif
}

/* The subscribe PUT is on the wire (or was not sent): /next need not wait
 * for its answer, which arrives on another connection. */
static void on_subscribe_sent(void *arg)
{
    struct lc *lc = arg;
    if (lc->st == LC_SUBSCRIBING)
        lc_next(lc);
}

static void on_subscribed(int status, void *arg)
{
    struct lc *lc = arg;
    struct frame_buf fb = {0};
    frame_encode_subscribed(&fb,
                            &(struct ft_subscribed){.status = status, .t_subscribe_us = clock_us()});
    lc_send(lc, &fb);
}

static void on_registered(const struct lc_http_resp *r, const char *err, void *arg)
{
    struct lc *lc = arg;
    char msg[300];
    if (r == NULL) {
        log_warn("register: %s; retrying", err);
        lc_backoff(lc, LC_TRANSPORT_BACKOFF_MAX_MS);
        return;
    }
    lc->t_register_us = clock_us();
    if (r->status != 200) {
        char et[128];
        error_type(r, et, sizeof et);
        snprintf(msg, sizeof msg, "register refused: %d %.128s", r->status, et[0] ? et : "");
        lc_fatal(lc, r->status, msg);
        return;
    }
    if (r->ext_id[0] == '\0') {
        lc_fatal(lc, r->status, "register answered 200 without Lambda-Extension-Identifier");
        return;
    }
    lc->backoff_ms = 0;
    snprintf(lc->ext_id, sizeof lc->ext_id, "%s", r->ext_id);
    json_t *j = json_loadb(r->body, r->body_len, 0, NULL);
    const char *fn = NULL, *ver = NULL, *acct = NULL;
    if (j) {
        json_str(j, "functionName", CFG_STR_MAX - 1, &fn);
        json_str(j, "functionVersion", CFG_STR_MAX - 1, &ver);
        json_str(j, "accountId", CFG_STR_MAX - 1, &acct);
    }
    struct frame_buf fb = {0};
    const struct ft_registered m = {
        .ext_id = lc->ext_id,
        .fn_name = fn ? fn : lc->a->cfg->fn_name,
        .fn_version = ver ? ver : "$LATEST",
        .account_id = acct,
        .t_register_us = lc->t_register_us,
    };
    frame_encode_registered(&fb, &m);
    json_decref(j);
    lc_send(lc, &fb);
    lc->st = LC_SUBSCRIBING;
    lc_telemetry_subscribe(lc->tele, lc->ext_id, lc->a, on_subscribe_sent, on_subscribed, lc);
}

static void lc_register(struct lc *lc)
{
    char nameh[LC_NAME_MAX + 32];
    snprintf(nameh, sizeof nameh, "Lambda-Extension-Name: %s", lc->a->ext_name);
    const char *hdrs[] = {nameh, "Lambda-Extension-Accept-Feature: accountId", NULL};
    static const char body[] = "{\"events\":[\"INVOKE\",\"SHUTDOWN\"]}";
    lc->st = LC_REGISTERING;
    if (lc_http_request(lc->http, "POST", LC_PATH_REGISTER, hdrs, body, sizeof body - 1,
                        on_registered, lc) < 0) {
        log_warn("register: cannot start the request; retrying");
        lc_backoff(lc, LC_TRANSPORT_BACKOFF_MAX_MS);
    }
    TEST_FAULT("lc_register");
}

static void on_sup_frame(struct peer *p, const struct frame *f, void *arg)
{
    struct lc *lc = arg;
    if (f == NULL) {
        /* the supervisor is gone or broke the protocol: nothing to serve */
        if (peer_error(p))
            log_error("supervisor link: %s", peer_error(p));
        event_base_loopbreak(lc->base);
        return;
    }
    if (f->type == FT_GO && lc->st == LC_WAIT_GO)
        lc_next(lc);
    else if (f->type == FT_PRESSURE)
        lc_tele_set_pressure(lc->tele, f->u.pressure.full);
}

int lc_main(const struct lc_args *a)
{
    struct lc lc = {.a = a};
    log_set_component("lifecycle");
    lc.base = event_base_new();
    if (lc.base == NULL) {
        log_error("cannot create an event base");
        return 1;
    }
    char err[160];
    lc.http = lc_http_new(lc.base, a->cfg->runtime_api, err, sizeof err);
    lc.sup = peer_new(lc.base, a->sup_fd, "supervisor", FRAME_DIR_S2L, LC_WQ_MAX, on_sup_frame, &lc);
    lc.retry = evtimer_new(lc.base, on_retry, &lc);
    if (lc.http == NULL) {
        /* the Runtime API address does not resolve: no restart will fix it */
        log_error("cannot start: %s", err);
        return LC_EXIT_PERMANENT;
    }
    if (lc.sup == NULL || lc.retry == NULL) {
        log_error("cannot start: out of memory");
        return 1;
    }
    /* every child serves the inherited socket; only the first subscribes
     * (Lambda refuses a subscription after init) */
    lc.tele = lc_tele_start(lc.base, lc.sup, a);
#ifdef FORKCAP_TEST_HOOKS
    const char *g = getenv("FORKCAP_TEST_GARBAGE_AT_INVOKE");
    lc.garbage_at = g ? atoi(g) : 0;
#endif
    if (a->after_shutdown) {
        /* the platform sent SHUTDOWN already: another /next would wait for
         * an event that never comes */
        snprintf(lc.ext_id, sizeof lc.ext_id, "%s", a->ext_id);
        lc.st = LC_SHUTDOWN;
    } else if (a->ext_id[0]) {
        /* a replacement child: the platform already knows us */
        snprintf(lc.ext_id, sizeof lc.ext_id, "%s", a->ext_id);
        lc_next(&lc);
    } else {
        lc_register(&lc);
    }
    event_base_dispatch(lc.base);
    /* only a dead supervisor link ends the loop */
    return 0;
}
