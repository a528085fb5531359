/* fuzz_frame.c — libFuzzer target for the frame decoder (common/frame.c):
 * any payload must decode or be refused, never crash or over-allocate
 * (the bounded walk runs before msgpack-c); a decoded frame must encode
 * again (what the supervisor spools) and decode to an equal frame. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"

static bool same(const struct frame *a, const struct frame *b)
{
    if (a->type != b->type)
        return false;
    switch (a->type) {
#define FRAME(NAME, name, num, dirs, FIELDS)                                                       \
    case FT_##NAME: return frame_equal_##name(&a->u.name, &b->u.name);
#include "frames.def"
#undef FRAME
    default: return false;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct frame f;
    char err[FRAME_ERR_MAX];
    if (size > FRAME_MAX)
        return 0;
    if (frame_decode(data, size, &f, err, sizeof err) != 0) {
        if (err[0] == '\0')
            abort(); /* every refusal says why */
        return 0;
    }
    if (frame_type_dirs(f.type) == 0 || f.seq == 0)
        abort();
    struct frame_buf fb = {0};
    if (frame_encode(&fb, &f) == 0) {
        struct frame g;
        if (frame_bytes_type(fb.p, fb.len) != f.type)
            abort();
        frame_set_seq(fb.p, f.seq);
        if (frame_decode(fb.p + FRAME_HDR_LEN, fb.len - FRAME_HDR_LEN, &g, err, sizeof err) != 0 ||
            g.seq != f.seq || !same(&f, &g))
            abort();
        frame_free(&g);
    } else if (size + 64 < FRAME_MAX) {
        abort(); /* a frame we accepted must encode again unless it was near the limit */
    }
    frame_buf_free(&fb);
    frame_free(&f);
    return 0;
}
