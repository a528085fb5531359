/* test_ddsketch.c — DDSketch against the agent's documented constants,
 * splitting and folding rules, summary formulas and quantile accuracy. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <float.h>
#include <math.h>
#include <stdlib.h>

#include "ddsketch.h"

static void test_key_examples(void **state)
{
    (void)state;
    assert_int_equal(dds_key(1), 1338);
    assert_int_equal(dds_key(2), 1383);
    assert_int_equal(dds_key(10), 1487);
    assert_int_equal(dds_key(0.5), 1293);
    assert_int_equal(dds_key(-1), -1338);
    assert_int_equal(dds_key(-10), -1487);
    assert_true(fabs(dds_norm_min() - 9.94185408912145e-10) < 1e-22);
}

static void test_key_zero_tiny_inf(void **state)
{
    (void)state;
    double nm = dds_norm_min();
    assert_int_equal(dds_key(0), 0);
    assert_int_equal(dds_key(-0.0), 0);
    assert_int_equal(dds_key(1e-10), 0);
    assert_int_equal(dds_key(-1e-10), 0);
    assert_int_equal(dds_key(nm * 0.999), 0);
    assert_int_equal(dds_key(nm), 1);
    assert_int_equal(dds_key(-nm), -1);
    assert_int_equal(dds_key(1e-9), 1); /* the agent's minValue */
    assert_int_equal(dds_key(INFINITY), DDS_MAX_KEY);
    assert_int_equal(dds_key(-INFINITY), -DDS_MAX_KEY);
    assert_int_equal(dds_key(DBL_MAX), DDS_MAX_KEY);
    assert_int_equal(dds_key(-DBL_MAX), -DDS_MAX_KEY);
    assert_true(isinf(dds_key_value(DDS_MAX_KEY)));
    assert_true(dds_key_value(0) == 0);
}

/* roundToEven makes the lower bound of a bin map back to the same key. */
static void test_key_roundtrip(void **state)
{
    (void)state;
    for (int k = 1; k < 3000; k++) {
        assert_int_equal(dds_key(dds_key_value(k)), k);
        assert_int_equal(dds_key(dds_key_value(-k)), -k);
    }
    /* a value inside a bin maps to the key whose centre is nearest */
    assert_int_equal(dds_key(dds_key_value(1400) * 1.007), 1400);
    assert_int_equal(dds_key(dds_key_value(1400) * 1.009), 1401);
}

static void test_insert_summary(void **state)
{
    (void)state;
    struct ddsketch s;
    dds_init(&s);
    assert_int_equal(dds_insert(&s, 1), 0);
    assert_int_equal(s.len, 1);
    assert_int_equal(s.bins[0].k, 1338);
    assert_int_equal(s.bins[0].n, 1);
    double vals[] = { 2, 3, 4 };
    for (int i = 0; i < 3; i++)
        assert_int_equal(dds_insert(&s, vals[i]), 0);
    assert_int_equal(s.cnt, 4);
    assert_int_equal(s.count, 4);
    assert_true(s.min == 1 && s.max == 4 && s.sum == 10);
    /* avg += (v - avg) / cnt, step by step */
    double avg = 1;
    avg += (2 - avg) / 2;
    avg += (3 - avg) / 3;
    avg += (4 - avg) / 4;
    assert_true(s.avg == avg);
    /* keys ascending */
    for (size_t i = 1; i < s.len; i++)
        assert_true(s.bins[i - 1].k < s.bins[i].k);
    assert_int_equal(dds_insert(&s, NAN), -1);
    assert_int_equal(s.cnt, 4);
    /* zero and a negative land in their own bins, sorted */
    assert_int_equal(dds_insert(&s, 0), 0);
    assert_int_equal(dds_insert(&s, -2), 0);
    assert_int_equal(s.bins[0].k, -1383);
    assert_int_equal(s.bins[1].k, 0);
    assert_true(s.min == -2);
    dds_free(&s);
}

