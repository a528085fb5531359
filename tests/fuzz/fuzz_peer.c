/* fuzz_peer.c — the supervisor's side of a child link: arbitrary bytes from
 * a child go through common/peer.c (length prefix, decode, direction, seq)
 * and must end in frames or one "peer gone" report, never a crash. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "peer.h"

struct seen {
    int nulls;
    int frames;
};

static void cb(struct peer *p, const struct frame *f, void *arg)
{
    struct seen *s = arg;
    (void)p;
    if (f == NULL)
        s->nulls++;
    else
        s->frames++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int sv[2];
    if (size > 1 << 20 || socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
        return 0;
    int big = 4 << 20;
    setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
    struct event_base *b = event_base_new();
    struct seen s = {0};
    struct peer *p = peer_new(b, sv[0], "fuzz", FRAME_DIR_L2S, 1 << 20, cb, &s);
    size_t off = 0;
    while (off < size) {
        ssize_t w = write(sv[1], data + off, size - off);
        if (w <= 0)
            break;
        off += (size_t)w;
        event_base_loop(b, EVLOOP_NONBLOCK);
    }
    close(sv[1]);
    for (int i = 0; i < 4 && s.nulls == 0; i++)
        event_base_loop(b, EVLOOP_NONBLOCK);
    if (s.nulls != 1)
        abort(); /* EOF or an error must be reported exactly once */
    peer_free(p);
    event_base_free(b);
    return 0;
}
