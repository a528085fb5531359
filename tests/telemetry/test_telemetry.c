/* test_telemetry.c — lifecycle/telemetry: batch parsing and platform lines.
 * Bodies follow the record shapes of the Telemetry API schema 2022-12-13. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "telemetry.h"

/* Records copied out of the callback (their strings die with it). */
struct got {
    int n;
    struct {
        int kind;
        char event[32];
        int64_t time_ms;
        char request_id[64];
        char status[16];
        char error_type[64];
        char version[32];
        char rv[64], rv_arn[128], reason[64];
        unsigned has; /* TP_* bits */
        double duration_ms, init_ms;
        int64_t billed_ms, memory_mb, max_memory_mb, produced, drec, dbytes;
        int source;
        char *message;
        size_t message_len;
        int truncated, is_json;
        char level[16];
        int is_error;
        double runtime_ms;
    } r[64];
    int stop_after;
    struct lc_tele_linectx lines; /* across records, as the listener keeps it */
};

/* Which optional numbers a parsed platform record has (test-side bits). */
enum { TP_DURATION = 1, TP_BILLED = 2, TP_MEMORY = 4, TP_MAX_MEMORY = 8, TP_INIT = 16,
       TP_PRODUCED = 32, TP_DROPPED_RECORDS = 64, TP_DROPPED_BYTES = 128 };

static void cp(char *dst, size_t cap, const char *s)
{
    snprintf(dst, cap, "%s", s ? s : "");
}

static int collect(const struct lc_tele_record *rec, void *arg)
{
    struct got *g = arg;
    if (g->n >= 64)
        return 1;
    __typeof__(g->r[0]) *o = &g->r[g->n++];
    memset(o, 0, sizeof(*o));
    o->kind = rec->kind;
    if (rec->kind == LC_TELE_PLATFORM) {
        struct ft_platform pc = rec->u.platform;
        const struct ft_platform *p = &rec->u.platform;
        /* the parser leaves these two to the pairing */
        assert_false(p->has_is_error);
        assert_false(p->has_runtime_ms);
        cp(o->event, sizeof(o->event), frame_event_name(p->event));
        o->time_ms = p->time_ms;
        cp(o->request_id, sizeof(o->request_id), p->request_id);
        cp(o->status, sizeof(o->status), p->status);
        cp(o->error_type, sizeof(o->error_type), p->error_type);
        cp(o->version, sizeof(o->version), p->version);
        cp(o->rv, sizeof(o->rv), p->runtime_version);
        cp(o->rv_arn, sizeof(o->rv_arn), p->runtime_version_arn);
        cp(o->reason, sizeof(o->reason), p->reason);
        o->has = (p->has_duration_ms ? TP_DURATION : 0) | (p->has_billed_ms ? TP_BILLED : 0) |
                 (p->has_memory_mb ? TP_MEMORY : 0) | (p->has_max_memory_mb ? TP_MAX_MEMORY : 0) |
                 (p->has_init_ms ? TP_INIT : 0) | (p->has_produced_bytes ? TP_PRODUCED : 0) |
                 (p->has_dropped_records ? TP_DROPPED_RECORDS : 0) |
                 (p->has_dropped_bytes ? TP_DROPPED_BYTES : 0);
        o->duration_ms = p->duration_ms;
        o->init_ms = p->init_ms;
        o->billed_ms = p->billed_ms;
        o->memory_mb = p->memory_mb;
        o->max_memory_mb = p->max_memory_mb;
        o->produced = p->produced_bytes;
        o->drec = p->dropped_records;
        o->dbytes = p->dropped_bytes;
        lc_tele_pair(&g->lines, &pc);
        assert_true(pc.has_is_error);
        o->is_error = pc.is_error;
        o->runtime_ms = pc.has_runtime_ms ? pc.runtime_ms : 0.0;
    } else {
        const struct lc_tele_log *l = &rec->u.log;
        o->time_ms = l->time_ms;
        o->source = l->source;
        o->message = malloc(l->message_len + 1);
        memcpy(o->message, l->message, l->message_len + 1);
        o->message_len = l->message_len;
        o->truncated = l->truncated;
        o->is_json = l->is_json;
        cp(o->level, sizeof(o->level), l->level);
        cp(o->request_id, sizeof(o->request_id), l->request_id);
    }
    if (g->stop_after && g->n >= g->stop_after)
        return 1;
    return 0;
}