static void test_insert_n_summary(void **state)
{
    (void)state;
    struct ddsketch s;
    dds_init(&s);
    assert_int_equal(dds_insert_n(&s, 2.0, 3), 0);
    assert_int_equal(dds_insert(&s, 5.0), 0);
    assert_int_equal(s.cnt, 4);
    assert_true(s.sum == 11);
    assert_true(s.avg == 2 + (5 - 2) / 4.0);
    assert_true(s.min == 2 && s.max == 5);
    assert_int_equal(dds_insert_n(&s, 1, 0), -1);
    dds_free(&s);
}

static void test_insert_sampled(void **state)
{
    (void)state;
    struct ddsketch s;
    dds_init(&s);
    assert_int_equal(dds_insert_sampled(&s, 6.0, 0.4), 0); /* 1/0.4 = 2.5 */
    assert_int_equal(s.count, 2);
    assert_int_equal(s.cnt, 2);
    assert_true(fabs(s.sum - 15.0) < 1e-12); /* 2.5 * 6, not truncated */
    assert_true(s.avg == 6.0);
    assert_int_equal(s.len, 1);
    assert_int_equal(s.bins[0].n, 2);
    /* a rate outside (0, 1] is an unsampled insert */
    assert_int_equal(dds_insert_sampled(&s, 6.0, 3.0), 0);
    assert_int_equal(dds_insert_sampled(&s, 6.0, 0), 0);
    assert_int_equal(s.count, 4);
    assert_true(fabs(s.sum - 27.0) < 1e-12);
    /* a rate so small the count cannot be represented is refused */
    assert_int_equal(dds_insert_sampled(&s, 6.0, 1e-12), -1);
    assert_int_equal(s.count, 4);
    dds_free(&s);
}

static void test_bin_split(void **state)
{
    (void)state;
    struct ddsketch s;
    dds_init(&s);
    assert_int_equal(dds_insert_n(&s, 1.0, 65535), 0);
    assert_int_equal(s.len, 1);
    assert_int_equal(s.bins[0].n, 65535);
    /* one more: remainder first, then the full bin */
    assert_int_equal(dds_insert(&s, 1.0), 0);
    assert_int_equal(s.len, 2);
    assert_int_equal(s.bins[0].n, 1);
    assert_int_equal(s.bins[1].n, 65535);
    assert_int_equal(s.bins[0].k, 1338);
    assert_int_equal(s.bins[1].k, 1338);
    assert_int_equal(dds_insert(&s, 1.0), 0);
    assert_int_equal(s.bins[0].n, 2);
    dds_free(&s);

    dds_init(&s);
    assert_int_equal(dds_insert_n(&s, 3.0, 2 * 65535), 0);
    assert_int_equal(s.len, 2);
    assert_int_equal(s.bins[0].n, 65535);
    assert_int_equal(s.bins[1].n, 65535);
    assert_int_equal(dds_insert_n(&s, 3.0, 65535 * 2 + 7), 0);
    /* the first bin of the key absorbs: 65535 + 131077 = 3 full + 7 */
    assert_int_equal(s.len, 5);
    assert_int_equal(s.bins[0].n, 7);
    for (size_t i = 1; i < 5; i++)
        assert_int_equal(s.bins[i].n, 65535);
    assert_int_equal(s.count, 65535 * 4 + 7);
    dds_free(&s);
}

