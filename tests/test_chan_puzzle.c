/* The handshake's proof of work and the deferred CLIENT_KEY, in memory: the
 * hash search itself, a handshake that asks for a puzzle, a wrong nonce
 * refused before any RSA work (a CLIENT_KEY whose RSA part is junk is still
 * answered `puzzle`, not `auth_failed`), a client that refuses a puzzle over
 * its limit, and CHAN_EVENT_KEY_PENDING finished by chan_server_finish_key. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "proto/frame.h"
#include "proto/msg.h"
#include "transport/chan.h"
#include "util/buf.h"

#define MAX_FRAME PROTO_FRAME_MAX_DEFAULT
#define LABEL "cryptocat/1 puzzle"

static struct crypto_rsa_key *server_key, *client_key;

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
	return crypto_rsa_load_private_file(path, &client_key) == CC_OK ? 0 : -1;
}

static int group_teardown(void **state)
{
	(void)state;
	crypto_rsa_free(server_key);
	crypto_rsa_free(client_key);
	return 0;
}

static void test_leading_zero_bits(void **state)
{
	(void)state;
	const uint8_t a[] = {0x00, 0x00, 0x10, 0xff}, b[] = {0x80}, z[4] = {0};
	assert_int_equal(crypto_leading_zero_bits(a, sizeof a), 19);
	assert_int_equal(crypto_leading_zero_bits(b, sizeof b), 0);
	assert_int_equal(crypto_leading_zero_bits(z, sizeof z), 32);
}

/* solve finds the first solution and check agrees with it, nonce by nonce. */
static void test_puzzle_solve_check(void **state)
{
	(void)state;
	const uint8_t prefix[] = "some prefix";
	uint64_t n = 0, again = 0;
	assert_int_equal(crypto_puzzle_solve(prefix, sizeof prefix, 12, 0, UINT64_MAX, &n), CC_OK);
	assert_true(crypto_puzzle_check(prefix, sizeof prefix, 12, n));
	for (uint64_t i = 0; i < n; i++)
		assert_false(crypto_puzzle_check(prefix, sizeof prefix, 12, i));
	/* Starting at the answer finds it again; a window before it finds nothing. */
	assert_int_equal(crypto_puzzle_solve(prefix, sizeof prefix, 12, n, 1, &again), CC_OK);
	assert_true(again == n);
	if (n > 0)
		assert_int_equal(crypto_puzzle_solve(prefix, sizeof prefix, 12, 0, n, &again),
				 CC_ERR_NOT_FOUND);
	/* 0 bits: anything goes; more bits than the hash has: never. */
	assert_true(crypto_puzzle_check(prefix, sizeof prefix, 0, 12345));
	assert_false(crypto_puzzle_check(prefix, sizeof prefix, 257, n));
}

struct hs {
	struct chan *c, *s;
	struct buf c2s, s2c;
	struct buf ch_frame, sh_frame;  /* the hellos, kept for the challenge */
};

static void hs_new(struct hs *h, unsigned bits)
{
	memset(h, 0, sizeof *h);
	buf_init(&h->c2s, 0);
	buf_init(&h->s2c, 0);
	buf_init(&h->ch_frame, 0);
	buf_init(&h->sh_frame, 0);
	assert_int_equal(chan_client_new(client_key, "alice", MAX_FRAME, &h->c), CC_OK);
	assert_int_equal(chan_server_new(server_key, MAX_FRAME, &h->s), CC_OK);
	chan_server_set_puzzle(h->s, bits);
}

static void hs_free(struct hs *h)
{
	chan_free(h->c);
	chan_free(h->s);
	buf_free(&h->c2s);
	buf_free(&h->s2c);
	buf_free(&h->ch_frame);
	buf_free(&h->sh_frame);
}

/* Both hellos, through to the client's CHAN_EVENT_SERVER_KEY. */
static void hs_hellos(struct hs *h)
{
	enum chan_event ev;
	assert_int_equal(chan_client_start(h->c, &h->c2s), CC_OK);
	assert_int_equal(buf_put_bytes(&h->ch_frame, h->c2s.data, h->c2s.len), CC_OK);
	assert_int_equal(chan_recv_frame(h->s, h->c2s.data, h->c2s.len, &h->s2c, &ev), CC_OK);
	buf_reset(&h->c2s);
	assert_int_equal(buf_put_bytes(&h->sh_frame, h->s2c.data, h->s2c.len), CC_OK);
	assert_int_equal(chan_recv_frame(h->c, h->s2c.data, h->s2c.len, &h->c2s, &ev), CC_OK);
	assert_int_equal(ev, CHAN_EVENT_SERVER_KEY);
	buf_reset(&h->s2c);
}

/* The puzzle as PROTOCOL.md 4.2 states it, computed here independently. */
static int doc_puzzle_holds(const struct hs *h, unsigned bits, uint64_t nonce)
{
	uint8_t in[sizeof LABEL - 1 + 32 + 8], hash[32];
	struct buf t;
	buf_init(&t, 0);
	assert_int_equal(buf_put_bytes(&t, h->ch_frame.data, h->ch_frame.len), CC_OK);
	assert_int_equal(buf_put_bytes(&t, h->sh_frame.data, h->sh_frame.len), CC_OK);
	memcpy(in, LABEL, sizeof LABEL - 1);
	crypto_sha256(t.data, t.len, in + sizeof LABEL - 1);
	buf_free(&t);
	store_be64(in + sizeof LABEL - 1 + 32, nonce);
	crypto_sha256(in, sizeof in, hash);
	return crypto_leading_zero_bits(hash, sizeof hash) >= bits;
}

