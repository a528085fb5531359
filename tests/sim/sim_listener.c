/* sim_listener.c — test helper for lambda-sim: a telemetry listener (HTTP,
 * one line per POSTed body, can fail the first N POSTs) or a UDP sink. */
#include <errno.h>
#include <signal.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/listener.h>
#include <event2/event.h>
#include <event2/http.h>

struct lst {
    FILE *out;
    int drop_reused;            /* a second request on a connection: closed unanswered */
    struct evhttp_connection *served[64];
    unsigned n_served;
    int fail_first;
    int seen;
    int stamp;
    int hex;                    /* "<uri> <body in hex>" per request (binary bodies) */
};

#include <time.h>
static long long lst_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void lst_conn_closed(struct evhttp_connection *c, void *arg)
{
    struct lst *l = arg;
    for (unsigned i = 0; i < 64; i++)
        if (l->served[i] == c)
            l->served[i] = NULL;  /* its address may come back for a new connection */
}

static void lst_http(struct evhttp_request *req, void *arg)
{
    struct lst *l = arg;
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t n = evbuffer_get_length(in);
    if (l->drop_reused) {
        /* as a server whose keep-alive timer fired just as the request came */
        struct evhttp_connection *c = evhttp_request_get_connection(req);
        for (unsigned i = 0; i < 64; i++)
            if (c && l->served[i] == c) {
                evutil_socket_t fd = bufferevent_getfd(evhttp_connection_get_bufferevent(c));
                if (fd >= 0)
                    shutdown(fd, SHUT_RDWR);
                evhttp_send_error(req, 500, NULL);
                return;
            }
        l->served[l->n_served++ % 64] = c;
        evhttp_connection_set_closecb(c, lst_conn_closed, l);
    }
    l->seen++;
    if (l->seen <= l->fail_first) {
        evhttp_send_reply(req, 500, "Internal Server Error", NULL);
        return;
    }
    char *b = malloc(n + 1);
    if (!b) {
        evhttp_send_reply(req, 500, "Internal Server Error", NULL);
        return;
    }
    evbuffer_copyout(in, b, n);
    b[n] = '\0';
    if (l->stamp)
        fprintf(l->out, "%lld ", lst_now_ms());
    if (l->hex) {
        fprintf(l->out, "%s ", evhttp_request_get_uri(req));
        for (size_t i = 0; i < n; i++)
            fprintf(l->out, "%02x", (unsigned char)b[i]);
        fputc('\n', l->out);
    } else {
        fprintf(l->out, "%s\n", b);
    }
    fflush(l->out);
    free(b);
    evhttp_send_reply(req, 200, "OK", NULL);
}

static void lst_udp(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    struct lst *l = arg;
    char buf[65536];
    ssize_t n = recv(fd, buf, sizeof buf - 1, 0);
    if (n <= 0)
        return;
    buf[n] = '\0';
    fprintf(l->out, "%s\n", buf);
    fflush(l->out);
}

/* --tcp: every byte received on any connection, as is (NDJSON lines) */
static void lst_tcp_read(struct bufferevent *bev, void *arg)
{
    struct lst *l = arg;
    char buf[65536];
    size_t n;
    while ((n = bufferevent_read(bev, buf, sizeof buf)) > 0)
        fwrite(buf, 1, n, l->out);
    fflush(l->out);
}

static void lst_tcp_event(struct bufferevent *bev, short what, void *arg)
{
    (void)what;
    (void)arg;
    bufferevent_free(bev);
}

static void lst_tcp_accept(struct evconnlistener *lev, evutil_socket_t fd, struct sockaddr *sa, int sl, void *arg)
{
    (void)sa;
    (void)sl;
    struct bufferevent *bev = bufferevent_socket_new(evconnlistener_get_base(lev), fd, BEV_OPT_CLOSE_ON_FREE);
    if (!bev) {
        evutil_closesocket(fd);
        return;
    }
    bufferevent_setcb(bev, lst_tcp_read, NULL, lst_tcp_event, arg);
    bufferevent_enable(bev, EV_READ);
}

int main(int argc, char **argv)
{
    const char *port_file = NULL, *out = NULL;
    struct lst l = { 0 };
    int udp = 0, tcp = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--port-file") == 0 && i + 1 < argc)
            port_file = argv[++i];
        else if (strcmp(argv[i], "--out") == 0 && i + 1 < argc)
            out = argv[++i];
        else if (strcmp(argv[i], "--fail-first") == 0 && i + 1 < argc)
            l.fail_first = atoi(argv[++i]);
        else if (strcmp(argv[i], "--udp") == 0)
            udp = 1;
        else if (strcmp(argv[i], "--tcp") == 0)
            tcp = 1;
        else if (strcmp(argv[i], "--drop-reused") == 0)
            l.drop_reused = 1;
        else if (strcmp(argv[i], "--stamp") == 0)
            l.stamp = 1;
        else if (strcmp(argv[i], "--hex") == 0)
            l.hex = 1;
        else {
            fprintf(stderr, "usage: sim_listener --port-file F --out F [--fail-first N] [--drop-reused] [--udp | --tcp] [--stamp] [--hex]\n");
            return 2;
        }
    }
    if (!port_file || !out)
        return 2;
    signal(SIGPIPE, SIG_IGN);  /* --drop-reused writes to connections it shut down */
    l.out = fopen(out, "a");
    if (!l.out)
        return 2;
    struct event_base *base = event_base_new();
    int port;
    if (udp) {
        int fd = socket(AF_INET, SOCK_DGRAM, 0);
        struct sockaddr_in sa = { .sin_family = AF_INET };
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t sl = sizeof sa;
        if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0
            || getsockname(fd, (struct sockaddr *)&sa, &sl) < 0)
            return 2;
        port = ntohs(sa.sin_port);
        event_add(event_new(base, fd, EV_READ | EV_PERSIST, lst_udp, &l), NULL);
    } else if (tcp) {
        struct sockaddr_in sa = { .sin_family = AF_INET };
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        struct evconnlistener *lev = evconnlistener_new_bind(base, lst_tcp_accept, &l,
                                                             LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, -1,
                                                             (struct sockaddr *)&sa, sizeof sa);
        socklen_t sl = sizeof sa;
        if (!lev || getsockname(evconnlistener_get_fd(lev), (struct sockaddr *)&sa, &sl) < 0)
            return 2;
        port = ntohs(sa.sin_port);
    } else {
        struct evhttp *http = evhttp_new(base);
        evhttp_set_gencb(http, lst_http, &l);
        struct evhttp_bound_socket *bs = evhttp_bind_socket_with_handle(http, "127.0.0.1", 0);
        if (!bs)
            return 2;
        struct sockaddr_in sa;
        socklen_t sl = sizeof sa;
        if (getsockname(evhttp_bound_socket_get_fd(bs), (struct sockaddr *)&sa, &sl) < 0)
            return 2;
        port = ntohs(sa.sin_port);
    }
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", port_file);
    FILE *f = fopen(tmp, "w");
    if (!f || fprintf(f, "%d\n", port) < 0 || fclose(f) != 0 || rename(tmp, port_file) < 0)
        return 2;
    event_base_dispatch(base);
    return 0;
}