static void got_free(struct got *g)
{
    for (int i = 0; i < g->n; i++)
        free(g->r[i].message);
    memset(g, 0, sizeof(*g));
}

static int parse(const char *body, struct got *g, struct lc_tele_stats *st)
{
    memset(g, 0, sizeof(*g));
    return lc_telemetry_parse(body, strlen(body), NULL, collect, g, st);
}

#define T0 "2022-10-12T00:03:50.000Z"
#define T0_MS 1665533030000LL

static void test_time(void **state)
{
    (void)state;
    int64_t ms;
    assert_int_equal(lc_tele_time_ms("1970-01-01T00:00:00Z", &ms), 0);
    assert_int_equal(ms, 0);
    assert_int_equal(lc_tele_time_ms(T0, &ms), 0);
    assert_int_equal(ms, T0_MS);
    assert_int_equal(lc_tele_time_ms("2022-10-12T00:03:50.123456Z", &ms), 0);
    assert_int_equal(ms, T0_MS + 123);
    assert_int_equal(lc_tele_time_ms("2022-10-12T02:03:50.5+02:00", &ms), 0);
    assert_int_equal(ms, T0_MS + 500);
    assert_int_equal(lc_tele_time_ms("2024-02-29T12:00:00Z", &ms), 0);
    assert_int_equal(ms, 1709208000000LL);
    assert_int_equal(lc_tele_time_ms("2022-13-12T00:03:50Z", &ms), -1);
    assert_int_equal(lc_tele_time_ms("2022-10-12 garbage", &ms), -1);
    assert_int_equal(lc_tele_time_ms("2022-10-12T00:03:50Zjunk", &ms), -1);
    assert_int_equal(lc_tele_time_ms("", &ms), -1);
}

static const char *platform_batch =
    "[{\"time\":\"" T0 "\",\"type\":\"platform.initStart\",\"record\":{"
    "\"initializationType\":\"on-demand\",\"phase\":\"init\","
    "\"runtimeVersion\":\"python:3.12.v20\",\"runtimeVersionArn\":"
    "\"arn:aws:lambda:us-east-1::runtime:abc\",\"functionName\":\"f\","
    "\"functionVersion\":\"$LATEST\"}},"
    "{\"time\":\"" T0 "\",\"type\":\"platform.initRuntimeDone\",\"record\":{"
    "\"initializationType\":\"on-demand\",\"phase\":\"init\",\"status\":\"success\"}},"
    "{\"time\":\"" T0 "\",\"type\":\"platform.initReport\",\"record\":{"
    "\"initializationType\":\"on-demand\",\"phase\":\"init\",\"status\":\"success\","
    "\"metrics\":{\"durationMs\":125.33}}},"
    "{\"time\":\"" T0 "\",\"type\":\"platform.start\",\"record\":{"
    "\"requestId\":\"6d68ca91-49c9-448d-89b8-7ca3e6dc66aa\",\"version\":\"$LATEST\","
    "\"tracing\":{\"spanId\":\"54565fb41ac79632\",\"type\":\"X-Amzn-Trace-Id\","
    "\"value\":\"Root=1-62e900b2-710d76f009d6e7785905449a;Sampled=1\"}}},"
    "{\"time\":\"" T0 "\",\"type\":\"platform.runtimeDone\",\"record\":{"
    "\"requestId\":\"6d68ca91-49c9-448d-89b8-7ca3e6dc66aa\",\"status\":\"success\","
    "\"metrics\":{\"durationMs\":140.0,\"producedBytes\":16},"
    "\"spans\":[{\"name\":\"responseLatency\",\"start\":\"" T0 "\",\"durationMs\":23.02},"
    "{\"name\":\"responseDuration\",\"start\":\"" T0 "\",\"durationMs\":20}]}},"
    "{\"time\":\"" T0 "\",\"type\":\"platform.report\",\"record\":{"
    "\"requestId\":\"6d68ca91-49c9-448d-89b8-7ca3e6dc66aa\",\"status\":\"success\","
    "\"metrics\":{\"durationMs\":152.5,\"billedDurationMs\":153,\"memorySizeMB\":128,"
    "\"maxMemoryUsedMB\":69,\"initDurationMs\":210.71},"
    "\"spans\":[{\"name\":\"extensionOverhead\",\"start\":\"" T0 "\",\"durationMs\":12.5}]}},"
    "{\"time\":\"" T0 "\",\"type\":\"platform.extension\",\"record\":{"
    "\"name\":\"forkcap\",\"state\":\"Ready\",\"events\":[\"INVOKE\",\"SHUTDOWN\"]}},"
    "{\"time\":\"" T0 "\",\"type\":\"platform.telemetrySubscription\",\"record\":{"
    "\"name\":\"forkcap\",\"state\":\"Subscribed\",\"types\":[\"platform\",\"function\"]}},"
    "{\"time\":\"" T0 "\",\"type\":\"platform.logsDropped\",\"record\":{"
    "\"reason\":\"Consumer seems to have fallen behind\",\"droppedRecords\":123,"
    "\"droppedBytes\":12345}},"
    "{\"time\":\"" T0 "\",\"type\":\"platform.restoreStart\",\"record\":{"
    "\"runtimeVersion\":\"java:17.v1\"}}]";