static void test_bin_limit_fold(void **state)
{
    (void)state;
    struct ddsketch s;
    dds_init(&s);
    /* 5000 distinct keys inserted ascending: each insert past 4,096 bins
     * folds the lowest bin into the next, so the lowest 905 end up in one */
    for (int i = 0; i < 5000; i++)
        assert_int_equal(dds_insert(&s, dds_key_value(1338 + i)), 0);
    assert_int_equal(s.len, DDS_BIN_LIMIT);
    assert_int_equal(s.count, 5000);
    assert_int_equal(s.bins[0].k, 1338 + 904);
    assert_int_equal(s.bins[0].n, 905);
    assert_int_equal(s.bins[1].k, 1338 + 905);
    assert_int_equal(s.bins[1].n, 1);
    assert_int_equal(s.bins[DDS_BIN_LIMIT - 1].k, 1338 + 4999);
    dds_free(&s);

    /* folding past 65,535 emits a full bin with the folded key first */
    dds_init(&s);
    for (int i = 0; i < 4097; i++)
        assert_int_equal(dds_insert_n(&s, dds_key_value(1000 + i), 40000), 0);
    assert_int_equal(s.len, DDS_BIN_LIMIT + 1);
    assert_int_equal(s.bins[0].k, 1001);
    assert_int_equal(s.bins[0].n, 80000 - 65535);
    assert_int_equal(s.bins[1].k, 1001);
    assert_int_equal(s.bins[1].n, 65535);
    assert_int_equal(s.bins[2].k, 1002);
    uint64_t total = 0;
    for (size_t i = 0; i < s.len; i++)
        total += s.bins[i].n;
    assert_int_equal(total, (uint64_t)4097 * 40000);
    assert_int_equal(s.count, total);
    dds_free(&s);
}

static void test_max_count(void **state)
{
    (void)state;
    struct ddsketch s;
    dds_init(&s);
    assert_int_equal(dds_insert_n(&s, 1.0, DDS_MAX_COUNT), 0);
    assert_int_equal(dds_insert(&s, 1.0), -1);
    assert_int_equal(s.count, DDS_MAX_COUNT);
    dds_free(&s);
}

static void test_merge(void **state)
{
    (void)state;
    struct ddsketch a, b, all;
    dds_init(&a);
    dds_init(&b);
    dds_init(&all);
    for (int i = 1; i <= 50; i++) {
        double v = i * 0.37;
        assert_int_equal(dds_insert(i % 3 ? &a : &b, v), 0);
        assert_int_equal(dds_insert(&all, v), 0);
    }
    double avg_a = a.avg;
    int64_t cnt_b = b.cnt;
    assert_int_equal(dds_merge(&a, &b), 0);
    assert_int_equal(a.len, all.len);
    for (size_t i = 0; i < a.len; i++) {
        assert_int_equal(a.bins[i].k, all.bins[i].k);
        assert_int_equal(a.bins[i].n, all.bins[i].n);
    }
    assert_int_equal(a.cnt, 50);
    assert_true(a.min == all.min && a.max == all.max);
    assert_true(fabs(a.sum - all.sum) < 1e-9);
    assert_true(a.avg == avg_a + (b.avg - avg_a) * (double)cnt_b / 50.0);
    dds_free(&a);

    /* merging equal keys past 65,535 splits */
    dds_init(&a);
    dds_free(&b);
    dds_init(&b);
    assert_int_equal(dds_insert_n(&a, 1.0, 40000), 0);
    assert_int_equal(dds_insert_n(&b, 1.0, 40000), 0);
    assert_int_equal(dds_insert(&b, 2.0), 0);
    assert_int_equal(dds_merge(&a, &b), 0);
    assert_int_equal(a.len, 3);
    assert_int_equal(a.bins[0].n, 80000 - 65535);
    assert_int_equal(a.bins[1].n, 65535);
    assert_int_equal(a.bins[2].k, 1383);
    assert_int_equal(a.count, 80001);
    /* an empty sketch merges as a no-op, and into an empty one as a copy */
    struct ddsketch e;
    dds_init(&e);
    assert_int_equal(dds_merge(&a, &e), 0);
    assert_int_equal(a.count, 80001);
    assert_int_equal(dds_merge(&e, &b), 0);
    assert_int_equal(e.cnt, b.cnt);
    assert_true(e.avg == b.avg && e.min == b.min);
    dds_free(&e);
    dds_free(&a);
    dds_free(&b);
    dds_free(&all);
}

