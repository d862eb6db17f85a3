/* The crypto layer, part three: RSA identity and server keys. Key encodings
 * (SubjectPublicKeyInfo DER, PKCS#8 DER and PEM), RSA-OAEP-SHA256 and
 * RSA-PSS-SHA256, all through the OpenSSL 3 EVP and encoder APIs. Key files
 * are keyfile.c's, passphrase-encrypted PKCS#8 pbe.c's. */
#include "crypto/crypto.h"
#include "crypto/crypto_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/encoder.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "util/log.h"

#define CRYPTO_RSA_E 65537u
/* OAEP with SHA-256 takes at most k - 2 * 32 - 2 bytes of plaintext. */
#define CRYPTO_OAEP_OVERHEAD (2 * CRYPTO_SHA256_LEN + 2)
#define CRYPTO_PSS_SALT_LEN 32

cc_err crypto_rsa_wrap(EVP_PKEY *pkey, int is_private, struct crypto_rsa_key **out)
{
	struct crypto_rsa_key *key = calloc(1, sizeof *key);
	unsigned char *der = NULL;
	int n = i2d_PUBKEY(pkey, &der);  /* allocates */
	if (!key || n <= 0) {
		free(key);
		OPENSSL_free(der);
		ERR_clear_error();
		return key ? CC_ERR_CRYPTO : CC_ERR_NOMEM;
	}
	key->pkey = pkey;
	key->is_private = is_private;
	key->der = der;
	key->der_len = (size_t)n;
	*out = key;
	return CC_OK;
}

void crypto_rsa_free(struct crypto_rsa_key *key)
{
	if (!key)
		return;
	EVP_PKEY_free(key->pkey);   /* clears the private components */
	OPENSSL_free(key->der);     /* public */
	free(key);
}

int crypto_rsa_is_private(const struct crypto_rsa_key *key)
{
	return key->is_private;
}

unsigned crypto_rsa_bits(const struct crypto_rsa_key *key)
{
	int bits = EVP_PKEY_get_bits(key->pkey);
	return bits > 0 ? (unsigned)bits : 0;
}

size_t crypto_rsa_size(const struct crypto_rsa_key *key)
{
	int size = EVP_PKEY_get_size(key->pkey);
	return size > 0 ? (size_t)size : 0;
}

cc_err crypto_rsa_check_policy(const EVP_PKEY *pkey, int min_bits)
{
	cc_err err = CC_ERR_MALFORMED;
	BIGNUM *e = NULL;
	int bits;

	if (!EVP_PKEY_is_a(pkey, "RSA"))
		goto out;
	bits = EVP_PKEY_get_bits(pkey);
	if (bits < min_bits || bits > CRYPTO_RSA_MAX_BITS)
		goto out;
	if (EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_E, &e) != 1 ||
	    !BN_is_word(e, CRYPTO_RSA_E))
		goto out;
	err = CC_OK;
out:
	BN_free(e);
	return err;
}

cc_err crypto_rsa_generate(unsigned bits, struct crypto_rsa_key **out)
{
	cc_err err = CC_ERR_CRYPTO;
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *pkey = NULL;
	size_t nbits = bits;
	unsigned e = CRYPTO_RSA_E;
	OSSL_PARAM params[3];

	*out = NULL;
	if (bits < CRYPTO_RSA_MIN_BITS || bits > CRYPTO_RSA_MAX_BITS)
		return CC_ERR_USAGE;
	/* e = 65537 is OpenSSL's default too; say so rather than depend on it. */
	params[0] = OSSL_PARAM_construct_size_t(OSSL_PKEY_PARAM_RSA_BITS, &nbits);
	params[1] = OSSL_PARAM_construct_uint(OSSL_PKEY_PARAM_RSA_E, &e);
	params[2] = OSSL_PARAM_construct_end();
	if (!(ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL)) ||
	    EVP_PKEY_keygen_init(ctx) != 1 ||
	    EVP_PKEY_CTX_set_params(ctx, params) != 1 ||
	    EVP_PKEY_generate(ctx, &pkey) != 1)
		goto out;
	if ((err = crypto_rsa_wrap(pkey, 1, out)))
		goto out;
	pkey = NULL;
	err = CC_OK;
out:
	EVP_PKEY_free(pkey);
	EVP_PKEY_CTX_free(ctx);
	if (err)
		ERR_clear_error();
	return err;
}

cc_err crypto_rsa_public_to_der(const struct crypto_rsa_key *key, struct buf *out)
{
	return buf_put_bytes(out, key->der, key->der_len);
}

