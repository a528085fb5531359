/* ddsketch.h — the Datadog agent's DDSketch (pkg/quantile): eps 1/128, bias
 * 1338, sparse sorted bins of at most 65,535, a 4,096-bin limit, and summary. */
#ifndef FORKCAP_DDSKETCH_H
#define FORKCAP_DDSKETCH_H

#include <stddef.h>
#include <stdint.h>

#define DDS_GAMMA 1.015625            /* 1 + 2 * (1/128) */
#define DDS_LN_GAMMA 0.015504186535965254 /* log1p(1/64) */
#define DDS_BIAS 1338                 /* -floor(ln(1e-9)/ln gamma) + 1 */
#define DDS_MAX_KEY 32767             /* also the +Inf key */
#define DDS_MAX_BIN_WIDTH 65535u      /* a bin's count is a uint16 */
#define DDS_BIN_LIMIT 4096u           /* lowest bins fold upward beyond this */
/* The agent's MaxCount: more values than this cannot be represented. */
#define DDS_MAX_COUNT ((uint64_t)DDS_BIN_LIMIT * DDS_MAX_BIN_WIDTH)

struct dds_bin {
    int16_t k;
    uint16_t n;
};

/* Bins are sorted by key; several bins may share a key (the non-full one
 * first). Summary fields follow the agent's summary.Summary. */
struct ddsketch {
    struct dds_bin *bins;
    size_t len, cap;
    uint64_t count; /* sum of bin counts */
    double min, max, sum, avg;
    int64_t cnt;
};

void dds_init(struct ddsketch *s);
void dds_free(struct ddsketch *s);
/* Deep copy into an uninitialised dst. Returns 0 or -1 (ENOMEM). */
int dds_copy(struct ddsketch *dst, const struct ddsketch *src);

/* The key of a value: 0 for |v| < norm_min, negative for negative values,
 * clamped to [1, 32767] in magnitude. NaN maps to 0 (callers reject it). */
int dds_key(double v);
/* The agent's f64(k): gamma^(k - bias), signed, +-Inf for +-32767, 0 for 0. */
double dds_key_value(int k);
/* The smallest positive value with a non-zero key: gamma^(1 - 1338). */
double dds_norm_min(void);

/* Add a value once / n times (sample rates). NaN, n == 0 and inserts past
 * DDS_MAX_COUNT are refused with -1; -1 also on ENOMEM (sketch unchanged). */
int dds_insert(struct ddsketch *s, double v);
int dds_insert_n(struct ddsketch *s, double v, uint64_t n);
/* The agent's Agent.Insert(v, sampleRate): a rate outside (0, 1] counts as
 * 1; otherwise the bins get trunc(1/rate) and the summary merges
 * {cnt trunc(1/rate), sum v/rate, min = max = avg = v} (sum not truncated). */
int dds_insert_sampled(struct ddsketch *s, double v, double rate);
/* Merge o into s (o unchanged). -1 on overflow past DDS_MAX_COUNT or ENOMEM. */
int dds_merge(struct ddsketch *s, const struct ddsketch *o);

/* The agent's Sketch.Quantile: q <= 0 -> min, q >= 1 -> max, 0 when empty,
 * otherwise interpolated inside the bin that holds rank roundToEven(q*(n-1)). */
double dds_quantile(const struct ddsketch *s, double q);

#endif
