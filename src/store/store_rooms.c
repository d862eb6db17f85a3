/* Rooms and what hangs off them: members, the chain of membership records,
 * epochs and the room keys wrapped per member. */
#include "store/store_internal.h"

#include <string.h>

#include "util/log.h"

/* ---- Rooms ---------------------------------------------------------------- */

static cc_err store_room_read(sqlite3_stmt *s, struct store_room *r)
{
	int64_t id = 0, admin, epoch, count, last_msg, created, rekey, closed;
	const uint8_t *rid, *hash;
	size_t rid_len, hash_len;
	if (!store_col_int(s, 0, INT64_MIN, INT64_MAX, &id) ||
	    !store_col_int(s, 2, INT64_MIN, INT64_MAX, &admin) ||
	    !store_col_int(s, 3, 0, UINT32_MAX, &epoch) ||
	    !store_col_int(s, 4, 0, UINT32_MAX, &count) ||
	    !store_col_int(s, 6, 0, INT64_MAX, &last_msg) ||
	    !store_col_int(s, 7, 0, INT64_MAX, &created) ||
	    !store_col_int(s, 8, 0, 1, &rekey) ||
	    !store_col_int(s, 9, 0, 1, &closed))
		goto corrupt;
	cc_err err = store_col_blob(s, 1, STORE_ROOM_ID_LEN, STORE_ROOM_ID_LEN, &rid, &rid_len);
	if (!err)
		err = store_col_blob(s, 5, STORE_HASH_LEN, STORE_HASH_LEN, &hash, &hash_len);
	if (err == CC_ERR_STORE)
		goto corrupt;
	if (err)
		return err;
	r->id = id;
	memcpy(r->room_id, rid, STORE_ROOM_ID_LEN);
	r->admin_user = admin;
	r->epoch = (uint32_t)epoch;
	r->record_count = (uint32_t)count;
	memcpy(r->last_record_hash, hash, STORE_HASH_LEN);
	r->last_msg_id = last_msg;
	r->created_ms = (uint64_t)created;
	r->rekey_owed = rekey != 0;
	r->closed = closed != 0;
	return CC_OK;

corrupt:
	log_error("store: rooms row %lld is damaged", (long long)id);
	return CC_ERR_STORE;
}

/* Steps a bound room query: CC_OK with r filled, CC_ERR_NOT_FOUND, or an
 * error. Always resets the statement; r is zeroed on failure. */
static cc_err store_room_fetch(struct store *st, enum store_stmt_id id, cc_err bind_err,
			       struct store_room *r)
{
	sqlite3_stmt *s = st->stmt[id];
	cc_err err = bind_err;
	if (!err)
		err = store_step_row(s, "read room");
	if (!err)
		err = store_room_read(s, r);
	sqlite_util_stmt_done(s);
	if (err)
		memset(r, 0, sizeof *r);
	return err;
}

/* CC_ERR_NOT_FOUND also when admin_user is no user. */
cc_err store_room_create(struct store *st, const uint8_t room_id[STORE_ROOM_ID_LEN],
			 int64_t admin_user, uint64_t now_ms, int64_t *out_id)
{
	if (out_id)
		*out_id = 0;
	if (!st || !room_id)
		return CC_ERR_INTERNAL;
	if (now_ms > INT64_MAX)
		return CC_ERR_MALFORMED;
	cc_err err = store_write_check(st);
	if (err)
		return err;
	sqlite3_stmt *s = st->stmt[STMT_ROOM_INSERT];
	err = store_bind_blob(s, 1, room_id, STORE_ROOM_ID_LEN);
	if (!err)
		err = store_bind_i64(s, 2, admin_user);
	if (!err)
		err = store_bind_i64(s, 3, (int64_t)now_ms);
	err = store_stmt_write(st, STMT_ROOM_INSERT, err, "insert room");
	if (!err && out_id)
		*out_id = sqlite3_last_insert_rowid(st->db);
	return err;
}

