/* The crypto layer's key files: PKCS#8 PEM private keys, in clear (mode
 * 0600) or encrypted under a passphrase (pbe.c), read with a size cap and
 * written atomically (a temp file in the same directory, fsync, rename,
 * fsync of the directory), so a crash leaves the old file or the new one. */
#include "crypto/crypto.h"
#include "crypto/crypto_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/log.h"

/* Reads the whole file (at most CRYPTO_RSA_PEM_MAX bytes) into a buffer the
 * caller wipes and frees. */
static cc_err keyfile_read(const char *path, char **text_out, size_t *len_out)
{
	cc_err err = CC_ERR_IO;
	char *text = NULL;
	size_t len = 0;
	struct stat st;
	int fd;

	*text_out = NULL;
	*len_out = 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) < 0)
		return errno == ENOENT ? CC_ERR_NOT_FOUND : CC_ERR_IO;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
		goto out;
	if (st.st_size > CRYPTO_RSA_PEM_MAX) {
		err = CC_ERR_TOO_LARGE;
		goto out;
	}
	/* One byte more than the cap, to notice a file that grew meanwhile. */
	if (!(text = malloc(CRYPTO_RSA_PEM_MAX + 1))) {
		err = CC_ERR_NOMEM;
		goto out;
	}
	for (;;) {
		ssize_t r = read(fd, text + len, CRYPTO_RSA_PEM_MAX + 1 - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			goto out;
		if (r == 0)
			break;
		len += (size_t)r;
		if (len > CRYPTO_RSA_PEM_MAX) {
			err = CC_ERR_TOO_LARGE;
			goto out;
		}
	}
	*text_out = text;
	*len_out = len;
	text = NULL;
	err = CC_OK;
out:
	if (text) {
		mem_wipe(text, len);
		free(text);
	}
	close(fd);
	return err;
}

static void keyfile_text_free(char *text, size_t len)
{
	if (text) {
		mem_wipe(text, len);
		free(text);
	}
}

cc_err crypto_key_file_kind(const char *path, enum crypto_key_file_kind *out)
{
	static const char clear[] = "-----BEGIN PRIVATE KEY-----";
	static const char encrypted[] = CRYPTO_PEM_ENCRYPTED_BEGIN;
	char *text;
	size_t len, i = 0;
	cc_err err = keyfile_read(path, &text, &len);
	if (err)
		return err;
	while (i < len && crypto_is_space(text[i]))
		i++;
	if (len - i >= sizeof encrypted - 1 && memcmp(text + i, encrypted, sizeof encrypted - 1) == 0)
		*out = CRYPTO_KEY_FILE_ENCRYPTED;
	else if (len - i >= sizeof clear - 1 && memcmp(text + i, clear, sizeof clear - 1) == 0)
		*out = CRYPTO_KEY_FILE_CLEAR;
	else
		err = CC_ERR_MALFORMED;
	keyfile_text_free(text, len);
	return err;
}

cc_err crypto_rsa_load_key_file(const char *path, const char *pass, size_t pass_len,
				struct crypto_rsa_key **out)
{
	char *text;
	size_t len;

	*out = NULL;
	cc_err err = keyfile_read(path, &text, &len);
	if (err)
		return err;
	if (!pass) {
		err = crypto_rsa_private_from_pem(text, len, out);
	} else {
		err = crypto_rsa_private_from_pem_encrypted(text, len, pass, pass_len, out);
		/* A key in clear where a passphrase protects the home: someone put
		 * it there. Never take it for the protected one. */
		if (err == CC_ERR_MALFORMED) {
			struct crypto_rsa_key *clear = NULL;
			if (crypto_rsa_private_from_pem(text, len, &clear) == CC_OK)
				err = CC_ERR_SECURITY;
			crypto_rsa_free(clear);
		}
	}
	keyfile_text_free(text, len);
	return err;
}

cc_err crypto_rsa_load_private_file(const char *path, struct crypto_rsa_key **out)
{
	return crypto_rsa_load_key_file(path, NULL, 0, out);
}

static cc_err keyfile_write_all(int fd, const uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return CC_ERR_IO;
		p += w;
		n -= (size_t)w;
	}
	return CC_OK;
}

/* Makes a rename in the directory of path durable. Best effort: the key file
 * is already in place when this runs. */
static void keyfile_sync_dir(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *dir;
	int fd;

	if (!slash)
		dir = strdup(".");
	else if (slash == path)
		dir = strdup("/");
	else
		dir = strndup(path, (size_t)(slash - path));
	if (!dir)
		return;
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		if (fsync(fd) != 0)
			log_warn("crypto: fsync of directory %s failed", dir);
		close(fd);
	}
	free(dir);
}

cc_err crypto_rsa_save_key_file(const struct crypto_rsa_key *key, const char *path,
				const char *pass, size_t pass_len)
{
	static const char suffix[] = ".tmp.XXXXXX";
	cc_err err;
	struct buf pem;
	char *tmp = NULL;
	size_t plen = strlen(path);
	int fd = -1, rc;

	if (!key->is_private)
		return CC_ERR_USAGE;
	buf_init(&pem, 0);
	err = pass ? crypto_rsa_private_to_pem_encrypted(key, pass, pass_len, &pem)
		   : crypto_rsa_private_to_pem(key, &pem);
	if (err)
		goto out;
	if (!(tmp = malloc(plen + sizeof suffix))) {
		err = CC_ERR_NOMEM;
		goto out;
	}
	memcpy(tmp, path, plen);
	memcpy(tmp + plen, suffix, sizeof suffix);
	/* A temp file in the same directory, so the rename is atomic. mkstemp
	 * creates it 0600; fchmod makes that exact whatever the umask. */
	err = CC_ERR_IO;
	if ((fd = mkstemp(tmp)) < 0) {
		free(tmp);
		tmp = NULL;
		goto out;
	}
	if (fcntl(fd, F_SETFD, FD_CLOEXEC) != 0 || fchmod(fd, S_IRUSR | S_IWUSR) != 0)
		goto out;
	if ((err = keyfile_write_all(fd, pem.data, pem.len)))
		goto out;
	err = CC_ERR_IO;
	if (fsync(fd) != 0)
		goto out;
	rc = close(fd);
	fd = -1;
	if (rc != 0 || rename(tmp, path) != 0)
		goto out;
	free(tmp);
	tmp = NULL;
	keyfile_sync_dir(path);
	err = CC_OK;
out:
	if (fd >= 0)
		close(fd);
	if (tmp) {
		unlink(tmp);
		free(tmp);
	}
	buf_free(&pem);
	return err;
}

cc_err crypto_rsa_save_private_file(const struct crypto_rsa_key *key, const char *path)
{
	return crypto_rsa_save_key_file(key, path, NULL, 0);
}
