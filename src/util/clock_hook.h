/* Test-only: where clock_now_ms() gets the time from.
 *
 * Only test code includes this header (src/testhooks/, tests/). The shipped
 * programs never call clock_set_source(), so their clock is the system clock
 * and nothing outside the code (no environment variable, no file) can move
 * it. The test variants of the programs (build/testbin/) and the test
 * programs link src/testhooks/clock_file.c, which installs a source that
 * reads CRYPTOCAT_CLOCK_FILE. */
#ifndef CC_UTIL_CLOCK_HOOK_H
#define CC_UTIL_CLOCK_HOOK_H

#include <stdint.h>

/* A source of Unix time: 1 with *NOW_MS set, or 0 to let clock_now_ms() use
 * the system clock for this call. It may be called from any thread that
 * calls clock_now_ms(). */
typedef int (*clock_source_fn)(uint64_t *now_ms);

/* From now on clock_now_ms() (and clock_now_s()) ask FN first; NULL: the
 * system clock only. Call it before any other thread runs (e.g. from a
 * constructor). clock_mono_ms() is never affected. */
void clock_set_source(clock_source_fn fn);

#endif
