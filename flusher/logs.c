/* logs.c — log batcher and /api/v2/logs encoder. Contract in logs.h. */
#include "logs.h"
#include "utf8.h"

#include <ctype.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void fl_logs_limits_default(struct fl_logs_limits *lim)
{
    lim->max_entries = FL_LOGS_MAX_ENTRIES;
    lim->max_payload = FL_LOGS_MAX_PAYLOAD;
    lim->max_entry = FL_LOGS_MAX_ENTRY;
    lim->max_pending = FL_LOGS_MAX_PENDING;
}

struct entry {
    struct entry *next;
    uint64_t seq;
    uint64_t order;      /* arrival number: "oldest" when dropping        */
    int64_t time_ms;
    const char *status;  /* static string                                 */
    char *rid;           /* NULL: null in JSON                            */
    char *msg;
    size_t msg_len;
    char *extra_tags;    /* from a JSON log's ddtags, or NULL             */
    size_t cost;
    size_t batch_max;    /* 0, or at most this many entries per payload
                            with it (halved by each 413, FL_LOGS_SPLIT)  */
};

struct queue {
    struct entry *head, *tail;
    size_t n;
};

struct flight {
    struct flight *next;
    uint64_t id;
    struct queue q;
};

struct fl_logs {
    struct fl_logs_limits lim;
    char *arn;           /* lowercased                                     */
    char *service;       /* lowercased                                     */
    char *tags;
    char *cur_rid;       /* between START and END                          */
    struct queue ready, held;
    struct flight *flights;
    uint64_t next_order, next_payload;
    uint64_t last_seq;
    size_t queued_bytes;   /* ready + held + in flight                */
    size_t flight_bytes;   /* the part the caller holds: not droppable */
    struct fl_logs_stats st;
};

/* ---- small helpers --------------------------------------------------- */

static void q_push(struct queue *q, struct entry *e)
{
    e->next = NULL;
    if (q->tail)
        q->tail->next = e;
    else
        q->head = e;
    q->tail = e;
    q->n++;
}

static struct entry *q_pop(struct queue *q)
{
    struct entry *e = q->head;
    if (!e)
        return NULL;
    q->head = e->next;
    if (!q->head)
        q->tail = NULL;
    q->n--;
    e->next = NULL;
    return e;
}

/* Puts all of src in front of dst, keeping src's order. */
static void q_prepend(struct queue *dst, struct queue *src)
{
    if (!src->head)
        return;
    src->tail->next = dst->head;
    if (!dst->tail)
        dst->tail = src->tail;
    dst->head = src->head;
    dst->n += src->n;
    src->head = src->tail = NULL;
    src->n = 0;
}

static void entry_free(struct entry *e)
{
    if (!e)
        return;
    free(e->rid);
    free(e->msg);
    free(e->extra_tags);
    free(e);
}

static char *dup_lower(const char *s)
{
    char *d = strdup(s ? s : "");
    if (d)
        for (char *p = d; *p; p++)
            *p = (char)tolower((unsigned char)*p);
    return d;
}

/* A writer that only counts when p is NULL, so one routine both sizes and
 * writes an entry. */
struct w {
    char *p;
    size_t n;
};

static void w_raw(struct w *w, const char *s, size_t len)
{
    if (w->p)
        memcpy(w->p + w->n, s, len);
    w->n += len;
}

static void w_str(struct w *w, const char *s)
{
    w_raw(w, s, strlen(s));
}

/* Bytes of the JSON-escaped form of one character at s, and its input
 * length in *in. Invalid UTF-8 becomes U+FFFD. */
static size_t esc_char(const char *s, size_t left, size_t *in, char out[8])
{
    unsigned char c = (unsigned char)s[0];
    *in = 1;
    switch (c) {
    case '"': memcpy(out, "\\\"", 2); return 2;
    case '\\': memcpy(out, "\\\\", 2); return 2;
    case '\n': memcpy(out, "\\n", 2); return 2;
    case '\r': memcpy(out, "\\r", 2); return 2;
    case '\t': memcpy(out, "\\t", 2); return 2;
    case '\b': memcpy(out, "\\b", 2); return 2;
    case '\f': memcpy(out, "\\f", 2); return 2;
    default: break;
    }
    if (c < 0x20) {
        snprintf(out, 8, "\\u%04x", c);
        return 6;
    }
    size_t n = utf8_seq((const unsigned char *)s, left);
    if (n == 0) {
        memcpy(out, "\xEF\xBF\xBD", 3);
        return 3;
    }
    memcpy(out, s, n);
    *in = n;
    return n;
}

