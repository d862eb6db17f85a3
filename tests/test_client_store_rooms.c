/* The client's store, part three: the atomicity of a handled message (the
 * chain step and its counters in one transaction, own chains across a
 * crash), what forgetting a room keeps, verified room heads, the newest
 * signing key and the last activity seen per key, pinned keys, and
 * persistence across a restart. */
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

/* ---- handled messages ------------------------------------------------------------ */

/* A received message's chain step is stored with the three numbers, in one
 * transaction: a step refused (the chain is already there, or there is no
 * chain) stores none of them, or a replayed message could raise the
 * counters without its key having been used up. */
static void test_message_handled_ratchet(void **state)
{
	struct fixture *f = *state;
	uint8_t room[CSTORE_ROOM_ID_LEN], alice[CSTORE_FP_LEN], bob[CSTORE_FP_LEN];
	uint8_t ka[CSTORE_KEY_LEN], kb[CSTORE_KEY_LEN];
	cs_fill(140, room, sizeof room);
	cs_fill(141, alice, sizeof alice);
	cs_fill(142, bob, sizeof bob);
	cs_secret(1600, ka);
	cs_secret(1700, kb);
	cs_room_put(f, room, 3);
	cs_epoch_add1(f, room, 2, alice, ka);
	cs_epoch_add1(f, room, 2, bob, kb);

	struct cstore_ratchet step = {.next_seq = 2};
	cs_secret(1602, step.chain_key);
	assert_int_equal(cstore_message_handled(f->cs, room, alice, 2, 1, 10, 100, &step), CC_OK);
	cs_chain_expect(f, room, 2, alice, step.chain_key, 2);
	assert_int_equal(cs_seen_of(f, room, alice, 2), 1);
	assert_int_equal(cs_last_id(f, room), 10);
	assert_int_equal(cs_activity_of(f, alice), 100);
	/* Messages 2 to 4 never came: the chain jumps past them. */
	step.next_seq = 6;
	cs_secret(1606, step.chain_key);
	assert_int_equal(cstore_message_handled(f->cs, room, alice, 2, 5, 11, 200, &step), CC_OK);
	cs_chain_expect(f, room, 2, alice, step.chain_key, 6);
	assert_int_equal(cs_seen_of(f, room, alice, 2), 5);
	assert_int_equal(cs_last_id(f, room), 11);
	assert_int_equal(cs_activity_of(f, alice), 200);
	/* bob's chain did not move. */
	cs_chain_expect(f, room, 2, bob, kb, 1);

	/* A step to where the chain is, or behind it: refused, and nothing
	 * else stored either. */
	uint8_t k6[CSTORE_KEY_LEN];
	memcpy(k6, step.chain_key, sizeof k6);
	const uint64_t stale[] = {6, 3};
	for (size_t i = 0; i < sizeof stale / sizeof stale[0]; i++) {
		struct cstore_ratchet back = {.next_seq = stale[i]};
		cs_secret(1690, back.chain_key);
		assert_int_equal(cstore_message_handled(f->cs, room, alice, 2, 9, 20, 300, &back),
				 CC_ERR_STALE_EPOCH);
		cs_chain_expect(f, room, 2, alice, k6, 6);
		assert_int_equal(cs_seen_of(f, room, alice, 2), 5);
		assert_int_equal(cs_last_id(f, room), 11);
		assert_int_equal(cs_activity_of(f, alice), 200);
	}
	/* No chain for the sender in that epoch (forgotten, or never opened):
	 * not found, nothing stored, no chain made. */
	struct cstore_ratchet lost = {.next_seq = 2};
	cs_secret(1691, lost.chain_key);
	assert_int_equal(cstore_message_handled(f->cs, room, bob, 3, 1, 21, 400, &lost),
			 CC_ERR_NOT_FOUND);
	assert_int_equal(cs_seen_of(f, room, bob, 3), 0);
	assert_int_equal(cs_last_id(f, room), 11);
	assert_int_equal(cs_activity_of(f, bob), 0);
	cs_chain_expect_none(f, room, 3, bob);
	/* A number out of range in the step: refused the same way. */
	lost.next_seq = (uint64_t)INT64_MAX + 1;
	assert_int_equal(cstore_message_handled(f->cs, room, bob, 2, 1, 22, 500, &lost),
			 CC_ERR_LIMIT);
	cs_chain_expect(f, room, 2, bob, kb, 1);
	assert_int_equal(cs_seen_of(f, room, bob, 2), 0);
	assert_int_equal(cs_last_id(f, room), 11);
	assert_int_equal(cs_activity_of(f, bob), 0);
	/* And one in the message's numbers: the step is not taken. */
	lost.next_seq = 2;
	assert_int_equal(cstore_message_handled(f->cs, room, bob, 2, UINT64_MAX, 23, 600, &lost),
			 CC_ERR_MALFORMED);
	cs_chain_expect(f, room, 2, bob, kb, 1);

	/* Our own message: no step, the chain (moved before sending) stays. */
	assert_int_equal(cstore_message_handled(f->cs, room, alice, 2, 6, 30, 700, NULL), CC_OK);
	cs_chain_expect(f, room, 2, alice, k6, 6);
	assert_int_equal(cs_seen_of(f, room, alice, 2), 6);
	assert_int_equal(cs_last_id(f, room), 30);

	cs_reopen(f);
	cs_chain_expect(f, room, 2, alice, k6, 6);
	cs_chain_expect(f, room, 2, bob, kb, 1);
	assert_int_equal(cs_seen_of(f, room, alice, 2), 6);
	assert_int_equal(cs_seen_of(f, room, bob, 2), 0);
	assert_int_equal(cs_last_id(f, room), 30);
	assert_int_equal(cs_activity_of(f, alice), 700);
}

