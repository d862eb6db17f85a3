/* Unit tests of the crypto layer: known answers, round trips, tampering,
 * wrong keys, truncation, key encodings and files, and the test RNG. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto/crypto.h"
#include "crypto/rng_test.h"
#include "util/buf.h"
#include "util/err.h"

/* Two 2048-bit keys, made once for the whole run (group setup). */
static struct crypto_rsa_key *key_a, *key_b;

/* Decodes hex that must be exactly n bytes. */
static void unhex(const char *hex, uint8_t *out, size_t n)
{
	assert_int_equal(strlen(hex), 2 * n);
	assert_int_equal(hex_decode(hex, out, n), CC_OK);
}

static int is_zero(const uint8_t *p, size_t n)
{
	uint8_t acc = 0;
	for (size_t i = 0; i < n; i++)
		acc |= p[i];
	return acc == 0;
}

/* Enough base64 to turn our own PEM body into DER. */
static size_t unbase64(const char *in, size_t len, uint8_t *out, size_t max)
{
	static const char alphabet[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	uint32_t acc = 0;
	int bits = 0;
	size_t n = 0;

	for (size_t i = 0; i < len; i++) {
		const char *pos = in[i] ? strchr(alphabet, in[i]) : NULL;
		if (!pos)
			continue;   /* newlines and '=' padding */
		acc = acc << 6 | (uint32_t)(pos - alphabet);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			assert_true(n < max);
			out[n++] = (uint8_t)(acc >> bits);
		}
	}
	return n;
}

/* ---- randomness, comparison, hashing ---- */

static void test_init(void **state)
{
	(void)state;
	assert_int_equal(crypto_init(), CC_OK);
	/* Calling it again is harmless. */
	assert_int_equal(crypto_init(), CC_OK);
}

static void test_random(void **state)
{
	uint8_t a[64], b[64];
	(void)state;

	assert_int_equal(crypto_random_bytes(a, sizeof a), CC_OK);
	assert_int_equal(crypto_random_bytes(b, sizeof b), CC_OK);
	assert_false(is_zero(a, sizeof a));
	assert_memory_not_equal(a, b, sizeof a);
	assert_int_equal(crypto_random_bytes(a, 0), CC_OK);
}

static void test_ct_equal(void **state)
{
	uint8_t a[32], b[32];
	(void)state;

	memset(a, 0x5a, sizeof a);
	memcpy(b, a, sizeof b);
	assert_true(crypto_ct_equal(a, b, sizeof a));
	b[0] ^= 1;
	assert_false(crypto_ct_equal(a, b, sizeof a));
	b[0] ^= 1;
	b[31] ^= 0x80;
	assert_false(crypto_ct_equal(a, b, sizeof a));
	assert_true(crypto_ct_equal(a, b, 31));
	assert_true(crypto_ct_equal(a, b, 0));
}

static void test_sha256(void **state)
{
	uint8_t want[32], got[32];
	(void)state;

	unhex("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", want, 32);
	crypto_sha256("abc", 3, got);
	assert_memory_equal(got, want, 32);
	unhex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", want, 32);
	crypto_sha256(NULL, 0, got);
	assert_memory_equal(got, want, 32);
}

/* ---- HKDF ---- */

static void test_hkdf_rfc5869(void **state)
{
	uint8_t ikm[22], salt[13], info[10], want[42], got[42];
	(void)state;

	memset(ikm, 0x0b, sizeof ikm);
	for (size_t i = 0; i < sizeof salt; i++)
		salt[i] = (uint8_t)i;
	for (size_t i = 0; i < sizeof info; i++)
		info[i] = (uint8_t)(0xf0 + i);
	/* A.1 */
	unhex("3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf"
	      "34007208d5b887185865", want, 42);
	assert_int_equal(crypto_hkdf_sha256(ikm, sizeof ikm, salt, sizeof salt, info,
					    sizeof info, got, sizeof got), CC_OK);
	assert_memory_equal(got, want, 42);
	/* A.3: no salt, no info */
	unhex("8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d"
	      "9d201395faa4b61a96c8", want, 42);
	assert_int_equal(crypto_hkdf_sha256(ikm, sizeof ikm, NULL, 0, NULL, 0, got,
					    sizeof got), CC_OK);
	assert_memory_equal(got, want, 42);
}

static void test_hkdf_limits(void **state)
{
	uint8_t ikm[32] = {1}, short_out[32];
	uint8_t *out = malloc(CRYPTO_HKDF_MAX_OUT + 1);
	(void)state;

	assert_non_null(out);
	assert_int_equal(crypto_hkdf_sha256(ikm, sizeof ikm, NULL, 0, NULL, 0, out, 0),
			 CC_ERR_USAGE);
	assert_int_equal(crypto_hkdf_sha256(ikm, sizeof ikm, NULL, 0, NULL, 0, out,
					    CRYPTO_HKDF_MAX_OUT + 1), CC_ERR_TOO_LARGE);
	assert_int_equal(crypto_hkdf_sha256(ikm, sizeof ikm, NULL, 0, NULL, 0, out,
					    CRYPTO_HKDF_MAX_OUT), CC_OK);
	/* Expand output is a stream: a shorter request is a prefix. */
	assert_int_equal(crypto_hkdf_sha256(ikm, sizeof ikm, NULL, 0, NULL, 0, short_out,
					    sizeof short_out), CC_OK);
	assert_memory_equal(short_out, out, sizeof short_out);
	/* An empty input key is legal HKDF. */
	assert_int_equal(crypto_hkdf_sha256(NULL, 0, NULL, 0, (const uint8_t *)"x", 1,
					    short_out, sizeof short_out), CC_OK);
	free(out);
}

/* ---- AES-GCM ---- */

static void test_aead_known_answer(void **state)
{
	/* McGrew-Viega GCM test case 14: zero key, zero nonce, one zero block. */
	uint8_t key[32] = {0}, nonce[12] = {0}, pt[16] = {0}, out[32], back[16], want[32];
	(void)state;

	unhex("cea7403d4d606b6e074ec5d3baf39d18d0d1c8a799996bf0265b98b5d48ab919", want, 32);
	assert_int_equal(crypto_aead_seal(key, nonce, NULL, 0, pt, sizeof pt, out), CC_OK);
	assert_memory_equal(out, want, 32);
	assert_int_equal(crypto_aead_open(key, nonce, NULL, 0, out, sizeof out, back), CC_OK);
	assert_memory_equal(back, pt, 16);
}

static void test_aead_tamper(void **state)
{
	uint8_t key[32], nonce[12], pt[100], ct[116], out[100];
	static const uint8_t aad[] = "room 7, epoch 2, sender 3, seq 9";
	(void)state;

	assert_int_equal(crypto_random_bytes(key, sizeof key), CC_OK);
	assert_int_equal(crypto_random_bytes(nonce, sizeof nonce), CC_OK);
	assert_int_equal(crypto_random_bytes(pt, sizeof pt), CC_OK);
	assert_int_equal(crypto_aead_seal(key, nonce, aad, sizeof aad, pt, sizeof pt, ct), CC_OK);
	assert_int_equal(crypto_aead_open(key, nonce, aad, sizeof aad, ct, sizeof ct, out), CC_OK);
	assert_memory_equal(out, pt, sizeof pt);

	/* Each byte that matters, flipped in turn, fails with nothing usable. */
	uint8_t *targets[] = {ct, ct + 99, ct + 100, ct + 115, (uint8_t *)aad, nonce, key};
	for (size_t i = 0; i < sizeof targets / sizeof targets[0]; i++) {
		uint8_t *aad_copy = malloc(sizeof aad);
		assert_non_null(aad_copy);
		memcpy(aad_copy, aad, sizeof aad);
		uint8_t *t = targets[i] == aad ? aad_copy : targets[i];
		*t ^= 0x01;
		memset(out, 0xee, sizeof out);
		assert_int_equal(crypto_aead_open(key, nonce, aad_copy, sizeof aad, ct,
						  sizeof ct, out), CC_ERR_AUTH);
		assert_true(is_zero(out, sizeof out));
		*t ^= 0x01;
		free(aad_copy);
	}
	/* Wrong AAD length, truncation, too short for a tag. */
	assert_int_equal(crypto_aead_open(key, nonce, aad, sizeof aad - 1, ct, sizeof ct, out),
			 CC_ERR_AUTH);
	assert_int_equal(crypto_aead_open(key, nonce, aad, sizeof aad, ct, sizeof ct - 1, out),
			 CC_ERR_AUTH);
	assert_int_equal(crypto_aead_open(key, nonce, aad, sizeof aad, ct, 15, out), CC_ERR_AUTH);
	assert_int_equal(crypto_aead_open(key, nonce, aad, sizeof aad, ct, 0, out), CC_ERR_AUTH);
	/* Still fine after all that. */
	assert_int_equal(crypto_aead_open(key, nonce, aad, sizeof aad, ct, sizeof ct, out), CC_OK);
}

