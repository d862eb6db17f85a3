/* The end-to-end layer (e2e/e2e.h), all but the membership chains
 * (test_e2e_chain.c): signing and receiving keys and their versioned
 * certificates, epoch secrets (HPKE wraps, commitments, the epoch base bound
 * to the record that opened the epoch), the per-sender ratchet, titles, and
 * signed messages naming their sender's chain head. People and fixed
 * secrets: tests/support/e2e_people.h. */
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
#include "support/e2e_people.h"
#include "util/buf.h"

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
	assert_int_equal(e2e_signing_cert_make(alice.key, 1, alice.pub, &cert), CC_OK);
	assert_int_equal(cert.len, crypto_rsa_size(alice.key));
	assert_int_equal(e2e_signing_cert_verify(alice.key, 1, alice.pub, cert.data, cert.len),
			 CC_OK);
	/* Under another identity, for another signing key, or altered: no. */
	assert_int_equal(e2e_signing_cert_verify(bob.key, 1, alice.pub, cert.data, cert.len),
			 CC_ERR_AUTH);
	assert_int_equal(e2e_signing_cert_verify(alice.key, 1, bob.pub, cert.data, cert.len),
			 CC_ERR_AUTH);
	assert_int_equal(e2e_signing_cert_verify(alice.key, 1, alice.pub, cert.data, cert.len - 1),
			 CC_ERR_AUTH);
	assert_int_equal(e2e_signing_cert_verify(alice.key, 1, alice.pub, cert.data, 0),
			 CC_ERR_AUTH);
	for (size_t i = 0; i < cert.len; i += 17) {
		cert.data[i] ^= 0x10;
		assert_int_equal(e2e_signing_cert_verify(alice.key, 1, alice.pub, cert.data,
							 cert.len), CC_ERR_AUTH);
		cert.data[i] ^= 0x10;
	}
	/* Bob's certificate of his own key is his, not alice's. */
	buf_reset(&cert);
	assert_int_equal(e2e_signing_cert_make(bob.key, 1, bob.pub, &cert), CC_OK);
	assert_int_equal(e2e_signing_cert_verify(bob.key, 1, bob.pub, cert.data, cert.len), CC_OK);
	assert_int_equal(e2e_signing_cert_verify(alice.key, 1, bob.pub, cert.data, cert.len),
			 CC_ERR_AUTH);
	/* A freshly generated identity's too. */
	buf_reset(&cert);
	assert_int_equal(e2e_signing_cert_make(dave.key, 1, dave.pub, &cert), CC_OK);
	assert_int_equal(e2e_signing_cert_verify(dave.key, 1, dave.pub, cert.data, cert.len),
			 CC_OK);
	assert_int_equal(e2e_signing_cert_verify(carol.key, 1, dave.pub, cert.data, cert.len),
			 CC_ERR_AUTH);
	buf_free(&cert);
}

/* The version is inside what the identity key signs: a certificate is for
 * one version only, so a server cannot pass an old key off as a newer one
 * (nor a new one as older). Version 0 means "none" and is never a key's. */
