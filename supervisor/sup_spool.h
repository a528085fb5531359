/* sup_spool.h — data frames (FT_PLATFORM, FT_LOGS, FT_INVOCATION) the
 * supervisor holds until the flusher acknowledges them, so a flusher crash
 * loses nothing.
 *
 * Backpressure (README "Backpressure"): the spool is where the chain
 * Lambda -> lifecycle -> supervisor -> flusher -> intake pushes back.
 *  - Credit window: at most `window` bytes of frames are sent to the
 *    flusher and not yet acknowledged (at least one frame always may be).
 *    The flusher's log queue is sized (FL_LOGS_MAX_PENDING) to hold a full
 *    window, so it never has to drop to make room; what the window holds
 *    back waits here.
 *  - Water marks: once the spool holds `high` bytes it is "full" (the
 *    lifecycle is told to answer Lambda 503: FT_PRESSURE), until it is
 *    down to `low` (high / 2). Everything spooled must still reach the
 *    intake in SHUTDOWN's final flush, so the high mark follows the
 *    delivery rate: the bytes a flush acknowledged over the time it took
 *    (FT_FLUSHED's ms; flushes that delivered under
 *    SUP_SPOOL_RATE_MIN_BYTES teach nothing; smoothed) times
 *    SUP_SPOOL_DRAIN_MS, within [SUP_SPOOL_HIGH_MIN, SUP_SPOOL_HIGH_MAX].
 *    Between the high mark and max_bytes is room for the batches the
 *    lifecycle had already accepted when it was told.
 *  - Only while the intake takes data: pressure does not turn on, and
 *    lifts, when the last flush sent nothing and failed (FT_FLUSHED), or
 *    frames have been outstanding and nothing was acknowledged for
 *    SUP_SPOOL_STALL_US (an intake down, refusing or hanging). Telling Lambda 503 then would only hold
 *    back the platform records the scheduler waits for; the spool's bound
 *    applies instead.
 *  - Past max_bytes (only if that room was not enough) the oldest frames
 *    are dropped and counted: the last resort, never the normal path. */
#ifndef FORKCAP_SUP_SPOOL_H
#define FORKCAP_SUP_SPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "peer.h"

#define SUP_SPOOL_MAX (32u * 1024u * 1024u)    /* bytes held; oldest dropped beyond */
#define SUP_SPOOL_HIGH_MIN (512u * 1024u)        /* high mark, before and at least */
#define SUP_SPOOL_HIGH_MAX (16u * 1024u * 1024u) /* high mark, at most */
#define SUP_SPOOL_DRAIN_MS 800u                  /* backlog: this long at the delivery rate */
#define SUP_SPOOL_RATE_MIN_BYTES (64u * 1024u)   /* a flush this big measures the rate */
#define SUP_SPOOL_STALL_US 2000000u              /* no ack this long: the intake is not taking data */
#define SUP_SPOOL_WINDOW (2u * 1024u * 1024u)    /* sent, unacknowledged, at most */
#define SUP_SPOOL_FLUSH_AT (128u * 1024u)        /* the flusher holds this much: flush it */

struct sup_spool_entry;

struct sup_spool {
    struct sup_spool_entry *head, *tail;
    size_t bytes, max_bytes;
    size_t window;         /* bytes sent to the flusher, not acked, at most */
    size_t high, low;      /* water marks, see the top of this file */
    size_t unacked;        /* bytes sent on the current link, not acked */
    bool full;             /* above the high mark, not yet below the low */
    uint64_t pressure_on;  /* times it became full */
    uint64_t window_waits; /* pumps that stopped at the window */
    bool adaptive;         /* high follows the delivery rate */
    double rate_bps;       /* delivered bytes per second of flushing, smoothed; 0 = unknown */
    size_t acked_bytes;    /* acknowledged since the last FT_FLUSHED */
    uint64_t now_us;       /* the last sup_spool_clock() */
    uint64_t t_last_ack_us; /* the last clock that saw bytes acknowledged; 0 never */
    uint64_t t_outstanding_us; /* the clock that first saw frames outstanding; 0 none */
    bool intake_failing;   /* the last flush sent nothing and failed */
    uint64_t acked_total, acked_seen;
    uint64_t frames;       /* held now */
    uint64_t dropped;      /* frames dropped because the spool was full */
    uint64_t delivered;    /* frames released by an ACK */
};

/* window 0 = unlimited; high/low as above (low <= high <= max_bytes). */
void sup_spool_init(struct sup_spool *s, size_t max_bytes);
void sup_spool_set_limits(struct sup_spool *s, size_t window, size_t high, size_t low);
void sup_spool_clear(struct sup_spool *s);
/* Keep a copy of a finished frame (prefix included). Returns 0, or -1 when
 * out of memory. When full, the oldest frames are dropped and counted. */
int sup_spool_add(struct sup_spool *s, const uint8_t *frame, size_t len);
/* Send, in order, every frame not yet sent on the current link; stops at
 * the first one the peer's queue refuses or the window does not admit.
 * NULL peer: nothing happens. Returns true when frames wait for the window
 * (the flusher must deliver and ack before more can go). */
bool sup_spool_pump(struct sup_spool *s, struct peer *flusher);
/* After an add or an ack: +1 the spool just became full, -1 it just
 * stopped being full, 0 no change. `full` holds the state. */
int sup_spool_pressure(struct sup_spool *s);
/* Adaptive marks (see the top): at each FT_FLUSHED, with its ms, the high
 * mark moves to rate x SUP_SPOOL_DRAIN_MS within [min, max], low to high / 2. */
void sup_spool_set_adaptive(struct sup_spool *s, bool on);
void sup_spool_flushed(struct sup_spool *s, uint64_t ms, uint64_t sent, uint64_t failed);
/* The time, before sup_spool_pressure(): stall detection (see the top). */
void sup_spool_clock(struct sup_spool *s, uint64_t now_us);
/* The link went away: every held frame is to be sent again on the next;
 * the FT_PLATFORM and FT_INVOCATION frames sup_spool_ack_enh() covered
 * are replayed with enh_done set (their enhanced metrics are delivered). */
void sup_spool_unsend(struct sup_spool *s);
/* FT_ACK enh_upto: frames sent with seq <= enh_upto on the current link
 * have their enhanced metrics delivered (their logs may not be). */
void sup_spool_ack_enh(struct sup_spool *s, uint64_t enh_upto);
/* Release frames sent with seq <= upto on the current link. */
void sup_spool_ack(struct sup_spool *s, uint64_t upto);

#endif
