/* receivers.c — see receivers.h. */
#include "receivers.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "dogstatsd.h"
#include "log.h"

/* SO_MEMINFO's layout is Linux's UAPI (linux/sock_diag.h), which the static
 * musl layer build has no headers for: the two indexes we use, as the
 * kernel fixes them. */
#ifndef SO_MEMINFO
#define SO_MEMINFO 55
#endif
enum { FL_SK_MEMINFO_DROPS = 8, FL_SK_MEMINFO_VARS = 9 };

/* A datagram's buffer: DogStatsD refuses datagrams over DSD_DATAGRAM_MAX
 * whole, so one byte more tells them apart. 64 buffers of 64 KiB, each at
 * the same cache-set offset, cost ~10 % of the flusher's time in the copy
 * at 300,000 datagrams/s (perf: _copy_to_iter, __check_object_size). */
#define FL_DGRAM_MAX (DSD_DATAGRAM_MAX + 1)
/* datagrams per recvmmsg call; FL_DGRAMS_PER_EVENT is a multiple of it */
#define FL_MMSG 64
/* Under a flood the flusher stops waking per datagram: past FL_PACE_MIN
 * datagrams per FL_PACE_US (64,000/s, measured over at least a millisecond
 * of wake-ups, or found at once) the socket leaves the event loop and a timer
 * reads it every FL_PACE_US (the kernel queues meanwhile); a timer round
 * that finds fewer puts it back. At 300,000 datagrams/s a wake-up per few datagrams cost
 * the flusher ~20 % of its time in context switches (perf), and the sender
 * the wake-ups. Only with a receive buffer of FL_PACE_MIN_RCVBUF or more:
 * FL_PACE_US at 1,000,000 datagrams/s (~1 KiB each in the kernel's
 * accounting) fills an eighth of it. */
#define FL_PACE_MIN 32
#define FL_PACE_US 500
#define FL_PACE_MIN_RCVBUF (4u << 20)

struct fl_receivers {
    struct event *ev_statsd, *ev_apm, *ev_lambda;
    struct event *ev_pace; /* the timer reading the socket while paced */
    bool paced;
    uint64_t win_t0; /* while not paced: the rate window's start (µs) */
    uint64_t win_n;  /* and the datagrams read in it */
    int statsd_fd;
    struct fl_receivers_stats st;
    fl_dgram_fn on_dgram;
    void *arg;
    struct mmsghdr msgs[FL_MMSG];
    struct iovec iov[FL_MMSG];
    char *bufs; /* FL_MMSG * FL_DGRAM_MAX */
};

/* The socket's drop counter (sk_drops, uint32, wraps) seen at absolute
 * value d: ours is what it gained since this flusher started. */
static void drops_at(struct fl_receivers *r, uint32_t d)
{
    uint32_t delta = d - r->st.drops_seen; /* modulo 2^32 */
    if (delta && delta < (1u << 31)) {
        r->st.drops_seen = d;
        r->st.kernel_drops += delta;
    }
}

/* Reads up to FL_DGRAMS_PER_EVENT datagrams; returns how many. */
static int drain(struct fl_receivers *r, int fd)
{
    int done = 0;
    while (done < FL_DGRAMS_PER_EVENT) {
        for (int i = 0; i < FL_MMSG; i++)
            r->msgs[i].msg_hdr.msg_flags = 0;
        int n = recvmmsg(fd, r->msgs, FL_MMSG, MSG_DONTWAIT, NULL);
        if (n <= 0)
            break;
        r->st.recv_calls++;
        for (int i = 0; i < n; i++) {
            struct msghdr *h = &r->msgs[i].msg_hdr;
            r->st.datagrams++;
            if (h->msg_flags & MSG_TRUNC)
                r->st.truncated++; /* and refused whole by the parser (too large) */
            if (r->on_dgram)
                r->on_dgram(r->iov[i].iov_base, r->msgs[i].msg_len, r->arg);
        }
        done += n;
        if (n < FL_MMSG)
            break;
    }
    return done;
}

