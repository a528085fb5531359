/* clock.c — see clock.h. */
#include "clock.h"

#include <time.h>

uint64_t clock_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

int64_t clock_epoch_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

double clock_ms_between(uint64_t a_us, uint64_t b_us)
{
    return b_us > a_us ? (double)(b_us - a_us) / 1000.0 : 0.0;
}
