/* test_lc_starve.c — the telemetry listener cannot be starved by slow
 * connections: with 8, 32 and 1,000 connections that each began a request
 * and never finish it, a legitimate batch is still read, handed to the
 * supervisor's link as frames and answered 200; a request trickling a byte
 * at a time is closed at its whole-request deadline, however it trickles.
 * Real sockets on 127.0.0.1, the real listener and peer, one event loop. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>
#include <event2/event.h>
#include "frame.h"
#include "lc_listener.h"
#include "peer.h"
#include "refusal.h"

static const char BATCH[] =
    "[{\"time\":\"2024-01-01T00:00:00.000Z\",\"type\":\"platform.start\","
    "\"record\":{\"requestId\":\"legit-1\",\"version\":\"$LATEST\"}},"
    "{\"time\":\"2024-01-01T00:00:00.001Z\",\"type\":\"function\",\"record\":\"hello\"}]";

struct rig {
    struct event_base *base;
    int lfd;
    uint16_t port;
    int sv[2];
    struct peer *lc_side, *sup_side;
    struct lc_listener *l;
    unsigned platform_frames, logs_frames;
};

static void on_sup_frame(struct peer *p, const struct frame *f, void *arg)
{
    (void)p;
    struct rig *r = arg;
    if (f == NULL)
        return;
    if (f->type == FT_PLATFORM)
        r->platform_frames++;
    else if (f->type == FT_LOGS)
        r->logs_frames++;
}

static void on_lc_frame(struct peer *p, const struct frame *f, void *arg)
{
    (void)p;
    (void)f;
    (void)arg;
}

static void rig_up(struct rig *r)
{
    memset(r, 0, sizeof *r);
    r->base = event_base_new();
    assert_non_null(r->base);
    r->lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(r->lfd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(listen(r->lfd, 4096), 0);
    socklen_t sl = sizeof sa;
    getsockname(r->lfd, (struct sockaddr *)&sa, &sl);
    r->port = ntohs(sa.sin_port);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, r->sv), 0);
    r->lc_side = peer_new(r->base, r->sv[0], "supervisor", FRAME_DIR_S2L, 8u << 20, on_lc_frame, r);
    r->sup_side = peer_new(r->base, r->sv[1], "lifecycle", FRAME_DIR_L2S, 8u << 20, on_sup_frame, r);
    assert_non_null(r->lc_side);
    assert_non_null(r->sup_side);
    r->l = lc_listener_new(r->base, r->lfd, r->lc_side, true);
    assert_non_null(r->l);
}

static void rig_down(struct rig *r)
{
    lc_listener_free(r->l);
    peer_free(r->lc_side);
    peer_free(r->sup_side);
    close(r->lfd);
    event_base_free(r->base);
}

static int client(const struct rig *r)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(r->port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    return fd;
}

static void send_all(int fd, const char *s, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, s, n);
        assert_true(w > 0);
        s += w;
        n -= (size_t)w;
    }
}

/* Fewer fds than the test needs: raise the soft limit up to the hard one. */
static bool fds_for(unsigned n)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return false;
    if (rl.rlim_cur >= n)
        return true;
    if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < n)
        return false;
    rl.rlim_cur = n;
    return setrlimit(RLIMIT_NOFILE, &rl) == 0;
}

/* K connections begin a request (headers promising a body) and stall;
 * then a legitimate batch arrives on a new connection. */
