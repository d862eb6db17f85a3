/* The store's core: opening the database and migrating its schema, the
 * prepared statements, transactions, and the helpers every store file uses
 * (store_internal.h). The tables are served by store_users.c, store_rooms.c,
 * store_messages.c and store_expiry.c. */
#include "store/store_internal.h"

#include <stdlib.h>
#include <string.h>

#include "util/log.h"

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
	/* 5: protocol 2. Records, envelopes and signing certificates of
	 * protocol 1 do not verify under its rules, so rooms (with all that
	 * cascades from them), retired keys and signing keys go; users stay
	 * (clients publish a new signing key when they connect). Signing keys
	 * carry their certificate's version. A room's epoch can be closed (a
	 * member left, nobody may send until a new one opens). A record keeps
	 * its place among the messages (the last message id stored before it).
	 * A message keeps its sender's number, unique per sender and epoch, so
	 * a replayed copy is refused. */
	("DELETE FROM rooms;"
	 "DELETE FROM keys_retired;"
	 "UPDATE users SET sign_pub = NULL, sign_cert = NULL;"
	 "ALTER TABLE users ADD COLUMN sign_version INTEGER NOT NULL DEFAULT 0"
	 " CHECK(sign_version BETWEEN 0 AND 4294967295);"
	 "ALTER TABLE keys_retired ADD COLUMN sign_version INTEGER NOT NULL DEFAULT 0"
	 " CHECK(sign_version BETWEEN 0 AND 4294967295);"
	 "ALTER TABLE rooms ADD COLUMN closed INTEGER NOT NULL DEFAULT 0"
	 " CHECK(closed IN (0, 1));"
	 "ALTER TABLE records ADD COLUMN position INTEGER NOT NULL DEFAULT 0"
	 " CHECK(position >= 0);"
	 "ALTER TABLE messages ADD COLUMN seq INTEGER NOT NULL DEFAULT 0 CHECK(seq >= 0);"
	 "CREATE UNIQUE INDEX messages_by_sender_seq ON messages(room, sender, epoch, seq);"),
	/* 6: protocol 3. Epoch secrets are wrapped to receiving keys (X25519,
	 * certified by the identity key, versioned) and messages use a ratchet:
	 * nothing of protocol 2's rooms opens any more, so they go. An epoch
	 * remembers when it opened: the wrapped secrets of epochs that ended
	 * longer ago than the retention are deleted. */
	("DELETE FROM rooms;"
	 "DELETE FROM keys_retired;"
	 "ALTER TABLE users ADD COLUMN recv_version INTEGER NOT NULL DEFAULT 0"
	 " CHECK(recv_version BETWEEN 0 AND 4294967295);"
	 "ALTER TABLE users ADD COLUMN recv_created_ms INTEGER NOT NULL DEFAULT 0"
	 " CHECK(recv_created_ms >= 0);"
	 "ALTER TABLE users ADD COLUMN recv_pub BLOB"
	 " CHECK(recv_pub IS NULL OR length(recv_pub) = 32);"
	 "ALTER TABLE users ADD COLUMN recv_cert BLOB"
	 " CHECK((recv_cert IS NULL) = (recv_pub IS NULL)"
	 " AND (recv_cert IS NULL OR length(recv_cert) > 0));"
	 "ALTER TABLE epochs ADD COLUMN opened_ms INTEGER NOT NULL DEFAULT 0"
	 " CHECK(opened_ms >= 0);"
	 "CREATE INDEX epochs_by_opened ON epochs(opened_ms);"),
	/* 7: identity keys moved by their owners. A retired key may have been
	 * replaced by its owner (replaced_by: the new key's fingerprint) and is
	 * then revoked: it never registers again. */
	("ALTER TABLE keys_retired ADD COLUMN replaced_by BLOB"
	 " CHECK(replaced_by IS NULL OR length(replaced_by) = 32);"
	 "ALTER TABLE keys_retired ADD COLUMN revoked_s INTEGER NOT NULL DEFAULT 0"
	 " CHECK(revoked_s >= 0);"),
};

#define STORE_SCHEMA_LATEST ((int)(sizeof store_migrations / sizeof store_migrations[0]))

static const struct sqlite_util_schema store_schema = {
	.name = STORE_NAME,
	.migrations = store_migrations,
	.latest = STORE_SCHEMA_LATEST,
};