static void test_signing_cert_versions(void **state)
{
	(void)state;
	struct buf cert, cert1;

	buf_init(&cert, 0);
	buf_init(&cert1, 0);
	assert_int_equal(e2e_signing_cert_make(alice.key, 2, alice.pub, &cert), CC_OK);
	assert_int_equal(e2e_signing_cert_verify(alice.key, 2, alice.pub, cert.data, cert.len),
			 CC_OK);
	assert_int_equal(e2e_signing_cert_verify(alice.key, 1, alice.pub, cert.data, cert.len),
			 CC_ERR_AUTH);
	assert_int_equal(e2e_signing_cert_verify(alice.key, 3, alice.pub, cert.data, cert.len),
			 CC_ERR_AUTH);
	assert_int_equal(e2e_signing_cert_verify(alice.key, 0x02000000, alice.pub, cert.data,
						 cert.len), CC_ERR_AUTH);
	assert_int_equal(e2e_signing_cert_verify(alice.key, 0, alice.pub, cert.data, cert.len),
			 CC_ERR_AUTH);
	/* And version 1's certificate is version 1's only. */
	assert_int_equal(e2e_signing_cert_make(alice.key, 1, alice.pub, &cert1), CC_OK);
	assert_int_equal(e2e_signing_cert_verify(alice.key, 2, alice.pub, cert1.data, cert1.len),
			 CC_ERR_AUTH);
	assert_int_equal(e2e_signing_cert_verify(alice.key, 1, alice.pub, cert1.data, cert1.len),
			 CC_OK);
	/* The largest version works like any other. */
	buf_reset(&cert);
	assert_int_equal(e2e_signing_cert_make(bob.key, UINT32_MAX, bob.pub, &cert), CC_OK);
	assert_int_equal(e2e_signing_cert_verify(bob.key, UINT32_MAX, bob.pub, cert.data,
						 cert.len), CC_OK);
	assert_int_equal(e2e_signing_cert_verify(bob.key, UINT32_MAX - 1, bob.pub, cert.data,
						 cert.len), CC_ERR_AUTH);
	/* Version 0 is refused: nothing is signed, nothing verifies. */
	buf_reset(&cert);
	assert_int_equal(e2e_signing_cert_make(alice.key, 0, alice.pub, &cert), CC_ERR_MALFORMED);
	assert_int_equal(cert.len, 0);

	/* What is signed is docs/PROTOCOL.md's: L0("cryptocat/2 signing key")
	 * || u32 version || sign_pub, RSA-PSS by the identity key. */
	struct buf input;
	static const char label[] = "cryptocat/2 signing key";
	buf_init(&input, 0);
	assert_int_equal(buf_put_bytes(&input, label, sizeof label), CC_OK);
	assert_int_equal(buf_put_u32(&input, 0x01020304), CC_OK);
	assert_int_equal(buf_put_bytes(&input, alice.pub, CRYPTO_ED25519_PUB_LEN), CC_OK);
	assert_int_equal(e2e_signing_cert_make(alice.key, 0x01020304, alice.pub, &cert), CC_OK);
	assert_int_equal(crypto_rsa_pss_verify(alice.key, input.data, input.len, cert.data,
					       cert.len), CC_OK);
	buf_free(&input);
	buf_free(&cert);
	buf_free(&cert1);
}

/* ---- epoch secrets and keys ---- */

