/* test_msplit.c — halves of a series body and of a SketchPayload, as split
 * after a 413: decoded with jansson / protobuf-c and compared with the
 * original, entry by entry (none lost, none doubled, order kept), the
 * sketch metadata in both halves, one entry refused, malformed input
 * refused with nothing allocated. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "msplit.h"
#include "series_json.h"
#include "sketch.pb-c.h"
#include "sketch_pb.h"

/* names a naive splitter would cut inside: every JSON delimiter, escapes */
static const char *const odd_names[] = {
    "a,b", "x}y", "p]q", "q\"uote", "back\\slash", "{\"series\":[", "]}", "\\\"", "é,ü", "plain",
};
#define NODD (sizeof odd_names / sizeof odd_names[0])

static char *tags_odd[] = { "k:v,w", "t:}]", "e:\\\"" };

/* ---- series ------------------------------------------------------------- */

static char *series_body(size_t n, size_t *len)
{
    struct met_series *s = calloc(n ? n : 1, sizeof *s);
    char(*names)[48] = calloc(n ? n : 1, sizeof *names);
    assert_non_null(s);
    assert_non_null(names);
    for (size_t i = 0; i < n; i++) {
        snprintf(names[i], sizeof names[i], "%s.%zu", odd_names[i % NODD], i);
        s[i] = (struct met_series){ .metric = names[i], .tags = tags_odd, .ntags = i % 4,
                                    .type = (int)(i % 3) + 1, .ts = 1700000000 + (int64_t)i,
                                    .value = (double)i / 4, .interval = i % 2 ? 10 : 0 };
    }
    size_t used;
    char *out;
    assert_int_equal(sj_encode(s, n, 0, 0, &used, &out, len), 0);
    assert_int_equal(used, n);
    free(names);
    free(s);
    return out;
}

static json_t *series_of(const char *txt, size_t len)
{
    json_error_t err;
    json_t *j = json_loadb(txt, len, 0, &err);
    assert_non_null(j);
    assert_int_equal(json_object_size(j), 1);
    json_t *arr = json_object_get(j, "series");
    assert_true(json_is_array(arr));
    json_incref(arr);
    json_decref(j);
    return arr;
}

/* Split body in two and check: ceil/floor counts, each half a whole body
 * of its own, the halves' series in order equal the original's. */
static void check_series_split(const char *body, size_t len, size_t n)
{
    char *a = NULL, *b = NULL;
    size_t al = 0, bl = 0, got = 99;
    assert_int_equal(msplit_halves(MSPLIT_SERIES, body, len, &a, &al, &b, &bl, &got), 0);
    assert_int_equal(got, n);
    assert_int_equal(strlen(a), al); /* NUL-terminated, no NUL inside */
    assert_int_equal(strlen(b), bl);
    json_t *orig = series_of(body, len), *ja = series_of(a, al), *jb = series_of(b, bl);
    assert_int_equal(json_array_size(orig), n);
    assert_int_equal(json_array_size(ja), (n + 1) / 2);
    assert_int_equal(json_array_size(jb), n / 2);
    json_t *joined = json_array();
    json_array_extend(joined, ja);
    json_array_extend(joined, jb);
    assert_true(json_equal(joined, orig));
    /* byte for byte, too: nothing re-encoded */
    assert_int_equal(al + bl, len + sizeof "{\"series\":[]}" - 1 - 1);
    json_decref(joined);
    json_decref(orig);
    json_decref(ja);
    json_decref(jb);
    free(a);
    free(b);
}

static void test_series_halves(void **state)
{
    (void)state;
    for (size_t n = 2; n <= 41; n++) {
        size_t len;
        char *body = series_body(n, &len);
        check_series_split(body, len, n);
        free(body);
    }
    size_t len;
    char *body = series_body(SJ_MAX_SERIES, &len);
    check_series_split(body, len, SJ_MAX_SERIES);
    free(body);
}

/* Halving again and again, as repeated 413s do, ends in single series
 * whose concatenation is the original array. */
