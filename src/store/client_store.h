/* The client's local store: what a client must remember between runs, in
 * HOME/client.db (SQLite, WAL, mode 0600, secure_delete). Epoch secrets are
 * secrets: the file has the same protection as the identity key beside it.
 *
 * Room ids are the 16-byte random ids the server knows rooms by; users are
 * identified by the SHA-256 fingerprint of their RSA identity key. */
#ifndef CC_CLIENT_STORE_H
#define CC_CLIENT_STORE_H

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

/* Opens or creates the database (mode 0600), WAL, synchronous=FULL,
 * versioned schema migrated forward; refuses a newer schema (CC_ERR_VERSION). */
cc_err cstore_open(const char *path, struct client_store **out);
void cstore_close(struct client_store *cs);

/* Epoch secrets, one per (room, epoch). put replaces; get: CC_ERR_NOT_FOUND. */
cc_err cstore_key_put(struct client_store *cs, const uint8_t room[CSTORE_ROOM_ID_LEN],
		      uint32_t epoch, const uint8_t key[CSTORE_KEY_LEN]);
cc_err cstore_key_get(struct client_store *cs, const uint8_t room[CSTORE_ROOM_ID_LEN],
		      uint32_t epoch, uint8_t key[CSTORE_KEY_LEN]);
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
/* A message handled: raises the sender's seen number for the epoch, the
 * room's last handled server message id and the sender's last activity
 * (signed_ms), in one transaction: one disk sync per message. */
cc_err cstore_seen_put_message(struct client_store *cs, const uint8_t room[CSTORE_ROOM_ID_LEN],
			       const uint8_t sender_fp[CSTORE_FP_LEN], uint32_t epoch,
			       uint64_t seq, uint64_t msg_id, uint64_t signed_ms);

/* This client's own next sequence number for an epoch of a room: returns it
 * and stores it + 1, durably, before the message using it is sent (so a
 * crash can never reuse a number). Starts at 1. */
cc_err cstore_seq_next(struct client_store *cs, const uint8_t room[CSTORE_ROOM_ID_LEN],
		       uint32_t epoch, uint64_t *seq);

/* The newest signing key seen for a user's identity key: its certificate's
 * version and the key. get: CC_ERR_NOT_FOUND if none yet. put only ever
 * raises the version (a lower one is ignored). */
cc_err cstore_sign_get(struct client_store *cs, const uint8_t fp[CSTORE_FP_LEN],
		       uint32_t *version, uint8_t pub[CSTORE_KEY_LEN]);
cc_err cstore_sign_put(struct client_store *cs, const uint8_t fp[CSTORE_FP_LEN],
		       uint32_t version, const uint8_t pub[CSTORE_KEY_LEN]);

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

#endif
