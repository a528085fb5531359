/* test_intake_proxy.c — flusher/intake_proxy.c: NO_PROXY matching with
 * libcurl's rules, which requests use the proxy, and URL redaction. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "intake_proxy.h"

static void test_names(void **state)
{
    (void)state;
    assert_true(fl_noproxy_match("example.com", "example.com"));
    assert_true(fl_noproxy_match("www.example.com", "example.com"));
    assert_true(fl_noproxy_match("www.example.com", ".example.com"));
    assert_true(fl_noproxy_match("WWW.Example.COM", "example.com"));
    assert_false(fl_noproxy_match("notexample.com", "example.com"));
    assert_false(fl_noproxy_match("example.com.evil", "example.com"));
    assert_false(fl_noproxy_match("example.com", "www.example.com"));
    assert_true(fl_noproxy_match("api.datadoghq.com", "localhost, datadoghq.com"));
    assert_true(fl_noproxy_match("api.datadoghq.com", "localhost datadoghq.com"));
    assert_true(fl_noproxy_match("api.datadoghq.com", ",,localhost,,datadoghq.com,"));
    assert_true(fl_noproxy_match("example.com.", "example.com"));
    assert_false(fl_noproxy_match("example.com", ""));
    assert_false(fl_noproxy_match("example.com", NULL));
    assert_false(fl_noproxy_match("example.com", " , "));
}

static void test_star(void **state)
{
    (void)state;
    assert_true(fl_noproxy_match("anything.example", "*"));
    assert_true(fl_noproxy_match("10.1.2.3", " * "));
    /* "*" only means "all" on its own */
    assert_false(fl_noproxy_match("anything.example", "*.other,foo"));
}

static void test_ips(void **state)
{
    (void)state;
    assert_true(fl_noproxy_match("127.0.0.1", "127.0.0.1"));
    assert_false(fl_noproxy_match("127.0.0.2", "127.0.0.1"));
    assert_true(fl_noproxy_match("10.20.30.40", "192.168.0.0/16,10.0.0.0/8"));
    assert_false(fl_noproxy_match("11.20.30.40", "10.0.0.0/8"));
    assert_true(fl_noproxy_match("172.31.255.1", "172.16.0.0/12"));
    assert_false(fl_noproxy_match("172.32.0.1", "172.16.0.0/12"));
    assert_true(fl_noproxy_match("::1", "::1"));
    assert_true(fl_noproxy_match("[::1]", "::1"));
    assert_true(fl_noproxy_match("::1", "[::1]"));
    assert_true(fl_noproxy_match("fd00::5", "fd00::/8"));
    assert_false(fl_noproxy_match("fe80::5", "fd00::/8"));
    /* an IP host is not matched as a name suffix */
    assert_false(fl_noproxy_match("127.0.0.1", "0.0.1"));
    /* bad CIDR entries match nothing */
    assert_false(fl_noproxy_match("10.0.0.1", "10.0.0.0/33"));
    assert_false(fl_noproxy_match("10.0.0.1", "10.0.0.0/"));
}

static void test_url_host(void **state)
{
    (void)state;
    char h[FL_HOST_MAX];
    assert_true(fl_url_host("https://API.datadoghq.com/api/v2/series", h, sizeof h));
    assert_string_equal(h, "api.datadoghq.com");
    assert_true(fl_url_host("https://127.0.0.1:8443/x", h, sizeof h));
    assert_string_equal(h, "127.0.0.1");
    assert_true(fl_url_host("https://[::1]:8443/x", h, sizeof h));
    assert_string_equal(h, "::1");
    assert_true(fl_url_host("http://u:p@proxy.local:3128", h, sizeof h));
    assert_string_equal(h, "proxy.local");
    assert_false(fl_url_host("no-scheme", h, sizeof h));
    assert_false(fl_url_host("https:///path", h, sizeof h));
    char tiny[4];
    assert_false(fl_url_host("https://longhost/", tiny, sizeof tiny));
}

static void test_applies(void **state)
{
    (void)state;
    const char *url = "https://api.datadoghq.com/api/v2/series";
    assert_false(fl_proxy_applies(url, NULL, NULL));
    assert_false(fl_proxy_applies(url, "", "whatever"));
    assert_true(fl_proxy_applies(url, "http://127.0.0.1:3128", NULL));
    assert_true(fl_proxy_applies(url, "http://127.0.0.1:3128", "localhost"));
    assert_false(fl_proxy_applies(url, "http://127.0.0.1:3128", "datadoghq.com"));
    assert_false(fl_proxy_applies("https://127.0.0.1:9/x", "http://p:1", "127.0.0.0/8"));
}

static void test_redact(void **state)
{
    (void)state;
    char out[128];
    assert_string_equal(fl_redact_url("http://user:secret@proxy:3128", out, sizeof out),
                        "http://***@proxy:3128");
    assert_string_equal(fl_redact_url("http://user@proxy:3128/", out, sizeof out), "http://***@proxy:3128/");
    /* '@' in the path is not userinfo */
    assert_string_equal(fl_redact_url("http://proxy:3128/a@b", out, sizeof out), "http://proxy:3128/a@b");
    /* a password holding '@' */
    assert_string_equal(fl_redact_url("http://u:p@ss@proxy:1", out, sizeof out), "http://***@proxy:1");
    assert_string_equal(fl_redact_url("u:pw@proxy:1", out, sizeof out), "***@proxy:1");
    assert_string_equal(fl_redact_url("", out, sizeof out), "");
    /* cut short: still no secret */
    char small[12];
    fl_redact_url("http://user:secret@proxy:3128", small, sizeof small);
    assert_null(strstr(small, "secret"));
    assert_null(strstr(small, "user"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),   cmocka_unit_test(test_star),
        cmocka_unit_test(test_ips),     cmocka_unit_test(test_url_host),
        cmocka_unit_test(test_applies), cmocka_unit_test(test_redact),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
