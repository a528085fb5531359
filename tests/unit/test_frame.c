/* test_frame.c — common/frame.c: every frame type of frames.def round-trips
 * (encode -> decode -> equal struct), the wire header is where the
 * supervisor stamps it, and every class of malformed input is refused
 * without allocating from declared sizes. Raw malformed frames are built
 * with msgpack-c's packer (test-only use) or by hand. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <math.h>

#include <cmocka.h>
#include <msgpack.h>

#include "frame.h"

/* ---- helpers ------------------------------------------------------------- */

/* Stamp seq into an encoded frame, check its prefix, decode it. */
static int decode_fb(struct frame_buf *fb, uint64_t seq, struct frame *f, char *err)
{
    assert_false(fb->err);
    frame_set_seq(fb->p, seq);
    uint32_t n = frame_hdr_len(fb->p);
    assert_int_equal(n, fb->len - FRAME_HDR_LEN);
    return frame_decode(fb->p + FRAME_HDR_LEN, n, f, err, FRAME_ERR_MAX);
}

static int dec(const void *p, size_t n, char *err)
{
    struct frame f;
    int rc = frame_decode(p, n, &f, err, FRAME_ERR_MAX);
    if (rc == 0)
        frame_free(&f);
    return rc;
}

/* A frame written field by field with msgpack-c, for shapes the generated
 * encoders cannot produce. */
struct raw {
    msgpack_sbuffer sb;
    msgpack_packer pk;
};

static void raw_begin(struct raw *r, uint64_t version, uint64_t type, uint64_t seq, uint32_t nkeys)
{
    msgpack_sbuffer_init(&r->sb);
    msgpack_packer_init(&r->pk, &r->sb, msgpack_sbuffer_write);
    msgpack_pack_array(&r->pk, 4);
    msgpack_pack_uint64(&r->pk, version);
    msgpack_pack_uint64(&r->pk, type);
    msgpack_pack_uint64(&r->pk, seq);
    msgpack_pack_map(&r->pk, nkeys);
}

static void raw_key(struct raw *r, const char *k)
{
    msgpack_pack_str_with_body(&r->pk, k, strlen(k));
}

static void raw_str(struct raw *r, const char *k, const char *v)
{
    raw_key(r, k);
    msgpack_pack_str_with_body(&r->pk, v, strlen(v));
}

static void raw_uint(struct raw *r, const char *k, uint64_t v)
{
    raw_key(r, k);
    msgpack_pack_uint64(&r->pk, v);
}

static int raw_dec(struct raw *r, char *err)
{
    int rc = dec(r->sb.data, r->sb.size, err);
    msgpack_sbuffer_destroy(&r->sb);
    return rc;
}

/* ---- round trips ----------------------------------------------------------- */

static const struct ft_log_record recs[] = {
    {.time_ms = 1700000000001, .source = LOG_SRC_FUNCTION, .request_id = "r-1",
     .message = "hello \"world\"\n", .message_len = 14},
    {.time_ms = -5, .source = LOG_SRC_EXTENSION, .request_id = NULL, .message = "", .message_len = 0},
    {.time_ms = 0, .source = LOG_SRC_PLATFORM, .request_id = "", .message = "nul\0inside",
     .message_len = 10},
};

/* One full and one minimal value of every frame type. Adding a frame to
 * frames.def without a case here fails test_every_type_covered. */
struct rt_case {
    enum frame_type type;
    struct frame v; /* type and u.<name> */
};

