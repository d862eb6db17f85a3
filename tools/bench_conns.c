/* Connections and handshakes (issue 11's targets 4 and 5, docs/BENCHMARKS.md
 * section 1): a real cryptocat-server on a fresh data directory, and client
 * sessions driven from one epoll loop. It prints a human summary and FIGURE
 * lines (bench/figures.sh).
 *
 *   bench_conns memory [--connections N]
 *     Opens N sessions, at most --inflight handshaking at once. Each does the
 *     whole handshake (RSA-2048 identity key, PROTOCOL.md 4) and ends
 *     registered: WELCOME, its nickname bound to its key. Then all stay idle,
 *     and the server's VmRSS (/proc/PID/status) after, less VmRSS of the fresh
 *     idle server before, divided by N, is the memory per connection.
 *   bench_conns handshakes [--seconds S]
 *     First `openssl speed -seconds T rsa<bits>` for the server key's
 *     private-key operation, alone on the machine, for the bound. Then
 *     --pingers sessions register and ping every 100 ms while --inflight
 *     handshakes run back to back for S seconds (each closed once its WELCOME
 *     arrives): handshakes/s, and the established sessions' ping p99.
 *
 * Registered clients, honestly: the sessions belong to --users users
 * (benchI, I < U, loadgen's cached RSA-2048 keys in --keys), round robin. A
 * key may hold several sessions of its nickname at once (the load
 * generator's room maker is a second session of bench0), and making 10 000
 * RSA keys would take longer than the benchmark. No session publishes a
 * signing key or joins a room: a registered, idle client.
 *
 * The server runs with the per-address handshake limits and the proof of
 * work lifted (every client comes from 127.0.0.1), as in bench/run.sh, and
 * --max-connections above N. Both sides raise their descriptor limit. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "crypto/crypto.h"
#include "proto/frame.h"
#include "proto/msg.h"
#include "transport/chan.h"
#include "util/buf.h"
#include "benchkeys.h"
#include "benchserver.h"
#include "procstat.h"

#define PING_EVERY_US 100000
#define KIB_PER_CONN_TARGET 16.0
#define HS_RATIO_TARGET 0.8
#define PING_P99_TARGET_MS 50.0   /* bench_flood's target for served clients */
#define MAX_USERS 1000

static struct {
	const char *mode, *server, *keys;
	unsigned connections, users, inflight, pingers, rsa_bits, sources;
	double seconds, settle, speed_seconds, timeout;
} opt = {NULL, NULL, "/tmp/cryptocat-bench-keys", 10000, 200, 32, 20, 3072, 0, 10, 2, 3, 300};

enum sess_state { S_FREE, S_CONNECTING, S_HANDSHAKE, S_OPEN };

struct sess {
	int fd;
	enum sess_state st;
	bool pinger;
	struct chan *ch;
	struct buf in, out;
	uint64_t ping_sent_us;       /* 0: no PING outstanding */
};

static struct {
	int ep, port;
	pid_t server;
	char dir[64];
	struct crypto_rsa_key **keys;
	struct sess *s;
	unsigned n, next_user;
	unsigned sources, next_source;  /* local addresses 127.0.0.1.. used round robin */
	unsigned in_flight, registered, failed, lost;
	bool hs_mode, counting;      /* handshakes: count WELCOMEs now */
	uint64_t hs_done;
	double *rtt;
	size_t nrtt, rtt_cap;
	unsigned late;
	char why[160];
} g;

static uint64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void die(const char *what)
{
	fprintf(stderr, "bench_conns: %s\n", what);
	if (g.server > 0)
		kill(g.server, SIGKILL);
	exit(1);
}

/* ---- the server ---- */

