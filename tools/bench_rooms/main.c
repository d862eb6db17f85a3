/* Big rooms, end to end (issue 11, target 3; docs/BENCHMARKS.md section 11):
 * a real cryptocat-server on a fresh data directory, --members N users
 * registered as a real client would be, and ONE real client core in this
 * process, the admin, timing three calls of the client API, each from the
 * call to its on_done:
 *
 *   create  client_room_create with the N - 1 others: a room of N
 *   add     client_room_add of one more registered user: N + 1
 *   kick    client_room_kick of one member: the new epoch's secret is
 *           wrapped to the N who stay
 *
 * Between create and add the admin joins the room (a room is changed only
 * once joined): timed and shown, not a target. Each call must end with
 * CC_OK and leave the room with the members it should (the core's view of
 * the room), else the program fails: the short run in the suite
 * (bench_rooms_smoke) can fail. At the end a sample of members checks the
 * room over sessions of its own, as their clients would (verify.c): the
 * chain, and the last epoch's key wrapped to each.
 *
 * The users: bench0 is the admin (its client core, a home of its own under
 * the scratch directory); bench1..benchN are registered first, as a real
 * client registers, by raw sessions many at once (register.c). Their
 * RSA-2048 identity keys come from the cache --keys (the load generator's;
 * the missing ones are made and kept).
 *
 *   bench_rooms [--members N] [--server PATH] [--keys DIR] [--dir DIR]
 *               [--jobs P] [--inflight K] [--timeout S] [--max-output BYTES]
 *
 * The server: its key RSA-2048 (handshakes are set-up, not measured), the
 * per-address handshake limits and the proof of work lifted, as in
 * bench/run.sh. Output: a line per operation (with the CPU this process
 * and the server spent in it), then FIGURE lines (bench/figures.sh):
 * rooms_<N>_{create,add,kick}, seconds, target < 2. Exit status 0 when
 * every call succeeded (target met or not: the FIGURE lines say), 1 when
 * one failed (the FIGURE lines of the calls not measured then say ours=-),
 * 2 on a bad option. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "client/core/client.h"
#include "crypto/crypto.h"
#include "util/buf.h"
#include "util/log.h"
#include "../benchkeys.h"
#include "../procstat.h"
#include "../benchserver.h"
#include "bench_rooms.h"

#define TARGET_S 2.0
#define MEMBERS_MAX 100000

static struct {
	unsigned members, jobs, inflight;
	double timeout;
	const char *server, *keys, *dir;
	const char *max_output;  /* the server's --max-output; NULL: its default */
} opt = {5000, 0, 32, 600, NULL, "/tmp/cryptocat-bench-keys", NULL, NULL};

static struct {
	pid_t server;
	int port;
	char dir[512];
	bool keep_dir;
} g;

/* Stopped from outside (a timeout, ^C): take the server along. */
static void on_signal(int sig)
{
	if (g.server > 0)
		kill(g.server, SIGKILL);
	signal(sig, SIG_DFL);
	raise(sig);
}

/* ---- the server ---- */

static const char *server_start(void)
{
	static char why[700];
	char listen[32], data[600], log[600];
	if ((g.port = benchserver_free_port()) < 0)
		return "cannot find a free port";
	snprintf(listen, sizeof listen, "127.0.0.1:%d", g.port);
	snprintf(data, sizeof data, "%s/data", g.dir);
	snprintf(log, sizeof log, "%s/server.log", g.dir);
	char *argv[] = {(char *)opt.server, "--listen", listen, "--data", data, "--log-level", "warn",
			"--rsa-bits", "2048", "--preauth-per-address", "1000000",
			"--handshake-rate", "1000000", "--handshake-burst", "1000000",
			"--puzzle-max", "0", NULL, NULL, NULL};
	if (opt.max_output) {
		/* A small one makes a big room's state stream over many drains. */
		argv[sizeof argv / sizeof argv[0] - 3] = "--max-output";
		argv[sizeof argv / sizeof argv[0] - 2] = (char *)opt.max_output;
	}
	if ((g.server = benchserver_spawn(argv, log)) < 0)
		return "fork failed";
	/* A fresh data directory: it makes its key first. */
	int fd = benchserver_wait(g.server, g.port, 60);
	if (fd >= 0) {
		close(fd);
		return NULL;
	}
	if (fd == -1) {
		g.server = 0;
		snprintf(why, sizeof why, "the server exited at start (see %s)", log);
		return why;
	}
	return "the server does not listen after 60 s";
}

/* SIGTERM, as an operator stops it: it commits and exits 0. false if it did
 * not (another status, or still running after 5 s: killed). */
