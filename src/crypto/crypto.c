/* The crypto layer, part one: start-up checks, randomness, SHA-256, HKDF and
 * AES-GCM. ecc.c holds X25519 and Ed25519, rsa.c the RSA keys. */
#include "crypto/crypto.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/modes.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include "util/log.h"

/* OpenSSL 3.0's GCM refuses longer IVs (GCM_IV_MAX_SIZE); see crypto_gcm_long_iv. */
#define CRYPTO_GCM_EVP_IV_MAX 128

/* Fetched once by crypto_init(). With the legacy EVP_aes_256_gcm() style
 * OpenSSL 3 repeats a name lookup on every init; an explicit fetch does not.
 * Everything falls back to the implicit fetch if crypto_init() was not called.
 * They live as long as the process. */
static CRYPTO_ONCE crypto_fetch_once = CRYPTO_ONCE_STATIC_INIT;
static EVP_CIPHER *crypto_aes256gcm;
static EVP_MD *crypto_sha256_md;
static EVP_KDF *crypto_hkdf;

/* Once only, so that a server and a client in one process (tests) can both
 * call crypto_init() from their own threads. */
static void crypto_fetch(void)
{
	crypto_aes256gcm = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
	crypto_sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
	crypto_hkdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
}

/* Fetches one algorithm to prove the providers can serve it, then lets it go. */
static int crypto_init_check(const char *what, const char *name)
{
	int ok = 0;

	if (strcmp(what, "keymgmt") == 0) {
		EVP_KEYMGMT *alg = EVP_KEYMGMT_fetch(NULL, name, NULL);
		ok = alg != NULL;
		EVP_KEYMGMT_free(alg);
	} else if (strcmp(what, "signature") == 0) {
		EVP_SIGNATURE *alg = EVP_SIGNATURE_fetch(NULL, name, NULL);
		ok = alg != NULL;
		EVP_SIGNATURE_free(alg);
	} else if (strcmp(what, "asym_cipher") == 0) {
		EVP_ASYM_CIPHER *alg = EVP_ASYM_CIPHER_fetch(NULL, name, NULL);
		ok = alg != NULL;
		EVP_ASYM_CIPHER_free(alg);
	} else if (strcmp(what, "keyexch") == 0) {
		EVP_KEYEXCH *alg = EVP_KEYEXCH_fetch(NULL, name, NULL);
		ok = alg != NULL;
		EVP_KEYEXCH_free(alg);
	}
	if (!ok)
		log_error("crypto: OpenSSL has no %s for %s", what, name);
	return ok;
}

cc_err crypto_init(void)
{
	static const struct {
		const char *what;
		const char *name;
	} checks[] = {
		{"keymgmt", "RSA"},
		{"keymgmt", "X25519"},
		{"keymgmt", "ED25519"},
		{"signature", "RSA"},
		{"signature", "ED25519"},
		{"asym_cipher", "RSA"},
		{"keyexch", "X25519"},
	};

	for (size_t i = 0; i < sizeof checks / sizeof checks[0]; i++)
		if (!crypto_init_check(checks[i].what, checks[i].name))
			goto fail;
	if (!CRYPTO_THREAD_run_once(&crypto_fetch_once, crypto_fetch) ||
	    !crypto_aes256gcm || !crypto_sha256_md || !crypto_hkdf) {
		log_error("crypto: OpenSSL lacks AES-256-GCM, SHA-256 or HKDF");
		goto fail;
	}
	if (RAND_status() != 1) {
		log_error("crypto: the random generator cannot be seeded");
		goto fail;
	}
	return CC_OK;
fail:
	ERR_clear_error();
	return CC_ERR_CRYPTO;
}

cc_err crypto_random_bytes(void *out, size_t n)
{
	uint8_t *p = out;
	size_t left = n;

	while (left > 0) {
		int chunk = left > INT_MAX ? INT_MAX : (int)left;
		if (RAND_bytes(p, chunk) != 1) {
			mem_wipe(out, n);
			ERR_clear_error();
			return CC_ERR_CRYPTO;
		}
		p += chunk;
		left -= (size_t)chunk;
	}
	return CC_OK;
}

