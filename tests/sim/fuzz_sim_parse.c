/* fuzz_sim_parse.c — libFuzzer target for lambda-sim's parsers of extension
 * input: register bodies and Telemetry API subscriptions. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "sim_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char msg[256];
    const char *etype = NULL;
    struct sim_reg_req rr;
    if (sim_parse_register((const char *)data, size, &rr, &etype, msg, sizeof msg) < 0 && !etype)
        __builtin_trap();  /* an error always names its type */
    struct sim_sub_req sr;
    for (int api = 0; api < 2; api++) {  /* the Telemetry API's body, then the Logs API's */
        int rc = api ? sim_parse_logs_subscribe((const char *)data, size, &sr, msg, sizeof msg)
                     : sim_parse_subscribe((const char *)data, size, &sr, msg, sizeof msg);
        if (rc != 0)
            continue;
        /* an accepted subscription is within Lambda's limits, and inside the sandbox */
        if (sr.max_items < 1000 || sr.max_items > 10000 || sr.max_bytes < 262144
            || sr.max_bytes > 1048576 || sr.timeout_ms < 25 || sr.timeout_ms > 30000
            || sr.port < 1 || sr.port > 65535 || strncmp(sr.host, "127.", 4) != 0 || sr.path[0] != '/'
            || !(sr.want_platform || sr.want_function || sr.want_extension)
            || strnlen(sr.uri, sizeof sr.uri) >= sizeof sr.uri)
            __builtin_trap();
    }
    return 0;
}
