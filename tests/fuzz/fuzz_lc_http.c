/* fuzz_lc_http.c — libFuzzer target for the lifecycle's HTTP response
 * parser (lifecycle/lc_http.c): arbitrary bytes from the "Runtime API"
 * must end in exactly one callback (a response or an error), never a
 * crash, a hang or unbounded memory. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "lc_http.h"

static struct event_base *base;
static struct lc_http *http;
static int lfd = -1;

static void on_resp(const struct lc_http_resp *r, const char *err, void *arg)
{
    int *calls = arg;
    (void)err;
    if (r && r->body[r->body_len] != '\0')
        abort(); /* bodies are NUL-terminated for their readers */
    (*calls)++;
}

static void on_timeout(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    event_base_loopbreak(arg);
}

static void setup(void)
{
    base = event_base_new();
    lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (bind(lfd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(lfd, 16) < 0)
        abort();
    socklen_t sl = sizeof sa;
    getsockname(lfd, (struct sockaddr *)&sa, &sl);
    char hp[32], err[128];
    snprintf(hp, sizeof hp, "127.0.0.1:%u", ntohs(sa.sin_port));
    http = lc_http_new(base, hp, err, sizeof err);
    if (http == NULL)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (base == NULL)
        setup();
    int calls = 0;
    if (lc_http_request(http, "GET", "/2020-01-01/extension/event/next", NULL, NULL, 0, on_resp,
                        &calls) < 0)
        abort();
    event_base_loop(base, EVLOOP_NONBLOCK);
    int c = accept(lfd, NULL, NULL);
    if (c < 0)
        abort();
    size_t off = 0;
    while (off < size) {
        ssize_t w = send(c, data + off, size - off, MSG_NOSIGNAL);
        if (w <= 0)
            break;
        off += (size_t)w;
        event_base_loop(base, EVLOOP_NONBLOCK);
    }
    close(c);
    struct event *t = evtimer_new(base, on_timeout, base);
    struct timeval tv = {5, 0};
    evtimer_add(t, &tv);
    while (calls == 0 && evtimer_pending(t, NULL))
        event_base_loop(base, EVLOOP_ONCE);
    event_free(t);
    if (calls != 1)
        abort(); /* a hang or a double report */
    return 0;
}