static void test_key_wrap(void **state)
{
	(void)state;
	static const uint8_t zero[E2E_KEY_LEN];
	uint8_t key[E2E_KEY_LEN], other[E2E_KEY_LEN], got[E2E_KEY_LEN];
	uint8_t bob_priv[32], bob_pub[32], alice_priv[32], alice_pub[32];
	uint32_t version = 0;
	struct buf wrapped;

	assert_int_equal(crypto_x25519_keypair(bob_priv, bob_pub), CC_OK);
	assert_int_equal(crypto_x25519_keypair(alice_priv, alice_pub), CC_OK);
	assert_int_equal(e2e_epoch_secret_new(key), CC_OK);
	assert_memory_not_equal(key, zero, sizeof key);
	/* Each is fresh. */
	assert_int_equal(e2e_epoch_secret_new(other), CC_OK);
	assert_memory_not_equal(key, other, sizeof key);
	buf_init(&wrapped, 0);
	assert_int_equal(e2e_key_wrap(bob_pub, 7, bob.fp, room_a, 3, key, &wrapped), CC_OK);
	assert_int_equal(wrapped.len, E2E_WRAPPED_LEN);
	assert_int_equal(e2e_wrapped_version(wrapped.data, wrapped.len, &version), CC_OK);
	assert_int_equal(version, 7);
	assert_int_equal(e2e_key_unwrap(bob_priv, bob.fp, room_a, 3, wrapped.data, wrapped.len,
					got),
			 CC_OK);
	assert_memory_equal(got, key, sizeof key);

	/* The HPKE info binds room, epoch, recipient and key version: the server
	 * cannot move a wrap. A failed unwrap leaves no key behind. */
	memset(got, 0x55, sizeof got);
	assert_int_equal(e2e_key_unwrap(bob_priv, bob.fp, room_b, 3, wrapped.data, wrapped.len,
					got),
			 CC_ERR_AUTH);
	assert_memory_equal(got, zero, sizeof got);
	assert_int_equal(e2e_key_unwrap(bob_priv, bob.fp, room_a, 4, wrapped.data, wrapped.len,
					got),
			 CC_ERR_AUTH);
	assert_int_equal(e2e_key_unwrap(bob_priv, bob.fp, room_a, 2, wrapped.data, wrapped.len,
					got),
			 CC_ERR_AUTH);
	assert_int_equal(e2e_key_unwrap(bob_priv, carol.fp, room_a, 3, wrapped.data, wrapped.len,
					got),
			 CC_ERR_AUTH);
	/* Only its member's receiving key opens it. */
	assert_int_equal(e2e_key_unwrap(alice_priv, bob.fp, room_a, 3, wrapped.data, wrapped.len,
					got),
			 CC_ERR_AUTH);
	/* Another version number, altered or cut. */
	wrapped.data[3] ^= 1;
	assert_int_equal(e2e_key_unwrap(bob_priv, bob.fp, room_a, 3, wrapped.data, wrapped.len,
					got),
			 CC_ERR_AUTH);
	wrapped.data[3] ^= 1;
	assert_int_equal(e2e_key_unwrap(bob_priv, bob.fp, room_a, 3, wrapped.data,
					wrapped.len - 1, got),
			 CC_ERR_AUTH);
	assert_int_equal(e2e_key_unwrap(bob_priv, bob.fp, room_a, 3, wrapped.data, 0, got),
			 CC_ERR_AUTH);
	wrapped.data[wrapped.len / 2] ^= 1;
	assert_int_equal(e2e_key_unwrap(bob_priv, bob.fp, room_a, 3, wrapped.data, wrapped.len,
					got),
			 CC_ERR_AUTH);
	buf_free(&wrapped);

	/* Two wraps of one key differ (a fresh ephemeral key each) and both open. */
	struct buf w1, w2;
	buf_init(&w1, 0);
	buf_init(&w2, 0);
	assert_int_equal(e2e_key_wrap(alice_pub, 1, alice.fp, room_a, 0, key, &w1), CC_OK);
	assert_int_equal(e2e_key_wrap(alice_pub, 1, alice.fp, room_a, 0, key, &w2), CC_OK);
	assert_memory_not_equal(w1.data, w2.data, w1.len);
	assert_int_equal(e2e_key_unwrap(alice_priv, alice.fp, room_a, 0, w2.data, w2.len, got),
			 CC_OK);
	assert_memory_equal(got, key, sizeof key);
	buf_free(&w1);
	buf_free(&w2);
	mem_wipe(bob_priv, sizeof bob_priv);
	mem_wipe(alice_priv, sizeof alice_priv);
}

/* A receiving key's certificate: the identity key's signature over version,
 * time and key; any change, or another identity key, refuses it. */
static void test_recv_cert(void **state)
{
	(void)state;
	uint8_t priv[32], pub[32], pub2[32];
	struct buf cert;

	assert_int_equal(crypto_x25519_keypair(priv, pub), CC_OK);
	memcpy(pub2, pub, sizeof pub2);
	pub2[0] ^= 1;
	buf_init(&cert, 0);
	assert_int_equal(e2e_recv_cert_make(alice.key, 3, 1000, pub, &cert), CC_OK);
	assert_int_equal(e2e_recv_cert_verify(alice.key, 3, 1000, pub, cert.data, cert.len), CC_OK);
	assert_int_equal(e2e_recv_cert_verify(alice.key, 4, 1000, pub, cert.data, cert.len),
			 CC_ERR_AUTH);
	assert_int_equal(e2e_recv_cert_verify(alice.key, 3, 1001, pub, cert.data, cert.len),
			 CC_ERR_AUTH);
	assert_int_equal(e2e_recv_cert_verify(alice.key, 3, 1000, pub2, cert.data, cert.len),
			 CC_ERR_AUTH);
	assert_int_equal(e2e_recv_cert_verify(bob.key, 3, 1000, pub, cert.data, cert.len),
			 CC_ERR_AUTH);
	assert_int_equal(e2e_recv_cert_make(alice.key, 0, 1000, pub, &cert), CC_ERR_MALFORMED);
	assert_int_equal(e2e_recv_cert_verify(alice.key, 0, 1000, pub, cert.data, cert.len),
			 CC_ERR_AUTH);
	/* Not interchangeable with a signing key's certificate. */
	buf_reset(&cert);
	assert_int_equal(e2e_signing_cert_make(alice.key, 3, pub, &cert), CC_OK);
	assert_int_equal(e2e_recv_cert_verify(alice.key, 3, 0, pub, cert.data, cert.len),
			 CC_ERR_AUTH);
	buf_free(&cert);
	mem_wipe(priv, sizeof priv);
}


