/* dogstatsd.c — a bounded, allocation-free DogStatsD line parser working on
 * slices of the datagram; values are checked before strtod sees them. */
#include "dogstatsd.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static const char *find(const char *p, const char *end, char c)
{
    const char *q = memchr(p, c, (size_t)(end - p));
    return q ? q : end;
}

/* A plain decimal number: sign, digits, one dot, exponent. No inf/nan/hex. */
static bool parse_double(const char *p, size_t len, double *out)
{
    if (len == 0 || len >= DSD_VALUE_MAX)
        return false;
    char tmp[DSD_VALUE_MAX];
    bool digit = false;
    for (size_t i = 0; i < len; i++) {
        char c = p[i];
        if (c >= '0' && c <= '9')
            digit = true;
        else if (c != '+' && c != '-' && c != '.' && c != 'e' && c != 'E')
            return false;
        tmp[i] = c;
    }
    if (!digit)
        return false;
    tmp[len] = '\0';
    char *endp;
    double v = strtod(tmp, &endp);
    if (endp != tmp + len || !isfinite(v))
        return false;
    *out = v;
    return true;
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

/* Parses one line; returns false when malformed. */
static bool parse_line(struct met_agg *agg, const char *p, const char *end, int64_t now,
                       struct dsd_stats *st)
{
    const char *colon = find(p, end, ':');
    const char *bar = find(p, end, '|');
    if (colon == end || bar == end || colon > bar || colon == p)
        return false;
    struct met_sample s = { 0 };
    s.name = (struct met_str){ p, (size_t)(colon - p) };
    s.rate = 1;
    s.ts = now;
    const char *vals = colon + 1, *vals_end = bar;
    if (vals == vals_end)
        return false;

    const char *sec = bar + 1;
    const char *sec_end = find(sec, end, '|');
    if (!parse_type(sec, (size_t)(sec_end - sec), &s.type))
        return false;

    struct met_str tags[DSD_TAGS_MAX];
    size_t ntags = 0;
    while (sec_end < end) {
        sec = sec_end + 1;
        sec_end = find(sec, end, '|');
        size_t sl = (size_t)(sec_end - sec);
        if (sl == 0)
            return false;
        if (sec[0] == '@') {
            if (!parse_double(sec + 1, sl - 1, &s.rate) || !(s.rate > 0))
                return false;
        } else if (sec[0] == '#') {
            const char *t = sec + 1;
            while (t < sec_end) {
                const char *te = find(t, sec_end, ',');
                if (te > t) {
                    if (ntags == DSD_TAGS_MAX)
                        return false;
                    tags[ntags++] = (struct met_str){ t, (size_t)(te - t) };
                }
                t = te + 1;
            }
        } else if (sec[0] == 'T') {
            if (!parse_timestamp(sec + 1, sl - 1, &s.ts))
                return false;
            /* |T1 (1970) or a year ahead: a clock gone wrong, not data */
            if (s.ts < now - DSD_TS_PAST_S || s.ts > now + DSD_TS_FUTURE_S) {
                st->bad_timestamp++;
                return false;
            }
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
            st->refused++;
        return true;
    }
    /* validate every value before feeding any: a bad line feeds nothing */
    double v[DSD_VALUES_MAX];
    size_t nv = 0;
    for (const char *q = vals; q <= vals_end;) {
        const char *qe = find(q, vals_end, ':');
        if (nv == DSD_VALUES_MAX || !parse_double(q, (size_t)(qe - q), &v[nv]))
            return false;
        nv++;
        q = qe + 1;
    }
    for (size_t i = 0; i < nv; i++) {
        s.value = v[i];
        if (met_add(agg, &s) == 0)
            st->metrics++;
        else
            st->refused++;
    }
    return true;
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
            if (ll >= 3 && memcmp(p, "_e{", 3) == 0)
                st->events++;
            else if (ll >= 4 && memcmp(p, "_sc|", 4) == 0)
                st->service_checks++;
            else if (drop && drop(p, (size_t)(find(p, lend, ':') - p)))
                st->owned++;
            else if (!parse_line(agg, p, lend, now, st))
                st->invalid++;
        }
        p = le + 1;
    }
    return (int)(st->metrics - before);
}
