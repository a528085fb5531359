/* test_fl_tags.c — DD_TAGS (common/tags.c), the function tag set
 * (flusher/fl_tags.c) and runtime detection (flusher/fl_runtime.c) against
 * fake /proc and os-release trees made here. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "fl_runtime.h"
#include "fl_tags.h"
#include "tags.h"

static void test_dd_tags_rules(void **state)
{
    (void)state;
    char out[512];
    struct tags_parse_stats st;
    /* commas and spaces both split; empty items vanish; first ':' splits */
    assert_int_equal(tags_parse(" team:pay,, Tier:Gold  url:http://x:1 ,", out, sizeof out, &st), 0);
    assert_string_equal(out, "team:pay,tier:Gold,url:http://x:1");
    assert_int_equal(st.kept, 3);
    assert_int_equal(st.skipped, 0);
    /* bare tags, empty keys or values are skipped (Datadog's rule) */
    assert_int_equal(tags_parse("bare,:v,k:,ok:1", out, sizeof out, &st), 0);
    assert_string_equal(out, "ok:1");
    assert_int_equal(st.skipped, 3);
    /* a key again: first position, last value, key compared lower-cased */
    assert_int_equal(tags_parse("a:1,b:2,A:3", out, sizeof out, &st), 0);
    assert_string_equal(out, "a:3,b:2");
    assert_int_equal(st.replaced, 1);
    /* control bytes and invalid UTF-8 are skipped; UTF-8 values kept */
    assert_int_equal(tags_parse("x:\x01y,z:\xff,caf:\xc3\xa9", out, sizeof out, &st), 0);
    assert_string_equal(out, "caf:\xc3\xa9");
    assert_int_equal(st.skipped, 2);
    /* bounded: more than TAGS_ITEMS_MAX keys are counted, not kept */
    char many[4096] = "";
    for (unsigned i = 0; i < TAGS_ITEMS_MAX + 5; i++)
        snprintf(many + strlen(many), sizeof many - strlen(many), "k%u:v ", i);
    assert_int_equal(tags_parse(many, out, sizeof out, &st), 0);
    assert_int_equal(st.kept, TAGS_ITEMS_MAX);
    assert_int_equal(st.skipped, 5);
    assert_int_equal(tags_parse("a:1,b:2", out, 4, &st), -1);
    assert_string_equal(out, "");
    /* the canonical string iterates back */
    tags_parse("k:v,key2:a:b", out, sizeof out, NULL);
    const char *c = out;
    struct tag_item it;
    assert_true(tags_next(&c, &it));
    assert_int_equal(it.key_len, 1);
    assert_memory_equal(it.value, "v", 1);
    assert_true(tags_next(&c, &it));
    assert_int_equal(it.value_len, 3);
    assert_memory_equal(it.value, "a:b", 3);
    assert_false(tags_next(&c, &it));
}

static void test_tag_set_versioned_and_latest(void **state)
{
    (void)state;
    static struct fl_tags t;
    char dd[256];
    tags_parse("team:pay, env:staging", dd, sizeof dd, NULL);
    struct fl_tags_src s = {
        .fn_name = "My-Func", .qualifier = "7", .account_id = "123456789012",
        .region = "us-east-1", .memory_mb = 1024, .runtime = "python3.12",
        .architecture = "x86_64", .init_type = "on-demand", .env = "prod",
        .service = "Checkout", .version = "1.2", .dd_tags = dd,
    };
    assert_int_equal(fl_tags_build(&s, &t), 0);
    const char *want =
        "account_id:123456789012,architecture:x86_64,aws_account:123456789012,"
        "dd_extension_version:" FL_EXTENSION_VERSION ",env:staging,executedversion:7,"
        "function_arn:arn:aws:lambda:us-east-1:123456789012:function:my-func,"
        "functionname:My-Func,init_type:on-demand,memorysize:1024,region:us-east-1,"
        "resource:My-Func:7,runtime:python3.12,service:checkout,team:pay,version:1.2";
    assert_string_equal(t.joined, want);
    /* the metric tags are the same strings, in the same order */
    char again[FL_TAGS_BUF] = "";
    for (size_t i = 0; i < t.n; i++)
        snprintf(again + strlen(again), sizeof again - strlen(again), "%s%.*s", i ? "," : "",
                 (int)t.tags[i].len, t.tags[i].p);
    assert_string_equal(again, want);

    s.qualifier = "$LATEST";
    s.dd_tags = NULL;
    s.init_type = NULL;
    s.region = "cn-north-1";
    assert_int_equal(fl_tags_build(&s, &t), 0);
    assert_non_null(strstr(t.joined, "resource:My-Func,"));
    assert_null(strstr(t.joined, "executedversion"));
    assert_null(strstr(t.joined, "init_type"));
    assert_non_null(strstr(t.joined, "function_arn:arn:aws-cn:lambda:cn-north-1:"));
    assert_non_null(strstr(t.joined, "env:prod,"));
    /* unknown account: no ARN, no account tags, the rest stays */
    s.account_id = NULL;
    assert_int_equal(fl_tags_build(&s, &t), 0);
    assert_null(strstr(t.joined, "function_arn"));
    assert_null(strstr(t.joined, "account"));
    assert_non_null(strstr(t.joined, "functionname:My-Func"));
}

