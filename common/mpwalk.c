/* mpwalk.c — see mpwalk.h. */
#include "mpwalk.h"

#include <stdarg.h>
#include <stdio.h>

struct walk {
    const uint8_t *p;
    size_t len, off;
    unsigned max_depth;
    size_t max_elems, elems;
    char *err;
    size_t errlen;
};

static int fail(struct walk *w, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(struct walk *w, int rc, const char *fmt, ...)
{
    if (w->err && w->errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(w->err, w->errlen, fmt, ap);
        va_end(ap);
    }
    return rc;
}

static uint64_t be(const uint8_t *p, unsigned n)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

static int value(struct walk *w, unsigned depth)
{
    if (w->off >= w->len)
        return fail(w, MPW_TRUNCATED, "truncated at byte %zu", w->off);
    uint8_t t = w->p[w->off++];
    size_t left = w->len - w->off;
    uint64_t skip = 0, items = 0;
    unsigned lenbytes = 0;
    int container = 0; /* 1 array, 2 map */

    if (t <= 0x7f || t >= 0xe0 || t == 0xc0 || t == 0xc2 || t == 0xc3)
        return MPW_OK;
    if ((t & 0xf0) == 0x80) {
        container = 2;
        items = t & 0x0f;
    } else if ((t & 0xf0) == 0x90) {
        container = 1;
        items = t & 0x0f;
    } else if ((t & 0xe0) == 0xa0) {
        skip = t & 0x1f;
    } else {
        switch (t) {
        case 0xc4: case 0xd9: lenbytes = 1; break;
        case 0xc5: case 0xda: lenbytes = 2; break;
        case 0xc6: case 0xdb: lenbytes = 4; break;
        case 0xc7: lenbytes = 1; skip = 1; break; /* ext: +1 type byte */
        case 0xc8: lenbytes = 2; skip = 1; break;
        case 0xc9: lenbytes = 4; skip = 1; break;
        case 0xca: case 0xce: case 0xd2: skip = 4; break;
        case 0xcb: case 0xcf: case 0xd3: skip = 8; break;
        case 0xcc: case 0xd0: skip = 1; break;
        case 0xcd: case 0xd1: skip = 2; break;
        case 0xd4: skip = 2; break; /* fixext: type byte + data */
        case 0xd5: skip = 3; break;
        case 0xd6: skip = 5; break;
        case 0xd7: skip = 9; break;
        case 0xd8: skip = 17; break;
        case 0xdc: lenbytes = 2; container = 1; break;
        case 0xdd: lenbytes = 4; container = 1; break;
        case 0xde: lenbytes = 2; container = 2; break;
        case 0xdf: lenbytes = 4; container = 2; break;
        default: return fail(w, MPW_BAD_BYTE, "byte 0x%02x at %zu is not msgpack", t, w->off - 1);
        }
        if (lenbytes) {
            if (lenbytes > left)
                return fail(w, MPW_TRUNCATED, "truncated length at byte %zu", w->off);
            uint64_t n = be(w->p + w->off, lenbytes);
            w->off += lenbytes;
            left -= lenbytes;
            if (container)
                items = n;
            else
                skip += n;
        }
    }
    if (!container) {
        if (skip > left)
            return fail(w, MPW_TRUNCATED, "a value of %llu bytes, only %zu left", (unsigned long long)skip,
                        left);
        w->off += (size_t)skip;
        return MPW_OK;
    }
    if (depth >= w->max_depth)
        return fail(w, MPW_TOO_DEEP, "nested deeper than %u", w->max_depth);
    uint64_t vals = items * (uint64_t)container; /* items <= 2^32: no overflow */
    if (vals > left)
        return fail(w, MPW_COUNT, "%s declares %llu elements, only %zu bytes left",
                    container == 2 ? "map" : "array", (unsigned long long)items, left);
    if (vals > w->max_elems - w->elems)
        return fail(w, MPW_TOO_MANY, "more than %zu values", w->max_elems);
    w->elems += (size_t)vals;
    for (uint64_t i = 0; i < vals; i++) {
        int rc = value(w, depth + 1);
        if (rc != MPW_OK)
            return rc;
    }
    return MPW_OK;
}

int mpw_walk(const uint8_t *buf, size_t len, const struct mpw_limits *lim, size_t *used, char *err,
             size_t errlen)
{
    struct walk w = {.p = buf, .len = len, .err = err, .errlen = errlen,
                     .max_depth = lim->max_depth > MPW_DEPTH_HARD_MAX ? MPW_DEPTH_HARD_MAX : lim->max_depth,
                     .max_elems = lim->max_elems};
    if (err && errlen)
        err[0] = '\0';
    if (len > lim->max_bytes)
        return fail(&w, MPW_TOO_BIG, "%zu bytes, more than %zu", len, lim->max_bytes);
    if (w.max_elems == 0)
        return fail(&w, MPW_TOO_MANY, "more than 0 values");
    w.elems = 1;
    int rc = value(&w, 0);
    if (rc == MPW_OK && used)
        *used = w.off;
    return rc;
}

int mpw_check(const uint8_t *buf, size_t len, const struct mpw_limits *lim, char *err, size_t errlen)
{
    size_t used = 0;
    int rc = mpw_walk(buf, len, lim, &used, err, errlen);
    if (rc != MPW_OK)
        return rc;
    if (used != len) {
        if (err && errlen)
            snprintf(err, errlen, "%zu trailing bytes", len - used);
        return MPW_TRAILING;
    }
    return MPW_OK;
}
