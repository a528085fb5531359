/* test_cfg_vars.c — common/cfg_vars.c: the honoured-variable table and the
 * list of set-but-ignored DD_* variables logged at start (names only, the
 * in-function libraries' variables left out, bounded output). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "cfg_vars.h"

static void test_honoured(void **state)
{
    (void)state;
    assert_true(cfg_var_honoured("DD_API_KEY", 0));
    assert_true(cfg_var_honoured("DD_SERVERLESS_FLUSH_STRATEGY", 0));
    assert_true(cfg_var_honoured("DD_SITE=datadoghq.eu", 7)); /* a prefix of an environ entry */
    assert_false(cfg_var_honoured("DD_SIT", 0));
    assert_false(cfg_var_honoured("DD_SITEX", 0));
    assert_false(cfg_var_honoured("DD_LOGS_CONFIG_PROCESSING_RULES", 0));
    /* every entry has help text, no duplicates */
    for (const struct cfg_var *v = cfg_vars; v->name; v++) {
        assert_non_null(v->help);
        assert_true(strlen(v->help) > 0);
        for (const struct cfg_var *w = v + 1; w->name; w++)
            assert_string_not_equal(v->name, w->name);
    }
}

static void test_unhonoured(void **state)
{
    (void)state;
    char *env[] = {"PATH=/usr/bin", "DD_API_KEY=0123456789abcdef", "DD_TRACE_ENABLED=true",
                   "DD_LAMBDA_HANDLER=index.handler", "DD_LOGS_CONFIG_PROCESSING_RULES=[{\"x\":1}]",
                   "DD_=1", "NOT_DD_X=1", "DD_ENV=prod", "dd_lower=1", "DD_NOEQUALS", NULL};
    char out[256];
    assert_int_equal(cfg_unhonoured(env, out, sizeof out), 3);
    assert_string_equal(out, "DD_TRACE_ENABLED, DD_LOGS_CONFIG_PROCESSING_RULES, DD_");
    assert_null(strstr(out, "true")); /* never a value */

    char *clean[] = {"DD_API_KEY=k", "DD_SITE=datadoghq.com", "DD_FLUSH_TO_LOG=true", NULL};
    out[0] = 'x';
    assert_int_equal(cfg_unhonoured(clean, out, sizeof out), 0);
    assert_string_equal(out, "");
    assert_int_equal(cfg_unhonoured(NULL, out, sizeof out), 0);
}

static void test_unhonoured_cut(void **state)
{
    (void)state;
    char *env[] = {"DD_AAAAAAAAAA=1", "DD_BBBBBBBBBB=1", "DD_CCCCCCCCCC=1", "DD_DDDDDDDDDD=1", NULL};
    char out[40];
    memset(out, '#', sizeof out);
    /* all four are counted; the text is cut and says so, within the buffer */
    assert_int_equal(cfg_unhonoured(env, out, sizeof out), 4);
    assert_non_null(memchr(out, '\0', sizeof out));
    assert_string_equal(out, "DD_AAAAAAAAAA, DD_BBBBBBBBBB, ...");
    char tiny[4];
    assert_int_equal(cfg_unhonoured(env, tiny, sizeof tiny), 4);
    assert_non_null(memchr(tiny, '\0', sizeof tiny));
    assert_int_equal(cfg_unhonoured(env, NULL, 0), 4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_honoured),
        cmocka_unit_test(test_unhonoured),
        cmocka_unit_test(test_unhonoured_cut),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
