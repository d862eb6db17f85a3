/* The client core: one user's identity, its connection to a server, its rooms
 * and every end-to-end check, as a typed library that several front ends sit
 * on (batch, plain, the full-screen UI, the load generator).
 *
 * Calls return at once: a call that needs the server starts a request and
 * gives its id; what follows comes as typed events (struct client_event, each
 * naming the request it belongs to, 0 for news nobody asked for), and each
 * request ends with exactly one on_done(id, error). Several requests may be in
 * flight; the core orders what must be ordered (one join at a time, one
 * membership change per room at a time, a room's lines after its new epoch).
 * When the connection of a registered session drops, the core reconnects by
 * itself (CONNECTION_LOST, then RECONNECTED), joins again the rooms that were
 * joined, and runs what was asked meanwhile; nothing is lost or shown twice.
 * No terminal, no JSON and no standard streams here: diagnostics go to the
 * log sink the front end chose (util/log.h). */
#ifndef CC_CLIENT_CORE_CLIENT_H
#define CC_CLIENT_CORE_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/msg.h"
#include "transport/socks5.h"
#include "util/err.h"

struct event_base;
struct client;
struct home_secrets;

#define CLIENT_ROOM_HEX (2 * PROTO_ROOM_ID_LEN + 1)
#define CLIENT_FP_HEX 65
#define CLIENT_TITLE_MAX 200

struct client_config {
	char host[256];
	uint16_t port;
	char home[4096];
	char nick[PROTO_NICK_MAX + 1];  /* empty: the one saved in home */
	unsigned rsa_bits;
	/* Start a new epoch after this many messages in it (0: never) or once
	 * the epoch is this old (0: never): the admin at once, any member
	 * before saying something. */
	uint32_t rekey_after_msgs;
	uint64_t rekey_after_ms;
	/* A member is signed out as expired only after this long without a
	 * message or record of theirs seen here (the server's --nick-ttl; 0:
	 * the default, a day). */
	uint64_t nick_ttl_ms;
	/* Our receiving key is replaced after this long (0: a week), and a
	 * replaced one's private part deleted this long after (0: a week). */
	uint64_t recv_rotate_ms;
	uint64_t recv_grace_ms;
	/* A caller's request that has waited this long for the connection ends
	 * with error "offline" (0: it waits as long as it takes). */
	uint64_t offline_timeout_ms;
	/* A connection silent this long is given up (and tried again); it is
	 * pinged after half of it (0: the default, 60 s). */
	uint64_t ping_timeout_ms;
	/* A SOCKS5 proxy to connect through (port 0: none, connect directly).
	 * With one, the client resolves no name and dials nothing else. */
	struct socks5_proxy proxy;
	/* Through a proxy: how long the tunnel may take to open (0: 120 s). */
	uint64_t connect_timeout_ms;
	/* The passphrase that opens the home's keys (client_secrets_new), or
	 * NULL: none given. Borrowed: it must outlive the client. */
	struct home_secrets *secrets;
};

/* Exit statuses, shared by the front ends. */
enum client_exit {
	CLIENT_EXIT_OK = 0,
	CLIENT_EXIT_ERROR = 1,          /* could not connect or register (the first time, or
					   for good: a refused key or nickname) */
	CLIENT_EXIT_USAGE = 2,
	CLIENT_EXIT_SERVER_KEY = 3,     /* the server's key is not the pinned one */
	CLIENT_EXIT_PASSPHRASE = 4,     /* the passphrase is wrong or missing (bad_passphrase) */
};

enum client_state {
	CLIENT_CONNECTING,              /* the first time, or again after a drop */
	CLIENT_READY,                   /* registered: calls run */
	CLIENT_OFFLINE,                 /* the connection dropped: waiting to try again;
					   calls queue (client_takes_calls) */
	CLIENT_CLOSED,                  /* done; client_exit_status says how */
};

/* ---- events ----------------------------------------------------------------- */

