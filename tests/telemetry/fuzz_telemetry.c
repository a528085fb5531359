/* fuzz_telemetry.c — libFuzzer target: lc_telemetry_parse on any bytes, and
 * the FT_PLATFORM fields and Datadog line of every record it emits. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "logs.h"
#include "telemetry.h"

static int touch(const struct lc_tele_record *rec, void *arg)
{
    size_t *sum = arg;
    if (rec->kind == LC_TELE_PLATFORM) {
        char line[256];
        struct ft_platform m = rec->u.platform;
        static struct lc_tele_linectx ctx;
        lc_tele_pair(&ctx, &m);
        if ((unsigned)m.event >= PE_COUNT)
            __builtin_trap();
        int n = fl_logs_platform_line(&m, line, sizeof(line));
        if (n < 0 || (size_t)n >= sizeof(line) || strlen(line) != (size_t)n)
            __builtin_trap();
    } else {
        const struct lc_tele_log *l = &rec->u.log;
        if (l->message[l->message_len] != '\0')
            __builtin_trap();
        *sum += l->message_len;
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct lc_tele_limits lim;
    lc_tele_limits_default(&lim);
    lim.max_message = 512; /* exercise truncation on small inputs */
    lim.max_records = 64;
    lim.max_depth = 16;
    size_t sum = 0;
    struct lc_tele_stats st;
    int rc = lc_telemetry_parse((const char *)data, size, &lim, touch, &sum, &st);
    if (rc == LC_TELE_OK && st.emitted + st.malformed + st.unknown + st.over_limit != st.records)
        __builtin_trap();
    return 0;
}
