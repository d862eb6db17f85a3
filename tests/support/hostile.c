/* The hostile server of the integration tests: see hostile.h.
 *
 * Why it is a faithful model of a hostile server: toward each client it runs
 * the server's side of the real handshake (transport/chan.c) with the real
 * server's RSA key, so it is exactly as authenticated as the server; toward
 * the server it is that client (the user's identity key and nickname). In
 * between it sees every inner message in the clear, as the server does, and
 * sends the client only what it chooses: all a modified server could do.
 * What it cannot do is what the server cannot either: read or forge what the
 * clients encrypt and sign end to end. The users' keys are more than a server
 * has, so they are used for one thing only, the upstream login, whose
 * signature goes to the real server alone (which a hostile operator controls
 * anyway); nothing made with them reaches a client, and the filter never
 * sees them.
 *
 * Structure: one thread, one poll() loop over the listening socket, a
 * self-pipe (wake-ups from the test's thread) and each session's two
 * non-blocking sockets, each with its own output buffer, so a slow peer
 * cannot stall the others. One mutex guards all of it; the thread holds it
 * except while it sleeps in poll(), so the test's calls (inject, filter,
 * drop) see a consistent state. */
#define _GNU_SOURCE  /* accept4, pipe2: every descriptor close-on-exec, so a
			client the test forks does not keep a session open */

#include "hostile.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "crypto/crypto.h"
#include "itest.h"
#include "proto/frame.h"
#include "transport/chan.h"

#define HOSTILE_READ_CHUNK (64u * 1024)
/* A side is not read while its peer has this much still to write: the slow
 * peer's backlog stays bounded. */
#define HOSTILE_HIGH_WATER (4u * 1024 * 1024)
#define HOSTILE_BUF_MAX (64u * 1024 * 1024)
/* How long an ending session may take to deliver what it owes the other side
 * (e.g. the server's last ERROR) before its sockets are closed anyway. */
#define HOSTILE_LINGER_MS 2000
/* How long hostile_drop_sessions waits for the proxy's thread. */
#define HOSTILE_DROP_WAIT_MS 5000

/* One TCP connection of a session: to the client, or up to the real server. */
struct hostile_side {
	int fd;                 /* -1: not open, or closed */
	int connecting;         /* upstream: the non-blocking connect is under way */
	struct chan *ch;
	struct buf in;          /* received bytes short of a whole frame */
	struct buf out;         /* bytes on their way to the socket */
};

struct hostile_session {
	struct hostile_session *next;
	int id;
	char nick[PROTO_NICK_MAX + 1];     /* as asked; empty until the client's handshake */
	struct crypto_rsa_key *identity;   /* the user's, to log in upstream */
	struct hostile_side client, up;
	/* Filtered plaintext (inner frames) not yet sealed; to_up also holds what
	 * the client sends before the upstream channel is open. */
	struct buf to_client, to_up;
	int server_spoke;       /* the server's first message (WELCOME or ERROR) came */
	int ending;             /* reading stopped: deliver what is owed, then close */
	int64_t linger_until;
	int drop;               /* hostile_drop_sessions: close now, flush nothing */
};

struct hostile_seen {
	char nick[PROTO_NICK_MAX + 1];
	enum hostile_dir dir;
	uint8_t type;
};

struct hostile {
	pthread_mutex_t lock;
	pthread_cond_t cond;    /* a message seen, or sessions dropped */
	pthread_t thread;
	int thread_started;
	int stopping;

	int listen_fd;
	int wake[2];            /* the self-pipe */
	int port, server_port;
	int linger_ms;          /* HOSTILE_LINGER_MS, scaled (itest is not thread-safe) */
	char *homes;
	struct crypto_rsa_key *server_key;

	struct hostile_session *sessions;
	int next_id;
	hostile_filter_fn filter;
	void *filter_ctx;
	struct buf scratch;     /* the filter's `out` */

	struct hostile_seen *seen;   /* since hostile_mark, no duplicates */
	size_t nseen, seen_cap;
	unsigned drops_asked, drops_done;
};