enum client_event_type {
	CLIENT_EV_REGISTERED,
	CLIENT_EV_ERROR,
	CLIENT_EV_ROOM_CREATED,
	CLIENT_EV_ROOMS,
	CLIENT_EV_JOINED,
	CLIENT_EV_MESSAGE,
	CLIENT_EV_GAP,
	CLIENT_EV_SENT,
	CLIENT_EV_MEMBER_ADDED,
	CLIENT_EV_MEMBER_LEFT,
	CLIENT_EV_MEMBER_KICKED,
	CLIENT_EV_MEMBER_EXPIRED,
	CLIENT_EV_ADMIN_CHANGED,
	CLIENT_EV_REKEYED,
	CLIENT_EV_EXPELLED,             /* we were expelled */
	CLIENT_EV_EXPIRED,              /* we were signed out as expired */
	CLIENT_EV_REMOVED,              /* we left the chain some other way */
	CLIENT_EV_DISCONNECTED,
	CLIENT_EV_LEFT,
	CLIENT_EV_KEY_CHANGED,
	CLIENT_EV_FINGERPRINT,
	CLIENT_EV_SAFETY_NUMBER,
	CLIENT_EV_VERIFIED,
	CLIENT_EV_PONG,
	CLIENT_EV_CONNECTION_LOST,      /* the connection dropped, or an attempt to make it
					   again failed: the next in u.connection.retry_ms */
	CLIENT_EV_RECONNECTED,          /* registered again; the rooms that were joined are
					   joined again next (JOINED, request 0, each with
					   its backlog), then what waited runs */
	CLIENT_EV_KEY_ROTATED,          /* we moved to a new identity key (/rotate-key);
					   the connection is made again with it */
	CLIENT_EV_KEY_MOVED,            /* a member moved to a new key, signed by its old
					   one (a record of the room's history) */
	CLIENT_EV_COUNT_
};

/* A room as /rooms lists it. */
struct client_room_info {
	char room[CLIENT_ROOM_HEX];
	const char *title;              /* "" unless verified */
	const char *admin;
	uint32_t members, unread, epoch;
	bool verified;                  /* title, admin, members, epoch: from the chain */
};

/* One event. Strings and arrays are valid during the callback only. room is
 * the room's id in hex, "" when the event is about no room. */
struct client_event {
	enum client_event_type type;
	uint32_t request;               /* the request it belongs to; 0: news */
	const char *room;
	union {
		struct {
			const char *nick, *fingerprint, *server, *server_fingerprint;
			bool server_key_new;    /* pinned just now */
		} registered;
		struct {
			const char *code;       /* cc_err_code names, and the client's own */
			const char *message;
			const char *from;       /* the claimed sender of a refused message */
			/* server_key_changed: */
			const char *server, *pinned, *offered;
		} error;
		struct {                        /* ROOM_CREATED, JOINED */
			const char *title, *admin;
			const char *const *members;
			size_t nmembers;
			uint32_t epoch, backlog;
		} room;
		struct {
			const struct client_room_info *list;
			size_t n;
		} rooms;
		struct {
			const char *from;
			const char *text;       /* UTF-8, not NUL-terminated: len bytes */
			size_t len;
			uint64_t seq, ts_ms, msg_id;
			uint32_t epoch;
			bool verified;          /* the sender's key is the one we pinned */
			bool safety_verified;   /* and the user compared it (/verify) */
		} message;
		struct {
			const char *from;
			uint32_t epoch;
			uint64_t first, last;
		} gap;
		struct {
			uint64_t seq, msg_id, ts_ms;
			uint32_t epoch;
		} sent;
		struct {                        /* membership changes and rekeys */
			const char *nick;       /* the member concerned ("" for REKEYED...) */
			const char *by;         /* who signed the change */
			const char *admin;      /* the admin after it */
			uint32_t epoch;         /* the epoch after it */
		} change;
		struct {
			const char *nick, *old_fp, *new_fp;
		} key_changed;
		struct {
			const char *nick, *fingerprint;
			bool others;            /* about another user: the fields below count */
			const char *pinned;     /* "" if not pinned */
			bool trusted, verified;
		} fingerprint;
		struct {
			const char *nick, *number, *fingerprint;
		} safety;
		struct {
			const char *nick, *fingerprint;
		} verified;
		struct {
			uint64_t rtt_ms;
		} pong;
		struct {                        /* KEY_ROTATED: ours */
			const char *old_fp, *new_fp;
		} key_rotated;
		struct {                        /* KEY_MOVED: a member's, in room */
			const char *nick, *old_fp, *new_fp;
			bool trusted;           /* the old key was the one pinned: the
						   new one is pinned in its place */
			bool verified;          /* and it had been compared: so is the new */
		} key_moved;
		struct {                        /* CONNECTION_LOST */
			const char *reason;     /* a sentence */
			uint64_t retry_ms;      /* the next attempt, from now */
		} connection;
	} u;
};

