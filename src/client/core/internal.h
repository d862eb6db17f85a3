/* What the client core's files share, and nothing outside src/client/core/
 * includes. The names start with client_ because the test programs link the
 * client and the server together.
 *
 *   core.c        connection, handshake, registration, dispatch, quitting
 *   reconnect.c   after a drop: trying again, keepalive, the offline timeout
 *   requests.c    the requests in flight, the order they run in, and what
 *                 becomes of each when the connection drops
 *   events.c      building and sending events
 *   rooms.c       rooms, /create, /rooms, joins and their checks
 *   directory.c   a room's users: keys, signing keys, names, trust
 *   keycache.c    identity keys and certificates verified before
 *   messages.c    saying a line, receiving messages, read marks
 *   membership.c  add, kick, admin, leave, disconnect; records others made
 *   epochs.c      new epochs: making them, and when the core does by itself
 *   trust.c       pinned keys, fingerprints, safety numbers, /verify
 *   keys.c        receiving keys, epoch secrets, chain and message keys
 *   sweep.c       at connect: keys waiting on the server, fetched and
 *                 turned into chain keys; old receiving keys deleted
 *   home.c        the home directory */
#ifndef CC_CLIENT_CORE_INTERNAL_H
#define CC_CLIENT_CORE_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>  /* snprintf only: the core never touches the standard streams */

#include "client/core/client.h"
#include "crypto/crypto.h"
#include "e2e/e2e.h"
#include "proto/msg.h"
#include "store/client_store.h"
#include "transport/socks5.h"
#include "util/buf.h"

struct evbuffer;

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
	struct crypto_ed25519_pub *sign_key; /* sign_pub as a verifier, made at first use */
	uint32_t recv_version;            /* the newest certified receiving key */
	uint64_t recv_created_ms;
	uint8_t recv_pub[CRYPTO_X25519_LEN];
	bool recv_ok;                     /* recv_pub's certificate verified */
	bool trusted;                     /* the key we pinned for the chain's name */
	bool verified;                    /* and the user compared it (/verify) */
};

struct client_room {
	uint8_t room_id[PROTO_ROOM_ID_LEN];
	char id_hex[CLIENT_ROOM_HEX];
	char title[E2E_TITLE_MAX + 1];
	struct e2e_chain chain;           /* verified membership */
	uint64_t *positions;              /* each record's place among the messages */
	size_t positions_cap;
	struct client_user *users;
	size_t nusers, users_cap;
	uint32_t *user_slots;             /* users by fingerprint (directory.c): open
					     addressing, each slot an index + 1, 0
					     empty; never more than half full */
	size_t user_slots_cap;            /* a power of two, or 0 */
	bool joined;                      /* state loaded and hearing it live */
	bool gone_pending;                /* the server says members expired: sign them out */
	uint64_t last_msg_id;             /* highest server message id processed */
	uint32_t epoch_msgs;              /* messages seen in this epoch (periodic rekey) */
	uint64_t acked_msg_id;            /* last_msg_id as the server knows it */
	uint32_t keys_from;               /* epochs before it: keys deleted here */
	bool needs_move;                  /* the chain names us by the identity key we
					     moved away from: a MOVE is owed */
	bool keys_lost;                   /* the current epoch's secret was wrapped to
					     a receiving key we deleted, or to one
					     long replaced: a new epoch is owed */
	bool in_turn;                     /* has messages in this turn (turn.c) */
};

/* ---- requests (requests.c) ------------------------------------------------- */

enum client_req_kind {
	REQ_SIGNING_KEY,                  /* part of connecting */
	REQ_PING,
	REQ_CREATE,
	REQ_ROOMS,
	REQ_JOIN,
	REQ_SEND,
	REQ_ADD,
	REQ_KICK,
	REQ_ADMIN,
	REQ_DISCONNECT,
	REQ_LEAVE,
	REQ_REKEY,                        /* the core's own: a new epoch owed or wanted */
	REQ_FINGERPRINT,
	REQ_SAFETY,
	REQ_VERIFY,
	REQ_RECV_KEY,                     /* part of connecting; later, a rotation */
	REQ_SWEEP,                        /* the core's own: keys waiting on the server */
	REQ_KEY_MOVE,                     /* /rotate-key: a new identity key */
};

enum client_req_step {
	STEP_QUEUED,                      /* waiting for its turn */
	STEP_USERS,                       /* USERS_GET sent */
	STEP_STATE,                       /* ROOM_JOIN or ROOM_FETCH sent */
	STEP_CHANGE,                      /* the change or the message sent */
};

