/* Load generator: N clients of one Crypto Cat server, or of an IRC server for
 * comparison, in one process and one libevent loop. bench/run.sh drives it;
 * docs/BENCHMARKS.md says what it measures.
 *
 * Crypto Cat: every client does the real handshake (RSA-2048 identity keys,
 * made once and kept in --keys DIR), registers benchI and publishes its
 * certified signing key. bench0 then creates one room with everyone in it
 * (signed CREATE and ADD records, the room key wrapped to each member, as
 * src/client/rooms.c does), everyone joins and unwraps the key. Then S
 * senders send real envelopes (AES-256-GCM, Ed25519-signed, seq from 1):
 * --burst keeps at most W of each sender's messages waiting for SENT, --rate
 * paces R messages/s in all. Receivers count ROOM_MSGs, check the order per
 * sender, acknowledge reads every --ack-every messages as the real client
 * does, and open (verify and decrypt) one delivery in --verify-every.
 *
 * IRC (--irc): the same shape in plaintext: NICK/USER, JOIN #bench, PRIVMSG
 * #bench. IRC has no SENT: in burst mode a PING after each batch plays its
 * part (the server answers it once it has handled what came before).
 *
 * Latency: the send time (CLOCK_MONOTONIC, ns) is kept per (sender, seq) and
 * written into the text. An IRC receiver reads it from the text. A Crypto Cat
 * receiver cannot read the text without decrypting it, which would cost more
 * than the server does, so it looks the time up by the envelope's plaintext
 * header (sender, seq); sampled deliveries are decrypted and checked against
 * it. Envelopes sealed before the run (--pool) carry their seal time in the
 * text instead, since it is signed and cannot be changed. */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "crypto/crypto.h"
#include "e2e/e2e.h"
#include "proto/frame.h"
#include "proto/msg.h"
#include "proto/room.h"
#include "transport/chan.h"
#include "util/args.h"
#include "util/buf.h"
#include "util/clock.h"
#include "util/log.h"

#define LG_CC_MAX_CLIENTS 256        /* a room holds at most 256 members */
#define LG_IRC_MAX_CLIENTS 5000
#define LG_IN_START (256u * 1024)
#define LG_READ_MIN (64u * 1024)
#define LG_OUT_MAX (256u * 1024 * 1024)
#define LG_IRC_PART_MAX 400          /* IRC lines are at most 512 bytes */
#define LG_IRC_LINE_MAX 4096
#define LG_CHANNEL "#bench"
#define LG_MAX_WORKERS 16
#define NS 1000000000ull

/* ---- options ---------------------------------------------------------------- */

struct lg_opts {
	bool irc;
	char host[64];
	uint16_t port;
	unsigned clients, senders, size;
	bool burst;
	unsigned window;
	double rate;                 /* messages/s, all senders together */
	double duration, warmup, drain, setup_timeout;
	char keys[1024];
	long server_pid;
	unsigned verify_every;
	long pool;                   /* per sender; -1: auto */
	unsigned ack_every;
	unsigned connect_batch;
	bool nodelay;
	bool timeline;
	char label[64];
};

static const char usage[] =
	"Usage: loadgen [OPTIONS]\n"
	"\n"
	"N clients of a Crypto Cat server (or, with --irc, of an IRC server) on one\n"
	"machine: all join one room (channel), S of them send, everyone counts.\n"
	"\n"
	"  --irc                plaintext IRC (NICK/USER, JOIN #bench, PRIVMSG)\n"
	"  --host ADDR          server IPv4 address (default 127.0.0.1)\n"
	"  --port N             server port (default 7777, or 6667 with --irc)\n"
	"  --clients N          connections, all in the room (default 200; at most\n"
	"                       256 for Crypto Cat, a room's limit)\n"
	"  --senders S          how many of them send (default 10)\n"
	"  --size B             bytes of text per message (default 100); IRC sends\n"
	"                       a longer text as several PRIVMSGs of <= 400 bytes\n"
	"  --burst              send as fast as the server answers (default)\n"
	"  --window W           burst: messages in flight per sender (default 32)\n"
	"  --rate R             paced: R messages/s in all, instead of --burst\n"
	"  --duration SEC       measured time (default 5)\n"
	"  --warmup SEC         sending before the measured time (default 1)\n"
	"  --drain SEC          wait at most this for the last deliveries (default 10)\n"
	"  --keys DIR           cached RSA-2048 identity keys (default\n"
	"                       /tmp/cryptocat-bench-keys; made once)\n"
	"  --pool N|auto        envelopes sealed per sender before the run (default\n"
	"                       auto: enough for --rate, or for 1500 messages/s per\n"
	"                       sender in burst, 150000 in all at most); beyond the\n"
	"                       pool they are sealed while sending (reported)\n"
	"  --verify-every K     verify and decrypt one delivery in K (default 1000;\n"
	"                       0: none); each costs the generator about 75 us\n"
	"  --ack-every N        receivers send ROOM_READ every N messages (default\n"
	"                       64, as the client does; 0: never)\n"
	"  --server-pid PID     report this process's CPU use over the measured time\n"
	"  --connect-batch N    connections registering at once (default 32, or 8\n"
	"                       with --irc: ngircd's listen backlog is 10)\n"
	"  --no-nodelay         leave Nagle on for the generator's sockets\n"
	"  --timeline           print sends, deliveries and the worst latency of\n"
	"                       every second of the run (finds stalls)\n"
	"  --setup-timeout SEC  give up if setting up takes longer (default 300)\n"
	"  --label TEXT         name of the run in the RESULT line\n";

/* ---- state ------------------------------------------------------------------- */

enum lg_phase { PH_CONNECT, PH_CREATE, PH_JOIN, PH_RUN, PH_DRAIN, PH_DONE };

enum lg_state {
	ST_IDLE,        /* not opened yet */
	ST_CONNECTING,  /* TCP connect in progress */
	ST_HELLO,       /* CLIENT_HELLO sent (IRC: NICK and USER) */
	ST_KEY,         /* CLIENT_KEY sent, waiting for WELCOME */
	ST_SIGNKEY,     /* SIGNING_KEY sent, waiting for OK */
	ST_READY,       /* registered */
	ST_JOINING,
	ST_JOINED,
	ST_DEAD,
};

struct lg_conn;

struct lg_sender {
	struct lg_conn *c;
	uint64_t sent;               /* messages sent: the last seq */
	uint64_t acked;              /* answered: SENT, ERROR, or PONG (IRC) */
	uint64_t *sent_ns;           /* send time, by seq */
	size_t sent_cap;
	const uint8_t *pool;         /* pre-sealed MSG_SEND frames for seq 1..pool_n */
	size_t pool_n, stride;
	uint64_t live_sealed;
};

struct lg_conn {
	unsigned idx;
	char nick[16];
	int fd;
	enum lg_state state;
	struct event *rev, *wev;
	uint8_t *in;                 /* bytes read, not yet handled from in_off */
	size_t in_len, in_off, in_cap;
	struct buf out;              /* bytes to write, from out_off */
	size_t out_off;
	struct buf plain;            /* Crypto Cat: inner frames for the next record */
	bool dirty;
	struct lg_conn *dirty_next;
	struct chan *ch;
	uint32_t next_req, req_signkey, req_join;
	uint64_t *last_seq;          /* per sender: the last seq received */
	uint64_t last_msg_id, unacked;
	bool oper;
};

struct lg {
	struct lg_opts o;
	struct sockaddr_in addr;
	struct event_base *base;
	struct event *tick_ev, *pace_ev, *win_start_ev, *win_end_ev;
	struct lg_conn *conns;
	struct lg_sender *senders;
	struct lg_conn *dirty;
	enum lg_phase phase;
	unsigned next_open, pending, registered, joined, dead;
	unsigned workers;
	uint64_t t_setup, t_registered, t_created, t_joined;
	double pool_secs;
	size_t pool_total;

	/* Crypto Cat */
	struct crypto_rsa_key **keys;
	uint8_t (*fp)[CRYPTO_FINGERPRINT_LEN];
	uint8_t (*seed)[CRYPTO_ED25519_SEED_LEN];
	uint8_t (*spub)[CRYPTO_ED25519_PUB_LEN];
	uint8_t server_fp[CRYPTO_FINGERPRINT_LEN];
	bool have_server_fp;
	uint8_t room_id[PROTO_ROOM_ID_LEN];
	uint8_t room_secret[E2E_KEY_LEN];  /* the epoch's secret, as wrapped */
	uint8_t room_key[E2E_KEY_LEN];     /* the key messages are sealed with */
	uint32_t epoch;                    /* the room's epoch (one per member added) */
	uint32_t head_seq;                 /* the chain's head, named by every envelope */
	uint8_t head_hash[PROTO_HASH_LEN];
	uint32_t req_users, req_create;
	uint8_t *pool_mem;
	size_t pool_len;
	struct buf scratch_env, scratch_frame;

	/* the run */
	uint64_t t0;
	bool sending, in_window;
	uint64_t win_t0, win_t1, drain_deadline, t_drained;
	uint64_t srv_ticks0, srv_ticks1, self_ticks0, self_ticks1;
	bool srv_cpu_ok, self_cpu_ok;
	char load0[64], load1[64];
	uint64_t sent_total, sent_win;
	uint64_t deliv_total, deliv_win;
	uint64_t records_win, room_msgs_win;
	uint64_t verify_ctr, verified, verify_fail;
	uint64_t reordered, bad, run_errors, backlog;
	uint64_t lat_max_us;
	uint64_t *hist;
	uint64_t read_ns;            /* when the bytes being handled were read */
	struct event *timeline_ev;
	uint64_t tl_sent, tl_deliv, tl_max_us;
	char text[PROTO_TEXT_MAX + 64];
	uint8_t open_buf[PROTO_TEXT_MAX + 1];
	int exit_code;
};