static void test_platform_records(void **state)
{
    (void)state;
    struct got g;
    struct lc_tele_stats st;
    assert_int_equal(parse(platform_batch, &g, &st), LC_TELE_OK);
    assert_int_equal(st.records, 10);
    assert_int_equal(st.emitted, 10);
    assert_int_equal(st.malformed, 0);
    assert_int_equal(g.n, 10);
    for (int i = 0; i < g.n; i++) {
        assert_int_equal(g.r[i].kind, LC_TELE_PLATFORM);
        assert_int_equal(g.r[i].time_ms, T0_MS);
    }
    assert_string_equal(g.r[0].event, "initStart");
    assert_string_equal(g.r[0].rv, "python:3.12.v20");
    assert_string_equal(g.r[0].rv_arn, "arn:aws:lambda:us-east-1::runtime:abc");
    assert_string_equal(g.r[1].event, "initRuntimeDone");
    assert_string_equal(g.r[1].status, "success");
    assert_false(g.r[1].is_error);
    assert_string_equal(g.r[2].event, "initReport");
    assert_true(g.r[2].has & TP_DURATION);
    assert_float_equal(g.r[2].duration_ms, 125.33, 1e-9);
    assert_string_equal(g.r[3].event, "start");
    assert_string_equal(g.r[3].request_id, "6d68ca91-49c9-448d-89b8-7ca3e6dc66aa");
    assert_string_equal(g.r[3].version, "$LATEST");

    assert_string_equal(g.r[4].event, "runtimeDone");
    assert_true(g.r[4].has & TP_PRODUCED);
    assert_int_equal(g.r[4].produced, 16);
    assert_float_equal(g.r[4].duration_ms, 140.0, 1e-9);
    assert_false(g.r[4].is_error); /* success */
    assert_string_equal(g.r[5].event, "report");
    assert_int_equal(g.r[5].billed_ms, 153);
    assert_int_equal(g.r[5].memory_mb, 128);
    assert_int_equal(g.r[5].max_memory_mb, 69);
    assert_true(g.r[5].has & TP_INIT);
    assert_float_equal(g.r[5].init_ms, 210.71, 1e-9);
    /* the report is paired with its runtimeDone's duration */
    assert_float_equal(g.r[5].runtime_ms, 140.0, 1e-9);
    assert_string_equal(g.r[6].event, "extension");
    assert_string_equal(g.r[7].event, "telemetrySubscription");
    assert_string_equal(g.r[8].event, "logsDropped");
    assert_string_equal(g.r[8].reason, "Consumer seems to have fallen behind");
    assert_int_equal(g.r[8].drec, 123);
    assert_int_equal(g.r[8].dbytes, 12345);
    assert_true((g.r[8].has & (TP_DROPPED_RECORDS | TP_DROPPED_BYTES)) ==
                (TP_DROPPED_RECORDS | TP_DROPPED_BYTES));
    assert_string_equal(g.r[9].event, "restoreStart");
    got_free(&g);
}

/* Which runtimeDone records make an error END line: the rule the flusher's
 * line follows (lines themselves: tests/telemetry/test_logs.c). */
