/* Secrets at rest: a home's keys under its passphrase (docs/SECURITY.md).
 *
 * identity.pem is PKCS#8 encrypted with scrypt (crypto/pbe.c): a file that
 * stands alone, which `openssl pkey` opens with the passphrase. client.db
 * keeps its secret columns sealed (AES-256-GCM, a random nonce per value,
 * associated data binding each value to its row: store/client_store.h)
 * under a key derived from the passphrase and a random salt stored in
 * client.db's at_rest row:
 *
 *   master   = scrypt(passphrase, salt, N = 2^14, r = 8, p = 8, 32 bytes)
 *   seal_key = HKDF-Expand(master, "cryptocat/1 client.db seal", 32)
 *   check    = HKDF-Expand(master, "cryptocat/1 client.db check", 32)
 *
 * check is stored beside the salt and compared in constant time before any
 * value is opened or written, so a wrong passphrase is told at once and
 * changes nothing. It lets someone who copies client.db try passphrases
 * offline, at one scrypt each, as identity.pem already does; it gives
 * nothing else (seal_key is another HKDF output). Each change of passphrase
 * draws a new salt, so every value is sealed again under a new key (a key
 * learnt under the old passphrase opens nothing written after).
 *
 * The store seals and opens (it knows each value's row); this file gives it
 * the sealer once the passphrase is proven, and owns the steps that touch
 * both files: opening a home, and changing its passphrase. A change is made
 * crash-safe thus, client.db's transaction being the one commit point:
 *
 *   1. identity.pem.new written (under the new passphrase), fsync'd;
 *   2. one transaction seals every value again, stores the new salt and
 *      check, and the SHA-256 of identity.pem.new (identity_pending);
 *   3. identity.pem.new renamed over identity.pem, the directory fsync'd;
 *   4. identity_pending cleared.
 *
 * Every start (and every change) first looks: identity.pem.new there and
 * named by identity_pending: the change committed, finish it (rename);
 * there but not named: it did not, remove it; gone while identity_pending
 * names identity.pem: clear it. So a crash anywhere leaves the old
 * passphrase working or the new one, never a mix. */
#include "client/core/home.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/buf.h"
#include "util/log.h"
#include "util/testpoint.h"

#define HOME_IDENTITY_NEW "identity.pem.new"
/* More than any key file (crypto's cap is 8 KiB). */
#define HOME_KEY_FILE_MAX 16384

_Static_assert(CLIENT_PASSPHRASE_MAX == CRYPTO_PASSPHRASE_MAX, "one passphrase limit");
_Static_assert(CSTORE_SEAL_OVERHEAD == CRYPTO_AEAD_NONCE_LEN + CRYPTO_AEAD_TAG_LEN,
	       "a sealed value is a nonce, the ciphertext and a tag");

static const char label_seal[] = "cryptocat/1 client.db seal";
static const char label_check[] = "cryptocat/1 client.db check";

/* ---- the passphrase context ----------------------------------------------------- */

static cc_err secrets_seal(void *ctx, const uint8_t *aad, size_t aad_len, const uint8_t *pt,
			   size_t pt_len, uint8_t *out)
{
	struct home_secrets *s = ctx;
	if (!s->derived)
		return CC_ERR_STATE;
	/* A random nonce: the key seals a few values per message for as long
	 * as the passphrase stays, far below 2^32 (NIST SP 800-38D). */
	cc_err err = crypto_random_bytes(out, CRYPTO_AEAD_NONCE_LEN);
	if (!err)
		err = crypto_aead_seal(s->seal_key, out, aad, aad_len, pt, pt_len,
				       out + CRYPTO_AEAD_NONCE_LEN);
	return err;
}

