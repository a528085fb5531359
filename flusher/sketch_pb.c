/* sketch_pb.c — SketchPayload through protobuf-c; sizes are computed per
 * Sketch so a payload can be cut at a byte bound before packing. */
#include "sketch_pb.h"

#include <stdlib.h>
#include <string.h>

#include "sketch.pb-c.h"

typedef Datadog__Agentpayload__SketchPayload pb_payload;
typedef Datadog__Agentpayload__SketchPayload__Sketch pb_sketch;
typedef Datadog__Agentpayload__SketchPayload__Sketch__Dogsketch pb_dog;
typedef Datadog__Agentpayload__CommonMetadata pb_meta;

struct holder {
    pb_sketch sk;
    pb_dog dog;
    pb_dog *dogp;
};

static size_t varint_len(size_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

static int fill(struct holder *h, const struct met_sketch *m)
{
    pb_sketch init_sk = DATADOG__AGENTPAYLOAD__SKETCH_PAYLOAD__SKETCH__INIT;
    pb_dog init_dog = DATADOG__AGENTPAYLOAD__SKETCH_PAYLOAD__SKETCH__DOGSKETCH__INIT;
    h->sk = init_sk;
    h->dog = init_dog;
    h->sk.metric = m->metric;
    h->sk.n_tags = m->ntags;
    h->sk.tags = m->tags;
    h->dog.ts = m->ts;
    h->dog.cnt = m->sk.cnt;
    h->dog.min = m->sk.min;
    h->dog.max = m->sk.max;
    h->dog.avg = m->sk.avg;
    h->dog.sum = m->sk.sum;
    size_t nb = m->sk.len;
    if (nb) {
        h->dog.k = malloc(nb * sizeof(*h->dog.k));
        h->dog.n = malloc(nb * sizeof(*h->dog.n));
        if (!h->dog.k || !h->dog.n)
            return -1;
        for (size_t i = 0; i < nb; i++) {
            h->dog.k[i] = m->sk.bins[i].k;
            h->dog.n[i] = m->sk.bins[i].n;
        }
        h->dog.n_k = h->dog.n_n = nb;
    }
    h->dogp = &h->dog;
    h->sk.n_dogsketches = 1;
    h->sk.dogsketches = &h->dogp;
    return 0;
}

int spb_encode(const struct met_sketch *sketches, size_t n, const struct spb_meta *meta,
               size_t max_bytes, size_t *used, uint8_t **out, size_t *out_len)
{
    *used = 0;
    *out = NULL;
    *out_len = 0;
    if (max_bytes == 0)
        max_bytes = SPB_MAX_BYTES;
    pb_payload p = DATADOG__AGENTPAYLOAD__SKETCH_PAYLOAD__INIT;
    pb_meta md = DATADOG__AGENTPAYLOAD__COMMON_METADATA__INIT;
    size_t total = 0;
    if (meta) {
        if (meta->agent_version)
            md.agent_version = (char *)meta->agent_version;
        if (meta->timezone)
            md.timezone = (char *)meta->timezone;
        if (meta->internal_ip)
            md.internal_ip = (char *)meta->internal_ip;
        if (meta->public_ip)
            md.public_ip = (char *)meta->public_ip;
        md.current_epoch = meta->current_epoch;
        p.metadata = &md;
        size_t ms = protobuf_c_message_get_packed_size(&md.base);
        total += 1 + varint_len(ms) + ms;
    }
    struct holder *h = calloc(n ? n : 1, sizeof(*h));
    pb_sketch **ptrs = calloc(n ? n : 1, sizeof(*ptrs));
    int rc = -1;
    size_t take = 0;
    if (!h || !ptrs)
        goto done;
    for (; take < n && take < SPB_MAX_SKETCHES; take++) {
        struct holder *x = &h[take];
        if (fill(x, &sketches[take]) != 0) {
            free(x->dog.k);
            free(x->dog.n);
            goto done;
        }
        size_t ss = protobuf_c_message_get_packed_size(&x->sk.base);
        size_t add = 1 + varint_len(ss) + ss;
        if (total + add > max_bytes) {
            free(x->dog.k);
            free(x->dog.n);
            if (take == 0) {
                *used = 1;
                rc = -2;
                goto done;
            }
            break;
        }
        total += add;
        ptrs[take] = &x->sk;
    }
    p.n_sketches = take;
    p.sketches = ptrs;
    {
        size_t sz = protobuf_c_message_get_packed_size(&p.base);
        uint8_t *buf = malloc(sz ? sz : 1);
        if (!buf)
            goto done;
        *out_len = protobuf_c_message_pack(&p.base, buf);
        *out = buf;
        *used = take;
        rc = 0;
    }
done:
    if (h)
        for (size_t i = 0; i < take; i++) {
            free(h[i].dog.k);
            free(h[i].dog.n);
        }
    free(h);
    free(ptrs);
    return rc;
}
