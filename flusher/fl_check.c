/* fl_check.c — see fl_check.h. Runs once, outside Lambda, on its own event
 * loop; nothing here is on the extension's start path. */
#include "fl_check.h"

#include <stdarg.h>
#include <string.h>
#include <stdlib.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <event2/event.h>

#include "cfg_vars.h"
#include "clock.h"
#include "endpoints.h"
#include "fl_runtime.h"
#include "fl_tags.h"
#include "intake.h"
#include "intake_proxy.h"
#include "intake_tls.h"
#include "log.h"

#define CHK_POSTS 2

struct chk {
    struct event_base *base;
    struct fl_intake *in;
    const struct fl_endpoints *ep;
    uint64_t deadline_us;
    uint64_t t_validate_us;
    int valid;          /* 1, 0 (403), -1 unknown */
    long valid_status;
    double valid_ms;
    int next;           /* next post to submit */
    bool done[CHK_POSTS];
    struct fl_post_result res[CHK_POSTS];
};

static const char *const chk_names[CHK_POSTS] = {"series", "logs"};

static const char *yes_no(bool b)
{
    return b ? "true" : "false";
}

/* The key as check prints it: its length and last four characters, the way
 * an agent status page identifies a key without showing it. */
static void mask_key(const char *key, char *out, size_t cap)
{
    size_t n = strlen(key);
    if (n < 12)
        snprintf(out, cap, "(%zu characters, masked)", n);
    else
        snprintf(out, cap, "****%s (%zu characters)", key + n - 4, n);
}

static void chk_submit_next(struct chk *k);

static void on_post(const struct fl_post_result *r, void *arg)
{
    struct chk *k = arg;
    if (r->tag < CHK_POSTS) {
        k->res[r->tag] = *r;
        k->done[r->tag] = true;
    }
    chk_submit_next(k);
}

static void chk_submit_next(struct chk *k)
{
    static const char *const log_headers[] = {"DD-PROTOCOL: agent-json", NULL};
    if (k->next >= CHK_POSTS) {
        event_base_loopbreak(k->base);
        return;
    }
    int i = k->next++;
    struct fl_post p = {.tag = (uint64_t)i, .content_type = "application/json"};
    if (i == 0) {
        p.url = k->ep->series;
        p.body = "{\"series\":[]}";
    } else {
        p.url = k->ep->logs;
        p.body = "[]";
        p.headers = log_headers;
    }
    p.len = strlen(p.body);
    if (fl_intake_post(k->in, &p, k->deadline_us, on_post, k) < 0) {
        k->res[i].outcome = FL_REJECTED;
        snprintf(k->res[i].error, sizeof k->res[i].error, "request refused by the client");
        k->done[i] = true;
        chk_submit_next(k);
    }
}

static void on_validate(int valid, long status, void *arg)
{
    struct chk *k = arg;
    k->valid = valid;
    k->valid_status = status;
    k->valid_ms = clock_ms_between(k->t_validate_us, clock_us());
    chk_submit_next(k);
}

static void on_budget(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    event_base_loopbreak(((struct chk *)arg)->base);
}

static void print_proxy(FILE *out, const struct cfg *c, const char *what, const char *url)
{
    if (!c->proxy_https[0]) {
        fprintf(out, "  %-9s %s  (direct)\n", what, url);
        return;
    }
    char red[CFG_URL_MAX];
    fl_redact_url(c->proxy_https, red, sizeof red);
    if (fl_proxy_applies(url, c->proxy_https, c->no_proxy))
        fprintf(out, "  %-9s %s  (through proxy %s)\n", what, url, red);
    else
        fprintf(out, "  %-9s %s  (direct: host matched by NO_PROXY)\n", what, url);
}

