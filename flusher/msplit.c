/* msplit.c — see msplit.h. */
#include "msplit.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define ENTRIES_MAX 100000u /* far above what the encoders put in a payload */

static const char HEAD[] = "{\"series\":[";
static const char TAIL[] = "]}";

/* End (one past) of the JSON value starting at s[i], or 0 when it is not
 * a whole object/array/scalar before the end: strings and escapes are
 * skipped, brackets counted. */
static size_t json_value_end(const char *s, size_t len, size_t i)
{
    unsigned depth = 0;
    for (; i < len; i++) {
        char c = s[i];
        if (c == '"') {
            for (i++; i < len && s[i] != '"'; i++)
                if (s[i] == '\\')
                    i++;
            if (i >= len)
                return 0;
            if (depth == 0)
                return i + 1;
        } else if (c == '{' || c == '[') {
            if (++depth > 64)
                return 0;
        } else if (c == '}' || c == ']') {
            if (depth == 0)
                return i; /* a scalar ended by the array's close */
            if (--depth == 0)
                return i + 1;
        } else if (c == ',' && depth == 0) {
            return i;
        }
    }
    return 0;
}

static int join(const char *body, size_t from, size_t to, char **out, size_t *olen)
{
    size_t n = sizeof HEAD - 1 + (to - from) + sizeof TAIL - 1;
    char *o = malloc(n + 1);
    if (o == NULL)
        return -1;
    memcpy(o, HEAD, sizeof HEAD - 1);
    memcpy(o + sizeof HEAD - 1, body + from, to - from);
    memcpy(o + sizeof HEAD - 1 + (to - from), TAIL, sizeof TAIL); /* with the NUL */
    *out = o;
    *olen = n;
    return 0;
}

static int split_series(const char *s, size_t len, char **a, size_t *al, char **b, size_t *bl,
                        size_t *entries)
{
    size_t hl = sizeof HEAD - 1, tl = sizeof TAIL - 1;
    if (len < hl + tl || memcmp(s, HEAD, hl) != 0 || memcmp(s + len - tl, TAIL, tl) != 0)
        return -1;
    size_t end = len - tl; /* the array's ']' */
    /* entry starts; the cut is before entry ceil(n/2): find n first */
    size_t n = 0, i = hl;
    size_t *starts = NULL, cap = 0;
    while (i < end) {
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 64;
            if (nc > ENTRIES_MAX) {
                free(starts);
                return -1;
            }
            size_t *ns = realloc(starts, nc * sizeof *ns);
            if (ns == NULL) {
                free(starts);
                return -1;
            }
            starts = ns;
            cap = nc;
        }
        if (s[i] != '{') { /* every series is an object */
            free(starts);
            return -1;
        }
        starts[n++] = i;
        size_t e = json_value_end(s, end, i);
        if (e == 0 || e <= i) {
            free(starts);
            return -1;
        }
        if (e == end)
            break;
        if (s[e] != ',' || e + 1 == end) { /* a trailing comma would end up in a half */
            free(starts);
            return -1;
        }
        i = e + 1;
    }
    if (entries)
        *entries = n;
    if (n < 2) {
        free(starts);
        return 1;
    }
    size_t cut = starts[(n + 1) / 2]; /* first entry of the second half */
    free(starts);
    if (join(s, hl, cut - 1, a, al) != 0)
        return -1;
    if (join(s, cut, end, b, bl) != 0) {
        free(*a);
        return -1;
    }
    return 0;
}

/* ---- protobuf: SketchPayload { repeated Sketch sketches = 1; metadata = 2 } */

static int varint(const uint8_t *p, size_t len, size_t *off, uint64_t *v)
{
    uint64_t r = 0;
    for (unsigned sh = 0; sh < 64; sh += 7) {
        if (*off >= len)
            return -1;
        uint8_t c = p[(*off)++];
        r |= (uint64_t)(c & 0x7f) << sh;
        if (!(c & 0x80)) {
            *v = r;
            return 0;
        }
    }
    return -1;
}

/* One top-level field from *off: its span [start, *off), whether it is a sketch. */
static int pb_field(const uint8_t *p, size_t len, size_t *off, bool *sketch)
{
    uint64_t key, v;
    if (varint(p, len, off, &key) != 0 || (key >> 3) == 0)
        return -1;
    switch (key & 7) {
    case 0: if (varint(p, len, off, &v) != 0) return -1; break;
    case 1: if (len - *off < 8) return -1; *off += 8; break;
    case 5: if (len - *off < 4) return -1; *off += 4; break;
    case 2:
        if (varint(p, len, off, &v) != 0 || v > len - *off)
            return -1;
        *off += (size_t)v;
        break;
    default: return -1;
    }
    *sketch = key == ((1u << 3) | 2);
    return 0;
}

/* Copy into out the sketches [first, last) (counted from 0) and every field
 * that is not a sketch. */
static int pb_half(const uint8_t *p, size_t len, size_t first, size_t last, char **out, size_t *olen)
{
    uint8_t *o = malloc(len ? len : 1);
    if (o == NULL)
        return -1;
    size_t off = 0, w = 0, k = 0;
    while (off < len) {
        size_t start = off;
        bool sk;
        if (pb_field(p, len, &off, &sk) != 0) {
            free(o);
            return -1;
        }
        if (!sk || (k >= first && k < last)) {
            memcpy(o + w, p + start, off - start);
            w += off - start;
        }
        if (sk)
            k++;
    }
    *out = (char *)o;
    *olen = w;
    return 0;
}

static int split_sketches(const char *body, size_t len, char **a, size_t *al, char **b, size_t *bl,
                          size_t *entries)
{
    const uint8_t *p = (const uint8_t *)body;
    size_t off = 0, n = 0;
    while (off < len) {
        bool sk;
        if (pb_field(p, len, &off, &sk) != 0)
            return -1;
        n += sk;
    }
    if (entries)
        *entries = n;
    if (n < 2)
        return 1;
    size_t h = (n + 1) / 2;
    if (pb_half(p, len, 0, h, a, al) != 0)
        return -1;
    if (pb_half(p, len, h, n, b, bl) != 0) {
        free(*a);
        return -1;
    }
    return 0;
}

int msplit_halves(enum msplit_kind k, const char *body, size_t len, char **a, size_t *alen,
                  char **b, size_t *blen, size_t *entries)
{
    if (entries)
        *entries = 0;
    if (body == NULL)
        return -1;
    return k == MSPLIT_SERIES ? split_series(body, len, a, alen, b, blen, entries)
                              : split_sketches(body, len, a, alen, b, blen, entries);
}
