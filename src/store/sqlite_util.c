#include "store/sqlite_util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/log.h"

/* What an operator should do about the faults that are not bugs. */
static const char *sqlite_util_hint(int code)
{
	switch (code & 0xff) {
	case SQLITE_FULL:
		return ": the disk is full; free space (nothing was written)";
	case SQLITE_READONLY:
	case SQLITE_CANTOPEN:
	case SQLITE_PERM:
		return ": the database or its directory cannot be written";
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
		return ": the database file is damaged; restore it from a backup";
	case SQLITE_IOERR:
		return ": an I/O error (disk full, or failing)";
	default:
		return "";
	}
}

void sqlite_util_log(const char *name, sqlite3 *db, const char *what)
{
	int code = sqlite3_extended_errcode(db);
	log_error("%s: %s: %s (code %d)%s", name, what, sqlite3_errmsg(db), code,
		  sqlite_util_hint(code));
}

void sqlite_util_stmt_done(sqlite3_stmt *s)
{
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
}

cc_err sqlite_util_stmt_run(const char *name, sqlite3_stmt *s, const char *what)
{
	int rc = sqlite3_step(s);
	cc_err err = CC_OK;
	if (rc != SQLITE_DONE) {
		sqlite_util_log(name, sqlite3_db_handle(s), what);
		err = CC_ERR_STORE;
	}
	sqlite_util_stmt_done(s);
	return err;
}

cc_err sqlite_util_step_row(const char *name, sqlite3_stmt *s, const char *what)
{
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		return CC_OK;
	if (rc == SQLITE_DONE)
		return CC_ERR_NOT_FOUND;
	sqlite_util_log(name, sqlite3_db_handle(s), what);
	return CC_ERR_STORE;
}

cc_err sqlite_util_bind_check(const char *name, sqlite3_stmt *s, int rc, const char *what)
{
	if (rc == SQLITE_OK)
		return CC_OK;
	sqlite_util_log(name, sqlite3_db_handle(s), what);
	return CC_ERR_STORE;
}

cc_err sqlite_util_exec(const char *name, sqlite3 *db, const char *sql, const char *what)
{
	char *msg = NULL;
	if (sqlite3_exec(db, sql, NULL, NULL, &msg) == SQLITE_OK)
		return CC_OK;
	int code = sqlite3_extended_errcode(db);
	log_error("%s: %s: %s (code %d)%s", name, what, msg ? msg : sqlite3_errmsg(db), code,
		  sqlite_util_hint(code));
	sqlite3_free(msg);
	return CC_ERR_STORE;
}

void sqlite_util_tx_rollback(const char *name, sqlite3_stmt *rollback)
{
	if (sqlite3_get_autocommit(sqlite3_db_handle(rollback)))
		return;
	sqlite_util_stmt_run(name, rollback, "rollback");
}

cc_err sqlite_util_tx_end(const char *name, sqlite3_stmt *commit, sqlite3_stmt *rollback,
			  cc_err err)
{
	if (!err)
		err = sqlite_util_stmt_run(name, commit, "commit");
	if (err)
		sqlite_util_tx_rollback(name, rollback);
	return err;
}

/* Runs a one-row pragma and hands back its first column as an integer or
 * copies it as text into text (if not NULL). */
static cc_err sqlite_util_pragma_query(const char *name, sqlite3 *db, const char *sql,
				       int *num, char *text, size_t text_max)
{
	sqlite3_stmt *s = NULL;
	cc_err err = CC_OK;
	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK) {
		sqlite_util_log(name, db, sql);
		return CC_ERR_STORE;
	}
	if (sqlite3_step(s) != SQLITE_ROW) {
		sqlite_util_log(name, db, sql);
		err = CC_ERR_STORE;
		goto out;
	}
	if (num)
		*num = sqlite3_column_int(s, 0);
	if (text && text_max > 0) {
		const unsigned char *t = sqlite3_column_text(s, 0);
		int n = sqlite3_column_bytes(s, 0);
		/* Cut to fit (a check's report can be long), on one line. */
		size_t len = t && n > 0 ? (size_t)n : 0;
		if (len >= text_max)
			len = text_max - 1;
		for (size_t i = 0; i < len; i++)
			text[i] = t[i] == '\n' ? ' ' : (char)t[i];
		text[len] = '\0';
	}
out:
	sqlite3_finalize(s);
	return err;
}

static cc_err sqlite_util_version_check(const struct sqlite_util_schema *schema, int version,
					const char *path)
{
	if (version >= 0 && version <= schema->latest)
		return CC_OK;
	if (version < 0)
		log_error("%s: %s has an invalid schema version %d; refusing to open it",
			  schema->name, path, version);
	else
		log_error("%s: %s has schema version %d but this program knows only up"
			  " to %d; refusing to open it (use a newer Crypto Cat)",
			  schema->name, path, version, schema->latest);
	return CC_ERR_VERSION;
}

