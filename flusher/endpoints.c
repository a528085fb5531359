/* endpoints.c — see endpoints.h. */
#include "endpoints.h"

#include "errbuf.h"
#include "url.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* The base through common/url.c, the validator configuration used: a value
 * configuration accepted is accepted here unchanged (the flusher trusts
 * config; this only keeps the two from ever disagreeing). */
static int take_base(const char *name, const char *v, bool add_scheme, char *out, size_t outlen,
                     char *err, size_t errlen)
{
    const char *why = url_intake_base(v, add_scheme, out, outlen);
    if (why == NULL)
        return 0;
    /* the value may carry credentials (user:pass@): echo it only when it
     * has no '@' at all */
    if (strchr(v, '@') == NULL && strlen(out) <= 200)
        errbuf_set(err, errlen, "%s is not a valid http(s) URL (%s): %s", name, why, out);
    else
        errbuf_set(err, errlen, "%s is not a valid http(s) URL (%s)", name, why);
    return -1;
}

static int join(char *dst, const char *base, const char *path, char *err, size_t errlen)
{
    int w = snprintf(dst, FL_URL_MAX, "%s%s", base, path);
    if (w < 0 || (size_t)w >= FL_URL_MAX) {
        errbuf_set(err, errlen, "endpoint URL longer than %u bytes", FL_URL_MAX - 1);
        return -1;
    }
    return 0;
}

static bool empty(const char *s)
{
    if (s == NULL)
        return true;
    while (*s == ' ' || *s == '\t')
        s++;
    return *s == '\0';
}

int fl_endpoints_build(const struct fl_endpoint_src *src, struct fl_endpoints *out, char *err,
                       size_t errlen)
{
    memset(out, 0, sizeof *out);
    char site[FL_SITE_MAX] = "datadoghq.com";
    if (!empty(src->site)) {
        const char *why = url_site(src->site, site, sizeof site);
        if (why) {
            errbuf_set(err, errlen, "DD_SITE is not a host name (%s): %.100s", why, src->site);
            return -1;
        }
    }

    char metrics[FL_BASE_MAX], logs[FL_BASE_MAX], apm[FL_BASE_MAX];
    snprintf(metrics, sizeof metrics, "https://api.%s", site);
    snprintf(logs, sizeof logs, "https://http-intake.logs.%s", site);
    snprintf(apm, sizeof apm, "https://trace.agent.%s", site);
    int rc = 0;
    if (!empty(src->dd_url))
        rc |= take_base("DD_DD_URL", src->dd_url, false, metrics, sizeof metrics, err, errlen);
    if (rc == 0 && !empty(src->logs_dd_url))
        rc |= take_base("DD_LOGS_CONFIG_LOGS_DD_URL", src->logs_dd_url, true, logs, sizeof logs, err,
                        errlen);
    if (rc == 0 && !empty(src->apm_dd_url))
        rc |= take_base("DD_APM_DD_URL", src->apm_dd_url, false, apm, sizeof apm, err, errlen);
    if (rc == 0)
        rc = join(out->series, metrics, "/api/v2/series", err, errlen) |
             join(out->sketches, metrics, "/api/beta/sketches", err, errlen) |
             join(out->validate, metrics, "/api/v1/validate", err, errlen) |
             join(out->logs, logs, "/api/v2/logs", err, errlen) |
             join(out->traces, apm, "/api/v0.2/traces", err, errlen) |
             join(out->stats, apm, "/api/v0.2/stats", err, errlen);
    if (rc != 0) {
        memset(out, 0, sizeof *out);
        return -1;
    }
    return 0;
}
