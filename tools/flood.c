/* A handshake flooder, for measuring the server's defences (docs/BENCHMARKS.md
 * section 9, bench_flood): many non-blocking connections, each sending a
 * CLIENT_HELLO and then a junk CLIENT_KEY (a session_ct of the server key's
 * size below its modulus, so the server's RSA decryption really runs, and
 * random sealed_auth), then a new connection as soon as the server answers.
 * It solves the server's puzzles only with --solve; without, it sends a
 * nonce of 0, which the server refuses with one hash.
 *
 *   flood --port P [--host H] [--sources N] [--inflight N] [--duration S]
 *         [--solve] [--max-bits B] [--cpu C]
 *
 * --sources N binds connections round robin to 127.0.0.2 ... 127.0.0.(N+1)
 * (all loopback on Linux): N hosts, as far as the per-address limits can
 * tell; 0 binds nothing. One thread: it uses at most one core (--cpu pins
 * it to that core). At the end it prints one line:
 *
 *   FLOOD seconds=.. connects=.. hellos=.. keys=.. solved=.. auth_failed=..
 *         puzzle=.. limit=.. closed=.. timeouts=.. max_bits=..
 *
 * auth_failed counts the junk keys the server spent an RSA operation on. */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "crypto/crypto.h"
#include "proto/frame.h"
#include "proto/msg.h"
#include "util/buf.h"
#include "util/clock.h"

#define SEALED_JUNK 600
#define CONN_TIMEOUT_MS 10000
#define PUZZLE_LABEL "cryptocat/1 puzzle"

enum fstate { F_CONNECTING, F_WAIT_HELLO, F_WAIT_ANSWER };

struct fconn {
	int fd;
	enum fstate state;
	uint64_t started_ms;
	struct buf in;
	struct buf hello;  /* our CLIENT_HELLO frame, for the puzzle */
};

static struct {
	const char *host;
	int port;
	unsigned sources, inflight;
	double duration;
	int solve;
	unsigned max_bits;
	int cpu;
} opt = {"127.0.0.1", 0, 1, 400, 10, 0, 24, -1};

static struct {
	uint64_t connects, hellos, keys, solved, auth_failed, puzzle, limit, closed, timeouts,
		other;
	unsigned max_bits_seen;
} st;

static int epfd;
static unsigned next_source;
static size_t rsa_len;  /* the server key's size, from its first SERVER_HELLO */
static volatile sig_atomic_t stop_now;

static void on_signal(int sig)
{
	(void)sig;
	stop_now = 1;
}

