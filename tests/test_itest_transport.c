/* Integration tests of the transport against the real cryptocat-server:
 * hostile and faulty peers on raw TCP sockets, and an in-process client
 * built on the chan API (src/transport/chan.h) that can tamper with,
 * replay and reorder its own records, stall, or stop reading.
 *
 * In every test a well-behaved batch client (the real cryptocat) stays
 * connected through the attack and must still answer /ping afterwards, and
 * the server must still stop with exit status 0 (a crash would show). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "crypto/crypto.h"
#include "proto/frame.h"
#include "proto/msg.h"
#include "support/itest.h"
#include "support/itest_chan.h"
#include "support/itest_extra.h"
#include "transport/chan.h"
#include "util/buf.h"

#define SERVER_KEY_PEM CC_SOURCE_DIR "/tests/data/example_server_key.pem"
#define CLIENT_KEY_PEM CC_SOURCE_DIR "/tests/data/example_client_key.pem"
#define MALLORY "mallory"
/* Inner frame of a PING: u32 length 9, type, u64 token. */
#define PING_FRAME_LEN 13

/* The in-process client's identity, and the fingerprint of the server key
 * every server here is given (the fixture copies it into the data dir, which
 * also saves generating one per server). */
static struct crypto_rsa_key *mallory_key;
static uint8_t server_fp[CRYPTO_FINGERPRINT_LEN];

static int group_setup(void **state)
{
	struct crypto_rsa_key *k = NULL;
	(void)state;
	if (crypto_init() != CC_OK ||
	    crypto_rsa_load_private_file(CLIENT_KEY_PEM, &mallory_key) != CC_OK ||
	    crypto_rsa_load_private_file(SERVER_KEY_PEM, &k) != CC_OK ||
	    crypto_rsa_fingerprint(k, server_fp) != CC_OK) {
		crypto_rsa_free(k);
		return -1;
	}
	crypto_rsa_free(k);
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	crypto_rsa_free(mallory_key);
	mallory_key = NULL;
	itest_cleanup();
	return 0;
}

/* ---- fixture: a server and a well-behaved batch client ------------------ */

struct fixture {
	const char *dir;
	struct itest_server *srv;
	int port;
	struct itest_client *alice;
	char log[4200];  /* the server's log (the harness's copy dies with it) */
};

static void alice_ping(struct fixture *f)
{
	assert_int_equal(itest_client_send(f->alice, "/ping"), 0);
	json_t *ev = itest_client_expect(f->alice, "pong", ITEST_TIMEOUT_MS);
	assert_non_null(ev);
	json_decref(ev);
}

/* Starts a server with EXTRA (NULL-terminated, may be NULL) and alice. */
static void fixture_start(struct fixture *f, const char *name, const char *const *extra)
{
	const char *args[32];
	size_t n = 0;
	for (size_t i = 0; extra && extra[i]; i++) {
		assert_true(n < 24);
		args[n++] = extra[i];
	}
	/* Debug logging: some tests wait for a line in the log. */
	args[n++] = "--log-level";
	args[n++] = "debug";
	args[n++] = "--rsa-bits";
	args[n++] = "2048";
	args[n] = NULL;

	memset(f, 0, sizeof *f);
	if (!itest_have_binaries())
		skip();
	f->dir = itest_tmpdir(name);
	assert_non_null(f->dir);
	const char *data = itest_subdir(f->dir, "server");
	assert_non_null(data);
	assert_int_equal(itest_copy_file(SERVER_KEY_PEM, itest_path(data, "server_key.pem"),
		0600), 0);
	f->srv = itest_server_start(data, args);
	assert_non_null(f->srv);
	f->port = itest_server_port(f->srv);
	snprintf(f->log, sizeof f->log, "%s", itest_server_log(f->srv));

	f->alice = itest_client_start(f->port, itest_subdir(f->dir, "alice"), "alice", NULL);
	assert_non_null(f->alice);
	json_t *ev = itest_client_expect(f->alice, "registered", ITEST_TIMEOUT_MS);
	assert_non_null(ev);
	json_decref(ev);
	alice_ping(f);
}

