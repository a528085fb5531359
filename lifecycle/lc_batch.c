/* lc_batch.c — see lc_batch.h. Records are gathered into one open FT_LOGS
 * frame until it reaches its budget; a platform record closes it first, so
 * the frames keep the batch's order. */
#include "lc_batch.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"

/* The open FT_LOGS frame: its records, whose strings live in `text` (kept
 * as offsets while it grows, made pointers when the frame is encoded). */
struct logs_open {
    struct ft_log_record *recs;
    size_t *rid_at, *msg_at; /* offsets in text; rid_at SIZE_MAX = nil */
    uint32_t n, cap;
    char *text;
    size_t text_len, text_cap;
    size_t bytes; /* estimate of the encoded size */
};

struct bld {
    bool logs;
    struct lc_tele_linectx *ctx;
    struct frame_buf *v;
    size_t n, cap;
    bool err;
    struct logs_open lo;
};

static struct frame_buf *bld_slot(struct bld *b)
{
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 8;
        struct frame_buf *v = realloc(b->v, cap * sizeof *v);
        if (v == NULL) {
            b->err = true;
            return NULL;
        }
        b->v = v;
        b->cap = cap;
    }
    return &b->v[b->n];
}

/* Keep an encoded frame (or drop it and note the error). */
static void bld_keep(struct bld *b, struct frame_buf *fb, int rc)
{
    struct frame_buf *slot = rc == 0 ? bld_slot(b) : NULL;
    if (slot == NULL) {
        b->err = true;
        frame_buf_free(fb);
        return;
    }
    *slot = *fb;
    b->n++;
    memset(fb, 0, sizeof *fb);
}

static void logs_close(struct bld *b)
{
    struct logs_open *lo = &b->lo;
    if (lo->n == 0)
        return;
    for (uint32_t i = 0; i < lo->n; i++) {
        lo->recs[i].request_id = lo->rid_at[i] == SIZE_MAX ? NULL : lo->text + lo->rid_at[i];
        lo->recs[i].message = lo->text + lo->msg_at[i];
    }
    struct frame_buf fb = {0};
    int rc = frame_encode_logs(&fb, &(struct ft_logs){.records = lo->recs, .n_records = lo->n});
    bld_keep(b, &fb, rc);
    lo->n = 0;
    lo->text_len = 0;
    lo->bytes = 0;
}

static void logs_free(struct logs_open *lo)
{
    free(lo->recs);
    free(lo->rid_at);
    free(lo->msg_at);
    free(lo->text);
    memset(lo, 0, sizeof *lo);
}

/* Copy n bytes and a NUL into the open frame's text; its offset, or SIZE_MAX. */
static size_t logs_text(struct logs_open *lo, const char *s, size_t n)
{
    if (lo->text_len + n + 1 > lo->text_cap) {
        size_t cap = lo->text_cap ? lo->text_cap : 4096;
        while (cap < lo->text_len + n + 1)
            cap *= 2;
        char *t = realloc(lo->text, cap);
        if (t == NULL)
            return SIZE_MAX;
        lo->text = t;
        lo->text_cap = cap;
    }
    size_t at = lo->text_len;
    memcpy(lo->text + at, s, n);
    lo->text[at + n] = '\0';
    lo->text_len += n + 1;
    return at;
}

static void logs_add(struct bld *b, const struct lc_tele_log *g)
{
    struct logs_open *lo = &b->lo;
    const char *rid = g->request_id;
    size_t est = g->message_len + (rid ? strlen(rid) : 0) + 32;
    if (lo->n && (lo->bytes + est > LC_BATCH_LOGS_FRAME_BUDGET || lo->n >= LC_BATCH_LOGS_FRAME_RECORDS))
        logs_close(b);
    if (lo->n == lo->cap) {
        uint32_t cap = lo->cap ? lo->cap * 2 : 64;
        struct ft_log_record *r = realloc(lo->recs, cap * sizeof *r);
        if (r)
            lo->recs = r;
        size_t *ra = realloc(lo->rid_at, cap * sizeof *ra);
        if (ra)
            lo->rid_at = ra;
        size_t *ma = realloc(lo->msg_at, cap * sizeof *ma);
        if (ma)
            lo->msg_at = ma;
        if (!r || !ra || !ma) {
            b->err = true;
            return;
        }
        lo->cap = cap;
    }
    size_t rid_at = rid ? logs_text(lo, rid, strlen(rid)) : SIZE_MAX;
    size_t msg_at = logs_text(lo, g->message ? g->message : "", g->message_len);
    if ((rid && rid_at == SIZE_MAX) || msg_at == SIZE_MAX) {
        b->err = true;
        return;
    }
    lo->recs[lo->n] = (struct ft_log_record){.time_ms = g->time_ms, .source = g->source,
                                             .message_len = g->message_len};
    lo->rid_at[lo->n] = rid_at;
    lo->msg_at[lo->n] = msg_at;
    lo->n++;
    lo->bytes += est;
}

/* The record as typed FT_PLATFORM fields; the flusher writes the log lines. */
static void platform_frame(struct bld *b, const struct ft_platform *p)
{
    struct ft_platform m = *p;
    lc_tele_pair(b->ctx, &m);
    struct frame_buf fb = {0};
    int rc = frame_encode_platform(&fb, &m);
    bld_keep(b, &fb, rc);
}

static int on_record(const struct lc_tele_record *rec, void *arg)
{
    struct bld *b = arg;
    if (rec->kind == LC_TELE_PLATFORM) {
        /* keep batch order: logs before this record reach the flusher first */
        logs_close(b);
        platform_frame(b, &rec->u.platform);
    } else if (b->logs) {
        logs_add(b, &rec->u.log);
    }
    return b->err ? 1 : 0;
}

void lc_batch_frames_free(struct frame_buf *frames, size_t n)
{
    for (size_t i = 0; i < n; i++)
        frame_buf_free(&frames[i]);
    free(frames);
}

int lc_batch_build(const char *body, size_t len, bool logs_enabled, struct lc_tele_linectx *ctx,
                      struct frame_buf **frames, size_t *n, struct lc_tele_stats *stats)
{
    struct bld b = {.logs = logs_enabled, .ctx = ctx};
    struct lc_tele_limits lim;
    lc_tele_limits_default(&lim);
    lim.max_body = LC_BATCH_BODY_MAX;
    lim.memory_mb = ctx ? ctx->memory_mb : 0;
    int rc = lc_telemetry_parse(body, len, &lim, on_record, &b, stats);
    if (!b.err)
        logs_close(&b);
    logs_free(&b.lo);
    if (b.err && (rc == LC_TELE_OK || rc == LC_TELE_ESTOPPED))
        rc = LC_TELE_ENOMEM;
    *frames = b.v;
    *n = b.n;
    return rc;
}
