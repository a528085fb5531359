/* test_lc_http.c — lifecycle/lc_http.c against a scripted server on
 * loopback: every response framing the Runtime API may use, bounds on
 * every part, the request as sent, and no proxy whatever the environment. */
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>

#include "lc_http.h"

struct result {
    int calls;
    int status;
    char ext_id[LC_HTTP_ID_MAX];
    char body[4096];
    size_t body_len;
    char err[256];
    bool failed;
};

static void on_resp(const struct lc_http_resp *r, const char *err, void *arg)
{
    struct result *res = arg;
    res->calls++;
    if (r == NULL) {
        res->failed = true;
        snprintf(res->err, sizeof res->err, "%s", err);
        return;
    }
    res->status = r->status;
    snprintf(res->ext_id, sizeof res->ext_id, "%s", r->ext_id);
    res->body_len = r->body_len;
    memcpy(res->body, r->body, r->body_len < sizeof res->body ? r->body_len : sizeof res->body - 1);
}

static int listen_any(uint16_t *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(listen(fd, 4), 0);
    socklen_t sl = sizeof sa;
    getsockname(fd, (struct sockaddr *)&sa, &sl);
    *port = ntohs(sa.sin_port);
    return fd;
}

static void on_timeout(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    event_base_loopbreak(arg);
}

/* Run one request; the server answers with `chunks` (written one after
 * another with loop turns between) and then closes unless keep_open. The
 * request the server read is left in `req`. */
static void exchange(const char *method, const char *body, const char *const *chunks, size_t n,
                     bool keep_open, struct result *res, char *req, size_t reqcap)
{
    struct event_base *b = event_base_new();
    uint16_t port;
    int lfd = listen_any(&port);
    char hp[32];
    snprintf(hp, sizeof hp, "127.0.0.1:%u", port);
    char err[128];
    struct lc_http *h = lc_http_new(b, hp, err, sizeof err);
    assert_non_null(h);
    const char *hdrs[] = {"Lambda-Extension-Name: forkcap", NULL};
    memset(res, 0, sizeof *res);
    assert_int_equal(lc_http_request(h, method, "/2020-01-01/extension/register", hdrs, body,
                                     body ? strlen(body) : 0, on_resp, res), 0);
    /* a second request while one runs is refused */
    assert_int_equal(lc_http_request(h, "GET", "/x", NULL, NULL, 0, on_resp, res), -1);
    for (int i = 0; i < 5; i++)
        event_base_loop(b, EVLOOP_NONBLOCK);
    int c = accept(lfd, NULL, NULL);
    assert_true(c >= 0);
    for (int i = 0; i < 5; i++)
        event_base_loop(b, EVLOOP_NONBLOCK);
    ssize_t got = recv(c, req, reqcap - 1, MSG_DONTWAIT);
    req[got > 0 ? got : 0] = '\0';
    for (size_t k = 0; k < n; k++) {
        size_t len = strlen(chunks[k]);
        assert_int_equal(send(c, chunks[k], len, MSG_NOSIGNAL), (ssize_t)len);
        for (int i = 0; i < 3; i++)
            event_base_loop(b, EVLOOP_NONBLOCK);
    }
    if (!keep_open)
        close(c);
    struct event *t = evtimer_new(b, on_timeout, b);
    struct timeval tv = {2, 0};
    evtimer_add(t, &tv);
    while (res->calls == 0 && event_base_loop(b, EVLOOP_ONCE) == 0 && evtimer_pending(t, NULL))
        ;
    event_free(t);
    if (keep_open)
        close(c);
    close(lfd);
    lc_http_free(h);
    event_base_free(b);
    assert_int_equal(res->calls, 1);
}

static void one(const char *resp, struct result *res)
{
    char req[4096];
    const char *chunks[] = {resp};
    exchange("GET", NULL, chunks, 1, false, res, req, sizeof req);
}

static void test_content_length_and_request(void **st)
{
    (void)st;
    struct result r;
    char req[4096];
    const char *chunks[] = {"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                            "lambda-extension-identifier:   a1b2-c3  \r\nContent-Length: 26\r\n\r\n"
                            "{\"functionName\":\"fn\",\"x\":1}"};
    /* the server keeps the connection open: Content-Length alone ends it */
    setenv("HTTP_PROXY", "http://127.0.0.1:1", 1);
    setenv("http_proxy", "http://127.0.0.1:1", 1);
    setenv("ALL_PROXY", "http://127.0.0.1:1", 1);
    exchange("POST", "{\"events\":[\"INVOKE\",\"SHUTDOWN\"]}", chunks, 1, true, &r, req, sizeof req);
    unsetenv("HTTP_PROXY");
    unsetenv("http_proxy");
    unsetenv("ALL_PROXY");
    assert_false(r.failed);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.ext_id, "a1b2-c3");
    assert_int_equal(r.body_len, 26);
    assert_memory_equal(r.body, "{\"functionName\":\"fn\",\"x\":1", 26);
    assert_non_null(strstr(req, "POST /2020-01-01/extension/register HTTP/1.1\r\n"));
    assert_non_null(strstr(req, "\r\nLambda-Extension-Name: forkcap\r\n"));
    assert_non_null(strstr(req, "\r\nContent-Length: 32\r\n"));
    assert_non_null(strstr(req, "\r\n\r\n{\"events\":[\"INVOKE\",\"SHUTDOWN\"]}"));
}

