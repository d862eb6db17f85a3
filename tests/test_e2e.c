/* The end-to-end layer (e2e/e2e.h): signing keys and their certificates, room
 * key wraps and commitments, titles, signed messages, and the membership
 * chain rules. Each rule is tested from both sides: the allowed record
 * applies, and each way of breaking it is refused with the documented code
 * and leaves the chain exactly as it was.
 *
 * Identities: alice and bob are the example keys of tests/data; carol and
 * dave are made once per run. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "e2e/e2e.h"
#include "proto/room.h"
#include "util/buf.h"

struct who {
	const char *nick;
	struct crypto_rsa_key *key;
	uint8_t fp[PROTO_FINGERPRINT_LEN];
	uint8_t seed[CRYPTO_ED25519_SEED_LEN];
	uint8_t pub[CRYPTO_ED25519_PUB_LEN];
};

static struct who alice = {.nick = "alice"};
static struct who bob = {.nick = "bob"};
static struct who carol = {.nick = "carol"};
static struct who dave = {.nick = "dave"};

static const uint8_t room_a[PROTO_ROOM_ID_LEN] = {0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8,
						  0xa9, 0xaa, 0xab, 0xac, 0xad, 0xae, 0xaf, 0xa0};
static const uint8_t room_b[PROTO_ROOM_ID_LEN] = {0xb1, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8,
						  0xb9, 0xba, 0xbb, 0xbc, 0xbd, 0xbe, 0xbf, 0xb0};

/* The room key of each epoch in these tests: fixed, so commitments can be
 * recomputed anywhere. */
static void epoch_key(uint32_t epoch, uint8_t key[E2E_KEY_LEN])
{
	for (size_t i = 0; i < E2E_KEY_LEN; i++)
		key[i] = (uint8_t)(epoch * 37 + i * 5 + 1);
}

static void epoch_commit(const uint8_t room[PROTO_ROOM_ID_LEN], uint32_t epoch,
			 uint8_t out[PROTO_HASH_LEN])
{
	uint8_t key[E2E_KEY_LEN];
	epoch_key(epoch, key);
	e2e_key_commit(room, epoch, key, out);
}

/* ---- signing keys ---- */

static void test_signing_key_derive(void **state)
{
	(void)state;
	uint8_t seed1[CRYPTO_ED25519_SEED_LEN], pub1[CRYPTO_ED25519_PUB_LEN];
	uint8_t seed2[CRYPTO_ED25519_SEED_LEN], pub2[CRYPTO_ED25519_PUB_LEN];
	struct crypto_rsa_key *again;
	struct buf pem;

	/* The same identity gives the same key, also after a trip through PEM
	 * (what the client does when it reloads its key file). */
	assert_int_equal(e2e_signing_key_derive(alice.key, seed1, pub1), CC_OK);
	assert_memory_equal(seed1, alice.seed, sizeof seed1);
	assert_memory_equal(pub1, alice.pub, sizeof pub1);
	buf_init(&pem, 0);
	assert_int_equal(crypto_rsa_private_to_pem(alice.key, &pem), CC_OK);
	assert_int_equal(crypto_rsa_private_from_pem((const char *)pem.data, pem.len, &again),
			 CC_OK);
	assert_int_equal(e2e_signing_key_derive(again, seed2, pub2), CC_OK);
	assert_memory_equal(seed1, seed2, sizeof seed1);
	assert_memory_equal(pub1, pub2, sizeof pub1);
	crypto_rsa_free(again);
	buf_free(&pem);

	/* The seed's public half is what derive reports. */
	assert_int_equal(crypto_ed25519_public(seed1, pub2), CC_OK);
	assert_memory_equal(pub1, pub2, sizeof pub1);

	/* Every identity has its own. */
	const struct who *all[] = {&alice, &bob, &carol, &dave};
	for (size_t i = 0; i < 4; i++)
		for (size_t j = i + 1; j < 4; j++) {
			assert_memory_not_equal(all[i]->seed, all[j]->seed, CRYPTO_ED25519_SEED_LEN);
			assert_memory_not_equal(all[i]->pub, all[j]->pub, CRYPTO_ED25519_PUB_LEN);
		}
}

static void test_signing_cert(void **state)
{
	(void)state;
	struct buf cert;

	buf_init(&cert, 0);
	assert_int_equal(e2e_signing_cert_make(alice.key, alice.pub, &cert), CC_OK);
	assert_int_equal(cert.len, crypto_rsa_size(alice.key));
	assert_int_equal(e2e_signing_cert_verify(alice.key, alice.pub, cert.data, cert.len), CC_OK);
	/* Under another identity, for another signing key, or altered: no. */
	assert_int_equal(e2e_signing_cert_verify(bob.key, alice.pub, cert.data, cert.len),
			 CC_ERR_AUTH);
	assert_int_equal(e2e_signing_cert_verify(alice.key, bob.pub, cert.data, cert.len),
			 CC_ERR_AUTH);
	assert_int_equal(e2e_signing_cert_verify(alice.key, alice.pub, cert.data, cert.len - 1),
			 CC_ERR_AUTH);
	assert_int_equal(e2e_signing_cert_verify(alice.key, alice.pub, cert.data, 0), CC_ERR_AUTH);
	for (size_t i = 0; i < cert.len; i += 17) {
		cert.data[i] ^= 0x10;
		assert_int_equal(e2e_signing_cert_verify(alice.key, alice.pub, cert.data, cert.len),
				 CC_ERR_AUTH);
		cert.data[i] ^= 0x10;
	}
	/* Bob's certificate of his own key is his, not alice's. */
	buf_reset(&cert);
	assert_int_equal(e2e_signing_cert_make(bob.key, bob.pub, &cert), CC_OK);
	assert_int_equal(e2e_signing_cert_verify(bob.key, bob.pub, cert.data, cert.len), CC_OK);
	assert_int_equal(e2e_signing_cert_verify(alice.key, bob.pub, cert.data, cert.len),
			 CC_ERR_AUTH);
	/* A freshly generated identity's too. */
	buf_reset(&cert);
	assert_int_equal(e2e_signing_cert_make(dave.key, dave.pub, &cert), CC_OK);
	assert_int_equal(e2e_signing_cert_verify(dave.key, dave.pub, cert.data, cert.len), CC_OK);
	assert_int_equal(e2e_signing_cert_verify(carol.key, dave.pub, cert.data, cert.len),
			 CC_ERR_AUTH);
	buf_free(&cert);
}

/* ---- room keys ---- */

