/* The store's room half, part four: transactions (commit, rollback,
 * misuse, answers sent inside one), and everything across a restart, with
 * retired public keys. */
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
#include "support/store_fixture.h"
#include "support/tmpdir.h"
#include "util/log.h"

/* ---- Transactions -------------------------------------------------------------- */

static void test_transaction_commit_rollback(void **state)
{
	struct fixture *f = *state;
	int64_t alice = st_user(f, "alice", 1);
	uint8_t rid[STORE_ROOM_ID_LEN], rec[10] = {1}, hash[STORE_HASH_LEN] = {9};
	st_room_id(7, rid);
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
	assert_int_equal(st_members(f, room, &s), 0);
	assert_int_equal(st_records(f, room, &s), 0);
	assert_int_equal(st_messages(f, room, 0, 0, &s), 0);

	/* Committed: all of it survives a restart. */
	assert_int_equal(store_begin(f->st), CC_OK);
	assert_int_equal(store_room_create(f->st, rid, alice, 1, &room), CC_OK);
	assert_int_equal(store_member_add(f->st, room, alice, 1, 0), CC_OK);
	assert_int_equal(store_record_append(f->st, room, 0, rec, sizeof rec, hash), CC_OK);
	for (int i = 0; i < 100; i++)
		assert_int_equal(st_append(f, room, alice, 10 + (uint64_t)i, (uint8_t)i), i + 1);
	assert_int_equal(store_commit(f->st), CC_OK);
	st_reopen(f);
	assert_int_equal(store_room_get(f->st, rid, &r), CC_OK);
	assert_int_equal(r.last_msg_id, 100);
	assert_int_equal(r.record_count, 1);
	assert_int_equal(st_members(f, room, &s), 1);
	assert_int_equal(st_messages(f, room, 0, 50, &s), 50);
	assert_int_equal(s.a[49], 50);
	uint32_t n;
	assert_int_equal(store_message_count_after(f->st, room, 0, &n), CC_OK);
	assert_int_equal(n, 100);
}

static void test_transaction_misuse(void **state)
{
	struct fixture *f = *state;
	int64_t alice = st_user(f, "alice", 1);
	assert_int_equal(store_commit(f->st), CC_ERR_STATE);
	store_rollback(f->st);                /* harmless without one */
	assert_int_equal(store_begin(f->st), CC_OK);
	assert_int_equal(store_begin(f->st), CC_ERR_STATE);

	/* Registration inside one goes with it (test_store.c has more), and
	 * the caller's own work is not disturbed. */
	uint8_t key[8] = {1}, fp[STORE_FINGERPRINT_LEN] = {2};
	struct store_user u;
	int64_t room = st_room(f, 3, alice);
	assert_int_equal(store_user_register(f->st, "bob", key, sizeof key, fp, 1, &u), CC_OK);
	store_user_clear(&u);
	assert_int_equal(store_commit(f->st), CC_OK);
	assert_int_equal(store_commit(f->st), CC_ERR_STATE);
	struct store_room r;
	assert_int_equal(store_room_get_by_id(f->st, room, &r), CC_OK);
	assert_int_equal(store_user_register(f->st, "bob", key, sizeof key, fp, 1, &u), CC_OK);
	store_user_clear(&u);

	/* Closing with one open rolls it back. */
	assert_int_equal(store_begin(f->st), CC_OK);
	int64_t gone = st_room(f, 4, alice);
	st_reopen(f);
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
	int64_t alice = st_user(f, "alice", 1);
	int64_t room = st_room(f, 1, alice);
	uint8_t rid[STORE_ROOM_ID_LEN], rec[4] = {1}, hash[STORE_HASH_LEN] = {0};
	st_room_id(1, rid);
	assert_int_equal(store_begin(f->st), CC_OK);
	assert_int_equal(store_member_add(f->st, room, alice, 1, 0), CC_OK);
	assert_int_equal(store_room_create(f->st, rid, alice, 1, NULL), CC_ERR_EXISTS);
	assert_int_equal(store_member_add(f->st, room, alice, 1, 0), CC_ERR_EXISTS);
	assert_int_equal(store_member_add(f->st, room + 1, alice, 1, 0), CC_ERR_NOT_FOUND);
	assert_int_equal(store_record_append(f->st, room, 3, rec, sizeof rec, hash), CC_ERR_STATE);
	assert_int_equal(store_message_append(f->st, room + 1, alice, 0, 1, 1, rec, sizeof rec,
					      NULL), CC_ERR_NOT_FOUND);
	assert_int_equal(st_append(f, room, alice, 1, 1), 1);
	assert_int_equal(store_commit(f->st), CC_OK);
	struct store_member m;
	assert_int_equal(store_member_get(f->st, room, alice, &m), CC_OK);
	uint32_t n;
	assert_int_equal(store_message_count_after(f->st, room, 0, &n), CC_OK);
	assert_int_equal(n, 1);
}

/* ---- Everything across a restart ---------------------------------------------------- */

static void test_persist_all(void **state)
{
	struct fixture *f = *state;
	int64_t alice = st_user(f, "alice", 1);
	int64_t bob = st_user(f, "bob", 2);
	uint8_t rid[STORE_ROOM_ID_LEN], hash[STORE_HASH_LEN], pub[STORE_SIGN_PUB_LEN];
	st_room_id(5, rid);
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
	st_append(f, room, alice, 1, 1);
	st_append(f, room, bob, 2, 2);
	assert_int_equal(store_member_set_read(f->st, room, bob, 2), CC_OK);
	assert_int_equal(store_commit(f->st), CC_OK);

	st_reopen(f);
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
	assert_int_equal(st_members(f, room, &s), 2);
	assert_int_equal(s.a[0], alice);
	assert_int_equal(st_records(f, room, &s), 1);
	assert_int_equal(s.first[0], 'r');
	assert_int_equal(st_keys(f, room, bob, 1, &s), 1);
	assert_int_equal(st_messages(f, room, 0, 0, &s), 2);
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
	assert_int_equal(st_append(f, room, alice, 3, 3), 3);
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
	int64_t bob = st_user(f, "Bob", 9);
	st_key(9, key, fp);
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
	int64_t bob2 = st_user(f, "bob", 10);
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
		cmocka_unit_test_setup_teardown(test_transaction_commit_rollback, store_setup, store_teardown),
		cmocka_unit_test_setup_teardown(test_transaction_misuse, store_setup, store_teardown),
		cmocka_unit_test_setup_teardown(test_transaction_survives_answers, store_setup, store_teardown),
		cmocka_unit_test_setup_teardown(test_persist_all, store_setup, store_teardown),
		cmocka_unit_test_setup_teardown(test_public_key_retired, store_setup, store_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
