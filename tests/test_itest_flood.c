/* Handshake floods against the real cryptocat-server (docs/ROBUSTNESS.md ("Handshake floods")).
 *
 *   test_preauth_per_address  one address (127.0.0.2) holding its quota of
 *                             unauthenticated connections is refused `limit`
 *                             for one more, while a client from 127.0.0.1
 *                             registers; a slot freed is usable again
 *   test_rate_per_address     new connections from one address past the
 *                             burst are refused; another address is not
 *   test_preauth_timeout      a silent connection is closed after
 *                             --handshake-timeout
 *   test_puzzle_under_load    junk CLIENT_KEYs pile up for one worker: the
 *                             next SERVER_HELLO asks for a proof of work, a
 *                             wrong nonce is refused `puzzle`, and the server's
 *                             own count of RSA jobs is exactly the junk keys
 *                             it took at 0 bits plus one real registration
 *   test_closed_mid_job       clients that leave right after CLIENT_KEY: their
 *                             jobs are cancelled or finished with no
 *                             connection (the ASan build checks the memory),
 *                             and a real client still registers
 *   test_client_refuses_hard_puzzle  a server asking for more than the
 *                             client's limit gets error `puzzle`, not a hang
 *
 * The raw connections here are blocking sockets with a receive timeout,
 * bound to 127.0.0.2 and up (all of 127/8 is loopback on Linux) so that
 * the real client, from 127.0.0.1, is another address. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "crypto/crypto.h"
#include "proto/frame.h"
#include "proto/msg.h"
#include "support/itest.h"
#include "util/buf.h"
#include "util/clock.h"

#define PUZZLE_LABEL "cryptocat/1 puzzle"

/* From an IPv6 source (an address on lo, test_ipv6_prefix): to that same
 * address, which the server's [::] listener takes. */
static int raw_connect6(int port, const char *src)
{
	int fd = socket(AF_INET6, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	struct timeval tv = {itest_scale_ms(10000) / 1000, 0};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	struct sockaddr_in6 a = {.sin6_family = AF_INET6};
	assert_int_equal(inet_pton(AF_INET6, src, &a.sin6_addr), 1);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
	a.sin6_port = htons((uint16_t)port);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
	return fd;
}

static int raw_connect(int port, const char *src)
{
	if (strchr(src, ':'))
		return raw_connect6(port, src);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	struct timeval tv = {itest_scale_ms(10000) / 1000, 0};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	struct sockaddr_in a = {.sin_family = AF_INET};
	inet_pton(AF_INET, src, &a.sin_addr);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
	a.sin_port = htons((uint16_t)port);
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
	return fd;
}

static void raw_send(int fd, const struct proto_msg *m, struct buf *copy)
{
	struct buf body, frame;
	buf_init(&body, 0);
	buf_init(&frame, 0);
	assert_int_equal(proto_msg_encode(m, &body), CC_OK);
	assert_int_equal(proto_frame_put(&frame, body.data, body.len), CC_OK);
	assert_int_equal(send(fd, frame.data, frame.len, MSG_NOSIGNAL), (ssize_t)frame.len);
	if (copy)
		assert_int_equal(buf_put_bytes(copy, frame.data, frame.len), CC_OK);
	buf_free(&body);
	buf_free(&frame);
}

/* One plaintext frame into *frame (the whole frame) and *m (views into it):
 * 1, or 0 on EOF, a reset or the timeout. */
static int raw_read(int fd, struct buf *frame, struct proto_msg *m)
{
	uint8_t hdr[4];
	size_t body_len;
	buf_reset(frame);
	if (recv(fd, hdr, 4, MSG_WAITALL) != 4)
		return 0;
	assert_int_equal(proto_frame_header(hdr, PROTO_FRAME_MAX_PREAUTH, &body_len), CC_OK);
	uint8_t *dst;
	assert_int_equal(buf_put_bytes(frame, hdr, 4), CC_OK);
	assert_int_equal(buf_append_space(frame, body_len, &dst), CC_OK);
	if (recv(fd, dst, body_len, MSG_WAITALL) != (ssize_t)body_len)
		return 0;
	assert_int_equal(proto_msg_decode(frame->data + 4, body_len, m), CC_OK);
	return 1;
}

static void expect_error(int fd, cc_err code)
{
	struct buf frame;
	struct proto_msg m;
	buf_init(&frame, 0);
	assert_int_equal(raw_read(fd, &frame, &m), 1);
	assert_int_equal(m.type, PROTO_ERROR);
	assert_int_equal(m.u.error.code, code);
	buf_free(&frame);
}

/* A connection from SRC: its fd if the server kept it (nothing came within
 * a short wait: it waits for our hello), or -1 after reading the ERROR
 * `limit` a refused one gets right after accepting. */
static int raw_admitted(int port, const char *src)
{
	int fd = raw_connect(port, src);
	int wait_ms = itest_scale_ms(300);  /* 12 s under valgrind: whole seconds too */
	struct timeval tv = {wait_ms / 1000, (wait_ms % 1000) * 1000};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	uint8_t b;
	ssize_t n = recv(fd, &b, 1, MSG_PEEK);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
		tv = (struct timeval){itest_scale_ms(10000) / 1000, 0};
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
		return fd;
	}
	expect_error(fd, CC_ERR_LIMIT);
	close(fd);
	return -1;
}

