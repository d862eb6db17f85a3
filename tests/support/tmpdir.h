/* Temporary directories for unit tests that keep files (the store tests): a
 * fresh private directory under /tmp with the path of one file in it, made
 * in a cmocka setup and removed in its teardown; and reading and writing the
 * schema version straight from an SQLite file's header.
 *
 * A typical fixture:
 *
 *	struct fixture {
 *		struct tmpdir tmp;            (first)
 *		struct store *st;
 *	};
 *
 *	static int setup(void **state)
 *	{
 *		struct fixture *f = tmpdir_fixture_new(sizeof *f, "cc_test_store",
 *						       "server.db");
 *		if (!f || store_open(f->tmp.path, &f->st) != CC_OK) {
 *			tmpdir_fixture_free(f);
 *			return -1;
 *		}
 *		*state = f;
 *		return 0;
 *	}
 *
 * and a teardown that closes f->st, then calls tmpdir_fixture_free(f).
 *
 * (Integration tests use itest_tmpdir, which also tracks what they leave.) */
#ifndef CC_TESTS_SUPPORT_TMPDIR_H
#define CC_TESTS_SUPPORT_TMPDIR_H

#include <stddef.h>
#include <stdint.h>

struct tmpdir {
	char dir[64];                 /* /tmp/<prefix>_XXXXXX, mode 0700 */
	char path[128];               /* <dir>/<file>, not created */
};

/* Makes the directory and fills in both names: 0, or -1 with a message on
 * stderr and t zeroed (nothing to remove). */
int tmpdir_make(struct tmpdir *t, const char *prefix, const char *file);
/* Removes the files in t->dir (the tests make no subdirectories) and the
 * directory. Does nothing on a zeroed t. */
void tmpdir_remove(struct tmpdir *t);

/* For a test fixture whose first member is a struct tmpdir: allocates size
 * zeroed bytes and makes the directory in them; NULL (with a message on
 * stderr, nothing left behind) on failure. */
void *tmpdir_fixture_new(size_t size, const char *prefix, const char *file);
/* Removes the fixture's directory and frees it; NULL is fine. */
void tmpdir_fixture_free(void *fixture);

/* An SQLite file's user_version (the schema version), the big-endian u32 at
 * offset 60 of its header. Only what is in the file itself: close the last
 * connection first (that checkpoints the WAL into it). A read or write that
 * fails fails the test. */
uint32_t tmpdir_db_version_get(const char *path);
void tmpdir_db_version_set(const char *path, uint32_t version);

/* The checks every store's tests make of its files (cmocka asserts). */

/* The file at PATH exists and its permission bits are exactly MODE. */
void tmpdir_expect_mode(const char *path, unsigned mode);
/* An open store's database at PATH and its -wal file are both mode 0600. */
void tmpdir_db_expect_private(const char *path);
/* No PATH-wal: the last close checkpointed the WAL into PATH and removed it,
 * so the header on disk is the whole truth. */
void tmpdir_db_expect_no_wal(const char *path);
/* Makes NAME in T's directory, empty and mode 0644 (looser than a store
 * allows), and writes its path into PATH (CAP bytes). */
void tmpdir_file_loose(const struct tmpdir *t, const char *name, char *path, size_t cap);
/* Makes NAME in T's directory, 4096 bytes of text that are no SQLite
 * database, and writes its path into PATH (CAP bytes). */
void tmpdir_file_junk(const struct tmpdir *t, const char *name, char *path, size_t cap);

#endif
