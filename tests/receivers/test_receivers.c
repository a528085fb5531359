/* test_receivers.c — the trace (8126) and /lambda (8124) ports, not served
 * yet, answer every connection with an HTTP 503 and close it cleanly: the
 * client reads the whole answer and then an orderly end of stream, never a
 * reset, even when it sent a large body the server never looked at. Real
 * sockets on 127.0.0.1 and the flusher's receivers on one event loop. */
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
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>
#include <event2/event.h>
#include "receivers.h"

static int listener(uint16_t *port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(listen(fd, 128), 0);
    socklen_t sl = sizeof sa;
    getsockname(fd, (struct sockaddr *)&sa, &sl);
    *port = ntohs(sa.sin_port);
    return fd;
}

/* POST body_len bytes to port; returns the answer's bytes, and whether the
 * stream ended in an orderly way (read 0) or with an error (reset). */
static void post_and_read(struct event_base *base, uint16_t port, size_t body_len, char *ans, size_t cap,
                          bool *clean_eof)
{
    int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(connect(c, (struct sockaddr *)&sa, sizeof sa), 0);
    fcntl(c, F_SETFL, O_NONBLOCK);
    char head[256];
    int hn = snprintf(head, sizeof head,
                      "PUT /v0.4/traces HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/msgpack\r\n"
                      "Content-Length: %zu\r\n\r\n", body_len);
    char *req = malloc((size_t)hn + body_len);
    memcpy(req, head, (size_t)hn);
    memset(req + hn, 0x90, body_len);
    size_t total = (size_t)hn + body_len, sent = 0, got = 0;
    bool done = false;
    *clean_eof = false;
    for (int i = 0; i < 1000000 && !done; i++) {
        if (sent < total) {
            ssize_t w = send(c, req + sent, total - sent, MSG_NOSIGNAL);
            if (w > 0)
                sent += (size_t)w;
            else if (errno != EAGAIN && errno != EWOULDBLOCK)
                sent = total; /* the server stopped reading: fine once it answered */
        }
        event_base_loop(base, EVLOOP_NONBLOCK);
        char tmp[4096];
        ssize_t r = recv(c, tmp, sizeof tmp, 0);
        if (r > 0) {
            size_t k = (size_t)r < cap - 1 - got ? (size_t)r : cap - 1 - got;
            memcpy(ans + got, tmp, k);
            got += k;
        } else if (r == 0) {
            *clean_eof = true;
            done = sent == total;
            if (!done) /* it closed before taking the body: keep sending to see a reset */
                continue;
        } else if (errno != EAGAIN && errno != EWOULDBLOCK) {
            *clean_eof = false; /* ECONNRESET */
            done = true;
        }
        if (*clean_eof && sent == total)
            done = true;
    }
    ans[got] = '\0';
    free(req);
    close(c);
}

static void answered_never_reset(void **state)
{
    (void)state;
    struct event_base *base = event_base_new();
    uint16_t apm_port, lambda_port;
    struct fl_args a = {.sup_fd = -1, .dogstatsd_fd = -1, .apm_fd = listener(&apm_port),
                        .lambda_fd = listener(&lambda_port)};
    struct fl_receivers *r = fl_receivers_start(base, &a, NULL, NULL);
    assert_non_null(r);
    const size_t sizes[] = {0, 100, 300000};
    for (int port = 0; port < 2; port++) {
        for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
            char ans[1024];
            bool clean = false;
            post_and_read(base, port ? lambda_port : apm_port, sizes[k], ans, sizeof ans, &clean);
            assert_memory_equal(ans, "HTTP/1.1 503 ", 13);
            assert_non_null(strstr(ans, "\r\n\r\n{\"error\":\"not served by this version\"}"));
            assert_true(clean);
        }
    }
    struct fl_receivers_stats st;
    fl_receivers_stats(r, &st);
    assert_int_equal(st.accepted, 6);
    assert_int_equal(st.answered, 6);
    fl_receivers_free(r);
    close(a.apm_fd);
    close(a.lambda_fd);
    event_base_free(base);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(answered_never_reset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
