/* fuzz_lc_req.c — libFuzzer target for the telemetry listener's HTTP
 * request parser. Each input is fed twice: whole, and cut at every byte
 * boundary derived from its first byte; both feedings must agree, every
 * request's body must stay within the bound, and used never exceeds len. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lc_req.h"

#define BODY_MAX 4096u

/* Runs the parser over data in pieces of `step` bytes; returns a digest of
 * the requests seen (count, total body bytes, last status). */
static uint64_t run(const uint8_t *data, size_t len, size_t step)
{
    struct lc_req r;
    lc_req_init(&r, BODY_MAX);
    uint64_t digest = 0;
    size_t off = 0;
    unsigned guard = 0;
    while (off < len && guard++ < 100000) {
        size_t n = len - off < step ? len - off : step, used = 0;
        int rc = lc_req_feed(&r, (const char *)data + off, n, &used);
        if (used > n)
            abort();
        off += used;
        if (rc == LC_REQ_ERROR) {
            digest = digest * 31 + (uint64_t)r.status;
            break;
        }
        if (rc == LC_REQ_DONE) {
            if (r.body_len > BODY_MAX || (r.body && r.body[r.body_len] != '\0'))
                abort();
            digest = digest * 31 + r.body_len + 1;
            lc_req_reset(&r);
        } else if (rc == LC_REQ_MORE && used < n) {
            abort(); /* MORE means everything was used */
        }
    }
    lc_req_free(&r);
    return digest;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    if (len == 0)
        return 0;
    size_t step = (size_t)(data[0] % 7) + 1;
    if (run(data + 1, len - 1, len) != run(data + 1, len - 1, step))
        abort();
    return 0;
}
