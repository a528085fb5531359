/* receivers.h — the function-facing sockets the flusher serves (DogStatsD
 * UDP, trace receiver, the /lambda endpoints), on descriptors bound by the supervisor. */
#ifndef FORKCAP_RECEIVERS_H
#define FORKCAP_RECEIVERS_H

#include <stdint.h>

#include <event2/event.h>

#include "fl_main.h"

struct fl_receivers;

struct fl_receivers_stats {
    uint64_t datagrams; /* DogStatsD datagrams read */
    uint64_t accepted;  /* TCP connections accepted (trace + /lambda) */
};

/* Start serving every descriptor that is >= 0. The modules that parse
 * these inputs plug in here; until then datagrams are read and counted and
 * connections accepted and closed, so nothing piles up in the kernel. */
struct fl_receivers *fl_receivers_start(struct event_base *base, const struct fl_args *a);
void fl_receivers_stats(const struct fl_receivers *r, struct fl_receivers_stats *out);
void fl_receivers_free(struct fl_receivers *r);

#endif
