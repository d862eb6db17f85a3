/* The SOCKS5 client (src/transport/socks5.h): the exact bytes of each
 * request (RFC 1928's greeting and CONNECT with ATYP 3, RFC 1929's
 * username/password), replies taken whole or not at all wherever they are
 * cut, each address type of a reply, the errors (a method not offered,
 * refused credentials, a reply that is not SOCKS5, each reply code), the
 * limits of a host name and of credentials, and the proxy URL parser. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "transport/socks5.h"

static void expect_bytes(const struct buf *b, const void *want, size_t n)
{
	assert_int_equal(b->len, n);
	assert_memory_equal(b->data, want, n);
}

/* Feeds IN to S a byte more at a time: TRUNCATED until the last byte, then
 * the result, with all of it used. */
static cc_err feed_cut(struct socks5 *s, const void *in, size_t n, struct buf *out)
{
	size_t used = 0;
	for (size_t i = 0; i < n; i++) {
		size_t before = out->len;
		assert_int_equal(socks5_recv(s, in, i, &used, out), CC_ERR_TRUNCATED);
		assert_int_equal(used, 0);
		assert_int_equal(out->len, before);
	}
	cc_err err = socks5_recv(s, in, n, &used, out);
	if (err == CC_OK)
		assert_int_equal(used, n);
	return err;
}

static void test_no_auth_exchange(void **state)
{
	struct socks5 s;
	struct buf out;
	(void)state;
	buf_init(&out, 1024);
	assert_int_equal(socks5_start(&s, "abc.onion", 7777, NULL, NULL, &out), CC_OK);
	expect_bytes(&out, "\x05\x01\x00", 3);
	buf_reset(&out);
	assert_int_equal(feed_cut(&s, "\x05\x00", 2, &out), CC_OK);
	expect_bytes(&out, "\x05\x01\x00\x03\x09" "abc.onion" "\x1e\x61", 16);
	assert_int_equal(s.state, SOCKS5_CONNECT);
	buf_reset(&out);
	/* A reply with an IPv4 address, and the server's first bytes after it:
	 * only the reply is used. */
	static const uint8_t reply[] = {5, 0, 0, 1, 10, 0, 0, 1, 0x1f, 0x90, 'S', 'E', 'R'};
	size_t used = 0;
	assert_int_equal(socks5_recv(&s, reply, sizeof reply, &used, &out), CC_OK);
	assert_int_equal(used, 10);
	assert_int_equal(s.state, SOCKS5_OPEN);
	assert_int_equal(out.len, 0);
	buf_free(&out);
}

static void test_userpass_exchange(void **state)
{
	struct socks5 s;
	struct buf out;
	(void)state;
	buf_init(&out, 1024);
	assert_int_equal(socks5_start(&s, "h", 1, "user1", "pw", &out), CC_OK);
	expect_bytes(&out, "\x05\x02\x00\x02", 4);
	buf_reset(&out);
	assert_int_equal(feed_cut(&s, "\x05\x02", 2, &out), CC_OK);
	expect_bytes(&out, "\x01\x05user1\x02pw", 10);
	assert_int_equal(s.state, SOCKS5_AUTH);
	buf_reset(&out);
	assert_int_equal(feed_cut(&s, "\x01\x00", 2, &out), CC_OK);
	expect_bytes(&out, "\x05\x01\x00\x03\x01h\x00\x01", 8);
	buf_reset(&out);
	/* IPv6 and name replies, cut anywhere. */
	static const uint8_t v6[] = {5, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 80};
	assert_int_equal(feed_cut(&s, v6, sizeof v6, &out), CC_OK);
	assert_int_equal(s.state, SOCKS5_OPEN);
	/* The credentials are gone from the state once open. */
	assert_int_equal(s.user[0], 0);
	assert_int_equal(s.pass[0], 0);
	struct socks5 t;
	assert_int_equal(socks5_start(&t, "h", 1, NULL, NULL, &out), CC_OK);
	assert_int_equal(feed_cut(&t, "\x05\x00", 2, &out), CC_OK);
	assert_int_equal(feed_cut(&t, "\x05\x00\x00\x03\x04name\x00\x50", 11, &out), CC_OK);
	assert_int_equal(t.state, SOCKS5_OPEN);
	buf_free(&out);
}

/* A proxy's answer at each step, its error code. */
static void expect_fail(const char *after_greeting, size_t n, int creds, const char *code)
{
	struct socks5 s;
	struct buf out;
	size_t used;
	buf_init(&out, 1024);
	assert_int_equal(socks5_start(&s, "h", 1, creds ? "u" : NULL, creds ? "p" : NULL, &out),
			 CC_OK);
	cc_err err = CC_OK;
	size_t at = 0;
	while (at < n && err == CC_OK && s.state != SOCKS5_OPEN) {
		err = socks5_recv(&s, (const uint8_t *)after_greeting + at, n - at, &used, &out);
		at += used;
	}
	assert_int_not_equal(err, CC_OK);
	assert_int_equal(s.state, SOCKS5_FAILED);
	assert_string_equal(s.error_code, code);
	assert_non_null(s.error_text);
	assert_int_equal(s.user[0], 0);
	/* Nothing more is taken. */
	assert_int_equal(socks5_recv(&s, (const uint8_t *)"\x05\x00", 2, &used, &out), CC_ERR_STATE);
	buf_free(&out);
}