static void legit_batch_through(unsigned k)
{
    if (!fds_for(2 * k + 512)) {
        print_message("not enough file descriptors for %u connections: skipped\n", k);
        skip();
    }
    struct rig r;
    rig_up(&r);
    uint64_t cut_before = refusal_count(REF_TELE_REQUEST_CUT);
    struct lc_listener_stats st;
    lc_listener_get_stats(r.l, &st);
    /* Lambda's sandbox allows 1,024 fds: the default slots fit within it */
    assert_true(st.conns_max >= 32);
    assert_true(st.conns_max + LC_LS_FD_RESERVE <= 1024 || st.conns_max == LC_LS_CONNS_MAX);
    static const char slow_head[] = "POST / HTTP/1.1\r\nHost: sandbox\r\nContent-Type: application/json\r\n"
                                    "Content-Length: 100000\r\n\r\n[{\"time\":";
    int *slow = calloc(k, sizeof *slow);
    for (unsigned i = 0; i < k; i++) {
        slow[i] = client(&r);
        send_all(slow[i], slow_head, sizeof slow_head - 1);
        if (i % 64 == 63) /* let the listener take them as they come */
            for (int n = 0; n < 64; n++)
                event_base_loop(r.base, EVLOOP_NONBLOCK);
    }
    for (int n = 0; n < 100000; n++) {
        lc_listener_get_stats(r.l, &st);
        if (st.accepted == k)
            break;
        event_base_loop(r.base, EVLOOP_NONBLOCK);
    }
    lc_listener_get_stats(r.l, &st);
    assert_int_equal(st.accepted, k);
    assert_int_equal(st.conns, k < st.conns_max ? k : st.conns_max);

    int legit = client(&r);
    char req[1024];
    int n = snprintf(req, sizeof req,
                     "POST / HTTP/1.1\r\nHost: sandbox\r\nContent-Type: application/json\r\n"
                     "Content-Length: %zu\r\n\r\n%s",
                     strlen(BATCH), BATCH);
    send_all(legit, req, (size_t)n);
    fcntl(legit, F_SETFL, O_NONBLOCK);
    char ans[256] = "";
    size_t got = 0;
    for (int i = 0; i < 200000 && (got < 12 || r.platform_frames == 0); i++) {
        event_base_loop(r.base, EVLOOP_NONBLOCK);
        ssize_t rd = read(legit, ans + got, sizeof ans - 1 - got);
        if (rd > 0)
            got += (size_t)rd;
        ans[got] = '\0';
    }
    assert_true(got >= 12);
    assert_memory_equal(ans, "HTTP/1.1 200", 12);
    assert_int_equal(r.platform_frames, 1);
    assert_int_equal(r.logs_frames, 1);
    lc_listener_get_stats(r.l, &st);
    /* room was made by closing stalled ones (taken before their bytes
     * came, some counted idle), never by refusing */
    if (k >= st.conns_max)
        assert_true(st.evicted_slow + st.evicted_idle >= k + 1 - st.conns_max);
    else
        assert_int_equal(st.evicted_slow + st.evicted_idle, 0);
    assert_int_equal(st.refused, 0);
    /* every started request closed is a refusal of the reason "cut" */
    assert_int_equal(refusal_count(REF_TELE_REQUEST_CUT) - cut_before, st.evicted_slow);
    print_message("%u slow connections: legitimate batch answered 200; %u slots, %lu stalled "
                  "connections closed\n", k, st.conns_max, st.evicted_slow + st.evicted_idle);
    close(legit);
    for (unsigned i = 0; i < k; i++)
        close(slow[i]);
    free(slow);
    rig_down(&r);
}

static void test_8_slow(void **state)
{
    (void)state;
    legit_batch_through(8);
}

static void test_32_slow(void **state)
{
    (void)state;
    legit_batch_through(32);
}

static void test_1000_slow(void **state)
{
    (void)state;
    legit_batch_through(1000);
}

struct trickle {
    struct rig *r;
    int fd;
    unsigned sent;
    bool closed;
    struct event *ev;
};

static void on_trickle(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct trickle *t = arg;
    char c;
    ssize_t rd = read(t->fd, &c, 1);
    if (rd == 0 || (rd < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
        t->closed = true;
        return;
    }
    /* one byte of a body that never ends, every 10 ms */
    if (write(t->fd, "x", 1) == 1)
        t->sent++;
    else if (errno != EAGAIN)
        t->closed = true;
}

/* A request that trickles never gets a fresh deadline from each byte: it
 * is closed once the whole request has taken longer than its deadline. */
static void test_whole_request_deadline(void **state)
{
    (void)state;
    struct rig r;
    rig_up(&r);
    uint64_t cut_before = refusal_count(REF_TELE_REQUEST_CUT);
    lc_listener_set_limits(r.l, 0, 200);
    struct trickle t = {.r = &r, .fd = client(&r)};
    fcntl(t.fd, F_SETFL, O_NONBLOCK);
    static const char head[] = "POST / HTTP/1.1\r\nHost: sandbox\r\nContent-Length: 100000\r\n\r\n";
    send_all(t.fd, head, sizeof head - 1);
    t.ev = event_new(r.base, -1, EV_PERSIST, on_trickle, &t);
    struct timeval tv = {0, 10000};
    event_add(t.ev, &tv);
    /* without a whole-request deadline it would trickle on: give up after
     * 2,000 bytes (20 s), far beyond any idle timeout's reach */
    while (!t.closed && t.sent < 2000)
        event_base_loop(r.base, EVLOOP_ONCE);
    assert_true(t.closed);
    struct lc_listener_stats st;
    lc_listener_get_stats(r.l, &st);
    assert_int_equal(st.timed_out, 1);
    assert_int_equal(st.conns, 0);
    assert_int_equal(refusal_count(REF_TELE_REQUEST_CUT) - cut_before, 1);
    print_message("trickling request closed at its deadline after %u bytes\n", t.sent);
    event_free(t.ev);
    close(t.fd);
    rig_down(&r);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_8_slow),
        cmocka_unit_test(test_32_slow),
        cmocka_unit_test(test_1000_slow),
        cmocka_unit_test(test_whole_request_deadline),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
