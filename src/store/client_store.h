/* The client's local store: what a client must remember between runs, in
 * HOME/client.db (SQLite, mode 0600, secure_delete, a rollback journal so
 * that an overwritten key leaves no old copy behind). It holds secrets
 * (receiving keys, chain keys), each deleted as soon as it is no longer
 * needed (client_store_keys.c), and sealed under the home's passphrase when
 * it has one (client_store_seal.c: the store calls a sealer it is given and
 * never sees a key).
 *
 * Room ids are the 16-byte random ids the server knows rooms by; users are
 * identified by the SHA-256 fingerprint of their RSA identity key. */
#ifndef CC_CLIENT_STORE_H
#define CC_CLIENT_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

#define CSTORE_ROOM_ID_LEN 16
#define CSTORE_KEY_LEN 32
#define CSTORE_FP_LEN 32
#define CSTORE_HASH_LEN 32
#define CSTORE_NICK_MAX 32
#define CSTORE_TITLE_MAX 200

struct client_store;

/* Opens or creates the database (mode 0600), a rollback journal,
 * synchronous=FULL, secure_delete, versioned schema migrated forward;
 * refuses a newer schema (CC_ERR_VERSION). */
cc_err cstore_open(const char *path, struct client_store **out);
void cstore_close(struct client_store *cs);

/* Group commit: from cstore_begin to cstore_commit every write joins one
 * transaction, made durable with one disk sync. A function that keeps its
 * writes all or nothing (cstore_message_handled...) still does, as a part of
 * it that a failure undoes alone. Reads see what was written before them.
 * cstore_commit stores all of it or (on an error) none of it; so does a
 * crash before it returns. cstore_rollback forgets it all. One at a time:
 * cstore_begin inside one is CC_ERR_STATE, and so is cstore_commit outside. */
cc_err cstore_begin(struct client_store *cs);
cc_err cstore_commit(struct client_store *cs);
void cstore_rollback(struct client_store *cs);

/* Forgets a room's secrets, counters and title (after leaving it or being
 * expelled) but keeps its chain head, so that a server replaying the old
 * history to us later is still caught. */
cc_err cstore_room_forget(struct client_store *cs, const uint8_t room[CSTORE_ROOM_ID_LEN]);

/* A room as this client last verified it from its chain. */
struct cstore_room {
	uint32_t head_count;                    /* records in the verified chain */
	uint8_t head_hash[CSTORE_HASH_LEN];     /* chain hash of the last one */
	uint32_t epoch;
	uint32_t members;
	char admin[CSTORE_NICK_MAX + 1];        /* "" if none */
	char title[CSTORE_TITLE_MAX + 1];       /* "" if none */
	uint64_t last_msg_id;                   /* highest server message id handled */
	uint32_t keys_from;                     /* epochs below: chain keys deleted */
};
/* CC_ERR_NOT_FOUND if the room was never verified here. */
cc_err cstore_room_get(struct client_store *cs, const uint8_t room[CSTORE_ROOM_ID_LEN],
		       struct cstore_room *out);
/* Stores what a verified chain says (everything but last_msg_id, which only
 * the functions below move). */
cc_err cstore_room_put(struct client_store *cs, const uint8_t room[CSTORE_ROOM_ID_LEN],
		       const struct cstore_room *r);
/* Raises the room's last handled server message id (a lower one is ignored). */
cc_err cstore_room_last_id_put(struct client_store *cs, const uint8_t room[CSTORE_ROOM_ID_LEN],
			       uint64_t msg_id);

/* The highest message sequence number accepted from a sender in an epoch of
 * a room; 0 if none yet. */
cc_err cstore_seen_get(struct client_store *cs, const uint8_t room[CSTORE_ROOM_ID_LEN],
		       const uint8_t sender_fp[CSTORE_FP_LEN], uint32_t epoch,
		       uint64_t *last_seq);
/* The newest signing key seen for a user's identity key: its certificate's
 * version and the key. get: CC_ERR_NOT_FOUND if none yet. put only ever
 * raises the version (a lower one is ignored). */
cc_err cstore_sign_get(struct client_store *cs, const uint8_t fp[CSTORE_FP_LEN],
		       uint32_t *version, uint8_t pub[CSTORE_KEY_LEN]);
cc_err cstore_sign_put(struct client_store *cs, const uint8_t fp[CSTORE_FP_LEN],
		       uint32_t version, const uint8_t pub[CSTORE_KEY_LEN]);

/* The identity keys this client moved away from (/rotate-key): rooms still
 * name them in their histories, and messages signed under them are ours.
 * has: CC_OK if fp is one, CC_ERR_NOT_FOUND if not. */
cc_err cstore_own_key_add(struct client_store *cs, const uint8_t fp[CSTORE_FP_LEN],
			  uint64_t moved_ms);
cc_err cstore_own_key_has(struct client_store *cs, const uint8_t fp[CSTORE_FP_LEN]);

/* The latest time (the signer's clock) of a message or record signed by a
 * key that this client has seen; 0 if none. put only ever raises it. Before
 * signing someone out as expired, a client asks: has this key been silent
 * long enough? */
