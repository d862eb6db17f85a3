/* Users: a nickname bound to a key (registration, lookups, last seen), the
 * signing key its identity key certifies, and the public half of any key
 * the server knew, registered or retired when its nickname expired. */
#include "store/store_internal.h"

#include <stdlib.h>
#include <string.h>

#include "util/ascii.h"
#include "util/log.h"

/* The nickname rule is shared with the client's store (sqlite_util). */
_Static_assert(STORE_NICK_MAX == SQLITE_UTIL_NICK_MAX, "one nickname rule");

cc_err store_user_read(sqlite3_stmt *s, struct store_user *u)
{
	int64_t id = sqlite3_column_int64(s, 0);
	if (sqlite3_column_type(s, 0) != SQLITE_INTEGER ||
	    sqlite3_column_type(s, 2) != SQLITE_BLOB || sqlite3_column_type(s, 3) != SQLITE_BLOB ||
	    sqlite3_column_type(s, 4) != SQLITE_INTEGER || sqlite3_column_type(s, 5) != SQLITE_INTEGER)
		goto corrupt;

	size_t nick_len;
	if (!sqlite_util_col_nick(s, 1, u->nick, &nick_len))
		goto corrupt;

	const void *fp = sqlite3_column_blob(s, 3);
	if (!fp || sqlite3_column_bytes(s, 3) != STORE_FINGERPRINT_LEN)
		goto corrupt;
	memcpy(u->fingerprint, fp, STORE_FINGERPRINT_LEN);

	int64_t created = sqlite3_column_int64(s, 4);
	int64_t last_seen = sqlite3_column_int64(s, 5);
	if (created < 0 || last_seen < 0)
		goto corrupt;

	const void *pk = sqlite3_column_blob(s, 2);
	int pk_len = sqlite3_column_bytes(s, 2);
	if (pk_len < 1 || pk_len > STORE_PUBKEY_MAX)
		goto corrupt;
	if (!pk)
		return CC_ERR_NOMEM;
	u->pubkey = malloc((size_t)pk_len);
	if (!u->pubkey)
		return CC_ERR_NOMEM;
	memcpy(u->pubkey, pk, (size_t)pk_len);
	u->pubkey_len = (size_t)pk_len;
	u->id = id;
	u->created_s = (uint64_t)created;
	u->last_seen_s = (uint64_t)last_seen;
	return CC_OK;

corrupt:
	log_error("store: users row %lld is damaged", (long long)id);
	return CC_ERR_STORE;
}

/* Steps a bound user query: CC_OK with u filled, CC_ERR_NOT_FOUND, or an
 * error. Always resets the statement; u is left cleared on failure. */
static cc_err store_user_fetch(struct store *st, enum store_stmt_id id, struct store_user *u)
{
	sqlite3_stmt *s = st->stmt[id];
	cc_err err = store_step_row(s, "read user");
	if (!err)
		err = store_user_read(s, u);
	sqlite_util_stmt_done(s);
	if (err)
		store_user_clear(u);
	return err;
}

static cc_err store_user_fetch_by_nick_lower(struct store *st, const char *lower, size_t len,
					     struct store_user *u)
{
	sqlite3_stmt *s = st->stmt[STMT_USER_BY_NICK];
	cc_err err = store_bind_check(s, sqlite3_bind_text(s, 1, lower, (int)len, SQLITE_STATIC),
				      "bind nickname");
	if (err) {
		sqlite_util_stmt_done(s);
		return err;
	}
	return store_user_fetch(st, STMT_USER_BY_NICK, u);
}

static cc_err store_user_fetch_by_fingerprint(struct store *st, const uint8_t *fp,
					      struct store_user *u)
{
	sqlite3_stmt *s = st->stmt[STMT_USER_BY_FINGERPRINT];
	cc_err err = store_bind_check(s, sqlite3_bind_blob(s, 1, fp, STORE_FINGERPRINT_LEN,
							   SQLITE_STATIC),
				      "bind fingerprint");
	if (err) {
		sqlite_util_stmt_done(s);
		return err;
	}
	return store_user_fetch(st, STMT_USER_BY_FINGERPRINT, u);
}

