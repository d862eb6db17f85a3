/* Clients through a SOCKS5 proxy (--proxy, --tor; docs/TOR.md), against a
 * real server and the tests' own proxy (tests/support/socks_proxy.c), on
 * loopback only:
 *
 *   1. A name only the proxy knows (an .onion name that resolves nowhere
 *      else) works end to end: register, a room, messages both ways with a
 *      client that connects directly. The proxy was asked with ATYP 3 and
 *      the name as given, with a username and password; two identities
 *      used different ones. Since the name resolves nowhere, the client
 *      cannot have dialled the server itself or asked DNS for it; the pin
 *      is stored under the .onion name.
 *   2. Every SOCKS reply code, RFC 1928's and Tor's extended 0xF0-0xF7, is
 *      its own clear error, as are a proxy that takes no method, one that
 *      refuses the credentials, and a proxy that is not there.
 *   3. A proxy that never answers, and one that never opens the tunnel,
 *      time out (5 s to reach the proxy; --connect-timeout for the tunnel).
 *   4. The config file's proxy key, and --no-proxy over it.
 *   5. A bad --proxy is a usage error (exit status 2), naming the problem. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/itest.h"
#include "support/itest_extra.h"
#include "support/itest_lifecycle.h"
#include "support/itest_rooms.h"
#include "support/socks_proxy.h"

/* 56 base32 characters and .onion: a v3 onion address in form, known to no
 * resolver. */
#define ONION "cryptocatxtestxaddressxthatxresolvesxnowhereabcdefghijkl.onion"
#define ONION_PORT 7777

static struct socks_proxy *proxy;

static int proxy_teardown(void **state)
{
	socks_proxy_stop(proxy);
	proxy = NULL;
	return lc_teardown(state);
}

static const char *proxy_url(void)
{
	static char url[64];
	snprintf(url, sizeof url, "socks5h://127.0.0.1:%d", socks_proxy_port(proxy));
	return url;
}

/* A batch client of NICK through the proxy to ONION (or EXTRA's server). */
static struct itest_client *via_proxy(struct lc_fixture *f, const char *nick,
				      const char *const *more)
{
	const char *args[12] = {"--server", ONION ":7777", "--proxy", proxy_url()};
	size_t n = 4;
	for (size_t i = 0; more && more[i] && n < 11; i++)
		args[n++] = more[i];
	args[n] = NULL;
	struct itest_client *c = itest_client_start(f->port, lc_home(f, nick), nick, args);
	assert_non_null(c);
	return c;
}

static bool all_hex(const char *s, size_t n)
{
	if (strlen(s) != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!strchr("0123456789abcdef", s[i]))
			return false;
	return true;
}

/* ---- 1. end to end ------------------------------------------------------------ */

