/* The server against hostile input, part 1: the transport. A table of bad
 * inputs before and around the handshake, slowloris, half-open connections
 * and floods over the limits, each a row with its expected outcome, run
 * against one real cryptocat-server (tests/support/badin.h: after each row
 * the server is alive and two registered batch clients still talk; then the
 * quick rows run 20 times more and the server's memory may not grow).
 *
 * What tests/test_itest_transport.c already sends is not repeated here
 * (text, junk, an unknown type or a PING first, lengths over the pre-auth
 * cap, an empty frame, bad versions, flipped, replayed and reordered
 * records, a record over --max-frame, the timeouts, the connection cap
 * against live handshakes, a reader that stops on PONGs). Requests after
 * the handshake are in tests/test_itest_bad_requests.c. */
/* POLLRDHUP: the peer closed, with unread data still in front of it. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "proto/frame.h"
#include "proto/msg.h"
#include "proto/room.h"
#include "support/badin.h"
#include "support/itest_extra.h"
#include "transport/chan.h"
#include "util/buf.h"

#define REPS 20

/* ---- helpers ------------------------------------------------------------------ */

/* A CLIENT_HELLO's whole frame (header and body) in OUT. */
static void hello_frame(struct buf *out, uint8_t eph_byte)
{
	struct proto_msg m = {.type = PROTO_CLIENT_HELLO};
	struct buf body;
	m.u.client_hello.version = PROTO_VERSION;
	memset(m.u.client_hello.eph, eph_byte, sizeof m.u.client_hello.eph);
	memset(m.u.client_hello.random, 7, sizeof m.u.client_hello.random);
	buf_init(&body, 256);
	buf_init(out, 256);
	assert_int_equal(proto_msg_encode(&m, &body), CC_OK);
	assert_int_equal(proto_frame_put(out, body.data, body.len), CC_OK);
	buf_free(&body);
}

/* A frame whose header says LEN and whose body is BODY (N bytes). */
static void raw_frame(int fd, uint32_t len, const uint8_t *body, size_t n)
{
	uint8_t hdr[PROTO_FRAME_HEADER_LEN];
	store_be32(hdr, len);
	badin_send(fd, hdr, sizeof hdr);
	if (n)
		badin_send(fd, body, n);
}

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* Connects, sends a CLIENT_HELLO and reads the SERVER_HELLO. */
static int hello_done(struct badin *b)
{
	struct buf hello;
	uint8_t *frame;
	size_t len;
	int fd = badin_connect(b);
	hello_frame(&hello, 9);
	badin_send(fd, hello.data, hello.len);
	buf_free(&hello);
	assert_int_equal(itest_read_frame(fd, PROTO_FRAME_MAX_PREAUTH, &frame, &len,
					  ITEST_TIMEOUT_MS), 1);
	assert_int_equal(frame[PROTO_FRAME_HEADER_LEN], PROTO_SERVER_HELLO);
	free(frame);
	return fd;
}

/* ---- before the handshake: truncated, trailing, wrong state ------------------ */

static void row_hello_cut(struct badin *b)
{
	struct buf f;
	hello_frame(&f, 9);
	int fd = badin_connect(b);
	/* The header tells the truth about a body with its last 10 bytes cut. */
	raw_frame(fd, (uint32_t)(f.len - PROTO_FRAME_HEADER_LEN - 10),
		  f.data + PROTO_FRAME_HEADER_LEN, f.len - PROTO_FRAME_HEADER_LEN - 10);
	buf_free(&f);
	badin_expect_plain_error(fd, CC_ERR_TRUNCATED);
}

static void row_hello_trailing(struct badin *b)
{
	struct buf f;
	hello_frame(&f, 9);
	assert_int_equal(buf_put_u8(&f, 0), CC_OK);
	store_be32(f.data, (uint32_t)(f.len - PROTO_FRAME_HEADER_LEN));
	int fd = badin_connect(b);
	badin_send(fd, f.data, f.len);
	buf_free(&f);
	badin_expect_plain_error(fd, CC_ERR_TRAILING);
}

