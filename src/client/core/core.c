/* The client core: the connection, the handshake and registration, the
 * dispatch of what the server sends, quitting, and the calls that belong to
 * no room. Making and freeing a client is lifecycle.c's; what happens when
 * the connection drops is in reconnect.c; rooms are in rooms.c and the
 * files beside it (internal.h). */
#include "client/core/client.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "client/core/home.h"
#include "client/core/internal.h"
#include "crypto/crypto.h"
#include "proto/frame.h"
#include "store/client_store.h"
#include "transport/chan.h"
#include "util/clock.h"
#include "util/log.h"

void client_notify(struct client *cl)
{
	if (cl->cb.on_state)
		cl->cb.on_state(cl->cb.ctx);
}

void client_conn_close(struct client *cl)
{
	if (cl->bev) {
		bufferevent_free(cl->bev);
		cl->bev = NULL;
	}
	chan_free(cl->chan);
	cl->chan = NULL;
	buf_reset(&cl->wire);
	cl->welcomed = false;
	cl->ping_out = false;
	if (cl->conn_timer)
		evtimer_del(cl->conn_timer);
	client_proxy_closed(cl);
	client_reqs_drop_connection(cl);
}

/* Ends the session; the first reason given decides the exit status. */
void client_close(struct client *cl, int exit_status)
{
	if (cl->state == CLIENT_CLOSED)
		return;
	cl->state = CLIENT_CLOSED;
	cl->exit_status = exit_status;
	client_conn_close(cl);
	if (cl->quit_timer) {
		event_free(cl->quit_timer);
		cl->quit_timer = NULL;
	}
	if (cl->retry_timer)
		evtimer_del(cl->retry_timer);
	if (cl->offline_timer)
		evtimer_del(cl->offline_timer);
	/* What was in flight will get no answer. */
	client_reqs_free(cl);
	client_notify(cl);
}

void client_fail(struct client *cl, const char *code, const char *message)
{
	if (cl->state == CLIENT_CLOSED)
		return;
	client_emit_error(cl, 0, NULL, NULL, code, message);
	client_close(cl, CLIENT_EXIT_ERROR);
}

static void client_flush_wire(struct client *cl)
{
	if (cl->wire.len && cl->bev)
		bufferevent_write(cl->bev, cl->wire.data, cl->wire.len);
	buf_reset(&cl->wire);
}

cc_err client_send(struct client *cl, const struct proto_msg *m)
{
	if (!cl->chan)
		return CC_ERR_CLOSED;  /* offline: the caller tries again later */
	cc_err err = chan_send_msg(cl->chan, m, &cl->wire);
	if (!err)
		client_flush_wire(cl);
	return err;
}

static void client_on_server_key(struct client *cl)
{
	char fp_hex[2 * CRYPTO_FINGERPRINT_LEN + 1], pinned[2 * CRYPTO_FINGERPRINT_LEN + 1];
	enum pin_result pin;
	const uint8_t *fp = chan_peer_fingerprint(cl->chan);

	hex_encode(fp, CRYPTO_FINGERPRINT_LEN, fp_hex);
	if (home_pin_check(cl->cfg.home, cl->server, fp, &pin, pinned)) {
		client_fail(cl, "io_error", "cannot read or write known_servers in the home directory");
		return;
	}
	if (pin == PIN_CHANGED) {
		char msg[5200];
		snprintf(msg, sizeof msg,
			 "the key of server %s changed: pinned %s, offered %s. Someone may be "
			 "impersonating the server. If the operator really replaced the key, "
			 "remove its line from %s/known_servers",
			 cl->server, pinned, fp_hex, cl->cfg.home);
		struct client_event ev = {.type = CLIENT_EV_ERROR};
		ev.u.error.code = "server_key_changed";
		ev.u.error.message = msg;
		ev.u.error.server = cl->server;
		ev.u.error.pinned = pinned;
		ev.u.error.offered = fp_hex;
		client_emit(cl, &ev);
		client_close(cl, CLIENT_EXIT_SERVER_KEY);
		return;
	}
	cl->server_key_new = pin == PIN_NEW;
	cc_err err = chan_client_continue(cl->chan, &cl->wire);
	if (err) {
		client_conn_failed(cl, cc_err_code(err), cc_err_str(err));
		return;
	}
	client_flush_wire(cl);
}

