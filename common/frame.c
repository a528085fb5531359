/* frame.c — see frame.h. The reader walks the msgpack bytes itself: a
 * declared count is only believed when the bytes left could hold it, and
 * node storage grows with values actually read, never with a declaration. */
#include "frame.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- field specification (implements the comments of frame_types.h) -- */

enum fk { K_STR, K_UINT, K_INT, K_FLOAT, K_BOOL, K_LOGRECS, K_BIN };

struct field_spec {
    const char *key;
    enum fk kind;
    bool required;
};

struct type_spec {
    uint32_t type;
    const char *name;
    unsigned dirs;
    const struct field_spec *fields;
};

#define R true
#define O false
static const struct field_spec f_registered[] = {
    {"ext_id", K_STR, R}, {"fn_name", K_STR, R}, {"fn_version", K_STR, R},
    {"account_id", K_STR, O}, {"t_start_us", K_UINT, R}, {"t_register_us", K_UINT, R},
    {NULL, 0, 0}};
static const struct field_spec f_subscribed[] = {
    {"status", K_INT, R}, {"t_subscribe_us", K_UINT, R}, {NULL, 0, 0}};
static const struct field_spec f_next_wait[] = {{"t_us", K_UINT, R}, {NULL, 0, 0}};
static const struct field_spec f_invoke[] = {
    {"request_id", K_STR, R}, {"deadline_ms", K_INT, R}, {"arn", K_STR, R},
    {"trace", K_STR, O}, {NULL, 0, 0}};
static const struct field_spec f_shutdown[] = {
    {"reason", K_STR, R}, {"deadline_ms", K_INT, R}, {NULL, 0, 0}};
static const struct field_spec f_fatal[] = {{"error", K_STR, R}, {"status", K_INT, O}, {NULL, 0, 0}};
static const struct field_spec f_platform[] = {
    {"event", K_STR, R}, {"time_ms", K_INT, R}, {"request_id", K_STR, O},
    {"status", K_STR, O}, {"error_type", K_STR, O}, {"duration_ms", K_FLOAT, O},
    {"billed_ms", K_INT, O}, {"memory_mb", K_INT, O}, {"max_memory_mb", K_INT, O},
    {"init_ms", K_FLOAT, O}, {"produced_bytes", K_INT, O}, {"version", K_STR, O},
    {"runtime_version", K_STR, O}, {"phase", K_STR, O}, {"overhead_ms", K_FLOAT, O},
    {"dropped_records", K_INT, O}, {"dropped_bytes", K_INT, O}, {NULL, 0, 0}};
static const struct field_spec f_logs[] = {{"records", K_LOGRECS, R}, {NULL, 0, 0}};
static const struct field_spec f_empty[] = {{NULL, 0, 0}};
static const struct field_spec f_context[] = {
    {"fn_name", K_STR, R}, {"fn_version", K_STR, R}, {"account_id", K_STR, O},
    {"arn", K_STR, O}, {"request_id", K_STR, O}, {"cold_start", K_BOOL, O}, {NULL, 0, 0}};
static const struct field_spec f_flush[] = {
    {"flush_id", K_UINT, R}, {"budget_ms", K_UINT, R}, {"final", K_BOOL, O}, {NULL, 0, 0}};
static const struct field_spec f_ready[] = {
    {"t_start_us", K_UINT, R}, {"t_tls_us", K_UINT, R}, {"t_ready_us", K_UINT, R},
    {"tls_ok", K_BOOL, O}, {NULL, 0, 0}};
static const struct field_spec f_ack[] = {{"upto", K_UINT, R}, {NULL, 0, 0}};
static const struct field_spec f_flushed[] = {
    {"flush_id", K_UINT, R}, {"ok", K_BOOL, R}, {"sent", K_UINT, O}, {"failed", K_UINT, O},
    {"dropped", K_UINT, O}, {"ms", K_UINT, O}, {NULL, 0, 0}};
static const struct field_spec f_traces[] = {
    {"pb", K_BIN, R}, {"spans", K_UINT, R}, {"lambda_rid", K_STR, O}, {"lang", K_STR, O},
    {NULL, 0, 0}};