static struct lg g;

/* ---- small helpers ----------------------------------------------------------- */

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NS + (uint64_t)ts.tv_nsec;
}

static double secs(uint64_t ns)
{
	return (double)ns / 1e9;
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;
	fputs("loadgen: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

/* A failure that ends the run: the loop stops and nothing is reported. */
static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void fail(const char *fmt, ...)
{
	va_list ap;
	if (g.exit_code)
		return;
	fputs("loadgen: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	g.exit_code = 1;
	g.phase = PH_DONE;
	event_base_loopbreak(g.base);
}

static int parse_secs(const char *s, double min, double max, double *out)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || *end || !(v >= min && v <= max))
		return -1;
	*out = v;
	return 0;
}

/* utime + stime of a process, in clock ticks, from /proc/PID/stat. */
static bool proc_cpu_ticks(long pid, uint64_t *ticks)
{
	char path[64], text[1024];
	unsigned long long ut, st;
	snprintf(path, sizeof path, "/proc/%ld/stat", pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return false;
	size_t n = fread(text, 1, sizeof text - 1, f);
	fclose(f);
	text[n] = '\0';
	/* The command name may hold spaces and parentheses: start after the last ')'. */
	char *p = strrchr(text, ')');
	if (!p || sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut,
			 &st) != 2)
		return false;
	*ticks = ut + st;
	return true;
}

static void loadavg(char *out, size_t n)
{
	FILE *f = fopen("/proc/loadavg", "r");
	out[0] = '\0';
	if (f) {
		if (fgets(out, (int)n, f)) {
			/* the three averages only */
			char *p = out;
			for (int spaces = 0; *p; p++)
				if (*p == ' ' && ++spaces == 3)
					break;
			*p = '\0';
		}
		fclose(f);
	}
}

/* Runs fn for every job in `workers` forked processes, job j in process
 * j % workers, and waits for them: key generation and pre-sealing are CPU
 * work the loop does not need to wait for one by one. 0 if all succeeded. */
typedef int (*lg_job_fn)(size_t job, void *ctx);

static int run_parallel(size_t njobs, unsigned workers, lg_job_fn fn, void *ctx)
{
	pid_t pids[LG_MAX_WORKERS];
	unsigned started = 0;
	int rc = 0;

	if (workers > njobs)
		workers = (unsigned)njobs;
	if (workers <= 1) {
		for (size_t j = 0; j < njobs; j++)
			if (fn(j, ctx))
				return -1;
		return 0;
	}
	fflush(stdout);
	fflush(stderr);
	pid_t parent = getpid();
	for (unsigned w = 0; w < workers; w++) {
		pid_t pid = fork();
		if (pid < 0) {
			rc = -1;
			break;
		}
		if (pid == 0) {
			/* A worker never outlives the generator (killed mid-run). */
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			if (getppid() != parent)
				_exit(1);
			for (size_t j = w; j < njobs; j += workers)
				if (fn(j, ctx))
					_exit(1);
			_exit(0);
		}
		pids[started++] = pid;
	}
	for (unsigned w = 0; w < started; w++) {
		int status;
		while (waitpid(pids[w], &status, 0) < 0 && errno == EINTR)
			;
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			rc = -1;
	}
	return rc;
}

/* ---- latency histogram: microseconds, about 0.1% precision -------------------- */

#define HIST_SUB_BITS 10
#define HIST_SUB (1u << HIST_SUB_BITS)
#define HIST_LEN (HIST_SUB * 40)

static size_t hist_index(uint64_t v)
{
	if (v < 2 * HIST_SUB)
		return (size_t)v;
	unsigned msb = 63u - (unsigned)__builtin_clzll(v);
	unsigned shift = msb - HIST_SUB_BITS;
	size_t idx = (size_t)HIST_SUB * (shift + 1) + (size_t)((v >> shift) - HIST_SUB);
	return idx < HIST_LEN ? idx : HIST_LEN - 1;
}

static uint64_t hist_value(size_t idx)
{
	if (idx < 2 * HIST_SUB)
		return idx;
	unsigned shift = (unsigned)(idx / HIST_SUB) - 1;
	uint64_t sub = idx % HIST_SUB + HIST_SUB;
	return (sub << shift) + ((1ull << shift) >> 1);
}

/* The value below which a fraction p of the samples fall, in ms. */
static double hist_pct(double p)
{
	uint64_t total = 0, cum = 0;
	for (size_t i = 0; i < HIST_LEN; i++)
		total += g.hist[i];
	if (!total)
		return 0;
	uint64_t want = (uint64_t)(p * (double)total);
	if (want < 1)
		want = 1;
	for (size_t i = 0; i < HIST_LEN; i++) {
		cum += g.hist[i];
		if (cum >= want)
			return (double)hist_value(i) / 1000.0;
	}
	return (double)g.lat_max_us / 1000.0;
}

/* One message reached one receiver, latency_ns after it was sent. */
static void account_delivery(uint64_t latency_ns)
{
	uint64_t us = latency_ns / 1000;
	g.deliv_total++;
	if (us > g.tl_max_us)
		g.tl_max_us = us;
	if (!g.in_window)
		return;
	g.deliv_win++;
	g.hist[hist_index(us)]++;
	if (us > g.lat_max_us)
		g.lat_max_us = us;
}

/* ---- connections: sockets and buffers ---------------------------------------- */

static void conn_flush(struct lg_conn *c);

static void mark_dirty(struct lg_conn *c)
{
	if (!c->dirty) {
		c->dirty = true;
		c->dirty_next = g.dirty;
		g.dirty = c;
	}
}

/* Every callback ends here: whatever was queued goes out in one write per
 * connection (and, for Crypto Cat, one record). */
static void flush_dirty(void)
{
	while (g.dirty) {
		struct lg_conn *c = g.dirty;
		g.dirty = c->dirty_next;
		c->dirty_next = NULL;
		c->dirty = false;
		conn_flush(c);
	}
}

static void conn_close(struct lg_conn *c)
{
	if (c->rev)
		event_free(c->rev);
	if (c->wev)
		event_free(c->wev);
	c->rev = c->wev = NULL;
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

/* During setup any failure ends the run; later a lost connection is counted. */
static void conn_fail(struct lg_conn *c, const char *why)
{
	if (c->state == ST_DEAD)
		return;
	bool setup = c->state != ST_JOINED;
	c->state = ST_DEAD;
	g.dead++;
	conn_close(c);
	if (setup || g.phase < PH_RUN)
		fail("%s: %s", c->nick, why);
	else if (g.dead <= 5)
		fprintf(stderr, "loadgen: %s lost during the run: %s\n", c->nick, why);
}

static void conn_write(struct lg_conn *c)
{
	while (c->out_off < c->out.len) {
		ssize_t n = send(c->fd, c->out.data + c->out_off, c->out.len - c->out_off,
				 MSG_NOSIGNAL);
		if (n > 0) {
			c->out_off += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			event_add(c->wev, NULL);
			return;
		}
		conn_fail(c, n < 0 ? strerror(errno) : "write failed");
		return;
	}
	/* Not buf_reset: nothing here is secret, and wiping costs a pass. */
	c->out.len = 0;
	c->out_off = 0;
}

static void conn_flush(struct lg_conn *c)
{
	if (c->state == ST_DEAD || c->state == ST_CONNECTING)
		return;
	if (c->plain.len && c->ch && chan_is_open(c->ch)) {
		cc_err err = chan_send(c->ch, c->plain.data, c->plain.len, &c->out);
		c->plain.len = 0;
		if (err) {
			conn_fail(c, cc_err_str(err));
			return;
		}
	}
	conn_write(c);
}

static void out_put(struct lg_conn *c, const void *p, size_t n)
{
	if (buf_put_bytes(&c->out, p, n))
		conn_fail(c, "output buffer full");
	mark_dirty(c);
}

static void out_printf(struct lg_conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void out_printf(struct lg_conn *c, const char *fmt, ...)
{
	char line[LG_IRC_LINE_MAX];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	if (n > 0)
		out_put(c, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
}

static void on_read(evutil_socket_t fd, short what, void *arg);
static void on_write(evutil_socket_t fd, short what, void *arg);
static void cc_on_connected(struct lg_conn *c);
static void irc_on_connected(struct lg_conn *c);

static void conn_connected(struct lg_conn *c)
{
	c->state = ST_HELLO;
	if (g.o.irc)
		irc_on_connected(c);
	else
		cc_on_connected(c);
}

static void conn_open(struct lg_conn *c)
{
	int one = 1;
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		fail("socket: %s", strerror(errno));
		return;
	}
	/* The server sets TCP_NODELAY on its side; the generator does the same
	 * for both servers unless told not to. */
	if (g.o.nodelay)
		setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	c->rev = event_new(g.base, c->fd, EV_READ | EV_PERSIST, on_read, c);
	c->wev = event_new(g.base, c->fd, EV_WRITE, on_write, c);
	if (!c->rev || !c->wev) {
		fail("out of memory");
		return;
	}
	event_add(c->rev, NULL);
	c->state = ST_CONNECTING;
	if (connect(c->fd, (const struct sockaddr *)&g.addr, sizeof g.addr) == 0) {
		conn_connected(c);
		return;
	}
	if (errno != EINPROGRESS) {
		conn_fail(c, strerror(errno));
		return;
	}
	event_add(c->wev, NULL);
}

/* Keeps at most --connect-batch connections registering at once. */
static void open_more(void)
{
	while (g.phase == PH_CONNECT && !g.exit_code && g.pending < g.o.connect_batch &&
	       g.next_open < g.o.clients) {
		g.pending++;
		conn_open(&g.conns[g.next_open++]);
	}
}

static void conn_registered(struct lg_conn *c)
{
	c->state = ST_READY;
	g.pending--;
	g.registered++;
	if (g.registered == g.o.clients)
		g.t_registered = now_ns();
	open_more();
}

static void cc_process(struct lg_conn *c);
static void irc_process(struct lg_conn *c);

static void on_read(evutil_socket_t fd, short what, void *arg)
{
	struct lg_conn *c = arg;
	(void)what;

	/* Room for a good read: drop what was handled, grow if a frame needs it. */
	if (c->in_off == c->in_len) {
		c->in_off = c->in_len = 0;
	} else if (c->in_cap - c->in_len < LG_READ_MIN && c->in_off) {
		memmove(c->in, c->in + c->in_off, c->in_len - c->in_off);
		c->in_len -= c->in_off;
		c->in_off = 0;
	}
	if (c->in_cap - c->in_len < LG_READ_MIN) {
		uint8_t *p = realloc(c->in, c->in_cap * 2);
		if (!p) {
			fail("out of memory");
			return;
		}
		c->in = p;
		c->in_cap *= 2;
	}
	ssize_t n = recv(fd, c->in + c->in_len, c->in_cap - c->in_len, 0);
	/* Everything in one read arrived together: one clock reading for all. */
	g.read_ns = now_ns();
	if (n == 0) {
		conn_fail(c, "closed by the server");
	} else if (n < 0) {
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			conn_fail(c, strerror(errno));
	} else {
		c->in_len += (size_t)n;
		if (g.o.irc)
			irc_process(c);
		else
			cc_process(c);
	}
	flush_dirty();
}

static void on_write(evutil_socket_t fd, short what, void *arg)
{
	struct lg_conn *c = arg;
	(void)what;
	if (c->state == ST_CONNECTING) {
		int err = 0;
		socklen_t len = sizeof err;
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
			err = errno;
		if (err) {
			conn_fail(c, strerror(err));
			return;
		}
		conn_connected(c);
	}
	conn_flush(c);
	flush_dirty();
}

/* ---- the run: sending, phases, timers ----------------------------------------- */

static void send_one(struct lg_sender *s);
static void irc_ping(struct lg_sender *s);

static bool sent_ns_room(struct lg_sender *s, uint64_t seq)
{
	if (seq < s->sent_cap)
		return true;
	size_t cap = s->sent_cap ? s->sent_cap * 2 : 4096;
	while (cap <= seq)
		cap *= 2;
	uint64_t *p = realloc(s->sent_ns, cap * sizeof *p);
	if (!p) {
		fail("out of memory");
		return false;
	}
	s->sent_ns = p;
	s->sent_cap = cap;
	return true;
}

/* Burst: top the sender's window up. */
static void sender_fill(struct lg_sender *s)
{
	unsigned n = 0;
	while (g.sending && s->c->state == ST_JOINED && s->sent - s->acked < g.o.window &&
	       !g.exit_code) {
		send_one(s);
		n++;
	}
	if (n && g.o.irc)
		irc_ping(s);
}

static void on_pace(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	if (!g.sending)
		return;
	/* Each sender sends rate/S messages a second, from t0 on. */
	double per = g.o.rate / g.o.senders;
	uint64_t due = (uint64_t)(secs(now_ns() - g.t0) * per) + 1;
	for (unsigned i = 0; i < g.o.senders; i++) {
		struct lg_sender *s = &g.senders[i];
		while (s->sent < due && s->c->state == ST_JOINED && !g.exit_code)
			send_one(s);
	}
	flush_dirty();
}

static uint64_t expected_deliveries(void)
{
	return g.sent_total * (g.o.clients - 1);
}

static void on_window_start(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	g.in_window = true;
	g.win_t0 = now_ns();
	g.srv_cpu_ok = g.o.server_pid > 0 && proc_cpu_ticks(g.o.server_pid, &g.srv_ticks0);
	g.self_cpu_ok = proc_cpu_ticks((long)getpid(), &g.self_ticks0);
	loadavg(g.load0, sizeof g.load0);
}

static void on_window_end(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	g.win_t1 = now_ns();
	g.in_window = false;
	g.sending = false;
	if (g.srv_cpu_ok)
		g.srv_cpu_ok = proc_cpu_ticks(g.o.server_pid, &g.srv_ticks1);
	if (g.self_cpu_ok)
		g.self_cpu_ok = proc_cpu_ticks((long)getpid(), &g.self_ticks1);
	loadavg(g.load1, sizeof g.load1);
	if (g.pace_ev)
		event_del(g.pace_ev);
	g.phase = PH_DRAIN;
	g.drain_deadline = g.win_t1 + (uint64_t)(g.o.drain * 1e9);
}

static void on_timeline(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	uint64_t now = now_ns();
	fprintf(stderr, "loadgen: t=%5.1f s  sent %6llu/s  delivered %8llu/s  worst latency %7.1f ms%s\n",
		secs(now - g.t0), (unsigned long long)(g.sent_total - g.tl_sent),
		(unsigned long long)(g.deliv_total - g.tl_deliv), (double)g.tl_max_us / 1000.0,
		g.in_window ? "" : "  (not measured)");
	g.tl_sent = g.sent_total;
	g.tl_deliv = g.deliv_total;
	g.tl_max_us = 0;
}

static void cc_build_pool(void);

static void run_start(void)
{
	g.t_joined = now_ns();
	if (!g.o.irc)
		cc_build_pool();
	if (g.exit_code)
		return;
	g.phase = PH_RUN;
	/* Sealing blocked the loop: timers must count from now, not from the
	 * time libevent cached before it. */
	event_base_update_cache_time(g.base);
	g.t0 = now_ns();
	g.sending = true;
	struct timeval w0 = {(time_t)g.o.warmup, (suseconds_t)((g.o.warmup - (double)(time_t)g.o.warmup) * 1e6)};
	double end = g.o.warmup + g.o.duration;
	struct timeval w1 = {(time_t)end, (suseconds_t)((end - (double)(time_t)end) * 1e6)};
	g.win_start_ev = evtimer_new(g.base, on_window_start, NULL);
	g.win_end_ev = evtimer_new(g.base, on_window_end, NULL);
	if (!g.win_start_ev || !g.win_end_ev) {
		fail("out of memory");
		return;
	}
	evtimer_add(g.win_start_ev, &w0);
	evtimer_add(g.win_end_ev, &w1);
	if (g.o.timeline) {
		struct timeval sec = {1, 0};
		g.timeline_ev = event_new(g.base, -1, EV_PERSIST, on_timeline, NULL);
		if (g.timeline_ev)
			event_add(g.timeline_ev, &sec);
	}
	if (g.o.burst) {
		for (unsigned i = 0; i < g.o.senders; i++)
			sender_fill(&g.senders[i]);
	} else {
		struct timeval ms = {0, 1000};
		g.pace_ev = event_new(g.base, -1, EV_PERSIST, on_pace, NULL);
		if (!g.pace_ev) {
			fail("out of memory");
			return;
		}
		event_add(g.pace_ev, &ms);
		on_pace(-1, 0, NULL);
	}
	flush_dirty();
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	uint64_t now = now_ns();
	if (g.phase < PH_RUN && now - g.t_setup > (uint64_t)(g.o.setup_timeout * 1e9)) {
		fail("setup took longer than %.0f s (registered %u, joined %u of %u)",
		     g.o.setup_timeout, g.registered, g.joined, g.o.clients);
		return;
	}
	if (g.phase == PH_DRAIN &&
	    (g.deliv_total >= expected_deliveries() || now >= g.drain_deadline)) {
		g.t_drained = now;
		g.phase = PH_DONE;
		event_base_loopbreak(g.base);
	}
}

/* ---- Crypto Cat ---------------------------------------------------------------- */

/* "SEQ TS " then 'x' up to size bytes: ASCII, so valid UTF-8. */
static void text_make(char *out, size_t size, uint64_t seq, uint64_t ts)
{
	char head[48];
	int n = snprintf(head, sizeof head, "%llu %llu ", (unsigned long long)seq,
			 (unsigned long long)ts);
	memset(out, 'x', size);
	memcpy(out, head, (size_t)n < size ? (size_t)n : size);
}

/* One MSG_SEND as an inner frame (u32 length, message), appended to out. */
static cc_err cc_seal_frame(unsigned si, uint64_t seq, uint64_t ts, char *text,
			    struct buf *env_buf, struct buf *out)
{
	struct proto_envelope env = {0};
	struct proto_msg m = {.type = PROTO_MSG_SEND};
	size_t start = out->len;
	uint8_t *hdr;
	cc_err err;

	text_make(text, g.o.size, seq, ts);
	env.version = PROTO_ENVELOPE_VERSION;
	memcpy(env.room_id, g.room_id, PROTO_ROOM_ID_LEN);
	env.epoch = g.epoch;
	env.sender = proto_bytes_str(g.conns[si].nick);
	env.seq = seq;
	env.time_ms = clock_now_ms();
	env.head_seq = g.head_seq;
	memcpy(env.head_hash, g.head_hash, PROTO_HASH_LEN);
	env_buf->len = 0;
	if ((err = e2e_message_seal(g.seed[si], g.room_key, &env, (const uint8_t *)text, g.o.size,
				    env_buf)))
		return err;
	/* The request id is the seq: SENT names the message it answers. */
	m.u.msg_send.request_id = (uint32_t)seq;
	m.u.msg_send.envelope = (struct proto_bytes){env_buf->data, env_buf->len};
	if ((err = buf_append_space(out, PROTO_FRAME_HEADER_LEN, &hdr)) ||
	    (err = proto_msg_encode(&m, out))) {
		out->len = start;
		return err;
	}
	store_be32(out->data + start, (uint32_t)(out->len - start - PROTO_FRAME_HEADER_LEN));
	return CC_OK;
}

struct pool_job {
	size_t *base;     /* per sender: offset of its first entry */
	size_t per;       /* entries per sender */
};

static int pool_seal_one(size_t job, void *ctx)
{
	struct pool_job *pj = ctx;
	unsigned si = (unsigned)(job / pj->per);
	uint64_t seq = job % pj->per + 1;
	struct lg_sender *s = &g.senders[si];

	g.scratch_frame.len = 0;
	if (cc_seal_frame(si, seq, now_ns(), g.text, &g.scratch_env, &g.scratch_frame) ||
	    g.scratch_frame.len != s->stride)
		return 1;
	memcpy(g.pool_mem + pj->base[si] + (seq - 1) * s->stride, g.scratch_frame.data, s->stride);
	return 0;
}

/* Seals each sender's envelopes for the run before it starts, in parallel,
 * so that sealing does not limit what the generator can send. */
static void cc_build_pool(void)
{
	size_t per;
	if (g.o.pool >= 0)
		per = (size_t)g.o.pool;
	else if (!g.o.burst)
		per = (size_t)(g.o.rate / g.o.senders * (g.o.warmup + g.o.duration) * 1.05) + 64;
	else  /* enough for 1500 messages/s per sender; more are sealed live */
		per = (size_t)((g.o.warmup + g.o.duration) * 1500);
	if (g.o.pool < 0 && per * g.o.senders > 150000)
		per = 150000 / g.o.senders;
	if (per == 0)
		return;
	size_t *base = calloc(g.o.senders, sizeof *base);
	if (!base) {
		fail("out of memory");
		return;
	}
	/* Every entry of a sender has the same size: seal one to learn it. */
	size_t total = 0;
	for (unsigned i = 0; i < g.o.senders; i++) {
		g.scratch_frame.len = 0;
		if (cc_seal_frame(i, 1, 0, g.text, &g.scratch_env, &g.scratch_frame)) {
			free(base);
			fail("cannot seal a message");
			return;
		}
		g.senders[i].stride = g.scratch_frame.len;
		base[i] = total;
		total += per * g.scratch_frame.len;
	}
	g.pool_mem = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (g.pool_mem == MAP_FAILED) {
		g.pool_mem = NULL;
		free(base);
		fail("cannot map %zu bytes for the pool", total);
		return;
	}
	g.pool_len = total;
	uint64_t t = now_ns();
	struct pool_job pj = {base, per};
	if (run_parallel(per * g.o.senders, g.workers, pool_seal_one, &pj)) {
		free(base);
		fail("sealing the pool failed");
		return;
	}
	g.pool_secs = secs(now_ns() - t);
	g.pool_total = per * g.o.senders;
	for (unsigned i = 0; i < g.o.senders; i++) {
		g.senders[i].pool = g.pool_mem + base[i];
		g.senders[i].pool_n = per;
	}
	free(base);
}

static void cc_queue_msg(struct lg_conn *c, const struct proto_msg *m)
{
	size_t start = c->plain.len;
	uint8_t *hdr;
	if (buf_append_space(&c->plain, PROTO_FRAME_HEADER_LEN, &hdr) ||
	    proto_msg_encode(m, &c->plain)) {
		c->plain.len = start;
		conn_fail(c, "cannot encode a message");
		return;
	}
	store_be32(c->plain.data + start, (uint32_t)(c->plain.len - start - PROTO_FRAME_HEADER_LEN));
	mark_dirty(c);
}

static uint32_t next_req(struct lg_conn *c)
{
	if (++c->next_req == 0)
		c->next_req = 1;
	/* Requests other than MSG_SEND get ids above any seq this run reaches. */
	return 0x80000000u | c->next_req;
}

static void cc_send_one(struct lg_sender *s)
{
	unsigned si = s->c->idx;
	uint64_t seq = s->sent + 1;
	uint64_t t = now_ns();

	if (!sent_ns_room(s, seq))
		return;
	if (seq <= s->pool_n) {
		if (buf_put_bytes(&s->c->plain, s->pool + (seq - 1) * s->stride, s->stride)) {
			conn_fail(s->c, "output buffer full");
			return;
		}
	} else {
		/* Past the pool: sealed now, with the send time in the text. */
		if (cc_seal_frame(si, seq, t, g.text, &g.scratch_env, &s->c->plain)) {
			conn_fail(s->c, "cannot seal a message");
			return;
		}
		s->live_sealed++;
	}
	s->sent_ns[seq] = t;
	s->sent = seq;
	g.sent_total++;
	if (g.in_window)
		g.sent_win++;
	mark_dirty(s->c);
}

static void cc_on_connected(struct lg_conn *c)
{
	cc_err err = chan_client_new(g.keys[c->idx], c->nick, PROTO_FRAME_MAX_DEFAULT, &c->ch);
	if (!err)
		err = chan_client_start(c->ch, &c->out);
	if (err) {
		conn_fail(c, cc_err_str(err));
		return;
	}
	mark_dirty(c);
}

static const struct crypto_rsa_key *lg_key_lookup(void *ctx,
						  const uint8_t fp[PROTO_FINGERPRINT_LEN])
{
	(void)ctx;
	for (unsigned i = 0; i < g.o.clients; i++)
		if (memcmp(g.fp[i], fp, PROTO_FINGERPRINT_LEN) == 0)
			return g.keys[i];
	return NULL;
}

/* bench0 asks for everyone else's directory entry. */
static void cc_create_ask(void)
{
	struct lg_conn *c = &g.conns[0];
	struct buf raw;
	struct proto_msg m = {.type = PROTO_USERS_GET};

	g.phase = PH_CREATE;
	buf_init(&raw, 64 * 1024);
	for (unsigned i = 1; i < g.o.clients; i++) {
		struct proto_nick_item item = {proto_bytes_str(g.conns[i].nick)};
		if (proto_item_encode(PROTO_ITEM_NICK, &item, &raw)) {
			buf_free(&raw);
			fail("cannot encode USERS_GET");
			return;
		}
	}
	m.u.users_get.request_id = g.req_users = next_req(c);
	m.u.users_get.nicks = (struct proto_list){(uint16_t)(g.o.clients - 1), {raw.data, raw.len}};
	cc_queue_msg(c, &m);
	buf_free(&raw);
}

/* As src/client/epochs.c does for /create: the records (CREATE, then one ADD
 * per member, each opening an epoch), the last epoch's secret wrapped to
 * every member; the epochs before it carry nothing, so their secrets are
 * thrown away. */
static void cc_create_room(const struct proto_users *users)
{
	struct lg_conn *c = &g.conns[0];
	struct proto_list_iter it;
	struct proto_user_item item;
	struct e2e_chain chain;
	struct buf records, keys, one, title;
	uint8_t commit[PROTO_HASH_LEN];
	const char *why = "";
	unsigned k = 1;
	cc_err err = CC_OK;

	/* The directory must give each member the key we know it has (our pin). */
	proto_list_iter_init(&it, &users->users, PROTO_ITEM_USER);
	while (proto_list_next(&it, &item) == CC_OK) {
		struct crypto_rsa_key *pub = NULL;
		uint8_t fp[CRYPTO_FINGERPRINT_LEN];
		if (k >= g.o.clients ||
		    crypto_rsa_public_from_der(item.identity_key.p, item.identity_key.len, &pub) ||
		    crypto_rsa_fingerprint(pub, fp) || memcmp(fp, g.fp[k], sizeof fp) != 0) {
			crypto_rsa_free(pub);
			fail("the server's directory gives bench%u another key", k);
			return;
		}
		crypto_rsa_free(pub);
		k++;
	}
	if (k != g.o.clients) {
		fail("the server's directory lists %u users, not %u", k - 1, g.o.clients - 1);
		return;
	}

	if ((err = crypto_random_bytes(g.room_id, sizeof g.room_id))) {
		fail("cannot make a room id: %s", cc_err_str(err));
		return;
	}
	buf_init(&records, 1024 * 1024);
	buf_init(&keys, 1024 * 1024);
	buf_init(&one, PROTO_RECORD_MAX);
	buf_init(&title, PROTO_TITLE_CT_MAX);
	e2e_chain_init(&chain, g.room_id);
	for (unsigned i = 0; i < g.o.clients; i++) {
		uint8_t spare[E2E_KEY_LEN];
		uint8_t *secret = i + 1 == g.o.clients ? g.room_secret : spare;
		if ((err = e2e_epoch_secret_new(secret)))
			goto out;
		e2e_key_commit(g.room_id, i, secret, commit);
		struct proto_record rec = {0};
		rec.version = PROTO_RECORD_VERSION;
		memcpy(rec.room_id, g.room_id, PROTO_ROOM_ID_LEN);
		rec.seq = chain.count;
		if (chain.count)
			memcpy(rec.prev_hash, chain.last_hash, PROTO_HASH_LEN);
		rec.action = i == 0 ? PROTO_REC_CREATE : PROTO_REC_ADD;
		rec.actor = proto_bytes_str(g.conns[0].nick);
		memcpy(rec.actor_fp, g.fp[0], PROTO_FINGERPRINT_LEN);
		rec.subject = proto_bytes_str(g.conns[i].nick);
		memcpy(rec.subject_fp, g.fp[i], PROTO_FINGERPRINT_LEN);
		rec.epoch = i;
		memcpy(rec.key_commit, commit, PROTO_HASH_LEN);
		rec.time_ms = clock_now_ms();
		one.len = 0;
		if ((err = e2e_record_sign(g.keys[0], &rec, &one)) ||
		    (err = e2e_chain_apply(&chain, one.data, one.len, lg_key_lookup, NULL, &why)))
			goto out;
		struct proto_blob_item blob = {{one.data, one.len}};
		if ((err = proto_item_encode(PROTO_ITEM_BLOB, &blob, &records)))
			goto out;
	}
	g.epoch = chain.epoch;
	g.head_seq = chain.count - 1;
	memcpy(g.head_hash, chain.last_hash, PROTO_HASH_LEN);
	if ((err = e2e_epoch_key(g.room_secret, g.room_id, g.epoch,
				 chain.epochs[g.epoch].open_hash, g.room_key)))
		goto out;
	for (unsigned i = 0; i < g.o.clients; i++) {
		struct proto_wrapped_item w;
		one.len = 0;
		if ((err = e2e_key_wrap(g.keys[i], g.room_id, g.epoch, g.room_secret, &one)))
			goto out;
		w.nick = proto_bytes_str(g.conns[i].nick);
		w.epoch = g.epoch;
		w.wrapped = (struct proto_bytes){one.data, one.len};
		if ((err = proto_item_encode(PROTO_ITEM_WRAPPED, &w, &keys)))
			goto out;
	}
	if ((err = e2e_title_seal(g.room_key, g.room_id, g.epoch, "bench", &title)))
		goto out;
	struct proto_msg m = {.type = PROTO_ROOM_CREATE};
	m.u.room_create.request_id = g.req_create = next_req(c);
	memcpy(m.u.room_create.room_id, g.room_id, PROTO_ROOM_ID_LEN);
	m.u.room_create.title_ct = (struct proto_bytes){title.data, title.len};
	m.u.room_create.records = (struct proto_list){(uint16_t)g.o.clients, {records.data, records.len}};
	m.u.room_create.keys = (struct proto_list){(uint16_t)g.o.clients, {keys.data, keys.len}};
	cc_queue_msg(c, &m);
out:
	if (err)
		fail("cannot make the room: %s%s%s", cc_err_str(err), *why ? ": " : "", why);
	e2e_chain_free(&chain);
	buf_free(&records);
	buf_free(&keys);
	buf_free(&one);
	buf_free(&title);
}

static void cc_join_all(void)
{
	g.phase = PH_JOIN;
	g.t_created = now_ns();
	for (unsigned i = 0; i < g.o.clients; i++) {
		struct lg_conn *c = &g.conns[i];
		struct proto_msg m = {.type = PROTO_ROOM_JOIN};
		m.u.room_ref.request_id = c->req_join = next_req(c);
		memcpy(m.u.room_ref.room_id, g.room_id, PROTO_ROOM_ID_LEN);
		c->state = ST_JOINING;
		cc_queue_msg(c, &m);
	}
}

/* Our key must unwrap from the state and be the one the room was made with. */
static void cc_on_room_state(struct lg_conn *c, const struct proto_room_state *st)
{
	struct proto_list_iter it;
	struct proto_wrapped_item w;
	uint8_t key[E2E_KEY_LEN];
	bool ok = false;

	proto_list_iter_init(&it, &st->keys, PROTO_ITEM_WRAPPED);
	while (!ok && proto_list_next(&it, &w) == CC_OK) {
		if (w.epoch != g.epoch)
			continue;
		ok = e2e_key_unwrap(g.keys[c->idx], st->room_id, g.epoch, w.wrapped.p,
				    w.wrapped.len, key) == CC_OK &&
		     crypto_ct_equal(key, g.room_secret, sizeof key);
		mem_wipe(key, sizeof key);
	}
	g.backlog += st->backlog;
	if (!ok)
		conn_fail(c, "no usable room key in ROOM_STATE");
}

/* The envelope's plaintext header up to seq: all a receiver needs to know who
 * sent what. The sampled deliveries get the full decode and verification. */
static bool cc_envelope_head(const struct proto_bytes *e, unsigned *si, uint64_t *seq)
{
	/* version, room id, epoch, then the sender's nickname and seq */
	const size_t fixed = 1 + PROTO_ROOM_ID_LEN + 4;
	if (e->len < fixed + 2 || e->p[0] != PROTO_ENVELOPE_VERSION ||
	    memcmp(e->p + 1, g.room_id, PROTO_ROOM_ID_LEN) != 0)
		return false;
	size_t nick_len = load_be16(e->p + fixed);
	const uint8_t *nick = e->p + fixed + 2;
	if (nick_len < 6 || nick_len > PROTO_NICK_MAX || e->len < fixed + 2 + nick_len + 8 ||
	    memcmp(nick, "bench", 5) != 0)
		return false;
	unsigned v = 0;
	for (size_t i = 5; i < nick_len; i++) {
		if (nick[i] < '0' || nick[i] > '9')
			return false;
		v = v * 10 + (unsigned)(nick[i] - '0');
	}
	*si = v;
	*seq = load_be64(nick + nick_len);
	return true;
}

static void cc_verify(const struct lg_sender *s, const struct proto_bytes *e)
{
	struct proto_envelope env;
	size_t len = 0;
	unsigned long long seq = 0, ts = 0;
	g.verified++;
	if (proto_envelope_decode(e->p, e->len, &env) != CC_OK ||
	    e2e_message_open(g.spub[s->c->idx], g.room_key, &env, g.open_buf, &len) != CC_OK ||
	    len != g.o.size) {
		g.verify_fail++;
		return;
	}
	g.open_buf[len] = '\0';
	/* The text names its seq; sealed while sending, also its send time. */
	int n = sscanf((const char *)g.open_buf, "%llu %llu", &seq, &ts);
	if (g.o.size >= 42 && (n != 2 || seq != env.seq ||
			       (env.seq > s->pool_n && ts != s->sent_ns[env.seq])))
		g.verify_fail++;
}

static void cc_on_room_msg(struct lg_conn *c, const struct proto_room_msg *rm)
{
	unsigned si;
	uint64_t seq;

	if (g.in_window)
		g.room_msgs_win++;
	struct lg_sender *s = NULL;
	if (cc_envelope_head(&rm->envelope, &si, &seq) && si < g.o.senders)
		s = &g.senders[si];
	if (!s || seq == 0 || seq > s->sent) {
		g.bad++;
		return;
	}
	if (seq <= c->last_seq[si])
		g.reordered++;
	else
		c->last_seq[si] = seq;
	account_delivery(g.read_ns - s->sent_ns[seq]);
	if (g.o.verify_every && ++g.verify_ctr % g.o.verify_every == 0)
		cc_verify(s, &rm->envelope);
	/* As the client: acknowledge what was handled every ack_every messages. */
	c->last_msg_id = rm->msg_id;
	if (g.o.ack_every && ++c->unacked >= g.o.ack_every) {
		struct proto_msg m = {.type = PROTO_ROOM_READ};
		memcpy(m.u.room_read.room_id, g.room_id, PROTO_ROOM_ID_LEN);
		m.u.room_read.msg_id = c->last_msg_id;
		c->unacked = 0;
		cc_queue_msg(c, &m);
	}
}

static void cc_on_server_key(struct lg_conn *c)
{
	/* Pinned on first sight: every connection must meet the same server. */
	const uint8_t *fp = chan_peer_fingerprint(c->ch);
	if (!g.have_server_fp) {
		memcpy(g.server_fp, fp, sizeof g.server_fp);
		g.have_server_fp = true;
	} else if (memcmp(g.server_fp, fp, sizeof g.server_fp) != 0) {
		conn_fail(c, "the server's key changed between connections");
		return;
	}
	cc_err err = chan_client_continue(c->ch, &c->out);
	if (err) {
		conn_fail(c, cc_err_str(err));
		return;
	}
	c->state = ST_KEY;
	mark_dirty(c);
}

static void cc_on_welcome(struct lg_conn *c, const struct proto_welcome *w)
{
	struct buf cert;
	struct proto_msg m = {.type = PROTO_SIGNING_KEY};

	if (memcmp(w->fingerprint, g.fp[c->idx], CRYPTO_FINGERPRINT_LEN) != 0) {
		conn_fail(c, "WELCOME names another key");
		return;
	}
	chan_set_send_cap(c->ch, w->max_frame);
	buf_init(&cert, PROTO_SIGN_CERT_MAX);
	if (e2e_signing_cert_make(g.keys[c->idx], 1, g.spub[c->idx], &cert)) {
		buf_free(&cert);
		conn_fail(c, "cannot certify the signing key");
		return;
	}
	m.u.signing_key.request_id = c->req_signkey = next_req(c);
	m.u.signing_key.version = 1;
	memcpy(m.u.signing_key.sign_pub, g.spub[c->idx], PROTO_SIGN_PUB_LEN);
	m.u.signing_key.sign_cert = (struct proto_bytes){cert.data, cert.len};
	c->state = ST_SIGNKEY;
	cc_queue_msg(c, &m);
	buf_free(&cert);
}

static void cc_on_error(struct lg_conn *c, const struct proto_error *e)
{
	char text[PROTO_ERROR_TEXT_MAX + 1];
	memcpy(text, e->text.p, e->text.len);
	text[e->text.len] = '\0';
	if (c->state == ST_JOINED) {
		/* An answer to a MSG_SEND: that message is done with. */
		if (c->idx < g.o.senders && e->request_id && !(e->request_id & 0x80000000u)) {
			g.senders[c->idx].acked++;
			if (g.o.burst)
				sender_fill(&g.senders[c->idx]);
		}
		if (++g.run_errors <= 5)
			fprintf(stderr, "loadgen: %s: server error %u: %s\n", c->nick, e->code, text);
		return;
	}
	char why[PROTO_ERROR_TEXT_MAX + 64];
	snprintf(why, sizeof why, "server error %u: %s", e->code, text);
	conn_fail(c, why);
}

static void cc_on_message(struct lg_conn *c, const uint8_t *body, size_t len)
{
	struct proto_msg m;
	cc_err err = proto_msg_decode(body, len, &m);
	if (err) {
		conn_fail(c, cc_err_str(err));
		return;
	}
	switch (m.type) {
	case PROTO_ROOM_MSG:
		cc_on_room_msg(c, &m.u.room_msg);
		return;
	case PROTO_SENT:
		if (c->idx < g.o.senders) {
			g.senders[c->idx].acked++;
			if (g.o.burst)
				sender_fill(&g.senders[c->idx]);
		}
		return;
	case PROTO_WELCOME:
		cc_on_welcome(c, &m.u.welcome);
		return;
	case PROTO_OK:
		if (c->state == ST_SIGNKEY && m.u.request.request_id == c->req_signkey) {
			conn_registered(c);
			if (g.registered == g.o.clients)
				cc_create_ask();
		} else if (c->idx == 0 && m.u.request.request_id == g.req_create) {
			cc_join_all();
		}
		return;
	case PROTO_USERS:
		if (c->idx == 0 && m.u.users.request_id == g.req_users)
			cc_create_room(&m.u.users);
		return;
	case PROTO_ROOM_STATE:
		cc_on_room_state(c, &m.u.room_state);
		return;
	case PROTO_JOIN_DONE:
		if (c->state == ST_JOINING && m.u.room_ref.request_id == c->req_join) {
			c->state = ST_JOINED;
			if (++g.joined == g.o.clients)
				run_start();
		}
		return;
	case PROTO_PING: {
		struct proto_msg pong = {.type = PROTO_PONG};
		pong.u.ping.token = m.u.ping.token;
		cc_queue_msg(c, &pong);
		return;
	}
	case PROTO_ERROR:
		cc_on_error(c, &m.u.error);
		return;
	default:
		return;  /* ROOM_RECORD, REKEY_OWED, PONG: nothing to do */
	}
}

static void cc_process(struct lg_conn *c)
{
	while (c->state != ST_DEAD && !g.exit_code && c->in_len - c->in_off >= PROTO_FRAME_HEADER_LEN) {
		size_t body;
		cc_err err = proto_frame_header(c->in + c->in_off, chan_frame_cap(c->ch), &body);
		if (err) {
			conn_fail(c, cc_err_str(err));
			return;
		}
		size_t need = PROTO_FRAME_HEADER_LEN + body;
		if (c->in_len - c->in_off < need) {
			/* A frame larger than the buffer: make room for all of it. */
			if (need > c->in_cap - c->in_off) {
				memmove(c->in, c->in + c->in_off, c->in_len - c->in_off);
				c->in_len -= c->in_off;
				c->in_off = 0;
				if (need + LG_READ_MIN > c->in_cap) {
					uint8_t *p = realloc(c->in, need + LG_READ_MIN);
					if (!p) {
						fail("out of memory");
						return;
					}
					c->in = p;
					c->in_cap = need + LG_READ_MIN;
				}
			}
			return;
		}
		enum chan_event ev;
		size_t before = c->out.len;
		err = chan_recv_frame(c->ch, c->in + c->in_off, need, &c->out, &ev);
		c->in_off += need;
		if (c->out.len != before)
			mark_dirty(c);
		if (err) {
			char why[PROTO_ERROR_TEXT_MAX + 64];
			snprintf(why, sizeof why, "%s %s", cc_err_str(err), chan_peer_error_text(c->ch));
			conn_fail(c, why);
			return;
		}
		if (ev == CHAN_EVENT_SERVER_KEY) {
			cc_on_server_key(c);
		} else if (ev == CHAN_EVENT_DATA) {
			const uint8_t *b;
			size_t n;
			if (g.in_window)
				g.records_win++;
			while (c->state != ST_DEAD && (err = chan_pop_frame(c->ch, &b, &n)) == CC_OK)
				cc_on_message(c, b, n);
			if (c->state != ST_DEAD && err != CC_ERR_TRUNCATED) {
				conn_fail(c, cc_err_str(err));
				return;
			}
		}
	}
}

/* ---- IRC -------------------------------------------------------------------------- */

static void irc_on_connected(struct lg_conn *c)
{
	out_printf(c, "NICK %s\r\nUSER %s 0 * :bench\r\n", c->nick, c->nick);
}

/* A message of size bytes goes as ceil(size / 400) PRIVMSGs, each text
 * "SENDER SEQ TS PART/PARTS " and padding; the last part completes it. */
static void irc_send_one(struct lg_sender *s)
{
	uint64_t seq = s->sent + 1;
	uint64_t t = now_ns();
	unsigned parts = (g.o.size + LG_IRC_PART_MAX - 1) / LG_IRC_PART_MAX;
	size_t left = g.o.size;

	if (parts == 0)
		parts = 1;
	for (unsigned p = 0; p < parts; p++) {
		char line[LG_IRC_PART_MAX + 128];
		size_t want = left < LG_IRC_PART_MAX ? left : LG_IRC_PART_MAX;
		int n = snprintf(line, sizeof line, "PRIVMSG " LG_CHANNEL " :%u %llu %llu %u/%u ",
				 s->c->idx, (unsigned long long)seq, (unsigned long long)t, p, parts);
		size_t head = (size_t)n - (sizeof "PRIVMSG " LG_CHANNEL " :" - 1);
		size_t pad = want > head ? want - head : 0;
		memset(line + n, 'x', pad);
		memcpy(line + n + pad, "\r\n", 2);
		out_put(s->c, line, (size_t)n + pad + 2);
		left -= want;
	}
	s->sent = seq;
	g.sent_total++;
	if (g.in_window)
		g.sent_win++;
}

static void irc_ping(struct lg_sender *s)
{
	out_printf(s->c, "PING :%llu\r\n", (unsigned long long)s->sent);
}

static bool take_u64(const char **p, const char *end, uint64_t *v)
{
	const char *q = *p;
	uint64_t x = 0;
	while (q < end && *q == ' ')
		q++;
	if (q == end || *q < '0' || *q > '9')
		return false;
	while (q < end && *q >= '0' && *q <= '9')
		x = x * 10 + (uint64_t)(*q++ - '0');
	*p = q;
	*v = x;
	return true;
}

static void irc_on_privmsg(struct lg_conn *c, const char *text, size_t len)
{
	const char *p = text, *end = text + len;
	uint64_t si, seq, ts, part, parts;

	if (!take_u64(&p, end, &si) || !take_u64(&p, end, &seq) || !take_u64(&p, end, &ts) ||
	    !take_u64(&p, end, &part) || p == end || *p++ != '/' || !take_u64(&p, end, &parts) ||
	    si >= g.o.senders) {
		g.bad++;
		return;
	}
	if (part + 1 < parts)
		return;  /* the last part completes the message */
	if (g.in_window)
		g.room_msgs_win++;
	if (seq <= c->last_seq[si])
		g.reordered++;
	else
		c->last_seq[si] = seq;
	account_delivery(g.read_ns > ts ? g.read_ns - ts : 0);
}

/* One line, without its CR LF. */
static void irc_on_line(struct lg_conn *c, const char *line, size_t len)
{
	if (len >= 5 && memcmp(line, "PING ", 5) == 0) {
		out_printf(c, "PONG %.*s\r\n", (int)(len - 5), line + 5);
		return;
	}
	if (len >= 6 && memcmp(line, "ERROR ", 6) == 0) {
		char why[600];
		snprintf(why, sizeof why, "%.*s", (int)(len < 500 ? len : 500), line);
		conn_fail(c, why);
		return;
	}
	if (len == 0 || line[0] != ':')
		return;
	const char *end = line + len;
	const char *cmd = memchr(line, ' ', len);
	if (!cmd)
		return;
	cmd++;
	const char *cmd_end = memchr(cmd, ' ', (size_t)(end - cmd));
	if (!cmd_end)
		return;
	size_t cmd_len = (size_t)(cmd_end - cmd);

	if (cmd_len == 7 && memcmp(cmd, "PRIVMSG", 7) == 0) {
		const char *colon = memchr(cmd_end, ':', (size_t)(end - cmd_end));
		if (colon)
			irc_on_privmsg(c, colon + 1, (size_t)(end - colon - 1));
		return;
	}
	if (cmd_len == 4 && memcmp(cmd, "PONG", 4) == 0) {
		const char *colon = memchr(cmd_end, ':', (size_t)(end - cmd_end));
		uint64_t token;
		const char *p = colon ? colon + 1 : end;
		if (c->idx < g.o.senders && take_u64(&p, end, &token)) {
			struct lg_sender *s = &g.senders[c->idx];
			if (token > s->acked && token <= s->sent)
				s->acked = token;
			if (g.o.burst)
				sender_fill(s);
		}
		return;
	}
	if (cmd_len != 3)
		return;
	if (memcmp(cmd, "001", 3) == 0 && c->state == ST_HELLO) {
		conn_registered(c);
		/* Senders lift ngircd's flood limits (bench/README.md), then all join. */
		if (c->idx < g.o.senders)
			out_printf(c, "OPER bench benchpw\r\nMODE %s +F\r\n", c->nick);
		out_printf(c, "JOIN " LG_CHANNEL "\r\n");
		c->state = ST_JOINING;
	} else if (memcmp(cmd, "366", 3) == 0 && c->state == ST_JOINING) {
		c->state = ST_JOINED;
		if (++g.joined == g.o.clients) {
			g.phase = PH_JOIN;
			run_start();
		}
	} else if (memcmp(cmd, "381", 3) == 0) {
		c->oper = true;
	} else if (cmd[0] == '4' || cmd[0] == '5') {
		char why[600];
		snprintf(why, sizeof why, "%.*s", (int)(len < 500 ? len : 500), line);
		if (c->state != ST_JOINED)
			conn_fail(c, why);
		else if (++g.run_errors <= 5)
			fprintf(stderr, "loadgen: %s: %s\n", c->nick, why);
	}
}

static void irc_process(struct lg_conn *c)
{
	while (c->state != ST_DEAD && !g.exit_code) {
		const uint8_t *p = c->in + c->in_off;
		size_t avail = c->in_len - c->in_off;
		const uint8_t *nl = memchr(p, '\n', avail);
		if (!nl) {
			if (avail > LG_IRC_LINE_MAX)
				conn_fail(c, "line too long");
			return;
		}
		size_t len = (size_t)(nl - p);
		c->in_off += len + 1;
		if (len && p[len - 1] == '\r')
			len--;
		irc_on_line(c, (const char *)p, len);
	}
}

static void send_one(struct lg_sender *s)
{
	if (g.o.irc)
		irc_send_one(s);
	else
		cc_send_one(s);
}

/* ---- set-up: keys ----------------------------------------------------------------- */

static void key_path(unsigned i, char *out, size_t n)
{
	snprintf(out, n, "%s/bench%u.pem", g.o.keys, i);
}

static int key_make_one(size_t job, void *ctx)
{
	const unsigned *missing = ctx;
	struct crypto_rsa_key *key = NULL;
	char path[1100];
	key_path(missing[job], path, sizeof path);
	int rc = crypto_rsa_generate(2048, &key) || crypto_rsa_save_private_file(key, path);
	crypto_rsa_free(key);
	return rc;
}

/* Loads bench0..N-1's identity keys, making the missing ones (in parallel). */
static void keys_prepare(void)
{
	char path[1100];
	unsigned n = g.o.clients, nmissing = 0;
	unsigned *missing = calloc(n, sizeof *missing);

	g.keys = calloc(n, sizeof *g.keys);
	g.fp = calloc(n, sizeof *g.fp);
	g.seed = calloc(n, sizeof *g.seed);
	g.spub = calloc(n, sizeof *g.spub);
	if (!missing || !g.keys || !g.fp || !g.seed || !g.spub)
		die("out of memory");
	if (mkdir(g.o.keys, 0700) != 0 && errno != EEXIST)
		die("cannot create %s: %s", g.o.keys, strerror(errno));
	for (unsigned i = 0; i < n; i++) {
		key_path(i, path, sizeof path);
		if (access(path, R_OK) != 0)
			missing[nmissing++] = i;
	}
	if (nmissing) {
		uint64_t t = now_ns();
		fprintf(stderr, "loadgen: making %u RSA-2048 identity keys in %s (kept for later runs)\n",
			nmissing, g.o.keys);
		if (run_parallel(nmissing, g.workers, key_make_one, missing))
			die("cannot make the keys in %s", g.o.keys);
		fprintf(stderr, "loadgen: keys made in %.1f s\n", secs(now_ns() - t));
	}
	free(missing);
	for (unsigned i = 0; i < n; i++) {
		key_path(i, path, sizeof path);
		if (crypto_rsa_load_private_file(path, &g.keys[i]) ||
		    crypto_rsa_fingerprint(g.keys[i], g.fp[i]) ||
		    e2e_signing_key_derive(g.keys[i], g.seed[i], g.spub[i]))
			die("cannot load the key %s", path);
	}
}

/* ---- report ------------------------------------------------------------------------ */

static void report(void)
{
	const struct lg_opts *o = &g.o;
	double win = secs(g.win_t1 - g.win_t0);
	double mps = win > 0 ? (double)g.sent_win / win : 0;
	double dps = win > 0 ? (double)g.deliv_win / win : 0;
	double p50 = hist_pct(0.50), p90 = hist_pct(0.90), p99 = hist_pct(0.99);
	double pmax = (double)g.lat_max_us / 1000.0;
	long hz = sysconf(_SC_CLK_TCK);
	double srv_cpu = g.srv_cpu_ok && win > 0 ? (double)(g.srv_ticks1 - g.srv_ticks0) / (double)hz / win * 100 : -1;
	double gen_cpu = g.self_cpu_ok && win > 0 ? (double)(g.self_ticks1 - g.self_ticks0) / (double)hz / win * 100 : -1;
	uint64_t expected = expected_deliveries();
	uint64_t lost = expected > g.deliv_total ? expected - g.deliv_total : 0;
	uint64_t live = 0;
	for (unsigned i = 0; i < o->senders; i++)
		live += g.senders[i].live_sealed;
	char mode[48];
	if (o->burst)
		snprintf(mode, sizeof mode, "burst/w%u", o->window);
	else
		snprintf(mode, sizeof mode, "rate/%.0f", o->rate);
	const char *proto = o->irc ? "irc" : "cryptocat";
	double per_rec = g.records_win ? (double)g.room_msgs_win / (double)g.records_win : 0;
	char srv[32], gen[32];
	if (srv_cpu >= 0)
		snprintf(srv, sizeof srv, "%.1f %%", srv_cpu);
	else
		snprintf(srv, sizeof srv, "n/a");
	if (gen_cpu >= 0)
		snprintf(gen, sizeof gen, "%.1f %%", gen_cpu);
	else
		snprintf(gen, sizeof gen, "n/a");

	printf("\n%s %s:%u: %u clients, %u senders, %u-byte messages, %s\n", proto, o->host,
	       o->port, o->clients, o->senders, o->size, mode);
	if (o->irc) {
		unsigned opers = 0;
		for (unsigned i = 0; i < o->senders; i++)
			opers += g.conns[i].oper;
		printf("  set-up        %u registered and joined in %.1f s; %u of %u senders are "
		       "operators (+F)\n",
		       o->clients, secs(g.t_joined - g.t_setup), opers, o->senders);
	}
	else
		printf("  set-up        handshakes %.1f s, room of %u made %.1f s, all joined %.1f s\n",
		       secs(g.t_registered - g.t_setup), o->clients,
		       secs(g.t_created - g.t_registered), secs(g.t_joined - g.t_created));
	if (g.pool_total)
		printf("  pre-sealed    %zu envelopes in %.1f s (%u processes); %llu sealed while "
		       "sending\n",
		       g.pool_total, g.pool_secs, g.workers, (unsigned long long)live);
	else if (!o->irc)
		printf("  sealing       every envelope sealed while sending\n");
	printf("  measured      %.2f s after %.1f s of warm-up (load average %s -> %s)\n", win,
	       o->warmup, g.load0, g.load1);
	printf("  sent          %llu messages (%.0f/s)\n", (unsigned long long)g.sent_win, mps);
	printf("  delivered     %llu (%.0f deliveries/s)\n", (unsigned long long)g.deliv_win, dps);
	printf("  latency       p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, max %.2f ms\n", p50, p90,
	       p99, pmax);
	printf("  CPU           server %s, generator %s (100 %% = one core)\n", srv, gen);
	if (!o->irc)
		printf("  verified      %llu sampled envelopes (1 in %u), %llu failures\n",
		       (unsigned long long)g.verified, o->verify_every,
		       (unsigned long long)g.verify_fail);
	printf("  checks        %llu out of order, %llu malformed, %llu lost of %llu, %llu errors, "
	       "%u connections dropped\n",
	       (unsigned long long)g.reordered, (unsigned long long)g.bad,
	       (unsigned long long)lost, (unsigned long long)expected,
	       (unsigned long long)g.run_errors, g.dead);
	if (!o->irc)
		printf("  batching      %.1f ROOM_MSGs per record received (records a receiver "
		       "got: %.0f/s)\n",
		       per_rec, win > 0 ? (double)g.records_win / win / o->clients : 0);
	printf("RESULT label=%s proto=%s clients=%u senders=%u size=%u mode=%s secs=%.2f "
	       "sent=%llu msgs_per_s=%.0f deliveries=%llu deliveries_per_s=%.0f p50_ms=%.2f "
	       "p90_ms=%.2f p99_ms=%.2f max_ms=%.2f server_cpu=%.1f gen_cpu=%.1f verified=%llu "
	       "verify_failures=%llu reordered=%llu malformed=%llu lost=%llu errors=%llu "
	       "dropped=%u presealed=%zu live_sealed=%llu msgs_per_record=%.1f\n",
	       *o->label ? o->label : "-", proto, o->clients, o->senders, o->size, mode, win,
	       (unsigned long long)g.sent_win, mps, (unsigned long long)g.deliv_win, dps, p50, p90,
	       p99, pmax, srv_cpu, gen_cpu, (unsigned long long)g.verified,
	       (unsigned long long)g.verify_fail, (unsigned long long)g.reordered,
	       (unsigned long long)g.bad, (unsigned long long)lost,
	       (unsigned long long)g.run_errors, g.dead, g.pool_total, (unsigned long long)live,
	       per_rec);
	fflush(stdout);
	if (g.verify_fail || g.reordered || g.bad || lost || g.dead)
		g.exit_code = 2;
}

/* ---- main ---------------------------------------------------------------------------- */

static void parse_args(int argc, char **argv)
{
	enum { O_IRC = 1, O_HOST, O_PORT, O_CLIENTS, O_SENDERS, O_SIZE, O_BURST, O_WINDOW,
	       O_RATE, O_DURATION, O_WARMUP, O_DRAIN, O_KEYS, O_POOL, O_VERIFY, O_ACK, O_PID,
	       O_BATCH, O_NONODELAY, O_TIMELINE, O_SETUP, O_LABEL, O_HELP };
	static const struct option options[] = {
		{"irc", no_argument, NULL, O_IRC},
		{"host", required_argument, NULL, O_HOST},
		{"port", required_argument, NULL, O_PORT},
		{"clients", required_argument, NULL, O_CLIENTS},
		{"senders", required_argument, NULL, O_SENDERS},
		{"size", required_argument, NULL, O_SIZE},
		{"burst", no_argument, NULL, O_BURST},
		{"window", required_argument, NULL, O_WINDOW},
		{"rate", required_argument, NULL, O_RATE},
		{"duration", required_argument, NULL, O_DURATION},
		{"warmup", required_argument, NULL, O_WARMUP},
		{"drain", required_argument, NULL, O_DRAIN},
		{"keys", required_argument, NULL, O_KEYS},
		{"pool", required_argument, NULL, O_POOL},
		{"verify-every", required_argument, NULL, O_VERIFY},
		{"ack-every", required_argument, NULL, O_ACK},
		{"server-pid", required_argument, NULL, O_PID},
		{"connect-batch", required_argument, NULL, O_BATCH},
		{"no-nodelay", no_argument, NULL, O_NONODELAY},
		{"timeline", no_argument, NULL, O_TIMELINE},
		{"setup-timeout", required_argument, NULL, O_SETUP},
		{"label", required_argument, NULL, O_LABEL},
		{"help", no_argument, NULL, O_HELP},
		{NULL, 0, NULL, 0},
	};
	struct lg_opts *o = &g.o;
	unsigned long long v;
	int opt, idx = 0, port_set = 0, batch_set = 0;

	snprintf(o->host, sizeof o->host, "127.0.0.1");
	o->clients = 200;
	o->senders = 10;
	o->size = 100;
	o->burst = true;
	o->window = 32;
	o->duration = 5;
	o->warmup = 1;
	o->drain = 10;
	o->setup_timeout = 300;
	snprintf(o->keys, sizeof o->keys, "/tmp/cryptocat-bench-keys");
	o->pool = -1;
	o->verify_every = 1000;
	o->ack_every = 64;
	o->nodelay = true;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "", options, &idx)) != -1) {
		switch (opt) {
		case O_IRC:
			o->irc = true;
			break;
		case O_HOST:
			if (strlen(optarg) >= sizeof o->host)
				goto bad;
			snprintf(o->host, sizeof o->host, "%s", optarg);
			break;
		case O_PORT:
			if (args_parse_uint(optarg, 1, 65535, &v))
				goto bad;
			o->port = (uint16_t)v;
			port_set = 1;
			break;
		case O_CLIENTS:
			if (args_parse_uint(optarg, 2, LG_IRC_MAX_CLIENTS, &v))
				goto bad;
			o->clients = (unsigned)v;
			break;
		case O_SENDERS:
			if (args_parse_uint(optarg, 1, LG_IRC_MAX_CLIENTS, &v))
				goto bad;
			o->senders = (unsigned)v;
			break;
		case O_SIZE:
			if (args_parse_uint(optarg, 1, PROTO_TEXT_MAX, &v))
				goto bad;
			o->size = (unsigned)v;
			break;
		case O_BURST:
			o->burst = true;
			break;
		case O_WINDOW:
			if (args_parse_uint(optarg, 1, 1000000, &v))
				goto bad;
			o->window = (unsigned)v;
			break;
		case O_RATE:
			if (parse_secs(optarg, 1, 1e8, &o->rate))
				goto bad;
			o->burst = false;
			break;
		case O_DURATION:
			if (parse_secs(optarg, 0.1, 3600, &o->duration))
				goto bad;
			break;
		case O_WARMUP:
			if (parse_secs(optarg, 0, 600, &o->warmup))
				goto bad;
			break;
		case O_DRAIN:
			if (parse_secs(optarg, 0, 600, &o->drain))
				goto bad;
			break;
		case O_KEYS:
			if (!*optarg || strlen(optarg) >= sizeof o->keys)
				goto bad;
			snprintf(o->keys, sizeof o->keys, "%s", optarg);
			break;
		case O_POOL:
			if (strcmp(optarg, "auto") == 0) {
				o->pool = -1;
				break;
			}
			if (args_parse_uint(optarg, 0, 100000000, &v))
				goto bad;
			o->pool = (long)v;
			break;
		case O_VERIFY:
			if (args_parse_uint(optarg, 0, 1000000000, &v))
				goto bad;
			o->verify_every = (unsigned)v;
			break;
		case O_ACK:
			if (args_parse_uint(optarg, 0, 1000000000, &v))
				goto bad;
			o->ack_every = (unsigned)v;
			break;
		case O_PID:
			if (args_parse_uint(optarg, 1, 1u << 30, &v))
				goto bad;
			o->server_pid = (long)v;
			break;
		case O_BATCH:
			if (args_parse_uint(optarg, 1, 10000, &v))
				goto bad;
			o->connect_batch = (unsigned)v;
			batch_set = 1;
			break;
		case O_NONODELAY:
			o->nodelay = false;
			break;
		case O_TIMELINE:
			o->timeline = true;
			break;
		case O_SETUP:
			if (parse_secs(optarg, 1, 3600, &o->setup_timeout))
				goto bad;
			break;
		case O_LABEL:
			snprintf(o->label, sizeof o->label, "%s", optarg);
			for (char *p = o->label; *p; p++)
				if (*p == ' ' || *p == '=')
					*p = '_';
			break;
		case O_HELP:
			fputs(usage, stdout);
			exit(0);
		default:
			fprintf(stderr, "loadgen: unknown option or missing value: %s\n", argv[optind - 1]);
			goto usage;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "loadgen: unexpected argument: %s\n", argv[optind]);
		goto usage;
	}
	if (!port_set)
		o->port = o->irc ? 6667 : 7777;
	if (!batch_set)
		o->connect_batch = o->irc ? 8 : 32;
	if (!o->irc && o->clients > LG_CC_MAX_CLIENTS)
		die("a Crypto Cat room holds at most %d members", LG_CC_MAX_CLIENTS);
	if (o->senders > o->clients)
		die("more senders than clients");
	if (!o->irc && o->size > PROTO_TEXT_MAX)
		die("a message text is at most %d bytes", PROTO_TEXT_MAX);
	if (inet_pton(AF_INET, o->host, &g.addr.sin_addr) != 1)
		die("--host takes an IPv4 address");
	g.addr.sin_family = AF_INET;
	g.addr.sin_port = htons(o->port);
	return;
bad:
	fprintf(stderr, "loadgen: bad value for --%s: %s\n", options[idx].name, optarg);
usage:
	fputs("Try 'loadgen --help'.\n", stderr);
	exit(2);
}

