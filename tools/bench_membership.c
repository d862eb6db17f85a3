/* The cost of one membership request to a room with a long chain, on this
 * machine, against a real cryptocat-server: docs/BENCHMARKS.md, section 8.
 *
 * One user (an RSA key of --rsa-bits) creates a room and signs REKEY records
 * into it until the chain holds --records records; each rekey is a real
 * ROOM_REKEY request with one wrapped key (junk bytes: the server stores,
 * never opens them). Then, at that length, three kinds of request are timed
 * one at a time (request sent, answer read):
 *
 *   forged   a REKEY on the current head whose signature does not verify
 *            (the junk any registered user can send): refused, security
 *   stale    a well-signed REKEY on an old head: refused, stale_epoch
 *   rekey    the last --valid of the build-up: accepted, committed, OK
 *
 * Every answer is checked (a forged record accepted fails the program), so
 * the short run in the test suite (bench_membership_smoke) can fail.
 *
 *   bench_membership [--server PATH] [--records N] [--requests N]
 *                    [--valid N] [--rsa-bits BITS] [--dir DIR]
 *                    [--chain-cache N]   (the server's; 0: no cache) */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>

#include "crypto/crypto.h"
#include "e2e/e2e.h"
#include "proto/frame.h"
#include "proto/msg.h"
#include "proto/room.h"
#include "transport/chan.h"
#include "util/buf.h"
#include "benchserver.h"
#include "benchsession.h"

#define NICK "bench"

static struct {
	const char *server;
	unsigned records, requests, valid, rsa_bits;
	char chain_cache[16];
	char dir[512];
	pid_t pid;
	struct benchsession s;
	struct crypto_rsa_key *key;
	uint8_t fp[CRYPTO_FINGERPRINT_LEN];
	uint8_t room[PROTO_ROOM_ID_LEN];
	uint32_t count;                      /* records in the chain */
	uint8_t (*hashes)[PROTO_HASH_LEN];   /* each record's chain hash */
	uint32_t next_request;
} g;

/* why NULL: what says it all (a session's failure, "read: ..."). */
static void die(const char *what, const char *why)
{
	if (why)
		fprintf(stderr, "bench_membership: %s: %s\n", what, why);
	else
		fprintf(stderr, "bench_membership: %s\n", what);
	if (g.pid > 0)
		kill(g.pid, SIGKILL);
	exit(1);
}

static void check(cc_err err, const char *what)
{
	if (err != CC_OK)
		die(what, cc_err_str(err));
}

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* ---- the server --------------------------------------------------------- */

static int server_start(void)
{
	int port = benchserver_free_port();
	char listen[32], data[600], log[600];
	if (port < 0)
		die("a free port", strerror(errno));
	snprintf(listen, sizeof listen, "127.0.0.1:%d", port);
	snprintf(data, sizeof data, "%s/data", g.dir);
	snprintf(log, sizeof log, "%s/server.log", g.dir);
	char *argv[] = {(char *)g.server, "--listen", listen, "--data", data, "--rsa-bits", "2048",
			"--log-level", "warn", "--chain-cache", g.chain_cache, NULL};
	if ((g.pid = benchserver_spawn(argv, log)) < 0)
		die("fork", strerror(errno));
	int fd = benchserver_wait(g.pid, port, 30);  /* the server makes its key first */
	if (fd == -1) {
		g.pid = 0;
		die("the server exited; see", log);
	}
	if (fd < 0)
		die("the server did not start; see", log);
	return fd;
}

/* ---- the session -------------------------------------------------------- */

/* benchsession.h's calls return a failure; this program ends on one. */
static void flush_out(void)
{
	if (!benchsession_flush(&g.s))
		die(g.s.why, NULL);
}

/* The next inner message (views valid until the next call). */
static void next_msg(struct proto_msg *m)
{
	if (!benchsession_next(&g.s, m))
		die(g.s.why, NULL);
}

static void session_open(void)
{
	struct proto_msg m;
	buf_init(&g.s.out, 2 * PROTO_FRAME_MAX_LIMIT);
	check(chan_client_new(g.key, NICK, PROTO_FRAME_MAX_DEFAULT, &g.s.ch), "session");
	check(chan_client_start(g.s.ch, &g.s.out), "hello");
	flush_out();
	do
		next_msg(&m);
	while (m.type == PROTO_PING);
	if (m.type != PROTO_WELCOME)
		die("handshake", "no WELCOME");
	chan_set_send_cap(g.s.ch, m.u.welcome.max_frame);
}