static cc_err secrets_open(void *ctx, const uint8_t *aad, size_t aad_len, const uint8_t *in,
			   size_t in_len, uint8_t *out)
{
	struct home_secrets *s = ctx;
	if (!s->derived)
		return CC_ERR_STATE;
	if (in_len < CSTORE_SEAL_OVERHEAD)
		return CC_ERR_AUTH;
	return crypto_aead_open(s->seal_key, in, aad, aad_len, in + CRYPTO_AEAD_NONCE_LEN,
				in_len - CRYPTO_AEAD_NONCE_LEN, out);
}

cc_err home_secrets_new(const char *pass, size_t pass_len, struct home_secrets **out)
{
	*out = NULL;
	if (pass_len > CRYPTO_PASSPHRASE_MAX || (pass_len && !pass))
		return CC_ERR_TOO_LARGE;
	struct home_secrets *s = calloc(1, sizeof *s);
	if (!s)
		return CC_ERR_NOMEM;
	/* Best effort: kept out of swap while the client runs. */
	(void)mlock(s, sizeof *s);
	if (pass_len)
		memcpy(s->pass, pass, pass_len);
	s->pass_len = pass_len;
	s->sealer.seal = secrets_seal;
	s->sealer.open = secrets_open;
	s->sealer.ctx = s;
	*out = s;
	return CC_OK;
}

void home_secrets_free(struct home_secrets *s)
{
	if (!s)
		return;
	mem_wipe(s, sizeof *s);
	(void)munlock(s, sizeof *s);
	free(s);
}

bool home_secrets_has(const struct home_secrets *s)
{
	return s && s->pass_len > 0;
}

/* The key and check of client.db under (prm, salt); reused if already so. */
static cc_err secrets_derive(struct home_secrets *s, const struct crypto_scrypt_params *prm,
			     const uint8_t salt[CSTORE_SALT_LEN])
{
	if (s->derived && s->prm.log2_n == prm->log2_n && s->prm.r == prm->r &&
	    s->prm.p == prm->p && memcmp(s->salt, salt, CSTORE_SALT_LEN) == 0)
		return CC_OK;
	uint8_t master[32];
	s->derived = false;
	cc_err err = crypto_scrypt(s->pass, s->pass_len, salt, CSTORE_SALT_LEN, prm, master,
				   sizeof master);
	if (!err)
		err = crypto_hkdf_expand(master, sizeof master, (const uint8_t *)label_seal,
					 sizeof label_seal - 1, s->seal_key, sizeof s->seal_key);
	if (!err)
		err = crypto_hkdf_expand(master, sizeof master, (const uint8_t *)label_check,
					 sizeof label_check - 1, s->check, sizeof s->check);
	mem_wipe(master, sizeof master);
	if (err) {
		mem_wipe(s->seal_key, sizeof s->seal_key);
		mem_wipe(s->check, sizeof s->check);
		return err;
	}
	s->prm = *prm;
	memcpy(s->salt, salt, CSTORE_SALT_LEN);
	s->derived = true;
	return CC_OK;
}

cc_err home_secrets_fresh(struct home_secrets *s, struct cstore_at_rest *row)
{
	uint8_t salt[CSTORE_SALT_LEN];
	memset(row, 0, sizeof *row);
	cc_err err = crypto_random_bytes(salt, sizeof salt);
	if (!err)
		err = secrets_derive(s, &crypto_scrypt_default, salt);
	if (err)
		return err;
	row->sealed = true;
	row->kdf_log2_n = s->prm.log2_n;
	row->kdf_r = s->prm.r;
	row->kdf_p = s->prm.p;
	memcpy(row->salt, s->salt, CSTORE_SALT_LEN);
	memcpy(row->check, s->check, CSTORE_CHECK_LEN);
	return CC_OK;
}

