/* Every test case of the Project Wycheproof files in CC_VECTORS_DIR, run
 * through the crypto layer's public API. Valid cases must give exactly the
 * expected output, invalid ones must be refused, and the number of cases run
 * must match numberOfTests in each file.
 *
 * "acceptable" cases (only in x25519_test.json) follow our policy: an
 * all-zero shared secret (flag ZeroSharedSecret; low-order public keys) is
 * refused with CC_ERR_AUTH, as crypto_x25519_shared promises; every other
 * acceptable case (Twist, NonCanonicalPublic, ...) is an ordinary curve
 * computation and must give the listed shared secret. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "crypto/crypto.h"
#include "util/buf.h"
#include "util/err.h"

#ifndef CC_VECTORS_DIR
#error "CC_VECTORS_DIR must name the Wycheproof vectors directory"
#endif

struct tally {
	const char *file;
	size_t cases;
	size_t valid_ok;
	size_t invalid_rejected;
	size_t acceptable;
	size_t failed;
	size_t zero_rejected;   /* x25519 acceptable cases refused by policy */
};

/* A hex string from JSON as malloc'd bytes (never NULL, even when empty). */
struct bytes {
	uint8_t *p;
	size_t n;
};

static struct bytes hex_field(json_t *obj, const char *name)
{
	const char *hex = json_string_value(json_object_get(obj, name));
	struct bytes b;

	assert_non_null(hex);
	size_t len = strlen(hex);
	assert_int_equal(len % 2, 0);
	b.n = len / 2;
	b.p = malloc(b.n ? b.n : 1);
	assert_non_null(b.p);
	assert_int_equal(hex_decode(hex, b.p, b.n), CC_OK);
	return b;
}

static const char *str_field(json_t *obj, const char *name)
{
	const char *s = json_string_value(json_object_get(obj, name));
	assert_non_null(s);
	return s;
}

static json_t *load_vectors(const char *file)
{
	char path[1024];
	json_error_t jerr;

	snprintf(path, sizeof path, "%s/%s", CC_VECTORS_DIR, file);
	json_t *root = json_load_file(path, 0, &jerr);
	if (!root)
		fail_msg("%s: %s (line %d)", path, jerr.text, jerr.line);
	return root;
}

/* Books one case. ok: our code accepted it with exactly the expected output. */
static void tally_case(struct tally *t, json_t *tc, int ok)
{
	const char *result = str_field(tc, "result");
	int good;

	t->cases++;
	if (strcmp(result, "valid") == 0) {
		good = ok;
		t->valid_ok += (size_t)ok;
	} else if (strcmp(result, "invalid") == 0) {
		good = !ok;
		t->invalid_rejected += (size_t)!ok;
	} else {
		/* Acceptable cases are judged by their own callers (x25519). */
		fail_msg("%s: unexpected acceptable case", t->file);
		return;
	}
	if (!good) {
		t->failed++;
		print_error("%s: tcId %lld (%s) %s\n", t->file,
			    (long long)json_integer_value(json_object_get(tc, "tcId")), result,
			    str_field(tc, "comment"));
	}
}

/* Prints the summary line and checks it. */
static void tally_finish(struct tally *t, json_t *root)
{
	json_int_t want = json_integer_value(json_object_get(root, "numberOfTests"));

	printf("wycheproof %s: %zu cases, %zu valid accepted, %zu invalid rejected, "
	       "%zu acceptable, %zu failed\n", t->file, t->cases, t->valid_ok,
	       t->invalid_rejected, t->acceptable, t->failed);
	fflush(stdout);
	assert_true(want > 0);
	assert_int_equal(t->cases, (size_t)want);
	assert_int_equal(t->failed, 0);
	assert_int_equal(t->valid_ok + t->invalid_rejected + t->acceptable, t->cases);
}

/* Walks testGroups[] and tests[] of a Wycheproof file. */
#define for_each_group(root, gi, group) \
	json_array_foreach(json_object_get(root, "testGroups"), gi, group)
#define for_each_case(group, ti, tc) \
	json_array_foreach(json_object_get(group, "tests"), ti, tc)

/* ---- AES-GCM ---- */

static int aes_gcm_case(json_t *tc)
{
	struct bytes key = hex_field(tc, "key"), iv = hex_field(tc, "iv");
	struct bytes aad = hex_field(tc, "aad"), msg = hex_field(tc, "msg");
	struct bytes ct = hex_field(tc, "ct"), tag = hex_field(tc, "tag");
	uint8_t *out = malloc(msg.n + ct.n + 1), out_tag[16];
	int ok = 0;

	assert_non_null(out);
	/* Seal must reproduce ct and tag; refusing the parameters is a reject. */
	int sealed = tag.n <= sizeof out_tag && msg.n == ct.n &&
		     crypto_aes_gcm_seal_ex(key.p, key.n, iv.p, iv.n, aad.p, aad.n, msg.p, msg.n,
					    out, out_tag, tag.n) == CC_OK &&
		     memcmp(out, ct.p, ct.n) == 0 && memcmp(out_tag, tag.p, tag.n) == 0;
	/* Open must give back msg, and refuse every invalid case. */
	int opened = crypto_aes_gcm_open_ex(key.p, key.n, iv.p, iv.n, aad.p, aad.n, ct.p, ct.n,
					    tag.p, tag.n, out) == CC_OK &&
		     ct.n == msg.n && memcmp(out, msg.p, msg.n) == 0;
	if (strcmp(str_field(tc, "result"), "valid") == 0)
		ok = sealed && opened;
	else
		ok = opened;

	free(key.p);
	free(iv.p);
	free(aad.p);
	free(msg.p);
	free(ct.p);
	free(tag.p);
	free(out);
	return ok;
}