static void split_down(const char *body, size_t len, json_t *into)
{
    char *a, *b;
    size_t al, bl, n;
    int rc = msplit_halves(MSPLIT_SERIES, body, len, &a, &al, &b, &bl, &n);
    if (rc == 1) {
        assert_int_equal(n, 1);
        json_t *one = series_of(body, len);
        json_array_extend(into, one);
        json_decref(one);
        return;
    }
    assert_int_equal(rc, 0);
    split_down(a, al, into);
    split_down(b, bl, into);
    free(a);
    free(b);
}

static void test_series_split_to_singles(void **state)
{
    (void)state;
    size_t len;
    char *body = series_body(37, &len);
    json_t *all = json_array(), *orig = series_of(body, len);
    split_down(body, len, all);
    assert_int_equal(json_array_size(all), 37);
    assert_true(json_equal(all, orig));
    json_decref(all);
    json_decref(orig);
    free(body);
}

static void test_series_one_or_none(void **state)
{
    (void)state;
    char *a = (char *)"untouched", *b = (char *)"untouched";
    size_t al = 7, bl = 7, n = 99;
    size_t len;
    char *body = series_body(1, &len);
    assert_int_equal(msplit_halves(MSPLIT_SERIES, body, len, &a, &al, &b, &bl, &n), 1);
    assert_int_equal(n, 1);
    free(body);
    const char empty[] = "{\"series\":[]}";
    assert_int_equal(msplit_halves(MSPLIT_SERIES, empty, sizeof empty - 1, &a, &al, &b, &bl, &n), 1);
    assert_int_equal(n, 0);
    assert_string_equal(a, "untouched");
    assert_string_equal(b, "untouched");
    assert_int_equal(al + bl, 14);
}

static void expect_series_refused(const char *s)
{
    char *a = NULL, *b = NULL;
    size_t al = 0, bl = 0;
    int rc = msplit_halves(MSPLIT_SERIES, s, strlen(s), &a, &al, &b, &bl, NULL);
    if (rc != -1)
        fail_msg("accepted (%d): %s", rc, s);
    assert_null(a);
    assert_null(b);
}

static void test_series_malformed(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        "{",
        "{\"series\":[",
        "{\"series\":[{}]",
        "{\"series\":{}}",
        "{\"metrics\":[{},{}]}",
        "{\"series\":[1,2]}",
        "{\"series\":[{},2]}",
        "{\"series\":[\"a\",\"b\"]}",
        "{\"series\":[{},{}x]}",
        "{\"series\":[{} ,{}]}",
        "{\"series\":[{},]}",        /* a trailing comma is not an entry */
        "{\"series\":[{},{},]}",     /* else one half would carry it */
        "{\"series\":[,{},{}]}",
        "{\"series\":[{},,{}]}",
        "{\"series\":[{\"a\":\"x},{}]}", /* string never closed */
        "{\"series\":[{\"a\":\"x\\\"},{}]}",
        "{\"series\":[{\"a\":[},{}]}", /* never closed */
        "{\"series\":[{},{}]}trailing",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        expect_series_refused(bad[i]);

    /* nesting past the bound is refused, not recursed into */
    char deep[512] = "{\"series\":[{},{\"a\":";
    size_t l = strlen(deep);
    for (int i = 0; i < 100; i++)
        deep[l++] = '[';
    for (int i = 0; i < 100; i++)
        deep[l++] = ']';
    memcpy(deep + l, "}]}", 4);
    expect_series_refused(deep);

    /* every strict prefix of a real body is refused */
    size_t len;
    char *body = series_body(5, &len);
    for (size_t cut = 0; cut < len; cut++) {
        char *p = malloc(cut + 1);
        memcpy(p, body, cut);
        p[cut] = '\0';
        expect_series_refused(p);
        free(p);
    }
    free(body);
    assert_int_equal(msplit_halves(MSPLIT_SERIES, NULL, 0, NULL, NULL, NULL, NULL, NULL), -1);
}

/* ---- sketches ----------------------------------------------------------- */

