/* The client's store: room keys, replay counters, own sequence numbers and
 * pinned keys; persistence across a restart (and a crash), independence of
 * rooms and senders, and refusal of bad input and of files from a newer
 * version. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

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
	assert_int_equal(cstore_seq_next(f->cs, room, &seq), CC_OK);
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

/* A handled message raises both numbers at once, and neither goes down. */
static void test_seen_message(void **state)
{
	struct fixture *f = *state;
	uint8_t room[CSTORE_ROOM_ID_LEN], alice[CSTORE_FP_LEN], zero[CSTORE_FP_LEN] = {0};
	uint64_t v = 0;
	test_fill(8, room, sizeof room);
	test_fill(9, alice, sizeof alice);

	assert_int_equal(cstore_seen_put_message(f->cs, room, alice, 3, 40), CC_OK);
	assert_int_equal(cstore_seen_get(f->cs, room, alice, &v), CC_OK);
	assert_int_equal(v, 3);
	assert_int_equal(cstore_seen_get(f->cs, room, zero, &v), CC_OK);
	assert_int_equal(v, 40);
	assert_int_equal(cstore_seen_put_message(f->cs, room, alice, 2, 41), CC_OK);
	assert_int_equal(cstore_seen_get(f->cs, room, alice, &v), CC_OK);
	assert_int_equal(v, 3);
	assert_int_equal(cstore_seen_get(f->cs, room, zero, &v), CC_OK);
	assert_int_equal(v, 41);
	/* A number out of range writes neither. */
	assert_int_equal(cstore_seen_put_message(f->cs, room, alice, UINT64_MAX, 50),
			 CC_ERR_MALFORMED);
	assert_int_equal(cstore_seen_get(f->cs, room, zero, &v), CC_OK);
	assert_int_equal(v, 41);
}

static void test_seen(void **state)
{
	struct fixture *f = *state;
	uint8_t room[CSTORE_ROOM_ID_LEN], alice[CSTORE_FP_LEN], bob[CSTORE_FP_LEN];
	uint64_t v = 99;
	test_fill(8, room, sizeof room);
	test_fill(9, alice, sizeof alice);
	test_fill(10, bob, sizeof bob);

	/* 0 until something was seen. */
	assert_int_equal(cstore_seen_get(f->cs, room, alice, &v), CC_OK);
	assert_int_equal(v, 0);

	assert_int_equal(cstore_seen_put(f->cs, room, alice, 5), CC_OK);
	assert_int_equal(cstore_seen_get(f->cs, room, alice, &v), CC_OK);
	assert_int_equal(v, 5);
	assert_int_equal(cstore_seen_put(f->cs, room, alice, 7), CC_OK);
	assert_int_equal(cstore_seen_get(f->cs, room, alice, &v), CC_OK);
	assert_int_equal(v, 7);

	/* Never lowered: not by a lower value, not by 0, not by the same. */
	const uint64_t lower[] = {6, 0, 1, 7};
	for (size_t i = 0; i < sizeof lower / sizeof lower[0]; i++) {
		assert_int_equal(cstore_seen_put(f->cs, room, alice, lower[i]), CC_OK);
		assert_int_equal(cstore_seen_get(f->cs, room, alice, &v), CC_OK);
		assert_int_equal(v, 7);
	}
	/* Not across a reopen either. */
	test_reopen(f);
	assert_int_equal(cstore_seen_put(f->cs, room, alice, 3), CC_OK);
	assert_int_equal(cstore_seen_get(f->cs, room, alice, &v), CC_OK);
	assert_int_equal(v, 7);

	/* Per sender. */
	assert_int_equal(cstore_seen_get(f->cs, room, bob, &v), CC_OK);
	assert_int_equal(v, 0);
	assert_int_equal(cstore_seen_put(f->cs, room, bob, 2), CC_OK);
	assert_int_equal(cstore_seen_get(f->cs, room, bob, &v), CC_OK);
	assert_int_equal(v, 2);
	assert_int_equal(cstore_seen_get(f->cs, room, alice, &v), CC_OK);
	assert_int_equal(v, 7);

	/* Per room. */
	uint8_t other[CSTORE_ROOM_ID_LEN];
	test_fill(11, other, sizeof other);
	assert_int_equal(cstore_seen_get(f->cs, other, alice, &v), CC_OK);
	assert_int_equal(v, 0);
	assert_int_equal(cstore_seen_put(f->cs, other, alice, 1), CC_OK);
	assert_int_equal(cstore_seen_get(f->cs, room, alice, &v), CC_OK);
	assert_int_equal(v, 7);

	/* The largest storable value, and one past it refused. */
	assert_int_equal(cstore_seen_put(f->cs, room, bob, (uint64_t)INT64_MAX), CC_OK);
	assert_int_equal(cstore_seen_get(f->cs, room, bob, &v), CC_OK);
	assert_int_equal(v, (uint64_t)INT64_MAX);
	assert_int_equal(cstore_seen_put(f->cs, room, alice, (uint64_t)INT64_MAX + 1),
			 CC_ERR_MALFORMED);
	assert_int_equal(cstore_seen_put(f->cs, room, alice, UINT64_MAX), CC_ERR_MALFORMED);
	assert_int_equal(cstore_seen_get(f->cs, room, alice, &v), CC_OK);
	assert_int_equal(v, 7);
}

