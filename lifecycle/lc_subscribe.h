/* lc_subscribe.h — the Telemetry API in the lifecycle child: the one-time
 * subscription (first child, during init) and the listener (every child). */
#ifndef FORKCAP_LC_SUBSCRIBE_H
#define FORKCAP_LC_SUBSCRIBE_H

#include <event2/event.h>

#include "lifecycle.h"
#include "peer.h"

#define LC_SUB_PATH "/2022-07-01/telemetry"
#define LC_SUB_SCHEMA "2022-12-13"
#define LC_SUB_MAX_ITEMS 1000
#define LC_SUB_MAX_BYTES 262144
#define LC_SUB_TIMEOUT_MS 25

/* status: HTTP status of the subscribe call, 202 = not supported here,
 * -1 = not sent (or no answer). */
typedef void (*lc_subscribed_fn)(int status, void *arg);
/* /next may be called now. */
typedef void (*lc_proceed_fn)(void *arg);

struct lc_tele;

/* Serve the listener on a->telemetry_fd (first or restarted child alike)
 * and send telemetry frames to sup. NULL when there is no socket, in idle
 * mode, or on error (logged); the child goes on without telemetry. */
struct lc_tele *lc_tele_start(struct event_base *base, struct peer *sup, const struct lc_args *a);
void lc_tele_free(struct lc_tele *t);
/* FT_PRESSURE from the supervisor; NULL t: nothing. */
void lc_tele_set_pressure(struct lc_tele *t, bool full);

/* Subscribe once, after the first register, on a connection of its own.
 * proceed is called once as soon as the request is in the kernel (or at
 * once when nothing is sent, or on failure), so /next need not wait for
 * the answer; done is called once with the answer. Never blocks. t may be
 * NULL (then: proceed, done(-1)). */
void lc_telemetry_subscribe(struct lc_tele *t, const char *ext_id, const struct lc_args *a,
                            lc_proceed_fn proceed, lc_subscribed_fn done, void *arg);

/* The subscription body for a listener on port (exposed for tests). */
int lc_subscribe_body(char *buf, size_t cap, unsigned port, bool logs_enabled);

#endif
