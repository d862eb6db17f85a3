/* The store's room half (schema versions 2 to 5): versioned signing keys,
 * transactions, rooms (closed epochs), members, membership records and their
 * positions among the messages, keys and epochs, messages (refused when
 * replayed) and their retention, nickname expiry and the new epochs it
 * leaves owed; persistence across a restart and the upgrade of a version-1
 * and of a version-4 (protocol 1) file. */
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
	uint64_t seq[SEEN_MAX];       /* a message's seq, a record's position */
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

/* A record: its seq, its position (in seq[]), first byte and length. */
static int seen_record(void *ctx, uint32_t n, uint64_t position, const uint8_t *record,
		       size_t len)
{
	struct seen *s = ctx;
	assert_true(s->n < SEEN_MAX);
	assert_non_null(record);
	assert_true(len > 0);
	s->a[s->n] = n;
	s->seq[s->n] = position;
	s->first[s->n] = record[0];
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
	s->seq[s->n] = m->seq;
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
	assert_int_equal(store_record_each(f->st, room, seen_record, s), CC_OK);
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

/* The seq of the last test_append: every call takes the next, so no two
 * are ever one replayed. */
static uint64_t test_seq;

/* Appends a 40-byte message of epoch 3 filled with tag; returns its id. */
static int64_t test_append(struct fixture *f, int64_t room, int64_t sender, uint64_t ts,
			   uint8_t tag)
{
	uint8_t blob[40];
	memset(blob, tag, sizeof blob);
	int64_t id;
	assert_int_equal(store_message_append(f->st, room, sender, 3, ++test_seq, ts, blob,
					      sizeof blob, &id), CC_OK);
	return id;
}

/* ---- Schema ------------------------------------------------------------------ */

static void test_schema(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(store_schema_latest(), 7);
	assert_int_equal(store_schema_version(f->st), 7);
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

/* Writes a database file of size bytes made of these runs (zeros between). */
static void test_db_write(const char *path, const struct test_run *runs, size_t nruns,
			  size_t size)
{
	uint8_t *db = calloc(1, size);
	assert_non_null(db);
	for (size_t i = 0; i < nruns; i++) {
		const char *h = runs[i].hex;
		size_t n = strlen(h) / 2;
		assert_true(runs[i].off + n <= size);
		for (size_t j = 0; j < n; j++)
			db[runs[i].off + j] = (uint8_t)(test_hex_nibble(h[2 * j]) << 4 |
							test_hex_nibble(h[2 * j + 1]));
	}
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, db, size), (ssize_t)size);
	close(fd);
	free(db);
}

static void test_v1_write(const char *path)
{
	test_db_write(path, test_v1_db, sizeof test_v1_db / sizeof test_v1_db[0],
		      TEST_V1_DB_SIZE);
}

static void test_upgrade_from_v1(void **state)
{
	struct fixture *f = *state;
	char path[160];
	snprintf(path, sizeof path, "%s/v1.db", f->tmp.dir);
	test_v1_write(path);

	struct store *st;
	assert_int_equal(store_open(path, &st), CC_OK);
	assert_int_equal(store_schema_version(st), store_schema_latest());
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
	uint32_t version;
	assert_int_equal(store_user_get_signing_key(st, old, &version, pub, &cert, &cert_len),
			 CC_ERR_NOT_FOUND);
	memset(pub, 0x5a, sizeof pub);
	assert_int_equal(store_user_set_signing_key(st, old, 1, pub, (const uint8_t *)"cert", 4),
			 CC_OK);
	/* Rooms work, and a new user does not reuse the old one's id. */
	uint8_t rid[STORE_ROOM_ID_LEN];
	test_room_id(1, rid);
	int64_t room;
	assert_int_equal(store_room_create(st, rid, old, 5, &room), CC_OK);
	assert_int_equal(store_member_add(st, room, old, 1, 0), CC_OK);
	store_close(st);

	assert_int_equal(store_open(path, &st), CC_OK);
	assert_int_equal(store_schema_version(st), store_schema_latest());
	memset(pub, 0, sizeof pub);
	assert_int_equal(store_user_get_signing_key(st, old, &version, pub, &cert, &cert_len),
			 CC_OK);
	assert_int_equal(version, 1);
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
	uint32_t version = 99;
	memset(pub, 0x11, sizeof pub);
	memset(cert, 0x22, sizeof cert);

	assert_int_equal(store_user_get_signing_key(f->st, alice, &version, got, &c, &c_len),
			 CC_ERR_NOT_FOUND);
	assert_null(c);
	assert_int_equal(c_len, 0);
	assert_int_equal(version, 0);
	assert_int_equal(store_user_set_signing_key(f->st, alice, 1, pub, cert, 100), CC_OK);
	assert_int_equal(store_user_get_signing_key(f->st, alice, &version, got, &c, &c_len),
			 CC_OK);
	assert_int_equal(version, 1);
	assert_memory_equal(got, pub, sizeof pub);
	assert_int_equal(c_len, 100);
	assert_memory_equal(c, cert, 100);
	free(c);
	/* Bob's is his own business. */
	assert_int_equal(store_user_get_signing_key(f->st, bob, &version, got, &c, &c_len),
			 CC_ERR_NOT_FOUND);

	/* Replaced by a newer version, at the largest certificate. */
	memset(pub, 0x33, sizeof pub);
	memset(cert, 0x44, sizeof cert);
	assert_int_equal(store_user_set_signing_key(f->st, alice, 2, pub, cert,
						    STORE_SIGN_CERT_MAX), CC_OK);
	assert_int_equal(store_user_get_signing_key(f->st, alice, &version, got, &c, &c_len),
			 CC_OK);
	assert_int_equal(version, 2);
	assert_memory_equal(got, pub, sizeof pub);
	assert_int_equal(c_len, STORE_SIGN_CERT_MAX);
	assert_memory_equal(c, cert, STORE_SIGN_CERT_MAX);
	free(c);

	/* Refused, and nothing changed. */
	assert_int_equal(store_user_set_signing_key(f->st, alice, 3, pub, cert,
						    STORE_SIGN_CERT_MAX + 1), CC_ERR_TOO_LARGE);
	assert_int_equal(store_user_set_signing_key(f->st, alice, 3, pub, cert, 0),
			 CC_ERR_MALFORMED);
	assert_int_equal(store_user_set_signing_key(f->st, alice, 0, pub, cert, 5),
			 CC_ERR_MALFORMED);
	assert_int_equal(store_user_set_signing_key(f->st, alice, 3, pub, NULL, 5),
			 CC_ERR_INTERNAL);
	assert_int_equal(store_user_set_signing_key(f->st, alice, 3, NULL, cert, 5),
			 CC_ERR_INTERNAL);
	assert_int_equal(store_user_set_signing_key(NULL, alice, 3, pub, cert, 5),
			 CC_ERR_INTERNAL);
	assert_int_equal(store_user_set_signing_key(f->st, bob + 100, 3, pub, cert, 5),
			 CC_ERR_NOT_FOUND);
	assert_int_equal(store_user_get_signing_key(f->st, bob + 100, &version, got, &c, &c_len),
			 CC_ERR_NOT_FOUND);
	assert_int_equal(store_user_get_signing_key(f->st, alice, &version, got, NULL, &c_len),
			 CC_ERR_INTERNAL);
	assert_int_equal(store_user_get_signing_key(f->st, alice, &version, got, &c, NULL),
			 CC_ERR_INTERNAL);
	assert_int_equal(store_user_get_signing_key(f->st, alice, &version, NULL, &c, &c_len),
			 CC_ERR_INTERNAL);
	assert_int_equal(store_user_get_signing_key(f->st, alice, NULL, got, &c, &c_len),
			 CC_ERR_INTERNAL);
	assert_null(c);
	test_reopen(f);
	assert_int_equal(store_user_get_signing_key(f->st, alice, &version, got, &c, &c_len),
			 CC_OK);
	assert_int_equal(version, 2);
	assert_int_equal(c_len, STORE_SIGN_CERT_MAX);
	assert_int_equal(got[0], 0x33);
	free(c);
}

/* Only a newer version, or the same key again, replaces a signing key: the
 * server cannot be made to hand out an older key, nor two keys under one
 * version. */