static void test_seq_next(void **state)
{
	struct fixture *f = *state;
	uint8_t room_a[CSTORE_ROOM_ID_LEN], room_b[CSTORE_ROOM_ID_LEN];
	uint64_t seq;
	test_fill(12, room_a, sizeof room_a);
	test_fill(13, room_b, sizeof room_b);

	for (uint64_t i = 1; i <= 5; i++) {
		assert_int_equal(cstore_seq_next(f->cs, room_a, &seq), CC_OK);
		assert_int_equal(seq, i);
	}
	/* Per room: another room starts at 1. */
	assert_int_equal(cstore_seq_next(f->cs, room_b, &seq), CC_OK);
	assert_int_equal(seq, 1);
	assert_int_equal(cstore_seq_next(f->cs, room_a, &seq), CC_OK);
	assert_int_equal(seq, 6);

	/* Across reopen it continues, never repeats. */
	test_reopen(f);
	assert_int_equal(cstore_seq_next(f->cs, room_a, &seq), CC_OK);
	assert_int_equal(seq, 7);
	assert_int_equal(cstore_seq_next(f->cs, room_b, &seq), CC_OK);
	assert_int_equal(seq, 2);
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
		assert_int_equal(cstore_seq_next(cs, room, &seq), CC_OK);
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
	assert_int_equal(cstore_seq_next(f->cs, room, &seq), CC_OK);
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
		    cstore_seq_next(cs, room, &got) != CC_OK)
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
	assert_int_equal(cstore_seq_next(f->cs, room, &seq), CC_OK);
	assert_int_equal(seq, 3);
}

static void test_room_forget(void **state)
{
	struct fixture *f = *state;
	uint8_t room[CSTORE_ROOM_ID_LEN], other[CSTORE_ROOM_ID_LEN];
	uint8_t key[CSTORE_KEY_LEN], got[CSTORE_KEY_LEN], fp[CSTORE_FP_LEN];
	uint64_t v, seq;
	test_fill(16, room, sizeof room);
	test_fill(17, other, sizeof other);
	test_fill(18, key, sizeof key);
	test_fill(19, fp, sizeof fp);

	for (int r = 0; r < 2; r++) {
		const uint8_t *id = r ? other : room;
		assert_int_equal(cstore_key_put(f->cs, id, 0, key), CC_OK);
		assert_int_equal(cstore_key_put(f->cs, id, 1, key), CC_OK);
		assert_int_equal(cstore_seen_put(f->cs, id, fp, 40), CC_OK);
		assert_int_equal(cstore_seq_next(f->cs, id, &seq), CC_OK);
		assert_int_equal(cstore_seq_next(f->cs, id, &seq), CC_OK);
	}
	assert_int_equal(cstore_pin_put(f->cs, "carol", fp, 1, 10), CC_OK);

	assert_int_equal(cstore_room_forget(f->cs, room), CC_OK);
	assert_int_equal(cstore_key_get(f->cs, room, 0, got), CC_ERR_NOT_FOUND);
	assert_int_equal(cstore_key_get(f->cs, room, 1, got), CC_ERR_NOT_FOUND);
	assert_int_equal(cstore_seen_get(f->cs, room, fp, &v), CC_OK);
	assert_int_equal(v, 0);
	assert_int_equal(cstore_seq_next(f->cs, room, &seq), CC_OK);
	assert_int_equal(seq, 1);

	/* The other room and the pins are untouched. */
	assert_int_equal(cstore_key_get(f->cs, other, 1, got), CC_OK);
	assert_memory_equal(got, key, sizeof key);
	assert_int_equal(cstore_seen_get(f->cs, other, fp, &v), CC_OK);
	assert_int_equal(v, 40);
	assert_int_equal(cstore_seq_next(f->cs, other, &seq), CC_OK);
	assert_int_equal(seq, 3);
	struct cstore_pin pin;
	assert_int_equal(cstore_pin_get(f->cs, "carol", &pin), CC_OK);

	/* Forgetting an unknown room is fine; it stays forgotten after reopen. */
	uint8_t unknown[CSTORE_ROOM_ID_LEN];
	test_fill(20, unknown, sizeof unknown);
	assert_int_equal(cstore_room_forget(f->cs, unknown), CC_OK);
	test_reopen(f);
	assert_int_equal(cstore_key_get(f->cs, room, 0, got), CC_ERR_NOT_FOUND);
	assert_int_equal(cstore_key_get(f->cs, other, 0, got), CC_OK);
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

	assert_int_equal(cstore_key_put(f->cs, room, 9, key), CC_OK);
	assert_int_equal(cstore_seen_put(f->cs, room, fp, 123), CC_OK);
	assert_int_equal(cstore_seq_next(f->cs, room, &seq), CC_OK);
	assert_int_equal(cstore_seq_next(f->cs, room, &seq), CC_OK);
	assert_int_equal(cstore_pin_put(f->cs, "Frank", fp, 1, 4242), CC_OK);

	for (int round = 0; round < 2; round++) {
		test_reopen(f);
		assert_int_equal(cstore_key_get(f->cs, room, 9, got), CC_OK);
		assert_memory_equal(got, key, sizeof key);
		assert_int_equal(cstore_seen_get(f->cs, room, fp, &v), CC_OK);
		assert_int_equal(v, 123);
		struct cstore_pin pin;
		assert_int_equal(cstore_pin_get(f->cs, "frank", &pin), CC_OK);
		assert_string_equal(pin.nick, "Frank");
		assert_memory_equal(pin.fp, fp, sizeof fp);
		assert_int_equal(pin.verified, 1);
		assert_int_equal(pin.first_seen_ms, 4242);
	}
	assert_int_equal(cstore_seq_next(f->cs, room, &seq), CC_OK);
	assert_int_equal(seq, 3);
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
	assert_int_equal(cstore_seq_next(cs, room, &seq), CC_OK);
	assert_int_equal(seq, 1);
	cstore_close(cs);
}

