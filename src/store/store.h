/* The store: the server's durable state behind one interface, and the only
 * code that includes <sqlite3.h>. SQLite in WAL mode; the schema is versioned
 * (PRAGMA user_version) and migrated forward on open.
 *
 * Nicknames are compared without regard to case: the store keeps the nickname
 * as registered and a lowercase copy with a UNIQUE index. A key (by its
 * fingerprint) owns at most one nickname. */
#ifndef CC_STORE_H
#define CC_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

#define STORE_NICK_MAX 32
#define STORE_FINGERPRINT_LEN 32
/* Largest public key (SubjectPublicKeyInfo DER) the store accepts; an
 * RSA-4096 key is about 550 bytes. */
#define STORE_PUBKEY_MAX 2048

struct store;

struct store_user {
	int64_t id;
	char nick[STORE_NICK_MAX + 1];
	uint8_t fingerprint[STORE_FINGERPRINT_LEN];
	uint8_t *pubkey;          /* SubjectPublicKeyInfo DER, malloc'd */
	size_t pubkey_len;
	uint64_t created_s;
	uint64_t last_seen_s;
};

/* Opens (creating if needed) the database at path, sets WAL, foreign keys and
 * a busy timeout, and migrates the schema to the newest version. */
cc_err store_open(const char *path, struct store **out);
void store_close(struct store *st);
/* The schema version after migration. */
int store_schema_version(struct store *st);
/* The newest schema version this code knows (the number of migration steps).
 * store_open refuses a file with a newer one (CC_ERR_VERSION). */
int store_schema_latest(void);

/* Binds nick to the key with this fingerprint, or finds the binding:
 *   nick free and key unknown      -> new user, CC_OK
 *   nick bound to this key         -> last_seen updated, CC_OK
 *   nick bound to another key      -> CC_ERR_NICK_TAKEN
 *   key bound to another nick      -> CC_ERR_EXISTS (out->nick names it)
 * out is filled on CC_OK and CC_ERR_EXISTS; release it with store_user_clear.
 * A key that owns a nickname and asks for one bound to another key gets
 * CC_ERR_EXISTS (its own binding), not CC_ERR_NICK_TAKEN. An invalid nickname is
 * CC_ERR_BAD_NICK, an empty key CC_ERR_MALFORMED, a key over STORE_PUBKEY_MAX
 * CC_ERR_TOO_LARGE. The get and register functions zero out first, so
 * store_user_clear is always safe on it. Inside the caller's transaction if
 * one is open (committed with it), else in its own. */
cc_err store_user_register(struct store *st, const char *nick,
			   const uint8_t *pubkey, size_t pubkey_len,
			   const uint8_t fingerprint[STORE_FINGERPRINT_LEN],
			   uint64_t now_s, struct store_user *out);
/* Case-insensitive lookup; CC_ERR_NOT_FOUND if nobody has the nickname. */
cc_err store_user_get_by_nick(struct store *st, const char *nick, struct store_user *out);
cc_err store_user_get_by_fingerprint(struct store *st,
				     const uint8_t fingerprint[STORE_FINGERPRINT_LEN],
				     struct store_user *out);
cc_err store_user_get_by_id(struct store *st, int64_t id, struct store_user *out);
/* Records that the user was seen now (on connect and on disconnect). */
cc_err store_user_touch(struct store *st, int64_t id, uint64_t now_s);
/* Frees what a get/register put in u (wipes nothing secret: keys are public). */
void store_user_clear(struct store_user *u);

/* ---- Signing keys -------------------------------------------------------
 * Each user has an Ed25519 signing key certified by its RSA identity key
 * (the certificate is opaque here: a signature the clients check). */

#define STORE_SIGN_PUB_LEN 32
#define STORE_SIGN_CERT_MAX 1024

/* Sets the user's signing key and certificate, of this version (counted by
 * the user from 1): only a newer version, or the same key again, replaces
 * what is stored; an older version, or another key under the stored
 * version, is CC_ERR_OUTDATED. */