struct client_callbacks {
	void (*on_event)(void *ctx, const struct client_event *ev);
	/* A request ended: err CC_OK, or the error an event already reported. */
	void (*on_done)(void *ctx, uint32_t request, cc_err err);
	/* The state or the busy flag changed (a front end may read more input). */
	void (*on_state)(void *ctx);
	void *ctx;
};

/* ---- lifecycle -------------------------------------------------------------- */

/* Prepares the home directory (0700), loads or makes the identity key, and
 * resolves the nickname (cfg->nick, else the one saved in home). */
cc_err client_new(const struct client_config *cfg, struct event_base *base,
		  const struct client_callbacks *cb, struct client **out);
void client_free(struct client *cl);
/* Connects and registers: REGISTERED, or an ERROR and the state CLOSED. */
cc_err client_connect(struct client *cl);
/* Ends the session once the requests in flight have ended (at most 10 s)
 * and what is queued has gone out (at most 2 s more): the state becomes
 * CLOSED with exit status 0 unless an error came first. Not connected (the
 * connection dropped), it ends at once: each caller's request waiting for
 * the connection gets an ERROR "offline". */
void client_quit(struct client *cl);
enum client_state client_get_state(const struct client *cl);
int client_exit_status(const struct client *cl);
/* 1 while requests or the core's own work (new epochs owed) are in flight;
 * while the connection is down, only while a caller's request waits. */
int client_busy(const struct client *cl);
/* 1 when calls are taken: registered, or reconnecting after a drop (calls
 * then wait for the connection, at most offline_timeout_ms). */
int client_takes_calls(const struct client *cl);
/* Our nickname as registered. */
const char *client_nick(const struct client *cl);
/* "host:port" of the SOCKS5 proxy the connection goes through, or NULL. */
const char *client_proxy_get(const struct client *cl);
/* The default home: $CRYPTOCAT_HOME, else $XDG_DATA_HOME/cryptocat, else
 * $HOME/.local/share/cryptocat. */
cc_err client_default_home(char *out, size_t n);

/* ---- secrets at rest (secrets.c) -------------------------------------------------
 * A home's keys (identity.pem, and the receiving and chain keys in
 * client.db) are encrypted under a passphrase when the user set one, else
 * kept in clear (with a one-time warning). A front end asks which before
 * client_new, to know whether to ask for the passphrase. */
enum client_home_lock {
	CLIENT_HOME_NEW,                /* nothing there yet: a passphrase given now protects it */
	CLIENT_HOME_CLEAR,              /* keys in clear */
	CLIENT_HOME_PASSPHRASE,         /* keys under a passphrase */
};
/* Which one HOME is. It first finishes or rolls back a passphrase change a
 * crash cut short (the only thing it may write); a new home is not made. */
cc_err client_home_lock_get(const char *home, enum client_home_lock *out);
/* A passphrase context holding a copy of PASS (LEN bytes, at most
 * CLIENT_PASSPHRASE_MAX; LEN 0: no passphrase). Freed (wiped) by
 * client_secrets_free. */
