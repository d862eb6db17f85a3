/* The client's store, part four: the upgrades of version-1 and version-2
 * files, damaged rows, files from a newer version or not databases at all,
 * an in-memory store, and refusal of bad arguments. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store/client_store.h"
#include "support/cstore_fixture.h"
#include "support/tmpdir.h"
#include "util/log.h"

/* A version-1 file as protocol 1's client left it (the store code of that
 * version, 512-byte pages, WAL, checkpointed), stored as its runs of
 * non-zero bytes: room 16 x 0x44 with keys (32 x 0x55) of epochs 0 and 1,
 * sender 32 x 0x66 seen up to 10, the room's last message id 20 (the seen
 * number of the zero fingerprint), own sequence numbers 1 and 2 used; pins
 * Old_Friend (32 x 0x66, verified, first seen 4242) and stranger (32 x 0x77,
 * not verified, 77). */
struct test_run {
	unsigned off;
	const char *hex;
};

#define TEST_V1_DB_SIZE 4096
static const struct test_run test_v1_db[] = {
	{0, "53514c69746520666f726d617420330002000202004020200000000200000008"},
	{43, "0400000004"},
	{59, "0100000001"},
	{95, "02002e6301050000000201f6000000000801fb01f6"},
	{505, "060300000004020a0000000201960001cb0196"},
	{918, ("34042c094c444444444444444444444444444444445555555555555555555555"
		"55555555555555555555555555555555555555555534042c084c444444444444"
		"4444444444444444444455555555555555555555555555555555555555555555"
		"555555555555555555550a00000002019400019401ca")},
	{1428, "35042c4c0144444444444444444444444444444444"},
	{1481, ("1435042c4c014444444444444444444444444444444466666666666666666666"
		"666666666666666666666666666666666666666666660a0d0000000200140000"
		"ff00140000000000000000816802071715150183337461626c657365656e7365"
		"656e03435245415445205441424c45207365656e202820726f6f6d20424c4f42"
		"204e4f54204e554c4c20434845434b286c656e67746828726f6f6d29203d2031"
		"36292c2073656e64657220424c4f42204e4f54204e554c4c20434845434b286c"
		"656e6774682873656e64657229203d203332292c206c6173745f73657120494e"
		"5445474552204e4f54204e554c4c20434845434b286c6173745f736571203e3d"
		"2030292c205052494d415259204b45592028726f6f6d2c2073656e6465722929"
		"205354524943542c20574954484f555420524f574944817e0107171f1f01834b"
		"7461626c65726f6f6d5f6b657973726f6f6d5f6b657973024352454154452054"
		"41424c4520726f6f6d5f6b657973202820726f6f6d20424c4f42204e4f54204e"
		"554c4c20434845434b286c656e67746828726f6f6d29203d203136292c206570"
		"6f636820494e5445474552204e4f54204e554c4c20434845434b2865706f6368"
		"204245545745454e203020414e442034323934393637323935292c206b657920"
		"424c4f42204e4f54204e554c4c20434845434b286c656e677468286b65792920"
		"3d203332292c205052494d415259204b45592028726f6f6d2c2065706f636829"
		"29205354524943542c20574954484f555420524f5749440a0000000101eb0001"
		"eb")},
	{2539, ("14032c0144444444444444444444444444444444030d01150001006200006200"
		"5a005a")},
	{2653, ("080000000081300307171b1b0182377461626c656f776e5f7365716f776e5f73"
		"657105435245415445205441424c45206f776e5f736571202820726f6f6d2042"
		"4c4f42204e4f54204e554c4c205052494d415259204b455920434845434b286c"
		"656e67746828726f6f6d29203d203136292c206e6578745f73657120494e5445"
		"474552204e4f54204e554c4c20434845434b286e6578745f736571203e3d2031"
		"2929205354524943542c20574954484f555420524f574944000000eb")},
	{3072, "0a00000002018b0001c3018b"},
	{3467, ("37061d1d4c0801737472616e676572737472616e676572777777777777777777"
		"77777777777777777777777777777777777777777777774d3c0621214c09026f"
		"6c645f667269656e644f6c645f467269656e6466666666666666666666666666"
		"6666666666666666666666666666666666666610920d00000001008b00008b")},
	{3723, ("827204071715150185477461626c6570696e7370696e73074352454154452054"
		"41424c452070696e732028206e69636b5f6c6f7765722054455854204e4f5420"
		"4e554c4c205052494d415259204b455920434845434b286c656e677468286e69"
		"636b5f6c6f77657229204245545745454e203120414e44203332292c206e6963"
		"6b2054455854204e4f54204e554c4c20434845434b286c656e677468286e6963"
		"6b29204245545745454e203120414e44203332292c2066696e6765727072696e"
		"7420424c4f42204e4f54204e554c4c20434845434b286c656e6774682866696e"
		"6765727072696e7429203d203332292c20766572696669656420494e54454745"
		"52204e4f54204e554c4c20434845434b28766572696669656420494e2028302c"
		"203129292c2066697273745f7365656e5f6d7320494e5445474552204e4f5420"
		"4e554c4c20434845434b2866697273745f7365656e5f6d73203e3d2030292920"
		"5354524943542c20574954484f555420524f574944")},
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

/* Migrations 2 and 3 (protocols 2 and 3): the room tables of protocol 1 go
 * (their secrets and counters mean nothing under the new rules), and for
 * real: no byte of their keys is left in the file; the pins stay, the file
 * leaves WAL for a rollback journal, and the new tables work. */
static void test_upgrade_from_v1(void **state)
{
	struct fixture *f = *state;
	char path[160];
	snprintf(path, sizeof path, "%s/v1.db", f->tmp.dir);
	test_v1_write(path);
	tmpdir_db_expect_no_wal(path);
	assert_int_equal(tmpdir_db_version_get(path), 1);
	uint8_t old_key[CSTORE_KEY_LEN];
	memset(old_key, 0x55, sizeof old_key);
	/* The scan sees protocol 1's keys before the upgrade. */
	assert_true(cs_files_hold(path, old_key));

	struct client_store *cs = NULL;
	uint8_t room[CSTORE_ROOM_ID_LEN], fp[CSTORE_FP_LEN], zero[CSTORE_FP_LEN] = {0};
	uint8_t key[CSTORE_KEY_LEN];
	uint64_t v = 99;
	memset(room, 0x44, sizeof room);
	memset(fp, 0x66, sizeof fp);
	assert_int_equal(cstore_open(path, &cs), CC_OK);
	/* The pins, as they were. */
	struct cstore_pin pin;
	assert_int_equal(cstore_pin_get(cs, "old_friend", &pin), CC_OK);
	assert_string_equal(pin.nick, "Old_Friend");
	assert_memory_equal(pin.fp, fp, sizeof fp);
	assert_int_equal(pin.verified, 1);
	assert_int_equal(pin.first_seen_ms, 4242);
	assert_int_equal(cstore_pin_get(cs, "STRANGER", &pin), CC_OK);
	assert_string_equal(pin.nick, "stranger");
	assert_int_equal(pin.fp[0], 0x77);
	assert_int_equal(pin.verified, 0);
	assert_int_equal(pin.first_seen_ms, 77);
	/* The room's secrets and counters are gone. */
	for (uint32_t epoch = 0; epoch < 2; epoch++) {
		assert_int_equal(cstore_epoch_has(cs, room, epoch), CC_ERR_NOT_FOUND);
		assert_int_equal(cstore_seen_get(cs, room, fp, epoch, &v), CC_OK);
		assert_int_equal(v, 0);
		assert_int_equal(cstore_seen_get(cs, room, zero, epoch, &v), CC_OK);
		assert_int_equal(v, 0);
	}
	struct cstore_room r;
	assert_int_equal(cstore_room_get(cs, room, &r), CC_ERR_NOT_FOUND);
	uint32_t version;
	assert_int_equal(cstore_sign_get(cs, fp, &version, key), CC_ERR_NOT_FOUND);
	assert_int_equal(cstore_activity_get(cs, fp, &v), CC_OK);
	assert_int_equal(v, 0);
	struct cstore_recv_key rk;
	assert_int_equal(cstore_recv_current(cs, &rk), CC_ERR_NOT_FOUND);
	/* The new tables work, and outlive a reopen. */
	cs_secret(2000, key);
	assert_int_equal(cstore_epoch_add(cs, room, 1, (const uint8_t(*)[CSTORE_FP_LEN])fp,
					  (const uint8_t(*)[CSTORE_KEY_LEN])key, 1), CC_OK);
	memset(&r, 0, sizeof r);
	r.head_count = 2;
	assert_int_equal(cstore_room_put(cs, room, &r), CC_OK);
	struct cstore_ratchet step = {.next_seq = 4};
	cs_secret(2001, step.chain_key);
	assert_int_equal(cstore_message_handled(cs, room, fp, 1, 3, 4, 5, &step), CC_OK);
	rk = cs_recv_key(1, 10, 2002);
	assert_int_equal(cstore_recv_add(cs, &rk), CC_OK);
	cstore_close(cs);
	assert_int_equal(tmpdir_db_version_get(path), TEST_CSTORE_LATEST);
	cs_expect_rollback_journal(path);
	assert_false(cs_files_hold(path, old_key));

	assert_int_equal(cstore_open(path, &cs), CC_OK);
	uint8_t got[CSTORE_KEY_LEN];
	assert_int_equal(cstore_chain_get(cs, room, 1, fp, got, &v), CC_OK);
	assert_memory_equal(got, step.chain_key, sizeof got);
	assert_int_equal(v, 4);
	assert_int_equal(cstore_room_get(cs, room, &r), CC_OK);
	assert_int_equal(r.head_count, 2);
	assert_int_equal(r.last_msg_id, 4);
	assert_int_equal(cstore_seen_get(cs, room, fp, 1, &v), CC_OK);
	assert_int_equal(v, 3);
	assert_int_equal(cstore_recv_get(cs, 1, &rk), CC_OK);
	assert_int_equal(rk.created_ms, 10);
	assert_int_equal(cstore_pin_get(cs, "old_friend", &pin), CC_OK);
	cstore_close(cs);
}

/* Protocol 2's tables (migrations 1 and 2) as its client made them. */
static const char test_v2_schema[] =
	("CREATE TABLE pins ("
	 " nick_lower TEXT NOT NULL PRIMARY KEY CHECK(length(nick_lower) BETWEEN 1 AND 32),"
	 " nick TEXT NOT NULL CHECK(length(nick) BETWEEN 1 AND 32),"
	 " fingerprint BLOB NOT NULL CHECK(length(fingerprint) = 32),"
	 " verified INTEGER NOT NULL CHECK(verified IN (0, 1)),"
	 " first_seen_ms INTEGER NOT NULL CHECK(first_seen_ms >= 0)"
	 ") STRICT, WITHOUT ROWID;"
	 "CREATE TABLE epoch_secrets ("
	 " room BLOB NOT NULL CHECK(length(room) = 16),"
	 " epoch INTEGER NOT NULL CHECK(epoch BETWEEN 0 AND 4294967295),"
	 " secret BLOB NOT NULL CHECK(length(secret) = 32),"
	 " PRIMARY KEY (room, epoch)"
	 ") STRICT, WITHOUT ROWID;"
	 "CREATE TABLE seen ("
	 " room BLOB NOT NULL CHECK(length(room) = 16),"
	 " sender BLOB NOT NULL CHECK(length(sender) = 32),"
	 " epoch INTEGER NOT NULL CHECK(epoch BETWEEN 0 AND 4294967295),"
	 " last_seq INTEGER NOT NULL CHECK(last_seq >= 0),"
	 " PRIMARY KEY (room, sender, epoch)"
	 ") STRICT, WITHOUT ROWID;"
	 "CREATE TABLE own_seq ("
	 " room BLOB NOT NULL CHECK(length(room) = 16),"
	 " epoch INTEGER NOT NULL CHECK(epoch BETWEEN 0 AND 4294967295),"
	 " next_seq INTEGER NOT NULL CHECK(next_seq >= 1),"
	 " PRIMARY KEY (room, epoch)"
	 ") STRICT, WITHOUT ROWID;"
	 "CREATE TABLE rooms ("
	 " room BLOB NOT NULL PRIMARY KEY CHECK(length(room) = 16),"
	 " head_count INTEGER NOT NULL CHECK(head_count BETWEEN 0 AND 4294967295),"
	 " head_hash BLOB NOT NULL CHECK(length(head_hash) = 32),"
	 " epoch INTEGER NOT NULL CHECK(epoch BETWEEN 0 AND 4294967295),"
	 " members INTEGER NOT NULL CHECK(members BETWEEN 0 AND 4294967295),"
	 " admin TEXT NOT NULL CHECK(length(admin) <= 32),"
	 " title TEXT NOT NULL CHECK(length(CAST(title AS BLOB)) <= 200),"
	 " last_msg_id INTEGER NOT NULL DEFAULT 0 CHECK(last_msg_id >= 0)"
	 ") STRICT, WITHOUT ROWID;"
	 "CREATE TABLE sign_keys ("
	 " fingerprint BLOB NOT NULL PRIMARY KEY CHECK(length(fingerprint) = 32),"
	 " version INTEGER NOT NULL CHECK(version BETWEEN 1 AND 4294967295),"
	 " sign_pub BLOB NOT NULL CHECK(length(sign_pub) = 32)"
	 ") STRICT, WITHOUT ROWID;"
	 "CREATE TABLE activity ("
	 " fingerprint BLOB NOT NULL PRIMARY KEY CHECK(length(fingerprint) = 32),"
	 " last_ms INTEGER NOT NULL CHECK(last_ms >= 0)"
	 ") STRICT, WITHOUT ROWID;"
	 "PRAGMA user_version = 2;");

/* Migration 3 (protocol 3, forward secrecy) on a file that protocol 2's
 * client left in WAL mode, its last writes (the epoch secrets among them)
 * not yet checkpointed: the epoch secrets go, and nothing of them is left in
 * any file; the rooms and counters of protocol 2 go; pins, signing keys and
 * activity stay. */
static void test_upgrade_from_v2(void **state)
{
	struct fixture *f = *state;
	char path[160], sql[2048], b_room[40], b_fp[72], b_s1[72], b_s2[72], b_sk[72], b_h[72];
	uint8_t room[CSTORE_ROOM_ID_LEN], fp[CSTORE_FP_LEN], s1[CSTORE_KEY_LEN];
	uint8_t s2[CSTORE_KEY_LEN], sk[CSTORE_KEY_LEN], hash[CSTORE_HASH_LEN];
	snprintf(path, sizeof path, "%s/v2.db", f->tmp.dir);
	cs_fill(150, room, sizeof room);
	cs_fill(151, fp, sizeof fp);
	cs_fill(152, hash, sizeof hash);
	cs_secret(2100, s1);
	cs_secret(2101, s2);
	cs_secret(2102, sk);

	sqlite3 *db = NULL;
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
					 NULL), SQLITE_OK);
	/* As protocol 2's client: WAL; and a crash, so no checkpoint at close. */
	assert_int_equal(sqlite3_db_config(db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, (int *)NULL),
			 SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "PRAGMA journal_mode = WAL", NULL, NULL, NULL),
			 SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, test_v2_schema, NULL, NULL, NULL), SQLITE_OK);
	snprintf(sql, sizeof sql,
		 "INSERT INTO epoch_secrets VALUES(%s, 1, %s), (%s, 2, %s);"
		 "INSERT INTO seen VALUES(%s, %s, 2, 7);"
		 "INSERT INTO own_seq VALUES(%s, 2, 3);"
		 "INSERT INTO rooms VALUES(%s, 4, %s, 2, 2, 'alice', 'old plans', 9);"
		 "INSERT INTO sign_keys VALUES(%s, 3, %s);"
		 "INSERT INTO activity VALUES(%s, 1234);"
		 "INSERT INTO pins VALUES('alice', 'Alice', %s, 1, 99);",
		 cs_sql_blob(room, sizeof room, b_room, sizeof b_room),
		 cs_sql_blob(s1, sizeof s1, b_s1, sizeof b_s1), b_room,
		 cs_sql_blob(s2, sizeof s2, b_s2, sizeof b_s2), b_room,
		 cs_sql_blob(fp, sizeof fp, b_fp, sizeof b_fp), b_room, b_room,
		 cs_sql_blob(hash, sizeof hash, b_h, sizeof b_h), b_fp,
		 cs_sql_blob(sk, sizeof sk, b_sk, sizeof b_sk), b_fp, b_fp);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_close(db), SQLITE_OK);
	/* The secrets are on disk (in the WAL, not yet in the database). */
	char wal[170];
	snprintf(wal, sizeof wal, "%s-wal", path);
	assert_int_equal(access(wal, F_OK), 0);
	assert_true(cs_files_hold(path, s1));
	assert_true(cs_files_hold(path, s2));

	struct client_store *cs = NULL;
	assert_int_equal(cstore_open(path, &cs), CC_OK);
	/* Pins, signing keys and activity stay. */
	struct cstore_pin pin;
	assert_int_equal(cstore_pin_get(cs, "ALICE", &pin), CC_OK);
	assert_string_equal(pin.nick, "Alice");
	assert_memory_equal(pin.fp, fp, sizeof fp);
	assert_int_equal(pin.verified, 1);
	assert_int_equal(pin.first_seen_ms, 99);
	uint32_t version = 0;
	uint8_t got[CSTORE_KEY_LEN];
	assert_int_equal(cstore_sign_get(cs, fp, &version, got), CC_OK);
	assert_int_equal(version, 3);
	assert_memory_equal(got, sk, sizeof got);
	uint64_t v = 0;
	assert_int_equal(cstore_activity_get(cs, fp, &v), CC_OK);
	assert_int_equal(v, 1234);
	/* The room and its counters go; no chain comes out of the secrets. */
	struct cstore_room r;
	assert_int_equal(cstore_room_get(cs, room, &r), CC_ERR_NOT_FOUND);
	assert_int_equal(cstore_seen_get(cs, room, fp, 2, &v), CC_OK);
	assert_int_equal(v, 0);
	assert_int_equal(cstore_epoch_has(cs, room, 1), CC_ERR_NOT_FOUND);
	assert_int_equal(cstore_epoch_has(cs, room, 2), CC_ERR_NOT_FOUND);
	/* The new tables work. */
	uint8_t ck[CSTORE_KEY_LEN];
	cs_secret(2103, ck);
	assert_int_equal(cstore_epoch_add(cs, room, 3, (const uint8_t(*)[CSTORE_FP_LEN])fp,
					  (const uint8_t(*)[CSTORE_KEY_LEN])ck, 1), CC_OK);
	cstore_close(cs);

	assert_int_equal(tmpdir_db_version_get(path), TEST_CSTORE_LATEST);
	cs_expect_rollback_journal(path);
	assert_false(cs_files_hold(path, s1));
	assert_false(cs_files_hold(path, s2));
	assert_true(cs_files_hold(path, ck));
}