cc_err store_user_set_signing_key(struct store *st, int64_t user_id, uint32_t version,
				  const uint8_t pub[STORE_SIGN_PUB_LEN],
				  const uint8_t *cert, size_t cert_len);
/* CC_ERR_NOT_FOUND if the user has none yet. cert is malloc'd (free it). */
cc_err store_user_get_signing_key(struct store *st, int64_t user_id, uint32_t *version,
				  uint8_t pub[STORE_SIGN_PUB_LEN], uint8_t **cert,
				  size_t *cert_len);

/* ---- Receiving keys -------------------------------------------------------
 * Each user has an X25519 key room secrets are wrapped to, certified by its
 * RSA identity key (opaque here), versioned like the signing key. */
#define STORE_RECV_PUB_LEN 32
struct store_recv_key {
	uint32_t version;             /* 0: none */
	uint64_t created_ms;
	uint8_t pub[STORE_RECV_PUB_LEN];
	uint8_t *cert;                /* malloc'd */
	size_t cert_len;
};
/* The same rule as store_user_set_signing_key: a newer version, or the same
 * key again; else CC_ERR_OUTDATED. */
cc_err store_user_set_receive_key(struct store *st, int64_t user_id, uint32_t version,
				  uint64_t created_ms, const uint8_t pub[STORE_RECV_PUB_LEN],
				  const uint8_t *cert, size_t cert_len);
/* CC_ERR_NOT_FOUND if the user has none yet; clear out after. */
cc_err store_user_get_receive_key(struct store *st, int64_t user_id, struct store_recv_key *out);
void store_recv_key_clear(struct store_recv_key *k);

/* After deleting secrets (wrapped keys): copies the write-ahead log into the
 * database and truncates it, so no deleted page lingers in the log; does
 * nothing if nothing secret was deleted since the last call. Outside a
 * transaction. */
cc_err store_checkpoint(struct store *st);

/* ---- Transactions -------------------------------------------------------
 * Room operations touch several tables; the server wraps each operation (and
 * each batch of messages: group commit) in one transaction. The functions
 * below do not open transactions of their own. Not nestable. */

cc_err store_begin(struct store *st);
cc_err store_commit(struct store *st);
/* Never fails in a way the caller can act on; logs instead. */
void store_rollback(struct store *st);

/* ---- Rooms --------------------------------------------------------------
 * A room is known to the clients by a 16-byte random id, to the store by its
 * row id. Its membership is a hash-chained list of signed records (opaque
 * blobs here; src/e2e/ gives them meaning), its keys are wrapped per member
 * and epoch, its messages are opaque ciphertext blobs numbered per room from 1. */

#define STORE_ROOM_ID_LEN 16
#define STORE_HASH_LEN 32
#define STORE_BLOB_MAX (1024 * 1024)

struct store_room {
	int64_t id;
	uint8_t room_id[STORE_ROOM_ID_LEN];
	int64_t admin_user;
	uint32_t epoch;               /* current key epoch */
	uint32_t record_count;        /* records in the chain (next seq) */
	uint8_t last_record_hash[STORE_HASH_LEN];  /* zeros when no record */
	int64_t last_msg_id;          /* 0 when no message yet */
	uint64_t created_ms;
	bool rekey_owed;              /* a member left or expired: a new epoch is owed */
	bool closed;                  /* a member left: nobody may send until then */
};

/* CC_ERR_EXISTS if a room with this id exists. */
cc_err store_room_create(struct store *st, const uint8_t room_id[STORE_ROOM_ID_LEN],
			 int64_t admin_user, uint64_t now_ms, int64_t *out_id);
/* Changes whenever a room, a membership or a user may have changed (also
 * when such a write is rolled back, and when another connection committed
 * anything to the file): a copy of a room or a membership read from the
 * store is current while this is unchanged. Its own messages and read marks
 * do not change it (a copy's last_msg_id is not kept current). */
