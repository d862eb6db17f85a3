#include "util/clock.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

uint64_t clock_now_ms(void)
{
	const char *path = getenv("CRYPTOCAT_CLOCK_FILE");
	if (path && *path) {
		FILE *f = fopen(path, "r");
		unsigned long long s = 0;
		if (f) {
			int ok = fscanf(f, "%llu", &s) == 1;
			fclose(f);
			if (ok)
				return (uint64_t)s * 1000;
		}
	}
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

uint64_t clock_now_s(void)
{
	return clock_now_ms() / 1000;
}

uint64_t clock_mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}
