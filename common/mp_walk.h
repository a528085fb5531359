/* mp_walk.h — a non-allocating bounds walk over untrusted msgpack bytes.
 *
 * msgpack-c sizes its zone from the *declared* element counts before it
 * reads them, so a few bytes can ask for gigabytes. Walk a value with
 * mpw_skip first: it believes a count only when the bytes left could hold
 * that many values, bounds the nesting depth, and counts the values it saw
 * so the caller can bound what msgpack-c will allocate (about 24 bytes per
 * value, 48 per map pair) before it calls msgpack_unpack. */
#ifndef FORKCAP_MP_WALK_H
#define FORKCAP_MP_WALK_H

#include <stddef.h>
#include <stdint.h>

/* Walk one value at p (< end). Returns the byte just past it, or NULL when
 * it is truncated, uses the reserved byte 0xc1, nests deeper than
 * depth_max, or declares a count the bytes left cannot hold. *nodes (may be
 * NULL) is increased by the number of values walked (containers and map
 * keys included). */
const uint8_t *mpw_skip(const uint8_t *p, const uint8_t *end, unsigned depth_max, uint64_t *nodes);

/* The header of an array at p: its element count and the first element's
 * address. NULL when p does not start an array or the header is cut. */
const uint8_t *mpw_array(const uint8_t *p, const uint8_t *end, uint32_t *count);

#endif