static void send_hello(int fd, struct buf *copy)
{
	struct proto_msg m = {.type = PROTO_CLIENT_HELLO};
	m.u.client_hello.version = PROTO_VERSION;
	crypto_random_bytes(m.u.client_hello.eph, sizeof m.u.client_hello.eph);
	crypto_random_bytes(m.u.client_hello.random, sizeof m.u.client_hello.random);
	raw_send(fd, &m, copy);
}

/* A raw handshake up to SERVER_HELLO: its puzzle bits, the key's size, and
 * the two hello frames for the puzzle. */
struct raw_hs {
	int fd;
	unsigned bits;
	size_t rsa_len;
	struct buf ch, sh;
};

static void raw_hs_start(struct raw_hs *h, int port, const char *src)
{
	memset(h, 0, sizeof *h);
	buf_init(&h->ch, 0);
	buf_init(&h->sh, 0);
	h->fd = raw_connect(port, src);
	send_hello(h->fd, &h->ch);
}

static void raw_hs_server_hello(struct raw_hs *h)
{
	struct proto_msg m;
	struct crypto_rsa_key *k;
	assert_int_equal(raw_read(h->fd, &h->sh, &m), 1);
	assert_int_equal(m.type, PROTO_SERVER_HELLO);
	h->bits = m.u.server_hello.puzzle_bits;
	assert_int_equal(crypto_rsa_public_from_der(m.u.server_hello.server_key.p,
						    m.u.server_hello.server_key.len, &k), CC_OK);
	h->rsa_len = crypto_rsa_size(k);
	crypto_rsa_free(k);
}

/* A CLIENT_KEY whose RSA part is junk (below the modulus: the decryption
 * runs) with the given puzzle nonce. */
static void raw_hs_junk_key(struct raw_hs *h, uint64_t nonce)
{
	uint8_t ct[CRYPTO_RSA_MAX_BYTES], sealed[300];
	struct proto_msg m = {.type = PROTO_CLIENT_KEY};
	crypto_random_bytes(ct, h->rsa_len);
	ct[0] = 0;
	crypto_random_bytes(sealed, sizeof sealed);
	m.u.client_key.puzzle_nonce = nonce;
	m.u.client_key.session_ct = (struct proto_bytes){ct, h->rsa_len};
	m.u.client_key.sealed_auth = (struct proto_bytes){sealed, sizeof sealed};
	raw_send(h->fd, &m, NULL);
}