cc_err store_room_get(struct store *st, const uint8_t room_id[STORE_ROOM_ID_LEN],
		      struct store_room *out)
{
	if (!out)
		return CC_ERR_INTERNAL;
	memset(out, 0, sizeof *out);
	if (!st || !room_id)
		return CC_ERR_INTERNAL;
	sqlite3_stmt *s = st->stmt[STMT_ROOM_BY_ROOM_ID];
	cc_err err = store_bind_blob(s, 1, room_id, STORE_ROOM_ID_LEN);
	return store_room_fetch(st, STMT_ROOM_BY_ROOM_ID, err, out);
}

cc_err store_room_get_by_id(struct store *st, int64_t id, struct store_room *out)
{
	if (!out)
		return CC_ERR_INTERNAL;
	memset(out, 0, sizeof *out);
	if (!st)
		return CC_ERR_INTERNAL;
	sqlite3_stmt *s = st->stmt[STMT_ROOM_BY_ID];
	cc_err err = store_bind_i64(s, 1, id);
	return store_room_fetch(st, STMT_ROOM_BY_ID, err, out);
}

/* The foreign keys cascade to members, records, epochs, keys and messages,
 * all in this one statement. */
cc_err store_room_delete(struct store *st, int64_t room)
{
	if (!st)
		return CC_ERR_INTERNAL;
	cc_err err = store_write_check(st);
	if (err)
		return err;
	err = store_bind_i64(st->stmt[STMT_ROOM_DELETE], 1, room);
	return store_stmt_write_one(st, STMT_ROOM_DELETE, err, "delete room");
}

/* CC_ERR_NOT_FOUND if there is no such room or no such user. */
cc_err store_room_set_admin(struct store *st, int64_t room, int64_t user)
{
	if (!st)
		return CC_ERR_INTERNAL;
	cc_err err = store_write_check(st);
	if (err)
		return err;
	sqlite3_stmt *s = st->stmt[STMT_ROOM_SET_ADMIN];
	err = store_bind_i64(s, 1, room);
	if (!err)
		err = store_bind_i64(s, 2, user);
	return store_stmt_write_one(st, STMT_ROOM_SET_ADMIN, err, "set room admin");
}

cc_err store_room_set_epoch(struct store *st, int64_t room, uint32_t epoch)
{
	if (!st)
		return CC_ERR_INTERNAL;
	cc_err err = store_write_check(st);
	if (err)
		return err;
	sqlite3_stmt *s = st->stmt[STMT_ROOM_SET_EPOCH];
	err = store_bind_i64(s, 1, room);
	if (!err)
		err = store_bind_i64(s, 2, epoch);
	return store_stmt_write_one(st, STMT_ROOM_SET_EPOCH, err, "set room epoch");
}

cc_err store_room_set_rekey_owed(struct store *st, int64_t room, bool owed)
{
	if (!st)
		return CC_ERR_INTERNAL;
	cc_err err = store_write_check(st);
	if (err)
		return err;
	sqlite3_stmt *s = st->stmt[STMT_ROOM_SET_REKEY];
	err = store_bind_i64(s, 1, room);
	if (!err)
		err = store_bind_i64(s, 2, owed ? 1 : 0);
	return store_stmt_write_one(st, STMT_ROOM_SET_REKEY, err, "set rekey owed");
}

cc_err store_room_set_closed(struct store *st, int64_t room, bool closed)
{
	if (!st)
		return CC_ERR_INTERNAL;
	cc_err err = store_write_check(st);
	if (err)
		return err;
	sqlite3_stmt *s = st->stmt[STMT_ROOM_SET_CLOSED];
	err = store_bind_i64(s, 1, room);
	if (!err)
		err = store_bind_i64(s, 2, closed ? 1 : 0);
	return store_stmt_write_one(st, STMT_ROOM_SET_CLOSED, err, "set room closed");
}

/* ---- Members ---------------------------------------------------------------- */

static cc_err store_member_read(sqlite3_stmt *s, struct store_member *m)
{
	int64_t room = 0, user = 0, first, last_read, since;
	if (!store_col_int(s, 0, INT64_MIN, INT64_MAX, &room) ||
	    !store_col_int(s, 1, INT64_MIN, INT64_MAX, &user) ||
	    !store_col_int(s, 2, 0, INT64_MAX, &first) ||
	    !store_col_int(s, 3, 0, INT64_MAX, &last_read) ||
	    !store_col_int(s, 4, 0, UINT32_MAX, &since)) {
		log_error("store: members row (%lld, %lld) is damaged", (long long)room,
			  (long long)user);
		return CC_ERR_STORE;
	}
	m->room = room;
	m->user = user;
	m->first_msg_id = first;
	m->last_read_msg_id = last_read;
	m->since_epoch = (uint32_t)since;
	return CC_OK;
}

