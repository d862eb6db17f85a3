/* The handshake-flood benchmark (docs/BENCHMARKS.md section 9): a real
 * cryptocat-server, the flooder (tools/flood.c) pinned to one core, clients
 * that registered before the flood pinging the server, and new
 * registrations timed from connect to WELCOME during the flood. It prints,
 * per scenario, the ping p50/p99, the registration times, the server's CPU
 * and the flooder's counts, against the targets (p99 < 50 ms, registration
 * < 2 s).
 *
 *   bench_flood [--quick] [--duration S] [--clients N] [--registrations N]
 *               [--sources N] [--inflight N] [--keys DIR]
 *
 * Scenarios: quiet (no flood), "puzzle off" (--puzzle-max 0: every junk key
 * costs an RSA operation, on the workers), "defaults", and "defaults, the
 * flooder solves puzzles". --quick runs "defaults" for about a second with two
 * clients and one registration: the ctest bench_flood_smoke, which fails if
 * the registration or any ping fails, or the flooder got no answers. The
 * legitimate clients come from 127.0.0.1, the flooder from 127.0.0.2 and up.
 * The clients' RSA-2048 keys are made once and kept in --keys DIR
 * (default /tmp/cryptocat-flood-keys). */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "crypto/crypto.h"
#include "proto/frame.h"
#include "proto/msg.h"
#include "transport/chan.h"
#include "util/buf.h"
#include "util/clock.h"
#include "benchserver.h"
#include "procstat.h"

#define MAX_CLIENTS 64
#define MAX_REGS 16
#define PING_EVERY_MS 100
#define IO_TIMEOUT_MS 10000

static struct {
	int quick;
	double duration;
	unsigned clients, regs, sources, inflight;
	const char *keys;
} opt = {0, 10, 20, 5, 200, 400, "/tmp/cryptocat-flood-keys"};

static char bin_dir[4096], tmp_dir[64];
static int port;

/* ---- a blocking client session on the chan API ---- */

struct session {
	int fd;
	struct chan *ch;
	struct buf in, out;
	uint64_t ping_sent_us;   /* 0: none outstanding */
};

