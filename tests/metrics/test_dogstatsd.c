/* test_dogstatsd.c — the DogStatsD parser feeding the aggregator: every
 * type, sample rates, tags, timestamps, multi-line and multi-value
 * datagrams, events and service checks, malformed lines, bounds. */
#include <setjmp.h>
#include <stdarg.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dogstatsd.h"
#include "enhanced.h"

#define NOW 1700000123

static int feed(struct met_agg *a, struct dsd_stats *st, const char *d)
{
    return dsd_parse(a, d, strlen(d), NOW, st);
}

static const struct met_series *series(const struct met_batch *b, const char *name)
{
    for (size_t i = 0; i < b->nseries; i++)
        if (!strcmp(b->series[i].metric, name))
            return &b->series[i];
    return NULL;
}

static const struct met_sketch *sketch(const struct met_batch *b, const char *name)
{
    for (size_t i = 0; i < b->nsketches; i++)
        if (!strcmp(b->sketches[i].metric, name))
            return &b->sketches[i];
    return NULL;
}

static void test_every_type(void **state)
{
    (void)state;
    struct met_agg *a = met_new(0);
    struct dsd_stats st = { 0 };
    assert_int_equal(feed(a, &st, "cnt:2|c\ngau:1.5|g\ngau:7|g\ndis:3|d\nhis:4|h\ntim:5|ms\n"
                                  "uniq:abc|s\nuniq:def|s\nuniq:abc|s"),
                     9);
    assert_int_equal(st.invalid, 0);
    struct met_batch b;
    assert_int_equal(met_drain(a, 0, true, &b), 0);
    assert_int_equal(b.nseries, 3);
    assert_int_equal(b.nsketches, 3);
    const struct met_series *s = series(&b, "cnt");
    assert_true(s && s->type == 1 && s->value == 2 && s->ts == 1700000120);
    s = series(&b, "gau");
    assert_true(s && s->type == 3 && s->value == 7);
    s = series(&b, "uniq");
    assert_true(s && s->type == 3 && s->value == 2);
    const struct met_sketch *k = sketch(&b, "dis");
    assert_true(k && k->sk.cnt == 1 && k->sk.sum == 3);
    k = sketch(&b, "his");
    assert_true(k && k->sk.cnt == 1 && k->sk.sum == 4);
    k = sketch(&b, "tim");
    assert_true(k && k->sk.cnt == 1 && k->sk.sum == 5);
    met_batch_free(&b);
    met_free(a);
}

static void test_rates_tags_timestamps(void **state)
{
    (void)state;
    struct met_agg *a = met_new(0);
    struct dsd_stats st = { 0 };
    assert_int_equal(feed(a, &st, "c:1|c|@0.5\nc:1|c|@0.25\nd:10|d|@0.25\n"
                                  "t:1|c|#b:2,a:1,,a:1\n"
                                  "ts:4|g|T1700000005\n"
                                  "mix:1|c|#env:x|c:container123|@0.5|T1699998000\n"
                                  "fut:1|c|x:unknown-section\n"
                                  "later:1|g|T1700000500\n"
                                  "frac:1|g|T1699999009.5\n"
                                  "frac2:1|g|T1699999009.49\n"
                                  /* outside [now - 1 h, now + 10 min]: refused, counted */
                                  "old:1|g|T1700000120\nold:1|g|T1699996522\nfar:1|g|T1700000724\n"
                                  "epoch:1|g|T1"),
                     11);
    assert_int_equal(st.invalid, 3);
    assert_int_equal(st.bad_timestamp, 3);
    struct met_batch b;
    assert_int_equal(met_drain(a, 0, true, &b), 0);
    const struct met_series *s = series(&b, "c");
    assert_true(s && s->value == 2 + 4);
    const struct met_sketch *k = sketch(&b, "d");
    assert_true(k && k->sk.cnt == 4 && k->sk.sum == 40);
    s = series(&b, "t");
    assert_true(s && s->ntags == 2);
    assert_string_equal(s->tags[0], "a:1");
    assert_string_equal(s->tags[1], "b:2");
    s = series(&b, "ts");
    assert_true(s && s->ts == 1700000000);
    s = series(&b, "mix");
    assert_true(s && s->ts == 1699998000 && s->value == 2 && s->ntags == 1);
    assert_string_equal(s->tags[0], "env:x");
    assert_non_null(series(&b, "fut"));
    s = series(&b, "later"); /* a near-future timestamp is clamped to now */
    assert_true(s && s->ts == 1700000120);
    s = series(&b, "frac"); /* rounded: ...010 */
    assert_true(s && s->ts == 1699999010);
    s = series(&b, "frac2");
    assert_true(s && s->ts == 1699999000);
    s = series(&b, "old"); /* the first one only: exactly now */
    assert_true(s && s->ts == 1700000120);
    assert_null(series(&b, "far"));
    assert_null(series(&b, "epoch"));
    met_batch_free(&b);
    met_free(a);
}

