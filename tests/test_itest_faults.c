/* Faults (docs/ROBUSTNESS.md): what the server and the client do when the
 * process dies halfway, the disk fills, the data directory cannot be written
 * or the database file is damaged.
 *
 *   kill -9 mid-change  the server is killed (CRYPTOCAT_CRASH_AT, test
 *                       binaries only) inside an /add, a /kick, a rekey and
 *                       an /admin, before and after its commit; restarted, the admin's
 *                       client completes or redoes the change, the chain has
 *                       exactly one record more, everyone reads the next
 *                       line, PRAGMA integrity_check is ok
 *   damaged database    truncated, or a page overwritten: the server (and the
 *                       client, for its client.db) says the file is damaged
 *                       and exits 1, no crash; the good copy starts again
 *   read-only           the data directory (or the client's home) on a
 *                       read-only mount: a clear error, exit 1
 *   full disk           the data directory on a small tmpfs filled up: the
 *                       writes are refused with ERROR store, the server
 *                       still answers, nothing is damaged, and once space is
 *                       freed the same clients go on
 *   SIGTERM under load  three clients sending as fast as they can: the
 *                       server exits 0, every line it confirmed is stored
 *
 * The mounts need root (CAP_SYS_ADMIN); without it those tests are skipped,
 * and say so. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "support/itest.h"
#include "support/itest_extra.h"
#include "support/itest_rooms.h"

#define CRASH_AT_ENV "CRYPTOCAT_CRASH_AT"

/* ---- mounts, undone by the teardown whatever happened -------------------- */

#define MAX_MOUNTS 4
static char mounted[MAX_MOUNTS][512];

static void mount_note(const char *dir)
{
	for (size_t i = 0; i < MAX_MOUNTS; i++)
		if (!mounted[i][0]) {
			snprintf(mounted[i], sizeof mounted[i], "%s", dir);
			return;
		}
	fail_msg("too many mounts");
}

/* A tmpfs of SIZE (e.g. "4m") on DIR; 0, or -1 when not allowed. */
static int mount_tmpfs(const char *dir, const char *size)
{
	char opts[64];
	snprintf(opts, sizeof opts, "size=%s,mode=0700", size);
	if (mount("tmpfs", dir, "tmpfs", 0, opts) != 0)
		return -1;
	mount_note(dir);
	return 0;
}

/* DIR on itself, read-only; 0, or -1 when not allowed. */
static int mount_readonly(const char *dir)
{
	if (mount(dir, dir, NULL, MS_BIND, NULL) != 0)
		return -1;
	mount_note(dir);
	if (mount(NULL, dir, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL) != 0)
		return -1;
	return 0;
}

static void unmount_all(void)
{
	for (size_t i = MAX_MOUNTS; i-- > 0;)
		if (mounted[i][0]) {
			if (umount2(mounted[i], MNT_DETACH) != 0)
				fprintf(stderr, "umount %s: %s\n", mounted[i], strerror(errno));
			mounted[i][0] = '\0';
		}
}

static void unmount_last(void)
{
	for (size_t i = MAX_MOUNTS; i-- > 0;)
		if (mounted[i][0]) {
			assert_int_equal(umount2(mounted[i], 0), 0);
			mounted[i][0] = '\0';
			return;
		}
}

static int teardown(void **state)
{
	(void)state;
	unsetenv(CRASH_AT_ENV);
	unmount_all();  /* detached: gone even while a process holds a file there */
	itest_cleanup();
	return 0;
}

/* ---- helpers ----------------------------------------------------------- */

static const char *const admin_member[] = {"alice", "bob", NULL};

static void integrity_ok(void)
{
	char *r = rt_sql("PRAGMA integrity_check");
	assert_non_null(r);
	assert_string_equal(r, "ok");
	free(r);
}

static long long records_of(const char *room)
{
	long long n = rt_sql_int("SELECT count(*) FROM records WHERE room ="
				 " (SELECT id FROM rooms WHERE hex(room_id) = upper('%s'))", room);
	/* The room row's count is the chain's length, no more, no less. */
	assert_int_equal(rt_sql_int("SELECT record_count FROM rooms WHERE hex(room_id) ="
				    " upper('%s')", room), n);
	return n;
}

/* Skips lines until EVENT; a reconnect's lines come first. */
static json_t *wait_for(struct itest_client *c, const char *event)
{
	json_t *ev = itest_client_wait_for(c, event, 3 * ITEST_TIMEOUT_MS);
	assert_non_null(ev);
	return ev;
}

