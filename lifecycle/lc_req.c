/* lc_req.c — see lc_req.h. Lines are gathered into a fixed buffer (so a
 * header split across reads costs no allocation); the body is allocated
 * once for Content-Length, grown up to body_max for chunked. Request
 * smuggling shapes (both Content-Length and chunked, conflicting lengths,
 * folded headers) are refused. */
#include "lc_req.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define LC_REQ_CHUNK_LINE_MAX 256u

enum { RQ_LINE, RQ_HDR, RQ_BODY_LEN, RQ_CHUNK_SIZE, RQ_CHUNK_DATA, RQ_CHUNK_CRLF, RQ_TRAILER,
       RQ_DONE, RQ_ERROR };

void lc_req_init(struct lc_req *r, size_t body_max)
{
    memset(r, 0, sizeof *r);
    r->body_max = body_max;
    lc_req_reset(r);
}

void lc_req_reset(struct lc_req *r)
{
    free(r->body);
    r->body = NULL;
    r->body_len = r->body_cap = r->chunk_left = r->hdr_bytes = r->line_len = 0;
    r->method[0] = '\0';
    r->keep_alive = true;
    r->want_continue = r->chunked = r->http10 = false;
    r->status = 0;
    r->error = NULL;
    r->nheaders = 0;
    r->content_length = -1;
    r->st = RQ_LINE;
}

void lc_req_free(struct lc_req *r)
{
    free(r->body);
    r->body = NULL;
}

char *lc_req_take_body(struct lc_req *r, size_t *len)
{
    char *b = r->body;
    *len = r->body_len;
    r->body = NULL;
    r->body_len = r->body_cap = 0;
    return b;
}

static int fail(struct lc_req *r, int status, const char *why)
{
    r->st = RQ_ERROR;
    r->status = status;
    r->error = why;
    return LC_REQ_ERROR;
}