static void test_aead_empty_and_in_place(void **state)
{
	uint8_t key[32] = {7}, nonce[12] = {9}, tag_only[16], buf[64 + 16], pt[64];
	(void)state;

	/* Empty plaintext: just a tag, which still authenticates the AAD. */
	assert_int_equal(crypto_aead_seal(key, nonce, (const uint8_t *)"a", 1, NULL, 0,
					  tag_only), CC_OK);
	assert_int_equal(crypto_aead_open(key, nonce, (const uint8_t *)"a", 1, tag_only, 16,
					  NULL), CC_OK);
	assert_int_equal(crypto_aead_open(key, nonce, (const uint8_t *)"b", 1, tag_only, 16,
					  NULL), CC_ERR_AUTH);

	for (size_t i = 0; i < sizeof pt; i++)
		pt[i] = (uint8_t)i;
	memcpy(buf, pt, sizeof pt);
	assert_int_equal(crypto_aead_seal(key, nonce, NULL, 0, buf, sizeof pt, buf), CC_OK);
	assert_memory_not_equal(buf, pt, sizeof pt);
	assert_int_equal(crypto_aead_open(key, nonce, NULL, 0, buf, sizeof buf, buf), CC_OK);
	assert_memory_equal(buf, pt, sizeof pt);
}

static void test_aes_gcm_ex(void **state)
{
	uint8_t key[32] = {1, 2, 3}, iv[200], pt[40], ct[40], back[40], tag[16], tag12[12];
	(void)state;

	memset(iv, 0x42, sizeof iv);
	memset(pt, 0x17, sizeof pt);
	/* Refused parameters. */
	assert_int_equal(crypto_aes_gcm_seal_ex(key, 20, iv, 12, NULL, 0, pt, sizeof pt, ct,
						tag, 16), CC_ERR_USAGE);
	assert_int_equal(crypto_aes_gcm_seal_ex(key, 16, iv, 0, NULL, 0, pt, sizeof pt, ct,
						tag, 16), CC_ERR_USAGE);
	assert_int_equal(crypto_aes_gcm_seal_ex(key, 16, iv, 12, NULL, 0, pt, sizeof pt, ct,
						tag, 11), CC_ERR_USAGE);
	assert_int_equal(crypto_aes_gcm_seal_ex(key, 16, iv, 12, NULL, 0, pt, sizeof pt, ct,
						tag, 17), CC_ERR_USAGE);
	assert_int_equal(crypto_aes_gcm_open_ex(key, 24, iv, 0, NULL, 0, ct, sizeof ct, tag, 16,
						back), CC_ERR_USAGE);

	/* Every key size, short, normal, longest-for-EVP and long IVs (the long
	 * ones take the modes.h path); a 12-byte tag is a prefix of the full one. */
	static const size_t key_lens[] = {16, 24, 32};
	static const size_t iv_lens[] = {1, 8, 12, 16, 128, 129, 200};
	for (size_t k = 0; k < 3; k++) {
		for (size_t v = 0; v < sizeof iv_lens / sizeof iv_lens[0]; v++) {
			size_t kl = key_lens[k], il = iv_lens[v];
			assert_int_equal(crypto_aes_gcm_seal_ex(key, kl, iv, il, (const uint8_t *)"hdr",
								3, pt, sizeof pt, ct, tag, 16), CC_OK);
			assert_int_equal(crypto_aes_gcm_seal_ex(key, kl, iv, il, (const uint8_t *)"hdr",
								3, pt, sizeof pt, back, tag12, 12),
					 CC_OK);
			assert_memory_equal(back, ct, sizeof ct);
			assert_memory_equal(tag12, tag, 12);
			assert_int_equal(crypto_aes_gcm_open_ex(key, kl, iv, il, (const uint8_t *)"hdr",
								3, ct, sizeof ct, tag, 16, back), CC_OK);
			assert_memory_equal(back, pt, sizeof pt);
			assert_int_equal(crypto_aes_gcm_open_ex(key, kl, iv, il, (const uint8_t *)"hdr",
								3, ct, sizeof ct, tag12, 12, back),
					 CC_OK);
			ct[5] ^= 4;
			assert_int_equal(crypto_aes_gcm_open_ex(key, kl, iv, il, (const uint8_t *)"hdr",
								3, ct, sizeof ct, tag, 16, back),
					 CC_ERR_AUTH);
			assert_true(is_zero(back, sizeof back));
			ct[5] ^= 4;
			iv[il - 1] ^= 1;
			assert_int_equal(crypto_aes_gcm_open_ex(key, kl, iv, il, (const uint8_t *)"hdr",
								3, ct, sizeof ct, tag, 16, back),
					 CC_ERR_AUTH);
			iv[il - 1] ^= 1;
		}
	}
	/* The 32-byte, 12-byte-nonce form is the fixed AEAD. */
	uint8_t fixed[40 + 16];
	assert_int_equal(crypto_aes_gcm_seal_ex(key, 32, iv, 12, NULL, 0, pt, sizeof pt, ct, tag,
						16), CC_OK);
	assert_int_equal(crypto_aead_seal(key, iv, NULL, 0, pt, sizeof pt, fixed), CC_OK);
	assert_memory_equal(fixed, ct, sizeof ct);
	assert_memory_equal(fixed + sizeof ct, tag, 16);
}

/* ---- X25519 and Ed25519 ---- */

static void test_x25519_rfc7748(void **state)
{
	uint8_t a_priv[32], a_pub[32], b_priv[32], b_pub[32], want[32], got[32];
	(void)state;

	unhex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a", a_priv, 32);
	unhex("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb", b_priv, 32);
	unhex("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a", want, 32);
	assert_int_equal(crypto_x25519_public(a_priv, a_pub), CC_OK);
	assert_memory_equal(a_pub, want, 32);
	unhex("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f", want, 32);
	assert_int_equal(crypto_x25519_public(b_priv, b_pub), CC_OK);
	assert_memory_equal(b_pub, want, 32);
	unhex("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742", want, 32);
	assert_int_equal(crypto_x25519_shared(a_priv, b_pub, got), CC_OK);
	assert_memory_equal(got, want, 32);
	assert_int_equal(crypto_x25519_shared(b_priv, a_pub, got), CC_OK);
	assert_memory_equal(got, want, 32);
}