/* Two 1e308 values would make the sketch's sum +Inf (and the payload
 * unusable): the second is refused; so is a sampled one that overflows,
 * and a count that would. Nothing non-finite is drained. */
/* Every refusal reaches the hook with its reason and the text refused. */
struct seen {
    unsigned n[REF_N];
    char first[REF_N][64];
};

static void on_refused(enum refusal why, const char *text, size_t len, void *arg)
{
    struct seen *s = arg;
    assert_true((unsigned)why < REF_N);
    if (s->n[why]++ == 0)
        snprintf(s->first[why], sizeof s->first[why], "%.*s", (int)(len < 63 ? len : 63), text);
}

static void test_refusal_reasons(void **state)
{
    (void)state;
    struct met_agg *a = met_new(2); /* two contexts */
    struct seen seen = {0};
    struct dsd_stats st = {.on_refused = on_refused, .on_refused_arg = &seen};
    char big[DSD_DATAGRAM_MAX + 2];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_int_equal(feed(a, &st, big), -1);
    char line[1200];
    /* 33 tags */
    int o = snprintf(line, sizeof line, "tags:1|c|#");
    for (int i = 0; i < 33; i++)
        o += snprintf(line + o, sizeof line - o, "%st%d", i ? "," : "", i);
    feed(a, &st, line);
    /* a name and a tag over 200 bytes */
    memset(line, 'n', 201);
    snprintf(line + 201, sizeof line - 201, ":1|c");
    feed(a, &st, line);
    o = snprintf(line, sizeof line, "longtag:1|c|#");
    memset(line + o, 't', 201);
    snprintf(line + o + 201, sizeof line - o - 201, "%s", "");
    feed(a, &st, line);
    feed(a, &st, "rate:1|c|@0\nrate2:1|c|@-1\nnan:nan|g\ninf:-Inf|g\nhuge:1e999|d");
    feed(a, &st, "old:1|c|T1\nlate:1|c|T1800000000");
    feed(a, &st, "_e{5,4}:title|text\n_sc|svc|0");
    feed(a, &st, "garbage without a colon\nx:1|q");
    feed(a, &st, "ok1:1|c\nok2:1|c\nthird:1|c"); /* the third context is over the limit */

    assert_int_equal(seen.n[REF_DSD_TOO_LARGE], 1);
    assert_int_equal(seen.n[REF_DSD_TOO_MANY_TAGS], 1);
    assert_int_equal(st.too_many_tags, 1);
    assert_int_equal(seen.n[REF_METRIC_NAME], 1);
    assert_int_equal(seen.n[REF_METRIC_TAG], 1);
    assert_int_equal(seen.n[REF_DSD_SAMPLE_RATE], 2);
    assert_int_equal(st.bad_rate, 2);
    assert_int_equal(seen.n[REF_DSD_NOT_FINITE], 3);
    assert_int_equal(st.not_finite, 3);
    assert_int_equal(seen.n[REF_DSD_TIMESTAMP], 2);
    assert_int_equal(st.bad_timestamp, 2);
    assert_int_equal(seen.n[REF_DSD_EVENT], 1);
    assert_int_equal(seen.n[REF_DSD_SERVICE_CHECK], 1);
    assert_int_equal(st.events, 1);
    assert_int_equal(st.service_checks, 1);
    assert_int_equal(seen.n[REF_DSD_MALFORMED], 2);
    assert_int_equal(seen.n[REF_METRIC_CONTEXTS], 1);
    assert_string_equal(seen.first[REF_METRIC_CONTEXTS], "third:1|c");
    assert_string_equal(seen.first[REF_DSD_NOT_FINITE], "nan:nan|g");
    assert_string_equal(seen.first[REF_DSD_TIMESTAMP], "old:1|c|T1");
    assert_string_equal(seen.first[REF_DSD_SAMPLE_RATE], "rate:1|c|@0");
    /* the lines refused whole are still counted as invalid, as before */
    assert_int_equal(st.invalid, 1 + 2 + 3 + 2 + 2);
    unsigned total = 0;
    for (unsigned r = 0; r < REF_N; r++)
        total += seen.n[r];
    assert_int_equal(total, 1 + 1 + 1 + 1 + 2 + 3 + 2 + 2 + 2 + 1);
    met_free(a);
}

