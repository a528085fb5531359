/* test_fl_pipe.c — the flusher pipeline driven by frames, with a fake intake
 * flush that records the posts and lets each test decide their outcomes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "config.h"
#include "fl_ckpt.h"
#include "fl_pipe.h"
#include "frame.h"
#include "log.h"
#include "sketch.pb-c.h"
#include "trace.pb-c.h"

/* ---- fake intake ---------------------------------------------------------- */

#define MAXP 64
struct fpost {
    char url[256];
    char hdr[64];
    char *body;
    size_t len;
    uint64_t tag;
};
struct fcall {
    struct fpost posts[MAXP];
    size_t n;
    fl_post_done_fn each;
    fl_flush_done_fn done;
    void *arg;
    unsigned flags;
};
static struct fcall calls[16];
static size_t ncalls;
static uint64_t kept_tags[MAXP];
static size_t nkept;
static long fake_status; /* HTTP status of every failed post (0: no answer) */

static int fake_flush(void *sender, const struct fl_post *posts, size_t n, uint64_t deadline_us,
                      unsigned flags, fl_post_done_fn each, fl_flush_done_fn done, void *arg)
{
    (void)sender;
    assert_true(deadline_us > 0);
    assert_true(ncalls < 16);
    struct fcall *c = &calls[ncalls++];
    memset(c, 0, sizeof *c);
    c->each = each;
    c->done = done;
    c->arg = arg;
    c->flags = flags;
    /* the retry buffer goes first, as the real client does */
    if (flags & FL_FLUSH_RESEND_KEPT) {
        for (size_t i = 0; i < nkept; i++)
            c->posts[c->n++].tag = kept_tags[i];
        nkept = 0;
    }
    for (size_t i = 0; i < n; i++) {
        struct fpost *p = &c->posts[c->n++];
        snprintf(p->url, sizeof p->url, "%s", posts[i].url);
        if (posts[i].headers && posts[i].headers[0])
            snprintf(p->hdr, sizeof p->hdr, "%s", posts[i].headers[0]);
        p->body = malloc(posts[i].len + 1);
        memcpy(p->body, posts[i].body, posts[i].len);
        p->body[posts[i].len] = '\0';
        p->len = posts[i].len;
        p->tag = posts[i].tag;
    }
    return 0;
}

/* Finish call c: outcome per post (NULL = all OK). */
static void complete(struct fcall *c, const enum fl_outcome *oc)
{
    struct fl_flush_summary s = {.posted = (unsigned)c->n};
    for (size_t i = 0; i < c->n; i++) {
        struct fl_post_result r = {.tag = c->posts[i].tag, .outcome = oc ? oc[i] : FL_OK};
        if (r.outcome != FL_OK) {
            r.http_status = fake_status;
            snprintf(r.error, sizeof r.error, "%s", fake_status ? "Service Unavailable" : "Connection timed out");
        }
        if (r.outcome == FL_FAILED || r.outcome == FL_ABORTED) {
            r.kept = true;
            kept_tags[nkept++] = r.tag;
        }
        switch (r.outcome) {
        case FL_OK: s.ok++; break;
        case FL_FAILED: s.failed++; break;
        case FL_ABORTED: s.aborted++; break;
        default: s.dropped++; break;
        }
        c->each(&r, c->arg);
    }
    c->done(&s, c->arg);
    for (size_t i = 0; i < c->n; i++)
        free(c->posts[i].body);
}

/* ---- frames out ----------------------------------------------------------- */

static uint64_t last_ack, nacks, last_enh;
/* the latest FT_DSD_STATE: its items' kinds and bodies (NUL-terminated) */
static size_t nckpts, ckpt_items;
static int ckpt_kind[8];
static char ckpt_body[8][4096];
static uint8_t ckpt_blob[65536];
static size_t ckpt_blob_len;
static uint64_t flushed_ids[32];
static bool flushed_ok[32];
static bool flushed_unreachable[32];
static size_t nflushed;

static void emit(struct frame_buf *fb, void *arg)
{
    static uint64_t out_seq;
    (void)arg;
    assert_false(fb->err);
    frame_set_seq(fb->p, ++out_seq);
    struct frame f;
    char err[128];
    assert_int_equal(frame_decode(fb->p + FRAME_HDR_LEN, fb->len - FRAME_HDR_LEN, &f, err, sizeof err),
                     0);
    if (f.type == FT_ACK) {
        uint64_t u = f.u.ack.upto;
        /* only ever moves forward: the ack, or the enhanced watermark alone */
        assert_true(u >= last_ack);
        if (f.u.ack.has_enh_upto) {
            assert_true(f.u.ack.enh_upto >= u);
            assert_true(u > last_ack || f.u.ack.enh_upto > last_enh);
            last_enh = f.u.ack.enh_upto;
        } else {
            assert_true(u > last_ack);
        }
        if (u > last_ack)
            nacks++;
        last_ack = u;
    } else if (f.type == FT_DSD_STATE) {
        /* every checkpoint parses; small ones are kept for the test to read */
        nckpts++;
        ckpt_items = 0;
        const uint8_t *blob = f.u.dsd_state.payloads;
        size_t blen = f.u.dsd_state.payloads_len;
        ckpt_blob_len = blen <= sizeof ckpt_blob ? blen : 0;
        if (ckpt_blob_len)
            memcpy(ckpt_blob, blob, blen);
        size_t off = 0;
        unsigned n = 0;
        struct ckpt_item it;
        int rc;
        while ((rc = ckpt_next(blob, blen, &off, &n, &it)) == 1) {
            if (ckpt_items < 8 && it.len < sizeof ckpt_body[0]) {
                ckpt_kind[ckpt_items] = it.kind;
                memcpy(ckpt_body[ckpt_items], it.p, it.len);
                ckpt_body[ckpt_items][it.len] = '\0';
            }
            ckpt_items++;
        }
        assert_int_equal(rc, 0);
    } else if (f.type == FT_FLUSHED) {
        flushed_ids[nflushed] = f.u.flushed.flush_id;
        flushed_ok[nflushed] = f.u.flushed.ok;
        flushed_unreachable[nflushed] = f.u.flushed.has_unreachable && f.u.flushed.unreachable;
        nflushed = (nflushed + 1) % 32;
    }
    frame_free(&f);
    frame_buf_free(fb);
}

/* ---- frames in ------------------------------------------------------------ */

static uint64_t in_seq;

static void feed(struct fl_pipe *p, struct frame_buf *fb)
{
    assert_false(fb->err);
    frame_set_seq(fb->p, ++in_seq);
    struct frame f;
    char err[128];
    assert_int_equal(frame_decode(fb->p + FRAME_HDR_LEN, fb->len - FRAME_HDR_LEN, &f, err, sizeof err),
                     0);
    fl_pipe_frame(p, &f);
    frame_free(&f);
    frame_buf_free(fb);
}

static void feed_context(struct fl_pipe *p, const char *rid)
{
    struct frame_buf fb = {0};
    frame_encode_context(&fb, &(struct ft_context){.fn_name = "my-fn", .fn_version = "$LATEST",
                                                   .account_id = "123456789012", .request_id = rid});
    feed(p, &fb);
}

