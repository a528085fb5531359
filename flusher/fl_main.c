/* fl_main.c — the flusher child: builds its TLS client state after the
 * fork (off the lifecycle's critical path), starts the receivers, reports
 * READY, and answers the supervisor's data and flush frames. */
#include "refusal.h"
#include "fl_main.h"

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "aws_secrets.h"
#include "clock.h"
#include "endpoints.h"
#include "fl_ckpt.h"
#include "fl_pipe.h"
#include "frame.h"
#include "intake.h"
#include "lambda_api.h"
#include "log.h"
#include "peer.h"
#include "receivers.h"
#include "testfault.h"
#include "trace_recv.h"

/* room for a 10 MiB trace payload's frames on top of everything else */
#define FL_WQ_MAX (24u * 1024u * 1024u)
/* Accepted trace data not yet delivered (on its way through the supervisor's
 * spool, or held here) is kept under this: past it tracers get 503 rather
 * than the spool (16 MiB, shared with telemetry) dropping its oldest frames,
 * data that was answered 200. */
#define FL_TRACE_BACKLOG_MAX (8u * 1024u * 1024u)
/* How long a flush waits for a key still being resolved before it is
 * answered "not done" (its data waits for the next flush): FL_KEY_WAIT_MS,
 * or until FL_KEY_TICK_MS * 2 before its own deadline, checked every tick.
 * Resolution takes tens of ms when AWS answers; this bounds what an
 * unreachable AWS endpoint adds to an invocation's end. */
#define FL_KEY_WAIT_MS 1000u
#define FL_KEY_TICK_MS 100u

struct fl {
    struct event_base *base;
    const struct fl_args *a;
    struct peer *sup;
    struct fl_receivers *recv;
    struct fl_intake *intake; /* the HTTPS client (CA store loaded once); NULL = idle */
    struct fl_pipe *pipe;     /* frames and datagrams -> intake posts */
    struct aws_key *key;      /* the API key being resolved from an AWS secret */
    bool key_pending;         /* ... and not resolved (nor failed) yet */
    struct event *key_wait;   /* bounds how long a flush waits for it */
    uint64_t drops_said, t_drops_said; /* kernel drops already warned about, when */
    uint64_t t_drops_polled;
    struct fl_trace_recv *traces; /* the trace port */
    struct fl_lambda_api *lambda; /* the /lambda endpoints */
    uint64_t trace_sent_bytes;    /* payload bytes of FT_TRACES/FT_TRACE_STATS sent to the supervisor */
    uint64_t trace_back_bytes;    /* ... and received back from it (the same bytes) */
};

/* TLS client state: the intake client with the system roots plus
 * DD_TLS_CERT_FILE, built once, after the fork. Its cost is the "flusher
 * tls" checkpoint. Failure leaves the flusher idle, never the process dead. */
