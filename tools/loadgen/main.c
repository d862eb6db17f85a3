/* Load generator: N clients of one Crypto Cat server, or of an IRC server for
 * comparison, in one process and one libevent loop. bench/run.sh drives it;
 * docs/BENCHMARKS.md says what it measures.
 *
 * Crypto Cat: every client does the real handshake (RSA-2048 identity keys,
 * made once and kept in --keys DIR), registers benchI and publishes its
 * certified signing key. bench0's own client core then creates one room
 * with everyone in it, as a user's /create does (cc_room.c); everyone joins
 * and unwraps the key, the first room state checked whole. Then S
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
 * text instead, since it is signed and cannot be changed.
 *
 * The files: main.c (options, the report, main), conn.c (connections:
 * sockets, buffers, event callbacks), run.c (phases, timers, pacing), cc.c
 * (the Crypto Cat handshake, joining, receiving), cc_room.c (the room, made
 * by the client core), cc_send.c (sealing and sending), irc.c (IRC), keys.c (the identity keys), util.c (helpers, the
 * latency histogram); loadgen.h holds what they share. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "loadgen.h"
#include "transport/chan.h"
#include "util/args.h"
#include "util/log.h"

struct lg g;

/* ---- options ---------------------------------------------------------------- */

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
	"  --interval SEC       print an INTERVAL line every SEC: deliveries, p50, p99\n"
	"                       and max latency of that interval, and the server's\n"
	"                       VmRSS (with --server-pid); for long runs\n"
	"  --setup-timeout SEC  give up if setting up takes longer (default 300)\n"
	"  --label TEXT         name of the run in the RESULT line\n"
	"  --follower NICK      also add NICK (registered by another program, e.g.\n"
	"                       a real cryptocat) to the room; prints 'FOLLOW room=HEX'\n"
	"                       and, at the measured time's start and end, 'FOLLOW\n"
	"                       start|end sent=N t_ns=T' (CLOCK_MONOTONIC)\n"
	"  --go-file PATH       once everyone joined, start only when PATH exists\n";

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

/* ---- report ------------------------------------------------------------------------ */

static void report(void)
{
	const struct lg_opts *o = &g.o;
	double win = lg_secs(g.win_t1 - g.win_t0);
	double mps = win > 0 ? (double)g.sent_win / win : 0;
	double dps = win > 0 ? (double)g.deliv_win / win : 0;
	double p50 = lg_hist_pct(0.50), p90 = lg_hist_pct(0.90), p99 = lg_hist_pct(0.99);
	double pmax = (double)g.lat_max_us / 1000.0;
	long hz = sysconf(_SC_CLK_TCK);
	double srv_cpu = g.srv_cpu_ok && win > 0 ? (double)(g.srv_ticks1 - g.srv_ticks0) / (double)hz / win * 100 : -1;
	double gen_cpu = g.self_cpu_ok && win > 0 ? (double)(g.self_ticks1 - g.self_ticks0) / (double)hz / win * 100 : -1;
	uint64_t expected = lg_expected_deliveries();
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
		       o->clients, lg_secs(g.t_joined - g.t_setup), opers, o->senders);
	}
	else
		printf("  set-up        handshakes %.1f s, room of %u made %.1f s, all joined %.1f s\n",
		       lg_secs(g.t_registered - g.t_setup), o->clients,
		       lg_secs(g.t_created - g.t_registered), lg_secs(g.t_joined - g.t_created));
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
	       O_BATCH, O_NONODELAY, O_TIMELINE, O_INTERVAL, O_SETUP, O_LABEL, O_FOLLOWER, O_GO,
	       O_HELP };
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
		{"interval", required_argument, NULL, O_INTERVAL},
		{"setup-timeout", required_argument, NULL, O_SETUP},
		{"label", required_argument, NULL, O_LABEL},
		{"follower", required_argument, NULL, O_FOLLOWER},
		{"go-file", required_argument, NULL, O_GO},
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
		case O_INTERVAL:
			if (parse_secs(optarg, 0.1, 3600, &o->interval))
				goto bad;
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
		case O_FOLLOWER:
			if (!*optarg || strlen(optarg) >= sizeof o->follower)
				goto bad;
			snprintf(o->follower, sizeof o->follower, "%s", optarg);
			break;
		case O_GO:
			if (!*optarg || strlen(optarg) >= sizeof o->go_file)
				goto bad;
			snprintf(o->go_file, sizeof o->go_file, "%s", optarg);
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
	if (!o->irc && o->clients + (*o->follower ? 1 : 0) > LG_CC_MAX_CLIENTS)
		lg_die("a Crypto Cat room holds at most %d members", LG_CC_MAX_CLIENTS);
	if (o->senders > o->clients)
		lg_die("more senders than clients");
	if (!o->irc && o->size > PROTO_TEXT_MAX)
		lg_die("a message text is at most %d bytes", PROTO_TEXT_MAX);
	if (o->irc && *o->follower)
		lg_die("--follower is for Crypto Cat");
	if (inet_pton(AF_INET, o->host, &g.addr.sin_addr) != 1)
		lg_die("--host takes an IPv4 address");
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
	g.hist = calloc(LG_HIST_LEN, sizeof *g.hist);
	if (!g.conns || !g.senders || !g.hist)
		lg_die("out of memory");
	if (!g.o.irc) {
		if (crypto_init())
			lg_die("OpenSSL lacks what Crypto Cat needs");
		lg_keys_prepare();
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
			lg_die("out of memory");
		buf_init(&c->out, LG_OUT_MAX);
		buf_init(&c->plain, LG_OUT_MAX);
	}
	for (unsigned i = 0; i < g.o.senders; i++)
		g.senders[i].c = &g.conns[i];

	g.base = event_base_new();
	g.tick_ev = g.base ? event_new(g.base, -1, EV_PERSIST, lg_on_tick, NULL) : NULL;
	if (!g.tick_ev)
		lg_die("cannot start the event loop");
	struct timeval tick = {0, 20000};
	event_add(g.tick_ev, &tick);
	g.t_setup = lg_now_ns();
	g.phase = PH_CONNECT;
	lg_open_more();
	lg_flush_dirty();
	if (!g.exit_code)
		event_base_dispatch(g.base);
	if (!g.exit_code && g.phase == PH_DONE)
		report();

	for (unsigned i = 0; i < n; i++) {
		struct lg_conn *c = &g.conns[i];
		lg_conn_close(c);
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
	if (g.interval_ev)
		event_free(g.interval_ev);
	free(g.ivl_hist);
	event_free(g.tick_ev);
	event_base_free(g.base);
	free(g.conns);
	free(g.hist);
	free(g.keys);
	free(g.fp);
	free(g.seed);
	free(g.spub);
	if (g.recv_priv)
		mem_wipe(g.recv_priv, g.o.clients * sizeof *g.recv_priv);
	free(g.recv_priv);
	free(g.recv_pub);
	for (unsigned i = 0; g.senders && i < g.o.senders; i++) {
		if (g.senders[i].keys)
			mem_wipe(g.senders[i].keys, g.senders[i].keys_cap * sizeof *g.senders[i].keys);
		free(g.senders[i].keys);
	}
	free(g.senders);
	return g.exit_code;
}
