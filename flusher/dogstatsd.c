/* dogstatsd.c — a bounded, allocation-free DogStatsD line parser working on
 * slices of the datagram; values are checked before strtod sees them. */
#include "dogstatsd.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *find(const char *p, const char *end, char c)
{
    const char *q = memchr(p, c, (size_t)(end - p));
    return q ? q : end;
}

/* A plain decimal number: sign, digits, one dot, exponent. No hex. NaN
 * and infinities (as words, or a number too large for a double) are told
 * apart from garbage, so they are counted as what they are. */
enum num { NUM_OK, NUM_BAD, NUM_NOT_FINITE };

static bool not_finite_word(const char *p, size_t len)
{
    if (len > 0 && (p[0] == '+' || p[0] == '-')) {
        p++;
        len--;
    }
    return (len == 3 && (strncasecmp(p, "nan", 3) == 0 || strncasecmp(p, "inf", 3) == 0)) ||
           (len == 8 && strncasecmp(p, "infinity", 8) == 0);
}

static enum num parse_double(const char *p, size_t len, double *out)
{
    if (len == 0 || len >= DSD_VALUE_MAX)
        return NUM_BAD;
    if (not_finite_word(p, len))
        return NUM_NOT_FINITE;
    char tmp[DSD_VALUE_MAX];
    bool digit = false;
    for (size_t i = 0; i < len; i++) {
        char c = p[i];
        if (c >= '0' && c <= '9')
            digit = true;
        else if (c != '+' && c != '-' && c != '.' && c != 'e' && c != 'E')
            return NUM_BAD;
        tmp[i] = c;
    }
    if (!digit)
        return NUM_BAD;
    tmp[len] = '\0';
    char *endp;
    double v = strtod(tmp, &endp);
    if (endp != tmp + len)
        return NUM_BAD;
    if (!isfinite(v))
        return NUM_NOT_FINITE;
    *out = v;
    return NUM_OK;
}

/* Unix seconds: digits, optionally with a fraction (rounded, as Datadog's
 * extension does). */
static bool parse_timestamp(const char *p, size_t len, int64_t *out)
{
    if (len == 0 || len >= DSD_VALUE_MAX)
        return false;
    int64_t v = 0;
    size_t i = 0, digits = 0;
    for (; i < len && p[i] >= '0' && p[i] <= '9'; i++, digits++) {
        if (digits == 18)
            return false;
        v = v * 10 + (p[i] - '0');
    }
    if (digits == 0)
        return false;
    if (i < len) {
        if (p[i] != '.' || i + 1 == len)
            return false;
        for (size_t j = i + 1; j < len; j++)
            if (p[j] < '0' || p[j] > '9')
                return false;
        if (p[i + 1] >= '5')
            v++;
    }
    *out = v;
    return true;
}

static bool parse_type(const char *p, size_t len, enum met_type *t)
{
    if (len == 1) {
        switch (p[0]) {
        case 'c': *t = MET_COUNT; return true;
        case 'g': *t = MET_GAUGE; return true;
        case 'd':
        case 'h': *t = MET_DISTRIBUTION; return true;
        case 's': *t = MET_SET; return true;
        default: return false;
        }
    }
    if (len == 2 && p[0] == 'm' && p[1] == 's') {
        *t = MET_DISTRIBUTION;
        return true;
    }
    return false;
}

/* A value the aggregator refused, for the stats and the hook. */
static void agg_refused(struct met_agg *agg, const char *line, const char *end, struct dsd_stats *st)
{
    st->refused++;
    if (st->on_refused)
        st->on_refused(met_last_refusal(agg), line, (size_t)(end - line), st->on_refused_arg);
}

/* Parses one line; returns -1 when it was taken (its values may still have
 * been refused by the aggregator, each counted), else why it was refused. */
static int parse_line(struct met_agg *agg, const char *p, const char *end, int64_t now,
                      struct dsd_stats *st)
{
    const char *colon = find(p, end, ':');
    const char *bar = find(p, end, '|');
    if (colon == end || bar == end || colon > bar || colon == p)
        return REF_DSD_MALFORMED;
    struct met_sample s = { 0 };
    s.name = (struct met_str){ p, (size_t)(colon - p) };
    s.rate = 1;
    s.ts = now;
    const char *vals = colon + 1, *vals_end = bar;
    if (vals == vals_end)
        return REF_DSD_MALFORMED;

    const char *sec = bar + 1;
    const char *sec_end = find(sec, end, '|');
    if (!parse_type(sec, (size_t)(sec_end - sec), &s.type))
        return REF_DSD_MALFORMED;

