/* fuzz_transport_env.c — libFuzzer target for the intake client's parsers of
 * environment input: DD_SITE / endpoint overrides (endpoints.c), NO_PROXY
 * lists, URL hosts and proxy URL redaction (intake_proxy.c). The input is
 * split on NUL bytes into the strings each function takes. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "endpoints.h"
#include "intake_proxy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 8192)
        return 0;
    char *buf = malloc(size + 1);
    if (buf == NULL)
        return 0;
    memcpy(buf, data, size);
    buf[size] = '\0';
    /* up to four strings separated by NUL */
    const char *part[4] = {"", "", "", ""};
    size_t n = 0, start = 0;
    for (size_t i = 0; i <= size && n < 4; i++)
        if (buf[i] == '\0') {
            part[n++] = buf + start;
            start = i + 1;
        }

    struct fl_endpoint_src src = {part[0], part[1], part[2], part[3]};
    struct fl_endpoints ep;
    char err[256];
    if (fl_endpoints_build(&src, &ep, err, sizeof err) == 0) {
        /* every endpoint is a URL whose host we can take */
        char h[FL_HOST_MAX];
        if (!fl_url_host(ep.series, h, sizeof h) && strlen(ep.series) < FL_HOST_MAX)
            abort();
    }
    (void)fl_noproxy_match(part[0], part[1]);
    (void)fl_proxy_applies(part[2], part[0], part[1]);
    char host[FL_HOST_MAX];
    (void)fl_url_host(part[0], host, sizeof host);
    char red[64];
    fl_redact_url(part[0], red, sizeof red);
    /* redaction: scheme kept, userinfo replaced by "***", the rest kept */
    const char *sch = strstr(part[0], "://");
    const char *s = sch ? sch + 3 : part[0];
    size_t hostpart = strcspn(s, "/?#");
    const char *at = NULL;
    for (size_t i = 0; i < hostpart; i++)
        if (s[i] == '@')
            at = s + i;
    char expect[8300];
    if (at)
        snprintf(expect, sizeof expect, "%.*s***%s", (int)(s - part[0]), part[0], at);
    else
        snprintf(expect, sizeof expect, "%s", part[0]);
    if (strlen(expect) < sizeof red && strcmp(expect, red) != 0)
        abort();
    if (strncmp(expect, red, strlen(red)) != 0) /* a cut keeps a prefix of it */
        abort();
    free(buf);
    return 0;
}