static void test_key_wrap(void **state)
{
	(void)state;
	static const uint8_t zero[E2E_KEY_LEN];
	uint8_t key[E2E_KEY_LEN], got[E2E_KEY_LEN];
	struct buf wrapped;

	assert_int_equal(e2e_room_key_new(key), CC_OK);
	assert_memory_not_equal(key, zero, sizeof key);
	buf_init(&wrapped, 0);
	assert_int_equal(e2e_key_wrap(bob.key, room_a, 3, key, &wrapped), CC_OK);
	assert_int_equal(wrapped.len, crypto_rsa_size(bob.key));
	assert_int_equal(e2e_key_unwrap(bob.key, room_a, 3, wrapped.data, wrapped.len, got),
			 CC_OK);
	assert_memory_equal(got, key, sizeof key);

	/* The label binds room and epoch: the server cannot move a wrap. A
	 * failed unwrap leaves no key behind. */
	memset(got, 0x55, sizeof got);
	assert_int_equal(e2e_key_unwrap(bob.key, room_b, 3, wrapped.data, wrapped.len, got),
			 CC_ERR_AUTH);
	assert_memory_equal(got, zero, sizeof got);
	assert_int_equal(e2e_key_unwrap(bob.key, room_a, 4, wrapped.data, wrapped.len, got),
			 CC_ERR_AUTH);
	assert_int_equal(e2e_key_unwrap(bob.key, room_a, 2, wrapped.data, wrapped.len, got),
			 CC_ERR_AUTH);
	/* Only its member can open it. */
	assert_int_equal(e2e_key_unwrap(alice.key, room_a, 3, wrapped.data, wrapped.len, got),
			 CC_ERR_AUTH);
	/* Altered or cut. */
	assert_int_equal(e2e_key_unwrap(bob.key, room_a, 3, wrapped.data, wrapped.len - 1, got),
			 CC_ERR_AUTH);
	assert_int_equal(e2e_key_unwrap(bob.key, room_a, 3, wrapped.data, 0, got), CC_ERR_AUTH);
	wrapped.data[wrapped.len / 2] ^= 1;
	assert_int_equal(e2e_key_unwrap(bob.key, room_a, 3, wrapped.data, wrapped.len, got),
			 CC_ERR_AUTH);
	buf_free(&wrapped);

	/* Two wraps of one key differ (OAEP is randomised) and both open. */
	struct buf w1, w2;
	buf_init(&w1, 0);
	buf_init(&w2, 0);
	assert_int_equal(e2e_key_wrap(carol.key, room_a, 0, key, &w1), CC_OK);
	assert_int_equal(e2e_key_wrap(carol.key, room_a, 0, key, &w2), CC_OK);
	assert_memory_not_equal(w1.data, w2.data, w1.len);
	assert_int_equal(e2e_key_unwrap(carol.key, room_a, 0, w2.data, w2.len, got), CC_OK);
	assert_memory_equal(got, key, sizeof key);
	buf_free(&w1);
	buf_free(&w2);
}

static void test_key_commit(void **state)
{
	(void)state;
	uint8_t key[E2E_KEY_LEN], key2[E2E_KEY_LEN];
	uint8_t c[PROTO_HASH_LEN], again[PROTO_HASH_LEN], other[PROTO_HASH_LEN];

	epoch_key(0, key);
	epoch_key(1, key2);
	e2e_key_commit(room_a, 5, key, c);
	e2e_key_commit(room_a, 5, key, again);
	assert_memory_equal(c, again, sizeof c);
	e2e_key_commit(room_b, 5, key, other);
	assert_memory_not_equal(c, other, sizeof c);
	e2e_key_commit(room_a, 6, key, other);
	assert_memory_not_equal(c, other, sizeof c);
	e2e_key_commit(room_a, 5, key2, other);
	assert_memory_not_equal(c, other, sizeof c);
	/* Not simply the key's hash: the commitment is labelled. */
	crypto_sha256(key, sizeof key, other);
	assert_memory_not_equal(c, other, sizeof c);
}

/* ---- titles ---- */

static void test_title(void **state)
{
	(void)state;
	uint8_t key[E2E_KEY_LEN], key2[E2E_KEY_LEN];
	char out[E2E_TITLE_MAX + 1], title[E2E_TITLE_MAX + 2];
	struct buf ct, ct2;

	epoch_key(0, key);
	epoch_key(1, key2);
	buf_init(&ct, 0);
	buf_init(&ct2, 0);
	static const char *const titles[] = {"", "lunch", "na\xc3\xafve caf\xc3\xa9 \xf0\x9f\x90\xb1"};
	for (size_t i = 0; i < 3; i++) {
		buf_reset(&ct);
		assert_int_equal(e2e_title_seal(key, room_a, 2, titles[i], &ct), CC_OK);
		assert_int_equal(ct.len, CRYPTO_AEAD_NONCE_LEN + strlen(titles[i]) +
						 CRYPTO_AEAD_TAG_LEN);
		assert_int_equal(e2e_title_open(key, room_a, 2, ct.data, ct.len, out), CC_OK);
		assert_string_equal(out, titles[i]);
	}

	/* The longest title, and one byte more. */
	memset(title, 'x', E2E_TITLE_MAX);
	title[E2E_TITLE_MAX] = '\0';
	buf_reset(&ct);
	assert_int_equal(e2e_title_seal(key, room_a, 2, title, &ct), CC_OK);
	assert_int_equal(e2e_title_open(key, room_a, 2, ct.data, ct.len, out), CC_OK);
	assert_string_equal(out, title);
	title[E2E_TITLE_MAX] = 'x';
	title[E2E_TITLE_MAX + 1] = '\0';
	assert_int_equal(e2e_title_seal(key, room_a, 2, title, &ct2), CC_ERR_TOO_LARGE);
	assert_int_equal(ct2.len, 0);

	/* Not UTF-8: a lone continuation, an overlong NUL, a surrogate, a cut
	 * sequence. */
	static const char *const bad[] = {"a\x80", "\xc0\x80", "\xed\xa0\x80", "ok\xe2\x82"};
	for (size_t i = 0; i < 4; i++) {
		assert_int_equal(e2e_title_seal(key, room_a, 2, bad[i], &ct2), CC_ERR_MALFORMED);
		assert_int_equal(ct2.len, 0);
	}

	/* Bound to its key, room and epoch; every byte is authenticated. */
	assert_int_equal(e2e_title_open(key2, room_a, 2, ct.data, ct.len, out), CC_ERR_AUTH);
	assert_int_equal(e2e_title_open(key, room_b, 2, ct.data, ct.len, out), CC_ERR_AUTH);
	assert_int_equal(e2e_title_open(key, room_a, 3, ct.data, ct.len, out), CC_ERR_AUTH);
	for (size_t i = 0; i < ct.len; i += 7) {
		ct.data[i] ^= 0x01;
		assert_int_equal(e2e_title_open(key, room_a, 2, ct.data, ct.len, out), CC_ERR_AUTH);
		ct.data[i] ^= 0x01;
	}
	assert_int_equal(e2e_title_open(key, room_a, 2, ct.data, ct.len - 1, out), CC_ERR_AUTH);
	/* Shorter than nonce and tag, or longer than any title could make. */
	assert_int_equal(e2e_title_open(key, room_a, 2, ct.data,
					CRYPTO_AEAD_NONCE_LEN + CRYPTO_AEAD_TAG_LEN - 1, out),
			 CC_ERR_MALFORMED);
	assert_int_equal(e2e_title_open(key, room_a, 2, ct.data, 0, out), CC_ERR_MALFORMED);
	uint8_t big[CRYPTO_AEAD_NONCE_LEN + E2E_TITLE_MAX + 1 + CRYPTO_AEAD_TAG_LEN] = {0};
	assert_int_equal(e2e_title_open(key, room_a, 2, big, sizeof big, out), CC_ERR_MALFORMED);

	/* Random nonces: the same title seals differently each time. */
	buf_reset(&ct);
	buf_reset(&ct2);
	assert_int_equal(e2e_title_seal(key, room_a, 2, "lunch", &ct), CC_OK);
	assert_int_equal(e2e_title_seal(key, room_a, 2, "lunch", &ct2), CC_OK);
	assert_memory_not_equal(ct.data, ct2.data, CRYPTO_AEAD_NONCE_LEN);
	buf_free(&ct);
	buf_free(&ct2);
}

