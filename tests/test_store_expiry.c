/* The store's room half, part three: nickname expiry (idle users, a member,
 * an admin, the last member expired out of their rooms), the users gone
 * and the new epochs their departure leaves owed. */
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

static size_t test_owed(struct fixture *f, int64_t admin, struct seen *s)
{
	memset(s, 0, sizeof *s);
	assert_int_equal(store_room_each_owed(f->st, admin, st_seen_member, s), CC_OK);
	return s->n;
}

static void test_fp(uint8_t seed, uint8_t fp[STORE_FINGERPRINT_LEN])
{
	uint8_t key[64];
	st_key(seed, key, fp);
}

static void test_idle_users(void **state)
{
	struct fixture *f = *state;
	int64_t alice = st_user(f, "Alice", 1);
	int64_t bob = st_user(f, "bob", 2);
	int64_t carol = st_user(f, "carol", 3);
	int64_t dave = st_user(f, "dave", 4);
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
	st_reopen(f);
	assert_int_equal(test_idle(f, 1000, &s), 1);
	assert_int_equal(s.id[0], carol);
}

static void test_expire_member(void **state)
{
	struct fixture *f = *state;
	int64_t alice = st_user(f, "alice", 1);
	int64_t bob = st_user(f, "Bob", 2);
	int64_t carol = st_user(f, "carol", 3);
	int64_t room = st_room(f, 1, alice);
	int64_t other = st_room(f, 2, carol);
	int64_t apart = st_room(f, 3, alice);
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
	assert_int_equal(st_append(f, room, bob, 1, 0xb0), 1);
	assert_int_equal(st_append(f, room, alice, 2, 0xa0), 2);

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
	assert_int_equal(st_members(f, room, &s), 2);
	assert_int_equal(s.a[0], alice);
	assert_int_equal(s.a[1], carol);
	assert_int_equal(st_keys(f, room, bob, 0, &s), 0);
	assert_int_equal(st_keys(f, room, alice, 0, &s), 1);

	/* Each of its rooms lists it as gone (nickname as registered) and owes
	 * a new epoch; the admins stay; a room it was not in is untouched. */
	uint8_t fp[STORE_FINGERPRINT_LEN];
	test_fp(2, fp);
	struct gone_seen g;
	assert_int_equal(st_gone(f, room, &g), 1);
	assert_memory_equal(g.fp[0], fp, sizeof fp);
	assert_string_equal(g.nick[0], "Bob");
	assert_int_equal(st_gone(f, other, &g), 1);
	assert_int_equal(st_gone(f, apart, &g), 0);
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
	assert_int_equal(st_messages(f, room, 0, 0, &s), 2);
	assert_int_equal(s.b[0], bob);
	assert_int_equal(s.first[0], 0xb0);

	/* The nickname is free for a new key (and a new id); the old key is
	 * free too, under any nickname. */
	uint8_t key[64], fp2[STORE_FINGERPRINT_LEN];
	st_key(9, key, fp2);
	assert_int_equal(store_user_register(f->st, "BOB", key, sizeof key, fp2, 5, &u), CC_OK);
	assert_true(u.id > carol);
	store_user_clear(&u);
	st_key(2, key, fp2);
	assert_int_equal(store_user_register(f->st, "bobby", key, sizeof key, fp2, 5, &u), CC_OK);
	int64_t bobby = u.id;
	store_user_clear(&u);

	/* Gone only once: no user, nothing changes. */
	assert_int_equal(store_user_expire(f->st, bob), CC_ERR_NOT_FOUND);
	assert_int_equal(store_user_expire(f->st, 0), CC_ERR_NOT_FOUND);
	assert_int_equal(store_user_expire(NULL, alice), CC_ERR_INTERNAL);
	assert_int_equal(st_gone(f, room, &g), 1);

	/* The same key back in the room and gone again: listed once, under its
	 * latest nickname. */
	assert_int_equal(store_member_add(f->st, room, bobby, 3, 1), CC_OK);
	assert_int_equal(store_user_expire(f->st, bobby), CC_OK);
	assert_int_equal(st_gone(f, room, &g), 1);
	assert_string_equal(g.nick[0], "bobby");

	st_reopen(f);
	assert_int_equal(st_gone(f, room, &g), 1);
	assert_memory_equal(g.fp[0], fp, sizeof fp);
	assert_string_equal(g.nick[0], "bobby");
	assert_int_equal(st_gone(f, other, &g), 1);
	assert_string_equal(g.nick[0], "Bob");
	assert_int_equal(store_room_get_by_id(f->st, room, &r), CC_OK);
	assert_true(r.rekey_owed);
	assert_int_equal(store_user_get_by_nick(f->st, "bob", &u), CC_OK);
	test_fp(9, fp2);
	assert_memory_equal(u.fingerprint, fp2, sizeof fp2);
	assert_true(u.id != bob);
	store_user_clear(&u);
	assert_int_equal(st_messages(f, room, 0, 0, &s), 2);
	assert_int_equal(s.b[0], bob);
}

