#include "store/store.h"

#include <stdlib.h>
#include <string.h>

#include "store/sqlite_util.h"
#include "util/log.h"

#define STORE_NAME "store"

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
	/* 2: signing keys, rooms, members, records, epochs, keys, messages.
	 *
	 * Sizes fixed by the protocol (ids, hashes, keys) are CHECKed here; caps
	 * that may grow (STORE_BLOB_MAX, STORE_SIGN_CERT_MAX) only in the code, so
	 * raising one needs no table rebuild. Numbers are literals, not macros: a
	 * shipped step must never change.
	 *
	 * Foreign keys: a room's rows go with the room (CASCADE); a user's
	 * memberships and wrapped keys go with the user. rooms.admin_user has no
	 * action: deleting a user who still administers a room fails, so the
	 * admin role must be handed over (or the room deleted) first.
	 * messages.sender has no foreign key on purpose: a message outlives its
	 * sender (nickname expiry deletes users), and the hot path checks less.
	 *
	 * members.id orders members by joining. messages.id is an internal rowid:
	 * message rows are mostly over 200 bytes, too large for WITHOUT ROWID. */
	("ALTER TABLE users ADD COLUMN sign_pub BLOB"
	 " CHECK(sign_pub IS NULL OR length(sign_pub) = 32);"
	 "ALTER TABLE users ADD COLUMN sign_cert BLOB"
	 " CHECK((sign_cert IS NULL) = (sign_pub IS NULL)"
	 " AND (sign_cert IS NULL OR length(sign_cert) > 0));"
	 "CREATE TABLE rooms ("
	 " id INTEGER PRIMARY KEY AUTOINCREMENT,"
	 " room_id BLOB NOT NULL UNIQUE CHECK(length(room_id) = 16),"
	 " admin_user INTEGER NOT NULL REFERENCES users(id),"
	 " epoch INTEGER NOT NULL DEFAULT 0 CHECK(epoch BETWEEN 0 AND 4294967295),"
	 " record_count INTEGER NOT NULL DEFAULT 0"
	 "  CHECK(record_count BETWEEN 0 AND 4294967295),"
	 " last_record_hash BLOB NOT NULL DEFAULT (zeroblob(32))"
	 "  CHECK(length(last_record_hash) = 32),"
	 " last_msg_id INTEGER NOT NULL DEFAULT 0 CHECK(last_msg_id >= 0),"
	 " created_ms INTEGER NOT NULL CHECK(created_ms >= 0),"
	 " rekey_owed INTEGER NOT NULL DEFAULT 0 CHECK(rekey_owed IN (0, 1))"
	 ") STRICT;"
	 "CREATE INDEX rooms_by_admin ON rooms(admin_user);"
	 "CREATE TABLE members ("
	 " id INTEGER PRIMARY KEY,"
	 " room INTEGER NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,"
	 " user INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
	 " first_msg_id INTEGER NOT NULL CHECK(first_msg_id >= 0),"
	 " last_read_msg_id INTEGER NOT NULL CHECK(last_read_msg_id >= 0),"
	 " since_epoch INTEGER NOT NULL CHECK(since_epoch BETWEEN 0 AND 4294967295),"
	 " UNIQUE(room, user)"
	 ") STRICT;"
	 "CREATE INDEX members_by_user ON members(user, room);"
	 "CREATE TABLE records ("
	 " room INTEGER NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,"
	 " seq INTEGER NOT NULL CHECK(seq BETWEEN 0 AND 4294967294),"
	 " record BLOB NOT NULL CHECK(length(record) > 0),"
	 " PRIMARY KEY(room, seq)"
	 ") STRICT;"
	 "CREATE TABLE epochs ("
	 " room INTEGER NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,"
	 " epoch INTEGER NOT NULL CHECK(epoch BETWEEN 0 AND 4294967295),"
	 " title_ct BLOB NOT NULL CHECK(length(title_ct) > 0),"
	 " PRIMARY KEY(room, epoch)"
	 ") STRICT;"
	 "CREATE TABLE room_keys ("
	 " room INTEGER NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,"
	 " user INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
	 " epoch INTEGER NOT NULL CHECK(epoch BETWEEN 0 AND 4294967295),"
	 " wrapped BLOB NOT NULL CHECK(length(wrapped) > 0),"
	 " PRIMARY KEY(room, user, epoch)"
	 ") STRICT;"
	 "CREATE INDEX room_keys_by_user ON room_keys(user);"
	 "CREATE TABLE messages ("
	 " id INTEGER PRIMARY KEY,"
	 " room INTEGER NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,"
	 " msg_id INTEGER NOT NULL CHECK(msg_id >= 1),"
	 " sender INTEGER NOT NULL,"
	 " epoch INTEGER NOT NULL CHECK(epoch BETWEEN 0 AND 4294967295),"
	 " ts_ms INTEGER NOT NULL CHECK(ts_ms >= 0),"
	 " blob BLOB NOT NULL CHECK(length(blob) > 0),"
	 " UNIQUE(room, msg_id)"
	 ") STRICT;"
	 "CREATE INDEX messages_by_ts ON messages(ts_ms);"),
	/* 3: nickname expiry. room_gone lists the members a room lost to expiry
	 * (user rows are deleted, so it keeps their fingerprint and nickname)
	 * until the admin signs their removal; it goes with the room. The index
	 * serves the idle-user scan. */
	("CREATE TABLE room_gone ("
	 " room INTEGER NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,"
	 " fingerprint BLOB NOT NULL CHECK(length(fingerprint) = 32),"
	 " nick TEXT NOT NULL CHECK(length(nick) BETWEEN 1 AND 32),"
	 " PRIMARY KEY(room, fingerprint)"
	 ") STRICT;"
	 "CREATE INDEX users_by_last_seen ON users(last_seen_s);"),
	/* 4: keys of expired users. Their nickname is free again, but the
	 * records and messages they signed stay in their rooms' history, and
	 * members must still verify them: the public half stays here. */
	("CREATE TABLE keys_retired ("
	 " fingerprint BLOB PRIMARY KEY CHECK(length(fingerprint) = 32),"
	 " nick TEXT NOT NULL CHECK(length(nick) BETWEEN 1 AND 32),"
	 " pubkey BLOB NOT NULL CHECK(length(pubkey) > 0),"
	 " sign_pub BLOB CHECK(sign_pub IS NULL OR length(sign_pub) = 32),"
	 " sign_cert BLOB,"
	 " retired_s INTEGER NOT NULL CHECK(retired_s >= 0)"
	 ") STRICT;"),
};

