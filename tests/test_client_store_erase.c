/* The client's store, part two: real deletion (no old key left anywhere in
 * the files once it is stepped over, forgotten or deleted: secure_delete
 * and a rollback journal, never a WAL), and the replay counters per sender
 * and epoch. */
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

/* ---- real deletion --------------------------------------------------------------- */

/* A chain key overwritten by a step is gone from the files, not merely
 * unlinked from the b-tree or kept in a journal: whoever takes the disk
 * later cannot read back the messages it led to. */
static void test_chain_step_erases_old_key(void **state)
{
	struct fixture *f = *state;
	uint8_t room[CSTORE_ROOM_ID_LEN], alice[CSTORE_FP_LEN], bob[CSTORE_FP_LEN];
	uint8_t keys[2][CSTORE_KEY_LEN], k[CSTORE_KEY_LEN], prev[CSTORE_KEY_LEN];
	uint8_t senders[2][CSTORE_FP_LEN];
	cs_fill(120, room, sizeof room);
	cs_fill(121, alice, sizeof alice);
	cs_fill(122, bob, sizeof bob);
	memcpy(senders[0], alice, CSTORE_FP_LEN);
	memcpy(senders[1], bob, CSTORE_FP_LEN);
	cs_secret(1201, keys[0]);
	cs_secret(1301, keys[1]);
	assert_int_equal(cstore_epoch_add(f->cs, room, 1, (const uint8_t(*)[CSTORE_FP_LEN])senders,
					  (const uint8_t(*)[CSTORE_KEY_LEN])keys, 2), CC_OK);
	/* The scan sees what is there. */
	cs_close(f);
	assert_true(cs_files_hold(f->tmp.path, keys[0]));
	assert_true(cs_files_hold(f->tmp.path, keys[1]));
	cs_open(f);

	/* One step, then look at once: later writes must not be what happens
	 * to cover the old bytes (the step changes the row's size, so SQLite
	 * moves the row rather than overwriting it in place, and without
	 * secure_delete leaves the old one in the page's free space). alice:
	 * our own chain, stepped by chain_advance. */
	cs_secret(1202, k);
	assert_int_equal(cstore_chain_advance(f->cs, room, 1, alice, k, 2), CC_OK);
	cs_close(f);
	cs_expect_rollback_journal(f->tmp.path);
	assert_false(cs_files_hold(f->tmp.path, keys[0]));
	assert_true(cs_files_hold(f->tmp.path, k));
	assert_true(cs_files_hold(f->tmp.path, keys[1]));
	/* bob: stepped as his message is handled. */
	cs_open(f);
	struct cstore_ratchet first = {.next_seq = 2};
	cs_secret(1302, first.chain_key);
	assert_int_equal(cstore_message_handled(f->cs, room, bob, 1, 1, 1, 1, &first), CC_OK);
	cs_close(f);
	cs_expect_rollback_journal(f->tmp.path);
	assert_false(cs_files_hold(f->tmp.path, keys[1]));
	assert_true(cs_files_hold(f->tmp.path, first.chain_key));
	cs_open(f);

	/* Then many steps. */
	for (uint32_t n = 3; n <= 40; n++) {
		cs_secret(1200 + n - 1, prev);
		cs_secret(1200 + n, k);
		cs_chain_expect(f, room, 1, alice, prev, n - 1);
		assert_int_equal(cstore_chain_advance(f->cs, room, 1, alice, k, n), CC_OK);
	}
	for (uint32_t n = 3; n <= 10; n++) {
		struct cstore_ratchet step = {.next_seq = n};
		cs_secret(1300 + n, step.chain_key);
		assert_int_equal(cstore_message_handled(f->cs, room, bob, 1, n - 1, n, n, &step),
				 CC_OK);
	}
	cs_close(f);
	cs_expect_rollback_journal(f->tmp.path);
	for (uint32_t n = 1; n < 40; n++) {
		cs_secret(1200 + n, k);
		assert_false(cs_files_hold(f->tmp.path, k));
	}
	for (uint32_t n = 1; n < 10; n++) {
		cs_secret(1300 + n, k);
		assert_false(cs_files_hold(f->tmp.path, k));
	}
	/* The current keys are there, of course. */
	cs_secret(1240, k);
	assert_true(cs_files_hold(f->tmp.path, k));
	cs_secret(1310, k);
	assert_true(cs_files_hold(f->tmp.path, k));
	cs_open(f);
	cs_secret(1240, k);
	cs_chain_expect(f, room, 1, alice, k, 40);
	cs_secret(1310, k);
	cs_chain_expect(f, room, 1, bob, k, 10);
}

