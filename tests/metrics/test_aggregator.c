/* test_aggregator.c — contexts, 10 s buckets, per-type aggregation, sample
 * rates, drain semantics and the context bound of flusher/metrics. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "metrics.h"

#define S(x) ((struct met_str){ (x), sizeof(x) - 1 })

static int add(struct met_agg *a, const char *name, enum met_type t, double v, double rate,
               int64_t ts, const struct met_str *tags, size_t nt)
{
    struct met_sample s = { .name = { name, strlen(name) }, .tags = tags, .ntags = nt,
                            .type = t, .value = v, .rate = rate, .ts = ts };
    return met_add(a, &s);
}

static const struct met_series *find_series(const struct met_batch *b, const char *name,
                                            int64_t ts)
{
    for (size_t i = 0; i < b->nseries; i++)
        if (!strcmp(b->series[i].metric, name) && b->series[i].ts == ts)
            return &b->series[i];
    return NULL;
}

static void test_context_collapse(void **state)
{
    (void)state;
    struct met_agg *a = met_new(0);
    struct met_str t1[] = { S("x:1"), S("y:2") };
    struct met_str t2[] = { S("y:2"), S("x:1"), S("x:1") };
    assert_int_equal(add(a, "hits", MET_COUNT, 1, 1, 1000, t1, 2), 0);
    assert_int_equal(add(a, "hits", MET_COUNT, 2, 1, 1003, t2, 3), 0);
    struct met_str t3[] = { S("x:1") };
    assert_int_equal(add(a, "hits", MET_COUNT, 5, 1, 1003, t3, 1), 0);
    assert_int_equal(met_size(a), 2);
    struct met_batch b;
    assert_int_equal(met_drain(a, 0, true, &b), 0);
    assert_int_equal(b.nseries, 2);
    assert_int_equal(b.nsketches, 0);
    const struct met_series *s = NULL;
    for (size_t i = 0; i < b.nseries; i++)
        if (b.series[i].ntags == 2)
            s = &b.series[i];
    assert_non_null(s);
    assert_true(s->value == 3);
    assert_string_equal(s->tags[0], "x:1");
    assert_string_equal(s->tags[1], "y:2");
    assert_int_equal(s->type, 1);
    assert_int_equal(s->interval, 0);
    assert_int_equal(s->ts, 1000);
    met_batch_free(&b);
    met_free(a);
}

static void test_buckets_and_drain(void **state)
{
    (void)state;
    struct met_agg *a = met_new(0);
    assert_int_equal(add(a, "g", MET_GAUGE, 1, 1, 1700000007, NULL, 0), 0);
    assert_int_equal(add(a, "g", MET_GAUGE, 2, 1, 1700000000, NULL, 0), 0);
    assert_int_equal(add(a, "g", MET_GAUGE, 3, 1, 1700000010, NULL, 0), 0);
    assert_int_equal(met_size(a), 2);

    struct met_batch b;
    /* bucket 1700000000 closes at 1700000010; 1700000010 is still open */
    assert_int_equal(met_drain(a, 1700000009, false, &b), 0);
    assert_int_equal(b.nseries, 0);
    met_batch_free(&b);
    assert_int_equal(met_drain(a, 1700000015, false, &b), 0);
    assert_int_equal(b.nseries, 1);
    assert_int_equal(b.series[0].ts, 1700000000);
    assert_true(b.series[0].value == 2); /* last value wins */
    assert_int_equal(b.series[0].type, 3);
    assert_int_equal(b.series[0].interval, 0);
    met_batch_free(&b);
    assert_int_equal(met_size(a), 1);
    /* what was drained is gone */
    assert_int_equal(met_drain(a, 1700000015, false, &b), 0);
    assert_int_equal(b.nseries, 0);
    met_batch_free(&b);
    /* extreme timestamps neither overflow nor close early */
    assert_int_equal(add(a, "far", MET_GAUGE, 1, 1, INT64_MAX, NULL, 0), 0);
    assert_int_equal(met_drain(a, INT64_MAX, false, &b), 0);
    assert_int_equal(b.nseries, 1); /* only 1700000010's bucket */
    assert_int_equal(b.series[0].ts, 1700000010);
    assert_true(b.series[0].value == 3);
    met_batch_free(&b);
    assert_int_equal(met_drain(a, INT64_MIN, false, &b), 0);
    assert_int_equal(b.nseries, 0);
    met_batch_free(&b);
    assert_int_equal(met_drain(a, 0, true, &b), 0);
    assert_int_equal(b.nseries, 1);
    assert_int_equal(b.series[0].ts, INT64_MAX - INT64_MAX % 10);
    assert_true(b.series[0].value == 1);
    met_batch_free(&b);
    assert_int_equal(met_size(a), 0);
    met_free(a);
}

