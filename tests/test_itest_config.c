/* The client's config file end to end, with the real client (batch mode)
 * and a real server:
 *
 *   test_file_sets_server_and_nick  $XDG_CONFIG_HOME/cryptocat/config alone
 *                        picks the server and the nickname (and the key size)
 *   test_flag_overrides  --server and --nick beat the file's, and --batch
 *                        beats its "plain = yes"; its booleans are accepted
 *   test_bad_line        a bad value, an unknown key, a line without '=':
 *                        each is reported as FILE:LINE, exit status 2, and
 *                        nothing started (no home directory made); a file
 *                        named by --config must exist, the default one need
 *                        not; --help still works beside a broken file */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "support/itest.h"
#include "support/itest_rooms.h"

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	assert_true(fputs(text, f) >= 0);
	assert_int_equal(fclose(f), 0);
}

static int exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0;
}

/* The registered event of a batch client started with exactly ARGS: its
 * nickname and server must be NICK and 127.0.0.1:PORT. Then /quit. */
static void expect_registered(const char *const *args, const char *log, const char *nick,
			      int port)
{
	char server[64];
	struct itest_client *c = itest_client_start_args(args, log);
	assert_non_null(c);
	json_t *ev = itest_client_expect(c, "registered", ITEST_TIMEOUT_MS);
	assert_non_null(ev);
	assert_string_equal(itest_json_str(ev, "nick"), nick);
	snprintf(server, sizeof server, "127.0.0.1:%d", port);
	assert_string_equal(itest_json_str(ev, "server"), server);
	json_decref(ev);
	rt_quit(c);
}

static int teardown(void **state)
{
	setenv("XDG_CONFIG_HOME", "/nonexistent/cryptocat-itest", 1);
	return itest_teardown(state);
}

static void test_file_sets_server_and_nick(void **state)
{
	struct rt_fixture f;
	char text[256];
	(void)state;

	rt_start(&f, "config-file", 0);
	const char *conf = itest_subdir(f.dir, "conf");
	snprintf(text, sizeof text,
		 "# alice's settings\n"
		 "server = 127.0.0.1:%d\n"
		 "\n"
		 "nick = alice\n"
		 "rsa-bits = 2048\n",
		 f.port);
	write_file(itest_path(itest_subdir(conf, "cryptocat"), "config"), text);
	setenv("XDG_CONFIG_HOME", conf, 1);
	const char *args[] = {"--batch", "--home", itest_subdir(f.dir, "alice"), NULL};
	expect_registered(args, itest_path(f.dir, "alice.log"), "alice", f.port);
	rt_stop(&f);
}

static void test_flag_overrides(void **state)
{
	struct rt_fixture f;
	char port[16];
	(void)state;

	rt_start(&f, "config-override", 0);
	/* The file's server refuses connections: the flag's must be used. */
	const char *conf = itest_path(f.dir, "other.conf");
	write_file(conf, "server = 127.0.0.1:1\n"
			 "nick = alice\n"
			 "rsa-bits = 2048\n"
			 "plain = yes\n"
			 "color = off\n"
			 "bell = no\n"
			 "log-level = info\n");
	snprintf(port, sizeof port, "127.0.0.1:%d", f.port);
	const char *args[] = {"--config", conf, "--server", port, "--nick", "carol", "--batch",
			      "--home", itest_subdir(f.dir, "carol"), NULL};
	expect_registered(args, itest_path(f.dir, "carol.log"), "carol", f.port);

	/* Without the flags, the file's server is the one tried. */
	const char *home = itest_path(f.dir, "dave");
	const char *only_file[] = {"--config", conf, "--batch", "--home", home, NULL};
	assert_int_equal(itest_run(itest_client_bin(), only_file, itest_path(f.dir, "dave.log"),
				   ITEST_TIMEOUT_MS),
			 1);
	char *log = itest_read_file(itest_path(f.dir, "dave.log"), NULL);
	assert_non_null(log);
	assert_non_null(strstr(log, "127.0.0.1:1"));
	free(log);
	rt_stop(&f);
}

/* Runs the client with ARGS and a home that must stay unmade: exit status
 * 2, and its standard error must hold WANT. */
static void expect_refused(const char *dir, const char *const *args, const char *want)
{
	const char *log = itest_path(dir, "refused.log");
	assert_int_equal(itest_run(itest_client_bin(), args, log, ITEST_TIMEOUT_MS), 2);
	char *text = itest_read_file(log, NULL);
	assert_non_null(text);
	if (!strstr(text, want))
		fail_msg("expected \"%s\" in the client's stderr: %s", want, text);
	free(text);
	assert_false(exists(itest_path(dir, "home")));
}

static void test_bad_line(void **state)
{
	static const struct {
		const char *line, *why;
	} bad[] = {
		{"ping-timeout = soon", "bad value for ping-timeout: soon"},
		{"nick = not a nick", "bad nickname 'not a nick'"},
		{"colour = off", "unknown key 'colour'"},
		{"batch = yes", "'batch' is an option of the command line only"},
		{"color = purple", "'color' is on or off"},
		{"server 127.0.0.1:7777", "expected key = value"},
		{"rsa-bits = 1024", "bad value for rsa-bits: 1024"},
	};
	char text[256], want[512];
	(void)state;
	if (!itest_have_binaries())
		skip();
	const char *dir = itest_tmpdir("config-bad");
	const char *conf = itest_path(dir, "config");
	const char *home = itest_path(dir, "home");
	const char *args[] = {"--config", conf, "--home", home, "--batch", NULL};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		snprintf(text, sizeof text, "# line 1\nserver = 127.0.0.1:7777\n\n%s\nnick = x\n",
			 bad[i].line);
		write_file(conf, text);
		snprintf(want, sizeof want, "cryptocat: %s:4: %s", conf, bad[i].why);
		expect_refused(dir, args, want);
	}

	/* The default file too, by its path. */
	const char *xdg = itest_subdir(dir, "xdg");
	write_file(itest_path(itest_subdir(xdg, "cryptocat"), "config"), "\n\nnick = \n");
	setenv("XDG_CONFIG_HOME", xdg, 1);
	const char *plain[] = {"--home", home, "--batch", NULL};
	snprintf(want, sizeof want, "cryptocat: %s/cryptocat/config:3: no value for 'nick'", xdg);
	expect_refused(dir, plain, want);
	/* --help is still there to read. */
	const char *help[] = {"--help", NULL};
	assert_int_equal(itest_run(itest_client_bin(), help, NULL, ITEST_TIMEOUT_MS), 0);

	/* A file named with --config must exist; the default one need not. */
	const char *missing[] = {"--config", itest_path(dir, "missing"), "--home", home, NULL};
	snprintf(want, sizeof want, "cryptocat: %s: No such file or directory",
		 itest_path(dir, "missing"));
	expect_refused(dir, missing, want);
	setenv("XDG_CONFIG_HOME", itest_path(dir, "none"), 1);
	const char *no_file[] = {"--home", home, "--server", "127.0.0.1:1", "--nick", "x",
				 "--batch", NULL};
	/* No file: it runs (and fails to connect: status 1, not 2). */
	assert_int_equal(itest_run(itest_client_bin(), no_file, NULL, ITEST_TIMEOUT_MS), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_file_sets_server_and_nick, teardown),
		cmocka_unit_test_teardown(test_flag_overrides, teardown),
		cmocka_unit_test_teardown(test_bad_line, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
