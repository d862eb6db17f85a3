#include "util/testpoint.h"
#include "util/testpoint_hook.h"

/* NULL in the shipped programs: only test code sets it (testpoint_hook.h). */
static testpoint_fn testpoint_hook;

void testpoint_set_hook(testpoint_fn fn)
{
	testpoint_hook = fn;
}

void testpoint(const char *name)
{
	if (testpoint_hook)
		testpoint_hook(name);
}