static void test_x25519_keypair_and_low_order(void **state)
{
	uint8_t a_priv[32], a_pub[32], b_priv[32], b_pub[32], s1[32], s2[32], bad[32];
	(void)state;

	assert_int_equal(crypto_x25519_keypair(a_priv, a_pub), CC_OK);
	assert_int_equal(crypto_x25519_keypair(b_priv, b_pub), CC_OK);
	assert_memory_not_equal(a_priv, b_priv, 32);
	assert_memory_not_equal(a_pub, b_pub, 32);
	assert_int_equal(crypto_x25519_public(a_priv, s1), CC_OK);
	assert_memory_equal(s1, a_pub, 32);
	assert_int_equal(crypto_x25519_shared(a_priv, b_pub, s1), CC_OK);
	assert_int_equal(crypto_x25519_shared(b_priv, a_pub, s2), CC_OK);
	assert_memory_equal(s1, s2, 32);

	/* Low-order points give an all-zero secret: refused, output wiped. */
	static const char *const low_order[] = {
		"0000000000000000000000000000000000000000000000000000000000000000",
		"0100000000000000000000000000000000000000000000000000000000000000",
		"e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
		"5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
		"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
	};
	for (size_t i = 0; i < sizeof low_order / sizeof low_order[0]; i++) {
		unhex(low_order[i], bad, 32);
		memset(s1, 0xaa, sizeof s1);
		assert_int_equal(crypto_x25519_shared(a_priv, bad, s1), CC_ERR_AUTH);
		assert_true(is_zero(s1, sizeof s1));
	}
}

static void test_ed25519_rfc8032(void **state)
{
	uint8_t seed[32], pub[32], want_pub[32], sig[64], want_sig[64];
	(void)state;

	unhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60", seed, 32);
	unhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", want_pub, 32);
	unhex("e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
	      "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b", want_sig, 64);
	assert_int_equal(crypto_ed25519_public(seed, pub), CC_OK);
	assert_memory_equal(pub, want_pub, 32);
	assert_int_equal(crypto_ed25519_sign(seed, NULL, 0, sig), CC_OK);
	assert_memory_equal(sig, want_sig, 64);
	assert_int_equal(crypto_ed25519_verify(pub, NULL, 0, sig, sizeof sig), CC_OK);
}

/* Key objects made once sign and verify as the raw-byte calls do, and keep
 * failing closed. */
static void test_ed25519_key_objects(void **state)
{
	uint8_t seed[32], pub[32], seed2[32], pub2[32], sig[64], sig2[64];
	uint8_t msg[] = "alice: hello room";
	struct crypto_ed25519_priv *sk = NULL;
	struct crypto_ed25519_pub *pk = NULL, *pk2 = NULL;
	(void)state;

	assert_int_equal(crypto_ed25519_keypair(seed, pub), CC_OK);
	assert_int_equal(crypto_ed25519_keypair(seed2, pub2), CC_OK);
	assert_int_equal(crypto_ed25519_priv_new(seed, &sk), CC_OK);
	assert_int_equal(crypto_ed25519_pub_new(pub, &pk), CC_OK);
	assert_int_equal(crypto_ed25519_pub_new(pub2, &pk2), CC_OK);
	assert_true(crypto_ed25519_pub_is(pk, pub));
	assert_false(crypto_ed25519_pub_is(pk, pub2));
	assert_false(crypto_ed25519_pub_is(NULL, pub));
	/* Ed25519 is deterministic: the same signature either way, many times. */
	assert_int_equal(crypto_ed25519_sign(seed, msg, sizeof msg, sig), CC_OK);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(crypto_ed25519_sign_with(sk, msg, sizeof msg, sig2), CC_OK);
		assert_memory_equal(sig, sig2, 64);
		assert_int_equal(crypto_ed25519_verify_with(pk, msg, sizeof msg, sig, 64), CC_OK);
	}
	assert_int_equal(crypto_ed25519_verify_with(pk2, msg, sizeof msg, sig, 64), CC_ERR_AUTH);
	assert_int_equal(crypto_ed25519_verify_with(pk, msg, sizeof msg, sig, 63), CC_ERR_AUTH);
	assert_int_equal(crypto_ed25519_verify_with(NULL, msg, sizeof msg, sig, 64), CC_ERR_AUTH);
	msg[0] ^= 1;
	assert_int_equal(crypto_ed25519_verify_with(pk, msg, sizeof msg, sig, 64), CC_ERR_AUTH);
	msg[0] ^= 1;
	/* The same key object still verifies after a failure. */
	assert_int_equal(crypto_ed25519_verify_with(pk, msg, sizeof msg, sig, 64), CC_OK);
	assert_int_equal(crypto_ed25519_sign_with(NULL, msg, sizeof msg, sig2), CC_ERR_CRYPTO);
	crypto_ed25519_priv_free(sk);
	crypto_ed25519_pub_free(pk);
	crypto_ed25519_pub_free(pk2);
	crypto_ed25519_pub_free(NULL);
	crypto_ed25519_priv_free(NULL);
}

static void test_ed25519_tamper(void **state)
{
	uint8_t seed[32], pub[32], seed2[32], pub2[32], sig[64], sig_long[65];
	uint8_t msg[] = "alice: hello room";
	(void)state;

	assert_int_equal(crypto_ed25519_keypair(seed, pub), CC_OK);
	assert_int_equal(crypto_ed25519_keypair(seed2, pub2), CC_OK);
	assert_memory_not_equal(pub, pub2, 32);
	assert_int_equal(crypto_ed25519_sign(seed, msg, sizeof msg, sig), CC_OK);
	assert_int_equal(crypto_ed25519_verify(pub, msg, sizeof msg, sig, 64), CC_OK);

	msg[0] ^= 1;
	assert_int_equal(crypto_ed25519_verify(pub, msg, sizeof msg, sig, 64), CC_ERR_AUTH);
	msg[0] ^= 1;
	assert_int_equal(crypto_ed25519_verify(pub, msg, sizeof msg - 1, sig, 64), CC_ERR_AUTH);
	for (size_t i = 0; i < 64; i += 21) {
		sig[i] ^= 0x10;
		assert_int_equal(crypto_ed25519_verify(pub, msg, sizeof msg, sig, 64), CC_ERR_AUTH);
		sig[i] ^= 0x10;
	}
	assert_int_equal(crypto_ed25519_verify(pub2, msg, sizeof msg, sig, 64), CC_ERR_AUTH);
	/* Exactly 64 bytes, no more, no fewer. */
	assert_int_equal(crypto_ed25519_verify(pub, msg, sizeof msg, sig, 63), CC_ERR_AUTH);
	assert_int_equal(crypto_ed25519_verify(pub, msg, sizeof msg, sig, 0), CC_ERR_AUTH);
	memcpy(sig_long, sig, 64);
	sig_long[64] = 0;
	assert_int_equal(crypto_ed25519_verify(pub, msg, sizeof msg, sig_long, 65), CC_ERR_AUTH);
	assert_int_equal(crypto_ed25519_verify(pub, msg, sizeof msg, sig, 64), CC_OK);
}

/* ---- RSA: keys and encodings ---- */

/* SubjectPublicKeyInfo DERs that break the policy, made with openssl(1). */
static const char rsa1024_der[] =
	"30819f300d06092a864886f70d010101050003818d0030818902818100c9123d"
	"b80d8b23fa7b109a26d56d5cd206cf27856edcfbf7ce9fdd76ce51f6530ce3fb"
	"53e9273138221d4bd861d3d6a7f45f1cbedd39a8fbb9c6736763c7dedf25da1c"
	"d857eb57a8f1072123d2521ec8b1de40aa25d550179fc1306b2bf4cc4906c4b5"
	"9716e024e90f19bb3ea5c0cb96a75d745a75a6a911f98380a38ece18d9020301"
	"0001";
