/* trace_pb.c — see trace_pb.h. */
#include "trace_pb.h"

#include <stdlib.h>
#include <string.h>

#include "trace.pb-c.h"
#include "utf8.h"

#define TP_FN_TAGS_MAX 64u
#define PRIORITY_KEY "_sampling_priority_v1"
#define ORIGIN_KEY "_dd.origin"
#define FN_TAGS_KEY "_dd.tags.function"

struct blob {
    uint8_t *p;
    size_t n;
    uint32_t spans;
};

struct tp_enc {
    struct tp_opts o;
    char *lang, *lang_version, *tracer_version, *env, *app_version, *fn_tags;
    char *tag_store;
    const char *tag_k[TP_FN_TAGS_MAX], *tag_v[TP_FN_TAGS_MAX];
    unsigned ntags;
    struct blob *chunks;
    size_t nchunks, cap;
    struct tp_stats st;
};

/* ---- a bump arena for one trace's NUL-terminated strings ------------------ */

struct ablock {
    struct ablock *next;
    size_t used, cap;
    char data[];
};

struct arena {
    struct ablock *head;
    bool err;
};

static void *arena_alloc(struct arena *a, size_t n)
{
    n = (n + 7) & ~(size_t)7;
    if (!a->head || a->head->cap - a->head->used < n) {
        size_t cap = n > 65536 ? n : 65536;
        struct ablock *b = malloc(sizeof *b + cap);
        if (!b) {
            a->err = true;
            return NULL;
        }
        b->next = a->head;
        b->used = 0;
        b->cap = cap;
        a->head = b;
    }
    void *p = a->head->data + a->head->used;
    a->head->used += n;
    return p;
}

static void arena_free(struct arena *a)
{
    while (a->head) {
        struct ablock *b = a->head;
        a->head = b->next;
        free(b);
    }
}

static char *astr(struct arena *a, struct tr_str s)
{
    size_t n = utf8_copy_valid(s.p, s.n, NULL);
    char *d = arena_alloc(a, n + 1);
    if (!d)
        return (char *)"";
    utf8_copy_valid(s.p, s.n, d);
    d[n] = '\0';
    return d;
}

static bool str_is(struct tr_str s, const char *lit)
{
    size_t n = strlen(lit);
    return s.n == n && memcmp(s.p, lit, n) == 0;
}

/* ---- encoder -------------------------------------------------------------- */

static char *dup0(const char *s)
{
    return strdup(s ? s : "");
}

static void parse_fn_tags(struct tp_enc *e)
{
    char *s = e->tag_store;
    while (s && *s && e->ntags < TP_FN_TAGS_MAX) {
        char *end = strchr(s, ',');
        if (end)
            *end = '\0';
        char *colon = strchr(s, ':');
        if (colon && colon != s) {
            *colon = '\0';
            e->tag_k[e->ntags] = s;
            e->tag_v[e->ntags] = colon + 1;
            e->ntags++;
        }
        s = end ? end + 1 : NULL;
    }
}

struct tp_enc *tp_new(const struct tp_opts *o)
{
    struct tp_enc *e = calloc(1, sizeof *e);
    if (!e)
        return NULL;
    e->o = *o;
    if (!e->o.max_payload)
        e->o.max_payload = TP_PAYLOAD_MAX_DEFAULT;
    e->lang = dup0(o->lang);
    e->lang_version = dup0(o->lang_version);
    e->tracer_version = dup0(o->tracer_version);
    e->env = dup0(o->env);
    e->app_version = dup0(o->app_version);
    e->fn_tags = dup0(o->fn_tags);
    e->tag_store = dup0(o->fn_tags);
    if (!e->lang || !e->lang_version || !e->tracer_version || !e->env || !e->app_version || !e->fn_tags ||
        !e->tag_store) {
        tp_free(e);
        return NULL;
    }
    parse_fn_tags(e);
    return e;
}

