/* decode.h — turns intake request bodies into JSON for the capture file:
 * Content-Encoding (zstd, gzip, deflate) then the payload (JSON, protobuf, msgpack). */
#ifndef IK_DECODE_H
#define IK_DECODE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define IK_MAX_DECODED (64u * 1024u * 1024u)

enum ik_kind { IK_SERIES, IK_SKETCHES, IK_LOGS, IK_TRACES, IK_STATS, IK_VALIDATE, IK_OTHER };

const char *ik_kind_name(enum ik_kind k);

/* Undoes a Content-Encoding (NULL or "identity" copies). *out is malloc'd
 * (never NULL on success, even for an empty body). Returns 0, or an HTTP
 * status on failure: 400 corrupt data, 413 over IK_MAX_DECODED, 415 unknown
 * coding; *err then says why. */
int ik_decode_content(const char *encoding, const uint8_t *in, size_t len, uint8_t **out,
		      size_t *out_len, const char **err);

/* Decodes a whole (already de-compressed) body of the given kind. Returns a
 * new JSON value, json_null() for an empty body, or NULL with *err set. */
json_t *ik_decode_body(enum ik_kind kind, const uint8_t *body, size_t len, const char **err);

/* The agent's quantile estimate (datadog-agent pkg/quantile) over DDSketch
 * bins k[i] with counts n[i], sorted by key; min bounds the first bin. */
double ik_sketch_quantile(const int32_t *k, const uint32_t *n, size_t nbins, double min,
			  double max, double q);

/* A JSON string from bytes that may not be UTF-8 (bytes that break UTF-8
 * become '?'), so a capture line is always valid JSON. */
json_t *ik_json_str(const char *s, size_t len);

/* Base64 (RFC 4648, padded) of raw bytes as a JSON string. */
json_t *ik_base64(const uint8_t *d, size_t n);

#endif
