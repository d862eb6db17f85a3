/* RSA-OAEP and RSA-PSS written out from RFC 8017 (with SHA-256 and MGF1),
 * over the raw RSA operation: the worked example's second implementation
 * (tools/handshake_example.c) redoes the channel's encryption and signature
 * with these, from the seed and salt it drew, and so checks the document's
 * rules against the code. A header of static functions, as fuzz_common.h is:
 * each .c file of tools/ is a program of its own. */
#ifndef CC_TOOLS_RFC8017_H
#define CC_TOOLS_RFC8017_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "crypto/crypto.h"

#define HLEN 32            /* SHA-256 output; also the OAEP seed and PSS salt length */
#define RSA_MAX 512        /* bytes of the largest modulus handled */

static void rfc8017_fail(const char *what)
{
	fprintf(stderr, "rfc8017: %s\n", what);
	exit(1);
}

/* The textbook RSA operation, no padding: in^e or in^d mod n, k bytes. */
static void rsa_raw(EVP_PKEY *pk, int private_op, const uint8_t *in, uint8_t *out, size_t k)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pk, NULL);
	size_t n = k;
	int ok = ctx != NULL &&
		 (private_op ? EVP_PKEY_decrypt_init(ctx) : EVP_PKEY_encrypt_init(ctx)) == 1 &&
		 EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_NO_PADDING) == 1 &&
		 (private_op ? EVP_PKEY_decrypt(ctx, out, &n, in, k)
			     : EVP_PKEY_encrypt(ctx, out, &n, in, k)) == 1 &&
		 n == k;
	EVP_PKEY_CTX_free(ctx);
	if (!ok)
		rfc8017_fail("raw RSA operation failed");
}

/* dst ^= MGF1-SHA-256(seed, len) */
static void mgf1_xor(uint8_t *dst, size_t len, const uint8_t *seed, size_t seed_len)
{
	uint8_t in[RSA_MAX + 4], h[HLEN];
	if (seed_len > RSA_MAX)
		rfc8017_fail("mgf1: seed too long");
	memcpy(in, seed, seed_len);
	for (uint32_t c = 0; (size_t)c * HLEN < len; c++) {
		size_t off = (size_t)c * HLEN;
		in[seed_len] = (uint8_t)(c >> 24);
		in[seed_len + 1] = (uint8_t)(c >> 16);
		in[seed_len + 2] = (uint8_t)(c >> 8);
		in[seed_len + 3] = (uint8_t)c;
		crypto_sha256(in, seed_len + 4, h);
		for (size_t i = 0; i < HLEN && off + i < len; i++)
			dst[off + i] ^= h[i];
	}
}

/* EME-OAEP encoding (RFC 8017 7.1.1): EM = 0x00 || maskedSeed || maskedDB. */
static void oaep_encode(size_t k, const char *label, const uint8_t *m, size_t m_len,
			const uint8_t seed[HLEN], uint8_t *em)
{
	size_t db_len = k - HLEN - 1;
	uint8_t *s = em + 1, *db = em + 1 + HLEN;
	if (k < 2 * HLEN + 2 || m_len > k - 2 * HLEN - 2)
		rfc8017_fail("oaep: message too long");
	memset(em, 0, k);
	crypto_sha256(label, strlen(label), db);
	db[db_len - m_len - 1] = 0x01;
	memcpy(db + db_len - m_len, m, m_len);
	memcpy(s, seed, HLEN);
	mgf1_xor(db, db_len, s, HLEN);
	mgf1_xor(s, HLEN, db, db_len);
}

/* EME-OAEP decoding (RFC 8017 7.1.2, step 3) of em (k bytes, changed in
 * place): gives the seed and the message (a view into em). */
static size_t oaep_decode(size_t k, const char *label, uint8_t *em, uint8_t seed[HLEN],
			  const uint8_t **m)
{
	size_t db_len = k - HLEN - 1, i;
	uint8_t *s = em + 1, *db = em + 1 + HLEN, lhash[HLEN];
	if (em[0] != 0)
		rfc8017_fail("oaep: first byte is not zero");
	mgf1_xor(s, HLEN, db, db_len);
	mgf1_xor(db, db_len, s, HLEN);
	crypto_sha256(label, strlen(label), lhash);
	if (memcmp(db, lhash, HLEN))
		rfc8017_fail("oaep: label hash differs");
	for (i = HLEN; i < db_len && db[i] == 0; i++)
		;
	if (i == db_len || db[i] != 0x01)
		rfc8017_fail("oaep: no 0x01 separator");
	memcpy(seed, s, HLEN);
	*m = db + i + 1;
	return db_len - i - 1;
}

/* EMSA-PSS encoding (RFC 8017 9.1.1) with SHA-256, MGF1-SHA-256 and a
 * 32-byte salt: EM = maskedDB || H || 0xbc, em_len = ceil(em_bits / 8). */
static void pss_encode(const uint8_t mhash[HLEN], const uint8_t salt[HLEN], size_t em_bits,
		       uint8_t *em)
{
	size_t em_len = (em_bits + 7) / 8, db_len = em_len - HLEN - 1;
	uint8_t mprime[8 + 2 * HLEN] = {0};
	if (em_len < 2 * HLEN + 2)
		rfc8017_fail("pss: modulus too small");
	memcpy(mprime + 8, mhash, HLEN);
	memcpy(mprime + 8 + HLEN, salt, HLEN);
	crypto_sha256(mprime, sizeof mprime, em + db_len);
	memset(em, 0, db_len);
	em[db_len - HLEN - 1] = 0x01;
	memcpy(em + db_len - HLEN, salt, HLEN);
	mgf1_xor(em, db_len, em + db_len, HLEN);
	em[0] &= (uint8_t)(0xff >> (8 * em_len - em_bits));
	em[em_len - 1] = 0xbc;
}

/* EMSA-PSS verification (RFC 8017 9.1.2) that also hands back the salt. */
static void pss_recover_salt(const uint8_t mhash[HLEN], const uint8_t *em_in, size_t em_bits,
			     uint8_t salt[HLEN])
{
	size_t em_len = (em_bits + 7) / 8, db_len = em_len - HLEN - 1;
	unsigned top = (unsigned)(8 * em_len - em_bits);
	uint8_t em[RSA_MAX], mprime[8 + 2 * HLEN] = {0}, h[HLEN];
	if (em_len < 2 * HLEN + 2 || em_len > sizeof em)
		rfc8017_fail("pss: bad modulus size");
	memcpy(em, em_in, em_len);
	if (em[em_len - 1] != 0xbc || (em[0] & (uint8_t)~(0xff >> top)))
		rfc8017_fail("pss: bad encoding");
	mgf1_xor(em, db_len, em + db_len, HLEN);
	em[0] &= (uint8_t)(0xff >> top);
	for (size_t i = 0; i < db_len - HLEN - 1; i++)
		if (em[i])
			rfc8017_fail("pss: padding is not zero");
	if (em[db_len - HLEN - 1] != 0x01)
		rfc8017_fail("pss: no 0x01 separator");
	memcpy(salt, em + db_len - HLEN, HLEN);
	memcpy(mprime + 8, mhash, HLEN);
	memcpy(mprime + 8 + HLEN, salt, HLEN);
	crypto_sha256(mprime, sizeof mprime, h);
	if (memcmp(h, em + db_len, HLEN))
		rfc8017_fail("pss: H differs");
}

#endif
