/* The crypto layer, part two: X25519 key agreement and Ed25519 signatures,
 * with raw 32-byte keys in caller memory. */
#include "crypto/crypto.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>

/* The public half of a raw X25519 or Ed25519 private key. */
static cc_err crypto_raw_public(const char *alg, const uint8_t priv[32], uint8_t pub[32])
{
	cc_err err = CC_ERR_CRYPTO;
	size_t len = 32;
	/* The EVP_PKEY keeps a copy of priv; EVP_PKEY_free clears it. */
	EVP_PKEY *pkey = EVP_PKEY_new_raw_private_key_ex(NULL, alg, NULL, priv, 32);

	if (!pkey || EVP_PKEY_get_raw_public_key(pkey, pub, &len) != 1 || len != 32)
		goto out;
	err = CC_OK;
out:
	EVP_PKEY_free(pkey);
	if (err) {
		mem_wipe(pub, 32);
		ERR_clear_error();
	}
	return err;
}

/* The private key comes from crypto_random_bytes, not from OpenSSL's keygen,
 * so that the test RNG makes key pairs reproducible too. */
static cc_err crypto_raw_keypair(const char *alg, uint8_t priv[32], uint8_t pub[32])
{
	cc_err err = crypto_random_bytes(priv, 32);
	if (!err)
		err = crypto_raw_public(alg, priv, pub);
	if (err)
		mem_wipe(priv, 32);
	return err;
}

cc_err crypto_x25519_keypair(uint8_t priv[CRYPTO_X25519_LEN], uint8_t pub[CRYPTO_X25519_LEN])
{
	return crypto_raw_keypair("X25519", priv, pub);
}

cc_err crypto_x25519_public(const uint8_t priv[CRYPTO_X25519_LEN], uint8_t pub[CRYPTO_X25519_LEN])
{
	return crypto_raw_public("X25519", priv, pub);
}

cc_err crypto_x25519_shared(const uint8_t priv[CRYPTO_X25519_LEN],
			    const uint8_t peer_pub[CRYPTO_X25519_LEN],
			    uint8_t out[CRYPTO_X25519_LEN])
{
	static const uint8_t zero[CRYPTO_X25519_LEN];
	cc_err err = CC_ERR_CRYPTO;
	EVP_PKEY *key = NULL, *peer = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	size_t len = CRYPTO_X25519_LEN;

	key = EVP_PKEY_new_raw_private_key_ex(NULL, "X25519", NULL, priv, CRYPTO_X25519_LEN);
	peer = EVP_PKEY_new_raw_public_key_ex(NULL, "X25519", NULL, peer_pub, CRYPTO_X25519_LEN);
	if (!key || !peer)
		goto out;
	/* Every 32-byte string is an X25519 public key (RFC 7748), so there is
	 * nothing to validate up front; the zero check below is the check. */
	if (!(ctx = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL)) ||
	    EVP_PKEY_derive_init(ctx) != 1 ||
	    EVP_PKEY_derive_set_peer_ex(ctx, peer, 0) != 1)
		goto out;
	/* OpenSSL already fails the derivation when the result is all zeros,
	 * the only way it depends on the input: that is an auth failure. */
	if (EVP_PKEY_derive(ctx, out, &len) != 1 || len != CRYPTO_X25519_LEN) {
		err = CC_ERR_AUTH;
		goto out;
	}
	/* A low-order peer key gives all zeros; refuse it ourselves too, in
	 * constant time, rather than rely on a library detail. */
	if (CRYPTO_memcmp(out, zero, CRYPTO_X25519_LEN) == 0) {
		err = CC_ERR_AUTH;
		goto out;
	}
	err = CC_OK;
out:
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(peer);
	EVP_PKEY_free(key);
	if (err) {
		mem_wipe(out, CRYPTO_X25519_LEN);
		ERR_clear_error();
	}
	return err;
}

cc_err crypto_ed25519_keypair(uint8_t seed[CRYPTO_ED25519_SEED_LEN],
			      uint8_t pub[CRYPTO_ED25519_PUB_LEN])
{
	return crypto_raw_keypair("ED25519", seed, pub);
}

cc_err crypto_ed25519_public(const uint8_t seed[CRYPTO_ED25519_SEED_LEN],
			     uint8_t pub[CRYPTO_ED25519_PUB_LEN])
{
	return crypto_raw_public("ED25519", seed, pub);
}

/* ---- Ed25519: one key object, many operations ---- */

struct crypto_ed25519_pub {
	EVP_PKEY *pkey;
	uint8_t pub[CRYPTO_ED25519_PUB_LEN];
};

struct crypto_ed25519_priv {
	EVP_PKEY *pkey;  /* holds the seed; EVP_PKEY_free clears it */
};

cc_err crypto_ed25519_pub_new(const uint8_t pub[CRYPTO_ED25519_PUB_LEN],
			      struct crypto_ed25519_pub **out)
{
	struct crypto_ed25519_pub *k = calloc(1, sizeof *k);
	*out = NULL;
	if (!k)
		return CC_ERR_NOMEM;
	k->pkey = EVP_PKEY_new_raw_public_key_ex(NULL, "ED25519", NULL, pub,
						 CRYPTO_ED25519_PUB_LEN);
	if (!k->pkey) {
		free(k);
		ERR_clear_error();
		return CC_ERR_CRYPTO;
	}
	memcpy(k->pub, pub, sizeof k->pub);
	*out = k;
	return CC_OK;
}