#define CASE(T, name, ...) {.type = FT_##T, .v = {.type = FT_##T, .u.name = {__VA_ARGS__}}}
static const struct rt_case cases[] = {
    CASE(REGISTERED, registered, .ext_id = "ext-1", .fn_name = "fn", .fn_version = "$LATEST",
         .account_id = "123456789012", .t_register_us = 123456),
    CASE(REGISTERED, registered, .ext_id = "", .fn_name = "f", .fn_version = "7", .t_register_us = 0),
    CASE(SUBSCRIBED, subscribed, .status = -1, .t_subscribe_us = UINT64_MAX),
    CASE(SUBSCRIBED, subscribed, .status = 200, .t_subscribe_us = 1),
    CASE(NEXT_WAIT, next_wait, .t_us = 42),
    CASE(INVOKE, invoke, .request_id = "6d68ca91-49c9", .deadline_ms = 1700000000123,
         .arn = "arn:aws:lambda:us-east-1:123456789012:function:f"),
    CASE(INVOKE, invoke, .request_id = "r", .deadline_ms = INT64_MIN, .arn = ""),
    CASE(SHUTDOWN, shutdown, .reason = "spindown", .deadline_ms = 1700000002000),
    CASE(FATAL, fatal, .error = "register refused: 403", .status = 403, .has_status = true),
    CASE(FATAL, fatal, .error = "x"),
    CASE(PLATFORM, platform, .event = PE_REPORT, .time_ms = 1700000000000, .request_id = "r1",
         .status = "timeout", .error_type = "Sandbox.Timedout", .is_error = true, .has_is_error = true,
         .version = "$LATEST", .runtime_version = "python:3.12", .runtime_version_arn = "arn:rv",
         .duration_ms = 152.456, .has_duration_ms = true, .runtime_ms = 140.0,
         .has_runtime_ms = true, .billed_ms = 153, .has_billed_ms = true, .memory_mb = 128,
         .has_memory_mb = true, .max_memory_mb = 69, .has_max_memory_mb = true, .init_ms = 210.71,
         .has_init_ms = true, .produced_bytes = 16, .has_produced_bytes = true, .reason = "BufferFull", .dropped_records = 3,
         .has_dropped_records = true, .dropped_bytes = -1, .has_dropped_bytes = true),
    CASE(PLATFORM, platform, .event = PE_LOGS_DROPPED, .time_ms = -1),
    CASE(PLATFORM, platform, .event = PE_RUNTIME_DONE, .time_ms = 5, .request_id = "r2",
         .duration_ms = 9.5, .has_duration_ms = true, .enh_done = true, .has_enh_done = true),
    CASE(PLATFORM, platform, .event = PE_START, .time_ms = 0, .is_error = false, .has_is_error = true),
    CASE(LOGS, logs, .records = recs, .n_records = 3),
    CASE(PRESSURE, pressure, .full = true),
    CASE(PRESSURE, pressure, .full = false),
    CASE(INVOCATION, invocation, .n = 70, .request_id = "6d68ca91-49c9", .time_ms = 1700000000123),
    CASE(INVOCATION, invocation, .n = 71, .request_id = "r", .time_ms = 1, .from_start = true,
         .has_from_start = true, .enh_done = true, .has_enh_done = true),
    CASE(TRACES, traces, .pb = (const uint8_t *)"\x0a\x00\x32\x02\x08\x01", .pb_len = 6, .spans = 3,
         .lambda_rid = "6d68ca91-49c9", .lang = "nodejs"),
    CASE(TRACES, traces, .pb = (const uint8_t *)"", .pb_len = 0, .spans = 0),
    CASE(TRACE_STATS, trace_stats, .body = (const uint8_t *)"\x81\xa1k\x00", .body_len = 4),
    CASE(REFUSED, refused, .reason = 2, .count = 1),
    CASE(REFUSED, refused, .reason = 0, .count = UINT64_MAX),
    CASE(LOGS, logs, .records = NULL, .n_records = 0),
    CASE(GO, go, 0),
    CASE(CONTEXT, context, .fn_name = "fn", .fn_version = "$LATEST", .account_id = "1",
         .arn = "arn:x", .request_id = "r", .cold_start = false, .has_cold_start = true),
    CASE(CONTEXT, context, .fn_name = "", .fn_version = ""),
    CASE(FLUSH, flush, .flush_id = 9, .budget_ms = 1500, .final = true, .has_final = true),
    CASE(FLUSH, flush, .flush_id = 1, .budget_ms = 0),
    CASE(READY, ready, .t_start_us = 1, .t_tls_us = 2, .t_ready_us = 3),
    CASE(ACK, ack, .upto = UINT64_MAX),
    CASE(ACK, ack, .upto = 7, .enh_upto = 12, .has_enh_upto = true),
    CASE(ACK, ack, .upto = 0, .enh_upto = 0, .has_enh_upto = true),
    CASE(FLUSHED, flushed, .flush_id = 4, .ok = true, .sent = 3, .failed = 1, .dropped = 2,
         .ms = 17),
    /* bytes with NULs and every value survive; an empty one too */
    CASE(DSD_STATE, dsd_state, .payloads = (const uint8_t *)"\x01\x00\x00\x00\x02\xff\x00",
         .payloads_len = 7),
    CASE(DSD_STATE, dsd_state, .payloads = (const uint8_t *)"", .payloads_len = 0),
};
#undef CASE

