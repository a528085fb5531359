/* fuzz_tele_values.c — libFuzzer target: Telemetry API batches that are
 * schema-valid JSON (the right record types and field names) but carry
 * hostile values: negative memory, durations beyond 15 minutes, memory
 * above the configured size, huge and fractional integers, strings and
 * bools where numbers belong, unknown request ids. The fuzz input chooses
 * the records and values; the batch goes through the real parser (with a
 * configured memory size), the Datadog line, and enhanced metrics. Traps
 * when a refused value gets through (a field out of the documented range)
 * or when anything non-finite reaches a metric. */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "enhanced.h"
#include "logs.h"
#include "metrics.h"
#include "telemetry.h"

struct src {
    const uint8_t *p;
    size_t n;
};

static uint8_t take8(struct src *s)
{
    if (s->n == 0)
        return 0;
    s->n--;
    return *s->p++;
}

static uint64_t take64(struct src *s)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | take8(s);
    return v;
}

/* One JSON value for a numeric field, or nothing (the field left out). */
static int value(struct src *s, char *out, size_t cap)
{
    static const char *const edge[] = {
        "-1", "0", "-0.0", "0.5", "128", "127", "10240", "10241", "900000", "900000.001",
        "1e308", "-1e308", "9223372036854775807", "-9223372036854775808", "18446744073709551615",
        "1e19", "4.9e-324", "\"12\"", "\"nan\"", "true", "null", "[]", "{}", "128.0", "3.5",
    };
    uint8_t k = take8(s);
    switch (k % 5) {
    case 0: return 0;
    case 1: return snprintf(out, cap, "%s", edge[take8(s) % (sizeof edge / sizeof *edge)]);
    case 2: return snprintf(out, cap, "%lld", (long long)take64(s));
    case 3: {
        uint64_t bits = take64(s);
        double d;
        memcpy(&d, &bits, sizeof d);
        if (!isfinite(d))
            d = k & 0x80 ? -1e308 : 1e308; /* JSON has no NaN or Inf */
        return snprintf(out, cap, "%.17g", d);
    }
    default: return snprintf(out, cap, "%u", (unsigned)(take64(s) % 20000));
    }
}

static struct enh_state *enh;
static struct met_agg *agg;
static uint32_t mem_cfg;

static void check(const struct ft_platform *m)
{
    int64_t mem_max = mem_cfg ? (int64_t)mem_cfg : LC_TELE_MEMORY_MAX_MB;
    if (m->has_duration_ms && !(m->duration_ms >= 0 && m->duration_ms <= LC_TELE_MAX_DURATION_MS))
        __builtin_trap();
    if (m->has_init_ms && !(m->init_ms >= 0 && m->init_ms <= LC_TELE_MAX_DURATION_MS))
        __builtin_trap();
    if (m->has_billed_ms && (m->billed_ms < 0 || m->billed_ms > (int64_t)LC_TELE_MAX_DURATION_MS))
        __builtin_trap();
    if (m->has_memory_mb && (m->memory_mb < LC_TELE_MEMORY_MIN_MB || m->memory_mb > mem_max))
        __builtin_trap();
    if (m->has_max_memory_mb &&
        (m->max_memory_mb < 0 || m->max_memory_mb > (m->has_memory_mb ? m->memory_mb : mem_max)))
        __builtin_trap();
    if (m->has_produced_bytes && m->produced_bytes < 0)
        __builtin_trap();
    if ((m->has_dropped_records && m->dropped_records < 0) || (m->has_dropped_bytes && m->dropped_bytes < 0))
        __builtin_trap();
}

