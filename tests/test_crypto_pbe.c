/* Unit tests of the crypto layer's keys from passphrases (src/crypto/pbe.c)
 * and key files (keyfile.c): scrypt against RFC 7914's vectors and its
 * bounds; an identity key encrypted as PKCS#8 (PBES2, scrypt, AES-256-CBC)
 * round trip, readable by OpenSSL's own decoder with the passphrase (the
 * `openssl pkey` path); a wrong passphrase, a tampered file, other schemes
 * refused; and the files: which kind a file is, what each loader takes, and
 * no private number of the key anywhere in the encrypted file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "crypto/crypto.h"
#include "support/secrets_scan.h"
#include "support/tmpdir.h"
#include "util/buf.h"

static struct crypto_rsa_key *key_a;
static const char pass[] = "correct horse battery staple";

static void unhex(const char *hex, uint8_t *out, size_t n)
{
	assert_int_equal(strlen(hex), 2 * n);
	assert_int_equal(hex_decode(hex, out, n), CC_OK);
}

static void fingerprint_is(const struct crypto_rsa_key *key, const struct crypto_rsa_key *want)
{
	uint8_t a[32], b[32];
	assert_int_equal(crypto_rsa_fingerprint(key, a), CC_OK);
	assert_int_equal(crypto_rsa_fingerprint(want, b), CC_OK);
	assert_memory_equal(a, b, 32);
}

/* RFC 7914 section 12, the two vectors within our bounds (the first has
 * N = 16, below them; the last takes 1 GiB). */
static void test_scrypt_rfc7914(void **state)
{
	(void)state;
	uint8_t out[64], want[64];
	const struct crypto_scrypt_params p1 = {.log2_n = 10, .r = 8, .p = 16};
	assert_int_equal(crypto_scrypt("password", 8, (const uint8_t *)"NaCl", 4, &p1, out, 64),
			 CC_OK);
	unhex("fdbabe1c9d3472007856e7190d01e9fe7c6ad7cbc8237830e77376634b373162"
	      "2eaf30d92e22a3886ff109279d9830dac727afb94a83ee6d8360cbdfa2cc0640", want, 64);
	assert_memory_equal(out, want, 64);
	const struct crypto_scrypt_params p2 = {.log2_n = 14, .r = 8, .p = 1};
	assert_int_equal(crypto_scrypt("pleaseletmein", 13, (const uint8_t *)"SodiumChloride", 14,
				       &p2, out, 64), CC_OK);
	unhex("7023bdcb3afd7348461c06cd81fd38ebfda8fbba904f8e3ea9b543f6545da1f2"
	      "d5432955613f0fcf62d49705242a9af9e61e85dc0d651e40dfcf017b45575887", want, 64);
	assert_memory_equal(out, want, 64);
}

/* What a damaged file could ask for is refused before any memory is taken,
 * and so is an empty passphrase. */
static void test_scrypt_bounds(void **state)
{
	(void)state;
	uint8_t out[32], salt[16] = {1};
	const struct crypto_scrypt_params bad[] = {
		{9, 8, 1}, {21, 8, 1}, {14, 0, 1}, {14, 33, 1}, {14, 8, 0}, {14, 8, 65},
		{20, 32, 1},  /* 4 GiB */
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		assert_int_equal(crypto_scrypt_params_check(&bad[i]), CC_ERR_MALFORMED);
		assert_int_equal(crypto_scrypt("x", 1, salt, 16, &bad[i], out, 32),
				 CC_ERR_MALFORMED);
	}
	assert_int_equal(crypto_scrypt_params_check(&crypto_scrypt_default), CC_OK);
	assert_int_equal(crypto_scrypt("", 0, salt, 16, &crypto_scrypt_default, out, 32),
			 CC_ERR_USAGE);
	assert_int_equal(crypto_scrypt("x", 1, salt, 0, &crypto_scrypt_default, out, 32),
			 CC_ERR_USAGE);
	/* Different salts, different keys. */
	uint8_t a[32], b[32];
	const struct crypto_scrypt_params fast = {10, 8, 1};
	assert_int_equal(crypto_scrypt("x", 1, salt, 16, &fast, a, 32), CC_OK);
	salt[15] = 1;
	assert_int_equal(crypto_scrypt("x", 1, salt, 16, &fast, b, 32), CC_OK);
	assert_memory_not_equal(a, b, 32);
}

