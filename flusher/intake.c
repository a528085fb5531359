/* intake.c — see intake.h. The libevent glue follows the shape of curl's
 * multi-event example: curl tells us which sockets to watch (sock_cb) and
 * when to call it back (timer_cb); we run curl_multi_socket_action on
 * each event and then harvest finished transfers. */
#include "intake.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <event2/event.h>
#include <openssl/ssl.h>
#include <zstd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "clock.h"
#include "url.h"
#include "intake_int.h"
#include "intake_proxy.h"
#include "intake_session.h"
#include "intake_tls.h"
#include "log.h"

#define RESP_KEEP 512u        /* response bytes kept for error lines */
#define BACKOFF_BASE_MS 100u  /* attempt n waits n * this before the next */

enum xstate { X_QUEUED, X_ACTIVE, X_BACKOFF };

struct flush;

struct xfer {
    struct fl_intake *in;
    struct flush *fl;
    struct payload *pl;
    CURL *easy;
    enum xstate state;
    bool keepable;
    uint64_t t_submit;
    struct event *backoff_ev;
    struct fl_post_result res;
    bool ssl_checked;
    char resp[RESP_KEEP];
    size_t resp_len;
    char errbuf[CURL_ERROR_SIZE];
    /* fl_intake_raw only: the whole answer (bounded) and who gets it */
    char *rbuf;
    size_t rlen, rcap;
    bool rtrunc;
    long raw_timeout_ms;
    fl_raw_done_fn raw_done;
    void *raw_arg;
    struct xfer *prev, *next;
};

struct flush {
    struct fl_intake *in;
    unsigned outstanding;
    uint64_t t0, deadline_us;
    struct event *deadline_ev;
    struct event *done_ev; /* an empty flush still answers from the loop */
    fl_post_done_fn each;
    fl_flush_done_fn done;
    void *arg;
    struct fl_flush_summary sum;
    struct flush *prev, *next;
};

const char *fl_outcome_name(enum fl_outcome o)
{
    switch (o) {
    case FL_OK: return "ok";
    case FL_REJECTED: return "rejected";
    case FL_FORBIDDEN: return "forbidden";
    case FL_FAILED: return "failed";
    case FL_ABORTED: return "aborted";
    case FL_DROPPED: return "dropped";
    }
    return "?";
}

static char *dup_or_empty(const char *s)
{
    return strdup(s ? s : "");
}

/* Remove the proxy's credentials from a curl error text, whatever curl put
 * in it. */
static void scrub(const struct fl_intake *in, char *s)
{
    if (in->proxy_cred[0] == '\0')
        return;
    log_mask(s, in->proxy_cred);
    const char *pw = strchr(in->proxy_cred, ':');
    if (pw)
        log_mask(s, pw + 1);
}

/* ---- curl <-> libevent --------------------------------------------------- */

static void check_multi_info(struct fl_intake *in);

/* Acknowledge at once what arrives on an intake connection. Our exchange is
 * one request and one answer: a delayed ACK (40 ms) has nothing of ours to
 * ride on, and a sender using Nagle's algorithm holds its next small segment
 * until that ACK. tinyproxy relays without TCP_NODELAY: the server's TLS
 * session ticket goes out to us, the HTTP answer right behind it waits for
 * our ACK of the ticket, 40 ms per resumed post through it. TCP_QUICKACK
 * does not stick (the kernel goes back to delayed ACKs once we send), and
 * setting it sends an ACK that is pending, so it is set before curl reads
 * and again after every curl step on the socket (curl may read the ticket
 * in the same step that wrote the request). Errors are ignored: after the
 * step curl may have closed fd (EBADF), and curl's resolver wakeup pipe is
 * not TCP. */
static void quickack(const struct fl_intake *in, evutil_socket_t fd)
{
    if (in->delayed_ack)
        return;
    int one = 1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof one);
}

static void sock_event_cb(evutil_socket_t fd, short what, void *arg)
{
    struct fl_intake *in = arg;
    int action = ((what & EV_READ) ? CURL_CSELECT_IN : 0) | ((what & EV_WRITE) ? CURL_CSELECT_OUT : 0);
    int running = 0;
    if (what & EV_READ)
        quickack(in, fd);
    curl_multi_socket_action(in->multi, fd, action, &running);
    quickack(in, fd);
    check_multi_info(in);
}

/* One socket curl asked us to watch; listed so that closing the multi
 * (close_idle) frees whatever curl did not take back itself. */
struct sockev {
    struct event *ev;
    curl_socket_t fd;
    struct sockev *prev, *next;
};

static void sockev_free(struct fl_intake *in, struct sockev *se)
{
    if (se->prev)
        se->prev->next = se->next;
    else
        in->socks = se->next;
    if (se->next)
        se->next->prev = se->prev;
    event_free(se->ev);
    free(se);
}

static int sock_cb(CURL *e, curl_socket_t s, int what, void *userp, void *socketp)
{
    (void)e;
    struct fl_intake *in = userp;
    struct sockev *se = socketp;
    if (what == CURL_POLL_REMOVE) {
        if (se) {
            curl_multi_assign(in->multi, s, NULL);
            sockev_free(in, se);
        }
        return 0;
    }
    short kind = (short)(((what & CURL_POLL_IN) ? EV_READ : 0) | ((what & CURL_POLL_OUT) ? EV_WRITE : 0) |
                         EV_PERSIST);
    if (se == NULL) {
        se = calloc(1, sizeof *se);
        if (se == NULL)
            return -1;
        se->ev = event_new(in->base, s, kind, sock_event_cb, in);
        if (se->ev == NULL) {
            free(se);
            return -1;
        }
        se->fd = s;
        se->next = in->socks;
        if (in->socks)
            in->socks->prev = se;
        in->socks = se;
        curl_multi_assign(in->multi, s, se);
    } else {
        event_del(se->ev);
        event_assign(se->ev, in->base, s, kind, sock_event_cb, in);
    }
    event_add(se->ev, NULL);
    return 0;
}

