/* url.c — see url.h. */
#include "url.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* The authority starts after "://" (or at s when there is none) and ends at
 * the first '/', '?' or '#'; its userinfo ends at the LAST '@' in it, as
 * curl and browsers read it (a password may hold '@' only percent-encoded,
 * but a raw one must still not leak into the host). */
static const char *authority(const char *u, const char **start, const char **at)
{
    const char *s = strstr(u, "://");
    s = s ? s + 3 : u;
    const char *end = s + strcspn(s, "/?#");
    *start = s;
    *at = NULL;
    for (const char *q = s; q < end; q++)
        if (*q == '@')
            *at = q;
    return end;
}

bool url_dns_name_ok(const char *h, size_t n)
{
    if (n == 0 || n > URL_HOST_MAX)
        return false;
    size_t label = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i == n || h[i] == '.') {
            /* empty label: leading, trailing or doubled dot */
            if (label == 0 || label > 63 || h[i - label] == '-' || h[i - 1] == '-')
                return false;
            label = 0;
            continue;
        }
        char c = h[i];
        if (!isalnum((unsigned char)c) && c != '-' && c != '_')
            return false;
        label++;
    }
    return true;
}

static bool ipv6_ok(const char *h, size_t n)
{
    bool colon = false;
    if (n == 0 || n > 45)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (h[i] == ':')
            colon = true;
        else if (!isxdigit((unsigned char)h[i]) && h[i] != '.')
            return false;
    }
    return colon;
}

const char *url_split(const char *u, struct url *out)
{
    memset(out, 0, sizeof *out);
    for (const char *q = u; *q; q++)
        if ((unsigned char)*q <= 0x20 || (unsigned char)*q >= 0x7f)
            return "blank, control or non-ASCII character";
    const char *p;
    if (strncasecmp(u, "https://", 8) == 0) {
        out->https = true;
        p = u + 8;
    } else if (strncasecmp(u, "http://", 7) == 0) {
        p = u + 7;
    } else {
        return "no http:// or https:// scheme";
    }
    const char *start, *at;
    const char *end = authority(u, &start, &at);
    if (at) {
        out->userinfo = p;
        out->userinfo_len = (size_t)(at - p);
        p = at + 1;
    }
    const char *port = NULL;
    if (*p == '[') {
        const char *close = memchr(p, ']', (size_t)(end - p));
        if (close == NULL || !ipv6_ok(p + 1, (size_t)(close - p - 1)))
            return "bad IPv6 address";
        out->host = p + 1;
        out->host_len = (size_t)(close - p - 1);
        out->ipv6 = true;
        if (close + 1 < end) {
            if (close[1] != ':')
                return "junk after the IPv6 address";
            port = close + 2;
        }
    } else {
        const char *colon = memchr(p, ':', (size_t)(end - p));
        const char *he = colon ? colon : end;
        if (he == p)
            return "no host";
        if (!url_dns_name_ok(p, (size_t)(he - p)))
            return "bad host name";
        out->host = p;
        out->host_len = (size_t)(he - p);
        if (colon)
            port = colon + 1;
    }
    if (port) {
        unsigned long v = 0;
        if (port == end)
            return "empty port";
        for (const char *q = port; q < end; q++) {
            if (!isdigit((unsigned char)*q) || q - port >= 5)
                return "bad port";
            v = v * 10 + (unsigned long)(*q - '0');
        }
        if (v == 0 || v > 65535)
            return "port out of 1..65535";
        out->port = (uint16_t)v;
    }
    out->path = end;
    out->path_len = strcspn(end, "?#");
    out->has_query = strchr(end, '?') != NULL;
    out->has_fragment = strchr(end, '#') != NULL;
    return NULL;
}

/* Copy v without surrounding blanks and trailing '/' (and with "https://"
 * in front when asked); NULL or the reason. */
static const char *normalise(const char *v, bool add_scheme, char *out, size_t cap)
{
    while (isspace((unsigned char)*v))
        v++;
    size_t n = strlen(v);
    while (n > 0 && isspace((unsigned char)v[n - 1]))
        n--;
    while (n > 0 && v[n - 1] == '/')
        n--;
    const char *scheme = "";
    if (add_scheme && n > 0 && !memmem(v, n, "://", 3))
        scheme = "https://";
    int w = snprintf(out, cap, "%s%.*s", scheme, (int)n, v);
    if (w < 0 || (size_t)w >= cap) {
        if (cap)
            out[0] = '\0';
        return "too long";
    }
    return n == 0 ? "empty" : NULL;
}

const char *url_intake_base(const char *v, bool add_scheme, char *out, size_t cap)
{
    struct url u;
    const char *why = normalise(v, add_scheme, out, cap);
    if (why == NULL)
        why = url_split(out, &u);
    if (why == NULL && u.userinfo)
        why = "user:password@ is not allowed";
    if (why == NULL && (u.has_query || u.has_fragment))
        why = "a query or fragment is not allowed";
    return why;
}

const char *url_proxy(const char *v, char *out, size_t cap)
{
    struct url u;
    const char *why = normalise(v, false, out, cap);
    return why ? why : url_split(out, &u);
}

const char *url_site(const char *v, char *out, size_t cap)
{
    while (isspace((unsigned char)*v))
        v++;
    size_t n = strlen(v);
    while (n > 0 && isspace((unsigned char)v[n - 1]))
        n--;
    if (n >= cap)
        return "too long";
    if (!url_dns_name_ok(v, n))
        return "expected dot-separated labels of letters, digits, '-', '_', with no dot or '-' at "
               "either end";
    memcpy(out, v, n);
    out[n] = '\0';
    return NULL;
}

bool url_userinfo(const char *u, const char **p, size_t *n)
{
    const char *start, *at;
    authority(u, &start, &at);
    if (at == NULL)
        return false;
    *p = start;
    *n = (size_t)(at - start);
    return true;
}

char *url_redact(const char *u, char *out, size_t cap)
{
    if (cap == 0)
        return out;
    const char *start, *at;
    authority(u, &start, &at);
    if (at == NULL)
        snprintf(out, cap, "%s", u);
    else /* a cut anywhere is safe: neither part holds the secret */
        snprintf(out, cap, "%.*s***%s", (int)(start - u), u, at);
    return out;
}

bool url_host(const char *u, char *host, size_t cap)
{
    struct url p;
    if (url_split(u, &p) != NULL || p.host_len >= cap)
        return false;
    for (size_t i = 0; i < p.host_len; i++)
        host[i] = (char)tolower((unsigned char)p.host[i]);
    host[p.host_len] = '\0';
    return true;
}
