/* ik_conn.c — fake-intake's connections: accepting, HTTP/1.1 processing,
 * delayed and reset answers, idle and linger timers, and the bufferevent
 * callbacks that drive both protocols. Contract: ik_server.h. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <openssl/err.h>

#include "ik_server.h"

static const char *reason(int status)
{
	switch (status) {
	case 100: return "Continue";
	case 200: return "OK";
	case 202: return "Accepted";
	case 400: return "Bad Request";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 413: return "Payload Too Large";
	case 415: return "Unsupported Media Type";
	case 417: return "Expectation Failed";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	case 505: return "HTTP Version Not Supported";
	default: return "Status";
	}
}

void ik_conn_free(struct conn *c, int rst)
{
	struct server *s = c->srv;
	if (c->prev)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	if (c->pending) {
		ik_capture_write(s, c->pending, -1, rst ? NULL : "connection closed before the answer");
		ik_request_free(c->pending);
	}
	while (c->streams) {
		struct request *r = c->streams;
		c->streams = r->next;
		ik_capture_write(s, r, -1, rst ? NULL : "connection closed before the answer");
		ik_request_free(r);
	}
	if (c->h2)
		nghttp2_session_del(c->h2);
	if (c->idle_ev)
		event_free(c->idle_ev);
	if (c->linger_ev)
		event_free(c->linger_ev);
	ik_h1_free(&c->parser);
	if (c->bev) {
		evutil_socket_t fd = bufferevent_getfd(c->bev);
		if (rst && fd >= 0) {
			/* linger 0: close() sends RST instead of FIN */
			struct linger l = { 1, 0 };
			setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
		}
		if (c->ssl) {
			if (rst || !c->connected)
				SSL_set_quiet_shutdown(c->ssl, 1);
			else
				SSL_shutdown(c->ssl); /* close_notify, as a real server sends */
		}
		bufferevent_free(c->bev); /* frees the SSL and closes the socket */
	}
	free(c);
}

/* Callbacks run with depth > 0; a connection doomed meanwhile is freed when
 * the outermost callback leaves, never under a caller's feet. */
void ik_conn_kill(struct conn *c, int rst)
{
	if (c->depth) {
		if (c->doom < 1 + rst)
			c->doom = 1 + rst;
		return;
	}
	ik_conn_free(c, rst);
}

static void conn_enter(struct conn *c)
{
	c->depth++;
}

/* Returns 0 when the connection is gone. */
static int conn_leave(struct conn *c)
{
	if (c->depth == 1 && !c->doom && c->is_h2)
		ik_h2_send(c);
	if (--c->depth == 0 && c->doom) {
		ik_conn_free(c, c->doom == 2);
		return 0;
	}
	return 1;
}

static int conn_busy(struct conn *c)
{
	if (c->is_h2)
		return c->streams != NULL;
	return c->pending || c->parser.head_len > 0 ||
	       evbuffer_get_length(bufferevent_get_output(c->bev)) > 0;
}

static void idle_cb(evutil_socket_t fd, short what, void *arg);

static void conn_arm_idle(struct conn *c)
{
	long ms = c->srv->idle_close_ms;
	if (ms <= 0)
		return;
	if (!c->idle_ev && !(c->idle_ev = evtimer_new(c->srv->base, idle_cb, c)))
		return;
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
	evtimer_add(c->idle_ev, &tv);
}

static void idle_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct conn *c = arg;
	/* "idle" is a kept-alive connection between requests: one that has not
	 * carried a request yet may still be in its (slow) TLS handshake */
	if (conn_busy(c) || c->nreq == 0) {
		conn_arm_idle(c);
		return;
	}
	ik_log(c->srv, "DEBUG", "conn %llu idle for %ld ms: closing", (unsigned long long)c->serial,
	      c->srv->idle_close_ms);
	ik_conn_kill(c, 0);
}

static void h1_process(struct conn *c);

