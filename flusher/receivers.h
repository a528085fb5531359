/* receivers.h — the function-facing sockets the flusher serves (DogStatsD
 * UDP, trace receiver, the /lambda endpoints), on descriptors bound by the supervisor. */
#ifndef FORKCAP_RECEIVERS_H
#define FORKCAP_RECEIVERS_H

#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

#include "fl_main.h"

struct fl_receivers;

struct fl_receivers_stats {
    uint64_t datagrams;    /* DogStatsD datagrams read */
    uint64_t recv_calls;   /* recvmmsg calls that returned datagrams */
    uint64_t truncated;    /* datagrams over DSD_DATAGRAM_MAX (8 KiB): cut by the
                            * kernel, refused whole by the parser */
    uint64_t kernel_drops; /* datagrams the kernel dropped (receive buffer full)
                            * since this flusher started reading (SO_MEMINFO) */
    uint32_t drops_seen;   /* the socket's counter when last seen */
    uint32_t rcvbuf;       /* SO_RCVBUF as the kernel reports it */
    uint64_t accepted;     /* TCP connections accepted (trace + /lambda) */
};

/* One DogStatsD datagram, borrowed for the call. */
typedef void (*fl_dgram_fn)(const char *buf, size_t len, void *arg);

/* Start serving every descriptor that is >= 0. The DogStatsD socket gets
 * DD_DOGSTATSD_SO_RCVBUF; datagrams are read with recvmmsg
 * and go to on_dgram
 * (NULL: read and counted only), at most FL_DGRAMS_PER_EVENT per wake-up so
 * a flood cannot starve the supervisor link; TCP connections are accepted
 * and closed until their parsers plug in, so nothing piles up in the kernel. */
#define FL_DGRAMS_PER_EVENT 256
struct fl_receivers *fl_receivers_start(struct event_base *base, const struct fl_args *a,
                                        fl_dgram_fn on_dgram, void *arg);
/* Read the DogStatsD socket's drop counter (SO_MEMINFO, else
 * /proc/net/udp): call it now and then and before reporting. */
void fl_receivers_poll_drops(struct fl_receivers *r);
void fl_receivers_stats(const struct fl_receivers *r, struct fl_receivers_stats *out);
void fl_receivers_free(struct fl_receivers *r);

#endif