static uint8_t *sketch_body(size_t n, const struct spb_meta *meta, size_t *len)
{
    struct met_sketch *m = calloc(n ? n : 1, sizeof *m);
    char(*names)[48] = calloc(n ? n : 1, sizeof *names);
    assert_non_null(m);
    assert_non_null(names);
    for (size_t i = 0; i < n; i++) {
        snprintf(names[i], sizeof names[i], "%s.%zu", odd_names[i % NODD], i);
        m[i] = (struct met_sketch){ .metric = names[i], .tags = tags_odd, .ntags = i % 4,
                                    .ts = 1700000000 + 10 * (int64_t)i };
        dds_init(&m[i].sk);
        for (size_t j = 1; j <= 1 + i % 7; j++)
            assert_int_equal(dds_insert(&m[i].sk, (double)(j * (i + 1))), 0);
    }
    size_t used;
    uint8_t *out;
    assert_int_equal(spb_encode(m, n, meta, 0, &used, &out, len), 0);
    assert_int_equal(used, n);
    for (size_t i = 0; i < n; i++)
        dds_free(&m[i].sk);
    free(names);
    free(m);
    return out;
}

typedef Datadog__Agentpayload__SketchPayload SP;

static SP *sp_unpack(const void *d, size_t len)
{
    SP *p = datadog__agentpayload__sketch_payload__unpack(NULL, len, d);
    assert_non_null(p);
    return p;
}

/* A sketch's canonical bytes, to compare two decoded sketches exactly. */
static void assert_sketch_same(const Datadog__Agentpayload__SketchPayload__Sketch *x,
                               const Datadog__Agentpayload__SketchPayload__Sketch *y)
{
    size_t lx = protobuf_c_message_get_packed_size(&x->base);
    size_t ly = protobuf_c_message_get_packed_size(&y->base);
    assert_int_equal(lx, ly);
    uint8_t *bx = malloc(lx + 1), *by = malloc(ly + 1);
    protobuf_c_message_pack(&x->base, bx);
    protobuf_c_message_pack(&y->base, by);
    assert_memory_equal(bx, by, lx);
    free(bx);
    free(by);
}

static void assert_meta_same(const Datadog__Agentpayload__CommonMetadata *x,
                             const Datadog__Agentpayload__CommonMetadata *y)
{
    if (x == NULL || y == NULL) {
        assert_true(x == y);
        return;
    }
    size_t lx = protobuf_c_message_get_packed_size(&x->base);
    assert_int_equal(lx, protobuf_c_message_get_packed_size(&y->base));
    uint8_t *bx = malloc(lx + 1), *by = malloc(lx + 1);
    protobuf_c_message_pack(&x->base, bx);
    protobuf_c_message_pack(&y->base, by);
    assert_memory_equal(bx, by, lx);
    free(bx);
    free(by);
}

static void check_sketch_split(const uint8_t *body, size_t len, size_t n)
{
    char *a = NULL, *b = NULL;
    size_t al = 0, bl = 0, got = 99;
    assert_int_equal(msplit_halves(MSPLIT_SKETCHES, (const char *)body, len, &a, &al, &b, &bl, &got),
                     0);
    assert_int_equal(got, n);
    SP *o = sp_unpack(body, len), *pa = sp_unpack(a, al), *pb = sp_unpack(b, bl);
    assert_int_equal(o->n_sketches, n);
    assert_int_equal(pa->n_sketches, (n + 1) / 2);
    assert_int_equal(pb->n_sketches, n / 2);
    for (size_t i = 0; i < pa->n_sketches; i++)
        assert_sketch_same(pa->sketches[i], o->sketches[i]);
    for (size_t i = 0; i < pb->n_sketches; i++)
        assert_sketch_same(pb->sketches[i], o->sketches[pa->n_sketches + i]);
    assert_meta_same(pa->metadata, o->metadata);
    assert_meta_same(pb->metadata, o->metadata);
    datadog__agentpayload__sketch_payload__free_unpacked(o, NULL);
    datadog__agentpayload__sketch_payload__free_unpacked(pa, NULL);
    datadog__agentpayload__sketch_payload__free_unpacked(pb, NULL);
    free(a);
    free(b);
}