int crypto_ct_equal(const void *a, const void *b, size_t n)
{
	return CRYPTO_memcmp(a, b, n) == 0;
}

void crypto_sha256(const void *p, size_t n, uint8_t out[CRYPTO_SHA256_LEN])
{
	const EVP_MD *md = crypto_sha256_md ? crypto_sha256_md : EVP_sha256();

	if (EVP_Digest(n ? p : "", n, out, NULL, md, NULL) != 1) {
		/* Only an allocation failure inside OpenSSL gets here. The API has
		 * no way to report it, and a wrong hash must never be used. */
		log_error("crypto: SHA-256 failed");
		abort();
	}
}

/* One HKDF step alone (mode "EXTRACT_ONLY" or "EXPAND_ONLY"): HPKE's
 * labelled derivations need the two halves apart. */
static cc_err crypto_hkdf_step(const char *mode, const uint8_t *key, size_t key_len,
			       const uint8_t *salt, size_t salt_len, const uint8_t *info,
			       size_t info_len, uint8_t *out, size_t out_len)
{
	cc_err err = CC_ERR_CRYPTO;
	EVP_KDF *fetched = NULL;
	EVP_KDF_CTX *kctx = NULL;
	OSSL_PARAM params[6], *p = params;

	EVP_KDF *kdf = crypto_hkdf;
	if (!kdf)
		kdf = fetched = EVP_KDF_fetch(NULL, "HKDF", NULL);
	if (!kdf || !(kctx = EVP_KDF_CTX_new(kdf)))
		goto out;
	*p++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_MODE, (char *)mode, 0);
	*p++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0);
	*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY,
						 key_len ? (void *)key : (void *)"", key_len);
	if (salt_len)
		*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt,
							 salt_len);
	if (info_len)
		*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)info,
							 info_len);
	*p = OSSL_PARAM_construct_end();
	if (EVP_KDF_derive(kctx, out, out_len, params) != 1)
		goto out;
	err = CC_OK;
out:
	EVP_KDF_CTX_free(kctx);
	EVP_KDF_free(fetched);
	if (err) {
		mem_wipe(out, out_len);
		ERR_clear_error();
	}
	return err;
}

cc_err crypto_hkdf_extract(const uint8_t *salt, size_t salt_len, const uint8_t *ikm,
			   size_t ikm_len, uint8_t prk[CRYPTO_SHA256_LEN])
{
	return crypto_hkdf_step("EXTRACT_ONLY", ikm, ikm_len, salt, salt_len, NULL, 0, prk,
				CRYPTO_SHA256_LEN);
}

cc_err crypto_hkdf_expand(const uint8_t *prk, size_t prk_len, const uint8_t *info,
			  size_t info_len, uint8_t *out, size_t out_len)
{
	if (out_len == 0)
		return CC_ERR_USAGE;
	if (out_len > CRYPTO_HKDF_MAX_OUT)
		return CC_ERR_TOO_LARGE;
	return crypto_hkdf_step("EXPAND_ONLY", prk, prk_len, NULL, 0, info, info_len, out,
				out_len);
}

cc_err crypto_hmac_sha256(const uint8_t *key, size_t key_len, const uint8_t *msg,
			  size_t msg_len, uint8_t out[CRYPTO_SHA256_LEN])
{
	size_t got = 0;
	if (!EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, key_len ? key : (const uint8_t *)"",
		       key_len, msg, msg_len, out, CRYPTO_SHA256_LEN, &got) ||
	    got != CRYPTO_SHA256_LEN) {
		mem_wipe(out, CRYPTO_SHA256_LEN);
		ERR_clear_error();
		return CC_ERR_CRYPTO;
	}
	return CC_OK;
}

