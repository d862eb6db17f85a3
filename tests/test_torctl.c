/* Tor control replies (src/util/torctl.h): replies of one and several lines,
 * data lines skipped, replies cut anywhere (TRUNCATED until the last line
 * is whole), two replies back to back, what is refused (a code that
 * changes, a line that is not a reply line, a CR inside a line, a NUL, too
 * many lines or bytes), values plain and quoted (with escapes), and
 * quoting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "util/torctl.h"

static const char protocolinfo[] =
	"250-PROTOCOLINFO 1\r\n"
	"250-AUTH METHODS=COOKIE,SAFECOOKIE COOKIEFILE=\"/var/lib/tor/control auth\\\"cookie\"\r\n"
	"250-VERSION Tor=\"0.4.9.11\"\r\n"
	"250 OK\r\n";

static void test_reply(void **state)
{
	static struct torctl_reply r;
	size_t used, n = strlen(protocolinfo);
	char v[200];
	(void)state;
	for (size_t i = 0; i < n; i++)
		assert_int_equal(torctl_reply_parse(protocolinfo, i, &r, &used), CC_ERR_TRUNCATED);
	assert_int_equal(torctl_reply_parse(protocolinfo, n, &r, &used), CC_OK);
	assert_int_equal(used, n);
	assert_int_equal(r.status, 250);
	assert_int_equal(r.nlines, 4);
	assert_string_equal(r.lines[0], "PROTOCOLINFO 1");
	assert_string_equal(r.lines[3], "OK");
	assert_int_equal(torctl_value(r.lines[1], "METHODS", v, sizeof v), 1);
	assert_string_equal(v, "COOKIE,SAFECOOKIE");
	assert_int_equal(torctl_value(r.lines[1], "COOKIEFILE", v, sizeof v), 1);
	assert_string_equal(v, "/var/lib/tor/control auth\"cookie");
	assert_int_equal(torctl_value(r.lines[1], "AUTH", v, sizeof v), 0);
	assert_int_equal(torctl_value(r.lines[2], "Tor", v, sizeof v), 1);
	assert_string_equal(v, "0.4.9.11");
	assert_int_equal(torctl_value(r.lines[1], "METHODS", v, 5), -1);  /* too long */
	assert_int_equal(torctl_value("K=\"open", "K", v, sizeof v), -1);
	/* A key inside a quoted value is not a key. */
	assert_int_equal(torctl_value("A=\"x K=1\"", "K", v, sizeof v), 0);
}

static void test_data_and_sequence(void **state)
{
	static struct torctl_reply r;
	static const char two[] = "250+onions/current=\r\nabc\r\n.\r\n250 OK\r\n550 Collision\n";
	size_t used;
	(void)state;
	assert_int_equal(torctl_reply_parse(two, strlen(two), &r, &used), CC_OK);
	assert_int_equal(r.nlines, 2);
	assert_string_equal(r.lines[1], "OK");
	assert_int_equal(torctl_reply_parse(two + used, strlen(two) - used, &r, &used), CC_OK);
	assert_int_equal(r.status, 550);
	assert_string_equal(r.lines[0], "Collision");
	/* Cut inside the data lines. */
	assert_int_equal(torctl_reply_parse(two, 25, &r, &used), CC_ERR_TRUNCATED);
}

static void test_refused(void **state)
{
	static struct torctl_reply r;
	static char big[TORCTL_REPLY_MAX + 10];
	size_t used;
	(void)state;
	static const char *const bad[] = {
		"250-a\r\n251 b\r\n", "25 OK\r\n", "250XOK\r\n", "abc OK\r\n", "150 OK\r\n",
		"250 O\rK\r\n", "\r\n",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_int_equal(torctl_reply_parse(bad[i], strlen(bad[i]), &r, &used),
				 CC_ERR_MALFORMED);
	assert_int_equal(torctl_reply_parse("250 O\0K\r\n", 9, &r, &used), CC_ERR_MALFORMED);
	size_t at = 0;
	for (int i = 0; i < TORCTL_LINES_MAX + 1; i++)
		at += (size_t)snprintf(big + at, sizeof big - at, "250-x\r\n");
	assert_int_equal(torctl_reply_parse(big, at, &r, &used), CC_ERR_TOO_LARGE);
	memset(big, 'a', sizeof big);
	memcpy(big, "250-", 4);
	assert_int_equal(torctl_reply_parse(big, sizeof big, &r, &used), CC_ERR_TOO_LARGE);
}

static void test_quote(void **state)
{
	char q[64], v[64], line[100];
	(void)state;
	assert_int_equal(torctl_quote("pa\"ss\\word", q, sizeof q), CC_OK);
	assert_string_equal(q, "\"pa\\\"ss\\\\word\"");
	snprintf(line, sizeof line, "K=%s", q);
	assert_int_equal(torctl_value(line, "K", v, sizeof v), 1);
	assert_string_equal(v, "pa\"ss\\word");
	assert_int_equal(torctl_quote("line\r\nQUIT", q, sizeof q), CC_ERR_MALFORMED);
	assert_int_equal(torctl_quote("0123456789", q, 8), CC_ERR_TOO_LARGE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reply),
		cmocka_unit_test(test_data_and_sequence),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_quote),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