/* Whether NONCE solves this handshake's puzzle, by PROTOCOL.md 4.2. */
static int raw_hs_solves(const struct raw_hs *h, uint64_t nonce)
{
	uint8_t in[sizeof PUZZLE_LABEL - 1 + 32 + 8], hash[32];
	struct buf t;
	buf_init(&t, 0);
	assert_int_equal(buf_put_bytes(&t, h->ch.data, h->ch.len), CC_OK);
	assert_int_equal(buf_put_bytes(&t, h->sh.data, h->sh.len), CC_OK);
	memcpy(in, PUZZLE_LABEL, sizeof PUZZLE_LABEL - 1);
	crypto_sha256(t.data, t.len, in + sizeof PUZZLE_LABEL - 1);
	buf_free(&t);
	store_be64(in + sizeof in - 8, nonce);
	crypto_sha256(in, sizeof in, hash);
	return crypto_leading_zero_bits(hash, sizeof hash) >= h->bits;
}

static void raw_hs_close(struct raw_hs *h)
{
	if (h->fd >= 0)
		close(h->fd);
	h->fd = -1;
	buf_free(&h->ch);
	buf_free(&h->sh);
}

/* A real client from 127.0.0.1 registers and quits. */
static void real_client_registers(int port, const char *dir, const char *nick)
{
	struct itest_client *c = itest_client_start(port, itest_subdir(dir, nick), nick, NULL);
	assert_non_null(c);
	json_t *ev = itest_client_expect(c, "registered", ITEST_TIMEOUT_MS);
	assert_non_null(ev);
	json_decref(ev);
	assert_int_equal(itest_client_send(c, "/quit"), 0);
	assert_int_equal(itest_client_wait_exit(c, ITEST_TIMEOUT_MS), 0);
}

/* The server's last "handshake stats" line: the value of KEY in it. */
static long long stats_field(const char *log_path, const char *key)
{
	char *log = itest_read_file(log_path, NULL);
	assert_non_null(log);
	char *line = NULL, *p = log;
	while ((p = strstr(p, "handshake stats:")))
		line = p++;
	assert_non_null(line);
	char pat[64];
	snprintf(pat, sizeof pat, " %s=", key);
	char *v = strstr(line, pat);
	assert_non_null(v);
	long long n = strtoll(v + strlen(pat), NULL, 10);
	free(log);
	return n;
}

static void test_preauth_per_address(void **state)
{
	(void)state;
	static const char *const args[] = {"--rsa-bits", "2048", "--preauth-per-address", "4",
					   "--handshake-rate", "1000", "--handshake-burst", "1000",
					   NULL};
	const char *dir = itest_tmpdir("flood-preauth");
	struct itest_server *srv = itest_server_start(itest_subdir(dir, "data"), args);
	assert_non_null(srv);
	int port = itest_server_port(srv);

	/* Four connections from 127.0.0.2 that never finish: the quota. */
	int held[4];
	struct buf frame;
	struct proto_msg m;
	buf_init(&frame, 0);
	for (int i = 0; i < 4; i++) {
		held[i] = raw_admitted(port, "127.0.0.2");
		assert_true(held[i] >= 0);
		send_hello(held[i], NULL);
		assert_int_equal(raw_read(held[i], &frame, &m), 1);
		assert_int_equal(m.type, PROTO_SERVER_HELLO);
	}
	assert_int_equal(raw_admitted(port, "127.0.0.2"), -1);

	/* Everyone else is served. */
	real_client_registers(port, dir, "alice");

	/* A slot given back is a slot again (the server sees the close soon). */
	close(held[0]);
	int fd = -1;
	for (int tries = 0; tries < 30 && fd < 0; tries++)
		fd = raw_admitted(port, "127.0.0.2");
	assert_true(fd >= 0);
	send_hello(fd, NULL);
	assert_int_equal(raw_read(fd, &frame, &m), 1);
	assert_int_equal(m.type, PROTO_SERVER_HELLO);
	close(fd);
	for (int i = 1; i < 4; i++)
		close(held[i]);
	buf_free(&frame);
	char log[4096];
	snprintf(log, sizeof log, "%s", itest_server_log(srv));
	assert_int_equal(itest_server_stop(srv), 0);
	assert_true(stats_field(log, "addr_refused") >= 1);
}

