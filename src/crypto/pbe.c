/* The crypto layer, part five: keys from passphrases. scrypt (RFC 7914) for
 * every key derived from a passphrase, and private keys encrypted under one
 * as PKCS#8 EncryptedPrivateKeyInfo (RFC 5958) with PBES2 (RFC 8018): scrypt
 * as the key derivation (RFC 7914 section 7), AES-256-CBC as the cipher. That
 * is the file `openssl pkcs8 -topk8 -scrypt` writes and `openssl pkey` reads
 * with the passphrase: a user can always take their key elsewhere.
 *
 * Why these scrypt parameters (N = 2^14, r = 8, p = 8): OpenSSL 3.0 refuses
 * scrypt in PKCS#8 above 32 MiB of memory (its PBE code passes no memory
 * limit, and the default is 32 MiB), both writing and reading, so N cannot
 * exceed 2^14 at r = 8 (16 MiB) in a file it can open. p = 8 then makes each
 * guess cost eight such passes: OWASP's password storage cheat sheet counts
 * N = 2^14, r = 8, p = 5 as equal to its minimum (N = 2^17, r = 8, p = 1);
 * p = 8 is above it and costs about 0.3 s on a laptop. client.db's key uses
 * the same parameters: a passphrase is only as strong as the cheaper of the
 * two files an attacker may try it on, so a costlier one would only slow the
 * client down. */
#include "crypto/crypto.h"
#include "crypto/crypto_internal.h"

#include <string.h>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/objects.h>
#include <openssl/params.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/x509.h>

const struct crypto_scrypt_params crypto_scrypt_default = {
	.log2_n = CRYPTO_SCRYPT_LOG2_N, .r = CRYPTO_SCRYPT_R, .p = CRYPTO_SCRYPT_P,
};

/* What a reader accepts, whoever wrote the file: enough to raise the costs
 * later, not enough for a damaged file to take gigabytes or minutes. */
#define PBE_LOG2_N_MIN 10
#define PBE_LOG2_N_MAX 20
#define PBE_R_MAX 32
#define PBE_P_MAX 64
#define PBE_MEM_MAX (256ull * 1024 * 1024)
#define PBE_SALT_LEN 16

cc_err crypto_scrypt_params_check(const struct crypto_scrypt_params *prm)
{
	if (!prm || prm->log2_n < PBE_LOG2_N_MIN || prm->log2_n > PBE_LOG2_N_MAX || prm->r < 1 ||
	    prm->r > PBE_R_MAX || prm->p < 1 || prm->p > PBE_P_MAX)
		return CC_ERR_MALFORMED;
	/* scrypt's memory: 128 * r * N for V, 128 * r * p for B. */
	if (128ull * prm->r * ((1ull << prm->log2_n) + prm->p) > PBE_MEM_MAX)
		return CC_ERR_MALFORMED;
	return CC_OK;
}

cc_err crypto_scrypt(const char *pass, size_t pass_len, const uint8_t *salt, size_t salt_len,
		     const struct crypto_scrypt_params *prm, uint8_t *out, size_t out_len)
{
	cc_err err = crypto_scrypt_params_check(prm);
	if (err)
		return err;
	if (!pass || pass_len == 0 || pass_len > CRYPTO_PASSPHRASE_MAX || !salt ||
	    salt_len == 0 || !out || out_len == 0 || out_len > 64)
		return CC_ERR_USAGE;
	EVP_KDF *kdf = EVP_KDF_fetch(NULL, "SCRYPT", NULL);
	EVP_KDF_CTX *ctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
	uint64_t n = 1ull << prm->log2_n, maxmem = PBE_MEM_MAX + 1024 * 1024;
	uint32_t r = prm->r, p = prm->p;
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_PASSWORD, (void *)pass, pass_len),
		OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt, salt_len),
		OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_N, &n),
		OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_R, &r),
		OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_P, &p),
		OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_MAXMEM, &maxmem),
		OSSL_PARAM_construct_end(),
	};
	err = ctx && EVP_KDF_derive(ctx, out, out_len, params) == 1 ? CC_OK : CC_ERR_CRYPTO;
	if (err) {
		mem_wipe(out, out_len);
		ERR_clear_error();
	}
	EVP_KDF_CTX_free(ctx);
	EVP_KDF_free(kdf);
	return err;
}