cc_err cstore_activity_get(struct client_store *cs, const uint8_t fp[CSTORE_FP_LEN],
			   uint64_t *last_ms);
cc_err cstore_activity_put(struct client_store *cs, const uint8_t fp[CSTORE_FP_LEN],
			   uint64_t last_ms);
/* The same for n keys at once, in one transaction (one disk sync). */
cc_err cstore_activity_put_all(struct client_store *cs, const uint8_t (*fps)[CSTORE_FP_LEN],
			       const uint64_t *last_ms, size_t n);

/* Pinned user keys (trust on first use): the fingerprint first seen for a
 * nickname (case-insensitive), and whether the user verified it.
 * get: CC_ERR_NOT_FOUND if never seen. */
struct cstore_pin {
	char nick[CSTORE_NICK_MAX + 1];
	uint8_t fp[CSTORE_FP_LEN];
	int verified;
	uint64_t first_seen_ms;
};
cc_err cstore_pin_get(struct client_store *cs, const char *nick, struct cstore_pin *out);
/* Sets the pin for nick (replacing any) with the verified flag. */
cc_err cstore_pin_put(struct client_store *cs, const char *nick,
		      const uint8_t fp[CSTORE_FP_LEN], int verified, uint64_t now_ms);

/* ---- Receiving keys (client_store_keys.c) ---------------------------------- */

/* One of this client's receiving keys. retired_ms: 0 while current, else
 * when a newer one replaced it; its private part is deleted a grace period
 * later. */
struct cstore_recv_key {
	uint32_t version;
	uint8_t priv[CSTORE_KEY_LEN];
	uint8_t pub[CSTORE_KEY_LEN];
	uint64_t created_ms;
	uint64_t retired_ms;
};
/* Stores a new key and retires the older ones at its creation time, in one
 * transaction. Its version must be above every stored one (else
 * CC_ERR_OUTDATED) and its creation time set (else CC_ERR_MALFORMED). */
cc_err cstore_recv_add(struct client_store *cs, const struct cstore_recv_key *k);
/* CC_ERR_NOT_FOUND if it is not here (never made, or deleted). */
cc_err cstore_recv_get(struct client_store *cs, uint32_t version, struct cstore_recv_key *out);
/* The newest; CC_ERR_NOT_FOUND if none yet. */
cc_err cstore_recv_current(struct client_store *cs, struct cstore_recv_key *out);
/* Deletes the keys retired before before_ms; *deleted (may be NULL) counts. */
cc_err cstore_recv_delete_retired(struct client_store *cs, uint64_t before_ms,
				  uint32_t *deleted);

/* The newest receiving key seen for a user's identity key (its version, when
 * it was made, the key): get CC_ERR_NOT_FOUND if none; put only raises. */
cc_err cstore_recv_seen_get(struct client_store *cs, const uint8_t fp[CSTORE_FP_LEN],
			    uint32_t *version, uint64_t *created_ms, uint8_t pub[CSTORE_KEY_LEN]);
cc_err cstore_recv_seen_put(struct client_store *cs, const uint8_t fp[CSTORE_FP_LEN],
			    uint32_t version, uint64_t created_ms,
			    const uint8_t pub[CSTORE_KEY_LEN]);

/* ---- Secrets at rest (client_store_seal.c) ---------------------------------------
 * The secret columns (recv_keys.priv, chains.chain_key, and rooms.title:
 * only members read a title) are kept in clear or sealed, as client.db's
 * at_rest row says. Sealed, each value is what the sealer made of it
 * (CSTORE_SEAL_OVERHEAD bytes more) with associated data that binds it to
 * its place:
 *
 *   "cryptocat/1 client.db" 0x00 table 0x00 row
 *   recv_keys: u32 version || pub (32)
 *   chains:    room (16) || u32 epoch || sender (32) || u64 next_seq
 *   rooms:     room (16)
 *
 * so a value moved to another row, or a chain key paired with another
 * number, does not open. An empty title stays empty. Counters, pins,
 * heads, admins' names and times stay in clear. */
#define CSTORE_SEAL_OVERHEAD 28         /* a 12-byte nonce and a 16-byte tag */
#define CSTORE_SALT_LEN 16
#define CSTORE_CHECK_LEN 32

/* The sealer: the store calls it for every secret value it writes or reads.
 * seal writes pt_len + CSTORE_SEAL_OVERHEAD bytes; open writes in_len -
 * CSTORE_SEAL_OVERHEAD bytes, or returns CC_ERR_AUTH. */
struct cstore_sealer {
	cc_err (*seal)(void *ctx, const uint8_t *aad, size_t aad_len, const uint8_t *pt,
		       size_t pt_len, uint8_t *out);
	cc_err (*open)(void *ctx, const uint8_t *aad, size_t aad_len, const uint8_t *in,
		       size_t in_len, uint8_t *out);
	void *ctx;
};