/* Every client in C says a line in ROOM in turn, and each other one reads it. */
static void all_talk(struct itest_client **c, size_t n, const char *room, const char *tag)
{
	char text[96];
	for (size_t i = 0; i < n; i++) {
		snprintf(text, sizeof text, "%s from %s", tag, itest_client_nick(c[i]));
		assert_int_equal(itest_client_sendf(c[i], "/say %s %s", room, text), 0);
		json_t *sent = wait_for(c[i], "sent");  /* after any rejoin's "joined" */
		long long msg_id = itest_json_int(sent, "msg_id", -1);
		json_decref(sent);
		for (size_t j = 0; j < n; j++) {
			if (j == i)
				continue;
			json_t *m = wait_for(c[j], "message");
			assert_string_equal(itest_json_str(m, "text"), text);
			assert_int_equal(itest_json_int(m, "msg_id", -1), msg_id);
			json_decref(m);
		}
	}
}

/* Starts the server on F's port with CRASH_AT set for it alone. */
static void server_start_crashing_at(struct rt_fixture *f, const char *point)
{
	if (point)
		assert_int_equal(setenv(CRASH_AT_ENV, point, 1), 0);
	f->srv = itest_server_start_on(f->data, f->port, rt_server_args);
	unsetenv(CRASH_AT_ENV);
	assert_non_null(f->srv);
}

/* The server dies by itself (SIGKILL at the point); every client notices. */
static void server_died(struct rt_fixture *f, struct itest_client **c, size_t n)
{
	for (size_t i = 0; i < n; i++)
		json_decref(wait_for(c[i], "connection_lost"));
	assert_int_equal(itest_file_contains(itest_server_log(f->srv), "server stopped"),
			 0);  /* never stopped: killed */
	itest_server_kill(f->srv);  /* reaps what is left of it */
	f->srv = NULL;
}

/* ---- kill -9 inside a membership change --------------------------------- */

