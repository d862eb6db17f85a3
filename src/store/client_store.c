#include "store/client_store.h"

#include <stdlib.h>
#include <string.h>

#include "store/sqlite_util.h"
#include "util/buf.h"
#include "util/log.h"

#define CSTORE_NAME "client store"

/* Schema steps, oldest first (see struct sqlite_util_schema). STRICT so a
 * column can only hold its declared type, WITHOUT ROWID where the primary
 * key is the whole lookup. Sequence numbers are u64 in the API but INTEGER
 * (i64) here: values above INT64_MAX are refused before they reach SQL. Each
 * step is parenthesized so clang's -Wstring-concatenation knows the literals
 * joined on purpose. */
static const char *const cstore_migrations[] = {
	/* 1: room keys, replay counters, own sequence numbers, pinned keys */
	("CREATE TABLE room_keys ("
	 " room BLOB NOT NULL CHECK(length(room) = 16),"
	 " epoch INTEGER NOT NULL CHECK(epoch BETWEEN 0 AND 4294967295),"
	 " key BLOB NOT NULL CHECK(length(key) = 32),"
	 " PRIMARY KEY (room, epoch)"
	 ") STRICT, WITHOUT ROWID;"
	 "CREATE TABLE seen ("
	 " room BLOB NOT NULL CHECK(length(room) = 16),"
	 " sender BLOB NOT NULL CHECK(length(sender) = 32),"
	 " last_seq INTEGER NOT NULL CHECK(last_seq >= 0),"
	 " PRIMARY KEY (room, sender)"
	 ") STRICT, WITHOUT ROWID;"
	 "CREATE TABLE own_seq ("
	 " room BLOB NOT NULL PRIMARY KEY CHECK(length(room) = 16),"
	 " next_seq INTEGER NOT NULL CHECK(next_seq >= 1)"
	 ") STRICT, WITHOUT ROWID;"
	 "CREATE TABLE pins ("
	 " nick_lower TEXT NOT NULL PRIMARY KEY CHECK(length(nick_lower) BETWEEN 1 AND 32),"
	 " nick TEXT NOT NULL CHECK(length(nick) BETWEEN 1 AND 32),"
	 " fingerprint BLOB NOT NULL CHECK(length(fingerprint) = 32),"
	 " verified INTEGER NOT NULL CHECK(verified IN (0, 1)),"
	 " first_seen_ms INTEGER NOT NULL CHECK(first_seen_ms >= 0)"
	 ") STRICT, WITHOUT ROWID;"),
};

static const struct sqlite_util_schema cstore_schema = {
	.name = CSTORE_NAME,
	.migrations = cstore_migrations,
	.latest = (int)(sizeof cstore_migrations / sizeof cstore_migrations[0]),
};

enum cstore_stmt_id {
	STMT_BEGIN,
	STMT_COMMIT,
	STMT_ROLLBACK,
	STMT_KEY_PUT,
	STMT_KEY_GET,
	STMT_KEY_FORGET,
	STMT_SEEN_GET,
	STMT_SEEN_PUT,
	STMT_SEEN_FORGET,
	STMT_SEQ_GET,
	STMT_SEQ_SET,
	STMT_SEQ_FORGET,
	STMT_PIN_GET,
	STMT_PIN_PUT,
	STMT_COUNT_
};

