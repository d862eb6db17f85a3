/* The client's store, part one: its files (mode 0600, a rollback journal),
 * this client's receiving keys (added, retired at the next one's creation,
 * deleted once retired long enough), the newest receiving key seen per
 * user, and every sender's chain key per room and epoch (made once, only
 * ever moved forward, forgotten with its epoch). Part two (erase): real
 * deletion and replay counters; three (rooms): handled messages, rooms,
 * keys seen, pins, persistence; four (upgrade): older files, damaged rows,
 * bad input. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
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

/* ---- files ----------------------------------------------------------------------- */

static void test_file_mode(void **state)
{
	struct fixture *f = *state;
	uint8_t room[CSTORE_ROOM_ID_LEN], fp[CSTORE_FP_LEN], key[CSTORE_KEY_LEN];
	char journal[160];
	cs_fill(1, room, sizeof room);
	cs_fill(2, fp, sizeof fp);
	cs_secret(1, key);
	/* A write, so the journal exists too: TRUNCATE leaves it behind, empty
	 * (DELETE would remove it, PERSIST would leave its old pages). */
	cs_epoch_add1(f, room, 0, fp, key);
	tmpdir_expect_mode(f->tmp.path, 0600);
	snprintf(journal, sizeof journal, "%s-journal", f->tmp.path);
	tmpdir_expect_mode(journal, 0600);
	struct stat sb;
	assert_int_equal(stat(journal, &sb), 0);
	assert_int_equal(sb.st_size, 0);
	cs_expect_rollback_journal(f->tmp.path);
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

/* Every kind of write leaves no write-ahead log behind, open or closed, and
 * an empty journal: no copy of an old page survives its commit. */
static void test_rollback_journal(void **state)
{
	struct fixture *f = *state;
	uint8_t room[CSTORE_ROOM_ID_LEN], fp[CSTORE_FP_LEN], key[CSTORE_KEY_LEN];
	char journal[160];
	struct stat sb;
	cs_fill(3, room, sizeof room);
	cs_fill(4, fp, sizeof fp);
	cs_secret(2, key);
	snprintf(journal, sizeof journal, "%s-journal", f->tmp.path);

	for (int round = 0; round < 2; round++) {
		struct cstore_recv_key k = cs_recv_key((uint32_t)round + 1, 1000u * (round + 1),
							 (uint32_t)round + 3);
		assert_int_equal(cstore_recv_add(f->cs, &k), CC_OK);
		cs_epoch_add1(f, room, (uint32_t)round, fp, key);
		assert_int_equal(cstore_chain_advance(f->cs, room, (uint32_t)round, fp, key, 2),
				 CC_OK);
		struct cstore_ratchet step = {.next_seq = 3};
		cs_secret(4, step.chain_key);
		assert_int_equal(cstore_message_handled(f->cs, room, fp, (uint32_t)round, 2, 1, 1,
							&step), CC_OK);
		assert_int_equal(cstore_recv_seen_put(f->cs, fp, (uint32_t)round + 1, 1, key),
				 CC_OK);
		assert_int_equal(cstore_pin_put(f->cs, "gina", fp, round, 1), CC_OK);
		assert_int_equal(cstore_recv_delete_retired(f->cs, UINT64_MAX, NULL), CC_OK);
		assert_int_equal(cstore_epoch_forget(f->cs, room, 0), CC_OK);
		cs_expect_rollback_journal(f->tmp.path);
		assert_int_equal(stat(journal, &sb), 0);
		assert_int_equal(sb.st_size, 0);
		cs_reopen(f);
	}
	cs_close(f);
	cs_expect_rollback_journal(f->tmp.path);
	assert_true(stat(journal, &sb) != 0 || sb.st_size == 0);
	cs_open(f);
}

/* ---- receiving keys -------------------------------------------------------------- */

/* Added, read by version or as the newest, each older one retired at the
 * creation of the next (and only once: a retired key keeps its time). */
static void test_recv_keys(void **state)
{
	struct fixture *f = *state;
	struct cstore_recv_key got;

	memset(&got, 0x5a, sizeof got);
	assert_int_equal(cstore_recv_current(f->cs, &got), CC_ERR_NOT_FOUND);
	cs_recv_expect_wiped(&got);
	cs_recv_expect_none(f, 1);

	struct cstore_recv_key k1 = cs_recv_key(1, 1000, 10);
	assert_int_equal(cstore_recv_add(f->cs, &k1), CC_OK);
	assert_int_equal(cstore_recv_current(f->cs, &got), CC_OK);
	assert_int_equal(got.version, 1);
	assert_memory_equal(got.priv, k1.priv, CSTORE_KEY_LEN);
	assert_memory_equal(got.pub, k1.pub, CSTORE_KEY_LEN);
	assert_int_equal(got.created_ms, 1000);
	assert_int_equal(got.retired_ms, 0);
	cs_recv_expect(f, &k1, 0);

	/* The next one retires it at its own creation time; the old private
	 * part stays until deleted (messages wrapped to it may still come). */
	struct cstore_recv_key k2 = cs_recv_key(2, 2000, 11);
	assert_int_equal(cstore_recv_add(f->cs, &k2), CC_OK);
	assert_int_equal(cs_current_version(f), 2);
	cs_recv_expect(f, &k2, 0);
	cs_recv_expect(f, &k1, 2000);

	/* Versions need not follow on; the one before is retired at 3500, the
	 * first keeps its time. */
	struct cstore_recv_key k5 = cs_recv_key(5, 3500, 12);
	assert_int_equal(cstore_recv_add(f->cs, &k5), CC_OK);
	assert_int_equal(cs_current_version(f), 5);
	cs_recv_expect(f, &k5, 0);
	cs_recv_expect(f, &k2, 3500);
	cs_recv_expect(f, &k1, 2000);
	cs_recv_expect_none(f, 3);
	cs_recv_expect_none(f, 4);
	cs_recv_expect_none(f, 6);
	cs_recv_expect_none(f, 0);

	/* Version 0 is nobody's key. */
	struct cstore_recv_key bad = cs_recv_key(0, 9000, 13);
	assert_int_equal(cstore_recv_add(f->cs, &bad), CC_ERR_INTERNAL);
	/* A version already here, or below the newest, is refused and changes
	 * nothing: neither the stored key nor, by a retirement, the current one
	 * (an older key would never be retired, so never deleted). */
	bad = cs_recv_key(5, 9000, 14);
	assert_int_equal(cstore_recv_add(f->cs, &bad), CC_ERR_OUTDATED);
	bad = cs_recv_key(4, 9000, 14);
	assert_int_equal(cstore_recv_add(f->cs, &bad), CC_ERR_OUTDATED);
	cs_recv_expect_none(f, 4);
	/* Nor without a time: it could retire nothing. */
	bad = cs_recv_key(6, 0, 14);
	assert_int_equal(cstore_recv_add(f->cs, &bad), CC_ERR_MALFORMED);
	/* A time SQLite cannot hold is refused, and retires nothing. */
	bad = cs_recv_key(6, (uint64_t)INT64_MAX + 1, 15);
	assert_int_equal(cstore_recv_add(f->cs, &bad), CC_ERR_MALFORMED);
	cs_recv_expect_none(f, 6);
	assert_int_equal(cs_current_version(f), 5);
	cs_recv_expect(f, &k5, 0);
	cs_recv_expect(f, &k2, 3500);

	/* The whole version range; and it all outlives a reopen. */
	struct cstore_recv_key kmax = cs_recv_key(UINT32_MAX, (uint64_t)INT64_MAX, 16);
	assert_int_equal(cstore_recv_add(f->cs, &kmax), CC_OK);
	cs_reopen(f);
	assert_int_equal(cs_current_version(f), UINT32_MAX);
	cs_recv_expect(f, &kmax, 0);
	cs_recv_expect(f, &k5, (uint64_t)INT64_MAX);
	cs_recv_expect(f, &k2, 3500);
	cs_recv_expect(f, &k1, 2000);
}

/* Retired keys are deleted once retired before the cutoff (strictly), and
 * only those: never the current key, whatever the time. */
static void test_recv_delete_retired(void **state)
{
	struct fixture *f = *state;
	uint32_t deleted = 99;

	/* Nothing to delete in an empty store. */
	assert_int_equal(cstore_recv_delete_retired(f->cs, UINT64_MAX, &deleted), CC_OK);
	assert_int_equal(deleted, 0);

	struct cstore_recv_key k[4];
	for (uint32_t i = 0; i < 4; i++) {
		k[i] = cs_recv_key(i + 1, 1000u * (i + 1), 20 + i);
		assert_int_equal(cstore_recv_add(f->cs, &k[i]), CC_OK);
	}
	/* v1 retired at 2000, v2 at 3000, v3 at 4000, v4 current. The current
	 * key, however old, is never deleted. */
	deleted = 99;
	assert_int_equal(cstore_recv_delete_retired(f->cs, 2000, &deleted), CC_OK);
	assert_int_equal(deleted, 0);
	cs_recv_expect(f, &k[0], 2000);
	assert_int_equal(cstore_recv_delete_retired(f->cs, 2001, &deleted), CC_OK);
	assert_int_equal(deleted, 1);
	cs_recv_expect_none(f, 1);
	cs_recv_expect(f, &k[1], 3000);
	assert_int_equal(cstore_recv_delete_retired(f->cs, 2001, &deleted), CC_OK);
	assert_int_equal(deleted, 0);

	/* No counter wanted. */
	assert_int_equal(cstore_recv_delete_retired(f->cs, 3500, NULL), CC_OK);
	cs_recv_expect_none(f, 2);
	cs_recv_expect(f, &k[2], 4000);

	/* Any cutoff, even past what SQLite holds, spares the current key. */
	assert_int_equal(cstore_recv_delete_retired(f->cs, UINT64_MAX, &deleted), CC_OK);
	assert_int_equal(deleted, 1);
	cs_recv_expect_none(f, 3);
	cs_recv_expect(f, &k[3], 0);
	assert_int_equal(cs_current_version(f), 4);

	cs_reopen(f);
	for (uint32_t v = 1; v <= 3; v++)
		cs_recv_expect_none(f, v);
	cs_recv_expect(f, &k[3], 0);
	/* The next key retires the current one, which can go in its turn. */
	struct cstore_recv_key k5 = cs_recv_key(5, 9000, 30);
	assert_int_equal(cstore_recv_add(f->cs, &k5), CC_OK);
	assert_int_equal(cstore_recv_delete_retired(f->cs, 9001, &deleted), CC_OK);
	assert_int_equal(deleted, 1);
	cs_recv_expect_none(f, 4);
	cs_recv_expect(f, &k5, 0);
}

/* The newest receiving key seen per user: only a higher version replaces
 * it (whatever its time), per identity key. */
static void test_recv_seen(void **state)
{
	struct fixture *f = *state;
	uint8_t alice[CSTORE_FP_LEN], bob[CSTORE_FP_LEN];
	uint8_t p1[CSTORE_KEY_LEN], p2[CSTORE_KEY_LEN], p3[CSTORE_KEY_LEN], got[CSTORE_KEY_LEN];
	uint32_t version = 99;
	uint64_t created = 99;
	cs_fill(60, alice, sizeof alice);
	cs_fill(61, bob, sizeof bob);
	cs_secret(60, p1);
	cs_secret(61, p2);
	cs_secret(62, p3);

	assert_int_equal(cstore_recv_seen_get(f->cs, alice, &version, &created, got),
			 CC_ERR_NOT_FOUND);
	assert_int_equal(version, 0);
	assert_int_equal(created, 0);

	assert_int_equal(cstore_recv_seen_put(f->cs, alice, 2, 1000, p2), CC_OK);
	assert_int_equal(cstore_recv_seen_get(f->cs, alice, &version, &created, got), CC_OK);
	assert_int_equal(version, 2);
	assert_int_equal(created, 1000);
	assert_memory_equal(got, p2, sizeof got);

	/* Lower or the same version: ignored, whatever the key and time. */
	assert_int_equal(cstore_recv_seen_put(f->cs, alice, 1, 5000, p1), CC_OK);
	assert_int_equal(cstore_recv_seen_put(f->cs, alice, 2, 6000, p3), CC_OK);
	assert_int_equal(cstore_recv_seen_get(f->cs, alice, &version, &created, got), CC_OK);
	assert_int_equal(version, 2);
	assert_int_equal(created, 1000);
	assert_memory_equal(got, p2, sizeof got);
	/* A higher one replaces all three, even made earlier. */
	assert_int_equal(cstore_recv_seen_put(f->cs, alice, 3, 500, p3), CC_OK);
	assert_int_equal(cstore_recv_seen_get(f->cs, alice, &version, &created, got), CC_OK);
	assert_int_equal(version, 3);
	assert_int_equal(created, 500);
	assert_memory_equal(got, p3, sizeof got);

	/* Per identity key. */
	assert_int_equal(cstore_recv_seen_get(f->cs, bob, &version, &created, got),
			 CC_ERR_NOT_FOUND);
	assert_int_equal(cstore_recv_seen_put(f->cs, bob, UINT32_MAX, (uint64_t)INT64_MAX, p1),
			 CC_OK);
	/* Version 0 and times SQLite cannot hold are refused. */
	assert_int_equal(cstore_recv_seen_put(f->cs, alice, 0, 1, p1), CC_ERR_INTERNAL);
	assert_int_equal(cstore_recv_seen_put(f->cs, alice, 9, (uint64_t)INT64_MAX + 1, p1),
			 CC_ERR_MALFORMED);
	cs_reopen(f);
	assert_int_equal(cstore_recv_seen_get(f->cs, alice, &version, &created, got), CC_OK);
	assert_int_equal(version, 3);
	assert_int_equal(created, 500);
	assert_memory_equal(got, p3, sizeof got);
	assert_int_equal(cstore_recv_seen_get(f->cs, bob, &version, &created, got), CC_OK);
	assert_int_equal(version, UINT32_MAX);
	assert_int_equal(created, (uint64_t)INT64_MAX);
	assert_memory_equal(got, p1, sizeof got);
}

/* ---- chains ------------------------------------------------------------------------ */

/* An epoch's chains, one per sender, each at number 1 with its own key;
 * apart per room, epoch and sender. */
static void test_chains(void **state)
{
	struct fixture *f = *state;
	uint8_t room[CSTORE_ROOM_ID_LEN], other[CSTORE_ROOM_ID_LEN];
	uint8_t senders[3][CSTORE_FP_LEN], keys[3][CSTORE_KEY_LEN], carol[CSTORE_FP_LEN];
	cs_fill(70, room, sizeof room);
	memcpy(other, room, sizeof other);
	other[CSTORE_ROOM_ID_LEN - 1] ^= 1; /* differs in the last byte only */
	for (uint8_t i = 0; i < 3; i++) {
		cs_fill((uint8_t)(71 + i), senders[i], sizeof senders[i]);
		cs_secret(70u + i, keys[i]);
	}
	cs_fill(74, carol, sizeof carol);

	assert_int_equal(cstore_epoch_has(f->cs, room, 4), CC_ERR_NOT_FOUND);
	cs_chain_expect_none(f, room, 4, senders[0]);
	assert_int_equal(cs_messages_of(f, room, 4), 0);

	assert_int_equal(cstore_epoch_add(f->cs, room, 4, (const uint8_t(*)[CSTORE_FP_LEN])senders,
					  (const uint8_t(*)[CSTORE_KEY_LEN])keys, 3), CC_OK);
	assert_int_equal(cstore_epoch_has(f->cs, room, 4), CC_OK);
	for (int i = 0; i < 3; i++)
		cs_chain_expect(f, room, 4, senders[i], keys[i], 1);
	assert_int_equal(cs_messages_of(f, room, 4), 0);
	/* Not another sender, epoch or room. */
	cs_chain_expect_none(f, room, 4, carol);
	assert_int_equal(cstore_epoch_has(f->cs, room, 3), CC_ERR_NOT_FOUND);
	assert_int_equal(cstore_epoch_has(f->cs, room, 5), CC_ERR_NOT_FOUND);
	cs_chain_expect_none(f, room, 5, senders[0]);
	assert_int_equal(cstore_epoch_has(f->cs, other, 4), CC_ERR_NOT_FOUND);
	cs_chain_expect_none(f, other, 4, senders[0]);

	/* The same senders in another epoch and another room: other keys, each
	 * its own. The whole epoch range. */
	uint8_t k_other[CSTORE_KEY_LEN], k_max[CSTORE_KEY_LEN], k_zero[CSTORE_KEY_LEN];
	cs_secret(75, k_other);
	cs_secret(76, k_max);
	cs_secret(77, k_zero);
	cs_epoch_add1(f, other, 4, senders[0], k_other);
	cs_epoch_add1(f, room, UINT32_MAX, senders[0], k_max);
	cs_epoch_add1(f, room, 0, senders[0], k_zero);
	cs_chain_expect(f, other, 4, senders[0], k_other, 1);
	cs_chain_expect(f, room, UINT32_MAX, senders[0], k_max, 1);
	cs_chain_expect(f, room, 0, senders[0], k_zero, 1);
	cs_chain_expect(f, room, 4, senders[0], keys[0], 1);
	cs_chain_expect_none(f, room, UINT32_MAX - 1, senders[0]);
	cs_chain_expect_none(f, other, 4, senders[1]);

	/* No senders at all makes no epoch. */
	assert_int_equal(cstore_epoch_add(f->cs, room, 9, NULL, NULL, 0), CC_OK);
	assert_int_equal(cstore_epoch_has(f->cs, room, 9), CC_ERR_NOT_FOUND);

	cs_reopen(f);
	for (int i = 0; i < 3; i++)
		cs_chain_expect(f, room, 4, senders[i], keys[i], 1);
	cs_chain_expect(f, other, 4, senders[0], k_other, 1);
	cs_chain_expect(f, room, UINT32_MAX, senders[0], k_max, 1);
	assert_int_equal(cstore_epoch_has(f->cs, room, UINT32_MAX), CC_OK);
}

/* A chain moves only forward, and only where there is one; any step ahead
 * is fine (the keys passed over are not kept). */
static void test_chain_advance(void **state)
{
	struct fixture *f = *state;
	uint8_t room[CSTORE_ROOM_ID_LEN], other[CSTORE_ROOM_ID_LEN];
	uint8_t alice[CSTORE_FP_LEN], bob[CSTORE_FP_LEN], carol[CSTORE_FP_LEN];
	uint8_t k1[CSTORE_KEY_LEN], kb[CSTORE_KEY_LEN], k2[CSTORE_KEY_LEN], k5[CSTORE_KEY_LEN];
	uint8_t kx[CSTORE_KEY_LEN];
	cs_fill(80, room, sizeof room);
	cs_fill(81, other, sizeof other);
	cs_fill(82, alice, sizeof alice);
	cs_fill(83, bob, sizeof bob);
	cs_fill(84, carol, sizeof carol);
	cs_secret(80, k1);
	cs_secret(81, kb);
	cs_secret(82, k2);
	cs_secret(85, k5);
	cs_secret(89, kx);
	uint8_t senders[2][CSTORE_FP_LEN];
	memcpy(senders[0], alice, CSTORE_FP_LEN);
	memcpy(senders[1], bob, CSTORE_FP_LEN);
	uint8_t keys[2][CSTORE_KEY_LEN];
	memcpy(keys[0], k1, CSTORE_KEY_LEN);
	memcpy(keys[1], kb, CSTORE_KEY_LEN);
	assert_int_equal(cstore_epoch_add(f->cs, room, 1, (const uint8_t(*)[CSTORE_FP_LEN])senders,
					  (const uint8_t(*)[CSTORE_KEY_LEN])keys, 2), CC_OK);

	assert_int_equal(cstore_chain_advance(f->cs, room, 1, alice, k2, 2), CC_OK);
	cs_chain_expect(f, room, 1, alice, k2, 2);
	cs_chain_expect(f, room, 1, bob, kb, 1);

	/* The same number or one behind: refused, the key not replaced. */
	const uint64_t behind[] = {2, 1, 0};
	for (size_t i = 0; i < sizeof behind / sizeof behind[0]; i++) {
		assert_int_equal(cstore_chain_advance(f->cs, room, 1, alice, kx, behind[i]),
				 CC_ERR_STALE_EPOCH);
		cs_chain_expect(f, room, 1, alice, k2, 2);
	}
	/* A step of several numbers at once. */
	assert_int_equal(cstore_chain_advance(f->cs, room, 1, alice, k5, 5), CC_OK);
	cs_chain_expect(f, room, 1, alice, k5, 5);

	/* No chain for that sender, epoch or room: not found, and none made. */
	assert_int_equal(cstore_chain_advance(f->cs, room, 1, carol, kx, 2), CC_ERR_NOT_FOUND);
	assert_int_equal(cstore_chain_advance(f->cs, room, 2, alice, kx, 2), CC_ERR_NOT_FOUND);
	assert_int_equal(cstore_chain_advance(f->cs, other, 1, alice, kx, 2), CC_ERR_NOT_FOUND);
	cs_chain_expect_none(f, room, 1, carol);
	cs_chain_expect_none(f, room, 2, alice);
	cs_chain_expect_none(f, other, 1, alice);
	assert_int_equal(cstore_epoch_has(f->cs, room, 2), CC_ERR_NOT_FOUND);
	assert_int_equal(cstore_epoch_has(f->cs, other, 1), CC_ERR_NOT_FOUND);

	/* Not back across a reopen either. */
	cs_reopen(f);
	cs_chain_expect(f, room, 1, alice, k5, 5);
	assert_int_equal(cstore_chain_advance(f->cs, room, 1, alice, kx, 5), CC_ERR_STALE_EPOCH);
	assert_int_equal(cstore_chain_advance(f->cs, room, 1, alice, kx, 3), CC_ERR_STALE_EPOCH);
	cs_chain_expect(f, room, 1, alice, k5, 5);

	/* The largest number SQLite holds; none beyond. */
	assert_int_equal(cstore_chain_advance(f->cs, room, 1, bob, kx, (uint64_t)INT64_MAX),
			 CC_OK);
	cs_chain_expect(f, room, 1, bob, kx, (uint64_t)INT64_MAX);
	assert_int_equal(cstore_chain_advance(f->cs, room, 1, alice, k2, (uint64_t)INT64_MAX + 1),
			 CC_ERR_LIMIT);
	assert_int_equal(cstore_chain_advance(f->cs, room, 1, alice, k2, UINT64_MAX),
			 CC_ERR_LIMIT);
	cs_chain_expect(f, room, 1, alice, k5, 5);
}

/* Group commit (cstore_begin .. cstore_commit): what a batch writes is seen
 * inside it, each message stays all or nothing (a duplicate within the batch
 * is refused alone), and only the commit stores it: a rollback, or a process
 * killed with the batch open, leaves nothing of it, and the message can be
 * handled again. */
static void test_batch(void **state)
{
	struct fixture *f = *state;
	uint8_t room[CSTORE_ROOM_ID_LEN], alice[CSTORE_FP_LEN];
	uint8_t k1[CSTORE_KEY_LEN];
	struct cstore_ratchet s2 = {.next_seq = 2}, s3 = {.next_seq = 3}, s4 = {.next_seq = 4};
	cs_fill(90, room, sizeof room);
	cs_fill(91, alice, sizeof alice);
	cs_secret(90, k1);
	cs_secret(92, s2.chain_key);
	cs_secret(93, s3.chain_key);
	cs_secret(94, s4.chain_key);
	cs_room_put(f, room, 1);
	cs_epoch_add1(f, room, 1, alice, k1);

	assert_int_equal(cstore_commit(f->cs), CC_ERR_STATE);
	assert_int_equal(cstore_begin(f->cs), CC_OK);
	assert_int_equal(cstore_begin(f->cs), CC_ERR_STATE);
	assert_int_equal(cstore_message_handled(f->cs, room, alice, 1, 1, 10, 100, &s2), CC_OK);
	assert_int_equal(cs_seen_of(f, room, alice, 1), 1);
	assert_int_equal(cs_last_id(f, room), 10);
	cs_chain_expect(f, room, 1, alice, s2.chain_key, 2);
	/* The same message twice in one batch: the second is refused, alone. */
	assert_int_equal(cstore_message_handled(f->cs, room, alice, 1, 1, 10, 100, &s2),
			 CC_ERR_STALE_EPOCH);
	assert_int_equal(cs_seen_of(f, room, alice, 1), 1);
	cs_chain_expect(f, room, 1, alice, s2.chain_key, 2);
	assert_int_equal(cstore_message_handled(f->cs, room, alice, 1, 2, 11, 110, &s3), CC_OK);
	assert_int_equal(cstore_commit(f->cs), CC_OK);
	assert_int_equal(cstore_commit(f->cs), CC_ERR_STATE);
	cs_reopen(f);
	assert_int_equal(cs_seen_of(f, room, alice, 1), 2);
	assert_int_equal(cs_last_id(f, room), 11);
	cs_chain_expect(f, room, 1, alice, s3.chain_key, 3);

	/* Rolled back: nothing of it. */
	assert_int_equal(cstore_begin(f->cs), CC_OK);
	assert_int_equal(cstore_message_handled(f->cs, room, alice, 1, 3, 12, 120, &s4), CC_OK);
	cstore_rollback(f->cs);
	assert_int_equal(cs_seen_of(f, room, alice, 1), 2);
	assert_int_equal(cs_last_id(f, room), 11);
	cs_chain_expect(f, room, 1, alice, s3.chain_key, 3);

	/* Killed before the commit (another process, as the client would be):
	 * the journal takes it back at the next open. */
	const char *path = f->tmp.path;
	cs_close(f);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct client_store *cs = NULL;
		if (cstore_open(path, &cs) || cstore_begin(cs) ||
		    cstore_message_handled(cs, room, alice, 1, 3, 12, 120, &s4))
			_exit(1);
		raise(SIGKILL);
		_exit(2);
	}
	int status = 0;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	cs_open(f);
	assert_int_equal(cs_seen_of(f, room, alice, 1), 2);
	assert_int_equal(cs_last_id(f, room), 11);
	cs_chain_expect(f, room, 1, alice, s3.chain_key, 3);
	/* Sent again after the restart, it is handled as new. */
	assert_int_equal(cstore_message_handled(f->cs, room, alice, 1, 3, 12, 120, &s4), CC_OK);
	cs_chain_expect(f, room, 1, alice, s4.chain_key, 4);
}