/* Applies the missing steps, one transaction each. The version is read again
 * inside each write transaction so two processes opening a new file at once
 * cannot both apply a step. */
static cc_err sqlite_util_migrate(const struct sqlite_util_schema *schema, sqlite3 *db,
				  const char *path, int *version)
{
	const char *name = schema->name;
	for (;;) {
		cc_err err = sqlite_util_exec(name, db, "BEGIN IMMEDIATE", "begin migration");
		if (err)
			return err;
		int v = 0;
		err = sqlite_util_pragma_query(name, db, "PRAGMA user_version", &v, NULL, 0);
		if (!err)
			err = sqlite_util_version_check(schema, v, path);
		if (!err && v == schema->latest) {
			err = sqlite_util_exec(name, db, "COMMIT", "end migration");
			if (!err) {
				*version = v;
				return CC_OK;
			}
		}
		if (!err)
			err = sqlite_util_exec(name, db, schema->migrations[v], "migrate schema");
		if (!err) {
			/* PRAGMA takes no bound parameters; the value is our own integer. */
			char sql[48];
			snprintf(sql, sizeof sql, "PRAGMA user_version = %d", v + 1);
			err = sqlite_util_exec(name, db, sql, "set schema version");
		}
		if (!err)
			err = sqlite_util_exec(name, db, "COMMIT", "commit migration");
		if (err) {
			if (!sqlite3_get_autocommit(db))
				sqlite_util_exec(name, db, "ROLLBACK", "roll back migration");
			return err;
		}
		log_info("%s: %s migrated to schema version %d", name, path, v + 1);
	}
}

/* Creates the file ourselves so it is born 0600: SQLite would apply only the
 * umask, and its -wal and -shm files copy the database file's mode. */
static cc_err sqlite_util_file_prepare(const char *name, const char *path)
{
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOCTTY, 0600);
	if (fd < 0) {
		log_error("%s: cannot open %s: %s", name, path, strerror(errno));
		return CC_ERR_STORE;
	}
	cc_err err = CC_OK;
	struct stat sb;
	if (fstat(fd, &sb) != 0) {
		log_error("%s: cannot stat %s: %s", name, path, strerror(errno));
		err = CC_ERR_STORE;
	} else if (!S_ISREG(sb.st_mode)) {
		log_error("%s: %s is not a regular file", name, path);
		err = CC_ERR_STORE;
	} else if ((sb.st_mode & 07777) != 0600) {
		if (sb.st_mode & 077)
			log_warn("%s: %s had mode %04o; setting 0600",
				 name, path, (unsigned)(sb.st_mode & 07777));
		if (fchmod(fd, 0600) != 0) {
			log_error("%s: cannot chmod %s: %s", name, path, strerror(errno));
			err = CC_ERR_STORE;
		}
	}
	close(fd);
	return err;
}

