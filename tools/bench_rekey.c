/* The cost of one new epoch in a room of N members (1000 by default), on
 * this machine: what the member who makes it does, and what one member who
 * receives it does, phase by phase, with the functions the client runs
 * (src/e2e/, src/store/client_store). docs/BENCHMARKS.md, section 7.
 *
 *   check    the room as ROOM_FETCH gives it: the signed chain (CREATE and
 *            N - 1 ADDs) verified record by record, and every member's
 *            receiving-key certificate verified under their identity key
 *   make     a fresh secret and its commitment, the REKEY record signed
 *            (RSA-PSS) and applied, the secret wrapped (HPKE) to all N
 *            members and the ROOM_REKEY request encoded
 *   take     the maker's side: the epoch's base and N chain keys, stored in
 *            client.db in one transaction (secure_delete on)
 *   receive  one member's side: its wrapped secret found and opened, checked
 *            against the commitment, then the same as take
 *
 * Every run checks that the receiving member derives the very chain keys
 * the maker stored: a broken key schedule fails the program, so the short
 * run in the test suite (bench_rekey_smoke) can fail. The members' RSA-2048
 * identity keys are made once and kept in --keys DIR (the load generator's
 * directory by default: bench0.pem, bench1.pem, ...). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "crypto/crypto.h"
#include "e2e/e2e.h"
#include "proto/frame.h"
#include "proto/msg.h"
#include "proto/room.h"
#include "store/client_store.h"
#include "util/buf.h"
#include "util/clock.h"
#include "util/log.h"

struct member {
	struct crypto_rsa_key *key;
	uint8_t fp[CRYPTO_FINGERPRINT_LEN];
	char nick[16];
	uint8_t recv_priv[CRYPTO_X25519_LEN];
	uint8_t recv_pub[CRYPTO_X25519_LEN];
	uint64_t recv_created_ms;
	struct buf recv_cert;
};

static struct {
	unsigned members;
	unsigned runs;
	char keys[1024];
	struct member *m;
	uint8_t room[PROTO_ROOM_ID_LEN];
	struct buf *records;   /* the chain before the rekey, encoded */
} g;

static void die(const char *fmt, const char *what)
{
	fprintf(stderr, "bench_rekey: ");
	fprintf(stderr, fmt, what);
	fprintf(stderr, "\n");
	exit(1);
}

static void check(cc_err err, const char *what)
{
	if (err != CC_OK) {
		fprintf(stderr, "bench_rekey: %s: %s\n", what, cc_err_str(err));
		exit(1);
	}
}

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static const struct crypto_rsa_key *lookup(void *ctx, const uint8_t fp[PROTO_FINGERPRINT_LEN])
{
	(void)ctx;
	for (unsigned i = 0; i < g.members; i++)
		if (memcmp(g.m[i].fp, fp, CRYPTO_FINGERPRINT_LEN) == 0)
			return g.m[i].key;
	return NULL;
}

/* ---- set-up ------------------------------------------------------------------------ */

static void load_keys(void)
{
	char path[1200];
	unsigned made = 0;
	double t = now_ms();
	if (mkdir(g.keys, 0700) != 0 && errno != EEXIST)
		die("cannot create %s", g.keys);
	for (unsigned i = 0; i < g.members; i++) {
		struct member *m = &g.m[i];
		snprintf(path, sizeof path, "%s/bench%u.pem", g.keys, i);
		if (access(path, R_OK) != 0) {
			if (!made++)
				fprintf(stderr, "bench_rekey: making the missing RSA-2048 identity "
						"keys in %s (kept for later runs)\n", g.keys);
			check(crypto_rsa_generate(2048, &m->key), "making an identity key");
			check(crypto_rsa_save_private_file(m->key, path), "saving an identity key");
		} else {
			check(crypto_rsa_load_private_file(path, &m->key), path);
		}
		check(crypto_rsa_fingerprint(m->key, m->fp), "fingerprint");
		snprintf(m->nick, sizeof m->nick, "bench%u", i);
		/* Each member's receiving key, certified as RECEIVE_KEY carries it. */
		check(crypto_x25519_keypair(m->recv_priv, m->recv_pub), "receiving key");
		m->recv_created_ms = clock_now_ms();
		buf_init(&m->recv_cert, PROTO_SIGN_CERT_MAX);
		check(e2e_recv_cert_make(m->key, 1, m->recv_created_ms, m->recv_pub, &m->recv_cert),
		      "receiving-key certificate");
	}
	/* The certificate covers the time: another time must not verify. */
	if (e2e_recv_cert_verify(g.m[0].key, 1, g.m[0].recv_created_ms + 1, g.m[0].recv_pub,
				 g.m[0].recv_cert.data, g.m[0].recv_cert.len) == CC_OK)
		die("%s", "a receiving-key certificate verified with another time");
	if (made)
		fprintf(stderr, "bench_rekey: %u keys made in %.1f s\n", made, (now_ms() - t) / 1e3);
}

