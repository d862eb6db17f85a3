/* The client core's reconnect backoff (client_backoff_ms, reconnect.c): the
 * waits between attempts double from 1 s and stop growing at 60 s, and the
 * jitter keeps each within 20 % of that without ever passing 60 s. The
 * integration test (tests/test_itest_reconnect.c) sees the first waits of a
 * real client; the cap would take minutes to see there. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "client/core/internal.h"

static void test_doubling_then_cap(void **state)
{
	(void)state;
	/* rnd % 401 == 200: the factor is exactly 1. */
	static const uint64_t want[] = {1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000};
	for (unsigned i = 0; i < sizeof want / sizeof want[0]; i++)
		assert_int_equal(client_backoff_ms(i, 200), want[i]);
	assert_int_equal(client_backoff_ms(100, 200), 60000);
	assert_int_equal(client_backoff_ms(UINT32_MAX, 200), 60000);
}

static void test_jitter_bounds(void **state)
{
	(void)state;
	for (unsigned attempt = 0; attempt < 12; attempt++) {
		uint64_t base = attempt < 6 ? 1000ull << attempt : 60000;
		uint64_t lo = UINT64_MAX, hi = 0;
		for (uint32_t rnd = 0; rnd < 5000; rnd += 7) {
			uint64_t w = client_backoff_ms(attempt, rnd * 2654435761u);
			lo = w < lo ? w : lo;
			hi = w > hi ? w : hi;
			assert_true(w >= base * 8 / 10);
			assert_true(w <= base * 12 / 10);
			assert_true(w <= CLIENT_RECONNECT_MAX_MS);
		}
		/* It does spread: clients cut off together come back apart. */
		assert_true(hi - lo >= base / 4 || base == 60000);
		if (base == 60000)
			assert_true(hi - lo >= 60000 / 8);
	}
	assert_int_equal(client_backoff_ms(0, 0), 800);
	assert_int_equal(client_backoff_ms(0, 400), 1200);
	assert_int_equal(client_backoff_ms(6, 400), 60000);
	assert_int_equal(client_backoff_ms(6, 0), 48000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_doubling_then_cap),
		cmocka_unit_test(test_jitter_bounds),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
