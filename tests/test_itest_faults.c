/* Faults (docs/ROBUSTNESS.md): what the server and the client do when the
 * process dies halfway, the disk fills, the data directory cannot be written
 * or the database file is damaged.
 *
 *   kill -9 mid-change  the server is killed (CRYPTOCAT_CRASH_AT, test
 *                       binaries only) inside an /add, a /kick and a rekey,
 *                       before and after its commit; restarted, the admin's
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
__attribute__((unused)) static int mount_tmpfs(const char *dir, const char *size)
{
	char opts[64];
	snprintf(opts, sizeof opts, "size=%s,mode=0700", size);
	if (mount("tmpfs", dir, "tmpfs", 0, opts) != 0)
		return -1;
	mount_note(dir);
	return 0;
}

/* DIR on itself, read-only; 0, or -1 when not allowed. */
__attribute__((unused)) static int mount_readonly(const char *dir)
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

__attribute__((unused)) static void unmount_last(void)
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
	itest_cleanup();  /* kills the processes that hold files under the mounts */
	unmount_all();
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

	for (int i = 0; i < 3; i++)
		rt_quit(c[i]);
	rt_stop(&f);
	integrity_ok();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_kill_mid_change, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
