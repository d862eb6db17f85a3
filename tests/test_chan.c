/* The secure channel in memory: a client chan and a server chan pass frames
 * to each other with no sockets. The handshake, data both ways, records split
 * and batched, and the attacks the channel exists to stop: tampered, replayed,
 * reordered, dropped and reflected records, a tampered or replayed CLIENT_KEY,
 * a wrong version, a substituted server key, data before the handshake. Every
 * frame is fed from a heap block of exactly its size so ASan sees over-reads. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "crypto/rng_test.h"
#include "proto/frame.h"
#include "proto/msg.h"
#include "transport/chan.h"
#include "util/buf.h"

#define MAX_FRAME PROTO_FRAME_MAX_DEFAULT
#define MAX_FRAMES 64

static struct crypto_rsa_key *server_key, *client_key;
static uint8_t server_fp[CRYPTO_FINGERPRINT_LEN], client_fp[CRYPTO_FINGERPRINT_LEN];

static int group_setup(void **state)
{
	(void)state;
	char path[1024];
	if (crypto_init() != CC_OK)
		return -1;
	snprintf(path, sizeof path, "%s/tests/data/example_server_key.pem", CC_SOURCE_DIR);
	if (crypto_rsa_load_private_file(path, &server_key) != CC_OK)
		return -1;
	snprintf(path, sizeof path, "%s/tests/data/example_client_key.pem", CC_SOURCE_DIR);
	if (crypto_rsa_load_private_file(path, &client_key) != CC_OK)
		return -1;
	if (crypto_rsa_fingerprint(server_key, server_fp) != CC_OK ||
	    crypto_rsa_fingerprint(client_key, client_fp) != CC_OK)
		return -1;
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	crypto_rsa_free(server_key);
	crypto_rsa_free(client_key);
	return 0;
}

/* A test that seeds the test RNG must not leave it seeded if it fails. */
static int rng_teardown(void **state)
{
	(void)state;
	crypto_test_rng_restore();
	return 0;
}

/* Whole frames copied out of a wire buffer, one heap block each. */
struct frames {
	size_t count;
	uint8_t *data[MAX_FRAMES];
	size_t len[MAX_FRAMES];
};

static void frames_take(struct buf *wire, size_t cap, struct frames *f)
{
	size_t off = 0, body;
	memset(f, 0, sizeof *f);
	while (off < wire->len) {
		assert_int_equal(proto_frame_peek(wire->data + off, wire->len - off, cap, &body),
				 CC_OK);
		assert_true(f->count < MAX_FRAMES);
		size_t n = PROTO_FRAME_HEADER_LEN + body;
		f->data[f->count] = malloc(n);
		assert_non_null(f->data[f->count]);
		memcpy(f->data[f->count], wire->data + off, n);
		f->len[f->count++] = n;
		off += n;
	}
	buf_reset(wire);
}

static void frames_free(struct frames *f)
{
	for (size_t i = 0; i < f->count; i++)
		free(f->data[i]);
	memset(f, 0, sizeof *f);
}

static cc_err feed(struct chan *ch, const uint8_t *frame, size_t len, struct buf *reply,
		   enum chan_event *ev)
{
	uint8_t *copy = malloc(len ? len : 1);
	assert_non_null(copy);
	if (len)
		memcpy(copy, frame, len);
	cc_err err = chan_recv_frame(ch, copy, len, reply, ev);
	free(copy);
	return err;
}

/* Delivers every frame in wire; each must be accepted. Returns the last event. */
static enum chan_event deliver(struct chan *to, struct buf *wire, struct buf *reply)
{
	struct frames f;
	enum chan_event ev, last = CHAN_EVENT_NONE;
	frames_take(wire, chan_frame_cap(to), &f);
	for (size_t i = 0; i < f.count; i++) {
		cc_err err = feed(to, f.data[i], f.len[i], reply, &ev);
		if (err != CC_OK)
			fail_msg("frame %zu/%zu refused: %s", i, f.count, cc_err_code(err));
		last = ev;
	}
	frames_free(&f);
	return last;
}

struct pair {
	struct chan *c, *s;
	struct buf c2s, s2c;  /* bytes in flight each way */
};

static void pair_new(struct pair *p, const struct crypto_rsa_key *skey)
{
	memset(p, 0, sizeof *p);
	buf_init(&p->c2s, 0);
	buf_init(&p->s2c, 0);
	assert_int_equal(chan_client_new(client_key, "alice", MAX_FRAME, &p->c), CC_OK);
	assert_int_equal(chan_server_new(skey, MAX_FRAME, &p->s), CC_OK);
}

static void pair_handshake(struct pair *p)
{
	assert_int_equal(chan_client_start(p->c, &p->c2s), CC_OK);
	assert_int_equal(deliver(p->s, &p->c2s, &p->s2c), CHAN_EVENT_NONE);
	assert_int_equal(deliver(p->c, &p->s2c, &p->c2s), CHAN_EVENT_SERVER_KEY);
	assert_int_equal(chan_client_continue(p->c, &p->c2s), CC_OK);
	assert_int_equal(deliver(p->s, &p->c2s, &p->s2c), CHAN_EVENT_OPEN);
	assert_int_equal(p->s2c.len, 0);
}

static void pair_open(struct pair *p)
{
	pair_new(p, server_key);
	pair_handshake(p);
}

static void pair_free(struct pair *p)
{
	chan_free(p->c);
	chan_free(p->s);
	buf_free(&p->c2s);
	buf_free(&p->s2c);
}

static void send_ping(struct chan *ch, uint64_t token, struct buf *wire)
{
	struct proto_msg m = {.type = PROTO_PING};
	m.u.ping.token = token;
	assert_int_equal(chan_send_msg(ch, &m, wire), CC_OK);
}

static void expect_ping(struct chan *ch, uint64_t token)
{
	const uint8_t *body;
	size_t len;
	struct proto_msg m;
	assert_int_equal(chan_pop_frame(ch, &body, &len), CC_OK);
	assert_int_equal(proto_msg_decode(body, len, &m), CC_OK);
	assert_int_equal(m.type, PROTO_PING);
	assert_true(m.u.ping.token == token);
}

static void expect_no_frame(struct chan *ch)
{
	const uint8_t *body;
	size_t len;
	assert_int_equal(chan_pop_frame(ch, &body, &len), CC_ERR_TRUNCATED);
}