/* ---- messages ---- */

static void header_for(struct proto_envelope *env, const struct who *sender, uint32_t epoch,
		       uint64_t seq)
{
	memset(env, 0, sizeof *env);
	env->version = PROTO_ENVELOPE_VERSION;
	memcpy(env->room_id, room_a, PROTO_ROOM_ID_LEN);
	env->epoch = epoch;
	env->sender = proto_bytes_str(sender->nick);
	env->seq = seq;
	env->time_ms = 1700000000123ull;
}

static void seal(const struct who *sender, uint32_t epoch, uint64_t seq, const void *text,
		 size_t len, struct buf *out)
{
	struct proto_envelope env;
	uint8_t key[E2E_KEY_LEN];
	epoch_key(epoch, key);
	header_for(&env, sender, epoch, seq);
	buf_init(out, PROTO_ENVELOPE_MAX);
	assert_int_equal(e2e_message_seal(sender->seed, key, &env, text, len, out), CC_OK);
	/* The overhead docs/PROTOCOL.md promises: 133 bytes plus the nickname. */
	assert_int_equal(out->len, len + 133 + strlen(sender->nick));
}

/* Decodes and opens with the given signer and epoch key. */
static cc_err open_as(const struct buf *wire, const struct who *signer, uint32_t key_epoch,
		      uint8_t *text, size_t *text_len)
{
	struct proto_envelope env;
	uint8_t key[E2E_KEY_LEN];
	cc_err err = proto_envelope_decode(wire->data, wire->len, &env);
	if (err)
		return err;
	epoch_key(key_epoch, key);
	return e2e_message_open(signer->pub, key, &env, text, text_len);
}

static void test_message_round_trip(void **state)
{
	(void)state;
	uint8_t *text = malloc(PROTO_TEXT_MAX + 1), *big = malloc(PROTO_TEXT_MAX + 1);
	size_t n = 0;
	struct buf wire;

	assert_non_null(text);
	assert_non_null(big);
	static const char *const samples[] = {"", "hello", "caf\xc3\xa9 \xf0\x9f\x90\xb1"};
	for (size_t i = 0; i < 3; i++) {
		size_t len = strlen(samples[i]);
		seal(&bob, 1, i + 1, samples[i], len, &wire);
		n = 99;
		assert_int_equal(open_as(&wire, &bob, 1, text, &n), CC_OK);
		assert_int_equal(n, len);
		assert_memory_equal(text, samples[i], len);
		/* The header is the one asked for. */
		struct proto_envelope env;
		assert_int_equal(proto_envelope_decode(wire.data, wire.len, &env), CC_OK);
		assert_int_equal(env.epoch, 1);
		assert_true(env.seq == i + 1);
		assert_memory_equal(env.room_id, room_a, PROTO_ROOM_ID_LEN);
		assert_int_equal(env.sender.len, 3);
		assert_memory_equal(env.sender.p, "bob", 3);
		buf_free(&wire);
	}

	/* The longest text; one byte more is refused before anything is made. */
	memset(big, 'z', PROTO_TEXT_MAX + 1);
	seal(&carol, 0, 9, big, PROTO_TEXT_MAX, &wire);
	assert_true(wire.len <= PROTO_ENVELOPE_MAX);
	assert_int_equal(open_as(&wire, &carol, 0, text, &n), CC_OK);
	assert_int_equal(n, PROTO_TEXT_MAX);
	assert_memory_equal(text, big, PROTO_TEXT_MAX);
	buf_free(&wire);
	struct proto_envelope env;
	uint8_t key[E2E_KEY_LEN];
	epoch_key(0, key);
	header_for(&env, &carol, 0, 10);
	buf_init(&wire, 0);
	assert_int_equal(e2e_message_seal(carol.seed, key, &env, big, PROTO_TEXT_MAX + 1, &wire),
			 CC_ERR_TOO_LARGE);
	assert_int_equal(wire.len, 0);
	/* A bad sender nick is refused too, with nothing written. */
	env.sender = proto_bytes_str("no way");
	assert_int_equal(e2e_message_seal(carol.seed, key, &env, big, 5, &wire), CC_ERR_BAD_NICK);
	assert_int_equal(wire.len, 0);
	buf_free(&wire);

	/* Two seals of the same text differ (random nonce). */
	struct buf w1, w2;
	seal(&bob, 1, 1, "same", 4, &w1);
	seal(&bob, 1, 1, "same", 4, &w2);
	assert_int_equal(w1.len, w2.len);
	assert_memory_not_equal(w1.data, w2.data, w1.len);
	buf_free(&w1);
	buf_free(&w2);
	free(text);
	free(big);
}

/* A validly signed message whose text is not UTF-8 is refused as such. */
static void test_message_not_utf8(void **state)
{
	(void)state;
	uint8_t text[64];
	size_t n = 0;
	struct buf wire;
	seal(&bob, 0, 1, "ok\xff", 3, &wire);
	assert_int_equal(open_as(&wire, &bob, 0, text, &n), CC_ERR_MALFORMED);
	buf_free(&wire);
	seal(&bob, 0, 2, "a\0b", 3, &wire);
	assert_int_equal(open_as(&wire, &bob, 0, text, &n), CC_ERR_MALFORMED);
	buf_free(&wire);
}

