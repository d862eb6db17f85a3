/* The client's store: this client's receiving keys (added, retired at the
 * next one's creation, deleted once retired long enough), the newest
 * receiving key seen per user, every sender's chain key per room and epoch
 * (made once, only ever moved forward, forgotten with its epoch or room),
 * verified room heads, replay counters per sender and epoch, the newest
 * signing key and the last activity seen per key, and pinned keys;
 * persistence across a restart (and a crash), independence of rooms,
 * senders and epochs, what forgetting a room keeps, the atomicity of a
 * handled message, real deletion (no old key left anywhere in the files:
 * secure_delete and a rollback journal, never a WAL), the upgrades of
 * version-1 and version-2 files, damaged rows, and refusal of bad input and
 * of files from a newer version. */
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
#include "support/tmpdir.h"
#include "util/log.h"

/* The client store's schema version now: every upgrade test ends there. */
#define TEST_CSTORE_LATEST 5

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

/* Distinctive secrets: 32 random-looking bytes from a seed (splitmix64).
 * test_fill's values are all shifts of one progression; a scan of the files
 * for one of these cannot match a room id, a fingerprint or another key by
 * chance. */
static void test_secret(uint32_t seed, uint8_t key[CSTORE_KEY_LEN])
{
	uint64_t x = 0x63727970746f6361ull ^ ((uint64_t)seed << 32 | seed);
	for (size_t i = 0; i < CSTORE_KEY_LEN; i += 8) {
		x += 0x9e3779b97f4a7c15ull;
		uint64_t z = x;
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
		z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
		z ^= z >> 31;
		for (size_t j = 0; j < 8; j++)
			key[i + j] = (uint8_t)(z >> (8 * j));
	}
}

static void test_expect_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		assert_int_equal(p[i], 0);
}

/* A receiving key handed back on failure: nothing of it left. */
static void test_recv_expect_wiped(const struct cstore_recv_key *k)
{
	assert_int_equal(k->version, 0);
	test_expect_zero(k->priv, sizeof k->priv);
	test_expect_zero(k->pub, sizeof k->pub);
	assert_int_equal(k->created_ms, 0);
	assert_int_equal(k->retired_ms, 0);
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

static void test_close(struct fixture *f)
{
	cstore_close(f->cs);
	f->cs = NULL;
}

static void test_open(struct fixture *f)
{
	assert_int_equal(cstore_open(f->tmp.path, &f->cs), CC_OK);
	assert_non_null(f->cs);
}

static void test_reopen(struct fixture *f)
{
	test_close(f);
	test_open(f);
}

/* ---- the files on disk ----------------------------------------------------------- */

/* Whether the file at path holds needle anywhere; false if there is no such
 * file. */
static bool test_file_holds(const char *path, const uint8_t *needle, size_t n)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	struct stat sb;
	assert_int_equal(fstat(fd, &sb), 0);
	size_t size = (size_t)sb.st_size;
	uint8_t *data = malloc(size ? size : 1);
	assert_non_null(data);
	size_t got = 0;
	while (got < size) {
		ssize_t r = read(fd, data + got, size - got);
		assert_true(r > 0);
		got += (size_t)r;
	}
	close(fd);
	bool found = false;
	for (size_t i = 0; !found && n <= size && i <= size - n; i++)
		found = memcmp(data + i, needle, n) == 0;
	free(data);
	return found;
}

/* Whether any file of the store at path (the database itself, and its
 * -journal, -wal or -shm, whichever there are in its directory) holds the
 * key: the raw bytes anyone who gets hold of the disk would see. Scans at
 * least the database. */
static bool test_files_hold(const char *path, const uint8_t key[CSTORE_KEY_LEN])
{
	char dir[160];
	snprintf(dir, sizeof dir, "%s", path);
	char *slash = strrchr(dir, '/');
	assert_non_null(slash);
	*slash = '\0';
	const char *base = slash + 1;
	size_t base_len = strlen(base);

	DIR *d = opendir(dir);
	assert_non_null(d);
	bool found = false, scanned_db = false;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (strncmp(e->d_name, base, base_len) != 0)
			continue;
		char file[512];
		snprintf(file, sizeof file, "%s/%s", dir, e->d_name);
		if (strcmp(e->d_name, base) == 0)
			scanned_db = true;
		if (test_file_holds(file, key, CSTORE_KEY_LEN))
			found = true;
	}
	closedir(d);
	assert_true(scanned_db);
	return found;
}

/* The store runs on a rollback journal, never a WAL (whose old frames would
 * keep overwritten chain keys): no -wal or -shm file next to it, and the
 * header says so (bytes 18 and 19, the file format's write and read
 * versions: 1 for a rollback journal, 2 for WAL). */
static void test_expect_rollback_journal(const char *path)
{
	char other[160];
	snprintf(other, sizeof other, "%s-wal", path);
	assert_int_not_equal(access(other, F_OK), 0);
	snprintf(other, sizeof other, "%s-shm", path);
	assert_int_not_equal(access(other, F_OK), 0);
	uint8_t versions[2];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, versions, sizeof versions, 18), (ssize_t)sizeof versions);
	close(fd);
	assert_int_equal(versions[0], 1);
	assert_int_equal(versions[1], 1);
}

/* Runs sql on the file at path with a connection of our own, as another
 * program (or a damaged disk) would. */
static void test_sql(const char *path, const char *sql)
{
	sqlite3 *db = NULL;
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
	char *msg = NULL;
	int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
	if (rc != SQLITE_OK)
		fprintf(stderr, "test_sql: %s\n", msg ? msg : "?");
	sqlite3_free(msg);
	assert_int_equal(rc, SQLITE_OK);
	assert_int_equal(sqlite3_close(db), SQLITE_OK);
}

/* Writes n bytes as an SQL blob literal x'..' into out (cap bytes). */
static const char *test_sql_blob(const uint8_t *p, size_t n, char *out, size_t cap)
{
	assert_true(cap >= 2 * n + 4);
	size_t o = 0;
	out[o++] = 'x';
	out[o++] = '\'';
	for (size_t i = 0; i < n; i++) {
		snprintf(out + o, 3, "%02x", p[i]);
		o += 2;
	}
	out[o++] = '\'';
	out[o] = '\0';
	return out;
}

/* ---- shorthands ------------------------------------------------------------------ */

/* A sender's chain: asserts it is there and returns its number, the key in
 * key. */
static uint64_t test_chain_of(struct fixture *f, const uint8_t room[CSTORE_ROOM_ID_LEN],
			      uint32_t epoch, const uint8_t sender[CSTORE_FP_LEN],
			      uint8_t key[CSTORE_KEY_LEN])
{
	uint64_t next = 0;
	assert_int_equal(cstore_chain_get(f->cs, room, epoch, sender, key, &next), CC_OK);
	assert_true(next >= 1);
	return next;
}

/* Asserts that the sender's chain is at number next with key want. */
static void test_chain_expect(struct fixture *f, const uint8_t room[CSTORE_ROOM_ID_LEN],
			      uint32_t epoch, const uint8_t sender[CSTORE_FP_LEN],
			      const uint8_t want[CSTORE_KEY_LEN], uint64_t next)
{
	uint8_t got[CSTORE_KEY_LEN];
	assert_int_equal(test_chain_of(f, room, epoch, sender, got), next);
	assert_memory_equal(got, want, CSTORE_KEY_LEN);
}

/* Asserts there is no such chain, and that the miss leaves nothing behind. */
static void test_chain_expect_none(struct fixture *f, const uint8_t room[CSTORE_ROOM_ID_LEN],
				   uint32_t epoch, const uint8_t sender[CSTORE_FP_LEN])
{
	uint8_t got[CSTORE_KEY_LEN];
	uint64_t next = 99;
	memset(got, 0x5a, sizeof got);
	assert_int_equal(cstore_chain_get(f->cs, room, epoch, sender, got, &next),
			 CC_ERR_NOT_FOUND);
	assert_int_equal(next, 0);
	test_expect_zero(got, sizeof got);
}

/* An epoch with one sender's chain. */
static void test_epoch_add1(struct fixture *f, const uint8_t room[CSTORE_ROOM_ID_LEN],
			    uint32_t epoch, const uint8_t sender[CSTORE_FP_LEN],
			    const uint8_t key[CSTORE_KEY_LEN])
{
	assert_int_equal(cstore_epoch_add(f->cs, room, epoch,
					  (const uint8_t(*)[CSTORE_FP_LEN])sender,
					  (const uint8_t(*)[CSTORE_KEY_LEN])key, 1), CC_OK);
}

static uint64_t test_messages_of(struct fixture *f, const uint8_t room[CSTORE_ROOM_ID_LEN],
				 uint32_t epoch)
{
	uint64_t n = 99;
	assert_int_equal(cstore_epoch_messages(f->cs, room, epoch, &n), CC_OK);
	return n;
}

/* A receiving key of version, made at created_ms, its parts from seed. */
static struct cstore_recv_key test_recv_key(uint32_t version, uint64_t created_ms,
					    uint32_t seed)
{
	struct cstore_recv_key k = {.version = version, .created_ms = created_ms};
	test_secret(seed, k.priv);
	test_secret(seed + 1000, k.pub);
	return k;
}

/* Asserts that version is stored as want, retired at retired_ms (0: not). */
static void test_recv_expect(struct fixture *f, const struct cstore_recv_key *want,
			     uint64_t retired_ms)
{
	struct cstore_recv_key got;
	memset(&got, 0x5a, sizeof got);
	assert_int_equal(cstore_recv_get(f->cs, want->version, &got), CC_OK);
	assert_int_equal(got.version, want->version);
	assert_memory_equal(got.priv, want->priv, CSTORE_KEY_LEN);
	assert_memory_equal(got.pub, want->pub, CSTORE_KEY_LEN);
	assert_int_equal(got.created_ms, want->created_ms);
	assert_int_equal(got.retired_ms, retired_ms);
}

static void test_recv_expect_none(struct fixture *f, uint32_t version)
{
	struct cstore_recv_key got;
	memset(&got, 0x5a, sizeof got);
	assert_int_equal(cstore_recv_get(f->cs, version, &got), CC_ERR_NOT_FOUND);
	/* Nothing left behind on failure. */
	test_recv_expect_wiped(&got);
}

static uint32_t test_current_version(struct fixture *f)
{
	struct cstore_recv_key got;
	assert_int_equal(cstore_recv_current(f->cs, &got), CC_OK);
	assert_int_equal(got.retired_ms, 0);
	return got.version;
}

/* ---- files ----------------------------------------------------------------------- */