static void feed_invocation(struct fl_pipe *p, uint64_t n, const char *rid)
{
    struct frame_buf fb = {0};
    frame_encode_invocation(&fb, &(struct ft_invocation){.n = n, .request_id = rid,
                                                         .time_ms = 1700000000000});
    feed(p, &fb);
}

static void feed_log_src(struct fl_pipe *p, const char *rid, const char *msg, enum log_source source)
{
    struct frame_buf fb = {0};
    const struct ft_log_record rec = {.time_ms = 1700000000000, .source = source,
                                      .request_id = rid, .message = msg, .message_len = strlen(msg)};
    frame_encode_logs(&fb, &(struct ft_logs){.records = &rec, .n_records = 1});
    feed(p, &fb);
}

static void feed_log(struct fl_pipe *p, const char *rid, const char *msg)
{
    feed_log_src(p, rid, msg, LOG_SRC_FUNCTION);
}

static void feed_report(struct fl_pipe *p, const char *rid, double dur)
{
    struct frame_buf fb = {0};
    const struct ft_platform m = {
        .event = PE_REPORT, .time_ms = 1700000000000, .request_id = rid,
        .duration_ms = dur, .has_duration_ms = true, .billed_ms = (int64_t)dur + 1,
        .has_billed_ms = true, .memory_mb = 128, .has_memory_mb = true, .max_memory_mb = 60,
        .has_max_memory_mb = true,
    };
    frame_encode_platform(&fb, &m);
    feed(p, &fb);
}

/* One FT_TRACES frame: a TracerPayload of one chunk with one span named name. */
static void feed_traces(struct fl_pipe *p, const char *name)
{
    Datadog__Trace__Span sp = DATADOG__TRACE__SPAN__INIT;
    Datadog__Trace__Span *sps[1] = {&sp};
    Datadog__Trace__TraceChunk ch = DATADOG__TRACE__TRACE_CHUNK__INIT;
    Datadog__Trace__TraceChunk *chs[1] = {&ch};
    Datadog__Trace__TracerPayload tp = DATADOG__TRACE__TRACER_PAYLOAD__INIT;
    sp.name = (char *)name;
    sp.traceid = 42;
    ch.spans = sps;
    ch.n_spans = 1;
    tp.chunks = chs;
    tp.n_chunks = 1;
    tp.languagename = (char *)"nodejs";
    uint8_t buf[256];
    size_t n = datadog__trace__tracer_payload__pack(&tp, buf);
    struct frame_buf fb = {0};
    assert_int_equal(frame_encode_traces(&fb, &(struct ft_traces){.pb = buf, .pb_len = n, .spans = 1,
                                                                  .lang = "nodejs"}), 0);
    feed(p, &fb);
}

static void feed_flush(struct fl_pipe *p, uint64_t id, bool final)
{
    struct frame_buf fb = {0};
    frame_encode_flush(&fb, &(struct ft_flush){.flush_id = id, .budget_ms = 5000, .final = final,
                                               .has_final = final});
    feed(p, &fb);
}

static struct cfg C;
static int sender_dummy;
#define OS_RELEASE_AL2 "fl_pipe_os_release"

static void write_os_release(void)
{
    FILE *f = fopen(OS_RELEASE_AL2, "w");
    assert_non_null(f);
    fputs("NAME=\"Amazon Linux\"\nPRETTY_NAME=\"Amazon Linux 2\"\n", f);
    fclose(f);
}

static struct fl_pipe *new_pipe(bool idle)
{
    memset(&C, 0, sizeof C);
    snprintf(C.site, sizeof C.site, "datadoghq.com");
    snprintf(C.fn_name, sizeof C.fn_name, "my-fn");
    snprintf(C.region, sizeof C.region, "eu-west-1");
    snprintf(C.env, sizeof C.env, "prod");
    snprintf(C.tags, sizeof C.tags, "team:a,tier:b"); /* canonical, as config leaves it */
    C.memory_mb = 128;
    C.metric_contexts = 1024;
    C.logs_enabled = true;
    C.enhanced_metrics = true;
    /* runtime detection never looks at this machine's /proc */
    struct fl_pipe_opts o = {.cfg = &C, .sender = idle ? NULL : &sender_dummy, .flush = fake_flush,
                             .emit = emit, .architecture = "x86_64", .init_type = "on-demand",
                             .proc_root = "/nonexistent/proc", .os_release = OS_RELEASE_AL2};
    ncalls = nkept = 0;
    fake_status = 0;
    last_ack = nacks = last_enh = 0;
    nflushed = 0;
    in_seq = 0;
    nckpts = ckpt_items = 0;
    struct fl_pipe *p = fl_pipe_new(&o);
    assert_non_null(p);
    return p;
}

static size_t count_posts(const struct fcall *c, const char *path)
{
    size_t n = 0;
    for (size_t i = 0; i < c->n; i++)
        if (strstr(c->posts[i].url, path))
            n++;
    return n;
}

static const struct fpost *find_post(const struct fcall *c, const char *path)
{
    for (size_t i = 0; i < c->n; i++)
        if (strstr(c->posts[i].url, path))
            return &c->posts[i];
    return NULL;
}

/* ---- tests ---------------------------------------------------------------- */

static void logs_delivered_then_acked(void **state)
{
    (void)state;
    struct fl_pipe *p = new_pipe(false);
    feed_context(p, NULL);                  /* seq 1 */
    feed_invocation(p, 1, "req-1");         /* seq 2 */
    feed_log(p, NULL, "hello one");         /* seq 3: takes req-1 */
    feed_log(p, "req-x", "hello two");      /* seq 4 */
    feed_flush(p, 7, false);                /* seq 5 */
    assert_int_equal(ncalls, 1);
    assert_int_equal(nflushed, 0);          /* not before the intake answers */
    const struct fpost *lp = find_post(&calls[0], "/api/v2/logs");
    assert_non_null(lp);
    assert_string_equal(lp->hdr, "DD-PROTOCOL: agent-json");
    json_error_t je;
    json_t *arr = json_loads(lp->body, 0, &je);
    assert_non_null(arr);
    assert_int_equal(json_array_size(arr), 2);
    json_t *m0 = json_object_get(json_array_get(arr, 0), "message");
    assert_string_equal(json_string_value(json_object_get(m0, "message")), "hello one");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(m0, "lambda"), "request_id")), "req-1");
    const char *tags = json_string_value(json_object_get(json_array_get(arr, 0), "ddtags"));
    assert_non_null(strstr(tags, "env:prod"));
    assert_non_null(strstr(tags, "team:a"));
    /* the ARN was built from region, account and name */
    assert_non_null(strstr(json_string_value(json_object_get(json_array_get(arr, 0), "hostname")),
                           "arn:aws:lambda:eu-west-1:123456789012:function:my-fn"));
    json_decref(arr);
    /* the invocation counted from FT_INVOCATION: a sketch payload exists */
    assert_int_equal(count_posts(&calls[0], "/api/beta/sketches"), 1);
    complete(&calls[0], NULL);
    assert_int_equal(nflushed, 1);
    assert_int_equal(flushed_ids[0], 7);
    assert_true(flushed_ok[0]);
    assert_int_equal(last_ack, 4);
    fl_pipe_free(p);
}

