/* Smoke test of tests/support/itest.c against the real binaries (whatever
 * they can do today: registration, /ping, /quit). Build by hand, e.g.
 *   cc -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE \
 *      -DCC_BINARY_DIR='"/path/to/build"' -I../ -o real_smoke real_smoke.c \
 *      ../itest.c -lcmocka -ljansson
 * Not a project test: tests/test_*.c do not match it. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "itest.h"

static void test_register_ping_quit(void **state)
{
	(void)state;
	if (!itest_have_binaries())
		skip();
	const char *d = itest_tmpdir("smoke");
	struct itest_server *s = itest_server_start(itest_subdir(d, "server"), NULL);
	assert_non_null(s);
	int port = itest_server_port(s);
	struct itest_client *a = itest_client_start(port, itest_subdir(d, "alice"),
		"alice", NULL);
	assert_non_null(a);
	json_t *ev = itest_client_wait_for(a, "registered", ITEST_TIMEOUT_MS);
	assert_non_null(ev);
	assert_string_equal(itest_json_str(ev, "nick"), "alice");
	assert_non_null(itest_json_str(ev, "fingerprint"));
	json_decref(ev);
	assert_int_equal(itest_client_send(a, "/ping"), 0);
	ev = itest_client_expect(a, "pong", ITEST_TIMEOUT_MS);
	assert_non_null(ev);
	json_decref(ev);

	/* the same nick with another key: refused */
	struct itest_client *b = itest_client_start(port, itest_subdir(d, "alice2"),
		"alice", NULL);
	assert_non_null(b);
	ev = itest_client_wait_for(b, "error", ITEST_TIMEOUT_MS);
	assert_non_null(ev);
	fprintf(stderr, "second alice: %s\n", itest_json_str(ev, "code"));
	json_decref(ev);
	itest_client_close_stdin(b);
	fprintf(stderr, "second alice exit: %d\n",
		itest_client_wait_exit(b, ITEST_TIMEOUT_MS));

	/* garbage on a raw connection: the server closes it */
	int fd = itest_tcp_connect(port);
	assert_true(fd >= 0);
	char junk[4096];
	memset(junk, 0xff, sizeof junk);
	itest_tcp_send_all(fd, junk, sizeof junk);
	assert_int_equal(itest_tcp_wait_closed(fd, ITEST_TIMEOUT_MS), 1);

	assert_int_equal(itest_client_send(a, "/quit"), 0);
	assert_int_equal(itest_client_wait_exit(a, ITEST_TIMEOUT_MS), 0);
	assert_int_equal(itest_server_stop(s), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_register_ping_quit, itest_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