static void row_type_byte_only(struct badin *b)
{
	const uint8_t body[] = {PROTO_CLIENT_HELLO};
	int fd = badin_connect(b);
	raw_frame(fd, 1, body, 1);
	badin_expect_plain_error(fd, CC_ERR_TRUNCATED);
}

static void row_negative_length(struct badin *b)
{
	uint8_t junk[8] = {1, 2, 3, 4, 5, 6, 7, 8};
	int fd = badin_connect(b);
	raw_frame(fd, 0x80000000u, junk, sizeof junk);  /* -2^31 as a signed length */
	badin_expect_closed(fd);
}

static void row_client_key_first(struct badin *b)
{
	struct buf m;
	buf_init(&m, PROTO_FRAME_MAX_PREAUTH);
	badin_corpus_msg("client_key", &m);
	int fd = badin_connect(b);
	raw_frame(fd, (uint32_t)m.len, m.data, m.len);
	buf_free(&m);
	badin_expect_plain_error(fd, CC_ERR_STATE);
}

static void row_hello_twice(struct badin *b)
{
	struct buf f;
	int fd = hello_done(b);
	hello_frame(&f, 9);
	badin_send(fd, f.data, f.len);
	buf_free(&f);
	badin_expect_plain_error(fd, CC_ERR_STATE);
}

/* Every message type of the protocol but CLIENT_HELLO (and PING, which
 * test_itest_transport.c sends), well-formed, as the first message. */
static const char *const not_first[] = {
	"server_hello", "client_auth", "welcome", "pong", "error", "signing_key", "ok",
	"users_get", "users", "room_create", "rooms_list", "rooms", "room_join", "room_state",
	"room_msg", "msg_send", "sent", "room_add", "room_record", "room_disconnect",
	"room_leave", "join_done", "room_kick", "room_admin", "room_rekey", "room_fetch",
	"rekey_owed", "room_read", "receive_key", "keys_ack", "key_move", "room_move"};
#define NOT_FIRST_N (sizeof not_first / sizeof not_first[0])

static void row_every_type_first(struct badin *b)
{
	struct buf m;
	buf_init(&m, PROTO_FRAME_MAX_PREAUTH);
	for (size_t i = 0; i < NOT_FIRST_N; i++) {
		badin_corpus_msg(not_first[i], &m);
		int fd = badin_connect(b);
		raw_frame(fd, (uint32_t)m.len, m.data, m.len);
		badin_expect_plain_error(fd, CC_ERR_STATE);
	}
	buf_free(&m);
}

/* The same after a good CLIENT_HELLO, in the server's wait for CLIENT_KEY. */
static void row_every_type_second(struct badin *b)
{
	struct buf m;
	buf_init(&m, PROTO_FRAME_MAX_PREAUTH);
	for (size_t i = 0; i < NOT_FIRST_N; i++) {
		badin_corpus_msg(not_first[i], &m);
		int fd = hello_done(b);
		raw_frame(fd, (uint32_t)m.len, m.data, m.len);
		badin_expect_plain_error(fd, CC_ERR_STATE);
	}
	buf_free(&m);
}

/* ---- before the handshake: keys and points ------------------------------------ */

/* An ephemeral key of all zeros: a low-order point, whose shared secret is
 * all zeros too. The server answers the hello (its X25519 comes with
 * CLIENT_KEY: no work for a hello) and refuses at CLIENT_KEY. */
static void row_hello_zero_point(struct badin *b)
{
	struct buf f;
	uint8_t *frame;
	size_t len;
	hello_frame(&f, 0);
	int fd = badin_connect(b);
	badin_send(fd, f.data, f.len);
	buf_free(&f);
	assert_int_equal(itest_read_frame(fd, PROTO_FRAME_MAX_PREAUTH, &frame, &len,
					  ITEST_TIMEOUT_MS), 1);
	assert_int_equal(frame[PROTO_FRAME_HEADER_LEN], PROTO_SERVER_HELLO);
	free(frame);
	struct buf key;
	buf_init(&key, PROTO_FRAME_MAX_PREAUTH);
	badin_corpus_msg("client_key", &key);
	raw_frame(fd, (uint32_t)key.len, key.data, key.len);
	buf_free(&key);
	badin_expect_plain_error(fd, CC_ERR_AUTH);
}