static void w_esc(struct w *w, const char *s, size_t len)
{
    char buf[8];
    for (size_t i = 0; i < len;) {
        /* Copy runs of plain ASCII at once: most log text is just that. */
        size_t run = i;
        while (run < len && (unsigned char)s[run] >= 0x20 && (unsigned char)s[run] < 0x80 &&
               s[run] != '"' && s[run] != '\\')
            run++;
        if (run > i) {
            w_raw(w, s + i, run - i);
            i = run;
            continue;
        }
        size_t in, k = esc_char(s + i, len - i, &in, buf);
        w_raw(w, buf, k);
        i += in;
    }
}

static size_t esc_len(const char *s, size_t len)
{
    struct w w = {NULL, 0};
    w_esc(&w, s, len);
    return w.n;
}

/* ---- status ---------------------------------------------------------- */

const char *fl_logs_map_level(const char *level)
{
    static const struct {
        const char *name, *status;
    } map[] = {
        {"fatal", "critical"}, {"critical", "critical"}, {"error", "error"},
        {"err", "error"},      {"warn", "warn"},         {"warning", "warn"},
        {"info", "info"},      {"information", "info"},  {"debug", "debug"},
        {"trace", "trace"},
    };
    if (!level)
        return NULL;
    for (size_t i = 0; i < sizeof(map) / sizeof(*map); i++)
        if (strcasecmp(level, map[i].name) == 0)
            return map[i].status;
    return NULL;
}

/* ---- context --------------------------------------------------------- */

int fl_logs_set_context(struct fl_logs *b, const struct fl_logs_ctx *ctx)
{
    char *arn = dup_lower(ctx ? ctx->arn : NULL);
    char *svc = dup_lower(ctx ? ctx->service : NULL);
    char *tags = strdup(ctx && ctx->tags ? ctx->tags : "");
    if (!arn || !svc || !tags) {
        free(arn);
        free(svc);
        free(tags);
        return -1;
    }
    free(b->arn);
    free(b->service);
    free(b->tags);
    b->arn = arn;
    b->service = svc;
    b->tags = tags;
    return 0;
}

struct fl_logs *fl_logs_new(const struct fl_logs_ctx *ctx, const struct fl_logs_limits *lim)
{
    struct fl_logs *b = calloc(1, sizeof(*b));
    if (!b)
        return NULL;
    if (lim)
        b->lim = *lim;
    else
        fl_logs_limits_default(&b->lim);
    if (b->lim.max_entries == 0 || b->lim.max_payload < 64 || b->lim.max_entry < 64) {
        free(b);
        return NULL;
    }
    if (fl_logs_set_context(b, ctx)) {
        free(b);
        return NULL;
    }
    return b;
}

static void q_free(struct queue *q)
{
    struct entry *e;
    while ((e = q_pop(q)))
        entry_free(e);
}

void fl_logs_free(struct fl_logs *b)
{
    if (!b)
        return;
    q_free(&b->ready);
    q_free(&b->held);
    while (b->flights) {
        struct flight *f = b->flights;
        b->flights = f->next;
        q_free(&f->q);
        free(f);
    }
    free(b->arn);
    free(b->service);
    free(b->tags);
    free(b->cur_rid);
    free(b);
}

/* ---- entries --------------------------------------------------------- */

/* Writes (or, with w->p NULL, sizes) one entry with the current context. */
static void entry_write(const struct fl_logs *b, const struct entry *e, struct w *w)
{
    char num[32];
    w_str(w, "{\"message\":{\"message\":\"");
    w_esc(w, e->msg, e->msg_len);
    w_str(w, "\",\"lambda\":{\"arn\":\"");
    w_esc(w, b->arn, strlen(b->arn));
    w_str(w, "\",\"request_id\":");
    if (e->rid) {
        w_str(w, "\"");
        w_esc(w, e->rid, strlen(e->rid));
        w_str(w, "\"");
    } else {
        w_str(w, "null");
    }
    snprintf(num, sizeof(num), "%lld", (long long)e->time_ms);
    w_str(w, "},\"timestamp\":");
    w_str(w, num);
    w_str(w, ",\"status\":\"");
    w_str(w, e->status);
    w_str(w, "\"},\"hostname\":\"");
    w_esc(w, b->arn, strlen(b->arn));
    w_str(w, "\",\"service\":\"");
    w_esc(w, b->service, strlen(b->service));
    w_str(w, "\",\"ddtags\":\"");
    w_esc(w, b->tags, strlen(b->tags));
    if (e->extra_tags) {
        if (b->tags[0])
            w_str(w, ",");
        w_esc(w, e->extra_tags, strlen(e->extra_tags));
    }
    w_str(w, "\",\"ddsource\":\"lambda\"}");
}

