/* lc_req.h — an incremental, bounded HTTP/1.1 request parser for the
 * telemetry listener: pure (no I/O), fed bytes as they arrive. */
#ifndef FORKCAP_LC_REQ_H
#define FORKCAP_LC_REQ_H

#include <stdbool.h>
#include <stddef.h>

#define LC_REQ_HDR_MAX (16u * 1024u) /* request line + headers */
#define LC_REQ_HEADERS_MAX 64u
#define LC_REQ_METHOD_MAX 16u

enum {
    LC_REQ_MORE = 0,    /* every byte given was used; feed more */
    LC_REQ_HEADERS = 1, /* the header block just ended (check want_continue) */
    LC_REQ_DONE = 2,    /* a whole request: method, body, keep_alive are set */
    LC_REQ_ERROR = -1,  /* status (400/413/431/501/505) and error are set */
};

struct lc_req {
    /* results */
    char method[LC_REQ_METHOD_MAX];
    bool keep_alive;
    bool want_continue; /* "Expect: 100-continue" was sent */
    char *body;         /* malloc'd, NUL-terminated, body_len bytes */
    size_t body_len;
    int status;         /* error status for LC_REQ_ERROR */
    const char *error;  /* static text */
    /* parser state */
    int st;
    size_t body_max, hdr_bytes, body_cap, chunk_left;
    unsigned nheaders;
    long long content_length;
    bool chunked, http10;
    char line[LC_REQ_HDR_MAX];
    size_t line_len;
};

/* body_max bounds the decoded body (Content-Length or chunked). */
void lc_req_init(struct lc_req *r, size_t body_max);
/* Ready for the next request on the same connection (frees the body). */
void lc_req_reset(struct lc_req *r);
void lc_req_free(struct lc_req *r);
/* Hand the body over: the caller frees it; the parser forgets it. */
char *lc_req_take_body(struct lc_req *r, size_t *len);

/* Parse up to len bytes; *used says how many were consumed (bytes after a
 * complete request are left for the next call). After LC_REQ_DONE call
 * lc_req_reset before feeding again; after LC_REQ_ERROR the connection
 * cannot be resynchronised. */
int lc_req_feed(struct lc_req *r, const char *data, size_t len, size_t *used);

#endif