static cc_err store_user_set_last_seen(struct store *st, int64_t id, uint64_t now_s)
{
	sqlite3_stmt *s = st->stmt[STMT_USER_TOUCH];
	cc_err err = store_bind_check(s, sqlite3_bind_int64(s, 1, id), "bind id");
	if (!err)
		err = store_bind_check(s, sqlite3_bind_int64(s, 2, (int64_t)now_s), "bind time");
	if (err) {
		sqlite_util_stmt_done(s);
		return err;
	}
	err = store_stmt_run(st, STMT_USER_TOUCH, "update last_seen");
	if (!err && sqlite3_changes(st->db) == 0)
		err = CC_ERR_NOT_FOUND;
	return err;
}

static cc_err store_user_insert(struct store *st, const char *nick, const char *lower, size_t len,
				const uint8_t *pubkey, size_t pubkey_len, const uint8_t *fp,
				uint64_t now_s, int64_t *id)
{
	sqlite3_stmt *s = st->stmt[STMT_USER_INSERT];
	cc_err err = store_bind_check(s, sqlite3_bind_text(s, 1, nick, (int)len, SQLITE_STATIC),
				      "bind nickname");
	if (!err)
		err = store_bind_check(s, sqlite3_bind_text(s, 2, lower, (int)len, SQLITE_STATIC),
				       "bind nickname");
	if (!err)
		err = store_bind_check(s, sqlite3_bind_blob(s, 3, pubkey, (int)pubkey_len,
							    SQLITE_STATIC),
				       "bind public key");
	if (!err)
		err = store_bind_check(s, sqlite3_bind_blob(s, 4, fp, STORE_FINGERPRINT_LEN,
							    SQLITE_STATIC),
				       "bind fingerprint");
	if (!err)
		err = store_bind_check(s, sqlite3_bind_int64(s, 5, (int64_t)now_s), "bind time");
	if (err) {
		sqlite_util_stmt_done(s);
		return err;
	}
	err = store_stmt_run(st, STMT_USER_INSERT, "insert user");
	if (!err)
		*id = sqlite3_last_insert_rowid(st->db);
	return err;
}

/* The key is checked before the nickname: a key owns at most one nickname,
 * so a known key always gets its own binding back (CC_OK or CC_ERR_EXISTS
 * naming it), even when the nickname it asked for belongs to someone else. */
cc_err store_user_register(struct store *st, const char *nick,
			   const uint8_t *pubkey, size_t pubkey_len,
			   const uint8_t fingerprint[STORE_FINGERPRINT_LEN],
			   uint64_t now_s, struct store_user *out)
{
	if (!out)
		return CC_ERR_INTERNAL;
	memset(out, 0, sizeof *out);
	if (!st || !fingerprint || (!pubkey && pubkey_len))
		return CC_ERR_INTERNAL;
	size_t len;
	if (!sqlite_util_nick_valid(nick, &len))
		return CC_ERR_BAD_NICK;
	if (pubkey_len == 0)
		return CC_ERR_MALFORMED;
	if (pubkey_len > STORE_PUBKEY_MAX)
		return CC_ERR_TOO_LARGE;
	if (now_s > INT64_MAX)
		return CC_ERR_MALFORMED;
	char lower[STORE_NICK_MAX + 1];
	ascii_lower(nick, len, lower);

	/* In the caller's transaction if it holds one (the server puts a known
	 * key's visit into its group commit), else in one of its own. */
	bool own;
	cc_err err = store_write_begin(st, &own);
	if (err)
		return err;

	err = store_user_fetch_by_fingerprint(st, fingerprint, out);
	if (err == CC_OK) {
		char have[STORE_NICK_MAX + 1];
		ascii_lower(out->nick, strlen(out->nick), have);
		if (out->pubkey_len != pubkey_len || memcmp(out->pubkey, pubkey, pubkey_len) != 0) {
			/* The caller derives the fingerprint from the key, so this is a bug
			 * (or a SHA-256 collision); never hand out the other key. */
			log_error("store: user %lld: same fingerprint, different public key",
				  (long long)out->id);
			err = CC_ERR_INTERNAL;
		} else if (strcmp(have, lower) != 0) {
			err = CC_ERR_EXISTS;
		} else {
			err = store_user_set_last_seen(st, out->id, now_s);
			if (!err)
				out->last_seen_s = now_s;
		}
	} else if (err == CC_ERR_NOT_FOUND) {
		/* A key its owner replaced never comes back. */
		err = store_key_revoked(st, fingerprint, NULL, NULL);
		err = err == CC_OK ? CC_ERR_REVOKED : err == CC_ERR_NOT_FOUND ? CC_OK : err;
	}
	if (err == CC_OK && !out->id) {
		struct store_user other = {0};
		err = store_user_fetch_by_nick_lower(st, lower, len, &other);
		store_user_clear(&other);
		if (err == CC_OK) {
			err = CC_ERR_NICK_TAKEN;
		} else if (err == CC_ERR_NOT_FOUND) {
			err = store_user_insert(st, nick, lower, len, pubkey, pubkey_len,
						fingerprint, now_s, &out->id);
			if (!err) {
				out->pubkey = malloc(pubkey_len);
				if (!out->pubkey)
					err = CC_ERR_NOMEM;
			}
			if (!err) {
				memcpy(out->pubkey, pubkey, pubkey_len);
				out->pubkey_len = pubkey_len;
				memcpy(out->nick, nick, len);
				out->nick[len] = '\0';
				memcpy(out->fingerprint, fingerprint, STORE_FINGERPRINT_LEN);
				out->created_s = now_s;
				out->last_seen_s = now_s;
			}
		}
	}

	err = store_write_end(st, own, err);
	if (err != CC_OK && err != CC_ERR_EXISTS)
		store_user_clear(out);
	return err;
}

