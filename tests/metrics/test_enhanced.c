/* test_enhanced.c — scripted platform sequences through flusher/enhanced
 * into the aggregator: names, units, values, tags, cost, OOM, timeouts,
 * post-runtime duration, cold and proactive starts, shutdown. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "enhanced.h"

/* cnt and sum cover the entries carrying tag (all when tag is NULL). */
struct found {
    int64_t cnt;
    double sum;
    size_t entries;
    size_t with_tag; /* entries carrying the wanted tag */
    bool tagged;     /* every entry carried it */
};

static struct found find(const struct met_batch *b, const char *metric, const char *tag)
{
    struct found f = { 0, 0, 0, 0, true };
    char full[128];
    snprintf(full, sizeof(full), "aws.lambda.enhanced.%s", metric);
    for (size_t i = 0; i < b->nsketches; i++) {
        const struct met_sketch *s = &b->sketches[i];
        if (strcmp(s->metric, full))
            continue;
        f.entries++;
        bool has = !tag;
        for (size_t t = 0; tag && t < s->ntags; t++)
            if (!strcmp(s->tags[t], tag))
                has = true;
        if (!has) {
            f.tagged = false;
            continue;
        }
        f.with_tag++;
        f.cnt += s->sk.cnt;
        f.sum += s->sk.sum;
    }
    return f;
}

static const struct enh_tag_context CTX = {
    .function_name = "my-fn", .region = "us-east-1", .account_id = "123456789012",
    .resource = "my-fn", .executed_version = "7", .runtime = "python3.12",
    .architecture = "x86_64", .env = "prod", .service = "svc", .version = "1.0",
    .dd_tags = "team:a,owner:b,extra:c" /* canonical, as cfg.tags */, .memory_mb = 1024,
};

/* Which optional numbers of a platform record are present (bits). */
enum { TH_DURATION = 1, TH_BILLED = 2, TH_MEMORY = 4, TH_MAX_MEMORY = 8, TH_INIT = 16, TH_PRODUCED = 32 };

static void set_has(struct ft_platform *e, unsigned bits)
{
    e->has_duration_ms = bits & TH_DURATION;
    e->has_billed_ms = bits & TH_BILLED;
    e->has_memory_mb = bits & TH_MEMORY;
    e->has_max_memory_mb = bits & TH_MAX_MEMORY;
    e->has_init_ms = bits & TH_INIT;
    e->has_produced_bytes = bits & TH_PRODUCED;
}

static struct ft_platform ev(enum platform_event event, int64_t t, const char *id)
{
    return (struct ft_platform){ .event = event, .time_ms = t, .request_id = id };
}

/* Every name this module emits is one the flusher drops when a library
 * sends it over DogStatsD too (enh_owns), so none is ever counted twice. */
static void assert_all_owned(const struct met_batch *b)
{
    for (size_t i = 0; i < b->nsketches; i++)
        if (!enh_owns(b->sketches[i].metric, strlen(b->sketches[i].metric)))
            fail_msg("%s is emitted but not in enh_owns", b->sketches[i].metric);
    for (size_t i = 0; i < b->nseries; i++)
        if (!enh_owns(b->series[i].metric, strlen(b->series[i].metric)))
            fail_msg("%s is emitted but not in enh_owns", b->series[i].metric);
}

