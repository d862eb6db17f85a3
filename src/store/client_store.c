#include "store/client_store.h"

#include <stdlib.h>
#include <string.h>

#include "store/client_store_internal.h"
#include "util/ascii.h"
#include "util/buf.h"
#include "util/log.h"

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
	/* 2: protocol 2. Rooms of protocol 1 cannot be read under its rules, so
	 * their secrets and counters go; pins stay. Sequence numbers count per
	 * sender and epoch. rooms keeps each room's verified chain head (what a
	 * later chain must extend) and what /rooms shows; sign_keys the newest
	 * signing key seen per identity key; activity the latest signed time
	 * seen per key (nobody is signed out as expired while active). */
	("DROP TABLE room_keys;"
	 "DROP TABLE seen;"
	 "DROP TABLE own_seq;"
	 "CREATE TABLE epoch_secrets ("
	 " room BLOB NOT NULL CHECK(length(room) = 16),"
	 " epoch INTEGER NOT NULL CHECK(epoch BETWEEN 0 AND 4294967295),"
	 " secret BLOB NOT NULL CHECK(length(secret) = 32),"
	 " PRIMARY KEY (room, epoch)"
	 ") STRICT, WITHOUT ROWID;"
	 "CREATE TABLE seen ("
	 " room BLOB NOT NULL CHECK(length(room) = 16),"
	 " sender BLOB NOT NULL CHECK(length(sender) = 32),"
	 " epoch INTEGER NOT NULL CHECK(epoch BETWEEN 0 AND 4294967295),"
	 " last_seq INTEGER NOT NULL CHECK(last_seq >= 0),"
	 " PRIMARY KEY (room, sender, epoch)"
	 ") STRICT, WITHOUT ROWID;"
	 "CREATE TABLE own_seq ("
	 " room BLOB NOT NULL CHECK(length(room) = 16),"
	 " epoch INTEGER NOT NULL CHECK(epoch BETWEEN 0 AND 4294967295),"
	 " next_seq INTEGER NOT NULL CHECK(next_seq >= 1),"
	 " PRIMARY KEY (room, epoch)"
	 ") STRICT, WITHOUT ROWID;"
	 "CREATE TABLE rooms ("
	 " room BLOB NOT NULL PRIMARY KEY CHECK(length(room) = 16),"
	 " head_count INTEGER NOT NULL CHECK(head_count BETWEEN 0 AND 4294967295),"
	 " head_hash BLOB NOT NULL CHECK(length(head_hash) = 32),"
	 " epoch INTEGER NOT NULL CHECK(epoch BETWEEN 0 AND 4294967295),"
	 " members INTEGER NOT NULL CHECK(members BETWEEN 0 AND 4294967295),"
	 " admin TEXT NOT NULL CHECK(length(admin) <= 32),"
	 " title TEXT NOT NULL CHECK(length(CAST(title AS BLOB)) <= 200),"
	 " last_msg_id INTEGER NOT NULL DEFAULT 0 CHECK(last_msg_id >= 0)"
	 ") STRICT, WITHOUT ROWID;"
	 "CREATE TABLE sign_keys ("
	 " fingerprint BLOB NOT NULL PRIMARY KEY CHECK(length(fingerprint) = 32),"
	 " version INTEGER NOT NULL CHECK(version BETWEEN 1 AND 4294967295),"
	 " sign_pub BLOB NOT NULL CHECK(length(sign_pub) = 32)"
	 ") STRICT, WITHOUT ROWID;"
	 "CREATE TABLE activity ("
	 " fingerprint BLOB NOT NULL PRIMARY KEY CHECK(length(fingerprint) = 32),"
	 " last_ms INTEGER NOT NULL CHECK(last_ms >= 0)"
	 ") STRICT, WITHOUT ROWID;"),
	/* 3: protocol 3, forward secrecy. Epoch secrets are no longer kept:
	 * each sender's chain key is, only the current one (a sender's messages
	 * arrive in order or not at all, so no key passed over is kept); this
	 * client's own receiving keys (X25519,
	 * the private part deleted once retired long enough) and the newest
	 * receiving key seen per identity key. Rooms of protocol 2 cannot be
	 * read any more: their state goes; pins, signing keys and activity
	 * stay. */
	("DROP TABLE epoch_secrets;"
	 "DROP TABLE own_seq;"
	 "DELETE FROM seen;"
	 "DELETE FROM rooms;"
	 /* Epochs below keys_from have had their chains deleted: never made
	  * again (a secret the server replays must not rewind a chain). */
	 "ALTER TABLE rooms ADD COLUMN keys_from INTEGER NOT NULL DEFAULT 0"
	 " CHECK(keys_from BETWEEN 0 AND 4294967296);"
	 "CREATE TABLE chains ("
	 " room BLOB NOT NULL CHECK(length(room) = 16),"
	 " epoch INTEGER NOT NULL CHECK(epoch BETWEEN 0 AND 4294967295),"
	 " sender BLOB NOT NULL CHECK(length(sender) = 32),"
	 " chain_key BLOB NOT NULL CHECK(length(chain_key) = 32),"
	 " next_seq INTEGER NOT NULL CHECK(next_seq >= 1),"
	 " PRIMARY KEY (room, epoch, sender)"
	 ") STRICT, WITHOUT ROWID;"
	 "CREATE TABLE recv_keys ("
	 " version INTEGER NOT NULL PRIMARY KEY CHECK(version BETWEEN 1 AND 4294967295),"
	 " priv BLOB NOT NULL CHECK(length(priv) = 32),"
	 " pub BLOB NOT NULL CHECK(length(pub) = 32),"
	 " created_ms INTEGER NOT NULL CHECK(created_ms >= 0),"
	 " retired_ms INTEGER NOT NULL DEFAULT 0 CHECK(retired_ms >= 0)"
	 ") STRICT;"
	 "CREATE TABLE recv_seen ("
	 " fingerprint BLOB NOT NULL PRIMARY KEY CHECK(length(fingerprint) = 32),"
	 " version INTEGER NOT NULL CHECK(version BETWEEN 1 AND 4294967295),"
	 " created_ms INTEGER NOT NULL CHECK(created_ms >= 0),"
	 " pub BLOB NOT NULL CHECK(length(pub) = 32)"
	 ") STRICT, WITHOUT ROWID;"),
	/* 4: the identity keys this client moved away from (/rotate-key): the
	 * rooms' histories still name them, and what they signed is ours. */
	("CREATE TABLE own_keys ("
	 " fingerprint BLOB NOT NULL PRIMARY KEY CHECK(length(fingerprint) = 32),"
	 " moved_ms INTEGER NOT NULL CHECK(moved_ms >= 0)"
	 ") STRICT, WITHOUT ROWID;"),
	/* 5: secrets at rest. The secret columns take a sealed value too (32
	 * bytes and the sealer's 28: client_store_seal.c; a room's title, which
	 * only members read, as a sealed BLOB), so their tables are made again
	 * with that check (SQLite cannot change a CHECK in place); at_rest says
	 * which they hold. No row: in clear, as every file before this step. */
	("CREATE TABLE rooms_5 ("
	 " room BLOB NOT NULL PRIMARY KEY CHECK(length(room) = 16),"
	 " head_count INTEGER NOT NULL CHECK(head_count BETWEEN 0 AND 4294967295),"
	 " head_hash BLOB NOT NULL CHECK(length(head_hash) = 32),"
	 " epoch INTEGER NOT NULL CHECK(epoch BETWEEN 0 AND 4294967295),"
	 " members INTEGER NOT NULL CHECK(members BETWEEN 0 AND 4294967295),"
	 " admin TEXT NOT NULL CHECK(length(admin) <= 32),"
	 " title ANY NOT NULL CHECK((typeof(title) = 'text' AND"
	 "  length(CAST(title AS BLOB)) <= 200) OR"
	 "  (typeof(title) = 'blob' AND length(title) BETWEEN 29 AND 228)),"
	 " last_msg_id INTEGER NOT NULL DEFAULT 0 CHECK(last_msg_id >= 0),"
	 " keys_from INTEGER NOT NULL DEFAULT 0 CHECK(keys_from BETWEEN 0 AND 4294967296)"
	 ") STRICT, WITHOUT ROWID;"
	 "INSERT INTO rooms_5 SELECT room, head_count, head_hash, epoch, members, admin, title,"
	 " last_msg_id, keys_from FROM rooms;"
	 "DROP TABLE rooms;"
	 "ALTER TABLE rooms_5 RENAME TO rooms;"
	 "CREATE TABLE recv_keys_5 ("
	 " version INTEGER NOT NULL PRIMARY KEY CHECK(version BETWEEN 1 AND 4294967295),"
	 " priv BLOB NOT NULL CHECK(length(priv) IN (32, 60)),"
	 " pub BLOB NOT NULL CHECK(length(pub) = 32),"
	 " created_ms INTEGER NOT NULL CHECK(created_ms >= 0),"
	 " retired_ms INTEGER NOT NULL DEFAULT 0 CHECK(retired_ms >= 0)"
	 ") STRICT;"
	 "INSERT INTO recv_keys_5 SELECT version, priv, pub, created_ms, retired_ms FROM recv_keys;"
	 "DROP TABLE recv_keys;"
	 "ALTER TABLE recv_keys_5 RENAME TO recv_keys;"
	 "CREATE TABLE chains_5 ("
	 " room BLOB NOT NULL CHECK(length(room) = 16),"
	 " epoch INTEGER NOT NULL CHECK(epoch BETWEEN 0 AND 4294967295),"
	 " sender BLOB NOT NULL CHECK(length(sender) = 32),"
	 " chain_key BLOB NOT NULL CHECK(length(chain_key) IN (32, 60)),"
	 " next_seq INTEGER NOT NULL CHECK(next_seq >= 1),"
	 " PRIMARY KEY (room, epoch, sender)"
	 ") STRICT, WITHOUT ROWID;"
	 "INSERT INTO chains_5 SELECT room, epoch, sender, chain_key, next_seq FROM chains;"
	 "DROP TABLE chains;"
	 "ALTER TABLE chains_5 RENAME TO chains;"
	 "CREATE TABLE at_rest ("
	 " id INTEGER NOT NULL PRIMARY KEY CHECK(id = 1),"
	 " sealed INTEGER NOT NULL CHECK(sealed IN (0, 1)),"
	 " warned INTEGER NOT NULL CHECK(warned IN (0, 1)),"
	 " kdf_log2_n INTEGER NOT NULL CHECK(kdf_log2_n BETWEEN 0 AND 63),"
	 " kdf_r INTEGER NOT NULL CHECK(kdf_r BETWEEN 0 AND 4294967295),"
	 " kdf_p INTEGER NOT NULL CHECK(kdf_p BETWEEN 0 AND 4294967295),"
	 " salt BLOB,"
	 " check_value BLOB,"
	 " identity_pending BLOB CHECK(identity_pending IS NULL OR length(identity_pending) = 32),"
	 " CHECK((sealed = 0 AND salt IS NULL AND check_value IS NULL) OR"
	 "       (sealed = 1 AND length(salt) = 16 AND length(check_value) = 32))"
	 ") STRICT;"),
};