static void timer_event_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct fl_intake *in = arg;
    int running = 0;
    curl_multi_socket_action(in->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    check_multi_info(in);
}

static int multi_timer_cb(CURLM *m, long timeout_ms, void *userp)
{
    (void)m;
    struct fl_intake *in = userp;
    if (timeout_ms < 0) {
        evtimer_del(in->timer);
        return 0;
    }
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    evtimer_add(in->timer, &tv);
    return 0;
}

/* Every SSL_CTX curl creates (intake and proxy connections) gets our store
 * and keeps its sessions resumable (intake_session.h). */
static CURLcode ssl_ctx_cb(CURL *easy, void *sslctx, void *parm)
{
    (void)easy;
    struct fl_intake *in = parm;
    SSL_CTX *ctx = sslctx;
    X509_STORE *cur = SSL_CTX_get_cert_store(ctx);
    if (cur != NULL && cur != in->store) {
        /* whatever curl loaded on its own: should stay empty, and is what
         * the stats (and a test) check */
        STACK_OF(X509_OBJECT) *objs = X509_STORE_get0_objects(cur);
        if (objs)
            in->st.curl_store_certs += (uint64_t)sk_X509_OBJECT_num(objs);
    }
    SSL_CTX_set1_cert_store(ctx, in->store);
    fl_tls_session_hook(ctx);
    return CURLE_OK;
}

static size_t header_cb(char *buf, size_t size, size_t nitems, void *userdata)
{
    (void)buf;
    struct xfer *x = userdata;
    /* The connection is closed as soon as the transfer ends, so whether
     * the handshake resumed a session is read while headers arrive. */
    if (!x->ssl_checked) {
        struct curl_tlssessioninfo *ti = NULL;
        if (curl_easy_getinfo(x->easy, CURLINFO_TLS_SSL_PTR, &ti) == CURLE_OK && ti &&
            ti->backend == CURLSSLBACKEND_OPENSSL && ti->internals) {
            SSL *ssl = ti->internals;
            x->res.tls = true;
            x->res.tls_resumed = SSL_session_reused(ssl) == 1;
            x->ssl_checked = true;
        }
    }
    return size * nitems;
}

static size_t write_cb(char *buf, size_t size, size_t nmemb, void *userdata)
{
    struct xfer *x = userdata;
    size_t n = size * nmemb;
    if (x->pl->raw) {
        size_t want = x->rlen + n;
        if (want > FL_RAW_RESP_MAX) {
            x->rtrunc = true;
            want = FL_RAW_RESP_MAX;
        }
        if (want + 1 > x->rcap) {
            size_t cap = x->rcap ? x->rcap : 4096;
            while (cap < want + 1)
                cap *= 2;
            char *nb = realloc(x->rbuf, cap);
            if (nb == NULL)
                return 0; /* curl fails the transfer: reported as a write error */
            x->rbuf = nb;
            x->rcap = cap;
        }
        memcpy(x->rbuf + x->rlen, buf, want - x->rlen);
        x->rlen = want;
        x->rbuf[x->rlen] = '\0';
        return n;
    }
    size_t room = sizeof x->resp - 1 - x->resp_len;
    size_t take = n < room ? n : room;
    memcpy(x->resp + x->resp_len, buf, take);
    x->resp_len += take;
    x->resp[x->resp_len] = '\0';
    return n;
}

/* A multi handle with our callbacks. Several transfers share a connection:
 * HTTP/2 streams on one connection when the intake offers it (PIPEWAIT
 * makes a transfer wait for the first connection's ALPN answer instead of
 * opening its own), else up to FL_INTAKE_HOST_CONNS HTTP/1.1 connections
 * per host, each reused in turn. */
