/* fl_check.h — `forkcap check`: the configuration as the extension would use
 * it, tried against the intake, before a layer is deployed (or in CI).
 *
 * It loads nothing itself: the caller passes the struct cfg that cfg_load
 * produced from the same environment the extension reads at start. Then, in
 * order (the first failure is the verdict):
 *  1. settings: the effective values, secrets masked, config warnings;
 *  2. the API key: where it comes from (DD_API_KEY, or an AWS source that
 *     is then resolved at step 5, before the key check, through the same
 *     resolver the flusher uses at start, so check reports exactly what the
 *     extension would get: the AWS error code, or the key masked);
 *  3. endpoints (endpoints.h) and, per endpoint, whether the proxy applies
 *     (intake_proxy.h: the same NO_PROXY rules curl is given);
 *  4. the CA store, built the way the flusher builds it (source, count);
 *  5. GET /api/v1/validate with the key, then one small post per shipping
 *     endpoint (an empty series payload, an empty logs batch), each timed.
 * The report goes to out; the verdict is the last line of out and, when
 * something is wrong, exactly one "forkcap check: ..." line on err.
 * Never prints the key or proxy credentials. */
#ifndef FORKCAP_FL_CHECK_H
#define FORKCAP_FL_CHECK_H

#include <stdio.h>

#include "config.h"

struct fl_check_opts {
    const char *ca_file; /* system bundle to use; NULL = search (intake_tls.h) */
    long budget_ms;      /* for the network steps together; <= 0 = 10 s */
    const char *version; /* User-Agent version; NULL = "dev" */
};

/* Returns 0 when the configuration works, 1 when it does not. */
int fl_check_run(const struct cfg *c, const struct fl_check_opts *o, FILE *out, FILE *err);

#endif
