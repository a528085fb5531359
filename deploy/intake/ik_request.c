/* ik_request.c — fake-intake's requests: routing, the API key, body
 * decoding, the /_intake/ control endpoints, AWS calls, failure injection
 * and the capture line of each request. Contract: ik_server.h. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <openssl/ssl.h>

#include "aws.h"
#include "ik_server.h"

void ik_request_free(struct request *r)
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
	free(r->raw_body);
	json_decref(r->cap);
	free(r);
}

struct request *ik_request_new(struct conn *c)
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
void ik_header_add(json_t *h, const char *name, const char *value, size_t vlen)
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

void ik_set_resp_error(struct request *r, int status, const char *why)
{
	set_resp_json(r, status, json_pack("{s:[s]}", "errors", why));
}

enum ik_kind ik_kind_of(const char *path, const char **method)
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

void ik_stats_count(struct server *s, const char *raw_path, int status, enum injected inj)
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
		/* connections open now, the one asking left out */
		json_int_t open = 0;
		for (struct conn *o = s->conns; o; o = o->next)
			if (o != r->c)
				open++;
		json_t *j = json_pack("{s:I,s:I,s:I,s:I,s:I,s:O,s:i,s:I}", "requests", (json_int_t)s->requests,
				      "connections", (json_int_t)s->conn_serial, "open", open, "max_streams",
				      (json_int_t)s->max_streams, "max_conn_requests", (json_int_t)s->max_conn_requests,
				      "paths", s->stats, "rules", (int)s->nrules, "delayed", (json_int_t)s->delayed);
		set_resp_json(r, 200, j);
		return;
	}
	if (strcmp(r->path, "/_intake/fail") != 0) {
		ik_set_resp_error(r, 404, "unknown control path");
		return;
	}
	if (strcmp(r->method, "POST") != 0) {
		ik_set_resp_error(r, 405, "POST a rule");
		return;
	}
	json_error_t je;
	json_t *j = json_loadb((const char *)r->wire, r->wire_len, 0, &je);
	if (!json_is_object(j)) {
		json_decref(j);
		ik_set_resp_error(r, 400, "expected a JSON object");
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
		err = ik_rule_check(&rule);
	if (!err)
		err = ik_rule_add(s, &rule);
	if (err) {
		ik_set_resp_error(r, 400, err);
		return;
	}
	set_resp_json(r, 200, json_pack("{s:b,s:i}", "ok", 1, "rules", (int)s->nrules));
}

json_t *ik_capture_base(struct conn *c, struct request *r)
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

/* An AWS call (aws.h): answered there; failure rules and stats use its
 * route ("/aws/<X-Amz-Target>" or the credentials path). */
static void aws_evaluate(struct server *s, struct conn *c, struct request *r, const char *route)
{
	json_t *cap = ik_capture_base(c, r);
	json_t *info = json_object();
	int status = 500;
	char *resp = NULL;
	ik_aws_answer(s->aws, r->method, r->path, r->query, r->headers, r->wire, r->wire_len, time(NULL), &status, &resp,
		      info);
	set_resp(r, status, resp ? resp : "{}");
	free(resp);
	json_object_set_new(cap, "kind", json_string("aws"));
	json_object_set_new(cap, "route", json_string(route));
	json_object_set_new(cap, "aws", info);
	json_object_set_new(cap, "body", r->wire_len ? ik_json_str((const char *)r->wire, r->wire_len) : json_null());
	char *rp = strdup(route);
	if (rp) {
		free(r->path);
		r->path = rp;
	}
	int inj_status, inj_reset;
	long delay;
	ik_rules_apply(s, r->path, &inj_status, &delay, &inj_reset);
	if (inj_status)
		set_resp(r, inj_status, "{\"__type\":\"InternalFailure\",\"message\":\"injected failure\"}");
	r->reset = inj_reset;
	r->injected = inj_reset ? INJ_RESET : inj_status ? INJ_STATUS : delay ? INJ_DELAY : INJ_NONE;
	json_object_set_new(cap, "error", json_null());
	r->cap = cap;
	r->delay_ms = delay;
}

/* --raw-log-bodies: what is spliced into a capture line must look like a
 * JSON array with no line break (the capture is one line per request); it
 * is not parsed further. */
static int raw_array(const uint8_t *b, size_t n)
{
	if (n < 2 || b[0] != '[' || b[n - 1] != ']')
		return 0;
	return memchr(b, '\n', n) == NULL && memchr(b, '\r', n) == NULL && memchr(b, '\0', n) == NULL;
}

/* Works out the answer to a whole request and the capture line for it. */
void ik_request_evaluate(struct server *s, struct conn *c, struct request *r)
{
	if (strncmp(r->path, "/_intake/", 9) == 0) {
		r->control = 1;
		handle_control(s, r);
		return;
	}
	r->conn_req = ++c->nreq;
	if (c->nreq > s->max_conn_requests)
		s->max_conn_requests = c->nreq;
	char route[256];
	if (ik_aws_route(s->aws, r->method, r->path, r->headers, route, sizeof(route))) {
		aws_evaluate(s, c, r, route);
		return;
	}
	const char *want_method;
	enum ik_kind kind = ik_kind_of(r->path, &want_method);
	json_t *cap = ik_capture_base(c, r);
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
		} else if (s->raw_logs && kind == IK_LOGS && raw_array(dec, body_len)) {
			/* bench mode: no parse; the capture line carries the bytes */
			free(r->raw_body);
			r->raw_body = dec;
			r->raw_len = body_len;
			dec = NULL;
			status = 0;
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
		ik_set_resp_error(r, 404, "Not found");
	} else if (strcmp(r->method, want_method) != 0) {
		status = 405;
		ik_set_resp_error(r, 405, "Method not allowed");
	} else if (!key || (s->api_key && strcmp(key, s->api_key) != 0)) {
		status = 403;
		ik_set_resp_error(r, 403, "Forbidden");
	} else if (status) {
		ik_set_resp_error(r, status, err);
	} else if (kind == IK_VALIDATE) {
		set_resp(r, 200, "{\"valid\":true}");
	} else if (kind == IK_SERIES) {
		set_resp(r, 202, "{\"errors\":[]}");
	} else {
		set_resp(r, 202, "{}");
	}

	int inj_status, inj_reset;
	long delay;
	ik_rules_apply(s, r->path, &inj_status, &delay, &inj_reset);
	if (inj_status)
		ik_set_resp_error(r, inj_status, "injected failure");
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
