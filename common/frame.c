/* frame.c — see frame.h; the frames themselves are in frames.def. Every
 * function named after a frame is generated from that list: each pass
 * below includes frames.def with FIELD defined for one job.
 *
 * Decoding: mpw_check (mpwalk.h) first, so msgpack-c never allocates for
 * a count the bytes could not hold nor for more than FRAME_NODES_MAX
 * values; then msgpack-c unpacks into a zone the frame keeps, and the
 * typed struct is filled from the msgpack objects. Strings are copied into
 * the zone with a NUL after them. */
#include "frame.h"

#include <math.h>
#include <msgpack.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mpwalk.h"

_Static_assert(FRAME_VERSION < 128, "the version is encoded as a positive fixint");

/* ---- names and directions ------------------------------------------------ */

static const char *const event_names[PE_COUNT] = {
#define PLATFORM_EVENT(NAME, str) [PE_##NAME] = str,
#include "frames.def"
#undef PLATFORM_EVENT
};

const char *frame_event_name(enum platform_event e)
{
    return (unsigned)e < PE_COUNT ? event_names[e] : "unknown";
}

bool frame_event_from(const char *s, size_t len, enum platform_event *out)
{
    for (unsigned i = 0; i < PE_COUNT; i++)
        if (strlen(event_names[i]) == len && memcmp(event_names[i], s, len) == 0) {
            *out = (enum platform_event)i;
            return true;
        }
    return false;
}

const char *frame_source_name(enum log_source s)
{
    switch (s) {
#define LOG_SOURCE(NAME, num, str) case LOG_SRC_##NAME: return str;
#include "frames.def"
#undef LOG_SOURCE
    }
    return "unknown";
}

unsigned frame_type_dirs(uint32_t type)
{
    switch (type) {
#define FRAME(NAME, name, num, dirs, FIELDS) case FT_##NAME: return (dirs);
#include "frames.def"
#undef FRAME
    default: return 0;
    }
}

const char *frame_type_name(uint32_t type)
{
    switch (type) {
#define FRAME(NAME, name, num, dirs, FIELDS) case FT_##NAME: return #NAME;
#include "frames.def"
#undef FRAME
    default: return "UNKNOWN";
    }
}

uint32_t frame_hdr_len(const uint8_t hdr[FRAME_HDR_LEN])
{
    uint32_t n = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 | (uint32_t)hdr[2] << 8 | hdr[3];
    return (n == 0 || n > FRAME_MAX) ? 0 : n;
}

/* ---- writer -------------------------------------------------------------- */

/* msgpack-c's packer writes here; the frame never grows past FRAME_MAX. */
static int fb_write(void *data, const char *buf, size_t len)
{
    struct frame_buf *fb = data;
    if (fb->err)
        return -1;
    if (len > (size_t)FRAME_MAX + FRAME_HDR_LEN - fb->len) {
        fb->err = true;
        return -1;
    }
    if (fb->len + len > fb->cap) {
        size_t ncap = fb->cap ? fb->cap : 256;
        while (ncap < fb->len + len)
            ncap *= 2;
        uint8_t *np = realloc(fb->p, ncap);
        if (np == NULL) {
            fb->err = true;
            return -1;
        }
        fb->p = np;
        fb->cap = ncap;
    }
    if (len) /* an empty bin body comes with a NULL pointer */
        memcpy(fb->p + fb->len, buf, len);
    fb->len += len;
    return 0;
}

static void enc_begin(struct frame_buf *fb, msgpack_packer *pk, enum frame_type type)
{
    fb->len = 0;
    fb->err = false;
    msgpack_packer_init(pk, fb, fb_write);
    static const char prefix[FRAME_HDR_LEN] = {0};
    fb_write(fb, prefix, sizeof prefix); /* the length, patched by enc_finish */
    msgpack_pack_array(pk, 4);
    msgpack_pack_unsigned_int(pk, FRAME_VERSION);
    msgpack_pack_fix_uint8(pk, (uint8_t)type);
    msgpack_pack_fix_uint64(pk, 0); /* seq: stamped in place by the sender */
}