/* Public keys already parsed and checked, by their DER: OpenSSL 3's decoder
 * and encoder (a parse, then the re-encoding that proves the input
 * canonical) cost more than half a millisecond per key, taking locks and
 * looking up providers, and a server parses the key of every client that
 * connects, mostly the same keys again. An EVP_PKEY is immutable once made
 * and safe to share between threads for public-key operations. */
#define PUBKEY_CACHE_SLOTS 512

struct pubkey_cached {
	unsigned char *der;  /* NULL: empty */
	size_t len;
	EVP_PKEY *pkey;
};

static struct pubkey_cached pubkey_cache[PUBKEY_CACHE_SLOTS];
static pthread_mutex_t pubkey_cache_lock = PTHREAD_MUTEX_INITIALIZER;

static size_t pubkey_slot(const uint8_t *der, size_t len)
{
	uint64_t h = 1469598103934665603ull;  /* FNV-1a: not secret, only a spread */
	for (size_t i = 0; i < len; i++)
		h = (h ^ der[i]) * 1099511628211ull;
	return (size_t)(h % PUBKEY_CACHE_SLOTS);
}

/* A new handle on pkey (one more reference) with a copy of its DER. */
static cc_err rsa_wrap_public(EVP_PKEY *pkey, const uint8_t *der, size_t len,
			      struct crypto_rsa_key **out)
{
	struct crypto_rsa_key *key = calloc(1, sizeof *key);
	unsigned char *copy = OPENSSL_malloc(len);
	if (!key || !copy || !EVP_PKEY_up_ref(pkey)) {
		free(key);
		OPENSSL_free(copy);
		return CC_ERR_NOMEM;
	}
	memcpy(copy, der, len);
	key->pkey = pkey;
	key->der = copy;
	key->der_len = len;
	*out = key;
	return CC_OK;
}

static cc_err pubkey_cache_get(const uint8_t *der, size_t len, struct crypto_rsa_key **out)
{
	cc_err err = CC_ERR_NOT_FOUND;
	pthread_mutex_lock(&pubkey_cache_lock);
	struct pubkey_cached *e = &pubkey_cache[pubkey_slot(der, len)];
	if (e->der && e->len == len && memcmp(e->der, der, len) == 0)
		err = rsa_wrap_public(e->pkey, der, len, out);
	pthread_mutex_unlock(&pubkey_cache_lock);
	return err;
}

static void pubkey_cache_put(EVP_PKEY *pkey, const uint8_t *der, size_t len)
{
	unsigned char *copy = OPENSSL_malloc(len);
	if (!copy || !EVP_PKEY_up_ref(pkey)) {
		OPENSSL_free(copy);
		return;
	}
	memcpy(copy, der, len);
	pthread_mutex_lock(&pubkey_cache_lock);
	struct pubkey_cached *e = &pubkey_cache[pubkey_slot(der, len)];
	OPENSSL_free(e->der);
	EVP_PKEY_free(e->pkey);
	*e = (struct pubkey_cached){copy, len, pkey};
	pthread_mutex_unlock(&pubkey_cache_lock);
}

void crypto_rsa_cache_clear(void)
{
	pthread_mutex_lock(&pubkey_cache_lock);
	for (size_t i = 0; i < PUBKEY_CACHE_SLOTS; i++) {
		OPENSSL_free(pubkey_cache[i].der);
		EVP_PKEY_free(pubkey_cache[i].pkey);
		pubkey_cache[i] = (struct pubkey_cached){0};
	}
	pthread_mutex_unlock(&pubkey_cache_lock);
}

cc_err crypto_rsa_public_from_der(const uint8_t *der, size_t len, struct crypto_rsa_key **out)
{
	cc_err err = CC_ERR_MALFORMED;
	EVP_PKEY *pkey = NULL;
	unsigned char *again = NULL;
	const unsigned char *p = der;
	int n;

	*out = NULL;
	if (len == 0)
		return CC_ERR_TRUNCATED;
	if (len > CRYPTO_RSA_PUB_DER_MAX)
		return CC_ERR_TOO_LARGE;
	/* Only keys that passed every check below are ever cached. */
	if ((err = pubkey_cache_get(der, len, out)) != CC_ERR_NOT_FOUND)
		return err;
	err = CC_ERR_MALFORMED;
	if (!(pkey = d2i_PUBKEY(NULL, &p, (long)len)))
		goto out;
	if (p != der + len) {
		err = CC_ERR_TRAILING;
		goto out;
	}
	if ((err = crypto_rsa_check_policy(pkey, CRYPTO_RSA_MIN_BITS)))
		goto out;
	/* One key, one encoding: the input must be exactly what we would write,
	 * so a key cannot hide behind a second (BER) encoding or fingerprint. */
	n = i2d_PUBKEY(pkey, &again);
	if (n <= 0 || (size_t)n != len || memcmp(again, der, len) != 0) {
		err = CC_ERR_MALFORMED;
		goto out;
	}
	if ((err = rsa_wrap_public(pkey, der, len, out)))
		goto out;
	pubkey_cache_put(pkey, der, len);
out:
	OPENSSL_free(again);
	EVP_PKEY_free(pkey);  /* the handle and the cache hold their own references */
	if (err)
		ERR_clear_error();
	return err;
}

