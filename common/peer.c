/* peer.c — see peer.h. Modelled on tmux's proc.c peers: EV_WRITE is armed
 * only while the queue holds bytes; after EOF or a protocol error the peer
 * stops reading and reports NULL exactly once. */
#include "peer.h"

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>

#include "clock.h"

#define PEER_READ_CHUNK 65536

struct peer {
    struct event_base *base;
    int fd;
    char name[32];
    unsigned accept_dirs;
    size_t wq_max;
    peer_cb cb;
    void *arg;
    struct event *ev_read, *ev_write;
    struct evbuffer *in, *out;
    uint64_t seq_out, seq_in;
    bool dead;
    bool write_failed;
    peer_drained_cb drained;
    void *drained_arg;
    char err[FRAME_ERR_MAX + 64];
};

static void peer_die(struct peer *p, const char *err)
{
    if (p->dead)
        return;
    p->dead = true;
    if (err)
        snprintf(p->err, sizeof p->err, "%s", err);
    event_del(p->ev_read);
    event_del(p->ev_write);
    p->cb(p, NULL, p->arg);
}

static void peer_flush_out(struct peer *p)
{
    while (evbuffer_get_length(p->out) > 0) {
        int n = evbuffer_write(p->out, p->fd);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
                break;
            /* the far end is gone: the read side reports it as EOF */
            p->write_failed = true;
            evbuffer_drain(p->out, evbuffer_get_length(p->out));
            break;
        }
        if (n == 0)
            break;
    }
    if (evbuffer_get_length(p->out) > 0)
        event_add(p->ev_write, NULL);
    else
        event_del(p->ev_write);
}

static void on_write(evutil_socket_t fd, short what, void *arg)
{
    struct peer *p = arg;
    (void)fd;
    (void)what;
    peer_flush_out(p);
    if (p->drained && !p->dead && !p->write_failed && evbuffer_get_length(p->out) == 0)
        p->drained(p, p->drained_arg);
}

void peer_set_drained_cb(struct peer *p, peer_drained_cb cb, void *arg)
{
    p->drained = cb;
    p->drained_arg = arg;
}

/* Dispatch every complete frame in the input buffer. */
static void peer_parse(struct peer *p)
{
    while (!p->dead) {
        size_t have = evbuffer_get_length(p->in);
        if (have < FRAME_HDR_LEN)
            return;
        uint8_t hdr[FRAME_HDR_LEN];
        evbuffer_copyout(p->in, hdr, FRAME_HDR_LEN);
        uint32_t len = frame_hdr_len(hdr);
        if (len == 0) {
            peer_die(p, "frame length 0 or over FRAME_MAX");
            return;
        }
        if (have < FRAME_HDR_LEN + (size_t)len)
            return;
        const uint8_t *buf = evbuffer_pullup(p->in, FRAME_HDR_LEN + (ssize_t)len);
        if (buf == NULL) {
            peer_die(p, "out of memory");
            return;
        }
        struct frame f;
        char err[FRAME_ERR_MAX];
        if (frame_decode(buf + FRAME_HDR_LEN, len, &f, err, sizeof err) < 0) {
            peer_die(p, err);
            return;
        }
        evbuffer_drain(p->in, FRAME_HDR_LEN + (size_t)len);
        if ((frame_type_dirs(f.type) & p->accept_dirs) == 0) {
            snprintf(err, sizeof err, "frame %s not allowed on this link", frame_type_name(f.type));
            frame_free(&f);
            peer_die(p, err);
            return;
        }
        if (f.seq <= p->seq_in) {
            snprintf(err, sizeof err, "seq %llu after %llu", (unsigned long long)f.seq,
                     (unsigned long long)p->seq_in);
            frame_free(&f);
            peer_die(p, err);
            return;
        }
        p->seq_in = f.seq;
        p->cb(p, &f, p->arg);
        frame_free(&f);
    }
}

