/* What the server's files share: the server and connection structures. */
#ifndef CC_SERVER_INTERNAL_H
#define CC_SERVER_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "proto/msg.h"
#include "server/server.h"
#include "util/buf.h"

struct event_base;
struct event;
struct evconnlistener;
struct bufferevent;
struct store;
struct crypto_rsa_key;
struct chan;
struct conn;

struct server {
	const struct server_config *cfg;
	struct event_base *base;
	struct evconnlistener *listener;
	struct event *sigint, *sigterm;
	struct event *flush_ev;          /* deferred: flush dirty, free dead */
	const struct timeval *keepalive_tv;
	struct store *store;
	struct crypto_rsa_key *key;
	struct conn *conns;              /* every connection */
	unsigned nconns;
	struct conn *dirty;              /* connections with pending output */
	struct conn *graveyard;          /* connections to free */
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
};

/* Queues one message for the connection's next record. */
cc_err conn_queue_msg(struct conn *c, const struct proto_msg *m);
/* Queues an ERROR; text NULL means cc_err_str(code). */
void conn_send_error(struct conn *c, uint32_t request_id, cc_err code, const char *text);

/* An authenticated request that is not transport housekeeping (requests.c).
 * An error return closes the connection; answerable errors are sent with
 * conn_send_error and return CC_OK. */
cc_err server_handle_request(struct conn *c, const struct proto_msg *m);
/* The connection's user is going away. */
void server_on_disconnect(struct conn *c);

#endif
