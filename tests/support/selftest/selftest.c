/* Self-test of tests/support/itest.c against the stand-ins fake_server.c and
 * fake_client.c (built as cryptocat-server and cryptocat in a scratch dir by
 * run.sh). Not a project test: tests/test_*.c do not match it. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "itest.h"

static long long ms_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int gone(pid_t pid)
{
	char path[64], buf[512];
	snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return 1;
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	char *rp = strrchr(buf, ')');
	return rp && rp[1] == ' ' && (rp[2] == 'Z' || rp[2] == 'X');
}

static int is_dir(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static void test_files(void **state)
{
	(void)state;
	assert_int_equal(itest_have_binaries(), 1);
	const char *d = itest_tmpdir("files a/b");
	assert_non_null(d);
	assert_non_null(strstr(d, "cryptocat-itest-files_a_b-"));
	assert_true(is_dir(d));
	const char *sub = itest_subdir(d, "x");
	assert_non_null(sub);
	assert_true(is_dir(sub));
	assert_non_null(itest_subdir(d, "x"));  /* exists: fine */
	const char *deep = itest_subdir(sub, "y");
	FILE *f = fopen(itest_path(deep, "f"), "w");
	assert_non_null(f);
	fputs("hello", f);
	fclose(f);
	chmod(deep, 0500);
	size_t len;
	char *data = itest_read_file(itest_path(deep, "f"), &len);
	assert_non_null(data);
	assert_int_equal(len, 5);
	assert_string_equal(data, "hello");
	free(data);
	assert_null(itest_read_file(itest_path(d, "nope"), NULL));
	char *copy = strdup(d);
	itest_cleanup();
	assert_false(is_dir(copy));

	setenv("ITEST_KEEP", "1", 1);
	d = itest_tmpdir("keep");
	assert_non_null(d);
	free(copy);
	copy = strdup(d);
	itest_cleanup();
	assert_true(is_dir(copy));
	rmdir(copy);
	free(copy);
	unsetenv("ITEST_KEEP");
}

static void test_server_basic(void **state)
{
	(void)state;
	const char *d = itest_tmpdir("srv");
	struct itest_server *s = itest_server_start(itest_subdir(d, "data"), NULL);
	assert_non_null(s);
	int port = itest_server_port(s);
	assert_true(port > 0);
	char want[64];
	snprintf(want, sizeof want, "%s/server-%d.log", d, port);
	assert_string_equal(itest_server_log(s), want);
	int fd = itest_tcp_connect(port);
	assert_true(fd >= 0);
	close(fd);
	char *log = itest_read_file(itest_server_log(s), NULL);
	assert_non_null(log);
	assert_non_null(strstr(log, "log level debug"));
	free(log);
	assert_int_equal(itest_server_stop(s), 0);
	assert_int_equal(itest_tcp_connect(port), -1);

	/* --log-level given by the test wins */
	const char *args[] = {"--log-level", "error", NULL};
	s = itest_server_start(itest_subdir(d, "data"), args);
	assert_non_null(s);
	log = itest_read_file(itest_server_log(s), NULL);
	assert_non_null(strstr(log, "log level error"));
	assert_null(strstr(log, "debug"));
	free(log);
	assert_int_equal(itest_server_stop_signal(s, SIGINT), 0);
}

