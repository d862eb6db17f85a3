/* The server's event loop: listener, connections, timers, batching, limits.
 *
 * Output to a connection is batched: messages are encoded into conn->pending
 * as inner frames, and one deferred flush per loop turn seals everything
 * pending for a connection into one record and hands it to one write. */
#include "server/server.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <unistd.h>

#include "crypto/crypto.h"
#include "proto/frame.h"
#include "proto/msg.h"
#include "server/server_internal.h"
#include "store/store.h"
#include "transport/chan.h"
#include "util/clock.h"
#include "util/log.h"

/* Event priorities (lower first): see server_run. */
#define PRIO_SERVED 0
#define PRIO_HANDSHAKE 1
#define HANDSHAKE_BATCH 32

/* Connections are never freed in the middle of a callback that may still use
 * them: conn_kill stops all I/O and the flush event frees them afterwards. */
void conn_kill(struct conn *c)
{
	if (c->dead)
		return;
	c->dead = true;
	c->closing = true;
	bufferevent_disable(c->bev, EV_READ | EV_WRITE);
	c->dead_next = c->srv->graveyard;
	c->srv->graveyard = c;
	server_flush_soon(c->srv);
}

void conn_log(const struct conn *c, enum log_level level, const char *what, cc_err err)
{
	if (c->user_id)
		log_msg(level, "conn %s (%s): %s: %s", c->peer, c->nick, what, cc_err_str(err));
	else
		log_msg(level, "conn %s: %s: %s", c->peer, what, cc_err_str(err));
}

/* A framed plaintext ERROR (before the channel has keys) appended to OUT. */
static cc_err plain_error_put(struct buf *out, cc_err code, const char *text)
{
	struct proto_msg m = {.type = PROTO_ERROR};
	struct buf body;
	m.u.error.code = (uint16_t)code;
	m.u.error.text = proto_bytes_str(text);
	buf_init(&body, 256);
	cc_err err = proto_msg_encode(&m, &body);
	if (!err)
		err = proto_frame_put(out, body.data, body.len);
	buf_free(&body);
	return err;
}

static void conn_on_open(struct conn *c)
{
	struct server *srv = c->srv;
	struct store_user user;
	size_t der_len;
	const uint8_t *der = chan_peer_key_der(c->chan, &der_len);
	const uint8_t *fp = chan_peer_fingerprint(c->chan);
	char text[128];

	evtimer_del(c->timer);
	hs_conn_authenticated(c);
	/* Free expired nicknames first, so one can be taken the moment it is. */
	server_expire_idle(srv);
	/* A known key's visit only updates when it was last seen: that joins the
	 * turn's group commit. A new user is committed on its own, before its
	 * WELCOME can go out. */
	struct store_user known;
	if (store_user_get_by_fingerprint(srv->store, fp, &known) == CC_OK)
		server_txn_ensure(srv);
	else
		server_rooms_commit(srv);
	store_user_clear(&known);
	cc_err err = store_user_register(srv->store, chan_peer_nick(c->chan), der, der_len, fp,
					 clock_now_s(), &user);
	if (err == CC_ERR_EXISTS) {
		snprintf(text, sizeof text, "this key is registered as '%s'", user.nick);
		conn_send_error(c, 0, err, text);
	} else if (err) {
		conn_send_error(c, 0, err, NULL);
	}
	if (err) {
		conn_log(c, LOG_LEVEL_INFO, "registration refused", err);
		store_user_clear(&user);
		conn_close_after_flush(c);
		return;
	}
	c->user_id = user.id;
	snprintf(c->nick, sizeof c->nick, "%s", user.nick);
	store_user_clear(&user);

	struct proto_msg m = {.type = PROTO_WELCOME};
	m.u.welcome.nick = proto_bytes_str(c->nick);
	memcpy(m.u.welcome.fingerprint, fp, PROTO_FINGERPRINT_LEN);
	m.u.welcome.server_time_ms = clock_now_ms();
	m.u.welcome.max_frame = (uint32_t)srv->cfg->max_frame;
	conn_queue_msg(c, &m);
	/* Larger frames are allowed now that the client is known. */
	bufferevent_setwatermark(c->bev, EV_READ, 0, srv->cfg->max_frame + PROTO_FRAME_HEADER_LEN);
	bufferevent_priority_set(c->bev, PRIO_SERVED);
	evtimer_add(c->timer, srv->keepalive_tv);
	log_info("conn %s: %s registered", c->peer, c->nick);
	server_on_registered(c);
}