static void test_onion_end_to_end(void **state)
{
	static const char *const ab[] = {"alice", "bob", NULL};
	struct lc_fixture f;
	char room[RT_ROOM_HEX];
	(void)state;
	lc_start(&f, "proxy-e2e", 0);
	proxy = socks_proxy_start();
	assert_non_null(proxy);
	socks_proxy_map(proxy, ONION, ONION_PORT, f.port);

	struct itest_client *alice = via_proxy(&f, "alice", NULL);
	lc_see(alice, "registered", NULL, "nick", "alice", "server", ONION ":7777", NULL);
	struct itest_client *bob = itest_client_start(f.port, lc_home(&f, "bob"), "bob", NULL);
	assert_non_null(bob);
	lc_see(bob, "registered", NULL, "nick", "bob", NULL);
	rt_create(alice, "bob", "Hidden", ab, room);
	json_decref(rt_join(alice, room, 0));
	json_decref(rt_join(bob, room, 0));
	struct rt_sent s = rt_say(alice, room, "through the proxy", 0);
	rt_expect_msg(bob, room, "alice", "through the proxy", s.seq, s.msg_id);
	s = rt_say(bob, room, "and back", 0);
	rt_expect_msg(alice, room, "bob", "and back", s.seq, s.msg_id);

	/* What the proxy was asked: the name itself, with credentials. */
	struct itest_client *carol = via_proxy(&f, "carol", NULL);
	lc_see(carol, "registered", NULL, "nick", "carol", NULL);
	assert_int_equal(socks_proxy_count(proxy), 2);
	struct socks_proxy_request a, c;
	assert_int_equal(socks_proxy_request(proxy, 0, &a), 0);
	assert_int_equal(socks_proxy_request(proxy, 1, &c), 0);
	assert_int_equal(a.atyp, 3);
	assert_string_equal(a.host, ONION);
	assert_int_equal(a.port, ONION_PORT);
	assert_non_null(memchr(a.methods, 2, a.nmethods));
	assert_true(all_hex(a.user, 32));
	assert_true(all_hex(a.pass, 32));
	assert_true(all_hex(c.user, 32));
	assert_string_not_equal(a.user, c.user);  /* circuits of their own */

	/* The pin is kept under the name dialled. */
	assert_true(itest_file_contains(itest_path(lc_home(&f, "alice"), "known_servers"),
					ONION ":7777 "));
	struct itest_client *all[] = {alice, bob, carol};
	lc_quit_all(all, 3);
	lc_stop(&f);
}

/* ---- 2. each failure, its error ------------------------------------------------- */

/* A client through the proxy must stop at once with error CODE, exit 1. */
static void expect_failure(struct lc_fixture *f, const char *code, const char *const *more)
{
	struct itest_client *c = via_proxy(f, "dave", more);
	json_t *ev = itest_client_expect_error(c, code, ITEST_TIMEOUT_MS);
	assert_non_null(ev);
	json_decref(ev);
	assert_int_equal(itest_client_wait_exit(c, ITEST_TIMEOUT_MS), 1);
}

static void test_reply_codes(void **state)
{
	static const struct {
		uint8_t reply;
		const char *code;
	} codes[] = {
		{0x01, "proxy_failed"},        {0x02, "proxy_refused"},
		{0x03, "network_unreachable"}, {0x04, "host_unreachable"},
		{0x05, "connection_refused"},  {0x06, "ttl_expired"},
		{0x07, "proxy_unsupported"},   {0x08, "proxy_unsupported"},
		{0x09, "proxy_failed"},        {0xf0, "onion_not_found"},
		{0xf1, "onion_descriptor_invalid"}, {0xf2, "onion_intro_failed"},
		{0xf3, "onion_rendezvous_failed"},  {0xf4, "onion_auth_missing"},
		{0xf5, "onion_auth_wrong"},    {0xf6, "onion_address_invalid"},
		{0xf7, "onion_intro_timeout"},
	};
	struct lc_fixture f;
	(void)state;
	lc_start(&f, "proxy-codes", 0);
	proxy = socks_proxy_start();
	assert_non_null(proxy);
	/* Not mapped: the relay says host unreachable, as Tor for a name it
	 * cannot find. */
	expect_failure(&f, "host_unreachable", NULL);
	for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
		socks_proxy_set_mode(proxy, SOCKS_PROXY_REPLY, codes[i].reply);
		expect_failure(&f, codes[i].code, NULL);
	}
	socks_proxy_set_mode(proxy, SOCKS_PROXY_NO_METHOD, 0);
	expect_failure(&f, "proxy_refused", NULL);
	socks_proxy_set_mode(proxy, SOCKS_PROXY_BAD_AUTH, 0);
	expect_failure(&f, "proxy_auth_failed", NULL);
	/* No proxy there at all: a port nobody listens on. */
	char url[64];
	snprintf(url, sizeof url, "socks5h://127.0.0.1:%d", itest_free_port());
	const char *const gone[] = {"--proxy", url, NULL};
	expect_failure(&f, "proxy_unreachable", gone);
	/* None of these reached the server. */
	assert_int_equal(rt_sql_int("SELECT count(*) FROM users WHERE nick = 'dave'"), 0);
	lc_stop(&f);
}

