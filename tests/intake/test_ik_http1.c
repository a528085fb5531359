/* test_ik_http1.c — unit tests for the fake intake's HTTP/1.1 request parser
 * (deploy/intake/http1.c): framing, limits, and refusals with their status. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "http1.h"

/* feeds s in pieces of `step` bytes; returns the result and bytes used */
static enum ik_h1_result feed_steps(struct ik_h1 *p, const char *s, size_t len, size_t step, size_t *total)
{
	size_t off = 0;
	enum ik_h1_result r = IK_H1_MORE;
	while (off < len) {
		size_t n = len - off < step ? len - off : step, used;
		r = ik_h1_feed(p, (const uint8_t *)s + off, n, &used);
		off += used;
		if (r != IK_H1_MORE)
			break;
	}
	*total = off;
	return r;
}

static void test_get_byte_by_byte(void **state)
{
	(void)state;
	const char *req = "GET /api/v1/validate?x=1&y HTTP/1.1\r\nHost: a\r\nDD-API-KEY:  k1 \r\nX-Empty:\r\n\r\n";
	struct ik_h1 p;
	ik_h1_init(&p);
	size_t used;
	assert_int_equal(feed_steps(&p, req, strlen(req), 1, &used), IK_H1_DONE);
	assert_int_equal(used, strlen(req));
	assert_string_equal(p.method, "GET");
	assert_string_equal(p.path, "/api/v1/validate");
	assert_string_equal(p.query, "x=1&y");
	assert_string_equal(ik_h1_header(&p, "dd-api-key"), "k1");
	assert_string_equal(ik_h1_header(&p, "x-empty"), "");
	assert_null(ik_h1_header(&p, "DD-API-KEY"));
	assert_true(p.keep_alive);
	assert_int_equal(p.body_len, 0);
	ik_h1_free(&p);
}

static void test_pipelined_and_bodies(void **state)
{
	(void)state;
	const char *two = "POST /a HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello"
			  "POST /b HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
			  "3;ext=v\r\nabc\r\n2\r\nde\r\n0\r\nTrailer: x\r\n\r\n"
			  "GET /c HTTP/1.0\r\n\r\n";
	struct ik_h1 p;
	ik_h1_init(&p);
	size_t len = strlen(two), off = 0, used;
	for (size_t step = 1; step <= 7; step += 3) {
		ik_h1_reset(&p);
		off = 0;
		assert_int_equal(feed_steps(&p, two, len, step, &used), IK_H1_DONE);
		off += used;
		assert_string_equal(p.path, "/a");
		assert_int_equal(p.body_len, 5);
		assert_memory_equal(p.body, "hello", 5);
		ik_h1_reset(&p);
		assert_int_equal(feed_steps(&p, two + off, len - off, step, &used), IK_H1_DONE);
		off += used;
		assert_string_equal(p.path, "/b");
		assert_int_equal(p.body_len, 5);
		assert_memory_equal(p.body, "abcde", 5);
		ik_h1_reset(&p);
		assert_int_equal(feed_steps(&p, two + off, len - off, step, &used), IK_H1_DONE);
		off += used;
		assert_int_equal(off, len);
		assert_string_equal(p.path, "/c");
		assert_int_equal(p.minor, 0);
		assert_false(p.keep_alive); /* 1.0 closes unless asked */
	}
	ik_h1_free(&p);
}

static void test_expect_and_connection(void **state)
{
	(void)state;
	const char *req = "POST /a HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\nConnection: foo, Close\r\nContent-Length: 3\r\n\r\n";
	struct ik_h1 p;
	ik_h1_init(&p);
	size_t used;
	assert_int_equal(feed_steps(&p, req, strlen(req), 64, &used), IK_H1_MORE);
	assert_true(p.head_done);
	assert_true(p.expect_continue);
	assert_false(p.keep_alive);
	assert_int_equal(feed_steps(&p, "abc", 3, 64, &used), IK_H1_DONE);
	ik_h1_free(&p);
}