cc_err store_user_get_by_nick(struct store *st, const char *nick, struct store_user *out)
{
	if (!out)
		return CC_ERR_INTERNAL;
	memset(out, 0, sizeof *out);
	if (!st)
		return CC_ERR_INTERNAL;
	size_t len;
	if (!sqlite_util_nick_valid(nick, &len))
		return CC_ERR_BAD_NICK;
	char lower[STORE_NICK_MAX + 1];
	ascii_lower(nick, len, lower);
	return store_user_fetch_by_nick_lower(st, lower, len, out);
}

cc_err store_user_get_by_fingerprint(struct store *st,
				     const uint8_t fingerprint[STORE_FINGERPRINT_LEN],
				     struct store_user *out)
{
	if (!out)
		return CC_ERR_INTERNAL;
	memset(out, 0, sizeof *out);
	if (!st || !fingerprint)
		return CC_ERR_INTERNAL;
	return store_user_fetch_by_fingerprint(st, fingerprint, out);
}

cc_err store_user_get_by_id(struct store *st, int64_t id, struct store_user *out)
{
	if (!out)
		return CC_ERR_INTERNAL;
	memset(out, 0, sizeof *out);
	if (!st)
		return CC_ERR_INTERNAL;
	sqlite3_stmt *s = st->stmt[STMT_USER_BY_ID];
	cc_err err = store_bind_check(s, sqlite3_bind_int64(s, 1, id), "bind id");
	if (err) {
		sqlite_util_stmt_done(s);
		return err;
	}
	return store_user_fetch(st, STMT_USER_BY_ID, out);
}

cc_err store_user_touch(struct store *st, int64_t id, uint64_t now_s)
{
	if (!st)
		return CC_ERR_INTERNAL;
	if (now_s > INT64_MAX)
		return CC_ERR_MALFORMED;
	return store_user_set_last_seen(st, id, now_s);
}

void store_user_clear(struct store_user *u)
{
	if (!u)
		return;
	free(u->pubkey);
	memset(u, 0, sizeof *u);
}

/* ---- Signing keys ---------------------------------------------------------- */

cc_err store_user_set_signing_key(struct store *st, int64_t user_id, uint32_t version,
				  const uint8_t pub[STORE_SIGN_PUB_LEN],
				  const uint8_t *cert, size_t cert_len)
{
	if (!st || !pub)
		return CC_ERR_INTERNAL;
	if (version == 0)
		return CC_ERR_MALFORMED;
	cc_err err = store_blob_check(cert, cert_len, STORE_SIGN_CERT_MAX);
	if (!err)
		err = store_write_check(st);
	if (err)
		return err;
	sqlite3_stmt *s = st->stmt[STMT_SIGN_SET];
	err = store_bind_i64(s, 1, user_id);
	if (!err)
		err = store_bind_i64(s, 2, version);
	if (!err)
		err = store_bind_blob(s, 3, pub, STORE_SIGN_PUB_LEN);
	if (!err)
		err = store_bind_blob(s, 4, cert, cert_len);
	err = store_stmt_write_one(st, STMT_SIGN_SET, err, "set signing key");
	if (err == CC_ERR_NOT_FOUND) {
		/* No row changed: no such user, or the key is not newer. */
		struct store_user u;
		err = store_user_get_by_id(st, user_id, &u);
		store_user_clear(&u);
		if (!err)
			err = CC_ERR_OUTDATED;
	}
	return err;
}