/* Sends a request and returns its answer's type (OK or ERROR code in *code). */
static uint8_t request(struct proto_msg *req, uint16_t *code)
{
	struct proto_msg m;
	uint32_t id = ++g.next_request;
	if (req->type == PROTO_ROOM_CREATE)
		req->u.room_create.request_id = id;
	else
		req->u.room_rekey.request_id = id;
	check(chan_send_msg(g.s.ch, req, &g.s.out), "send");
	flush_out();
	for (;;) {
		next_msg(&m);
		if (m.type == PROTO_OK || m.type == PROTO_ERROR) {
			if (proto_msg_request_id(&m) != id)
				die("answer", "for another request");
			*code = m.type == PROTO_ERROR ? m.u.error.code : 0;
			return m.type;
		}
	}
}

/* ---- records ------------------------------------------------------------ */

/* The record of seq (on the head of seq - 1), signed; forged: its signature
 * spoilt. */
static void record_make(uint8_t action, uint32_t seq, bool forged, struct buf *out)
{
	struct proto_record r = {0};
	r.version = PROTO_RECORD_VERSION;
	memcpy(r.room_id, g.room, PROTO_ROOM_ID_LEN);
	r.seq = seq;
	if (seq)
		memcpy(r.prev_hash, g.hashes[seq - 1], PROTO_HASH_LEN);
	r.action = action;
	r.actor = r.subject = proto_bytes_str(NICK);
	memcpy(r.actor_fp, g.fp, PROTO_FINGERPRINT_LEN);
	memcpy(r.subject_fp, g.fp, PROTO_FINGERPRINT_LEN);
	r.epoch = seq;  /* every record opens an epoch */
	check(crypto_random_bytes(r.key_commit, sizeof r.key_commit), "random");
	r.time_ms = 1700000000000ull + seq;
	buf_reset(out);
	check(e2e_record_sign(g.key, &r, out), "sign");
	if (forged)
		out->data[out->len - 1] ^= 1;
}

/* A ROOM_CREATE or ROOM_REKEY carrying rec, with its one (junk) key. */
static uint8_t record_send(uint8_t type, uint32_t epoch, const struct buf *rec, uint16_t *code)
{
	struct buf records, keys;
	uint8_t wrapped[E2E_WRAPPED_LEN], title[40];
	struct proto_msg m = {.type = type};
	struct proto_blob_item bi = {{rec->data, rec->len}};
	struct proto_wrapped_item wi = {proto_bytes_str(NICK), epoch, {wrapped, sizeof wrapped}};

	memset(wrapped, 0x5a, sizeof wrapped);
	memset(title, 0x3c, sizeof title);
	buf_init(&records, PROTO_FRAME_MAX_LIMIT);
	buf_init(&keys, PROTO_FRAME_MAX_LIMIT);
	check(proto_item_encode(PROTO_ITEM_BLOB, &bi, &records), "records");
	check(proto_item_encode(PROTO_ITEM_WRAPPED, &wi, &keys), "keys");
	if (type == PROTO_ROOM_CREATE) {
		memcpy(m.u.room_create.room_id, g.room, PROTO_ROOM_ID_LEN);
		m.u.room_create.title_ct = (struct proto_bytes){title, sizeof title};
		m.u.room_create.records = (struct proto_list){1, {records.data, records.len}};
		m.u.room_create.keys = (struct proto_list){1, {keys.data, keys.len}};
	} else {
		memcpy(m.u.room_rekey.room_id, g.room, PROTO_ROOM_ID_LEN);
		m.u.room_rekey.title_ct = (struct proto_bytes){title, sizeof title};
		m.u.room_rekey.records = (struct proto_list){1, {records.data, records.len}};
		m.u.room_rekey.keys = (struct proto_list){1, {keys.data, keys.len}};
	}
	uint8_t answer = request(&m, code);
	buf_free(&records);
	buf_free(&keys);
	return answer;
}

/* Appends the next record; returns the time the request took. */
static double chain_grow(struct buf *rec)
{
	uint16_t code;
	uint32_t seq = g.count;
	record_make(seq ? PROTO_REC_REKEY : PROTO_REC_CREATE, seq, false, rec);
	double t0 = now_ms();
	uint8_t answer = record_send(seq ? PROTO_ROOM_REKEY : PROTO_ROOM_CREATE, seq, rec, &code);
	double took = now_ms() - t0;
	if (answer != PROTO_OK)
		die("a rekey was refused", cc_err_code((cc_err)code));
	e2e_record_hash(rec->data, rec->len, g.hashes[seq]);
	g.count++;
	return took;
}