static bool server_stop(void)
{
	if (g.server <= 0)
		return true;
	int status = benchserver_stop(g.server, 5);
	g.server = 0;
	return status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/* ---- the admin: one real client core, timing its calls ---- */

enum op { OP_CREATE, OP_JOIN, OP_ADD, OP_KICK, OP_COUNT };
static const char *const op_names[OP_COUNT] = {"create", "join", "add", "kick"};

static struct {
	struct client *cl;
	struct event_base *base;
	struct event *timer;
	enum op op;                     /* the call in flight */
	uint32_t req;                   /* its id; 0 while the call runs */
	bool calling, early;            /* on_done came before the call returned */
	cc_err early_err;
	uint32_t early_req;
	bool registered, quitting;
	double t_connect, reg_took, t0, cpu0;
	unsigned long long srv0;
	double took[OP_COUNT], own_cpu[OP_COUNT], srv_cpu[OP_COUNT];
	unsigned done;                  /* calls that succeeded, in order */
	uint8_t room[PROTO_ROOM_ID_LEN];
	char room_hex[CLIENT_ROOM_HEX];
	char nick_add[16], nick_kick[16];
	char error[400];                /* the last ERROR event */
	char why[700];                  /* what ended the run */
} adm;

static double own_cpu_s(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* The first failure ends the run. */
static void adm_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void adm_fail(const char *fmt, ...)
{
	if (!adm.why[0]) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(adm.why, sizeof adm.why, fmt, ap);
		va_end(ap);
	}
	event_base_loopbreak(adm.base);
}

/* The room, as the core shows it, has `members` members, with `has` among
 * them and `lacks` not (either may be NULL). */
static void room_check(size_t members, const char *has, const char *lacks)
{
	struct client_room_view v;
	for (size_t i = 0; i < client_room_count(adm.cl); i++) {
		if (client_room_view_get(adm.cl, i, &v) != CC_OK) {
			adm_fail("cannot read the room's view");
			return;
		}
		if (strcmp(v.room, adm.room_hex) != 0) {
			client_room_view_free(&v);
			continue;
		}
		bool found_has = !has, found_lacks = false;
		for (size_t k = 0; k < v.nmembers; k++) {
			found_has |= has && strcmp(v.members[k].nick, has) == 0;
			found_lacks |= lacks && strcmp(v.members[k].nick, lacks) == 0;
		}
		if (v.nmembers != members || !found_has || found_lacks || strcmp(v.admin, "bench0"))
			adm_fail("after %s the room has %zu members (admin '%s'), not %zu%s%s%s%s",
				 op_names[adm.op], v.nmembers, v.admin, members, has ? " with " : "",
				 has ? has : "", lacks ? " without " : "", lacks ? lacks : "");
		client_room_view_free(&v);
		return;
	}
	adm_fail("after %s the client core has no room %s", op_names[adm.op], adm.room_hex);
}

/* The invitees, bench1 .. bench<N-1>: with us, a room of N. */
static const char **invitees(unsigned n, char (**names)[16])
{
	const char **list = calloc(n, sizeof *list);
	*names = calloc(n, sizeof **names);
	for (unsigned i = 0; list && *names && i < n; i++) {
		snprintf((*names)[i], sizeof (*names)[i], "bench%u", i + 1);
		list[i] = (*names)[i];
	}
	if (!list || !*names) {
		free(list);
		free(*names);
		return NULL;
	}
	return list;
}

static void op_done(cc_err err);

/* Calls op, timed from the call. */
static void op_start(enum op op)
{
	char (*names)[16] = NULL;
	const char **list = op == OP_CREATE ? invitees(opt.members - 1, &names) : NULL;
	uint32_t id = 0;
	if (op == OP_CREATE && !list) {
		adm_fail("create: out of memory");
		return;
	}
	adm.op = op;
	adm.req = 0;
	adm.early = false;
	adm.error[0] = '\0';
	adm.calling = true;
	adm.cpu0 = own_cpu_s();
	adm.srv0 = procstat_cpu_ticks(g.server);
	adm.t0 = now_s();
	if (op == OP_CREATE)
		id = client_room_create(adm.cl, list, opt.members - 1, "bench_rooms");
	else if (op == OP_JOIN)
		id = client_room_join(adm.cl, adm.room);
	else if (op == OP_ADD)
		id = client_room_add(adm.cl, adm.room, adm.nick_add);
	else
		id = client_room_kick(adm.cl, adm.room, adm.nick_kick);
	adm.calling = false;
	free(list);
	free(names);
	if (!id) {
		adm_fail("%s: out of memory", op_names[op]);
		return;
	}
	adm.req = id;
	if (adm.early && adm.early_req == id)
		op_done(adm.early_err);  /* it ended before the call returned (its arguments) */
}

static void op_next_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	if (adm.done < OP_COUNT) {
		op_start((enum op)adm.done);
	} else {
		adm.quitting = true;
		client_quit(adm.cl);
	}
}

