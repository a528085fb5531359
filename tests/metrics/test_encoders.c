/* test_encoders.c — SketchPayload protobuf (the 140-byte check, exact
 * bytes, decode round trip, splitting) and v2 series JSON (exact text,
 * 1,000-series and 5 MiB splitting). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "series_json.h"
#include "sketch.pb-c.h"
#include "sketch_pb.h"

static char *check_tags[] = { "_dd.compute_stats:1", "architecture:x86_64",
                              "dd_extension_version:63-next", "k:v" };

static void test_sketch_check_140(void **state)
{
    (void)state;
    struct met_sketch m = { .metric = "test1", .tags = check_tags, .ntags = 4,
                            .ts = 1700000000 };
    dds_init(&m.sk);
    assert_int_equal(dds_insert(&m.sk, 1), 0);
    size_t used;
    uint8_t *out;
    size_t len;
    assert_int_equal(spb_encode(&m, 1, NULL, 0, &used, &out, &len), 0);
    assert_int_equal(used, 1);
    assert_int_equal(len, 140);

    Datadog__Agentpayload__SketchPayload *p =
        datadog__agentpayload__sketch_payload__unpack(NULL, len, out);
    assert_non_null(p);
    assert_null(p->metadata);
    assert_int_equal(p->n_sketches, 1);
    Datadog__Agentpayload__SketchPayload__Sketch *s = p->sketches[0];
    assert_string_equal(s->metric, "test1");
    assert_string_equal(s->host, "");
    assert_int_equal(s->n_tags, 4);
    for (int i = 0; i < 4; i++)
        assert_string_equal(s->tags[i], check_tags[i]);
    assert_int_equal(s->n_dogsketches, 1);
    Datadog__Agentpayload__SketchPayload__Sketch__Dogsketch *d = s->dogsketches[0];
    assert_int_equal(d->ts, 1700000000);
    assert_int_equal(d->cnt, 1);
    assert_true(d->min == 1 && d->max == 1 && d->avg == 1 && d->sum == 1);
    assert_int_equal(d->n_k, 1);
    assert_int_equal(d->k[0], 1338);
    assert_int_equal(d->n_n, 1);
    assert_int_equal(d->n[0], 1);
    datadog__agentpayload__sketch_payload__free_unpacked(p, NULL);
    free(out);
    dds_free(&m.sk);
}

/* Zero scalars are left out, k is zigzag and packed: checked byte by byte. */
static void test_sketch_exact_bytes(void **state)
{
    (void)state;
    struct met_sketch m = { .metric = "m", .ts = 0 };
    dds_init(&m.sk);
    assert_int_equal(dds_insert(&m.sk, 0), 0);
    size_t used, len;
    uint8_t *out;
    assert_int_equal(spb_encode(&m, 1, NULL, 0, &used, &out, &len), 0);
    const uint8_t want[] = { 0x0a, 0x0d,                   /* sketches, 13 bytes */
                             0x0a, 0x01, 'm',              /* metric */
                             0x3a, 0x08,                   /* dogsketches, 8 bytes */
                             0x10, 0x01,                   /* cnt 1 */
                             0x3a, 0x01, 0x00,             /* k [0] */
                             0x42, 0x01, 0x01 };           /* n [1] */
    assert_int_equal(len, sizeof(want));
    assert_memory_equal(out, want, sizeof(want));
    free(out);
    dds_free(&m.sk);

    /* a negative key is zigzagged: -1338 -> 2675 = 0xf3 0x14 */
    dds_init(&m.sk);
    assert_int_equal(dds_insert(&m.sk, -1), 0);
    assert_int_equal(spb_encode(&m, 1, NULL, 0, &used, &out, &len), 0);
    const uint8_t k[] = { 0x3a, 0x02, 0xf3, 0x14 };
    assert_non_null(memmem(out, len, k, sizeof(k)));
    free(out);
    dds_free(&m.sk);
}

static void test_sketch_metadata_and_split(void **state)
{
    (void)state;
    enum { N = 10 };
    struct met_sketch m[N];
    char names[N][16];
    for (int i = 0; i < N; i++) {
        snprintf(names[i], sizeof(names[i]), "metric.%d", i);
        m[i] = (struct met_sketch){ .metric = names[i], .tags = check_tags, .ntags = 4,
                                    .ts = 1700000000 + 10 * i };
        dds_init(&m[i].sk);
        for (int j = 1; j <= 20; j++)
            assert_int_equal(dds_insert(&m[i].sk, j * (i + 1)), 0);
    }
    struct spb_meta meta = { .agent_version = "forkcap-test", .current_epoch = 5 };
    size_t used, len;
    uint8_t *out;
    assert_int_equal(spb_encode(m, N, &meta, 0, &used, &out, &len), 0);
    assert_int_equal(used, N);
    Datadog__Agentpayload__SketchPayload *p =
        datadog__agentpayload__sketch_payload__unpack(NULL, len, out);
    assert_non_null(p);
    assert_non_null(p->metadata);
    assert_string_equal(p->metadata->agent_version, "forkcap-test");
    assert_string_equal(p->metadata->api_key, "");
    assert_int_equal(p->n_sketches, N);
    assert_int_equal(p->sketches[3]->dogsketches[0]->cnt, 20);
    assert_int_equal(p->sketches[3]->dogsketches[0]->n_k, m[3].sk.len);
    datadog__agentpayload__sketch_payload__free_unpacked(p, NULL);
    size_t one = len / N;
    free(out);

    /* split: each payload within the bound, all sketches taken once */
    size_t bound = one * 3 + one / 2, at = 0, payloads = 0;
    while (at < N) {
        assert_int_equal(spb_encode(m + at, N - at, NULL, bound, &used, &out, &len), 0);
        assert_true(used >= 1 && len <= bound);
        p = datadog__agentpayload__sketch_payload__unpack(NULL, len, out);
        assert_non_null(p);
        assert_int_equal(p->n_sketches, used);
        assert_string_equal(p->sketches[0]->metric, names[at]);
        datadog__agentpayload__sketch_payload__free_unpacked(p, NULL);
        free(out);
        at += used;
        payloads++;
    }
    assert_int_equal(at, N);
    assert_true(payloads >= 3 && payloads <= 4);
    /* at most 1,000 sketches per payload */
    struct met_sketch *many = calloc(SPB_MAX_SKETCHES + 5, sizeof(*many));
    assert_non_null(many);
    for (size_t i = 0; i < SPB_MAX_SKETCHES + 5; i++) {
        many[i] = m[0];
        many[i].ts = (int64_t)i;
    }
    assert_int_equal(spb_encode(many, SPB_MAX_SKETCHES + 5, NULL, 0, &used, &out, &len), 0);
    assert_int_equal(used, SPB_MAX_SKETCHES);
    free(out);
    assert_int_equal(spb_encode(many + used, 5, NULL, 0, &used, &out, &len), 0);
    assert_int_equal(used, 5);
    free(out);
    free(many); /* shares m[0]'s bins: not freed here */
    /* a sketch larger than the bound alone */
    assert_int_equal(spb_encode(m, N, NULL, 10, &used, &out, &len), -2);
    assert_int_equal(used, 1);
    assert_null(out);
    for (int i = 0; i < N; i++)
        dds_free(&m[i].sk);
}

