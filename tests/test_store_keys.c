/* The server store's part in forward secrecy and in moving identity keys: receiving keys (versioned
 * like signing keys), wrapped room secrets that go once their member holds
 * the keys (KEYS_ACK) or once their epoch ended before the retention's
 * horizon, and deletion that is real: after store_checkpoint no byte of a
 * deleted wrapped secret is left in the database or its write-ahead log;
 * and a user's move to a new identity key, after which the old one is
 * revoked. */
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

struct fixture {
	struct tmpdir tmp;            /* first: see tmpdir_fixture_new */
	struct store *st;
};

static int setup(void **state)
{
	struct fixture *f = tmpdir_fixture_new(sizeof *f, "cc_test_store_keys", "server.db");
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

static int64_t user_make(struct fixture *f, const char *nick, uint8_t seed)
{
	uint8_t key[64], fp[STORE_FINGERPRINT_LEN];
	for (size_t i = 0; i < sizeof key; i++)
		key[i] = (uint8_t)(seed * 31 + i);
	for (size_t i = 0; i < sizeof fp; i++)
		fp[i] = (uint8_t)(seed ^ (i * 7));
	struct store_user u;
	assert_int_equal(store_user_register(f->st, nick, key, sizeof key, fp, 1, &u), CC_OK);
	int64_t id = u.id;
	store_user_clear(&u);
	return id;
}

static int64_t room_make(struct fixture *f, uint8_t seed, int64_t admin)
{
	uint8_t rid[STORE_ROOM_ID_LEN];
	int64_t id;
	for (size_t i = 0; i < sizeof rid; i++)
		rid[i] = (uint8_t)(seed + i * 13);
	assert_int_equal(store_room_create(f->st, rid, admin, 1000, &id), CC_OK);
	return id;
}

/* 84 bytes no other test value contains: a wrapped secret's size. */
static void wrapped_make(uint8_t tag, uint8_t out[84])
{
	for (size_t i = 0; i < 84; i++)
		out[i] = (uint8_t)(0xa5 ^ (tag * 17 + i * 29));
}

static int wrap_count(struct fixture *f, int64_t room, int64_t user)
{
	uint32_t n = 99;
	assert_int_equal(store_key_pending(f->st, room, user, &n), CC_OK);
	return (int)n;
}

/* ---- receiving keys ----------------------------------------------------------- */

static void test_receive_key_versions(void **state)
{
	struct fixture *f = *state;
	int64_t alice = user_make(f, "alice", 1);
	struct store_recv_key k;
	uint8_t pub1[32], pub2[32];
	memset(pub1, 0x11, sizeof pub1);
	memset(pub2, 0x22, sizeof pub2);

	assert_int_equal(store_user_get_receive_key(f->st, alice, &k), CC_ERR_NOT_FOUND);
	assert_int_equal(store_user_set_receive_key(f->st, alice, 1, 500, pub1,
						    (const uint8_t *)"cert-one", 8), CC_OK);
	assert_int_equal(store_user_get_receive_key(f->st, alice, &k), CC_OK);
	assert_int_equal(k.version, 1);
	assert_int_equal(k.created_ms, 500);
	assert_memory_equal(k.pub, pub1, 32);
	assert_int_equal(k.cert_len, 8);
	assert_memory_equal(k.cert, "cert-one", 8);
	store_recv_key_clear(&k);
	/* The same key again (a fresh certificate of it): fine. */
	assert_int_equal(store_user_set_receive_key(f->st, alice, 1, 500, pub1,
						    (const uint8_t *)"cert-two", 8), CC_OK);
	/* Another key under the same version, or an older version: refused. */
	assert_int_equal(store_user_set_receive_key(f->st, alice, 1, 600, pub2,
						    (const uint8_t *)"c", 1), CC_ERR_OUTDATED);
	assert_int_equal(store_user_set_receive_key(f->st, alice, 2, 700, pub2,
						    (const uint8_t *)"c2", 2), CC_OK);
	assert_int_equal(store_user_set_receive_key(f->st, alice, 1, 500, pub1,
						    (const uint8_t *)"cert-one", 8), CC_ERR_OUTDATED);
	assert_int_equal(store_user_get_receive_key(f->st, alice, &k), CC_OK);
	assert_int_equal(k.version, 2);
	assert_memory_equal(k.pub, pub2, 32);
	store_recv_key_clear(&k);
	/* Version 0, no certificate, no such user. */
	assert_int_equal(store_user_set_receive_key(f->st, alice, 0, 1, pub1,
						    (const uint8_t *)"c", 1), CC_ERR_MALFORMED);
	assert_int_not_equal(store_user_set_receive_key(f->st, alice, 3, 1, pub1, NULL, 0), CC_OK);
	assert_int_equal(store_user_set_receive_key(f->st, 9999, 5, 1, pub1,
						    (const uint8_t *)"c", 1), CC_ERR_NOT_FOUND);

	/* The directory entry carries it. */
	uint8_t fp[STORE_FINGERPRINT_LEN];
	for (size_t i = 0; i < sizeof fp; i++)
		fp[i] = (uint8_t)(1 ^ (i * 7));
	struct store_public_key pk;
	assert_int_equal(store_public_key_get(f->st, fp, &pk), CC_OK);
	assert_int_equal(pk.recv.version, 2);
	assert_int_equal(pk.recv.created_ms, 700);
	assert_memory_equal(pk.recv.pub, pub2, 32);
	assert_int_equal(pk.recv.cert_len, 2);
	store_public_key_clear(&pk);
}

/* ---- wrapped secrets ---------------------------------------------------------- */

static void test_keys_forget(void **state)
{
	struct fixture *f = *state;
	int64_t alice = user_make(f, "alice", 1), bob = user_make(f, "bob", 2);
	int64_t room = room_make(f, 1, alice), other = room_make(f, 2, alice);
	uint8_t w[84];
	for (uint32_t e = 0; e < 4; e++) {
		wrapped_make((uint8_t)e, w);
		assert_int_equal(store_key_put(f->st, room, e, alice, w, sizeof w), CC_OK);
		assert_int_equal(store_key_put(f->st, room, e, bob, w, sizeof w), CC_OK);
		assert_int_equal(store_key_put(f->st, other, e, bob, w, sizeof w), CC_OK);
	}
	assert_int_equal(wrap_count(f, room, bob), 4);
	/* bob holds the keys up to epoch 2: his copies of 0..2 go, nobody
	 * else's, no other room's. */
	assert_int_equal(store_key_forget(f->st, room, bob, 2), CC_OK);
	assert_int_equal(wrap_count(f, room, bob), 1);
	assert_int_equal(wrap_count(f, room, alice), 4);
	assert_int_equal(wrap_count(f, other, bob), 4);
	/* Again, or below: nothing more goes. */
	assert_int_equal(store_key_forget(f->st, room, bob, 1), CC_OK);
	assert_int_equal(wrap_count(f, room, bob), 1);
	assert_int_equal(store_key_forget(f->st, room, bob, UINT32_MAX), CC_OK);
	assert_int_equal(wrap_count(f, room, bob), 0);
	assert_int_equal(wrap_count(f, 9999, bob), 0);
}

static void test_keys_retention(void **state)
{
	struct fixture *f = *state;
	int64_t alice = user_make(f, "alice", 1), bob = user_make(f, "bob", 2);
	int64_t room = room_make(f, 1, alice);
	uint8_t w[84];
	/* Epochs 0..3 opened at 1000, 2000, 3000, 4000. */
	for (uint32_t e = 0; e < 4; e++) {
		wrapped_make((uint8_t)e, w);
		assert_int_equal(store_epoch_put(f->st, room, e, (const uint8_t *)"t", 1,
						 1000 * (e + 1)), CC_OK);
		assert_int_equal(store_key_put(f->st, room, e, alice, w, sizeof w), CC_OK);
		assert_int_equal(store_key_put(f->st, room, e, bob, w, sizeof w), CC_OK);
	}
	/* A second put of an epoch keeps when it opened. */
	assert_int_equal(store_epoch_put(f->st, room, 1, (const uint8_t *)"u", 1, 9999), CC_OK);
	uint64_t deleted = 99;
	assert_int_equal(store_key_prune_some(f->st, 0, 0, &deleted), CC_OK);
	assert_int_equal(deleted, 0);
	/* Horizon 2500: epoch 1 opened before it, so epoch 0 had ended. */
	assert_int_equal(store_key_prune_some(f->st, 2500, 0, &deleted), CC_OK);
	assert_int_equal(deleted, 2);
	assert_int_equal(wrap_count(f, room, alice), 3);
	/* Horizon 10000: every epoch but the current one (3) ended before it. */
	assert_int_equal(store_key_prune_some(f->st, 10000, 1, &deleted), CC_OK);
	assert_int_equal(deleted, 1);  /* a step of one */
	assert_int_equal(store_key_prune_some(f->st, 10000, 0, &deleted), CC_OK);
	assert_int_equal(deleted, 3);
	assert_int_equal(wrap_count(f, room, alice), 1);
	assert_int_equal(wrap_count(f, room, bob), 1);
}

/* 1 if the file at path holds the n bytes of needle. */
static int file_holds(const char *path, const uint8_t *needle, size_t n)
{
	FILE *fp = fopen(path, "rb");
	if (!fp)
		return 0;
	size_t cap = 1 << 20, len = 0, got;
	uint8_t *data = malloc(cap);
	assert_non_null(data);
	while ((got = fread(data + len, 1, cap - len, fp)) > 0) {
		len += got;
		if (len == cap) {
			cap *= 2;
			data = realloc(data, cap);
			assert_non_null(data);
		}
	}
	fclose(fp);
	int found = 0;
	for (size_t i = 0; !found && i + n <= len; i++)
		found = memcmp(data + i, needle, n) == 0;
	free(data);
	return found;
}

static void test_keys_deleted_for_real(void **state)
{
	struct fixture *f = *state;
	int64_t alice = user_make(f, "alice", 1);
	int64_t room = room_make(f, 1, alice);
	uint8_t w[84];
	char wal[300];
	snprintf(wal, sizeof wal, "%s-wal", f->tmp.path);
	wrapped_make(0x42, w);
	assert_int_equal(store_key_put(f->st, room, 0, alice, w, sizeof w), CC_OK);
	/* Stored: in the log, or the file once checkpointed (a control: the
	 * search finds it when it is there). */
	assert_true(file_holds(f->tmp.path, w, sizeof w) || file_holds(wal, w, sizeof w));
	assert_int_equal(store_key_forget(f->st, room, alice, 0), CC_OK);
	assert_int_equal(store_checkpoint(f->st), CC_OK);
	assert_false(file_holds(f->tmp.path, w, sizeof w));
	assert_false(file_holds(wal, w, sizeof w));
	/* The same after the retention's deletion. */
	wrapped_make(0x43, w);
	assert_int_equal(store_epoch_put(f->st, room, 0, (const uint8_t *)"t", 1, 1), CC_OK);
	assert_int_equal(store_epoch_put(f->st, room, 1, (const uint8_t *)"t", 1, 2), CC_OK);
	assert_int_equal(store_key_put(f->st, room, 0, alice, w, sizeof w), CC_OK);
	assert_int_equal(store_checkpoint(f->st), CC_OK);  /* nothing deleted: no-op */
	assert_true(file_holds(f->tmp.path, w, sizeof w) || file_holds(wal, w, sizeof w));
	uint64_t deleted = 0;
	assert_int_equal(store_key_prune_some(f->st, 100, 0, &deleted), CC_OK);
	assert_int_equal(deleted, 1);
	assert_int_equal(store_checkpoint(f->st), CC_OK);
	assert_false(file_holds(f->tmp.path, w, sizeof w));
	assert_false(file_holds(wal, w, sizeof w));
	/* Not inside a transaction. */
	assert_int_equal(store_begin(f->st), CC_OK);
	assert_int_equal(store_checkpoint(f->st), CC_ERR_STATE);
	assert_int_equal(store_commit(f->st), CC_OK);
}

/* A user moves to a new key: same user, nickname and rooms; the old key is
 * retired (what it signed still verifies), revoked (it never registers
 * again, under any nickname) and leads to the user; a new key that is
 * already known is refused and nothing changes. */
static void test_key_move(void **state)
{
	struct fixture *f = *state;
	uint8_t old_key[64], new_key[80], fp_old[STORE_FINGERPRINT_LEN], fp_new[STORE_FINGERPRINT_LEN];
	uint8_t succ[STORE_FINGERPRINT_LEN], sign_pub[STORE_SIGN_PUB_LEN] = {1, 2, 3}, cert[40] = {4};
	uint8_t recv_pub[32] = {5};
	struct store_user u;
	struct store_public_key pk;
	bool has = false;

	int64_t alice = user_make(f, "alice", 1);
	int64_t bob = user_make(f, "bob", 2);
	int64_t room = room_make(f, 9, alice);
	assert_int_equal(store_member_add(f->st, room, alice, 0, 0), CC_OK);
	assert_int_equal(store_user_get_by_id(f->st, alice, &u), CC_OK);
	memcpy(old_key, u.pubkey, sizeof old_key);
	memcpy(fp_old, u.fingerprint, sizeof fp_old);
	store_user_clear(&u);
	assert_int_equal(store_user_set_signing_key(f->st, alice, 1, sign_pub, cert, sizeof cert),
			 CC_OK);
	assert_int_equal(store_user_set_receive_key(f->st, alice, 3, 1000, recv_pub, cert,
						    sizeof cert), CC_OK);
	for (size_t i = 0; i < sizeof new_key; i++)
		new_key[i] = (uint8_t)(200 - i);
	memset(fp_new, 0x5a, sizeof fp_new);
	assert_int_equal(store_key_revoked(f->st, fp_old, succ, &has), CC_ERR_NOT_FOUND);

	/* bob's key, or alice's own, is not a new key. */
	assert_int_equal(store_user_get_by_id(f->st, bob, &u), CC_OK);
	assert_int_equal(store_user_move_key(f->st, alice, new_key, sizeof new_key, u.fingerprint,
					     50), CC_ERR_EXISTS);
	store_user_clear(&u);
	assert_int_equal(store_user_move_key(f->st, alice, new_key, sizeof new_key, fp_old, 50),
			 CC_ERR_EXISTS);
	assert_int_equal(store_user_move_key(f->st, 999, new_key, sizeof new_key, fp_new, 50),
			 CC_ERR_NOT_FOUND);
	assert_int_equal(store_user_get_by_key(f->st, fp_new, &u), CC_ERR_NOT_FOUND);

	assert_int_equal(store_user_move_key(f->st, alice, new_key, sizeof new_key, fp_new, 50),
			 CC_OK);
	/* The user, under the new key: same id, nickname and room. */
	assert_int_equal(store_user_get_by_fingerprint(f->st, fp_new, &u), CC_OK);
	assert_int_equal(u.id, alice);
	assert_string_equal(u.nick, "alice");
	assert_int_equal(u.pubkey_len, sizeof new_key);
	assert_memory_equal(u.pubkey, new_key, sizeof new_key);
	store_user_clear(&u);
	struct store_member m;
	assert_int_equal(store_member_get(f->st, room, alice, &m), CC_OK);
	/* Its signing and receiving keys went with the old key. */
	uint32_t version = 9;
	uint8_t got[STORE_SIGN_PUB_LEN];
	uint8_t *got_cert = NULL;
	size_t got_cert_len = 0;
	assert_int_equal(store_user_get_signing_key(f->st, alice, &version, got, &got_cert,
						    &got_cert_len), CC_ERR_NOT_FOUND);
	free(got_cert);
	struct store_recv_key rk;
	assert_int_equal(store_user_get_receive_key(f->st, alice, &rk), CC_ERR_NOT_FOUND);
	/* The old key: retired with what it had, revoked, leading to alice. */
	assert_int_equal(store_public_key_get(f->st, fp_old, &pk), CC_OK);
	assert_int_equal(pk.user_id, 0);
	assert_memory_equal(pk.pubkey, old_key, sizeof old_key);
	assert_memory_equal(pk.sign_pub, sign_pub, sizeof sign_pub);
	store_public_key_clear(&pk);
	assert_int_equal(store_key_revoked(f->st, fp_old, succ, &has), CC_OK);
	assert_true(has);
	assert_memory_equal(succ, fp_new, sizeof succ);
	assert_int_equal(store_user_get_by_key(f->st, fp_old, &u), CC_OK);
	assert_int_equal(u.id, alice);
	store_user_clear(&u);
	assert_int_equal(store_user_get_by_fingerprint(f->st, fp_old, &u), CC_ERR_NOT_FOUND);
	/* It never registers again, under its nickname or another. */
	assert_int_equal(store_user_register(f->st, "alice", old_key, sizeof old_key, fp_old, 60,
					     &u), CC_ERR_REVOKED);
	assert_int_equal(store_user_register(f->st, "mallory", old_key, sizeof old_key, fp_old, 60,
					     &u), CC_ERR_REVOKED);
	/* The new key registers as alice, and only as alice. */
	assert_int_equal(store_user_register(f->st, "ALICE", new_key, sizeof new_key, fp_new, 70,
					     &u), CC_OK);
	assert_int_equal(u.id, alice);
	store_user_clear(&u);
	/* A second move leads from the first key through both. */
	uint8_t fp_third[STORE_FINGERPRINT_LEN];
	memset(fp_third, 0x3c, sizeof fp_third);
	assert_int_equal(store_user_move_key(f->st, alice, new_key, 40, fp_third, 80), CC_OK);
	assert_int_equal(store_user_get_by_key(f->st, fp_old, &u), CC_OK);
	assert_int_equal(u.id, alice);
	store_user_clear(&u);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_receive_key_versions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_keys_forget, setup, teardown),
		cmocka_unit_test_setup_teardown(test_keys_retention, setup, teardown),
		cmocka_unit_test_setup_teardown(test_keys_deleted_for_real, setup, teardown),
		cmocka_unit_test_setup_teardown(test_key_move, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