static void test_file_mode(void **state)
{
	struct fixture *f = *state;
	uint8_t room[CSTORE_ROOM_ID_LEN], fp[CSTORE_FP_LEN], key[CSTORE_KEY_LEN];
	char journal[160];
	test_fill(1, room, sizeof room);
	test_fill(2, fp, sizeof fp);
	test_secret(1, key);
	/* A write, so the journal exists too: TRUNCATE leaves it behind, empty
	 * (DELETE would remove it, PERSIST would leave its old pages). */
	test_epoch_add1(f, room, 0, fp, key);
	tmpdir_expect_mode(f->tmp.path, 0600);
	snprintf(journal, sizeof journal, "%s-journal", f->tmp.path);
	tmpdir_expect_mode(journal, 0600);
	struct stat sb;
	assert_int_equal(stat(journal, &sb), 0);
	assert_int_equal(sb.st_size, 0);
	test_expect_rollback_journal(f->tmp.path);
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
	test_fill(3, room, sizeof room);
	test_fill(4, fp, sizeof fp);
	test_secret(2, key);
	snprintf(journal, sizeof journal, "%s-journal", f->tmp.path);

	for (int round = 0; round < 2; round++) {
		struct cstore_recv_key k = test_recv_key((uint32_t)round + 1, 1000u * (round + 1),
							 (uint32_t)round + 3);
		assert_int_equal(cstore_recv_add(f->cs, &k), CC_OK);
		test_epoch_add1(f, room, (uint32_t)round, fp, key);
		assert_int_equal(cstore_chain_advance(f->cs, room, (uint32_t)round, fp, key, 2),
				 CC_OK);
		struct cstore_ratchet step = {.next_seq = 3};
		test_secret(4, step.chain_key);
		assert_int_equal(cstore_message_handled(f->cs, room, fp, (uint32_t)round, 2, 1, 1,
							&step), CC_OK);
		assert_int_equal(cstore_recv_seen_put(f->cs, fp, (uint32_t)round + 1, 1, key),
				 CC_OK);
		assert_int_equal(cstore_pin_put(f->cs, "gina", fp, round, 1), CC_OK);
		assert_int_equal(cstore_recv_delete_retired(f->cs, UINT64_MAX, NULL), CC_OK);
		assert_int_equal(cstore_epoch_forget(f->cs, room, 0), CC_OK);
		test_expect_rollback_journal(f->tmp.path);
		assert_int_equal(stat(journal, &sb), 0);
		assert_int_equal(sb.st_size, 0);
		test_reopen(f);
	}
	test_close(f);
	test_expect_rollback_journal(f->tmp.path);
	assert_true(stat(journal, &sb) != 0 || sb.st_size == 0);
	test_open(f);
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
	test_recv_expect_wiped(&got);
	test_recv_expect_none(f, 1);

	struct cstore_recv_key k1 = test_recv_key(1, 1000, 10);
	assert_int_equal(cstore_recv_add(f->cs, &k1), CC_OK);
	assert_int_equal(cstore_recv_current(f->cs, &got), CC_OK);
	assert_int_equal(got.version, 1);
	assert_memory_equal(got.priv, k1.priv, CSTORE_KEY_LEN);
	assert_memory_equal(got.pub, k1.pub, CSTORE_KEY_LEN);
	assert_int_equal(got.created_ms, 1000);
	assert_int_equal(got.retired_ms, 0);
	test_recv_expect(f, &k1, 0);

	/* The next one retires it at its own creation time; the old private
	 * part stays until deleted (messages wrapped to it may still come). */
	struct cstore_recv_key k2 = test_recv_key(2, 2000, 11);
	assert_int_equal(cstore_recv_add(f->cs, &k2), CC_OK);
	assert_int_equal(test_current_version(f), 2);
	test_recv_expect(f, &k2, 0);
	test_recv_expect(f, &k1, 2000);

	/* Versions need not follow on; the one before is retired at 3500, the
	 * first keeps its time. */
	struct cstore_recv_key k5 = test_recv_key(5, 3500, 12);
	assert_int_equal(cstore_recv_add(f->cs, &k5), CC_OK);
	assert_int_equal(test_current_version(f), 5);
	test_recv_expect(f, &k5, 0);
	test_recv_expect(f, &k2, 3500);
	test_recv_expect(f, &k1, 2000);
	test_recv_expect_none(f, 3);
	test_recv_expect_none(f, 4);
	test_recv_expect_none(f, 6);
	test_recv_expect_none(f, 0);

	/* Version 0 is nobody's key. */
	struct cstore_recv_key bad = test_recv_key(0, 9000, 13);
	assert_int_equal(cstore_recv_add(f->cs, &bad), CC_ERR_INTERNAL);
	/* A version already here, or below the newest, is refused and changes
	 * nothing: neither the stored key nor, by a retirement, the current one
	 * (an older key would never be retired, so never deleted). */
	bad = test_recv_key(5, 9000, 14);
	assert_int_equal(cstore_recv_add(f->cs, &bad), CC_ERR_OUTDATED);
	bad = test_recv_key(4, 9000, 14);
	assert_int_equal(cstore_recv_add(f->cs, &bad), CC_ERR_OUTDATED);
	test_recv_expect_none(f, 4);
	/* Nor without a time: it could retire nothing. */
	bad = test_recv_key(6, 0, 14);
	assert_int_equal(cstore_recv_add(f->cs, &bad), CC_ERR_MALFORMED);
	/* A time SQLite cannot hold is refused, and retires nothing. */
	bad = test_recv_key(6, (uint64_t)INT64_MAX + 1, 15);
	assert_int_equal(cstore_recv_add(f->cs, &bad), CC_ERR_MALFORMED);
	test_recv_expect_none(f, 6);
	assert_int_equal(test_current_version(f), 5);
	test_recv_expect(f, &k5, 0);
	test_recv_expect(f, &k2, 3500);

	/* The whole version range; and it all outlives a reopen. */
	struct cstore_recv_key kmax = test_recv_key(UINT32_MAX, (uint64_t)INT64_MAX, 16);
	assert_int_equal(cstore_recv_add(f->cs, &kmax), CC_OK);
	test_reopen(f);
	assert_int_equal(test_current_version(f), UINT32_MAX);
	test_recv_expect(f, &kmax, 0);
	test_recv_expect(f, &k5, (uint64_t)INT64_MAX);
	test_recv_expect(f, &k2, 3500);
	test_recv_expect(f, &k1, 2000);
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
		k[i] = test_recv_key(i + 1, 1000u * (i + 1), 20 + i);
		assert_int_equal(cstore_recv_add(f->cs, &k[i]), CC_OK);
	}
	/* v1 retired at 2000, v2 at 3000, v3 at 4000, v4 current. The current
	 * key, however old, is never deleted. */
	deleted = 99;
	assert_int_equal(cstore_recv_delete_retired(f->cs, 2000, &deleted), CC_OK);
	assert_int_equal(deleted, 0);
	test_recv_expect(f, &k[0], 2000);
	assert_int_equal(cstore_recv_delete_retired(f->cs, 2001, &deleted), CC_OK);
	assert_int_equal(deleted, 1);
	test_recv_expect_none(f, 1);
	test_recv_expect(f, &k[1], 3000);
	assert_int_equal(cstore_recv_delete_retired(f->cs, 2001, &deleted), CC_OK);
	assert_int_equal(deleted, 0);

	/* No counter wanted. */
	assert_int_equal(cstore_recv_delete_retired(f->cs, 3500, NULL), CC_OK);
	test_recv_expect_none(f, 2);
	test_recv_expect(f, &k[2], 4000);

	/* Any cutoff, even past what SQLite holds, spares the current key. */
	assert_int_equal(cstore_recv_delete_retired(f->cs, UINT64_MAX, &deleted), CC_OK);
	assert_int_equal(deleted, 1);
	test_recv_expect_none(f, 3);
	test_recv_expect(f, &k[3], 0);
	assert_int_equal(test_current_version(f), 4);

	test_reopen(f);
	for (uint32_t v = 1; v <= 3; v++)
		test_recv_expect_none(f, v);
	test_recv_expect(f, &k[3], 0);
	/* The next key retires the current one, which can go in its turn. */
	struct cstore_recv_key k5 = test_recv_key(5, 9000, 30);
	assert_int_equal(cstore_recv_add(f->cs, &k5), CC_OK);
	assert_int_equal(cstore_recv_delete_retired(f->cs, 9001, &deleted), CC_OK);
	assert_int_equal(deleted, 1);
	test_recv_expect_none(f, 4);
	test_recv_expect(f, &k5, 0);
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
	test_fill(60, alice, sizeof alice);
	test_fill(61, bob, sizeof bob);
	test_secret(60, p1);
	test_secret(61, p2);
	test_secret(62, p3);

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
	test_reopen(f);
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
	test_fill(70, room, sizeof room);
	memcpy(other, room, sizeof other);
	other[CSTORE_ROOM_ID_LEN - 1] ^= 1; /* differs in the last byte only */
	for (uint8_t i = 0; i < 3; i++) {
		test_fill((uint8_t)(71 + i), senders[i], sizeof senders[i]);
		test_secret(70u + i, keys[i]);
	}
	test_fill(74, carol, sizeof carol);

	assert_int_equal(cstore_epoch_has(f->cs, room, 4), CC_ERR_NOT_FOUND);
	test_chain_expect_none(f, room, 4, senders[0]);
	assert_int_equal(test_messages_of(f, room, 4), 0);

	assert_int_equal(cstore_epoch_add(f->cs, room, 4, (const uint8_t(*)[CSTORE_FP_LEN])senders,
					  (const uint8_t(*)[CSTORE_KEY_LEN])keys, 3), CC_OK);
	assert_int_equal(cstore_epoch_has(f->cs, room, 4), CC_OK);
	for (int i = 0; i < 3; i++)
		test_chain_expect(f, room, 4, senders[i], keys[i], 1);
	assert_int_equal(test_messages_of(f, room, 4), 0);
	/* Not another sender, epoch or room. */
	test_chain_expect_none(f, room, 4, carol);
	assert_int_equal(cstore_epoch_has(f->cs, room, 3), CC_ERR_NOT_FOUND);
	assert_int_equal(cstore_epoch_has(f->cs, room, 5), CC_ERR_NOT_FOUND);
	test_chain_expect_none(f, room, 5, senders[0]);
	assert_int_equal(cstore_epoch_has(f->cs, other, 4), CC_ERR_NOT_FOUND);
	test_chain_expect_none(f, other, 4, senders[0]);

	/* The same senders in another epoch and another room: other keys, each
	 * its own. The whole epoch range. */
	uint8_t k_other[CSTORE_KEY_LEN], k_max[CSTORE_KEY_LEN], k_zero[CSTORE_KEY_LEN];
	test_secret(75, k_other);
	test_secret(76, k_max);
	test_secret(77, k_zero);
	test_epoch_add1(f, other, 4, senders[0], k_other);
	test_epoch_add1(f, room, UINT32_MAX, senders[0], k_max);
	test_epoch_add1(f, room, 0, senders[0], k_zero);
	test_chain_expect(f, other, 4, senders[0], k_other, 1);
	test_chain_expect(f, room, UINT32_MAX, senders[0], k_max, 1);
	test_chain_expect(f, room, 0, senders[0], k_zero, 1);
	test_chain_expect(f, room, 4, senders[0], keys[0], 1);
	test_chain_expect_none(f, room, UINT32_MAX - 1, senders[0]);
	test_chain_expect_none(f, other, 4, senders[1]);

	/* No senders at all makes no epoch. */
	assert_int_equal(cstore_epoch_add(f->cs, room, 9, NULL, NULL, 0), CC_OK);
	assert_int_equal(cstore_epoch_has(f->cs, room, 9), CC_ERR_NOT_FOUND);

	test_reopen(f);
	for (int i = 0; i < 3; i++)
		test_chain_expect(f, room, 4, senders[i], keys[i], 1);
	test_chain_expect(f, other, 4, senders[0], k_other, 1);
	test_chain_expect(f, room, UINT32_MAX, senders[0], k_max, 1);
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
	test_fill(80, room, sizeof room);
	test_fill(81, other, sizeof other);
	test_fill(82, alice, sizeof alice);
	test_fill(83, bob, sizeof bob);
	test_fill(84, carol, sizeof carol);
	test_secret(80, k1);
	test_secret(81, kb);
	test_secret(82, k2);
	test_secret(85, k5);
	test_secret(89, kx);
	uint8_t senders[2][CSTORE_FP_LEN];
	memcpy(senders[0], alice, CSTORE_FP_LEN);
	memcpy(senders[1], bob, CSTORE_FP_LEN);
	uint8_t keys[2][CSTORE_KEY_LEN];
	memcpy(keys[0], k1, CSTORE_KEY_LEN);
	memcpy(keys[1], kb, CSTORE_KEY_LEN);
	assert_int_equal(cstore_epoch_add(f->cs, room, 1, (const uint8_t(*)[CSTORE_FP_LEN])senders,
					  (const uint8_t(*)[CSTORE_KEY_LEN])keys, 2), CC_OK);

	assert_int_equal(cstore_chain_advance(f->cs, room, 1, alice, k2, 2), CC_OK);
	test_chain_expect(f, room, 1, alice, k2, 2);
	test_chain_expect(f, room, 1, bob, kb, 1);

	/* The same number or one behind: refused, the key not replaced. */
	const uint64_t behind[] = {2, 1, 0};
	for (size_t i = 0; i < sizeof behind / sizeof behind[0]; i++) {
		assert_int_equal(cstore_chain_advance(f->cs, room, 1, alice, kx, behind[i]),
				 CC_ERR_STALE_EPOCH);
		test_chain_expect(f, room, 1, alice, k2, 2);
	}
	/* A step of several numbers at once. */
	assert_int_equal(cstore_chain_advance(f->cs, room, 1, alice, k5, 5), CC_OK);
	test_chain_expect(f, room, 1, alice, k5, 5);

	/* No chain for that sender, epoch or room: not found, and none made. */
	assert_int_equal(cstore_chain_advance(f->cs, room, 1, carol, kx, 2), CC_ERR_NOT_FOUND);
	assert_int_equal(cstore_chain_advance(f->cs, room, 2, alice, kx, 2), CC_ERR_NOT_FOUND);
	assert_int_equal(cstore_chain_advance(f->cs, other, 1, alice, kx, 2), CC_ERR_NOT_FOUND);
	test_chain_expect_none(f, room, 1, carol);
	test_chain_expect_none(f, room, 2, alice);
	test_chain_expect_none(f, other, 1, alice);
	assert_int_equal(cstore_epoch_has(f->cs, room, 2), CC_ERR_NOT_FOUND);
	assert_int_equal(cstore_epoch_has(f->cs, other, 1), CC_ERR_NOT_FOUND);

	/* Not back across a reopen either. */
	test_reopen(f);
	test_chain_expect(f, room, 1, alice, k5, 5);
	assert_int_equal(cstore_chain_advance(f->cs, room, 1, alice, kx, 5), CC_ERR_STALE_EPOCH);
	assert_int_equal(cstore_chain_advance(f->cs, room, 1, alice, kx, 3), CC_ERR_STALE_EPOCH);
	test_chain_expect(f, room, 1, alice, k5, 5);

	/* The largest number SQLite holds; none beyond. */
	assert_int_equal(cstore_chain_advance(f->cs, room, 1, bob, kx, (uint64_t)INT64_MAX),
			 CC_OK);
	test_chain_expect(f, room, 1, bob, kx, (uint64_t)INT64_MAX);
	assert_int_equal(cstore_chain_advance(f->cs, room, 1, alice, k2, (uint64_t)INT64_MAX + 1),
			 CC_ERR_LIMIT);
	assert_int_equal(cstore_chain_advance(f->cs, room, 1, alice, k2, UINT64_MAX),
			 CC_ERR_LIMIT);
	test_chain_expect(f, room, 1, alice, k5, 5);
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
	test_fill(90, room, sizeof room);
	for (uint8_t i = 0; i < 3; i++) {
		test_fill((uint8_t)(91 + i), senders[i], sizeof senders[i]);
		test_secret(90u + i, first[i]);
		test_secret(95u + i, again[i]);
	}
	test_secret(99, ka3);

	/* alice and bob; alice has moved on, bob has not. */
	assert_int_equal(cstore_epoch_add(f->cs, room, 2, (const uint8_t(*)[CSTORE_FP_LEN])senders,
					  (const uint8_t(*)[CSTORE_KEY_LEN])first, 2), CC_OK);
	assert_int_equal(cstore_chain_advance(f->cs, room, 2, senders[0], ka3, 3), CC_OK);

	/* Again, with other keys and carol too. */
	assert_int_equal(cstore_epoch_add(f->cs, room, 2, (const uint8_t(*)[CSTORE_FP_LEN])senders,
					  (const uint8_t(*)[CSTORE_KEY_LEN])again, 3), CC_OK);
	test_chain_expect(f, room, 2, senders[0], ka3, 3);
	test_chain_expect(f, room, 2, senders[1], first[1], 1);
	test_chain_expect(f, room, 2, senders[2], again[2], 1);
	assert_int_equal(test_messages_of(f, room, 2), 2);

	test_reopen(f);
	assert_int_equal(cstore_epoch_add(f->cs, room, 2, (const uint8_t(*)[CSTORE_FP_LEN])senders,
					  (const uint8_t(*)[CSTORE_KEY_LEN])first, 3), CC_OK);
	test_chain_expect(f, room, 2, senders[0], ka3, 3);
	test_chain_expect(f, room, 2, senders[1], first[1], 1);
	test_chain_expect(f, room, 2, senders[2], again[2], 1);
}

