/* What the server's room files share: rooms.c (requests about rooms),
 * keys.c (published keys, the directory, wrapped keys acknowledged), live.c
 * (who hears a room now), membership.c (changes to membership), resend.c (a
 * message sent again) and retention.c. Nothing outside these files includes
 * it. */
#ifndef CC_SERVER_ROOMS_INTERNAL_H
#define CC_SERVER_ROOMS_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/msg.h"
#include "server/server_internal.h"
#include "util/buf.h"

struct e2e_chain;
struct proto_record;
struct store_room;
struct store_member;

/* A room's members: the request that makes a room carries a wrapped key for
 * each and ADD records naming them, which must fit the default 1 MiB frame
 * with 32-character nicknames and RSA-4096 signatures (988 KB at 5,120). Its
 * records plus members: each member keeps room for its LEAVE (membership.c). */
#define ROOM_MEMBERS_MAX 5120
#define ROOM_RECORDS_MAX 8000
#define ROOM_FULL_WHY "a room has at most 5120 members"
#define ROOM_CAP_WHY \
	"the room's history is full (8000 records and members): members can only leave"

/* ---- state.c: a room's state, streamed --------------------------------------- */

/* Sends a member the room's state (ROOM_STATE, after PARTs when long) as the
 * output drains; a join then goes on to its backlog (join_backlog_start).
 * While it streams, c->state is set and the connection is not read. */
void state_start(struct conn *c, uint32_t request_id, const struct store_room *room, bool join);
/* The same for USERS_GET: the answer (USERS, after PARTs when long). */
void users_start(struct conn *c, const struct proto_users_get *req);
/* The output drained: more of the state. */
void state_continue(struct conn *c);
/* The connection is going. */
void state_drop(struct conn *c);
/* rooms.c: a join's backlog, after its state; then the member is live. */
void join_backlog_start(struct conn *c, int64_t room, uint32_t request_id, int64_t after);

/* ---- parts.c: long answers ------------------------------------------------- */

/* The bytes of list items a PART carries before it is sent (at most; a
 * quarter of --max-output if that is less). */
#define PARTS_BUDGET (256u * 1024)

/* The records and users of one USERS or ROOM_STATE answer: whatever passes
 * the budget goes first in PARTs; the answer itself carries the rest. */
struct answer_parts {
	struct conn *c;
	uint32_t request_id;
	size_t budget;
	struct buf records, users;
	uint16_t nrecords, nusers;
};
void parts_init(struct answer_parts *p, struct conn *c, uint32_t request_id);
void parts_free(struct answer_parts *p);
/* Call before adding an item: sends a PART of what is there if it has
 * reached the budget. */
cc_err parts_make_room(struct answer_parts *p);

/* A message of this loop turn, stored but not yet committed (rooms.c): its
 * sender is answered and its listeners sent it after the group commit. */
struct pending_send {
	struct conn *sender;       /* NULL once that connection is gone */
	uint32_t request_id;
	int64_t room;
	uint8_t room_id[PROTO_ROOM_ID_LEN];
	int64_t msg_id;
	uint64_t ts_ms;
	struct buf envelope;
};

/* ---- resend.c: a message sent again --------------------------------------- */

struct proto_envelope;
struct proto_msg_send;
/* A client that lost SENT (its connection dropped) sends the same envelope
 * again: 1 if this one is stored, byte for byte (answered SENT as the first
 * time, with the stored id and time, and told to nobody else); 0 if not (the
 * caller answers as before). Commits the loop turn's messages first. */
int msg_sent_before(struct conn *c, const struct store_room *room,
		    const struct proto_envelope *env, const struct proto_msg_send *req);

/* ---- room_seen.c: the rooms a connection sends to ------------------------- */

/* room_of_member for a sender, from a copy while the store's rooms are
 * unchanged (store_rooms_version); the copy's last_msg_id may be behind. */
cc_err room_of_sender(struct conn *c, const uint8_t room_id[PROTO_ROOM_ID_LEN],
		      struct store_room *room);
void room_seen_free(struct conn *c);

/* ---- reads.c: read acknowledgements ---------------------------------------- */

/* ROOM_READ: the mark moves forward in memory, written at the commit. */
cc_err handle_room_read(struct conn *c, const struct proto_room_read *req);
/* Writes every mark acknowledged this turn: in the open transaction, just
 * before it commits. */
void reads_write_all(struct server *srv);
/* The connection is going: its unwritten marks go into the turn's
 * transaction, and its table is freed. */
void reads_conn_gone(struct conn *c);

/* ---- live.c: who hears a room now ---------------------------------------- */

/* Allocates the live table and the fan-out buffer; CC_ERR_NOMEM if the table
 * cannot be. */
cc_err live_init(struct server *srv);
/* Frees what live_init allocated, and every live room. */
void live_free(struct server *srv);
/* 1 if c hears the room live. */
int conn_is_active(const struct conn *c, int64_t room);
/* c hears the room live from now on. */
cc_err live_add(struct conn *c, int64_t room);
/* Flow control forgets c (before its rooms are removed). */
void live_conn_gone(struct conn *c);
/* Stops live delivery of a room to c and records what it has read. */
void live_remove(struct conn *c, int64_t room);
/* Drops every live connection of a user from a room (it left or was removed). */
void room_drop_user(struct server *srv, int64_t room, int64_t user);
/* Sends a record (stored at message position `position`), with its actor's
 * and subject's directory entries, to every live member of the room but
 * `except`, each with its own wrapped key of a new epoch when keys is given. */
