/* test_logs.c — flusher/logs: entry encoding, status, ddtags, request-id
 * attribution, payload limits, bounded queue, payload keep/ack. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "logs.h"

#define ARN "arn:aws:lambda:us-east-1:123456789012:function:My-Func"
#define ARN_LC "arn:aws:lambda:us-east-1:123456789012:function:my-func"

static struct fl_logs *mk(const struct fl_logs_limits *lim)
{
    struct fl_logs_ctx ctx = {.arn = ARN, .service = "My-Service", .tags = "env:prod,team:a"};
    struct fl_logs *b = fl_logs_new(&ctx, lim);
    assert_non_null(b);
    return b;
}

static int add(struct fl_logs *b, uint64_t seq, enum log_source source, const char *rid,
               const char *msg)
{
    struct fl_logs_record r = {.seq = seq, .time_ms = 1665533030000LL + (int64_t)seq,
                               .source = source, .request_id = rid, .message = msg,
                               .message_len = strlen(msg)};
    return fl_logs_add(b, &r);
}

/* A platform record as the flusher gets it in FT_PLATFORM. */
static int plat(struct fl_logs *b, uint64_t seq, enum platform_event ev, const char *rid,
                const char *version)
{
    struct ft_platform m = {.event = ev, .time_ms = 1665533030000LL + (int64_t)seq,
                            .request_id = rid, .version = version};
    return fl_logs_add_platform(b, seq, &m);
}

static int end_line(struct fl_logs *b, uint64_t seq, const char *rid, const char *status,
                    const char *error_type, bool is_error)
{
    struct ft_platform m = {.event = PE_RUNTIME_DONE, .time_ms = 1665533030000LL, .request_id = rid,
                            .status = status, .error_type = error_type, .duration_ms = 3000.0,
                            .has_duration_ms = true, .is_error = is_error, .has_is_error = true};
    return fl_logs_add_platform(b, seq, &m);
}

/* Takes one payload, checks it is valid JSON, returns the parsed array;
 * the payload stays in flight until *p is passed to fl_logs_payload_done. */
static json_t *take(struct fl_logs *b, struct fl_logs_payload *p)
{
    assert_int_equal(fl_logs_take_payload(b, p), 1);
    assert_int_equal(strlen(p->body), p->len);
    json_error_t err;
    json_t *arr = json_loadb(p->body, p->len, JSON_ALLOW_NUL, &err);
    assert_non_null(arr);
    assert_true(json_is_array(arr));
    assert_int_equal(json_array_size(arr), p->entries);
    return arr;
}