uint64_t store_rooms_version(struct store *st);
cc_err store_room_get(struct store *st, const uint8_t room_id[STORE_ROOM_ID_LEN],
		      struct store_room *out);
cc_err store_room_get_by_id(struct store *st, int64_t id, struct store_room *out);
/* Deletes the room and everything in it (members, records, keys, messages). */
cc_err store_room_delete(struct store *st, int64_t room);
cc_err store_room_set_admin(struct store *st, int64_t room, int64_t user);
cc_err store_room_set_epoch(struct store *st, int64_t room, uint32_t epoch);
cc_err store_room_set_rekey_owed(struct store *st, int64_t room, bool owed);
cc_err store_room_set_closed(struct store *st, int64_t room, bool closed);

/* ---- Members ------------------------------------------------------------ */

struct store_member {
	int64_t room;
	int64_t user;
	int64_t first_msg_id;         /* the first message this member may read */
	int64_t last_read_msg_id;     /* the last message delivered to it */
	uint32_t since_epoch;         /* the epoch it joined in */
};

/* CC_ERR_EXISTS if already a member. */
cc_err store_member_add(struct store *st, int64_t room, int64_t user, int64_t first_msg_id,
			uint32_t since_epoch);
/* CC_ERR_NOT_FOUND if not a member. */
cc_err store_member_remove(struct store *st, int64_t room, int64_t user);
/* CC_ERR_NOT_FOUND if not a member (also how the server answers a probe). */
cc_err store_member_get(struct store *st, int64_t room, int64_t user, struct store_member *out);
cc_err store_member_set_read(struct store *st, int64_t room, int64_t user, int64_t msg_id);
/* Raises the member's read mark to msg_id, or to the room's last message if
 * that is lower; never lowers it. CC_OK also when nothing changes (already
 * further, or no longer a member). */
cc_err store_member_advance_read(struct store *st, int64_t room, int64_t user, int64_t msg_id);
cc_err store_member_count(struct store *st, int64_t room, uint32_t *count);
/* Calls fn for each member of the room, in order of joining (rowid).
 * A non-zero return from fn stops the walk and is returned as CC_ERR_INTERNAL
 * unless it is a cc_err, which is returned as is. */
typedef int (*store_member_fn)(void *ctx, const struct store_member *m);
cc_err store_member_each(struct store *st, int64_t room, store_member_fn fn, void *ctx);
/* Calls fn for each room the user is a member of (m->room is the room row id). */
cc_err store_member_each_room_of(struct store *st, int64_t user, store_member_fn fn,
				 void *ctx);

/* ---- Membership records ------------------------------------------------- */

/* Appends record number seq, at the room's current message position
 * (last_msg_id); CC_ERR_EXISTS if seq is taken. Also stores hash (the
 * record's chain hash) as the room's last_record_hash and seq + 1 as its
 * record_count. */
cc_err store_record_append(struct store *st, int64_t room, uint32_t seq,
			   const uint8_t *record, size_t len,
			   const uint8_t hash[STORE_HASH_LEN]);
typedef int (*store_blob_fn)(void *ctx, uint32_t n, const uint8_t *blob, size_t len);
/* position: the room's last message id when the record was appended. */
typedef int (*store_record_fn)(void *ctx, uint32_t seq, uint64_t position,
			       const uint8_t *record, size_t len);
/* Calls fn for each record from seq from_seq on, in order (0: all of them;
 * a room's state streamed in steps goes on where it stopped). */
cc_err store_record_each(struct store *st, int64_t room, uint32_t from_seq, store_record_fn fn,
			 void *ctx);

/* ---- Keys and epochs ---------------------------------------------------- */

/* Stores the epoch's encrypted title (opaque) and, the first time, when it
 * opened. */
cc_err store_epoch_put(struct store *st, int64_t room, uint32_t epoch,
		       const uint8_t *title_ct, size_t len, uint64_t opened_ms);
