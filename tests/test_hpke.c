/* HPKE (src/crypto/hpke.c) against RFC 9180's vectors in tests/data/hpke/,
 * then the product's single-shot form: round trips, and every way a wrapped
 * value can be refused (another key, info, aad, a changed byte, a low-order
 * ephemeral key, a short input). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "crypto/crypto.h"

#define HPKE_VECTORS CC_SOURCE_DIR "/tests/data/hpke/rfc9180_base_x25519.json"

/* The hex string at key decoded into out (exactly n bytes, or the test fails);
 * returns its length when n is 0 (out must hold 256 bytes then). */
static size_t unhex(const json_t *o, const char *key, uint8_t *out, size_t n)
{
	const char *s = json_string_value(json_object_get(o, key));
	assert_non_null(s);
	size_t len = strlen(s) / 2;
	if (n)
		assert_int_equal(len, n);
	assert_true(len <= (n ? n : 256));
	assert_int_equal(hex_decode(s, out, len), CC_OK);
	return len;
}

static void test_rfc9180_vectors(void **state)
{
	(void)state;
	json_error_t jerr;
	json_t *root = json_load_file(HPKE_VECTORS, 0, &jerr);
	assert_non_null(root);
	assert_true(json_array_size(root) >= 1);
	size_t i, cases = 0;
	json_t *v;
	json_array_foreach(root, i, v) {
		uint8_t sk_r[32], sk_e[32], pk_r[32], pk_e[32], enc[32], want_enc[32], ss[32];
		uint8_t key[32], nonce[12], info[256];
		enum crypto_hpke_aead aead = (enum crypto_hpke_aead)json_integer_value(
			json_object_get(v, "aead_id"));
		assert_int_equal(json_integer_value(json_object_get(v, "mode")), 0);
		assert_int_equal(json_integer_value(json_object_get(v, "kem_id")), 0x20);
		assert_int_equal(json_integer_value(json_object_get(v, "kdf_id")), 1);
		size_t key_len = aead == CRYPTO_HPKE_AES_128_GCM ? 16 : 32;
		unhex(v, "skRm", sk_r, 32);
		unhex(v, "skEm", sk_e, 32);
		unhex(v, "pkRm", pk_r, 32);
		unhex(v, "pkEm", pk_e, 32);
		unhex(v, "enc", want_enc, 32);
		unhex(v, "shared_secret", ss, 32);
		unhex(v, "key", key, key_len);
		unhex(v, "base_nonce", nonce, 12);
		size_t info_len = unhex(v, "info", info, 0);

		uint8_t pub[32];
		assert_int_equal(crypto_x25519_public(sk_r, pub), CC_OK);
		assert_memory_equal(pub, pk_r, 32);

		struct crypto_hpke_ctx s, r;
		assert_int_equal(crypto_hpke_setup_sender(aead, pk_r, sk_e, info, info_len, enc, &s),
				 CC_OK);
		assert_memory_equal(enc, want_enc, 32);
		assert_memory_equal(enc, pk_e, 32);
		assert_memory_equal(s.shared_secret, ss, 32);
		assert_int_equal(s.key_len, key_len);
		assert_memory_equal(s.key, key, key_len);
		assert_memory_equal(s.base_nonce, nonce, 12);
		assert_int_equal(crypto_hpke_setup_recipient(aead, sk_r, enc, info, info_len, &r),
				 CC_OK);
		assert_memory_equal(r.shared_secret, ss, 32);
		assert_memory_equal(r.key, key, key_len);

		size_t k;
		json_t *e;
		json_array_foreach(json_object_get(v, "encryptions"), k, e) {
			uint8_t aad[64], pt[256], ct[256], out[256];
			size_t aad_len = unhex(e, "aad", aad, 0);
			size_t pt_len = unhex(e, "plaintext", pt, 0);
			size_t ct_len = unhex(e, "ciphertext", ct, 0);
			assert_int_equal(json_integer_value(json_object_get(e, "seq")), (json_int_t)k);
			assert_int_equal(ct_len, pt_len + 16);
			assert_int_equal(crypto_hpke_ctx_seal(&s, aad, aad_len, pt, pt_len, out), CC_OK);
			assert_memory_equal(out, ct, ct_len);
			assert_int_equal(crypto_hpke_ctx_open(&r, aad, aad_len, ct, ct_len, out), CC_OK);
			assert_memory_equal(out, pt, pt_len);
			cases++;
		}
		crypto_hpke_ctx_wipe(&s);
		crypto_hpke_ctx_wipe(&r);
	}
	assert_true(cases >= 2);
	fprintf(stderr, "[hpke] %zu RFC 9180 encryptions checked\n", cases);
	json_decref(root);
}

