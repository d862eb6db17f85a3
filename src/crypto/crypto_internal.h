/* What the crypto layer's files share, and nothing else includes: the RSA
 * key handle (rsa.c), read by the key-file code (keyfile.c) and the
 * passphrase encryption (pbe.c). */
#ifndef CC_CRYPTO_INTERNAL_H
#define CC_CRYPTO_INTERNAL_H

#include <openssl/evp.h>

#include "crypto/crypto.h"

/* Private keys load from 1024 bits, so that test vectors do. */
#define CRYPTO_RSA_PRIV_MIN_BITS 1024
/* Caps checked before parsing: an RSA-4096 PKCS#8 DER is about 2.4 kB and its
 * PEM about 3.3 kB; encrypted, a few dozen bytes more. */
#define CRYPTO_RSA_PRIV_DER_MAX 4096
#define CRYPTO_RSA_PEM_MAX 8192
#define CRYPTO_PEM_ENCRYPTED_BEGIN "-----BEGIN ENCRYPTED PRIVATE KEY-----"

struct crypto_rsa_key {
	EVP_PKEY *pkey;
	int is_private;
	/* The public key's DER, made once: OpenSSL 3's encoder takes locks and
	 * provider lookups each time, and the server sends it in every hello. */
	unsigned char *der;
	size_t der_len;
};

/* Takes ownership of pkey on success only. */
cc_err crypto_rsa_wrap(EVP_PKEY *pkey, int is_private, struct crypto_rsa_key **out);
/* Our one RSA policy: an RSA key (not RSA-PSS or anything else) of
 * min_bits..CRYPTO_RSA_MAX_BITS with e = 65537. */
cc_err crypto_rsa_check_policy(const EVP_PKEY *pkey, int min_bits);
int crypto_is_space(char c);

#endif
