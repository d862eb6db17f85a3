/* bench_rooms: the users, registered as a real client registers, many at
 * once. Each of --jobs processes runs one poll loop with its share of the
 * sessions in flight: the handshake with the user's RSA-2048 identity key
 * (PROTOCOL.md 4), WELCOME, then SIGNING_KEY and RECEIVE_KEY, each with its
 * certificate by the identity key (9.1, 9.2). Once both are stored the
 * session closes: the room's wrapped secrets wait on the server for them.
 * A process per core: the client's three RSA signatures per user (the
 * handshake's and the two certificates) are most of the set-up's work. */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "crypto/crypto.h"
#include "e2e/e2e.h"
#include "proto/frame.h"
#include "proto/msg.h"
#include "transport/chan.h"
#include "util/buf.h"
#include "util/clock.h"
#include "../benchkeys.h"
#include "../benchserver.h"
#include "bench_rooms.h"

static const struct reg_plan *plan;

double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

enum reg_state { R_FREE, R_CONNECTING, R_HANDSHAKE, R_SIGNKEY, R_RECVKEY };

struct reg {
	enum reg_state st;
	int fd;
	unsigned user;
	struct chan *ch;
	struct crypto_rsa_key *key;
	uint8_t fp[CRYPTO_FINGERPRINT_LEN];
	struct buf in, out;
};

/* A registration that failed ends this worker: the run cannot go on. */
static void reg_die(const struct reg *r, const char *why)
{
	fprintf(stderr, "bench_rooms: registering bench%u: %s\n", r->user, why);
	_exit(1);
}

static void reg_close(struct reg *r)
{
	if (r->fd >= 0)
		close(r->fd);
	chan_free(r->ch);
	crypto_rsa_free(r->key);
	buf_free(&r->in);
	buf_free(&r->out);
	memset(r, 0, sizeof *r);
	r->fd = -1;
	r->st = R_FREE;
}

