/* The shipped programs have no test hooks; the test variants do.
 *
 * build/cryptocat-server and build/cryptocat are what ships: their clock is
 * the system clock, whatever the environment says. The integration tests run
 * the test variants in build/testbin/ (the same main.c plus src/testhooks/),
 * whose clock follows the file named by CRYPTOCAT_CLOCK_FILE. Both are
 * checked by behaviour, the same way: with CRYPTOCAT_CLOCK_FILE naming a file
 * that says ten years from now, a server and two clients run, and what they
 * report is read back:
 *
 * - the server's clock: server_time_ms in the WELCOME of a raw session, and
 *   the "ts" of the client's "sent" event (the server's time of storage);
 * - a client's clock: the "ts" of the message as its receiver shows it (the
 *   time the sending client sealed into the envelope).
 *
 * The shipped programs must show the real time; the test variants exactly
 * the file's. And the shipped binaries do not even hold the variable's name.
 *
 * The same for the crash points (util/testpoint.h): with CRYPTOCAT_CRASH_AT
 * naming a step of a passphrase change, the shipped client finishes the
 * change; the test variant dies there. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "support/itest.h"
#include "support/itest_lifecycle.h"
#include "support/itest_rooms.h"

#define CLOCK_ENV "CRYPTOCAT_CLOCK_FILE"
#define CRASH_ENV "CRYPTOCAT_CRASH_AT"
#define TEN_YEARS_S (3650ull * 86400)
/* How far a real clock may be from the test's own reading of it. */
#define SLACK_MS (10ull * 60 * 1000)

static uint64_t real_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* 1 if the file PATH holds the bytes of NEEDLE. */
static int file_contains(const char *path, const char *needle)
{
	size_t len, n = strlen(needle);
	char *data = itest_read_file(path, &len);
	assert_non_null(data);
	int found = 0;
	for (size_t i = 0; !found && i + n <= len; i++)
		found = data[i] == needle[0] && memcmp(data + i, needle, n) == 0;
	free(data);
	return found;
}

static int teardown(void **state)
{
	unsetenv(CLOCK_ENV);
	unsetenv(CRASH_ENV);
	unsetenv("CRYPTOCAT_PASSPHRASE");
	unsetenv("CRYPTOCAT_NEW_PASSPHRASE");
	itest_use_binaries(NULL, NULL);
	return itest_teardown(state);
}

/* Runs a server and alice and bob from the binaries SERVER and CLIENT with
 * the clock file saying FAKE_S; *SERVER_MS gets the server's clock (WELCOME),
 * *SENT_MS the server's time of storage of alice's message and *SEALED_MS
 * alice's clock (the message's "ts" as bob shows it). */
static void run_clock(const char *name, const char *server, const char *client, uint64_t fake_s,
		      uint64_t *server_ms, uint64_t *sent_ms, uint64_t *sealed_ms)
{
	static const char *const nicks[] = {"alice", "bob"};
	static const char *const both[] = {"alice", "bob", NULL};
	struct rt_fixture f;
	struct itest_client *c[2];
	char room[RT_ROOM_HEX];

	itest_use_binaries(server, client);
	const char *dir = itest_tmpdir(name);
	assert_non_null(dir);
	const char *clock = itest_path(dir, "clock");
	lc_clock_write(clock, fake_s);
	/* Inherited by the server and the clients. */
	assert_int_equal(setenv(CLOCK_ENV, clock, 1), 0);

	rt_start(&f, name, 0);
	*server_ms = lc_server_time_ms(f.port, "eve");
	rt_clients(f.port, f.dir, nicks, 2, c);
	rt_create(c[0], "bob", "What time is it", both, room);
	json_decref(rt_join(c[0], room, 0));
	json_decref(rt_join(c[1], room, 0));
	struct rt_sent s = rt_say(c[0], room, "what time is it", 1);
	*sent_ms = (uint64_t)s.ts;
	json_t *ev = itest_client_expect(c[1], "message", ITEST_TIMEOUT_MS);
	assert_non_null(ev);
	assert_string_equal(itest_json_str(ev, "from"), "alice");
	assert_string_equal(itest_json_str(ev, "text"), "what time is it");
	long long ts = itest_json_int(ev, "ts", -1);
	assert_true(ts > 0);
	*sealed_ms = (uint64_t)ts;
	json_decref(ev);
	rt_quit(c[0]);
	rt_quit(c[1]);
	rt_stop(&f);

	unsetenv(CLOCK_ENV);
	itest_use_binaries(NULL, NULL);
}

