#include <stdio.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "server/server.h"
#include "util/log.h"

/* A busy loop turn allocates megabytes of output buffers and frees them at
 * its end. By default glibc gives the heap's top back to the kernel when
 * more than 128 KiB are free there, so every turn faulted its pages in
 * again: a third of the server's CPU at full fan-out on a VM
 * (docs/BENCHMARKS.md, section 3). Keep up to 64 MiB free instead, and
 * serve large blocks from the heap, not one mmap each. */
static void malloc_keep_heap(void)
{
#ifdef __GLIBC__
	mallopt(M_MMAP_THRESHOLD, 32 << 20);
	mallopt(M_TRIM_THRESHOLD, 64 << 20);
	mallopt(M_TOP_PAD, 16 << 20);
#endif
}

int main(int argc, char **argv)
{
	struct server_config cfg;
	int exit_now = 0;

	malloc_keep_heap();

	server_config_defaults(&cfg);
	cc_err err = server_config_parse(&cfg, argc, argv, &exit_now);
	if (err)
		return 2;
	if (exit_now)
		return 0;
	err = server_run(&cfg);
	if (err) {
		log_error("server stopped: %s", cc_err_str(err));
		return 1;
	}
	return 0;
}