static void test_overflow_refused(void **state)
{
    (void)state;
    struct met_agg *a = met_new(0);
    struct dsd_stats st = { 0 };
    assert_int_equal(feed(a, &st, "big:1e308|d\nbig:1e308|d\nbig:-1e308|d\n"
                                  "smp:1e308|d|@0.5\ncnt:1e308|c\ncnt:1e308|c"),
                     3);
    assert_int_equal(st.refused, 3);
    struct met_batch b;
    assert_int_equal(met_drain(a, 0, true, &b), 0);
    const struct met_sketch *k = sketch(&b, "big");
    assert_true(k && k->sk.cnt == 2 && isfinite(k->sk.sum) && k->sk.sum == 0);
    assert_null(sketch(&b, "smp"));
    const struct met_series *s = series(&b, "cnt");
    assert_true(s && s->value == 1e308);
    met_batch_free(&b);
    met_free(a);
}

static void test_multi_line_and_value(void **state)
{
    (void)state;
    struct met_agg *a = met_new(0);
    struct dsd_stats st = { 0 };
    assert_int_equal(feed(a, &st, "\n\nm:1:2:3|d|#k:v\r\nn:1|c\r\n\n"), 4);
    assert_int_equal(st.invalid, 0);
    /* one bad value spoils its line only, nothing of it is kept */
    assert_int_equal(feed(a, &st, "bad:1:x:3|d\nok:1|c"), 1);
    assert_int_equal(st.invalid, 1);
    struct met_batch b;
    assert_int_equal(met_drain(a, 0, true, &b), 0);
    const struct met_sketch *k = sketch(&b, "m");
    assert_true(k && k->sk.cnt == 3 && k->sk.sum == 6 && k->sk.min == 1 && k->sk.max == 3);
    assert_true(series(&b, "n") && series(&b, "ok"));
    assert_null(sketch(&b, "bad"));
    met_batch_free(&b);
    met_free(a);
}

static void test_malformed(void **state)
{
    (void)state;
    const char *bad[] = {
        "nocolon|c", ":1|c",        "m:|c",          "m:1",          "m:1|x",
        "m:1|",      "m:1|c|",      "m:abc|c",       "m:inf|g",      "m:nan|g",
        "m:0x10|c",  "m:1|c|@",     "m:1|c|@0",      "m:1|c|@-1",    "m:1|c|@abc",
        "m:1|c|T",   "m:1|c|T-5",   "m:1|c|Tabc",    "m:1e999|g",    "m|x:1|c",
        "m:1:|d",    "m:.|g",       "m:1|cc",        "m:1|c||#a:b",  "m:1|c|T1.",
        "m:1|c|T.5", "m:1|c|T1.x",
    };
    struct met_agg *a = met_new(0);
    struct dsd_stats st = { 0 };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        uint64_t before = st.invalid;
        assert_int_equal(feed(a, &st, bad[i]), 0);
        if (st.invalid != before + 1)
            fail_msg("accepted: %s", bad[i]);
    }
    assert_int_equal(met_size(a), 0);
    /* good lines around bad ones survive */
    assert_int_equal(feed(a, &st, "a:1|c\nm:abc|c\nb:2|g"), 2);
    assert_int_equal(met_size(a), 2);
    /* scientific notation and signs are numbers */
    assert_int_equal(feed(a, &st, "e:1.5e2|g\nneg:-3|c\npos:+4|c"), 3);
    met_free(a);
}

static void test_events_service_checks(void **state)
{
    (void)state;
    struct met_agg *a = met_new(0);
    struct dsd_stats st = { 0 };
    assert_int_equal(feed(a, &st, "_e{5,4}:title|text|#a:b\n_sc|svc.up|0|#x:y\nm:1|c"), 1);
    assert_int_equal(st.events, 1);
    assert_int_equal(st.service_checks, 1);
    assert_int_equal(st.invalid, 0);
    assert_int_equal(met_size(a), 1);
    met_free(a);
}

