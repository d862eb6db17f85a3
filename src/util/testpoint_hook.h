/* Test-only: what testpoint() does (util/testpoint.h).
 *
 * Only test code includes this header (src/testhooks/, tests/). The test
 * variants of the programs (build/testbin/) and the test programs link
 * src/testhooks/crash_point.c, which installs a hook that kills the process
 * at the step named by CRYPTOCAT_CRASH_AT. */
#ifndef CC_UTIL_TESTPOINT_HOOK_H
#define CC_UTIL_TESTPOINT_HOOK_H

typedef void (*testpoint_fn)(const char *name);

/* From now on testpoint(name) calls FN (NULL: nothing). Call it before any
 * other thread runs (e.g. from a constructor). */
void testpoint_set_hook(testpoint_fn fn);

#endif
