/* sup_inv.c — each invocation counted once (sup_inv.h). */
#include "sup_inv.h"

#include <string.h>

void sup_inv_init(struct sup_inv *v)
{
    memset(v, 0, sizeof *v);
}

void sup_inv_lifecycle_lost(struct sup_inv *v)
{
    if (v->lost < SUP_INV_LOST_MAX)
        v->lost++;
}

/* FNV-1a, 64 bits; 0 is the empty slot, so it is moved to 1. */
static uint64_t id_hash(const char *s)
{
    uint64_t h = 0xcbf29ce484222325u;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 0x100000001b3u;
    }
    return h ? h : 1u;
}

static bool seen(const struct sup_inv *v, uint64_t h)
{
    for (unsigned i = 0; i < SUP_INV_IDS; i++)
        if (v->id[i] == h)
            return true;
    return false;
}

enum sup_inv_verdict sup_inv_note(struct sup_inv *v, const char *rid, enum sup_inv_src src)
{
    if (rid == NULL || rid[0] == '\0')
        return SUP_INV_NO_ID;
    uint64_t h = id_hash(rid);
    if (seen(v, h)) {
        v->repeats++;
        return SUP_INV_REPEAT;
    }
    if (src == SUP_INV_START) {
        if (v->lost == 0) {
            v->unannounced++;
            return SUP_INV_UNANNOUNCED;
        }
        v->lost--;
        v->from_start++;
    }
    v->id[v->next] = h;
    v->next = (v->next + 1) % SUP_INV_IDS;
    v->counted++;
    return SUP_INV_COUNT;
}
