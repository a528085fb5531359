/* test_spool.c — supervisor/sup_spool.c: data frames are held until
 * acknowledged, replayed in order (re-stamped from seq 1) to a new
 * flusher, and the byte bound drops the oldest, counted; the credit
 * window and the water marks of backpressure. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>

#include "sup_spool.h"

struct got {
    int n;
    int64_t t[64];
    uint64_t seq[64];
};

static void cb(struct peer *p, const struct frame *f, void *arg)
{
    struct got *g = arg;
    (void)p;
    if (f == NULL || g->n >= 64)
        return;
    g->t[g->n] = f->type == FT_PLATFORM ? f->u.platform.time_ms : -1;
    g->seq[g->n] = f->seq;
    g->n++;
}

static void platform_frame(struct frame_buf *fb, int64_t t, size_t pad)
{
    char *s = calloc(1, pad + 1);
    memset(s, 'p', pad);
    const struct ft_platform m = {.event = PE_LOGS_DROPPED, .time_ms = t, .reason = s};
    assert_int_equal(frame_encode_platform(fb, &m), 0);
    free(s);
}

/* A flusher link: our peer sends on sv[0], a reading peer on sv[1]. */
struct link {
    int sv[2];
    struct peer *tx, *rx;
    struct got got;
};

static void link_open(struct link *l, struct event_base *b)
{
    memset(l, 0, sizeof *l);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, l->sv), 0);
    l->tx = peer_new(b, l->sv[0], "fl", FRAME_DIR_F2S, 1 << 20, cb, NULL);
    l->rx = peer_new(b, l->sv[1], "sup", FRAME_DIR_S2F, 1 << 20, cb, &l->got);
}

static void spin(struct event_base *b)
{
    for (int i = 0; i < 5; i++)
        event_base_loop(b, EVLOOP_NONBLOCK);
}

static void test_ack_and_replay(void **st)
{
    (void)st;
    struct event_base *b = event_base_new();
    struct sup_spool s;
    sup_spool_init(&s, 1 << 20);
    struct frame_buf fb = {0};
    for (int i = 1; i <= 5; i++) {
        platform_frame(&fb, i, 10);
        assert_int_equal(sup_spool_add(&s, fb.p, fb.len), 0);
    }
    sup_spool_pump(&s, NULL); /* no flusher: nothing happens */
    struct link a;
    link_open(&a, b);
    sup_spool_pump(&s, a.tx);
    spin(b);
    assert_int_equal(a.got.n, 5);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(a.got.t[i], i + 1);
        assert_int_equal(a.got.seq[i], i + 1);
    }
    /* pumping again sends nothing twice */
    sup_spool_pump(&s, a.tx);
    spin(b);
    assert_int_equal(a.got.n, 5);
    sup_spool_ack(&s, 2);
    assert_int_equal(s.frames, 3);
    assert_int_equal(s.delivered, 2);
    /* the flusher dies: the 3 unacknowledged go to the next one, in order,
     * stamped from seq 1 on the new link */
    peer_free(a.tx);
    peer_free(a.rx);
    sup_spool_unsend(&s);
    sup_spool_ack(&s, 100); /* an ack cannot release frames not sent on this link */
    assert_int_equal(s.frames, 3);
    platform_frame(&fb, 6, 10);
    assert_int_equal(sup_spool_add(&s, fb.p, fb.len), 0);
    struct link c;
    link_open(&c, b);
    sup_spool_pump(&s, c.tx);
    spin(b);
    assert_int_equal(c.got.n, 4);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(c.got.t[i], i + 3);
        assert_int_equal(c.got.seq[i], i + 1);
    }
    sup_spool_ack(&s, 4);
    assert_int_equal(s.frames, 0);
    assert_int_equal(s.bytes, 0);
    peer_free(c.tx);
    peer_free(c.rx);
    frame_buf_free(&fb);
    sup_spool_clear(&s);
    event_base_free(b);
}

static void test_bound_drops_oldest(void **st)
{
    (void)st;
    struct sup_spool s;
    struct frame_buf fb = {0};
    platform_frame(&fb, 0, 1000);
    size_t one = fb.len;
    sup_spool_init(&s, one * 3);
    for (int i = 1; i <= 5; i++) {
        platform_frame(&fb, i, 1000);
        assert_int_equal(sup_spool_add(&s, fb.p, fb.len), 0);
        assert_true(s.bytes <= one * 3);
    }
    assert_int_equal(s.frames, 3);
    assert_int_equal(s.dropped, 2);
    /* a single frame larger than the whole bound is refused, nothing dropped */
    platform_frame(&fb, 9, 4000);
    assert_int_equal(sup_spool_add(&s, fb.p, fb.len), -1);
    assert_int_equal(s.frames, 3);
    frame_buf_free(&fb);
    sup_spool_clear(&s);
}


