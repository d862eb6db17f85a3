/* The client core: connection, handshake, registration and commands. */
#include "client/client.h"

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

#include "client/client_internal.h"
#include "client/home.h"
#include "store/client_store.h"
#include "crypto/crypto.h"
#include "proto/frame.h"
#include "transport/chan.h"
#include "util/clock.h"
#include "util/log.h"

void client_emit(struct client *cl, json_t *ev)
{
	if (!ev)
		return;
	cl->on_event(cl->event_ctx, ev);
	json_decref(ev);
}

void client_emit_error(struct client *cl, const char *code, const char *message)
{
	client_emit(cl, json_pack("{s:s, s:s, s:s}", "event", "error", "code", code,
				  "message", message));
}

void client_emit_room_error(struct client *cl, const char *room_hex, const char *from,
			    const char *code, const char *message)
{
	json_t *ev = json_pack("{s:s, s:s, s:s, s:s}", "event", "error", "code", code, "message",
			       message, "room", room_hex);
	if (ev && from)
		json_object_set_new(ev, "from", json_string(from));
	client_emit(cl, ev);
}

uint32_t client_op_begin(struct client *cl, enum client_op op)
{
	cl->op = op;
	cl->op_request = ++cl->next_request;
	if (cl->op_request == 0)
		cl->op_request = ++cl->next_request;  /* 0 means "no request" */
	return cl->op_request;
}

void client_ask_user(struct client *cl, enum client_op op)
{
	struct proto_nick_item item = {proto_bytes_str(cl->op_nick)};
	struct proto_msg m = {.type = PROTO_USERS_GET};
	struct buf raw;

	buf_init(&raw, 64);
	if (proto_item_encode(PROTO_ITEM_NICK, &item, &raw) == CC_OK) {
		m.u.users_get.request_id = client_op_begin(cl, op);
		m.u.users_get.nicks = (struct proto_list){1, {raw.data, raw.len}};
		if (client_send(cl, &m))
			client_op_end(cl);
	}
	buf_free(&raw);
}

void client_op_end(struct client *cl)
{
	cl->op = OP_NONE;
	cl->op_request = 0;
	mem_wipe(cl->op_key, sizeof cl->op_key);
	buf_reset(&cl->op_record);
	if (cl->op_has_chain)
		e2e_chain_free(&cl->op_chain);
	cl->op_has_chain = false;
	/* Owed work (a room's new key) goes before the next command; a line
	 * waiting for it goes on after. */
	if (!client_rooms_work(cl))
		client_text_continue(cl);
	client_notify(cl);
}

void client_notify(struct client *cl)
{
	if (cl->state_cb)
		cl->state_cb(cl->state_ctx);
}

/* Ends the session; the first reason given decides the exit status. */
static void client_close(struct client *cl, int exit_status)
{
	if (cl->state == CLIENT_CLOSED)
		return;
	cl->state = CLIENT_CLOSED;
	cl->exit_status = exit_status;
	cl->op = OP_NONE;
	if (cl->bev) {
		bufferevent_free(cl->bev);
		cl->bev = NULL;
	}
	if (cl->quit_timer) {
		event_free(cl->quit_timer);
		cl->quit_timer = NULL;
	}
	chan_free(cl->chan);
	cl->chan = NULL;
	client_notify(cl);
}

static void client_fail(struct client *cl, const char *code, const char *message)
{
	if (cl->state == CLIENT_CLOSED)
		return;
	client_emit_error(cl, code, message);
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
		client_emit(cl, json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "event", "error", "code",
					  "server_key_changed", "message", msg, "server",
					  cl->server, "pinned", pinned, "offered", fp_hex));
		client_close(cl, CLIENT_EXIT_SERVER_KEY);
		return;
	}
	cl->server_key_status = pin == PIN_NEW ? "new" : "known";
	cc_err err = chan_client_continue(cl->chan, &cl->wire);
	if (err) {
		client_fail(cl, cc_err_code(err), cc_err_str(err));
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
	struct proto_msg m = {.type = PROTO_SIGNING_KEY};
	m.u.signing_key.request_id = client_op_begin(cl, OP_SIGNING_KEY);
	m.u.signing_key.version = 1;
	memcpy(m.u.signing_key.sign_pub, cl->sign_pub, sizeof cl->sign_pub);
	m.u.signing_key.sign_cert = (struct proto_bytes){cl->sign_cert.data, cl->sign_cert.len};
	cc_err err = client_send(cl, &m);
	if (err)
		client_fail(cl, cc_err_code(err), "cannot publish the signing key");
}

