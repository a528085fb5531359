/* intake_proxy.h — which intake requests go through the HTTPS proxy, and how a
 * proxy URL may appear in a log line. Pure helpers for intake.c, unit-tested.
 *
 * The NO_PROXY list follows libcurl's CURLOPT_NOPROXY rules (libcurl gets the
 * same list, so this predicts what curl does): entries separated by commas
 * and/or blanks, case-insensitive; "*" alone matches every host; a name
 * matches itself and its subdomains ("example.com" and ".example.com" both
 * match "www.example.com" but not "notexample.com"); an IP address entry
 * matches that address, or a range in CIDR form ("10.0.0.0/8", "fd00::/8");
 * ports are not part of the match. */
#ifndef FORKCAP_FL_INTAKE_PROXY_H
#define FORKCAP_FL_INTAKE_PROXY_H

#include <stdbool.h>
#include <stddef.h>

#define FL_HOST_MAX 256u /* host name, NUL included */

/* True when host (a name or an IP literal, IPv6 with or without brackets)
 * is listed in no_proxy. NULL or empty no_proxy matches nothing. */
bool fl_noproxy_match(const char *host, const char *no_proxy);

/* The host part of an http(s) URL, lowercased, IPv6 brackets removed.
 * Returns false when url is not scheme://host... or the host is too long. */
bool fl_url_host(const char *url, char *host, size_t hostlen);

/* True when a request to url goes through proxy: proxy is set (non-empty)
 * and url's host is not matched by no_proxy. */
bool fl_proxy_applies(const char *url, const char *proxy, const char *no_proxy);

/* Copy url to out with any "user[:password]@" replaced by "***@", so a proxy
 * URL can be logged. Always NUL-terminates (cut if out is short; the
 * credentials never survive a cut). Returns out. */
char *fl_redact_url(const char *url, char *out, size_t outlen);

#endif
