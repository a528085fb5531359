/* test_frame.c — common/frame.c: round trips of every frame type, and every
 * class of malformed input the decoder must refuse without allocating from
 * declared sizes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "frame.h"

/* Decode a finished frame_buf (skipping the prefix, checking it). */
static int decode_fb(struct frame_buf *fb, struct frame *f, char *err)
{
    assert_int_equal(frame_finish(fb), 0);
    frame_set_seq(fb->p, 7);
    uint32_t n = frame_hdr_len(fb->p);
    assert_int_equal(n, fb->len - FRAME_HDR_LEN);
    return frame_decode(fb->p + FRAME_HDR_LEN, n, f, err, FRAME_ERR_MAX);
}

static void test_roundtrip_registered(void **st)
{
    (void)st;
    struct frame_buf fb = {0};
    struct frame f;
    char err[FRAME_ERR_MAX];
    frame_begin(&fb, FT_REGISTERED);
    frame_put_str(&fb, "ext_id", "4a1f-uuid");
    frame_put_str(&fb, "fn_name", "my-fn");
    frame_put_str(&fb, "fn_version", "$LATEST");
    frame_put_str(&fb, "account_id", "123456789012");
    frame_put_uint(&fb, "t_start_us", 123456789012345ull);
    frame_put_uint(&fb, "t_register_us", 5);
    assert_int_equal(decode_fb(&fb, &f, err), 0);
    assert_int_equal(f.type, FT_REGISTERED);
    assert_int_equal(f.seq, 7);
    const char *s;
    size_t len;
    uint64_t u;
    assert_true(frame_get_str(&f, "ext_id", &s, &len));
    assert_string_equal(s, "4a1f-uuid");
    assert_int_equal(len, 9);
    assert_true(frame_get_str(&f, "account_id", &s, NULL));
    assert_string_equal(s, "123456789012");
    assert_true(frame_get_uint(&f, "t_start_us", &u));
    assert_int_equal(u, 123456789012345ull);
    /* typed access refuses the wrong kind and absent keys */
    assert_false(frame_get_uint(&f, "ext_id", &u));
    assert_false(frame_get_str(&f, "nope", &s, NULL));
    frame_free(&f);
    frame_buf_free(&fb);
}

static void test_roundtrip_all_scalars(void **st)
{
    (void)st;
    struct frame_buf fb = {0};
    struct frame f;
    char err[FRAME_ERR_MAX];
    frame_begin(&fb, FT_PLATFORM);
    frame_put_str(&fb, "event", "report");
    frame_put_int(&fb, "time_ms", -5);           /* negative int survives */
    frame_put_float(&fb, "duration_ms", 12.625);
    frame_put_int(&fb, "billed_ms", 13);
    frame_put_int(&fb, "memory_mb", 1 << 20);     /* needs uint32 encoding */
    frame_put_float(&fb, "init_ms", 7);
    frame_put_str(&fb, "unknown_key", "ignored"); /* forward compatible */
    assert_int_equal(decode_fb(&fb, &f, err), 0);
    int64_t i;
    double d;
    assert_true(frame_get_int(&f, "time_ms", &i));
    assert_int_equal(i, -5);
    assert_true(frame_get_float(&f, "duration_ms", &d));
    assert_true(d == 12.625);
    assert_true(frame_get_int(&f, "memory_mb", &i));
    assert_int_equal(i, 1 << 20);
    assert_true(frame_get_float(&f, "billed_ms", &d)); /* an int reads as a number */
    assert_true(d == 13.0);
    frame_free(&f);

    /* integers at every encoding boundary */
    static const uint64_t us[] = {0, 127, 128, 255, 256, 65535, 65536, 4294967295ull,
                                  4294967296ull, UINT64_MAX};
    for (size_t k = 0; k < sizeof us / sizeof us[0]; k++) {
        frame_begin(&fb, FT_ACK);
        frame_put_uint(&fb, "upto", us[k]);
        assert_int_equal(decode_fb(&fb, &f, err), 0);
        uint64_t u;
        assert_true(frame_get_uint(&f, "upto", &u));
        assert_true(u == us[k]);
        frame_free(&f);
    }
    static const int64_t is[] = {-1, -32, -33, -128, -129, -32768, -32769, INT64_MIN};
    for (size_t k = 0; k < sizeof is / sizeof is[0]; k++) {
        frame_begin(&fb, FT_SUBSCRIBED);
        frame_put_int(&fb, "status", is[k]);
        frame_put_uint(&fb, "t_subscribe_us", 1);
        assert_int_equal(decode_fb(&fb, &f, err), 0);
        assert_true(frame_get_int(&f, "status", &i));
        assert_true(i == is[k]);
        frame_free(&f);
    }
    frame_buf_free(&fb);
}

