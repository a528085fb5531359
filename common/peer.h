/* peer.h — one end of a socketpair carrying frames, driven by libevent:
 * read buffer, bounded write queue (never blocks), one dispatch callback. */
#ifndef FORKCAP_PEER_H
#define FORKCAP_PEER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

#include "frame.h"

struct peer;

/* Called once per valid frame (borrowed: valid during the call only). A
 * NULL frame means the peer is gone (peer_error() == NULL: clean EOF) or
 * broke the protocol (peer_error() says how); no frame follows it. The
 * callback must not peer_free() the peer it was called for. */
typedef void (*peer_cb)(struct peer *p, const struct frame *f, void *arg);

/* Takes ownership of fd (made non-blocking, closed by peer_free). Only
 * frame types whose direction is in accept_dirs (FRAME_DIR_*) are accepted;
 * wq_max bounds the bytes waiting to be written. NULL on allocation error. */
struct peer *peer_new(struct event_base *base, int fd, const char *name, unsigned accept_dirs,
                      size_t wq_max, peer_cb cb, void *arg);
void peer_free(struct peer *p);

/* Stamp the next seq of this link into a finished frame (frame_encode_*()
 * bytes, prefix included) and queue it. Returns the seq, or 0 when the queue
 * would exceed its bound or the peer is dead (nothing queued then). */
uint64_t peer_send(struct peer *p, uint8_t *frame, size_t len);
/* peer_send of a frame_encode_*() result; 0 when its encoding failed. */
uint64_t peer_send_buf(struct peer *p, struct frame_buf *fb);

/* Read and dispatch everything the socket holds now, without waiting: used
 * after the far process has exited, so no frame it sent is left unread. */
void peer_drain(struct peer *p);

/* Called from the event loop whenever a write leaves the queue empty: every
 * byte queued so far is in the kernel. Never called from inside peer_send
 * (check peer_queued() == 0 after sending), nor after a write error. */
typedef void (*peer_drained_cb)(struct peer *p, void *arg);
void peer_set_drained_cb(struct peer *p, peer_drained_cb cb, void *arg);

/* Write everything queued now, waiting (blocking) at most timeout_ms in
 * total for the far end to make room. True when the queue is empty: every
 * byte is in the kernel, and survives this process dying. */
bool peer_flush_wait(struct peer *p, int timeout_ms);

size_t peer_queued(const struct peer *p);
const char *peer_name(const struct peer *p);
/* Why the peer was declared dead; NULL for a clean EOF or while alive. */
const char *peer_error(const struct peer *p);
int peer_fd(const struct peer *p);

#endif
