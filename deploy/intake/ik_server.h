/* ik_server.h — fake-intake's shared state and the seams between its parts.
 * A server owns its connections (ik_conn.c), a connection its requests.
 * ik_request.c works out each request's answer and capture line, ik_rules.c
 * keeps the failure rules, ik_capture.c writes log and capture lines,
 * ik_h2.c runs a connection's HTTP/2 session, intake.c sets up TLS and the
 * listeners. Everything runs on the server's one event base, one thread.
 * Behaviour seen from outside: deploy/intake/README.md. */
#ifndef IK_SERVER_H
#define IK_SERVER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <event2/util.h>
#include <jansson.h>
#include <nghttp2/nghttp2.h>
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
	int raw_logs;    /* --raw-log-bodies: logs bodies captured as sent, not parsed (bench) */
	struct rule rules[IK_MAX_RULES];
	size_t nrules;
	uint64_t seq, conn_serial, requests;
	uint64_t delayed; /* requests held by a delay rule so far (answered or not) */
	uint64_t max_streams;  /* most HTTP/2 streams open at once on one connection */
	uint64_t max_conn_requests; /* most requests on one connection */
	json_t *stats; /* path -> {"requests","by_status":{code:n},"injected":n} */
	struct ik_aws *aws; /* --aws FILE: the AWS APIs (aws.h); NULL = none */
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
	uint8_t *raw_body;    /* --raw-log-bodies: the decoded body, written as "body" verbatim */
	size_t raw_len;
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

struct listener_ctx {
	struct server *srv;
	int tls;
	struct evconnlistener *l;
};

/* ik_capture.c: log lines on stderr (--quiet keeps errors only) */
void ik_log(struct server *s, const char *level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Writes r's capture line once and counts it in the stats; status < 0: no
 * answer was sent. A control request or one already written is skipped. */
void ik_capture_write(struct server *s, struct request *r, int status, const char *why);

/* ik_rules.c: a whole decimal number, or -1 */
int ik_parse_long(const char *s, long *out);
/* The rule functions return an error text for the user, or NULL. */
const char *ik_rule_check(struct rule *r);
const char *ik_rule_from_spec(const char *spec, struct rule *r);
const char *ik_rule_add(struct server *s, const struct rule *r);
/* The failures to inject for path (0 each: none); spends the rules used. */
void ik_rules_apply(struct server *s, const char *path, int *status, long *delay_ms, int *reset);

/* ik_request.c */
struct request *ik_request_new(struct conn *c);
void ik_request_free(struct request *r); /* NULL is fine; frees its delay timer too */
void ik_header_add(json_t *h, const char *name, const char *value, size_t vlen);
void ik_set_resp_error(struct request *r, int status, const char *why);
/* The endpoint kind of path and the method it takes (NULL: unknown path). */
enum ik_kind ik_kind_of(const char *path, const char **method);
/* The capture fields every request has (connection, TLS, request line, headers). */
json_t *ik_capture_base(struct conn *c, struct request *r);
/* Sets r's answer, capture line, injected failure and delay from the whole
 * request; /_intake/ control requests are answered here and never captured. */
void ik_request_evaluate(struct server *s, struct conn *c, struct request *r);
void ik_stats_count(struct server *s, const char *raw_path, int status, enum injected inj);

/* ik_conn.c: the listeners' accept callback (arg: struct listener_ctx) */
void ik_accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int socklen, void *arg);
/* Frees c now, capturing its unanswered requests; rst: close with RST. */
void ik_conn_free(struct conn *c, int rst);
/* Frees c, or marks it doomed while a callback on it is still running. */
void ik_conn_kill(struct conn *c, int rst);
/* Evaluates a whole request and answers it, now or after its delay. */
void ik_dispatch(struct conn *c, struct request *r);

/* ik_h2.c */
int ik_h2_start(struct conn *c);   /* -1: no session (close the connection) */
void ik_h2_read(struct conn *c);   /* feeds the input buffer to the session */
void ik_h2_send(struct conn *c);   /* flushes the session; closes c when it is done */
void ik_h2_answer(struct conn *c, struct request *r); /* r is freed when its stream closes */

#endif