static void reg_open(struct reg *r, unsigned user)
{
	int one = 1;
	memset(r, 0, sizeof *r);
	r->user = user;
	buf_init(&r->in, 2 * PROTO_FRAME_MAX_DEFAULT);
	buf_init(&r->out, 2 * PROTO_FRAME_MAX_DEFAULT);
	char nick[16];
	snprintf(nick, sizeof nick, "bench%u", user);
	if (benchkeys_load(plan->keys, user, &r->key) || crypto_rsa_fingerprint(r->key, r->fp))
		reg_die(r, "cannot load its identity key");
	if (chan_client_new(r->key, nick, PROTO_FRAME_MAX_DEFAULT, &r->ch))
		reg_die(r, "out of memory");
	if ((r->fd = benchserver_connect(plan->port, true)) < 0)
		reg_die(r, strerror(errno));
	setsockopt(r->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	r->st = R_CONNECTING;
}

static void reg_send(struct reg *r, const struct proto_msg *m)
{
	if (chan_send_msg(r->ch, m, &r->out))
		reg_die(r, "cannot encode a message");
}

/* WELCOME: our nickname is bound to our key; the signing key next. */
static void reg_on_welcome(struct reg *r, const struct proto_welcome *w)
{
	uint8_t seed[CRYPTO_ED25519_SEED_LEN];
	struct proto_msg m = {.type = PROTO_SIGNING_KEY};
	struct buf cert;
	if (memcmp(w->fingerprint, r->fp, sizeof r->fp) != 0)
		reg_die(r, "WELCOME names another key");
	chan_set_send_cap(r->ch, w->max_frame);
	buf_init(&cert, PROTO_SIGN_CERT_MAX);
	/* Derived from the identity key, as this project's client does. */
	if (e2e_signing_key_derive(r->key, seed, m.u.signing_key.sign_pub) ||
	    e2e_signing_cert_make(r->key, 1, m.u.signing_key.sign_pub, &cert))
		reg_die(r, "cannot certify the signing key");
	mem_wipe(seed, sizeof seed);
	m.u.signing_key.request_id = 1;
	m.u.signing_key.version = 1;
	m.u.signing_key.sign_cert = (struct proto_bytes){cert.data, cert.len};
	reg_send(r, &m);
	buf_free(&cert);
	r->st = R_SIGNKEY;
}

cc_err bench_recv_key(const struct crypto_rsa_key *identity, uint8_t priv[32], uint8_t pub[32])
{
	static const char label[] = "bench_rooms receiving key";
	uint8_t fp[CRYPTO_FINGERPRINT_LEN], in[sizeof label + CRYPTO_FINGERPRINT_LEN];
	cc_err err = crypto_rsa_fingerprint(identity, fp);
	if (err)
		return err;
	memcpy(in, label, sizeof label);
	memcpy(in + sizeof label, fp, sizeof fp);
	crypto_sha256(in, sizeof in, priv);
	return crypto_x25519_public(priv, pub);
}

/* The signing key is stored: then a receiving key, certified likewise (made
 * from the identity key: verify.c opens what is wrapped to a sample). */
static void reg_publish_recv_key(struct reg *r)
{
	uint8_t priv[CRYPTO_X25519_LEN];
	struct proto_msg m = {.type = PROTO_RECEIVE_KEY};
	struct buf cert;
	buf_init(&cert, PROTO_SIGN_CERT_MAX);
	m.u.receive_key.request_id = 2;
	m.u.receive_key.version = 1;  /* a fresh server */
	m.u.receive_key.created_ms = clock_now_ms();
	if (bench_recv_key(r->key, priv, m.u.receive_key.recv_pub) ||
	    e2e_recv_cert_make(r->key, 1, m.u.receive_key.created_ms, m.u.receive_key.recv_pub,
			       &cert))
		reg_die(r, "cannot certify the receiving key");
	mem_wipe(priv, sizeof priv);
	m.u.receive_key.recv_cert = (struct proto_bytes){cert.data, cert.len};
	reg_send(r, &m);
	buf_free(&cert);
	r->st = R_RECVKEY;
}

/* One message from the server; true when the user is registered. */
static bool reg_on_message(struct reg *r, const struct proto_msg *m)
{
	if (m->type == PROTO_WELCOME && r->st == R_HANDSHAKE) {
		reg_on_welcome(r, &m->u.welcome);
	} else if (m->type == PROTO_OK && r->st == R_SIGNKEY && m->u.request.request_id == 1) {
		reg_publish_recv_key(r);
	} else if (m->type == PROTO_OK && r->st == R_RECVKEY && m->u.request.request_id == 2) {
		return true;
	} else if (m->type == PROTO_PING) {
		struct proto_msg pong = {.type = PROTO_PONG};
		pong.u.ping.token = m->u.ping.token;
		reg_send(r, &pong);
	} else if (m->type == PROTO_ERROR) {
		char why[PROTO_ERROR_TEXT_MAX + 64];
		snprintf(why, sizeof why, "the server answered %s: %.*s",
			 cc_err_code((cc_err)m->u.error.code), (int)m->u.error.text.len,
			 (const char *)m->u.error.text.p);
		reg_die(r, why);
	}
	return false;
}

/* Reads what the socket holds and handles every whole frame; true when the
 * user is registered. */
static bool reg_on_readable(struct reg *r)
{
	uint8_t tmp[16384];
	ssize_t n = recv(r->fd, tmp, sizeof tmp, 0);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
		reg_die(r, n == 0 ? "closed by the server" : strerror(errno));
	if (n < 0)
		return false;
	if (buf_put_bytes(&r->in, tmp, (size_t)n))
		reg_die(r, "input too large");
	while (r->in.len >= PROTO_FRAME_HEADER_LEN) {
		size_t body;
		enum chan_event ev;
		cc_err err = proto_frame_peek(r->in.data, r->in.len, chan_frame_cap(r->ch), &body);
		if (err == CC_ERR_TRUNCATED)
			break;
		if (!err)
			err = chan_recv_frame(r->ch, r->in.data, PROTO_FRAME_HEADER_LEN + body, &r->out,
					      &ev);
		if (err) {
			char why[PROTO_ERROR_TEXT_MAX + 64];
			snprintf(why, sizeof why, "%s: %s", cc_err_code(err), chan_peer_error_text(r->ch));
			reg_die(r, why);
		}
		buf_consume(&r->in, PROTO_FRAME_HEADER_LEN + body);
		if (ev == CHAN_EVENT_SERVER_KEY && chan_client_continue(r->ch, &r->out))
			reg_die(r, "cannot make CLIENT_KEY");
		const uint8_t *frame;
		size_t len;
		struct proto_msg m;
		while (ev == CHAN_EVENT_DATA && chan_pop_frame(r->ch, &frame, &len) == CC_OK) {
			if (proto_msg_decode(frame, len, &m) != CC_OK)
				reg_die(r, "a message does not decode");
			if (reg_on_message(r, &m))
				return true;
		}
	}
	return false;
}

static void reg_flush(struct reg *r)
{
	while (r->out.len) {
		ssize_t w = send(r->fd, r->out.data, r->out.len, MSG_NOSIGNAL);
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			reg_die(r, strerror(errno));
		buf_consume(&r->out, (size_t)w);
	}
}

/* One worker: users first, first + step, ... up to last, at most inflight
 * at once. Exits 0 when all are registered. */
static void reg_worker(unsigned first, unsigned last, unsigned step, unsigned inflight)
{
	struct reg *regs = calloc(inflight, sizeof *regs);
	struct pollfd *pfd = calloc(inflight, sizeof *pfd);
	unsigned next = first, active = 0;
	double deadline = now_s() + plan->timeout;
	if (!regs || !pfd) {
		fprintf(stderr, "bench_rooms: out of memory\n");
		_exit(1);
	}
	for (unsigned i = 0; i < inflight; i++)
		regs[i].fd = -1;
	for (;;) {
		for (unsigned i = 0; i < inflight && next <= last; i++)
			if (regs[i].st == R_FREE) {
				reg_open(&regs[i], next);
				next += step;
				active++;
			}
		if (!active)
			break;
		for (unsigned i = 0; i < inflight; i++) {
			struct reg *r = &regs[i];
			pfd[i].fd = r->st == R_FREE ? -1 : r->fd;
			pfd[i].events = r->st == R_CONNECTING ? POLLOUT
					: (short)(POLLIN | (r->out.len ? POLLOUT : 0));
			pfd[i].revents = 0;
		}
		if (now_s() > deadline) {
			fprintf(stderr, "bench_rooms: registering: no end after %.0f s\n", plan->timeout);
			_exit(1);
		}
		if (poll(pfd, inflight, 1000) < 0 && errno != EINTR) {
			fprintf(stderr, "bench_rooms: poll: %s\n", strerror(errno));
			_exit(1);
		}
		for (unsigned i = 0; i < inflight; i++) {
			struct reg *r = &regs[i];
			if (r->st == R_FREE || !pfd[i].revents)
				continue;
			if (r->st == R_CONNECTING) {
				int err = 0;
				socklen_t len = sizeof err;
				getsockopt(r->fd, SOL_SOCKET, SO_ERROR, &err, &len);
				if (err)
					reg_die(r, strerror(err));
				r->st = R_HANDSHAKE;
				if (chan_client_start(r->ch, &r->out))
					reg_die(r, "cannot make CLIENT_HELLO");
			} else if ((pfd[i].revents & (POLLIN | POLLHUP | POLLERR)) && reg_on_readable(r)) {
				reg_close(r);
				active--;
				continue;
			}
			reg_flush(r);
		}
	}
	free(regs);
	free(pfd);
	_exit(0);
}

const char *users_register(const struct reg_plan *p, double *took)
{
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned count = p->count, jobs = p->jobs ? p->jobs : ncpu < 1 ? 1 : (unsigned)ncpu;
	if (jobs > count)
		jobs = count;
	unsigned per_job = (p->inflight + jobs - 1) / jobs;
	pid_t *pids = calloc(jobs, sizeof *pids);
	double t0 = now_s();
	int bad = 0;
	if (!pids)
		return "out of memory";
	plan = p;
	fflush(NULL);
	for (unsigned w = 0; w < jobs; w++) {
		if ((pids[w] = fork()) == 0)
			reg_worker(1 + w, count, jobs, per_job);
		if (pids[w] < 0) {
			jobs = w;  /* wait for those started, then fail */
			bad = 1;
		}
	}
	for (unsigned w = 0; w < jobs; w++) {
		int status;
		bad |= waitpid(pids[w], &status, 0) != pids[w] || !WIFEXITED(status) ||
		       WEXITSTATUS(status) != 0;
	}
	free(pids);
	*took = now_s() - t0;
	return bad ? "the users could not all register (the reason is above)" : NULL;
}
