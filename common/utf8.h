/* utf8.h — the one UTF-8 validator (RFC 3629: no overlong forms, no
 * surrogates, nothing above U+10FFFF), shared by the lifecycle's telemetry
 * reader, the log batcher, the metrics aggregator and the trace encoder. */
#ifndef FORKCAP_UTF8_H
#define FORKCAP_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* Length (1..4) of the valid sequence at p (left > 0 bytes available), or 0
 * when p does not start one. */
size_t utf8_seq(const unsigned char *p, size_t left);

/* True when [p, p+len) is valid UTF-8 without control characters (below
 * 0x20, or 0x7f): what a metric name, a tag or a DD_TAGS item may hold. */
bool utf8_text_ok(const char *p, size_t len);

/* Bytes needed to copy [s, s+len) with every invalid sequence replaced by
 * U+FFFD (3 bytes), and the copy itself when out is not NULL (no NUL added):
 * what a protobuf string field may hold (the trace intake refuses a whole
 * payload for one invalid string). */
size_t utf8_copy_valid(const char *s, size_t len, char *out);

#endif
