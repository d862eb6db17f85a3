/* The store's room half (schema versions 2 to 7), part one: versioned signing
 * keys, rooms (closed epochs), members, membership records and their positions among the
 * messages, keys and epochs. Part two (messages): messages, replays,
 * retention, deleting a room; three (expiry): nickname expiry and the new
 * epochs it leaves owed; four (txn): transactions and
 * persistence; five (upgrade): the schema and the upgrades of version-1
 * and version-4 (protocol 1) files. */
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

/* ---- Signing keys -------------------------------------------------------------- */

static void test_signing_key(void **state)
{
	struct fixture *f = *state;
	int64_t alice = st_user(f, "alice", 1);
	int64_t bob = st_user(f, "bob", 2);
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
	st_reopen(f);
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
	int64_t alice = st_user(f, "alice", 1);
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
	st_reopen(f);
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
	int64_t bob = st_user(f, "bob", 2);
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
	st_key(2, key, fp);
	assert_int_equal(store_public_key_get(f->st, fp, &k), CC_OK);
	assert_int_equal(k.sign_version, 3);
	assert_memory_equal(k.sign_pub, key7, sizeof key7);
	store_public_key_clear(&k);
	/* And 0 for a user with none. */
	int64_t carol = st_user(f, "carol", 3);
	assert_true(carol > 0);
	st_key(3, key, fp);
	assert_int_equal(store_public_key_get(f->st, fp, &k), CC_OK);
	assert_int_equal(k.sign_version, 0);
	assert_int_equal(k.sign_cert_len, 0);
	store_public_key_clear(&k);
}

/* ---- Rooms ------------------------------------------------------------------ */

static void test_room_create_get(void **state)
{
	struct fixture *f = *state;
	int64_t alice = st_user(f, "alice", 1);
	int64_t bob = st_user(f, "bob", 2);
	uint8_t rid[STORE_ROOM_ID_LEN], other[STORE_ROOM_ID_LEN], zero[STORE_HASH_LEN] = {0};
	st_room_id(1, rid);
	st_room_id(2, other);
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
	int64_t alice = st_user(f, "alice", 1);
	int64_t bob = st_user(f, "bob", 2);
	int64_t room = st_room(f, 1, alice);
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
	assert_int_equal(store_member_each_room_of(NULL, alice, st_seen_member, NULL),
			 CC_ERR_INTERNAL);
}

/* The server's read marks (server/reads.c): forward only, never past the
 * room's last message, and nothing for someone who is not a member. */
static void test_member_advance_read(void **state)
{
	struct fixture *f = *state;
	int64_t alice = st_user(f, "alice", 1);
	int64_t bob = st_user(f, "bob", 2);
	int64_t room = st_room(f, 1, alice);
	struct store_member m;

	assert_int_equal(store_member_add(f->st, room, alice, 1, 0), CC_OK);
	assert_int_equal(store_member_add(f->st, room, bob, 1, 0), CC_OK);
	for (int i = 0; i < 5; i++)
		st_append(f, room, alice, 1000 + (uint64_t)i, (uint8_t)i);
	assert_int_equal(store_member_advance_read(f->st, room, bob, 3), CC_OK);
	assert_int_equal(store_member_get(f->st, room, bob, &m), CC_OK);
	assert_int_equal(m.last_read_msg_id, 3);
	assert_int_equal(store_member_advance_read(f->st, room, bob, 2), CC_OK);
	assert_int_equal(store_member_get(f->st, room, bob, &m), CC_OK);
	assert_int_equal(m.last_read_msg_id, 3);  /* never back */
	assert_int_equal(store_member_advance_read(f->st, room, bob, 99), CC_OK);
	assert_int_equal(store_member_get(f->st, room, bob, &m), CC_OK);
	assert_int_equal(m.last_read_msg_id, 5);  /* the room's last message */
	assert_int_equal(store_member_get(f->st, room, alice, &m), CC_OK);
	assert_int_equal(m.last_read_msg_id, 0);  /* only bob's own row */
	assert_int_equal(store_member_advance_read(f->st, room, bob, -1), CC_ERR_MALFORMED);

	assert_int_equal(store_member_remove(f->st, room, bob), CC_OK);
	assert_int_equal(store_member_advance_read(f->st, room, bob, 4), CC_OK);
	assert_int_equal(store_member_get(f->st, room, bob, &m), CC_ERR_NOT_FOUND);
	assert_int_equal(store_member_advance_read(NULL, room, bob, 4), CC_ERR_INTERNAL);
}

