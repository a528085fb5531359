/* intake.h — the flusher's HTTPS client for the Datadog intake: libcurl's multi
 * interface driven by the flusher's event_base, one fresh connection per post.
 *
 * Why it looks like this (see DESIGN.md, flusher row):
 *  - Connections are never reused (CURLOPT_FORBID_REUSE + FRESH_CONNECT): a
 *    pooled connection does not survive a Lambda freeze. The handshake stays
 *    cheap because TLS sessions (and DNS answers) are shared across transfers
 *    through one CURLSH, so each new connection resumes the last session.
 *  - The CA store is parsed once, in fl_intake_new (timed: the cold-start
 *    cost), and handed to every SSL_CTX; libcurl is told to load no CA file
 *    of its own.
 *  - Proxy and NO_PROXY come only from the options (never from curl's own
 *    environment lookup); a proxied request uses HTTP/1.1, as Datadog's
 *    extension does; otherwise HTTP/2 when the server offers it.
 *  - Every attempt is bounded by timeout_ms (DD_FLUSH_TIMEOUT, connect +
 *    transfer) and by the caller's deadline, whichever is sooner; a flush
 *    never outlives its deadline (outstanding transfers are aborted then).
 *
 * Retries: at most FL_INTAKE_ATTEMPTS attempts per payload, short backoff,
 * never past the deadline. Retried: transport errors (connect, TLS, reset,
 * timeout), 408, 429, 5xx. Final at once: other 4xx (403 reported as
 * FL_FORBIDDEN so the logs path can stop). A payload whose retries are used
 * up (or that the deadline cut off) is kept in a bounded retry buffer
 * (retry_buffer_bytes, oldest dropped first, drops counted) and resent by the
 * next fl_intake_flush(..., FL_FLUSH_RESEND_KEPT, ...).
 *
 * Everything runs on the event_base's thread; callbacks are invoked from the
 * loop, never from inside the call that submitted the work. A callback must
 * not free the intake. Log lines never show the API key or proxy credentials. */
#ifndef FORKCAP_FL_INTAKE_H
#define FORKCAP_FL_INTAKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;
struct fl_intake;

#define FL_INTAKE_ATTEMPTS 3u
#define FL_INTAKE_HEADERS_MAX 8u        /* extra headers per post */
#define FL_INTAKE_HEADER_MAX 512u       /* bytes per extra header line */
#define FL_INTAKE_BODY_MAX (64u << 20)  /* bytes per post, before compression */
#define FL_INTAKE_INFLIGHT_MAX 16u      /* transfers at once; more wait their turn */
#define FL_INTAKE_RETRY_BUF_DEFAULT (8u << 20)

struct fl_intake_opts {
    const char *api_key;       /* DD-API-KEY on every request; required */
    const char *proxy;         /* DD_PROXY_HTTPS / HTTPS_PROXY; NULL or "" = none */
    const char *no_proxy;      /* DD_PROXY_NO_PROXY / NO_PROXY (curl NOPROXY rules) */
    const char *ca_file;       /* system bundle; NULL = search (intake_tls.h) */
    const char *extra_ca_file; /* DD_TLS_CERT_FILE, added to the roots; NULL = none */
    long timeout_ms;           /* DD_FLUSH_TIMEOUT * 1000 per attempt; <= 0 = 30 s */
    bool http1_only;           /* DD_HTTP_PROTOCOL=http1 */
    bool skip_verify;          /* DD_SKIP_SSL_VALIDATION=true: warns once */
    int zstd_level;            /* DD_COMPRESSION_LEVEL for posts with compress set */
    size_t retry_buffer_bytes; /* 0 = FL_INTAKE_RETRY_BUF_DEFAULT */
    const char *version;       /* User-Agent forkcap/<version>; NULL = "dev" */
    bool no_tls_resume;        /* benchmarks only: a full handshake every time */
    bool delayed_ack;          /* benchmarks only: leave the kernel's delayed ACKs on */
    bool curl_verbose;         /* debugging: curl's own trace on stderr (may show headers) */
    bool key_later;            /* api_key is resolved later (AWS secrets): must be NULL now;
                                  posts are refused until fl_intake_set_api_key */
};

/* One payload. Everything is copied (or compressed into a copy) at submit. */
struct fl_post {
    const char *url;            /* full endpoint (endpoints.h) */
    const char *content_type;   /* e.g. "application/json"; NULL = none */
    const void *body;
    size_t len;
    bool compress;              /* zstd at zstd_level + Content-Encoding: zstd */
    const char *const *headers; /* extra "Name: value" lines, NULL-terminated, or NULL;
                                   logs need "DD-PROTOCOL: agent-json" */
    uint64_t tag;               /* the caller's id, given back in the result */
};

enum fl_outcome {
    FL_OK,        /* 2xx */
    FL_REJECTED,  /* a final 4xx (not 403/408/429): not retried, not kept */
    FL_FORBIDDEN, /* 403: bad key; logs stop retrying; not kept */
    FL_FAILED,    /* attempts used up (5xx, 408, 429, transport error): kept */
    FL_ABORTED,   /* the deadline came first: kept */
    FL_DROPPED,   /* pushed out of the retry buffer (or too big for it) */
};
const char *fl_outcome_name(enum fl_outcome o);