static void test_refusals(void **state)
{
	(void)state;
	static const struct { const char *in; int status; } cases[] = {
		{ "GARBAGE\r\n\r\n", 400 },
		{ "GET / HTTP/1.1\nHost: a\r\n\r\n", 400 },
		{ "GET / HTTP/1.1\r\nHost: a\rX\r\n\r\n", 400 },
		{ "GET / HTTP/1.1\r\n\r\n", 400 },
		{ "GET / HTTP/3.0\r\nHost: a\r\n\r\n", 505 },
		{ "GET / HTTP/1.1 \r\nHost: a\r\n\r\n", 400 },
		{ "GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 400 },
		{ "G(T / HTTP/1.1\r\nHost: a\r\n\r\n", 400 },
		{ "GET * HTTP/1.1\r\nHost: a\r\n\r\n", 400 },
		{ "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400 },
		{ "GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400 },
		{ "GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n", 400 },
		{ "GET / HTTP/1.1\r\nHost: a\r\nX: a\x01z\r\n\r\n", 400 },
		{ "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1x\r\n\r\n", 400 },
		{ "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 16777217\r\n\r\n", 413 },
		{ "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n", 400 },
		{ "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", 400 },
		{ "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501 },
		{ "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400 },
		{ "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nx\r\n", 400 },
		{ "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1000001\r\n", 413 },
		{ "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFF\r\n", 413 },
		{ "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nab\r\n", 400 },
		{ "POST / HTTP/1.1\r\nHost: a\r\nExpect: 200-ok\r\n\r\n", 417 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ik_h1 p;
		ik_h1_init(&p);
		size_t used;
		size_t len = strlen(cases[i].in);
		enum ik_h1_result r = feed_steps(&p, cases[i].in, len, 3, &used);
		if (r != IK_H1_ERROR || p.status != cases[i].status)
			fail_msg("case %zu (%.30s): result %d status %d, want %d", i, cases[i].in, r, p.status,
				 cases[i].status);
		assert_non_null(p.error);
		/* an errored parser stays errored */
		assert_int_equal(ik_h1_feed(&p, (const uint8_t *)"GET", 3, &used), IK_H1_ERROR);
		ik_h1_free(&p);
	}
}

static void test_nul_in_head(void **state)
{
	(void)state;
	static const char req[] = "GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n";
	struct ik_h1 p;
	ik_h1_init(&p);
	size_t used;
	assert_int_equal(feed_steps(&p, req, sizeof(req) - 1, 5, &used), IK_H1_ERROR);
	assert_int_equal(p.status, 400);
	ik_h1_free(&p);
}

static void test_head_limit(void **state)
{
	(void)state;
	size_t n = IK_H1_MAX_HEAD + 100;
	char *big = malloc(n);
	assert_non_null(big);
	memcpy(big, "GET / HTTP/1.1\r\nX: ", 19);
	memset(big + 19, 'a', n - 19);
	struct ik_h1 p;
	ik_h1_init(&p);
	size_t used;
	assert_int_equal(feed_steps(&p, big, n, 4096, &used), IK_H1_ERROR);
	assert_int_equal(p.status, 431);
	assert_true(used <= IK_H1_MAX_HEAD + 1);
	ik_h1_free(&p);
	free(big);
}

static void test_chunked_total_limit(void **state)
{
	(void)state;
	/* two chunks of 9 MiB each pass one by one but not together */
	struct ik_h1 p;
	ik_h1_init(&p);
	size_t used;
	const char *head = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n900000\r\n";
	assert_int_equal(feed_steps(&p, head, strlen(head), 4096, &used), IK_H1_MORE);
	size_t chunk = 0x900000;
	char *data = calloc(1, chunk);
	assert_non_null(data);
	assert_int_equal(feed_steps(&p, data, chunk, 65536, &used), IK_H1_MORE);
	assert_int_equal(feed_steps(&p, "\r\n900000\r\n", 10, 64, &used), IK_H1_ERROR);
	assert_int_equal(p.status, 413);
	free(data);
	ik_h1_free(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_get_byte_by_byte),     cmocka_unit_test(test_pipelined_and_bodies),
		cmocka_unit_test(test_expect_and_connection), cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_nul_in_head),          cmocka_unit_test(test_head_limit),           cmocka_unit_test(test_chunked_total_limit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