/* A handled message (here without a chain step, as for our own) raises
 * three numbers at once (the sender's seen number for the epoch, the room's
 * last message id, the sender's activity), and none goes down. */
static void test_seen_message(void **state)
{
	struct fixture *f = *state;
	uint8_t room[CSTORE_ROOM_ID_LEN], alice[CSTORE_FP_LEN];
	cs_fill(8, room, sizeof room);
	cs_fill(9, alice, sizeof alice);
	cs_room_put(f, room, 3);

	assert_int_equal(cstore_message_handled(f->cs, room, alice, 2, 3, 40, 1000, NULL), CC_OK);
	assert_int_equal(cs_seen_of(f, room, alice, 2), 3);
	assert_int_equal(cs_last_id(f, room), 40);
	assert_int_equal(cs_activity_of(f, alice), 1000);
	/* Lower numbers are ignored, each on its own. */
	assert_int_equal(cstore_message_handled(f->cs, room, alice, 2, 2, 41, 900, NULL), CC_OK);
	assert_int_equal(cs_seen_of(f, room, alice, 2), 3);
	assert_int_equal(cs_last_id(f, room), 41);
	assert_int_equal(cs_activity_of(f, alice), 1000);
	assert_int_equal(cstore_message_handled(f->cs, room, alice, 2, 4, 30, 1100, NULL), CC_OK);
	assert_int_equal(cs_seen_of(f, room, alice, 2), 4);
	assert_int_equal(cs_last_id(f, room), 41);
	assert_int_equal(cs_activity_of(f, alice), 1100);
	/* A number out of range writes none of the three. */
	assert_int_equal(cstore_message_handled(f->cs, room, alice, 2, UINT64_MAX, 50, 2000, NULL),
			 CC_ERR_MALFORMED);
	assert_int_equal(cstore_message_handled(f->cs, room, alice, 2, 9, (uint64_t)INT64_MAX + 1,
						2000, NULL), CC_ERR_MALFORMED);
	assert_int_equal(cstore_message_handled(f->cs, room, alice, 2, 9, 50,
						(uint64_t)INT64_MAX + 1, NULL), CC_ERR_MALFORMED);
	assert_int_equal(cs_seen_of(f, room, alice, 2), 4);
	assert_int_equal(cs_last_id(f, room), 41);
	assert_int_equal(cs_activity_of(f, alice), 1100);
	/* The largest storable values go through. */
	assert_int_equal(cstore_message_handled(f->cs, room, alice, 2, (uint64_t)INT64_MAX,
						(uint64_t)INT64_MAX, (uint64_t)INT64_MAX, NULL),
			 CC_OK);
	assert_int_equal(cs_seen_of(f, room, alice, 2), (uint64_t)INT64_MAX);
	assert_int_equal(cs_last_id(f, room), (uint64_t)INT64_MAX);
	assert_int_equal(cs_activity_of(f, alice), (uint64_t)INT64_MAX);

	/* A room never verified here has no row to raise: the seen number and
	 * the activity are kept, no room appears. */
	uint8_t unverified[CSTORE_ROOM_ID_LEN], bob[CSTORE_FP_LEN];
	struct cstore_room r;
	cs_fill(40, unverified, sizeof unverified);
	cs_fill(41, bob, sizeof bob);
	assert_int_equal(cstore_message_handled(f->cs, unverified, bob, 0, 5, 6, 7, NULL), CC_OK);
	assert_int_equal(cs_seen_of(f, unverified, bob, 0), 5);
	assert_int_equal(cs_activity_of(f, bob), 7);
	assert_int_equal(cstore_room_get(f->cs, unverified, &r), CC_ERR_NOT_FOUND);
}