static void test_is_error(void **state)
{
    (void)state;
    struct ft_platform p = {.event = PE_RUNTIME_DONE, .request_id = "r1", .status = "timeout",
                            .has_duration_ms = true, .duration_ms = 5000.0};
    assert_true(lc_tele_is_error(&p));
    p.status = "error";
    assert_true(lc_tele_is_error(&p));
    p.status = "success";
    assert_false(lc_tele_is_error(&p));
    p.status = "failure";
    assert_false(lc_tele_is_error(&p));
    p.status = NULL;
    assert_false(lc_tele_is_error(&p));
    /* Without metrics Datadog's extension adds no reason. */
    p.status = "timeout";
    p.has_duration_ms = false;
    assert_false(lc_tele_is_error(&p));
    /* Only runtimeDone ends an invocation. */
    p.has_duration_ms = true;
    p.event = PE_REPORT;
    assert_false(lc_tele_is_error(&p));
}

static void test_runtime_pairing(void **state)
{
    (void)state;
    struct lc_tele_linectx ctx;
    memset(&ctx, 0, sizeof(ctx));
    struct ft_platform done = {.event = PE_RUNTIME_DONE, .request_id = "r1", .status = "timeout",
                               .has_duration_ms = true, .duration_ms = 90.0};
    struct ft_platform rep = {.event = PE_REPORT, .request_id = "r1", .has_duration_ms = true,
                              .duration_ms = 100.5};
    struct ft_platform d = done, r = rep;
    lc_tele_pair(&ctx, &d);
    assert_true(d.has_is_error && d.is_error);
    assert_false(d.has_runtime_ms);
    lc_tele_pair(&ctx, &r);
    assert_true(r.has_is_error && !r.is_error);
    assert_true(r.has_runtime_ms);
    assert_float_equal(r.runtime_ms, 90.0, 1e-9);
    /* Another invocation's report does not borrow r1's runtime. */
    r = rep;
    r.request_id = "r2";
    lc_tele_pair(&ctx, &r);
    assert_false(r.has_runtime_ms);
    /* A runtimeDone without metrics leaves nothing to pair. */
    d = done;
    d.request_id = "r2";
    d.has_duration_ms = false;
    lc_tele_pair(&ctx, &d);
    assert_false(d.is_error);
    r = rep;
    r.request_id = "r2";
    lc_tele_pair(&ctx, &r);
    assert_false(r.has_runtime_ms);
}

static void test_function_logs(void **state)
{
    (void)state;
    const char *body =
        "[{\"time\":\"" T0 "\",\"type\":\"function\",\"record\":"
        "\"2022-10-12T00:03:50.000Z\\t6d68ca91\\tINFO\\thello \\u00e9\\n\"},"
        "{\"time\":\"2022-10-12T00:03:50.001Z\",\"type\":\"extension\",\"record\":\"ext says hi\"},"
        "{\"time\":\"2022-10-12T00:03:50.002Z\",\"type\":\"function\",\"record\":{"
        "\"timestamp\":\"2022-10-12T00:03:50.002Z\",\"level\":\"ERROR\","
        "\"requestId\":\"79b4f56e-95b1-4643-9700-2807f4e68189\",\"message\":\"boom\"}},"
        "{\"time\":\"2022-10-12T00:03:50.003Z\",\"type\":\"function\",\"record\":{"
        "\"level\":\"WARN\",\"AWSRequestId\":\"aws-rid\",\"msg\":\"x\"}}]";
    struct got g;
    struct lc_tele_stats st;
    assert_int_equal(parse(body, &g, &st), LC_TELE_OK);
    assert_int_equal(g.n, 4);
    assert_int_equal(g.r[0].kind, LC_TELE_LOG);
    assert_int_equal(g.r[0].source, LOG_SRC_FUNCTION);
    assert_string_equal(g.r[0].message,
                        "2022-10-12T00:03:50.000Z\t6d68ca91\tINFO\thello \xc3\xa9\n");
    assert_false(g.r[0].is_json);
    assert_string_equal(g.r[0].request_id, "");
    assert_int_equal(g.r[1].source, LOG_SRC_EXTENSION);
    assert_int_equal(g.r[1].time_ms, T0_MS + 1);
    assert_true(g.r[2].is_json);
    assert_string_equal(g.r[2].message,
                        "{\"timestamp\":\"2022-10-12T00:03:50.002Z\",\"level\":\"ERROR\","
                        "\"requestId\":\"79b4f56e-95b1-4643-9700-2807f4e68189\","
                        "\"message\":\"boom\"}");
    assert_string_equal(g.r[2].level, "ERROR");
    assert_string_equal(g.r[2].request_id, "79b4f56e-95b1-4643-9700-2807f4e68189");
    assert_string_equal(g.r[3].level, "WARN");
    assert_string_equal(g.r[3].request_id, "aws-rid");
    got_free(&g);
}