/* A secret opened again (replayed by the server, or a restart before the
 * forget) adds chains only for senders new to us: a chain already here is
 * never reset, or its message keys could be used again. */
static void test_epoch_add_never_rewinds(void **state)
{
	struct fixture *f = *state;
	uint8_t room[CSTORE_ROOM_ID_LEN];
	uint8_t senders[3][CSTORE_FP_LEN], first[3][CSTORE_KEY_LEN], again[3][CSTORE_KEY_LEN];
	uint8_t ka3[CSTORE_KEY_LEN];
	cs_fill(90, room, sizeof room);
	for (uint8_t i = 0; i < 3; i++) {
		cs_fill((uint8_t)(91 + i), senders[i], sizeof senders[i]);
		cs_secret(90u + i, first[i]);
		cs_secret(95u + i, again[i]);
	}
	cs_secret(99, ka3);

	/* alice and bob; alice has moved on, bob has not. */
	assert_int_equal(cstore_epoch_add(f->cs, room, 2, (const uint8_t(*)[CSTORE_FP_LEN])senders,
					  (const uint8_t(*)[CSTORE_KEY_LEN])first, 2), CC_OK);
	assert_int_equal(cstore_chain_advance(f->cs, room, 2, senders[0], ka3, 3), CC_OK);

	/* Again, with other keys and carol too. */
	assert_int_equal(cstore_epoch_add(f->cs, room, 2, (const uint8_t(*)[CSTORE_FP_LEN])senders,
					  (const uint8_t(*)[CSTORE_KEY_LEN])again, 3), CC_OK);
	cs_chain_expect(f, room, 2, senders[0], ka3, 3);
	cs_chain_expect(f, room, 2, senders[1], first[1], 1);
	cs_chain_expect(f, room, 2, senders[2], again[2], 1);
	assert_int_equal(cs_messages_of(f, room, 2), 2);

	cs_reopen(f);
	assert_int_equal(cstore_epoch_add(f->cs, room, 2, (const uint8_t(*)[CSTORE_FP_LEN])senders,
					  (const uint8_t(*)[CSTORE_KEY_LEN])first, 3), CC_OK);
	cs_chain_expect(f, room, 2, senders[0], ka3, 3);
	cs_chain_expect(f, room, 2, senders[1], first[1], 1);
	cs_chain_expect(f, room, 2, senders[2], again[2], 1);
}

