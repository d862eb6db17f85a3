#include "client/core/home.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proto/msg.h"
#include "util/buf.h"
#include "util/log.h"

cc_err home_prepare(const char *home)
{
	char path[HOME_PATH_MAX];
	size_t n = strlen(home);

	if (n == 0 || n >= sizeof path)
		return CC_ERR_USAGE;
	memcpy(path, home, n + 1);
	/* Parents as usual, the home itself private. */
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0755) != 0 && errno != EEXIST)
			goto fail;
		*p = '/';
	}
	if (mkdir(path, 0700) != 0 && errno != EEXIST)
		goto fail;
	struct stat st;
	if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
		goto fail;
	return CC_OK;
fail:
	log_error("cannot create the home directory %s: %s", home, strerror(errno));
	return CC_ERR_IO;
}

/* HOME/FILE into path (HOME_PATH_MAX bytes): CC_ERR_USAGE if too long. */
static cc_err home_path(const char *home, const char *file, char *path)
{
	int n = snprintf(path, HOME_PATH_MAX, "%s/%s", home, file);
	return n > 0 && n < HOME_PATH_MAX ? CC_OK : CC_ERR_USAGE;
}

cc_err home_key_load(const char *home, const char *file, const struct home_secrets *s,
		     struct crypto_rsa_key **out)
{
	char path[HOME_PATH_MAX];
	bool has = home_secrets_has(s);
	*out = NULL;
	cc_err err = home_path(home, file, path);
	if (!err)
		err = crypto_rsa_load_key_file(path, has ? s->pass : NULL, has ? s->pass_len : 0,
					       out);
	if (err == CC_ERR_BAD_PASSPHRASE)
		log_error(has ? "the passphrase does not open %s"
			      : "%s is encrypted under a passphrase, and none was given", path);
	else if (err == CC_ERR_SECURITY)
		log_error("%s holds a key in clear, though a passphrase protects this home:"
			  " someone put it there; refusing it", path);
	else if (err && err != CC_ERR_NOT_FOUND)
		log_error("cannot load the key %s: %s", path, cc_err_str(err));
	return err;
}

cc_err home_key_save(const char *home, const char *file, const struct home_secrets *s,
		     const struct crypto_rsa_key *key)
{
	char path[HOME_PATH_MAX];
	bool has = home_secrets_has(s);
	cc_err err = home_path(home, file, path);
	if (!err)
		err = crypto_rsa_save_key_file(key, path, has ? s->pass : NULL,
					       has ? s->pass_len : 0);
	if (err)
		log_error("cannot save the key %s: %s", path, cc_err_str(err));
	return err;
}

cc_err home_identity_load(const char *home, unsigned bits, const struct home_secrets *s,
			  struct crypto_rsa_key **out, int *created)
{
	*created = 0;
	cc_err err = home_key_load(home, HOME_IDENTITY, s, out);
	if (err != CC_ERR_NOT_FOUND)
		return err;
	if ((err = crypto_rsa_generate(bits, out)))
		return err;
	if ((err = home_key_save(home, HOME_IDENTITY, s, *out))) {
		crypto_rsa_free(*out);
		*out = NULL;
		return err;
	}
	*created = 1;
	return CC_OK;
}

cc_err home_nick_load(const char *home, char *out, size_t n)
{
	char path[HOME_PATH_MAX];
	char line[64];

	snprintf(path, sizeof path, "%s/nick", home);
	FILE *f = fopen(path, "r");
	if (!f)
		return errno == ENOENT ? CC_ERR_NOT_FOUND : CC_ERR_IO;
	char *got = fgets(line, sizeof line, f);
	fclose(f);
	if (!got)
		return CC_ERR_MALFORMED;
	line[strcspn(line, "\r\n")] = '\0';
	size_t len = strlen(line);
	if (!proto_nick_valid((const uint8_t *)line, len) || len >= n)
		return CC_ERR_MALFORMED;
	memcpy(out, line, len + 1);
	return CC_OK;
}

/* Writes content to path atomically with mode 0600. */
static cc_err home_write_file(const char *path, const char *content)
{
	char tmp[HOME_PATH_MAX + 8];
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return CC_ERR_IO;
	size_t len = strlen(content);
	ssize_t w = write(fd, content, len);
	int ok = w == (ssize_t)len && fsync(fd) == 0;
	ok = close(fd) == 0 && ok;
	if (!ok || rename(tmp, path) != 0) {
		unlink(tmp);
		return CC_ERR_IO;
	}
	return CC_OK;
}

cc_err home_nick_save(const char *home, const char *nick)
{
	char path[HOME_PATH_MAX], content[PROTO_NICK_MAX + 2];
	snprintf(path, sizeof path, "%s/nick", home);
	snprintf(content, sizeof content, "%s\n", nick);
	return home_write_file(path, content);
}

/* known_servers holds one "host:port hex-fingerprint" per line, like ssh's
 * known_hosts; lines starting with # are comments. */
cc_err home_pin_check(const char *home, const char *server,
		      const uint8_t fp[CRYPTO_FINGERPRINT_LEN], enum pin_result *result,
		      char pinned_hex[2 * CRYPTO_FINGERPRINT_LEN + 1])
{
	char path[HOME_PATH_MAX], line[1024];
	char fp_hex[2 * CRYPTO_FINGERPRINT_LEN + 1];

	hex_encode(fp, CRYPTO_FINGERPRINT_LEN, fp_hex);
	snprintf(path, sizeof path, "%s/known_servers", home);
	FILE *f = fopen(path, "r");
	if (!f && errno != ENOENT)
		return CC_ERR_IO;
	while (f && fgets(line, sizeof line, f)) {
		char name[512], hex[128];
		if (line[0] == '#' || sscanf(line, "%511s %127s", name, hex) != 2)
			continue;
		if (strcmp(name, server) != 0)
			continue;
		fclose(f);
		if (strlen(hex) != 2 * CRYPTO_FINGERPRINT_LEN)
			return CC_ERR_MALFORMED;
		memcpy(pinned_hex, hex, 2 * CRYPTO_FINGERPRINT_LEN + 1);
		*result = strcmp(hex, fp_hex) == 0 ? PIN_MATCH : PIN_CHANGED;
		return CC_OK;
	}
	if (f)
		fclose(f);

	/* First use: append the pin. */
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd < 0)
		return CC_ERR_IO;
	snprintf(line, sizeof line, "%s %s\n", server, fp_hex);
	size_t len = strlen(line);
	ssize_t w = write(fd, line, len);
	int ok = w == (ssize_t)len && fsync(fd) == 0;
	ok = close(fd) == 0 && ok;
	if (!ok)
		return CC_ERR_IO;
	memcpy(pinned_hex, fp_hex, sizeof fp_hex);
	*result = PIN_NEW;
	return CC_OK;
}
