/* The store's room half (schema versions 2 and 3): signing keys,
 * transactions, rooms, members, membership records, keys and epochs,
 * messages and their retention, nickname expiry; persistence across a
 * restart and the upgrade of a version-1 file. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/store.h"
#include "support/tmpdir.h"
#include "util/log.h"

struct fixture {
	struct tmpdir tmp;            /* first: see tmpdir_fixture_new */
	struct store *st;
};

static int setup(void **state)
{
	struct fixture *f = tmpdir_fixture_new(sizeof *f, "cc_test_store_rooms", "server.db");
	if (!f || store_open(f->tmp.path, &f->st) != CC_OK) {
		tmpdir_fixture_free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	store_close(f->st);
	tmpdir_fixture_free(f);
	return 0;
}

static void test_reopen(struct fixture *f)
{
	store_close(f->st);
	f->st = NULL;
	assert_int_equal(store_open(f->tmp.path, &f->st), CC_OK);
}

/* A fake key and fingerprint made from seed. */
static void test_key(uint8_t seed, uint8_t key[64], uint8_t fp[STORE_FINGERPRINT_LEN])
{
	for (size_t i = 0; i < 64; i++)
		key[i] = (uint8_t)(seed * 31 + i);
	for (size_t i = 0; i < STORE_FINGERPRINT_LEN; i++)
		fp[i] = (uint8_t)(seed ^ (i * 7));
}

/* A registered user with a key and fingerprint made from seed. */
static int64_t test_user(struct fixture *f, const char *nick, uint8_t seed)
{
	uint8_t key[64], fp[STORE_FINGERPRINT_LEN];
	test_key(seed, key, fp);
	struct store_user u;
	assert_int_equal(store_user_register(f->st, nick, key, sizeof key, fp, 1, &u), CC_OK);
	int64_t id = u.id;
	store_user_clear(&u);
	return id;
}

static void test_room_id(uint8_t seed, uint8_t rid[STORE_ROOM_ID_LEN])
{
	for (size_t i = 0; i < STORE_ROOM_ID_LEN; i++)
		rid[i] = (uint8_t)(seed + i * 13);
}

static int64_t test_room(struct fixture *f, uint8_t seed, int64_t admin)
{
	uint8_t rid[STORE_ROOM_ID_LEN];
	int64_t id;
	test_room_id(seed, rid);
	assert_int_equal(store_room_create(f->st, rid, admin, 1000 + seed, &id), CC_OK);
	assert_true(id > 0);
	return id;
}

/* ---- What the walks saw ---------------------------------------------------- */

#define SEEN_MAX 64

struct seen {
	size_t n;
	int64_t a[SEEN_MAX];          /* user, room, seq, epoch or msg_id */
	int64_t b[SEEN_MAX];          /* the other id, or sender */
	uint8_t first[SEEN_MAX];      /* first byte of the blob */
	size_t len[SEEN_MAX];
	uint64_t ts[SEEN_MAX];
	uint32_t epoch[SEEN_MAX];
	size_t stop_after;            /* 0: never stop */
	int stop_with;
};

static int seen_stop(struct seen *s)
{
	return s->stop_after && s->n == s->stop_after ? s->stop_with : 0;
}

static int seen_member(void *ctx, const struct store_member *m)
{
	struct seen *s = ctx;
	assert_true(s->n < SEEN_MAX);
	s->a[s->n] = m->user;
	s->b[s->n] = m->room;
	s->epoch[s->n] = m->since_epoch;
	s->n++;
	return seen_stop(s);
}

static int seen_blob(void *ctx, uint32_t n, const uint8_t *blob, size_t len)
{
	struct seen *s = ctx;
	assert_true(s->n < SEEN_MAX);
	assert_non_null(blob);
	assert_true(len > 0);
	s->a[s->n] = n;
	s->first[s->n] = blob[0];
	s->len[s->n] = len;
	s->n++;
	return seen_stop(s);
}

static int seen_message(void *ctx, const struct store_message *m)
{
	struct seen *s = ctx;
	assert_true(s->n < SEEN_MAX);
	assert_non_null(m->blob);
	s->a[s->n] = m->msg_id;
	s->b[s->n] = m->sender;
	s->first[s->n] = m->blob[0];
	s->len[s->n] = m->len;
	s->ts[s->n] = m->ts_ms;
	s->epoch[s->n] = m->epoch;
	s->n++;
	return seen_stop(s);
}

static size_t test_members(struct fixture *f, int64_t room, struct seen *s)
{
	memset(s, 0, sizeof *s);
	assert_int_equal(store_member_each(f->st, room, seen_member, s), CC_OK);
	return s->n;
}

static size_t test_records(struct fixture *f, int64_t room, struct seen *s)
{
	memset(s, 0, sizeof *s);
	assert_int_equal(store_record_each(f->st, room, seen_blob, s), CC_OK);
	return s->n;
}

static size_t test_keys(struct fixture *f, int64_t room, int64_t user, uint32_t min,
			struct seen *s)
{
	memset(s, 0, sizeof *s);
	assert_int_equal(store_key_each(f->st, room, user, min, seen_blob, s), CC_OK);
	return s->n;
}

static size_t test_messages(struct fixture *f, int64_t room, int64_t after, uint32_t limit,
			    struct seen *s)
{
	memset(s, 0, sizeof *s);
	assert_int_equal(store_message_each(f->st, room, after, limit, seen_message, s), CC_OK);
	return s->n;
}

static int64_t test_append(struct fixture *f, int64_t room, int64_t sender, uint64_t ts,
			   uint8_t tag)
{
	uint8_t blob[40];
	memset(blob, tag, sizeof blob);
	int64_t id;
	assert_int_equal(store_message_append(f->st, room, sender, 3, ts, blob, sizeof blob, &id),
			 CC_OK);
	return id;
}

/* ---- Schema ------------------------------------------------------------------ */

static void test_schema(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(store_schema_latest(), 4);
	assert_int_equal(store_schema_version(f->st), 4);
}

/* A version-1 file as the users-only code left it: migration 1's SQL run by
 * the sqlite3 shell on a 512-byte-page WAL database, user_version 1, one
 * user (Old_Timer, key 0102030405, fingerprint a0..bf, created 77, seen 88),
 * checkpointed. Stored as its runs of non-zero bytes. */
struct test_run {
	unsigned off;
	const char *hex;
};

#define TEST_V1_DB_SIZE 3584
static const struct test_run test_v1_db[] = {
	{0, "53514c69746520666f726d617420330002000202004020200000000200000007"},
	{43, "0100000004"},
	{59, "0100000001"},
	{95, "02002e6301050000000101fb000000000701fb"},
	{510, "05010d0000000101bd0001bd"},
	{957, ("410108001f1f164c01014f6c645f54696d65726f6c645f74696d657201020304"
		"05a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbe"
		"bf4d580a0000000101f30001f3")},
	{1523, "0c031f096f6c645f74696d65720a0000000101dc0001dc"},
	{2012, ("23034c09a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babb"
		"bcbdbebf0d01a20001001300001301cd01a201f8000000830c01071717170185"
		"777461626c657573657273757365727302435245415445205441424c45207573"
		"657273202820696420494e5445474552205052494d415259204b455920415554"
		"4f494e4352454d454e542c206e69636b2054455854204e4f54204e554c4c2043"
		"4845434b286c656e677468286e69636b29204245545745454e203120414e4420"
		"3332292c206e69636b5f6c6f7765722054455854204e4f54204e554c4c20554e"
		"495155452c207075626b657920424c4f42204e4f54204e554c4c20434845434b"
		"286c656e677468287075626b657929203e2030292c2066696e6765727072696e"
		"7420424c4f42204e4f54204e554c4c20554e4951554520434845434b286c656e"
		"6774682866696e6765727072696e7429203d203332292c20637265617465645f"
		"7320494e5445474552204e4f54204e554c4c20434845434b2863726561746564"
		"5f73203e3d2030292c206c6173745f7365656e5f7320494e5445474552204e4f"
		"54204e554c4c20434845434b286c6173745f7365656e5f73203e3d2030292920"
		"5354524943540000005e")},
	{2560, "0d0000000101f60001f6"},
	{3062, "080103170975736572730d0000000301580001d501aa0158"},
	{3416, ("500406172b2b01597461626c6573716c6974655f73657175656e636573716c69"
		"74655f73657175656e636506435245415445205441424c452073716c6974655f"
		"73657175656e6365286e616d652c73657129290306173d170100696e64657873"
		"716c6974655f6175746f696e6465785f75736572735f32757365727304290206"
		"173d170100696e64657873716c6974655f6175746f696e6465785f7573657273"
		"5f31757365727303")},
};

static int test_hex_nibble(char c)
{
	return c <= '9' ? c - '0' : c - 'a' + 10;
}

static void test_v1_write(const char *path)
{
	uint8_t *db = calloc(1, TEST_V1_DB_SIZE);
	assert_non_null(db);
	for (size_t i = 0; i < sizeof test_v1_db / sizeof test_v1_db[0]; i++) {
		const char *h = test_v1_db[i].hex;
		size_t n = strlen(h) / 2;
		assert_true(test_v1_db[i].off + n <= TEST_V1_DB_SIZE);
		for (size_t j = 0; j < n; j++)
			db[test_v1_db[i].off + j] = (uint8_t)(test_hex_nibble(h[2 * j]) << 4 |
							      test_hex_nibble(h[2 * j + 1]));
	}
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, db, TEST_V1_DB_SIZE), TEST_V1_DB_SIZE);
	close(fd);
	free(db);
}

static void test_upgrade_from_v1(void **state)
{
	struct fixture *f = *state;
	char path[160];
	snprintf(path, sizeof path, "%s/v1.db", f->tmp.dir);
	test_v1_write(path);

	struct store *st;
	assert_int_equal(store_open(path, &st), CC_OK);
	assert_int_equal(store_schema_version(st), 4);
	struct store_user u;
	assert_int_equal(store_user_get_by_nick(st, "old_timer", &u), CC_OK);
	assert_string_equal(u.nick, "Old_Timer");
	assert_int_equal(u.pubkey_len, 5);
	assert_memory_equal(u.pubkey, "\x01\x02\x03\x04\x05", 5);
	assert_int_equal(u.fingerprint[0], 0xa0);
	assert_int_equal(u.fingerprint[31], 0xbf);
	assert_int_equal(u.created_s, 77);
	assert_int_equal(u.last_seen_s, 88);
	int64_t old = u.id;
	store_user_clear(&u);

	/* The old user has no signing key yet, and can get one. */
	uint8_t pub[STORE_SIGN_PUB_LEN], *cert;
	size_t cert_len;
	assert_int_equal(store_user_get_signing_key(st, old, pub, &cert, &cert_len),
			 CC_ERR_NOT_FOUND);
	memset(pub, 0x5a, sizeof pub);
	assert_int_equal(store_user_set_signing_key(st, old, pub, (const uint8_t *)"cert", 4),
			 CC_OK);
	/* Rooms work, and a new user does not reuse the old one's id. */
	uint8_t rid[STORE_ROOM_ID_LEN];
	test_room_id(1, rid);
	int64_t room;
	assert_int_equal(store_room_create(st, rid, old, 5, &room), CC_OK);
	assert_int_equal(store_member_add(st, room, old, 1, 0), CC_OK);
	store_close(st);

	assert_int_equal(store_open(path, &st), CC_OK);
	assert_int_equal(store_schema_version(st), 4);
	memset(pub, 0, sizeof pub);
	assert_int_equal(store_user_get_signing_key(st, old, pub, &cert, &cert_len), CC_OK);
	assert_int_equal(cert_len, 4);
	assert_memory_equal(cert, "cert", 4);
	assert_int_equal(pub[0], 0x5a);
	free(cert);
	struct store_member m;
	assert_int_equal(store_member_get(st, room, old, &m), CC_OK);
	/* The old user can expire like any other, taking its room along. */
	assert_int_equal(store_user_expire(st, old), CC_OK);
	struct store_room r;
	assert_int_equal(store_room_get_by_id(st, room, &r), CC_ERR_NOT_FOUND);
	assert_int_equal(store_user_get_by_nick(st, "old_timer", &u), CC_ERR_NOT_FOUND);
	store_close(st);
}

