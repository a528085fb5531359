/* sim_util.c — clocks, identifiers, timestamps and log lines for lambda-sim. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "clock.h"
#include "sim.h"

uint64_t sim_now_us(void)
{
    return clock_us();
}

int64_t sim_epoch_ms(void)
{
    return clock_epoch_ms();
}

double sim_ms(uint64_t a_us, uint64_t b_us)
{
    return clock_ms_between(a_us, b_us);
}

void sim_uuid(char out[SIM_ID_LEN + 1])
{
    unsigned char b[16];
    if (getrandom(b, sizeof b, 0) != (ssize_t)sizeof b) {
        for (size_t i = 0; i < sizeof b; i++)
            b[i] = (unsigned char)rand();
    }
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);  /* version 4 */
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);  /* RFC 4122 variant */
    snprintf(out, SIM_ID_LEN + 1,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
             b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9],
             b[10], b[11], b[12], b[13], b[14], b[15]);
}

bool sim_is_uuid(const char *s)
{
    if (strlen(s) != SIM_ID_LEN)
        return false;
    for (int i = 0; i < SIM_ID_LEN; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? s[i] != '-' : !strchr("0123456789abcdefABCDEF", s[i]))
            return false;
    }
    return true;
}

void sim_iso_time_at(char *out, size_t n, int64_t epoch_us)
{
    time_t t = (time_t)(epoch_us / 1000000);
    struct tm tm;
    gmtime_r(&t, &tm);
    char tmp[32];
    strftime(tmp, sizeof tmp, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, n, "%s.%03dZ", tmp, (int)((epoch_us / 1000) % 1000));
}

void sim_iso_time(char *out, size_t n)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    sim_iso_time_at(out, n, (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000);
}

void sim_log(const char *level, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s | lambda-sim | %s\n", level, msg);
}

void sim_ascii(char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
            *s = '?';
}
