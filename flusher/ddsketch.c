/* ddsketch.c — DDSketch with the agent's key mapping, bin splitting, bin
 * limit folding (trimLeft), summary arithmetic and quantile interpolation. */
#include "ddsketch.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void dds_init(struct ddsketch *s)
{
    memset(s, 0, sizeof(*s));
}

void dds_free(struct ddsketch *s)
{
    free(s->bins);
    memset(s, 0, sizeof(*s));
}

int dds_copy(struct ddsketch *dst, const struct ddsketch *src)
{
    *dst = *src;
    dst->bins = NULL;
    dst->cap = 0;
    if (src->len == 0)
        return 0;
    dst->bins = malloc(src->len * sizeof(*dst->bins));
    if (!dst->bins) {
        dds_init(dst);
        return -1;
    }
    memcpy(dst->bins, src->bins, src->len * sizeof(*dst->bins));
    dst->cap = src->len;
    return 0;
}

double dds_norm_min(void)
{
    return pow(DDS_GAMMA, 1 - DDS_BIAS);
}

/* Go's math.RoundToEven: the agent relies on it so that key(f64(k)) == k. */
static double round_even(double x)
{
    double r = round(x);
    if (fabs(x - trunc(x)) == 0.5)
        r = 2.0 * round(x / 2.0);
    return r;
}

int dds_key(double v)
{
    if (isnan(v))
        return 0;
    if (v < 0)
        return -dds_key(-v);
    if (v < dds_norm_min())
        return 0;
    double l = log(v) / DDS_LN_GAMMA;
    if (l > (double)DDS_MAX_KEY) /* also +Inf */
        return DDS_MAX_KEY;
    long i = (long)round_even(l) + DDS_BIAS;
    if (i > DDS_MAX_KEY)
        return DDS_MAX_KEY;
    if (i < 1)
        return 1;
    return (int)i;
}

double dds_key_value(int k)
{
    if (k < 0)
        return -dds_key_value(-k);
    if (k >= DDS_MAX_KEY)
        return INFINITY;
    if (k == 0)
        return 0;
    return pow(DDS_GAMMA, (double)(k - DDS_BIAS));
}

static int reserve(struct ddsketch *s, size_t need)
{
    if (need <= s->cap)
        return 0;
    size_t cap = s->cap ? s->cap : 16;
    while (cap < need)
        cap *= 2;
    struct dds_bin *b = realloc(s->bins, cap * sizeof(*b));
    if (!b)
        return -1;
    s->bins = b;
    s->cap = cap;
    return 0;
}

/* How many bins the agent's appendSafe makes for n items of one key. */
static size_t pieces(uint64_t n)
{
    if (n <= DDS_MAX_BIN_WIDTH)
        return 1;
    return (size_t)(n / DDS_MAX_BIN_WIDTH) + (n % DDS_MAX_BIN_WIDTH ? 1 : 0);
}

/* appendSafe: the remainder first (if any), then full bins. */
static size_t write_pieces(struct dds_bin *out, int k, uint64_t n)
{
    size_t w = 0;
    if (n <= DDS_MAX_BIN_WIDTH) {
        out[w++] = (struct dds_bin){ (int16_t)k, (uint16_t)n };
        return w;
    }
    if (n % DDS_MAX_BIN_WIDTH)
        out[w++] = (struct dds_bin){ (int16_t)k, (uint16_t)(n % DDS_MAX_BIN_WIDTH) };
    for (uint64_t i = 0; i < n / DDS_MAX_BIN_WIDTH; i++)
        out[w++] = (struct dds_bin){ (int16_t)k, (uint16_t)DDS_MAX_BIN_WIDTH };
    return w;
}

/* The agent's trimLeft: fold the lowest len - limit bins into the next one,
 * emitting a full bin (with the key being folded) whenever the running sum
 * passes 65,535. The overflow never outnumbers the removed bins (the first
 * removed bin cannot overflow), so it is written in place. */
static void trim_left(struct ddsketch *s)
{
    if (s->len <= DDS_BIN_LIMIT)
        return;
    struct dds_bin *a = s->bins;
    size_t nremove = s->len - DDS_BIN_LIMIT, w = 0;
    uint64_t missing = 0;
    for (size_t i = 0; i < nremove; i++) {
        missing += a[i].n;
        if (missing > DDS_MAX_BIN_WIDTH) {
            a[w++] = (struct dds_bin){ a[i].k, (uint16_t)DDS_MAX_BIN_WIDTH };
            missing -= DDS_MAX_BIN_WIDTH;
        }
    }
    uint64_t next = missing + a[nremove].n;
    if (next > DDS_MAX_BIN_WIDTH) {
        a[nremove].n = (uint16_t)DDS_MAX_BIN_WIDTH;
        a[w++] = (struct dds_bin){ a[nremove].k, (uint16_t)(next - DDS_MAX_BIN_WIDTH) };
    } else {
        a[nremove].n = (uint16_t)next;
    }
    memmove(a + w, a + nremove, (s->len - nremove) * sizeof(*a));
    s->len = w + (s->len - nremove);
}

