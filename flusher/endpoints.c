/* endpoints.c — see endpoints.h. */
#include "endpoints.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (err == NULL || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static bool dns_char(char c)
{
    return isalnum((unsigned char)c) || c == '.' || c == '-' || c == '_';
}

static bool site_ok(const char *s, size_t n)
{
    if (n == 0 || s[0] == '.' || s[0] == '-' || s[n - 1] == '.')
        return false;
    for (size_t i = 0; i < n; i++)
        if (!dns_char(s[i]))
            return false;
    return true;
}

/* scheme://host[:port][/path] with the rules of endpoints.h. */
static bool base_ok(const char *u)
{
    const char *p;
    if (strncasecmp(u, "https://", 8) == 0)
        p = u + 8;
    else if (strncasecmp(u, "http://", 7) == 0)
        p = u + 7;
    else
        return false;
    size_t hl = 0;
    if (*p == '[') {
        const char *close = strchr(p, ']');
        if (close == NULL || close == p + 1)
            return false;
        for (const char *q = p + 1; q < close; q++)
            if (!isxdigit((unsigned char)*q) && *q != ':' && *q != '.')
                return false;
        p = close + 1;
        hl = 1;
    } else {
        while (dns_char(p[hl]))
            hl++;
        if (hl > 0 && (p[0] == '.' || p[0] == '-'))
            return false;
        p += hl;
    }
    if (hl == 0)
        return false;
    if (*p == ':') {
        p++;
        unsigned long port = 0;
        size_t dl = 0;
        while (isdigit((unsigned char)p[dl])) {
            port = port * 10 + (unsigned long)(p[dl] - '0');
            if (++dl > 5)
                return false;
        }
        if (dl == 0 || port == 0 || port > 65535)
            return false;
        p += dl;
    }
    if (*p != '\0' && *p != '/')
        return false; /* '@' (userinfo), '?', '#', junk after the host */
    for (; *p; p++)
        if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f || *p == '?' || *p == '#')
            return false;
    return true;
}

/* Trim blanks and trailing '/', default the scheme when asked; validate. */
static int take_base(const char *name, const char *v, bool add_scheme, char *out, size_t outlen,
                     char *err, size_t errlen)
{
    while (*v == ' ' || *v == '\t')
        v++;
    size_t n = strnlen(v, FL_BASE_MAX);
    if (n == FL_BASE_MAX) {
        set_err(err, errlen, "%s is longer than %u bytes", name, FL_BASE_MAX - 1);
        return -1;
    }
    while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t' || v[n - 1] == '/'))
        n--;
    const char *scheme = "";
    if (add_scheme && strstr(v, "://") == NULL)
        scheme = "https://";
    int w = snprintf(out, outlen, "%s%.*s", scheme, (int)n, v);
    if (w < 0 || (size_t)w >= outlen) {
        set_err(err, errlen, "%s is longer than %u bytes", name, FL_BASE_MAX - 1);
        return -1;
    }
    if (!base_ok(out)) {
        /* the value may carry credentials (user:pass@): echo it only when
         * it has no '@' at all */
        if (memchr(v, '@', n) == NULL)
            set_err(err, errlen, "%s is not a valid http(s) base URL: %.200s", name, out);
        else
            set_err(err, errlen, "%s is not a valid http(s) base URL (credentials are not allowed)",
                    name);
        return -1;
    }
    return 0;
}

static int join(char *dst, const char *base, const char *path, char *err, size_t errlen)
{
    int w = snprintf(dst, FL_URL_MAX, "%s%s", base, path);
    if (w < 0 || (size_t)w >= FL_URL_MAX) {
        set_err(err, errlen, "endpoint URL longer than %u bytes", FL_URL_MAX - 1);
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
        const char *s = src->site;
        while (*s == ' ' || *s == '\t')
            s++;
        size_t n = strnlen(s, FL_SITE_MAX);
        while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
            n--;
        if (n >= FL_SITE_MAX || !site_ok(s, n)) {
            set_err(err, errlen, "DD_SITE is not a host name: %.100s", s);
            return -1;
        }
        memcpy(site, s, n);
        site[n] = '\0';
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