/* After an error the channel is dead: frames, sends and the handshake calls
 * are all refused. */
static void assert_dead(struct chan *ch, const uint8_t *frame, size_t len)
{
	struct buf wire;
	enum chan_event ev;
	uint8_t one = 'x';
	buf_init(&wire, 0);
	assert_false(chan_is_open(ch));
	if (frame)
		assert_int_not_equal(feed(ch, frame, len, &wire, &ev), CC_OK);
	assert_int_equal(chan_send(ch, &one, 1, &wire), CC_ERR_STATE);
	assert_int_equal(chan_client_start(ch, &wire), CC_ERR_STATE);
	assert_int_equal(chan_client_continue(ch, &wire), CC_ERR_STATE);
	buf_free(&wire);
}

/* wire must hold exactly one plaintext ERROR frame with the given code. */
static void expect_plain_error(struct buf *wire, cc_err code)
{
	struct frames f;
	struct proto_msg m;
	frames_take(wire, PROTO_FRAME_MAX_PREAUTH, &f);
	assert_int_equal(f.count, 1);
	assert_int_equal(proto_msg_decode(f.data[0] + 4, f.len[0] - 4, &m), CC_OK);
	assert_int_equal(m.type, PROTO_ERROR);
	assert_int_equal(m.u.error.code, code);
	frames_free(&f);
}

/* ---- the handshake ---- */

static void test_handshake(void **state)
{
	(void)state;
	struct pair p;
	struct frames f;
	struct proto_msg m;
	enum chan_event ev;
	size_t der_len;

	pair_new(&p, server_key);
	assert_false(chan_is_open(p.c));
	assert_false(chan_is_open(p.s));
	assert_int_equal(chan_frame_cap(p.s), PROTO_FRAME_MAX_PREAUTH);

	/* CLIENT_HELLO: one frame, a valid message. */
	assert_int_equal(chan_client_start(p.c, &p.c2s), CC_OK);
	assert_int_equal(chan_client_start(p.c, &p.c2s), CC_ERR_STATE);
	frames_take(&p.c2s, PROTO_FRAME_MAX_PREAUTH, &f);
	assert_int_equal(f.count, 1);
	assert_int_equal(proto_msg_decode(f.data[0] + 4, f.len[0] - 4, &m), CC_OK);
	assert_int_equal(m.type, PROTO_CLIENT_HELLO);
	assert_int_equal(m.u.client_hello.version, PROTO_VERSION);
	assert_int_equal(feed(p.s, f.data[0], f.len[0], &p.s2c, &ev), CC_OK);
	assert_int_equal(ev, CHAN_EVENT_NONE);
	frames_free(&f);

	/* SERVER_HELLO: the server's key, which the client reports before going on. */
	frames_take(&p.s2c, PROTO_FRAME_MAX_PREAUTH, &f);
	assert_int_equal(f.count, 1);
	assert_int_equal(proto_msg_decode(f.data[0] + 4, f.len[0] - 4, &m), CC_OK);
	assert_int_equal(m.type, PROTO_SERVER_HELLO);
	assert_int_equal(feed(p.c, f.data[0], f.len[0], &p.c2s, &ev), CC_OK);
	assert_int_equal(ev, CHAN_EVENT_SERVER_KEY);
	assert_int_equal(p.c2s.len, 0);
	frames_free(&f);
	assert_memory_equal(chan_peer_fingerprint(p.c), server_fp, CRYPTO_FINGERPRINT_LEN);
	const uint8_t *der = chan_peer_key_der(p.c, &der_len);
	struct buf want_der;
	buf_init(&want_der, 0);
	assert_int_equal(crypto_rsa_public_to_der(server_key, &want_der), CC_OK);
	assert_int_equal(der_len, want_der.len);
	assert_memory_equal(der, want_der.data, der_len);
	buf_free(&want_der);
	assert_non_null(chan_peer_key(p.c));
	assert_false(chan_is_open(p.c));
	assert_false(chan_peer_proven(p.c));

	/* CLIENT_KEY: the server opens and knows who the client is. */
	assert_int_equal(chan_client_continue(p.c, &p.c2s), CC_OK);
	assert_int_equal(chan_client_continue(p.c, &p.c2s), CC_ERR_STATE);
	assert_true(chan_is_open(p.c));
	assert_false(chan_peer_proven(p.c));
	assert_int_equal(deliver(p.s, &p.c2s, &p.s2c), CHAN_EVENT_OPEN);
	assert_int_equal(p.s2c.len, 0);
	assert_true(chan_is_open(p.s));
	assert_int_equal(chan_frame_cap(p.s), MAX_FRAME);
	assert_string_equal(chan_peer_nick(p.s), "alice");
	assert_memory_equal(chan_peer_fingerprint(p.s), client_fp, CRYPTO_FINGERPRINT_LEN);
	assert_non_null(chan_peer_key(p.s));

	/* The first record from the server proves it holds its RSA key. */
	memset(&m, 0, sizeof m);
	m.type = PROTO_WELCOME;
	m.u.welcome.nick = proto_bytes_str(chan_peer_nick(p.s));
	memcpy(m.u.welcome.fingerprint, chan_peer_fingerprint(p.s), PROTO_FINGERPRINT_LEN);
	m.u.welcome.server_time_ms = 1234;
	m.u.welcome.max_frame = MAX_FRAME;
	assert_int_equal(chan_send_msg(p.s, &m, &p.s2c), CC_OK);
	assert_int_equal(deliver(p.c, &p.s2c, &p.c2s), CHAN_EVENT_DATA);
	assert_true(chan_peer_proven(p.c));
	const uint8_t *body;
	size_t len;
	assert_int_equal(chan_pop_frame(p.c, &body, &len), CC_OK);
	assert_int_equal(proto_msg_decode(body, len, &m), CC_OK);
	assert_int_equal(m.type, PROTO_WELCOME);
	assert_int_equal(m.u.welcome.nick.len, 5);
	assert_memory_equal(m.u.welcome.nick.p, "alice", 5);
	assert_memory_equal(m.u.welcome.fingerprint, client_fp, PROTO_FINGERPRINT_LEN);
	assert_int_equal(m.u.welcome.max_frame, MAX_FRAME);
	expect_no_frame(p.c);
	pair_free(&p);
}