#define STORE_SCHEMA_LATEST ((int)(sizeof store_migrations / sizeof store_migrations[0]))

static const struct sqlite_util_schema store_schema = {
	.name = STORE_NAME,
	.migrations = store_migrations,
	.latest = STORE_SCHEMA_LATEST,
};

enum store_stmt_id {
	STMT_BEGIN,
	STMT_COMMIT,
	STMT_ROLLBACK,
	STMT_USER_BY_NICK,
	STMT_USER_BY_FINGERPRINT,
	STMT_USER_BY_ID,
	STMT_USER_INSERT,
	STMT_USER_TOUCH,
	STMT_SIGN_SET,
	STMT_SIGN_GET,
	STMT_ROOM_INSERT,
	STMT_ROOM_BY_ROOM_ID,
	STMT_ROOM_BY_ID,
	STMT_ROOM_DELETE,
	STMT_ROOM_SET_ADMIN,
	STMT_ROOM_SET_EPOCH,
	STMT_ROOM_SET_REKEY,
	STMT_MEMBER_INSERT,
	STMT_MEMBER_DELETE,
	STMT_MEMBER_GET,
	STMT_MEMBER_SET_READ,
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
	STMT_MSG_INSERT,
	STMT_MSG_ROOM_BUMP,
	STMT_MSG_EACH,
	STMT_MSG_COUNT_AFTER,
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
	STMT_COUNT_
};

/* Every user query selects these columns in this order (store_user_read). */
#define STORE_USER_COLS "id, nick, pubkey, fingerprint, created_s, last_seen_s"
/* And every room query these (store_room_read), every member query these
 * (store_member_read). */
#define STORE_ROOM_COLS \
	"id, room_id, admin_user, epoch, record_count, last_record_hash, last_msg_id," \
	" created_ms, rekey_owed"