static CURLM *multi_make(struct fl_intake *in)
{
    CURLM *m = curl_multi_init();
    if (m == NULL)
        return NULL;
    curl_multi_setopt(m, CURLMOPT_SOCKETFUNCTION, sock_cb);
    curl_multi_setopt(m, CURLMOPT_SOCKETDATA, in);
    curl_multi_setopt(m, CURLMOPT_TIMERFUNCTION, multi_timer_cb);
    curl_multi_setopt(m, CURLMOPT_TIMERDATA, in);
    curl_multi_setopt(m, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
    curl_multi_setopt(m, CURLMOPT_MAX_HOST_CONNECTIONS, (long)FL_INTAKE_HOST_CONNS);
    curl_multi_setopt(m, CURLMOPT_MAXCONNECTS, (long)FL_INTAKE_HOST_CONNS * 4);
    return m;
}

/* Nothing in flight: close every connection (no idle connection outlives
 * the work it was opened for; a pooled connection would not survive a
 * Lambda freeze). Closing the multi handle closes its connection cache;
 * TLS sessions and DNS answers live on in the share handle, so the next
 * flush's first connection still resumes. */
static void close_idle(struct fl_intake *in)
{
    if (in->xhead != NULL || in->multi == NULL)
        return;
    if (!in->opened)
        return; /* nothing ran since the last close */
    CURLM *fresh = multi_make(in);
    if (fresh == NULL)
        return; /* out of memory: keep the old one, try again next time */
    curl_multi_cleanup(in->multi);
    /* sockets curl closed without telling us */
    while (in->socks)
        sockev_free(in, in->socks);
    evtimer_del(in->timer);
    in->multi = fresh;
    in->opened = false;
    in->st.conn_closes++;
}

/* ---- transfers ----------------------------------------------------------- */

static void xfer_unlink(struct fl_intake *in, struct xfer *x)
{
    if (x->prev)
        x->prev->next = x->next;
    else
        in->xhead = x->next;
    if (x->next)
        x->next->prev = x->prev;
    else
        in->xtail = x->prev;
    x->prev = x->next = NULL;
}

static void xfer_free(struct xfer *x)
{
    if (x->easy)
        curl_easy_cleanup(x->easy);
    if (x->backoff_ev)
        event_free(x->backoff_ev);
    fl_payload_free(x->pl);
    if (x->rbuf) /* may hold a secret: wipe before freeing */
        OPENSSL_cleanse(x->rbuf, x->rcap);
    free(x->rbuf);
    free(x);
}

static void flush_release(struct flush *fl)
{
    struct fl_intake *in = fl->in;
    if (fl->prev)
        fl->prev->next = fl->next;
    else
        in->flushes = fl->next;
    if (fl->next)
        fl->next->prev = fl->prev;
    if (fl->deadline_ev)
        event_free(fl->deadline_ev);
    if (fl->done_ev)
        event_free(fl->done_ev);
    free(fl);
}

static void flush_complete(struct flush *fl)
{
    fl->sum.ms = clock_ms_between(fl->t0, clock_us());
    struct fl_flush_summary s = fl->sum;
    fl_flush_done_fn done = fl->done;
    void *arg = fl->arg;
    flush_release(fl);
    if (done)
        done(&s, arg);
}

void fl_intake_report(struct flush *fl, const struct fl_post_result *r)
{
    switch (r->outcome) {
    case FL_OK: fl->sum.ok++; break;
    case FL_REJECTED: fl->sum.rejected++; break;
    case FL_FORBIDDEN: fl->sum.forbidden++; break;
    case FL_FAILED: fl->sum.failed++; break;
    case FL_ABORTED: fl->sum.aborted++; break;
    case FL_DROPPED: fl->sum.dropped++; break;
    }
    if (fl->each)
        fl->each(r, fl->arg);
}

/* The transfer's final outcome: stats, retry buffer, callbacks, free. */
static void finish(struct xfer *x, enum fl_outcome o)
{
    struct fl_intake *in = x->in;
    struct flush *fl = x->fl;
    x->res.outcome = o;
    x->res.ms = clock_ms_between(x->t_submit, clock_us());
    switch (o) {
    case FL_OK: in->st.ok++; break;
    case FL_REJECTED: in->st.rejected++; break;
    case FL_FORBIDDEN: in->st.forbidden++; break;
    case FL_FAILED: in->st.failed++; break;
    case FL_ABORTED: in->st.aborted++; break;
    case FL_DROPPED: break;
    }
    unsigned held = 0;
    if (o == FL_FORBIDDEN) {
        /* a wrong key stays wrong: said once, then rarely (log.h) */
        if (log_limit_pass(&in->forbidden_log, clock_us(), &held)) {
            char host[FL_HOST_MAX] = "?";
            fl_url_host(x->pl->url, host, sizeof host);
            char more[64] = "";
            if (held)
                snprintf(more, sizeof more, " (%u more since the last such line)", held);
            log_error("intake: %s answered 403 Forbidden: the API key was rejected (check %s)%s", host,
                      in->key_origin[0] ? in->key_origin : "DD_API_KEY", more);
        }
    } else if (o == FL_FAILED || o == FL_ABORTED || o == FL_REJECTED) {
        /* within a flush, its summary line (fl_pipe) speaks for every post,
         * rate-limited; each post's own line is detail */
        char host[FL_HOST_MAX] = "?";
        fl_url_host(x->pl->url, host, sizeof host);
        log_msg(fl ? LOG_DEBUG : LOG_WARN, "intake: %s to %s %s after %u attempt%s: %s",
                x->pl->get ? "GET" : "POST", host,
                o == FL_ABORTED ? "cut off by the flush deadline" : "failed", x->res.attempts,
                x->res.attempts == 1 ? "" : "s", x->res.error[0] ? x->res.error : "-");
    } else if (o == FL_OK) {
        log_limit_reset(&in->forbidden_log);
    }
    xfer_unlink(in, x);
    if ((o == FL_FAILED || o == FL_ABORTED) && x->keepable) {
        curl_easy_cleanup(x->easy);
        x->easy = NULL;
        if (fl_retry_keep(in, x->pl, fl)) {
            x->pl = NULL;
            x->res.kept = true;
        }
    }
    struct fl_post_result r = x->res;
    xfer_free(x);
    close_idle(in);
    if (fl) {
        fl_intake_report(fl, &r);
        if (--fl->outstanding == 0)
            flush_complete(fl);
    }
}

static void pump(struct fl_intake *in);

static int start_attempt(struct xfer *x)
{
    struct fl_intake *in = x->in;
    uint64_t now = clock_us();
    long tmo = x->raw_timeout_ms > 0 ? x->raw_timeout_ms : in->timeout_ms;
    if (x->fl && x->fl->deadline_us) {
        if (now + 1000 >= x->fl->deadline_us)
            return -1;
        uint64_t left_ms = (x->fl->deadline_us - now) / 1000;
        if ((uint64_t)tmo > left_ms)
            tmo = (long)left_ms;
    }
    x->ssl_checked = false;
    x->res.tls = x->res.tls_resumed = false;
    x->resp_len = 0;
    x->resp[0] = '\0';
    x->errbuf[0] = '\0';
    x->rlen = 0;
    x->rtrunc = false;
    curl_easy_setopt(x->easy, CURLOPT_TIMEOUT_MS, tmo);
    curl_easy_setopt(x->easy, CURLOPT_CONNECTTIMEOUT_MS, tmo);
    if (curl_multi_add_handle(in->multi, x->easy) != CURLM_OK)
        return -1;
    x->state = X_ACTIVE;
    in->opened = true;
    x->res.attempts++;
    in->active++;
    in->st.attempts++;
    return 0;
}

static void backoff_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct xfer *x = arg;
    x->state = X_QUEUED;
    pump(x->in);
}

