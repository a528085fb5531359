/* lc_listener.h — the Telemetry API listener: a small bounded HTTP/1.1
 * server on the inherited socket, turning each batch into data frames. */
#ifndef FORKCAP_LC_LISTENER_H
#define FORKCAP_LC_LISTENER_H

#include <stdbool.h>
#include <stddef.h>

#include <event2/event.h>

#include "peer.h"
#include "telemetry.h"

#define LC_LS_CONNS_MAX 8u                               /* open connections */
#define LC_LS_BODY_MAX (LC_TELE_MAX_BODY + 64u * 1024u)  /* 2 x 1 MiB + slack */
#define LC_LS_PARTIAL_TIMEOUT_S 30                       /* a request begun, not finished */
/* Logs frames are cut below FRAME_MAX with room for the frame's own header. */
#define LC_LS_LOGS_FRAME_BUDGET (FRAME_MAX - 64u * 1024u)
#define LC_LS_LOGS_FRAME_RECORDS 10000u

struct lc_listener;

/* Serves fd (a bound, listening socket the caller keeps; it is not
 * closed). Batches become FT_PLATFORM and (logs on) FT_LOGS frames sent to
 * sup; a batch is answered 200 only once its frames are all in the
 * kernel's socket buffer (so a crash after the answer cannot lose them).
 * Takes over sup's drained callback. NULL on error (logged). */
struct lc_listener *lc_listener_new(struct event_base *base, int fd, struct peer *sup,
                                    bool logs_enabled);
void lc_listener_free(struct lc_listener *l);

/* FT_PRESSURE: while full, every new batch is answered 503 before it is
 * read into frames (batches already accepted are still delivered). */
void lc_listener_set_pressure(struct lc_listener *l, bool full);
unsigned long lc_listener_pressure_503(const struct lc_listener *l);

/* Turn one batch body into finished frames (FT_PLATFORM, FT_LOGS) in batch
 * order. Exposed for tests. On success *frames (malloc'd array of
 * frame_buf, each finished) and *n; the caller frees with
 * lc_listener_frames_free. Returns the lc_telemetry_parse result. */
struct lc_tele_linectx;
int lc_listener_build(const char *body, size_t len, bool logs_enabled, struct lc_tele_linectx *ctx,
                      struct frame_buf **frames, size_t *n, struct lc_tele_stats *stats);
void lc_listener_frames_free(struct frame_buf *frames, size_t n);

#endif
