/* receivers.c — see receivers.h. */
#include "receivers.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"

#define FL_DGRAM_MAX 65536

struct fl_receivers {
    struct event *ev_statsd, *ev_apm, *ev_lambda;
    struct fl_receivers_stats st;
    fl_dgram_fn on_dgram;
    void *arg;
};

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
        close(c);
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
    free(r);
}