cc_err crypto_rsa_private_to_pem_encrypted(const struct crypto_rsa_key *key, const char *pass,
					   size_t pass_len, struct buf *out)
{
	const struct crypto_scrypt_params *prm = &crypto_scrypt_default;
	cc_err err = CC_ERR_CRYPTO;
	PKCS8_PRIV_KEY_INFO *p8 = NULL;
	X509_ALGOR *pbe = NULL;
	X509_SIG *sig = NULL;
	BIO *bio = NULL;
	char *data;
	long n;

	if (!key->is_private || !pass || pass_len == 0 || pass_len > CRYPTO_PASSPHRASE_MAX)
		return CC_ERR_USAGE;
	if (!(p8 = EVP_PKEY2PKCS8(key->pkey)))
		goto out;
	/* A fresh random salt and IV (NULL asks OpenSSL to draw them). */
	if (!(pbe = PKCS5_pbe2_set_scrypt(EVP_aes_256_cbc(), NULL, PBE_SALT_LEN, NULL,
					  1ull << prm->log2_n, prm->r, prm->p)))
		goto out;
	if (!(sig = PKCS8_set0_pbe_ex(pass, (int)pass_len, p8, pbe, NULL, NULL)))
		goto out;
	pbe = NULL;  /* sig owns it now */
	if (!(bio = BIO_new(BIO_s_mem())) || PEM_write_bio_PKCS8(bio, sig) != 1)
		goto out;
	n = BIO_get_mem_data(bio, &data);
	if (n <= 0)
		goto out;
	err = buf_put_bytes(out, data, (size_t)n);
out:
	BIO_free(bio);
	X509_SIG_free(sig);
	X509_ALGOR_free(pbe);
	PKCS8_PRIV_KEY_INFO_free(p8);   /* cleanses the key octets */
	if (err)
		ERR_clear_error();
	return err;
}

/* 1 if v is an ASN.1 INTEGER in [1, max]; its value in *out. */
static int pbe_asn1_uint(const ASN1_INTEGER *v, uint64_t max, uint64_t *out)
{
	return v && ASN1_INTEGER_get_uint64(out, v) == 1 && *out >= 1 && *out <= max;
}

/* Our one policy for encrypted keys: PBES2 with scrypt (within the bounds
 * above) and AES-256-CBC. Anything else (PBKDF2, the old PKCS#5 v1 and
 * PKCS#12 schemes) is not a file this program wrote: CC_ERR_MALFORMED. */
static cc_err pbe_check_policy(const X509_SIG *sig)
{
	const X509_ALGOR *alg = NULL;
	const ASN1_OBJECT *oid;
	const void *pval;
	int ptype;
	PBE2PARAM *pbe2 = NULL;
	SCRYPT_PARAMS *sp = NULL;
	cc_err err = CC_ERR_MALFORMED;

	X509_SIG_get0(sig, &alg, NULL);
	if (!alg)
		return err;
	X509_ALGOR_get0(&oid, &ptype, &pval, alg);
	if (OBJ_obj2nid(oid) != NID_pbes2 || ptype != V_ASN1_SEQUENCE)
		return err;
	pbe2 = ASN1_item_unpack(pval, ASN1_ITEM_rptr(PBE2PARAM));
	if (!pbe2 || !pbe2->keyfunc || !pbe2->encryption)
		goto out;
	X509_ALGOR_get0(&oid, NULL, NULL, pbe2->encryption);
	if (OBJ_obj2nid(oid) != NID_aes_256_cbc)
		goto out;
	X509_ALGOR_get0(&oid, &ptype, &pval, pbe2->keyfunc);
	if (OBJ_obj2nid(oid) != NID_id_scrypt || ptype != V_ASN1_SEQUENCE)
		goto out;
	sp = ASN1_item_unpack(pval, ASN1_ITEM_rptr(SCRYPT_PARAMS));
	uint64_t n, r, p;
	if (!sp || !pbe_asn1_uint(sp->costParameter, 1ull << PBE_LOG2_N_MAX, &n) ||
	    !pbe_asn1_uint(sp->blockSize, PBE_R_MAX, &r) ||
	    !pbe_asn1_uint(sp->parallelizationParameter, PBE_P_MAX, &p) || (n & (n - 1)) != 0)
		goto out;
	struct crypto_scrypt_params prm = {.r = (uint32_t)r, .p = (uint32_t)p};
	while ((1ull << prm.log2_n) < n)
		prm.log2_n++;
	err = crypto_scrypt_params_check(&prm);
out:
	SCRYPT_PARAMS_free(sp);
	PBE2PARAM_free(pbe2);
	return err;
}