static void drop_chunks(struct tp_enc *e)
{
    for (size_t i = 0; i < e->nchunks; i++)
        free(e->chunks[i].p);
    e->nchunks = 0;
}

void tp_free(struct tp_enc *e)
{
    if (!e)
        return;
    drop_chunks(e);
    free(e->chunks);
    free(e->lang);
    free(e->lang_version);
    free(e->tracer_version);
    free(e->env);
    free(e->app_version);
    free(e->fn_tags);
    free(e->tag_store);
    free(e);
}

static int keep_chunk(struct tp_enc *e, Datadog__Trace__TraceChunk *c)
{
    size_t n = datadog__trace__trace_chunk__get_packed_size(c);
    uint8_t *p = malloc(n ? n : 1);
    if (!p)
        return -1;
    datadog__trace__trace_chunk__pack(c, p);
    if (e->nchunks == e->cap) {
        size_t cap = e->cap ? e->cap * 2 : 16;
        struct blob *b = realloc(e->chunks, cap * sizeof *b);
        if (!b) {
            free(p);
            return -1;
        }
        e->chunks = b;
        e->cap = cap;
    }
    e->chunks[e->nchunks++] = (struct blob){p, n, (uint32_t)c->n_spans};
    e->st.chunks++;
    e->st.spans += (uint32_t)c->n_spans;
    return 0;
}

static const struct tr_span *find_root(const struct tr_trace *t)
{
    for (uint32_t i = 0; i < t->nspans; i++)
        if (t->spans[i].parent_id == 0)
            return &t->spans[i];
    return &t->spans[t->nspans - 1];
}

static bool span_metric(const struct tr_span *s, const char *key, double *v)
{
    for (uint32_t i = 0; i < s->nmetrics; i++)
        if (str_is(s->metrics[i].k, key)) {
            *v = s->metrics[i].v;
            return true;
        }
    return false;
}

static const struct tr_str *span_meta(const struct tr_span *s, const char *key)
{
    for (uint32_t i = 0; i < s->nmeta; i++)
        if (str_is(s->meta[i].k, key))
            return &s->meta[i].v;
    return NULL;
}

/* One protobuf span with the Lambda tags; NULL when out of memory. */
static Datadog__Trace__Span *build_span(struct tp_enc *e, struct arena *a, const struct tr_span *s, bool root)
{
    Datadog__Trace__Span *ps = arena_alloc(a, sizeof *ps);
    if (!ps)
        return NULL;
    *ps = (Datadog__Trace__Span)DATADOG__TRACE__SPAN__INIT;
    ps->service = astr(a, s->service);
    ps->name = astr(a, s->name);
    ps->resource = astr(a, s->resource);
    ps->type = astr(a, s->type);
    ps->traceid = s->trace_id;
    ps->spanid = s->span_id;
    ps->parentid = s->parent_id;
    ps->start = s->start;
    ps->duration = s->duration;
    ps->error = s->error;

    size_t nmeta_max = s->nmeta + e->ntags + 2;
    ps->meta = arena_alloc(a, nmeta_max * sizeof *ps->meta);
    Datadog__Trace__Span__MetaEntry *me = arena_alloc(a, nmeta_max * sizeof *me);
    if (!ps->meta || !me)
        return NULL;
    size_t m = 0;
    for (uint32_t i = 0; i < s->nmeta; i++, m++) {
        me[m] = (Datadog__Trace__Span__MetaEntry)DATADOG__TRACE__SPAN__META_ENTRY__INIT;
        me[m].key = astr(a, s->meta[i].k);
        me[m].value = astr(a, s->meta[i].v);
        ps->meta[m] = &me[m];
    }
    const char *add_k[TP_FN_TAGS_MAX + 2], *add_v[TP_FN_TAGS_MAX + 2];
    unsigned nadd = 0;
    add_k[nadd] = ORIGIN_KEY;
    add_v[nadd++] = "lambda";
    if (root && e->fn_tags[0]) {
        add_k[nadd] = FN_TAGS_KEY;
        add_v[nadd++] = e->fn_tags;
    }
    for (unsigned i = 0; i < e->ntags; i++) {
        add_k[nadd] = e->tag_k[i];
        add_v[nadd++] = e->tag_v[i];
    }
    for (unsigned i = 0; i < nadd; i++) {
        if (span_meta(s, add_k[i]))
            continue; /* the tracer's own value wins */
        me[m] = (Datadog__Trace__Span__MetaEntry)DATADOG__TRACE__SPAN__META_ENTRY__INIT;
        me[m].key = (char *)add_k[i];
        me[m].value = (char *)add_v[i];
        ps->meta[m] = &me[m];
        m++;
    }
    ps->n_meta = m;

    if (s->nmetrics) {
        ps->metrics = arena_alloc(a, s->nmetrics * sizeof *ps->metrics);
        Datadog__Trace__Span__MetricsEntry *xe = arena_alloc(a, s->nmetrics * sizeof *xe);
        if (!ps->metrics || !xe)
            return NULL;
        for (uint32_t i = 0; i < s->nmetrics; i++) {
            xe[i] = (Datadog__Trace__Span__MetricsEntry)DATADOG__TRACE__SPAN__METRICS_ENTRY__INIT;
            xe[i].key = astr(a, s->metrics[i].k);
            xe[i].value = s->metrics[i].v;
            ps->metrics[i] = &xe[i];
        }
        ps->n_metrics = s->nmetrics;
    }
    return a->err ? NULL : ps;
}

