/* sup_inv.h — each invocation counted once (the enhanced metric
 * "invocations"), from two sources deduplicated by request id:
 *  - the INVOKE events the lifecycle forwards (FT_INVOKE);
 *  - Lambda's platform.start records (FT_PLATFORM, PE_START, with an id).
 * Whichever names a request id first counts it; the other is a repeat.
 *
 * Why both: a lifecycle killed while it waits in /next (where it nearly
 * always is) loses the INVOKE Lambda hands that dead connection; the
 * invocation still runs and its telemetry still comes, through the
 * replacement lifecycle. Why not start records alone: telemetry lags, may
 * be lost (Lambda drops what it cannot deliver), and anyone in the sandbox
 * can POST records to the listener. So a start record of an id no INVOKE
 * named counts only against a possible loss: each lifecycle death allows
 * one (at most SUP_INV_LOST_MAX waiting), as a dead /next loses at most one
 * INVOKE. Any other such record is "unannounced": not counted here (its
 * INVOKE, if it comes later, counts it).
 *
 * Memory: the ring of SUP_INV_IDS 64-bit FNV-1a hashes, 8 KiB. The ring
 * must span from an invocation's first mention to its last: telemetry lag
 * in invocations (Lambda's buffering is 25 ms / 1,000 items here, and
 * retries of undelivered batches; a start record trails its INVOKE by far
 * fewer than 1,024 invocations of one sandbox, which runs them one at a
 * time) and a batch Lambda delivers again. Beyond it an id is forgotten: a
 * start record of an invocation counted more than SUP_INV_IDS counts ago
 * is unannounced (not counted) unless a lifecycle death is pending, when
 * it counts twice (once). Two ids with the same hash: the second is a
 * repeat, about once in 2^64 / SUP_INV_IDS invocations. */
#ifndef FORKCAP_SUP_INV_H
#define FORKCAP_SUP_INV_H

#include <stdbool.h>
#include <stdint.h>

#define SUP_INV_IDS 1024u     /* request ids remembered (hashes, a ring) */
#define SUP_INV_LOST_MAX 16u  /* lifecycle deaths waiting for a start record */

enum sup_inv_src { SUP_INV_INVOKE, SUP_INV_START };
enum sup_inv_verdict {
    SUP_INV_COUNT,       /* a new invocation: count it */
    SUP_INV_REPEAT,      /* its id was counted already */
    SUP_INV_UNANNOUNCED, /* a start record of no INVOKE and no loss: not counted */
    SUP_INV_NO_ID,       /* no request id: never an invocation */
};

struct sup_inv {
    uint64_t id[SUP_INV_IDS]; /* hashes of the ids counted; 0 = empty */
    uint32_t next;            /* the slot the next id takes */
    uint32_t lost;            /* lifecycle deaths not yet matched by a start record */
    uint64_t counted, from_start, repeats, unannounced;
};

/* A zeroed struct is ready too. */
void sup_inv_init(struct sup_inv *v);
/* The lifecycle died: it may have lost one INVOKE. */
void sup_inv_lifecycle_lost(struct sup_inv *v);
/* rid (NUL-terminated, NULL or "" for none) named by src. */
enum sup_inv_verdict sup_inv_note(struct sup_inv *v, const char *rid, enum sup_inv_src src);

#endif
