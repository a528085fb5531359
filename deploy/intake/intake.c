/* intake.c — fake-intake: a Datadog-compatible intake for tests. Listens on
 * 127.0.0.1 (HTTP/1.1, h2c, TLS with ALPN h2/http1.1), answers the intake
 * endpoints, injects failures on demand and appends one JSON line per
 * request to a capture file. Contract: deploy/intake/README.md. */
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <jansson.h>
#include <nghttp2/nghttp2.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "decode.h"
#include "http1.h"

#define IK_MAX_RULES 256
#define IK_MAX_PATH 1024
#define IK_H2_MAX_HEADER_BYTES (64 * 1024)
#define IK_READ_HIGH_WATER (256 * 1024)

enum injected { INJ_NONE, INJ_STATUS, INJ_DELAY, INJ_RESET };

struct rule {
	char path[IK_MAX_PATH];  /* exact path or "*" */
	int status;              /* 0: none */
	long delay_ms;           /* 0: none */
	int reset;
	long count;              /* requests left; -1: always */
};

struct server {
	struct event_base *base;
	SSL_CTX *ssl_ctx;
	int capture_fd;  /* -1: no capture file */
	const char *api_key;
	long idle_close_ms;
	int quiet;
	struct rule rules[IK_MAX_RULES];
	size_t nrules;
	uint64_t seq, conn_serial, requests;
	uint64_t delayed; /* requests held by a delay rule so far (answered or not) */
	json_t *stats; /* path -> {"requests","by_status":{code:n},"injected":n} */
	struct conn *conns;
};

struct request {
	struct conn *c;
	struct request *next; /* h2: the connection's open streams */
	int32_t stream_id;    /* h2 only */
	char *method, *path, *query;
	json_t *headers;
	size_t header_bytes;
	uint8_t *wire;
	size_t wire_len;
	int too_large;        /* h2 body went past the limit */
	uint64_t conn_req;
	/* answer */
	int status;
	char *resp;
	size_t resp_len, resp_off;
	enum injected injected;
	int reset;
	int control;          /* /_intake/ request: not captured */
	long delay_ms;        /* injected delay before answering */
	json_t *cap;          /* capture line, status and time filled when answered */
	struct event *delay_ev;
	int answered;
};

struct conn {
	struct server *srv;
	struct conn *prev, *next;
	struct bufferevent *bev;
	SSL *ssl;
	int connected;
	uint64_t serial, nreq;
	char peer[64];
	int proto_known, is_h2;
	nghttp2_session *h2;
	struct request *streams;   /* h2 */
	struct ik_h1 parser;       /* h1 */
	int continue_sent;
	struct request *pending;   /* h1: request being delayed */
	int close_after_write;
	struct event *idle_ev;
	int depth;                 /* callbacks running on this connection */
	int doom;                  /* 1 close, 2 reset, once depth is 0 */
	int linger;                /* refused: after the answer, drain input a while */
	struct event *linger_ev;
};

