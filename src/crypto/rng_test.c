/* Test-only deterministic RNG (see rng_test.h). Never linked into the shipped
 * programs.
 *
 * It replaces OpenSSL's RAND_METHOD, a deprecated hook that OpenSSL 3.0 still
 * honours: RAND_bytes_ex and RAND_priv_bytes_ex, which the default provider
 * uses for the OAEP seed, the PSS salt, RSA blinding and key generation, hand
 * over to a RAND_METHOD other than the built-in one. Output block i (from 0)
 * is SHA-256(seed || i as a big-endian u64); each request starts a new block,
 * so the stream depends only on the seed and the sequence of request sizes. */
#include "crypto/rng_test.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "util/buf.h"

static pthread_mutex_t rng_lock = PTHREAD_MUTEX_INITIALIZER;
static uint8_t *rng_seed;
static size_t rng_seed_len;
static uint64_t rng_counter;
static crypto_test_rng_trace_fn rng_trace;
static void *rng_trace_arg;

static int rng_block(uint8_t out[32])
{
	uint8_t ctr[8];
	unsigned int len = 0;
	int ok;
	EVP_MD_CTX *md = EVP_MD_CTX_new();

	store_be64(ctr, rng_counter++);
	ok = md && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1 &&
	     EVP_DigestUpdate(md, rng_seed, rng_seed_len) == 1 &&
	     EVP_DigestUpdate(md, ctr, sizeof ctr) == 1 &&
	     EVP_DigestFinal_ex(md, out, &len) == 1 && len == 32;
	EVP_MD_CTX_free(md);
	return ok;
}

static int rng_bytes(unsigned char *buf, int num)
{
	uint8_t block[32];
	size_t left = num > 0 ? (size_t)num : 0;
	int ok = 1;

	pthread_mutex_lock(&rng_lock);
	if (rng_trace && rng_seed)
		rng_trace(rng_trace_arg, left, rng_counter);
	while (ok && left > 0) {
		size_t n = left < sizeof block ? left : sizeof block;
		ok = rng_seed != NULL && rng_block(block);
		if (ok)
			memcpy(buf, block, n);
		buf += n;
		left -= n;
	}
	pthread_mutex_unlock(&rng_lock);
	mem_wipe(block, sizeof block);
	return ok;
}

/* Seeding and mixing in entropy would break determinism: accept and ignore. */
static int rng_seed_ignored(const void *buf, int num)
{
	(void)buf;
	(void)num;
	return 1;
}

static int rng_add_ignored(const void *buf, int num, double randomness)
{
	(void)buf;
	(void)num;
	(void)randomness;
	return 1;
}

static int rng_status(void)
{
	return 1;
}

static const RAND_METHOD rng_method = {
	.seed = rng_seed_ignored,
	.bytes = rng_bytes,
	.cleanup = NULL,
	.add = rng_add_ignored,
	.pseudorand = rng_bytes,
	.status = rng_status,
};

static void rng_forget(void)
{
	if (rng_seed) {
		mem_wipe(rng_seed, rng_seed_len);
		free(rng_seed);
	}
	rng_seed = NULL;
	rng_seed_len = 0;
	rng_counter = 0;
}

void crypto_test_rng_seed(const uint8_t *seed, size_t seed_len)
{
	pthread_mutex_lock(&rng_lock);
	rng_forget();
	rng_seed = malloc(seed_len ? seed_len : 1);
	if (!rng_seed) {
		/* Test-only code: a silent fall back to real randomness would make
		 * a reproducibility test pass or fail for the wrong reason. */
		fprintf(stderr, "crypto_test_rng_seed: out of memory\n");
		abort();
	}
	if (seed_len)
		memcpy(rng_seed, seed, seed_len);
	rng_seed_len = seed_len;
	pthread_mutex_unlock(&rng_lock);
	if (RAND_set_rand_method(&rng_method) != 1) {
		fprintf(stderr, "crypto_test_rng_seed: RAND_set_rand_method failed\n");
		abort();
	}
}

void crypto_test_rng_restore(void)
{
	/* Back to OpenSSL's own DRBG first, so no request sees a half state. */
	RAND_set_rand_method(RAND_OpenSSL());
	pthread_mutex_lock(&rng_lock);
	rng_forget();
	rng_trace = NULL;
	rng_trace_arg = NULL;
	pthread_mutex_unlock(&rng_lock);
}

void crypto_test_rng_set_trace(crypto_test_rng_trace_fn fn, void *arg)
{
	pthread_mutex_lock(&rng_lock);
	rng_trace = fn;
	rng_trace_arg = arg;
	pthread_mutex_unlock(&rng_lock);
}