/* OpenSSL's own decoder (what `openssl pkey -passin` runs) with the
 * passphrase; NULL if it refuses. */
static int pass_cb(char *buf, int size, int rwflag, void *u)
{
	(void)rwflag;
	int n = (int)strlen(u);
	if (n > size)
		return -1;
	memcpy(buf, u, (size_t)n);
	return n;
}

static EVP_PKEY *openssl_reads(const struct buf *pem, const char *with)
{
	BIO *bio = BIO_new_mem_buf(pem->data, (int)pem->len);
	assert_non_null(bio);
	EVP_PKEY *pkey = PEM_read_bio_PrivateKey(bio, NULL, pass_cb, (void *)with);
	BIO_free(bio);
	return pkey;
}

static void test_pkcs8_round_trip(void **state)
{
	(void)state;
	struct buf pem, again;
	struct crypto_rsa_key *key = NULL;
	buf_init(&pem, 0);
	buf_init(&again, 0);
	assert_int_equal(crypto_rsa_private_to_pem_encrypted(key_a, pass, strlen(pass), &pem),
			 CC_OK);
	assert_true(pem.len > 40);
	assert_memory_equal(pem.data, "-----BEGIN ENCRYPTED PRIVATE KEY-----", 37);
	assert_int_equal(crypto_rsa_private_from_pem_encrypted((const char *)pem.data, pem.len,
							       pass, strlen(pass), &key), CC_OK);
	assert_true(crypto_rsa_is_private(key));
	fingerprint_is(key, key_a);
	crypto_rsa_free(key);

	/* A standard file: OpenSSL opens it with the passphrase, not without. */
	EVP_PKEY *pkey = openssl_reads(&pem, pass);
	assert_non_null(pkey);
	EVP_PKEY_free(pkey);
	assert_null(openssl_reads(&pem, "wrong"));

	/* A fresh salt and IV each time: two files of one key differ. */
	assert_int_equal(crypto_rsa_private_to_pem_encrypted(key_a, pass, strlen(pass), &again),
			 CC_OK);
	assert_false(again.len == pem.len && memcmp(again.data, pem.data, pem.len) == 0);

	/* No private number of the key in it, in any form. */
	struct secrets_scan scan;
	scan_init(&scan);
	scan_add_rsa(&scan, key_a, "key_a");
	assert_int_equal(scan_bytes(&scan, pem.data, pem.len), 0);
	/* ...where the clear PEM has all six (the scan's positive control). */
	struct buf clear;
	buf_init(&clear, 0);
	assert_int_equal(crypto_rsa_private_to_pem(key_a, &clear), CC_OK);
	assert_int_equal(scan_bytes(&scan, clear.data, clear.len), 6);
	scan_free(&scan);
	buf_free(&clear);
	buf_free(&again);
	buf_free(&pem);
}

static void test_pkcs8_wrong_passphrase(void **state)
{
	(void)state;
	struct buf pem;
	struct crypto_rsa_key *key = (struct crypto_rsa_key *)1;
	buf_init(&pem, 0);
	assert_int_equal(crypto_rsa_private_to_pem_encrypted(key_a, pass, strlen(pass), &pem),
			 CC_OK);
	const char *p = (const char *)pem.data;
	/* Wrong, one byte short, one byte more, another case. */
	assert_int_equal(crypto_rsa_private_from_pem_encrypted(p, pem.len, "wrong", 5, &key),
			 CC_ERR_BAD_PASSPHRASE);
	assert_null(key);
	assert_int_equal(crypto_rsa_private_from_pem_encrypted(p, pem.len, pass, strlen(pass) - 1,
							       &key), CC_ERR_BAD_PASSPHRASE);
	char longer[64];
	snprintf(longer, sizeof longer, "%s!", pass);
	assert_int_equal(crypto_rsa_private_from_pem_encrypted(p, pem.len, longer, strlen(longer),
							       &key), CC_ERR_BAD_PASSPHRASE);
	assert_int_equal(crypto_rsa_private_from_pem_encrypted(p, pem.len, "Correct horse battery "
							       "staple", strlen(pass), &key),
			 CC_ERR_BAD_PASSPHRASE);
	/* No passphrase: the clear reader says it needs one. */
	assert_int_equal(crypto_rsa_private_from_pem(p, pem.len, &key), CC_ERR_BAD_PASSPHRASE);
	assert_int_equal(crypto_rsa_private_from_pem_encrypted(p, pem.len, "", 0, &key),
			 CC_ERR_USAGE);
	assert_null(key);
	buf_free(&pem);
}

