/* http1.c — strict incremental HTTP/1.1 request parser (see http1.h).
 * Every limit is checked before memory grows; errors carry an HTTP status. */
#include "http1.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum { S_HEAD, S_BODY, S_CHUNK_SIZE, S_CHUNK_DATA, S_CHUNK_CRLF, S_TRAILER, S_DONE, S_ERROR };

void ik_h1_init(struct ik_h1 *p)
{
	memset(p, 0, sizeof(*p));
}

void ik_h1_free(struct ik_h1 *p)
{
	free(p->head);
	free(p->body);
	memset(p, 0, sizeof(*p));
}

void ik_h1_reset(struct ik_h1 *p)
{
	/* keep the head buffer's allocation; the body may be large, drop it */
	char *head = p->head;
	size_t cap = p->head_cap;
	free(p->body);
	memset(p, 0, sizeof(*p));
	p->head = head;
	p->head_cap = cap;
}

static enum ik_h1_result fail(struct ik_h1 *p, int status, const char *why)
{
	p->state = S_ERROR;
	p->status = status;
	p->error = why;
	return IK_H1_ERROR;
}

const char *ik_h1_header(const struct ik_h1 *p, const char *name)
{
	for (size_t i = 0; i < p->nheaders; i++)
		if (strcmp(p->headers[i].name, name) == 0)
			return p->headers[i].value;
	return NULL;
}