/* One authenticated message. Authorization comes from the session (c->user_id),
 * never from a name inside the message. */
static cc_err conn_on_message(struct conn *c, const uint8_t *body, size_t len)
{
	struct proto_msg m;
	cc_err err = proto_msg_decode(body, len, &m);
	if (err)
		return err;
	log_debug("conn %s: %s", c->peer, proto_type_name(m.type));
	switch (m.type) {
	case PROTO_PING: {
		struct proto_msg pong = {.type = PROTO_PONG};
		pong.u.ping.token = m.u.ping.token;
		return conn_queue_msg(c, &pong);
	}
	case PROTO_PONG:
		return CC_OK;
	default:
		return server_handle_request(c, &m);
	}
}

/* Handles the whole messages the channel has decrypted, until one fails
 * (*refused) or a room's state starts streaming. */
static cc_err conn_pop_messages(struct conn *c, bool *refused)
{
	const uint8_t *body;
	size_t body_len;
	cc_err err = CC_OK;
	while (!c->closing && !c->state && (err = chan_pop_frame(c->chan, &body, &body_len)) == CC_OK)
		if ((err = conn_on_message(c, body, body_len))) {
			*refused = true;
			break;
		}
	return err;
}

static void conn_close_on(struct conn *c, cc_err err)
{
	conn_log(c, LOG_LEVEL_INFO, "closing", err);
	if (chan_is_open(c->chan) && c->user_id)
		conn_send_error(c, 0, err, NULL);
	conn_close_after_flush(c);
}

static void conn_read_cb(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;
	struct evbuffer *input = bufferevent_get_input(bev);
	uint8_t hdr[PROTO_FRAME_HEADER_LEN];
	size_t body_len;
	cc_err err = CC_OK;

	if (c->hs_job || c->state)
		return;  /* a worker has the channel; a room's state streams */
	while (!c->closing) {
		size_t avail = evbuffer_get_length(input);
		if (avail < PROTO_FRAME_HEADER_LEN)
			return;
		evbuffer_copyout(input, hdr, sizeof hdr);
		/* The cap is checked on the header, before the body is buffered. */
		err = proto_frame_header(hdr, chan_frame_cap(c->chan), &body_len);
		if (err)
			break;
		size_t frame_len = PROTO_FRAME_HEADER_LEN + body_len;
		if (avail < frame_len)
			return;
		uint8_t *frame = evbuffer_pullup(input, (ev_ssize_t)frame_len);
		enum chan_event ev;
		bool was_open = chan_is_open(c->chan);
		/* The proof of work is chosen when CLIENT_HELLO arrives (ignored after). */
		if (!was_open)
			chan_server_set_puzzle(c->chan, hs_puzzle_bits(c->srv));
		err = chan_recv_frame(c->chan, frame, frame_len, &c->wire, &ev);
		evbuffer_drain(input, frame_len);
		conn_write_wire(c);
		if (err == CC_ERR_PUZZLE)
			hs_note_puzzle_refused(c->srv);
		if (err)
			break;
		c->last_recv_ms = clock_mono_ms();
		c->ping_outstanding = false;
		if (ev == CHAN_EVENT_KEY_PENDING) {
			/* The channel is the worker's until server_conn_key_done; what
			 * else the client sends waits in the input buffer (reading goes
			 * on, so a client that leaves is freed at once). */
			if ((err = hs_submit(c)) == CC_OK)
				return;
			plain_error_put(&c->wire, err, err == CC_ERR_LIMIT ? "server busy" : NULL);
			conn_write_wire(c);
			break;
		}
		if (ev == CHAN_EVENT_OPEN && !was_open) {
			conn_on_open(c);
			continue;
		}
		if (ev != CHAN_EVENT_DATA)
			continue;
		bool refused = false;
		err = conn_pop_messages(c, &refused);
		if (!refused && c->state) {
			/* A room's state streams: the requests after it wait, here
			 * and in TCP, until it is sent (server_conn_resume_input). */
			bufferevent_disable(c->bev, EV_READ);
			return;
		}
		/* TRUNCATED from chan_pop_frame means "no whole frame yet"; from a
		 * message that was cut short it is the end. */
		if (refused || err != CC_ERR_TRUNCATED)
			break;
		err = CC_OK;
	}
	if (err && !c->closing)
		conn_close_on(c, err);
}

