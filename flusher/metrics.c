/* metrics.c — hash table of (context, type, bucket) entries with a hard
 * bound; drain moves closed buckets out as series and sketches. */
#include "metrics.h"
#include "utf8.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct met_entry {
    struct met_entry *next; /* hash chain */
    uint64_t hash;
    char *blob; /* "name\0tag\0tag\0" */
    size_t blob_len;
    char **tags;
    size_t ntags;
    enum met_type type;
    int64_t ts;
    double value;
    struct ddsketch sk;
    uint64_t *set; /* sorted member hashes */
    size_t nset, set_cap;
};

/* Lookup cache: a sample's context as it arrived (name and tags in the
 * sender's order, type, bucket) -> its entry. DogStatsD clients repeat the
 * same few contexts, and the slow path merges, sorts and hashes the common
 * tags (the whole function tag set) for every sample. A slot is valid only
 * for the generation it was filled in: the generation moves whenever an
 * entry may be freed (drain) or the common tags change. */
#define MET_CACHE_SLOTS 128u
#define MET_CACHE_KEY_MAX 232u
struct met_cslot {
    uint64_t gen, h;
    struct met_entry *e;
    uint32_t klen;
    char key[MET_CACHE_KEY_MAX];
};

struct met_agg {
    struct met_cslot *cache; /* MET_CACHE_SLOTS, allocated at the first miss */
    uint64_t gen;            /* starts at 1: a zeroed slot is never valid */
    struct met_entry **slots;
    size_t nslots, size, max;
    struct met_str *common; /* slices into common_blob */
    size_t ncommon;
    char *common_blob;
    struct met_stats stats;
    enum refusal last_refusal;
};

static uint64_t fnv1a(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 1099511628211ULL;
    }
    return h;
}
#define FNV_SEED 14695981039346656037ULL

bool met_text_ok(const char *p, size_t len)
{
    return utf8_text_ok(p, len);
}

struct met_agg *met_new(size_t max_contexts)
{
    struct met_agg *a = calloc(1, sizeof(*a));
    if (!a)
        return NULL;
    a->max = max_contexts ? max_contexts : MET_CONTEXTS_DEFAULT;
    a->gen = 1;
    a->nslots = 64;
    while (a->nslots < a->max * 2 && a->nslots < ((size_t)1 << 24))
        a->nslots *= 2;
    a->slots = calloc(a->nslots, sizeof(*a->slots));
    if (!a->slots) {
        free(a);
        return NULL;
    }
    return a;
}

static void entry_free(struct met_entry *e)
{
    free(e->blob);
    free(e->tags);
    dds_free(&e->sk);
    free(e->set);
    free(e);
}

void met_free(struct met_agg *a)
{
    if (!a)
        return;
    for (size_t i = 0; i < a->nslots; i++) {
        struct met_entry *e = a->slots[i], *n;
        for (; e; e = n) {
            n = e->next;
            entry_free(e);
        }
    }
    free(a->slots);
    free(a->cache);
    free(a->common);
    free(a->common_blob);
    free(a);
}

static bool tag_ok(const struct met_str *t)
{
    return t->len > 0 && t->len <= MET_TAG_MAX && met_text_ok(t->p, t->len);
}

static int str_cmp(const void *x, const void *y)
{
    const struct met_str *a = x, *b = y;
    size_t n = a->len < b->len ? a->len : b->len;
    int c = memcmp(a->p, b->p, n);
    if (c)
        return c;
    return (a->len > b->len) - (a->len < b->len);
}

int met_set_common_tags(struct met_agg *a, const struct met_str *tags, size_t n)
{
    if (n > MET_TAGS_MAX)
        return -1;
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        if (!tag_ok(&tags[i]))
            return -1;
        total += tags[i].len;
    }
    struct met_str *arr = calloc(n ? n : 1, sizeof(*arr));
    char *blob = malloc(total ? total : 1);
    if (!arr || !blob) {
        free(arr);
        free(blob);
        return -1;
    }
    size_t off = 0;
    for (size_t i = 0; i < n; i++) {
        memcpy(blob + off, tags[i].p, tags[i].len);
        arr[i] = (struct met_str){ blob + off, tags[i].len };
        off += tags[i].len;
    }
    free(a->common);
    free(a->common_blob);
    a->gen++;
    a->common = arr;
    a->common_blob = blob;
    a->ncommon = n;
    return 0;
}

size_t met_size(const struct met_agg *a)
{
    return a->size;
}

struct met_stats met_get_stats(const struct met_agg *a)
{
    return a->stats;
}

enum refusal met_last_refusal(const struct met_agg *a)
{
    return a->last_refusal;
}

