/* ik_h2.c — fake-intake's HTTP/2 (h2c with prior knowledge, or ALPN h2):
 * the nghttp2 server session of a connection, its streams as requests, and
 * their answers. Contract: ik_server.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "ik_server.h"

void ik_h2_send(struct conn *c)
{
	if (!c->h2 || c->doom)
		return;
	if (nghttp2_session_send(c->h2) != 0) {
		ik_conn_kill(c, 0);
		return;
	}
	if (!nghttp2_session_want_read(c->h2) && !nghttp2_session_want_write(c->h2) &&
	    evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
		ik_conn_kill(c, 0);
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
	struct request *r = ik_request_new(c);
	if (!r)
		return NGHTTP2_ERR_CALLBACK_FAILURE;
	r->stream_id = frame->hd.stream_id;
	r->next = c->streams;
	c->streams = r;
	/* streams open at once on this connection: what multiplexing reached */
	uint64_t open = 0;
	for (struct request *q = c->streams; q; q = q->next)
		open++;
	if (open > c->srv->max_streams)
		c->srv->max_streams = open;
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
			ik_header_add(r->headers, "host", v, valuelen);
		}
		return 0;
	}
	ik_header_add(r->headers, n, v, valuelen);
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
	ik_dispatch(c, r);
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
	ik_capture_write(c->srv, r, -1, "stream closed before the answer");
	ik_request_free(r);
	return 0;
}

int ik_h2_start(struct conn *c)
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

void ik_h2_read(struct conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	size_t n = evbuffer_get_length(in);
	if (!n)
		return;
	unsigned char *d = evbuffer_pullup(in, -1);
	ssize_t rv = nghttp2_session_mem_recv(c->h2, d, n);
	if (rv < 0) {
		ik_log(c->srv, "INFO", "conn %llu: HTTP/2 error: %s", (unsigned long long)c->serial,
		      nghttp2_strerror((int)rv));
		ik_conn_kill(c, 0);
		return;
	}
	evbuffer_drain(in, (size_t)rv);
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

void ik_h2_answer(struct conn *c, struct request *r)
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