#define STORE_MEMBER_COLS "room, user, first_msg_id, last_read_msg_id, since_epoch"

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
	[STMT_SIGN_SET] = "UPDATE users SET sign_pub = ?2, sign_cert = ?3 WHERE id = ?1",
	[STMT_SIGN_GET] = "SELECT sign_pub, sign_cert FROM users WHERE id = ?1",
	[STMT_ROOM_INSERT] = ("INSERT INTO rooms(room_id, admin_user, created_ms)"
			      " VALUES(?1, ?2, ?3)"),
	[STMT_ROOM_BY_ROOM_ID] = "SELECT " STORE_ROOM_COLS " FROM rooms WHERE room_id = ?1",
	[STMT_ROOM_BY_ID] = "SELECT " STORE_ROOM_COLS " FROM rooms WHERE id = ?1",
	[STMT_ROOM_DELETE] = "DELETE FROM rooms WHERE id = ?1",
	[STMT_ROOM_SET_ADMIN] = "UPDATE rooms SET admin_user = ?2 WHERE id = ?1",
	[STMT_ROOM_SET_EPOCH] = "UPDATE rooms SET epoch = ?2 WHERE id = ?1",
	[STMT_ROOM_SET_REKEY] = "UPDATE rooms SET rekey_owed = ?2 WHERE id = ?1",
	[STMT_MEMBER_INSERT] = ("INSERT INTO members(room, user, first_msg_id, last_read_msg_id,"
				" since_epoch) VALUES(?1, ?2, ?3, max(?3 - 1, 0), ?4)"),
	[STMT_MEMBER_DELETE] = "DELETE FROM members WHERE room = ?1 AND user = ?2",
	[STMT_MEMBER_GET] = ("SELECT " STORE_MEMBER_COLS " FROM members"
			     " WHERE room = ?1 AND user = ?2"),
	[STMT_MEMBER_SET_READ] = ("UPDATE members SET last_read_msg_id = ?3"
				  " WHERE room = ?1 AND user = ?2"),
	[STMT_MEMBER_COUNT] = "SELECT count(*) FROM members WHERE room = ?1",
	[STMT_MEMBER_EACH] = ("SELECT " STORE_MEMBER_COLS " FROM members"
			      " WHERE room = ?1 ORDER BY id"),
	[STMT_MEMBER_EACH_ROOM_OF] = ("SELECT " STORE_MEMBER_COLS " FROM members"
				      " WHERE user = ?1 ORDER BY room"),
	/* Inserts only when seq is the room's next record number: a chain has
	 * no gaps. No row inserted: no room, or seq taken or too far ahead. */
	[STMT_RECORD_INSERT] = ("INSERT INTO records(room, seq, record)"
				" SELECT id, ?2, ?3 FROM rooms WHERE id = ?1 AND record_count = ?2"),
	[STMT_RECORD_ROOM_UPDATE] = ("UPDATE rooms SET record_count = ?2 + 1,"
				     " last_record_hash = ?3 WHERE id = ?1"),
	[STMT_RECORD_EACH] = "SELECT seq, record FROM records WHERE room = ?1 ORDER BY seq",
	[STMT_EPOCH_PUT] = ("INSERT INTO epochs(room, epoch, title_ct) VALUES(?1, ?2, ?3)"
			    " ON CONFLICT(room, epoch) DO UPDATE SET title_ct = excluded.title_ct"),
	[STMT_EPOCH_GET] = "SELECT title_ct FROM epochs WHERE room = ?1 AND epoch = ?2",
	[STMT_KEY_PUT] = ("INSERT INTO room_keys(room, user, epoch, wrapped)"
			  " VALUES(?1, ?2, ?3, ?4) ON CONFLICT(room, user, epoch)"
			  " DO UPDATE SET wrapped = excluded.wrapped"),
	[STMT_KEY_EACH] = ("SELECT epoch, wrapped FROM room_keys"
			   " WHERE room = ?1 AND user = ?2 AND epoch >= ?3 ORDER BY epoch"),
	/* The hot path: these two are all store_message_append runs. The insert
	 * goes first so that a failure leaves nothing behind; no row inserted
	 * means no such room. */
	[STMT_MSG_INSERT] = ("INSERT INTO messages(room, msg_id, sender, epoch, ts_ms, blob)"
			     " SELECT id, last_msg_id + 1, ?2, ?3, ?4, ?5 FROM rooms WHERE id = ?1"),
	[STMT_MSG_ROOM_BUMP] = ("UPDATE rooms SET last_msg_id = last_msg_id + 1 WHERE id = ?1"
				" RETURNING last_msg_id"),
	[STMT_MSG_EACH] = ("SELECT msg_id, sender, epoch, ts_ms, blob FROM messages"
			   " WHERE room = ?1 AND msg_id > ?2 ORDER BY msg_id LIMIT ?3"),
	[STMT_MSG_COUNT_AFTER] = "SELECT count(*) FROM messages WHERE room = ?1 AND msg_id > ?2",
	/* ?2 caps the rows one call deletes (a negative LIMIT is none), so the
	 * server can prune in short steps instead of stalling its loop. */
	[STMT_MSG_PRUNE_AGE] = ("DELETE FROM messages WHERE id IN ("
				"SELECT id FROM messages WHERE ts_ms < ?1 LIMIT ?2)"),
	/* Per room, everything at or below the (max + 1)-th newest id. CROSS
	 * JOIN keeps rooms as the outer loop, so the threshold is looked up once
	 * per room through the (room, msg_id) index rather than per message. */
	[STMT_MSG_PRUNE_COUNT] = ("DELETE FROM messages WHERE id IN ("
				  "SELECT m.id FROM rooms AS r CROSS JOIN messages AS m"
				  " ON m.room = r.id AND m.msg_id <= ("
				  "SELECT x.msg_id FROM messages AS x WHERE x.room = r.id"
				  " ORDER BY x.msg_id DESC LIMIT 1 OFFSET ?1) LIMIT ?2)"),
	[STMT_USER_IDLE] = ("SELECT " STORE_USER_COLS " FROM users WHERE last_seen_s < ?1"
			    " ORDER BY last_seen_s, id"),
	/* store_user_expire runs these five in this order, all keyed by the
	 * user's id. First, while the memberships are still there: each room
	 * remembers the user as gone (a key that comes back, joins again and
	 * expires again is remembered once, under its latest nickname) and owes
	 * a new epoch. */
	[STMT_EXPIRE_GONE] = ("INSERT INTO room_gone(room, fingerprint, nick)"
			      " SELECT m.room, u.fingerprint, u.nick FROM members AS m"
			      " JOIN users AS u ON u.id = m.user WHERE m.user = ?1"
			      " ON CONFLICT(room, fingerprint) DO UPDATE SET nick = excluded.nick"),
	[STMT_EXPIRE_OWED] = ("UPDATE rooms SET rekey_owed = 1"
			      " WHERE id IN (SELECT room FROM members WHERE user = ?1)"),
	/* Then the rooms it belongs to or administers that nobody else belongs
	 * to go (with everything in them, the gone rows just added included)... */
	[STMT_EXPIRE_ROOMS] = ("DELETE FROM rooms"
			       " WHERE (admin_user = ?1"
			       " OR id IN (SELECT room FROM members WHERE user = ?1))"
			       " AND NOT EXISTS (SELECT 1 FROM members AS m"
			       " WHERE m.room = rooms.id AND m.user <> ?1)"),
	/* ...so every room it still administers has another member, and the
	 * earliest-joined of them takes over (rooms.admin_user has no ON DELETE
	 * action: this must come before the user row goes). */
	[STMT_EXPIRE_ADMIN] = ("UPDATE rooms SET admin_user = (SELECT m.user FROM members AS m"
			       " WHERE m.room = rooms.id AND m.user <> ?1 ORDER BY m.id LIMIT 1)"
			       " WHERE admin_user = ?1"),
	/* Last the user: its signing key is in the row, its memberships and
	 * wrapped keys cascade; its messages stay (messages.sender has no
	 * foreign key). */
	[STMT_EXPIRE_USER] = "DELETE FROM users WHERE id = ?1",
	[STMT_GONE_EACH] = ("SELECT fingerprint, nick FROM room_gone WHERE room = ?1"
			    " ORDER BY rowid"),
	[STMT_GONE_DELETE] = "DELETE FROM room_gone WHERE room = ?1 AND fingerprint = ?2",
	/* The admin's own membership row; rooms has no column of these names. */
	[STMT_ROOM_EACH_OWED] = ("SELECT " STORE_MEMBER_COLS " FROM rooms AS r"
				 " JOIN members AS m ON m.room = r.id AND m.user = r.admin_user"
				 " WHERE r.admin_user = ?1 AND r.rekey_owed = 1 ORDER BY r.id"),
	[STMT_EXPIRE_RETIRE] = ("INSERT OR REPLACE INTO keys_retired(fingerprint, nick, pubkey,"
				" sign_pub, sign_cert, retired_s)"
				" SELECT fingerprint, nick, pubkey, sign_pub, sign_cert, last_seen_s"
				" FROM users WHERE id = ?1"),
	/* A registered user's key first, else a retired one (user id 0). */
	[STMT_PUBLIC_KEY_GET] = ("SELECT id, nick, pubkey, sign_pub, sign_cert FROM users"
				 " WHERE fingerprint = ?1"
				 " UNION ALL SELECT 0, nick, pubkey, sign_pub, sign_cert"
				 " FROM keys_retired WHERE fingerprint = ?1 LIMIT 1"),
};