static void kept_metrics_hold_the_ack(void **state)
{
    (void)state;
    struct fl_pipe *p = new_pipe(false);
    feed_report(p, "req-1", 12.5);          /* seq 1 */
    feed_log(p, "req-1", "line");           /* seq 2 */
    feed_flush(p, 1, false);                /* seq 3 */
    assert_int_equal(ncalls, 1);
    assert_int_equal(count_posts(&calls[0], "/api/beta/sketches"), 1);
    enum fl_outcome oc[MAXP];
    for (size_t i = 0; i < calls[0].n; i++)
        oc[i] = strstr(calls[0].posts[i].url, "sketches") ? FL_FAILED : FL_OK;
    complete(&calls[0], oc);
    assert_int_equal(nflushed, 1);
    assert_false(flushed_ok[0]);
    assert_int_equal(last_ack, 0);          /* seq 1's metrics are only in the retry buffer */
    feed_log(p, "req-1", "later");          /* seq 4 */
    feed_flush(p, 2, false);                /* seq 5 */
    assert_int_equal(ncalls, 2);
    assert_true(calls[1].flags & FL_FLUSH_RESEND_KEPT);
    assert_int_equal(count_posts(&calls[1], "/api/v2/logs"), 1);
    complete(&calls[1], NULL);              /* the resend succeeds */
    assert_int_equal(last_ack, 4);
    assert_true(flushed_ok[1]);
    fl_pipe_free(p);
}

static void failed_logs_not_kept_are_requeued(void **state)
{
    (void)state;
    struct fl_pipe *p = new_pipe(false);
    C.enhanced_metrics = false;
    feed_log(p, "r", "first");              /* seq 1 */
    feed_flush(p, 1, false);
    assert_int_equal(ncalls, 1);
    /* the intake could not keep it (too big for its retry buffer) */
    struct fl_flush_summary s = {.posted = 1, .failed = 1};
    struct fl_post_result r = {.tag = calls[0].posts[0].tag, .outcome = FL_FAILED, .kept = false};
    calls[0].each(&r, calls[0].arg);
    calls[0].done(&s, calls[0].arg);
    free(calls[0].posts[0].body);
    assert_int_equal(last_ack, 0);
    feed_flush(p, 2, false);
    assert_int_equal(ncalls, 2);
    const struct fpost *lp = find_post(&calls[1], "/api/v2/logs");
    assert_non_null(lp);
    assert_non_null(strstr(lp->body, "first"));
    complete(&calls[1], NULL);
    assert_int_equal(last_ack, 1);
    fl_pipe_free(p);
}

/* Trace and stats frames go out at the next flush (an AgentPayload holding
 * the TracerPayload as sent, with the languages header; the stats wrapped
 * and gzip'd) and are acked only once delivered. */
static void traces_delivered_then_acked(void **state)
{
    (void)state;
    struct fl_pipe *p = new_pipe(false);
    C.enhanced_metrics = false;
    feed_traces(p, "span-a");               /* seq 1 */
    struct frame_buf fb = {0};
    const uint8_t stats[] = {0x81, 0xa1, 'k', 0x01}; /* {"k": 1} */
    assert_int_equal(frame_encode_trace_stats(&fb, &(struct ft_trace_stats){.body = stats, .body_len = sizeof stats}),
                     0);
    feed(p, &fb);                           /* seq 2 */
    feed_flush(p, 1, false);                /* seq 3 */
    assert_int_equal(ncalls, 1);
    const struct fpost *tp = find_post(&calls[0], "/api/v0.2/traces");
    assert_non_null(tp);
    assert_string_equal(tp->hdr, "X-Datadog-Reported-Languages: nodejs");
    Datadog__Trace__AgentPayload *ap =
        datadog__trace__agent_payload__unpack(NULL, tp->len, (const uint8_t *)tp->body);
    assert_non_null(ap);
    assert_string_equal(ap->env, "prod");
    assert_int_equal(ap->n_tracerpayloads, 1);
    assert_string_equal(ap->tracerpayloads[0]->chunks[0]->spans[0]->name, "span-a");
    datadog__trace__agent_payload__free_unpacked(ap, NULL);
    const struct fpost *st = find_post(&calls[0], "/api/v0.2/stats");
    assert_non_null(st);
    assert_string_equal(st->hdr, "Content-Encoding: gzip");
    assert_true(st->len > 2 && (uint8_t)st->body[0] == 0x1f && (uint8_t)st->body[1] == 0x8b);
    assert_int_equal(last_ack, 0);          /* nothing delivered yet */
    complete(&calls[0], NULL);
    assert_int_equal(last_ack, 2);
    fl_pipe_free(p);
}

/* A trace post that failed and could not be kept goes again at the next
 * flush; until then its frame holds the ack back. */
static void failed_traces_requeued_hold_the_ack(void **state)
{
    (void)state;
    struct fl_pipe *p = new_pipe(false);
    C.enhanced_metrics = false;
    feed_traces(p, "span-b");               /* seq 1 */
    feed_log(p, "r", "line");               /* seq 2 */
    feed_flush(p, 1, false);
    assert_int_equal(ncalls, 1);
    enum fl_outcome oc[MAXP];
    for (size_t i = 0; i < calls[0].n; i++)
        oc[i] = FL_OK;
    struct fl_flush_summary s = {.posted = (unsigned)calls[0].n};
    for (size_t i = 0; i < calls[0].n; i++) {
        bool tr = strstr(calls[0].posts[i].url, "/api/v0.2/traces") != NULL;
        struct fl_post_result r = {.tag = calls[0].posts[i].tag, .outcome = tr ? FL_FAILED : FL_OK,
                                   .kept = false};
        calls[0].each(&r, calls[0].arg);
        free(calls[0].posts[i].body);
    }
    calls[0].done(&s, calls[0].arg);
    (void)oc;
    assert_int_equal(last_ack, 0);          /* seq 1 undelivered, so seq 2 waits too */
    feed_flush(p, 2, false);
    assert_int_equal(ncalls, 2);
    const struct fpost *tp = find_post(&calls[1], "/api/v0.2/traces");
    assert_non_null(tp);
    complete(&calls[1], NULL);
    assert_int_equal(last_ack, 2);
    fl_pipe_free(p);
}

static bool local_done, local_ok;
static void on_local(bool ok, void *arg)
{
    (void)arg;
    local_done = true;
    local_ok = ok;
}

/* /lambda/flush's flush: a callback, no FT_FLUSHED to the supervisor. */
static void local_flush_calls_back(void **state)
{
    (void)state;
    struct fl_pipe *p = new_pipe(false);
    feed_traces(p, "span-c");
    local_done = false;
    fl_pipe_flush_local(p, 5000, on_local, NULL);
    assert_int_equal(ncalls, 1);
    assert_false(local_done);
    complete(&calls[0], NULL);
    assert_true(local_done);
    assert_true(local_ok);
    assert_int_equal(nflushed, 0);
    fl_pipe_free(p);
}