void server_conn_resume_input(struct conn *c)
{
	bool refused = false;
	if (c->dead || c->closing)
		return;
	c->last_recv_ms = clock_mono_ms();  /* not silent: we were not listening */
	cc_err err = conn_pop_messages(c, &refused);
	if (c->closing || c->state)
		return;  /* another state streams: still not read */
	if (refused || (err && err != CC_ERR_TRUNCATED)) {
		conn_close_on(c, err);
		return;
	}
	if (!c->paused)
		bufferevent_enable(c->bev, EV_READ);
	if (evbuffer_get_length(bufferevent_get_input(c->bev)))
		conn_read_cb(c->bev, c);
}

void server_conn_key_done(struct conn *c, cc_err err, struct buf *wire)
{
	if (c->dead)
		return;
	if (err) {
		if (wire->len)
			buf_put_bytes(&c->wire, wire->data, wire->len);
		conn_write_wire(c);
		conn_log(c, LOG_LEVEL_INFO, "closing", err);
		conn_close_after_flush(c);
		return;
	}
	conn_on_open(c);
	if (c->closing)
		return;
	/* Frames that arrived while the worker had the channel. */
	if (evbuffer_get_length(bufferevent_get_input(c->bev)))
		conn_read_cb(c->bev, c);
}

static void conn_write_cb(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;
	size_t queued = evbuffer_get_length(bufferevent_get_output(bev));
	if (c->closing && queued == 0)
		conn_kill(c);
	else if (!c->closing && (c->pumping || c->state) && queued <= c->srv->cfg->max_output / 4)
		server_on_output_drained(c);
	if (c->user_id && !c->dead)
		live_output_written(c, queued);
}

static void conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct conn *c = arg;
	(void)bev;
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
		log_debug("conn %s: closed by peer", c->peer);
		conn_kill(c);
	}
}

static void conn_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	(void)fd;
	(void)what;
	/* user_id first: while a worker has the channel, it is not ours to read. */
	if (!c->user_id || !chan_is_open(c->chan)) {
		conn_log(c, LOG_LEVEL_INFO, "handshake", CC_ERR_TIMEOUT);
		conn_kill(c);
		return;
	}
	uint64_t now = clock_mono_ms();
	if (live_backed_too_long(c, now)) {
		/* Its rooms' senders have waited for it long enough. */
		conn_log(c, LOG_LEVEL_WARN, "output over --output-soft too long, dropping",
			 CC_ERR_LIMIT);
		conn_kill(c);
		return;
	}
	uint64_t idle_ms = (uint64_t)c->srv->cfg->idle_timeout_s * 1000;
	/* A sender we are not reading (flow control) is not silent. */
	uint64_t silent = c->paused ? 0 : now - c->last_recv_ms;
	/* Dropped only after a ping went unanswered: a client that answers stays. */
	if (silent >= 2 * idle_ms && c->ping_outstanding) {
		conn_log(c, LOG_LEVEL_INFO, "idle", CC_ERR_TIMEOUT);
		conn_kill(c);
		return;
	}
	if (silent >= idle_ms && !c->ping_outstanding) {
		struct proto_msg ping = {.type = PROTO_PING};
		ping.u.ping.token = clock_now_ms();
		c->ping_outstanding = true;
		conn_queue_msg(c, &ping);
	}
	evtimer_add(c->timer, c->srv->keepalive_tv);
}