/* Two handles on one file (two client processes by mistake) still never
 * use the same number of our own chain: each reads where the other left it,
 * and a step to a number already reached is refused whichever handle takes
 * it. */
static void test_own_chain_two_handles(void **state)
{
	struct fixture *f = *state;
	uint8_t room[CSTORE_ROOM_ID_LEN], me[CSTORE_FP_LEN], k[CSTORE_KEY_LEN];
	uint8_t got[CSTORE_KEY_LEN];
	cs_fill(14, room, sizeof room);
	cs_fill(15, me, sizeof me);
	cs_secret(1800, k);
	cs_epoch_add1(f, room, 7, me, k);
	struct client_store *cs2 = NULL;
	assert_int_equal(cstore_open(f->tmp.path, &cs2), CC_OK);
	uint64_t expect = 1;
	for (uint32_t i = 0; i < 20; i++) {
		uint64_t next = 0;
		struct client_store *cs = (i % 3 == 0) ? cs2 : f->cs;
		struct client_store *peer = cs == cs2 ? f->cs : cs2;
		assert_int_equal(cstore_chain_get(cs, room, 7, me, got, &next), CC_OK);
		assert_int_equal(next, expect);
		cs_secret(1800 + (uint32_t)expect - 1, k);
		assert_memory_equal(got, k, sizeof k);
		cs_secret(1800 + (uint32_t)expect, k);
		assert_int_equal(cstore_chain_advance(cs, room, 7, me, k, next + 1), CC_OK);
		/* The other handle, still holding the number just used. */
		assert_int_equal(cstore_chain_advance(peer, room, 7, me, k, next + 1),
				 CC_ERR_STALE_EPOCH);
		expect++;
	}
	cstore_close(cs2);
}

/* A process that dies right after its chain step returned (no close) must
 * find the step made on the next run: the message key of that number is
 * never used twice. */
static void test_own_chain_survives_crash(void **state)
{
	struct fixture *f = *state;
	uint8_t room[CSTORE_ROOM_ID_LEN], me[CSTORE_FP_LEN], k[CSTORE_KEY_LEN];
	cs_fill(16, room, sizeof room);
	cs_fill(17, me, sizeof me);
	cs_secret(1900, k);
	cs_epoch_add1(f, room, 2, me, k);
	cs_secret(1901, k);
	assert_int_equal(cstore_chain_advance(f->cs, room, 2, me, k, 2), CC_OK);
	cs_close(f);

	int fds[2];
	assert_int_equal(pipe(fds), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct client_store *cs = NULL;
		uint8_t ck[CSTORE_KEY_LEN];
		uint64_t got = 0;
		close(fds[0]);
		cs_secret(1902, ck);
		if (cstore_open(f->tmp.path, &cs) != CC_OK ||
		    cstore_chain_get(cs, room, 2, me, k, &got) != CC_OK ||
		    cstore_chain_advance(cs, room, 2, me, ck, got + 1) != CC_OK)
			got = 0;
		if (write(fds[1], &got, sizeof got) != (ssize_t)sizeof got)
			_exit(2);
		_exit(0); /* no cstore_close: a crash */
	}
	close(fds[1]);
	uint64_t child_seq = 0;
	assert_int_equal(read(fds[0], &child_seq, sizeof child_seq), (ssize_t)sizeof child_seq);
	close(fds[0]);
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(child_seq, 2);

	cs_open(f);
	cs_secret(1902, k);
	cs_chain_expect(f, room, 2, me, k, 3);
	assert_int_equal(cstore_chain_advance(f->cs, room, 2, me, k, 3), CC_ERR_STALE_EPOCH);
}