static void hostile_log(const struct hostile_session *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void hostile_log(const struct hostile_session *s, const char *fmt, ...)
{
	va_list ap;
	char line[1024];

	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	if (s)
		fprintf(stderr, "[hostile] session %d (%s): %s\n", s->id,
			s->nick[0] ? s->nick : "handshake", line);
	else
		fprintf(stderr, "[hostile] %s\n", line);
}

static int64_t hostile_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void hostile_wake(struct hostile *h)
{
	/* A full pipe already means "wake up": the result does not matter. */
	ssize_t n = write(h->wake[1], "w", 1);
	(void)n;
}

/* Waits on the condition until the monotonic DEADLINE; 0 once it has passed. */
static int hostile_cond_wait(struct hostile *h, int64_t deadline)
{
	int64_t left = deadline - hostile_now_ms();
	if (left <= 0)
		return 0;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += (time_t)(left / 1000);
	ts.tv_nsec += (long)(left % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	return pthread_cond_timedwait(&h->cond, &h->lock, &ts) != ETIMEDOUT;
}

cc_err hostile_frame_msg(struct buf *out, const struct proto_msg *m)
{
	size_t start = out->len;
	uint8_t *hdr;
	cc_err err;

	if ((err = buf_append_space(out, PROTO_FRAME_HEADER_LEN, &hdr)))
		return err;
	if ((err = proto_msg_encode(m, out))) {
		out->len = start;
		return err;
	}
	store_be32(out->data + start, (uint32_t)(out->len - start - PROTO_FRAME_HEADER_LEN));
	return CC_OK;
}

/* ---- sessions ------------------------------------------------------------ */

static void hostile_side_init(struct hostile_side *side)
{
	side->fd = -1;
	buf_init(&side->in, PROTO_FRAME_MAX_LIMIT + PROTO_FRAME_HEADER_LEN + HOSTILE_READ_CHUNK);
	buf_init(&side->out, HOSTILE_BUF_MAX);
}

static void hostile_side_close(struct hostile_side *side)
{
	if (side->fd >= 0)
		close(side->fd);
	side->fd = -1;
	side->connecting = 0;
	buf_clear(&side->in);
	buf_clear(&side->out);
}

static void hostile_session_free(struct hostile_session *s)
{
	hostile_side_close(&s->client);
	hostile_side_close(&s->up);
	chan_free(s->client.ch);
	chan_free(s->up.ch);
	buf_free(&s->client.in);
	buf_free(&s->client.out);
	buf_free(&s->up.in);
	buf_free(&s->up.out);
	buf_free(&s->to_client);
	buf_free(&s->to_up);
	crypto_rsa_free(s->identity);
	free(s);
}

/* Seals the filtered plaintext owed to each side whose channel is open: one
 * record (or as few as the cap allows) per turn, as the real server batches. */
static cc_err hostile_seal(struct hostile_session *s)
{
	cc_err err = CC_OK, e;

	if (s->to_client.len && s->client.fd >= 0 && chan_is_open(s->client.ch)) {
		e = chan_send(s->client.ch, s->to_client.data, s->to_client.len, &s->client.out);
		err = err ? err : e;
		buf_clear(&s->to_client);
	}
	if (s->to_up.len && s->up.fd >= 0 && s->up.ch && chan_is_open(s->up.ch)) {
		e = chan_send(s->up.ch, s->to_up.data, s->to_up.len, &s->up.out);
		err = err ? err : e;
		buf_clear(&s->to_up);
	}
	return err;
}

/* Ends a session. With LINGER, each side first gets what is queued for it
 * (the server's last ERROR, the client's last read acknowledgement), as the
 * real peers would; without, both sockets close now. */
static void hostile_end(const struct hostile *h, struct hostile_session *s, int linger)
{
	if (!s->ending) {
		hostile_seal(s);
		s->ending = 1;
		s->linger_until = hostile_now_ms() + h->linger_ms;
	}
	struct hostile_side *sides[2] = {&s->client, &s->up};
	for (int i = 0; i < 2; i++)
		if (!linger || sides[i]->connecting || sides[i]->out.len == 0)
			hostile_side_close(sides[i]);
}

/* The user's identity key: HOMES/NICK/identity.pem, else HOMES/nick/identity.pem. */
static cc_err hostile_load_identity(const struct hostile *h, const char *nick,
				    struct crypto_rsa_key **out)
{
	char path[4096], lower[PROTO_NICK_MAX + 1];
	size_t i;

	snprintf(path, sizeof path, "%s/%s/identity.pem", h->homes, nick);
	cc_err err = crypto_rsa_load_private_file(path, out);
	if (err != CC_ERR_NOT_FOUND)
		return err;
	for (i = 0; nick[i] && i < PROTO_NICK_MAX; i++)
		lower[i] = (char)tolower((unsigned char)nick[i]);
	lower[i] = '\0';
	snprintf(path, sizeof path, "%s/%s/identity.pem", h->homes, lower);
	return crypto_rsa_load_private_file(path, out);
}

static void hostile_nodelay(int fd)
{
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

/* The client proved its identity to us: log in to the real server as it. */
static void hostile_on_client_open(struct hostile *h, struct hostile_session *s)
{
	snprintf(s->nick, sizeof s->nick, "%s", chan_peer_nick(s->client.ch));
	cc_err err = hostile_load_identity(h, s->nick, &s->identity);
	if (err) {
		hostile_log(s, "no identity key for %s in %s: %s", s->nick, h->homes,
			    cc_err_str(err));
		hostile_end(h, s, 1);
		return;
	}

	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		hostile_log(s, "socket: %s", strerror(errno));
		hostile_end(h, s, 1);
		return;
	}
	s->up.fd = fd;
	hostile_nodelay(fd);
	struct sockaddr_in addr = {0};
	addr.sin_family = AF_INET;
	addr.sin_port = htons((uint16_t)h->server_port);
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0) {
		if (errno != EINPROGRESS) {
			hostile_log(s, "cannot connect to the server: %s", strerror(errno));
			hostile_end(h, s, 1);
			return;
		}
		s->up.connecting = 1;
	}
	if ((err = chan_client_new(s->identity, s->nick, PROTO_FRAME_MAX_DEFAULT, &s->up.ch)) ||
	    (err = chan_client_start(s->up.ch, &s->up.out))) {
		hostile_log(s, "upstream handshake: %s", cc_err_str(err));
		hostile_end(h, s, 1);
	}
}

static int hostile_seen_has(const struct hostile *h, const char *nick, enum hostile_dir dir,
			    uint8_t type)
{
	for (size_t i = 0; i < h->nseen; i++)
		if (h->seen[i].dir == dir && h->seen[i].type == type &&
		    strcasecmp(h->seen[i].nick, nick) == 0)
			return 1;
	return 0;
}

static void hostile_note_seen(struct hostile *h, const char *nick, enum hostile_dir dir,
			      uint8_t type)
{
	if (hostile_seen_has(h, nick, dir, type))
		return;
	if (h->nseen == h->seen_cap) {
		size_t cap = h->seen_cap ? 2 * h->seen_cap : 16;
		struct hostile_seen *p = realloc(h->seen, cap * sizeof *p);
		if (!p)
			return;
		h->seen = p;
		h->seen_cap = cap;
	}
	struct hostile_seen *e = &h->seen[h->nseen++];
	snprintf(e->nick, sizeof e->nick, "%s", nick);
	e->dir = dir;
	e->type = type;
	pthread_cond_broadcast(&h->cond);
}

/* One inner message, through the filter, into the plaintext owed to the other
 * side. 0, or -1 if the session must end. */
static int hostile_relay(struct hostile *h, struct hostile_session *s, enum hostile_dir dir,
			 const uint8_t *body, size_t len)
{
	struct buf *to = dir == HOSTILE_TO_SERVER ? &s->to_up : &s->to_client;
	enum hostile_verdict v = HOSTILE_PASS;
	struct proto_msg m;
	cc_err err;

	buf_clear(&h->scratch);
	if (proto_msg_decode(body, len, &m) != CC_OK) {
		/* Not ours to judge: the receiver rejects it as it would the server's. */
		hostile_log(s, "forwarding an undecodable message (type 0x%02x, %zu bytes)",
			    body[0], len);
	} else {
		hostile_note_seen(h, s->nick, dir, m.type);
		if (dir == HOSTILE_TO_CLIENT && !s->server_spoke) {
			s->server_spoke = 1;
			/* The real server's cap applies upstream, whatever the client is told. */
			if (m.type == PROTO_WELCOME)
				chan_set_send_cap(s->up.ch, m.u.welcome.max_frame);
		}
		if (h->filter)
			v = h->filter(h->filter_ctx, s->nick, s->id, dir, &m, body, len, &h->scratch);
	}
	switch (v) {
	case HOSTILE_PASS:
		if ((err = buf_put_u32(to, (uint32_t)len)) || (err = buf_put_bytes(to, body, len)))
			goto fail;
		return 0;
	case HOSTILE_DROP:
		return 0;
	case HOSTILE_REPLACE:
		if ((err = buf_put_bytes(to, h->scratch.data, h->scratch.len)))
			goto fail;
		return 0;
	}
	hostile_log(s, "the filter returned %d", (int)v);
	return -1;
fail:
	hostile_log(s, "cannot queue a message: %s", cc_err_str(err));
	return -1;
}

/* Whole frames from a side's input through its channel. */
static void hostile_process(struct hostile *h, struct hostile_session *s,
			    struct hostile_side *side)
{
	int from_client = side == &s->client;
	enum hostile_dir dir = from_client ? HOSTILE_TO_SERVER : HOSTILE_TO_CLIENT;
	size_t off = 0, body_len;
	cc_err err;

	while (!s->ending && side->in.len - off >= PROTO_FRAME_HEADER_LEN) {
		/* The cap is checked on the header, before the body is waited for. */
		err = proto_frame_header(side->in.data + off, chan_frame_cap(side->ch), &body_len);
		if (err) {
			hostile_log(s, "bad frame from the %s: %s", from_client ? "client" : "server",
				    cc_err_str(err));
			goto end;
		}
		size_t frame_len = PROTO_FRAME_HEADER_LEN + body_len;
		if (side->in.len - off < frame_len)
			break;
		enum chan_event ev;
		err = chan_recv_frame(side->ch, side->in.data + off, frame_len, &side->out, &ev);
		off += frame_len;
		if (err) {
			const char *text = chan_peer_error_text(side->ch);
			hostile_log(s, "%s channel: %s%s%s", from_client ? "client" : "server",
				    cc_err_code(err), *text ? ": " : "", text);
			goto end;
		}
		if (ev == CHAN_EVENT_OPEN) {
			hostile_on_client_open(h, s);
		} else if (ev == CHAN_EVENT_SERVER_KEY) {
			/* Upstream we are the client; the real server needs no pin check. */
			if ((err = chan_client_continue(side->ch, &side->out))) {
				hostile_log(s, "upstream handshake: %s", cc_err_str(err));
				goto end;
			}
		} else if (ev == CHAN_EVENT_DATA) {
			const uint8_t *body;
			size_t len;
			while ((err = chan_pop_frame(side->ch, &body, &len)) == CC_OK)
				if (hostile_relay(h, s, dir, body, len))
					goto end;
			if (err != CC_ERR_TRUNCATED) {
				hostile_log(s, "bad inner frame from the %s: %s",
					    from_client ? "client" : "server", cc_err_str(err));
				goto end;
			}
		}
	}
	buf_consume(&side->in, off);
	if ((err = hostile_seal(s))) {
		hostile_log(s, "cannot seal: %s", cc_err_str(err));
		hostile_end(h, s, 1);
	}
	return;
end:
	hostile_end(h, s, 1);
}

/* 0, or -1 if the socket failed (the peer is gone). */
static int hostile_write(struct hostile_side *side)
{
	while (side->out.len) {
		ssize_t n = send(side->fd, side->out.data, side->out.len, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
		}
		buf_consume(&side->out, (size_t)n);
	}
	return 0;
}

/* The socket of SIDE is ready (REVENTS from poll). */
static void hostile_on_ready(struct hostile *h, struct hostile_session *s,
			     struct hostile_side *side, short revents)
{
	const char *who = side == &s->client ? "client" : "server";

	if (side->connecting) {
		if (!(revents & (POLLOUT | POLLERR | POLLHUP)))
			return;
		int e = 0;
		socklen_t elen = sizeof e;
		if (getsockopt(side->fd, SOL_SOCKET, SO_ERROR, &e, &elen) < 0)
			e = errno;
		if (e) {
			hostile_log(s, "cannot connect to the server: %s", strerror(e));
			hostile_end(h, s, 1);
			return;
		}
		side->connecting = 0;
	}
	if (side->out.len && (revents & (POLLOUT | POLLERR | POLLHUP))) {
		if (hostile_write(side)) {
			hostile_log(s, "the %s is gone: %s", who, strerror(errno));
			hostile_side_close(side);
			hostile_end(h, s, 1);
			return;
		}
		if (s->ending && side->out.len == 0) {
			hostile_side_close(side);
			return;
		}
	}
	if (s->ending || !(revents & (POLLIN | POLLHUP | POLLERR)))
		return;

	uint8_t *dst;
	if (buf_append_space(&side->in, HOSTILE_READ_CHUNK, &dst)) {
		hostile_log(s, "input from the %s over its cap", who);
		hostile_end(h, s, 1);
		return;
	}
	ssize_t n = recv(side->fd, dst, HOSTILE_READ_CHUNK, 0);
	side->in.len -= HOSTILE_READ_CHUNK - (n > 0 ? (size_t)n : 0);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	if (n <= 0) {
		hostile_log(s, "the %s closed the connection%s%s", who, n < 0 ? ": " : "",
			    n < 0 ? strerror(errno) : "");
		hostile_side_close(side);
		hostile_end(h, s, 1);
		return;
	}
	hostile_process(h, s, side);
}

static void hostile_accept(struct hostile *h)
{
	for (;;) {
		int fd = accept4(h->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
			    errno != ECONNABORTED)
				hostile_log(NULL, "accept: %s", strerror(errno));
			return;
		}
		struct hostile_session *s = calloc(1, sizeof *s);
		if (!s) {
			close(fd);
			return;
		}
		s->id = ++h->next_id;
		hostile_side_init(&s->client);
		hostile_side_init(&s->up);
		buf_init(&s->to_client, HOSTILE_BUF_MAX);
		buf_init(&s->to_up, HOSTILE_BUF_MAX);
		s->client.fd = fd;
		hostile_nodelay(fd);
		/* The real server's default cap; the client is told the real one. */
		cc_err err = chan_server_new(h->server_key, PROTO_FRAME_MAX_DEFAULT, &s->client.ch);
		if (err) {
			hostile_log(s, "chan_server_new: %s", cc_err_str(err));
			hostile_session_free(s);
			continue;
		}
		s->next = h->sessions;
		h->sessions = s;
	}
}