static void test_sequence_x86(void **state)
{
    (void)state;
    struct met_agg *a = met_new(0);
    struct enh_state *st = enh_new(a);
    assert_int_equal(enh_set_context(st, &CTX), 0);

    struct ft_platform e = ev(PE_INIT_START, 1000000, NULL);
    assert_int_equal(enh_on_platform(st, &e), 0);
    e = ev(PE_INIT_REPORT, 1000200, NULL);
    e.init_ms = 180, set_has(&e, TH_INIT);
    assert_int_equal(enh_on_platform(st, &e), 0);
    assert_int_equal(enh_on_invoke(st, 1000300, "r1"), 0);
    e = ev(PE_RUNTIME_DONE, 1000500, "r1");
    e.status = "success", e.duration_ms = 150.5, e.produced_bytes = 42;
    set_has(&e, TH_DURATION | TH_PRODUCED);
    assert_int_equal(enh_on_platform(st, &e), 0);
    /* r2 starts before r1's report arrives (report comes after /next) */
    assert_int_equal(enh_on_invoke(st, 1010000, "r2"), 0);
    e = ev(PE_REPORT, 1000600, "r1");
    e.status = "success", e.duration_ms = 160.5, e.billed_ms = 161, e.memory_mb = 1024;
    e.max_memory_mb = 80, e.init_ms = 180;
    set_has(&e, TH_DURATION | TH_BILLED | TH_MEMORY | TH_MAX_MEMORY | TH_INIT);
    assert_int_equal(enh_on_platform(st, &e), 0);
    /* r2 times out and fills memory (not an OOM for a python runtime) */
    e = ev(PE_RUNTIME_DONE, 1013000, "r2");
    e.status = "timeout", e.error_type = "Sandbox.Timedout", e.duration_ms = 3000;
    set_has(&e, TH_DURATION);
    assert_int_equal(enh_on_platform(st, &e), 0);
    e = ev(PE_REPORT, 1013100, "r2");
    e.status = "timeout", e.duration_ms = 3000.9, e.billed_ms = 3001, e.memory_mb = 1024;
    e.max_memory_mb = 1024;
    set_has(&e, TH_DURATION | TH_BILLED | TH_MEMORY | TH_MAX_MEMORY);
    assert_int_equal(enh_on_platform(st, &e), 0);
    /* r3: the runtime reports OOM, the report must not count it twice */
    assert_int_equal(enh_on_invoke(st, 1020000, "r3"), 0);
    e = ev(PE_RUNTIME_DONE, 1020100, "r3");
    e.status = "error", e.error_type = "Runtime.OutOfMemory", set_has(&e, 0);
    assert_int_equal(enh_on_platform(st, &e), 0);
    e = ev(PE_REPORT, 1020200, "r3");
    e.status = "error", e.memory_mb = 1024, e.max_memory_mb = 1024;
    set_has(&e, TH_MEMORY | TH_MAX_MEMORY);
    assert_int_equal(enh_on_platform(st, &e), 0);
    assert_int_equal(enh_on_shutdown(st, 1030000), 0);

    struct met_batch b;
    assert_int_equal(met_drain(a, 0, true, &b), 0);
    assert_int_equal(b.nseries, 0);

    struct found f = find(&b, "invocations", NULL);
    assert_int_equal(f.cnt, 3);
    assert_true(f.sum == 3);
    f = find(&b, "invocations", "cold_start:true");
    assert_int_equal(f.with_tag, 1); /* r1 true, r2/r3 false */
    assert_int_equal(find(&b, "invocations", "cold_start:false").with_tag, 2);
    f = find(&b, "init_duration", "cold_start:true");
    assert_int_equal(f.cnt, 1); /* from initReport only, not again from the report */
    assert_true(fabs(f.sum - 0.18) < 1e-12);
    assert_true(f.tagged);
    f = find(&b, "runtime_duration", NULL);
    assert_int_equal(f.cnt, 2);
    assert_true(f.sum == 150.5 + 3000); /* milliseconds */
    f = find(&b, "produced_bytes", NULL);
    assert_true(f.cnt == 1 && f.sum == 42);
    f = find(&b, "duration", "cold_start:true"); /* r1's report after r2's invoke */
    assert_int_equal(f.with_tag, 1);
    assert_true(fabs(f.sum - 0.1605) < 1e-12); /* seconds */
    f = find(&b, "duration", NULL);
    assert_true(fabs(f.sum - (0.1605 + 3.0009)) < 1e-12);
    f = find(&b, "billed_duration", NULL);
    assert_true(fabs(f.sum - (0.161 + 3.001)) < 1e-12);
    f = find(&b, "max_memory_used", NULL);
    assert_true(f.cnt == 3 && f.sum == 80 + 1024 + 1024);
    f = find(&b, "memorysize", NULL);
    assert_true(f.cnt == 3 && f.sum == 3 * 1024);
    f = find(&b, "post_runtime_duration", NULL);
    assert_int_equal(f.cnt, 2);
    assert_true(fabs(f.sum - (10.0 + 0.9)) < 1e-9); /* ms: 160.5-150.5, 3000.9-3000 */
    f = find(&b, "errors", NULL);
    assert_int_equal(f.cnt, 2);
    f = find(&b, "timeouts", NULL);
    assert_int_equal(f.cnt, 1);
    f = find(&b, "out_of_memory", NULL);
    assert_int_equal(f.cnt, 1); /* r3 by errorType, once */
    f = find(&b, "shutdowns", NULL);
    assert_int_equal(f.cnt, 1);
    f = find(&b, "unused_init", NULL);
    assert_int_equal(f.entries, 0);

    /* cost by hand: 1 GB * 0.161 s * 0.0000166667 + 0.0000002 = 2.8833387e-6,
     * rounded to 1e-12; 1 GB * 3.001 s -> 5.0216767e-5 + 2e-7 */
    f = find(&b, "estimated_cost", "architecture:x86_64");
    assert_int_equal(f.cnt, 2);
    assert_true(f.tagged);
    assert_true(fabs(f.sum - (2.883339e-6 + 5.0216767e-5)) < 1e-15);

    /* every enhanced metric carries the identity tags */
    const char *want[] = { "functionname:my-fn", "region:us-east-1",
                           "account_id:123456789012", "resource:my-fn", "executedversion:7",
                           "memorysize:1024", "runtime:python3.12", "architecture:x86_64",
                           "env:prod", "service:svc", "version:1.0", "team:a", "owner:b",
                           "extra:c" };
    for (size_t w = 0; w < sizeof(want) / sizeof(want[0]); w++)
        for (size_t i = 0; i < b.nsketches; i++) {
            bool has = false;
            for (size_t t = 0; t < b.sketches[i].ntags; t++)
                has |= !strcmp(b.sketches[i].tags[t], want[w]);
            if (!has)
                fail_msg("%s lacks %s", b.sketches[i].metric, want[w]);
        }
    met_batch_free(&b);
    enh_free(st);
    met_free(a);
}

