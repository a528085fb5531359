/* refusal.h — honest accounting of refused input. Every place that refuses
 * a piece of input (common/refusals.def names the reasons) tells this
 * process's tally; the first refusal of each reason is logged once (WARN,
 * with a short example), the rest are only counted. Counts go to the
 * supervisor in FT_REFUSED frames (refusal_send), which adds them up for
 * the stats file, and into the process's exit summary (refusal_summary).
 * One tally per process: a child forked from the supervisor starts at 0. */
#ifndef FORKCAP_REFUSAL_H
#define FORKCAP_REFUSAL_H

#include <stddef.h>
#include <stdint.h>

enum refusal {
#define REFUSAL(C, name, words) REF_##C,
#include "refusals.def"
#undef REFUSAL
    REF_N
};

#define REFUSAL_EXAMPLE_MAX 80 /* bytes of an example in the log line */

struct peer;

/* The reason's name ("dogstatsd_too_many_tags"), or NULL past the list. */
const char *refusal_name(unsigned r);
/* What it means, in words. */
const char *refusal_words(unsigned r);

/* n more refusals of reason r; example (len bytes, may be NULL) is what
 * was refused, shown escaped and cut to REFUSAL_EXAMPLE_MAX bytes in the
 * log line if this is the first of its reason. */
void refusal_note(enum refusal r, uint64_t n, const char *example, size_t len);

/* This process's count for r. */
uint64_t refusal_count(enum refusal r);

/* Send the counts not yet sent, one FT_REFUSED per reason, to p. Returns
 * the number of frames queued; what could not be queued is sent next time. */
unsigned refusal_send(struct peer *p);

/* "name N, name N" of every reason counted here, or "none"; into buf. */
void refusal_summary(char *buf, size_t len);

/* Tests only: forget everything (counts and which were logged). */
void refusal_reset(void);

#endif