static void pump(struct fl_intake *in)
{
    struct xfer *x = in->xhead;
    while (x && in->active < FL_INTAKE_INFLIGHT_MAX) {
        struct xfer *next = x->next;
        if (x->state == X_QUEUED && start_attempt(x) != 0) {
            if (x->res.error[0] == '\0')
                snprintf(x->res.error, sizeof x->res.error, "no time left before the deadline");
            finish(x, FL_ABORTED);
            /* a callback may have queued more work: rescan from the start */
            next = in->xhead;
        }
        x = next;
    }
}

/* A raw request ends after its one attempt: the caller decides about retries
 * (AWS says "throttled" with a 400 and a JSON body, not with a 429). */
static void finish_raw(struct xfer *x, CURLcode cc, long status)
{
    struct fl_intake *in = x->in;
    struct fl_raw_resp r = {.http_status = status, .curl_code = (int)cc, .body = x->rbuf ? x->rbuf : "",
                            .len = x->rlen, .truncated = x->rtrunc};
    if (cc != CURLE_OK) {
        scrub(in, x->errbuf);
        snprintf(r.error, sizeof r.error, "%.159s", x->errbuf[0] ? x->errbuf : curl_easy_strerror(cc));
    }
    r.ms = clock_ms_between(x->t_submit, clock_us());
    xfer_unlink(in, x);
    fl_raw_done_fn done = x->raw_done;
    void *arg = x->raw_arg;
    if (done)
        done(&r, arg);
    xfer_free(x);
    close_idle(in);
}

/* Is this outcome worth another attempt, and what would it be otherwise? */
static bool classify(struct xfer *x, CURLcode cc, long status, enum fl_outcome *final)
{
    if (cc == CURLE_OK) {
        if (status >= 200 && status < 300) {
            *final = FL_OK;
            return false;
        }
        if (status == 403) {
            *final = FL_FORBIDDEN;
            return false;
        }
        if (status == 408 || status == 429 || status >= 500) {
            *final = FL_FAILED;
            return true;
        }
        *final = FL_REJECTED; /* other 4xx, and 1xx/3xx we do not follow */
        return false;
    }
    *final = FL_FAILED;
    switch (cc) {
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
    case CURLE_NOT_BUILT_IN:
    case CURLE_OUT_OF_MEMORY:
    case CURLE_PEER_FAILED_VERIFICATION: /* the same certificate next time too */
    case CURLE_SSL_CACERT_BADFILE:
        return false;
    default:
        (void)x;
        return true;
    }
}

static void on_transfer_done(struct fl_intake *in, struct xfer *x, CURLcode cc)
{
    curl_multi_remove_handle(in->multi, x->easy);
    in->active--;
    long status = 0, conns = 0, ver = 0;
    curl_off_t up = 0;
    curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(x->easy, CURLINFO_NUM_CONNECTS, &conns);
    curl_easy_getinfo(x->easy, CURLINFO_HTTP_VERSION, &ver);
    curl_easy_getinfo(x->easy, CURLINFO_SIZE_UPLOAD_T, &up);
    curl_off_t t_conn = 0, t_tls = 0, t_first = 0;
    curl_easy_getinfo(x->easy, CURLINFO_CONNECT_TIME_T, &t_conn);
    curl_easy_getinfo(x->easy, CURLINFO_APPCONNECT_TIME_T, &t_tls);
    curl_easy_getinfo(x->easy, CURLINFO_STARTTRANSFER_TIME_T, &t_first);
    x->res.connect_ms = (double)t_conn / 1000.0;
    x->res.tls_ms = (double)t_tls / 1000.0;
    x->res.first_byte_ms = (double)t_first / 1000.0;
    x->res.http_status = status;
    x->res.curl_code = (int)cc;
    x->res.new_conn = conns > 0;
    x->res.h2 = ver == CURL_HTTP_VERSION_2_0;
    x->res.bytes = x->pl->len;
    if (x->res.new_conn)
        in->st.new_conns++;
    else if (cc != CURLE_COULDNT_CONNECT && cc != CURLE_COULDNT_RESOLVE_HOST)
        in->st.reused++;
    if (x->res.tls_resumed)
        in->st.tls_resumed++;
    if (x->res.h2)
        in->st.h2++;
    if (x->pl->raw) {
        finish_raw(x, cc, status);
        return;
    }
    if (cc != CURLE_OK) {
        /* scrub before cutting, so no half credential survives the cut */
        scrub(in, x->errbuf);
        snprintf(x->res.error, sizeof x->res.error, "%.159s", x->errbuf[0] ? x->errbuf : curl_easy_strerror(cc));
    } else if (status < 200 || status >= 300) {
        /* first line of the answer, for the log */
        char body[96];
        size_t i = 0;
        for (; i < x->resp_len && i < sizeof body - 1 && x->resp[i] != '\n' && x->resp[i] != '\r'; i++)
            body[i] = (x->resp[i] >= 0x20 && x->resp[i] < 0x7f) ? x->resp[i] : '?';
        body[i] = '\0';
        snprintf(x->res.error, sizeof x->res.error, "HTTP %ld%s%s", status, i ? ": " : "", body);
    } else {
        x->res.error[0] = '\0';
    }
    enum fl_outcome final;
    bool retry = classify(x, cc, status, &final);
    if (retry && x->res.attempts < FL_INTAKE_ATTEMPTS) {
        unsigned wait_ms = BACKOFF_BASE_MS * x->res.attempts;
        uint64_t next = clock_us() + (uint64_t)wait_ms * 1000u;
        if (x->fl == NULL || x->fl->deadline_us == 0 || next + 1000 < x->fl->deadline_us) {
            log_debug("intake: attempt %u failed (%s), retrying in %u ms", x->res.attempts, x->res.error,
                      wait_ms);
            struct timeval tv = {0, (suseconds_t)wait_ms * 1000};
            x->state = X_BACKOFF;
            if (x->backoff_ev || (x->backoff_ev = evtimer_new(in->base, backoff_cb, x)) != NULL) {
                evtimer_add(x->backoff_ev, &tv);
                return;
            }
        } else {
            final = FL_ABORTED; /* attempts were left; the deadline was not */
        }
    }
    finish(x, final);
}