/* ---- Signing keys -------------------------------------------------------------- */

static void test_signing_key(void **state)
{
	struct fixture *f = *state;
	int64_t alice = test_user(f, "alice", 1);
	int64_t bob = test_user(f, "bob", 2);
	uint8_t pub[STORE_SIGN_PUB_LEN], got[STORE_SIGN_PUB_LEN], cert[STORE_SIGN_CERT_MAX + 1];
	uint8_t *c = (uint8_t *)&c;
	size_t c_len = 99;
	memset(pub, 0x11, sizeof pub);
	memset(cert, 0x22, sizeof cert);

	assert_int_equal(store_user_get_signing_key(f->st, alice, got, &c, &c_len),
			 CC_ERR_NOT_FOUND);
	assert_null(c);
	assert_int_equal(c_len, 0);
	assert_int_equal(store_user_set_signing_key(f->st, alice, pub, cert, 100), CC_OK);
	assert_int_equal(store_user_get_signing_key(f->st, alice, got, &c, &c_len), CC_OK);
	assert_memory_equal(got, pub, sizeof pub);
	assert_int_equal(c_len, 100);
	assert_memory_equal(c, cert, 100);
	free(c);
	/* Bob's is his own business. */
	assert_int_equal(store_user_get_signing_key(f->st, bob, got, &c, &c_len),
			 CC_ERR_NOT_FOUND);

	/* Replaced, at the largest certificate. */
	memset(pub, 0x33, sizeof pub);
	memset(cert, 0x44, sizeof cert);
	assert_int_equal(store_user_set_signing_key(f->st, alice, pub, cert, STORE_SIGN_CERT_MAX),
			 CC_OK);
	assert_int_equal(store_user_get_signing_key(f->st, alice, got, &c, &c_len), CC_OK);
	assert_memory_equal(got, pub, sizeof pub);
	assert_int_equal(c_len, STORE_SIGN_CERT_MAX);
	assert_memory_equal(c, cert, STORE_SIGN_CERT_MAX);
	free(c);

	/* Refused, and nothing changed. */
	assert_int_equal(store_user_set_signing_key(f->st, alice, pub, cert,
						    STORE_SIGN_CERT_MAX + 1), CC_ERR_TOO_LARGE);
	assert_int_equal(store_user_set_signing_key(f->st, alice, pub, cert, 0), CC_ERR_MALFORMED);
	assert_int_equal(store_user_set_signing_key(f->st, alice, pub, NULL, 5), CC_ERR_INTERNAL);
	assert_int_equal(store_user_set_signing_key(f->st, alice, NULL, cert, 5), CC_ERR_INTERNAL);
	assert_int_equal(store_user_set_signing_key(NULL, alice, pub, cert, 5), CC_ERR_INTERNAL);
	assert_int_equal(store_user_set_signing_key(f->st, bob + 100, pub, cert, 5),
			 CC_ERR_NOT_FOUND);
	assert_int_equal(store_user_get_signing_key(f->st, bob + 100, got, &c, &c_len),
			 CC_ERR_NOT_FOUND);
	assert_int_equal(store_user_get_signing_key(f->st, alice, got, NULL, &c_len),
			 CC_ERR_INTERNAL);
	assert_int_equal(store_user_get_signing_key(f->st, alice, got, &c, NULL), CC_ERR_INTERNAL);
	assert_int_equal(store_user_get_signing_key(f->st, alice, NULL, &c, &c_len),
			 CC_ERR_INTERNAL);
	test_reopen(f);
	assert_int_equal(store_user_get_signing_key(f->st, alice, got, &c, &c_len), CC_OK);
	assert_int_equal(c_len, STORE_SIGN_CERT_MAX);
	assert_int_equal(got[0], 0x33);
	free(c);
}

/* ---- Transactions -------------------------------------------------------------- */

static void test_transaction_commit_rollback(void **state)
{
	struct fixture *f = *state;
	int64_t alice = test_user(f, "alice", 1);
	uint8_t rid[STORE_ROOM_ID_LEN], rec[10] = {1}, hash[STORE_HASH_LEN] = {9};
	test_room_id(7, rid);
	int64_t room, id;

	/* Rolled back: nothing of it is left, and the id counters did not move
	 * for what is kept. */
	assert_int_equal(store_begin(f->st), CC_OK);
	assert_int_equal(store_room_create(f->st, rid, alice, 1, &room), CC_OK);
	assert_int_equal(store_member_add(f->st, room, alice, 1, 0), CC_OK);
	assert_int_equal(store_record_append(f->st, room, 0, rec, sizeof rec, hash), CC_OK);
	assert_int_equal(store_message_append(f->st, room, alice, 0, 1, rec, sizeof rec, &id),
			 CC_OK);
	assert_int_equal(id, 1);
	store_rollback(f->st);
	struct store_room r;
	assert_int_equal(store_room_get(f->st, rid, &r), CC_ERR_NOT_FOUND);
	assert_int_equal(store_room_get_by_id(f->st, room, &r), CC_ERR_NOT_FOUND);
	struct seen s;
	assert_int_equal(test_members(f, room, &s), 0);
	assert_int_equal(test_records(f, room, &s), 0);
	assert_int_equal(test_messages(f, room, 0, 0, &s), 0);

	/* Committed: all of it survives a restart. */
	assert_int_equal(store_begin(f->st), CC_OK);
	assert_int_equal(store_room_create(f->st, rid, alice, 1, &room), CC_OK);
	assert_int_equal(store_member_add(f->st, room, alice, 1, 0), CC_OK);
	assert_int_equal(store_record_append(f->st, room, 0, rec, sizeof rec, hash), CC_OK);
	for (int i = 0; i < 100; i++)
		assert_int_equal(test_append(f, room, alice, 10 + (uint64_t)i, (uint8_t)i), i + 1);
	assert_int_equal(store_commit(f->st), CC_OK);
	test_reopen(f);
	assert_int_equal(store_room_get(f->st, rid, &r), CC_OK);
	assert_int_equal(r.last_msg_id, 100);
	assert_int_equal(r.record_count, 1);
	assert_int_equal(test_members(f, room, &s), 1);
	assert_int_equal(test_messages(f, room, 0, 50, &s), 50);
	assert_int_equal(s.a[49], 50);
	uint32_t n;
	assert_int_equal(store_message_count_after(f->st, room, 0, &n), CC_OK);
	assert_int_equal(n, 100);
}

static void test_transaction_misuse(void **state)
{
	struct fixture *f = *state;
	int64_t alice = test_user(f, "alice", 1);
	assert_int_equal(store_commit(f->st), CC_ERR_STATE);
	store_rollback(f->st);                /* harmless without one */
	assert_int_equal(store_begin(f->st), CC_OK);
	assert_int_equal(store_begin(f->st), CC_ERR_STATE);

	/* Registration commits on its own, so it refuses to run inside one,
	 * and the caller's transaction is not disturbed. */
	uint8_t key[8] = {1}, fp[STORE_FINGERPRINT_LEN] = {2};
	struct store_user u;
	int64_t room = test_room(f, 3, alice);
	assert_int_equal(store_user_register(f->st, "bob", key, sizeof key, fp, 1, &u),
			 CC_ERR_STATE);
	assert_null(u.pubkey);
	assert_int_equal(store_commit(f->st), CC_OK);
	assert_int_equal(store_commit(f->st), CC_ERR_STATE);
	struct store_room r;
	assert_int_equal(store_room_get_by_id(f->st, room, &r), CC_OK);
	assert_int_equal(store_user_register(f->st, "bob", key, sizeof key, fp, 1, &u), CC_OK);
	store_user_clear(&u);

	/* Closing with one open rolls it back. */
	assert_int_equal(store_begin(f->st), CC_OK);
	int64_t gone = test_room(f, 4, alice);
	test_reopen(f);
	assert_int_equal(store_room_get_by_id(f->st, gone, &r), CC_ERR_NOT_FOUND);
	assert_int_equal(store_begin(f->st), CC_OK);
	store_rollback(f->st);

	assert_int_equal(store_begin(NULL), CC_ERR_INTERNAL);
	assert_int_equal(store_commit(NULL), CC_ERR_INTERNAL);
	store_rollback(NULL);
}

/* An error answer (EXISTS, NOT_FOUND) inside a transaction leaves the
 * transaction usable and the earlier work in it intact. */
static void test_transaction_survives_answers(void **state)
{
	struct fixture *f = *state;
	int64_t alice = test_user(f, "alice", 1);
	int64_t room = test_room(f, 1, alice);
	uint8_t rid[STORE_ROOM_ID_LEN], rec[4] = {1}, hash[STORE_HASH_LEN] = {0};
	test_room_id(1, rid);
	assert_int_equal(store_begin(f->st), CC_OK);
	assert_int_equal(store_member_add(f->st, room, alice, 1, 0), CC_OK);
	assert_int_equal(store_room_create(f->st, rid, alice, 1, NULL), CC_ERR_EXISTS);
	assert_int_equal(store_member_add(f->st, room, alice, 1, 0), CC_ERR_EXISTS);
	assert_int_equal(store_member_add(f->st, room + 1, alice, 1, 0), CC_ERR_NOT_FOUND);
	assert_int_equal(store_record_append(f->st, room, 3, rec, sizeof rec, hash), CC_ERR_STATE);
	assert_int_equal(store_message_append(f->st, room + 1, alice, 0, 1, rec, sizeof rec, NULL),
			 CC_ERR_NOT_FOUND);
	assert_int_equal(test_append(f, room, alice, 1, 1), 1);
	assert_int_equal(store_commit(f->st), CC_OK);
	struct store_member m;
	assert_int_equal(store_member_get(f->st, room, alice, &m), CC_OK);
	uint32_t n;
	assert_int_equal(store_message_count_after(f->st, room, 0, &n), CC_OK);
	assert_int_equal(n, 1);
}

/* ---- Rooms ------------------------------------------------------------------ */

