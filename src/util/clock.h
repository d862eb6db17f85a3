/* Wall-clock time in one place, so tests can control it.
 *
 * If the environment variable CRYPTOCAT_CLOCK_FILE names a file, the time is
 * read from it (decimal Unix seconds) on every call; tests use that to move
 * time forward without waiting. Otherwise it is the system clock. */
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

#endif