/* At most `window` bytes are sent and unacknowledged; an ack opens it. */
static void test_window(void **st)
{
    (void)st;
    struct event_base *b = event_base_new();
    struct sup_spool s;
    struct link a;
    link_open(&a, b);
    struct frame_buf fb = {0};
    platform_frame(&fb, 0, 1000);
    size_t one = fb.len;
    frame_buf_free(&fb);
    sup_spool_init(&s, one * 100);
    sup_spool_set_limits(&s, one * 3, one * 100, one * 100);
    for (int i = 1; i <= 5; i++) {
        platform_frame(&fb, i, 1000);
        assert_int_equal(sup_spool_add(&s, fb.p, fb.len), 0);
        frame_buf_free(&fb);
    }
    assert_true(sup_spool_pump(&s, a.tx)); /* frames wait for the window */
    assert_int_equal(s.unacked, one * 3);
    spin(b);
    assert_int_equal(a.got.n, 3);
    sup_spool_ack(&s, 2);
    assert_int_equal(s.unacked, one);
    assert_false(sup_spool_pump(&s, a.tx)); /* everything fits now */
    spin(b);
    assert_int_equal(a.got.n, 5);
    assert_int_equal(a.got.t[4], 5);
    /* a new link starts with an empty window */
    sup_spool_unsend(&s);
    assert_int_equal(s.unacked, 0);
    /* a frame larger than the window still goes alone */
    sup_spool_clear(&s);
    sup_spool_set_limits(&s, one / 2, one * 100, one * 100);
    platform_frame(&fb, 9, 1000);
    assert_int_equal(sup_spool_add(&s, fb.p, fb.len), 0);
    frame_buf_free(&fb);
    assert_false(sup_spool_pump(&s, a.tx));
    assert_int_equal(s.unacked, one);
    sup_spool_clear(&s);
    peer_free(a.tx);
    peer_free(a.rx);
    event_base_free(b);
}

/* Pressure turns on at the high mark and off only at the low one, and
 * only while the flusher is delivering: it lifts once frames have been
 * outstanding with nothing acknowledged for SUP_SPOOL_STALL_US. */
static void test_water_marks(void **st)
{
    (void)st;
    struct event_base *b = event_base_new();
    struct link a;
    link_open(&a, b);
    struct sup_spool s;
    struct frame_buf fb = {0};
    platform_frame(&fb, 0, 1000);
    size_t one = fb.len;
    frame_buf_free(&fb);
    sup_spool_init(&s, one * 10);
    sup_spool_set_limits(&s, 0, one * 4, one * 1);
    uint64_t t = 1000000;
    for (int i = 0; i < 3; i++) {
        platform_frame(&fb, i, 1000);
        assert_int_equal(sup_spool_add(&s, fb.p, fb.len), 0);
        frame_buf_free(&fb);
    }
    sup_spool_clock(&s, t);
    assert_int_equal(sup_spool_pressure(&s), 0); /* 3 frames */
    platform_frame(&fb, 4, 1000);
    assert_int_equal(sup_spool_add(&s, fb.p, fb.len), 0);
    frame_buf_free(&fb);
    assert_int_equal(sup_spool_pressure(&s), 1); /* 4 frames: on */
    assert_true(s.full);
    assert_int_equal(s.pressure_on, 1);
    sup_spool_pump(&s, a.tx);
    sup_spool_clock(&s, t += 1000);
    sup_spool_ack(&s, 2);
    sup_spool_clock(&s, t += 1000);
    assert_int_equal(sup_spool_pressure(&s), 0); /* 3 frames: still on */
    sup_spool_ack(&s, 4);
    sup_spool_clock(&s, t += 1000);
    assert_int_equal(sup_spool_pressure(&s), -1); /* 1 frame: off */
    sup_spool_ack(&s, 5);
    sup_spool_clock(&s, t += 1000);
    assert_false(s.full);
    /* full again, then the flusher stops acknowledging */
    for (int i = 5; i < 9; i++) {
        platform_frame(&fb, i, 1000);
        assert_int_equal(sup_spool_add(&s, fb.p, fb.len), 0);
        frame_buf_free(&fb);
    }
    sup_spool_pump(&s, a.tx);
    sup_spool_clock(&s, t += 1000);
    assert_int_equal(sup_spool_pressure(&s), 1);
    sup_spool_clock(&s, t += SUP_SPOOL_STALL_US / 2);
    assert_int_equal(sup_spool_pressure(&s), 0);
    sup_spool_clock(&s, t += SUP_SPOOL_STALL_US);
    assert_int_equal(sup_spool_pressure(&s), -1); /* stalled: lifted */
    assert_int_equal(s.dropped, 0);
    /* acks again, pressure again; then a flush that sent nothing and failed */
    sup_spool_ack(&s, 6);
    for (int i = 9; s.bytes < s.high; i++) { /* at the high mark again */
        platform_frame(&fb, i, 1000);
        assert_int_equal(sup_spool_add(&s, fb.p, fb.len), 0);
        frame_buf_free(&fb);
    }
    sup_spool_clock(&s, t += 1000);
    assert_int_equal(sup_spool_pressure(&s), 1);
    sup_spool_flushed(&s, 10, 0, 3);
    assert_int_equal(sup_spool_pressure(&s), -1); /* the intake fails: lifted */
    assert_int_equal(sup_spool_pressure(&s), 0);
    sup_spool_flushed(&s, 10, 2, 0);
    assert_int_equal(sup_spool_pressure(&s), 1); /* it delivers again */
    sup_spool_clear(&s);
    peer_free(a.tx);
    peer_free(a.rx);
    event_base_free(b);
}