static void test_room_create_get(void **state)
{
	struct fixture *f = *state;
	int64_t alice = test_user(f, "alice", 1);
	int64_t bob = test_user(f, "bob", 2);
	uint8_t rid[STORE_ROOM_ID_LEN], other[STORE_ROOM_ID_LEN], zero[STORE_HASH_LEN] = {0};
	test_room_id(1, rid);
	test_room_id(2, other);
	int64_t id, id2;
	assert_int_equal(store_room_create(f->st, rid, alice, 123456789012ULL, &id), CC_OK);
	assert_int_equal(store_room_create(f->st, rid, bob, 1, &id2), CC_ERR_EXISTS);
	assert_int_equal(id2, 0);
	assert_int_equal(store_room_create(f->st, other, bob + 50, 1, &id2), CC_ERR_NOT_FOUND);
	assert_int_equal(store_room_create(f->st, other, bob, (uint64_t)INT64_MAX + 1, &id2),
			 CC_ERR_MALFORMED);
	assert_int_equal(store_room_create(f->st, other, bob, 7, &id2), CC_OK);
	assert_true(id2 != id);

	struct store_room r, q;
	assert_int_equal(store_room_get(f->st, rid, &r), CC_OK);
	assert_int_equal(r.id, id);
	assert_memory_equal(r.room_id, rid, sizeof rid);
	assert_int_equal(r.admin_user, alice);
	assert_int_equal(r.epoch, 0);
	assert_int_equal(r.record_count, 0);
	assert_memory_equal(r.last_record_hash, zero, sizeof zero);
	assert_int_equal(r.last_msg_id, 0);
	assert_int_equal(r.created_ms, 123456789012ULL);
	assert_false(r.rekey_owed);
	assert_int_equal(store_room_get_by_id(f->st, id, &q), CC_OK);
	assert_memory_equal(&q, &r, sizeof r);

	assert_int_equal(store_room_set_admin(f->st, id, bob), CC_OK);
	assert_int_equal(store_room_set_epoch(f->st, id, UINT32_MAX), CC_OK);
	assert_int_equal(store_room_set_rekey_owed(f->st, id, true), CC_OK);
	assert_int_equal(store_room_get_by_id(f->st, id, &r), CC_OK);
	assert_int_equal(r.admin_user, bob);
	assert_int_equal(r.epoch, UINT32_MAX);
	assert_true(r.rekey_owed);
	assert_int_equal(store_room_set_rekey_owed(f->st, id, false), CC_OK);
	assert_int_equal(store_room_get_by_id(f->st, id, &r), CC_OK);
	assert_false(r.rekey_owed);
	/* The other room was not touched. */
	assert_int_equal(store_room_get_by_id(f->st, id2, &r), CC_OK);
	assert_int_equal(r.admin_user, bob);
	assert_int_equal(r.epoch, 0);
	assert_int_equal(r.created_ms, 7);

	/* Unknown rooms and users. */
	uint8_t nowhere[STORE_ROOM_ID_LEN];
	memset(nowhere, 0xff, sizeof nowhere);
	assert_int_equal(store_room_get(f->st, nowhere, &r), CC_ERR_NOT_FOUND);
	assert_int_equal(r.id, 0);
	assert_int_equal(store_room_get_by_id(f->st, id2 + 10, &r), CC_ERR_NOT_FOUND);
	assert_int_equal(store_room_set_admin(f->st, id2 + 10, bob), CC_ERR_NOT_FOUND);
	assert_int_equal(store_room_set_admin(f->st, id, bob + 10), CC_ERR_NOT_FOUND);
	assert_int_equal(store_room_set_epoch(f->st, id2 + 10, 1), CC_ERR_NOT_FOUND);
	assert_int_equal(store_room_set_rekey_owed(f->st, id2 + 10, true), CC_ERR_NOT_FOUND);
	assert_int_equal(store_room_get_by_id(f->st, id, &r), CC_OK);
	assert_int_equal(r.admin_user, bob);

	assert_int_equal(store_room_create(NULL, rid, alice, 1, &id), CC_ERR_INTERNAL);
	assert_int_equal(store_room_create(f->st, NULL, alice, 1, &id), CC_ERR_INTERNAL);
	assert_int_equal(store_room_get(f->st, NULL, &r), CC_ERR_INTERNAL);
	assert_int_equal(store_room_get(f->st, rid, NULL), CC_ERR_INTERNAL);
	assert_int_equal(store_room_get_by_id(NULL, id, &r), CC_ERR_INTERNAL);
	assert_int_equal(store_room_delete(NULL, id), CC_ERR_INTERNAL);
}

/* ---- Members ---------------------------------------------------------------- */

static void test_members_basic(void **state)
{
	struct fixture *f = *state;
	int64_t alice = test_user(f, "alice", 1);
	int64_t bob = test_user(f, "bob", 2);
	int64_t room = test_room(f, 1, alice);
	struct store_member m;
	uint32_t n = 99;

	assert_int_equal(store_member_count(f->st, room, &n), CC_OK);
	assert_int_equal(n, 0);
	assert_int_equal(store_member_add(f->st, room, alice, 1, 0), CC_OK);
	assert_int_equal(store_member_add(f->st, room, alice, 5, 2), CC_ERR_EXISTS);
	assert_int_equal(store_member_add(f->st, room, bob, 42, 7), CC_OK);
	assert_int_equal(store_member_add(f->st, room + 9, bob, 1, 0), CC_ERR_NOT_FOUND);
	assert_int_equal(store_member_add(f->st, room, bob + 9, 1, 0), CC_ERR_NOT_FOUND);
	assert_int_equal(store_member_add(f->st, room, bob, -1, 0), CC_ERR_MALFORMED);
	assert_int_equal(store_member_count(f->st, room, &n), CC_OK);
	assert_int_equal(n, 2);

	assert_int_equal(store_member_get(f->st, room, alice, &m), CC_OK);
	assert_int_equal(m.room, room);
	assert_int_equal(m.user, alice);
	assert_int_equal(m.first_msg_id, 1);
	assert_int_equal(m.last_read_msg_id, 0);
	assert_int_equal(m.since_epoch, 0);
	assert_int_equal(store_member_get(f->st, room, bob, &m), CC_OK);
	assert_int_equal(m.first_msg_id, 42);
	assert_int_equal(m.last_read_msg_id, 41);  /* nothing delivered yet */
	assert_int_equal(m.since_epoch, 7);

	assert_int_equal(store_member_set_read(f->st, room, bob, 50), CC_OK);
	assert_int_equal(store_member_get(f->st, room, bob, &m), CC_OK);
	assert_int_equal(m.last_read_msg_id, 50);
	assert_int_equal(store_member_set_read(f->st, room, bob, -1), CC_ERR_MALFORMED);
	assert_int_equal(store_member_set_read(f->st, room + 9, bob, 1), CC_ERR_NOT_FOUND);

	assert_int_equal(store_member_remove(f->st, room, bob), CC_OK);
	assert_int_equal(store_member_remove(f->st, room, bob), CC_ERR_NOT_FOUND);
	assert_int_equal(store_member_remove(f->st, room + 9, alice), CC_ERR_NOT_FOUND);
	assert_int_equal(store_member_get(f->st, room, bob, &m), CC_ERR_NOT_FOUND);
	assert_int_equal(m.user, 0);
	assert_int_equal(store_member_set_read(f->st, room, bob, 1), CC_ERR_NOT_FOUND);
	assert_int_equal(store_member_count(f->st, room, &n), CC_OK);
	assert_int_equal(n, 1);
	assert_int_equal(store_member_count(f->st, room + 9, &n), CC_OK);
	assert_int_equal(n, 0);

	assert_int_equal(store_member_get(f->st, room, alice, NULL), CC_ERR_INTERNAL);
	assert_int_equal(store_member_get(NULL, room, alice, &m), CC_ERR_INTERNAL);
	assert_int_equal(store_member_count(f->st, room, NULL), CC_ERR_INTERNAL);
	assert_int_equal(store_member_each(f->st, room, NULL, NULL), CC_ERR_INTERNAL);
	assert_int_equal(store_member_each_room_of(NULL, alice, seen_member, NULL),
			 CC_ERR_INTERNAL);
}

static void test_member_each_order(void **state)
{
	struct fixture *f = *state;
	int64_t u[5];
	char nick[8];
	for (int i = 0; i < 5; i++) {
		snprintf(nick, sizeof nick, "u%d", i);
		u[i] = test_user(f, nick, (uint8_t)(10 + i));
	}
	int64_t room = test_room(f, 1, u[0]);
	int64_t other = test_room(f, 2, u[0]);
	/* Join order differs from user id order. */
	const int order[5] = {3, 0, 4, 1, 2};
	for (int i = 0; i < 5; i++)
		assert_int_equal(store_member_add(f->st, room, u[order[i]], 1, (uint32_t)i), CC_OK);
	assert_int_equal(store_member_add(f->st, other, u[2], 1, 0), CC_OK);

	struct seen s;
	assert_int_equal(test_members(f, room, &s), 5);
	for (int i = 0; i < 5; i++) {
		assert_int_equal(s.a[i], u[order[i]]);
		assert_int_equal(s.b[i], room);
		assert_int_equal(s.epoch[i], (uint32_t)i);
	}
	/* Leaving and coming back puts one at the end. */
	assert_int_equal(store_member_remove(f->st, room, u[0]), CC_OK);
	assert_int_equal(store_member_add(f->st, room, u[0], 1, 9), CC_OK);
	assert_int_equal(test_members(f, room, &s), 5);
	assert_int_equal(s.a[0], u[3]);
	assert_int_equal(s.a[1], u[4]);
	assert_int_equal(s.a[4], u[0]);
	/* The order survives a restart. */
	test_reopen(f);
	assert_int_equal(test_members(f, room, &s), 5);
	assert_int_equal(s.a[4], u[0]);
	assert_int_equal(test_members(f, room + 100, &s), 0);

	/* Stopping: the callback's own cc_err comes back, anything else is a bug. */
	memset(&s, 0, sizeof s);
	s.stop_after = 2;
	s.stop_with = CC_ERR_LIMIT;
	assert_int_equal(store_member_each(f->st, room, seen_member, &s), CC_ERR_LIMIT);
	assert_int_equal(s.n, 2);
	memset(&s, 0, sizeof s);
	s.stop_after = 1;
	s.stop_with = -1;
	assert_int_equal(store_member_each(f->st, room, seen_member, &s), CC_ERR_INTERNAL);
	assert_int_equal(s.n, 1);
	memset(&s, 0, sizeof s);
	s.stop_after = 1;
	s.stop_with = CC_ERR_COUNT_;
	assert_int_equal(store_member_each(f->st, room, seen_member, &s), CC_ERR_INTERNAL);
	/* And the statement was left ready: the next walk is complete. */
	assert_int_equal(test_members(f, room, &s), 5);
}

static void test_member_each_room_of(void **state)
{
	struct fixture *f = *state;
	int64_t alice = test_user(f, "alice", 1);
	int64_t bob = test_user(f, "bob", 2);
	int64_t r[4];
	for (int i = 0; i < 4; i++)
		r[i] = test_room(f, (uint8_t)(i + 1), alice);
	/* Joined in another order than the rooms were made. */
	assert_int_equal(store_member_add(f->st, r[3], bob, 4, 1), CC_OK);
	assert_int_equal(store_member_add(f->st, r[0], bob, 2, 2), CC_OK);
	assert_int_equal(store_member_add(f->st, r[2], bob, 3, 3), CC_OK);
	assert_int_equal(store_member_add(f->st, r[1], alice, 1, 0), CC_OK);

	struct seen s = {0};
	assert_int_equal(store_member_each_room_of(f->st, bob, seen_member, &s), CC_OK);
	assert_int_equal(s.n, 3);
	assert_int_equal(s.b[0], r[0]);
	assert_int_equal(s.b[1], r[2]);
	assert_int_equal(s.b[2], r[3]);
	assert_int_equal(s.a[0], bob);
	assert_int_equal(s.epoch[2], 1);
	memset(&s, 0, sizeof s);
	assert_int_equal(store_member_each_room_of(f->st, alice, seen_member, &s), CC_OK);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.b[0], r[1]);
	memset(&s, 0, sizeof s);
	assert_int_equal(store_member_each_room_of(f->st, bob + 10, seen_member, &s), CC_OK);
	assert_int_equal(s.n, 0);
}

/* A callback may use the store, but not start its own walk again. */
struct reenter {
	struct store *st;
	int64_t room;
	int64_t sender;
	int calls;
	cc_err inner;
};

static int reenter_member(void *ctx, const struct store_member *m)
{
	struct reenter *r = ctx;
	struct store_member g;
	uint32_t n;
	r->calls++;
	assert_int_equal(store_member_get(r->st, m->room, m->user, &g), CC_OK);
	assert_int_equal(g.user, m->user);
	assert_int_equal(store_member_count(r->st, m->room, &n), CC_OK);
	assert_int_equal(store_member_set_read(r->st, m->room, m->user, 5), CC_OK);
	uint8_t blob[3] = {1, 2, 3};
	assert_int_equal(store_message_append(r->st, r->room, r->sender, 0, 1, blob, sizeof blob,
					      NULL), CC_OK);
	struct seen s = {0};
	assert_int_equal(store_member_each_room_of(r->st, m->user, seen_member, &s), CC_OK);
	r->inner = store_member_each(r->st, m->room, reenter_member, r);
	return 0;
}

