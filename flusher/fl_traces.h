/* fl_traces.h — accepted tracer data in the flusher: FT_TRACES and
 * FT_TRACE_STATS frames (replayed by the supervisor from its spool) held
 * until their intake posts are final, then released for FT_ACK.
 *
 * fl_traces_take groups every pending TracerPayload into AgentPayloads of
 * at most TP_AGENT_PAYLOAD_MAX bytes (posted, zstd, to the traces URL with
 * X-Datadog-Reported-Languages) and wraps every pending stats body in a
 * StatsPayload (msgpack {AgentHostname, AgentEnv, Stats:[body],
 * AgentVersion, ClientComputed: true}, gzip, to the stats URL). Each post
 * is one batch; its outcome releases (final) or requeues (not kept) the
 * frames in it. */
#ifndef FORKCAP_FL_TRACES_H
#define FORKCAP_FL_TRACES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "frame.h"
#include "intake.h"

#define FL_TRACES_BATCH_BITS 40u /* batch ids fit below the caller's tag bits */

struct fl_traces;

struct fl_traces_stats {
    uint64_t frames, spans, stats_frames;  /* received */
    uint64_t delivered, given_up;          /* frames whose posts were final: ok / not ok */
    uint64_t splits;                       /* batches split after a 413 */
    size_t held_bytes;
};

/* One post to make; body and headers stay valid until fl_traces_post_free. */
struct fl_traces_post {
    struct fl_post post; /* tag = batch id */
    uint8_t *body;
    char *hdr_lines;
    const char *hdrs[3];
};

struct fl_traces *fl_traces_new(void);
void fl_traces_free(struct fl_traces *t);

/* Keep a FT_TRACES or FT_TRACE_STATS frame (copied). 0, or -1 out of memory
 * or a frame of another type. */
int fl_traces_add(struct fl_traces *t, const struct frame *f);

/* Posts for everything not in flight. *out is malloc'd (n entries); free
 * with fl_traces_posts_free. 0, or -1 out of memory (nothing taken). */
int fl_traces_take(struct fl_traces *t, const char *traces_url, const char *stats_url, const char *env,
                   struct fl_traces_post **out, size_t *n);
void fl_traces_posts_free(struct fl_traces_post *v, size_t n);

/* A batch's outcome: final (delivered or given up, ok says which) releases
 * its frames; !final puts them back to pending for the next flush. */
void fl_traces_done(struct fl_traces *t, uint64_t batch, bool final, bool ok);
/* A batch the intake answered 413: with two frames or more, they go back
 * to pending, to be posted in AgentPayloads of at most half as many frames
 * (returns 1); a single frame is left as it is (returns 0: the caller
 * gives it up with fl_traces_done). */
int fl_traces_split(struct fl_traces *t, uint64_t batch);
/* Every frame in flight back to pending (a flush that was never submitted). */
void fl_traces_requeue(struct fl_traces *t);

/* FT_ACK bound: every seq <= the returned value is released (UINT64_MAX
 * when nothing is held). */
uint64_t fl_traces_ackable(const struct fl_traces *t);
bool fl_traces_pending(const struct fl_traces *t);
void fl_traces_get_stats(const struct fl_traces *t, struct fl_traces_stats *out);

#endif