static void test_kill_mid_change(void **state)
{
	static const char *const nicks[] = {"alice", "bob", "carol"};
	struct rt_fixture f;
	struct itest_client *c[3];
	char room[RT_ROOM_HEX];
	(void)state;

	rt_start(&f, "faults-kill", 1);
	rt_clients(f.port, f.dir, nicks, 3, c);
	rt_create(c[0], "bob", "Faults", admin_member, room);
	for (int i = 0; i < 2; i++)
		json_decref(rt_join(c[i], room, 0));
	rt_stop(&f);
	for (int i = 0; i < 3; i++)
		json_decref(wait_for(c[i], "connection_lost"));

	/* /add carol, killed before the commit: not made; the admin's client
	 * finds it missing after the restart and makes it again. */
	long long before = records_of(room);
	server_start_crashing_at(&f, "epoch:stored");
	for (int i = 0; i < 3; i++)
		json_decref(wait_for(c[i], "reconnected"));
	assert_int_equal(itest_client_send(c[0], "/add carol"), 0);
	server_died(&f, c, 3);
	assert_int_equal(records_of(room), before);
	integrity_ok();
	server_start_crashing_at(&f, NULL);
	json_t *ev = wait_for(c[0], "member_added");
	assert_string_equal(itest_json_str(ev, "nick"), "carol");
	json_decref(ev);
	assert_int_equal(records_of(room), before + 1);
	json_decref(wait_for(c[2], "reconnected"));
	json_decref(rt_join(c[2], room, 0));
	all_talk(c, 3, room, "after the add");

	/* /kick carol, killed after the commit, before anyone was told: made
	 * once; the admin's client finds it in the chain and completes. */
	before = records_of(room);
	rt_stop(&f);
	for (int i = 0; i < 3; i++)
		json_decref(wait_for(c[i], "connection_lost"));
	server_start_crashing_at(&f, "epoch:committed");
	for (int i = 0; i < 3; i++)
		json_decref(wait_for(c[i], "reconnected"));
	assert_int_equal(itest_client_send(c[0], "/kick carol"), 0);
	server_died(&f, c, 3);
	assert_int_equal(records_of(room), before + 1);
	integrity_ok();
	server_start_crashing_at(&f, NULL);
	ev = wait_for(c[0], "member_kicked");
	assert_string_equal(itest_json_str(ev, "nick"), "carol");
	json_decref(ev);
	/* carol, offline when it was made, finds herself out when she joins
	 * again: the server's one answer for no room and not a member. */
	ev = wait_for(c[2], "error");
	assert_string_equal(itest_json_str(ev, "code"), "no_such_room");
	assert_string_equal(itest_json_str(ev, "room"), room);
	json_decref(ev);
	assert_int_equal(records_of(room), before + 1);
	all_talk(c, 2, room, "after the kick");

	/* A rekey: bob leaves, and alice's client makes the new key by itself;
	 * the server dies after storing it, before telling her. Once back,
	 * her client finds it made: one record for the leave, one for the key. */
	before = records_of(room);
	rt_stop(&f);
	for (int i = 0; i < 3; i++)
		json_decref(wait_for(c[i], "connection_lost"));
	server_start_crashing_at(&f, "epoch:committed");
	for (int i = 0; i < 3; i++)
		json_decref(wait_for(c[i], "reconnected"));
	assert_int_equal(itest_client_sendf(c[1], "/leave %s", room), 0);
	json_decref(wait_for(c[1], "left"));
	server_died(&f, c, 3);
	assert_int_equal(records_of(room), before + 2);
	integrity_ok();
	server_start_crashing_at(&f, NULL);
	json_decref(wait_for(c[1], "reconnected"));
	json_decref(wait_for(c[2], "reconnected"));
	assert_int_equal(itest_client_send(c[0], "/add carol"), 0);
	json_decref(wait_for(c[0], "member_added"));
	json_decref(rt_join(c[2], room, 0));
	struct itest_client *stay[] = {c[0], c[2]};
	all_talk(stay, 2, room, "after the rekey");
	assert_int_equal(records_of(room), before + 3);
	rt_ping(c[1]);

	/* The admin role handed over, killed before the commit: not made; the
	 * client hands it over again once the server is back. */
	before = records_of(room);
	rt_stop(&f);
	for (int i = 0; i < 3; i++)
		json_decref(wait_for(c[i], "connection_lost"));
	server_start_crashing_at(&f, "change:stored");
	for (int i = 0; i < 3; i++)
		json_decref(wait_for(c[i], "reconnected"));
	assert_int_equal(itest_client_send(c[0], "/admin carol"), 0);
	server_died(&f, c, 3);
	assert_int_equal(records_of(room), before);
	server_start_crashing_at(&f, NULL);
	ev = wait_for(c[0], "admin_changed");
	assert_string_equal(itest_json_str(ev, "admin"), "carol");
	json_decref(ev);
	assert_int_equal(records_of(room), before + 1);
	json_decref(wait_for(c[2], "reconnected"));
	all_talk(stay, 2, room, "after the handover");

	for (int i = 0; i < 3; i++)
		rt_quit(c[i]);
	rt_stop(&f);
	integrity_ok();
}

/* ---- damaged, read-only: refused at the start -------------------------- */

/* Runs the server on DATA by itself; its exit status, its log in LOG. */
static int server_run(const char *data, const char *log)
{
	char listen[32];
	snprintf(listen, sizeof listen, "127.0.0.1:%d", itest_free_port());
	const char *args[] = {"--listen", listen, "--data", data, "--rsa-bits", "2048", NULL};
	return itest_run(itest_server_bin(), args, log, ITEST_START_TIMEOUT_MS);
}

/* Runs the client on HOME until it is done: /quit at once. */
static int client_run(int port, const char *home, const char *log)
{
	char server[32];
	snprintf(server, sizeof server, "127.0.0.1:%d", port);
	const char *args[] = {"--batch", "--server", server, "--home", home, "--nick", "alice",
			      "--rsa-bits", "2048", NULL};
	struct itest_client *c = itest_client_start_args(args, log);
	assert_non_null(c);
	itest_client_send(c, "/quit");  /* may fail: it may be gone already */
	return itest_client_wait_exit(c, ITEST_TIMEOUT_MS);
}

static void file_truncate_half(const char *path)
{
	struct stat sb;
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(truncate(path, sb.st_size / 2), 0);
}

/* Overwrites the header of page PAGE (numbered from 1) with 0xff. */
static void file_smash_page(const char *path, long long page, long long page_size)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	uint8_t junk[12];
	memset(junk, 0xff, sizeof junk);
	assert_int_equal(pwrite(fd, junk, sizeof junk, (off_t)((page - 1) * page_size)),
			 (ssize_t)sizeof junk);
	close(fd);
}