static const char *const cstore_stmt_sql[STMT_COUNT_] = {
	[STMT_BEGIN] = "BEGIN IMMEDIATE",
	[STMT_COMMIT] = "COMMIT",
	[STMT_ROLLBACK] = "ROLLBACK",
	[STMT_KEY_PUT] = ("INSERT INTO room_keys(room, epoch, key) VALUES(?1, ?2, ?3)"
			  " ON CONFLICT(room, epoch) DO UPDATE SET key = excluded.key"),
	[STMT_KEY_GET] = "SELECT key FROM room_keys WHERE room = ?1 AND epoch = ?2",
	[STMT_KEY_FORGET] = "DELETE FROM room_keys WHERE room = ?1",
	[STMT_SEEN_GET] = "SELECT last_seq FROM seen WHERE room = ?1 AND sender = ?2",
	/* The WHERE makes "only raises" one atomic statement: no read-then-write
	 * race with another connection. */
	[STMT_SEEN_PUT] = ("INSERT INTO seen(room, sender, last_seq) VALUES(?1, ?2, ?3)"
			   " ON CONFLICT(room, sender) DO UPDATE SET last_seq = excluded.last_seq"
			   " WHERE excluded.last_seq > last_seq"),
	[STMT_SEEN_FORGET] = "DELETE FROM seen WHERE room = ?1",
	[STMT_SEQ_GET] = "SELECT next_seq FROM own_seq WHERE room = ?1",
	[STMT_SEQ_SET] = ("INSERT INTO own_seq(room, next_seq) VALUES(?1, ?2)"
			  " ON CONFLICT(room) DO UPDATE SET next_seq = excluded.next_seq"),
	[STMT_SEQ_FORGET] = "DELETE FROM own_seq WHERE room = ?1",
	[STMT_PIN_GET] = ("SELECT nick, fingerprint, verified, first_seen_ms FROM pins"
			  " WHERE nick_lower = ?1"),
	/* first_seen_ms is when this fingerprint was first seen: a new key
	 * restarts it, marking the same key verified keeps it. */
	[STMT_PIN_PUT] = ("INSERT INTO pins(nick_lower, nick, fingerprint, verified, first_seen_ms)"
			  " VALUES(?1, ?2, ?3, ?4, ?5)"
			  " ON CONFLICT(nick_lower) DO UPDATE SET nick = excluded.nick,"
			  " first_seen_ms = CASE WHEN fingerprint = excluded.fingerprint"
			  " THEN first_seen_ms ELSE excluded.first_seen_ms END,"
			  " fingerprint = excluded.fingerprint, verified = excluded.verified"),
};

struct client_store {
	sqlite3 *db;
	sqlite3_stmt *stmt[STMT_COUNT_];
	int version;
};

/* Shorthands that bind the log name and the statement table. */
static cc_err cstore_run(struct client_store *cs, enum cstore_stmt_id id, const char *what)
{
	return sqlite_util_stmt_run(CSTORE_NAME, cs->stmt[id], what);
}

static cc_err cstore_bind_room(struct client_store *cs, enum cstore_stmt_id id,
			       const uint8_t *room)
{
	sqlite3_stmt *s = cs->stmt[id];
	return sqlite_util_bind_check(CSTORE_NAME, s,
				      sqlite3_bind_blob(s, 1, room, CSTORE_ROOM_ID_LEN,
							SQLITE_STATIC),
				      "bind room");
}

static cc_err cstore_bind_int(struct client_store *cs, enum cstore_stmt_id id, int col,
			      int64_t v, const char *what)
{
	sqlite3_stmt *s = cs->stmt[id];
	return sqlite_util_bind_check(CSTORE_NAME, s, sqlite3_bind_int64(s, col, v), what);
}

static cc_err cstore_bind_blob(struct client_store *cs, enum cstore_stmt_id id, int col,
			       const void *p, int len, const char *what)
{
	sqlite3_stmt *s = cs->stmt[id];
	return sqlite_util_bind_check(CSTORE_NAME, s,
				      sqlite3_bind_blob(s, col, p, len, SQLITE_STATIC), what);
}

static cc_err cstore_tx_begin(struct client_store *cs)
{
	return cstore_run(cs, STMT_BEGIN, "begin transaction");
}

/* Commits on success, rolls back otherwise; returns the outcome. */
static cc_err cstore_tx_end(struct client_store *cs, cc_err err)
{
	return sqlite_util_tx_end(CSTORE_NAME, cs->stmt[STMT_COMMIT], cs->stmt[STMT_ROLLBACK],
				  err);
}

/* Steps a bound query that returns at most one row and reads its first
 * column as an integer in [min, INT64_MAX]: CC_OK, CC_ERR_NOT_FOUND or an
 * error. Always resets the statement. */
static cc_err cstore_fetch_int(struct client_store *cs, enum cstore_stmt_id id, int64_t min,
			       int64_t *v, const char *what)
{
	sqlite3_stmt *s = cs->stmt[id];
	cc_err err = sqlite_util_step_row(CSTORE_NAME, s, what);
	if (!err) {
		int64_t x = sqlite3_column_int64(s, 0);
		if (sqlite3_column_type(s, 0) != SQLITE_INTEGER || x < min) {
			log_error(CSTORE_NAME ": %s: a row is damaged", what);
			err = CC_ERR_STORE;
		} else {
			*v = x;
		}
	}
	sqlite_util_stmt_done(s);
	return err;
}

/* The nickname rule is the server's (sqlite_util). */
_Static_assert(CSTORE_NICK_MAX == SQLITE_UTIL_NICK_MAX, "one nickname rule");