cc_err home_secrets_check(struct home_secrets *s, const struct cstore_at_rest *row,
			  const char *home)
{
	const struct crypto_scrypt_params prm = {row->kdf_log2_n, row->kdf_r, row->kdf_p};
	if (crypto_scrypt_params_check(&prm)) {
		log_error("%s/" HOME_DB ": the passphrase's parameters are damaged", home);
		return CC_ERR_STORE;
	}
	cc_err err = secrets_derive(s, &prm, row->salt);
	if (err)
		return err;
	if (!crypto_ct_equal(s->check, row->check, CSTORE_CHECK_LEN)) {
		s->derived = false;
		mem_wipe(s->seal_key, sizeof s->seal_key);
		log_error("the passphrase does not open %s/" HOME_DB, home);
		return CC_ERR_BAD_PASSPHRASE;
	}
	return CC_OK;
}

/* ---- files -------------------------------------------------------------------------- */

static void home_sync_dir(const char *home)
{
	int fd = open(home, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		if (fsync(fd) != 0)
			log_warn("fsync of %s failed: %s", home, strerror(errno));
		close(fd);
	}
}

/* SHA-256 of HOME/FILE's bytes: CC_ERR_NOT_FOUND if there is none. */
static cc_err file_hash(const char *home, const char *file, uint8_t out[CRYPTO_SHA256_LEN])
{
	char path[HOME_PATH_MAX];
	snprintf(path, sizeof path, "%s/%s", home, file);
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return errno == ENOENT ? CC_ERR_NOT_FOUND : CC_ERR_IO;
	uint8_t *data = malloc(HOME_KEY_FILE_MAX);
	size_t len = 0;
	cc_err err = data ? CC_OK : CC_ERR_NOMEM;
	while (!err) {
		ssize_t r = read(fd, data + len, HOME_KEY_FILE_MAX - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			err = CC_ERR_IO;
		else if (r == 0)
			break;
		else if ((len += (size_t)r) == HOME_KEY_FILE_MAX)
			err = CC_ERR_TOO_LARGE;
	}
	close(fd);
	if (!err)
		crypto_sha256(data, len, out);
	if (data)
		mem_wipe(data, len);  /* a key file, maybe in clear */
	free(data);
	return err;
}

static bool file_exists(const char *home, const char *file)
{
	char path[HOME_PATH_MAX];
	struct stat st;
	snprintf(path, sizeof path, "%s/%s", home, file);
	return lstat(path, &st) == 0;
}

/* Temp files a crash left mid-write of a key file (key files are written
 * to NAME.tmp.XXXXXX, then renamed): they may hold a key, in clear when a
 * passphrase was being removed. */
static void remove_stale_temps(const char *home)
{
	DIR *d = opendir(home);
	if (!d)
		return;
	for (struct dirent *e; (e = readdir(d));) {
		const char *tmp = strstr(e->d_name, ".pem");
		if (!tmp || !strstr(tmp, ".tmp."))
			continue;
		char path[HOME_PATH_MAX];
		snprintf(path, sizeof path, "%s/%s", home, e->d_name);
		if (unlink(path) == 0)
			log_warn("removed %s, left by a crash", path);
	}
	closedir(d);
}

/* Finishes or rolls back a passphrase change a crash cut short (the file's
 * top comment). */
static cc_err recover(const char *home, struct client_store *cs)
{
	struct cstore_at_rest row;
	uint8_t hash[CRYPTO_SHA256_LEN];
	cc_err err = cstore_at_rest_get(cs, &row);
	if (err && err != CC_ERR_NOT_FOUND)
		return err;
	bool pending = !err && row.identity_pending;
	remove_stale_temps(home);
	if (file_exists(home, HOME_IDENTITY_NEW)) {
		if (!pending) {
			char path[HOME_PATH_MAX];
			snprintf(path, sizeof path, "%s/" HOME_IDENTITY_NEW, home);
			if (unlink(path) != 0)
				return CC_ERR_IO;
			home_sync_dir(home);
			log_warn("a passphrase change was cut short before it was made: "
				 "%s keeps the passphrase it had", home);
			return CC_OK;
		}
		if ((err = file_hash(home, HOME_IDENTITY_NEW, hash)))
			return err;
		if (!crypto_ct_equal(hash, row.identity_hash, sizeof hash)) {
			log_error("%s/" HOME_IDENTITY_NEW " is not the key file its passphrase change"
				  " was made with: refusing to go on (move it away to use the"
				  " home's " HOME_IDENTITY ")", home);
			return CC_ERR_SECURITY;
		}
		char from[HOME_PATH_MAX], to[HOME_PATH_MAX];
		snprintf(from, sizeof from, "%s/" HOME_IDENTITY_NEW, home);
		snprintf(to, sizeof to, "%s/" HOME_IDENTITY, home);
		if (rename(from, to) != 0)
			return CC_ERR_IO;
		home_sync_dir(home);
		log_warn("finished the passphrase change a crash cut short in %s", home);
	} else if (pending) {
		if ((err = file_hash(home, HOME_IDENTITY, hash)))
			return err;
		if (!crypto_ct_equal(hash, row.identity_hash, sizeof hash)) {
			log_error("%s/" HOME_IDENTITY " is not the key file its last passphrase change"
				  " made: refusing to go on", home);
			return CC_ERR_SECURITY;
		}
	} else {
		return CC_OK;
	}
	row.identity_pending = false;
	return cstore_at_rest_put(cs, &row);
}

static cc_err db_open(const char *home, struct client_store **cs)
{
	char path[HOME_PATH_MAX];
	snprintf(path, sizeof path, "%s/" HOME_DB, home);
	return cstore_open(path, cs);
}

/* ---- opening a home ---------------------------------------------------------------- */

/* What protects a home, and its at_rest row. */
struct home_state {
	bool have_row;
	struct cstore_at_rest row;
	bool have_identity;
	bool protected;
};

/* Reads the state and checks that S fits it; with a sealed row, proves S
 * and unlocks the store. Nothing is written. */
static cc_err unlock(const char *home, struct client_store *cs, struct home_secrets *s,
		     struct home_state *st)
{
	char path[HOME_PATH_MAX];
	enum crypto_key_file_kind kind = CRYPTO_KEY_FILE_CLEAR;
	memset(st, 0, sizeof *st);
	cc_err err = cstore_at_rest_get(cs, &st->row);
	if (err && err != CC_ERR_NOT_FOUND)
		return err;
	st->have_row = !err;
	snprintf(path, sizeof path, "%s/" HOME_IDENTITY, home);
	err = crypto_key_file_kind(path, &kind);
	if (err && err != CC_ERR_NOT_FOUND) {
		log_error("cannot read %s: %s", path, cc_err_str(err));
		return err;
	}
	st->have_identity = !err;
	bool encrypted = st->have_identity && kind == CRYPTO_KEY_FILE_ENCRYPTED;
	/* client.db says, once it has a row; before, the identity key does;
	 * on a new home, whether a passphrase was given. */
	st->protected = st->have_row ? st->row.sealed
				     : st->have_identity ? encrypted : home_secrets_has(s);
	if (st->have_row && st->have_identity && encrypted != st->row.sealed) {
		log_error("%s: " HOME_IDENTITY " is %s but " HOME_DB " is %s: one of them was"
			  " replaced; refusing to go on", home,
			  encrypted ? "encrypted" : "in clear",
			  st->row.sealed ? "sealed" : "in clear");
		return CC_ERR_SECURITY;
	}
	if (st->protected && !home_secrets_has(s)) {
		log_error("the keys in %s are protected by a passphrase and none was given"
			  " (a prompt on a terminal, --passphrase-file or CRYPTOCAT_PASSPHRASE)",
			  home);
		return CC_ERR_BAD_PASSPHRASE;
	}
	if (!st->protected && home_secrets_has(s)) {
		log_error("%s has no passphrase: its keys are in clear (cryptocat"
			  " --change-passphrase sets one)", home);
		return CC_ERR_BAD_PASSPHRASE;
	}
	if (!st->protected || !st->have_row)
		return CC_OK;
	if ((err = home_secrets_check(s, &st->row, home)))
		return err;
	return cstore_sealer_set(cs, &s->sealer);
}

cc_err home_open(const char *home, unsigned bits, struct home_secrets *s,
		 struct crypto_rsa_key **identity, int *created, struct client_store **store)
{
	struct client_store *cs = NULL;
	struct home_state st;
	*identity = NULL;
	*store = NULL;
	*created = 0;
	cc_err err = db_open(home, &cs);
	if (!err)
		err = recover(home, cs);
	if (!err)
		err = unlock(home, cs, s, &st);
	/* The identity key opens under the same passphrase (or the key file
	 * proves it, on a home whose client.db has no row yet). */
	if (!err)
		err = home_identity_load(home, bits, st.protected ? s : NULL, identity, created);
	if (!err && !st.have_row) {
		/* First start of this client.db: say how it keeps its keys. */
		struct cstore_at_rest row = {0};
		err = st.protected ? home_secrets_fresh(s, &row) : CC_OK;
		if (!err)
			err = st.protected ? cstore_reseal(cs, &s->sealer, &row)
					   : cstore_at_rest_put(cs, &row);
	}
	if (err) {
		crypto_rsa_free(*identity);
		*identity = NULL;
		cstore_close(cs);
		return err;
	}
	*store = cs;
	return CC_OK;
}

cc_err home_lock_get(const char *home, enum client_home_lock *out)
{
	struct stat sb;
	*out = CLIENT_HOME_NEW;
	if (stat(home, &sb) != 0)
		return errno == ENOENT ? CC_OK : CC_ERR_IO;
	struct cstore_at_rest row;
	bool have_row = false;
	cc_err err = CC_OK;
	if (file_exists(home, HOME_DB)) {
		struct client_store *cs = NULL;
		err = db_open(home, &cs);
		if (!err)
			err = recover(home, cs);
		if (!err) {
			err = cstore_at_rest_get(cs, &row);
			have_row = !err;
			if (err == CC_ERR_NOT_FOUND)
				err = CC_OK;
		}
		cstore_close(cs);
		if (err)
			return err;
	}
	char path[HOME_PATH_MAX];
	enum crypto_key_file_kind kind;
	snprintf(path, sizeof path, "%s/" HOME_IDENTITY, home);
	err = crypto_key_file_kind(path, &kind);
	if (err && err != CC_ERR_NOT_FOUND)
		return err;
	if (have_row)
		*out = row.sealed ? CLIENT_HOME_PASSPHRASE : CLIENT_HOME_CLEAR;
	else if (!err)
		*out = kind == CRYPTO_KEY_FILE_ENCRYPTED ? CLIENT_HOME_PASSPHRASE : CLIENT_HOME_CLEAR;
	return CC_OK;
}

cc_err home_unlock(const char *home, struct home_secrets *s)
{
	struct client_store *cs = NULL;
	struct home_state st;
	cc_err err = db_open(home, &cs);
	if (!err)
		err = recover(home, cs);
	if (!err)
		err = unlock(home, cs, s, &st);
	/* No row to check against yet: the identity key proves it. */
	if (!err && st.protected && !st.have_row && st.have_identity) {
		struct crypto_rsa_key *key = NULL;
		err = home_key_load(home, HOME_IDENTITY, s, &key);
		crypto_rsa_free(key);
	}
	cstore_close(cs);
	return err;
}

void home_clear_warning(struct client_store *cs, const char *home)
{
	struct cstore_at_rest row;
	if (cstore_at_rest_get(cs, &row) != CC_OK || row.sealed || row.warned)
		return;
	log_warn("the keys in %s are stored in clear: anyone who copies that directory can"
		 " use them. Set a passphrase with: cryptocat --change-passphrase", home);
	row.warned = true;
	cstore_at_rest_put(cs, &row);
}

/* ---- changing the passphrase --------------------------------------------------------- */

static bool home_file_exists(const char *home, const char *file)
{
	char path[HOME_PATH_MAX];
	snprintf(path, sizeof path, "%s/%s", home, file);
	return access(path, F_OK) == 0;
}

cc_err home_change_passphrase(const char *home, struct home_secrets *old_s,
			      struct home_secrets *new_s)
{
	struct client_store *cs = NULL;
	struct crypto_rsa_key *identity = NULL;
	struct home_state st;
	struct cstore_at_rest row = {0};
	bool protect = home_secrets_has(new_s);
	cc_err err = db_open(home, &cs);
	if (!err)
		err = recover(home, cs);
	if (!err)
		err = unlock(home, cs, old_s, &st);
	/* A key move (/rotate-key) keeps its two other key files until every
	 * room has moved; changing the passphrase under them would leave one
	 * of them under the old one. The next connection finishes the move. */
	if (!err && (home_file_exists(home, "identity.next.pem") ||
		     home_file_exists(home, "identity.old.pem"))) {
		log_error("%s is moving to a new identity key: connect once to finish the move,"
			  " then change the passphrase", home);
		err = CC_ERR_STATE;
	}
	if (!err && !st.have_identity) {
		log_error("%s has no identity key yet: run cryptocat once first", home);
		err = CC_ERR_NOT_FOUND;
	}
	if (!err)
		err = home_key_load(home, HOME_IDENTITY, st.protected ? old_s : NULL, &identity);
	if (!err && protect)
		err = home_secrets_fresh(new_s, &row);
	/* 1. The key file under the new passphrase, beside the old one. */
	if (!err)
		err = home_key_save(home, HOME_IDENTITY_NEW, protect ? new_s : NULL, identity);
	if (!err)
		testpoint("passphrase:identity-written");
	/* 2. The commit point: every value sealed again, the new salt and
	 * check, and which key file goes with them. */
	if (!err)
		err = file_hash(home, HOME_IDENTITY_NEW, row.identity_hash);
	if (!err) {
		row.identity_pending = true;
		err = cstore_reseal(cs, protect ? &new_s->sealer : NULL, &row);
	}
	if (!err)
		testpoint("passphrase:db-committed");
	/* 3, 4. The key file into place; nothing pending. */
	if (!err) {
		char from[HOME_PATH_MAX], to[HOME_PATH_MAX];
		snprintf(from, sizeof from, "%s/" HOME_IDENTITY_NEW, home);
		snprintf(to, sizeof to, "%s/" HOME_IDENTITY, home);
		err = rename(from, to) == 0 ? CC_OK : CC_ERR_IO;
		home_sync_dir(home);
	}
	if (!err)
		testpoint("passphrase:renamed");
	if (!err) {
		row.identity_pending = false;
		err = cstore_at_rest_put(cs, &row);
	}
	/* Before the commit, a failure leaves the old state: the next start
	 * removes identity.pem.new. After it, the next start finishes. */
	crypto_rsa_free(identity);
	cstore_close(cs);
	return err;
}

/* ---- the public calls (client.h) ------------------------------------------------------ */

cc_err client_home_lock_get(const char *home, enum client_home_lock *out)
{
	cc_err err = crypto_init();
	return err ? err : home_lock_get(home, out);
}

cc_err client_secrets_new(const char *pass, size_t len, struct home_secrets **out)
{
	return home_secrets_new(pass, len, out);
}

void client_secrets_free(struct home_secrets *s)
{
	home_secrets_free(s);
}

cc_err client_home_unlock(const char *home, struct home_secrets *s)
{
	cc_err err = crypto_init();
	return err ? err : home_unlock(home, s);
}

cc_err client_home_change_passphrase(const char *home, struct home_secrets *old_s,
				     struct home_secrets *new_s)
{
	cc_err err = crypto_init();
	return err ? err : home_change_passphrase(home, old_s, new_s);
}