static void h1_answer(struct conn *c, struct request *r)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);
	int ka = c->parser.keep_alive && !c->close_after_write;
	/* an HTTP/1.0 client only keeps the connection when told so */
	const char *conn_hdr = !ka ? "Connection: close\r\n" : c->parser.minor == 0 ? "Connection: keep-alive\r\n" : "";
	evbuffer_add_printf(out, "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n%s\r\n",
			    r->status, reason(r->status), r->resp_len, conn_hdr);
	evbuffer_add(out, r->resp, r->resp_len);
	if (!ka) {
		c->close_after_write = 1;
		if (!c->linger)
			bufferevent_disable(c->bev, EV_READ);
	}
	if (c->pending == r)
		c->pending = NULL;
	ik_request_free(r);
	ik_h1_reset(&c->parser);
	c->continue_sent = 0;
	conn_arm_idle(c);
}

/* Answers (or resets) a request whose delay, if any, is over. */
static void answer(struct conn *c, struct request *r)
{
	struct server *s = c->srv;
	if (r->reset) {
		ik_capture_write(s, r, -1, NULL);
		ik_log(s, "INFO", "conn %llu: reset injected on %s", (unsigned long long)c->serial, r->path);
		/* HTTP/2 streams and a delayed HTTP/1 request die with the connection */
		if (!c->is_h2 && c->pending != r)
			ik_request_free(r);
		ik_conn_kill(c, 1);
		return;
	}
	ik_capture_write(s, r, r->status, NULL);
	if (c->is_h2)
		ik_h2_answer(c, r);
	else
		h1_answer(c, r);
}

static void delay_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct request *r = arg;
	struct conn *c = r->c;
	conn_enter(c);
	answer(c, r);
	if (!c->doom && !c->is_h2)
		h1_process(c);
	conn_leave(c);
}

void ik_dispatch(struct conn *c, struct request *r)
{
	ik_request_evaluate(c->srv, c, r);
	if (r->delay_ms > 0 && !r->control) {
		/* libevent measures from the loop's cached time, which may be
		 * stale by now: refresh it so the delay is never short */
		event_base_update_cache_time(c->srv->base);
		r->delay_ev = evtimer_new(c->srv->base, delay_cb, r);
		struct timeval tv = { r->delay_ms / 1000, (r->delay_ms % 1000) * 1000 };
		if (r->delay_ev && evtimer_add(r->delay_ev, &tv) == 0) {
			c->srv->delayed++;
			if (!c->is_h2)
				c->pending = r;
			return;
		}
	}
	answer(c, r);
}

static struct request *request_from_h1(struct conn *c)
{
	struct ik_h1 *p = &c->parser;
	struct request *r = ik_request_new(c);
	if (!r)
		return NULL;
	r->method = strdup(p->method ? p->method : "");
	r->path = strdup(p->path ? p->path : "");
	r->query = strdup(p->query ? p->query : "");
	for (size_t i = 0; i < p->nheaders; i++)
		ik_header_add(r->headers, p->headers[i].name, p->headers[i].value, strlen(p->headers[i].value));
	r->wire = p->body;
	r->wire_len = p->body_len;
	p->body = NULL;
	p->body_len = 0;
	p->body_cap = 0;
	if (!r->method || !r->path || !r->query) {
		ik_request_free(r);
		return NULL;
	}
	return r;
}

/* A request the parser refused: answer with its status and close. Once the
 * head was whole the refusal is captured too (e.g. 413 on a real path). */