static const char rsa2048_e3_der[] =
	"30820120300d06092a864886f70d01010105000382010d003082010802820101"
	"009b2e22a752dcb2dd9ac9eb6c6f3b4eae3466320ce554eeb03d396dea303fa5"
	"aea4c7eee39907228e49dd4d20ffbbc6a05bf6f0cde33ecaa7198b375b7a1b16"
	"77ae82e13c45ce6d2c4d87fe56b4a50a5700fdedc4aa01898777484f240f0f82"
	"02e3100a30fa640f12d747f37ed5678c70559d720421261ec006be70583dac4d"
	"c1e647e2e9d648c8e5bd94fb3598592494d686abef5debc4387227707a7bb879"
	"1db3731719b26aec334c580bba3b2bebbeae176dc23b4b580ce3027c93717649"
	"bb0223d5d7b2a64039d7b4e72c522ea1d34e239f6191fc19dc793abfd506edf7"
	"eb50f954e699ef511ca8c34c65ac382264e95e445c9495937bba9965eda7e03c"
	"4d020103";
static const char rsa4160_der[] =
	"3082022a300d06092a864886f70d010101050003820217003082021202820209"
	"00b49b46f9dc6e649a622b79061ce324b02071131a150ed471edd79f31aa3a01"
	"9df18234d87c04194732deb4d27f2f3a364de9cfea540060bf1893086ab09a22"
	"c154b604341217565997ee232a750c6bd3b39ff7aa120ce79bf8c76b9c13f720"
	"1a8da6a8e953dd0a21cb39041ae07e7166ed0b5f69334d91fd298e4bd24eb010"
	"13f3240f586269a31d2075ee38b82e0cc19b399acc8cf5a5ac2e0b19954d1dab"
	"b6a185a31e8f2de5483ff192fc42994ba519f0cd011691922bb3fcbf46eebefc"
	"79b51a1b7f091150878e5c20a5c22521c62dc9152ec0180284b7defbfcc03a6b"
	"563e9c861ee60e299f5a9a4e0449ff3d96f2b184109d115b4950ba3d89831f93"
	"0e71137f5fa2102d7d250fb112622d7024998204f34744ffc5ec94efca8cd2fa"
	"54b1dc76986a327717aca9d8294c10d7aa04a3dba2cbd7155eb64f6cd76fd7f9"
	"d9467f70339e73f840fe8162c7778b63bf1193ec304551e19171be43f78a1241"
	"35339912f81b08891bd0d24ea6fa1adce12d789699d0c8c62d691f7f1c010fde"
	"e80ba5e93294ec0ef0e68da202cee66f3ba94dd3381ecad14257ac64a80a4fb2"
	"c18453d107f0ce08cd72e6350442b20856b4d3df7407ce4765f9fbd1ef8e7288"
	"4a91c2b6a5fb05cd6cae5f1013b00bca7631b7da140d49ba6bdb635f3c77465f"
	"69b621a4216f2dd757725135cf343017ec83702fab5e53bdd870e79fd3e88364"
	"1c76d1556e516d4b150203010001";
static const char ed25519_der[] =
	"302a300506032b65700321007794bf156859209cb0661f0202d9a827cd38b4d9"
	"4a5a2199b9729705fdde5443";

/* Parses a hex SubjectPublicKeyInfo and returns the result code. */
static cc_err public_from_hex(const char *hex)
{
	uint8_t der[CRYPTO_RSA_PUB_DER_MAX];
	struct crypto_rsa_key *key = (struct crypto_rsa_key *)1;
	size_t n = strlen(hex) / 2;

	assert_true(n <= sizeof der);
	unhex(hex, der, n);
	cc_err err = crypto_rsa_public_from_der(der, n, &key);
	if (err)
		assert_null(key);
	crypto_rsa_free(key);
	return err;
}

static void test_rsa_generate(void **state)
{
	struct crypto_rsa_key *key = (struct crypto_rsa_key *)1;
	(void)state;

	assert_int_equal(crypto_rsa_generate(1024, &key), CC_ERR_USAGE);
	assert_null(key);
	assert_int_equal(crypto_rsa_generate(2047, &key), CC_ERR_USAGE);
	assert_int_equal(crypto_rsa_generate(4097, &key), CC_ERR_USAGE);
	assert_int_equal(crypto_rsa_generate(8192, &key), CC_ERR_USAGE);
	assert_true(crypto_rsa_is_private(key_a));
	assert_int_equal(crypto_rsa_bits(key_a), 2048);
	assert_int_equal(crypto_rsa_size(key_a), 256);
	crypto_rsa_free(NULL);
}

static void test_rsa_public_der(void **state)
{
	struct buf der, der2;
	struct crypto_rsa_key *pub = NULL;
	uint8_t fp_a[32], fp_a2[32], fp_pub[32], fp_b[32];
	(void)state;

	buf_init(&der, 0);
	buf_init(&der2, 0);
	/* Appends: whatever was in the buffer stays. */
	assert_int_equal(buf_put_u8(&der, 0x99), CC_OK);
	assert_int_equal(crypto_rsa_public_to_der(key_a, &der), CC_OK);
	assert_int_equal(der.data[0], 0x99);
	assert_true(der.len > 1 && der.len - 1 <= CRYPTO_RSA_PUB_DER_MAX);

	assert_int_equal(crypto_rsa_public_from_der(der.data + 1, der.len - 1, &pub), CC_OK);
	assert_false(crypto_rsa_is_private(pub));
	assert_int_equal(crypto_rsa_bits(pub), 2048);
	assert_int_equal(crypto_rsa_size(pub), 256);
	assert_int_equal(crypto_rsa_public_to_der(pub, &der2), CC_OK);
	assert_int_equal(der2.len, der.len - 1);
	assert_memory_equal(der2.data, der.data + 1, der2.len);

	/* The fingerprint is SHA-256 of the DER, the same for both halves,
	 * stable, and different for another key. */
	assert_int_equal(crypto_rsa_fingerprint(key_a, fp_a), CC_OK);
	assert_int_equal(crypto_rsa_fingerprint(key_a, fp_a2), CC_OK);
	assert_int_equal(crypto_rsa_fingerprint(pub, fp_pub), CC_OK);
	assert_int_equal(crypto_rsa_fingerprint(key_b, fp_b), CC_OK);
	assert_memory_equal(fp_a, fp_a2, 32);
	assert_memory_equal(fp_a, fp_pub, 32);
	assert_memory_not_equal(fp_a, fp_b, 32);
	crypto_sha256(der2.data, der2.len, fp_a2);
	assert_memory_equal(fp_a, fp_a2, 32);

	crypto_rsa_free(pub);
	buf_free(&der);
	buf_free(&der2);
}

/* The second parse of the same DER comes from the cache: an equal,
 * independent key (freeing one leaves the other usable), and what the
 * cache holds never lets a variant through (truncations and trailing bytes
 * are still refused after the key is cached). */
static void test_rsa_public_der_cached(void **state)
{
	struct buf der, sig;
	struct crypto_rsa_key *p1 = NULL, *p2 = NULL;
	uint8_t fp1[32], fp2[32], digest[32] = {1, 2, 3};
	(void)state;

	buf_init(&der, 0);
	buf_init(&sig, 0);
	assert_int_equal(crypto_rsa_public_to_der(key_a, &der), CC_OK);
	crypto_rsa_cache_clear();
	assert_int_equal(crypto_rsa_public_from_der(der.data, der.len, &p1), CC_OK);
	assert_int_equal(crypto_rsa_public_from_der(der.data, der.len, &p2), CC_OK);
	assert_ptr_not_equal(p1, p2);
	assert_int_equal(crypto_rsa_fingerprint(p1, fp1), CC_OK);
	assert_int_equal(crypto_rsa_fingerprint(p2, fp2), CC_OK);
	assert_memory_equal(fp1, fp2, 32);
	crypto_rsa_free(p1);
	assert_int_equal(crypto_rsa_pss_sign(key_a, digest, sizeof digest, &sig), CC_OK);
	assert_int_equal(crypto_rsa_pss_verify(p2, digest, sizeof digest, sig.data, sig.len), CC_OK);
	crypto_rsa_free(p2);
	for (size_t n = 1; n < der.len; n += 7)
		assert_int_not_equal(crypto_rsa_public_from_der(der.data, n, &p1), CC_OK);
	assert_int_equal(buf_put_u8(&der, 0), CC_OK);
	assert_int_equal(crypto_rsa_public_from_der(der.data, der.len, &p1), CC_ERR_TRAILING);
	crypto_rsa_cache_clear();
	der.len--;
	assert_int_equal(crypto_rsa_public_from_der(der.data, der.len, &p1), CC_OK);
	crypto_rsa_free(p1);
	crypto_rsa_cache_clear();
	buf_free(&der);
	buf_free(&sig);
}