static int is_tchar(unsigned char c)
{
	return isalnum(c) || (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* field-value characters: VCHAR, SP, HTAB, obs-text */
static int is_vchar(unsigned char c)
{
	return c == ' ' || c == '\t' || (c > 0x20 && c != 0x7f);
}

/* Does a comma-separated header value list the token (case-insensitive)? */
static int has_token(const char *list, const char *tok)
{
	size_t tl = strlen(tok);
	const char *s = list;
	while (*s) {
		while (*s == ' ' || *s == '\t' || *s == ',')
			s++;
		const char *e = s;
		while (*e && *e != ',')
			e++;
		const char *t = e;
		while (t > s && (t[-1] == ' ' || t[-1] == '\t'))
			t--;
		if ((size_t)(t - s) == tl && strncasecmp(s, tok, tl) == 0)
			return 1;
		s = e;
	}
	return 0;
}

static int body_grow(struct ik_h1 *p, size_t need)
{
	if (need <= p->body_cap)
		return 0;
	size_t cap = p->body_cap ? p->body_cap : 4096;
	while (cap < need)
		cap *= 2;
	if (cap > IK_H1_MAX_BODY + 1)
		cap = IK_H1_MAX_BODY + 1;
	uint8_t *b = realloc(p->body, cap);
	if (!b)
		return -1;
	p->body = b;
	p->body_cap = cap;
	return 0;
}

static enum ik_h1_result body_append(struct ik_h1 *p, const uint8_t *d, size_t n)
{
	if (p->body_len + n > IK_H1_MAX_BODY)
		return fail(p, 413, "body larger than 16 MiB");
	if (body_grow(p, p->body_len + n) < 0)
		return fail(p, 500, "out of memory");
	memcpy(p->body + p->body_len, d, n);
	p->body_len += n;
	return IK_H1_MORE;
}

/* Splits origin-form or absolute-form target into path and query. */
static enum ik_h1_result parse_target(struct ik_h1 *p, char *t)
{
	if (strncasecmp(t, "http://", 7) == 0 || strncasecmp(t, "https://", 8) == 0) {
		char *auth = strstr(t, "//") + 2;
		char *slash = strpbrk(auth, "/?");
		if (!slash) {
			t = "/";
		} else if (*slash == '?') {
			/* "http://host?q": path is "/", keep the query */
			p->path = "/";
			p->query = slash + 1;
			return IK_H1_MORE;
		} else {
			t = slash;
		}
	} else if (t[0] != '/') {
		return fail(p, 400, "request target must be origin-form or absolute-form");
	}
	p->path = t;
	char *q = strchr(t, '?');
	if (q) {
		*q = '\0';
		p->query = q + 1;
	} else {
		p->query = "";
	}
	return IK_H1_MORE;
}

static enum ik_h1_result parse_head(struct ik_h1 *p)
{
	char *s = p->head;
	char *end = p->head + p->head_len; /* points at the final "\r\n\r\n" + 4 */
	if (memchr(s, '\0', p->head_len))
		return fail(p, 400, "NUL byte in request head");
	/* terminate each line at its CR; a CR or LF alone inside a line is an error */
	char *lines[IK_H1_MAX_HEADERS + 2];
	size_t nlines = 0;
	char *ls = s;
	for (char *c = s; c < end; c++) {
		if (*c == '\r') {
			if (c + 1 >= end || c[1] != '\n')
				return fail(p, 400, "bare CR in request head");
			*c = '\0';
			if (c == ls) /* the empty line ending the head */
				break;
			if (nlines == IK_H1_MAX_HEADERS + 1)
				return fail(p, 431, "too many header fields");
			lines[nlines++] = ls;
			c++;
			ls = c + 1;
		} else if (*c == '\n') {
			return fail(p, 400, "bare LF in request head");
		}
	}
	if (nlines == 0)
		return fail(p, 400, "empty request line");

	/* request line: method SP target SP HTTP/1.x */
	char *rl = lines[0];
	char *sp1 = strchr(rl, ' ');
	if (!sp1 || sp1 == rl)
		return fail(p, 400, "malformed request line");
	*sp1 = '\0';
	for (char *c = rl; *c; c++)
		if (!is_tchar((unsigned char)*c))
			return fail(p, 400, "bad character in method");
	if (sp1 - rl > 32)
		return fail(p, 400, "method too long");
	char *target = sp1 + 1;
	char *sp2 = strchr(target, ' ');
	if (!sp2 || sp2 == target)
		return fail(p, 400, "malformed request line");
	*sp2 = '\0';
	for (char *c = target; *c; c++)
		if ((unsigned char)*c <= 0x20 || (unsigned char)*c == 0x7f)
			return fail(p, 400, "bad character in request target");
	char *ver = sp2 + 1;
	if (strncmp(ver, "HTTP/", 5) != 0 || !isdigit((unsigned char)ver[5]) || ver[6] != '.' ||
	    !isdigit((unsigned char)ver[7]) || ver[8] != '\0')
		return fail(p, 400, "malformed HTTP version");
	if (ver[5] != '1')
		return fail(p, 505, "only HTTP/1.x is spoken here");
	p->minor = ver[7] - '0';
	p->method = rl;
	if (parse_target(p, target) == IK_H1_ERROR)
		return IK_H1_ERROR;

	/* header fields */
	int have_cl = 0, have_host = 0;
	uint64_t cl = 0;
	const char *te = NULL, *conn = NULL, *expect = NULL;
	for (size_t i = 1; i < nlines; i++) {
		char *h = lines[i];
		if (*h == ' ' || *h == '\t')
			return fail(p, 400, "obsolete line folding");
		char *colon = strchr(h, ':');
		if (!colon || colon == h)
			return fail(p, 400, "header field without name");
		for (char *c = h; c < colon; c++) {
			if (!is_tchar((unsigned char)*c))
				return fail(p, 400, "bad character in header name");
			*c = (char)tolower((unsigned char)*c);
		}
		*colon = '\0';
		char *v = colon + 1;
		while (*v == ' ' || *v == '\t')
			v++;
		char *ve = v + strlen(v);
		while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
			ve--;
		*ve = '\0';
		for (char *c = v; *c; c++)
			if (!is_vchar((unsigned char)*c))
				return fail(p, 400, "bad character in header value");
		p->headers[p->nheaders].name = h;
		p->headers[p->nheaders].value = v;
		p->nheaders++;

		if (strcmp(h, "content-length") == 0) {
			if (!*v)
				return fail(p, 400, "empty Content-Length");
			uint64_t n = 0;
			for (char *c = v; *c; c++) {
				if (!isdigit((unsigned char)*c))
					return fail(p, 400, "bad Content-Length");
				if (n > IK_H1_MAX_BODY)
					break;
				n = n * 10 + (uint64_t)(*c - '0');
			}
			if (have_cl && n != cl)
				return fail(p, 400, "conflicting Content-Length");
			have_cl = 1;
			cl = n;
		} else if (strcmp(h, "transfer-encoding") == 0) {
			if (te)
				return fail(p, 501, "several Transfer-Encoding fields");
			te = v;
		} else if (strcmp(h, "host") == 0) {
			if (have_host)
				return fail(p, 400, "several Host fields");
			have_host = 1;
		} else if (strcmp(h, "connection") == 0) {
			conn = v;
		} else if (strcmp(h, "expect") == 0) {
			expect = v;
		}
	}
	if (p->minor >= 1 && !have_host)
		return fail(p, 400, "HTTP/1.1 request without Host");
	if (te) {
		if (have_cl)
			return fail(p, 400, "both Content-Length and Transfer-Encoding");
		if (p->minor == 0)
			return fail(p, 400, "Transfer-Encoding in HTTP/1.0");
		if (strcasecmp(te, "chunked") != 0)
			return fail(p, 501, "only chunked transfer coding is supported");
		p->chunked = 1;
	}
	if (have_cl && cl > IK_H1_MAX_BODY) {
		p->head_done = 1; /* the head itself is fine: let the refusal name the path */
		return fail(p, 413, "body larger than 16 MiB");
	}
	if (expect) {
		if (strcasecmp(expect, "100-continue") != 0)
			return fail(p, 417, "unsupported Expect");
		p->expect_continue = p->minor >= 1;
	}
	if (p->minor >= 1)
		p->keep_alive = !(conn && has_token(conn, "close"));
	else
		p->keep_alive = conn && has_token(conn, "keep-alive");
	p->head_done = 1;
	if (p->chunked) {
		p->state = S_CHUNK_SIZE;
	} else if (cl > 0) {
		/* memory grows with the bytes that arrive, not with the claim */
		p->remaining = cl;
		p->state = S_BODY;
	} else {
		p->expect_continue = 0;
		p->state = S_DONE;
		return IK_H1_DONE;
	}
	return IK_H1_MORE;
}

/* "1a;ext=x" -> chunk size; the line has no CRLF. */
static enum ik_h1_result parse_chunk_size(struct ik_h1 *p)
{
	uint64_t n = 0;
	size_t i = 0;
	for (; i < p->line_len && isxdigit((unsigned char)p->line[i]); i++) {
		if (i >= 8)
			return fail(p, 413, "chunk larger than 16 MiB");
		char c = p->line[i];
		n = n * 16 + (uint64_t)(isdigit((unsigned char)c) ? c - '0' : (tolower((unsigned char)c) - 'a' + 10));
	}
	if (i == 0)
		return fail(p, 400, "malformed chunk size");
	while (i < p->line_len && (p->line[i] == ' ' || p->line[i] == '\t'))
		i++;
	if (i < p->line_len && p->line[i] != ';')
		return fail(p, 400, "malformed chunk size");
	for (; i < p->line_len; i++)
		if (!is_vchar((unsigned char)p->line[i]))
			return fail(p, 400, "bad character in chunk extension");
	if (p->body_len + n > IK_H1_MAX_BODY)
		return fail(p, 413, "body larger than 16 MiB");
	p->remaining = n;
	p->line_len = 0;
	p->state = n ? S_CHUNK_DATA : S_TRAILER;
	return IK_H1_MORE;
}

/* Collects one CRLF-terminated line into p->line; returns 1 when whole. */
static int take_line(struct ik_h1 *p, uint8_t c, enum ik_h1_result *err)
{
	if (c == '\n') {
		if (p->line_len == 0 || p->line[p->line_len - 1] != '\r') {
			*err = fail(p, 400, "bare LF in chunked framing");
			return -1;
		}
		p->line_len--;
		return 1;
	}
	if (p->line_len > 0 && p->line[p->line_len - 1] == '\r') {
		*err = fail(p, 400, "bare CR in chunked framing");
		return -1;
	}
	if (p->line_len >= sizeof(p->line)) {
		*err = fail(p, 400, "chunk framing line too long");
		return -1;
	}
	p->line[p->line_len++] = (char)c;
	return 0;
}

/* What data[*i, len) holds of the body or chunk still expected (at most
 * p->remaining bytes) into the body; *i moves past it. */
static enum ik_h1_result body_take(struct ik_h1 *p, const uint8_t *data, size_t len, size_t *i)
{
	size_t n = len - *i;
	if (n > p->remaining)
		n = (size_t)p->remaining;
	if (body_append(p, data + *i, n) == IK_H1_ERROR)
		return IK_H1_ERROR;
	*i += n;
	p->remaining -= n;
	return IK_H1_MORE;
}

enum ik_h1_result ik_h1_feed(struct ik_h1 *p, const uint8_t *data, size_t len, size_t *used)
{
	size_t i = 0;
	enum ik_h1_result r = IK_H1_MORE;
	*used = 0;
	if (p->state == S_ERROR)
		return IK_H1_ERROR;
	if (p->state == S_DONE)
		return IK_H1_DONE;
	while (i < len) {
		switch (p->state) {
		case S_HEAD: {
			uint8_t c = data[i++];
			/* tolerate empty lines before a request (RFC 9112 2.2) */
			if (p->head_len == 0 && (c == '\r' || c == '\n'))
				break;
			if (p->head_len >= IK_H1_MAX_HEAD) {
				*used = i;
				return fail(p, 431, "request head larger than 64 KiB");
			}
			if (p->head_len + 1 >= p->head_cap) {
				size_t cap = p->head_cap ? p->head_cap * 2 : 1024;
				if (cap > IK_H1_MAX_HEAD + 1)
					cap = IK_H1_MAX_HEAD + 1;
				char *h = realloc(p->head, cap);
				if (!h) {
					*used = i;
					return fail(p, 500, "out of memory");
				}
				p->head = h;
				p->head_cap = cap;
			}
			/* refuse a bare LF at once rather than wait for a CRLFCRLF that never comes */
			if (c == '\n' && (p->head_len == 0 || p->head[p->head_len - 1] != '\r')) {
				*used = i;
				return fail(p, 400, "bare LF in request head");
			}
			p->head[p->head_len++] = (char)c;
			p->head[p->head_len] = '\0';
			if (c == '\n' && p->head_len >= 4 && memcmp(p->head + p->head_len - 4, "\r\n\r\n", 4) == 0) {
				r = parse_head(p);
				if (r != IK_H1_MORE) {
					*used = i;
					return r;
				}
			}
			break;
		}
		case S_BODY: {
			if (body_take(p, data, len, &i) == IK_H1_ERROR) {
				*used = i;
				return IK_H1_ERROR;
			}
			if (p->remaining == 0) {
				p->state = S_DONE;
				*used = i;
				return IK_H1_DONE;
			}
			break;
		}
		case S_CHUNK_SIZE: {
			int t = take_line(p, data[i++], &r);
			if (t < 0 || (t == 1 && parse_chunk_size(p) == IK_H1_ERROR)) {
				*used = i;
				return IK_H1_ERROR;
			}
			break;
		}
		case S_CHUNK_DATA: {
			if (body_take(p, data, len, &i) == IK_H1_ERROR) {
				*used = i;
				return IK_H1_ERROR;
			}
			if (p->remaining == 0)
				p->state = S_CHUNK_CRLF;
			break;
		}
		case S_CHUNK_CRLF: {
			int t = take_line(p, data[i++], &r);
			if (t < 0) {
				*used = i;
				return IK_H1_ERROR;
			}
			if (t == 1) {
				if (p->line_len != 0) {
					*used = i;
					return fail(p, 400, "chunk data longer than its size");
				}
				p->state = S_CHUNK_SIZE;
			}
			break;
		}
		case S_TRAILER: {
			uint8_t c = data[i++];
			if (++p->trailer_len > IK_H1_MAX_HEAD) {
				*used = i;
				return fail(p, 431, "trailer section larger than 64 KiB");
			}
			/* trailer lines are read and dropped, but still must be well formed */
			int t = take_line(p, c, &r);
			if (t < 0) {
				*used = i;
				return IK_H1_ERROR;
			}
			if (t == 1) {
				if (p->line_len == 0) {
					p->state = S_DONE;
					*used = i;
					return IK_H1_DONE;
				}
				p->line_len = 0;
			} else if (p->line_len == sizeof(p->line)) {
				/* a long trailer line: keep only its tail for the CR check */
				p->line[0] = p->line[p->line_len - 1];
				p->line_len = 1;
			}
			break;
		}
		default:
			*used = i;
			return fail(p, 500, "parser state lost");
		}
	}
	*used = i;
	return IK_H1_MORE;
}