/* Rows the schema's checks would refuse (a damaged disk, a hand-edited file)
 * read as CC_ERR_STORE, never as a short key or a number out of range, and
 * leave nothing behind. */
static void test_damaged_rows(void **state)
{
	struct fixture *f = *state;
	uint8_t room[CSTORE_ROOM_ID_LEN], senders[3][CSTORE_FP_LEN], keys[3][CSTORE_KEY_LEN];
	uint8_t pub[CSTORE_KEY_LEN], got[CSTORE_KEY_LEN];
	char sql[1024], b[2][72];
	cs_fill(160, room, sizeof room);
	for (uint8_t i = 0; i < 3; i++) {
		cs_fill((uint8_t)(161 + i), senders[i], sizeof senders[i]);
		cs_secret(2200u + i, keys[i]);
	}
	cs_secret(2210, pub);
	assert_int_equal(cstore_epoch_add(f->cs, room, 1, (const uint8_t(*)[CSTORE_FP_LEN])senders,
					  (const uint8_t(*)[CSTORE_KEY_LEN])keys, 3), CC_OK);
	for (uint32_t v = 1; v <= 3; v++) {
		struct cstore_recv_key k = cs_recv_key(v, 1000 * v, 2220 + v);
		assert_int_equal(cstore_recv_add(f->cs, &k), CC_OK);
	}
	assert_int_equal(cstore_recv_seen_put(f->cs, senders[0], 5, 10, pub), CC_OK);
	assert_int_equal(cstore_recv_seen_put(f->cs, senders[1], 6, 10, pub), CC_OK);
	cs_close(f);

	snprintf(sql, sizeof sql,
		 "PRAGMA ignore_check_constraints = ON;"
		 "UPDATE chains SET chain_key = x'0102' WHERE sender = %s;"
		 "UPDATE chains SET next_seq = 0 WHERE sender = %s;"
		 "UPDATE recv_keys SET priv = x'00' WHERE version = 1;"
		 "UPDATE recv_keys SET pub = zeroblob(33) WHERE version = 2;"
		 "UPDATE recv_keys SET created_ms = -5 WHERE version = 3;"
		 "UPDATE recv_seen SET version = 0 WHERE fingerprint = %s;"
		 "UPDATE recv_seen SET pub = x'' WHERE fingerprint = %s;",
		 cs_sql_blob(senders[0], CSTORE_FP_LEN, b[0], sizeof b[0]),
		 cs_sql_blob(senders[1], CSTORE_FP_LEN, b[1], sizeof b[1]), b[0], b[1]);
	cs_sql(f->tmp.path, sql);
	cs_open(f);

	/* A short chain key, a chain number 0. */
	uint64_t next = 99;
	memset(got, 0x5a, sizeof got);
	assert_int_equal(cstore_chain_get(f->cs, room, 1, senders[0], got, &next), CC_ERR_STORE);
	cs_expect_zero(got, sizeof got);
	assert_int_equal(next, 0);
	memset(got, 0x5a, sizeof got);
	next = 99;
	assert_int_equal(cstore_chain_get(f->cs, room, 1, senders[1], got, &next), CC_ERR_STORE);
	cs_expect_zero(got, sizeof got);
	assert_int_equal(next, 0);
	/* A count that would be negative. */
	uint64_t count = 99;
	assert_int_equal(cstore_epoch_messages(f->cs, room, 1, &count), CC_ERR_STORE);
	assert_int_equal(count, 0);
	/* The sound row still reads. */
	cs_chain_expect(f, room, 1, senders[2], keys[2], 1);

	/* Receiving keys: a short private part, a long public one, a negative
	 * time (the newest, so recv_current fails too). */
	for (uint32_t v = 1; v <= 3; v++) {
		struct cstore_recv_key k;
		memset(&k, 0x5a, sizeof k);
		assert_int_equal(cstore_recv_get(f->cs, v, &k), CC_ERR_STORE);
		cs_recv_expect_wiped(&k);
	}
	struct cstore_recv_key cur;
	memset(&cur, 0x5a, sizeof cur);
	assert_int_equal(cstore_recv_current(f->cs, &cur), CC_ERR_STORE);
	cs_recv_expect_wiped(&cur);

	/* The newest receiving key seen: version 0, an empty key. */
	uint32_t version = 99;
	uint64_t created = 99;
	for (int i = 0; i < 2; i++) {
		assert_int_equal(cstore_recv_seen_get(f->cs, senders[i], &version, &created, got),
				 CC_ERR_STORE);
		assert_int_equal(version, 0);
		assert_int_equal(created, 0);
	}
}