static void client_on_welcome(struct client *cl, const struct proto_welcome *w)
{
	/* The server echoes the key it authenticated and the nickname it
	 * registered: both must be what we asked for. */
	if (!crypto_ct_equal(cl->fp, w->fingerprint, sizeof cl->fp)) {
		client_fail(cl, "auth_failed", "the server registered a key that is not ours");
		return;
	}
	if (w->nick.len != strlen(cl->nick) ||
	    strncasecmp((const char *)w->nick.p, cl->nick, w->nick.len) != 0) {
		client_fail(cl, "auth_failed", "the server registered another nickname than ours");
		return;
	}
	memcpy(cl->nick, w->nick.p, w->nick.len);
	cl->nick[w->nick.len] = '\0';
	chan_set_send_cap(cl->chan, w->max_frame);
	if (home_nick_save(cl->cfg.home, cl->nick))
		log_warn("cannot save the nickname in %s", cl->cfg.home);
	/* Publish the signing key, certified by the identity key, before
	 * anything else: others verify our messages with it. */
	struct client_req *req = client_req_new(cl, REQ_SIGNING_KEY, false);
	struct proto_msg m = {.type = PROTO_SIGNING_KEY};
	m.u.signing_key.version = 1;
	memcpy(m.u.signing_key.sign_pub, cl->sign_pub, sizeof cl->sign_pub);
	m.u.signing_key.sign_cert = (struct proto_bytes){cl->sign_cert.data, cl->sign_cert.len};
	if (!req || client_req_send(cl, req, &m) != CC_OK) {
		client_fail(cl, "no_memory", "cannot publish the signing key");
		return;
	}
	req->step = STEP_CHANGE;
}

static void client_on_registered(struct client *cl, struct client_req *req);

#define KEYS_CHECK_S 3600

/* Hourly: a receiving key due for rotation is replaced; keys waiting on the
 * server are swept, and old receiving keys deleted. */
static void client_keys_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct client *cl = arg;
	(void)fd;
	(void)what;
	if (cl->state != CLIENT_READY || cl->quitting)
		return;
	if (client_recv_key_due(cl))
		client_recv_key_publish(cl, false);
	if (client_req_new(cl, REQ_SWEEP, false))
		client_reqs_pump(cl);
}

/* The answer to RECEIVE_KEY. A server that knows a newer version of ours (a
 * home restored from a backup) says outdated: we learn its version from the
 * directory and publish one above it, once. */
void client_recv_key_on_answer(struct client *cl, struct client_req *req,
				      const struct proto_msg *m)
{
	if (m->type == PROTO_ERROR && m->u.error.code == CC_ERR_OUTDATED && !req->tries) {
		req->tries = 1;
		snprintf(req->nick, sizeof req->nick, "%s", cl->nick);
		if (client_ask_user(cl, req) != CC_OK)
			client_req_end(cl, req, CC_ERR_IO);
		return;
	}
	if (m->type == PROTO_USERS && req->step == STEP_USERS) {
		struct proto_list_iter it;
		struct proto_user_item item;
		uint32_t server_version = 0;
		proto_list_iter_init(&it, &m->u.users.users, PROTO_ITEM_USER);
		if (proto_list_next(&it, &item) == CC_OK)
			server_version = item.recv_version;
		if (client_recv_key_ready(cl, server_version) == CC_OK)
			client_recv_key_start(cl, req);
		else
			client_req_end(cl, req, CC_ERR_STORE);
		return;
	}
	if (m->type == PROTO_ERROR) {
		if (req->connecting) {
			client_req_end(cl, req, (cc_err)m->u.error.code);
			client_on_error_msg(cl, &m->u.error);
		} else {
			log_warn("the server refused our new receiving key: %s",
				 cc_err_str(m->u.error.code < CC_ERR_COUNT_ ? (cc_err)m->u.error.code
									    : CC_ERR_INTERNAL));
			client_req_end(cl, req, (cc_err)m->u.error.code);
		}
		return;
	}
	if (m->type != PROTO_OK)
		return;
	log_info("published receiving key %u", (unsigned)cl->recv.version);
	if (req->connecting)
		client_on_registered(cl, req);
	else
		client_req_end(cl, req, CC_OK);
}

/* The server stored our signing and receiving keys: registration is
 * complete. */