/* The record for the chain's next place; key_commit left to the caller. */
static void record_next(const struct e2e_chain *c, struct proto_record *rec, uint8_t action,
			const struct member *actor, const struct member *subject, uint32_t epoch)
{
	memset(rec, 0, sizeof *rec);
	rec->version = PROTO_RECORD_VERSION;
	memcpy(rec->room_id, c->room_id, PROTO_ROOM_ID_LEN);
	rec->seq = c->count;
	if (c->count)
		memcpy(rec->prev_hash, c->last_hash, PROTO_HASH_LEN);
	rec->action = action;
	rec->actor = proto_bytes_str(actor->nick);
	memcpy(rec->actor_fp, actor->fp, PROTO_FINGERPRINT_LEN);
	rec->subject = proto_bytes_str(subject->nick);
	memcpy(rec->subject_fp, subject->fp, PROTO_FINGERPRINT_LEN);
	rec->epoch = epoch;
	rec->time_ms = clock_now_ms();
}

/* A room made by bench0 with everyone added, one epoch per ADD, as /create
 * makes it: g.records holds its records. */
static void build_room(void)
{
	struct e2e_chain c;
	uint8_t secret[E2E_KEY_LEN];
	check(crypto_random_bytes(g.room, sizeof g.room), "room id");
	e2e_chain_init(&c, g.room);
	g.records = calloc(g.members, sizeof *g.records);
	if (!g.records)
		die("%s", "out of memory");
	for (unsigned i = 0; i < g.members; i++) {
		struct proto_record rec;
		record_next(&c, &rec, i ? PROTO_REC_ADD : PROTO_REC_CREATE, &g.m[0], &g.m[i], i);
		check(e2e_epoch_secret_new(secret), "secret");
		e2e_key_commit(g.room, i, secret, rec.key_commit);
		buf_init(&g.records[i], PROTO_RECORD_MAX);
		check(e2e_record_sign(g.m[0].key, &rec, &g.records[i]), "signing a record");
		check(e2e_chain_apply(&c, g.records[i].data, g.records[i].len, lookup, NULL, NULL),
		      "building the room");
	}
	mem_wipe(secret, sizeof secret);
	e2e_chain_free(&c);
}

/* ---- the phases -------------------------------------------------------------------- */

/* check: the chain and the directory, as a client verifies a ROOM_FETCH. */
static void phase_check(struct e2e_chain *c)
{
	e2e_chain_init(c, g.room);
	for (unsigned i = 0; i < g.members; i++)
		check(e2e_chain_apply(c, g.records[i].data, g.records[i].len, lookup, NULL, NULL),
		      "verifying the chain");
	for (unsigned i = 0; i < g.members; i++) {
		const struct member *m = &g.m[i];
		check(e2e_recv_cert_verify(m->key, 1, m->recv_created_ms, m->recv_pub,
					   m->recv_cert.data, m->recv_cert.len),
		      "verifying a receiving-key certificate");
	}
}

/* make: the secret, the REKEY record and the wraps; request holds the
 * encoded ROOM_REKEY. */
static void phase_make(struct e2e_chain *c, uint8_t secret[E2E_KEY_LEN], struct buf *request)
{
	struct proto_record rec;
	struct buf record, keys, one;
	uint32_t epoch = c->epoch + 1;

	check(e2e_epoch_secret_new(secret), "secret");
	record_next(c, &rec, PROTO_REC_REKEY, &g.m[0], &g.m[0], epoch);
	e2e_key_commit(g.room, epoch, secret, rec.key_commit);
	buf_init(&record, PROTO_RECORD_MAX);
	check(e2e_record_sign(g.m[0].key, &rec, &record), "signing the REKEY");
	check(e2e_chain_apply(c, record.data, record.len, lookup, NULL, NULL), "applying the REKEY");

	buf_init(&keys, (size_t)g.members * 128);
	buf_init(&one, PROTO_WRAPPED_MAX);
	for (unsigned i = 0; i < g.members; i++) {
		const struct member *m = &g.m[i];
		struct proto_wrapped_item w;
		buf_reset(&one);
		check(e2e_key_wrap(m->recv_pub, 1, m->fp, g.room, epoch, secret, &one), "wrapping");
		w.nick = proto_bytes_str(m->nick);
		w.epoch = epoch;
		w.wrapped = (struct proto_bytes){one.data, one.len};
		check(proto_item_encode(PROTO_ITEM_WRAPPED, &w, &keys), "encoding a wrapped key");
	}
	struct proto_msg m = {.type = PROTO_ROOM_REKEY};
	struct buf records;
	buf_init(&records, PROTO_RECORD_MAX + 2);
	struct proto_blob_item blob = {.data = {record.data, record.len}};
	check(proto_item_encode(PROTO_ITEM_BLOB, &blob, &records), "encoding the record");
	m.u.room_rekey.request_id = 1;
	memcpy(m.u.room_rekey.room_id, g.room, PROTO_ROOM_ID_LEN);
	m.u.room_rekey.records = (struct proto_list){1, {records.data, records.len}};
	m.u.room_rekey.keys = (struct proto_list){(uint16_t)g.members, {keys.data, keys.len}};
	buf_reset(request);
	check(proto_msg_encode(&m, request), "encoding ROOM_REKEY");
	buf_free(&records);
	buf_free(&one);
	buf_free(&keys);
	buf_free(&record);
}

