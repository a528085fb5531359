/* test_ik_decode.c — unit tests for the fake intake's body decoders
 * (deploy/intake/decode.c): content codings, limits, payload kinds, and the
 * agent-style quantile estimate. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <math.h>
#include <zlib.h>
#include <zstd.h>

#include "decode.h"
#include "sketch.pb-c.h"

static void test_codings_round_trip(void **state)
{
	(void)state;
	const char *text = "{\"series\":[{\"metric\":\"a.b\",\"points\":[]}]}";
	size_t tl = strlen(text);
	uint8_t z[256], d[256], *out;
	size_t zl, ol;
	const char *err = NULL;
	zl = ZSTD_compress(z, sizeof(z), text, tl, 3);
	assert_false(ZSTD_isError(zl));
	assert_int_equal(ik_decode_content("zstd", z, zl, &out, &ol, &err), 0);
	assert_int_equal(ol, tl);
	assert_memory_equal(out, text, tl);
	free(out);
	uLongf dl = sizeof(d);
	assert_int_equal(compress2(d, &dl, (const Bytef *)text, tl, 6), Z_OK);
	assert_int_equal(ik_decode_content("deflate", d, dl, &out, &ol, &err), 0);
	assert_memory_equal(out, text, tl);
	free(out);
	/* raw deflate (no zlib header) is accepted too */
	assert_int_equal(ik_decode_content("deflate", d + 2, dl - 6, &out, &ol, &err), 0);
	assert_memory_equal(out, text, tl);
	free(out);
	assert_int_equal(ik_decode_content(NULL, (const uint8_t *)text, tl, &out, &ol, &err), 0);
	assert_int_equal(ol, tl);
	free(out);
	assert_int_equal(ik_decode_content("identity", (const uint8_t *)"", 0, &out, &ol, &err), 0);
	assert_non_null(out);
	assert_int_equal(ol, 0);
	free(out);
}

static void test_codings_refused(void **state)
{
	(void)state;
	uint8_t *out = NULL;
	size_t ol;
	const char *err = NULL;
	assert_int_equal(ik_decode_content("br", (const uint8_t *)"x", 1, &out, &ol, &err), 415);
	assert_null(out);
	assert_int_equal(ik_decode_content("zstd", (const uint8_t *)"not zstd", 8, &out, &ol, &err), 400);
	assert_int_equal(ik_decode_content("gzip", (const uint8_t *)"not gzip", 8, &out, &ol, &err), 400);
	assert_non_null(err);
	/* a truncated stream is an error, not a short body */
	uint8_t z[64];
	size_t zl = ZSTD_compress(z, sizeof(z), "hello hello hello", 17, 3);
	assert_int_equal(ik_decode_content("zstd", z, zl - 3, &out, &ol, &err), 400);
	/* 65 MiB of zeros compresses to little but decodes past the limit */
	size_t big = IK_MAX_DECODED + 1024 * 1024;
	uint8_t *zeros = calloc(1, big);
	size_t cap = ZSTD_compressBound(big);
	uint8_t *bomb = malloc(cap);
	assert_non_null(zeros);
	assert_non_null(bomb);
	size_t bl = ZSTD_compress(bomb, cap, zeros, big, 1);
	assert_false(ZSTD_isError(bl));
	assert_int_equal(ik_decode_content("zstd", bomb, bl, &out, &ol, &err), 413);
	assert_null(out);
	/* exactly the limit is fine */
	bl = ZSTD_compress(bomb, cap, zeros, IK_MAX_DECODED, 1);
	assert_int_equal(ik_decode_content("zstd", bomb, bl, &out, &ol, &err), 0);
	assert_int_equal(ol, IK_MAX_DECODED);
	free(out);
	free(zeros);
	free(bomb);
}

static void test_quantile(void **state)
{
	(void)state;
	const double g = 1.015625;
	/* one value: the first bin is bounded below by min */
	int32_t k1[] = { 1338 };
	uint32_t n1[] = { 1 };
	assert_true(ik_sketch_quantile(k1, n1, 1, 1.0, 1.0, 0.5) == 1.0);
	/* two bins: rank round-half-even(0.5*(4-1)) = 2 passes the first bin
	 * (running count 2 is not > 2); in the second the weight is
	 * (4 - 2)/2 = 1, all on its lower bound */
	int32_t k2[] = { 1338, 1383 };
	uint32_t n2[] = { 2, 2 };
	double lo = pow(g, 45);
	assert_true(fabs(ik_sketch_quantile(k2, n2, 2, 1.0, 2.0, 0.5) - lo) < 1e-12);
	/* q = 0.9: rank round(2.7) = 3, weight (4 - 3)/2: halfway up the bin */
	assert_true(fabs(ik_sketch_quantile(k2, n2, 2, 1.0, 2.0, 0.9) - (lo * 0.5 + lo * g * 0.5)) < 1e-12);
	assert_true(ik_sketch_quantile(k2, n2, 2, 1.0, 2.0, 0.0) == 1.0);
	assert_true(ik_sketch_quantile(k2, n2, 2, 1.0, 2.0, 1.0) == 2.0);
	assert_true(ik_sketch_quantile(k2, n2, 0, 0, 0, 0.5) == 0.0);
	/* negative keys mirror positive ones */
	int32_t k3[] = { -1383, 1338 };
	uint32_t n3[] = { 1, 3 };
	double v = ik_sketch_quantile(k3, n3, 2, -2.0, 1.0, 0.9);
	assert_true(v >= 1.0 && v < 1.0 * g + 1e-12);
}