/* Every user query selects these columns in this order (store_user_read). */
#define STORE_USER_COLS "id, nick, pubkey, fingerprint, created_s, last_seen_s"
/* And every room query these (store_room_read), every member query these
 * (store_member_read). */
#define STORE_ROOM_COLS \
	"id, room_id, admin_user, epoch, record_count, last_record_hash, last_msg_id," \
	" created_ms, rekey_owed, closed"
#define STORE_MEMBER_COLS "room, user, first_msg_id, last_read_msg_id, since_epoch"

static const char *const store_stmt_sql[STMT_COUNT_] = {
	[STMT_BEGIN] = "BEGIN IMMEDIATE",
	/* Changes when another connection has committed to the file. */
	[STMT_DATA_VERSION] = "PRAGMA data_version",
	[STMT_COMMIT] = "COMMIT",
	[STMT_ROLLBACK] = "ROLLBACK",
	[STMT_USER_BY_NICK] = "SELECT " STORE_USER_COLS " FROM users WHERE nick_lower = ?1",
	[STMT_USER_BY_FINGERPRINT] = "SELECT " STORE_USER_COLS " FROM users WHERE fingerprint = ?1",
	[STMT_USER_BY_ID] = "SELECT " STORE_USER_COLS " FROM users WHERE id = ?1",
	[STMT_USER_INSERT] = ("INSERT INTO users(nick, nick_lower, pubkey, fingerprint,"
			      " created_s, last_seen_s) VALUES(?1, ?2, ?3, ?4, ?5, ?5)"),
	[STMT_USER_TOUCH] = "UPDATE users SET last_seen_s = ?2 WHERE id = ?1",
	/* Only a newer version, or the same key again (a fresh certificate of
	 * it): no row changed means an older or a conflicting key. */
	[STMT_SIGN_SET] = ("UPDATE users SET sign_version = ?2, sign_pub = ?3, sign_cert = ?4"
			   " WHERE id = ?1 AND (sign_version < ?2 OR (sign_version = ?2"
			   " AND sign_pub = ?3))"),
	[STMT_SIGN_GET] = "SELECT sign_pub, sign_cert, sign_version FROM users WHERE id = ?1",
	/* The same rule for receiving keys. */
	[STMT_RECV_SET] = ("UPDATE users SET recv_version = ?2, recv_created_ms = ?3,"
			   " recv_pub = ?4, recv_cert = ?5 WHERE id = ?1 AND (recv_version < ?2"
			   " OR (recv_version = ?2 AND recv_pub = ?4))"),
	[STMT_RECV_GET] = ("SELECT recv_pub, recv_cert, recv_version, recv_created_ms"
			   " FROM users WHERE id = ?1"),
	[STMT_ROOM_INSERT] = ("INSERT INTO rooms(room_id, admin_user, created_ms)"
			      " VALUES(?1, ?2, ?3)"),
	[STMT_ROOM_BY_ROOM_ID] = "SELECT " STORE_ROOM_COLS " FROM rooms WHERE room_id = ?1",
	[STMT_ROOM_BY_ID] = "SELECT " STORE_ROOM_COLS " FROM rooms WHERE id = ?1",
	[STMT_ROOM_DELETE] = "DELETE FROM rooms WHERE id = ?1",
	[STMT_ROOM_SET_ADMIN] = "UPDATE rooms SET admin_user = ?2 WHERE id = ?1",
	[STMT_ROOM_SET_EPOCH] = "UPDATE rooms SET epoch = ?2 WHERE id = ?1",
	[STMT_ROOM_SET_REKEY] = "UPDATE rooms SET rekey_owed = ?2 WHERE id = ?1",
	[STMT_ROOM_SET_CLOSED] = "UPDATE rooms SET closed = ?2 WHERE id = ?1",
	[STMT_MEMBER_INSERT] = ("INSERT INTO members(room, user, first_msg_id, last_read_msg_id,"
				" since_epoch) VALUES(?1, ?2, ?3, max(?3 - 1, 0), ?4)"),
	[STMT_MEMBER_DELETE] = "DELETE FROM members WHERE room = ?1 AND user = ?2",
	[STMT_MEMBER_GET] = ("SELECT " STORE_MEMBER_COLS " FROM members"
			     " WHERE room = ?1 AND user = ?2"),
	[STMT_MEMBER_SET_READ] = ("UPDATE members SET last_read_msg_id = ?3"
				  " WHERE room = ?1 AND user = ?2"),
	/* Forward only, and never past the room's last message. */
	[STMT_MEMBER_ADVANCE_READ] = ("UPDATE members SET last_read_msg_id ="
				      " min(?3, (SELECT last_msg_id FROM rooms WHERE id = ?1))"
				      " WHERE room = ?1 AND user = ?2 AND last_read_msg_id < ?3"),
	[STMT_MEMBER_COUNT] = "SELECT count(*) FROM members WHERE room = ?1",
	[STMT_MEMBER_EACH] = ("SELECT " STORE_MEMBER_COLS " FROM members"
			      " WHERE room = ?1 ORDER BY id"),
	[STMT_MEMBER_EACH_ROOM_OF] = ("SELECT " STORE_MEMBER_COLS " FROM members"
				      " WHERE user = ?1 ORDER BY room"),
	/* Inserts only when seq is the room's next record number: a chain has
	 * no gaps. No row inserted: no room, or seq taken or too far ahead. */
	[STMT_RECORD_INSERT] = ("INSERT INTO records(room, seq, record, position)"
				" SELECT id, ?2, ?3, last_msg_id FROM rooms"
				" WHERE id = ?1 AND record_count = ?2"),
	[STMT_RECORD_ROOM_UPDATE] = ("UPDATE rooms SET record_count = ?2 + 1,"
				     " last_record_hash = ?3 WHERE id = ?1"),
	[STMT_RECORD_EACH] = ("SELECT seq, record, position FROM records WHERE room = ?1"
			      " AND seq >= ?2 ORDER BY seq"),
	[STMT_EPOCH_PUT] = ("INSERT INTO epochs(room, epoch, title_ct, opened_ms)"
			    " VALUES(?1, ?2, ?3, ?4)"
			    " ON CONFLICT(room, epoch) DO UPDATE SET title_ct = excluded.title_ct"),
	[STMT_EPOCH_GET] = "SELECT title_ct FROM epochs WHERE room = ?1 AND epoch = ?2",
	[STMT_KEY_PUT] = ("INSERT INTO room_keys(room, user, epoch, wrapped)"
			  " VALUES(?1, ?2, ?3, ?4) ON CONFLICT(room, user, epoch)"
			  " DO UPDATE SET wrapped = excluded.wrapped"),
	[STMT_KEY_EACH] = ("SELECT epoch, wrapped FROM room_keys"
			   " WHERE room = ?1 AND user = ?2 AND epoch >= ?3 ORDER BY epoch"),
	/* The member holds the keys: its wrapped copies go. */
	[STMT_KEY_FORGET] = "DELETE FROM room_keys WHERE room = ?1 AND user = ?2 AND epoch <= ?3",
	[STMT_KEY_PENDING] = "SELECT count(*) FROM room_keys WHERE room = ?1 AND user = ?2",
	/* Retention: the secrets of an epoch whose successor opened before ?1
	 * (the current epoch has none and keeps its own), at most ?2 rows. */
	[STMT_KEY_PRUNE] = ("DELETE FROM room_keys WHERE rowid IN ("
			    "SELECT k.rowid FROM epochs AS e JOIN room_keys AS k"
			    " ON k.room = e.room AND k.epoch < e.epoch"
			    " WHERE e.opened_ms > 0 AND e.opened_ms < ?1 LIMIT ?2)"),
	/* The hot path: these two are all store_message_append runs. The insert
	 * goes first so that a failure leaves nothing behind; no row inserted
	 * means no such room. */
	[STMT_MSG_INSERT] = ("INSERT INTO messages(room, msg_id, sender, epoch, ts_ms, blob, seq)"
			     " SELECT id, last_msg_id + 1, ?2, ?3, ?4, ?5, ?6 FROM rooms"
			     " WHERE id = ?1"),
	[STMT_MSG_ROOM_BUMP] = ("UPDATE rooms SET last_msg_id = last_msg_id + 1 WHERE id = ?1"
				" RETURNING last_msg_id"),
	[STMT_MSG_EACH] = ("SELECT msg_id, sender, epoch, ts_ms, blob, seq FROM messages"
			   " WHERE room = ?1 AND msg_id > ?2 ORDER BY msg_id LIMIT ?3"),
	[STMT_MSG_COUNT_AFTER] = "SELECT count(*) FROM messages WHERE room = ?1 AND msg_id > ?2",
	/* Through the unique index (room, sender, epoch, seq). */
	[STMT_MSG_FIND] = ("SELECT msg_id, ts_ms, blob FROM messages"
			   " WHERE room = ?1 AND sender = ?2 AND epoch = ?3 AND seq = ?4"),
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
	/* The user's own membership rows; rooms has no column of these names. */
	[STMT_ROOM_EACH_OWED] = ("SELECT " STORE_MEMBER_COLS " FROM members AS m"
				 " JOIN rooms AS r ON r.id = m.room"
				 " WHERE m.user = ?1 AND r.rekey_owed = 1 ORDER BY r.id"),
	[STMT_EXPIRE_RETIRE] = ("INSERT OR REPLACE INTO keys_retired(fingerprint, nick, pubkey,"
				" sign_pub, sign_cert, retired_s, sign_version)"
				" SELECT fingerprint, nick, pubkey, sign_pub, sign_cert, last_seen_s,"
				" sign_version FROM users WHERE id = ?1"),
	/* A registered user's key first, else a retired one (user id 0, no
	 * receiving key: nothing is wrapped to an expired user). */
	[STMT_KEY_TAKEN] = ("SELECT 1 FROM users WHERE fingerprint = ?1"
			    " UNION ALL SELECT 1 FROM keys_retired WHERE fingerprint = ?1 LIMIT 1"),
	[STMT_KEY_REVOKED] = ("SELECT replaced_by FROM keys_retired"
			      " WHERE fingerprint = ?1 AND revoked_s > 0"),
	[STMT_MOVE_RETIRE] = ("INSERT OR REPLACE INTO keys_retired(fingerprint, nick, pubkey,"
			      " sign_pub, sign_cert, retired_s, sign_version, replaced_by, revoked_s)"
			      " SELECT fingerprint, nick, pubkey, sign_pub, sign_cert, ?2,"
			      " sign_version, ?3, ?2 FROM users WHERE id = ?1"),
	[STMT_MOVE_USER] = ("UPDATE users SET pubkey = ?2, fingerprint = ?3, sign_pub = NULL,"
			    " sign_cert = NULL, sign_version = 0, recv_pub = NULL, recv_cert = NULL,"
			    " recv_version = 0, recv_created_ms = 0 WHERE id = ?1"),
	[STMT_PUBLIC_KEY_GET] = ("SELECT id, nick, pubkey, sign_pub, sign_cert, sign_version,"
				 " recv_pub, recv_cert, recv_version, recv_created_ms"
				 " FROM users WHERE fingerprint = ?1"
				 " UNION ALL SELECT 0, nick, pubkey, sign_pub, sign_cert, sign_version,"
				 " NULL, NULL, 0, 0 FROM keys_retired WHERE fingerprint = ?1 LIMIT 1"),
};

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