/* How many messages an epoch's chains have counted: the sum over its
 * senders of their numbers less one, per room and epoch. */
static void test_epoch_messages(void **state)
{
	struct fixture *f = *state;
	uint8_t room[CSTORE_ROOM_ID_LEN], other[CSTORE_ROOM_ID_LEN];
	uint8_t senders[3][CSTORE_FP_LEN], keys[3][CSTORE_KEY_LEN], k[CSTORE_KEY_LEN];
	test_fill(100, room, sizeof room);
	test_fill(101, other, sizeof other);
	for (uint8_t i = 0; i < 3; i++) {
		test_fill((uint8_t)(102 + i), senders[i], sizeof senders[i]);
		test_secret(100u + i, keys[i]);
	}
	test_secret(105, k);

	assert_int_equal(test_messages_of(f, room, 1), 0);
	assert_int_equal(cstore_epoch_add(f->cs, room, 1, (const uint8_t(*)[CSTORE_FP_LEN])senders,
					  (const uint8_t(*)[CSTORE_KEY_LEN])keys, 3), CC_OK);
	assert_int_equal(test_messages_of(f, room, 1), 0);
	assert_int_equal(cstore_chain_advance(f->cs, room, 1, senders[0], k, 4), CC_OK);
	assert_int_equal(test_messages_of(f, room, 1), 3);
	assert_int_equal(cstore_chain_advance(f->cs, room, 1, senders[1], k, 2), CC_OK);
	assert_int_equal(test_messages_of(f, room, 1), 4);
	struct cstore_ratchet step = {.next_seq = 3};
	test_secret(106, step.chain_key);
	assert_int_equal(cstore_message_handled(f->cs, room, senders[2], 1, 2, 1, 1, &step),
			 CC_OK);
	assert_int_equal(test_messages_of(f, room, 1), 6);

	/* Another epoch of the room, the same epoch of another room. */
	test_epoch_add1(f, room, 2, senders[0], k);
	assert_int_equal(cstore_chain_advance(f->cs, room, 2, senders[0], k, 11), CC_OK);
	test_epoch_add1(f, other, 1, senders[0], k);
	assert_int_equal(test_messages_of(f, room, 2), 10);
	assert_int_equal(test_messages_of(f, other, 1), 0);
	assert_int_equal(test_messages_of(f, room, 1), 6);
	test_reopen(f);
	assert_int_equal(test_messages_of(f, room, 1), 6);
	/* A forgotten epoch counts nothing any more. */
	assert_int_equal(cstore_epoch_forget(f->cs, room, 1), CC_OK);
	assert_int_equal(test_messages_of(f, room, 1), 0);
	assert_int_equal(test_messages_of(f, room, 2), 10);
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
	test_fill(110, room, sizeof room);
	test_fill(111, other, sizeof other);
	/* room was verified here: it remembers what was deleted for good. */
	struct cstore_room verified = {.head_count = 3, .epoch = 5, .members = 2};
	assert_int_equal(cstore_room_put(f->cs, room, &verified), CC_OK);
	test_fill(112, senders[0], sizeof senders[0]);
	test_fill(113, senders[1], sizeof senders[1]);
	for (size_t e = 0; e < n_epochs; e++) {
		for (uint8_t i = 0; i < 2; i++)
			test_secret(110u + 10u * epochs[e] + i, keys[i]);
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
			test_secret(110u + 10u * epochs[e] + i, keys[i]);
			if (gone)
				test_chain_expect_none(f, room, epochs[e], senders[i]);
			else
				test_chain_expect(f, room, epochs[e], senders[i], keys[i], 1);
			test_chain_expect(f, other, epochs[e], senders[i], keys[i], 1);
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
	test_reopen(f);
	assert_int_equal(cstore_epoch_has(f->cs, room, 2), CC_ERR_NOT_FOUND);
	assert_int_equal(cstore_epoch_has(f->cs, room, 5), CC_OK);
	/* All of them; the other room still untouched. */
	assert_int_equal(cstore_epoch_forget(f->cs, room, UINT32_MAX), CC_OK);
	assert_int_equal(cstore_epoch_has(f->cs, room, 5), CC_ERR_NOT_FOUND);
	for (size_t e = 0; e < n_epochs; e++)
		assert_int_equal(cstore_epoch_has(f->cs, other, epochs[e]), CC_OK);
	/* A room with nothing to forget. */
	uint8_t unknown[CSTORE_ROOM_ID_LEN];
	test_fill(114, unknown, sizeof unknown);
	assert_int_equal(cstore_epoch_forget(f->cs, unknown, 3), CC_OK);
}

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
	test_fill(120, room, sizeof room);
	test_fill(121, alice, sizeof alice);
	test_fill(122, bob, sizeof bob);
	memcpy(senders[0], alice, CSTORE_FP_LEN);
	memcpy(senders[1], bob, CSTORE_FP_LEN);
	test_secret(1201, keys[0]);
	test_secret(1301, keys[1]);
	assert_int_equal(cstore_epoch_add(f->cs, room, 1, (const uint8_t(*)[CSTORE_FP_LEN])senders,
					  (const uint8_t(*)[CSTORE_KEY_LEN])keys, 2), CC_OK);
	/* The scan sees what is there. */
	test_close(f);
	assert_true(test_files_hold(f->tmp.path, keys[0]));
	assert_true(test_files_hold(f->tmp.path, keys[1]));
	test_open(f);

	/* One step, then look at once: later writes must not be what happens
	 * to cover the old bytes (the step changes the row's size, so SQLite
	 * moves the row rather than overwriting it in place, and without
	 * secure_delete leaves the old one in the page's free space). alice:
	 * our own chain, stepped by chain_advance. */
	test_secret(1202, k);
	assert_int_equal(cstore_chain_advance(f->cs, room, 1, alice, k, 2), CC_OK);
	test_close(f);
	test_expect_rollback_journal(f->tmp.path);
	assert_false(test_files_hold(f->tmp.path, keys[0]));
	assert_true(test_files_hold(f->tmp.path, k));
	assert_true(test_files_hold(f->tmp.path, keys[1]));
	/* bob: stepped as his message is handled. */
	test_open(f);
	struct cstore_ratchet first = {.next_seq = 2};
	test_secret(1302, first.chain_key);
	assert_int_equal(cstore_message_handled(f->cs, room, bob, 1, 1, 1, 1, &first), CC_OK);
	test_close(f);
	test_expect_rollback_journal(f->tmp.path);
	assert_false(test_files_hold(f->tmp.path, keys[1]));
	assert_true(test_files_hold(f->tmp.path, first.chain_key));
	test_open(f);

	/* Then many steps. */
	for (uint32_t n = 3; n <= 40; n++) {
		test_secret(1200 + n - 1, prev);
		test_secret(1200 + n, k);
		test_chain_expect(f, room, 1, alice, prev, n - 1);
		assert_int_equal(cstore_chain_advance(f->cs, room, 1, alice, k, n), CC_OK);
	}
	for (uint32_t n = 3; n <= 10; n++) {
		struct cstore_ratchet step = {.next_seq = n};
		test_secret(1300 + n, step.chain_key);
		assert_int_equal(cstore_message_handled(f->cs, room, bob, 1, n - 1, n, n, &step),
				 CC_OK);
	}
	test_close(f);
	test_expect_rollback_journal(f->tmp.path);
	for (uint32_t n = 1; n < 40; n++) {
		test_secret(1200 + n, k);
		assert_false(test_files_hold(f->tmp.path, k));
	}
	for (uint32_t n = 1; n < 10; n++) {
		test_secret(1300 + n, k);
		assert_false(test_files_hold(f->tmp.path, k));
	}
	/* The current keys are there, of course. */
	test_secret(1240, k);
	assert_true(test_files_hold(f->tmp.path, k));
	test_secret(1310, k);
	assert_true(test_files_hold(f->tmp.path, k));
	test_open(f);
	test_secret(1240, k);
	test_chain_expect(f, room, 1, alice, k, 40);
	test_secret(1310, k);
	test_chain_expect(f, room, 1, bob, k, 10);
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

/* A handled message (here without a chain step, as for our own) raises
 * three numbers at once (the sender's seen number for the epoch, the room's
 * last message id, the sender's activity), and none goes down. */
static void test_seen_message(void **state)
{
	struct fixture *f = *state;
	uint8_t room[CSTORE_ROOM_ID_LEN], alice[CSTORE_FP_LEN];
	test_fill(8, room, sizeof room);
	test_fill(9, alice, sizeof alice);
	test_room_put(f, room, 3);

	assert_int_equal(cstore_message_handled(f->cs, room, alice, 2, 3, 40, 1000, NULL), CC_OK);
	assert_int_equal(test_seen_of(f, room, alice, 2), 3);
	assert_int_equal(test_last_id(f, room), 40);
	assert_int_equal(test_activity_of(f, alice), 1000);
	/* Lower numbers are ignored, each on its own. */
	assert_int_equal(cstore_message_handled(f->cs, room, alice, 2, 2, 41, 900, NULL), CC_OK);
	assert_int_equal(test_seen_of(f, room, alice, 2), 3);
	assert_int_equal(test_last_id(f, room), 41);
	assert_int_equal(test_activity_of(f, alice), 1000);
	assert_int_equal(cstore_message_handled(f->cs, room, alice, 2, 4, 30, 1100, NULL), CC_OK);
	assert_int_equal(test_seen_of(f, room, alice, 2), 4);
	assert_int_equal(test_last_id(f, room), 41);
	assert_int_equal(test_activity_of(f, alice), 1100);
	/* A number out of range writes none of the three. */
	assert_int_equal(cstore_message_handled(f->cs, room, alice, 2, UINT64_MAX, 50, 2000, NULL),
			 CC_ERR_MALFORMED);
	assert_int_equal(cstore_message_handled(f->cs, room, alice, 2, 9, (uint64_t)INT64_MAX + 1,
						2000, NULL), CC_ERR_MALFORMED);
	assert_int_equal(cstore_message_handled(f->cs, room, alice, 2, 9, 50,
						(uint64_t)INT64_MAX + 1, NULL), CC_ERR_MALFORMED);
	assert_int_equal(test_seen_of(f, room, alice, 2), 4);
	assert_int_equal(test_last_id(f, room), 41);
	assert_int_equal(test_activity_of(f, alice), 1100);
	/* The largest storable values go through. */
	assert_int_equal(cstore_message_handled(f->cs, room, alice, 2, (uint64_t)INT64_MAX,
						(uint64_t)INT64_MAX, (uint64_t)INT64_MAX, NULL),
			 CC_OK);
	assert_int_equal(test_seen_of(f, room, alice, 2), (uint64_t)INT64_MAX);
	assert_int_equal(test_last_id(f, room), (uint64_t)INT64_MAX);
	assert_int_equal(test_activity_of(f, alice), (uint64_t)INT64_MAX);

	/* A room never verified here has no row to raise: the seen number and
	 * the activity are kept, no room appears. */
	uint8_t unverified[CSTORE_ROOM_ID_LEN], bob[CSTORE_FP_LEN];
	struct cstore_room r;
	test_fill(40, unverified, sizeof unverified);
	test_fill(41, bob, sizeof bob);
	assert_int_equal(cstore_message_handled(f->cs, unverified, bob, 0, 5, 6, 7, NULL), CC_OK);
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

	assert_int_equal(cstore_message_handled(f->cs, room, alice, 0, 5, 1, 1, NULL), CC_OK);
	assert_int_equal(test_seen_of(f, room, alice, 0), 5);
	assert_int_equal(cstore_message_handled(f->cs, room, alice, 0, 7, 2, 1, NULL), CC_OK);
	assert_int_equal(test_seen_of(f, room, alice, 0), 7);

	/* Never lowered: not by a lower value, not by 0, not by the same. */
	const uint64_t lower[] = {6, 0, 1, 7};
	for (size_t i = 0; i < sizeof lower / sizeof lower[0]; i++) {
		assert_int_equal(cstore_message_handled(f->cs, room, alice, 0, lower[i], 3, 1,
							NULL), CC_OK);
		assert_int_equal(test_seen_of(f, room, alice, 0), 7);
	}
	/* Not across a reopen either. */
	test_reopen(f);
	assert_int_equal(cstore_message_handled(f->cs, room, alice, 0, 3, 4, 1, NULL), CC_OK);
	assert_int_equal(test_seen_of(f, room, alice, 0), 7);

	/* Per sender. */
	assert_int_equal(test_seen_of(f, room, bob, 0), 0);
	assert_int_equal(cstore_message_handled(f->cs, room, bob, 0, 2, 5, 1, NULL), CC_OK);
	assert_int_equal(test_seen_of(f, room, bob, 0), 2);
	assert_int_equal(test_seen_of(f, room, alice, 0), 7);

	/* Per room. */
	uint8_t other[CSTORE_ROOM_ID_LEN];
	test_fill(11, other, sizeof other);
	assert_int_equal(test_seen_of(f, other, alice, 0), 0);
	assert_int_equal(cstore_message_handled(f->cs, other, alice, 0, 1, 6, 1, NULL), CC_OK);
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

	assert_int_equal(cstore_message_handled(f->cs, room, alice, 0, 40, 1, 1, NULL), CC_OK);
	assert_int_equal(test_seen_of(f, room, alice, 1), 0);
	assert_int_equal(cstore_message_handled(f->cs, room, alice, 1, 2, 2, 2, NULL), CC_OK);
	assert_int_equal(test_seen_of(f, room, alice, 0), 40);
	assert_int_equal(test_seen_of(f, room, alice, 1), 2);
	/* A later epoch's low numbers do not lower an earlier one's, nor the
	 * reverse. */
	assert_int_equal(cstore_message_handled(f->cs, room, alice, 0, 41, 3, 3, NULL), CC_OK);
	assert_int_equal(cstore_message_handled(f->cs, room, alice, 1, 1, 4, 4, NULL), CC_OK);
	assert_int_equal(test_seen_of(f, room, alice, 0), 41);
	assert_int_equal(test_seen_of(f, room, alice, 1), 2);
	/* The whole epoch range. */
	assert_int_equal(cstore_message_handled(f->cs, room, alice, UINT32_MAX, 9, 5, 5, NULL),
			 CC_OK);
	assert_int_equal(test_seen_of(f, room, alice, UINT32_MAX), 9);
	assert_int_equal(test_seen_of(f, room, alice, UINT32_MAX - 1), 0);
	assert_int_equal(test_seen_of(f, room, alice, 2), 0);
	test_reopen(f);
	assert_int_equal(test_seen_of(f, room, alice, 0), 41);
	assert_int_equal(test_seen_of(f, room, alice, 1), 2);
	assert_int_equal(test_seen_of(f, room, alice, UINT32_MAX), 9);
}

/* Forgetting epochs deletes their chain keys from the files; the later
 * epoch's key, and the other room's, are still there until forgetting the
 * room deletes them too. */
static void test_forget_erases_keys(void **state)
{
	struct fixture *f = *state;
	uint8_t room[CSTORE_ROOM_ID_LEN], other[CSTORE_ROOM_ID_LEN], fp[CSTORE_FP_LEN];
	uint8_t k[4][CSTORE_KEY_LEN], k_other[CSTORE_KEY_LEN];
	test_fill(130, room, sizeof room);
	test_fill(131, other, sizeof other);
	test_fill(132, fp, sizeof fp);
	for (uint32_t e = 1; e <= 3; e++) {
		test_secret(1400 + e, k[e]);
		test_epoch_add1(f, room, e, fp, k[e]);
	}
	test_secret(1410, k_other);
	test_epoch_add1(f, other, 1, fp, k_other);
	test_close(f);
	for (uint32_t e = 1; e <= 3; e++)
		assert_true(test_files_hold(f->tmp.path, k[e]));

	test_open(f);
	assert_int_equal(cstore_epoch_forget(f->cs, room, 2), CC_OK);
	test_close(f);
	test_expect_rollback_journal(f->tmp.path);
	assert_false(test_files_hold(f->tmp.path, k[1]));
	assert_false(test_files_hold(f->tmp.path, k[2]));
	assert_true(test_files_hold(f->tmp.path, k[3]));
	assert_true(test_files_hold(f->tmp.path, k_other));

	test_open(f);
	assert_int_equal(cstore_room_forget(f->cs, room), CC_OK);
	test_close(f);
	test_expect_rollback_journal(f->tmp.path);
	assert_false(test_files_hold(f->tmp.path, k[3]));
	assert_true(test_files_hold(f->tmp.path, k_other));
	test_open(f);
}

/* Deleting retired receiving keys deletes their private parts from the
 * files; those not yet due stay. */
static void test_recv_delete_erases_keys(void **state)
{
	struct fixture *f = *state;
	struct cstore_recv_key k[3];
	for (uint32_t i = 0; i < 3; i++) {
		k[i] = test_recv_key(i + 1, 1000u * (i + 1), 1500 + i);
		assert_int_equal(cstore_recv_add(f->cs, &k[i]), CC_OK);
	}
	test_close(f);
	for (int i = 0; i < 3; i++)
		assert_true(test_files_hold(f->tmp.path, k[i].priv));

	/* v1 retired at 2000, v2 at 3000. */
	test_open(f);
	uint32_t deleted = 0;
	assert_int_equal(cstore_recv_delete_retired(f->cs, 2500, &deleted), CC_OK);
	assert_int_equal(deleted, 1);
	test_close(f);
	test_expect_rollback_journal(f->tmp.path);
	assert_false(test_files_hold(f->tmp.path, k[0].priv));
	assert_true(test_files_hold(f->tmp.path, k[1].priv));
	assert_true(test_files_hold(f->tmp.path, k[2].priv));

	test_open(f);
	assert_int_equal(cstore_recv_delete_retired(f->cs, 3001, &deleted), CC_OK);
	assert_int_equal(deleted, 1);
	test_close(f);
	assert_false(test_files_hold(f->tmp.path, k[1].priv));
	assert_true(test_files_hold(f->tmp.path, k[2].priv));
	test_open(f);
}

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
	test_fill(140, room, sizeof room);
	test_fill(141, alice, sizeof alice);
	test_fill(142, bob, sizeof bob);
	test_secret(1600, ka);
	test_secret(1700, kb);
	test_room_put(f, room, 3);
	test_epoch_add1(f, room, 2, alice, ka);
	test_epoch_add1(f, room, 2, bob, kb);

	struct cstore_ratchet step = {.next_seq = 2};
	test_secret(1602, step.chain_key);
	assert_int_equal(cstore_message_handled(f->cs, room, alice, 2, 1, 10, 100, &step), CC_OK);
	test_chain_expect(f, room, 2, alice, step.chain_key, 2);
	assert_int_equal(test_seen_of(f, room, alice, 2), 1);
	assert_int_equal(test_last_id(f, room), 10);
	assert_int_equal(test_activity_of(f, alice), 100);
	/* Messages 2 to 4 never came: the chain jumps past them. */
	step.next_seq = 6;
	test_secret(1606, step.chain_key);
	assert_int_equal(cstore_message_handled(f->cs, room, alice, 2, 5, 11, 200, &step), CC_OK);
	test_chain_expect(f, room, 2, alice, step.chain_key, 6);
	assert_int_equal(test_seen_of(f, room, alice, 2), 5);
	assert_int_equal(test_last_id(f, room), 11);
	assert_int_equal(test_activity_of(f, alice), 200);
	/* bob's chain did not move. */
	test_chain_expect(f, room, 2, bob, kb, 1);

	/* A step to where the chain is, or behind it: refused, and nothing
	 * else stored either. */
	uint8_t k6[CSTORE_KEY_LEN];
	memcpy(k6, step.chain_key, sizeof k6);
	const uint64_t stale[] = {6, 3};
	for (size_t i = 0; i < sizeof stale / sizeof stale[0]; i++) {
		struct cstore_ratchet back = {.next_seq = stale[i]};
		test_secret(1690, back.chain_key);
		assert_int_equal(cstore_message_handled(f->cs, room, alice, 2, 9, 20, 300, &back),
				 CC_ERR_STALE_EPOCH);
		test_chain_expect(f, room, 2, alice, k6, 6);
		assert_int_equal(test_seen_of(f, room, alice, 2), 5);
		assert_int_equal(test_last_id(f, room), 11);
		assert_int_equal(test_activity_of(f, alice), 200);
	}
	/* No chain for the sender in that epoch (forgotten, or never opened):
	 * not found, nothing stored, no chain made. */
	struct cstore_ratchet lost = {.next_seq = 2};
	test_secret(1691, lost.chain_key);
	assert_int_equal(cstore_message_handled(f->cs, room, bob, 3, 1, 21, 400, &lost),
			 CC_ERR_NOT_FOUND);
	assert_int_equal(test_seen_of(f, room, bob, 3), 0);
	assert_int_equal(test_last_id(f, room), 11);
	assert_int_equal(test_activity_of(f, bob), 0);
	test_chain_expect_none(f, room, 3, bob);
	/* A number out of range in the step: refused the same way. */
	lost.next_seq = (uint64_t)INT64_MAX + 1;
	assert_int_equal(cstore_message_handled(f->cs, room, bob, 2, 1, 22, 500, &lost),
			 CC_ERR_LIMIT);
	test_chain_expect(f, room, 2, bob, kb, 1);
	assert_int_equal(test_seen_of(f, room, bob, 2), 0);
	assert_int_equal(test_last_id(f, room), 11);
	assert_int_equal(test_activity_of(f, bob), 0);
	/* And one in the message's numbers: the step is not taken. */
	lost.next_seq = 2;
	assert_int_equal(cstore_message_handled(f->cs, room, bob, 2, UINT64_MAX, 23, 600, &lost),
			 CC_ERR_MALFORMED);
	test_chain_expect(f, room, 2, bob, kb, 1);

	/* Our own message: no step, the chain (moved before sending) stays. */
	assert_int_equal(cstore_message_handled(f->cs, room, alice, 2, 6, 30, 700, NULL), CC_OK);
	test_chain_expect(f, room, 2, alice, k6, 6);
	assert_int_equal(test_seen_of(f, room, alice, 2), 6);
	assert_int_equal(test_last_id(f, room), 30);

	test_reopen(f);
	test_chain_expect(f, room, 2, alice, k6, 6);
	test_chain_expect(f, room, 2, bob, kb, 1);
	assert_int_equal(test_seen_of(f, room, alice, 2), 6);
	assert_int_equal(test_seen_of(f, room, bob, 2), 0);
	assert_int_equal(test_last_id(f, room), 30);
	assert_int_equal(test_activity_of(f, alice), 700);
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
	test_fill(14, room, sizeof room);
	test_fill(15, me, sizeof me);
	test_secret(1800, k);
	test_epoch_add1(f, room, 7, me, k);
	struct client_store *cs2 = NULL;
	assert_int_equal(cstore_open(f->tmp.path, &cs2), CC_OK);
	uint64_t expect = 1;
	for (uint32_t i = 0; i < 20; i++) {
		uint64_t next = 0;
		struct client_store *cs = (i % 3 == 0) ? cs2 : f->cs;
		struct client_store *peer = cs == cs2 ? f->cs : cs2;
		assert_int_equal(cstore_chain_get(cs, room, 7, me, got, &next), CC_OK);
		assert_int_equal(next, expect);
		test_secret(1800 + (uint32_t)expect - 1, k);
		assert_memory_equal(got, k, sizeof k);
		test_secret(1800 + (uint32_t)expect, k);
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
	test_fill(16, room, sizeof room);
	test_fill(17, me, sizeof me);
	test_secret(1900, k);
	test_epoch_add1(f, room, 2, me, k);
	test_secret(1901, k);
	assert_int_equal(cstore_chain_advance(f->cs, room, 2, me, k, 2), CC_OK);
	test_close(f);

	int fds[2];
	assert_int_equal(pipe(fds), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct client_store *cs = NULL;
		uint8_t ck[CSTORE_KEY_LEN];
		uint64_t got = 0;
		close(fds[0]);
		test_secret(1902, ck);
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

	test_open(f);
	test_secret(1902, k);
	test_chain_expect(f, room, 2, me, k, 3);
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
	test_fill(16, room, sizeof room);
	test_fill(17, other, sizeof other);
	test_secret(18, key);
	test_secret(19, stepped);
	test_fill(19, fp, sizeof fp);
	test_fill(20, me, sizeof me);
	test_fill(33, head.head_hash, sizeof head.head_hash);
	snprintf(head.admin, sizeof head.admin, "Carol");
	snprintf(head.title, sizeof head.title, "plans");

	for (int r = 0; r < 2; r++) {
		const uint8_t *id = r ? other : room;
		assert_int_equal(cstore_room_put(f->cs, id, &head), CC_OK);
		test_epoch_add1(f, id, 0, fp, key);
		test_epoch_add1(f, id, 3, fp, key);
		test_epoch_add1(f, id, 3, me, key);
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
	test_chain_expect_none(f, room, 3, fp);
	test_chain_expect_none(f, room, 3, me);
	assert_int_equal(test_messages_of(f, room, 3), 0);
	assert_int_equal(test_seen_of(f, room, fp, 2), 0);
	assert_int_equal(test_seen_of(f, room, fp, 3), 0);
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
	test_chain_expect(f, other, 0, fp, key, 1);
	test_chain_expect(f, other, 3, fp, key, 1);
	test_chain_expect(f, other, 3, me, stepped, 3);
	assert_int_equal(test_messages_of(f, other, 3), 2);
	assert_int_equal(test_seen_of(f, other, fp, 2), 40);
	assert_int_equal(test_seen_of(f, other, fp, 3), 8);
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
	test_fill(21, unknown, sizeof unknown);
	assert_int_equal(cstore_room_forget(f->cs, unknown), CC_OK);
	assert_int_equal(cstore_room_get(f->cs, unknown, &kept), CC_ERR_NOT_FOUND);
	test_reopen(f);
	assert_int_equal(cstore_epoch_has(f->cs, room, 0), CC_ERR_NOT_FOUND);
	assert_int_equal(cstore_epoch_has(f->cs, room, 3), CC_ERR_NOT_FOUND);
	assert_int_equal(cstore_epoch_has(f->cs, other, 0), CC_OK);
	test_chain_expect(f, other, 3, me, stepped, 3);
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
	uint8_t fp[CSTORE_FP_LEN], ck[CSTORE_KEY_LEN], seen_pub[CSTORE_KEY_LEN];
	uint64_t v;
	test_fill(24, room, sizeof room);
	test_secret(25, key);
	test_secret(26, ck);
	test_secret(27, seen_pub);
	test_fill(26, fp, sizeof fp);

	struct cstore_room head = {.head_count = 5, .epoch = 9, .members = 2};
	test_fill(27, head.head_hash, sizeof head.head_hash);
	snprintf(head.admin, sizeof head.admin, "Frank");
	snprintf(head.title, sizeof head.title, "t");
	assert_int_equal(cstore_room_put(f->cs, room, &head), CC_OK);
	test_epoch_add1(f, room, 9, fp, key);
	struct cstore_ratchet step = {.next_seq = 124};
	memcpy(step.chain_key, ck, sizeof ck);
	assert_int_equal(cstore_message_handled(f->cs, room, fp, 9, 123, 77, 5555, &step), CC_OK);
	assert_int_equal(cstore_pin_put(f->cs, "Frank", fp, 1, 4242), CC_OK);
	assert_int_equal(cstore_sign_put(f->cs, fp, 6, key), CC_OK);
	struct cstore_recv_key k1 = test_recv_key(1, 100, 28), k2 = test_recv_key(2, 200, 29);
	assert_int_equal(cstore_recv_add(f->cs, &k1), CC_OK);
	assert_int_equal(cstore_recv_add(f->cs, &k2), CC_OK);
	assert_int_equal(cstore_recv_seen_put(f->cs, fp, 4, 300, seen_pub), CC_OK);

	for (int round = 0; round < 2; round++) {
		test_reopen(f);
		test_chain_expect(f, room, 9, fp, ck, 124);
		assert_int_equal(cstore_epoch_has(f->cs, room, 9), CC_OK);
		assert_int_equal(test_messages_of(f, room, 9), 123);
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
		assert_int_equal(test_current_version(f), 2);
		test_recv_expect(f, &k2, 0);
		test_recv_expect(f, &k1, 200);
		assert_int_equal(cstore_recv_seen_get(f->cs, fp, &version, &v, got), CC_OK);
		assert_int_equal(version, 4);
		assert_int_equal(v, 300);
		assert_memory_equal(got, seen_pub, sizeof got);
	}
	assert_int_equal(cstore_chain_advance(f->cs, room, 9, fp, key, 124), CC_ERR_STALE_EPOCH);
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

/* Migrations 2 and 3 (protocols 2 and 3): the room tables of protocol 1 go
 * (their secrets and counters mean nothing under the new rules), and for
 * real: no byte of their keys is left in the file; the pins stay, the file
 * leaves WAL for a rollback journal, and the new tables work. */
static void test_upgrade_from_v1(void **state)
{
	struct fixture *f = *state;
	char path[160];
	snprintf(path, sizeof path, "%s/v1.db", f->tmp.dir);
	test_v1_write(path);
	tmpdir_db_expect_no_wal(path);
	assert_int_equal(tmpdir_db_version_get(path), 1);
	uint8_t old_key[CSTORE_KEY_LEN];
	memset(old_key, 0x55, sizeof old_key);
	/* The scan sees protocol 1's keys before the upgrade. */
	assert_true(test_files_hold(path, old_key));

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
	for (uint32_t epoch = 0; epoch < 2; epoch++) {
		assert_int_equal(cstore_epoch_has(cs, room, epoch), CC_ERR_NOT_FOUND);
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
	struct cstore_recv_key rk;
	assert_int_equal(cstore_recv_current(cs, &rk), CC_ERR_NOT_FOUND);
	/* The new tables work, and outlive a reopen. */
	test_secret(2000, key);
	assert_int_equal(cstore_epoch_add(cs, room, 1, (const uint8_t(*)[CSTORE_FP_LEN])fp,
					  (const uint8_t(*)[CSTORE_KEY_LEN])key, 1), CC_OK);
	memset(&r, 0, sizeof r);
	r.head_count = 2;
	assert_int_equal(cstore_room_put(cs, room, &r), CC_OK);
	struct cstore_ratchet step = {.next_seq = 4};
	test_secret(2001, step.chain_key);
	assert_int_equal(cstore_message_handled(cs, room, fp, 1, 3, 4, 5, &step), CC_OK);
	rk = test_recv_key(1, 10, 2002);
	assert_int_equal(cstore_recv_add(cs, &rk), CC_OK);
	cstore_close(cs);
	assert_int_equal(tmpdir_db_version_get(path), TEST_CSTORE_LATEST);
	test_expect_rollback_journal(path);
	assert_false(test_files_hold(path, old_key));

	assert_int_equal(cstore_open(path, &cs), CC_OK);
	uint8_t got[CSTORE_KEY_LEN];
	assert_int_equal(cstore_chain_get(cs, room, 1, fp, got, &v), CC_OK);
	assert_memory_equal(got, step.chain_key, sizeof got);
	assert_int_equal(v, 4);
	assert_int_equal(cstore_room_get(cs, room, &r), CC_OK);
	assert_int_equal(r.head_count, 2);
	assert_int_equal(r.last_msg_id, 4);
	assert_int_equal(cstore_seen_get(cs, room, fp, 1, &v), CC_OK);
	assert_int_equal(v, 3);
	assert_int_equal(cstore_recv_get(cs, 1, &rk), CC_OK);
	assert_int_equal(rk.created_ms, 10);
	assert_int_equal(cstore_pin_get(cs, "old_friend", &pin), CC_OK);
	cstore_close(cs);
}

/* Protocol 2's tables (migrations 1 and 2) as its client made them. */
static const char test_v2_schema[] =
	("CREATE TABLE pins ("
	 " nick_lower TEXT NOT NULL PRIMARY KEY CHECK(length(nick_lower) BETWEEN 1 AND 32),"
	 " nick TEXT NOT NULL CHECK(length(nick) BETWEEN 1 AND 32),"
	 " fingerprint BLOB NOT NULL CHECK(length(fingerprint) = 32),"
	 " verified INTEGER NOT NULL CHECK(verified IN (0, 1)),"
	 " first_seen_ms INTEGER NOT NULL CHECK(first_seen_ms >= 0)"
	 ") STRICT, WITHOUT ROWID;"
	 "CREATE TABLE epoch_secrets ("
	 " room BLOB NOT NULL CHECK(length(room) = 16),"
	 " epoch INTEGER NOT NULL CHECK(epoch BETWEEN 0 AND 4294967295),"
	 " secret BLOB NOT NULL CHECK(length(secret) = 32),"
	 " PRIMARY KEY (room, epoch)"
	 ") STRICT, WITHOUT ROWID;"
	 "CREATE TABLE seen ("
	 " room BLOB NOT NULL CHECK(length(room) = 16),"
	 " sender BLOB NOT NULL CHECK(length(sender) = 32),"
	 " epoch INTEGER NOT NULL CHECK(epoch BETWEEN 0 AND 4294967295),"
	 " last_seq INTEGER NOT NULL CHECK(last_seq >= 0),"
	 " PRIMARY KEY (room, sender, epoch)"
	 ") STRICT, WITHOUT ROWID;"
	 "CREATE TABLE own_seq ("
	 " room BLOB NOT NULL CHECK(length(room) = 16),"
	 " epoch INTEGER NOT NULL CHECK(epoch BETWEEN 0 AND 4294967295),"
	 " next_seq INTEGER NOT NULL CHECK(next_seq >= 1),"
	 " PRIMARY KEY (room, epoch)"
	 ") STRICT, WITHOUT ROWID;"
	 "CREATE TABLE rooms ("
	 " room BLOB NOT NULL PRIMARY KEY CHECK(length(room) = 16),"
	 " head_count INTEGER NOT NULL CHECK(head_count BETWEEN 0 AND 4294967295),"
	 " head_hash BLOB NOT NULL CHECK(length(head_hash) = 32),"
	 " epoch INTEGER NOT NULL CHECK(epoch BETWEEN 0 AND 4294967295),"
	 " members INTEGER NOT NULL CHECK(members BETWEEN 0 AND 4294967295),"
	 " admin TEXT NOT NULL CHECK(length(admin) <= 32),"
	 " title TEXT NOT NULL CHECK(length(CAST(title AS BLOB)) <= 200),"
	 " last_msg_id INTEGER NOT NULL DEFAULT 0 CHECK(last_msg_id >= 0)"
	 ") STRICT, WITHOUT ROWID;"
	 "CREATE TABLE sign_keys ("
	 " fingerprint BLOB NOT NULL PRIMARY KEY CHECK(length(fingerprint) = 32),"
	 " version INTEGER NOT NULL CHECK(version BETWEEN 1 AND 4294967295),"
	 " sign_pub BLOB NOT NULL CHECK(length(sign_pub) = 32)"
	 ") STRICT, WITHOUT ROWID;"
	 "CREATE TABLE activity ("
	 " fingerprint BLOB NOT NULL PRIMARY KEY CHECK(length(fingerprint) = 32),"
	 " last_ms INTEGER NOT NULL CHECK(last_ms >= 0)"
	 ") STRICT, WITHOUT ROWID;"
	 "PRAGMA user_version = 2;");

/* Migration 3 (protocol 3, forward secrecy) on a file that protocol 2's
 * client left in WAL mode, its last writes (the epoch secrets among them)
 * not yet checkpointed: the epoch secrets go, and nothing of them is left in
 * any file; the rooms and counters of protocol 2 go; pins, signing keys and
 * activity stay. */
static void test_upgrade_from_v2(void **state)
{
	struct fixture *f = *state;
	char path[160], sql[2048], b_room[40], b_fp[72], b_s1[72], b_s2[72], b_sk[72], b_h[72];
	uint8_t room[CSTORE_ROOM_ID_LEN], fp[CSTORE_FP_LEN], s1[CSTORE_KEY_LEN];
	uint8_t s2[CSTORE_KEY_LEN], sk[CSTORE_KEY_LEN], hash[CSTORE_HASH_LEN];
	snprintf(path, sizeof path, "%s/v2.db", f->tmp.dir);
	test_fill(150, room, sizeof room);
	test_fill(151, fp, sizeof fp);
	test_fill(152, hash, sizeof hash);
	test_secret(2100, s1);
	test_secret(2101, s2);
	test_secret(2102, sk);

	sqlite3 *db = NULL;
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
					 NULL), SQLITE_OK);
	/* As protocol 2's client: WAL; and a crash, so no checkpoint at close. */
	assert_int_equal(sqlite3_db_config(db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, (int *)NULL),
			 SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "PRAGMA journal_mode = WAL", NULL, NULL, NULL),
			 SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, test_v2_schema, NULL, NULL, NULL), SQLITE_OK);
	snprintf(sql, sizeof sql,
		 "INSERT INTO epoch_secrets VALUES(%s, 1, %s), (%s, 2, %s);"
		 "INSERT INTO seen VALUES(%s, %s, 2, 7);"
		 "INSERT INTO own_seq VALUES(%s, 2, 3);"
		 "INSERT INTO rooms VALUES(%s, 4, %s, 2, 2, 'alice', 'old plans', 9);"
		 "INSERT INTO sign_keys VALUES(%s, 3, %s);"
		 "INSERT INTO activity VALUES(%s, 1234);"
		 "INSERT INTO pins VALUES('alice', 'Alice', %s, 1, 99);",
		 test_sql_blob(room, sizeof room, b_room, sizeof b_room),
		 test_sql_blob(s1, sizeof s1, b_s1, sizeof b_s1), b_room,
		 test_sql_blob(s2, sizeof s2, b_s2, sizeof b_s2), b_room,
		 test_sql_blob(fp, sizeof fp, b_fp, sizeof b_fp), b_room, b_room,
		 test_sql_blob(hash, sizeof hash, b_h, sizeof b_h), b_fp,
		 test_sql_blob(sk, sizeof sk, b_sk, sizeof b_sk), b_fp, b_fp);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_close(db), SQLITE_OK);
	/* The secrets are on disk (in the WAL, not yet in the database). */
	char wal[170];
	snprintf(wal, sizeof wal, "%s-wal", path);
	assert_int_equal(access(wal, F_OK), 0);
	assert_true(test_files_hold(path, s1));
	assert_true(test_files_hold(path, s2));

	struct client_store *cs = NULL;
	assert_int_equal(cstore_open(path, &cs), CC_OK);
	/* Pins, signing keys and activity stay. */
	struct cstore_pin pin;
	assert_int_equal(cstore_pin_get(cs, "ALICE", &pin), CC_OK);
	assert_string_equal(pin.nick, "Alice");
	assert_memory_equal(pin.fp, fp, sizeof fp);
	assert_int_equal(pin.verified, 1);
	assert_int_equal(pin.first_seen_ms, 99);
	uint32_t version = 0;
	uint8_t got[CSTORE_KEY_LEN];
	assert_int_equal(cstore_sign_get(cs, fp, &version, got), CC_OK);
	assert_int_equal(version, 3);
	assert_memory_equal(got, sk, sizeof got);
	uint64_t v = 0;
	assert_int_equal(cstore_activity_get(cs, fp, &v), CC_OK);
	assert_int_equal(v, 1234);
	/* The room and its counters go; no chain comes out of the secrets. */
	struct cstore_room r;
	assert_int_equal(cstore_room_get(cs, room, &r), CC_ERR_NOT_FOUND);
	assert_int_equal(cstore_seen_get(cs, room, fp, 2, &v), CC_OK);
	assert_int_equal(v, 0);
	assert_int_equal(cstore_epoch_has(cs, room, 1), CC_ERR_NOT_FOUND);
	assert_int_equal(cstore_epoch_has(cs, room, 2), CC_ERR_NOT_FOUND);
	/* The new tables work. */
	uint8_t ck[CSTORE_KEY_LEN];
	test_secret(2103, ck);
	assert_int_equal(cstore_epoch_add(cs, room, 3, (const uint8_t(*)[CSTORE_FP_LEN])fp,
					  (const uint8_t(*)[CSTORE_KEY_LEN])ck, 1), CC_OK);
	cstore_close(cs);

	assert_int_equal(tmpdir_db_version_get(path), TEST_CSTORE_LATEST);
	test_expect_rollback_journal(path);
	assert_false(test_files_hold(path, s1));
	assert_false(test_files_hold(path, s2));
	assert_true(test_files_hold(path, ck));
}