static void test_message_bit_flips(void **state)
{
	(void)state;
	static const char msg[] = "meet at noon";
	uint8_t text[PROTO_TEXT_MAX];
	size_t n;
	struct buf wire;
	size_t decoded = 0;

	seal(&alice, 2, 41, msg, sizeof msg - 1, &wire);
	/* Every single bit of the envelope matters. */
	for (size_t bit = 0; bit < wire.len * 8; bit++) {
		wire.data[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		struct proto_envelope env;
		uint8_t key[E2E_KEY_LEN];
		epoch_key(2, key);
		if (proto_envelope_decode(wire.data, wire.len, &env) == CC_OK) {
			decoded++;
			n = 0;
			cc_err err = e2e_message_open(alice.pub, key, &env, text, &n);
			if (err == CC_OK)
				fail_msg("bit %zu flipped and the message still opens", bit);
			assert_int_equal(err, CC_ERR_AUTH);
		}
		wire.data[bit / 8] ^= (uint8_t)(1u << (bit % 8));
	}
	/* Most flips (nonce, ciphertext, signature, most header bits) still
	 * parse, so the loop above did test the crypto. */
	assert_true(decoded > wire.len * 4);
	assert_int_equal(open_as(&wire, &alice, 2, text, &n), CC_OK);
	assert_int_equal(n, sizeof msg - 1);
	buf_free(&wire);
}

static void test_message_wrong_keys(void **state)
{
	(void)state;
	uint8_t text[64];
	size_t n = 0;
	struct buf wire;

	seal(&bob, 3, 1, "hi", 2, &wire);
	assert_int_equal(open_as(&wire, &bob, 3, text, &n), CC_OK);
	/* Another member's signing key: bob's message is not carol's. */
	assert_int_equal(open_as(&wire, &carol, 3, text, &n), CC_ERR_AUTH);
	assert_int_equal(open_as(&wire, &alice, 3, text, &n), CC_ERR_AUTH);
	/* Another epoch's key (signature fine, AEAD not). */
	assert_int_equal(open_as(&wire, &bob, 2, text, &n), CC_ERR_AUTH);
	assert_int_equal(open_as(&wire, &bob, 4, text, &n), CC_ERR_AUTH);

	/* A header rewritten by someone without bob's key: re-encoding the
	 * decoded fields with another seq keeps the signature but not its
	 * validity. */
	struct proto_envelope env;
	struct buf forged;
	uint8_t key[E2E_KEY_LEN];
	assert_int_equal(proto_envelope_decode(wire.data, wire.len, &env), CC_OK);
	env.seq = 2;
	buf_init(&forged, 0);
	assert_int_equal(proto_envelope_encode(&env, &forged), CC_OK);
	assert_int_equal(proto_envelope_decode(forged.data, forged.len, &env), CC_OK);
	epoch_key(3, key);
	assert_int_equal(e2e_message_open(bob.pub, key, &env, text, &n), CC_ERR_AUTH);
	buf_free(&forged);
	buf_free(&wire);
}

/* ---- records ---- */

/* A record for chain c's next slot, committing to epoch's test key. */
static void next_record(const struct e2e_chain *c, struct proto_record *rec, uint8_t action,
			const struct who *actor, const struct who *subject, uint32_t epoch)
{
	memset(rec, 0, sizeof *rec);
	rec->version = PROTO_RECORD_VERSION;
	memcpy(rec->room_id, c->room_id, PROTO_ROOM_ID_LEN);
	rec->seq = c->count;
	if (c->count)
		memcpy(rec->prev_hash, c->last_hash, PROTO_HASH_LEN);
	rec->action = action;
	rec->actor = proto_bytes_str(actor->nick);
	memcpy(rec->actor_fp, actor->fp, PROTO_FINGERPRINT_LEN);
	rec->subject = proto_bytes_str(subject->nick);
	memcpy(rec->subject_fp, subject->fp, PROTO_FINGERPRINT_LEN);
	rec->epoch = epoch;
	epoch_commit(c->room_id, epoch, rec->key_commit);
	rec->time_ms = 1700000000000ull + c->count;
}

static void sign(const struct proto_record *rec, const struct who *signer, struct buf *out)
{
	buf_init(out, PROTO_RECORD_MAX);
	assert_int_equal(e2e_record_sign(signer->key, rec, out), CC_OK);
}

static void test_record_sign_verify(void **state)
{
	(void)state;
	struct e2e_chain c;
	struct proto_record rec, got;
	struct buf wire;
	uint8_t h[PROTO_HASH_LEN], h2[PROTO_HASH_LEN];

	e2e_chain_init(&c, room_a);
	next_record(&c, &rec, PROTO_REC_CREATE, &alice, &alice, 0);
	sign(&rec, &alice, &wire);
	assert_int_equal(proto_record_decode(wire.data, wire.len, &got), CC_OK);
	assert_int_equal(got.signature.len, crypto_rsa_size(alice.key));
	assert_int_equal(e2e_record_verify_sig(alice.key, &got), CC_OK);
	assert_int_equal(e2e_record_verify_sig(bob.key, &got), CC_ERR_AUTH);
	/* The signature covers the signed part, not a shadow copy of it. */
	wire.data[got.signed_part.len - 1] ^= 1;  /* time_ms's last byte */
	assert_int_equal(proto_record_decode(wire.data, wire.len, &got), CC_OK);
	assert_int_equal(e2e_record_verify_sig(alice.key, &got), CC_ERR_AUTH);
	/* The chain hash is SHA-256 of the whole record. */
	e2e_record_hash(wire.data, wire.len, h);
	crypto_sha256(wire.data, wire.len, h2);
	assert_memory_equal(h, h2, sizeof h);
	buf_free(&wire);
	/* Refused fields are refused before signing. */
	rec.action = 0;
	buf_init(&wire, 0);
	assert_int_equal(e2e_record_sign(alice.key, &rec, &wire), CC_ERR_MALFORMED);
	assert_int_equal(wire.len, 0);
	buf_free(&wire);
}

/* ---- chains ---- */

struct keytab {
	const struct who *who[4];
	size_t n;
	unsigned calls;
};

static const struct crypto_rsa_key *keytab_lookup(void *ctx,
						  const uint8_t fp[PROTO_FINGERPRINT_LEN])
{
	struct keytab *t = ctx;
	t->calls++;
	for (size_t i = 0; i < t->n; i++)
		if (memcmp(t->who[i]->fp, fp, PROTO_FINGERPRINT_LEN) == 0)
			return t->who[i]->key;
	return NULL;
}

/* Dave is known to the lookup only where a test says so. */
static struct keytab known = {{&alice, &bob, &carol}, 3, 0};
static struct keytab known_all = {{&alice, &bob, &carol, &dave}, 4, 0};

static cc_err apply_with(struct e2e_chain *c, const struct buf *wire, struct keytab *tab)
{
	const char *why = NULL;
	cc_err err = e2e_chain_apply(c, wire->data, wire->len, keytab_lookup, tab, &why);
	assert_non_null(why);
	/* A refusal always says why. */
	if (err)
		assert_true(why[0] != '\0');
	return err;
}

/* Signs and applies the next record; returns apply's verdict. */
static cc_err step_by(struct e2e_chain *c, uint8_t action, const struct who *actor,
		      const struct who *subject, uint32_t epoch, const struct who *signer)
{
	struct proto_record rec;
	struct buf wire;
	next_record(c, &rec, action, actor, subject, epoch);
	sign(&rec, signer, &wire);
	cc_err err = apply_with(c, &wire, &known_all);
	buf_free(&wire);
	return err;
}

static cc_err step(struct e2e_chain *c, uint8_t action, const struct who *actor,
		   const struct who *subject, uint32_t epoch)
{
	return step_by(c, action, actor, subject, epoch, actor);
}

/* Everything a refused record must leave as it was. */
struct snap {
	uint32_t count, epoch, ncommits;
	uint8_t last_hash[PROTO_HASH_LEN];
	struct e2e_member admin;
	bool ended;
	size_t nmembers, nspans;
	struct e2e_member members[8];
	struct e2e_span spans[8];
};

static void snap_take(const struct e2e_chain *c, struct snap *s)
{
	memset(s, 0, sizeof *s);
	assert_true(c->nmembers <= 8 && c->nspans <= 8);
	s->count = c->count;
	s->epoch = c->epoch;
	s->ncommits = c->ncommits;
	memcpy(s->last_hash, c->last_hash, PROTO_HASH_LEN);
	s->admin = c->admin;
	s->ended = c->ended;
	s->nmembers = c->nmembers;
	s->nspans = c->nspans;
	if (c->nmembers)
		memcpy(s->members, c->members, c->nmembers * sizeof *c->members);
	if (c->nspans)
		memcpy(s->spans, c->spans, c->nspans * sizeof *c->spans);
}

static void assert_unchanged(const struct e2e_chain *c, const struct snap *s)
{
	struct snap now;
	snap_take(c, &now);
	assert_memory_equal(&now, s, sizeof now);
}

/* Refused with want, and nothing changed. */
static void refuse(struct e2e_chain *c, cc_err want, uint8_t action, const struct who *actor,
		   const struct who *subject, uint32_t epoch)
{
	struct snap s;
	snap_take(c, &s);
	assert_int_equal(step(c, action, actor, subject, epoch), want);
	assert_unchanged(c, &s);
}

static void assert_members(const struct e2e_chain *c, const struct who *const *want, size_t n)
{
	assert_int_equal(c->nmembers, n);
	for (size_t i = 0; i < n; i++) {
		assert_string_equal(c->members[i].nick, want[i]->nick);
		assert_memory_equal(c->members[i].fp, want[i]->fp, PROTO_FINGERPRINT_LEN);
		assert_ptr_equal(e2e_chain_member(c, want[i]->fp), &c->members[i]);
	}
}

/* CREATE by alice, ADD bob, ADD carol. */
static void base_chain(struct e2e_chain *c)
{
	e2e_chain_init(c, room_a);
	assert_int_equal(step(c, PROTO_REC_CREATE, &alice, &alice, 0), CC_OK);
	assert_int_equal(step(c, PROTO_REC_ADD, &alice, &bob, 0), CC_OK);
	assert_int_equal(step(c, PROTO_REC_ADD, &alice, &carol, 0), CC_OK);
}

static void test_chain_build(void **state)
{
	(void)state;
	struct e2e_chain c;
	struct proto_record rec;
	struct buf wire;
	uint8_t h[PROTO_HASH_LEN], commit0[PROTO_HASH_LEN];

	e2e_chain_init(&c, room_a);
	assert_int_equal(c.count, 0);
	assert_null(e2e_chain_commit(&c, 0));
	next_record(&c, &rec, PROTO_REC_CREATE, &alice, &alice, 0);
	sign(&rec, &alice, &wire);
	assert_int_equal(apply_with(&c, &wire, &known), CC_OK);
	e2e_record_hash(wire.data, wire.len, h);
	assert_memory_equal(c.last_hash, h, sizeof h);
	buf_free(&wire);
	assert_int_equal(c.count, 1);
	assert_string_equal(c.admin.nick, "alice");
	assert_memory_equal(c.admin.fp, alice.fp, PROTO_FINGERPRINT_LEN);

	next_record(&c, &rec, PROTO_REC_ADD, &alice, &bob, 0);
	sign(&rec, &alice, &wire);
	assert_int_equal(apply_with(&c, &wire, &known), CC_OK);
	e2e_record_hash(wire.data, wire.len, h);
	assert_memory_equal(c.last_hash, h, sizeof h);
	buf_free(&wire);
	assert_int_equal(step(&c, PROTO_REC_ADD, &alice, &carol, 0), CC_OK);

	const struct who *const want[] = {&alice, &bob, &carol};
	assert_members(&c, want, 3);
	assert_int_equal(c.count, 3);
	assert_int_equal(c.epoch, 0);
	assert_false(c.ended);
	assert_int_equal(c.ncommits, 1);
	epoch_commit(room_a, 0, commit0);
	assert_non_null(e2e_chain_commit(&c, 0));
	assert_memory_equal(e2e_chain_commit(&c, 0), commit0, PROTO_HASH_LEN);
	assert_null(e2e_chain_commit(&c, 1));
	assert_null(e2e_chain_member(&c, dave.fp));
	/* Nicks match without regard to case, as on the server. */
	assert_ptr_equal(e2e_chain_member_by_nick(&c, "BoB"), &c.members[1]);
	assert_null(e2e_chain_member_by_nick(&c, "dave"));
	const struct e2e_member *m = e2e_chain_sender(&c, "carol", 0);
	assert_non_null(m);
	assert_memory_equal(m->fp, carol.fp, PROTO_FINGERPRINT_LEN);
	assert_null(e2e_chain_sender(&c, "dave", 0));
	assert_null(e2e_chain_sender(&c, "", 0));
	e2e_chain_free(&c);
}

static void test_chain_create_rules(void **state)
{
	(void)state;
	struct e2e_chain c;
	struct proto_record rec;
	struct buf wire;
	struct snap s;

	e2e_chain_init(&c, room_a);
	snap_take(&c, &s);
	/* Nothing but a create opens a room. */
	refuse(&c, CC_ERR_STATE, PROTO_REC_ADD, &alice, &bob, 0);
	refuse(&c, CC_ERR_STATE, PROTO_REC_ADMIN, &alice, &bob, 0);
	refuse(&c, CC_ERR_STATE, PROTO_REC_LEAVE, &alice, &alice, 0);
	refuse(&c, CC_ERR_STATE, PROTO_REC_REKEY, &alice, &alice, 0);
	refuse(&c, CC_ERR_STATE, PROTO_REC_KICK, &alice, &bob, 0);
	/* actor = subject; epoch 0. */
	refuse(&c, CC_ERR_STATE, PROTO_REC_CREATE, &alice, &bob, 0);
	refuse(&c, CC_ERR_AUTH, PROTO_REC_CREATE, &alice, &alice, 1);
	/* seq 0 and a zero previous hash. */
	next_record(&c, &rec, PROTO_REC_CREATE, &alice, &alice, 0);
	rec.seq = 1;
	sign(&rec, &alice, &wire);
	assert_int_equal(apply_with(&c, &wire, &known), CC_ERR_AUTH);
	buf_free(&wire);
	next_record(&c, &rec, PROTO_REC_CREATE, &alice, &alice, 0);
	rec.prev_hash[31] = 1;
	sign(&rec, &alice, &wire);
	assert_int_equal(apply_with(&c, &wire, &known), CC_ERR_AUTH);
	buf_free(&wire);
	assert_unchanged(&c, &s);

	/* A second create, once the room exists, is not allowed. */
	assert_int_equal(step(&c, PROTO_REC_CREATE, &alice, &alice, 0), CC_OK);
	refuse(&c, CC_ERR_STATE, PROTO_REC_CREATE, &alice, &alice, 0);
	refuse(&c, CC_ERR_STATE, PROTO_REC_CREATE, &bob, &bob, 0);
	e2e_chain_free(&c);
}

static void test_chain_add_rules(void **state)
{
	(void)state;
	struct e2e_chain c;
	base_chain(&c);
	/* Only the admin adds; only non-members; the epoch stays. */
	refuse(&c, CC_ERR_STATE, PROTO_REC_ADD, &bob, &dave, 0);
	refuse(&c, CC_ERR_STATE, PROTO_REC_ADD, &alice, &bob, 0);
	refuse(&c, CC_ERR_STATE, PROTO_REC_ADD, &alice, &alice, 0);
	refuse(&c, CC_ERR_AUTH, PROTO_REC_ADD, &alice, &dave, 1);
	/* A member under another nick is still that member (by key). */
	struct who bob2 = bob;
	bob2.nick = "bobby";
	refuse(&c, CC_ERR_STATE, PROTO_REC_ADD, &alice, &bob2, 0);
	assert_int_equal(step(&c, PROTO_REC_ADD, &alice, &dave, 0), CC_OK);
	const struct who *const want[] = {&alice, &bob, &carol, &dave};
	assert_members(&c, want, 4);
	assert_non_null(e2e_chain_sender(&c, "dave", 0));
	e2e_chain_free(&c);
}

static void test_chain_kick(void **state)
{
	(void)state;
	struct e2e_chain c;
	uint8_t commit1[PROTO_HASH_LEN];
	base_chain(&c);

	/* Refused: by a non-admin, of the admin, of a non-member, without a
	 * new epoch, or skipping one. */
	refuse(&c, CC_ERR_STATE, PROTO_REC_KICK, &bob, &carol, 1);
	refuse(&c, CC_ERR_STATE, PROTO_REC_KICK, &alice, &alice, 1);
	refuse(&c, CC_ERR_STATE, PROTO_REC_KICK, &alice, &dave, 1);
	refuse(&c, CC_ERR_AUTH, PROTO_REC_KICK, &alice, &carol, 0);
	refuse(&c, CC_ERR_AUTH, PROTO_REC_KICK, &alice, &carol, 2);

	assert_int_equal(step(&c, PROTO_REC_KICK, &alice, &carol, 1), CC_OK);
	const struct who *const want[] = {&alice, &bob};
	assert_members(&c, want, 2);
	assert_int_equal(c.epoch, 1);
	assert_int_equal(c.ncommits, 2);
	epoch_commit(room_a, 1, commit1);
	assert_memory_equal(e2e_chain_commit(&c, 1), commit1, PROTO_HASH_LEN);
	/* Carol could send in epoch 0 (her old messages still verify), not
	 * in the epoch her expulsion started. */
	assert_non_null(e2e_chain_sender(&c, "carol", 0));
	assert_null(e2e_chain_sender(&c, "carol", 1));
	assert_non_null(e2e_chain_sender(&c, "bob", 1));
	assert_null(e2e_chain_member_by_nick(&c, "carol"));
	/* Gone: she cannot be expelled again, and cannot leave. */
	refuse(&c, CC_ERR_STATE, PROTO_REC_KICK, &alice, &carol, 2);
	refuse(&c, CC_ERR_STATE, PROTO_REC_LEAVE, &carol, &carol, 1);
	/* The admin may take her back, in the new epoch only. */
	assert_int_equal(step(&c, PROTO_REC_ADD, &alice, &carol, 1), CC_OK);
	assert_non_null(e2e_chain_sender(&c, "carol", 1));
	e2e_chain_free(&c);
}

static void test_chain_leave(void **state)
{
	(void)state;
	struct e2e_chain c;
	base_chain(&c);

	/* The admin cannot leave while others remain. */
	refuse(&c, CC_ERR_STATE, PROTO_REC_LEAVE, &alice, &alice, 0);
	/* One leaves only itself, only as a member, without a new epoch. */
	refuse(&c, CC_ERR_STATE, PROTO_REC_LEAVE, &bob, &carol, 0);
	refuse(&c, CC_ERR_STATE, PROTO_REC_LEAVE, &alice, &bob, 0);
	refuse(&c, CC_ERR_STATE, PROTO_REC_LEAVE, &dave, &dave, 0);
	refuse(&c, CC_ERR_AUTH, PROTO_REC_LEAVE, &bob, &bob, 1);

	assert_int_equal(step(&c, PROTO_REC_LEAVE, &bob, &bob, 0), CC_OK);
	const struct who *const want[] = {&alice, &carol};
	assert_members(&c, want, 2);
	assert_int_equal(c.epoch, 0);
	/* Until the admin's rekey, bob's epoch-0 messages still count. */
	assert_non_null(e2e_chain_sender(&c, "bob", 0));
	assert_int_equal(step(&c, PROTO_REC_REKEY, &alice, &alice, 1), CC_OK);
	assert_null(e2e_chain_sender(&c, "bob", 1));
	assert_non_null(e2e_chain_sender(&c, "bob", 0));
	assert_false(c.ended);
	e2e_chain_free(&c);
}

static void test_chain_admin(void **state)
{
	(void)state;
	struct e2e_chain c;
	base_chain(&c);

	/* Only the admin, to another member, without a new epoch. */
	refuse(&c, CC_ERR_STATE, PROTO_REC_ADMIN, &bob, &carol, 0);
	refuse(&c, CC_ERR_STATE, PROTO_REC_ADMIN, &bob, &bob, 0);
	refuse(&c, CC_ERR_STATE, PROTO_REC_ADMIN, &alice, &alice, 0);
	refuse(&c, CC_ERR_STATE, PROTO_REC_ADMIN, &alice, &dave, 0);
	refuse(&c, CC_ERR_AUTH, PROTO_REC_ADMIN, &alice, &bob, 1);

	assert_int_equal(step(&c, PROTO_REC_ADMIN, &alice, &bob, 0), CC_OK);
	assert_string_equal(c.admin.nick, "bob");
	assert_memory_equal(c.admin.fp, bob.fp, PROTO_FINGERPRINT_LEN);
	/* Membership is unchanged by a handover. */
	const struct who *const want[] = {&alice, &bob, &carol};
	assert_members(&c, want, 3);
	/* The old admin has lost every power, the new one has them. */
	refuse(&c, CC_ERR_STATE, PROTO_REC_ADD, &alice, &dave, 0);
	refuse(&c, CC_ERR_STATE, PROTO_REC_KICK, &alice, &carol, 1);
	refuse(&c, CC_ERR_STATE, PROTO_REC_REKEY, &alice, &alice, 1);
	refuse(&c, CC_ERR_STATE, PROTO_REC_ADMIN, &alice, &carol, 0);
	refuse(&c, CC_ERR_STATE, PROTO_REC_KICK, &bob, &bob, 1);
	assert_int_equal(step(&c, PROTO_REC_ADD, &bob, &dave, 0), CC_OK);
	/* And, no longer admin, alice may leave though others remain. */
	assert_int_equal(step(&c, PROTO_REC_LEAVE, &alice, &alice, 0), CC_OK);
	assert_null(e2e_chain_member(&c, alice.fp));
	assert_int_equal(step(&c, PROTO_REC_KICK, &bob, &carol, 1), CC_OK);
	e2e_chain_free(&c);
}

static void test_chain_rekey(void **state)
{
	(void)state;
	struct e2e_chain c;
	struct proto_record rec;
	struct buf wire;
	base_chain(&c);

	/* Only the admin, about itself, into exactly the next epoch. */
	refuse(&c, CC_ERR_STATE, PROTO_REC_REKEY, &bob, &bob, 1);
	refuse(&c, CC_ERR_STATE, PROTO_REC_REKEY, &alice, &bob, 1);
	refuse(&c, CC_ERR_AUTH, PROTO_REC_REKEY, &alice, &alice, 0);
	refuse(&c, CC_ERR_AUTH, PROTO_REC_REKEY, &alice, &alice, 2);

	assert_int_equal(step(&c, PROTO_REC_REKEY, &alice, &alice, 1), CC_OK);
	assert_int_equal(c.epoch, 1);
	assert_int_equal(c.ncommits, 2);
	assert_int_equal(step(&c, PROTO_REC_REKEY, &alice, &alice, 2), CC_OK);
	assert_int_equal(c.epoch, 2);
	const struct who *const want[] = {&alice, &bob, &carol};
	assert_members(&c, want, 3);
	/* Members added at epoch 0 send in every later epoch. */
	assert_non_null(e2e_chain_sender(&c, "carol", 2));
	/* Later records must commit to the new epoch's key, not an old one. */
	next_record(&c, &rec, PROTO_REC_ADD, &alice, &dave, 2);
	epoch_commit(room_a, 1, rec.key_commit);
	sign(&rec, &alice, &wire);
	struct snap s;
	snap_take(&c, &s);
	assert_int_equal(apply_with(&c, &wire, &known_all), CC_ERR_AUTH);
	assert_unchanged(&c, &s);
	buf_free(&wire);
	e2e_chain_free(&c);
}

static void test_chain_expire(void **state)
{
	(void)state;
	struct e2e_chain c;
	base_chain(&c);

	/* Only the admin expires another member; nobody expires itself; the
	 * epoch stays (a rekey follows). */
	refuse(&c, CC_ERR_STATE, PROTO_REC_EXPIRE, &bob, &carol, 0);
	refuse(&c, CC_ERR_STATE, PROTO_REC_EXPIRE, &alice, &dave, 0);
	refuse(&c, CC_ERR_STATE, PROTO_REC_EXPIRE, &bob, &bob, 0);
	refuse(&c, CC_ERR_STATE, PROTO_REC_EXPIRE, &alice, &alice, 0);
	refuse(&c, CC_ERR_AUTH, PROTO_REC_EXPIRE, &alice, &carol, 1);
	assert_int_equal(step(&c, PROTO_REC_EXPIRE, &alice, &carol, 0), CC_OK);
	const struct who *const want[] = {&alice, &bob};
	assert_members(&c, want, 2);
	assert_int_equal(c.epoch, 0);
	assert_memory_equal(c.admin.fp, alice.fp, PROTO_FINGERPRINT_LEN);
	/* Like a leave: her epoch-0 messages count until the rekey. */
	assert_non_null(e2e_chain_sender(&c, "carol", 0));
	assert_int_equal(step(&c, PROTO_REC_REKEY, &alice, &alice, 1), CC_OK);
	assert_null(e2e_chain_sender(&c, "carol", 1));
	e2e_chain_free(&c);

	/* An expired admin: another member records it and becomes the admin
	 * (carol here: bob may have expired too); a non-member cannot. */
	base_chain(&c);
	refuse(&c, CC_ERR_STATE, PROTO_REC_EXPIRE, &dave, &alice, 0);
	assert_int_equal(step(&c, PROTO_REC_EXPIRE, &carol, &alice, 0), CC_OK);
	assert_memory_equal(c.admin.fp, carol.fp, PROTO_FINGERPRINT_LEN);
	e2e_chain_free(&c);
	base_chain(&c);
	assert_int_equal(step(&c, PROTO_REC_EXPIRE, &bob, &alice, 0), CC_OK);
	assert_memory_equal(c.admin.fp, bob.fp, PROTO_FINGERPRINT_LEN);
	assert_null(e2e_chain_member(&c, alice.fp));
	assert_int_equal(step(&c, PROTO_REC_REKEY, &bob, &bob, 1), CC_OK);
	refuse(&c, CC_ERR_STATE, PROTO_REC_ADD, &alice, &dave, 1);
	e2e_chain_free(&c);
}

/* Signs rec with signer and expects an authentication refusal that changes
 * nothing. */
static void refuse_auth(struct e2e_chain *c, const struct proto_record *rec,
			const struct who *signer, struct keytab *tab)
{
	struct snap s;
	struct buf wire;
	snap_take(c, &s);
	sign(rec, signer, &wire);
	assert_int_equal(apply_with(c, &wire, tab), CC_ERR_AUTH);
	assert_unchanged(c, &s);
	buf_free(&wire);
}

static void test_chain_refusals(void **state)
{
	(void)state;
	struct e2e_chain c;
	struct proto_record rec;
	struct buf wire;
	struct snap s;
	base_chain(&c);

	/* Wrong seq: a replay of an old slot, or skipping one. */
	next_record(&c, &rec, PROTO_REC_ADD, &alice, &dave, 0);
	rec.seq = c.count - 1;
	refuse_auth(&c, &rec, &alice, &known_all);
	rec.seq = c.count + 1;
	refuse_auth(&c, &rec, &alice, &known_all);
	rec.seq = UINT32_MAX;
	refuse_auth(&c, &rec, &alice, &known_all);
	/* Wrong previous hash. */
	next_record(&c, &rec, PROTO_REC_ADD, &alice, &dave, 0);
	rec.prev_hash[0] ^= 0x80;
	refuse_auth(&c, &rec, &alice, &known_all);
	memset(rec.prev_hash, 0, PROTO_HASH_LEN);
	refuse_auth(&c, &rec, &alice, &known_all);
	/* Another room. */
	next_record(&c, &rec, PROTO_REC_ADD, &alice, &dave, 0);
	memcpy(rec.room_id, room_b, PROTO_ROOM_ID_LEN);
	refuse_auth(&c, &rec, &alice, &known_all);
	/* Wrong epoch, either way. */
	next_record(&c, &rec, PROTO_REC_ADD, &alice, &dave, 1);
	refuse_auth(&c, &rec, &alice, &known_all);
	next_record(&c, &rec, PROTO_REC_ADD, &alice, &dave, UINT32_MAX);
	refuse_auth(&c, &rec, &alice, &known_all);
	/* Wrong key commitment: another key, or the right key for another
	 * room. */
	next_record(&c, &rec, PROTO_REC_ADD, &alice, &dave, 0);
	rec.key_commit[5] ^= 1;
	refuse_auth(&c, &rec, &alice, &known_all);
	next_record(&c, &rec, PROTO_REC_ADD, &alice, &dave, 0);
	epoch_commit(room_b, 0, rec.key_commit);
	refuse_auth(&c, &rec, &alice, &known_all);
	/* Unknown actor: dave's key is not in the lookup. */
	next_record(&c, &rec, PROTO_REC_LEAVE, &dave, &dave, 0);
	refuse_auth(&c, &rec, &dave, &known);
	/* Signed by someone other than the actor. */
	next_record(&c, &rec, PROTO_REC_ADD, &alice, &dave, 0);
	refuse_auth(&c, &rec, &bob, &known_all);
	refuse_auth(&c, &rec, &dave, &known_all);
	/* A self-signed record naming a member's key still needs that key. */
	next_record(&c, &rec, PROTO_REC_LEAVE, &bob, &bob, 0);
	refuse_auth(&c, &rec, &carol, &known_all);

	/* A bad signature: any bit flipped anywhere in a good record (a flip
	 * may also break the parse or another check: never accepted). */
	next_record(&c, &rec, PROTO_REC_ADD, &alice, &dave, 0);
	sign(&rec, &alice, &wire);
	snap_take(&c, &s);
	for (size_t i = 0; i < wire.len; i++) {
		uint8_t bit = (uint8_t)(1u << (i % 8));
		wire.data[i] ^= bit;
		assert_int_not_equal(apply_with(&c, &wire, &known_all), CC_OK);
		assert_unchanged(&c, &s);
		wire.data[i] ^= bit;
	}
	/* The signature alone, bit by bit through one byte, and cut. */
	size_t sig_at = wire.len - crypto_rsa_size(alice.key);
	for (unsigned b = 0; b < 8; b++) {
		wire.data[sig_at + 100] ^= (uint8_t)(1u << b);
		assert_int_equal(apply_with(&c, &wire, &known_all), CC_ERR_AUTH);
		wire.data[sig_at + 100] ^= (uint8_t)(1u << b);
	}
	assert_unchanged(&c, &s);
	/* Then the untouched record applies. */
	assert_int_equal(apply_with(&c, &wire, &known_all), CC_OK);
	assert_int_equal(c.count, s.count + 1);
	/* And the same bytes again are a replay. */
	snap_take(&c, &s);
	assert_int_equal(apply_with(&c, &wire, &known_all), CC_ERR_AUTH);
	assert_unchanged(&c, &s);
	buf_free(&wire);

	/* Bytes that do not parse are refused with the decoder's code. */
	static const uint8_t junk[] = {PROTO_RECORD_VERSION, 1, 2, 3};
	const char *why = NULL;
	assert_int_equal(e2e_chain_apply(&c, junk, sizeof junk, keytab_lookup, &known_all, &why),
			 CC_ERR_TRUNCATED);
	assert_non_null(why);
	assert_int_equal(e2e_chain_apply(&c, junk, 0, keytab_lookup, &known_all, NULL),
			 CC_ERR_TRUNCATED);
	assert_unchanged(&c, &s);
	e2e_chain_free(&c);
}

/* The signature is checked before the rules: a forged record gets the
 * same answer whatever it asks for, and the lookup is asked only once, for
 * the actor. */
static void test_chain_auth_before_rules(void **state)
{
	(void)state;
	struct e2e_chain c;
	struct proto_record rec;
	base_chain(&c);
	next_record(&c, &rec, PROTO_REC_ADD, &bob, &dave, 0);  /* bob may not add */
	known_all.calls = 0;
	refuse_auth(&c, &rec, &carol, &known_all);
	assert_int_equal(known_all.calls, 1);
	next_record(&c, &rec, PROTO_REC_KICK, &alice, &alice, 1);
	refuse_auth(&c, &rec, &bob, &known_all);
	assert_int_equal(known_all.calls, 2);
	/* Checks that need no key come first: the lookup is not even asked. */
	next_record(&c, &rec, PROTO_REC_ADD, &alice, &dave, 0);
	rec.seq = 0;
	refuse_auth(&c, &rec, &alice, &known_all);
	assert_int_equal(known_all.calls, 2);
	e2e_chain_free(&c);
}

static void test_chain_end(void **state)
{
	(void)state;
	struct e2e_chain c;
	struct snap s;

	/* A room of one: its admin leaves, and the room is over. */
	e2e_chain_init(&c, room_b);
	assert_int_equal(step(&c, PROTO_REC_CREATE, &dave, &dave, 0), CC_OK);
	assert_int_equal(step(&c, PROTO_REC_LEAVE, &dave, &dave, 0), CC_OK);
	assert_true(c.ended);
	assert_int_equal(c.nmembers, 0);
	snap_take(&c, &s);
	refuse(&c, CC_ERR_STATE, PROTO_REC_CREATE, &dave, &dave, 0);
	refuse(&c, CC_ERR_STATE, PROTO_REC_ADD, &dave, &alice, 0);
	refuse(&c, CC_ERR_STATE, PROTO_REC_REKEY, &dave, &dave, 1);
	assert_unchanged(&c, &s);
	e2e_chain_free(&c);

	/* The full room empties: members go, the admin last. */
	base_chain(&c);
	assert_int_equal(step(&c, PROTO_REC_KICK, &alice, &bob, 1), CC_OK);
	refuse(&c, CC_ERR_STATE, PROTO_REC_LEAVE, &alice, &alice, 1);
	assert_int_equal(step(&c, PROTO_REC_LEAVE, &carol, &carol, 1), CC_OK);
	assert_false(c.ended);
	assert_int_equal(step(&c, PROTO_REC_LEAVE, &alice, &alice, 1), CC_OK);
	assert_true(c.ended);
	assert_int_equal(c.nmembers, 0);
	snap_take(&c, &s);
	refuse(&c, CC_ERR_STATE, PROTO_REC_ADD, &alice, &bob, 1);
	refuse(&c, CC_ERR_STATE, PROTO_REC_CREATE, &alice, &alice, 0);
	assert_unchanged(&c, &s);
	e2e_chain_free(&c);
}

/* ---- setup ---- */

static int load_key(const char *file, struct who *w)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/tests/data/%s", CC_SOURCE_DIR, file);
	return crypto_rsa_load_private_file(path, &w->key) == CC_OK ? 0 : -1;
}