struct store {
	sqlite3 *db;
	sqlite3_stmt *stmt[STMT_COUNT_];
	int version;
	/* A transaction opened by store_begin is open (store_rollback clears
	 * it even if SQLite already rolled back on its own). */
	bool in_tx;
};

/* Shorthands that bind the log name and the statement table. */
static cc_err store_stmt_run(struct store *st, enum store_stmt_id id, const char *what)
{
	return sqlite_util_stmt_run(STORE_NAME, st->stmt[id], what);
}

static cc_err store_step_row(sqlite3_stmt *s, const char *what)
{
	return sqlite_util_step_row(STORE_NAME, s, what);
}

static cc_err store_bind_check(sqlite3_stmt *s, int rc, const char *what)
{
	return sqlite_util_bind_check(STORE_NAME, s, rc, what);
}

static cc_err store_tx_begin(struct store *st)
{
	return store_stmt_run(st, STMT_BEGIN, "begin transaction");
}

/* Commits if err is CC_OK, else (or if that fails) rolls back. */
static cc_err store_tx_end(struct store *st, cc_err err)
{
	return sqlite_util_tx_end(STORE_NAME, st->stmt[STMT_COMMIT], st->stmt[STMT_ROLLBACK], err);
}

/* The nickname rule is shared with the client's store (sqlite_util). */
_Static_assert(STORE_NICK_MAX == SQLITE_UTIL_NICK_MAX, "one nickname rule");

/* Fills u from the current row of a STORE_USER_COLS query. The schema
 * enforces all of this, but a damaged or hand-edited file must not overflow
 * u or yield an invalid nickname. */
static cc_err store_user_read(sqlite3_stmt *s, struct store_user *u)
{
	int64_t id = sqlite3_column_int64(s, 0);
	if (sqlite3_column_type(s, 0) != SQLITE_INTEGER ||
	    sqlite3_column_type(s, 2) != SQLITE_BLOB || sqlite3_column_type(s, 3) != SQLITE_BLOB ||
	    sqlite3_column_type(s, 4) != SQLITE_INTEGER || sqlite3_column_type(s, 5) != SQLITE_INTEGER)
		goto corrupt;

	size_t nick_len;
	if (!sqlite_util_col_nick(s, 1, u->nick, &nick_len))
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
	cc_err err = store_step_row(s, "read user");
	if (!err)
		err = store_user_read(s, u);
	sqlite_util_stmt_done(s);
	if (err)
		store_user_clear(u);
	return err;
}

static cc_err store_user_fetch_by_nick_lower(struct store *st, const char *lower, size_t len,
					     struct store_user *u)
{
	sqlite3_stmt *s = st->stmt[STMT_USER_BY_NICK];
	cc_err err = store_bind_check(s, sqlite3_bind_text(s, 1, lower, (int)len, SQLITE_STATIC),
				      "bind nickname");
	if (err) {
		sqlite_util_stmt_done(s);
		return err;
	}
	return store_user_fetch(st, STMT_USER_BY_NICK, u);
}