/* Bytes of the entry without its message text (the message's share is
 * what truncation may cut). A missing request id reserves room for one. */
static size_t entry_frame_len(const struct fl_logs *b, const struct entry *e)
{
    struct entry tmp = *e;
    tmp.msg = "";
    tmp.msg_len = 0;
    struct w w = {NULL, 0};
    entry_write(b, &tmp, &w);
    return w.n + (e->rid ? 0 : 64);
}

/* Cuts e->msg so its escaped form fits budget bytes, marker included. */
static int entry_truncate(struct entry *e, size_t budget)
{
    const size_t mk = sizeof(FL_LOGS_TRUNC_MARK) - 1;
    size_t room = budget > mk ? budget - mk : 0;
    size_t i = 0, used = 0;
    char buf[8];
    while (i < e->msg_len) {
        size_t in, k = esc_char(e->msg + i, e->msg_len - i, &in, buf);
        if (used + k > room)
            break;
        used += k;
        i += in;
    }
    char *m = malloc(i + mk + 1);
    if (!m)
        return -1;
    memcpy(m, e->msg, i);
    memcpy(m + i, FL_LOGS_TRUNC_MARK, mk + 1);
    free(e->msg);
    e->msg = m;
    e->msg_len = i + mk;
    return 0;
}

/* JSON log: status from level/status, request id, ddtags moved out. */
static int apply_json(struct entry *e, const struct fl_logs_record *rec)
{
    size_t i = 0;
    while (i < rec->message_len && isspace((unsigned char)rec->message[i]))
        i++;
    if (i >= rec->message_len || rec->message[i] != '{')
        return 0;
    json_error_t err;
    json_t *obj = json_loadb(rec->message, rec->message_len, 0, &err);
    if (!json_is_object(obj)) {
        json_decref(obj);
        return 0;
    }
    const char *st = NULL;
    json_t *lv = json_object_get(obj, "level");
    if (json_is_string(lv))
        st = fl_logs_map_level(json_string_value(lv));
    if (!st) {
        json_t *sv = json_object_get(obj, "status");
        if (json_is_string(sv))
            st = fl_logs_map_level(json_string_value(sv));
    }
    if (st)
        e->status = st;
    if (!e->rid) {
        json_t *r = json_object_get(obj, "requestId");
        if (!json_is_string(r))
            r = json_object_get(obj, "AWSRequestId");
        if (json_is_string(r) && json_string_length(r) > 0) {
            e->rid = strdup(json_string_value(r));
            if (!e->rid)
                goto nomem;
        }
    }
    json_t *holder = obj, *tags = json_object_get(obj, "ddtags");
    if (!json_is_string(tags)) {
        json_t *inner = json_object_get(obj, "message");
        tags = json_is_object(inner) ? json_object_get(inner, "ddtags") : NULL;
        holder = json_is_string(tags) ? inner : NULL;
    }
    if (holder && json_is_string(tags)) {
        e->extra_tags = strdup(json_string_value(tags));
        json_object_del(holder, "ddtags");
        char *text = json_dumps(holder, JSON_COMPACT | JSON_PRESERVE_ORDER);
        if (!e->extra_tags || !text) {
            free(text);
            goto nomem;
        }
        free(e->msg);
        e->msg = text;
        e->msg_len = strlen(text);
    }
    json_decref(obj);
    return 0;
nomem:
    json_decref(obj);
    return -1;
}

static void release_held(struct fl_logs *b, const char *rid)
{
    struct entry *e;
    while ((e = q_pop(&b->held))) {
        if (rid && !e->rid)
            e->rid = strdup(rid); /* out of memory: it goes out with null */
        q_push(&b->ready, e);
    }
}

void fl_logs_release_held(struct fl_logs *b)
{
    release_held(b, NULL);
}

