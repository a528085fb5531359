/* fuzz_trace_decode.c — libFuzzer: the first byte picks v0.4 (even) or v0.5
 * (odd), the rest is a tracer's body. It goes through the decoder and the
 * protobuf conversion (with a small payload bound so splitting runs too);
 * every TracerPayload produced must unpack and stay within the bound. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "trace.pb-c.h"
#include "trace_decode.h"
#include "trace_pb.h"

#define FZ_MAX_PAYLOAD 2048u

static int check(const uint8_t *pb, size_t len, uint32_t nspans, void *arg)
{
    (void)arg;
    (void)nspans;
    if (len > FZ_MAX_PAYLOAD)
        abort();
    Datadog__Trace__TracerPayload *tp = datadog__trace__tracer_payload__unpack(NULL, len, pb);
    if (tp == NULL)
        abort();
    datadog__trace__tracer_payload__free_unpacked(tp, NULL);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    enum tr_version v = (data[0] & 1) ? TR_V05 : TR_V04;
    struct tp_opts o = {.lang = "nodejs", .fn_tags = "functionname:f,region:r",
                        .drop_p0 = (data[0] & 2) != 0, .max_payload = FZ_MAX_PAYLOAD};
    struct tp_enc *e = tp_new(&o);
    if (e == NULL)
        return 0;
    char err[128];
    int st = tr_decode(v, data + 1, size - 1, tp_add_cb, e, NULL, NULL, err, sizeof err);
    if (st == TR_OK)
        tp_emit(e, check, NULL);
    tp_free(e);
    return 0;
}
