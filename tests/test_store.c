/* The store: schema, the four registration cases, lookups, persistence across
 * a restart, and refusal of bad input and of files from a newer version. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"
#include "support/tmpdir.h"
#include "util/log.h"

struct fixture {
	struct tmpdir tmp;            /* first: see tmpdir_fixture_new */
	struct store *st;
};

/* A fake key and fingerprint derived from a seed: the store neither parses
 * keys nor hashes them, it only binds bytes. */
static void test_key_make(uint8_t seed, uint8_t *key, size_t key_len,
			  uint8_t fp[STORE_FINGERPRINT_LEN])
{
	for (size_t i = 0; i < key_len; i++)
		key[i] = (uint8_t)(seed * 31 + i);
	for (size_t i = 0; i < STORE_FINGERPRINT_LEN; i++)
		fp[i] = (uint8_t)(seed ^ (i * 7));
}

static int setup(void **state)
{
	struct fixture *f = tmpdir_fixture_new(sizeof *f, "cc_test_store", "server.db");
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
	assert_non_null(f->st);
}

static void test_schema_version(void **state)
{
	struct fixture *f = *state;
	assert_true(store_schema_latest() >= 1);
	assert_int_equal(store_schema_version(f->st), store_schema_latest());
	test_reopen(f);
	assert_int_equal(store_schema_version(f->st), store_schema_latest());
}

static void test_file_mode(void **state)
{
	struct fixture *f = *state;
	uint8_t key[64], fp[STORE_FINGERPRINT_LEN];
	struct store_user u;
	test_key_make(1, key, sizeof key, fp);
	/* A write, so the -wal file exists too. */
	assert_int_equal(store_user_register(f->st, "alice", key, sizeof key, fp, 100, &u), CC_OK);
	store_user_clear(&u);
	tmpdir_db_expect_private(f->tmp.path);
}

static void test_file_mode_tightened(void **state)
{
	struct fixture *f = *state;
	char path[160];
	tmpdir_file_loose(&f->tmp, "loose.db", path, sizeof path);

	struct store *st = NULL;
	assert_int_equal(store_open(path, &st), CC_OK);
	tmpdir_expect_mode(path, 0600);
	store_close(st);
}

static void test_register_new(void **state)
{
	struct fixture *f = *state;
	uint8_t key[300], fp[STORE_FINGERPRINT_LEN];
	struct store_user u;
	test_key_make(2, key, sizeof key, fp);
	assert_int_equal(store_user_register(f->st, "Alice", key, sizeof key, fp, 1000, &u), CC_OK);
	assert_true(u.id > 0);
	assert_string_equal(u.nick, "Alice");
	assert_memory_equal(u.fingerprint, fp, sizeof fp);
	assert_int_equal(u.pubkey_len, sizeof key);
	assert_memory_equal(u.pubkey, key, sizeof key);
	assert_int_equal(u.created_s, 1000);
	assert_int_equal(u.last_seen_s, 1000);
	store_user_clear(&u);
	assert_null(u.pubkey);
	assert_int_equal(u.pubkey_len, 0);
	assert_int_equal(u.id, 0);
}

static void test_register_same_key_again(void **state)
{
	struct fixture *f = *state;
	uint8_t key[300], fp[STORE_FINGERPRINT_LEN];
	struct store_user u, v;
	test_key_make(3, key, sizeof key, fp);
	assert_int_equal(store_user_register(f->st, "Alice", key, sizeof key, fp, 1000, &u), CC_OK);
	/* Any case of the nickname gets it back, as first registered. */
	assert_int_equal(store_user_register(f->st, "aLICE", key, sizeof key, fp, 2000, &v), CC_OK);
	assert_int_equal(v.id, u.id);
	assert_string_equal(v.nick, "Alice");
	assert_int_equal(v.created_s, 1000);
	assert_int_equal(v.last_seen_s, 2000);
	assert_memory_equal(v.pubkey, key, sizeof key);
	store_user_clear(&v);
	assert_int_equal(store_user_get_by_id(f->st, u.id, &v), CC_OK);
	assert_int_equal(v.last_seen_s, 2000);
	store_user_clear(&v);
	store_user_clear(&u);
}