static void test_walk_reentry(void **state)
{
	struct fixture *f = *state;
	int64_t alice = test_user(f, "alice", 1);
	int64_t bob = test_user(f, "bob", 2);
	int64_t room = test_room(f, 1, alice);
	assert_int_equal(store_member_add(f->st, room, alice, 1, 0), CC_OK);
	assert_int_equal(store_member_add(f->st, room, bob, 1, 0), CC_OK);
	struct reenter r = {f->st, room, alice, 0, CC_OK};
	assert_int_equal(store_member_each(f->st, room, reenter_member, &r), CC_OK);
	assert_int_equal(r.calls, 2);
	assert_int_equal(r.inner, CC_ERR_STATE);
	struct store_member m;
	assert_int_equal(store_member_get(f->st, room, bob, &m), CC_OK);
	assert_int_equal(m.last_read_msg_id, 5);
	uint32_t n;
	assert_int_equal(store_message_count_after(f->st, room, 0, &n), CC_OK);
	assert_int_equal(n, 2);
}

/* ---- Membership records ---------------------------------------------------------- */

static void test_records_chain(void **state)
{
	struct fixture *f = *state;
	int64_t alice = test_user(f, "alice", 1);
	int64_t room = test_room(f, 1, alice);
	int64_t other = test_room(f, 2, alice);
	uint8_t rec[300], hash[STORE_HASH_LEN];
	struct store_room r;

	for (uint32_t i = 0; i < 3; i++) {
		memset(rec, (int)(0x10 + i), sizeof rec);
		memset(hash, (int)(0xa0 + i), sizeof hash);
		assert_int_equal(store_record_append(f->st, room, i, rec, 100 + i, hash), CC_OK);
		assert_int_equal(store_room_get_by_id(f->st, room, &r), CC_OK);
		assert_int_equal(r.record_count, i + 1);
		assert_memory_equal(r.last_record_hash, hash, sizeof hash);
	}
	/* Taken, a gap, the cap, no room: each refused and nothing moved. */
	memset(hash, 0xee, sizeof hash);
	assert_int_equal(store_record_append(f->st, room, 1, rec, 10, hash), CC_ERR_EXISTS);
	assert_int_equal(store_record_append(f->st, room, 0, rec, 10, hash), CC_ERR_EXISTS);
	assert_int_equal(store_record_append(f->st, room, 4, rec, 10, hash), CC_ERR_STATE);
	assert_int_equal(store_record_append(f->st, room, UINT32_MAX, rec, 10, hash),
			 CC_ERR_LIMIT);
	assert_int_equal(store_record_append(f->st, room + 9, 0, rec, 10, hash), CC_ERR_NOT_FOUND);
	assert_int_equal(store_record_append(f->st, room, 3, rec, 0, hash), CC_ERR_MALFORMED);
	assert_int_equal(store_record_append(f->st, room, 3, NULL, 5, hash), CC_ERR_INTERNAL);
	assert_int_equal(store_record_append(f->st, room, 3, rec, 5, NULL), CC_ERR_INTERNAL);
	assert_int_equal(store_record_append(f->st, room, 3, rec, STORE_BLOB_MAX + 1, hash),
			 CC_ERR_TOO_LARGE);
	assert_int_equal(store_room_get_by_id(f->st, room, &r), CC_OK);
	assert_int_equal(r.record_count, 3);
	assert_int_equal(r.last_record_hash[0], 0xa2);

	/* The other room's chain is its own. */
	assert_int_equal(store_record_append(f->st, other, 0, rec, 1, hash), CC_OK);

	struct seen s;
	assert_int_equal(test_records(f, room, &s), 3);
	for (uint32_t i = 0; i < 3; i++) {
		assert_int_equal(s.a[i], i);
		assert_int_equal(s.first[i], 0x10 + i);
		assert_int_equal(s.len[i], 100 + i);
	}
	assert_int_equal(test_records(f, other, &s), 1);
	assert_int_equal(s.len[0], 1);
	assert_int_equal(test_records(f, room + 9, &s), 0);
	memset(&s, 0, sizeof s);
	s.stop_after = 1;
	s.stop_with = CC_ERR_AUTH;
	assert_int_equal(store_record_each(f->st, room, seen_blob, &s), CC_ERR_AUTH);
	assert_int_equal(s.n, 1);

	/* Outside a transaction each append is atomic on its own: persisted. */
	test_reopen(f);
	assert_int_equal(test_records(f, room, &s), 3);
	assert_int_equal(store_room_get_by_id(f->st, room, &r), CC_OK);
	assert_int_equal(r.record_count, 3);
	assert_int_equal(r.last_record_hash[31], 0xa2);
	assert_int_equal(store_record_each(f->st, room, NULL, NULL), CC_ERR_INTERNAL);
}

static void test_records_large(void **state)
{
	struct fixture *f = *state;
	int64_t alice = test_user(f, "alice", 1);
	int64_t room = test_room(f, 1, alice);
	uint8_t hash[STORE_HASH_LEN] = {0};
	uint8_t *big = malloc(STORE_BLOB_MAX);
	assert_non_null(big);
	memset(big, 0x7e, STORE_BLOB_MAX);
	assert_int_equal(store_record_append(f->st, room, 0, big, STORE_BLOB_MAX, hash), CC_OK);
	free(big);
	struct seen s;
	assert_int_equal(test_records(f, room, &s), 1);
	assert_int_equal(s.len[0], STORE_BLOB_MAX);
	assert_int_equal(s.first[0], 0x7e);
}

/* ---- Keys and epochs -------------------------------------------------------------- */

static void test_keys_and_epochs(void **state)
{
	struct fixture *f = *state;
	int64_t alice = test_user(f, "alice", 1);
	int64_t bob = test_user(f, "bob", 2);
	int64_t room = test_room(f, 1, alice);
	int64_t other = test_room(f, 2, alice);
	uint8_t w[384];

	/* Put out of order; each() gives epoch order. */
	const uint32_t epochs[4] = {2, 0, 7, 1};
	for (int i = 0; i < 4; i++) {
		memset(w, (int)epochs[i], sizeof w);
		assert_int_equal(store_key_put(f->st, room, epochs[i], alice, w, sizeof w), CC_OK);
	}
	memset(w, 0xbb, sizeof w);
	assert_int_equal(store_key_put(f->st, room, 1, bob, w, 10), CC_OK);
	assert_int_equal(store_key_put(f->st, other, 1, alice, w, 11), CC_OK);
	/* Replaced. */
	memset(w, 0xcc, sizeof w);
	assert_int_equal(store_key_put(f->st, room, 2, alice, w, 200), CC_OK);

	struct seen s;
	assert_int_equal(test_keys(f, room, alice, 0, &s), 4);
	const uint32_t want[4] = {0, 1, 2, 7};
	for (int i = 0; i < 4; i++)
		assert_int_equal(s.a[i], want[i]);
	assert_int_equal(s.first[2], 0xcc);
	assert_int_equal(s.len[2], 200);
	assert_int_equal(s.first[3], 7);
	assert_int_equal(s.len[3], sizeof w);
	assert_int_equal(test_keys(f, room, alice, 2, &s), 2);
	assert_int_equal(s.a[0], 2);
	assert_int_equal(s.a[1], 7);
	assert_int_equal(test_keys(f, room, alice, 8, &s), 0);
	assert_int_equal(test_keys(f, room, alice, UINT32_MAX, &s), 0);
	assert_int_equal(test_keys(f, room, bob, 0, &s), 1);
	assert_int_equal(s.a[0], 1);
	assert_int_equal(s.len[0], 10);
	assert_int_equal(test_keys(f, other, alice, 0, &s), 1);
	assert_int_equal(s.len[0], 11);
	assert_int_equal(test_keys(f, other, bob, 0, &s), 0);

	assert_int_equal(store_key_put(f->st, room + 9, 0, alice, w, 1), CC_ERR_NOT_FOUND);
	assert_int_equal(store_key_put(f->st, room, 0, bob + 9, w, 1), CC_ERR_NOT_FOUND);
	assert_int_equal(store_key_put(f->st, room, 0, alice, w, 0), CC_ERR_MALFORMED);
	assert_int_equal(store_key_put(f->st, room, 0, alice, NULL, 1), CC_ERR_INTERNAL);
	assert_int_equal(store_key_put(f->st, room, 0, alice, w, STORE_BLOB_MAX + 1),
			 CC_ERR_TOO_LARGE);
	assert_int_equal(store_key_each(f->st, room, alice, 0, NULL, NULL), CC_ERR_INTERNAL);

	/* Epoch titles. */
	uint8_t *t = (uint8_t *)&t;
	size_t len = 5;
	assert_int_equal(store_epoch_get(f->st, room, 0, &t, &len), CC_ERR_NOT_FOUND);
	assert_null(t);
	assert_int_equal(len, 0);
	assert_int_equal(store_epoch_put(f->st, room, 0, (const uint8_t *)"title-zero", 10), CC_OK);
	assert_int_equal(store_epoch_put(f->st, room, 1, (const uint8_t *)"one", 3), CC_OK);
	assert_int_equal(store_epoch_put(f->st, other, 0, (const uint8_t *)"other", 5), CC_OK);
	assert_int_equal(store_epoch_get(f->st, room, 0, &t, &len), CC_OK);
	assert_int_equal(len, 10);
	assert_memory_equal(t, "title-zero", 10);
	free(t);
	assert_int_equal(store_epoch_put(f->st, room, 0, (const uint8_t *)"renamed", 7), CC_OK);
	assert_int_equal(store_epoch_get(f->st, room, 0, &t, &len), CC_OK);
	assert_int_equal(len, 7);
	assert_memory_equal(t, "renamed", 7);
	free(t);
	assert_int_equal(store_epoch_get(f->st, other, 0, &t, &len), CC_OK);
	assert_memory_equal(t, "other", 5);
	free(t);
	assert_int_equal(store_epoch_get(f->st, room, 2, &t, &len), CC_ERR_NOT_FOUND);
	assert_int_equal(store_epoch_get(f->st, room + 9, 0, &t, &len), CC_ERR_NOT_FOUND);
	assert_int_equal(store_epoch_put(f->st, room + 9, 0, (const uint8_t *)"x", 1),
			 CC_ERR_NOT_FOUND);
	assert_int_equal(store_epoch_put(f->st, room, 3, (const uint8_t *)"x", 0),
			 CC_ERR_MALFORMED);
	assert_int_equal(store_epoch_put(f->st, room, 3, w, STORE_BLOB_MAX + 1), CC_ERR_TOO_LARGE);
	assert_int_equal(store_epoch_get(f->st, room, 0, NULL, &len), CC_ERR_INTERNAL);
	assert_int_equal(store_epoch_get(f->st, room, 0, &t, NULL), CC_ERR_INTERNAL);

	test_reopen(f);
	assert_int_equal(test_keys(f, room, alice, 1, &s), 3);
	assert_int_equal(store_epoch_get(f->st, room, 1, &t, &len), CC_OK);
	assert_memory_equal(t, "one", 3);
	free(t);
}

/* ---- Messages ------------------------------------------------------------------ */