static void test_sample_rates(void **state)
{
    (void)state;
    struct met_agg *a = met_new(0);
    assert_int_equal(add(a, "c", MET_COUNT, 1, 0.5, 100, NULL, 0), 0);
    assert_int_equal(add(a, "c", MET_COUNT, 1, 0.25, 100, NULL, 0), 0);
    assert_int_equal(add(a, "c", MET_COUNT, 3, 5.0, 100, NULL, 0), 0); /* > 1 counts as 1 */
    assert_int_equal(add(a, "c", MET_COUNT, 1, 0, 100, NULL, 0), -1);
    assert_int_equal(add(a, "c", MET_COUNT, 1, -1, 100, NULL, 0), -1);
    assert_int_equal(add(a, "d", MET_DISTRIBUTION, 4, 0.5, 100, NULL, 0), 0);
    assert_int_equal(add(a, "d", MET_DISTRIBUTION, 8, 0.3, 100, NULL, 0), 0);
    assert_int_equal(met_get_stats(a).invalid, 2);
    struct met_batch b;
    assert_int_equal(met_drain(a, 200, false, &b), 0);
    assert_int_equal(b.nseries, 1);
    assert_true(b.series[0].value == 2 + 4 + 3);
    assert_int_equal(b.nsketches, 1);
    const struct ddsketch *sk = &b.sketches[0].sk;
    assert_int_equal(sk->cnt, 2 + 3); /* trunc(1/0.5) + trunc(1/0.3) */
    assert_int_equal(sk->count, 2 + 3);
    assert_true(fabs(sk->sum - (2 * 4 + 8 / 0.3)) < 1e-9); /* the agent keeps v/rate */
    assert_true(sk->min == 4 && sk->max == 8);
    assert_int_equal(b.sketches[0].ts, 100);
    assert_string_equal(b.sketches[0].metric, "d");
    met_batch_free(&b);
    met_free(a);
}

static void test_sets_and_types(void **state)
{
    (void)state;
    struct met_agg *a = met_new(0);
    struct met_sample s = { .name = S("users"), .type = MET_SET, .rate = 1, .ts = 50 };
    const char *m[] = { "alice", "bob", "alice", "carol", "bob" };
    for (int i = 0; i < 5; i++) {
        s.member = (struct met_str){ m[i], strlen(m[i]) };
        assert_int_equal(met_add(a, &s), 0);
    }
    /* same name, other types: separate contexts */
    assert_int_equal(add(a, "users", MET_COUNT, 1, 1, 50, NULL, 0), 0);
    assert_int_equal(add(a, "users", MET_GAUGE, 7, 1, 50, NULL, 0), 0);
    struct met_batch b;
    assert_int_equal(met_drain(a, 0, true, &b), 0);
    assert_int_equal(b.nseries, 3);
    int seen_set = 0;
    for (size_t i = 0; i < b.nseries; i++)
        if (b.series[i].type == 3 && b.series[i].value == 3)
            seen_set = 1;
    assert_true(seen_set);
    met_batch_free(&b);

    /* set members past the bound are counted, not remembered */
    char buf[16];
    s.ts = 60;
    for (int i = 0; i < MET_SET_MAX + 10; i++) {
        int n = snprintf(buf, sizeof(buf), "m%d", i);
        s.member = (struct met_str){ buf, (size_t)n };
        assert_int_equal(met_add(a, &s), 0);
    }
    assert_int_equal(met_get_stats(a).set_overflow, 10);
    assert_int_equal(met_drain(a, 0, true, &b), 0);
    assert_true(b.series[0].value == MET_SET_MAX);
    met_batch_free(&b);
    met_free(a);
}

static void test_common_tags(void **state)
{
    (void)state;
    struct met_agg *a = met_new(0);
    struct met_str common[] = { S("env:prod"), S("functionname:f") };
    assert_int_equal(met_set_common_tags(a, common, 2), 0);
    struct met_str t[] = { S("env:prod"), S("a:b") };
    assert_int_equal(add(a, "x", MET_COUNT, 1, 1, 0, t, 2), 0);
    struct met_batch b;
    assert_int_equal(met_drain(a, 0, true, &b), 0);
    assert_int_equal(b.series[0].ntags, 3);
    assert_string_equal(b.series[0].tags[0], "a:b");
    assert_string_equal(b.series[0].tags[1], "env:prod");
    assert_string_equal(b.series[0].tags[2], "functionname:f");
    met_batch_free(&b);
    /* a sample's tag that shares a key with a common tag is appended, as
     * Datadog's extension does (a DogStatsD client adding DD_SERVICE and
     * DD_ENV on its own): both values stay, neither overrides the other;
     * a tag both lists hold exactly is kept once */
    struct met_str client[] = { S("service:Svc"), S("env:staging"), S("env:prod") };
    assert_int_equal(add(a, "y", MET_COUNT, 1, 1, 0, client, 3), 0);
    assert_int_equal(met_drain(a, 0, true, &b), 0);
    assert_int_equal(b.series[0].ntags, 4);
    assert_string_equal(b.series[0].tags[0], "env:prod");
    assert_string_equal(b.series[0].tags[1], "env:staging");
    assert_string_equal(b.series[0].tags[2], "functionname:f");
    assert_string_equal(b.series[0].tags[3], "service:Svc");
    met_batch_free(&b);
    struct met_str bad[] = { S("ok"), S("bad\ntag") };
    assert_int_equal(met_set_common_tags(a, bad, 2), -1);
    met_free(a);
}