cc_err store_user_get_signing_key(struct store *st, int64_t user_id, uint32_t *version,
				  uint8_t pub[STORE_SIGN_PUB_LEN], uint8_t **cert,
				  size_t *cert_len)
{
	if (cert)
		*cert = NULL;
	if (cert_len)
		*cert_len = 0;
	if (version)
		*version = 0;
	if (!st || !pub || !cert || !cert_len || !version)
		return CC_ERR_INTERNAL;
	sqlite3_stmt *s = st->stmt[STMT_SIGN_GET];
	cc_err err = store_bind_i64(s, 1, user_id);
	if (!err)
		err = store_step_row(s, "read signing key");
	if (err)
		goto out;
	if (sqlite3_column_type(s, 0) == SQLITE_NULL && sqlite3_column_type(s, 1) == SQLITE_NULL) {
		err = CC_ERR_NOT_FOUND;
		goto out;
	}
	const uint8_t *p, *c;
	size_t p_len, c_len;
	int64_t v;
	err = store_col_blob(s, 0, STORE_SIGN_PUB_LEN, STORE_SIGN_PUB_LEN, &p, &p_len);
	if (!err)
		err = store_col_blob(s, 1, 1, STORE_SIGN_CERT_MAX, &c, &c_len);
	if (!err && !store_col_int(s, 2, 1, UINT32_MAX, &v))
		err = CC_ERR_STORE;
	if (err == CC_ERR_STORE)
		log_error("store: signing key of user %lld is damaged", (long long)user_id);
	if (!err)
		err = store_blob_dup(c, c_len, cert);
	if (!err) {
		memcpy(pub, p, STORE_SIGN_PUB_LEN);
		*cert_len = c_len;
		*version = (uint32_t)v;
	}
out:
	sqlite_util_stmt_done(s);
	return err;
}

/* ---- Receiving keys ---------------------------------------------------------- */

cc_err store_user_set_receive_key(struct store *st, int64_t user_id, uint32_t version,
				  uint64_t created_ms, const uint8_t pub[STORE_RECV_PUB_LEN],
				  const uint8_t *cert, size_t cert_len)
{
	if (!st || !pub)
		return CC_ERR_INTERNAL;
	if (version == 0 || created_ms > INT64_MAX)
		return CC_ERR_MALFORMED;
	cc_err err = store_blob_check(cert, cert_len, STORE_SIGN_CERT_MAX);
	if (!err)
		err = store_write_check(st);
	if (err)
		return err;
	sqlite3_stmt *s = st->stmt[STMT_RECV_SET];
	err = store_bind_i64(s, 1, user_id);
	if (!err)
		err = store_bind_i64(s, 2, version);
	if (!err)
		err = store_bind_i64(s, 3, (int64_t)created_ms);
	if (!err)
		err = store_bind_blob(s, 4, pub, STORE_RECV_PUB_LEN);
	if (!err)
		err = store_bind_blob(s, 5, cert, cert_len);
	err = store_stmt_write_one(st, STMT_RECV_SET, err, "set receiving key");
	if (err == CC_ERR_NOT_FOUND) {
		/* No row changed: no such user, or the key is not newer. */
		struct store_user u;
		err = store_user_get_by_id(st, user_id, &u);
		store_user_clear(&u);
		if (!err)
			err = CC_ERR_OUTDATED;
	}
	return err;
}

/* Reads a receiving key from columns col (pub), col + 1 (cert), col + 2
 * (version), col + 3 (created): CC_ERR_NOT_FOUND when there is none. */