static void test_future_version_refused(void **state)
{
	struct fixture *f = *state;
	uint8_t room[CSTORE_ROOM_ID_LEN], fp[CSTORE_FP_LEN], key[CSTORE_KEY_LEN];
	cs_fill(27, room, sizeof room);
	cs_fill(29, fp, sizeof fp);
	cs_secret(28, key);
	cs_epoch_add1(f, room, 1, fp, key);
	cs_close(f);

	tmpdir_db_expect_no_wal(f->tmp.path);
	uint32_t latest = tmpdir_db_version_get(f->tmp.path);
	assert_int_equal(latest, TEST_CSTORE_LATEST);
	tmpdir_db_version_set(f->tmp.path, latest + 1);

	struct client_store *cs = (struct client_store *)&cs; /* must be reset to NULL */
	assert_int_equal(cstore_open(f->tmp.path, &cs), CC_ERR_VERSION);
	assert_null(cs);
	/* Negative versions are nobody's. */
	tmpdir_db_version_set(f->tmp.path, 0xffffffffu);
	assert_int_equal(cstore_open(f->tmp.path, &cs), CC_ERR_VERSION);
	assert_null(cs);

	/* Put it back: the data was not touched. */
	tmpdir_db_version_set(f->tmp.path, latest);
	cs_open(f);
	cs_chain_expect(f, room, 1, fp, key, 1);
}