/* Another handle on a public key: the same key, freed on its own; a
 * private key is not handed out this way. */
static void test_rsa_public_copy(void **state)
{
	struct buf der, sig;
	struct crypto_rsa_key *pub = NULL, *copy = NULL;
	uint8_t fp1[32], fp2[32], digest[32] = {4, 5, 6};
	(void)state;

	buf_init(&der, 0);
	buf_init(&sig, 0);
	assert_int_equal(crypto_rsa_public_to_der(key_a, &der), CC_OK);
	assert_int_equal(crypto_rsa_public_from_der(der.data, der.len, &pub), CC_OK);
	assert_int_equal(crypto_rsa_public_copy(pub, &copy), CC_OK);
	assert_ptr_not_equal(pub, copy);
	assert_false(crypto_rsa_is_private(copy));
	crypto_rsa_free(pub);
	assert_int_equal(crypto_rsa_fingerprint(copy, fp2), CC_OK);
	assert_int_equal(crypto_rsa_fingerprint(key_a, fp1), CC_OK);
	assert_memory_equal(fp1, fp2, 32);
	assert_int_equal(crypto_rsa_pss_sign(key_a, digest, sizeof digest, &sig), CC_OK);
	assert_int_equal(crypto_rsa_pss_verify(copy, digest, sizeof digest, sig.data, sig.len),
			 CC_OK);
	crypto_rsa_free(copy);
	copy = key_a;
	assert_int_equal(crypto_rsa_public_copy(key_a, &copy), CC_ERR_USAGE);
	assert_null(copy);
	crypto_rsa_cache_clear();
	buf_free(&der);
	buf_free(&sig);
}

static void test_rsa_public_der_rejects(void **state)
{
	struct buf der;
	struct crypto_rsa_key *pub = (struct crypto_rsa_key *)1;
	uint8_t big[CRYPTO_RSA_PUB_DER_MAX + 1] = {0};
	(void)state;

	buf_init(&der, 0);
	assert_int_equal(crypto_rsa_public_to_der(key_a, &der), CC_OK);

	assert_int_equal(crypto_rsa_public_from_der(der.data, 0, &pub), CC_ERR_TRUNCATED);
	assert_null(pub);
	assert_int_equal(crypto_rsa_public_from_der(big, sizeof big, &pub), CC_ERR_TOO_LARGE);
	assert_int_equal(crypto_rsa_public_from_der(big, 100, &pub), CC_ERR_MALFORMED);
	assert_int_equal(crypto_rsa_public_from_der((const uint8_t *)"garbage", 7, &pub),
			 CC_ERR_MALFORMED);
	/* Every truncation fails. */
	for (size_t n = 1; n < der.len; n++)
		assert_int_not_equal(crypto_rsa_public_from_der(der.data, n, &pub), CC_OK);
	/* A byte after the DER. */
	assert_int_equal(buf_put_u8(&der, 0), CC_OK);
	assert_int_equal(crypto_rsa_public_from_der(der.data, der.len, &pub), CC_ERR_TRAILING);
	assert_null(pub);
	der.len--;
	/* A flipped byte in the modulus still parses (it is a different key);
	 * a flipped byte in the structure does not. */
	der.data[0] ^= 0x01;
	assert_int_not_equal(crypto_rsa_public_from_der(der.data, der.len, &pub), CC_OK);
	der.data[0] ^= 0x01;
	/* The same key in non-minimal (BER) length form is refused. */
	struct buf ber;
	buf_init(&ber, 0);
	assert_int_equal(der.data[1], 0x82);
	assert_int_equal(buf_put_u8(&ber, 0x30), CC_OK);
	assert_int_equal(buf_put_u8(&ber, 0x83), CC_OK);
	assert_int_equal(buf_put_u8(&ber, 0x00), CC_OK);
	assert_int_equal(buf_put_bytes(&ber, der.data + 2, der.len - 2), CC_OK);
	assert_int_not_equal(crypto_rsa_public_from_der(ber.data, ber.len, &pub), CC_OK);
	assert_null(pub);
	buf_free(&ber);

	/* Policy: RSA only, 2048..4096 bits, e = 65537. */
	assert_int_equal(public_from_hex(rsa1024_der), CC_ERR_MALFORMED);
	assert_int_equal(public_from_hex(rsa2048_e3_der), CC_ERR_MALFORMED);
	assert_int_equal(public_from_hex(rsa4160_der), CC_ERR_MALFORMED);
	assert_int_equal(public_from_hex(ed25519_der), CC_ERR_MALFORMED);
	buf_free(&der);
}

/* The PEM of key_a, NUL-terminated. */
static char *pem_of(const struct crypto_rsa_key *key)
{
	struct buf pem;
	buf_init(&pem, 0);
	assert_int_equal(crypto_rsa_private_to_pem(key, &pem), CC_OK);
	char *s = malloc(pem.len + 1);
	assert_non_null(s);
	memcpy(s, pem.data, pem.len);
	s[pem.len] = '\0';
	buf_free(&pem);
	return s;
}

static void expect_pem(const char *text, cc_err want)
{
	struct crypto_rsa_key *key = (struct crypto_rsa_key *)1;
	assert_int_equal(crypto_rsa_private_from_pem(text, strlen(text), &key), want);
	if (want == CC_OK) {
		uint8_t fp[32], fp_a[32];
		assert_true(crypto_rsa_is_private(key));
		assert_int_equal(crypto_rsa_fingerprint(key, fp), CC_OK);
		assert_int_equal(crypto_rsa_fingerprint(key_a, fp_a), CC_OK);
		assert_memory_equal(fp, fp_a, 32);
	} else {
		assert_null(key);
	}
	crypto_rsa_free(key);
}

/* text with its first occurrence of from replaced by to; malloc'd. */
static char *replace(const char *text, const char *from, const char *to)
{
	const char *at = strstr(text, from);
	assert_non_null(at);
	size_t head = (size_t)(at - text), tail = strlen(at + strlen(from));
	char *s = malloc(head + strlen(to) + tail + 1);
	assert_non_null(s);
	memcpy(s, text, head);
	memcpy(s + head, to, strlen(to));
	memcpy(s + head + strlen(to), at + strlen(from), tail + 1);
	return s;
}

