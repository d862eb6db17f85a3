/* The client store's unit tests' fixture and shorthands: cstore_fixture.h. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cstore_fixture.h"
/* Distinct test values derived from a seed. */
void cs_fill(uint8_t seed, uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(seed * 31 + i * 7 + 1);
}

/* Distinctive secrets: 32 random-looking bytes from a seed (splitmix64).
 * cs_fill's values are all shifts of one progression; a scan of the files
 * for one of these cannot match a room id, a fingerprint or another key by
 * chance. */
void cs_secret(uint32_t seed, uint8_t key[CSTORE_KEY_LEN])
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

void cs_expect_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		assert_int_equal(p[i], 0);
}

/* A receiving key handed back on failure: nothing of it left. */
void cs_recv_expect_wiped(const struct cstore_recv_key *k)
{
	assert_int_equal(k->version, 0);
	cs_expect_zero(k->priv, sizeof k->priv);
	cs_expect_zero(k->pub, sizeof k->pub);
	assert_int_equal(k->created_ms, 0);
	assert_int_equal(k->retired_ms, 0);
}

int cstore_setup(void **state)
{
	struct fixture *f = tmpdir_fixture_new(sizeof *f, "cc_test_cstore", "client.db");
	if (!f || cstore_open(f->tmp.path, &f->cs) != CC_OK) {
		tmpdir_fixture_free(f);
		return -1;
	}
	*state = f;
	return 0;
}

int cstore_teardown(void **state)
{
	struct fixture *f = *state;
	cstore_close(f->cs);
	tmpdir_fixture_free(f);
	return 0;
}

void cs_close(struct fixture *f)
{
	cstore_close(f->cs);
	f->cs = NULL;
}

void cs_open(struct fixture *f)
{
	assert_int_equal(cstore_open(f->tmp.path, &f->cs), CC_OK);
	assert_non_null(f->cs);
}

void cs_reopen(struct fixture *f)
{
	cs_close(f);
	cs_open(f);
}

/* ---- the files on disk ----------------------------------------------------------- */

/* Whether the file at path holds needle anywhere; false if there is no such
 * file. */
bool cs_file_holds(const char *path, const uint8_t *needle, size_t n)
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
bool cs_files_hold(const char *path, const uint8_t key[CSTORE_KEY_LEN])
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
		if (cs_file_holds(file, key, CSTORE_KEY_LEN))
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
void cs_expect_rollback_journal(const char *path)
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
void cs_sql(const char *path, const char *sql)
{
	sqlite3 *db = NULL;
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
	char *msg = NULL;
	int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
	if (rc != SQLITE_OK)
		fprintf(stderr, "cs_sql: %s\n", msg ? msg : "?");
	sqlite3_free(msg);
	assert_int_equal(rc, SQLITE_OK);
	assert_int_equal(sqlite3_close(db), SQLITE_OK);
}

/* Writes n bytes as an SQL blob literal x'..' into out (cap bytes). */
const char *cs_sql_blob(const uint8_t *p, size_t n, char *out, size_t cap)
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
uint64_t cs_chain_of(struct fixture *f, const uint8_t room[CSTORE_ROOM_ID_LEN],
			      uint32_t epoch, const uint8_t sender[CSTORE_FP_LEN],
			      uint8_t key[CSTORE_KEY_LEN])
{
	uint64_t next = 0;
	assert_int_equal(cstore_chain_get(f->cs, room, epoch, sender, key, &next), CC_OK);
	assert_true(next >= 1);
	return next;
}

/* Asserts that the sender's chain is at number next with key want. */
void cs_chain_expect(struct fixture *f, const uint8_t room[CSTORE_ROOM_ID_LEN],
			      uint32_t epoch, const uint8_t sender[CSTORE_FP_LEN],
			      const uint8_t want[CSTORE_KEY_LEN], uint64_t next)
{
	uint8_t got[CSTORE_KEY_LEN];
	assert_int_equal(cs_chain_of(f, room, epoch, sender, got), next);
	assert_memory_equal(got, want, CSTORE_KEY_LEN);
}

