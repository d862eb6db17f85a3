/* The store's room half, part two: message ids and walks, messages refused
 * when replayed, finding a message, closed rooms, retention (prune), and a
 * room's deletion with everything that hangs on it. */
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

/* ---- Messages ------------------------------------------------------------------ */

static void test_messages_ids_and_walks(void **state)
{
	struct fixture *f = *state;
	int64_t alice = st_user(f, "alice", 1);
	int64_t bob = st_user(f, "bob", 2);
	int64_t r1 = st_room(f, 1, alice);
	int64_t r2 = st_room(f, 2, alice);

	/* Interleaved: each room counts from 1 on its own. */
	for (int i = 0; i < 10; i++) {
		assert_int_equal(st_append(f, r1, i % 2 ? bob : alice, 100 + (uint64_t)i,
					     (uint8_t)i), i + 1);
		if (i < 4)
			assert_int_equal(st_append(f, r2, bob, 500, 0xf0), i + 1);
	}
	struct store_room r;
	assert_int_equal(store_room_get_by_id(f->st, r1, &r), CC_OK);
	assert_int_equal(r.last_msg_id, 10);
	assert_int_equal(store_room_get_by_id(f->st, r2, &r), CC_OK);
	assert_int_equal(r.last_msg_id, 4);

	struct seen s;
	assert_int_equal(st_messages(f, r1, 0, 0, &s), 10);
	for (int i = 0; i < 10; i++) {
		assert_int_equal(s.a[i], i + 1);
		assert_int_equal(s.b[i], i % 2 ? bob : alice);
		assert_int_equal(s.first[i], i);
		assert_int_equal(s.len[i], 40);
		assert_int_equal(s.ts[i], 100 + i);
		assert_int_equal(s.epoch[i], 3);
		/* Each keeps its sender's number (st_append counts them). */
		if (i)
			assert_true(s.seq[i] > s.seq[i - 1]);
	}
	assert_int_equal(st_messages(f, r1, 7, 0, &s), 3);
	assert_int_equal(s.a[0], 8);
	assert_int_equal(st_messages(f, r1, 2, 3, &s), 3);
	assert_int_equal(s.a[0], 3);
	assert_int_equal(s.a[2], 5);
	assert_int_equal(st_messages(f, r1, 10, 0, &s), 0);
	assert_int_equal(st_messages(f, r1, -5, 1, &s), 1);
	assert_int_equal(s.a[0], 1);
	assert_int_equal(st_messages(f, r2, 0, 100, &s), 4);
	assert_int_equal(s.first[3], 0xf0);
	assert_int_equal(st_messages(f, r2 + 9, 0, 0, &s), 0);
	memset(&s, 0, sizeof s);
	s.stop_after = 2;
	s.stop_with = CC_ERR_CLOSED;
	assert_int_equal(store_message_each(f->st, r1, 0, 0, st_seen_message, &s), CC_ERR_CLOSED);
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
	assert_int_equal(st_messages(f, r2, 4, 0, &s), 1);
	assert_int_equal(s.b[0], 424242);
	assert_int_equal(s.epoch[0], UINT32_MAX);
	assert_int_equal(s.seq[0], (uint64_t)INT64_MAX);
	assert_int_equal(s.ts[0], (uint64_t)INT64_MAX);
	assert_int_equal(s.len[0], STORE_BLOB_MAX);

	assert_int_equal(store_message_each(f->st, r1, 0, 0, NULL, NULL), CC_ERR_INTERNAL);
	assert_int_equal(store_message_count_after(f->st, r1, 0, NULL), CC_ERR_INTERNAL);

	st_reopen(f);
	assert_int_equal(st_messages(f, r1, 0, 0, &s), 10);
	assert_int_equal(st_append(f, r1, alice, 1, 0), 11);
	assert_int_equal(st_append(f, r2, alice, 1, 0), 6);
}

/* A message is (room, sender, epoch, seq) once: a copy replayed to the
 * server is refused with nothing stored and no id used. */
static void test_message_replay(void **state)
{
	struct fixture *f = *state;
	int64_t alice = st_user(f, "alice", 1);
	int64_t bob = st_user(f, "bob", 2);
	int64_t room = st_room(f, 1, alice);
	int64_t other = st_room(f, 2, alice);
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
	assert_int_equal(st_messages(f, room, 0, 0, &s), 1);
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
	st_reopen(f);
	assert_int_equal(store_room_get_by_id(f->st, room, &r), CC_OK);
	assert_int_equal(r.last_msg_id, 6);
	assert_int_equal(st_messages(f, room, 4, 0, &s), 2);
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
	int64_t alice = st_user(f, "alice", 1);
	int64_t bob = st_user(f, "bob", 2);
	int64_t room = st_room(f, 1, alice);
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
	st_reopen(f);
	assert_int_equal(store_message_find(f->st, room, alice, 4, 2, b2, sizeof b2, &found, &ts),
			 CC_OK);
	assert_int_equal(found, 2);
}

