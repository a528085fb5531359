/* trace_decode.c — see trace_decode.h. */
#include "trace_decode.h"

#include <msgpack.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mpwalk.h"

struct dec {
    enum tr_version v;
    msgpack_zone zone;
    bool zone_ok;
    struct tr_str *strings; /* v0.5 table */
    uint32_t nstrings;
    /* per-trace storage, reused */
    struct tr_span *spans;
    uint32_t spans_cap;
    struct tr_meta *meta;
    uint32_t meta_cap;
    struct tr_metric *metrics;
    uint32_t metrics_cap;
    char *err;
    size_t errlen;
};

/* An array header at p: its count and the first element; NULL when p
 * does not start an array or the header is cut. */
static const uint8_t *array_head(const uint8_t *p, const uint8_t *end, uint32_t *count)
{
    if (p >= end)
        return NULL;
    size_t avail = (size_t)(end - p);
    if ((p[0] & 0xf0) == 0x90) {
        *count = p[0] & 0x0fu;
        return p + 1;
    }
    if (p[0] == 0xdc && avail >= 3) {
        *count = (uint32_t)p[1] << 8 | p[2];
        return p + 3;
    }
    if (p[0] == 0xdd && avail >= 5) {
        *count = (uint32_t)p[1] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 8 | p[4];
        return p + 5;
    }
    return NULL;
}

__attribute__((format(printf, 3, 4))) static int fail(struct dec *d, int st, const char *fmt, ...)
{
    if (d->err && d->errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(d->err, d->errlen, fmt, ap);
        va_end(ap);
    }
    return st;
}

static bool grow(void **arr, uint32_t *cap, uint32_t want, size_t elem)
{
    if (want <= *cap)
        return true;
    uint32_t n = *cap ? *cap : 16;
    while (n < want)
        n = n > UINT32_MAX / 2 ? want : n * 2;
    void *a = realloc(*arr, (size_t)n * elem);
    if (a == NULL)
        return false;
    *arr = a;
    *cap = n;
    return true;
}

static bool key_is(const msgpack_object *k, const char *s)
{
    size_t n = strlen(s);
    return k->type == MSGPACK_OBJECT_STR && k->via.str.size == n && memcmp(k->via.str.ptr, s, n) == 0;
}

/* ---- scalar conversions (lenient on kind, strict on shape) --------------- */

static bool as_u64(const msgpack_object *o, uint64_t *out)
{
    switch (o->type) {
    case MSGPACK_OBJECT_POSITIVE_INTEGER: *out = o->via.u64; return true;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER: *out = (uint64_t)o->via.i64; return true;
    case MSGPACK_OBJECT_NIL: *out = 0; return true;
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        if (!(o->via.f64 >= 0 && o->via.f64 < 18446744073709551616.0))
            return false;
        *out = (uint64_t)o->via.f64;
        return true;
    default: return false;
    }
}

static bool as_i64(const msgpack_object *o, int64_t *out)
{
    switch (o->type) {
    case MSGPACK_OBJECT_POSITIVE_INTEGER: *out = (int64_t)o->via.u64; return true;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER: *out = o->via.i64; return true;
    case MSGPACK_OBJECT_NIL: *out = 0; return true;
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        if (!(o->via.f64 > -9.2e18 && o->via.f64 < 9.2e18))
            return false;
        *out = (int64_t)o->via.f64;
        return true;
    default: return false;
    }
}

static bool as_f64(const msgpack_object *o, double *out)
{
    switch (o->type) {
    case MSGPACK_OBJECT_POSITIVE_INTEGER: *out = (double)o->via.u64; return true;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER: *out = (double)o->via.i64; return true;
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64: *out = o->via.f64; return true;
    default: return false;
    }
}

/* v0.4: str, bin or nil. v0.5: an index into the table. */
static bool as_str(struct dec *d, const msgpack_object *o, struct tr_str *out)
{
    if (d->v == TR_V05) {
        if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER || o->via.u64 >= d->nstrings)
            return false;
        *out = d->strings[o->via.u64];
        return true;
    }
    switch (o->type) {
    case MSGPACK_OBJECT_STR: *out = (struct tr_str){o->via.str.ptr, o->via.str.size}; return true;
    case MSGPACK_OBJECT_BIN: *out = (struct tr_str){o->via.bin.ptr, o->via.bin.size}; return true;
    case MSGPACK_OBJECT_NIL: *out = (struct tr_str){"", 0}; return true;
    default: return false;
    }
}

