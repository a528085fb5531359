/* test_url.c — common/url.c, and the promise it exists for: configuration
 * (common/config.c) and the flusher's endpoints (flusher/endpoints.c) agree
 * on every intake URL. Each case goes through cfg_load; an invalid value
 * must give idle mode with one error line naming the variable (and never a
 * credential), and the flusher must refuse the same raw value; a valid one
 * must leave config active and the flusher must build the same URLs from
 * config's values as from the raw ones. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"
#include "endpoints.h"
#include "url.h"

struct env {
    const char *names[8];
    const char *values[8];
};

static const char *env_get(const char *name, void *arg)
{
    const struct env *e = arg;
    if (!strcmp(name, "AWS_LAMBDA_RUNTIME_API"))
        return "127.0.0.1:9001";
    if (!strcmp(name, "DD_API_KEY"))
        return "abcdef0123456789abcdef0123456789";
    for (int i = 0; i < 8 && e->names[i]; i++)
        if (!strcmp(name, e->names[i]))
            return e->values[i];
    return NULL;
}

struct ucase {
    const char *var, *value;
    const char *series;  /* expected series URL when valid, NULL = invalid */
    const char *secret;  /* must not appear in the error line */
};

/* The three values of the bug report first, then more of both kinds. */
static const struct ucase cases[] = {
    {"DD_SITE", "datadoghq.com.", NULL, NULL},
    {"DD_DD_URL", "https://api.example.com/x?y=1", NULL, NULL},
    {"DD_DD_URL", "https://-bad.example.com", NULL, NULL},
    {"DD_SITE", ".datadoghq.com", NULL, NULL},
    {"DD_SITE", "datadog hq.com", NULL, NULL},
    {"DD_SITE", "evil.com/x", NULL, NULL},
    {"DD_SITE", "a@b", NULL, NULL},
    {"DD_SITE", "x:1", NULL, NULL},
    {"DD_SITE", "datadoghq..com", NULL, NULL},
    {"DD_SITE", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.com", NULL, NULL},
    {"DD_DD_URL", "ftp://api.example.com", NULL, NULL},
    {"DD_DD_URL", "https://user:hunter22@api.example.com", NULL, "hunter22"},
    {"DD_DD_URL", "https://api.example.com:0", NULL, NULL},
    {"DD_DD_URL", "https://api.example.com:65536", NULL, NULL},
    {"DD_DD_URL", "https://api.example.com:12a", NULL, NULL},
    {"DD_DD_URL", "https://api.example.com:", NULL, NULL},
    {"DD_DD_URL", "https://api..example.com", NULL, NULL},
    {"DD_DD_URL", "https://bad-.example.com", NULL, NULL},
    {"DD_DD_URL", "https://[zz::1]", NULL, NULL},
    {"DD_DD_URL", "https://[::1", NULL, NULL},
    {"DD_DD_URL", "https://api.example.com/x#frag", NULL, NULL},
    {"DD_DD_URL", "https://api.exa mple.com", NULL, NULL},
    {"DD_DD_URL", "https://api.example.com/\xc3\xa9", NULL, NULL},
    {"DD_URL", "api.example.com", NULL, NULL},
    {"DD_APM_DD_URL", "https://", NULL, NULL},
    {"DD_LOGS_CONFIG_LOGS_DD_URL", "logs.example.com:notaport", NULL, NULL},
    {"DD_LOGS_CONFIG_LOGS_DD_URL", "https://logs.example.com?x", NULL, NULL},
    /* valid */
    {"DD_SITE", "datadoghq.eu", "https://api.datadoghq.eu/api/v2/series", NULL},
    {"DD_SITE", " us5.datadoghq.com ", "https://api.us5.datadoghq.com/api/v2/series", NULL},
    {"DD_DD_URL", "https://api.example.com/", "https://api.example.com/api/v2/series", NULL},
    {"DD_DD_URL", "http://127.0.0.1:8080", "http://127.0.0.1:8080/api/v2/series", NULL},
    {"DD_DD_URL", "https://[::1]:8443/prefix", "https://[::1]:8443/prefix/api/v2/series", NULL},
    {"DD_DD_URL", "https://my_host.internal:1", "https://my_host.internal:1/api/v2/series", NULL},
    {"DD_DD_URL", "https://api.example.com:65535/a/b//",
     "https://api.example.com:65535/a/b/api/v2/series", NULL},
    {"DD_URL", "HTTPS://API.Example.com", "HTTPS://API.Example.com/api/v2/series", NULL},
    {"DD_LOGS_CONFIG_LOGS_DD_URL", "logs.example.com:443", "https://api.datadoghq.com/api/v2/series",
     NULL},
    {"DD_APM_DD_URL", "https://trace.example.com", "https://api.datadoghq.com/api/v2/series", NULL},
};

/* The raw value as the flusher's source struct would take it. */
static struct fl_endpoint_src raw_src(const struct ucase *k)
{
    struct fl_endpoint_src s = {0};
    if (!strcmp(k->var, "DD_SITE"))
        s.site = k->value;
    else if (!strcmp(k->var, "DD_DD_URL") || !strcmp(k->var, "DD_URL"))
        s.dd_url = k->value;
    else if (!strcmp(k->var, "DD_LOGS_CONFIG_LOGS_DD_URL"))
        s.logs_dd_url = k->value;
    else
        s.apm_dd_url = k->value;
    return s;
}

static void test_config_and_flusher_agree(void **state)
{
    (void)state;
    unsigned nvalid = 0, ninvalid = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct ucase *k = &cases[i];
        struct env e = {{k->var}, {k->value}};
        struct cfg c;
        assert_int_equal(cfg_load(&c, env_get, &e), 0);
        struct fl_endpoint_src raw = raw_src(k);
        struct fl_endpoints ep_raw, ep_cfg;
        char err[256] = "";
        int rc_raw = fl_endpoints_build(&raw, &ep_raw, err, sizeof err);
        if (k->series == NULL) {
            ninvalid++;
            if (!c.idle)
                fail_msg("case %zu %s=%s: config accepted it", i, k->var, k->value);
            assert_non_null(strstr(c.idle_reason, k->var));
            assert_null(strchr(c.idle_reason, '\n'));
            if (k->secret)
                assert_null(strstr(c.idle_reason, k->secret));
            if (rc_raw != -1)
                fail_msg("case %zu %s=%s: the flusher accepted it", i, k->var, k->value);
            /* DD_URL is reported by the flusher under DD_DD_URL, its twin */
            if (strcmp(k->var, "DD_URL"))
                assert_non_null(strstr(err, k->var));
            if (k->secret)
                assert_null(strstr(err, k->secret));
            continue;
        }
        nvalid++;
        if (c.idle)
            fail_msg("case %zu %s=%s: config refused it: %s", i, k->var, k->value, c.idle_reason);
        if (rc_raw != 0)
            fail_msg("case %zu %s=%s: the flusher refused it: %s", i, k->var, k->value, err);
        struct fl_endpoint_src from_cfg = {.site = c.site, .dd_url = c.metrics_url,
                                           .logs_dd_url = c.logs_url, .apm_dd_url = c.apm_url};
        assert_int_equal(fl_endpoints_build(&from_cfg, &ep_cfg, err, sizeof err), 0);
        assert_memory_equal(&ep_raw, &ep_cfg, sizeof ep_raw);
        assert_string_equal(ep_cfg.series, k->series);
    }
    /* the issue asks for the three reported values and at least 20 more */
    assert_true(nvalid + ninvalid >= 23);
    assert_true(nvalid >= 8 && ninvalid >= 20);
}