/* One request in flight, with its own state. */
/* The PARTs of a long answer, until the answer (parts.c). */
struct client_parts {
	struct buf records, users;        /* list items, back to back */
	uint32_t nrecords, nusers;
	bool any;
};
void client_parts_init(struct client_parts *p);
void client_parts_free(struct client_parts *p);
/* Forgets them (a new attempt of the request). */
void client_parts_reset(struct client_parts *p);
cc_err client_parts_add(struct client_parts *p, const struct proto_part *part);
/* The answer that ends them: its lists become the parts' and its own, in
 * order (views into p, which must outlive m's use). An ERROR drops them;
 * any other answer after parts is CC_ERR_STATE. */
cc_err client_parts_complete(struct client_parts *p, struct proto_msg *m);

struct client_req {
	struct client_req *next;
	uint32_t id;                      /* the caller's; 0 for the core's own work */
	uint32_t wire;                    /* request_id of the message in flight */
	enum client_req_kind kind;
	enum client_req_step step;
	uint8_t room[PROTO_ROOM_ID_LEN];
	char room_hex[CLIENT_ROOM_HEX];   /* "" when about no room */
	char nick[PROTO_NICK_MAX + 1];
	char title[E2E_TITLE_MAX + 1];
	char *text;                       /* send: the line (wiped when done) */
	size_t text_len;
	int tries;                        /* send: attempts after a change raced it */
	struct buf envelope;              /* send: the sealed line, as sent (to send the
					     very same again after a drop) */
	bool resend;                      /* send: the envelope goes again as it is */
	bool resolve;                     /* a change whose answer a drop lost: find
					     out first whether it was made */
	bool resume;                      /* runs before anything else once reconnected
					     (rejoins and the resolving) */
	bool loaded;                      /* join: the state is verified, the room open */
	uint64_t offline_since;           /* a caller's: waiting for the connection since
					     (monotonic ms), 0 while connected */
	uint64_t seq, token, sent_ms;
	uint32_t epoch;
	bool failed;                      /* join: the state did not verify */
	bool then_leave;                  /* join: loaded only to leave */
	bool wanted;                      /* rekey: make one even if nothing is owed */
	struct buf asked;                 /* create: the nicks asked for (a nick list) */
	struct client_room *new_room;     /* create and rekey: the room being built */
	struct e2e_chain chain;           /* a change: the chain once accepted */
	bool has_chain;
	uint8_t secret[E2E_KEY_LEN];      /* a new epoch's secret (wiped when done) */
	struct buf records;               /* the records the change sends */
	uint16_t nrecords;
	bool connecting;                  /* recv key: registration waits for it */
	struct client_change *change;     /* add, kick: the change, once checked */
	struct client_parts parts;        /* a long answer's first parts */
	uint8_t (*sweep_rooms)[PROTO_ROOM_ID_LEN];  /* sweep: rooms left to fetch */
	size_t nsweep;
};

/* ---- answers (answers.c) ---- */

/* An answer (or ERROR) to req: checked for its kind, then handled. An error
 * return drops the connection. */
cc_err client_on_answer(struct client *cl, struct client_req *req, const struct proto_msg *m);
/* core.c: an ERROR that answers no request of ours, or one during
 * registration; the answer to RECEIVE_KEY. */
void client_on_error_msg(struct client *cl, const struct proto_error *e);
void client_recv_key_on_answer(struct client *cl, struct client_req *req,
			       const struct proto_msg *m);

/* A new request (queued; run it with client_reqs_pump). NULL without memory. */
struct client_req *client_req_new(struct client *cl, enum client_req_kind kind, bool caller);
/* A caller's request about room (NULL: none); *out is NULL if it ended at
 * once (not connected: the caller was told). Returns its id. */
uint32_t client_request(struct client *cl, enum client_req_kind kind, const uint8_t *room,
			struct client_req **out);
/* Sends m as req's message: a fresh request_id, remembered for the answer. */
cc_err client_req_send(struct client *cl, struct client_req *req, struct proto_msg *m);
/* The request an answer belongs to, or NULL. */
struct client_req *client_req_by_wire(struct client *cl, uint32_t wire);
/* Ends req: on_done(err) for a caller's request, and frees it. err CC_OK,
 * or an error the caller was already told of by an event. */