/* The one error line, and the verdict as the report's last line. */
__attribute__((format(printf, 3, 4))) static int fail(FILE *out, FILE *err, const char *fmt, ...)
{
    char line[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    fprintf(out, "verdict: FAILED: %s\n", line);
    fprintf(err, "forkcap check: %s\n", line);
    return 1;
}

/* The intake client's own log lines (already masked) go into the report,
 * so err keeps its single verdict line. */
static void to_report(const char *line, size_t len, void *arg)
{
    if (len && line[len - 1] == '\n')
        len--;
    fprintf(arg, "  log: %.*s\n", (int)len, line);
}

static int check_run(const struct cfg *c, const struct fl_check_opts *o, FILE *out, FILE *err);

int fl_check_run(const struct cfg *c, const struct fl_check_opts *o, FILE *out, FILE *err)
{
    log_set_sink(to_report, out);
    int rc = check_run(c, o, out, err);
    log_set_sink(NULL, NULL);
    return rc;
}

static int check_run(const struct cfg *c, const struct fl_check_opts *o, FILE *out, FILE *err)
{
    char buf[CFG_URL_MAX + 64];

    /* 1. settings, as the extension would use them */
    fprintf(out, "settings\n");
    fprintf(out, "  site                %s\n", c->site);
    fprintf(out, "  log level           %s\n", log_level_name(c->log_level));
    fprintf(out, "  flush strategy      %s", cfg_flush_name(c->flush.kind));
    if (c->flush.interval_ms)
        fprintf(out, ",%u", c->flush.interval_ms);
    fprintf(out, "\n  flush timeout       %u s\n", c->flush_timeout_s);
    fprintf(out, "  http protocol       %s\n", c->http_protocol == CFG_HTTP1 ? "http1" : "auto");
    fprintf(out, "  compression         zstd level %d\n", c->compression_level);
    fprintf(out, "  logs                %s\n", yes_no(c->logs_enabled));
    fprintf(out, "  enhanced metrics    %s\n", yes_no(c->enhanced_metrics));
    fprintf(out, "  skip TLS validation %s\n", yes_no(c->skip_ssl_validation));
    fprintf(out, "  ports               dogstatsd %u/udp, traces %u, telemetry %u, /lambda %u\n",
            c->port_dogstatsd, c->port_apm, c->port_telemetry, c->port_lambda);
    /* the function tag set the flusher builds (fl_tags.h); the account is
     * only known once Lambda answers the registration */
    static struct fl_tags tags;
    char rt[FL_RUNTIME_MAX];
    enum fl_runtime_source rts = fl_runtime_resolve(NULL, NULL, rt, sizeof rt);
    struct utsname un;
    const char *arch = uname(&un) == 0 && (!strcmp(un.machine, "aarch64") || !strcmp(un.machine, "arm64"))
                           ? "arm64" : "x86_64";
    struct fl_tags_src ts = {
        .fn_name = c->fn_name, .qualifier = getenv("AWS_LAMBDA_FUNCTION_VERSION"),
        .region = c->region, .memory_mb = c->memory_mb, .runtime = rt, .architecture = arch,
        .init_type = getenv("AWS_LAMBDA_INITIALIZATION_TYPE"), .env = c->env,
        .service = c->service, .version = c->version, .dd_tags = c->tags,
    };
    if (fl_tags_build(&ts, &tags) == 0)
        fprintf(out, "  tags                %s (runtime from %s)\n", tags.joined,
                fl_runtime_source_name(rts));
    else
        fprintf(out, "  tags                (too long: metrics and logs would carry none)\n");
    for (unsigned i = 0; i < c->nwarnings; i++)
        fprintf(out, "  warning             %s\n", c->warnings[i]);
    char unh[1024];
    if (cfg_unhonoured(environ, unh, sizeof unh) > 0)
        fprintf(out, "  not honoured        %s (docs/migrating.md)\n", unh);

    /* 2. the API key. Resolution from Secrets Manager, KMS or SSM, once the
     * flusher has it, is called here and its source printed. */
    fprintf(out, "api key\n");
    if (c->api_key[0]) {
        mask_key(c->api_key, buf, sizeof buf);
        fprintf(out, "  DD_API_KEY          %s\n", buf);
    } else {
        fprintf(out, "  DD_API_KEY          (not usable)\n");
    }
    if (c->idle)
        return fail(out, err, "%s: the extension would run idle and send nothing", c->idle_reason);

    /* 3. endpoints and the proxy decision for each */
    struct fl_endpoints ep;
    struct fl_endpoint_src src = {.site = c->site,
                                  .dd_url = c->metrics_url,
                                  .logs_dd_url = c->logs_url,
                                  .apm_dd_url = c->apm_url};
    char eerr[256];
    if (fl_endpoints_build(&src, &ep, eerr, sizeof eerr) < 0)
        return fail(out, err, "%s", eerr);
    fprintf(out, "endpoints\n");
    print_proxy(out, c, "validate", ep.validate);
    print_proxy(out, c, "series", ep.series);
    print_proxy(out, c, "sketches", ep.sketches);
    print_proxy(out, c, "logs", ep.logs);
    print_proxy(out, c, "traces", ep.traces);
    fprintf(out, "            (traces are not shipped by this version: not tried)\n");
    if (c->no_proxy[0])
        fprintf(out, "  NO_PROXY  %s\n", c->no_proxy);

    /* 4. the CA store, built as the flusher builds it */
    struct fl_tls_store_info ti;
    memset(&ti, 0, sizeof ti);
    char terr[256];
    X509_STORE *st = fl_tls_store_load(o->ca_file, c->tls_cert_file[0] ? c->tls_cert_file : NULL, &ti,
                                       terr, sizeof terr);
    if (st == NULL)
        return fail(out, err, "CA store: %s", terr);
    X509_STORE_free(st);
    fprintf(out, "CA store\n");
    fprintf(out, "  system bundle       %s (%u certificates)\n", ti.bundle[0] ? ti.bundle : "(none)",
            ti.bundle_certs);
    if (c->tls_cert_file[0])
        fprintf(out, "  DD_TLS_CERT_FILE    %s (%u certificates)\n", c->tls_cert_file, ti.extra_certs);

    /* 5. the intake: the key, then one small post per shipping endpoint */
    struct chk k = {.ep = &ep, .valid = -1};
    k.base = event_base_new();
    if (k.base == NULL)
        return fail(out, err, "cannot create an event loop");
    struct fl_intake_opts io = {
        .api_key = c->api_key,
        .proxy = c->proxy_https,
        .no_proxy = c->no_proxy,
        .ca_file = o->ca_file,
        .extra_ca_file = c->tls_cert_file[0] ? c->tls_cert_file : NULL,
        .timeout_ms = (long)c->flush_timeout_s * 1000,
        .http1_only = c->http_protocol == CFG_HTTP1,
        .skip_verify = c->skip_ssl_validation,
        .zstd_level = c->compression_level,
        .version = o->version,
    };
    k.in = fl_intake_new(k.base, &io, eerr, sizeof eerr);
    if (k.in == NULL) {
        event_base_free(k.base);
        return fail(out, err, "intake client: %s", eerr);
    }
    long budget = o->budget_ms > 0 ? o->budget_ms : 10000;
    k.deadline_us = clock_us() + (uint64_t)budget * 1000u;
    struct event *guard = evtimer_new(k.base, on_budget, &k);
    struct timeval tv = {.tv_sec = budget / 1000 + 1, .tv_usec = (budget % 1000) * 1000};
    if (guard)
        evtimer_add(guard, &tv);
    k.t_validate_us = clock_us();
    if (fl_intake_validate(k.in, ep.validate, k.deadline_us, on_validate, &k) == 0)
        event_base_dispatch(k.base);
    if (guard)
        event_free(guard);
    fl_intake_free(k.in);
    event_base_free(k.base);

    fprintf(out, "intake\n");
    if (k.valid == 1)
        fprintf(out, "  validate  key accepted (HTTP %ld, %.1f ms)\n", k.valid_status, k.valid_ms);
    else if (k.valid == 0)
        fprintf(out, "  validate  key REJECTED (HTTP %ld, %.1f ms)\n", k.valid_status, k.valid_ms);
    else
        fprintf(out, "  validate  no answer (HTTP %ld, %.1f ms)\n", k.valid_status, k.valid_ms);
    int first_bad = -1;
    for (int i = 0; i < CHK_POSTS; i++) {
        const struct fl_post_result *r = &k.res[i];
        if (!k.done[i]) {
            fprintf(out, "  %-9s not finished within %ld ms\n", chk_names[i], budget);
        } else {
            fprintf(out, "  %-9s %s, HTTP %ld, %.1f ms, %u attempt(s)%s%s%s%s%s\n", chk_names[i],
                    fl_outcome_name(r->outcome), r->http_status, r->ms, r->attempts, r->tls ? ", TLS" : "",
                    r->h2 ? ", HTTP/2" : "", r->via_proxy ? ", via proxy" : "", r->error[0] ? ": " : "",
                    r->error);
        }
        if (first_bad < 0 && (!k.done[i] || r->outcome != FL_OK))
            first_bad = i;
    }

    if (k.valid == 0)
        return fail(out, err, "the intake rejected the API key (HTTP %ld from %s)", k.valid_status,
                    ep.validate);
    if (first_bad >= 0) {
        const struct fl_post_result *r = &k.res[first_bad];
        const char *url = first_bad == 0 ? ep.series : ep.logs;
        if (!k.done[first_bad])
            return fail(out, err, "no answer from %s within %ld ms", url, budget);
        char code[32] = "", via[CFG_URL_MAX + 24] = "";
        if (r->http_status)
            snprintf(code, sizeof code, " (HTTP %ld)", r->http_status);
        if (r->via_proxy) {
            char red[CFG_URL_MAX];
            snprintf(via, sizeof via, ", through the proxy %s", fl_redact_url(c->proxy_https, red, sizeof red));
        }
        return fail(out, err, "cannot post to %s: %s%s%s", url,
                    r->error[0] ? r->error : fl_outcome_name(r->outcome), code, via);
    }
    if (k.valid != 1)
        return fail(out, err, "the key could not be validated (HTTP %ld from %s)", k.valid_status,
                    ep.validate);
    fprintf(out, "verdict: OK: the key is valid and every endpoint accepted a post\n");
    return 0;
}