/* Rows the schema's checks would refuse (a damaged disk, a hand-edited file)
 * read as CC_ERR_STORE, never as a short key or a number out of range, and
 * leave nothing behind. */
static void test_damaged_rows(void **state)
{
	struct fixture *f = *state;
	uint8_t room[CSTORE_ROOM_ID_LEN], senders[3][CSTORE_FP_LEN], keys[3][CSTORE_KEY_LEN];
	uint8_t pub[CSTORE_KEY_LEN], got[CSTORE_KEY_LEN];
	char sql[1024], b[2][72];
	test_fill(160, room, sizeof room);
	for (uint8_t i = 0; i < 3; i++) {
		test_fill((uint8_t)(161 + i), senders[i], sizeof senders[i]);
		test_secret(2200u + i, keys[i]);
	}
	test_secret(2210, pub);
	assert_int_equal(cstore_epoch_add(f->cs, room, 1, (const uint8_t(*)[CSTORE_FP_LEN])senders,
					  (const uint8_t(*)[CSTORE_KEY_LEN])keys, 3), CC_OK);
	for (uint32_t v = 1; v <= 3; v++) {
		struct cstore_recv_key k = test_recv_key(v, 1000 * v, 2220 + v);
		assert_int_equal(cstore_recv_add(f->cs, &k), CC_OK);
	}
	assert_int_equal(cstore_recv_seen_put(f->cs, senders[0], 5, 10, pub), CC_OK);
	assert_int_equal(cstore_recv_seen_put(f->cs, senders[1], 6, 10, pub), CC_OK);
	test_close(f);

	snprintf(sql, sizeof sql,
		 "PRAGMA ignore_check_constraints = ON;"
		 "UPDATE chains SET chain_key = x'0102' WHERE sender = %s;"
		 "UPDATE chains SET next_seq = 0 WHERE sender = %s;"
		 "UPDATE recv_keys SET priv = x'00' WHERE version = 1;"
		 "UPDATE recv_keys SET pub = zeroblob(33) WHERE version = 2;"
		 "UPDATE recv_keys SET created_ms = -5 WHERE version = 3;"
		 "UPDATE recv_seen SET version = 0 WHERE fingerprint = %s;"
		 "UPDATE recv_seen SET pub = x'' WHERE fingerprint = %s;",
		 test_sql_blob(senders[0], CSTORE_FP_LEN, b[0], sizeof b[0]),
		 test_sql_blob(senders[1], CSTORE_FP_LEN, b[1], sizeof b[1]), b[0], b[1]);
	test_sql(f->tmp.path, sql);
	test_open(f);

	/* A short chain key, a chain number 0. */
	uint64_t next = 99;
	memset(got, 0x5a, sizeof got);
	assert_int_equal(cstore_chain_get(f->cs, room, 1, senders[0], got, &next), CC_ERR_STORE);
	test_expect_zero(got, sizeof got);
	assert_int_equal(next, 0);
	memset(got, 0x5a, sizeof got);
	next = 99;
	assert_int_equal(cstore_chain_get(f->cs, room, 1, senders[1], got, &next), CC_ERR_STORE);
	test_expect_zero(got, sizeof got);
	assert_int_equal(next, 0);
	/* A count that would be negative. */
	uint64_t count = 99;
	assert_int_equal(cstore_epoch_messages(f->cs, room, 1, &count), CC_ERR_STORE);
	assert_int_equal(count, 0);
	/* The sound row still reads. */
	test_chain_expect(f, room, 1, senders[2], keys[2], 1);

	/* Receiving keys: a short private part, a long public one, a negative
	 * time (the newest, so recv_current fails too). */
	for (uint32_t v = 1; v <= 3; v++) {
		struct cstore_recv_key k;
		memset(&k, 0x5a, sizeof k);
		assert_int_equal(cstore_recv_get(f->cs, v, &k), CC_ERR_STORE);
		test_recv_expect_wiped(&k);
	}
	struct cstore_recv_key cur;
	memset(&cur, 0x5a, sizeof cur);
	assert_int_equal(cstore_recv_current(f->cs, &cur), CC_ERR_STORE);
	test_recv_expect_wiped(&cur);

	/* The newest receiving key seen: version 0, an empty key. */
	uint32_t version = 99;
	uint64_t created = 99;
	for (int i = 0; i < 2; i++) {
		assert_int_equal(cstore_recv_seen_get(f->cs, senders[i], &version, &created, got),
				 CC_ERR_STORE);
		assert_int_equal(version, 0);
		assert_int_equal(created, 0);
	}
}

