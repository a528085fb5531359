/* ik_capture.c — what fake-intake writes out: log lines on stderr and one
 * JSON capture line per request. Contract: ik_server.h. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "ik_server.h"

void ik_log(struct server *s, const char *level, const char *fmt, ...)
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

static int64_t now_ms(void)
{
	struct timeval tv;
	gettimeofday(&tv, NULL);
	return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

/* Writes the request's capture line (once) and counts it; status < 0 means
 * nothing was answered (reset, or the client went away first). */
void ik_capture_write(struct server *s, struct request *r, int status, const char *why)
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
	ik_stats_count(s, r->path, status, r->injected);
	if (s->capture_fd >= 0) {
		if (r->raw_body)
			json_object_del(cap, "body");
		char *t = json_dumps(cap, JSON_COMPACT | JSON_ENSURE_ASCII);
		if (t && r->raw_body) {
			/* --raw-log-bodies: the body spliced in as it came */
			size_t tl = strlen(t);
			static const char key[] = ",\"body\":";
			char *line = malloc(tl + sizeof key + r->raw_len + 2);
			if (line) {
				memcpy(line, t, tl - 1); /* without the closing brace */
				memcpy(line + tl - 1, key, sizeof key - 1);
				memcpy(line + tl - 1 + sizeof key - 1, r->raw_body, r->raw_len);
				size_t at = tl - 1 + sizeof key - 1 + r->raw_len;
				line[at] = '}';
				line[at + 1] = '\0';
			}
			free(t);
			t = line;
		}
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
					ik_log(s, "ERROR", "capture write failed: %s", strerror(errno));
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
