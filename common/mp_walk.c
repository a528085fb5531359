/* mp_walk.c — see mp_walk.h. Iterative: an explicit stack of "values still
 * to walk" per level, so hostile nesting costs no C stack. */
#include "mp_walk.h"

#include <stdbool.h>

#define MPW_DEPTH_LIMIT 64u

static uint64_t be(const uint8_t *p, unsigned n)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++)
        v = (v << 8) | p[i];
    return v;
}

/* One value's header: how many bytes it occupies itself (payload of a str,
 * bin, ext or number included) and how many child values follow it. */
static bool head(const uint8_t *p, const uint8_t *end, size_t *self, uint64_t *children)
{
    size_t avail = (size_t)(end - p);
    if (avail == 0)
        return false;
    uint8_t t = p[0];
    unsigned lenb = 0, extra = 0, mult = 0;
    *children = 0;
    if (t <= 0x7f || t >= 0xe0 || t == 0xc0 || t == 0xc2 || t == 0xc3) {
        *self = 1;
        return true;
    }
    if ((t & 0xf0) == 0x80) {
        *self = 1;
        *children = 2u * (t & 0x0fu);
        return true;
    }
    if ((t & 0xf0) == 0x90) {
        *self = 1;
        *children = t & 0x0fu;
        return true;
    }
    if ((t & 0xe0) == 0xa0) {
        *self = 1u + (t & 0x1fu);
        return *self <= avail;
    }
    switch (t) {
    case 0xcc: case 0xd0: *self = 2; return *self <= avail;
    case 0xcd: case 0xd1: case 0xd4: *self = 3; return *self <= avail;
    case 0xd5: *self = 4; return *self <= avail;
    case 0xca: case 0xce: case 0xd2: *self = 5; return *self <= avail;
    case 0xd6: *self = 6; return *self <= avail;
    case 0xcb: case 0xcf: case 0xd3: *self = 9; return *self <= avail;
    case 0xd7: *self = 10; return *self <= avail;
    case 0xd8: *self = 18; return *self <= avail;
    case 0xc4: case 0xd9: lenb = 1; break;
    case 0xc5: case 0xda: lenb = 2; break;
    case 0xc6: case 0xdb: lenb = 4; break;
    case 0xc7: lenb = 1; extra = 1; break;
    case 0xc8: lenb = 2; extra = 1; break;
    case 0xc9: lenb = 4; extra = 1; break;
    case 0xdc: lenb = 2; mult = 1; break;
    case 0xdd: lenb = 4; mult = 1; break;
    case 0xde: lenb = 2; mult = 2; break;
    case 0xdf: lenb = 4; mult = 2; break;
    default: return false; /* 0xc1: never used */
    }
    if (1u + lenb > avail)
        return false;
    uint64_t n = be(p + 1, lenb);
    if (mult) {
        *self = 1u + lenb;
        *children = n * mult;
        /* every value takes at least one byte */
        return *children <= avail - *self;
    }
    if (n + extra > avail - 1u - lenb)
        return false;
    *self = 1u + lenb + extra + (size_t)n;
    return true;
}

const uint8_t *mpw_skip(const uint8_t *p, const uint8_t *end, unsigned depth_max, uint64_t *nodes)
{
    uint64_t left[MPW_DEPTH_LIMIT + 1];
    unsigned depth = 0;
    uint64_t seen = 0;
    if (p == NULL || end == NULL || p >= end)
        return NULL;
    if (depth_max > MPW_DEPTH_LIMIT)
        depth_max = MPW_DEPTH_LIMIT;
    left[0] = 1;
    for (;;) {
        while (depth > 0 && left[depth] == 0)
            depth--;
        if (depth == 0 && left[0] == 0)
            break;
        size_t self;
        uint64_t children;
        if (!head(p, end, &self, &children))
            return NULL;
        p += self;
        seen++;
        left[depth]--;
        if (children) {
            if (depth + 1 > depth_max)
                return NULL;
            if (children > (uint64_t)(end - p))
                return NULL;
            left[++depth] = children;
        }
    }
    if (nodes)
        *nodes += seen;
    return p;
}

const uint8_t *mpw_array(const uint8_t *p, const uint8_t *end, uint32_t *count)
{
    if (p == NULL || p >= end)
        return NULL;
    uint8_t t = p[0];
    size_t avail = (size_t)(end - p);
    if ((t & 0xf0) == 0x90) {
        *count = t & 0x0fu;
        return p + 1;
    }
    if (t == 0xdc && avail >= 3) {
        *count = (uint32_t)be(p + 1, 2);
        return p + 3;
    }
    if (t == 0xdd && avail >= 5) {
        *count = (uint32_t)be(p + 1, 4);
        return p + 5;
    }
    return NULL;
}