/* Inside the caller's transaction (the server's group commit): it goes with
 * it, rolled back or committed, and a failure does not undo the caller's
 * other work. */
static void test_register_in_caller_txn(void **state)
{
	struct fixture *f = *state;
	uint8_t key[300], fp[STORE_FINGERPRINT_LEN], key2[300], fp2[STORE_FINGERPRINT_LEN];
	struct store_user u, v;
	test_key_make(4, key, sizeof key, fp);
	test_key_make(5, key2, sizeof key2, fp2);
	assert_int_equal(store_user_register(f->st, "Alice", key, sizeof key, fp, 1000, &u), CC_OK);

	assert_int_equal(store_begin(f->st), CC_OK);
	assert_int_equal(store_user_register(f->st, "alice", key, sizeof key, fp, 2000, &v), CC_OK);
	store_user_clear(&v);
	assert_int_equal(store_user_register(f->st, "bob", key2, sizeof key2, fp2, 2000, &v), CC_OK);
	store_user_clear(&v);
	store_rollback(f->st);
	assert_int_equal(store_user_get_by_id(f->st, u.id, &v), CC_OK);
	assert_int_equal(v.last_seen_s, 1000);
	store_user_clear(&v);
	assert_int_equal(store_user_get_by_nick(f->st, "bob", &v), CC_ERR_NOT_FOUND);

	assert_int_equal(store_begin(f->st), CC_OK);
	assert_int_equal(store_user_register(f->st, "alice", key, sizeof key, fp, 3000, &v), CC_OK);
	store_user_clear(&v);
	/* A refusal (her nickname, another key) leaves the visit in place. */
	assert_int_equal(store_user_register(f->st, "alice", key2, sizeof key2, fp2, 3000, &v),
			 CC_ERR_NICK_TAKEN);
	store_user_clear(&v);
	assert_int_equal(store_commit(f->st), CC_OK);
	assert_int_equal(store_user_get_by_id(f->st, u.id, &v), CC_OK);
	assert_int_equal(v.last_seen_s, 3000);
	store_user_clear(&v);
	store_user_clear(&u);
}

static void test_register_nick_taken(void **state)
{
	struct fixture *f = *state;
	uint8_t k1[100], k2[100], fp1[STORE_FINGERPRINT_LEN], fp2[STORE_FINGERPRINT_LEN];
	struct store_user u;
	test_key_make(4, k1, sizeof k1, fp1);
	test_key_make(5, k2, sizeof k2, fp2);
	assert_int_equal(store_user_register(f->st, "Alice", k1, sizeof k1, fp1, 10, &u), CC_OK);
	store_user_clear(&u);
	assert_int_equal(store_user_register(f->st, "alice", k2, sizeof k2, fp2, 20, &u),
			 CC_ERR_NICK_TAKEN);
	assert_null(u.pubkey);
	assert_string_equal(u.nick, "");
	assert_int_equal(store_user_register(f->st, "Alice", k2, sizeof k2, fp2, 20, &u),
			 CC_ERR_NICK_TAKEN);
	/* Nothing was written for the second key. */
	assert_int_equal(store_user_get_by_fingerprint(f->st, fp2, &u), CC_ERR_NOT_FOUND);
	/* And the owner's last_seen did not move. */
	assert_int_equal(store_user_get_by_nick(f->st, "ALICE", &u), CC_OK);
	assert_memory_equal(u.fingerprint, fp1, sizeof fp1);
	assert_int_equal(u.last_seen_s, 10);
	store_user_clear(&u);
}

