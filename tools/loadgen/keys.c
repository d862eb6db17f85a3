/* Load generator: the RSA-2048 identity keys of bench0..N-1, made once and
 * kept in --keys DIR for later runs, and a receiving key each for the run. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "loadgen.h"
#include "util/clock.h"

static void key_path(unsigned i, char *out, size_t n)
{
	snprintf(out, n, "%s/bench%u.pem", g.o.keys, i);
}

static int key_make_one(size_t job, void *ctx)
{
	const unsigned *missing = ctx;
	struct crypto_rsa_key *key = NULL;
	char path[1100];
	key_path(missing[job], path, sizeof path);
	int rc = crypto_rsa_generate(2048, &key) || crypto_rsa_save_private_file(key, path);
	crypto_rsa_free(key);
	return rc;
}

void lg_keys_prepare(void)
{
	char path[1100];
	unsigned n = g.o.clients, nmissing = 0;
	unsigned *missing = calloc(n, sizeof *missing);

	g.keys = calloc(n, sizeof *g.keys);
	g.fp = calloc(n, sizeof *g.fp);
	g.seed = calloc(n, sizeof *g.seed);
	g.spub = calloc(n, sizeof *g.spub);
	g.recv_priv = calloc(n, sizeof *g.recv_priv);
	g.recv_pub = calloc(n, sizeof *g.recv_pub);
	if (!missing || !g.keys || !g.fp || !g.seed || !g.spub || !g.recv_priv || !g.recv_pub)
		lg_die("out of memory");
	if (mkdir(g.o.keys, 0700) != 0 && errno != EEXIST)
		lg_die("cannot create %s: %s", g.o.keys, strerror(errno));
	for (unsigned i = 0; i < n; i++) {
		key_path(i, path, sizeof path);
		if (access(path, R_OK) != 0)
			missing[nmissing++] = i;
	}
	if (nmissing) {
		uint64_t t = lg_now_ns();
		fprintf(stderr, "loadgen: making %u RSA-2048 identity keys in %s (kept for later runs)\n",
			nmissing, g.o.keys);
		if (lg_run_parallel(nmissing, g.workers, key_make_one, missing))
			lg_die("cannot make the keys in %s", g.o.keys);
		fprintf(stderr, "loadgen: keys made in %.1f s\n", lg_secs(lg_now_ns() - t));
	}
	free(missing);
	g.recv_created_ms = clock_now_ms();
	/* A server keeps a user's newest receiving key and refuses an older
	 * version: each run's key gets a higher one (its start in seconds). */
	g.recv_version = (uint32_t)(g.recv_created_ms / 1000);
	for (unsigned i = 0; i < n; i++) {
		key_path(i, path, sizeof path);
		if (crypto_rsa_load_private_file(path, &g.keys[i]) ||
		    crypto_rsa_fingerprint(g.keys[i], g.fp[i]) ||
		    e2e_signing_key_derive(g.keys[i], g.seed[i], g.spub[i]) ||
		    /* A receiving key for the run: room secrets come
		     * wrapped to it. */
		    crypto_x25519_keypair(g.recv_priv[i], g.recv_pub[i]))
			lg_die("cannot load the key %s", path);
	}
}