/* The schema has numbers and integers, never strings: a string, a
 * fractional integer field or a bool is refused (the field, not the
 * record) and counted; an integral real (128.0) is an integer. */
static void test_numbers_as_strings(void **state)
{
    (void)state;
    const char *body =
        "[{\"time\":\"" T0 "\",\"type\":\"platform.report\",\"record\":{"
        "\"requestId\":\"r\",\"status\":\"success\",\"metrics\":{\"durationMs\":\"12.25\","
        "\"billedDurationMs\":13.5,\"memorySizeMB\":128.0,\"maxMemoryUsedMB\":\"nope\","
        "\"initDurationMs\":true}}}]";
    struct got g;
    struct lc_tele_stats st;
    assert_int_equal(parse(body, &g, &st), LC_TELE_OK);
    assert_int_equal(g.n, 1);
    assert_false(g.r[0].has & TP_DURATION);
    assert_false(g.r[0].has & TP_BILLED);
    assert_true(g.r[0].has & TP_MEMORY);
    assert_int_equal(g.r[0].memory_mb, 128);
    assert_false(g.r[0].has & TP_MAX_MEMORY);
    assert_false(g.r[0].has & TP_INIT);
    assert_int_equal(st.ill_typed, 4);
    assert_int_equal(st.out_of_range, 0);
    assert_string_equal(st.refused_field, "durationMs");
    got_free(&g);
}

/* Forged values: negative memory, a duration beyond Lambda's 15 minutes,
 * more memory than the function has; refused and counted, the sane
 * fields of the same record kept. */
static void test_out_of_range(void **state)
{
    (void)state;
    const char *body =
        "[{\"time\":\"" T0 "\",\"type\":\"platform.report\",\"record\":{"
        "\"requestId\":\"r\",\"status\":\"success\",\"metrics\":{\"durationMs\":900000.5,"
        "\"billedDurationMs\":-1,\"memorySizeMB\":-5,\"maxMemoryUsedMB\":64,"
        "\"initDurationMs\":-0.5,\"producedBytes\":-3}}},"
        "{\"time\":\"" T0 "\",\"type\":\"platform.report\",\"record\":{"
        "\"requestId\":\"s\",\"status\":\"success\",\"metrics\":{\"durationMs\":900000,"
        "\"billedDurationMs\":900000,\"memorySizeMB\":10240,\"maxMemoryUsedMB\":10240}}},"
        "{\"time\":\"" T0 "\",\"type\":\"platform.logsDropped\",\"record\":{"
        "\"reason\":\"x\",\"droppedRecords\":-1,\"droppedBytes\":1e300}}]";
    struct got g;
    struct lc_tele_stats st;
    assert_int_equal(parse(body, &g, &st), LC_TELE_OK);
    assert_int_equal(g.n, 3);
    assert_int_equal(g.r[0].has, TP_MAX_MEMORY); /* only the plausible one is left */
    assert_int_equal(g.r[0].max_memory_mb, 64);
    /* the bounds themselves are allowed, without a configured size */
    assert_int_equal(g.r[1].has, TP_DURATION | TP_BILLED | TP_MEMORY | TP_MAX_MEMORY);
    assert_int_equal(g.r[2].has & (TP_DROPPED_RECORDS | TP_DROPPED_BYTES), 0);
    assert_int_equal(st.out_of_range, 5 + 2);
    assert_int_equal(st.ill_typed, 0);
    got_free(&g);

    /* with the function's memory known (128 MB), 10,240 MB is a lie */
    struct lc_tele_limits lim;
    lc_tele_limits_default(&lim);
    lim.memory_mb = 128;
    memset(&g, 0, sizeof g);
    memset(&st, 0, sizeof st);
    const char *big =
        "[{\"time\":\"" T0 "\",\"type\":\"platform.report\",\"record\":{"
        "\"requestId\":\"s\",\"status\":\"success\",\"metrics\":{\"durationMs\":10,"
        "\"billedDurationMs\":10,\"memorySizeMB\":10240,\"maxMemoryUsedMB\":200}}}]";
    assert_int_equal(lc_telemetry_parse(big, strlen(big), &lim, collect, &g, &st), LC_TELE_OK);
    assert_int_equal(g.n, 1);
    assert_int_equal(g.r[0].has, TP_DURATION | TP_BILLED);
    assert_int_equal(st.out_of_range, 2);
    got_free(&g);
}

