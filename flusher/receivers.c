/* receivers.c — see receivers.h. */
#include "receivers.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "log.h"

#define FL_DGRAM_MAX 65536

/* A TCP connection to a port not served yet: answered 503, then read to
 * its end before closing (closing with unread bytes would reset it). */
struct stub {
    struct fl_receivers *r;
    struct bufferevent *bev;
    size_t drained;
    struct stub *prev, *next;
};

struct fl_receivers {
    struct event_base *base;
    struct event *ev_statsd, *ev_apm, *ev_lambda;
    struct fl_receivers_stats st;
    fl_dgram_fn on_dgram;
    void *arg;
    struct stub *stubs;
    unsigned nstubs;
};

static const char STUB_ANSWER[] =
    "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: 38\r\n"
    "Connection: close\r\n\r\n{\"error\":\"not served by this version\"}";

static void on_datagram(evutil_socket_t fd, short what, void *arg)
{
    struct fl_receivers *r = arg;
    static char buf[FL_DGRAM_MAX];
    (void)what;
    for (int i = 0; i < FL_DGRAMS_PER_EVENT; i++) {
        ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
        if (n < 0)
            break;
        r->st.datagrams++;
        if (r->on_dgram)
            r->on_dgram(buf, (size_t)n, r->arg);
    }
}

static void stub_free(struct stub *s)
{
    struct fl_receivers *r = s->r;
    if (s->prev)
        s->prev->next = s->next;
    else
        r->stubs = s->next;
    if (s->next)
        s->next->prev = s->prev;
    r->nstubs--;
    bufferevent_free(s->bev);
    free(s);
}

static void stub_read(struct bufferevent *bev, void *arg)
{
    struct stub *s = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    s->drained += evbuffer_get_length(in);
    evbuffer_drain(in, evbuffer_get_length(in));
    if (s->drained > FL_STUB_DRAIN_MAX)
        stub_free(s); /* whatever it sends, it has its answer */
}

static void stub_write(struct bufferevent *bev, void *arg)
{
    (void)arg;
    /* answered: half-close, then read until the client closes */
    if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
        shutdown(bufferevent_getfd(bev), SHUT_WR);
}

static void stub_event(struct bufferevent *bev, short what, void *arg)
{
    (void)bev;
    (void)what;
    stub_free(arg); /* EOF, error or time-out */
}

static void on_accept(evutil_socket_t fd, short what, void *arg)
{
    struct fl_receivers *r = arg;
    (void)what;
    for (int i = 0; i < FL_DGRAMS_PER_EVENT; i++) {
        int c = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (c < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                log_debug("accept: %s", strerror(errno));
            break;
        }
        r->st.accepted++;
        struct stub *s = r->nstubs < FL_STUB_CONNS_MAX ? calloc(1, sizeof *s) : NULL;
        struct bufferevent *bev = s ? bufferevent_socket_new(r->base, c, BEV_OPT_CLOSE_ON_FREE) : NULL;
        if (bev == NULL) {
            /* over the bound: the answer, best effort, then close */
            r->st.answered_busy++;
            ssize_t w = send(c, STUB_ANSWER, sizeof STUB_ANSWER - 1, MSG_DONTWAIT | MSG_NOSIGNAL);
            (void)w;
            free(s);
            close(c);
            continue;
        }
        s->r = r;
        s->bev = bev;
        s->next = r->stubs;
        if (r->stubs)
            r->stubs->prev = s;
        r->stubs = s;
        r->nstubs++;
        r->st.answered++;
        evbuffer_add(bufferevent_get_output(bev), STUB_ANSWER, sizeof STUB_ANSWER - 1);
        struct timeval tv = {FL_STUB_TIMEOUT_S, 0};
        bufferevent_set_timeouts(bev, &tv, &tv);
        bufferevent_setcb(bev, stub_read, stub_write, stub_event, s);
        bufferevent_enable(bev, EV_READ | EV_WRITE);
    }
}

static struct event *serve(struct event_base *base, int fd, event_callback_fn cb, void *arg)
{
    if (fd < 0)
        return NULL;
    evutil_make_socket_nonblocking(fd);
    struct event *ev = event_new(base, fd, EV_READ | EV_PERSIST, cb, arg);
    if (ev && event_add(ev, NULL) < 0) {
        event_free(ev);
        ev = NULL;
    }
    if (ev == NULL)
        log_error("cannot serve descriptor %d", fd);
    return ev;
}

struct fl_receivers *fl_receivers_start(struct event_base *base, const struct fl_args *a,
                                        fl_dgram_fn on_dgram, void *arg)
{
    struct fl_receivers *r = calloc(1, sizeof *r);
    if (r == NULL)
        return NULL;
    r->base = base;
    r->on_dgram = on_dgram;
    r->arg = arg;
    r->ev_statsd = serve(base, a->dogstatsd_fd, on_datagram, r);
    r->ev_apm = serve(base, a->apm_fd, on_accept, r);
    r->ev_lambda = serve(base, a->lambda_fd, on_accept, r);
    return r;
}

void fl_receivers_stats(const struct fl_receivers *r, struct fl_receivers_stats *out)
{
    *out = r->st;
}

void fl_receivers_free(struct fl_receivers *r)
{
    if (r == NULL)
        return;
    if (r->ev_statsd)
        event_free(r->ev_statsd);
    if (r->ev_apm)
        event_free(r->ev_apm);
    if (r->ev_lambda)
        event_free(r->ev_lambda);
    while (r->stubs)
        stub_free(r->stubs);
    free(r);
}