static void test_messages_ids_and_walks(void **state)
{
	struct fixture *f = *state;
	int64_t alice = test_user(f, "alice", 1);
	int64_t bob = test_user(f, "bob", 2);
	int64_t r1 = test_room(f, 1, alice);
	int64_t r2 = test_room(f, 2, alice);

	/* Interleaved: each room counts from 1 on its own. */
	for (int i = 0; i < 10; i++) {
		assert_int_equal(test_append(f, r1, i % 2 ? bob : alice, 100 + (uint64_t)i,
					     (uint8_t)i), i + 1);
		if (i < 4)
			assert_int_equal(test_append(f, r2, bob, 500, 0xf0), i + 1);
	}
	struct store_room r;
	assert_int_equal(store_room_get_by_id(f->st, r1, &r), CC_OK);
	assert_int_equal(r.last_msg_id, 10);
	assert_int_equal(store_room_get_by_id(f->st, r2, &r), CC_OK);
	assert_int_equal(r.last_msg_id, 4);

	struct seen s;
	assert_int_equal(test_messages(f, r1, 0, 0, &s), 10);
	for (int i = 0; i < 10; i++) {
		assert_int_equal(s.a[i], i + 1);
		assert_int_equal(s.b[i], i % 2 ? bob : alice);
		assert_int_equal(s.first[i], i);
		assert_int_equal(s.len[i], 40);
		assert_int_equal(s.ts[i], 100 + i);
		assert_int_equal(s.epoch[i], 3);
	}
	assert_int_equal(test_messages(f, r1, 7, 0, &s), 3);
	assert_int_equal(s.a[0], 8);
	assert_int_equal(test_messages(f, r1, 2, 3, &s), 3);
	assert_int_equal(s.a[0], 3);
	assert_int_equal(s.a[2], 5);
	assert_int_equal(test_messages(f, r1, 10, 0, &s), 0);
	assert_int_equal(test_messages(f, r1, -5, 1, &s), 1);
	assert_int_equal(s.a[0], 1);
	assert_int_equal(test_messages(f, r2, 0, 100, &s), 4);
	assert_int_equal(s.first[3], 0xf0);
	assert_int_equal(test_messages(f, r2 + 9, 0, 0, &s), 0);
	memset(&s, 0, sizeof s);
	s.stop_after = 2;
	s.stop_with = CC_ERR_CLOSED;
	assert_int_equal(store_message_each(f->st, r1, 0, 0, seen_message, &s), CC_ERR_CLOSED);
	assert_int_equal(s.n, 2);

	uint32_t n = 99;
	assert_int_equal(store_message_count_after(f->st, r1, 0, &n), CC_OK);
	assert_int_equal(n, 10);
	assert_int_equal(store_message_count_after(f->st, r1, 6, &n), CC_OK);
	assert_int_equal(n, 4);
	assert_int_equal(store_message_count_after(f->st, r1, 10, &n), CC_OK);
	assert_int_equal(n, 0);
	assert_int_equal(store_message_count_after(f->st, r2, 0, &n), CC_OK);
	assert_int_equal(n, 4);
	assert_int_equal(store_message_count_after(f->st, r2 + 9, 0, &n), CC_OK);
	assert_int_equal(n, 0);

	/* Refused appends use up no id. */
	uint8_t b[4] = {0};
	int64_t id = 5;
	assert_int_equal(store_message_append(f->st, r2 + 9, alice, 0, 1, b, 4, &id),
			 CC_ERR_NOT_FOUND);
	assert_int_equal(id, 0);
	assert_int_equal(store_message_append(f->st, r2, alice, 0, 1, b, 0, &id), CC_ERR_MALFORMED);
	assert_int_equal(store_message_append(f->st, r2, alice, 0, 1, NULL, 4, &id),
			 CC_ERR_INTERNAL);
	assert_int_equal(store_message_append(f->st, r2, alice, 0, 1, b, STORE_BLOB_MAX + 1, &id),
			 CC_ERR_TOO_LARGE);
	assert_int_equal(store_message_append(f->st, r2, alice, 0, (uint64_t)INT64_MAX + 1, b, 4,
					      &id), CC_ERR_MALFORMED);
	assert_int_equal(store_message_append(NULL, r2, alice, 0, 1, b, 4, &id), CC_ERR_INTERNAL);
	/* The sender is not checked against users (a message outlives its
	 * sender), and the largest values go through. */
	uint8_t *big = malloc(STORE_BLOB_MAX);
	assert_non_null(big);
	memset(big, 0x99, STORE_BLOB_MAX);
	assert_int_equal(store_message_append(f->st, r2, 424242, UINT32_MAX, (uint64_t)INT64_MAX,
					      big, STORE_BLOB_MAX, &id), CC_OK);
	free(big);
	assert_int_equal(id, 5);
	assert_int_equal(test_messages(f, r2, 4, 0, &s), 1);
	assert_int_equal(s.b[0], 424242);
	assert_int_equal(s.epoch[0], UINT32_MAX);
	assert_int_equal(s.ts[0], (uint64_t)INT64_MAX);
	assert_int_equal(s.len[0], STORE_BLOB_MAX);

	assert_int_equal(store_message_each(f->st, r1, 0, 0, NULL, NULL), CC_ERR_INTERNAL);
	assert_int_equal(store_message_count_after(f->st, r1, 0, NULL), CC_ERR_INTERNAL);

	test_reopen(f);
	assert_int_equal(test_messages(f, r1, 0, 0, &s), 10);
	assert_int_equal(test_append(f, r1, alice, 1, 0), 11);
	assert_int_equal(test_append(f, r2, alice, 1, 0), 6);
}

static void test_prune(void **state)
{
	struct fixture *f = *state;
	int64_t alice = test_user(f, "alice", 1);
	int64_t r1 = test_room(f, 1, alice);
	int64_t r2 = test_room(f, 2, alice);
	int64_t r3 = test_room(f, 3, alice);
	/* r1: 20 messages at times 1000..1019; r2: 5 at 2000..; r3: none. */
	assert_int_equal(store_begin(f->st), CC_OK);
	for (int i = 0; i < 20; i++)
		test_append(f, r1, alice, 1000 + (uint64_t)i, (uint8_t)i);
	for (int i = 0; i < 5; i++)
		test_append(f, r2, alice, 2000 + (uint64_t)i, (uint8_t)i);
	assert_int_equal(store_commit(f->st), CC_OK);

	uint64_t deleted = 99;
	assert_int_equal(store_message_prune(f->st, 0, 0, &deleted), CC_OK);
	assert_int_equal(deleted, 0);
	/* In steps: at most the limit per call, the oldest first, until done. */
	assert_int_equal(store_message_prune_some(f->st, 1003, 0, 2, &deleted), CC_OK);
	assert_int_equal(deleted, 2);
	assert_int_equal(store_message_prune_some(f->st, 1003, 0, 2, &deleted), CC_OK);
	assert_int_equal(deleted, 1);
	assert_int_equal(store_message_prune_some(f->st, 1003, 0, 2, &deleted), CC_OK);
	assert_int_equal(deleted, 0);
	/* By age: everything before 1005 goes (the 3 above already have). */
	assert_int_equal(store_message_prune(f->st, 1005, 0, &deleted), CC_OK);
	assert_int_equal(deleted, 2);
	struct seen s;
	assert_int_equal(test_messages(f, r1, 0, 0, &s), 15);
	assert_int_equal(s.a[0], 6);
	assert_int_equal(test_messages(f, r2, 0, 0, &s), 5);

	/* By count: the newest 10 of each room stay (in a step of 3, then the rest). */
	assert_int_equal(store_message_prune_some(f->st, 0, 10, 3, &deleted), CC_OK);
	assert_int_equal(deleted, 3);
	assert_int_equal(store_message_prune(f->st, 0, 10, &deleted), CC_OK);
	assert_int_equal(deleted, 2);
	assert_int_equal(test_messages(f, r1, 0, 0, &s), 10);
	assert_int_equal(s.a[0], 11);
	assert_int_equal(s.a[9], 20);
	assert_int_equal(test_messages(f, r2, 0, 0, &s), 5);

	/* A hole in the middle (a clock that went back) does not make the
	 * count pass keep fewer than it should. */
	int64_t id;
	uint8_t b[2] = {1, 2};
	assert_int_equal(store_message_append(f->st, r2, alice, 0, 10, b, 2, &id), CC_OK);
	assert_int_equal(id, 6);
	assert_int_equal(test_append(f, r2, alice, 3000, 7), 7);
	assert_int_equal(store_message_prune(f->st, 100, 0, &deleted), CC_OK);
	assert_int_equal(deleted, 1);
	assert_int_equal(store_message_prune(f->st, 0, 5, &deleted), CC_OK);
	assert_int_equal(deleted, 5 + 1);
	assert_int_equal(test_messages(f, r2, 0, 0, &s), 5);
	const int64_t want[5] = {2, 3, 4, 5, 7};
	for (int i = 0; i < 5; i++)
		assert_int_equal(s.a[i], want[i]);
	assert_int_equal(test_messages(f, r1, 0, 0, &s), 5);
	assert_int_equal(s.a[0], 16);

	/* Both at once, inside a caller's transaction; then everything. */
	assert_int_equal(store_begin(f->st), CC_OK);
	/* r1 keeps 16..20 (times 1015..1019), r2 2, 3, 4, 5, 7. By age 16 and
	 * 17 go, by count 18 and r2's 2, 3 and 4. */
	assert_int_equal(store_message_prune(f->st, 1017, 2, &deleted), CC_OK);
	assert_int_equal(deleted, 2 + 1 + 3);
	assert_int_equal(store_commit(f->st), CC_OK);
	assert_int_equal(test_messages(f, r1, 0, 0, &s), 2);
	assert_int_equal(s.a[0], 19);
	assert_int_equal(test_messages(f, r2, 0, 0, &s), 2);
	assert_int_equal(s.a[0], 5);
	assert_int_equal(s.a[1], 7);
	assert_int_equal(store_message_prune(f->st, (uint64_t)INT64_MAX, 0, &deleted), CC_OK);
	assert_int_equal(deleted, 4);
	assert_int_equal(test_messages(f, r3, 0, 0, &s), 0);
	assert_int_equal(store_message_prune(f->st, (uint64_t)INT64_MAX + 1, 0, &deleted),
			 CC_ERR_MALFORMED);
	assert_int_equal(store_message_prune(f->st, 1, 1, NULL), CC_OK);
	assert_int_equal(store_message_prune(NULL, 1, 1, &deleted), CC_ERR_INTERNAL);

	/* Ids are never reused after a prune. */
	assert_int_equal(test_append(f, r1, alice, 5000, 0), 21);
	assert_int_equal(test_append(f, r2, alice, 5000, 0), 8);
	assert_int_equal(test_append(f, r3, alice, 5000, 0), 1);
	uint32_t n;
	assert_int_equal(store_message_count_after(f->st, r1, 0, &n), CC_OK);
	assert_int_equal(n, 1);
}

/* ---- Deleting a room ------------------------------------------------------------- */