/* protobuf length of one repeated message entry with the given body size */
static size_t entry_size(size_t body)
{
    size_t v = 1;
    for (size_t b = body; b >= 0x80; b >>= 7)
        v++;
    return 1 + v + body;
}

int tp_add(struct tp_enc *e, const struct tr_trace *t)
{
    if (t->nspans == 0)
        return 0;
    const struct tr_span *root = find_root(t);
    double pr;
    int32_t priority = 1;
    bool found = span_metric(root, PRIORITY_KEY, &pr);
    for (uint32_t i = 0; !found && i < t->nspans; i++)
        found = span_metric(&t->spans[i], PRIORITY_KEY, &pr);
    if (found && pr == pr) /* NaN: as if absent */
        priority = pr < -128 ? -128 : pr > 127 ? 127 : (int32_t)pr;
    if (e->o.drop_p0 && priority <= 0) {
        e->st.p0_chunks++;
        e->st.p0_spans += t->nspans;
        return 0;
    }
    struct arena a = {0};
    int rc = 0;
    Datadog__Trace__Span **spans = malloc(t->nspans * sizeof *spans);
    if (!spans)
        return -1;
    const struct tr_str *o = span_meta(root, ORIGIN_KEY);
    Datadog__Trace__TraceChunk c = DATADOG__TRACE__TRACE_CHUNK__INIT;
    c.priority = priority;
    c.origin = o && o->n ? astr(&a, *o) : (char *)"lambda";
    /* room for the chunk's own fields and the TracerPayload around it */
    size_t overhead = 64 + strlen(c.origin) + strlen(e->lang) + strlen(e->lang_version) +
                      strlen(e->tracer_version) + strlen(e->env) + strlen(e->app_version) + strlen(e->fn_tags);
    size_t room = e->o.max_payload > overhead + 64 ? e->o.max_payload - overhead : 64;
    size_t used = 0, first = 0;
    for (uint32_t i = 0; i < t->nspans; i++) {
        spans[i] = build_span(e, &a, &t->spans[i], &t->spans[i] == root);
        if (!spans[i]) {
            rc = -1;
            goto out;
        }
    }
    for (uint32_t i = 0; i <= t->nspans; i++) {
        size_t sz = i < t->nspans ? entry_size(datadog__trace__span__get_packed_size(spans[i])) : 0;
        if (i < t->nspans && sz > room) { /* one span the intake could never take */
            e->st.big_spans++;
            spans[i] = NULL;
            continue;
        }
        if (i == t->nspans || used + sz > room) {
            /* close the chunk [first, i) (skipping dropped spans) */
            size_t k = 0;
            for (uint32_t j = (uint32_t)first; j < i; j++)
                if (spans[j])
                    spans[k++ + first] = spans[j];
            c.spans = spans + first;
            c.n_spans = k;
            if (k && keep_chunk(e, &c) != 0) {
                rc = -1;
                goto out;
            }
            first = i;
            used = 0;
        }
        used += sz;
    }
out:
    free(spans);
    arena_free(&a);
    return rc;
}