cc_err crypto_hkdf_sha256(const uint8_t *ikm, size_t ikm_len,
			  const uint8_t *salt, size_t salt_len,
			  const uint8_t *info, size_t info_len,
			  uint8_t *out, size_t out_len)
{
	cc_err err = CC_ERR_CRYPTO;
	EVP_KDF *fetched = NULL;
	EVP_KDF_CTX *kctx = NULL;
	OSSL_PARAM params[5], *p = params;

	if (out_len == 0)
		return CC_ERR_USAGE;
	if (out_len > CRYPTO_HKDF_MAX_OUT)
		return CC_ERR_TOO_LARGE;

	EVP_KDF *kdf = crypto_hkdf;
	if (!kdf)
		kdf = fetched = EVP_KDF_fetch(NULL, "HKDF", NULL);
	if (!kdf || !(kctx = EVP_KDF_CTX_new(kdf)))
		goto out;

	*p++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0);
	/* An empty key is legal HKDF; OpenSSL wants a non-NULL pointer for it. */
	*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY,
						 ikm_len ? (void *)ikm : (void *)"", ikm_len);
	/* No salt means HashLen zero bytes (RFC 5869 2.2), as OpenSSL does. */
	if (salt_len)
		*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT,
							 (void *)salt, salt_len);
	if (info_len)
		*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO,
							 (void *)info, info_len);
	*p = OSSL_PARAM_construct_end();

	if (EVP_KDF_derive(kctx, out, out_len, params) != 1)
		goto out;
	err = CC_OK;
out:
	EVP_KDF_CTX_free(kctx);   /* clears its copy of the key */
	EVP_KDF_free(fetched);
	if (err) {
		mem_wipe(out, out_len);
		ERR_clear_error();
	}
	return err;
}

static const EVP_CIPHER *crypto_gcm_cipher(size_t key_len)
{
	switch (key_len) {
	case 16:
		return EVP_aes_128_gcm();
	case 24:
		return EVP_aes_192_gcm();
	case 32:
		return crypto_aes256gcm ? crypto_aes256gcm : EVP_aes_256_gcm();
	default:
		return NULL;
	}
}

/* One GCM pass through EVP. Sealing (tag_in NULL) writes tag_out; opening
 * checks tag_in. On failure out, and a tag being made, are wiped. */
static cc_err crypto_gcm_evp(const uint8_t *key, size_t key_len,
			     const uint8_t *iv, size_t iv_len,
			     const uint8_t *aad, size_t aad_len,
			     const uint8_t *in, size_t in_len, uint8_t *out,
			     const uint8_t *tag_in, uint8_t *tag_out, size_t tag_len)
{
	int enc = tag_in == NULL;
	cc_err err = CC_ERR_CRYPTO;
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	uint8_t fin[16];
	int n;

	if (!ctx) {
		err = CC_ERR_NOMEM;
		goto out;
	}
	if (EVP_CipherInit_ex2(ctx, crypto_gcm_cipher(key_len), NULL, NULL, enc, NULL) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_IVLEN, (int)iv_len, NULL) != 1 ||
	    EVP_CipherInit_ex2(ctx, NULL, key, iv, enc, NULL) != 1)
		goto out;
	if (aad_len && EVP_CipherUpdate(ctx, NULL, &n, aad, (int)aad_len) != 1)
		goto out;
	if (in_len && (EVP_CipherUpdate(ctx, out, &n, in, (int)in_len) != 1 ||
		       (size_t)n != in_len))
		goto out;
	if (!enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, (int)tag_len,
					(void *)tag_in) != 1)
		goto out;
	if (EVP_CipherFinal_ex(ctx, fin, &n) != 1) {
		err = enc ? CC_ERR_CRYPTO : CC_ERR_AUTH;
		goto out;
	}
	if (enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, (int)tag_len, tag_out) != 1)
		goto out;
	err = CC_OK;