static void test_roundtrip_logs_and_reencode(void **st)
{
    (void)st;
    struct frame_buf fb = {0}, again = {0};
    struct frame f, g;
    char err[FRAME_ERR_MAX];
    char big[300];
    memset(big, 'x', sizeof big);
    frame_begin(&fb, FT_LOGS);
    frame_put_key(&fb, "records");
    size_t at = frame_val_array_begin(&fb);
    for (int r = 0; r < 3; r++) {
        size_t rec = frame_val_array_begin(&fb);
        frame_val_int(&fb, 1700000000000 + r);
        frame_val_uint(&fb, (uint64_t)r);
        if (r == 1)
            frame_val_nil(&fb);
        else
            frame_val_str(&fb, "req-1", 5);
        frame_val_str(&fb, big, r == 2 ? sizeof big : 5);
        frame_val_array_end(&fb, rec, 4);
    }
    frame_val_array_end(&fb, at, 3);
    assert_int_equal(decode_fb(&fb, &f, err), 0);
    uint32_t n;
    const struct fv *rec = frame_get_array(&f, "records", &n);
    assert_int_equal(n, 3);
    for (uint32_t r = 0; r < n; r++, rec = frame_next(&f, rec)) {
        assert_int_equal(rec->kind, FV_ARRAY);
        const struct fv *t = frame_first(&f, rec);
        int64_t tm;
        assert_true(fv_int(t, &tm));
        assert_int_equal(tm, 1700000000000 + r);
        const struct fv *src = frame_next(&f, t);
        const struct fv *rid = frame_next(&f, src);
        const struct fv *msg = frame_next(&f, rid);
        assert_int_equal(src->v.u, r);
        assert_int_equal(rid->kind, r == 1 ? FV_NIL : FV_STR);
        assert_int_equal(msg->n, r == 2 ? sizeof big : 5);
    }
    /* what the supervisor forwards decodes to the same thing */
    assert_int_equal(frame_reencode(&f, &again), 0);
    frame_set_seq(again.p, 9);
    assert_int_equal(frame_decode(again.p + 4, again.len - 4, &g, err, sizeof err), 0);
    assert_int_equal(g.type, FT_LOGS);
    assert_int_equal(g.seq, 9);
    assert_int_equal(g.nnodes, f.nnodes);
    rec = frame_get_array(&g, "records", &n);
    assert_int_equal(n, 3);
    frame_free(&f);
    frame_free(&g);
    frame_buf_free(&fb);
    frame_buf_free(&again);
}

/* Raw payload helpers for malformed input. */
static int dec(const uint8_t *p, size_t n, char *err)
{
    struct frame f;
    int rc = frame_decode(p, n, &f, err, FRAME_ERR_MAX);
    if (rc == 0)
        frame_free(&f);
    return rc;
}

static void test_length_prefix(void **st)
{
    (void)st;
    uint8_t zero[4] = {0, 0, 0, 0};
    uint8_t max[4] = {(FRAME_MAX >> 24) & 0xff, (FRAME_MAX >> 16) & 0xff, (FRAME_MAX >> 8) & 0xff,
                      FRAME_MAX & 0xff};
    uint32_t over = FRAME_MAX + 1;
    uint8_t big[4] = {over >> 24, (over >> 16) & 0xff, (over >> 8) & 0xff, over & 0xff};
    uint8_t huge[4] = {0xff, 0xff, 0xff, 0xff};
    assert_int_equal(frame_hdr_len(zero), 0);
    assert_int_equal(frame_hdr_len(max), FRAME_MAX);
    assert_int_equal(frame_hdr_len(big), 0);
    assert_int_equal(frame_hdr_len(huge), 0);
    char err[FRAME_ERR_MAX];
    assert_int_equal(dec((const uint8_t *)"", 0, err), -1);
}

static void test_truncated(void **st)
{
    (void)st;
    struct frame_buf fb = {0};
    char err[FRAME_ERR_MAX];
    frame_begin(&fb, FT_INVOKE);
    frame_put_str(&fb, "request_id", "abc");
    frame_put_int(&fb, "deadline_ms", 1700000000123);
    frame_put_str(&fb, "arn", "arn:aws:lambda:x");
    assert_int_equal(frame_finish(&fb), 0);
    frame_set_seq(fb.p, 1);
    size_t n = fb.len - 4;
    assert_int_equal(dec(fb.p + 4, n, err), 0);
    /* every strict prefix is refused, and so is one byte too many */
    for (size_t k = 1; k < n; k++)
        assert_int_equal(dec(fb.p + 4, k, err), -1);
    uint8_t *longer = malloc(n + 1);
    memcpy(longer, fb.p + 4, n);
    longer[n] = 0xc0;
    assert_int_equal(dec(longer, n + 1, err), -1);
    assert_non_null(strstr(err, "trailing"));
    free(longer);
    frame_buf_free(&fb);
}