cc_err cstore_open(const char *path, struct client_store **out)
{
	if (!out)
		return CC_ERR_INTERNAL;
	*out = NULL;
	struct client_store *cs = calloc(1, sizeof *cs);
	if (!cs)
		return CC_ERR_NOMEM;
	cc_err err = sqlite_util_open(&cstore_schema, path, &cs->db, &cs->version);
	/* Room keys are secrets: overwrite what a delete (forget, replace)
	 * frees in the file instead of leaving it in free pages. */
	if (!err)
		err = sqlite_util_exec(CSTORE_NAME, cs->db, "PRAGMA secure_delete = ON",
				       "set secure_delete");
	if (!err)
		err = sqlite_util_prepare_all(CSTORE_NAME, cs->db, cstore_stmt_sql, cs->stmt,
					      STMT_COUNT_);
	if (err) {
		cstore_close(cs);
		return err;
	}
	log_info(CSTORE_NAME ": opened %s (schema version %d)", path, cs->version);
	*out = cs;
	return CC_OK;
}

void cstore_close(struct client_store *cs)
{
	if (!cs)
		return;
	sqlite_util_finalize_all(cs->stmt, STMT_COUNT_);
	sqlite_util_close(CSTORE_NAME, cs->db);
	free(cs);
}

/* The key goes straight from the caller's buffer to SQLite (bound STATIC,
 * cleared right after): no copy of it is made here. */
cc_err cstore_key_put(struct client_store *cs, const uint8_t room[CSTORE_ROOM_ID_LEN],
		      uint32_t epoch, const uint8_t key[CSTORE_KEY_LEN])
{
	if (!cs || !room || !key)
		return CC_ERR_INTERNAL;
	cc_err err = cstore_bind_room(cs, STMT_KEY_PUT, room);
	if (!err)
		err = cstore_bind_int(cs, STMT_KEY_PUT, 2, epoch, "bind epoch");
	if (!err)
		err = cstore_bind_blob(cs, STMT_KEY_PUT, 3, key, CSTORE_KEY_LEN, "bind key");
	if (err) {
		sqlite_util_stmt_done(cs->stmt[STMT_KEY_PUT]);
		return err;
	}
	return cstore_run(cs, STMT_KEY_PUT, "store room key");
}

/* Copied from SQLite's row straight into key; key is zeroed on any failure. */
cc_err cstore_key_get(struct client_store *cs, const uint8_t room[CSTORE_ROOM_ID_LEN],
		      uint32_t epoch, uint8_t key[CSTORE_KEY_LEN])
{
	if (!key)
		return CC_ERR_INTERNAL;
	memset(key, 0, CSTORE_KEY_LEN);
	if (!cs || !room)
		return CC_ERR_INTERNAL;
	sqlite3_stmt *s = cs->stmt[STMT_KEY_GET];
	cc_err err = cstore_bind_room(cs, STMT_KEY_GET, room);
	if (!err)
		err = cstore_bind_int(cs, STMT_KEY_GET, 2, epoch, "bind epoch");
	if (err) {
		sqlite_util_stmt_done(s);
		return err;
	}
	err = sqlite_util_step_row(CSTORE_NAME, s, "read room key");
	if (!err) {
		const void *p = sqlite3_column_blob(s, 0);
		if (sqlite3_column_type(s, 0) != SQLITE_BLOB || !p ||
		    sqlite3_column_bytes(s, 0) != CSTORE_KEY_LEN) {
			log_error(CSTORE_NAME ": room_keys row of epoch %u is damaged",
				  (unsigned)epoch);
			err = CC_ERR_STORE;
		} else {
			memcpy(key, p, CSTORE_KEY_LEN);
		}
	}
	sqlite_util_stmt_done(s);
	return err;
}

cc_err cstore_room_forget(struct client_store *cs, const uint8_t room[CSTORE_ROOM_ID_LEN])
{
	if (!cs || !room)
		return CC_ERR_INTERNAL;
	static const enum cstore_stmt_id steps[] = {STMT_KEY_FORGET, STMT_SEEN_FORGET,
						    STMT_SEQ_FORGET};
	/* All or nothing: half a forget could leave keys of a room we left. */
	cc_err err = cstore_tx_begin(cs);
	if (err)
		return err;
	for (size_t i = 0; !err && i < sizeof steps / sizeof steps[0]; i++) {
		err = cstore_bind_room(cs, steps[i], room);
		if (err)
			sqlite_util_stmt_done(cs->stmt[steps[i]]);
		else
			err = cstore_run(cs, steps[i], "forget room");
	}
	return cstore_tx_end(cs, err);
}