static bool frame_equal(const struct frame *a, const struct frame *b)
{
    if (a->type != b->type)
        return false;
    switch (a->type) {
#define FRAME(NAME, name, num, dirs, FIELDS)                                                       \
    case FT_##NAME: return frame_equal_##name(&a->u.name, &b->u.name);
#include "frames.def"
#undef FRAME
    default: return false;
    }
}

static void test_roundtrip_every_type(void **st)
{
    (void)st;
    char err[FRAME_ERR_MAX];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct frame *want = &cases[i].v;
        struct frame_buf fb = {0}, again = {0};
        struct frame got, got2;
        assert_int_equal(frame_encode(&fb, want), 0);
        /* the header sits where the sender stamps it */
        assert_int_equal(frame_bytes_type(fb.p, fb.len), want->type);
        assert_int_equal(fb.p[4], 0x94);
        assert_int_equal(fb.p[5], FRAME_VERSION);
        assert_int_equal(fb.p[8], 0xcf);
        if (decode_fb(&fb, 1000 + i, &got, err) != 0)
            fail_msg("case %zu (%s): %s", i, frame_type_name(want->type), err);
        assert_int_equal(got.type, want->type);
        assert_int_equal(got.seq, 1000 + i);
        assert_int_equal(got.version, FRAME_VERSION);
        if (!frame_equal(&got, want))
            fail_msg("case %zu (%s): decoded frame differs", i, frame_type_name(want->type));
        /* what the supervisor spools (decoded, encoded again) is the same frame */
        assert_int_equal(frame_encode(&again, &got), 0);
        assert_int_equal(decode_fb(&again, 5, &got2, err), 0);
        assert_true(frame_equal(&got2, want));
        assert_int_equal(again.len, fb.len);
        /* the per-type decoder takes its own type and refuses others */
        frame_free(&got2);
        assert_int_equal(frame_decode(again.p + 4, again.len - 4, &got2, err, sizeof err), 0);
        frame_free(&got2);
        if (want->type == FT_ACK) {
            assert_int_equal(frame_decode_ack(again.p + 4, again.len - 4, &got2, err, sizeof err), 0);
            frame_free(&got2);
        } else {
            assert_int_equal(frame_decode_ack(again.p + 4, again.len - 4, &got2, err, sizeof err), -1);
            assert_non_null(strstr(err, "expected ACK"));
        }
        frame_free(&got);
        frame_buf_free(&fb);
        frame_buf_free(&again);
    }
}

static void test_every_type_covered(void **st)
{
    (void)st;
    static const uint32_t all[] = {
#define FRAME(NAME, name, num, dirs, FIELDS) FT_##NAME,
#include "frames.def"
#undef FRAME
    };
    for (size_t t = 0; t < sizeof all / sizeof all[0]; t++) {
        bool seen = false;
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
            seen |= cases[i].type == all[t];
        if (!seen)
            fail_msg("frame %s has no round-trip case", frame_type_name(all[t]));
        assert_string_not_equal(frame_type_name(all[t]), "UNKNOWN");
        assert_int_not_equal(frame_type_dirs(all[t]), 0);
    }
    /* numbers are part of the protocol: they never change */
    assert_int_equal(FT_REGISTERED, 1);
    assert_int_equal(FT_PLATFORM, 7);
    assert_int_equal(FT_LOGS, 8);
    assert_int_equal(FT_GO, 16);
    assert_int_equal(FT_CONTEXT, 32);
    assert_int_equal(FT_FLUSHED, 50);
    assert_int_equal(FT_TRACES, 51);
    assert_int_equal(FT_TRACE_STATS, 52);
    assert_int_equal(frame_type_dirs(FT_TRACES), FRAME_DIR_F2S | FRAME_DIR_S2F);
    assert_int_equal(FT_DSD_STATE, 56);
    assert_int_equal(frame_type_dirs(FT_DSD_STATE), FRAME_DIR_F2S | FRAME_DIR_S2F);
    assert_int_equal(FT_REFUSED, 57);
    assert_int_equal(frame_type_dirs(FT_REFUSED), FRAME_DIR_L2S | FRAME_DIR_F2S);
    assert_int_equal(frame_type_dirs(FT_PLATFORM), FRAME_DIR_L2S | FRAME_DIR_S2F);
    assert_int_equal(frame_type_dirs(FT_GO), FRAME_DIR_S2L);
    assert_int_equal(frame_type_dirs(999), 0);
    assert_string_equal(frame_type_name(FT_INVOKE), "INVOKE");
    assert_string_equal(frame_type_name(999), "UNKNOWN");
    /* event and source names are Lambda's */
    enum platform_event e;
    assert_true(frame_event_from("runtimeDone", 11, &e));
    assert_int_equal(e, PE_RUNTIME_DONE);
    assert_false(frame_event_from("runtimeDon", 10, &e));
    assert_string_equal(frame_event_name(PE_LOGS_DROPPED), "logsDropped");
    assert_string_equal(frame_event_name(PE_COUNT), "unknown");
    assert_string_equal(frame_source_name(LOG_SRC_PLATFORM), "platform");
    assert_int_equal(LOG_SRC_FUNCTION, 0);
    assert_int_equal(LOG_SRC_EXTENSION, 1);
}

