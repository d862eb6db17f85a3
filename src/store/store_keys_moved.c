/* Identity keys their owners replaced: the user's row takes the new key
 * (nickname, rooms, read marks stay), the old key is retired with the
 * fingerprint of its successor and revoked: it never registers again, and
 * what it signed still verifies. */
#include <string.h>

#include "store/store.h"
#include "store/store_internal.h"
#include "util/log.h"

/* 1 if the fingerprint is a user's key or a retired one, 0 if not; -1 on
 * error. */
static int key_taken(struct store *st, const uint8_t fp[STORE_FINGERPRINT_LEN])
{
	sqlite3_stmt *s = st->stmt[STMT_KEY_TAKEN];
	cc_err err = store_bind_blob(s, 1, fp, STORE_FINGERPRINT_LEN);
	if (!err)
		err = store_step_row(s, "look up a key");
	sqlite_util_stmt_done(s);
	return err == CC_OK ? 1 : err == CC_ERR_NOT_FOUND ? 0 : -1;
}

cc_err store_user_move_key(struct store *st, int64_t user_id, const uint8_t *pubkey,
			   size_t pubkey_len, const uint8_t new_fp[STORE_FINGERPRINT_LEN],
			   uint64_t now_s)
{
	if (!st || !pubkey || !new_fp)
		return CC_ERR_INTERNAL;
	if (pubkey_len == 0 || now_s > INT64_MAX)
		return CC_ERR_MALFORMED;
	if (pubkey_len > STORE_PUBKEY_MAX)
		return CC_ERR_TOO_LARGE;
	/* It commits on its own, as registration does. */
	if (st->in_tx) {
		log_error("store: key move inside a transaction");
		return CC_ERR_STATE;
	}
	cc_err err = store_tx_begin(st);
	if (err)
		return err;
	/* A key already known, even retired, is not a new key. */
	int taken = key_taken(st, new_fp);
	if (taken)
		err = taken > 0 ? CC_ERR_EXISTS : CC_ERR_STORE;
	if (!err) {
		sqlite3_stmt *s = st->stmt[STMT_MOVE_RETIRE];
		cc_err bind = store_bind_i64(s, 1, user_id);
		if (!bind)
			bind = store_bind_i64(s, 2, (int64_t)now_s);
		if (!bind)
			bind = store_bind_blob(s, 3, new_fp, STORE_FINGERPRINT_LEN);
		err = store_stmt_write(st, STMT_MOVE_RETIRE, bind, "retire the old key");
	}
	if (!err && sqlite3_changes(st->db) != 1)
		err = CC_ERR_NOT_FOUND;  /* no such user */
	if (!err) {
		sqlite3_stmt *s = st->stmt[STMT_MOVE_USER];
		cc_err bind = store_bind_i64(s, 1, user_id);
		if (!bind)
			bind = store_bind_blob(s, 2, pubkey, pubkey_len);
		if (!bind)
			bind = store_bind_blob(s, 3, new_fp, STORE_FINGERPRINT_LEN);
		err = store_stmt_write_one(st, STMT_MOVE_USER, bind, "move the user's key");
	}
	return store_tx_end(st, err);
}

cc_err store_key_revoked(struct store *st, const uint8_t fp[STORE_FINGERPRINT_LEN],
			 uint8_t successor[STORE_FINGERPRINT_LEN], bool *has_successor)
{
	const uint8_t *p;
	size_t len;
	if (!st || !fp)
		return CC_ERR_INTERNAL;
	if (has_successor)
		*has_successor = false;
	sqlite3_stmt *s = st->stmt[STMT_KEY_REVOKED];
	cc_err err = store_bind_blob(s, 1, fp, STORE_FINGERPRINT_LEN);
	if (!err)
		err = store_step_row(s, "look up a revoked key");
	if (!err && sqlite3_column_type(s, 0) != SQLITE_NULL) {
		err = store_col_blob(s, 0, STORE_FINGERPRINT_LEN, STORE_FINGERPRINT_LEN, &p, &len);
		if (!err && successor)
			memcpy(successor, p, STORE_FINGERPRINT_LEN);
		if (!err && has_successor)
			*has_successor = true;
	}
	sqlite_util_stmt_done(s);
	return err;
}

/* A user moves at most this many times between two looks at a room: a
 * longer chain of successors is a loop, and refused. */
#define MOVES_MAX 16

cc_err store_user_get_by_key(struct store *st, const uint8_t fp[STORE_FINGERPRINT_LEN],
			     struct store_user *out)
{
	uint8_t at[STORE_FINGERPRINT_LEN];
	if (!st || !fp || !out)
		return CC_ERR_INTERNAL;
	memcpy(at, fp, sizeof at);
	for (int hop = 0; hop <= MOVES_MAX; hop++) {
		cc_err err = store_user_get_by_fingerprint(st, at, out);
		if (err != CC_ERR_NOT_FOUND)
			return err;
		bool moved = false;
		err = store_key_revoked(st, at, at, &moved);
		if (err || !moved)
			return err ? err : CC_ERR_NOT_FOUND;
	}
	return CC_ERR_NOT_FOUND;
}
