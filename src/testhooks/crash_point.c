/* Test-only crash points: when the environment variable CRYPTOCAT_CRASH_AT
 * names the step a program has just reached (util/testpoint.h), the program
 * kills itself with SIGKILL there, as a crash would: no handler, no atexit,
 * no buffered write flushed. What it had written stays in the page cache, as
 * after a process crash (not a power cut: that is what the fsyncs before
 * each step are for, and no test here cuts the power).
 *
 * Never linked into the shipped programs: CMakeLists.txt links it, as part
 * of the cc_testhooks OBJECT library, into the test variants (build/testbin/)
 * and the test programs only. The variable is read at every step, so a test
 * can set it for one child and not the next. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "util/testpoint_hook.h"

#define CRASH_AT_ENV "CRYPTOCAT_CRASH_AT"

static void crash_point_hit(const char *name)
{
	const char *at = getenv(CRASH_AT_ENV);
	if (at && *at && strcmp(at, name) == 0)
		raise(SIGKILL);
}

__attribute__((constructor)) static void crash_point_install(void)
{
	testpoint_set_hook(crash_point_hit);
}