static void test_future_version_refused(void **state)
{
	struct fixture *f = *state;
	uint8_t room[CSTORE_ROOM_ID_LEN], fp[CSTORE_FP_LEN], key[CSTORE_KEY_LEN];
	test_fill(27, room, sizeof room);
	test_fill(29, fp, sizeof fp);
	test_secret(28, key);
	test_epoch_add1(f, room, 1, fp, key);
	test_close(f);

	tmpdir_db_expect_no_wal(f->tmp.path);
	uint32_t latest = tmpdir_db_version_get(f->tmp.path);
	assert_int_equal(latest, TEST_CSTORE_LATEST);
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
	test_open(f);
	test_chain_expect(f, room, 1, fp, key, 1);
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
	uint8_t room[CSTORE_ROOM_ID_LEN], fp[CSTORE_FP_LEN], key[CSTORE_KEY_LEN];
	uint8_t got[CSTORE_KEY_LEN];
	uint64_t next = 0;
	test_fill(29, room, sizeof room);
	test_fill(30, fp, sizeof fp);
	test_secret(29, key);
	assert_int_equal(cstore_open(":memory:", &cs), CC_OK);
	assert_int_equal(cstore_epoch_add(cs, room, 0, (const uint8_t(*)[CSTORE_FP_LEN])fp,
					  (const uint8_t(*)[CSTORE_KEY_LEN])key, 1), CC_OK);
	assert_int_equal(cstore_chain_advance(cs, room, 0, fp, key, 2), CC_OK);
	assert_int_equal(cstore_chain_get(cs, room, 0, fp, got, &next), CC_OK);
	assert_int_equal(next, 2);
	struct cstore_recv_key k = test_recv_key(1, 5, 31), cur;
	assert_int_equal(cstore_recv_add(cs, &k), CC_OK);
	assert_int_equal(cstore_recv_current(cs, &cur), CC_OK);
	assert_int_equal(cur.version, 1);
	cstore_close(cs);
}