static void check_multi_info(struct fl_intake *in)
{
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(in->multi, &left)) != NULL) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        struct xfer *x = NULL;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&x);
        if (x)
            on_transfer_done(in, x, msg->data.result);
    }
    pump(in);
}

static void deadline_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct flush *fl = arg;
    struct fl_intake *in = fl->in;
    fl->sum.deadline_hit = true;
    /* finishing the last transfer frees fl: count what is left first */
    unsigned left = fl->outstanding;
    struct xfer *x = in->xhead;
    while (x && left > 0) {
        struct xfer *next = x->next;
        if (x->fl == fl) {
            if (x->state == X_ACTIVE) {
                curl_multi_remove_handle(in->multi, x->easy);
                in->active--;
            } else if (x->state == X_BACKOFF) {
                evtimer_del(x->backoff_ev);
            }
            if (x->res.error[0] == '\0' || x->state == X_ACTIVE)
                snprintf(x->res.error, sizeof x->res.error, "flush deadline reached%s",
                         x->state == X_ACTIVE ? " during the transfer" : "");
            left--;
            finish(x, FL_ABORTED);
        }
        x = next;
    }
    pump(in);
}

static void kick_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    pump(arg);
}

static void empty_done_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    flush_complete(arg);
}

static struct xfer *xfer_new(struct fl_intake *in, struct flush *fl, struct payload *p, bool keepable,
                             uint64_t now)
{
    struct xfer *x = calloc(1, sizeof *x);
    if (x == NULL)
        return NULL;
    x->in = in;
    x->fl = fl;
    x->pl = p;
    x->keepable = keepable;
    x->t_submit = now;
    x->res.tag = p->tag;
    x->res.via_proxy = p->proxied;
    x->res.bytes = p->len;
    x->easy = curl_easy_init();
    if (x->easy == NULL) {
        free(x);
        return NULL;
    }
    CURL *e = x->easy;
    curl_easy_setopt(e, CURLOPT_PRIVATE, (char *)x);
    curl_easy_setopt(e, CURLOPT_URL, p->url);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
#if LIBCURL_VERSION_NUM >= 0x075700
    /* Aborting a transfer whose name lookup still runs (flush deadline)
     * would otherwise join curl's resolver thread: the whole event loop
     * then waits out the resolver's own timeout (5 s per try in glibc).
     * Quick exit lets the thread finish on its own (a small, short-lived
     * leak per such abort). */
    curl_easy_setopt(e, CURLOPT_QUICK_EXIT, 1L);
#endif
    curl_easy_setopt(e, CURLOPT_VERBOSE, in->verbose ? 1L : 0L);
    curl_easy_setopt(e, CURLOPT_SHARE, in->share);
    /* connections are shared by the transfers in flight and closed once
     * nothing is (close_idle); one that sat idle this long (a freeze
     * within a flush) is not reused */
    curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L);
    curl_easy_setopt(e, CURLOPT_MAXAGE_CONN, (long)FL_INTAKE_CONN_MAX_IDLE_S);
    curl_easy_setopt(e, CURLOPT_SSL_SESSIONID_CACHE, in->no_tls_resume ? 0L : 1L);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, p->hdrs);
    curl_easy_setopt(e, CURLOPT_USERAGENT, in->user_agent);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->errbuf);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, header_cb);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
    /* proxy: only what we were given; "" also stops curl's own env lookup */
    curl_easy_setopt(e, CURLOPT_PROXY, p->direct ? "" : in->proxy);
    curl_easy_setopt(e, CURLOPT_NOPROXY, p->direct ? "*" : in->no_proxy);
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION,
                     (in->http1_only || p->proxied) ? (long)CURL_HTTP_VERSION_1_1
                                                    : (long)CURL_HTTP_VERSION_2TLS);
    /* trust: our store via ssl_ctx_cb; curl loads no bundle of its own */
    curl_easy_setopt(e, CURLOPT_CAINFO, NULL);
    curl_easy_setopt(e, CURLOPT_CAPATH, NULL);
    curl_easy_setopt(e, CURLOPT_PROXY_CAINFO, NULL);
    curl_easy_setopt(e, CURLOPT_PROXY_CAPATH, NULL);
    curl_easy_setopt(e, CURLOPT_SSL_CTX_FUNCTION, ssl_ctx_cb);
    curl_easy_setopt(e, CURLOPT_SSL_CTX_DATA, in);
    long verify = in->skip_verify ? 0L : 1L;
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, verify);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, verify ? 2L : 0L);
    curl_easy_setopt(e, CURLOPT_PROXY_SSL_VERIFYPEER, verify);
    curl_easy_setopt(e, CURLOPT_PROXY_SSL_VERIFYHOST, verify ? 2L : 0L);
    if (p->get) {
        curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    } else {
        curl_easy_setopt(e, CURLOPT_POST, 1L);
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, (char *)p->body);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)p->len);
    }
    if (in->xtail) {
        in->xtail->next = x;
        x->prev = in->xtail;
    } else {
        in->xhead = x;
    }
    in->xtail = x;
    x->state = X_QUEUED;
    in->st.posts++;
    return x;
}