int fl_logs_start_invocation(struct fl_logs *b, const char *request_id)
{
    if (!request_id || !*request_id)
        return -1;
    char *r = strdup(request_id);
    if (!r)
        return -1;
    free(b->cur_rid);
    b->cur_rid = r;
    release_held(b, r);
    return 0;
}

static void drop_entry(struct fl_logs *b, struct entry *e)
{
    b->queued_bytes -= e->cost;
    b->st.dropped++;
    entry_free(e);
}

/* Makes room for cost bytes by dropping the oldest queued records. */
static int make_room(struct fl_logs *b, size_t cost)
{
    if (cost > b->lim.max_pending || b->flight_bytes + cost > b->lim.max_pending)
        return -1; /* would not fit even with every droppable record gone */
    while (b->queued_bytes + cost > b->lim.max_pending) {
        struct queue *q;
        if (b->ready.head && b->held.head)
            q = b->ready.head->order < b->held.head->order ? &b->ready : &b->held;
        else if (b->ready.head)
            q = &b->ready;
        else if (b->held.head)
            q = &b->held;
        else
            return -1;
        drop_entry(b, q_pop(q));
    }
    return 0;
}

void fl_logs_note_seq(struct fl_logs *b, uint64_t seq)
{
    if (seq > b->last_seq)
        b->last_seq = seq;
}

int fl_logs_add(struct fl_logs *b, const struct fl_logs_record *rec)
{
    if (!b || !rec || (!rec->message && rec->message_len))
        return -1;
    fl_logs_note_seq(b, rec->seq);
    struct entry *e = calloc(1, sizeof(*e));
    if (!e)
        return -1;
    e->seq = rec->seq;
    e->order = b->next_order++;
    e->time_ms = rec->time_ms;
    e->status = "info";
    e->msg = malloc(rec->message_len + 1);
    if (!e->msg)
        goto nomem;
    if (rec->message_len)
        memcpy(e->msg, rec->message, rec->message_len);
    e->msg[rec->message_len] = '\0';
    e->msg_len = rec->message_len;
    if (rec->request_id && *rec->request_id && !(e->rid = strdup(rec->request_id)))
        goto nomem;

    int is_start = 0, is_end = 0;
    if (rec->source == LOG_SRC_PLATFORM) {
        is_start = rec->event == PE_START;
        is_end = rec->event == PE_RUNTIME_DONE;
        if (is_end && rec->is_error)
            e->status = "error";
    } else if (apply_json(e, rec)) {
        goto nomem;
    }
    if (!e->rid && !is_start && b->cur_rid && !(e->rid = strdup(b->cur_rid)))
        goto nomem;

    size_t frame = entry_frame_len(b, e);
    size_t budget = b->lim.max_entry > frame ? b->lim.max_entry - frame : 0;
    size_t mlen = esc_len(e->msg, e->msg_len);
    if (mlen > budget) {
        if (entry_truncate(e, budget))
            goto nomem;
        b->st.truncated++;
        mlen = esc_len(e->msg, e->msg_len);
    }
    e->cost = frame + mlen;
    if (make_room(b, e->cost)) {
        b->st.dropped++;
        entry_free(e);
        return 1;
    }
    b->queued_bytes += e->cost;
    b->st.added++;

    if (is_start && e->rid) {
        q_push(&b->ready, e);
        fl_logs_start_invocation(b, e->rid);
    } else if (e->rid) {
        q_push(&b->ready, e);
        if (is_end) {
            free(b->cur_rid);
            b->cur_rid = NULL;
        }
    } else {
        q_push(&b->held, e);
    }
    return 0;
nomem:
    entry_free(e);
    return -1;
}

/* ---- payloads ------------------------------------------------------- */