/* DB with its -wal and -shm gone, so that only the file itself counts. */
static void db_alone(const char *db)
{
	char side[600];
	snprintf(side, sizeof side, "%s-wal", db);
	unlink(side);
	snprintf(side, sizeof side, "%s-shm", db);
	unlink(side);
}

static void test_damaged_database(void **state)
{
	struct rt_fixture f;
	struct itest_client *c[2];
	char room[RT_ROOM_HEX];
	(void)state;

	rt_start(&f, "faults-damaged", 1);
	rt_clients(f.port, f.dir, admin_member, 2, c);
	rt_create(c[0], "bob", "Damaged", admin_member, room);
	json_decref(rt_join(c[0], room, 0));
	rt_say(c[0], room, "kept", 1);
	for (int i = 0; i < 2; i++)
		rt_quit(c[i]);
	rt_stop(&f);

	/* Where the messages live, to damage a page that only a full read sees. */
	long long page_size = rt_sql_int("PRAGMA page_size");
	long long msg_page = rt_sql_int("SELECT rootpage FROM sqlite_schema"
					" WHERE name = 'messages'");
	const char *db = itest_path(f.data, "cryptocat.db");
	const char *good = itest_path(f.dir, "good.db");
	const char *log = itest_path(f.dir, "damaged.log");
	db_alone(db);
	assert_int_equal(itest_copy_file(db, good, 0600), 0);

	/* The server's database, cut in half, then with a page smashed. */
	file_truncate_half(db);
	assert_int_equal(server_run(f.data, log), 1);
	assert_true(itest_file_contains(log, "damaged; restore it from a backup"));
	assert_int_equal(itest_copy_file(good, db, 0600), 0);
	file_smash_page(db, msg_page, page_size);
	assert_int_equal(server_run(f.data, log), 1);
	assert_true(itest_file_contains(log, "is damaged"));

	/* The good copy back: as it was. */
	assert_int_equal(itest_copy_file(good, db, 0600), 0);
	server_start_crashing_at(&f, NULL);
	const char *home = itest_path(f.dir, "alice");
	c[0] = rt_client(f.port, home, "alice", "alice");
	json_decref(rt_join(c[0], room, 0));
	rt_say(c[0], room, "after", 1);
	rt_quit(c[0]);
	assert_int_equal(rt_sql_int("SELECT count(*) FROM messages"), 2);

	/* The client's client.db, the same two ways. */
	const char *cdb = itest_path(home, "client.db");
	const char *cgood = itest_path(f.dir, "client-good.db");
	const char *clog = itest_path(f.dir, "client-damaged.log");
	db_alone(cdb);
	assert_int_equal(itest_copy_file(cdb, cgood, 0600), 0);
	file_truncate_half(cdb);
	assert_int_equal(client_run(f.port, home, clog), 1);
	assert_true(itest_file_contains(clog, "damaged"));
	assert_int_equal(itest_copy_file(cgood, cdb, 0600), 0);
	file_smash_page(cdb, 2, 4096);
	assert_int_equal(client_run(f.port, home, clog), 1);
	assert_true(itest_file_contains(clog, "damaged"));
	assert_int_equal(itest_copy_file(cgood, cdb, 0600), 0);
	assert_int_equal(client_run(f.port, home, clog), 0);

	rt_stop(&f);
	integrity_ok();
}

static void test_read_only(void **state)
{
	struct rt_fixture f;
	struct itest_client *c;
	(void)state;

	rt_start(&f, "faults-ro", 1);
	const char *home = itest_subdir(f.dir, "alice");
	c = rt_client(f.port, home, "alice", "alice");
	rt_quit(c);
	rt_stop(&f);

	if (mount_readonly(f.data) != 0) {
		fprintf(stderr, "skipped: a read-only mount needs root (%s)\n", strerror(errno));
		unmount_all();
		skip();
	}
	const char *log = itest_path(f.dir, "ro.log");
	assert_int_equal(server_run(f.data, log), 1);
	assert_true(itest_file_contains(log, "Read-only file system"));
	unmount_last();

	/* The client's home, read-only: refused as clearly. */
	server_start_crashing_at(&f, NULL);
	assert_int_equal(mount_readonly(home), 0);
	const char *clog = itest_path(f.dir, "client-ro.log");
	assert_int_equal(client_run(f.port, home, clog), 1);
	assert_true(itest_file_contains(clog, "Read-only file system") ||
		    itest_file_contains(clog, "cannot be written"));
	unmount_last();
	assert_int_equal(client_run(f.port, home, clog), 0);
	rt_stop(&f);
	integrity_ok();
}