/* title_ct is malloc'd. CC_ERR_NOT_FOUND if the epoch is unknown. */
cc_err store_epoch_get(struct store *st, int64_t room, uint32_t epoch, uint8_t **title_ct,
		       size_t *len);
/* A room key of this epoch wrapped to this user (opaque); replaces any. */
cc_err store_key_put(struct store *st, int64_t room, uint32_t epoch, int64_t user,
		     const uint8_t *wrapped, size_t len);
/* Calls fn(ctx, epoch, wrapped, len) for the user's keys of epochs >= min_epoch,
 * in epoch order. */
cc_err store_key_each(struct store *st, int64_t room, int64_t user, uint32_t min_epoch,
		      store_blob_fn fn, void *ctx);
/* The member holds the keys of epochs up to max_epoch: its wrapped copies
 * of them are deleted. */
cc_err store_key_forget(struct store *st, int64_t room, int64_t user, uint32_t max_epoch);
/* How many wrapped keys wait for the member. */
cc_err store_key_pending(struct store *st, int64_t room, int64_t user, uint32_t *count);
/* Retention: deletes the wrapped keys of epochs that ended (their successor
 * opened) before before_ms, at most limit of them (0: no limit). */
cc_err store_key_prune_some(struct store *st, uint64_t before_ms, uint32_t limit,
			    uint64_t *deleted);

/* ---- Messages -------------------------------------------------------------- */

struct store_message {
	int64_t room;
	int64_t msg_id;
	int64_t sender;               /* user row id */
	uint32_t epoch;
	uint64_t seq;                 /* the sender's number in the epoch */
	uint64_t ts_ms;               /* the server's time of receipt */
	const uint8_t *blob;          /* valid only during the callback */
	size_t len;
};

/* Appends a message with the next id of the room (last_msg_id + 1), which
 * it returns, and updates the room's last_msg_id. seq is the sender's own
 * number in the epoch: a (sender, epoch, seq) stored before is
 * CC_ERR_REPLAYED, and nothing is stored. */
cc_err store_message_append(struct store *st, int64_t room, int64_t sender, uint32_t epoch,
			    uint64_t seq, uint64_t ts_ms, const uint8_t *blob, size_t len,
			    int64_t *msg_id);
/* The stored message (room, sender, epoch, seq), if its blob is byte for
 * byte this one (a sender sending it again): its id and time of receipt.
 * CC_ERR_NOT_FOUND if none is stored, CC_ERR_REPLAYED if another blob is. */
cc_err store_message_find(struct store *st, int64_t room, int64_t sender, uint32_t epoch,
			  uint64_t seq, const uint8_t *blob, size_t len, int64_t *msg_id,
			  uint64_t *ts_ms);
typedef int (*store_message_fn)(void *ctx, const struct store_message *m);
/* Calls fn for the room's messages with id > after_id, oldest first, at most
 * limit of them (0: no limit). */
cc_err store_message_each(struct store *st, int64_t room, int64_t after_id, uint32_t limit,
			  store_message_fn fn, void *ctx);
/* Messages of the room with id > after_id. */
cc_err store_message_count_after(struct store *st, int64_t room, int64_t after_id,
				 uint32_t *count);
/* Retention: deletes messages older than before_ms (0: no age limit) and, per
 * room, all but the newest max_per_room (0: no count limit). *deleted gets
 * how many went. */
cc_err store_message_prune(struct store *st, uint64_t before_ms, uint32_t max_per_room,
			   uint64_t *deleted);
/* The same, deleting at most limit messages (0: no limit); *deleted == limit
 * means more may remain. Short steps keep a busy server's loop responsive. */
cc_err store_message_prune_some(struct store *st, uint64_t before_ms, uint32_t max_per_room,
				uint32_t limit, uint64_t *deleted);