void crypto_ed25519_pub_free(struct crypto_ed25519_pub *k)
{
	if (!k)
		return;
	EVP_PKEY_free(k->pkey);
	free(k);
}

int crypto_ed25519_pub_is(const struct crypto_ed25519_pub *k,
			  const uint8_t pub[CRYPTO_ED25519_PUB_LEN])
{
	return k && memcmp(k->pub, pub, sizeof k->pub) == 0;
}

cc_err crypto_ed25519_priv_new(const uint8_t seed[CRYPTO_ED25519_SEED_LEN],
			       struct crypto_ed25519_priv **out)
{
	struct crypto_ed25519_priv *k = calloc(1, sizeof *k);
	*out = NULL;
	if (!k)
		return CC_ERR_NOMEM;
	k->pkey = EVP_PKEY_new_raw_private_key_ex(NULL, "ED25519", NULL, seed,
						  CRYPTO_ED25519_SEED_LEN);
	if (!k->pkey) {
		free(k);
		ERR_clear_error();
		return CC_ERR_CRYPTO;
	}
	*out = k;
	return CC_OK;
}

void crypto_ed25519_priv_free(struct crypto_ed25519_priv *k)
{
	if (!k)
		return;
	EVP_PKEY_free(k->pkey);
	free(k);
}

static cc_err ed25519_sign_pkey(EVP_PKEY *key, const uint8_t *msg, size_t msg_len,
				uint8_t sig[CRYPTO_ED25519_SIG_LEN])
{
	cc_err err = CC_ERR_CRYPTO;
	EVP_MD_CTX *md = NULL;
	size_t len = CRYPTO_ED25519_SIG_LEN;

	if (!key || !(md = EVP_MD_CTX_new()))
		goto out;
	/* Pure Ed25519: no digest name, one-shot sign. */
	if (EVP_DigestSignInit_ex(md, NULL, NULL, NULL, NULL, key, NULL) != 1 ||
	    EVP_DigestSign(md, sig, &len, msg_len ? msg : (const uint8_t *)"", msg_len) != 1 ||
	    len != CRYPTO_ED25519_SIG_LEN)
		goto out;
	err = CC_OK;
out:
	EVP_MD_CTX_free(md);
	if (err) {
		mem_wipe(sig, CRYPTO_ED25519_SIG_LEN);
		ERR_clear_error();
	}
	return err;
}

static cc_err ed25519_verify_pkey(EVP_PKEY *key, const uint8_t *msg, size_t msg_len,
				  const uint8_t *sig, size_t sig_len)
{
	cc_err err = CC_ERR_AUTH;
	EVP_MD_CTX *md = NULL;

	if (sig_len != CRYPTO_ED25519_SIG_LEN)
		return CC_ERR_AUTH;
	if (!key || !(md = EVP_MD_CTX_new()))
		goto out;
	/* Any failure, even an allocation, fails closed as a bad signature. */
	if (EVP_DigestVerifyInit_ex(md, NULL, NULL, NULL, NULL, key, NULL) != 1 ||
	    EVP_DigestVerify(md, sig, sig_len, msg_len ? msg : (const uint8_t *)"",
			     msg_len) != 1)
		goto out;
	err = CC_OK;
out:
	EVP_MD_CTX_free(md);
	if (err)
		ERR_clear_error();
	return err;
}

cc_err crypto_ed25519_sign_with(const struct crypto_ed25519_priv *k,
				const uint8_t *msg, size_t msg_len,
				uint8_t sig[CRYPTO_ED25519_SIG_LEN])
{
	return ed25519_sign_pkey(k ? k->pkey : NULL, msg, msg_len, sig);
}

cc_err crypto_ed25519_verify_with(const struct crypto_ed25519_pub *k,
				  const uint8_t *msg, size_t msg_len,
				  const uint8_t *sig, size_t sig_len)
{
	return ed25519_verify_pkey(k ? k->pkey : NULL, msg, msg_len, sig, sig_len);
}

/* ---- Ed25519 from raw bytes, one operation ---- */

cc_err crypto_ed25519_sign(const uint8_t seed[CRYPTO_ED25519_SEED_LEN],
			   const uint8_t *msg, size_t msg_len,
			   uint8_t sig[CRYPTO_ED25519_SIG_LEN])
{
	EVP_PKEY *key = EVP_PKEY_new_raw_private_key_ex(NULL, "ED25519", NULL, seed,
							CRYPTO_ED25519_SEED_LEN);
	cc_err err = ed25519_sign_pkey(key, msg, msg_len, sig);
	EVP_PKEY_free(key);
	return err;
}

cc_err crypto_ed25519_verify(const uint8_t pub[CRYPTO_ED25519_PUB_LEN],
			     const uint8_t *msg, size_t msg_len,
			     const uint8_t *sig, size_t sig_len)
{
	if (sig_len != CRYPTO_ED25519_SIG_LEN)
		return CC_ERR_AUTH;
	EVP_PKEY *key = EVP_PKEY_new_raw_public_key_ex(NULL, "ED25519", NULL, pub,
						       CRYPTO_ED25519_PUB_LEN);
	cc_err err = ed25519_verify_pkey(key, msg, msg_len, sig, sig_len);
	EVP_PKEY_free(key);
	return err;
}