static void test_single_shot(void **state)
{
	(void)state;
	uint8_t sk[32], pk[32], sk2[32], pk2[32], out[64];
	const uint8_t info[] = "info", aad[] = "aad", secret[32] = {1, 2, 3};
	struct buf wrapped;

	assert_int_equal(crypto_x25519_keypair(sk, pk), CC_OK);
	assert_int_equal(crypto_x25519_keypair(sk2, pk2), CC_OK);
	buf_init(&wrapped, 256);
	assert_int_equal(crypto_hpke_seal(pk, info, 4, aad, 3, secret, 32, &wrapped), CC_OK);
	assert_int_equal(wrapped.len, 32 + 32 + 16);
	assert_int_equal(crypto_hpke_open(sk, info, 4, aad, 3, wrapped.data, wrapped.len, out),
			 CC_OK);
	assert_memory_equal(out, secret, 32);

	/* Another recipient, info or aad: refused. */
	assert_int_equal(crypto_hpke_open(sk2, info, 4, aad, 3, wrapped.data, wrapped.len, out),
			 CC_ERR_AUTH);
	assert_int_equal(crypto_hpke_open(sk, (const uint8_t *)"infx", 4, aad, 3, wrapped.data,
					  wrapped.len, out),
			 CC_ERR_AUTH);
	assert_int_equal(crypto_hpke_open(sk, info, 4, (const uint8_t *)"aax", 3, wrapped.data,
					  wrapped.len, out),
			 CC_ERR_AUTH);
	/* Any byte changed, in enc or ciphertext: refused. */
	for (size_t i = 0; i < wrapped.len; i++) {
		wrapped.data[i] ^= 0x01;
		assert_int_equal(crypto_hpke_open(sk, info, 4, aad, 3, wrapped.data, wrapped.len,
						  out),
				 CC_ERR_AUTH);
		wrapped.data[i] ^= 0x01;
	}
	/* Too short. */
	assert_int_equal(crypto_hpke_open(sk, info, 4, aad, 3, wrapped.data, 47, out), CC_ERR_AUTH);
	/* A low-order ephemeral key (all zeros) gives an all-zero DH: refused. */
	memset(wrapped.data, 0, 32);
	assert_int_equal(crypto_hpke_open(sk, info, 4, aad, 3, wrapped.data, wrapped.len, out),
			 CC_ERR_AUTH);
	/* Sealing to a low-order key fails too. */
	uint8_t zero[32] = {0};
	buf_reset(&wrapped);
	assert_int_not_equal(crypto_hpke_seal(zero, info, 4, aad, 3, secret, 32, &wrapped), CC_OK);
	assert_int_equal(wrapped.len, 0);
	buf_free(&wrapped);
}

static void test_hkdf_halves(void **state)
{
	(void)state;
	/* RFC 5869 test case 1: extract then expand equals the one-shot form. */
	uint8_t ikm[22], salt[13], info[10], prk[32], okm[42], okm2[42];
	memset(ikm, 0x0b, sizeof ikm);
	for (int i = 0; i < 13; i++)
		salt[i] = (uint8_t)i;
	for (int i = 0; i < 10; i++)
		info[i] = (uint8_t)(0xf0 + i);
	static const uint8_t want_prk[32] = {
		0x07, 0x77, 0x09, 0x36, 0x2c, 0x2e, 0x32, 0xdf, 0x0d, 0xdc, 0x3f,
		0x0d, 0xc4, 0x7b, 0xba, 0x63, 0x90, 0xb6, 0xc7, 0x3b, 0xb5, 0x0f,
		0x9c, 0x31, 0x22, 0xec, 0x84, 0x4a, 0xd7, 0xc2, 0xb3, 0xe5};
	assert_int_equal(crypto_hkdf_extract(salt, sizeof salt, ikm, sizeof ikm, prk), CC_OK);
	assert_memory_equal(prk, want_prk, 32);
	assert_int_equal(crypto_hkdf_expand(prk, 32, info, sizeof info, okm, sizeof okm), CC_OK);
	assert_int_equal(crypto_hkdf_sha256(ikm, sizeof ikm, salt, sizeof salt, info, sizeof info,
					    okm2, sizeof okm2),
			 CC_OK);
	assert_memory_equal(okm, okm2, sizeof okm);
	static const uint8_t want_okm_head[8] = {0x3c, 0xb2, 0x5f, 0x25, 0xfa, 0xac, 0xd5, 0x7a};
	assert_memory_equal(okm, want_okm_head, 8);

	/* RFC 4231 test case 2: HMAC-SHA256("Jefe", "what do ya want for nothing?"). */
	uint8_t mac[32];
	static const uint8_t want_mac[8] = {0x5b, 0xdc, 0xc1, 0x46, 0xbf, 0x60, 0x75, 0x4e};
	assert_int_equal(crypto_hmac_sha256((const uint8_t *)"Jefe", 4,
					    (const uint8_t *)"what do ya want for nothing?", 28,
					    mac),
			 CC_OK);
	assert_memory_equal(mac, want_mac, 8);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc9180_vectors),
		cmocka_unit_test(test_single_shot),
		cmocka_unit_test(test_hkdf_halves),
	};
	assert_int_equal(crypto_init(), CC_OK);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