static void server_start(void)
{
	char listen[32], maxconn[16], bits[16], data[96], log[96];
	snprintf(g.dir, sizeof g.dir, "/tmp/cryptocat-bench-conns.XXXXXX");
	if (!mkdtemp(g.dir) || (g.port = benchserver_free_port()) < 0)
		die("cannot make a data directory or find a free port");
	snprintf(listen, sizeof listen, "127.0.0.1:%d", g.port);
	snprintf(maxconn, sizeof maxconn, "%u", opt.connections + opt.inflight + opt.pingers + 64);
	snprintf(bits, sizeof bits, "%u", opt.rsa_bits);
	snprintf(data, sizeof data, "%s/data", g.dir);
	snprintf(log, sizeof log, "%s/server.log", g.dir);
	char *argv[] = {(char *)opt.server, "--listen", listen, "--data", data, "--log-level", "warn",
			"--max-connections", maxconn, "--rsa-bits", bits,
			"--preauth-per-address", "1000000", "--handshake-rate", "1000000",
			"--handshake-burst", "1000000", "--puzzle-max", "0", NULL};
	if ((g.server = benchserver_spawn(argv, log)) < 0)
		die("fork failed");
	int fd = benchserver_wait(g.server, g.port, 60);
	if (fd >= 0) {
		close(fd);
		return;
	}
	if (fd == -1) {
		g.server = 0;
		die("the server exited at start (see its log in /tmp/cryptocat-bench-conns.*)");
	}
	die("the server does not listen after 60 s");
}

static void server_stop(void)
{
	if (g.server <= 0)
		return;
	benchserver_stop(g.server, 5);
	g.server = 0;
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", g.dir);
	if (system(cmd) != 0)
		fprintf(stderr, "bench_conns: cannot remove %s\n", g.dir);
}

/* ---- keys: loadgen's cache, the missing ones made in parallel ---- */

static void keys_prepare(void)
{
	const char *why = benchkeys_make(opt.keys, opt.users, "bench_conns");
	if (why)
		die(why);
	g.keys = calloc(opt.users, sizeof *g.keys);
	if (!g.keys)
		die("out of memory");
	for (unsigned i = 0; i < opt.users; i++)
		if (benchkeys_load(opt.keys, i, &g.keys[i]))
			die("cannot load an identity key");
}

/* ---- sessions ---- */

static void sess_close(struct sess *s, bool reset)
{
	if (s->fd >= 0) {
		/* Handshake runs close thousands of sockets a second: an RST
		 * leaves no TIME_WAIT to run the local ports out. */
		struct linger lg = {1, 0};
		if (reset)
			setsockopt(s->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
		close(s->fd);
	}
	if (s->st == S_CONNECTING || s->st == S_HANDSHAKE)
		g.in_flight--;
	chan_free(s->ch);
	buf_free(&s->in);
	buf_free(&s->out);
	s->ch = NULL;
	s->fd = -1;
	s->st = S_FREE;
}

static void sess_fail(struct sess *s, const char *why)
{
	if (s->st == S_OPEN)
		g.lost++;
	else
		g.failed++;
	snprintf(g.why, sizeof g.why, "%s", why);
	sess_close(s, true);
}

static int sess_flush(struct sess *s)
{
	size_t off = 0;
	while (off < s->out.len) {
		ssize_t w = send(s->fd, s->out.data + off, s->out.len - off, MSG_NOSIGNAL);
		if (w > 0) {
			off += (size_t)w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		return -1;
	}
	buf_consume(&s->out, off);
	struct epoll_event ev = {.events = EPOLLIN | (s->out.len ? EPOLLOUT : 0u), .data.ptr = s};
	return epoll_ctl(g.ep, EPOLL_CTL_MOD, s->fd, &ev);
}

static void sess_open(struct sess *s, bool pinger)
{
	int one = 1;
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)g.port)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	memset(s, 0, sizeof *s);
	s->pinger = pinger;
	buf_init(&s->in, 4 * PROTO_FRAME_MAX_DEFAULT);
	buf_init(&s->out, 4 * PROTO_FRAME_MAX_DEFAULT);
	s->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->fd < 0)
		die("socket failed (descriptor limit?)");
	setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	unsigned user = g.next_user++ % opt.users;
	char nick[16];
	snprintf(nick, sizeof nick, "bench%u", user);
	if (chan_client_new(g.keys[user], nick, PROTO_FRAME_MAX_DEFAULT, &s->ch))
		die("out of memory");
	s->st = S_CONNECTING;
	g.in_flight++;
	struct epoll_event ev = {.events = EPOLLOUT, .data.ptr = s};
	if (epoll_ctl(g.ep, EPOLL_CTL_ADD, s->fd, &ev))
		die("epoll_ctl failed");
	if (g.sources > 1) {
		struct sockaddr_in src = {.sin_family = AF_INET};
		src.sin_addr.s_addr = htonl(INADDR_LOOPBACK + g.next_source++ % g.sources);
		if (bind(s->fd, (struct sockaddr *)&src, sizeof src) != 0) {
			sess_fail(s, strerror(errno));
			return;
		}
	}
	if (connect(s->fd, (struct sockaddr *)&a, sizeof a) != 0 && errno != EINPROGRESS)
		sess_fail(s, strerror(errno));
}