static void test_signing_key_versions(void **state)
{
	struct fixture *f = *state;
	int64_t alice = test_user(f, "alice", 1);
	uint8_t key5[STORE_SIGN_PUB_LEN], key7[STORE_SIGN_PUB_LEN], other[STORE_SIGN_PUB_LEN];
	uint8_t got[STORE_SIGN_PUB_LEN], *c;
	size_t c_len;
	uint32_t version;
	memset(key5, 0x55, sizeof key5);
	memset(key7, 0x77, sizeof key7);
	memset(other, 0x0e, sizeof other);

	assert_int_equal(store_user_set_signing_key(f->st, alice, 5, key5,
						    (const uint8_t *)"cert-5", 6), CC_OK);
	/* The same key under the same version again (a fresh certificate of
	 * it, say): fine, and the new certificate is kept. */
	assert_int_equal(store_user_set_signing_key(f->st, alice, 5, key5,
						    (const uint8_t *)"cert-5b", 7), CC_OK);
	assert_int_equal(store_user_get_signing_key(f->st, alice, &version, got, &c, &c_len),
			 CC_OK);
	assert_int_equal(version, 5);
	assert_memory_equal(got, key5, sizeof got);
	assert_int_equal(c_len, 7);
	assert_memory_equal(c, "cert-5b", 7);
	free(c);
	/* Another key under the stored version, or any key under an older
	 * one: outdated, and nothing changes. */
	assert_int_equal(store_user_set_signing_key(f->st, alice, 5, other,
						    (const uint8_t *)"x", 1), CC_ERR_OUTDATED);
	assert_int_equal(store_user_set_signing_key(f->st, alice, 4, other,
						    (const uint8_t *)"x", 1), CC_ERR_OUTDATED);
	assert_int_equal(store_user_set_signing_key(f->st, alice, 4, key5,
						    (const uint8_t *)"x", 1), CC_ERR_OUTDATED);
	assert_int_equal(store_user_set_signing_key(f->st, alice, 1, key5,
						    (const uint8_t *)"x", 1), CC_ERR_OUTDATED);
	assert_int_equal(store_user_get_signing_key(f->st, alice, &version, got, &c, &c_len),
			 CC_OK);
	assert_int_equal(version, 5);
	assert_memory_equal(got, key5, sizeof got);
	assert_memory_equal(c, "cert-5b", 7);
	free(c);
	/* A newer version replaces it, with any key (skipping numbers is fine). */
	assert_int_equal(store_user_set_signing_key(f->st, alice, 7, key7,
						    (const uint8_t *)"cert-7", 6), CC_OK);
	assert_int_equal(store_user_set_signing_key(f->st, alice, 6, key7,
						    (const uint8_t *)"x", 1), CC_ERR_OUTDATED);
	assert_int_equal(store_user_set_signing_key(f->st, alice, 5, key5,
						    (const uint8_t *)"x", 1), CC_ERR_OUTDATED);
	assert_int_equal(store_user_set_signing_key(f->st, alice, UINT32_MAX, other,
						    (const uint8_t *)"max", 3), CC_OK);
	assert_int_equal(store_user_set_signing_key(f->st, alice, UINT32_MAX, key7,
						    (const uint8_t *)"x", 1), CC_ERR_OUTDATED);
	test_reopen(f);
	assert_int_equal(store_user_get_signing_key(f->st, alice, &version, got, &c, &c_len),
			 CC_OK);
	assert_int_equal(version, UINT32_MAX);
	assert_memory_equal(got, other, sizeof got);
	assert_int_equal(c_len, 3);
	free(c);
	/* Unknown users are not found, not outdated, whatever the version. */
	assert_int_equal(store_user_set_signing_key(f->st, alice + 1, 1, key5,
						    (const uint8_t *)"x", 1), CC_ERR_NOT_FOUND);
	assert_int_equal(store_user_set_signing_key(f->st, alice + 1, UINT32_MAX, key5,
						    (const uint8_t *)"x", 1), CC_ERR_NOT_FOUND);
	assert_int_equal(store_user_set_signing_key(f->st, 0, 9, key5,
						    (const uint8_t *)"x", 1), CC_ERR_NOT_FOUND);

	/* Inside a transaction, an outdated key is an answer: the transaction
	 * goes on. */
	int64_t bob = test_user(f, "bob", 2);
	assert_int_equal(store_begin(f->st), CC_OK);
	assert_int_equal(store_user_set_signing_key(f->st, bob, 2, key5,
						    (const uint8_t *)"c", 1), CC_OK);
	assert_int_equal(store_user_set_signing_key(f->st, alice, 1, key5,
						    (const uint8_t *)"x", 1), CC_ERR_OUTDATED);
	assert_int_equal(store_user_set_signing_key(f->st, bob, 3, key7,
						    (const uint8_t *)"c", 1), CC_OK);
	assert_int_equal(store_commit(f->st), CC_OK);
	assert_int_equal(store_user_get_signing_key(f->st, bob, &version, got, &c, &c_len),
			 CC_OK);
	assert_int_equal(version, 3);
	assert_memory_equal(got, key7, sizeof got);
	free(c);

	/* The public key lookup reports the version. */
	uint8_t key[64], fp[STORE_FINGERPRINT_LEN];
	struct store_public_key k;
	test_key(2, key, fp);
	assert_int_equal(store_public_key_get(f->st, fp, &k), CC_OK);
	assert_int_equal(k.sign_version, 3);
	assert_memory_equal(k.sign_pub, key7, sizeof key7);
	store_public_key_clear(&k);
	/* And 0 for a user with none. */
	int64_t carol = test_user(f, "carol", 3);
	assert_true(carol > 0);
	test_key(3, key, fp);
	assert_int_equal(store_public_key_get(f->st, fp, &k), CC_OK);
	assert_int_equal(k.sign_version, 0);
	assert_int_equal(k.sign_cert_len, 0);
	store_public_key_clear(&k);
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
	assert_int_equal(store_message_append(f->st, room, alice, 0, 1, 1, rec, sizeof rec, &id),
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
	assert_int_equal(store_message_append(f->st, room + 1, alice, 0, 1, 1, rec, sizeof rec,
					      NULL), CC_ERR_NOT_FOUND);
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
	assert_false(r.closed);
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
	assert_int_equal(store_room_set_closed(f->st, id2 + 10, true), CC_ERR_NOT_FOUND);
	assert_int_equal(store_room_set_closed(NULL, id, true), CC_ERR_INTERNAL);
	assert_int_equal(store_room_get_by_id(f->st, id, &r), CC_OK);
	assert_int_equal(r.admin_user, bob);
	assert_false(r.closed);

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
	assert_int_equal(store_message_append(r->st, r->room, r->sender, 0, (uint64_t)r->calls, 1,
					      blob, sizeof blob, NULL), CC_OK);
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
	assert_int_equal(store_record_each(f->st, room, seen_record, &s), CC_ERR_AUTH);
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

/* A record keeps its place among the messages: the room's last message id
 * when it was appended, so a member fetching the room knows which messages
 * came before which change. */
static void test_record_positions(void **state)
{
	struct fixture *f = *state;
	int64_t alice = test_user(f, "alice", 1);
	int64_t room = test_room(f, 1, alice);
	int64_t other = test_room(f, 2, alice);
	uint8_t hash[STORE_HASH_LEN] = {7};
	struct seen s;

	/* Before any message: position 0. */
	assert_int_equal(store_record_append(f->st, room, 0, (const uint8_t *)"r0", 2, hash),
			 CC_OK);
	/* Three messages, then a record: position 3; another at once: 3 too. */
	for (int i = 0; i < 3; i++)
		test_append(f, room, alice, 10, 1);
	assert_int_equal(store_record_append(f->st, room, 1, (const uint8_t *)"r1", 2, hash),
			 CC_OK);
	assert_int_equal(store_record_append(f->st, room, 2, (const uint8_t *)"r2", 2, hash),
			 CC_OK);
	/* Messages of another room do not move this room's positions. */
	for (int i = 0; i < 5; i++)
		test_append(f, other, alice, 10, 1);
	assert_int_equal(store_record_append(f->st, other, 0, (const uint8_t *)"o0", 2, hash),
			 CC_OK);
	test_append(f, room, alice, 10, 1);
	test_append(f, room, alice, 10, 1);
	assert_int_equal(store_record_append(f->st, room, 3, (const uint8_t *)"r3", 2, hash),
			 CC_OK);

	assert_int_equal(test_records(f, room, &s), 4);
	static const uint64_t want[4] = {0, 3, 3, 5};
	for (uint32_t i = 0; i < 4; i++) {
		assert_int_equal(s.a[i], i);
		assert_int_equal(s.seq[i], want[i]);
	}
	assert_int_equal(test_records(f, other, &s), 1);
	assert_int_equal(s.seq[0], 5);

	/* Pruned messages do not move a position (ids are never reused), and
	 * a record appended inside a transaction after messages of the same
	 * transaction sees them. */
	uint64_t deleted;
	assert_int_equal(store_message_prune(f->st, (uint64_t)INT64_MAX, 0, &deleted), CC_OK);
	assert_int_equal(deleted, 10);
	assert_int_equal(store_begin(f->st), CC_OK);
	test_append(f, room, alice, 10, 1);
	assert_int_equal(store_record_append(f->st, room, 4, (const uint8_t *)"r4", 2, hash),
			 CC_OK);
	assert_int_equal(store_commit(f->st), CC_OK);
	test_reopen(f);
	assert_int_equal(test_records(f, room, &s), 5);
	assert_int_equal(s.seq[3], 5);
	assert_int_equal(s.seq[4], 6);
	assert_int_equal(s.first[4], 'r');
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
	assert_int_equal(store_epoch_put(f->st, room, 0, (const uint8_t *)"title-zero", 10, 1000), CC_OK);
	assert_int_equal(store_epoch_put(f->st, room, 1, (const uint8_t *)"one", 3, 1000), CC_OK);
	assert_int_equal(store_epoch_put(f->st, other, 0, (const uint8_t *)"other", 5, 1000), CC_OK);
	assert_int_equal(store_epoch_get(f->st, room, 0, &t, &len), CC_OK);
	assert_int_equal(len, 10);
	assert_memory_equal(t, "title-zero", 10);
	free(t);
	assert_int_equal(store_epoch_put(f->st, room, 0, (const uint8_t *)"renamed", 7, 1000), CC_OK);
	assert_int_equal(store_epoch_get(f->st, room, 0, &t, &len), CC_OK);
	assert_int_equal(len, 7);
	assert_memory_equal(t, "renamed", 7);
	free(t);
	assert_int_equal(store_epoch_get(f->st, other, 0, &t, &len), CC_OK);
	assert_memory_equal(t, "other", 5);
	free(t);
	assert_int_equal(store_epoch_get(f->st, room, 2, &t, &len), CC_ERR_NOT_FOUND);
	assert_int_equal(store_epoch_get(f->st, room + 9, 0, &t, &len), CC_ERR_NOT_FOUND);
	assert_int_equal(store_epoch_put(f->st, room + 9, 0, (const uint8_t *)"x", 1, 1000),
			 CC_ERR_NOT_FOUND);
	assert_int_equal(store_epoch_put(f->st, room, 3, (const uint8_t *)"x", 0, 1000),
			 CC_ERR_MALFORMED);
	assert_int_equal(store_epoch_put(f->st, room, 3, w, STORE_BLOB_MAX + 1, 1000), CC_ERR_TOO_LARGE);
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
		/* Each keeps its sender's number (test_append counts them). */
		if (i)
			assert_true(s.seq[i] > s.seq[i - 1]);
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
	assert_int_equal(store_message_append(f->st, r2 + 9, alice, 0, 1, 1, b, 4, &id),
			 CC_ERR_NOT_FOUND);
	assert_int_equal(id, 0);
	assert_int_equal(store_message_append(f->st, r2, alice, 0, 1, 1, b, 0, &id),
			 CC_ERR_MALFORMED);
	assert_int_equal(store_message_append(f->st, r2, alice, 0, 1, 1, NULL, 4, &id),
			 CC_ERR_INTERNAL);
	assert_int_equal(store_message_append(f->st, r2, alice, 0, 1, 1, b, STORE_BLOB_MAX + 1,
					      &id), CC_ERR_TOO_LARGE);
	assert_int_equal(store_message_append(f->st, r2, alice, 0, 1, (uint64_t)INT64_MAX + 1, b,
					      4, &id), CC_ERR_MALFORMED);
	assert_int_equal(store_message_append(f->st, r2, alice, 0, (uint64_t)INT64_MAX + 1, 1, b,
					      4, &id), CC_ERR_MALFORMED);
	assert_int_equal(store_message_append(NULL, r2, alice, 0, 1, 1, b, 4, &id),
			 CC_ERR_INTERNAL);
	/* The sender is not checked against users (a message outlives its
	 * sender), and the largest values go through. */
	uint8_t *big = malloc(STORE_BLOB_MAX);
	assert_non_null(big);
	memset(big, 0x99, STORE_BLOB_MAX);
	assert_int_equal(store_message_append(f->st, r2, 424242, UINT32_MAX, (uint64_t)INT64_MAX,
					      (uint64_t)INT64_MAX, big, STORE_BLOB_MAX, &id),
			 CC_OK);
	free(big);
	assert_int_equal(id, 5);
	assert_int_equal(test_messages(f, r2, 4, 0, &s), 1);
	assert_int_equal(s.b[0], 424242);
	assert_int_equal(s.epoch[0], UINT32_MAX);
	assert_int_equal(s.seq[0], (uint64_t)INT64_MAX);
	assert_int_equal(s.ts[0], (uint64_t)INT64_MAX);
	assert_int_equal(s.len[0], STORE_BLOB_MAX);

	assert_int_equal(store_message_each(f->st, r1, 0, 0, NULL, NULL), CC_ERR_INTERNAL);
	assert_int_equal(store_message_count_after(f->st, r1, 0, NULL), CC_ERR_INTERNAL);

	test_reopen(f);
	assert_int_equal(test_messages(f, r1, 0, 0, &s), 10);
	assert_int_equal(test_append(f, r1, alice, 1, 0), 11);
	assert_int_equal(test_append(f, r2, alice, 1, 0), 6);
}

/* A message is (room, sender, epoch, seq) once: a copy replayed to the
 * server is refused with nothing stored and no id used. */
static void test_message_replay(void **state)
{
	struct fixture *f = *state;
	int64_t alice = test_user(f, "alice", 1);
	int64_t bob = test_user(f, "bob", 2);
	int64_t room = test_room(f, 1, alice);
	int64_t other = test_room(f, 2, alice);
	uint8_t b1[3] = {0xb1, 1, 1}, b2[5] = {0xb2, 2, 2, 2, 2};
	int64_t id = 0;
	struct seen s;

	assert_int_equal(store_message_append(f->st, room, alice, 4, 1, 100, b1, sizeof b1, &id),
			 CC_OK);
	assert_int_equal(id, 1);
	/* The same numbers again, whatever the bytes or the time: refused. */
	id = 77;
	assert_int_equal(store_message_append(f->st, room, alice, 4, 1, 200, b2, sizeof b2, &id),
			 CC_ERR_REPLAYED);
	assert_int_equal(id, 0);
	assert_int_equal(store_message_append(f->st, room, alice, 4, 1, 100, b1, sizeof b1, &id),
			 CC_ERR_REPLAYED);
	struct store_room r;
	assert_int_equal(store_room_get_by_id(f->st, room, &r), CC_OK);
	assert_int_equal(r.last_msg_id, 1);
	assert_int_equal(test_messages(f, room, 0, 0, &s), 1);
	assert_int_equal(s.first[0], 0xb1);
	assert_int_equal(s.ts[0], 100);
	assert_int_equal(s.seq[0], 1);
	assert_int_equal(s.epoch[0], 4);

	/* Another seq, epoch, sender or room is another message. */
	assert_int_equal(store_message_append(f->st, room, alice, 4, 2, 101, b2, sizeof b2, &id),
			 CC_OK);
	assert_int_equal(id, 2);
	assert_int_equal(store_message_append(f->st, room, alice, 5, 1, 102, b2, sizeof b2, &id),
			 CC_OK);
	assert_int_equal(id, 3);
	assert_int_equal(store_message_append(f->st, room, bob, 4, 1, 103, b2, sizeof b2, &id),
			 CC_OK);
	assert_int_equal(id, 4);
	assert_int_equal(store_message_append(f->st, other, alice, 4, 1, 104, b2, sizeof b2, &id),
			 CC_OK);
	assert_int_equal(id, 1);

	/* Inside a transaction a replay is an answer: refused alone, the
	 * earlier and later work of the transaction stays and commits. */
	assert_int_equal(store_begin(f->st), CC_OK);
	assert_int_equal(store_message_append(f->st, room, bob, 4, 2, 105, b1, sizeof b1, &id),
			 CC_OK);
	assert_int_equal(id, 5);
	assert_int_equal(store_message_append(f->st, room, bob, 4, 2, 106, b2, sizeof b2, &id),
			 CC_ERR_REPLAYED);
	assert_int_equal(store_message_append(f->st, room, alice, 5, 1, 106, b2, sizeof b2, &id),
			 CC_ERR_REPLAYED);
	assert_int_equal(store_message_append(f->st, room, bob, 4, 3, 107, b1, sizeof b1, &id),
			 CC_OK);
	assert_int_equal(id, 6);
	assert_int_equal(store_commit(f->st), CC_OK);
	test_reopen(f);
	assert_int_equal(store_room_get_by_id(f->st, room, &r), CC_OK);
	assert_int_equal(r.last_msg_id, 6);
	assert_int_equal(test_messages(f, room, 4, 0, &s), 2);
	assert_int_equal(s.a[0], 5);
	assert_int_equal(s.seq[0], 2);
	assert_int_equal(s.ts[0], 105);
	assert_int_equal(s.a[1], 6);
	assert_int_equal(s.seq[1], 3);
	/* Still refused after the restart. */
	assert_int_equal(store_message_append(f->st, room, alice, 4, 2, 108, b1, sizeof b1, &id),
			 CC_ERR_REPLAYED);
	uint32_t n;
	assert_int_equal(store_message_count_after(f->st, room, 0, &n), CC_OK);
	assert_int_equal(n, 6);
}

/* A sender sending a stored message again (its SENT was lost) finds it by
 * its numbers, only with the very same bytes. */
static void test_message_find(void **state)
{
	struct fixture *f = *state;
	int64_t alice = test_user(f, "alice", 1);
	int64_t bob = test_user(f, "bob", 2);
	int64_t room = test_room(f, 1, alice);
	uint8_t b1[3] = {0xb1, 1, 1}, b2[3] = {0xb1, 1, 2};
	int64_t id = 0, found = -1;
	uint64_t ts = 1;

	assert_int_equal(store_message_append(f->st, room, alice, 4, 1, 100, b1, sizeof b1, &id),
			 CC_OK);
	assert_int_equal(store_message_append(f->st, room, alice, 4, 2, 150, b2, sizeof b2, &id),
			 CC_OK);
	assert_int_equal(store_message_find(f->st, room, alice, 4, 1, b1, sizeof b1, &found, &ts),
			 CC_OK);
	assert_int_equal(found, 1);
	assert_int_equal(ts, 100);
	assert_int_equal(store_message_find(f->st, room, alice, 4, 2, b2, sizeof b2, &found, &ts),
			 CC_OK);
	assert_int_equal(found, 2);
	assert_int_equal(ts, 150);
	/* Other bytes under stored numbers: a replay; one byte short too. */
	assert_int_equal(store_message_find(f->st, room, alice, 4, 1, b2, sizeof b2, &found, &ts),
			 CC_ERR_REPLAYED);
	assert_int_equal(store_message_find(f->st, room, alice, 4, 1, b1, 2, &found, &ts),
			 CC_ERR_REPLAYED);
	/* Another sender, epoch, number or room: nothing stored. */
	assert_int_equal(store_message_find(f->st, room, bob, 4, 1, b1, sizeof b1, &found, &ts),
			 CC_ERR_NOT_FOUND);
	assert_int_equal(store_message_find(f->st, room, alice, 5, 1, b1, sizeof b1, &found, &ts),
			 CC_ERR_NOT_FOUND);
	assert_int_equal(store_message_find(f->st, room, alice, 4, 3, b1, sizeof b1, &found, &ts),
			 CC_ERR_NOT_FOUND);
	assert_int_equal(store_message_find(f->st, room + 1, alice, 4, 1, b1, sizeof b1, &found,
					    &ts), CC_ERR_NOT_FOUND);
	/* Inside a transaction, and after a restart, the same. */
	assert_int_equal(store_begin(f->st), CC_OK);
	assert_int_equal(store_message_append(f->st, room, bob, 4, 1, 160, b2, sizeof b2, &id),
			 CC_OK);
	assert_int_equal(store_message_find(f->st, room, bob, 4, 1, b2, sizeof b2, &found, &ts),
			 CC_OK);
	assert_int_equal(found, 3);
	assert_int_equal(store_commit(f->st), CC_OK);
	test_reopen(f);
	assert_int_equal(store_message_find(f->st, room, alice, 4, 2, b2, sizeof b2, &found, &ts),
			 CC_OK);
	assert_int_equal(found, 2);
}

/* A closed epoch (a member left: nobody may send until a new one opens) is
 * a flag of its own, beside rekey_owed. */
static void test_room_closed(void **state)
{
	struct fixture *f = *state;
	int64_t alice = test_user(f, "alice", 1);
	int64_t room = test_room(f, 1, alice);
	int64_t other = test_room(f, 2, alice);
	struct store_room r;

	assert_int_equal(store_room_set_closed(f->st, room, true), CC_OK);
	assert_int_equal(store_room_get_by_id(f->st, room, &r), CC_OK);
	assert_true(r.closed);
	assert_false(r.rekey_owed);
	assert_int_equal(store_room_get_by_id(f->st, other, &r), CC_OK);
	assert_false(r.closed);
	/* Setting it again is fine; owed and closed move independently. */
	assert_int_equal(store_room_set_closed(f->st, room, true), CC_OK);
	assert_int_equal(store_room_set_rekey_owed(f->st, room, true), CC_OK);
	assert_int_equal(store_room_set_rekey_owed(f->st, room, false), CC_OK);
	assert_int_equal(store_room_get_by_id(f->st, room, &r), CC_OK);
	assert_true(r.closed);
	assert_false(r.rekey_owed);
	/* Rolled back with the caller's transaction. */
	assert_int_equal(store_begin(f->st), CC_OK);
	assert_int_equal(store_room_set_closed(f->st, room, false), CC_OK);
	assert_int_equal(store_room_get_by_id(f->st, room, &r), CC_OK);
	assert_false(r.closed);
	store_rollback(f->st);
	test_reopen(f);
	assert_int_equal(store_room_get_by_id(f->st, room, &r), CC_OK);
	assert_true(r.closed);
	assert_int_equal(store_room_set_closed(f->st, room, false), CC_OK);
	uint8_t rid[STORE_ROOM_ID_LEN];
	test_room_id(1, rid);
	assert_int_equal(store_room_get(f->st, rid, &r), CC_OK);
	assert_false(r.closed);
	assert_int_equal(store_room_set_closed(f->st, other + 5, false), CC_ERR_NOT_FOUND);
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
	assert_int_equal(store_message_append(f->st, r2, alice, 0, 1, 10, b, 2, &id), CC_OK);
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
		assert_int_equal(store_epoch_put(f->st, r, 0, blob, 5, 1000), CC_OK);
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
	assert_int_equal(store_user_set_signing_key(f->st, bob, 1, pub, (const uint8_t *)"c", 1),
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
	uint32_t version;
	assert_int_equal(store_user_get_signing_key(f->st, bob, &version, pub, &c, &c_len),
			 CC_ERR_NOT_FOUND);
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

	/* Every member left owes the rekey (any of them may make it), each
	 * listed with its own membership; the room outside owes none. */
	struct seen s;
	assert_int_equal(test_owed(f, carol, &s), 1);
	assert_int_equal(s.b[0], room);
	assert_int_equal(s.a[0], carol);
	assert_int_equal(test_owed(f, bob, &s), 1);
	assert_int_equal(s.b[0], room);
	assert_int_equal(s.a[0], bob);
	assert_int_equal(test_owed(f, alice, &s), 0);

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
	assert_int_equal(store_epoch_put(f->st, room, 0, (const uint8_t *)"t", 1, 1000), CC_OK);
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

/* A member's client works through what it owes: it signs the removals
 * and the new epoch, and the server clears the marks as it goes. */
static int clear_owed(void *ctx, const struct store_member *m)
{
	struct store *st = ctx;
	assert_int_equal(store_room_set_rekey_owed(st, m->room, false), CC_OK);
	return 0;
}

/* Rooms owing a new epoch are listed to every member, admin or not: any
 * member may open it. */
static void test_each_owed(void **state)
{
	struct fixture *f = *state;
	int64_t alice = test_user(f, "alice", 1);
	int64_t bob = test_user(f, "bob", 2);
	int64_t carol = test_user(f, "carol", 3);
	int64_t dave = test_user(f, "dave", 4);
	int64_t erin = test_user(f, "erin", 5);
	int64_t rooms[4];
	for (int i = 0; i < 4; i++) {
		rooms[i] = test_room(f, (uint8_t)(i + 1), i == 3 ? bob : alice);
		assert_int_equal(store_member_add(f->st, rooms[i], alice, 1, (uint32_t)i), CC_OK);
		assert_int_equal(store_member_add(f->st, rooms[i], bob, 1, (uint32_t)(10 + i)),
				 CC_OK);
	}
	assert_int_equal(store_member_add(f->st, rooms[2], carol, 1, 0), CC_OK);
	assert_int_equal(store_member_add(f->st, rooms[3], carol, 1, 0), CC_OK);
	assert_int_equal(store_member_add(f->st, rooms[1], dave, 1, 7), CC_OK);
	/* The admin of a room it is no member of (the server never makes
	 * one) is not asked. */
	int64_t outside = test_room(f, 9, erin);
	assert_int_equal(store_member_add(f->st, outside, dave, 1, 0), CC_OK);
	struct seen s;
	assert_int_equal(test_owed(f, alice, &s), 0);
	assert_int_equal(test_owed(f, bob, &s), 0);

	/* Carol goes from rooms 2 and 3; rooms 0 and outside owe one for
	 * another reason (a leave). */
	assert_int_equal(store_user_expire(f->st, carol), CC_OK);
	assert_int_equal(store_room_set_rekey_owed(f->st, rooms[0], true), CC_OK);
	assert_int_equal(store_room_set_rekey_owed(f->st, outside, true), CC_OK);
	assert_int_equal(test_owed(f, alice, &s), 3);
	assert_int_equal(s.b[0], rooms[0]);
	assert_int_equal(s.b[1], rooms[2]);
	assert_int_equal(s.b[2], rooms[3]);
	assert_int_equal(s.a[1], alice);
	assert_int_equal(s.epoch[1], 2);          /* alice's own membership */
	/* bob administers only room 3, and is asked about all three. */
	assert_int_equal(test_owed(f, bob, &s), 3);
	assert_int_equal(s.b[0], rooms[0]);
	assert_int_equal(s.b[2], rooms[3]);
	assert_int_equal(s.a[2], bob);
	assert_int_equal(s.epoch[2], 13);         /* bob's own membership */
	/* dave's room 1 owes nothing; outside does. */
	assert_int_equal(test_owed(f, dave, &s), 1);
	assert_int_equal(s.b[0], outside);
	assert_int_equal(test_owed(f, erin, &s), 0);
	assert_int_equal(test_owed(f, carol, &s), 0);
	test_reopen(f);
	assert_int_equal(test_owed(f, alice, &s), 3);

	/* Stopped early; misuse. */
	memset(&s, 0, sizeof s);
	s.stop_after = 1;
	s.stop_with = CC_ERR_NOT_FOUND;
	assert_int_equal(store_room_each_owed(f->st, alice, seen_member, &s), CC_ERR_NOT_FOUND);
	assert_int_equal(s.n, 1);
	assert_int_equal(store_room_each_owed(f->st, alice, NULL, &s), CC_ERR_INTERNAL);
	assert_int_equal(store_room_each_owed(NULL, alice, seen_member, &s), CC_ERR_INTERNAL);

	/* Cleared from inside bob's walk: cleared for alice too (one mark per
	 * room), and dave's room is another room. */
	assert_int_equal(store_room_each_owed(f->st, bob, clear_owed, f->st), CC_OK);
	assert_int_equal(test_owed(f, bob, &s), 0);
	assert_int_equal(test_owed(f, alice, &s), 0);
	assert_int_equal(test_owed(f, dave, &s), 1);
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
	assert_int_equal(store_user_set_signing_key(f->st, bob, 4, pub, (const uint8_t *)"c", 1),
			 CC_OK);
	assert_int_equal(store_begin(f->st), CC_OK);
	assert_int_equal(store_room_create(f->st, rid, alice, 777, &room), CC_OK);
	assert_int_equal(store_member_add(f->st, room, alice, 1, 0), CC_OK);
	assert_int_equal(store_member_add(f->st, room, bob, 3, 1), CC_OK);
	assert_int_equal(store_record_append(f->st, room, 0, (const uint8_t *)"r0", 2, hash),
			 CC_OK);
	assert_int_equal(store_epoch_put(f->st, room, 1, (const uint8_t *)"t1", 2, 1000), CC_OK);
	assert_int_equal(store_key_put(f->st, room, 1, bob, (const uint8_t *)"k", 1), CC_OK);
	assert_int_equal(store_room_set_epoch(f->st, room, 1), CC_OK);
	assert_int_equal(store_room_set_rekey_owed(f->st, room, true), CC_OK);
	assert_int_equal(store_room_set_closed(f->st, room, true), CC_OK);
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
	assert_true(r.closed);
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
	uint32_t version;
	assert_int_equal(store_epoch_get(f->st, room, 1, &t, &len), CC_OK);
	assert_memory_equal(t, "t1", 2);
	free(t);
	assert_int_equal(store_user_get_signing_key(f->st, bob, &version, got, &t, &len), CC_OK);
	assert_int_equal(version, 4);
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
	assert_int_equal(store_user_set_signing_key(f->st, bob, 3, sign, cert, sizeof cert),
			 CC_OK);
	assert_int_equal(store_public_key_get(f->st, fp, &k), CC_OK);
	assert_int_equal(k.user_id, bob);
	assert_string_equal(k.nick, "Bob");
	assert_int_equal(k.sign_version, 3);
	assert_int_equal(k.sign_cert_len, sizeof cert);
	store_public_key_clear(&k);

	assert_int_equal(store_user_expire(f->st, bob), CC_OK);
	assert_int_equal(store_public_key_get(f->st, fp, &k), CC_OK);
	assert_int_equal(k.user_id, 0);
	assert_string_equal(k.nick, "Bob");
	assert_int_equal(k.pubkey_len, sizeof key);
	assert_memory_equal(k.pubkey, key, sizeof key);
	/* The retired key keeps its signing key's version. */
	assert_int_equal(k.sign_version, 3);
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

/* ---- The upgrade to protocol 2 ----------------------------------------------------- */

/* A version-4 file as protocol 1's server left it (the store code of that
 * version, 512-byte pages, WAL, checkpointed): users Alice (1), bob (2) and
 * carol (3), keys 0x10.. / 0x20.. / 0x30.. (8 bytes), fingerprints
 * 0x20.. / 0x40.. / 0x60.., created 101..103; Alice's and bob's signing
 * keys (32 x 0xa1 / 0xb2, certificates "cert-a" / "cert-b"); room 1 (id
 * 16 x 0x11, admin Alice; members Alice, bob; two records, a title, two
 * wrapped keys, three messages of epoch 0, two of them Alice's), room 2
 * (id 16 x 0x22, admin carol); dave (4, fingerprint 0x80..) expired out of
 * both: his key retired, listed as gone, new epochs owed. */
#define TEST_V4_DB_SIZE 19456
static const struct test_run test_v4_db[] = {
	{0, "53514c69746520666f726d617420330002000202004020200000000200000026"},
	{43, "1000000004"},
	{59, "0100000004"},
	{95, ("02002e6301050000000901d3000000002601fb01f601f101ec01e701e201dd01"
		"d801d3")},
	{470, ("23180000001f160000001d130000001911000000160e000000110c0000000f09"
		"000000070700000005050d0106000300a00000a0019e0144003c")},
	{572, "01060064"},
	{672, ("64010a0017171c4c01014c18416c696365616c69636510111213141516172021"
		"22232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f6565"
		"a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1"
		"636572742d610184003e")},
	{836, ("3e030a0017171c4c010100006361726f6c6361726f6c30313233343536376061"
		"62636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f6767"
		"0000001a")},
	{926, ("60020a0013131c4c01014c18626f62626f622021222324252627404142434445"
		"464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f6666b2b2b2b2"
		"b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b263657274"
		"2d620a0000000301e50001f701ef01e501dc")},
	{1503, ("090000000000090317016361726f6c0307031301626f620208031709616c6963"
		"650a0000000301920001dc01b70192016d")},
	{1904, "25"},
	{1938, ("24034c01606162636465666768696a6b6c6d6e6f707172737475767778797a7b"
		"7c7d7e7f0324034c01404142434445464748494a4b4c4d4e4f50515253545556"
		"5758595a5b5c5d5e5f0223034c09202122232425262728292a2b2c2d2e2f3031"
		"32333435363738393a3b3c3d3e3f0d00000005008e0001b8018d01620110008e"
		"00000001ed")},
	{2099, "01cf"},
	{2190, ("8477050717171701894d7461626c65726f6f6d73726f6f6d7309435245415445"
		"205441424c4520726f6f6d73202820696420494e5445474552205052494d4152"
		"59204b4559204155544f494e4352454d454e542c20726f6f6d5f696420424c4f"
		"42204e4f54204e554c4c20554e4951554520434845434b286c656e6774680000"
		"000b500406172b2b01597461626c6573716c6974655f73657175656e63657371"
		"6c6974655f73657175656e636506435245415445205441424c452073716c6974"
		"655f73657175656e6365286e616d652c73657129290306173d170100696e6465"
		"7873716c6974655f6175746f696e6465785f75736572735f3275736572730429"
		"0206173d170100696e64657873716c6974655f6175746f696e6465785f757365"
		"72735f31757365727303843d01071717170188597461626c6575736572737573"
		"65727302435245415445205441424c45207573657273202820696420494e5445"
		"474552205052494d415259204b45000000080d0000000201ea0001f501ea")},
	{3050, ("0902031701726f6f6d730209010317017573657273040d00a300020052000125"
		"0052002300230000000000000023")},
	{3108, "a3002f"},
	{3154, ("4f0706172917016d696e646578726f6f6d735f62795f61646d696e726f6f6d73"
		"0c43524541544520494e44455820726f6f6d735f62795f61646d696e204f4e20"
		"726f6f6d732861646d696e5f757365722901500082")},
	{3365, ("290606173d170100696e64657873716c6974655f6175746f696e6465785f726f"
		"6f6d735f31726f6f6d730a000000b0")},
	{3588, ("59204155544f494e4352454d454e542c206e69636b2054455854204e4f54204e"
		"554c4c20434845434b286c656e677468286e69636b29204245545745454e2031"
		"20414e44203332292c206e69636b5f6c6f7765722054455854204e4f54204e55"
		"4c4c20554e495155452c207075626b657920424c4f42204e4f54204e554c4c20"
		"434845434b286c656e677468287075626b657929203e2030292c2066696e6765"
		"727072696e7420424c4f42204e4f54204e554c4c20554e495155452043484543"
		"4b286c656e6774682866696e6765727072696e7429203d203332292c20637265"
		"617465645f7320494e5445474552204e4f54204e554c4c20434845434b286372"
		"65617465645f73203e3d2030292c206c6173745f7365656e5f7320494e544547"
		"4552204e4f54204e554c4c20434845434b286c6173745f7365656e5f73203e3d"
		"2030292c207369676e5f70756220424c4f4220434845434b287369676e5f7075"
		"62204953204e554c4c204f52206c656e677468287369676e5f70756229203d20"
		"3332292c207369676e5f6365727420424c4f4220434845434b28287369676e5f"
		"63657274204953204e554c4c29203d20287369676e5f707562204953204e554c"
		"4c2920414e4420287369676e5f63657274204953204e554c4c204f52206c656e"
		"677468287369676e5f6365727429203e2030292929205354524943540d000000"
		"0201810001c00181")},
	{4481, "3d020a002c0108084c0802092222222222222222222222222222222203"},
	{4542, ("03e93e010a002c0908014c010209111111111111111111111111111111110233"
		"3333333333333333333333333333333333333333333333333333333333333303"
		"03e80a0000000201d70001ec01d7")},
	{5079, ("14032c01222222222222222222222222222222220213032c0911111111111111"
		"1111111111111111110000000028726f6f6d5f696429203d203136292c206164"
		"6d696e5f7573657220494e5445474552204e4f54204e554c4c20524546455245"
		"4e434553207573657273286964292c2065706f636820494e5445474552204e4f"
		"54204e554c4c2044454641554c54203020434845434b2865706f636820424554"
		"5745454e203020414e442034323934393637323935292c207265636f72645f63"
		"6f756e7420494e5445474552204e4f54204e554c4c2044454641554c54203020"
		"20434845434b287265636f72645f636f756e74204245545745454e203020414e"
		"442034323934393637323935292c206c6173745f7265636f72645f6861736820"
		"424c4f42204e4f54204e554c4c2044454641554c5420287a65726f626c6f6228"
		"333229292020434845434b286c656e677468286c6173745f7265636f72645f68"
		"61736829203d203332292c206c6173745f6d73675f696420494e544547455220"
		"4e4f54204e554c4c2044454641554c54203020434845434b286c6173745f6d73"
		"675f6964203e3d2030292c20637265617465645f6d7320494e5445474552204e"
		"4f54204e554c4c20434845434b28637265617465645f6d73203e3d2030292c20"
		"72656b65795f6f77656420494e5445474552204e4f54204e554c4c2044454641"
		"554c54203020434845434b2872656b65795f6f77656420494e2028302c203129"
		"2929205354524943540a0000000201f60001fc01f6")},
	{6134, "050301010302030309090d01e3000301d80001f701ed01d801cd01cd"},
	{6605, ("01e3000b0000000000000009040700010109080802030000000a000000000000"
		"080207000901090808020701070009090908080a01ed000301e50001fb01f401"
		"e501dd01dd")},
	{7133, ("01ed000800000000070401010102030400000007000000060409010102020404"
		"0909090d00000002002c00005b002c")},
	{7212, ("2d090617411b0100696e64657873716c6974655f6175746f696e6465785f6d65"
		"6d626572735f316d656d626572730e83220807171b1b01861b7461626c656d65"
		"6d626572736d656d626572730d435245415445205441424c45206d656d626572"
		"73202820696420494e5445474552205052494d415259204b45592c20726f6f6d"
		"20494e5445474552204e4f54204e554c4c205245464552454e43455320726f6f"
		"6d7328696429204f4e2044454c45544520434153434144452c20757365722049"
		"4e5445474552204e4f54204e554c4c205245464552454e434553207573657273"
		"28696429204f4e2044454c45544520434153434144452c2066697273745f6d73"
		"675f696420494e5445474552204e4f54204e554c4c20434845434b2866697273"
		"745f6d73675f6964203e3d2030292c206c6173745f726561645f6d73675f6964"
		"20494e5445474552204e4f54204e554c4c20434845434b286c6173745f726561"
		"645f6d73675f6964203e3d2030292c2073696e63655f65706f636820494e5445"
		"474552204e4f54204e554c4c20434845434b2873696e63655f65706f63682042"
		"45545745454e203020414e442034323934393637323935292c20554e49515545"
		"28726f6f6d2c20757365722929205354524943540a01ed000301e50001fb01f4"
		"01e501dd01dd")},
	{8157, ("01ed000800000000070401010103020400000007000000060401090102020404"
		"0909090d01720003004800017a00480143001b001b001b000000000000000172"
		"002d")},
	{8264, ("81780b07171b1b0183477461626c657265636f7264737265636f726473124352"
		"45415445205441424c45207265636f726473202820726f6f6d20494e54454745"
		"52204e4f54204e554c4c205245464552454e43455320726f6f6d732869642920"
		"4f4e2044454c45544520434153434144452c2073657120494e5445474552204e"
		"4f54204e554c4c20434845434b28736571204245545745454e203020414e4420"
		"34323934393637323934292c207265636f726420424c4f42204e4f54204e554c"
		"4c20434845434b286c656e677468287265636f726429203e2030292c20505249"
		"4d415259204b455928726f6f6d2c207365712929205354524943542d0c061741"
		"1b0100696e64657873716c6974655f6175746f696e6465785f7265636f726473"
		"5f317265636f7264731301d1000800000000550a06172b1b0173696e6465786d"
		"656d626572735f62795f757365726d656d626572731043524541544520494e44"
		"4558206d656d626572735f62795f75736572204f4e206d656d62657273287573"
		"65722c20726f6f6d290000002f")},
	{8704, "0d0000000201ec0001f601ec"},
	{9196, "08020409091472656331080104090814726563300a0000000201f50001fb01f5"},
	{9717, "05040909010204040908090d0000000101f50001f5"},
	{10229, "0901040908167469746c650a0000000101fb0001fb"},
	{10747, "04040908090d0000000200d10000fe00d100960096"},
	{10905, "3b"},
	{10961, ("2b0e06173f190100696e64657873716c6974655f6175746f696e6465785f6570"
		"6f6368735f3165706f63687315817f0d071719190183597461626c6565706f63"
		"687365706f63687314435245415445205441424c452065706f63687320282072"
		"6f6f6d20494e5445474552204e4f54204e554c4c205245464552454e43455320"
		"726f6f6d7328696429204f4e2044454c45544520434153434144452c2065706f"
		"636820494e5445474552204e4f54204e554c4c20434845434b2865706f636820"
		"4245545745454e203020414e442034323934393637323935292c207469746c65"
		"5f637420424c4f42204e4f54204e554c4c20434845434b286c656e6774682874"
		"69746c655f637429203e2030292c205052494d415259204b455928726f6f6d2c"
		"2065706f63682929205354524943540d0000000201e50001f301e5")},
	{11749, ("0c02050901081802777261702d620b010509090818777261702d610a00000002"
		"01f20001fa01f2")},
	{12274, "07050901080102020505090908090d0000000300270000b300800027001f"},
	{12322, ("9400000000571106172f1f016f696e646578726f6f6d5f6b6579735f62795f75"
		"736572726f6f6d5f6b6579731a43524541544520494e44455820726f6f6d5f6b"
		"6579735f62795f75736572204f4e20726f6f6d5f6b6579732875736572293110"
		"0617451f0100696e64657873716c6974655f6175746f696e6465785f726f6f6d"
		"5f6b6579735f31726f6f6d5f6b65797318824a0f07171f1f0184637461626c65"
		"726f6f6d5f6b657973726f6f6d5f6b65797317435245415445205441424c4520"
		"726f6f6d5f6b657973202820726f6f6d20494e5445474552204e4f54204e554c"
		"4c205245464552454e43455320726f6f6d7328696429204f4e2044454c455445"
		"20434153434144452c207573657220494e5445474552204e4f54204e554c4c20"
		"5245464552454e43455320757365727328696429204f4e2044454c4554452043"
		"4153434144452c2065706f636820494e5445474552204e4f54204e554c4c2043"
		"4845434b2865706f6368204245545745454e203020414e442034323934393637"
		"323935292c207772617070656420424c4f42204e4f54204e554c4c2043484543"
		"4b286c656e677468287772617070656429203e2030292c205052494d41525920"
		"4b455928726f6f6d2c20757365722c2065706f63682929205354524943540a00"
		"00000201f60001fc01f6")},
	{13302, "050301010202030309090d0000000301d30001f201e301d3"},
	{13779, ("0e030800090101080210030207d26d330d0208000901090802100207d16d320c"
		"01080009090908021007d06d310a0000000301ed0001fb01f401ed")},
	{14317, ("060409010103030604090101020204040909090d00000002004c00007d004c00"
		"00013b")},
	{14412, ("2f130617431d0100696e64657873716c6974655f6175746f696e6465785f6d65"
		"7373616765735f316d657373616765731c83001207171d1d0185537461626c65"
		"6d657373616765736d657373616765731b435245415445205441424c45206d65"
		"737361676573202820696420494e5445474552205052494d415259204b45592c"
		"20726f6f6d20494e5445474552204e4f54204e554c4c205245464552454e4345"
		"5320726f6f6d7328696429204f4e2044454c45544520434153434144452c206d"
		"73675f696420494e5445474552204e4f54204e554c4c20434845434b286d7367"
		"5f6964203e3d2031292c2073656e64657220494e5445474552204e4f54204e55"
		"4c4c2c2065706f636820494e5445474552204e4f54204e554c4c20434845434b"
		"2865706f6368204245545745454e203020414e44203432393439363732393529"
		"2c2074735f6d7320494e5445474552204e4f54204e554c4c20434845434b2874"
		"735f6d73203e3d2030292c20626c6f6220424c4f42204e4f54204e554c4c2043"
		"4845434b286c656e67746828626c6f6229203e2030292c20554e495155452872"
		"6f6f6d2c206d73675f69642929205354524943540a0000000301ec0001fa01f3"
		"01ec")},
	{15340, ("0603020107d2030603020107d1020503020907d00d01420003002f00017d002f"
		"014a")},
	{15407, ("82101507171f1f01836f7461626c65726f6f6d5f676f6e65726f6f6d5f676f6e"
		"6520435245415445205441424c4520726f6f6d5f676f6e65202820726f6f6d20"
		"494e5445474552204e4f54204e554c4c205245464552454e43455320726f6f6d"
		"7328696429204f4e2044454c45544520434153434144452c2066696e67657270"
		"72696e7420424c4f42204e4f54204e554c4c20434845434b286c656e67746828"
		"66696e6765727072696e7429203d203332292c206e69636b2054455854204e4f"
		"54204e554c4c20434845434b286c656e677468286e69636b2920424554574545"
		"4e203120414e44203332292c205052494d415259204b455928726f6f6d2c2066"
		"696e6765727072696e7429292053545249435401cf0008000000003116061745"
		"1f0100696e64657873716c6974655f6175746f696e6465785f726f6f6d5f676f"
		"6e655f31726f6f6d5f676f6e652150140617291d0169696e6465786d65737361"
		"6765735f62795f74736d657373616765731e43524541544520494e444558206d"
		"657373616765735f62795f7473204f4e206d657373616765732874735f6d7329"
		"00000031")},
	{15872, "0d0000000201ab0001d601ab"},
	{16299, ("290204014c1502808182838485868788898a8b8c8d8e8f909192939495969798"
		"999a9b9c9d9e9f64617665280104094c15808182838485868788898a8b8c8d8e"
		"8f909192939495969798999a9b9c9d9e9f646176650a0000000201b40001db01"
		"b4")},
	{16820, ("2604014c0102808182838485868788898a8b8c8d8e8f90919293949596979899"
		"9a9b9c9d9e9f022404094c09808182838485868788898a8b8c8d8e8f90919293"
		"9495969798999a9b9c9d9e9f0a0000000301ef0001fb01f501ef01e9")},
	{17388, ("06000005030101670305030101660204030109650d0000000200330001a60033"
		"01320132")},
	{17459, ("827018071725250185237461626c656b6579735f726574697265646b6579735f"
		"7265746972656424435245415445205441424c45206b6579735f726574697265"
		"6420282066696e6765727072696e7420424c4f42205052494d415259204b4559"
		"20434845434b286c656e6774682866696e6765727072696e7429203d20333229"
		"2c206e69636b2054455854204e4f54204e554c4c20434845434b286c656e6774"
		"68286e69636b29204245545745454e203120414e44203332292c207075626b65"
		"7920424c4f42204e4f54204e554c4c20434845434b286c656e67746828707562"
		"6b657929203e2030292c207369676e5f70756220424c4f4220434845434b2873"
		"69676e5f707562204953204e554c4c204f52206c656e677468287369676e5f70"
		"756229203d203332292c207369676e5f6365727420424c4f422c207265746972"
		"65645f7320494e5445474552204e4f54204e554c4c20434845434b2872657469"
		"7265645f73203e3d20302929205354524943545817061731170177696e646578"
		"75736572735f62795f6c6173745f7365656e7573657273224352454154452049"
		"4e4445582075736572735f62795f6c6173745f7365656e204f4e207573657273"
		"286c6173745f7365656e5f73290d0000000101a40001a4")},
	{18340, ("5a01074c151c4c1801808182838485868788898a8b8c8d8e8f90919293949596"
		"9798999a9b9c9d9e9f646176654041424344454647d4d4d4d4d4d4d4d4d4d4d4"
		"d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4636572742d64680a000000"
		"0101dc0001dc")},
	{18908, ("23034c09808182838485868788898a8b8c8d8e8f909192939495969798999a9b"
		"9c9d9e9f0d0000000101c70001c7")},
	{19399, ("371906174b250100696e64657873716c6974655f6175746f696e6465785f6b65"
		"79735f726574697265645f316b6579735f7265746972656425")},
};

/* Migration 5 (protocol 2): users stay, with no signing key; rooms and all
 * in them, retired keys and signing keys go; what protocol 2 adds works. */
static void test_upgrade_from_v4(void **state)
{
	struct fixture *f = *state;
	char path[160];
	snprintf(path, sizeof path, "%s/v4.db", f->tmp.dir);
	test_db_write(path, test_v4_db, sizeof test_v4_db / sizeof test_v4_db[0],
		      TEST_V4_DB_SIZE);
	tmpdir_db_expect_no_wal(path);
	assert_int_equal(tmpdir_db_version_get(path), 4);

	struct store *st;
	assert_int_equal(store_open(path, &st), CC_OK);
	assert_int_equal(store_schema_version(st), store_schema_latest());
	/* The users, as they were. */
	static const char *const nicks[3] = {"Alice", "bob", "carol"};
	for (int i = 0; i < 3; i++) {
		struct store_user u;
		assert_int_equal(store_user_get_by_id(st, i + 1, &u), CC_OK);
		assert_string_equal(u.nick, nicks[i]);
		assert_int_equal(u.pubkey_len, 8);
		assert_int_equal(u.pubkey[0], 0x10 * (i + 1));
		assert_int_equal(u.fingerprint[0], 0x20 * (i + 1));
		assert_int_equal(u.created_s, 101 + i);
		store_user_clear(&u);
		/* Without a signing key: certificates of protocol 1 do not verify
		 * under protocol 2. */
		uint8_t pub[STORE_SIGN_PUB_LEN], *cert = NULL;
		size_t cert_len;
		uint32_t version = 9;
		assert_int_equal(store_user_get_signing_key(st, i + 1, &version, pub, &cert,
							    &cert_len), CC_ERR_NOT_FOUND);
		assert_int_equal(version, 0);
		assert_null(cert);
	}
	struct store_user u;
	assert_int_equal(store_user_get_by_nick(st, "dave", &u), CC_ERR_NOT_FOUND);
	/* The public keys: known, version 0; dave's retired key is gone. */
	uint8_t fp[STORE_FINGERPRINT_LEN];
	struct store_public_key k;
	for (size_t i = 0; i < sizeof fp; i++)
		fp[i] = (uint8_t)(0x20 + i);
	assert_int_equal(store_public_key_get(st, fp, &k), CC_OK);
	assert_int_equal(k.user_id, 1);
	assert_int_equal(k.sign_version, 0);
	assert_int_equal(k.sign_cert_len, 0);
	store_public_key_clear(&k);
	for (size_t i = 0; i < sizeof fp; i++)
		fp[i] = (uint8_t)(0x80 + i);
	assert_int_equal(store_public_key_get(st, fp, &k), CC_ERR_NOT_FOUND);
	/* No rooms, nothing of theirs. */
	uint8_t rid[STORE_ROOM_ID_LEN];
	struct store_room r;
	struct seen s;
	struct gone_seen g;
	memset(rid, 0x11, sizeof rid);
	assert_int_equal(store_room_get(st, rid, &r), CC_ERR_NOT_FOUND);
	memset(rid, 0x22, sizeof rid);
	assert_int_equal(store_room_get(st, rid, &r), CC_ERR_NOT_FOUND);
	for (int64_t room = 1; room <= 2; room++) {
		assert_int_equal(store_room_get_by_id(st, room, &r), CC_ERR_NOT_FOUND);
		memset(&s, 0, sizeof s);
		assert_int_equal(store_message_each(st, room, 0, 0, seen_message, &s), CC_OK);
		assert_int_equal(s.n, 0);
		assert_int_equal(store_record_each(st, room, seen_record, &s), CC_OK);
		assert_int_equal(s.n, 0);
		assert_int_equal(store_member_each(st, room, seen_member, &s), CC_OK);
		assert_int_equal(s.n, 0);
		memset(&g, 0, sizeof g);
		assert_int_equal(store_room_gone_each(st, room, seen_gone, &g), CC_OK);
		assert_int_equal(g.n, 0);
	}
	for (int64_t user = 1; user <= 3; user++) {
		memset(&s, 0, sizeof s);
		assert_int_equal(store_member_each_room_of(st, user, seen_member, &s), CC_OK);
		assert_int_equal(s.n, 0);
		assert_int_equal(store_room_each_owed(st, user, seen_member, &s), CC_OK);
		assert_int_equal(s.n, 0);
	}

	/* Protocol 2 works on it: versioned signing keys, the old room id
	 * anew (a new row), records with positions, numbered messages. */
	uint8_t pub[STORE_SIGN_PUB_LEN], hash[STORE_HASH_LEN] = {1};
	memset(pub, 0x5a, sizeof pub);
	assert_int_equal(store_user_set_signing_key(st, 2, 1, pub, (const uint8_t *)"c", 1),
			 CC_OK);
	int64_t room, id;
	memset(rid, 0x11, sizeof rid);
	assert_int_equal(store_room_create(st, rid, 2, 5, &room), CC_OK);
	assert_true(room > 2);
	assert_int_equal(store_member_add(st, room, 2, 1, 0), CC_OK);
	assert_int_equal(store_message_append(st, room, 2, 0, 1, 9, (const uint8_t *)"m", 1, &id),
			 CC_OK);
	assert_int_equal(id, 1);
	assert_int_equal(store_message_append(st, room, 2, 0, 1, 9, (const uint8_t *)"m", 1, &id),
			 CC_ERR_REPLAYED);
	assert_int_equal(store_record_append(st, room, 0, (const uint8_t *)"r", 1, hash), CC_OK);
	assert_int_equal(store_room_set_closed(st, room, true), CC_OK);
	store_close(st);

	assert_int_equal(store_open(path, &st), CC_OK);
	assert_int_equal(store_schema_version(st), store_schema_latest());
	assert_int_equal(store_room_get(st, rid, &r), CC_OK);
	assert_true(r.closed);
	assert_int_equal(r.last_msg_id, 1);
	memset(&s, 0, sizeof s);
	assert_int_equal(store_record_each(st, room, seen_record, &s), CC_OK);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.seq[0], 1);
	uint8_t *cert;
	size_t cert_len;
	uint32_t version;
	assert_int_equal(store_user_get_signing_key(st, 2, &version, pub, &cert, &cert_len), CC_OK);
	assert_int_equal(version, 1);
	free(cert);
	store_close(st);
}

int main(void)
{
	/* Several tests provoke errors on purpose; keep the output to those. */
	log_set_level(LOG_LEVEL_ERROR);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_schema, setup, teardown),
		cmocka_unit_test_setup_teardown(test_upgrade_from_v1, setup, teardown),
		cmocka_unit_test_setup_teardown(test_upgrade_from_v4, setup, teardown),
		cmocka_unit_test_setup_teardown(test_signing_key, setup, teardown),
		cmocka_unit_test_setup_teardown(test_signing_key_versions, setup, teardown),
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
		cmocka_unit_test_setup_teardown(test_record_positions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_keys_and_epochs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_messages_ids_and_walks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_message_replay, setup, teardown),
		cmocka_unit_test_setup_teardown(test_message_find, setup, teardown),
		cmocka_unit_test_setup_teardown(test_room_closed, setup, teardown),
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