static void test_failures(void **state)
{
	(void)state;
	expect_fail("\x05\xff", 2, 1, "proxy_refused");
	expect_fail("\x05\x02", 2, 0, "proxy_refused");   /* a method we did not offer */
	expect_fail("\x05\x01", 2, 1, "proxy_refused");   /* GSSAPI */
	expect_fail("\x04\x00", 2, 0, "proxy_protocol");  /* SOCKS4 */
	expect_fail("HTTP/1.1 400", 12, 0, "proxy_protocol");
	expect_fail("\x05\x02\x01\x01", 4, 1, "proxy_auth_failed");
	expect_fail("\x05\x02\x05\x00", 4, 1, "proxy_protocol");
	expect_fail("\x05\x00\x05\x00\x00\x09\x00", 7, 0, "proxy_protocol");   /* address type */
	expect_fail("\x05\x00\x05\x00\x01\x01\x00", 7, 0, "proxy_protocol");   /* RSV not 0 */
	expect_fail("\x05\x00\x04\x00\x00\x01\x00", 7, 0, "proxy_protocol");   /* VER 4 */
	expect_fail("\x05\x00\x05\x04\x00\x01\x00\x00\x00\x00\x00\x00", 12, 0, "host_unreachable");
	expect_fail("\x05\x00\x05\xf6\x00\x01\x00\x00\x00\x00\x00\x00", 12, 0,
		    "onion_address_invalid");
}

static void test_reply_table(void **state)
{
	(void)state;
	assert_string_equal(socks5_reply_code(0), "open");
	assert_string_equal(socks5_reply_code(5), "connection_refused");
	assert_string_equal(socks5_reply_code(0xf0), "onion_not_found");
	assert_string_equal(socks5_reply_code(0xf7), "onion_intro_timeout");
	assert_string_equal(socks5_reply_code(0x42), "proxy_failed");
	for (unsigned r = 0; r < 256; r++) {
		assert_non_null(socks5_reply_code((uint8_t)r));
		assert_non_null(socks5_reply_text((uint8_t)r));
	}
}

static void test_limits(void **state)
{
	struct socks5 s;
	struct buf out;
	char host[SOCKS5_HOST_MAX + 2], cred[SOCKS5_CRED_MAX + 2];
	(void)state;
	buf_init(&out, 4096);
	memset(host, 'a', sizeof host - 1);
	host[SOCKS5_HOST_MAX] = '\0';
	assert_int_equal(socks5_start(&s, host, 1, NULL, NULL, &out), CC_OK);
	host[SOCKS5_HOST_MAX] = 'a';
	host[SOCKS5_HOST_MAX + 1] = '\0';
	assert_int_equal(socks5_start(&s, host, 1, NULL, NULL, &out), CC_ERR_USAGE);
	assert_int_equal(socks5_start(&s, "", 1, NULL, NULL, &out), CC_ERR_USAGE);
	assert_int_equal(socks5_start(&s, "h", 0, NULL, NULL, &out), CC_ERR_USAGE);
	memset(cred, 'c', sizeof cred - 1);
	cred[SOCKS5_CRED_MAX] = '\0';
	assert_int_equal(socks5_start(&s, "h", 1, cred, cred, &out), CC_OK);
	cred[SOCKS5_CRED_MAX] = 'c';
	cred[SOCKS5_CRED_MAX + 1] = '\0';
	assert_int_equal(socks5_start(&s, "h", 1, cred, "p", &out), CC_ERR_USAGE);
	assert_int_equal(socks5_start(&s, "h", 1, "u", "", &out), CC_ERR_USAGE);
	buf_free(&out);
}

static void test_url(void **state)
{
	static const struct {
		const char *url, *host;
		uint16_t port;
	} good[] = {
		{"socks5h://127.0.0.1:9050", "127.0.0.1", 9050},
		{"socks5://localhost:1080", "localhost", 1080},
		{"socks5h://[::1]:9150", "::1", 9150},
		{"socks5h://proxy.example:65535", "proxy.example", 65535},
	};
	static const char *const bad[] = {
		"", "127.0.0.1:9050", "http://127.0.0.1:9050", "socks4a://127.0.0.1:9050",
		"socks5h://127.0.0.1", "socks5h://127.0.0.1:", "socks5h://127.0.0.1:0",
		"socks5h://127.0.0.1:65536", "socks5h://127.0.0.1:-1", "socks5h://127.0.0.1:+80",
		"socks5h://127.0.0.1:80x", "socks5h://:9050", "socks5h://[::1]9150",
		"socks5h://[::1:9150", "socks5h://::1:9150", "socks5h://u:p@127.0.0.1:9050",
		"socks5h://127.0.0.1:9050/", "SOCKS5H://127.0.0.1:9050", "socks5://[[]:1",
		"socks5h://[localhost]:9050", "socks5h://a b:9050", "socks5h://a\tb:9050",
	};
	struct socks5_proxy p;
	char why[700];
	(void)state;
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		assert_int_equal(socks5_url_parse(good[i].url, &p, why, sizeof why), CC_OK);
		assert_string_equal(p.host, good[i].host);
		assert_int_equal(p.port, good[i].port);
	}
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		assert_int_equal(socks5_url_parse(bad[i], &p, why, sizeof why), CC_ERR_USAGE);
		assert_non_null(strstr(why, "bad proxy"));
		assert_int_equal(p.port, 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_auth_exchange),
		cmocka_unit_test(test_userpass_exchange),
		cmocka_unit_test(test_failures),
		cmocka_unit_test(test_reply_table),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_url),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