static const char *field(json_t *arr, size_t i, const char *path)
{
    json_t *e = json_array_get(arr, i);
    if (strncmp(path, "message.", 8) == 0) {
        e = json_object_get(e, "message");
        path += 8;
        if (strncmp(path, "lambda.", 7) == 0) {
            e = json_object_get(e, "lambda");
            path += 7;
        }
    }
    json_t *v = json_object_get(e, path);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static void test_entry_exact(void **state)
{
    (void)state;
    struct fl_logs *b = mk(NULL);
    assert_int_equal(add(b, 1, LOG_SRC_FUNCTION, "rid-1", "hello \"world\"\n"), 0);
    struct fl_logs_payload p;
    assert_int_equal(fl_logs_take_payload(b, &p), 1);
    const char *want =
        "[{\"message\":{\"message\":\"hello \\\"world\\\"\\n\",\"lambda\":{\"arn\":\"" ARN_LC
        "\",\"request_id\":\"rid-1\"},\"timestamp\":1665533030001,\"status\":\"info\"},"
        "\"hostname\":\"" ARN_LC "\",\"service\":\"my-service\",\"ddtags\":\"env:prod,team:a\","
        "\"ddsource\":\"lambda\"}]";
    assert_string_equal(p.body, want);
    assert_int_equal(p.len, strlen(want));
    assert_int_equal(p.entries, 1);
    assert_int_equal(p.max_seq, 1);
    fl_logs_payload_done(b, &p, FL_LOGS_SENT);
    assert_null(p.body);
    assert_int_equal(fl_logs_take_payload(b, &p), 0);
    fl_logs_free(b);
}

static void test_status_table(void **state)
{
    (void)state;
    static const char *tab[][2] = {
        {"FATAL", "critical"}, {"critical", "critical"}, {"Error", "error"},
        {"ERR", "error"},      {"warn", "warn"},         {"WARNING", "warn"},
        {"info", "info"},      {"INFORMATION", "info"},  {"debug", "debug"},
        {"TRACE", "trace"},
    };
    for (size_t i = 0; i < sizeof(tab) / sizeof(*tab); i++)
        assert_string_equal(fl_logs_map_level(tab[i][0]), tab[i][1]);
    assert_null(fl_logs_map_level("notice"));
    assert_null(fl_logs_map_level(""));

    struct fl_logs *b = mk(NULL);
    add(b, 1, LOG_SRC_FUNCTION, "r", "{\"level\":\"Warning\",\"message\":\"a\"}");
    add(b, 1, LOG_SRC_FUNCTION, "r", "{\"status\":\"fatal\",\"message\":\"b\"}");
    add(b, 1, LOG_SRC_FUNCTION, "r", "{\"level\":\"loud\",\"message\":\"c\"}");
    add(b, 1, LOG_SRC_FUNCTION, "r", "ERROR not json so info");
    assert_int_equal(end_line(b, 1, "r", "timeout", NULL, true), 0);
    assert_int_equal(end_line(b, 1, "r", "error", "Runtime.ExitError", true), 0);
    assert_int_equal(end_line(b, 1, "r", "success", NULL, false), 0);
    struct fl_logs_payload p;
    json_t *arr = take(b, &p);
    const char *want[] = {"warn", "critical", "info", "info", "error", "error", "info"};
    for (size_t i = 0; i < 7; i++)
        assert_string_equal(field(arr, i, "message.status"), want[i]);
    assert_string_equal(field(arr, 4, "message.message"),
                        "END RequestId: r Task timed out after 3.00 seconds");
    assert_string_equal(field(arr, 5, "message.message"),
                        "END RequestId: r Task failed: \"Runtime.ExitError\"");
    assert_string_equal(field(arr, 6, "message.message"), "END RequestId: r");
    /* The JSON text itself is kept as the message. */
    assert_string_equal(field(arr, 0, "message.message"), "{\"level\":\"Warning\",\"message\":\"a\"}");
    json_decref(arr);
    fl_logs_payload_done(b, &p, FL_LOGS_SENT);
    fl_logs_free(b);
}

static void test_ddtags_move(void **state)
{
    (void)state;
    struct fl_logs *b = mk(NULL);
    add(b, 1, LOG_SRC_FUNCTION, "r", "{\"level\":\"info\",\"ddtags\":\"k1:v1,k2:v2\",\"x\":1}");
    add(b, 1, LOG_SRC_FUNCTION, "r",
        "{\"message\":{\"ddtags\":\"inner:yes\",\"text\":\"hi\"},\"level\":\"debug\"}");
    add(b, 1, LOG_SRC_FUNCTION, "r", "{\"ddtags\":5,\"y\":2}");
    struct fl_logs_payload p;
    json_t *arr = take(b, &p);
    assert_string_equal(field(arr, 0, "ddtags"), "env:prod,team:a,k1:v1,k2:v2");
    assert_string_equal(field(arr, 0, "message.message"), "{\"level\":\"info\",\"x\":1}");
    assert_string_equal(field(arr, 1, "ddtags"), "env:prod,team:a,inner:yes");
    assert_string_equal(field(arr, 1, "message.message"), "{\"text\":\"hi\"}");
    assert_string_equal(field(arr, 1, "message.status"), "debug");
    assert_string_equal(field(arr, 2, "ddtags"), "env:prod,team:a");
    assert_string_equal(field(arr, 2, "message.message"), "{\"ddtags\":5,\"y\":2}");
    json_decref(arr);
    fl_logs_payload_done(b, &p, FL_LOGS_SENT);
    fl_logs_free(b);
}

static void test_request_id_attribution(void **state)
{
    (void)state;
    struct fl_logs *b = mk(NULL);
    struct fl_logs_stats st;
    struct fl_logs_payload p;
    /* Init-phase logs: no invocation yet, so they wait. */
    add(b, 1, LOG_SRC_FUNCTION, NULL, "init log");
    add(b, 1, LOG_SRC_EXTENSION, NULL, "ext init log");
    fl_logs_get_stats(b, &st);
    assert_int_equal(st.held, 2);
    assert_int_equal(fl_logs_take_payload(b, &p), 0);

    plat(b, 2, PE_START, "rid-A", NULL);
    add(b, 3, LOG_SRC_FUNCTION, NULL, "during A");
    add(b, 3, LOG_SRC_FUNCTION, NULL, "{\"requestId\":\"explicit\",\"message\":\"m\"}");
    plat(b, 4, PE_RUNTIME_DONE, "rid-A", NULL);
    add(b, 5, LOG_SRC_EXTENSION, NULL, "after END");
    plat(b, 6, PE_START, "rid-B", "7");
    add(b, 7, LOG_SRC_FUNCTION, NULL, "during B");
    fl_logs_get_stats(b, &st);
    assert_int_equal(st.held, 0);
    json_t *arr = take(b, &p);
    assert_int_equal(p.entries, 9);
    const char *msgs[] = {"START RequestId: rid-A Version: $LATEST", "init log", "ext init log",
                          "during A", "{\"requestId\":\"explicit\",\"message\":\"m\"}",
                          "END RequestId: rid-A", "START RequestId: rid-B Version: 7",
                          "after END", "during B"};
    const char *rids[] = {"rid-A", "rid-A", "rid-A", "rid-A", "explicit",
                          "rid-A", "rid-B", "rid-B", "rid-B"};
    for (size_t i = 0; i < 9; i++) {
        assert_string_equal(field(arr, i, "message.message"), msgs[i]);
        assert_string_equal(field(arr, i, "message.lambda.request_id"), rids[i]);
    }
    json_decref(arr);
    fl_logs_payload_done(b, &p, FL_LOGS_SENT);

    /* After END B, a log waits; a forced release sends it with null. */
    plat(b, 8, PE_RUNTIME_DONE, "rid-B", NULL);
    /* a platform record without a line moves nothing but the watermark */
    assert_int_equal(plat(b, 9, PE_LOGS_DROPPED, NULL, NULL), FL_LOGS_NO_LINE);
    add(b, 9, LOG_SRC_FUNCTION, NULL, "orphan");
    arr = take(b, &p);
    assert_int_equal(p.entries, 1);
    json_decref(arr);
    fl_logs_payload_done(b, &p, FL_LOGS_SENT);
    assert_int_equal(fl_logs_take_payload(b, &p), 0);
    fl_logs_release_held(b);
    arr = take(b, &p);
    assert_string_equal(field(arr, 0, "message.message"), "orphan");
    json_t *lam = json_object_get(json_object_get(json_array_get(arr, 0), "message"), "lambda");
    assert_true(json_is_null(json_object_get(lam, "request_id")));
    assert_non_null(strstr(p.body, "\"request_id\":null"));
    json_decref(arr);
    fl_logs_payload_done(b, &p, FL_LOGS_SENT);

    /* An invocation known from the context (no START line) also releases. */
    add(b, 10, LOG_SRC_FUNCTION, NULL, "early");
    assert_int_equal(fl_logs_start_invocation(b, "rid-C"), 0);
    arr = take(b, &p);
    assert_string_equal(field(arr, 0, "message.lambda.request_id"), "rid-C");
    json_decref(arr);
    fl_logs_payload_done(b, &p, FL_LOGS_SENT);
    fl_logs_free(b);
}

static void test_split_entries(void **state)
{
    (void)state;
    struct fl_logs *b = mk(NULL);
    for (int i = 0; i < 2500; i++)
        assert_int_equal(add(b, (uint64_t)i + 1, LOG_SRC_FUNCTION, "r", "line"), 0);
    size_t sizes[4] = {0};
    int n = 0;
    struct fl_logs_payload p;
    while (fl_logs_take_payload(b, &p) == 1) {
        assert_true(n < 4);
        sizes[n++] = p.entries;
        json_error_t err;
        json_t *arr = json_loadb(p.body, p.len, 0, &err);
        assert_non_null(arr);
        json_decref(arr);
        fl_logs_payload_done(b, &p, FL_LOGS_SENT);
    }
    assert_int_equal(n, 3);
    assert_int_equal(sizes[0], 1000);
    assert_int_equal(sizes[1], 1000);
    assert_int_equal(sizes[2], 500);
    fl_logs_free(b);
}

static void test_split_bytes(void **state)
{
    (void)state;
    struct fl_logs *b = mk(NULL);
    size_t big = 900 * 1024;
    char *msg = malloc(big + 1);
    memset(msg, 'x', big);
    msg[big] = '\0';
    for (int i = 0; i < 12; i++)
        assert_int_equal(add(b, (uint64_t)i + 1, LOG_SRC_FUNCTION, "r", msg), 0);
    size_t total = 0;
    int n = 0;
    struct fl_logs_payload p;
    while (fl_logs_take_payload(b, &p) == 1) {
        n++;
        assert_true(p.len <= FL_LOGS_MAX_PAYLOAD);
        /* Five 900 KiB entries fit 5 MiB, six do not. */
        assert_true(p.entries == 5 || (n == 3 && p.entries == 2));
        total += p.entries;
        fl_logs_payload_done(b, &p, FL_LOGS_SENT);
    }
    assert_int_equal(n, 3);
    assert_int_equal(total, 12);
    free(msg);
    fl_logs_free(b);
}

static void test_entry_truncated(void **state)
{
    (void)state;
    struct fl_logs *b = mk(NULL);
    /* 2 MiB of a character that escapes to 6 bytes and of 3-byte UTF-8. */
    size_t n = 2 * 1024 * 1024;
    char *msg = malloc(n + 1);
    for (size_t i = 0; i + 3 <= n; i += 4) {
        msg[i] = '\x01';
        memcpy(msg + i + 1, "\xe2\x82\xac", 3);
    }
    msg[n] = '\0';
    assert_int_equal(add(b, 1, LOG_SRC_FUNCTION, "r", msg), 0);
    struct fl_logs_stats st;
    fl_logs_get_stats(b, &st);
    assert_int_equal(st.truncated, 1);
    struct fl_logs_payload p;
    json_t *arr = take(b, &p);
    assert_true(p.len - 2 <= FL_LOGS_MAX_ENTRY);
    assert_true(p.len - 2 > FL_LOGS_MAX_ENTRY - 64);
    const char *m = field(arr, 0, "message.message");
    assert_non_null(m);
    size_t ml = strlen(m), mk_len = strlen(FL_LOGS_TRUNC_MARK);
    assert_string_equal(m + ml - mk_len, FL_LOGS_TRUNC_MARK);
    /* Whole characters only: the kept part repeats the 4-byte pattern. */
    assert_int_equal((ml - mk_len) % 4 == 0 || (ml - mk_len) % 4 == 1, 1);
    json_decref(arr);
    fl_logs_payload_done(b, &p, FL_LOGS_SENT);
    free(msg);
    fl_logs_free(b);
}

static void test_bounded_queue(void **state)
{
    (void)state;
    struct fl_logs_limits lim;
    fl_logs_limits_default(&lim);
    lim.max_pending = 4096;
    struct fl_logs *b = mk(&lim);
    char msg[64];
    for (int i = 0; i < 100; i++) {
        snprintf(msg, sizeof(msg), "message %03d", i);
        assert_true(add(b, (uint64_t)i + 1, LOG_SRC_FUNCTION, "r", msg) >= 0);
    }
    struct fl_logs_stats st;
    fl_logs_get_stats(b, &st);
    assert_true(st.queued_bytes <= lim.max_pending);
    assert_true(st.dropped > 0);
    assert_int_equal(st.dropped + st.ready, 100);
    /* The newest survive, oldest went first. */
    struct fl_logs_payload p;
    json_t *arr = take(b, &p);
    assert_int_equal(p.entries, st.ready);
    assert_string_equal(field(arr, p.entries - 1, "message.message"), "message 099");
    char first[64];
    snprintf(first, sizeof(first), "message %03d", (int)st.dropped);
    assert_string_equal(field(arr, 0, "message.message"), first);
    json_decref(arr);
    /* In-flight records are never dropped: the newcomers pay instead. */
    size_t before = st.dropped;
    for (int i = 0; i < 100; i++)
        assert_true(add(b, 200, LOG_SRC_FUNCTION, "r", "another") >= 0);
    fl_logs_get_stats(b, &st);
    assert_true(st.dropped > before);
    assert_int_equal(st.in_flight, p.entries);
    assert_true(st.queued_bytes <= lim.max_pending);
    /* A record larger than the whole queue is dropped on arrival. */
    char *huge = malloc(8192);
    memset(huge, 'h', 8191);
    huge[8191] = '\0';
    assert_int_equal(add(b, 201, LOG_SRC_FUNCTION, "r", huge), 1);
    free(huge);
    fl_logs_payload_done(b, &p, FL_LOGS_SENT);
    fl_logs_free(b);
}

static void test_ack_semantics(void **state)
{
    (void)state;
    struct fl_logs_limits lim;
    fl_logs_limits_default(&lim);
    lim.max_entries = 2;
    struct fl_logs *b = mk(&lim);
    assert_int_equal(fl_logs_ackable(b), 0);
    add(b, 1, LOG_SRC_FUNCTION, "r", "a");
    add(b, 1, LOG_SRC_FUNCTION, "r", "b");
    add(b, 2, LOG_SRC_FUNCTION, "r", "c");
    fl_logs_note_seq(b, 3); /* a frame with no log record */
    assert_int_equal(fl_logs_ackable(b), 0);

    struct fl_logs_payload p1, p2;
    json_t *arr = take(b, &p1);
    json_decref(arr);
    assert_int_equal(p1.entries, 2);
    assert_int_equal(p1.max_seq, 1);
    arr = take(b, &p2);
    json_decref(arr);
    assert_int_equal(p2.max_seq, 2);
    /* Taken is not delivered. */
    assert_int_equal(fl_logs_ackable(b), 0);
    /* Second payload lands first: seq 1 is still out, nothing to ack. */
    fl_logs_payload_done(b, &p2, FL_LOGS_SENT);
    assert_int_equal(fl_logs_ackable(b), 0);
    /* First fails for now: back to the queue, same content next time. */
    char *body1 = strdup(p1.body);
    fl_logs_payload_done(b, &p1, FL_LOGS_REQUEUE);
    assert_int_equal(fl_logs_ackable(b), 0);
    struct fl_logs_payload p3;
    arr = take(b, &p3);
    json_decref(arr);
    assert_string_equal(p3.body, body1);
    free(body1);
    fl_logs_payload_done(b, &p3, FL_LOGS_SENT);
    assert_int_equal(fl_logs_ackable(b), 3);

    /* A held record blocks the watermark until it is sent. */
    add(b, 4, LOG_SRC_FUNCTION, NULL, "held");
    add(b, 5, LOG_SRC_FUNCTION, "r", "ready");
    fl_logs_note_seq(b, 6);
    struct fl_logs_payload p4;
    arr = take(b, &p4);
    json_decref(arr);
    fl_logs_payload_done(b, &p4, FL_LOGS_SENT);
    assert_int_equal(fl_logs_ackable(b), 3);
    fl_logs_release_held(b);
    arr = take(b, &p4);
    json_decref(arr);
    /* Given up also releases (and counts as dropped). */
    fl_logs_payload_done(b, &p4, FL_LOGS_GIVEN_UP);
    assert_int_equal(fl_logs_ackable(b), 6);
    struct fl_logs_stats st;
    fl_logs_get_stats(b, &st);
    assert_int_equal(st.sent, 4);
    assert_int_equal(st.dropped, 1);
    assert_int_equal(st.queued_bytes, 0);
    fl_logs_free(b);
}

static void test_bytes_escaped(void **state)
{
    (void)state;
    struct fl_logs *b = mk(NULL);
    const char raw[] = "bad \xff\xfe utf8 \x01 tab\t nul";
    struct fl_logs_record r = {.seq = 1, .time_ms = 5, .source = LOG_SRC_FUNCTION,
                               .request_id = "r", .message = raw, .message_len = sizeof(raw)};
    assert_int_equal(fl_logs_add(b, &r), 0);
    struct fl_logs_payload p;
    json_t *arr = take(b, &p);
    json_t *m = json_object_get(json_object_get(json_array_get(arr, 0), "message"), "message");
    assert_int_equal(json_string_length(m), sizeof(raw) + 4);
    assert_memory_equal(json_string_value(m), "bad \xef\xbf\xbd\xef\xbf\xbd utf8 \x01 tab\t nul\0",
                        json_string_length(m));
    json_decref(arr);
    fl_logs_payload_done(b, &p, FL_LOGS_SENT);
    fl_logs_free(b);
}

static void test_context_late_arn(void **state)
{
    (void)state;
    struct fl_logs *b = fl_logs_new(NULL, NULL);
    assert_non_null(b);
    add(b, 1, LOG_SRC_FUNCTION, "r", "x");
    struct fl_logs_ctx ctx = {.arn = "ARN:X", .service = NULL, .tags = NULL};
    assert_int_equal(fl_logs_set_context(b, &ctx), 0);
    struct fl_logs_payload p;
    json_t *arr = take(b, &p);
    assert_string_equal(field(arr, 0, "hostname"), "arn:x");
    assert_string_equal(field(arr, 0, "service"), "");
    assert_string_equal(field(arr, 0, "ddtags"), "");
    json_decref(arr);
    fl_logs_payload_done(b, &p, FL_LOGS_SENT);
    fl_logs_free(b);
}

/* The Datadog text of each platform record, from its typed fields. */
static void test_platform_lines(void **state)
{
    (void)state;
    struct ft_platform p = {
        .event = PE_REPORT, .request_id = "test-request-id",
        .duration_ms = 100.0, .has_duration_ms = true, .billed_ms = 128, .has_billed_ms = true,
        .memory_mb = 256, .has_memory_mb = true, .max_memory_mb = 64, .has_max_memory_mb = true,
        .init_ms = 50.0, .has_init_ms = true,
    };
    char buf[512];
    int n = fl_logs_platform_line(&p, buf, sizeof(buf));
    const char *want0 = "REPORT RequestId: test-request-id Duration: 100.00 ms Runtime Duration: "
                        "0.00 ms Post Runtime Duration: 0.00 ms Billed Duration: 128 ms Memory "
                        "Size: 256 MB Max Memory Used: 64 MB Init Duration: 50.00 ms";
    assert_string_equal(buf, want0);
    assert_int_equal(n, (int)strlen(want0));
    /* With the runtimeDone duration known, and no init duration (warm). */
    p.has_init_ms = false;
    p.duration_ms = 152.456;
    p.runtime_ms = 140.0;
    p.has_runtime_ms = true;
    fl_logs_platform_line(&p, buf, sizeof(buf));
    assert_string_equal(buf, "REPORT RequestId: test-request-id Duration: 152.46 ms Runtime "
                             "Duration: 140.00 ms Post Runtime Duration: 12.46 ms Billed "
                             "Duration: 128 ms Memory Size: 256 MB Max Memory Used: 64 MB");
    /* A short buffer cuts, NUL-terminated, without overrunning. */
    char small[16];
    memset(small, 'x', sizeof(small));
    n = fl_logs_platform_line(&p, small, sizeof(small));
    assert_int_equal(n, 15);
    assert_string_equal(small, "REPORT RequestI");

    /* END: the reason only for an is_error record; errorType quoted. */
    struct ft_platform e = {.event = PE_RUNTIME_DONE, .request_id = "r1", .status = "timeout",
                            .duration_ms = 5000.0, .has_duration_ms = true,
                            .is_error = true, .has_is_error = true};
    fl_logs_platform_line(&e, buf, sizeof(buf));
    assert_string_equal(buf, "END RequestId: r1 Task timed out after 5.00 seconds");
    e.status = "error";
    e.error_type = "Bad \"quote\"\n";
    fl_logs_platform_line(&e, buf, sizeof(buf));
    assert_string_equal(buf, "END RequestId: r1 Task failed: \"Bad \\\"quote\\\"\\n\"");
    e.is_error = false;
    fl_logs_platform_line(&e, buf, sizeof(buf));
    assert_string_equal(buf, "END RequestId: r1");

    /* Defaults when optional fields are missing. */
    struct ft_platform s = {.event = PE_START, .request_id = "r2"};
    fl_logs_platform_line(&s, buf, sizeof(buf));
    assert_string_equal(buf, "START RequestId: r2 Version: $LATEST");
    struct ft_platform is = {.event = PE_INIT_START};
    fl_logs_platform_line(&is, buf, sizeof(buf));
    assert_string_equal(buf, "INIT_START Runtime Version: ? Runtime Version ARN: ?");
    is.runtime_version = "python:3.12.v20";
    is.runtime_version_arn = "arn:aws:lambda:us-east-1::runtime:abc";
    fl_logs_platform_line(&is, buf, sizeof(buf));
    assert_string_equal(buf, "INIT_START Runtime Version: python:3.12.v20 Runtime Version ARN: "
                             "arn:aws:lambda:us-east-1::runtime:abc");
    /* Events Datadog's extension writes no line for. */
    enum platform_event none[] = {PE_INIT_RUNTIME_DONE, PE_INIT_REPORT, PE_LOGS_DROPPED,
                                  PE_EXTENSION, PE_TELEMETRY_SUBSCRIPTION, PE_RESTORE_START};
    for (size_t i = 0; i < sizeof(none) / sizeof(*none); i++) {
        struct ft_platform x = {.event = none[i], .request_id = "r"};
        assert_int_equal(fl_logs_platform_line(&x, buf, sizeof(buf)), 0);
    }
}


/* 413: a payload goes back split in halves, recursively, in order; a
 * single entry is cut (counted) and, once nothing is left to cut, given up. */
static void test_split_on_413(void **state)
{
    (void)state;
    struct fl_logs *b = mk(NULL);
    char line[32];
    for (int i = 0; i < 10; i++) {
        snprintf(line, sizeof line, "line %d", i);
        assert_int_equal(add(b, (uint64_t)i + 1, LOG_SRC_FUNCTION, "r", line), 0);
    }
    struct fl_logs_payload p;
    assert_int_equal(fl_logs_take_payload(b, &p), 1);
    assert_int_equal(p.entries, 10);
    fl_logs_payload_done(b, &p, FL_LOGS_SPLIT);
    assert_int_equal(fl_logs_take_payload(b, &p), 1);
    assert_int_equal(p.entries, 5);
    struct fl_logs_payload q;
    assert_int_equal(fl_logs_take_payload(b, &q), 1);
    assert_int_equal(q.entries, 5);
    fl_logs_payload_done(b, &q, FL_LOGS_SENT);
    fl_logs_payload_done(b, &p, FL_LOGS_SPLIT); /* 5 -> 3 + 2 */
    json_t *arr = take(b, &p);
    assert_int_equal(p.entries, 3);
    assert_string_equal(field(arr, 0, "message.message"), "line 0");
    json_decref(arr);
    fl_logs_payload_done(b, &p, FL_LOGS_SENT);
    assert_int_equal(fl_logs_take_payload(b, &p), 1);
    assert_int_equal(p.entries, 2);
    fl_logs_payload_done(b, &p, FL_LOGS_SENT);
    assert_int_equal(fl_logs_take_payload(b, &p), 0);
    struct fl_logs_stats st;
    fl_logs_get_stats(b, &st);
    assert_int_equal(st.sent, 10);
    assert_int_equal(st.dropped, 0);
    assert_int_equal(st.splits, 2);
    assert_int_equal(fl_logs_ackable(b), 10);

    /* one large entry: cut to a quarter each time, until the floor */
    size_t big = 64 * 1024;
    char *msg = malloc(big + 1);
    memset(msg, 'x', big);
    msg[big] = '\0';
    assert_int_equal(add(b, 11, LOG_SRC_FUNCTION, "r", msg), 0);
    size_t prev = SIZE_MAX;
    int cuts = 0;
    for (;;) {
        assert_int_equal(fl_logs_take_payload(b, &p), 1);
        assert_int_equal(p.entries, 1);
        assert_true(p.len < prev);
        prev = p.len;
        fl_logs_payload_done(b, &p, FL_LOGS_SPLIT);
        fl_logs_get_stats(b, &st);
        if (st.dropped)
            break;
        cuts++;
        assert_true(cuts < 10);
    }
    assert_int_equal(st.split_truncated, (uint64_t)cuts);
    assert_true(cuts >= 2);
    assert_int_equal(st.dropped, 1);
    assert_int_equal(fl_logs_take_payload(b, &p), 0);
    assert_int_equal(fl_logs_ackable(b), 11);
    free(msg);
    fl_logs_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_platform_lines),
        cmocka_unit_test(test_entry_exact),
        cmocka_unit_test(test_status_table),
        cmocka_unit_test(test_ddtags_move),
        cmocka_unit_test(test_request_id_attribution),
        cmocka_unit_test(test_split_entries),
        cmocka_unit_test(test_split_bytes),
        cmocka_unit_test(test_split_on_413),
        cmocka_unit_test(test_entry_truncated),
        cmocka_unit_test(test_bounded_queue),
        cmocka_unit_test(test_ack_semantics),
        cmocka_unit_test(test_bytes_escaped),
        cmocka_unit_test(test_context_late_arn),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
