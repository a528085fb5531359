/* test_trace_decode.c — flusher/trace_decode.c and flusher/trace_pb.c:
 * v0.4 and v0.5 payloads decode to the spans they hold; malformed,
 * truncated, mistyped and oversized payloads are refused without crashing
 * or allocating for a declared count; conversion stamps the Lambda tags,
 * priority and origin, and drops P0 chunks only when asked. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <msgpack.h>

#include "trace.pb-c.h"
#include "trace_decode.h"
#include "trace_pb.h"

/* ---- payload builders ------------------------------------------------------ */

static void pk_str(msgpack_packer *pk, const char *s)
{
    msgpack_pack_str(pk, strlen(s));
    msgpack_pack_str_body(pk, s, strlen(s));
}

struct sp {
    const char *service, *name, *resource;
    uint64_t trace_id, span_id, parent_id;
    int64_t start, duration;
    int error;
    const char *meta_k, *meta_v;
    const char *metric_k;
    double metric_v;
};

static void pack_v04_span(msgpack_packer *pk, const struct sp *s)
{
    msgpack_pack_map(pk, 13);
    pk_str(pk, "service"); pk_str(pk, s->service);
    pk_str(pk, "name"); pk_str(pk, s->name);
    pk_str(pk, "resource"); pk_str(pk, s->resource);
    pk_str(pk, "trace_id"); msgpack_pack_uint64(pk, s->trace_id);
    pk_str(pk, "span_id"); msgpack_pack_uint64(pk, s->span_id);
    pk_str(pk, "parent_id"); msgpack_pack_uint64(pk, s->parent_id);
    pk_str(pk, "start"); msgpack_pack_int64(pk, s->start);
    pk_str(pk, "duration"); msgpack_pack_int64(pk, s->duration);
    pk_str(pk, "error"); msgpack_pack_int32(pk, s->error);
    pk_str(pk, "type"); pk_str(pk, "serverless");
    pk_str(pk, "meta");
    msgpack_pack_map(pk, s->meta_k ? 1 : 0);
    if (s->meta_k) {
        pk_str(pk, s->meta_k);
        pk_str(pk, s->meta_v);
    }
    pk_str(pk, "metrics");
    msgpack_pack_map(pk, s->metric_k ? 1 : 0);
    if (s->metric_k) {
        pk_str(pk, s->metric_k);
        msgpack_pack_double(pk, s->metric_v);
    }
    pk_str(pk, "meta_struct"); /* skipped by the decoder */
    msgpack_pack_map(pk, 1);
    pk_str(pk, "x");
    msgpack_pack_bin(pk, 2);
    msgpack_pack_bin_body(pk, "ab", 2);
}

static const struct sp ROOT = {"svc", "aws.lambda", "fn", 11, 1, 0, 1700000000000000000, 5000000, 0,
                               "request_id", "req-1", "_sampling_priority_v1", 1};
static const struct sp CHILD = {"svc", "load", "handler.js", 11, 2, 1, 1700000000000100000, 100000, 1,
                                NULL, NULL, NULL, 0};

/* [[root, child], [root of trace 12]] */
static msgpack_sbuffer v04_two_traces(void)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, 2);
    msgpack_pack_array(&pk, 2);
    pack_v04_span(&pk, &ROOT);
    pack_v04_span(&pk, &CHILD);
    msgpack_pack_array(&pk, 1);
    struct sp other = ROOT;
    other.trace_id = 12;
    other.metric_v = 0; /* P0 */
    pack_v04_span(&pk, &other);
    return sb;
}

/* v0.5: strings ["", "svc", "aws.lambda", "fn", "request_id", "req-1", "_sampling_priority_v1",
 * "serverless"], one trace with one span; idx_override replaces the name index */