cc_err sqlite_util_open(const struct sqlite_util_schema *schema, const char *path,
			sqlite3 **out, int *version)
{
	if (!out)
		return CC_ERR_INTERNAL;
	*out = NULL;
	if (!schema || !version || schema->latest < 0 ||
	    (schema->latest > 0 && !schema->migrations))
		return CC_ERR_INTERNAL;
	const char *name = schema->name;
	if (!path || !*path) {
		log_error("%s: no database path", name);
		return CC_ERR_USAGE;
	}
	int in_memory = strcmp(path, ":memory:") == 0;
	if (!in_memory) {
		cc_err err = sqlite_util_file_prepare(name, path);
		if (err)
			return err;
	}

	sqlite3 *db = NULL;
	cc_err err = CC_OK;
	int rc = sqlite3_open_v2(path, &db,
				 SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
				 NULL);
	if (rc != SQLITE_OK) {
		if (db)
			sqlite_util_log(name, db, path);
		else
			log_error("%s: %s: %s", name, path, sqlite3_errstr(rc));
		err = rc == SQLITE_NOMEM ? CC_ERR_NOMEM : CC_ERR_STORE;
		goto fail;
	}
	sqlite3_extended_result_codes(db, 1);
	/* Refuse writable_schema and other ways to corrupt the file through SQL. */
	sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, (int *)NULL);
	if (sqlite3_busy_timeout(db, 5000) != SQLITE_OK) {
		sqlite_util_log(name, db, "busy timeout");
		err = CC_ERR_STORE;
		goto fail;
	}
	/* FULL: in WAL mode NORMAL may lose the last commits on power loss, and
	 * what a caller was told is stored must survive. */
	/* secure_delete: deleted rows (room secrets, chain keys) are overwritten
	 * with zeros in the file, not just unlinked from the b-tree. */
	err = sqlite_util_exec(name, db, "PRAGMA foreign_keys = ON; PRAGMA trusted_schema = OFF;"
			       " PRAGMA synchronous = FULL; PRAGMA secure_delete = ON;",
			       "set pragmas");
	if (err)
		goto fail;

	/* A damaged file is refused at the start, with a message that says so,
	 * rather than found halfway through some later request. quick_check
	 * reads every page once (not the indexes' agreement with the tables).
	 * Rows that break a CHECK are left to the readers, which refuse each
	 * one alone (CC_ERR_STORE), so that one bad row does not lock a user
	 * out of the whole file. */
	if (!in_memory) {
		char check[160];
		err = sqlite_util_exec(name, db, "PRAGMA ignore_check_constraints = ON",
				       "skip row checks");
		if (!err)
			err = sqlite_util_pragma_query(name, db, "PRAGMA quick_check", NULL, check,
						       sizeof check);
		if (!err)
			err = sqlite_util_exec(name, db, "PRAGMA ignore_check_constraints = OFF",
					       "restore row checks");
		if (!err && strcmp(check, "ok") != 0) {
			log_error("%s: %s is damaged (%s); restore it from a backup", name, path,
				  check);
			err = CC_ERR_STORE;
		}
		if (err)
			goto fail;
	}

	/* Check the version before anything writes to a file from the future. */
	int v = 0;
	err = sqlite_util_pragma_query(name, db, "PRAGMA user_version", &v, NULL, 0);
	if (!err)
		err = sqlite_util_version_check(schema, v, path);
	if (err)
		goto fail;

	char mode[16];
	const char *want = schema->rollback_journal ? "truncate" : "wal";
	err = sqlite_util_pragma_query(name, db,
				       schema->rollback_journal ? "PRAGMA journal_mode = TRUNCATE"
								: "PRAGMA journal_mode = WAL",
				       NULL, mode, sizeof mode);
	if (err)
		goto fail;
	if (strcmp(mode, want) != 0 && !in_memory) {
		/* A rollback journal is asked for secrets' sake: no WAL may keep
		 * their old pages. Refuse rather than run without it. */
		if (schema->rollback_journal) {
			log_error("%s: %s: journal mode is %s, not %s", name, path, mode, want);
			err = CC_ERR_STORE;
			goto fail;
		}
		log_warn("%s: %s: journal mode is %s, not %s", name, path, mode, want);
	}

	err = sqlite_util_migrate(schema, db, path, version);
	if (err)
		goto fail;
	*out = db;
	return CC_OK;

fail:
	sqlite_util_close(name, db);
	return err;
}

cc_err sqlite_util_checkpoint(const char *name, sqlite3 *db)
{
	int rc = sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
	/* BUSY: a reader still holds an old snapshot; the next checkpoint does it. */
	if (rc != SQLITE_OK && rc != SQLITE_BUSY) {
		sqlite_util_log(name, db, "checkpoint");
		return CC_ERR_STORE;
	}
	return CC_OK;
}

void sqlite_util_close(const char *name, sqlite3 *db)
{
	if (db && sqlite3_close(db) != SQLITE_OK)
		sqlite_util_log(name, db, "close");
}

cc_err sqlite_util_prepare_all(const char *name, sqlite3 *db, const char *const *sql,
			       sqlite3_stmt **stmt, int n)
{
	for (int i = 0; i < n; i++)
		stmt[i] = NULL;
	for (int i = 0; i < n; i++) {
		int rc = sqlite3_prepare_v3(db, sql[i], -1, SQLITE_PREPARE_PERSISTENT, &stmt[i],
					    NULL);
		if (rc != SQLITE_OK) {
			sqlite_util_log(name, db, "prepare statement");
			sqlite_util_finalize_all(stmt, n);
			return rc == SQLITE_NOMEM ? CC_ERR_NOMEM : CC_ERR_STORE;
		}
	}
	return CC_OK;
}

void sqlite_util_finalize_all(sqlite3_stmt **stmt, int n)
{
	for (int i = 0; i < n; i++) {
		sqlite3_finalize(stmt[i]);
		stmt[i] = NULL;
	}
}

bool sqlite_util_nick_valid(const char *nick, size_t *len)
{
	if (!nick)
		return false;
	size_t n = strnlen(nick, SQLITE_UTIL_NICK_MAX + 1);
	if (n < 1 || n > SQLITE_UTIL_NICK_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = nick[i];
		bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
			  (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
		if (!ok)
			return false;
	}
	*len = n;
	return true;
}

bool sqlite_util_col_nick(sqlite3_stmt *s, int col, char *out, size_t *len)
{
	if (sqlite3_column_type(s, col) != SQLITE_TEXT)
		return false;
	const unsigned char *t = sqlite3_column_text(s, col);
	int n = sqlite3_column_bytes(s, col);
	if (!t || n < 1 || n > SQLITE_UTIL_NICK_MAX)
		return false;
	memcpy(out, t, (size_t)n);
	out[n] = '\0';
	size_t checked_len;
	if (!sqlite_util_nick_valid(out, &checked_len) || checked_len != (size_t)n)
		return false;
	*len = checked_len;
	return true;
}