/* Closes what must close, frees finished sessions; answers hostile_drop_sessions. */
static void hostile_sweep(struct hostile *h)
{
	int64_t now = hostile_now_ms();
	struct hostile_session **pp = &h->sessions;

	while (*pp) {
		struct hostile_session *s = *pp;
		if (s->drop) {
			if (s->client.fd >= 0 || s->up.fd >= 0)
				hostile_log(s, "dropped");
			hostile_end(h, s, 0);
		}
		else if (s->ending && now >= s->linger_until)
			hostile_end(h, s, 0);
		if (s->client.fd < 0 && s->up.fd < 0) {
			*pp = s->next;
			hostile_session_free(s);
			continue;
		}
		pp = &s->next;
	}
	if (h->drops_done != h->drops_asked) {
		h->drops_done = h->drops_asked;
		pthread_cond_broadcast(&h->cond);
	}
}

/* What poll() should wait for on SIDE. */
static short hostile_events(const struct hostile_session *s, const struct hostile_side *side,
			    const struct hostile_side *peer, const struct buf *to_peer)
{
	short ev = 0;
	if (side->connecting || side->out.len)
		ev |= POLLOUT;
	if (!side->connecting && !s->ending && peer->out.len + to_peer->len < HOSTILE_HIGH_WATER)
		ev |= POLLIN;
	return ev;
}