int fl_logs_take_payload(struct fl_logs *b, struct fl_logs_payload *out)
{
    memset(out, 0, sizeof(*out));
    struct flight *f = calloc(1, sizeof(*f));
    if (!f)
        return -1;
    size_t total = 2; /* [ ] */
    uint64_t max_seq = 0;
    size_t cap = b->lim.max_entries;
    while (b->ready.head && f->q.n < cap) {
        struct entry *e = b->ready.head;
        if (e->batch_max && e->batch_max < cap) {
            if (f->q.n >= e->batch_max)
                break; /* it goes first in the next, smaller payload */
            cap = e->batch_max;
        }
        struct w w = {NULL, 0};
        entry_write(b, e, &w);
        size_t add = w.n + (f->q.n ? 1 : 0);
        if (total + add > b->lim.max_payload) {
            if (f->q.n)
                break;
            /* Alone too big for any payload: it can never be sent. */
            drop_entry(b, q_pop(&b->ready));
            continue;
        }
        total += add;
        b->flight_bytes += e->cost;
        q_push(&f->q, q_pop(&b->ready));
        if (e->seq > max_seq)
            max_seq = e->seq;
    }
    if (f->q.n == 0) {
        free(f);
        return 0;
    }
    char *body = malloc(total + 1);
    if (!body) {
        for (struct entry *e = f->q.head; e; e = e->next)
            b->flight_bytes -= e->cost;
        q_prepend(&b->ready, &f->q);
        free(f);
        return -1;
    }
    struct w w = {body, 0};
    w_str(&w, "[");
    for (struct entry *e = f->q.head; e; e = e->next) {
        if (e != f->q.head)
            w_str(&w, ",");
        entry_write(b, e, &w);
    }
    w_str(&w, "]");
    body[w.n] = '\0';
    f->id = ++b->next_payload;
    f->next = b->flights;
    b->flights = f;
    out->id = f->id;
    out->body = body;
    out->len = w.n;
    out->entries = f->q.n;
    out->max_seq = max_seq;
    return 1;
}

void fl_logs_payload_done(struct fl_logs *b, struct fl_logs_payload *p, enum fl_logs_outcome o)
{
    if (!b || !p)
        return;
    free(p->body);
    p->body = NULL;
    struct flight **pp = &b->flights;
    while (*pp && (*pp)->id != p->id)
        pp = &(*pp)->next;
    struct flight *f = *pp;
    if (!f)
        return;
    *pp = f->next;
    for (struct entry *e = f->q.head; e; e = e->next)
        b->flight_bytes -= e->cost;
    if (o == FL_LOGS_SPLIT && f->q.n == 1) {
        /* one entry the intake finds too large: cut it (as at add time,
         * to a quarter of what it was, at least FL_LOGS_SPLIT_FLOOR left) */
        struct entry *e = f->q.head;
        size_t frame = entry_frame_len(b, e), mlen = esc_len(e->msg, e->msg_len);
        size_t mk = sizeof(FL_LOGS_TRUNC_MARK) - 1;
        if (mlen / 4 >= FL_LOGS_SPLIT_FLOOR + mk && entry_truncate(e, mlen / 4) == 0) {
            b->queued_bytes -= e->cost;
            e->cost = frame + esc_len(e->msg, e->msg_len);
            b->queued_bytes += e->cost;
            b->st.truncated++;
            b->st.split_truncated++;
            q_prepend(&b->ready, &f->q);
        } else {
            o = FL_LOGS_GIVEN_UP; /* nothing left to cut: dropped, counted */
        }
    } else if (o == FL_LOGS_SPLIT) {
        size_t half = (f->q.n + 1) / 2;
        for (struct entry *e = f->q.head; e; e = e->next)
            e->batch_max = half;
        b->st.splits++;
        q_prepend(&b->ready, &f->q);
    }
    if (o == FL_LOGS_SPLIT) {
        /* requeued above */
    } else if (o == FL_LOGS_REQUEUE) {
        q_prepend(&b->ready, &f->q);
    } else {
        struct entry *e;
        while ((e = q_pop(&f->q))) {
            b->queued_bytes -= e->cost;
            if (o == FL_LOGS_SENT)
                b->st.sent++;
            else
                b->st.dropped++;
            entry_free(e);
        }
    }
    free(f);
}

static void q_min_seq(const struct queue *q, uint64_t *min)
{
    for (const struct entry *e = q->head; e; e = e->next)
        if (e->seq < *min)
            *min = e->seq;
}

uint64_t fl_logs_ackable(const struct fl_logs *b)
{
    uint64_t min = UINT64_MAX;
    q_min_seq(&b->ready, &min);
    q_min_seq(&b->held, &min);
    for (const struct flight *f = b->flights; f; f = f->next)
        q_min_seq(&f->q, &min);
    if (min == UINT64_MAX)
        return b->last_seq;
    return min > 0 ? min - 1 : 0;
}

void fl_logs_get_stats(const struct fl_logs *b, struct fl_logs_stats *out)
{
    *out = b->st;
    out->queued_bytes = b->queued_bytes;
    out->ready = b->ready.n;
    out->held = b->held.n;
    out->in_flight = 0;
    for (const struct flight *f = b->flights; f; f = f->next)
        out->in_flight += f->q.n;
}