out:
	EVP_CIPHER_CTX_free(ctx);   /* clears the key schedule */
	if (err) {
		if (in_len)
			mem_wipe(out, in_len);
		if (enc)
			mem_wipe(tag_out, tag_len);
		ERR_clear_error();
	}
	return err;
}

/* The block function for OpenSSL's GCM mode code: one AES block through an
 * ECB EVP context. It cannot return an error, so it records one. */
struct crypto_gcm_block {
	EVP_CIPHER_CTX *ecb;
	int failed;
};

static void crypto_gcm_block_encrypt(const unsigned char in[16], unsigned char out[16],
				     const void *key)
{
	struct crypto_gcm_block *b = (struct crypto_gcm_block *)key;
	int n;

	if (EVP_EncryptUpdate(b->ecb, out, &n, in, 16) != 1 || n != 16) {
		b->failed = 1;
		memset(out, 0, 16);
	}
}

/* GCM with an IV over 128 bytes. OpenSSL 3.0's GCM provider refuses those
 * although GCM allows them (and Wycheproof tests them), so drive OpenSSL's own
 * GCM mode (modes.h, not deprecated) with AES from EVP as the block cipher.
 * Production nonces are 12 bytes and never come here. */
static cc_err crypto_gcm_long_iv(const uint8_t *key, size_t key_len,
				 const uint8_t *iv, size_t iv_len,
				 const uint8_t *aad, size_t aad_len,
				 const uint8_t *in, size_t in_len, uint8_t *out,
				 const uint8_t *tag_in, uint8_t *tag_out, size_t tag_len)
{
	int enc = tag_in == NULL;
	static const char *const ecb_names[] = {"AES-128-ECB", "AES-192-ECB", "AES-256-ECB"};
	cc_err err = CC_ERR_CRYPTO;
	struct crypto_gcm_block blk = {NULL, 0};
	EVP_CIPHER *ecb = NULL;
	GCM128_CONTEXT *gcm = NULL;

	ecb = EVP_CIPHER_fetch(NULL, ecb_names[(key_len - 16) / 8], NULL);
	blk.ecb = EVP_CIPHER_CTX_new();
	if (!ecb || !blk.ecb ||
	    EVP_EncryptInit_ex2(blk.ecb, ecb, key, NULL, NULL) != 1 ||
	    EVP_CIPHER_CTX_set_padding(blk.ecb, 0) != 1)
		goto out;
	if (!(gcm = CRYPTO_gcm128_new(&blk, crypto_gcm_block_encrypt)))
		goto out;
	CRYPTO_gcm128_setiv(gcm, iv, iv_len);
	if (aad_len && CRYPTO_gcm128_aad(gcm, aad, aad_len) != 0)
		goto out;
	if (enc) {
		if (in_len && CRYPTO_gcm128_encrypt(gcm, in, out, in_len) != 0)
			goto out;
		CRYPTO_gcm128_tag(gcm, tag_out, tag_len);
	} else {
		if (in_len && CRYPTO_gcm128_decrypt(gcm, in, out, in_len) != 0)
			goto out;
		if (!blk.failed && CRYPTO_gcm128_finish(gcm, tag_in, tag_len) != 0) {
			err = CC_ERR_AUTH;
			goto out;
		}
	}
	if (blk.failed)
		goto out;
	err = CC_OK;
out:
	CRYPTO_gcm128_release(gcm);   /* clears H and the GHASH table */
	EVP_CIPHER_CTX_free(blk.ecb);
	EVP_CIPHER_free(ecb);
	if (err) {
		if (in_len)
			mem_wipe(out, in_len);
		if (enc)
			mem_wipe(tag_out, tag_len);
		ERR_clear_error();
	}
	return err;
}

