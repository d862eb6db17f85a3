/* The tests' search for key material in files: a list of secrets (an RSA
 * key's private numbers, 32-byte keys) looked for in every file of a
 * directory, as raw bytes, as hexadecimal (either case), and inside every
 * PEM block once its base64 is decoded (a key in clear in a PEM file is
 * base64 of DER, where the numbers are raw bytes). A protection that leaves
 * any of them readable in any of those forms fails the scan; a home without
 * one must fail it too (the positive control of every test that uses it).
 *
 * The RSA numbers come from the key itself through OpenSSL (tests only: the
 * product never exposes them). Failures assert. */
#ifndef CC_TESTS_SUPPORT_SECRETS_SCAN_H
#define CC_TESTS_SUPPORT_SECRETS_SCAN_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/crypto.h"

#define SCAN_NEEDLES_MAX 256

struct secrets_scan {
	struct {
		uint8_t *bytes;
		size_t len;
		char what[64];
	} needle[SCAN_NEEDLES_MAX];
	size_t n;
};

void scan_init(struct secrets_scan *s);
/* Wipes and frees every needle. */
void scan_free(struct secrets_scan *s);
/* A secret of LEN bytes (at least 16), named WHAT in reports. */
void scan_add(struct secrets_scan *s, const void *bytes, size_t len, const char *what);
/* The private numbers of an RSA key: d, p, q, d mod (p-1), d mod (q-1),
 * q^-1 mod p, big-endian, without leading zeros (as DER holds them). */
void scan_add_rsa(struct secrets_scan *s, const struct crypto_rsa_key *key, const char *what);
/* How many (needle, file) pairs match in the LEN bytes at DATA, and in the
 * regular files under DIR (recursively); each hit is printed on stderr with
 * the file and the needle's name when VERBOSE. */
size_t scan_bytes(const struct secrets_scan *s, const uint8_t *data, size_t len);
size_t scan_dir(const struct secrets_scan *s, const char *dir, int verbose);

#endif