/* After the attacks: alice still works, then everything stops cleanly. */
static void fixture_stop(struct fixture *f)
{
	alice_ping(f);
	assert_int_equal(itest_client_send(f->alice, "/quit"), 0);
	assert_int_equal(itest_client_wait_exit(f->alice, ITEST_TIMEOUT_MS), 0);
	f->alice = NULL;
	/* Exit status 0 on SIGTERM: alive all along, no sanitizer report. */
	assert_int_equal(itest_server_stop(f->srv), 0);
	f->srv = NULL;
}

/* ---- raw sockets ------------------------------------------------------- */

static int raw_connect(const struct fixture *f)
{
	int fd = itest_tcp_connect(f->port);
	assert_true(fd >= 0);
	return fd;
}

static void raw_send(int fd, const void *p, size_t n)
{
	assert_int_equal(itest_tcp_send_all(fd, p, n), 0);
}

/* The server closes FD without sending anything first. */
static void expect_closed_silently(int fd)
{
	size_t got = 99;
	assert_int_equal(itest_tcp_wait_closed_count(fd, ITEST_TIMEOUT_MS, &got), 1);
	assert_int_equal(got, 0);
	close(fd);
}

/* The next frame on FD is a plaintext ERROR with CODE; then FD is closed. */
static void expect_plain_error_then_close(int fd, cc_err code)
{
	uint8_t *frame;
	size_t len;
	struct proto_msg m;
	assert_int_equal(itest_read_frame(fd, PROTO_FRAME_MAX_PREAUTH, &frame, &len,
		ITEST_TIMEOUT_MS), 1);
	assert_int_equal(proto_msg_decode(frame + PROTO_FRAME_HEADER_LEN,
		len - PROTO_FRAME_HEADER_LEN, &m), CC_OK);
	assert_int_equal(m.type, PROTO_ERROR);
	assert_int_equal(m.u.error.code, code);
	assert_int_equal(m.u.error.request_id, 0);
	assert_true(m.u.error.text.len > 0);
	free(frame);
	expect_closed_silently(fd);
}

static void put_header(uint8_t hdr[PROTO_FRAME_HEADER_LEN], uint32_t len)
{
	store_be32(hdr, len);
}

/* ---- the in-process client ------------------------------------------------ */

/* support/itest_chan.h, as mallory, pinning the key the fixture gave the
 * server. */
static void wc_handshake(struct ichan *w, int fd)
{
	ichan_handshake(w, fd, mallory_key, MALLORY, server_fp);
}

static void wc_open(struct ichan *w, const struct fixture *f)
{
	wc_handshake(w, raw_connect(f));
}

/* Seals one PING record into REC (not sent). */
static void wc_seal_ping(struct ichan *w, uint64_t token, struct buf *rec)
{
	struct proto_msg m = {.type = PROTO_PING};
	m.u.ping.token = token;
	assert_int_equal(chan_send_msg(w->ch, &m, rec), CC_OK);
}

static void wc_expect_pong(struct ichan *w, uint64_t token)
{
	struct proto_msg m;
	assert_int_equal(ichan_next(w, &m, ITEST_TIMEOUT_MS), 1);
	assert_int_equal(m.type, PROTO_PONG);
	assert_true(m.u.ping.token == token);
}

/* A valid PING gets its PONG: the in-process client itself is correct. */
static void wc_ping(struct ichan *w, uint64_t token)
{
	wc_seal_ping(w, token, &w->out);
	ichan_flush(w);
	wc_expect_pong(w, token);
}

/* The server's next record is an ERROR with CODE, then it closes. */
static void wc_expect_error_then_close(struct ichan *w, cc_err code)
{
	struct proto_msg m;
	assert_int_equal(ichan_next(w, &m, ITEST_TIMEOUT_MS), 1);
	assert_int_equal(m.type, PROTO_ERROR);
	assert_int_equal(m.u.error.code, code);
	expect_closed_silently(w->fd);
	w->fd = -1;
	ichan_close(w);
}

static void wc_expect_closed_silently(struct ichan *w)
{
	expect_closed_silently(w->fd);
	w->fd = -1;
	ichan_close(w);
}

/* N PING inner frames with tokens FIRST.. into PLAIN. */
static void put_pings(struct buf *plain, uint64_t first, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(buf_put_u32(plain, 9), CC_OK);
		assert_int_equal(buf_put_u8(plain, PROTO_PING), CC_OK);
		assert_int_equal(buf_put_u64(plain, first + i), CC_OK);
	}
}