static msgpack_sbuffer v05_payload(uint64_t name_idx)
{
    static const char *strs[] = {"", "svc", "aws.lambda", "fn", "request_id", "req-1",
                                 "_sampling_priority_v1", "serverless"};
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, 2);
    msgpack_pack_array(&pk, 8);
    for (int i = 0; i < 8; i++)
        pk_str(&pk, strs[i]);
    msgpack_pack_array(&pk, 1);
    msgpack_pack_array(&pk, 1);
    msgpack_pack_array(&pk, 12);
    msgpack_pack_uint32(&pk, 1);
    msgpack_pack_uint64(&pk, name_idx);
    msgpack_pack_uint32(&pk, 3);
    msgpack_pack_uint64(&pk, 77);
    msgpack_pack_uint64(&pk, 78);
    msgpack_pack_uint64(&pk, 0);
    msgpack_pack_int64(&pk, 1700000000000000000);
    msgpack_pack_int64(&pk, 42);
    msgpack_pack_int32(&pk, 1);
    msgpack_pack_map(&pk, 1);
    msgpack_pack_uint32(&pk, 4);
    msgpack_pack_uint32(&pk, 5);
    msgpack_pack_map(&pk, 1);
    msgpack_pack_uint32(&pk, 6);
    msgpack_pack_double(&pk, 2);
    msgpack_pack_uint32(&pk, 7);
    return sb;
}

/* ---- collecting callback ----------------------------------------------------- */

struct got {
    unsigned traces, spans;
    char names[8][32];
    uint64_t trace_ids[8], parent_ids[8];
    int errors[8];
    char meta_v[8][32];
    double metric[8];
};

static void cp(char *dst, struct tr_str s)
{
    size_t n = s.n < 31 ? s.n : 31;
    memcpy(dst, s.p, n);
    dst[n] = '\0';
}

static int collect(const struct tr_trace *t, void *arg)
{
    struct got *g = arg;
    g->traces++;
    for (uint32_t i = 0; i < t->nspans && g->spans < 8; i++, g->spans++) {
        const struct tr_span *s = &t->spans[i];
        cp(g->names[g->spans], s->name);
        g->trace_ids[g->spans] = s->trace_id;
        g->parent_ids[g->spans] = s->parent_id;
        g->errors[g->spans] = s->error;
        if (s->nmeta)
            cp(g->meta_v[g->spans], s->meta[0].v);
        if (s->nmetrics)
            g->metric[g->spans] = s->metrics[0].v;
    }
    return 0;
}

/* ---- decoding ------------------------------------------------------------- */

static void v04_decodes(void **state)
{
    (void)state;
    msgpack_sbuffer sb = v04_two_traces();
    struct got g = {0};
    uint32_t nt;
    uint64_t ns;
    char err[128];
    int st = tr_decode(TR_V04, (const uint8_t *)sb.data, sb.size, collect, &g, &nt, &ns, err, sizeof err);
    assert_int_equal(st, TR_OK);
    assert_int_equal(nt, 2);
    assert_int_equal(ns, 3);
    assert_int_equal(g.traces, 2);
    assert_string_equal(g.names[0], "aws.lambda");
    assert_string_equal(g.names[1], "load");
    assert_int_equal(g.parent_ids[1], 1);
    assert_int_equal(g.errors[1], 1);
    assert_int_equal(g.trace_ids[2], 12);
    assert_string_equal(g.meta_v[0], "req-1");
    assert_true(g.metric[0] == 1.0);
    msgpack_sbuffer_destroy(&sb);
}

static void v05_decodes(void **state)
{
    (void)state;
    msgpack_sbuffer sb = v05_payload(2);
    struct got g = {0};
    int st = tr_decode(TR_V05, (const uint8_t *)sb.data, sb.size, collect, &g, NULL, NULL, NULL, 0);
    assert_int_equal(st, TR_OK);
    assert_int_equal(g.spans, 1);
    assert_string_equal(g.names[0], "aws.lambda");
    assert_int_equal(g.trace_ids[0], 77);
    assert_int_equal(g.errors[0], 1);
    assert_string_equal(g.meta_v[0], "req-1");
    assert_true(g.metric[0] == 2.0);
    msgpack_sbuffer_destroy(&sb);
}

static void v05_bad_index_refused(void **state)
{
    (void)state;
    msgpack_sbuffer sb = v05_payload(8); /* one past the table */
    char err[128];
    assert_int_equal(tr_decode(TR_V05, (const uint8_t *)sb.data, sb.size, collect, &(struct got){0}, NULL,
                               NULL, err, sizeof err),
                     TR_MALFORMED);
    assert_non_null(strstr(err, "string table"));
    msgpack_sbuffer_destroy(&sb);
    sb = v05_payload(UINT64_MAX);
    assert_int_equal(tr_decode(TR_V05, (const uint8_t *)sb.data, sb.size, NULL, NULL, NULL, NULL, NULL, 0),
                     TR_MALFORMED);
    msgpack_sbuffer_destroy(&sb);
}

