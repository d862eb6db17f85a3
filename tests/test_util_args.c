/* util/args.h: the command-line values both programs parse. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "util/args.h"

static void test_uint(void **state)
{
	unsigned long long v = 0;
	(void)state;
	assert_int_equal(args_parse_uint("42", 1, 100, &v), 0);
	assert_int_equal(v, 42);
	assert_int_equal(args_parse_uint("0", 0, 0, &v), 0);
	static const char *const bad[] = {"", "-1", " 5", "5 ", "+5", "5x", "0x10", "101",
					  "99999999999999999999999"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_int_equal(args_parse_uint(bad[i], 1, 100, &v), -1);
	assert_int_equal(args_parse_uint(NULL, 0, 1, &v), -1);
}

static void test_host_port(void **state)
{
	char host[16];
	uint16_t port = 0;
	(void)state;
	assert_int_equal(args_parse_host_port("127.0.0.1:7777", host, sizeof host, &port), 0);
	assert_string_equal(host, "127.0.0.1");
	assert_int_equal(port, 7777);
	assert_int_equal(args_parse_host_port("[::1]:1", host, sizeof host, &port), 0);
	assert_string_equal(host, "::1");
	assert_int_equal(port, 1);
	assert_int_equal(args_parse_host_port("example:65535", host, sizeof host, &port), 0);
	static const char *const bad[] = {"", "host", ":7777", "host:", "host:0", "host:65536",
					  "host:-1", "[]:80", "a-very-long-host-name:80", "h:8 0"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_int_equal(args_parse_host_port(bad[i], host, sizeof host, &port), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_uint),
		cmocka_unit_test(test_host_port),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