/* The next call, off the core's stack (on_done runs inside it). */
static void op_next(void)
{
	struct timeval now = {0, 0};
	if (event_base_once(adm.base, -1, EV_TIMEOUT, op_next_cb, NULL, &now))
		adm_fail("cannot schedule the next call");
}

static void op_done(cc_err err)
{
	enum op op = adm.op;
	adm.took[op] = now_s() - adm.t0;
	adm.own_cpu[op] = own_cpu_s() - adm.cpu0;
	adm.srv_cpu[op] = (double)(procstat_cpu_ticks(g.server) - adm.srv0) /
			  (double)sysconf(_SC_CLK_TCK);
	adm.req = 0;
	adm.early = false;
	if (err) {
		/* The ERROR event before on_done says it best ("code: text"). */
		adm_fail("%s failed after %.3f s: %s", op_names[op], adm.took[op],
			 adm.error[0] ? adm.error : cc_err_code(err));
		return;
	}
	if (op == OP_CREATE && !adm.room_hex[0]) {
		adm_fail("create ended without ROOM_CREATED");
		return;
	}
	if (op == OP_CREATE)
		room_check(opt.members, "bench1", NULL);
	else if (op == OP_ADD)
		room_check(opt.members + 1, adm.nick_add, NULL);
	else if (op == OP_KICK)
		room_check(opt.members, adm.nick_add, adm.nick_kick);
	if (adm.why[0])
		return;
	adm.done++;
	op_next();
}

static void adm_on_done(void *ctx, uint32_t request, cc_err err)
{
	(void)ctx;
	if (adm.calling) {
		adm.early = true;
		adm.early_req = request;
		adm.early_err = err;
	} else if (request && request == adm.req) {
		op_done(err);
	}
}

static void adm_on_event(void *ctx, const struct client_event *ev)
{
	(void)ctx;
	switch (ev->type) {
	case CLIENT_EV_REGISTERED:
		if (!adm.registered) {
			adm.registered = true;
			adm.reg_took = now_s() - adm.t_connect;
			op_next();
		}
		break;
	case CLIENT_EV_ERROR:
		snprintf(adm.error, sizeof adm.error, "%s: %s", ev->u.error.code, ev->u.error.message);
		if (!adm.registered)
			adm_fail("the admin's client could not register: %s", adm.error);
		else if (ev->request != adm.req || !adm.req)
			fprintf(stderr, "bench_rooms: the admin's client: error %s\n", adm.error);
		break;
	case CLIENT_EV_ROOM_CREATED:
		if (hex_decode(ev->room, adm.room, sizeof adm.room) != CC_OK)
			adm_fail("the new room's id is not hex");
		snprintf(adm.room_hex, sizeof adm.room_hex, "%s", ev->room);
		if (ev->u.room.nmembers != opt.members)
			adm_fail("the new room has %zu members, not %u", ev->u.room.nmembers,
				 opt.members);
		break;
	case CLIENT_EV_CONNECTION_LOST:
		/* A reconnection inside a timed call would time it too. */
		adm_fail("the admin's connection dropped: %s", ev->u.connection.reason);
		break;
	default:
		break;
	}
}

static void adm_on_state(void *ctx)
{
	(void)ctx;
	if (client_get_state(adm.cl) != CLIENT_CLOSED)
		return;
	if (!adm.quitting)
		adm_fail("the admin's client closed (exit status %d)%s%s",
			 client_exit_status(adm.cl), adm.error[0] ? ": " : "", adm.error);
	event_base_loopbreak(adm.base);
}

static void adm_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	adm_fail("no end after %.0f s (%s)", opt.timeout,
		 adm.registered ? op_names[adm.op] : "registering the admin");
}

/* bench0's home (its cached key) and its core, on this process's loop,
 * through create, join, add and kick. NULL, or why not. */