static void test_missing_fields_and_bad_records(void **state)
{
    (void)state;
    const char *body =
        "[{\"time\":\"" T0 "\",\"type\":\"function\",\"record\":\"one\"},"
        "{\"type\":\"function\",\"record\":\"no time\"},"
        "{\"time\":\"yesterday\",\"type\":\"function\",\"record\":\"bad time\"},"
        "{\"time\":\"" T0 "\",\"type\":\"platform.start\",\"record\":{\"version\":\"1\"}},"
        "{\"time\":\"" T0 "\",\"type\":\"platform.report\",\"record\":\"not an object\"},"
        "{\"time\":\"" T0 "\",\"type\":\"function\",\"record\":12},"
        "{\"time\":\"" T0 "\",\"type\":\"platform.somethingNew\",\"record\":{}},"
        "{\"time\":\"" T0 "\",\"type\":\"function\"},"
        "42,"
        "{\"time\":\"" T0 "\",\"type\":\"function\",\"record\":\"two\"}]";
    struct got g;
    struct lc_tele_stats st;
    assert_int_equal(parse(body, &g, &st), LC_TELE_OK);
    assert_int_equal(st.records, 10);
    assert_int_equal(st.emitted, 2);
    assert_int_equal(st.unknown, 1);
    assert_int_equal(st.malformed, 7);
    assert_int_equal(g.n, 2);
    assert_string_equal(g.r[0].message, "one");
    assert_string_equal(g.r[1].message, "two");
    got_free(&g);
}

static void test_syntax_error_in_one_record(void **state)
{
    (void)state;
    /* The middle record is broken JSON; its neighbours survive. */
    const char *body =
        "[{\"time\":\"" T0 "\",\"type\":\"function\",\"record\":\"a, [b] {c}\"},"
        "{\"time\":\"" T0 "\",\"type\":\"function\",\"record\":tru},"
        "{\"time\":\"" T0 "\",\"type\":\"function\",\"record\":\"c \\\" ] }\"}]";
    struct got g;
    struct lc_tele_stats st;
    assert_int_equal(parse(body, &g, &st), LC_TELE_OK);
    assert_int_equal(st.malformed, 1);
    assert_int_equal(g.n, 2);
    assert_string_equal(g.r[0].message, "a, [b] {c}");
    assert_string_equal(g.r[1].message, "c \" ] }");
    got_free(&g);
}

static void test_not_json(void **state)
{
    (void)state;
    struct got g;
    struct lc_tele_stats st;
    assert_int_equal(parse("hello world", &g, &st), LC_TELE_ENOTJSON);
    assert_int_equal(parse("{\"time\":\"x\"}", &g, &st), LC_TELE_ENOTJSON);
    assert_int_equal(parse("[garbage, more garbage", &g, &st), LC_TELE_ENOTJSON);
    assert_int_equal(parse("[", &g, &st), LC_TELE_ENOTJSON);
    assert_int_equal(parse("", &g, &st), LC_TELE_ENOTJSON);
    assert_int_equal(g.n, 0);
    assert_int_equal(parse(" [ ] ", &g, &st), LC_TELE_OK);
    assert_int_equal(st.records, 0);
}

static void test_invalid_utf8(void **state)
{
    (void)state;
    const char *body =
        "[{\"time\":\"" T0 "\",\"type\":\"function\",\"record\":\"ok\"},"
        "{\"time\":\"" T0 "\",\"type\":\"function\",\"record\":\"bad \xff\xc3( end\"},"
        "{\"time\":\"" T0 "\",\"type\":\"function\",\"record\":\"fine \xe2\x82\xac\"}]";
    struct got g;
    struct lc_tele_stats st;
    assert_int_equal(parse(body, &g, &st), LC_TELE_OK);
    assert_int_equal(g.n, 3);
    assert_int_equal(st.sanitized, 1);
    assert_string_equal(g.r[0].message, "ok");
    assert_string_equal(g.r[1].message, "bad \xef\xbf\xbd\xef\xbf\xbd( end");
    assert_string_equal(g.r[2].message, "fine \xe2\x82\xac");
    got_free(&g);
}