static int enc_finish(struct frame_buf *fb)
{
    if (fb->err || fb->len < FRAME_OFF_BODY + 1)
        return -1;
    size_t n = fb->len - FRAME_HDR_LEN;
    fb->p[0] = (uint8_t)(n >> 24);
    fb->p[1] = (uint8_t)(n >> 16);
    fb->p[2] = (uint8_t)(n >> 8);
    fb->p[3] = (uint8_t)n;
    return 0;
}

static void pack_cstr(msgpack_packer *pk, const char *s)
{
    size_t n = s ? strlen(s) : 0;
    msgpack_pack_str_with_body(pk, s ? s : "", n);
}

static void pack_event(msgpack_packer *pk, enum platform_event e)
{
    pack_cstr(pk, frame_event_name(e));
}

static int pack_logrecs(msgpack_packer *pk, const struct ft_log_record *r, uint32_t n)
{
    if (n && r == NULL)
        return -1;
    msgpack_pack_array(pk, n);
    for (uint32_t i = 0; i < n; i++) {
        if ((unsigned)r[i].source > LOG_SRC_MAX || (r[i].message == NULL && r[i].message_len))
            return -1;
        msgpack_pack_array(pk, 4);
        msgpack_pack_int64(pk, r[i].time_ms);
        msgpack_pack_unsigned_int(pk, (unsigned)r[i].source);
        if (r[i].request_id)
            pack_cstr(pk, r[i].request_id);
        else
            msgpack_pack_nil(pk);
        msgpack_pack_str_with_body(pk, r[i].message ? r[i].message : "", r[i].message_len);
    }
    return 0;
}

static int pack_bin(msgpack_packer *pk, const uint8_t *b, size_t len)
{
    if (len > UINT32_MAX)
        return -1;
    msgpack_pack_bin(pk, len);
    msgpack_pack_bin_body(pk, b, len);
    return 0;
}

/* Is field n present in *m? */
#define FT_PRESENT_R(T, n) 1
#define FT_PRESENT_O(T, n) FT_PRESO_##T(n)
#define FT_PRESO_STR(n) (m->n != NULL)
#define FT_PRESO_UINT(n) (m->has_##n)
#define FT_PRESO_INT(n) (m->has_##n)
#define FT_PRESO_FLOAT(n) (m->has_##n)
#define FT_PRESO_BOOL(n) (m->has_##n)
#define FT_PRESO_EVENT(n) (m->has_##n)
#define FT_PRESO_LOGRECS(n) (m->n_##n > 0)
#define FT_PRESO_BIN(n) (m->n != NULL)

/* Pack the value of field n (returns -1 when it cannot be encoded). */
#define FT_PACK_STR(n) (pack_cstr(pk, m->n), 0)
#define FT_PACK_UINT(n) (msgpack_pack_uint64(pk, m->n), 0)
#define FT_PACK_INT(n) (msgpack_pack_int64(pk, m->n), 0)
#define FT_PACK_FLOAT(n) (isfinite(m->n) ? (msgpack_pack_double(pk, m->n), 0) : -1)
#define FT_PACK_BOOL(n) ((m->n ? msgpack_pack_true(pk) : msgpack_pack_false(pk)), 0)
#define FT_PACK_EVENT(n) ((unsigned)m->n < PE_COUNT ? (pack_event(pk, m->n), 0) : -1)
#define FT_PACK_LOGRECS(n) pack_logrecs(pk, m->n, m->n_##n)
#define FT_PACK_BIN(n) pack_bin(pk, m->n, m->n##_len)

/* pass: count the fields present */
#define FIELD(n, T, Q) c += FT_PRESENT_##Q(T, n) ? 1u : 0u;
#define FRAME(NAME, name, num, dirs, FIELDS)                                                       \
    static uint32_t enc_count_##name(const struct ft_##name *m)                                    \
    {                                                                                              \
        uint32_t c = 0;                                                                            \
        (void)m;                                                                                   \
        FIELDS                                                                                     \
        return c;                                                                                  \
    }
