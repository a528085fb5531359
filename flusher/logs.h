/* logs.h — turns log records (FT_LOGS entries) into /api/v2/logs payloads
 * the way Datadog's Lambda extension builds them, bounded, with ack tracking.
 *
 * Pure: no I/O, no globals. One struct fl_logs per flusher.
 *
 * Entry (key order as Datadog's extension writes it):
 *   {"message":{"message":"<text>","lambda":{"arn":"<arn>","request_id":
 *    "<id>"|null},"timestamp":<ms>,"status":"<status>"},"hostname":"<arn>",
 *    "service":"<service>","ddtags":"<tags>","ddsource":"lambda"}
 * arn and service are lowercased. The context (arn, service, tags) is the
 * one current when the payload is taken, so an ARN learned late still lands
 * on logs queued before it.
 *
 * Per record, at fl_logs_add():
 *  - status: a message that is a JSON object maps its "level" (else
 *    "status") case-insensitively: FATAL/CRITICAL critical, ERROR/ERR
 *    error, WARN/WARNING warn, INFO/INFORMATION info, DEBUG debug, TRACE
 *    trace; anything else info. A platform END line of an is_error
 *    record is error.
 *  - a string "ddtags" at the top of a JSON log (or inside its "message"
 *    object, which then becomes the text) is removed and appended to the
 *    entry's ddtags.
 *  - request id: the record's, else the JSON log's requestId/AWSRequestId,
 *    else the current invocation's (between a platform START line and its
 *    END line), else the record is HELD until the next START (whose id it
 *    takes) or until fl_logs_release_held() sends it with null.
 *  - a message whose entry would pass max_entry bytes is cut (UTF-8 safe)
 *    and ends with FL_LOGS_TRUNC_MARK.
 *  - everything queued (ready, held, in flight) counts toward max_pending
 *    bytes; past it the oldest queued records are dropped first (never the
 *    ones in a payload the caller holds) and counted in dropped.
 *
 * Delivery and acks (the supervisor releases a data frame only once the
 * flusher acks it): every record carries the seq of the frame it came in.
 * fl_logs_take_payload() moves up to max_entries / max_payload bytes of ready
 * records into a payload the caller owns until it calls fl_logs_payload_done()
 * with the outcome. fl_logs_ackable() is then the FT_ACK "upto" value: the
 * highest seq such that no record from a frame with seq <= it is still
 * queued, held or in flight. Frames that yield no record must be reported
 * with fl_logs_note_seq() so the watermark can pass them. Seqs must not
 * decrease across calls.
 */
#ifndef FORKCAP_FL_LOGS_H
#define FORKCAP_FL_LOGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "frame.h"

#define FL_LOGS_MAX_ENTRIES  1000u
#define FL_LOGS_MAX_PAYLOAD  (5u * 1024u * 1024u)
#define FL_LOGS_MAX_ENTRY    (1024u * 1024u)
#define FL_LOGS_MAX_PENDING  (64u * 1024u * 1024u) /* a full SUP_SPOOL_WINDOW fits */
#define FL_LOGS_TRUNC_MARK   "...TRUNCATED..."
#define FL_LOGS_SPLIT_FLOOR  256u /* message bytes a 413 cut never goes below */

struct fl_logs_limits {
    size_t max_entries;  /* entries per payload                           */
    size_t max_payload;  /* bytes of JSON per payload (before compression) */
    size_t max_entry;    /* bytes of one serialized entry                 */
    size_t max_pending;  /* bytes queued in total, held and in flight too */
};
void fl_logs_limits_default(struct fl_logs_limits *lim);

/* Copied; NULL means empty. tags is the ddtags string ("k:v,k:v"): the
 * function tag set (fl_tags.h). */
struct fl_logs_ctx {
    const char *arn;
    const char *service;
    const char *tags;
};

struct fl_logs_record {
    uint64_t seq;           /* the data frame it came in                  */
    int64_t time_ms;        /* Unix epoch ms                              */
    enum log_source source;
    const char *request_id; /* NULL when none                             */
    const char *message;    /* raw bytes; invalid UTF-8 becomes U+FFFD    */
    size_t message_len;
    /* LOG_SRC_PLATFORM only (fl_logs_add_platform fills them): START opens
     * an invocation, RUNTIME_DONE (END) closes it; is_error: status error */
    enum platform_event event;
    bool is_error;
};

struct fl_logs_stats {
    uint64_t added;        /* records accepted                            */
    uint64_t dropped;      /* records dropped: queue full or given up     */
    uint64_t truncated;    /* records cut (max_entry, or a 413)           */
    uint64_t splits;       /* payloads split in two after a 413           */
    uint64_t split_truncated; /* single entries cut after a 413           */
    uint64_t sent;         /* records in payloads reported sent           */
    size_t queued_bytes;   /* ready + held + in flight                    */
    size_t ready;          /* records ready to go out                     */
    size_t held;           /* records waiting for a START                 */
    size_t in_flight;      /* records in payloads the caller holds        */
};