static int refuse(struct met_agg *a, enum refusal why)
{
    a->stats.invalid++;
    a->last_refusal = why;
    return -1;
}

static int set_add(struct met_agg *a, struct met_entry *e, struct met_str m)
{
    uint64_t h = fnv1a(FNV_SEED, m.p, m.len);
    size_t lo = 0, hi = e->nset;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (e->set[mid] < h)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < e->nset && e->set[lo] == h)
        return 0;
    if (e->nset >= MET_SET_MAX) {
        a->stats.set_overflow++;
        return 0;
    }
    if (e->nset == e->set_cap) {
        size_t cap = e->set_cap ? e->set_cap * 2 : 8;
        uint64_t *s = realloc(e->set, cap * sizeof(*s));
        if (!s)
            return -1;
        e->set = s;
        e->set_cap = cap;
    }
    memmove(e->set + lo + 1, e->set + lo, (e->nset - lo) * sizeof(*e->set));
    e->set[lo] = h;
    e->nset++;
    return 0;
}

/* Apply the sample's value to an entry. */
static int entry_update(struct met_agg *a, struct met_entry *e, const struct met_sample *s,
                        double rate)
{
    switch (s->type) {
    case MET_COUNT: {
        double v = e->value + s->value / rate;
        if (!isfinite(v))
            return -1;
        e->value = v;
        return 0;
    }
    case MET_GAUGE:
        e->value = s->value;
        return 0;
    case MET_DISTRIBUTION:
        return dds_insert_sampled(&e->sk, s->value, rate);
    case MET_SET:
        return set_add(a, e, s->member);
    }
    return -1;
}

static void cache_fill(struct met_agg *a, struct met_cslot *cs, uint64_t h, const char *key,
                       size_t klen, struct met_entry *e)
{
    if (cs == NULL)
        return;
    cs->gen = a->gen;
    cs->h = h;
    cs->e = e;
    cs->klen = (uint32_t)klen;
    memcpy(cs->key, key, klen);
}

