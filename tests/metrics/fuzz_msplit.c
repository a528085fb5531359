/* fuzz_msplit.c — msplit_halves on arbitrary bytes: the first byte picks the
 * kind (even: series JSON, odd: SketchPayload), the rest is the body, copied
 * to a buffer of its exact size so a read past it is caught. Whatever it
 * is fed it must not crash; when it splits, the halves hold between them
 * exactly the entries of the body: ceil/floor counts by msplit's own
 * reading, the entries' bytes unchanged, and when the body decodes (jansson,
 * protobuf-c) both halves decode and their entries in order are the body's. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "msplit.h"
#include "sketch.pb-c.h"

#define HEADL (sizeof "{\"series\":[" - 1)
#define TAILL (sizeof "]}" - 1)

static size_t count(enum msplit_kind k, const char *d, size_t len)
{
    char *a, *b;
    size_t al, bl, n = 0;
    int rc = msplit_halves(k, d, len, &a, &al, &b, &bl, &n);
    if (rc == -1)
        abort(); /* a half msplit cannot read again */
    if (rc == 0) {
        free(a);
        free(b);
    }
    return n;
}

static void check_series(const char *body, size_t len, const char *a, size_t al, const char *b,
                         size_t bl)
{
    /* HEAD A , B TAIL  ->  HEAD A TAIL + HEAD B TAIL */
    if (al + bl != len + HEADL + TAILL - 1 || memcmp(a, body, al - TAILL) != 0 ||
        memcmp(a + al - TAILL, body + len - TAILL, TAILL) != 0 || body[al - TAILL] != ',' ||
        memcmp(b, body, HEADL) != 0 || memcmp(b + HEADL, body + al - TAILL + 1, bl - HEADL) != 0)
        abort();
    json_t *o = json_loadb(body, len, 0, NULL);
    if (o == NULL)
        return;
    json_t *ja = json_loadb(a, al, 0, NULL), *jb = json_loadb(b, bl, 0, NULL);
    if (ja == NULL || jb == NULL)
        abort();
    json_t *joined = json_array();
    json_array_extend(joined, json_object_get(ja, "series"));
    json_array_extend(joined, json_object_get(jb, "series"));
    if (!json_equal(joined, json_object_get(o, "series")))
        abort();
    json_decref(joined);
    json_decref(ja);
    json_decref(jb);
    json_decref(o);
}

static int same_msg(const ProtobufCMessage *x, const ProtobufCMessage *y)
{
    size_t lx = protobuf_c_message_get_packed_size(x);
    if (lx != protobuf_c_message_get_packed_size(y))
        return 0;
    uint8_t *bx = malloc(lx + 1), *by = malloc(lx + 1);
    protobuf_c_message_pack(x, bx);
    protobuf_c_message_pack(y, by);
    int same = memcmp(bx, by, lx) == 0;
    free(bx);
    free(by);
    return same;
}

static void check_sketches(const char *body, size_t len, const char *a, size_t al, const char *b,
                           size_t bl)
{
    typedef Datadog__Agentpayload__SketchPayload SP;
    if (al > len || bl > len)
        abort();
    SP *o = datadog__agentpayload__sketch_payload__unpack(NULL, len, (const uint8_t *)body);
    if (o == NULL)
        return;
    SP *pa = datadog__agentpayload__sketch_payload__unpack(NULL, al, (const uint8_t *)a);
    SP *pb = datadog__agentpayload__sketch_payload__unpack(NULL, bl, (const uint8_t *)b);
    if (pa == NULL || pb == NULL || pa->n_sketches + pb->n_sketches != o->n_sketches ||
        pa->n_sketches != (o->n_sketches + 1) / 2)
        abort();
    for (size_t i = 0; i < o->n_sketches; i++) {
        const Datadog__Agentpayload__SketchPayload__Sketch *h =
            i < pa->n_sketches ? pa->sketches[i] : pb->sketches[i - pa->n_sketches];
        if (!same_msg(&h->base, &o->sketches[i]->base))
            abort();
    }
    if ((o->metadata == NULL) != (pa->metadata == NULL) ||
        (o->metadata == NULL) != (pb->metadata == NULL) ||
        (o->metadata && (!same_msg(&o->metadata->base, &pa->metadata->base) ||
                         !same_msg(&o->metadata->base, &pb->metadata->base))))
        abort();
    datadog__agentpayload__sketch_payload__free_unpacked(pa, NULL);
    datadog__agentpayload__sketch_payload__free_unpacked(pb, NULL);
    datadog__agentpayload__sketch_payload__free_unpacked(o, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    enum msplit_kind k = data[0] & 1 ? MSPLIT_SKETCHES : MSPLIT_SERIES;
    size_t len = size - 1;
    char *body = malloc(len ? len : 1);
    if (body == NULL)
        return 0;
    memcpy(body, data + 1, len);
    char *a = NULL, *b = NULL;
    size_t al = 0, bl = 0, n = 0;
    int rc = msplit_halves(k, body, len, &a, &al, &b, &bl, &n);
    if (rc == 1 && n >= 2)
        abort();
    if (rc == 0) {
        if (n < 2 || count(k, a, al) != (n + 1) / 2 || count(k, b, bl) != n / 2)
            abort();
        if (k == MSPLIT_SERIES)
            check_series(body, len, a, al, b, bl);
        else
            check_sketches(body, len, a, al, b, bl);
        free(a);
        free(b);
    }
    free(body);
    return 0;
}