static void assert_real(const char *what, uint64_t got_ms, uint64_t from_ms, uint64_t to_ms)
{
	if (got_ms + SLACK_MS < from_ms || got_ms > to_ms + SLACK_MS)
		fail_msg("%s: %llu ms is not the real time (%llu .. %llu ms)", what,
			 (unsigned long long)got_ms, (unsigned long long)from_ms,
			 (unsigned long long)to_ms);
}

/* The shipped programs ignore CRYPTOCAT_CLOCK_FILE. */
static void test_release_clock_is_real(void **state)
{
	uint64_t server_ms, sent_ms, sealed_ms;
	(void)state;

	uint64_t from = real_ms();
	uint64_t fake_s = from / 1000 + TEN_YEARS_S;
	run_clock("clock-release", itest_release_server_bin(), itest_release_client_bin(), fake_s,
		  &server_ms, &sent_ms, &sealed_ms);
	uint64_t to = real_ms();
	assert_real("the shipped server's WELCOME", server_ms, from, to);
	assert_real("the shipped server's time of storage", sent_ms, from, to);
	assert_real("the shipped client's envelope", sealed_ms, from, to);
}

/* Positive control: the same run with the test variants shows the file's
 * time, exactly, in every process. */
static void test_testbin_clock_moves(void **state)
{
	uint64_t server_ms, sent_ms, sealed_ms;
	(void)state;

	uint64_t fake_s = real_ms() / 1000 + TEN_YEARS_S;
	run_clock("clock-testbin", NULL, NULL, fake_s, &server_ms, &sent_ms, &sealed_ms);
	assert_int_equal(server_ms, fake_s * 1000);
	assert_int_equal(sent_ms, fake_s * 1000);
	assert_int_equal(sealed_ms, fake_s * 1000);
}

/* No code in the shipped binaries even names the variable; the test
 * variants' hook does (so the search would find it). */
static void test_release_binaries_do_not_name_the_hook(void **state)
{
	(void)state;
	if (!itest_have_binaries())
		skip();
	assert_false(file_contains(itest_release_server_bin(), CLOCK_ENV));
	assert_false(file_contains(itest_release_client_bin(), CLOCK_ENV));
	assert_true(file_contains(itest_server_bin(), CLOCK_ENV));
	assert_true(file_contains(itest_client_bin(), CLOCK_ENV));
	assert_false(file_contains(itest_release_client_bin(), CRASH_ENV));
	assert_true(file_contains(itest_client_bin(), CRASH_ENV));
}

/* A passphrase change with CRYPTOCAT_CRASH_AT set to one of its steps: the
 * shipped client does it all (0); the test variant dies there (the
 * control). */
static void test_release_has_no_crash_points(void **state)
{
	(void)state;
	if (!itest_have_binaries())
		skip();
	struct rt_fixture f;
	rt_start(&f, "crash-points", 0);
	const char *home = itest_subdir(f.dir, "alice");
	assert_non_null(home);
	rt_quit(rt_client(f.port, home, "alice", "alice"));
	rt_stop(&f);
	const char *const args[] = {"--batch", "--change-passphrase", "--home", home, NULL};
	assert_int_equal(setenv(CRASH_ENV, "passphrase:db-committed", 1), 0);
	assert_int_equal(setenv("CRYPTOCAT_NEW_PASSPHRASE", "first", 1), 0);
	assert_int_equal(itest_run(itest_release_client_bin(), args, NULL, ITEST_SCRYPT_TIMEOUT_MS), 0);
	assert_int_equal(setenv("CRYPTOCAT_PASSPHRASE", "first", 1), 0);
	assert_int_equal(setenv("CRYPTOCAT_NEW_PASSPHRASE", "second", 1), 0);
	assert_int_equal(itest_run(itest_client_bin(), args, NULL, ITEST_SCRYPT_TIMEOUT_MS), 128 + 9);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_release_binaries_do_not_name_the_hook, teardown),
		cmocka_unit_test_teardown(test_release_clock_is_real, teardown),
		cmocka_unit_test_teardown(test_testbin_clock_moves, teardown),
		cmocka_unit_test_teardown(test_release_has_no_crash_points, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
