/* lc_subscribe.h — the hook where the Telemetry API subscription and its
 * listener plug into the lifecycle child, between register and first /next. */
#ifndef FORKCAP_LC_SUBSCRIBE_H
#define FORKCAP_LC_SUBSCRIBE_H

#include <event2/event.h>

#include "lc_http.h"
#include "lifecycle.h"

/* status: HTTP status of the subscribe call, 202 = not supported here,
 * -1 = not sent. Called exactly once per lc_telemetry_subscribe. */
typedef void (*lc_subscribed_fn)(int status, void *arg);

/* Subscribe (once, after the first register) and start the listener on
 * a->telemetry_fd. Must not block; reports through done. */
void lc_telemetry_subscribe(struct event_base *base, struct lc_http *http, const char *ext_id,
                            const struct lc_args *a, lc_subscribed_fn done, void *arg);

#endif