struct hostile_slot {
	struct hostile_session *s;
	struct hostile_side *side;
};

static void *hostile_main(void *arg)
{
	struct hostile *h = arg;
	struct pollfd *pfds = NULL;
	struct hostile_slot *slots = NULL;
	size_t cap = 0;

	pthread_mutex_lock(&h->lock);
	while (!h->stopping) {
		size_t want = 2;
		for (struct hostile_session *s = h->sessions; s; s = s->next)
			want += 2;
		if (want > cap) {
			struct pollfd *p = realloc(pfds, want * sizeof *p);
			if (p)
				pfds = p;
			struct hostile_slot *q = realloc(slots, want * sizeof *q);
			if (q)
				slots = q;
			if (!p || !q) {
				hostile_log(NULL, "out of memory; the proxy stops");
				break;
			}
			cap = want;
		}
		size_t n = 0;
		int timeout = -1;
		int64_t now = hostile_now_ms();
		pfds[n++] = (struct pollfd){.fd = h->wake[0], .events = POLLIN};
		pfds[n++] = (struct pollfd){.fd = h->listen_fd, .events = POLLIN};
		for (struct hostile_session *s = h->sessions; s; s = s->next) {
			if (s->client.fd >= 0) {
				slots[n] = (struct hostile_slot){s, &s->client};
				pfds[n++] = (struct pollfd){
					.fd = s->client.fd,
					.events = hostile_events(s, &s->client, &s->up, &s->to_up)};
			}
			if (s->up.fd >= 0) {
				slots[n] = (struct hostile_slot){s, &s->up};
				pfds[n++] = (struct pollfd){
					.fd = s->up.fd,
					.events = hostile_events(s, &s->up, &s->client, &s->to_client)};
			}
			if (s->ending) {
				int64_t left = s->linger_until - now;
				int t = left < 0 ? 0 : (int)left;
				if (timeout < 0 || t < timeout)
					timeout = t;
			}
		}

		pthread_mutex_unlock(&h->lock);
		int r = poll(pfds, (nfds_t)n, timeout);
		int poll_errno = errno;
		pthread_mutex_lock(&h->lock);
		if (r < 0 && poll_errno != EINTR) {
			hostile_log(NULL, "poll: %s; the proxy stops", strerror(poll_errno));
			break;
		}

		if (r > 0 && pfds[0].revents) {
			char drain[64];
			while (read(h->wake[0], drain, sizeof drain) > 0)
				;
		}
		if (r > 0 && (pfds[1].revents & POLLIN))
			hostile_accept(h);
		for (size_t i = 2; r > 0 && i < n; i++) {
			struct hostile_slot *sl = &slots[i];
			/* Closed since poll() began (or being dropped): not this socket any more. */
			if (!pfds[i].revents || sl->s->drop || sl->side->fd != pfds[i].fd)
				continue;
			hostile_on_ready(h, sl->s, sl->side, pfds[i].revents);
		}
		hostile_sweep(h);
	}
	/* Anyone waiting for a drop is answered; hostile_stop closes the rest. */
	h->drops_done = h->drops_asked;
	pthread_cond_broadcast(&h->cond);
	pthread_mutex_unlock(&h->lock);
	free(pfds);
	free(slots);
	return NULL;
}