void client_req_end(struct client *cl, struct client_req *req, cc_err err);
/* Starts every queued request whose turn has come. */
void client_reqs_pump(struct client *cl);
/* Frees every request (the connection is gone): each caller's ends with
 * CC_ERR_CLOSED. */
void client_reqs_free(struct client *cl);
/* The connection of a registered session dropped: each request in flight
 * becomes what requests.c says (to run again, to resend, to resolve, or
 * ended), and each room we were hearing gets a rejoin for later. */
void client_reqs_on_lost(struct client *cl);
/* Forgets the requests that belong to one connection (registration). */
void client_reqs_drop_connection(struct client *cl);
/* The answer to a resolving request's ROOM_FETCH. */
void client_resolve_on_answer(struct client *cl, struct client_req *req,
			      const struct proto_msg *m);
/* A request of kind other than except (in flight or queued), or NULL. */
struct client_req *client_req_of_kind(struct client *cl, enum client_req_kind kind,
				      const struct client_req *except);
/* The request of kind in flight (or queued) for a room, or NULL. */
struct client_req *client_req_for_room(struct client *cl, enum client_req_kind kind,
				       const uint8_t room[PROTO_ROOM_ID_LEN]);
/* 1 while a join (or a leave's load) of room is receiving its backlog. */
int client_loading(const struct client *cl, const uint8_t room[PROTO_ROOM_ID_LEN]);
/* How often a line is tried again after a membership change raced it. */
#define CLIENT_SEND_TRIES 3
/* A new epoch owed (or, wanted, asked for) in a room: one REQ_REKEY, once. */
void client_owed_add(struct client *cl, const uint8_t room[PROTO_ROOM_ID_LEN], bool wanted);

/* ---- the client ---------------------------------------------------------------- */

struct client {
	struct client_config cfg;
	struct event_base *base;
	struct client_callbacks cb;

	struct crypto_rsa_key *identity;
	uint8_t fp[CRYPTO_FINGERPRINT_LEN];
	/* /rotate-key (identity.c): the key we moved from, until every room
	 * names the new one; the new key while the server has not answered. */
	struct crypto_rsa_key *old_identity;
	uint8_t old_fp[CRYPTO_FINGERPRINT_LEN];
	struct crypto_rsa_key *next_identity;
	uint8_t sign_seed[CRYPTO_ED25519_SEED_LEN];
	uint8_t sign_pub[CRYPTO_ED25519_PUB_LEN];
	struct crypto_ed25519_priv *sign_key; /* sign_seed, made once per identity */
	struct buf sign_cert;             /* our signing key's certificate (version 1) */
	struct cstore_recv_key recv;      /* our current receiving key (private part
					     wiped with the client) */
	struct event *keys_timer;         /* hourly: rotation, deletions */
	struct client_store *store;
	char nick[PROTO_NICK_MAX + 1];
	char server[300];                 /* "host:port", the pin's name */
	bool server_key_new;              /* pinned on this connection */

	struct bufferevent *bev;
	struct chan *chan;
	struct buf wire;
	enum client_state state;
	int exit_status;
	bool quitting;                    /* closing once the output is out */
	struct event *quit_timer;

	/* reconnecting (reconnect.c) */
	bool established;                 /* registered once: a drop now means reconnecting */
	bool welcomed;                    /* this connection's WELCOME came */
	bool resuming;                    /* reconnected: rejoins and resolving first */
	unsigned attempts;                /* failed attempts since the drop */
	uint64_t last_rx_ms;              /* monotonic: the server's last byte */
	bool ping_out;                    /* a keepalive PING is unanswered */
	uint64_t ping_token;
	struct event *conn_timer;         /* keepalive and silence, while connected */
	struct event *retry_timer;        /* the next attempt, while offline */
	struct event *offline_timer;      /* the first caller's request to give up on */

	/* through a SOCKS5 proxy (proxy.c): cfg.proxy.port != 0 */
	bool proxy_phase;                 /* dialled the proxy; the tunnel is not open yet */
	struct socks5 socks;
	struct event *proxy_timer;        /* reaching the proxy, then the tunnel */
	char proxy_name[SOCKS5_HOST_MAX + 10];  /* "host:port" of the proxy */
	char proxy_user[33], proxy_pass[33];    /* random, this run's */

	struct client_req *reqs;          /* in order of arrival */
	uint32_t next_id, next_wire;
	bool pumping;                     /* client_reqs_pump is running */

	struct client_room **rooms;
	size_t nrooms;