int main(int argc, char **argv)
{
	parse_args(argc, argv);
	signal(SIGPIPE, SIG_IGN);
	log_set_level(LOG_LEVEL_WARN);
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	g.workers = ncpu < 1 ? 1 : ncpu > LG_MAX_WORKERS ? LG_MAX_WORKERS : (unsigned)ncpu;

	unsigned n = g.o.clients;
	g.conns = calloc(n, sizeof *g.conns);
	g.senders = calloc(g.o.senders, sizeof *g.senders);
	g.hist = calloc(HIST_LEN, sizeof *g.hist);
	if (!g.conns || !g.senders || !g.hist)
		die("out of memory");
	if (!g.o.irc) {
		if (crypto_init())
			die("OpenSSL lacks what Crypto Cat needs");
		keys_prepare();
	}
	buf_init(&g.scratch_env, PROTO_ENVELOPE_MAX);
	buf_init(&g.scratch_frame, PROTO_ENVELOPE_MAX + 64);
	for (unsigned i = 0; i < n; i++) {
		struct lg_conn *c = &g.conns[i];
		c->idx = i;
		c->fd = -1;
		snprintf(c->nick, sizeof c->nick, "bench%u", i);
		c->in_cap = LG_IN_START;
		c->in = malloc(c->in_cap);
		c->last_seq = calloc(g.o.senders, sizeof *c->last_seq);
		if (!c->in || !c->last_seq)
			die("out of memory");
		buf_init(&c->out, LG_OUT_MAX);
		buf_init(&c->plain, LG_OUT_MAX);
	}
	for (unsigned i = 0; i < g.o.senders; i++)
		g.senders[i].c = &g.conns[i];

	g.base = event_base_new();
	g.tick_ev = g.base ? event_new(g.base, -1, EV_PERSIST, on_tick, NULL) : NULL;
	if (!g.tick_ev)
		die("cannot start the event loop");
	struct timeval tick = {0, 20000};
	event_add(g.tick_ev, &tick);
	g.t_setup = now_ns();
	g.phase = PH_CONNECT;
	open_more();
	flush_dirty();
	if (!g.exit_code)
		event_base_dispatch(g.base);
	if (!g.exit_code && g.phase == PH_DONE)
		report();

	for (unsigned i = 0; i < n; i++) {
		struct lg_conn *c = &g.conns[i];
		conn_close(c);
		chan_free(c->ch);
		free(c->in);
		free(c->last_seq);
		buf_free(&c->out);
		buf_free(&c->plain);
		if (g.keys)
			crypto_rsa_free(g.keys[i]);
	}
	for (unsigned i = 0; i < g.o.senders; i++)
		free(g.senders[i].sent_ns);
	if (g.pool_mem)
		munmap(g.pool_mem, g.pool_len);
	buf_free(&g.scratch_env);
	buf_free(&g.scratch_frame);
	if (g.pace_ev)
		event_free(g.pace_ev);
	if (g.win_start_ev)
		event_free(g.win_start_ev);
	if (g.win_end_ev)
		event_free(g.win_end_ev);
	if (g.timeline_ev)
		event_free(g.timeline_ev);
	event_free(g.tick_ev);
	event_base_free(g.base);
	free(g.conns);
	free(g.senders);
	free(g.hist);
	free(g.keys);
	free(g.fp);
	free(g.seed);
	free(g.spub);
	return g.exit_code;
}