#include "frames.def"
#undef FRAME
#undef FIELD

/* pass: pack them, key then value */
#define FIELD(n, T, Q)                                                                             \
    if (FT_PRESENT_##Q(T, n)) {                                                                    \
        pack_cstr(pk, #n);                                                                         \
        if (FT_PACK_##T(n) < 0)                                                                    \
            return -1;                                                                             \
    }
#define FRAME(NAME, name, num, dirs, FIELDS)                                                       \
    static int enc_fields_##name(msgpack_packer *pk, const struct ft_##name *m)                    \
    {                                                                                              \
        (void)pk;                                                                                  \
        (void)m;                                                                                   \
        FIELDS                                                                                     \
        return 0;                                                                                  \
    }                                                                                              \
    int frame_encode_##name(struct frame_buf *fb, const struct ft_##name *m)                       \
    {                                                                                              \
        msgpack_packer pk;                                                                         \
        enc_begin(fb, &pk, FT_##NAME);                                                             \
        msgpack_pack_map(&pk, enc_count_##name(m));                                                \
        if (enc_fields_##name(&pk, m) < 0) {                                                       \
            fb->err = true;                                                                        \
            return -1;                                                                             \
        }                                                                                          \
        return enc_finish(fb);                                                                     \
    }
#include "frames.def"
#undef FRAME
#undef FIELD

int frame_encode(struct frame_buf *fb, const struct frame *f)
{
    switch (f->type) {
#define FRAME(NAME, name, num, dirs, FIELDS)                                                       \
    case FT_##NAME: return frame_encode_##name(fb, &f->u.name);
#include "frames.def"
#undef FRAME
    default:
        fb->err = true;
        return -1;
    }
}

uint32_t frame_bytes_type(const uint8_t *frame, size_t len)
{
    if (frame == NULL || len <= FRAME_OFF_BODY || frame[4] != 0x94 || frame[5] != FRAME_VERSION ||
        frame[6] != 0xcc || frame[8] != 0xcf)
        return 0;
    return frame[FRAME_OFF_TYPE];
}

void frame_set_seq(uint8_t *frame, uint64_t seq)
{
    for (unsigned i = 0; i < 8; i++)
        frame[FRAME_OFF_SEQ + i] = (uint8_t)(seq >> (8 * (7 - i)));
}

void frame_buf_free(struct frame_buf *fb)
{
    free(fb->p);
    memset(fb, 0, sizeof *fb);
}

/* ---- reader -------------------------------------------------------------- */

static int dec_fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int dec_fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

static bool key_is(const msgpack_object *k, const char *name, size_t len)
{
    /* msgpack-c gives an empty str a NULL pointer: no memcmp on it */
    return k->via.str.size == len && (len == 0 || memcmp(k->via.str.ptr, name, len) == 0);
}

/* A NUL-terminated copy in the frame's zone. */
static const char *zone_str(msgpack_zone *z, const char *p, size_t n)
{
    char *s = msgpack_zone_malloc(z, n + 1);
    if (s == NULL)
        return NULL;
    if (n)
        memcpy(s, p, n);
    s[n] = '\0';
    return s;
}

/* Each returns 0, -1 for a value of the wrong type, -2 out of memory. */
static int dec_STR(const msgpack_object *v, const char **out, msgpack_zone *z)
{
    if (v->type != MSGPACK_OBJECT_STR ||
        (v->via.str.size && memchr(v->via.str.ptr, '\0', v->via.str.size)))
        return -1;
    return (*out = zone_str(z, v->via.str.ptr, v->via.str.size)) ? 0 : -2;
}

/* bin: copied into the zone (the frame owns it, as its strings) */
static int dec_BIN(const msgpack_object *v, const uint8_t **out, size_t *len, msgpack_zone *z)
{
    if (v->type != MSGPACK_OBJECT_BIN)
        return -1;
    uint8_t *b = msgpack_zone_malloc(z, v->via.bin.size ? v->via.bin.size : 1);
    if (b == NULL)
        return -2;
    if (v->via.bin.size)
        memcpy(b, v->via.bin.ptr, v->via.bin.size);
    *out = b;
    *len = v->via.bin.size;
    return 0;
}

static int dec_UINT(const msgpack_object *v, uint64_t *out, msgpack_zone *z)
{
    (void)z;
    if (v->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        return -1;
    *out = v->via.u64;
    return 0;
}

static int dec_INT(const msgpack_object *v, int64_t *out, msgpack_zone *z)
{
    (void)z;
    if (v->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
        *out = v->via.i64;
        return 0;
    }
    if (v->type == MSGPACK_OBJECT_POSITIVE_INTEGER && v->via.u64 <= INT64_MAX) {
        *out = (int64_t)v->via.u64;
        return 0;
    }
    return -1;
}

static int dec_FLOAT(const msgpack_object *v, double *out, msgpack_zone *z)
{
    (void)z;
    switch (v->type) {
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        /* no sender has a NaN or an infinity to send: one is a broken peer */
        if (!isfinite(v->via.f64))
            return -1;
        *out = v->via.f64;
        return 0;
    case MSGPACK_OBJECT_POSITIVE_INTEGER: *out = (double)v->via.u64; return 0;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER: *out = (double)v->via.i64; return 0;
    default: return -1;
    }
}

static int dec_BOOL(const msgpack_object *v, bool *out, msgpack_zone *z)
{
    (void)z;
    if (v->type != MSGPACK_OBJECT_BOOLEAN)
        return -1;
    *out = v->via.boolean;
    return 0;
}

static int dec_EVENT(const msgpack_object *v, enum platform_event *out, msgpack_zone *z)
{
    (void)z;
    if (v->type != MSGPACK_OBJECT_STR)
        return -1;
    return frame_event_from(v->via.str.ptr, v->via.str.size, out) ? 0 : -1;
}

/* [time_ms int, source uint <= LOG_SRC_MAX, request_id str|nil, message str] */
static int dec_LOGRECS(const msgpack_object *v, const struct ft_log_record **out, uint32_t *n,
                       msgpack_zone *z)
{
    if (v->type != MSGPACK_OBJECT_ARRAY)
        return -1;
    uint32_t cnt = v->via.array.size;
    struct ft_log_record *r = NULL;
    if (cnt) {
        /* cnt <= FRAME_NODES_MAX (the walk): no overflow, a bounded size */
        r = msgpack_zone_malloc(z, (size_t)cnt * sizeof *r);
        if (r == NULL)
            return -2;
    }
    for (uint32_t i = 0; i < cnt; i++) {
        const msgpack_object *e = &v->via.array.ptr[i];
        if (e->type != MSGPACK_OBJECT_ARRAY || e->via.array.size != 4)
            return -1;
        const msgpack_object *t = &e->via.array.ptr[0], *src = &e->via.array.ptr[1],
                             *rid = &e->via.array.ptr[2], *msg = &e->via.array.ptr[3];
        if (dec_INT(t, &r[i].time_ms, z) < 0 || src->type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
            src->via.u64 > LOG_SRC_MAX || msg->type != MSGPACK_OBJECT_STR)
            return -1;
        r[i].source = (enum log_source)src->via.u64;
        if (rid->type == MSGPACK_OBJECT_NIL) {
            r[i].request_id = NULL;
        } else {
            int rc = dec_STR(rid, &r[i].request_id, z);
            if (rc < 0)
                return rc;
        }
        r[i].message_len = msg->via.str.size;
        if ((r[i].message = zone_str(z, msg->via.str.ptr, msg->via.str.size)) == NULL)
            return -2;
    }
    *out = r;
    *n = cnt;
    return 0;
}

#define FT_DEC_STR(n) dec_STR(v, &m->n, z)
#define FT_DEC_UINT(n) dec_UINT(v, &m->n, z)
#define FT_DEC_INT(n) dec_INT(v, &m->n, z)
#define FT_DEC_FLOAT(n) dec_FLOAT(v, &m->n, z)
#define FT_DEC_BOOL(n) dec_BOOL(v, &m->n, z)
#define FT_DEC_EVENT(n) dec_EVENT(v, &m->n, z)
#define FT_DEC_LOGRECS(n) dec_LOGRECS(v, &m->n, &m->n_##n, z)
#define FT_DEC_BIN(n) dec_BIN(v, &m->n, &m->n##_len, z)
#define FT_SETHAS_R(T, n)
#define FT_SETHAS_O(T, n) FT_SETHASO_##T(n)
#define FT_SETHASO_STR(n)
#define FT_SETHASO_UINT(n) m->has_##n = true;
#define FT_SETHASO_INT(n) m->has_##n = true;
#define FT_SETHASO_FLOAT(n) m->has_##n = true;
#define FT_SETHASO_BOOL(n) m->has_##n = true;
#define FT_SETHASO_EVENT(n) m->has_##n = true;
#define FT_SETHASO_LOGRECS(n)
#define FT_SETHASO_BIN(n)
#define FT_REQ_R 1
#define FT_REQ_O 0

/* pass: one body field (k, v) into *m; unknown keys are ignored */
#define FIELD(n, T, Q)                                                                             \
    if (key_is(k, #n, sizeof #n - 1)) {                                                            \
        int rc = FT_DEC_##T(n);                                                                    \
        if (rc == -2)                                                                              \
            return dec_fail(err, errlen, "out of memory");                                         \
        if (rc < 0)                                                                                \
            return dec_fail(err, errlen, "%s: field %s has the wrong type", tname, #n);            \
        FT_SETHAS_##Q(T, n)                                                                        \
        *seen |= 1ull << idx;                                                                      \
        return 0;                                                                                  \
    }                                                                                              \
    idx++;
#define FRAME(NAME, name, num, dirs, FIELDS)                                                       \
    static int dec_field_##name(struct ft_##name *m, const msgpack_object *k,                      \
                                const msgpack_object *v, msgpack_zone *z, uint64_t *seen,          \
                                char *err, size_t errlen)                                          \
    {                                                                                              \
        static const char tname[] = #NAME;                                                         \
        unsigned idx = 0;                                                                          \
        (void)m, (void)k, (void)v, (void)z, (void)seen, (void)err, (void)errlen, (void)tname;      \
        FIELDS                                                                                     \
        (void)idx;                                                                                 \
        return 0;                                                                                  \
    }
#include "frames.def"
#undef FRAME
#undef FIELD

/* pass: every R field was seen */
#define FIELD(n, T, Q)                                                                             \
    if (FT_REQ_##Q && !(seen & (1ull << idx)))                                                     \
        return dec_fail(err, errlen, "%s: missing field %s", tname, #n);                           \
    idx++;
#define FRAME(NAME, name, num, dirs, FIELDS)                                                       \
    static int dec_required_##name(uint64_t seen, char *err, size_t errlen)                        \
    {                                                                                              \
        static const char tname[] = #NAME;                                                         \
        unsigned idx = 0;                                                                          \
        (void)seen, (void)err, (void)errlen, (void)tname;                                          \
        FIELDS                                                                                     \
        (void)idx;                                                                                 \
        return 0;                                                                                  \
    }
#include "frames.def"
#undef FRAME
#undef FIELD

/* pass: at most 64 fields per frame (the seen bits) */
#define FIELD(n, T, Q) +1
#define FRAME(NAME, name, num, dirs, FIELDS)                                                       \
    _Static_assert(0 FIELDS <= 64, "frame " #NAME " has more than 64 fields");
#include "frames.def"
#undef FRAME
#undef FIELD

static int dec_body(struct frame *f, const msgpack_object *map, char *err, size_t errlen)
{
    uint64_t seen = 0;
    uint32_t nk = map->via.map.size;
    const msgpack_object_kv *kv = map->via.map.ptr;
    if (nk > FRAME_BODY_KEYS_MAX)
        return dec_fail(err, errlen, "%s: %u body keys, more than %u", frame_type_name(f->type), nk,
                        FRAME_BODY_KEYS_MAX);
    for (uint32_t i = 0; i < nk; i++) {
        if (kv[i].key.type != MSGPACK_OBJECT_STR)
            return dec_fail(err, errlen, "%s: a body key is not a string",
                            frame_type_name(f->type));
        /* duplicate keys would make "the" value of a field ambiguous */
        for (uint32_t j = 0; j < i; j++)
            if (key_is(&kv[j].key, kv[i].key.via.str.ptr, kv[i].key.via.str.size))
                return dec_fail(err, errlen, "%s: duplicate key", frame_type_name(f->type));
    }
    switch (f->type) {
#define FRAME(NAME, name, num, dirs, FIELDS)                                                       \
    case FT_##NAME:                                                                                \
        for (uint32_t i = 0; i < nk; i++)                                                          \
            if (dec_field_##name(&f->u.name, &kv[i].key, &kv[i].val, f->zone, &seen, err,          \
                                 errlen) < 0)                                                      \
                return -1;                                                                         \
        return dec_required_##name(seen, err, errlen);
#include "frames.def"
#undef FRAME
    default:
        return dec_fail(err, errlen, "unknown frame type %u", f->type);
    }
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
    if (payload == NULL || len == 0 || len > FRAME_MAX)
        return dec_fail(err, errlen, "frame length %zu out of range", len);
    const struct mpw_limits lim = {FRAME_DEPTH_MAX, FRAME_NODES_MAX, FRAME_MAX};
    if (mpw_check(payload, len, &lim, err, errlen) != MPW_OK)
        return -1;
    msgpack_zone *z = msgpack_zone_new(MSGPACK_ZONE_CHUNK_SIZE);
    if (z == NULL)
        return dec_fail(err, errlen, "out of memory");
    out->zone = z;
    msgpack_object top;
    size_t off = 0;
    if (msgpack_unpack((const char *)payload, len, &off, z, &top) != MSGPACK_UNPACK_SUCCESS ||
        off != len) {
        dec_fail(err, errlen, "msgpack-c refused the frame");
        goto fail;
    }
    if (top.type != MSGPACK_OBJECT_ARRAY || top.via.array.size != 4) {
        dec_fail(err, errlen, "frame is not a 4-element array");
        goto fail;
    }
    const msgpack_object *ver = &top.via.array.ptr[0], *typ = &top.via.array.ptr[1],
                         *seq = &top.via.array.ptr[2], *body = &top.via.array.ptr[3];
    if (ver->type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
        typ->type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
        seq->type != MSGPACK_OBJECT_POSITIVE_INTEGER || body->type != MSGPACK_OBJECT_MAP) {
        dec_fail(err, errlen, "frame header has the wrong types");
        goto fail;
    }
    if (ver->via.u64 != FRAME_VERSION) {
        dec_fail(err, errlen, "frame version %llu, expected %u", (unsigned long long)ver->via.u64,
                 FRAME_VERSION);
        goto fail;
    }
    if (typ->via.u64 > UINT32_MAX || frame_type_dirs((uint32_t)typ->via.u64) == 0) {
        dec_fail(err, errlen, "unknown frame type %llu", (unsigned long long)typ->via.u64);
        goto fail;
    }
    if (seq->via.u64 == 0) {
        dec_fail(err, errlen, "frame seq 0");
        goto fail;
    }
    out->version = (uint32_t)ver->via.u64;
    out->type = (uint32_t)typ->via.u64;
    out->seq = seq->via.u64;
    if (dec_body(out, body, err, errlen) < 0)
        goto fail;
    return 0;
fail:
    frame_free(out);
    return -1;
}

void frame_free(struct frame *f)
{
    if (f->zone)
        msgpack_zone_free(f->zone);
    memset(f, 0, sizeof *f);
}

#define FRAME(NAME, name, num, dirs, FIELDS)                                                       \
    int frame_decode_##name(const uint8_t *payload, size_t len, struct frame *out, char *err,      \
                            size_t errlen)                                                         \
    {                                                                                              \
        if (frame_decode(payload, len, out, err, errlen) < 0)                                      \
            return -1;                                                                             \
        if (out->type == FT_##NAME)                                                                \
            return 0;                                                                              \
        if (err && errlen)                                                                         \
            snprintf(err, errlen, "frame %s, expected " #NAME, frame_type_name(out->type));        \
        frame_free(out);                                                                           \
        return -1;                                                                                 \
    }
#include "frames.def"
#undef FRAME

/* ---- equality (tests, and whoever must compare two frames) --------------- */

static bool str_eq(const char *a, const char *b)
{
    return (a == NULL || b == NULL) ? a == b : strcmp(a, b) == 0;
}

static bool bin_eq(const uint8_t *a, size_t na, const uint8_t *b, size_t nb)
{
    if (a == NULL || b == NULL)
        return a == b;
    return na == nb && (na == 0 || memcmp(a, b, na) == 0);
}

static bool logrecs_eq(const struct ft_log_record *a, uint32_t na, const struct ft_log_record *b,
                       uint32_t nb)
{
    if (na != nb)
        return false;
    for (uint32_t i = 0; i < na; i++)
        if (a[i].time_ms != b[i].time_ms || a[i].source != b[i].source ||
            !str_eq(a[i].request_id, b[i].request_id) || a[i].message_len != b[i].message_len ||
            (a[i].message_len && memcmp(a[i].message, b[i].message, a[i].message_len) != 0))
            return false;
    return true;
}

#define FT_EQ_STR(n) str_eq(a->n, b->n)
#define FT_EQ_UINT(n) (a->n == b->n)
#define FT_EQ_INT(n) (a->n == b->n)
#define FT_EQ_FLOAT(n) (a->n == b->n)
#define FT_EQ_BOOL(n) (a->n == b->n)
#define FT_EQ_EVENT(n) (a->n == b->n)
#define FT_EQ_LOGRECS(n) logrecs_eq(a->n, a->n_##n, b->n, b->n_##n)
#define FT_EQ_BIN(n) bin_eq(a->n, a->n##_len, b->n, b->n##_len)
#define FT_EQHAS_R(T, n) true
#define FT_EQHAS_O(T, n) FT_EQHASO_##T(n)
#define FT_EQHASO_STR(n) true
#define FT_EQHASO_UINT(n) (a->has_##n == b->has_##n)
#define FT_EQHASO_INT(n) (a->has_##n == b->has_##n)
#define FT_EQHASO_FLOAT(n) (a->has_##n == b->has_##n)
#define FT_EQHASO_BOOL(n) (a->has_##n == b->has_##n)
#define FT_EQHASO_EVENT(n) (a->has_##n == b->has_##n)
#define FT_EQHASO_LOGRECS(n) true
#define FT_EQHASO_BIN(n) true
/* an absent optional's value does not count */
#define FT_EQVAL_R(T, n) FT_EQ_##T(n)
#define FT_EQVAL_O(T, n) (!FT_PRESO_A_##T(n) || FT_EQ_##T(n))
#define FT_PRESO_A_STR(n) true
#define FT_PRESO_A_UINT(n) a->has_##n
#define FT_PRESO_A_INT(n) a->has_##n
#define FT_PRESO_A_FLOAT(n) a->has_##n
#define FT_PRESO_A_BOOL(n) a->has_##n
#define FT_PRESO_A_EVENT(n) a->has_##n
#define FT_PRESO_A_LOGRECS(n) true
#define FT_PRESO_A_BIN(n) true

#define FIELD(n, T, Q)                                                                             \
    if (!FT_EQHAS_##Q(T, n) || !FT_EQVAL_##Q(T, n))                                                \
        return false;
#define FRAME(NAME, name, num, dirs, FIELDS)                                                       \
    bool frame_equal_##name(const struct ft_##name *a, const struct ft_##name *b)                  \
    {                                                                                              \
        (void)a, (void)b;                                                                          \
        FIELDS                                                                                     \
        return true;                                                                               \
    }
#include "frames.def"
#undef FRAME
#undef FIELD
