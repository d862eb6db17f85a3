/* Unit tests of client.db's sealed secret columns (store/client_store_seal.c)
 * with the client core's real sealer (client/core/secrets.c: AES-256-GCM
 * under a key scrypt derives from a passphrase): a round trip of the keys
 * and the rooms' titles, a wrong key, values swapped between rows or paired
 * with another number refused (each with the swap undone as its control), a locked store that neither reads
 * nor writes, resealing to clear and back, a failed reseal and one killed
 * half way that change nothing, the rules of the at_rest row, the upgrade of a version-3 file,
 * and no key in clear anywhere in the file once it is sealed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "client/core/home.h"
#include "store/client_store.h"
#include "support/secrets_scan.h"
#include "support/tmpdir.h"

struct fixture {
	struct tmpdir tmp;      /* first: tmpdir_fixture_new */
	struct client_store *cs;
	struct home_secrets *s1, *s2;
	struct cstore_at_rest row1, row2;   /* s1's and s2's fresh rows */
	uint8_t room[CSTORE_ROOM_ID_LEN], room2[CSTORE_ROOM_ID_LEN];
	uint8_t senders[2][CSTORE_FP_LEN];
	uint8_t chain[2][CSTORE_KEY_LEN];
	struct cstore_recv_key recv[2];
};

static const char *const titles[2] = {"Friday plans, members only", "The other room's title"};

static void fill(uint8_t seed, void *p, size_t n)
{
	uint8_t *b = p;
	for (size_t i = 0; i < n; i++)
		b[i] = (uint8_t)(seed * 31 + i * 7 + 1);
}

static void sql(const char *path, const char *text)
{
	sqlite3 *db = NULL;
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
	char *msg = NULL;
	int rc = sqlite3_exec(db, text, NULL, NULL, &msg);
	if (rc != SQLITE_OK)
		fprintf(stderr, "sql: %s\n", msg ? msg : "?");
	sqlite3_free(msg);
	assert_int_equal(rc, SQLITE_OK);
	assert_int_equal(sqlite3_close(db), SQLITE_OK);
}

