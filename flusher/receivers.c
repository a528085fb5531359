/* receivers.c — see receivers.h. */
#include "receivers.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "refusal.h"

#define FL_DGRAM_MAX 65536
/* datagrams per recvmmsg call; FL_DGRAMS_PER_EVENT is a multiple of it */
#define FL_MMSG 64

struct fl_receivers {
    struct event *ev_statsd, *ev_apm, *ev_lambda;
    int statsd_fd;
    struct fl_receivers_stats st;
    fl_dgram_fn on_dgram;
    void *arg;
    struct mmsghdr msgs[FL_MMSG];
    struct iovec iov[FL_MMSG];
    char *bufs; /* FL_MMSG * FL_DGRAM_MAX */
    /* one SO_RXQ_OVFL control message per datagram */
    union {
        char buf[CMSG_SPACE(sizeof(uint32_t))];
        struct cmsghdr align;
    } ctl[FL_MMSG];
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

/* SO_RXQ_OVFL: the counter as it was when this datagram was queued; a
 * datagram queued before a drop carries none, so the counter also comes
 * from /proc/net/udp (fl_receivers_poll_drops). */
static void note_drops(struct fl_receivers *r, struct msghdr *m)
{
    for (struct cmsghdr *c = CMSG_FIRSTHDR(m); c; c = CMSG_NXTHDR(m, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SO_RXQ_OVFL ||
            c->cmsg_len < CMSG_LEN(sizeof(uint32_t)))
            continue;
        uint32_t d;
        memcpy(&d, CMSG_DATA(c), sizeof d);
        drops_at(r, d);
    }
}

static void on_datagram(evutil_socket_t fd, short what, void *arg)
{
    struct fl_receivers *r = arg;
    (void)what;
    for (int done = 0; done < FL_DGRAMS_PER_EVENT;) {
        for (int i = 0; i < FL_MMSG; i++) {
            struct msghdr *h = &r->msgs[i].msg_hdr;
            h->msg_control = r->ctl[i].buf;
            h->msg_controllen = sizeof r->ctl[i].buf;
            h->msg_flags = 0;
        }
        int n = recvmmsg(fd, r->msgs, FL_MMSG, MSG_DONTWAIT, NULL);
        if (n <= 0)
            break;
        r->st.recv_calls++;
        for (int i = 0; i < n; i++) {
            struct msghdr *h = &r->msgs[i].msg_hdr;
            note_drops(r, h);
            r->st.datagrams++;
            if (h->msg_flags & MSG_TRUNC) {
                r->st.truncated++; /* over 64 KiB: far over DogStatsD's 8 KiB */
                refusal_note(REF_DSD_TOO_LARGE, 1, r->iov[i].iov_base, r->msgs[i].msg_len);
            } else if (r->on_dgram)
                r->on_dgram(r->iov[i].iov_base, r->msgs[i].msg_len, r->arg);
        }
        done += n;
        if (n < FL_MMSG)
            break;
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

/* The socket's drop counter from /proc/net/udp (last column), found by
 * inode: the starting point, since the socket outlives flushers. */
static bool proc_udp_drops(int fd, uint32_t *out)
{
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
    int one = 1;
    if (setsockopt(fd, SOL_SOCKET, SO_RXQ_OVFL, &one, sizeof one) != 0)
        log_warn("DogStatsD: SO_RXQ_OVFL: %s: kernel drops are not counted", strerror(errno));
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
        if (proc_udp_drops(a->dogstatsd_fd, &d))
            r->st.drops_seen = d; /* a previous flusher's share is not ours to report */
        r->ev_statsd = serve(base, a->dogstatsd_fd, on_datagram, r);
    }
    r->ev_apm = serve(base, a->apm_fd, on_accept, r);
    r->ev_lambda = serve(base, a->lambda_fd, on_accept, r);
    return r;
}

void fl_receivers_poll_drops(struct fl_receivers *r)
{
    uint32_t d;
    if (r->statsd_fd >= 0 && proc_udp_drops(r->statsd_fd, &d))
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
    if (r->ev_apm)
        event_free(r->ev_apm);
    if (r->ev_lambda)
        event_free(r->ev_lambda);
    free(r->bufs);
    free(r);
}