/* ---- spans ---------------------------------------------------------------- */

static int read_meta(struct dec *d, const msgpack_object *o, struct tr_span *s, uint32_t *used)
{
    if (o->type == MSGPACK_OBJECT_NIL)
        return TR_OK;
    if (o->type != MSGPACK_OBJECT_MAP)
        return fail(d, TR_MALFORMED, "span meta is not a map");
    uint32_t n = o->via.map.size;
    if (!grow((void **)&d->meta, &d->meta_cap, *used + n, sizeof *d->meta))
        return fail(d, TR_NOMEM, "out of memory");
    /* offsets, not pointers: the array may move while the trace is read */
    s->meta = (struct tr_meta *)(uintptr_t)*used;
    for (uint32_t i = 0; i < n; i++) {
        struct tr_meta *m = &d->meta[*used];
        if (!as_str(d, &o->via.map.ptr[i].key, &m->k) || !as_str(d, &o->via.map.ptr[i].val, &m->v))
            return fail(d, TR_MALFORMED, "span meta entry is not a string pair");
        (*used)++;
    }
    s->nmeta = n;
    return TR_OK;
}

static int read_metrics(struct dec *d, const msgpack_object *o, struct tr_span *s, uint32_t *used)
{
    if (o->type == MSGPACK_OBJECT_NIL)
        return TR_OK;
    if (o->type != MSGPACK_OBJECT_MAP)
        return fail(d, TR_MALFORMED, "span metrics is not a map");
    uint32_t n = o->via.map.size;
    if (!grow((void **)&d->metrics, &d->metrics_cap, *used + n, sizeof *d->metrics))
        return fail(d, TR_NOMEM, "out of memory");
    s->metrics = (struct tr_metric *)(uintptr_t)*used;
    for (uint32_t i = 0; i < n; i++) {
        struct tr_metric *m = &d->metrics[*used];
        if (!as_str(d, &o->via.map.ptr[i].key, &m->k) || !as_f64(&o->via.map.ptr[i].val, &m->v))
            return fail(d, TR_MALFORMED, "span metrics entry is not string -> number");
        (*used)++;
    }
    s->nmetrics = n;
    return TR_OK;
}

static int span_v04(struct dec *d, const msgpack_object *o, struct tr_span *s, uint32_t *mu, uint32_t *xu)
{
    if (o->type != MSGPACK_OBJECT_MAP)
        return fail(d, TR_MALFORMED, "a v0.4 span is not a map");
    for (uint32_t i = 0; i < o->via.map.size; i++) {
        const msgpack_object *k = &o->via.map.ptr[i].key, *v = &o->via.map.ptr[i].val;
        bool ok = true;
        int64_t e;
        if (k->type != MSGPACK_OBJECT_STR)
            return fail(d, TR_MALFORMED, "a span key is not a string");
        if (key_is(k, "service"))
            ok = as_str(d, v, &s->service);
        else if (key_is(k, "name"))
            ok = as_str(d, v, &s->name);
        else if (key_is(k, "resource"))
            ok = as_str(d, v, &s->resource);
        else if (key_is(k, "type"))
            ok = as_str(d, v, &s->type);
        else if (key_is(k, "trace_id"))
            ok = as_u64(v, &s->trace_id);
        else if (key_is(k, "span_id"))
            ok = as_u64(v, &s->span_id);
        else if (key_is(k, "parent_id"))
            ok = as_u64(v, &s->parent_id);
        else if (key_is(k, "start"))
            ok = as_i64(v, &s->start);
        else if (key_is(k, "duration"))
            ok = as_i64(v, &s->duration);
        else if (key_is(k, "error")) {
            ok = as_i64(v, &e);
            s->error = e != 0;
        } else if (key_is(k, "meta")) {
            int st = read_meta(d, v, s, mu);
            if (st)
                return st;
        } else if (key_is(k, "metrics")) {
            int st = read_metrics(d, v, s, xu);
            if (st)
                return st;
        }
        if (!ok)
            return fail(d, TR_MALFORMED, "span field %.*s has the wrong type", (int)k->via.str.size,
                        k->via.str.ptr);
    }
    return TR_OK;
}

