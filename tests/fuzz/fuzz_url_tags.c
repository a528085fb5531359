/* fuzz_url_tags.c — common/url.c, common/tags.c and the runtime-name
 * parser (flusher/fl_runtime.c) on arbitrary bytes: no crash, no overflow,
 * and what they accept obeys their contracts (a normalised URL splits again
 * to the same thing; canonical DD_TAGS parses to itself). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fl_runtime.h"
#include "tags.h"
#include "url.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';

    struct url u;
    char out[1024], again[1024], host[300];
    if (url_split(s, &u) == NULL) {
        if (u.host + u.host_len > s + size || u.path + u.path_len > s + size)
            abort();
        if (!u.ipv6 && !url_dns_name_ok(u.host, u.host_len))
            abort();
    }
    if (url_intake_base(s, size & 1, out, sizeof out) == NULL) {
        /* normalising is idempotent */
        if (url_intake_base(out, false, again, sizeof again) != NULL || strcmp(out, again))
            abort();
        if (!url_host(out, host, sizeof host))
            abort();
    }
    url_proxy(s, out, sizeof out);
    url_site(s, out, sizeof out);
    url_redact(s, out, (size % 64) + 1);

    struct tags_parse_stats st;
    if (tags_parse(s, out, sizeof out, &st) == 0) {
        if (tags_parse(out, again, sizeof again, NULL) != 0 || strcmp(out, again))
            abort();
        const char *c = out;
        struct tag_item it;
        unsigned n = 0;
        while (tags_next(&c, &it))
            if (it.key_len == 0 || it.value_len == 0 || ++n > TAGS_ITEMS_MAX)
                abort();
        if (n != st.kept)
            abort();
    }
    char rt[FL_RUNTIME_MAX];
    fl_runtime_from_version(s, rt, sizeof rt);
    free(s);
    return 0;
}