static const struct sqlite_util_schema cstore_schema = {
	.name = CSTORE_NAME,
	.migrations = cstore_migrations,
	.latest = (int)(sizeof cstore_migrations / sizeof cstore_migrations[0]),
	/* Chain keys are overwritten at every message: no old one may linger
	 * in a write-ahead log. */
	.rollback_journal = true,
};

static const char *const cstore_stmt_sql[STMT_COUNT_] = {
	[STMT_BEGIN] = "BEGIN IMMEDIATE",
	[STMT_COMMIT] = "COMMIT",
	[STMT_ROLLBACK] = "ROLLBACK",
	/* A function's own transaction inside a batch (cstore_begin). */
	[STMT_SAVEPOINT] = "SAVEPOINT part",
	[STMT_RELEASE] = "RELEASE part",
	[STMT_ROLLBACK_TO] = "ROLLBACK TO part",
	/* A chain is made once, when its epoch's secret is opened; never reset
	 * (a replayed secret must not rewind it). */
	[STMT_CHAIN_INSERT] = ("INSERT INTO chains(room, epoch, sender, chain_key, next_seq)"
			       " VALUES(?1, ?2, ?3, ?4, 1) ON CONFLICT DO NOTHING"),
	[STMT_CHAIN_FORGOTTEN] = ("SELECT count(*) FROM rooms WHERE room = ?1 AND keys_from > ?2"),
	[STMT_ROOM_KEYS_FROM] = ("UPDATE rooms SET keys_from = ?2 WHERE room = ?1 AND keys_from < ?2"),
	[STMT_RECV_MAX] = "SELECT coalesce(max(version), 0) FROM recv_keys",
	[STMT_CHAIN_GET] = ("SELECT chain_key, next_seq FROM chains"
			    " WHERE room = ?1 AND epoch = ?2 AND sender = ?3"),
	/* Only forward: a chain never steps back. */
	[STMT_CHAIN_SET] = ("UPDATE chains SET chain_key = ?4, next_seq = ?5"
			    " WHERE room = ?1 AND epoch = ?2 AND sender = ?3 AND next_seq < ?5"),
	[STMT_CHAIN_COUNT] = "SELECT count(*) FROM chains WHERE room = ?1 AND epoch = ?2",
	[STMT_CHAIN_SENT] = ("SELECT coalesce(sum(next_seq - 1), 0) FROM chains"
			     " WHERE room = ?1 AND epoch = ?2"),
	[STMT_CHAIN_FORGET] = "DELETE FROM chains WHERE room = ?1 AND epoch <= ?2",
	[STMT_RECV_PUT] = ("INSERT INTO recv_keys(version, priv, pub, created_ms)"
			   " VALUES(?1, ?2, ?3, ?4)"),
	[STMT_RECV_RETIRE] = ("UPDATE recv_keys SET retired_ms = ?2"
			      " WHERE version < ?1 AND retired_ms = 0"),
	[STMT_RECV_GET] = ("SELECT version, priv, pub, created_ms, retired_ms FROM recv_keys"
			   " WHERE version = ?1"),
	[STMT_RECV_CURRENT] = ("SELECT version, priv, pub, created_ms, retired_ms FROM recv_keys"
			       " ORDER BY version DESC LIMIT 1"),
	[STMT_RECV_DELETE] = ("DELETE FROM recv_keys WHERE retired_ms > 0 AND retired_ms < ?1"),
	[STMT_RECV_SEEN_GET] = ("SELECT version, created_ms, pub FROM recv_seen"
				" WHERE fingerprint = ?1"),
	[STMT_RECV_SEEN_PUT] = ("INSERT INTO recv_seen(fingerprint, version, created_ms, pub)"
				" VALUES(?1, ?2, ?3, ?4) ON CONFLICT(fingerprint) DO UPDATE SET"
				" version = excluded.version, created_ms = excluded.created_ms,"
				" pub = excluded.pub WHERE excluded.version > version"),
	[STMT_SEEN_GET] = ("SELECT last_seq FROM seen WHERE room = ?1 AND sender = ?2"
			   " AND epoch = ?3"),
	/* The WHERE makes "only raises" one atomic statement: no read-then-write
	 * race with another connection. */
	[STMT_SEEN_PUT] = ("INSERT INTO seen(room, sender, epoch, last_seq) VALUES(?1, ?2, ?3, ?4)"
			   " ON CONFLICT(room, sender, epoch) DO UPDATE SET"
			   " last_seq = excluded.last_seq WHERE excluded.last_seq > last_seq"),
	[STMT_SEEN_FORGET] = "DELETE FROM seen WHERE room = ?1",
	[STMT_CHAIN_FORGET_ROOM] = "DELETE FROM chains WHERE room = ?1",
	[STMT_ROOM_GET] = ("SELECT head_count, head_hash, epoch, members, admin, title, last_msg_id,"
			   " keys_from FROM rooms WHERE room = ?1"),
	[STMT_ROOM_PUT] = ("INSERT INTO rooms(room, head_count, head_hash, epoch, members, admin,"
			   " title) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)"
			   " ON CONFLICT(room) DO UPDATE SET head_count = excluded.head_count,"
			   " head_hash = excluded.head_hash, epoch = excluded.epoch,"
			   " members = excluded.members, admin = excluded.admin,"
			   " title = excluded.title"),
	[STMT_ROOM_LAST_ID] = ("UPDATE rooms SET last_msg_id = ?2"
			       " WHERE room = ?1 AND last_msg_id < ?2"),
	/* The head stays: it is how a replayed old history is caught. */
	[STMT_ROOM_FORGET] = "UPDATE rooms SET title = '', last_msg_id = 0 WHERE room = ?1",
	[STMT_SIGN_GET] = "SELECT version, sign_pub FROM sign_keys WHERE fingerprint = ?1",
	[STMT_SIGN_PUT] = ("INSERT INTO sign_keys(fingerprint, version, sign_pub) VALUES(?1, ?2, ?3)"
			   " ON CONFLICT(fingerprint) DO UPDATE SET version = excluded.version,"
			   " sign_pub = excluded.sign_pub WHERE excluded.version > version"),
	[STMT_OWN_KEY_PUT] = ("INSERT INTO own_keys(fingerprint, moved_ms) VALUES(?1, ?2)"
			      " ON CONFLICT(fingerprint) DO NOTHING"),
	[STMT_OWN_KEY_GET] = "SELECT moved_ms FROM own_keys WHERE fingerprint = ?1",
	[STMT_ACTIVITY_GET] = "SELECT last_ms FROM activity WHERE fingerprint = ?1",
	[STMT_ACTIVITY_PUT] = ("INSERT INTO activity(fingerprint, last_ms) VALUES(?1, ?2)"
			       " ON CONFLICT(fingerprint) DO UPDATE SET last_ms = excluded.last_ms"
			       " WHERE excluded.last_ms > last_ms"),
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
	[STMT_AT_REST_GET] = ("SELECT sealed, warned, kdf_log2_n, kdf_r, kdf_p, salt, check_value,"
			      " identity_pending FROM at_rest WHERE id = 1"),
	[STMT_AT_REST_PUT] = ("INSERT OR REPLACE INTO at_rest(id, sealed, warned, kdf_log2_n, kdf_r,"
			      " kdf_p, salt, check_value, identity_pending)"
			      " VALUES(1, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"),
	[STMT_RECV_ALL] = "SELECT version, priv, pub FROM recv_keys ORDER BY version",
	[STMT_RECV_SET_PRIV] = "UPDATE recv_keys SET priv = ?2 WHERE version = ?1",
	[STMT_CHAIN_ALL] = ("SELECT room, epoch, sender, chain_key, next_seq FROM chains"
			    " ORDER BY room, epoch, sender"),
	[STMT_CHAIN_SET_KEY] = ("UPDATE chains SET chain_key = ?4"
				" WHERE room = ?1 AND epoch = ?2 AND sender = ?3"),
	/* An empty title stays empty text in either kind of store (a room
	 * forgotten, or untitled): there is nothing to hide in it. */
	[STMT_ROOM_TITLES] = "SELECT room, title FROM rooms WHERE title != '' ORDER BY room",
	[STMT_ROOM_SET_TITLE] = "UPDATE rooms SET title = ?2 WHERE room = ?1",
};