static void test_rsa_private_pem(void **state)
{
	struct buf tmp;
	(void)state;

	char *pem = pem_of(key_a);
	assert_int_equal(strncmp(pem, "-----BEGIN PRIVATE KEY-----\n", 28), 0);
	assert_non_null(strstr(pem, "-----END PRIVATE KEY-----"));
	expect_pem(pem, CC_OK);

	/* Whitespace around it is fine; anything else is not. */
	char *s = malloc(2 * strlen(pem) + 16);
	assert_non_null(s);
	sprintf(s, "\n  %s\n\n", pem);
	expect_pem(s, CC_OK);
	sprintf(s, "%sx\n", pem);
	expect_pem(s, CC_ERR_TRAILING);
	sprintf(s, "%s%s", pem, pem);
	expect_pem(s, CC_ERR_TRAILING);
	sprintf(s, "junk\n%s", pem);
	expect_pem(s, CC_ERR_MALFORMED);
	free(s);

	/* Other kinds of PEM: traditional, encrypted (which needs a passphrase:
	 * pbe.c), a public key, headers. */
	s = replace(pem, "BEGIN PRIVATE KEY", "BEGIN RSA PRIVATE KEY");
	char *s2 = replace(s, "END PRIVATE KEY", "END RSA PRIVATE KEY");
	expect_pem(s2, CC_ERR_MALFORMED);
	free(s);
	free(s2);
	s = replace(pem, "BEGIN PRIVATE KEY", "BEGIN ENCRYPTED PRIVATE KEY");
	s2 = replace(s, "END PRIVATE KEY", "END ENCRYPTED PRIVATE KEY");
	expect_pem(s2, CC_ERR_BAD_PASSPHRASE);
	free(s);
	free(s2);
	s = replace(pem, "-----\n", "-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00\n\n");
	expect_pem(s, CC_ERR_MALFORMED);
	free(s);

	/* Truncated anywhere, or corrupted base64. */
	struct crypto_rsa_key *key = (struct crypto_rsa_key *)1;
	size_t len = strlen(pem);
	for (size_t n = 0; n < len - 30; n += 97) {
		assert_int_not_equal(crypto_rsa_private_from_pem(pem, n, &key), CC_OK);
		assert_null(key);
	}
	s = replace(pem, "\n", "\n!");
	expect_pem(s, CC_ERR_MALFORMED);
	free(s);

	/* The base64 body is the PKCS#8 DER: it loads, and is checked the same way. */
	buf_init(&tmp, 0);
	uint8_t *der = malloc(len);
	assert_non_null(der);
	const char *body = strchr(pem, '\n') + 1;
	const char *end = strstr(pem, "-----END");
	size_t der_len = unbase64(body, (size_t)(end - body), der, len);
	assert_int_equal(crypto_rsa_private_from_der(der, der_len, &key), CC_OK);
	assert_true(crypto_rsa_is_private(key));
	crypto_rsa_free(key);
	der[der_len] = 0;
	assert_int_equal(crypto_rsa_private_from_der(der, der_len + 1, &key), CC_ERR_TRAILING);
	assert_null(key);
	assert_int_not_equal(crypto_rsa_private_from_der(der, der_len - 1, &key), CC_OK);
	assert_int_equal(crypto_rsa_private_from_der(der, 0, &key), CC_ERR_TRUNCATED);
	assert_int_equal(crypto_rsa_private_from_der((const uint8_t *)"garbage", 7, &key),
			 CC_ERR_MALFORMED);
	/* A public key is not a private key. */
	assert_int_equal(crypto_rsa_public_to_der(key_a, &tmp), CC_OK);
	assert_int_equal(crypto_rsa_private_from_der(tmp.data, tmp.len, &key), CC_ERR_MALFORMED);
	assert_null(key);

	/* And a public-only key has no PEM private key to give. */
	struct crypto_rsa_key *pub = NULL;
	assert_int_equal(crypto_rsa_public_from_der(tmp.data, tmp.len, &pub), CC_OK);
	buf_reset(&tmp);
	assert_int_equal(crypto_rsa_private_to_pem(pub, &tmp), CC_ERR_USAGE);
	crypto_rsa_free(pub);

	free(der);
	buf_free(&tmp);
	free(pem);
}

static void test_rsa_files(void **state)
{
	char dir[] = "/tmp/cc_test_crypto_XXXXXX", path[128], fp_path[128];
	struct crypto_rsa_key *key = NULL, *pub = NULL;
	uint8_t fp[32], want[32];
	struct stat st;
	struct buf der;
	(void)state;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/identity.pem", dir);

	assert_int_equal(crypto_rsa_load_private_file(path, &key), CC_ERR_NOT_FOUND);
	assert_null(key);
	/* Even with a permissive umask the file is 0600. */
	mode_t old = umask(0);
	assert_int_equal(crypto_rsa_save_private_file(key_a, path), CC_OK);
	umask(old);
	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(crypto_rsa_load_private_file(path, &key), CC_OK);
	assert_true(crypto_rsa_is_private(key));
	assert_int_equal(crypto_rsa_fingerprint(key, fp), CC_OK);
	assert_int_equal(crypto_rsa_fingerprint(key_a, want), CC_OK);
	assert_memory_equal(fp, want, 32);
	crypto_rsa_free(key);

	/* Replacing it is atomic and leaves no temp file behind. */
	assert_int_equal(crypto_rsa_save_private_file(key_b, path), CC_OK);
	assert_int_equal(crypto_rsa_load_private_file(path, &key), CC_OK);
	assert_int_equal(crypto_rsa_fingerprint(key, fp), CC_OK);
	assert_int_equal(crypto_rsa_fingerprint(key_b, want), CC_OK);
	assert_memory_equal(fp, want, 32);
	crypto_rsa_free(key);
	DIR *d = opendir(dir);
	assert_non_null(d);
	int entries = 0;
	for (struct dirent *e; (e = readdir(d));) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		assert_string_equal(e->d_name, "identity.pem");
		entries++;
	}
	closedir(d);
	assert_int_equal(entries, 1);

	/* A public key cannot be saved; a missing directory is an I/O error. */
	buf_init(&der, 0);
	assert_int_equal(crypto_rsa_public_to_der(key_a, &der), CC_OK);
	assert_int_equal(crypto_rsa_public_from_der(der.data, der.len, &pub), CC_OK);
	assert_int_equal(crypto_rsa_save_private_file(pub, path), CC_ERR_USAGE);
	crypto_rsa_free(pub);
	snprintf(fp_path, sizeof fp_path, "%s/nope/identity.pem", dir);
	assert_int_equal(crypto_rsa_save_private_file(key_a, fp_path), CC_ERR_IO);

	/* Not a key, and not a file. */
	snprintf(fp_path, sizeof fp_path, "%s/garbage.pem", dir);
	FILE *f = fopen(fp_path, "w");
	assert_non_null(f);
	fputs("hello\n", f);
	fclose(f);
	assert_int_equal(crypto_rsa_load_private_file(fp_path, &key), CC_ERR_MALFORMED);
	assert_null(key);
	assert_int_equal(crypto_rsa_load_private_file(dir, &key), CC_ERR_IO);

	unlink(fp_path);
	unlink(path);
	assert_int_equal(rmdir(dir), 0);
	buf_free(&der);
}

/* ---- RSA-OAEP and RSA-PSS ---- */

static struct crypto_rsa_key *public_half(const struct crypto_rsa_key *key)
{
	struct buf der;
	struct crypto_rsa_key *pub = NULL;

	buf_init(&der, 0);
	assert_int_equal(crypto_rsa_public_to_der(key, &der), CC_OK);
	assert_int_equal(crypto_rsa_public_from_der(der.data, der.len, &pub), CC_OK);
	buf_free(&der);
	return pub;
}