static void logf_(struct server *s, const char *level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void logf_(struct server *s, const char *level, const char *fmt, ...)
{
	if (s && s->quiet && strcmp(level, "ERROR") != 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "%s | intake | ", level);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

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

static int64_t now_ms(void)
{
	struct timeval tv;
	gettimeofday(&tv, NULL);
	return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

/* ---------- failure rules ---------- */

/* Parses one "--fail" spec or control JSON into a rule; returns an error text or NULL. */
static const char *rule_check(struct rule *r)
{
	if (!r->path[0])
		return "a rule needs a path (or *)";
	if (r->status && (r->status < 100 || r->status > 599))
		return "status must be 100..599";
	if (r->delay_ms < 0 || r->delay_ms > 600000)
		return "delay_ms must be 0..600000";
	if (!r->status && !r->delay_ms && !r->reset)
		return "a rule needs status, delay_ms or reset";
	if (r->count == 0 || r->count < -1)
		return "count must be positive (omit it for always)";
	return NULL;
}

static int parse_long(const char *s, long *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end)
		return -1;
	*out = v;
	return 0;
}

static const char *rule_from_spec(const char *spec, struct rule *r)
{
	memset(r, 0, sizeof(*r));
	r->count = -1;
	char buf[2048];
	if (strlen(spec) >= sizeof(buf))
		return "spec too long";
	strcpy(buf, spec);
	char *save = NULL;
	for (char *kv = strtok_r(buf, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(kv, '=');
		if (!eq)
			return "expected key=value";
		*eq = '\0';
		const char *k = kv, *v = eq + 1;
		long n = 0;
		if (strcmp(k, "path") == 0) {
			if (strlen(v) >= sizeof(r->path))
				return "path too long";
			strcpy(r->path, v);
		} else if (parse_long(v, &n) < 0) {
			return "expected a number";
		} else if (strcmp(k, "status") == 0) {
			r->status = (int)(n > INT_MAX || n < 0 ? -1 : n);
		} else if (strcmp(k, "count") == 0) {
			r->count = n;
		} else if (strcmp(k, "delay_ms") == 0) {
			r->delay_ms = n;
		} else if (strcmp(k, "reset") == 0) {
			r->reset = n != 0;
		} else {
			return "unknown key (path, status, count, delay_ms, reset)";
		}
	}
	return rule_check(r);
}

static const char *rule_add(struct server *s, const struct rule *r)
{
	if (s->nrules == IK_MAX_RULES)
		return "too many rules";
	s->rules[s->nrules++] = *r;
	return NULL;
}

/* Applies the first matching rule for each kind of failure, spending one
 * count of every rule that contributed. */
static void rules_apply(struct server *s, const char *path, int *status, long *delay_ms, int *reset)
{
	*status = 0;
	*delay_ms = 0;
	*reset = 0;
	for (size_t i = 0; i < s->nrules;) {
		struct rule *r = &s->rules[i];
		int used = 0;
		if (strcmp(r->path, "*") == 0 || strcmp(r->path, path) == 0) {
			if (r->status && !*status) {
				*status = r->status;
				used = 1;
			}
			if (r->delay_ms && !*delay_ms) {
				*delay_ms = r->delay_ms;
				used = 1;
			}
			if (r->reset && !*reset) {
				*reset = 1;
				used = 1;
			}
		}
		if (used && r->count > 0 && --r->count == 0) {
			memmove(r, r + 1, (s->nrules - i - 1) * sizeof(*r));
			s->nrules--;
			continue;
		}
		i++;
	}
}

/* ---------- requests ---------- */

static void request_free(struct request *r)
{
	if (!r)
		return;
	if (r->delay_ev)
		event_free(r->delay_ev);
	free(r->method);
	free(r->path);
	free(r->query);
	json_decref(r->headers);
	free(r->wire);
	free(r->resp);
	json_decref(r->cap);
	free(r);
}

static struct request *request_new(struct conn *c)
{
	struct request *r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->c = c;
	r->headers = json_object();
	return r;
}

/* Adds a header to the request's header object; a repeated name is joined
 * with ", " as HTTP allows. */
static void header_add(json_t *h, const char *name, const char *value, size_t vlen)
{
	json_t *v = ik_json_str(value, vlen);
	json_t *old = json_object_get(h, name);
	if (old && json_is_string(old)) {
		size_t a = strlen(json_string_value(old)), b = strlen(json_string_value(v));
		char *j = malloc(a + b + 3);
		if (j) {
			memcpy(j, json_string_value(old), a);
			memcpy(j + a, ", ", 2);
			memcpy(j + a + 2, json_string_value(v), b + 1);
			json_object_set_new(h, name, json_string(j));
			free(j);
		}
		json_decref(v);
		return;
	}
	json_object_set_new(h, name, v);
}

static void set_resp(struct request *r, int status, const char *body)
{
	r->status = status;
	free(r->resp);
	r->resp = strdup(body);
	r->resp_len = r->resp ? strlen(r->resp) : 0;
}

static void set_resp_json(struct request *r, int status, json_t *j)
{
	char *t = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	set_resp(r, status, t ? t : "{}");
	free(t);
}

static void set_resp_error(struct request *r, int status, const char *why)
{
	set_resp_json(r, status, json_pack("{s:[s]}", "errors", why));
}

static enum ik_kind kind_of(const char *path, const char **method)
{
	static const struct { const char *path; enum ik_kind kind; const char *method; } routes[] = {
		{ "/api/v2/series", IK_SERIES, "POST" },    { "/api/beta/sketches", IK_SKETCHES, "POST" },
		{ "/api/v2/logs", IK_LOGS, "POST" },        { "/api/v0.2/traces", IK_TRACES, "POST" },
		{ "/api/v0.2/stats", IK_STATS, "POST" },    { "/api/v1/validate", IK_VALIDATE, "GET" },
	};
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
		if (strcmp(path, routes[i].path) == 0) {
			*method = routes[i].method;
			return routes[i].kind;
		}
	*method = NULL;
	return IK_OTHER;
}

static void stats_count(struct server *s, const char *raw_path, int status, enum injected inj)
{
	/* JSON keys must be UTF-8: the path is taken as the capture shows it */
	json_t *key = ik_json_str(raw_path, strlen(raw_path));
	const char *path = json_string_value(key);
	json_t *p = json_object_get(s->stats, path);
	if (!p) {
		p = json_pack("{s:i,s:{},s:i}", "requests", 0, "by_status", "injected", 0);
		if (!p || json_object_set_new(s->stats, path, p) != 0) {
			json_decref(key);
			return;
		}
	}
	json_decref(key);
	json_object_set_new(p, "requests", json_integer(json_integer_value(json_object_get(p, "requests")) + 1));
	if (inj != INJ_NONE)
		json_object_set_new(p, "injected", json_integer(json_integer_value(json_object_get(p, "injected")) + 1));
	char code[16];
	snprintf(code, sizeof(code), "%d", status);
	json_t *bs = json_object_get(p, "by_status");
	json_object_set_new(bs, code, json_integer(json_integer_value(json_object_get(bs, code)) + 1));
	s->requests++;
}

/* Control endpoint: /_intake/fail and /_intake/stats. */
static void handle_control(struct server *s, struct request *r)
{
	if (strcmp(r->path, "/_intake/stats") == 0 && strcmp(r->method, "GET") == 0) {
		json_t *j = json_pack("{s:I,s:I,s:O,s:i,s:I}", "requests", (json_int_t)s->requests, "connections",
				      (json_int_t)s->conn_serial, "paths", s->stats, "rules", (int)s->nrules, "delayed",
				      (json_int_t)s->delayed);
		set_resp_json(r, 200, j);
		return;
	}
	if (strcmp(r->path, "/_intake/fail") != 0) {
		set_resp_error(r, 404, "unknown control path");
		return;
	}
	if (strcmp(r->method, "POST") != 0) {
		set_resp_error(r, 405, "POST a rule");
		return;
	}
	json_error_t je;
	json_t *j = json_loadb((const char *)r->wire, r->wire_len, 0, &je);
	if (!json_is_object(j)) {
		json_decref(j);
		set_resp_error(r, 400, "expected a JSON object");
		return;
	}
	if (json_is_true(json_object_get(j, "clear"))) {
		s->nrules = 0;
		json_decref(j);
		set_resp_json(r, 200, json_pack("{s:b,s:i}", "ok", 1, "rules", 0));
		return;
	}
	struct rule rule;
	memset(&rule, 0, sizeof(rule));
	rule.count = -1;
	const char *path = json_string_value(json_object_get(j, "path"));
	json_t *v;
	const char *err = NULL;
	if (!path || strlen(path) >= sizeof(rule.path))
		err = "path must be a string";
	else
		strcpy(rule.path, path);
	if ((v = json_object_get(j, "status")))
		rule.status = json_is_integer(v) && json_integer_value(v) >= 0 && json_integer_value(v) < 1000
				      ? (int)json_integer_value(v) : -1;
	if ((v = json_object_get(j, "delay_ms")))
		rule.delay_ms = json_is_integer(v) ? (long)json_integer_value(v) : -1;
	if ((v = json_object_get(j, "reset")))
		rule.reset = json_is_true(v) || (json_is_integer(v) && json_integer_value(v) != 0);
	if ((v = json_object_get(j, "count")))
		rule.count = json_is_integer(v) && json_integer_value(v) > 0 && json_integer_value(v) < LONG_MAX
				     ? (long)json_integer_value(v) : 0;
	json_decref(j);
	if (!err)
		err = rule_check(&rule);
	if (!err)
		err = rule_add(s, &rule);
	if (err) {
		set_resp_error(r, 400, err);
		return;
	}
	set_resp_json(r, 200, json_pack("{s:b,s:i}", "ok", 1, "rules", (int)s->nrules));
}

static json_t *capture_base(struct conn *c, struct request *r)
{
	const char *alpn = NULL;
	const char *tlsv = NULL;
	int resumed = 0;
	char alpn_buf[32] = "";
	if (c->ssl) {
		const unsigned char *a = NULL;
		unsigned int alen = 0;
		SSL_get0_alpn_selected(c->ssl, &a, &alen);
		if (a && alen && alen < sizeof(alpn_buf)) {
			memcpy(alpn_buf, a, alen);
			alpn = alpn_buf;
		}
		tlsv = SSL_get_version(c->ssl);
		resumed = SSL_session_reused(c->ssl);
	}
	json_t *j = json_pack("{s:I,s:I,s:b,s:s?,s:b,s:s?,s:s,s:s}", "conn", (json_int_t)c->serial, "conn_req",
			      (json_int_t)r->conn_req, "tls", c->ssl != NULL, "tls_version", tlsv, "tls_resumed",
			      resumed, "alpn", alpn, "proto", c->is_h2 ? "HTTP/2" : "HTTP/1.1", "peer", c->peer);
	if (!j)
		j = json_object();
	/* request line bytes may be anything above 0x20: keep the JSON valid */
	const char *q = r->query ? r->query : "";
	json_object_set_new(j, "method", ik_json_str(r->method, strlen(r->method)));
	json_object_set_new(j, "path", ik_json_str(r->path, strlen(r->path)));
	json_object_set_new(j, "query", ik_json_str(q, strlen(q)));
	json_object_set_new(j, "headers", json_incref(r->headers));
	return j;
}

/* Works out the answer to a whole request and the capture line for it. */
static void request_evaluate(struct server *s, struct conn *c, struct request *r)
{
	if (strncmp(r->path, "/_intake/", 9) == 0) {
		r->control = 1;
		handle_control(s, r);
		return;
	}
	r->conn_req = ++c->nreq;
	const char *want_method;
	enum ik_kind kind = kind_of(r->path, &want_method);
	json_t *cap = capture_base(c, r);
	const char *enc = json_string_value(json_object_get(r->headers, "content-encoding"));
	json_object_set_new(cap, "encoding", json_string(enc && *enc ? enc : "identity"));
	json_object_set_new(cap, "bytes_wire", json_integer((json_int_t)r->wire_len));
	json_object_set_new(cap, "kind", json_string(ik_kind_name(kind)));

	const char *err = NULL;
	json_t *body = json_null();
	size_t body_len = 0;
	int status;
	const char *key = json_string_value(json_object_get(r->headers, "dd-api-key"));
	if (r->too_large) {
		status = 413;
		err = "body larger than 16 MiB";
	} else {
		uint8_t *dec = NULL;
		int st = ik_decode_content(enc, r->wire, r->wire_len, &dec, &body_len, &err);
		if (st) {
			status = st;
		} else {
			json_t *b = ik_decode_body(kind, dec, body_len, &err);
			if (b) {
				json_decref(body);
				body = b;
			}
			status = b ? 0 : 400;
		}
		free(dec);
		if (status)
			json_object_set_new(cap, "raw", ik_base64(r->wire, r->wire_len));
	}
	/* routing and the key come first: a real intake refuses before parsing */
	if (!want_method) {
		status = 404;
		set_resp_error(r, 404, "Not found");
	} else if (strcmp(r->method, want_method) != 0) {
		status = 405;
		set_resp_error(r, 405, "Method not allowed");
	} else if (!key || (s->api_key && strcmp(key, s->api_key) != 0)) {
		status = 403;
		set_resp_error(r, 403, "Forbidden");
	} else if (status) {
		set_resp_error(r, status, err);
	} else if (kind == IK_VALIDATE) {
		set_resp(r, 200, "{\"valid\":true}");
	} else if (kind == IK_SERIES) {
		set_resp(r, 202, "{\"errors\":[]}");
	} else {
		set_resp(r, 202, "{}");
	}

	int inj_status, inj_reset;
	long delay;
	rules_apply(s, r->path, &inj_status, &delay, &inj_reset);
	if (inj_status)
		set_resp_error(r, inj_status, "injected failure");
	r->reset = inj_reset;
	r->injected = inj_reset ? INJ_RESET : inj_status ? INJ_STATUS : delay ? INJ_DELAY : INJ_NONE;
	static const char *const inj_names[] = { NULL, "status", "delay", "reset" };
	json_object_set_new(cap, "bytes_body", json_integer((json_int_t)body_len));
	json_object_set_new(cap, "injected", inj_names[r->injected] ? json_string(inj_names[r->injected]) : json_null());
	json_object_set_new(cap, "body", body);
	json_object_set_new(cap, "error", err ? json_string(err) : json_null());
	r->cap = cap;
	r->delay_ms = delay;
}

/* ---------- capture ---------- */

/* Writes the request's capture line (once) and counts it; status < 0 means
 * nothing was answered (reset, or the client went away first). */
static void capture_write(struct server *s, struct request *r, int status, const char *why)
{
	if (r->control || !r->cap)
		return;
	json_t *cap = r->cap;
	r->cap = NULL;
	json_object_set_new(cap, "seq", json_integer((json_int_t)++s->seq));
	json_object_set_new(cap, "time_ms", json_integer(now_ms()));
	json_object_set_new(cap, "status", status >= 0 ? json_integer(status) : json_null());
	if (why && json_is_null(json_object_get(cap, "error")))
		json_object_set_new(cap, "error", json_string(why));
	stats_count(s, r->path, status, r->injected);
	if (s->capture_fd >= 0) {
		char *t = json_dumps(cap, JSON_COMPACT | JSON_ENSURE_ASCII);
		if (t) {
			/* the whole line in one write, so a reader tailing the file
			 * never sees half a line, however long the body */
			size_t len = strlen(t);
			t[len] = '\n';
			const char *p = t;
			size_t left = len + 1;
			while (left > 0) {
				ssize_t w = write(s->capture_fd, p, left);
				if (w < 0 && errno == EINTR)
					continue;
				if (w <= 0) {
					logf_(s, "ERROR", "capture write failed: %s", strerror(errno));
					break;
				}
				p += w;
				left -= (size_t)w;
			}
			free(t);
		}
	}
	json_decref(cap);
}

/* ---------- connections ---------- */

static void conn_free(struct conn *c, int rst)
{
	struct server *s = c->srv;
	if (c->prev)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	if (c->pending) {
		capture_write(s, c->pending, -1, rst ? NULL : "connection closed before the answer");
		request_free(c->pending);
	}
	while (c->streams) {
		struct request *r = c->streams;
		c->streams = r->next;
		capture_write(s, r, -1, rst ? NULL : "connection closed before the answer");
		request_free(r);
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
static void h2_send(struct conn *c);

static void conn_kill(struct conn *c, int rst)
{
	if (c->depth) {
		if (c->doom < 1 + rst)
			c->doom = 1 + rst;
		return;
	}
	conn_free(c, rst);
}

static void conn_enter(struct conn *c)
{
	c->depth++;
}

/* Returns 0 when the connection is gone. */
static int conn_leave(struct conn *c)
{
	if (c->depth == 1 && !c->doom && c->is_h2)
		h2_send(c);
	if (--c->depth == 0 && c->doom) {
		conn_free(c, c->doom == 2);
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
	logf_(c->srv, "DEBUG", "conn %llu idle for %ld ms: closing", (unsigned long long)c->serial,
	      c->srv->idle_close_ms);
	conn_kill(c, 0);
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
	request_free(r);
	ik_h1_reset(&c->parser);
	c->continue_sent = 0;
	conn_arm_idle(c);
}

static ssize_t h2_resp_read(nghttp2_session *session, int32_t stream_id, uint8_t *buf, size_t length,
			    uint32_t *data_flags, nghttp2_data_source *source, void *user_data)
{
	(void)session;
	(void)stream_id;
	(void)user_data;
	struct request *r = source->ptr;
	size_t n = r->resp_len - r->resp_off;
	if (n > length)
		n = length;
	memcpy(buf, r->resp + r->resp_off, n);
	r->resp_off += n;
	if (r->resp_off == r->resp_len)
		*data_flags |= NGHTTP2_DATA_FLAG_EOF;
	return (ssize_t)n;
}

static void h2_answer(struct conn *c, struct request *r)
{
	char st[8], cl[24];
	snprintf(st, sizeof(st), "%d", r->status);
	snprintf(cl, sizeof(cl), "%zu", r->resp_len);
	nghttp2_nv hdrs[] = {
		{ (uint8_t *)":status", (uint8_t *)st, 7, strlen(st), NGHTTP2_NV_FLAG_NONE },
		{ (uint8_t *)"content-type", (uint8_t *)"application/json", 12, 16, NGHTTP2_NV_FLAG_NONE },
		{ (uint8_t *)"content-length", (uint8_t *)cl, 14, strlen(cl), NGHTTP2_NV_FLAG_NONE },
	};
	nghttp2_data_provider prd;
	prd.source.ptr = r;
	prd.read_callback = h2_resp_read;
	r->answered = 1;
	if (nghttp2_submit_response(c->h2, r->stream_id, hdrs, 3, &prd) != 0)
		nghttp2_submit_rst_stream(c->h2, NGHTTP2_FLAG_NONE, r->stream_id, NGHTTP2_INTERNAL_ERROR);
	/* the request is freed when its stream closes */
}

/* Answers (or resets) a request whose delay, if any, is over. */
static void answer(struct conn *c, struct request *r)
{
	struct server *s = c->srv;
	if (r->reset) {
		capture_write(s, r, -1, NULL);
		logf_(s, "INFO", "conn %llu: reset injected on %s", (unsigned long long)c->serial, r->path);
		/* HTTP/2 streams and a delayed HTTP/1 request die with the connection */
		if (!c->is_h2 && c->pending != r)
			request_free(r);
		conn_kill(c, 1);
		return;
	}
	capture_write(s, r, r->status, NULL);
	if (c->is_h2)
		h2_answer(c, r);
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

static void dispatch(struct conn *c, struct request *r)
{
	request_evaluate(c->srv, c, r);
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
	struct request *r = request_new(c);
	if (!r)
		return NULL;
	r->method = strdup(p->method ? p->method : "");
	r->path = strdup(p->path ? p->path : "");
	r->query = strdup(p->query ? p->query : "");
	for (size_t i = 0; i < p->nheaders; i++)
		header_add(r->headers, p->headers[i].name, p->headers[i].value, strlen(p->headers[i].value));
	r->wire = p->body;
	r->wire_len = p->body_len;
	p->body = NULL;
	p->body_len = 0;
	p->body_cap = 0;
	if (!r->method || !r->path || !r->query) {
		request_free(r);
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
	logf_(s, "INFO", "conn %llu: %d %s", (unsigned long long)c->serial, p->status, p->error);
	struct request *r = request_new(c);
	if (!r) {
		conn_kill(c, 0);
		return;
	}
	int st = p->status;
	const char *why = p->error;
	if (p->head_done) {
		r->method = strdup(p->method);
		r->path = strdup(p->path);
		r->query = strdup(p->query);
		for (size_t i = 0; i < p->nheaders; i++)
			header_add(r->headers, p->headers[i].name, p->headers[i].value, strlen(p->headers[i].value));
		if (r->method && r->path && r->query) {
			r->conn_req = ++c->nreq;
			const char *m;
			const char *enc = json_string_value(json_object_get(r->headers, "content-encoding"));
			json_t *cap = capture_base(c, r);
			json_object_set_new(cap, "encoding", json_string(enc && *enc ? enc : "identity"));
			json_object_set_new(cap, "bytes_wire", json_integer((json_int_t)p->body_len));
			json_object_set_new(cap, "bytes_body", json_integer(0));
			json_object_set_new(cap, "kind", json_string(ik_kind_name(kind_of(r->path, &m))));
			json_object_set_new(cap, "injected", json_null());
			json_object_set_new(cap, "body", json_null());
			json_object_set_new(cap, "error", json_string(why));
			r->cap = cap;
			capture_write(s, r, st, NULL);
		}
	}
	set_resp_error(r, st, why);
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
			conn_kill(c, 0);
			break;
		}
		dispatch(c, r);
	}
}

/* ---------- HTTP/2 ---------- */

static void h2_send(struct conn *c)
{
	if (!c->h2 || c->doom)
		return;
	if (nghttp2_session_send(c->h2) != 0) {
		conn_kill(c, 0);
		return;
	}
	if (!nghttp2_session_want_read(c->h2) && !nghttp2_session_want_write(c->h2) &&
	    evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
		conn_kill(c, 0);
}

static ssize_t h2_send_cb(nghttp2_session *session, const uint8_t *data, size_t length, int flags, void *user_data)
{
	(void)session;
	(void)flags;
	struct conn *c = user_data;
	/* keep the output bounded; the write callback resumes sending */
	if (evbuffer_get_length(bufferevent_get_output(c->bev)) > 1024 * 1024)
		return NGHTTP2_ERR_WOULDBLOCK;
	if (bufferevent_write(c->bev, data, length) != 0)
		return NGHTTP2_ERR_CALLBACK_FAILURE;
	return (ssize_t)length;
}

static int h2_begin_headers_cb(nghttp2_session *session, const nghttp2_frame *frame, void *user_data)
{
	struct conn *c = user_data;
	if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST)
		return 0;
	struct request *r = request_new(c);
	if (!r)
		return NGHTTP2_ERR_CALLBACK_FAILURE;
	r->stream_id = frame->hd.stream_id;
	r->next = c->streams;
	c->streams = r;
	nghttp2_session_set_stream_user_data(session, frame->hd.stream_id, r);
	return 0;
}

static int h2_header_cb(nghttp2_session *session, const nghttp2_frame *frame, const uint8_t *name, size_t namelen,
			const uint8_t *value, size_t valuelen, uint8_t flags, void *user_data)
{
	(void)flags;
	(void)user_data;
	struct request *r = nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
	if (!r || frame->hd.type != NGHTTP2_HEADERS)
		return 0;
	r->header_bytes += namelen + valuelen + 32;
	if (r->header_bytes > IK_H2_MAX_HEADER_BYTES)
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	const char *n = (const char *)name, *v = (const char *)value;
	if (n[0] == ':') {
		if (strcmp(n, ":method") == 0) {
			free(r->method);
			r->method = strndup(v, valuelen);
		} else if (strcmp(n, ":path") == 0) {
			free(r->path);
			free(r->query);
			const char *q = memchr(v, '?', valuelen);
			size_t pl = q ? (size_t)(q - v) : valuelen;
			r->path = strndup(v, pl);
			r->query = q ? strndup(q + 1, valuelen - pl - 1) : strdup("");
		} else if (strcmp(n, ":authority") == 0 && !json_object_get(r->headers, "host")) {
			header_add(r->headers, "host", v, valuelen);
		}
		return 0;
	}
	header_add(r->headers, n, v, valuelen);
	return 0;
}

static int h2_data_cb(nghttp2_session *session, uint8_t flags, int32_t stream_id, const uint8_t *data, size_t len,
		      void *user_data)
{
	(void)flags;
	(void)user_data;
	struct request *r = nghttp2_session_get_stream_user_data(session, stream_id);
	if (!r || r->too_large)
		return 0;
	if (r->wire_len + len > IK_H1_MAX_BODY) {
		/* keep reading (flow control stays sane) but drop the bytes: 413 */
		r->too_large = 1;
		free(r->wire);
		r->wire = NULL;
		r->wire_len = 0;
		return 0;
	}
	uint8_t *w = realloc(r->wire, r->wire_len + len + 1);
	if (!w)
		return NGHTTP2_ERR_CALLBACK_FAILURE;
	memcpy(w + r->wire_len, data, len);
	r->wire = w;
	r->wire_len += len;
	return 0;
}

static int h2_frame_cb(nghttp2_session *session, const nghttp2_frame *frame, void *user_data)
{
	struct conn *c = user_data;
	if ((frame->hd.type != NGHTTP2_DATA && frame->hd.type != NGHTTP2_HEADERS) ||
	    !(frame->hd.flags & NGHTTP2_FLAG_END_STREAM))
		return 0;
	struct request *r = nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
	/* a connection being reset (injected) takes no further requests */
	if (!r || r->cap || r->answered || r->delay_ev || c->doom)
		return 0;
	if (!r->method || !r->path || !r->query) {
		nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, frame->hd.stream_id, NGHTTP2_PROTOCOL_ERROR);
		return 0;
	}
	dispatch(c, r);
	return 0;
}

static int h2_close_cb(nghttp2_session *session, int32_t stream_id, uint32_t error_code, void *user_data)
{
	(void)error_code;
	struct conn *c = user_data;
	struct request *r = nghttp2_session_get_stream_user_data(session, stream_id);
	if (!r)
		return 0;
	for (struct request **pp = &c->streams; *pp; pp = &(*pp)->next)
		if (*pp == r) {
			*pp = r->next;
			break;
		}
	capture_write(c->srv, r, -1, "stream closed before the answer");
	request_free(r);
	return 0;
}

static int h2_start(struct conn *c)
{
	nghttp2_session_callbacks *cbs;
	if (nghttp2_session_callbacks_new(&cbs) != 0)
		return -1;
	nghttp2_session_callbacks_set_send_callback(cbs, h2_send_cb);
	nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, h2_begin_headers_cb);
	nghttp2_session_callbacks_set_on_header_callback(cbs, h2_header_cb);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, h2_data_cb);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, h2_frame_cb);
	nghttp2_session_callbacks_set_on_stream_close_callback(cbs, h2_close_cb);
	int rv = nghttp2_session_server_new(&c->h2, cbs, c);
	nghttp2_session_callbacks_del(cbs);
	if (rv != 0)
		return -1;
	nghttp2_settings_entry iv[] = {
		{ NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, 100 },
		{ NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, IK_H2_MAX_HEADER_BYTES },
	};
	if (nghttp2_submit_settings(c->h2, NGHTTP2_FLAG_NONE, iv, 2) != 0)
		return -1;
	c->is_h2 = 1;
	return 0;
}

static void h2_read(struct conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	size_t n = evbuffer_get_length(in);
	if (!n)
		return;
	unsigned char *d = evbuffer_pullup(in, -1);
	ssize_t rv = nghttp2_session_mem_recv(c->h2, d, n);
	if (rv < 0) {
		logf_(c->srv, "INFO", "conn %llu: HTTP/2 error: %s", (unsigned long long)c->serial,
		      nghttp2_strerror((int)rv));
		conn_kill(c, 0);
		return;
	}
	evbuffer_drain(in, (size_t)rv);
}

/* ---------- bufferevent callbacks ---------- */

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
	if (alen == 2 && memcmp(a, "h2", 2) == 0 && h2_start(c) != 0)
		conn_kill(c, 0);
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
			if (h2_start(c) != 0)
				conn_kill(c, 0);
		}
	}
	if (c->close_after_write && !c->is_h2) {
		struct evbuffer *in = bufferevent_get_input(c->bev);
		evbuffer_drain(in, evbuffer_get_length(in));
	} else if (c->proto_known && !c->doom) {
		if (c->is_h2)
			h2_read(c);
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
	conn_kill(c, 0);
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
				conn_kill(c, 0);
		} else if (!c->linger) {
			conn_kill(c, 0);
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
				logf_(c->srv, "DEBUG", "conn %llu: TLS: %s", (unsigned long long)c->serial, buf);
			}
		}
		conn_kill(c, 0);
	}
	conn_leave(c);
}

