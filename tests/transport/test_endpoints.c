/* test_endpoints.c — flusher/endpoints.c: defaults per site, overrides the way
 * Datadog's extension applies them, and refusal of bad or oversized input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "endpoints.h"

static void test_defaults(void **state)
{
    (void)state;
    struct fl_endpoint_src src = {0};
    struct fl_endpoints ep;
    char err[256] = "";
    assert_int_equal(fl_endpoints_build(&src, &ep, err, sizeof err), 0);
    assert_string_equal(ep.series, "https://api.datadoghq.com/api/v2/series");
    assert_string_equal(ep.sketches, "https://api.datadoghq.com/api/beta/sketches");
    assert_string_equal(ep.validate, "https://api.datadoghq.com/api/v1/validate");
    assert_string_equal(ep.logs, "https://http-intake.logs.datadoghq.com/api/v2/logs");
    assert_string_equal(ep.traces, "https://trace.agent.datadoghq.com/api/v0.2/traces");
    assert_string_equal(ep.stats, "https://trace.agent.datadoghq.com/api/v0.2/stats");
}

static void test_site(void **state)
{
    (void)state;
    struct fl_endpoint_src src = {.site = " datadoghq.eu "};
    struct fl_endpoints ep;
    char err[256] = "";
    assert_int_equal(fl_endpoints_build(&src, &ep, err, sizeof err), 0);
    assert_string_equal(ep.series, "https://api.datadoghq.eu/api/v2/series");
    assert_string_equal(ep.logs, "https://http-intake.logs.datadoghq.eu/api/v2/logs");
    src.site = "us5.datadoghq.com";
    assert_int_equal(fl_endpoints_build(&src, &ep, err, sizeof err), 0);
    assert_string_equal(ep.traces, "https://trace.agent.us5.datadoghq.com/api/v0.2/traces");
}

static void test_bad_site(void **state)
{
    (void)state;
    const char *bad[] = {"datadog hq.com", "evil.com/x", ".datadoghq.com", "a@b", "x:1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct fl_endpoint_src src = {.site = bad[i]};
        struct fl_endpoints ep;
        char err[256] = "";
        assert_int_equal(fl_endpoints_build(&src, &ep, err, sizeof err), -1);
        assert_non_null(strstr(err, "DD_SITE"));
        assert_int_equal(ep.series[0], '\0');
    }
}

static void test_overrides(void **state)
{
    (void)state;
    struct fl_endpoint_src src = {
        .site = "datadoghq.eu",
        .dd_url = "http://127.0.0.1:8080/",
        .logs_dd_url = "intake.forkcap.test:10516",
        .apm_dd_url = "https://[::1]:8443/prefix//",
    };
    struct fl_endpoints ep;
    char err[256] = "";
    assert_int_equal(fl_endpoints_build(&src, &ep, err, sizeof err), 0);
    assert_string_equal(ep.series, "http://127.0.0.1:8080/api/v2/series");
    assert_string_equal(ep.sketches, "http://127.0.0.1:8080/api/beta/sketches");
    assert_string_equal(ep.validate, "http://127.0.0.1:8080/api/v1/validate");
    /* host:port without a scheme: https, as Datadog's extension does */
    assert_string_equal(ep.logs, "https://intake.forkcap.test:10516/api/v2/logs");
    assert_string_equal(ep.traces, "https://[::1]:8443/prefix/api/v0.2/traces");
    assert_string_equal(ep.stats, "https://[::1]:8443/prefix/api/v0.2/stats");
    /* a logs URL with its scheme is kept as it is */
    src.logs_dd_url = "http://localhost:9000";
    assert_int_equal(fl_endpoints_build(&src, &ep, err, sizeof err), 0);
    assert_string_equal(ep.logs, "http://localhost:9000/api/v2/logs");
    /* empty overrides mean "default" */
    struct fl_endpoint_src empty = {.dd_url = "", .logs_dd_url = "  ", .apm_dd_url = ""};
    assert_int_equal(fl_endpoints_build(&empty, &ep, err, sizeof err), 0);
    assert_string_equal(ep.series, "https://api.datadoghq.com/api/v2/series");
}

static void test_bad_overrides(void **state)
{
    (void)state;
    struct {
        const char *dd, *logs, *apm, *name;
    } cases[] = {
        {"ftp://x.example", NULL, NULL, "DD_DD_URL"},
        {"api.example.com", NULL, NULL, "DD_DD_URL"}, /* no scheme defaulting for metrics */
        {"https://user:pw@api.example.com", NULL, NULL, "DD_DD_URL"},
        {"https://api.example.com:0", NULL, NULL, "DD_DD_URL"},
        {"https://api.example.com:70000", NULL, NULL, "DD_DD_URL"},
        {"https://api.example.com/a b", NULL, NULL, "DD_DD_URL"},
        {"https://api.example.com?x=1", NULL, NULL, "DD_DD_URL"},
        {NULL, "https://", NULL, "DD_LOGS_CONFIG_LOGS_DD_URL"},
        {NULL, "host:port", NULL, "DD_LOGS_CONFIG_LOGS_DD_URL"},
        {NULL, NULL, "https://[zz]:1", "DD_APM_DD_URL"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct fl_endpoint_src src = {.dd_url = cases[i].dd, .logs_dd_url = cases[i].logs,
                                      .apm_dd_url = cases[i].apm};
        struct fl_endpoints ep;
        char err[256] = "";
        assert_int_equal(fl_endpoints_build(&src, &ep, err, sizeof err), -1);
        assert_non_null(strstr(err, cases[i].name));
        /* credentials are never echoed */
        assert_null(strstr(err, "pw@"));
        assert_int_equal(ep.logs[0], '\0');
    }
}

static void test_too_long(void **state)
{
    (void)state;
    char big[FL_BASE_MAX + 10];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    memcpy(big, "https://a.example/", 18); /* a long path: hosts stop at 253 */
    struct fl_endpoint_src src = {.dd_url = big};
    struct fl_endpoints ep;
    char err[256] = "";
    assert_int_equal(fl_endpoints_build(&src, &ep, err, sizeof err), -1);
    assert_non_null(strstr(err, "too long"));
    /* the longest accepted base still fits every endpoint */
    big[FL_BASE_MAX - 1] = '\0';
    assert_int_equal(fl_endpoints_build(&src, &ep, err, sizeof err), 0);
    assert_int_equal(strlen(ep.sketches), FL_BASE_MAX - 1 + strlen("/api/beta/sketches"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),      cmocka_unit_test(test_site),
        cmocka_unit_test(test_bad_site),      cmocka_unit_test(test_overrides),
        cmocka_unit_test(test_bad_overrides), cmocka_unit_test(test_too_long),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