static void client_on_registered(struct client *cl, struct client_req *req)
{
	char fp_hex[CLIENT_FP_HEX], server_hex[CLIENT_FP_HEX];

	client_identity_on_registered(cl);
	if (cl->established) {
		client_reconnected(cl);
		client_req_new(cl, REQ_SWEEP, false);  /* keys wrapped for us meanwhile */
		client_req_end(cl, req, CC_OK);
		return;
	}
	hex_encode(cl->fp, sizeof cl->fp, fp_hex);
	hex_encode(chan_peer_fingerprint(cl->chan), CRYPTO_FINGERPRINT_LEN, server_hex);
	cl->state = CLIENT_READY;
	cl->established = true;
	struct client_event ev = {.type = CLIENT_EV_REGISTERED};
	ev.u.registered.nick = cl->nick;
	ev.u.registered.fingerprint = fp_hex;
	ev.u.registered.server = cl->server;
	ev.u.registered.server_fingerprint = server_hex;
	ev.u.registered.server_key_new = cl->server_key_new;
	client_emit(cl, &ev);
	/* New epochs owed while we were away come first: the notices came
	 * before this answer, their requests are first in line. Then the keys
	 * waiting for us on the server. */
	client_req_new(cl, REQ_SWEEP, false);
	if (!cl->keys_timer)
		cl->keys_timer = event_new(cl->base, -1, EV_PERSIST, client_keys_timer_cb, cl);
	struct timeval hourly = {KEYS_CHECK_S, 0};
	if (cl->keys_timer)
		event_add(cl->keys_timer, &hourly);
	client_req_end(cl, req, CC_OK);
}

/* An ERROR answering no request of ours (or before registration: the
 * server refuses us, for good or for now). */
void client_on_error_msg(struct client *cl, const struct proto_error *e)
{
	char text[PROTO_ERROR_TEXT_MAX + 1];
	const char *code = e->code < CC_ERR_COUNT_ ? cc_err_code((cc_err)e->code) : "unknown";

	memcpy(text, e->text.p, e->text.len);
	text[e->text.len] = '\0';
	if (cl->state != CLIENT_READY && e->code == CC_ERR_REVOKED &&
	    client_identity_on_revoked(cl)) {
		/* A move of ours the server had taken: the new key connects. */
		client_conn_again_now(cl);
		return;
	}
	if (cl->state != CLIENT_READY) {
		client_conn_failed(cl, code, *text ? text : cc_err_str((cc_err)e->code));
		return;
	}
	client_emit_error(cl, 0, NULL, NULL, code, text);
}

static struct client_req *ping_by_token(struct client *cl, uint64_t token)
{
	for (struct client_req *r = cl->reqs; r; r = r->next)
		if (r->kind == REQ_PING && r->token == token)
			return r;
	return NULL;
}

static cc_err client_on_message(struct client *cl, const uint8_t *body, size_t len)
{
	struct proto_msg m;
	cc_err err = proto_msg_decode(body, len, &m);
	if (err)
		return err;
	/* Anything but a room's message: the turn's messages first, committed
	 * and shown, so that events keep the server's order. */
	if (m.type != PROTO_ROOM_MSG && (err = client_turn_end(cl)))
		return err;
	uint32_t wire = proto_msg_request_id(&m);
	struct client_req *req = wire ? client_req_by_wire(cl, wire) : NULL;
	if (m.type == PROTO_PART)
		return req ? client_parts_add(&req->parts, &m.u.part) : CC_OK;
	if (req && (cl->state == CLIENT_READY || req->kind == REQ_SIGNING_KEY ||
		    (req->kind == REQ_RECV_KEY && req->connecting))) {
		/* A long answer: handled whole, its parts and its own lists as one.
		 * The parts leave req first, as the answer may end it. */
		struct client_parts parts = req->parts;
		client_parts_init(&req->parts);
		if (!(err = client_parts_complete(&parts, &m)))
			err = client_on_answer(cl, req, &m);
		client_parts_free(&parts);
		return err;
	}
	if (cl->state != CLIENT_READY && m.type == PROTO_REKEY_OWED)
		return client_on_room_message(cl, &m);  /* queued for when we are ready */
	if (cl->state != CLIENT_READY && m.type != PROTO_WELCOME && m.type != PROTO_ERROR)
		return CC_ERR_STATE;
	switch (m.type) {
	case PROTO_WELCOME:
		if (cl->state == CLIENT_READY || cl->welcomed)
			return CC_ERR_STATE;
		cl->welcomed = true;
		client_on_welcome(cl, &m.u.welcome);
		return CC_OK;
	case PROTO_ERROR:
		client_on_error_msg(cl, &m.u.error);
		return CC_OK;
	case PROTO_PING: {
		struct proto_msg pong = {.type = PROTO_PONG};
		pong.u.ping.token = m.u.ping.token;
		return client_send(cl, &pong);
	}
	case PROTO_PONG: {
		struct client_req *p = ping_by_token(cl, m.u.ping.token);
		if (p) {
			struct client_event ev = {.type = CLIENT_EV_PONG, .request = p->id};
			ev.u.pong.rtt_ms = clock_mono_ms() - p->sent_ms;
			client_emit(cl, &ev);
			client_req_end(cl, p, CC_OK);
		}
		return CC_OK;
	}
	case PROTO_ROOM_MSG:
	case PROTO_ROOM_RECORD:
	case PROTO_REKEY_OWED:
		return client_on_room_message(cl, &m);
	case PROTO_OK:
	case PROTO_USERS:
	case PROTO_ROOMS:
	case PROTO_ROOM_STATE:
	case PROTO_SENT:
	case PROTO_JOIN_DONE:
		return CC_OK;  /* an answer to a request we gave up on */
	default:
		return CC_ERR_BAD_TYPE;
	}
}