static void test_chunked_split_and_until_close(void **st)
{
    (void)st;
    struct result r;
    char req[4096];
    const char *chunked[] = {"HTTP/1.1 403 Forbidden\r\nTransfer-Encoding: chunked\r\n\r\n",
                             "5;ext=1\r\n{\"err", "\r\n", "3\r\nor\"\r\n", "0\r\nX-Trailer: 1\r\n\r\n"};
    exchange("GET", NULL, chunked, 5, true, &r, req, sizeof req);
    assert_false(r.failed);
    assert_int_equal(r.status, 403);
    assert_int_equal(r.body_len, 8);
    assert_memory_equal(r.body, "{\"error\"", 8);
    /* byte by byte */
    static const char full[] = "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nabcd";
    const char *bytes[sizeof full - 1];
    static char one_byte[sizeof full][2];
    for (size_t i = 0; i < sizeof full - 1; i++) {
        one_byte[i][0] = full[i];
        bytes[i] = one_byte[i];
    }
    exchange("GET", NULL, bytes, sizeof full - 1, true, &r, req, sizeof req);
    assert_false(r.failed);
    assert_int_equal(r.body_len, 4);
    /* no length: the body runs until the server closes */
    one("HTTP/1.0 200 OK\r\n\r\nuntil-close", &r);
    assert_false(r.failed);
    assert_int_equal(r.body_len, 11);
    /* an interim 100 Continue is skipped */
    one("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 202 Accepted\r\nContent-Length: 2\r\n\r\nok", &r);
    assert_false(r.failed);
    assert_int_equal(r.status, 202);
}

static void test_malformed_and_oversize(void **st)
{
    (void)st;
    struct result r;
    static const char *const bad[] = {
        "SMTP ready\r\n\r\n",
        "HTTP/1.1 2x0 OK\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 99999999999\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 12abc\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",        /* closed mid-body */
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFF\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n",
        "HTTP/1.1 200 OK\r\nContent-Le",                               /* closed in headers */
        "",                                                            /* closed at once */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        one(bad[i], &r);
        if (!r.failed)
            fail_msg("accepted bad response %zu", i);
    }
    /* headers without an end */
    char *hdr = malloc(LC_HTTP_HDR_MAX + 200);
    strcpy(hdr, "HTTP/1.1 200 OK\r\nX: ");
    memset(hdr + strlen(hdr), 'h', LC_HTTP_HDR_MAX + 100);
    hdr[LC_HTTP_HDR_MAX + 120] = '\0';
    one(hdr, &r);
    assert_true(r.failed);
    free(hdr);
    /* many short header lines adding up to more than the header bound */
    char *many = malloc(LC_HTTP_HDR_MAX + 4096);
    strcpy(many, "HTTP/1.1 200 OK\r\n");
    while (strlen(many) < LC_HTTP_HDR_MAX + 1024)
        strcat(many, "X-A: b\r\n");
    strcat(many, "Content-Length: 0\r\n\r\n");
    one(many, &r);
    assert_true(r.failed);
    free(many);
    /* a body until close that outgrows the bound */
    size_t big = LC_HTTP_BODY_MAX + 4096;
    char *body = malloc(big + 64);
    strcpy(body, "HTTP/1.1 200 OK\r\n\r\n");
    memset(body + strlen(body), 'b', big);
    body[big + 19] = '\0';
    one(body, &r);
    assert_true(r.failed);
    free(body);
    /* an identifier longer than we keep */
    char id[512];
    snprintf(id, sizeof id, "HTTP/1.1 200 OK\r\nLambda-Extension-Identifier: %0300d\r\nContent-Length: 0\r\n\r\n", 7);
    one(id, &r);
    assert_true(r.failed);
}

static void test_connection_refused(void **st)
{
    (void)st;
    struct event_base *b = event_base_new();
    uint16_t port;
    int lfd = listen_any(&port);
    close(lfd); /* nothing listens there now */
    char hp[32], err[128];
    snprintf(hp, sizeof hp, "127.0.0.1:%u", port);
    struct lc_http *h = lc_http_new(b, hp, err, sizeof err);
    struct result r = {0};
    if (lc_http_request(h, "GET", "/", NULL, NULL, 0, on_resp, &r) == 0)
        event_base_dispatch(b);
    else {
        r.failed = true;
        r.calls = 1;
    }
    assert_int_equal(r.calls, 1);
    assert_true(r.failed);
    assert_null(lc_http_new(b, "no-port", err, sizeof err));
    lc_http_free(h);
    event_base_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_content_length_and_request),
        cmocka_unit_test(test_chunked_split_and_until_close),
        cmocka_unit_test(test_malformed_and_oversize),
        cmocka_unit_test(test_connection_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
