/* A client following a busy room (docs/BENCHMARKS.md section 10): a real
 * cryptocat-server, the load generator (tools/loadgen/) pacing a room at
 * --rate messages/s, and ONE real `cryptocat --batch` process, a member of
 * that room (loadgen --follower adds it without connecting it), following
 * the room. It measures the client's CPU over the measured time (utime +
 * stime from /proc/PID/stat; 100 % = one core), whether every message reached
 * it in order, and how far behind it was: messages sent minus messages it
 * printed at the end of the measured time, the worst of that during it
 * (estimated from the paced rate), and how long it took to catch up.
 *
 *   bench_follow [--rate R] [--duration S] [--clients N] [--senders N]
 *                [--size B] [--client PATH] [--keys DIR] [--allowance N]
 *
 * --allowance: how many messages behind at the end still counts as keeping
 * up (default: a quarter of a second's worth, 1000 at 4000 msg/s).
 * The programs are taken from this program's directory (the build's);
 * --client runs another cryptocat (an older build, to compare). It prints
 * human-readable lines, then one machine line per figure:
 *   FIGURE name=client_follow.cpu ours=<%> bound=60 unit=%core ...
 * Exit status: 0 when every message was shown, in order, and the client
 * caught up (whether or not the targets are met: the FIGURE lines say), 1
 * when not, 2 when the run could not be set up.
 * BENCH_FOLLOW_KEEP=1 keeps the scratch directory (the three programs' logs),
 * BENCH_FOLLOW_DEBUG=1 runs the client at --log-level debug (a line per
 * turn: its events and how long its commit took). */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "benchserver.h"
#include "procstat.h"

#define FOLLOWER "benchfollow"
#define MAX_SENDERS 256
#define LINE_MAX_ 65536
#define SETUP_TIMEOUT_S 300
#define CATCHUP_TIMEOUT_S 30
#define CPU_BOUND 60

static struct {
	double rate, duration;
	unsigned clients, senders, size, allowance;
	const char *client, *keys;
} opt = {4000, 10, 10, 10, 100, 0, NULL, "/tmp/cryptocat-bench-keys"};

static char bin_dir[4096], tmp_dir[64];
static pid_t server_pid, client_pid, loadgen_pid;

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* No child outlives a run that failed or was stopped. */
static void kill_children(void)
{
	if (client_pid > 0)
		kill(client_pid, SIGKILL);
	if (loadgen_pid > 0)
		kill(loadgen_pid, SIGKILL);
	if (server_pid > 0)
		kill(server_pid, SIGKILL);
}

static void die(const char *why)
{
	fprintf(stderr, "bench_follow: %s (logs in %s)\n", why, tmp_dir);
	kill_children();
	exit(2);
}

/* Stopped from outside (a timeout, ^C): take the children along. */
static void on_signal(int sig)
{
	kill_children();
	signal(sig, SIG_DFL);
	raise(sig);
}

/* ---- processes ---- */

/* Starts argv with stdin from in_fd (-1: /dev/null), stdout to out_fd (-1:
 * the log) and stderr to the log. */