/* Every strict prefix of a valid payload is refused (never read past the end:
 * each prefix is copied to a buffer of exactly its size for ASan). */
static void truncated_refused(void **state)
{
    (void)state;
    msgpack_sbuffer bufs[2] = {v04_two_traces(), v05_payload(2)};
    enum tr_version vs[2] = {TR_V04, TR_V05};
    for (int b = 0; b < 2; b++) {
        for (size_t n = 1; n < bufs[b].size; n++) {
            uint8_t *cut = malloc(n);
            memcpy(cut, bufs[b].data, n);
            int st = tr_decode(vs[b], cut, n, NULL, NULL, NULL, NULL, NULL, 0);
            assert_int_equal(st, TR_MALFORMED);
            free(cut);
        }
        msgpack_sbuffer_destroy(&bufs[b]);
    }
}

static void wrong_types_refused(void **state)
{
    (void)state;
    /* a trace that is a map */
    const uint8_t a[] = {0x91, 0x80};
    assert_int_equal(tr_decode(TR_V04, a, sizeof a, NULL, NULL, NULL, NULL, NULL, 0), TR_MALFORMED);
    /* a span that is a string */
    const uint8_t b[] = {0x91, 0x91, 0xa1, 'x'};
    assert_int_equal(tr_decode(TR_V04, b, sizeof b, NULL, NULL, NULL, NULL, NULL, 0), TR_MALFORMED);
    /* name given as an array */
    const uint8_t c[] = {0x91, 0x91, 0x81, 0xa4, 'n', 'a', 'm', 'e', 0x90};
    assert_int_equal(tr_decode(TR_V04, c, sizeof c, NULL, NULL, NULL, NULL, NULL, 0), TR_MALFORMED);
    /* trace_id given as a string */
    const uint8_t d[] = {0x91, 0x91, 0x81, 0xa8, 't', 'r', 'a', 'c', 'e', '_', 'i', 'd', 0xa1, '1'};
    assert_int_equal(tr_decode(TR_V04, d, sizeof d, NULL, NULL, NULL, NULL, NULL, 0), TR_MALFORMED);
    /* meta value that is a number */
    const uint8_t e[] = {0x91, 0x91, 0x81, 0xa4, 'm', 'e', 't', 'a', 0x81, 0xa1, 'k', 0x01};
    assert_int_equal(tr_decode(TR_V04, e, sizeof e, NULL, NULL, NULL, NULL, NULL, 0), TR_MALFORMED);
    /* the body is not an array */
    const uint8_t f[] = {0xa1, 'x'};
    assert_int_equal(tr_decode(TR_V04, f, sizeof f, NULL, NULL, NULL, NULL, NULL, 0), TR_MALFORMED);
    /* bytes after the traces */
    const uint8_t g[] = {0x90, 0x00};
    assert_int_equal(tr_decode(TR_V04, g, sizeof g, NULL, NULL, NULL, NULL, NULL, 0), TR_MALFORMED);
    /* a v0.5 span with 11 elements */
    const uint8_t h[] = {0x92, 0x91, 0xa0, 0x91, 0x91, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x80, 0x80};
    assert_int_equal(tr_decode(TR_V05, h, sizeof h, NULL, NULL, NULL, NULL, NULL, 0), TR_MALFORMED);
    /* an empty array of traces is fine, an empty body is not */
    const uint8_t i[] = {0x90};
    assert_int_equal(tr_decode(TR_V04, i, sizeof i, NULL, NULL, NULL, NULL, NULL, 0), TR_OK);
    assert_int_equal(tr_decode(TR_V04, i, 0, NULL, NULL, NULL, NULL, NULL, 0), TR_MALFORMED);
    /* the reserved byte */
    const uint8_t j[] = {0x91, 0x91, 0xc1};
    assert_int_equal(tr_decode(TR_V04, j, sizeof j, NULL, NULL, NULL, NULL, NULL, 0), TR_MALFORMED);
}