static void test_huge_message_truncated(void **state)
{
    (void)state;
    struct lc_tele_limits lim;
    lc_tele_limits_default(&lim);
    lim.max_message = 100;
    /* 200 x "é" (2 bytes each): the cut must not split a character. */
    char body[1024];
    int k = snprintf(body, sizeof(body), "[{\"time\":\"" T0 "\",\"type\":\"function\",\"record\":\"");
    for (int i = 0; i < 200; i++)
        k += snprintf(body + k, sizeof(body) - (size_t)k, "\xc3\xa9");
    snprintf(body + k, sizeof(body) - (size_t)k, "\"}]");
    struct got g;
    memset(&g, 0, sizeof(g));
    struct lc_tele_stats st;
    assert_int_equal(lc_telemetry_parse(body, strlen(body), &lim, collect, &g, &st), LC_TELE_OK);
    assert_int_equal(g.n, 1);
    assert_true(g.r[0].truncated);
    assert_int_equal(st.truncated, 1);
    assert_true(g.r[0].message_len <= 100);
    size_t mk = strlen(LC_TELE_TRUNC_MARK);
    assert_memory_equal(g.r[0].message + g.r[0].message_len - mk, LC_TELE_TRUNC_MARK, mk);
    size_t kept = g.r[0].message_len - mk;
    assert_int_equal(kept % 2, 0);
    for (size_t i = 0; i < kept; i += 2)
        assert_memory_equal(g.r[0].message + i, "\xc3\xa9", 2);
    got_free(&g);

    /* Same for a JSON-object record. */
    const char *jb = "[{\"time\":\"" T0 "\",\"type\":\"function\",\"record\":{\"message\":"
                     "\"0123456789012345678901234567890123456789012345678901234567890123456789"
                     "01234567890123456789\"}}]";
    memset(&g, 0, sizeof(g));
    assert_int_equal(lc_telemetry_parse(jb, strlen(jb), &lim, collect, &g, &st), LC_TELE_OK);
    assert_true(g.r[0].truncated);
    assert_int_equal(g.r[0].message_len, 100);
    got_free(&g);
}

static void test_default_message_limit(void **state)
{
    (void)state;
    /* 1.5 MiB message with the default 1 MiB limit. */
    size_t n = 1536 * 1024;
    char *body = malloc(n + 128);
    int k = snprintf(body, 128, "[{\"time\":\"" T0 "\",\"type\":\"function\",\"record\":\"");
    memset(body + k, 'a', n);
    strcpy(body + k + n, "\"}]");
    struct got g;
    memset(&g, 0, sizeof(g));
    assert_int_equal(lc_telemetry_parse(body, strlen(body), NULL, collect, &g, NULL), LC_TELE_OK);
    assert_int_equal(g.n, 1);
    assert_int_equal(g.r[0].message_len, LC_TELE_MAX_MESSAGE);
    assert_true(g.r[0].truncated);
    got_free(&g);
    free(body);
}

static void test_too_many_records(void **state)
{
    (void)state;
    struct lc_tele_limits lim;
    lc_tele_limits_default(&lim);
    lim.max_records = 5;
    char body[4096];
    size_t k = 0;
    body[k++] = '[';
    for (int i = 0; i < 8; i++)
        k += (size_t)snprintf(body + k, sizeof(body) - k,
                              "%s{\"time\":\"" T0 "\",\"type\":\"function\",\"record\":\"m%d\"}",
                              i ? "," : "", i);
    body[k++] = ']';
    body[k] = '\0';
    struct got g;
    memset(&g, 0, sizeof(g));
    struct lc_tele_stats st;
    assert_int_equal(lc_telemetry_parse(body, k, &lim, collect, &g, &st), LC_TELE_OK);
    assert_int_equal(st.records, 8);
    assert_int_equal(st.over_limit, 3);
    assert_int_equal(g.n, 5);
    assert_string_equal(g.r[4].message, "m4");
    got_free(&g);
    /* A body over max_body is refused whole. */
    lim.max_body = 10;
    assert_int_equal(lc_telemetry_parse(body, k, &lim, collect, &g, &st), LC_TELE_ETOOBIG);
}

