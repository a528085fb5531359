/* tags.c — see tags.h. */
#include "tags.h"

#include <ctype.h>
#include <string.h>

#include "utf8.h"

struct item {
    char kv[TAGS_ITEM_MAX + 1]; /* lower-cased key, ':', value */
    size_t key_len, len;
};

int tags_parse(const char *in, char *out, size_t cap, struct tags_parse_stats *st)
{
    static const char seps[] = ", ";
    struct tags_parse_stats dummy;
    if (!st)
        st = &dummy;
    *st = (struct tags_parse_stats){0};
    if (cap == 0)
        return -1;
    out[0] = '\0';
    struct item items[TAGS_ITEMS_MAX];
    unsigned n = 0;
    for (const char *p = in ? in : ""; *p;) {
        size_t len = strcspn(p, seps);
        const char *tok = p;
        p += len;
        p += strspn(p, seps);
        if (len == 0)
            continue;
        const char *colon = memchr(tok, ':', len);
        if (!colon || colon == tok || colon == tok + len - 1 || len > TAGS_ITEM_MAX ||
            !utf8_text_ok(tok, len)) {
            st->skipped++;
            continue;
        }
        size_t kl = (size_t)(colon - tok);
        char kv[TAGS_ITEM_MAX + 1];
        for (size_t i = 0; i < len; i++)
            kv[i] = i < kl ? (char)tolower((unsigned char)tok[i]) : tok[i];
        kv[len] = '\0';
        unsigned j;
        for (j = 0; j < n; j++)
            if (items[j].key_len == kl && !memcmp(items[j].kv, kv, kl))
                break;
        if (j == n) {
            if (n == TAGS_ITEMS_MAX) {
                st->skipped++;
                continue;
            }
            n++;
        } else {
            st->replaced++;
        }
        memcpy(items[j].kv, kv, len + 1);
        items[j].key_len = kl;
        items[j].len = len;
    }
    size_t at = 0;
    for (unsigned j = 0; j < n; j++) {
        size_t need = (j ? 1 : 0) + items[j].len;
        if (at + need >= cap) {
            out[0] = '\0';
            return -1;
        }
        if (j)
            out[at++] = ',';
        memcpy(out + at, items[j].kv, items[j].len);
        at += items[j].len;
    }
    out[at] = '\0';
    st->kept = n;
    return 0;
}

bool tags_next(const char **cursor, struct tag_item *it)
{
    const char *p = *cursor;
    while (*p == ',')
        p++;
    if (*p == '\0') {
        *cursor = p;
        return false;
    }
    size_t len = strcspn(p, ",");
    const char *colon = memchr(p, ':', len);
    it->key = p;
    it->key_len = colon ? (size_t)(colon - p) : len;
    it->value = colon ? colon + 1 : p + len;
    it->value_len = colon ? len - it->key_len - 1 : 0;
    *cursor = p + len;
    return true;
}
