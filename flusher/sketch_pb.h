/* sketch_pb.h — encodes drained sketches as the intake's SketchPayload
 * protobuf (POST /api/beta/sketches), split to a byte bound. */
#ifndef FORKCAP_SKETCH_PB_H
#define FORKCAP_SKETCH_PB_H

#include <stddef.h>
#include <stdint.h>

#include "metrics.h"

/* Datadog's extension cuts at 1,000 sketches (and 62 MiB); forkcap also
 * keeps a payload to a few MiB so a retry holds little memory. */
#define SPB_MAX_SKETCHES 1000u
#define SPB_MAX_BYTES (3u * 1024 * 1024) /* uncompressed, per payload */

/* Optional CommonMetadata (the API key is never put in it). */
struct spb_meta {
    const char *agent_version, *timezone, *internal_ip, *public_ip;
    double current_epoch;
};

/* Encode sketches[0..n) from the start into one payload: one Sketch per
 * entry with one Dogsketch (ts = bucket start), no host, zero scalars
 * omitted, metadata only when meta != NULL. Stops at SPB_MAX_SKETCHES or
 * before max_bytes (0 = SPB_MAX_BYTES); *used tells how many were taken. Returns 0 (*out from
 * malloc, caller frees), -1 on ENOMEM, -2 when the first sketch alone is
 * larger than max_bytes (*used = 1: skip it and count it). */
int spb_encode(const struct met_sketch *sketches, size_t n, const struct spb_meta *meta,
               size_t max_bytes, size_t *used, uint8_t **out, size_t *out_len);

#endif