static void test_sketch_halves(void **state)
{
    (void)state;
    struct spb_meta meta = { .agent_version = "forkcap-test", .timezone = "UTC",
                             .internal_ip = "10.0.0.1", .current_epoch = 1700000000.5 };
    for (size_t n = 2; n <= 41; n++) {
        size_t len;
        uint8_t *body = sketch_body(n, &meta, &len);
        check_sketch_split(body, len, n);
        free(body);
        body = sketch_body(n, NULL, &len); /* no metadata: none appears */
        check_sketch_split(body, len, n);
        free(body);
    }
    size_t len;
    uint8_t *body = sketch_body(SPB_MAX_SKETCHES, &meta, &len);
    check_sketch_split(body, len, SPB_MAX_SKETCHES);
    free(body);
}

/* Metadata placed anywhere among the sketches (protobuf allows any field
 * order) still lands in both halves, and unknown fields are kept too. */
static void test_sketch_meta_anywhere(void **state)
{
    (void)state;
    struct spb_meta meta = { .agent_version = "v", .current_epoch = 3 };
    size_t ml, sl;
    uint8_t *with = sketch_body(5, &meta, &ml);
    uint8_t *without = sketch_body(5, NULL, &sl);
    assert_true(ml > sl);
    /* the metadata field's bytes: what `with` has beyond `without` */
    SP *o = sp_unpack(with, ml);
    size_t mfl = ml - sl;
    uint8_t *mf = NULL;
    if (memcmp(with, without, sl) == 0)
        mf = with + sl; /* the encoder puts it last */
    else if (memcmp(with + mfl, without, sl) == 0)
        mf = with; /* or first */
    assert_non_null(mf);
    /* rebuild: sketch 0, 1, metadata, unknown field 9 (varint), sketches 2..4 */
    size_t off = 0, cuts[6], k = 0;
    while (off < sl) { /* top-level fields of `without` are all sketches */
        cuts[k++] = off;
        assert_int_equal(without[off], 0x0a);
        uint64_t v = 0;
        unsigned sh = 0;
        size_t p = off + 1;
        do {
            v |= (uint64_t)(without[p] & 0x7f) << sh;
            sh += 7;
        } while (without[p++] & 0x80);
        off = p + v;
    }
    assert_int_equal(k, 5);
    cuts[5] = sl;
    uint8_t *mix = malloc(ml + 2);
    size_t w = 0;
    memcpy(mix, without, cuts[2]);
    w = cuts[2];
    memcpy(mix + w, mf, mfl);
    w += mfl;
    mix[w++] = 9 << 3; /* field 9, varint 1: unknown to the schema */
    mix[w++] = 1;
    memcpy(mix + w, without + cuts[2], sl - cuts[2]);
    w += sl - cuts[2];
    check_sketch_split(mix, w, 5);

    char *a, *b;
    size_t al, bl;
    assert_int_equal(msplit_halves(MSPLIT_SKETCHES, (char *)mix, w, &a, &al, &b, &bl, NULL), 0);
    SP *pa = sp_unpack(a, al), *pb = sp_unpack(b, bl);
    assert_meta_same(pa->metadata, o->metadata);
    assert_meta_same(pb->metadata, o->metadata);
    /* the unknown field went to both halves too */
    assert_int_equal(pa->base.n_unknown_fields, 1);
    assert_int_equal(pb->base.n_unknown_fields, 1);
    datadog__agentpayload__sketch_payload__free_unpacked(pa, NULL);
    datadog__agentpayload__sketch_payload__free_unpacked(pb, NULL);
    datadog__agentpayload__sketch_payload__free_unpacked(o, NULL);
    free(a);
    free(b);
    free(mix);
    free(with);
    free(without);
}

