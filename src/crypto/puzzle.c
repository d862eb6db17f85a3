/* The crypto layer, part four: the hash search behind the handshake's proof
 * of work (docs/PROTOCOL.md 4.2). The puzzle itself (what is hashed) is the
 * channel's; this file only finds and checks nonces, fast. */
#include "crypto/crypto.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>

#include "util/log.h"

/* The longest prefix the check hashes from the stack: the channel's is 50. */
#define PUZZLE_PREFIX_MAX 256

unsigned crypto_leading_zero_bits(const uint8_t *p, size_t n)
{
	unsigned bits = 0;
	for (size_t i = 0; i < n; i++) {
		if (p[i]) {
			unsigned b = p[i];
			while (!(b & 0x80)) {
				b <<= 1;
				bits++;
			}
			return bits;
		}
		bits += 8;
	}
	return bits;
}

int crypto_puzzle_check(const uint8_t *prefix, size_t prefix_len, unsigned bits, uint64_t nonce)
{
	uint8_t in[PUZZLE_PREFIX_MAX + 8], h[CRYPTO_SHA256_LEN];

	if (bits == 0)
		return 1;
	if (prefix_len > PUZZLE_PREFIX_MAX || bits > 8 * CRYPTO_SHA256_LEN)
		return 0;
	memcpy(in, prefix, prefix_len);
	store_be64(in + prefix_len, nonce);
	crypto_sha256(in, prefix_len + 8, h);
	return crypto_leading_zero_bits(h, sizeof h) >= bits;
}

/* The prefix is hashed once; each try copies that state and adds the nonce,
 * about twice as fast as hashing the whole input again. */
cc_err crypto_puzzle_solve(const uint8_t *prefix, size_t prefix_len, unsigned bits,
			   uint64_t first, uint64_t tries, uint64_t *nonce)
{
	EVP_MD_CTX *base = NULL, *work = NULL;
	EVP_MD *md = NULL;
	uint8_t h[CRYPTO_SHA256_LEN], be[8];
	cc_err err = CC_ERR_CRYPTO;

	if (bits == 0) {
		*nonce = first;
		return CC_OK;
	}
	if (bits > 8 * CRYPTO_SHA256_LEN)
		return CC_ERR_USAGE;
	if (!(md = EVP_MD_fetch(NULL, "SHA256", NULL)) || !(base = EVP_MD_CTX_new()) ||
	    !(work = EVP_MD_CTX_new()) || EVP_DigestInit_ex2(base, md, NULL) != 1 ||
	    EVP_DigestUpdate(base, prefix, prefix_len) != 1)
		goto out;
	err = CC_ERR_NOT_FOUND;
	for (uint64_t i = 0; i < tries; i++) {
		uint64_t n = first + i;
		store_be64(be, n);
		if (EVP_MD_CTX_copy_ex(work, base) != 1 || EVP_DigestUpdate(work, be, 8) != 1 ||
		    EVP_DigestFinal_ex(work, h, NULL) != 1) {
			err = CC_ERR_CRYPTO;
			goto out;
		}
		if (crypto_leading_zero_bits(h, sizeof h) >= bits) {
			*nonce = n;
			err = CC_OK;
			break;
		}
	}
out:
	EVP_MD_CTX_free(work);
	EVP_MD_CTX_free(base);
	EVP_MD_free(md);
	if (err == CC_ERR_CRYPTO) {
		log_error("crypto: SHA-256 failed in the puzzle search");
		ERR_clear_error();
	}
	return err;
}