static int setup(void **state)
{
	struct fixture *f = tmpdir_fixture_new(sizeof *f, "cc_test_sealed", "client.db");
	if (!f || crypto_init() || home_secrets_new("first passphrase", 16, &f->s1) ||
	    home_secrets_new("second passphrase", 17, &f->s2) ||
	    home_secrets_fresh(f->s1, &f->row1) || home_secrets_fresh(f->s2, &f->row2) ||
	    cstore_open(f->tmp.path, &f->cs)) {
		tmpdir_fixture_free(f);
		return -1;
	}
	fill(1, f->room, sizeof f->room);
	fill(2, f->room2, sizeof f->room2);
	for (uint8_t i = 0; i < 2; i++) {
		fill((uint8_t)(10 + i), f->senders[i], CSTORE_FP_LEN);
		fill((uint8_t)(20 + i), f->chain[i], CSTORE_KEY_LEN);
		f->recv[i].version = i + 1u;
		f->recv[i].created_ms = 1000u * (i + 1u);
		fill((uint8_t)(30 + i), f->recv[i].priv, CSTORE_KEY_LEN);
		fill((uint8_t)(40 + i), f->recv[i].pub, CSTORE_KEY_LEN);
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	cstore_close(f->cs);
	home_secrets_free(f->s1);
	home_secrets_free(f->s2);
	tmpdir_fixture_free(f);
	return 0;
}

/* The fixture's keys stored (two receiving keys, an epoch of two chains,
 * the first chain stepped to number 3) and two rooms' titles. */
static void put_keys(struct fixture *f)
{
	for (int i = 0; i < 2; i++) {
		struct cstore_room r = {.head_count = 1, .epoch = 5};
		snprintf(r.title, sizeof r.title, "%s", titles[i]);
		assert_int_equal(cstore_room_put(f->cs, i ? f->room2 : f->room, &r), CC_OK);
	}
	for (int i = 0; i < 2; i++)
		assert_int_equal(cstore_recv_add(f->cs, &f->recv[i]), CC_OK);
	assert_int_equal(cstore_epoch_add(f->cs, f->room, 5,
					  (const uint8_t(*)[CSTORE_FP_LEN])f->senders,
					  (const uint8_t(*)[CSTORE_KEY_LEN])f->chain, 2), CC_OK);
	fill(50, f->chain[0], CSTORE_KEY_LEN);
	assert_int_equal(cstore_chain_advance(f->cs, f->room, 5, f->senders[0], f->chain[0], 3),
			 CC_OK);
}

/* The titles read back, or each read fails with WANT. */
static void expect_titles(struct fixture *f, cc_err want)
{
	for (int i = 0; i < 2; i++) {
		struct cstore_room r;
		assert_int_equal(cstore_room_get(f->cs, i ? f->room2 : f->room, &r), want);
		if (want == CC_OK)
			assert_string_equal(r.title, titles[i]);
		else
			assert_string_equal(r.title, "");
	}
}

/* They read back as stored, or each read fails with WANT. */
static void expect_keys(struct fixture *f, cc_err want)
{
	expect_titles(f, want);
	for (int i = 0; i < 2; i++) {
		struct cstore_recv_key k;
		assert_int_equal(cstore_recv_get(f->cs, f->recv[i].version, &k), want);
		if (want == CC_OK) {
			assert_memory_equal(k.priv, f->recv[i].priv, CSTORE_KEY_LEN);
			assert_memory_equal(k.pub, f->recv[i].pub, CSTORE_KEY_LEN);
		}
		uint8_t ck[CSTORE_KEY_LEN];
		uint64_t next = 0;
		assert_int_equal(cstore_chain_get(f->cs, f->room, 5, f->senders[i], ck, &next), want);
		if (want == CC_OK) {
			assert_memory_equal(ck, f->chain[i], CSTORE_KEY_LEN);
			assert_int_equal(next, i == 0 ? 3 : 1);
		}
	}
}

static void reopen(struct fixture *f)
{
	cstore_close(f->cs);
	f->cs = NULL;
	assert_int_equal(cstore_open(f->tmp.path, &f->cs), CC_OK);
}

/* The keys' bytes in the file (and its journal): how many appear. */
static size_t keys_in_files(struct fixture *f)
{
	struct secrets_scan scan;
	scan_init(&scan);
	for (int i = 0; i < 2; i++) {
		scan_add(&scan, f->recv[i].priv, CSTORE_KEY_LEN, "receiving key");
		scan_add(&scan, f->chain[i], CSTORE_KEY_LEN, "chain key");
		scan_add(&scan, titles[i], strlen(titles[i]), "title");
	}
	size_t hits = scan_dir(&scan, f->tmp.dir, 0);
	scan_free(&scan);
	return hits;
}

static void seal_with_s1(struct fixture *f)
{
	assert_int_equal(cstore_reseal(f->cs, &f->s1->sealer, &f->row1), CC_OK);
}

static void test_round_trip(void **state)
{
	struct fixture *f = *state;
	seal_with_s1(f);
	put_keys(f);
	expect_keys(f, CC_OK);
	reopen(f);
	/* Locked until the sealer is set: nothing reads, nothing is written. */
	expect_keys(f, CC_ERR_STATE);
	struct cstore_recv_key k = f->recv[1];
	k.version = 9;
	k.created_ms = 9000;
	assert_int_equal(cstore_recv_add(f->cs, &k), CC_ERR_STATE);
	assert_int_equal(cstore_recv_get(f->cs, 9, &k), CC_ERR_NOT_FOUND);
	/* The counters are not secret: they read without it. */
	uint64_t count = 0;
	assert_int_equal(cstore_epoch_messages(f->cs, f->room, 5, &count), CC_OK);
	assert_int_equal(count, 2);

	struct cstore_at_rest row;
	assert_int_equal(cstore_at_rest_get(f->cs, &row), CC_OK);
	assert_true(row.sealed);
	assert_memory_equal(row.salt, f->row1.salt, CSTORE_SALT_LEN);
	assert_int_equal(home_secrets_check(f->s1, &row, f->tmp.dir), CC_OK);
	assert_int_equal(cstore_sealer_set(f->cs, &f->s1->sealer), CC_OK);
	expect_keys(f, CC_OK);
	cstore_close(f->cs);
	f->cs = NULL;
	assert_int_equal(keys_in_files(f), 0);
	assert_int_equal(cstore_open(f->tmp.path, &f->cs), CC_OK);
}

static void test_wrong_key(void **state)
{
	struct fixture *f = *state;
	seal_with_s1(f);
	put_keys(f);
	reopen(f);
	struct cstore_at_rest row;
	assert_int_equal(cstore_at_rest_get(f->cs, &row), CC_OK);
	/* The check refuses the other passphrase before anything opens... */
	assert_int_equal(home_secrets_check(f->s2, &row, f->tmp.dir), CC_ERR_BAD_PASSPHRASE);
	assert_false(f->s2->derived);
	/* ...and were its key used anyway, no value would open. */
	assert_int_equal(home_secrets_fresh(f->s2, &f->row2), CC_OK);
	assert_int_equal(cstore_sealer_set(f->cs, &f->s2->sealer), CC_OK);
	expect_keys(f, CC_ERR_AUTH);
	assert_int_equal(home_secrets_check(f->s1, &row, f->tmp.dir), CC_OK);
	assert_int_equal(cstore_sealer_set(f->cs, &f->s1->sealer), CC_OK);
	expect_keys(f, CC_OK);
}

/* Someone who can edit client.db moves sealed values between rows. */
static void test_swapped_rows(void **state)
{
	struct fixture *f = *state;
	seal_with_s1(f);
	put_keys(f);
	cstore_close(f->cs);
	f->cs = NULL;
	static const char swap_recv[] =
		"CREATE TEMP TABLE o AS SELECT version, priv FROM recv_keys;"
		"UPDATE recv_keys SET priv = (SELECT priv FROM o WHERE"
		" o.version = 3 - recv_keys.version); DROP TABLE o;";
	static const char swap_chains[] =
		"CREATE TEMP TABLE o AS SELECT sender, chain_key FROM chains;"
		"UPDATE chains SET chain_key = (SELECT chain_key FROM o WHERE"
		" o.sender != chains.sender); DROP TABLE o;";
	/* The chain key of number 3 put back with number 1: its place is the
	 * pair. */
	static const char renumber[] = "UPDATE chains SET next_seq = 2 WHERE next_seq = 3;";
	static const char undo_renumber[] = "UPDATE chains SET next_seq = 3 WHERE next_seq = 2;";
	static const char swap_titles[] =
		"CREATE TEMP TABLE o AS SELECT room, title FROM rooms;"
		"UPDATE rooms SET title = (SELECT title FROM o WHERE o.room != rooms.room);"
		" DROP TABLE o;";
	struct cstore_at_rest row;
	const char *attack[] = {swap_recv, swap_chains, renumber, swap_titles};
	const char *undo[] = {swap_recv, swap_chains, undo_renumber, swap_titles};
	for (int i = 0; i < 4; i++) {
		sql(f->tmp.path, attack[i]);
		assert_int_equal(cstore_open(f->tmp.path, &f->cs), CC_OK);
		assert_int_equal(cstore_at_rest_get(f->cs, &row), CC_OK);
		assert_int_equal(home_secrets_check(f->s1, &row, f->tmp.dir), CC_OK);
		assert_int_equal(cstore_sealer_set(f->cs, &f->s1->sealer), CC_OK);
		struct cstore_recv_key k;
		uint8_t ck[CSTORE_KEY_LEN];
		uint64_t next;
		cc_err r1 = cstore_recv_get(f->cs, 1, &k), r2 = cstore_recv_get(f->cs, 2, &k);
		cc_err c1 = cstore_chain_get(f->cs, f->room, 5, f->senders[0], ck, &next);
		cc_err c2 = cstore_chain_get(f->cs, f->room, 5, f->senders[1], ck, &next);
		assert_int_equal(r1, i == 0 ? CC_ERR_AUTH : CC_OK);
		assert_int_equal(r2, i == 0 ? CC_ERR_AUTH : CC_OK);
		assert_int_equal(c1, i == 1 || i == 2 ? CC_ERR_AUTH : CC_OK);
		assert_int_equal(c2, i == 1 ? CC_ERR_AUTH : CC_OK);
		expect_titles(f, i == 3 ? CC_ERR_AUTH : CC_OK);
		cstore_close(f->cs);
		f->cs = NULL;
		/* The control: put back, it all opens again. */
		sql(f->tmp.path, undo[i]);
		assert_int_equal(cstore_open(f->tmp.path, &f->cs), CC_OK);
		assert_int_equal(cstore_sealer_set(f->cs, &f->s1->sealer), CC_OK);
		expect_keys(f, CC_OK);
		cstore_close(f->cs);
		f->cs = NULL;
	}
	/* A key in clear slipped into the sealed file is not taken either. */
	sql(f->tmp.path, "PRAGMA ignore_check_constraints = ON;"
			 "UPDATE recv_keys SET priv = zeroblob(32) WHERE version = 1;");
	assert_int_equal(cstore_open(f->tmp.path, &f->cs), CC_OK);
	assert_int_equal(cstore_sealer_set(f->cs, &f->s1->sealer), CC_OK);
	struct cstore_recv_key k;
	assert_int_equal(cstore_recv_get(f->cs, 1, &k), CC_ERR_STORE);
	assert_int_equal(cstore_recv_get(f->cs, 2, &k), CC_OK);
	/* Nor a title in clear; an emptied one is only empty. */
	cstore_close(f->cs);
	f->cs = NULL;
	sql(f->tmp.path, "UPDATE rooms SET title = 'a title in clear' WHERE title = (SELECT"
			 " max(title) FROM rooms);"
			 "UPDATE rooms SET title = '' WHERE typeof(title) = 'blob';");
	assert_int_equal(cstore_open(f->tmp.path, &f->cs), CC_OK);
	assert_int_equal(cstore_sealer_set(f->cs, &f->s1->sealer), CC_OK);
	struct cstore_room r[2];
	cc_err e1 = cstore_room_get(f->cs, f->room, &r[0]);
	cc_err e2 = cstore_room_get(f->cs, f->room2, &r[1]);
	assert_true((e1 == CC_ERR_STORE && e2 == CC_OK) || (e1 == CC_OK && e2 == CC_ERR_STORE));
	assert_string_equal(r[e1 == CC_OK ? 0 : 1].title, "");
}

static void test_reseal_clear_and_back(void **state)
{
	struct fixture *f = *state;
	/* A store that never had a row keeps its keys in clear... */
	put_keys(f);
	struct cstore_at_rest row;
	assert_int_equal(cstore_at_rest_get(f->cs, &row), CC_ERR_NOT_FOUND);
	assert_int_equal(cstore_sealer_set(f->cs, &f->s1->sealer), CC_ERR_STATE);
	assert_true(keys_in_files(f) >= 3);  /* the control: the scan finds them */
	/* ...sealed: gone from the file (secure_delete overwrote them). */
	seal_with_s1(f);
	expect_keys(f, CC_OK);
	assert_int_equal(keys_in_files(f), 0);
	/* Under the second passphrase: the first opens nothing any more. */
	assert_int_equal(cstore_reseal(f->cs, &f->s2->sealer, &f->row2), CC_OK);
	expect_keys(f, CC_OK);
	reopen(f);
	assert_int_equal(cstore_sealer_set(f->cs, &f->s1->sealer), CC_OK);
	expect_keys(f, CC_ERR_AUTH);
	assert_int_equal(cstore_sealer_set(f->cs, &f->s2->sealer), CC_OK);
	expect_keys(f, CC_OK);
	/* Back in clear: readable with no sealer at all. */
	struct cstore_at_rest clear = {0};
	assert_int_equal(cstore_reseal(f->cs, NULL, &clear), CC_OK);
	reopen(f);
	expect_keys(f, CC_OK);
	assert_int_equal(cstore_at_rest_get(f->cs, &row), CC_OK);
	assert_false(row.sealed);
	/* A row that does not say what the sealer does is a bug. */
	assert_int_equal(cstore_reseal(f->cs, NULL, &f->row1), CC_ERR_INTERNAL);
	assert_int_equal(cstore_reseal(f->cs, &f->s1->sealer, &clear), CC_ERR_INTERNAL);
}

/* A reseal that cannot open one value changes nothing at all. */
static void test_reseal_all_or_nothing(void **state)
{
	struct fixture *f = *state;
	seal_with_s1(f);
	put_keys(f);
	cstore_close(f->cs);
	f->cs = NULL;
	sql(f->tmp.path, "UPDATE chains SET next_seq = 7 WHERE next_seq = 3;");
	assert_int_equal(cstore_open(f->tmp.path, &f->cs), CC_OK);
	assert_int_equal(cstore_sealer_set(f->cs, &f->s1->sealer), CC_OK);
	assert_int_equal(cstore_reseal(f->cs, &f->s2->sealer, &f->row2), CC_ERR_AUTH);
	cstore_close(f->cs);
	f->cs = NULL;
	sql(f->tmp.path, "UPDATE chains SET next_seq = 3 WHERE next_seq = 7;");
	assert_int_equal(cstore_open(f->tmp.path, &f->cs), CC_OK);
	struct cstore_at_rest row;
	assert_int_equal(cstore_at_rest_get(f->cs, &row), CC_OK);
	assert_memory_equal(row.salt, f->row1.salt, CSTORE_SALT_LEN);
	assert_int_equal(cstore_sealer_set(f->cs, &f->s1->sealer), CC_OK);
	expect_keys(f, CC_OK);
}

/* A reseal killed after its first row was written (SIGKILL, from the
 * test hook at "reseal:first-row", in a child): the journal takes the file
 * back whole, the old passphrase opens every value. */
static void test_reseal_killed_midway(void **state)
{
	struct fixture *f = *state;
	seal_with_s1(f);
	put_keys(f);
	cstore_close(f->cs);
	f->cs = NULL;
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct client_store *cs = NULL;
		setenv("CRYPTOCAT_CRASH_AT", "reseal:first-row", 1);
		if (cstore_open(f->tmp.path, &cs) == CC_OK &&
		    cstore_sealer_set(cs, &f->s1->sealer) == CC_OK)
			cstore_reseal(cs, &f->s2->sealer, &f->row2);
		_exit(0);  /* not reached when the hook fires */
	}
	int status = 0;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGKILL);
	assert_int_equal(cstore_open(f->tmp.path, &f->cs), CC_OK);
	struct cstore_at_rest row;
	assert_int_equal(cstore_at_rest_get(f->cs, &row), CC_OK);
	assert_memory_equal(row.salt, f->row1.salt, CSTORE_SALT_LEN);
	assert_int_equal(cstore_sealer_set(f->cs, &f->s1->sealer), CC_OK);
	expect_keys(f, CC_OK);
	/* And done again, whole, it moves everything. */
	assert_int_equal(cstore_reseal(f->cs, &f->s2->sealer, &f->row2), CC_OK);
	reopen(f);
	assert_int_equal(cstore_sealer_set(f->cs, &f->s2->sealer), CC_OK);
	expect_keys(f, CC_OK);
}