/* Counts of 2^32-1 in 5-byte headers: refused by the walk, before any allocation. */
static void huge_counts_refused(void **state)
{
    (void)state;
    const uint8_t a[] = {0xdd, 0xff, 0xff, 0xff, 0xff};
    assert_int_equal(tr_decode(TR_V04, a, sizeof a, NULL, NULL, NULL, NULL, NULL, 0), TR_MALFORMED);
    const uint8_t b[] = {0x91, 0xdd, 0xff, 0xff, 0xff, 0xff, 0xc0};
    assert_int_equal(tr_decode(TR_V04, b, sizeof b, NULL, NULL, NULL, NULL, NULL, 0), TR_MALFORMED);
    const uint8_t c[] = {0x91, 0x91, 0xdf, 0xff, 0xff, 0xff, 0xff};
    assert_int_equal(tr_decode(TR_V04, c, sizeof c, NULL, NULL, NULL, NULL, NULL, 0), TR_MALFORMED);
    const uint8_t d[] = {0x91, 0x91, 0xdb, 0xff, 0xff, 0xff, 0xff, 'x'};
    assert_int_equal(tr_decode(TR_V04, d, sizeof d, NULL, NULL, NULL, NULL, NULL, 0), TR_MALFORMED);
    /* v0.5 string table declaring 2^32-1 entries */
    const uint8_t e[] = {0x92, 0xdd, 0xff, 0xff, 0xff, 0xff, 0x90};
    assert_int_equal(tr_decode(TR_V05, e, sizeof e, NULL, NULL, NULL, NULL, NULL, 0), TR_TOO_BIG);
}

/* A trace of more values than msgpack-c may be asked to hold, and a body over 10 MiB. */
static void size_bounds(void **state)
{
    (void)state;
    size_t n = TR_TRACE_NODES_MAX + 16;
    uint8_t *b = malloc(n + 16);
    size_t o = 0;
    b[o++] = 0x91;
    b[o++] = 0xdd;
    b[o++] = (uint8_t)(n >> 24);
    b[o++] = (uint8_t)(n >> 16);
    b[o++] = (uint8_t)(n >> 8);
    b[o++] = (uint8_t)n;
    memset(b + o, 0x80, n); /* empty span maps */
    o += n;
    assert_int_equal(tr_decode(TR_V04, b, o, NULL, NULL, NULL, NULL, NULL, 0), TR_TOO_BIG);
    free(b);
    uint8_t one = 0x90;
    assert_int_equal(tr_decode(TR_V04, &one, (size_t)TR_BODY_MAX + 1, NULL, NULL, NULL, NULL, NULL, 0),
                     TR_TOO_BIG);
}

/* Deep nesting in a skipped field is refused by the walk's depth bound. */
static void deep_nesting_refused(void **state)
{
    (void)state;
    uint8_t b[64];
    size_t o = 0;
    b[o++] = 0x91;
    b[o++] = 0x91;
    b[o++] = 0x81;
    b[o++] = 0xa1;
    b[o++] = 'z';
    for (int i = 0; i < 40; i++)
        b[o++] = 0x91;
    b[o++] = 0xc0;
    assert_int_equal(tr_decode(TR_V04, b, o, NULL, NULL, NULL, NULL, NULL, 0), TR_MALFORMED);
}

/* ---- conversion ------------------------------------------------------------- */

struct pbs {
    Datadog__Trace__TracerPayload *tp[8];
    size_t n, bytes_max;
};

static int keep_pb(const uint8_t *pb, size_t len, uint32_t nspans, void *arg)
{
    (void)nspans;
    struct pbs *p = arg;
    assert_true(p->n < 8);
    if (len > p->bytes_max)
        p->bytes_max = len;
    p->tp[p->n] = datadog__trace__tracer_payload__unpack(NULL, len, pb);
    assert_non_null(p->tp[p->n]);
    p->n++;
    return 0;
}

static const char *meta_of(const Datadog__Trace__Span *s, const char *k)
{
    for (size_t i = 0; i < s->n_meta; i++)
        if (!strcmp(s->meta[i]->key, k))
            return s->meta[i]->value;
    return NULL;
}

