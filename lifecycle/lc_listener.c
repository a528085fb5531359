/* lc_listener.c — see lc_listener.h. One connection = one bufferevent and
 * one lc_req parser. A complete POST becomes a job; jobs go to the
 * supervisor one at a time, in arrival order: the head job's frames are
 * queued on the peer, and its 200 is written when the peer's queue has
 * been handed to the kernel completely (peer drained). While its job
 * waits, a connection reads nothing more (back-pressure, not buffering). */
#include "refusal.h"
#include "lc_listener.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/resource.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/listener.h>

#include "clock.h"
#include "frame.h"
#include "lc_req.h"
#include "log.h"
#include "testfault.h"

enum cstate { C_READ, C_PENDING, C_CLOSING };

struct job;

struct conn {
    struct lc_listener *l;
    struct bufferevent *bev;
    struct event *deadline; /* the whole request's, armed at its first byte */
    enum cstate st;
    struct job *job;
    struct conn *prev, *next;
    uint64_t t_req_us;      /* first byte of the request being read; 0 = none */
    size_t req_bytes;       /* ... bytes of it so far */
    struct lc_req req;
};

struct job {
    struct conn *c;
    char *body;
    size_t len;
    struct frame_buf *frames;
    size_t n, sent;
    bool built;
    int status; /* the answer once the frames are out */
    struct job *next;
};

struct lc_listener {
    struct event_base *base;
    struct evconnlistener *lev;
    struct peer *sup;
    bool logs;
    struct lc_tele_linectx ctx;
    struct conn *conns, *conns_tail;
    unsigned nconns, njobs;
    struct job *head, *tail;
    unsigned conns_max, request_timeout_ms;
    size_t buffered; /* req_bytes of every connection */
    /* logged once per child (or rarely), counted always */
    unsigned long bad_batches, bad_records;
    struct lc_listener_stats st;
    struct log_limit evict_log;
    bool pressure;               /* FT_PRESSURE full: new batches get 503 */
    unsigned long pressure_503;  /* batches answered 503 for it */
};

/* ---- connections -------------------------------------------------------- */

static void pump(struct lc_listener *l);

static void conn_free(struct conn *c)
{
    struct lc_listener *l = c->l;
    if (c->prev)
        c->prev->next = c->next;
    else
        l->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    else
        l->conns_tail = c->prev;
    l->nconns--;
    l->buffered -= c->req_bytes;
    if (c->job)
        c->job->c = NULL; /* the job still sends its frames; nobody to answer */
    lc_req_free(&c->req);
    if (c->deadline)
        event_free(c->deadline);
    bufferevent_free(c->bev);
    free(c);
}

/* The request is done with (answered, or handed over as a job). */
static void req_clear(struct conn *c)
{
    c->l->buffered -= c->req_bytes;
    c->req_bytes = 0;
    c->t_req_us = 0;
    evtimer_del(c->deadline);
}

static const char *reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 405: return "Method Not Allowed";
    case 413: return "Content Too Large";
    case 417: return "Expectation Failed";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "Error";
    }
}

static void respond(struct conn *c, int status, bool close_after)
{
    struct evbuffer *out = bufferevent_get_output(c->bev);
    evbuffer_add_printf(out, "HTTP/1.1 %d %s\r\nContent-Length: 0\r\n%s\r\n", status, reason(status),
                        close_after ? "Connection: close\r\n" : "");
    if (close_after) {
        c->st = C_CLOSING;
        bufferevent_disable(c->bev, EV_READ);
        bufferevent_enable(c->bev, EV_WRITE);
        return;
    }
    c->st = C_READ;
    lc_req_reset(&c->req);
    bufferevent_enable(c->bev, EV_READ);
    /* a pipelined request may already sit in the input buffer */
    if (evbuffer_get_length(bufferevent_get_input(c->bev)) > 0)
        bufferevent_trigger(c->bev, EV_READ, BEV_TRIG_DEFER_CALLBACKS | BEV_TRIG_IGNORE_WATERMARKS);
}

static bool req_started(const struct conn *c)
{
    return c->req.method[0] || c->req.line_len > 0 ||
           evbuffer_get_length(bufferevent_get_input(c->bev)) > 0;
}