static void test_handshake_with_puzzle(void **state)
{
	(void)state;
	struct hs h;
	enum chan_event ev;
	hs_new(&h, 14);
	hs_hellos(&h);
	assert_int_equal(chan_puzzle_bits(h.c), 14);
	assert_int_equal(h.sh_frame.data[h.sh_frame.len - 1], 14);
	assert_int_equal(chan_client_continue(h.c, &h.c2s), CC_OK);
	uint64_t nonce = load_be64(h.c2s.data + PROTO_FRAME_HEADER_LEN + 1);
	assert_true(doc_puzzle_holds(&h, 14, nonce));
	assert_int_equal(chan_recv_frame(h.s, h.c2s.data, h.c2s.len, &h.s2c, &ev), CC_OK);
	assert_int_equal(ev, CHAN_EVENT_OPEN);
	assert_true(chan_is_open(h.s));
	hs_free(&h);
}

/* A wrong nonce is answered `puzzle` even though the RSA part is junk too:
 * the server looked at nothing else. The client reads that plaintext ERROR
 * where its first record should be. */
static void test_wrong_nonce_refused_first(void **state)
{
	(void)state;
	struct hs h;
	enum chan_event ev;
	hs_new(&h, 16);
	hs_hellos(&h);
	assert_int_equal(chan_client_continue(h.c, &h.c2s), CC_OK);
	uint8_t *body = h.c2s.data + PROTO_FRAME_HEADER_LEN;
	uint64_t nonce = load_be64(body + 1);
	do
		nonce++;
	while (doc_puzzle_holds(&h, 16, nonce));
	store_be64(body + 1, nonce);
	memset(body + 1 + 8 + 2, 0x5a, 64);  /* session_ct: junk as well */
	assert_int_equal(chan_recv_frame(h.s, h.c2s.data, h.c2s.len, &h.s2c, &ev),
			 CC_ERR_PUZZLE);
	assert_false(chan_is_open(h.s));
	struct proto_msg m;
	assert_int_equal(proto_msg_decode(h.s2c.data + PROTO_FRAME_HEADER_LEN,
					  h.s2c.len - PROTO_FRAME_HEADER_LEN, &m), CC_OK);
	assert_int_equal(m.type, PROTO_ERROR);
	assert_int_equal(m.u.error.code, CC_ERR_PUZZLE);
	assert_int_equal(chan_recv_frame(h.c, h.s2c.data, h.s2c.len, &h.c2s, &ev),
			 CC_ERR_PUZZLE);
	assert_false(chan_is_open(h.c));
	hs_free(&h);
}

static void test_client_limit(void **state)
{
	(void)state;
	struct hs h;
	hs_new(&h, 20);
	chan_client_set_puzzle_limit(h.c, 19);
	hs_hellos(&h);
	assert_int_equal(chan_client_continue(h.c, &h.c2s), CC_ERR_PUZZLE);
	assert_int_equal(h.c2s.len, 0);
	hs_free(&h);

	/* The server never asks for more than the protocol's maximum. */
	hs_new(&h, 200);
	chan_client_set_puzzle_limit(h.c, 0);
	hs_hellos(&h);
	assert_int_equal(chan_puzzle_bits(h.c), PROTO_PUZZLE_BITS_MAX);
	assert_int_equal(chan_client_continue(h.c, &h.c2s), CC_ERR_PUZZLE);
	hs_free(&h);
}

/* The deferred path: KEY_PENDING, then finish_key opens (or refuses with a
 * plaintext ERROR); nothing is sent until then. */
static void test_deferred_key(void **state)
{
	(void)state;
	struct hs h;
	enum chan_event ev;
	hs_new(&h, 0);
	chan_server_defer_key(h.s);
	hs_hellos(&h);
	assert_int_equal(chan_client_continue(h.c, &h.c2s), CC_OK);
	assert_int_equal(chan_recv_frame(h.s, h.c2s.data, h.c2s.len, &h.s2c, &ev), CC_OK);
	assert_int_equal(ev, CHAN_EVENT_KEY_PENDING);
	assert_int_equal(h.s2c.len, 0);
	assert_false(chan_is_open(h.s));
	struct buf scratch;
	buf_init(&scratch, 0);
	assert_int_equal(chan_server_finish_key(h.s, &scratch), CC_OK);
	assert_true(chan_is_open(h.s));
	assert_int_equal(scratch.len, 0);
	assert_int_equal(chan_server_finish_key(h.s, &scratch), CC_ERR_STATE);
	buf_free(&scratch);
	hs_free(&h);

	/* A junk RSA part, deferred: auth_failed from finish_key, as a plaintext ERROR. */
	hs_new(&h, 0);
	chan_server_defer_key(h.s);
	hs_hellos(&h);
	assert_int_equal(chan_client_continue(h.c, &h.c2s), CC_OK);
	memset(h.c2s.data + PROTO_FRAME_HEADER_LEN + 1 + 8 + 2, 0x5a, 64);
	assert_int_equal(chan_recv_frame(h.s, h.c2s.data, h.c2s.len, &h.s2c, &ev), CC_OK);
	assert_int_equal(ev, CHAN_EVENT_KEY_PENDING);
	assert_int_equal(chan_server_finish_key(h.s, &h.s2c), CC_ERR_AUTH);
	assert_false(chan_is_open(h.s));
	assert_int_equal(chan_recv_frame(h.c, h.s2c.data, h.s2c.len, &h.c2s, &ev), CC_ERR_AUTH);
	hs_free(&h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_leading_zero_bits),
		cmocka_unit_test(test_puzzle_solve_check),
		cmocka_unit_test(test_handshake_with_puzzle),
		cmocka_unit_test(test_wrong_nonce_refused_first),
		cmocka_unit_test(test_client_limit),
		cmocka_unit_test(test_deferred_key),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