/* How many messages an epoch's chains have counted: the sum over its
 * senders of their numbers less one, per room and epoch. */
static void test_epoch_messages(void **state)
{
	struct fixture *f = *state;
	uint8_t room[CSTORE_ROOM_ID_LEN], other[CSTORE_ROOM_ID_LEN];
	uint8_t senders[3][CSTORE_FP_LEN], keys[3][CSTORE_KEY_LEN], k[CSTORE_KEY_LEN];
	cs_fill(100, room, sizeof room);
	cs_fill(101, other, sizeof other);
	for (uint8_t i = 0; i < 3; i++) {
		cs_fill((uint8_t)(102 + i), senders[i], sizeof senders[i]);
		cs_secret(100u + i, keys[i]);
	}
	cs_secret(105, k);

	assert_int_equal(cs_messages_of(f, room, 1), 0);
	assert_int_equal(cstore_epoch_add(f->cs, room, 1, (const uint8_t(*)[CSTORE_FP_LEN])senders,
					  (const uint8_t(*)[CSTORE_KEY_LEN])keys, 3), CC_OK);
	assert_int_equal(cs_messages_of(f, room, 1), 0);
	assert_int_equal(cstore_chain_advance(f->cs, room, 1, senders[0], k, 4), CC_OK);
	assert_int_equal(cs_messages_of(f, room, 1), 3);
	assert_int_equal(cstore_chain_advance(f->cs, room, 1, senders[1], k, 2), CC_OK);
	assert_int_equal(cs_messages_of(f, room, 1), 4);
	struct cstore_ratchet step = {.next_seq = 3};
	cs_secret(106, step.chain_key);
	assert_int_equal(cstore_message_handled(f->cs, room, senders[2], 1, 2, 1, 1, &step),
			 CC_OK);
	assert_int_equal(cs_messages_of(f, room, 1), 6);

	/* Another epoch of the room, the same epoch of another room. */
	cs_epoch_add1(f, room, 2, senders[0], k);
	assert_int_equal(cstore_chain_advance(f->cs, room, 2, senders[0], k, 11), CC_OK);
	cs_epoch_add1(f, other, 1, senders[0], k);
	assert_int_equal(cs_messages_of(f, room, 2), 10);
	assert_int_equal(cs_messages_of(f, other, 1), 0);
	assert_int_equal(cs_messages_of(f, room, 1), 6);
	cs_reopen(f);
	assert_int_equal(cs_messages_of(f, room, 1), 6);
	/* A forgotten epoch counts nothing any more. */
	assert_int_equal(cstore_epoch_forget(f->cs, room, 1), CC_OK);
	assert_int_equal(cs_messages_of(f, room, 1), 0);
	assert_int_equal(cs_messages_of(f, room, 2), 10);
}