/* A CLIENT_KEY whose RSA-OAEP block and sealed part are junk of the right
 * sizes. */
static void row_client_key_junk(struct badin *b)
{
	uint8_t ct[256], sealed[300];
	struct proto_msg m = {.type = PROTO_CLIENT_KEY};
	memset(ct, 0x42, sizeof ct);
	memset(sealed, 0x24, sizeof sealed);
	m.u.client_key.session_ct = (struct proto_bytes){ct, sizeof ct};
	m.u.client_key.sealed_auth = (struct proto_bytes){sealed, sizeof sealed};
	int fd = hello_done(b);
	badin_send_plain(fd, &m);
	badin_expect_plain_error(fd, CC_ERR_AUTH);
}

static void row_client_key_empty(struct badin *b)
{
	struct proto_msg m = {.type = PROTO_CLIENT_KEY};
	int fd = hello_done(b);
	badin_send_plain(fd, &m);
	badin_expect_plain_error(fd, CC_ERR_AUTH);
}

/* A CLIENT_KEY whose session_ct says 65535 bytes (over its cap of 512). */
static void row_client_key_oversized_field(struct badin *b)
{
	uint8_t body[1 + 2 + 600];
	memset(body, 0x11, sizeof body);
	body[0] = PROTO_CLIENT_KEY;
	store_be16(body + 1, 0xffff);
	int fd = hello_done(b);
	raw_frame(fd, sizeof body, body, sizeof body);
	badin_expect_plain_error(fd, CC_ERR_TOO_LARGE);
}

/* ---- truncated frames, then the peer goes ----------------------------------------- */

static void row_header_cut_then_fin(struct badin *b)
{
	const uint8_t hdr[3] = {0, 0, 0};
	int fd = badin_connect(b);
	badin_send(fd, hdr, sizeof hdr);
	shutdown(fd, SHUT_WR);
	badin_expect_closed(fd);
}

static void row_body_cut_then_fin(struct badin *b)
{
	struct buf f;
	hello_frame(&f, 9);
	int fd = badin_connect(b);
	badin_send(fd, f.data, f.len / 2);
	buf_free(&f);
	shutdown(fd, SHUT_WR);
	badin_expect_closed(fd);
}

/* ---- half-open: peers that vanish without a FIN ------------------------------------ */

static void row_rst_mid_handshake(struct badin *b)
{
	badin_reset(hello_done(b));
}

/* Authenticated, 300 PINGs in, and gone before reading a PONG. */
static void row_rst_with_output_queued(struct badin *b)
{
	struct ichan w;
	struct buf plain;
	badin_mallory(b, &w);
	buf_init(&plain, BADIN_MAX_FRAME);
	for (int i = 0; i < 300; i++) {
		assert_int_equal(buf_put_u32(&plain, 9), CC_OK);
		assert_int_equal(buf_put_u8(&plain, PROTO_PING), CC_OK);
		assert_int_equal(buf_put_u64(&plain, (uint64_t)i), CC_OK);
	}
	badin_post_plain(&w, plain.data, plain.len);
	buf_free(&plain);
	badin_reset(w.fd);
	w.fd = -1;
	ichan_close(&w);
}

/* bob's key, a ROOM_JOIN of his room, gone while the backlog goes out. */
static void row_rst_during_join(struct badin *b)
{
	struct ichan w;
	struct proto_msg m = {.type = PROTO_ROOM_JOIN};
	badin_as(b, &w, "bob");
	memcpy(m.u.room_ref.room_id, b->room_id, PROTO_ROOM_ID_LEN);
	ichan_request(&w, &m);
	badin_reset(w.fd);
	w.fd = -1;
	ichan_close(&w);
}