static void test_server_status(void **state)
{
	(void)state;
	const char *d = itest_tmpdir("srvstatus");
	const char *data = itest_subdir(d, "data");
	const char *exit5[] = {"--term-exit", "5", NULL};
	struct itest_server *s = itest_server_start(data, exit5);
	assert_non_null(s);
	assert_int_equal(itest_server_stop(s), 5);

	const char *slow[] = {"--slow-start", "300", NULL};
	long long t0 = ms_now();
	s = itest_server_start(data, slow);
	assert_non_null(s);
	assert_true(ms_now() - t0 >= 300);
	pid_t pid = itest_server_pid(s);
	itest_server_kill(s);
	assert_true(gone(pid));

	const char *fail[] = {"--fail", NULL};
	t0 = ms_now();
	assert_null(itest_server_start(data, fail));
	fprintf(stderr, "(failing start took %lld ms)\n", ms_now() - t0);

	/* ignores SIGTERM: killed after the (scaled) stop timeout, -1 */
	const char *stubborn[] = {"--ignore-term", NULL};
	s = itest_server_start(data, stubborn);
	assert_non_null(s);
	pid = itest_server_pid(s);
	t0 = ms_now();
	assert_int_equal(itest_server_stop(s), -1);
	long long took = ms_now() - t0;
	fprintf(stderr, "(stubborn stop took %lld ms)\n", took);
	assert_true(took >= itest_scale_ms(ITEST_STOP_TIMEOUT_MS));
	assert_true(gone(pid));

	/* restart on the same port after a crash */
	s = itest_server_start(data, NULL);
	assert_non_null(s);
	int port = itest_server_port(s);
	int fd = itest_tcp_connect(port);  /* leaves a connection behind */
	assert_true(fd >= 0);
	itest_server_kill(s);
	close(fd);
	s = itest_server_start_on(data, port, NULL);
	assert_non_null(s);
	assert_int_equal(itest_server_port(s), port);
	assert_int_equal(itest_server_stop(s), 0);
}

static void test_tcp(void **state)
{
	(void)state;
	assert_true(itest_free_port() > 0);
	const char *d = itest_tmpdir("tcp");
	const char *args[] = {"--max-bytes", "100", NULL};
	struct itest_server *s = itest_server_start(itest_subdir(d, "data"), args);
	assert_non_null(s);
	int fd = itest_tcp_connect(itest_server_port(s));
	assert_true(fd >= 0);
	long long t0 = ms_now();
	assert_int_equal(itest_tcp_wait_closed(fd, 300), 0);
	assert_true(ms_now() - t0 >= itest_scale_ms(300));
	char junk[50];
	memset(junk, 'x', sizeof junk);
	assert_int_equal(itest_tcp_send_all(fd, junk, sizeof junk), 0);
	assert_int_equal(itest_tcp_wait_closed(fd, 300), 0);  /* "ack" read */
	assert_int_equal(itest_tcp_send_all(fd, junk, sizeof junk), 0);
	assert_int_equal(itest_tcp_send_all(fd, junk, sizeof junk), 0);
	assert_int_equal(itest_tcp_wait_closed(fd, ITEST_TIMEOUT_MS), 1);
	/* writing to it now fails without killing us (SIGPIPE ignored) */
	int rc = 0;
	for (int i = 0; i < 50 && rc == 0; i++)
		rc = itest_tcp_send_all(fd, junk, sizeof junk);
	assert_int_equal(rc, -1);
	close(fd);
	assert_int_equal(itest_server_stop(s), 0);
}