static void test_not_a_database(void **state)
{
	struct fixture *f = *state;
	char path[160];
	tmpdir_file_junk(&f->tmp, "junk.db", path, sizeof path);
	struct client_store *cs = (struct client_store *)&cs;
	assert_int_equal(cstore_open(path, &cs), CC_ERR_STORE);
	assert_null(cs);

	/* A directory, a missing parent, no path at all. */
	assert_int_equal(cstore_open(f->tmp.dir, &cs), CC_ERR_STORE);
	assert_null(cs);
	snprintf(path, sizeof path, "%s/missing/x.db", f->tmp.dir);
	assert_int_equal(cstore_open(path, &cs), CC_ERR_STORE);
	assert_int_equal(cstore_open("", &cs), CC_ERR_USAGE);
	assert_int_equal(cstore_open(NULL, &cs), CC_ERR_USAGE);
	assert_null(cs);
	assert_int_equal(cstore_open(f->tmp.path, NULL), CC_ERR_INTERNAL);
}

static void test_in_memory(void **state)
{
	(void)state;
	struct client_store *cs = NULL;
	uint8_t room[CSTORE_ROOM_ID_LEN], fp[CSTORE_FP_LEN], key[CSTORE_KEY_LEN];
	uint8_t got[CSTORE_KEY_LEN];
	uint64_t next = 0;
	cs_fill(29, room, sizeof room);
	cs_fill(30, fp, sizeof fp);
	cs_secret(29, key);
	assert_int_equal(cstore_open(":memory:", &cs), CC_OK);
	assert_int_equal(cstore_epoch_add(cs, room, 0, (const uint8_t(*)[CSTORE_FP_LEN])fp,
					  (const uint8_t(*)[CSTORE_KEY_LEN])key, 1), CC_OK);
	assert_int_equal(cstore_chain_advance(cs, room, 0, fp, key, 2), CC_OK);
	assert_int_equal(cstore_chain_get(cs, room, 0, fp, got, &next), CC_OK);
	assert_int_equal(next, 2);
	struct cstore_recv_key k = cs_recv_key(1, 5, 31), cur;
	assert_int_equal(cstore_recv_add(cs, &k), CC_OK);
	assert_int_equal(cstore_recv_current(cs, &cur), CC_OK);
	assert_int_equal(cur.version, 1);
	cstore_close(cs);
}