/* ---- before the handshake ------------------------------------------------ */

/* Servers for the pre-handshake attacks wait long for a handshake, so that a
 * close within ITEST_TIMEOUT_MS is the check under test, not the timeout. */
static const char *const patient[] = {"--handshake-timeout", "3600", NULL};

static void test_garbage_before_handshake(void **state)
{
	struct fixture f;
	(void)state;
	fixture_start(&f, "garbage", patient);

	/* Text: "GET " read as a length is far over the cap. */
	static const char http[] = "GET / HTTP/1.1\r\nHost: cryptocat\r\n\r\n";
	int fd = raw_connect(&f);
	raw_send(fd, http, strlen(http));
	expect_closed_silently(fd);

	/* Random-looking bytes. */
	uint8_t junk[4096];
	for (size_t i = 0; i < sizeof junk; i++)
		junk[i] = (uint8_t)(i * 131 + 7);
	fd = raw_connect(&f);
	raw_send(fd, junk, sizeof junk);
	expect_closed_silently(fd);

	/* A well-formed frame holding an unknown message type. */
	uint8_t bad_type[] = {0, 0, 0, 8, 0xee, 1, 2, 3, 4, 5, 6, 7};
	fd = raw_connect(&f);
	raw_send(fd, bad_type, sizeof bad_type);
	expect_plain_error_then_close(fd, CC_ERR_BAD_TYPE);

	/* A valid message at the wrong time: a PING instead of CLIENT_HELLO. */
	uint8_t ping[PROTO_FRAME_HEADER_LEN + 9] = {0, 0, 0, 9, PROTO_PING};
	fd = raw_connect(&f);
	raw_send(fd, ping, sizeof ping);
	expect_plain_error_then_close(fd, CC_ERR_STATE);

	fixture_stop(&f);
}

static void test_oversized_and_empty_frames(void **state)
{
	struct fixture f;
	uint8_t hdr[PROTO_FRAME_HEADER_LEN + 16];
	(void)state;
	fixture_start(&f, "oversized", patient);
	memset(hdr, 0xab, sizeof hdr);

	/* Only the header and a few bytes are sent: a server that waited for the
	 * announced body (buffering it) would not close. */
	const uint32_t too_big[] = {0x7fffffffu, 0xffffffffu, PROTO_FRAME_MAX_PREAUTH + 1};
	for (size_t i = 0; i < sizeof too_big / sizeof too_big[0]; i++) {
		int fd = raw_connect(&f);
		put_header(hdr, too_big[i]);
		raw_send(fd, hdr, sizeof hdr);
		expect_closed_silently(fd);
	}

	/* A zero-length frame. */
	int fd = raw_connect(&f);
	put_header(hdr, 0);
	raw_send(fd, hdr, PROTO_FRAME_HEADER_LEN);
	expect_closed_silently(fd);

	/* Control: exactly the cap is read in full (then refused as a bad type,
	 * which needs the whole body). */
	size_t n = PROTO_FRAME_HEADER_LEN + PROTO_FRAME_MAX_PREAUTH;
	uint8_t *big = malloc(n);
	assert_non_null(big);
	memset(big, 0xee, n);
	put_header(big, PROTO_FRAME_MAX_PREAUTH);
	fd = raw_connect(&f);
	raw_send(fd, big, n);
	free(big);
	expect_plain_error_then_close(fd, CC_ERR_BAD_TYPE);

	fixture_stop(&f);
}

static void test_handshake_timeout(void **state)
{
	struct fixture f;
	const char *const args[] = {"--handshake-timeout", "1", NULL};
	(void)state;
	fixture_start(&f, "hs-timeout", args);

	/* Silent from the start. */
	int64_t t0 = itest_now_ms();
	int fd = raw_connect(&f);
	expect_closed_silently(fd);
	int64_t silent_ms = itest_now_ms() - t0;

	/* Stalled after the server's hello. */
	struct ichan w;
	t0 = itest_now_ms();
	ichan_start(&w, raw_connect(&f), mallory_key, MALLORY);
	uint8_t *frame;
	size_t len;
	assert_int_equal(itest_read_frame(w.fd, PROTO_FRAME_MAX_PREAUTH, &frame, &len,
		ITEST_TIMEOUT_MS), 1);
	assert_int_equal(frame[PROTO_FRAME_HEADER_LEN], PROTO_SERVER_HELLO);
	free(frame);
	wc_expect_closed_silently(&w);
	int64_t stalled_ms = itest_now_ms() - t0;

	fprintf(stderr, "handshake timeout 1 s: closed after %lld ms (silent), "
		"%lld ms (stalled)\n", (long long)silent_ms, (long long)stalled_ms);
	/* Not early, and within ~3 s. */
	assert_true(silent_ms >= 900 && stalled_ms >= 900);
	assert_true(silent_ms <= itest_scale_ms(3000) && stalled_ms <= itest_scale_ms(3000));
	assert_true(itest_file_contains(f.log, "handshake: timed out"));

	fixture_stop(&f);
}