void conn_free(struct conn *c)
{
	struct server *srv = c->srv;

	if (c->dirty) {
		struct conn **pp = &srv->dirty;
		while (*pp != c)
			pp = &(*pp)->dirty_next;
		*pp = c->dirty_next;
	}
	if (c->user_id) {
		server_txn_ensure(srv);  /* the last visit: into the group commit */
		store_user_touch(srv->store, c->user_id, clock_now_s());
		server_on_disconnect(c);
	}
	if (c->prev)
		c->prev->next = c->next;
	else
		srv->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	srv->nconns--;
	if (c->timer)
		event_free(c->timer);
	bufferevent_free(c->bev);
	hs_conn_gone(c);  /* may leave the channel to a worker's job */
	chan_free(c->chan);
	buf_free(&c->pending);
	buf_free(&c->wire);
	free(c);
}

static void peer_name(const struct sockaddr *sa, char *out, size_t n)
{
	/* Numeric forms only: an IPv6 address and a port fit in 64 bytes. */
	char host[INET6_ADDRSTRLEN], port[8];
	socklen_t len = sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
						 : sizeof(struct sockaddr_in);
	if (getnameinfo(sa, len, host, sizeof host, port, sizeof port,
			NI_NUMERICHOST | NI_NUMERICSERV) != 0)
		snprintf(host, sizeof host, "?"), port[0] = '\0';
	size_t hl = strnlen(host, sizeof host - 1), pl = strnlen(port, sizeof port - 1);
	if (n < hl + pl + 2)
		return;
	memcpy(out, host, hl);
	out[hl] = ':';
	memcpy(out + hl + 1, port, pl);
	out[hl + 1 + pl] = '\0';
}

/* Refuses a connection with a plaintext ERROR limit, best effort. */
static void refuse_connection(evutil_socket_t fd, const char *why)
{
	struct buf frame;

	buf_init(&frame, 256);
	if (plain_error_put(&frame, CC_ERR_LIMIT, why) == CC_OK) {
		ssize_t w = send(fd, frame.data, frame.len, MSG_NOSIGNAL | MSG_DONTWAIT);
		(void)w;
	}
	buf_free(&frame);
	evutil_closesocket(fd);
}

static void server_accept_cb(struct evconnlistener *listener, evutil_socket_t fd,
			     struct sockaddr *sa, int socklen, void *arg)
{
	struct server *srv = arg;
	struct conn *c = NULL;
	(void)listener;
	(void)socklen;

	if (srv->nconns >= srv->cfg->max_connections) {
		log_warn("connection cap (%u) reached, refusing a connection",
			 srv->cfg->max_connections);
		refuse_connection(fd, "server is full");
		return;
	}
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);

	c = calloc(1, sizeof *c);
	if (!c)
		goto fail;
	c->srv = srv;
	c->id = ++srv->next_conn_id;
	peer_name(sa, c->peer, sizeof c->peer);
	const char *why = NULL;
	if (hs_admit(c, sa, &why) != CC_OK) {
		log_debug("conn %s: refused: %s", c->peer, why);
		free(c);
		refuse_connection(fd, why);
		return;
	}
	buf_init(&c->pending, srv->cfg->max_output);
	buf_init(&c->wire, srv->cfg->max_output + PROTO_FRAME_MAX_LIMIT);
	c->bev = bufferevent_socket_new(srv->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (!c->bev)
		goto fail;
	fd = -1;  /* owned by the bufferevent now */
	c->timer = evtimer_new(srv->base, conn_timer_cb, c);
	if (!c->timer || chan_server_new(srv->key, srv->cfg->max_frame, &c->chan) != CC_OK)
		goto fail;
	chan_server_defer_key(c->chan);
	c->next = srv->conns;
	if (srv->conns)
		srv->conns->prev = c;
	srv->conns = c;
	srv->nconns++;
	c->last_recv_ms = clock_mono_ms();

	bufferevent_setcb(c->bev, conn_read_cb, conn_write_cb, conn_event_cb, c);
	bufferevent_priority_set(c->bev, PRIO_HANDSHAKE);
	/* The write callback continues a backlog once the output has drained. */
	/* The write callback: a backlog continues below a quarter of the cap, and
	 * a reader over the soft limit is clear below half of it. */
	size_t soft = live_output_soft(srv);
	bufferevent_setwatermark(c->bev, EV_WRITE,
				 soft ? soft / 2 : srv->cfg->max_output / 4, 0);
	bufferevent_setwatermark(c->bev, EV_READ, 0,
				 PROTO_FRAME_MAX_PREAUTH + PROTO_FRAME_HEADER_LEN);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	struct timeval hs = {(time_t)srv->cfg->handshake_timeout_s, 0};
	evtimer_add(c->timer, &hs);
	log_debug("conn %s: accepted", c->peer);
	return;
fail:
	log_error("cannot set up a connection: out of memory");
	if (c) {
		hs_conn_authenticated(c);  /* gives its address's slot back */
		if (c->timer)
			event_free(c->timer);
		if (c->bev)
			bufferevent_free(c->bev);
		buf_free(&c->pending);
		buf_free(&c->wire);
		free(c);
	}
	if (fd >= 0)
		evutil_closesocket(fd);
}