    struct met_str tags[DSD_TAGS_MAX];
    size_t ntags = 0;
    while (sec_end < end) {
        sec = sec_end + 1;
        sec_end = find(sec, end, '|');
        size_t sl = (size_t)(sec_end - sec);
        if (sl == 0)
            return REF_DSD_MALFORMED;
        if (sec[0] == '@') {
            enum num n = parse_double(sec + 1, sl - 1, &s.rate);
            if (n != NUM_OK || !(s.rate > 0))
                return REF_DSD_SAMPLE_RATE;
        } else if (sec[0] == '#') {
            const char *t = sec + 1;
            while (t < sec_end) {
                const char *te = find(t, sec_end, ',');
                if (te > t) {
                    if (ntags == DSD_TAGS_MAX)
                        return REF_DSD_TOO_MANY_TAGS;
                    tags[ntags++] = (struct met_str){ t, (size_t)(te - t) };
                }
                t = te + 1;
            }
        } else if (sec[0] == 'T') {
            if (!parse_timestamp(sec + 1, sl - 1, &s.ts))
                return REF_DSD_MALFORMED;
            /* |T1 (1970) or a year ahead: a clock gone wrong, not data */
            if (s.ts < now - DSD_TS_PAST_S || s.ts > now + DSD_TS_FUTURE_S)
                return REF_DSD_TIMESTAMP;
            if (s.ts > now) /* no buckets in the future */
                s.ts = now;
        }
        /* c:<container id> and unknown sections carry nothing we use */
    }
    s.tags = tags;
    s.ntags = ntags;

    if (s.type == MET_SET) {
        /* a set member is an opaque string, never split on ':' */
        s.member = (struct met_str){ vals, (size_t)(vals_end - vals) };
        if (met_add(agg, &s) == 0)
            st->metrics++;
        else
            agg_refused(agg, p, end, st);
        return -1;
    }
    /* validate every value before feeding any: a bad line feeds nothing */
    double v[DSD_VALUES_MAX];
    size_t nv = 0;
    for (const char *q = vals; q <= vals_end;) {
        const char *qe = find(q, vals_end, ':');
        if (nv == DSD_VALUES_MAX)
            return REF_DSD_MALFORMED;
        enum num n = parse_double(q, (size_t)(qe - q), &v[nv]);
        if (n != NUM_OK)
            return n == NUM_NOT_FINITE ? REF_DSD_NOT_FINITE : REF_DSD_MALFORMED;
        nv++;
        q = qe + 1;
    }
    for (size_t i = 0; i < nv; i++) {
        s.value = v[i];
        if (met_add(agg, &s) == 0)
            st->metrics++;
        else
            agg_refused(agg, p, end, st);
    }
    return -1;
}

/* A line refused whole: counted under its reason (and in invalid, as
 * before, unless it is an event or a service check), told to the hook. */
static void line_refused(int why, const char *p, const char *end, struct dsd_stats *st)
{
    switch (why) {
    case REF_DSD_EVENT: st->events++; break;
    case REF_DSD_SERVICE_CHECK: st->service_checks++; break;
    case REF_DSD_TIMESTAMP: st->bad_timestamp++; st->invalid++; break;
    case REF_DSD_TOO_MANY_TAGS: st->too_many_tags++; st->invalid++; break;
    case REF_DSD_SAMPLE_RATE: st->bad_rate++; st->invalid++; break;
    case REF_DSD_NOT_FINITE: st->not_finite++; st->invalid++; break;
    default: st->invalid++; break;
    }
    if (st->on_refused)
        st->on_refused((enum refusal)why, p, (size_t)(end - p), st->on_refused_arg);
}

int dsd_parse(struct met_agg *agg, const char *buf, size_t len, int64_t now,
              struct dsd_stats *st)
{
    return dsd_parse_owned(agg, buf, len, now, NULL, st);
}

int dsd_parse_owned(struct met_agg *agg, const char *buf, size_t len, int64_t now, dsd_drop_fn drop,
                    struct dsd_stats *st)
{
    if (len > DSD_DATAGRAM_MAX) {
        st->too_large++;
        if (st->on_refused)
            st->on_refused(REF_DSD_TOO_LARGE, buf, len, st->on_refused_arg);
        return -1;
    }
    st->datagrams++;
    uint64_t before = st->metrics;
    const char *p = buf, *end = buf + len;
    while (p < end) {
        const char *le = find(p, end, '\n');
        const char *lend = le;
        if (lend > p && lend[-1] == '\r')
            lend--;
        if (lend > p) {
            size_t ll = (size_t)(lend - p);
            int why;
            if (ll >= 3 && memcmp(p, "_e{", 3) == 0)
                line_refused(REF_DSD_EVENT, p, lend, st);
            else if (ll >= 4 && memcmp(p, "_sc|", 4) == 0)
                line_refused(REF_DSD_SERVICE_CHECK, p, lend, st);
            else if (drop && drop(p, (size_t)(find(p, lend, ':') - p)))
                st->owned++;
            else if ((why = parse_line(agg, p, lend, now, st)) >= 0)
                line_refused(why, p, lend, st);
        }
        p = le + 1;
    }
    return (int)(st->metrics - before);
}