static const struct field_spec f_trace_stats[] = {{"body", K_BIN, R}, {NULL, 0, 0}};
#undef R
#undef O

static const struct type_spec types[] = {
    {FT_REGISTERED, "REGISTERED", FRAME_DIR_L2S, f_registered},
    {FT_SUBSCRIBED, "SUBSCRIBED", FRAME_DIR_L2S, f_subscribed},
    {FT_NEXT_WAIT, "NEXT_WAIT", FRAME_DIR_L2S, f_next_wait},
    {FT_INVOKE, "INVOKE", FRAME_DIR_L2S, f_invoke},
    {FT_SHUTDOWN, "SHUTDOWN", FRAME_DIR_L2S, f_shutdown},
    {FT_FATAL, "FATAL", FRAME_DIR_L2S, f_fatal},
    {FT_PLATFORM, "PLATFORM", FRAME_DIR_L2S | FRAME_DIR_S2F, f_platform},
    {FT_LOGS, "LOGS", FRAME_DIR_L2S | FRAME_DIR_S2F, f_logs},
    {FT_GO, "GO", FRAME_DIR_S2L, f_empty},
    {FT_CONTEXT, "CONTEXT", FRAME_DIR_S2F, f_context},
    {FT_FLUSH, "FLUSH", FRAME_DIR_S2F, f_flush},
    {FT_READY, "READY", FRAME_DIR_F2S, f_ready},
    {FT_ACK, "ACK", FRAME_DIR_F2S, f_ack},
    {FT_FLUSHED, "FLUSHED", FRAME_DIR_F2S, f_flushed},
    {FT_TRACES, "TRACES", FRAME_DIR_F2S | FRAME_DIR_S2F, f_traces},
    {FT_TRACE_STATS, "TRACE_STATS", FRAME_DIR_F2S | FRAME_DIR_S2F, f_trace_stats},
};

static const struct type_spec *spec_of(uint32_t type)
{
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (types[i].type == type)
            return &types[i];
    return NULL;
}

unsigned frame_type_dirs(uint32_t type)
{
    const struct type_spec *s = spec_of(type);
    return s ? s->dirs : 0;
}

const char *frame_type_name(uint32_t type)
{
    const struct type_spec *s = spec_of(type);
    return s ? s->name : "UNKNOWN";
}

uint32_t frame_hdr_len(const uint8_t hdr[FRAME_HDR_LEN])
{
    uint32_t n = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 | (uint32_t)hdr[2] << 8 | hdr[3];
    return (n == 0 || n > FRAME_MAX) ? 0 : n;
}

/* ---- reader ------------------------------------------------------------ */

struct rd {
    const uint8_t *p;
    size_t len, off;
    struct fv *nodes;
    uint32_t nnodes, cap;
    size_t str_bytes; /* arena size needed */
    char *err;
    size_t errlen;
};

