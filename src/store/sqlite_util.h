/* SQLite plumbing shared by the store modules (the server's store and the
 * client's store): opening a database file the one way this project wants it
 * (born 0600, WAL, synchronous=FULL, defensive, untrusted schema), bringing
 * its schema forward with an ordered list of migrations, the small
 * statement helpers every query uses, and the nickname rule both stores
 * key rows by.
 *
 * Internal to src/store/: only store code may include <sqlite3.h>. */
#ifndef CC_STORE_SQLITE_UTIL_H
#define CC_STORE_SQLITE_UTIL_H

#include <stdbool.h>
#include <stddef.h>

#include <sqlite3.h>

#include "util/err.h"

/* What differs between the databases that share this code. */
struct sqlite_util_schema {
	const char *name;              /* log prefix: "store", "client store" */
	/* Step i takes user_version i to i + 1, in one transaction. Only ever
	 * append; a step that has shipped never changes. */
	const char *const *migrations;
	int latest;                    /* how many steps: the newest version */
	/* A rollback journal (TRUNCATE) instead of WAL: for a file whose secrets
	 * are overwritten often (the client's chain keys), so that no old copy
	 * of a page lingers in a write-ahead log after the commit. */
	bool rollback_journal;
};

/* Opens or creates path (":memory:" for a private in-memory database), sets
 * the connection up and migrates the schema forward; *version gets the
 * schema version. A file from a newer program (or with a negative version)
 * is refused with CC_ERR_VERSION before anything writes to it. No path is
 * CC_ERR_USAGE. On failure *db is NULL and nothing is left open. */
cc_err sqlite_util_open(const struct sqlite_util_schema *schema, const char *path,
			sqlite3 **db, int *version);
/* Copies the write-ahead log into the database and truncates it to zero
 * bytes (after deletions: no deleted page lingers in the log). */
cc_err sqlite_util_checkpoint(const char *name, sqlite3 *db);
/* Closes db (NULL is fine); finalize its statements first. */
void sqlite_util_close(const char *name, sqlite3 *db);

/* Prepares n persistent statements; on failure finalizes the ones made. */
cc_err sqlite_util_prepare_all(const char *name, sqlite3 *db, const char *const *sql,
			       sqlite3_stmt **stmt, int n);
/* Finalizes n statements (NULL entries are fine) and sets them to NULL. */
void sqlite_util_finalize_all(sqlite3_stmt **stmt, int n);

/* Logs the connection's last error with what was being done. */
void sqlite_util_log(const char *name, sqlite3 *db, const char *what);
/* Leaves a statement ready for its next use and drops its bindings, which
 * may point at caller memory (bound with SQLITE_STATIC). */
void sqlite_util_stmt_done(sqlite3_stmt *s);
/* Steps a statement that returns no rows, then resets it: CC_ERR_STORE
 * (logged) unless it ran to the end. */
cc_err sqlite_util_stmt_run(const char *name, sqlite3_stmt *s, const char *what);
/* Steps a query for its next row: CC_OK with a row to read, CC_ERR_NOT_FOUND
 * if there is none, CC_ERR_STORE (logged) on an error. Does not reset it. */
cc_err sqlite_util_step_row(const char *name, sqlite3_stmt *s, const char *what);
/* Maps a sqlite3_bind_* result: CC_OK, or CC_ERR_STORE (logged). */
cc_err sqlite_util_bind_check(const char *name, sqlite3_stmt *s, int rc, const char *what);
/* Runs SQL that takes no parameters (pragmas, migrations). */
cc_err sqlite_util_exec(const char *name, sqlite3 *db, const char *sql, const char *what);

/* Transactions, through a store's prepared "COMMIT" and "ROLLBACK". Rolls
 * back unless SQLite already did (some errors roll back on their own). */
void sqlite_util_tx_rollback(const char *name, sqlite3_stmt *rollback);
/* Ends a transaction: commits if err is CC_OK; rolls back if it is not or
 * the commit fails. Returns the outcome. */
cc_err sqlite_util_tx_end(const char *name, sqlite3_stmt *commit, sqlite3_stmt *rollback,
			  cc_err err);

/* Nicknames: both stores keep one as given and index a lowercase copy, so
 * that nicknames compare without regard to case. The rule is the
 * protocol's: 1..SQLITE_UTIL_NICK_MAX of [A-Za-z0-9_.-]. */
#define SQLITE_UTIL_NICK_MAX 32
/* True if nick follows the rule; *len gets its length. Reads at most
 * SQLITE_UTIL_NICK_MAX + 1 bytes. */
bool sqlite_util_nick_valid(const char *nick, size_t *len);
/* True if column col of the current row is TEXT holding a nickname that
 * follows the rule (the schema enforces it, but a damaged or hand-edited
 * file must not overflow out or yield an invalid one); it is copied to out
 * (SQLITE_UTIL_NICK_MAX + 1 bytes) with a NUL and *len gets its length. */
bool sqlite_util_col_nick(sqlite3_stmt *s, int col, char *out, size_t *len);

#endif
