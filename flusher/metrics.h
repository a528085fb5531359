/* metrics.h — the metrics aggregator: contexts (name + sorted, de-duplicated
 * tags) per 10 s bucket, for counts, gauges, distributions (DDSketch) and sets. */
#ifndef FORKCAP_METRICS_H
#define FORKCAP_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "refusal.h"
#include "ddsketch.h"

#define MET_BUCKET_S 10         /* timestamps are floored to 10 s */
#define MET_NAME_MAX 200        /* bytes of a metric name */
#define MET_TAG_MAX 200         /* bytes of one "key:value" tag */
#define MET_TAGS_MAX 100        /* tags of one context, common tags included */
#define MET_SET_MAX 1024        /* unique members remembered per set context */
#define MET_CONTEXTS_DEFAULT 1024 /* as Datadog's extension */

/* DogStatsD h and ms are distributions, as in Datadog's Lambda extension. */
enum met_type { MET_COUNT = 0, MET_GAUGE, MET_DISTRIBUTION, MET_SET };

/* A byte slice (not NUL-terminated), e.g. into a received datagram. */
struct met_str {
    const char *p;
    size_t len;
};

struct met_sample {
    struct met_str name;
    const struct met_str *tags;
    size_t ntags;
    enum met_type type;
    double value;          /* count, gauge, distribution */
    struct met_str member; /* set */
    double rate;           /* sample rate in (0, 1]; > 1 counts as 1 */
    int64_t ts;            /* unix seconds */
};

struct met_stats {
    uint64_t added;            /* samples accepted */
    uint64_t invalid;          /* samples refused (name, tags, value, rate) */
    uint64_t dropped_contexts; /* samples refused because the table was full */
    uint64_t set_overflow;     /* set members past MET_SET_MAX, not counted */
};

/* Drained output. type is the series API enum: 1 count, 3 gauge (sets are
 * sent as a gauge of their unique count, as the agent does). interval is 0
 * (left out), as Datadog's Lambda extension sends counts; the encoder writes
 * it when set. Strings are owned by the batch. */
struct met_series {
    char *metric;
    char **tags;
    size_t ntags;
    int type;
    int64_t ts;
    double value;
    int64_t interval;
};

struct met_sketch {
    char *metric;
    char **tags;
    size_t ntags;
    int64_t ts; /* bucket start */
    struct ddsketch sk;
};

struct met_batch {
    struct met_series *series;
    size_t nseries;
    struct met_sketch *sketches;
    size_t nsketches;
};

struct met_agg;

/* max_contexts bounds (context, bucket) entries held at once; 0 = default.
 * One entry costs ~100 bytes plus its name and tags (at most ~20 KiB) plus
 * its sketch (at most ~8,200 bins of 4 bytes, doubled by growth) or set
 * (8 KiB): worst case under 100 KiB, typically well under 1 KiB. */
struct met_agg *met_new(size_t max_contexts);
void met_free(struct met_agg *a);

/* Tags merged into every later sample's context (the extension's enrichment
 * tags); copied. Same validation as sample tags. 0 or -1 (invalid, ENOMEM). */
int met_set_common_tags(struct met_agg *a, const struct met_str *tags, size_t n);

/* Aggregate one sample: counts add value/rate, gauges keep the last value,
 * distributions insert as the agent does (dds_insert_sampled), sets count
 * unique members.
 * Names and tags must be non-empty valid UTF-8 without control characters,
 * values finite, rate > 0, ts >= 0. Returns 0, or -1 (counted in stats). */
int met_add(struct met_agg *a, const struct met_sample *s);

/* Entries currently held. */
size_t met_size(const struct met_agg *a);
struct met_stats met_get_stats(const struct met_agg *a);
/* Why the last met_add that returned -1 refused its sample. */
enum refusal met_last_refusal(const struct met_agg *a);

/* Move every closed bucket (start + 10 <= now), or everything when all is
 * true, into out (zeroed first); those entries are gone from the aggregator.
 * Retrying is the caller's job: it keeps the encoded payload (series_json,
 * sketch_pb) until delivered, so nothing is ever put back. 0 or -1 (ENOMEM:
 * nothing was removed). */
int met_drain(struct met_agg *a, int64_t now, bool all, struct met_batch *out);
/* A copy of every entry as met_drain(all) would give it, the aggregator
 * left as it was (the DogStatsD checkpoint). 0 or -1 (ENOMEM: out empty). */
int met_snapshot(const struct met_agg *a, struct met_batch *out);
void met_batch_free(struct met_batch *b);
/* Move src's entries to the end of dst; src is left empty (freed). 0, or
 * -1 (ENOMEM: whatever was not moved stays in src). */
int met_batch_append(struct met_batch *dst, struct met_batch *src);

/* True when [p, p+len) is valid UTF-8 with no control characters. */
bool met_text_ok(const char *p, size_t len);

#endif