static struct flush *flush_new(struct fl_intake *in, uint64_t deadline_us, fl_post_done_fn each,
                               fl_flush_done_fn done, void *arg)
{
    struct flush *fl = calloc(1, sizeof *fl);
    if (fl == NULL)
        return NULL;
    fl->in = in;
    fl->t0 = clock_us();
    fl->deadline_us = deadline_us;
    fl->each = each;
    fl->done = done;
    fl->arg = arg;
    if (deadline_us) {
        fl->deadline_ev = evtimer_new(in->base, deadline_cb, fl);
        if (fl->deadline_ev == NULL) {
            free(fl);
            return NULL;
        }
    }
    fl->next = in->flushes;
    if (in->flushes)
        in->flushes->prev = fl;
    in->flushes = fl;
    return fl;
}

static void flush_arm(struct flush *fl)
{
    if (fl->deadline_ev) {
        uint64_t now = clock_us();
        uint64_t left = fl->deadline_us > now ? fl->deadline_us - now : 0;
        struct timeval tv = {(time_t)(left / 1000000u), (suseconds_t)(left % 1000000u)};
        evtimer_add(fl->deadline_ev, &tv);
    }
}

/* Submit built payloads as one flush. On failure nothing stays queued. */
static int submit(struct fl_intake *in, struct payload **pls, const bool *resent, size_t n, bool keepable,
                  uint64_t deadline_us, fl_post_done_fn each, fl_flush_done_fn done, void *arg)
{
    struct flush *fl = flush_new(in, deadline_us, each, done, arg);
    if (fl == NULL)
        return -1;
    uint64_t now = clock_us();
    if (n == 0) {
        fl->done_ev = evtimer_new(in->base, empty_done_cb, fl);
        if (fl->done_ev == NULL) {
            flush_release(fl);
            return -1;
        }
        struct timeval zero = {0, 0};
        evtimer_add(fl->done_ev, &zero);
        return 0;
    }
    struct xfer *first = NULL;
    size_t i;
    for (i = 0; i < n; i++) {
        struct xfer *x = xfer_new(in, fl, pls[i], keepable, now);
        if (x == NULL)
            break;
        x->res.resent = resent ? resent[i] : false;
        if (first == NULL)
            first = x;
    }
    if (i < n) {
        /* undo: the caller keeps ownership of every payload */
        while (first) {
            struct xfer *next = first->next;
            xfer_unlink(in, first);
            first->pl = NULL;
            in->st.posts--;
            xfer_free(first);
            first = next;
        }
        flush_release(fl);
        return -1;
    }
    fl->outstanding = (unsigned)n;
    fl->sum.posted = (unsigned)n;
    flush_arm(fl);
    /* start from the loop, so no callback runs inside the caller's call
     * (not through curl's timer, which curl may cancel meanwhile) */
    struct timeval zero = {0, 0};
    evtimer_add(in->kick, &zero);
    return 0;
}

/* ---- public --------------------------------------------------------------- */