/* The ratchet: each sender's chain starts from the epoch base and its
 * fingerprint; a step gives a message key and the next chain key, neither
 * equal to the chain key, and is deterministic. */
static void test_ratchet(void **state)
{
	(void)state;
	uint8_t base[E2E_KEY_LEN], ck_a[E2E_KEY_LEN], ck_b[E2E_KEY_LEN], again[E2E_KEY_LEN];
	uint8_t mk1[E2E_KEY_LEN], mk2[E2E_KEY_LEN], ck2[E2E_KEY_LEN], ck3[E2E_KEY_LEN];
	uint8_t title[E2E_KEY_LEN];

	epoch_key(2, base);
	assert_int_equal(e2e_chain_start(base, alice.fp, ck_a), CC_OK);
	assert_int_equal(e2e_chain_start(base, bob.fp, ck_b), CC_OK);
	assert_int_equal(e2e_chain_start(base, alice.fp, again), CC_OK);
	assert_memory_equal(ck_a, again, sizeof again);
	assert_memory_not_equal(ck_a, ck_b, sizeof ck_a);
	assert_memory_not_equal(ck_a, base, sizeof ck_a);
	assert_int_equal(e2e_title_key(base, title), CC_OK);
	assert_memory_not_equal(title, ck_a, sizeof title);
	assert_memory_not_equal(title, base, sizeof title);

	assert_int_equal(e2e_ratchet_step(ck_a, mk1, ck2), CC_OK);
	assert_memory_not_equal(mk1, ck_a, sizeof mk1);
	assert_memory_not_equal(ck2, ck_a, sizeof ck2);
	assert_memory_not_equal(mk1, ck2, sizeof mk1);
	assert_int_equal(e2e_ratchet_step(ck2, mk2, ck3), CC_OK);
	assert_memory_not_equal(mk2, mk1, sizeof mk2);
	/* In place, as the client steps its stored chain. */
	memcpy(again, ck_a, sizeof again);
	uint8_t mk_again[E2E_KEY_LEN];
	assert_int_equal(e2e_ratchet_step(again, mk_again, again), CC_OK);
	assert_memory_equal(mk_again, mk1, sizeof mk1);
	assert_memory_equal(again, ck2, sizeof ck2);

	/* A message sealed with the second key opens with it, not with the first. */
	struct proto_envelope env;
	struct buf wire;
	uint8_t text[16];
	size_t n = 0;
	header_for(&env, &alice, 2, 2);
	buf_init(&wire, PROTO_ENVELOPE_MAX);
	assert_int_equal(e2e_message_seal(alice.seed, mk2, &env, (const uint8_t *)"two", 3, &wire),
			 CC_OK);
	assert_int_equal(proto_envelope_decode(wire.data, wire.len, &env), CC_OK);
	assert_int_equal(e2e_message_open(alice.pub, mk2, &env, text, &n), CC_OK);
	assert_int_equal(e2e_message_open(alice.pub, mk1, &env, text, &n), CC_ERR_AUTH);
	buf_free(&wire);
}