static void test_room_delete_cascades(void **state)
{
	struct fixture *f = *state;
	int64_t alice = test_user(f, "alice", 1);
	int64_t bob = test_user(f, "bob", 2);
	int64_t rooms[2];
	uint8_t blob[50], hash[STORE_HASH_LEN] = {3};
	memset(blob, 0x42, sizeof blob);
	for (int i = 0; i < 2; i++) {
		int64_t r = rooms[i] = test_room(f, (uint8_t)(i + 1), alice);
		assert_int_equal(store_member_add(f->st, r, alice, 1, 0), CC_OK);
		assert_int_equal(store_member_add(f->st, r, bob, 1, 0), CC_OK);
		assert_int_equal(store_record_append(f->st, r, 0, blob, 10, hash), CC_OK);
		assert_int_equal(store_record_append(f->st, r, 1, blob, 10, hash), CC_OK);
		assert_int_equal(store_epoch_put(f->st, r, 0, blob, 5), CC_OK);
		assert_int_equal(store_key_put(f->st, r, 0, alice, blob, 20), CC_OK);
		assert_int_equal(store_key_put(f->st, r, 0, bob, blob, 20), CC_OK);
		for (int j = 0; j < 5; j++)
			test_append(f, r, bob, 10, 0);
	}
	assert_int_equal(store_room_delete(f->st, rooms[0]), CC_OK);
	assert_int_equal(store_room_delete(f->st, rooms[0]), CC_ERR_NOT_FOUND);

	int64_t r = rooms[0];
	struct store_room room;
	struct store_member m;
	struct seen s;
	uint32_t n = 9;
	uint8_t *t;
	size_t len;
	assert_int_equal(store_room_get_by_id(f->st, r, &room), CC_ERR_NOT_FOUND);
	assert_int_equal(store_member_get(f->st, r, alice, &m), CC_ERR_NOT_FOUND);
	assert_int_equal(store_member_count(f->st, r, &n), CC_OK);
	assert_int_equal(n, 0);
	assert_int_equal(test_members(f, r, &s), 0);
	assert_int_equal(test_records(f, r, &s), 0);
	assert_int_equal(test_keys(f, r, alice, 0, &s), 0);
	assert_int_equal(test_keys(f, r, bob, 0, &s), 0);
	assert_int_equal(store_epoch_get(f->st, r, 0, &t, &len), CC_ERR_NOT_FOUND);
	assert_int_equal(test_messages(f, r, 0, 0, &s), 0);
	assert_int_equal(store_message_count_after(f->st, r, 0, &n), CC_OK);
	assert_int_equal(n, 0);
	memset(&s, 0, sizeof s);
	assert_int_equal(store_member_each_room_of(f->st, bob, seen_member, &s), CC_OK);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.b[0], rooms[1]);

	/* The other room is whole. */
	r = rooms[1];
	assert_int_equal(test_members(f, r, &s), 2);
	assert_int_equal(test_records(f, r, &s), 2);
	assert_int_equal(test_keys(f, r, bob, 0, &s), 1);
	assert_int_equal(test_messages(f, r, 0, 0, &s), 5);
	assert_int_equal(store_epoch_get(f->st, r, 0, &t, &len), CC_OK);
	free(t);

	/* The same room id can be made again: a new row, a fresh start. */
	uint8_t rid[STORE_ROOM_ID_LEN];
	int64_t again;
	test_room_id(1, rid);
	assert_int_equal(store_room_create(f->st, rid, bob, 9, &again), CC_OK);
	assert_true(again != rooms[0] && again != rooms[1]);
	assert_int_equal(store_room_get(f->st, rid, &room), CC_OK);
	assert_int_equal(room.record_count, 0);
	assert_int_equal(room.last_msg_id, 0);
	assert_int_equal(test_append(f, again, bob, 1, 0), 1);
	test_reopen(f);
	assert_int_equal(store_room_get_by_id(f->st, rooms[0], &room), CC_ERR_NOT_FOUND);
	assert_int_equal(test_messages(f, rooms[1], 0, 0, &s), 5);
}

/* ---- Nickname expiry ---------------------------------------------------------- */

/* What a walk of idle users saw; optionally expires each one it is handed. */
struct idle_seen {
	struct store *st;
	size_t n;
	int64_t id[SEEN_MAX];
	uint64_t last_seen[SEEN_MAX];
	char nick[SEEN_MAX][STORE_NICK_MAX + 1];
	bool expire;
	bool reenter;
	cc_err inner;
	size_t stop_after;            /* 0: never stop */
	int stop_with;
};

static int seen_idle(void *ctx, const struct store_user *u)
{
	struct idle_seen *s = ctx;
	assert_true(s->n < SEEN_MAX);
	assert_non_null(u->pubkey);
	assert_int_equal(u->pubkey_len, 64);
	s->id[s->n] = u->id;
	s->last_seen[s->n] = u->last_seen_s;
	memcpy(s->nick[s->n], u->nick, sizeof u->nick);
	s->n++;
	if (s->reenter)
		s->inner = store_user_each_idle(s->st, 1000, seen_idle, s);
	if (s->expire)
		assert_int_equal(store_user_expire(s->st, u->id), CC_OK);
	return s->stop_after && s->n == s->stop_after ? s->stop_with : 0;
}

static size_t test_idle(struct fixture *f, uint64_t before, struct idle_seen *s)
{
	memset(s, 0, sizeof *s);
	s->st = f->st;
	assert_int_equal(store_user_each_idle(f->st, before, seen_idle, s), CC_OK);
	return s->n;
}

#define GONE_MAX 8

struct gone_seen {
	size_t n;
	uint8_t fp[GONE_MAX][STORE_FINGERPRINT_LEN];
	char nick[GONE_MAX][STORE_NICK_MAX + 1];
};

static int seen_gone(void *ctx, uint32_t n, const uint8_t *blob, size_t len)
{
	struct gone_seen *s = ctx;
	assert_true(s->n < GONE_MAX);
	assert_int_equal(n, 0);
	assert_true(len > STORE_FINGERPRINT_LEN && len <= STORE_FINGERPRINT_LEN + STORE_NICK_MAX);
	memcpy(s->fp[s->n], blob, STORE_FINGERPRINT_LEN);
	memcpy(s->nick[s->n], blob + STORE_FINGERPRINT_LEN, len - STORE_FINGERPRINT_LEN);
	s->nick[s->n][len - STORE_FINGERPRINT_LEN] = '\0';
	s->n++;
	return 0;
}

static size_t test_gone(struct fixture *f, int64_t room, struct gone_seen *s)
{
	memset(s, 0, sizeof *s);
	assert_int_equal(store_room_gone_each(f->st, room, seen_gone, s), CC_OK);
	return s->n;
}

static size_t test_owed(struct fixture *f, int64_t admin, struct seen *s)
{
	memset(s, 0, sizeof *s);
	assert_int_equal(store_room_each_owed(f->st, admin, seen_member, s), CC_OK);
	return s->n;
}

static void test_fp(uint8_t seed, uint8_t fp[STORE_FINGERPRINT_LEN])
{
	uint8_t key[64];
	test_key(seed, key, fp);
}

static void test_idle_users(void **state)
{
	struct fixture *f = *state;
	int64_t alice = test_user(f, "Alice", 1);
	int64_t bob = test_user(f, "bob", 2);
	int64_t carol = test_user(f, "carol", 3);
	int64_t dave = test_user(f, "dave", 4);
	assert_int_equal(store_user_touch(f->st, alice, 100), CC_OK);
	assert_int_equal(store_user_touch(f->st, bob, 50), CC_OK);
	assert_int_equal(store_user_touch(f->st, carol, 200), CC_OK);
	assert_int_equal(store_user_touch(f->st, dave, 100), CC_OK);

	/* Strictly before, oldest first, ties by id. */
	struct idle_seen s;
	assert_int_equal(test_idle(f, 160, &s), 3);
	assert_int_equal(s.id[0], bob);
	assert_int_equal(s.last_seen[0], 50);
	assert_int_equal(s.id[1], alice);
	assert_string_equal(s.nick[1], "Alice");
	assert_int_equal(s.id[2], dave);
	assert_int_equal(test_idle(f, 100, &s), 1);
	assert_int_equal(test_idle(f, 50, &s), 0);
	assert_int_equal(test_idle(f, 0, &s), 0);
	assert_int_equal(test_idle(f, INT64_MAX, &s), 4);

	/* Stopped by the callback; the walk cannot be started from inside itself. */
	memset(&s, 0, sizeof s);
	s.st = f->st;
	s.stop_after = 2;
	s.stop_with = CC_ERR_LIMIT;
	assert_int_equal(store_user_each_idle(f->st, 1000, seen_idle, &s), CC_ERR_LIMIT);
	assert_int_equal(s.n, 2);
	memset(&s, 0, sizeof s);
	s.st = f->st;
	s.reenter = true;
	s.stop_after = 1;
	s.stop_with = -1;             /* not a cc_err */
	assert_int_equal(store_user_each_idle(f->st, 1000, seen_idle, &s), CC_ERR_INTERNAL);
	assert_int_equal(s.inner, CC_ERR_STATE);

	assert_int_equal(store_user_each_idle(f->st, (uint64_t)INT64_MAX + 1, seen_idle, &s),
			 CC_ERR_MALFORMED);
	assert_int_equal(store_user_each_idle(f->st, 1, NULL, &s), CC_ERR_INTERNAL);
	assert_int_equal(store_user_each_idle(NULL, 1, seen_idle, &s), CC_ERR_INTERNAL);

	/* The server's sweep: expire each idle user from inside the walk. */
	memset(&s, 0, sizeof s);
	s.st = f->st;
	s.expire = true;
	assert_int_equal(store_user_each_idle(f->st, 160, seen_idle, &s), CC_OK);
	assert_int_equal(s.n, 3);
	assert_int_equal(test_idle(f, 1000, &s), 1);
	assert_int_equal(s.id[0], carol);
	test_reopen(f);
	assert_int_equal(test_idle(f, 1000, &s), 1);
	assert_int_equal(s.id[0], carol);
}

