/* The client's local store: what a client must remember between runs, in
 * HOME/client.db (SQLite, WAL, mode 0600). Room keys are secrets: the file
 * has the same protection as the identity key beside it.
 *
 * Room ids are the 16-byte random ids the server knows rooms by; senders are
 * identified by the SHA-256 fingerprint of their RSA identity key. */
#ifndef CC_CLIENT_STORE_H
#define CC_CLIENT_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

#define CSTORE_ROOM_ID_LEN 16
#define CSTORE_KEY_LEN 32
#define CSTORE_FP_LEN 32
#define CSTORE_NICK_MAX 32

struct client_store;

/* Opens or creates the database (mode 0600), WAL, synchronous=FULL,
 * versioned schema migrated forward; refuses a newer schema (CC_ERR_VERSION). */
cc_err cstore_open(const char *path, struct client_store **out);
void cstore_close(struct client_store *cs);

/* Room keys, one per (room, epoch). put replaces; get: CC_ERR_NOT_FOUND. */
cc_err cstore_key_put(struct client_store *cs, const uint8_t room[CSTORE_ROOM_ID_LEN],
		      uint32_t epoch, const uint8_t key[CSTORE_KEY_LEN]);
cc_err cstore_key_get(struct client_store *cs, const uint8_t room[CSTORE_ROOM_ID_LEN],
		      uint32_t epoch, uint8_t key[CSTORE_KEY_LEN]);
/* Forgets every key and counter of a room (after leaving it). */
cc_err cstore_room_forget(struct client_store *cs, const uint8_t room[CSTORE_ROOM_ID_LEN]);

/* The highest message sequence number accepted from a sender in a room;
 * 0 if none yet. put only ever raises it (a lower value is ignored). */
cc_err cstore_seen_get(struct client_store *cs, const uint8_t room[CSTORE_ROOM_ID_LEN],
		       const uint8_t sender_fp[CSTORE_FP_LEN], uint64_t *last_seq);
cc_err cstore_seen_put(struct client_store *cs, const uint8_t room[CSTORE_ROOM_ID_LEN],
		       const uint8_t sender_fp[CSTORE_FP_LEN], uint64_t last_seq);

/* A message handled: raises the sender's seen sequence number and the room's
 * last handled server message id (kept as the seen number of the all-zero
 * fingerprint, which no key has) in one transaction: one disk sync per
 * message instead of two. */
cc_err cstore_seen_put_message(struct client_store *cs, const uint8_t room[CSTORE_ROOM_ID_LEN],
			       const uint8_t sender_fp[CSTORE_FP_LEN], uint64_t seq,
			       uint64_t msg_id);

/* This client's own next sequence number for a room: returns it and stores
 * it + 1, durably, before the message using it is sent (so a crash can never
 * reuse a number). Starts at 1. */
cc_err cstore_seq_next(struct client_store *cs, const uint8_t room[CSTORE_ROOM_ID_LEN],
		       uint64_t *seq);

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
