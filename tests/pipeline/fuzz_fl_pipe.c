/* fuzz_fl_pipe.c — libFuzzer: a script of supervisor frames (any bytes the
 * frame decoder accepts), DogStatsD datagrams, DogStatsD checkpoints (any
 * bytes as FT_DSD_STATE.payloads), checkpoint ticks and intake outcomes driven
 * through the flusher pipeline. Checks: no crash or leak, FT_ACK never moves
 * backwards, every FT_FLUSH gets exactly one FT_FLUSHED. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "fl_pipe.h"
#include "frame.h"

struct pending {
    uint64_t tags[256];
    size_t n;
    fl_post_done_fn each;
    fl_flush_done_fn done;
    void *arg;
    bool active;
};
static struct pending pend;
static uint64_t kept[256];
static size_t nkept;
static uint64_t last_ack, last_enh, flushes_in, flushed_out;

static int fake_flush(void *sender, const struct fl_post *posts, size_t n, uint64_t deadline_us,
                      unsigned flags, fl_post_done_fn each, fl_flush_done_fn done, void *arg)
{
    (void)sender;
    (void)deadline_us;
    if (pend.active)
        abort(); /* one flush at a time */
    memset(&pend, 0, sizeof pend);
    if (flags & FL_FLUSH_RESEND_KEPT)
        for (size_t i = 0; i < nkept && pend.n < 256; i++)
            pend.tags[pend.n++] = kept[i];
    nkept = 0;
    for (size_t i = 0; i < n && pend.n < 256; i++) {
        if (posts[i].len == 0 || posts[i].body == NULL)
            abort();
        pend.tags[pend.n++] = posts[i].tag;
    }
    pend.each = each;
    pend.done = done;
    pend.arg = arg;
    pend.active = true;
    return 0;
}

static void complete(const uint8_t *oc, size_t len)
{
    if (!pend.active)
        return;
    struct fl_flush_summary s = {.posted = (unsigned)pend.n};
    pend.active = false;
    for (size_t i = 0; i < pend.n; i++) {
        enum fl_outcome o = (enum fl_outcome)((i < len ? oc[i] : 0) % 6);
        struct fl_post_result r = {.tag = pend.tags[i], .outcome = o};
        if ((o == FL_FAILED || o == FL_ABORTED) && nkept < 256) {
            r.kept = true;
            kept[nkept++] = r.tag;
        }
        pend.each(&r, pend.arg);
    }
    pend.done(&s, pend.arg);
}

static void emit(struct frame_buf *fb, void *arg)
{
    (void)arg;
    if (!fb->err) {
        frame_set_seq(fb->p, 1);
        struct frame f;
        char err[64];
        if (frame_decode(fb->p + FRAME_HDR_LEN, fb->len - FRAME_HDR_LEN, &f, err, sizeof err) != 0)
            abort(); /* the pipe wrote a frame its peer would refuse */
        if (f.type == FT_ACK) {
            /* an ack moves the ack forward, or only the enhanced watermark
             * (a drain delivered while older payloads still retry); the
             * watermark never falls behind the ack nor goes back */
            uint64_t u = f.u.ack.upto;
            if (u < last_ack)
                abort();
            if (f.u.ack.has_enh_upto) {
                if (f.u.ack.enh_upto < u || f.u.ack.enh_upto < last_enh)
                    abort();
                if (u == last_ack && f.u.ack.enh_upto == last_enh)
                    abort(); /* an ack that says nothing new */
                last_enh = f.u.ack.enh_upto;
            } else if (u == last_ack) {
                abort();
            }
            last_ack = u;
        }
        if (f.type == FT_FLUSHED)
            flushed_out++;
        frame_free(&f);
    }
    frame_buf_free(fb);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct cfg c;
    static int sender;
    memset(&c, 0, sizeof c);
    snprintf(c.site, sizeof c.site, "datadoghq.com");
    snprintf(c.fn_name, sizeof c.fn_name, "fn");
    snprintf(c.region, sizeof c.region, "us-east-1");
    snprintf(c.tags, sizeof c.tags, "a:b,c:d"); /* canonical, as config leaves it */
    c.logs_enabled = c.enhanced_metrics = true;
    c.memory_mb = 128;
    /* runtime detection stays off this machine's /proc (deterministic runs) */
    struct fl_pipe_opts o = {.cfg = &c, .sender = &sender, .flush = fake_flush, .emit = emit,
                             .architecture = "arm64", .proc_root = "/nonexistent/proc",
                             .os_release = "/nonexistent/os-release"};
    memset(&pend, 0, sizeof pend);
    nkept = 0;
    last_ack = last_enh = flushes_in = flushed_out = 0;
    struct fl_pipe *p = fl_pipe_new(&o);
    if (!p)
        return 0;
    size_t i = 0;
    uint64_t seq = 0;
    while (i + 3 <= size) {
        uint8_t op = data[i] % 5;
        size_t len = ((size_t)data[i + 1] << 8 | data[i + 2]);
        i += 3;
        if (len > size - i)
            len = size - i;
        const uint8_t *b = data + i;
        i += len;
        if (op == 0) {
            struct frame f;
            char err[64];
            if (frame_decode(b, len, &f, err, sizeof err) != 0)
                continue;
            if (!(frame_type_dirs(f.type) & FRAME_DIR_S2F) || f.seq <= seq) {
                frame_free(&f); /* the peer layer refuses these */
                continue;
            }
            seq = f.seq;
            if (f.type == FT_FLUSH)
                flushes_in++;
            fl_pipe_frame(p, &f);
            frame_free(&f);
        } else if (op == 1) {
            fl_pipe_dogstatsd(p, (const char *)b, len);
        } else if (op == 3) {
            struct frame_buf fb = {0};
            struct frame f;
            char err[64];
            if (frame_encode_dsd_state(&fb, &(struct ft_dsd_state){.payloads = b, .payloads_len = len}) == 0) {
                frame_set_seq(fb.p, ++seq);
                if (frame_decode(fb.p + FRAME_HDR_LEN, fb.len - FRAME_HDR_LEN, &f, err, sizeof err) != 0)
                    abort();
                fl_pipe_frame(p, &f);
                frame_free(&f);
            }
            frame_buf_free(&fb);
        } else if (op == 4) {
            fl_pipe_tick(p);
        } else {
            complete(b, len);
        }
    }
    while (pend.active)
        complete(NULL, 0);
    if (flushed_out != flushes_in)
        abort(); /* every FT_FLUSH answered once */
    fl_pipe_free(p);
    return 0;
}