static void test_quantile_edges(void **state)
{
    (void)state;
    struct ddsketch s;
    dds_init(&s);
    assert_true(dds_quantile(&s, 0.5) == 0);
    assert_int_equal(dds_insert(&s, 7.0), 0);
    assert_true(dds_quantile(&s, 0.5) == 7.0); /* first bin starts at min */
    assert_int_equal(dds_insert(&s, 100.0), 0);
    assert_true(dds_quantile(&s, 0) == 7.0);
    assert_true(dds_quantile(&s, 1) == 100.0);
    dds_free(&s);
}

/* xorshift64*: deterministic data */
static uint64_t rng = 0x9E3779B97F4A7C15ULL;
static double urand(void)
{
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return (double)((rng * 2685821657736338717ULL) >> 11) / 9007199254740992.0;
}

static int cmp_d(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

/* Compare with the exact value at the rank the agent reads. A key covers
 * [gamma^(j-1/2), gamma^(j+1/2)) but the agent interpolates over
 * [gamma^j, gamma^(j+1)]: reads carry a half-bin bias (~1/128 on average
 * for positive values), and one read is off by at most gamma^1.5 - 1
 * (~2.4 %); the same bounds hold for negative values. */
static void check_accuracy(double *v, size_t n, const char *what, double mean_bound)
{
    struct ddsketch s;
    dds_init(&s);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(dds_insert(&s, v[i]), 0);
    qsort(v, n, sizeof(*v), cmp_d);
    const double qs[] = { 0.01, 0.05, 0.1, 0.25, 0.4, 0.5, 0.6, 0.75, 0.9, 0.95, 0.99 };
    double worst = 0, sum = 0;
    for (size_t i = 0; i < sizeof(qs) / sizeof(qs[0]); i++) {
        double r = nearbyint(qs[i] * (double)(n - 1));
        double exact = v[(size_t)r];
        double est = dds_quantile(&s, qs[i]);
        double err = fabs(est - exact) / fabs(exact);
        if (err > worst)
            worst = err;
        sum += err;
    }
    double mean = sum / (sizeof(qs) / sizeof(qs[0]));
    print_message("%s: mean rel err %.5f, worst %.5f\n", what, mean, worst);
    assert_true(worst <= pow(DDS_GAMMA, 1.5) - 1);
    assert_true(mean <= mean_bound);
    dds_free(&s);
}

static void test_quantile_accuracy(void **state)
{
    (void)state;
    enum { N = 20000 };
    double *v = malloc(N * sizeof(*v));
    assert_non_null(v);
    for (size_t i = 0; i < N; i++)
        v[i] = 1 + urand() * 999;
    check_accuracy(v, N, "uniform", 1.25 / 128);
    for (size_t i = 0; i < N; i++) {
        /* Box-Muller normal -> log-normal */
        double u1 = urand() + 1e-12, u2 = urand();
        v[i] = exp(1.5 * sqrt(-2 * log(u1)) * cos(2 * M_PI * u2));
    }
    check_accuracy(v, N, "log-normal", 1.25 / 128);
    for (size_t i = 0; i < N; i++) {
        double m = 0.5 + urand() * 500;
        v[i] = urand() < 0.4 ? -m : m;
    }
    check_accuracy(v, N, "with negatives", 1.25 / 128);
    free(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key_examples),     cmocka_unit_test(test_key_zero_tiny_inf),
        cmocka_unit_test(test_key_roundtrip),    cmocka_unit_test(test_insert_summary),
        cmocka_unit_test(test_insert_n_summary), cmocka_unit_test(test_insert_sampled),
        cmocka_unit_test(test_bin_split),
        cmocka_unit_test(test_bin_limit_fold),   cmocka_unit_test(test_max_count),
        cmocka_unit_test(test_merge),            cmocka_unit_test(test_quantile_edges),
        cmocka_unit_test(test_quantile_accuracy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
