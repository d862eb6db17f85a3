#include "store/store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "util/log.h"

/* Schema steps, oldest first: step i takes user_version i to i + 1, in one
 * transaction. Only ever append; a step that has shipped never changes.
 *
 * AUTOINCREMENT so a user id is never reused after a user is deleted (nick
 * expiry): a new user must not inherit an old one's id in anyone's records.
 * STRICT so a column can only hold its declared type. Each step is wrapped
 * in parentheses so clang's -Wstring-concatenation knows the literals joined
 * on purpose (a missing comma would silently merge two steps). */
static const char *const store_migrations[] = {
	/* 1: users */
	("CREATE TABLE users ("
	 " id INTEGER PRIMARY KEY AUTOINCREMENT,"
	 " nick TEXT NOT NULL CHECK(length(nick) BETWEEN 1 AND 32),"
	 " nick_lower TEXT NOT NULL UNIQUE,"
	 " pubkey BLOB NOT NULL CHECK(length(pubkey) > 0),"
	 " fingerprint BLOB NOT NULL UNIQUE CHECK(length(fingerprint) = 32),"
	 " created_s INTEGER NOT NULL CHECK(created_s >= 0),"
	 " last_seen_s INTEGER NOT NULL CHECK(last_seen_s >= 0)"
	 ") STRICT;"),
};

#define STORE_SCHEMA_LATEST ((int)(sizeof store_migrations / sizeof store_migrations[0]))

enum store_stmt_id {
	STMT_BEGIN,
	STMT_COMMIT,
	STMT_ROLLBACK,
	STMT_USER_BY_NICK,
	STMT_USER_BY_FINGERPRINT,
	STMT_USER_BY_ID,
	STMT_USER_INSERT,
	STMT_USER_TOUCH,
	STMT_COUNT_
};

/* Every user query selects these columns in this order (store_user_read). */
#define STORE_USER_COLS "id, nick, pubkey, fingerprint, created_s, last_seen_s"

static const char *const store_stmt_sql[STMT_COUNT_] = {
	[STMT_BEGIN] = "BEGIN IMMEDIATE",
	[STMT_COMMIT] = "COMMIT",
	[STMT_ROLLBACK] = "ROLLBACK",
	[STMT_USER_BY_NICK] = "SELECT " STORE_USER_COLS " FROM users WHERE nick_lower = ?1",
	[STMT_USER_BY_FINGERPRINT] = "SELECT " STORE_USER_COLS " FROM users WHERE fingerprint = ?1",
	[STMT_USER_BY_ID] = "SELECT " STORE_USER_COLS " FROM users WHERE id = ?1",
	[STMT_USER_INSERT] = ("INSERT INTO users(nick, nick_lower, pubkey, fingerprint,"
			      " created_s, last_seen_s) VALUES(?1, ?2, ?3, ?4, ?5, ?5)"),
	[STMT_USER_TOUCH] = "UPDATE users SET last_seen_s = ?2 WHERE id = ?1",
};

struct store {
	sqlite3 *db;
	sqlite3_stmt *stmt[STMT_COUNT_];
	int version;
};

static void store_log_sqlite(sqlite3 *db, const char *what)
{
	log_error("store: %s: %s (code %d)", what, sqlite3_errmsg(db),
		  sqlite3_extended_errcode(db));
}

/* Leaves a statement ready for its next use and drops its bindings, which
 * may point at caller memory (bound with SQLITE_STATIC). */
static void store_stmt_done(sqlite3_stmt *s)
{
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
}

/* Steps a statement that returns no rows, then resets it. */
static cc_err store_stmt_run(struct store *st, enum store_stmt_id id, const char *what)
{
	sqlite3_stmt *s = st->stmt[id];
	int rc = sqlite3_step(s);
	cc_err err = CC_OK;
	if (rc != SQLITE_DONE) {
		store_log_sqlite(st->db, what);
		err = CC_ERR_STORE;
	}
	store_stmt_done(s);
	return err;
}

static cc_err store_bind_check(struct store *st, int rc, const char *what)
{
	if (rc == SQLITE_OK)
		return CC_OK;
	store_log_sqlite(st->db, what);
	return CC_ERR_STORE;
}

static cc_err store_tx_begin(struct store *st)
{
	return store_stmt_run(st, STMT_BEGIN, "begin transaction");
}

static cc_err store_tx_commit(struct store *st)
{
	return store_stmt_run(st, STMT_COMMIT, "commit");
}

static void store_tx_rollback(struct store *st)
{
	/* Some errors already rolled the transaction back. */
	if (sqlite3_get_autocommit(st->db))
		return;
	store_stmt_run(st, STMT_ROLLBACK, "rollback");
}

