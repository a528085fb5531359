/* mpwalk.h — a bounded, non-allocating walk over msgpack bytes, run before
 * msgpack-c unpacks them.
 *
 * msgpack-c 4.0 allocates storage for an array or map from its declared
 * element count before reading the elements, so five bytes declaring four
 * billion elements cost gigabytes. The walk reads the same bytes first and
 * refuses them unless:
 *  - they hold exactly one value (mpw_check) or the value fits (mpw_walk);
 *  - every declared count could be held by the bytes left (each element
 *    takes at least one byte; a map pair at least two);
 *  - the total of values declared stays within max_elems (so what msgpack-c
 *    allocates is bounded by max_elems objects, whatever the input);
 *  - containers nest fewer than max_depth levels (the outermost value is
 *    level 0; a container at level max_depth is refused);
 *  - the input is at most max_bytes long;
 *  - no byte is one msgpack never uses (0xc1).
 * It recurses once per nesting level, so max_depth also bounds the stack. */
#ifndef FORKCAP_MPWALK_H
#define FORKCAP_MPWALK_H

#include <stddef.h>
#include <stdint.h>

#define MPW_DEPTH_HARD_MAX 256u /* max_depth is clamped to this */

struct mpw_limits {
    unsigned max_depth;
    size_t max_elems;
    size_t max_bytes;
};

enum mpw_result {
    MPW_OK = 0,
    MPW_TRUNCATED = -1, /* a value runs past the end of the input        */
    MPW_TOO_DEEP = -2,  /* containers nested max_depth levels            */
    MPW_TOO_MANY = -3,  /* more than max_elems values declared           */
    MPW_TOO_BIG = -4,   /* input longer than max_bytes                   */
    MPW_BAD_BYTE = -5,  /* 0xc1                                          */
    MPW_COUNT = -6,     /* a count larger than the bytes left could hold */
    MPW_TRAILING = -7,  /* mpw_check: bytes after the value              */
};

/* Walks the one value at the start of buf; *used gets its length. err (may
 * be NULL) gets a NUL-terminated reason on failure. */
int mpw_walk(const uint8_t *buf, size_t len, const struct mpw_limits *lim, size_t *used, char *err,
             size_t errlen);

/* mpw_walk, and the value must fill buf exactly. */
int mpw_check(const uint8_t *buf, size_t len, const struct mpw_limits *lim, char *err, size_t errlen);

#endif