/* The epoch's chain keys from its secret, stored as the client stores them. */
static void take(struct client_store *cs, const struct e2e_chain *c,
		 const uint8_t secret[E2E_KEY_LEN], uint8_t (*cks)[E2E_KEY_LEN])
{
	uint8_t base[E2E_KEY_LEN];
	uint8_t (*fps)[CRYPTO_FINGERPRINT_LEN] = calloc(c->nmembers, sizeof *fps);
	if (!fps)
		die("%s", "out of memory");
	const struct e2e_epoch *e = e2e_chain_epoch(c, c->epoch);
	check(e2e_epoch_base(secret, g.room, c->epoch, e->open_hash, base), "base");
	for (size_t i = 0; i < c->nmembers; i++) {
		memcpy(fps[i], c->members[i].fp, CRYPTO_FINGERPRINT_LEN);
		check(e2e_chain_start(base, fps[i], cks[i]), "chain key");
	}
	check(cstore_epoch_add(cs, g.room, c->epoch, (const uint8_t(*)[CSTORE_FP_LEN])fps,
			       (const uint8_t(*)[CSTORE_KEY_LEN])cks, c->nmembers),
	      "storing the chain keys");
	mem_wipe(base, sizeof base);
	free(fps);
}

/* receive: member `who` finds its wrapped secret in the request and takes it. */
static void phase_receive(struct client_store *cs, const struct e2e_chain *c,
			  const struct buf *request, unsigned who, uint8_t (*cks)[E2E_KEY_LEN])
{
	struct proto_msg m;
	struct proto_list_iter it;
	struct proto_wrapped_item w;
	uint8_t secret[E2E_KEY_LEN], commit[PROTO_HASH_LEN];
	uint32_t version;
	int found = 0;

	check(proto_msg_decode(request->data, request->len, &m), "decoding ROOM_REKEY");
	proto_list_iter_init(&it, &m.u.room_rekey.keys, PROTO_ITEM_WRAPPED);
	while (!found && proto_list_next(&it, &w) == CC_OK) {
		if (w.nick.len != strlen(g.m[who].nick) ||
		    memcmp(w.nick.p, g.m[who].nick, w.nick.len) != 0)
			continue;
		check(e2e_wrapped_version(w.wrapped.p, w.wrapped.len, &version), "version");
		check(e2e_key_unwrap(g.m[who].recv_priv, g.m[who].fp, g.room, w.epoch, w.wrapped.p,
				     w.wrapped.len, secret),
		      "opening the wrapped secret");
		found = 1;
	}
	if (!found)
		die("%s", "no wrapped secret for the receiving member");
	e2e_key_commit(g.room, c->epoch, secret, commit);
	if (!crypto_ct_equal(commit, e2e_chain_commit(c, c->epoch), sizeof commit))
		die("%s", "the opened secret does not match the commitment");
	take(cs, c, secret, cks);
	mem_wipe(secret, sizeof secret);
}

/* ---- the runs ----------------------------------------------------------------------- */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static void report(const char *name, const char *what, double *t, unsigned n)
{
	qsort(t, n, sizeof *t, cmp_double);
	printf("%-8s %9.1f %9.1f %9.1f   %s\n", name, t[0], t[n / 2], t[n - 1], what);
}

static void usage(FILE *out)
{
	fprintf(out, "usage: bench_rekey [--members N] [--runs R] [--keys DIR]\n"
		     "  --members N  room size (default 1000)\n"
		     "  --runs R     new epochs to time (default 5)\n"
		     "  --keys DIR   where the RSA-2048 identity keys are kept (default\n"
		     "               /tmp/cryptocat-bench-keys, shared with loadgen)\n");
}