static void test_register_key_exists(void **state)
{
	struct fixture *f = *state;
	uint8_t k1[100], k2[100], fp1[STORE_FINGERPRINT_LEN], fp2[STORE_FINGERPRINT_LEN];
	struct store_user u, a;
	test_key_make(6, k1, sizeof k1, fp1);
	test_key_make(7, k2, sizeof k2, fp2);
	assert_int_equal(store_user_register(f->st, "Alice", k1, sizeof k1, fp1, 10, &a), CC_OK);
	assert_int_equal(store_user_register(f->st, "bob", k2, sizeof k2, fp2, 10, &u), CC_OK);
	store_user_clear(&u);

	assert_int_equal(store_user_register(f->st, "carol", k1, sizeof k1, fp1, 30, &u),
			 CC_ERR_EXISTS);
	assert_string_equal(u.nick, "Alice");
	assert_int_equal(u.id, a.id);
	assert_memory_equal(u.pubkey, k1, sizeof k1);
	store_user_clear(&u);
	assert_int_equal(store_user_get_by_nick(f->st, "carol", &u), CC_ERR_NOT_FOUND);

	/* A known key asking for a nickname someone else owns learns its own. */
	assert_int_equal(store_user_register(f->st, "bob", k1, sizeof k1, fp1, 30, &u),
			 CC_ERR_EXISTS);
	assert_string_equal(u.nick, "Alice");
	store_user_clear(&u);
	store_user_clear(&a);
}

static void test_register_fingerprint_key_mismatch(void **state)
{
	struct fixture *f = *state;
	uint8_t k1[100], k2[100], fp[STORE_FINGERPRINT_LEN], unused[STORE_FINGERPRINT_LEN];
	struct store_user u;
	test_key_make(8, k1, sizeof k1, fp);
	test_key_make(9, k2, sizeof k2, unused);
	assert_int_equal(store_user_register(f->st, "dave", k1, sizeof k1, fp, 10, &u), CC_OK);
	store_user_clear(&u);
	/* Never hand out a stored key for a fingerprint of other bytes. */
	assert_int_equal(store_user_register(f->st, "dave", k2, sizeof k2, fp, 20, &u),
			 CC_ERR_INTERNAL);
	assert_null(u.pubkey);
	assert_int_equal(store_user_register(f->st, "dave", k1, sizeof k1 - 1, fp, 20, &u),
			 CC_ERR_INTERNAL);
	assert_null(u.pubkey);
}

static void test_get(void **state)
{
	struct fixture *f = *state;
	uint8_t key[50], fp[STORE_FINGERPRINT_LEN], other[STORE_FINGERPRINT_LEN];
	struct store_user u, g;
	test_key_make(10, key, sizeof key, fp);
	memset(other, 0xee, sizeof other);
	assert_int_equal(store_user_register(f->st, "Eve_1.x-y", key, sizeof key, fp, 5, &u), CC_OK);

	assert_int_equal(store_user_get_by_nick(f->st, "eve_1.X-Y", &g), CC_OK);
	assert_int_equal(g.id, u.id);
	assert_string_equal(g.nick, "Eve_1.x-y");
	assert_memory_equal(g.pubkey, key, sizeof key);
	store_user_clear(&g);

	assert_int_equal(store_user_get_by_fingerprint(f->st, fp, &g), CC_OK);
	assert_int_equal(g.id, u.id);
	assert_string_equal(g.nick, "Eve_1.x-y");
	store_user_clear(&g);

	assert_int_equal(store_user_get_by_id(f->st, u.id, &g), CC_OK);
	assert_string_equal(g.nick, "Eve_1.x-y");
	assert_memory_equal(g.fingerprint, fp, sizeof fp);
	assert_int_equal(g.pubkey_len, sizeof key);
	assert_int_equal(g.created_s, 5);
	store_user_clear(&g);

	assert_int_equal(store_user_get_by_nick(f->st, "nobody", &g), CC_ERR_NOT_FOUND);
	assert_null(g.pubkey);
	assert_int_equal(store_user_get_by_fingerprint(f->st, other, &g), CC_ERR_NOT_FOUND);
	assert_int_equal(store_user_get_by_id(f->st, u.id + 1000, &g), CC_ERR_NOT_FOUND);
	assert_int_equal(store_user_get_by_id(f->st, -1, &g), CC_ERR_NOT_FOUND);
	assert_int_equal(store_user_get_by_id(f->st, INT64_MAX, &g), CC_ERR_NOT_FOUND);
	store_user_clear(&u);
}