struct listener_ctx {
	struct server *srv;
	int tls;
	struct evconnlistener *l;
};

static void accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int socklen, void *arg)
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

/* ---------- TLS, listeners, main ---------- */

static int alpn_select_cb(SSL *ssl, const unsigned char **out, unsigned char *outlen, const unsigned char *in,
			  unsigned int inlen, void *arg)
{
	(void)ssl;
	(void)arg;
	static const unsigned char ours[] = "\x02h2\x08http/1.1";
	unsigned char *sel = NULL;
	if (SSL_select_next_proto(&sel, outlen, ours, sizeof(ours) - 1, in, inlen) != OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_NOACK; /* no common protocol: carry on without ALPN (HTTP/1.1) */
	*out = sel;
	return SSL_TLSEXT_ERR_OK;
}

static SSL_CTX *tls_setup(const char *cert, const char *key)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	if (!ctx)
		return NULL;
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_alpn_select_cb(ctx, alpn_select_cb, NULL);
	static const unsigned char sid[] = "fake-intake";
	SSL_CTX_set_session_id_context(ctx, sid, sizeof(sid) - 1);
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
		char buf[256];
		ERR_error_string_n(ERR_get_error(), buf, sizeof(buf));
		fprintf(stderr, "ERROR | intake | certificate/key: %s\n", buf);
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

static int listen_on(struct server *s, struct listener_ctx *lc, long port)
{
	struct sockaddr_in sin;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons((uint16_t)port);
	lc->srv = s;
	lc->l = evconnlistener_new_bind(s->base, accept_cb, lc, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, 128,
					(struct sockaddr *)&sin, sizeof(sin));
	if (!lc->l) {
		fprintf(stderr, "ERROR | intake | cannot listen on 127.0.0.1:%ld: %s\n", port, strerror(errno));
		return -1;
	}
	struct sockaddr_in got;
	socklen_t gl = sizeof(got);
	if (getsockname(evconnlistener_get_fd(lc->l), (struct sockaddr *)&got, &gl) != 0)
		return -1;
	return ntohs(got.sin_port);
}

static int write_port_file(const char *path, int http, int https)
{
	char tmp[PATH_MAX];
	if (snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid()) >= (int)sizeof(tmp))
		return -1;
	FILE *f = fopen(tmp, "w");
	if (!f)
		return -1;
	char a[16] = "null", b[16] = "null";
	if (http >= 0)
		snprintf(a, sizeof(a), "%d", http);
	if (https >= 0)
		snprintf(b, sizeof(b), "%d", https);
	fprintf(f, "{\"http\":%s,\"https\":%s}\n", a, b);
	if (fclose(f) != 0 || rename(tmp, path) != 0) {
		unlink(tmp);
		return -1;
	}
	return 0;
}