/* ---- a full disk: writes refused, reads served, nothing damaged --------- */

/* Fills the file system of DIR: a file that grows until ENOSPC. */
static void disk_fill(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	static uint8_t block[4096];
	for (;;) {
		ssize_t n = write(fd, block, sizeof block);
		if (n < 0) {
			assert_int_equal(errno, ENOSPC);
			break;
		}
		if (n == 0)
			break;
	}
	/* The last bytes a partial block may have left. */
	while (write(fd, block, 1) == 1)
		;
	close(fd);
}

static void test_full_disk(void **state)
{
	struct rt_fixture f;
	struct itest_client *c[2];
	char room[RT_ROOM_HEX];
	(void)state;

	rt_start(&f, "faults-full", 1);
	rt_stop(&f);
	const char *data = itest_subdir(f.dir, "small");
	if (mount_tmpfs(data, "2m") != 0) {
		fprintf(stderr, "skipped: a tmpfs mount needs root (%s)\n", strerror(errno));
		skip();
	}
	f.data = data;
	rt_db_use(itest_path(data, "cryptocat.db"), f.dir);
	server_start_crashing_at(&f, NULL);
	rt_clients(f.port, f.dir, admin_member, 2, c);
	rt_create(c[0], "bob", "Full", admin_member, room);
	for (int i = 0; i < 2; i++)
		json_decref(rt_join(c[i], room, 0));
	all_talk(c, 2, room, "before");

	/* Full: lines are refused (the log says why), not stored, not relayed;
	 * what needs no write is still served. The WAL may still have room for
	 * a few pages, so it takes some lines to get there. */
	const char *filler = itest_path(data, "filler");
	disk_fill(filler);
	int refused = 0;
	for (int i = 0; i < 200 && !refused; i++) {
		assert_int_equal(itest_client_sendf(c[0], "/say %s filling %d", room, i), 0);
		json_t *ev = itest_client_next(c[0], ITEST_TIMEOUT_MS);
		assert_non_null(ev);
		const char *what = itest_json_str(ev, "event");
		if (strcmp(what, "error") == 0) {
			assert_string_equal(itest_json_str(ev, "code"), "store_error");
			refused = 1;
		} else {
			assert_string_equal(what, "sent");
			json_decref(wait_for(c[1], "message"));
		}
		json_decref(ev);
	}
	assert_true(refused);
	assert_true(itest_file_contains(itest_server_log(f.srv), "the disk is full") ||
		    itest_file_contains(itest_server_log(f.srv), "I/O error"));
	rt_ping(c[0]);
	rt_ping(c[1]);
	json_t *rooms = rt_rooms(c[1]);
	assert_non_null(rt_rooms_find(rooms, room));
	json_decref(rooms);
	assert_int_equal(itest_client_expect_silence(c[1], 300), 1);

	/* Space again: the same clients, the same connections, go on. */
	assert_int_equal(unlink(filler), 0);
	all_talk(c, 2, room, "after");
	for (int i = 0; i < 2; i++)
		rt_quit(c[i]);
	rt_stop(&f);
	integrity_ok();
}

/* The client's home fills up: what it must write first (its own sequence
 * number, a message's counters) fails, it says store_error, sends nothing it
 * could not record, and goes on once there is space. */