/* 1 if nick is 1..STORE_NICK_MAX of [A-Za-z0-9_.-]; *len gets its length.
 * Reads at most STORE_NICK_MAX + 1 bytes. */
static int store_nick_valid(const char *nick, size_t *len)
{
	if (!nick)
		return 0;
	size_t n = strnlen(nick, STORE_NICK_MAX + 1);
	if (n < 1 || n > STORE_NICK_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = nick[i];
		int ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
			 (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
		if (!ok)
			return 0;
	}
	*len = n;
	return 1;
}

/* ASCII only, independent of the locale; out has STORE_NICK_MAX + 1 bytes. */
static void store_nick_lower(const char *nick, size_t len, char *out)
{
	for (size_t i = 0; i < len; i++) {
		char c = nick[i];
		out[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
	}
	out[len] = '\0';
}

/* Fills u from the current row of a STORE_USER_COLS query. The schema
 * enforces all of this, but a damaged or hand-edited file must not overflow
 * u or yield an invalid nickname. */
static cc_err store_user_read(sqlite3_stmt *s, struct store_user *u)
{
	int64_t id = sqlite3_column_int64(s, 0);
	if (sqlite3_column_type(s, 0) != SQLITE_INTEGER || sqlite3_column_type(s, 1) != SQLITE_TEXT ||
	    sqlite3_column_type(s, 2) != SQLITE_BLOB || sqlite3_column_type(s, 3) != SQLITE_BLOB ||
	    sqlite3_column_type(s, 4) != SQLITE_INTEGER || sqlite3_column_type(s, 5) != SQLITE_INTEGER)
		goto corrupt;

	const unsigned char *nick = sqlite3_column_text(s, 1);
	int nick_len = sqlite3_column_bytes(s, 1);
	if (!nick || nick_len < 1 || nick_len > STORE_NICK_MAX)
		goto corrupt;
	memcpy(u->nick, nick, (size_t)nick_len);
	u->nick[nick_len] = '\0';
	size_t checked_len;
	if (!store_nick_valid(u->nick, &checked_len) || checked_len != (size_t)nick_len)
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
	cc_err err;
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		err = store_user_read(s, u);
	} else if (rc == SQLITE_DONE) {
		err = CC_ERR_NOT_FOUND;
	} else {
		store_log_sqlite(st->db, "read user");
		err = CC_ERR_STORE;
	}
	store_stmt_done(s);
	if (err)
		store_user_clear(u);
	return err;
}

static cc_err store_user_fetch_by_nick_lower(struct store *st, const char *lower, size_t len,
					     struct store_user *u)
{
	sqlite3_stmt *s = st->stmt[STMT_USER_BY_NICK];
	cc_err err = store_bind_check(st, sqlite3_bind_text(s, 1, lower, (int)len, SQLITE_STATIC),
				      "bind nickname");
	if (err) {
		store_stmt_done(s);
		return err;
	}
	return store_user_fetch(st, STMT_USER_BY_NICK, u);
}

static cc_err store_user_fetch_by_fingerprint(struct store *st, const uint8_t *fp,
					      struct store_user *u)
{
	sqlite3_stmt *s = st->stmt[STMT_USER_BY_FINGERPRINT];
	cc_err err = store_bind_check(st, sqlite3_bind_blob(s, 1, fp, STORE_FINGERPRINT_LEN,
							    SQLITE_STATIC),
				      "bind fingerprint");
	if (err) {
		store_stmt_done(s);
		return err;
	}
	return store_user_fetch(st, STMT_USER_BY_FINGERPRINT, u);
}

static cc_err store_user_set_last_seen(struct store *st, int64_t id, uint64_t now_s)
{
	sqlite3_stmt *s = st->stmt[STMT_USER_TOUCH];
	cc_err err = store_bind_check(st, sqlite3_bind_int64(s, 1, id), "bind id");
	if (!err)
		err = store_bind_check(st, sqlite3_bind_int64(s, 2, (int64_t)now_s), "bind time");
	if (err) {
		store_stmt_done(s);
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
	cc_err err = store_bind_check(st, sqlite3_bind_text(s, 1, nick, (int)len, SQLITE_STATIC),
				      "bind nickname");
	if (!err)
		err = store_bind_check(st, sqlite3_bind_text(s, 2, lower, (int)len, SQLITE_STATIC),
				       "bind nickname");
	if (!err)
		err = store_bind_check(st, sqlite3_bind_blob(s, 3, pubkey, (int)pubkey_len,
							     SQLITE_STATIC),
				       "bind public key");
	if (!err)
		err = store_bind_check(st, sqlite3_bind_blob(s, 4, fp, STORE_FINGERPRINT_LEN,
							     SQLITE_STATIC),
				       "bind fingerprint");
	if (!err)
		err = store_bind_check(st, sqlite3_bind_int64(s, 5, (int64_t)now_s), "bind time");
	if (err) {
		store_stmt_done(s);
		return err;
	}
	err = store_stmt_run(st, STMT_USER_INSERT, "insert user");
	if (!err)
		*id = sqlite3_last_insert_rowid(st->db);
	return err;
}

/* Runs SQL that takes no parameters (pragmas, migrations). */
static cc_err store_exec(sqlite3 *db, const char *sql, const char *what)
{
	char *msg = NULL;
	if (sqlite3_exec(db, sql, NULL, NULL, &msg) == SQLITE_OK)
		return CC_OK;
	log_error("store: %s: %s (code %d)", what, msg ? msg : sqlite3_errmsg(db),
		  sqlite3_extended_errcode(db));
	sqlite3_free(msg);
	return CC_ERR_STORE;
}

/* Runs a one-row pragma and hands back its first column as an integer or
 * copies it as text into text (if not NULL). */
static cc_err store_pragma_query(sqlite3 *db, const char *sql, int *num,
				 char *text, size_t text_max)
{
	sqlite3_stmt *s = NULL;
	cc_err err = CC_OK;
	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK) {
		store_log_sqlite(db, sql);
		return CC_ERR_STORE;
	}
	if (sqlite3_step(s) != SQLITE_ROW) {
		store_log_sqlite(db, sql);
		err = CC_ERR_STORE;
		goto out;
	}
	if (num)
		*num = sqlite3_column_int(s, 0);
	if (text && text_max > 0) {
		const unsigned char *t = sqlite3_column_text(s, 0);
		int n = sqlite3_column_bytes(s, 0);
		if (!t || n < 0 || (size_t)n >= text_max) {
			text[0] = '\0';
		} else {
			memcpy(text, t, (size_t)n);
			text[n] = '\0';
		}
	}
out:
	sqlite3_finalize(s);
	return err;
}

static cc_err store_version_check(int version, const char *path)
{
	if (version >= 0 && version <= STORE_SCHEMA_LATEST)
		return CC_OK;
	if (version < 0)
		log_error("store: %s has an invalid schema version %d; refusing to open it",
			  path, version);
	else
		log_error("store: %s has schema version %d but this program knows only up"
			  " to %d; refusing to open it (use a newer Crypto Cat)",
			  path, version, STORE_SCHEMA_LATEST);
	return CC_ERR_VERSION;
}

/* Applies the missing steps, one transaction each. The version is read again
 * inside each write transaction so two processes opening a new file at once
 * cannot both apply a step. */
static cc_err store_migrate(sqlite3 *db, const char *path, int *version)
{
	for (;;) {
		cc_err err = store_exec(db, "BEGIN IMMEDIATE", "begin migration");
		if (err)
			return err;
		int v = 0;
		err = store_pragma_query(db, "PRAGMA user_version", &v, NULL, 0);
		if (!err)
			err = store_version_check(v, path);
		if (!err && v == STORE_SCHEMA_LATEST) {
			err = store_exec(db, "COMMIT", "end migration");
			if (!err) {
				*version = v;
				return CC_OK;
			}
		}
		if (!err)
			err = store_exec(db, store_migrations[v], "migrate schema");
		if (!err) {
			/* PRAGMA takes no bound parameters; the value is our own integer. */
			char sql[48];
			snprintf(sql, sizeof sql, "PRAGMA user_version = %d", v + 1);
			err = store_exec(db, sql, "set schema version");
		}
		if (!err)
			err = store_exec(db, "COMMIT", "commit migration");
		if (err) {
			if (!sqlite3_get_autocommit(db))
				store_exec(db, "ROLLBACK", "roll back migration");
			return err;
		}
		log_info("store: %s migrated to schema version %d", path, v + 1);
	}
}

/* Creates the file ourselves so it is born 0600: SQLite would apply only the
 * umask, and its -wal and -shm files copy the database file's mode. */
static cc_err store_file_prepare(const char *path)
{
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOCTTY, 0600);
	if (fd < 0) {
		log_error("store: cannot open %s: %s", path, strerror(errno));
		return CC_ERR_STORE;
	}
	cc_err err = CC_OK;
	struct stat sb;
	if (fstat(fd, &sb) != 0) {
		log_error("store: cannot stat %s: %s", path, strerror(errno));
		err = CC_ERR_STORE;
	} else if (!S_ISREG(sb.st_mode)) {
		log_error("store: %s is not a regular file", path);
		err = CC_ERR_STORE;
	} else if ((sb.st_mode & 07777) != 0600) {
		if (sb.st_mode & 077)
			log_warn("store: %s had mode %04o; setting 0600",
				 path, (unsigned)(sb.st_mode & 07777));
		if (fchmod(fd, 0600) != 0) {
			log_error("store: cannot chmod %s: %s", path, strerror(errno));
			err = CC_ERR_STORE;
		}
	}
	close(fd);
	return err;
}