static void test_bad_version(void **state)
{
	struct fixture f;
	(void)state;
	fixture_start(&f, "version", patient);

	const uint16_t versions[] = {0, PROTO_VERSION + 1, 0xffff};
	for (size_t i = 0; i < sizeof versions / sizeof versions[0]; i++) {
		struct proto_msg m = {.type = PROTO_CLIENT_HELLO};
		struct buf body, frame;
		m.u.client_hello.version = versions[i];
		memset(m.u.client_hello.eph, 9, sizeof m.u.client_hello.eph);
		memset(m.u.client_hello.random, 7, sizeof m.u.client_hello.random);
		buf_init(&body, PROTO_FRAME_MAX_PREAUTH);
		buf_init(&frame, PROTO_FRAME_MAX_PREAUTH);
		assert_int_equal(proto_msg_encode(&m, &body), CC_OK);
		assert_int_equal(proto_frame_put(&frame, body.data, body.len), CC_OK);
		int fd = raw_connect(&f);
		raw_send(fd, frame.data, frame.len);
		buf_free(&body);
		buf_free(&frame);
		expect_plain_error_then_close(fd, CC_ERR_VERSION);
	}

	fixture_stop(&f);
}

/* ---- records ------------------------------------------------------------ */

#define RECORDS_MAX_FRAME 65536