static void h1_refuse(struct conn *c)
{
	struct ik_h1 *p = &c->parser;
	struct server *s = c->srv;
	ik_log(s, "INFO", "conn %llu: %d %s", (unsigned long long)c->serial, p->status, p->error);
	struct request *r = ik_request_new(c);
	if (!r) {
		ik_conn_kill(c, 0);
		return;
	}
	int st = p->status;
	const char *why = p->error;
	if (p->head_done) {
		r->method = strdup(p->method);
		r->path = strdup(p->path);
		r->query = strdup(p->query);
		for (size_t i = 0; i < p->nheaders; i++)
			ik_header_add(r->headers, p->headers[i].name, p->headers[i].value, strlen(p->headers[i].value));
		if (r->method && r->path && r->query) {
			r->conn_req = ++c->nreq;
			const char *m;
			const char *enc = json_string_value(json_object_get(r->headers, "content-encoding"));
			json_t *cap = ik_capture_base(c, r);
			json_object_set_new(cap, "encoding", json_string(enc && *enc ? enc : "identity"));
			json_object_set_new(cap, "bytes_wire", json_integer((json_int_t)p->body_len));
			json_object_set_new(cap, "bytes_body", json_integer(0));
			json_object_set_new(cap, "kind", json_string(ik_kind_name(ik_kind_of(r->path, &m))));
			json_object_set_new(cap, "injected", json_null());
			json_object_set_new(cap, "body", json_null());
			json_object_set_new(cap, "error", json_string(why));
			r->cap = cap;
			ik_capture_write(s, r, st, NULL);
		}
	}
	ik_set_resp_error(r, st, why);
	/* the client may still be sending: closing with unread bytes would RST
	 * the connection and could destroy the answer before it is read */
	c->linger = 1;
	c->close_after_write = 1;
	c->parser.keep_alive = 0;
	h1_answer(c, r);
}

static void h1_process(struct conn *c)
{
	while (!c->pending && !c->close_after_write && !c->doom) {
		/* a client that sends without reading answers waits for us */
		if (evbuffer_get_length(bufferevent_get_output(c->bev)) > 1024 * 1024)
			break;
		struct evbuffer *in = bufferevent_get_input(c->bev);
		if (evbuffer_get_length(in) == 0)
			break;
		struct evbuffer_iovec v;
		if (evbuffer_peek(in, -1, NULL, &v, 1) < 1)
			break;
		size_t used = 0;
		enum ik_h1_result res = ik_h1_feed(&c->parser, v.iov_base, v.iov_len, &used);
		evbuffer_drain(in, used);
		if (res == IK_H1_ERROR) {
			h1_refuse(c);
			break;
		}
		if (res == IK_H1_MORE) {
			if (c->parser.head_done && c->parser.expect_continue && !c->continue_sent) {
				bufferevent_write(c->bev, "HTTP/1.1 100 Continue\r\n\r\n", 25);
				c->continue_sent = 1;
			}
			continue;
		}
		struct request *r = request_from_h1(c);
		if (!r) {
			ik_conn_kill(c, 0);
			break;
		}
		ik_dispatch(c, r);
	}
}

static const char H2_PREFACE[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

static void on_connected(struct conn *c)
{
	if (c->connected)
		return; /* read_cb may have run first */
	c->connected = 1;
	if (!c->ssl)
		return;
	const unsigned char *a = NULL;
	unsigned int alen = 0;
	SSL_get0_alpn_selected(c->ssl, &a, &alen);
	c->proto_known = 1;
	if (alen == 2 && memcmp(a, "h2", 2) == 0 && ik_h2_start(c) != 0)
		ik_conn_kill(c, 0);
}

static void read_cb(struct bufferevent *bev, void *arg)
{
	(void)bev;
	struct conn *c = arg;
	conn_enter(c);
	if (!c->connected)
		on_connected(c);
	conn_arm_idle(c);
	if (!c->proto_known && !c->doom) {
		/* plain port: HTTP/2 with prior knowledge starts with the preface */
		struct evbuffer *in = bufferevent_get_input(c->bev);
		size_t n = evbuffer_get_length(in), m = n < 24 ? n : 24;
		unsigned char *d = evbuffer_pullup(in, (ssize_t)m);
		if (d && memcmp(d, H2_PREFACE, m) != 0) {
			c->proto_known = 1;
		} else if (m == 24) {
			c->proto_known = 1;
			if (ik_h2_start(c) != 0)
				ik_conn_kill(c, 0);
		}
	}
	if (c->close_after_write && !c->is_h2) {
		struct evbuffer *in = bufferevent_get_input(c->bev);
		evbuffer_drain(in, evbuffer_get_length(in));
	} else if (c->proto_known && !c->doom) {
		if (c->is_h2)
			ik_h2_read(c);
		else
			h1_process(c);
	}
	conn_leave(c);
}

static void linger_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct conn *c = arg;
	conn_enter(c);
	ik_conn_kill(c, 0);
	conn_leave(c);
}

