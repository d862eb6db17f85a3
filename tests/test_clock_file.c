/* The test clock (src/testhooks/clock_file.c), linked into every test program
 * as into the test variants of the programs: clock_now_ms() follows the file
 * named by CRYPTOCAT_CLOCK_FILE, and a new value is seen by the very next
 * call however it is written (renamed over the old file, or rewritten in
 * place within the same timestamp tick, or long after: the cache must never
 * hide a change). Without a usable file it is the system clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "support/itest.h"
#include "util/clock.h"

#define CLOCK_ENV "CRYPTOCAT_CLOCK_FILE"

static uint64_t real_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* clock_now_ms() is the system clock. */
static void assert_real_now(void)
{
	uint64_t from = real_ms();
	uint64_t got = clock_now_ms();
	uint64_t to = real_ms();
	assert_true(got >= from && got <= to);
}

/* Rewrites PATH in place (same inode). */
static void write_in_place(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	assert_true(fputs(text, f) >= 0);
	assert_int_equal(fclose(f), 0);
}

/* Writes a new file and renames it over PATH. */
static void write_renamed(const char *path, const char *text)
{
	char tmp[4200];
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	write_in_place(tmp, text);
	assert_int_equal(rename(tmp, path), 0);
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static int teardown(void **state)
{
	unsetenv(CLOCK_ENV);
	return itest_teardown(state);
}

static void test_no_file_is_real_time(void **state)
{
	(void)state;
	const char *dir = itest_tmpdir("clock-none");
	assert_non_null(dir);
	const char *path = itest_path(dir, "clock");

	unsetenv(CLOCK_ENV);
	assert_real_now();
	assert_int_equal(setenv(CLOCK_ENV, "", 1), 0);
	assert_real_now();
	/* Named, but missing, empty, or not a number. */
	assert_int_equal(setenv(CLOCK_ENV, path, 1), 0);
	assert_real_now();
	write_in_place(path, "");
	assert_real_now();
	write_in_place(path, "soon\n");
	assert_real_now();
	/* A number again: used at once. */
	write_in_place(path, "1000000000\n");
	assert_int_equal(clock_now_ms(), 1000000000000ull);
	assert_int_equal(clock_now_s(), 1000000000ull);
	unsetenv(CLOCK_ENV);
	assert_real_now();
}

static void test_every_change_is_seen(void **state)
{
	(void)state;
	const char *dir = itest_tmpdir("clock-change");
	assert_non_null(dir);
	const char *path = itest_path(dir, "clock"), *other = itest_path(dir, "other");

	write_renamed(path, "1000000000\n");
	assert_int_equal(setenv(CLOCK_ENV, path, 1), 0);
	assert_int_equal(clock_now_ms(), 1000000000000ull);
	/* Renamed over it (as tests/support/itest_lifecycle.c moves the clock). */
	write_renamed(path, "1000003600\n");
	assert_int_equal(clock_now_ms(), 1000003600000ull);
	/* Rewritten in place, same length, within the same timestamp tick. */
	for (unsigned i = 0; i < 20; i++) {
		char text[32];
		snprintf(text, sizeof text, "%u\n", 1000007200u + i);
		write_in_place(path, text);
		assert_int_equal(clock_now_ms(), (1000007200ull + i) * 1000);
		assert_int_equal(clock_now_ms(), (1000007200ull + i) * 1000);
	}

	/* Long unchanged (the value may now come from the cache), then
	 * rewritten in place, same length: seen by the very next call. */
	sleep_ms(2500);
	assert_int_equal(clock_now_ms(), 1000007219000ull);
	assert_int_equal(clock_now_ms(), 1000007219000ull);
	write_in_place(path, "1000010800\n");
	assert_int_equal(clock_now_ms(), 1000010800000ull);
	sleep_ms(2500);
	assert_int_equal(clock_now_ms(), 1000010800000ull);
	write_renamed(path, "1000014400\n");
	assert_int_equal(clock_now_ms(), 1000014400000ull);

	/* The variable names another file: that file's time. */
	write_in_place(other, "2000000000\n");
	assert_int_equal(setenv(CLOCK_ENV, other, 1), 0);
	assert_int_equal(clock_now_ms(), 2000000000000ull);
	assert_int_equal(setenv(CLOCK_ENV, path, 1), 0);
	assert_int_equal(clock_now_ms(), 1000014400000ull);
	/* Removed: the system clock. */
	assert_int_equal(remove(path), 0);
	assert_real_now();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_no_file_is_real_time, teardown),
		cmocka_unit_test_teardown(test_every_change_is_seen, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