int tp_add_cb(const struct tr_trace *t, void *arg)
{
    return tp_add(arg, t);
}

static size_t varint(uint8_t *p, size_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (uint8_t)v;
    return n;
}

int tp_emit(struct tp_enc *e, tp_out_fn out, void *arg)
{
    Datadog__Trace__TracerPayload tp = DATADOG__TRACE__TRACER_PAYLOAD__INIT;
    Datadog__Trace__TracerPayload__TagsEntry te = DATADOG__TRACE__TRACER_PAYLOAD__TAGS_ENTRY__INIT;
    Datadog__Trace__TracerPayload__TagsEntry *tags[1] = {&te};
    tp.languagename = e->lang;
    tp.languageversion = e->lang_version;
    tp.tracerversion = e->tracer_version;
    tp.env = e->env;
    tp.appversion = e->app_version;
    if (e->fn_tags[0]) {
        te.key = (char *)FN_TAGS_KEY;
        te.value = e->fn_tags;
        tp.tags = tags;
        tp.n_tags = 1;
    }
    size_t head = datadog__trace__tracer_payload__get_packed_size(&tp);
    int rc = 0;
    size_t i = 0;
    while (i < e->nchunks && rc == 0) {
        size_t total = head, j = i;
        while (j < e->nchunks && (j == i || total + entry_size(e->chunks[j].n) <= e->o.max_payload))
            total += entry_size(e->chunks[j++].n);
        uint8_t *buf = malloc(total);
        if (!buf) {
            rc = -1;
            break;
        }
        size_t off = datadog__trace__tracer_payload__pack(&tp, buf);
        uint32_t spans = 0;
        for (size_t k = i; k < j; k++) {
            spans += e->chunks[k].spans;
            buf[off++] = (6u << 3) | 2u; /* chunks = 6, length-delimited */
            off += varint(buf + off, e->chunks[k].n);
            memcpy(buf + off, e->chunks[k].p, e->chunks[k].n);
            off += e->chunks[k].n;
        }
        rc = out(buf, off, spans, arg);
        free(buf);
        i = j;
    }
    drop_chunks(e);
    return rc;
}

void tp_get_stats(const struct tp_enc *e, struct tp_stats *out)
{
    *out = e->st;
}

int tp_agent_payload(const char *env, const uint8_t *const *blobs, const size_t *lens, size_t n,
                     uint8_t **out, size_t *out_len)
{
    Datadog__Trace__AgentPayload ap = DATADOG__TRACE__AGENT_PAYLOAD__INIT;
    ap.env = (char *)(env ? env : "");
    ap.agentversion = (char *)TP_AGENT_VERSION;
    ap.targettps = 10;
    ap.errortps = 10;
    size_t total = datadog__trace__agent_payload__get_packed_size(&ap);
    for (size_t i = 0; i < n; i++)
        total += entry_size(lens[i]);
    uint8_t *buf = malloc(total ? total : 1);
    if (!buf)
        return -1;
    size_t off = datadog__trace__agent_payload__pack(&ap, buf);
    for (size_t i = 0; i < n; i++) {
        buf[off++] = (5u << 3) | 2u; /* tracerPayloads = 5, length-delimited */
        off += varint(buf + off, lens[i]);
        memcpy(buf + off, blobs[i], lens[i]);
        off += lens[i];
    }
    *out = buf;
    *out_len = off;
    return 0;
}
