/* The tests' search for key material in files: see secrets_scan.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "secrets_scan.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "util/buf.h"

void scan_init(struct secrets_scan *s)
{
	memset(s, 0, sizeof *s);
}

void scan_free(struct secrets_scan *s)
{
	for (size_t i = 0; i < s->n; i++) {
		mem_wipe(s->needle[i].bytes, s->needle[i].len);
		free(s->needle[i].bytes);
	}
	memset(s, 0, sizeof *s);
}

void scan_add(struct secrets_scan *s, const void *bytes, size_t len, const char *what)
{
	assert_true(s->n < SCAN_NEEDLES_MAX);
	assert_true(len >= 16);
	s->needle[s->n].bytes = malloc(len);
	assert_non_null(s->needle[s->n].bytes);
	memcpy(s->needle[s->n].bytes, bytes, len);
	s->needle[s->n].len = len;
	snprintf(s->needle[s->n].what, sizeof s->needle[s->n].what, "%s", what);
	s->n++;
}

void scan_add_rsa(struct secrets_scan *s, const struct crypto_rsa_key *key, const char *what)
{
	static const char *const params[] = {
		OSSL_PKEY_PARAM_RSA_D, OSSL_PKEY_PARAM_RSA_FACTOR1, OSSL_PKEY_PARAM_RSA_FACTOR2,
		OSSL_PKEY_PARAM_RSA_EXPONENT1, OSSL_PKEY_PARAM_RSA_EXPONENT2,
		OSSL_PKEY_PARAM_RSA_COEFFICIENT1,
	};
	/* Through the PEM the product writes: the product never hands out the
	 * numbers, and this must not depend on it doing so. */
	struct buf pem;
	buf_init(&pem, 0);
	assert_int_equal(crypto_rsa_private_to_pem(key, &pem), CC_OK);
	BIO *bio = BIO_new_mem_buf(pem.data, (int)pem.len);
	assert_non_null(bio);
	EVP_PKEY *pkey = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	assert_non_null(pkey);
	for (size_t i = 0; i < sizeof params / sizeof params[0]; i++) {
		BIGNUM *bn = NULL;
		uint8_t bytes[600];
		assert_int_equal(EVP_PKEY_get_bn_param(pkey, params[i], &bn), 1);
		int n = BN_bn2bin(bn, bytes);
		assert_true(n >= 16 && (size_t)n <= sizeof bytes);
		char name[64];
		snprintf(name, sizeof name, "%s %s", what, params[i]);
		scan_add(s, bytes, (size_t)n, name);
		mem_wipe(bytes, sizeof bytes);
		BN_clear_free(bn);
	}
	EVP_PKEY_free(pkey);
	BIO_free(bio);
	buf_free(&pem);
}

/* The first place of NEEDLE (N bytes) in DATA, or NULL. */
static const void *find(const void *data, size_t len, const void *needle, size_t n)
{
	const uint8_t *d = data;
	for (size_t k = 0; k + n <= len; k++)
		if (memcmp(d + k, needle, n) == 0)
			return d + k;
	return NULL;
}

static int holds(const uint8_t *data, size_t len, const uint8_t *needle, size_t n)
{
	return find(data, len, needle, n) != NULL;
}

static int holds_hex(const uint8_t *data, size_t len, const uint8_t *needle, size_t n, int upper)
{
	char *hex = malloc(2 * n + 1);
	assert_non_null(hex);
	hex_encode(needle, n, hex);
	for (size_t i = 0; upper && i < 2 * n; i++)
		if (hex[i] >= 'a' && hex[i] <= 'f')
			hex[i] = (char)(hex[i] - 'a' + 'A');
	int found = holds(data, len, (const uint8_t *)hex, 2 * n);
	mem_wipe(hex, 2 * n);
	free(hex);
	return found;
}

/* The base64 bodies of the PEM blocks in DATA, decoded one after the
 * other into OUT (at most LEN bytes). */
static size_t pem_bodies(const uint8_t *data, size_t len, uint8_t *out)
{
	static const char alphabet[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t n = 0;
	const char *text = (const char *)data, *end = text + len;
	for (const char *p = text; p < end;) {
		const char *begin = find(p, (size_t)(end - p), "-----BEGIN ", 11);
		if (!begin)
			break;
		const char *body = find(begin + 11, (size_t)(end - begin - 11), "-----", 5);
		if (!body)
			break;
		body += 5;
		const char *stop = find(body, (size_t)(end - body), "-----END ", 9);
		if (!stop)
			stop = end;
		uint32_t acc = 0;
		int bits = 0;
		for (const char *q = body; q < stop; q++) {
			const char *pos = *q ? memchr(alphabet, *q, 64) : NULL;
			if (!pos)
				continue;
			acc = acc << 6 | (uint32_t)(pos - alphabet);
			bits += 6;
			if (bits >= 8) {
				bits -= 8;
				out[n++] = (uint8_t)(acc >> bits);
			}
		}
		p = stop + (stop < end ? 9 : 0);
	}
	return n;
}

static size_t scan_one(const struct secrets_scan *s, const uint8_t *data, size_t len,
		       const char *file, int verbose)
{
	size_t hits = 0;
	uint8_t *decoded = malloc(len + 1);
	assert_non_null(decoded);
	size_t dlen = pem_bodies(data, len, decoded);
	for (size_t i = 0; i < s->n; i++) {
		const uint8_t *b = s->needle[i].bytes;
		size_t n = s->needle[i].len;
		const char *how = holds(data, len, b, n)          ? "raw"
				  : holds_hex(data, len, b, n, 0) ? "hex"
				  : holds_hex(data, len, b, n, 1) ? "HEX"
				  : holds(decoded, dlen, b, n)    ? "in a PEM block"
								  : NULL;
		if (how) {
			hits++;
			if (verbose)
				fprintf(stderr, "[scan] %s: %s (%s)\n", file ? file : "(bytes)",
					s->needle[i].what, how);
		}
	}
	mem_wipe(decoded, dlen);
	free(decoded);
	return hits;
}

size_t scan_bytes(const struct secrets_scan *s, const uint8_t *data, size_t len)
{
	return scan_one(s, data, len, NULL, 0);
}

size_t scan_dir(const struct secrets_scan *s, const char *dir, int verbose)
{
	size_t hits = 0;
	DIR *d = opendir(dir);
	assert_non_null(d);
	for (struct dirent *e; (e = readdir(d));) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		char path[4200];
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		struct stat st;
		assert_int_equal(lstat(path, &st), 0);
		if (S_ISDIR(st.st_mode)) {
			hits += scan_dir(s, path, verbose);
			continue;
		}
		if (!S_ISREG(st.st_mode))
			continue;
		FILE *f = fopen(path, "rb");
		assert_non_null(f);
		uint8_t *data = malloc((size_t)st.st_size + 1);
		assert_non_null(data);
		size_t len = fread(data, 1, (size_t)st.st_size, f);
		fclose(f);
		hits += scan_one(s, data, len, path, verbose);
		mem_wipe(data, len);
		free(data);
	}
	closedir(d);
	return hits;
}
