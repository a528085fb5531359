/* intake_post.c — test and bench driver for the flusher's intake client: reads
 * the extension's DD_* variables, posts K small payloads, one JSON line each.
 *
 * intake-post [--kind series|logs|validate] [--count K] [--gap-ms G]
 *             [--budget-ms B] [--flush] [--no-resume] [--delayed-ack]
 *             [--no-compress] [--ca-file PATH] [--retry-buffer BYTES]
 * --no-resume and --delayed-ack are for the bench: a full TLS handshake
 * every time; the kernel's delayed ACKs left on (the client re-arms
 * TCP_QUICKACK at every read otherwise).
 * Sequential by default: post i+1 starts G ms after post i is final, each
 * bounded by B ms (default: none, DD_FLUSH_TIMEOUT per attempt). --flush
 * sends all K as one fl_intake_flush with budget B (default 10 s), then, if
 * any were kept, a second flush resending the retry buffer.
 * Lines (stdout): {"event":"init",...}, {"event":"result",...} per payload,
 * {"event":"flush",...} per flush, {"event":"summary",...}. Logs on stderr.
 * Exit 0 when every payload ended ok, 1 otherwise, 2 on bad config/usage. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <jansson.h>

#include "clock.h"
#include "config.h"
#include "endpoints.h"
#include "intake.h"
#include "log.h"

#define MAX_COUNT 100000

struct run {
    struct event_base *base;
    struct fl_intake *in;
    struct fl_endpoints ep;
    const char *kind;
    long count, gap_ms, budget_ms;
    bool flush_mode, compress;
    long next, done, ok;
    int flushes;
    double *ms;
    uint64_t t0;
    struct event *gap_ev;
    char body[512];
};

static void emit(json_t *o)
{
    char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (s) {
        puts(s);
        fflush(stdout);
        free(s);
    }
    json_decref(o);
}

static const char *env_or_dummy(const char *name, void *arg)
{
    (void)arg;
    const char *v = getenv(name);
    /* the driver runs outside Lambda: the Runtime API is not used */
    if (v == NULL && strcmp(name, "AWS_LAMBDA_RUNTIME_API") == 0)
        return "127.0.0.1:9001";
    return v;
}

static void build_post(struct run *r, long i, struct fl_post *p)
{
    static const char *const log_headers[] = {"DD-PROTOCOL: agent-json", NULL};
    memset(p, 0, sizeof *p);
    p->tag = (uint64_t)i;
    p->compress = r->compress;
    if (strcmp(r->kind, "logs") == 0) {
        snprintf(r->body, sizeof r->body,
                 "[{\"message\":\"intake-post %ld\",\"status\":\"info\",\"hostname\":\"intake-post\","
                 "\"service\":\"intake-post\",\"ddsource\":\"lambda\"}]",
                 i);
        p->url = r->ep.logs;
        p->content_type = "application/json";
        p->headers = log_headers;
    } else {
        snprintf(r->body, sizeof r->body,
                 "{\"series\":[{\"metric\":\"forkcap.intake_post\",\"type\":3,\"points\":"
                 "[{\"timestamp\":%lld,\"value\":%ld}],\"tags\":[\"source:intake-post\"]}]}",
                 (long long)(clock_epoch_ms() / 10000 * 10), i);
        p->url = r->ep.series;
        p->content_type = "application/json";
    }
    p->body = r->body;
    p->len = strlen(r->body);
}

static void on_result(const struct fl_post_result *res, void *arg)
{
    struct run *r = arg;
    json_t *o = json_object();
    json_object_set_new(o, "event", json_string("result"));
    json_object_set_new(o, "i", json_integer((json_int_t)res->tag));
    json_object_set_new(o, "outcome", json_string(fl_outcome_name(res->outcome)));
    json_object_set_new(o, "status", json_integer(res->http_status));
    json_object_set_new(o, "curl", json_integer(res->curl_code));
    json_object_set_new(o, "error", json_string(res->error));
    json_object_set_new(o, "attempts", json_integer(res->attempts));
    json_object_set_new(o, "bytes", json_integer((json_int_t)res->bytes));
    json_object_set_new(o, "ms", json_real(res->ms));
    json_object_set_new(o, "connect_ms", json_real(res->connect_ms));
    json_object_set_new(o, "tls_ms", json_real(res->tls_ms));
    json_object_set_new(o, "first_byte_ms", json_real(res->first_byte_ms));
    json_object_set_new(o, "new_conn", json_boolean(res->new_conn));
    json_object_set_new(o, "tls", json_boolean(res->tls));
    json_object_set_new(o, "tls_resumed", json_boolean(res->tls_resumed));
    json_object_set_new(o, "h2", json_boolean(res->h2));
    json_object_set_new(o, "proxy", json_boolean(res->via_proxy));
    json_object_set_new(o, "kept", json_boolean(res->kept));
    json_object_set_new(o, "resent", json_boolean(res->resent));
    emit(o);
    if (res->outcome == FL_DROPPED)
        return;
    if (res->outcome == FL_OK)
        r->ok++;
    /* in flush mode a kept payload gets its final word from the resend */
    bool final = !r->flush_mode || !res->kept || r->flushes >= 2;
    if (final && r->done < r->count)
        r->ms[r->done++] = res->ms;
    if (!r->flush_mode) {
        if (r->next >= r->count) {
            event_base_loopexit(r->base, NULL);
            return;
        }
        struct timeval tv = {r->gap_ms / 1000, (r->gap_ms % 1000) * 1000};
        evtimer_add(r->gap_ev, &tv);
    }
}