static void test_at_rest_rules(void **state)
{
	struct fixture *f = *state;
	struct cstore_at_rest clear = {0}, row;
	/* No row: sealing is a reseal's; a clear row is fine. */
	assert_int_equal(cstore_at_rest_put(f->cs, &f->row1), CC_ERR_STATE);
	clear.warned = true;
	assert_int_equal(cstore_at_rest_put(f->cs, &clear), CC_OK);
	assert_int_equal(cstore_at_rest_get(f->cs, &row), CC_OK);
	assert_true(row.warned);
	assert_false(row.sealed);
	seal_with_s1(f);
	/* Sealed: only what does not change the key (the pending change). */
	assert_int_equal(cstore_at_rest_put(f->cs, &clear), CC_ERR_STATE);
	assert_int_equal(cstore_at_rest_put(f->cs, &f->row2), CC_ERR_STATE);
	row = f->row1;
	row.identity_pending = true;
	fill(60, row.identity_hash, sizeof row.identity_hash);
	assert_int_equal(cstore_at_rest_put(f->cs, &row), CC_OK);
	struct cstore_at_rest got;
	assert_int_equal(cstore_at_rest_get(f->cs, &got), CC_OK);
	assert_true(got.identity_pending);
	assert_memory_equal(got.identity_hash, row.identity_hash, sizeof got.identity_hash);
	assert_int_equal(got.kdf_log2_n, CRYPTO_SCRYPT_LOG2_N);
	assert_int_equal(got.kdf_r, CRYPTO_SCRYPT_R);
	assert_int_equal(got.kdf_p, CRYPTO_SCRYPT_P);
	row.identity_pending = false;
	assert_int_equal(cstore_at_rest_put(f->cs, &row), CC_OK);
	assert_int_equal(cstore_at_rest_get(f->cs, &got), CC_OK);
	assert_false(got.identity_pending);
	/* Damaged parameters are refused before any scrypt runs. */
	got.kdf_log2_n = 40;
	assert_int_equal(home_secrets_check(f->s1, &got, f->tmp.dir), CC_ERR_STORE);
}