static void on_request(struct conn *c)
{
    struct lc_listener *l = c->l;
    req_clear(c); /* whole: its deadline and its bytes in the budget end here */
    if (strcmp(c->req.method, "POST") != 0) {
        respond(c, 405, !c->req.keep_alive);
        return;
    }
    if (l->njobs >= LC_LS_JOBS_MAX) {
        respond(c, 503, true); /* Lambda retries; the supervisor is far behind */
        return;
    }
    if (l->pressure) {
        /* before a single frame of it exists: Lambda keeps the batch and
         * retries it, so nothing is half-delivered (README "Backpressure") */
        l->pressure_503++;
        respond(c, 503, !c->req.keep_alive);
        return;
    }
    struct job *j = calloc(1, sizeof *j);
    if (j == NULL) {
        respond(c, 503, true);
        return;
    }
    j->c = c;
    j->body = lc_req_take_body(&c->req, &j->len);
    c->job = j;
    c->st = C_PENDING;
    bufferevent_disable(c->bev, EV_READ);
    if (l->tail)
        l->tail->next = j;
    else
        l->head = j;
    l->tail = j;
    l->njobs++;
    pump(l);
}

static bool evict_slowest(struct lc_listener *l, bool started_only, const struct conn **gone);

/* Count n more bytes of c's request: its deadline starts with the first;
 * over the listener's byte budget, the slowest request goes (false: c). */
static bool req_account(struct conn *c, size_t n)
{
    struct lc_listener *l = c->l;
    if (c->t_req_us == 0 && n > 0) {
        c->t_req_us = clock_us();
        struct timeval tv = {(time_t)(l->request_timeout_ms / 1000u),
                             (suseconds_t)(l->request_timeout_ms % 1000u) * 1000};
        evtimer_add(c->deadline, &tv);
    }
    c->req_bytes += n;
    l->buffered += n;
    while (l->buffered > LC_LS_BUFFERED_MAX) {
        l->st.over_budget++;
        const struct conn *gone = NULL;
        if (!evict_slowest(l, true, &gone))
            break; /* only c reads: it is within LC_LS_BODY_MAX */
        if (gone == c)
            return false;
    }
    return true;
}

static void conn_process(struct conn *c)
{
    struct evbuffer *in = bufferevent_get_input(c->bev);
    while (c->st == C_READ) {
        struct evbuffer_iovec v;
        int nv = evbuffer_peek(in, -1, NULL, &v, 1);
        const char *data = nv > 0 ? v.iov_base : "";
        size_t len = nv > 0 ? v.iov_len : 0, used = 0;
        int rc = lc_req_feed(&c->req, data, len, &used);
        evbuffer_drain(in, used);
        if (!req_account(c, used))
            return; /* c was evicted */
        if (rc == LC_REQ_MORE) {
            if (len > 0 && evbuffer_get_length(in) > 0)
                continue;
            break;
        }
        if (rc == LC_REQ_HEADERS) {
            if (c->req.want_continue)
                evbuffer_add_printf(bufferevent_get_output(c->bev), "HTTP/1.1 100 Continue\r\n\r\n");
            continue;
        }
        if (rc == LC_REQ_ERROR) {
            log_debug("telemetry listener: %d %s", c->req.status, c->req.error);
            char ex[160];
            int n = snprintf(ex, sizeof ex, "HTTP %d: %s", c->req.status, c->req.error);
            refusal_note(REF_TELE_REQUEST, 1, ex, n > 0 ? (size_t)n : 0);
            refusal_send(c->l->sup);
            req_clear(c);
            respond(c, c->req.status, true);
            break;
        }
        on_request(c);
    }
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct conn *c = arg;
    c->l->st.timed_out++;
    log_debug("telemetry listener: request not whole within %u ms (%zu bytes); closing",
              c->l->request_timeout_ms, c->req_bytes);
    char ex[96];
    int n = snprintf(ex, sizeof ex, "%zu bytes, not whole within %u ms", c->req_bytes, c->l->request_timeout_ms);
    refusal_note(REF_TELE_REQUEST_CUT, 1, ex, n > 0 ? (size_t)n : 0);
    refusal_send(c->l->sup);
    conn_free(c);
}

