/* fuzz_enhanced.c — libFuzzer target: the input is read as a script of
 * platform events, invokes, shutdowns and tag contexts (strings taken from
 * the input) for flusher/enhanced, then drained and encoded. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "enhanced.h"
#include "sketch_pb.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct rd {
    const uint8_t *p;
    size_t n;
};

static uint8_t byte(struct rd *r)
{
    if (!r->n)
        return 0;
    r->n--;
    return *r->p++;
}

/* Any int64, extremes included: frames may carry them. */
static int64_t num(struct rd *r)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | byte(r);
    int64_t s;
    memcpy(&s, &v, sizeof(s));
    return s;
}

/* A NUL-terminated string of up to 255 input bytes, into buf. */
static const char *str(struct rd *r, char *buf)
{
    size_t n = byte(r);
    if (n > r->n)
        n = r->n;
    memcpy(buf, r->p, n);
    buf[n] = '\0';
    r->p += n;
    r->n -= n;
    return buf;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const enum platform_event events[] = { PE_INIT_START, PE_INIT_REPORT, PE_RUNTIME_DONE,
                                                   PE_REPORT, PE_START, PE_LOGS_DROPPED };
    static const char *status[] = { "success", "error", "timeout", "failure", NULL };
    static const char *ids[] = { "a", "b", "c", "", NULL };
    struct met_agg *a = met_new(32);
    struct enh_state *st = a ? enh_new(a) : NULL;
    if (!st) {
        met_free(a);
        return 0;
    }
    struct rd r = { data, size };
    char b1[256], b2[256], b3[256], b4[256];
    while (r.n) {
        switch (byte(&r) % 5) {
        case 0: {
            struct enh_tag_context c = { .function_name = str(&r, b1), .runtime = str(&r, b2),
                                         .architecture = str(&r, b3), .dd_tags = str(&r, b4),
                                         .memory_mb = num(&r) };
            enh_set_context(st, &c);
            break;
        }
        case 1:
            enh_on_invoke(st, num(&r), ids[byte(&r) % 5]);
            break;
        case 2: {
            unsigned has = byte(&r);
            struct ft_platform e = {
                .event = events[byte(&r) % 6], .time_ms = num(&r),
                .request_id = ids[byte(&r) % 5], .status = status[byte(&r) % 5],
                .error_type = (byte(&r) & 1) ? "Runtime.OutOfMemory" : NULL,
                .duration_ms = (double)num(&r) / 7, .billed_ms = num(&r),
                .memory_mb = num(&r), .max_memory_mb = num(&r),
                .init_ms = (double)num(&r) / 3, .produced_bytes = num(&r),
                .has_duration_ms = has & 1, .has_billed_ms = has & 2, .has_memory_mb = has & 4,
                .has_max_memory_mb = has & 8, .has_init_ms = has & 16,
                .has_produced_bytes = has & 32,
            };
            enh_on_platform(st, &e);
            break;
        }
        case 3:
            enh_on_shutdown(st, num(&r));
            break;
        default:
            enh_set_sandbox_init(st, num(&r));
            break;
        }
    }
    struct met_batch b;
    if (met_drain(a, 0, true, &b) == 0) {
        size_t at = 0, used, len;
        while (at < b.nsketches) {
            uint8_t *out;
            int rc = spb_encode(b.sketches + at, b.nsketches - at, NULL, 0, &used, &out, &len);
            if (rc == 0)
                free(out);
            if (rc == -1)
                break;
            if (used == 0)
                abort();
            at += used;
        }
        met_batch_free(&b);
    }
    enh_free(st);
    met_free(a);
    return 0;
}