/* Forgetting a room (after leaving it) drops its chain keys, counters and
 * title, and keeps its verified head: a server that later replays the old
 * history is still caught. */
static void test_room_forget(void **state)
{
	struct fixture *f = *state;
	uint8_t room[CSTORE_ROOM_ID_LEN], other[CSTORE_ROOM_ID_LEN];
	uint8_t key[CSTORE_KEY_LEN], got[CSTORE_KEY_LEN], fp[CSTORE_FP_LEN], me[CSTORE_FP_LEN];
	uint8_t stepped[CSTORE_KEY_LEN];
	struct cstore_room head = {.head_count = 7, .epoch = 3, .members = 4};
	cs_fill(16, room, sizeof room);
	cs_fill(17, other, sizeof other);
	cs_secret(18, key);
	cs_secret(19, stepped);
	cs_fill(19, fp, sizeof fp);
	cs_fill(20, me, sizeof me);
	cs_fill(33, head.head_hash, sizeof head.head_hash);
	snprintf(head.admin, sizeof head.admin, "Carol");
	snprintf(head.title, sizeof head.title, "plans");

	for (int r = 0; r < 2; r++) {
		const uint8_t *id = r ? other : room;
		assert_int_equal(cstore_room_put(f->cs, id, &head), CC_OK);
		cs_epoch_add1(f, id, 0, fp, key);
		cs_epoch_add1(f, id, 3, fp, key);
		cs_epoch_add1(f, id, 3, me, key);
		assert_int_equal(cstore_message_handled(f->cs, id, fp, 2, 40, 90, 500, NULL),
				 CC_OK);
		assert_int_equal(cstore_message_handled(f->cs, id, fp, 3, 8, 91, 600, NULL),
				 CC_OK);
		assert_int_equal(cstore_chain_advance(f->cs, id, 3, me, stepped, 3), CC_OK);
	}
	assert_int_equal(cstore_pin_put(f->cs, "carol", fp, 1, 10), CC_OK);
	assert_int_equal(cstore_sign_put(f->cs, fp, 2, key), CC_OK);

	assert_int_equal(cstore_room_forget(f->cs, room), CC_OK);
	assert_int_equal(cstore_epoch_has(f->cs, room, 0), CC_ERR_NOT_FOUND);
	assert_int_equal(cstore_epoch_has(f->cs, room, 3), CC_ERR_NOT_FOUND);
	cs_chain_expect_none(f, room, 3, fp);
	cs_chain_expect_none(f, room, 3, me);
	assert_int_equal(cs_messages_of(f, room, 3), 0);
	assert_int_equal(cs_seen_of(f, room, fp, 2), 0);
	assert_int_equal(cs_seen_of(f, room, fp, 3), 0);
	/* The head stays; the title and the message position go. */
	struct cstore_room kept;
	assert_int_equal(cstore_room_get(f->cs, room, &kept), CC_OK);
	assert_int_equal(kept.head_count, 7);
	assert_memory_equal(kept.head_hash, head.head_hash, CSTORE_HASH_LEN);
	assert_int_equal(kept.epoch, 3);
	assert_int_equal(kept.members, 4);
	assert_string_equal(kept.admin, "Carol");
	assert_string_equal(kept.title, "");
	assert_int_equal(kept.last_msg_id, 0);

	/* The other room, the pins, signing keys and activity are untouched. */
	cs_chain_expect(f, other, 0, fp, key, 1);
	cs_chain_expect(f, other, 3, fp, key, 1);
	cs_chain_expect(f, other, 3, me, stepped, 3);
	assert_int_equal(cs_messages_of(f, other, 3), 2);
	assert_int_equal(cs_seen_of(f, other, fp, 2), 40);
	assert_int_equal(cs_seen_of(f, other, fp, 3), 8);
	assert_int_equal(cstore_room_get(f->cs, other, &kept), CC_OK);
	assert_string_equal(kept.title, "plans");
	assert_int_equal(kept.last_msg_id, 91);
	struct cstore_pin pin;
	assert_int_equal(cstore_pin_get(f->cs, "carol", &pin), CC_OK);
	uint32_t version;
	assert_int_equal(cstore_sign_get(f->cs, fp, &version, got), CC_OK);
	assert_int_equal(version, 2);
	assert_int_equal(cs_activity_of(f, fp), 600);

	/* Forgetting an unknown room is fine (and makes none); it stays
	 * forgotten after reopen. */
	uint8_t unknown[CSTORE_ROOM_ID_LEN];
	cs_fill(21, unknown, sizeof unknown);
	assert_int_equal(cstore_room_forget(f->cs, unknown), CC_OK);
	assert_int_equal(cstore_room_get(f->cs, unknown, &kept), CC_ERR_NOT_FOUND);
	cs_reopen(f);
	assert_int_equal(cstore_epoch_has(f->cs, room, 0), CC_ERR_NOT_FOUND);
	assert_int_equal(cstore_epoch_has(f->cs, room, 3), CC_ERR_NOT_FOUND);
	assert_int_equal(cstore_epoch_has(f->cs, other, 0), CC_OK);
	cs_chain_expect(f, other, 3, me, stepped, 3);
	assert_int_equal(cstore_room_get(f->cs, room, &kept), CC_OK);
	assert_int_equal(kept.head_count, 7);
	assert_string_equal(kept.title, "");
}