int met_add(struct met_agg *a, const struct met_sample *s)
{
    if (s->name.len == 0 || s->name.len > MET_NAME_MAX)
        return refuse(a, REF_METRIC_NAME);
    if (s->type < MET_COUNT || s->type > MET_SET || s->ts < 0)
        return refuse(a, REF_METRIC_OTHER);
    if (s->type != MET_SET && !isfinite(s->value))
        return refuse(a, REF_METRIC_VALUE);
    if (s->type == MET_SET && s->member.len > MET_TAG_MAX)
        return refuse(a, REF_METRIC_SET_MEMBER);
    double rate = s->rate;
    if (!(rate > 0))
        return refuse(a, REF_DSD_SAMPLE_RATE);
    if (rate > 1)
        rate = 1;
    if (s->ntags > MET_TAGS_MAX)
        return refuse(a, REF_METRIC_TOO_MANY_TAGS);

    /* the cache: the raw context, as the sample has it */
    int64_t ts = s->ts - s->ts % MET_BUCKET_S;
    char key[MET_CACHE_KEY_MAX];
    size_t klen = s->name.len + 1 + sizeof ts + 1;
    for (size_t i = 0; i < s->ntags && klen <= sizeof key; i++)
        klen += s->tags[i].len + 1;
    struct met_cslot *cs = NULL;
    uint64_t ch = 0;
    if (klen <= sizeof key) {
        size_t o = 0;
        key[o++] = (char)s->type;
        memcpy(key + o, &ts, sizeof ts);
        o += sizeof ts;
        memcpy(key + o, s->name.p, s->name.len);
        o += s->name.len;
        key[o++] = '\0';
        for (size_t i = 0; i < s->ntags; i++) {
            memcpy(key + o, s->tags[i].p, s->tags[i].len);
            o += s->tags[i].len;
            key[o++] = '\0';
        }
        ch = fnv1a(FNV_SEED, key, klen);
        if (a->cache == NULL)
            a->cache = calloc(MET_CACHE_SLOTS, sizeof *a->cache);
        if (a->cache) {
            cs = &a->cache[ch % MET_CACHE_SLOTS];
            if (cs->gen == a->gen && cs->h == ch && cs->klen == klen && memcmp(cs->key, key, klen) == 0) {
                if (entry_update(a, cs->e, s, rate) != 0)
                    return refuse(a, REF_METRIC_VALUE);
                a->stats.added++;
                return 0;
            }
        }
    }

    /* a cache hit had its name and tags checked when it was filled */
    if (!met_text_ok(s->name.p, s->name.len))
        return refuse(a, REF_METRIC_NAME);
    struct met_str tags[2 * MET_TAGS_MAX];
    size_t nt = 0;
    for (size_t i = 0; i < s->ntags; i++) {
        if (!tag_ok(&s->tags[i]))
            return refuse(a, REF_METRIC_TAG);
        tags[nt++] = s->tags[i];
    }
    for (size_t i = 0; i < a->ncommon; i++)
        tags[nt++] = a->common[i];
    qsort(tags, nt, sizeof(*tags), str_cmp);
    size_t u = 0;
    for (size_t i = 0; i < nt; i++)
        if (u == 0 || str_cmp(&tags[u - 1], &tags[i]) != 0)
            tags[u++] = tags[i];
    nt = u;
    if (nt > MET_TAGS_MAX)
        return refuse(a, REF_METRIC_TOO_MANY_TAGS);

    size_t blob_len = s->name.len + 1;
    for (size_t i = 0; i < nt; i++)
        blob_len += tags[i].len + 1;

    int type = (int)s->type;
    uint64_t h = FNV_SEED;
    h = fnv1a(h, s->name.p, s->name.len);
    for (size_t i = 0; i < nt; i++) {
        h = fnv1a(h, "", 1);
        h = fnv1a(h, tags[i].p, tags[i].len);
    }
    h = fnv1a(h, &type, sizeof(type));
    h = fnv1a(h, &ts, sizeof(ts));

    /* look up without building the blob: compare piecewise */
    size_t slot = (size_t)(h & (a->nslots - 1));
    for (struct met_entry *e = a->slots[slot]; e; e = e->next) {
        if (e->hash != h || e->type != s->type || e->ts != ts || e->blob_len != blob_len ||
            e->ntags != nt)
            continue;
        if (memcmp(e->blob, s->name.p, s->name.len) != 0 || e->blob[s->name.len] != '\0')
            continue;
        size_t i = 0;
        for (; i < nt; i++)
            if (memcmp(e->tags[i], tags[i].p, tags[i].len) != 0 || e->tags[i][tags[i].len])
                break;
        if (i < nt)
            continue;
        if (entry_update(a, e, s, rate) != 0)
            return refuse(a, REF_METRIC_VALUE);
        cache_fill(a, cs, ch, key, klen, e);
        a->stats.added++;
        return 0;
    }

    if (a->size >= a->max) {
        a->stats.dropped_contexts++;
        a->last_refusal = REF_METRIC_CONTEXTS;
        return -1;
    }
    struct met_entry *e = calloc(1, sizeof(*e));
    if (!e)
        return refuse(a, REF_METRIC_OTHER);
    e->blob = malloc(blob_len);
    e->tags = calloc(nt ? nt : 1, sizeof(*e->tags));
    if (!e->blob || !e->tags) {
        entry_free(e);
        return refuse(a, REF_METRIC_OTHER);
    }
    size_t off = 0;
    memcpy(e->blob, s->name.p, s->name.len);
    off = s->name.len;
    e->blob[off++] = '\0';
    for (size_t i = 0; i < nt; i++) {
        e->tags[i] = e->blob + off;
        memcpy(e->blob + off, tags[i].p, tags[i].len);
        off += tags[i].len;
        e->blob[off++] = '\0';
    }
    e->blob_len = blob_len;
    e->ntags = nt;
    e->hash = h;
    e->type = s->type;
    e->ts = ts;
    dds_init(&e->sk);
    if (entry_update(a, e, s, rate) != 0) {
        entry_free(e);
        return refuse(a, REF_METRIC_VALUE);
    }
    e->next = a->slots[slot];
    a->slots[slot] = e;
    a->size++;
    cache_fill(a, cs, ch, key, klen, e);
    a->stats.added++;
    return 0;
}

void met_batch_free(struct met_batch *b)
{
    if (!b)
        return;
    for (size_t i = 0; i < b->nseries; i++) {
        free(b->series[i].metric);
        free(b->series[i].tags);
    }
    for (size_t i = 0; i < b->nsketches; i++) {
        free(b->sketches[i].metric);
        free(b->sketches[i].tags);
        dds_free(&b->sketches[i].sk);
    }
    free(b->series);
    free(b->sketches);
    memset(b, 0, sizeof(*b));
}

int met_batch_append(struct met_batch *dst, struct met_batch *src)
{
    if (src->nseries) {
        struct met_series *v = realloc(dst->series, (dst->nseries + src->nseries) * sizeof *v);
        if (!v)
            return -1;
        memcpy(v + dst->nseries, src->series, src->nseries * sizeof *v);
        dst->series = v;
        dst->nseries += src->nseries;
        src->nseries = 0;
    }
    if (src->nsketches) {
        struct met_sketch *v = realloc(dst->sketches, (dst->nsketches + src->nsketches) * sizeof *v);
        if (!v)
            return -1;
        memcpy(v + dst->nsketches, src->sketches, src->nsketches * sizeof *v);
        dst->sketches = v;
        dst->nsketches += src->nsketches;
        src->nsketches = 0;
    }
    met_batch_free(src);
    return 0;
}

