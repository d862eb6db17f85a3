/* Temporary directories for unit tests: see tmpdir.h. */
#include "tmpdir.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TMPDIR_DB_VERSION_OFFSET 60

int tmpdir_make(struct tmpdir *t, const char *prefix, const char *file)
{
	memset(t, 0, sizeof *t);
	int n = snprintf(t->dir, sizeof t->dir, "/tmp/%s_XXXXXX", prefix);
	if (n < 0 || (size_t)n >= sizeof t->dir) {
		fprintf(stderr, "[tmpdir] prefix too long: %s\n", prefix);
		memset(t, 0, sizeof *t);
		return -1;
	}
	if (!mkdtemp(t->dir)) {
		fprintf(stderr, "[tmpdir] mkdtemp %s: %s\n", t->dir, strerror(errno));
		memset(t, 0, sizeof *t);
		return -1;
	}
	n = snprintf(t->path, sizeof t->path, "%s/%s", t->dir, file);
	if (n < 0 || (size_t)n >= sizeof t->path) {
		fprintf(stderr, "[tmpdir] file name too long: %s\n", file);
		tmpdir_remove(t);
		return -1;
	}
	return 0;
}

void tmpdir_remove(struct tmpdir *t)
{
	if (!t->dir[0])
		return;
	DIR *d = opendir(t->dir);
	if (d) {
		struct dirent *e;
		while ((e = readdir(d)) != NULL) {
			if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
				continue;
			unlinkat(dirfd(d), e->d_name, 0);
		}
		closedir(d);
	}
	rmdir(t->dir);
	memset(t, 0, sizeof *t);
}

void *tmpdir_fixture_new(size_t size, const char *prefix, const char *file)
{
	if (size < sizeof(struct tmpdir))
		return NULL;
	struct tmpdir *t = calloc(1, size);
	if (!t) {
		fprintf(stderr, "[tmpdir] out of memory\n");
		return NULL;
	}
	if (tmpdir_make(t, prefix, file) != 0) {
		free(t);
		return NULL;
	}
	return t;
}

void tmpdir_fixture_free(void *fixture)
{
	if (!fixture)
		return;
	tmpdir_remove(fixture);
	free(fixture);
}

uint32_t tmpdir_db_version_get(const char *path)
{
	uint8_t be[4];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, be, sizeof be, TMPDIR_DB_VERSION_OFFSET), (ssize_t)sizeof be);
	close(fd);
	return (uint32_t)be[0] << 24 | (uint32_t)be[1] << 16 | (uint32_t)be[2] << 8 | be[3];
}

void tmpdir_db_version_set(const char *path, uint32_t version)
{
	uint8_t be[4] = {(uint8_t)(version >> 24), (uint8_t)(version >> 16),
			 (uint8_t)(version >> 8), (uint8_t)version};
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, be, sizeof be, TMPDIR_DB_VERSION_OFFSET), (ssize_t)sizeof be);
	close(fd);
}

void tmpdir_expect_mode(const char *path, unsigned mode)
{
	struct stat sb;
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, mode);
}

void tmpdir_db_expect_private(const char *path)
{
	char wal[160];
	tmpdir_expect_mode(path, 0600);
	snprintf(wal, sizeof wal, "%s-wal", path);
	tmpdir_expect_mode(wal, 0600);
}

void tmpdir_db_expect_no_wal(const char *path)
{
	char wal[160];
	snprintf(wal, sizeof wal, "%s-wal", path);
	assert_int_not_equal(access(wal, F_OK), 0);
}

void tmpdir_file_loose(const struct tmpdir *t, const char *name, char *path, size_t cap)
{
	snprintf(path, cap, "%s/%s", t->dir, name);
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	assert_int_equal(fchmod(fd, 0644), 0);
	close(fd);
}

void tmpdir_file_junk(const struct tmpdir *t, const char *name, char *path, size_t cap)
{
	snprintf(path, cap, "%s/%s", t->dir, name);
	FILE *fp = fopen(path, "w");
	assert_non_null(fp);
	for (int i = 0; i < 4096; i++)
		fputc("not a database "[i % 15], fp);
	fclose(fp);
}
