/* What the server's store files share: store.c (open, schema, statements,
 * transactions and the helpers below), store_users.c, store_rooms.c,
 * store_messages.c and store_expiry.c. Nothing outside these files includes
 * it: the rest of the server sees only store.h. */
#ifndef CC_STORE_STORE_INTERNAL_H
#define CC_STORE_STORE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/sqlite_util.h"
#include "store/store.h"
#include "util/err.h"

#define STORE_NAME "store"

/* The prepared statements, one per query; their SQL is store_stmt_sql in
 * store.c, prepared once by store_open. */
enum store_stmt_id {
	STMT_BEGIN,
	STMT_DATA_VERSION,
	STMT_COMMIT,
	STMT_ROLLBACK,
	STMT_USER_BY_NICK,
	STMT_USER_BY_FINGERPRINT,
	STMT_USER_BY_ID,
	STMT_USER_INSERT,
	STMT_USER_TOUCH,
	STMT_SIGN_SET,
	STMT_SIGN_GET,
	STMT_RECV_SET,
	STMT_RECV_GET,
	STMT_ROOM_INSERT,
	STMT_ROOM_BY_ROOM_ID,
	STMT_ROOM_BY_ID,
	STMT_ROOM_DELETE,
	STMT_ROOM_SET_ADMIN,
	STMT_ROOM_SET_EPOCH,
	STMT_ROOM_SET_REKEY,
	STMT_ROOM_SET_CLOSED,
	STMT_MEMBER_INSERT,
	STMT_MEMBER_DELETE,
	STMT_MEMBER_GET,
	STMT_MEMBER_SET_READ,
	STMT_MEMBER_ADVANCE_READ,
	STMT_MEMBER_COUNT,
	STMT_MEMBER_EACH,
	STMT_MEMBER_EACH_ROOM_OF,
	STMT_RECORD_INSERT,
	STMT_RECORD_ROOM_UPDATE,
	STMT_RECORD_EACH,
	STMT_EPOCH_PUT,
	STMT_EPOCH_GET,
	STMT_KEY_PUT,
	STMT_KEY_EACH,
	STMT_KEY_FORGET,
	STMT_KEY_PENDING,
	STMT_KEY_PRUNE,
	STMT_MSG_INSERT,
	STMT_MSG_ROOM_BUMP,
	STMT_MSG_EACH,
	STMT_MSG_COUNT_AFTER,
	STMT_MSG_FIND,
	STMT_MSG_PRUNE_AGE,
	STMT_MSG_PRUNE_COUNT,
	STMT_USER_IDLE,
	STMT_EXPIRE_GONE,
	STMT_EXPIRE_OWED,
	STMT_EXPIRE_ROOMS,
	STMT_EXPIRE_ADMIN,
	STMT_EXPIRE_USER,
	STMT_GONE_EACH,
	STMT_GONE_DELETE,
	STMT_ROOM_EACH_OWED,
	STMT_EXPIRE_RETIRE,
	STMT_PUBLIC_KEY_GET,
	STMT_KEY_TAKEN,
	STMT_KEY_REVOKED,
	STMT_MOVE_RETIRE,
	STMT_MOVE_USER,
	STMT_COUNT_
};

struct store {
	sqlite3 *db;
	sqlite3_stmt *stmt[STMT_COUNT_];
	bool secrets_deleted;             /* since the last store_checkpoint */
	int version;
	/* A transaction opened by store_begin is open (store_rollback clears
	 * it even if SQLite already rolled back on its own). */
	bool in_tx;
	/* Bumped by every write that may change a room, a membership or a user
	 * (store_rooms_version): what the server caches about rooms is good
	 * while it is unchanged. */
	uint64_t rooms_version;
	int64_t data_version;  /* PRAGMA data_version when last looked at */
};

/* ---- store.c: statements and transactions ------------------------------- */

/* Shorthands that bind the log name and the statement table. */
cc_err store_stmt_run(struct store *st, enum store_stmt_id id, const char *what);
cc_err store_step_row(sqlite3_stmt *s, const char *what);
cc_err store_bind_check(sqlite3_stmt *s, int rc, const char *what);
cc_err store_tx_begin(struct store *st);
/* Commits if err is CC_OK, else (or if that fails) rolls back. */
cc_err store_tx_end(struct store *st, cc_err err);

cc_err store_bind_i64(sqlite3_stmt *s, int i, int64_t v);
/* Callers check len against its cap first, so the int cast cannot wrap. */
cc_err store_bind_blob(sqlite3_stmt *s, int i, const void *p, size_t len);

/* Steps a statement that returns no rows and resets it; bind_err is the
 * outcome of binding it (on failure the statement is only reset). A
 * duplicate key is CC_ERR_EXISTS and a missing parent row (a foreign key)
 * CC_ERR_NOT_FOUND, both answers rather than failures, so not logged. */
cc_err store_stmt_write(struct store *st, enum store_stmt_id id, cc_err bind_err,
			const char *what);
/* As store_stmt_write, for an UPDATE or DELETE of one row by key: no row
 * changed is CC_ERR_NOT_FOUND. */
cc_err store_stmt_write_one(struct store *st, enum store_stmt_id id, cc_err bind_err,
			    const char *what);
/* Steps a query that returns one integer (a count) and resets it. */
cc_err store_stmt_count(struct store *st, enum store_stmt_id id, cc_err bind_err,
			uint32_t *count);

/* Every write checks this first: if SQLite rolled back the caller's
 * transaction after an error (it does for some, e.g. a full disk), a later
 * write must not quietly commit on its own. */
cc_err store_write_check(struct store *st);
/* For writes of several statements: opens a transaction unless the caller
 * holds one; *own tells store_write_end to close it. */
cc_err store_write_begin(struct store *st, bool *own);
cc_err store_write_end(struct store *st, bool own, cc_err err);

/* A walk's statement is stepped across calls into the caller's callback;
 * the same walk started again from inside it would reset it under itself. */
cc_err store_walk_check(sqlite3_stmt *s);
/* What a walk returns when its callback said stop with rv (non-zero). */
cc_err store_walk_stopped(int rv);

/* The column holds an INTEGER in [min, max]. */
bool store_col_int(sqlite3_stmt *s, int col, int64_t min, int64_t max, int64_t *v);
/* The column holds a BLOB of min..max bytes (min >= 1): CC_OK, CC_ERR_STORE
 * if not, CC_ERR_NOMEM if SQLite could not hand it over. */
cc_err store_col_blob(sqlite3_stmt *s, int col, size_t min, size_t max,
		      const uint8_t **p, size_t *len);
cc_err store_blob_dup(const uint8_t *p, size_t len, uint8_t **out);
/* The blobs the store takes: 1..max bytes. Empty is refused: everything the
 * store keeps is ciphertext or a signature, never empty. */
cc_err store_blob_check(const uint8_t *p, size_t len, size_t max);

/* ---- store_users.c -------------------------------------------------------- */

/* Fills u from the current row of a STORE_USER_COLS query. The schema
 * enforces all of this, but a damaged or hand-edited file must not overflow
 * u or yield an invalid nickname. */
cc_err store_user_read(sqlite3_stmt *s, struct store_user *u);

/* ---- store_rooms.c -------------------------------------------------------- */

/* The member walks: the statement is bound to key, then each row goes to
 * fn. fn may call any store function except the same walk (CC_ERR_STATE)
 * and the transaction functions; rows it writes may or may not show up
 * later in the walk. */
cc_err store_member_walk(struct store *st, enum store_stmt_id id, int64_t key,
			 store_member_fn fn, void *ctx);

#endif