/* Shorthands that bind the log name and the statement table. */
cc_err cstore_run(struct client_store *cs, enum cstore_stmt_id id, const char *what)
{
	return sqlite_util_stmt_run(CSTORE_NAME, cs->stmt[id], what);
}

cc_err cstore_bind_room(struct client_store *cs, enum cstore_stmt_id id,
			       const uint8_t *room)
{
	sqlite3_stmt *s = cs->stmt[id];
	return sqlite_util_bind_check(CSTORE_NAME, s,
				      sqlite3_bind_blob(s, 1, room, CSTORE_ROOM_ID_LEN,
							SQLITE_STATIC),
				      "bind room");
}

cc_err cstore_bind_int(struct client_store *cs, enum cstore_stmt_id id, int col,
			      int64_t v, const char *what)
{
	sqlite3_stmt *s = cs->stmt[id];
	return sqlite_util_bind_check(CSTORE_NAME, s, sqlite3_bind_int64(s, col, v), what);
}

cc_err cstore_bind_blob(struct client_store *cs, enum cstore_stmt_id id, int col,
			       const void *p, int len, const char *what)
{
	sqlite3_stmt *s = cs->stmt[id];
	return sqlite_util_bind_check(CSTORE_NAME, s,
				      sqlite3_bind_blob(s, col, p, len, SQLITE_STATIC), what);
}