static void flush_during_flush_waits_and_coalesces(void **state)
{
    (void)state;
    struct fl_pipe *p = new_pipe(false);
    feed_log(p, "r", "a");
    feed_flush(p, 1, false);
    feed_log(p, "r", "b");
    feed_flush(p, 2, false);
    feed_flush(p, 3, true);
    assert_int_equal(ncalls, 1);            /* one at a time */
    complete(&calls[0], NULL);
    assert_int_equal(nflushed, 1);
    assert_int_equal(ncalls, 2);            /* one flush for both waiters */
    const struct fpost *lp = find_post(&calls[1], "/api/v2/logs");
    assert_non_null(lp);
    assert_non_null(strstr(lp->body, "\"b\""));
    /* final: the shutdown metric is in this one */
    assert_int_equal(count_posts(&calls[1], "/api/beta/sketches"), 1);
    complete(&calls[1], NULL);
    assert_int_equal(nflushed, 3);
    assert_int_equal(flushed_ids[1], 2);
    assert_int_equal(flushed_ids[2], 3);
    assert_int_equal(last_ack, 3);          /* seq 3 = log "b" */
    /* a second final flush does not count another shutdown */
    feed_flush(p, 4, true);
    assert_int_equal(ncalls, 3);
    assert_int_equal(count_posts(&calls[2], "/api/beta/sketches"), 0);
    complete(&calls[2], NULL);
    fl_pipe_free(p);
}

static void held_logs_released_on_final(void **state)
{
    (void)state;
    struct fl_pipe *p = new_pipe(false);
    C.enhanced_metrics = false;
    feed_log(p, NULL, "no invocation yet"); /* held: no request id known */
    feed_flush(p, 1, false);
    assert_int_equal(count_posts(&calls[0], "/api/v2/logs"), 0);
    complete(&calls[0], NULL);
    assert_int_equal(last_ack, 0);
    feed_flush(p, 2, true);
    const struct fpost *lp = find_post(&calls[1], "/api/v2/logs");
    assert_non_null(lp);
    assert_non_null(strstr(lp->body, "\"request_id\":null"));
    complete(&calls[1], NULL);
    assert_int_equal(last_ack, 1);
    fl_pipe_free(p);
}

static void dogstatsd_reaches_series(void **state)
{
    (void)state;
    struct fl_pipe *p = new_pipe(false);
    C.enhanced_metrics = false;
    const char *d = "my.count:2|c|#k:v\nmy.count:3|c|#k:v\nbroken line\n";
    fl_pipe_dogstatsd(p, d, strlen(d));
    feed_flush(p, 1, false);
    const struct fpost *sp = find_post(&calls[0], "/api/v2/series");
    assert_non_null(sp);
    json_error_t je;
    json_t *j = json_loads(sp->body, 0, &je);
    assert_non_null(j);
    json_t *s0 = json_array_get(json_object_get(j, "series"), 0);
    assert_string_equal(json_string_value(json_object_get(s0, "metric")), "my.count");
    double v = json_number_value(
        json_object_get(json_array_get(json_object_get(s0, "points"), 0), "value"));
    assert_true(v == 5.0);
    /* the aggregator's common tags: env and DD_TAGS */
    json_t *tags = json_object_get(s0, "tags");
    bool env = false, team = false;
    for (size_t i = 0; i < json_array_size(tags); i++) {
        const char *t = json_string_value(json_array_get(tags, i));
        env |= !strcmp(t, "env:prod");
        team |= !strcmp(t, "team:a");
    }
    assert_true(env && team);
    json_decref(j);
    complete(&calls[0], NULL);
    fl_pipe_free(p);
}

/* the value of the first point of series `metric` in a series JSON body; -1 if none */
static double series_value(const char *body, const char *metric)
{
    json_error_t je;
    json_t *j = json_loads(body, 0, &je);
    assert_non_null(j);
    double v = -1;
    json_t *arr = json_object_get(j, "series"), *e;
    size_t i;
    json_array_foreach(arr, i, e)
        if (!strcmp(json_string_value(json_object_get(e, "metric")), metric))
            v = json_number_value(
                json_object_get(json_array_get(json_object_get(e, "points"), 0), "value"));
    json_decref(j);
    return v;
}

/* Issue 11: the checkpoint follows the data across the flush boundary, and a
 * new pipe given it posts what the dead one had not delivered. */
static void dogstatsd_checkpoint_and_restore(void **state)
{
    (void)state;
    struct fl_pipe *p = new_pipe(false);
    C.enhanced_metrics = false;
    fl_pipe_tick(p);
    assert_int_equal(nckpts, 0); /* nothing received: nothing to say */
    const char *d = "ck.count:2|c\nck.count:3|c";
    fl_pipe_dogstatsd(p, d, strlen(d));
    fl_pipe_tick(p);
    assert_int_equal(nckpts, 1);
    assert_int_equal(ckpt_items, 1);
    assert_int_equal(ckpt_kind[0], CKPT_SERIES);
    assert_true(series_value(ckpt_body[0], "ck.count") == 5.0);
    fl_pipe_tick(p);
    assert_int_equal(nckpts, 1); /* unchanged: not sent again */

    /* the drain is checkpointed before it can reach the intake */
    feed_flush(p, 1, false);
    assert_int_equal(ncalls, 1);
    assert_int_equal(nckpts, 2);
    assert_int_equal(ckpt_items, 1);
    assert_true(series_value(ckpt_body[0], "ck.count") == 5.0);
    uint8_t held[65536];
    size_t held_len = ckpt_blob_len;
    memcpy(held, ckpt_blob, held_len);
    /* data arriving during the flush is in the next checkpoint, apart */
    const char *d2 = "ck.count:7|c";
    fl_pipe_dogstatsd(p, d2, strlen(d2));
    fl_pipe_tick(p);
    assert_int_equal(ckpt_items, 2);
    /* delivered: the checkpoint drops it at once (a restart must not resend it) */
    size_t before = nckpts;
    complete(&calls[0], NULL);
    assert_true(nckpts > before);
    assert_int_equal(ckpt_items, 1);
    assert_true(series_value(ckpt_body[0], "ck.count") == 7.0);
    fl_pipe_free(p);

    /* a new flusher given the checkpoint taken at the flush posts its payload */
    struct fl_pipe *q = new_pipe(false);
    C.enhanced_metrics = false;
    struct frame_buf fb = {0};
    frame_encode_dsd_state(&fb, &(struct ft_dsd_state){.payloads = held, .payloads_len = held_len});
    feed(q, &fb);
    const char *d3 = "ck.other:1|c";
    fl_pipe_dogstatsd(q, d3, strlen(d3));
    feed_flush(q, 1, false);
    assert_int_equal(ncalls, 1);
    assert_int_equal(count_posts(&calls[0], "/api/v2/series"), 2);
    double restored = -1, other = -1;
    for (size_t i = 0; i < calls[0].n; i++) {
        double v = series_value(calls[0].posts[i].body, "ck.count");
        if (v >= 0)
            restored = v;
        v = series_value(calls[0].posts[i].body, "ck.other");
        if (v >= 0)
            other = v;
    }
    assert_true(restored == 5.0 && other == 1.0);
    /* failed and kept for a retry: not final, so both stay in the checkpoint */
    enum fl_outcome oc[2] = {FL_FAILED, FL_FAILED};
    nkept = 0;
    fl_pipe_tick(q);
    complete(&calls[0], oc);
    fl_pipe_dogstatsd(q, d3, strlen(d3));
    fl_pipe_tick(q);
    assert_int_equal(ckpt_items, 3);
    fl_pipe_free(q);

    /* a malformed checkpoint is refused without harm */
    struct fl_pipe *z = new_pipe(false);
    const uint8_t bad[] = {9, 0, 0, 0, 1, 'x'};
    frame_encode_dsd_state(&fb, &(struct ft_dsd_state){.payloads = bad, .payloads_len = sizeof bad});
    feed(z, &fb);
    feed_flush(z, 1, false);
    assert_int_equal(count_posts(&calls[0], "/api/v2/series"), 0);
    complete(&calls[0], NULL);
    fl_pipe_free(z);
}