static const char *admin_run(void)
{
	struct client_config cfg = {0};
	struct client_callbacks cb = {adm_on_event, adm_on_done, adm_on_state, NULL};
	struct crypto_rsa_key *key = NULL;
	char path[700];

	snprintf(cfg.home, sizeof cfg.home, "%s/admin", g.dir);
	snprintf(path, sizeof path, "%s/admin/identity.pem", g.dir);
	if (mkdir(cfg.home, 0700) != 0 || benchkeys_load(opt.keys, 0, &key) ||
	    crypto_rsa_save_private_file(key, path)) {
		crypto_rsa_free(key);
		return "cannot give the admin bench0's key";
	}
	crypto_rsa_free(key);
	snprintf(cfg.host, sizeof cfg.host, "127.0.0.1");
	cfg.port = (uint16_t)g.port;
	snprintf(cfg.nick, sizeof cfg.nick, "bench0");
	cfg.rsa_bits = 2048;
	cfg.offline_timeout_ms = 10000;
	snprintf(adm.nick_add, sizeof adm.nick_add, "bench%u", opt.members);
	snprintf(adm.nick_kick, sizeof adm.nick_kick, "bench1");

	struct timeval limit = {(time_t)opt.timeout, 0};
	if (!(adm.base = event_base_new()) ||
	    !(adm.timer = evtimer_new(adm.base, adm_timeout_cb, NULL)) ||
	    evtimer_add(adm.timer, &limit))
		return "cannot make an event loop";
	adm.t_connect = now_s();
	cc_err err = client_new(&cfg, adm.base, &cb, &adm.cl);
	if (!err)
		err = client_connect(adm.cl);
	if (err)
		adm_fail("the admin's client: %s", cc_err_str(err));
	else
		event_base_dispatch(adm.base);
	client_free(adm.cl);
	event_free(adm.timer);
	event_base_free(adm.base);
	return adm.why[0] ? adm.why : NULL;
}

/* A sample of members checks the room at the end, as its client would
 * (verify.c): one there since the creation, the one added, the one
 * expelled. NULL, or why not. */
static const char *members_check(void)
{
	const char *why;
	double t0 = now_s();
	if ((why = member_verify(opt.keys, g.port, 2, adm.room, true, opt.members)) ||
	    (why = member_verify(opt.keys, g.port, opt.members, adm.room, true, opt.members)) ||
	    (why = member_verify(opt.keys, g.port, 1, adm.room, false, opt.members)))
		return why;
	printf("  checked: bench2 and bench%u verify the room's chain (%u members) and open the "
	       "last epoch's key to its commitment; bench1, expelled, is refused (%.2f s)\n",
	       opt.members, opt.members, now_s() - t0);
	return NULL;
}

/* ---- the report ---- */

static void report(double users_took)
{
	unsigned n = opt.members;
	static const char *const what[OP_COUNT] = {
		"the N - 1 others' directory entries checked, CREATE and ADDs of up to 256 signed, "
		"the secret wrapped to all",
		"the room's state verified (its chain, every member's keys); not a target",
		"the user's entry, the room's state fetched again, an ADD signed, the new "
		"secret wrapped to all",
		"the room's state fetched again, a KICK signed, the new secret wrapped to "
		"those who stay",
	};
	unsigned after[OP_COUNT] = {n, n, n + 1, n};
	printf("rooms: %u members: bench0 the admin (a client core in this process), bench1.."
	       "bench%u invited, %s added, %s kicked\n", n, n - 1, adm.nick_add, adm.nick_kick);
	if (users_took > 0)
		printf("  set-up: %u users registered (handshake, signing and receiving keys) in "
		       "%.1f s; the admin's core registered in %.2f s\n", n, users_took,
		       adm.reg_took);
	for (int op = 0; op < OP_COUNT; op++) {
		if ((unsigned)op < adm.done)
			printf("  %-6s %8.3f s  -> %u members (CPU: this process %.2f s, server "
			       "%.2f s): %s\n", op_names[op], adm.took[op], after[op],
			       adm.own_cpu[op], adm.srv_cpu[op], what[op]);
		else
			printf("  %-6s        -    not measured\n", op_names[op]);
	}
	if (adm.why[0])
		printf("  failed: %s\n", adm.why);
	for (int op = 0; op < OP_COUNT; op++) {
		if (op == OP_JOIN)
			continue;
		if ((unsigned)op < adm.done)
			printf("FIGURE name=rooms_%u_%s ours=%.3f unit=s target=<2 met=%s note=a "
			       "real client core, from the call to its on_done; %u members after\n",
			       n, op_names[op], adm.took[op], adm.took[op] < TARGET_S ? "yes" : "no",
			       after[op]);
		else
			printf("FIGURE name=rooms_%u_%s ours=- unit=s target=<2 met=no note=not "
			       "measured: %s\n", n, op_names[op],
			       adm.why[0] ? adm.why : "the set-up failed");
	}
	fflush(stdout);
}