static void on_read(struct bufferevent *bev, void *arg)
{
    (void)bev;
    conn_process(arg);
}

static void on_write(struct bufferevent *bev, void *arg)
{
    struct conn *c = arg;
    if (c->st == C_CLOSING && evbuffer_get_length(bufferevent_get_output(bev)) == 0)
        conn_free(c);
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
    (void)bev;
    (void)what;
    conn_free(arg);
}

/* Make room: the oldest idle connection (nothing of a request read; not
 * when started_only), else the slowest request being read. Never one whose
 * batch is with the supervisor. *gone (when not NULL) = the one closed,
 * for comparison only. false when none can go. */
static bool evict_slowest(struct lc_listener *l, bool started_only, const struct conn **gone)
{
    struct conn *idle = NULL, *slow = NULL, *young = NULL;
    double slow_rate = 0, young_rate = 0;
    uint64_t now = clock_us();
    for (struct conn *c = l->conns; c; c = c->next) {
        if (c->st != C_READ)
            continue;
        if (!req_started(c)) {
            if (idle == NULL && !started_only)
                idle = c; /* the list is oldest first */
            continue;
        }
        uint64_t age = c->t_req_us && now > c->t_req_us ? now - c->t_req_us : 1;
        double rate = (double)c->req_bytes / (double)age;
        if (age < (uint64_t)LC_LS_EVICT_GRACE_MS * 1000u) {
            if (young == NULL || rate < young_rate) {
                young = c;
                young_rate = rate;
            }
        } else if (slow == NULL || rate < slow_rate) {
            slow = c;
            slow_rate = rate;
        }
    }
    struct conn *victim = idle ? idle : slow ? slow : young;
    if (victim == NULL)
        return false;
    if (victim == idle) {
        l->st.evicted_idle++;
    } else {
        l->st.evicted_slow++;
        char ex[96];
        int n = snprintf(ex, sizeof ex, "%zu bytes in %.1f s, the slowest of %u", victim->req_bytes,
                         victim->t_req_us ? (double)(now - victim->t_req_us) / 1e6 : 0.0, l->conns_max);
        refusal_note(REF_TELE_REQUEST_CUT, 1, ex, n > 0 ? (size_t)n : 0);
        refusal_send(l->sup);
    }
    unsigned held = 0;
    if (victim != idle && log_limit_pass(&l->evict_log, now, &held))
        log_warn("telemetry listener: all %u connections busy: closed the slowest request (%zu bytes "
                 "in %.1f s); %lu closed so far",
                 l->conns_max, victim->req_bytes,
                 victim->t_req_us ? (double)(now - victim->t_req_us) / 1e6 : 0.0, l->st.evicted_slow);
    if (gone)
        *gone = victim;
    conn_free(victim);
    return true;
}

static void on_accept(struct evconnlistener *lev, evutil_socket_t fd, struct sockaddr *sa, int slen,
                      void *arg)
{
    struct lc_listener *l = arg;
    (void)lev;
    (void)sa;
    (void)slen;
    l->st.accepted++;
    if (l->nconns >= l->conns_max && !evict_slowest(l, false, NULL)) {
        if (l->st.refused++ == 0)
            log_warn("telemetry listener: %u connections wait for the supervisor; refusing more "
                     "(logged once)", l->conns_max);
        evutil_closesocket(fd);
        return;
    }
    struct conn *c = calloc(1, sizeof *c);
    struct bufferevent *bev = c ? bufferevent_socket_new(l->base, fd, BEV_OPT_CLOSE_ON_FREE) : NULL;
    struct event *dl = bev ? evtimer_new(l->base, on_deadline, c) : NULL;
    if (dl == NULL) {
        if (bev)
            bufferevent_free(bev);
        else
            evutil_closesocket(fd);
        free(c);
        return;
    }
    c->l = l;
    c->bev = bev;
    c->deadline = dl;
    c->st = C_READ;
    lc_req_init(&c->req, LC_LS_BODY_MAX);
    c->prev = l->conns_tail;
    if (l->conns_tail)
        l->conns_tail->next = c;
    else
        l->conns = c;
    l->conns_tail = c;
    l->nconns++;
    bufferevent_setcb(bev, on_read, on_write, on_event, c);
    bufferevent_enable(bev, EV_READ | EV_WRITE);
}