static void test_touch(void **state)
{
	struct fixture *f = *state;
	uint8_t key[50], fp[STORE_FINGERPRINT_LEN];
	struct store_user u;
	test_key_make(11, key, sizeof key, fp);
	assert_int_equal(store_user_register(f->st, "frank", key, sizeof key, fp, 100, &u), CC_OK);
	int64_t id = u.id;
	store_user_clear(&u);

	assert_int_equal(store_user_touch(f->st, id, 5000), CC_OK);
	assert_int_equal(store_user_get_by_id(f->st, id, &u), CC_OK);
	assert_int_equal(u.last_seen_s, 5000);
	assert_int_equal(u.created_s, 100);
	store_user_clear(&u);

	assert_int_equal(store_user_touch(f->st, id + 1, 5000), CC_ERR_NOT_FOUND);
	assert_int_equal(store_user_touch(f->st, id, UINT64_MAX), CC_ERR_MALFORMED);
	assert_int_equal(store_user_touch(NULL, id, 1), CC_ERR_INTERNAL);
}

static void test_persist(void **state)
{
	struct fixture *f = *state;
	uint8_t k1[64], k2[64], fp1[STORE_FINGERPRINT_LEN], fp2[STORE_FINGERPRINT_LEN];
	struct store_user u1, u2, g;
	test_key_make(12, k1, sizeof k1, fp1);
	test_key_make(13, k2, sizeof k2, fp2);
	assert_int_equal(store_user_register(f->st, "Grace", k1, sizeof k1, fp1, 7, &u1), CC_OK);
	assert_int_equal(store_user_register(f->st, "heidi", k2, sizeof k2, fp2, 8, &u2), CC_OK);
	assert_int_equal(store_user_touch(f->st, u2.id, 9), CC_OK);

	test_reopen(f);
	assert_int_equal(store_user_get_by_nick(f->st, "grace", &g), CC_OK);
	assert_int_equal(g.id, u1.id);
	assert_string_equal(g.nick, "Grace");
	assert_memory_equal(g.pubkey, k1, sizeof k1);
	assert_memory_equal(g.fingerprint, fp1, sizeof fp1);
	store_user_clear(&g);
	assert_int_equal(store_user_get_by_fingerprint(f->st, fp2, &g), CC_OK);
	assert_int_equal(g.id, u2.id);
	assert_int_equal(g.last_seen_s, 9);
	store_user_clear(&g);
	/* The uniqueness survives too. */
	assert_int_equal(store_user_register(f->st, "GRACE", k2, sizeof k2, fp2, 10, &g),
			 CC_ERR_EXISTS);
	assert_string_equal(g.nick, "heidi");
	store_user_clear(&g);
	store_user_clear(&u1);
	store_user_clear(&u2);
}

static void test_ids_distinct(void **state)
{
	struct fixture *f = *state;
	int64_t ids[100];
	for (int i = 0; i < 100; i++) {
		uint8_t key[40], fp[STORE_FINGERPRINT_LEN];
		char nick[16];
		struct store_user u;
		test_key_make((uint8_t)(100 + i), key, sizeof key, fp);
		snprintf(nick, sizeof nick, "user%d", i);
		assert_int_equal(store_user_register(f->st, nick, key, sizeof key, fp, 1, &u), CC_OK);
		ids[i] = u.id;
		for (int j = 0; j < i; j++)
			assert_true(ids[j] != ids[i]);
		store_user_clear(&u);
	}
}