/* ---- options and the run ---- */

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void usage(FILE *f)
{
	fputs("Usage: bench_rooms [OPTIONS]\n"
	      "  --members N     the room's members, the admin included (default 5000);\n"
	      "                  N + 1 users are registered (one more to add)\n"
	      "  --server PATH   cryptocat-server (default: the one beside this program)\n"
	      "  --keys DIR      cached RSA-2048 keys benchI.pem (default\n"
	      "                  /tmp/cryptocat-bench-keys, loadgen's); missing ones are made\n"
	      "  --dir DIR       scratch directory, kept (default: a fresh one under /tmp,\n"
	      "                  removed at the end)\n"
	      "  --jobs P        processes registering the users (default: one per core)\n"
	      "  --inflight K    registrations in flight, in all (default 32)\n"
	      "  --timeout S     give up the registrations, or the calls, after S (default 600)\n"
	      "  --max-output BYTES  the server's --max-output (default: its own)\n",
	      f);
}

static void parse(int argc, char **argv)
{
	static const struct option lo[] = {
		{"members", required_argument, NULL, 'n'}, {"server", required_argument, NULL, 's'},
		{"keys", required_argument, NULL, 'K'}, {"dir", required_argument, NULL, 'd'},
		{"jobs", required_argument, NULL, 'j'}, {"inflight", required_argument, NULL, 'k'},
		{"timeout", required_argument, NULL, 't'}, {"help", no_argument, NULL, 'h'},
		{"max-output", required_argument, NULL, 'o'},
		{NULL, 0, NULL, 0}};
	int c;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		char *end = NULL;
		bool numeric = optarg && strchr("njkt", c);
		double v = numeric ? strtod(optarg, &end) : 0;
		if (numeric && (end == optarg || *end || v < 0 || v > 1e6)) {
			fprintf(stderr, "bench_rooms: bad value %s\n", optarg);
			exit(2);
		}
		switch (c) {
		case 'n': opt.members = (unsigned)v; break;
		case 's': opt.server = optarg; break;
		case 'K': opt.keys = optarg; break;
		case 'd': opt.dir = optarg; break;
		case 'j': opt.jobs = (unsigned)v; break;
		case 'k': opt.inflight = (unsigned)v; break;
		case 't': opt.timeout = v; break;
		case 'o': opt.max_output = optarg; break;
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); exit(2);
		}
	}
	if (optind != argc || opt.members < 3 || opt.members > MEMBERS_MAX || opt.inflight < 1 ||
	    opt.jobs > 64 || opt.timeout < 1) {
		usage(stderr);
		exit(2);
	}
}

/* The server beside this program unless --server: the build's. */
static void default_server(char *out, size_t n)
{
	char self[PATH_MAX];
	ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
	self[len > 0 ? len : 0] = '\0';
	char *slash = strrchr(self, '/');
	if (slash)
		*slash = '\0';
	snprintf(out, n, "%s/cryptocat-server", slash ? self : ".");
}

int main(int argc, char **argv)
{
	static char server_path[PATH_MAX + 32];
	double users_took = 0;
	const char *why = NULL;

	parse(argc, argv);
	if (!opt.server) {
		default_server(server_path, sizeof server_path);
		opt.server = server_path;
	}
	signal(SIGPIPE, SIG_IGN);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	log_set_level(LOG_LEVEL_WARN);
	if (crypto_init()) {
		fprintf(stderr, "bench_rooms: OpenSSL lacks what Crypto Cat needs\n");
		return 1;
	}
	if (opt.dir) {
		snprintf(g.dir, sizeof g.dir, "%s", opt.dir);
		g.keep_dir = true;
		if (mkdir(g.dir, 0700) != 0 && errno != EEXIST)
			why = "cannot make the --dir directory";
	} else {
		snprintf(g.dir, sizeof g.dir, "/tmp/cryptocat-bench-rooms.XXXXXX");
		if (!mkdtemp(g.dir))
			why = "cannot make a scratch directory";
	}
	if (!why)
		why = benchkeys_make(opt.keys, opt.members + 1, "bench_rooms");
	if (!why)
		why = server_start();
	struct reg_plan plan = {opt.keys, g.port, opt.members, opt.jobs, opt.inflight, opt.timeout};
	if (!why)
		why = users_register(&plan, &users_took);
	if (!why)
		why = admin_run();
	if (!why)
		why = members_check();
	if (!server_stop() && !why)
		why = "the server did not stop cleanly on SIGTERM";
	if (why && why != adm.why)
		snprintf(adm.why, sizeof adm.why, "%s", why);
	report(users_took);
	if (why)
		fprintf(stderr, "bench_rooms: %s (kept: %s, the server's log in it)\n", why, g.dir);
	else if (!g.keep_dir)
		nftw(g.dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	return why ? 1 : 0;
}