static void test_client(void **state)
{
	(void)state;
	const char *d = itest_tmpdir("client");
	struct itest_server *s = itest_server_start(itest_subdir(d, "server"), NULL);
	assert_non_null(s);
	struct itest_client *a = itest_client_start(itest_server_port(s),
		itest_subdir(d, "alice"), "alice", NULL);
	assert_non_null(a);
	char want[128];
	snprintf(want, sizeof want, "%s/client-alice.log", d);
	assert_string_equal(itest_client_log(a), want);
	assert_string_equal(itest_client_nick(a), "alice");

	json_t *ev = itest_client_expect(a, "registered", ITEST_TIMEOUT_MS);
	assert_non_null(ev);
	assert_string_equal(itest_json_str(ev, "nick"), "alice");
	assert_string_equal(itest_json_str(ev, "fingerprint"), "2048");
	assert_null(itest_json_str(ev, "nope"));
	assert_null(itest_json_str(NULL, "nick"));
	json_decref(ev);

	assert_int_equal(itest_client_send(a, "/echo hi"), 0);
	ev = itest_client_next(a, ITEST_TIMEOUT_MS);
	assert_non_null(ev);
	assert_string_equal(itest_json_str(ev, "text"), "hi");
	json_decref(ev);

	assert_int_equal(itest_client_sendf(a, "/error %s", "nick_taken"), 0);
	ev = itest_client_expect_error(a, "nick_taken", ITEST_TIMEOUT_MS);
	assert_non_null(ev);
	json_decref(ev);
	fputs("---- expected diagnostic: wrong error code\n", stderr);
	itest_client_send(a, "/error other");
	assert_null(itest_client_expect_error(a, "nick_taken", ITEST_TIMEOUT_MS));

	/* wrong event: NULL, and the line is consumed */
	fputs("---- expected diagnostic: wrong event\n", stderr);
	itest_client_send(a, "/echo one");
	itest_client_send(a, "/echo two");
	assert_null(itest_client_expect(a, "joined", ITEST_TIMEOUT_MS));
	ev = itest_client_expect(a, "echo", ITEST_TIMEOUT_MS);
	assert_string_equal(itest_json_str(ev, "text"), "two");
	json_decref(ev);

	/* wait_for skips */
	fputs("---- expected: two skipped lines\n", stderr);
	itest_client_send(a, "/echo skip1");
	itest_client_send(a, "/error skip2");
	itest_client_send(a, "/sleep 50");
	ev = itest_client_wait_for(a, "slept", ITEST_TIMEOUT_MS);
	assert_non_null(ev);
	json_decref(ev);

	/* partial line split over two writes, ending in \r\n */
	itest_client_send(a, "/partial");
	ev = itest_client_expect(a, "partial", ITEST_TIMEOUT_MS);
	assert_non_null(ev);
	json_decref(ev);

	/* not JSON */
	fputs("---- expected diagnostic: not JSON\n", stderr);
	itest_client_send(a, "/stderr some stderr text for the diagnostic");
	itest_client_send(a, "/garbage");
	assert_null(itest_client_next(a, ITEST_TIMEOUT_MS));

	/* timeout */
	fputs("---- expected diagnostic: timeout\n", stderr);
	long long t0 = ms_now();
	assert_null(itest_client_expect(a, "never", 300));
	long long took = ms_now() - t0;
	assert_true(took >= itest_scale_ms(300));
	assert_true(took < itest_scale_ms(300) + 1000);
	/* wait_for times out too, over the whole wait */
	fputs("---- expected: skipped x3 then timeout\n", stderr);
	itest_client_send(a, "/many 3");
	t0 = ms_now();
	assert_null(itest_client_wait_for(a, "never", 300));
	assert_true(ms_now() - t0 < itest_scale_ms(300) + 1000);

	/* silence */
	assert_int_equal(itest_client_expect_silence(a, 200), 1);
	fputs("---- expected diagnostic: not silent\n", stderr);
	itest_client_send(a, "/echo noise");
	assert_int_equal(itest_client_expect_silence(a, 2000), 0);

	assert_int_equal(itest_client_send(a, "/quit"), 0);
	ev = itest_client_expect(a, "bye", ITEST_TIMEOUT_MS);
	assert_non_null(ev);
	json_decref(ev);
	assert_int_equal(itest_client_wait_exit(a, ITEST_TIMEOUT_MS), 0);

	/* a second alice gets a second log */
	a = itest_client_start(itest_server_port(s), itest_subdir(d, "alice"),
		"alice", NULL);
	assert_non_null(a);
	snprintf(want, sizeof want, "%s/client-alice-2.log", d);
	assert_string_equal(itest_client_log(a), want);
	ev = itest_client_expect(a, "registered", ITEST_TIMEOUT_MS);
	json_decref(ev);
	/* EOF while waiting */
	fputs("---- expected diagnostic: stdout closed, exit status 9\n", stderr);
	itest_client_send(a, "/exit 9");
	assert_null(itest_client_next(a, ITEST_TIMEOUT_MS));
	fputs("---- expected diagnostic: exited with 9\n", stderr);
	assert_int_equal(itest_client_wait_exit(a, ITEST_TIMEOUT_MS), 9);

	assert_int_equal(itest_server_stop(s), 0);
}