static void client_write_cb(struct bufferevent *bev, void *arg);

#define CLIENT_READ_MAX (256 * 1024)
#define CLIENT_TURN_MS 50

static void client_read_frames(struct bufferevent *bev, struct client *cl)
{
	struct evbuffer *input = bufferevent_get_input(bev);
	uint8_t hdr[PROTO_FRAME_HEADER_LEN];
	size_t body_len;
	cc_err err = CC_OK;

	client_conn_alive(cl);
	if (cl->proxy_phase) {
		int open = client_proxy_read(cl, input, &cl->wire);
		if (open < 0)
			return;
		if (open == 0 && (err = chan_client_start(cl->chan, &cl->wire))) {
			client_conn_failed(cl, cc_err_code(err), cc_err_str(err));
			return;
		}
		client_flush_wire(cl);
		if (open)
			return;
	}
	/* (A drop in the middle closes bev: nothing below may touch it then.) */
	while (cl->bev == bev) {
		size_t avail = evbuffer_get_length(input);
		if (avail < PROTO_FRAME_HEADER_LEN)
			return;
		evbuffer_copyout(input, hdr, sizeof hdr);
		err = proto_frame_header(hdr, chan_frame_cap(cl->chan), &body_len);
		if (err)
			break;
		size_t frame_len = PROTO_FRAME_HEADER_LEN + body_len;
		if (avail < frame_len)
			return;
		uint8_t *frame = evbuffer_pullup(input, (ev_ssize_t)frame_len);
		enum chan_event ev;
		err = chan_recv_frame(cl->chan, frame, frame_len, &cl->wire, &ev);
		evbuffer_drain(input, frame_len);
		if (err) {
			const char *text = chan_peer_error_text(cl->chan);
			if (*text) {
				client_conn_failed(cl, cc_err_code(err), text);
				return;
			}
			break;
		}
		if (ev == CHAN_EVENT_SERVER_KEY) {
			client_on_server_key(cl);
			continue;
		}
		if (ev != CHAN_EVENT_DATA)
			continue;
		const uint8_t *body;
		bool refused = false;
		while (cl->bev == bev && (err = chan_pop_frame(cl->chan, &body, &body_len)) == CC_OK)
			if ((err = client_on_message(cl, body, body_len))) {
				refused = true;
				break;
			}
		/* TRUNCATED from chan_pop_frame means "no whole frame yet"; from a
		 * message that was cut short it is the end. */
		if (refused || err != CC_ERR_TRUNCATED)
			break;
		err = CC_OK;
	}
	if (err && cl->bev == bev) {
		char msg[400];
		snprintf(msg, sizeof msg, "connection to %s failed: %s", cl->server,
			 cc_err_str(err));
		client_conn_failed(cl, cc_err_code(err), msg);
	}
}

/* libevent 2.1 reads at most 4 KiB per callback (EVBUFFER_MAX_READ): a
 * client that fell behind would commit every dozen messages and never catch
 * up. Take what the socket already holds, up to CLIENT_READ_MAX, so that
 * one commit covers it. EAGAIN, the end or an error stop it here; the
 * bufferevent meets them at its next read (the socket stays readable). */