/* last_read_msg_id starts just before first_msg_id: nothing delivered yet.
 * CC_ERR_NOT_FOUND if there is no such room or user. */
cc_err store_member_add(struct store *st, int64_t room, int64_t user, int64_t first_msg_id,
			uint32_t since_epoch)
{
	if (!st)
		return CC_ERR_INTERNAL;
	if (first_msg_id < 0)
		return CC_ERR_MALFORMED;
	cc_err err = store_write_check(st);
	if (err)
		return err;
	sqlite3_stmt *s = st->stmt[STMT_MEMBER_INSERT];
	err = store_bind_i64(s, 1, room);
	if (!err)
		err = store_bind_i64(s, 2, user);
	if (!err)
		err = store_bind_i64(s, 3, first_msg_id);
	if (!err)
		err = store_bind_i64(s, 4, since_epoch);
	return store_stmt_write(st, STMT_MEMBER_INSERT, err, "add member");
}

/* The member's wrapped keys stay (they hold nothing it did not already
 * have); they go with the room or the user. */
cc_err store_member_remove(struct store *st, int64_t room, int64_t user)
{
	if (!st)
		return CC_ERR_INTERNAL;
	cc_err err = store_write_check(st);
	if (err)
		return err;
	sqlite3_stmt *s = st->stmt[STMT_MEMBER_DELETE];
	err = store_bind_i64(s, 1, room);
	if (!err)
		err = store_bind_i64(s, 2, user);
	return store_stmt_write_one(st, STMT_MEMBER_DELETE, err, "remove member");
}

cc_err store_member_get(struct store *st, int64_t room, int64_t user, struct store_member *out)
{
	if (!out)
		return CC_ERR_INTERNAL;
	memset(out, 0, sizeof *out);
	if (!st)
		return CC_ERR_INTERNAL;
	sqlite3_stmt *s = st->stmt[STMT_MEMBER_GET];
	cc_err err = store_bind_i64(s, 1, room);
	if (!err)
		err = store_bind_i64(s, 2, user);
	if (!err)
		err = store_step_row(s, "read member");
	if (!err)
		err = store_member_read(s, out);
	sqlite_util_stmt_done(s);
	if (err)
		memset(out, 0, sizeof *out);
	return err;
}

/* Sets the mark as given, even backwards: the server decides. */
/* Binds a member's read mark statement: room, user, msg_id. */
static cc_err member_read_bind(struct store *st, enum store_stmt_id id, int64_t room,
			       int64_t user, int64_t msg_id)
{
	if (!st)
		return CC_ERR_INTERNAL;
	if (msg_id < 0)
		return CC_ERR_MALFORMED;
	cc_err err = store_write_check(st);
	if (err)
		return err;
	sqlite3_stmt *s = st->stmt[id];
	err = store_bind_i64(s, 1, room);
	if (!err)
		err = store_bind_i64(s, 2, user);
	if (!err)
		err = store_bind_i64(s, 3, msg_id);
	if (err)
		sqlite_util_stmt_done(s);
	return err;
}

cc_err store_member_set_read(struct store *st, int64_t room, int64_t user, int64_t msg_id)
{
	cc_err err = member_read_bind(st, STMT_MEMBER_SET_READ, room, user, msg_id);
	if (err)
		return err;
	return store_stmt_write_one(st, STMT_MEMBER_SET_READ, CC_OK, "set last read");
}

cc_err store_member_advance_read(struct store *st, int64_t room, int64_t user, int64_t msg_id)
{
	cc_err err = member_read_bind(st, STMT_MEMBER_ADVANCE_READ, room, user, msg_id);
	if (err)
		return err;
	return store_stmt_write(st, STMT_MEMBER_ADVANCE_READ, CC_OK, "advance last read");
}

