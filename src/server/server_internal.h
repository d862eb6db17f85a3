/* What the server's files share: the server and connection structures. */
#ifndef CC_SERVER_INTERNAL_H
#define CC_SERVER_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "proto/msg.h"
#include "server/server.h"
#include "util/buf.h"
#include "util/log.h"

struct event_base;
struct event;
struct evconnlistener;
struct bufferevent;
struct store;
struct crypto_rsa_key;
struct chan;
struct conn;

struct live_room;
struct pending_send;
struct chain_cache;
struct hs_pool;
struct hs_job;
struct hs_addr;
struct sockaddr;

struct server {
	const struct server_config *cfg;
	struct event_base *base;
	struct evconnlistener *listener;
	struct event *sigint, *sigterm;
	struct event *flush_ev;          /* deferred: flush dirty, free dead */
	bool flush_pending;              /* flush_ev is active or armed */
	uint64_t last_flush_us;          /* monotonic */
	const struct timeval *keepalive_tv;
	struct store *store;
	struct crypto_rsa_key *key;
	struct conn *conns;              /* every connection */
	unsigned nconns;
	struct conn *dirty;              /* connections with pending output */
	struct conn *graveyard;          /* connections to free */
	uint64_t next_conn_id;

	/* rooms.c, live.c */
	struct live_room **live;         /* open-addressed by room row id */
	size_t live_cap, live_count;
	bool txn_open;                   /* messages of this loop turn, uncommitted */
	struct pending_send *sends;      /* their senders, answered after the commit */
	size_t nsends, sends_cap;
	struct buf fanout;               /* one encoded ROOM_MSG frame, copied to each */
	struct event *retention_ev;
	struct event *checkpoint_ev;     /* after secrets were deleted: truncate the WAL */
	uint64_t pruned;                 /* messages deleted by this retention pass */
	struct chain_cache *chains;      /* chain_cache.c: verified chains, by room */
	struct conn *marks_dirty;        /* reads.c: connections with unwritten reads */
	struct conn *paused;             /* live.c: senders waiting for slow readers */

	/* onion.c: tor's control connection, kept open while the service lives */
	int onion_fd;                    /* -1: none */
	struct event *onion_ev;
	char onion_id[64];               /* the address without ".onion" */

	struct hs_pool *hs;              /* handshake.c */
};

struct conn {
	struct server *srv;
	struct conn *prev, *next;        /* in srv->conns */
	struct conn *dirty_next;
	struct conn *dead_next;
	struct bufferevent *bev;
	struct chan *chan;
	struct event *timer;             /* handshake timeout, then keepalive */
	char peer[80];                   /* address, for logs */
	int64_t user_id;                 /* 0 until registered */
	char nick[PROTO_NICK_MAX + 1];
	uint64_t last_recv_ms;
	bool ping_outstanding;
	bool dirty;
	bool closing;                    /* no more input; close once flushed */
	bool dead;                       /* in the graveyard */
	struct buf pending;              /* inner frames waiting for the flush */
	struct buf wire;                 /* sealed records on their way out */
	uint64_t id;
	struct hs_job *hs_job;           /* its CLIENT_KEY with a worker; owns chan */
	struct hs_addr *hs_addr;         /* counted there while unauthenticated */

	/* rooms.c, live.c */
	int64_t *active_rooms;           /* room row ids this connection hears live */
	size_t nactive, active_cap;
	struct state_pump *state;        /* a room's state streaming (state.c): the
					    connection is not read meanwhile */
	bool pumping;                    /* delivering a join's backlog */
	int64_t pump_room;
	uint32_t pump_request;
	int64_t pump_after;              /* the last message id delivered */

	/* live.c: flow control (--output-soft) */
	bool backed;                     /* output over the soft limit */
	uint64_t backed_since_ms;        /* monotonic */
	bool paused;                     /* not read: its rooms have a backed reader */
	struct conn *paused_next;

	/* room_seen.c: rooms it sent to, as the store had them */
	struct room_seen *seen;
	size_t nseen, seen_next;

	/* reads.c: read acknowledgements, by room, written at the commit */
	struct read_mark *marks;
	size_t nmarks, marks_cap;
	bool marks_dirty;
	struct conn *marks_next;
};

/* server.c: stops all I/O; the flush frees it (never in the middle of a
 * callback that may still use it). */
