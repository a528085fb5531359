/* telemetry.c — Telemetry API batch parser and platform log lines.
 * See telemetry.h for the contract and the handling of bad input. */
#include "telemetry.h"
#include "utf8.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void lc_tele_limits_default(struct lc_tele_limits *lim)
{
    lim->max_body = LC_TELE_MAX_BODY;
    lim->max_records = LC_TELE_MAX_RECORDS;
    lim->max_message = LC_TELE_MAX_MESSAGE;
    lim->max_depth = LC_TELE_MAX_DEPTH;
}

/* ---- time ------------------------------------------------------------ */

static int digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (era arithmetic, so
 * it holds for any year without a table). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

int lc_tele_time_ms(const char *s, int64_t *out_ms)
{
    int y, mo, d, h, mi, sec;
    if (!s || strlen(s) < 19)
        return -1;
    if (digits(s, 4, &y) || s[4] != '-' || digits(s + 5, 2, &mo) || s[7] != '-' ||
        digits(s + 8, 2, &d) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
        digits(s + 11, 2, &h) || s[13] != ':' || digits(s + 14, 2, &mi) ||
        s[16] != ':' || digits(s + 17, 2, &sec))
        return -1;
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 || mi > 59 || sec > 60)
        return -1;
    const char *p = s + 19;
    int ms = 0;
    if (*p == '.' || *p == ',') {
        p++;
        int n = 0;
        while (*p >= '0' && *p <= '9') {
            if (n < 3)
                ms = ms * 10 + (*p - '0');
            n++;
            p++;
        }
        if (n == 0)
            return -1;
        for (int i = n; i < 3; i++)
            ms *= 10;
    }
    int64_t off_s = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int oh, om;
        int sign = *p == '-' ? -1 : 1;
        p++;
        if (digits(p, 2, &oh))
            return -1;
        p += 2;
        if (*p == ':')
            p++;
        if (digits(p, 2, &om))
            return -1;
        p += 2;
        if (oh > 23 || om > 59)
            return -1;
        off_s = sign * (oh * 3600 + om * 60);
    } else if (*p != '\0') {
        return -1;
    }
    if (*p != '\0')
        return -1;
    int64_t secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - off_s;
    *out_ms = secs * 1000 + ms;
    return 0;
}

/* ---- bounded scanning of the raw body --------------------------------- */

struct span {
    size_t off, len;
    int depth; /* deepest nesting inside the element, the element itself = 1 */
};

static int is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Splits a top-level JSON array into element spans without trusting it to
 * be valid: string-aware, so commas and brackets inside strings do not
 * count. Stores at most `cap` spans, counts all in *total, and reports the
 * deepest element overall (array = depth 1). Returns -1 if the body does
 * not start with '['. */
static int split_array(const char *b, size_t len, struct span *out, size_t cap,
                       size_t *total, int *max_depth)
{
    size_t i = 0, n = 0;
    while (i < len && is_ws(b[i]))
        i++;
    if (i >= len || b[i] != '[')
        return -1;
    i++;
    int depth = 0, in_str = 0, esc = 0, deepest = 1;
    size_t start = (size_t)-1;
    int el_depth = 0;
    for (; i < len; i++) {
        char c = b[i];
        if (in_str) {
            if (esc)
                esc = 0;
            else if (c == '\\')
                esc = 1;
            else if (c == '"')
                in_str = 0;
            continue;
        }
        if (start == (size_t)-1) {
            if (is_ws(c))
                continue;
            if (depth == 0 && c == ']')
                break;
            start = i;
            el_depth = 1;
        }
        if (c == '"') {
            in_str = 1;
        } else if (c == '[' || c == '{') {
            depth++;
            if (depth + 1 > el_depth)
                el_depth = depth + 1;
        } else if ((c == ']' || c == '}') && depth > 0) {
            depth--;
        } else if (depth == 0 && (c == ',' || c == ']')) {
            if (n < cap)
                out[n] = (struct span){start, i - start, el_depth};
            n++;
            if (el_depth > deepest)
                deepest = el_depth;
            start = (size_t)-1;
            if (c == ']')
                break;
        }
    }
    if (start != (size_t)-1) { /* unterminated: keep the tail as one element */
        if (n < cap)
            out[n] = (struct span){start, i - start, el_depth};
        n++;
        if (el_depth > deepest)
            deepest = el_depth;
    }
    *total = n;
    *max_depth = deepest;
    return 0;
}

