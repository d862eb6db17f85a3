/* Integration test of the client's group commit (src/client/core/turn.c): a
 * real server, real batch clients (the test variants, with crash points).
 *
 * What is proved: the messages one read brings are recorded in one commit
 * and shown only after it. A client killed with that commit not made
 * (CRYPTOCAT_CRASH_AT=client:turn-stored) has shown nothing and acknowledged
 * nothing; started again it gets every message once more from the server,
 * shows each exactly once, in order, and a later run gets none of them
 * again. A burst of messages taken in few turns is shown whole and in order,
 * and a copy of a message in the same turn as the original is refused as a
 * replay.
 *
 * And a directory's writes (src/client/core/turn.c, client_directory_begin):
 * the keys seen and the first-use pins of a creation, or of an add, are one
 * commit, made before the request they rest on is sent. A client killed
 * just before it has sent nothing and stored none of them; started again,
 * the same change works. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/itest.h"
#include "support/itest_rooms.h"

#define CRASH_ENV "CRYPTOCAT_CRASH_AT"
#define BURST 150

static const char *const two[] = {"alice", "bob", NULL};

static int teardown(void **state)
{
	unsetenv(CRASH_ENV);
	return itest_teardown(state);
}

/* Bob's client with the crash point armed (only that process). */
static struct itest_client *bob_crashing(int port, const char *home)
{
	assert_int_equal(setenv(CRASH_ENV, "client:turn-stored", 1), 0);
	struct itest_client *c = rt_client(port, home, "bob", "bob");
	unsetenv(CRASH_ENV);
	return c;
}

static void test_crash_before_commit(void **state)
{
	(void)state;
	struct rt_fixture f;
	struct itest_client *c[2];
	const char *const nicks[] = {"alice", "bob"};
	char room[RT_ROOM_HEX];
	char text[64];

	rt_start(&f, "group-commit", 1);
	rt_clients(f.port, f.dir, nicks, 2, c);
	struct itest_client *alice = c[0], *bob = c[1];
	const char *bob_home = itest_subdir(f.dir, "bob");
	assert_non_null(bob_home);
	rt_create(alice, "bob", "turns", two, room);
	json_decref(rt_join(alice, room, 0));
	rt_quit(bob);

	/* Bob listens with the crash point armed: the first turn that brings
	 * a message kills it before its commit, and before anything shows. */
	bob = bob_crashing(f.port, bob_home);
	json_decref(rt_join(bob, room, 0));
	for (int i = 1; i <= 3; i++) {
		snprintf(text, sizeof text, "before the crash %d", i);
		rt_say(alice, room, text, 0);
	}
	/* Nothing but the end: no message was shown, none acknowledged. */
	json_t *ev = itest_client_next(bob, ITEST_TIMEOUT_MS);
	assert_null(ev);
	assert_int_equal(itest_client_wait_exit(bob, ITEST_TIMEOUT_MS), 128 + 9);

	/* Started again: the server sends the three again (backlog), each
	 * shown once, in order, after the join. */
	bob = rt_client(f.port, bob_home, "bob", "bob");
	json_decref(rt_join(bob, room, 3));
	for (int i = 1; i <= 3; i++) {
		snprintf(text, sizeof text, "before the crash %d", i);
		rt_expect_msg(bob, room, "alice", text, i, -1);
	}
	rt_say(alice, room, "after the restart", 0);
	rt_expect_msg(bob, room, "alice", "after the restart", 4, -1);
	rt_ping(bob);
	rt_quit(bob);

	/* A later run: all of it was handled, none comes again. */
	bob = rt_client(f.port, bob_home, "bob", "bob");
	json_decref(rt_join(bob, room, 0));
	rt_ping(bob);

	/* A burst, sent while bob is away, comes as one backlog in few reads:
	 * shown whole, in order, once. */
	rt_quit(bob);
	for (int i = 1; i <= BURST; i++) {
		snprintf(text, sizeof text, "burst %d", i);
		rt_say(alice, room, text, 0);
	}
	bob = rt_client(f.port, bob_home, "bob", "bob");
	json_decref(rt_join(bob, room, BURST));
	for (int i = 1; i <= BURST; i++) {
		snprintf(text, sizeof text, "burst %d", i);
		rt_expect_msg(bob, room, "alice", text, 4 + i, -1);
	}
	rt_ping(bob);

	/* The same message twice in one backlog (the server stored a copy
	 * under a new id): both come in one turn, and the copy is caught
	 * although the first is not committed yet when it is checked. */
	json_decref(rt_cmd(bob, "disconnected", "/disconnect %s", room));
	struct rt_sent once = rt_say(alice, room, "only once", 0);
	long long rid = rt_sql_int("SELECT id FROM rooms WHERE room_id = X'%s'", room);
	rt_sql_message_copy(rid, once.msg_id);
	json_decref(rt_join(bob, room, 2));
	rt_expect_msg(bob, room, "alice", "only once", once.seq, once.msg_id);
	json_decref(rt_expect_room_error(bob, "replayed", room, "alice"));
	rt_ping(bob);
	rt_quit(bob);
	rt_quit(alice);
	rt_stop(&f);
}