static void server_signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct server *srv = arg;
	(void)what;
	log_info("signal %d: shutting down", (int)sig);
	event_base_loopexit(srv->base, NULL);
}

static void server_accept_resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server *srv = arg;
	(void)fd;
	(void)what;
	evconnlistener_enable(srv->listener);
}

static void server_accept_error_cb(struct evconnlistener *listener, void *arg)
{
	struct server *srv = arg;
	int err = errno;
	/* Out of descriptors (or memory): keep serving the connections we have,
	 * and stop accepting for a moment instead of spinning on accept. */
	log_warn("accept: %s; pausing new connections for 100 ms", strerror(err));
	evconnlistener_disable(listener);
	struct timeval pause = {0, 100000};
	if (event_base_once(srv->base, -1, EV_TIMEOUT, server_accept_resume_cb, srv, &pause) != 0)
		evconnlistener_enable(listener);
}

static cc_err data_dir_prepare(const char *dir)
{
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		log_error("cannot create data directory %s: %s", dir, strerror(errno));
		return CC_ERR_IO;
	}
	struct stat st;
	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
		log_error("data directory %s is not a directory", dir);
		return CC_ERR_IO;
	}
	return CC_OK;
}

static cc_err server_key_load(struct server *srv)
{
	char path[4200];
	uint8_t fp[CRYPTO_FINGERPRINT_LEN];
	char fp_hex[2 * CRYPTO_FINGERPRINT_LEN + 1];

	snprintf(path, sizeof path, "%s/server_key.pem", srv->cfg->data_dir);
	cc_err err = crypto_rsa_load_private_file(path, &srv->key);
	if (err == CC_ERR_NOT_FOUND) {
		log_info("generating a %u-bit server key in %s", srv->cfg->rsa_bits, path);
		if ((err = crypto_rsa_generate(srv->cfg->rsa_bits, &srv->key)) ||
		    (err = crypto_rsa_save_private_file(srv->key, path)))
			return err;
	} else if (err) {
		log_error("cannot load the server key %s: %s", path, cc_err_str(err));
		return err;
	}
	if ((err = crypto_rsa_fingerprint(srv->key, fp)))
		return err;
	hex_encode(fp, sizeof fp, fp_hex);
	log_info("server key fingerprint %s", fp_hex);
	return CC_OK;
}

static cc_err server_listen(struct server *srv)
{
	struct addrinfo hints = {0}, *res = NULL;
	char port[8];

	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	snprintf(port, sizeof port, "%u", srv->cfg->listen_port);
	int rc = getaddrinfo(srv->cfg->listen_host, port, &hints, &res);
	if (rc != 0) {
		log_error("cannot resolve %s: %s", srv->cfg->listen_host, gai_strerror(rc));
		return CC_ERR_IO;
	}
	srv->listener = evconnlistener_new_bind(
		srv->base, server_accept_cb, srv,
		LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC, 1024,
		res->ai_addr, (int)res->ai_addrlen);
	freeaddrinfo(res);
	if (!srv->listener) {
		log_error("cannot listen on %s:%u: %s", srv->cfg->listen_host,
			  srv->cfg->listen_port, strerror(errno));
		return CC_ERR_IO;
	}
	evconnlistener_set_error_cb(srv->listener, server_accept_error_cb);
	log_info("listening on %s:%u", srv->cfg->listen_host, srv->cfg->listen_port);
	return CC_OK;
}

/* Thousands of connections need thousands of descriptors: raise the soft
 * limit to the hard one, and say so if the cap still cannot be reached. */
