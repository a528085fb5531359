/* fuzz_dogstatsd.c — libFuzzer target: a datagram through the DogStatsD
 * parser into a small aggregator, then drained and encoded both ways. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "dogstatsd.h"
#include "series_json.h"
#include "sketch_pb.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct met_agg *a = met_new(64);
    if (!a)
        return 0;
    struct dsd_stats st = { 0 };
    dsd_parse(a, (const char *)data, size, 1700000000, &st);
    /* the same datagram again lands in the existing contexts */
    dsd_parse(a, (const char *)data, size, 1700000003, &st);
    struct met_batch b;
    if (met_drain(a, 0, true, &b) == 0) {
        size_t at = 0, used, len;
        while (at < b.nseries) {
            char *out;
            int rc = sj_encode(b.series + at, b.nseries - at, 7, 4096, &used, &out, &len);
            if (rc == 0)
                free(out);
            if (rc == -1)
                break; /* ENOMEM */
            if (used == 0)
                abort(); /* an encoder must always make progress */
            at += used;
        }
        at = 0;
        while (at < b.nsketches) {
            uint8_t *out;
            int rc = spb_encode(b.sketches + at, b.nsketches - at, NULL, 2048, &used, &out, &len);
            if (rc == 0)
                free(out);
            if (rc == -1)
                break; /* ENOMEM */
            if (used == 0)
                abort(); /* an encoder must always make progress */
            at += used;
        }
        met_batch_free(&b);
    }
    met_free(a);
    return 0;
}