/* A snapshot (DogStatsD checkpoints) is what a drain of everything would
 * give, and leaves the aggregator as it was. */
static void test_snapshot_is_drain(void **state)
{
    (void)state;
    struct met_agg *a = met_new(0);
    struct met_str t[] = { S("k:v") };
    assert_int_equal(add(a, "c", MET_COUNT, 3, 0.5, 100, t, 1), 0);
    assert_int_equal(add(a, "g", MET_GAUGE, 7, 1, 100, NULL, 0), 0);
    assert_int_equal(add(a, "d", MET_DISTRIBUTION, 2, 1, 110, t, 1), 0);
    assert_int_equal(add(a, "d", MET_DISTRIBUTION, 4, 1, 110, t, 1), 0);
    struct met_sample m = { .name = S("u"), .type = MET_SET, .rate = 1, .ts = 120, .member = S("x") };
    assert_int_equal(met_add(a, &m), 0);
    struct met_batch snap, b;
    assert_int_equal(met_snapshot(a, &snap), 0);
    assert_int_equal(met_size(a), 4);
    assert_int_equal(met_drain(a, 0, true, &b), 0);
    assert_int_equal(met_size(a), 0);
    assert_int_equal(snap.nseries, 3);
    assert_int_equal(snap.nsketches, 1);
    assert_int_equal(b.nseries, snap.nseries);
    assert_int_equal(b.nsketches, snap.nsketches);
    for (size_t i = 0; i < snap.nseries; i++) {
        const struct met_series *x = &snap.series[i];
        const struct met_series *y = find_series(&b, x->metric, x->ts);
        assert_non_null(y);
        assert_int_equal(x->type, y->type);
        assert_true(x->value == y->value);
        assert_int_equal(x->ntags, y->ntags);
        for (size_t j = 0; j < x->ntags; j++)
            assert_string_equal(x->tags[j], y->tags[j]);
    }
    assert_true(find_series(&snap, "c", 100)->value == 6);
    assert_int_equal(find_series(&snap, "u", 120)->type, 3);
    assert_string_equal(snap.sketches[0].metric, b.sketches[0].metric);
    assert_string_equal(snap.sketches[0].tags[0], "k:v");
    assert_int_equal(snap.sketches[0].ts, b.sketches[0].ts);
    assert_int_equal(snap.sketches[0].sk.count, 2);
    assert_int_equal(b.sketches[0].sk.count, 2);
    assert_true(snap.sketches[0].sk.sum == b.sketches[0].sk.sum);
    met_batch_free(&snap);
    met_batch_free(&b);
    /* nothing held: an empty snapshot */
    assert_int_equal(met_snapshot(a, &snap), 0);
    assert_int_equal(snap.nseries + snap.nsketches, 0);
    met_free(a);
}

/* The lookup cache never outlives what it points at: a drained context
 * starts again from zero, new common tags make a new context, and the same
 * tags in another order or another bucket are still one context each. */
static void test_lookup_cache(void **state)
{
    (void)state;
    struct met_agg *a = met_new(0);
    struct met_str t1[] = { S("a:1"), S("b:2") }, t2[] = { S("b:2"), S("a:1") };
    assert_int_equal(add(a, "c", MET_COUNT, 1, 1, 0, t1, 2), 0);
    assert_int_equal(add(a, "c", MET_COUNT, 2, 1, 0, t1, 2), 0);
    assert_int_equal(add(a, "c", MET_COUNT, 4, 1, 0, t2, 2), 0);
    assert_int_equal(add(a, "c", MET_COUNT, 8, 1, 10, t1, 2), 0);
    assert_int_equal(met_size(a), 2);
    struct met_batch b;
    assert_int_equal(met_drain(a, 0, true, &b), 0);
    assert_true(find_series(&b, "c", 0)->value == 7);
    assert_true(find_series(&b, "c", 10)->value == 8);
    met_batch_free(&b);
    assert_int_equal(add(a, "c", MET_COUNT, 16, 1, 0, t1, 2), 0);
    struct met_str common[] = { S("env:x") };
    assert_int_equal(met_set_common_tags(a, common, 1), 0);
    assert_int_equal(add(a, "c", MET_COUNT, 32, 1, 0, t1, 2), 0);
    assert_int_equal(met_size(a), 2);
    assert_int_equal(met_drain(a, 0, true, &b), 0);
    assert_int_equal(b.nseries, 2);
    for (size_t i = 0; i < 2; i++)
        assert_true(b.series[i].value == (b.series[i].ntags == 3 ? 32 : 16));
    met_batch_free(&b);
    /* a bad tag is refused every time, cached or not */
    struct met_str bad[] = { S("bad\ttag") };
    assert_int_equal(add(a, "c", MET_COUNT, 1, 1, 0, bad, 1), -1);
    assert_int_equal(add(a, "c", MET_COUNT, 1, 1, 0, bad, 1), -1);
    met_free(a);
}