/* ---- Nickname expiry ------------------------------------------------------
 * A nickname whose owner has been away longer than the server's TTL is freed:
 * the user is deleted, and each room it belonged to remembers it as "gone"
 * (its fingerprint and nickname) until the room's admin signs the records
 * that remove it from the chain and start a new epoch. */

typedef int (*store_user_fn)(void *ctx, const struct store_user *u);
/* Calls fn for each user with last_seen_s < before_s (oldest first). */
cc_err store_user_each_idle(struct store *st, uint64_t before_s, store_user_fn fn, void *ctx);
/* Deletes the user (its nickname is free again) in one transaction of its own
 * (CC_ERR_STATE inside a caller's). For each room it was a member of: the
 * membership row goes, (fingerprint, nickname) is added to the room's gone
 * list and rekey_owed is set; if it was the admin, the role passes to the
 * earliest-joined remaining member; a room left without members is deleted.
 * Its stored messages stay (they are the room's history). */
cc_err store_user_expire(struct store *st, int64_t user_id);
/* Calls fn(ctx, 0, blob, len) for each gone member of the room, where blob
 * is the 32-byte fingerprint followed by the nickname (no NUL). */
cc_err store_room_gone_each(struct store *st, int64_t room, store_blob_fn fn, void *ctx);
/* Forgets a gone member (its removal was signed into the chain). */
cc_err store_room_gone_remove(struct store *st, int64_t room,
			      const uint8_t fingerprint[STORE_FINGERPRINT_LEN]);
/* The public half of a key by fingerprint: a registered user's, or one
 * retired when its nickname expired (user_id 0), kept so that the records and
 * messages it signed still verify. sign_cert_len is 0 when it has no signing
 * key. CC_ERR_NOT_FOUND if the server never knew it. */
struct store_public_key {
	int64_t user_id;
	char nick[STORE_NICK_MAX + 1];
	uint8_t fingerprint[STORE_FINGERPRINT_LEN];
	uint8_t *pubkey;
	size_t pubkey_len;
	uint32_t sign_version;        /* 0 when it has no signing key */
	uint8_t sign_pub[STORE_SIGN_PUB_LEN];
	uint8_t *sign_cert;
	size_t sign_cert_len;
	struct store_recv_key recv;   /* version 0: none (retired keys have none) */
};
cc_err store_public_key_get(struct store *st, const uint8_t fingerprint[STORE_FINGERPRINT_LEN],
			    struct store_public_key *out);
void store_public_key_clear(struct store_public_key *k);

/* ---- Identity keys replaced by their owners (store_keys_moved.c) ----------- */

/* The user moves to a new identity key (the caller checked both keys signed
 * the move): the user keeps its id, nickname, rooms and read marks; its
 * signing and receiving keys go (the new key certifies new ones); the old
 * key is retired, replaced_by the new one, and revoked. CC_ERR_EXISTS if the
 * new key is already known (a user's or a retired one). Commits on its own. */
cc_err store_user_move_key(struct store *st, int64_t user_id, const uint8_t *pubkey,
			   size_t pubkey_len, const uint8_t new_fp[STORE_FINGERPRINT_LEN],
			   uint64_t now_s);
/* CC_OK if the key was revoked by its owner (*has_successor and successor:
 * the key it was replaced by, if any), CC_ERR_NOT_FOUND if not. */
cc_err store_key_revoked(struct store *st, const uint8_t fp[STORE_FINGERPRINT_LEN],
			 uint8_t successor[STORE_FINGERPRINT_LEN], bool *has_successor);
/* The user whose key this is, or was before it moved (following its
 * successors). CC_ERR_NOT_FOUND if none. */
cc_err store_user_get_by_key(struct store *st, const uint8_t fp[STORE_FINGERPRINT_LEN],
			     struct store_user *out);

/* Calls fn for each room the user is a member of whose rekey_owed is set
 * (m->room is the room row id; other fields describe the user's membership):
 * any member may make the new epoch. */
cc_err store_room_each_owed(struct store *st, int64_t user, store_member_fn fn, void *ctx);

#endif