static void convert(bool drop_p0, struct pbs *out)
{
    msgpack_sbuffer sb = v04_two_traces();
    struct tp_opts o = {.lang = "nodejs", .lang_version = "v20.1.0", .tracer_version = "5.1.0",
                        .env = "prod", .fn_tags = "functionname:fn,region:eu-west-1,env:prod",
                        .drop_p0 = drop_p0};
    struct tp_enc *e = tp_new(&o);
    assert_non_null(e);
    assert_int_equal(tr_decode(TR_V04, (const uint8_t *)sb.data, sb.size, tp_add_cb, e, NULL, NULL, NULL, 0),
                     TR_OK);
    assert_int_equal(tp_emit(e, keep_pb, out), 0);
    struct tp_stats st;
    tp_get_stats(e, &st);
    assert_int_equal(st.chunks, drop_p0 ? 1 : 2);
    assert_int_equal(st.p0_chunks, drop_p0 ? 1 : 0);
    tp_free(e);
    msgpack_sbuffer_destroy(&sb);
}

static void conversion_tags(void **state)
{
    (void)state;
    struct pbs p = {0};
    convert(false, &p);
    assert_int_equal(p.n, 1);
    Datadog__Trace__TracerPayload *tp = p.tp[0];
    assert_string_equal(tp->languagename, "nodejs");
    assert_string_equal(tp->tracerversion, "5.1.0");
    assert_int_equal(tp->n_chunks, 2);
    assert_int_equal(tp->chunks[0]->priority, 1);
    assert_int_equal(tp->chunks[1]->priority, 0);
    assert_string_equal(tp->chunks[0]->origin, "lambda");
    assert_int_equal(tp->chunks[0]->n_spans, 2);
    const Datadog__Trace__Span *root = tp->chunks[0]->spans[0], *child = tp->chunks[0]->spans[1];
    assert_string_equal(root->name, "aws.lambda");
    assert_int_equal(root->traceid, 11);
    assert_int_equal(child->parentid, 1);
    assert_int_equal(child->error, 1);
    assert_string_equal(meta_of(root, "request_id"), "req-1");
    assert_string_equal(meta_of(root, "_dd.origin"), "lambda");
    assert_string_equal(meta_of(child, "_dd.origin"), "lambda");
    assert_string_equal(meta_of(child, "functionname"), "fn");
    assert_string_equal(meta_of(child, "region"), "eu-west-1");
    assert_string_equal(meta_of(root, "_dd.tags.function"), "functionname:fn,region:eu-west-1,env:prod");
    assert_null(meta_of(child, "_dd.tags.function"));
    assert_int_equal(tp->n_tags, 1);
    assert_string_equal(tp->tags[0]->key, "_dd.tags.function");
    datadog__trace__tracer_payload__free_unpacked(tp, NULL);
}

static void conversion_drops_p0_when_asked(void **state)
{
    (void)state;
    struct pbs p = {0};
    convert(true, &p);
    assert_int_equal(p.n, 1);
    assert_int_equal(p.tp[0]->n_chunks, 1);
    assert_int_equal(p.tp[0]->chunks[0]->spans[0]->traceid, 11);
    datadog__trace__tracer_payload__free_unpacked(p.tp[0], NULL);
}

/* Invalid UTF-8 in a string becomes U+FFFD; the tracer's own meta key wins. */
static void conversion_sanitizes(void **state)
{
    (void)state;
    struct tr_meta m[1] = {{{"region", 6}, {"mine", 4}}};
    struct tr_span s = {.service = {"a\xffz", 3}, .name = {"n", 1}, .resource = {"", 0}, .type = {"", 0},
                        .trace_id = 5, .span_id = 6, .meta = m, .nmeta = 1};
    struct tr_trace t = {&s, 1};
    struct tp_opts o = {.fn_tags = "region:eu-west-1"};
    struct tp_enc *e = tp_new(&o);
    assert_int_equal(tp_add(e, &t), 0);
    struct pbs p = {0};
    assert_int_equal(tp_emit(e, keep_pb, &p), 0);
    const Datadog__Trace__Span *ps = p.tp[0]->chunks[0]->spans[0];
    assert_string_equal(ps->service, "a\xEF\xBF\xBDz");
    assert_string_equal(meta_of(ps, "region"), "mine");
    datadog__trace__tracer_payload__free_unpacked(p.tp[0], NULL);
    tp_free(e);
}

/* Many spans over a small max_payload: several payloads, each within the
 * bound, every span kept exactly once. */
struct split_count {
    size_t payloads, spans, max_len;
    uint64_t seen_ids;
};