/* The equality the round trip relies on does see a difference. */
static void test_equal_sees_differences(void **st)
{
    (void)st;
    struct ft_platform a = cases[10].v.u.platform, b = a;
    assert_true(frame_equal_platform(&a, &b));
    b.duration_ms += 0.001;
    assert_false(frame_equal_platform(&a, &b));
    b = a;
    b.has_dropped_bytes = false;
    assert_false(frame_equal_platform(&a, &b));
    b = a;
    b.request_id = "r2";
    assert_false(frame_equal_platform(&a, &b));
    b = a;
    b.version = NULL;
    assert_false(frame_equal_platform(&a, &b));
    struct ft_log_record r2[3];
    memcpy(r2, recs, sizeof r2);
    r2[2].message = "nul\0insidf";
    struct ft_logs la = {.records = recs, .n_records = 3}, lb = {.records = r2, .n_records = 3};
    assert_false(frame_equal_logs(&la, &lb));
    lb.n_records = 2;
    la.n_records = 2;
    assert_true(frame_equal_logs(&la, &lb));
}

/* Optional fields left out are absent after decoding, not zero-valued. */
static void test_optional_absent(void **st)
{
    (void)st;
    struct frame_buf fb = {0};
    struct frame f;
    char err[FRAME_ERR_MAX];
    assert_int_equal(frame_encode_platform(&fb, &(struct ft_platform){.event = PE_START, .time_ms = 5}), 0);
    assert_int_equal(decode_fb(&fb, 1, &f, err), 0);
    assert_int_equal(f.u.platform.event, PE_START);
    assert_null(f.u.platform.request_id);
    assert_false(f.u.platform.has_duration_ms);
    assert_false(f.u.platform.has_is_error);
    frame_free(&f);
    /* an unknown key is ignored (forward compatible) */
    struct raw r;
    raw_begin(&r, FRAME_VERSION, FT_ACK, 1, 2);
    raw_uint(&r, "upto", 3);
    raw_str(&r, "from_the_future", "x");
    assert_int_equal(raw_dec(&r, err), 0);
    frame_buf_free(&fb);
}

/* ---- malformed input --------------------------------------------------- */

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
    assert_int_equal(dec("", 0, err), -1);
    assert_int_equal(frame_bytes_type((const uint8_t *)"\0\0\0\1\x94", 5), 0);
}

