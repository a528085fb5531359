/* sup_spool.h — data frames (FT_PLATFORM, FT_LOGS) the supervisor holds
 * until the flusher acknowledges them, so a flusher crash loses nothing. */
#ifndef FORKCAP_SUP_SPOOL_H
#define FORKCAP_SUP_SPOOL_H

#include <stddef.h>
#include <stdint.h>

#include "peer.h"

#define SUP_SPOOL_MAX (16u * 1024u * 1024u) /* bytes held; oldest dropped beyond */

struct sup_spool_entry;

struct sup_spool {
    struct sup_spool_entry *head, *tail;
    size_t bytes, max_bytes;
    uint64_t frames;       /* held now */
    uint64_t dropped;      /* frames dropped because the spool was full */
    uint64_t delivered;    /* frames released by an ACK */
};

void sup_spool_init(struct sup_spool *s, size_t max_bytes);
void sup_spool_clear(struct sup_spool *s);
/* Keep a copy of a finished frame (prefix included). Returns 0, or -1 when
 * out of memory. When full, the oldest frames are dropped and counted. */
int sup_spool_add(struct sup_spool *s, const uint8_t *frame, size_t len);
/* Send, in order, every frame not yet sent on the current link; stops at
 * the first one the peer's queue refuses. NULL peer: nothing happens. */
void sup_spool_pump(struct sup_spool *s, struct peer *flusher);
/* The link went away: every held frame is to be sent again on the next. */
void sup_spool_unsend(struct sup_spool *s);
/* Release frames sent with seq <= upto on the current link. */
void sup_spool_ack(struct sup_spool *s, uint64_t upto);

#endif
