/* test_peer.c — common/peer.c over a real socketpair and event loop:
 * partial reads, bounded non-blocking writes, peer gone, protocol errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>

#include "peer.h"

struct seen {
    int frames;
    int nulls;
    uint64_t last_seq;
    uint32_t last_type;
    uint64_t upto[64];
    char err[256];
    bool had_err;
};

static void cb(struct peer *p, const struct frame *f, void *arg)
{
    struct seen *s = arg;
    if (f == NULL) {
        s->nulls++;
        s->had_err = peer_error(p) != NULL;
        if (s->had_err)
            snprintf(s->err, sizeof s->err, "%s", peer_error(p));
        return;
    }
    uint64_t u = f->type == FT_ACK ? f->u.ack.upto : 0;
    if (s->frames < 64)
        s->upto[s->frames] = u;
    s->frames++;
    s->last_seq = f->seq;
    s->last_type = f->type;
}

static void spin(struct event_base *b, int rounds)
{
    for (int i = 0; i < rounds; i++)
        event_base_loop(b, EVLOOP_NONBLOCK);
}

static size_t ack_frame(uint8_t *out, uint64_t seq, uint64_t upto)
{
    struct frame_buf fb = {0};
    assert_int_equal(frame_encode_ack(&fb, &(struct ft_ack){.upto = upto}), 0);
    frame_set_seq(fb.p, seq);
    memcpy(out, fb.p, fb.len);
    size_t n = fb.len;
    frame_buf_free(&fb);
    return n;
}

static void test_partial_reads(void **st)
{
    (void)st;
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    struct event_base *b = event_base_new();
    struct seen s = {0};
    struct peer *p = peer_new(b, sv[0], "t", FRAME_DIR_F2S, 1 << 20, cb, &s);
    assert_non_null(p);
    uint8_t buf[256];
    size_t n = ack_frame(buf, 1, 42);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(write(sv[1], buf + i, 1), 1);
        spin(b, 2);
        assert_int_equal(s.frames, i + 1 == n ? 1 : 0);
    }
    assert_int_equal(s.upto[0], 42);
    /* two frames and half of a third in one write */
    uint8_t three[768];
    size_t a = ack_frame(three, 2, 1);
    a += ack_frame(three + a, 3, 2);
    size_t c = ack_frame(three + a, 4, 3);
    assert_int_equal(write(sv[1], three, a + c / 2), (ssize_t)(a + c / 2));
    spin(b, 3);
    assert_int_equal(s.frames, 3);
    assert_int_equal(write(sv[1], three + a + c / 2, c - c / 2), (ssize_t)(c - c / 2));
    spin(b, 3);
    assert_int_equal(s.frames, 4);
    assert_int_equal(s.last_seq, 4);
    assert_int_equal(s.nulls, 0);
    /* clean EOF: one NULL, no error */
    close(sv[1]);
    spin(b, 3);
    assert_int_equal(s.nulls, 1);
    assert_false(s.had_err);
    peer_free(p);
    event_base_free(b);
}

static void test_bounded_queue_and_partial_writes(void **st)
{
    (void)st;
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    int small = 4096;
    setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
    setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    struct event_base *b = event_base_new();
    struct seen s = {0}, r = {0};
    const size_t wq = 64 * 1024;
    struct peer *p = peer_new(b, sv[0], "w", FRAME_DIR_F2S, wq, cb, &s);
    struct peer *q = NULL;
    /* a frame whose encoding failed is never queued */
    struct frame_buf bad = {0};
    char *huge = malloc(FRAME_MAX + 1);
    memset(huge, 'h', FRAME_MAX);
    huge[FRAME_MAX] = '\0';
    assert_int_equal(frame_encode_fatal(&bad, &(struct ft_fatal){.error = huge}), -1);
    free(huge);
    assert_int_equal(peer_send_buf(p, &bad), 0);
    assert_int_equal(peer_queued(p), 0);
    frame_buf_free(&bad);
    uint64_t sent = 0;
    char payload[1000];
    memset(payload, 'p', sizeof payload - 1);
    payload[sizeof payload - 1] = '\0';
    /* nobody reads: sends succeed until the queue bound, never block */
    for (int i = 0; i < 10000; i++) {
        struct frame_buf fb = {0};
        assert_int_equal(frame_encode_fatal(&fb, &(struct ft_fatal){.error = payload}), 0);
        uint64_t seq = peer_send_buf(p, &fb);
        frame_buf_free(&fb);
        if (seq == 0)
            break;
        assert_int_equal(seq, sent + 1);
        sent = seq;
        assert_true(peer_queued(p) <= wq);
    }
    assert_true(sent > 0 && sent < 10000);
    assert_true(peer_queued(p) > 0); /* EV_WRITE must be armed to finish */
    /* now read the other end as a peer: everything arrives, in order */
    q = peer_new(b, sv[1], "r", FRAME_DIR_L2S, wq, cb, &r);
    for (int i = 0; i < 2000 && (uint64_t)r.frames < sent; i++)
        event_base_loop(b, EVLOOP_ONCE | EVLOOP_NONBLOCK);
    assert_int_equal(r.frames, sent);
    assert_int_equal(r.last_seq, sent);
    assert_int_equal(peer_queued(p), 0);
    assert_int_equal(r.nulls, 0);
    peer_free(p);
    spin(b, 3);
    assert_int_equal(r.nulls, 1);
    peer_free(q);
    event_base_free(b);
}