static unsigned parse_count(const char *s, unsigned max, const char *what)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v == 0 || v > max)
		die("bad %s", what);
	return (unsigned)v;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"members", required_argument, NULL, 'm'},
		{"runs", required_argument, NULL, 'r'},
		{"keys", required_argument, NULL, 'k'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int opt;
	g.members = 1000;
	g.runs = 5;
	snprintf(g.keys, sizeof g.keys, "/tmp/cryptocat-bench-keys");
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 'm': g.members = parse_count(optarg, 4096, "--members"); break;
		case 'r': g.runs = parse_count(optarg, 1000, "--runs"); break;
		case 'k': snprintf(g.keys, sizeof g.keys, "%s", optarg); break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc || g.members < 2) {
		usage(stderr);
		return 2;
	}
	log_set_level(LOG_LEVEL_WARN);
	check(crypto_init(), "crypto_init");
	g.m = calloc(g.members, sizeof *g.m);
	uint8_t (*maker_cks)[E2E_KEY_LEN] = calloc(g.members, sizeof *maker_cks);
	uint8_t (*member_cks)[E2E_KEY_LEN] = calloc(g.members, sizeof *member_cks);
	double *t[5];
	for (int i = 0; i < 5; i++)
		t[i] = calloc(g.runs, sizeof *t[i]);
	if (!g.m || !maker_cks || !member_cks || !t[0] || !t[1] || !t[2] || !t[3] || !t[4])
		die("%s", "out of memory");
	load_keys();
	build_room();

	/* The maker's and one member's client.db, fresh for each run, in a
	 * temporary directory. */
	char dir[] = "/tmp/cryptocat-bench-rekey-XXXXXX", path[sizeof dir + 32];
	if (!mkdtemp(dir))
		die("%s", "cannot make a temporary directory");

	struct buf request;
	buf_init(&request, PROTO_FRAME_MAX_DEFAULT);
	size_t request_len = 0;
	unsigned receiver = g.members - 1;
	for (unsigned run = 0; run < g.runs; run++) {
		struct e2e_chain c;
		struct client_store *maker, *member;
		uint8_t secret[E2E_KEY_LEN];
		snprintf(path, sizeof path, "%s/maker%u.db", dir, run);
		check(cstore_open(path, &maker), "opening the maker's client.db");
		snprintf(path, sizeof path, "%s/member%u.db", dir, run);
		check(cstore_open(path, &member), "opening the member's client.db");
		double t0 = now_ms();
		phase_check(&c);
		double t1 = now_ms();
		phase_make(&c, secret, &request);
		double t2 = now_ms();
		take(maker, &c, secret, maker_cks);
		mem_wipe(secret, sizeof secret);
		double t3 = now_ms();
		phase_receive(member, &c, &request, receiver, member_cks);
		double t4 = now_ms();
		if (memcmp(maker_cks, member_cks, (size_t)g.members * E2E_KEY_LEN) != 0)
			die("%s", "the member's chain keys differ from the maker's");
		t[0][run] = t1 - t0;
		t[1][run] = t2 - t1;
		t[2][run] = t3 - t2;
		t[3][run] = t4 - t3;
		t[4][run] = t3 - t0;
		request_len = request.len;
		e2e_chain_free(&c);
		cstore_close(maker);
		cstore_close(member);
	}

	printf("one new epoch of a room of %u members, %u runs (wall-clock ms; "
	       "ROOM_REKEY request %zu bytes)\n\n",
	       g.members, g.runs, request_len);
	printf("%-8s %9s %9s %9s\n", "phase", "min", "median", "max");
	report("check", "the fetched chain and every receiving-key certificate verified", t[0],
	       g.runs);
	report("make", "secret, REKEY signed, wrapped to every member, request encoded", t[1],
	       g.runs);
	report("take", "the maker's base and chain keys, stored", t[2], g.runs);
	report("maker", "check + make + take: the rekey, on the maker's side", t[4], g.runs);
	report("receive", "one member: its secret opened, checked, chain keys stored", t[3],
	       g.runs);

	snprintf(path, sizeof path, "rm -rf '%s'", dir);
	if (system(path) != 0)
		fprintf(stderr, "bench_rekey: cannot remove %s\n", dir);
	for (unsigned i = 0; i < g.members; i++) {
		crypto_rsa_free(g.m[i].key);
		buf_free(&g.m[i].recv_cert);
		buf_free(&g.records[i]);
		mem_wipe(g.m[i].recv_priv, sizeof g.m[i].recv_priv);
	}
	free(g.records);
	free(g.m);
	mem_wipe(maker_cks, (size_t)g.members * E2E_KEY_LEN);
	mem_wipe(member_cks, (size_t)g.members * E2E_KEY_LEN);
	free(maker_cks);
	free(member_cks);
	for (int i = 0; i < 5; i++)
		free(t[i]);
	buf_free(&request);
	return 0;
}