/* ---- platform lines ---------------------------------------------------- */

/* Appends at *at, never past cap; a cut line stays NUL-terminated. */
__attribute__((format(printf, 4, 5)))
static int put(char *buf, size_t cap, size_t *at, const char *fmt, ...)
{
    if (*at >= cap)
        return -1;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf + *at, cap - *at, fmt, ap);
    va_end(ap);
    if (n < 0)
        return -1;
    *at += (size_t)n < cap - *at ? (size_t)n : cap - *at - 1;
    return 0;
}

/* errorType as a quoted, escaped string, the way Datadog's extension
 * prints it (a Rust debug string). */
static void put_quoted(char *buf, size_t cap, size_t *at, const char *s)
{
    put(buf, cap, at, "\"");
    for (; s && *s; s++) {
        if (*s == '"' || *s == '\\')
            put(buf, cap, at, "\\%c", *s);
        else if (*s == '\n')
            put(buf, cap, at, "\\n");
        else if (*s == '\r')
            put(buf, cap, at, "\\r");
        else if (*s == '\t')
            put(buf, cap, at, "\\t");
        else
            put(buf, cap, at, "%c", *s);
    }
    put(buf, cap, at, "\"");
}

int fl_logs_platform_line(const struct ft_platform *p, char *buf, size_t cap)
{
    if (!p || !buf || cap == 0)
        return -1;
    buf[0] = '\0';
    size_t at = 0;
    const char *id = p->request_id ? p->request_id : "";
    switch (p->event) {
    case PE_INIT_START:
        put(buf, cap, &at, "INIT_START Runtime Version: %s Runtime Version ARN: %s",
            p->runtime_version ? p->runtime_version : "?",
            p->runtime_version_arn ? p->runtime_version_arn : "?");
        break;
    case PE_START:
        put(buf, cap, &at, "START RequestId: %s Version: %s", id, p->version ? p->version : "$LATEST");
        break;
    case PE_RUNTIME_DONE:
        put(buf, cap, &at, "END RequestId: %s", id);
        if (p->has_is_error && p->is_error) {
            if (p->status && strcmp(p->status, "timeout") == 0) {
                put(buf, cap, &at, " Task timed out after %.2f seconds",
                    (p->has_duration_ms ? p->duration_ms : 0.0) / 1000.0);
            } else {
                put(buf, cap, &at, " Task failed: ");
                put_quoted(buf, cap, &at, p->error_type ? p->error_type : "");
            }
        }
        break;
    case PE_REPORT: {
        double dur = p->has_duration_ms ? p->duration_ms : 0.0;
        double rt = p->has_runtime_ms && p->runtime_ms > 0 ? p->runtime_ms : 0.0;
        double post = rt > 0 ? dur - rt : 0.0;
        put(buf, cap, &at,
            "REPORT RequestId: %s Duration: %.2f ms Runtime Duration: %.2f ms "
            "Post Runtime Duration: %.2f ms Billed Duration: %lld ms "
            "Memory Size: %lld MB Max Memory Used: %lld MB",
            id, dur, rt, post, (long long)(p->has_billed_ms ? p->billed_ms : 0),
            (long long)(p->has_memory_mb ? p->memory_mb : 0),
            (long long)(p->has_max_memory_mb ? p->max_memory_mb : 0));
        if (p->has_init_ms)
            put(buf, cap, &at, " Init Duration: %.2f ms", p->init_ms);
        break;
    }
    default:
        return 0;
    }
    return (int)at;
}

int fl_logs_add_platform(struct fl_logs *b, uint64_t seq, const struct ft_platform *p)
{
    char line[FL_LOGS_LINE_MAX];
    int n = fl_logs_platform_line(p, line, sizeof line);
    if (n < 0 || b == NULL)
        return -1;
    if (n == 0) {
        fl_logs_note_seq(b, seq);
        return FL_LOGS_NO_LINE;
    }
    struct fl_logs_record rec = {
        .seq = seq,
        .time_ms = p->time_ms,
        .source = LOG_SRC_PLATFORM,
        .request_id = p->request_id,
        .message = line,
        .message_len = (size_t)n,
        .event = p->event,
        .is_error = p->has_is_error && p->is_error,
    };
    return fl_logs_add(b, &rec);
}