static void on_message(struct sess *s, const struct proto_msg *m)
{
	if (m->type == PROTO_WELCOME && s->st == S_HANDSHAKE) {
		s->st = S_OPEN;
		g.in_flight--;
		g.registered++;
		if (g.hs_mode && !s->pinger) {
			g.hs_done += g.counting;
			g.registered--;
			sess_close(s, true);
		}
	} else if (m->type == PROTO_PONG && s->ping_sent_us) {
		if (g.counting && g.nrtt < g.rtt_cap)
			g.rtt[g.nrtt++] = (double)(now_us() - s->ping_sent_us) / 1000.0;
		s->ping_sent_us = 0;
	} else if (m->type == PROTO_PING) {
		/* The server's idle check: answer as a client does. */
		struct proto_msg pong = {.type = PROTO_PONG};
		pong.u.ping.token = m->u.ping.token;
		if (chan_send_msg(s->ch, &pong, &s->out))
			sess_fail(s, "cannot answer a ping");
	} else if (m->type == PROTO_ERROR) {
		sess_fail(s, "the server answered ERROR");
	}
}

static void on_readable(struct sess *s)
{
	uint8_t tmp[16384];
	ssize_t n = recv(s->fd, tmp, sizeof tmp, 0);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		sess_fail(s, n == 0 ? "closed by the server" : strerror(errno));
		return;
	}
	if (n < 0)
		return;
	if (buf_put_bytes(&s->in, tmp, (size_t)n)) {
		sess_fail(s, "input too large");
		return;
	}
	while (s->st != S_FREE && s->in.len >= PROTO_FRAME_HEADER_LEN) {
		size_t body;
		enum chan_event ev;
		cc_err err = proto_frame_peek(s->in.data, s->in.len, chan_frame_cap(s->ch), &body);
		if (err == CC_ERR_TRUNCATED)
			break;
		if (!err)
			err = chan_recv_frame(s->ch, s->in.data, PROTO_FRAME_HEADER_LEN + body, &s->out, &ev);
		if (err) {
			char why[sizeof g.why];
			snprintf(why, sizeof why, "%s: %s", cc_err_code(err), chan_peer_error_text(s->ch));
			sess_fail(s, why);
			return;
		}
		buf_consume(&s->in, PROTO_FRAME_HEADER_LEN + body);
		if (ev == CHAN_EVENT_SERVER_KEY && chan_client_continue(s->ch, &s->out)) {
			sess_fail(s, "cannot make CLIENT_KEY");
			return;
		}
		const uint8_t *frame;
		size_t len;
		struct proto_msg m;
		while (ev == CHAN_EVENT_DATA && s->st != S_FREE &&
		       chan_pop_frame(s->ch, &frame, &len) == CC_OK)
			if (proto_msg_decode(frame, len, &m) == CC_OK)
				on_message(s, &m);
	}
	if (s->st != S_FREE && s->out.len && sess_flush(s))
		sess_fail(s, "write failed");
}

static void on_event(struct sess *s, uint32_t events)
{
	if (s->st == S_CONNECTING) {
		int err = 0;
		socklen_t len = sizeof err;
		getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &len);
		if (err || (events & (EPOLLERR | EPOLLHUP))) {
			sess_fail(s, err ? strerror(err) : "connect failed");
			return;
		}
		s->st = S_HANDSHAKE;
		if (chan_client_start(s->ch, &s->out) || sess_flush(s))
			sess_fail(s, "cannot send CLIENT_HELLO");
		return;
	}
	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR))
		on_readable(s);
	if (s->st != S_FREE && (events & EPOLLOUT) && sess_flush(s))
		sess_fail(s, "write failed");
}

