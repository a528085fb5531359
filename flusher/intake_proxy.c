/* intake_proxy.c — see intake_proxy.h. */
#include "intake_proxy.h"

#include "url.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static bool is_blank(char c)
{
    return c == ' ' || c == '\t';
}

/* An IP literal (v4 or v6) into 16 bytes; *bits = 32 or 128. */
static bool parse_ip(const char *s, size_t n, unsigned char addr[16], unsigned *bits)
{
    char buf[64];
    if (n == 0 || n >= sizeof buf)
        return false;
    memcpy(buf, s, n);
    buf[n] = '\0';
    if (inet_pton(AF_INET, buf, addr) == 1) {
        *bits = 32;
        return true;
    }
    if (inet_pton(AF_INET6, buf, addr) == 1) {
        *bits = 128;
        return true;
    }
    return false;
}

static bool prefix_equal(const unsigned char *a, const unsigned char *b, unsigned bits)
{
    unsigned full = bits / 8, rest = bits % 8;
    if (memcmp(a, b, full) != 0)
        return false;
    if (rest == 0)
        return true;
    unsigned char mask = (unsigned char)(0xffu << (8 - rest));
    return (a[full] & mask) == (b[full] & mask);
}

/* One NO_PROXY entry against the host. */
static bool entry_match(const char *tok, size_t tl, const char *host, size_t hl, bool host_ip,
                        const unsigned char haddr[16], unsigned hbits)
{
    if (host_ip) {
        /* "[::1]" entries: drop the brackets */
        if (tl >= 2 && tok[0] == '[') {
            const char *close = memchr(tok, ']', tl);
            if (close == NULL)
                return false;
            size_t inner = (size_t)(close - tok - 1);
            size_t after = tl - (size_t)(close - tok) - 1;
            char buf[80];
            if (inner + after >= sizeof buf)
                return false;
            memcpy(buf, tok + 1, inner);
            memcpy(buf + inner, close + 1, after);
            return entry_match(buf, inner + after, host, hl, host_ip, haddr, hbits);
        }
        const char *slash = memchr(tok, '/', tl);
        size_t al = slash ? (size_t)(slash - tok) : tl;
        unsigned char eaddr[16];
        unsigned ebits;
        if (!parse_ip(tok, al, eaddr, &ebits) || ebits != hbits)
            return false;
        unsigned prefix = ebits;
        if (slash) {
            const char *d = slash + 1;
            size_t dl = tl - al - 1;
            if (dl == 0 || dl > 3)
                return false;
            unsigned v = 0;
            for (size_t i = 0; i < dl; i++) {
                if (!isdigit((unsigned char)d[i]))
                    return false;
                v = v * 10 + (unsigned)(d[i] - '0');
            }
            if (v > ebits)
                return false;
            prefix = v;
        }
        return prefix_equal(eaddr, haddr, prefix);
    }
    if (tl > 0 && tok[0] == '.') {
        tok++;
        tl--;
    }
    if (tl > 0 && tok[tl - 1] == '.')
        tl--;
    if (tl == 0)
        return false;
    if (tl == hl)
        return strncasecmp(tok, host, hl) == 0;
    if (tl < hl && host[hl - tl - 1] == '.')
        return strncasecmp(tok, host + hl - tl, tl) == 0;
    return false;
}

bool fl_noproxy_match(const char *host, const char *no_proxy)
{
    if (host == NULL || no_proxy == NULL || *host == '\0')
        return false;
    const char *p = no_proxy;
    while (is_blank(*p))
        p++;
    /* "*" alone (blanks around it allowed) matches everything */
    const char *q = p;
    if (*q == '*') {
        q++;
        while (is_blank(*q))
            q++;
        if (*q == '\0')
            return true;
    }
    /* normalise the host: brackets off, trailing dot off */
    char h[FL_HOST_MAX];
    size_t hl = strnlen(host, sizeof h);
    if (hl >= sizeof h)
        return false;
    if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']') {
        host++;
        hl -= 2;
    }
    memcpy(h, host, hl);
    h[hl] = '\0';
    if (hl > 0 && h[hl - 1] == '.')
        h[--hl] = '\0';
    unsigned char haddr[16];
    unsigned hbits = 0;
    bool host_ip = parse_ip(h, hl, haddr, &hbits);

    while (*p) {
        while (is_blank(*p) || *p == ',')
            p++;
        const char *tok = p;
        while (*p && !is_blank(*p) && *p != ',')
            p++;
        size_t tl = (size_t)(p - tok);
        if (tl > 0 && entry_match(tok, tl, h, hl, host_ip, haddr, hbits))
            return true;
    }
    return false;
}

bool fl_url_host(const char *url, char *host, size_t hostlen)
{
    return url_host(url, host, hostlen);
}

bool fl_proxy_applies(const char *url, const char *proxy, const char *no_proxy)
{
    if (proxy == NULL || *proxy == '\0')
        return false;
    char host[FL_HOST_MAX];
    if (!fl_url_host(url, host, sizeof host))
        return true; /* curl would still use the proxy for it */
    return !fl_noproxy_match(host, no_proxy);
}

char *fl_redact_url(const char *url, char *out, size_t outlen)
{
    return url_redact(url, out, outlen);
}
