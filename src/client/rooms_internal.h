/* What rooms.c and membership.c share, and nothing else of the client uses
 * (that is in client_internal.h). The names start with client_ because the
 * test programs link the client and the server together. */
#ifndef CC_CLIENT_ROOMS_INTERNAL_H
#define CC_CLIENT_ROOMS_INTERNAL_H

#include "client/client_internal.h"

/* rooms.c: rooms and their directories */
struct client_room *client_room_new(const uint8_t room_id[PROTO_ROOM_ID_LEN]);
void client_room_free(struct client_room *r);
/* The loaded room with this id, or NULL. */
struct client_room *client_room_find(struct client *cl, const uint8_t room_id[PROTO_ROOM_ID_LEN]);
/* Puts r in the list, replacing any room with its id. */
cc_err client_room_install(struct client *cl, struct client_room *r);
/* Takes r out of the list (and out of current) and frees it. */
void client_room_remove(struct client *cl, struct client_room *r);
/* The directory entry with this fingerprint, or NULL. */
struct client_user *client_room_user(const struct client_room *r,
				     const uint8_t fp[CRYPTO_FINGERPRINT_LEN]);
/* A chain's key lookup (ctx is the room): the identity key of a directory entry. */
const struct crypto_rsa_key *client_room_key_lookup(void *ctx,
						    const uint8_t fp[PROTO_FINGERPRINT_LEN]);
/* Adds directory entries from the server's user items: each fingerprint is
 * computed from the key, and a signing key counts only if its certificate
 * verifies under that key. */
cc_err client_room_add_user_item(struct client *cl, struct client_room *r,
				 const struct proto_user_item *it);
cc_err client_room_add_users(struct client *cl, struct client_room *r,
			     const struct proto_list *users);
/* Splits "ROOM rest": the room id (whole, or a unique prefix of one seen in
 * /rooms), and where the rest starts (if rest is not NULL). -1, with a usage
 * error emitted, if there is no such room id. */
int client_take_room_arg(struct client *cl, const char *args, uint8_t room[PROTO_ROOM_ID_LEN],
			 const char **rest);
/* 1 if we are the room's admin (by the chain). */
int client_is_admin(const struct client *cl, const struct client_room *r);
/* The current epoch's key, from the local store. */
cc_err client_room_current_key(struct client *cl, const struct client_room *r,
			       uint8_t key[E2E_KEY_LEN]);

/* rooms.c: joining and acknowledging */
/* Asks for a room's state (op OP_JOIN or OP_LEAVE_LOAD). */
void client_join_send(struct client *cl, const uint8_t room_id[PROTO_ROOM_ID_LEN],
		      enum client_op op);
/* Verifies a room state from the server into r; on failure, *why says why. */
cc_err client_join_verify(struct client *cl, struct client_room *r,
			  const struct proto_room_state *st, const char **why);
/* Tells the server what we have handled in r, if anything new. */
void client_room_ack(struct client *cl, struct client_room *r);

/* membership.c: records */
/* Signs and applies a record to the room's chain (our own copy), and appends
 * it to records as a blob item. */
cc_err client_room_record_add(struct client *cl, struct client_room *r, uint8_t action,
			      const char *subject, const uint8_t subject_fp[CRYPTO_FINGERPRINT_LEN],
			      uint32_t epoch, const uint8_t commit[PROTO_HASH_LEN],
			      struct buf *records, uint16_t *count);

/* membership.c: relayed records, owed and periodic rekeying */
/* A membership change someone else made, relayed by the server. */
void client_on_room_record(struct client *cl, const struct proto_room_record *rr);
/* Remembers a room that owes a new key, once. */
void client_owed_add(struct client *cl, const uint8_t room_id[PROTO_ROOM_ID_LEN]);
/* Periodic rekeying (--rekey-after): as admin, owe a new epoch once this one
 * has carried enough messages or grown old enough. */
void client_maybe_rekey(struct client *cl, struct client_room *r);

/* membership.c: answers to membership ops (client_on_answer dispatches) */
void client_add_on_users(struct client *cl, const struct proto_users *users);
void client_add_on_ok(struct client *cl);
void client_kick_on_ok(struct client *cl);
void client_admin_on_ok(struct client *cl);
/* The owed room's state arrived: sign out the gone members, start an epoch. */
void client_rekey_on_state(struct client *cl, const struct proto_room_state *st);
void client_rekey_on_ok(struct client *cl);
/* Signs and sends our LEAVE record for r (op OP_LEAVE); ends the op on failure. */
void client_leave_send(struct client *cl, struct client_room *r);

#endif
