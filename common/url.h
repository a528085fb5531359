/* url.h — the one place forkcap reads a URL: split once into scheme,
 * userinfo, host, port, path, query and fragment, with the rules every
 * caller shares. Configuration validates the intake and proxy URLs with it
 * (so the flusher can trust them) and the flusher's proxy code splits and
 * redacts with it. Pure, bounded, no allocation.
 *
 * Accepted: scheme "://" authority [path] [?query] [#fragment], scheme http
 * or https (any case), every byte printable ASCII (0x21..0x7e). Authority:
 * [userinfo "@"] host [":" port]. Host: a DNS name (labels of letters,
 * digits, '-' and '_', 1..63 bytes, not starting or ending with '-', no empty
 * label, so no leading or trailing dot; 253 bytes at most), or an IPv6
 * address in brackets (hex digits, ':' and '.', at least one ':'). Port:
 * 1..65535. */
#ifndef FORKCAP_URL_H
#define FORKCAP_URL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define URL_HOST_MAX 253u /* bytes of a DNS name */

struct url {
    bool https;                /* else http */
    const char *userinfo;      /* into the input, NULL when absent */
    size_t userinfo_len;
    const char *host;          /* without brackets; into the input */
    size_t host_len;
    bool ipv6;
    uint16_t port;             /* 0 = none given */
    const char *path;          /* "" or starts with '/' */
    size_t path_len;
    bool has_query, has_fragment;
};

/* Split u (NUL-terminated). Returns NULL, or a short reason ("no http(s)
 * scheme", "bad host name", ...) that never quotes the input. */
const char *url_split(const char *u, struct url *out);

/* True when [h, h+n) is a host name as above (no brackets, no port). */
bool url_dns_name_ok(const char *h, size_t n);

/* An intake base URL (DD_DD_URL and friends): trims surrounding blanks,
 * prefixes "https://" when add_scheme and the value has no "://", removes
 * trailing '/', then requires a valid URL without userinfo, query or
 * fragment. Writes the result to out. Returns NULL or the reason. */
const char *url_intake_base(const char *v, bool add_scheme, char *out, size_t cap);

/* A proxy URL: as url_intake_base without add_scheme, userinfo allowed. */
const char *url_proxy(const char *v, char *out, size_t cap);

/* DD_SITE: trims blanks; must be a DNS name. */
const char *url_site(const char *v, char *out, size_t cap);

/* The userinfo of u, found the way url_split finds it but on any string
 * (an invalid URL's credentials must be masked too); false when none. */
bool url_userinfo(const char *u, const char **p, size_t *n);

/* Copy u to out with any userinfo replaced by three asterisks, so
 * a URL can be logged; out is always NUL-terminated (cut when short). */
char *url_redact(const char *u, char *out, size_t cap);

/* The lower-cased host of u into host (cap bytes); false when u does not
 * split or the host does not fit. */
bool url_host(const char *u, char *host, size_t cap);

#endif
