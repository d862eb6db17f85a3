/* What the client core's files share. */
#ifndef CC_CLIENT_INTERNAL_H
#define CC_CLIENT_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "client/client.h"
#include "crypto/crypto.h"
#include "e2e/e2e.h"
#include "proto/msg.h"
#include "util/buf.h"

struct bufferevent;
struct event;
struct chan;
struct client_store;

/* A user as a room's directory knows them: a key the server gave, checked
 * against the room's chain before anything rests on it. */
struct client_user {
	char nick[PROTO_NICK_MAX + 1];    /* the chain's name for the key ("" if none) */
	char dir_nick[PROTO_NICK_MAX + 1];/* the server's name for it: must match */
	uint8_t fp[CRYPTO_FINGERPRINT_LEN];  /* computed from the key, never given */
	struct crypto_rsa_key *key;
	uint32_t sign_version;
	uint8_t sign_pub[CRYPTO_ED25519_PUB_LEN];
	bool sign_ok;                     /* sign_pub's certificate verified */
	bool trusted;                     /* the key we pinned for the chain's name */
};

struct client_room {
	uint8_t room_id[PROTO_ROOM_ID_LEN];
	char id_hex[2 * PROTO_ROOM_ID_LEN + 1];
	char title[E2E_TITLE_MAX + 1];
	struct e2e_chain chain;           /* verified membership */
	uint64_t *positions;              /* each record's place among the messages */
	size_t positions_cap;
	struct client_user *users;
	size_t nusers;
	bool joined;                      /* state loaded and hearing it live */
	bool gone_pending;                /* the server says members expired: sign them out */
	bool rekey_wanted;                /* --rekey-after: a new epoch though none is owed */
	uint64_t last_msg_id;             /* highest server message id processed */
	uint32_t epoch_msgs;              /* messages seen in this epoch (periodic rekey) */
	uint64_t acked_msg_id;            /* last_msg_id as the server knows it */
};

/* The command waiting for the server (one at a time). */
enum client_op {
	OP_NONE,
	OP_PING,
	OP_SIGNING_KEY,                   /* part of connecting */
	OP_CREATE_USERS,
	OP_CREATE,
	OP_ROOMS,
	OP_JOIN,
	OP_SEND,
	OP_ADD_USERS,
	OP_ADD,
	OP_DISCONNECT,
	OP_LEAVE_LOAD,                    /* /leave of a room not loaded: join quietly first */
	OP_LEAVE,
	OP_KICK,
	OP_ADMIN,
	OP_REKEY_FETCH,                   /* a new key is owed: load the room... */
	OP_REKEY,                         /* ...and make it */
	OP_FINGERPRINT,
	OP_SAFETY,
	OP_VERIFY,
};

struct client {
	struct client_config cfg;
	struct event_base *base;
	client_event_fn on_event;
	void *event_ctx;
	void (*state_cb)(void *ctx);
	void *state_ctx;

	struct crypto_rsa_key *identity;
	uint8_t fp[CRYPTO_FINGERPRINT_LEN];
	uint8_t sign_seed[CRYPTO_ED25519_SEED_LEN];
	uint8_t sign_pub[CRYPTO_ED25519_PUB_LEN];
	struct buf sign_cert;             /* our signing key's certificate (version 1) */
	struct client_store *store;
	char nick[PROTO_NICK_MAX + 1];
	char server[300];                 /* "host:port", the pin's name */
	const char *server_key_status;    /* "new" or "known" */

	struct bufferevent *bev;
	struct chan *chan;
	struct buf wire;
	enum client_state state;
	int exit_status;
	bool quitting;                    /* /quit: closing once the output is out */
	struct event *quit_timer;

	/* the command in flight */
	enum client_op op;
	uint32_t op_request;
	uint32_t next_request;
	uint64_t ping_token;
	uint64_t ping_sent_ms;
	uint8_t op_room[PROTO_ROOM_ID_LEN];
	char op_title[E2E_TITLE_MAX + 1];
	char op_nick[PROTO_NICK_MAX + 1];
	uint8_t op_key[E2E_KEY_LEN];      /* a new epoch's secret (wiped after) */
	uint64_t op_seq;
	uint32_t op_epoch;
	struct buf op_record;             /* the record(s) the op sends */
	uint16_t op_nrecords;             /* how many, for a new epoch's list */
	struct client_room *op_new_room;  /* create/fetch: the room being built */
	struct e2e_chain op_chain;        /* a new epoch's chain, applied on OK */
	bool op_has_chain;
	bool op_failed;                   /* join: the state did not verify */