/* Times `requests` refused requests: each must be refused with want. */
static double time_refused(bool forged, cc_err want, struct buf *rec)
{
	double total = 0;
	for (unsigned i = 0; i < g.requests; i++) {
		uint16_t code;
		uint32_t seq = forged ? g.count : g.count / 2;
		record_make(PROTO_REC_REKEY, seq, forged, rec);
		double t0 = now_ms();
		uint8_t answer = record_send(PROTO_ROOM_REKEY, seq, rec, &code);
		total += now_ms() - t0;
		if (answer != PROTO_ERROR || code != want)
			die(forged ? "a forged record" : "a stale record",
			    answer == PROTO_OK ? "accepted" : cc_err_code((cc_err)code));
	}
	return total / g.requests;
}

static void usage(void)
{
	fprintf(stderr, "usage: bench_membership [--server PATH] [--records N] [--requests N]\n"
			"                        [--valid N] [--rsa-bits BITS] [--dir DIR]\n"
			"                        [--chain-cache N]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"server", required_argument, NULL, 's'}, {"records", required_argument, NULL, 'r'},
		{"requests", required_argument, NULL, 'q'}, {"valid", required_argument, NULL, 'v'},
		{"rsa-bits", required_argument, NULL, 'b'}, {"dir", required_argument, NULL, 'd'},
		{"chain-cache", required_argument, NULL, 'c'}, {NULL, 0, NULL, 0}};
	const char *dir = NULL;
	int opt;

	g.server = "./cryptocat-server";
	g.records = 790;
	g.requests = 50;
	g.valid = 10;
	g.rsa_bits = 2048;
	snprintf(g.chain_cache, sizeof g.chain_cache, "128");
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 's': g.server = optarg; break;
		case 'r': g.records = (unsigned)atoi(optarg); break;
		case 'q': g.requests = (unsigned)atoi(optarg); break;
		case 'v': g.valid = (unsigned)atoi(optarg); break;
		case 'b': g.rsa_bits = (unsigned)atoi(optarg); break;
		case 'd': dir = optarg; break;
		case 'c':
			snprintf(g.chain_cache, sizeof g.chain_cache, "%u", (unsigned)atoi(optarg));
			break;
		default: usage();
		}
	}
	if (optind != argc || g.records < 2 || g.records > 10000 || g.requests < 1 ||
	    g.valid < 1 || g.valid >= g.records)
		usage();
	signal(SIGPIPE, SIG_IGN);
	if (dir)
		snprintf(g.dir, sizeof g.dir, "%s", dir);
	else
		snprintf(g.dir, sizeof g.dir, "%s/cryptocat-bench-membership-XXXXXX",
			 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!dir && !mkdtemp(g.dir))
		die("mkdtemp", strerror(errno));
	if (dir && mkdir(g.dir, 0700) && errno != EEXIST)
		die(g.dir, strerror(errno));
	check(crypto_init(), "crypto");
	check(crypto_rsa_generate(g.rsa_bits, &g.key), "key");
	check(crypto_rsa_fingerprint(g.key, g.fp), "fingerprint");
	check(crypto_random_bytes(g.room, sizeof g.room), "random");
	g.hashes = calloc(g.records, sizeof *g.hashes);
	if (!g.hashes)
		die("hashes", "out of memory");

	g.s.fd = server_start();
	session_open();
	struct buf rec;
	buf_init(&rec, PROTO_RECORD_MAX);
	double valid_ms = 0;
	while (g.count < g.records) {
		double took = chain_grow(&rec);
		if (g.count > g.records - g.valid)
			valid_ms += took;
	}
	double forged_ms = time_refused(true, CC_ERR_SECURITY, &rec);
	double stale_ms = time_refused(false, CC_ERR_STALE_EPOCH, &rec);
	printf("membership requests to a room of %u records (RSA-%u actor, --chain-cache %s),"
	       " one at a time:\n", g.count, g.rsa_bits, g.chain_cache);
	printf("  forged  %8.2f ms  (mean of %u, refused: security)\n", forged_ms, g.requests);
	printf("  stale   %8.2f ms  (mean of %u, refused: stale_epoch)\n", stale_ms, g.requests);
	printf("  rekey   %8.2f ms  (mean of the last %u accepted and committed)\n",
	       valid_ms / g.valid, g.valid);

	buf_free(&rec);
	buf_free(&g.s.out);
	chan_free(g.s.ch);
	close(g.s.fd);
	crypto_rsa_free(g.key);
	free(g.hashes);
	int status = benchserver_stop(g.pid, -1);
	if (!dir) {
		char cmd[600];
		snprintf(cmd, sizeof cmd, "rm -rf '%s'", g.dir);
		if (system(cmd) != 0)
			fprintf(stderr, "bench_membership: could not remove %s\n", g.dir);
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		die("the server", "did not exit cleanly");
	return 0;
}
