/* fuzz_lc_build.c — libFuzzer target for the listener's batch -> frames
 * step (lc_batch_build): whatever Lambda's body holds, every frame it
 * produces decodes with the supervisor's own checks and stays within
 * FRAME_MAX. The first input byte picks logs on or off. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "lc_batch.h"
#include "telemetry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    if (len == 0)
        return 0;
    static struct lc_tele_linectx ctx; /* kept across inputs, as across batches */
    struct frame_buf *fr = NULL;
    size_t n = 0;
    lc_batch_build((const char *)data + 1, len - 1, data[0] & 1, &ctx, &fr, &n, NULL);
    for (size_t i = 0; i < n; i++) {
        if (fr[i].len <= FRAME_HDR_LEN || fr[i].len - FRAME_HDR_LEN > FRAME_MAX)
            abort();
        frame_set_seq(fr[i].p, 1);
        struct frame f;
        char err[FRAME_ERR_MAX];
        if (frame_decode(fr[i].p + FRAME_HDR_LEN, fr[i].len - FRAME_HDR_LEN, &f, err, sizeof err) != 0)
            abort();
        if (f.type != FT_PLATFORM && f.type != FT_LOGS)
            abort();
        frame_free(&f);
    }
    lc_batch_frames_free(fr, n);
    return 0;
}
