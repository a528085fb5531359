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

/* Lambda's runtime identifiers (nodejs20.x, python3.12, java21, provided.al2023)
 * become a runtime version as INIT_START shows it: family ':' release '.v' build
 * (nodejs:20.v13, python:3.12.v13, provided:al2023.v13). The build number is
 * fixed: the simulator has no runtime updates. */
int sim_runtime_version(struct sim_opts *o)
{
    const char *id = o->runtime_id;
    size_t n = strlen(id);
    if (n == 0 || n > 40 || strspn(id, "abcdefghijklmnopqrstuvwxyz0123456789.") != n
        || strspn(id, "abcdefghijklmnopqrstuvwxyz") == 0) {
        fprintf(stderr, "lambda-sim: --runtime-id '%s': expected a Lambda runtime identifier such as "
                        "nodejs20.x, python3.12 or provided.al2023\n", id);
        return -1;
    }
    if (strlen(o->region) > 40) {
        fprintf(stderr, "lambda-sim: --region: at most 40 characters\n");
        return -1;
    }
    if (o->runtime_version) {
        size_t vn = strlen(o->runtime_version);
        if (vn == 0 || vn >= sizeof o->rt_version) {
            fprintf(stderr, "lambda-sim: --runtime-version: 1 to %zu characters\n", sizeof o->rt_version - 1);
            return -1;
        }
        snprintf(o->rt_version, sizeof o->rt_version, "%s", o->runtime_version);
        for (char *c = o->rt_version; *c; c++)
            if ((unsigned char)*c < 0x21 || (unsigned char)*c > 0x7e) {
                fprintf(stderr, "lambda-sim: --runtime-version: printable ASCII only\n");
                return -1;
            }
    } else {
        size_t fam = strspn(id, "abcdefghijklmnopqrstuvwxyz");
        const char *rel = id + fam;
        if (*rel == '.')
            rel++;
        size_t rl = strlen(rel);
        if (rl >= 2 && strcmp(rel + rl - 2, ".x") == 0)
            rl -= 2;
        if (rl == 0) {
            fprintf(stderr, "lambda-sim: --runtime-id '%s': no release after the family name\n", id);
            return -1;
        }
        snprintf(o->rt_version, sizeof o->rt_version, "%.*s:%.*s.v13", (int)fam, id, (int)rl, rel);
    }
    /* a stable 64-hex-digit id per version, the shape of Lambda's runtime version ARNs */
    char hex[65];
    uint64_t h = 1469598103934665603ull;
    for (int k = 0; k < 4; k++) {
        for (const char *c = o->rt_version; *c; c++)
            h = (h ^ (unsigned char)*c) * 1099511628211ull;
        h = (h ^ (uint64_t)k) * 1099511628211ull;
        snprintf(hex + k * 16, 17, "%016llx", (unsigned long long)h);
    }
    snprintf(o->rt_version_arn, sizeof o->rt_version_arn, "arn:aws:lambda:%s::runtime:%s", o->region, hex);
    return 0;
}
