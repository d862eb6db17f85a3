/* SQLite plumbing shared by the store modules (the server's store and the
 * client's store): opening a database file the one way this project wants it
 * (born 0600, WAL, synchronous=FULL, defensive, untrusted schema), bringing
 * its schema forward with an ordered list of migrations, and the small
 * statement helpers every query uses.
 *
 * Internal to src/store/: only store code may include <sqlite3.h>. */
#ifndef CC_STORE_SQLITE_UTIL_H
#define CC_STORE_SQLITE_UTIL_H

#include <sqlite3.h>

#include "util/err.h"

/* What differs between the databases that share this code. */
struct sqlite_util_schema {
	const char *name;              /* log prefix: "store", "client store" */
	/* Step i takes user_version i to i + 1, in one transaction. Only ever
	 * append; a step that has shipped never changes. */
	const char *const *migrations;
	int latest;                    /* how many steps: the newest version */
};

/* Opens or creates path (":memory:" for a private in-memory database), sets
 * the connection up and migrates the schema forward; *version gets the
 * schema version. A file from a newer program (or with a negative version)
 * is refused with CC_ERR_VERSION before anything writes to it. No path is
 * CC_ERR_USAGE. On failure *db is NULL and nothing is left open. */
cc_err sqlite_util_open(const struct sqlite_util_schema *schema, const char *path,
			sqlite3 **db, int *version);
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
/* Maps a sqlite3_bind_* result: CC_OK, or CC_ERR_STORE (logged). */
cc_err sqlite_util_bind_check(const char *name, sqlite3_stmt *s, int rc, const char *what);
/* Runs SQL that takes no parameters (pragmas, migrations). */
cc_err sqlite_util_exec(const char *name, sqlite3 *db, const char *sql, const char *what);

#endif
