/* fuzz_http1.c — libFuzzer target for the fake intake's HTTP/1.1 request
 * parser: arbitrary bytes fed in arbitrary splits, pipelined requests. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "http1.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	/* the first byte picks the split size, so partial reads are covered */
	size_t step = (size_t)data[0] % 64 + 1;
	data++;
	size--;
	struct ik_h1 p;
	ik_h1_init(&p);
	size_t off = 0;
	while (off < size) {
		size_t n = size - off < step ? size - off : step;
		size_t used = 0;
		enum ik_h1_result r = ik_h1_feed(&p, data + off, n, &used);
		if (used > n)
			__builtin_trap();
		off += used;
		if (r == IK_H1_ERROR) {
			if (p.status < 400 || p.status > 599 || !p.error)
				__builtin_trap();
			break;
		}
		if (r == IK_H1_DONE) {
			if (!p.method || !p.path || !p.query || p.body_len > IK_H1_MAX_BODY)
				__builtin_trap();
			for (size_t i = 0; i < p.nheaders; i++)
				if (strlen(p.headers[i].name) == 0)
					__builtin_trap();
			(void)ik_h1_header(&p, "host");
			ik_h1_reset(&p);
		} else if (used == 0) {
			__builtin_trap(); /* MORE must consume what it was given */
		}
	}
	ik_h1_free(&p);
	return 0;
}