static void test_expire_admin(void **state)
{
	struct fixture *f = *state;
	int64_t alice = st_user(f, "alice", 1);
	int64_t bob = st_user(f, "bob", 2);
	int64_t carol = st_user(f, "carol", 3);
	int64_t room = st_room(f, 1, alice);
	/* Joined in the order alice, carol, bob: carol is the earliest left,
	 * though bob has the lower user id. */
	assert_int_equal(store_member_add(f->st, room, alice, 1, 0), CC_OK);
	assert_int_equal(store_member_add(f->st, room, carol, 1, 0), CC_OK);
	assert_int_equal(store_member_add(f->st, room, bob, 1, 0), CC_OK);
	/* An admin that is no member (the server never makes one) hands over
	 * too, without a gone entry or a rekey: it had no key to revoke. */
	int64_t outside = st_room(f, 2, alice);
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
	assert_int_equal(st_gone(f, room, &g), 1);
	assert_string_equal(g.nick[0], "alice");
	assert_int_equal(st_gone(f, outside, &g), 0);

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
	st_reopen(f);
	assert_int_equal(store_room_get_by_id(f->st, room, &r), CC_OK);
	assert_int_equal(r.admin_user, bob);
	assert_int_equal(st_gone(f, room, &g), 2);
	assert_string_equal(g.nick[0], "alice");
	assert_string_equal(g.nick[1], "carol");
	assert_int_equal(test_owed(f, bob, &s), 1);
	assert_int_equal(s.b[0], room);
	assert_int_equal(st_members(f, room, &s), 1);
	assert_int_equal(s.a[0], bob);
}

static void test_expire_last_member(void **state)
{
	struct fixture *f = *state;
	int64_t alice = st_user(f, "alice", 1);
	int64_t bob = st_user(f, "bob", 2);
	int64_t room = st_room(f, 1, alice);
	uint8_t hash[STORE_HASH_LEN] = {1};
	assert_int_equal(store_member_add(f->st, room, alice, 1, 0), CC_OK);
	assert_int_equal(store_record_append(f->st, room, 0, (const uint8_t *)"r", 1, hash), CC_OK);
	assert_int_equal(store_epoch_put(f->st, room, 0, (const uint8_t *)"t", 1, 1000), CC_OK);
	assert_int_equal(store_key_put(f->st, room, 0, alice, (const uint8_t *)"k", 1), CC_OK);
	st_append(f, room, alice, 1, 1);
	/* A room whose only member goes goes too, even with an admin left. */
	int64_t other = st_room(f, 2, bob);
	assert_int_equal(store_member_add(f->st, other, alice, 1, 0), CC_OK);
	/* An admin's empty room goes with it. */
	int64_t empty = st_room(f, 3, alice);
	/* Bob's own room is left alone. */
	int64_t kept = st_room(f, 4, bob);
	assert_int_equal(store_member_add(f->st, kept, bob, 1, 0), CC_OK);

	assert_int_equal(store_user_expire(f->st, alice), CC_OK);
	st_reopen(f);
	struct store_room r;
	assert_int_equal(store_room_get_by_id(f->st, room, &r), CC_ERR_NOT_FOUND);
	assert_int_equal(store_room_get_by_id(f->st, other, &r), CC_ERR_NOT_FOUND);
	assert_int_equal(store_room_get_by_id(f->st, empty, &r), CC_ERR_NOT_FOUND);
	assert_int_equal(store_room_get_by_id(f->st, kept, &r), CC_OK);
	assert_false(r.rekey_owed);
	struct seen s;
	struct gone_seen g;
	assert_int_equal(st_messages(f, room, 0, 0, &s), 0);
	assert_int_equal(st_records(f, room, &s), 0);
	assert_int_equal(st_gone(f, room, &g), 0);
	assert_int_equal(st_gone(f, other, &g), 0);
	assert_int_equal(test_owed(f, bob, &s), 0);
	struct store_user u;
	assert_int_equal(store_user_get_by_id(f->st, bob, &u), CC_OK);
	store_user_clear(&u);
}

