/* lc_listener.h — the Telemetry API listener: a small bounded HTTP/1.1
 * server on the inherited socket, turning each batch into data frames. */
#ifndef FORKCAP_LC_LISTENER_H
#define FORKCAP_LC_LISTENER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

#include "peer.h"
#include "telemetry.h"

/* Lambda posts from outside the sandbox over a fast local link; anyone in
 * the sandbox can connect too. So: many slots, a deadline for the whole
 * request (first byte to last, however it trickles), and when every slot
 * is taken a new connection evicts the oldest idle one, else the slowest
 * request (lowest bytes per second; not one younger than
 * LC_LS_EVICT_GRACE_MS while another can go). A connection whose batch is
 * with the supervisor is never evicted. */
#define LC_LS_CONNS_MAX 256u                             /* open connections, at most */
#define LC_LS_FD_RESERVE 64u                             /* ... leaving this many fds (RLIMIT_NOFILE) */
#define LC_LS_CONNS_MIN 8u
#define LC_LS_BODY_MAX (LC_TELE_MAX_BODY + 64u * 1024u)  /* 2 x 1 MiB + slack */
#define LC_LS_REQUEST_TIMEOUT_MS 10000u                  /* a whole request, first byte to last */
#define LC_LS_EVICT_GRACE_MS 100u
#define LC_LS_BUFFERED_MAX (32u << 20)                   /* bytes of unfinished requests, all slots */
#define LC_LS_JOBS_MAX 16u                               /* batches read, waiting for the supervisor */
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

/* The function's configured memory (AWS_LAMBDA_FUNCTION_MEMORY_SIZE; 0 =
 * unknown): platform records claiming more are refused field by field. */
void lc_listener_set_memory_mb(struct lc_listener *l, uint32_t memory_mb);

/* Tests: other bounds than the defaults (0 keeps one). */
void lc_listener_set_limits(struct lc_listener *l, unsigned conns_max, unsigned request_timeout_ms);

struct lc_listener_stats {
    unsigned conns, conns_max;
    unsigned long accepted, evicted_idle, evicted_slow, timed_out, refused, over_budget;
    unsigned long fields_refused; /* platform fields of the wrong type or out of range */
};
void lc_listener_get_stats(const struct lc_listener *l, struct lc_listener_stats *out);

/* Turn one batch body into finished frames (FT_PLATFORM, FT_LOGS) in batch
 * order. Exposed for tests. On success *frames (malloc'd array of
 * frame_buf, each finished) and *n; the caller frees with
 * lc_listener_frames_free. Returns the lc_telemetry_parse result. */
struct lc_tele_linectx;
int lc_listener_build(const char *body, size_t len, bool logs_enabled, struct lc_tele_linectx *ctx,
                      struct frame_buf **frames, size_t *n, struct lc_tele_stats *stats);
void lc_listener_frames_free(struct frame_buf *frames, size_t n);

#endif
