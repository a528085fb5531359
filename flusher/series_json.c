/* series_json.c — each series is dumped by jansson on its own, so the body
 * can be cut exactly at the byte bound before it is joined. */
#include "series_json.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static const char HEAD[] = "{\"series\":[";
static const char TAIL[] = "]}";

static char *dump_one(const struct met_series *s)
{
    json_t *o = json_object(), *pts = json_array(), *pt = json_object(), *tags = json_array();
    char *txt = NULL;
    if (!o || !pts || !pt || !tags)
        goto out;
    json_t *v = json_real(s->value); /* NULL for non-finite values */
    if (!v)
        goto out;
    if (json_object_set_new(pt, "timestamp", json_integer(s->ts)) ||
        json_object_set_new(pt, "value", v) || json_array_append(pts, pt))
        goto out;
    for (size_t i = 0; i < s->ntags; i++)
        if (json_array_append_new(tags, json_string(s->tags[i])))
            goto out;
    if (json_object_set_new(o, "metric", json_string(s->metric)) ||
        json_object_set_new(o, "type", json_integer(s->type)) ||
        json_object_set(o, "points", pts) || json_object_set(o, "tags", tags) ||
        json_object_set_new(o, "resources", json_array()))
        goto out;
    if (s->interval > 0 && json_object_set_new(o, "interval", json_integer(s->interval)))
        goto out;
    txt = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
out:
    json_decref(o);
    json_decref(pts);
    json_decref(pt);
    json_decref(tags);
    return txt;
}

int sj_encode(const struct met_series *series, size_t n, size_t max_series, size_t max_bytes,
              size_t *used, char **out, size_t *out_len)
{
    *used = 0;
    *out = NULL;
    *out_len = 0;
    if (max_series == 0)
        max_series = SJ_MAX_SERIES;
    if (max_bytes == 0)
        max_bytes = SJ_MAX_BYTES;
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    if (!buf)
        return -1;
    memcpy(buf, HEAD, sizeof(HEAD) - 1);
    len = sizeof(HEAD) - 1;
    size_t take = 0;
    for (; take < n && take < max_series; take++) {
        char *one = dump_one(&series[take]);
        if (!one) {
            free(buf);
            return -1;
        }
        size_t ol = strlen(one), sep = take ? 1 : 0;
        if (len + sep + ol + sizeof(TAIL) - 1 > max_bytes) {
            free(one);
            if (take == 0) {
                free(buf);
                *used = 1;
                return -2;
            }
            break;
        }
        if (len + sep + ol + sizeof(TAIL) > cap) {
            size_t nc = cap;
            while (len + sep + ol + sizeof(TAIL) > nc)
                nc *= 2;
            char *nb = realloc(buf, nc);
            if (!nb) {
                free(one);
                free(buf);
                return -1;
            }
            buf = nb;
            cap = nc;
        }
        if (sep)
            buf[len++] = ',';
        memcpy(buf + len, one, ol);
        len += ol;
        free(one);
    }
    memcpy(buf + len, TAIL, sizeof(TAIL)); /* with the NUL */
    len += sizeof(TAIL) - 1;
    *out = buf;
    *out_len = len;
    *used = take;
    return 0;
}