/* ---- 3. timeouts ------------------------------------------------------------------ */

static void test_timeouts(void **state)
{
	struct lc_fixture f;
	(void)state;
	lc_start(&f, "proxy-timeouts", 0);
	proxy = socks_proxy_start();
	assert_non_null(proxy);
	socks_proxy_set_mode(proxy, SOCKS_PROXY_MUTE, 0);
	expect_failure(&f, "proxy_timeout", NULL);
	socks_proxy_set_mode(proxy, SOCKS_PROXY_MUTE_CONNECT, 0);
	const char *const quick[] = {"--connect-timeout", "1", NULL};
	expect_failure(&f, "connect_timeout", quick);
	lc_stop(&f);
}

/* ---- 4. the config file ------------------------------------------------------------ */

/* proxy = ... in the config file takes the client through the proxy;
 * --no-proxy on the command line goes over it (and the .onion name then
 * fails to resolve: the client did try to dial it directly). */
static void test_config_file(void **state)
{
	struct lc_fixture f;
	char text[200];
	(void)state;
	lc_start(&f, "proxy-config", 0);
	proxy = socks_proxy_start();
	assert_non_null(proxy);
	socks_proxy_map(proxy, ONION, ONION_PORT, f.port);
	const char *conf = itest_path(f.dir, "config");
	FILE *fp = fopen(conf, "w");
	assert_non_null(fp);
	snprintf(text, sizeof text, "proxy = %s\nconnect-timeout = 30\n", proxy_url());
	fputs(text, fp);
	fclose(fp);
	const char *const args[] = {"--server", ONION ":7777", "--config", conf, NULL};
	struct itest_client *c = itest_client_start(f.port, lc_home(&f, "frank"), "frank", args);
	assert_non_null(c);
	lc_see(c, "registered", NULL, "nick", "frank", NULL);
	rt_quit(c);
	assert_int_equal(socks_proxy_count(proxy), 1);
	const char *const direct[] = {"--server", ONION ":7777", "--config", conf, "--no-proxy",
				      NULL};
	c = itest_client_start(f.port, lc_home(&f, "frank"), "frank", direct);
	assert_non_null(c);
	json_decref(itest_client_expect_error(c, "connection_failed", ITEST_TIMEOUT_MS));
	assert_int_equal(itest_client_wait_exit(c, ITEST_TIMEOUT_MS), 1);
	assert_int_equal(socks_proxy_count(proxy), 1);
	lc_stop(&f);
}

/* ---- 5. bad proxy addresses -------------------------------------------------------- */

static void test_bad_proxy_url(void **state)
{
	static const char *const bad[] = {
		"http://127.0.0.1:8080", "socks4://127.0.0.1:9050", "socks5h://127.0.0.1",
		"socks5h://127.0.0.1:0", "socks5h://127.0.0.1:65536", "socks5h://:9050",
		"socks5h://user:pw@127.0.0.1:9050", "socks5h://::1:9050",
		"socks5h://127.0.0.1:9050/path",
	};
	(void)state;
	const char *dir = itest_tmpdir("proxy-bad-url");
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		const char *const args[] = {"--batch", "--home", itest_path(dir, "home"),
					    "--nick", "erin", "--proxy", bad[i], NULL};
		const char *log = itest_path(dir, "client.log");
		assert_int_equal(itest_run(itest_client_bin(), args, log, ITEST_TIMEOUT_MS), 2);
		assert_true(itest_file_contains(log, "bad proxy"));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_onion_end_to_end, proxy_teardown),
		cmocka_unit_test_teardown(test_reply_codes, proxy_teardown),
		cmocka_unit_test_teardown(test_timeouts, proxy_teardown),
		cmocka_unit_test_teardown(test_config_file, proxy_teardown),
		cmocka_unit_test_teardown(test_bad_proxy_url, itest_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
