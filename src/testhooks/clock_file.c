/* Test-only clock source: the time is what the file named by the environment
 * variable CRYPTOCAT_CLOCK_FILE says (decimal Unix seconds), so that the
 * integration tests can move the clock of real server and client processes
 * (nickname expiry, retention) without waiting.
 *
 * Never linked into the shipped programs (build/cryptocat-server,
 * build/cryptocat): CMakeLists.txt links it, as an OBJECT library so that
 * the constructor below is always kept, into the test variants
 * (build/testbin/) and into the test programs. It installs itself before
 * main() (util/clock_hook.h); nothing else refers to it.
 *
 * The variable is looked up at every call (a test sets and unsets it between
 * cases). If it is unset or empty, or the file cannot be read or does not
 * start with a number, the call gets the system clock, as clock.c does. A
 * value written to the file is seen by the very next call, in every process.
 *
 * The value is cached, so that a call costs one stat() while the file stays
 * the same: same path, device, inode, size, mtime and ctime. A write that
 * falls within the file system's timestamp granularity of the previous one
 * could leave all of those unchanged, so a value is only cached when the
 * file's last change (mtime and ctime) is more than CLOCK_FILE_SETTLE_S
 * seconds older than the moment it was read; a file changed more recently is
 * read again at every call, as if there were no cache (the "racy git" rule).
 * A test writing the file whole and renaming it over the old one (as
 * tests/support/itest_lifecycle.c does) also changes the inode each time. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "util/clock_hook.h"

#define CLOCK_FILE_ENV "CRYPTOCAT_CLOCK_FILE"
/* Longer than the coarsest timestamp granularity of a local file system. */
#define CLOCK_FILE_SETTLE_S 2
/* More than any number of seconds the file holds, with its spaces. */
#define CLOCK_FILE_READ_MAX 64

struct file_id {
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime, ctime;
};

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static char *cache_path;   /* malloc'd; NULL while nothing is cached */
static struct file_id cache_id;
static uint64_t cache_ms;

static void file_id_of(const struct stat *st, struct file_id *id)
{
	id->dev = st->st_dev;
	id->ino = st->st_ino;
	id->size = st->st_size;
	id->mtime = st->st_mtim;
	id->ctime = st->st_ctim;
}

static int ts_equal(struct timespec a, struct timespec b)
{
	return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec;
}

static int ts_before(struct timespec a, struct timespec b)
{
	return a.tv_sec < b.tv_sec || (a.tv_sec == b.tv_sec && a.tv_nsec < b.tv_nsec);
}

static int same_file(const struct file_id *a, const struct file_id *b)
{
	return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
	       ts_equal(a->mtime, b->mtime) && ts_equal(a->ctime, b->ctime);
}

/* Whether a value read at READ_AT may be reused while the file keeps ID: its
 * last change must be well before the read. */
static int settled(const struct file_id *id, struct timespec read_at)
{
	struct timespec cutoff = read_at;
	cutoff.tv_sec -= CLOCK_FILE_SETTLE_S;
	return ts_before(id->mtime, cutoff) && ts_before(id->ctime, cutoff);
}

/* Reads PATH: 1 with *MS and the identity of what was read in *ID, or 0. */
static int read_clock_file(const char *path, uint64_t *ms, struct file_id *id)
{
	char buf[CLOCK_FILE_READ_MAX + 1];
	size_t got = 0;
	struct stat st;
	int ok = 0;

	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	if (fstat(fd, &st) == 0) {
		ok = 1;
		while (got < CLOCK_FILE_READ_MAX) {
			ssize_t n = read(fd, buf + got, CLOCK_FILE_READ_MAX - got);
			if (n > 0) {
				got += (size_t)n;
			} else if (n < 0 && errno == EINTR) {
				continue;
			} else {
				ok = n == 0;
				break;
			}
		}
	}
	close(fd);
	if (!ok)
		return 0;
	buf[got] = '\0';
	unsigned long long secs;
	if (sscanf(buf, "%llu", &secs) != 1 || secs > UINT64_MAX / 1000)
		return 0;
	*ms = (uint64_t)secs * 1000;
	file_id_of(&st, id);
	return 1;
}

static int clock_file_source(uint64_t *now_ms)
{
	const char *path = getenv(CLOCK_FILE_ENV);
	if (!path || !*path)
		return 0;

	int ok = 0;
	pthread_mutex_lock(&cache_lock);
	if (cache_path && strcmp(cache_path, path) == 0) {
		struct stat st;
		struct file_id id;
		if (stat(path, &st) == 0) {
			file_id_of(&st, &id);
			if (same_file(&id, &cache_id)) {
				*now_ms = cache_ms;
				ok = 1;
			}
		}
	}
	if (!ok) {
		struct timespec read_at;
		struct file_id id;
		free(cache_path);
		cache_path = NULL;
		/* Taken before the read: a change after it is not "settled". */
		clock_gettime(CLOCK_REALTIME, &read_at);
		if (read_clock_file(path, now_ms, &id)) {
			ok = 1;
			if (settled(&id, read_at) && (cache_path = strdup(path)) != NULL) {
				cache_id = id;
				cache_ms = *now_ms;
			}
		}
	}
	pthread_mutex_unlock(&cache_lock);
	return ok;
}

static void clock_file_install(void) __attribute__((constructor));

static void clock_file_install(void)
{
	clock_set_source(clock_file_source);
}
