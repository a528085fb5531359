/* utf8.h — the project's one UTF-8 check (RFC 3629: no overlongs, no
 * surrogates, nothing past U+10FFFF). */
#ifndef FORKCAP_UTF8_H
#define FORKCAP_UTF8_H

#include <stddef.h>

/* Length of the valid UTF-8 sequence at p (left >= 1 bytes), 0 if invalid. */
size_t utf8_seq(const unsigned char *p, size_t left);

/* Bytes needed to copy [s, s+len) with every invalid sequence replaced by
 * U+FFFD (3 bytes), and the copy itself when out is not NULL (no NUL added). */
size_t utf8_sanitize(const char *s, size_t len, char *out);

#endif