static void test_bad_args(void **state)
{
	struct fixture *f = *state;
	uint8_t room[CSTORE_ROOM_ID_LEN], key[CSTORE_KEY_LEN], fp[CSTORE_FP_LEN];
	const uint8_t(*fps)[CSTORE_FP_LEN] = (const uint8_t(*)[CSTORE_FP_LEN])fp;
	const uint8_t(*keys)[CSTORE_KEY_LEN] = (const uint8_t(*)[CSTORE_KEY_LEN])key;
	uint64_t v;
	uint32_t version, deleted = 99;
	struct cstore_pin pin;
	struct cstore_room r = {0};
	struct cstore_recv_key rk = cs_recv_key(1, 1, 32);
	struct cstore_ratchet step = {.next_seq = 2};
	cs_fill(30, room, sizeof room);
	cs_secret(31, key);
	cs_fill(32, fp, sizeof fp);

	assert_int_equal(cstore_room_forget(f->cs, NULL), CC_ERR_INTERNAL);
	assert_int_equal(cstore_room_forget(NULL, room), CC_ERR_INTERNAL);
	assert_int_equal(cstore_seen_get(f->cs, room, NULL, 0, &v), CC_ERR_INTERNAL);
	assert_int_equal(cstore_seen_get(f->cs, room, fp, 0, NULL), CC_ERR_INTERNAL);
	assert_int_equal(cstore_message_handled(f->cs, NULL, fp, 0, 1, 1, 1, NULL),
			 CC_ERR_INTERNAL);
	assert_int_equal(cstore_message_handled(f->cs, room, NULL, 0, 1, 1, 1, &step),
			 CC_ERR_INTERNAL);
	assert_int_equal(cstore_message_handled(NULL, room, fp, 0, 1, 1, 1, NULL),
			 CC_ERR_INTERNAL);
	assert_int_equal(cstore_room_get(f->cs, NULL, &r), CC_ERR_INTERNAL);
	assert_int_equal(cstore_room_get(f->cs, room, NULL), CC_ERR_INTERNAL);
	assert_int_equal(cstore_room_put(f->cs, NULL, &r), CC_ERR_INTERNAL);
	assert_int_equal(cstore_room_put(f->cs, room, NULL), CC_ERR_INTERNAL);
	assert_int_equal(cstore_room_put(NULL, room, &r), CC_ERR_INTERNAL);
	assert_int_equal(cstore_room_last_id_put(f->cs, NULL, 1), CC_ERR_INTERNAL);
	assert_int_equal(cstore_sign_get(f->cs, NULL, &version, key), CC_ERR_INTERNAL);
	assert_int_equal(cstore_sign_get(f->cs, fp, NULL, key), CC_ERR_INTERNAL);
	assert_int_equal(cstore_sign_get(f->cs, fp, &version, NULL), CC_ERR_INTERNAL);
	assert_int_equal(cstore_sign_put(f->cs, NULL, 1, key), CC_ERR_INTERNAL);
	assert_int_equal(cstore_sign_put(f->cs, fp, 1, NULL), CC_ERR_INTERNAL);
	assert_int_equal(cstore_activity_get(f->cs, NULL, &v), CC_ERR_INTERNAL);
	assert_int_equal(cstore_activity_get(f->cs, fp, NULL), CC_ERR_INTERNAL);
	assert_int_equal(cstore_activity_put(f->cs, NULL, 1), CC_ERR_INTERNAL);
	assert_int_equal(cstore_activity_put(NULL, fp, 1), CC_ERR_INTERNAL);
	assert_int_equal(cstore_pin_get(f->cs, "gina", NULL), CC_ERR_INTERNAL);
	assert_int_equal(cstore_pin_put(f->cs, "gina", NULL, 0, 1), CC_ERR_INTERNAL);
	assert_int_equal(cstore_pin_put(NULL, "gina", fp, 0, 1), CC_ERR_INTERNAL);
	/* Receiving keys. */
	assert_int_equal(cstore_recv_add(NULL, &rk), CC_ERR_INTERNAL);
	assert_int_equal(cstore_recv_add(f->cs, NULL), CC_ERR_INTERNAL);
	assert_int_equal(cstore_recv_get(NULL, 1, &rk), CC_ERR_INTERNAL);
	assert_int_equal(cstore_recv_get(f->cs, 1, NULL), CC_ERR_INTERNAL);
	assert_int_equal(cstore_recv_current(NULL, &rk), CC_ERR_INTERNAL);
	assert_int_equal(cstore_recv_current(f->cs, NULL), CC_ERR_INTERNAL);
	assert_int_equal(cstore_recv_delete_retired(NULL, 1, &deleted), CC_ERR_INTERNAL);
	assert_int_equal(deleted, 0);
	assert_int_equal(cstore_recv_seen_get(NULL, fp, &version, &v, key), CC_ERR_INTERNAL);
	assert_int_equal(cstore_recv_seen_get(f->cs, NULL, &version, &v, key), CC_ERR_INTERNAL);
	assert_int_equal(cstore_recv_seen_get(f->cs, fp, NULL, &v, key), CC_ERR_INTERNAL);
	assert_int_equal(cstore_recv_seen_get(f->cs, fp, &version, NULL, key), CC_ERR_INTERNAL);
	assert_int_equal(cstore_recv_seen_get(f->cs, fp, &version, &v, NULL), CC_ERR_INTERNAL);
	assert_int_equal(cstore_recv_seen_put(NULL, fp, 1, 1, key), CC_ERR_INTERNAL);
	assert_int_equal(cstore_recv_seen_put(f->cs, NULL, 1, 1, key), CC_ERR_INTERNAL);
	assert_int_equal(cstore_recv_seen_put(f->cs, fp, 1, 1, NULL), CC_ERR_INTERNAL);
	/* Chains: a count without arrays is a bug. */
	assert_int_equal(cstore_epoch_add(NULL, room, 0, fps, keys, 1), CC_ERR_INTERNAL);
	assert_int_equal(cstore_epoch_add(f->cs, NULL, 0, fps, keys, 1), CC_ERR_INTERNAL);
	assert_int_equal(cstore_epoch_add(f->cs, room, 0, NULL, keys, 1), CC_ERR_INTERNAL);
	assert_int_equal(cstore_epoch_add(f->cs, room, 0, fps, NULL, 1), CC_ERR_INTERNAL);
	assert_int_equal(cstore_epoch_has(NULL, room, 0), CC_ERR_INTERNAL);
	assert_int_equal(cstore_epoch_has(f->cs, NULL, 0), CC_ERR_INTERNAL);
	assert_int_equal(cstore_epoch_messages(NULL, room, 0, &v), CC_ERR_INTERNAL);
	assert_int_equal(cstore_epoch_messages(f->cs, NULL, 0, &v), CC_ERR_INTERNAL);
	assert_int_equal(cstore_epoch_messages(f->cs, room, 0, NULL), CC_ERR_INTERNAL);
	assert_int_equal(cstore_chain_get(NULL, room, 0, fp, key, &v), CC_ERR_INTERNAL);
	assert_int_equal(cstore_chain_get(f->cs, NULL, 0, fp, key, &v), CC_ERR_INTERNAL);
	assert_int_equal(cstore_chain_get(f->cs, room, 0, NULL, key, &v), CC_ERR_INTERNAL);
	assert_int_equal(cstore_chain_get(f->cs, room, 0, fp, NULL, &v), CC_ERR_INTERNAL);
	assert_int_equal(cstore_chain_get(f->cs, room, 0, fp, key, NULL), CC_ERR_INTERNAL);
	assert_int_equal(cstore_chain_advance(NULL, room, 0, fp, key, 2), CC_ERR_INTERNAL);
	assert_int_equal(cstore_chain_advance(f->cs, NULL, 0, fp, key, 2), CC_ERR_INTERNAL);
	assert_int_equal(cstore_chain_advance(f->cs, room, 0, NULL, key, 2), CC_ERR_INTERNAL);
	assert_int_equal(cstore_chain_advance(f->cs, room, 0, fp, NULL, 2), CC_ERR_INTERNAL);
	assert_int_equal(cstore_epoch_forget(NULL, room, 0), CC_ERR_INTERNAL);
	assert_int_equal(cstore_epoch_forget(f->cs, NULL, 0), CC_ERR_INTERNAL);
	cstore_close(NULL);

	/* None of that wrote anything. */
	assert_int_equal(cstore_pin_get(f->cs, "gina", &pin), CC_ERR_NOT_FOUND);
	assert_int_equal(cstore_room_get(f->cs, room, &r), CC_ERR_NOT_FOUND);
	assert_int_equal(cstore_sign_get(f->cs, fp, &version, key), CC_ERR_NOT_FOUND);
	assert_int_equal(cs_seen_of(f, room, fp, 0), 0);
	assert_int_equal(cs_activity_of(f, fp), 0);
	assert_int_equal(cstore_recv_current(f->cs, &rk), CC_ERR_NOT_FOUND);
	assert_int_equal(cstore_recv_seen_get(f->cs, fp, &version, &v, key), CC_ERR_NOT_FOUND);
	assert_int_equal(cstore_epoch_has(f->cs, room, 0), CC_ERR_NOT_FOUND);
	cs_chain_expect_none(f, room, 0, fp);
}

int main(void)
{
	/* Several tests provoke errors on purpose; keep the output to those. */
	log_set_level(LOG_LEVEL_ERROR);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_upgrade_from_v1, cstore_setup, cstore_teardown),
		cmocka_unit_test_setup_teardown(test_upgrade_from_v2, cstore_setup, cstore_teardown),
		cmocka_unit_test_setup_teardown(test_damaged_rows, cstore_setup, cstore_teardown),
		cmocka_unit_test_setup_teardown(test_future_version_refused, cstore_setup, cstore_teardown),
		cmocka_unit_test_setup_teardown(test_not_a_database, cstore_setup, cstore_teardown),
		cmocka_unit_test(test_in_memory),
		cmocka_unit_test_setup_teardown(test_bad_args, cstore_setup, cstore_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