/* What the server's copies of rooms rest on (server/room_seen.c): every
 * change to a room or a membership changes the version; a message or a
 * read mark does not. */
static void test_rooms_version(void **state)
{
	struct fixture *f = *state;
	int64_t alice = st_user(f, "alice", 1);
	int64_t bob = st_user(f, "bob", 2);
	int64_t room = st_room(f, 1, alice);
	uint64_t v;

	assert_int_equal(store_member_add(f->st, room, alice, 1, 0), CC_OK);
	v = store_rooms_version(f->st);
	assert_int_equal(store_member_add(f->st, room, bob, 1, 0), CC_OK);
	assert_true(store_rooms_version(f->st) != v);
	v = store_rooms_version(f->st);
	st_append(f, room, alice, 1000, 1);
	assert_int_equal(store_member_advance_read(f->st, room, bob, 1), CC_OK);
	assert_int_equal(store_member_set_read(f->st, room, bob, 1), CC_OK);
	assert_true(store_rooms_version(f->st) == v);  /* the hot path: unchanged */
	assert_int_equal(store_room_set_epoch(f->st, room, 2), CC_OK);
	assert_true(store_rooms_version(f->st) != v);
	v = store_rooms_version(f->st);
	assert_int_equal(store_room_set_closed(f->st, room, true), CC_OK);
	assert_true(store_rooms_version(f->st) != v);
	v = store_rooms_version(f->st);
	assert_int_equal(store_member_remove(f->st, room, bob), CC_OK);
	assert_true(store_rooms_version(f->st) != v);
	v = store_rooms_version(f->st);
	/* Even a write that is rolled back. */
	assert_int_equal(store_begin(f->st), CC_OK);
	assert_int_equal(store_room_set_admin(f->st, room, alice), CC_OK);
	store_rollback(f->st);
	assert_true(store_rooms_version(f->st) != v);
	v = store_rooms_version(f->st);
	assert_int_equal(store_room_delete(f->st, room), CC_OK);
	assert_true(store_rooms_version(f->st) != v);
	assert_true(store_rooms_version(NULL) == 0);
}

static void test_member_each_order(void **state)
{
	struct fixture *f = *state;
	int64_t u[5];
	char nick[8];
	for (int i = 0; i < 5; i++) {
		snprintf(nick, sizeof nick, "u%d", i);
		u[i] = st_user(f, nick, (uint8_t)(10 + i));
	}
	int64_t room = st_room(f, 1, u[0]);
	int64_t other = st_room(f, 2, u[0]);
	/* Join order differs from user id order. */
	const int order[5] = {3, 0, 4, 1, 2};
	for (int i = 0; i < 5; i++)
		assert_int_equal(store_member_add(f->st, room, u[order[i]], 1, (uint32_t)i), CC_OK);
	assert_int_equal(store_member_add(f->st, other, u[2], 1, 0), CC_OK);

	struct seen s;
	assert_int_equal(st_members(f, room, &s), 5);
	for (int i = 0; i < 5; i++) {
		assert_int_equal(s.a[i], u[order[i]]);
		assert_int_equal(s.b[i], room);
		assert_int_equal(s.epoch[i], (uint32_t)i);
	}
	/* Leaving and coming back puts one at the end. */
	assert_int_equal(store_member_remove(f->st, room, u[0]), CC_OK);
	assert_int_equal(store_member_add(f->st, room, u[0], 1, 9), CC_OK);
	assert_int_equal(st_members(f, room, &s), 5);
	assert_int_equal(s.a[0], u[3]);
	assert_int_equal(s.a[1], u[4]);
	assert_int_equal(s.a[4], u[0]);
	/* The order survives a restart. */
	st_reopen(f);
	assert_int_equal(st_members(f, room, &s), 5);
	assert_int_equal(s.a[4], u[0]);
	assert_int_equal(st_members(f, room + 100, &s), 0);

	/* Stopping: the callback's own cc_err comes back, anything else is a bug. */
	memset(&s, 0, sizeof s);
	s.stop_after = 2;
	s.stop_with = CC_ERR_LIMIT;
	assert_int_equal(store_member_each(f->st, room, st_seen_member, &s), CC_ERR_LIMIT);
	assert_int_equal(s.n, 2);
	memset(&s, 0, sizeof s);
	s.stop_after = 1;
	s.stop_with = -1;
	assert_int_equal(store_member_each(f->st, room, st_seen_member, &s), CC_ERR_INTERNAL);
	assert_int_equal(s.n, 1);
	memset(&s, 0, sizeof s);
	s.stop_after = 1;
	s.stop_with = CC_ERR_COUNT_;
	assert_int_equal(store_member_each(f->st, room, st_seen_member, &s), CC_ERR_INTERNAL);
	/* And the statement was left ready: the next walk is complete. */
	assert_int_equal(st_members(f, room, &s), 5);
}

