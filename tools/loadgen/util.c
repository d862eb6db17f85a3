/* Load generator: small helpers and the latency histogram. */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "loadgen.h"

#define NS 1000000000ull

uint64_t lg_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NS + (uint64_t)ts.tv_nsec;
}

double lg_secs(uint64_t ns)
{
	return (double)ns / 1e9;
}

void lg_die(const char *fmt, ...)
{
	va_list ap;
	fputs("loadgen: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

void lg_fail(const char *fmt, ...)
{
	va_list ap;
	if (g.exit_code)
		return;
	fputs("loadgen: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	g.exit_code = 1;
	g.phase = PH_DONE;
	event_base_loopbreak(g.base);
}

int lg_run_parallel(size_t njobs, unsigned workers, lg_job_fn fn, void *ctx)
{
	pid_t pids[LG_MAX_WORKERS];
	unsigned started = 0;
	int rc = 0;

	if (workers > njobs)
		workers = (unsigned)njobs;
	if (workers <= 1) {
		for (size_t j = 0; j < njobs; j++)
			if (fn(j, ctx))
				return -1;
		return 0;
	}
	fflush(stdout);
	fflush(stderr);
	pid_t parent = getpid();
	for (unsigned w = 0; w < workers; w++) {
		pid_t pid = fork();
		if (pid < 0) {
			rc = -1;
			break;
		}
		if (pid == 0) {
			/* A worker never outlives the generator (killed mid-run). */
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			if (getppid() != parent)
				_exit(1);
			for (size_t j = w; j < njobs; j += workers)
				if (fn(j, ctx))
					_exit(1);
			_exit(0);
		}
		pids[started++] = pid;
	}
	for (unsigned w = 0; w < started; w++) {
		int status;
		while (waitpid(pids[w], &status, 0) < 0 && errno == EINTR)
			;
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			rc = -1;
	}
	return rc;
}

/* ---- latency histogram (its shape is in loadgen.h) ------------------------------ */

static size_t hist_index(uint64_t v)
{
	if (v < 2 * LG_HIST_SUB)
		return (size_t)v;
	unsigned msb = 63u - (unsigned)__builtin_clzll(v);
	unsigned shift = msb - LG_HIST_SUB_BITS;
	size_t idx = (size_t)LG_HIST_SUB * (shift + 1) + (size_t)((v >> shift) - LG_HIST_SUB);
	return idx < LG_HIST_LEN ? idx : LG_HIST_LEN - 1;
}

static uint64_t hist_value(size_t idx)
{
	if (idx < 2 * LG_HIST_SUB)
		return idx;
	unsigned shift = (unsigned)(idx / LG_HIST_SUB) - 1;
	uint64_t sub = idx % LG_HIST_SUB + LG_HIST_SUB;
	return (sub << shift) + ((1ull << shift) >> 1);
}

double lg_hist_pct(double p)
{
	return lg_hist_pct_of(g.hist, p, g.lat_max_us);
}

double lg_hist_pct_of(const uint64_t *hist, double p, uint64_t max_us)
{
	uint64_t total = 0, cum = 0;
	for (size_t i = 0; i < LG_HIST_LEN; i++)
		total += hist[i];
	if (!total)
		return 0;
	uint64_t want = (uint64_t)(p * (double)total);
	if (want < 1)
		want = 1;
	for (size_t i = 0; i < LG_HIST_LEN; i++) {
		cum += hist[i];
		if (cum >= want)
			return (double)hist_value(i) / 1000.0;
	}
	return (double)max_us / 1000.0;
}

void lg_account_delivery(uint64_t latency_ns)
{
	uint64_t us = latency_ns / 1000;
	g.deliv_total++;
	if (us > g.tl_max_us)
		g.tl_max_us = us;
	if (g.ivl_hist) {
		g.ivl_hist[hist_index(us)]++;
		if (us > g.ivl_max_us)
			g.ivl_max_us = us;
	}
	if (!g.in_window)
		return;
	g.deliv_win++;
	g.hist[hist_index(us)]++;
	if (us > g.lat_max_us)
		g.lat_max_us = us;
}