struct fl_post_result {
    uint64_t tag;
    enum fl_outcome outcome;
    long http_status;     /* last HTTP status, 0 when none */
    int curl_code;        /* last CURLcode, 0 when the transfer itself worked */
    char error[160];      /* last error in words ("" when FL_OK) */
    unsigned attempts;
    size_t bytes;         /* body bytes as sent (compressed) */
    double ms;            /* submit to final outcome */
    /* the last attempt, from its start (curl's CURLINFO_*_TIME_T): TCP
     * connected (to the proxy when there is one), TLS done (after the
     * CONNECT exchange), first answer byte */
    double connect_ms, tls_ms, first_byte_ms;
    bool new_conn;        /* the last attempt opened a connection (always, by design) */
    bool tls;             /* the last attempt used TLS to the intake */
    bool tls_resumed;     /* ... and resumed a cached session */
    bool h2;              /* ... over HTTP/2 */
    bool via_proxy;
    bool kept;            /* now in the retry buffer */
    bool resent;          /* this payload came from the retry buffer */
};

typedef void (*fl_post_done_fn)(const struct fl_post_result *r, void *arg);

struct fl_flush_summary {
    unsigned posted;      /* payloads in this flush, resent ones included */
    unsigned ok, rejected, forbidden, failed, aborted, dropped;
    double ms;
    bool deadline_hit;    /* transfers were still running at the deadline */
};
typedef void (*fl_flush_done_fn)(const struct fl_flush_summary *s, void *arg);

struct fl_intake_stats {
    uint64_t posts, attempts, ok, rejected, forbidden, failed, aborted;
    uint64_t dropped, dropped_bytes;   /* retry-buffer drops */
    uint64_t kept, kept_bytes;         /* in the retry buffer now */
    uint64_t new_conns, tls_resumed, h2;
    uint64_t curl_store_certs;         /* CA entries libcurl loaded itself: 0 by design */
    unsigned ca_certs;                 /* in our store (bundle + extra) */
};

/* Build the client: parse the CA store (timed), set up curl's multi and share
 * handles on base. Returns NULL with a one-line reason in err (bad CA file,
 * no bundle, missing key, curl without OpenSSL...): the caller goes idle. */
struct fl_intake *fl_intake_new(struct event_base *base, const struct fl_intake_opts *o, char *err,
                                size_t errlen);

/* Milliseconds fl_intake_new spent building the TLS client (CA store + curl). */
double fl_intake_tls_setup_ms(const struct fl_intake *in);

/* Post one payload. deadline_us: CLOCK_MONOTONIC (clock_us()), 0 = none
 * (then only timeout_ms per attempt bounds it). done is called once.
 * Returns 0, or -1 (bad request: url/header/body bounds) with done not called. */
int fl_intake_post(struct fl_intake *in, const struct fl_post *req, uint64_t deadline_us,
                   fl_post_done_fn done, void *arg);

#define FL_FLUSH_RESEND_KEPT 1u /* resend the retry buffer first */

/* One flush: n payloads (plus the retry buffer with FL_FLUSH_RESEND_KEPT),
 * all concurrently, sharing deadline_us (required, > now). each (may be
 * NULL) gets every payload's result; done gets one summary when all are
 * final or at the deadline, whichever is first. Returns 0, or -1 when a
 * payload is out of bounds (nothing submitted, no callback). */
int fl_intake_flush(struct fl_intake *in, const struct fl_post *posts, size_t n, uint64_t deadline_us,
                    unsigned flags, fl_post_done_fn each, fl_flush_done_fn done, void *arg);

typedef void (*fl_validate_fn)(int valid /* 1 yes, 0 no (403), -1 unknown */, long http_status,
                               void *arg);
/* GET url (endpoints.h validate) with the key, asynchronously. A rejected key
 * logs one error line (without the key). cb may be NULL. Returns 0 or -1. */
int fl_intake_validate(struct fl_intake *in, const char *url, uint64_t deadline_us, fl_validate_fn cb,
                       void *arg);

void fl_intake_stats(const struct fl_intake *in, struct fl_intake_stats *out);

/* The API key, once resolved (key_later): printable ASCII without blanks
 * (a JSON secret is used whole). origin (the variable it came from) is
 * named in the 403 line. Returns 0 or -1 (malformed: key unchanged). */
int fl_intake_set_api_key(struct fl_intake *in, const char *key, const char *origin);

/* A request that is not an intake post (AWS APIs, credentials endpoint):
 * the caller's headers only (no DD-API-KEY), one attempt, the whole answer
 * (up to FL_RAW_RESP_MAX bytes) handed to done from the loop. Shares the
 * client's TLS store, proxy rules (unless direct), sessions and loop. */
#define FL_RAW_HEADERS_MAX 12u
#define FL_RAW_HEADER_MAX 4096u      /* a session token is long */
#define FL_RAW_BODY_MAX (64u << 10)
#define FL_RAW_RESP_MAX (256u << 10)
struct fl_raw_req {
    const char *url;
    bool post;                  /* POST body; else GET */
    const char *const *headers; /* "Name: value", NULL-terminated, or NULL */
    const void *body;
    size_t len;
    long timeout_ms;            /* connect + transfer; <= 0 = the client's timeout_ms */
    bool direct;                /* never through the proxy (link-local endpoints) */
};
struct fl_raw_resp {
    long http_status;           /* 0 when no answer */
    int curl_code;              /* CURLcode, 0 = the transfer worked */
    char error[160];            /* transport error in words, "" when none */
    const char *body;           /* NUL-terminated; valid only during the callback; wiped after */
    size_t len;
    bool truncated;             /* the answer was longer than FL_RAW_RESP_MAX */
    double ms;
};
typedef void (*fl_raw_done_fn)(const struct fl_raw_resp *r, void *arg);
/* Returns 0 (done is called once, later), or -1 (bad request, no callback). */
int fl_intake_raw(struct fl_intake *in, const struct fl_raw_req *req, fl_raw_done_fn done, void *arg);

/* Abort whatever is in flight (no callbacks), free everything. */
void fl_intake_free(struct fl_intake *in);

#endif