static pid_t spawn(char *const argv[], int in_fd, int out_fd, const char *log)
{
	pid_t pid = fork();
	if (pid == 0) {
		int lf = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
		int nul = open("/dev/null", O_RDONLY);
		dup2(in_fd >= 0 ? in_fd : nul, 0);
		dup2(out_fd >= 0 ? out_fd : lf, 1);
		dup2(lf, 2);
		execv(argv[0], argv);
		_exit(127);
	}
	if (pid < 0)
		die("cannot fork");
	return pid;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* ---- reading lines from a pipe ---- */

struct reader {
	int fd;
	char buf[LINE_MAX_];
	size_t len;
	bool eof;
};

/* Reads what is there; calls fn for each whole line. */
static void reader_pump(struct reader *r, void (*fn)(char *line))
{
	ssize_t n = read(r->fd, r->buf + r->len, sizeof r->buf - 1 - r->len);
	if (n <= 0) {
		if (n == 0 || (errno != EAGAIN && errno != EINTR))
			r->eof = true;
		return;
	}
	r->len += (size_t)n;
	char *start = r->buf, *nl;
	while ((nl = memchr(start, '\n', r->len - (size_t)(start - r->buf)))) {
		*nl = '\0';
		fn(start);
		start = nl + 1;
	}
	r->len -= (size_t)(start - r->buf);
	memmove(r->buf, start, r->len);
	if (r->len == sizeof r->buf - 1)
		r->len = 0;  /* a line longer than any event: drop it */
}

/* ---- what the two programs say ---- */

static struct {
	bool registered, joined, started, ended, go;
	char room[64];
	uint64_t printed, errors, gaps, disorder;
	uint64_t sent0, sent1, printed0, printed1, t0, t1, t_caught;
	unsigned long long ticks0, ticks1;
	double max_behind;
	char nicks[MAX_SENDERS][40];
	uint64_t last_seq[MAX_SENDERS];
	unsigned nsenders;
} st;

static int client_in = -1;

/* The text of "key":"value" or "key":number in a JSON line. */
static const char *json_field(const char *line, const char *key, char *out, size_t out_len)
{
	char pat[40];
	snprintf(pat, sizeof pat, "\"%s\":", key);
	const char *p = strstr(line, pat);
	if (!p)
		return NULL;
	p += strlen(pat);
	if (*p == '"')
		p++;
	size_t n = strcspn(p, "\",}");
	if (n >= out_len)
		return NULL;
	memcpy(out, p, n);
	out[n] = '\0';
	return out;
}

static void on_client_line(char *line)
{
	char ev[32], from[40], seq[32];
	if (!json_field(line, "event", ev, sizeof ev))
		return;
	if (strcmp(ev, "message") == 0) {
		st.printed++;
		if (!json_field(line, "from", from, sizeof from) ||
		    !json_field(line, "seq", seq, sizeof seq)) {
			st.disorder++;
			return;
		}
		unsigned i = 0;
		while (i < st.nsenders && strcmp(st.nicks[i], from) != 0)
			i++;
		if (i == st.nsenders && st.nsenders < MAX_SENDERS)
			snprintf(st.nicks[st.nsenders++], sizeof st.nicks[0], "%s", from);
		uint64_t s = strtoull(seq, NULL, 10);
		/* Every message, in order: each sender's numbers count up by one. */
		if (i < MAX_SENDERS) {
			if (s != st.last_seq[i] + 1)
				st.disorder++;
			st.last_seq[i] = s;
		}
	} else if (strcmp(ev, "registered") == 0) {
		st.registered = true;
	} else if (strcmp(ev, "joined") == 0) {
		st.joined = true;
	} else if (strcmp(ev, "gap") == 0) {
		st.gaps++;
	} else if (strcmp(ev, "error") == 0) {
		st.errors++;
		if (st.errors <= 5)
			fprintf(stderr, "bench_follow: the client says: %s\n", line);
	}
}

static void on_loadgen_line(char *line)
{
	unsigned long long sent = 0;
	if (sscanf(line, "FOLLOW room=%63s", st.room) == 1) {
		char cmd[128];
		int n = snprintf(cmd, sizeof cmd, "/join %s\n", st.room);
		if (write(client_in, cmd, (size_t)n) != n)
			die("cannot talk to the client");
	} else if (sscanf(line, "FOLLOW start sent=%llu", &sent) == 1) {
		st.started = true;
		st.t0 = now_ns();
		st.ticks0 = procstat_cpu_ticks(client_pid);
		st.sent0 = sent;
		st.printed0 = st.printed;
	} else if (sscanf(line, "FOLLOW end sent=%llu", &sent) == 1) {
		st.ended = true;
		st.t1 = now_ns();
		st.ticks1 = procstat_cpu_ticks(client_pid);
		st.sent1 = sent;
		st.printed1 = st.printed;
	} else if (strncmp(line, "RESULT", 6) == 0) {
		printf("loadgen: %s\n", line);
	}
}

/* ---- the run ---- */

static void parse_args(int argc, char **argv)
{
	static const struct option options[] = {
		{"rate", required_argument, NULL, 'r'},
		{"duration", required_argument, NULL, 'd'},
		{"clients", required_argument, NULL, 'c'},
		{"senders", required_argument, NULL, 's'},
		{"size", required_argument, NULL, 'b'},
		{"client", required_argument, NULL, 'C'},
		{"keys", required_argument, NULL, 'k'},
		{"allowance", required_argument, NULL, 'a'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int o;
	while ((o = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (o) {
		case 'r': opt.rate = atof(optarg); break;
		case 'd': opt.duration = atof(optarg); break;
		case 'c': opt.clients = (unsigned)atoi(optarg); break;
		case 's': opt.senders = (unsigned)atoi(optarg); break;
		case 'b': opt.size = (unsigned)atoi(optarg); break;
		case 'C': opt.client = optarg; break;
		case 'k': opt.keys = optarg; break;
		case 'a': opt.allowance = (unsigned)atoi(optarg); break;
		default:
			fputs("usage: bench_follow [--rate R] [--duration S] [--clients N] "
			      "[--senders N] [--size B] [--client PATH] [--keys DIR] "
			      "[--allowance N]\n", o == 'h' ? stdout : stderr);
			exit(o == 'h' ? 0 : 2);
		}
	}
	if (!(opt.rate > 0) || !(opt.duration > 0) || opt.clients < 2 || opt.senders < 1 ||
	    opt.senders > opt.clients || opt.clients > 255 || opt.size < 1)
		die("bad arguments");
	/* Following: at most a quarter of a second behind (a turn of messages
	 * and its commit, on a shared machine), unless told otherwise. */
	if (!opt.allowance)
		opt.allowance = (unsigned)(opt.rate / 4);
}

static void wait_for(bool *flag, struct reader *a, void (*fa)(char *), struct reader *b,
		     void (*fb)(char *), double secs, const char *what)
{
	uint64_t deadline = now_ns() + (uint64_t)(secs * 1e9);
	while (!*flag) {
		struct pollfd p[2] = {{a->fd, POLLIN, 0}, {b ? b->fd : -1, POLLIN, 0}};
		int left = (int)((deadline - now_ns()) / 1000000);
		if (now_ns() >= deadline || a->eof)
			die(what);
		if (poll(p, 2, left < 100 ? left : 100) > 0) {
			if (p[0].revents)
				reader_pump(a, fa);
			if (b && p[1].revents)
				reader_pump(b, fb);
		}
		/* During the measured time: the worst backlog, from the paced rate. */
		if (st.started && !st.ended) {
			double sent = (double)st.sent0 + opt.rate * (double)(now_ns() - st.t0) / 1e9;
			double behind = sent - (double)st.printed;
			if (behind > st.max_behind)
				st.max_behind = behind;
		}
		if (st.ended && !st.t_caught && st.printed >= st.sent1)
			st.t_caught = now_ns();
	}
}

int main(int argc, char **argv)
{
	static struct reader cr, lr;
	char server_bin[4200], client_bin[4200], loadgen_bin[4200], data[128], home[128];
	char go[128], slog[128], clog[128], llog[128], port_s[16], listen_s[32], spid_s[16];
	char rate_s[32], dur_s[32], clients_s[16], senders_s[16], size_s[16];

	parse_args(argc, argv);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	signal(SIGHUP, on_signal);
	ssize_t n = readlink("/proc/self/exe", bin_dir, sizeof bin_dir - 1);
	if (n <= 0)
		die("cannot find my own directory");
	bin_dir[n] = '\0';
	*strrchr(bin_dir, '/') = '\0';
	snprintf(tmp_dir, sizeof tmp_dir, "/tmp/cryptocat-follow-XXXXXX");
	if (!mkdtemp(tmp_dir))
		die("cannot make a scratch directory");
	snprintf(server_bin, sizeof server_bin, "%s/cryptocat-server", bin_dir);
	snprintf(loadgen_bin, sizeof loadgen_bin, "%s/loadgen", bin_dir);
	snprintf(client_bin, sizeof client_bin, "%s", opt.client ? opt.client : "");
	if (!opt.client)
		snprintf(client_bin, sizeof client_bin, "%s/cryptocat", bin_dir);
	snprintf(data, sizeof data, "%s/data", tmp_dir);
	snprintf(home, sizeof home, "%s/home", tmp_dir);
	snprintf(go, sizeof go, "%s/go", tmp_dir);
	snprintf(slog, sizeof slog, "%s/server.log", tmp_dir);
	snprintf(clog, sizeof clog, "%s/client.log", tmp_dir);
	snprintf(llog, sizeof llog, "%s/loadgen.log", tmp_dir);
	int port = benchserver_free_port();
	if (port < 0)
		die("no free port");
	snprintf(port_s, sizeof port_s, "%d", port);
	snprintf(listen_s, sizeof listen_s, "127.0.0.1:%d", port);

	/* The server as bench/run.sh starts it: the flood defences lifted for
	 * a generator whose connections all come from one address. */
	char *sargv[] = {server_bin, "--listen", listen_s, "--data", data, "--log-level", "warn",
			 "--max-output", "268435456", "--preauth-per-address", "1000000",
			 "--handshake-rate", "1000000", "--handshake-burst", "1000000",
			 "--puzzle-max", "0", NULL};
	server_pid = spawn(sargv, -1, -1, slog);
	int lfd = benchserver_wait(server_pid, port, 30);
	if (lfd < 0) {
		if (lfd == -1)
			server_pid = 0;  /* exited, and reaped */
		die("the server does not listen");
	}
	close(lfd);

	/* The follower: a fresh home, registered before the room is made. It
	 * never starts a new epoch itself (--rekey-after never): the generator's
	 * senders would have to follow it, which is not what is measured. */
	int in_pipe[2], out_pipe[2], lg_pipe[2];
	if (pipe(in_pipe) || pipe(out_pipe) || pipe(lg_pipe))
		die("cannot make pipes");
	char *cargv[] = {client_bin, "--batch", "--server", listen_s, "--nick", FOLLOWER,
			 "--home", home, "--rsa-bits", "2048", "--rekey-after", "never",
			 "--log-level", getenv("BENCH_FOLLOW_DEBUG") ? "debug" : "warn", NULL};
	client_pid = spawn(cargv, in_pipe[0], out_pipe[1], clog);
	close(in_pipe[0]);
	close(out_pipe[1]);
	client_in = in_pipe[1];
	cr.fd = out_pipe[0];
	fcntl(cr.fd, F_SETFL, O_NONBLOCK);
	wait_for(&st.registered, &cr, on_client_line, NULL, NULL, 60, "the client did not register");

	snprintf(spid_s, sizeof spid_s, "%d", (int)server_pid);
	snprintf(rate_s, sizeof rate_s, "%g", opt.rate);
	snprintf(dur_s, sizeof dur_s, "%g", opt.duration);
	snprintf(clients_s, sizeof clients_s, "%u", opt.clients);
	snprintf(senders_s, sizeof senders_s, "%u", opt.senders);
	snprintf(size_s, sizeof size_s, "%u", opt.size);
	char *largv[] = {loadgen_bin, "--port", port_s, "--clients", clients_s, "--senders",
			 senders_s, "--size", size_s, "--rate", rate_s, "--duration", dur_s,
			 "--warmup", "1", "--keys", (char *)opt.keys, "--server-pid", spid_s,
			 "--follower", FOLLOWER, "--go-file", go, "--label", "follow", NULL};
	loadgen_pid = spawn(largv, -1, lg_pipe[1], llog);
	close(lg_pipe[1]);
	lr.fd = lg_pipe[0];
	fcntl(lr.fd, F_SETFL, O_NONBLOCK);
	wait_for(&st.joined, &cr, on_client_line, &lr, on_loadgen_line, SETUP_TIMEOUT_S,
		 "the client did not join the room");
	int gfd = open(go, O_WRONLY | O_CREAT, 0600);
	if (gfd < 0)
		die("cannot make the go file");
	close(gfd);
	wait_for(&st.ended, &cr, on_client_line, &lr, on_loadgen_line,
		 SETUP_TIMEOUT_S + opt.duration, "the run did not end");
	bool caught = true;
	uint64_t deadline = now_ns() + (uint64_t)CATCHUP_TIMEOUT_S * 1000000000u;
	while (st.printed < st.sent1 && now_ns() < deadline && !cr.eof) {
		struct pollfd p[2] = {{cr.fd, POLLIN, 0}, {lr.fd, POLLIN, 0}};
		if (poll(p, 2, 100) > 0) {
			if (p[0].revents)
				reader_pump(&cr, on_client_line);
			if (p[1].revents)
				reader_pump(&lr, on_loadgen_line);
		}
	}
	if (st.printed >= st.sent1 && !st.t_caught)
		st.t_caught = now_ns();
	if (st.printed < st.sent1)
		caught = false;
	/* The generator's own report, after its drain. */
	for (int i = 0; i < 200 && !lr.eof; i++) {
		struct pollfd p = {lr.fd, POLLIN, 0};
		if (poll(&p, 1, 100) > 0)
			reader_pump(&lr, on_loadgen_line);
	}

	close(client_in);  /* batch mode: the end of its input is /quit */
	/* Each: SIGTERM, then SIGKILL if it has not gone within 5 s. */
	benchserver_stop(client_pid, 5);
	benchserver_stop(loadgen_pid, 5);
	benchserver_stop(server_pid, 5);

	long hz = sysconf(_SC_CLK_TCK);
	double win = (double)(st.t1 - st.t0) / 1e9;
	double cpu = win > 0 ? (double)(st.ticks1 - st.ticks0) / (double)hz / win * 100 : -1;
	double got_rate = win > 0 ? (double)(st.printed1 - st.printed0) / win : 0;
	double sent_rate = win > 0 ? (double)(st.sent1 - st.sent0) / win : 0;
	uint64_t behind = st.sent1 > st.printed1 ? st.sent1 - st.printed1 : 0;
	double catchup = st.t_caught ? (double)(st.t_caught - st.t1) / 1e9 : -1;
	bool cpu_met = cpu >= 0 && cpu <= CPU_BOUND;
	bool behind_met = behind <= opt.allowance && caught && !st.disorder && !st.errors &&
			  !st.gaps;

	printf("bench_follow: %u members (+1 real client), %u senders, %u-byte texts, %g msg/s "
	       "for %.1f s\n", opt.clients, opt.senders, opt.size, opt.rate, win);
	printf("  sent in the measured time  %.0f msg/s; the client printed %.0f msg/s\n",
	       sent_rate, got_rate);
	printf("  client CPU                 %.1f %% of a core (target <= %d %%)\n", cpu,
	       CPU_BOUND);
	printf("  behind at the end          %llu messages (about %.0f ms at the rate; "
	       "allowance %u)\n", (unsigned long long)behind, (double)behind / opt.rate * 1000,
	       opt.allowance);
	printf("  worst behind during it     about %.0f messages (about %.0f ms)\n",
	       st.max_behind, st.max_behind / opt.rate * 1000);
	printf("  caught up                  %s, %.2f s after the end\n",
	       caught ? "yes" : "NO", catchup);
	printf("  shown in all               %llu of %llu; out of order or missing %llu, "
	       "gaps %llu, errors %llu\n", (unsigned long long)st.printed,
	       (unsigned long long)st.sent1, (unsigned long long)st.disorder,
	       (unsigned long long)st.gaps, (unsigned long long)st.errors);
	printf("FIGURE name=client_follow.cpu ours=%.1f bound=%d unit=%%core target=ours<=%d "
	       "met=%s\n", cpu, CPU_BOUND, CPU_BOUND, cpu_met ? "yes" : "no");
	printf("FIGURE name=client_follow.behind ours=%llu bound=0 unit=msgs target=ours<=%u "
	       "met=%s\n", (unsigned long long)behind, opt.allowance, behind_met ? "yes" : "no");
	fflush(stdout);
	if (!getenv("BENCH_FOLLOW_KEEP"))
		nftw(tmp_dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
	/* The figures are the result (make bench's table says what is met); a
	 * failure is what breaks the run: a message lost, out of order or
	 * refused, or a client that never caught up. */
	return caught && !st.disorder && !st.errors && !st.gaps ? 0 : 1;
}
