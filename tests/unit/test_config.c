/* test_config.c — common/config.c and the log redaction guard: Datadog's
 * defaults, every variable, invalid values, idle-mode triggers, flush
 * strategy parsing, and the API key (and proxy password) never logged. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "log.h"

#define MAXV 48
struct env {
    const char *k[MAXV];
    const char *v[MAXV];
    int n;
};

static const char *env_get(const char *name, void *arg)
{
    struct env *e = arg;
    for (int i = 0; i < e->n; i++)
        if (strcmp(e->k[i], name) == 0)
            return e->v[i];
    return NULL;
}

static void env_set(struct env *e, const char *k, const char *v)
{
    e->k[e->n] = k;
    e->v[e->n] = v;
    e->n++;
}

static struct env base_env(void)
{
    struct env e = {0};
    env_set(&e, "AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001");
    env_set(&e, "DD_API_KEY", "0123456789abcdef0123456789abcdef");
    return e;
}

static struct cfg *load(struct env *e, int want_rc)
{
    static struct cfg c;
    assert_int_equal(cfg_load(&c, env_get, e), want_rc);
    return &c;
}

static bool has_warning(const struct cfg *c, const char *needle)
{
    for (unsigned i = 0; i < c->nwarnings; i++)
        if (strstr(c->warnings[i], needle))
            return true;
    return false;
}

static void test_defaults(void **st)
{
    (void)st;
    struct env e = base_env();
    struct cfg *c = load(&e, 0);
    assert_false(c->idle);
    assert_int_equal(c->nwarnings, 0);
    assert_string_equal(c->site, "datadoghq.com");
    assert_string_equal(c->metrics_url, "https://api.datadoghq.com");
    assert_string_equal(c->logs_url, "https://http-intake.logs.datadoghq.com");
    assert_string_equal(c->apm_url, "https://trace.agent.datadoghq.com");
    assert_string_equal(c->proxy_https, "");
    assert_int_equal(c->flush_timeout_s, 30);
    assert_int_equal(c->http_protocol, CFG_HTTP_AUTO);
    assert_false(c->skip_ssl_validation);
    assert_int_equal(c->compression_level, 3);
    assert_int_equal(c->log_level, LOG_INFO);
    assert_int_equal(c->flush.kind, CFG_FLUSH_DEFAULT);
    assert_true(c->logs_enabled);
    assert_true(c->enhanced_metrics);
    assert_int_equal(c->port_dogstatsd, 8125);
    assert_int_equal(c->port_apm, 8126);
    assert_int_equal(c->port_telemetry, 8999);
    assert_int_equal(c->port_lambda, 8124);
    assert_string_equal(c->runtime_api, "127.0.0.1:9001");
}

static void test_every_variable(void **st)
{
    (void)st;
    char cert[] = "/tmp/forkcap-test-cert-XXXXXX";
    int fd = mkstemp(cert);
    assert_true(fd >= 0);
    close(fd);
    struct env e = base_env();
    env_set(&e, "DD_SITE", "datadoghq.eu");
    env_set(&e, "DD_URL", "https://ignored.example.com");
    env_set(&e, "DD_DD_URL", "https://metrics.example.com:8443/");
    env_set(&e, "DD_LOGS_CONFIG_LOGS_DD_URL", "logs.example.com:443");
    env_set(&e, "DD_APM_DD_URL", "http://127.0.0.1:9999");
    env_set(&e, "HTTPS_PROXY", "http://second:3128");
    env_set(&e, "DD_PROXY_HTTPS", "http://proxy.local:3128");
    env_set(&e, "NO_PROXY", "ignored");
    env_set(&e, "DD_PROXY_NO_PROXY", "datadoghq.eu,localhost");
    env_set(&e, "DD_FLUSH_TIMEOUT", "5");
    env_set(&e, "DD_HTTP_PROTOCOL", "http1");
    env_set(&e, "DD_TLS_CERT_FILE", cert);
    env_set(&e, "DD_SKIP_SSL_VALIDATION", "true");
    env_set(&e, "DD_COMPRESSION_LEVEL", "9");
    env_set(&e, "DD_LOG_LEVEL", "DEBUG");
    env_set(&e, "DD_SERVERLESS_FLUSH_STRATEGY", "periodically,60000");
    env_set(&e, "DD_LOGS_ENABLED", "true");
    env_set(&e, "DD_SERVERLESS_LOGS_ENABLED", "false");
    env_set(&e, "DD_ENHANCED_METRICS", "0");
    env_set(&e, "DD_ENV", "prod");
    env_set(&e, "DD_SERVICE", " checkout ");
    env_set(&e, "DD_VERSION", "1.2.3");
    env_set(&e, "DD_TAGS", "team:a,tier:b");
    env_set(&e, "DD_DOGSTATSD_PORT", "18125");
    env_set(&e, "DD_APM_RECEIVER_PORT", "0");
    env_set(&e, "FORKCAP_TELEMETRY_PORT", "18999");
    env_set(&e, "FORKCAP_LAMBDA_PORT", "18124");
    env_set(&e, "AWS_LAMBDA_FUNCTION_NAME", "checkout-fn");
    env_set(&e, "AWS_REGION", "eu-west-1");
    env_set(&e, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1024");
    struct cfg *c = load(&e, 0);
    assert_false(c->idle);
    assert_int_equal(c->nwarnings, 0);
    assert_string_equal(c->site, "datadoghq.eu");
    assert_string_equal(c->metrics_url, "https://metrics.example.com:8443");
    assert_string_equal(c->logs_url, "https://logs.example.com:443");
    assert_string_equal(c->apm_url, "http://127.0.0.1:9999");
    assert_string_equal(c->proxy_https, "http://proxy.local:3128");
    assert_string_equal(c->no_proxy, "datadoghq.eu,localhost");
    assert_int_equal(c->flush_timeout_s, 5);
    assert_int_equal(c->http_protocol, CFG_HTTP1);
    assert_string_equal(c->tls_cert_file, cert);
    assert_true(c->skip_ssl_validation);
    assert_int_equal(c->compression_level, 9);
    assert_int_equal(c->log_level, LOG_DEBUG);
    assert_int_equal(c->flush.kind, CFG_FLUSH_PERIODICALLY);
    assert_int_equal(c->flush.interval_ms, 60000);
    assert_false(c->logs_enabled); /* DD_SERVERLESS_LOGS_ENABLED wins */
    assert_false(c->enhanced_metrics);
    assert_string_equal(c->env, "prod");
    assert_string_equal(c->service, "checkout");
    assert_string_equal(c->version, "1.2.3");
    assert_string_equal(c->tags, "team:a,tier:b");
    assert_int_equal(c->port_dogstatsd, 18125);
    assert_int_equal(c->port_apm, 0);
    assert_int_equal(c->port_telemetry, 18999);
    assert_int_equal(c->port_lambda, 18124);
    assert_string_equal(c->fn_name, "checkout-fn");
    assert_string_equal(c->region, "eu-west-1");
    assert_int_equal(c->memory_mb, 1024);
    /* site-derived URLs follow DD_SITE when not overridden; lowercase fallbacks */
    struct env e2 = base_env();
    env_set(&e2, "DD_SITE", "us5.datadoghq.com");
    env_set(&e2, "https_proxy", "http://lower:8080");
    env_set(&e2, "no_proxy", "a,b");
    c = load(&e2, 0);
    assert_string_equal(c->metrics_url, "https://api.us5.datadoghq.com");
    assert_string_equal(c->logs_url, "https://http-intake.logs.us5.datadoghq.com");
    assert_string_equal(c->proxy_https, "http://lower:8080");
    assert_string_equal(c->no_proxy, "a,b");
    unlink(cert);
}