struct fl_intake *fl_intake_new(struct event_base *base, const struct fl_intake_opts *o, char *err,
                                size_t errlen)
{
    uint64_t t0 = clock_us();
    if (base == NULL || o == NULL) {
        errbuf_set(err, errlen, "intake: no event base or options");
        return NULL;
    }
    if (o->key_later ? (o->api_key != NULL && o->api_key[0] != '\0')
                     : (o->api_key == NULL || o->api_key[0] == '\0' || strnlen(o->api_key, 256) >= 256 ||
                        strpbrk(o->api_key, "\r\n\t :") != NULL)) {
        errbuf_set(err, errlen, "intake: the API key is missing or malformed");
        return NULL;
    }
    static bool curl_ready;
    if (!curl_ready) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
            errbuf_set(err, errlen, "intake: curl_global_init failed");
            return NULL;
        }
        curl_ready = true;
    }
    const curl_version_info_data *vi = curl_version_info(CURLVERSION_NOW);
    if (vi == NULL || vi->ssl_version == NULL || strncmp(vi->ssl_version, "OpenSSL", 7) != 0) {
        errbuf_set(err, errlen, "intake: libcurl is not built with OpenSSL (%s)",
                vi && vi->ssl_version ? vi->ssl_version : "no TLS");
        return NULL;
    }

    struct fl_intake *in = calloc(1, sizeof *in);
    if (in == NULL) {
        errbuf_set(err, errlen, "intake: out of memory");
        return NULL;
    }
    in->base = base;
    in->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : 30000;
    in->http1_only = o->http1_only;
    in->skip_verify = o->skip_verify;
    in->no_tls_resume = o->no_tls_resume;
    in->delayed_ack = o->delayed_ack;
    in->verbose = o->curl_verbose;
    in->zstd_level = o->zstd_level;
    in->retry_cap = o->retry_buffer_bytes ? o->retry_buffer_bytes : FL_INTAKE_RETRY_BUF_DEFAULT;
    in->api_key = strdup(o->key_later ? "" : o->api_key);
    in->proxy = dup_or_empty(o->proxy);
    in->no_proxy = dup_or_empty(o->no_proxy);
    char ua[96];
    snprintf(ua, sizeof ua, "forkcap/%.64s", o->version && o->version[0] ? o->version : "dev");
    in->user_agent = strdup(ua);
    if (!in->api_key || !in->proxy || !in->no_proxy || !in->user_agent) {
        errbuf_set(err, errlen, "intake: out of memory");
        goto fail;
    }
    if (in->proxy[0]) {
        if (strnlen(in->proxy, URL_MAX) >= URL_MAX || strpbrk(in->proxy, " \r\n\t")) {
            errbuf_set(err, errlen, "intake: the proxy URL is too long or holds blanks");
            goto fail;
        }
        const char *ui;
        size_t n;
        if (url_userinfo(in->proxy, &ui, &n) && n < sizeof in->proxy_cred)
            snprintf(in->proxy_cred, sizeof in->proxy_cred, "%.*s", (int)n, ui);
    }

    struct fl_tls_store_info info;
    char e2[480];
    in->store = fl_tls_store_load(o->ca_file, o->extra_ca_file, &info, e2, sizeof e2);
    if (in->store == NULL) {
        if (!o->skip_verify) {
            errbuf_set(err, errlen, "intake: %s", e2);
            goto fail;
        }
        /* nothing is verified anyway: an empty store will do */
        in->store = X509_STORE_new();
        if (in->store == NULL) {
            errbuf_set(err, errlen, "intake: out of memory");
            goto fail;
        }
    }
    in->st.ca_certs = info.bundle_certs + info.extra_certs;

    in->multi = multi_make(in);
    in->share = curl_share_init();
    in->timer = evtimer_new(base, timer_event_cb, in);
    in->kick = evtimer_new(base, kick_cb, in);
    if (!in->multi || !in->share || !in->timer || !in->kick) {
        errbuf_set(err, errlen, "intake: out of memory setting up curl");
        goto fail;
    }
    curl_share_setopt(in->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
    curl_share_setopt(in->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    in->tls_setup_ms = clock_ms_between(t0, clock_us());

    char proxy_shown[URL_MAX];
    fl_redact_url(in->proxy, proxy_shown, sizeof proxy_shown);
    log_info("intake: TLS client ready in %.1f ms (CA bundle %s: %u certs, DD_TLS_CERT_FILE: %u; "
             "proxy %s%s%s; %s)",
             in->tls_setup_ms, info.bundle[0] ? info.bundle : "none", info.bundle_certs,
             info.extra_certs, in->proxy[0] ? proxy_shown : "none",
             in->no_proxy[0] ? ", no_proxy " : "", in->no_proxy[0] ? in->no_proxy : "",
             in->http1_only ? "HTTP/1.1"
             : in->proxy[0] ? "HTTP/1.1 through the proxy, HTTP/2 when offered direct"
                            : "HTTP/2 when offered");
    if (in->skip_verify)
        log_warn("intake: DD_SKIP_SSL_VALIDATION is set: intake certificates are NOT verified");
    return in;
fail:
    fl_intake_free(in);
    return NULL;
}

double fl_intake_tls_setup_ms(const struct fl_intake *in)
{
    return in->tls_setup_ms;
}

int fl_intake_flush(struct fl_intake *in, const struct fl_post *posts, size_t n, uint64_t deadline_us,
                    unsigned flags, fl_post_done_fn each, fl_flush_done_fn done, void *arg)
{
    if (deadline_us == 0 || (n > 0 && posts == NULL))
        return -1;
    size_t nkept = 0;
    if (flags & FL_FLUSH_RESEND_KEPT)
        for (struct payload *p = in->kept_head; p; p = p->next)
            nkept++;
    size_t total = nkept + n;
    struct payload **pls = calloc(total ? total : 1, sizeof *pls);
    bool *resent = calloc(total ? total : 1, sizeof *resent);
    if (pls == NULL || resent == NULL) {
        free(pls);
        free(resent);
        return -1;
    }
    char err[200];
    for (size_t i = 0; i < n; i++) {
        pls[nkept + i] = fl_payload_build(in, &posts[i], false, err, sizeof err);
        if (pls[nkept + i] == NULL) {
            log_warn("intake: flush refused: %s", err);
            for (size_t j = 0; j < i; j++)
                fl_payload_free(pls[nkept + j]);
            free(pls);
            free(resent);
            return -1;
        }
    }
    /* the retry buffer goes first: it holds the oldest data */
    struct payload *p = in->kept_head;
    for (size_t i = 0; i < nkept; i++, p = p->next) {
        pls[i] = p;
        resent[i] = true;
    }
    int rc = submit(in, pls, resent, total, true, deadline_us, each, done, arg);
    if (rc == 0 && nkept) {
        in->kept_head = in->kept_tail = NULL;
        in->st.kept = in->st.kept_bytes = 0;
    } else if (rc != 0) {
        for (size_t i = nkept; i < total; i++)
            fl_payload_free(pls[i]);
    }
    free(pls);
    free(resent);
    return rc;
}

int fl_intake_post(struct fl_intake *in, const struct fl_post *req, uint64_t deadline_us,
                   fl_post_done_fn done, void *arg)
{
    char err[200];
    struct payload *p = fl_payload_build(in, req, false, err, sizeof err);
    if (p == NULL) {
        log_warn("intake: post refused: %s", err);
        return -1;
    }
    if (submit(in, &p, NULL, 1, true, deadline_us, done, NULL, arg) != 0) {
        fl_payload_free(p);
        return -1;
    }
    return 0;
}

struct validate_ctx {
    fl_validate_fn cb;
    void *arg;
};

static void validate_done(const struct fl_post_result *r, void *arg)
{
    struct validate_ctx *v = arg;
    int valid = -1;
    if (r->outcome == FL_OK)
        valid = 1;
    else if (r->outcome == FL_FORBIDDEN)
        valid = 0; /* finish() already logged the one error line */
    else
        log_warn("intake: API key check inconclusive: %s", r->error[0] ? r->error : fl_outcome_name(r->outcome));
    fl_validate_fn cb = v->cb;
    void *cb_arg = v->arg;
    free(v);
    if (cb)
        cb(valid, r->http_status, cb_arg);
}

int fl_intake_validate(struct fl_intake *in, const char *url, uint64_t deadline_us, fl_validate_fn cb,
                       void *arg)
{
    struct fl_post req = {.url = url};
    char err[200];
    struct payload *p = fl_payload_build(in, &req, true, err, sizeof err);
    if (p == NULL) {
        log_warn("intake: key check refused: %s", err);
        return -1;
    }
    struct validate_ctx *v = calloc(1, sizeof *v);
    if (v == NULL) {
        fl_payload_free(p);
        return -1;
    }
    v->cb = cb;
    v->arg = arg;
    if (submit(in, &p, NULL, 1, false, deadline_us, validate_done, NULL, v) != 0) {
        fl_payload_free(p);
        free(v);
        return -1;
    }
    return 0;
}

int fl_intake_set_api_key(struct fl_intake *in, const char *key, const char *origin)
{
    /* a secret is used whole, as Datadog does (a JSON secret string too):
     * anything printable goes, the intake then says whether it is a key */
    if (key == NULL || key[0] == '\0' || strnlen(key, 256) >= 256)
        return -1;
    for (const char *q = key; *q; q++)
        if ((unsigned char)*q <= 0x20 || (unsigned char)*q >= 0x7f)
            return -1;
    char *k = strdup(key);
    if (k == NULL)
        return -1;
    if (in->api_key)
        OPENSSL_cleanse(in->api_key, strlen(in->api_key));
    free(in->api_key);
    in->api_key = k;
    snprintf(in->key_origin, sizeof in->key_origin, "%s", origin ? origin : "");
    return 0;
}

int fl_intake_raw(struct fl_intake *in, const struct fl_raw_req *req, fl_raw_done_fn done, void *arg)
{
    if (req == NULL || req->url == NULL || strnlen(req->url, URL_MAX) >= URL_MAX ||
        (strncmp(req->url, "https://", 8) != 0 && strncmp(req->url, "http://", 7) != 0) ||
        req->len > FL_RAW_BODY_MAX || (req->len > 0 && req->body == NULL))
        return -1;
    struct payload *p = calloc(1, sizeof *p);
    if (p == NULL)
        return -1;
    p->raw = true;
    p->direct = req->direct;
    p->get = !req->post;
    p->url = strdup(req->url);
    p->proxied = !req->direct && fl_proxy_applies(req->url, in->proxy, in->no_proxy);
    bool ok = p->url != NULL && fl_payload_append_hdr(&p->hdrs, "Expect:");
    size_t nh = 0;
    for (; ok && req->headers && req->headers[nh]; nh++) {
        const char *h = req->headers[nh];
        size_t n = strnlen(h, FL_RAW_HEADER_MAX);
        const char *colon = strchr(h, ':');
        if (nh >= FL_RAW_HEADERS_MAX || n == 0 || n >= FL_RAW_HEADER_MAX || colon == NULL || colon == h ||
            strpbrk(h, "\r\n") != NULL) {
            ok = false;
            break;
        }
        struct curl_slist *l = curl_slist_append(p->hdrs, h);
        if (l == NULL)
            ok = false;
        else
            p->hdrs = l;
    }
    if (ok && req->post) {
        p->body = malloc(req->len ? req->len : 1);
        if (p->body == NULL)
            ok = false;
        else if (req->len)
            memcpy(p->body, req->body, req->len);
        p->len = req->len;
    }
    if (!ok) {
        fl_payload_free(p);
        return -1;
    }
    struct xfer *x = xfer_new(in, NULL, p, false, clock_us());
    if (x == NULL) {
        fl_payload_free(p);
        return -1;
    }
    in->st.posts--; /* not an intake post */
    x->raw_done = done;
    x->raw_arg = arg;
    x->raw_timeout_ms = req->timeout_ms;
    struct timeval zero = {0, 0};
    evtimer_add(in->kick, &zero);
    return 0;
}

void fl_intake_stats(const struct fl_intake *in, struct fl_intake_stats *out)
{
    *out = in->st;
}

void fl_intake_free(struct fl_intake *in)
{
    if (in == NULL)
        return;
    while (in->xhead) {
        struct xfer *x = in->xhead;
        if (x->state == X_ACTIVE)
            curl_multi_remove_handle(in->multi, x->easy);
        xfer_unlink(in, x);
        if (x->fl && x->fl->each == validate_done)
            free(x->fl->arg);
        xfer_free(x);
    }
    while (in->flushes)
        flush_release(in->flushes);
    fl_retry_free(in);
    if (in->multi)
        curl_multi_cleanup(in->multi);
    while (in->socks)
        sockev_free(in, in->socks);
    if (in->share)
        curl_share_cleanup(in->share);
    if (in->timer)
        event_free(in->timer);
    if (in->kick)
        event_free(in->kick);
    if (in->store)
        X509_STORE_free(in->store);
    if (in->api_key)
        OPENSSL_cleanse(in->api_key, strlen(in->api_key));
    free(in->api_key);
    free(in->proxy);
    free(in->no_proxy);
    free(in->user_agent);
    free(in);
}