static int on_record(const struct lc_tele_record *rec, void *arg)
{
    struct lc_tele_linectx *ctx = arg;
    if (rec->kind != LC_TELE_PLATFORM)
        return 0;
    struct ft_platform m = rec->u.platform;
    check(&m);
    lc_tele_pair(ctx, &m);
    char line[512];
    int n = fl_logs_platform_line(&m, line, sizeof line);
    if (n < 0 || (size_t)n >= sizeof line)
        __builtin_trap();
    if (strstr(line, "nan") || strstr(line, "inf"))
        __builtin_trap();
    enh_on_platform(enh, &m);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const types[] = {"start", "runtimeDone", "report", "initReport",
                                        "initStart", "restoreReport", "logsDropped"};
    static const char *const rids[] = {"a8f1c7d0-0000-4000-8000-000000000001",
                                       "a8f1c7d0-0000-4000-8000-000000000002", "", "x"};
    static const char *const fields[] = {"durationMs", "billedDurationMs", "memorySizeMB",
                                         "maxMemoryUsedMB", "initDurationMs", "producedBytes"};
    struct src s = {data, size};
    mem_cfg = take8(&s) & 1 ? 128u + (uint32_t)(take64(&s) % (10240 - 128 + 1)) : 0;
    agg = met_new(256);
    enh = agg ? enh_new(agg) : NULL;
    if (enh == NULL) {
        met_free(agg);
        return 0;
    }
    char body[8192];
    size_t off = 0;
    body[off++] = '[';
    unsigned nrec = 1 + take8(&s) % 8;
    for (unsigned r = 0; r < nrec && off < sizeof body - 1024; r++) {
        const char *type = types[take8(&s) % (sizeof types / sizeof *types)];
        const char *rid = rids[take8(&s) % (sizeof rids / sizeof *rids)];
        off += (size_t)snprintf(body + off, sizeof body - off,
                                "%s{\"time\":\"2024-05-01T10:00:00.%03uZ\",\"type\":\"platform.%s\","
                                "\"record\":{\"requestId\":\"%s\",\"status\":\"%s\"",
                                r ? "," : "", r % 1000u, type, rid, take8(&s) & 1 ? "success" : "timeout");
        char v[64];
        if (strcmp(type, "logsDropped") == 0) {
            if (value(&s, v, sizeof v) > 0)
                off += (size_t)snprintf(body + off, sizeof body - off, ",\"droppedRecords\":%s", v);
            if (value(&s, v, sizeof v) > 0)
                off += (size_t)snprintf(body + off, sizeof body - off, ",\"droppedBytes\":%s", v);
        } else {
            off += (size_t)snprintf(body + off, sizeof body - off, ",\"metrics\":{");
            bool first = true;
            for (size_t f = 0; f < sizeof fields / sizeof *fields; f++)
                if (value(&s, v, sizeof v) > 0) {
                    off += (size_t)snprintf(body + off, sizeof body - off, "%s\"%s\":%s",
                                            first ? "" : ",", fields[f], v);
                    first = false;
                }
            off += (size_t)snprintf(body + off, sizeof body - off, "}");
        }
        off += (size_t)snprintf(body + off, sizeof body - off, "}}");
    }
    off += (size_t)snprintf(body + off, sizeof body - off, "]");

    struct lc_tele_limits lim;
    lc_tele_limits_default(&lim);
    lim.memory_mb = mem_cfg;
    struct lc_tele_linectx ctx;
    memset(&ctx, 0, sizeof ctx);
    struct lc_tele_stats st;
    lc_telemetry_parse(body, off, &lim, on_record, &ctx, &st);
    enh_on_shutdown(enh, 1714557600000);

    /* nothing non-finite reaches a payload */
    struct met_batch b;
    if (met_drain(agg, 1714557600, true, &b) == 0) {
        for (size_t i = 0; i < b.nseries; i++)
            if (!isfinite(b.series[i].value))
                __builtin_trap();
        for (size_t i = 0; i < b.nsketches; i++) {
            const struct ddsketch *k = &b.sketches[i].sk;
            if (!isfinite(k->sum) || !isfinite(k->min) || !isfinite(k->max) || !isfinite(k->avg))
                __builtin_trap();
        }
        met_batch_free(&b);
    }
    enh_free(enh);
    met_free(agg);
    return 0;
}