/* Forgetting the epochs up to max deletes their chains, in that room only;
 * later epochs stay. */
static void test_epoch_forget(void **state)
{
	struct fixture *f = *state;
	uint8_t room[CSTORE_ROOM_ID_LEN], other[CSTORE_ROOM_ID_LEN];
	uint8_t senders[2][CSTORE_FP_LEN], keys[2][CSTORE_KEY_LEN];
	const uint32_t epochs[] = {0, 1, 2, 5};
	const size_t n_epochs = sizeof epochs / sizeof epochs[0];
	cs_fill(110, room, sizeof room);
	cs_fill(111, other, sizeof other);
	/* room was verified here: it remembers what was deleted for good. */
	struct cstore_room verified = {.head_count = 3, .epoch = 5, .members = 2};
	assert_int_equal(cstore_room_put(f->cs, room, &verified), CC_OK);
	cs_fill(112, senders[0], sizeof senders[0]);
	cs_fill(113, senders[1], sizeof senders[1]);
	for (size_t e = 0; e < n_epochs; e++) {
		for (uint8_t i = 0; i < 2; i++)
			cs_secret(110u + 10u * epochs[e] + i, keys[i]);
		assert_int_equal(cstore_epoch_add(f->cs, room, epochs[e],
						  (const uint8_t(*)[CSTORE_FP_LEN])senders,
						  (const uint8_t(*)[CSTORE_KEY_LEN])keys, 2),
				 CC_OK);
		assert_int_equal(cstore_epoch_add(f->cs, other, epochs[e],
						  (const uint8_t(*)[CSTORE_FP_LEN])senders,
						  (const uint8_t(*)[CSTORE_KEY_LEN])keys, 2),
				 CC_OK);
	}

	assert_int_equal(cstore_epoch_forget(f->cs, room, 1), CC_OK);
	for (size_t e = 0; e < n_epochs; e++) {
		bool gone = epochs[e] <= 1;
		assert_int_equal(cstore_epoch_has(f->cs, room, epochs[e]),
				 gone ? CC_ERR_NOT_FOUND : CC_OK);
		assert_int_equal(cstore_epoch_has(f->cs, other, epochs[e]), CC_OK);
		for (uint8_t i = 0; i < 2; i++) {
			cs_secret(110u + 10u * epochs[e] + i, keys[i]);
			if (gone)
				cs_chain_expect_none(f, room, epochs[e], senders[i]);
			else
				cs_chain_expect(f, room, epochs[e], senders[i], keys[i], 1);
			cs_chain_expect(f, other, epochs[e], senders[i], keys[i], 1);
		}
	}
	/* A forgotten epoch is not made again (a replayed secret must not
	 * rewind a chain); the room says from where its keys are kept. */
	assert_int_equal(cstore_epoch_add(f->cs, room, 1, (const uint8_t(*)[CSTORE_FP_LEN])senders,
					  (const uint8_t(*)[CSTORE_KEY_LEN])keys, 2),
			 CC_OK);
	assert_int_equal(cstore_epoch_has(f->cs, room, 1), CC_ERR_NOT_FOUND);
	struct cstore_room got;
	assert_int_equal(cstore_room_get(f->cs, room, &got), CC_OK);
	assert_int_equal(got.keys_from, 2);
	/* Again, or a lower bound: nothing more goes. */
	assert_int_equal(cstore_epoch_forget(f->cs, room, 1), CC_OK);
	assert_int_equal(cstore_epoch_forget(f->cs, room, 0), CC_OK);
	assert_int_equal(cstore_epoch_has(f->cs, room, 2), CC_OK);
	assert_int_equal(cstore_room_get(f->cs, room, &got), CC_OK);
	assert_int_equal(got.keys_from, 2);
	/* Up to an epoch the room never had. */
	assert_int_equal(cstore_epoch_forget(f->cs, room, 4), CC_OK);
	assert_int_equal(cstore_epoch_has(f->cs, room, 2), CC_ERR_NOT_FOUND);
	assert_int_equal(cstore_epoch_has(f->cs, room, 5), CC_OK);
	cs_reopen(f);
	assert_int_equal(cstore_epoch_has(f->cs, room, 2), CC_ERR_NOT_FOUND);
	assert_int_equal(cstore_epoch_has(f->cs, room, 5), CC_OK);
	/* All of them; the other room still untouched. */
	assert_int_equal(cstore_epoch_forget(f->cs, room, UINT32_MAX), CC_OK);
	assert_int_equal(cstore_epoch_has(f->cs, room, 5), CC_ERR_NOT_FOUND);
	for (size_t e = 0; e < n_epochs; e++)
		assert_int_equal(cstore_epoch_has(f->cs, other, epochs[e]), CC_OK);
	/* A room with nothing to forget. */
	uint8_t unknown[CSTORE_ROOM_ID_LEN];
	cs_fill(114, unknown, sizeof unknown);
	assert_int_equal(cstore_epoch_forget(f->cs, unknown, 3), CC_OK);
}