static void test_chan_new_args(void **state)
{
	(void)state;
	struct chan *ch = NULL;
	assert_int_equal(chan_client_new(client_key, "", MAX_FRAME, &ch), CC_ERR_BAD_NICK);
	assert_int_equal(chan_client_new(client_key, "a b", MAX_FRAME, &ch), CC_ERR_BAD_NICK);
	assert_int_equal(chan_client_new(client_key, "abcdefghijklmnopqrstuvwxyz0123456", MAX_FRAME,
					 &ch), CC_ERR_BAD_NICK);
	assert_int_equal(chan_client_new(client_key, "alice", PROTO_FRAME_MAX_PREAUTH - 1, &ch),
			 CC_ERR_USAGE);
	assert_int_equal(chan_server_new(server_key, PROTO_FRAME_MAX_LIMIT + 1, &ch),
			 CC_ERR_USAGE);
	assert_null(ch);
	chan_free(NULL);
	/* The server side has no client calls. */
	struct buf wire;
	buf_init(&wire, 0);
	assert_int_equal(chan_server_new(server_key, MAX_FRAME, &ch), CC_OK);
	assert_int_equal(chan_client_start(ch, &wire), CC_ERR_STATE);
	assert_int_equal(chan_client_continue(ch, &wire), CC_ERR_STATE);
	assert_int_equal(wire.len, 0);
	chan_free(ch);
	buf_free(&wire);
}

/* ---- data ---- */

static void test_data_both_directions(void **state)
{
	(void)state;
	struct pair p;
	pair_open(&p);
	for (uint64_t round = 0; round < 5; round++) {
		send_ping(p.c, 100 + round, &p.c2s);
		assert_int_equal(deliver(p.s, &p.c2s, &p.s2c), CHAN_EVENT_DATA);
		expect_ping(p.s, 100 + round);
		expect_no_frame(p.s);
		send_ping(p.s, 200 + round, &p.s2c);
		send_ping(p.s, 300 + round, &p.s2c);
		assert_int_equal(deliver(p.c, &p.s2c, &p.c2s), CHAN_EVENT_DATA);
		expect_ping(p.c, 200 + round);
		expect_ping(p.c, 300 + round);
		expect_no_frame(p.c);
	}
	/* Raw runs of inner frames too. */
	static const uint8_t raw[] = {0, 0, 0, 3, 'a', 'b', 'c'};
	const uint8_t *body;
	size_t len;
	assert_int_equal(chan_send(p.c, raw, sizeof raw, &p.c2s), CC_OK);
	assert_int_equal(deliver(p.s, &p.c2s, &p.s2c), CHAN_EVENT_DATA);
	assert_int_equal(chan_pop_frame(p.s, &body, &len), CC_OK);
	assert_int_equal(len, 3);
	assert_memory_equal(body, "abc", 3);
	/* Sending nothing writes nothing. */
	assert_int_equal(chan_send(p.c, raw, 0, &p.c2s), CC_OK);
	assert_int_equal(p.c2s.len, 0);
	pair_free(&p);
}

/* One inner frame of len body bytes whose content depends on seed. */
static uint8_t *big_frame(size_t len, uint8_t seed)
{
	uint8_t *f = malloc(PROTO_FRAME_HEADER_LEN + len);
	assert_non_null(f);
	store_be32(f, (uint32_t)len);
	for (size_t i = 0; i < len; i++)
		f[PROTO_FRAME_HEADER_LEN + i] = (uint8_t)(i * 7 + seed);
	return f;
}

static void expect_big_frame(struct chan *ch, size_t len, uint8_t seed)
{
	const uint8_t *body;
	size_t n;
	uint8_t *want = big_frame(len, seed);
	assert_int_equal(chan_pop_frame(ch, &body, &n), CC_OK);
	assert_int_equal(n, len);
	assert_memory_equal(body, want + PROTO_FRAME_HEADER_LEN, len);
	free(want);
}

static void test_large_message_split(void **state)
{
	(void)state;
	struct pair p;
	struct frames f;
	enum chan_event ev;
	const size_t body_len = 200000;
	uint8_t *msg = big_frame(body_len, 1);

	pair_open(&p);
	/* Until the client learns the server's cap, records stay pre-auth sized. */
	assert_int_equal(chan_send(p.c, msg, PROTO_FRAME_HEADER_LEN + body_len, &p.c2s), CC_OK);
	frames_take(&p.c2s, MAX_FRAME, &f);
	assert_true(f.count >= 4);
	for (size_t i = 0; i < f.count; i++) {
		assert_true(f.len[i] - PROTO_FRAME_HEADER_LEN <= PROTO_FRAME_MAX_PREAUTH);
		assert_int_equal(feed(p.s, f.data[i], f.len[i], &p.s2c, &ev), CC_OK);
		assert_int_equal(ev, CHAN_EVENT_DATA);
		/* Nothing comes out until the last piece is in. */
		if (i + 1 < f.count)
			expect_no_frame(p.s);
	}
	expect_big_frame(p.s, body_len, 1);
	expect_no_frame(p.s);
	frames_free(&f);

	/* The other way, the same. */
	uint8_t *back = big_frame(150001, 2);
	assert_int_equal(chan_send(p.s, back, PROTO_FRAME_HEADER_LEN + 150001, &p.s2c), CC_OK);
	assert_int_equal(deliver(p.c, &p.s2c, &p.c2s), CHAN_EVENT_DATA);
	expect_big_frame(p.c, 150001, 2);
	expect_no_frame(p.c);
	free(back);

	/* Once the cap is raised, the same message is one record. */
	chan_set_send_cap(p.c, MAX_FRAME);
	assert_int_equal(chan_send(p.c, msg, PROTO_FRAME_HEADER_LEN + body_len, &p.c2s), CC_OK);
	frames_take(&p.c2s, MAX_FRAME, &f);
	assert_int_equal(f.count, 1);
	assert_int_equal(feed(p.s, f.data[0], f.len[0], &p.s2c, &ev), CC_OK);
	expect_big_frame(p.s, body_len, 1);
	frames_free(&f);
	/* A cap out of range is ignored. */
	chan_set_send_cap(p.c, 1);
	chan_set_send_cap(p.c, PROTO_FRAME_MAX_LIMIT + 1);
	assert_int_equal(chan_send(p.c, msg, PROTO_FRAME_HEADER_LEN + body_len, &p.c2s), CC_OK);
	frames_take(&p.c2s, MAX_FRAME, &f);
	assert_int_equal(f.count, 1);
	frames_free(&f);
	free(msg);
	pair_free(&p);
}

