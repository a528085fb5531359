/* http1.h — a strict, bounded, incremental HTTP/1.1 request parser for the
 * fake intake: feed it bytes as they arrive, it says when a request is whole. */
#ifndef IK_HTTP1_H
#define IK_HTTP1_H

#include <stddef.h>
#include <stdint.h>

#define IK_H1_MAX_HEAD   (64u * 1024u)        /* request line + headers */
#define IK_H1_MAX_BODY   (16u * 1024u * 1024u) /* body as sent (de-chunked) */
#define IK_H1_MAX_HEADERS 128

enum ik_h1_result {
	IK_H1_MORE = 0,   /* need more bytes */
	IK_H1_DONE = 1,   /* a whole request is in the parser */
	IK_H1_ERROR = 2,  /* malformed or too large: see status and error */
};

struct ik_h1_header {
	char *name;   /* lower-cased, NUL-terminated, points into head */
	char *value;  /* trimmed, NUL-terminated, points into head */
};

struct ik_h1 {
	/* results, valid once IK_H1_DONE (head fields once head_done) */
	char *method, *path, *query;  /* query "" when absent */
	int minor;                    /* HTTP/1.<minor> */
	struct ik_h1_header headers[IK_H1_MAX_HEADERS];
	size_t nheaders;
	uint8_t *body;
	size_t body_len;
	int keep_alive;               /* client allows another request */
	int expect_continue;          /* client waits for 100 Continue */
	int head_done;
	/* on IK_H1_ERROR */
	int status;                   /* 400, 413, 431, 501, 505 */
	const char *error;

	/* private state */
	char *head;
	size_t head_len, head_cap;
	int state;
	int chunked;
	uint64_t remaining;           /* content-length left, or chunk left */
	size_t line_len;              /* chunk-size / trailer line length */
	char line[1024];
	size_t trailer_len;
	size_t body_cap;
};

void ik_h1_init(struct ik_h1 *p);
/* Frees what the parser holds and makes it ready for the next request. */
void ik_h1_reset(struct ik_h1 *p);
void ik_h1_free(struct ik_h1 *p);
/* Consumes up to len bytes; *used says how many. Stops right after a
 * complete request (IK_H1_DONE) so pipelined bytes stay with the caller. */
enum ik_h1_result ik_h1_feed(struct ik_h1 *p, const uint8_t *data, size_t len, size_t *used);
/* Header value by lower-case name, or NULL. */
const char *ik_h1_header(const struct ik_h1 *p, const char *name);

#endif
