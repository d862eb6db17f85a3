/* The per-member work of a big room on every core: a directory's keys and
 * certificates checked (keycache.c), a new epoch's secret wrapped to each
 * member (epochs.c). Each item is independent, and OpenSSL's calls are safe
 * from several threads at once; the results are put together in order by
 * the caller, on the loop's thread, so nothing else of the core is touched
 * from a worker. */
#include <pthread.h>
#include <unistd.h>

#include "client/core/internal.h"

/* Threads at most, the caller's included. */
#define PARALLEL_THREADS_MAX 8

struct parallel_run {
	void (*fn)(void *ctx, size_t i);
	void *ctx;
	size_t n, stride, start;
};

static void *parallel_worker(void *arg)
{
	struct parallel_run *run = arg;
	for (size_t i = run->start; i < run->n; i += run->stride)
		run->fn(run->ctx, i);
	return NULL;
}

void client_parallel(size_t n, size_t min_per_thread, void (*fn)(void *ctx, size_t i), void *ctx)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	size_t threads = cpus > 1 ? (size_t)cpus : 1;
	if (threads > PARALLEL_THREADS_MAX)
		threads = PARALLEL_THREADS_MAX;
	if (min_per_thread && threads > n / min_per_thread)
		threads = n / min_per_thread;
	if (threads <= 1) {
		for (size_t i = 0; i < n; i++)
			fn(ctx, i);
		return;
	}
	struct parallel_run runs[PARALLEL_THREADS_MAX];
	pthread_t ids[PARALLEL_THREADS_MAX];
	bool started[PARALLEL_THREADS_MAX] = {false};
	for (size_t t = 0; t < threads; t++)
		runs[t] = (struct parallel_run){fn, ctx, n, threads, t};
	/* Thread 0's share is the caller's; one that cannot start is done
	 * here too, after. */
	for (size_t t = 1; t < threads; t++)
		started[t] = pthread_create(&ids[t], NULL, parallel_worker, &runs[t]) == 0;
	parallel_worker(&runs[0]);
	for (size_t t = 1; t < threads; t++) {
		if (started[t])
			pthread_join(ids[t], NULL);
		else
			parallel_worker(&runs[t]);
	}
}