static void test_member_each_room_of(void **state)
{
	struct fixture *f = *state;
	int64_t alice = st_user(f, "alice", 1);
	int64_t bob = st_user(f, "bob", 2);
	int64_t r[4];
	for (int i = 0; i < 4; i++)
		r[i] = st_room(f, (uint8_t)(i + 1), alice);
	/* Joined in another order than the rooms were made. */
	assert_int_equal(store_member_add(f->st, r[3], bob, 4, 1), CC_OK);
	assert_int_equal(store_member_add(f->st, r[0], bob, 2, 2), CC_OK);
	assert_int_equal(store_member_add(f->st, r[2], bob, 3, 3), CC_OK);
	assert_int_equal(store_member_add(f->st, r[1], alice, 1, 0), CC_OK);

	struct seen s = {0};
	assert_int_equal(store_member_each_room_of(f->st, bob, st_seen_member, &s), CC_OK);
	assert_int_equal(s.n, 3);
	assert_int_equal(s.b[0], r[0]);
	assert_int_equal(s.b[1], r[2]);
	assert_int_equal(s.b[2], r[3]);
	assert_int_equal(s.a[0], bob);
	assert_int_equal(s.epoch[2], 1);
	memset(&s, 0, sizeof s);
	assert_int_equal(store_member_each_room_of(f->st, alice, st_seen_member, &s), CC_OK);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.b[0], r[1]);
	memset(&s, 0, sizeof s);
	assert_int_equal(store_member_each_room_of(f->st, bob + 10, st_seen_member, &s), CC_OK);
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
	assert_int_equal(store_member_each_room_of(r->st, m->user, st_seen_member, &s), CC_OK);
	r->inner = store_member_each(r->st, m->room, reenter_member, r);
	return 0;
}