static void test_many_frames_one_record(void **state)
{
	(void)state;
	struct pair p;
	struct buf plain;
	struct frames f;
	enum chan_event ev;
	const size_t count = 200;

	pair_open(&p);
	buf_init(&plain, 0);
	for (size_t i = 0; i < count; i++) {
		uint8_t body[1 + 8];
		body[0] = PROTO_PING;
		store_be64(body + 1, 1000 + i);
		assert_int_equal(proto_frame_put(&plain, body, sizeof body), CC_OK);
	}
	assert_int_equal(chan_send(p.c, plain.data, plain.len, &p.c2s), CC_OK);
	frames_take(&p.c2s, MAX_FRAME, &f);
	assert_int_equal(f.count, 1);
	assert_int_equal(feed(p.s, f.data[0], f.len[0], &p.s2c, &ev), CC_OK);
	assert_int_equal(ev, CHAN_EVENT_DATA);
	for (size_t i = 0; i < count; i++)
		expect_ping(p.s, 1000 + i);
	expect_no_frame(p.s);
	frames_free(&f);

	/* A frame cut across two records comes out once both are in. */
	assert_int_equal(chan_send(p.c, plain.data, 7, &p.c2s), CC_OK);
	assert_int_equal(deliver(p.s, &p.c2s, &p.s2c), CHAN_EVENT_DATA);
	expect_no_frame(p.s);
	assert_int_equal(chan_send(p.c, plain.data + 7, 13 + 5, &p.c2s), CC_OK);
	assert_int_equal(deliver(p.s, &p.c2s, &p.s2c), CHAN_EVENT_DATA);
	expect_ping(p.s, 1000);
	expect_no_frame(p.s);
	/* The 5 bytes of the next frame are still waiting for the rest. */
	assert_int_equal(chan_send(p.c, plain.data + 25, plain.len - 25, &p.c2s), CC_OK);
	assert_int_equal(deliver(p.s, &p.c2s, &p.s2c), CHAN_EVENT_DATA);
	for (size_t i = 1; i < count; i++)
		expect_ping(p.s, 1000 + i);
	expect_no_frame(p.s);
	buf_free(&plain);
	pair_free(&p);
}

/* Inner frames obey the receiver's cap and may not be empty. */
static void test_inner_frame_bad(void **state)
{
	(void)state;
	const uint8_t *body;
	size_t len;
	uint8_t hdr[4];

	struct pair p;
	pair_open(&p);
	store_be32(hdr, MAX_FRAME + 1);
	assert_int_equal(chan_send(p.c, hdr, sizeof hdr, &p.c2s), CC_OK);
	assert_int_equal(deliver(p.s, &p.c2s, &p.s2c), CHAN_EVENT_DATA);
	assert_int_equal(chan_pop_frame(p.s, &body, &len), CC_ERR_TOO_LARGE);
	pair_free(&p);

	pair_open(&p);
	store_be32(hdr, 0);
	assert_int_equal(chan_send(p.c, hdr, sizeof hdr, &p.c2s), CC_OK);
	assert_int_equal(deliver(p.s, &p.c2s, &p.s2c), CHAN_EVENT_DATA);
	assert_int_equal(chan_pop_frame(p.s, &body, &len), CC_ERR_MALFORMED);
	pair_free(&p);
}

/* ---- attacks on records ---- */

/* An open pair and three client records in flight, PINGs 0, 1, 2. */
static void pair_three_records(struct pair *p, struct frames *f)
{
	pair_open(p);
	for (uint64_t i = 0; i < 3; i++)
		send_ping(p->c, i, &p->c2s);
	frames_take(&p->c2s, MAX_FRAME, f);
	assert_int_equal(f->count, 3);
}

static void test_attack_bitflip(void **state)
{
	(void)state;
	struct pair p;
	struct frames f;
	enum chan_event ev;

	pair_three_records(&p, &f);
	size_t rec_len = f.len[0];
	pair_free(&p);
	frames_free(&f);
	for (size_t i = 0; i < rec_len; i++) {
		for (unsigned bit = 0; bit < 8; bit++) {
			pair_three_records(&p, &f);
			uint8_t *bad = malloc(rec_len);
			assert_non_null(bad);
			memcpy(bad, f.data[0], rec_len);
			bad[i] ^= (uint8_t)(1u << bit);
			cc_err err = feed(p.s, bad, rec_len, &p.s2c, &ev);
			/* The header is the AAD but also the framing: a changed
			 * length no longer matches the frame. Anything else is the tag. */
			if (i >= PROTO_FRAME_HEADER_LEN)
				assert_int_equal(err, CC_ERR_AUTH);
			else
				assert_int_not_equal(err, CC_OK);
			assert_int_equal(p.s2c.len, 0);
			expect_no_frame(p.s);
			assert_dead(p.s, f.data[0], f.len[0]);
			free(bad);
			frames_free(&f);
			pair_free(&p);
		}
	}
}

static void test_attack_replay(void **state)
{
	(void)state;
	struct pair p;
	struct frames f;
	enum chan_event ev;

	pair_three_records(&p, &f);
	assert_int_equal(feed(p.s, f.data[0], f.len[0], &p.s2c, &ev), CC_OK);
	expect_ping(p.s, 0);
	assert_int_equal(feed(p.s, f.data[0], f.len[0], &p.s2c, &ev), CC_ERR_AUTH);
	expect_no_frame(p.s);
	assert_dead(p.s, f.data[1], f.len[1]);
	frames_free(&f);
	pair_free(&p);
}