static void test_aes_gcm(void **state)
{
	struct tally t = {.file = "aes_gcm_test.json"};
	json_t *root = load_vectors(t.file), *group, *tc;
	size_t gi, ti;
	(void)state;

	for_each_group(root, gi, group) {
		for_each_case(group, ti, tc)
			tally_case(&t, tc, aes_gcm_case(tc));
	}
	tally_finish(&t, root);
	json_decref(root);
}

/* ---- Ed25519 ---- */

static void test_ed25519(void **state)
{
	struct tally t = {.file = "ed25519_test.json"};
	json_t *root = load_vectors(t.file), *group, *tc;
	size_t gi, ti;
	(void)state;

	for_each_group(root, gi, group) {
		struct bytes pk = hex_field(json_object_get(group, "publicKey"), "pk");
		assert_string_equal(str_field(json_object_get(group, "publicKey"), "curve"),
				    "edwards25519");
		for_each_case(group, ti, tc) {
			struct bytes msg = hex_field(tc, "msg"), sig = hex_field(tc, "sig");
			int ok = pk.n == CRYPTO_ED25519_PUB_LEN &&
				 crypto_ed25519_verify(pk.p, msg.p, msg.n, sig.p, sig.n) == CC_OK;
			tally_case(&t, tc, ok);
			free(msg.p);
			free(sig.p);
		}
		free(pk.p);
	}
	tally_finish(&t, root);
	json_decref(root);
}

/* ---- HKDF-SHA256 ---- */

static void test_hkdf(void **state)
{
	struct tally t = {.file = "hkdf_sha256_test.json"};
	json_t *root = load_vectors(t.file), *group, *tc;
	size_t gi, ti;
	(void)state;

	for_each_group(root, gi, group) {
		for_each_case(group, ti, tc) {
			struct bytes ikm = hex_field(tc, "ikm"), salt = hex_field(tc, "salt");
			struct bytes info = hex_field(tc, "info"), okm = hex_field(tc, "okm");
			json_int_t size = json_integer_value(json_object_get(tc, "size"));
			assert_true(size > 0);
			uint8_t *out = malloc((size_t)size);
			assert_non_null(out);
			/* Sizes over 255 * 32 (the invalid cases) must be refused. */
			int ok = crypto_hkdf_sha256(ikm.p, ikm.n, salt.p, salt.n, info.p, info.n,
						    out, (size_t)size) == CC_OK &&
				 okm.n == (size_t)size && memcmp(out, okm.p, okm.n) == 0;
			tally_case(&t, tc, ok);
			free(out);
			free(ikm.p);
			free(salt.p);
			free(info.p);
			free(okm.p);
		}
	}
	tally_finish(&t, root);
	json_decref(root);
}

/* ---- RSA-OAEP ---- */

static void run_rsa_oaep(const char *file)
{
	struct tally t = {.file = file};
	json_t *root = load_vectors(file), *group, *tc;
	size_t gi, ti;

	for_each_group(root, gi, group) {
		/* These files must hold the only parameters our OAEP uses. */
		assert_string_equal(str_field(group, "sha"), "SHA-256");
		assert_string_equal(str_field(group, "mgf"), "MGF1");
		assert_string_equal(str_field(group, "mgfSha"), "SHA-256");
		struct bytes der = hex_field(group, "privateKeyPkcs8");
		struct crypto_rsa_key *key = NULL;
		assert_int_equal(crypto_rsa_private_from_der(der.p, der.n, &key), CC_OK);
		assert_int_equal(crypto_rsa_bits(key),
				 json_integer_value(json_object_get(group, "keySize")));
		for_each_case(group, ti, tc) {
			struct bytes ct = hex_field(tc, "ct"), msg = hex_field(tc, "msg");
			struct bytes label = hex_field(tc, "label");
			uint8_t out[CRYPTO_RSA_MAX_BYTES];
			size_t out_len = 0;
			cc_err err = crypto_rsa_oaep_decrypt(key, label.p, label.n, ct.p, ct.n, out,
							     sizeof out, &out_len);
			/* No padding oracle: a refusal is always CC_ERR_AUTH. */
			if (err != CC_OK)
				assert_int_equal(err, CC_ERR_AUTH);
			tally_case(&t, tc, err == CC_OK && out_len == msg.n &&
						   memcmp(out, msg.p, msg.n) == 0);
			free(ct.p);
			free(msg.p);
			free(label.p);
		}
		crypto_rsa_free(key);
		free(der.p);
	}
	tally_finish(&t, root);
	json_decref(root);
}

