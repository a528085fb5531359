/* fl_ckpt.c — see fl_ckpt.h. */
#include "fl_ckpt.h"

#include <stdlib.h>
#include <string.h>

#define ITEM_HDR 5u

int ckpt_append(struct ckpt_buf *b, enum ckpt_kind kind, const void *p, size_t len)
{
    if (b->items >= CKPT_ITEMS_MAX || len > CKPT_BYTES_MAX || b->len + ITEM_HDR + len > CKPT_BYTES_MAX)
        return -1;
    size_t need = b->len + ITEM_HDR + len;
    if (need > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < need)
            cap *= 2;
        uint8_t *q = realloc(b->p, cap);
        if (q == NULL)
            return -1;
        b->p = q;
        b->cap = cap;
    }
    uint8_t *w = b->p + b->len;
    w[0] = (uint8_t)kind;
    w[1] = (uint8_t)(len >> 24);
    w[2] = (uint8_t)(len >> 16);
    w[3] = (uint8_t)(len >> 8);
    w[4] = (uint8_t)len;
    if (len)
        memcpy(w + ITEM_HDR, p, len);
    b->len = need;
    b->items++;
    return 0;
}

void ckpt_buf_free(struct ckpt_buf *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}

int ckpt_next(const uint8_t *blob, size_t len, size_t *off, unsigned *n, struct ckpt_item *out)
{
    if (*off >= len)
        return 0;
    if (len - *off < ITEM_HDR || *n >= CKPT_ITEMS_MAX)
        return -1;
    const uint8_t *h = blob + *off;
    if (h[0] != CKPT_SERIES && h[0] != CKPT_SKETCHES)
        return -1;
    size_t l = ((size_t)h[1] << 24) | ((size_t)h[2] << 16) | ((size_t)h[3] << 8) | h[4];
    if (l > len - *off - ITEM_HDR)
        return -1;
    out->kind = (enum ckpt_kind)h[0];
    out->p = h + ITEM_HDR;
    out->len = l;
    *off += ITEM_HDR + l;
    (*n)++;
    return 1;
}
