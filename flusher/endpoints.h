/* endpoints.h — the intake URLs forkcap posts to, derived from DD_SITE and the
 * endpoint overrides the way Datadog's extension derives them. Pure, bounded.
 *
 * Defaults (site S, default datadoghq.com):
 *   series    https://api.S/api/v2/series
 *   sketches  https://api.S/api/beta/sketches
 *   validate  https://api.S/api/v1/validate
 *   logs      https://http-intake.logs.S/api/v2/logs
 *   traces    https://trace.agent.S/api/v0.2/traces
 *   stats     https://trace.agent.S/api/v0.2/stats
 * Overrides replace the base (scheme://host[:port][/prefix]) and keep the path:
 *   dd_url      (DD_DD_URL, else DD_URL)        series, sketches, validate
 *   logs_dd_url (DD_LOGS_CONFIG_LOGS_DD_URL)    logs; "host:port" without a
 *                                               scheme gets https:// (as Datadog)
 *   apm_dd_url  (DD_APM_DD_URL)                 traces, stats
 * Surrounding blanks and trailing '/' are removed. The rules are
 * common/url.h's (url_site, url_intake_base), the ones configuration
 * applies: a configuration that is not idle always builds here. */
#ifndef FORKCAP_FL_ENDPOINTS_H
#define FORKCAP_FL_ENDPOINTS_H

#include <stddef.h>

#define FL_SITE_MAX 256u   /* bytes, NUL included */
#define FL_BASE_MAX 1024u  /* an override, NUL included */
#define FL_URL_MAX  1100u  /* a full endpoint URL, NUL included */

struct fl_endpoint_src {
    const char *site;        /* NULL or "" = datadoghq.com */
    const char *dd_url;      /* NULL or "" = https://api.<site> */
    const char *logs_dd_url; /* NULL or "" = https://http-intake.logs.<site> */
    const char *apm_dd_url;  /* NULL or "" = https://trace.agent.<site> */
};

struct fl_endpoints {
    char series[FL_URL_MAX];
    char sketches[FL_URL_MAX];
    char validate[FL_URL_MAX];
    char logs[FL_URL_MAX];
    char traces[FL_URL_MAX];
    char stats[FL_URL_MAX];
};

/* Fill out from src. Returns 0, or -1 with a one-line reason in err (naming
 * the variable; the value is echoed only when it cannot hold a secret) and
 * out zeroed: the caller turns that into idle mode. */
int fl_endpoints_build(const struct fl_endpoint_src *src, struct fl_endpoints *out, char *err,
                       size_t errlen);

#endif