/* The server stored our signing key: registration is complete. */
static void client_on_registered(struct client *cl)
{
	char fp_hex[2 * CRYPTO_FINGERPRINT_LEN + 1], server_hex[2 * CRYPTO_FINGERPRINT_LEN + 1];

	hex_encode(cl->fp, sizeof cl->fp, fp_hex);
	hex_encode(chan_peer_fingerprint(cl->chan), CRYPTO_FINGERPRINT_LEN, server_hex);
	cl->state = CLIENT_READY;
	cl->op = OP_NONE;
	client_emit(cl, json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "event", "registered", "nick",
				  cl->nick, "fingerprint", fp_hex, "server", cl->server,
				  "server_fingerprint", server_hex, "server_key",
				  cl->server_key_status));
	/* New keys owed while we were away are made now, before any command. */
	client_rooms_work(cl);
	client_notify(cl);
}

static void client_on_error_msg(struct client *cl, const struct proto_error *e)
{
	char text[PROTO_ERROR_TEXT_MAX + 1];
	const char *code = e->code < CC_ERR_COUNT_ ? cc_err_code((cc_err)e->code) : "unknown";

	memcpy(text, e->text.p, e->text.len);
	text[e->text.len] = '\0';
	if (cl->state != CLIENT_READY) {
		client_fail(cl, code, text);
		return;
	}
	client_emit_error(cl, code, text);
}