/* Inside a batch a function's transaction is a savepoint: its writes stay
 * all or nothing, and are made durable with the batch. */
cc_err cstore_tx_begin(struct client_store *cs)
{
	if (cs->batch)
		return cstore_run(cs, STMT_SAVEPOINT, "begin part of the batch");
	return cstore_run(cs, STMT_BEGIN, "begin transaction");
}

/* Commits on success, rolls back otherwise; returns the outcome. */
cc_err cstore_tx_end(struct client_store *cs, cc_err err)
{
	if (cs->batch) {
		/* ROLLBACK TO undoes the part and keeps the savepoint: release it. */
		if (err)
			sqlite_util_stmt_run(CSTORE_NAME, cs->stmt[STMT_ROLLBACK_TO], "undo part");
		cc_err rerr = sqlite_util_stmt_run(CSTORE_NAME, cs->stmt[STMT_RELEASE], "end part");
		return err ? err : rerr;
	}
	return sqlite_util_tx_end(CSTORE_NAME, cs->stmt[STMT_COMMIT], cs->stmt[STMT_ROLLBACK],
				  err);
}

/* Steps a bound query that returns at most one row and reads its first
 * column as an integer in [min, INT64_MAX]: CC_OK, CC_ERR_NOT_FOUND or an
 * error. Always resets the statement. */