static void test_truncated(void **st)
{
    (void)st;
    struct frame_buf fb = {0};
    char err[FRAME_ERR_MAX];
    const struct ft_invoke m = {.request_id = "abc", .deadline_ms = 1700000000123,
                                .arn = "arn:aws:lambda:x"};
    assert_int_equal(frame_encode_invoke(&fb, &m), 0);
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
    /* [1, 49 ACK, seq 1, {"upto": 3}] in the smallest encodings is valid */
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
    assert_non_null(strstr(err, "seq 0"));
    memcpy(v2, ok, sizeof ok);
    v2[0] = 0x93; /* 3-element array: body becomes trailing */
    assert_int_equal(dec(v2, sizeof v2, err), -1);
    uint8_t notarr[] = {0x81, 0xa1, 'a', 0x01};
    assert_int_equal(dec(notarr, sizeof notarr, err), -1);
    uint8_t bodyarr[] = {0x94, 0x01, 0x31, 0x01, 0x90}; /* body is an array */
    assert_int_equal(dec(bodyarr, sizeof bodyarr, err), -1);
    uint8_t typestr[] = {0x94, 0x01, 0xa1, '1', 0x01, 0x80}; /* type is a string */
    assert_int_equal(dec(typestr, sizeof typestr, err), -1);
    uint8_t negseq[] = {0x94, 0x01, 0x31, 0xff, 0x81, 0xa4, 'u', 'p', 't', 'o', 0x03};
    assert_int_equal(dec(negseq, sizeof negseq, err), -1);
    uint8_t intkey[] = {0x94, 0x01, 0x31, 0x01, 0x81, 0x01, 0x03}; /* map key not str */
    assert_int_equal(dec(intkey, sizeof intkey, err), -1);
    assert_non_null(strstr(err, "key"));
    uint8_t ext[] = {0x94, 0x01, 0x31, 0x01, 0x81, 0xa4, 'u', 'p', 't', 'o', 0xd4, 0x01, 0x00};
    assert_int_equal(dec(ext, sizeof ext, err), -1);
    uint8_t c1[] = {0x94, 0x01, 0x31, 0x01, 0x81, 0xa4, 'u', 'p', 't', 'o', 0xc1};
    assert_int_equal(dec(c1, sizeof c1, err), -1);
    uint8_t dup[] = {0x94, 0x01, 0x31, 0x01, 0x82, 0xa4, 'u', 'p', 't', 'o', 0x03,
                     0xa4, 'u', 'p', 't', 'o', 0x04};
    assert_int_equal(dec(dup, sizeof dup, err), -1);
    assert_non_null(strstr(err, "duplicate"));
    /* a duplicate unknown key is as ambiguous */
    struct raw r;
    raw_begin(&r, FRAME_VERSION, FT_ACK, 1, 3);
    raw_uint(&r, "upto", 3);
    raw_str(&r, "zz", "a");
    raw_str(&r, "zz", "b");
    assert_int_equal(raw_dec(&r, err), -1);
    assert_non_null(strstr(err, "duplicate"));
    /* empty keys (msgpack-c gives them no pointer) compare like any other */
    raw_begin(&r, FRAME_VERSION, FT_ACK, 1, 3);
    raw_str(&r, "", "a");
    raw_uint(&r, "upto", 3);
    raw_str(&r, "", "");
    assert_int_equal(raw_dec(&r, err), -1);
    assert_non_null(strstr(err, "duplicate"));
    raw_begin(&r, FRAME_VERSION, FT_ACK, 1, 2);
    raw_str(&r, "", "");
    raw_uint(&r, "upto", 3);
    assert_int_equal(raw_dec(&r, err), 0);
    /* more body keys than any frame may have */
    raw_begin(&r, FRAME_VERSION, FT_ACK, 1, FRAME_BODY_KEYS_MAX + 1);
    raw_uint(&r, "upto", 3);
    for (unsigned i = 0; i < FRAME_BODY_KEYS_MAX; i++) {
        char k[16];
        snprintf(k, sizeof k, "k%u", i);
        raw_uint(&r, k, i);
    }
    assert_int_equal(raw_dec(&r, err), -1);
    assert_non_null(strstr(err, "body keys"));
}