static void test_client_exits(void **state)
{
	(void)state;
	const char *d = itest_tmpdir("exits");
	struct itest_server *s = itest_server_start(itest_subdir(d, "server"), NULL);
	assert_non_null(s);
	int port = itest_server_port(s);
	const char *home = itest_subdir(d, "home");

	/* EOF on stdin: exit 0 */
	struct itest_client *c = itest_client_start(port, home, "bob", NULL);
	json_decref(itest_client_expect(c, "registered", ITEST_TIMEOUT_MS));
	itest_client_close_stdin(c);
	assert_int_equal(itest_client_wait_exit(c, ITEST_TIMEOUT_MS), 0);

	/* crash */
	fputs("---- expected diagnostic: killed by signal 6\n", stderr);
	c = itest_client_start(port, home, "bob", NULL);
	itest_client_send(c, "/crash");
	assert_int_equal(itest_client_wait_exit(c, ITEST_TIMEOUT_MS), 128 + SIGABRT);

	/* hangs: wait_exit times out, kills, -1 */
	fputs("---- expected diagnostic: did not exit\n", stderr);
	c = itest_client_start(port, home, "bob", NULL);
	pid_t pid = itest_client_pid(c);
	itest_client_send(c, "/hang");
	long long t0 = ms_now();
	assert_int_equal(itest_client_wait_exit(c, 300), -1);
	assert_true(ms_now() - t0 >= itest_scale_ms(300));
	assert_true(gone(pid));

	/* lots of output not read: wait_exit drains it */
	c = itest_client_start(port, home, "carol", NULL);
	itest_client_send(c, "/many 30000");
	itest_client_close_stdin(c);
	assert_int_equal(itest_client_wait_exit(c, ITEST_TIMEOUT_MS), 0);

	/* send to a dead client: -1, no SIGPIPE */
	fputs("---- expected diagnostic: cannot send\n", stderr);
	c = itest_client_start(port, home, "dave", NULL);
	itest_client_send(c, "/exit 0");
	usleep(200 * 1000);
	int rc = 0;
	for (int i = 0; i < 10 && rc == 0; i++)
		rc = itest_client_send(c, "/echo late");
	assert_int_equal(rc, -1);
	assert_int_equal(itest_client_wait_exit(c, ITEST_TIMEOUT_MS), 0);

	/* kill */
	c = itest_client_start(port, home, "erin", NULL);
	pid = itest_client_pid(c);
	json_decref(itest_client_expect(c, "registered", ITEST_TIMEOUT_MS));
	itest_client_kill(c);
	assert_true(gone(pid));

	/* raw arguments: usage error */
	const char *args[] = {"--batch", "--server", "127.0.0.1:1", NULL};
	fputs("---- expected diagnostic: exit status 2 (usage)\n", stderr);
	c = itest_client_start_args(args, itest_path(d, "usage.log"));
	assert_non_null(c);
	assert_int_equal(itest_client_wait_exit(c, ITEST_TIMEOUT_MS), 2);
	char *log = itest_read_file(itest_path(d, "usage.log"), NULL);
	assert_non_null(strstr(log, "usage"));
	free(log);

	/* --rsa-bits given by the test wins */
	const char *bits[] = {"--rsa-bits", "3072", NULL};
	c = itest_client_start(port, home, "frank", bits);
	json_t *ev = itest_client_expect(c, "registered", ITEST_TIMEOUT_MS);
	assert_string_equal(itest_json_str(ev, "fingerprint"), "3072");
	json_decref(ev);
	itest_client_close_stdin(c);
	assert_int_equal(itest_client_wait_exit(c, ITEST_TIMEOUT_MS), 0);

	assert_int_equal(itest_server_stop(s), 0);

	/* no server: error event and exit 1 */
	c = itest_client_start(port, home, "gina", NULL);
	ev = itest_client_expect_error(c, "connect_failed", ITEST_TIMEOUT_MS);
	assert_non_null(ev);
	json_decref(ev);
	fputs("---- expected diagnostic: exited with 1\n", stderr);
	assert_int_equal(itest_client_wait_exit(c, ITEST_TIMEOUT_MS), 1);
}

