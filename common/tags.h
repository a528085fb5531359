/* tags.h — DD_TAGS read once, with the rules of Datadog's extension: items
 * split on commas and spaces (empty items skipped), each "key:value" split
 * at its first ':' with a non-empty key and value; anything else (a bare
 * tag, ":v", "k:") is skipped and counted. Keys are lower-cased (Datadog
 * lower-cases tag keys at intake anyway, so "Team:x" and "team:y" are one
 * key); values keep their case. A key given twice keeps its first position
 * and its last value. The result is canonical: "k:v,k:v", no blanks, so a
 * consumer only splits on ','. */
#ifndef FORKCAP_TAGS_H
#define FORKCAP_TAGS_H

#include <stdbool.h>
#include <stddef.h>

#define TAGS_ITEMS_MAX 32u /* DD_TAGS items kept (more are counted as skipped): with the
                           * function tags they stay under half a metric's tag cap */
#define TAGS_ITEM_MAX 200u /* bytes of one "key:value", as a metric tag */

struct tags_parse_stats {
    unsigned kept;      /* distinct keys in the result */
    unsigned skipped;   /* items not key:value, not UTF-8 text, too long, over the cap */
    unsigned replaced;  /* items whose key came again later */
};

/* Normalise DD_TAGS (NULL = "") into out. Returns 0, or -1 when out is too
 * small (out is then ""). */
int tags_parse(const char *in, char *out, size_t cap, struct tags_parse_stats *st);

/* One item of a canonical string. */
struct tag_item {
    const char *key;
    size_t key_len;
    const char *value;
    size_t value_len;
};

/* Iterates a canonical string (tags_parse's output): *cursor starts at the
 * string; false at the end. */
bool tags_next(const char **cursor, struct tag_item *it);

#endif