static void test_attack_reorder(void **state)
{
	(void)state;
	struct pair p;
	struct frames f;
	enum chan_event ev;

	/* The second record first. */
	pair_three_records(&p, &f);
	assert_int_equal(feed(p.s, f.data[1], f.len[1], &p.s2c, &ev), CC_ERR_AUTH);
	assert_dead(p.s, f.data[0], f.len[0]);
	frames_free(&f);
	pair_free(&p);

	/* Two records swapped after a good one. */
	pair_three_records(&p, &f);
	assert_int_equal(feed(p.s, f.data[0], f.len[0], &p.s2c, &ev), CC_OK);
	expect_ping(p.s, 0);
	assert_int_equal(feed(p.s, f.data[2], f.len[2], &p.s2c, &ev), CC_ERR_AUTH);
	expect_no_frame(p.s);
	assert_dead(p.s, f.data[1], f.len[1]);
	frames_free(&f);
	pair_free(&p);
}

static void test_attack_drop(void **state)
{
	(void)state;
	struct pair p;
	struct frames f;
	enum chan_event ev;

	pair_three_records(&p, &f);
	assert_int_equal(feed(p.s, f.data[0], f.len[0], &p.s2c, &ev), CC_OK);
	expect_ping(p.s, 0);
	/* Record 1 never arrives: record 2 fails. */
	assert_int_equal(feed(p.s, f.data[2], f.len[2], &p.s2c, &ev), CC_ERR_AUTH);
	expect_no_frame(p.s);
	assert_dead(p.s, f.data[2], f.len[2]);
	frames_free(&f);
	pair_free(&p);
}

static void test_attack_reflect(void **state)
{
	(void)state;
	struct pair p;
	struct frames f;
	enum chan_event ev;

	/* The server's own record sent back to it: same counter, other key. */
	pair_open(&p);
	send_ping(p.s, 7, &p.s2c);
	frames_take(&p.s2c, MAX_FRAME, &f);
	assert_int_equal(feed(p.s, f.data[0], f.len[0], &p.s2c, &ev), CC_ERR_AUTH);
	assert_dead(p.s, NULL, 0);
	/* The client still takes it. */
	assert_int_equal(feed(p.c, f.data[0], f.len[0], &p.c2s, &ev), CC_OK);
	expect_ping(p.c, 7);
	frames_free(&f);
	pair_free(&p);

	/* And the client's record back to the client. */
	pair_open(&p);
	send_ping(p.c, 8, &p.c2s);
	frames_take(&p.c2s, MAX_FRAME, &f);
	assert_int_equal(feed(p.c, f.data[0], f.len[0], &p.c2s, &ev), CC_ERR_AUTH);
	assert_dead(p.c, NULL, 0);
	frames_free(&f);
	pair_free(&p);
}

static void test_attack_cross_session(void **state)
{
	(void)state;
	struct pair a, b;
	struct frames f;
	enum chan_event ev;

	/* A record of another session, same counter, same keys' owners. */
	pair_open(&a);
	pair_open(&b);
	send_ping(a.c, 1, &a.c2s);
	frames_take(&a.c2s, MAX_FRAME, &f);
	assert_int_equal(feed(b.s, f.data[0], f.len[0], &b.s2c, &ev), CC_ERR_AUTH);
	assert_dead(b.s, NULL, 0);
	frames_free(&f);

	/* Shorter than a tag; a frame that is not exactly one frame. */
	static const uint8_t tiny[] = {0, 0, 0, 15, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13,
				       14, 15};
	assert_int_equal(feed(a.s, tiny, sizeof tiny, &a.s2c, &ev), CC_ERR_MALFORMED);
	assert_dead(a.s, NULL, 0);
	pair_free(&a);
	pair_free(&b);

	pair_open(&a);
	send_ping(a.c, 1, &a.c2s);
	assert_int_equal(buf_put_u8(&a.c2s, 0), CC_OK);
	assert_int_equal(feed(a.s, a.c2s.data, a.c2s.len, &a.s2c, &ev), CC_ERR_TRAILING);
	assert_dead(a.s, NULL, 0);
	pair_free(&a);
}

/* ---- attacks on the handshake ---- */

static const uint8_t flip_seed[] = "test_chan CLIENT_KEY bit flips";

/* A server that replays the same random draws (so the same SERVER_HELLO)
 * takes hello, then ck. Returns the verdict on ck; reply gets what the
 * server wrote after the hello. */
static cc_err server_replay(const uint8_t *hello, size_t hello_len, const struct buf *sh_want,
			    const uint8_t *ck, size_t ck_len, struct buf *reply,
			    enum chan_event *ev)
{
	struct chan *s;
	crypto_test_rng_seed(flip_seed, sizeof flip_seed);
	assert_int_equal(chan_server_new(server_key, MAX_FRAME, &s), CC_OK);
	buf_reset(reply);
	assert_int_equal(feed(s, hello, hello_len, reply, ev), CC_OK);
	if (sh_want) {
		assert_int_equal(reply->len, sh_want->len);
		assert_memory_equal(reply->data, sh_want->data, sh_want->len);
	}
	buf_reset(reply);
	cc_err err = feed(s, ck, ck_len, reply, ev);
	crypto_test_rng_restore();
	if (err)
		assert_dead(s, NULL, 0);
	chan_free(s);
	return err;
}

