/* clock.h — monotonic microsecond checkpoints shared by all three processes.
 * CLOCK_MONOTONIC is system-wide, so a child's checkpoint compares with the parent's. */
#ifndef FORKCAP_CLOCK_H
#define FORKCAP_CLOCK_H

#include <stdint.h>

/* Microseconds on CLOCK_MONOTONIC. */
uint64_t clock_us(void);

/* Unix epoch milliseconds (CLOCK_REALTIME), for comparing with Lambda's deadlineMs. */
int64_t clock_epoch_ms(void);

/* Milliseconds between two checkpoints, as a double (b - a; 0 if b < a). */
double clock_ms_between(uint64_t a_us, uint64_t b_us);

#endif