static int rd_fail(struct rd *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int rd_fail(struct rd *r, const char *fmt, ...)
{
    if (r->err && r->errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(r->err, r->errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static bool rd_need(struct rd *r, size_t n) { return r->len - r->off >= n; }

static uint64_t rd_be(struct rd *r, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = v << 8 | r->p[r->off + i];
    r->off += n;
    return v;
}

static int rd_node(struct rd *r, uint32_t *idx)
{
    if (r->nnodes == FRAME_NODES_MAX)
        return rd_fail(r, "more than %u values", FRAME_NODES_MAX);
    if (r->nnodes == r->cap) {
        uint32_t ncap = r->cap ? r->cap * 2 : 32;
        if (ncap > FRAME_NODES_MAX)
            ncap = FRAME_NODES_MAX;
        struct fv *n = realloc(r->nodes, (size_t)ncap * sizeof *n);
        if (n == NULL)
            return rd_fail(r, "out of memory");
        r->nodes = n;
        r->cap = ncap;
    }
    *idx = r->nnodes++;
    memset(&r->nodes[*idx], 0, sizeof r->nodes[*idx]);
    return 0;
}

static int rd_value(struct rd *r, unsigned depth, bool key);

/* Strings/bins: remember the payload offset in v.u; copied to the arena later. */
static int rd_bytes(struct rd *r, uint32_t idx, uint8_t kind, uint64_t n)
{
    if (!rd_need(r, n))
        return rd_fail(r, "truncated: %s of %llu bytes", kind == FV_STR ? "str" : "bin",
                       (unsigned long long)n);
    r->nodes[idx].kind = kind;
    r->nodes[idx].n = (uint32_t)n;
    r->nodes[idx].v.u = r->off;
    r->off += n;
    r->str_bytes += n + 1;
    return 0;
}

static int rd_container(struct rd *r, uint32_t idx, uint8_t kind, uint64_t n, unsigned depth)
{
    if (depth >= FRAME_DEPTH_MAX)
        return rd_fail(r, "nested deeper than %u", FRAME_DEPTH_MAX);
    /* every element takes at least one byte: refuse counts the input cannot hold */
    uint64_t min_bytes = kind == FV_MAP ? n * 2 : n;
    if (!rd_need(r, min_bytes))
        return rd_fail(r, "%s declares %llu elements, only %zu bytes left",
                       kind == FV_MAP ? "map" : "array", (unsigned long long)n, r->len - r->off);
    r->nodes[idx].kind = kind;
    r->nodes[idx].n = (uint32_t)n;
    for (uint64_t i = 0; i < n; i++) {
        if (kind == FV_MAP && rd_value(r, depth + 1, true) < 0)
            return -1;
        if (rd_value(r, depth + 1, false) < 0)
            return -1;
    }
    return 0;
}

static int rd_value(struct rd *r, unsigned depth, bool key)
{
    uint32_t idx = 0;
    if (!rd_need(r, 1))
        return rd_fail(r, "truncated");
    if (rd_node(r, &idx) < 0)
        return -1;
    uint8_t b = r->p[r->off++];
    struct fv *v;
    int rc = 0;
    uint64_t u;

    if (key && !((b >= 0xa0 && b <= 0xbf) || b == 0xd9 || b == 0xda || b == 0xdb))
        return rd_fail(r, "map key is not a string");

#define NEED(n) do { if (!rd_need(r, (n))) return rd_fail(r, "truncated"); } while (0)
    if (b <= 0x7f) {
        r->nodes[idx].kind = FV_UINT;
        r->nodes[idx].v.u = b;
    } else if (b >= 0xe0) {
        r->nodes[idx].kind = FV_INT;
        r->nodes[idx].v.i = (int8_t)b;
    } else if (b >= 0x80 && b <= 0x8f) {
        rc = rd_container(r, idx, FV_MAP, b & 0x0f, depth);
    } else if (b >= 0x90 && b <= 0x9f) {
        rc = rd_container(r, idx, FV_ARRAY, b & 0x0f, depth);
    } else if (b >= 0xa0 && b <= 0xbf) {
        rc = rd_bytes(r, idx, FV_STR, b & 0x1f);
    } else {
        switch (b) {
        case 0xc0: r->nodes[idx].kind = FV_NIL; break;
        case 0xc2: case 0xc3:
            r->nodes[idx].kind = FV_BOOL;
            r->nodes[idx].v.b = b == 0xc3;
            break;
        case 0xc4: case 0xc5: case 0xc6:
            NEED(1u << (b - 0xc4));
            u = rd_be(r, 1u << (b - 0xc4));
            rc = rd_bytes(r, idx, FV_BIN, u);
            break;
        case 0xd9: case 0xda: case 0xdb:
            NEED(1u << (b - 0xd9));
            u = rd_be(r, 1u << (b - 0xd9));
            rc = rd_bytes(r, idx, FV_STR, u);
            break;
        case 0xca: {
            NEED(4);
            uint32_t bits = (uint32_t)rd_be(r, 4);
            float fl;
            memcpy(&fl, &bits, 4);
            r->nodes[idx].kind = FV_FLOAT;
            r->nodes[idx].v.f = fl;
            break;
        }
        case 0xcb: {
            NEED(8);
            uint64_t bits = rd_be(r, 8);
            double d;
            memcpy(&d, &bits, 8);
            r->nodes[idx].kind = FV_FLOAT;
            r->nodes[idx].v.f = d;
            break;
        }
        case 0xcc: case 0xcd: case 0xce: case 0xcf:
            NEED(1u << (b - 0xcc));
            r->nodes[idx].kind = FV_UINT;
            r->nodes[idx].v.u = rd_be(r, 1u << (b - 0xcc));
            break;
        case 0xd0: case 0xd1: case 0xd2: case 0xd3: {
            size_t n = 1u << (b - 0xd0);
            NEED(n);
            uint64_t raw = rd_be(r, n);
            int64_t sv;
            if (n == 1) sv = (int8_t)raw;
            else if (n == 2) sv = (int16_t)raw;
            else if (n == 4) sv = (int32_t)raw;
            else sv = (int64_t)raw;
            if (sv >= 0) {
                r->nodes[idx].kind = FV_UINT;
                r->nodes[idx].v.u = (uint64_t)sv;
            } else {
                r->nodes[idx].kind = FV_INT;
                r->nodes[idx].v.i = sv;
            }
            break;
        }
        case 0xdc: case 0xdd:
            NEED(b == 0xdc ? 2 : 4);
            u = rd_be(r, b == 0xdc ? 2 : 4);
            rc = rd_container(r, idx, FV_ARRAY, u, depth);
            break;
        case 0xde: case 0xdf:
            NEED(b == 0xde ? 2 : 4);
            u = rd_be(r, b == 0xde ? 2 : 4);
            rc = rd_container(r, idx, FV_MAP, u, depth);
            break;
        default:
            return rd_fail(r, "unsupported msgpack byte 0x%02x", b);
        }
    }
#undef NEED
    if (rc < 0)
        return -1;
    v = &r->nodes[idx];
    v->end = r->nnodes;
    return 0;
}

/* ---- validation ---------------------------------------------------------- */

static const struct fv *body_get(const struct frame *f, const char *key)
{
    const struct fv *m = &f->nodes[f->body];
    uint32_t i = f->body + 1;
    size_t kl = strlen(key);
    for (uint32_t k = 0; k < m->n; k++) {
        const struct fv *kv = &f->nodes[i];
        const struct fv *vv = &f->nodes[kv->end];
        if (kv->n == kl && memcmp(kv->v.s, key, kl) == 0)
            return vv;
        i = vv->end;
    }
    return NULL;
}

static bool kind_ok(const struct fv *v, enum fk k)
{
    switch (k) {
    case K_STR: return v->kind == FV_STR;
    case K_UINT: return v->kind == FV_UINT;
    case K_INT: return v->kind == FV_INT || (v->kind == FV_UINT && v->v.u <= INT64_MAX);
    case K_FLOAT: return v->kind == FV_FLOAT || v->kind == FV_INT || v->kind == FV_UINT;
    case K_BOOL: return v->kind == FV_BOOL;
    case K_LOGRECS: return v->kind == FV_ARRAY;
    case K_BIN: return v->kind == FV_BIN;
    }
    return false;
}

/* FT_LOGS records: [time_ms int, source uint 0..2, request_id str|nil, message str]. */
static int check_logrecs(const struct frame *f, const struct fv *arr, char *err, size_t errlen)
{
    const struct fv *rec = frame_first(f, arr);
    for (uint32_t i = 0; i < arr->n; i++, rec = frame_next(f, rec)) {
        if (rec->kind != FV_ARRAY || rec->n != 4) {
            snprintf(err, errlen, "LOGS record %u is not a 4-element array", i);
            return -1;
        }
        const struct fv *t = rec + 1;
        const struct fv *src = &f->nodes[t->end];
        const struct fv *rid = &f->nodes[src->end];
        const struct fv *msg = &f->nodes[rid->end];
        if (!kind_ok(t, K_INT) || src->kind != FV_UINT || src->v.u > 2 ||
            !(rid->kind == FV_STR || rid->kind == FV_NIL) || msg->kind != FV_STR) {
            snprintf(err, errlen, "LOGS record %u has a field of the wrong type", i);
            return -1;
        }
    }
    return 0;
}

static int validate(const struct frame *f, char *err, size_t errlen)
{
    const struct type_spec *ts = spec_of(f->type);
    if (ts == NULL) {
        snprintf(err, errlen, "unknown frame type %u", f->type);
        return -1;
    }
    /* duplicate keys would make "the" value of a field ambiguous */
    const struct fv *m = &f->nodes[f->body];
    uint32_t i = f->body + 1;
    for (uint32_t k = 0; k < m->n; k++) {
        const struct fv *kv = &f->nodes[i];
        uint32_t j = f->nodes[kv->end].end;
        for (uint32_t k2 = k + 1; k2 < m->n; k2++) {
            const struct fv *kv2 = &f->nodes[j];
            if (kv2->n == kv->n && memcmp(kv2->v.s, kv->v.s, kv->n) == 0) {
                snprintf(err, errlen, "%s: duplicate key", ts->name);
                return -1;
            }
            j = f->nodes[kv2->end].end;
        }
        i = f->nodes[kv->end].end;
    }
    for (const struct field_spec *fs = ts->fields; fs->key; fs++) {
        const struct fv *v = body_get(f, fs->key);
        if (v == NULL) {
            if (fs->required) {
                snprintf(err, errlen, "%s: missing field %s", ts->name, fs->key);
                return -1;
            }
            continue;
        }
        if (!kind_ok(v, fs->kind)) {
            snprintf(err, errlen, "%s: field %s has the wrong type", ts->name, fs->key);
            return -1;
        }
        if (fs->kind == K_LOGRECS && check_logrecs(f, v, err, errlen) < 0)
            return -1;
    }
    return 0;
}

int frame_decode(const uint8_t *payload, size_t len, struct frame *out, char *err, size_t errlen)
{
    char dummy[FRAME_ERR_MAX];
    if (err == NULL || errlen == 0) {
        err = dummy;
        errlen = sizeof dummy;
    }
    err[0] = '\0';
    memset(out, 0, sizeof *out);
    struct rd r = {.p = payload, .len = len, .err = err, .errlen = errlen};
    if (len == 0 || len > FRAME_MAX) {
        snprintf(err, errlen, "frame length %zu out of range", len);
        return -1;
    }
    if (rd_value(&r, 0, false) < 0)
        goto fail;
    if (r.off != len) {
        rd_fail(&r, "%zu trailing bytes", len - r.off);
        goto fail;
    }
    struct fv *top = &r.nodes[0];
    if (top->kind != FV_ARRAY || top->n != 4) {
        rd_fail(&r, "frame is not a 4-element array");
        goto fail;
    }
    struct fv *ver = &r.nodes[1];
    struct fv *typ = &r.nodes[ver->end];
    struct fv *seq = &r.nodes[typ->end];
    uint32_t body = seq->end;
    if (ver->kind != FV_UINT || typ->kind != FV_UINT || seq->kind != FV_UINT ||
        r.nodes[body].kind != FV_MAP) {
        rd_fail(&r, "frame header has the wrong types");
        goto fail;
    }
    if (ver->v.u != FRAME_VERSION) {
        rd_fail(&r, "frame version %llu, expected %u", (unsigned long long)ver->v.u, FRAME_VERSION);
        goto fail;
    }
    if (typ->v.u > UINT32_MAX || spec_of((uint32_t)typ->v.u) == NULL) {
        rd_fail(&r, "unknown frame type %llu", (unsigned long long)typ->v.u);
        goto fail;
    }
    if (seq->v.u == 0) {
        rd_fail(&r, "frame seq 0");
        goto fail;
    }
    /* copy strings out, NUL-terminated */
    char *arena = malloc(r.str_bytes ? r.str_bytes : 1);
    if (arena == NULL) {
        rd_fail(&r, "out of memory");
        goto fail;
    }
    size_t ao = 0;
    for (uint32_t k = 0; k < r.nnodes; k++) {
        struct fv *v = &r.nodes[k];
        if (v->kind == FV_STR || v->kind == FV_BIN) {
            size_t from = (size_t)v->v.u;
            memcpy(arena + ao, payload + from, v->n);
            arena[ao + v->n] = '\0';
            v->v.s = arena + ao;
            ao += v->n + 1;
        }
    }
    out->version = (uint32_t)ver->v.u;
    out->type = (uint32_t)typ->v.u;
    out->seq = seq->v.u;
    out->nodes = r.nodes;
    out->nnodes = r.nnodes;
    out->body = body;
    out->arena = arena;
    if (validate(out, err, errlen) < 0) {
        frame_free(out);
        return -1;
    }
    return 0;
fail:
    free(r.nodes);
    memset(out, 0, sizeof *out);
    return -1;
}

void frame_free(struct frame *f)
{
    free(f->nodes);
    free(f->arena);
    memset(f, 0, sizeof *f);
}

/* ---- typed access ------------------------------------------------------ */

const struct fv *frame_get(const struct frame *f, const char *key)
{
    if (f == NULL || f->nodes == NULL)
        return NULL;
    return body_get(f, key);
}

bool frame_get_str(const struct frame *f, const char *key, const char **s, size_t *len)
{
    const struct fv *v = frame_get(f, key);
    if (v == NULL || v->kind != FV_STR)
        return false;
    *s = v->v.s;
    if (len)
        *len = v->n;
    return true;
}

bool frame_get_bin(const struct frame *f, const char *key, const uint8_t **b, size_t *len)
{
    const struct fv *v = frame_get(f, key);
    if (v == NULL || v->kind != FV_BIN)
        return false;
    *b = (const uint8_t *)v->v.s;
    *len = v->n;
    return true;
}

bool frame_get_uint(const struct frame *f, const char *key, uint64_t *out)
{
    const struct fv *v = frame_get(f, key);
    if (v == NULL || v->kind != FV_UINT)
        return false;
    *out = v->v.u;
    return true;
}

bool fv_int(const struct fv *v, int64_t *out)
{
    if (v->kind == FV_INT) {
        *out = v->v.i;
        return true;
    }
    if (v->kind == FV_UINT && v->v.u <= INT64_MAX) {
        *out = (int64_t)v->v.u;
        return true;
    }
    return false;
}

bool fv_float(const struct fv *v, double *out)
{
    switch (v->kind) {
    case FV_FLOAT: *out = v->v.f; return true;
    case FV_INT: *out = (double)v->v.i; return true;
    case FV_UINT: *out = (double)v->v.u; return true;
    default: return false;
    }
}

bool frame_get_int(const struct frame *f, const char *key, int64_t *out)
{
    const struct fv *v = frame_get(f, key);
    return v != NULL && fv_int(v, out);
}

bool frame_get_float(const struct frame *f, const char *key, double *out)
{
    const struct fv *v = frame_get(f, key);
    return v != NULL && fv_float(v, out);
}

bool frame_get_bool(const struct frame *f, const char *key, bool *out)
{
    const struct fv *v = frame_get(f, key);
    if (v == NULL || v->kind != FV_BOOL)
        return false;
    *out = v->v.b;
    return true;
}

const struct fv *frame_first(const struct frame *f, const struct fv *arr)
{
    if (arr->kind != FV_ARRAY || arr->n == 0)
        return NULL;
    return arr + 1 < f->nodes + f->nnodes ? arr + 1 : NULL;
}

const struct fv *frame_next(const struct frame *f, const struct fv *v)
{
    return v->end < f->nnodes ? &f->nodes[v->end] : NULL;
}

const struct fv *frame_get_array(const struct frame *f, const char *key, uint32_t *count)
{
    const struct fv *v = frame_get(f, key);
    if (v == NULL || v->kind != FV_ARRAY) {
        if (count)
            *count = 0;
        return NULL;
    }
    if (count)
        *count = v->n;
    return frame_first(f, v);
}

/* ---- writer ------------------------------------------------------------ */

#define OFF_SEQ 9u     /* 0xcf at 8, seq at 9..16 */
#define OFF_MAPN 18u   /* 0xdf at 17, count at 18..21 */
#define OFF_BODY 22u

static bool fb_reserve(struct frame_buf *fb, size_t n)
{
    if (fb->err)
        return false;
    if (fb->len + n > (size_t)FRAME_MAX + FRAME_HDR_LEN) {
        fb->err = true;
        return false;
    }
    if (fb->len + n > fb->cap) {
        size_t ncap = fb->cap ? fb->cap : 256;
        while (ncap < fb->len + n)
            ncap *= 2;
        uint8_t *np = realloc(fb->p, ncap);
        if (np == NULL) {
            fb->err = true;
            return false;
        }
        fb->p = np;
        fb->cap = ncap;
    }
    return true;
}

static void fb_raw(struct frame_buf *fb, const void *d, size_t n)
{
    if (!fb_reserve(fb, n))
        return;
    memcpy(fb->p + fb->len, d, n);
    fb->len += n;
}

static void fb_byte_be(struct frame_buf *fb, uint8_t tag, uint64_t v, size_t n)
{
    uint8_t b[9];
    b[0] = tag;
    for (size_t i = 0; i < n; i++)
        b[1 + i] = (uint8_t)(v >> (8 * (n - 1 - i)));
    fb_raw(fb, b, n + 1);
}

static void put_be(uint8_t *p, uint64_t v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
}

void frame_begin(struct frame_buf *fb, enum frame_type type)
{
    fb->len = 0;
    fb->err = false;
    fb->map_n = 0;
    uint8_t hdr[OFF_BODY] = {0, 0, 0, 0, 0x94, FRAME_VERSION, 0xcc, (uint8_t)type, 0xcf};
    hdr[17] = 0xdf;
    fb_raw(fb, hdr, sizeof hdr);
}

void frame_val_str(struct frame_buf *fb, const char *s, size_t len)
{
    if (len > UINT32_MAX) {
        fb->err = true;
        return;
    }
    if (len < 32) {
        uint8_t b = (uint8_t)(0xa0 | len);
        fb_raw(fb, &b, 1);
    } else if (len <= 0xff) {
        fb_byte_be(fb, 0xd9, len, 1);
    } else if (len <= 0xffff) {
        fb_byte_be(fb, 0xda, len, 2);
    } else {
        fb_byte_be(fb, 0xdb, len, 4);
    }
    fb_raw(fb, s, len);
}

void frame_val_uint(struct frame_buf *fb, uint64_t v)
{
    if (v <= 0x7f) {
        uint8_t b = (uint8_t)v;
        fb_raw(fb, &b, 1);
    } else if (v <= 0xff) {
        fb_byte_be(fb, 0xcc, v, 1);
    } else if (v <= 0xffff) {
        fb_byte_be(fb, 0xcd, v, 2);
    } else if (v <= 0xffffffffu) {
        fb_byte_be(fb, 0xce, v, 4);
    } else {
        fb_byte_be(fb, 0xcf, v, 8);
    }
}

void frame_val_int(struct frame_buf *fb, int64_t v)
{
    if (v >= 0) {
        frame_val_uint(fb, (uint64_t)v);
    } else if (v >= -32) {
        uint8_t b = (uint8_t)(int8_t)v;
        fb_raw(fb, &b, 1);
    } else {
        fb_byte_be(fb, 0xd3, (uint64_t)v, 8);
    }
}

void frame_val_float(struct frame_buf *fb, double v)
{
    uint64_t bits;
    memcpy(&bits, &v, 8);
    fb_byte_be(fb, 0xcb, bits, 8);
}

void frame_val_bool(struct frame_buf *fb, bool v)
{
    uint8_t b = v ? 0xc3 : 0xc2;
    fb_raw(fb, &b, 1);
}

void frame_val_nil(struct frame_buf *fb)
{
    uint8_t b = 0xc0;
    fb_raw(fb, &b, 1);
}

size_t frame_val_array_begin(struct frame_buf *fb)
{
    size_t at = fb->len;
    fb_byte_be(fb, 0xdd, 0, 4);
    return at;
}

void frame_val_array_end(struct frame_buf *fb, size_t at, uint32_t count)
{
    if (fb->err || at + 5 > fb->len)
        return;
    put_be(fb->p + at + 1, count, 4);
}

void frame_put_key(struct frame_buf *fb, const char *key)
{
    frame_val_str(fb, key, strlen(key));
    fb->map_n++;
}

void frame_put_str(struct frame_buf *fb, const char *key, const char *s)
{
    frame_put_strn(fb, key, s ? s : "", s ? strlen(s) : 0);
}

void frame_put_bin(struct frame_buf *fb, const char *key, const void *b, size_t len)
{
    if (len > UINT32_MAX) {
        fb->err = true;
        return;
    }
    frame_put_key(fb, key);
    fb_byte_be(fb, 0xc6, len, 4);
    fb_raw(fb, b, len);
}

void frame_put_strn(struct frame_buf *fb, const char *key, const char *s, size_t len)
{
    frame_put_key(fb, key);
    frame_val_str(fb, s, len);
}

void frame_put_uint(struct frame_buf *fb, const char *key, uint64_t v)
{
    frame_put_key(fb, key);
    frame_val_uint(fb, v);
}

void frame_put_int(struct frame_buf *fb, const char *key, int64_t v)
{
    frame_put_key(fb, key);
    frame_val_int(fb, v);
}

void frame_put_float(struct frame_buf *fb, const char *key, double v)
{
    frame_put_key(fb, key);
    frame_val_float(fb, v);
}

void frame_put_bool(struct frame_buf *fb, const char *key, bool v)
{
    frame_put_key(fb, key);
    frame_val_bool(fb, v);
}

int frame_finish(struct frame_buf *fb)
{
    if (fb->err || fb->len < OFF_BODY)
        return -1;
    size_t payload = fb->len - FRAME_HDR_LEN;
    if (payload > FRAME_MAX) {
        fb->err = true;
        return -1;
    }
    put_be(fb->p, payload, 4);
    put_be(fb->p + OFF_MAPN, fb->map_n, 4);
    return 0;
}

void frame_set_seq(uint8_t *frame, uint64_t seq)
{
    put_be(frame + OFF_SEQ, seq, 8);
}

void frame_buf_free(struct frame_buf *fb)
{
    free(fb->p);
    memset(fb, 0, sizeof *fb);
}

/* Writes nodes[i] and its subtree; returns the index after it. */
static uint32_t reencode_value(const struct frame *f, uint32_t i, struct frame_buf *fb)
{
    const struct fv *v = &f->nodes[i];
    switch (v->kind) {
    case FV_NIL: frame_val_nil(fb); break;
    case FV_BOOL: frame_val_bool(fb, v->v.b); break;
    case FV_UINT: frame_val_uint(fb, v->v.u); break;
    case FV_INT: frame_val_int(fb, v->v.i); break;
    case FV_FLOAT: frame_val_float(fb, v->v.f); break;
    case FV_STR: frame_val_str(fb, v->v.s, v->n); break;
    case FV_BIN:
        fb_byte_be(fb, 0xc6, v->n, 4);
        fb_raw(fb, v->v.s, v->n);
        break;
    case FV_ARRAY: {
        size_t at = frame_val_array_begin(fb);
        uint32_t j = i + 1;
        for (uint32_t k = 0; k < v->n; k++)
            j = reencode_value(f, j, fb);
        frame_val_array_end(fb, at, v->n);
        break;
    }
    case FV_MAP: {
        fb_byte_be(fb, 0xdf, v->n, 4);
        uint32_t j = i + 1;
        for (uint32_t k = 0; k < 2 * v->n; k++)
            j = reencode_value(f, j, fb);
        break;
    }
    }
    return v->end;
}

int frame_reencode(const struct frame *f, struct frame_buf *out)
{
    frame_begin(out, (enum frame_type)f->type);
    const struct fv *m = &f->nodes[f->body];
    uint32_t j = f->body + 1;
    for (uint32_t k = 0; k < 2 * m->n; k++)
        j = reencode_value(f, j, out);
    out->map_n = m->n;
    return frame_finish(out);
}