static size_t client_read_more(struct client *cl, struct bufferevent *bev)
{
	if (cl->proxy_phase)
		return 0;
	evutil_socket_t fd = bufferevent_getfd(bev);
	struct evbuffer *in = bufferevent_get_input(bev);
	size_t have = evbuffer_get_length(in);
	/* The bufferevent keeps its input's end frozen but while it reads
	 * itself (bufferevent_sock.c does the same around its evbuffer_read). */
	size_t got = 0;
	evbuffer_unfreeze(in, 0);
	while (fd >= 0 && have < CLIENT_READ_MAX) {
		int n = evbuffer_read(in, fd, (int)(CLIENT_READ_MAX - have));
		if (n <= 0)
			break;
		have += (size_t)n;
		got += (size_t)n;
	}
	evbuffer_freeze(in, 0);
	return got;
}

static void client_read_cb(struct bufferevent *bev, void *arg)
{
	struct client *cl = arg;
	uint64_t t0 = clock_mono_ms();
	/* What comes while the turn's messages are handled joins the turn, for
	 * up to CLIENT_TURN_MS: under load, fewer commits (each is several disk
	 * syncs) for a little more delay; a quiet room's message is one turn. */
	for (;;) {
		size_t got = client_read_more(cl, bev);
		client_read_frames(bev, cl);
		if (cl->bev != bev || !got || clock_mono_ms() - t0 >= CLIENT_TURN_MS)
			break;
	}
	/* What this turn brought: one commit, then shown (turn.c). */
	if (client_turn_end(cl) != CC_OK && cl->bev == bev)
		client_conn_failed(cl, "store_error", "cannot store the messages received");
}

static void client_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct client *cl = arg;
	char msg[400];
	(void)bev;

	if (what & BEV_EVENT_CONNECTED) {
		evutil_socket_t fd = bufferevent_getfd(cl->bev);
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		if (cl->proxy_phase) {
			if (client_proxy_start(cl, &cl->wire) == CC_OK)
				client_flush_wire(cl);
			return;  /* (a failure is reported) */
		}
		cc_err err = chan_client_start(cl->chan, &cl->wire);
		if (err) {
			client_conn_failed(cl, cc_err_code(err), cc_err_str(err));
			return;
		}
		client_flush_wire(cl);
		return;
	}
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
		if (cl->proxy_phase) {
			/* Before the tunnel: the proxy's doing, not the server's. */
			bool reached = cl->socks.state != SOCKS5_METHOD || !(what & BEV_EVENT_ERROR);
			snprintf(msg, sizeof msg, reached ? "the proxy %s closed the connection"
							  : "cannot connect to the proxy %s: %s",
				 cl->proxy_name, evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
			client_conn_failed(cl, reached ? "proxy_failed" : "proxy_unreachable", msg);
			return;
		}
		if (cl->state == CLIENT_CONNECTING && !chan_is_open(cl->chan) &&
		    (what & BEV_EVENT_ERROR)) {
			snprintf(msg, sizeof msg, "cannot connect to %s: %s", cl->server,
				 evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
			client_conn_failed(cl, "connection_failed", msg);
			return;
		}
		snprintf(msg, sizeof msg, "the server %s closed the connection", cl->server);
		client_conn_failed(cl, "closed", msg);
	}
}

cc_err client_connect(struct client *cl)
{
	/* Here, not in client_new: the front end shows diagnostics by now. */
	home_clear_warning(cl->store, cl->cfg.home);
	return client_conn_open(cl);
}