/* The same limit, by IPv6 /64: two addresses of one /64 share the quota, an
 * address of another /64 has its own. It puts three addresses on lo (root
 * only; skipped otherwise) and takes them off after. */
static const char *const v6_addrs[] = {"fd00:cc:1::1", "fd00:cc:1::2", "fd00:cc:2::1"};

static void v6_addrs_del(void)
{
	char cmd[128];
	for (size_t i = 0; i < 3; i++) {
		snprintf(cmd, sizeof cmd, "ip -6 addr del %s/128 dev lo 2>/dev/null", v6_addrs[i]);
		if (system(cmd) != 0)
			continue;  /* not there */
	}
}

static int v6_addrs_add(void)
{
	char cmd[128];
	v6_addrs_del();
	for (size_t i = 0; i < 3; i++) {
		snprintf(cmd, sizeof cmd, "ip -6 addr add %s/128 dev lo nodad 2>/dev/null",
			 v6_addrs[i]);
		if (system(cmd) != 0) {
			v6_addrs_del();
			return 0;
		}
	}
	return 1;
}

static int free_port6(void)
{
	int fd = socket(AF_INET6, SOCK_STREAM, 0);
	struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_ANY_INIT};
	socklen_t len = sizeof a;
	int port = -1;
	if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &len) == 0)
		port = ntohs(a.sin6_port);
	if (fd >= 0)
		close(fd);
	return port;
}

static void test_ipv6_prefix(void **state)
{
	(void)state;
	if (geteuid() != 0 || !v6_addrs_add()) {
		fprintf(stderr, "[itest] skipped: adding IPv6 addresses to lo needs root and ip(8)\n");
		skip();
	}
	int port = free_port6();
	assert_true(port > 0);
	char listen[32];
	snprintf(listen, sizeof listen, "[::]:%d", port);
	const char *args[] = {"--rsa-bits", "2048", "--preauth-per-address", "2",
			      "--handshake-rate", "1000", "--handshake-burst", "1000",
			      "--listen", listen, NULL};
	const char *dir = itest_tmpdir("flood-ipv6");
	struct itest_server *srv = itest_server_start_on(itest_subdir(dir, "data"), port, args);
	assert_non_null(srv);

	/* Two from fd00:cc:1::1, held in their handshake: the /64's quota. */
	int held[2];
	for (int i = 0; i < 2; i++) {
		held[i] = raw_admitted(port, v6_addrs[0]);
		assert_true(held[i] >= 0);
	}
	/* Another address of the same /64 is refused; one of another /64 is not. */
	assert_int_equal(raw_admitted(port, v6_addrs[1]), -1);
	int other = raw_admitted(port, v6_addrs[2]);
	assert_true(other >= 0);
	close(other);
	for (int i = 0; i < 2; i++)
		close(held[i]);
	char log[4096];
	snprintf(log, sizeof log, "%s", itest_server_log(srv));
	assert_int_equal(itest_server_stop(srv), 0);
	v6_addrs_del();
	assert_true(stats_field(log, "addr_refused") >= 1);
}

/* The addresses go even when an assertion ended the test. */
static int ipv6_teardown(void **state)
{
	if (geteuid() == 0)
		v6_addrs_del();
	return itest_teardown(state);
}