static int span_v05(struct dec *d, const msgpack_object *o, struct tr_span *s, uint32_t *mu, uint32_t *xu)
{
    if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size != 12)
        return fail(d, TR_MALFORMED, "a v0.5 span is not a 12-element array");
    const msgpack_object *a = o->via.array.ptr;
    int64_t e = 0;
    if (!as_str(d, &a[0], &s->service) || !as_str(d, &a[1], &s->name) || !as_str(d, &a[2], &s->resource) ||
        !as_str(d, &a[11], &s->type))
        return fail(d, TR_MALFORMED, "a v0.5 span string is not an index into the string table");
    if (!as_u64(&a[3], &s->trace_id) || !as_u64(&a[4], &s->span_id) || !as_u64(&a[5], &s->parent_id) ||
        !as_i64(&a[6], &s->start) || !as_i64(&a[7], &s->duration) || !as_i64(&a[8], &e))
        return fail(d, TR_MALFORMED, "a v0.5 span number has the wrong type");
    s->error = e != 0;
    int st = read_meta(d, &a[9], s, mu);
    return st ? st : read_metrics(d, &a[10], s, xu);
}

/* One trace (an array of spans): [p, e) already walked (within TR_TRACE_NODES_MAX values). */
static int one_trace(struct dec *d, const uint8_t *p, const uint8_t *e, tr_trace_fn fn, void *arg,
                     uint32_t *ntraces, uint64_t *nspans)
{
    msgpack_zone_clear(&d->zone);
    msgpack_object o;
    size_t off = 0;
    if (msgpack_unpack((const char *)p, (size_t)(e - p), &off, &d->zone, &o) != MSGPACK_UNPACK_SUCCESS)
        return fail(d, TR_MALFORMED, "malformed msgpack");
    if (o.type != MSGPACK_OBJECT_ARRAY)
        return fail(d, TR_MALFORMED, "a trace is not an array of spans");
    uint32_t n = o.via.array.size;
    if (n == 0)
        return TR_OK;
    if (!grow((void **)&d->spans, &d->spans_cap, n, sizeof *d->spans))
        return fail(d, TR_NOMEM, "out of memory");
    uint32_t mu = 0, xu = 0;
    for (uint32_t i = 0; i < n; i++) {
        struct tr_span *s = &d->spans[i];
        memset(s, 0, sizeof *s);
        s->service = s->name = s->resource = s->type = (struct tr_str){"", 0};
        int st = d->v == TR_V05 ? span_v05(d, &o.via.array.ptr[i], s, &mu, &xu)
                                : span_v04(d, &o.via.array.ptr[i], s, &mu, &xu);
        if (st)
            return st;
    }
    for (uint32_t i = 0; i < n; i++) { /* offsets -> pointers, now that nothing moves */
        struct tr_span *s = &d->spans[i];
        s->meta = s->nmeta ? d->meta + (uintptr_t)s->meta : NULL;
        s->metrics = s->nmetrics ? d->metrics + (uintptr_t)s->metrics : NULL;
    }
    struct tr_trace t = {d->spans, n};
    if (fn && fn(&t, arg) != 0)
        return fail(d, TR_STOPPED, "stopped");
    (*ntraces)++;
    *nspans += n;
    return TR_OK;
}

static int string_table(struct dec *d, const uint8_t *p, const uint8_t *end, const uint8_t **next)
{
    uint32_t n;
    const uint8_t *q = array_head(p, end, &n);
    if (q == NULL)
        return fail(d, TR_MALFORMED, "v0.5 payload does not start with a string table");
    if (n > TR_STRINGS_MAX)
        return fail(d, TR_TOO_BIG, "string table of %u entries (at most %u)", n, TR_STRINGS_MAX);
    if (n > (size_t)(end - q))
        return fail(d, TR_MALFORMED, "string table count larger than the body");
    d->strings = malloc(((size_t)n + 1) * sizeof *d->strings);
    if (d->strings == NULL)
        return fail(d, TR_NOMEM, "out of memory");
    for (uint32_t i = 0; i < n; i++) {
        struct mpw_limits lim = {.max_depth = 1, .max_elems = 1, .max_bytes = TR_BODY_MAX};
        size_t used;
        if (mpw_walk(q, (size_t)(end - q), &lim, &used, NULL, 0) != MPW_OK)
            return fail(d, TR_MALFORMED, "truncated string table");
        const uint8_t *e = q + used;
        msgpack_zone_clear(&d->zone);
        msgpack_object o;
        size_t off = 0;
        if (msgpack_unpack((const char *)q, (size_t)(e - q), &off, &d->zone, &o) != MSGPACK_UNPACK_SUCCESS ||
            o.type != MSGPACK_OBJECT_STR)
            return fail(d, TR_MALFORMED, "string table entry %u is not a string", i);
        d->strings[i] = (struct tr_str){o.via.str.ptr, o.via.str.size};
        q = e;
    }
    d->nstrings = n;
    *next = q;
    return TR_OK;
}