/* client.db's at_rest row: how its secrets are kept. */
struct cstore_at_rest {
	bool sealed;
	bool warned;            /* in clear: the user was told, once */
	/* sealed: the scrypt parameters and salt of the key, and a check value
	 * derived beside it that proves a passphrase before anything opens */
	uint8_t kdf_log2_n;
	uint32_t kdf_r, kdf_p;
	uint8_t salt[CSTORE_SALT_LEN];
	uint8_t check[CSTORE_CHECK_LEN];
	/* A passphrase change committed here whose identity.pem.new was not yet
	 * renamed into place: that file's SHA-256 (the client core's crash
	 * recovery reads it). */
	bool identity_pending;
	uint8_t identity_hash[32];
};
/* CC_ERR_NOT_FOUND: no row yet (a new client.db, or one made before
 * secrets at rest existed): its secrets, if any, are in clear. */
cc_err cstore_at_rest_get(struct client_store *cs, struct cstore_at_rest *out);
/* Replaces the row when it does not change how secrets are kept (the
 * warning remembered, the pending change cleared, the first row of a clear
 * store); otherwise CC_ERR_STATE: that is cstore_reseal's. */
cc_err cstore_at_rest_put(struct client_store *cs, const struct cstore_at_rest *row);
/* The sealer of a sealed store (kept by pointer: it must outlive the store
 * or the next call). Until it is set a sealed store's secrets neither open
 * nor are written (CC_ERR_STATE). CC_ERR_STATE for a clear store. */
cc_err cstore_sealer_set(struct client_store *cs, const struct cstore_sealer *sealer);
/* Every secret value opened and kept again with TO (NULL: in clear), and
 * ROW stored (ROW->sealed says which), in one transaction: a crash leaves
 * the old state or the new one. TO is the sealer from then on. */
cc_err cstore_reseal(struct client_store *cs, const struct cstore_sealer *to,
		     const struct cstore_at_rest *row);

/* ---- Chain keys and message keys (client_store_keys.c) ------------------------ */

/* An epoch's chains, one per sender (its first chain key, number 1), made
 * once when its secret is opened, in one transaction; a chain already here
 * is left as it is, and an epoch whose chains were deleted
 * (cstore_epoch_forget) is not made again (never rewound). */
cc_err cstore_epoch_add(struct client_store *cs, const uint8_t room[CSTORE_ROOM_ID_LEN],
			uint32_t epoch, const uint8_t (*senders)[CSTORE_FP_LEN],
			const uint8_t (*chain_keys)[CSTORE_KEY_LEN], size_t n);
/* CC_OK if the epoch's chains are here, else CC_ERR_NOT_FOUND. */
cc_err cstore_epoch_has(struct client_store *cs, const uint8_t room[CSTORE_ROOM_ID_LEN],
			uint32_t epoch);
/* How many messages the epoch's chains have counted (sent or received). */
cc_err cstore_epoch_messages(struct client_store *cs, const uint8_t room[CSTORE_ROOM_ID_LEN],
			     uint32_t epoch, uint64_t *count);
/* A sender's current chain key and its number: CC_ERR_NOT_FOUND if none. */
cc_err cstore_chain_get(struct client_store *cs, const uint8_t room[CSTORE_ROOM_ID_LEN],
			uint32_t epoch, const uint8_t sender[CSTORE_FP_LEN],
			uint8_t chain_key[CSTORE_KEY_LEN], uint64_t *next_seq);
/* What handling one message does to the sender's chain: it moves forward
 * to chain_key of number next_seq (the keys it passed over are not kept:
 * a sender's messages arrive in order or not at all). */
struct cstore_ratchet {
	uint8_t chain_key[CSTORE_KEY_LEN];
	uint64_t next_seq;
};
/* A message handled, in one transaction (one disk sync): the chain's step
 * (ratchet; NULL for our own messages), the sender's seen number for the epoch, the room's last handled
 * server message id and the sender's last activity (signed_ms). */
cc_err cstore_message_handled(struct client_store *cs, const uint8_t room[CSTORE_ROOM_ID_LEN],
			      const uint8_t sender_fp[CSTORE_FP_LEN], uint32_t epoch,
			      uint64_t seq, uint64_t msg_id, uint64_t signed_ms,
			      const struct cstore_ratchet *ratchet);
/* Moves a chain forward to chain_key of number next_seq, durably (our own
 * chain: before the message of the number before is sent, so a crash can
 * never reuse a key). Only forward: CC_ERR_STALE_EPOCH if the chain is
 * already there or past it, CC_ERR_NOT_FOUND if there is no such chain. */
cc_err cstore_chain_advance(struct client_store *cs, const uint8_t room[CSTORE_ROOM_ID_LEN],
			    uint32_t epoch, const uint8_t sender[CSTORE_FP_LEN],
			    const uint8_t chain_key[CSTORE_KEY_LEN], uint64_t next_seq);
/* Deletes the chain keys of the room's epochs up to max_epoch (no message
 * of them can come any more), for good: the room remembers it. */
cc_err cstore_epoch_forget(struct client_store *cs, const uint8_t room[CSTORE_ROOM_ID_LEN],
			   uint32_t max_epoch);

#endif