static void post_next(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct run *r = arg;
    struct fl_post p;
    build_post(r, r->next, &p);
    uint64_t deadline = r->budget_ms > 0 ? clock_us() + (uint64_t)r->budget_ms * 1000u : 0;
    r->next++;
    if (fl_intake_post(r->in, &p, deadline, on_result, r) != 0) {
        fprintf(stderr, "intake-post: post refused\n");
        event_base_loopexit(r->base, NULL);
    }
}

static void start_flush(struct run *r, bool resend_only);

static void on_flush(const struct fl_flush_summary *s, void *arg)
{
    struct run *r = arg;
    json_t *o = json_object();
    json_object_set_new(o, "event", json_string("flush"));
    json_object_set_new(o, "posted", json_integer(s->posted));
    json_object_set_new(o, "ok", json_integer(s->ok));
    json_object_set_new(o, "rejected", json_integer(s->rejected));
    json_object_set_new(o, "forbidden", json_integer(s->forbidden));
    json_object_set_new(o, "failed", json_integer(s->failed));
    json_object_set_new(o, "aborted", json_integer(s->aborted));
    json_object_set_new(o, "dropped", json_integer(s->dropped));
    json_object_set_new(o, "ms", json_real(s->ms));
    json_object_set_new(o, "deadline_hit", json_boolean(s->deadline_hit));
    emit(o);
    struct fl_intake_stats st;
    fl_intake_stats(r->in, &st);
    if (st.kept > 0 && r->flushes < 2)
        start_flush(r, true);
    else
        event_base_loopexit(r->base, NULL);
}