/* ---- slowloris ---------------------------------------------------------------------- */

/* A CLIENT_HELLO a byte every half second: the handshake timeout (2 s)
 * ends it long before the 73 bytes are in. */
static void row_slow_hello(struct badin *b)
{
	struct buf f;
	hello_frame(&f, 9);
	int fd = badin_connect(b);
	int64_t t0 = itest_now_ms();
	size_t i = 0;
	while (i < f.len && itest_now_ms() - t0 < itest_scale_ms(8000)) {
		if (send(fd, f.data + i, 1, MSG_NOSIGNAL) != 1)
			break;
		i++;
		sleep_ms(500);
	}
	size_t whole = f.len;
	buf_free(&f);
	assert_true(i < whole);  /* cut off after ~4 bytes (~40 under valgrind), not fed to the end */
	badin_expect_closed_within(fd, 0, 4000);
}

/* Half a CLIENT_HELLO, then nothing: closed at the handshake timeout. */
static void row_half_frame_held(struct badin *b)
{
	struct buf f;
	hello_frame(&f, 9);
	int fd = badin_connect(b);
	badin_send(fd, f.data, f.len / 2);
	buf_free(&f);
	badin_expect_closed_within(fd, BADIN_HANDSHAKE_TIMEOUT_S * 1000 - 200, 5000);
}

/* Authenticated, then a record announced and sent a byte every half second,
 * the server's PINGs never read: only whole frames count as activity, so
 * it is dropped at twice the idle timeout (4 s, on a 1 s tick). */
static void row_slow_record_after_auth(struct badin *b)
{
	struct ichan w;
	uint8_t hdr[PROTO_FRAME_HEADER_LEN];
	badin_mallory(b, &w);
	store_be32(hdr, 1000);
	badin_send(w.fd, hdr, sizeof hdr);
	int64_t t0 = itest_now_ms();
	int closed = 0;
	while (itest_now_ms() - t0 < itest_scale_ms(10000)) {
		uint8_t byte = 0x55;
		if (send(w.fd, &byte, 1, MSG_NOSIGNAL) != 1) {
			closed = 1;
			break;
		}
		struct pollfd p = {.fd = w.fd, .events = POLLRDHUP};
		if (poll(&p, 1, 500) == 1 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR))) {
			closed = 1;
			break;
		}
	}
	int64_t took = itest_now_ms() - t0;
	fprintf(stderr, "  slow record: dropped after %lld ms\n", (long long)took);
	assert_true(closed);
	assert_true(took >= 2 * BADIN_IDLE_TIMEOUT_S * 1000 - 200);
	w.fd = (close(w.fd), -1);
	ichan_close(&w);
}

/* Authenticated, half a record, then silence and no PONG. */
static void row_half_record_held(struct badin *b)
{
	struct ichan w;
	struct buf rec;
	struct proto_msg m = {.type = PROTO_PING};
	badin_mallory(b, &w);
	buf_init(&rec, 256);
	assert_int_equal(chan_send_msg(w.ch, &m, &rec), CC_OK);
	badin_send(w.fd, rec.data, rec.len / 2);
	buf_free(&rec);
	/* Its PINGs pile up unread; then the close. */
	assert_int_equal(itest_tcp_wait_closed(w.fd, itest_scale_ms(7000)), 1);
	w.fd = (close(w.fd), -1);
	ichan_close(&w);
}

/* ---- floods over the limits ------------------------------------------------------------ */

/* Silent connections up to --max-connections: the next is refused with
 * ERROR limit, and once the silent ones time out there is room again. */
static void row_connection_flood(struct badin *b)
{
	int fds[BADIN_MAX_CONNECTIONS];
	size_t n = 0;
	/* alice and bob hold two; a refused one is closed at once. */
	for (; n < BADIN_MAX_CONNECTIONS - 2; n++)
		fds[n] = badin_connect(b);
	int over = badin_connect(b);
	badin_expect_plain_error(over, CC_ERR_LIMIT);
	for (size_t i = 0; i < n; i++)
		badin_expect_closed_within(fds[i], 0, 5000);
	badin_expect_closed_within(hello_done(b), 0, 5000);  /* admitted again */
}