/* ---- jobs ----------------------------------------------------------------- */

static void job_done(struct lc_listener *l)
{
    struct job *j = l->head;
    l->head = j->next;
    if (l->head == NULL)
        l->tail = NULL;
    l->njobs--;
    if (j->c) {
        j->c->job = NULL;
        TEST_FAULT("lc_tele"); /* frames handed over, Lambda not answered yet */
        respond(j->c, j->status, !j->c->req.keep_alive || j->status != 200);
    }
    lc_batch_frames_free(j->frames, j->n);
    free(j->body);
    free(j);
}

/* What the batch refused, into this process's tally (the first of each
 * reason is logged there, with the record as its example), then on to the
 * supervisor. An unreadable batch has its own line (below). */
static void note_refusals(struct lc_listener *l, const struct job *j, int rc, const struct lc_tele_stats *st)
{
    (void)l;
    if (rc != LC_TELE_OK && rc != LC_TELE_ENOMEM) {
        refusal_note(REF_TELE_BATCH, 1, NULL, 0);
        return;
    }
    if (st->over_limit > 0) {
        char ex[96];
        int n = snprintf(ex, sizeof ex, "a batch of %zu records, %zu bytes", st->records, j->len);
        refusal_note(REF_TELE_OVER_LIMIT, st->over_limit, ex, n > 0 ? (size_t)n : 0);
    }
    struct {
        enum refusal r;
        size_t n;
        const struct lc_tele_example *ex;
    } k[] = {{REF_TELE_MALFORMED, st->malformed, &st->ex_malformed},
             {REF_TELE_UNKNOWN, st->unknown, &st->ex_unknown},
             {REF_TELE_ILL_TYPED, st->ill_typed, &st->ex_ill_typed},
             {REF_TELE_OUT_OF_RANGE, st->out_of_range, &st->ex_out_of_range}};
    for (size_t i = 0; i < sizeof k / sizeof k[0]; i++) {
        if (k[i].n == 0)
            continue;
        bool in_body = k[i].ex->len > 0 && k[i].ex->off + k[i].ex->len <= j->len;
        const char *field = k[i].r == REF_TELE_ILL_TYPED      ? st->ill_typed_field
                            : k[i].r == REF_TELE_OUT_OF_RANGE ? st->out_of_range_field
                                                              : NULL;
        if (in_body && field) {
            /* the field first, then as much of its record as fits */
            char ex[REFUSAL_EXAMPLE_MAX + 1];
            int n = snprintf(ex, sizeof ex, "%s in %.*s", field, (int)k[i].ex->len, j->body + k[i].ex->off);
            /* n: the length uncut; refusal_note reads at most sizeof ex - 1 */
            refusal_note(k[i].r, k[i].n, ex, n > 0 ? (size_t)n : 0);
            continue;
        }
        refusal_note(k[i].r, k[i].n, in_body ? j->body + k[i].ex->off : NULL, in_body ? k[i].ex->len : 0);
    }
}

static void job_build(struct lc_listener *l, struct job *j)
{
    struct lc_tele_stats st = {0};
    int rc = lc_batch_build(j->body, j->len, l->logs, &l->ctx, &j->frames, &j->n, &st);
    note_refusals(l, j, rc, &st);
    free(j->body);
    j->body = NULL;
    j->built = true;
    j->status = 200;
    if (rc == LC_TELE_ENOMEM) {
        /* nothing is half-sent yet: let Lambda deliver it again */
        log_warn("telemetry listener: out of memory for a batch of %zu bytes; asking for a retry", j->len);
        lc_batch_frames_free(j->frames, j->n);
        j->frames = NULL;
        j->n = 0;
        j->status = 503;
        return;
    }
    if (rc != LC_TELE_OK) {
        /* answered 200 anyway: Lambda would redeliver a poisoned batch forever */
        if (l->bad_batches++ == 0)
            log_warn("telemetry listener: a batch of %zu bytes could not be read (error %d); dropped "
                     "(logged once)", j->len, rc);
    }
    l->bad_records += st.malformed;
    l->st.fields_refused += st.ill_typed + st.out_of_range;
    refusal_send(l->sup);
}