static void test_rate_per_address(void **state)
{
	(void)state;
	static const char *const args[] = {"--rsa-bits", "2048", "--handshake-rate", "1",
					   "--handshake-burst", "3", NULL};
	const char *vg = getenv("ITEST_UNDER_VALGRIND");
	if (vg && *vg) {
		/* Each probe waits 300 ms scaled (12 s there): a token comes back
		 * between any two, so a rate of 1 a second cannot be seen. */
		fprintf(stderr, "[itest] skipped under valgrind: it measures a rate\n");
		skip();
	}
	const char *dir = itest_tmpdir("flood-rate");
	struct itest_server *srv = itest_server_start(itest_subdir(dir, "data"), args);
	assert_non_null(srv);
	int port = itest_server_port(srv);
	/* The burst: three in a row from 127.0.0.3 are served, then refused
	 * (each wait is 300 ms at the rate of 1 a second, so a token may come
	 * back in between: up to six tries). */
	int refused = 0, served = 0;
	for (int i = 0; i < 6 && !refused; i++) {
		int fd = raw_admitted(port, "127.0.0.3");
		if (fd < 0)
			refused = 1;
		else
			served++, close(fd);
	}
	assert_true(refused);
	assert_true(served >= 3);
	/* Another address is not affected. */
	int fd = raw_admitted(port, "127.0.0.4");
	assert_true(fd >= 0);
	close(fd);
	char log[4096];
	snprintf(log, sizeof log, "%s", itest_server_log(srv));
	assert_int_equal(itest_server_stop(srv), 0);
	assert_true(stats_field(log, "rate_refused") >= 1);
}

static void test_preauth_timeout(void **state)
{
	(void)state;
	static const char *const args[] = {"--rsa-bits", "2048", "--handshake-timeout", "1", NULL};
	const char *dir = itest_tmpdir("flood-timeout");
	struct itest_server *srv = itest_server_start(itest_subdir(dir, "data"), args);
	assert_non_null(srv);
	int fd = raw_connect(itest_server_port(srv), "127.0.0.5");
	uint64_t t0 = clock_mono_ms();
	uint8_t b;
	/* Silence: the server closes (EOF), well before our 10 s receive timeout. */
	assert_int_equal(recv(fd, &b, 1, 0), 0);
	uint64_t waited = clock_mono_ms() - t0;
	assert_true(waited >= 900);
	close(fd);
	assert_int_equal(itest_server_stop(srv), 0);
}

static void test_puzzle_under_load(void **state)
{
	(void)state;
	enum { JUNK = 40 };
	static const char *const args[] = {"--rsa-bits", "2048", "--handshake-workers", "1",
					   "--handshake-queue", "1000", "--puzzle-max", "20",
					   "--preauth-per-address", "1000",
					   "--handshake-rate", "100000",
					   "--handshake-burst", "100000", NULL};
	const char *dir = itest_tmpdir("flood-puzzle");
	struct itest_server *srv = itest_server_start(itest_subdir(dir, "data"), args);
	assert_non_null(srv);
	int port = itest_server_port(srv);
	struct raw_hs hs[JUNK];

	/* Quiet: no proof of work asked. Then all the junk keys at once, for one
	 * worker: each costs the server an RSA decryption (auth_failed). */
	for (int i = 0; i < JUNK; i++)
		raw_hs_start(&hs[i], port, "127.0.0.6");
	for (int i = 0; i < JUNK; i++) {
		raw_hs_server_hello(&hs[i]);
		assert_int_equal(hs[i].bits, 0);
	}
	for (int i = 0; i < JUNK; i++)
		raw_hs_junk_key(&hs[i], 0);
	for (int i = 0; i < JUNK; i++) {
		expect_error(hs[i].fd, CC_ERR_AUTH);
		raw_hs_close(&hs[i]);
	}

	/* The queue was long: a new hello is asked for work. */
	struct raw_hs h;
	raw_hs_start(&h, port, "127.0.0.6");
	raw_hs_server_hello(&h);
	assert_true(h.bits >= 16);
	assert_true(h.bits <= 20);
	/* A nonce that does not solve it, with a junk RSA part: refused as
	 * `puzzle`, so the server looked at nothing else. */
	uint64_t wrong = 0;
	while (raw_hs_solves(&h, wrong))
		wrong++;
	raw_hs_junk_key(&h, wrong);
	expect_error(h.fd, CC_ERR_PUZZLE);
	raw_hs_close(&h);

	/* A real client (which solves what it is asked) still registers. */
	real_client_registers(port, dir, "alice");

	char log[4096];
	snprintf(log, sizeof log, "%s", itest_server_log(srv));
	assert_int_equal(itest_server_stop(srv), 0);
	/* The server's own count: one RSA job per junk key taken at 0 bits, one
	 * for alice, none for the wrong nonce. */
	assert_int_equal(stats_field(log, "rsa_jobs"), JUNK + 1);
	assert_int_equal(stats_field(log, "puzzle_refused"), 1);
}