static void signal_cb(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	struct server *s = arg;
	logf_(s, "INFO", "signal %d: stopping", (int)sig);
	event_base_loopbreak(s->base);
}

static void usage(FILE *f)
{
	fputs("usage: fake-intake [options]\n"
	      "  --http-port N          plain HTTP listener on 127.0.0.1 (0 = any free port)\n"
	      "  --https-port N         TLS listener (0 = any; needs --cert and --key)\n"
	      "  --cert FILE --key FILE server certificate chain and key (PEM)\n"
	      "  --port-file FILE       write {\"http\":N,\"https\":N} once listening\n"
	      "  --capture FILE         append one JSON line per request\n"
	      "  --api-key KEY          the only DD-API-KEY accepted (default: any non-empty)\n"
	      "  --fail SPEC            e.g. path=/api/v2/series,status=500,count=2 (repeatable)\n"
	      "  --idle-close-ms N      close keep-alive connections idle for N ms\n"
	      "  --quiet                log errors only\n",
	      f);
}

int main(int argc, char **argv)
{
	static struct server srv;
	struct server *s = &srv;
	long http_port = -1, https_port = -1;
	const char *cert = NULL, *key = NULL, *port_file = NULL, *capture = NULL;
	enum { O_HTTP = 1, O_HTTPS, O_CERT, O_KEY, O_PORTFILE, O_CAPTURE, O_APIKEY, O_FAIL, O_IDLE, O_QUIET, O_HELP };
	static const struct option opts[] = {
		{ "http-port", required_argument, NULL, O_HTTP },   { "https-port", required_argument, NULL, O_HTTPS },
		{ "cert", required_argument, NULL, O_CERT },        { "key", required_argument, NULL, O_KEY },
		{ "port-file", required_argument, NULL, O_PORTFILE }, { "capture", required_argument, NULL, O_CAPTURE },
		{ "api-key", required_argument, NULL, O_APIKEY },   { "fail", required_argument, NULL, O_FAIL },
		{ "idle-close-ms", required_argument, NULL, O_IDLE }, { "quiet", no_argument, NULL, O_QUIET },
		{ "help", no_argument, NULL, O_HELP },              { NULL, 0, NULL, 0 },
	};
	s->stats = json_object();
	int o;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		struct rule r;
		const char *err;
		switch (o) {
		case O_HTTP:
		case O_HTTPS: {
			long p;
			if (parse_long(optarg, &p) < 0 || p < 0 || p > 65535) {
				fprintf(stderr, "ERROR | intake | bad port: %s\n", optarg);
				return 2;
			}
			*(o == O_HTTP ? &http_port : &https_port) = p;
			break;
		}
		case O_CERT: cert = optarg; break;
		case O_KEY: key = optarg; break;
		case O_PORTFILE: port_file = optarg; break;
		case O_CAPTURE: capture = optarg; break;
		case O_APIKEY: s->api_key = optarg; break;
		case O_FAIL:
			if ((err = rule_from_spec(optarg, &r)) || (err = rule_add(s, &r))) {
				fprintf(stderr, "ERROR | intake | --fail %s: %s\n", optarg, err);
				return 2;
			}
			break;
		case O_IDLE:
			if (parse_long(optarg, &s->idle_close_ms) < 0 || s->idle_close_ms < 0 ||
			    s->idle_close_ms > 86400000) {
				fprintf(stderr, "ERROR | intake | bad --idle-close-ms: %s\n", optarg);
				return 2;
			}
			break;
		case O_QUIET: s->quiet = 1; break;
		case O_HELP: usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc || (http_port < 0 && https_port < 0)) {
		usage(stderr);
		return 2;
	}
	if (https_port >= 0 && (!cert || !key)) {
		fprintf(stderr, "ERROR | intake | --https-port needs --cert and --key\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	s->capture_fd = -1;
	if (capture && (s->capture_fd = open(capture, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644)) < 0) {
		fprintf(stderr, "ERROR | intake | cannot open capture %s: %s\n", capture, strerror(errno));
		return 2;
	}
	if (https_port >= 0 && !(s->ssl_ctx = tls_setup(cert, key)))
		return 2;
	/* libevent's default coarse clock can fire a timer a few ms early;
	 * an injected delay must never be shorter than asked */
	struct event_config *ecfg = event_config_new();
	if (ecfg)
		event_config_set_flag(ecfg, EVENT_BASE_FLAG_PRECISE_TIMER);
	s->base = ecfg ? event_base_new_with_config(ecfg) : event_base_new();
	if (ecfg)
		event_config_free(ecfg);
	if (!s->base)
		return 2;
	/* signals first: whoever sees the port file may send SIGTERM at once */
	struct event *sigterm = evsignal_new(s->base, SIGTERM, signal_cb, s);
	struct event *sigint = evsignal_new(s->base, SIGINT, signal_cb, s);
	evsignal_add(sigterm, NULL);
	evsignal_add(sigint, NULL);
	struct listener_ctx plain = { 0 }, tls = { .tls = 1 };
	int hp = -1, sp = -1;
	if (http_port >= 0 && (hp = listen_on(s, &plain, http_port)) < 0)
		return 2;
	if (https_port >= 0 && (sp = listen_on(s, &tls, https_port)) < 0)
		return 2;
	if (port_file && write_port_file(port_file, hp, sp) != 0) {
		fprintf(stderr, "ERROR | intake | cannot write port file %s\n", port_file);
		return 2;
	}
	logf_(s, "INFO", "listening http=%d https=%d", hp, sp);

	event_base_dispatch(s->base);

	while (s->conns)
		conn_free(s->conns, 0);
	if (plain.l)
		evconnlistener_free(plain.l);
	if (tls.l)
		evconnlistener_free(tls.l);
	event_free(sigterm);
	event_free(sigint);
	event_base_free(s->base);
	if (s->ssl_ctx)
		SSL_CTX_free(s->ssl_ctx);
	json_decref(s->stats);
	if (s->capture_fd >= 0 && close(s->capture_fd) != 0)
		return 1;
	return 0;
}