/* NICK's client (home DIR/NICK) killed at the crash point POINT. */
static struct itest_client *crashing_at(int port, const char *dir, const char *nick,
					const char *point)
{
	assert_int_equal(setenv(CRASH_ENV, point, 1), 0);
	struct itest_client *c = rt_client(port, itest_subdir(dir, nick), nick, nick);
	unsetenv(CRASH_ENV);
	return c;
}

static void killed(struct itest_client *c)
{
	assert_int_equal(itest_client_wait_exit(c, ITEST_TIMEOUT_MS), 128 + 9);
}

/* Rows of TABLE in the client.db of DIR/NICK (then the server's database
 * again, in DATA). */
static long long client_rows(const char *dir, const char *data, const char *nick,
			     const char *table)
{
	rt_db_use(itest_path(itest_subdir(dir, nick), "client.db"), dir);
	long long n = rt_sql_int("SELECT count(*) FROM %s", table);
	rt_db_use(itest_path(data, "cryptocat.db"), dir);
	return n;
}

static void test_directory_commit(void **state)
{
	(void)state;
	struct rt_fixture f;
	struct itest_client *c[4];
	const char *const nicks[] = {"alice", "bob", "carol", "dave"};
	const char *const abc[] = {"alice", "bob", "carol", NULL};
	char room[RT_ROOM_HEX];

	rt_start(&f, "group-commit-dir", 1);
	rt_clients(f.port, f.dir, nicks, 4, c);
	for (int i = 0; i < 4; i++)
		rt_quit(c[i]);

	/* A creation killed before its directory's commit: no room on the
	 * server (nothing was sent), and none of the invitees' keys or pins
	 * stored (all of it, or none: one commit). */
	struct itest_client *alice = crashing_at(f.port, f.dir, "alice", "client:create-stored");
	assert_int_equal(itest_client_send(alice, "/create bob,carol Crashed"), 0);
	killed(alice);
	assert_int_equal(rt_sql_int("SELECT count(*) FROM rooms"), 0);
	assert_int_equal(client_rows(f.dir, f.data, "alice", "pins"), 0);
	assert_int_equal(client_rows(f.dir, f.data, "alice", "sign_keys"), 0);
	assert_int_equal(client_rows(f.dir, f.data, "alice", "recv_seen"), 0);

	/* Started again, the same creation works, and all of it is stored. */
	alice = rt_client(f.port, itest_subdir(f.dir, "alice"), "alice", "alice");
	rt_create(alice, "bob,carol", "Made", abc, room);
	json_decref(rt_join(alice, room, 0));
	rt_quit(alice);
	assert_int_equal(client_rows(f.dir, f.data, "alice", "pins"), 2);
	assert_int_equal(client_rows(f.dir, f.data, "alice", "recv_seen"), 3);
	long long epoch = rt_sql_int("SELECT epoch FROM rooms WHERE room_id = X'%s'", room);

	/* An add killed before the new member's keys and pin are committed:
	 * nothing of it stored, nothing sent. */
	alice = crashing_at(f.port, f.dir, "alice", "client:add-stored");
	json_decref(rt_join(alice, room, 0));
	assert_int_equal(itest_client_send(alice, "/add dave"), 0);
	killed(alice);
	assert_int_equal(client_rows(f.dir, f.data, "alice", "pins"), 2);
	assert_int_equal(rt_sql_int("SELECT epoch FROM rooms WHERE room_id = X'%s'", room), epoch);

	/* Killed before the fetched directory's commit: dave's pin is stored
	 * (the commit before the fetch), the room unchanged. */
	alice = crashing_at(f.port, f.dir, "alice", "client:refresh-stored");
	json_decref(rt_join(alice, room, 0));
	assert_int_equal(itest_client_send(alice, "/add dave"), 0);
	killed(alice);
	assert_int_equal(client_rows(f.dir, f.data, "alice", "pins"), 3);
	assert_int_equal(rt_sql_int("SELECT epoch FROM rooms WHERE room_id = X'%s'", room), epoch);

	/* And done whole. */
	alice = rt_client(f.port, itest_subdir(f.dir, "alice"), "alice", "alice");
	json_decref(rt_join(alice, room, 0));
	json_decref(rt_cmd(alice, "member_added", "/add dave"));
	rt_quit(alice);
	assert_int_equal(rt_sql_int("SELECT epoch FROM rooms WHERE room_id = X'%s'", room),
			 epoch + 1);
	assert_int_equal(client_rows(f.dir, f.data, "alice", "pins"), 3);
	rt_stop(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_crash_before_commit, teardown),
		cmocka_unit_test_teardown(test_directory_commit, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