/* A room's verified head and what /rooms shows: stored whole, read back
 * whole; put replaces everything but the last message id, which only
 * rises. */
static void test_room_head(void **state)
{
	struct fixture *f = *state;
	uint8_t room[CSTORE_ROOM_ID_LEN], other[CSTORE_ROOM_ID_LEN];
	struct cstore_room r, got;
	cs_fill(34, room, sizeof room);
	cs_fill(35, other, sizeof other);

	memset(&got, 0x5a, sizeof got);
	assert_int_equal(cstore_room_get(f->cs, room, &got), CC_ERR_NOT_FOUND);
	/* Nothing left behind on failure. */
	assert_int_equal(got.head_count, 0);
	assert_int_equal(got.admin[0], '\0');
	assert_int_equal(got.last_msg_id, 0);

	/* Every field at its largest: the longest admin and title (UTF-8). */
	memset(&r, 0, sizeof r);
	r.head_count = UINT32_MAX;
	cs_fill(36, r.head_hash, sizeof r.head_hash);
	r.epoch = UINT32_MAX;
	r.members = UINT32_MAX;
	memset(r.admin, 'a', CSTORE_NICK_MAX);
	for (size_t i = 0; i + 2 <= CSTORE_TITLE_MAX; i += 2)
		memcpy(r.title + i, "\xc3\xa9", 2);
	r.last_msg_id = 12345;            /* not put's to store */
	assert_int_equal(cstore_room_put(f->cs, room, &r), CC_OK);
	assert_int_equal(cstore_room_get(f->cs, room, &got), CC_OK);
	assert_int_equal(got.head_count, UINT32_MAX);
	assert_memory_equal(got.head_hash, r.head_hash, CSTORE_HASH_LEN);
	assert_int_equal(got.epoch, UINT32_MAX);
	assert_int_equal(got.members, UINT32_MAX);
	assert_int_equal(strlen(got.admin), CSTORE_NICK_MAX);
	assert_string_equal(got.admin, r.admin);
	assert_int_equal(strlen(got.title), CSTORE_TITLE_MAX);
	assert_string_equal(got.title, r.title);
	assert_int_equal(got.last_msg_id, 0);
	/* Another room is another row. */
	assert_int_equal(cstore_room_get(f->cs, other, &got), CC_ERR_NOT_FOUND);

	/* last_msg_id only rises, and put leaves it alone. */
	assert_int_equal(cstore_room_last_id_put(f->cs, room, 10), CC_OK);
	assert_int_equal(cs_last_id(f, room), 10);
	assert_int_equal(cstore_room_last_id_put(f->cs, room, 9), CC_OK);
	assert_int_equal(cstore_room_last_id_put(f->cs, room, 0), CC_OK);
	assert_int_equal(cstore_room_last_id_put(f->cs, room, 10), CC_OK);
	assert_int_equal(cs_last_id(f, room), 10);
	assert_int_equal(cstore_room_last_id_put(f->cs, room, 11), CC_OK);
	assert_int_equal(cs_last_id(f, room), 11);
	assert_int_equal(cstore_room_last_id_put(f->cs, room, (uint64_t)INT64_MAX + 1),
			 CC_ERR_MALFORMED);
	assert_int_equal(cs_last_id(f, room), 11);
	/* For a room never verified: nothing to raise, no row made. */
	assert_int_equal(cstore_room_last_id_put(f->cs, other, 5), CC_OK);
	assert_int_equal(cstore_room_get(f->cs, other, &got), CC_ERR_NOT_FOUND);

	/* A put replaces the head and the rest, with "" for none. */
	memset(&r, 0, sizeof r);
	r.head_count = 3;
	cs_fill(37, r.head_hash, sizeof r.head_hash);
	r.epoch = 2;
	r.members = 1;
	assert_int_equal(cstore_room_put(f->cs, room, &r), CC_OK);
	cs_reopen(f);
	assert_int_equal(cstore_room_get(f->cs, room, &got), CC_OK);
	assert_int_equal(got.head_count, 3);
	assert_memory_equal(got.head_hash, r.head_hash, CSTORE_HASH_LEN);
	assert_int_equal(got.epoch, 2);
	assert_int_equal(got.members, 1);
	assert_string_equal(got.admin, "");
	assert_string_equal(got.title, "");
	assert_int_equal(got.last_msg_id, 11);

	/* Strings without their terminator within bounds are refused, and
	 * change nothing. */
	struct cstore_room bad = r;
	memset(bad.admin, 'b', sizeof bad.admin);
	assert_int_equal(cstore_room_put(f->cs, room, &bad), CC_ERR_TOO_LARGE);
	bad = r;
	memset(bad.title, 't', sizeof bad.title);
	assert_int_equal(cstore_room_put(f->cs, room, &bad), CC_ERR_TOO_LARGE);
	assert_int_equal(cstore_room_get(f->cs, room, &got), CC_OK);
	assert_int_equal(got.head_count, 3);
	assert_string_equal(got.admin, "");
}