static void test_bounds(void **state)
{
    (void)state;
    struct met_agg *a = met_new(3);
    struct dsd_stats st = { 0 };
    /* a datagram over 8 KiB is refused whole */
    size_t n = DSD_DATAGRAM_MAX + 1;
    char *big = malloc(n);
    assert_non_null(big);
    memset(big, 'a', n);
    memcpy(big, "m:1|c\n", 6);
    assert_int_equal(dsd_parse(a, big, n, NOW, &st), -1);
    assert_int_equal(st.too_large, 1);
    assert_int_equal(met_size(a), 0);
    /* exactly 8 KiB is parsed: one good line, one long bad line */
    assert_int_equal(dsd_parse(a, big, DSD_DATAGRAM_MAX, NOW, &st), 1);
    assert_int_equal(st.invalid, 1);
    free(big);

    /* a name past 200 bytes is refused by the aggregator */
    char line[512];
    memset(line, 'n', 201);
    strcpy(line + 201, ":1|c");
    assert_int_equal(feed(a, &st, line), 0);
    assert_int_equal(st.refused, 1);

    /* more than DSD_TAGS_MAX tags: the line is invalid; exactly that many pass */
    char tags[4096];
    size_t off = (size_t)snprintf(tags, sizeof(tags), "t:1|c|#");
    for (int i = 0; i <= (int)DSD_TAGS_MAX; i++)
        off += (size_t)snprintf(tags + off, sizeof(tags) - off, "k%d:v,", i);
    uint64_t inv = st.invalid;
    assert_int_equal(feed(a, &st, tags), 0);
    assert_int_equal(st.invalid, inv + 1);
    *strrchr(tags, 'k') = '\0'; /* drop the last tag */
    assert_int_equal(feed(a, &st, tags), 1);
    assert_int_equal(st.invalid, inv + 1);

    /* the aggregator is full (3 contexts: m, t, x): refusals are counted */
    assert_int_equal(feed(a, &st, "x:1|c\ny:1|c"), 1);
    assert_int_equal(st.refused, 2);
    assert_int_equal(met_get_stats(a).dropped_contexts, 1);
    met_free(a);
}

/* A Datadog library's copies of the enhanced metrics forkcap produces are
 * dropped and counted; other names, near misses included, pass. */
static void test_owned_enhanced_dropped(void **state)
{
    (void)state;
    struct met_agg *a = met_new(0);
    struct dsd_stats st = { 0 };
    const char *d = "aws.lambda.enhanced.invocations:1|d|#functionname:f,datadog_lambda:v9.0.0\n"
                    "aws.lambda.enhanced.errors:1|d|#datadog_lambda:v9.0.0\n"
                    "aws.lambda.enhanced.invocationsx:1|c\n"
                    "aws.lambda.enhanced.custom:1|c\n"
                    "aws.lambda.enhanced:1|c\n"
                    "my.invocations:1|c";
    assert_int_equal(dsd_parse_owned(a, d, strlen(d), NOW, enh_owns, &st), 4);
    assert_int_equal(st.owned, 2);
    assert_int_equal(st.invalid, 0);
    struct met_batch b;
    assert_int_equal(met_drain(a, 0, true, &b), 0);
    assert_null(sketch(&b, "aws.lambda.enhanced.invocations"));
    assert_null(sketch(&b, "aws.lambda.enhanced.errors"));
    assert_non_null(series(&b, "aws.lambda.enhanced.invocationsx"));
    assert_non_null(series(&b, "aws.lambda.enhanced.custom"));
    met_batch_free(&b);
    /* without a filter (forkcap's own enhanced metrics off) they pass */
    struct dsd_stats st2 = { 0 };
    assert_int_equal(dsd_parse_owned(a, d, strlen(d), NOW, NULL, &st2), 6);
    assert_int_equal(st2.owned, 0);
    met_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_type),          cmocka_unit_test(test_rates_tags_timestamps),
        cmocka_unit_test(test_overflow_refused),    cmocka_unit_test(test_refusal_reasons),
        cmocka_unit_test(test_multi_line_and_value), cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_events_service_checks), cmocka_unit_test(test_bounds),
        cmocka_unit_test(test_owned_enhanced_dropped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
