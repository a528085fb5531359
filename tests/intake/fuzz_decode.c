/* fuzz_decode.c — libFuzzer target for the fake intake's body decoders:
 * Content-Encoding (zstd, gzip, deflate) and payload kinds (JSON, sketch and
 * trace protobuf, msgpack stats), output always serialisable JSON. */
#include <stdint.h>
#include <stdlib.h>

#include "decode.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	static const char *const encs[] = { "identity", "zstd", "gzip", "deflate" };
	const char *enc = encs[data[0] & 3];
	enum ik_kind kind = (enum ik_kind)((data[0] >> 2) % (IK_OTHER + 1));
	data++;
	size--;
	uint8_t *out = NULL;
	size_t out_len = 0;
	const char *err = NULL;
	int st = ik_decode_content(enc, data, size, &out, &out_len, &err);
	if (st) {
		if (!err || out)
			__builtin_trap();
		return 0;
	}
	if (out_len > IK_MAX_DECODED)
		__builtin_trap();
	/* decode the payload both decompressed and as sent */
	for (int pass = 0; pass < 2; pass++) {
		const uint8_t *b = pass ? data : out;
		size_t n = pass ? size : out_len;
		err = NULL;
		json_t *j = ik_decode_body(kind, b, n, &err);
		if (!j) {
			if (!err)
				__builtin_trap();
			continue;
		}
		char *t = json_dumps(j, JSON_ENCODE_ANY | JSON_COMPACT);
		if (!t)
			__builtin_trap();
		free(t);
		json_decref(j);
	}
	free(out);
	return 0;
}