static void test_bad_args(void **state)
{
	struct fixture *f = *state;
	uint8_t room[CSTORE_ROOM_ID_LEN], key[CSTORE_KEY_LEN], fp[CSTORE_FP_LEN];
	const uint8_t(*fps)[CSTORE_FP_LEN] = (const uint8_t(*)[CSTORE_FP_LEN])fp;
	const uint8_t(*keys)[CSTORE_KEY_LEN] = (const uint8_t(*)[CSTORE_KEY_LEN])key;
	uint64_t v;
	uint32_t version, deleted = 99;
	struct cstore_pin pin;
	struct cstore_room r = {0};
	struct cstore_recv_key rk = test_recv_key(1, 1, 32);
	struct cstore_ratchet step = {.next_seq = 2};
	test_fill(30, room, sizeof room);
	test_secret(31, key);
	test_fill(32, fp, sizeof fp);

	assert_int_equal(cstore_room_forget(f->cs, NULL), CC_ERR_INTERNAL);
	assert_int_equal(cstore_room_forget(NULL, room), CC_ERR_INTERNAL);
	assert_int_equal(cstore_seen_get(f->cs, room, NULL, 0, &v), CC_ERR_INTERNAL);
	assert_int_equal(cstore_seen_get(f->cs, room, fp, 0, NULL), CC_ERR_INTERNAL);
	assert_int_equal(cstore_message_handled(f->cs, NULL, fp, 0, 1, 1, 1, NULL),
			 CC_ERR_INTERNAL);
	assert_int_equal(cstore_message_handled(f->cs, room, NULL, 0, 1, 1, 1, &step),
			 CC_ERR_INTERNAL);
	assert_int_equal(cstore_message_handled(NULL, room, fp, 0, 1, 1, 1, NULL),
			 CC_ERR_INTERNAL);
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
	/* Receiving keys. */
	assert_int_equal(cstore_recv_add(NULL, &rk), CC_ERR_INTERNAL);
	assert_int_equal(cstore_recv_add(f->cs, NULL), CC_ERR_INTERNAL);
	assert_int_equal(cstore_recv_get(NULL, 1, &rk), CC_ERR_INTERNAL);
	assert_int_equal(cstore_recv_get(f->cs, 1, NULL), CC_ERR_INTERNAL);
	assert_int_equal(cstore_recv_current(NULL, &rk), CC_ERR_INTERNAL);
	assert_int_equal(cstore_recv_current(f->cs, NULL), CC_ERR_INTERNAL);
	assert_int_equal(cstore_recv_delete_retired(NULL, 1, &deleted), CC_ERR_INTERNAL);
	assert_int_equal(deleted, 0);
	assert_int_equal(cstore_recv_seen_get(NULL, fp, &version, &v, key), CC_ERR_INTERNAL);
	assert_int_equal(cstore_recv_seen_get(f->cs, NULL, &version, &v, key), CC_ERR_INTERNAL);
	assert_int_equal(cstore_recv_seen_get(f->cs, fp, NULL, &v, key), CC_ERR_INTERNAL);
	assert_int_equal(cstore_recv_seen_get(f->cs, fp, &version, NULL, key), CC_ERR_INTERNAL);
	assert_int_equal(cstore_recv_seen_get(f->cs, fp, &version, &v, NULL), CC_ERR_INTERNAL);
	assert_int_equal(cstore_recv_seen_put(NULL, fp, 1, 1, key), CC_ERR_INTERNAL);
	assert_int_equal(cstore_recv_seen_put(f->cs, NULL, 1, 1, key), CC_ERR_INTERNAL);
	assert_int_equal(cstore_recv_seen_put(f->cs, fp, 1, 1, NULL), CC_ERR_INTERNAL);
	/* Chains: a count without arrays is a bug. */
	assert_int_equal(cstore_epoch_add(NULL, room, 0, fps, keys, 1), CC_ERR_INTERNAL);
	assert_int_equal(cstore_epoch_add(f->cs, NULL, 0, fps, keys, 1), CC_ERR_INTERNAL);
	assert_int_equal(cstore_epoch_add(f->cs, room, 0, NULL, keys, 1), CC_ERR_INTERNAL);
	assert_int_equal(cstore_epoch_add(f->cs, room, 0, fps, NULL, 1), CC_ERR_INTERNAL);
	assert_int_equal(cstore_epoch_has(NULL, room, 0), CC_ERR_INTERNAL);
	assert_int_equal(cstore_epoch_has(f->cs, NULL, 0), CC_ERR_INTERNAL);
	assert_int_equal(cstore_epoch_messages(NULL, room, 0, &v), CC_ERR_INTERNAL);
	assert_int_equal(cstore_epoch_messages(f->cs, NULL, 0, &v), CC_ERR_INTERNAL);
	assert_int_equal(cstore_epoch_messages(f->cs, room, 0, NULL), CC_ERR_INTERNAL);
	assert_int_equal(cstore_chain_get(NULL, room, 0, fp, key, &v), CC_ERR_INTERNAL);
	assert_int_equal(cstore_chain_get(f->cs, NULL, 0, fp, key, &v), CC_ERR_INTERNAL);
	assert_int_equal(cstore_chain_get(f->cs, room, 0, NULL, key, &v), CC_ERR_INTERNAL);
	assert_int_equal(cstore_chain_get(f->cs, room, 0, fp, NULL, &v), CC_ERR_INTERNAL);
	assert_int_equal(cstore_chain_get(f->cs, room, 0, fp, key, NULL), CC_ERR_INTERNAL);
	assert_int_equal(cstore_chain_advance(NULL, room, 0, fp, key, 2), CC_ERR_INTERNAL);
	assert_int_equal(cstore_chain_advance(f->cs, NULL, 0, fp, key, 2), CC_ERR_INTERNAL);
	assert_int_equal(cstore_chain_advance(f->cs, room, 0, NULL, key, 2), CC_ERR_INTERNAL);
	assert_int_equal(cstore_chain_advance(f->cs, room, 0, fp, NULL, 2), CC_ERR_INTERNAL);
	assert_int_equal(cstore_epoch_forget(NULL, room, 0), CC_ERR_INTERNAL);
	assert_int_equal(cstore_epoch_forget(f->cs, NULL, 0), CC_ERR_INTERNAL);
	cstore_close(NULL);

	/* None of that wrote anything. */
	assert_int_equal(cstore_pin_get(f->cs, "gina", &pin), CC_ERR_NOT_FOUND);
	assert_int_equal(cstore_room_get(f->cs, room, &r), CC_ERR_NOT_FOUND);
	assert_int_equal(cstore_sign_get(f->cs, fp, &version, key), CC_ERR_NOT_FOUND);
	assert_int_equal(test_seen_of(f, room, fp, 0), 0);
	assert_int_equal(test_activity_of(f, fp), 0);
	assert_int_equal(cstore_recv_current(f->cs, &rk), CC_ERR_NOT_FOUND);
	assert_int_equal(cstore_recv_seen_get(f->cs, fp, &version, &v, key), CC_ERR_NOT_FOUND);
	assert_int_equal(cstore_epoch_has(f->cs, room, 0), CC_ERR_NOT_FOUND);
	test_chain_expect_none(f, room, 0, fp);
}