static void test_sketch_payload(void **state)
{
	(void)state;
	int32_t k[] = { 1338, 1383 };
	uint32_t n[] = { 3, 1 };
	Datadog__Agentpayload__SketchPayload__Sketch__Dogsketch ds = DATADOG__AGENTPAYLOAD__SKETCH_PAYLOAD__SKETCH__DOGSKETCH__INIT;
	ds.cnt = 4;
	ds.min = 1;
	ds.max = 2;
	ds.sum = 5;
	ds.avg = 1.25;
	ds.n_k = 2;
	ds.k = k;
	ds.n_n = 2;
	ds.n = n;
	Datadog__Agentpayload__SketchPayload__Sketch__Dogsketch *dsp = &ds;
	Datadog__Agentpayload__SketchPayload__Sketch sk = DATADOG__AGENTPAYLOAD__SKETCH_PAYLOAD__SKETCH__INIT;
	sk.metric = "m";
	sk.n_dogsketches = 1;
	sk.dogsketches = &dsp;
	Datadog__Agentpayload__SketchPayload__Sketch *skp = &sk;
	Datadog__Agentpayload__SketchPayload sp = DATADOG__AGENTPAYLOAD__SKETCH_PAYLOAD__INIT;
	sp.n_sketches = 1;
	sp.sketches = &skp;
	uint8_t buf[256];
	size_t len = datadog__agentpayload__sketch_payload__pack(&sp, buf);
	const char *err = NULL;
	json_t *j = ik_decode_body(IK_SKETCHES, buf, len, &err);
	assert_non_null(j);
	json_t *d = json_array_get(json_object_get(json_array_get(json_object_get(j, "sketches"), 0), "dogsketches"), 0);
	assert_int_equal(json_integer_value(json_object_get(d, "cnt")), 4);
	assert_int_equal(json_integer_value(json_array_get(json_object_get(d, "k"), 1)), 1383);
	/* p50: rank 2 of 4 sits in the first bin, bounded by min = 1 */
	double p50 = json_real_value(json_object_get(json_object_get(d, "q"), "0.5"));
	assert_true(p50 >= 1.0 && p50 < 1.015625);
	json_decref(j);
	/* k and n of different lengths are refused */
	ds.n_n = 1;
	len = datadog__agentpayload__sketch_payload__pack(&sp, buf);
	err = NULL;
	assert_null(ik_decode_body(IK_SKETCHES, buf, len, &err));
	assert_non_null(err);
}

static void test_msgpack_bounds(void **state)
{
	(void)state;
	const char *err = NULL;
	/* {"a":[1,-2,1.5,true,nil,"s"]} */
	const uint8_t ok[] = { 0x81, 0xa1, 'a', 0x96, 0x01, 0xfe, 0xcb, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0, 0xc3, 0xc0, 0xa1, 's' };
	json_t *j = ik_decode_body(IK_STATS, ok, sizeof(ok), &err);
	assert_non_null(j);
	char *t = json_dumps(j, JSON_COMPACT);
	assert_string_equal(t, "{\"a\":[1,-2,1.5,true,null,\"s\"]}");
	free(t);
	json_decref(j);
	/* an array claiming 4 billion items in 5 bytes */
	const uint8_t huge[] = { 0xdd, 0xff, 0xff, 0xff, 0xff };
	assert_null(ik_decode_body(IK_STATS, huge, sizeof(huge), &err));
	/* nesting deeper than the limit */
	uint8_t deep[200];
	memset(deep, 0x91, sizeof(deep));
	deep[sizeof(deep) - 1] = 0x01;
	assert_null(ik_decode_body(IK_STATS, deep, sizeof(deep), &err));
	/* trailing bytes */
	const uint8_t two[] = { 0x01, 0x02 };
	assert_null(ik_decode_body(IK_STATS, two, sizeof(two), &err));
	/* binary becomes base64 */
	const uint8_t bin[] = { 0xc4, 0x03, 'a', 'b', 'c' };
	j = ik_decode_body(IK_STATS, bin, sizeof(bin), &err);
	assert_string_equal(json_string_value(j), "YWJj");
	json_decref(j);
}

static void test_json_and_utf8(void **state)
{
	(void)state;
	const char *err = NULL;
	assert_true(json_is_null(ik_decode_body(IK_LOGS, (const uint8_t *)"", 0, &err)));
	assert_null(ik_decode_body(IK_LOGS, (const uint8_t *)"[{", 2, &err));
	json_t *s = ik_json_str("a\xff" "b", 3);
	assert_string_equal(json_string_value(s), "a?b");
	json_decref(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_codings_round_trip), cmocka_unit_test(test_codings_refused),
		cmocka_unit_test(test_quantile),           cmocka_unit_test(test_sketch_payload),
		cmocka_unit_test(test_msgpack_bounds),     cmocka_unit_test(test_json_and_utf8),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
