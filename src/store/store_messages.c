/* Messages: the hot path (append), a resent message found, delivery walks,
 * counts and retention. */
#include "store/store_internal.h"

#include <string.h>

#include "util/log.h"

/* ---- Messages -------------------------------------------------------------- */

/* Steps the RETURNING update of rooms.last_msg_id: exactly one row. */
static cc_err store_msg_bump_step(struct store *st, sqlite3_stmt *s, int64_t room, int64_t *id)
{
	int rc = sqlite3_step(s);
	if (rc == SQLITE_DONE) {
		/* The insert just found the room, in the same transaction. */
		log_error("store: room %lld vanished while a message was added", (long long)room);
		return CC_ERR_STORE;
	}
	if (rc == SQLITE_ROW) {
		if (!store_col_int(s, 0, 1, INT64_MAX, id)) {
			log_error("store: room %lld: last_msg_id is damaged", (long long)room);
			return CC_ERR_STORE;
		}
		rc = sqlite3_step(s);
		if (rc == SQLITE_DONE)
			return CC_OK;
	}
	sqlite_util_log(STORE_NAME, st->db, "update last message id");
	return CC_ERR_STORE;
}

/* Two statements, prepared once; in its own transaction only if the caller
 * holds none (the server batches many into one: group commit). The sender
 * is not checked against users (see migration 2). CC_ERR_NOT_FOUND if no
 * such room. */
cc_err store_message_append(struct store *st, int64_t room, int64_t sender, uint32_t epoch,
			    uint64_t seq, uint64_t ts_ms, const uint8_t *blob, size_t len,
			    int64_t *msg_id)
{
	if (msg_id)
		*msg_id = 0;
	if (!st)
		return CC_ERR_INTERNAL;
	cc_err err = store_blob_check(blob, len, STORE_BLOB_MAX);
	if (err)
		return err;
	if (ts_ms > INT64_MAX || seq > INT64_MAX)
		return CC_ERR_MALFORMED;
	bool own;
	err = store_write_begin(st, &own);
	if (err)
		return err;

	sqlite3_stmt *s = st->stmt[STMT_MSG_INSERT];
	err = store_bind_i64(s, 1, room);
	if (!err)
		err = store_bind_i64(s, 2, sender);
	if (!err)
		err = store_bind_i64(s, 3, epoch);
	if (!err)
		err = store_bind_i64(s, 4, (int64_t)ts_ms);
	if (!err)
		err = store_bind_blob(s, 5, blob, len);
	if (!err)
		err = store_bind_i64(s, 6, (int64_t)seq);
	err = store_stmt_write(st, STMT_MSG_INSERT, err, "insert message");
	if (!err && sqlite3_changes(st->db) == 0)
		err = CC_ERR_NOT_FOUND;
	/* The unique keys are (room, msg_id), which last_msg_id only moves
	 * forward, and (room, sender, epoch, seq): a copy of a stored message.
	 * The failed insert is undone on its own (the transaction goes on). */
	if (err == CC_ERR_EXISTS)
		err = CC_ERR_REPLAYED;

	int64_t id = 0;
	if (!err) {
		s = st->stmt[STMT_MSG_ROOM_BUMP];
		err = store_bind_i64(s, 1, room);
		if (!err)
			err = store_msg_bump_step(st, s, room, &id);
		sqlite_util_stmt_done(s);
	}
	err = store_write_end(st, own, err);
	if (!err && msg_id)
		*msg_id = id;
	return err;
}

cc_err store_message_find(struct store *st, int64_t room, int64_t sender, uint32_t epoch,
			  uint64_t seq, const uint8_t *blob, size_t len, int64_t *msg_id,
			  uint64_t *ts_ms)
{
	if (!st || !msg_id || !ts_ms)
		return CC_ERR_INTERNAL;
	if (seq > INT64_MAX)
		return CC_ERR_NOT_FOUND;
	sqlite3_stmt *s = st->stmt[STMT_MSG_FIND];
	cc_err err = store_bind_i64(s, 1, room);
	if (!err)
		err = store_bind_i64(s, 2, sender);
	if (!err)
		err = store_bind_i64(s, 3, epoch);
	if (!err)
		err = store_bind_i64(s, 4, (int64_t)seq);
	if (!err)
		err = store_step_row(s, "find message");
	int64_t id, ts;
	const uint8_t *p;
	size_t n;
	if (!err && (!store_col_int(s, 0, 1, INT64_MAX, &id) ||
		     !store_col_int(s, 1, 0, INT64_MAX, &ts)))
		err = CC_ERR_STORE;
	if (!err)
		err = store_col_blob(s, 2, 1, STORE_BLOB_MAX, &p, &n);
	/* Not a secret: the sender has it, and so does every member. */
	if (!err && (n != len || memcmp(p, blob, len) != 0))
		err = CC_ERR_REPLAYED;
	if (!err) {
		*msg_id = id;
		*ts_ms = (uint64_t)ts;
	}
	sqlite_util_stmt_done(s);
	return err;
}