static void test_bounded_contexts(void **state)
{
    (void)state;
    struct met_agg *a = met_new(3);
    assert_int_equal(add(a, "a", MET_COUNT, 1, 1, 0, NULL, 0), 0);
    assert_int_equal(add(a, "b", MET_COUNT, 1, 1, 0, NULL, 0), 0);
    assert_int_equal(add(a, "c", MET_COUNT, 1, 1, 0, NULL, 0), 0);
    assert_int_equal(add(a, "d", MET_COUNT, 1, 1, 0, NULL, 0), -1);
    assert_int_equal(add(a, "a", MET_COUNT, 1, 1, 20, NULL, 0), -1); /* new bucket = new entry */
    assert_int_equal(add(a, "a", MET_COUNT, 1, 1, 5, NULL, 0), 0);  /* existing one still takes */
    assert_int_equal(met_get_stats(a).dropped_contexts, 2);
    assert_int_equal(met_size(a), 3);
    struct met_batch b;
    assert_int_equal(met_drain(a, 0, true, &b), 0);
    met_batch_free(&b);
    assert_int_equal(add(a, "d", MET_COUNT, 1, 1, 0, NULL, 0), 0);
    met_free(a);
}

static void test_invalid_samples(void **state)
{
    (void)state;
    struct met_agg *a = met_new(0);
    char longname[MET_NAME_MAX + 2];
    memset(longname, 'n', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    assert_int_equal(add(a, longname, MET_COUNT, 1, 1, 0, NULL, 0), -1);
    longname[MET_NAME_MAX] = '\0';
    assert_int_equal(add(a, longname, MET_COUNT, 1, 1, 0, NULL, 0), 0);
    assert_int_equal(add(a, "", MET_COUNT, 1, 1, 0, NULL, 0), -1);
    assert_int_equal(add(a, "n", MET_COUNT, NAN, 1, 0, NULL, 0), -1);
    assert_int_equal(add(a, "n", MET_GAUGE, INFINITY, 1, 0, NULL, 0), -1);
    assert_int_equal(add(a, "n", MET_COUNT, 1, 1, -10, NULL, 0), -1);
    struct met_str ctl[] = { S("a\tb") };
    assert_int_equal(add(a, "n", MET_COUNT, 1, 1, 0, ctl, 1), -1);
    struct met_str utf[] = { { "a\xc3", 2 } };
    assert_int_equal(add(a, "n", MET_COUNT, 1, 1, 0, utf, 1), -1);
    struct met_str good_utf[] = { S("caf\xc3\xa9:\xe2\x82\xac") };
    assert_int_equal(add(a, "n", MET_COUNT, 1, 1, 0, good_utf, 1), 0);
    assert_int_equal(add(a, "bad\xff", MET_COUNT, 1, 1, 0, NULL, 0), -1);
    struct met_str empty[] = { S("") };
    assert_int_equal(add(a, "n", MET_COUNT, 1, 1, 0, empty, 1), -1);
    assert_int_equal(met_get_stats(a).invalid, 9);
    assert_int_equal(met_get_stats(a).added, 2);
    /* a count that overflows to Inf is refused, the old value kept */
    assert_int_equal(add(a, "big", MET_COUNT, 1e308, 1, 0, NULL, 0), 0);
    assert_int_equal(add(a, "big", MET_COUNT, 1e308, 1, 0, NULL, 0), -1);
    struct met_batch b;
    assert_int_equal(met_drain(a, 0, true, &b), 0);
    const struct met_series *s = find_series(&b, "big", 0);
    assert_non_null(s);
    assert_true(s->value == 1e308);
    met_batch_free(&b);
    met_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_context_collapse), cmocka_unit_test(test_buckets_and_drain),
        cmocka_unit_test(test_sample_rates),     cmocka_unit_test(test_sets_and_types),
        cmocka_unit_test(test_common_tags),      cmocka_unit_test(test_snapshot_is_drain),
        cmocka_unit_test(test_bounded_contexts),
        cmocka_unit_test(test_invalid_samples),  cmocka_unit_test(test_lookup_cache),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