#define CLIENT_PASSPHRASE_MAX 1024
cc_err client_secrets_new(const char *pass, size_t len, struct home_secrets **out);
void client_secrets_free(struct home_secrets *s);
/* Checks the passphrase against HOME (CC_ERR_BAD_PASSPHRASE if wrong,
 * missing or not wanted), changing nothing; the key it derives is kept in S
 * for client_new. */
cc_err client_home_unlock(const char *home, struct home_secrets *s);
/* Re-encrypts HOME's keys from OLD_S (NULL or none: in clear) to NEW_S
 * (none: in clear again), atomically: after a crash at any point the next
 * start finds the old passphrase or the new one working, never a mix.
 * CC_ERR_BAD_PASSPHRASE if OLD_S does not open the home, CC_ERR_NOT_FOUND
 * if the home has no identity key yet. */
cc_err client_home_change_passphrase(const char *home, struct home_secrets *old_s,
				     struct home_secrets *new_s);

/* ---- calls ---------------------------------------------------------------------
 * Each returns the request's id (never 0; 0 only without memory). A call
 * made before the first registration or after the end ends at once with an
 * ERROR not_connected (and on_done); one made while reconnecting waits for
 * the connection. A call whose arguments are wrong ends at once: ERROR and
 * on_done before it returns. */

uint32_t client_ping(struct client *cl);
/* A room with us as admin and these members (1 or more, not us). */
uint32_t client_room_create(struct client *cl, const char *const *nicks, size_t n,
			    const char *title);
uint32_t client_rooms_list(struct client *cl);
uint32_t client_room_join(struct client *cl, const uint8_t room[PROTO_ROOM_ID_LEN]);
/* Says text (UTF-8, at most PROTO_TEXT_MAX bytes) in a joined room; sent
 * after the room's new epoch if a member left (SENT when it is stored). */
uint32_t client_room_send(struct client *cl, const uint8_t room[PROTO_ROOM_ID_LEN],
			  const char *text, size_t len);
uint32_t client_room_add(struct client *cl, const uint8_t room[PROTO_ROOM_ID_LEN],
			 const char *nick);
uint32_t client_room_kick(struct client *cl, const uint8_t room[PROTO_ROOM_ID_LEN],
			  const char *nick);
uint32_t client_room_admin(struct client *cl, const uint8_t room[PROTO_ROOM_ID_LEN],
			   const char *nick);
uint32_t client_room_disconnect(struct client *cl, const uint8_t room[PROTO_ROOM_ID_LEN]);
uint32_t client_room_leave(struct client *cl, const uint8_t room[PROTO_ROOM_ID_LEN]);
/* Moves to a new identity key, signed by the current one: KEY_ROTATED, then
 * the connection is made again with the new key and every room is told (a
 * MOVE record in each); members who had verified the old key keep the new
 * one verified. The old key is refused by the server from then on. */
uint32_t client_rotate_key(struct client *cl);
/* Our own fingerprint (nick NULL: answered at once), or a user's. */
uint32_t client_user_fingerprint(struct client *cl, const char *nick);
uint32_t client_user_safety(struct client *cl, const char *nick);
uint32_t client_user_verify(struct client *cl, const char *nick);

/* ---- what the core knows of a room (for a front end's display) ------------------ */

struct client_member_view {
	char nick[PROTO_NICK_MAX + 1];
	bool admin;
	bool trusted;                   /* the key is the one we pinned */
	bool verified;                  /* and the user compared it (/verify) */
};

struct client_room_view {
	char room[CLIENT_ROOM_HEX];
	char title[CLIENT_TITLE_MAX + 1];
	char admin[PROTO_NICK_MAX + 1];
	uint32_t epoch;
	bool joined;                    /* hearing it live */
	bool closed;                    /* a member left: a new key comes first */
	size_t nmembers;
	struct client_member_view *members;  /* malloc'd: client_room_view_free */
};

/* How many rooms the core has loaded, and the i-th (0..n-1) as a view. */
size_t client_room_count(const struct client *cl);
cc_err client_room_view_get(struct client *cl, size_t i, struct client_room_view *out);
void client_room_view_free(struct client_room_view *v);

#endif