static uint64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static int write_all(int fd, struct buf *b)
{
	size_t off = 0;
	while (off < b->len) {
		ssize_t w = send(fd, b->data + off, b->len - off, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		off += (size_t)w;
	}
	buf_reset(b);
	return 0;
}

static void session_close(struct session *s)
{
	if (s->fd >= 0)
		close(s->fd);
	chan_free(s->ch);
	buf_free(&s->in);
	buf_free(&s->out);
	memset(s, 0, sizeof *s);
	s->fd = -1;
}

/* One whole frame from s->in through the channel: -1 error, 0 none yet, 1 one. */
static int session_take_frame(struct session *s, enum chan_event *ev, cc_err *err)
{
	size_t body;
	if (s->in.len < PROTO_FRAME_HEADER_LEN)
		return 0;
	if ((*err = proto_frame_peek(s->in.data, s->in.len, chan_frame_cap(s->ch), &body)))
		return *err == CC_ERR_TRUNCATED ? 0 : -1;
	*err = chan_recv_frame(s->ch, s->in.data, PROTO_FRAME_HEADER_LEN + body, &s->out, ev);
	buf_consume(&s->in, PROTO_FRAME_HEADER_LEN + body);
	return *err ? -1 : 1;
}

static int session_read(struct session *s, int timeout_ms)
{
	struct pollfd p = {.fd = s->fd, .events = POLLIN};
	if (poll(&p, 1, timeout_ms) <= 0)
		return -1;
	uint8_t tmp[16384];
	ssize_t n = recv(s->fd, tmp, sizeof tmp, 0);
	if (n <= 0 || buf_put_bytes(&s->in, tmp, (size_t)n))
		return -1;
	return 0;
}

/* Connect, handshake (solving the puzzle), WELCOME. 0, or -1 with WHY. */
static int session_open(struct crypto_rsa_key *key, const char *nick, struct session *s,
			char *why, size_t why_len)
{
	memset(s, 0, sizeof *s);
	buf_init(&s->in, 4 * PROTO_FRAME_MAX_DEFAULT);
	buf_init(&s->out, 4 * PROTO_FRAME_MAX_DEFAULT);
	struct sockaddr_in dst = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	dst.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	s->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int one = 1;
	cc_err err = CC_OK;
	enum chan_event ev;
	if (s->fd < 0 || connect(s->fd, (struct sockaddr *)&dst, sizeof dst) != 0) {
		snprintf(why, why_len, "connect: %s", strerror(errno));
		return -1;
	}
	setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (chan_client_new(key, nick, PROTO_FRAME_MAX_DEFAULT, &s->ch) ||
	    chan_client_start(s->ch, &s->out) || write_all(s->fd, &s->out)) {
		snprintf(why, why_len, "start");
		return -1;
	}
	for (;;) {
		int r;
		while ((r = session_take_frame(s, &ev, &err)) == 1) {
			if (ev == CHAN_EVENT_SERVER_KEY &&
			    ((err = chan_client_continue(s->ch, &s->out)) || write_all(s->fd, &s->out)))
				goto fail;
			if (ev != CHAN_EVENT_DATA)
				continue;
			const uint8_t *body;
			size_t len;
			struct proto_msg m;
			if (chan_pop_frame(s->ch, &body, &len) || proto_msg_decode(body, len, &m))
				goto fail;
			if (m.type == PROTO_WELCOME)
				return 0;
			snprintf(why, why_len, "first message %s", proto_type_name(m.type));
			return -1;
		}
		if (r < 0)
			goto fail;
		if (session_read(s, IO_TIMEOUT_MS)) {
			snprintf(why, why_len, "read: closed or timed out");
			return -1;
		}
	}
fail:
	snprintf(why, why_len, "%s: %s", cc_err_code(err), chan_peer_error_text(s->ch));
	return -1;
}

/* ---- processes ---- */

/* ---- keys ---- */

static struct crypto_rsa_key *key_get(unsigned i)
{
	char path[256];
	struct crypto_rsa_key *k = NULL;
	snprintf(path, sizeof path, "%s/key%u.pem", opt.keys, i);
	if (crypto_rsa_load_private_file(path, &k) == CC_OK)
		return k;
	mkdir(opt.keys, 0700);
	if (crypto_rsa_generate(2048, &k) != CC_OK)
		return NULL;
	crypto_rsa_save_private_file(k, path);
	return k;
}

/* ---- registrations, on their own thread so that the pings go on ---- */

struct regs {
	struct crypto_rsa_key *keys[MAX_REGS];
	unsigned n, first_nick;
	double every_s;
	double ms[MAX_REGS];
	unsigned failed;
	char why[256];
};

static void *regs_run(void *arg)
{
	struct regs *r = arg;
	for (unsigned i = 0; i < r->n; i++) {
		usleep((useconds_t)(r->every_s * 1e6));
		char nick[32], why[256];
		struct session s;
		snprintf(nick, sizeof nick, "new%u", r->first_nick + i);
		uint64_t t0 = now_us();
		if (session_open(r->keys[i], nick, &s, why, sizeof why) != 0) {
			r->failed++;
			snprintf(r->why, sizeof r->why, "%s", why);
			r->ms[i] = -1;
		} else {
			r->ms[i] = (double)(now_us() - t0) / 1000.0;
		}
		session_close(&s);
	}
	return NULL;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double pct(double *v, size_t n, double p)
{
	if (!n)
		return 0;
	size_t i = (size_t)(p * (double)(n - 1) + 0.5);
	return v[i];
}

/* Other programs on the machine skew every figure: each scenario says how busy it was. */
static const char *loadavg(void)
{
	static char line[128];
	FILE *f = fopen("/proc/loadavg", "r");
	if (!f || !fgets(line, sizeof line, f))
		snprintf(line, sizeof line, "?\n");
	if (f)
		fclose(f);
	return line;
}

/* ---- one scenario ---- */

struct scenario {
	const char *label;
	const char *name;  /* in FIGURE lines */
	const char *server_args[4];
	int flood, solve;
};

static int run_scenario(const struct scenario *sc, struct crypto_rsa_key **ckeys,
			struct regs *rg, unsigned *nick_base)
{
	char data[256], log_path[256], flood_out[256], portarg[32], listen[64];
	int bad = 0;
	port = benchserver_free_port();
	snprintf(data, sizeof data, "%s/data", tmp_dir);
	snprintf(log_path, sizeof log_path, "%s/server.log", tmp_dir);
	snprintf(flood_out, sizeof flood_out, "%s/flood.out", tmp_dir);
	snprintf(listen, sizeof listen, "127.0.0.1:%d", port);
	snprintf(portarg, sizeof portarg, "%d", port);
	unlink(flood_out);

	char server_bin[4200], flood_bin[4200];
	snprintf(server_bin, sizeof server_bin, "%s/cryptocat-server", bin_dir);
	snprintf(flood_bin, sizeof flood_bin, "%s/flood", bin_dir);
	char *sargv[16] = {server_bin, "--listen", listen, "--data", data, "--log-level", "info"};
	int sa = 7;
	for (int i = 0; i < 4 && sc->server_args[i]; i++)
		sargv[sa++] = (char *)sc->server_args[i];
	if (opt.quick) {
		/* A smoke run, also under ASan: a server key made in no time. */
		sargv[sa++] = "--rsa-bits";
		sargv[sa++] = "2048";
	}
	sargv[sa] = NULL;
	pid_t server = benchserver_spawn(sargv, log_path);
	int lfd = server < 0 ? -1 : benchserver_wait(server, port, 30);
	if (lfd < 0) {
		fprintf(stderr, "bench_flood: the server did not start (%s)\n", log_path);
		return 1;
	}
	close(lfd);

	/* The established clients, before the flood. */
	struct session sess[MAX_CLIENTS];
	char why[256];
	unsigned nclients = 0;
	for (unsigned i = 0; i < opt.clients; i++) {
		char nick[32];
		snprintf(nick, sizeof nick, "user%u", i);
		if (session_open(ckeys[i], nick, &sess[i], why, sizeof why) != 0) {
			fprintf(stderr, "bench_flood: client %u did not register: %s\n", i, why);
			session_close(&sess[i]);
			bad = 1;
			goto stop;
		}
		nclients++;
	}

	pid_t flood = -1;
	double duration = opt.duration;
	char dur[32], srcs[16], infl[16];
	snprintf(dur, sizeof dur, "%.1f", duration + 1.5);
	snprintf(srcs, sizeof srcs, "%u", opt.sources);
	snprintf(infl, sizeof infl, "%u", opt.inflight);
	if (sc->flood) {
		char *fargv[] = {flood_bin, "--port", portarg, "--sources", srcs, "--inflight",
				 infl, "--duration", dur, "--cpu", "0",
				 sc->solve ? "--solve" : NULL, NULL};
		flood = benchserver_spawn(fargv, flood_out);
		usleep(1000000);  /* let the flood reach its pace */
	}

	/* Measure: pings from every client, registrations on a thread. */
	pthread_t rthread;
	rg->first_nick = *nick_base;
	*nick_base += rg->n;
	rg->every_s = duration / (rg->n + 1);
	rg->failed = 0;
	pthread_create(&rthread, NULL, regs_run, rg);
	unsigned long long cpu0 = procstat_cpu_ticks(server), fcpu0 = flood > 0 ? procstat_cpu_ticks(flood) : 0;
	uint64_t t0 = now_us(), end = t0 + (uint64_t)(duration * 1e6);
	size_t cap = (size_t)(duration * 1000 / PING_EVERY_MS + 2) * nclients, nrtt = 0;
	double *rtt = calloc(cap, sizeof *rtt);
	unsigned lost = 0;
	struct pollfd pfd[MAX_CLIENTS];
	uint64_t next_ping = t0;
	while (now_us() < end && !bad) {
		uint64_t now = now_us();
		if (now >= next_ping) {
			for (unsigned i = 0; i < nclients; i++) {
				if (sess[i].ping_sent_us) {
					lost++;  /* still unanswered after a whole period */
					continue;
				}
				struct proto_msg m = {.type = PROTO_PING};
				m.u.ping.token = i;
				sess[i].ping_sent_us = now_us();
				if (chan_send_msg(sess[i].ch, &m, &sess[i].out) ||
				    write_all(sess[i].fd, &sess[i].out))
					bad = 1;
			}
			next_ping += PING_EVERY_MS * 1000;
		}
		for (unsigned i = 0; i < nclients; i++)
			pfd[i] = (struct pollfd){.fd = sess[i].fd, .events = POLLIN};
		int wait_ms = (int)((next_ping > now_us() ? next_ping - now_us() : 0) / 1000) + 1;
		if (poll(pfd, nclients, wait_ms) < 0)
			break;
		for (unsigned i = 0; i < nclients && !bad; i++) {
			if (!(pfd[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			uint8_t tmp[16384];
			ssize_t n = recv(sess[i].fd, tmp, sizeof tmp, 0);
			if (n <= 0 || buf_put_bytes(&sess[i].in, tmp, (size_t)n)) {
				fprintf(stderr, "bench_flood: client %u lost its connection\n", i);
				bad = 1;
				break;
			}
			enum chan_event ev;
			cc_err err;
			int r;
			while ((r = session_take_frame(&sess[i], &ev, &err)) == 1) {
				const uint8_t *body;
				size_t len;
				struct proto_msg m;
				while (chan_pop_frame(sess[i].ch, &body, &len) == CC_OK) {
					if (proto_msg_decode(body, len, &m) != CC_OK)
						continue;
					if (m.type == PROTO_PONG && sess[i].ping_sent_us && nrtt < cap) {
						rtt[nrtt++] = (double)(now_us() - sess[i].ping_sent_us) / 1000.0;
						sess[i].ping_sent_us = 0;
					}
				}
			}
			if (r < 0)
				bad = 1;
		}
	}
	double wall = (double)(now_us() - t0) / 1e6;
	unsigned long long cpu1 = procstat_cpu_ticks(server), fcpu1 = flood > 0 ? procstat_cpu_ticks(flood) : 0;
	pthread_join(rthread, NULL);
	double tck = (double)sysconf(_SC_CLK_TCK);

	qsort(rtt, nrtt, sizeof *rtt, cmp_double);
	double p50 = pct(rtt, nrtt, 0.5), p99 = pct(rtt, nrtt, 0.99), max = nrtt ? rtt[nrtt - 1] : 0;
	double regs_sorted[MAX_REGS];
	unsigned nreg_ok = 0;
	for (unsigned i = 0; i < rg->n; i++)
		if (rg->ms[i] >= 0)
			regs_sorted[nreg_ok++] = rg->ms[i];
	qsort(regs_sorted, nreg_ok, sizeof *regs_sorted, cmp_double);
	double reg_max = nreg_ok ? regs_sorted[nreg_ok - 1] : 0;

	printf("\n== %s ==\n", sc->label);
	printf("load average    %s", loadavg());
	printf("server CPU      %.0f %% of one core (flooder: %.0f %%)\n",
	       100.0 * (double)(cpu1 - cpu0) / tck / wall, 100.0 * (double)(fcpu1 - fcpu0) / tck / wall);
	printf("ping            %zu answered, %u late/lost; p50 %.2f ms, p99 %.2f ms, max %.2f ms "
	       "(target p99 < 50 ms: %s)\n", nrtt, lost, p50, p99, max,
	       p99 < 50 && nrtt ? "met" : "MISSED");
	printf("registration    %u of %u; median %.0f ms, max %.0f ms (target < 2000 ms: %s)%s%s\n",
	       nreg_ok, rg->n, pct(regs_sorted, nreg_ok, 0.5), reg_max,
	       nreg_ok == rg->n && reg_max < 2000 ? "met" : "MISSED", rg->failed ? "; failed: " : "",
	       rg->failed ? rg->why : "");
	/* For make bench's table (bench/figures.sh). */
	printf("FIGURE name=flood_%s_ping_p99_ms ours=%.2f bound=50 unit=ms target=ours<50 "
	       "met=%s\n", sc->name, p99, p99 < 50 && nrtt ? "yes" : "no");
	printf("FIGURE name=flood_%s_registration_max_ms ours=%.0f bound=2000 unit=ms "
	       "target=ours<2000 met=%s\n", sc->name, reg_max,
	       nreg_ok == rg->n && reg_max < 2000 ? "yes" : "no");
	/* The figures are the result; a failure is only what breaks the run (and,
	 * in the smoke run, a registration or every ping failing). */
	if (opt.quick && (rg->failed || !nrtt))
		bad = 1;
	free(rtt);
	if (flood > 0) {
		benchserver_stop(flood, -1);
		FILE *f = fopen(flood_out, "r");
		char line[1024] = "";
		while (f && fgets(line, sizeof line, f))
			if (strncmp(line, "FLOOD ", 6) == 0)
				printf("flooder         %s", line + 6);
		if (f)
			fclose(f);
		if (!strstr(line, "FLOOD ") || strstr(line, " hellos=0 "))
			bad = 1;
	}
stop:
	for (unsigned i = 0; i < nclients; i++)
		session_close(&sess[i]);
	int status = benchserver_stop(server, -1);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		printf("server          exited with status %d (signal %d): see %s\n",
		       WIFEXITED(status) ? WEXITSTATUS(status) : -1,
		       WIFSIGNALED(status) ? WTERMSIG(status) : 0, log_path);
		bad = 1;
	}
	FILE *lf = fopen(log_path, "r");
	char line[1024], stats[1024] = "";
	while (lf && fgets(line, sizeof line, lf))
		if (strstr(line, "handshake stats:"))
			snprintf(stats, sizeof stats, "%s", strstr(line, "handshake stats:") + 17);
	if (lf)
		fclose(lf);
	printf("server          %s", stats[0] ? stats : "(no stats line)\n");
	if (!stats[0])
		bad = 1;
	else if (!bad)
		unlink(log_path);
	fflush(stdout);
	return bad;
}

static void machine(void)
{
	FILE *f = fopen("/proc/cpuinfo", "r");
	char line[512], model[512] = "?";
	while (f && fgets(line, sizeof line, f))
		if (strncmp(line, "model name", 10) == 0) {
			char *c = strchr(line, ':');
			snprintf(model, sizeof model, "%s", c ? c + 2 : line);
			model[strcspn(model, "\n")] = '\0';
			break;
		}
	if (f)
		fclose(f);
	printf("machine: %ld cores, %s\n", sysconf(_SC_NPROCESSORS_ONLN), model);
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{"quick", no_argument, NULL, 'q'},        {"duration", required_argument, NULL, 'd'},
		{"clients", required_argument, NULL, 'c'}, {"registrations", required_argument, NULL, 'r'},
		{"sources", required_argument, NULL, 's'}, {"inflight", required_argument, NULL, 'i'},
		{"keys", required_argument, NULL, 'k'},    {NULL, 0, NULL, 0},
	};
	int o;
	while ((o = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (o) {
		case 'q': opt.quick = 1; break;
		case 'd': opt.duration = atof(optarg); break;
		case 'c': opt.clients = (unsigned)atoi(optarg); break;
		case 'r': opt.regs = (unsigned)atoi(optarg); break;
		case 's': opt.sources = (unsigned)atoi(optarg); break;
		case 'i': opt.inflight = (unsigned)atoi(optarg); break;
		case 'k': opt.keys = optarg; break;
		default:
			fputs("usage: bench_flood [--quick] [--duration S] [--clients N] "
			      "[--registrations N] [--sources N] [--inflight N] [--keys DIR]\n",
			      stderr);
			return 2;
		}
	}
	if (opt.quick) {
		opt.duration = 1.2;
		opt.clients = 2;
		opt.regs = 1;
		opt.inflight = 100;
	}
	if (opt.clients == 0 || opt.clients > MAX_CLIENTS || opt.regs == 0 || opt.regs > MAX_REGS ||
	    opt.duration <= 0 || opt.sources == 0 || opt.sources > 250)
		return 2;
	signal(SIGPIPE, SIG_IGN);
	if (crypto_init() != CC_OK)
		return 1;
	ssize_t n = readlink("/proc/self/exe", bin_dir, sizeof bin_dir - 1);
	if (n <= 0)
		return 1;
	bin_dir[n] = '\0';
	*strrchr(bin_dir, '/') = '\0';
	snprintf(tmp_dir, sizeof tmp_dir, "/tmp/cc-bench-flood-XXXXXX");
	if (!mkdtemp(tmp_dir))
		return 1;

	struct crypto_rsa_key *ckeys[MAX_CLIENTS] = {0};
	struct regs rg = {.n = opt.regs};
	for (unsigned i = 0; i < opt.clients; i++)
		if (!(ckeys[i] = key_get(i)))
			return 1;
	machine();
	/* What a proof of work costs a client here: hashes a second, one core. */
	uint64_t unused, tries = opt.quick ? 1u << 16 : 1u << 21, h0 = now_us();
	crypto_puzzle_solve((const uint8_t *)"bench", 5, 256, 0, tries, &unused);
	double rate = (double)tries / ((double)(now_us() - h0) / 1e6);
	printf("puzzle: %.2f M hashes/s on one core: 16 bits ~%.0f ms, 20 bits ~%.0f ms "
	       "on average\n", rate / 1e6, 65536e3 / rate, 1048576e3 / rate);
	printf("flooder: %u connections in flight from %u addresses (127.0.0.2 and up), one "
	       "core; %u clients pinging every %d ms from 127.0.0.1; %u registrations; %.1f s "
	       "each\n", opt.inflight, opt.sources, opt.clients, PING_EVERY_MS, opt.regs,
	       opt.duration);
	fflush(stdout);

	static const struct scenario all[] = {
		{"quiet: no flood", "quiet", {NULL}, 0, 0},
		{"flood, puzzle off (--puzzle-max 0): every junk key costs an RSA operation",
		 "puzzle_off", {"--puzzle-max", "0", NULL}, 1, 0},
		{"flood, defaults: the flooder does not solve puzzles", "unsolved", {NULL}, 1, 0},
		{"flood, defaults: the flooder solves puzzles", "solved", {NULL}, 1, 1},
	};
	unsigned first = opt.quick ? 2 : 0, last = opt.quick ? 2 : 3, nick_base = 0;
	int bad = 0;
	for (unsigned s = first; s <= last; s++) {
		/* Registrations use fresh keys each scenario (one key, one nickname). */
		for (unsigned i = 0; i < rg.n; i++) {
			crypto_rsa_free(rg.keys[i]);
			rg.keys[i] = key_get(opt.clients + nick_base + i);
			if (!rg.keys[i])
				return 1;
		}
		/* The data directory (the server key, the users) carries over. */
		bad |= run_scenario(&all[s], ckeys, &rg, &nick_base);
	}
	char cmd[256];
	snprintf(cmd, sizeof cmd, "rm -rf %s", tmp_dir);
	if (bad)
		fprintf(stderr, "bench_flood: kept %s for its logs\n", tmp_dir);
	else if (system(cmd) != 0)
		bad = 1;
	for (unsigned i = 0; i < opt.clients; i++)
		crypto_rsa_free(ckeys[i]);
	for (unsigned i = 0; i < rg.n; i++)
		crypto_rsa_free(rg.keys[i]);
	return bad;
}