	/* identity keys of directory entries, parsed and verified once (keycache.c) */
	struct client_keycache {
		struct client_known_key **buckets;
		size_t n;                     /* keys held: at most CLIENT_KEYCACHE_MAX */
		uint64_t keys_parsed;         /* the work done, for the tests */
		uint64_t certs_verified;
	} keycache;

	/* this loop turn's messages, stored but not committed yet (turn.c) */
	struct client_turn {
		bool batch;                   /* a store batch is open */
		const char *step;             /* the batch holds this step's
						 writes only: its crash point */
		bool failed;                  /* a commit failed (since
						 client_directory_begin) */
		struct client_staged *ev;     /* their events, shown after the commit */
		size_t n, cap;
	} turn;

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

void client_notify(struct client *cl);
/* Quitting: closes once nothing is in flight and the output is out. */
void client_quit_continue(struct client *cl);
cc_err client_send(struct client *cl, const struct proto_msg *m);
/* Ends the session for good: state CLOSED, every request ended. */
void client_close(struct client *cl, int exit_status);
/* The same after an ERROR event (code, message): exit status 1. */
void client_fail(struct client *cl, const char *code, const char *message);
void client_ping_start(struct client *cl, struct client_req *req);

/* ---- the connection (core.c) and reconnecting (reconnect.c) ------------------------ */

/* A new connection: a fresh handshake, the pinned server key checked again.
 * A failure is reported through client_conn_failed. */
cc_err client_conn_open(struct client *cl);
/* Closes the connection at once (nothing more is read or written). */
void client_conn_close(struct client *cl);
/* The connection failed or dropped: code (a cc_err code name, "closed",
 * "connection_failed", "timeout") and a sentence. Before the first
 * registration, and for an answer no retry mends (a refused key or
 * nickname), it is the end (exit status 1); else the client goes OFFLINE
 * and tries again after a backoff. */
void client_conn_failed(struct client *cl, const char *code, const char *why);
/* The server's bytes arrived: the connection is alive. */
void client_conn_alive(struct client *cl);

/* ---- through a proxy (proxy.c) ---------------------------------------------- */

/* Names the proxy and draws this run's credentials (nothing without one). */
cc_err client_proxy_init(struct client *cl);
void client_proxy_free(struct client *cl);
/* The connection to the proxy is being made: its deadline starts. */
void client_proxy_dialing(struct client *cl);
/* The connection is gone: no deadline, no credentials left in the state. */
void client_proxy_closed(struct client *cl);
/* Connected to the proxy: appends the greeting to out (a failure is
 * reported through client_conn_failed). */
cc_err client_proxy_start(struct client *cl, struct buf *out);
/* Takes the proxy's replies from input, the next request to out: 1 while
 * the tunnel is not open, 0 once it is, -1 if it failed (reported). */
int client_proxy_read(struct client *cl, struct evbuffer *input, struct buf *out);
uint64_t client_proxy_connect_ms(const struct client *cl);
/* Closes the connection and makes a new one at once (from the loop), with
 * no CONNECTION_LOST: the identity key changed under it. */
void client_conn_again_now(struct client *cl);
/* Registered again after a drop: READY, RECONNECTED, the rejoins first. */
void client_reconnected(struct client *cl);
/* Quitting while not connected: ends at once (exit status 0). */
void client_quit_offline(struct client *cl);
/* Starts the offline clock of every caller's request waiting for the
 * connection, and the timer of the first to give up on. */
void client_offline_arm(struct client *cl);
/* The timers of reconnect.c: made with the client, freed with it. */
cc_err client_timers_new(struct client *cl);
void client_timers_free(struct client *cl);
/* The wait before attempt number `attempt` (0: the first after a drop):
 * 1 s doubling up to 60 s, then scaled by a factor in [0.8, 1.2] drawn from
 * rnd and capped at 60 s, so that clients cut off together do not all
 * come back at once. */
uint64_t client_backoff_ms(unsigned attempt, uint32_t rnd);
#define CLIENT_RECONNECT_FIRST_MS 1000
#define CLIENT_RECONNECT_MAX_MS 60000
#define CLIENT_PING_TIMEOUT_MS 60000

/* ---- moving to a new identity key (identity.c) -------------------------------------- */

/* Makes key ours (takes it): fingerprint, signing key and its certificate. */
cc_err client_identity_set(struct client *cl, struct crypto_rsa_key *key);
/* At start: the old key of a move still carried into the rooms, and a new
 * key the server has not answered for. */
cc_err client_identity_load_moving(struct client *cl);
/* 1 if fp is our identity key, or one we moved away from. */
int client_fp_is_own(struct client *cl, const uint8_t fp[CRYPTO_FINGERPRINT_LEN]);
/* The server refused our key as revoked: 1 if that finished a move of ours
 * (the new key is in place: connect again), 0 if not. */
int client_identity_on_revoked(struct client *cl);
/* Registered with the key we had: a pending move never happened. */
void client_identity_on_registered(struct client *cl);
/* Every room names the new key: the old one is deleted. */
void client_identity_old_done(struct client *cl);
void client_key_move_start(struct client *cl, struct client_req *req);
void client_key_move_on_answer(struct client *cl, struct client_req *req,
			       const struct proto_msg *m);

/* ---- events (events.c) ------------------------------------------------------------ */

void client_emit(struct client *cl, struct client_event *ev);
void client_emit_error(struct client *cl, uint32_t request, const char *room_hex,
		       const char *from, const char *code, const char *message);
/* An error about req (its room, if any). */
void client_req_error(struct client *cl, const struct client_req *req, const char *code,
		      const char *message);
/* The same, from the server's ERROR answer. */
void client_req_error_msg(struct client *cl, const struct client_req *req,
			  const struct proto_error *e);
/* A change of membership, as the chain stands after it. */
void client_emit_change(struct client *cl, enum client_event_type type, uint32_t request,
			const struct client_room *r, const struct e2e_chain *chain,
			const char *nick, const char *by);
/* ROOM_CREATED or JOINED about r. */
void client_emit_room(struct client *cl, enum client_event_type type, uint32_t request,
		      const struct client_room *r, uint32_t backlog);

/* ---- rooms (rooms.c) ---------------------------------------------------------------- */

struct client_room *client_room_new(const uint8_t room_id[PROTO_ROOM_ID_LEN]);
void client_room_free(struct client_room *r);
struct client_room *client_room_find(struct client *cl, const uint8_t room_id[PROTO_ROOM_ID_LEN]);
/* Puts r in the list, replacing any room with its id. */
cc_err client_room_install(struct client *cl, struct client_room *r);
void client_room_remove(struct client *cl, struct client_room *r);
void client_rooms_free(struct client *cl);
/* Records where record seq sits among the room's messages. */
cc_err client_room_set_position(struct client_room *r, uint32_t seq, uint64_t position);
/* Stores what the room's verified chain says: its head (what a later chain
 * must extend), epoch, admin, members and title. */
void client_room_save(struct client *cl, const struct client_room *r);
int client_is_admin(const struct client *cl, const struct client_room *r);
/* Verifies a room state from the server into r (new): the whole chain, that
 * it extends the head stored here, the names, and every key we are given;
 * on failure, *why says why (CC_ERR_SECURITY unless something else broke). */
cc_err client_join_verify(struct client *cl, struct client_room *r,
			  const struct proto_room_state *st, const char **why);
/* Starts a queued create, rooms, join or leave's load. */
void client_create_start(struct client *cl, struct client_req *req);
void client_rooms_start(struct client *cl, struct client_req *req);
void client_join_start(struct client *cl, struct client_req *req);
/* Answers to them. */
void client_create_on_answer(struct client *cl, struct client_req *req, const struct proto_msg *m);
void client_rooms_on_answer(struct client *cl, struct client_req *req, const struct proto_msg *m);
void client_join_on_answer(struct client *cl, struct client_req *req, const struct proto_msg *m);
/* ROOM_MSG, ROOM_RECORD and REKEY_OWED: news from the server. */
cc_err client_on_room_message(struct client *cl, const struct proto_msg *m);

/* ---- directory (directory.c) ---------------------------------------------------------- */

struct client_user *client_room_user(const struct client_room *r,
				     const uint8_t fp[CRYPTO_FINGERPRINT_LEN]);
const struct crypto_rsa_key *client_room_key_lookup(void *ctx,
						    const uint8_t fp[PROTO_FINGERPRINT_LEN]);
cc_err client_room_add_user_item(struct client *cl, struct client_room *r,
				 const struct proto_user_item *it);
cc_err client_room_add_users(struct client *cl, struct client_room *r,
			     const struct proto_list *users);
cc_err client_room_add_self(struct client *cl, struct client_room *r);
/* After the chain changed: gives every directory entry the chain's name for
 * its key (the server's name must be one the chain used for it, else
 * CC_ERR_SECURITY with *why), and checks each pair against the pins. */
cc_err client_room_name_users(struct client *cl, struct client_room *r, const char **why);
/* Marks every loaded directory entry of nick with this key as trusted. */
void client_rooms_trust(struct client *cl, const char *nick, const uint8_t fp[CRYPTO_FINGERPRINT_LEN]);

/* ---- work on every core (parallel.c) ---- */

/* Calls fn(ctx, i) for each i in [0, n), on as many threads as there are
 * cores (each given at least min_per_thread items; 0: no minimum), and
 * returns when all are done. fn must touch nothing but what its i owns. */
void client_parallel(size_t n, size_t min_per_thread, void (*fn)(void *ctx, size_t i), void *ctx);

/* ---- identity keys verified before (keycache.c) ----------------------------------------
 * Every directory entry's key is parsed and its certificates verified here,
 * once for the same bytes: an entry byte for byte the one verified before is
 * a lookup, anything else is verified as ever. */

/* The identity keys kept (a room of 5,000 fits, with room to spare); past
 * it the cache starts over. */
#define CLIENT_KEYCACHE_MAX 8192
/* What a directory entry's bytes are worth, as verifying them says. */
struct client_entry_check {
	struct crypto_rsa_key *key;       /* the identity key (the caller frees it) */
	uint8_t fp[CRYPTO_FINGERPRINT_LEN];  /* computed from the key */
	bool sign_ok;                     /* sign_cert verifies under key */
	bool recv_ok;                     /* recv_cert verifies under key (a real point) */
};
/* Parses it->identity_key (an error if it does not parse) and checks both
 * certificates of it under that key. */
cc_err client_entry_check(struct client *cl, const struct proto_user_item *it,
			  struct client_entry_check *out);
/* Checks, on every core, the entries of users (PROTO_ITEM_USER) whose key is
 * not kept yet, and keeps what verifies, so that client_entry_check finds
 * them: a big room's directory seen for the first time. Nothing changes but
 * the cache; what does not verify is verified again (and refused) there. */
void client_keycache_warm(struct client *cl, const struct proto_list *users);
void client_keycache_free(struct client_keycache *kc);

/* ---- messages (messages.c) ------------------------------------------------------------ */

void client_send_start(struct client *cl, struct client_req *req);
void client_send_on_answer(struct client *cl, struct client_req *req, const struct proto_msg *m);
void client_on_room_msg(struct client *cl, const struct proto_room_msg *rm);
/* Tells the server what we have handled in r, if anything new. */
void client_room_ack(struct client *cl, struct client_room *r);
/* After a turn's commit (turn.c): every ACK_EVERY messages, unless loading. */
void client_room_ack_due(struct client *cl, struct client_room *r);

/* ---- one loop turn's messages (turn.c) ---------------------------------------
 * The messages one read brings are checked and opened one by one, but what
 * handling them stores (cstore_message_handled) goes into one store batch:
 * one disk sync per turn, not per message. Nothing is shown before it is
 * committed: their events wait here, and client_turn_end commits, shows
 * them, then acknowledges (ROOM_READ), makes a due rekey and deletes ended
 * epochs' keys. A crash before the commit loses nothing: nothing was
 * acknowledged, so the server sends it all again. */
/* Opens the turn's store batch if it is not open yet. */
void client_turn_begin(struct client *cl);
/* Keeps a MESSAGE, GAP or ERROR event (copied) of room r for after the
 * commit. Without memory for it, the turn ends here and ev is shown. */
void client_turn_stage(struct client *cl, struct client_room *r, const struct client_event *ev);
/* Commits, shows, then the rooms' follow-ups. CC_ERR_STORE when the commit
 * failed: nothing of the turn is shown, the rooms' last handled ids are
 * read back from the store, and the caller drops the connection so that
 * the server sends the messages again. Before anything else the server
 * sent is handled, and at the end of every read. */
cc_err client_turn_end(struct client *cl);
/* Forgets what is staged (the client is going away). */
void client_turn_free(struct client *cl);
/* Taking in a room's directory writes the keys seen of every member, and a
 * creation, an add or a join pins each new one: alone, a few transactions
 * a member, each several disk syncs. Between these two calls they join the
 * turn's batch instead (handlers of answers run with no turn open: core.c
 * ends it first), and the commit comes before anything that rests on them
 * is sent or shown: a secret is wrapped to a member, and the request sent,
 * only once its pin and keys are on disk. STEP names the commit's crash
 * point ("client:create-stored"...). CC_ERR_STORE if the commit failed:
 * nothing of it is stored, and the caller goes no further. */
void client_directory_begin(struct client *cl, const char *step);
cc_err client_directory_commit(struct client *cl);
void client_rooms_ack_all(struct client *cl);

/* ---- membership (membership.c) ---------------------------------------------------------- */

void client_add_start(struct client *cl, struct client_req *req);
void client_add_on_users(struct client *cl, struct client_req *req, const struct proto_users *users);
void client_kick_start(struct client *cl, struct client_req *req);
/* Add and kick wrap the new epoch's secret to every member's current
 * receiving key: the room's directory is fetched afresh first (ROOM_FETCH),
 * then the change is made. */
void client_refresh_on_state(struct client *cl, struct client_req *req,
			     const struct proto_room_state *st);
void client_admin_start(struct client *cl, struct client_req *req);
void client_leave_start(struct client *cl, struct client_req *req);
void client_disconnect_start(struct client *cl, struct client_req *req);
/* The answer to ADD, KICK, REKEY (a new epoch), ADMIN, LEAVE, DISCONNECT. */
void client_change_on_answer(struct client *cl, struct client_req *req, const struct proto_msg *m);
void client_on_room_record(struct client *cl, const struct proto_room_record *rr);
/* Events for the records a change of ours made (req->records, blob items),
 * each told as the chain stands right after it. */
void client_records_events(struct client *cl, const struct client_req *req,
			   const struct client_room *r);

/* ---- epochs (epochs.c) -------------------------------------------------------------------- */

/* One change of a new epoch to sign: the last that opens an epoch keeps its
 * secret. Consecutive ADDs (a room's creation) are signed as one record of
 * up to PROTO_RECORD_SUBJECTS_MAX subjects. */
struct client_change {
	uint8_t action;
	char nick[PROTO_NICK_MAX + 1];
	uint8_t fp[CRYPTO_FINGERPRINT_LEN];
};
/* Signs a record of the action whose subjects are who[0..n) (n > 1 for an
 * ADD only; who[i].action is not read), appended to out. */
cc_err client_record_make(struct client *cl, const struct e2e_chain *chain, uint8_t action,
			  const struct client_change *who, size_t n, uint32_t epoch,
			  const uint8_t commit[PROTO_HASH_LEN], struct buf *out);
/* Builds a new epoch from r's chain (the changes signed on a copy kept in
 * req->chain, the secret in req->secret, the records in req->records), seals
 * title and wraps the secret to every member of the new epoch, and sends
 * request type (ROOM_CREATE, ROOM_ADD, ROOM_KICK or ROOM_REKEY). 0, or an
 * error (reported; the request must be ended by the caller). */
cc_err client_epoch_send(struct client *cl, struct client_req *req, struct client_room *r,
			 uint8_t type, const struct client_change *changes, size_t n,
			 const char *title);
/* The server accepted the change: r takes the new chain and secret. */
cc_err client_epoch_commit(struct client *cl, struct client_req *req, struct client_room *r);
void client_rekey_start(struct client *cl, struct client_req *req);
void client_rekey_on_state(struct client *cl, struct client_req *req,
			   const struct proto_room_state *st);
/* Periodic rekeying (--rekey-after): the epoch carried enough messages or
 * grew old enough. */
bool client_rekey_due(const struct client *cl, const struct client_room *r);
void client_maybe_rekey(struct client *cl, struct client_room *r);

/* ---- keys (keys.c) ----------------------------------------------------------------------- */

/* The most message numbers a message may skip over (a gap the server made):
 * the ratchet steps past them, keeping none of their keys. */
#define CLIENT_MAX_SKIP 20000

/* Loads our receiving key into cl->recv, making a new one first if there is
 * none, if it is older than the rotation period, or if the server knows a
 * newer version of ours (server_version; 0: none). */
cc_err client_recv_key_ready(struct client *cl, uint32_t server_version);
/* Publishes cl->recv (RECEIVE_KEY). */
void client_recv_key_start(struct client *cl, struct client_req *req);
/* Makes our receiving key ready (a new one if due) and publishes it: as part
 * of connecting (registration completes with it), or later (a rotation). */
void client_recv_key_publish(struct client *cl, bool connecting);
/* 1 if our receiving key is due for rotation. */
bool client_recv_key_due(const struct client *cl);
/* Makes the next receiving key now, whatever its age (published at the next
 * registration or RECEIVE_KEY). */
cc_err client_recv_key_renew(struct client *cl);
/* Deletes the receiving keys retired longer ago than the grace period. */
void client_recv_keys_prune(struct client *cl);
/* Opens a secret wrapped to one of our receiving keys and checks it against
 * the chain's commitment for the epoch. CC_ERR_SECURITY (a lie of the
 * server's) or CC_ERR_NOT_FOUND (our key of that version is gone), with
 * *why. *stale: it opened, but under a receiving key replaced well before
 * the epoch began (the server kept our new key from its opener), so the
 * epoch does not heal a copied device: a new one is owed. */
#define STALE_WRAP_NOTICE "the room's new key was wrapped to a receiving key of ours " \
			  "replaced long before (the server kept the new one from its " \
			  "maker?): making another epoch"
cc_err client_wrapped_open(struct client *cl, const struct client_room *r, uint32_t epoch,
			   const uint8_t *wrapped, size_t len, uint8_t secret[E2E_KEY_LEN],
			   bool *stale, const char **why);
/* Turns an epoch's secret into its chain keys (one per sender of the epoch,
 * stored) and, given title_ct and title, opens the title with its title
 * key. The caller wipes the secret and acknowledges (client_keys_ack). */
cc_err client_epoch_take(struct client *cl, const struct e2e_chain *chain, uint32_t epoch,
			 const uint8_t secret[E2E_KEY_LEN], const struct proto_bytes *title_ct,
			 char title[E2E_TITLE_MAX + 1]);
/* Seals the title under the title key of the chain's current epoch. */
cc_err client_title_seal(const uint8_t secret[E2E_KEY_LEN], const struct e2e_chain *chain,
			 const char *title, struct buf *out);
/* Tells the server we hold the room's keys up to epoch (KEYS_ACK). */
void client_keys_ack(struct client *cl, const uint8_t room[PROTO_ROOM_ID_LEN], uint32_t epoch);
/* Deletes the keys of the room's epochs no message can come in any more. */
void client_epochs_forget_ended(struct client *cl, struct client_room *r);
/* Our next message key in the epoch and its number (stored as used first). */
cc_err client_message_key_own(struct client *cl, const struct client_room *r, uint32_t epoch,
			      uint8_t mk[E2E_KEY_LEN], uint64_t *seq);
/* A received message's key: the sender's chain stepped forward to its
 * number. Nothing is stored: *step goes to cstore_message_handled once the
 * message opened. CC_ERR_NOT_FOUND (no chain of that epoch here),
 * CC_ERR_REPLAYED (behind the chain), CC_ERR_LIMIT (too far ahead). */
cc_err client_message_key_recv(struct client *cl, const struct client_room *r, uint32_t epoch,
			       const uint8_t sender[CRYPTO_FINGERPRINT_LEN], uint64_t seq,
			       uint8_t mk[E2E_KEY_LEN], struct cstore_ratchet *step);

/* ---- sweep (sweep.c) ----------------------------------------------------------------------- */

void client_sweep_start(struct client *cl, struct client_req *req);
void client_sweep_on_answer(struct client *cl, struct client_req *req, const struct proto_msg *m);

/* ---- trust (trust.c) ----------------------------------------------------------------------- */

/* A MOVE record of the room's verified chain: if the key it moves from is
 * the one pinned for the name, the new key is pinned in its place, verified
 * if the old one was, and KEY_MOVED told (once: a pin already moved is left
 * alone). */
void client_trust_moved(struct client *cl, const struct client_room *r,
			const struct proto_record *rec);
/* Pins a key on first sight. 1 if it is the pinned key; 0 if the nickname's
 * pinned key differs (announced once as key_changed) and was not verified. */
int client_trust_check(struct client *cl, const char *nick,
		       const uint8_t fp[CRYPTO_FINGERPRINT_LEN]);
/* The same, and *verified: the key is ours, or the pin the user verified. */
int client_trust_check_verified(struct client *cl, const char *nick,
				const uint8_t fp[CRYPTO_FINGERPRINT_LEN], bool *verified);
/* Asks the server for req->nick's key (USERS_GET; step USERS). */
cc_err client_ask_user(struct client *cl, struct client_req *req);
void client_trust_start(struct client *cl, struct client_req *req);
void client_trust_on_users(struct client *cl, struct client_req *req,
			   const struct proto_users *users);
void client_trust_free(struct client *cl);

#endif