cc_err crypto_rsa_public_copy(const struct crypto_rsa_key *key, struct crypto_rsa_key **out)
{
	*out = NULL;
	if (!key || key->is_private || !key->der)
		return CC_ERR_USAGE;
	return rsa_wrap_public(key->pkey, key->der, key->der_len, out);
}

cc_err crypto_rsa_private_from_der(const uint8_t *der, size_t len, struct crypto_rsa_key **out)
{
	cc_err err = CC_ERR_MALFORMED;
	PKCS8_PRIV_KEY_INFO *p8 = NULL;
	EVP_PKEY *pkey = NULL;
	const unsigned char *p = der;

	*out = NULL;
	if (len == 0)
		return CC_ERR_TRUNCATED;
	if (len > CRYPTO_RSA_PRIV_DER_MAX)
		return CC_ERR_TOO_LARGE;
	if (!(p8 = d2i_PKCS8_PRIV_KEY_INFO(NULL, &p, (long)len)))
		goto out;
	if (p != der + len) {
		err = CC_ERR_TRAILING;
		goto out;
	}
	if (!(pkey = EVP_PKCS82PKEY(p8)))
		goto out;
	if ((err = crypto_rsa_check_policy(pkey, CRYPTO_RSA_PRIV_MIN_BITS)))
		goto out;
	if ((err = crypto_rsa_wrap(pkey, 1, out)))
		goto out;
	pkey = NULL;
out:
	EVP_PKEY_free(pkey);
	PKCS8_PRIV_KEY_INFO_free(p8);   /* cleanses the key octets */
	if (err)
		ERR_clear_error();
	return err;
}

cc_err crypto_rsa_private_to_pem(const struct crypto_rsa_key *key, struct buf *out)
{
	cc_err err = CC_ERR_CRYPTO;
	OSSL_ENCODER_CTX *ectx = NULL;
	BIO *bio = NULL;
	char *data;
	long n;

	if (!key->is_private)
		return CC_ERR_USAGE;
	ectx = OSSL_ENCODER_CTX_new_for_pkey(key->pkey, EVP_PKEY_KEYPAIR, "PEM",
					     "PrivateKeyInfo", NULL);
	if (!ectx || OSSL_ENCODER_CTX_get_num_encoders(ectx) == 0)
		goto out;
	/* A secure-memory BIO: cleared when freed, never left in a realloc. */
	if (!(bio = BIO_new(BIO_s_secmem())) || OSSL_ENCODER_to_bio(ectx, bio) != 1)
		goto out;
	n = BIO_get_mem_data(bio, &data);
	if (n <= 0)
		goto out;
	err = buf_put_bytes(out, data, (size_t)n);
out:
	BIO_free(bio);
	OSSL_ENCODER_CTX_free(ectx);
	if (err)
		ERR_clear_error();
	return err;
}

int crypto_is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