static void test_closed_mid_job(void **state)
{
	(void)state;
	enum { LEAVERS = 60 };
	static const char *const args[] = {"--rsa-bits", "2048", "--handshake-workers", "1",
					   "--handshake-queue", "1000", "--puzzle-max", "20", "--puzzle-max", "0",
					   "--preauth-per-address", "1000",
					   "--handshake-rate", "100000",
					   "--handshake-burst", "100000", NULL};
	const char *dir = itest_tmpdir("flood-midjob");
	struct itest_server *srv = itest_server_start(itest_subdir(dir, "data"), args);
	assert_non_null(srv);
	int port = itest_server_port(srv);
	struct raw_hs hs[LEAVERS];
	for (int i = 0; i < LEAVERS; i++)
		raw_hs_start(&hs[i], port, "127.0.0.7");
	for (int i = 0; i < LEAVERS; i++)
		raw_hs_server_hello(&hs[i]);
	/* Each key goes out and its sender leaves at once. */
	for (int i = 0; i < LEAVERS; i++) {
		raw_hs_junk_key(&hs[i], 0);
		raw_hs_close(&hs[i]);
	}
	/* alice's job is queued behind theirs (one worker, first in first out),
	 * so once she is in, every one of theirs has come back. */
	real_client_registers(port, dir, "alice");
	char log[4096];
	snprintf(log, sizeof log, "%s", itest_server_log(srv));
	assert_int_equal(itest_server_stop(srv), 0);  /* LeakSanitizer would make it 23 */
	long long run = stats_field(log, "rsa_jobs"), cancelled = stats_field(log, "cancelled");
	long long orphans = stats_field(log, "orphans");
	assert_int_equal(run + cancelled, LEAVERS + 1);
	assert_true(orphans >= 1);
	assert_true(orphans >= cancelled);
}

/* A server that asks for more work than the client will do: a clear error. */
static void test_client_refuses_hard_puzzle(void **state)
{
	(void)state;
	static const char *const args[] = {"--rsa-bits", "2048", "--puzzle-min", "25",
					   "--puzzle-max", "32", NULL};
	const char *dir = itest_tmpdir("flood-hard");
	struct itest_server *srv = itest_server_start(itest_subdir(dir, "data"), args);
	assert_non_null(srv);
	struct itest_client *c =
		itest_client_start(itest_server_port(srv), itest_subdir(dir, "bob"), "bob", NULL);
	assert_non_null(c);
	json_t *ev = itest_client_expect_error(c, "puzzle", ITEST_TIMEOUT_MS);
	assert_non_null(ev);
	json_decref(ev);
	assert_int_not_equal(itest_client_wait_exit(c, ITEST_TIMEOUT_MS), 0);
	assert_int_equal(itest_server_stop(srv), 0);
}

int main(void)
{
	if (crypto_init() != CC_OK)
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_preauth_per_address, itest_teardown),
		cmocka_unit_test_teardown(test_ipv6_prefix, ipv6_teardown),
		cmocka_unit_test_teardown(test_rate_per_address, itest_teardown),
		cmocka_unit_test_teardown(test_preauth_timeout, itest_teardown),
		cmocka_unit_test_teardown(test_puzzle_under_load, itest_teardown),
		cmocka_unit_test_teardown(test_closed_mid_job, itest_teardown),
		cmocka_unit_test_teardown(test_client_refuses_hard_puzzle, itest_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