static void test_records(void **state)
{
	struct fixture f;
	struct ichan w;
	struct buf r1, r2;
	const char *const args[] = {"--max-frame", "65536", NULL};
	(void)state;
	fixture_start(&f, "records", args);

	/* Positive control: the in-process client is a correct client. */
	wc_open(&w, &f);
	assert_int_equal(w.max_frame, RECORDS_MAX_FRAME);
	wc_ping(&w, 0x1122334455667788u);
	wc_ping(&w, 2);
	ichan_close(&w);

	/* (a) One bit flipped, in the ciphertext and then in the tag: closed,
	 * and the PING inside is never answered. */
	for (int where = 0; where < 2; where++) {
		wc_open(&w, &f);
		wc_ping(&w, 1);
		buf_init(&r1, PROTO_FRAME_MAX_LIMIT);
		wc_seal_ping(&w, 2, &r1);
		size_t pos = where == 0 ? PROTO_FRAME_HEADER_LEN + 3 : r1.len - 1;
		r1.data[pos] ^= 0x10;
		raw_send(w.fd, r1.data, r1.len);
		buf_free(&r1);
		wc_expect_closed_silently(&w);
	}

	/* (b) The same valid record twice: answered once, then closed. */
	wc_open(&w, &f);
	buf_init(&r1, PROTO_FRAME_MAX_LIMIT);
	wc_seal_ping(&w, 3, &r1);
	raw_send(w.fd, r1.data, r1.len);
	wc_expect_pong(&w, 3);
	raw_send(w.fd, r1.data, r1.len);
	buf_free(&r1);
	wc_expect_closed_silently(&w);

	/* (c) Two records sent in the wrong order: closed, nothing answered. */
	wc_open(&w, &f);
	buf_init(&r1, PROTO_FRAME_MAX_LIMIT);
	buf_init(&r2, PROTO_FRAME_MAX_LIMIT);
	wc_seal_ping(&w, 4, &r1);
	wc_seal_ping(&w, 5, &r2);
	raw_send(w.fd, r2.data, r2.len);
	raw_send(w.fd, r1.data, r1.len);
	buf_free(&r1);
	buf_free(&r2);
	wc_expect_closed_silently(&w);

	/* (d) A frame announcing --max-frame + 1 bytes, body not sent: closed
	 * at the header, with an ERROR too_large. */
	wc_open(&w, &f);
	uint8_t hdr[PROTO_FRAME_HEADER_LEN + 16];
	memset(hdr, 0x5a, sizeof hdr);
	put_header(hdr, RECORDS_MAX_FRAME + 1);
	raw_send(w.fd, hdr, sizeof hdr);
	wc_expect_error_then_close(&w, CC_ERR_TOO_LARGE);

	/* Control for (d): a record of exactly --max-frame bytes, 5040 PINGs
	 * (13 * 5040 + 16 = 65536), is accepted and every PING answered. */
	wc_open(&w, &f);
	struct buf plain;
	size_t npings = (RECORDS_MAX_FRAME - CRYPTO_AEAD_TAG_LEN) / PING_FRAME_LEN;
	assert_int_equal(npings * PING_FRAME_LEN + CRYPTO_AEAD_TAG_LEN, RECORDS_MAX_FRAME);
	buf_init(&plain, RECORDS_MAX_FRAME);
	put_pings(&plain, 1000, npings);
	assert_int_equal(chan_send(w.ch, plain.data, plain.len, &w.out), CC_OK);
	buf_free(&plain);
	assert_int_equal(w.out.len, PROTO_FRAME_HEADER_LEN + RECORDS_MAX_FRAME);
	ichan_flush(&w);
	for (size_t i = 0; i < npings; i++)
		wc_expect_pong(&w, 1000 + i);
	wc_ping(&w, 6);
	ichan_close(&w);

	/* An empty frame after the handshake. */
	wc_open(&w, &f);
	put_header(hdr, 0);
	raw_send(w.fd, hdr, PROTO_FRAME_HEADER_LEN);
	wc_expect_error_then_close(&w, CC_ERR_MALFORMED);

	/* A record shorter than its tag. */
	wc_open(&w, &f);
	put_header(hdr, CRYPTO_AEAD_TAG_LEN - 1);
	raw_send(w.fd, hdr, PROTO_FRAME_HEADER_LEN + CRYPTO_AEAD_TAG_LEN - 1);
	wc_expect_closed_silently(&w);

	/* A handshake message inside a valid record: refused with bad_state. */
	wc_open(&w, &f);
	struct proto_msg hello = {.type = PROTO_CLIENT_HELLO};
	hello.u.client_hello.version = PROTO_VERSION;
	assert_int_equal(chan_send_msg(w.ch, &hello, &w.out), CC_OK);
	ichan_flush(&w);
	wc_expect_error_then_close(&w, CC_ERR_STATE);

	fixture_stop(&f);
}

/* ---- idle timeout ---------------------------------------------------------- */

static void test_idle_timeout(void **state)
{
	struct fixture f;
	struct ichan w;
	struct proto_msg m;
	const char *const args[] = {"--idle-timeout", "1", NULL};
	(void)state;
	fixture_start(&f, "idle", args);

	/* An authenticated client that never answers PING is dropped. */
	wc_open(&w, &f);
	int64_t t0 = itest_now_ms();
	int pings = 0, r;
	while ((r = ichan_next(&w, &m, ITEST_TIMEOUT_MS)) == 1) {
		assert_int_equal(m.type, PROTO_PING);
		pings++;
	}
	int64_t dropped_ms = itest_now_ms() - t0;
	fprintf(stderr, "idle timeout 1 s: %d ping(s), dropped after %lld ms\n", pings,
		(long long)dropped_ms);
	assert_int_equal(r, 0);
	/* PROTOCOL.md 6: pinged after 1 s of silence, dropped after 2 s; never
	 * dropped without a PING it could have answered. */
	assert_true(pings >= 1);
	assert_true(dropped_ms >= 1900 && dropped_ms <= itest_scale_ms(4000));
	ichan_close(&w);
	assert_true(itest_file_contains(f.log, "idle: timed out"));

	/* alice answers the server's pings: 3 s more of silence, still there. */
	assert_true(itest_client_expect_silence(f.alice, 3000));

	fixture_stop(&f);
}

/* ---- connection cap ----------------------------------------------------- */

static int local_port(int fd)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof sa;
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	return ntohs(sa.sin_port);
}