/* ---- runtime ----------------------------------------------------------- */

static char root[256];

static void put_file(const char *rel, const char *data, size_t len)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", root, rel);
    char dir[512];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    *slash = '\0';
    char cmd[600];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", dir);
    assert_int_equal(system(cmd), 0);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    fclose(f);
}

static int setup_root(void **state)
{
    (void)state;
    snprintf(root, sizeof root, "%s/fl_rt_XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    return mkdtemp(root) ? 0 : -1;
}

static int teardown_root(void **state)
{
    (void)state;
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    return system(cmd) == 0 ? 0 : -1;
}

static void test_runtime_version(void **state)
{
    (void)state;
    char rt[FL_RUNTIME_MAX];
    static const char *const cases[][2] = {
        {"nodejs:20.v13", "nodejs20.x"}, {"nodejs:22.x", "nodejs22.x"},
        {"python:3.12.v20", "python3.12"}, {"java:17.v1", "java17"},
        {"provided:al2023", "provided.al2023"}, {"provided:al2.v7", "provided.al2"},
        {"dotnet:8.v3", "dotnet8"}, {"ruby:3.3.v9", "ruby3.3"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_true(fl_runtime_from_version(cases[i][0], rt, sizeof rt));
        assert_string_equal(rt, cases[i][1]);
    }
    assert_false(fl_runtime_from_version("nodejs20", rt, sizeof rt));
    assert_false(fl_runtime_from_version(":20", rt, sizeof rt));
    assert_false(fl_runtime_from_version("nodejs:", rt, sizeof rt));
    assert_false(fl_runtime_from_version("node js:20", rt, sizeof rt));
    assert_false(fl_runtime_from_version(NULL, rt, sizeof rt));
}

static void test_runtime_sources_in_order(void **state)
{
    (void)state;
    char rt[FL_RUNTIME_MAX], proc[300], osr[300], none[300];
    snprintf(proc, sizeof proc, "%s/proc", root);
    snprintf(osr, sizeof osr, "%s/etc/os-release", root);
    snprintf(none, sizeof none, "%s/missing", root);

    /* nothing answers: unknown */
    assert_int_equal(fl_runtime_resolve(none, none, rt, sizeof rt), FL_RT_UNKNOWN);
    assert_string_equal(rt, "unknown");

    /* os-release alone */
    static const char al2[] = "NAME=\"Amazon Linux\"\nVERSION=\"2\"\nPRETTY_NAME=\"Amazon Linux 2\"\n";
    put_file("etc/os-release", al2, sizeof al2 - 1);
    assert_int_equal(fl_runtime_resolve(none, osr, rt, sizeof rt), FL_RT_OS_RELEASE);
    assert_string_equal(rt, "provided.al2");
    static const char al2023[] = "NAME=\"Amazon Linux\"\nPRETTY_NAME=\"Amazon Linux 2023.6.20241010\"\n";
    put_file("etc/os-release", al2023, sizeof al2023 - 1);
    assert_int_equal(fl_runtime_resolve(none, osr, rt, sizeof rt), FL_RT_OS_RELEASE);
    assert_string_equal(rt, "provided.al2023");
    static const char deb[] = "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n";
    put_file("etc/os-release", deb, sizeof deb - 1);
    assert_int_equal(fl_runtime_resolve(none, osr, rt, sizeof rt), FL_RT_UNKNOWN);
    put_file("etc/os-release", al2023, sizeof al2023 - 1);

    /* a /proc without the variable (pid 1 holds it but is skipped): os-release */
    static const char init_env[] = "PATH=/bin\0AWS_EXECUTION_ENV=AWS_Lambda_ruby3.2\0";
    static const char other[] = "HOME=/\0LANG=C\0";
    put_file("proc/1/environ", init_env, sizeof init_env - 1);
    put_file("proc/42/environ", other, sizeof other - 1);
    put_file("proc/self/environ", init_env, sizeof init_env - 1); /* not a pid */
    assert_int_equal(fl_runtime_resolve(proc, osr, rt, sizeof rt), FL_RT_OS_RELEASE);
    assert_string_equal(rt, "provided.al2023");

    /* the runtime process's environment wins over os-release */
    static const char rt_env[] = "A=1\0AWS_EXECUTION_ENV=\"AWS_Lambda_nodejs20.x\"\0B=2";
    put_file("proc/77/environ", rt_env, sizeof rt_env - 1);
    assert_int_equal(fl_runtime_resolve(proc, osr, rt, sizeof rt), FL_RT_PROC);
    assert_string_equal(rt, "nodejs20.x");

    /* a garbage value does not count as an answer */
    static const char bad_env[] = "AWS_EXECUTION_ENV=AWS_Lambda_no de";
    put_file("proc/77/environ", bad_env, sizeof bad_env - 1);
    assert_int_equal(fl_runtime_resolve(proc, osr, rt, sizeof rt), FL_RT_OS_RELEASE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dd_tags_rules),
        cmocka_unit_test(test_tag_set_versioned_and_latest),
        cmocka_unit_test(test_runtime_version),
        cmocka_unit_test(test_runtime_sources_in_order),
    };
    return cmocka_run_group_tests(tests, setup_root, teardown_root);
}