static void test_future_version_refused(void **state)
{
	struct fixture *f = *state;
	uint8_t key[40], fp[STORE_FINGERPRINT_LEN];
	struct store_user u;
	test_key_make(14, key, sizeof key, fp);
	assert_int_equal(store_user_register(f->st, "ivan", key, sizeof key, fp, 1, &u), CC_OK);
	store_user_clear(&u);
	store_close(f->st);
	f->st = NULL;

	tmpdir_db_expect_no_wal(f->tmp.path);
	tmpdir_db_version_set(f->tmp.path, (uint32_t)store_schema_latest() + 1);

	struct store *st = (struct store *)&st; /* must be reset to NULL */
	assert_int_equal(store_open(f->tmp.path, &st), CC_ERR_VERSION);
	assert_null(st);
	/* Negative versions are nobody's. */
	tmpdir_db_version_set(f->tmp.path, 0xffffffffu);
	assert_int_equal(store_open(f->tmp.path, &st), CC_ERR_VERSION);
	assert_null(st);

	/* Put it back: the data was not touched. */
	tmpdir_db_version_set(f->tmp.path, (uint32_t)store_schema_latest());
	assert_int_equal(store_open(f->tmp.path, &f->st), CC_OK);
	assert_int_equal(store_user_get_by_nick(f->st, "ivan", &u), CC_OK);
	store_user_clear(&u);
}

static void test_not_a_database(void **state)
{
	struct fixture *f = *state;
	char path[160];
	tmpdir_file_junk(&f->tmp, "junk.db", path, sizeof path);
	struct store *st = (struct store *)&st;
	assert_int_equal(store_open(path, &st), CC_ERR_STORE);
	assert_null(st);

	/* A directory, a missing parent, no path at all. */
	assert_int_equal(store_open(f->tmp.dir, &st), CC_ERR_STORE);
	assert_null(st);
	snprintf(path, sizeof path, "%s/missing/x.db", f->tmp.dir);
	assert_int_equal(store_open(path, &st), CC_ERR_STORE);
	assert_int_equal(store_open("", &st), CC_ERR_USAGE);
	assert_int_equal(store_open(NULL, &st), CC_ERR_USAGE);
	assert_null(st);
	assert_int_equal(store_open(f->tmp.path, NULL), CC_ERR_INTERNAL);
}

static void test_bad_nick(void **state)
{
	struct fixture *f = *state;
	uint8_t key[40], fp[STORE_FINGERPRINT_LEN];
	struct store_user u;
	test_key_make(15, key, sizeof key, fp);
	char long_nick[STORE_NICK_MAX + 2];
	memset(long_nick, 'a', sizeof long_nick - 1);
	long_nick[sizeof long_nick - 1] = '\0';
	const char *bad[] = {"", long_nick, "a b", "caf\xc3\xa9", "a\n", "a/b", "a\x7f",
			     "%s%n", "a'; DROP TABLE users; --", "\xff"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		assert_int_equal(store_user_register(f->st, bad[i], key, sizeof key, fp, 1, &u),
				 CC_ERR_BAD_NICK);
		assert_null(u.pubkey);
		assert_int_equal(store_user_get_by_nick(f->st, bad[i], &u), CC_ERR_BAD_NICK);
	}
	assert_int_equal(store_user_register(f->st, NULL, key, sizeof key, fp, 1, &u),
			 CC_ERR_BAD_NICK);
	assert_int_equal(store_user_get_by_nick(f->st, NULL, &u), CC_ERR_BAD_NICK);
	assert_int_equal(store_user_get_by_fingerprint(f->st, fp, &u), CC_ERR_NOT_FOUND);

	/* Exactly STORE_NICK_MAX is fine. */
	long_nick[STORE_NICK_MAX] = '\0';
	assert_int_equal(store_user_register(f->st, long_nick, key, sizeof key, fp, 1, &u), CC_OK);
	assert_string_equal(u.nick, long_nick);
	store_user_clear(&u);
}

