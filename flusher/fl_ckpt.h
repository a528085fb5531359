/* fl_ckpt.h — the bytes of FT_DSD_STATE.payloads: the flusher's DogStatsD
 * state as a list of intake payloads, each exactly as it would be posted.
 *
 * Format: items back to back, each [kind:1][len:4 big-endian][len bytes];
 * kind 1 = series JSON (POST to the series endpoint), 2 = sketch protobuf
 * (the sketches endpoint). At most CKPT_ITEMS_MAX items, each at most
 * CKPT_BYTES_MAX bytes. Anything else is malformed.
 *
 * Why payloads and not aggregator entries: a drained payload waiting for
 * its intake answer has no entries any more, and the aggregator's content
 * encodes to the same payloads the next drain would send; a restarted
 * flusher posts them at its next flush, so nothing needs merging back.
 *
 * Consistency (no double counting): the flusher sends a checkpoint right
 * before submitting a drain (items: every unfinished payload, the drain's
 * included; aggregator empty) and right after each payload's final outcome
 * (without it), and waits for each to reach the supervisor's socket before
 * going on. So the supervisor's copy never holds a payload the intake
 * already accepted, except across the instant between the intake's answer
 * and that write; and data received since the last checkpoint (at most one
 * interval, FL_CKPT_INTERVAL_MS) is what a crash loses. */
#ifndef FORKCAP_FL_CKPT_H
#define FORKCAP_FL_CKPT_H

#include <stddef.h>
#include <stdint.h>

#include "frame.h"

#define FL_CKPT_INTERVAL_MS 100u
#define CKPT_ITEMS_MAX 1024u
/* the whole blob, leaving room for the frame around it */
#define CKPT_BYTES_MAX (FRAME_MAX - 1024u)

enum ckpt_kind { CKPT_SERIES = 1, CKPT_SKETCHES = 2 };

struct ckpt_item {
    enum ckpt_kind kind;
    const uint8_t *p;
    size_t len;
};

struct ckpt_buf {
    uint8_t *p;
    size_t len, cap;
    unsigned items;
};

/* Append one item; -1 (nothing appended) when it would pass CKPT_BYTES_MAX
 * or CKPT_ITEMS_MAX, or out of memory. */
int ckpt_append(struct ckpt_buf *b, enum ckpt_kind kind, const void *p, size_t len);
void ckpt_buf_free(struct ckpt_buf *b);

/* The item at *off: 1 (out filled, pointing into blob; *off moves past it),
 * 0 at the end, -1 malformed (unknown kind, length past the end, too many
 * items counted in *n). */
int ckpt_next(const uint8_t *blob, size_t len, size_t *off, unsigned *n, struct ckpt_item *out);

#endif