/* ---- the test's side ----------------------------------------------------- */

static void hostile_free(struct hostile *h)
{
	while (h->sessions) {
		struct hostile_session *s = h->sessions;
		h->sessions = s->next;
		hostile_session_free(s);
	}
	if (h->listen_fd >= 0)
		close(h->listen_fd);
	for (int i = 0; i < 2; i++)
		if (h->wake[i] >= 0)
			close(h->wake[i]);
	crypto_rsa_free(h->server_key);
	buf_free(&h->scratch);
	free(h->seen);
	free(h->homes);
	pthread_cond_destroy(&h->cond);
	pthread_mutex_destroy(&h->lock);
	free(h);
}

static int hostile_listen(struct hostile *h)
{
	struct sockaddr_in addr = {0};
	socklen_t alen = sizeof addr;
	int one = 1;

	h->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (h->listen_fd < 0)
		return -1;
	setsockopt(h->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	addr.sin_family = AF_INET;
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	addr.sin_port = 0;
	if (bind(h->listen_fd, (struct sockaddr *)&addr, sizeof addr) < 0 ||
	    listen(h->listen_fd, 64) < 0 ||
	    getsockname(h->listen_fd, (struct sockaddr *)&addr, &alen) < 0)
		return -1;
	h->port = ntohs(addr.sin_port);
	return 0;
}

struct hostile *hostile_start(int server_port, const char *server_data, const char *homes)
{
	char path[4096];
	pthread_condattr_t ca;
	cc_err err;

	if (crypto_init() != CC_OK) {
		hostile_log(NULL, "crypto_init failed");
		return NULL;
	}
	struct hostile *h = calloc(1, sizeof *h);
	if (!h)
		return NULL;
	h->listen_fd = h->wake[0] = h->wake[1] = -1;
	h->server_port = server_port;
	h->linger_ms = itest_scale_ms(HOSTILE_LINGER_MS);
	pthread_mutex_init(&h->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&h->cond, &ca);
	pthread_condattr_destroy(&ca);
	buf_init(&h->scratch, HOSTILE_BUF_MAX);

	snprintf(path, sizeof path, "%s/server_key.pem", server_data);
	if ((err = crypto_rsa_load_private_file(path, &h->server_key))) {
		hostile_log(NULL, "cannot load the server's key %s: %s", path, cc_err_str(err));
		goto fail;
	}
	if (!(h->homes = strdup(homes)))
		goto fail;
	if (hostile_listen(h) < 0 || pipe2(h->wake, O_NONBLOCK | O_CLOEXEC) < 0) {
		hostile_log(NULL, "cannot listen: %s", strerror(errno));
		goto fail;
	}
	if (pthread_create(&h->thread, NULL, hostile_main, h) != 0) {
		hostile_log(NULL, "cannot start the thread");
		goto fail;
	}
	h->thread_started = 1;
	return h;
fail:
	hostile_free(h);
	return NULL;
}

int hostile_port(const struct hostile *h)
{
	return h->port;
}

void hostile_set_filter(struct hostile *h, hostile_filter_fn fn, void *ctx)
{
	pthread_mutex_lock(&h->lock);
	h->filter = fn;
	h->filter_ctx = ctx;
	pthread_mutex_unlock(&h->lock);
}

void hostile_lock(struct hostile *h)
{
	pthread_mutex_lock(&h->lock);
}

void hostile_unlock(struct hostile *h)
{
	pthread_mutex_unlock(&h->lock);
}

static int hostile_nick_is(const struct hostile_session *s, const char *nick)
{
	return !nick || (s->nick[0] && strcasecmp(s->nick, nick) == 0);
}

int hostile_inject(struct hostile *h, const char *nick, enum hostile_dir dir,
		   const struct proto_msg *m)
{
	int count = 0;

	pthread_mutex_lock(&h->lock);
	for (struct hostile_session *s = h->sessions; s; s = s->next) {
		/* Sessions whose client finished its handshake (so it has a nick). */
		if (!s->nick[0] || !hostile_nick_is(s, nick) || s->ending || s->drop)
			continue;
		cc_err err = hostile_frame_msg(dir == HOSTILE_TO_SERVER ? &s->to_up : &s->to_client, m);
		if (!err)
			err = hostile_seal(s);
		if (err) {
			hostile_log(s, "cannot inject a message: %s", cc_err_str(err));
			s->drop = 1;  /* the proxy's thread closes it */
			continue;
		}
		count++;
	}
	hostile_wake(h);
	pthread_mutex_unlock(&h->lock);
	return count;
}

void hostile_mark(struct hostile *h)
{
	pthread_mutex_lock(&h->lock);
	h->nseen = 0;
	pthread_mutex_unlock(&h->lock);
}

int hostile_wait_seen(struct hostile *h, const char *nick, enum hostile_dir dir, uint8_t type,
		      int timeout_ms)
{
	int64_t deadline = hostile_now_ms() + itest_scale_ms(timeout_ms);
	int found;

	pthread_mutex_lock(&h->lock);
	while (!(found = hostile_seen_has(h, nick, dir, type)) && hostile_cond_wait(h, deadline))
		;
	pthread_mutex_unlock(&h->lock);
	if (!found)
		hostile_log(NULL, "no %s %s %s within %d ms", proto_type_name(type) ?
			    proto_type_name(type) : "?", dir == HOSTILE_TO_SERVER ? "from" : "to",
			    nick, timeout_ms);
	return found;
}

void hostile_drop_sessions(struct hostile *h, const char *nick)
{
	int64_t deadline = hostile_now_ms() + itest_scale_ms(HOSTILE_DROP_WAIT_MS);

	pthread_mutex_lock(&h->lock);
	for (struct hostile_session *s = h->sessions; s; s = s->next)
		if (hostile_nick_is(s, nick))
			s->drop = 1;
	unsigned asked = ++h->drops_asked;
	hostile_wake(h);
	/* The proxy's thread closes them (it may be polling their sockets). */
	while ((int)(h->drops_done - asked) < 0 && hostile_cond_wait(h, deadline))
		;
	if ((int)(h->drops_done - asked) < 0)
		hostile_log(NULL, "the sessions of %s were not closed in time", nick ? nick : "everyone");
	pthread_mutex_unlock(&h->lock);
}

void hostile_stop(struct hostile *h)
{
	if (!h)
		return;
	if (h->thread_started) {
		pthread_mutex_lock(&h->lock);
		h->stopping = 1;
		hostile_wake(h);
		pthread_mutex_unlock(&h->lock);
		pthread_join(h->thread, NULL);
	}
	hostile_free(h);
}
