/*
 * clock.h — the two clocks sluice reads: a monotonic one for deadlines and
 * durations (never jumps), and the wall clock for what is recorded and shown.
 */
#ifndef SLUICE_CLOCK_H
#define SLUICE_CLOCK_H

#include <stdint.h>

/* Milliseconds on CLOCK_MONOTONIC: for timeouts, backoff, elapsed time. */
int64_t clock_mono_ms(void);
/* Seconds since the epoch on CLOCK_REALTIME, with the fraction: for records. */
double clock_wall(void);

#endif