static cc_err recv_key_read(sqlite3_stmt *s, int col, struct store_recv_key *out)
{
	if (sqlite3_column_type(s, col) == SQLITE_NULL)
		return CC_ERR_NOT_FOUND;
	const uint8_t *p, *c;
	size_t p_len, c_len;
	int64_t v, created;
	cc_err err = store_col_blob(s, col, STORE_RECV_PUB_LEN, STORE_RECV_PUB_LEN, &p, &p_len);
	if (!err)
		err = store_col_blob(s, col + 1, 1, STORE_SIGN_CERT_MAX, &c, &c_len);
	if (!err && (!store_col_int(s, col + 2, 1, UINT32_MAX, &v) ||
		     !store_col_int(s, col + 3, 0, INT64_MAX, &created)))
		err = CC_ERR_STORE;
	if (!err)
		err = store_blob_dup(c, c_len, &out->cert);
	if (err)
		return err;
	memcpy(out->pub, p, STORE_RECV_PUB_LEN);
	out->cert_len = c_len;
	out->version = (uint32_t)v;
	out->created_ms = (uint64_t)created;
	return CC_OK;
}

cc_err store_user_get_receive_key(struct store *st, int64_t user_id, struct store_recv_key *out)
{
	if (out)
		memset(out, 0, sizeof *out);
	if (!st || !out)
		return CC_ERR_INTERNAL;
	sqlite3_stmt *s = st->stmt[STMT_RECV_GET];
	cc_err err = store_bind_i64(s, 1, user_id);
	if (!err)
		err = store_step_row(s, "read receiving key");
	if (!err) {
		err = recv_key_read(s, 0, out);
		if (err == CC_ERR_STORE)
			log_error("store: receiving key of user %lld is damaged", (long long)user_id);
	}
	sqlite_util_stmt_done(s);
	return err;
}

void store_recv_key_clear(struct store_recv_key *k)
{
	if (!k)
		return;
	free(k->cert);
	memset(k, 0, sizeof *k);
}

/* ---- Public keys (registered or retired) ---------------------------------- */

void store_public_key_clear(struct store_public_key *k)
{
	if (!k)
		return;
	free(k->pubkey);
	free(k->sign_cert);
	store_recv_key_clear(&k->recv);
	memset(k, 0, sizeof *k);
}

cc_err store_public_key_get(struct store *st, const uint8_t fingerprint[STORE_FINGERPRINT_LEN],
			    struct store_public_key *out)
{
	const uint8_t *p;
	size_t len;
	int64_t id;

	if (out)
		memset(out, 0, sizeof *out);
	if (!st || !fingerprint || !out)
		return CC_ERR_INTERNAL;
	sqlite3_stmt *s = st->stmt[STMT_PUBLIC_KEY_GET];
	cc_err err = store_bind_check(s, sqlite3_bind_blob(s, 1, fingerprint, STORE_FINGERPRINT_LEN,
							    SQLITE_STATIC),
				      "bind fingerprint");
	if (!err)
		err = store_step_row(s, "read public key");
	if (err)
		goto out;
	size_t nick_len;
	if (!store_col_int(s, 0, 0, INT64_MAX, &id) ||
	    !sqlite_util_col_nick(s, 1, out->nick, &nick_len) ||
	    (err = store_col_blob(s, 2, 1, STORE_PUBKEY_MAX, &p, &len)) ||
	    (err = store_blob_dup(p, len, &out->pubkey))) {
		err = err ? err : CC_ERR_STORE;
		goto out;
	}
	out->user_id = id;
	out->pubkey_len = len;
	memcpy(out->fingerprint, fingerprint, STORE_FINGERPRINT_LEN);
	if (sqlite3_column_type(s, 3) != SQLITE_NULL && sqlite3_column_type(s, 4) != SQLITE_NULL) {
		const uint8_t *c;
		size_t c_len;
		int64_t version;
		if (!store_col_int(s, 5, 1, UINT32_MAX, &version)) {
			err = CC_ERR_STORE;
			goto out;
		}
		if ((err = store_col_blob(s, 3, STORE_SIGN_PUB_LEN, STORE_SIGN_PUB_LEN, &p, &len)) ||
		    (err = store_col_blob(s, 4, 1, STORE_SIGN_CERT_MAX, &c, &c_len)) ||
		    (err = store_blob_dup(c, c_len, &out->sign_cert)))
			goto out;
		memcpy(out->sign_pub, p, STORE_SIGN_PUB_LEN);
		out->sign_cert_len = c_len;
		out->sign_version = (uint32_t)version;
	}
	err = recv_key_read(s, 6, &out->recv);
	if (err == CC_ERR_NOT_FOUND)
		err = CC_OK;
out:
	sqlite_util_stmt_done(s);
	if (err)
		store_public_key_clear(out);
	return err;
}