static void test_rsa_oaep_2048(void **state)
{
	(void)state;
	run_rsa_oaep("rsa_oaep_2048_sha256_mgf1sha256_test.json");
}

static void test_rsa_oaep_3072(void **state)
{
	(void)state;
	run_rsa_oaep("rsa_oaep_3072_sha256_mgf1sha256_test.json");
}

/* ---- RSA-PSS ---- */

static void run_rsa_pss(const char *file)
{
	struct tally t = {.file = file};
	json_t *root = load_vectors(file), *group, *tc;
	size_t gi, ti;

	for_each_group(root, gi, group) {
		assert_string_equal(str_field(group, "sha"), "SHA-256");
		assert_string_equal(str_field(group, "mgf"), "MGF1");
		assert_string_equal(str_field(group, "mgfSha"), "SHA-256");
		assert_int_equal(json_integer_value(json_object_get(group, "sLen")), 32);
		struct bytes der = hex_field(group, "publicKeyDer");
		struct crypto_rsa_key *key = NULL;
		assert_int_equal(crypto_rsa_public_from_der(der.p, der.n, &key), CC_OK);
		for_each_case(group, ti, tc) {
			struct bytes msg = hex_field(tc, "msg"), sig = hex_field(tc, "sig");
			tally_case(&t, tc, crypto_rsa_pss_verify(key, msg.p, msg.n, sig.p,
								 sig.n) == CC_OK);
			free(msg.p);
			free(sig.p);
		}
		crypto_rsa_free(key);
		free(der.p);
	}
	tally_finish(&t, root);
	json_decref(root);
}

static void test_rsa_pss_2048(void **state)
{
	(void)state;
	run_rsa_pss("rsa_pss_2048_sha256_mgf1_32_test.json");
}

static void test_rsa_pss_3072(void **state)
{
	(void)state;
	run_rsa_pss("rsa_pss_3072_sha256_mgf1_32_test.json");
}

/* ---- X25519 ---- */

static void test_x25519(void **state)
{
	static const uint8_t zero[CRYPTO_X25519_LEN];
	struct tally t = {.file = "x25519_test.json"};
	json_t *root = load_vectors(t.file), *group, *tc;
	size_t gi, ti;
	(void)state;

	for_each_group(root, gi, group) {
		assert_string_equal(str_field(group, "curve"), "curve25519");
		for_each_case(group, ti, tc) {
			struct bytes pub = hex_field(tc, "public"), priv = hex_field(tc, "private");
			struct bytes want = hex_field(tc, "shared");
			uint8_t got[CRYPTO_X25519_LEN];
			const char *result = str_field(tc, "result");
			assert_int_equal(pub.n, CRYPTO_X25519_LEN);
			assert_int_equal(priv.n, CRYPTO_X25519_LEN);
			assert_int_equal(want.n, CRYPTO_X25519_LEN);

			cc_err err = crypto_x25519_shared(priv.p, pub.p, got);
			int zero_secret = memcmp(want.p, zero, sizeof zero) == 0;
			int ok = err == CC_OK && memcmp(got, want.p, sizeof got) == 0;
			if (strcmp(result, "acceptable") == 0) {
				/* Our policy (see the top of this file). */
				int good = zero_secret ? err == CC_ERR_AUTH : ok;
				t.cases++;
				if (good) {
					t.acceptable++;
					t.zero_rejected += (size_t)zero_secret;
				} else {
					t.failed++;
					print_error("%s: tcId %lld (acceptable) %s\n", t.file,
						    (long long)json_integer_value(
							    json_object_get(tc, "tcId")),
						    str_field(tc, "comment"));
				}
			} else {
				tally_case(&t, tc, ok);
			}
			free(pub.p);
			free(priv.p);
			free(want.p);
		}
	}
	tally_finish(&t, root);
	printf("wycheproof %s: of the acceptable cases, %zu gave the listed secret and "
	       "%zu all-zero secrets were refused (policy)\n", t.file,
	       t.acceptable - t.zero_rejected, t.zero_rejected);
	json_decref(root);
}

static int group_setup(void **state)
{
	(void)state;
	return crypto_init() == CC_OK ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_aes_gcm),
		cmocka_unit_test(test_ed25519),
		cmocka_unit_test(test_hkdf),
		cmocka_unit_test(test_rsa_oaep_2048),
		cmocka_unit_test(test_rsa_oaep_3072),
		cmocka_unit_test(test_rsa_pss_2048),
		cmocka_unit_test(test_rsa_pss_3072),
		cmocka_unit_test(test_x25519),
	};
	return cmocka_run_group_tests(tests, group_setup, NULL);
}