static void test_seen(void **state)
{
	struct fixture *f = *state;
	uint8_t room[CSTORE_ROOM_ID_LEN], alice[CSTORE_FP_LEN], bob[CSTORE_FP_LEN];
	cs_fill(8, room, sizeof room);
	cs_fill(9, alice, sizeof alice);
	cs_fill(10, bob, sizeof bob);

	/* 0 until something was seen. */
	assert_int_equal(cs_seen_of(f, room, alice, 0), 0);

	assert_int_equal(cstore_message_handled(f->cs, room, alice, 0, 5, 1, 1, NULL), CC_OK);
	assert_int_equal(cs_seen_of(f, room, alice, 0), 5);
	assert_int_equal(cstore_message_handled(f->cs, room, alice, 0, 7, 2, 1, NULL), CC_OK);
	assert_int_equal(cs_seen_of(f, room, alice, 0), 7);

	/* Never lowered: not by a lower value, not by 0, not by the same. */
	const uint64_t lower[] = {6, 0, 1, 7};
	for (size_t i = 0; i < sizeof lower / sizeof lower[0]; i++) {
		assert_int_equal(cstore_message_handled(f->cs, room, alice, 0, lower[i], 3, 1,
							NULL), CC_OK);
		assert_int_equal(cs_seen_of(f, room, alice, 0), 7);
	}
	/* Not across a reopen either. */
	cs_reopen(f);
	assert_int_equal(cstore_message_handled(f->cs, room, alice, 0, 3, 4, 1, NULL), CC_OK);
	assert_int_equal(cs_seen_of(f, room, alice, 0), 7);

	/* Per sender. */
	assert_int_equal(cs_seen_of(f, room, bob, 0), 0);
	assert_int_equal(cstore_message_handled(f->cs, room, bob, 0, 2, 5, 1, NULL), CC_OK);
	assert_int_equal(cs_seen_of(f, room, bob, 0), 2);
	assert_int_equal(cs_seen_of(f, room, alice, 0), 7);

	/* Per room. */
	uint8_t other[CSTORE_ROOM_ID_LEN];
	cs_fill(11, other, sizeof other);
	assert_int_equal(cs_seen_of(f, other, alice, 0), 0);
	assert_int_equal(cstore_message_handled(f->cs, other, alice, 0, 1, 6, 1, NULL), CC_OK);
	assert_int_equal(cs_seen_of(f, room, alice, 0), 7);
	assert_int_equal(cs_seen_of(f, other, alice, 0), 1);
}

/* Sequence numbers count per sender and epoch: each epoch's start at 0
 * seen, whatever the others hold, and stay apart. */
static void test_seen_per_epoch(void **state)
{
	struct fixture *f = *state;
	uint8_t room[CSTORE_ROOM_ID_LEN], alice[CSTORE_FP_LEN];
	cs_fill(12, room, sizeof room);
	cs_fill(13, alice, sizeof alice);

	assert_int_equal(cstore_message_handled(f->cs, room, alice, 0, 40, 1, 1, NULL), CC_OK);
	assert_int_equal(cs_seen_of(f, room, alice, 1), 0);
	assert_int_equal(cstore_message_handled(f->cs, room, alice, 1, 2, 2, 2, NULL), CC_OK);
	assert_int_equal(cs_seen_of(f, room, alice, 0), 40);
	assert_int_equal(cs_seen_of(f, room, alice, 1), 2);
	/* A later epoch's low numbers do not lower an earlier one's, nor the
	 * reverse. */
	assert_int_equal(cstore_message_handled(f->cs, room, alice, 0, 41, 3, 3, NULL), CC_OK);
	assert_int_equal(cstore_message_handled(f->cs, room, alice, 1, 1, 4, 4, NULL), CC_OK);
	assert_int_equal(cs_seen_of(f, room, alice, 0), 41);
	assert_int_equal(cs_seen_of(f, room, alice, 1), 2);
	/* The whole epoch range. */
	assert_int_equal(cstore_message_handled(f->cs, room, alice, UINT32_MAX, 9, 5, 5, NULL),
			 CC_OK);
	assert_int_equal(cs_seen_of(f, room, alice, UINT32_MAX), 9);
	assert_int_equal(cs_seen_of(f, room, alice, UINT32_MAX - 1), 0);
	assert_int_equal(cs_seen_of(f, room, alice, 2), 0);
	cs_reopen(f);
	assert_int_equal(cs_seen_of(f, room, alice, 0), 41);
	assert_int_equal(cs_seen_of(f, room, alice, 1), 2);
	assert_int_equal(cs_seen_of(f, room, alice, UINT32_MAX), 9);
}

