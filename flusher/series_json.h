/* series_json.h — encodes drained series as the v2 series API's JSON body
 * (POST /api/v2/series), at most 1,000 series and < 5 MiB per payload. */
#ifndef FORKCAP_SERIES_JSON_H
#define FORKCAP_SERIES_JSON_H

#include <stddef.h>

#include "metrics.h"

#define SJ_MAX_SERIES 1000u
#define SJ_MAX_BYTES (5u * 1024 * 1024 - 1) /* strictly under 5 MiB */

/* Encode series[0..n) from the start into one body
 * {"series":[{"metric","type","points":[{"timestamp","value"}],"tags",
 * "resources":[],"interval"?}]} holding at most max_series (0 = 1,000) and
 * at most max_bytes (0 = SJ_MAX_BYTES); *used tells how many were taken.
 * Returns 0 (*out NUL-terminated, from malloc, caller frees), -1 on error
 * (ENOMEM, a non-finite value), -2 when the first series alone exceeds
 * max_bytes (*used = 1: skip it and count it). */
int sj_encode(const struct met_series *series, size_t n, size_t max_series, size_t max_bytes,
              size_t *used, char **out, size_t *out_len);

#endif