static void idle_acks_and_sends_nothing(void **state)
{
    (void)state;
    struct fl_pipe *p = new_pipe(true);
    feed_log(p, "r", "x");
    feed_report(p, "r", 3);
    feed_flush(p, 9, false);
    assert_int_equal(ncalls, 0);
    assert_int_equal(nflushed, 1);
    assert_true(flushed_ok[0]);
    assert_int_equal(last_ack, 2);
    fl_pipe_free(p);
}

/* A logs frame with no record (the decoder already refuses bad shapes)
 * still moves the ack watermark once flushed. */
static void empty_logs_frame_acked(void **state)
{
    (void)state;
    struct fl_pipe *p = new_pipe(false);
    C.enhanced_metrics = false;
    struct frame_buf fb = {0};
    frame_encode_logs(&fb, &(struct ft_logs){0});
    feed(p, &fb);
    struct fl_pipe_stats st;
    fl_pipe_get_stats(p, &st);
    assert_int_equal(st.frames_logs, 1);
    assert_int_equal(st.records, 0);
    feed_flush(p, 1, false);
    assert_int_equal(calls[0].n, 0);
    complete(&calls[0], NULL);
    assert_int_equal(last_ack, 1);
    fl_pipe_free(p);
}

/* Log lines captured from the pipe (log_set_sink). */
static char lines[64][512];
static size_t nlines;
static void capture(const char *line, size_t len, void *arg)
{
    (void)arg;
    if (nlines < 64)
        snprintf(lines[nlines++], sizeof lines[0], "%.*s", (int)len, line);
}
static size_t count_lines(const char *prefix, const char *has)
{
    size_t n = 0;
    for (size_t i = 0; i < nlines; i++)
        if (strncmp(lines[i], prefix, strlen(prefix)) == 0 && strstr(lines[i], has))
            n++;
    return n;
}

/* One failing flush: a log line, FT_FLUSH, every post failing. */
static void failing_flush(struct fl_pipe *p, uint64_t id, enum fl_outcome how)
{
    enum fl_outcome oc[MAXP];
    feed_log(p, "req-1", "a line");
    feed_flush(p, id, false);
    assert_int_equal(ncalls, 1);
    for (size_t i = 0; i < MAXP; i++)
        oc[i] = how;
    complete(&calls[0], oc);
    ncalls = 0;
}

/* An intake that fails flush after flush: one WARN line for the lot (the
 * limiter's first gap is far longer than this test), saying why, not one
 * per post per flush; FT_FLUSHED says "unreachable" only when no post got
 * an HTTP answer; delivery working again is said once, and the next
 * failure is told at once. */
static void failing_intake_logs_once(void **state)
{
    (void)state;
    struct fl_pipe *p = new_pipe(false);
    nlines = 0;
    log_set_level(LOG_INFO);
    log_set_sink(capture, NULL);
    feed_context(p, "req-1");
    for (uint64_t id = 1; id <= 20; id++) {
        failing_flush(p, id, FL_ABORTED);
        assert_false(flushed_ok[(nflushed + 31) % 32]);
        assert_true(flushed_unreachable[(nflushed + 31) % 32]);
    }
    assert_int_equal(nlines, 1);
    assert_int_equal(count_lines("WARN | ", "intake unreachable: 0 of "), 1);
    assert_int_equal(count_lines("WARN | ", "(Connection timed out)"), 1);
    /* the intake answers 503s: failing, not unreachable, and still quiet */
    fake_status = 503;
    failing_flush(p, 21, FL_FAILED);
    assert_false(flushed_unreachable[(nflushed + 31) % 32]);
    assert_int_equal(nlines, 1);
    /* back: the kept payloads go out, one INFO line */
    feed_flush(p, 22, false);
    complete(&calls[0], NULL);
    ncalls = 0;
    assert_true(flushed_ok[(nflushed + 31) % 32]);
    assert_int_equal(count_lines("INFO | ", "delivering again after 21 failed flushes"), 1);
    assert_int_equal(nlines, 2);
    fake_status = 0;
    failing_flush(p, 23, FL_ABORTED);
    assert_int_equal(count_lines("WARN | ", "intake unreachable"), 2);
    assert_int_equal(nlines, 3);
    log_set_sink(NULL, NULL);
    fl_pipe_free(p);
}

/* forkcap's own lines, back from the Telemetry API as extension records,
 * are shipped within a small bound; other extensions' lines and the
 * function's are not bounded. */
static void own_lines_bounded(void **state)
{
    (void)state;
    struct fl_pipe *p = new_pipe(false);
    feed_context(p, "req-1");
    for (int i = 0; i < 100; i++)
        feed_log_src(p, "req-1", "WARN | flusher | intake unreachable: 0 of 3 payloads sent", LOG_SRC_EXTENSION);
    for (int i = 0; i < 5; i++)
        feed_log_src(p, "req-1", "INFO | otherext | a line of another extension", LOG_SRC_EXTENSION);
    for (int i = 0; i < 5; i++)
        feed_log_src(p, "req-1", "WARN | flusher | a function that prints lines like ours", LOG_SRC_FUNCTION);
    struct fl_pipe_stats st;
    fl_pipe_get_stats(p, &st);
    assert_int_equal(st.own_lines, 100);
    assert_int_equal(st.own_lines_dropped, 100 - FL_PIPE_OWN_BURST);
    assert_int_equal(st.records, FL_PIPE_OWN_BURST + 5 + 5);
    fl_pipe_free(p);
}

/* Sum of the sketch counts of `metric` in call c's sketch posts. */
static int64_t sketch_count(const struct fcall *c, const char *metric)
{
    int64_t n = 0;
    for (size_t i = 0; i < c->n; i++) {
        if (!strstr(c->posts[i].url, "/api/beta/sketches") || !c->posts[i].body)
            continue;
        Datadog__Agentpayload__SketchPayload *sp = datadog__agentpayload__sketch_payload__unpack(
            NULL, c->posts[i].len, (const uint8_t *)c->posts[i].body);
        assert_non_null(sp);
        for (size_t k = 0; k < sp->n_sketches; k++)
            if (strcmp(sp->sketches[k]->metric, metric) == 0)
                for (size_t d = 0; d < sp->sketches[k]->n_dogsketches; d++)
                    n += sp->sketches[k]->dogsketches[d]->cnt;
        datadog__agentpayload__sketch_payload__free_unpacked(sp, NULL);
    }
    return n;
}

/* A custom-metric cardinality storm (a counter tagged with request ids:
 * 2,500 new contexts per invocation, 100,000 in all, far over the 1,024
 * context limit) cannot starve enhanced metrics: every invocation's
 * aws.lambda.enhanced.invocations and duration are shipped, and the custom
 * samples over the limit are counted. */