static cc_err store_user_fetch_by_fingerprint(struct store *st, const uint8_t *fp,
					      struct store_user *u)
{
	sqlite3_stmt *s = st->stmt[STMT_USER_BY_FINGERPRINT];
	cc_err err = store_bind_check(s, sqlite3_bind_blob(s, 1, fp, STORE_FINGERPRINT_LEN,
							   SQLITE_STATIC),
				      "bind fingerprint");
	if (err) {
		sqlite_util_stmt_done(s);
		return err;
	}
	return store_user_fetch(st, STMT_USER_BY_FINGERPRINT, u);
}

static cc_err store_user_set_last_seen(struct store *st, int64_t id, uint64_t now_s)
{
	sqlite3_stmt *s = st->stmt[STMT_USER_TOUCH];
	cc_err err = store_bind_check(s, sqlite3_bind_int64(s, 1, id), "bind id");
	if (!err)
		err = store_bind_check(s, sqlite3_bind_int64(s, 2, (int64_t)now_s), "bind time");
	if (err) {
		sqlite_util_stmt_done(s);
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
	cc_err err = store_bind_check(s, sqlite3_bind_text(s, 1, nick, (int)len, SQLITE_STATIC),
				      "bind nickname");
	if (!err)
		err = store_bind_check(s, sqlite3_bind_text(s, 2, lower, (int)len, SQLITE_STATIC),
				       "bind nickname");
	if (!err)
		err = store_bind_check(s, sqlite3_bind_blob(s, 3, pubkey, (int)pubkey_len,
							    SQLITE_STATIC),
				       "bind public key");
	if (!err)
		err = store_bind_check(s, sqlite3_bind_blob(s, 4, fp, STORE_FINGERPRINT_LEN,
							    SQLITE_STATIC),
				       "bind fingerprint");
	if (!err)
		err = store_bind_check(s, sqlite3_bind_int64(s, 5, (int64_t)now_s), "bind time");
	if (err) {
		sqlite_util_stmt_done(s);
		return err;
	}
	err = store_stmt_run(st, STMT_USER_INSERT, "insert user");
	if (!err)
		*id = sqlite3_last_insert_rowid(st->db);
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
	struct store *st = calloc(1, sizeof *st);
	if (!st)
		return CC_ERR_NOMEM;
	cc_err err = sqlite_util_open(&store_schema, path, &st->db, &st->version);
	if (!err)
		err = sqlite_util_prepare_all(STORE_NAME, st->db, store_stmt_sql, st->stmt,
					      STMT_COUNT_);
	if (err) {
		store_close(st);
		return err;
	}
	log_info(STORE_NAME ": opened %s (schema version %d)", path, st->version);
	*out = st;
	return CC_OK;
}

void store_close(struct store *st)
{
	if (!st)
		return;
	/* sqlite3_close rolls it back; say so, it is a caller's bug. */
	if (st->in_tx)
		log_warn("store: closed with a transaction open; rolled back");
	sqlite_util_finalize_all(st->stmt, STMT_COUNT_);
	sqlite_util_close(STORE_NAME, st->db);
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
	if (!sqlite_util_nick_valid(nick, &len))
		return CC_ERR_BAD_NICK;
	if (pubkey_len == 0)
		return CC_ERR_MALFORMED;
	if (pubkey_len > STORE_PUBKEY_MAX)
		return CC_ERR_TOO_LARGE;
	if (now_s > INT64_MAX)
		return CC_ERR_MALFORMED;
	/* It commits on its own: inside a caller's transaction it would fail
	 * to begin and then roll back the caller's work. */
	if (st->in_tx) {
		log_error("store: user registration inside a transaction");
		return CC_ERR_STATE;
	}
	char lower[STORE_NICK_MAX + 1];
	sqlite_util_nick_lower(nick, len, lower);

	cc_err err = store_tx_begin(st);
	if (err)
		return err;

	err = store_user_fetch_by_fingerprint(st, fingerprint, out);
	if (err == CC_OK) {
		char have[STORE_NICK_MAX + 1];
		sqlite_util_nick_lower(out->nick, strlen(out->nick), have);
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

	err = store_tx_end(st, err);
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
	if (!sqlite_util_nick_valid(nick, &len))
		return CC_ERR_BAD_NICK;
	char lower[STORE_NICK_MAX + 1];
	sqlite_util_nick_lower(nick, len, lower);
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
	cc_err err = store_bind_check(s, sqlite3_bind_int64(s, 1, id), "bind id");
	if (err) {
		sqlite_util_stmt_done(s);
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

/* ---- Helpers for the room tables ---------------------------------------- */

static cc_err store_bind_i64(sqlite3_stmt *s, int i, int64_t v)
{
	return store_bind_check(s, sqlite3_bind_int64(s, i, v), "bind integer");
}

/* Callers check len against its cap first, so the int cast cannot wrap. */
static cc_err store_bind_blob(sqlite3_stmt *s, int i, const void *p, size_t len)
{
	return store_bind_check(s, sqlite3_bind_blob(s, i, p, (int)len, SQLITE_STATIC),
				"bind blob");
}

/* Steps a statement that returns no rows and resets it; bind_err is the
 * outcome of binding it (on failure the statement is only reset). A
 * duplicate key is CC_ERR_EXISTS and a missing parent row (a foreign key)
 * CC_ERR_NOT_FOUND, both answers rather than failures, so not logged. */
static cc_err store_stmt_write(struct store *st, enum store_stmt_id id, cc_err bind_err,
			       const char *what)
{
	sqlite3_stmt *s = st->stmt[id];
	if (bind_err) {
		sqlite_util_stmt_done(s);
		return bind_err;
	}
	int rc = sqlite3_step(s);
	cc_err err = CC_OK;
	if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY) {
		err = CC_ERR_EXISTS;
	} else if (rc == SQLITE_CONSTRAINT_FOREIGNKEY) {
		err = CC_ERR_NOT_FOUND;
	} else if (rc != SQLITE_DONE) {
		sqlite_util_log(STORE_NAME, st->db, what);
		err = CC_ERR_STORE;
	}
	sqlite_util_stmt_done(s);
	return err;
}

/* As store_stmt_write, for an UPDATE or DELETE of one row by key: no row
 * changed is CC_ERR_NOT_FOUND. */
static cc_err store_stmt_write_one(struct store *st, enum store_stmt_id id, cc_err bind_err,
				   const char *what)
{
	cc_err err = store_stmt_write(st, id, bind_err, what);
	if (!err && sqlite3_changes(st->db) == 0)
		err = CC_ERR_NOT_FOUND;
	return err;
}

/* Every write checks this first: if SQLite rolled back the caller's
 * transaction after an error (it does for some, e.g. a full disk), a later
 * write must not quietly commit on its own. */
static cc_err store_write_check(struct store *st)
{
	if (st->in_tx && sqlite3_get_autocommit(st->db)) {
		log_error("store: the transaction was rolled back after an earlier error");
		return CC_ERR_STORE;
	}
	return CC_OK;
}

/* For writes of several statements: opens a transaction unless the caller
 * holds one; *own tells store_write_end to close it. */
static cc_err store_write_begin(struct store *st, bool *own)
{
	*own = false;
	cc_err err = store_write_check(st);
	if (err || st->in_tx)
		return err;
	err = store_tx_begin(st);
	if (!err)
		*own = true;
	return err;
}

static cc_err store_write_end(struct store *st, bool own, cc_err err)
{
	return own ? store_tx_end(st, err) : err;
}

/* A walk's statement is stepped across calls into the caller's callback;
 * the same walk started again from inside it would reset it under itself. */
static cc_err store_walk_check(sqlite3_stmt *s)
{
	if (sqlite3_stmt_busy(s)) {
		log_error("store: a walk was started again from its own callback");
		return CC_ERR_STATE;
	}
	return CC_OK;
}

/* What a walk returns when its callback said stop with rv (non-zero). */
static cc_err store_walk_stopped(int rv)
{
	if (rv > 0 && rv < CC_ERR_COUNT_)
		return (cc_err)rv;
	return CC_ERR_INTERNAL;
}

/* The column holds an INTEGER in [min, max]. */
static bool store_col_int(sqlite3_stmt *s, int col, int64_t min, int64_t max, int64_t *v)
{
	if (sqlite3_column_type(s, col) != SQLITE_INTEGER)
		return false;
	*v = sqlite3_column_int64(s, col);
	return *v >= min && *v <= max;
}

/* The column holds a BLOB of min..max bytes (min >= 1): CC_OK, CC_ERR_STORE
 * if not, CC_ERR_NOMEM if SQLite could not hand it over. */
static cc_err store_col_blob(sqlite3_stmt *s, int col, size_t min, size_t max,
			     const uint8_t **p, size_t *len)
{
	if (sqlite3_column_type(s, col) != SQLITE_BLOB)
		return CC_ERR_STORE;
	const void *b = sqlite3_column_blob(s, col);
	int n = sqlite3_column_bytes(s, col);
	if (n < 0 || (size_t)n < min || (size_t)n > max)
		return CC_ERR_STORE;
	if (!b)
		return CC_ERR_NOMEM;
	*p = b;
	*len = (size_t)n;
	return CC_OK;
}

static cc_err store_blob_dup(const uint8_t *p, size_t len, uint8_t **out)
{
	*out = malloc(len);
	if (!*out)
		return CC_ERR_NOMEM;
	memcpy(*out, p, len);
	return CC_OK;
}

/* The blobs the store takes: 1..max bytes. Empty is refused: everything the
 * store keeps is ciphertext or a signature, never empty. */
static cc_err store_blob_check(const uint8_t *p, size_t len, size_t max)
{
	if (!p && len)
		return CC_ERR_INTERNAL;
	if (len == 0)
		return CC_ERR_MALFORMED;
	if (len > max)
		return CC_ERR_TOO_LARGE;
	return CC_OK;
}

/* Steps a query that returns one integer (a count) and resets it. */
static cc_err store_stmt_count(struct store *st, enum store_stmt_id id, cc_err bind_err,
			       uint32_t *count)
{
	sqlite3_stmt *s = st->stmt[id];
	cc_err err = bind_err;
	if (!err) {
		int rc = sqlite3_step(s);
		int64_t n;
		if (rc != SQLITE_ROW) {
			sqlite_util_log(STORE_NAME, st->db, "count");
			err = CC_ERR_STORE;
		} else if (!store_col_int(s, 0, 0, INT64_MAX, &n)) {
			log_error("store: count is damaged");
			err = CC_ERR_STORE;
		} else {
			*count = n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
		}
	}
	sqlite_util_stmt_done(s);
	return err;
}

/* ---- Signing keys ---------------------------------------------------------- */

cc_err store_user_set_signing_key(struct store *st, int64_t user_id,
				  const uint8_t pub[STORE_SIGN_PUB_LEN],
				  const uint8_t *cert, size_t cert_len)
{
	if (!st || !pub)
		return CC_ERR_INTERNAL;
	cc_err err = store_blob_check(cert, cert_len, STORE_SIGN_CERT_MAX);
	if (!err)
		err = store_write_check(st);
	if (err)
		return err;
	sqlite3_stmt *s = st->stmt[STMT_SIGN_SET];
	err = store_bind_i64(s, 1, user_id);
	if (!err)
		err = store_bind_blob(s, 2, pub, STORE_SIGN_PUB_LEN);
	if (!err)
		err = store_bind_blob(s, 3, cert, cert_len);
	return store_stmt_write_one(st, STMT_SIGN_SET, err, "set signing key");
}

cc_err store_user_get_signing_key(struct store *st, int64_t user_id,
				  uint8_t pub[STORE_SIGN_PUB_LEN], uint8_t **cert,
				  size_t *cert_len)
{
	if (cert)
		*cert = NULL;
	if (cert_len)
		*cert_len = 0;
	if (!st || !pub || !cert || !cert_len)
		return CC_ERR_INTERNAL;
	sqlite3_stmt *s = st->stmt[STMT_SIGN_GET];
	cc_err err = store_bind_i64(s, 1, user_id);
	if (!err)
		err = store_step_row(s, "read signing key");
	if (err)
		goto out;
	if (sqlite3_column_type(s, 0) == SQLITE_NULL && sqlite3_column_type(s, 1) == SQLITE_NULL) {
		err = CC_ERR_NOT_FOUND;
		goto out;
	}
	const uint8_t *p, *c;
	size_t p_len, c_len;
	err = store_col_blob(s, 0, STORE_SIGN_PUB_LEN, STORE_SIGN_PUB_LEN, &p, &p_len);
	if (!err)
		err = store_col_blob(s, 1, 1, STORE_SIGN_CERT_MAX, &c, &c_len);
	if (err == CC_ERR_STORE)
		log_error("store: signing key of user %lld is damaged", (long long)user_id);
	if (!err)
		err = store_blob_dup(c, c_len, cert);
	if (!err) {
		memcpy(pub, p, STORE_SIGN_PUB_LEN);
		*cert_len = c_len;
	}
out:
	sqlite_util_stmt_done(s);
	return err;
}

/* ---- Transactions ---------------------------------------------------------- */

cc_err store_begin(struct store *st)
{
	if (!st)
		return CC_ERR_INTERNAL;
	if (st->in_tx || !sqlite3_get_autocommit(st->db)) {
		log_error("store: a transaction is already open");
		return CC_ERR_STATE;
	}
	cc_err err = store_tx_begin(st);
	if (!err)
		st->in_tx = true;
	return err;
}

/* On failure nothing was committed and the transaction is closed, so a
 * store_rollback after it is harmless but not needed. */
cc_err store_commit(struct store *st)
{
	if (!st)
		return CC_ERR_INTERNAL;
	if (!st->in_tx) {
		log_error("store: commit without a transaction");
		return CC_ERR_STATE;
	}
	st->in_tx = false;
	if (sqlite3_get_autocommit(st->db)) {
		log_error("store: commit: the transaction was already rolled back after an error");
		return CC_ERR_STORE;
	}
	return store_tx_end(st, CC_OK);
}

void store_rollback(struct store *st)
{
	if (!st)
		return;
	st->in_tx = false;
	sqlite_util_tx_rollback(STORE_NAME, st->stmt[STMT_ROLLBACK]);
}

/* ---- Rooms ---------------------------------------------------------------- */

static cc_err store_room_read(sqlite3_stmt *s, struct store_room *r)
{
	int64_t id = 0, admin, epoch, count, last_msg, created, rekey;
	const uint8_t *rid, *hash;
	size_t rid_len, hash_len;
	if (!store_col_int(s, 0, INT64_MIN, INT64_MAX, &id) ||
	    !store_col_int(s, 2, INT64_MIN, INT64_MAX, &admin) ||
	    !store_col_int(s, 3, 0, UINT32_MAX, &epoch) ||
	    !store_col_int(s, 4, 0, UINT32_MAX, &count) ||
	    !store_col_int(s, 6, 0, INT64_MAX, &last_msg) ||
	    !store_col_int(s, 7, 0, INT64_MAX, &created) ||
	    !store_col_int(s, 8, 0, 1, &rekey))
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
cc_err store_member_set_read(struct store *st, int64_t room, int64_t user, int64_t msg_id)
{
	if (!st)
		return CC_ERR_INTERNAL;
	if (msg_id < 0)
		return CC_ERR_MALFORMED;
	cc_err err = store_write_check(st);
	if (err)
		return err;
	sqlite3_stmt *s = st->stmt[STMT_MEMBER_SET_READ];
	err = store_bind_i64(s, 1, room);
	if (!err)
		err = store_bind_i64(s, 2, user);
	if (!err)
		err = store_bind_i64(s, 3, msg_id);
	return store_stmt_write_one(st, STMT_MEMBER_SET_READ, err, "set last read");
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

/* The member walks: the statement is bound to key, then each row goes to
 * fn. fn may call any store function except the same walk (CC_ERR_STATE)
 * and the transaction functions; rows it writes may or may not show up
 * later in the walk. */
static cc_err store_member_walk(struct store *st, enum store_stmt_id id, int64_t key,
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

cc_err store_record_each(struct store *st, int64_t room, store_blob_fn fn, void *ctx)
{
	if (!st || !fn)
		return CC_ERR_INTERNAL;
	sqlite3_stmt *s = st->stmt[STMT_RECORD_EACH];
	cc_err err = store_walk_check(s);
	if (err)
		return err;
	err = store_bind_i64(s, 1, room);
	return store_blob_walk(st, STMT_RECORD_EACH, err, STORE_BLOB_MAX, fn, ctx);
}

/* ---- Keys and epochs ---------------------------------------------------------- */

/* Replaces the title if the epoch has one; CC_ERR_NOT_FOUND if no room. */
cc_err store_epoch_put(struct store *st, int64_t room, uint32_t epoch,
		       const uint8_t *title_ct, size_t len)
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
			    uint64_t ts_ms, const uint8_t *blob, size_t len,
			    int64_t *msg_id)
{
	if (msg_id)
		*msg_id = 0;
	if (!st)
		return CC_ERR_INTERNAL;
	cc_err err = store_blob_check(blob, len, STORE_BLOB_MAX);
	if (err)
		return err;
	if (ts_ms > INT64_MAX)
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
	err = store_stmt_write(st, STMT_MSG_INSERT, err, "insert message");
	if (!err && sqlite3_changes(st->db) == 0)
		err = CC_ERR_NOT_FOUND;
	/* A clash on (room, msg_id) would mean last_msg_id went backwards. */
	if (err == CC_ERR_EXISTS) {
		log_error("store: room %lld: next message id already taken", (long long)room);
		err = CC_ERR_STORE;
	}

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
		int64_t epoch, ts;
		if (!store_col_int(s, 0, 1, INT64_MAX, &m.msg_id) ||
		    !store_col_int(s, 1, INT64_MIN, INT64_MAX, &m.sender) ||
		    !store_col_int(s, 2, 0, UINT32_MAX, &epoch) ||
		    !store_col_int(s, 3, 0, INT64_MAX, &ts))
			err = CC_ERR_STORE;
		else
			err = store_col_blob(s, 4, 1, STORE_BLOB_MAX, &m.blob, &m.len);
		if (err == CC_ERR_STORE)
			log_error("store: message %lld of room %lld is damaged",
				  (long long)m.msg_id, (long long)room);
		if (!err) {
			m.epoch = (uint32_t)epoch;
			m.ts_ms = (uint64_t)ts;
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

/* In order of the rooms' row ids. A room whose admin is not among its
 * members (the server never makes one) is not listed. */
cc_err store_room_each_owed(struct store *st, int64_t admin_user, store_member_fn fn, void *ctx)
{
	if (!st || !fn)
		return CC_ERR_INTERNAL;
	return store_member_walk(st, STMT_ROOM_EACH_OWED, admin_user, fn, ctx);
}

void store_public_key_clear(struct store_public_key *k)
{
	if (!k)
		return;
	free(k->pubkey);
	free(k->sign_cert);
	memset(k, 0, sizeof *k);
}

cc_err store_public_key_get(struct store *st, const uint8_t fingerprint[STORE_FINGERPRINT_LEN],
			    struct store_public_key *out)
{
	const uint8_t *p;
	size_t len;
	int64_t id;

	if (out)
		memset(out, 0, sizeof *out);
	if (!st || !fingerprint || !out)
		return CC_ERR_INTERNAL;
	sqlite3_stmt *s = st->stmt[STMT_PUBLIC_KEY_GET];
	cc_err err = store_bind_check(s, sqlite3_bind_blob(s, 1, fingerprint, STORE_FINGERPRINT_LEN,
							    SQLITE_STATIC),
				      "bind fingerprint");
	if (!err)
		err = store_step_row(s, "read public key");
	if (err)
		goto out;
	size_t nick_len;
	if (!store_col_int(s, 0, 0, INT64_MAX, &id) ||
	    !sqlite_util_col_nick(s, 1, out->nick, &nick_len) ||
	    (err = store_col_blob(s, 2, 1, STORE_PUBKEY_MAX, &p, &len)) ||
	    (err = store_blob_dup(p, len, &out->pubkey))) {
		err = err ? err : CC_ERR_STORE;
		goto out;
	}
	out->user_id = id;
	out->pubkey_len = len;
	memcpy(out->fingerprint, fingerprint, STORE_FINGERPRINT_LEN);
	if (sqlite3_column_type(s, 3) != SQLITE_NULL && sqlite3_column_type(s, 4) != SQLITE_NULL) {
		const uint8_t *c;
		size_t c_len;
		if ((err = store_col_blob(s, 3, STORE_SIGN_PUB_LEN, STORE_SIGN_PUB_LEN, &p, &len)) ||
		    (err = store_col_blob(s, 4, 1, STORE_SIGN_CERT_MAX, &c, &c_len)) ||
		    (err = store_blob_dup(c, c_len, &out->sign_cert)))
			goto out;
		memcpy(out->sign_pub, p, STORE_SIGN_PUB_LEN);
		out->sign_cert_len = c_len;
	}
out:
	sqlite_util_stmt_done(s);
	if (err)
		store_public_key_clear(out);
	return err;
}