static void test_expire_member(void **state)
{
	struct fixture *f = *state;
	int64_t alice = test_user(f, "alice", 1);
	int64_t bob = test_user(f, "Bob", 2);
	int64_t carol = test_user(f, "carol", 3);
	int64_t room = test_room(f, 1, alice);
	int64_t other = test_room(f, 2, carol);
	int64_t apart = test_room(f, 3, alice);
	assert_int_equal(store_member_add(f->st, room, alice, 1, 0), CC_OK);
	assert_int_equal(store_member_add(f->st, room, bob, 1, 0), CC_OK);
	assert_int_equal(store_member_add(f->st, room, carol, 1, 0), CC_OK);
	assert_int_equal(store_member_add(f->st, other, carol, 1, 0), CC_OK);
	assert_int_equal(store_member_add(f->st, other, bob, 1, 0), CC_OK);
	assert_int_equal(store_member_add(f->st, apart, alice, 1, 0), CC_OK);
	uint8_t pub[STORE_SIGN_PUB_LEN] = {7};
	assert_int_equal(store_user_set_signing_key(f->st, bob, pub, (const uint8_t *)"c", 1),
			 CC_OK);
	assert_int_equal(store_key_put(f->st, room, 0, bob, (const uint8_t *)"k", 1), CC_OK);
	assert_int_equal(store_key_put(f->st, room, 0, alice, (const uint8_t *)"k", 1), CC_OK);
	assert_int_equal(test_append(f, room, bob, 1, 0xb0), 1);
	assert_int_equal(test_append(f, room, alice, 2, 0xa0), 2);

	assert_int_equal(store_user_expire(f->st, bob), CC_OK);

	/* The user is gone: nickname, key, signing key, memberships, wrapped keys. */
	struct store_user u;
	assert_int_equal(store_user_get_by_id(f->st, bob, &u), CC_ERR_NOT_FOUND);
	assert_int_equal(store_user_get_by_nick(f->st, "bob", &u), CC_ERR_NOT_FOUND);
	uint8_t *c;
	size_t c_len;
	assert_int_equal(store_user_get_signing_key(f->st, bob, pub, &c, &c_len), CC_ERR_NOT_FOUND);
	struct store_member m;
	assert_int_equal(store_member_get(f->st, room, bob, &m), CC_ERR_NOT_FOUND);
	assert_int_equal(store_member_get(f->st, other, bob, &m), CC_ERR_NOT_FOUND);
	struct seen s;
	assert_int_equal(test_members(f, room, &s), 2);
	assert_int_equal(s.a[0], alice);
	assert_int_equal(s.a[1], carol);
	assert_int_equal(test_keys(f, room, bob, 0, &s), 0);
	assert_int_equal(test_keys(f, room, alice, 0, &s), 1);

	/* Each of its rooms lists it as gone (nickname as registered) and owes
	 * a new epoch; the admins stay; a room it was not in is untouched. */
	uint8_t fp[STORE_FINGERPRINT_LEN];
	test_fp(2, fp);
	struct gone_seen g;
	assert_int_equal(test_gone(f, room, &g), 1);
	assert_memory_equal(g.fp[0], fp, sizeof fp);
	assert_string_equal(g.nick[0], "Bob");
	assert_int_equal(test_gone(f, other, &g), 1);
	assert_int_equal(test_gone(f, apart, &g), 0);
	struct store_room r;
	assert_int_equal(store_room_get_by_id(f->st, room, &r), CC_OK);
	assert_true(r.rekey_owed);
	assert_int_equal(r.admin_user, alice);
	assert_int_equal(store_room_get_by_id(f->st, other, &r), CC_OK);
	assert_true(r.rekey_owed);
	assert_int_equal(r.admin_user, carol);
	assert_int_equal(store_room_get_by_id(f->st, apart, &r), CC_OK);
	assert_false(r.rekey_owed);

	/* Its messages are the room's history and keep their sender. */
	assert_int_equal(test_messages(f, room, 0, 0, &s), 2);
	assert_int_equal(s.b[0], bob);
	assert_int_equal(s.first[0], 0xb0);

	/* The nickname is free for a new key (and a new id); the old key is
	 * free too, under any nickname. */
	uint8_t key[64], fp2[STORE_FINGERPRINT_LEN];
	test_key(9, key, fp2);
	assert_int_equal(store_user_register(f->st, "BOB", key, sizeof key, fp2, 5, &u), CC_OK);
	assert_true(u.id > carol);
	store_user_clear(&u);
	test_key(2, key, fp2);
	assert_int_equal(store_user_register(f->st, "bobby", key, sizeof key, fp2, 5, &u), CC_OK);
	int64_t bobby = u.id;
	store_user_clear(&u);

	/* Gone only once: no user, nothing changes. */
	assert_int_equal(store_user_expire(f->st, bob), CC_ERR_NOT_FOUND);
	assert_int_equal(store_user_expire(f->st, 0), CC_ERR_NOT_FOUND);
	assert_int_equal(store_user_expire(NULL, alice), CC_ERR_INTERNAL);
	assert_int_equal(test_gone(f, room, &g), 1);

	/* The same key back in the room and gone again: listed once, under its
	 * latest nickname. */
	assert_int_equal(store_member_add(f->st, room, bobby, 3, 1), CC_OK);
	assert_int_equal(store_user_expire(f->st, bobby), CC_OK);
	assert_int_equal(test_gone(f, room, &g), 1);
	assert_string_equal(g.nick[0], "bobby");

	test_reopen(f);
	assert_int_equal(test_gone(f, room, &g), 1);
	assert_memory_equal(g.fp[0], fp, sizeof fp);
	assert_string_equal(g.nick[0], "bobby");
	assert_int_equal(test_gone(f, other, &g), 1);
	assert_string_equal(g.nick[0], "Bob");
	assert_int_equal(store_room_get_by_id(f->st, room, &r), CC_OK);
	assert_true(r.rekey_owed);
	assert_int_equal(store_user_get_by_nick(f->st, "bob", &u), CC_OK);
	test_fp(9, fp2);
	assert_memory_equal(u.fingerprint, fp2, sizeof fp2);
	assert_true(u.id != bob);
	store_user_clear(&u);
	assert_int_equal(test_messages(f, room, 0, 0, &s), 2);
	assert_int_equal(s.b[0], bob);
}

static void test_expire_admin(void **state)
{
	struct fixture *f = *state;
	int64_t alice = test_user(f, "alice", 1);
	int64_t bob = test_user(f, "bob", 2);
	int64_t carol = test_user(f, "carol", 3);
	int64_t room = test_room(f, 1, alice);
	/* Joined in the order alice, carol, bob: carol is the earliest left,
	 * though bob has the lower user id. */
	assert_int_equal(store_member_add(f->st, room, alice, 1, 0), CC_OK);
	assert_int_equal(store_member_add(f->st, room, carol, 1, 0), CC_OK);
	assert_int_equal(store_member_add(f->st, room, bob, 1, 0), CC_OK);
	/* An admin that is no member (the server never makes one) hands over
	 * too, without a gone entry or a rekey: it had no key to revoke. */
	int64_t outside = test_room(f, 2, alice);
	assert_int_equal(store_member_add(f->st, outside, bob, 1, 0), CC_OK);

	assert_int_equal(store_user_expire(f->st, alice), CC_OK);
	struct store_room r;
	assert_int_equal(store_room_get_by_id(f->st, room, &r), CC_OK);
	assert_int_equal(r.admin_user, carol);
	assert_true(r.rekey_owed);
	assert_int_equal(store_room_get_by_id(f->st, outside, &r), CC_OK);
	assert_int_equal(r.admin_user, bob);
	assert_false(r.rekey_owed);
	struct gone_seen g;
	assert_int_equal(test_gone(f, room, &g), 1);
	assert_string_equal(g.nick[0], "alice");
	assert_int_equal(test_gone(f, outside, &g), 0);

	/* The new admin owes the rekey; nobody else does. */
	struct seen s;
	assert_int_equal(test_owed(f, carol, &s), 1);
	assert_int_equal(s.b[0], room);
	assert_int_equal(s.a[0], carol);
	assert_int_equal(test_owed(f, bob, &s), 0);

	/* And again: carol goes, bob is the last one left. */
	assert_int_equal(store_user_expire(f->st, carol), CC_OK);
	test_reopen(f);
	assert_int_equal(store_room_get_by_id(f->st, room, &r), CC_OK);
	assert_int_equal(r.admin_user, bob);
	assert_int_equal(test_gone(f, room, &g), 2);
	assert_string_equal(g.nick[0], "alice");
	assert_string_equal(g.nick[1], "carol");
	assert_int_equal(test_owed(f, bob, &s), 1);
	assert_int_equal(s.b[0], room);
	assert_int_equal(test_members(f, room, &s), 1);
	assert_int_equal(s.a[0], bob);
}

static void test_expire_last_member(void **state)
{
	struct fixture *f = *state;
	int64_t alice = test_user(f, "alice", 1);
	int64_t bob = test_user(f, "bob", 2);
	int64_t room = test_room(f, 1, alice);
	uint8_t hash[STORE_HASH_LEN] = {1};
	assert_int_equal(store_member_add(f->st, room, alice, 1, 0), CC_OK);
	assert_int_equal(store_record_append(f->st, room, 0, (const uint8_t *)"r", 1, hash), CC_OK);
	assert_int_equal(store_epoch_put(f->st, room, 0, (const uint8_t *)"t", 1), CC_OK);
	assert_int_equal(store_key_put(f->st, room, 0, alice, (const uint8_t *)"k", 1), CC_OK);
	test_append(f, room, alice, 1, 1);
	/* A room whose only member goes goes too, even with an admin left. */
	int64_t other = test_room(f, 2, bob);
	assert_int_equal(store_member_add(f->st, other, alice, 1, 0), CC_OK);
	/* An admin's empty room goes with it. */
	int64_t empty = test_room(f, 3, alice);
	/* Bob's own room is left alone. */
	int64_t kept = test_room(f, 4, bob);
	assert_int_equal(store_member_add(f->st, kept, bob, 1, 0), CC_OK);

	assert_int_equal(store_user_expire(f->st, alice), CC_OK);
	test_reopen(f);
	struct store_room r;
	assert_int_equal(store_room_get_by_id(f->st, room, &r), CC_ERR_NOT_FOUND);
	assert_int_equal(store_room_get_by_id(f->st, other, &r), CC_ERR_NOT_FOUND);
	assert_int_equal(store_room_get_by_id(f->st, empty, &r), CC_ERR_NOT_FOUND);
	assert_int_equal(store_room_get_by_id(f->st, kept, &r), CC_OK);
	assert_false(r.rekey_owed);
	struct seen s;
	struct gone_seen g;
	assert_int_equal(test_messages(f, room, 0, 0, &s), 0);
	assert_int_equal(test_records(f, room, &s), 0);
	assert_int_equal(test_gone(f, room, &g), 0);
	assert_int_equal(test_gone(f, other, &g), 0);
	assert_int_equal(test_owed(f, bob, &s), 0);
	struct store_user u;
	assert_int_equal(store_user_get_by_id(f->st, bob, &u), CC_OK);
	store_user_clear(&u);
}

static void test_gone_remove(void **state)
{
	struct fixture *f = *state;
	int64_t alice = test_user(f, "alice", 1);
	int64_t bob = test_user(f, "bob", 2);
	int64_t carol = test_user(f, "carol", 3);
	int64_t room = test_room(f, 1, alice);
	int64_t other = test_room(f, 2, alice);
	for (int i = 0; i < 2; i++) {
		int64_t rm = i ? other : room;
		assert_int_equal(store_member_add(f->st, rm, alice, 1, 0), CC_OK);
		assert_int_equal(store_member_add(f->st, rm, bob, 1, 0), CC_OK);
		assert_int_equal(store_member_add(f->st, rm, carol, 1, 0), CC_OK);
	}
	assert_int_equal(store_user_expire(f->st, bob), CC_OK);
	assert_int_equal(store_user_expire(f->st, carol), CC_OK);
	uint8_t fp_bob[STORE_FINGERPRINT_LEN], fp_carol[STORE_FINGERPRINT_LEN];
	test_fp(2, fp_bob);
	test_fp(3, fp_carol);

	/* Rolled back with the caller's transaction. */
	struct gone_seen g;
	assert_int_equal(store_begin(f->st), CC_OK);
	assert_int_equal(store_room_gone_remove(f->st, room, fp_bob), CC_OK);
	assert_int_equal(test_gone(f, room, &g), 1);
	store_rollback(f->st);
	assert_int_equal(test_gone(f, room, &g), 2);
	assert_string_equal(g.nick[0], "bob");
	assert_string_equal(g.nick[1], "carol");

	/* Removed from this room only, once. */
	assert_int_equal(store_room_gone_remove(f->st, room, fp_bob), CC_OK);
	assert_int_equal(store_room_gone_remove(f->st, room, fp_bob), CC_ERR_NOT_FOUND);
	assert_int_equal(store_room_gone_remove(f->st, other + 1, fp_carol), CC_ERR_NOT_FOUND);
	assert_int_equal(store_room_gone_remove(f->st, room, NULL), CC_ERR_INTERNAL);
	assert_int_equal(store_room_gone_remove(NULL, room, fp_carol), CC_ERR_INTERNAL);
	assert_int_equal(store_room_gone_each(f->st, room, NULL, &g), CC_ERR_INTERNAL);
	assert_int_equal(store_room_gone_each(NULL, room, seen_gone, &g), CC_ERR_INTERNAL);
	test_reopen(f);
	assert_int_equal(test_gone(f, room, &g), 1);
	assert_memory_equal(g.fp[0], fp_carol, sizeof fp_carol);
	assert_int_equal(test_gone(f, other, &g), 2);
	assert_int_equal(test_gone(f, other + 1, &g), 0);
}

/* The admin's client works through what it owes: it signs the removals
 * and the new epoch, and the server clears the marks as it goes. */
static int clear_owed(void *ctx, const struct store_member *m)
{
	struct store *st = ctx;
	assert_int_equal(store_room_set_rekey_owed(st, m->room, false), CC_OK);
	return 0;
}