static void test_series_exact(void **state)
{
    (void)state;
    char *tags[] = { "k:v", "x:y" };
    struct met_series s[2] = {
        { .metric = "a.b", .tags = tags, .ntags = 2, .type = 1, .ts = 1700000000,
          .value = 3, .interval = 10 },
        { .metric = "g", .tags = NULL, .ntags = 0, .type = 3, .ts = 1700000010, .value = 0.25 },
    };
    size_t used, len;
    char *out;
    assert_int_equal(sj_encode(s, 2, 0, 0, &used, &out, &len), 0);
    assert_int_equal(used, 2);
    const char *want =
        "{\"series\":[{\"metric\":\"a.b\",\"type\":1,\"points\":[{\"timestamp\":1700000000,"
        "\"value\":3.0}],\"tags\":[\"k:v\",\"x:y\"],\"resources\":[],\"interval\":10},"
        "{\"metric\":\"g\",\"type\":3,\"points\":[{\"timestamp\":1700000010,\"value\":0.25}],"
        "\"tags\":[],\"resources\":[]}]}";
    assert_string_equal(out, want);
    assert_int_equal(len, strlen(want));
    free(out);
}

static size_t parse_count(const char *txt, size_t len)
{
    json_error_t err;
    json_t *j = json_loadb(txt, len, 0, &err);
    assert_non_null(j);
    size_t n = json_array_size(json_object_get(j, "series"));
    json_decref(j);
    return n;
}

static void test_series_split_count(void **state)
{
    (void)state;
    enum { N = 2500 };
    struct met_series *s = calloc(N, sizeof(*s));
    assert_non_null(s);
    for (size_t i = 0; i < N; i++)
        s[i] = (struct met_series){ .metric = "c", .type = 1, .ts = (int64_t)i, .value = 1 };
    size_t at = 0, used, len, sizes[3], k = 0;
    char *out;
    while (at < N) {
        assert_int_equal(sj_encode(s + at, N - at, 0, 0, &used, &out, &len), 0);
        assert_int_equal(parse_count(out, len), used);
        assert_true(k < 3);
        sizes[k++] = used;
        free(out);
        at += used;
    }
    assert_int_equal(sizes[0], 1000);
    assert_int_equal(sizes[1], 1000);
    assert_int_equal(sizes[2], 500);
    free(s);
}

static void test_series_split_bytes(void **state)
{
    (void)state;
    /* 1,000 series of ~20 KB each: the byte bound cuts before 1,000 */
    enum { N = 1000, NT = 100 };
    char tagbuf[NT][MET_TAG_MAX + 1];
    char *tags[NT];
    for (int i = 0; i < NT; i++) {
        memset(tagbuf[i], 'a' + i % 26, MET_TAG_MAX);
        tagbuf[i][MET_TAG_MAX] = '\0';
        tags[i] = tagbuf[i];
    }
    struct met_series *s = calloc(N, sizeof(*s));
    assert_non_null(s);
    for (size_t i = 0; i < N; i++)
        s[i] = (struct met_series){ .metric = "big", .tags = tags, .ntags = NT, .type = 3,
                                    .ts = (int64_t)i, .value = 1 };
    size_t at = 0, used, len, payloads = 0;
    char *out;
    while (at < N) {
        assert_int_equal(sj_encode(s + at, N - at, 0, 0, &used, &out, &len), 0);
        assert_true(len < 5u * 1024 * 1024);
        assert_int_equal(strlen(out), len);
        assert_int_equal(parse_count(out, len), used);
        free(out);
        at += used;
        payloads++;
    }
    assert_true(payloads >= 4);
    /* small bound, and a series alone over it */
    assert_int_equal(sj_encode(s, N, 0, 30000, &used, &out, &len), 0);
    assert_true(len <= 30000 && used == 1);
    free(out);
    assert_int_equal(sj_encode(s, N, 0, 100, &used, &out, &len), -2);
    assert_int_equal(used, 1);
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sketch_check_140),   cmocka_unit_test(test_sketch_exact_bytes),
        cmocka_unit_test(test_sketch_metadata_and_split), cmocka_unit_test(test_series_exact),
        cmocka_unit_test(test_series_split_count), cmocka_unit_test(test_series_split_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