/* A client.db of version 3 (before key moves and secrets at rest), as that client made it:
 * the upgrade keeps its keys (in clear, no row), and they can be sealed. */
static void test_upgrade_from_v3(void **state)
{
	struct fixture *f = *state;
	char path[200], text[4096];
	snprintf(path, sizeof path, "%s/v3.db", f->tmp.dir);
	FILE *fp = fopen(path, "w");
	assert_non_null(fp);
	fclose(fp);
	char room_hex[33], s0[65], s1[65], k0[65], k1[65], p0[65];
	hex_encode(f->room, 16, room_hex);
	hex_encode(f->senders[0], 32, s0);
	hex_encode(f->senders[1], 32, s1);
	hex_encode(f->chain[0], 32, k0);
	hex_encode(f->recv[0].priv, 32, k1);
	hex_encode(f->recv[0].pub, 32, p0);
	snprintf(text, sizeof text,
		 "CREATE TABLE pins (nick_lower TEXT NOT NULL PRIMARY KEY, nick TEXT NOT NULL,"
		 " fingerprint BLOB NOT NULL, verified INTEGER NOT NULL,"
		 " first_seen_ms INTEGER NOT NULL) STRICT, WITHOUT ROWID;"
		 "CREATE TABLE seen (room BLOB NOT NULL, sender BLOB NOT NULL, epoch INTEGER NOT NULL,"
		 " last_seq INTEGER NOT NULL, PRIMARY KEY (room, sender, epoch)) STRICT, WITHOUT ROWID;"
		 "CREATE TABLE rooms (room BLOB NOT NULL PRIMARY KEY, head_count INTEGER NOT NULL,"
		 " head_hash BLOB NOT NULL, epoch INTEGER NOT NULL, members INTEGER NOT NULL,"
		 " admin TEXT NOT NULL, title TEXT NOT NULL, last_msg_id INTEGER NOT NULL DEFAULT 0,"
		 " keys_from INTEGER NOT NULL DEFAULT 0) STRICT, WITHOUT ROWID;"
		 "CREATE TABLE sign_keys (fingerprint BLOB NOT NULL PRIMARY KEY, version INTEGER NOT"
		 " NULL, sign_pub BLOB NOT NULL) STRICT, WITHOUT ROWID;"
		 "CREATE TABLE activity (fingerprint BLOB NOT NULL PRIMARY KEY, last_ms INTEGER NOT"
		 " NULL) STRICT, WITHOUT ROWID;"
		 "CREATE TABLE chains (room BLOB NOT NULL, epoch INTEGER NOT NULL, sender BLOB NOT"
		 " NULL, chain_key BLOB NOT NULL CHECK(length(chain_key) = 32), next_seq INTEGER NOT"
		 " NULL, PRIMARY KEY (room, epoch, sender)) STRICT, WITHOUT ROWID;"
		 "CREATE TABLE recv_keys (version INTEGER NOT NULL PRIMARY KEY, priv BLOB NOT NULL"
		 " CHECK(length(priv) = 32), pub BLOB NOT NULL, created_ms INTEGER NOT NULL,"
		 " retired_ms INTEGER NOT NULL DEFAULT 0) STRICT;"
		 "CREATE TABLE recv_seen (fingerprint BLOB NOT NULL PRIMARY KEY, version INTEGER NOT"
		 " NULL, created_ms INTEGER NOT NULL, pub BLOB NOT NULL) STRICT, WITHOUT ROWID;"
		 "INSERT INTO chains VALUES (x'%s', 5, x'%s', x'%s', 3);"
		 "INSERT INTO chains VALUES (x'%s', 5, x'%s', x'%s', 1);"
		 "INSERT INTO recv_keys VALUES (1, x'%s', x'%s', 1000, 0);"
		 "PRAGMA user_version = 3;",
		 room_hex, s0, k0, room_hex, s1, k0, k1, p0);
	sql(path, text);
	struct client_store *cs = NULL;
	assert_int_equal(cstore_open(path, &cs), CC_OK);
	assert_int_equal(tmpdir_db_version_get(path), 5);
	struct cstore_at_rest row;
	assert_int_equal(cstore_at_rest_get(cs, &row), CC_ERR_NOT_FOUND);
	struct cstore_recv_key k;
	uint8_t ck[CSTORE_KEY_LEN];
	uint64_t next;
	assert_int_equal(cstore_recv_get(cs, 1, &k), CC_OK);
	assert_memory_equal(k.priv, f->recv[0].priv, CSTORE_KEY_LEN);
	assert_int_equal(cstore_chain_get(cs, f->room, 5, f->senders[0], ck, &next), CC_OK);
	assert_memory_equal(ck, f->chain[0], CSTORE_KEY_LEN);
	assert_int_equal(next, 3);
	assert_int_equal(cstore_reseal(cs, &f->s1->sealer, &f->row1), CC_OK);
	assert_int_equal(cstore_chain_get(cs, f->room, 5, f->senders[1], ck, &next), CC_OK);
	assert_memory_equal(ck, f->chain[0], CSTORE_KEY_LEN);
	assert_int_equal(cstore_recv_get(cs, 1, &k), CC_OK);
	assert_memory_equal(k.priv, f->recv[0].priv, CSTORE_KEY_LEN);
	cstore_close(cs);
	remove(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrong_key, setup, teardown),
		cmocka_unit_test_setup_teardown(test_swapped_rows, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reseal_clear_and_back, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reseal_all_or_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reseal_killed_midway, setup, teardown),
		cmocka_unit_test_setup_teardown(test_at_rest_rules, setup, teardown),
		cmocka_unit_test_setup_teardown(test_upgrade_from_v3, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