static void test_key_commit(void **state)
{
	(void)state;
	uint8_t key[E2E_KEY_LEN], key2[E2E_KEY_LEN];
	uint8_t c[PROTO_HASH_LEN], again[PROTO_HASH_LEN], other[PROTO_HASH_LEN];

	epoch_secret(0, key);
	epoch_secret(1, key2);
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

/* The epoch key: HKDF of the secret, salted with the chain hash of the record
 * that opened the epoch, for one room and epoch. Deterministic (every member
 * derives it alone), and different whenever any input differs: members shown
 * different chains get different keys. */
static void test_epoch_base(void **state)
{
	(void)state;
	static const uint8_t zero[E2E_KEY_LEN];
	uint8_t secret[E2E_KEY_LEN], secret2[E2E_KEY_LEN], hash[PROTO_HASH_LEN],
		hash2[PROTO_HASH_LEN];
	uint8_t key[E2E_KEY_LEN], again[E2E_KEY_LEN], other[E2E_KEY_LEN];

	epoch_secret(4, secret);
	epoch_secret(5, secret2);
	open_hash_of(4, hash);
	memcpy(hash2, hash, sizeof hash2);
	hash2[PROTO_HASH_LEN - 1] ^= 1;  /* one bit of the open hash */

	assert_int_equal(e2e_epoch_base(secret, room_a, 4, hash, key), CC_OK);
	assert_int_equal(e2e_epoch_base(secret, room_a, 4, hash, again), CC_OK);
	assert_memory_equal(key, again, sizeof key);
	assert_memory_not_equal(key, zero, sizeof key);
	/* Not the secret itself, nor the commitment to it. */
	assert_memory_not_equal(key, secret, sizeof key);
	uint8_t commit[PROTO_HASH_LEN];
	e2e_key_commit(room_a, 4, secret, commit);
	assert_memory_not_equal(key, commit, sizeof key);

	const uint8_t *keys[4];
	uint8_t k_hash[E2E_KEY_LEN], k_room[E2E_KEY_LEN], k_epoch[E2E_KEY_LEN];
	assert_int_equal(e2e_epoch_base(secret, room_a, 4, hash2, k_hash), CC_OK);
	assert_int_equal(e2e_epoch_base(secret, room_b, 4, hash, k_room), CC_OK);
	assert_int_equal(e2e_epoch_base(secret, room_a, 5, hash, k_epoch), CC_OK);
	assert_int_equal(e2e_epoch_base(secret2, room_a, 4, hash, other), CC_OK);
	keys[0] = k_hash;
	keys[1] = k_room;
	keys[2] = k_epoch;
	keys[3] = other;
	for (size_t i = 0; i < 4; i++) {
		assert_memory_not_equal(keys[i], key, E2E_KEY_LEN);
		for (size_t j = i + 1; j < 4; j++)
			assert_memory_not_equal(keys[i], keys[j], E2E_KEY_LEN);
	}

	/* docs/PROTOCOL.md's construction: HKDF(secret, salt = H_open, info =
	 * L0("cryptocat/3 epoch") || room_id || u32 epoch, 32). */
	static const char label[] = "cryptocat/3 epoch";
	struct buf info;
	uint8_t want[E2E_KEY_LEN];
	buf_init(&info, 0);
	assert_int_equal(buf_put_bytes(&info, label, sizeof label), CC_OK);
	assert_int_equal(buf_put_bytes(&info, room_a, PROTO_ROOM_ID_LEN), CC_OK);
	assert_int_equal(buf_put_u32(&info, 4), CC_OK);
	assert_int_equal(crypto_hkdf_sha256(secret, E2E_KEY_LEN, hash, PROTO_HASH_LEN, info.data,
					    info.len, want, sizeof want), CC_OK);
	assert_memory_equal(key, want, sizeof key);
	buf_free(&info);

	/* A title sealed under one epoch key opens under no other. */
	struct buf ct;
	char out[E2E_TITLE_MAX + 1];
	buf_init(&ct, 0);
	assert_int_equal(e2e_title_seal(key, room_a, 4, "plans", &ct), CC_OK);
	assert_int_equal(e2e_title_open(again, room_a, 4, ct.data, ct.len, out), CC_OK);
	assert_string_equal(out, "plans");
	assert_int_equal(e2e_title_open(k_hash, room_a, 4, ct.data, ct.len, out), CC_ERR_AUTH);
	assert_int_equal(e2e_title_open(secret, room_a, 4, ct.data, ct.len, out), CC_ERR_AUTH);
	buf_free(&ct);
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


static void seal(const struct who *sender, uint32_t epoch, uint64_t seq, const void *text,
		 size_t len, struct buf *out)
{
	struct proto_envelope env;
	uint8_t key[E2E_KEY_LEN];
	epoch_key(epoch, key);
	header_for(&env, sender, epoch, seq);
	buf_init(out, PROTO_ENVELOPE_MAX);
	assert_int_equal(e2e_message_seal(sender->seed, key, &env, text, len, out), CC_OK);
	/* The overhead of an envelope of version 2: 133 bytes as in version 1,
	 * 36 more for the head (u32 seq, 32-byte hash), plus the nickname. */
	assert_int_equal(out->len, len + 133 + 4 + PROTO_HASH_LEN + strlen(sender->nick));
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
		assert_int_equal(env.head_seq, 1 + 7);
		for (size_t k = 0; k < PROTO_HASH_LEN; k++)
			assert_int_equal(env.head_hash[k], (uint8_t)(0x30 + 1 + k));
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

/* The two halves of e2e_message_open, for a caller that checks more in
 * between: verify is the signature alone, decrypt the AEAD alone (the
 * header is its associated data), and open is verify then decrypt. */
static void test_message_verify_decrypt(void **state)
{
	(void)state;
	uint8_t text[64], key[E2E_KEY_LEN], wrong[E2E_KEY_LEN];
	size_t n = 99;
	struct proto_envelope env;
	struct buf wire, forged;

	epoch_key(1, key);
	epoch_key(2, wrong);
	seal(&bob, 1, 5, "halves", 6, &wire);
	assert_int_equal(proto_envelope_decode(wire.data, wire.len, &env), CC_OK);
	assert_int_equal(e2e_message_verify(bob.pub, &env), CC_OK);
	assert_int_equal(e2e_message_verify(carol.pub, &env), CC_ERR_AUTH);
	assert_int_equal(e2e_message_decrypt(key, &env, text, &n), CC_OK);
	assert_int_equal(n, 6);
	assert_memory_equal(text, "halves", 6);
	/* Under another key: refused, no text left behind, the length as it
	 * was. */
	n = 99;
	memset(text, 0x5a, sizeof text);
	assert_int_equal(e2e_message_decrypt(wrong, &env, text, &n), CC_ERR_AUTH);
	assert_int_equal(n, 99);
	for (size_t i = 0; i < 6; i++)
		assert_int_equal(text[i], 0);
	/* open: the signature is checked first, so a wrong signer is AUTH
	 * whatever the key. */
	assert_int_equal(e2e_message_open(carol.pub, key, &env, text, &n), CC_ERR_AUTH);
	assert_int_equal(e2e_message_open(bob.pub, wrong, &env, text, &n), CC_ERR_AUTH);
	assert_int_equal(e2e_message_open(bob.pub, key, &env, text, &n), CC_OK);

	/* decrypt does not look at the signature (that is verify's job)... */
	wire.data[wire.len - 1] ^= 0x01;
	assert_int_equal(proto_envelope_decode(wire.data, wire.len, &env), CC_OK);
	assert_int_equal(e2e_message_verify(bob.pub, &env), CC_ERR_AUTH);
	assert_int_equal(e2e_message_decrypt(key, &env, text, &n), CC_OK);
	assert_int_equal(e2e_message_open(bob.pub, key, &env, text, &n), CC_ERR_AUTH);
	wire.data[wire.len - 1] ^= 0x01;
	/* ...but the header is its associated data: another seq or head
	 * does not decrypt, even with the right key. */
	assert_int_equal(proto_envelope_decode(wire.data, wire.len, &env), CC_OK);
	env.seq = 6;
	buf_init(&forged, 0);
	assert_int_equal(proto_envelope_encode(&env, &forged), CC_OK);
	assert_int_equal(proto_envelope_decode(forged.data, forged.len, &env), CC_OK);
	assert_int_equal(e2e_message_decrypt(key, &env, text, &n), CC_ERR_AUTH);
	buf_free(&forged);
	assert_int_equal(proto_envelope_decode(wire.data, wire.len, &env), CC_OK);
	env.head_hash[0] ^= 0x01;
	buf_init(&forged, 0);
	assert_int_equal(proto_envelope_encode(&env, &forged), CC_OK);
	assert_int_equal(proto_envelope_decode(forged.data, forged.len, &env), CC_OK);
	assert_int_equal(e2e_message_decrypt(key, &env, text, &n), CC_ERR_AUTH);
	buf_free(&forged);
	buf_free(&wire);

	/* A validly sealed text that is not UTF-8: verify passes, decrypt
	 * says so. */
	seal(&bob, 1, 7, "ok\xff", 3, &wire);
	assert_int_equal(proto_envelope_decode(wire.data, wire.len, &env), CC_OK);
	assert_int_equal(e2e_message_verify(bob.pub, &env), CC_OK);
	assert_int_equal(e2e_message_decrypt(key, &env, text, &n), CC_ERR_MALFORMED);
	buf_free(&wire);
}

/* The chain head a message names is signed and authenticated with the rest
 * of the header: the server cannot move a message onto another history. */
static void test_message_head(void **state)
{
	(void)state;
	uint8_t text[64], key[E2E_KEY_LEN];
	size_t n = 0;
	struct proto_envelope env, got;
	struct buf wire, forged;

	epoch_key(6, key);
	header_for(&env, &carol, 6, 3);
	env.head_seq = UINT32_MAX;
	memset(env.head_hash, 0xc4, PROTO_HASH_LEN);
	buf_init(&wire, PROTO_ENVELOPE_MAX);
	assert_int_equal(e2e_message_seal(carol.seed, key, &env, (const uint8_t *)"head", 4, &wire),
			 CC_OK);
	assert_int_equal(proto_envelope_decode(wire.data, wire.len, &got), CC_OK);
	assert_int_equal(got.head_seq, UINT32_MAX);
	assert_memory_equal(got.head_hash, env.head_hash, PROTO_HASH_LEN);
	assert_int_equal(e2e_message_open(carol.pub, key, &got, text, &n), CC_OK);
	assert_int_equal(n, 4);
	assert_memory_equal(text, "head", 4);

	/* Each byte of the head, flipped on the wire: no longer opens. */
	size_t head_at = 1 + PROTO_ROOM_ID_LEN + 4 + 2 + strlen(carol.nick) + 8 + 8;
	for (size_t i = head_at; i < head_at + 4 + PROTO_HASH_LEN; i++) {
		wire.data[i] ^= 0x04;
		assert_int_equal(proto_envelope_decode(wire.data, wire.len, &got), CC_OK);
		assert_int_equal(e2e_message_open(carol.pub, key, &got, text, &n), CC_ERR_AUTH);
		wire.data[i] ^= 0x04;
	}
	/* Another head put in by re-encoding: the signature does not cover it. */
	assert_int_equal(proto_envelope_decode(wire.data, wire.len, &got), CC_OK);
	got.head_seq = 0;
	buf_init(&forged, 0);
	assert_int_equal(proto_envelope_encode(&got, &forged), CC_OK);
	assert_int_equal(proto_envelope_decode(forged.data, forged.len, &got), CC_OK);
	assert_int_equal(got.head_seq, 0);
	assert_int_equal(e2e_message_open(carol.pub, key, &got, text, &n), CC_ERR_AUTH);
	buf_free(&forged);
	/* The untouched message still opens. */
	assert_int_equal(proto_envelope_decode(wire.data, wire.len, &got), CC_OK);
	assert_int_equal(e2e_message_open(carol.pub, key, &got, text, &n), CC_OK);
	buf_free(&wire);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_signing_key_derive),
		cmocka_unit_test(test_signing_cert),
		cmocka_unit_test(test_signing_cert_versions),
		cmocka_unit_test(test_key_wrap),
		cmocka_unit_test(test_recv_cert),
		cmocka_unit_test(test_ratchet),
		cmocka_unit_test(test_key_commit),
		cmocka_unit_test(test_epoch_base),
		cmocka_unit_test(test_title),
		cmocka_unit_test(test_message_round_trip),
		cmocka_unit_test(test_message_not_utf8),
		cmocka_unit_test(test_message_bit_flips),
		cmocka_unit_test(test_message_wrong_keys),
		cmocka_unit_test(test_message_head),
		cmocka_unit_test(test_message_verify_decrypt),
	};
	return cmocka_run_group_tests(tests, people_setup, people_teardown);
}
