/* lc_batch.h — one Telemetry API batch body in, finished frames out
 * (FT_PLATFORM, FT_LOGS) in batch order; no I/O, no state but the caller's. */
#ifndef FORKCAP_LC_BATCH_H
#define FORKCAP_LC_BATCH_H

#include <stdbool.h>
#include <stddef.h>

#include "frame.h"
#include "telemetry.h"

#define LC_BATCH_BODY_MAX (LC_TELE_MAX_BODY + 64u * 1024u)  /* 2 x 1 MiB + slack */
/* Logs frames are cut below FRAME_MAX with room for the frame's own header. */
#define LC_BATCH_LOGS_FRAME_BUDGET (FRAME_MAX - 64u * 1024u)
#define LC_BATCH_LOGS_FRAME_RECORDS 10000u

/* Turn one batch body into finished frames (FT_PLATFORM, FT_LOGS) in batch
 * order. On success *frames (malloc'd array of frame_buf, each finished)
 * and *n; the caller frees with lc_batch_frames_free. Returns the
 * lc_telemetry_parse result (LC_TELE_ENOMEM when a frame could not be
 * built: nothing of the batch should be sent then). */
int lc_batch_build(const char *body, size_t len, bool logs_enabled, struct lc_tele_linectx *ctx,
                   struct frame_buf **frames, size_t *n, struct lc_tele_stats *stats);
void lc_batch_frames_free(struct frame_buf *frames, size_t n);

#endif