static void test_gone_remove(void **state)
{
	struct fixture *f = *state;
	int64_t alice = st_user(f, "alice", 1);
	int64_t bob = st_user(f, "bob", 2);
	int64_t carol = st_user(f, "carol", 3);
	int64_t room = st_room(f, 1, alice);
	int64_t other = st_room(f, 2, alice);
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
	assert_int_equal(st_gone(f, room, &g), 1);
	store_rollback(f->st);
	assert_int_equal(st_gone(f, room, &g), 2);
	assert_string_equal(g.nick[0], "bob");
	assert_string_equal(g.nick[1], "carol");

	/* Removed from this room only, once. */
	assert_int_equal(store_room_gone_remove(f->st, room, fp_bob), CC_OK);
	assert_int_equal(store_room_gone_remove(f->st, room, fp_bob), CC_ERR_NOT_FOUND);
	assert_int_equal(store_room_gone_remove(f->st, other + 1, fp_carol), CC_ERR_NOT_FOUND);
	assert_int_equal(store_room_gone_remove(f->st, room, NULL), CC_ERR_INTERNAL);
	assert_int_equal(store_room_gone_remove(NULL, room, fp_carol), CC_ERR_INTERNAL);
	assert_int_equal(store_room_gone_each(f->st, room, NULL, &g), CC_ERR_INTERNAL);
	assert_int_equal(store_room_gone_each(NULL, room, st_seen_gone, &g), CC_ERR_INTERNAL);
	st_reopen(f);
	assert_int_equal(st_gone(f, room, &g), 1);
	assert_memory_equal(g.fp[0], fp_carol, sizeof fp_carol);
	assert_int_equal(st_gone(f, other, &g), 2);
	assert_int_equal(st_gone(f, other + 1, &g), 0);
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
	int64_t alice = st_user(f, "alice", 1);
	int64_t bob = st_user(f, "bob", 2);
	int64_t carol = st_user(f, "carol", 3);
	int64_t dave = st_user(f, "dave", 4);
	int64_t erin = st_user(f, "erin", 5);
	int64_t rooms[4];
	for (int i = 0; i < 4; i++) {
		rooms[i] = st_room(f, (uint8_t)(i + 1), i == 3 ? bob : alice);
		assert_int_equal(store_member_add(f->st, rooms[i], alice, 1, (uint32_t)i), CC_OK);
		assert_int_equal(store_member_add(f->st, rooms[i], bob, 1, (uint32_t)(10 + i)),
				 CC_OK);
	}
	assert_int_equal(store_member_add(f->st, rooms[2], carol, 1, 0), CC_OK);
	assert_int_equal(store_member_add(f->st, rooms[3], carol, 1, 0), CC_OK);
	assert_int_equal(store_member_add(f->st, rooms[1], dave, 1, 7), CC_OK);
	/* The admin of a room it is no member of (the server never makes
	 * one) is not asked. */
	int64_t outside = st_room(f, 9, erin);
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
	st_reopen(f);
	assert_int_equal(test_owed(f, alice, &s), 3);

	/* Stopped early; misuse. */
	memset(&s, 0, sizeof s);
	s.stop_after = 1;
	s.stop_with = CC_ERR_NOT_FOUND;
	assert_int_equal(store_room_each_owed(f->st, alice, st_seen_member, &s), CC_ERR_NOT_FOUND);
	assert_int_equal(s.n, 1);
	assert_int_equal(store_room_each_owed(f->st, alice, NULL, &s), CC_ERR_INTERNAL);
	assert_int_equal(store_room_each_owed(NULL, alice, st_seen_member, &s), CC_ERR_INTERNAL);

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
	int64_t alice = st_user(f, "alice", 1);
	int64_t bob = st_user(f, "bob", 2);
	int64_t room = st_room(f, 1, alice);
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
	assert_int_equal(st_members(f, room, &s), 2);
	struct gone_seen g;
	assert_int_equal(st_gone(f, room, &g), 0);
	struct store_room r;
	assert_int_equal(store_room_get_by_id(f->st, room, &r), CC_OK);
	assert_false(r.rekey_owed);
	/* Outside one it works. */
	assert_int_equal(store_user_expire(f->st, bob), CC_OK);
	assert_int_equal(st_members(f, room, &s), 1);
}

int main(void)
{
	/* Several tests provoke errors on purpose; keep the output to those. */
	log_set_level(LOG_LEVEL_ERROR);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_idle_users, store_setup, store_teardown),
		cmocka_unit_test_setup_teardown(test_expire_member, store_setup, store_teardown),
		cmocka_unit_test_setup_teardown(test_expire_admin, store_setup, store_teardown),
		cmocka_unit_test_setup_teardown(test_expire_last_member, store_setup, store_teardown),
		cmocka_unit_test_setup_teardown(test_gone_remove, store_setup, store_teardown),
		cmocka_unit_test_setup_teardown(test_each_owed, store_setup, store_teardown),
		cmocka_unit_test_setup_teardown(test_expire_in_transaction, store_setup, store_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