/* Inside a record, an inner frame announcing more than --max-frame. */
static void row_inner_frame_over_cap(struct badin *b)
{
	struct ichan w;
	uint8_t inner[PROTO_FRAME_HEADER_LEN + 9] = {0};
	badin_mallory(b, &w);
	store_be32(inner, BADIN_MAX_FRAME + 1);
	inner[PROTO_FRAME_HEADER_LEN] = PROTO_PING;
	badin_post_plain(&w, inner, sizeof inner);
	badin_expect_error_close(&w, CC_ERR_TOO_LARGE);
}

static void row_inner_frame_empty(struct badin *b)
{
	struct ichan w;
	uint8_t inner[PROTO_FRAME_HEADER_LEN] = {0};
	badin_mallory(b, &w);
	badin_post_plain(&w, inner, sizeof inner);
	badin_expect_error_close(&w, CC_ERR_MALFORMED);
}

/* An inner frame announcing 4 GiB - 1. */
static void row_inner_frame_huge(struct badin *b)
{
	struct ichan w;
	uint8_t inner[PROTO_FRAME_HEADER_LEN + 1] = {0xff, 0xff, 0xff, 0xff, PROTO_PING};
	badin_mallory(b, &w);
	badin_post_plain(&w, inner, sizeof inner);
	badin_expect_error_close(&w, CC_ERR_TOO_LARGE);
}

/* A member's session that joins a room and stops reading while another
 * fills the room with 16 KiB messages: once its queue passes --output-soft
 * the sender waits, and after --output-soft-seconds the stalled member is
 * dropped; the sender and everyone else go on (test_itest_flow has more). */
static void row_fanout_to_stalled_member(struct badin *b)
{
	struct ichan reader, sender;
	struct proto_msg m = {.type = PROTO_ROOM_JOIN};
	struct buf env;

	int fd = itest_tcp_connect_rcvbuf(b->f.port, 4096);
	assert_true(fd >= 0);
	struct crypto_rsa_key *bob_key = NULL;
	assert_int_equal(crypto_rsa_load_private_file(itest_path(b->bob_home, "identity.pem"),
						      &bob_key), CC_OK);
	ichan_handshake(&reader, fd, bob_key, "bob", NULL);
	memcpy(m.u.room_ref.room_id, b->flood_room_id, PROTO_ROOM_ID_LEN);
	uint32_t id = ichan_request(&reader, &m);
	ichan_answer(&reader, id, &m);
	assert_int_equal(m.type, PROTO_ROOM_STATE);
	uint32_t backlog = m.u.room_state.backlog;
	for (uint32_t i = 0; i < backlog; i++)
		assert_int_equal(ichan_next(&reader, &m, ITEST_TIMEOUT_MS), 1);
	assert_int_equal(ichan_next(&reader, &m, ITEST_TIMEOUT_MS), 1);
	assert_int_equal(m.type, PROTO_JOIN_DONE);
	/* Tell the server bob read all of it: the next join starts here. */
	/* From here on, reader reads nothing. */

	badin_as(b, &sender, "alice");
	buf_init(&env, PROTO_ENVELOPE_MAX);
	uint8_t *text = malloc(16000);
	assert_non_null(text);
	memset(text, 'x', 16000);
	int dropped = 0;
	for (int i = 0; i < 200 && !dropped; i++) {
		struct proto_envelope e = {0};
		e.version = PROTO_ENVELOPE_VERSION;
		memcpy(e.room_id, b->flood_room_id, PROTO_ROOM_ID_LEN);
		e.epoch = 1;
		e.sender = proto_bytes_str("alice");
		e.seq = ++b->counter + 1000000;
		e.time_ms = 1700000000000ull;
		e.ciphertext = (struct proto_bytes){text, 16000};
		buf_reset(&env);
		assert_int_equal(proto_envelope_encode(&e, &env), CC_OK);
		struct proto_msg s = {.type = PROTO_MSG_SEND};
		s.u.msg_send.envelope = (struct proto_bytes){env.data, env.len};
		id = ichan_request(&sender, &s);
		ichan_answer(&sender, id, &s);
		assert_int_equal(s.type, PROTO_SENT);
		struct pollfd p = {.fd = reader.fd, .events = POLLRDHUP};
		dropped = poll(&p, 1, 0) == 1 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR));
	}
	free(text);
	buf_free(&env);
	badin_ping(&sender);
	ichan_close(&sender);
	/* What it had queued, then the close. */
	assert_int_equal(itest_tcp_wait_closed(reader.fd, ITEST_TIMEOUT_MS), 1);
	ichan_close(&reader);
	crypto_rsa_free(bob_key);
	assert_true(itest_wait_file_contains(itest_server_log(b->f.srv),
					     "output over --output-soft too long", ITEST_TIMEOUT_MS));
}