/* Asserts there is no such chain, and that the miss leaves nothing behind. */
void cs_chain_expect_none(struct fixture *f, const uint8_t room[CSTORE_ROOM_ID_LEN],
				   uint32_t epoch, const uint8_t sender[CSTORE_FP_LEN])
{
	uint8_t got[CSTORE_KEY_LEN];
	uint64_t next = 99;
	memset(got, 0x5a, sizeof got);
	assert_int_equal(cstore_chain_get(f->cs, room, epoch, sender, got, &next),
			 CC_ERR_NOT_FOUND);
	assert_int_equal(next, 0);
	cs_expect_zero(got, sizeof got);
}

/* An epoch with one sender's chain. */
void cs_epoch_add1(struct fixture *f, const uint8_t room[CSTORE_ROOM_ID_LEN],
			    uint32_t epoch, const uint8_t sender[CSTORE_FP_LEN],
			    const uint8_t key[CSTORE_KEY_LEN])
{
	assert_int_equal(cstore_epoch_add(f->cs, room, epoch,
					  (const uint8_t(*)[CSTORE_FP_LEN])sender,
					  (const uint8_t(*)[CSTORE_KEY_LEN])key, 1), CC_OK);
}

uint64_t cs_messages_of(struct fixture *f, const uint8_t room[CSTORE_ROOM_ID_LEN],
				 uint32_t epoch)
{
	uint64_t n = 99;
	assert_int_equal(cstore_epoch_messages(f->cs, room, epoch, &n), CC_OK);
	return n;
}

/* A receiving key of version, made at created_ms, its parts from seed. */
struct cstore_recv_key cs_recv_key(uint32_t version, uint64_t created_ms,
					    uint32_t seed)
{
	struct cstore_recv_key k = {.version = version, .created_ms = created_ms};
	cs_secret(seed, k.priv);
	cs_secret(seed + 1000, k.pub);
	return k;
}

/* Asserts that version is stored as want, retired at retired_ms (0: not). */
void cs_recv_expect(struct fixture *f, const struct cstore_recv_key *want,
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

void cs_recv_expect_none(struct fixture *f, uint32_t version)
{
	struct cstore_recv_key got;
	memset(&got, 0x5a, sizeof got);
	assert_int_equal(cstore_recv_get(f->cs, version, &got), CC_ERR_NOT_FOUND);
	/* Nothing left behind on failure. */
	cs_recv_expect_wiped(&got);
}

uint32_t cs_current_version(struct fixture *f)
{
	struct cstore_recv_key got;
	assert_int_equal(cstore_recv_current(f->cs, &got), CC_OK);
	assert_int_equal(got.retired_ms, 0);
	return got.version;
}

/* A verified room to hang message ids on: head of count records. */
void cs_room_put(struct fixture *f, const uint8_t room[CSTORE_ROOM_ID_LEN],
			  uint32_t count)
{
	struct cstore_room r = {.head_count = count, .epoch = count, .members = 2};
	cs_fill((uint8_t)count, r.head_hash, sizeof r.head_hash);
	snprintf(r.admin, sizeof r.admin, "alice");
	assert_int_equal(cstore_room_put(f->cs, room, &r), CC_OK);
}

uint64_t cs_last_id(struct fixture *f, const uint8_t room[CSTORE_ROOM_ID_LEN])
{
	struct cstore_room r;
	assert_int_equal(cstore_room_get(f->cs, room, &r), CC_OK);
	return r.last_msg_id;
}

uint64_t cs_seen_of(struct fixture *f, const uint8_t room[CSTORE_ROOM_ID_LEN],
			     const uint8_t fp[CSTORE_FP_LEN], uint32_t epoch)
{
	uint64_t v = 99;
	assert_int_equal(cstore_seen_get(f->cs, room, fp, epoch, &v), CC_OK);
	return v;
}

uint64_t cs_activity_of(struct fixture *f, const uint8_t fp[CSTORE_FP_LEN])
{
	uint64_t v = 99;
	assert_int_equal(cstore_activity_get(f->cs, fp, &v), CC_OK);
	return v;
}