static void test_header_checks(void **st)
{
    (void)st;
    char err[FRAME_ERR_MAX];
    /* [1, 48 READY? no: 49 ACK, seq 1, {"upto": 3}] is valid */
    uint8_t ok[] = {0x94, 0x01, 0x31, 0x01, 0x81, 0xa4, 'u', 'p', 't', 'o', 0x03};
    assert_int_equal(dec(ok, sizeof ok, err), 0);
    uint8_t v2[sizeof ok];
    memcpy(v2, ok, sizeof ok);
    v2[1] = 0x02; /* wrong version */
    assert_int_equal(dec(v2, sizeof v2, err), -1);
    assert_non_null(strstr(err, "version"));
    memcpy(v2, ok, sizeof ok);
    v2[2] = 0x7f; /* unknown type */
    assert_int_equal(dec(v2, sizeof v2, err), -1);
    assert_non_null(strstr(err, "unknown frame type"));
    memcpy(v2, ok, sizeof ok);
    v2[3] = 0x00; /* seq 0 */
    assert_int_equal(dec(v2, sizeof v2, err), -1);
    memcpy(v2, ok, sizeof ok);
    v2[0] = 0x93; /* 3-element array: body becomes trailing */
    assert_int_equal(dec(v2, sizeof v2, err), -1);
    uint8_t notarr[] = {0x81, 0xa1, 'a', 0x01};
    assert_int_equal(dec(notarr, sizeof notarr, err), -1);
    uint8_t bodyarr[] = {0x94, 0x01, 0x31, 0x01, 0x90}; /* body is an array */
    assert_int_equal(dec(bodyarr, sizeof bodyarr, err), -1);
    uint8_t typestr[] = {0x94, 0x01, 0xa1, '1', 0x01, 0x80}; /* type is a string */
    assert_int_equal(dec(typestr, sizeof typestr, err), -1);
    uint8_t intkey[] = {0x94, 0x01, 0x31, 0x01, 0x81, 0x01, 0x03}; /* map key not str */
    assert_int_equal(dec(intkey, sizeof intkey, err), -1);
    uint8_t ext[] = {0x94, 0x01, 0x31, 0x01, 0x81, 0xa4, 'u', 'p', 't', 'o', 0xd4, 0x01, 0x00};
    assert_int_equal(dec(ext, sizeof ext, err), -1);
    uint8_t c1[] = {0x94, 0x01, 0x31, 0x01, 0x81, 0xa4, 'u', 'p', 't', 'o', 0xc1};
    assert_int_equal(dec(c1, sizeof c1, err), -1);
    uint8_t dup[] = {0x94, 0x01, 0x31, 0x01, 0x82, 0xa4, 'u', 'p', 't', 'o', 0x03,
                     0xa4, 'u', 'p', 't', 'o', 0x04};
    assert_int_equal(dec(dup, sizeof dup, err), -1);
    assert_non_null(strstr(err, "duplicate"));
}

static void test_huge_declared_counts(void **st)
{
    (void)st;
    char err[FRAME_ERR_MAX];
    /* each is a handful of bytes declaring gigabytes */
    uint8_t arr32[] = {0xdd, 0xff, 0xff, 0xff, 0xff};
    uint8_t map32[] = {0xdf, 0x7f, 0xff, 0xff, 0xff, 0x00};
    uint8_t str32[] = {0x94, 0x01, 0x31, 0x01, 0x81, 0xdb, 0xff, 0xff, 0xff, 0xf0, 'u'};
    uint8_t bin32[] = {0x94, 0x01, 0x31, 0x01, 0x81, 0xa1, 'x', 0xc6, 0xff, 0xff, 0xff, 0xff};
    uint8_t inner[] = {0x94, 0x01, 0x31, 0x01, 0xdf, 0xff, 0xff, 0xff, 0xff};
    uint8_t arr16[] = {0x94, 0x01, 0x08, 0x01, 0x81, 0xa7, 'r', 'e', 'c', 'o', 'r', 'd', 's',
                       0xdc, 0xff, 0xff};
    assert_int_equal(dec(arr32, sizeof arr32, err), -1);
    assert_non_null(strstr(err, "declares"));
    assert_int_equal(dec(map32, sizeof map32, err), -1);
    assert_int_equal(dec(str32, sizeof str32, err), -1);
    assert_int_equal(dec(bin32, sizeof bin32, err), -1);
    assert_int_equal(dec(inner, sizeof inner, err), -1);
    assert_int_equal(dec(arr16, sizeof arr16, err), -1);
    /* nesting deeper than FRAME_DEPTH_MAX */
    uint8_t deep[64];
    size_t k = 0;
    deep[k++] = 0x94; deep[k++] = 0x01; deep[k++] = 0x08; deep[k++] = 0x01;
    deep[k++] = 0x81; deep[k++] = 0xa1; deep[k++] = 'r';
    for (int d = 0; d < 20; d++)
        deep[k++] = 0x91;
    deep[k++] = 0xc0;
    assert_int_equal(dec(deep, k, err), -1);
    assert_non_null(strstr(err, "nested"));
}