/* ---- the table -------------------------------------------------------------------------- */

static const struct badin_row rows[] = {
	{"CLIENT_HELLO cut short, header honest", "truncated", row_hello_cut, false},
	{"CLIENT_HELLO and a trailing byte", "trailing", row_hello_trailing, false},
	{"a frame of the type byte alone", "truncated", row_type_byte_only, false},
	{"length 0x80000000 (negative as int32)", "negative length", row_negative_length, false},
	{"CLIENT_KEY before CLIENT_HELLO", "wrong state", row_client_key_first, false},
	{"CLIENT_HELLO twice", "wrong state", row_hello_twice, false},
	{"each other type as the first message", "wrong state", row_every_type_first, false},
	{"each other type instead of CLIENT_KEY", "wrong state", row_every_type_second, false},
	{"ephemeral key of zeros (low order)", "invalid point", row_hello_zero_point, false},
	{"CLIENT_KEY of junk, right sizes", "invalid key", row_client_key_junk, false},
	{"CLIENT_KEY with empty fields", "invalid key", row_client_key_empty, false},
	{"CLIENT_KEY field length 65535", "oversized length", row_client_key_oversized_field,
	 false},
	{"3 header bytes, then FIN", "truncated", row_header_cut_then_fin, false},
	{"half a CLIENT_HELLO, then FIN", "truncated", row_body_cut_then_fin, false},
	{"RST after SERVER_HELLO", "half-open", row_rst_mid_handshake, false},
	{"RST with 300 PONGs queued", "half-open", row_rst_with_output_queued, false},
	{"RST during a join's backlog", "half-open", row_rst_during_join, false},
	{"inner frame over --max-frame", "oversized length", row_inner_frame_over_cap, false},
	{"inner frame of length 0", "truncated", row_inner_frame_empty, false},
	{"inner frame of 4 GiB - 1", "oversized length", row_inner_frame_huge, false},
	{"CLIENT_HELLO a byte per 0.5 s", "slowloris", row_slow_hello, true},
	{"half a CLIENT_HELLO, held open", "slowloris", row_half_frame_held, true},
	{"a record a byte per 0.5 s after auth", "slowloris", row_slow_record_after_auth, true},
	{"half a record, held, PINGs unread", "half-open", row_half_record_held, true},
	{"silent connections over the cap", "flood", row_connection_flood, true},
	{"fan-out to a member that stopped reading", "flood", row_fanout_to_stalled_member,
	 true},
};

static void test_bad_input(void **state)
{
	struct badin b;
	(void)state;
	badin_start(&b, "bad-input");
	size_t n = badin_run_table(&b, rows, sizeof rows / sizeof rows[0], REPS);
	fprintf(stderr, "%zu rows (%zu distinct inputs)\n", n,
		n - 2 + 2 * NOT_FIRST_N);
	badin_stop(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_bad_input, itest_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