cc_err store_message_each(struct store *st, int64_t room, int64_t after_id, uint32_t limit,
			  store_message_fn fn, void *ctx)
{
	if (!st || !fn)
		return CC_ERR_INTERNAL;
	sqlite3_stmt *s = st->stmt[STMT_MSG_EACH];
	cc_err err = store_walk_check(s);
	if (err)
		return err;
	err = store_bind_i64(s, 1, room);
	if (!err)
		err = store_bind_i64(s, 2, after_id);
	/* A negative LIMIT is no limit. */
	if (!err)
		err = store_bind_i64(s, 3, limit ? (int64_t)limit : -1);
	while (!err) {
		int rc = sqlite3_step(s);
		if (rc == SQLITE_DONE)
			break;
		if (rc != SQLITE_ROW) {
			sqlite_util_log(STORE_NAME, st->db, "walk messages");
			err = CC_ERR_STORE;
			break;
		}
		struct store_message m = {.room = room};
		int64_t epoch, ts, seq;
		if (!store_col_int(s, 0, 1, INT64_MAX, &m.msg_id) ||
		    !store_col_int(s, 1, INT64_MIN, INT64_MAX, &m.sender) ||
		    !store_col_int(s, 2, 0, UINT32_MAX, &epoch) ||
		    !store_col_int(s, 3, 0, INT64_MAX, &ts) ||
		    !store_col_int(s, 5, 0, INT64_MAX, &seq))
			err = CC_ERR_STORE;
		else
			err = store_col_blob(s, 4, 1, STORE_BLOB_MAX, &m.blob, &m.len);
		if (err == CC_ERR_STORE)
			log_error("store: message %lld of room %lld is damaged",
				  (long long)m.msg_id, (long long)room);
		if (!err) {
			m.epoch = (uint32_t)epoch;
			m.ts_ms = (uint64_t)ts;
			m.seq = (uint64_t)seq;
			int rv = fn(ctx, &m);
			if (rv)
				err = store_walk_stopped(rv);
		}
	}
	sqlite_util_stmt_done(s);
	return err;
}

/* Saturates at UINT32_MAX. */
cc_err store_message_count_after(struct store *st, int64_t room, int64_t after_id,
				 uint32_t *count)
{
	if (count)
		*count = 0;
	if (!st || !count)
		return CC_ERR_INTERNAL;
	sqlite3_stmt *s = st->stmt[STMT_MSG_COUNT_AFTER];
	cc_err err = store_bind_i64(s, 1, room);
	if (!err)
		err = store_bind_i64(s, 2, after_id);
	return store_stmt_count(st, STMT_MSG_COUNT_AFTER, err, count);
}

/* Both passes in one transaction (the caller's or our own). Message ids are
 * never reused after a prune: rooms.last_msg_id keeps counting. */
cc_err store_message_prune(struct store *st, uint64_t before_ms, uint32_t max_per_room,
			   uint64_t *deleted)
{
	return store_message_prune_some(st, before_ms, max_per_room, 0, deleted);
}

cc_err store_message_prune_some(struct store *st, uint64_t before_ms, uint32_t max_per_room,
				uint32_t limit, uint64_t *deleted)
{
	int64_t cap = limit ? (int64_t)limit : -1;
	if (deleted)
		*deleted = 0;
	if (!st)
		return CC_ERR_INTERNAL;
	if (before_ms > INT64_MAX)
		return CC_ERR_MALFORMED;
	if (before_ms == 0 && max_per_room == 0)
		return CC_OK;
	bool own;
	cc_err err = store_write_begin(st, &own);
	if (err)
		return err;
	uint64_t n = 0;
	if (before_ms) {
		err = store_bind_i64(st->stmt[STMT_MSG_PRUNE_AGE], 1, (int64_t)before_ms);
		if (!err)
			err = store_bind_i64(st->stmt[STMT_MSG_PRUNE_AGE], 2, cap);
		err = store_stmt_write(st, STMT_MSG_PRUNE_AGE, err, "prune messages by age");
		if (!err)
			n += (uint64_t)sqlite3_changes64(st->db);
	}
	if (!err && max_per_room && (!limit || n < limit)) {
		err = store_bind_i64(st->stmt[STMT_MSG_PRUNE_COUNT], 1, max_per_room);
		if (!err)
			err = store_bind_i64(st->stmt[STMT_MSG_PRUNE_COUNT], 2,
					     limit ? (int64_t)(limit - n) : -1);
		err = store_stmt_write(st, STMT_MSG_PRUNE_COUNT, err, "prune messages by count");
		if (!err)
			n += (uint64_t)sqlite3_changes64(st->db);
	}
	err = store_write_end(st, own, err);
	if (!err && deleted)
		*deleted = n;
	return err;
}