cc_err cstore_seen_get(struct client_store *cs, const uint8_t room[CSTORE_ROOM_ID_LEN],
		       const uint8_t sender_fp[CSTORE_FP_LEN], uint64_t *last_seq)
{
	if (!last_seq)
		return CC_ERR_INTERNAL;
	*last_seq = 0;
	if (!cs || !room || !sender_fp)
		return CC_ERR_INTERNAL;
	cc_err err = cstore_bind_room(cs, STMT_SEEN_GET, room);
	if (!err)
		err = cstore_bind_blob(cs, STMT_SEEN_GET, 2, sender_fp, CSTORE_FP_LEN,
				       "bind sender");
	if (err) {
		sqlite_util_stmt_done(cs->stmt[STMT_SEEN_GET]);
		return err;
	}
	int64_t v = 0;
	err = cstore_fetch_int(cs, STMT_SEEN_GET, 0, &v, "read seen");
	if (err == CC_ERR_NOT_FOUND)
		return CC_OK;
	if (!err)
		*last_seq = (uint64_t)v;
	return err;
}

cc_err cstore_seen_put(struct client_store *cs, const uint8_t room[CSTORE_ROOM_ID_LEN],
		       const uint8_t sender_fp[CSTORE_FP_LEN], uint64_t last_seq)
{
	if (!cs || !room || !sender_fp)
		return CC_ERR_INTERNAL;
	/* No honest sender gets there (its numbers count up from 1). */
	if (last_seq > INT64_MAX)
		return CC_ERR_MALFORMED;
	cc_err err = cstore_bind_room(cs, STMT_SEEN_PUT, room);
	if (!err)
		err = cstore_bind_blob(cs, STMT_SEEN_PUT, 2, sender_fp, CSTORE_FP_LEN,
				       "bind sender");
	if (!err)
		err = cstore_bind_int(cs, STMT_SEEN_PUT, 3, (int64_t)last_seq, "bind sequence");
	if (err) {
		sqlite_util_stmt_done(cs->stmt[STMT_SEEN_PUT]);
		return err;
	}
	return cstore_run(cs, STMT_SEEN_PUT, "store seen");
}

cc_err cstore_seen_put_message(struct client_store *cs, const uint8_t room[CSTORE_ROOM_ID_LEN],
			       const uint8_t sender_fp[CSTORE_FP_LEN], uint64_t seq,
			       uint64_t msg_id)
{
	static const uint8_t room_last_id[CSTORE_FP_LEN];
	if (!cs)
		return CC_ERR_INTERNAL;
	cc_err err = cstore_tx_begin(cs);
	if (err)
		return err;
	err = cstore_seen_put(cs, room, sender_fp, seq);
	if (!err)
		err = cstore_seen_put(cs, room, room_last_id, msg_id);
	return cstore_tx_end(cs, err);
}

/* BEGIN IMMEDIATE takes the write lock before the read, so two connections
 * cannot both read the same number; COMMIT under synchronous=FULL has
 * reached the disk before the number is handed out. */
cc_err cstore_seq_next(struct client_store *cs, const uint8_t room[CSTORE_ROOM_ID_LEN],
		       uint64_t *seq)
{
	if (!seq)
		return CC_ERR_INTERNAL;
	*seq = 0;
	if (!cs || !room)
		return CC_ERR_INTERNAL;
	cc_err err = cstore_tx_begin(cs);
	if (err)
		return err;
	int64_t next = 1;
	err = cstore_bind_room(cs, STMT_SEQ_GET, room);
	if (err)
		sqlite_util_stmt_done(cs->stmt[STMT_SEQ_GET]);
	else
		err = cstore_fetch_int(cs, STMT_SEQ_GET, 1, &next, "read sequence");
	if (err == CC_ERR_NOT_FOUND) {
		next = 1;
		err = CC_OK;
	}
	if (!err && next == INT64_MAX) {
		log_error(CSTORE_NAME ": sequence numbers of a room are used up");
		err = CC_ERR_LIMIT;
	}
	if (!err) {
		err = cstore_bind_room(cs, STMT_SEQ_SET, room);
		if (!err)
			err = cstore_bind_int(cs, STMT_SEQ_SET, 2, next + 1, "bind sequence");
		if (err)
			sqlite_util_stmt_done(cs->stmt[STMT_SEQ_SET]);
		else
			err = cstore_run(cs, STMT_SEQ_SET, "store sequence");
	}
	err = cstore_tx_end(cs, err);
	if (!err)
		*seq = (uint64_t)next;
	return err;
}