static void test_walk_reentry(void **state)
{
	struct fixture *f = *state;
	int64_t alice = st_user(f, "alice", 1);
	int64_t bob = st_user(f, "bob", 2);
	int64_t room = st_room(f, 1, alice);
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
	int64_t alice = st_user(f, "alice", 1);
	int64_t room = st_room(f, 1, alice);
	int64_t other = st_room(f, 2, alice);
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
	assert_int_equal(st_records(f, room, &s), 3);
	for (uint32_t i = 0; i < 3; i++) {
		assert_int_equal(s.a[i], i);
		assert_int_equal(s.first[i], 0x10 + i);
		assert_int_equal(s.len[i], 100 + i);
	}
	assert_int_equal(st_records(f, other, &s), 1);
	assert_int_equal(s.len[0], 1);
	assert_int_equal(st_records(f, room + 9, &s), 0);
	memset(&s, 0, sizeof s);
	s.stop_after = 1;
	s.stop_with = CC_ERR_AUTH;
	assert_int_equal(store_record_each(f->st, room, 0, st_seen_record, &s), CC_ERR_AUTH);
	assert_int_equal(s.n, 1);

	/* Outside a transaction each append is atomic on its own: persisted. */
	st_reopen(f);
	assert_int_equal(st_records(f, room, &s), 3);
	assert_int_equal(store_room_get_by_id(f->st, room, &r), CC_OK);
	assert_int_equal(r.record_count, 3);
	assert_int_equal(r.last_record_hash[31], 0xa2);
	/* A walk from a seq on (a state streamed in steps): the rest, in order. */
	memset(&s, 0, sizeof s);
	assert_int_equal(store_record_each(f->st, room, 1, st_seen_record, &s), CC_OK);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.a[0], 1);
	assert_int_equal(s.a[1], 2);
	memset(&s, 0, sizeof s);
	assert_int_equal(store_record_each(f->st, room, 3, st_seen_record, &s), CC_OK);
	assert_int_equal(s.n, 0);
	assert_int_equal(store_record_each(f->st, room, 0, NULL, NULL), CC_ERR_INTERNAL);
}

static void test_records_large(void **state)
{
	struct fixture *f = *state;
	int64_t alice = st_user(f, "alice", 1);
	int64_t room = st_room(f, 1, alice);
	uint8_t hash[STORE_HASH_LEN] = {0};
	uint8_t *big = malloc(STORE_BLOB_MAX);
	assert_non_null(big);
	memset(big, 0x7e, STORE_BLOB_MAX);
	assert_int_equal(store_record_append(f->st, room, 0, big, STORE_BLOB_MAX, hash), CC_OK);
	free(big);
	struct seen s;
	assert_int_equal(st_records(f, room, &s), 1);
	assert_int_equal(s.len[0], STORE_BLOB_MAX);
	assert_int_equal(s.first[0], 0x7e);
}

/* A record keeps its place among the messages: the room's last message id
 * when it was appended, so a member fetching the room knows which messages
 * came before which change. */
static void test_record_positions(void **state)
{
	struct fixture *f = *state;
	int64_t alice = st_user(f, "alice", 1);
	int64_t room = st_room(f, 1, alice);
	int64_t other = st_room(f, 2, alice);
	uint8_t hash[STORE_HASH_LEN] = {7};
	struct seen s;

	/* Before any message: position 0. */
	assert_int_equal(store_record_append(f->st, room, 0, (const uint8_t *)"r0", 2, hash),
			 CC_OK);
	/* Three messages, then a record: position 3; another at once: 3 too. */
	for (int i = 0; i < 3; i++)
		st_append(f, room, alice, 10, 1);
	assert_int_equal(store_record_append(f->st, room, 1, (const uint8_t *)"r1", 2, hash),
			 CC_OK);
	assert_int_equal(store_record_append(f->st, room, 2, (const uint8_t *)"r2", 2, hash),
			 CC_OK);
	/* Messages of another room do not move this room's positions. */
	for (int i = 0; i < 5; i++)
		st_append(f, other, alice, 10, 1);
	assert_int_equal(store_record_append(f->st, other, 0, (const uint8_t *)"o0", 2, hash),
			 CC_OK);
	st_append(f, room, alice, 10, 1);
	st_append(f, room, alice, 10, 1);
	assert_int_equal(store_record_append(f->st, room, 3, (const uint8_t *)"r3", 2, hash),
			 CC_OK);

	assert_int_equal(st_records(f, room, &s), 4);
	static const uint64_t want[4] = {0, 3, 3, 5};
	for (uint32_t i = 0; i < 4; i++) {
		assert_int_equal(s.a[i], i);
		assert_int_equal(s.seq[i], want[i]);
	}
	assert_int_equal(st_records(f, other, &s), 1);
	assert_int_equal(s.seq[0], 5);

	/* Pruned messages do not move a position (ids are never reused), and
	 * a record appended inside a transaction after messages of the same
	 * transaction sees them. */
	uint64_t deleted;
	assert_int_equal(store_message_prune(f->st, (uint64_t)INT64_MAX, 0, &deleted), CC_OK);
	assert_int_equal(deleted, 10);
	assert_int_equal(store_begin(f->st), CC_OK);
	st_append(f, room, alice, 10, 1);
	assert_int_equal(store_record_append(f->st, room, 4, (const uint8_t *)"r4", 2, hash),
			 CC_OK);
	assert_int_equal(store_commit(f->st), CC_OK);
	st_reopen(f);
	assert_int_equal(st_records(f, room, &s), 5);
	assert_int_equal(s.seq[3], 5);
	assert_int_equal(s.seq[4], 6);
	assert_int_equal(s.first[4], 'r');
}

