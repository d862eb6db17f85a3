/* The load generator's smoke run: a few clients for a second against a real
 * server, so that `make bench` cannot rot unseen. The room is made by
 * bench0's client core (tools/loadgen/cc_room.c); every delivery is counted
 * and a sample opened. Figures are not judged here (docs/BENCHMARKS.md). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/itest.h"

/* The value of KEY=... in the RESULT line, or -1. */
static long long result_field(const char *line, const char *key)
{
	char pat[64];
	snprintf(pat, sizeof pat, " %s=", key);
	const char *p = strstr(line, pat);
	return p ? strtoll(p + strlen(pat), NULL, 10) : -1;
}

static void test_loadgen_smoke(void **state)
{
	(void)state;
	const char *dir = itest_tmpdir("loadgen");
	struct itest_server *srv = itest_server_start(itest_subdir(dir, "data"), NULL);
	assert_non_null(srv);

	char cmd[2048];
	snprintf(cmd, sizeof cmd,
		 "%s/loadgen --port %d --clients 6 --senders 2 --duration 1 --warmup 0.3 "
		 "--verify-every 10 --keys %s --label smoke 2>%s",
		 CC_BINARY_DIR, itest_server_port(srv), itest_path(dir, "keys"),
		 itest_path(dir, "loadgen.err"));
	FILE *out = popen(cmd, "r");
	assert_non_null(out);
	char line[4096], result[4096] = "";
	while (fgets(line, sizeof line, out)) {
		fputs(line, stderr);
		if (strncmp(line, "RESULT ", 7) == 0)
			snprintf(result, sizeof result, "%s", line);
	}
	int status = pclose(out);
	char *err = itest_read_file(itest_path(dir, "loadgen.err"), NULL);
	if (err)
		fputs(err, stderr);
	free(err);
	assert_int_equal(status, 0);
	assert_true(result[0]);
	/* Everything sent reached every other member, in order, and the
	 * sampled envelopes opened. */
	assert_true(result_field(result, "sent") > 0);
	assert_true(result_field(result, "deliveries") >= result_field(result, "sent") * 5 / 2);
	assert_true(result_field(result, "verified") > 0);
	assert_int_equal(result_field(result, "verify_failures"), 0);
	assert_int_equal(result_field(result, "lost"), 0);
	assert_int_equal(result_field(result, "reordered"), 0);
	assert_int_equal(result_field(result, "errors"), 0);
	assert_int_equal(result_field(result, "dropped"), 0);
	assert_int_equal(itest_server_stop(srv), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_loadgen_smoke, itest_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