int main(void)
{
	/* Several tests provoke errors on purpose; keep the output to those. */
	log_set_level(LOG_LEVEL_ERROR);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_file_mode, setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_mode_tightened, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rollback_journal, setup, teardown),
		cmocka_unit_test_setup_teardown(test_recv_keys, setup, teardown),
		cmocka_unit_test_setup_teardown(test_recv_delete_retired, setup, teardown),
		cmocka_unit_test_setup_teardown(test_recv_seen, setup, teardown),
		cmocka_unit_test_setup_teardown(test_chains, setup, teardown),
		cmocka_unit_test_setup_teardown(test_chain_advance, setup, teardown),
		cmocka_unit_test_setup_teardown(test_epoch_add_never_rewinds, setup, teardown),
		cmocka_unit_test_setup_teardown(test_epoch_messages, setup, teardown),
		cmocka_unit_test_setup_teardown(test_epoch_forget, setup, teardown),
		cmocka_unit_test_setup_teardown(test_chain_step_erases_old_key, setup, teardown),
		cmocka_unit_test_setup_teardown(test_forget_erases_keys, setup, teardown),
		cmocka_unit_test_setup_teardown(test_recv_delete_erases_keys, setup, teardown),
		cmocka_unit_test_setup_teardown(test_seen, setup, teardown),
		cmocka_unit_test_setup_teardown(test_seen_message, setup, teardown),
		cmocka_unit_test_setup_teardown(test_seen_per_epoch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_message_handled_ratchet, setup, teardown),
		cmocka_unit_test_setup_teardown(test_own_chain_two_handles, setup, teardown),
		cmocka_unit_test_setup_teardown(test_own_chain_survives_crash, setup, teardown),
		cmocka_unit_test_setup_teardown(test_room_forget, setup, teardown),
		cmocka_unit_test_setup_teardown(test_room_head, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sign_keys, setup, teardown),
		cmocka_unit_test_setup_teardown(test_activity, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pin, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_nick, setup, teardown),
		cmocka_unit_test_setup_teardown(test_persist, setup, teardown),
		cmocka_unit_test_setup_teardown(test_upgrade_from_v1, setup, teardown),
		cmocka_unit_test_setup_teardown(test_upgrade_from_v2, setup, teardown),
		cmocka_unit_test_setup_teardown(test_damaged_rows, setup, teardown),
		cmocka_unit_test_setup_teardown(test_future_version_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_a_database, setup, teardown),
		cmocka_unit_test(test_in_memory),
		cmocka_unit_test_setup_teardown(test_bad_args, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