/* ---- Keys and epochs -------------------------------------------------------------- */

static void test_keys_and_epochs(void **state)
{
	struct fixture *f = *state;
	int64_t alice = st_user(f, "alice", 1);
	int64_t bob = st_user(f, "bob", 2);
	int64_t room = st_room(f, 1, alice);
	int64_t other = st_room(f, 2, alice);
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
	assert_int_equal(st_keys(f, room, alice, 0, &s), 4);
	const uint32_t want[4] = {0, 1, 2, 7};
	for (int i = 0; i < 4; i++)
		assert_int_equal(s.a[i], want[i]);
	assert_int_equal(s.first[2], 0xcc);
	assert_int_equal(s.len[2], 200);
	assert_int_equal(s.first[3], 7);
	assert_int_equal(s.len[3], sizeof w);
	assert_int_equal(st_keys(f, room, alice, 2, &s), 2);
	assert_int_equal(s.a[0], 2);
	assert_int_equal(s.a[1], 7);
	assert_int_equal(st_keys(f, room, alice, 8, &s), 0);
	assert_int_equal(st_keys(f, room, alice, UINT32_MAX, &s), 0);
	assert_int_equal(st_keys(f, room, bob, 0, &s), 1);
	assert_int_equal(s.a[0], 1);
	assert_int_equal(s.len[0], 10);
	assert_int_equal(st_keys(f, other, alice, 0, &s), 1);
	assert_int_equal(s.len[0], 11);
	assert_int_equal(st_keys(f, other, bob, 0, &s), 0);

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

	st_reopen(f);
	assert_int_equal(st_keys(f, room, alice, 1, &s), 3);
	assert_int_equal(store_epoch_get(f->st, room, 1, &t, &len), CC_OK);
	assert_memory_equal(t, "one", 3);
	free(t);
}

int main(void)
{
	/* Several tests provoke errors on purpose; keep the output to those. */
	log_set_level(LOG_LEVEL_ERROR);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_signing_key, store_setup, store_teardown),
		cmocka_unit_test_setup_teardown(test_signing_key_versions, store_setup, store_teardown),
		cmocka_unit_test_setup_teardown(test_room_create_get, store_setup, store_teardown),
		cmocka_unit_test_setup_teardown(test_members_basic, store_setup, store_teardown),
		cmocka_unit_test_setup_teardown(test_member_advance_read, store_setup, store_teardown),
		cmocka_unit_test_setup_teardown(test_rooms_version, store_setup, store_teardown),
		cmocka_unit_test_setup_teardown(test_member_each_order, store_setup, store_teardown),
		cmocka_unit_test_setup_teardown(test_member_each_room_of, store_setup, store_teardown),
		cmocka_unit_test_setup_teardown(test_walk_reentry, store_setup, store_teardown),
		cmocka_unit_test_setup_teardown(test_records_chain, store_setup, store_teardown),
		cmocka_unit_test_setup_teardown(test_records_large, store_setup, store_teardown),
		cmocka_unit_test_setup_teardown(test_record_positions, store_setup, store_teardown),
		cmocka_unit_test_setup_teardown(test_keys_and_epochs, store_setup, store_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