/* One turn of the loop: waits at most wait_ms. */
static void loop_once(int wait_ms)
{
	struct epoll_event evs[256];
	int n = epoll_wait(g.ep, evs, 256, wait_ms);
	if (n < 0 && errno != EINTR)
		die("epoll_wait failed");
	for (int i = 0; i < n; i++)
		on_event(evs[i].data.ptr, evs[i].events);
}

static void pingers_ping(unsigned first, unsigned count)
{
	for (unsigned i = first; i < first + count; i++) {
		struct sess *s = &g.s[i];
		if (s->st != S_OPEN)
			continue;
		if (s->ping_sent_us) {
			g.late += g.counting;  /* unanswered for a whole period */
			continue;
		}
		struct proto_msg m = {.type = PROTO_PING};
		m.u.ping.token = i;
		s->ping_sent_us = now_us();
		if (chan_send_msg(s->ch, &m, &s->out) || sess_flush(s))
			sess_fail(s, "cannot ping");
	}
}

/* Opens sessions [first, first + count), at most --inflight handshaking at
 * once, until all are registered (or the time is up). */
static void open_all(unsigned first, unsigned count, bool pinger)
{
	uint64_t deadline = now_us() + (uint64_t)(opt.timeout * 1e6);
	unsigned next = first;
	while (g.registered < first + count && now_us() < deadline) {
		while (next < first + count && g.in_flight < opt.inflight)
			sess_open(&g.s[next++], pinger);
		if (g.failed)
			break;
		loop_once(100);
	}
	if (g.registered < first + count) {
		fprintf(stderr, "bench_conns: %u of %u registered, %u failed (last: %s)\n",
			g.registered, first + count, g.failed, g.failed ? g.why : "time out");
		die("cannot register the sessions");
	}
}

/* Runs the loop for secs, pinging the first `pingers` sessions. */
static void idle_for(double secs, unsigned pingers)
{
	uint64_t end = now_us() + (uint64_t)(secs * 1e6), next_ping = now_us();
	while (now_us() < end) {
		if (pingers && now_us() >= next_ping) {
			pingers_ping(0, pingers);
			next_ping += PING_EVERY_US;
		}
		loop_once(10);
	}
}

static void raise_fd_limit(unsigned need)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    rl.rlim_cur < (rlim_t)need + 64) {
		fprintf(stderr, "bench_conns: the descriptor limit is %llu; %u connections need more "
			"(raise the hard limit: ulimit -Hn)\n", (unsigned long long)rl.rlim_cur, need);
		exit(1);
	}
}

/* One local address has the ephemeral port range's ports to connect from: if
 * that is short of what is needed, the connections come from 127.0.0.1,
 * 127.0.0.2, ... round robin (loopback answers all of 127/8). */
static void plan_sources(unsigned need)
{
	unsigned lo = 32768, hi = 60999;
	FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");
	if (f) {
		if (fscanf(f, "%u %u", &lo, &hi) != 2 || hi < lo)
			lo = 32768, hi = 60999;
		fclose(f);
	}
	/* Half of the range: other programs use ports too. */
	unsigned per_source = (hi - lo + 1) / 2;
	g.sources = opt.sources ? opt.sources : per_source ? (need + per_source - 1) / per_source : 1;
	if (g.sources < 1)
		g.sources = 1;
	if (g.sources > 1)
		printf("bench_conns: %u connections from %u local addresses (127.0.0.1 and up): the "
		       "port range has %u ports\n", need, g.sources, hi - lo + 1);
}

/* ---- the two measurements ---- */