/* A closed epoch (a member left: nobody may send until a new one opens) is
 * a flag of its own, beside rekey_owed. */
static void test_room_closed(void **state)
{
	struct fixture *f = *state;
	int64_t alice = st_user(f, "alice", 1);
	int64_t room = st_room(f, 1, alice);
	int64_t other = st_room(f, 2, alice);
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
	st_reopen(f);
	assert_int_equal(store_room_get_by_id(f->st, room, &r), CC_OK);
	assert_true(r.closed);
	assert_int_equal(store_room_set_closed(f->st, room, false), CC_OK);
	uint8_t rid[STORE_ROOM_ID_LEN];
	st_room_id(1, rid);
	assert_int_equal(store_room_get(f->st, rid, &r), CC_OK);
	assert_false(r.closed);
	assert_int_equal(store_room_set_closed(f->st, other + 5, false), CC_ERR_NOT_FOUND);
}

static void test_prune(void **state)
{
	struct fixture *f = *state;
	int64_t alice = st_user(f, "alice", 1);
	int64_t r1 = st_room(f, 1, alice);
	int64_t r2 = st_room(f, 2, alice);
	int64_t r3 = st_room(f, 3, alice);
	/* r1: 20 messages at times 1000..1019; r2: 5 at 2000..; r3: none. */
	assert_int_equal(store_begin(f->st), CC_OK);
	for (int i = 0; i < 20; i++)
		st_append(f, r1, alice, 1000 + (uint64_t)i, (uint8_t)i);
	for (int i = 0; i < 5; i++)
		st_append(f, r2, alice, 2000 + (uint64_t)i, (uint8_t)i);
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
	assert_int_equal(st_messages(f, r1, 0, 0, &s), 15);
	assert_int_equal(s.a[0], 6);
	assert_int_equal(st_messages(f, r2, 0, 0, &s), 5);

	/* By count: the newest 10 of each room stay (in a step of 3, then the rest). */
	assert_int_equal(store_message_prune_some(f->st, 0, 10, 3, &deleted), CC_OK);
	assert_int_equal(deleted, 3);
	assert_int_equal(store_message_prune(f->st, 0, 10, &deleted), CC_OK);
	assert_int_equal(deleted, 2);
	assert_int_equal(st_messages(f, r1, 0, 0, &s), 10);
	assert_int_equal(s.a[0], 11);
	assert_int_equal(s.a[9], 20);
	assert_int_equal(st_messages(f, r2, 0, 0, &s), 5);

	/* A hole in the middle (a clock that went back) does not make the
	 * count pass keep fewer than it should. */
	int64_t id;
	uint8_t b[2] = {1, 2};
	assert_int_equal(store_message_append(f->st, r2, alice, 0, 1, 10, b, 2, &id), CC_OK);
	assert_int_equal(id, 6);
	assert_int_equal(st_append(f, r2, alice, 3000, 7), 7);
	assert_int_equal(store_message_prune(f->st, 100, 0, &deleted), CC_OK);
	assert_int_equal(deleted, 1);
	assert_int_equal(store_message_prune(f->st, 0, 5, &deleted), CC_OK);
	assert_int_equal(deleted, 5 + 1);
	assert_int_equal(st_messages(f, r2, 0, 0, &s), 5);
	const int64_t want[5] = {2, 3, 4, 5, 7};
	for (int i = 0; i < 5; i++)
		assert_int_equal(s.a[i], want[i]);
	assert_int_equal(st_messages(f, r1, 0, 0, &s), 5);
	assert_int_equal(s.a[0], 16);

	/* Both at once, inside a caller's transaction; then everything. */
	assert_int_equal(store_begin(f->st), CC_OK);
	/* r1 keeps 16..20 (times 1015..1019), r2 2, 3, 4, 5, 7. By age 16 and
	 * 17 go, by count 18 and r2's 2, 3 and 4. */
	assert_int_equal(store_message_prune(f->st, 1017, 2, &deleted), CC_OK);
	assert_int_equal(deleted, 2 + 1 + 3);
	assert_int_equal(store_commit(f->st), CC_OK);
	assert_int_equal(st_messages(f, r1, 0, 0, &s), 2);
	assert_int_equal(s.a[0], 19);
	assert_int_equal(st_messages(f, r2, 0, 0, &s), 2);
	assert_int_equal(s.a[0], 5);
	assert_int_equal(s.a[1], 7);
	assert_int_equal(store_message_prune(f->st, (uint64_t)INT64_MAX, 0, &deleted), CC_OK);
	assert_int_equal(deleted, 4);
	assert_int_equal(st_messages(f, r3, 0, 0, &s), 0);
	assert_int_equal(store_message_prune(f->st, (uint64_t)INT64_MAX + 1, 0, &deleted),
			 CC_ERR_MALFORMED);
	assert_int_equal(store_message_prune(f->st, 1, 1, NULL), CC_OK);
	assert_int_equal(store_message_prune(NULL, 1, 1, &deleted), CC_ERR_INTERNAL);

	/* Ids are never reused after a prune. */
	assert_int_equal(st_append(f, r1, alice, 5000, 0), 21);
	assert_int_equal(st_append(f, r2, alice, 5000, 0), 8);
	assert_int_equal(st_append(f, r3, alice, 5000, 0), 1);
	uint32_t n;
	assert_int_equal(store_message_count_after(f->st, r1, 0, &n), CC_OK);
	assert_int_equal(n, 1);
}