static void test_connection_cap(void **state)
{
	struct fixture f;
	struct ichan w;
	const char *const args[] = {"--max-connections", "2", NULL};
	(void)state;
	fixture_start(&f, "cap", args);

	/* alice and this one make two. */
	int a = raw_connect(&f);
	/* Accepted in order: the third is over the cap. */
	int b = raw_connect(&f);
	expect_plain_error_then_close(b, CC_ERR_LIMIT);
	assert_true(itest_file_contains(f.log, "connection cap (2) reached"));

	/* One closes; once the server has seen it, a new one is accepted (and
	 * gets through the handshake). */
	char seen[96];
	snprintf(seen, sizeof seen, "conn 127.0.0.1:%d: closed by peer", local_port(a));
	close(a);
	assert_true(itest_wait_file_contains(f.log, seen, ITEST_TIMEOUT_MS));
	wc_open(&w, &f);
	wc_ping(&w, 7);

	/* Full again. */
	b = raw_connect(&f);
	expect_plain_error_then_close(b, CC_ERR_LIMIT);
	wc_ping(&w, 8);
	ichan_close(&w);

	fixture_stop(&f);
}

/* ---- slow reader ------------------------------------------------------------ */

#define SLOW_PINGS_PER_RECORD 2000
#define SLOW_SEND_LIMIT (256u * 1024 * 1024)

static void test_slow_reader(void **state)
{
	struct fixture f;
	struct ichan w;
	const char *const args[] = {"--max-output", "65536", NULL};
	(void)state;
	fixture_start(&f, "slow", args);

	/* A small receive window, so the server's output piles up on its side. */
	int fd = itest_tcp_connect_rcvbuf(f.port, 4096);
	assert_true(fd >= 0);
	wc_handshake(&w, fd);
	wc_ping(&w, 9);

	/* PINGs, never reading the PONGs, until a send fails because the
	 * server dropped the connection (or a generous limit is reached). */
	assert_int_equal(fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK), 0);
	struct buf plain;
	buf_init(&plain, SLOW_PINGS_PER_RECORD * PING_FRAME_LEN);
	uint64_t token = 100;
	size_t off = 0, sent = 0, pings = 0;
	int send_failed = 0;
	int64_t deadline = itest_now_ms() + itest_scale_ms(30000);
	while (sent < SLOW_SEND_LIMIT && itest_now_ms() < deadline) {
		if (off == w.out.len) {
			buf_reset(&w.out);
			buf_reset(&plain);
			put_pings(&plain, token, SLOW_PINGS_PER_RECORD);
			token += SLOW_PINGS_PER_RECORD;
			pings += SLOW_PINGS_PER_RECORD;
			assert_int_equal(chan_send(w.ch, plain.data, plain.len, &w.out), CC_OK);
			off = 0;
		}
		ssize_t n = send(fd, w.out.data + off, w.out.len - off, MSG_NOSIGNAL);
		if (n > 0) {
			off += (size_t)n;
			sent += (size_t)n;
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
			struct pollfd pfd = {.fd = fd, .events = POLLOUT};
			poll(&pfd, 1, 100);
			continue;
		}
		assert_true(n < 0 && (errno == EPIPE || errno == ECONNRESET));
		send_failed = 1;
		break;
	}
	buf_free(&plain);
	fprintf(stderr, "slow reader: %zu PINGs (%zu bytes) sent, send %s\n", pings, sent,
		send_failed ? "failed: dropped" : "never failed");
	/* Now reading: what was queued, then the end. */
	assert_int_equal(itest_tcp_wait_closed(fd, ITEST_TIMEOUT_MS), 1);
	ichan_close(&w);
	assert_true(itest_wait_file_contains(f.log, "output cap reached", ITEST_TIMEOUT_MS));

	fixture_stop(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_garbage_before_handshake, itest_teardown),
		cmocka_unit_test_teardown(test_oversized_and_empty_frames, itest_teardown),
		cmocka_unit_test_teardown(test_handshake_timeout, itest_teardown),
		cmocka_unit_test_teardown(test_bad_version, itest_teardown),
		cmocka_unit_test_teardown(test_records, itest_teardown),
		cmocka_unit_test_teardown(test_idle_timeout, itest_teardown),
		cmocka_unit_test_teardown(test_connection_cap, itest_teardown),
		cmocka_unit_test_teardown(test_slow_reader, itest_teardown),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