static void test_bad_input(void **state)
{
	struct fixture *f = *state;
	uint8_t key[STORE_PUBKEY_MAX + 1], fp[STORE_FINGERPRINT_LEN];
	struct store_user u;
	test_key_make(16, key, sizeof key, fp);
	assert_int_equal(store_user_register(f->st, "judy", key, 0, fp, 1, &u), CC_ERR_MALFORMED);
	assert_int_equal(store_user_register(f->st, "judy", NULL, 10, fp, 1, &u), CC_ERR_INTERNAL);
	assert_int_equal(store_user_register(f->st, "judy", key, sizeof key, fp, 1, &u),
			 CC_ERR_TOO_LARGE);
	assert_int_equal(store_user_register(f->st, "judy", key, 10, NULL, 1, &u), CC_ERR_INTERNAL);
	assert_int_equal(store_user_register(f->st, "judy", key, 10, fp, (uint64_t)INT64_MAX + 1, &u),
			 CC_ERR_MALFORMED);
	assert_int_equal(store_user_register(NULL, "judy", key, 10, fp, 1, &u), CC_ERR_INTERNAL);
	assert_int_equal(store_user_register(f->st, "judy", key, 10, fp, 1, NULL), CC_ERR_INTERNAL);
	assert_int_equal(store_user_get_by_nick(NULL, "judy", &u), CC_ERR_INTERNAL);
	assert_int_equal(store_user_get_by_nick(f->st, "judy", NULL), CC_ERR_INTERNAL);
	assert_int_equal(store_user_get_by_fingerprint(f->st, NULL, &u), CC_ERR_INTERNAL);
	assert_int_equal(store_user_get_by_id(NULL, 1, &u), CC_ERR_INTERNAL);
	assert_int_equal(store_schema_version(NULL), -1);
	store_close(NULL);
	store_user_clear(NULL);
	/* None of that wrote anything. */
	assert_int_equal(store_user_get_by_nick(f->st, "judy", &u), CC_ERR_NOT_FOUND);

	/* The largest key and the largest time are fine. */
	assert_int_equal(store_user_register(f->st, "judy", key, STORE_PUBKEY_MAX, fp,
					     (uint64_t)INT64_MAX, &u), CC_OK);
	store_user_clear(&u);
	assert_int_equal(store_user_get_by_fingerprint(f->st, fp, &u), CC_OK);
	assert_int_equal(u.pubkey_len, STORE_PUBKEY_MAX);
	assert_memory_equal(u.pubkey, key, STORE_PUBKEY_MAX);
	assert_int_equal(u.last_seen_s, (uint64_t)INT64_MAX);
	store_user_clear(&u);
}

int main(void)
{
	/* Several tests provoke errors on purpose; keep the output to those. */
	log_set_level(LOG_LEVEL_ERROR);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_schema_version, setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_mode, setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_mode_tightened, setup, teardown),
		cmocka_unit_test_setup_teardown(test_register_new, setup, teardown),
		cmocka_unit_test_setup_teardown(test_register_same_key_again, setup, teardown),
		cmocka_unit_test_setup_teardown(test_register_in_caller_txn, setup, teardown),
		cmocka_unit_test_setup_teardown(test_register_nick_taken, setup, teardown),
		cmocka_unit_test_setup_teardown(test_register_key_exists, setup, teardown),
		cmocka_unit_test_setup_teardown(test_register_fingerprint_key_mismatch, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_get, setup, teardown),
		cmocka_unit_test_setup_teardown(test_touch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_persist, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ids_distinct, setup, teardown),
		cmocka_unit_test_setup_teardown(test_future_version_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_a_database, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_nick, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_input, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