/* ---- Deleting a room ------------------------------------------------------------- */

static void test_room_delete_cascades(void **state)
{
	struct fixture *f = *state;
	int64_t alice = st_user(f, "alice", 1);
	int64_t bob = st_user(f, "bob", 2);
	int64_t rooms[2];
	uint8_t blob[50], hash[STORE_HASH_LEN] = {3};
	memset(blob, 0x42, sizeof blob);
	for (int i = 0; i < 2; i++) {
		int64_t r = rooms[i] = st_room(f, (uint8_t)(i + 1), alice);
		assert_int_equal(store_member_add(f->st, r, alice, 1, 0), CC_OK);
		assert_int_equal(store_member_add(f->st, r, bob, 1, 0), CC_OK);
		assert_int_equal(store_record_append(f->st, r, 0, blob, 10, hash), CC_OK);
		assert_int_equal(store_record_append(f->st, r, 1, blob, 10, hash), CC_OK);
		assert_int_equal(store_epoch_put(f->st, r, 0, blob, 5, 1000), CC_OK);
		assert_int_equal(store_key_put(f->st, r, 0, alice, blob, 20), CC_OK);
		assert_int_equal(store_key_put(f->st, r, 0, bob, blob, 20), CC_OK);
		for (int j = 0; j < 5; j++)
			st_append(f, r, bob, 10, 0);
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
	assert_int_equal(st_members(f, r, &s), 0);
	assert_int_equal(st_records(f, r, &s), 0);
	assert_int_equal(st_keys(f, r, alice, 0, &s), 0);
	assert_int_equal(st_keys(f, r, bob, 0, &s), 0);
	assert_int_equal(store_epoch_get(f->st, r, 0, &t, &len), CC_ERR_NOT_FOUND);
	assert_int_equal(st_messages(f, r, 0, 0, &s), 0);
	assert_int_equal(store_message_count_after(f->st, r, 0, &n), CC_OK);
	assert_int_equal(n, 0);
	memset(&s, 0, sizeof s);
	assert_int_equal(store_member_each_room_of(f->st, bob, st_seen_member, &s), CC_OK);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.b[0], rooms[1]);

	/* The other room is whole. */
	r = rooms[1];
	assert_int_equal(st_members(f, r, &s), 2);
	assert_int_equal(st_records(f, r, &s), 2);
	assert_int_equal(st_keys(f, r, bob, 0, &s), 1);
	assert_int_equal(st_messages(f, r, 0, 0, &s), 5);
	assert_int_equal(store_epoch_get(f->st, r, 0, &t, &len), CC_OK);
	free(t);

	/* The same room id can be made again: a new row, a fresh start. */
	uint8_t rid[STORE_ROOM_ID_LEN];
	int64_t again;
	st_room_id(1, rid);
	assert_int_equal(store_room_create(f->st, rid, bob, 9, &again), CC_OK);
	assert_true(again != rooms[0] && again != rooms[1]);
	assert_int_equal(store_room_get(f->st, rid, &room), CC_OK);
	assert_int_equal(room.record_count, 0);
	assert_int_equal(room.last_msg_id, 0);
	assert_int_equal(st_append(f, again, bob, 1, 0), 1);
	st_reopen(f);
	assert_int_equal(store_room_get_by_id(f->st, rooms[0], &room), CC_ERR_NOT_FOUND);
	assert_int_equal(st_messages(f, rooms[1], 0, 0, &s), 5);
}

int main(void)
{
	/* Several tests provoke errors on purpose; keep the output to those. */
	log_set_level(LOG_LEVEL_ERROR);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_messages_ids_and_walks, store_setup, store_teardown),
		cmocka_unit_test_setup_teardown(test_message_replay, store_setup, store_teardown),
		cmocka_unit_test_setup_teardown(test_message_find, store_setup, store_teardown),
		cmocka_unit_test_setup_teardown(test_room_closed, store_setup, store_teardown),
		cmocka_unit_test_setup_teardown(test_prune, store_setup, store_teardown),
		cmocka_unit_test_setup_teardown(test_room_delete_cascades, store_setup, store_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