cc_err store_checkpoint(struct store *st)
{
	if (!st || st->in_tx)
		return CC_ERR_STATE;
	if (!st->secrets_deleted)
		return CC_OK;
	cc_err err = sqlite_util_checkpoint(STORE_NAME, st->db);
	if (!err)
		st->secrets_deleted = false;
	return err;
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

/* ---- Helpers the store files share (see store_internal.h) ---------------- */

/* Writes on the hot paths that change no room, membership or user; every
 * other write invalidates what the server caches about rooms (safe by
 * default: a statement added later bumps unless it is listed here). */
static void rooms_version_bump(struct store *st, enum store_stmt_id id)
{
	switch (id) {
	case STMT_BEGIN:
	case STMT_MSG_INSERT:
	case STMT_MSG_PRUNE_AGE:
	case STMT_MSG_PRUNE_COUNT:
	case STMT_MEMBER_SET_READ:
	case STMT_MEMBER_ADVANCE_READ:
	case STMT_KEY_FORGET:
	case STMT_KEY_PRUNE:
	case STMT_USER_TOUCH:
		return;
	default:
		st->rooms_version++;
	}
}

uint64_t store_rooms_version(struct store *st)
{
	if (!st)
		return 0;
	/* Someone else's writes too (sqlite3 run on the live file): whatever
	 * they changed, a copy made before is not trusted. */
	sqlite3_stmt *s = st->stmt[STMT_DATA_VERSION];
	int64_t v = 0;
	if (sqlite3_step(s) != SQLITE_ROW || !store_col_int(s, 0, INT64_MIN, INT64_MAX, &v))
		st->rooms_version++;  /* unknown: as if changed */
	else if (v != st->data_version)
		st->rooms_version++;
	st->data_version = v;
	sqlite_util_stmt_done(s);
	return st->rooms_version;
}

cc_err store_stmt_run(struct store *st, enum store_stmt_id id, const char *what)
{
	rooms_version_bump(st, id);
	return sqlite_util_stmt_run(STORE_NAME, st->stmt[id], what);
}

cc_err store_step_row(sqlite3_stmt *s, const char *what)
{
	return sqlite_util_step_row(STORE_NAME, s, what);
}

cc_err store_bind_check(sqlite3_stmt *s, int rc, const char *what)
{
	return sqlite_util_bind_check(STORE_NAME, s, rc, what);
}

cc_err store_tx_begin(struct store *st)
{
	return store_stmt_run(st, STMT_BEGIN, "begin transaction");
}

cc_err store_tx_end(struct store *st, cc_err err)
{
	return sqlite_util_tx_end(STORE_NAME, st->stmt[STMT_COMMIT], st->stmt[STMT_ROLLBACK], err);
}

cc_err store_bind_i64(sqlite3_stmt *s, int i, int64_t v)
{
	return store_bind_check(s, sqlite3_bind_int64(s, i, v), "bind integer");
}

cc_err store_bind_blob(sqlite3_stmt *s, int i, const void *p, size_t len)
{
	return store_bind_check(s, sqlite3_bind_blob(s, i, p, (int)len, SQLITE_STATIC),
				"bind blob");
}

cc_err store_stmt_write(struct store *st, enum store_stmt_id id, cc_err bind_err,
			const char *what)
{
	sqlite3_stmt *s = st->stmt[id];
	if (bind_err) {
		sqlite_util_stmt_done(s);
		return bind_err;
	}
	rooms_version_bump(st, id);
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

cc_err store_stmt_write_one(struct store *st, enum store_stmt_id id, cc_err bind_err,
			    const char *what)
{
	cc_err err = store_stmt_write(st, id, bind_err, what);
	if (!err && sqlite3_changes(st->db) == 0)
		err = CC_ERR_NOT_FOUND;
	return err;
}

cc_err store_write_check(struct store *st)
{
	if (st->in_tx && sqlite3_get_autocommit(st->db)) {
		log_error("store: the transaction was rolled back after an earlier error");
		return CC_ERR_STORE;
	}
	return CC_OK;
}

cc_err store_write_begin(struct store *st, bool *own)
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

cc_err store_write_end(struct store *st, bool own, cc_err err)
{
	return own ? store_tx_end(st, err) : err;
}

cc_err store_walk_check(sqlite3_stmt *s)
{
	if (sqlite3_stmt_busy(s)) {
		log_error("store: a walk was started again from its own callback");
		return CC_ERR_STATE;
	}
	return CC_OK;
}

cc_err store_walk_stopped(int rv)
{
	if (rv > 0 && rv < CC_ERR_COUNT_)
		return (cc_err)rv;
	return CC_ERR_INTERNAL;
}

bool store_col_int(sqlite3_stmt *s, int col, int64_t min, int64_t max, int64_t *v)
{
	if (sqlite3_column_type(s, col) != SQLITE_INTEGER)
		return false;
	*v = sqlite3_column_int64(s, col);
	return *v >= min && *v <= max;
}

cc_err store_col_blob(sqlite3_stmt *s, int col, size_t min, size_t max,
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

cc_err store_blob_dup(const uint8_t *p, size_t len, uint8_t **out)
{
	*out = malloc(len);
	if (!*out)
		return CC_ERR_NOMEM;
	memcpy(*out, p, len);
	return CC_OK;
}

cc_err store_blob_check(const uint8_t *p, size_t len, size_t max)
{
	if (!p && len)
		return CC_ERR_INTERNAL;
	if (len == 0)
		return CC_ERR_MALFORMED;
	if (len > max)
		return CC_ERR_TOO_LARGE;
	return CC_OK;
}

cc_err store_stmt_count(struct store *st, enum store_stmt_id id, cc_err bind_err,
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