static bool closed(const struct met_entry *e, int64_t now, bool all)
{
    /* e->ts >= 0, so the subtraction cannot overflow once e->ts < now */
    return all || (e->ts < now && now - e->ts >= MET_BUCKET_S);
}

/* The selection met_drain and met_snapshot share: out gets arrays sized for
 * the entries closed at now (every entry when all), series and sketches
 * apart. Nothing to take leaves out empty (series NULL) and returns 0. */
static int batch_alloc(const struct met_agg *a, int64_t now, bool all, struct met_batch *out)
{
    memset(out, 0, sizeof(*out));
    size_t ns = 0, nk = 0;
    for (size_t i = 0; i < a->nslots; i++)
        for (const struct met_entry *e = a->slots[i]; e; e = e->next)
            if (closed(e, now, all)) {
                if (e->type == MET_DISTRIBUTION)
                    nk++;
                else
                    ns++;
            }
    if (ns + nk == 0)
        return 0;
    out->series = calloc(ns ? ns : 1, sizeof(*out->series));
    out->sketches = calloc(nk ? nk : 1, sizeof(*out->sketches));
    if (!out->series || !out->sketches) {
        free(out->series);
        free(out->sketches);
        memset(out, 0, sizeof(*out));
        return -1;
    }
    return 0;
}

/* A series' fields but its name and tags: counts as counts (type 1), gauges
 * and sets as gauges (type 3), a set's value its number of members. */
static void series_fill(struct met_series *r, const struct met_entry *e)
{
    r->ntags = e->ntags;
    r->ts = e->ts;
    r->type = e->type == MET_COUNT ? 1 : 3;
    r->value = e->type == MET_SET ? (double)e->nset : e->value;
}

int met_drain(struct met_agg *a, int64_t now, bool all, struct met_batch *out)
{
    if (batch_alloc(a, now, all, out) != 0)
        return -1;
    if (out->series == NULL)
        return 0;
    for (size_t i = 0; i < a->nslots; i++) {
        struct met_entry **pp = &a->slots[i];
        while (*pp) {
            struct met_entry *e = *pp;
            if (!closed(e, now, all)) {
                pp = &e->next;
                continue;
            }
            *pp = e->next;
            a->size--;
            a->gen++; /* the cache may point at it */
            if (e->type == MET_DISTRIBUTION) {
                struct met_sketch *k = &out->sketches[out->nsketches++];
                k->metric = e->blob;
                k->tags = e->tags;
                k->ntags = e->ntags;
                k->ts = e->ts;
                k->sk = e->sk;
            } else {
                struct met_series *r = &out->series[out->nseries++];
                r->metric = e->blob;
                r->tags = e->tags;
                series_fill(r, e);
                dds_free(&e->sk);
            }
            free(e->set);
            free(e);
        }
    }
    return 0;
}

/* Copy e's name and tags into fresh storage owned by the batch. */
static int copy_ident(const struct met_entry *e, char **metric, char ***tags)
{
    char *blob = malloc(e->blob_len);
    char **t = calloc(e->ntags ? e->ntags : 1, sizeof(*t));
    if (!blob || !t) {
        free(blob);
        free(t);
        return -1;
    }
    memcpy(blob, e->blob, e->blob_len);
    for (size_t i = 0; i < e->ntags; i++)
        t[i] = blob + (e->tags[i] - e->blob);
    *metric = blob;
    *tags = t;
    return 0;
}

int met_snapshot(const struct met_agg *a, struct met_batch *out)
{
    if (batch_alloc(a, 0, true, out) != 0)
        return -1;
    if (out->series == NULL)
        return 0;
    for (size_t i = 0; i < a->nslots; i++)
        for (const struct met_entry *e = a->slots[i]; e; e = e->next) {
            if (e->type == MET_DISTRIBUTION) {
                struct met_sketch *k = &out->sketches[out->nsketches];
                if (copy_ident(e, &k->metric, &k->tags) != 0)
                    goto fail;
                k->ntags = e->ntags;
                k->ts = e->ts;
                dds_init(&k->sk);
                out->nsketches++;
                if (dds_copy(&k->sk, &e->sk) != 0)
                    goto fail;
            } else {
                struct met_series *r = &out->series[out->nseries];
                if (copy_ident(e, &r->metric, &r->tags) != 0)
                    goto fail;
                out->nseries++;
                series_fill(r, e);
            }
        }
    return 0;
fail:
    met_batch_free(out);
    return -1;
}