int store_schema_latest(void)
{
	return STORE_SCHEMA_LATEST;
}

cc_err store_open(const char *path, struct store **out)
{
	if (!out)
		return CC_ERR_INTERNAL;
	*out = NULL;
	if (!path || !*path) {
		log_error("store: no database path");
		return CC_ERR_USAGE;
	}
	int in_memory = strcmp(path, ":memory:") == 0;
	if (!in_memory) {
		cc_err err = store_file_prepare(path);
		if (err)
			return err;
	}

	struct store *st = calloc(1, sizeof *st);
	if (!st)
		return CC_ERR_NOMEM;
	cc_err err = CC_OK;
	int rc = sqlite3_open_v2(path, &st->db,
				 SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
				 NULL);
	if (rc != SQLITE_OK) {
		if (st->db)
			store_log_sqlite(st->db, path);
		else
			log_error("store: %s: %s", path, sqlite3_errstr(rc));
		err = rc == SQLITE_NOMEM ? CC_ERR_NOMEM : CC_ERR_STORE;
		goto fail;
	}
	sqlite3_extended_result_codes(st->db, 1);
	/* Refuse writable_schema and other ways to corrupt the file through SQL. */
	sqlite3_db_config(st->db, SQLITE_DBCONFIG_DEFENSIVE, 1, (int *)NULL);
	if (sqlite3_busy_timeout(st->db, 5000) != SQLITE_OK) {
		store_log_sqlite(st->db, "busy timeout");
		err = CC_ERR_STORE;
		goto fail;
	}
	/* FULL: in WAL mode NORMAL may lose the last commits on power loss, and
	 * an acknowledged request must survive. */
	err = store_exec(st->db, "PRAGMA foreign_keys = ON; PRAGMA trusted_schema = OFF;"
			 " PRAGMA synchronous = FULL;", "set pragmas");
	if (err)
		goto fail;

	/* Check the version before anything writes to a file from the future. */
	int version = 0;
	err = store_pragma_query(st->db, "PRAGMA user_version", &version, NULL, 0);
	if (!err)
		err = store_version_check(version, path);
	if (err)
		goto fail;

	char mode[16];
	err = store_pragma_query(st->db, "PRAGMA journal_mode = WAL", NULL, mode, sizeof mode);
	if (err)
		goto fail;
	if (strcmp(mode, "wal") != 0 && !in_memory)
		log_warn("store: %s: journal mode is %s, not wal", path, mode);

	err = store_migrate(st->db, path, &st->version);
	if (err)
		goto fail;

	for (int i = 0; i < STMT_COUNT_; i++) {
		rc = sqlite3_prepare_v3(st->db, store_stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
					&st->stmt[i], NULL);
		if (rc != SQLITE_OK) {
			store_log_sqlite(st->db, "prepare statement");
			err = CC_ERR_STORE;
			goto fail;
		}
	}
	log_info("store: opened %s (schema version %d)", path, st->version);
	*out = st;
	return CC_OK;

fail:
	store_close(st);
	return err;
}