static void test_cost_arm(void **state)
{
    (void)state;
    /* 0.5 GB * 0.1 s * 0.0000133334 + 0.0000002 = 8.6667e-7 */
    assert_true(fabs(enh_estimated_cost(100, 512, "arm64") - 8.6667e-7) < 1e-18);
    assert_true(fabs(enh_estimated_cost(100, 512, "aarch64") - 8.6667e-7) < 1e-18);
    /* 2 GB * 1 s at the x86 price */
    assert_true(fabs(enh_estimated_cost(1000, 2048, "x86_64") - 3.35334e-5) < 1e-18);
    assert_true(enh_estimated_cost(100, 512, "sparc") < 0);

    struct met_agg *a = met_new(0);
    struct enh_state *st = enh_new(a);
    struct enh_tag_context c = CTX;
    c.architecture = "arm64";
    c.memory_mb = 512;
    assert_int_equal(enh_set_context(st, &c), 0);
    assert_int_equal(enh_on_invoke(st, 5000, "a1"), 0);
    struct ft_platform e = ev(PE_REPORT, 5200, "a1");
    e.duration_ms = 99.2, e.billed_ms = 100, e.memory_mb = 512, e.max_memory_mb = 60;
    e.status = "timeout"; /* its runtimeDone was lost: the report still tells */
    set_has(&e, TH_DURATION | TH_BILLED | TH_MEMORY | TH_MAX_MEMORY);
    assert_int_equal(enh_on_platform(st, &e), 0);
    struct met_batch b;
    assert_int_equal(met_drain(a, 0, true, &b), 0);
    struct found f = find(&b, "estimated_cost", "architecture:arm64");
    assert_true(f.cnt == 1 && f.tagged);
    assert_true(fabs(f.sum - 8.6667e-7) < 1e-18);
    /* no runtimeDone seen: no post_runtime_duration, no OOM at 60/512 */
    assert_int_equal(find(&b, "post_runtime_duration", NULL).entries, 0);
    assert_int_equal(find(&b, "out_of_memory", NULL).entries, 0);
    assert_int_equal(find(&b, "errors", NULL).cnt, 1);
    assert_int_equal(find(&b, "timeouts", NULL).cnt, 1);
    met_batch_free(&b);
    enh_free(st);
    met_free(a);
}

/* provided.al runtimes give no error type: a full memory report is the OOM */
static void test_oom_provided(void **state)
{
    (void)state;
    struct met_agg *a = met_new(0);
    struct enh_state *st = enh_new(a);
    struct enh_tag_context c = CTX;
    c.runtime = "provided.al2023";
    assert_int_equal(enh_set_context(st, &c), 0);
    struct ft_platform e;
    const char *ids[] = { "o1", "o2", "o3" };
    const int64_t maxmem[] = { 1024, 1000, 1024 };
    for (int i = 0; i < 3; i++) {
        assert_int_equal(enh_on_invoke(st, 1000 + 100 * i, ids[i]), 0);
        e = ev(PE_RUNTIME_DONE, 1050 + 100 * i, ids[i]);
        e.status = "error";
        e.error_type = i == 2 ? "Runtime.OutOfMemory" : "Runtime.ExitError";
        assert_int_equal(enh_on_platform(st, &e), 0);
        e = ev(PE_REPORT, 1060 + 100 * i, ids[i]);
        e.status = "error", e.memory_mb = 1024, e.max_memory_mb = maxmem[i];
        set_has(&e, TH_MEMORY | TH_MAX_MEMORY);
        assert_int_equal(enh_on_platform(st, &e), 0);
    }
    struct met_batch b;
    assert_int_equal(met_drain(a, 0, true, &b), 0);
    /* o1 by memory, o2 not (1000 < 1024), o3 by error type and not twice */
    assert_int_equal(find(&b, "out_of_memory", NULL).cnt, 2);
    assert_int_equal(find(&b, "errors", NULL).cnt, 3);
    assert_all_owned(&b);
    met_batch_free(&b);
    enh_free(st);
    met_free(a);
}

