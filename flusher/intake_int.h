/* intake_int.h — inside the intake client only (intake.c, intake_retry.c):
 * the client's state, payloads and the retry buffer; not for other modules. */
#ifndef FORKCAP_FL_INTAKE_INT_H
#define FORKCAP_FL_INTAKE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>
#include <event2/event.h>
#include <openssl/x509_vfy.h>

#include "errbuf.h"
#include "intake.h"
#include "log.h"

#define URL_MAX 2048u

/* A request ready to send; owned by one transfer or by the retry buffer. */
struct payload {
    char *url;
    struct curl_slist *hdrs;
    unsigned char *body;
    size_t len;
    uint64_t tag;
    bool proxied;
    bool get; /* the key check */
    bool raw;    /* fl_intake_raw: the caller's headers only, one attempt */
    bool direct; /* fl_intake_raw: never through the proxy */
    struct payload *next; /* retry buffer link */
};

struct xfer;
struct flush;

struct fl_intake {
    struct event_base *base;
    CURLM *multi;
    CURLSH *share;
    struct event *timer;
    struct event *kick; /* starts newly queued transfers from the loop */
    X509_STORE *store;
    double tls_setup_ms;
    /* options, copied */
    char *api_key, *proxy, *no_proxy, *user_agent;
    char key_origin[40]; /* the variable the key came from, for the 403 line */
    char proxy_cred[256]; /* "user:pass" of the proxy URL, scrubbed from curl errors */
    long timeout_ms;
    bool http1_only, skip_verify, no_tls_resume, delayed_ack, verbose;
    int zstd_level;
    size_t retry_cap;
    /* state */
    struct xfer *xhead, *xtail;
    struct flush *flushes;
    unsigned active;
    struct payload *kept_head, *kept_tail;
    struct fl_intake_stats st;
    struct log_limit forbidden_log;
};

/* intake.c */
/* Count r in the flush's summary and hand it to the flush's callback. */
void fl_intake_report(struct flush *fl, const struct fl_post_result *r);

/* intake_retry.c */
void fl_payload_free(struct payload *p);
/* Bytes a kept payload is charged against the retry buffer's cap. */
size_t fl_payload_cost(const struct payload *p);
/* Append one header line (printf); false when too long or out of memory. */
bool fl_payload_append_hdr(struct curl_slist **l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A checked request as a payload (get: the key check, no body); NULL with
 * a one-line reason in err. */
struct payload *fl_payload_build(struct fl_intake *in, const struct fl_post *r, bool get, char *err,
                                 size_t errlen);
/* Take ownership of p into the retry buffer; drops the oldest while over
 * the cap (each reported to fl as FL_DROPPED). False when p itself could not
 * be kept (then the caller still owns it). */
bool fl_retry_keep(struct fl_intake *in, struct payload *p, struct flush *fl);
/* Free every payload still in the retry buffer. */
void fl_retry_free(struct fl_intake *in);

#endif