static int insert_key(struct ddsketch *s, int k, uint64_t n)
{
    size_t lo = 0, hi = s->len;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->bins[mid].k < k)
            lo = mid + 1;
        else
            hi = mid;
    }
    int same = lo < s->len && s->bins[lo].k == k;
    uint64_t total = n + (same ? s->bins[lo].n : 0);
    size_t np = pieces(total), replaced = same ? 1 : 0;
    if (reserve(s, s->len + np - replaced) != 0)
        return -1;
    memmove(s->bins + lo + np, s->bins + lo + replaced,
            (s->len - lo - replaced) * sizeof(*s->bins));
    write_pieces(s->bins + lo, k, total);
    s->len += np - replaced;
    s->count += n;
    trim_left(s);
    return 0;
}

static void summary_merge(struct ddsketch *s, double mn, double mx, double sum,
                          double avg, int64_t cnt)
{
    if (cnt == 0)
        return;
    if (s->cnt == 0) {
        s->min = mn;
        s->max = mx;
        s->sum = sum;
        s->avg = avg;
        s->cnt = cnt;
        return;
    }
    if (mx > s->max)
        s->max = mx;
    if (mn < s->min)
        s->min = mn;
    s->cnt += cnt;
    s->sum += sum;
    s->avg = s->avg + (avg - s->avg) * (double)cnt / (double)s->cnt;
}

int dds_insert(struct ddsketch *s, double v)
{
    /* a sum that overflows (two 1e308) would ship +Inf: refused */
    if (isnan(v) || s->count + 1 > DDS_MAX_COUNT || !isfinite(s->sum + v))
        return -1;
    if (insert_key(s, dds_key(v), 1) != 0)
        return -1;
    if (v > s->max || s->cnt == 0)
        s->max = v;
    if (v < s->min || s->cnt == 0)
        s->min = v;
    s->cnt++;
    s->sum += v;
    s->avg += (v - s->avg) / (double)s->cnt;
    return 0;
}

int dds_insert_n(struct ddsketch *s, double v, uint64_t n)
{
    if (n == 0 || isnan(v) || n > DDS_MAX_COUNT || s->count + n > DDS_MAX_COUNT)
        return -1;
    if (n == 1)
        return dds_insert(s, v);
    if (insert_key(s, dds_key(v), n) != 0)
        return -1;
    summary_merge(s, v, v, (double)n * v, v, (int64_t)n);
    return 0;
}

int dds_insert_sampled(struct ddsketch *s, double v, double rate)
{
    if (!(rate > 0 && rate <= 1) || rate == 1)
        return dds_insert(s, v);
    double n = 1 / rate;
    if (isnan(v) || !(n < (double)DDS_MAX_COUNT) || s->count + (uint64_t)n > DDS_MAX_COUNT ||
        !isfinite(n * v) || !isfinite(s->sum + n * v))
        return -1;
    if (insert_key(s, dds_key(v), (uint64_t)n) != 0)
        return -1;
    summary_merge(s, v, v, n * v, v, (int64_t)n);
    return 0;
}

int dds_merge(struct ddsketch *s, const struct ddsketch *o)
{
    if (o->count == 0 && o->cnt == 0)
        return 0;
    if (s->count + o->count > DDS_MAX_COUNT || !isfinite(s->sum + o->sum))
        return -1;
    /* each bin of o yields at most two bins while consuming one of s */
    size_t cap = s->len + 2 * o->len;
    struct dds_bin *tmp = malloc((cap ? cap : 1) * sizeof(*tmp));
    if (!tmp)
        return -1;
    size_t si = 0, w = 0;
    for (size_t oi = 0; oi < o->len; oi++) {
        struct dds_bin ob = o->bins[oi];
        while (si < s->len && s->bins[si].k < ob.k)
            tmp[w++] = s->bins[si++];
        if (si < s->len && s->bins[si].k == ob.k) {
            w += write_pieces(tmp + w, ob.k, (uint64_t)ob.n + s->bins[si].n);
            si++;
        } else {
            tmp[w++] = ob;
        }
    }
    while (si < s->len)
        tmp[w++] = s->bins[si++];
    free(s->bins);
    s->bins = tmp;
    s->cap = cap ? cap : 1;
    s->len = w;
    s->count += o->count;
    trim_left(s);
    summary_merge(s, o->min, o->max, o->sum, o->avg, o->cnt);
    return 0;
}

double dds_quantile(const struct ddsketch *s, double q)
{
    if (s->count == 0)
        return 0;
    if (q <= 0)
        return s->min;
    if (q >= 1)
        return s->max;
    double want = round_even(q * (double)(s->count - 1)), n = 0;
    for (size_t i = 0; i < s->len; i++) {
        n += s->bins[i].n;
        if (n <= want)
            continue;
        double weight = (n - want) / (double)s->bins[i].n;
        double lo = dds_key_value(s->bins[i].k);
        if (isinf(lo))
            return lo; /* the clamp bin: avoid Inf * 0 */
        double hi = lo * DDS_GAMMA;
        /* The agent also means to use max for the last bin, but its check
         * (index == len) never matches; only the first bin takes min. */
        if (i == 0)
            lo = s->min;
        return lo * weight + hi * (1 - weight);
    }
    return NAN;
}
