/* lc_http.h — a minimal plain-HTTP/1.1 client for the local Runtime API on a
 * libevent bufferevent: no proxy, no TLS, no timeout (/next spans freezes). */
#ifndef FORKCAP_LC_HTTP_H
#define FORKCAP_LC_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

#define LC_HTTP_HDR_MAX (16u * 1024u)    /* status line + headers */
#define LC_HTTP_BODY_MAX (1024u * 1024u) /* any platform answer is far smaller */
#define LC_HTTP_ID_MAX 128u

struct lc_http_resp {
    int status;
    char ext_id[LC_HTTP_ID_MAX]; /* Lambda-Extension-Identifier, "" if absent */
    const char *body;            /* NUL-terminated, body_len bytes */
    size_t body_len;
};

/* resp NULL: transport error described by err (connect, reset, bad or
 * oversize response). The response is valid during the call only. */
typedef void (*lc_http_cb)(const struct lc_http_resp *resp, const char *err, void *arg);

struct lc_http;

/* Resolve host:port once (numeric or a name; a blocking lookup at start). */
struct lc_http *lc_http_new(struct event_base *base, const char *hostport, char *err, size_t errlen);
void lc_http_free(struct lc_http *h);

/* One request at a time, on a fresh connection ("Connection: close").
 * headers: NULL-terminated list of complete "Name: value" lines.
 * Returns 0, or -1 when a request is already running or cannot start. */
int lc_http_request(struct lc_http *h, const char *method, const char *path,
                    const char *const *headers, const char *body, size_t body_len,
                    lc_http_cb cb, void *arg);

/* For the request now running: call fn once when all its bytes are in the
 * kernel (sent, not yet answered). Lets a caller start a dependent request
 * on another connection without waiting for this one's answer. */
void lc_http_on_sent(struct lc_http *h, void (*fn)(void *arg), void *arg);

#endif