static bool fl_tls_init(struct fl *fl)
{
    const struct cfg *c = fl->a->cfg;
    if (c->idle)
        return false; /* nothing will be sent: spend nothing */
    bool key_later = c->key_source != CFG_KEY_ENV;
    struct fl_intake_opts o = {
        .api_key = key_later ? NULL : c->api_key,
        .key_later = key_later,
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

static void on_key_checked(int valid, long http_status, void *arg)
{
    (void)arg;
    /* a 403 was logged by the intake client (one line naming the site);
     * Datadog's extension keeps running on a rejected key, and so do we */
    log_debug("API key check: %s (HTTP %ld)", valid == 1 ? "valid" : valid == 0 ? "rejected" : "inconclusive",
              http_status);
}

/* GET /api/v1/validate once the key is known: a rejected key is said at
 * start-up, not only at the first flush. */
static void fl_check_key(struct fl *fl)
{
    const struct cfg *c = fl->a->cfg;
    struct fl_endpoint_src src = {.site = c->site, .dd_url = c->metrics_url, .logs_dd_url = c->logs_url,
                                  .apm_dd_url = c->apm_url};
    struct fl_endpoints ep;
    char err[256];
    if (fl_endpoints_build(&src, &ep, err, sizeof err) != 0)
        return; /* the pipe said it already */
    uint64_t deadline = clock_us() + (uint64_t)(c->flush_timeout_s ? c->flush_timeout_s : 30) * 1000000u;
    if (fl_intake_validate(fl->intake, ep.validate, deadline, on_key_checked, fl) != 0)
        log_warn("API key check could not be started");
}

static void on_key(const char *key, const char *error, double ms, void *arg)
{
    struct fl *fl = arg;
    const struct cfg *c = fl->a->cfg;
    fl->key_pending = false;
    if (fl->key_wait)
        evtimer_del(fl->key_wait);
    if (key != NULL && fl_intake_set_api_key(fl->intake, key, c->key_source_var) == 0) {
        log_info("API key resolved from %s in %.1f ms (%.1f ms after the flusher started)",
                 c->key_source_var, ms, clock_ms_between(fl->a->t_start_us, clock_us()));
        fl_pipe_key_ready(fl->pipe, true);
        fl_check_key(fl);
    } else {
        if (key != NULL)
            log_error("API key from %s not resolved: the value is not a usable API key (control characters, "
                      "non-ASCII or over 255 bytes); sending nothing (idle mode)",
                      c->key_source_var);
        else
            log_error("%s; sending nothing (idle mode)", error ? error : "API key not resolved");
        fl_pipe_key_ready(fl->pipe, false);
    }
}

static void on_key_wait(evutil_socket_t fd, short what, void *arg);

/* Start resolving the key from its AWS source, on our loop, after the TLS
 * set-up. The AWS credentials are secrets from here on. */
static void fl_key_start(struct fl *fl)
{
    struct aws_key_opts o;
    aws_key_opts_from_env(fl->a->cfg, &o);
#ifdef FORKCAP_TEST_HOOKS
    /* test builds only: sign with a skewed clock (fake-intake's date check) */
    const char *skew = getenv("FORKCAP_TEST_AWS_SKEW_S");
    if (skew)
        o.skew_s = strtol(skew, NULL, 10);
#endif
    char err[400];
    fl->key_pending = true;
    fl->key_wait = event_new(fl->base, -1, EV_PERSIST, on_key_wait, fl);
    struct timeval tick = {FL_KEY_TICK_MS / 1000, (FL_KEY_TICK_MS % 1000) * 1000};
    if (fl->key_wait == NULL || event_add(fl->key_wait, &tick) < 0)
        log_warn("API key: no timer bounds a flush waiting for it (out of memory)");
    fl->key = aws_key_start(fl->base, fl->intake, &o, on_key, fl, err, sizeof err);
    if (fl->key == NULL) {
        fl->key_pending = false;
        log_error("%s; sending nothing (idle mode)", err);
        fl_pipe_key_ready(fl->pipe, false);
    }
}

static void on_key_wait(evutil_socket_t fd, short what, void *arg)
{
    struct fl *fl = arg;
    (void)fd;
    (void)what;
    if (!fl->key_pending)
        return;
    /* a flush (from the supervisor or /lambda/flush) waits at most one tick */
    if (fl_pipe_key_wait_over(fl->pipe, FL_KEY_WAIT_MS * 1000ull, FL_KEY_TICK_MS * 2000ull) > 0)
        log_debug("API key still being resolved: the waiting flush is answered, its data kept");
}

static void fl_send(struct fl *fl, struct frame_buf *fb)
{
    if (peer_send_buf(fl->sup, fb) == 0)
        log_error("cannot queue a frame to the supervisor");
    frame_buf_free(fb);
}

static void fl_emit(struct frame_buf *fb, void *arg)
{
    fl_send(arg, fb);
}

/* A checkpoint is written before anything it vouches for goes on: 200 ms
 * at most (the supervisor reads at once unless it is stopped). */
static void fl_settle(void *arg)
{
    struct fl *fl = arg;
    if (!peer_flush_wait(fl->sup, 200))
        log_debug("supervisor link: a checkpoint is still queued");
}

/* Kernel drops are said when they happen, at most every 10 s, not only in
 * the exit summary. */
#define FL_DROPS_WARN_US (10u * 1000u * 1000u)
#define FL_DROPS_POLL_US (1000u * 1000u)

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    struct fl *fl = arg;
    (void)fd;
    (void)what;
    fl_pipe_tick(fl->pipe);
    refusal_send(fl->sup);
    if (fl->recv == NULL)
        return;
    uint64_t now = clock_us();
    if (now - fl->t_drops_polled >= FL_DROPS_POLL_US) {
        fl_receivers_poll_drops(fl->recv);
        fl->t_drops_polled = now;
    }
    struct fl_receivers_stats rs;
    fl_receivers_stats(fl->recv, &rs);
    if (rs.kernel_drops > fl->drops_said && now - fl->t_drops_said >= FL_DROPS_WARN_US) {
        log_warn("DogStatsD: the kernel dropped %llu datagrams (receive buffer of %u bytes full; "
                 "DD_DOGSTATSD_SO_RCVBUF)",
                 (unsigned long long)(rs.kernel_drops - fl->drops_said), rs.rcvbuf);
        fl->drops_said = rs.kernel_drops;
        fl->t_drops_said = now;
    }
}

static void on_dgram(const char *buf, size_t len, void *arg)
{
    struct fl *fl = arg;
    if (fl->pipe)
        fl_pipe_dogstatsd(fl->pipe, buf, len);
}

/* ---- trace receiver hooks ---- */

static const char *tr_fn_tags(void *arg)
{
    struct fl *fl = arg;
    return fl->pipe ? fl_pipe_function_tags(fl->pipe) : NULL;
}

/* All or none: a payload is either answered 200 with every frame queued or
 * refused (503) with none. */
static int tr_submit(struct frame_buf *fbs, size_t n, size_t data, void *arg)
{
    struct fl *fl = arg;
    size_t bytes = 0;
    for (size_t i = 0; i < n; i++)
        bytes += fbs[i].len;
    if (peer_queued(fl->sup) + bytes > FL_WQ_MAX)
        return -1;
    struct fl_pipe_stats ps;
    fl_pipe_get_stats(fl->pipe, &ps);
    if (fl->trace_back_bytes > fl->trace_sent_bytes) /* replays from a previous flusher */
        fl->trace_back_bytes = fl->trace_sent_bytes;
    uint64_t transit = fl->trace_sent_bytes - fl->trace_back_bytes;
    if (transit + ps.trace_held_bytes + data > FL_TRACE_BACKLOG_MAX)
        return -1;
    fl->trace_sent_bytes += data;
    for (size_t i = 0; i < n; i++)
        if (peer_send(fl->sup, fbs[i].p, fbs[i].len) == 0) {
            /* cannot happen after the check above unless the link died, in
             * which case the process is about to exit and the tracer gets
             * no answer (it retries) */
            log_error("cannot queue a trace frame to the supervisor");
            return i == 0 ? -1 : 0;
        }
    return 0;
}

static bool tr_in_kernel(void *arg)
{
    struct fl *fl = arg;
    return peer_queued(fl->sup) == 0;
}

static void on_sup_drained(struct peer *p, void *arg)
{
    struct fl *fl = arg;
    (void)p;
    fl_trace_recv_drained(fl->traces);
}

/* SIGTERM (the supervisor stopping us): leave the loop so the summary line
 * is written; whatever is still in flight is given up. */
static void on_sigterm(evutil_socket_t sig, short what, void *arg)
{
    struct fl *fl = arg;
    (void)sig;
    (void)what;
    event_base_loopbreak(fl->base);
}

static void on_sup_frame(struct peer *p, const struct frame *f, void *arg)
{
    struct fl *fl = arg;
    if (f == NULL) {
        if (peer_error(p))
            log_error("supervisor link: %s", peer_error(p));
        event_base_loopbreak(fl->base);
        return;
    }
#ifdef FORKCAP_TEST_HOOKS
    /* test builds only: a flusher that never answers, to test deadlines */
    if (f->type == FT_FLUSH && getenv("FORKCAP_TEST_FLUSHER_IGNORE_FLUSH"))
        return;
#endif
    if (f->type == FT_TRACES)
        fl->trace_back_bytes += f->u.traces.pb_len;
    else if (f->type == FT_TRACE_STATS)
        fl->trace_back_bytes += f->u.trace_stats.body_len;
    fl_pipe_frame(fl->pipe, f);
    if (f->type == FT_LOGS)
        TEST_FAULT("fl_tele");
    else if (f->type == FT_FLUSH)
        TEST_FAULT(f->u.flush.has_final && f->u.flush.final ? "fl_final" : "fl_flush");
    if (f->type == FT_CONTEXT)
        fl_lambda_api_context(fl->lambda);
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
    TEST_FAULT("fl_start");
    bool tls_ok = fl_tls_init(&fl); /* on failure it says why, and the flusher stays idle */
    uint64_t t_tls = clock_us();
    char init_type[32];
    const char *it = getenv("AWS_LAMBDA_INITIALIZATION_TYPE");
    snprintf(init_type, sizeof init_type, "%s", it && strlen(it) < sizeof init_type ? it : "");
    /* where runtime detection looks (tests point them at fake trees) */
    const char *proc_root = getenv("FORKCAP_TEST_PROC_ROOT");
    const char *os_release = getenv("FORKCAP_TEST_OS_RELEASE");
    if (proc_root && (!proc_root[0] || strlen(proc_root) > 1024))
        proc_root = NULL;
    if (os_release && (!os_release[0] || strlen(os_release) > 1024))
        os_release = NULL;
    struct fl_pipe_opts po = {
        .cfg = a->cfg,
        .sender = fl.intake,
        .emit = fl_emit,
        .emit_arg = &fl,
        .settle = fl_settle,
        .init_type = init_type[0] ? init_type : NULL,
        .key_pending = tls_ok && a->cfg->key_source != CFG_KEY_ENV,
        .proc_root = proc_root,
        .os_release = os_release,
    };
    fl.pipe = fl_pipe_new(&po);
    if (fl.pipe == NULL) {
        log_error("cannot build the pipeline (out of memory)");
        return 1;
    }
    if (po.key_pending)
        fl_key_start(&fl);
    else if (tls_ok)
        fl_check_key(&fl); /* DD_API_KEY: known now */
    /* the trace port is served by the trace receiver, the rest here */
    struct fl_args ra = *a;
    ra.apm_fd = -1;
    ra.lambda_fd = -1;
    fl.recv = fl_receivers_start(fl.base, &ra, on_dgram, &fl);
    struct fl_trace_recv_hooks th = {
        .fn_tags = tr_fn_tags,
        .submit = fl.intake ? tr_submit : NULL, /* idle: answered, not kept */
        .in_kernel = tr_in_kernel,
        .arg = &fl,
    };
    fl.traces = fl_trace_recv_start(fl.base, a->apm_fd, a->cfg, &th);
    peer_set_drained_cb(fl.sup, on_sup_drained, &fl);
    fl.lambda = fl_lambda_api_start(fl.base, a->lambda_fd, a->cfg, fl.pipe, fl.traces);
    uint64_t t_ready = clock_us();

    struct frame_buf fb = {0};
    frame_encode_ready(&fb, &(struct ft_ready){.t_start_us = a->t_start_us, .t_tls_us = t_tls,
                                               .t_ready_us = t_ready});
    fl_send(&fl, &fb);

    struct event *ev_term = evsignal_new(fl.base, SIGTERM, on_sigterm, &fl);
    if (ev_term == NULL || event_add(ev_term, NULL) < 0)
        log_warn("cannot catch SIGTERM: no summary line at exit");
    struct event *ev_tick = event_new(fl.base, -1, EV_PERSIST, on_tick, &fl);
    struct timeval tv = {0, FL_CKPT_INTERVAL_MS * 1000};
    if (ev_tick == NULL || event_add(ev_tick, &tv) < 0)
        log_warn("no checkpoint timer: DogStatsD state is checkpointed at flushes only");
    event_base_dispatch(fl.base);
    if (ev_tick)
        event_free(ev_tick);
    if (ev_term)
        event_free(ev_term);
    struct fl_pipe_stats ps;
    fl_pipe_get_stats(fl.pipe, &ps);
    struct fl_intake_stats ist = {0};
    if (fl.intake)
        fl_intake_stats(fl.intake, &ist);
    log_info("exiting (metrics): custom %llu samples taken, %llu refused as invalid, %llu over the context limit, "
             "%llu set members over the limit; DogStatsD %llu datagrams too large, %llu lines malformed "
             "(%llu of them |T outside [now - 1 h, now + 10 min]), "
             "%llu events and %llu service checks not supported; enhanced %llu taken, %llu refused",
             (unsigned long long)ps.custom.added, (unsigned long long)ps.custom.invalid,
             (unsigned long long)ps.custom.dropped_contexts, (unsigned long long)ps.custom.set_overflow,
             (unsigned long long)ps.dsd.too_large, (unsigned long long)ps.dsd.invalid,
             (unsigned long long)ps.dsd.bad_timestamp,
             (unsigned long long)ps.dsd.events, (unsigned long long)ps.dsd.service_checks,
             (unsigned long long)ps.enhanced.added,
             (unsigned long long)(ps.enhanced.invalid + ps.enhanced.dropped_contexts));
    {
        char ref[1024];
        refusal_summary(ref, sizeof ref);
        log_info("exiting (refused input, by reason): %s", ref);
        refusal_send(fl.sup);
    }
    log_info("exiting: %llu log records (%llu dropped, %llu malformed, %llu of forkcap's own lines "
             "over their bound), %llu platform frames, "
             "%llu datagrams (%llu enhanced-metric copies dropped), %llu flushes; posts %llu ok, "
             "%llu failed, %llu dropped; acked to %llu; %llu posts cut off by the flush deadline",
             (unsigned long long)ps.records, (unsigned long long)ps.logs_dropped,
             (unsigned long long)ps.records_bad, (unsigned long long)ps.own_lines_dropped,
             (unsigned long long)ps.frames_platform,
             (unsigned long long)ps.datagrams, (unsigned long long)ps.dsd_owned_dropped,
             (unsigned long long)ps.flushes,
             (unsigned long long)ps.posts_ok, (unsigned long long)ps.posts_failed,
             (unsigned long long)ps.posts_dropped, (unsigned long long)ps.acked,
             (unsigned long long)ist.aborted);
    struct fl_receivers_stats rs = {0};
    if (fl.recv) {
        fl_receivers_poll_drops(fl.recv);
        fl_receivers_stats(fl.recv, &rs);
        if (rs.kernel_drops > fl.drops_said)
            log_warn("DogStatsD: the kernel dropped %llu datagrams (receive buffer of %u bytes "
                     "full; DD_DOGSTATSD_SO_RCVBUF)",
                     (unsigned long long)(rs.kernel_drops - fl.drops_said), rs.rcvbuf);
    }
    log_info("exiting (dogstatsd): %llu datagrams in %llu reads, %llu metrics, %llu invalid lines, "
             "%llu dropped by the kernel (receive buffer %u bytes), %llu truncated; "
             "%llu checkpoints (%llu incomplete), %llu payloads restored",
             (unsigned long long)rs.datagrams, (unsigned long long)rs.recv_calls,
             (unsigned long long)ps.dsd_metrics, (unsigned long long)ps.dsd_invalid,
             (unsigned long long)rs.kernel_drops, rs.rcvbuf, (unsigned long long)rs.truncated,
             (unsigned long long)ps.ckpts, (unsigned long long)ps.ckpt_incomplete,
             (unsigned long long)ps.dsd_restored);
    struct fl_trace_recv_stats ts;
    fl_trace_recv_get_stats(fl.traces, &ts);
    if (ts.requests)
        log_info("exiting (trace receiver): %llu requests, %llu payloads (%llu traces, %llu spans), %llu stats; "
                 "refused %llu malformed, %llu too big, %llu busy; %llu P0 chunks dropped; "
                 "shipped %llu of %llu trace frames",
                 (unsigned long long)ts.requests, (unsigned long long)ts.payloads,
                 (unsigned long long)ts.traces, (unsigned long long)ts.spans, (unsigned long long)ts.stats,
                 (unsigned long long)ts.malformed, (unsigned long long)ts.too_big,
                 (unsigned long long)ts.refused, (unsigned long long)ts.p0_chunks,
                 (unsigned long long)ps.trace_delivered, (unsigned long long)ps.trace_frames);
    fl_lambda_api_free(fl.lambda);
    fl_trace_recv_free(fl.traces);
    fl_receivers_free(fl.recv);
    peer_free(fl.sup);
    fl_intake_free(fl.intake); /* no callbacks after this: the pipe can go */
    aws_key_free(fl.key);
    if (fl.key_wait)
        event_free(fl.key_wait);
    fl_pipe_free(fl.pipe);
    event_base_free(fl.base);
    return 0;
}