int tr_decode(enum tr_version v, const uint8_t *body, size_t len, tr_trace_fn fn, void *arg,
              uint32_t *ntraces, uint64_t *nspans, char *err, size_t errlen)
{
    struct dec d = {.v = v, .err = err, .errlen = errlen};
    uint32_t nt = 0;
    uint64_t ns = 0;
    int st = TR_OK;
    if (err && errlen)
        err[0] = '\0';
    if (len > TR_BODY_MAX) {
        st = fail(&d, TR_TOO_BIG, "body of %zu bytes (at most %u)", len, TR_BODY_MAX);
        goto out;
    }
    if (v != TR_V04 && v != TR_V05) {
        st = fail(&d, TR_MALFORMED, "unknown payload version");
        goto out;
    }
    if (!msgpack_zone_init(&d.zone, 4096)) {
        st = fail(&d, TR_NOMEM, "out of memory");
        goto out;
    }
    d.zone_ok = true;
    const uint8_t *p = body, *end = body + len;
    if (len == 0) {
        st = fail(&d, TR_MALFORMED, "empty body");
        goto out;
    }
    if (v == TR_V05) {
        uint32_t two;
        p = array_head(p, end, &two);
        if (p == NULL || two != 2) {
            st = fail(&d, TR_MALFORMED, "v0.5 payload is not [strings, traces]");
            goto out;
        }
        if ((st = string_table(&d, p, end, &p)) != TR_OK)
            goto out;
    }
    uint32_t n;
    const uint8_t *q = array_head(p, end, &n);
    if (q == NULL) {
        st = fail(&d, TR_MALFORMED, "traces are not an array");
        goto out;
    }
    if (n > (size_t)(end - q)) {
        st = fail(&d, TR_MALFORMED, "trace count larger than the body");
        goto out;
    }
    for (uint32_t i = 0; i < n; i++) {
        struct mpw_limits lim = {.max_depth = TR_DEPTH_MAX, .max_elems = TR_TRACE_NODES_MAX,
                                 .max_bytes = TR_BODY_MAX};
        size_t used;
        char werr[96];
        int w = mpw_walk(q, (size_t)(end - q), &lim, &used, werr, sizeof werr);
        if (w == MPW_TOO_MANY) {
            st = fail(&d, TR_TOO_BIG, "trace %u holds more than %u values", i, TR_TRACE_NODES_MAX);
            goto out;
        }
        if (w != MPW_OK) {
            st = fail(&d, TR_MALFORMED, "trace %u: %s", i, werr);
            goto out;
        }
        const uint8_t *e = q + used;
        if ((st = one_trace(&d, q, e, fn, arg, &nt, &ns)) != TR_OK)
            goto out;
        q = e;
    }
    if (q != end)
        st = fail(&d, TR_MALFORMED, "bytes after the traces");
out:
    if (d.zone_ok)
        msgpack_zone_destroy(&d.zone);
    free(d.strings);
    free(d.spans);
    free(d.meta);
    free(d.metrics);
    if (ntraces)
        *ntraces = nt;
    if (nspans)
        *nspans = ns;
    return st;
}

const char *tr_status_name(int st)
{
    switch (st) {
    case TR_OK: return "ok";
    case TR_MALFORMED: return "malformed";
    case TR_TOO_BIG: return "too big";
    case TR_NOMEM: return "out of memory";
    case TR_STOPPED: return "stopped";
    default: return "?";
    }
}