static int count_pb(const uint8_t *pb, size_t len, uint32_t nspans, void *arg)
{
    struct split_count *c = arg;
    Datadog__Trace__TracerPayload *tp = datadog__trace__tracer_payload__unpack(NULL, len, pb);
    assert_non_null(tp);
    c->payloads++;
    size_t in_pb = 0;
    for (size_t i = 0; i < tp->n_chunks; i++)
        in_pb += tp->chunks[i]->n_spans;
    assert_int_equal(in_pb, nspans);
    if (len > c->max_len)
        c->max_len = len;
    for (size_t i = 0; i < tp->n_chunks; i++)
        for (size_t j = 0; j < tp->chunks[i]->n_spans; j++) {
            c->spans++;
            c->seen_ids += tp->chunks[i]->spans[j]->spanid;
        }
    datadog__trace__tracer_payload__free_unpacked(tp, NULL);
    return 0;
}

static void conversion_splits(void **state)
{
    (void)state;
    enum { N = 400 };
    struct tr_span *s = calloc(N, sizeof *s);
    for (int i = 0; i < N; i++)
        s[i] = (struct tr_span){.service = {"svc", 3}, .name = {"op", 2}, .resource = {"resource-name", 13},
                                .type = {"", 0}, .trace_id = 9, .span_id = (uint64_t)i + 1,
                                .parent_id = i ? 1 : 0};
    struct tr_trace t = {s, N};
    struct tp_opts o = {.fn_tags = "functionname:fn", .max_payload = 4096};
    struct tp_enc *e = tp_new(&o);
    assert_int_equal(tp_add(e, &t), 0);
    struct tp_stats st;
    tp_get_stats(e, &st);
    assert_true(st.chunks > 1);
    assert_int_equal(st.spans, N);
    struct split_count c = {0};
    assert_int_equal(tp_emit(e, count_pb, &c), 0);
    assert_true(c.payloads > 1);
    assert_true(c.max_len <= 4096);
    assert_int_equal(c.spans, N);
    assert_int_equal(c.seen_ids, (uint64_t)N * (N + 1) / 2);
    /* emitted means gone */
    struct split_count again = {0};
    assert_int_equal(tp_emit(e, count_pb, &again), 0);
    assert_int_equal(again.payloads, 0);
    tp_free(e);
    free(s);
}

/* AgentPayload around two TracerPayload blobs unpacks with both. */
static void agent_payload_wraps(void **state)
{
    (void)state;
    Datadog__Trace__TracerPayload a = DATADOG__TRACE__TRACER_PAYLOAD__INIT, b = DATADOG__TRACE__TRACER_PAYLOAD__INIT;
    a.languagename = (char *)"nodejs";
    b.languagename = (char *)"python";
    uint8_t ba[64], bb[64];
    size_t la = datadog__trace__tracer_payload__pack(&a, ba), lb = datadog__trace__tracer_payload__pack(&b, bb);
    const uint8_t *blobs[2] = {ba, bb};
    size_t lens[2] = {la, lb};
    uint8_t *out;
    size_t n;
    assert_int_equal(tp_agent_payload("prod", blobs, lens, 2, &out, &n), 0);
    Datadog__Trace__AgentPayload *ap = datadog__trace__agent_payload__unpack(NULL, n, out);
    assert_non_null(ap);
    assert_string_equal(ap->env, "prod");
    assert_string_equal(ap->agentversion, TP_AGENT_VERSION);
    assert_int_equal(ap->n_tracerpayloads, 2);
    assert_string_equal(ap->tracerpayloads[1]->languagename, "python");
    datadog__trace__agent_payload__free_unpacked(ap, NULL);
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(v04_decodes),
        cmocka_unit_test(v05_decodes),
        cmocka_unit_test(v05_bad_index_refused),
        cmocka_unit_test(truncated_refused),
        cmocka_unit_test(wrong_types_refused),
        cmocka_unit_test(huge_counts_refused),
        cmocka_unit_test(size_bounds),
        cmocka_unit_test(deep_nesting_refused),
        cmocka_unit_test(conversion_tags),
        cmocka_unit_test(conversion_drops_p0_when_asked),
        cmocka_unit_test(conversion_sanitizes),
        cmocka_unit_test(conversion_splits),
        cmocka_unit_test(agent_payload_wraps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