/* The newest signing key seen per identity key: only a higher version
 * replaces it. */
static void test_sign_keys(void **state)
{
	struct fixture *f = *state;
	uint8_t alice[CSTORE_FP_LEN], bob[CSTORE_FP_LEN];
	uint8_t k1[CSTORE_KEY_LEN], k2[CSTORE_KEY_LEN], k3[CSTORE_KEY_LEN], got[CSTORE_KEY_LEN];
	uint32_t version = 99;
	cs_fill(42, alice, sizeof alice);
	cs_fill(43, bob, sizeof bob);
	cs_fill(44, k1, sizeof k1);
	cs_fill(45, k2, sizeof k2);
	cs_fill(46, k3, sizeof k3);

	memset(got, 0x5a, sizeof got);
	assert_int_equal(cstore_sign_get(f->cs, alice, &version, got), CC_ERR_NOT_FOUND);
	assert_int_equal(version, 0);
	for (size_t i = 0; i < sizeof got; i++)
		assert_int_equal(got[i], 0);

	assert_int_equal(cstore_sign_put(f->cs, alice, 1, k1), CC_OK);
	assert_int_equal(cstore_sign_get(f->cs, alice, &version, got), CC_OK);
	assert_int_equal(version, 1);
	assert_memory_equal(got, k1, sizeof got);
	assert_int_equal(cstore_sign_put(f->cs, alice, 3, k3), CC_OK);
	/* Lower or the same version: ignored, whatever the key. */
	assert_int_equal(cstore_sign_put(f->cs, alice, 2, k2), CC_OK);
	assert_int_equal(cstore_sign_put(f->cs, alice, 3, k2), CC_OK);
	assert_int_equal(cstore_sign_put(f->cs, alice, 1, k1), CC_OK);
	assert_int_equal(cstore_sign_get(f->cs, alice, &version, got), CC_OK);
	assert_int_equal(version, 3);
	assert_memory_equal(got, k3, sizeof got);
	/* Per identity key. */
	assert_int_equal(cstore_sign_get(f->cs, bob, &version, got), CC_ERR_NOT_FOUND);
	assert_int_equal(cstore_sign_put(f->cs, bob, UINT32_MAX, k2), CC_OK);
	cs_reopen(f);
	assert_int_equal(cstore_sign_get(f->cs, bob, &version, got), CC_OK);
	assert_int_equal(version, UINT32_MAX);
	assert_memory_equal(got, k2, sizeof got);
	assert_int_equal(cstore_sign_get(f->cs, alice, &version, got), CC_OK);
	assert_int_equal(version, 3);
	assert_memory_equal(got, k3, sizeof got);
	/* Version 0 is nobody's key. */
	assert_int_equal(cstore_sign_put(f->cs, alice, 0, k1), CC_ERR_INTERNAL);
	assert_int_equal(cstore_sign_get(f->cs, alice, &version, got), CC_OK);
	assert_int_equal(version, 3);
}

/* The latest signed time seen per key: only rises; put_all raises many in
 * one transaction, all or none. */