static void expect_protocol_error(const uint8_t *bytes, size_t n, unsigned dirs, const char *needle)
{
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    struct event_base *b = event_base_new();
    struct seen s = {0};
    struct peer *p = peer_new(b, sv[0], "e", dirs, 1 << 20, cb, &s);
    assert_int_equal(write(sv[1], bytes, n), (ssize_t)n);
    /* a valid frame after the bad one must not be delivered */
    uint8_t more[128];
    size_t m = ack_frame(more, 100, 1);
    assert_int_equal(write(sv[1], more, m), (ssize_t)m);
    spin(b, 4);
    assert_int_equal(s.nulls, 1);
    assert_true(s.had_err);
    if (needle)
        assert_non_null(strstr(s.err, needle));
    int frames = s.frames;
    spin(b, 2);
    assert_int_equal(s.frames, frames);
    assert_int_equal(s.nulls, 1);
    /* a dead peer refuses to send */
    struct frame_buf fb = {0};
    assert_int_equal(frame_encode_go(&fb, &(struct ft_go){0}), 0);
    assert_int_equal(peer_send_buf(p, &fb), 0);
    frame_buf_free(&fb);
    peer_free(p);
    close(sv[1]);
    event_base_free(b);
}

static void test_protocol_errors(void **st)
{
    (void)st;
    uint8_t garbage[] = {0, 0, 0, 5, 0xde, 0xad, 0xbe, 0xef, 0x00};
    expect_protocol_error(garbage, sizeof garbage, FRAME_DIR_F2S, NULL);
    uint8_t oversize[] = {0xff, 0xff, 0xff, 0xff, 0x94};
    expect_protocol_error(oversize, sizeof oversize, FRAME_DIR_F2S, "FRAME_MAX");
    uint8_t zero[] = {0, 0, 0, 0};
    expect_protocol_error(zero, sizeof zero, FRAME_DIR_F2S, NULL);
    /* ACK travels F->S only: refused on a lifecycle link */
    uint8_t ack[128];
    size_t n = ack_frame(ack, 1, 1);
    expect_protocol_error(ack, n, FRAME_DIR_L2S, "not allowed");
    /* seq must increase */
    uint8_t two[256];
    size_t a = ack_frame(two, 5, 1);
    a += ack_frame(two + a, 5, 2);
    expect_protocol_error(two, a, FRAME_DIR_F2S, "seq");
}

static void test_truncated_then_eof(void **st)
{
    (void)st;
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    struct event_base *b = event_base_new();
    struct seen s = {0};
    struct peer *p = peer_new(b, sv[0], "t", FRAME_DIR_F2S, 1 << 20, cb, &s);
    uint8_t buf[128];
    size_t n = ack_frame(buf, 1, 1);
    assert_int_equal(write(sv[1], buf, n - 2), (ssize_t)(n - 2));
    close(sv[1]);
    spin(b, 3);
    assert_int_equal(s.frames, 0);
    assert_int_equal(s.nulls, 1);
    assert_true(s.had_err);
    peer_free(p);
    event_base_free(b);
}

static void test_drain_after_exit(void **st)
{
    (void)st;
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    struct event_base *b = event_base_new();
    struct seen s = {0};
    struct peer *p = peer_new(b, sv[0], "d", FRAME_DIR_F2S, 1 << 20, cb, &s);
    uint8_t buf[512];
    size_t n = 0;
    for (int i = 1; i <= 3; i++)
        n += ack_frame(buf + n, (uint64_t)i, (uint64_t)i);
    assert_int_equal(write(sv[1], buf, n), (ssize_t)n);
    close(sv[1]);
    /* no loop iteration: drain must deliver the frames and the EOF itself */
    peer_drain(p);
    assert_int_equal(s.frames, 3);
    assert_int_equal(s.nulls, 1);
    assert_false(s.had_err);
    peer_free(p);
    event_base_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_partial_reads),
        cmocka_unit_test(test_bounded_queue_and_partial_writes),
        cmocka_unit_test(test_protocol_errors),
        cmocka_unit_test(test_truncated_then_eof),
        cmocka_unit_test(test_drain_after_exit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