cc_err client_conn_open(struct client *cl)
{
	struct addrinfo hints = {0}, *res = NULL;
	char port[8], msg[400];
	cc_err err;

	if ((err = chan_client_new(cl->identity, cl->nick, PROTO_FRAME_MAX_DEFAULT, &cl->chan))) {
		client_conn_failed(cl, cc_err_code(err), cc_err_str(err));
		return err;
	}
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	/* Through a proxy, only the proxy's own address is looked up: the
	 * server's name goes to the proxy as it is (proxy.c). */
	bool proxy = cl->cfg.proxy.port != 0;
	const char *dial = proxy ? cl->cfg.proxy.host : cl->cfg.host;
	snprintf(port, sizeof port, "%u", proxy ? cl->cfg.proxy.port : cl->cfg.port);
	int rc = getaddrinfo(dial, port, &hints, &res);
	if (rc != 0) {
		snprintf(msg, sizeof msg, "cannot resolve %s%s: %s", proxy ? "the proxy " : "",
			 dial, gai_strerror(rc));
		client_conn_failed(cl, proxy ? "proxy_unreachable" : "connection_failed", msg);
		return CC_ERR_IO;
	}
	cl->bev = bufferevent_socket_new(cl->base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (!cl->bev) {
		freeaddrinfo(res);
		client_conn_failed(cl, "no_memory", cc_err_str(CC_ERR_NOMEM));
		return CC_ERR_NOMEM;
	}
	bufferevent_setcb(cl->bev, client_read_cb, client_write_cb, client_event_cb, cl);
	bufferevent_enable(cl->bev, EV_READ | EV_WRITE);
	client_conn_alive(cl);  /* the silence of this attempt counts from now */
	if (proxy)
		client_proxy_dialing(cl);
	rc = bufferevent_socket_connect(cl->bev, res->ai_addr, (int)res->ai_addrlen);
	freeaddrinfo(res);
	if (rc != 0) {
		snprintf(msg, sizeof msg, "cannot connect to %s%s", proxy ? "the proxy " : "",
			 proxy ? cl->proxy_name : cl->server);
		client_conn_failed(cl, proxy ? "proxy_unreachable" : "connection_failed", msg);
		return CC_ERR_IO;
	}
	return CC_OK;
}

uint32_t client_ping(struct client *cl)
{
	struct client_req *req;
	uint32_t id = client_request(cl, REQ_PING, NULL, &req);
	if (req)
		client_reqs_pump(cl);
	return id;
}

void client_ping_start(struct client *cl, struct client_req *req)
{
	struct proto_msg ping = {.type = PROTO_PING};
	if (crypto_random_bytes(&req->token, sizeof req->token) != CC_OK) {
		client_req_end(cl, req, CC_ERR_CRYPTO);
		return;
	}
	ping.u.ping.token = req->token;
	req->sent_ms = clock_mono_ms();
	req->step = STEP_CHANGE;
	if (client_req_send(cl, req, &ping) != CC_OK)
		client_req_end(cl, req, CC_ERR_IO);
}

const char *client_nick(const struct client *cl)
{
	return cl->nick;
}

/* Closes once everything queued has gone out (or after a grace period). */
static void client_finish_quit(struct client *cl)
{
	if (cl->bev) {
		/* A close with unread input makes the kernel send a reset, which can
		 * destroy what we wrote before the server reads it: end our side,
		 * then drain what is waiting for us. */
		evutil_socket_t fd = bufferevent_getfd(cl->bev);
		char sink[4096];
		if (fd >= 0) {
			shutdown(fd, SHUT_WR);
			while (recv(fd, sink, sizeof sink, MSG_DONTWAIT) > 0)
				;
		}
	}
	client_close(cl, CLIENT_EXIT_OK);
}

static void client_write_cb(struct bufferevent *bev, void *arg)
{
	struct client *cl = arg;
	if (cl->quitting && !cl->reqs && evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		client_finish_quit(cl);
}

static void client_quit_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	client_finish_quit(arg);
}

/* How long quitting waits for what is in flight, then for it to go out. */
#define QUIT_WAIT_REQUESTS_S 10
#define QUIT_WAIT_OUTPUT_S 2

void client_quit_continue(struct client *cl)
{
	if (!cl->quitting || cl->reqs || cl->state != CLIENT_READY)
		return;
	/* Tell the server what we handled, and let it go out before closing. */
	client_rooms_ack_all(cl);
	if (!cl->bev || evbuffer_get_length(bufferevent_get_output(cl->bev)) == 0) {
		client_finish_quit(cl);
		return;
	}
	struct timeval grace = {QUIT_WAIT_OUTPUT_S, 0};
	if (cl->quit_timer)
		evtimer_add(cl->quit_timer, &grace);
}

void client_quit(struct client *cl)
{
	if (cl->quitting || cl->state == CLIENT_CLOSED)
		return;
	if (cl->state != CLIENT_READY || !cl->bev) {
		client_quit_offline(cl);
		return;
	}
	/* What was asked for is finished first (a line typed just before /quit
	 * still goes out), for a while. */
	cl->quitting = true;
	struct timeval wait = {QUIT_WAIT_REQUESTS_S, 0};
	cl->quit_timer = evtimer_new(cl->base, client_quit_timeout_cb, cl);
	if (cl->quit_timer)
		evtimer_add(cl->quit_timer, &wait);
	client_quit_continue(cl);
}