int main(void)
{
	/* Several tests provoke errors on purpose; keep the output to those. */
	log_set_level(LOG_LEVEL_ERROR);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_file_mode, cstore_setup, cstore_teardown),
		cmocka_unit_test_setup_teardown(test_file_mode_tightened, cstore_setup, cstore_teardown),
		cmocka_unit_test_setup_teardown(test_rollback_journal, cstore_setup, cstore_teardown),
		cmocka_unit_test_setup_teardown(test_recv_keys, cstore_setup, cstore_teardown),
		cmocka_unit_test_setup_teardown(test_recv_delete_retired, cstore_setup, cstore_teardown),
		cmocka_unit_test_setup_teardown(test_recv_seen, cstore_setup, cstore_teardown),
		cmocka_unit_test_setup_teardown(test_chains, cstore_setup, cstore_teardown),
		cmocka_unit_test_setup_teardown(test_chain_advance, cstore_setup, cstore_teardown),
		cmocka_unit_test_setup_teardown(test_batch, cstore_setup, cstore_teardown),
		cmocka_unit_test_setup_teardown(test_epoch_add_never_rewinds, cstore_setup, cstore_teardown),
		cmocka_unit_test_setup_teardown(test_epoch_messages, cstore_setup, cstore_teardown),
		cmocka_unit_test_setup_teardown(test_epoch_forget, cstore_setup, cstore_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