static void test_handshake_client_key_bitflip(void **state)
{
	(void)state;
	struct chan *c, *s;
	struct buf wire, sh, reply;
	struct frames hello, ck;
	struct proto_msg m;
	enum chan_event ev;

	buf_init(&wire, 0);
	buf_init(&sh, 0);
	buf_init(&reply, 0);
	assert_int_equal(chan_client_new(client_key, "alice", MAX_FRAME, &c), CC_OK);
	assert_int_equal(chan_client_start(c, &wire), CC_OK);
	frames_take(&wire, PROTO_FRAME_MAX_PREAUTH, &hello);
	crypto_test_rng_seed(flip_seed, sizeof flip_seed);
	assert_int_equal(chan_server_new(server_key, MAX_FRAME, &s), CC_OK);
	assert_int_equal(feed(s, hello.data[0], hello.len[0], &sh, &ev), CC_OK);
	crypto_test_rng_restore();
	chan_free(s);
	assert_int_equal(chan_recv_frame(c, sh.data, sh.len, &wire, &ev), CC_OK);
	assert_int_equal(ev, CHAN_EVENT_SERVER_KEY);
	assert_int_equal(chan_client_continue(c, &wire), CC_OK);
	frames_take(&wire, PROTO_FRAME_MAX_PREAUTH, &ck);
	assert_int_equal(ck.count, 1);
	chan_free(c);

	/* Unchanged, it opens a replaying server: the harness is sound. */
	assert_int_equal(server_replay(hello.data[0], hello.len[0], &sh, ck.data[0], ck.len[0],
				       &reply, &ev), CC_OK);
	assert_int_equal(ev, CHAN_EVENT_OPEN);

	/* Where the two payloads are: flips there must fail the crypto (CC_ERR_AUTH);
	 * flips in the framing (lengths, type) fail to parse first. */
	const uint8_t *frame = ck.data[0];
	size_t len = ck.len[0];
	assert_int_equal(proto_msg_decode(frame + 4, len - 4, &m), CC_OK);
	size_t ct_start = (size_t)(m.u.client_key.session_ct.p - frame);
	size_t ct_end = ct_start + m.u.client_key.session_ct.len;
	size_t seal_start = (size_t)(m.u.client_key.sealed_auth.p - frame);
	assert_int_equal(seal_start + m.u.client_key.sealed_auth.len, len);

	uint8_t *bad = malloc(len);
	assert_non_null(bad);
	size_t auth_count = 0;
	for (size_t i = 0; i < len; i++) {
		for (unsigned bit = 0; bit < 8; bit++) {
			memcpy(bad, frame, len);
			bad[i] ^= (uint8_t)(1u << bit);
			cc_err err = server_replay(hello.data[0], hello.len[0], NULL, bad, len,
						   &reply, &ev);
			int payload = (i >= ct_start && i < ct_end) || i >= seal_start;
			if (payload && err != CC_ERR_AUTH)
				fail_msg("byte %zu bit %u: %s", i, bit, cc_err_code(err));
			if (err == CC_OK)
				fail_msg("byte %zu bit %u accepted", i, bit);
			auth_count += err == CC_ERR_AUTH;
			/* The server says why, in plaintext, and nothing else. */
			expect_plain_error(&reply, err);
		}
	}
	assert_true(auth_count >= 8 * (len - 11));
	free(bad);
	frames_free(&hello);
	frames_free(&ck);
	buf_free(&wire);
	buf_free(&sh);
	buf_free(&reply);
}

static void test_handshake_client_key_replay(void **state)
{
	(void)state;
	struct pair p;
	struct frames hello, ck;
	struct chan *s2;
	struct buf reply;
	enum chan_event ev;

	/* Record a whole good handshake. */
	pair_new(&p, server_key);
	assert_int_equal(chan_client_start(p.c, &p.c2s), CC_OK);
	frames_take(&p.c2s, PROTO_FRAME_MAX_PREAUTH, &hello);
	assert_int_equal(feed(p.s, hello.data[0], hello.len[0], &p.s2c, &ev), CC_OK);
	assert_int_equal(deliver(p.c, &p.s2c, &p.c2s), CHAN_EVENT_SERVER_KEY);
	assert_int_equal(chan_client_continue(p.c, &p.c2s), CC_OK);
	frames_take(&p.c2s, PROTO_FRAME_MAX_PREAUTH, &ck);
	assert_int_equal(feed(p.s, ck.data[0], ck.len[0], &p.s2c, &ev), CC_OK);
	assert_int_equal(ev, CHAN_EVENT_OPEN);

	/* Replay both client messages into a second server: its fresh ephemeral
	 * key and random change the transcript, so CLIENT_KEY no longer opens. */
	buf_init(&reply, 0);
	assert_int_equal(chan_server_new(server_key, MAX_FRAME, &s2), CC_OK);
	assert_int_equal(feed(s2, hello.data[0], hello.len[0], &reply, &ev), CC_OK);
	buf_reset(&reply);
	assert_int_equal(feed(s2, ck.data[0], ck.len[0], &reply, &ev), CC_ERR_AUTH);
	expect_plain_error(&reply, CC_ERR_AUTH);
	assert_dead(s2, ck.data[0], ck.len[0]);
	chan_free(s2);

	/* And into the first server again, now open: it is not a record. */
	assert_int_not_equal(feed(p.s, ck.data[0], ck.len[0], &p.s2c, &ev), CC_OK);
	assert_int_equal(p.s2c.len, 0);
	frames_free(&hello);
	frames_free(&ck);
	buf_free(&reply);
	pair_free(&p);
}

/* The frame in f.data[0] is a handshake message; set its u16 version at the
 * body's offset 1. */
static void set_version(struct frames *f, uint16_t v)
{
	store_be16(f->data[0] + PROTO_FRAME_HEADER_LEN + 1, v);
}

static void test_handshake_bad_version(void **state)
{
	(void)state;
	static const uint16_t versions[] = {0, PROTO_VERSION + 1, 0xffff};
	for (size_t i = 0; i < sizeof versions / sizeof versions[0]; i++) {
		struct pair p;
		struct frames f;
		enum chan_event ev;

		pair_new(&p, server_key);
		assert_int_equal(chan_client_start(p.c, &p.c2s), CC_OK);
		frames_take(&p.c2s, PROTO_FRAME_MAX_PREAUTH, &f);
		set_version(&f, versions[i]);
		assert_int_equal(feed(p.s, f.data[0], f.len[0], &p.s2c, &ev), CC_ERR_VERSION);
		assert_dead(p.s, NULL, 0);
		frames_free(&f);
		/* The client hears why, as the error's code and text. */
		frames_take(&p.s2c, PROTO_FRAME_MAX_PREAUTH, &f);
		assert_int_equal(f.count, 1);
		assert_int_equal(feed(p.c, f.data[0], f.len[0], &p.c2s, &ev), CC_ERR_VERSION);
		assert_string_equal(chan_peer_error_text(p.c), cc_err_str(CC_ERR_VERSION));
		assert_dead(p.c, f.data[0], f.len[0]);
		frames_free(&f);
		pair_free(&p);
	}

	/* A SERVER_HELLO with another version: the client refuses it. */
	struct pair p;
	struct frames f;
	enum chan_event ev;
	pair_new(&p, server_key);
	assert_int_equal(chan_client_start(p.c, &p.c2s), CC_OK);
	assert_int_equal(deliver(p.s, &p.c2s, &p.s2c), CHAN_EVENT_NONE);
	frames_take(&p.s2c, PROTO_FRAME_MAX_PREAUTH, &f);
	set_version(&f, PROTO_VERSION + 1);
	assert_int_equal(feed(p.c, f.data[0], f.len[0], &p.c2s, &ev), CC_ERR_VERSION);
	assert_int_equal(p.c2s.len, 0);
	assert_dead(p.c, NULL, 0);
	frames_free(&f);
	pair_free(&p);
}