/* Copy of s with every byte that does not start a valid UTF-8 sequence
 * replaced by U+FFFD (3 bytes), so the output is at most 3 * len. */
static char *utf8_sanitize(const char *s, size_t len, size_t *out_len)
{
    if (len > SIZE_MAX / 3)
        return NULL;
    char *o = malloc(len * 3 + 1);
    if (!o)
        return NULL;
    size_t j = 0;
    for (size_t i = 0; i < len;) {
        size_t n = utf8_seq((const unsigned char *)s + i, len - i);
        if (n == 0) {
            memcpy(o + j, "\xEF\xBF\xBD", 3);
            j += 3;
            i++;
        } else {
            memcpy(o + j, s + i, n);
            j += n;
            i += n;
        }
    }
    o[j] = '\0';
    *out_len = j;
    return o;
}

/* ---- record conversion ----------------------------------------------- */

static const char *get_str(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* Schema-typed fields. Absent: nothing happens. Present with the wrong
 * JSON type or out of [lo, hi]: refused (left out) and counted; Lambda's
 * schema has numbers and integers here, never strings. */
struct fields {
    struct lc_tele_stats *st;
};

static void refuse(struct fields *f, const char *key, bool type)
{
    if (type) {
        f->st->ill_typed++;
        if (!f->st->ill_typed_field)
            f->st->ill_typed_field = key;
    } else {
        f->st->out_of_range++;
        if (!f->st->out_of_range_field)
            f->st->out_of_range_field = key;
    }
    if (!f->st->refused_field)
        f->st->refused_field = key;
}

static bool get_num(struct fields *f, json_t *obj, const char *key, double lo, double hi, double *out)
{
    json_t *v = json_object_get(obj, key);
    if (v == NULL)
        return false;
    if (!json_is_number(v)) {
        refuse(f, key, true);
        return false;
    }
    double d = json_number_value(v);
    if (!isfinite(d) || d < lo || d > hi) {
        refuse(f, key, false);
        return false;
    }
    *out = d;
    return true;
}

/* An integer (a real with no fraction, such as 128.0, counts as one). */
static bool get_int(struct fields *f, json_t *obj, const char *key, int64_t lo, int64_t hi, int64_t *out)
{
    json_t *v = json_object_get(obj, key);
    if (v == NULL)
        return false;
    if (json_is_real(v) && (!isfinite(json_real_value(v)) || json_real_value(v) != floor(json_real_value(v)))) {
        refuse(f, key, true);
        return false;
    }
    if (!json_is_number(v)) {
        refuse(f, key, true);
        return false;
    }
    double d = json_number_value(v);
    if (json_is_real(v) && (d < -9.2e18 || d > 9.2e18)) { /* before the conversion */
        refuse(f, key, false);
        return false;
    }
    int64_t i = json_is_integer(v) ? (int64_t)json_integer_value(v) : (int64_t)d;
    if (i < lo || i > hi) {
        refuse(f, key, false);
        return false;
    }
    *out = i;
    return true;
}

static int convert_platform(json_t *rec, struct ft_platform *p, const struct lc_tele_limits *lim,
                            struct lc_tele_stats *st)
{
    if (!json_is_object(rec))
        return -1;
    struct fields f = {st};
    p->request_id = get_str(rec, "requestId");
    p->status = get_str(rec, "status");
    p->error_type = get_str(rec, "errorType");
    p->version = get_str(rec, "version");
    p->runtime_version = get_str(rec, "runtimeVersion");
    p->runtime_version_arn = get_str(rec, "runtimeVersionArn");
    p->reason = get_str(rec, "reason");
    p->has_dropped_records = get_int(&f, rec, "droppedRecords", 0, INT64_MAX, &p->dropped_records);
    p->has_dropped_bytes = get_int(&f, rec, "droppedBytes", 0, INT64_MAX, &p->dropped_bytes);

    json_t *m = json_object_get(rec, "metrics");
    if (json_is_object(m)) {
        int64_t mem_max = lim->memory_mb ? (int64_t)lim->memory_mb : LC_TELE_MEMORY_MAX_MB;
        p->has_duration_ms = get_num(&f, m, "durationMs", 0, LC_TELE_MAX_DURATION_MS, &p->duration_ms);
        p->has_billed_ms = get_int(&f, m, "billedDurationMs", 0, (int64_t)LC_TELE_MAX_DURATION_MS, &p->billed_ms);
        p->has_memory_mb = get_int(&f, m, "memorySizeMB", LC_TELE_MEMORY_MIN_MB, mem_max, &p->memory_mb);
        p->has_max_memory_mb = get_int(&f, m, "maxMemoryUsedMB", 0,
                                       p->has_memory_mb ? p->memory_mb : mem_max, &p->max_memory_mb);
        p->has_init_ms = get_num(&f, m, "initDurationMs", 0, LC_TELE_MAX_DURATION_MS, &p->init_ms);
        p->has_produced_bytes = get_int(&f, m, "producedBytes", 0, LC_TELE_MAX_PRODUCED_BYTES,
                                        &p->produced_bytes);
    }
    /* These three name an invocation; without the id they mean nothing. */
    if (!p->request_id && (p->event == PE_START || p->event == PE_RUNTIME_DONE ||
                           p->event == PE_REPORT))
        return -1;
    return 0;
}

/* Cuts *len to at most max bytes ending with the marker, on a UTF-8
 * boundary. buf must be writable and hold max + 1 bytes. */
static void truncate_message(char *buf, size_t *len, size_t max)
{
    size_t mk = sizeof(LC_TELE_TRUNC_MARK) - 1;
    size_t keep = max > mk ? max - mk : 0;
    /* Back off over continuation bytes so no character is split. */
    while (keep > 0 && ((unsigned char)buf[keep] & 0xC0) == 0x80)
        keep--;
    size_t room = max - keep < mk ? max - keep : mk;
    memcpy(buf + keep, LC_TELE_TRUNC_MARK, room);
    *len = keep + room;
    buf[*len] = '\0';
}

enum conv { CONV_OK, CONV_MALFORMED, CONV_UNKNOWN, CONV_STOP, CONV_NOMEM };

static enum conv emit_record(json_t *el, const struct lc_tele_limits *lim,
                             lc_tele_cb cb, void *arg, struct lc_tele_stats *st)
{
    if (!json_is_object(el))
        return CONV_MALFORMED;
    const char *type = get_str(el, "type");
    const char *time = get_str(el, "time");
    json_t *rec = json_object_get(el, "record");
    int64_t t_ms;
    if (!type || !time || !rec || lc_tele_time_ms(time, &t_ms))
        return CONV_MALFORMED;

    struct lc_tele_record r;
    memset(&r, 0, sizeof(r));
    if (strncmp(type, "platform.", 9) == 0) {
        enum platform_event ev;
        if (!frame_event_from(type + 9, strlen(type + 9), &ev))
            return CONV_UNKNOWN;
        r.kind = LC_TELE_PLATFORM;
        r.u.platform.event = ev;
        r.u.platform.time_ms = t_ms;
        if (convert_platform(rec, &r.u.platform, lim, st))
            return CONV_MALFORMED;
        return cb(&r, arg) ? CONV_STOP : CONV_OK;
    }

    enum log_source src;
    if (strcmp(type, "function") == 0)
        src = LOG_SRC_FUNCTION;
    else if (strcmp(type, "extension") == 0)
        src = LOG_SRC_EXTENSION;
    else
        return CONV_UNKNOWN;

    r.kind = LC_TELE_LOG;
    struct lc_tele_log *lg = &r.u.log;
    lg->time_ms = t_ms;
    lg->source = src;
    char *owned = NULL;
    size_t len;
    if (json_is_string(rec)) {
        len = json_string_length(rec);
        if (len > lim->max_message) {
            owned = malloc(lim->max_message + 1);
            if (!owned)
                return CONV_NOMEM;
            memcpy(owned, json_string_value(rec), lim->max_message);
            owned[lim->max_message] = '\0';
            truncate_message(owned, &len, lim->max_message);
            lg->truncated = true;
        }
        lg->message = owned ? owned : json_string_value(rec);
    } else if (json_is_object(rec)) {
        owned = json_dumps(rec, JSON_COMPACT | JSON_PRESERVE_ORDER);
        if (!owned)
            return CONV_NOMEM;
        len = strlen(owned);
        if (len > lim->max_message) {
            truncate_message(owned, &len, lim->max_message);
            lg->truncated = true;
        }
        lg->message = owned;
        lg->is_json = true;
        lg->level = get_str(rec, "level");
        lg->request_id = get_str(rec, "requestId");
        if (!lg->request_id)
            lg->request_id = get_str(rec, "AWSRequestId");
    } else {
        return CONV_MALFORMED;
    }
    lg->message_len = len;
    if (lg->truncated)
        st->truncated++;
    int rc = cb(&r, arg);
    free(owned);
    return rc ? CONV_STOP : CONV_OK;
}

/* ---- batch ------------------------------------------------------------ */

/* Parses one element on its own; on invalid UTF-8, once more sanitised. */
static json_t *parse_element(const char *s, size_t len, int *sanitized)
{
    json_error_t err;
    json_t *v = json_loadb(s, len, JSON_ALLOW_NUL, &err);
    if (v || json_error_code(&err) != json_error_invalid_utf8)
        return v;
    size_t clen;
    char *clean = utf8_sanitize(s, len, &clen);
    if (!clean)
        return NULL;
    v = json_loadb(clean, clen, JSON_ALLOW_NUL, &err);
    free(clean);
    if (v)
        *sanitized = 1;
    return v;
}

/* The record at span sp is the first example of each kind of refusal it
 * added to st (compared with before). */
static void note_examples(struct lc_tele_stats *st, const struct lc_tele_stats *before, const struct span *sp)
{
    struct {
        size_t now, was;
        struct lc_tele_example *ex;
    } k[] = {{st->malformed, before->malformed, &st->ex_malformed},
             {st->unknown, before->unknown, &st->ex_unknown},
             {st->ill_typed, before->ill_typed, &st->ex_ill_typed},
             {st->out_of_range, before->out_of_range, &st->ex_out_of_range}};
    for (size_t i = 0; i < sizeof k / sizeof k[0]; i++)
        if (k[i].now > k[i].was && k[i].ex->len == 0) {
            k[i].ex->off = sp->off;
            k[i].ex->len = sp->len;
        }
}

static int dispatch(enum conv c, struct lc_tele_stats *st)
{
    switch (c) {
    case CONV_OK: st->emitted++; return 0;
    case CONV_MALFORMED: st->malformed++; return 0;
    case CONV_UNKNOWN: st->unknown++; return 0;
    case CONV_STOP: st->emitted++; return LC_TELE_ESTOPPED;
    case CONV_NOMEM: st->malformed++; return LC_TELE_ENOMEM;
    }
    return 0;
}

int lc_telemetry_parse(const char *body, size_t len, const struct lc_tele_limits *lim_in,
                       lc_tele_cb cb, void *arg, struct lc_tele_stats *st_out)
{
    struct lc_tele_limits lim;
    struct lc_tele_stats st_local;
    struct lc_tele_stats *st = st_out ? st_out : &st_local;
    memset(st, 0, sizeof(*st));
    if (lim_in)
        lim = *lim_in;
    else
        lc_tele_limits_default(&lim);
    if (!body || !cb || lim.max_depth < 3 || lim.max_message < sizeof(LC_TELE_TRUNC_MARK) ||
        lim.max_records > (1u << 24))
        return LC_TELE_EINVAL;
    if (len > lim.max_body)
        return LC_TELE_ETOOBIG;

    /* One span more than kept records, so "too many" is visible. */
    size_t cap = lim.max_records;
    struct span *spans = malloc((cap + 1) * sizeof(*spans));
    if (!spans)
        return LC_TELE_ENOMEM;
    size_t total;
    int deepest;
    if (split_array(body, len, spans, cap + 1, &total, &deepest)) {
        free(spans);
        return LC_TELE_ENOTJSON;
    }
    st->records = total;
    size_t n = total < cap ? total : cap;
    st->over_limit = total - n;

    int rc = LC_TELE_OK;
    json_t *all = NULL;
    if (deepest <= lim.max_depth) {
        json_error_t err;
        all = json_loadb(body, len, JSON_ALLOW_NUL, &err);
        if (all && (!json_is_array(all) || json_array_size(all) != total)) {
            /* The scanner and jansson disagree: trust neither, go slow. */
            json_decref(all);
            all = NULL;
        }
    }
    if (all) {
        for (size_t i = 0; i < n && rc == LC_TELE_OK; i++) {
            struct lc_tele_stats before = *st;
            rc = dispatch(emit_record(json_array_get(all, i), &lim, cb, arg, st), st);
            note_examples(st, &before, &spans[i]);
        }
        json_decref(all);
        free(spans);
        return rc;
    }

    /* Slow path: each element alone, so one bad record costs only itself. */
    size_t parsed = 0, too_deep = 0;
    for (size_t i = 0; i < n && rc == LC_TELE_OK; i++) {
        struct lc_tele_stats before = *st;
        if (spans[i].depth > lim.max_depth) {
            st->malformed++;
            too_deep++;
            note_examples(st, &before, &spans[i]);
            continue;
        }
        int san = 0;
        json_t *el = parse_element(body + spans[i].off, spans[i].len, &san);
        if (!el) {
            st->malformed++;
            note_examples(st, &before, &spans[i]);
            continue;
        }
        parsed++;
        enum conv c = emit_record(el, &lim, cb, arg, st);
        if (san && c == CONV_OK)
            st->sanitized++;
        rc = dispatch(c, st);
        note_examples(st, &before, &spans[i]);
        json_decref(el);
    }
    free(spans);
    /* Nothing in it was JSON (and not merely too deep): not a batch. */
    if (rc == LC_TELE_OK && parsed == 0 && too_deep == 0)
        return LC_TELE_ENOTJSON;
    return rc;
}

/* ---- what the flusher's platform lines need ------------------------- */

bool lc_tele_is_error(const struct ft_platform *p)
{
    /* Datadog's extension adds the reason only when metrics came. */
    return p->event == PE_RUNTIME_DONE && p->status && p->has_duration_ms &&
           (strcmp(p->status, "timeout") == 0 || strcmp(p->status, "error") == 0);
}

void lc_tele_pair(struct lc_tele_linectx *ctx, struct ft_platform *p)
{
    const char *id = p->request_id ? p->request_id : "";
    p->is_error = lc_tele_is_error(p);
    p->has_is_error = true;
    if (p->event == PE_RUNTIME_DONE) {
        snprintf(ctx->request_id, sizeof(ctx->request_id), "%s", id);
        ctx->runtime_ms = p->has_duration_ms ? p->duration_ms : 0.0;
    } else if (p->event == PE_REPORT && strcmp(ctx->request_id, id) == 0 && ctx->runtime_ms > 0) {
        p->runtime_ms = ctx->runtime_ms;
        p->has_runtime_ms = true;
    }
}