/* The PEM body's base64 character at I changed to another one. */
static void flip_base64(struct buf *pem, size_t i)
{
	char *c = (char *)pem->data + i;
	*c = *c == 'A' ? 'B' : 'A';
}

/* Anything changed in the file: the key never comes out of it. */
static void test_pkcs8_tampered(void **state)
{
	(void)state;
	struct buf pem;
	struct crypto_rsa_key *key = NULL;
	buf_init(&pem, 0);
	assert_int_equal(crypto_rsa_private_to_pem_encrypted(key_a, pass, strlen(pass), &pem),
			 CC_OK);
	/* Past the header line, every 61st base64 character, in the
	 * parameters and the ciphertext alike. */
	size_t body = 38;
	for (size_t i = body; i + 40 < pem.len; i += 61) {
		if (pem.data[i] == '\n')
			continue;
		flip_base64(&pem, i);
		cc_err err = crypto_rsa_private_from_pem_encrypted((const char *)pem.data,
								   pem.len, pass, strlen(pass),
								   &key);
		assert_int_not_equal(err, CC_OK);
		assert_null(key);
		flip_base64(&pem, i);
	}
	/* Truncated, or with something after it. */
	assert_int_not_equal(crypto_rsa_private_from_pem_encrypted((const char *)pem.data,
								   pem.len - 40, pass,
								   strlen(pass), &key), CC_OK);
	assert_int_equal(buf_put_bytes(&pem, "x\n", 2), CC_OK);
	assert_int_equal(crypto_rsa_private_from_pem_encrypted((const char *)pem.data, pem.len,
							       pass, strlen(pass), &key),
			 CC_ERR_TRAILING);
	buf_free(&pem);
}

/* PKCS#8 with PBKDF2 (OpenSSL's default scheme) is not what we write, and
 * not taken: a file's KDF is never weaker than ours unnoticed. */
static void test_pkcs8_other_schemes(void **state)
{
	(void)state;
	struct buf clear;
	buf_init(&clear, 0);
	assert_int_equal(crypto_rsa_private_to_pem(key_a, &clear), CC_OK);
	BIO *in = BIO_new_mem_buf(clear.data, (int)clear.len);
	EVP_PKEY *pkey = PEM_read_bio_PrivateKey(in, NULL, NULL, NULL);
	assert_non_null(pkey);
	BIO *out = BIO_new(BIO_s_mem());
	assert_int_equal(PEM_write_bio_PKCS8PrivateKey(out, pkey, EVP_aes_256_cbc(), NULL, 0,
						       pass_cb, (void *)pass), 1);
	char *data;
	long n = BIO_get_mem_data(out, &data);
	assert_true(n > 0);
	struct crypto_rsa_key *key = NULL;
	assert_int_equal(crypto_rsa_private_from_pem_encrypted(data, (size_t)n, pass, strlen(pass),
							       &key), CC_ERR_MALFORMED);
	assert_null(key);
	BIO_free(out);
	BIO_free(in);
	EVP_PKEY_free(pkey);
	/* A clear key is not an encrypted one. */
	assert_int_equal(crypto_rsa_private_from_pem_encrypted((const char *)clear.data, clear.len,
							       pass, strlen(pass), &key),
			 CC_ERR_MALFORMED);
	buf_free(&clear);
}

