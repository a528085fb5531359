/* dogstatsd.h — parses one DogStatsD datagram (metrics separated by '\n')
 * and feeds the aggregator; bad lines are counted and skipped. */
#ifndef FORKCAP_DOGSTATSD_H
#define FORKCAP_DOGSTATSD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "metrics.h"

#define DSD_DATAGRAM_MAX 8192u /* larger datagrams are refused whole */
#define DSD_VALUES_MAX 64u     /* name:v1:v2:... values on one line */
#define DSD_VALUE_MAX 64u      /* bytes of one numeric value */
#define DSD_TAGS_MAX 32u       /* tags on one line, as Datadog's extension allows */
#define DSD_TS_PAST_S 3600     /* |T older than now - 1 h is refused ... */
#define DSD_TS_FUTURE_S 600    /* ... and so is one past now + 10 min */

/* Counters, accumulated across calls. */
struct dsd_stats {
    uint64_t datagrams;      /* parsed */
    uint64_t too_large;      /* refused whole */
    uint64_t metrics;        /* values handed to the aggregator and taken */
    uint64_t invalid;        /* malformed lines */
    uint64_t refused;        /* values the aggregator refused (limits, full) */
    uint64_t events;         /* _e{...} lines, skipped */
    uint64_t service_checks; /* _sc| lines, skipped */
    uint64_t bad_timestamp;  /* |T outside [now - 1 h, now + 10 min]: refused (also in invalid) */
    uint64_t too_many_tags;  /* over DSD_TAGS_MAX tags (also in invalid) */
    uint64_t bad_rate;       /* |@ not a number above 0 (also in invalid) */
    uint64_t not_finite;     /* a value NaN or infinite (also in invalid) */
    uint64_t owned;          /* lines the drop filter refused (see dsd_parse_owned) */
    /* optional: told of every refused datagram, line or value, with its
     * reason (common/refusals.def) and the text refused */
    void (*on_refused)(enum refusal why, const char *text, size_t len, void *arg);
    void *on_refused_arg;
};

/* Line grammar: name:value[:value...]|type[|@rate][|#tag,tag][|T<unix s>]
 * [|c:<container>], sections after the type in any order, unknown sections
 * ignored. Types c, g, d, h, ms, s (h and ms are distributions). now is the
 * timestamp used when a line has no T section, or a later one (as Datadog's
 * extension does; a fractional T is rounded). Returns the number of values
 * taken, or -1 when the datagram itself is refused (too large). */
int dsd_parse(struct met_agg *agg, const char *buf, size_t len, int64_t now,
              struct dsd_stats *st);

/* dsd_parse, except that a line whose metric name drop(name, len) accepts
 * is skipped and counted in st->owned: metrics the extension produces
 * itself, which a library's copy over DogStatsD would double. */
typedef bool (*dsd_drop_fn)(const char *name, size_t len);
int dsd_parse_owned(struct met_agg *agg, const char *buf, size_t len, int64_t now, dsd_drop_fn drop,
                    struct dsd_stats *st);

#endif