static int run_memory(void)
{
	unsigned n = opt.connections;
	raise_fd_limit(n);
	plan_sources(n);
	g.n = n;
	g.s = calloc(n, sizeof *g.s);
	if (!g.s)
		die("out of memory");
	server_start();
	idle_for(opt.settle, 0);
	long rss0 = procstat_status_kib(g.server, "VmRSS");
	uint64_t t0 = now_us();
	open_all(0, n, false);
	double setup_s = (double)(now_us() - t0) / 1e6;
	idle_for(opt.settle, 0);
	long rss1 = procstat_status_kib(g.server, "VmRSS"), hwm = procstat_status_kib(g.server, "VmHWM");
	unsigned open = 0;
	for (unsigned i = 0; i < n; i++)
		open += g.s[i].st == S_OPEN;
	if (rss0 < 0 || rss1 < 0)
		die("cannot read the server's VmRSS");
	double per = (double)(rss1 - rss0) / n;
	printf("connections: %u sessions registered in %.1f s (%.0f handshakes/s), %u still open "
	       "after %.1f s idle\n", g.registered, setup_s, n / setup_s, open, opt.settle);
	printf("  a session: handshake, WELCOME (nickname bound to its RSA-2048 key), then idle;\n"
	       "  %u users (benchI), about %u sessions each; no signing key, no room\n",
	       opt.users, (n + opt.users - 1) / opt.users);
	printf("  server VmRSS %ld KiB idle before, %ld KiB with them (peak %ld KiB): %.2f KiB per "
	       "connection\n", rss0, rss1, hwm, per);
	printf("FIGURE name=conns_registered ours=%u unit=connections target=>=10000 met=%s%s\n", open,
	       n < 10000 ? "n/a" : open >= 10000 ? "yes" : "no",
	       n < 10000 ? " note=a short run: fewer connections than the target's 10000" : "");
	printf("FIGURE name=conns_kib_per_connection ours=%.2f unit=KiB target=<=16 met=%s "
	       "note=server VmRSS with %u registered idle sessions less the fresh idle server's, "
	       "over %u\n", per, open == n && per <= KIB_PER_CONN_TARGET ? "yes" : "no", n, n);
	for (unsigned i = 0; i < n; i++)
		if (g.s[i].st != S_FREE)
			sess_close(&g.s[i], false);
	server_stop();
	return open == n ? 0 : 1;
}

/* openssl speed's private-key operations per second for RSA-<bits>, on one
 * core (it runs one process): the "sign/s" column. -1 if it cannot tell. */