static void fconn_close(struct fconn *f)
{
	if (f->fd >= 0) {
		struct linger lg = {1, 0};  /* a reset: no TIME_WAIT piles up here */
		setsockopt(f->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
		close(f->fd);
	}
	f->fd = -1;
	buf_reset(&f->in);
	buf_reset(&f->hello);
}

static void fconn_open(struct fconn *f)
{
	struct sockaddr_in dst = {.sin_family = AF_INET, .sin_port = htons((uint16_t)opt.port)};
	inet_pton(AF_INET, opt.host, &dst.sin_addr);
	f->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (f->fd < 0)
		return;
	if (opt.sources) {
		struct sockaddr_in src = {.sin_family = AF_INET};
		src.sin_addr.s_addr = htonl(0x7f000002u + next_source++ % opt.sources);
		if (bind(f->fd, (struct sockaddr *)&src, sizeof src) != 0) {
			fconn_close(f);
			return;
		}
	}
	if (connect(f->fd, (struct sockaddr *)&dst, sizeof dst) != 0 && errno != EINPROGRESS) {
		fconn_close(f);
		return;
	}
	st.connects++;
	f->state = F_CONNECTING;
	f->started_ms = clock_mono_ms();
	struct epoll_event ev = {.events = EPOLLOUT, .data.ptr = f};
	epoll_ctl(epfd, EPOLL_CTL_ADD, f->fd, &ev);
}

static int send_msg(struct fconn *f, const struct proto_msg *m, struct buf *copy)
{
	struct buf body, frame;
	buf_init(&body, PROTO_FRAME_MAX_PREAUTH);
	buf_init(&frame, PROTO_FRAME_MAX_PREAUTH + 4);
	int ok = proto_msg_encode(m, &body) == CC_OK &&
		 proto_frame_put(&frame, body.data, body.len) == CC_OK &&
		 send(f->fd, frame.data, frame.len, MSG_NOSIGNAL) == (ssize_t)frame.len;
	if (ok && copy)
		ok = buf_put_bytes(copy, frame.data, frame.len) == CC_OK;
	buf_free(&body);
	buf_free(&frame);
	return ok;
}

static int send_hello(struct fconn *f)
{
	struct proto_msg m = {.type = PROTO_CLIENT_HELLO};
	m.u.client_hello.version = PROTO_VERSION;
	crypto_random_bytes(m.u.client_hello.eph, sizeof m.u.client_hello.eph);
	crypto_random_bytes(m.u.client_hello.random, sizeof m.u.client_hello.random);
	st.hellos++;
	return send_msg(f, &m, &f->hello);
}

/* The puzzle of PROTOCOL.md 4.2 over our hello and the server's. */
static int solve(struct fconn *f, const uint8_t *sh, size_t sh_len, unsigned bits, uint64_t *nonce)
{
	uint8_t prefix[sizeof PUZZLE_LABEL - 1 + CRYPTO_SHA256_LEN];
	struct buf t;
	buf_init(&t, 0);
	if (buf_put_bytes(&t, f->hello.data, f->hello.len) || buf_put_bytes(&t, sh, sh_len)) {
		buf_free(&t);
		return 0;
	}
	memcpy(prefix, PUZZLE_LABEL, sizeof PUZZLE_LABEL - 1);
	crypto_sha256(t.data, t.len, prefix + sizeof PUZZLE_LABEL - 1);
	buf_free(&t);
	return crypto_puzzle_solve(prefix, sizeof prefix, bits, 0, UINT64_MAX, nonce) == CC_OK;
}

static int send_junk_key(struct fconn *f, const struct proto_server_hello *sh, const uint8_t *frame,
			 size_t frame_len)
{
	static uint8_t ct[CRYPTO_RSA_MAX_BYTES], sealed[SEALED_JUNK];
	struct proto_msg m = {.type = PROTO_CLIENT_KEY};

	if (!rsa_len) {
		struct crypto_rsa_key *k;
		if (crypto_rsa_public_from_der(sh->server_key.p, sh->server_key.len, &k) != CC_OK)
			return 0;
		rsa_len = crypto_rsa_size(k);
		crypto_rsa_free(k);
	}
	if (sh->puzzle_bits > st.max_bits_seen)
		st.max_bits_seen = sh->puzzle_bits;
	if (sh->puzzle_bits && opt.solve) {
		if (sh->puzzle_bits > opt.max_bits ||
		    !solve(f, frame, frame_len, sh->puzzle_bits, &m.u.client_key.puzzle_nonce))
			return 0;
		st.solved++;
	}
	crypto_random_bytes(ct, rsa_len);
	ct[0] = 0;  /* below the modulus: the decryption itself must run */
	crypto_random_bytes(sealed, sizeof sealed);
	m.u.client_key.session_ct = (struct proto_bytes){ct, rsa_len};
	m.u.client_key.sealed_auth = (struct proto_bytes){sealed, sizeof sealed};
	st.keys++;
	return send_msg(f, &m, NULL);
}

static void count_error(const struct proto_msg *m)
{
	if (m->type != PROTO_ERROR)
		st.other++;
	else if (m->u.error.code == CC_ERR_AUTH)
		st.auth_failed++;
	else if (m->u.error.code == CC_ERR_PUZZLE)
		st.puzzle++;
	else if (m->u.error.code == CC_ERR_LIMIT)
		st.limit++;
	else
		st.other++;
}

/* Whole frames from the input; 0 when the connection is over. */
static int on_readable(struct fconn *f)
{
	uint8_t tmp[4096];
	for (;;) {
		ssize_t n = recv(f->fd, tmp, sizeof tmp, 0);
		if (n > 0) {
			if (buf_put_bytes(&f->in, tmp, (size_t)n))
				return 0;
			continue;
		}
		if (n == 0) {
			st.closed++;
			return 0;
		}
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			break;
		st.closed++;
		return 0;
	}
	size_t body_len;
	if (f->in.len < PROTO_FRAME_HEADER_LEN)
		return 1;
	if (proto_frame_peek(f->in.data, f->in.len, PROTO_FRAME_MAX_PREAUTH, &body_len) != CC_OK)
		return f->in.len < PROTO_FRAME_HEADER_LEN + PROTO_FRAME_MAX_PREAUTH;
	struct proto_msg m;
	if (proto_msg_decode(f->in.data + 4, body_len, &m) != CC_OK) {
		st.other++;
		return 0;
	}
	if (f->state == F_WAIT_HELLO && m.type == PROTO_SERVER_HELLO) {
		if (!send_junk_key(f, &m.u.server_hello, f->in.data, 4 + body_len))
			return 0;
		buf_consume(&f->in, 4 + body_len);
		f->state = F_WAIT_ANSWER;
		return 1;
	}
	count_error(&m);
	return 0;
}

static void usage(void)
{
	fputs("usage: flood --port P [--host H] [--sources N] [--inflight N] [--duration S] "
	      "[--solve] [--max-bits B] [--cpu C]\n", stderr);
	exit(2);
}

static void parse(int argc, char **argv)
{
	static const struct option lo[] = {
		{"host", required_argument, NULL, 'h'},   {"port", required_argument, NULL, 'p'},
		{"sources", required_argument, NULL, 's'}, {"inflight", required_argument, NULL, 'i'},
		{"duration", required_argument, NULL, 'd'}, {"solve", no_argument, NULL, 'S'},
		{"max-bits", required_argument, NULL, 'b'}, {"cpu", required_argument, NULL, 'c'},
		{NULL, 0, NULL, 0},
	};
	int o;
	while ((o = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (o) {
		case 'h': opt.host = optarg; break;
		case 'p': opt.port = atoi(optarg); break;
		case 's': opt.sources = (unsigned)atoi(optarg); break;
		case 'i': opt.inflight = (unsigned)atoi(optarg); break;
		case 'd': opt.duration = atof(optarg); break;
		case 'S': opt.solve = 1; break;
		case 'b': opt.max_bits = (unsigned)atoi(optarg); break;
		case 'c': opt.cpu = atoi(optarg); break;
		default: usage();
		}
	}
	if (opt.port <= 0 || opt.port > 65535 || opt.inflight == 0 || opt.inflight > 60000 ||
	    opt.duration <= 0 || opt.sources > 250)
		usage();
}

int main(int argc, char **argv)
{
	parse(argc, argv);
	if (crypto_init() != CC_OK)
		return 1;
	if (opt.cpu >= 0) {
		cpu_set_t set;
		CPU_ZERO(&set);
		CPU_SET(opt.cpu, &set);
		sched_setaffinity(0, sizeof set, &set);
	}
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	epfd = epoll_create1(EPOLL_CLOEXEC);
	struct fconn *conns = calloc(opt.inflight, sizeof *conns);
	if (epfd < 0 || !conns)
		return 1;
	for (unsigned i = 0; i < opt.inflight; i++) {
		buf_init(&conns[i].in, 2 * PROTO_FRAME_MAX_PREAUTH);
		buf_init(&conns[i].hello, 256);
		conns[i].fd = -1;
		fconn_open(&conns[i]);
	}
	uint64_t start = clock_mono_ms(), end = start + (uint64_t)(opt.duration * 1000);
	struct epoll_event evs[256];
	uint64_t last_sweep = start;
	while (!stop_now && clock_mono_ms() < end) {
		int n = epoll_wait(epfd, evs, 256, 50);
		for (int i = 0; i < n; i++) {
			struct fconn *f = evs[i].data.ptr;
			int alive = 1;
			if (f->state == F_CONNECTING) {
				int soerr = 0;
				socklen_t sl = sizeof soerr;
				getsockopt(f->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
				alive = soerr == 0 && send_hello(f);
				if (alive) {
					f->state = F_WAIT_HELLO;
					struct epoll_event ev = {.events = EPOLLIN, .data.ptr = f};
					epoll_ctl(epfd, EPOLL_CTL_MOD, f->fd, &ev);
				} else {
					st.closed++;
				}
			} else {
				alive = on_readable(f);
			}
			if (!alive) {
				fconn_close(f);
				fconn_open(f);
			}
		}
		uint64_t now = clock_mono_ms();
		if (now - last_sweep >= 500) {
			last_sweep = now;
			for (unsigned i = 0; i < opt.inflight; i++) {
				struct fconn *f = &conns[i];
				if (f->fd < 0 || now - f->started_ms > CONN_TIMEOUT_MS) {
					if (f->fd >= 0)
						st.timeouts++;
					fconn_close(f);
					fconn_open(f);
				}
			}
		}
	}
	double secs = (double)(clock_mono_ms() - start) / 1000.0;
	for (unsigned i = 0; i < opt.inflight; i++) {
		fconn_close(&conns[i]);
		buf_free(&conns[i].in);
		buf_free(&conns[i].hello);
	}
	free(conns);
	close(epfd);
	printf("FLOOD seconds=%.1f connects=%llu hellos=%llu keys=%llu solved=%llu "
	       "auth_failed=%llu puzzle=%llu limit=%llu closed=%llu timeouts=%llu other=%llu "
	       "max_bits=%u\n",
	       secs, (unsigned long long)st.connects, (unsigned long long)st.hellos,
	       (unsigned long long)st.keys, (unsigned long long)st.solved,
	       (unsigned long long)st.auth_failed, (unsigned long long)st.puzzle,
	       (unsigned long long)st.limit, (unsigned long long)st.closed,
	       (unsigned long long)st.timeouts, (unsigned long long)st.other, st.max_bits_seen);
	return 0;
}
