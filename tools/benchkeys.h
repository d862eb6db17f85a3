/* The benchmarks' RSA-2048 identity keys: DIR/benchI.pem, made once and kept
 * for later runs (the cache loadgen, bench_conns and bench_rooms share,
 * /tmp/cryptocat-bench-keys by default). Header-only, as tools/procstat.h:
 * each C file of tools/ is a program of its own. */
#ifndef CC_TOOLS_BENCHKEYS_H
#define CC_TOOLS_BENCHKEYS_H

#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "crypto/crypto.h"

#define BENCHKEYS_PATH_MAX 1100

static inline void benchkeys_path(const char *dir, unsigned i, char *out, size_t n)
{
	snprintf(out, n, "%s/bench%u.pem", dir, i);
}

/* Makes every missing DIR/benchI.pem, I < count, with one process per core
 * (an RSA-2048 key is tens of milliseconds of one core). prog names the
 * caller in the note it prints. NULL, or why not. */
static inline const char *benchkeys_make(const char *dir, unsigned count, const char *prog)
{
	char path[BENCHKEYS_PATH_MAX];
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned workers = ncpu < 1 ? 1 : ncpu > 64 ? 64 : (unsigned)ncpu, missing = 0;
	pid_t pids[64];
	int bad = 0;
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return "cannot create the key directory";
	for (unsigned i = 0; i < count; i++) {
		benchkeys_path(dir, i, path, sizeof path);
		missing += access(path, R_OK) != 0;
	}
	if (!missing)
		return NULL;
	fprintf(stderr, "%s: making %u RSA-2048 identity keys in %s (kept)\n", prog, missing, dir);
	for (unsigned w = 0; w < workers; w++) {
		pid_t pid = pids[w] = fork();
		if (pid < 0) {
			workers = w;  /* wait for those started, then fail */
			bad = 1;
		}
		if (pid)
			continue;
		for (unsigned i = w; i < count; i += workers) {
			struct crypto_rsa_key *k = NULL;
			benchkeys_path(dir, i, path, sizeof path);
			if (access(path, R_OK) != 0 &&
			    (crypto_rsa_generate(2048, &k) || crypto_rsa_save_private_file(k, path)))
				_exit(1);
			crypto_rsa_free(k);
		}
		_exit(0);
	}
	/* Only our own children: the caller may have others (a server). */
	int status;
	for (unsigned w = 0; w < workers; w++)
		bad |= waitpid(pids[w], &status, 0) != pids[w] || !WIFEXITED(status) ||
		       WEXITSTATUS(status) != 0;
	return bad ? "cannot make the identity keys" : NULL;
}

static inline cc_err benchkeys_load(const char *dir, unsigned i, struct crypto_rsa_key **out)
{
	char path[BENCHKEYS_PATH_MAX];
	benchkeys_path(dir, i, path, sizeof path);
	return crypto_rsa_load_private_file(path, out);
}

#endif