static void enhanced_exact_under_storm(void **state)
{
    (void)state;
    struct fl_pipe *p = new_pipe(false);
    const int invocations = 40, per = 2500;
    int64_t inv = 0, dur = 0;
    for (int i = 0; i < invocations; i++) {
        char rid[64], dg[128];
        snprintf(rid, sizeof rid, "7d1e3c52-0000-4000-8000-%012d", i);
        feed_context(p, rid);
        feed_invocation(p, (uint64_t)i + 1, rid); /* the INVOKE, as the supervisor spools it */
        for (int k = 0; k < per; k++) {
            int n = snprintf(dg, sizeof dg, "fn.requests:1|c|#request_id:%d-%d", i, k);
            fl_pipe_dogstatsd(p, dg, (size_t)n);
        }
        feed_report(p, rid, 12.5);
        feed_flush(p, (uint64_t)i + 1, false);
        assert_int_equal(ncalls, 1);
        inv += sketch_count(&calls[0], "aws.lambda.enhanced.invocations");
        dur += sketch_count(&calls[0], "aws.lambda.enhanced.duration");
        complete(&calls[0], NULL);
        ncalls = 0;
    }
    assert_int_equal(inv, invocations);
    assert_int_equal(dur, invocations);
    struct fl_pipe_stats st;
    fl_pipe_get_stats(p, &st);
    assert_int_equal(st.custom.dropped_contexts, (uint64_t)invocations * (per - 1024));
    assert_int_equal(st.custom.added, (uint64_t)invocations * 1024);
    assert_int_equal(st.enhanced.dropped_contexts, 0);
    assert_int_equal(st.enhanced.invalid, 0);
    fl_pipe_free(p);
}

static void feed_platform(struct fl_pipe *p, const struct ft_platform *m)
{
    struct frame_buf fb = {0};
    assert_int_equal(frame_encode_platform(&fb, m), 0);
    feed(p, &fb);
}

/* Platform records arrive as typed fields; the pipe writes Datadog's lines
 * from them, in frame order with the function's own lines. */
static void platform_lines_in_order(void **state)
{
    (void)state;
    struct fl_pipe *p = new_pipe(false);
    feed_platform(p, &(struct ft_platform){.event = PE_START, .time_ms = 1700000000000,
                                           .request_id = "rq", .version = "3"});
    feed_log(p, NULL, "working");
    feed_platform(p, &(struct ft_platform){.event = PE_RUNTIME_DONE, .time_ms = 1700000000100,
                                           .request_id = "rq", .status = "timeout",
                                           .duration_ms = 3000, .has_duration_ms = true,
                                           .is_error = true, .has_is_error = true});
    feed_platform(p, &(struct ft_platform){.event = PE_LOGS_DROPPED, .time_ms = 1700000000150,
                                           .reason = "BufferFull", .dropped_records = 4,
                                           .has_dropped_records = true, .dropped_bytes = 512,
                                           .has_dropped_bytes = true});
    feed_platform(p, &(struct ft_platform){.event = PE_REPORT, .time_ms = 1700000000200,
                                           .request_id = "rq", .duration_ms = 3001.5,
                                           .has_duration_ms = true, .runtime_ms = 3000,
                                           .has_runtime_ms = true, .billed_ms = 3002,
                                           .has_billed_ms = true, .memory_mb = 128,
                                           .has_memory_mb = true, .max_memory_mb = 64,
                                           .has_max_memory_mb = true});
    struct fl_pipe_stats st;
    fl_pipe_get_stats(p, &st);
    assert_int_equal(st.frames_platform, 4);
    assert_int_equal(st.platform_logs_dropped, 1);
    assert_int_equal(st.records, 4); /* START, the function line, END, REPORT */
    feed_flush(p, 1, false);
    const struct fpost *lp = find_post(&calls[0], "/api/v2/logs");
    assert_non_null(lp);
    json_error_t je;
    json_t *arr = json_loads(lp->body, 0, &je);
    assert_non_null(arr);
    assert_int_equal(json_array_size(arr), 4);
    const char *want[][3] = {
        {"START RequestId: rq Version: 3", "info", "rq"},
        {"working", "info", "rq"},
        {"END RequestId: rq Task timed out after 3.00 seconds", "error", "rq"},
        {"REPORT RequestId: rq Duration: 3001.50 ms Runtime Duration: 3000.00 ms Post Runtime "
         "Duration: 1.50 ms Billed Duration: 3002 ms Memory Size: 128 MB Max Memory Used: 64 MB",
         "info", "rq"},
    };
    for (size_t i = 0; i < 4; i++) {
        json_t *m = json_object_get(json_array_get(arr, i), "message");
        assert_string_equal(json_string_value(json_object_get(m, "message")), want[i][0]);
        assert_string_equal(json_string_value(json_object_get(m, "status")), want[i][1]);
        assert_string_equal(
            json_string_value(json_object_get(json_object_get(m, "lambda"), "request_id")), want[i][2]);
    }
    json_decref(arr);
    complete(&calls[0], NULL);
    assert_int_equal(last_ack, 5); /* every data frame (seq 1-5), platform ones too */
    fl_pipe_free(p);
}


/* "invocations" comes from FT_INVOCATION only, once per ordinal: a repeat
 * (a replay, a duplicate) and a platform start are not counted. */
static void invocations_once_per_ordinal(void **state)
{
    (void)state;
    struct fl_pipe *p = new_pipe(false);
    feed_context(p, "req-ctx");  /* a request id in the context counts nothing */
    feed_invocation(p, 1, "req-1");
    feed_invocation(p, 1, "req-1");
    feed_invocation(p, 2, "req-2");
    feed_invocation(p, 2, "req-2");
    feed_invocation(p, 1, "req-1");
    struct frame_buf fb = {0};
    frame_encode_platform(&fb, &(struct ft_platform){.event = PE_START, .time_ms = 1700000000000,
                                                     .request_id = "req-3"});
    feed(p, &fb);
    struct fl_pipe_stats st;
    fl_pipe_get_stats(p, &st);
    assert_int_equal(st.frames_invocation, 5);
    assert_int_equal(st.invocations_counted, 2);
    assert_int_equal(st.invocations_repeated, 3);
    fl_pipe_free(p);
}

/* An invocation the supervisor counted from its platform.start record (its
 * INVOKE was lost) can come after a later invocation's frame: it counts,
 * and the later invocation stays the current one. Its start record right
 * behind it is not "unannounced". */
static void invocation_from_start_counts_not_current(void **state)
{
    (void)state;
    struct fl_pipe *p = new_pipe(false);
    feed_invocation(p, 1, "req-3");
    struct frame_buf fb = {0};
    frame_encode_invocation(&fb, &(struct ft_invocation){.n = 2, .request_id = "req-2", .time_ms = 1700000000000,
                                                         .from_start = true, .has_from_start = true});
    feed(p, &fb);
    frame_encode_platform(&fb, &(struct ft_platform){.event = PE_START, .time_ms = 1700000000000,
                                                     .request_id = "req-2"});
    feed(p, &fb);
    struct fl_pipe_invocation cur;
    fl_pipe_invocation(p, &cur);
    assert_string_equal(cur.request_id, "req-3");
    struct fl_pipe_stats st;
    fl_pipe_get_stats(p, &st);
    assert_int_equal(st.invocations_counted, 2);
    assert_int_equal(st.invocations_repeated, 0);
    assert_int_equal(st.starts_unannounced, 0);
    fl_pipe_free(p);
}