cc_err crypto_rsa_private_from_pem_encrypted(const char *pem, size_t len, const char *pass,
					     size_t pass_len, struct crypto_rsa_key **out)
{
	static const char begin[] = CRYPTO_PEM_ENCRYPTED_BEGIN;
	cc_err err = CC_ERR_MALFORMED;
	BIO *bio = NULL;
	char *name = NULL, *header = NULL, *rest;
	unsigned char *data = NULL;
	long data_len = 0, rest_len;
	const unsigned char *p;
	X509_SIG *sig = NULL;
	PKCS8_PRIV_KEY_INFO *p8 = NULL;
	EVP_PKEY *pkey = NULL;
	size_t i = 0;

	*out = NULL;
	if (!pass || pass_len == 0 || pass_len > CRYPTO_PASSPHRASE_MAX)
		return CC_ERR_USAGE;
	if (len == 0)
		return CC_ERR_TRUNCATED;
	if (len > CRYPTO_RSA_PEM_MAX)
		return CC_ERR_TOO_LARGE;
	/* Only whitespace may come before or after the one key. */
	while (i < len && crypto_is_space(pem[i]))
		i++;
	if (len - i < sizeof begin - 1 || memcmp(pem + i, begin, sizeof begin - 1) != 0)
		goto out;
	if (!(bio = BIO_new_mem_buf(pem + i, (int)(len - i))))
		goto out;
	if (!PEM_read_bio_ex(bio, &name, &header, &data, &data_len,
			     PEM_FLAG_SECURE | PEM_FLAG_ONLY_B64))
		goto out;
	if (strcmp(name, "ENCRYPTED PRIVATE KEY") != 0 || header[0] != '\0' || data_len <= 0 ||
	    data_len > CRYPTO_RSA_PRIV_DER_MAX + 512)
		goto out;
	rest_len = BIO_get_mem_data(bio, &rest);
	for (long j = 0; j < rest_len; j++) {
		if (!crypto_is_space(rest[j])) {
			err = CC_ERR_TRAILING;
			goto out;
		}
	}
	p = data;
	if (!(sig = d2i_X509_SIG(NULL, &p, data_len)))
		goto out;
	if (p != data + data_len) {
		err = CC_ERR_TRAILING;
		goto out;
	}
	if ((err = pbe_check_policy(sig)))
		goto out;
	/* The only thing a wrong passphrase can fail here: a bad CBC padding, or
	 * a decryption that is not a PKCS#8 structure. */
	if (!(p8 = PKCS8_decrypt_ex(sig, pass, (int)pass_len, NULL, NULL))) {
		err = CC_ERR_BAD_PASSPHRASE;
		goto out;
	}
	err = CC_ERR_MALFORMED;
	if (!(pkey = EVP_PKCS82PKEY(p8)))
		goto out;
	if ((err = crypto_rsa_check_policy(pkey, CRYPTO_RSA_PRIV_MIN_BITS)))
		goto out;
	if ((err = crypto_rsa_wrap(pkey, 1, out)))
		goto out;
	pkey = NULL;
out:
	EVP_PKEY_free(pkey);
	PKCS8_PRIV_KEY_INFO_free(p8);
	X509_SIG_free(sig);
	OPENSSL_secure_clear_free(data, data_len > 0 ? (size_t)data_len : 0);
	OPENSSL_secure_free(header);
	OPENSSL_secure_free(name);
	BIO_free(bio);
	if (err)
		ERR_clear_error();
	return err;
}