cc_err crypto_rsa_private_from_pem(const char *pem, size_t len, struct crypto_rsa_key **out)
{
	static const char begin[] = "-----BEGIN PRIVATE KEY-----";
	static const char encrypted[] = CRYPTO_PEM_ENCRYPTED_BEGIN;
	cc_err err = CC_ERR_MALFORMED;
	BIO *bio = NULL;
	char *name = NULL, *header = NULL, *rest;
	unsigned char *data = NULL;
	long data_len = 0, rest_len;
	size_t i = 0;

	*out = NULL;
	if (len == 0)
		return CC_ERR_TRUNCATED;
	if (len > CRYPTO_RSA_PEM_MAX)
		return CC_ERR_TOO_LARGE;
	/* Only whitespace may come before or after the one key. */
	while (i < len && crypto_is_space(pem[i]))
		i++;
	if (len - i < sizeof begin - 1 || memcmp(pem + i, begin, sizeof begin - 1) != 0) {
		/* Encrypted under a passphrase (pbe.c): not readable without it. */
		if (len - i >= sizeof encrypted - 1 &&
		    memcmp(pem + i, encrypted, sizeof encrypted - 1) == 0)
			err = CC_ERR_BAD_PASSPHRASE;
		goto out;
	}
	if (!(bio = BIO_new_mem_buf(pem + i, (int)(len - i))))
		goto out;
	/* ONLY_B64: no headers, which refuses the old encrypted PEM; the name
	 * check below refuses "ENCRYPTED PRIVATE KEY" and "RSA PRIVATE KEY". */
	if (!PEM_read_bio_ex(bio, &name, &header, &data, &data_len,
			     PEM_FLAG_SECURE | PEM_FLAG_ONLY_B64))
		goto out;
	if (strcmp(name, "PRIVATE KEY") != 0 || header[0] != '\0' || data_len <= 0)
		goto out;
	rest_len = BIO_get_mem_data(bio, &rest);
	for (long j = 0; j < rest_len; j++) {
		if (!crypto_is_space(rest[j])) {
			err = CC_ERR_TRAILING;
			goto out;
		}
	}
	err = crypto_rsa_private_from_der(data, (size_t)data_len, out);
out:
	OPENSSL_secure_clear_free(data, data_len > 0 ? (size_t)data_len : 0);
	OPENSSL_secure_free(header);
	OPENSSL_secure_free(name);
	BIO_free(bio);
	if (err)
		ERR_clear_error();
	return err;
}

cc_err crypto_rsa_fingerprint(const struct crypto_rsa_key *key,
			      uint8_t out[CRYPTO_FINGERPRINT_LEN])
{
	struct buf der;
	cc_err err;

	buf_init(&der, CRYPTO_RSA_PUB_DER_MAX);
	if (!(err = crypto_rsa_public_to_der(key, &der)))
		crypto_sha256(der.data, der.len, out);
	buf_free(&der);
	return err;
}