static void raise_fd_limit(unsigned max_connections)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
		getrlimit(RLIMIT_NOFILE, &rl);
	}
	/* A few descriptors go to the listener, the database and the log. */
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < (rlim_t)max_connections + 16)
		log_warn("the descriptor limit (%llu) is below --max-connections (%u): raise "
			 "it (ulimit -n) to serve that many", (unsigned long long)rl.rlim_cur,
			 max_connections);
}

cc_err server_run(const struct server_config *cfg)
{
	struct server srv;
	char db_path[4200];
	cc_err err;

	memset(&srv, 0, sizeof srv);
	srv.cfg = cfg;
	srv.onion_fd = -1;
	signal(SIGPIPE, SIG_IGN);
	raise_fd_limit(cfg->max_connections);
	if ((err = crypto_init()) || (err = data_dir_prepare(cfg->data_dir)) ||
	    (err = server_key_load(&srv)))
		goto out;
	snprintf(db_path, sizeof db_path, "%s/cryptocat.db", cfg->data_dir);
	if ((err = store_open(db_path, &srv.store)))
		goto out;
	/* Two priorities: registered connections, the flush and finished
	 * handshakes first (PRIO_SERVED); new connections and their handshakes
	 * after (PRIO_HANDSHAKE), at most HANDSHAKE_BATCH callbacks before the
	 * loop looks for served work again. A flood of hellos then delays
	 * established clients by one batch, not by the whole flood. */
	struct event_config *ecfg = event_config_new();
	if (ecfg) {
		event_config_set_max_dispatch_interval(ecfg, NULL, HANDSHAKE_BATCH, PRIO_HANDSHAKE);
		srv.base = event_base_new_with_config(ecfg);
		event_config_free(ecfg);
	}
	if (!srv.base || event_base_priority_init(srv.base, 2) != 0) {
		err = CC_ERR_NOMEM;
		goto out;
	}
	/* Every connection's keepalive timer has the same period: one shared
	 * timeout queue keeps thousands of them O(1). */
	/* Half the idle timeout, so a tick always falls between 1x and 2x. */
	struct timeval period = {(time_t)(cfg->idle_timeout_s / 2),
				 (suseconds_t)(cfg->idle_timeout_s % 2) * 500000};
	srv.keepalive_tv = event_base_init_common_timeout(srv.base, &period);
	srv.flush_ev = server_flush_event_new(&srv);
	if (srv.flush_ev)
		event_priority_set(srv.flush_ev, PRIO_SERVED);
	srv.sigint = evsignal_new(srv.base, SIGINT, server_signal_cb, &srv);
	srv.sigterm = evsignal_new(srv.base, SIGTERM, server_signal_cb, &srv);
	if (!srv.flush_ev || !srv.sigint || !srv.sigterm || !srv.keepalive_tv) {
		err = CC_ERR_NOMEM;
		goto out;
	}
	evsignal_add(srv.sigint, NULL);
	evsignal_add(srv.sigterm, NULL);
	if ((err = hs_pool_start(&srv)) || (err = server_rooms_init(&srv)) ||
	    (err = server_listen(&srv)) || (err = server_onion_start(&srv)))
		goto out;
	event_base_dispatch(srv.base);
	err = CC_OK;
out:
	if (srv.store)
		server_rooms_commit(&srv);
	while (srv.conns)
		conn_free(srv.conns);  /* includes any in the graveyard */
	if (srv.store)
		server_rooms_commit(&srv);  /* their last visits */
	srv.graveyard = NULL;
	hs_pool_stop(&srv);
	server_rooms_free(&srv);
	server_onion_stop(&srv);
	if (srv.listener)
		evconnlistener_free(srv.listener);
	if (srv.flush_ev)
		event_free(srv.flush_ev);
	if (srv.sigint)
		event_free(srv.sigint);
	if (srv.sigterm)
		event_free(srv.sigterm);
	if (srv.base)
		event_base_free(srv.base);
	if (srv.store)
		store_close(srv.store);
	crypto_rsa_free(srv.key);
	crypto_rsa_cache_clear();
	if (!err)
		log_info("stopped");
	return err;
}