static void test_unused_init_and_proactive(void **state)
{
    (void)state;
    struct met_agg *a = met_new(0);
    struct enh_state *st = enh_new(a);
    assert_int_equal(enh_set_context(st, &CTX), 0);
    assert_int_equal(enh_on_shutdown(st, 9000), 0);
    struct met_batch b;
    assert_int_equal(met_drain(a, 0, true, &b), 0);
    assert_int_equal(find(&b, "shutdowns", NULL).cnt, 1);
    assert_int_equal(find(&b, "unused_init", NULL).cnt, 1);
    assert_all_owned(&b);
    met_batch_free(&b);
    enh_free(st);

    /* first invoke 20 s after init start: a proactive init, not a cold start */
    st = enh_new(a);
    assert_int_equal(enh_set_context(st, &CTX), 0);
    struct ft_platform e = ev(PE_INIT_START, 0, NULL);
    enh_on_platform(st, &e);
    assert_int_equal(enh_on_invoke(st, 20000, "p1"), 0);
    assert_int_equal(met_drain(a, 0, true, &b), 0);
    struct found f = find(&b, "invocations", "proactive_initialization:true");
    assert_true(f.cnt == 1 && f.tagged);
    assert_true(find(&b, "invocations", "cold_start:false").tagged);
    met_batch_free(&b);
    enh_free(st);

    /* the sandbox start can be given directly (the extension's own start) */
    st = enh_new(a);
    assert_int_equal(enh_set_context(st, &CTX), 0);
    enh_set_sandbox_init(st, 100000);
    assert_int_equal(enh_on_invoke(st, 110001, "p2"), 0);
    assert_int_equal(met_drain(a, 0, true, &b), 0);
    assert_int_equal(find(&b, "invocations", "proactive_initialization:true").cnt, 1);
    met_batch_free(&b);
    enh_free(st);

    /* a quick first invoke is the cold start */
    st = enh_new(a);
    assert_int_equal(enh_set_context(st, &CTX), 0);
    enh_on_platform(st, &e);
    assert_int_equal(enh_on_invoke(st, 900, "c1"), 0);
    assert_int_equal(met_drain(a, 0, true, &b), 0);
    assert_true(find(&b, "invocations", "cold_start:true").tagged);
    met_batch_free(&b);
    enh_free(st);
    met_free(a);
}

/* A restarted flusher told by FT_CONTEXT that the sandbox was invoked
 * before: its first invocation is not a cold start, and no unused_init. */
static void test_warm_after_restart(void **state)
{
    (void)state;
    struct met_agg *a = met_new(0);
    struct enh_state *st = enh_new(a);
    assert_int_equal(enh_set_context(st, &CTX), 0);
    enh_set_warm(st);
    assert_int_equal(enh_on_invoke(st, 5000, "w1"), 0);
    assert_int_equal(enh_on_shutdown(st, 9000), 0);
    struct met_batch b;
    assert_int_equal(met_drain(a, 0, true, &b), 0);
    struct found f = find(&b, "invocations", "cold_start:false");
    assert_true(f.cnt == 1 && f.tagged);
    assert_int_equal(find(&b, "unused_init", NULL).cnt, 0);
    met_batch_free(&b);
    enh_free(st);
    met_free(a);
}

static void test_bad_context(void **state)
{
    (void)state;
    struct met_agg *a = met_new(0);
    struct enh_state *st = enh_new(a);
    struct enh_tag_context c = CTX;
    c.function_name = "bad\nname";
    assert_int_equal(enh_set_context(st, &c), -1);
    /* the rest of the context still applies; metrics still flow */
    assert_int_equal(enh_on_invoke(st, 1000, "x"), 0);
    struct met_batch b;
    assert_int_equal(met_drain(a, 0, true, &b), 0);
    assert_true(find(&b, "invocations", "region:us-east-1").tagged);
    assert_int_equal(find(&b, "invocations", NULL).cnt, 1);
    met_batch_free(&b);
    enh_free(st);
    met_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sequence_x86),
        cmocka_unit_test(test_cost_arm),
        cmocka_unit_test(test_oom_provided),
        cmocka_unit_test(test_unused_init_and_proactive),
        cmocka_unit_test(test_warm_after_restart),
        cmocka_unit_test(test_bad_context),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