static void test_activity(void **state)
{
	struct fixture *f = *state;
	uint8_t fps[4][CSTORE_FP_LEN];
	for (uint8_t i = 0; i < 4; i++)
		cs_fill((uint8_t)(50 + i), fps[i], sizeof fps[i]);

	assert_int_equal(cs_activity_of(f, fps[0]), 0);
	assert_int_equal(cstore_activity_put(f->cs, fps[0], 100), CC_OK);
	assert_int_equal(cs_activity_of(f, fps[0]), 100);
	assert_int_equal(cstore_activity_put(f->cs, fps[0], 50), CC_OK);
	assert_int_equal(cstore_activity_put(f->cs, fps[0], 0), CC_OK);
	assert_int_equal(cstore_activity_put(f->cs, fps[0], 100), CC_OK);
	assert_int_equal(cs_activity_of(f, fps[0]), 100);
	assert_int_equal(cstore_activity_put(f->cs, fps[0], 200), CC_OK);
	assert_int_equal(cs_activity_of(f, fps[0]), 200);
	assert_int_equal(cstore_activity_put(f->cs, fps[0], (uint64_t)INT64_MAX + 1),
			 CC_ERR_MALFORMED);
	assert_int_equal(cs_activity_of(f, fps[0]), 200);
	assert_int_equal(cs_activity_of(f, fps[1]), 0);

	/* Several at once: raised where newer, kept where not, new ones
	 * added. */
	assert_int_equal(cstore_activity_put(f->cs, fps[1], 1000), CC_OK);
	const uint64_t times[3] = {300, 999, 7};
	assert_int_equal(cstore_activity_put_all(f->cs, (const uint8_t(*)[CSTORE_FP_LEN])fps,
						 times, 3), CC_OK);
	assert_int_equal(cs_activity_of(f, fps[0]), 300);
	assert_int_equal(cs_activity_of(f, fps[1]), 1000);
	assert_int_equal(cs_activity_of(f, fps[2]), 7);
	assert_int_equal(cs_activity_of(f, fps[3]), 0);
	/* One bad time refuses the whole batch: the earlier ones are rolled
	 * back. */
	const uint64_t bad[4] = {400, 2000, 8, (uint64_t)INT64_MAX + 1};
	assert_int_equal(cstore_activity_put_all(f->cs, (const uint8_t(*)[CSTORE_FP_LEN])fps,
						 bad, 4), CC_ERR_MALFORMED);
	assert_int_equal(cs_activity_of(f, fps[0]), 300);
	assert_int_equal(cs_activity_of(f, fps[1]), 1000);
	assert_int_equal(cs_activity_of(f, fps[2]), 7);
	assert_int_equal(cs_activity_of(f, fps[3]), 0);
	/* None at all is nothing to do; a count without arrays is a bug. */
	assert_int_equal(cstore_activity_put_all(f->cs, NULL, NULL, 0), CC_OK);
	assert_int_equal(cstore_activity_put_all(f->cs, NULL, times, 1), CC_ERR_INTERNAL);
	assert_int_equal(cstore_activity_put_all(f->cs, (const uint8_t(*)[CSTORE_FP_LEN])fps,
						 NULL, 1), CC_ERR_INTERNAL);
	assert_int_equal(cstore_activity_put_all(NULL, (const uint8_t(*)[CSTORE_FP_LEN])fps,
						 times, 1), CC_ERR_INTERNAL);
	cs_reopen(f);
	assert_int_equal(cs_activity_of(f, fps[0]), 300);
	assert_int_equal(cs_activity_of(f, fps[2]), 7);
}