static void write_cb(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;
	conn_enter(c);
	if (c->close_after_write && evbuffer_get_length(bufferevent_get_output(bev)) == 0) {
		if (c->linger && !c->linger_ev) {
			/* answer sent: stop writing, discard what still comes, close soon */
			if (!c->ssl)
				shutdown(bufferevent_getfd(bev), SHUT_WR);
			struct timeval tv = { 1, 0 };
			c->linger_ev = evtimer_new(c->srv->base, linger_cb, c);
			if (!c->linger_ev || evtimer_add(c->linger_ev, &tv) != 0)
				ik_conn_kill(c, 0);
		} else if (!c->linger) {
			ik_conn_kill(c, 0);
		}
	} else if (!c->is_h2 && !c->close_after_write && !c->pending) {
		h1_process(c); /* resume input held back while answers piled up */
	}
	conn_leave(c);
}

static void event_cb(struct bufferevent *bev, short events, void *arg)
{
	(void)bev;
	struct conn *c = arg;
	conn_enter(c);
	if (events & BEV_EVENT_CONNECTED)
		on_connected(c);
	if (events & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
		if ((events & BEV_EVENT_ERROR) && c->ssl) {
			unsigned long e = bufferevent_get_openssl_error(c->bev);
			if (e) {
				char buf[256];
				ERR_error_string_n(e, buf, sizeof(buf));
				ik_log(c->srv, "DEBUG", "conn %llu: TLS: %s", (unsigned long long)c->serial, buf);
			}
		}
		ik_conn_kill(c, 0);
	}
	conn_leave(c);
}

void ik_accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int socklen, void *arg)
{
	(void)l;
	(void)socklen;
	struct listener_ctx *lc = arg;
	struct server *s = lc->srv;
	/* answers are small writes after a read: without this, Nagle and the
	 * client's delayed ACK add ~40 ms to every HTTP/1.1 answer */
	int one = 1;
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	struct conn *c = calloc(1, sizeof(*c));
	if (!c) {
		evutil_closesocket(fd);
		return;
	}
	c->srv = s;
	c->serial = ++s->conn_serial;
	ik_h1_init(&c->parser);
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
		char ip[INET_ADDRSTRLEN];
		inet_ntop(AF_INET, &in->sin_addr, ip, sizeof(ip));
		snprintf(c->peer, sizeof(c->peer), "%s:%u", ip, ntohs(in->sin_port));
	}
	if (lc->tls) {
		c->ssl = SSL_new(s->ssl_ctx);
		if (c->ssl)
			c->bev = bufferevent_openssl_socket_new(s->base, fd, c->ssl, BUFFEREVENT_SSL_ACCEPTING,
								BEV_OPT_CLOSE_ON_FREE);
		if (c->bev)
			bufferevent_openssl_set_allow_dirty_shutdown(c->bev, 1);
		else if (c->ssl)
			SSL_free(c->ssl);
	} else {
		c->bev = bufferevent_socket_new(s->base, fd, BEV_OPT_CLOSE_ON_FREE);
		c->connected = 1;
	}
	if (!c->bev) {
		evutil_closesocket(fd);
		ik_h1_free(&c->parser);
		free(c);
		return;
	}
	c->next = s->conns;
	if (s->conns)
		s->conns->prev = c;
	s->conns = c;
	bufferevent_setcb(c->bev, read_cb, write_cb, event_cb, c);
	bufferevent_setwatermark(c->bev, EV_READ, 0, IK_READ_HIGH_WATER);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	conn_arm_idle(c);
}