static void test_huge_declared_counts(void **st)
{
    (void)st;
    char err[FRAME_ERR_MAX];
    /* each is a handful of bytes declaring gigabytes: refused before
     * msgpack-c sees them (under ASan an allocation of that size aborts) */
    uint8_t arr32[] = {0xdd, 0xff, 0xff, 0xff, 0xff};
    uint8_t map32[] = {0xdf, 0x7f, 0xff, 0xff, 0xff, 0x00};
    uint8_t str32[] = {0x94, 0x01, 0x31, 0x01, 0x81, 0xdb, 0xff, 0xff, 0xff, 0xf0, 'u'};
    uint8_t bin32[] = {0x94, 0x01, 0x31, 0x01, 0x81, 0xa1, 'x', 0xc6, 0xff, 0xff, 0xff, 0xff};
    uint8_t inner[] = {0x94, 0x01, 0x31, 0x01, 0xdf, 0xff, 0xff, 0xff, 0xff};
    uint8_t arr16[] = {0x94, 0x01, 0x08, 0x01, 0x81, 0xa7, 'r', 'e', 'c', 'o', 'r', 'd', 's',
                       0xdc, 0xff, 0xff};
    uint8_t ext32[] = {0x94, 0x01, 0x31, 0x01, 0x81, 0xa1, 'x', 0xc9, 0xff, 0xff, 0xff, 0xff, 0x01};
    assert_int_equal(dec(arr32, sizeof arr32, err), -1);
    assert_non_null(strstr(err, "declares"));
    assert_int_equal(dec(map32, sizeof map32, err), -1);
    assert_non_null(strstr(err, "declares"));
    assert_int_equal(dec(str32, sizeof str32, err), -1);
    assert_int_equal(dec(bin32, sizeof bin32, err), -1);
    assert_int_equal(dec(inner, sizeof inner, err), -1);
    assert_int_equal(dec(arr16, sizeof arr16, err), -1);
    assert_int_equal(dec(ext32, sizeof ext32, err), -1);
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
    /* more values than FRAME_NODES_MAX, each a real byte within FRAME_MAX */
    size_t n = FRAME_NODES_MAX + 1;
    uint8_t *many = malloc(16 + n);
    k = 0;
    many[k++] = 0x94; many[k++] = 0x01; many[k++] = 0x31; many[k++] = 0x01;
    many[k++] = 0x81; many[k++] = 0xa1; many[k++] = 'x';
    many[k++] = 0xdd;
    many[k++] = (uint8_t)(n >> 24); many[k++] = (uint8_t)(n >> 16);
    many[k++] = (uint8_t)(n >> 8); many[k++] = (uint8_t)n;
    memset(many + k, 0xc0, n);
    assert_int_equal(dec(many, k + n, err), -1);
    assert_non_null(strstr(err, "more than"));
    free(many);
}

static void test_field_types_and_presence(void **st)
{
    (void)st;
    char err[FRAME_ERR_MAX];
    struct raw r;
    /* required field missing */
    raw_begin(&r, FRAME_VERSION, FT_REGISTERED, 1, 3);
    raw_str(&r, "ext_id", "x");
    raw_str(&r, "fn_name", "f");
    raw_uint(&r, "t_register_us", 1);
    assert_int_equal(raw_dec(&r, err), -1);
    assert_non_null(strstr(err, "missing field fn_version"));
    /* a listed field of the wrong type */
    raw_begin(&r, FRAME_VERSION, FT_REGISTERED, 1, 4);
    raw_uint(&r, "ext_id", 3);
    raw_str(&r, "fn_name", "f");
    raw_str(&r, "fn_version", "1");
    raw_uint(&r, "t_register_us", 1);
    assert_int_equal(raw_dec(&r, err), -1);
    assert_non_null(strstr(err, "ext_id has the wrong type"));
    /* uint field given a negative int */
    raw_begin(&r, FRAME_VERSION, FT_ACK, 1, 1);
    raw_key(&r, "upto");
    msgpack_pack_int64(&r.pk, -1);
    assert_int_equal(raw_dec(&r, err), -1);
    /* int field given a uint beyond int64 */
    raw_begin(&r, FRAME_VERSION, FT_SHUTDOWN, 1, 2);
    raw_str(&r, "reason", "x");
    raw_uint(&r, "deadline_ms", (uint64_t)INT64_MAX + 1);
    assert_int_equal(raw_dec(&r, err), -1);
    /* a float field takes integers too */
    raw_begin(&r, FRAME_VERSION, FT_PLATFORM, 1, 3);
    raw_str(&r, "event", "report");
    raw_uint(&r, "time_ms", 1);
    raw_uint(&r, "duration_ms", 12);
    assert_int_equal(raw_dec(&r, err), 0);
    /* NaN and infinities are refused, whatever their width */
    raw_begin(&r, FRAME_VERSION, FT_PLATFORM, 1, 3);
    raw_str(&r, "event", "report");
    raw_uint(&r, "time_ms", 1);
    raw_key(&r, "duration_ms");
    msgpack_pack_double(&r.pk, NAN);
    assert_int_equal(raw_dec(&r, err), -1);
    raw_begin(&r, FRAME_VERSION, FT_PLATFORM, 1, 3);
    raw_str(&r, "event", "report");
    raw_uint(&r, "time_ms", 1);
    raw_key(&r, "init_ms");
    msgpack_pack_float(&r.pk, -INFINITY);
    assert_int_equal(raw_dec(&r, err), -1);
    /* an event name Lambda does not have */
    raw_begin(&r, FRAME_VERSION, FT_PLATFORM, 1, 2);
    raw_str(&r, "event", "platform.start");
    raw_uint(&r, "time_ms", 1);
    assert_int_equal(raw_dec(&r, err), -1);
    assert_non_null(strstr(err, "event"));
    /* a string field holding a NUL byte */
    raw_begin(&r, FRAME_VERSION, FT_FATAL, 1, 1);
    raw_key(&r, "error");
    msgpack_pack_str_with_body(&r.pk, "a\0b", 3);
    assert_int_equal(raw_dec(&r, err), -1);
    /* optional field of the wrong type */
    raw_begin(&r, FRAME_VERSION, FT_FLUSH, 1, 3);
    raw_uint(&r, "flush_id", 1);
    raw_uint(&r, "budget_ms", 10);
    raw_uint(&r, "final", 1);
    assert_int_equal(raw_dec(&r, err), -1);
    assert_non_null(strstr(err, "final"));
    /* empty body is fine for GO, not for ACK */
    raw_begin(&r, FRAME_VERSION, FT_GO, 1, 0);
    assert_int_equal(raw_dec(&r, err), 0);
    raw_begin(&r, FRAME_VERSION, FT_ACK, 1, 0);
    assert_int_equal(raw_dec(&r, err), -1);
    /* LOGS records of the wrong shape */
    for (int bad = 0; bad < 6; bad++) {
        raw_begin(&r, FRAME_VERSION, FT_LOGS, 1, 1);
        raw_key(&r, "records");
        msgpack_pack_array(&r.pk, 1);
        if (bad == 5) {
            msgpack_pack_str_with_body(&r.pk, "rec", 3); /* a record that is not an array */
        } else {
            msgpack_pack_array(&r.pk, bad == 3 ? 3 : 4); /* wrong arity */
            if (bad == 4)
                msgpack_pack_str_with_body(&r.pk, "t", 1); /* time not an int */
            else
                msgpack_pack_int64(&r.pk, 1);
            msgpack_pack_uint64(&r.pk, bad == 0 ? 3 : 0); /* source out of range */
            if (bad == 1)
                msgpack_pack_uint64(&r.pk, 5); /* request id neither str nor nil */
            else
                msgpack_pack_nil(&r.pk);
            if (bad == 2)
                msgpack_pack_true(&r.pk); /* message not a string */
            else if (bad != 3)
                msgpack_pack_str_with_body(&r.pk, "m", 1);
        }
        if (raw_dec(&r, err) != -1)
            fail_msg("bad record %d accepted", bad);
        assert_non_null(strstr(err, "records"));
    }
}

