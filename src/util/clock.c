#include "util/clock.h"
#include "util/clock_hook.h"

#include <time.h>

/* NULL in the shipped programs: only test code sets it (clock_hook.h). */
static clock_source_fn clock_source;

void clock_set_source(clock_source_fn fn)
{
	clock_source = fn;
}

uint64_t clock_now_ms(void)
{
	uint64_t ms;
	if (clock_source && clock_source(&ms))
		return ms;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

uint64_t clock_now_s(void)
{
	return clock_now_ms() / 1000;
}

uint64_t clock_mono_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

uint64_t clock_mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}