static void on_read(evutil_socket_t fd, short what, void *arg)
{
    struct peer *p = arg;
    (void)what;
    int n = evbuffer_read(p->in, fd, PEER_READ_CHUNK);
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
            return;
        char e[64];
        snprintf(e, sizeof e, "read: %s", strerror(errno));
        /* a reset is the peer going away, not a protocol breach */
        peer_die(p, errno == ECONNRESET ? NULL : e);
        return;
    }
    if (n == 0) {
        /* frames already complete are still delivered, a partial one is not */
        peer_parse(p);
        if (!p->dead && evbuffer_get_length(p->in) > 0)
            peer_die(p, "truncated frame at end of stream");
        else
            peer_die(p, NULL);
        return;
    }
    peer_parse(p);
}

void peer_drain(struct peer *p)
{
    while (p && !p->dead) {
        int n = evbuffer_read(p->in, p->fd, PEER_READ_CHUNK);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            peer_parse(p);
            return;
        }
        if (n <= 0) {
            on_read(p->fd, EV_READ, p); /* repeats the read: reports EOF or the error */
            return;
        }
        peer_parse(p);
    }
}

struct peer *peer_new(struct event_base *base, int fd, const char *name, unsigned accept_dirs,
                      size_t wq_max, peer_cb cb, void *arg)
{
    struct peer *p = calloc(1, sizeof *p);
    if (p == NULL)
        return NULL;
    p->base = base;
    p->fd = fd;
    snprintf(p->name, sizeof p->name, "%s", name);
    p->accept_dirs = accept_dirs;
    p->wq_max = wq_max;
    p->cb = cb;
    p->arg = arg;
    p->in = evbuffer_new();
    p->out = evbuffer_new();
    p->ev_read = event_new(base, fd, EV_READ | EV_PERSIST, on_read, p);
    p->ev_write = event_new(base, fd, EV_WRITE | EV_PERSIST, on_write, p);
    if (!p->in || !p->out || !p->ev_read || !p->ev_write ||
        evutil_make_socket_nonblocking(fd) < 0 || event_add(p->ev_read, NULL) < 0) {
        p->fd = -1; /* the caller still owns fd on failure */
        peer_free(p);
        return NULL;
    }
    return p;
}

void peer_free(struct peer *p)
{
    if (p == NULL)
        return;
    if (p->ev_read)
        event_free(p->ev_read);
    if (p->ev_write)
        event_free(p->ev_write);
    if (p->in)
        evbuffer_free(p->in);
    if (p->out)
        evbuffer_free(p->out);
    if (p->fd >= 0)
        close(p->fd);
    free(p);
}

uint64_t peer_send(struct peer *p, uint8_t *frame, size_t len)
{
    if (p == NULL || p->dead || len < FRAME_HDR_LEN)
        return 0;
    if (evbuffer_get_length(p->out) + len > p->wq_max)
        return 0;
    uint64_t seq = p->seq_out + 1;
    frame_set_seq(frame, seq);
    if (evbuffer_add(p->out, frame, len) < 0)
        return 0;
    p->seq_out = seq;
    peer_flush_out(p);
    return seq;
}

uint64_t peer_send_buf(struct peer *p, struct frame_buf *fb)
{
    if (fb->err || frame_bytes_type(fb->p, fb->len) == 0)
        return 0;
    return peer_send(p, fb->p, fb->len);
}

bool peer_flush_wait(struct peer *p, int timeout_ms)
{
    if (p == NULL || p->dead)
        return false;
    uint64_t end = clock_us() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0) * 1000u;
    for (;;) {
        peer_flush_out(p);
        if (evbuffer_get_length(p->out) == 0)
            return true;
        if (p->write_failed)
            return false;
        uint64_t now = clock_us();
        if (now >= end)
            return false;
        struct pollfd pfd = {.fd = p->fd, .events = POLLOUT};
        int ms = (int)((end - now + 999) / 1000);
        if (poll(&pfd, 1, ms) < 0 && errno != EINTR)
            return false;
    }
}

size_t peer_queued(const struct peer *p) { return evbuffer_get_length(p->out); }
const char *peer_name(const struct peer *p) { return p->name; }
const char *peer_error(const struct peer *p) { return p->err[0] ? p->err : NULL; }
int peer_fd(const struct peer *p) { return p->fd; }