/* An FT_INVOCATION's seq is acked only once the metrics drain holding its
 * count is final: a restarted flusher gets it again if it was not sent. */
static void invocation_acked_after_its_drain(void **state)
{
    (void)state;
    struct fl_pipe *p = new_pipe(false);
    feed_invocation(p, 1, "req-1"); /* seq 1 */
    feed_flush(p, 1, false);        /* seq 2 */
    assert_int_equal(ncalls, 1);
    assert_int_equal(count_posts(&calls[0], "/api/beta/sketches"), 1);
    enum fl_outcome oc[8];
    for (size_t i = 0; i < calls[0].n; i++)
        oc[i] = FL_FAILED; /* kept in the retry buffer: not final */
    complete(&calls[0], oc);
    assert_int_equal(last_ack, 0);
    feed_flush(p, 2, false);
    assert_int_equal(ncalls, 2);
    complete(&calls[1], NULL);
    assert_int_equal(last_ack, 1);
    fl_pipe_free(p);
}

/* The enhanced watermark (FT_ACK enh_upto) moves as soon as a drain's
 * metrics are delivered, though a log payload of the same flush still
 * holds the ack: a restarted flusher must not count them again. */
static void enh_watermark_ahead_of_logs(void **state)
{
    (void)state;
    struct fl_pipe *p = new_pipe(false);
    feed_log(p, "req-1", "hello");  /* seq 1 */
    feed_invocation(p, 1, "req-1"); /* seq 2 */
    feed_report(p, "req-1", 12.0);  /* seq 3 */
    feed_flush(p, 1, false);        /* seq 4 */
    assert_int_equal(ncalls, 1);
    enum fl_outcome oc[8];
    for (size_t i = 0; i < calls[0].n; i++)
        oc[i] = (calls[0].posts[i].tag >> 60) == 1 ? FL_OK : FL_FAILED; /* TAG_ENH ok; logs kept */
    complete(&calls[0], oc);
    assert_int_equal(last_ack, 0); /* the log (seq 1) is in the retry buffer */
    assert_int_equal(last_enh, 3); /* the invocation and report are delivered */
    fl_pipe_free(p);
}

/* A later drain delivered before an earlier one does not move the
 * watermark past the earlier drain's frames. */
static void enh_watermark_waits_for_older_drain(void **state)
{
    (void)state;
    struct fl_pipe *p = new_pipe(false);
    feed_invocation(p, 1, "req-1"); /* seq 1 */
    feed_flush(p, 1, false);        /* seq 2 */
    enum fl_outcome oc[8];
    for (size_t i = 0; i < calls[0].n; i++)
        oc[i] = FL_FAILED; /* kept: drain 1 not final */
    complete(&calls[0], oc);
    feed_invocation(p, 2, "req-2"); /* seq 3 */
    feed_flush(p, 2, false);        /* seq 4 */
    assert_int_equal(ncalls, 2);
    size_t kept = 0;
    for (size_t i = 0; i < calls[1].n; i++)
        oc[i] = (calls[1].posts[i].body == NULL) ? (kept++, FL_FAILED) : FL_OK; /* resends fail again */
    assert_true(kept > 0);
    complete(&calls[1], oc);
    assert_int_equal(last_ack, 0);
    assert_int_equal(last_enh, 0); /* drain 2 is delivered, drain 1 is not */
    feed_flush(p, 3, false);
    complete(&calls[2], NULL);
    assert_int_equal(last_ack, 3); /* the data frames: seq 1 and 3 */
    assert_int_equal(last_enh, 3);
    fl_pipe_free(p);
}

/* Replayed frames marked enh_done: their log lines go out, their enhanced
 * metrics (counted by the flusher that died) do not. */
static void enh_done_replay_not_counted(void **state)
{
    (void)state;
    struct fl_pipe *p = new_pipe(false);
    struct frame_buf fb = {0};
    frame_encode_invocation(&fb, &(struct ft_invocation){.n = 1, .request_id = "req-1", .time_ms = 1700000000000,
                                                         .enh_done = true, .has_enh_done = true});
    feed(p, &fb);
    frame_encode_platform(&fb, &(struct ft_platform){.event = PE_REPORT, .time_ms = 1700000000000,
                                                     .request_id = "req-1", .duration_ms = 5,
                                                     .has_duration_ms = true, .billed_ms = 6,
                                                     .has_billed_ms = true, .memory_mb = 128,
                                                     .has_memory_mb = true, .enh_done = true,
                                                     .has_enh_done = true});
    feed(p, &fb);
    feed_invocation(p, 1, "req-1"); /* the same ordinal again: a repeat */
    feed_flush(p, 1, false);
    assert_int_equal(ncalls, 1);
    assert_int_equal(count_posts(&calls[0], "/api/beta/sketches"), 0);
    assert_int_equal(count_posts(&calls[0], "/api/v2/logs"), 1); /* the REPORT line */
    struct fl_pipe_stats st;
    fl_pipe_get_stats(p, &st);
    assert_int_equal(st.invocations_counted, 0);
    assert_int_equal(st.enh_replayed, 2);
    assert_int_equal(st.invocations_repeated, 1);
    complete(&calls[0], NULL);
    assert_int_equal(last_ack, 3);
    fl_pipe_free(p);
}

static void feed_init_start(struct fl_pipe *p, const char *rv)
{
    feed_platform(p, &(struct ft_platform){.event = PE_INIT_START, .time_ms = 1700000000000,
                                           .runtime_version = rv});
}

static void feed_context_v(struct fl_pipe *p, const char *version, const char *rid)
{
    struct frame_buf fb = {0};
    frame_encode_context(&fb, &(struct ft_context){.fn_name = "My-Fn", .fn_version = version,
                                                   .account_id = "123456789012", .request_id = rid});
    feed(p, &fb);
}

/* The tags of series NAME in the first call's series post, joined with ','
 * in the order given, the function tags only (the line's own are "own:*"). */
static void series_tags(const char *name, char *out, size_t cap)
{
    const struct fpost *sp = find_post(&calls[0], "/api/v2/series");
    assert_non_null(sp);
    json_error_t je;
    json_t *j = json_loads(sp->body, 0, &je);
    assert_non_null(j);
    json_t *arr = json_object_get(j, "series"), *s;
    size_t i;
    out[0] = '\0';
    json_array_foreach(arr, i, s) {
        if (strcmp(json_string_value(json_object_get(s, "metric")), name))
            continue;
        json_t *t;
        size_t k;
        json_array_foreach(json_object_get(s, "tags"), k, t) {
            const char *v = json_string_value(t);
            if (!strncmp(v, "own:", 4))
                continue;
            snprintf(out + strlen(out), cap - strlen(out), "%s%s", out[0] ? "," : "", v);
        }
    }
    json_decref(j);
}