static void test_each_owed(void **state)
{
	struct fixture *f = *state;
	int64_t alice = test_user(f, "alice", 1);
	int64_t bob = test_user(f, "bob", 2);
	int64_t carol = test_user(f, "carol", 3);
	int64_t rooms[4];
	for (int i = 0; i < 4; i++) {
		rooms[i] = test_room(f, (uint8_t)(i + 1), i == 3 ? bob : alice);
		assert_int_equal(store_member_add(f->st, rooms[i], alice, 1, (uint32_t)i), CC_OK);
		assert_int_equal(store_member_add(f->st, rooms[i], bob, 1, 0), CC_OK);
	}
	assert_int_equal(store_member_add(f->st, rooms[2], carol, 1, 0), CC_OK);
	assert_int_equal(store_member_add(f->st, rooms[3], carol, 1, 0), CC_OK);
	struct seen s;
	assert_int_equal(test_owed(f, alice, &s), 0);

	/* Carol goes from rooms 2 and 3; room 0 owes one for another reason. */
	assert_int_equal(store_user_expire(f->st, carol), CC_OK);
	assert_int_equal(store_room_set_rekey_owed(f->st, rooms[0], true), CC_OK);
	assert_int_equal(test_owed(f, alice, &s), 2);
	assert_int_equal(s.b[0], rooms[0]);
	assert_int_equal(s.b[1], rooms[2]);
	assert_int_equal(s.a[1], alice);
	assert_int_equal(s.epoch[1], 2);          /* the admin's own membership */
	assert_int_equal(test_owed(f, bob, &s), 1);
	assert_int_equal(s.b[0], rooms[3]);
	test_reopen(f);
	assert_int_equal(test_owed(f, alice, &s), 2);

	/* Stopped early; misuse. */
	memset(&s, 0, sizeof s);
	s.stop_after = 1;
	s.stop_with = CC_ERR_NOT_FOUND;
	assert_int_equal(store_room_each_owed(f->st, alice, seen_member, &s), CC_ERR_NOT_FOUND);
	assert_int_equal(s.n, 1);
	assert_int_equal(store_room_each_owed(f->st, alice, NULL, &s), CC_ERR_INTERNAL);
	assert_int_equal(store_room_each_owed(NULL, alice, seen_member, &s), CC_ERR_INTERNAL);

	/* Cleared from inside the walk. */
	assert_int_equal(store_room_each_owed(f->st, alice, clear_owed, f->st), CC_OK);
	assert_int_equal(test_owed(f, alice, &s), 0);
	assert_int_equal(test_owed(f, bob, &s), 1);
}

/* Expiry commits on its own: inside a caller's transaction it is refused
 * and the caller's work is left as it was. */
static void test_expire_in_transaction(void **state)
{
	struct fixture *f = *state;
	int64_t alice = test_user(f, "alice", 1);
	int64_t bob = test_user(f, "bob", 2);
	int64_t room = test_room(f, 1, alice);
	assert_int_equal(store_member_add(f->st, room, alice, 1, 0), CC_OK);
	assert_int_equal(store_begin(f->st), CC_OK);
	assert_int_equal(store_member_add(f->st, room, bob, 1, 0), CC_OK);
	assert_int_equal(store_user_expire(f->st, bob), CC_ERR_STATE);
	assert_int_equal(store_user_expire(f->st, alice), CC_ERR_STATE);
	assert_int_equal(store_commit(f->st), CC_OK);
	struct store_user u;
	assert_int_equal(store_user_get_by_id(f->st, bob, &u), CC_OK);
	store_user_clear(&u);
	struct seen s;
	assert_int_equal(test_members(f, room, &s), 2);
	struct gone_seen g;
	assert_int_equal(test_gone(f, room, &g), 0);
	struct store_room r;
	assert_int_equal(store_room_get_by_id(f->st, room, &r), CC_OK);
	assert_false(r.rekey_owed);
	/* Outside one it works. */
	assert_int_equal(store_user_expire(f->st, bob), CC_OK);
	assert_int_equal(test_members(f, room, &s), 1);
}

/* ---- Everything across a restart ---------------------------------------------------- */

static void test_persist_all(void **state)
{
	struct fixture *f = *state;
	int64_t alice = test_user(f, "alice", 1);
	int64_t bob = test_user(f, "bob", 2);
	uint8_t rid[STORE_ROOM_ID_LEN], hash[STORE_HASH_LEN], pub[STORE_SIGN_PUB_LEN];
	test_room_id(5, rid);
	memset(hash, 0x5c, sizeof hash);
	memset(pub, 0x11, sizeof pub);
	int64_t room;
	assert_int_equal(store_user_set_signing_key(f->st, bob, pub, (const uint8_t *)"c", 1),
			 CC_OK);
	assert_int_equal(store_begin(f->st), CC_OK);
	assert_int_equal(store_room_create(f->st, rid, alice, 777, &room), CC_OK);
	assert_int_equal(store_member_add(f->st, room, alice, 1, 0), CC_OK);
	assert_int_equal(store_member_add(f->st, room, bob, 3, 1), CC_OK);
	assert_int_equal(store_record_append(f->st, room, 0, (const uint8_t *)"r0", 2, hash),
			 CC_OK);
	assert_int_equal(store_epoch_put(f->st, room, 1, (const uint8_t *)"t1", 2), CC_OK);
	assert_int_equal(store_key_put(f->st, room, 1, bob, (const uint8_t *)"k", 1), CC_OK);
	assert_int_equal(store_room_set_epoch(f->st, room, 1), CC_OK);
	assert_int_equal(store_room_set_rekey_owed(f->st, room, true), CC_OK);
	assert_int_equal(store_room_set_admin(f->st, room, bob), CC_OK);
	test_append(f, room, alice, 1, 1);
	test_append(f, room, bob, 2, 2);
	assert_int_equal(store_member_set_read(f->st, room, bob, 2), CC_OK);
	assert_int_equal(store_commit(f->st), CC_OK);

	test_reopen(f);
	struct store_room r;
	assert_int_equal(store_room_get(f->st, rid, &r), CC_OK);
	assert_int_equal(r.id, room);
	assert_int_equal(r.admin_user, bob);
	assert_int_equal(r.epoch, 1);
	assert_int_equal(r.record_count, 1);
	assert_memory_equal(r.last_record_hash, hash, sizeof hash);
	assert_int_equal(r.last_msg_id, 2);
	assert_int_equal(r.created_ms, 777);
	assert_true(r.rekey_owed);
	struct store_member m;
	assert_int_equal(store_member_get(f->st, room, bob, &m), CC_OK);
	assert_int_equal(m.first_msg_id, 3);
	assert_int_equal(m.last_read_msg_id, 2);
	assert_int_equal(m.since_epoch, 1);
	struct seen s;
	assert_int_equal(test_members(f, room, &s), 2);
	assert_int_equal(s.a[0], alice);
	assert_int_equal(test_records(f, room, &s), 1);
	assert_int_equal(s.first[0], 'r');
	assert_int_equal(test_keys(f, room, bob, 1, &s), 1);
	assert_int_equal(test_messages(f, room, 0, 0, &s), 2);
	assert_int_equal(s.b[1], bob);
	uint8_t *t, got[STORE_SIGN_PUB_LEN];
	size_t len;
	assert_int_equal(store_epoch_get(f->st, room, 1, &t, &len), CC_OK);
	assert_memory_equal(t, "t1", 2);
	free(t);
	assert_int_equal(store_user_get_signing_key(f->st, bob, got, &t, &len), CC_OK);
	assert_memory_equal(got, pub, sizeof pub);
	free(t);
	/* The counters go on where they were. */
	assert_int_equal(test_append(f, room, alice, 3, 3), 3);
	uint8_t rec[1] = {0};
	assert_int_equal(store_record_append(f->st, room, 0, rec, 1, hash), CC_ERR_EXISTS);
	assert_int_equal(store_record_append(f->st, room, 1, rec, 1, hash), CC_OK);
}

/* An expired user's key stays known by fingerprint (its records and
 * messages must still verify), with user id 0, while its nickname is free. */
static void test_public_key_retired(void **state)
{
	struct fixture *f = *state;
	uint8_t key[64], fp[STORE_FINGERPRINT_LEN], sign[STORE_SIGN_PUB_LEN], cert[100];
	struct store_public_key k;

	memset(sign, 0x5a, sizeof sign);
	memset(cert, 0xc3, sizeof cert);
	int64_t bob = test_user(f, "Bob", 9);
	test_key(9, key, fp);
	assert_int_equal(store_user_set_signing_key(f->st, bob, sign, cert, sizeof cert), CC_OK);
	assert_int_equal(store_public_key_get(f->st, fp, &k), CC_OK);
	assert_int_equal(k.user_id, bob);
	assert_string_equal(k.nick, "Bob");
	assert_int_equal(k.sign_cert_len, sizeof cert);
	store_public_key_clear(&k);

	assert_int_equal(store_user_expire(f->st, bob), CC_OK);
	assert_int_equal(store_public_key_get(f->st, fp, &k), CC_OK);
	assert_int_equal(k.user_id, 0);
	assert_string_equal(k.nick, "Bob");
	assert_int_equal(k.pubkey_len, sizeof key);
	assert_memory_equal(k.pubkey, key, sizeof key);
	assert_memory_equal(k.sign_pub, sign, sizeof sign);
	assert_int_equal(k.sign_cert_len, sizeof cert);
	assert_memory_equal(k.sign_cert, cert, sizeof cert);
	store_public_key_clear(&k);

	/* The nickname is free for another key; the old key is still known. */
	int64_t bob2 = test_user(f, "bob", 10);
	assert_true(bob2 > 0);
	assert_int_equal(store_public_key_get(f->st, fp, &k), CC_OK);
	assert_int_equal(k.user_id, 0);
	store_public_key_clear(&k);
	uint8_t unknown[STORE_FINGERPRINT_LEN] = {1};
	assert_int_equal(store_public_key_get(f->st, unknown, &k), CC_ERR_NOT_FOUND);
}

int main(void)
{
	/* Several tests provoke errors on purpose; keep the output to those. */
	log_set_level(LOG_LEVEL_ERROR);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_schema, setup, teardown),
		cmocka_unit_test_setup_teardown(test_upgrade_from_v1, setup, teardown),
		cmocka_unit_test_setup_teardown(test_signing_key, setup, teardown),
		cmocka_unit_test_setup_teardown(test_transaction_commit_rollback, setup, teardown),
		cmocka_unit_test_setup_teardown(test_transaction_misuse, setup, teardown),
		cmocka_unit_test_setup_teardown(test_transaction_survives_answers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_room_create_get, setup, teardown),
		cmocka_unit_test_setup_teardown(test_members_basic, setup, teardown),
		cmocka_unit_test_setup_teardown(test_member_each_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_member_each_room_of, setup, teardown),
		cmocka_unit_test_setup_teardown(test_walk_reentry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_records_chain, setup, teardown),
		cmocka_unit_test_setup_teardown(test_records_large, setup, teardown),
		cmocka_unit_test_setup_teardown(test_keys_and_epochs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_messages_ids_and_walks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_prune, setup, teardown),
		cmocka_unit_test_setup_teardown(test_room_delete_cascades, setup, teardown),
		cmocka_unit_test_setup_teardown(test_idle_users, setup, teardown),
		cmocka_unit_test_setup_teardown(test_expire_member, setup, teardown),
		cmocka_unit_test_setup_teardown(test_expire_admin, setup, teardown),
		cmocka_unit_test_setup_teardown(test_expire_last_member, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gone_remove, setup, teardown),
		cmocka_unit_test_setup_teardown(test_each_owed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_expire_in_transaction, setup, teardown),
		cmocka_unit_test_setup_teardown(test_persist_all, setup, teardown),
		cmocka_unit_test_setup_teardown(test_public_key_retired, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