static void test_logs_and_apm_bases(void **state)
{
    (void)state;
    struct env e = {{"DD_LOGS_CONFIG_LOGS_DD_URL", "DD_APM_DD_URL"},
                    {" logs.example.com:443/ ", "http://[fe80::1]:8126"}};
    struct cfg c;
    assert_int_equal(cfg_load(&c, env_get, &e), 0);
    assert_false(c.idle);
    assert_string_equal(c.logs_url, "https://logs.example.com:443");
    assert_string_equal(c.apm_url, "http://[fe80::1]:8126");
}

static void test_proxy(void **state)
{
    (void)state;
    struct env ok = {{"HTTPS_PROXY"}, {"http://user:s3cr3tpw@proxy.local:3128"}};
    struct cfg c;
    assert_int_equal(cfg_load(&c, env_get, &ok), 0);
    assert_false(c.idle);
    assert_string_equal(c.proxy_https, "http://user:s3cr3tpw@proxy.local:3128");
    struct env bad = {{"DD_PROXY_HTTPS"}, {"http://user:s3cr3tpw@:3128"}};
    assert_int_equal(cfg_load(&c, env_get, &bad), 0);
    assert_true(c.idle);
    assert_non_null(strstr(c.idle_reason, "DD_PROXY_HTTPS"));
    assert_null(strstr(c.idle_reason, "s3cr3tpw"));
}

