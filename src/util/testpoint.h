/* Named steps of multi-step writes (a passphrase change), where the tests
 * kill the process to check that a crash at each one leaves a state the next
 * start recovers from.
 *
 * In the shipped programs testpoint() does nothing: no hook is ever set
 * (util/testpoint_hook.h), and nothing outside the code (no environment
 * variable, no file) can make it do anything. */
#ifndef CC_UTIL_TESTPOINT_H
#define CC_UTIL_TESTPOINT_H

/* The step NAME is done (a short stable name, e.g. "passphrase:db-committed"). */
void testpoint(const char *name);

#endif