static void test_client_full_disk(void **state)
{
	struct rt_fixture f;
	struct itest_client *c[2];
	char room[RT_ROOM_HEX];
	(void)state;

	rt_start(&f, "faults-client-full", 1);
	const char *home = itest_subdir(f.dir, "bob");
	if (mount_tmpfs(home, "2m") != 0) {
		fprintf(stderr, "skipped: a tmpfs mount needs root (%s)\n", strerror(errno));
		skip();
	}
	c[0] = rt_client(f.port, itest_subdir(f.dir, "alice"), "alice", "alice");
	c[1] = rt_client(f.port, home, "bob", "bob");
	rt_create(c[0], "bob", "Full home", admin_member, room);
	for (int i = 0; i < 2; i++)
		json_decref(rt_join(c[i], room, 0));
	all_talk(c, 2, room, "before");

	disk_fill(itest_path(home, "filler"));
	int refused = 0;
	for (int i = 0; i < 50 && !refused; i++) {
		assert_int_equal(itest_client_sendf(c[1], "/say %s filling %d", room, i), 0);
		json_t *ev = itest_client_next(c[1], ITEST_TIMEOUT_MS);
		assert_non_null(ev);
		const char *what = itest_json_str(ev, "event");
		if (strcmp(what, "error") == 0) {
			assert_string_equal(itest_json_str(ev, "code"), "store_error");
			refused = 1;
		} else {
			assert_string_equal(what, "sent");
			json_decref(wait_for(c[0], "message"));
		}
		json_decref(ev);
	}
	assert_true(refused);
	assert_true(itest_file_contains(itest_client_log(c[1]), "the disk is full") ||
		    itest_file_contains(itest_client_log(c[1]), "I/O error"));
	rt_ping(c[1]);
	assert_int_equal(itest_client_expect_silence(c[0], 300), 1);

	assert_int_equal(unlink(itest_path(home, "filler")), 0);
	all_talk(c, 2, room, "after");
	for (int i = 0; i < 2; i++)
		rt_quit(c[i]);
	rt_stop(&f);
	rt_db_use(itest_path(home, "client.db"), f.dir);
	integrity_ok();
}

/* ---- SIGTERM under load: drained, exit 0, nothing confirmed lost -------- */

#define LOAD_CLIENTS 3
#define LOAD_LINES 60

static void test_sigterm_under_load(void **state)
{
	static const char *const nicks[] = {"alice", "bob", "carol", NULL};
	struct rt_fixture f;
	struct itest_client *c[LOAD_CLIENTS];
	char room[RT_ROOM_HEX];
	(void)state;

	rt_start(&f, "faults-sigterm", 1);
	rt_clients(f.port, f.dir, nicks, LOAD_CLIENTS, c);
	rt_create(c[0], "bob,carol", "Busy", nicks, room);
	for (int i = 0; i < LOAD_CLIENTS; i++)
		json_decref(rt_join(c[i], room, 0));
	/* Every client is handed all its lines at once; a batch client sends
	 * each as soon as the previous one is answered. */
	for (int i = 0; i < LOAD_CLIENTS; i++)
		for (int k = 0; k < LOAD_LINES; k++)
			assert_int_equal(itest_client_sendf(c[i], "/say %s load %d", room, k), 0);
	for (int i = 0; i < LOAD_CLIENTS; i++)
		json_decref(wait_for(c[i], "sent"));
	char log[512];
	snprintf(log, sizeof log, "%s", itest_server_log(f.srv));
	assert_int_equal(itest_server_stop(f.srv), 0);  /* SIGTERM; 0: a clean exit */
	f.srv = NULL;
	assert_true(itest_file_contains(log, "signal 15: shutting down"));
	assert_false(itest_file_contains(log, " error "));

	/* Every "sent" a client saw is a stored message of the room. */
	long long confirmed = LOAD_CLIENTS;  /* the first ones, read above */
	for (int i = 0; i < LOAD_CLIENTS; i++) {
		for (;;) {
			json_t *ev = itest_client_next(c[i], ITEST_TIMEOUT_MS);
			assert_non_null(ev);
			const char *what = itest_json_str(ev, "event");
			if (strcmp(what, "sent") == 0) {
				assert_int_equal(rt_sql_int("SELECT count(*) FROM messages WHERE"
							    " msg_id = %lld AND room = (SELECT id"
							    " FROM rooms WHERE hex(room_id) ="
							    " upper('%s'))",
							    itest_json_int(ev, "msg_id", -1), room),
						 1);
				confirmed++;
			}
			int lost = strcmp(what, "connection_lost") == 0;
			json_decref(ev);
			if (lost)
				break;
		}
		itest_client_kill(c[i]);
	}
	assert_true(rt_sql_int("SELECT count(*) FROM messages") >= confirmed);
	integrity_ok();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_kill_mid_change, teardown),
		cmocka_unit_test_teardown(test_damaged_database, teardown),
		cmocka_unit_test_teardown(test_read_only, teardown),
		cmocka_unit_test_teardown(test_full_disk, teardown),
		cmocka_unit_test_teardown(test_client_full_disk, teardown),
		cmocka_unit_test_teardown(test_sigterm_under_load, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
