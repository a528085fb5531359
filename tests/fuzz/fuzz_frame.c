/* fuzz_frame.c — libFuzzer target for the frame decoder (common/frame.c):
 * any payload must decode or be refused, never crash or over-allocate; a
 * decoded frame must survive typed access and re-encoding. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct frame f;
    char err[FRAME_ERR_MAX];
    if (size > FRAME_MAX)
        return 0;
    if (frame_decode(data, size, &f, err, sizeof err) != 0)
        return 0;
    const char *s;
    uint64_t u;
    int64_t i;
    double d;
    bool b;
    uint32_t n;
    frame_get_str(&f, "request_id", &s, NULL);
    frame_get_uint(&f, "upto", &u);
    frame_get_int(&f, "deadline_ms", &i);
    frame_get_float(&f, "duration_ms", &d);
    frame_get_bool(&f, "final", &b);
    const struct fv *v = frame_get_array(&f, "records", &n);
    for (uint32_t k = 0; v && k < n; k++)
        v = k + 1 < n ? frame_next(&f, v) : NULL;
    struct frame_buf fb = {0};
    if (frame_reencode(&f, &fb) == 0) {
        struct frame g;
        frame_set_seq(fb.p, f.seq);
        /* what the supervisor forwards must decode again, to the same shape */
        if (frame_decode(fb.p + FRAME_HDR_LEN, fb.len - FRAME_HDR_LEN, &g, err, sizeof err) != 0 ||
            g.type != f.type || g.nnodes != f.nnodes)
            abort();
        frame_free(&g);
    }
    frame_buf_free(&fb);
    frame_free(&f);
    return 0;
}