static void test_key_files(void **state)
{
	(void)state;
	struct tmpdir t;
	char clear_path[200], enc_path[200];
	struct crypto_rsa_key *key = NULL;
	enum crypto_key_file_kind kind;
	struct stat st;

	assert_int_equal(tmpdir_make(&t, "cc_test_pbe", "identity.pem"), 0);
	snprintf(enc_path, sizeof enc_path, "%s", t.path);
	snprintf(clear_path, sizeof clear_path, "%s/clear.pem", t.dir);
	assert_int_equal(crypto_key_file_kind(enc_path, &kind), CC_ERR_NOT_FOUND);
	assert_int_equal(crypto_rsa_load_key_file(enc_path, pass, strlen(pass), &key),
			 CC_ERR_NOT_FOUND);

	mode_t old = umask(0);
	assert_int_equal(crypto_rsa_save_key_file(key_a, enc_path, pass, strlen(pass)), CC_OK);
	assert_int_equal(crypto_rsa_save_key_file(key_a, clear_path, NULL, 0), CC_OK);
	umask(old);
	assert_int_equal(stat(enc_path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(crypto_key_file_kind(enc_path, &kind), CC_OK);
	assert_int_equal(kind, CRYPTO_KEY_FILE_ENCRYPTED);
	assert_int_equal(crypto_key_file_kind(clear_path, &kind), CC_OK);
	assert_int_equal(kind, CRYPTO_KEY_FILE_CLEAR);

	/* Each file with the right loader; the wrong passphrase, none, or a
	 * clear file where an encrypted one belongs: refused, and said why. */
	assert_int_equal(crypto_rsa_load_key_file(enc_path, pass, strlen(pass), &key), CC_OK);
	fingerprint_is(key, key_a);
	crypto_rsa_free(key);
	assert_int_equal(crypto_rsa_load_key_file(clear_path, NULL, 0, &key), CC_OK);
	fingerprint_is(key, key_a);
	crypto_rsa_free(key);
	key = NULL;
	assert_int_equal(crypto_rsa_load_key_file(enc_path, "nope", 4, &key),
			 CC_ERR_BAD_PASSPHRASE);
	assert_int_equal(crypto_rsa_load_key_file(enc_path, NULL, 0, &key), CC_ERR_BAD_PASSPHRASE);
	assert_int_equal(crypto_rsa_load_private_file(enc_path, &key), CC_ERR_BAD_PASSPHRASE);
	assert_int_equal(crypto_rsa_load_key_file(clear_path, pass, strlen(pass), &key),
			 CC_ERR_SECURITY);
	assert_null(key);

	/* The directory: the encrypted file holds no private number; the
	 * clear one (the control) holds them all. */
	struct secrets_scan scan;
	scan_init(&scan);
	scan_add_rsa(&scan, key_a, "key_a");
	assert_int_equal(scan_dir(&scan, t.dir, 1), 6);
	assert_int_equal(unlink(clear_path), 0);
	assert_int_equal(scan_dir(&scan, t.dir, 1), 0);
	scan_free(&scan);

	/* Garbage is neither kind. */
	FILE *f = fopen(clear_path, "w");
	assert_non_null(f);
	fputs("hello\n", f);
	fclose(f);
	assert_int_equal(crypto_key_file_kind(clear_path, &kind), CC_ERR_MALFORMED);
	unlink(clear_path);
	unlink(enc_path);
	tmpdir_remove(&t);
}

static int group_setup(void **state)
{
	(void)state;
	if (crypto_init() != CC_OK || crypto_rsa_generate(2048, &key_a) != CC_OK)
		return -1;
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	crypto_rsa_free(key_a);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scrypt_rfc7914),
		cmocka_unit_test(test_scrypt_bounds),
		cmocka_unit_test(test_pkcs8_round_trip),
		cmocka_unit_test(test_pkcs8_wrong_passphrase),
		cmocka_unit_test(test_pkcs8_tampered),
		cmocka_unit_test(test_pkcs8_other_schemes),
		cmocka_unit_test(test_key_files),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
