/* errbuf.h — the one way a function that can fail says why: into a buffer
 * its caller owns (err, errlen), printf-style, always bounded, never past it. */
#ifndef FORKCAP_ERRBUF_H
#define FORKCAP_ERRBUF_H

#include <stddef.h>

/* Formats into err (cut to errlen - 1 bytes, NUL-terminated). A NULL err or
 * a zero errlen means the caller does not want the reason: nothing written. */
void errbuf_set(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
