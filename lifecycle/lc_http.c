/* lc_http.c — see lc_http.h. The Runtime API's answers are small and
 * simple; a hand-written parser avoids evhttp's default connection timeout
 * and any proxy logic by construction. Every size is bounded. */
#include "lc_http.h"

#include <ctype.h>
#include <netdb.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "config.h"

enum rstate { RS_STATUS, RS_HEADERS, RS_BODY_LEN, RS_BODY_CLOSE, RS_CHUNK_SIZE, RS_CHUNK_DATA,
              RS_CHUNK_CRLF, RS_TRAILER, RS_DONE };

struct lc_http {
    struct event_base *base;
    struct sockaddr_storage addr;
    socklen_t addrlen;
    char hostport[CFG_STR_MAX];
    struct bufferevent *bev;
    lc_http_cb cb;
    void *arg;
    enum rstate st;
    size_t hdr_bytes;
    bool chunked;
    long long content_length;
    size_t chunk_left;
    struct lc_http_resp resp;
    struct evbuffer *body;
    void (*sent)(void *arg);
    void *sent_arg;
};

struct lc_http *lc_http_new(struct event_base *base, const char *hostport, char *err, size_t errlen)
{
    char host[CFG_STR_MAX], port[8];
    uint16_t p;
    if (!cfg_split_hostport(hostport, host, sizeof host, &p)) {
        snprintf(err, errlen, "bad host:port %.100s", hostport);
        return NULL;
    }
    snprintf(port, sizeof port, "%u", p);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(host, port, &hints, &res);
    if (rc != 0 || res == NULL) {
        snprintf(err, errlen, "cannot resolve %.100s: %s", host, gai_strerror(rc));
        return NULL;
    }
    struct lc_http *h = calloc(1, sizeof *h);
    if (h == NULL) {
        freeaddrinfo(res);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    memcpy(&h->addr, res->ai_addr, res->ai_addrlen);
    h->addrlen = res->ai_addrlen;
    freeaddrinfo(res);
    h->base = base;
    snprintf(h->hostport, sizeof h->hostport, "%s", hostport);
    return h;
}

static void reset(struct lc_http *h)
{
    if (h->bev)
        bufferevent_free(h->bev);
    h->bev = NULL;
    if (h->body)
        evbuffer_free(h->body);
    h->body = NULL;
}

void lc_http_free(struct lc_http *h)
{
    if (h == NULL)
        return;
    reset(h);
    free(h);
}

/* Deliver the outcome once and release the connection first, so the
 * callback may start the next request. */
static void finish(struct lc_http *h, const char *err)
{
    lc_http_cb cb = h->cb;
    void *arg = h->arg;
    h->cb = NULL;
    if (bufferevent_get_enabled(h->bev))
        bufferevent_disable(h->bev, EV_READ | EV_WRITE);
    if (err) {
        reset(h);
        cb(NULL, err, arg);
        return;
    }
    struct lc_http_resp r = h->resp;
    size_t n = evbuffer_get_length(h->body);
    evbuffer_add(h->body, "", 1);
    char *copy = malloc(n + 1);
    if (copy == NULL) {
        reset(h);
        cb(NULL, "out of memory", arg);
        return;
    }
    evbuffer_remove(h->body, copy, n + 1);
    r.body = copy;
    r.body_len = n;
    reset(h);
    cb(&r, NULL, arg);
    free(copy);
}

static bool header_is(const char *line, const char *name, const char **value)
{
    size_t n = strlen(name);
    if (strncasecmp(line, name, n) != 0 || line[n] != ':')
        return false;
    const char *v = line + n + 1;
    while (*v == ' ' || *v == '\t')
        v++;
    *value = v;
    return true;
}

static int on_header(struct lc_http *h, char *line)
{
    const char *v;
    size_t n = strlen(line);
    while (n > 0 && (line[n - 1] == ' ' || line[n - 1] == '\t'))
        line[--n] = '\0';
    if (header_is(line, "Content-Length", &v)) {
        char *end;
        long long cl = strtoll(v, &end, 10);
        if (*v == '\0' || *end || cl < 0 || cl > (long long)LC_HTTP_BODY_MAX)
            return -1;
        h->content_length = cl;
    } else if (header_is(line, "Transfer-Encoding", &v)) {
        if (strcasecmp(v, "chunked") == 0)
            h->chunked = true;
        else if (strcasecmp(v, "identity") != 0)
            return -1;
    } else if (header_is(line, "Lambda-Extension-Identifier", &v)) {
        if (strlen(v) >= sizeof h->resp.ext_id)
            return -1;
        snprintf(h->resp.ext_id, sizeof h->resp.ext_id, "%s", v);
    }
    return 0;
}

static bool body_room(struct lc_http *h, size_t more)
{
    return evbuffer_get_length(h->body) + more <= LC_HTTP_BODY_MAX;
}

/* Advance the response parser over what has arrived. */
static void parse(struct lc_http *h, bool eof)
{
    struct evbuffer *in = bufferevent_get_input(h->bev);
    for (;;) {
        size_t len;
        char *line;
        switch (h->st) {
        case RS_STATUS:
        case RS_HEADERS:
        case RS_CHUNK_SIZE:
        case RS_CHUNK_CRLF:
        case RS_TRAILER:
            line = evbuffer_readln(in, &len, EVBUFFER_EOL_CRLF);
            if (line == NULL) {
                if (evbuffer_get_length(in) > LC_HTTP_HDR_MAX)
                    return finish(h, "response line too long");
                if (eof)
                    return finish(h, "connection closed mid-response");
                return;
            }
            h->hdr_bytes += len + 2;
            /* headers alone are held to LC_HTTP_HDR_MAX; chunk-size lines
             * and trailers share a bound with the body they frame */
            if ((h->st <= RS_HEADERS && h->hdr_bytes > LC_HTTP_HDR_MAX) ||
                h->hdr_bytes > LC_HTTP_HDR_MAX + 2 * (size_t)LC_HTTP_BODY_MAX) {
                free(line);
                return finish(h, "response headers too long");
            }
            if (h->st == RS_STATUS) {
                int st = 0;
                if (strncmp(line, "HTTP/1.", 7) != 0 || len < 12 || line[8] != ' ' ||
                    !isdigit((unsigned char)line[9]) || !isdigit((unsigned char)line[10]) ||
                    !isdigit((unsigned char)line[11])) {
                    free(line);
                    return finish(h, "malformed status line");
                }
                st = (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
                free(line);
                if (st >= 100 && st < 200) {
                    h->st = RS_TRAILER; /* skip an interim response's headers */
                    continue;
                }
                h->resp.status = st;
                h->st = RS_HEADERS;
            } else if (h->st == RS_HEADERS) {
                if (len == 0) {
                    free(line);
                    if (h->chunked)
                        h->st = RS_CHUNK_SIZE;
                    else if (h->content_length >= 0)
                        h->st = RS_BODY_LEN;
                    else if (h->resp.status == 204 || h->resp.status == 304)
                        return finish(h, NULL);
                    else
                        h->st = RS_BODY_CLOSE;
                    continue;
                }
                int rc = on_header(h, line);
                free(line);
                if (rc < 0)
                    return finish(h, "bad response header");
            } else if (h->st == RS_CHUNK_SIZE) {
                char *end;
                unsigned long long cs = strtoull(line, &end, 16);
                bool ok = end != line && (*end == '\0' || *end == ';' || *end == ' ');
                free(line);
                if (!ok || cs > LC_HTTP_BODY_MAX || !body_room(h, (size_t)cs))
                    return finish(h, "bad or oversize chunk");
                h->chunk_left = (size_t)cs;
                h->st = cs == 0 ? RS_TRAILER : RS_CHUNK_DATA;
            } else if (h->st == RS_CHUNK_CRLF) {
                free(line);
                if (len != 0)
                    return finish(h, "malformed chunk end");
                h->st = RS_CHUNK_SIZE;
            } else { /* RS_TRAILER (or an interim response's headers) */
                free(line);
                if (len == 0) {
                    if (h->resp.status == 0) {
                        h->st = RS_STATUS;
                        continue;
                    }
                    return finish(h, NULL);
                }
            }
            break;
        case RS_BODY_LEN: {
            size_t want = (size_t)h->content_length - evbuffer_get_length(h->body);
            evbuffer_remove_buffer(in, h->body, want);
            if (evbuffer_get_length(h->body) == (size_t)h->content_length)
                return finish(h, NULL);
            if (eof)
                return finish(h, "connection closed mid-body");
            return;
        }
        case RS_BODY_CLOSE:
            if (!body_room(h, evbuffer_get_length(in)))
                return finish(h, "response body too large");
            evbuffer_remove_buffer(in, h->body, evbuffer_get_length(in));
            if (eof)
                return finish(h, NULL);
            return;
        case RS_CHUNK_DATA: {
            size_t moved = (size_t)evbuffer_remove_buffer(in, h->body, h->chunk_left);
            h->chunk_left -= moved;
            if (h->chunk_left == 0) {
                h->st = RS_CHUNK_CRLF;
                continue;
            }
            if (eof)
                return finish(h, "connection closed mid-chunk");
            return;
        }
        case RS_DONE:
            return;
        }
    }
}

static void on_read(struct bufferevent *bev, void *arg)
{
    (void)bev;
    parse(arg, false);
}

static void on_write(struct bufferevent *bev, void *arg)
{
    struct lc_http *h = arg;
    void (*fn)(void *) = h->sent;
    (void)bev;
    h->sent = NULL;
    if (fn)
        fn(h->sent_arg);
}

void lc_http_on_sent(struct lc_http *h, void (*fn)(void *arg), void *arg)
{
    h->sent = fn;
    h->sent_arg = arg;
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
    struct lc_http *h = arg;
    (void)bev;
    if (what & BEV_EVENT_CONNECTED)
        return;
    if (what & BEV_EVENT_EOF) {
        parse(h, true);
        return;
    }
    char e[400];
    snprintf(e, sizeof e, "connection to %s failed: %s", h->hostport,
             evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
    finish(h, e);
}

int lc_http_request(struct lc_http *h, const char *method, const char *path,
                    const char *const *headers, const char *body, size_t body_len,
                    lc_http_cb cb, void *arg)
{
    if (h->cb != NULL)
        return -1;
    h->bev = bufferevent_socket_new(h->base, -1, BEV_OPT_CLOSE_ON_FREE);
    h->body = evbuffer_new();
    if (h->bev == NULL || h->body == NULL) {
        reset(h);
        return -1;
    }
    h->st = RS_STATUS;
    h->hdr_bytes = 0;
    h->chunked = false;
    h->content_length = -1;
    h->chunk_left = 0;
    memset(&h->resp, 0, sizeof h->resp);
    h->cb = cb;
    h->arg = arg;
    h->sent = NULL;
    struct evbuffer *out = bufferevent_get_output(h->bev);
    evbuffer_add_printf(out, "%s %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n", method, path,
                        h->hostport);
    for (const char *const *hd = headers; hd && *hd; hd++)
        evbuffer_add_printf(out, "%s\r\n", *hd);
    if (body)
        evbuffer_add_printf(out, "Content-Type: application/json\r\nContent-Length: %zu\r\n", body_len);
    else if (strcmp(method, "GET") != 0)
        evbuffer_add_printf(out, "Content-Length: 0\r\n");
    evbuffer_add(out, "\r\n", 2);
    if (body)
        evbuffer_add(out, body, body_len);
    bufferevent_setcb(h->bev, on_read, on_write, on_event, h);
    bufferevent_enable(h->bev, EV_READ | EV_WRITE);
    if (bufferevent_socket_connect(h->bev, (struct sockaddr *)&h->addr, (int)h->addrlen) < 0) {
        h->cb = NULL;
        reset(h);
        return -1;
    }
    return 0;
}