static void test_pin(void **state)
{
	struct fixture *f = *state;
	uint8_t fp1[CSTORE_FP_LEN], fp2[CSTORE_FP_LEN];
	struct cstore_pin pin;
	cs_fill(21, fp1, sizeof fp1);
	cs_fill(22, fp2, sizeof fp2);

	assert_int_equal(cstore_pin_get(f->cs, "Dave", &pin), CC_ERR_NOT_FOUND);
	assert_int_equal(cstore_pin_put(f->cs, "Dave", fp1, 0, 1000), CC_OK);
	assert_int_equal(cstore_pin_get(f->cs, "Dave", &pin), CC_OK);
	assert_string_equal(pin.nick, "Dave");
	assert_memory_equal(pin.fp, fp1, sizeof fp1);
	assert_int_equal(pin.verified, 0);
	assert_int_equal(pin.first_seen_ms, 1000);

	/* Case-insensitive: one pin whatever the case of the lookup. */
	assert_int_equal(cstore_pin_get(f->cs, "dave", &pin), CC_OK);
	assert_memory_equal(pin.fp, fp1, sizeof fp1);
	assert_int_equal(cstore_pin_get(f->cs, "DAVE", &pin), CC_OK);
	assert_string_equal(pin.nick, "Dave");

	/* Verifying the same key keeps when it was first seen; any non-zero
	 * flag reads back as 1. */
	assert_int_equal(cstore_pin_put(f->cs, "dAVE", fp1, 7, 2000), CC_OK);
	assert_int_equal(cstore_pin_get(f->cs, "dave", &pin), CC_OK);
	assert_memory_equal(pin.fp, fp1, sizeof fp1);
	assert_int_equal(pin.verified, 1);
	assert_int_equal(pin.first_seen_ms, 1000);
	assert_string_equal(pin.nick, "dAVE");

	/* A new key replaces the pin, unverified, first seen now. */
	assert_int_equal(cstore_pin_put(f->cs, "Dave", fp2, 0, 3000), CC_OK);
	assert_int_equal(cstore_pin_get(f->cs, "Dave", &pin), CC_OK);
	assert_memory_equal(pin.fp, fp2, sizeof fp2);
	assert_int_equal(pin.verified, 0);
	assert_int_equal(pin.first_seen_ms, 3000);

	/* Other nicknames are other pins. */
	assert_int_equal(cstore_pin_get(f->cs, "Dave2", &pin), CC_ERR_NOT_FOUND);
	assert_int_equal(cstore_pin_put(f->cs, "erin", fp1, 1, (uint64_t)INT64_MAX), CC_OK);
	assert_int_equal(cstore_pin_get(f->cs, "ERIN", &pin), CC_OK);
	assert_string_equal(pin.nick, "erin");
	assert_memory_equal(pin.fp, fp1, sizeof fp1);
	assert_int_equal(pin.verified, 1);
	assert_int_equal(pin.first_seen_ms, (uint64_t)INT64_MAX);
	assert_int_equal(cstore_pin_get(f->cs, "dave", &pin), CC_OK);
	assert_memory_equal(pin.fp, fp2, sizeof fp2);

	/* A time SQLite cannot hold is refused, and changes nothing. */
	assert_int_equal(cstore_pin_put(f->cs, "dave", fp1, 1, (uint64_t)INT64_MAX + 1),
			 CC_ERR_MALFORMED);
	assert_int_equal(cstore_pin_get(f->cs, "dave", &pin), CC_OK);
	assert_memory_equal(pin.fp, fp2, sizeof fp2);
}

static void test_bad_nick(void **state)
{
	struct fixture *f = *state;
	uint8_t fp[CSTORE_FP_LEN];
	struct cstore_pin pin;
	cs_fill(23, fp, sizeof fp);
	char long_nick[CSTORE_NICK_MAX + 2];
	memset(long_nick, 'a', sizeof long_nick - 1);
	long_nick[sizeof long_nick - 1] = '\0';
	const char *bad[] = {"", long_nick, "a b", "caf\xc3\xa9", "a\n", "a/b", "a\x7f",
			     "%s%n", "a'; DROP TABLE pins; --", "\xff"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		assert_int_equal(cstore_pin_put(f->cs, bad[i], fp, 0, 1), CC_ERR_BAD_NICK);
		memset(&pin, 0x55, sizeof pin);
		assert_int_equal(cstore_pin_get(f->cs, bad[i], &pin), CC_ERR_BAD_NICK);
		assert_int_equal(pin.nick[0], '\0');
	}
	assert_int_equal(cstore_pin_put(f->cs, NULL, fp, 0, 1), CC_ERR_BAD_NICK);
	assert_int_equal(cstore_pin_get(f->cs, NULL, &pin), CC_ERR_BAD_NICK);

	/* Exactly CSTORE_NICK_MAX, and every allowed character, are fine. */
	long_nick[CSTORE_NICK_MAX] = '\0';
	assert_int_equal(cstore_pin_put(f->cs, long_nick, fp, 0, 1), CC_OK);
	assert_int_equal(cstore_pin_get(f->cs, long_nick, &pin), CC_OK);
	assert_string_equal(pin.nick, long_nick);
	assert_int_equal(cstore_pin_put(f->cs, "Az09_.-", fp, 0, 1), CC_OK);
	assert_int_equal(cstore_pin_get(f->cs, "aZ09_.-", &pin), CC_OK);
	assert_string_equal(pin.nick, "Az09_.-");
}