static void test_invalid_values_fall_back(void **st)
{
    (void)st;
    static const struct { const char *k, *v, *warn; } bad[] = {
        {"DD_FLUSH_TIMEOUT", "abc", "DD_FLUSH_TIMEOUT"},
        {"DD_FLUSH_TIMEOUT", "0", "DD_FLUSH_TIMEOUT"},
        {"DD_FLUSH_TIMEOUT", "-3", "DD_FLUSH_TIMEOUT"},
        {"DD_FLUSH_TIMEOUT", "99999999999999999999999", "DD_FLUSH_TIMEOUT"},
        {"DD_LOG_LEVEL", "loud", "DD_LOG_LEVEL"},
        {"DD_SKIP_SSL_VALIDATION", "maybe", "DD_SKIP_SSL_VALIDATION"},
        {"DD_ENHANCED_METRICS", "2", "DD_ENHANCED_METRICS"},
        {"DD_DOGSTATSD_PORT", "70000", "DD_DOGSTATSD_PORT"},
        {"FORKCAP_TELEMETRY_PORT", "12ab", "FORKCAP_TELEMETRY_PORT"},
        {"DD_COMPRESSION_LEVEL", "23", "DD_COMPRESSION_LEVEL"},
        {"DD_HTTP_PROTOCOL", "spdy", "DD_HTTP_PROTOCOL"},
        {"DD_SERVERLESS_FLUSH_STRATEGY", "sometimes", "DD_SERVERLESS_FLUSH_STRATEGY"},
        {"AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "lots", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct env e = base_env();
        env_set(&e, bad[i].k, bad[i].v);
        struct cfg *c = load(&e, 0);
        assert_false(c->idle);
        assert_true(has_warning(c, bad[i].warn));
        assert_int_equal(c->flush_timeout_s, 30);
        assert_int_equal(c->log_level, LOG_INFO);
        assert_false(c->skip_ssl_validation);
        assert_true(c->enhanced_metrics);
        assert_int_equal(c->port_dogstatsd, 8125);
        assert_int_equal(c->port_telemetry, 8999);
        assert_int_equal(c->compression_level, 3);
        assert_int_equal(c->http_protocol, CFG_HTTP_AUTO);
        assert_int_equal(c->flush.kind, CFG_FLUSH_DEFAULT);
    }
    /* an over-long optional value is ignored with a warning */
    char longtags[CFG_LIST_MAX + 10];
    memset(longtags, 't', sizeof longtags - 1);
    longtags[sizeof longtags - 1] = '\0';
    struct env e = base_env();
    env_set(&e, "DD_TAGS", longtags);
    struct cfg *c = load(&e, 0);
    assert_string_equal(c->tags, "");
    assert_true(has_warning(c, "DD_TAGS"));
}

static void test_runtime_api_required(void **st)
{
    (void)st;
    struct env e = {0};
    env_set(&e, "DD_API_KEY", "abcd1234");
    struct cfg *c = load(&e, -1);
    assert_non_null(strstr(c->error, "AWS_LAMBDA_RUNTIME_API"));
    static const char *const bad[] = {"127.0.0.1", "127.0.0.1:", ":9001", "host:99999", "a b:1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct env e2 = {0};
        env_set(&e2, "AWS_LAMBDA_RUNTIME_API", bad[i]);
        load(&e2, -1);
    }
    struct env e3 = {0};
    env_set(&e3, "AWS_LAMBDA_RUNTIME_API", "localhost:9001");
    c = load(&e3, 0);
    assert_true(c->idle); /* no key: idle, but it runs */
}

static void test_idle_triggers(void **st)
{
    (void)st;
    static const struct { const char *k, *v, *why; } idle[] = {
        {"DD_API_KEY", "", "DD_API_KEY is not set"},
        {"DD_API_KEY", "   ", "DD_API_KEY is empty"},
        {"DD_API_KEY", "abc def", "DD_API_KEY holds"},
        {"DD_SITE", "https://datadoghq.com", "DD_SITE"},
        {"DD_SITE", "bad site", "DD_SITE"},
        {"DD_DD_URL", "ftp://x.example.com", "DD_DD_URL"},
        {"DD_DD_URL", "https://", "DD_DD_URL"},
        {"DD_DD_URL", "https://host:99999", "DD_DD_URL"},
        {"DD_URL", "https://host/pa th", "DD_URL"},
        {"DD_APM_DD_URL", "trace.example.com", "DD_APM_DD_URL"},
        {"DD_LOGS_CONFIG_LOGS_DD_URL", "https://user@logs.example.com", "DD_LOGS_CONFIG_LOGS_DD_URL"},
        {"DD_PROXY_HTTPS", "proxy:3128", "DD_PROXY_HTTPS"},
        {"DD_TLS_CERT_FILE", "/nonexistent/forkcap/ca.pem", "DD_TLS_CERT_FILE"},
        {"DD_TLS_CERT_FILE", "/tmp", "DD_TLS_CERT_FILE"},
    };
    for (size_t i = 0; i < sizeof idle / sizeof idle[0]; i++) {
        struct env e = {0};
        env_set(&e, "AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001");
        if (strcmp(idle[i].k, "DD_API_KEY") != 0)
            env_set(&e, "DD_API_KEY", "abcd1234abcd");
        env_set(&e, idle[i].k, idle[i].v);
        struct cfg *c = load(&e, 0);
        assert_true(c->idle);
        if (strstr(c->idle_reason, idle[i].why) == NULL)
            fail_msg("%s=%s: reason '%s'", idle[i].k, idle[i].v, c->idle_reason);
    }
}

static void test_flush_strategy(void **st)
{
    (void)st;
    static const struct { const char *in; bool ok; enum cfg_flush_kind k; uint32_t ms; } t[] = {
        {"end", true, CFG_FLUSH_END, 0},
        {"END", true, CFG_FLUSH_END, 0},
        {" end ", true, CFG_FLUSH_END, 0},
        {"end,1000", true, CFG_FLUSH_END_PERIODIC, 1000},
        {"end, 250", true, CFG_FLUSH_END_PERIODIC, 250},
        {"periodically,60000", true, CFG_FLUSH_PERIODICALLY, 60000},
        {"continuously,20000", true, CFG_FLUSH_CONTINUOUSLY, 20000},
        {"default", true, CFG_FLUSH_DEFAULT, 0},
        {"periodically", false, 0, 0},
        {"continuously,", false, 0, 0},
        {"continuously,0", false, 0, 0},
        {"periodically,-5", false, 0, 0},
        {"periodically,10s", false, 0, 0},
        {"end,99999999999", false, 0, 0},
        {"default,100", false, 0, 0},
        {"", false, 0, 0},
        {"sometimes,100", false, 0, 0},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        struct cfg_flush f = {CFG_FLUSH_DEFAULT, 0};
        bool ok = cfg_parse_flush(t[i].in, &f);
        if (ok != t[i].ok)
            fail_msg("'%s': parse %d, expected %d", t[i].in, ok, t[i].ok);
        if (ok) {
            assert_int_equal(f.kind, t[i].k);
            assert_int_equal(f.interval_ms, t[i].ms);
        }
    }
}

/* ---- redaction --------------------------------------------------------- */

static char captured[8192];
static void sink(const char *line, size_t len, void *arg)
{
    (void)arg;
    size_t have = strlen(captured);
    if (have + len < sizeof captured) {
        memcpy(captured + have, line, len);
        captured[have + len] = '\0';
    }
}

/* The supervisor's sealed copy: after cfg_seal_secrets its cfg holds
 * neither secret, the memfd cannot be written, and a child reads both back
 * (with their log masking) from its own descriptor. */
static void test_sealed_secrets(void **st)
{
    (void)st;
    const char *key = "5ea1edc0ffee0123456789abcdef0002";
    log_clear_secrets();
    log_set_sink(sink, NULL);
    log_set_level(LOG_INFO);
    struct env e = base_env();
    e.v[1] = key;
    env_set(&e, "DD_PROXY_HTTPS", "http://bob:sealedpass77@proxy.local:3128");
    struct cfg *c = load(&e, 0);
    assert_string_equal(c->api_key, key);
    int fd = cfg_seal_secrets(c);
    if (fd < 0) {
        fprintf(stderr, "memfd sealing not available here: %s\n", strerror(errno));
        skip();
    }
    assert_string_equal(c->api_key, "");
    assert_string_equal(c->proxy_https, "");
    assert_int_equal(write(fd, "x", 1), -1);      /* F_SEAL_WRITE */
    assert_int_equal(ftruncate(fd, 1), -1);       /* F_SEAL_SHRINK */
    assert_int_equal(fcntl(fd, F_ADD_SEALS, 0), -1); /* F_SEAL_SEAL */

    struct cfg child = *c; /* what a forked flusher has */
    assert_int_equal(cfg_unseal_secrets(&child, dup(fd)), 0);
    assert_string_equal(child.api_key, key);
    assert_string_equal(child.proxy_https, "http://bob:sealedpass77@proxy.local:3128");
    captured[0] = '\0';
    log_info("key %s proxy %s", child.api_key, child.proxy_https);
    assert_null(strstr(captured, key));
    assert_null(strstr(captured, "sealedpass77"));
    /* and again, for the next restart */
    struct cfg child2 = *c;
    assert_int_equal(cfg_unseal_secrets(&child2, dup(fd)), 0);
    assert_string_equal(child2.api_key, key);
    close(fd);
    /* a descriptor that is not the sealed copy gives nothing */
    struct cfg child3 = *c;
    assert_int_equal(cfg_unseal_secrets(&child3, -1), -1);
    assert_string_equal(child3.api_key, "");
    log_clear_secrets();
}

static void test_key_never_logged(void **st)
{
    (void)st;
    const char *key = "feedfacecafe0123456789abcdef0001";
    captured[0] = '\0';
    log_clear_secrets();
    log_set_sink(sink, NULL);
    log_set_level(LOG_TRACE);
    struct env e = base_env();
    e.v[1] = key;
    env_set(&e, "DD_PROXY_HTTPS", "http://alice:hunter2secret@proxy.local:3128");
    env_set(&e, "DD_LOG_LEVEL", "nonsense"); /* makes a warning line */
    struct cfg *c = load(&e, 0);
    for (unsigned i = 0; i < c->nwarnings; i++)
        log_warn("config: %s", c->warnings[i]);
    log_info("the key is %s and the proxy is %s", c->api_key, c->proxy_https);
    log_error("embedded:%s:end", key);
    assert_null(strstr(captured, key));
    assert_null(strstr(captured, "hunter2secret"));
    assert_non_null(strstr(captured, "***"));
    assert_non_null(strstr(captured, "INFO | "));
    /* every line is one LEVEL | component | message line */
    assert_non_null(strstr(captured, "proxy.local:3128"));

    /* an invalid key (with a space) is masked too, and not echoed by cfg */
    captured[0] = '\0';
    log_clear_secrets();
    struct env e2 = base_env();
    e2.v[1] = "sekretpart otherpart";
    c = load(&e2, 0);
    assert_true(c->idle);
    assert_null(strstr(c->idle_reason, "sekretpart"));
    log_error("%s / raw: sekretpart otherpart", c->idle_reason);
    assert_null(strstr(captured, "sekretpart otherpart"));

    /* a bad proxy URL with credentials is not echoed in the idle reason */
    struct env e3 = base_env();
    env_set(&e3, "HTTPS_PROXY", "ftp://bob:pa55word9@proxy");
    c = load(&e3, 0);
    assert_true(c->idle);
    assert_null(strstr(c->idle_reason, "pa55word9"));
    log_set_sink(NULL, NULL);
    log_clear_secrets();
}

static void test_log_format(void **st)
{
    (void)st;
    captured[0] = '\0';
    log_set_sink(sink, NULL);
    log_set_level(LOG_WARN);
    log_set_component("unit");
    log_info("dropped below level");
    log_warn("two\nlines");
    assert_string_equal(captured, "WARN | unit | two lines\n");
    enum log_level l;
    assert_true(log_level_parse("Warning", &l));
    assert_int_equal(l, LOG_WARN);
    assert_false(log_level_parse("verbose", &l));
    log_set_sink(NULL, NULL);
}

/* A repeated condition prints its first line, then one per doubling gap
 * (30 s, 60 s, ... capped at 10 min) saying how many were held back; a
 * reset (the condition cleared) prints the next one at once. */
static void test_log_limit(void **st)
{
    (void)st;
    struct log_limit l = {0};
    const uint64_t s0 = 5000000000ull, SEC = 1000000ull;
    unsigned held = 99;
    assert_true(log_limit_pass(&l, s0, &held));
    assert_int_equal(held, 0);
    /* one attempt per 100 ms for 10 minutes: how many lines? */
    unsigned printed = 1, in_first_minute = 1;
    uint64_t last = s0, held_total = 0;
    for (uint64_t t = s0 + 100000; t < s0 + 600 * SEC; t += 100000) {
        if (log_limit_pass(&l, t, &held)) {
            assert_true(t - last >= LOG_LIMIT_FIRST_US);
            held_total += held;
            printed++;
            if (t < s0 + 60 * SEC)
                in_first_minute++;
            last = t;
        }
    }
    assert_int_equal(in_first_minute, 2);        /* 0 s and 30 s */
    assert_int_equal(printed, 5);                /* 0, 30, 90, 210, 450 s */
    /* every attempt up to the last printed line (450 s) but the 4 printed: each told once */
    assert_int_equal(held_total, 4500 - 4);
    /* the gap stops growing at the maximum */
    for (int i = 0; i < 10; i++)
        log_limit_pass(&l, l.next_us, &held);
    assert_int_equal(l.gap_us, LOG_LIMIT_MAX_US);
    assert_false(log_limit_pass(&l, l.next_us - 1, &held));
    log_limit_reset(&l);
    assert_true(log_limit_pass(&l, l.next_us + 1, &held));
    assert_int_equal(held, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_every_variable),
        cmocka_unit_test(test_invalid_values_fall_back),
        cmocka_unit_test(test_runtime_api_required),
        cmocka_unit_test(test_idle_triggers),
        cmocka_unit_test(test_flush_strategy),
        cmocka_unit_test(test_key_never_logged),
        cmocka_unit_test(test_sealed_secrets),
        cmocka_unit_test(test_log_format),
        cmocka_unit_test(test_log_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