cc_err cstore_fetch_int(struct client_store *cs, enum cstore_stmt_id id, int64_t min,
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
	/* sqlite_util_open sets secure_delete: what a delete or an overwrite of
	 * a chain key frees in the file is zeroed, not left in free pages. */
	cc_err err = sqlite_util_open(&cstore_schema, path, &cs->db, &cs->version);
	if (!err)
		err = sqlite_util_prepare_all(CSTORE_NAME, cs->db, cstore_stmt_sql, cs->stmt,
					      STMT_COUNT_);
	if (!err)
		err = cstore_at_rest_load(cs);
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

cc_err cstore_room_forget(struct client_store *cs, const uint8_t room[CSTORE_ROOM_ID_LEN])
{
	if (!cs || !room)
		return CC_ERR_INTERNAL;
	static const enum cstore_stmt_id steps[] = {STMT_CHAIN_FORGET_ROOM, STMT_SEEN_FORGET,
						    STMT_ROOM_FORGET};
	/* All or nothing: half a forget could leave secrets of a room we left. */
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

/* Binds ?1 room, then ?2.. as the blob fp (if not NULL) and the integers a, b
 * (each if >= 0): the shapes of every keyed statement here. On error the
 * statement is left clean. */
cc_err cstore_bind_key(struct client_store *cs, enum cstore_stmt_id id,
			      const uint8_t *room, const uint8_t *fp, int64_t a, int64_t b)
{
	int col = 1;
	cc_err err = CC_OK;
	if (room)
		err = cstore_bind_blob(cs, id, col++, room, CSTORE_ROOM_ID_LEN, "bind room");
	if (!err && fp)
		err = cstore_bind_blob(cs, id, col++, fp, CSTORE_FP_LEN, "bind fingerprint");
	if (!err && a >= 0)
		err = cstore_bind_int(cs, id, col++, a, "bind number");
	if (!err && b >= 0)
		err = cstore_bind_int(cs, id, col++, b, "bind number");
	if (err)
		sqlite_util_stmt_done(cs->stmt[id]);
	return err;
}

/* Copies column col (TEXT of at most max bytes, valid UTF-8 checked by the
 * caller's rules) into out. */
bool cstore_col_text(sqlite3_stmt *s, int col, char *out, size_t max)
{
	const unsigned char *t = sqlite3_column_text(s, col);
	int n = sqlite3_column_bytes(s, col);
	if (sqlite3_column_type(s, col) != SQLITE_TEXT || !t || n < 0 || (size_t)n > max ||
	    memchr(t, 0, (size_t)n))
		return false;
	memcpy(out, t, (size_t)n);
	out[n] = '\0';
	return true;
}

bool cstore_col_fixed(sqlite3_stmt *s, int col, void *out, size_t n)
{
	const void *p = sqlite3_column_blob(s, col);
	if (sqlite3_column_type(s, col) != SQLITE_BLOB || !p ||
	    (size_t)sqlite3_column_bytes(s, col) != n)
		return false;
	memcpy(out, p, n);
	return true;
}

cc_err cstore_room_get(struct client_store *cs, const uint8_t room[CSTORE_ROOM_ID_LEN],
		       struct cstore_room *out)
{
	if (!out)
		return CC_ERR_INTERNAL;
	memset(out, 0, sizeof *out);
	if (!cs || !room)
		return CC_ERR_INTERNAL;
	sqlite3_stmt *s = cs->stmt[STMT_ROOM_GET];
	cc_err err = cstore_bind_key(cs, STMT_ROOM_GET, room, NULL, -1, -1);
	if (err)
		return err;
	err = sqlite_util_step_row(CSTORE_NAME, s, "read room");
	if (!err) {
		int64_t count = sqlite3_column_int64(s, 0), epoch = sqlite3_column_int64(s, 2);
		int64_t members = sqlite3_column_int64(s, 3), last = sqlite3_column_int64(s, 6);
		const void *hash = sqlite3_column_blob(s, 1);
		if (sqlite3_column_type(s, 1) != SQLITE_BLOB || !hash ||
		    sqlite3_column_bytes(s, 1) != CSTORE_HASH_LEN || count < 0 ||
		    count > UINT32_MAX || epoch < 0 || epoch > UINT32_MAX || members < 0 ||
		    members > UINT32_MAX || last < 0 ||
		    !cstore_col_text(s, 4, out->admin, CSTORE_NICK_MAX)) {
			log_error(CSTORE_NAME ": rooms row is damaged");
			err = CC_ERR_STORE;
		} else if (!(err = cstore_col_title(cs, s, 5, room, out->title))) {
			out->head_count = (uint32_t)count;
			memcpy(out->head_hash, hash, CSTORE_HASH_LEN);
			out->epoch = (uint32_t)epoch;
			out->members = (uint32_t)members;
			out->last_msg_id = (uint64_t)last;
			int64_t from = sqlite3_column_int64(s, 7);
			out->keys_from = from < 0 ? 0 : from > UINT32_MAX ? UINT32_MAX : (uint32_t)from;
		}
	}
	sqlite_util_stmt_done(s);
	if (err)
		memset(out, 0, sizeof *out);
	return err;
}

cc_err cstore_room_put(struct client_store *cs, const uint8_t room[CSTORE_ROOM_ID_LEN],
		       const struct cstore_room *r)
{
	if (!cs || !room || !r)
		return CC_ERR_INTERNAL;
	size_t admin_len = strnlen(r->admin, sizeof r->admin);
	size_t title_len = strnlen(r->title, sizeof r->title);
	if (admin_len > CSTORE_NICK_MAX || title_len > CSTORE_TITLE_MAX)
		return CC_ERR_TOO_LARGE;
	sqlite3_stmt *s = cs->stmt[STMT_ROOM_PUT];
	cc_err err = cstore_bind_key(cs, STMT_ROOM_PUT, room, NULL, r->head_count, -1);
	if (!err)
		err = cstore_bind_blob(cs, STMT_ROOM_PUT, 3, r->head_hash, CSTORE_HASH_LEN,
				       "bind head");
	if (!err)
		err = cstore_bind_int(cs, STMT_ROOM_PUT, 4, r->epoch, "bind epoch");
	if (!err)
		err = cstore_bind_int(cs, STMT_ROOM_PUT, 5, r->members, "bind members");
	if (!err)
		err = sqlite_util_bind_check(CSTORE_NAME, s,
					     sqlite3_bind_text(s, 6, r->admin, (int)admin_len,
							       SQLITE_STATIC), "bind admin");
	if (!err)
		err = cstore_bind_title(cs, STMT_ROOM_PUT, 7, room, r->title, title_len);
	if (err) {
		sqlite_util_stmt_done(s);
		return err;
	}
	return cstore_run(cs, STMT_ROOM_PUT, "store room");
}

cc_err cstore_room_last_id_put(struct client_store *cs, const uint8_t room[CSTORE_ROOM_ID_LEN],
			       uint64_t msg_id)
{
	if (!cs || !room)
		return CC_ERR_INTERNAL;
	/* No honest server gets there (ids count up from 1). */
	if (msg_id > INT64_MAX)
		return CC_ERR_MALFORMED;
	cc_err err = cstore_bind_key(cs, STMT_ROOM_LAST_ID, room, NULL, (int64_t)msg_id, -1);
	return err ? err : cstore_run(cs, STMT_ROOM_LAST_ID, "store last message id");
}

cc_err cstore_seen_get(struct client_store *cs, const uint8_t room[CSTORE_ROOM_ID_LEN],
		       const uint8_t sender_fp[CSTORE_FP_LEN], uint32_t epoch,
		       uint64_t *last_seq)
{
	if (!last_seq)
		return CC_ERR_INTERNAL;
	*last_seq = 0;
	if (!cs || !room || !sender_fp)
		return CC_ERR_INTERNAL;
	cc_err err = cstore_bind_key(cs, STMT_SEEN_GET, room, sender_fp, epoch, -1);
	if (err)
		return err;
	int64_t v = 0;
	err = cstore_fetch_int(cs, STMT_SEEN_GET, 0, &v, "read seen");
	if (err == CC_ERR_NOT_FOUND)
		return CC_OK;
	if (!err)
		*last_seq = (uint64_t)v;
	return err;
}

cc_err cstore_sign_get(struct client_store *cs, const uint8_t fp[CSTORE_FP_LEN],
		       uint32_t *version, uint8_t pub[CSTORE_KEY_LEN])
{
	if (!version || !pub)
		return CC_ERR_INTERNAL;
	*version = 0;
	memset(pub, 0, CSTORE_KEY_LEN);
	if (!cs || !fp)
		return CC_ERR_INTERNAL;
	sqlite3_stmt *s = cs->stmt[STMT_SIGN_GET];
	cc_err err = cstore_bind_key(cs, STMT_SIGN_GET, NULL, fp, -1, -1);
	if (err)
		return err;
	err = sqlite_util_step_row(CSTORE_NAME, s, "read signing key");
	if (!err) {
		int64_t v = sqlite3_column_int64(s, 0);
		const void *p = sqlite3_column_blob(s, 1);
		if (sqlite3_column_type(s, 0) != SQLITE_INTEGER || v < 1 || v > UINT32_MAX ||
		    sqlite3_column_type(s, 1) != SQLITE_BLOB || !p ||
		    sqlite3_column_bytes(s, 1) != CSTORE_KEY_LEN) {
			log_error(CSTORE_NAME ": sign_keys row is damaged");
			err = CC_ERR_STORE;
		} else {
			*version = (uint32_t)v;
			memcpy(pub, p, CSTORE_KEY_LEN);
		}
	}
	sqlite_util_stmt_done(s);
	return err;
}

cc_err cstore_sign_put(struct client_store *cs, const uint8_t fp[CSTORE_FP_LEN],
		       uint32_t version, const uint8_t pub[CSTORE_KEY_LEN])
{
	if (!cs || !fp || !pub || version == 0)
		return CC_ERR_INTERNAL;
	cc_err err = cstore_bind_key(cs, STMT_SIGN_PUT, NULL, fp, version, -1);
	if (!err)
		err = cstore_bind_blob(cs, STMT_SIGN_PUT, 3, pub, CSTORE_KEY_LEN, "bind key");
	if (err) {
		sqlite_util_stmt_done(cs->stmt[STMT_SIGN_PUT]);
		return err;
	}
	return cstore_run(cs, STMT_SIGN_PUT, "store signing key");
}

cc_err cstore_activity_get(struct client_store *cs, const uint8_t fp[CSTORE_FP_LEN],
			   uint64_t *last_ms)
{
	if (!last_ms)
		return CC_ERR_INTERNAL;
	*last_ms = 0;
	if (!cs || !fp)
		return CC_ERR_INTERNAL;
	cc_err err = cstore_bind_key(cs, STMT_ACTIVITY_GET, NULL, fp, -1, -1);
	if (err)
		return err;
	int64_t v = 0;
	err = cstore_fetch_int(cs, STMT_ACTIVITY_GET, 0, &v, "read activity");
	if (err == CC_ERR_NOT_FOUND)
		return CC_OK;
	if (!err)
		*last_ms = (uint64_t)v;
	return err;
}

cc_err cstore_activity_put(struct client_store *cs, const uint8_t fp[CSTORE_FP_LEN],
			   uint64_t last_ms)
{
	if (!cs || !fp)
		return CC_ERR_INTERNAL;
	if (last_ms > INT64_MAX)
		return CC_ERR_MALFORMED;
	cc_err err = cstore_bind_key(cs, STMT_ACTIVITY_PUT, NULL, fp, (int64_t)last_ms, -1);
	return err ? err : cstore_run(cs, STMT_ACTIVITY_PUT, "store activity");
}

cc_err cstore_activity_put_all(struct client_store *cs, const uint8_t (*fps)[CSTORE_FP_LEN],
			       const uint64_t *last_ms, size_t n)
{
	if (!cs || (n && (!fps || !last_ms)))
		return CC_ERR_INTERNAL;
	if (n == 0)
		return CC_OK;
	cc_err err = cstore_tx_begin(cs);
	if (err)
		return err;
	for (size_t i = 0; !err && i < n; i++)
		err = cstore_activity_put(cs, fps[i], last_ms[i]);
	return cstore_tx_end(cs, err);
}

cc_err cstore_own_key_add(struct client_store *cs, const uint8_t fp[CSTORE_FP_LEN],
			  uint64_t moved_ms)
{
	if (!cs || !fp)
		return CC_ERR_INTERNAL;
	if (moved_ms > INT64_MAX)
		return CC_ERR_MALFORMED;
	cc_err err = cstore_bind_key(cs, STMT_OWN_KEY_PUT, NULL, fp, (int64_t)moved_ms, -1);
	return err ? err : cstore_run(cs, STMT_OWN_KEY_PUT, "store an old key of ours");
}

cc_err cstore_own_key_has(struct client_store *cs, const uint8_t fp[CSTORE_FP_LEN])
{
	if (!cs || !fp)
		return CC_ERR_INTERNAL;
	cc_err err = cstore_bind_key(cs, STMT_OWN_KEY_GET, NULL, fp, -1, -1);
	int64_t v = 0;
	return err ? err : cstore_fetch_int(cs, STMT_OWN_KEY_GET, 0, &v, "read an old key of ours");
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
	ascii_lower(nick, len, lower);

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
			ascii_lower(out->nick, n_len, have);
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
	ascii_lower(nick, len, lower);

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