void conn_kill(struct conn *c);
void conn_free(struct conn *c);
void conn_log(const struct conn *c, enum log_level level, const char *what, cc_err err);
/* output.c: writes conn->wire (handshake records, plaintext errors) as is. */
void conn_write_wire(struct conn *c);
/* The turn's work is to be committed and written: now, or within
 * --flush-interval-us of the last flush. */
void server_flush_soon(struct server *srv);
/* The loop turn's transaction (rooms.c), opened if it is not yet: what is
 * written in it is committed at the flush. false if the store refused. */
bool server_txn_ensure(struct server *srv);
/* The event that runs the flush (output.c). */
struct event *server_flush_event_new(struct server *srv);
/* A room's state has streamed (state.c): read the connection's requests
 * again, those already received first. Not from within its read callback. */
void server_conn_resume_input(struct conn *c);
/* Stops reading, sends what is queued, then frees (from the write callback). */
void conn_close_after_flush(struct conn *c);

/* Queues one message for the connection's next record. */
cc_err conn_queue_msg(struct conn *c, const struct proto_msg *m);
/* Queues an already encoded inner frame (u32 length and message). */
cc_err conn_queue_frame(struct conn *c, const uint8_t *frame, size_t len);
/* Bytes queued for the connection and not yet written. */
size_t conn_queued(const struct conn *c);
/* Queues an ERROR; text NULL means cc_err_str(code). */
void conn_send_error(struct conn *c, uint32_t request_id, cc_err code, const char *text);

/* An authenticated request that is not transport housekeeping (rooms.c).
 * An error return closes the connection; answerable errors are sent with
 * conn_send_error and return CC_OK. */
cc_err server_handle_request(struct conn *c, const struct proto_msg *m);
/* The connection's user is going away. */
void server_on_disconnect(struct conn *c);
/* The connection's user just registered: tell it which rooms owe a new key. */
void server_on_registered(struct conn *c);
/* Frees the nicknames of users away longer than the TTL (membership.c). */
void server_expire_idle(struct server *srv);
/* The connection's output drained below half its cap: continue a backlog. */
void server_on_output_drained(struct conn *c);
/* Flow control (live.c): the output queued after a flush; after a write;
 * and from the keepalive tick, 1 if the connection has been over the soft
 * limit for too long (the caller drops it). */
void live_output_queued(struct conn *c, size_t queued);
/* The soft limit in force: --output-soft, at most a quarter of --max-output. */
size_t live_output_soft(const struct server *srv);
void live_output_written(struct conn *c, size_t queued);
int live_backed_too_long(const struct conn *c, uint64_t now_mono_ms);

/* handshake.c: the RSA work on worker threads, per-address limits, the
 * adaptive proof of work. */
cc_err hs_pool_start(struct server *srv);
/* Joins the workers and frees what is left: after every conn_free. */
void hs_pool_stop(struct server *srv);
/* A new connection from SA: CC_OK (counted against its address until
 * hs_conn_authenticated or hs_conn_gone), or CC_ERR_LIMIT with *WHY. */
cc_err hs_admit(struct conn *c, const struct sockaddr *sa, const char **why);
void hs_conn_authenticated(struct conn *c);
/* From conn_free: a job still out keeps the channel (c->chan becomes NULL). */
void hs_conn_gone(struct conn *c);
/* The bits the next SERVER_HELLO asks for. */
unsigned hs_puzzle_bits(const struct server *srv);
/* CHAN_EVENT_KEY_PENDING: queues the key's work. CC_ERR_LIMIT: queue full. */
cc_err hs_submit(struct conn *c);
void hs_note_puzzle_refused(struct server *srv);
/* server.c: a job came back; WIRE holds a plaintext ERROR if ERR. */
void server_conn_key_done(struct conn *c, cc_err err, struct buf *wire);

cc_err server_rooms_init(struct server *srv);
void server_rooms_free(struct server *srv);
/* Commits the messages of this loop turn, then answers their senders and
 * fans them out. Called by the flush event before output is sealed. */
void server_rooms_commit(struct server *srv);

/* ---- onion.c ---------------------------------------------------------------- */

/* With --onion: publishes the listener as a Tor onion service (blocking,
 * once, after server_listen). Nothing without it. */
cc_err server_onion_start(struct server *srv);
/* Closes tor's control connection: tor drops the service. */
void server_onion_stop(struct server *srv);

#endif
