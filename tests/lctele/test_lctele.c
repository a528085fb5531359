/* test_lctele.c — the telemetry listener's pieces: the HTTP request parser
 * (whole, byte by byte, pipelined, every refusal), batch -> frames (order,
 * fields, splitting, logs off, unreadable batches) and peer's drained
 * notification that gates the 200. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>

#include "frame.h"
#include "lc_listener.h"
#include "lc_req.h"
#include "lc_subscribe.h"
#include "peer.h"
#include "telemetry.h"

/* ---- lc_req ---------------------------------------------------------------- */

static int feed_all(struct lc_req *r, const char *s, size_t len, size_t *consumed)
{
    size_t off = 0, used;
    int rc;
    do {
        rc = lc_req_feed(r, s + off, len - off, &used);
        off += used;
    } while (rc == LC_REQ_HEADERS || (rc == LC_REQ_MORE && off < len));
    if (consumed)
        *consumed = off;
    return rc;
}

static void test_req_content_length(void **state)
{
    (void)state;
    const char *s = "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello";
    struct lc_req r;
    lc_req_init(&r, 100);
    size_t used;
    assert_int_equal(feed_all(&r, s, strlen(s), &used), LC_REQ_DONE);
    assert_int_equal(used, strlen(s));
    assert_string_equal(r.method, "POST");
    assert_true(r.keep_alive);
    assert_int_equal(r.body_len, 5);
    assert_memory_equal(r.body, "hello", 5);
    lc_req_free(&r);
}

/* Fed one byte at a time, the result is the same. */
static void test_req_bytewise_chunked(void **state)
{
    (void)state;
    const char *s = "POST /x HTTP/1.1\r\ntransfer-encoding: Chunked\r\n\r\n"
                    "3;ext=1\r\nabc\r\nA\r\n0123456789\r\n0\r\nTrailer: y\r\n\r\n";
    struct lc_req r;
    lc_req_init(&r, 100);
    int rc = LC_REQ_MORE;
    for (size_t i = 0; i < strlen(s); i++) {
        size_t used;
        rc = lc_req_feed(&r, s + i, 1, &used);
        if (rc == LC_REQ_HEADERS && used == 0)
            rc = lc_req_feed(&r, s + i, 1, &used);
        assert_int_equal(used, 1);
        if (i + 1 < strlen(s))
            assert_true(rc == LC_REQ_MORE || rc == LC_REQ_HEADERS);
    }
    assert_int_equal(rc, LC_REQ_DONE);
    assert_int_equal(r.body_len, 13);
    assert_string_equal(r.body, "abc0123456789");
    lc_req_free(&r);
}

static void test_req_pipelined(void **state)
{
    (void)state;
    const char *s = "POST / HTTP/1.1\r\nContent-Length: 2\r\n\r\n[]"
                    "POST / HTTP/1.0\r\nContent-Length: 1\r\n\r\nx";
    struct lc_req r;
    lc_req_init(&r, 100);
    size_t used;
    assert_int_equal(feed_all(&r, s, strlen(s), &used), LC_REQ_DONE);
    assert_string_equal(r.body, "[]");
    size_t first = used;
    lc_req_reset(&r);
    assert_int_equal(feed_all(&r, s + first, strlen(s) - first, &used), LC_REQ_DONE);
    assert_int_equal(first + used, strlen(s));
    assert_string_equal(r.body, "x");
    assert_false(r.keep_alive); /* HTTP/1.0 without keep-alive */
    size_t n;
    char *b = lc_req_take_body(&r, &n);
    assert_int_equal(n, 1);
    free(b);
    assert_null(r.body);
    lc_req_free(&r);
}

static void test_req_flags(void **state)
{
    (void)state;
    const char *s = "PUT / HTTP/1.1\r\nConnection: foo, Close\r\nExpect: 100-continue\r\n\r\n";
    struct lc_req r;
    lc_req_init(&r, 100);
    size_t used;
    assert_int_equal(lc_req_feed(&r, s, strlen(s), &used), LC_REQ_HEADERS);
    assert_true(r.want_continue);
    assert_false(r.keep_alive);
    assert_int_equal(lc_req_feed(&r, "", 0, &used), LC_REQ_DONE);
    assert_int_equal(r.body_len, 0);
    lc_req_free(&r);
}