static void log_ddtags(char *out, size_t cap)
{
    const struct fpost *lp = find_post(&calls[0], "/api/v2/logs");
    assert_non_null(lp);
    json_error_t je;
    json_t *arr = json_loads(lp->body, 0, &je);
    assert_non_null(arr);
    snprintf(out, cap, "%s", json_string_value(json_object_get(json_array_get(arr, 0), "ddtags")));
    json_decref(arr);
}

/* Custom metrics carry the whole function tag set, logs carry the same
 * values; initStart's runtime wins over os-release (which says al2). */
static void function_tags_on_metrics_and_logs(void **state)
{
    (void)state;
    write_os_release();
    static const char *const versions[] = {"7", "$LATEST"};
    for (int v = 0; v < 2; v++) {
        struct fl_pipe *p = new_pipe(false);
        snprintf(C.service, sizeof C.service, "RcSvc");
        snprintf(C.version, sizeof C.version, "1.0");
        feed_init_start(p, "nodejs:20.v13");
        feed_context_v(p, versions[v], "req-1");
        const char *d = "custom.count:1|c|#own:x";
        fl_pipe_dogstatsd(p, d, strlen(d));
        feed_log(p, "req-1", "hello");
        feed_flush(p, 1, false);
        char mt[2048], lt[2048];
        series_tags("custom.count", mt, sizeof mt);
        log_ddtags(lt, sizeof lt);
        const char *want_v =
            "account_id:123456789012,architecture:x86_64,aws_account:123456789012,"
            "dd_extension_version:forkcap,env:prod,executedversion:7,"
            "function_arn:arn:aws:lambda:eu-west-1:123456789012:function:my-fn,"
            "functionname:My-Fn,init_type:on-demand,memorysize:128,region:eu-west-1,"
            "resource:My-Fn:7,runtime:nodejs20.x,service:rcsvc,team:a,tier:b,version:1.0";
        const char *want_l =
            "account_id:123456789012,architecture:x86_64,aws_account:123456789012,"
            "dd_extension_version:forkcap,env:prod,"
            "function_arn:arn:aws:lambda:eu-west-1:123456789012:function:my-fn,"
            "functionname:My-Fn,init_type:on-demand,memorysize:128,region:eu-west-1,"
            "resource:My-Fn,runtime:nodejs20.x,service:rcsvc,team:a,tier:b,version:1.0";
        assert_string_equal(mt, v == 0 ? want_v : want_l);
        assert_string_equal(lt, mt);
        assert_string_equal(fl_pipe_function_tags(p), mt);
        complete(&calls[0], NULL);
        fl_pipe_free(p);
    }
    remove(OS_RELEASE_AL2);
}

/* No initStart before the first datagram: os-release answers (no /proc
 * here), and the answer stays even when initStart comes later. */
static void runtime_resolved_once(void **state)
{
    (void)state;
    write_os_release();
    struct fl_pipe *p = new_pipe(false);
    C.enhanced_metrics = false;
    feed_context_v(p, "$LATEST", NULL);
    const char *d = "custom.count:1|c";
    fl_pipe_dogstatsd(p, d, strlen(d));
    feed_init_start(p, "python:3.12.v20");
    fl_pipe_dogstatsd(p, d, strlen(d));
    feed_flush(p, 1, false);
    char mt[2048];
    series_tags("custom.count", mt, sizeof mt);
    assert_non_null(strstr(mt, "runtime:provided.al2,"));
    assert_null(strstr(mt, "python"));
    complete(&calls[0], NULL);
    fl_pipe_free(p);
    remove(OS_RELEASE_AL2);
}

/* datadog-lambda-js's own invocations line is dropped and counted; forkcap
 * still counts the invocation once from FT_CONTEXT. */
static void library_invocations_dropped(void **state)
{
    (void)state;
    struct fl_pipe *p = new_pipe(false);
    feed_context_v(p, "$LATEST", "req-1");
    const char *d = "aws.lambda.enhanced.invocations:1|d|#functionname:my-fn,datadog_lambda:v9.0.0";
    fl_pipe_dogstatsd(p, d, strlen(d));
    struct fl_pipe_stats st;
    fl_pipe_get_stats(p, &st);
    assert_int_equal(st.dsd_owned_dropped, 1);
    fl_pipe_free(p);
    /* with forkcap's enhanced metrics off, the library's copy is kept */
    p = new_pipe(false);
    C.enhanced_metrics = false;
    fl_pipe_dogstatsd(p, d, strlen(d));
    fl_pipe_get_stats(p, &st);
    assert_int_equal(st.dsd_owned_dropped, 0);
    fl_pipe_free(p);
}

/* A forged start record (a request id no INVOKE announced) creates no
 * invocation; the real one is counted once, whether its start record
 * comes or not. */
static void unknown_request_id_counts_nothing(void **state)
{
    (void)state;
    struct fl_pipe *p = new_pipe(false);
    feed_context(p, "real-1");
    feed_invocation(p, 1, "real-1");
    feed_platform(p, &(struct ft_platform){.event = PE_START, .time_ms = 1700000000000,
                                           .request_id = "real-1", .version = "1"});
    for (int i = 0; i < 5; i++) {
        char rid[32];
        snprintf(rid, sizeof rid, "forged-%d", i);
        feed_platform(p, &(struct ft_platform){.event = PE_START, .time_ms = 1700000000000,
                                               .request_id = rid, .version = "1"});
    }
    struct fl_pipe_stats st;
    fl_pipe_get_stats(p, &st);
    assert_int_equal(st.starts_unannounced, 5);
    feed_flush(p, 1, false);
    assert_int_equal(sketch_count(&calls[0], "aws.lambda.enhanced.invocations"), 1);
    complete(&calls[0], NULL);
    fl_pipe_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(logs_delivered_then_acked),
        cmocka_unit_test(kept_metrics_hold_the_ack),
        cmocka_unit_test(enh_watermark_ahead_of_logs),
        cmocka_unit_test(enh_watermark_waits_for_older_drain),
        cmocka_unit_test(enh_done_replay_not_counted),
        cmocka_unit_test(failed_logs_not_kept_are_requeued),
        cmocka_unit_test(flush_during_flush_waits_and_coalesces),
        cmocka_unit_test(held_logs_released_on_final),
        cmocka_unit_test(dogstatsd_reaches_series),
        cmocka_unit_test(dogstatsd_checkpoint_and_restore),
        cmocka_unit_test(idle_acks_and_sends_nothing),
        cmocka_unit_test(empty_logs_frame_acked),
        cmocka_unit_test(failing_intake_logs_once),
        cmocka_unit_test(own_lines_bounded),
        cmocka_unit_test(enhanced_exact_under_storm),
        cmocka_unit_test(unknown_request_id_counts_nothing),
        cmocka_unit_test(traces_delivered_then_acked),
        cmocka_unit_test(failed_traces_requeued_hold_the_ack),
        cmocka_unit_test(local_flush_calls_back),
        cmocka_unit_test(platform_lines_in_order),
        cmocka_unit_test(invocations_once_per_ordinal),
        cmocka_unit_test(invocation_from_start_counts_not_current),
        cmocka_unit_test(invocation_acked_after_its_drain),
        cmocka_unit_test(function_tags_on_metrics_and_logs),
        cmocka_unit_test(runtime_resolved_once),
        cmocka_unit_test(library_invocations_dropped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