static void test_bad_args(void **state)
{
	struct fixture *f = *state;
	uint8_t room[CSTORE_ROOM_ID_LEN], key[CSTORE_KEY_LEN], fp[CSTORE_FP_LEN];
	uint64_t v;
	struct cstore_pin pin;
	test_fill(30, room, sizeof room);
	test_fill(31, key, sizeof key);
	test_fill(32, fp, sizeof fp);

	assert_int_equal(cstore_key_put(NULL, room, 0, key), CC_ERR_INTERNAL);
	assert_int_equal(cstore_key_put(f->cs, NULL, 0, key), CC_ERR_INTERNAL);
	assert_int_equal(cstore_key_put(f->cs, room, 0, NULL), CC_ERR_INTERNAL);
	assert_int_equal(cstore_key_get(f->cs, NULL, 0, key), CC_ERR_INTERNAL);
	assert_int_equal(cstore_key_get(f->cs, room, 0, NULL), CC_ERR_INTERNAL);
	assert_int_equal(cstore_room_forget(f->cs, NULL), CC_ERR_INTERNAL);
	assert_int_equal(cstore_seen_get(f->cs, room, NULL, &v), CC_ERR_INTERNAL);
	assert_int_equal(cstore_seen_get(f->cs, room, fp, NULL), CC_ERR_INTERNAL);
	assert_int_equal(cstore_seen_put(f->cs, NULL, fp, 1), CC_ERR_INTERNAL);
	assert_int_equal(cstore_seq_next(f->cs, NULL, &v), CC_ERR_INTERNAL);
	assert_int_equal(cstore_seq_next(f->cs, room, NULL), CC_ERR_INTERNAL);
	assert_int_equal(cstore_pin_get(f->cs, "gina", NULL), CC_ERR_INTERNAL);
	assert_int_equal(cstore_pin_put(f->cs, "gina", NULL, 0, 1), CC_ERR_INTERNAL);
	assert_int_equal(cstore_pin_put(NULL, "gina", fp, 0, 1), CC_ERR_INTERNAL);
	cstore_close(NULL);

	/* None of that wrote anything. */
	assert_int_equal(cstore_key_get(f->cs, room, 0, key), CC_ERR_NOT_FOUND);
	assert_int_equal(cstore_pin_get(f->cs, "gina", &pin), CC_ERR_NOT_FOUND);
	assert_int_equal(cstore_seq_next(f->cs, room, &v), CC_OK);
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
		cmocka_unit_test_setup_teardown(test_seq_next, setup, teardown),
		cmocka_unit_test_setup_teardown(test_seq_next_two_handles, setup, teardown),
		cmocka_unit_test_setup_teardown(test_seq_next_survives_crash, setup, teardown),
		cmocka_unit_test_setup_teardown(test_room_forget, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pin, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_nick, setup, teardown),
		cmocka_unit_test_setup_teardown(test_persist, setup, teardown),
		cmocka_unit_test_setup_teardown(test_future_version_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_a_database, setup, teardown),
		cmocka_unit_test(test_in_memory),
		cmocka_unit_test_setup_teardown(test_bad_args, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