/* A plaintext ERROR during the handshake with an odd code still ends it. */
static void test_handshake_server_error(void **state)
{
	(void)state;
	static const struct {
		uint16_t code;
		cc_err want;
	} cases[] = {
		{CC_ERR_LIMIT, CC_ERR_LIMIT},
		{0, CC_ERR_INTERNAL},  /* "ok" is not an error */
		{CC_ERR_COUNT_, CC_ERR_INTERNAL},
		{0xffff, CC_ERR_INTERNAL},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct pair p;
		struct proto_msg m = {.type = PROTO_ERROR};
		struct buf body;
		enum chan_event ev;

		pair_new(&p, server_key);
		assert_int_equal(chan_client_start(p.c, &p.c2s), CC_OK);
		m.u.error.code = cases[i].code;
		m.u.error.text = proto_bytes_str("server full");
		buf_init(&body, 0);
		assert_int_equal(proto_msg_encode(&m, &body), CC_OK);
		assert_int_equal(proto_frame_put(&p.s2c, body.data, body.len), CC_OK);
		assert_int_equal(feed(p.c, p.s2c.data, p.s2c.len, &p.c2s, &ev), cases[i].want);
		assert_string_equal(chan_peer_error_text(p.c), "server full");
		assert_dead(p.c, NULL, 0);
		buf_free(&body);
		pair_free(&p);
	}
}

static void test_handshake_wrong_server_key(void **state)
{
	(void)state;
	struct pair p;

	/* A server with another key: the client reports it and shows its
	 * fingerprint; refusing it against the pin is the caller's job. */
	pair_new(&p, client_key);
	assert_int_equal(chan_client_start(p.c, &p.c2s), CC_OK);
	assert_int_equal(deliver(p.s, &p.c2s, &p.s2c), CHAN_EVENT_NONE);
	assert_int_equal(deliver(p.c, &p.s2c, &p.c2s), CHAN_EVENT_SERVER_KEY);
	assert_memory_not_equal(chan_peer_fingerprint(p.c), server_fp, CRYPTO_FINGERPRINT_LEN);
	assert_memory_equal(chan_peer_fingerprint(p.c), client_fp, CRYPTO_FINGERPRINT_LEN);
	assert_false(chan_is_open(p.c));
	pair_free(&p);
}

/* A man in the middle swaps the key in SERVER_HELLO for its own: the client
 * sees the wrong fingerprint, and if it went on anyway the real server could
 * not read CLIENT_KEY. */
static void test_handshake_key_substituted(void **state)
{
	(void)state;
	struct pair p;
	struct frames f;
	struct proto_msg m;
	struct buf der, body, forged;
	enum chan_event ev;

	pair_new(&p, server_key);
	assert_int_equal(chan_client_start(p.c, &p.c2s), CC_OK);
	assert_int_equal(deliver(p.s, &p.c2s, &p.s2c), CHAN_EVENT_NONE);
	frames_take(&p.s2c, PROTO_FRAME_MAX_PREAUTH, &f);
	assert_int_equal(proto_msg_decode(f.data[0] + 4, f.len[0] - 4, &m), CC_OK);
	buf_init(&der, 0);
	buf_init(&body, 0);
	buf_init(&forged, 0);
	assert_int_equal(crypto_rsa_public_to_der(client_key, &der), CC_OK);
	m.u.server_hello.server_key = (struct proto_bytes){der.data, der.len};
	assert_int_equal(proto_msg_encode(&m, &body), CC_OK);
	assert_int_equal(proto_frame_put(&forged, body.data, body.len), CC_OK);

	assert_int_equal(feed(p.c, forged.data, forged.len, &p.c2s, &ev), CC_OK);
	assert_int_equal(ev, CHAN_EVENT_SERVER_KEY);
	assert_memory_not_equal(chan_peer_fingerprint(p.c), server_fp, CRYPTO_FINGERPRINT_LEN);
	assert_int_equal(chan_client_continue(p.c, &p.c2s), CC_OK);
	frames_free(&f);
	frames_take(&p.c2s, PROTO_FRAME_MAX_PREAUTH, &f);
	assert_int_equal(feed(p.s, f.data[0], f.len[0], &p.s2c, &ev), CC_ERR_AUTH);
	expect_plain_error(&p.s2c, CC_ERR_AUTH);
	frames_free(&f);
	buf_free(&der);
	buf_free(&body);
	buf_free(&forged);
	pair_free(&p);
}

/* Encodes m as one plaintext frame into out (reset first). */
static void plain_frame(const struct proto_msg *m, struct buf *out)
{
	struct buf body;
	buf_init(&body, 0);
	buf_reset(out);
	assert_int_equal(proto_msg_encode(m, &body), CC_OK);
	assert_int_equal(proto_frame_put(out, body.data, body.len), CC_OK);
	buf_free(&body);
}