struct fl_logs;

/* A payload the caller owns until fl_logs_payload_done(). */
struct fl_logs_payload {
    uint64_t id;
    char *body;           /* JSON array, NUL-terminated                   */
    size_t len;
    size_t entries;
    uint64_t max_seq;     /* highest frame seq among its records          */
};

enum fl_logs_outcome {
    FL_LOGS_SENT = 0,     /* intake accepted: records released            */
    FL_LOGS_GIVEN_UP = 1, /* will never be sent: released, counted dropped */
    FL_LOGS_REQUEUE = 2,  /* not sent yet: records go back to the front   */
    FL_LOGS_SPLIT = 3,    /* 413: back to the front, to go out in two
                             payloads of half as many entries each; a
                             payload of one entry has that entry's message
                             cut to a quarter (FL_LOGS_TRUNC_MARK at the
                             end, counted truncated) and requeued, or,
                             below FL_LOGS_SPLIT_FLOOR bytes, given up    */
};

struct fl_logs *fl_logs_new(const struct fl_logs_ctx *ctx, const struct fl_logs_limits *lim);
void fl_logs_free(struct fl_logs *b);

/* Replaces the context (FT_CONTEXT); 0 or -1 (out of memory). */
int fl_logs_set_context(struct fl_logs *b, const struct fl_logs_ctx *ctx);

/* Queues one record; 0 queued, 1 dropped (counted), -1 bad argument or out
 * of memory. */
int fl_logs_add(struct fl_logs *b, const struct fl_logs_record *rec);

#define FL_LOGS_LINE_MAX 4096u /* bytes of one platform line, NUL included */

/* Writes the log line Datadog's extension emits for a platform record:
 *   INIT_START  INIT_START Runtime Version: {v} Runtime Version ARN: {arn}
 *   START       START RequestId: {id} Version: {v}
 *   RUNTIME_DONE  END RequestId: {id}[ Task timed out after {s:.2} seconds |
 *               Task failed: "{errorType}"] (when is_error: the first for
 *               status "timeout", else the second)
 *   REPORT      REPORT RequestId: {id} Duration: {:.2} ms Runtime Duration:
 *               {:.2} ms Post Runtime Duration: {:.2} ms Billed Duration: {}
 *               ms Memory Size: {} MB Max Memory Used: {} MB[ Init
 *               Duration: {:.2} ms]
 * Runtime Duration is runtime_ms (0.00 for both runtime fields when
 * absent, as Datadog's extension prints them). Returns the line length
 * (< cap, NUL-terminated, cut if cap is short), 0 if this event has no
 * line, -1 on bad arguments. */
int fl_logs_platform_line(const struct ft_platform *p, char *buf, size_t cap);

/* The line of an FT_PLATFORM record (if it has one) as a LOG_SRC_PLATFORM
 * record of frame seq: fl_logs_add's result, or FL_LOGS_NO_LINE (the seq
 * is noted) for an event without a line. */
#define FL_LOGS_NO_LINE 2
int fl_logs_add_platform(struct fl_logs *b, uint64_t seq, const struct ft_platform *p);

/* A frame that produced no record (e.g. FT_PLATFORM) still moves the ack
 * watermark. */
void fl_logs_note_seq(struct fl_logs *b, uint64_t seq);

/* An invocation started without a START line seen (e.g. FT_CONTEXT's
 * request_id): held records take this id, and so do later ones until END. */
int fl_logs_start_invocation(struct fl_logs *b, const char *request_id);

/* Moves every held record to the ready queue with a null request id
 * (final flush, or a flush that must not wait for the next START). */
void fl_logs_release_held(struct fl_logs *b);

/* Builds the next payload from ready records. Returns 1 with *out filled,
 * 0 if nothing is ready, -1 out of memory. */
int fl_logs_take_payload(struct fl_logs *b, struct fl_logs_payload *out);

/* Ends a payload from fl_logs_take_payload() and frees its body. */
void fl_logs_payload_done(struct fl_logs *b, struct fl_logs_payload *p, enum fl_logs_outcome o);

/* FT_ACK "upto": see the top of this file. */
uint64_t fl_logs_ackable(const struct fl_logs *b);

void fl_logs_get_stats(const struct fl_logs *b, struct fl_logs_stats *out);

/* Datadog status for a log level name (case-insensitive), NULL if unknown. */
const char *fl_logs_map_level(const char *level);

#endif