static void test_rsa_oaep(void **state)
{
	static const uint8_t label[] = "cryptocat room key v1";
	uint8_t key32[32], out[300];
	size_t out_len = 99;
	struct buf ct, ct2;
	struct crypto_rsa_key *pub = public_half(key_a);
	(void)state;

	buf_init(&ct, 0);
	buf_init(&ct2, 0);
	assert_int_equal(crypto_random_bytes(key32, sizeof key32), CC_OK);

	/* Encrypting to the public half; appends exactly k bytes; randomized. */
	assert_int_equal(buf_put_u8(&ct, 0x77), CC_OK);
	assert_int_equal(crypto_rsa_oaep_encrypt(pub, label, sizeof label, key32, 32, &ct), CC_OK);
	assert_int_equal(ct.len, 1 + 256);
	assert_int_equal(ct.data[0], 0x77);
	assert_int_equal(crypto_rsa_oaep_encrypt(pub, label, sizeof label, key32, 32, &ct2), CC_OK);
	assert_memory_not_equal(ct.data + 1, ct2.data, 256);
	const uint8_t *c = ct.data + 1;

	assert_int_equal(crypto_rsa_oaep_decrypt(key_a, label, sizeof label, c, 256, out,
						 sizeof out, &out_len), CC_OK);
	assert_int_equal(out_len, 32);
	assert_memory_equal(out, key32, 32);
	/* Exactly room for the plaintext is enough. */
	assert_int_equal(crypto_rsa_oaep_decrypt(key_a, label, sizeof label, c, 256, out, 32,
						 &out_len), CC_OK);

	/* Every failure is CC_ERR_AUTH, with out_len 0. */
	assert_int_equal(crypto_rsa_oaep_decrypt(key_a, label, sizeof label, c, 256, out, 31,
						 &out_len), CC_ERR_AUTH);
	assert_int_equal(out_len, 0);
	assert_int_equal(crypto_rsa_oaep_decrypt(key_a, label, sizeof label - 1, c, 256, out,
						 sizeof out, &out_len), CC_ERR_AUTH);
	assert_int_equal(crypto_rsa_oaep_decrypt(key_a, NULL, 0, c, 256, out, sizeof out,
						 &out_len), CC_ERR_AUTH);
	assert_int_equal(crypto_rsa_oaep_decrypt(key_b, label, sizeof label, c, 256, out,
						 sizeof out, &out_len), CC_ERR_AUTH);
	assert_int_equal(crypto_rsa_oaep_decrypt(pub, label, sizeof label, c, 256, out,
						 sizeof out, &out_len), CC_ERR_AUTH);
	assert_int_equal(crypto_rsa_oaep_decrypt(key_a, label, sizeof label, c, 255, out,
						 sizeof out, &out_len), CC_ERR_AUTH);
	assert_int_equal(crypto_rsa_oaep_decrypt(key_a, label, sizeof label, c, 0, out,
						 sizeof out, &out_len), CC_ERR_AUTH);
	assert_int_equal(buf_put_u8(&ct, 0), CC_OK);
	c = ct.data + 1;
	assert_int_equal(crypto_rsa_oaep_decrypt(key_a, label, sizeof label, c, 257, out,
						 sizeof out, &out_len), CC_ERR_AUTH);
	for (size_t i = 0; i < 256; i += 51) {
		ct.data[1 + i] ^= 0x04;
		assert_int_equal(crypto_rsa_oaep_decrypt(key_a, label, sizeof label, c, 256, out,
							 sizeof out, &out_len), CC_ERR_AUTH);
		assert_int_equal(out_len, 0);
		ct.data[1 + i] ^= 0x04;
	}

	/* Empty label and the size limit: k - 66 bytes of plaintext at most. */
	uint8_t big[256];
	memset(big, 0x33, sizeof big);
	buf_reset(&ct);
	assert_int_equal(crypto_rsa_oaep_encrypt(key_a, NULL, 0, big, 256 - 66, &ct), CC_OK);
	assert_int_equal(crypto_rsa_oaep_decrypt(key_a, NULL, 0, ct.data, ct.len, out,
						 sizeof out, &out_len), CC_OK);
	assert_int_equal(out_len, 256 - 66);
	assert_memory_equal(out, big, out_len);
	size_t before = ct.len;
	assert_int_equal(crypto_rsa_oaep_encrypt(key_a, NULL, 0, big, 256 - 65, &ct),
			 CC_ERR_TOO_LARGE);
	assert_int_equal(ct.len, before);
	/* And an empty message. */
	buf_reset(&ct);
	assert_int_equal(crypto_rsa_oaep_encrypt(key_a, label, 3, NULL, 0, &ct), CC_OK);
	assert_int_equal(crypto_rsa_oaep_decrypt(key_a, label, 3, ct.data, ct.len, out, 0,
						 &out_len), CC_OK);
	assert_int_equal(out_len, 0);

	crypto_rsa_free(pub);
	buf_free(&ct);
	buf_free(&ct2);
}

static void test_rsa_pss(void **state)
{
	uint8_t msg[] = "transcript hash goes here";
	struct buf sig, sig2;
	struct crypto_rsa_key *pub = public_half(key_a);
	(void)state;

	buf_init(&sig, 0);
	buf_init(&sig2, 0);
	assert_int_equal(crypto_rsa_pss_sign(key_a, msg, sizeof msg, &sig), CC_OK);
	assert_int_equal(sig.len, 256);
	assert_int_equal(crypto_rsa_pss_sign(key_a, msg, sizeof msg, &sig2), CC_OK);
	/* A random salt: two signatures differ, both verify. */
	assert_memory_not_equal(sig.data, sig2.data, 256);
	assert_int_equal(crypto_rsa_pss_verify(pub, msg, sizeof msg, sig.data, 256), CC_OK);
	assert_int_equal(crypto_rsa_pss_verify(key_a, msg, sizeof msg, sig2.data, 256), CC_OK);

	msg[0] ^= 1;
	assert_int_equal(crypto_rsa_pss_verify(pub, msg, sizeof msg, sig.data, 256), CC_ERR_AUTH);
	msg[0] ^= 1;
	assert_int_equal(crypto_rsa_pss_verify(pub, msg, sizeof msg - 1, sig.data, 256),
			 CC_ERR_AUTH);
	assert_int_equal(crypto_rsa_pss_verify(key_b, msg, sizeof msg, sig.data, 256),
			 CC_ERR_AUTH);
	for (size_t i = 0; i < 256; i += 51) {
		sig.data[i] ^= 0x20;
		assert_int_equal(crypto_rsa_pss_verify(pub, msg, sizeof msg, sig.data, 256),
				 CC_ERR_AUTH);
		sig.data[i] ^= 0x20;
	}
	assert_int_equal(crypto_rsa_pss_verify(pub, msg, sizeof msg, sig.data, 255), CC_ERR_AUTH);
	assert_int_equal(crypto_rsa_pss_verify(pub, msg, sizeof msg, sig.data, 0), CC_ERR_AUTH);
	assert_int_equal(buf_put_u8(&sig, 0), CC_OK);
	assert_int_equal(crypto_rsa_pss_verify(pub, msg, sizeof msg, sig.data, 257), CC_ERR_AUTH);
	assert_int_equal(crypto_rsa_pss_verify(pub, msg, sizeof msg, sig.data, 256), CC_OK);

	/* Only a private key signs; an empty message is fine. */
	buf_reset(&sig);
	assert_int_equal(crypto_rsa_pss_sign(pub, msg, sizeof msg, &sig), CC_ERR_USAGE);
	assert_int_equal(sig.len, 0);
	assert_int_equal(crypto_rsa_pss_sign(key_a, NULL, 0, &sig), CC_OK);
	assert_int_equal(crypto_rsa_pss_verify(pub, NULL, 0, sig.data, sig.len), CC_OK);

	crypto_rsa_free(pub);
	buf_free(&sig);
	buf_free(&sig2);
}

/* ---- the deterministic test RNG ---- */

struct rng_run {
	uint8_t random[100];
	uint8_t x_priv[32], x_pub[32];
	uint8_t ed_seed[32], ed_pub[32];
	uint8_t oaep[256];
	uint8_t pss[256];
};

/* Everything that draws randomness, in one fixed order. */
static void rng_run(struct rng_run *r)
{
	struct buf b;

	buf_init(&b, 0);
	assert_int_equal(crypto_random_bytes(r->random, sizeof r->random), CC_OK);
	assert_int_equal(crypto_x25519_keypair(r->x_priv, r->x_pub), CC_OK);
	assert_int_equal(crypto_ed25519_keypair(r->ed_seed, r->ed_pub), CC_OK);
	assert_int_equal(crypto_rsa_oaep_encrypt(key_a, (const uint8_t *)"l", 1,
						 (const uint8_t *)"secret", 6, &b), CC_OK);
	assert_int_equal(b.len, 256);
	memcpy(r->oaep, b.data, 256);
	buf_reset(&b);
	assert_int_equal(crypto_rsa_pss_sign(key_a, (const uint8_t *)"m", 1, &b), CC_OK);
	assert_int_equal(b.len, 256);
	memcpy(r->pss, b.data, 256);
	buf_free(&b);
}

