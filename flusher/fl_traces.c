/* fl_traces.c — see fl_traces.h. A FIFO in seq order: frames are released
 * out of order (posts finish in any order), the ack bound is the oldest
 * one still held. */
#include "fl_traces.h"

#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "trace_pb.h"

#define LANG_MAX 32u
#define LANGS_MAX 8u

struct item {
    uint64_t seq;
    bool stats;
    uint8_t *data;
    size_t len;
    uint32_t spans;
    char lang[LANG_MAX];
    uint64_t batch; /* 0 = pending */
    uint32_t group_max; /* items per AgentPayload at most, after a 413 (0 = no bound) */
    struct item *next;
};

struct fl_traces {
    struct item *head, *tail;
    uint64_t next_batch;
    struct fl_traces_stats st;
};

struct fl_traces *fl_traces_new(void)
{
    return calloc(1, sizeof(struct fl_traces));
}

static void item_free(struct item *i)
{
    free(i->data);
    free(i);
}

void fl_traces_free(struct fl_traces *t)
{
    if (t == NULL)
        return;
    while (t->head) {
        struct item *i = t->head;
        t->head = i->next;
        item_free(i);
    }
    free(t);
}

int fl_traces_add(struct fl_traces *t, const struct frame *f)
{
    const uint8_t *b;
    size_t len;
    bool stats = f->type == FT_TRACE_STATS;
    if (f->type == FT_TRACES) {
        b = f->u.traces.pb;
        len = f->u.traces.pb_len;
    } else if (stats) {
        b = f->u.trace_stats.body;
        len = f->u.trace_stats.body_len;
    } else {
        return -1;
    }
    struct item *i = calloc(1, sizeof *i);
    if (i == NULL || (i->data = malloc(len ? len : 1)) == NULL) {
        free(i);
        return -1;
    }
    memcpy(i->data, b, len);
    i->len = len;
    i->seq = f->seq;
    i->stats = stats;
    const char *lang = NULL;
    if (!stats) {
        i->spans = f->u.traces.spans > UINT32_MAX ? UINT32_MAX : (uint32_t)f->u.traces.spans;
        lang = f->u.traces.lang;
    }
    size_t ll = lang ? strlen(lang) : 0;
    if (ll && ll < LANG_MAX) {
        /* a header value: keep it only if it is a plain token */
        bool ok = true;
        for (size_t k = 0; k < ll; k++)
            ok = ok && lang[k] > 0x20 && lang[k] < 0x7f && lang[k] != '|';
        if (ok)
            memcpy(i->lang, lang, ll + 1);
    }
    if (t->tail)
        t->tail->next = i;
    else
        t->head = i;
    t->tail = i;
    t->st.held_bytes += len;
    if (stats)
        t->st.stats_frames++;
    else {
        t->st.frames++;
        t->st.spans += i->spans;
    }
    return 0;
}

/* ---- bodies ------------------------------------------------------------------- */

static int gzip_body(const uint8_t *in, size_t len, uint8_t **out, size_t *out_len)
{
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return -1;
    size_t cap = deflateBound(&zs, (uLong)len) + 32;
    uint8_t *b = malloc(cap);
    if (b == NULL) {
        deflateEnd(&zs);
        return -1;
    }
    zs.next_in = (Bytef *)(uintptr_t)in;
    zs.avail_in = (uInt)len;
    zs.next_out = b;
    zs.avail_out = (uInt)cap;
    int rc = deflate(&zs, Z_FINISH);
    deflateEnd(&zs);
    if (rc != Z_STREAM_END) {
        free(b);
        return -1;
    }
    *out = b;
    *out_len = cap - zs.avail_out;
    return 0;
}

static void pk_str(msgpack_packer *pk, const char *s)
{
    msgpack_pack_str(pk, strlen(s));
    msgpack_pack_str_body(pk, s, strlen(s));
}

/* StatsPayload around one tracer's ClientStatsPayload (raw msgpack, walked
 * by the receiver), gzip'd. */
static int stats_body(const struct item *i, const char *env, uint8_t **out, size_t *out_len)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 6);
    pk_str(&pk, "AgentHostname");
    pk_str(&pk, "");
    pk_str(&pk, "AgentEnv");
    pk_str(&pk, env ? env : "");
    pk_str(&pk, "Stats");
    msgpack_pack_array(&pk, 1);
    msgpack_sbuffer_write(&sb, (const char *)i->data, i->len);
    pk_str(&pk, "AgentVersion");
    pk_str(&pk, TP_AGENT_VERSION);
    pk_str(&pk, "ClientComputed");
    msgpack_pack_true(&pk);
    pk_str(&pk, "SplitPayload");
    msgpack_pack_false(&pk);
    int rc = sb.data ? gzip_body((const uint8_t *)sb.data, sb.size, out, out_len) : -1;
    msgpack_sbuffer_destroy(&sb);
    return rc;
}

/* ---- take / done ---------------------------------------------------------------- */

struct vec {
    struct fl_traces_post *v;
    size_t n, cap;
};

static struct fl_traces_post *vec_slot(struct vec *v)
{
    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 4;
        struct fl_traces_post *n = realloc(v->v, cap * sizeof *n);
        if (n == NULL)
            return NULL;
        v->v = n;
        v->cap = cap;
    }
    struct fl_traces_post *p = &v->v[v->n++];
    memset(p, 0, sizeof *p);
    return p;
}

static size_t entry_size(size_t body)
{
    size_t v = 1;
    for (size_t b = body; b >= 0x80; b >>= 7)
        v++;
    return 1 + v + body;
}