/* Forgetting epochs deletes their chain keys from the files; the later
 * epoch's key, and the other room's, are still there until forgetting the
 * room deletes them too. */
static void test_forget_erases_keys(void **state)
{
	struct fixture *f = *state;
	uint8_t room[CSTORE_ROOM_ID_LEN], other[CSTORE_ROOM_ID_LEN], fp[CSTORE_FP_LEN];
	uint8_t k[4][CSTORE_KEY_LEN], k_other[CSTORE_KEY_LEN];
	cs_fill(130, room, sizeof room);
	cs_fill(131, other, sizeof other);
	cs_fill(132, fp, sizeof fp);
	for (uint32_t e = 1; e <= 3; e++) {
		cs_secret(1400 + e, k[e]);
		cs_epoch_add1(f, room, e, fp, k[e]);
	}
	cs_secret(1410, k_other);
	cs_epoch_add1(f, other, 1, fp, k_other);
	cs_close(f);
	for (uint32_t e = 1; e <= 3; e++)
		assert_true(cs_files_hold(f->tmp.path, k[e]));

	cs_open(f);
	assert_int_equal(cstore_epoch_forget(f->cs, room, 2), CC_OK);
	cs_close(f);
	cs_expect_rollback_journal(f->tmp.path);
	assert_false(cs_files_hold(f->tmp.path, k[1]));
	assert_false(cs_files_hold(f->tmp.path, k[2]));
	assert_true(cs_files_hold(f->tmp.path, k[3]));
	assert_true(cs_files_hold(f->tmp.path, k_other));

	cs_open(f);
	assert_int_equal(cstore_room_forget(f->cs, room), CC_OK);
	cs_close(f);
	cs_expect_rollback_journal(f->tmp.path);
	assert_false(cs_files_hold(f->tmp.path, k[3]));
	assert_true(cs_files_hold(f->tmp.path, k_other));
	cs_open(f);
}

/* Deleting retired receiving keys deletes their private parts from the
 * files; those not yet due stay. */
static void test_recv_delete_erases_keys(void **state)
{
	struct fixture *f = *state;
	struct cstore_recv_key k[3];
	for (uint32_t i = 0; i < 3; i++) {
		k[i] = cs_recv_key(i + 1, 1000u * (i + 1), 1500 + i);
		assert_int_equal(cstore_recv_add(f->cs, &k[i]), CC_OK);
	}
	cs_close(f);
	for (int i = 0; i < 3; i++)
		assert_true(cs_files_hold(f->tmp.path, k[i].priv));

	/* v1 retired at 2000, v2 at 3000. */
	cs_open(f);
	uint32_t deleted = 0;
	assert_int_equal(cstore_recv_delete_retired(f->cs, 2500, &deleted), CC_OK);
	assert_int_equal(deleted, 1);
	cs_close(f);
	cs_expect_rollback_journal(f->tmp.path);
	assert_false(cs_files_hold(f->tmp.path, k[0].priv));
	assert_true(cs_files_hold(f->tmp.path, k[1].priv));
	assert_true(cs_files_hold(f->tmp.path, k[2].priv));

	cs_open(f);
	assert_int_equal(cstore_recv_delete_retired(f->cs, 3001, &deleted), CC_OK);
	assert_int_equal(deleted, 1);
	cs_close(f);
	assert_false(cs_files_hold(f->tmp.path, k[1].priv));
	assert_true(cs_files_hold(f->tmp.path, k[2].priv));
	cs_open(f);
}

int main(void)
{
	/* Several tests provoke errors on purpose; keep the output to those. */
	log_set_level(LOG_LEVEL_ERROR);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_chain_step_erases_old_key, cstore_setup, cstore_teardown),
		cmocka_unit_test_setup_teardown(test_forget_erases_keys, cstore_setup, cstore_teardown),
		cmocka_unit_test_setup_teardown(test_recv_delete_erases_keys, cstore_setup, cstore_teardown),
		cmocka_unit_test_setup_teardown(test_seen, cstore_setup, cstore_teardown),
		cmocka_unit_test_setup_teardown(test_seen_message, cstore_setup, cstore_teardown),
		cmocka_unit_test_setup_teardown(test_seen_per_epoch, cstore_setup, cstore_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
