/* Nickname expiry: idle users, expiring one, the rooms' lists of gone
 * members, and the rooms whose admin owes a new epoch. */
#include "store/store_internal.h"

#include <string.h>

#include "util/log.h"

/* ---- Nickname expiry --------------------------------------------------------- */

/* Oldest first, by the (last_seen_s) index. The same rules for fn as
 * store_member_walk; in particular it may expire the user it is handed. */
cc_err store_user_each_idle(struct store *st, uint64_t before_s, store_user_fn fn, void *ctx)
{
	if (!st || !fn)
		return CC_ERR_INTERNAL;
	if (before_s > INT64_MAX)
		return CC_ERR_MALFORMED;
	sqlite3_stmt *s = st->stmt[STMT_USER_IDLE];
	cc_err err = store_walk_check(s);
	if (err)
		return err;
	err = store_bind_i64(s, 1, (int64_t)before_s);
	while (!err) {
		int rc = sqlite3_step(s);
		if (rc == SQLITE_DONE)
			break;
		if (rc != SQLITE_ROW) {
			sqlite_util_log(STORE_NAME, st->db, "walk idle users");
			err = CC_ERR_STORE;
			break;
		}
		struct store_user u = {0};
		err = store_user_read(s, &u);
		if (!err) {
			int rv = fn(ctx, &u);
			if (rv)
				err = store_walk_stopped(rv);
		}
		store_user_clear(&u);
	}
	sqlite_util_stmt_done(s);
	return err;
}

/* Set-based: a handful of statements whatever the number of rooms, none of
 * them a walk, so it may run from inside any walk's callback. Every step is
 * keyed by the user id alone; a constraint failing here is a bug or a
 * damaged file (CC_ERR_STORE, logged), never an answer. CC_ERR_NOT_FOUND
 * (nothing changed) if there is no such user. */
cc_err store_user_expire(struct store *st, int64_t user_id)
{
	static const struct {
		enum store_stmt_id id;
		const char *what;
	} steps[] = {
		{STMT_EXPIRE_RETIRE, "expire user: retire its key"},
		{STMT_EXPIRE_GONE, "expire user: list as gone"},
		{STMT_EXPIRE_OWED, "expire user: mark rekey owed"},
		{STMT_EXPIRE_ROOMS, "expire user: delete emptied rooms"},
		{STMT_EXPIRE_ADMIN, "expire user: hand over admin"},
		{STMT_EXPIRE_USER, "expire user: delete user"},
	};
	if (!st)
		return CC_ERR_INTERNAL;
	/* It commits on its own, as store_user_register does. */
	if (st->in_tx) {
		log_error("store: user expiry inside a transaction");
		return CC_ERR_STATE;
	}
	cc_err err = store_tx_begin(st);
	if (err)
		return err;
	for (size_t i = 0; !err && i < sizeof steps / sizeof steps[0]; i++) {
		sqlite3_stmt *s = st->stmt[steps[i].id];
		err = store_bind_i64(s, 1, user_id);
		if (err)
			sqlite_util_stmt_done(s);
		else
			err = store_stmt_run(st, steps[i].id, steps[i].what);
	}
	/* The last step deleted the user row, or there was none. */
	if (!err && sqlite3_changes(st->db) == 0)
		err = CC_ERR_NOT_FOUND;
	return store_tx_end(st, err);
}

/* Reads a room_gone row (fingerprint, nick) into blob as fingerprint then
 * nickname; blob has STORE_FINGERPRINT_LEN + STORE_NICK_MAX bytes. */
static cc_err store_gone_read(sqlite3_stmt *s, uint8_t *blob, size_t *len)
{
	const uint8_t *fp;
	size_t fp_len, nick_len;
	char nick[STORE_NICK_MAX + 1];
	cc_err err = store_col_blob(s, 0, STORE_FINGERPRINT_LEN, STORE_FINGERPRINT_LEN, &fp,
				    &fp_len);
	if (!err && !sqlite_util_col_nick(s, 1, nick, &nick_len))
		err = CC_ERR_STORE;
	if (err == CC_ERR_STORE)
		log_error("store: a room_gone row is damaged");
	if (err)
		return err;
	memcpy(blob, fp, STORE_FINGERPRINT_LEN);
	memcpy(blob + STORE_FINGERPRINT_LEN, nick, nick_len);
	*len = STORE_FINGERPRINT_LEN + nick_len;
	return CC_OK;
}

/* In the order the members went. The same rules for fn as store_member_walk. */
cc_err store_room_gone_each(struct store *st, int64_t room, store_blob_fn fn, void *ctx)
{
	if (!st || !fn)
		return CC_ERR_INTERNAL;
	sqlite3_stmt *s = st->stmt[STMT_GONE_EACH];
	cc_err err = store_walk_check(s);
	if (err)
		return err;
	err = store_bind_i64(s, 1, room);
	while (!err) {
		int rc = sqlite3_step(s);
		if (rc == SQLITE_DONE)
			break;
		if (rc != SQLITE_ROW) {
			sqlite_util_log(STORE_NAME, st->db, "walk gone members");
			err = CC_ERR_STORE;
			break;
		}
		uint8_t blob[STORE_FINGERPRINT_LEN + STORE_NICK_MAX];
		size_t len;
		err = store_gone_read(s, blob, &len);
		if (!err) {
			int rv = fn(ctx, 0, blob, len);
			if (rv)
				err = store_walk_stopped(rv);
		}
	}
	sqlite_util_stmt_done(s);
	return err;
}

/* CC_ERR_NOT_FOUND if the room does not list this fingerprint as gone. */
cc_err store_room_gone_remove(struct store *st, int64_t room,
			      const uint8_t fingerprint[STORE_FINGERPRINT_LEN])
{
	if (!st || !fingerprint)
		return CC_ERR_INTERNAL;
	cc_err err = store_write_check(st);
	if (err)
		return err;
	sqlite3_stmt *s = st->stmt[STMT_GONE_DELETE];
	err = store_bind_i64(s, 1, room);
	if (!err)
		err = store_bind_blob(s, 2, fingerprint, STORE_FINGERPRINT_LEN);
	return store_stmt_write_one(st, STMT_GONE_DELETE, err, "remove gone member");
}

/* In order of the rooms' row ids. */
cc_err store_room_each_owed(struct store *st, int64_t user, store_member_fn fn, void *ctx)
{
	if (!st || !fn)
		return CC_ERR_INTERNAL;
	return store_member_walk(st, STMT_ROOM_EACH_OWED, user, fn, ctx);
}