cc_err cstore_pin_get(struct client_store *cs, const char *nick, struct cstore_pin *out)
{
	if (!out)
		return CC_ERR_INTERNAL;
	memset(out, 0, sizeof *out);
	if (!cs)
		return CC_ERR_INTERNAL;
	size_t len;
	if (!sqlite_util_nick_valid(nick, &len))
		return CC_ERR_BAD_NICK;
	char lower[CSTORE_NICK_MAX + 1];
	sqlite_util_nick_lower(nick, len, lower);

	sqlite3_stmt *s = cs->stmt[STMT_PIN_GET];
	cc_err err = sqlite_util_bind_check(CSTORE_NAME, s,
					    sqlite3_bind_text(s, 1, lower, (int)len,
							      SQLITE_STATIC),
					    "bind nickname");
	if (err) {
		sqlite_util_stmt_done(s);
		return err;
	}
	err = sqlite_util_step_row(CSTORE_NAME, s, "read pin");
	if (!err) {
		/* The schema enforces all of this, but a damaged or hand-edited
		 * file must not overflow out or yield another user's pin. */
		err = CC_ERR_STORE;
		const void *fp = sqlite3_column_blob(s, 1);
		int fp_len = sqlite3_column_bytes(s, 1);
		int64_t verified = sqlite3_column_int64(s, 2);
		int64_t first_seen = sqlite3_column_int64(s, 3);
		size_t n_len;
		char have[CSTORE_NICK_MAX + 1];
		if (sqlite3_column_type(s, 1) == SQLITE_BLOB &&
		    sqlite3_column_type(s, 2) == SQLITE_INTEGER &&
		    sqlite3_column_type(s, 3) == SQLITE_INTEGER &&
		    fp && fp_len == CSTORE_FP_LEN && (verified == 0 || verified == 1) &&
		    first_seen >= 0 && sqlite_util_col_nick(s, 0, out->nick, &n_len)) {
			sqlite_util_nick_lower(out->nick, n_len, have);
			if (strcmp(have, lower) == 0)
				err = CC_OK;
		}
		if (err) {
			log_error(CSTORE_NAME ": pins row is damaged");
		} else {
			memcpy(out->fp, fp, CSTORE_FP_LEN);
			out->verified = (int)verified;
			out->first_seen_ms = (uint64_t)first_seen;
		}
	}
	sqlite_util_stmt_done(s);
	if (err)
		memset(out, 0, sizeof *out);
	return err;
}

cc_err cstore_pin_put(struct client_store *cs, const char *nick,
		      const uint8_t fp[CSTORE_FP_LEN], int verified, uint64_t now_ms)
{
	if (!cs || !fp)
		return CC_ERR_INTERNAL;
	size_t len;
	if (!sqlite_util_nick_valid(nick, &len))
		return CC_ERR_BAD_NICK;
	if (now_ms > INT64_MAX)
		return CC_ERR_MALFORMED;
	char lower[CSTORE_NICK_MAX + 1];
	sqlite_util_nick_lower(nick, len, lower);

	sqlite3_stmt *s = cs->stmt[STMT_PIN_PUT];
	cc_err err = sqlite_util_bind_check(CSTORE_NAME, s,
					    sqlite3_bind_text(s, 1, lower, (int)len,
							      SQLITE_STATIC),
					    "bind nickname");
	if (!err)
		err = sqlite_util_bind_check(CSTORE_NAME, s,
					     sqlite3_bind_text(s, 2, nick, (int)len,
							       SQLITE_STATIC),
					     "bind nickname");
	if (!err)
		err = cstore_bind_blob(cs, STMT_PIN_PUT, 3, fp, CSTORE_FP_LEN, "bind fingerprint");
	if (!err)
		err = cstore_bind_int(cs, STMT_PIN_PUT, 4, verified ? 1 : 0, "bind verified");
	if (!err)
		err = cstore_bind_int(cs, STMT_PIN_PUT, 5, (int64_t)now_ms, "bind time");
	if (err) {
		sqlite_util_stmt_done(s);
		return err;
	}
	return cstore_run(cs, STMT_PIN_PUT, "store pin");
}