void store_close(struct store *st)
{
	if (!st)
		return;
	for (int i = 0; i < STMT_COUNT_; i++)
		sqlite3_finalize(st->stmt[i]);
	if (st->db && sqlite3_close(st->db) != SQLITE_OK)
		store_log_sqlite(st->db, "close");
	free(st);
}

int store_schema_version(struct store *st)
{
	return st ? st->version : -1;
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
	if (!store_nick_valid(nick, &len))
		return CC_ERR_BAD_NICK;
	if (pubkey_len == 0)
		return CC_ERR_MALFORMED;
	if (pubkey_len > STORE_PUBKEY_MAX)
		return CC_ERR_TOO_LARGE;
	if (now_s > INT64_MAX)
		return CC_ERR_MALFORMED;
	char lower[STORE_NICK_MAX + 1];
	store_nick_lower(nick, len, lower);

	cc_err err = store_tx_begin(st);
	if (err)
		return err;

	err = store_user_fetch_by_fingerprint(st, fingerprint, out);
	if (err == CC_OK) {
		char have[STORE_NICK_MAX + 1];
		store_nick_lower(out->nick, strlen(out->nick), have);
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

	if (err == CC_OK) {
		err = store_tx_commit(st);
		if (err)
			store_tx_rollback(st);
	} else {
		store_tx_rollback(st);
	}
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
	if (!store_nick_valid(nick, &len))
		return CC_ERR_BAD_NICK;
	char lower[STORE_NICK_MAX + 1];
	store_nick_lower(nick, len, lower);
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
	cc_err err = store_bind_check(st, sqlite3_bind_int64(s, 1, id), "bind id");
	if (err) {
		store_stmt_done(s);
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