/* 0 for a room that does not exist. */
cc_err store_member_count(struct store *st, int64_t room, uint32_t *count)
{
	if (count)
		*count = 0;
	if (!st || !count)
		return CC_ERR_INTERNAL;
	cc_err err = store_bind_i64(st->stmt[STMT_MEMBER_COUNT], 1, room);
	return store_stmt_count(st, STMT_MEMBER_COUNT, err, count);
}

cc_err store_member_walk(struct store *st, enum store_stmt_id id, int64_t key,
			 store_member_fn fn, void *ctx)
{
	sqlite3_stmt *s = st->stmt[id];
	cc_err err = store_walk_check(s);
	if (err)
		return err;
	err = store_bind_i64(s, 1, key);
	while (!err) {
		int rc = sqlite3_step(s);
		if (rc == SQLITE_DONE)
			break;
		if (rc != SQLITE_ROW) {
			sqlite_util_log(STORE_NAME, st->db, "walk members");
			err = CC_ERR_STORE;
			break;
		}
		struct store_member m;
		err = store_member_read(s, &m);
		if (!err) {
			int rv = fn(ctx, &m);
			if (rv)
				err = store_walk_stopped(rv);
		}
	}
	sqlite_util_stmt_done(s);
	return err;
}

cc_err store_member_each(struct store *st, int64_t room, store_member_fn fn, void *ctx)
{
	if (!st || !fn)
		return CC_ERR_INTERNAL;
	return store_member_walk(st, STMT_MEMBER_EACH, room, fn, ctx);
}

/* In order of the rooms' row ids (oldest room first). */
cc_err store_member_each_room_of(struct store *st, int64_t user, store_member_fn fn,
				 void *ctx)
{
	if (!st || !fn)
		return CC_ERR_INTERNAL;
	return store_member_walk(st, STMT_MEMBER_EACH_ROOM_OF, user, fn, ctx);
}

/* ---- Blob walks (records, keys) ------------------------------------------ */

/* Steps a bound query whose rows are (u32 number, blob of 1..max bytes) and
 * hands each to fn; the same rules for fn as store_member_walk. */
static cc_err store_blob_walk(struct store *st, enum store_stmt_id id, cc_err bind_err,
			      size_t max, store_blob_fn fn, void *ctx)
{
	sqlite3_stmt *s = st->stmt[id];
	cc_err err = bind_err;
	while (!err) {
		int rc = sqlite3_step(s);
		if (rc == SQLITE_DONE)
			break;
		if (rc != SQLITE_ROW) {
			sqlite_util_log(STORE_NAME, st->db, "walk");
			err = CC_ERR_STORE;
			break;
		}
		int64_t n = -1;
		const uint8_t *p;
		size_t len;
		if (!store_col_int(s, 0, 0, UINT32_MAX, &n))
			err = CC_ERR_STORE;
		else
			err = store_col_blob(s, 1, 1, max, &p, &len);
		if (err == CC_ERR_STORE)
			log_error("store: row %lld of a record or key walk is damaged",
				  (long long)n);
		if (!err) {
			int rv = fn(ctx, (uint32_t)n, p, len);
			if (rv)
				err = store_walk_stopped(rv);
		}
	}
	sqlite_util_stmt_done(s);
	return err;
}

/* ---- Membership records ----------------------------------------------------- */

/* seq must be the room's record_count: smaller is CC_ERR_EXISTS, larger
 * (a gap in the chain) CC_ERR_STATE; no room is CC_ERR_NOT_FOUND. */