/* Parameter checks shared by seal and open; EVP takes int lengths. */
static cc_err crypto_gcm_check(size_t key_len, size_t iv_len, size_t aad_len,
			       size_t len, size_t tag_len)
{
	if (!crypto_gcm_cipher(key_len) || iv_len == 0 || tag_len < 12 || tag_len > 16)
		return CC_ERR_USAGE;
	if (aad_len > INT_MAX || len > INT_MAX)
		return CC_ERR_TOO_LARGE;
	return CC_OK;
}

cc_err crypto_aes_gcm_seal_ex(const uint8_t *key, size_t key_len,
			      const uint8_t *iv, size_t iv_len,
			      const uint8_t *aad, size_t aad_len,
			      const uint8_t *pt, size_t pt_len,
			      uint8_t *ct_out, uint8_t *tag_out, size_t tag_len)
{
	cc_err err = crypto_gcm_check(key_len, iv_len, aad_len, pt_len, tag_len);
	if (err)
		return err;
	if (!tag_out)
		return CC_ERR_USAGE;
	if (iv_len > CRYPTO_GCM_EVP_IV_MAX)
		return crypto_gcm_long_iv(key, key_len, iv, iv_len, aad, aad_len,
					  pt, pt_len, ct_out, NULL, tag_out, tag_len);
	return crypto_gcm_evp(key, key_len, iv, iv_len, aad, aad_len,
			      pt, pt_len, ct_out, NULL, tag_out, tag_len);
}

cc_err crypto_aes_gcm_open_ex(const uint8_t *key, size_t key_len,
			      const uint8_t *iv, size_t iv_len,
			      const uint8_t *aad, size_t aad_len,
			      const uint8_t *ct, size_t ct_len,
			      const uint8_t *tag, size_t tag_len, uint8_t *pt_out)
{
	cc_err err = crypto_gcm_check(key_len, iv_len, aad_len, ct_len, tag_len);
	if (err)
		return err;
	if (!tag)   /* NULL would mean "seal" below */
		return CC_ERR_USAGE;
	if (iv_len > CRYPTO_GCM_EVP_IV_MAX)
		return crypto_gcm_long_iv(key, key_len, iv, iv_len, aad, aad_len,
					  ct, ct_len, pt_out, tag, NULL, tag_len);
	return crypto_gcm_evp(key, key_len, iv, iv_len, aad, aad_len,
			      ct, ct_len, pt_out, tag, NULL, tag_len);
}

cc_err crypto_aead_seal(const uint8_t key[CRYPTO_AEAD_KEY_LEN],
			const uint8_t nonce[CRYPTO_AEAD_NONCE_LEN],
			const uint8_t *aad, size_t aad_len,
			const uint8_t *pt, size_t pt_len, uint8_t *out)
{
	/* Ciphertext first, then the tag right after it; in place is fine. */
	return crypto_aes_gcm_seal_ex(key, CRYPTO_AEAD_KEY_LEN, nonce, CRYPTO_AEAD_NONCE_LEN,
				      aad, aad_len, pt, pt_len, out, out + pt_len,
				      CRYPTO_AEAD_TAG_LEN);
}

cc_err crypto_aead_open(const uint8_t key[CRYPTO_AEAD_KEY_LEN],
			const uint8_t nonce[CRYPTO_AEAD_NONCE_LEN],
			const uint8_t *aad, size_t aad_len,
			const uint8_t *ct, size_t ct_len, uint8_t *out)
{
	if (ct_len < CRYPTO_AEAD_TAG_LEN)
		return CC_ERR_AUTH;
	size_t body = ct_len - CRYPTO_AEAD_TAG_LEN;
	return crypto_aes_gcm_open_ex(key, CRYPTO_AEAD_KEY_LEN, nonce, CRYPTO_AEAD_NONCE_LEN,
				      aad, aad_len, ct, body, ct + body, CRYPTO_AEAD_TAG_LEN,
				      out);
}

struct crypto_aead {
	EVP_CIPHER_CTX *ctx;
	int encrypt;
};