static void test_persist(void **state)
{
	struct fixture *f = *state;
	uint8_t room[CSTORE_ROOM_ID_LEN], key[CSTORE_KEY_LEN], got[CSTORE_KEY_LEN];
	uint8_t fp[CSTORE_FP_LEN], ck[CSTORE_KEY_LEN], seen_pub[CSTORE_KEY_LEN];
	uint64_t v;
	cs_fill(24, room, sizeof room);
	cs_secret(25, key);
	cs_secret(26, ck);
	cs_secret(27, seen_pub);
	cs_fill(26, fp, sizeof fp);

	struct cstore_room head = {.head_count = 5, .epoch = 9, .members = 2};
	cs_fill(27, head.head_hash, sizeof head.head_hash);
	snprintf(head.admin, sizeof head.admin, "Frank");
	snprintf(head.title, sizeof head.title, "t");
	assert_int_equal(cstore_room_put(f->cs, room, &head), CC_OK);
	cs_epoch_add1(f, room, 9, fp, key);
	struct cstore_ratchet step = {.next_seq = 124};
	memcpy(step.chain_key, ck, sizeof ck);
	assert_int_equal(cstore_message_handled(f->cs, room, fp, 9, 123, 77, 5555, &step), CC_OK);
	assert_int_equal(cstore_pin_put(f->cs, "Frank", fp, 1, 4242), CC_OK);
	assert_int_equal(cstore_sign_put(f->cs, fp, 6, key), CC_OK);
	struct cstore_recv_key k1 = cs_recv_key(1, 100, 28), k2 = cs_recv_key(2, 200, 29);
	assert_int_equal(cstore_recv_add(f->cs, &k1), CC_OK);
	assert_int_equal(cstore_recv_add(f->cs, &k2), CC_OK);
	assert_int_equal(cstore_recv_seen_put(f->cs, fp, 4, 300, seen_pub), CC_OK);

	for (int round = 0; round < 2; round++) {
		cs_reopen(f);
		cs_chain_expect(f, room, 9, fp, ck, 124);
		assert_int_equal(cstore_epoch_has(f->cs, room, 9), CC_OK);
		assert_int_equal(cs_messages_of(f, room, 9), 123);
		assert_int_equal(cstore_seen_get(f->cs, room, fp, 9, &v), CC_OK);
		assert_int_equal(v, 123);
		assert_int_equal(cs_activity_of(f, fp), 5555);
		struct cstore_room r;
		assert_int_equal(cstore_room_get(f->cs, room, &r), CC_OK);
		assert_int_equal(r.head_count, 5);
		assert_memory_equal(r.head_hash, head.head_hash, CSTORE_HASH_LEN);
		assert_string_equal(r.admin, "Frank");
		assert_int_equal(r.last_msg_id, 77);
		uint32_t version;
		assert_int_equal(cstore_sign_get(f->cs, fp, &version, got), CC_OK);
		assert_int_equal(version, 6);
		struct cstore_pin pin;
		assert_int_equal(cstore_pin_get(f->cs, "frank", &pin), CC_OK);
		assert_string_equal(pin.nick, "Frank");
		assert_memory_equal(pin.fp, fp, sizeof fp);
		assert_int_equal(pin.verified, 1);
		assert_int_equal(pin.first_seen_ms, 4242);
		assert_int_equal(cs_current_version(f), 2);
		cs_recv_expect(f, &k2, 0);
		cs_recv_expect(f, &k1, 200);
		assert_int_equal(cstore_recv_seen_get(f->cs, fp, &version, &v, got), CC_OK);
		assert_int_equal(version, 4);
		assert_int_equal(v, 300);
		assert_memory_equal(got, seen_pub, sizeof got);
	}
	assert_int_equal(cstore_chain_advance(f->cs, room, 9, fp, key, 124), CC_ERR_STALE_EPOCH);
}

int main(void)
{
	/* Several tests provoke errors on purpose; keep the output to those. */
	log_set_level(LOG_LEVEL_ERROR);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_message_handled_ratchet, cstore_setup, cstore_teardown),
		cmocka_unit_test_setup_teardown(test_own_chain_two_handles, cstore_setup, cstore_teardown),
		cmocka_unit_test_setup_teardown(test_own_chain_survives_crash, cstore_setup, cstore_teardown),
		cmocka_unit_test_setup_teardown(test_room_forget, cstore_setup, cstore_teardown),
		cmocka_unit_test_setup_teardown(test_room_head, cstore_setup, cstore_teardown),
		cmocka_unit_test_setup_teardown(test_sign_keys, cstore_setup, cstore_teardown),
		cmocka_unit_test_setup_teardown(test_activity, cstore_setup, cstore_teardown),
		cmocka_unit_test_setup_teardown(test_pin, cstore_setup, cstore_teardown),
		cmocka_unit_test_setup_teardown(test_bad_nick, cstore_setup, cstore_teardown),
		cmocka_unit_test_setup_teardown(test_persist, cstore_setup, cstore_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