	/* the line being said: it waits for a new epoch if the room needs one */
	char *text;
	uint8_t text_room[PROTO_ROOM_ID_LEN];
	int text_tries;

	struct client_room **rooms;
	size_t nrooms;
	struct client_room *current;      /* where plain lines go */

	/* room ids listed by /rooms, so a prefix can name one */
	uint8_t (*seen_ids)[PROTO_ROOM_ID_LEN];
	size_t nseen_ids;
	/* rooms that owe a new key (we are their admin): made when idle */
	uint8_t (*owed)[PROTO_ROOM_ID_LEN];
	size_t nowed;
	/* key changes already announced this session: nick and new fingerprint */
	struct client_member_key {
		char nick[PROTO_NICK_MAX + 1];
		uint8_t fp[CRYPTO_FINGERPRINT_LEN];
	} *announced;
	size_t nannounced;
	/* per nickname, the last key shown by /safety or /fingerprint: the one
	 * /verify accepts */
	struct client_member_key *shown;
	size_t nshown;
};

void client_emit(struct client *cl, json_t *ev);
void client_emit_error(struct client *cl, const char *code, const char *message);
/* An error about a room (and a claimed sender, if any). */
void client_emit_room_error(struct client *cl, const char *room_hex, const char *from,
			    const char *code, const char *message);
cc_err client_send(struct client *cl, const struct proto_msg *m);
/* Starts a request: a fresh request id, the op, busy until done. */
uint32_t client_op_begin(struct client *cl, enum client_op op);
/* Starts op by asking the server for cl->op_nick's key (USERS_GET). */
void client_ask_user(struct client *cl, enum client_op op);
/* The op finished (with its events emitted): the next command may run. */
void client_op_end(struct client *cl);
void client_notify(struct client *cl);

/* rooms.c */
void client_cmd_create(struct client *cl, const char *args);
void client_cmd_rooms(struct client *cl);
void client_cmd_join(struct client *cl, const char *args);
void client_cmd_say(struct client *cl, const char *args);
void client_cmd_text(struct client *cl, const char *text);
void client_cmd_add(struct client *cl, const char *args);
void client_cmd_disconnect(struct client *cl, const char *args);
void client_cmd_leave(struct client *cl, const char *args);
/* A room message from the server (not an answer). 0, or an error that ends
 * the connection. */
cc_err client_on_room_message(struct client *cl, const struct proto_msg *m);
/* An answer to the op in flight (OK, USERS, ROOMS, ROOM_STATE, SENT, JOIN_DONE,
 * or ERROR). */
void client_on_answer(struct client *cl, const struct proto_msg *m);
void client_rooms_free(struct client *cl);
/* Acknowledges what was handled in every joined room (before quitting). */
void client_rooms_ack_all(struct client *cl);
void client_cmd_kick(struct client *cl, const char *args);
void client_cmd_admin(struct client *cl, const char *args);
/* Starts owed work (new room keys) if idle; 1 if it started something. */
int client_rooms_work(struct client *cl);
/* messages.c: goes on with the line being said (after a new epoch), or
 * gives it up. */
void client_text_continue(struct client *cl);
void client_text_drop(struct client *cl);
/* Marks every loaded directory entry of nick with this key as trusted. */
void client_rooms_trust(struct client *cl, const char *nick, const uint8_t fp[CRYPTO_FINGERPRINT_LEN]);

/* trust.c: pinned user keys (trust on first use) */
/* Pins a key on first sight. 1 if it is the pinned key; 0 if the nickname's
 * pinned key differs (announced once as key_changed) and was not verified. */
int client_trust_check(struct client *cl, const char *nick,
		       const uint8_t fp[CRYPTO_FINGERPRINT_LEN]);
void client_cmd_fingerprint(struct client *cl, const char *args);
void client_cmd_safety(struct client *cl, const char *args);
void client_cmd_verify(struct client *cl, const char *args);
/* The USERS answer to a trust command. */
void client_trust_on_users(struct client *cl, const struct proto_users *users);
void client_trust_free(struct client *cl);

#endif