static void test_encoder_refuses(void **st)
{
    (void)st;
    struct frame_buf fb = {0};
    /* over FRAME_MAX */
    char *big = malloc(FRAME_MAX + 1);
    memset(big, 'a', FRAME_MAX);
    big[FRAME_MAX] = '\0';
    assert_int_equal(frame_encode_fatal(&fb, &(struct ft_fatal){.error = big}), -1);
    assert_true(fb.err);
    free(big);
    /* the same buffer is usable again */
    assert_int_equal(frame_encode_go(&fb, &(struct ft_go){0}), 0);
    assert_false(fb.err);
    assert_int_equal(frame_bytes_type(fb.p, fb.len), FT_GO);
    /* values the wire cannot carry */
    assert_int_equal(frame_encode_platform(&fb, &(struct ft_platform){.event = PE_REPORT,
                                                                      .duration_ms = NAN,
                                                                      .has_duration_ms = true}),
                     -1);
    assert_int_equal(frame_encode_platform(&fb, &(struct ft_platform){.event = PE_COUNT}), -1);
    struct ft_log_record bad = {.source = (enum log_source)7, .message = "m", .message_len = 1};
    assert_int_equal(frame_encode_logs(&fb, &(struct ft_logs){.records = &bad, .n_records = 1}), -1);
    struct frame unknown = {.type = 99};
    assert_int_equal(frame_encode(&fb, &unknown), -1);
    frame_buf_free(&fb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_every_type),
        cmocka_unit_test(test_every_type_covered),
        cmocka_unit_test(test_equal_sees_differences),
        cmocka_unit_test(test_optional_absent),
        cmocka_unit_test(test_length_prefix),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_header_checks),
        cmocka_unit_test(test_huge_declared_counts),
        cmocka_unit_test(test_field_types_and_presence),
        cmocka_unit_test(test_encoder_refuses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