cc_err crypto_aead_new(const uint8_t key[CRYPTO_AEAD_KEY_LEN], int encrypt,
		       struct crypto_aead **out)
{
	struct crypto_aead *a = calloc(1, sizeof *a);
	if (!a)
		return CC_ERR_NOMEM;
	a->encrypt = encrypt ? 1 : 0;
	a->ctx = EVP_CIPHER_CTX_new();
	/* The key now; each record sets only its nonce. */
	if (!a->ctx ||
	    EVP_CipherInit_ex2(a->ctx, crypto_gcm_cipher(CRYPTO_AEAD_KEY_LEN), key, NULL,
			       a->encrypt, NULL) != 1) {
		ERR_clear_error();
		crypto_aead_free(a);
		return CC_ERR_CRYPTO;
	}
	*out = a;
	return CC_OK;
}

void crypto_aead_free(struct crypto_aead *a)
{
	if (!a)
		return;
	EVP_CIPHER_CTX_free(a->ctx);   /* clears the key schedule */
	free(a);
}

/* One record through a keyed context: new nonce, AAD, data, tag. */
static cc_err crypto_aead_keyed(struct crypto_aead *a, const uint8_t *nonce,
				const uint8_t *aad, size_t aad_len,
				const uint8_t *in, size_t in_len, uint8_t *out,
				const uint8_t *tag_in, uint8_t *tag_out)
{
	uint8_t fin[16];
	int n;

	if (aad_len > INT_MAX || in_len > INT_MAX)
		return CC_ERR_TOO_LARGE;
	if (EVP_CipherInit_ex2(a->ctx, NULL, NULL, nonce, a->encrypt, NULL) != 1 ||
	    (aad_len && EVP_CipherUpdate(a->ctx, NULL, &n, aad, (int)aad_len) != 1) ||
	    (in_len && (EVP_CipherUpdate(a->ctx, out, &n, in, (int)in_len) != 1 ||
			(size_t)n != in_len)))
		goto fail;
	if (!a->encrypt && EVP_CIPHER_CTX_ctrl(a->ctx, EVP_CTRL_AEAD_SET_TAG, CRYPTO_AEAD_TAG_LEN,
					       (void *)tag_in) != 1)
		goto fail;
	if (EVP_CipherFinal_ex(a->ctx, fin, &n) != 1) {
		if (in_len)
			mem_wipe(out, in_len);
		ERR_clear_error();
		return a->encrypt ? CC_ERR_CRYPTO : CC_ERR_AUTH;
	}
	if (a->encrypt &&
	    EVP_CIPHER_CTX_ctrl(a->ctx, EVP_CTRL_AEAD_GET_TAG, CRYPTO_AEAD_TAG_LEN, tag_out) != 1)
		goto fail;
	return CC_OK;
fail:
	if (in_len)
		mem_wipe(out, in_len);
	ERR_clear_error();
	return CC_ERR_CRYPTO;
}

cc_err crypto_aead_seal_keyed(struct crypto_aead *a, const uint8_t nonce[CRYPTO_AEAD_NONCE_LEN],
			      const uint8_t *aad, size_t aad_len,
			      const uint8_t *pt, size_t pt_len, uint8_t *out)
{
	if (!a->encrypt)
		return CC_ERR_USAGE;
	return crypto_aead_keyed(a, nonce, aad, aad_len, pt, pt_len, out, NULL, out + pt_len);
}

cc_err crypto_aead_open_keyed(struct crypto_aead *a, const uint8_t nonce[CRYPTO_AEAD_NONCE_LEN],
			      const uint8_t *aad, size_t aad_len,
			      const uint8_t *ct, size_t ct_len, uint8_t *out)
{
	if (a->encrypt)
		return CC_ERR_USAGE;
	if (ct_len < CRYPTO_AEAD_TAG_LEN)
		return CC_ERR_AUTH;
	size_t body = ct_len - CRYPTO_AEAD_TAG_LEN;
	return crypto_aead_keyed(a, nonce, aad, aad_len, ct, body, out, ct + body, NULL);
}