static cc_err client_on_message(struct client *cl, const uint8_t *body, size_t len)
{
	struct proto_msg m;
	cc_err err = proto_msg_decode(body, len, &m);
	if (err)
		return err;
	bool answer = cl->op != OP_NONE && proto_msg_request_id(&m) == cl->op_request &&
		      cl->op_request != 0;
	if (answer && cl->op == OP_SIGNING_KEY) {
		if (m.type == PROTO_OK) {
			client_on_registered(cl);
			return CC_OK;
		}
		if (m.type != PROTO_ERROR)
			return CC_ERR_STATE;
	}
	if (cl->state != CLIENT_READY && m.type == PROTO_REKEY_OWED)
		return client_on_room_message(cl, &m);  /* kept for when we are ready */
	if (cl->state != CLIENT_READY && m.type != PROTO_WELCOME && m.type != PROTO_ERROR)
		return CC_ERR_STATE;
	if (answer && cl->state == CLIENT_READY && cl->op != OP_PING) {
		client_on_answer(cl, &m);
		return CC_OK;
	}
	switch (m.type) {
	case PROTO_WELCOME:
		if (cl->state == CLIENT_READY)
			return CC_ERR_STATE;
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
	case PROTO_PONG:
		if (cl->op == OP_PING && m.u.ping.token == cl->ping_token) {
			client_emit(cl, json_pack("{s:s, s:I}", "event", "pong", "rtt_ms",
						  (json_int_t)(clock_mono_ms() - cl->ping_sent_ms)));
			client_op_end(cl);
		}
		return CC_OK;
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

static void client_read_cb(struct bufferevent *bev, void *arg)
{
	struct client *cl = arg;
	struct evbuffer *input = bufferevent_get_input(bev);
	uint8_t hdr[PROTO_FRAME_HEADER_LEN];
	size_t body_len;
	cc_err err = CC_OK;

	while (cl->state != CLIENT_CLOSED) {
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
				client_fail(cl, cc_err_code(err), text);
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
		while (cl->state != CLIENT_CLOSED &&
		       (err = chan_pop_frame(cl->chan, &body, &body_len)) == CC_OK)
			if ((err = client_on_message(cl, body, body_len)))
				break;
		if (err != CC_ERR_TRUNCATED)
			break;
		err = CC_OK;
	}
	if (err && cl->state != CLIENT_CLOSED) {
		char msg[400];
		snprintf(msg, sizeof msg, "connection to %s failed: %s", cl->server,
			 cc_err_str(err));
		client_fail(cl, cc_err_code(err), msg);
	}
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
		cc_err err = chan_client_start(cl->chan, &cl->wire);
		if (err) {
			client_fail(cl, cc_err_code(err), cc_err_str(err));
			return;
		}
		client_flush_wire(cl);
		return;
	}
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
		if (cl->state == CLIENT_CONNECTING && !chan_is_open(cl->chan) &&
		    (what & BEV_EVENT_ERROR)) {
			snprintf(msg, sizeof msg, "cannot connect to %s: %s", cl->server,
				 evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
			client_fail(cl, "connection_failed", msg);
			return;
		}
		snprintf(msg, sizeof msg, "the server %s closed the connection", cl->server);
		client_fail(cl, "closed", msg);
	}
}

cc_err client_connect(struct client *cl)
{
	struct addrinfo hints = {0}, *res = NULL;
	char port[8], msg[400];
	cc_err err;

	if ((err = chan_client_new(cl->identity, cl->nick, PROTO_FRAME_MAX_DEFAULT, &cl->chan)))
		return err;
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	snprintf(port, sizeof port, "%u", cl->cfg.port);
	int rc = getaddrinfo(cl->cfg.host, port, &hints, &res);
	if (rc != 0) {
		snprintf(msg, sizeof msg, "cannot resolve %s: %s", cl->cfg.host, gai_strerror(rc));
		client_fail(cl, "connection_failed", msg);
		return CC_ERR_IO;
	}
	cl->bev = bufferevent_socket_new(cl->base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (!cl->bev) {
		freeaddrinfo(res);
		return CC_ERR_NOMEM;
	}
	bufferevent_setcb(cl->bev, client_read_cb, client_write_cb, client_event_cb, cl);
	bufferevent_enable(cl->bev, EV_READ | EV_WRITE);
	rc = bufferevent_socket_connect(cl->bev, res->ai_addr, (int)res->ai_addrlen);
	freeaddrinfo(res);
	if (rc != 0) {
		snprintf(msg, sizeof msg, "cannot connect to %s", cl->server);
		client_fail(cl, "connection_failed", msg);
		return CC_ERR_IO;
	}
	return CC_OK;
}

static void client_cmd_ping(struct client *cl)
{
	struct proto_msg ping = {.type = PROTO_PING};
	if (crypto_random_bytes(&cl->ping_token, sizeof cl->ping_token))
		return;
	ping.u.ping.token = cl->ping_token;
	cl->ping_sent_ms = clock_mono_ms();
	client_op_begin(cl, OP_PING);
	if (client_send(cl, &ping) != CC_OK)
		client_op_end(cl);
}

static const char *const client_help[] = {
	"/create NICK[,NICK...] [TITLE]  make a room with these members; you are its admin",
	"/rooms                          list your rooms",
	"/join ROOM                      open a room: its backlog, then live messages",
	"TEXT                            say TEXT in the current room (the last joined)",
	"/say ROOM TEXT                  say TEXT in ROOM",
	"/add NICK                       add a member to the current room (admin)",
	"/disconnect [ROOM]              stop hearing a room live; stay a member",
	"/leave ROOM                     stop being a member",
	"/kick NICK                      expel a member of the current room; new key (admin)",
	"/admin NICK                     hand the admin role of the current room to a member",
	"/fingerprint [NICK]             show your key's fingerprint, or NICK's",
	"/safety NICK                    show the safety number you and NICK should both see",
	"/verify NICK                    record that you compared NICK's safety number",
	"/ping                           measure the round trip to the server",
	"/help                           list the commands",
	"/quit                           leave",
};

void client_command(struct client *cl, const char *line)
{
	char cmd[32];
	size_t n = strcspn(line, " \t");

	if (cl->state != CLIENT_READY) {
		client_emit_error(cl, "not_connected", "not connected to the server");
		return;
	}
	if (line[0] != '/') {
		client_cmd_text(cl, line);
		client_notify(cl);
		return;
	}
	if (n >= sizeof cmd) {
		client_emit_error(cl, "unknown_command", "unknown command; try /help");
		return;
	}
	memcpy(cmd, line, n);
	cmd[n] = '\0';
	const char *args = line + n;
	args += strspn(args, " \t");

	if (strcmp(cmd, "/quit") == 0) {
		client_quit(cl);
	} else if (strcmp(cmd, "/ping") == 0) {
		client_cmd_ping(cl);
	} else if (strcmp(cmd, "/create") == 0) {
		client_cmd_create(cl, args);
	} else if (strcmp(cmd, "/rooms") == 0) {
		client_cmd_rooms(cl);
	} else if (strcmp(cmd, "/join") == 0) {
		client_cmd_join(cl, args);
	} else if (strcmp(cmd, "/say") == 0) {
		client_cmd_say(cl, args);
	} else if (strcmp(cmd, "/add") == 0) {
		client_cmd_add(cl, args);
	} else if (strcmp(cmd, "/disconnect") == 0) {
		client_cmd_disconnect(cl, args);
	} else if (strcmp(cmd, "/leave") == 0) {
		client_cmd_leave(cl, args);
	} else if (strcmp(cmd, "/kick") == 0) {
		client_cmd_kick(cl, args);
	} else if (strcmp(cmd, "/admin") == 0) {
		client_cmd_admin(cl, args);
	} else if (strcmp(cmd, "/fingerprint") == 0) {
		client_cmd_fingerprint(cl, args);
	} else if (strcmp(cmd, "/safety") == 0) {
		client_cmd_safety(cl, args);
	} else if (strcmp(cmd, "/verify") == 0) {
		client_cmd_verify(cl, args);
	} else if (strcmp(cmd, "/help") == 0) {
		json_t *list = json_array();
		for (size_t i = 0; i < sizeof client_help / sizeof client_help[0]; i++)
			json_array_append_new(list, json_string(client_help[i]));
		client_emit(cl, json_pack("{s:s, s:o}", "event", "help", "commands", list));
	} else {
		char msg[80];
		snprintf(msg, sizeof msg, "unknown command %s; try /help", cmd);
		client_emit_error(cl, "unknown_command", msg);
	}
	client_notify(cl);
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
	if (cl->quitting && evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		client_finish_quit(cl);
}

static void client_quit_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	client_finish_quit(arg);
}

void client_quit(struct client *cl)
{
	if (cl->quitting || cl->state == CLIENT_CLOSED)
		return;
	if (cl->state != CLIENT_READY || !cl->bev) {
		client_close(cl, CLIENT_EXIT_OK);
		return;
	}
	/* Tell the server what we handled, and let it go out before closing. */
	cl->quitting = true;
	client_rooms_ack_all(cl);
	if (evbuffer_get_length(bufferevent_get_output(cl->bev)) == 0) {
		client_finish_quit(cl);
		return;
	}
	struct timeval grace = {2, 0};
	cl->quit_timer = evtimer_new(cl->base, client_quit_timeout_cb, cl);
	if (cl->quit_timer)
		evtimer_add(cl->quit_timer, &grace);
}

enum client_state client_get_state(const struct client *cl)
{
	return cl->state;
}

int client_exit_status(const struct client *cl)
{
	return cl->exit_status;
}

int client_busy(const struct client *cl)
{
	return cl->op != OP_NONE || cl->quitting || cl->text;
}

void client_set_state_cb(struct client *cl, void (*fn)(void *ctx), void *ctx)
{
	cl->state_cb = fn;
	cl->state_ctx = ctx;
}

cc_err client_default_home(char *out, size_t n)
{
	const char *env = getenv("CRYPTOCAT_HOME");
	int w;
	if (env && *env)
		w = snprintf(out, n, "%s", env);
	else if ((env = getenv("XDG_DATA_HOME")) && *env)
		w = snprintf(out, n, "%s/cryptocat", env);
	else if ((env = getenv("HOME")) && *env)
		w = snprintf(out, n, "%s/.local/share/cryptocat", env);
	else
		return CC_ERR_USAGE;
	return w > 0 && (size_t)w < n ? CC_OK : CC_ERR_TOO_LARGE;
}

cc_err client_new(const struct client_config *cfg, struct event_base *base,
		  client_event_fn on_event, void *ctx, struct client **out)
{
	struct client *cl;
	int created;
	cc_err err;

	if (!(cl = calloc(1, sizeof *cl)))
		return CC_ERR_NOMEM;
	cl->cfg = *cfg;
	if (!cl->cfg.nick_ttl_ms)
		cl->cfg.nick_ttl_ms = 86400ull * 1000;  /* the server's default */
	cl->base = base;
	cl->on_event = on_event;
	cl->event_ctx = ctx;
	cl->state = CLIENT_CONNECTING;
	buf_init(&cl->wire, 2 * PROTO_FRAME_MAX_LIMIT);
	buf_init(&cl->op_record, 512 * 1024);
	buf_init(&cl->sign_cert, PROTO_SIGN_CERT_MAX);
	snprintf(cl->server, sizeof cl->server, strchr(cfg->host, ':') ? "[%s]:%u" : "%s:%u",
		 cfg->host, cfg->port);
	if ((err = crypto_init()) || (err = home_prepare(cfg->home)))
		goto fail;
	if (cfg->nick[0]) {
		snprintf(cl->nick, sizeof cl->nick, "%s", cfg->nick);
	} else if (home_nick_load(cfg->home, cl->nick, sizeof cl->nick) != CC_OK) {
		log_error("no nickname: give one with --nick the first time");
		err = CC_ERR_USAGE;
		goto fail;
	}
	if (!proto_nick_valid((const uint8_t *)cl->nick, strlen(cl->nick))) {
		err = CC_ERR_BAD_NICK;
		goto fail;
	}
	if ((err = home_identity_load(cfg->home, cfg->rsa_bits, &cl->identity, &created)))
		goto fail;
	if (created)
		log_info("made a new %u-bit identity key in %s", cfg->rsa_bits, cfg->home);
	char db_path[4200];
	snprintf(db_path, sizeof db_path, "%s/client.db", cfg->home);
	if ((err = crypto_rsa_fingerprint(cl->identity, cl->fp)) ||
	    (err = e2e_signing_key_derive(cl->identity, cl->sign_seed, cl->sign_pub)) ||
	    (err = e2e_signing_cert_make(cl->identity, 1, cl->sign_pub, &cl->sign_cert)) ||
	    (err = cstore_open(db_path, &cl->store)))
		goto fail;
	*out = cl;
	return CC_OK;
fail:
	client_free(cl);
	return err;
}

void client_free(struct client *cl)
{
	if (!cl)
		return;
	if (cl->bev)
		bufferevent_free(cl->bev);
	if (cl->quit_timer)
		event_free(cl->quit_timer);
	chan_free(cl->chan);
	client_rooms_free(cl);
	client_trust_free(cl);
	cstore_close(cl->store);
	crypto_rsa_free(cl->identity);
	buf_free(&cl->wire);
	buf_free(&cl->op_record);
	buf_free(&cl->sign_cert);
	mem_wipe(cl->sign_seed, sizeof cl->sign_seed);
	mem_wipe(cl->op_key, sizeof cl->op_key);
	free(cl);
}