static void pump(struct lc_listener *l)
{
    while (l->head) {
        struct job *j = l->head;
        if (!j->built)
            job_build(l, j);
        while (j->sent < j->n) {
            struct frame_buf *fb = &j->frames[j->sent];
            if (peer_send(l->sup, fb->p, fb->len) == 0) {
                if (peer_queued(l->sup) > 0 && peer_error(l->sup) == NULL)
                    return; /* the queue is full: go on when it drains */
                j->status = 503;
                break;
            }
            j->sent++;
        }
        if (j->status == 200 && peer_queued(l->sup) > 0)
            return; /* answered when the queue is in the kernel */
        job_done(l);
    }
}

void lc_listener_set_pressure(struct lc_listener *l, bool full)
{
    if (l == NULL || l->pressure == full)
        return;
    l->pressure = full;
    log_debug("telemetry listener: backpressure %s (%lu batches answered 503 so far)", full ? "on" : "off",
              l->pressure_503);
}

unsigned long lc_listener_pressure_503(const struct lc_listener *l)
{
    return l ? l->pressure_503 : 0;
}

static void on_drained(struct peer *p, void *arg)
{
    (void)p;
    pump(arg);
}

static void on_listen_error(struct evconnlistener *lev, void *arg)
{
    (void)lev;
    (void)arg;
    /* EMFILE and the like: the kernel keeps the connection queued */
    log_warn("telemetry listener: accept: %s",
             evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
}

struct lc_listener *lc_listener_new(struct event_base *base, int fd, struct peer *sup,
                                    bool logs_enabled)
{
    struct lc_listener *l = calloc(1, sizeof *l);
    if (l == NULL)
        return NULL;
    l->base = base;
    l->sup = sup;
    l->logs = logs_enabled;
    l->request_timeout_ms = LC_LS_REQUEST_TIMEOUT_MS;
    /* slots within the fd budget (Lambda: 1,024), the rest kept for the process */
    l->conns_max = LC_LS_CONNS_MAX;
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
        rl.rlim_cur < (rlim_t)LC_LS_CONNS_MAX + LC_LS_FD_RESERVE)
        l->conns_max = rl.rlim_cur > (rlim_t)LC_LS_CONNS_MIN + LC_LS_FD_RESERVE
                           ? (unsigned)(rl.rlim_cur - LC_LS_FD_RESERVE) : LC_LS_CONNS_MIN;
    /* no LEV_OPT_CLOSE_ON_FREE: the socket is the supervisor's, kept for the next child */
    l->lev = evconnlistener_new(base, on_accept, l, 0, -1, fd);
    if (l->lev == NULL) {
        log_error("telemetry listener: cannot serve socket %d", fd);
        free(l);
        return NULL;
    }
    evconnlistener_set_error_cb(l->lev, on_listen_error);
    peer_set_drained_cb(sup, on_drained, l);
    return l;
}

void lc_listener_free(struct lc_listener *l)
{
    if (l == NULL)
        return;
    while (l->conns)
        conn_free(l->conns);
    while (l->head) {
        struct job *j = l->head;
        l->head = j->next;
        lc_batch_frames_free(j->frames, j->n);
        free(j->body);
        free(j);
    }
    evconnlistener_free(l->lev);
    free(l);
}

void lc_listener_set_limits(struct lc_listener *l, unsigned conns_max, unsigned request_timeout_ms)
{
    if (conns_max)
        l->conns_max = conns_max;
    if (request_timeout_ms)
        l->request_timeout_ms = request_timeout_ms;
}

void lc_listener_get_stats(const struct lc_listener *l, struct lc_listener_stats *out)
{
    *out = l->st;
    out->conns = l->nconns;
    out->conns_max = l->conns_max;
}

void lc_listener_set_memory_mb(struct lc_listener *l, uint32_t memory_mb)
{
    l->ctx.memory_mb = memory_mb;
}