cc_err store_record_append(struct store *st, int64_t room, uint32_t seq,
			   const uint8_t *record, size_t len,
			   const uint8_t hash[STORE_HASH_LEN])
{
	if (!st || !hash)
		return CC_ERR_INTERNAL;
	cc_err err = store_blob_check(record, len, STORE_BLOB_MAX);
	if (err)
		return err;
	/* record_count is a u32 and would not hold seq + 1. */
	if (seq == UINT32_MAX)
		return CC_ERR_LIMIT;
	bool own;
	err = store_write_begin(st, &own);
	if (err)
		return err;

	sqlite3_stmt *s = st->stmt[STMT_RECORD_INSERT];
	err = store_bind_i64(s, 1, room);
	if (!err)
		err = store_bind_i64(s, 2, seq);
	if (!err)
		err = store_bind_blob(s, 3, record, len);
	err = store_stmt_write(st, STMT_RECORD_INSERT, err, "insert record");
	if (!err && sqlite3_changes(st->db) == 0) {
		/* Nothing written yet: find out why. */
		struct store_room r;
		err = store_room_get_by_id(st, room, &r);
		if (!err)
			err = seq < r.record_count ? CC_ERR_EXISTS : CC_ERR_STATE;
	}
	if (!err) {
		s = st->stmt[STMT_RECORD_ROOM_UPDATE];
		err = store_bind_i64(s, 1, room);
		if (!err)
			err = store_bind_i64(s, 2, seq);
		if (!err)
			err = store_bind_blob(s, 3, hash, STORE_HASH_LEN);
		err = store_stmt_write_one(st, STMT_RECORD_ROOM_UPDATE, err, "update record count");
	}
	return store_write_end(st, own, err);
}

cc_err store_record_each(struct store *st, int64_t room, uint32_t from_seq, store_record_fn fn,
			 void *ctx)
{
	if (!st || !fn)
		return CC_ERR_INTERNAL;
	sqlite3_stmt *s = st->stmt[STMT_RECORD_EACH];
	cc_err err = store_walk_check(s);
	if (!err)
		err = store_bind_i64(s, 1, room);
	if (!err)
		err = store_bind_i64(s, 2, from_seq);
	while (!err) {
		int rc = sqlite3_step(s);
		if (rc == SQLITE_DONE)
			break;
		if (rc != SQLITE_ROW) {
			sqlite_util_log(STORE_NAME, st->db, "walk records");
			err = CC_ERR_STORE;
			break;
		}
		int64_t seq = -1, position;
		const uint8_t *p;
		size_t len;
		if (!store_col_int(s, 0, 0, UINT32_MAX, &seq) ||
		    !store_col_int(s, 2, 0, INT64_MAX, &position))
			err = CC_ERR_STORE;
		else
			err = store_col_blob(s, 1, 1, STORE_BLOB_MAX, &p, &len);
		if (err == CC_ERR_STORE)
			log_error("store: record %lld of room %lld is damaged", (long long)seq,
				  (long long)room);
		if (!err) {
			int rv = fn(ctx, (uint32_t)seq, (uint64_t)position, p, len);
			if (rv)
				err = store_walk_stopped(rv);
		}
	}
	sqlite_util_stmt_done(s);
	return err;
}

/* ---- Keys and epochs ---------------------------------------------------------- */

/* Replaces the title if the epoch has one; CC_ERR_NOT_FOUND if no room. */
cc_err store_epoch_put(struct store *st, int64_t room, uint32_t epoch,
		       const uint8_t *title_ct, size_t len, uint64_t opened_ms)
{
	if (!st)
		return CC_ERR_INTERNAL;
	cc_err err = store_blob_check(title_ct, len, STORE_BLOB_MAX);
	if (!err)
		err = store_write_check(st);
	if (err)
		return err;
	sqlite3_stmt *s = st->stmt[STMT_EPOCH_PUT];
	err = store_bind_i64(s, 1, room);
	if (!err)
		err = store_bind_i64(s, 2, epoch);
	if (!err)
		err = store_bind_blob(s, 3, title_ct, len);
	if (!err)
		err = store_bind_i64(s, 4, opened_ms > INT64_MAX ? INT64_MAX : (int64_t)opened_ms);
	return store_stmt_write(st, STMT_EPOCH_PUT, err, "put epoch");
}

cc_err store_epoch_get(struct store *st, int64_t room, uint32_t epoch, uint8_t **title_ct,
		       size_t *len)
{
	if (title_ct)
		*title_ct = NULL;
	if (len)
		*len = 0;
	if (!st || !title_ct || !len)
		return CC_ERR_INTERNAL;
	sqlite3_stmt *s = st->stmt[STMT_EPOCH_GET];
	cc_err err = store_bind_i64(s, 1, room);
	if (!err)
		err = store_bind_i64(s, 2, epoch);
	if (!err)
		err = store_step_row(s, "read epoch");
	const uint8_t *p;
	size_t n;
	if (!err) {
		err = store_col_blob(s, 0, 1, STORE_BLOB_MAX, &p, &n);
		if (err == CC_ERR_STORE)
			log_error("store: epoch %u of room %lld is damaged", epoch,
				  (long long)room);
	}
	if (!err)
		err = store_blob_dup(p, n, title_ct);
	if (!err)
		*len = n;
	sqlite_util_stmt_done(s);
	return err;
}