/* X-Datadog-Reported-Languages: the distinct languages, '|'-joined */
static char *langs_header(struct item *const *items, size_t n)
{
    char *h = malloc(64 + LANGS_MAX * LANG_MAX);
    if (h == NULL)
        return NULL;
    size_t off = (size_t)sprintf(h, "X-Datadog-Reported-Languages: ");
    const char *seen[LANGS_MAX];
    unsigned ns = 0;
    for (size_t i = 0; i < n && ns < LANGS_MAX; i++) {
        if (!items[i]->lang[0])
            continue;
        bool dup = false;
        for (unsigned k = 0; k < ns; k++)
            dup = dup || !strcmp(seen[k], items[i]->lang);
        if (dup)
            continue;
        off += (size_t)sprintf(h + off, "%s%s", ns ? "|" : "", items[i]->lang);
        seen[ns++] = items[i]->lang;
    }
    return h;
}

static int take_traces(struct fl_traces *t, const char *url, const char *env, struct vec *out)
{
    struct item *it = t->head;
    for (;;) {
        while (it && (it->stats || it->batch))
            it = it->next;
        if (it == NULL)
            return 0;
        /* one AgentPayload: pending trace items from `it` up to the size bound */
        struct item *grp[64];
        const uint8_t *blobs[64];
        size_t lens[64], n = 0, total = 128;
        size_t cap = 64;
        for (struct item *j = it; j && n < cap; j = j->next) {
            if (j->stats || j->batch)
                continue;
            if (n && total + entry_size(j->len) > TP_AGENT_PAYLOAD_MAX)
                break;
            if (j->group_max && j->group_max < cap) {
                if (n >= j->group_max)
                    break;
                cap = j->group_max;
            }
            total += entry_size(j->len);
            grp[n] = j;
            blobs[n] = j->data;
            lens[n] = j->len;
            n++;
        }
        struct fl_traces_post *p = vec_slot(out);
        if (p == NULL)
            return -1;
        size_t blen;
        if (tp_agent_payload(env, blobs, lens, n, &p->body, &blen) != 0 ||
            (p->hdr_lines = langs_header(grp, n)) == NULL) {
            free(p->body);
            out->n--;
            return -1;
        }
        uint64_t batch = ++t->next_batch;
        for (size_t k = 0; k < n; k++)
            grp[k]->batch = batch;
        p->hdrs[0] = p->hdr_lines;
        p->hdrs[1] = NULL;
        p->post = (struct fl_post){.url = url, .content_type = "application/x-protobuf", .body = p->body,
                                   .len = blen, .compress = true, .headers = p->hdrs, .tag = batch};
    }
}

static int take_stats(struct fl_traces *t, const char *url, const char *env, struct vec *out)
{
    for (struct item *it = t->head; it; it = it->next) {
        if (!it->stats || it->batch)
            continue;
        struct fl_traces_post *p = vec_slot(out);
        if (p == NULL)
            return -1;
        size_t blen;
        if (stats_body(it, env, &p->body, &blen) != 0) {
            out->n--;
            return -1;
        }
        it->batch = ++t->next_batch;
        p->hdrs[0] = "Content-Encoding: gzip";
        p->hdrs[1] = NULL;
        p->post = (struct fl_post){.url = url, .content_type = "application/msgpack", .body = p->body,
                                   .len = blen, .compress = false, .headers = p->hdrs, .tag = it->batch};
    }
    return 0;
}

int fl_traces_take(struct fl_traces *t, const char *traces_url, const char *stats_url, const char *env,
                   struct fl_traces_post **out, size_t *n)
{
    struct vec v = {0};
    uint64_t first = t->next_batch;
    if (take_traces(t, traces_url, env, &v) != 0 || take_stats(t, stats_url, env, &v) != 0) {
        for (struct item *i = t->head; i; i = i->next)
            if (i->batch > first)
                i->batch = 0;
        fl_traces_posts_free(v.v, v.n);
        return -1;
    }
    *out = v.v;
    *n = v.n;
    return 0;
}

void fl_traces_posts_free(struct fl_traces_post *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(v[i].body);
        free(v[i].hdr_lines);
    }
    free(v);
}

void fl_traces_done(struct fl_traces *t, uint64_t batch, bool final, bool ok)
{
    struct item **pp = &t->head, *last = NULL;
    while (*pp) {
        struct item *i = *pp;
        if (i->batch != batch || batch == 0) {
            last = i;
            pp = &i->next;
            continue;
        }
        if (!final) {
            i->batch = 0;
            last = i;
            pp = &i->next;
            continue;
        }
        *pp = i->next;
        t->st.held_bytes -= i->len;
        if (ok)
            t->st.delivered++;
        else
            t->st.given_up++;
        item_free(i);
    }
    t->tail = last;
}

int fl_traces_split(struct fl_traces *t, uint64_t batch)
{
    uint32_t n = 0;
    for (struct item *i = t->head; i; i = i->next)
        n += batch && i->batch == batch;
    if (n < 2)
        return 0;
    for (struct item *i = t->head; i; i = i->next)
        if (i->batch == batch) {
            i->batch = 0;
            i->group_max = (n + 1) / 2;
        }
    t->st.splits++;
    return 1;
}

void fl_traces_requeue(struct fl_traces *t)
{
    for (struct item *i = t->head; i; i = i->next)
        i->batch = 0;
}

uint64_t fl_traces_ackable(const struct fl_traces *t)
{
    return t->head ? t->head->seq - 1 : UINT64_MAX;
}

bool fl_traces_pending(const struct fl_traces *t)
{
    for (struct item *i = t->head; i; i = i->next)
        if (i->batch == 0)
            return true;
    return false;
}

void fl_traces_get_stats(const struct fl_traces *t, struct fl_traces_stats *out)
{
    *out = t->st;
}