static double openssl_private_ops(void)
{
	char cmd[128], line[512], want[32];
	double sign_s = 0, verify_s = 0, ops = -1;
	snprintf(cmd, sizeof cmd, "openssl speed -seconds %.0f rsa%u 2>/dev/null", opt.speed_seconds,
		 opt.rsa_bits);
	snprintf(want, sizeof want, "rsa %u bits ", opt.rsa_bits);
	FILE *p = popen(cmd, "r");
	if (!p)
		return -1;
	while (fgets(line, sizeof line, p)) {
		double ops_s, vops_s;
		if (strncmp(line, want, strlen(want)) == 0 &&
		    sscanf(line + strlen(want), "%lfs %lfs %lf %lf", &sign_s, &verify_s, &ops_s,
			   &vops_s) == 4)
			ops = ops_s;
	}
	pclose(p);
	return ops;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static int run_handshakes(void)
{
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned workers = ncpu < 1 ? 1 : (unsigned)ncpu;  /* the server's default pool */
	double per_core = openssl_private_ops();
	if (per_core <= 0)
		die("cannot read `openssl speed`'s rsa line");
	/* One RSA private-key operation per handshake (the OAEP decryption of
	 * session_ct, chan_server_finish_key); the rest is public-key work. */
	double bound = per_core * workers;

	g.hs_mode = true;
	g.n = opt.pingers + opt.inflight;
	g.s = calloc(g.n, sizeof *g.s);
	g.rtt_cap = (size_t)(opt.seconds * 1e6 / PING_EVERY_US + 2) * opt.pingers;
	g.rtt = calloc(g.rtt_cap + 1, sizeof *g.rtt);
	if (!g.s || !g.rtt)
		die("out of memory");
	raise_fd_limit(g.n);
	opt.connections = g.n;
	server_start();
	open_all(0, opt.pingers, true);

	/* Back to back: a free slot opens a new handshake at once. */
	uint64_t t_warm = now_us() + 1000000, t_end = t_warm + (uint64_t)(opt.seconds * 1e6);
	uint64_t next_ping = now_us(), t0 = 0;
	unsigned long long srv0 = 0, own0 = 0;
	unsigned failed0 = 0;
	while (now_us() < t_end) {
		if (!g.counting && now_us() >= t_warm) {
			g.counting = true;
			t0 = now_us();
			srv0 = procstat_cpu_ticks(g.server);
			own0 = procstat_cpu_ticks(getpid());
			failed0 = g.failed;
		}
		for (unsigned i = opt.pingers; i < g.n; i++)
			if (g.s[i].st == S_FREE)
				sess_open(&g.s[i], false);
		if (now_us() >= next_ping) {
			pingers_ping(0, opt.pingers);
			next_ping += PING_EVERY_US;
		}
		loop_once(5);
	}
	g.counting = false;
	double win = (double)(now_us() - t0) / 1e6, tck = (double)sysconf(_SC_CLK_TCK);
	double srv_cpu = (double)(procstat_cpu_ticks(g.server) - srv0) / tck / win * 100;
	double own_cpu = (double)(procstat_cpu_ticks(getpid()) - own0) / tck / win * 100;
	double rate = (double)g.hs_done / win, ratio = rate / bound;
	qsort(g.rtt, g.nrtt, sizeof *g.rtt, cmp_double);
	double p50 = g.nrtt ? g.rtt[g.nrtt / 2] : -1;
	double p99 = g.nrtt ? g.rtt[(size_t)((double)(g.nrtt - 1) * 0.99)] : -1;
	unsigned failed = g.failed - failed0, lost = g.lost;

	printf("handshakes: %.0f/s over %.1f s (%llu completed, %u failed; %u in flight, "
	       "closed at WELCOME)\n", rate, win, (unsigned long long)g.hs_done, failed,
	       opt.inflight);
	printf("  bound: openssl speed rsa%u: %.1f private-key ops/s on one core x %u workers "
	       "(the server's default, one per core) / 1 private-key op per handshake (OAEP "
	       "decryption) = %.0f/s; ratio %.2f\n", opt.rsa_bits, per_core, workers, bound, ratio);
	printf("  CPU: server %.0f %%, this client %.0f %% (100 %% = one core; each handshake also "
	       "costs the client an RSA-2048 signature, on the same cores)\n", srv_cpu, own_cpu);
	printf("  %u established sessions, a PING each every 100 ms: p50 %.2f ms, p99 %.2f ms, "
	       "%u late, %u lost\n", opt.pingers, p50, p99, g.late, lost);
	if (failed)
		printf("  last failure: %s\n", g.why);
	printf("FIGURE name=handshakes_per_s ours=%.0f bound=%.0f ratio=%.2f unit=handshakes/s "
	       "target=ratio>=0.8 met=%s note=bound = openssl speed rsa%u private ops/s per core "
	       "(%.1f) x %u workers / 1 private op per handshake\n", rate, bound, ratio,
	       ratio >= HS_RATIO_TARGET && !failed ? "yes" : "no", opt.rsa_bits, per_core, workers);
	/* What one handshake costs the server, all threads: the bound counts
	 * only its RSA operation (1000 / per_core ms). */
	printf("FIGURE name=handshakes_server_cpu_ms_each ours=%.2f bound=%.2f ratio=%.2f unit=ms "
	       "target=- met=n/a note=server CPU per handshake; the bound column: its one RSA "
	       "private-key operation alone\n", rate > 0 ? srv_cpu / 100 / rate * 1000 : -1,
	       1000 / per_core, rate > 0 ? srv_cpu / 100 / rate * 1000 * per_core / 1000 : 0);
	printf("FIGURE name=handshakes_established_ping_p99_ms ours=%.2f unit=ms target=<50 met=%s "
	       "note=%u established sessions pinging every 100 ms during the handshakes\n", p99,
	       p99 >= 0 && p99 < PING_P99_TARGET_MS && !lost ? "yes" : "no", opt.pingers);
	for (unsigned i = 0; i < g.n; i++)
		if (g.s[i].st != S_FREE)
			sess_close(&g.s[i], true);
	server_stop();
	return g.hs_done && !lost ? 0 : 1;
}

/* ---- options ---- */

static void usage(FILE *f)
{
	fputs("Usage: bench_conns memory|handshakes --server PATH [OPTIONS]\n"
	      "  --connections N     memory: sessions to hold (default 10000)\n"
	      "  --seconds S         handshakes: measured time (default 10)\n"
	      "  --inflight K        handshakes at once (default 32; the server queues 128)\n"
	      "  --pingers P         handshakes: established sessions pinging (default 20)\n"
	      "  --users U           identity keys the sessions share (default 200)\n"
	      "  --keys DIR          cached RSA-2048 keys benchI.pem (default\n"
	      "                      /tmp/cryptocat-bench-keys, loadgen's)\n"
	      "  --rsa-bits N        the server key's size (default 3072, the server's)\n"
	      "  --speed-seconds T   openssl speed's time (default 3)\n"
	      "  --settle S          idle time before each memory reading (default 2)\n"
	      "  --timeout S         give up registering after S (default 300)\n"
	      "  --sources N         connect from 127.0.0.1..N (default: enough for the\n"
	      "                      ephemeral port range)\n", f);
}

static void parse(int argc, char **argv)
{
	static const struct option lo[] = {
		{"server", required_argument, NULL, 's'}, {"connections", required_argument, NULL, 'n'},
		{"seconds", required_argument, NULL, 'd'}, {"inflight", required_argument, NULL, 'k'},
		{"pingers", required_argument, NULL, 'p'}, {"users", required_argument, NULL, 'u'},
		{"keys", required_argument, NULL, 'K'}, {"rsa-bits", required_argument, NULL, 'b'},
		{"speed-seconds", required_argument, NULL, 'S'}, {"settle", required_argument, NULL, 'w'},
		{"timeout", required_argument, NULL, 't'}, {"sources", required_argument, NULL, 'a'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}};
	int c;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		char *end = NULL;
		bool numeric = optarg && c != 's' && c != 'K';
		double v = numeric ? strtod(optarg, &end) : 0;
		if (numeric && (end == optarg || *end || v < 0 || v > 1e6)) {
			fprintf(stderr, "bench_conns: bad value %s\n", optarg);
			exit(2);
		}
		switch (c) {
		case 's': opt.server = optarg; break;
		case 'n': opt.connections = (unsigned)v; break;
		case 'd': opt.seconds = v; break;
		case 'k': opt.inflight = (unsigned)v; break;
		case 'p': opt.pingers = (unsigned)v; break;
		case 'u': opt.users = (unsigned)v; break;
		case 'K': opt.keys = optarg; break;
		case 'b': opt.rsa_bits = (unsigned)v; break;
		case 'S': opt.speed_seconds = v; break;
		case 'w': opt.settle = v; break;
		case 't': opt.timeout = v; break;
		case 'a': opt.sources = (unsigned)v; break;
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); exit(2);
		}
	}
	if (optind + 1 != argc || !opt.server) {
		usage(stderr);
		exit(2);
	}
	opt.mode = argv[optind];
	if (opt.connections < 1 || opt.inflight < 1 || opt.users < 1 || opt.users > MAX_USERS ||
	    opt.seconds < 0.1 || opt.speed_seconds < 1 || opt.rsa_bits < 2048 || opt.rsa_bits > 4096 ||
	    opt.sources > 250) {
		fprintf(stderr, "bench_conns: a value is out of range\n");
		exit(2);
	}
}

int main(int argc, char **argv)
{
	parse(argc, argv);
	signal(SIGPIPE, SIG_IGN);
	if (crypto_init())
		die("OpenSSL lacks what Crypto Cat needs");
	if (strcmp(opt.mode, "memory") != 0 && strcmp(opt.mode, "handshakes") != 0) {
		usage(stderr);
		return 2;
	}
	keys_prepare();
	g.ep = epoll_create1(EPOLL_CLOEXEC);
	if (g.ep < 0)
		die("epoll_create1 failed");
	int rc = strcmp(opt.mode, "memory") == 0 ? run_memory() : run_handshakes();
	for (unsigned i = 0; i < opt.users; i++)
		crypto_rsa_free(g.keys[i]);
	free(g.keys);
	free(g.s);
	free(g.rtt);
	close(g.ep);
	return rc;
}
