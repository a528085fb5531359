/* lc_subscribe.c — see lc_subscribe.h. Not wired yet: the subscription and
 * the listener (built on lifecycle/telemetry.*) replace this body. Until
 * then the listening socket stays bound, so nothing Lambda would send is
 * refused, and the supervisor is told that no subscription was sent. */
#include "lc_subscribe.h"

void lc_telemetry_subscribe(struct event_base *base, struct lc_http *http, const char *ext_id,
                            const struct lc_args *a, lc_subscribed_fn done, void *arg)
{
    (void)base;
    (void)http;
    (void)ext_id;
    (void)a;
    done(-1, arg);
}