static void test_handshake_out_of_order(void **state)
{
	(void)state;
	struct pair p, other;
	struct frames rec, hello, ck;
	struct buf frame;
	struct proto_msg ping = {.type = PROTO_PING};
	enum chan_event ev;

	buf_init(&frame, 0);
	plain_frame(&ping, &frame);
	/* A sealed record from an open session, to try where it does not belong. */
	pair_open(&other);
	send_ping(other.c, 1, &other.c2s);
	frames_take(&other.c2s, MAX_FRAME, &rec);

	/* Server waiting for CLIENT_HELLO: a PING, a record, a CLIENT_KEY. */
	pair_new(&p, server_key);
	assert_int_equal(feed(p.s, frame.data, frame.len, &p.s2c, &ev), CC_ERR_STATE);
	expect_plain_error(&p.s2c, CC_ERR_STATE);
	assert_dead(p.s, NULL, 0);
	pair_free(&p);

	pair_new(&p, server_key);
	assert_int_not_equal(feed(p.s, rec.data[0], rec.len[0], &p.s2c, &ev), CC_OK);
	assert_dead(p.s, NULL, 0);
	pair_free(&p);

	pair_new(&p, server_key);
	assert_int_equal(chan_client_start(p.c, &p.c2s), CC_OK);
	frames_take(&p.c2s, PROTO_FRAME_MAX_PREAUTH, &hello);
	assert_int_equal(feed(p.s, hello.data[0], hello.len[0], &p.s2c, &ev), CC_OK);
	assert_int_equal(deliver(p.c, &p.s2c, &p.c2s), CHAN_EVENT_SERVER_KEY);
	/* The client may not send data before it sent CLIENT_KEY. */
	uint8_t one = 'x';
	assert_int_equal(chan_send(p.c, &one, 1, &p.c2s), CC_ERR_STATE);
	assert_int_equal(p.c2s.len, 0);
	assert_int_equal(chan_client_continue(p.c, &p.c2s), CC_OK);
	frames_take(&p.c2s, PROTO_FRAME_MAX_PREAUTH, &ck);
	pair_free(&p);

	pair_new(&p, server_key);
	assert_int_equal(feed(p.s, ck.data[0], ck.len[0], &p.s2c, &ev), CC_ERR_STATE);
	assert_dead(p.s, NULL, 0);
	pair_free(&p);

	/* Server waiting for CLIENT_KEY: a PING, a record, a second hello. */
	for (int kind = 0; kind < 3; kind++) {
		pair_new(&p, server_key);
		assert_int_equal(feed(p.s, hello.data[0], hello.len[0], &p.s2c, &ev), CC_OK);
		buf_reset(&p.s2c);
		/* Not open yet: nothing can be sent. */
		assert_int_equal(chan_send(p.s, &one, 1, &p.s2c), CC_ERR_STATE);
		const uint8_t *fr = kind == 0 ? frame.data : kind == 1 ? rec.data[0] : hello.data[0];
		size_t fl = kind == 0 ? frame.len : kind == 1 ? rec.len[0] : hello.len[0];
		cc_err err = feed(p.s, fr, fl, &p.s2c, &ev);
		assert_int_not_equal(err, CC_OK);
		if (kind != 1)
			assert_int_equal(err, CC_ERR_STATE);
		expect_plain_error(&p.s2c, err);
		assert_dead(p.s, ck.data[0], ck.len[0]);
		pair_free(&p);
	}

	/* Client before start, and waiting for SERVER_HELLO: a record, a PING. */
	pair_new(&p, server_key);
	assert_int_equal(feed(p.c, frame.data, frame.len, &p.c2s, &ev), CC_ERR_STATE);
	assert_int_equal(p.c2s.len, 0);
	assert_dead(p.c, NULL, 0);
	pair_free(&p);
	for (int kind = 0; kind < 2; kind++) {
		pair_new(&p, server_key);
		assert_int_equal(chan_client_start(p.c, &p.c2s), CC_OK);
		buf_reset(&p.c2s);
		if (kind == 0)
			assert_int_not_equal(feed(p.c, rec.data[0], rec.len[0], &p.c2s, &ev), CC_OK);
		else
			assert_int_equal(feed(p.c, frame.data, frame.len, &p.c2s, &ev), CC_ERR_STATE);
		/* The client never answers with a plaintext error. */
		assert_int_equal(p.c2s.len, 0);
		assert_dead(p.c, NULL, 0);
		pair_free(&p);
	}
	/* Client checking the pin: nothing may arrive now. */
	pair_new(&p, server_key);
	assert_int_equal(chan_client_start(p.c, &p.c2s), CC_OK);
	assert_int_equal(deliver(p.s, &p.c2s, &p.s2c), CHAN_EVENT_NONE);
	assert_int_equal(deliver(p.c, &p.s2c, &p.c2s), CHAN_EVENT_SERVER_KEY);
	assert_int_equal(feed(p.c, frame.data, frame.len, &p.c2s, &ev), CC_ERR_STATE);
	assert_dead(p.c, NULL, 0);
	pair_free(&p);

	frames_free(&rec);
	frames_free(&hello);
	frames_free(&ck);
	buf_free(&frame);
	pair_free(&other);
}

/* Before authentication the frame cap is 64 KiB, whatever max_frame says. */
static void test_handshake_preauth_cap(void **state)
{
	(void)state;
	struct pair p;
	enum chan_event ev;
	size_t n = PROTO_FRAME_HEADER_LEN + PROTO_FRAME_MAX_PREAUTH + 1;
	uint8_t *big = calloc(1, n);
	assert_non_null(big);
	store_be32(big, PROTO_FRAME_MAX_PREAUTH + 1);
	big[4] = PROTO_CLIENT_HELLO;
	pair_new(&p, server_key);
	assert_int_equal(feed(p.s, big, n, &p.s2c, &ev), CC_ERR_TOO_LARGE);
	expect_plain_error(&p.s2c, CC_ERR_TOO_LARGE);
	assert_dead(p.s, NULL, 0);
	pair_free(&p);
	free(big);

	/* Garbage that is not a message at all. */
	static const uint8_t junk[] = {0, 0, 0, 3, 0xee, 1, 2};
	pair_new(&p, server_key);
	assert_int_equal(feed(p.s, junk, sizeof junk, &p.s2c, &ev), CC_ERR_BAD_TYPE);
	expect_plain_error(&p.s2c, CC_ERR_BAD_TYPE);
	pair_free(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_handshake),
		cmocka_unit_test(test_chan_new_args),
		cmocka_unit_test(test_data_both_directions),
		cmocka_unit_test(test_large_message_split),
		cmocka_unit_test(test_many_frames_one_record),
		cmocka_unit_test(test_inner_frame_bad),
		cmocka_unit_test(test_attack_bitflip),
		cmocka_unit_test(test_attack_replay),
		cmocka_unit_test(test_attack_reorder),
		cmocka_unit_test(test_attack_drop),
		cmocka_unit_test(test_attack_reflect),
		cmocka_unit_test(test_attack_cross_session),
		cmocka_unit_test_teardown(test_handshake_client_key_bitflip, rng_teardown),
		cmocka_unit_test(test_handshake_client_key_replay),
		cmocka_unit_test(test_handshake_bad_version),
		cmocka_unit_test(test_handshake_server_error),
		cmocka_unit_test(test_handshake_wrong_server_key),
		cmocka_unit_test(test_handshake_key_substituted),
		cmocka_unit_test(test_handshake_out_of_order),
		cmocka_unit_test(test_handshake_preauth_cap),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
