/* What rooms.c, messages.c and membership.c share, and nothing else of the
 * client uses (that is in client_internal.h). The names start with client_
 * because the test programs link the client and the server together. */
#ifndef CC_CLIENT_ROOMS_INTERNAL_H
#define CC_CLIENT_ROOMS_INTERNAL_H

#include "client/client_internal.h"

/* ---- rooms.c: rooms and their directories ------------------------------- */

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
 * verifies under that key and is not older than one seen before. The names
 * the server gives are only checked later against the chain's. */
cc_err client_room_add_user_item(struct client *cl, struct client_room *r,
				 const struct proto_user_item *it);
cc_err client_room_add_users(struct client *cl, struct client_room *r,
			     const struct proto_list *users);
/* Ourselves, from our own key (never from the server). */
cc_err client_room_add_self(struct client *cl, struct client_room *r);
/* After the chain changed: gives every directory entry the chain's name for
 * its key (the server's name must be one the chain used for it, else
 * CC_ERR_SECURITY with *why), and checks each (name, key) pair against the
 * pins. */
cc_err client_room_name_users(struct client *cl, struct client_room *r, const char **why);
/* Records where record seq sits among the room's messages. */
cc_err client_room_set_position(struct client_room *r, uint32_t seq, uint64_t position);
/* Stores what the room's verified chain says: its head (what a later chain
 * must extend), epoch, admin, members and title. */
void client_room_save(struct client *cl, const struct client_room *r);
/* Splits "ROOM rest": the room id (whole, or a unique prefix of one seen in
 * /rooms), and where the rest starts (if rest is not NULL). -1, with a usage
 * error emitted, if there is no such room id. */
int client_take_room_arg(struct client *cl, const char *args, uint8_t room[PROTO_ROOM_ID_LEN],
			 const char **rest);
/* 1 if we are the room's admin (by the chain). */
int client_is_admin(const struct client *cl, const struct client_room *r);
/* The key an epoch's messages and title are sealed with: the stored secret
 * bound to the record that opened the epoch. CC_ERR_NOT_FOUND without one. */
cc_err client_room_epoch_key(struct client *cl, const struct client_room *r, uint32_t epoch,
			     uint8_t key[E2E_KEY_LEN]);
/* Members as a JSON array of nicknames. */
json_t *client_room_members_json(const struct client_room *r);

/* rooms.c: joining */
/* Asks for a room's state (op OP_JOIN or OP_LEAVE_LOAD). */
void client_join_send(struct client *cl, const uint8_t room_id[PROTO_ROOM_ID_LEN],
		      enum client_op op);
/* Verifies a room state from the server into r (new): the whole chain, that
 * it extends the head stored here, the names, and every key we are given;
 * on failure, *why says why (CC_ERR_SECURITY unless something else broke). */
cc_err client_join_verify(struct client *cl, struct client_room *r,
			  const struct proto_room_state *st, const char **why);

/* ---- messages.c: talking -------------------------------------------------- */

/* Says text in r: at once, or once the room has a new epoch if it needs one
 * (a member left or expired). The command stays busy until then. */
void client_text_start(struct client *cl, struct client_room *r, const char *text);
/* The answer to a MSG_SEND. */
void client_send_on_answer(struct client *cl, const struct proto_msg *m);
/* A ROOM_MSG: shown only once every check passed. */
void client_on_room_msg(struct client *cl, const struct proto_room_msg *rm);
/* Tells the server what we have handled in r, if anything new. */
void client_room_ack(struct client *cl, struct client_room *r);

/* ---- membership.c: records and new epochs ------------------------------- */

/* Signs a record for r's chain (the next seq, the previous hash). */
cc_err client_record_make(struct client *cl, const struct e2e_chain *chain, uint8_t action,
			  const char *subject, const uint8_t subject_fp[CRYPTO_FINGERPRINT_LEN],
			  uint32_t epoch, const uint8_t commit[PROTO_HASH_LEN], struct buf *out);
/* One record of a new epoch to sign: the last opens the epoch. */
struct client_change {
	uint8_t action;
	char nick[PROTO_NICK_MAX + 1];
	uint8_t fp[CRYPTO_FINGERPRINT_LEN];
};
/* Builds a new epoch from r's chain: signs the changes in order on a copy of
 * the chain (kept in cl->op_chain until the server accepts), makes the
 * secret (cl->op_key), seals title under it and wraps it to every member of
 * the new epoch, then sends request type (ROOM_CREATE, ROOM_ADD, ROOM_KICK or
 * ROOM_REKEY) as op. On failure the op ends with an error about r. */
void client_epoch_send(struct client *cl, struct client_room *r, uint8_t type,
		       enum client_op op, const struct client_change *changes, size_t n,
		       const char *title);
/* The server accepted the new epoch: r takes the new chain and secret. */
cc_err client_epoch_commit(struct client *cl, struct client_room *r);

/* membership.c: relayed records, owed epochs and periodic rekeying */
/* A membership change someone else made, relayed by the server. */
void client_on_room_record(struct client *cl, const struct proto_room_record *rr);
/* Remembers a room that owes a new epoch, once. */
void client_owed_add(struct client *cl, const uint8_t room_id[PROTO_ROOM_ID_LEN]);
/* Periodic rekeying (--rekey-after): owe a new epoch once this one has
 * carried enough messages or grown old enough. */
void client_maybe_rekey(struct client *cl, struct client_room *r);

/* membership.c: answers to membership ops (client_on_answer dispatches) */
void client_add_on_users(struct client *cl, const struct proto_users *users);
void client_epoch_on_ok(struct client *cl);
void client_admin_on_ok(struct client *cl);
/* The owed room's state arrived: sign out the gone, open an epoch if ours to. */
void client_rekey_on_state(struct client *cl, const struct proto_room_state *st);
/* Signs and sends our LEAVE record for r (op OP_LEAVE); ends the op on failure. */
void client_leave_send(struct client *cl, struct client_room *r);
void client_leave_on_ok(struct client *cl);

#endif