static void test_sketch_one_or_none(void **state)
{
    (void)state;
    char *a = (char *)"untouched", *b = (char *)"untouched";
    size_t al = 7, bl = 7, n = 99;
    struct spb_meta meta = { .agent_version = "v" };
    size_t len;
    uint8_t *body = sketch_body(1, &meta, &len);
    assert_int_equal(msplit_halves(MSPLIT_SKETCHES, (char *)body, len, &a, &al, &b, &bl, &n), 1);
    assert_int_equal(n, 1);
    free(body);
    body = sketch_body(0, &meta, &len); /* metadata alone */
    assert_int_equal(msplit_halves(MSPLIT_SKETCHES, (char *)body, len, &a, &al, &b, &bl, &n), 1);
    assert_int_equal(n, 0);
    free(body);
    assert_int_equal(msplit_halves(MSPLIT_SKETCHES, "", 0, &a, &al, &b, &bl, &n), 1);
    assert_int_equal(n, 0);
    assert_string_equal(a, "untouched");
    assert_string_equal(b, "untouched");
}

static void expect_sketch_refused(const void *d, size_t len)
{
    char *a = NULL, *b = NULL;
    size_t al = 0, bl = 0;
    assert_int_equal(msplit_halves(MSPLIT_SKETCHES, d, len, &a, &al, &b, &bl, NULL), -1);
    assert_null(a);
    assert_null(b);
}

static void test_sketch_malformed(void **state)
{
    (void)state;
    static const struct {
        const char *d;
        size_t len;
    } bad[] = {
        { "\x0a", 1 },                             /* key, no length */
        { "\x0a\x05" "ab", 4 },                    /* length past the end */
        { "\x0a\x00\x0a\xff\xff\xff\xff\x0f", 8 }, /* huge length */
        { "\x0a\x00\x0a\x00\x0b", 5 },             /* group start: wire type 3 */
        { "\x0a\x00\x0a\x00\x0c", 5 },             /* group end: wire type 4 */
        { "\x0a\x00\x0a\x00\x0e", 5 },             /* wire type 6 */
        { "\x0a\x00\x02\x00", 4 },                 /* field number 0 */
        { "\x0a\x00\x0a\x00\x08", 5 },             /* varint value missing */
        { "\x0a\x00\x0a\x00\x08\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 16 }, /* 11-byte varint */
        { "\x0a\x00\x0a\x00\x09\x01\x02\x03", 8 }, /* fixed64 short */
        { "\x0a\x00\x0a\x00\x0d\x01\x02", 7 },     /* fixed32 short */
        { "\x0a\x00\x0a\x00\x8a", 5 },             /* key varint cut */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        expect_sketch_refused(bad[i].d, bad[i].len);

    /* every strict prefix of a real payload that is not cut at a field
     * boundary is refused; one cut at a boundary is a shorter payload */
    struct spb_meta meta = { .agent_version = "v" };
    size_t len;
    uint8_t *body = sketch_body(4, &meta, &len);
    size_t boundaries = 0;
    for (size_t cut = 1; cut < len; cut++) {
        uint8_t *p = malloc(cut);
        memcpy(p, body, cut);
        char *a = NULL, *b = NULL;
        size_t al, bl;
        int rc = msplit_halves(MSPLIT_SKETCHES, (char *)p, cut, &a, &al, &b, &bl, NULL);
        if (rc != -1) {
            boundaries++;
            SP *sp = sp_unpack(p, cut); /* a boundary: a whole payload */
            datadog__agentpayload__sketch_payload__free_unpacked(sp, NULL);
            if (rc == 0) {
                free(a);
                free(b);
            }
        }
        free(p);
    }
    assert_int_equal(boundaries, 4); /* after sketches 1..3 and sketch 4 (meta cut) */
    free(body);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_series_halves),       cmocka_unit_test(test_series_split_to_singles),
        cmocka_unit_test(test_series_one_or_none),  cmocka_unit_test(test_series_malformed),
        cmocka_unit_test(test_sketch_halves),       cmocka_unit_test(test_sketch_meta_anywhere),
        cmocka_unit_test(test_sketch_one_or_none),  cmocka_unit_test(test_sketch_malformed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
