/* fl_main.c — the flusher child: builds its TLS client state after the
 * fork (off the lifecycle's critical path), starts the receivers, reports
 * READY, and answers the supervisor's data and flush frames. */
#include "fl_main.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "clock.h"
#include "frame.h"
#include "intake.h"
#include "log.h"
#include "peer.h"
#include "receivers.h"

#define FL_WQ_MAX (8u * 1024u * 1024u)

struct fl {
    struct event_base *base;
    const struct fl_args *a;
    struct peer *sup;
    struct fl_receivers *recv;
    struct fl_intake *intake; /* the HTTPS client (CA store loaded once); NULL = idle */
    uint64_t last_data_seq; /* highest FT_PLATFORM/FT_LOGS seq received */
    uint64_t data_frames;
    char fn_name[CFG_STR_MAX];
    char request_id[CFG_STR_MAX];
};

/* TLS client state: the intake client with the system roots plus
 * DD_TLS_CERT_FILE, built once, after the fork. Its cost is the "flusher
 * tls" checkpoint. Failure leaves the flusher idle, never the process dead. */
static bool fl_tls_init(struct fl *fl)
{
    const struct cfg *c = fl->a->cfg;
    if (c->idle)
        return false; /* nothing will be sent: spend nothing */
    struct fl_intake_opts o = {
        .api_key = c->api_key,
        .proxy = c->proxy_https,
        .no_proxy = c->no_proxy,
        .extra_ca_file = c->tls_cert_file[0] ? c->tls_cert_file : NULL,
        .timeout_ms = (long)c->flush_timeout_s * 1000,
        .http1_only = c->http_protocol == CFG_HTTP1,
        .skip_verify = c->skip_ssl_validation,
        .zstd_level = c->compression_level,
    };
    char err[256];
    fl->intake = fl_intake_new(fl->base, &o, err, sizeof err);
    if (fl->intake == NULL) {
        log_error("intake client not built, sending nothing: %s", err);
        return false;
    }
    return true;
}

static void fl_send(struct fl *fl, struct frame_buf *fb)
{
    if (peer_send_buf(fl->sup, fb) == 0)
        log_error("cannot queue a frame to the supervisor");
    frame_buf_free(fb);
}

/* The intake pipeline's entry: deliver what is pending within budget_ms,
 * then report. For now nothing is shipped: every data frame received so
 * far is acknowledged as handled. */
static void fl_flush(struct fl *fl, uint64_t flush_id, uint64_t budget_ms, bool final)
{
    uint64_t t0 = clock_us();
    struct frame_buf fb = {0};
    (void)budget_ms;
    log_debug("flush %llu%s: %llu data frames so far", (unsigned long long)flush_id,
              final ? " (final)" : "", (unsigned long long)fl->data_frames);
    frame_begin(&fb, FT_ACK);
    frame_put_uint(&fb, "upto", fl->last_data_seq);
    fl_send(fl, &fb);
    frame_begin(&fb, FT_FLUSHED);
    frame_put_uint(&fb, "flush_id", flush_id);
    frame_put_bool(&fb, "ok", true);
    frame_put_uint(&fb, "sent", 0);
    frame_put_uint(&fb, "ms", (clock_us() - t0) / 1000);
    fl_send(fl, &fb);
}

static void on_sup_frame(struct peer *p, const struct frame *f, void *arg)
{
    struct fl *fl = arg;
    const char *s;
    uint64_t id, budget;
    bool final = false;
    if (f == NULL) {
        if (peer_error(p))
            log_error("supervisor link: %s", peer_error(p));
        event_base_loopbreak(fl->base);
        return;
    }
    switch (f->type) {
    case FT_PLATFORM:
    case FT_LOGS:
        fl->data_frames++;
        fl->last_data_seq = f->seq;
        break;
    case FT_CONTEXT:
        if (frame_get_str(f, "fn_name", &s, NULL))
            snprintf(fl->fn_name, sizeof fl->fn_name, "%s", s);
        if (frame_get_str(f, "request_id", &s, NULL))
            snprintf(fl->request_id, sizeof fl->request_id, "%s", s);
        break;
    case FT_FLUSH:
#ifdef FORKCAP_TEST_HOOKS
        /* test builds only: a flusher that never answers, to test deadlines */
        if (getenv("FORKCAP_TEST_FLUSHER_IGNORE_FLUSH"))
            break;
#endif
        frame_get_uint(f, "flush_id", &id);
        frame_get_uint(f, "budget_ms", &budget);
        frame_get_bool(f, "final", &final);
        fl_flush(fl, id, budget, final);
        break;
    default:
        break;
    }
}

int fl_main(const struct fl_args *a)
{
    struct fl fl = {.a = a};
    log_set_component("flusher");
    fl.base = event_base_new();
    if (fl.base == NULL) {
        log_error("cannot create an event base");
        return 1;
    }
    fl.sup = peer_new(fl.base, a->sup_fd, "supervisor", FRAME_DIR_S2F, FL_WQ_MAX, on_sup_frame, &fl);
    if (fl.sup == NULL) {
        log_error("cannot set up the supervisor link");
        return 1;
    }
    bool tls_ok = fl_tls_init(&fl);
    uint64_t t_tls = clock_us();
    fl.recv = fl_receivers_start(fl.base, a);
    uint64_t t_ready = clock_us();

    struct frame_buf fb = {0};
    frame_begin(&fb, FT_READY);
    frame_put_uint(&fb, "t_start_us", a->t_start_us);
    frame_put_uint(&fb, "t_tls_us", t_tls);
    frame_put_uint(&fb, "t_ready_us", t_ready);
    frame_put_bool(&fb, "tls_ok", tls_ok);
    fl_send(&fl, &fb);

    event_base_dispatch(fl.base);
    fl_receivers_free(fl.recv);
    peer_free(fl.sup);
    fl_intake_free(fl.intake);
    event_base_free(fl.base);
    return 0;
}