static void start_flush(struct run *r, bool resend_only)
{
    struct fl_post *posts = NULL;
    char *bodies = NULL;
    size_t n = resend_only ? 0 : (size_t)r->count;
    if (n) {
        posts = calloc(n, sizeof *posts);
        bodies = calloc(n, sizeof r->body);
        if (!posts || !bodies) {
            fprintf(stderr, "intake-post: out of memory\n");
            exit(2);
        }
        for (size_t i = 0; i < n; i++) {
            build_post(r, (long)i, &posts[i]);
            memcpy(bodies + i * sizeof r->body, r->body, sizeof r->body);
            posts[i].body = bodies + i * sizeof r->body;
        }
    }
    long budget = r->budget_ms > 0 ? r->budget_ms : 10000;
    r->flushes++;
    int rc = fl_intake_flush(r->in, posts, n, clock_us() + (uint64_t)budget * 1000u,
                             FL_FLUSH_RESEND_KEPT, on_result, on_flush, r);
    free(posts);
    free(bodies);
    if (rc != 0) {
        fprintf(stderr, "intake-post: flush refused\n");
        event_base_loopexit(r->base, NULL);
    }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void on_validate(int valid, long status, void *arg)
{
    struct run *r = arg;
    json_t *o = json_object();
    json_object_set_new(o, "event", json_string("validate"));
    json_object_set_new(o, "valid", json_integer(valid));
    json_object_set_new(o, "status", json_integer(status));
    emit(o);
    r->ok = valid == 1;
    event_base_loopexit(r->base, NULL);
}

static bool parse_long(const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

static int usage(void)
{
    fprintf(stderr, "usage: intake-post [--kind series|logs|validate] [--count K] [--gap-ms G] "
                    "[--budget-ms B] [--flush] [--no-resume] [--delayed-ack] [--no-compress] [--ca-file PATH] "
                    "[--retry-buffer BYTES]\n");
    return 2;
}

int main(int argc, char **argv)
{
    struct run r = {.kind = "series", .count = 1, .compress = true};
    bool no_resume = false, delayed_ack = false, verbose = false;
    const char *ca_file = NULL;
    long retry_buf = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--kind") == 0 && v) {
            r.kind = v;
            i++;
            if (strcmp(v, "series") && strcmp(v, "logs") && strcmp(v, "validate"))
                return usage();
        } else if (strcmp(a, "--count") == 0 && v && parse_long(v, 1, MAX_COUNT, &r.count)) {
            i++;
        } else if (strcmp(a, "--gap-ms") == 0 && v && parse_long(v, 0, 600000, &r.gap_ms)) {
            i++;
        } else if (strcmp(a, "--budget-ms") == 0 && v && parse_long(v, 1, 3600000, &r.budget_ms)) {
            i++;
        } else if (strcmp(a, "--retry-buffer") == 0 && v && parse_long(v, 1, 1L << 30, &retry_buf)) {
            i++;
        } else if (strcmp(a, "--ca-file") == 0 && v) {
            ca_file = v;
            i++;
        } else if (strcmp(a, "--flush") == 0) {
            r.flush_mode = true;
        } else if (strcmp(a, "--no-resume") == 0) {
            no_resume = true;
        } else if (strcmp(a, "--delayed-ack") == 0) {
            delayed_ack = true;
        } else if (strcmp(a, "--curl-verbose") == 0) {
            verbose = true;
        } else if (strcmp(a, "--no-compress") == 0) {
            r.compress = false;
        } else {
            return usage();
        }
    }

    log_set_component("intake-post");
    static struct cfg c;
    if (cfg_load(&c, env_or_dummy, NULL) != 0) {
        fprintf(stderr, "intake-post: %s\n", c.error);
        return 2;
    }
    log_set_level(c.log_level);
    for (unsigned i = 0; i < c.nwarnings; i++)
        log_warn("%s", c.warnings[i]);
    if (c.idle) {
        log_error("config: %s", c.idle_reason);
        return 2;
    }
    struct fl_endpoint_src src = {c.site, c.metrics_url, c.logs_url, c.apm_url};
    char err[512];
    if (fl_endpoints_build(&src, &r.ep, err, sizeof err) != 0) {
        log_error("config: %s", err);
        return 2;
    }

    r.base = event_base_new();
    struct fl_intake_opts o = {
        .api_key = c.api_key,
        .proxy = c.proxy_https,
        .no_proxy = c.no_proxy,
        .ca_file = ca_file,
        .extra_ca_file = c.tls_cert_file,
        .timeout_ms = (long)c.flush_timeout_s * 1000,
        .http1_only = c.http_protocol == CFG_HTTP1,
        .skip_verify = c.skip_ssl_validation,
        .zstd_level = c.compression_level,
        .retry_buffer_bytes = (size_t)retry_buf,
        .no_tls_resume = no_resume,
        .delayed_ack = delayed_ack,
        .curl_verbose = verbose,
    };
    r.in = fl_intake_new(r.base, &o, err, sizeof err);
    if (r.in == NULL) {
        log_error("%s", err);
        return 2;
    }
    struct fl_intake_stats st;
    fl_intake_stats(r.in, &st);
    json_t *init = json_object();
    json_object_set_new(init, "event", json_string("init"));
    json_object_set_new(init, "tls_setup_ms", json_real(fl_intake_tls_setup_ms(r.in)));
    json_object_set_new(init, "ca_certs", json_integer(st.ca_certs));
    json_object_set_new(init, "url", json_string(strcmp(r.kind, "logs") == 0 ? r.ep.logs
                                                 : strcmp(r.kind, "validate") == 0 ? r.ep.validate
                                                                                   : r.ep.series));
    emit(init);

    r.ms = calloc((size_t)r.count, sizeof *r.ms);
    r.gap_ev = evtimer_new(r.base, post_next, &r);
    r.t0 = clock_us();
    if (strcmp(r.kind, "validate") == 0) {
        r.count = 1;
        uint64_t deadline = r.budget_ms > 0 ? clock_us() + (uint64_t)r.budget_ms * 1000u : 0;
        if (fl_intake_validate(r.in, r.ep.validate, deadline, on_validate, &r) != 0)
            return 2;
    } else if (r.flush_mode) {
        start_flush(&r, false);
    } else {
        struct timeval zero = {0, 0};
        evtimer_add(r.gap_ev, &zero);
    }
    event_base_dispatch(r.base);
    double elapsed = clock_ms_between(r.t0, clock_us());

    fl_intake_stats(r.in, &st);
    qsort(r.ms, (size_t)r.done, sizeof *r.ms, cmp_double);
    json_t *sum = json_object();
    json_object_set_new(sum, "event", json_string("summary"));
    json_object_set_new(sum, "count", json_integer(r.count));
    json_object_set_new(sum, "ok", json_integer(r.ok));
    json_object_set_new(sum, "elapsed_ms", json_real(elapsed));
    json_object_set_new(sum, "median_ms", json_real(r.done ? r.ms[r.done / 2] : 0));
    json_object_set_new(sum, "attempts", json_integer((json_int_t)st.attempts));
    json_object_set_new(sum, "new_conns", json_integer((json_int_t)st.new_conns));
    json_object_set_new(sum, "tls_resumed", json_integer((json_int_t)st.tls_resumed));
    json_object_set_new(sum, "h2", json_integer((json_int_t)st.h2));
    json_object_set_new(sum, "kept", json_integer((json_int_t)st.kept));
    json_object_set_new(sum, "dropped", json_integer((json_int_t)st.dropped));
    json_object_set_new(sum, "curl_store_certs", json_integer((json_int_t)st.curl_store_certs));
    emit(sum);
    bool all_ok = r.ok == r.count;
    fl_intake_free(r.in);
    event_free(r.gap_ev);
    event_base_free(r.base);
    free(r.ms);
    return all_ok ? 0 : 1;
}