/* DD_TAGS is read once, by configuration, into its canonical form; what it
 * skips is one warning naming the variable. */
static void test_dd_tags_in_config(void **state)
{
    (void)state;
    struct env e = {{"DD_TAGS"}, {" Team:a bare,env:x  team:b ,"}};
    struct cfg c;
    assert_int_equal(cfg_load(&c, env_get, &e), 0);
    assert_string_equal(c.tags, "team:b,env:x");
    unsigned w = 0;
    for (unsigned i = 0; i < c.nwarnings; i++)
        if (strstr(c.warnings[i], "DD_TAGS"))
            w++;
    assert_int_equal(w, 1);
    struct env ok = {{"DD_TAGS"}, {"a:1 b:2"}};
    assert_int_equal(cfg_load(&c, env_get, &ok), 0);
    assert_string_equal(c.tags, "a:1,b:2");
    assert_int_equal(c.nwarnings, 0);
}

static void test_split(void **state)
{
    (void)state;
    struct url u;
    assert_null(url_split("https://u:p@Host.example:8443/a/b?q=1#f", &u));
    assert_true(u.https);
    assert_int_equal(u.userinfo_len, 3);
    assert_memory_equal(u.userinfo, "u:p", 3);
    assert_int_equal(u.host_len, 12);
    assert_memory_equal(u.host, "Host.example", 12);
    assert_int_equal(u.port, 8443);
    assert_int_equal(u.path_len, 4);
    assert_memory_equal(u.path, "/a/b", 4);
    assert_true(u.has_query && u.has_fragment);
    /* the last '@' of the authority ends the userinfo; '@' in the path is path */
    assert_null(url_split("http://a@b@host/x@y", &u));
    assert_int_equal(u.userinfo_len, 3);
    assert_memory_equal(u.host, "host", 4);
    assert_null(url_split("http://[::1]", &u));
    assert_true(u.ipv6);
    assert_int_equal(u.port, 0);
    assert_int_equal(u.path_len, 0);
    assert_non_null(url_split("http://[::1]x", &u));
    assert_non_null(url_split("http://[1.2.3.4]", &u)); /* no ':' */
    assert_non_null(url_split("mailto:x@y", &u));
    assert_non_null(url_split("http://host:123456", &u));
}

static void test_dns_name(void **state)
{
    (void)state;
    char label63[64], label64[65];
    memset(label63, 'a', 63);
    label63[63] = '\0';
    memset(label64, 'a', 64);
    label64[64] = '\0';
    assert_true(url_dns_name_ok(label63, 63));
    assert_false(url_dns_name_ok(label64, 64));
    assert_true(url_dns_name_ok("a-b.c_d.e1", 10));
    assert_false(url_dns_name_ok("a.-b", 4));
    assert_false(url_dns_name_ok("a.b-", 4));
    assert_false(url_dns_name_ok("", 0));
    assert_false(url_dns_name_ok(".", 1));
    char longname[300];
    memset(longname, 'a', sizeof longname);
    for (size_t i = 50; i < sizeof longname; i += 50)
        longname[i] = '.';
    assert_true(url_dns_name_ok(longname, 253));
    assert_false(url_dns_name_ok(longname, 254));
}

static void test_redact_and_host(void **state)
{
    (void)state;
    char out[128], host[64];
    assert_string_equal(url_redact("http://u:pw@proxy:3128/x", out, sizeof out),
                        "http://***@proxy:3128/x");
    assert_string_equal(url_redact("http://proxy:3128/a@b", out, sizeof out),
                        "http://proxy:3128/a@b");
    /* an invalid URL is redacted all the same */
    assert_string_equal(url_redact("http://u:p w@ x", out, sizeof out), "http://***@ x");
    assert_string_equal(url_redact("http://u:pw@proxy", out, 10), "http://**");
    assert_true(url_host("https://u:p@API.Example.COM:1/x", host, sizeof host));
    assert_string_equal(host, "api.example.com");
    assert_true(url_host("http://[::1]:80", host, sizeof host));
    assert_string_equal(host, "::1");
    assert_false(url_host("http://-x", host, sizeof host));
    assert_false(url_host("https://api.example.com", host, 4));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_and_flusher_agree),
        cmocka_unit_test(test_logs_and_apm_bases),
        cmocka_unit_test(test_proxy),
        cmocka_unit_test(test_dd_tags_in_config),
        cmocka_unit_test(test_split),
        cmocka_unit_test(test_dns_name),
        cmocka_unit_test(test_redact_and_host),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