static void test_field_types_and_presence(void **st)
{
    (void)st;
    struct frame_buf fb = {0};
    struct frame f;
    char err[FRAME_ERR_MAX];
    /* required field missing */
    frame_begin(&fb, FT_REGISTERED);
    frame_put_str(&fb, "ext_id", "x");
    frame_put_str(&fb, "fn_name", "f");
    frame_put_uint(&fb, "t_start_us", 1);
    frame_put_uint(&fb, "t_register_us", 1);
    assert_int_equal(decode_fb(&fb, &f, err), -1);
    assert_non_null(strstr(err, "fn_version"));
    /* a listed field of the wrong type */
    frame_begin(&fb, FT_REGISTERED);
    frame_put_uint(&fb, "ext_id", 3);
    frame_put_str(&fb, "fn_name", "f");
    frame_put_str(&fb, "fn_version", "1");
    frame_put_uint(&fb, "t_start_us", 1);
    frame_put_uint(&fb, "t_register_us", 1);
    assert_int_equal(decode_fb(&fb, &f, err), -1);
    assert_non_null(strstr(err, "ext_id"));
    /* uint field given a negative int */
    frame_begin(&fb, FT_ACK);
    frame_put_int(&fb, "upto", -1);
    assert_int_equal(decode_fb(&fb, &f, err), -1);
    /* optional field of the wrong type */
    frame_begin(&fb, FT_FLUSH);
    frame_put_uint(&fb, "flush_id", 1);
    frame_put_uint(&fb, "budget_ms", 10);
    frame_put_uint(&fb, "final", 1);
    assert_int_equal(decode_fb(&fb, &f, err), -1);
    /* empty body is fine for GO, not for ACK */
    frame_begin(&fb, FT_GO);
    assert_int_equal(decode_fb(&fb, &f, err), 0);
    frame_free(&f);
    frame_begin(&fb, FT_ACK);
    assert_int_equal(decode_fb(&fb, &f, err), -1);
    /* LOGS records of the wrong shape */
    for (int bad = 0; bad < 4; bad++) {
        frame_begin(&fb, FT_LOGS);
        frame_put_key(&fb, "records");
        size_t at = frame_val_array_begin(&fb);
        size_t rec = frame_val_array_begin(&fb);
        frame_val_int(&fb, 1);
        frame_val_uint(&fb, bad == 0 ? 9 : 0);      /* source out of range */
        if (bad == 1)
            frame_val_uint(&fb, 5);                 /* request id neither str nor nil */
        else
            frame_val_nil(&fb);
        if (bad == 2)
            frame_val_bool(&fb, true);              /* message not a string */
        else
            frame_val_str(&fb, "m", 1);
        frame_val_array_end(&fb, rec, bad == 3 ? 3 : 4); /* wrong arity */
        frame_val_array_end(&fb, at, 1);
        assert_int_equal(decode_fb(&fb, &f, err), -1);
    }
    assert_int_equal(frame_type_dirs(FT_GO), FRAME_DIR_S2L);
    assert_int_equal(frame_type_dirs(999), 0);
    frame_buf_free(&fb);
}

static void test_writer_refuses_oversize(void **st)
{
    (void)st;
    struct frame_buf fb = {0};
    char *big = malloc(FRAME_MAX);
    memset(big, 'a', FRAME_MAX);
    frame_begin(&fb, FT_FATAL);
    frame_put_strn(&fb, "error", big, FRAME_MAX);
    assert_int_equal(frame_finish(&fb), -1);
    free(big);
    frame_buf_free(&fb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_registered),
        cmocka_unit_test(test_roundtrip_all_scalars),
        cmocka_unit_test(test_roundtrip_logs_and_reencode),
        cmocka_unit_test(test_length_prefix),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_header_checks),
        cmocka_unit_test(test_huge_declared_counts),
        cmocka_unit_test(test_field_types_and_presence),
        cmocka_unit_test(test_writer_refuses_oversize),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