/* The high mark follows what the flusher acknowledges per second. */
static void test_adaptive_marks(void **st)
{
    (void)st;
    struct event_base *b = event_base_new();
    struct sup_spool s;
    struct link a;
    link_open(&a, b);
    sup_spool_init(&s, 64u << 20);
    sup_spool_set_limits(&s, 0, SUP_SPOOL_HIGH_MIN, SUP_SPOOL_HIGH_MIN / 2);
    sup_spool_set_adaptive(&s, true);
    struct frame_buf fb = {0};
    size_t total = 0;
    for (int i = 1; i <= 20; i++) {
        platform_frame(&fb, i, 45000); /* 20 of them fit the link's queue */
        total += fb.len;
        assert_int_equal(sup_spool_add(&s, fb.p, fb.len), 0);
        frame_buf_free(&fb);
    }
    sup_spool_pump(&s, a.tx);
    assert_int_equal(s.unacked, total);
    /* a flush that delivered everything in 100 ms */
    sup_spool_ack(&s, 20);
    sup_spool_flushed(&s, 100, 1, 0);
    double want = (double)total * 1000.0 / 100.0;
    assert_true(s.rate_bps > want * 0.99 && s.rate_bps < want * 1.01);
    size_t high = (size_t)(want * SUP_SPOOL_DRAIN_MS / 1000.0);
    if (high > SUP_SPOOL_HIGH_MAX)
        high = SUP_SPOOL_HIGH_MAX;
    if (high < SUP_SPOOL_HIGH_MIN)
        high = SUP_SPOOL_HIGH_MIN;
    assert_true(high > SUP_SPOOL_HIGH_MIN); /* the case measures a move */
    assert_true(s.high + 1 >= high && s.high <= high + 1);
    assert_int_equal(s.low, s.high / 2);
    /* a flush that delivered (almost) nothing teaches nothing */
    sup_spool_flushed(&s, 5000, 1, 0);
    assert_true(s.rate_bps > want * 0.99);
    /* a slower one moves the smoothed rate halfway */
    for (int i = 21; i <= 40; i++) {
        platform_frame(&fb, i, 45000);
        assert_int_equal(sup_spool_add(&s, fb.p, fb.len), 0);
        frame_buf_free(&fb);
    }
    spin(b);
    sup_spool_pump(&s, a.tx);
    assert_int_equal(s.unacked, total);
    sup_spool_ack(&s, 40);
    sup_spool_flushed(&s, 300, 1, 0);
    double slow = (double)total * 1000.0 / 300.0;
    assert_true(s.rate_bps > (want + slow) / 2 * 0.99 && s.rate_bps < (want + slow) / 2 * 1.01);
    sup_spool_clear(&s);
    peer_free(a.tx);
    peer_free(a.rx);
    event_base_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ack_and_replay),
        cmocka_unit_test(test_bound_drops_oldest),
        cmocka_unit_test(test_window),
        cmocka_unit_test(test_water_marks),
        cmocka_unit_test(test_adaptive_marks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