void broadcast_record(struct server *srv, int64_t room, const uint8_t room_id[PROTO_ROOM_ID_LEN],
		      uint64_t position, const uint8_t *rec, size_t len,
		      const struct conn *except, const struct proto_list *keys);
/* Sends a committed message as ROOM_MSG to every listener of its room but its
 * sender. */
void live_fan_out(struct server *srv, const struct pending_send *ps);

/* ---- rooms.c: helpers of every request ----------------------------------- */

/* Queues OK for a request. */
void reply_ok(struct conn *c, uint32_t request_id);
/* A room the session's user belongs to; no_such_room otherwise, whether the
 * room exists or not, so room ids cannot be probed. member may be NULL. */
cc_err room_of_member(struct conn *c, const uint8_t room_id[PROTO_ROOM_ID_LEN],
		      struct store_room *room, struct store_member *member);

/* ---- keys.c: published keys, the directory, acknowledged wrapped keys ---- */

/* Appends the directory entry of the key with this fingerprint (a user's, or
 * a retired one) to a list being built. */
cc_err user_item_put(struct server *srv, const uint8_t fp[PROTO_FINGERPRINT_LEN],
		     struct buf *raw);
cc_err handle_signing_key(struct conn *c, const struct proto_signing_key *sk);
cc_err handle_receive_key(struct conn *c, const struct proto_receive_key *rk);
/* The member holds the room's keys up to an epoch: its wrapped copies go. */
cc_err handle_keys_ack(struct conn *c, const struct proto_keys_ack *req);
/* KEY_MOVE: the session's user moves to a new identity key. */
cc_err handle_key_move(struct conn *c, const struct proto_key_move *km);

/* ---- membership.c: the room's chain of signed records -------------------- */

/* RSA keys by fingerprint, parsed once per operation. */
struct key_cache {
	struct server *srv;
	struct key_cache_entry {
		uint8_t fp[PROTO_FINGERPRINT_LEN];
		struct crypto_rsa_key *key;
	} *entries;
	size_t n, cap;
};

struct e2e_checked_record;

void key_cache_free(struct key_cache *kc);
/* The RSA key of a fingerprint (an e2e_key_lookup_fn over a key_cache). */
const struct crypto_rsa_key *key_cache_lookup(void *ctx, const uint8_t fp[PROTO_FINGERPRINT_LEN]);
/* Checks and appends one new record to a room's chain (in a transaction).
 * checked: its signature verified already (NULL: verified here). */
cc_err chain_append(struct conn *c, const struct store_room *room, struct e2e_chain *chain,
		    struct key_cache *keys, const uint8_t *rec, size_t len,
		    const struct e2e_checked_record *checked, const char **why);
/* The record a request carries must be made by the session's own key. */
cc_err record_actor_is_session(struct conn *c, const uint8_t *rec, size_t len,
			       struct proto_record *out);
/* Stores the wrapped keys of the chain's current epoch (in the caller's
 * transaction): exactly one per member of the chain, and none for anyone else.
 * On refusal *why says which rule failed. */
cc_err store_epoch_keys(struct server *srv, int64_t room, const struct e2e_chain *chain,
			const struct proto_list *keys, const char **why);

/* ---- chain_cache.c: verified chains kept in memory ------------------------ */

/* Makes the cache of cfg->chain_cache_rooms rooms (0: none kept). */
cc_err chain_cache_init(struct server *srv);
void chain_cache_free(struct server *srv);
/* A copy of the room's verified chain into out (the caller frees it): the
 * kept one if it ends where the stored one does (room as read this loop
 * turn), else the stored chain with every record verified, then kept. */
cc_err chain_cache_get(struct server *srv, const struct store_room *room,
		       struct e2e_chain *out, struct key_cache *keys);
/* After a commit: chain is now the room's; the cache takes it (chain is
 * left empty, to be freed as usual) unless nothing is kept. */
void chain_cache_keep(struct server *srv, int64_t room, struct e2e_chain *chain);
/* The room is gone: its chain is dropped. */
void chain_cache_forget(struct server *srv, int64_t room);
/* How many chains were verified from the store (for the logs and tests). */
uint64_t chain_cache_loads(const struct server *srv);

/* ---- membership.c: requests that change membership ----------------------- */

cc_err handle_room_admin(struct conn *c, const struct proto_room_leave *req);
cc_err handle_room_leave(struct conn *c, const struct proto_room_leave *req);
/* ROOM_ADD, ROOM_KICK, ROOM_REKEY or ROOM_MOVE (action: the record that
 * opens the new epoch): records, the new epoch's title and one key per
 * member. */
cc_err handle_new_epoch(struct conn *c, const struct proto_room_rekey *req, uint8_t action);

/* ---- retention.c ---------------------------------------------------------- */

/* Starts the minute's retention timer (and runs it once) and makes the
 * checkpoint timer. */
cc_err retention_init(struct server *srv);
/* Stops both, truncating the log first if a truncation is due. */
void retention_free(struct server *srv);
/* Truncates the store's write-ahead log within a second (secrets were deleted). */
void server_checkpoint_soon(struct server *srv);

#endif