static void test_run(void **state)
{
	(void)state;
	const char *d = itest_tmpdir("run");
	const char *t[] = {"-c", "echo out; echo err >&2; exit 4", NULL};
	assert_int_equal(itest_run("/bin/sh", t, itest_path(d, "run.log"), 5000), 4);
	char *log = itest_read_file(itest_path(d, "run.log"), NULL);
	assert_string_equal(log, "out\nerr\n");
	free(log);
	assert_int_equal(itest_run("/bin/true", NULL, NULL, 5000), 0);
	fputs("---- expected diagnostic: sleep killed\n", stderr);
	const char *sl[] = {"10", NULL};
	assert_int_equal(itest_run("/bin/sleep", sl, NULL, 200), -1);
	assert_int_equal(itest_run("/nonexistent/x", NULL, NULL, 5000), 127);
}

static void test_leftovers(void **state)
{
	(void)state;
	const char *d = itest_tmpdir("left");
	struct itest_server *s = itest_server_start(itest_subdir(d, "server"), NULL);
	assert_non_null(s);
	struct itest_client *c = itest_client_start(itest_server_port(s),
		itest_subdir(d, "h"), "zed", NULL);
	assert_non_null(c);
	pid_t sp = itest_server_pid(s), cp = itest_client_pid(c);
	fputs("---- expected: cleanup kills 2 leftovers\n", stderr);
	itest_cleanup();
	assert_true(gone(sp));
	assert_true(gone(cp));

	/* children die with the test process (PR_SET_PDEATHSIG) */
	int p[2];
	assert_int_equal(pipe(p), 0);
	const char *od = itest_tmpdir("orphan");  /* removed by our teardown */
	pid_t kid = fork();
	assert_true(kid >= 0);
	if (kid == 0) {
		const char *dd = itest_subdir(od, "data");
		struct itest_server *os = itest_server_start(dd, NULL);
		pid_t op = os ? itest_server_pid(os) : -1;
		(void)!write(p[1], &op, sizeof op);
		_exit(0);
	}
	pid_t orphan = -1;
	assert_int_equal(read(p[0], &orphan, sizeof orphan), (ssize_t)sizeof orphan);
	waitpid(kid, NULL, 0);
	assert_true(orphan > 0);
	for (int i = 0; i < 100 && !gone(orphan); i++)
		usleep(10000);
	assert_true(gone(orphan));
	close(p[0]);
	close(p[1]);
}

/* A test that fails midway: teardown must still clean up. */
static pid_t failing_pid;
static void test_failing_midway(void **state)
{
	(void)state;
	const char *d = itest_tmpdir("failing");
	struct itest_server *s = itest_server_start(itest_subdir(d, "server"), NULL);
	assert_non_null(s);
	failing_pid = itest_server_pid(s);
	fputs("---- expected: this test fails; teardown kills the server\n", stderr);
	assert_int_equal(1, 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_files, itest_teardown),
		cmocka_unit_test_teardown(test_server_basic, itest_teardown),
		cmocka_unit_test_teardown(test_server_status, itest_teardown),
		cmocka_unit_test_teardown(test_tcp, itest_teardown),
		cmocka_unit_test_teardown(test_client, itest_teardown),
		cmocka_unit_test_teardown(test_client_exits, itest_teardown),
		cmocka_unit_test_teardown(test_run, itest_teardown),
		cmocka_unit_test_teardown(test_leftovers, itest_teardown),
		cmocka_unit_test_teardown(test_failing_midway, itest_teardown),
	};
	int failed = cmocka_run_group_tests(tests, NULL, NULL);
	/* exactly the one deliberate failure, and its server is gone */
	int ok = failed == 1 && failing_pid > 0 && gone(failing_pid);
	fprintf(stderr, "SELFTEST %s (failed=%d, leftover gone=%d)\n",
		ok ? "PASSED" : "FAILED", failed, failing_pid > 0 && gone(failing_pid));
	return ok ? 0 : 1;
}