/* An EVP_PKEY_CTX set up for RSA-OAEP-SHA256 with MGF1-SHA256 and label. */
static EVP_PKEY_CTX *crypto_oaep_ctx(const struct crypto_rsa_key *key, int encrypt,
				     const uint8_t *label, size_t label_len)
{
	OSSL_PARAM params[5], *p = params;
	EVP_PKEY_CTX *ctx;

	*p++ = OSSL_PARAM_construct_utf8_string(OSSL_ASYM_CIPHER_PARAM_PAD_MODE,
						(char *)OSSL_PKEY_RSA_PAD_MODE_OAEP, 0);
	*p++ = OSSL_PARAM_construct_utf8_string(OSSL_ASYM_CIPHER_PARAM_OAEP_DIGEST,
						(char *)"SHA256", 0);
	*p++ = OSSL_PARAM_construct_utf8_string(OSSL_ASYM_CIPHER_PARAM_MGF1_DIGEST,
						(char *)"SHA256", 0);
	/* OpenSSL copies the label. */
	if (label_len)
		*p++ = OSSL_PARAM_construct_octet_string(OSSL_ASYM_CIPHER_PARAM_OAEP_LABEL,
							 (void *)label, label_len);
	*p = OSSL_PARAM_construct_end();

	if (!(ctx = EVP_PKEY_CTX_new_from_pkey(NULL, key->pkey, NULL)))
		return NULL;
	if ((encrypt ? EVP_PKEY_encrypt_init_ex(ctx, params)
		     : EVP_PKEY_decrypt_init_ex(ctx, params)) != 1) {
		EVP_PKEY_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

cc_err crypto_rsa_oaep_encrypt(const struct crypto_rsa_key *key,
			       const uint8_t *label, size_t label_len,
			       const uint8_t *pt, size_t pt_len, struct buf *out)
{
	cc_err err = CC_ERR_CRYPTO;
	EVP_PKEY_CTX *ctx = NULL;
	size_t k = crypto_rsa_size(key), n = k, old_len = out->len;
	uint8_t *p = NULL;

	if (k < CRYPTO_OAEP_OVERHEAD || pt_len > k - CRYPTO_OAEP_OVERHEAD)
		return CC_ERR_TOO_LARGE;
	if ((err = buf_append_space(out, k, &p)))
		return err;
	err = CC_ERR_CRYPTO;
	if (!(ctx = crypto_oaep_ctx(key, 1, label, label_len)) ||
	    EVP_PKEY_encrypt(ctx, p, &n, pt_len ? pt : (const uint8_t *)"", pt_len) != 1 ||
	    n != k)
		goto out;
	err = CC_OK;
out:
	EVP_PKEY_CTX_free(ctx);
	if (err) {
		mem_wipe(p, k);
		out->len = old_len;
		ERR_clear_error();
	}
	return err;
}

cc_err crypto_rsa_oaep_decrypt(const struct crypto_rsa_key *key,
			       const uint8_t *label, size_t label_len,
			       const uint8_t *ct, size_t ct_len,
			       uint8_t *out, size_t out_max, size_t *out_len)
{
	/* Every failure below is CC_ERR_AUTH and nothing else: which check
	 * failed must not reach the peer (Bleichenbacher, Manger). OpenSSL's
	 * OAEP decoding is itself constant time. */
	cc_err err = CC_ERR_AUTH;
	EVP_PKEY_CTX *ctx = NULL;
	uint8_t tmp[CRYPTO_RSA_MAX_BYTES];
	size_t k = crypto_rsa_size(key), n = sizeof tmp;

	*out_len = 0;
	if (!key->is_private || k == 0 || k > sizeof tmp || ct_len != k)
		goto out;
	if (!(ctx = crypto_oaep_ctx(key, 0, label, label_len)) ||
	    EVP_PKEY_decrypt(ctx, tmp, &n, ct, ct_len) != 1 || n > out_max)
		goto out;
	if (n)
		memcpy(out, tmp, n);
	*out_len = n;
	err = CC_OK;
out:
	EVP_PKEY_CTX_free(ctx);
	mem_wipe(tmp, sizeof tmp);
	if (err)
		ERR_clear_error();
	return err;
}

/* An EVP_MD_CTX set up for RSA-PSS-SHA256, MGF1-SHA256, 32-byte salt. */
static EVP_MD_CTX *crypto_pss_ctx(const struct crypto_rsa_key *key, int sign)
{
	int saltlen = CRYPTO_PSS_SALT_LEN;
	OSSL_PARAM params[4];
	EVP_MD_CTX *md;

	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_SIGNATURE_PARAM_PAD_MODE,
						     (char *)OSSL_PKEY_RSA_PAD_MODE_PSS, 0);
	params[1] = OSSL_PARAM_construct_utf8_string(OSSL_SIGNATURE_PARAM_MGF1_DIGEST,
						     (char *)"SHA256", 0);
	/* A fixed salt length: verify refuses any other, not just "auto". */
	params[2] = OSSL_PARAM_construct_int(OSSL_SIGNATURE_PARAM_PSS_SALTLEN, &saltlen);
	params[3] = OSSL_PARAM_construct_end();

	if (!(md = EVP_MD_CTX_new()))
		return NULL;
	if ((sign ? EVP_DigestSignInit_ex(md, NULL, "SHA256", NULL, NULL, key->pkey, params)
		  : EVP_DigestVerifyInit_ex(md, NULL, "SHA256", NULL, NULL, key->pkey,
					    params)) != 1) {
		EVP_MD_CTX_free(md);
		return NULL;
	}
	return md;
}

cc_err crypto_rsa_pss_sign(const struct crypto_rsa_key *key,
			   const uint8_t *msg, size_t msg_len, struct buf *out)
{
	cc_err err;
	EVP_MD_CTX *md = NULL;
	size_t k = crypto_rsa_size(key), n = k, old_len = out->len;
	uint8_t *p = NULL;

	if (!key->is_private || k == 0)
		return CC_ERR_USAGE;
	if ((err = buf_append_space(out, k, &p)))
		return err;
	err = CC_ERR_CRYPTO;
	if (!(md = crypto_pss_ctx(key, 1)) ||
	    EVP_DigestSign(md, p, &n, msg_len ? msg : (const uint8_t *)"", msg_len) != 1 ||
	    n != k)
		goto out;
	err = CC_OK;
out:
	EVP_MD_CTX_free(md);
	if (err) {
		mem_wipe(p, k);
		out->len = old_len;
		ERR_clear_error();
	}
	return err;
}

cc_err crypto_rsa_pss_verify(const struct crypto_rsa_key *key,
			     const uint8_t *msg, size_t msg_len,
			     const uint8_t *sig, size_t sig_len)
{
	cc_err err = CC_ERR_AUTH;
	EVP_MD_CTX *md = NULL;

	/* Exactly k bytes: OpenSSL would take a shorter one as zero-padded. */
	if (sig_len == 0 || sig_len != crypto_rsa_size(key))
		return CC_ERR_AUTH;
	if (!(md = crypto_pss_ctx(key, 0)) ||
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