/* From the socket's read event or, while paced, from the timer. */
static void on_datagram(evutil_socket_t fd, short what, void *arg)
{
    struct fl_receivers *r = arg;
    (void)fd;
    (void)what;
    int n = drain(r, r->statsd_fd);
    bool pace = r->ev_pace && n >= FL_PACE_MIN;
    if (r->ev_pace && !r->paced && !pace) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        uint64_t now = (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
        r->win_n += (uint64_t)n;
        if (now - r->win_t0 >= 2 * FL_PACE_US) {
            pace = r->win_n * FL_PACE_US >= (uint64_t)FL_PACE_MIN * (now - r->win_t0);
            r->win_t0 = now;
            r->win_n = 0;
        }
    }
    if (pace != r->paced) {
        if (pace ? event_del(r->ev_statsd) != 0 : event_add(r->ev_statsd, NULL) != 0) {
            log_error("DogStatsD: cannot switch the receiver's %s", pace ? "pacing on" : "pacing off");
            pace = false; /* the read event stays (or is tried again next time) */
        }
        r->paced = pace;
    }
    if (r->paced) {
        /* a round cut at the cap leaves datagrams queued: come back as soon
         * as the other events had their turn */
        struct timeval tv = {0, n >= FL_DGRAMS_PER_EVENT ? 0 : FL_PACE_US};
        if (evtimer_add(r->ev_pace, &tv) != 0 && event_add(r->ev_statsd, NULL) == 0)
            r->paced = false;
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

/* The socket's drop counter (the starting point too, since the socket
 * outlives flushers): SO_MEMINFO, one getsockopt; else /proc/net/udp (last
 * column), found by inode. Polled rather than taken from a per-datagram
 * SO_RXQ_OVFL control message, which cost the flusher ~15 % of its time at
 * 300,000 datagrams/s (perf: __sock_recv_cmsgs and its copies). */
static bool socket_drops(int fd, uint32_t *out)
{
    uint32_t mi[FL_SK_MEMINFO_VARS];
    socklen_t ml = sizeof mi;
    if (getsockopt(fd, SOL_SOCKET, SO_MEMINFO, mi, &ml) == 0 && ml > FL_SK_MEMINFO_DROPS * sizeof mi[0]) {
        *out = mi[FL_SK_MEMINFO_DROPS];
        return true;
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0)
        return false;
    FILE *f = fopen("/proc/net/udp", "re");
    if (f == NULL)
        return false;
    char line[512];
    bool found = false;
    while (!found && fgets(line, sizeof line, f)) {
        unsigned long inode = 0, drops = 0;
        /* sl local rem st tx:rx tr:when retrnsmt uid timeout inode ref ptr drops */
        if (sscanf(line, "%*s %*s %*s %*s %*s %*s %*s %*s %*s %lu %*s %*s %lu", &inode, &drops) == 2 &&
            inode == (unsigned long)sb.st_ino) {
            *out = (uint32_t)drops;
            found = true;
        }
    }
    fclose(f);
    return found;
}

/* The receive buffer: SO_RCVBUFFORCE passes net.core.rmem_max but needs
 * CAP_NET_ADMIN, so it is tried quietly first. The kernel doubles what it
 * is given (bookkeeping) and reports the doubled figure. */
static void size_rcvbuf(int fd, uint32_t want, struct fl_receivers_stats *st)
{
    if (want) {
        int v = (int)want;
        if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &v, sizeof v) != 0 &&
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, sizeof v) != 0)
            log_warn("DogStatsD: SO_RCVBUF %u: %s", want, strerror(errno));
    }
    int got = 0;
    socklen_t gl = sizeof got;
    if (getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &got, &gl) == 0)
        st->rcvbuf = (uint32_t)got;
    if (want && (uint64_t)got < (uint64_t)want)
        log_info("DogStatsD: receive buffer %d bytes (asked %u; net.core.rmem_max caps it "
                 "without CAP_NET_ADMIN)", got / 2, want);
}

struct fl_receivers *fl_receivers_start(struct event_base *base, const struct fl_args *a,
                                        fl_dgram_fn on_dgram, void *arg)
{
    struct fl_receivers *r = calloc(1, sizeof *r);
    if (r == NULL)
        return NULL;
    r->on_dgram = on_dgram;
    r->arg = arg;
    r->statsd_fd = a->dogstatsd_fd;
    if (a->dogstatsd_fd >= 0) {
        r->bufs = malloc((size_t)FL_MMSG * FL_DGRAM_MAX);
        if (r->bufs == NULL) {
            free(r);
            return NULL;
        }
        for (int i = 0; i < FL_MMSG; i++) {
            r->iov[i] = (struct iovec){r->bufs + (size_t)i * FL_DGRAM_MAX, FL_DGRAM_MAX};
            r->msgs[i].msg_hdr.msg_iov = &r->iov[i];
            r->msgs[i].msg_hdr.msg_iovlen = 1;
        }
        size_rcvbuf(a->dogstatsd_fd, a->cfg->dogstatsd_rcvbuf, &r->st);
        uint32_t d;
        if (socket_drops(a->dogstatsd_fd, &d))
            r->st.drops_seen = d; /* a previous flusher's share is not ours to report */
        r->ev_statsd = serve(base, a->dogstatsd_fd, on_datagram, r);
        if (r->ev_statsd && r->st.rcvbuf >= FL_PACE_MIN_RCVBUF)
            r->ev_pace = evtimer_new(base, on_datagram, r);
    }
    r->ev_apm = serve(base, a->apm_fd, on_accept, r);
    r->ev_lambda = serve(base, a->lambda_fd, on_accept, r);
    return r;
}

void fl_receivers_poll_drops(struct fl_receivers *r)
{
    uint32_t d;
    if (r->statsd_fd >= 0 && socket_drops(r->statsd_fd, &d))
        drops_at(r, d);
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
    if (r->ev_pace)
        event_free(r->ev_pace);
    if (r->ev_apm)
        event_free(r->ev_apm);
    if (r->ev_lambda)
        event_free(r->ev_lambda);
    free(r->bufs);
    free(r);
}