static bool is_tchar(int c)
{
    return isalnum(c) || (c && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* Does a comma-separated header value hold token tok? */
static bool has_token(const char *v, const char *tok)
{
    size_t n = strlen(tok);
    while (*v) {
        while (*v == ' ' || *v == '\t' || *v == ',')
            v++;
        const char *s = v;
        while (*v && *v != ',')
            v++;
        const char *e = v;
        while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
            e--;
        if ((size_t)(e - s) == n && strncasecmp(s, tok, n) == 0)
            return true;
    }
    return false;
}

static bool body_reserve(struct lc_req *r, size_t more)
{
    size_t need = r->body_len + more + 1;
    if (need <= r->body_cap)
        return true;
    size_t cap = r->body_cap ? r->body_cap * 2 : 4096;
    if (cap < need)
        cap = need;
    if (cap > r->body_max + 1)
        cap = r->body_max + 1;
    char *b = realloc(r->body, cap);
    if (b == NULL)
        return false;
    r->body = b;
    r->body_cap = cap;
    return true;
}

static int request_line(struct lc_req *r, char *l)
{
    char *sp1 = strchr(l, ' ');
    if (sp1 == NULL || sp1 == l || (size_t)(sp1 - l) >= LC_REQ_METHOD_MAX)
        return fail(r, 400, "malformed request line");
    for (char *p = l; p < sp1; p++)
        if (!is_tchar((unsigned char)*p))
            return fail(r, 400, "malformed method");
    char *sp2 = strrchr(sp1 + 1, ' ');
    if (sp2 == NULL || sp2 == sp1 + 1)
        return fail(r, 400, "malformed request line");
    for (char *p = sp1 + 1; p < sp2; p++)
        if ((unsigned char)*p <= ' ' || *p == 0x7f)
            return fail(r, 400, "malformed request target");
    const char *v = sp2 + 1;
    if (strncmp(v, "HTTP/", 5) != 0 || !isdigit((unsigned char)v[5]) || v[6] != '.' ||
        !isdigit((unsigned char)v[7]) || v[8] != '\0')
        return fail(r, 400, "malformed HTTP version");
    if (v[5] != '1')
        return fail(r, 505, "HTTP version not supported");
    memcpy(r->method, l, (size_t)(sp1 - l));
    r->method[sp1 - l] = '\0';
    r->http10 = v[7] == '0';
    r->keep_alive = !r->http10;
    r->st = RQ_HDR;
    return LC_REQ_MORE;
}

static int header_line(struct lc_req *r, char *l)
{
    if (++r->nheaders > LC_REQ_HEADERS_MAX)
        return fail(r, 431, "too many headers");
    if (*l == ' ' || *l == '\t')
        return fail(r, 400, "folded header");
    char *colon = strchr(l, ':');
    if (colon == NULL || colon == l)
        return fail(r, 400, "malformed header");
    for (char *p = l; p < colon; p++)
        if (!is_tchar((unsigned char)*p))
            return fail(r, 400, "malformed header name");
    *colon = '\0';
    char *v = colon + 1;
    while (*v == ' ' || *v == '\t')
        v++;
    size_t n = strlen(v);
    while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
        v[--n] = '\0';
    if (strcasecmp(l, "Content-Length") == 0) {
        if (n == 0 || n > 19)
            return fail(r, 400, "bad Content-Length");
        long long cl = 0;
        for (const char *p = v; *p; p++) {
            if (!isdigit((unsigned char)*p))
                return fail(r, 400, "bad Content-Length");
            cl = cl * 10 + (*p - '0');
        }
        if (r->content_length >= 0 && r->content_length != cl)
            return fail(r, 400, "conflicting Content-Length");
        if ((unsigned long long)cl > r->body_max)
            return fail(r, 413, "body too large");
        r->content_length = cl;
    } else if (strcasecmp(l, "Transfer-Encoding") == 0) {
        if (strcasecmp(v, "chunked") != 0)
            return fail(r, 501, "unsupported Transfer-Encoding");
        r->chunked = true;
    } else if (strcasecmp(l, "Connection") == 0) {
        if (has_token(v, "close"))
            r->keep_alive = false;
        else if (has_token(v, "keep-alive"))
            r->keep_alive = true;
    } else if (strcasecmp(l, "Expect") == 0) {
        if (strcasecmp(v, "100-continue") != 0)
            return fail(r, 417, "unsupported Expect");
        r->want_continue = !r->http10;
    }
    return LC_REQ_MORE;
}

static int headers_end(struct lc_req *r)
{
    if (r->chunked && r->content_length >= 0)
        return fail(r, 400, "both Content-Length and chunked");
    if (r->chunked) {
        r->st = RQ_CHUNK_SIZE;
    } else {
        if (r->content_length < 0)
            r->content_length = 0; /* a request without either has no body */
        if (!body_reserve(r, (size_t)r->content_length))
            return fail(r, 503, "out of memory");
        r->st = RQ_BODY_LEN;
    }
    return LC_REQ_HEADERS;
}

static int chunk_size_line(struct lc_req *r, const char *l)
{
    size_t cs = 0;
    const char *p = l;
    for (; isxdigit((unsigned char)*p); p++) {
        if (p - l >= 15)
            return fail(r, 400, "bad chunk size");
        cs = cs * 16 + (size_t)(isdigit((unsigned char)*p) ? *p - '0' : (tolower((unsigned char)*p) - 'a' + 10));
    }
    if (p == l)
        return fail(r, 400, "bad chunk size");
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p != '\0' && *p != ';')
        return fail(r, 400, "bad chunk size");
    if (cs > r->body_max - r->body_len)
        return fail(r, 413, "body too large");
    if (cs == 0) {
        r->st = RQ_TRAILER;
        return LC_REQ_MORE;
    }
    if (!body_reserve(r, cs))
        return fail(r, 503, "out of memory");
    r->chunk_left = cs;
    r->st = RQ_CHUNK_DATA;
    return LC_REQ_MORE;
}

/* One complete line (CR stripped) in r->line. */
static int on_line(struct lc_req *r)
{
    char *l = r->line;
    size_t n = r->line_len;
    if (n > 0 && l[n - 1] == '\r')
        l[--n] = '\0';
    r->line_len = 0;
    switch (r->st) {
    case RQ_LINE:
        if (n == 0)
            return LC_REQ_MORE; /* RFC 9112 2.2: ignore empty lines before a request */
        return request_line(r, l);
    case RQ_HDR:
        return n == 0 ? headers_end(r) : header_line(r, l);
    case RQ_CHUNK_SIZE:
        return chunk_size_line(r, l);
    case RQ_CHUNK_CRLF:
        if (n != 0)
            return fail(r, 400, "malformed chunk end");
        r->st = RQ_CHUNK_SIZE;
        return LC_REQ_MORE;
    case RQ_TRAILER:
        if (n == 0) {
            r->st = RQ_DONE;
            return LC_REQ_DONE;
        }
        return LC_REQ_MORE; /* trailers are ignored */
    default:
        return fail(r, 400, "parser state");
    }
}

int lc_req_feed(struct lc_req *r, const char *data, size_t len, size_t *used)
{
    size_t i = 0;
    int rc = LC_REQ_MORE;
    *used = 0;
    if (r->st == RQ_ERROR)
        return LC_REQ_ERROR;
    if (r->st == RQ_DONE)
        return LC_REQ_DONE;
    for (;;) {
        if (r->st == RQ_BODY_LEN) {
            size_t want = (size_t)r->content_length - r->body_len, take = len - i < want ? len - i : want;
            if (take) {
                memcpy(r->body + r->body_len, data + i, take);
                r->body_len += take;
                i += take;
            }
            if (r->body_len == (size_t)r->content_length) {
                r->body[r->body_len] = '\0';
                r->st = RQ_DONE;
                rc = LC_REQ_DONE;
            }
            break;
        }
        if (r->st == RQ_CHUNK_DATA) {
            size_t take = len - i < r->chunk_left ? len - i : r->chunk_left;
            memcpy(r->body + r->body_len, data + i, take);
            r->body_len += take;
            r->body[r->body_len] = '\0';
            r->chunk_left -= take;
            i += take;
            if (r->chunk_left > 0)
                break;
            r->st = RQ_CHUNK_CRLF;
            continue;
        }
        if (i >= len)
            break;
        const char *nl = memchr(data + i, '\n', len - i);
        size_t take = nl ? (size_t)(nl - (data + i)) : len - i;
        bool in_headers = r->st == RQ_LINE || r->st == RQ_HDR || r->st == RQ_TRAILER;
        size_t lmax = in_headers ? LC_REQ_HDR_MAX - 1 : LC_REQ_CHUNK_LINE_MAX;
        if (r->line_len + take > lmax || (in_headers && r->hdr_bytes + take + 1 > LC_REQ_HDR_MAX)) {
            rc = fail(r, in_headers ? 431 : 400, in_headers ? "headers too large" : "chunk line too long");
            break;
        }
        if (memchr(data + i, '\0', take) != NULL) {
            rc = fail(r, 400, "NUL in header");
            break;
        }
        memcpy(r->line + r->line_len, data + i, take);
        r->line_len += take;
        if (in_headers)
            r->hdr_bytes += take + (nl ? 1 : 0);
        i += take;
        if (nl == NULL)
            break;
        i++; /* the LF */
        r->line[r->line_len] = '\0';
        rc = on_line(r);
        if (rc != LC_REQ_MORE)
            break;
    }
    if (r->st == RQ_DONE && r->body == NULL)
        r->body_len = 0;
    if (rc == LC_REQ_DONE && r->body)
        r->body[r->body_len] = '\0';
    *used = i;
    return rc;
}
