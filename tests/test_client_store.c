/* The client's store: epoch secrets, verified room heads, replay counters
 * and own sequence numbers per epoch, the newest signing key and the last
 * activity seen per key, and pinned keys; persistence across a restart (and a
 * crash), independence of rooms, senders and epochs, what forgetting a room
 * keeps, the upgrade of a version-1 file, and refusal of bad input and of
 * files from a newer version. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store/client_store.h"
#include "support/tmpdir.h"
#include "util/log.h"

struct fixture {
	struct tmpdir tmp;            /* first: see tmpdir_fixture_new */
	struct client_store *cs;
};

/* Distinct test values derived from a seed. */
static void test_fill(uint8_t seed, uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(seed * 31 + i * 7 + 1);
}

static int setup(void **state)
{
	struct fixture *f = tmpdir_fixture_new(sizeof *f, "cc_test_cstore", "client.db");
	if (!f || cstore_open(f->tmp.path, &f->cs) != CC_OK) {
		tmpdir_fixture_free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	cstore_close(f->cs);
	tmpdir_fixture_free(f);
	return 0;
}

static void test_reopen(struct fixture *f)
{
	cstore_close(f->cs);
	f->cs = NULL;
	assert_int_equal(cstore_open(f->tmp.path, &f->cs), CC_OK);
	assert_non_null(f->cs);
}

static void test_file_mode(void **state)
{
	struct fixture *f = *state;
	uint8_t room[CSTORE_ROOM_ID_LEN];
	uint64_t seq;
	test_fill(1, room, sizeof room);
	/* A write, so the -wal file exists too. */
	assert_int_equal(cstore_seq_next(f->cs, room, 0, &seq), CC_OK);
	tmpdir_db_expect_private(f->tmp.path);
}

static void test_file_mode_tightened(void **state)
{
	struct fixture *f = *state;
	char path[160];
	tmpdir_file_loose(&f->tmp, "loose.db", path, sizeof path);

	struct client_store *cs = NULL;
	assert_int_equal(cstore_open(path, &cs), CC_OK);
	tmpdir_expect_mode(path, 0600);
	cstore_close(cs);
}

static void test_key_put_get(void **state)
{
	struct fixture *f = *state;
	uint8_t room[CSTORE_ROOM_ID_LEN], key[CSTORE_KEY_LEN], got[CSTORE_KEY_LEN];
	test_fill(2, room, sizeof room);
	test_fill(3, key, sizeof key);

	memset(got, 0xaa, sizeof got);
	assert_int_equal(cstore_key_get(f->cs, room, 0, got), CC_ERR_NOT_FOUND);
	/* Nothing left behind on failure. */
	for (size_t i = 0; i < sizeof got; i++)
		assert_int_equal(got[i], 0);

	assert_int_equal(cstore_key_put(f->cs, room, 0, key), CC_OK);
	assert_int_equal(cstore_key_get(f->cs, room, 0, got), CC_OK);
	assert_memory_equal(got, key, sizeof key);
	/* Another epoch is another key. */
	assert_int_equal(cstore_key_get(f->cs, room, 1, got), CC_ERR_NOT_FOUND);

	/* put replaces. */
	uint8_t key2[CSTORE_KEY_LEN];
	test_fill(4, key2, sizeof key2);
	assert_int_equal(cstore_key_put(f->cs, room, 0, key2), CC_OK);
	assert_int_equal(cstore_key_get(f->cs, room, 0, got), CC_OK);
	assert_memory_equal(got, key2, sizeof key2);

	/* The whole epoch range. */
	assert_int_equal(cstore_key_put(f->cs, room, UINT32_MAX, key), CC_OK);
	assert_int_equal(cstore_key_get(f->cs, room, UINT32_MAX, got), CC_OK);
	assert_memory_equal(got, key, sizeof key);
	assert_int_equal(cstore_key_get(f->cs, room, 0, got), CC_OK);
	assert_memory_equal(got, key2, sizeof key2);
}

static void test_key_per_room(void **state)
{
	struct fixture *f = *state;
	uint8_t room_a[CSTORE_ROOM_ID_LEN], room_b[CSTORE_ROOM_ID_LEN];
	uint8_t key_a[CSTORE_KEY_LEN], key_b[CSTORE_KEY_LEN], got[CSTORE_KEY_LEN];
	test_fill(5, room_a, sizeof room_a);
	memcpy(room_b, room_a, sizeof room_b);
	room_b[CSTORE_ROOM_ID_LEN - 1] ^= 1; /* differs in the last byte only */
	test_fill(6, key_a, sizeof key_a);
	test_fill(7, key_b, sizeof key_b);

	assert_int_equal(cstore_key_put(f->cs, room_a, 3, key_a), CC_OK);
	assert_int_equal(cstore_key_get(f->cs, room_b, 3, got), CC_ERR_NOT_FOUND);
	assert_int_equal(cstore_key_put(f->cs, room_b, 3, key_b), CC_OK);
	assert_int_equal(cstore_key_get(f->cs, room_a, 3, got), CC_OK);
	assert_memory_equal(got, key_a, sizeof got);
	assert_int_equal(cstore_key_get(f->cs, room_b, 3, got), CC_OK);
	assert_memory_equal(got, key_b, sizeof got);
}

/* A verified room to hang message ids on: head of count records. */
static void test_room_put(struct fixture *f, const uint8_t room[CSTORE_ROOM_ID_LEN],
			  uint32_t count)
{
	struct cstore_room r = {.head_count = count, .epoch = count, .members = 2};
	test_fill((uint8_t)count, r.head_hash, sizeof r.head_hash);
	snprintf(r.admin, sizeof r.admin, "alice");
	assert_int_equal(cstore_room_put(f->cs, room, &r), CC_OK);
}

static uint64_t test_last_id(struct fixture *f, const uint8_t room[CSTORE_ROOM_ID_LEN])
{
	struct cstore_room r;
	assert_int_equal(cstore_room_get(f->cs, room, &r), CC_OK);
	return r.last_msg_id;
}

static uint64_t test_seen_of(struct fixture *f, const uint8_t room[CSTORE_ROOM_ID_LEN],
			     const uint8_t fp[CSTORE_FP_LEN], uint32_t epoch)
{
	uint64_t v = 99;
	assert_int_equal(cstore_seen_get(f->cs, room, fp, epoch, &v), CC_OK);
	return v;
}

static uint64_t test_activity_of(struct fixture *f, const uint8_t fp[CSTORE_FP_LEN])
{
	uint64_t v = 99;
	assert_int_equal(cstore_activity_get(f->cs, fp, &v), CC_OK);
	return v;
}

/* A handled message raises three numbers at once (the sender's seen number
 * for the epoch, the room's last message id, the sender's activity), and
 * none goes down. */
static void test_seen_message(void **state)
{
	struct fixture *f = *state;
	uint8_t room[CSTORE_ROOM_ID_LEN], alice[CSTORE_FP_LEN];
	test_fill(8, room, sizeof room);
	test_fill(9, alice, sizeof alice);
	test_room_put(f, room, 3);

	assert_int_equal(cstore_seen_put_message(f->cs, room, alice, 2, 3, 40, 1000), CC_OK);
	assert_int_equal(test_seen_of(f, room, alice, 2), 3);
	assert_int_equal(test_last_id(f, room), 40);
	assert_int_equal(test_activity_of(f, alice), 1000);
	/* Lower numbers are ignored, each on its own. */
	assert_int_equal(cstore_seen_put_message(f->cs, room, alice, 2, 2, 41, 900), CC_OK);
	assert_int_equal(test_seen_of(f, room, alice, 2), 3);
	assert_int_equal(test_last_id(f, room), 41);
	assert_int_equal(test_activity_of(f, alice), 1000);
	assert_int_equal(cstore_seen_put_message(f->cs, room, alice, 2, 4, 30, 1100), CC_OK);
	assert_int_equal(test_seen_of(f, room, alice, 2), 4);
	assert_int_equal(test_last_id(f, room), 41);
	assert_int_equal(test_activity_of(f, alice), 1100);
	/* A number out of range writes none of the three. */
	assert_int_equal(cstore_seen_put_message(f->cs, room, alice, 2, UINT64_MAX, 50, 2000),
			 CC_ERR_MALFORMED);
	assert_int_equal(cstore_seen_put_message(f->cs, room, alice, 2, 9, (uint64_t)INT64_MAX + 1,
						 2000), CC_ERR_MALFORMED);
	assert_int_equal(cstore_seen_put_message(f->cs, room, alice, 2, 9, 50,
						 (uint64_t)INT64_MAX + 1), CC_ERR_MALFORMED);
	assert_int_equal(test_seen_of(f, room, alice, 2), 4);
	assert_int_equal(test_last_id(f, room), 41);
	assert_int_equal(test_activity_of(f, alice), 1100);
	/* The largest storable values go through. */
	assert_int_equal(cstore_seen_put_message(f->cs, room, alice, 2, (uint64_t)INT64_MAX,
						 (uint64_t)INT64_MAX, (uint64_t)INT64_MAX), CC_OK);
	assert_int_equal(test_seen_of(f, room, alice, 2), (uint64_t)INT64_MAX);
	assert_int_equal(test_last_id(f, room), (uint64_t)INT64_MAX);
	assert_int_equal(test_activity_of(f, alice), (uint64_t)INT64_MAX);

	/* A room never verified here has no row to raise: the seen number and
	 * the activity are kept, no room appears. */
	uint8_t unverified[CSTORE_ROOM_ID_LEN], bob[CSTORE_FP_LEN];
	struct cstore_room r;
	test_fill(40, unverified, sizeof unverified);
	test_fill(41, bob, sizeof bob);
	assert_int_equal(cstore_seen_put_message(f->cs, unverified, bob, 0, 5, 6, 7), CC_OK);
	assert_int_equal(test_seen_of(f, unverified, bob, 0), 5);
	assert_int_equal(test_activity_of(f, bob), 7);
	assert_int_equal(cstore_room_get(f->cs, unverified, &r), CC_ERR_NOT_FOUND);
}

static void test_seen(void **state)
{
	struct fixture *f = *state;
	uint8_t room[CSTORE_ROOM_ID_LEN], alice[CSTORE_FP_LEN], bob[CSTORE_FP_LEN];
	test_fill(8, room, sizeof room);
	test_fill(9, alice, sizeof alice);
	test_fill(10, bob, sizeof bob);

	/* 0 until something was seen. */
	assert_int_equal(test_seen_of(f, room, alice, 0), 0);

	assert_int_equal(cstore_seen_put_message(f->cs, room, alice, 0, 5, 1, 1), CC_OK);
	assert_int_equal(test_seen_of(f, room, alice, 0), 5);
	assert_int_equal(cstore_seen_put_message(f->cs, room, alice, 0, 7, 2, 1), CC_OK);
	assert_int_equal(test_seen_of(f, room, alice, 0), 7);

	/* Never lowered: not by a lower value, not by 0, not by the same. */
	const uint64_t lower[] = {6, 0, 1, 7};
	for (size_t i = 0; i < sizeof lower / sizeof lower[0]; i++) {
		assert_int_equal(cstore_seen_put_message(f->cs, room, alice, 0, lower[i], 3, 1),
				 CC_OK);
		assert_int_equal(test_seen_of(f, room, alice, 0), 7);
	}
	/* Not across a reopen either. */
	test_reopen(f);
	assert_int_equal(cstore_seen_put_message(f->cs, room, alice, 0, 3, 4, 1), CC_OK);
	assert_int_equal(test_seen_of(f, room, alice, 0), 7);

	/* Per sender. */
	assert_int_equal(test_seen_of(f, room, bob, 0), 0);
	assert_int_equal(cstore_seen_put_message(f->cs, room, bob, 0, 2, 5, 1), CC_OK);
	assert_int_equal(test_seen_of(f, room, bob, 0), 2);
	assert_int_equal(test_seen_of(f, room, alice, 0), 7);

	/* Per room. */
	uint8_t other[CSTORE_ROOM_ID_LEN];
	test_fill(11, other, sizeof other);
	assert_int_equal(test_seen_of(f, other, alice, 0), 0);
	assert_int_equal(cstore_seen_put_message(f->cs, other, alice, 0, 1, 6, 1), CC_OK);
	assert_int_equal(test_seen_of(f, room, alice, 0), 7);
	assert_int_equal(test_seen_of(f, other, alice, 0), 1);
}

/* Sequence numbers count per sender and epoch: each epoch's start at 0
 * seen, whatever the others hold, and stay apart. */
static void test_seen_per_epoch(void **state)
{
	struct fixture *f = *state;
	uint8_t room[CSTORE_ROOM_ID_LEN], alice[CSTORE_FP_LEN];
	test_fill(12, room, sizeof room);
	test_fill(13, alice, sizeof alice);

	assert_int_equal(cstore_seen_put_message(f->cs, room, alice, 0, 40, 1, 1), CC_OK);
	assert_int_equal(test_seen_of(f, room, alice, 1), 0);
	assert_int_equal(cstore_seen_put_message(f->cs, room, alice, 1, 2, 2, 2), CC_OK);
	assert_int_equal(test_seen_of(f, room, alice, 0), 40);
	assert_int_equal(test_seen_of(f, room, alice, 1), 2);
	/* A later epoch's low numbers do not lower an earlier one's, nor the
	 * reverse. */
	assert_int_equal(cstore_seen_put_message(f->cs, room, alice, 0, 41, 3, 3), CC_OK);
	assert_int_equal(cstore_seen_put_message(f->cs, room, alice, 1, 1, 4, 4), CC_OK);
	assert_int_equal(test_seen_of(f, room, alice, 0), 41);
	assert_int_equal(test_seen_of(f, room, alice, 1), 2);
	/* The whole epoch range. */
	assert_int_equal(cstore_seen_put_message(f->cs, room, alice, UINT32_MAX, 9, 5, 5), CC_OK);
	assert_int_equal(test_seen_of(f, room, alice, UINT32_MAX), 9);
	assert_int_equal(test_seen_of(f, room, alice, UINT32_MAX - 1), 0);
	assert_int_equal(test_seen_of(f, room, alice, 2), 0);
	test_reopen(f);
	assert_int_equal(test_seen_of(f, room, alice, 0), 41);
	assert_int_equal(test_seen_of(f, room, alice, 1), 2);
	assert_int_equal(test_seen_of(f, room, alice, UINT32_MAX), 9);
}

static void test_seq_next(void **state)
{
	struct fixture *f = *state;
	uint8_t room_a[CSTORE_ROOM_ID_LEN], room_b[CSTORE_ROOM_ID_LEN];
	uint64_t seq;
	test_fill(12, room_a, sizeof room_a);
	test_fill(13, room_b, sizeof room_b);

	for (uint64_t i = 1; i <= 5; i++) {
		assert_int_equal(cstore_seq_next(f->cs, room_a, 0, &seq), CC_OK);
		assert_int_equal(seq, i);
	}
	/* Per room: another room starts at 1. */
	assert_int_equal(cstore_seq_next(f->cs, room_b, 0, &seq), CC_OK);
	assert_int_equal(seq, 1);
	assert_int_equal(cstore_seq_next(f->cs, room_a, 0, &seq), CC_OK);
	assert_int_equal(seq, 6);

	/* Across reopen it continues, never repeats. */
	test_reopen(f);
	assert_int_equal(cstore_seq_next(f->cs, room_a, 0, &seq), CC_OK);
	assert_int_equal(seq, 7);
	assert_int_equal(cstore_seq_next(f->cs, room_b, 0, &seq), CC_OK);
	assert_int_equal(seq, 2);
}

/* Per epoch: a new epoch starts at 1, and the old one's counter goes on
 * where it was (a message sealed in it before the rekey arrived). */
static void test_seq_next_per_epoch(void **state)
{
	struct fixture *f = *state;
	uint8_t room[CSTORE_ROOM_ID_LEN];
	uint64_t seq;
	test_fill(16, room, sizeof room);

	for (uint64_t i = 1; i <= 3; i++) {
		assert_int_equal(cstore_seq_next(f->cs, room, 4, &seq), CC_OK);
		assert_int_equal(seq, i);
	}
	assert_int_equal(cstore_seq_next(f->cs, room, 5, &seq), CC_OK);
	assert_int_equal(seq, 1);
	assert_int_equal(cstore_seq_next(f->cs, room, 5, &seq), CC_OK);
	assert_int_equal(seq, 2);
	assert_int_equal(cstore_seq_next(f->cs, room, 4, &seq), CC_OK);
	assert_int_equal(seq, 4);
	assert_int_equal(cstore_seq_next(f->cs, room, 0, &seq), CC_OK);
	assert_int_equal(seq, 1);
	assert_int_equal(cstore_seq_next(f->cs, room, UINT32_MAX, &seq), CC_OK);
	assert_int_equal(seq, 1);
	test_reopen(f);
	assert_int_equal(cstore_seq_next(f->cs, room, 5, &seq), CC_OK);
	assert_int_equal(seq, 3);
	assert_int_equal(cstore_seq_next(f->cs, room, UINT32_MAX, &seq), CC_OK);
	assert_int_equal(seq, 2);
	assert_int_equal(cstore_seq_next(f->cs, room, 4, &seq), CC_OK);
	assert_int_equal(seq, 5);
}

/* Two handles on one file (two client processes by mistake) still never
 * hand out the same number. */
static void test_seq_next_two_handles(void **state)
{
	struct fixture *f = *state;
	uint8_t room[CSTORE_ROOM_ID_LEN];
	test_fill(14, room, sizeof room);
	struct client_store *cs2 = NULL;
	assert_int_equal(cstore_open(f->tmp.path, &cs2), CC_OK);
	uint64_t expect = 1;
	for (int i = 0; i < 20; i++) {
		uint64_t seq;
		struct client_store *cs = (i % 3 == 0) ? cs2 : f->cs;
		assert_int_equal(cstore_seq_next(cs, room, 7, &seq), CC_OK);
		assert_int_equal(seq, expect);
		expect++;
	}
	cstore_close(cs2);
}

/* A process that dies right after seq_next returned (no close, no
 * checkpoint) must not get the number again on the next run. */
static void test_seq_next_survives_crash(void **state)
{
	struct fixture *f = *state;
	uint8_t room[CSTORE_ROOM_ID_LEN];
	uint64_t seq;
	test_fill(15, room, sizeof room);
	assert_int_equal(cstore_seq_next(f->cs, room, 2, &seq), CC_OK);
	assert_int_equal(seq, 1);
	cstore_close(f->cs);
	f->cs = NULL;

	int fds[2];
	assert_int_equal(pipe(fds), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct client_store *cs = NULL;
		uint64_t got = 0;
		close(fds[0]);
		if (cstore_open(f->tmp.path, &cs) != CC_OK ||
		    cstore_seq_next(cs, room, 2, &got) != CC_OK)
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

	assert_int_equal(cstore_open(f->tmp.path, &f->cs), CC_OK);
	assert_int_equal(cstore_seq_next(f->cs, room, 2, &seq), CC_OK);
	assert_int_equal(seq, 3);
}

/* Forgetting a room (after leaving it) drops its secrets, counters and
 * title, and keeps its verified head: a server that later replays the old
 * history is still caught. */
static void test_room_forget(void **state)
{
	struct fixture *f = *state;
	uint8_t room[CSTORE_ROOM_ID_LEN], other[CSTORE_ROOM_ID_LEN];
	uint8_t key[CSTORE_KEY_LEN], got[CSTORE_KEY_LEN], fp[CSTORE_FP_LEN];
	uint64_t seq;
	struct cstore_room head = {.head_count = 7, .epoch = 3, .members = 4};
	test_fill(16, room, sizeof room);
	test_fill(17, other, sizeof other);
	test_fill(18, key, sizeof key);
	test_fill(19, fp, sizeof fp);
	test_fill(33, head.head_hash, sizeof head.head_hash);
	snprintf(head.admin, sizeof head.admin, "Carol");
	snprintf(head.title, sizeof head.title, "plans");

	for (int r = 0; r < 2; r++) {
		const uint8_t *id = r ? other : room;
		assert_int_equal(cstore_room_put(f->cs, id, &head), CC_OK);
		assert_int_equal(cstore_key_put(f->cs, id, 0, key), CC_OK);
		assert_int_equal(cstore_key_put(f->cs, id, 3, key), CC_OK);
		assert_int_equal(cstore_seen_put_message(f->cs, id, fp, 2, 40, 90, 500), CC_OK);
		assert_int_equal(cstore_seen_put_message(f->cs, id, fp, 3, 8, 91, 600), CC_OK);
		assert_int_equal(cstore_seq_next(f->cs, id, 3, &seq), CC_OK);
		assert_int_equal(cstore_seq_next(f->cs, id, 3, &seq), CC_OK);
		assert_int_equal(cstore_seq_next(f->cs, id, 2, &seq), CC_OK);
	}
	assert_int_equal(cstore_pin_put(f->cs, "carol", fp, 1, 10), CC_OK);
	assert_int_equal(cstore_sign_put(f->cs, fp, 2, key), CC_OK);

	assert_int_equal(cstore_room_forget(f->cs, room), CC_OK);
	assert_int_equal(cstore_key_get(f->cs, room, 0, got), CC_ERR_NOT_FOUND);
	assert_int_equal(cstore_key_get(f->cs, room, 3, got), CC_ERR_NOT_FOUND);
	assert_int_equal(test_seen_of(f, room, fp, 2), 0);
	assert_int_equal(test_seen_of(f, room, fp, 3), 0);
	assert_int_equal(cstore_seq_next(f->cs, room, 3, &seq), CC_OK);
	assert_int_equal(seq, 1);
	assert_int_equal(cstore_seq_next(f->cs, room, 2, &seq), CC_OK);
	assert_int_equal(seq, 1);
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
	assert_int_equal(cstore_key_get(f->cs, other, 3, got), CC_OK);
	assert_memory_equal(got, key, sizeof key);
	assert_int_equal(test_seen_of(f, other, fp, 2), 40);
	assert_int_equal(test_seen_of(f, other, fp, 3), 8);
	assert_int_equal(cstore_seq_next(f->cs, other, 3, &seq), CC_OK);
	assert_int_equal(seq, 3);
	assert_int_equal(cstore_room_get(f->cs, other, &kept), CC_OK);
	assert_string_equal(kept.title, "plans");
	assert_int_equal(kept.last_msg_id, 91);
	struct cstore_pin pin;
	assert_int_equal(cstore_pin_get(f->cs, "carol", &pin), CC_OK);
	uint32_t version;
	assert_int_equal(cstore_sign_get(f->cs, fp, &version, got), CC_OK);
	assert_int_equal(version, 2);
	assert_int_equal(test_activity_of(f, fp), 600);

	/* Forgetting an unknown room is fine (and makes none); it stays
	 * forgotten after reopen. */
	uint8_t unknown[CSTORE_ROOM_ID_LEN];
	test_fill(20, unknown, sizeof unknown);
	assert_int_equal(cstore_room_forget(f->cs, unknown), CC_OK);
	assert_int_equal(cstore_room_get(f->cs, unknown, &kept), CC_ERR_NOT_FOUND);
	test_reopen(f);
	assert_int_equal(cstore_key_get(f->cs, room, 0, got), CC_ERR_NOT_FOUND);
	assert_int_equal(cstore_key_get(f->cs, other, 0, got), CC_OK);
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
	test_fill(34, room, sizeof room);
	test_fill(35, other, sizeof other);

	memset(&got, 0x5a, sizeof got);
	assert_int_equal(cstore_room_get(f->cs, room, &got), CC_ERR_NOT_FOUND);
	/* Nothing left behind on failure. */
	assert_int_equal(got.head_count, 0);
	assert_int_equal(got.admin[0], '\0');
	assert_int_equal(got.last_msg_id, 0);

	/* Every field at its largest: the longest admin and title (UTF-8). */
	memset(&r, 0, sizeof r);
	r.head_count = UINT32_MAX;
	test_fill(36, r.head_hash, sizeof r.head_hash);
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
	assert_int_equal(test_last_id(f, room), 10);
	assert_int_equal(cstore_room_last_id_put(f->cs, room, 9), CC_OK);
	assert_int_equal(cstore_room_last_id_put(f->cs, room, 0), CC_OK);
	assert_int_equal(cstore_room_last_id_put(f->cs, room, 10), CC_OK);
	assert_int_equal(test_last_id(f, room), 10);
	assert_int_equal(cstore_room_last_id_put(f->cs, room, 11), CC_OK);
	assert_int_equal(test_last_id(f, room), 11);
	assert_int_equal(cstore_room_last_id_put(f->cs, room, (uint64_t)INT64_MAX + 1),
			 CC_ERR_MALFORMED);
	assert_int_equal(test_last_id(f, room), 11);
	/* For a room never verified: nothing to raise, no row made. */
	assert_int_equal(cstore_room_last_id_put(f->cs, other, 5), CC_OK);
	assert_int_equal(cstore_room_get(f->cs, other, &got), CC_ERR_NOT_FOUND);

	/* A put replaces the head and the rest, with "" for none. */
	memset(&r, 0, sizeof r);
	r.head_count = 3;
	test_fill(37, r.head_hash, sizeof r.head_hash);
	r.epoch = 2;
	r.members = 1;
	assert_int_equal(cstore_room_put(f->cs, room, &r), CC_OK);
	test_reopen(f);
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
	test_fill(42, alice, sizeof alice);
	test_fill(43, bob, sizeof bob);
	test_fill(44, k1, sizeof k1);
	test_fill(45, k2, sizeof k2);
	test_fill(46, k3, sizeof k3);

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
	test_reopen(f);
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
		test_fill((uint8_t)(50 + i), fps[i], sizeof fps[i]);

	assert_int_equal(test_activity_of(f, fps[0]), 0);
	assert_int_equal(cstore_activity_put(f->cs, fps[0], 100), CC_OK);
	assert_int_equal(test_activity_of(f, fps[0]), 100);
	assert_int_equal(cstore_activity_put(f->cs, fps[0], 50), CC_OK);
	assert_int_equal(cstore_activity_put(f->cs, fps[0], 0), CC_OK);
	assert_int_equal(cstore_activity_put(f->cs, fps[0], 100), CC_OK);
	assert_int_equal(test_activity_of(f, fps[0]), 100);
	assert_int_equal(cstore_activity_put(f->cs, fps[0], 200), CC_OK);
	assert_int_equal(test_activity_of(f, fps[0]), 200);
	assert_int_equal(cstore_activity_put(f->cs, fps[0], (uint64_t)INT64_MAX + 1),
			 CC_ERR_MALFORMED);
	assert_int_equal(test_activity_of(f, fps[0]), 200);
	assert_int_equal(test_activity_of(f, fps[1]), 0);

	/* Several at once: raised where newer, kept where not, new ones
	 * added. */
	assert_int_equal(cstore_activity_put(f->cs, fps[1], 1000), CC_OK);
	const uint64_t times[3] = {300, 999, 7};
	assert_int_equal(cstore_activity_put_all(f->cs, (const uint8_t(*)[CSTORE_FP_LEN])fps,
						 times, 3), CC_OK);
	assert_int_equal(test_activity_of(f, fps[0]), 300);
	assert_int_equal(test_activity_of(f, fps[1]), 1000);
	assert_int_equal(test_activity_of(f, fps[2]), 7);
	assert_int_equal(test_activity_of(f, fps[3]), 0);
	/* One bad time refuses the whole batch: the earlier ones are rolled
	 * back. */
	const uint64_t bad[4] = {400, 2000, 8, (uint64_t)INT64_MAX + 1};
	assert_int_equal(cstore_activity_put_all(f->cs, (const uint8_t(*)[CSTORE_FP_LEN])fps,
						 bad, 4), CC_ERR_MALFORMED);
	assert_int_equal(test_activity_of(f, fps[0]), 300);
	assert_int_equal(test_activity_of(f, fps[1]), 1000);
	assert_int_equal(test_activity_of(f, fps[2]), 7);
	assert_int_equal(test_activity_of(f, fps[3]), 0);
	/* None at all is nothing to do; a count without arrays is a bug. */
	assert_int_equal(cstore_activity_put_all(f->cs, NULL, NULL, 0), CC_OK);
	assert_int_equal(cstore_activity_put_all(f->cs, NULL, times, 1), CC_ERR_INTERNAL);
	assert_int_equal(cstore_activity_put_all(f->cs, (const uint8_t(*)[CSTORE_FP_LEN])fps,
						 NULL, 1), CC_ERR_INTERNAL);
	assert_int_equal(cstore_activity_put_all(NULL, (const uint8_t(*)[CSTORE_FP_LEN])fps,
						 times, 1), CC_ERR_INTERNAL);
	test_reopen(f);
	assert_int_equal(test_activity_of(f, fps[0]), 300);
	assert_int_equal(test_activity_of(f, fps[2]), 7);
}

static void test_pin(void **state)
{
	struct fixture *f = *state;
	uint8_t fp1[CSTORE_FP_LEN], fp2[CSTORE_FP_LEN];
	struct cstore_pin pin;
	test_fill(21, fp1, sizeof fp1);
	test_fill(22, fp2, sizeof fp2);

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
	test_fill(23, fp, sizeof fp);
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
	uint8_t fp[CSTORE_FP_LEN];
	uint64_t v, seq;
	test_fill(24, room, sizeof room);
	test_fill(25, key, sizeof key);
	test_fill(26, fp, sizeof fp);

	struct cstore_room head = {.head_count = 5, .epoch = 9, .members = 2};
	test_fill(27, head.head_hash, sizeof head.head_hash);
	snprintf(head.admin, sizeof head.admin, "Frank");
	snprintf(head.title, sizeof head.title, "t");
	assert_int_equal(cstore_room_put(f->cs, room, &head), CC_OK);
	assert_int_equal(cstore_key_put(f->cs, room, 9, key), CC_OK);
	assert_int_equal(cstore_seen_put_message(f->cs, room, fp, 9, 123, 77, 5555), CC_OK);
	assert_int_equal(cstore_seq_next(f->cs, room, 9, &seq), CC_OK);
	assert_int_equal(cstore_seq_next(f->cs, room, 9, &seq), CC_OK);
	assert_int_equal(cstore_pin_put(f->cs, "Frank", fp, 1, 4242), CC_OK);
	assert_int_equal(cstore_sign_put(f->cs, fp, 6, key), CC_OK);

	for (int round = 0; round < 2; round++) {
		test_reopen(f);
		assert_int_equal(cstore_key_get(f->cs, room, 9, got), CC_OK);
		assert_memory_equal(got, key, sizeof key);
		assert_int_equal(cstore_seen_get(f->cs, room, fp, 9, &v), CC_OK);
		assert_int_equal(v, 123);
		assert_int_equal(test_activity_of(f, fp), 5555);
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
	}
	assert_int_equal(cstore_seq_next(f->cs, room, 9, &seq), CC_OK);
	assert_int_equal(seq, 3);
}

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

/* Migration 2 (protocol 2): the room tables of protocol 1 go (their secrets
 * and counters mean nothing under its rules), the pins stay, and the new
 * tables work. */
static void test_upgrade_from_v1(void **state)
{
	struct fixture *f = *state;
	char path[160];
	snprintf(path, sizeof path, "%s/v1.db", f->tmp.dir);
	test_v1_write(path);
	tmpdir_db_expect_no_wal(path);
	assert_int_equal(tmpdir_db_version_get(path), 1);

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
	assert_int_equal(cstore_key_get(cs, room, 0, key), CC_ERR_NOT_FOUND);
	assert_int_equal(cstore_key_get(cs, room, 1, key), CC_ERR_NOT_FOUND);
	for (uint32_t epoch = 0; epoch < 2; epoch++) {
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
	/* The new tables work, and outlive a reopen. */
	assert_int_equal(cstore_seq_next(cs, room, 0, &v), CC_OK);
	assert_int_equal(v, 1);
	memset(key, 0x99, sizeof key);
	assert_int_equal(cstore_key_put(cs, room, 1, key), CC_OK);
	memset(&r, 0, sizeof r);
	r.head_count = 2;
	assert_int_equal(cstore_room_put(cs, room, &r), CC_OK);
	assert_int_equal(cstore_seen_put_message(cs, room, fp, 1, 3, 4, 5), CC_OK);
	cstore_close(cs);
	assert_int_equal(tmpdir_db_version_get(path), 2);
	assert_int_equal(cstore_open(path, &cs), CC_OK);
	assert_int_equal(cstore_key_get(cs, room, 1, key), CC_OK);
	assert_int_equal(key[0], 0x99);
	assert_int_equal(cstore_room_get(cs, room, &r), CC_OK);
	assert_int_equal(r.head_count, 2);
	assert_int_equal(r.last_msg_id, 4);
	assert_int_equal(cstore_seen_get(cs, room, fp, 1, &v), CC_OK);
	assert_int_equal(v, 3);
	assert_int_equal(cstore_seq_next(cs, room, 0, &v), CC_OK);
	assert_int_equal(v, 2);
	assert_int_equal(cstore_pin_get(cs, "old_friend", &pin), CC_OK);
	cstore_close(cs);
}

static void test_future_version_refused(void **state)
{
	struct fixture *f = *state;
	uint8_t room[CSTORE_ROOM_ID_LEN], key[CSTORE_KEY_LEN], got[CSTORE_KEY_LEN];
	test_fill(27, room, sizeof room);
	test_fill(28, key, sizeof key);
	assert_int_equal(cstore_key_put(f->cs, room, 1, key), CC_OK);
	cstore_close(f->cs);
	f->cs = NULL;

	tmpdir_db_expect_no_wal(f->tmp.path);
	uint32_t latest = tmpdir_db_version_get(f->tmp.path);
	assert_true(latest >= 1);
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
	assert_int_equal(cstore_open(f->tmp.path, &f->cs), CC_OK);
	assert_int_equal(cstore_key_get(f->cs, room, 1, got), CC_OK);
	assert_memory_equal(got, key, sizeof key);
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
	uint8_t room[CSTORE_ROOM_ID_LEN];
	uint64_t seq;
	test_fill(29, room, sizeof room);
	assert_int_equal(cstore_open(":memory:", &cs), CC_OK);
	assert_int_equal(cstore_seq_next(cs, room, 0, &seq), CC_OK);
	assert_int_equal(seq, 1);
	cstore_close(cs);
}

static void test_bad_args(void **state)
{
	struct fixture *f = *state;
	uint8_t room[CSTORE_ROOM_ID_LEN], key[CSTORE_KEY_LEN], fp[CSTORE_FP_LEN];
	uint64_t v;
	uint32_t version;
	struct cstore_pin pin;
	struct cstore_room r = {0};
	test_fill(30, room, sizeof room);
	test_fill(31, key, sizeof key);
	test_fill(32, fp, sizeof fp);

	assert_int_equal(cstore_key_put(NULL, room, 0, key), CC_ERR_INTERNAL);
	assert_int_equal(cstore_key_put(f->cs, NULL, 0, key), CC_ERR_INTERNAL);
	assert_int_equal(cstore_key_put(f->cs, room, 0, NULL), CC_ERR_INTERNAL);
	assert_int_equal(cstore_key_get(f->cs, NULL, 0, key), CC_ERR_INTERNAL);
	assert_int_equal(cstore_key_get(f->cs, room, 0, NULL), CC_ERR_INTERNAL);
	assert_int_equal(cstore_room_forget(f->cs, NULL), CC_ERR_INTERNAL);
	assert_int_equal(cstore_seen_get(f->cs, room, NULL, 0, &v), CC_ERR_INTERNAL);
	assert_int_equal(cstore_seen_get(f->cs, room, fp, 0, NULL), CC_ERR_INTERNAL);
	assert_int_equal(cstore_seen_put_message(f->cs, NULL, fp, 0, 1, 1, 1), CC_ERR_INTERNAL);
	assert_int_equal(cstore_seen_put_message(f->cs, room, NULL, 0, 1, 1, 1), CC_ERR_INTERNAL);
	assert_int_equal(cstore_seen_put_message(NULL, room, fp, 0, 1, 1, 1), CC_ERR_INTERNAL);
	assert_int_equal(cstore_seq_next(f->cs, NULL, 0, &v), CC_ERR_INTERNAL);
	assert_int_equal(cstore_seq_next(f->cs, room, 0, NULL), CC_ERR_INTERNAL);
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
	cstore_close(NULL);

	/* None of that wrote anything. */
	assert_int_equal(cstore_key_get(f->cs, room, 0, key), CC_ERR_NOT_FOUND);
	assert_int_equal(cstore_pin_get(f->cs, "gina", &pin), CC_ERR_NOT_FOUND);
	assert_int_equal(cstore_room_get(f->cs, room, &r), CC_ERR_NOT_FOUND);
	assert_int_equal(cstore_sign_get(f->cs, fp, &version, key), CC_ERR_NOT_FOUND);
	assert_int_equal(test_seen_of(f, room, fp, 0), 0);
	assert_int_equal(test_activity_of(f, fp), 0);
	assert_int_equal(cstore_seq_next(f->cs, room, 0, &v), CC_OK);
	assert_int_equal(v, 1);
}

int main(void)
{
	/* Several tests provoke errors on purpose; keep the output to those. */
	log_set_level(LOG_LEVEL_ERROR);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_file_mode, setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_mode_tightened, setup, teardown),
		cmocka_unit_test_setup_teardown(test_key_put_get, setup, teardown),
		cmocka_unit_test_setup_teardown(test_key_per_room, setup, teardown),
		cmocka_unit_test_setup_teardown(test_seen, setup, teardown),
		cmocka_unit_test_setup_teardown(test_seen_message, setup, teardown),
		cmocka_unit_test_setup_teardown(test_seen_per_epoch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_seq_next, setup, teardown),
		cmocka_unit_test_setup_teardown(test_seq_next_per_epoch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_seq_next_two_handles, setup, teardown),
		cmocka_unit_test_setup_teardown(test_seq_next_survives_crash, setup, teardown),
		cmocka_unit_test_setup_teardown(test_room_forget, setup, teardown),
		cmocka_unit_test_setup_teardown(test_room_head, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sign_keys, setup, teardown),
		cmocka_unit_test_setup_teardown(test_activity, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pin, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_nick, setup, teardown),
		cmocka_unit_test_setup_teardown(test_persist, setup, teardown),
		cmocka_unit_test_setup_teardown(test_upgrade_from_v1, setup, teardown),
		cmocka_unit_test_setup_teardown(test_future_version_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_a_database, setup, teardown),
		cmocka_unit_test(test_in_memory),
		cmocka_unit_test_setup_teardown(test_bad_args, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