static void test_rng_deterministic(void **state)
{
	static const uint8_t seed[] = "crypto cat worked example";
	struct rng_run *a = calloc(1, sizeof *a), *b = calloc(1, sizeof *b);
	struct rng_run *c = calloc(1, sizeof *c), *d = calloc(1, sizeof *d);
	uint8_t block0[32];
	uint8_t input[sizeof seed + 8] = {0};
	(void)state;

	assert_non_null(a);
	assert_non_null(b);
	assert_non_null(c);
	assert_non_null(d);

	crypto_test_rng_seed(seed, sizeof seed);
	rng_run(a);
	crypto_test_rng_seed(seed, sizeof seed);
	rng_run(b);
	crypto_test_rng_seed((const uint8_t *)"another seed", 12);
	rng_run(d);
	crypto_test_rng_restore();
	rng_run(c);

	/* The first block is SHA-256(seed || 0 as u64). */
	memcpy(input, seed, sizeof seed);
	crypto_sha256(input, sizeof input, block0);
	assert_memory_equal(a->random, block0, 32);

	/* Same seed, byte-identical: plain bytes, both key pairs, the OAEP
	 * seed and the PSS salt inside OpenSSL's default provider. */
	assert_memory_equal(a->random, b->random, sizeof a->random);
	assert_memory_equal(a->x_priv, b->x_priv, 32);
	assert_memory_equal(a->x_pub, b->x_pub, 32);
	assert_memory_equal(a->ed_seed, b->ed_seed, 32);
	assert_memory_equal(a->ed_pub, b->ed_pub, 32);
	assert_memory_equal(a->oaep, b->oaep, 256);
	assert_memory_equal(a->pss, b->pss, 256);

	/* Another seed, or the real generator, differs everywhere. */
	for (int i = 0; i < 2; i++) {
		const struct rng_run *o = i ? c : d;
		assert_memory_not_equal(a->random, o->random, sizeof a->random);
		assert_memory_not_equal(a->x_priv, o->x_priv, 32);
		assert_memory_not_equal(a->ed_seed, o->ed_seed, 32);
		assert_memory_not_equal(a->oaep, o->oaep, 256);
		assert_memory_not_equal(a->pss, o->pss, 256);
	}
	/* Whatever the generator, the results are sound. */
	uint8_t out[16];
	size_t out_len;
	assert_int_equal(crypto_rsa_oaep_decrypt(key_a, (const uint8_t *)"l", 1, a->oaep, 256,
						 out, sizeof out, &out_len), CC_OK);
	assert_int_equal(out_len, 6);
	assert_memory_equal(out, "secret", 6);
	assert_int_equal(crypto_rsa_pss_verify(key_a, (const uint8_t *)"m", 1, a->pss, 256), CC_OK);

	/* And after restore, the system generator is back: no repeats. */
	rng_run(d);
	assert_memory_not_equal(c->random, d->random, sizeof c->random);
	assert_memory_not_equal(c->pss, d->pss, 256);

	free(a);
	free(b);
	free(c);
	free(d);
}

static int group_setup(void **state)
{
	(void)state;
	if (crypto_init() != CC_OK)
		return -1;
	if (crypto_rsa_generate(2048, &key_a) != CC_OK ||
	    crypto_rsa_generate(2048, &key_b) != CC_OK)
		return -1;
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	crypto_rsa_free(key_a);
	crypto_rsa_free(key_b);
	return 0;
}

/* The keyed contexts the record layer uses give exactly what the one-shot
 * functions give, record after record, and refuse what they refuse. */
static void test_aead_keyed(void **state)
{
	(void)state;
	uint8_t key[CRYPTO_AEAD_KEY_LEN], nonce[CRYPTO_AEAD_NONCE_LEN] = {0}, aad[4] = {1, 2, 3, 4};
	uint8_t pt[300], a[316], b[316], back[300];
	struct crypto_aead *seal = NULL, *open = NULL;

	memset(key, 0x42, sizeof key);
	for (size_t i = 0; i < sizeof pt; i++)
		pt[i] = (uint8_t)i;
	assert_int_equal(crypto_aead_new(key, 1, &seal), CC_OK);
	assert_int_equal(crypto_aead_new(key, 0, &open), CC_OK);
	for (uint8_t counter = 0; counter < 5; counter++) {
		size_t len = counter * 60u;  /* 0 (tag only) to 240 bytes */
		nonce[11] = counter;
		assert_int_equal(crypto_aead_seal(key, nonce, aad, sizeof aad, pt, len, a), CC_OK);
		assert_int_equal(crypto_aead_seal_keyed(seal, nonce, aad, sizeof aad, pt, len, b), CC_OK);
		assert_memory_equal(a, b, len + CRYPTO_AEAD_TAG_LEN);
		assert_int_equal(crypto_aead_open_keyed(open, nonce, aad, sizeof aad, b,
							len + CRYPTO_AEAD_TAG_LEN, back), CC_OK);
		if (len)
			assert_memory_equal(back, pt, len);
		/* A flipped bit, another nonce, other AAD: refused, and the
		 * context still works for the next record. */
		b[len] ^= 1;
		assert_int_equal(crypto_aead_open_keyed(open, nonce, aad, sizeof aad, b,
							len + CRYPTO_AEAD_TAG_LEN, back), CC_ERR_AUTH);
		b[len] ^= 1;
		nonce[0] = 1;
		assert_int_equal(crypto_aead_open_keyed(open, nonce, aad, sizeof aad, b,
							len + CRYPTO_AEAD_TAG_LEN, back), CC_ERR_AUTH);
		nonce[0] = 0;
		assert_int_equal(crypto_aead_open_keyed(open, nonce, aad, 3, b,
							len + CRYPTO_AEAD_TAG_LEN, back), CC_ERR_AUTH);
	}
	assert_int_equal(crypto_aead_open_keyed(open, nonce, aad, sizeof aad, b, 15, back),
			 CC_ERR_AUTH);
	/* A context does one direction only. */
	assert_int_equal(crypto_aead_open_keyed(seal, nonce, NULL, 0, b, 16, back), CC_ERR_USAGE);
	assert_int_equal(crypto_aead_seal_keyed(open, nonce, NULL, 0, pt, 1, b), CC_ERR_USAGE);
	crypto_aead_free(seal);
	crypto_aead_free(open);
	crypto_aead_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init),
		cmocka_unit_test(test_random),
		cmocka_unit_test(test_ct_equal),
		cmocka_unit_test(test_sha256),
		cmocka_unit_test(test_hkdf_rfc5869),
		cmocka_unit_test(test_hkdf_limits),
		cmocka_unit_test(test_aead_known_answer),
		cmocka_unit_test(test_aead_tamper),
		cmocka_unit_test(test_aead_empty_and_in_place),
		cmocka_unit_test(test_aes_gcm_ex),
		cmocka_unit_test(test_x25519_rfc7748),
		cmocka_unit_test(test_x25519_keypair_and_low_order),
		cmocka_unit_test(test_ed25519_rfc8032),
		cmocka_unit_test(test_ed25519_tamper),
		cmocka_unit_test(test_rsa_generate),
		cmocka_unit_test(test_rsa_public_der),
		cmocka_unit_test(test_rsa_public_der_cached),
		cmocka_unit_test(test_rsa_public_copy),
		cmocka_unit_test(test_rsa_public_der_rejects),
		cmocka_unit_test(test_rsa_private_pem),
		cmocka_unit_test(test_rsa_files),
		cmocka_unit_test(test_rsa_oaep),
		cmocka_unit_test(test_rsa_pss),
		cmocka_unit_test(test_ed25519_key_objects),
		cmocka_unit_test(test_rng_deterministic),
		cmocka_unit_test(test_aead_keyed),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