/* CC_ERR_NOT_FOUND if there is no such room or user. */
cc_err store_key_put(struct store *st, int64_t room, uint32_t epoch, int64_t user,
		     const uint8_t *wrapped, size_t len)
{
	if (!st)
		return CC_ERR_INTERNAL;
	cc_err err = store_blob_check(wrapped, len, STORE_BLOB_MAX);
	if (!err)
		err = store_write_check(st);
	if (err)
		return err;
	sqlite3_stmt *s = st->stmt[STMT_KEY_PUT];
	err = store_bind_i64(s, 1, room);
	if (!err)
		err = store_bind_i64(s, 2, user);
	if (!err)
		err = store_bind_i64(s, 3, epoch);
	if (!err)
		err = store_bind_blob(s, 4, wrapped, len);
	return store_stmt_write(st, STMT_KEY_PUT, err, "put key");
}

cc_err store_key_each(struct store *st, int64_t room, int64_t user, uint32_t min_epoch,
		      store_blob_fn fn, void *ctx)
{
	if (!st || !fn)
		return CC_ERR_INTERNAL;
	sqlite3_stmt *s = st->stmt[STMT_KEY_EACH];
	cc_err err = store_walk_check(s);
	if (err)
		return err;
	err = store_bind_i64(s, 1, room);
	if (!err)
		err = store_bind_i64(s, 2, user);
	if (!err)
		err = store_bind_i64(s, 3, min_epoch);
	return store_blob_walk(st, STMT_KEY_EACH, err, STORE_BLOB_MAX, fn, ctx);
}

cc_err store_key_forget(struct store *st, int64_t room, int64_t user, uint32_t max_epoch)
{
	if (!st)
		return CC_ERR_INTERNAL;
	cc_err err = store_write_check(st);
	if (err)
		return err;
	sqlite3_stmt *s = st->stmt[STMT_KEY_FORGET];
	err = store_bind_i64(s, 1, room);
	if (!err)
		err = store_bind_i64(s, 2, user);
	if (!err)
		err = store_bind_i64(s, 3, max_epoch);
	err = store_stmt_write(st, STMT_KEY_FORGET, err, "forget keys");
	if (!err && sqlite3_changes64(st->db) > 0)
		st->secrets_deleted = true;
	return err;
}

cc_err store_key_pending(struct store *st, int64_t room, int64_t user, uint32_t *count)
{
	if (!st || !count)
		return CC_ERR_INTERNAL;
	sqlite3_stmt *s = st->stmt[STMT_KEY_PENDING];
	cc_err err = store_bind_i64(s, 1, room);
	if (!err)
		err = store_bind_i64(s, 2, user);
	return store_stmt_count(st, STMT_KEY_PENDING, err, count);
}

cc_err store_key_prune_some(struct store *st, uint64_t before_ms, uint32_t limit,
			    uint64_t *deleted)
{
	if (deleted)
		*deleted = 0;
	if (!st)
		return CC_ERR_INTERNAL;
	if (before_ms == 0)
		return CC_OK;
	if (before_ms > INT64_MAX)
		return CC_ERR_MALFORMED;
	cc_err err = store_write_check(st);
	if (err)
		return err;
	sqlite3_stmt *s = st->stmt[STMT_KEY_PRUNE];
	err = store_bind_i64(s, 1, (int64_t)before_ms);
	if (!err)
		err = store_bind_i64(s, 2, limit ? (int64_t)limit : -1);
	err = store_stmt_write(st, STMT_KEY_PRUNE, err, "prune keys");
	if (!err) {
		int64_t n = sqlite3_changes64(st->db);
		if (n > 0)
			st->secrets_deleted = true;
		if (deleted)
			*deleted = (uint64_t)n;
	}
	return err;
}
