/* Wall-clock time in one place, so tests can control it.
 *
 * It is the system clock. Test builds can put another source in front of it
 * (util/clock_hook.h: the test variants of the programs read
 * CRYPTOCAT_CLOCK_FILE); the shipped programs have no such source and read
 * nothing from the environment here. */
#ifndef CC_UTIL_CLOCK_H
#define CC_UTIL_CLOCK_H

#include <stdint.h>

/* Unix time in milliseconds. */
uint64_t clock_now_ms(void);
/* Unix time in seconds. */
uint64_t clock_now_s(void);
/* Milliseconds of a monotonic clock, for timeouts: never steps, never
 * controlled by tests. */
uint64_t clock_mono_ms(void);
/* The same in microseconds. */
uint64_t clock_mono_us(void);

#endif