static int identity_finish(struct who *w)
{
	if (crypto_rsa_fingerprint(w->key, w->fp) != CC_OK ||
	    e2e_signing_key_derive(w->key, w->seed, w->pub) != CC_OK)
		return -1;
	return 0;
}

static int group_setup(void **state)
{
	(void)state;
	if (crypto_init() != CC_OK || load_key("example_server_key.pem", &alice) ||
	    load_key("example_client_key.pem", &bob) ||
	    crypto_rsa_generate(2048, &carol.key) != CC_OK ||
	    crypto_rsa_generate(2048, &dave.key) != CC_OK)
		return -1;
	struct who *all[] = {&alice, &bob, &carol, &dave};
	for (size_t i = 0; i < 4; i++)
		if (identity_finish(all[i]))
			return -1;
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	struct who *all[] = {&alice, &bob, &carol, &dave};
	for (size_t i = 0; i < 4; i++) {
		crypto_rsa_free(all[i]->key);
		mem_wipe(all[i]->seed, sizeof all[i]->seed);
	}
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_signing_key_derive),
		cmocka_unit_test(test_signing_cert),
		cmocka_unit_test(test_key_wrap),
		cmocka_unit_test(test_key_commit),
		cmocka_unit_test(test_title),
		cmocka_unit_test(test_message_round_trip),
		cmocka_unit_test(test_message_not_utf8),
		cmocka_unit_test(test_message_bit_flips),
		cmocka_unit_test(test_message_wrong_keys),
		cmocka_unit_test(test_record_sign_verify),
		cmocka_unit_test(test_chain_build),
		cmocka_unit_test(test_chain_create_rules),
		cmocka_unit_test(test_chain_add_rules),
		cmocka_unit_test(test_chain_kick),
		cmocka_unit_test(test_chain_leave),
		cmocka_unit_test(test_chain_admin),
		cmocka_unit_test(test_chain_rekey),
		cmocka_unit_test(test_chain_expire),
		cmocka_unit_test(test_chain_refusals),
		cmocka_unit_test(test_chain_auth_before_rules),
		cmocka_unit_test(test_chain_end),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