static void expect_error(const char *s, size_t body_max, int status)
{
    struct lc_req r;
    lc_req_init(&r, body_max);
    assert_int_equal(feed_all(&r, s, strlen(s), NULL), LC_REQ_ERROR);
    assert_int_equal(r.status, status);
    assert_non_null(r.error);
    /* a broken stream stays broken */
    size_t used;
    assert_int_equal(lc_req_feed(&r, "x", 1, &used), LC_REQ_ERROR);
    lc_req_free(&r);
}

static void test_req_refusals(void **state)
{
    (void)state;
    expect_error("POST / HTTP/1.1\r\nContent-Length: 101\r\n\r\n", 100, 413);
    expect_error("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n40\r\n", 50, 413);
    /* a 0x30 = 48-byte chunk fits in 100: waiting for its data, no error */
    struct lc_req r;
    lc_req_init(&r, 100);
    const char *s = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n30\r\n";
    assert_int_equal(feed_all(&r, s, strlen(s), NULL), LC_REQ_MORE);
    lc_req_free(&r);
}

static void test_req_refusals2(void **state)
{
    (void)state;
    expect_error("POST / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", 100, 400);
    expect_error("POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 100, 501);
    expect_error("POST / HTTP/2.0\r\n\r\n", 100, 505);
    expect_error("POST /\r\n\r\n", 100, 400);
    expect_error("POST / HTTP/1.1\r\nContent-Length: 1x\r\n\r\n", 100, 400);
    expect_error("POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 100, 400);
    expect_error("POST / HTTP/1.1\r\n folded\r\n\r\n", 100, 400);
    expect_error("POST / HTTP/1.1\r\nbad header\r\n\r\n", 100, 400);
    expect_error("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 100, 400);
    expect_error("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nabc\r\n", 100, 400);
    expect_error("POST / HTTP/1.1\r\nExpect: 200-ok\r\n\r\n", 100, 417);
    /* headers bounded: one huge line, and many small ones */
    size_t big = LC_REQ_HDR_MAX + 10;
    char *s = malloc(big + 64);
    assert_non_null(s);
    strcpy(s, "POST / HTTP/1.1\r\nX: ");
    memset(s + strlen(s), 'a', big);
    s[20 + big] = '\0';
    expect_error(s, 100, 431);
    s[0] = '\0';
    strcat(s, "POST / HTTP/1.1\r\n");
    for (unsigned i = 0; i <= LC_REQ_HEADERS_MAX; i++)
        strcat(s, "A: b\r\n");
    strcat(s, "\r\n");
    expect_error(s, 100, 431);
    free(s);
}

/* ---- batch -> frames ------------------------------------------------------- */

static const char *BATCH =
    "[{\"time\":\"2022-10-12T00:00:00.000Z\",\"type\":\"platform.initStart\",\"record\":"
    "{\"initializationType\":\"on-demand\",\"phase\":\"init\",\"runtimeVersion\":\"nodejs:20\"}},"
    "{\"time\":\"2022-10-12T00:00:00.100Z\",\"type\":\"platform.start\",\"record\":"
    "{\"requestId\":\"r-1\",\"version\":\"$LATEST\"}},"
    "{\"time\":\"2022-10-12T00:00:00.200Z\",\"type\":\"function\",\"record\":\"hello\"},"
    "{\"time\":\"2022-10-12T00:00:00.250Z\",\"type\":\"extension\",\"record\":\"ext line\"},"
    "{\"time\":\"2022-10-12T00:00:00.300Z\",\"type\":\"platform.runtimeDone\",\"record\":"
    "{\"requestId\":\"r-1\",\"status\":\"success\",\"metrics\":{\"durationMs\":10.5,\"producedBytes\":7}}},"
    "{\"time\":\"2022-10-12T00:00:00.400Z\",\"type\":\"platform.report\",\"record\":"
    "{\"requestId\":\"r-1\",\"status\":\"success\",\"metrics\":{\"durationMs\":12.25,"
    "\"billedDurationMs\":13,\"memorySizeMB\":128,\"maxMemoryUsedMB\":70,\"initDurationMs\":200.5},"
    "\"spans\":[{\"name\":\"extensionOverhead\",\"start\":\"2022-10-12T00:00:00.300Z\",\"durationMs\":1.5}]}}]";

static void decode(struct frame_buf *fb, struct frame *f)
{
    char err[FRAME_ERR_MAX];
    assert_true(fb->len > FRAME_HDR_LEN && fb->len - FRAME_HDR_LEN <= FRAME_MAX);
    frame_set_seq(fb->p, 1); /* the peer stamps it when sending */
    int rc = frame_decode(fb->p + FRAME_HDR_LEN, fb->len - FRAME_HDR_LEN, f, err, sizeof err);
    if (rc != 0)
        fail_msg("frame_decode: %s", err);
}

/* The records of a LOGS frame as "source|request_id|message" lines. */
static void logs_text(const struct frame *f, char *out, size_t cap)
{
    out[0] = '\0';
    for (uint32_t i = 0; i < f->u.logs.n_records; i++) {
        const struct ft_log_record *r = &f->u.logs.records[i];
        char line[512];
        snprintf(line, sizeof line, "%u|%s|%.200s\n", (unsigned)r->source,
                 r->request_id ? r->request_id : "-", r->message);
        strncat(out, line, cap - strlen(out) - 1);
    }
}

static void test_build_order_and_fields(void **state)
{
    (void)state;
    struct lc_tele_linectx ctx = {0};
    struct frame_buf *fr;
    size_t n;
    struct lc_tele_stats st;
    assert_int_equal(lc_batch_build(BATCH, strlen(BATCH), true, &ctx, &fr, &n, &st), LC_TELE_OK);
    /* batch order: initStart, start, the two log lines, runtimeDone, report;
     * platform records travel as typed fields, never as text */
    assert_int_equal(n, 5);
    const uint32_t want_type[] = {FT_PLATFORM, FT_PLATFORM, FT_LOGS, FT_PLATFORM, FT_PLATFORM};
    const enum platform_event want_event[] = {PE_INIT_START, PE_START, 0, PE_RUNTIME_DONE, PE_REPORT};
    const int64_t want_t[] = {0, 1, 0, 3, 4};
    char text[4096];
    for (size_t i = 0; i < n; i++) {
        struct frame f;
        decode(&fr[i], &f);
        assert_int_equal(f.type, want_type[i]);
        if (f.type == FT_LOGS) {
            logs_text(&f, text, sizeof text);
            assert_string_equal(text, "0|-|hello\n1|-|ext line\n");
            frame_free(&f);
            continue;
        }
        const struct ft_platform *m = &f.u.platform;
        assert_int_equal(m->event, want_event[i]);
        assert_int_equal(m->time_ms, 1665532800000LL + 100 * want_t[i]);
        assert_true(m->has_is_error);
        assert_false(m->is_error);
        if (i == 0) {
            assert_string_equal(m->runtime_version, "nodejs:20");
            assert_null(m->request_id);
        }
        if (i == 1)
            assert_string_equal(m->version, "$LATEST");
        if (i == 3) {
            assert_true(m->has_produced_bytes);
            assert_int_equal(m->produced_bytes, 7);
            assert_false(m->has_runtime_ms);
        }
        if (i == 4) {
            assert_string_equal(m->request_id, "r-1");
            assert_string_equal(m->status, "success");
            assert_true(m->has_billed_ms && m->billed_ms == 13);
            assert_true(m->has_memory_mb && m->memory_mb == 128);
            assert_true(m->has_max_memory_mb && m->max_memory_mb == 70);
            assert_true(m->has_duration_ms && m->duration_ms > 12.24 && m->duration_ms < 12.26);
            assert_true(m->has_init_ms && m->init_ms > 200.4 && m->init_ms < 200.6);
            /* paired with its runtimeDone for the REPORT line's Runtime Duration */
            assert_true(m->has_runtime_ms);
            assert_float_equal(m->runtime_ms, 10.5, 1e-9);
        }
        frame_free(&f);
    }
    lc_batch_frames_free(fr, n);
}

/* A timed-out invocation: is_error travels as a field; logsDropped keeps its counts. */
static void test_build_error_and_dropped(void **state)
{
    (void)state;
    const char *b =
        "[{\"time\":\"2022-10-12T00:00:00.000Z\",\"type\":\"platform.runtimeDone\",\"record\":"
        "{\"requestId\":\"r-9\",\"status\":\"timeout\",\"metrics\":{\"durationMs\":3000}}},"
        "{\"time\":\"2022-10-12T00:00:00.000Z\",\"type\":\"platform.logsDropped\",\"record\":"
        "{\"reason\":\"Consumer seems to have fallen behind\",\"droppedRecords\":12,"
        "\"droppedBytes\":3456}}]";
    struct lc_tele_linectx ctx = {0};
    struct frame_buf *fr;
    size_t n;
    assert_int_equal(lc_batch_build(b, strlen(b), true, &ctx, &fr, &n, NULL), LC_TELE_OK);
    assert_int_equal(n, 2);
    struct frame f;
    decode(&fr[0], &f);
    assert_int_equal(f.u.platform.event, PE_RUNTIME_DONE);
    assert_true(f.u.platform.has_is_error && f.u.platform.is_error);
    assert_string_equal(f.u.platform.status, "timeout");
    frame_free(&f);
    decode(&fr[1], &f);
    assert_int_equal(f.u.platform.event, PE_LOGS_DROPPED);
    assert_string_equal(f.u.platform.reason, "Consumer seems to have fallen behind");
    assert_true(f.u.platform.has_dropped_records && f.u.platform.dropped_records == 12);
    assert_true(f.u.platform.has_dropped_bytes && f.u.platform.dropped_bytes == 3456);
    frame_free(&f);
    lc_batch_frames_free(fr, n);
}

static void test_build_logs_off(void **state)
{
    (void)state;
    struct lc_tele_linectx ctx = {0};
    struct frame_buf *fr;
    size_t n;
    assert_int_equal(lc_batch_build(BATCH, strlen(BATCH), false, &ctx, &fr, &n, NULL), LC_TELE_OK);
    assert_int_equal(n, 4);
    for (size_t i = 0; i < n; i++) {
        struct frame f;
        decode(&fr[i], &f);
        assert_int_equal(f.type, FT_PLATFORM);
        frame_free(&f);
    }
    lc_batch_frames_free(fr, n);
}

/* Three 700 KiB lines cannot share one frame: every frame stays under
 * FRAME_MAX and no record is lost. */
static void test_build_split(void **state)
{
    (void)state;
    size_t line = 700u * 1024u, cap = 3 * (line + 200) + 16;
    char *b = malloc(cap);
    assert_non_null(b);
    size_t off = 0;
    b[off++] = '[';
    for (int i = 0; i < 3; i++) {
        off += (size_t)sprintf(b + off, "%s{\"time\":\"2022-10-12T00:00:00.000Z\",\"type\":\"function\","
                                        "\"record\":\"", i ? "," : "");
        memset(b + off, 'a' + i, line);
        off += line;
        off += (size_t)sprintf(b + off, "\"}");
    }
    b[off++] = ']';
    struct lc_tele_linectx ctx = {0};
    struct frame_buf *fr;
    size_t n, total = 0;
    assert_int_equal(lc_batch_build(b, off, true, &ctx, &fr, &n, NULL), LC_TELE_OK);
    assert_true(n >= 2);
    for (size_t i = 0; i < n; i++) {
        struct frame f;
        decode(&fr[i], &f);
        assert_int_equal(f.type, FT_LOGS);
        total += f.u.logs.n_records;
        frame_free(&f);
    }
    assert_int_equal(total, 3);
    lc_batch_frames_free(fr, n);
    free(b);
}

static void test_build_unreadable(void **state)
{
    (void)state;
    struct lc_tele_linectx ctx = {0};
    struct frame_buf *fr;
    size_t n;
    const char *bad = "{not json";
    assert_int_equal(lc_batch_build(bad, strlen(bad), true, &ctx, &fr, &n, NULL), LC_TELE_ENOTJSON);
    assert_int_equal(n, 0);
    lc_batch_frames_free(fr, n);
    /* invalid UTF-8 in a message: kept (sanitised), still a valid frame */
    const char *utf = "[{\"time\":\"2022-10-12T00:00:00.000Z\",\"type\":\"function\",\"record\":\"a\xff\xfe z\"}]";
    assert_int_equal(lc_batch_build(utf, strlen(utf), true, &ctx, &fr, &n, NULL), LC_TELE_OK);
    assert_int_equal(n, 1);
    struct frame f;
    decode(&fr[0], &f);
    frame_free(&f);
    lc_batch_frames_free(fr, n);
}

static void test_subscribe_body(void **state)
{
    (void)state;
    char b[512];
    assert_true(lc_subscribe_body(b, sizeof b, 8999, true) > 0);
    assert_non_null(strstr(b, "\"schemaVersion\":\"2022-12-13\""));
    assert_non_null(strstr(b, "\"URI\":\"http://sandbox.localdomain:8999\""));
    assert_non_null(strstr(b, "\"types\":[\"platform\",\"function\",\"extension\"]"));
    assert_non_null(strstr(b, "\"maxItems\":1000,\"maxBytes\":262144,\"timeoutMs\":25"));
    assert_true(lc_subscribe_body(b, sizeof b, 1234, false) > 0);
    assert_non_null(strstr(b, "\"types\":[\"platform\"]"));
    assert_int_equal(lc_subscribe_body(b, 20, 1234, false), -1);
}

/* ---- peer drained ------------------------------------------------------------ */

static int drained_calls;
static size_t queued_at_drain;

static void on_drained(struct peer *p, void *arg)
{
    (void)arg;
    drained_calls++;
    queued_at_drain = peer_queued(p);
}

static void on_frame(struct peer *p, const struct frame *f, void *arg)
{
    (void)p;
    (void)f;
    (void)arg;
}

static void big_frame(struct frame_buf *fb, size_t len)
{
    char *s = malloc(len);
    assert_non_null(s);
    memset(s, 'x', len);
    memset(fb, 0, sizeof *fb);
    const struct ft_log_record r = {.time_ms = 1, .source = LOG_SRC_FUNCTION, .message = s,
                                    .message_len = len};
    assert_int_equal(frame_encode_logs(fb, &(struct ft_logs){.records = &r, .n_records = 1}), 0);
    free(s);
}

static void test_peer_drained(void **state)
{
    (void)state;
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    int small = 4096;
    setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
    struct event_base *base = event_base_new();
    struct peer *p = peer_new(base, sv[0], "t", FRAME_DIR_S2L, 8u << 20, on_frame, NULL);
    assert_non_null(p);
    peer_set_drained_cb(p, on_drained, NULL);
    drained_calls = 0;
    struct frame_buf fb;
    big_frame(&fb, 1u << 20);
    assert_true(peer_send_buf(p, &fb) > 0);
    frame_buf_free(&fb);
    /* the kernel took only part of it; no notification from inside send */
    assert_true(peer_queued(p) > 0);
    assert_int_equal(drained_calls, 0);
    fcntl(sv[1], F_SETFL, O_NONBLOCK);
    char buf[65536];
    size_t got = 0;
    for (int i = 0; i < 100000 && drained_calls == 0; i++) {
        ssize_t r = read(sv[1], buf, sizeof buf);
        if (r > 0)
            got += (size_t)r;
        event_base_loop(base, EVLOOP_NONBLOCK);
    }
    assert_int_equal(drained_calls, 1);
    assert_int_equal(queued_at_drain, 0);
    /* a write error is not "drained" */
    big_frame(&fb, 1u << 20);
    assert_true(peer_send_buf(p, &fb) > 0);
    frame_buf_free(&fb);
    close(sv[1]);
    for (int i = 0; i < 100; i++)
        event_base_loop(base, EVLOOP_NONBLOCK);
    assert_int_equal(drained_calls, 1);
    peer_free(p);
    event_base_free(base);
    (void)got;
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN); /* as forkcap does: a dead far end is an error, not a signal */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_req_content_length),
        cmocka_unit_test(test_req_bytewise_chunked),
        cmocka_unit_test(test_req_pipelined),
        cmocka_unit_test(test_req_flags),
        cmocka_unit_test(test_req_refusals),
        cmocka_unit_test(test_req_refusals2),
        cmocka_unit_test(test_build_order_and_fields),
        cmocka_unit_test(test_build_error_and_dropped),
        cmocka_unit_test(test_build_logs_off),
        cmocka_unit_test(test_build_split),
        cmocka_unit_test(test_build_unreadable),
        cmocka_unit_test(test_subscribe_body),
        cmocka_unit_test(test_peer_drained),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