static void test_deep_nesting(void **state)
{
    (void)state;
    /* One record nested too deep, between good ones: it alone is dropped.
     * 100 passes jansson but not our limit; 5000 passes jansson's 2048. */
    static const size_t depths[] = {100, 5000};
    for (size_t d = 0; d < 2; d++) {
        size_t deep = depths[d];
        size_t cap = deep * 2 + 512;
        char *body = malloc(cap);
        size_t k = (size_t)snprintf(body, cap,
                                    "[{\"time\":\"" T0 "\",\"type\":\"function\",\"record\":\"a\"},"
                                    "{\"time\":\"" T0 "\",\"type\":\"function\",\"record\":{\"a\":");
        memset(body + k, '[', deep);
        k += deep;
        memset(body + k, ']', deep);
        k += deep;
        k += (size_t)snprintf(body + k, cap - k,
                              "}},{\"time\":\"" T0 "\",\"type\":\"function\",\"record\":\"b\"}]");
        struct got g;
        memset(&g, 0, sizeof(g));
        struct lc_tele_stats st;
        assert_int_equal(lc_telemetry_parse(body, k, NULL, collect, &g, &st), LC_TELE_OK);
        assert_int_equal(st.malformed, 1);
        assert_int_equal(g.n, 2);
        assert_string_equal(g.r[0].message, "a");
        assert_string_equal(g.r[1].message, "b");
        got_free(&g);
        free(body);
    }
    /* Just under the limit is kept: array, event, record, then 61 levels. */
    char ok[512];
    int k = snprintf(ok, sizeof(ok), "[{\"time\":\"" T0 "\",\"type\":\"function\",\"record\":{\"a\":");
    for (int i = 0; i < 61; i++)
        ok[k++] = '[';
    for (int i = 0; i < 61; i++)
        ok[k++] = ']';
    k += snprintf(ok + k, sizeof(ok) - (size_t)k, "}}]");
    struct got g2;
    memset(&g2, 0, sizeof(g2));
    struct lc_tele_stats st2;
    assert_int_equal(lc_telemetry_parse(ok, (size_t)k, NULL, collect, &g2, &st2), LC_TELE_OK);
    assert_int_equal(st2.malformed, 0);
    assert_int_equal(g2.n, 1);
    assert_true(g2.r[0].is_json);
    got_free(&g2);
}

static void test_callback_stops(void **state)
{
    (void)state;
    struct got g;
    memset(&g, 0, sizeof(g));
    g.stop_after = 2;
    assert_int_equal(lc_telemetry_parse(platform_batch, strlen(platform_batch), NULL, collect,
                                        &g, NULL),
                     LC_TELE_ESTOPPED);
    assert_int_equal(g.n, 2);
    got_free(&g);
}

static void test_nul_in_message(void **state)
{
    (void)state;
    const char *body = "[{\"time\":\"" T0 "\",\"type\":\"function\",\"record\":\"a\\u0000b\"}]";
    struct got g;
    assert_int_equal(parse(body, &g, NULL), LC_TELE_OK);
    assert_int_equal(g.n, 1);
    assert_int_equal(g.r[0].message_len, 3);
    assert_memory_equal(g.r[0].message, "a\0b", 3);
    got_free(&g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_time),
        cmocka_unit_test(test_platform_records),
        cmocka_unit_test(test_is_error),
        cmocka_unit_test(test_runtime_pairing),
        cmocka_unit_test(test_function_logs),
        cmocka_unit_test(test_numbers_as_strings),
        cmocka_unit_test(test_out_of_range),
        cmocka_unit_test(test_missing_fields_and_bad_records),
        cmocka_unit_test(test_syntax_error_in_one_record),
        cmocka_unit_test(test_not_json),
        cmocka_unit_test(test_invalid_utf8),
        cmocka_unit_test(test_huge_message_truncated),
        cmocka_unit_test(test_default_message_limit),
        cmocka_unit_test(test_too_many_records),
        cmocka_unit_test(test_deep_nesting),
        cmocka_unit_test(test_callback_stops),
        cmocka_unit_test(test_nul_in_message),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
