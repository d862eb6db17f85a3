/* Integration tests of a room's membership lifecycle: a real
 * cryptocat-server and real batch clients on 127.0.0.1 (and, where a
 * well-behaved client never tries, a raw session or an edit of the server's
 * database).
 *
 * What is proved end to end: an expelled member hears nothing more, cannot
 * post, and cannot read what is sent after, even holding the stored
 * ciphertext and every key its client ever had; the admin role can be handed
 * over, and only the admin may change the membership; a leave costs a new
 * key, made by the admin's client on its own, at once or the moment it next
 * connects; nicknames whose owners stay away for a day expire, their users
 * are signed out of their rooms (the admin's too, by its successor) and the
 * nickname goes to whoever registers it next, who gets none of the old
 * rooms; and a message of an old epoch slipped back in is never shown.
 *
 * Rooms are made one record and one epoch per member (rt_create_one_by_one),
 * so that each test's epochs count the changes it makes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/msg.h"
#include "support/itest.h"
#include "proto/room.h"
#include "support/itest_insider.h"
#include "support/itest_lifecycle.h"
#include "support/itest_rooms.h"

static const char *const three[] = {"alice", "bob", "carol", NULL};

/* Each of the N clients joins ROOM, with nothing waiting. */
static void join_all(struct itest_client **c, size_t n, const char *room)
{
	for (size_t i = 0; i < n; i++)
		json_decref(rt_join(c[i], room, 0));
}

/* FROM says TEXT in its current room; each of the N listeners hears it next,
 * verified. */
static void say_heard(struct itest_client *from, const char *room, const char *text,
		      struct itest_client **to, size_t n)
{
	struct rt_sent s = rt_say(from, room, text, 1);
	for (size_t i = 0; i < n; i++)
		rt_expect_msg(to[i], room, itest_client_nick(from), text, s.seq, s.msg_id);
}

/* member_kicked at C: NICK expelled by BY, new epoch EPOCH. */
static void see_kicked(struct itest_client *c, const char *room, const char *nick,
		       const char *by, int epoch)
{
	json_t *ev = lc_expect(c, "member_kicked", room, "nick", nick, "by", by, NULL);
	assert_int_equal(itest_json_int(ev, "epoch", -1), epoch);
	json_decref(ev);
}

/* rekeyed at C: epoch EPOCH, made by BY. */
static void see_rekeyed(struct itest_client *c, const char *room, int epoch, const char *by)
{
	json_t *ev = lc_expect(c, "rekeyed", room, "by", by, NULL);
	assert_int_equal(itest_json_int(ev, "epoch", -1), epoch);
	json_decref(ev);
}

/* ---- 1. kick -------------------------------------------------------------------- */

static void test_kick(void **state)
{
	struct lc_fixture f;
	struct itest_client *c[3];
	char room[RT_ROOM_HEX];
	json_t *ev;
	(void)state;

	lc_start(&f, "kick", 0);
	rt_clients(f.port, f.dir, three, 3, c);
	struct itest_client *alice = c[0], *bob = c[1], *carol = c[2];
	const char *carol_home = lc_home(&f, "carol"), *bob_home = lc_home(&f, "bob");
	rt_create_one_by_one(alice, "bob,carol", "Kick", three, room);
	join_all(c, 3, room);
	say_heard(alice, room, "before the kick", c + 1, 2);
	/* A copy of carol's device before the kick: all her client held. */
	const char *carol_copy = lc_home_copy(&f, "carol", "carol-before-kick");

	ev = rt_cmd(alice, "member_kicked", "/kick carol");
	assert_string_equal(itest_json_str(ev, "room"), room);
	assert_string_equal(itest_json_str(ev, "nick"), "carol");
	assert_string_equal(itest_json_str(ev, "by"), "alice");
	assert_int_equal(itest_json_int(ev, "epoch", -1), 3);
	json_decref(ev);
	see_kicked(bob, room, "carol", "alice", 3);
	lc_see(carol, "expelled", room, "by", "alice", NULL);
	/* And of bob's, now that he holds epoch 3's keys (a positive control). */
	const char *bob_copy = lc_home_copy(&f, "bob", "bob-after-kick");

	/* The next message is in epoch 3: bob reads it, carol hears nothing. */
	struct itest_client *bob_only[] = {bob};
	say_heard(alice, room, "secret", bob_only, 1);
	assert_true(itest_client_expect_silence(carol, 500));

	/* The room is gone for her, whatever she tries. */
	ev = lc_cmd_error(carol, "no_such_room", "/join %s", room);
	assert_string_equal(itest_json_str(ev, "room"), room);
	json_decref(ev);
	lc_rooms_empty(carol);
	json_decref(lc_cmd_error(carol, "not_joined", "/say %s let me back", room));
	json_decref(lc_cmd_error(carol, "no_room", "let me back"));
	lc_rooms_has(alice, room, "alice", 2, 3);

	/* Nor does the server take her messages, in either epoch, from her own
	 * key on a session of her own. */
	struct ichan w;
	lc_wc_open(&w, f.port, carol_home, "carol");
	lc_wc_send_expect(&w, room, 3, "carol", 100, CC_ERR_NO_SUCH_ROOM);
	lc_wc_send_expect(&w, room, 2, "carol", 101, CC_ERR_NO_SUCH_ROOM);
	ichan_close(&w);
	assert_true(itest_client_expect_silence(bob, 200));

	/* The stored ciphertext of "secret": nothing carol's device held, before
	 * the kick or after, opens it, with the server's disk besides. */
	size_t len;
	uint8_t *blob = rt_sql_blob(&len, "SELECT hex(blob) FROM messages ORDER BY msg_id DESC"
				    " LIMIT 1");
	struct proto_envelope env;
	assert_int_equal(proto_envelope_decode(blob, len, &env), CC_OK);
	assert_int_equal(env.epoch, 3);
	struct insider in;
	insider_load(&in, carol_copy, "carol");
	assert_int_equal(insider_opens(&in, room, blob, len), 0);
	insider_free(&in);
	insider_load(&in, carol_home, "carol");
	assert_int_equal(insider_opens(&in, room, blob, len), 0);
	insider_free(&in);
	/* The server never had a key of hers for the new epoch to give. */
	assert_int_equal(rt_sql_int("SELECT count(*) FROM room_keys WHERE user = %lld AND"
				    " epoch >= 3", lc_user_id("carol")), 0);
	/* Positive control: bob's device as it was before the message opens it;
	 * as it is now, after reading it, it does not (his chain moved on). */
	insider_load(&in, bob_copy, "bob");
	assert_int_equal(insider_opens(&in, room, blob, len), 1);
	insider_free(&in);
	insider_load(&in, bob_home, "bob");
	assert_int_equal(insider_opens(&in, room, blob, len), 0);
	insider_free(&in);
	free(blob);

	lc_quit_all(c, 3);
	lc_stop(&f);
}

/* ---- 2. admin handover, leave, the room's end ------------------------------------- */

static void test_admin_handover(void **state)
{
	static const char *const nicks[] = {"alice", "bob", "carol", "dave"};
	struct lc_fixture f;
	struct itest_client *c[4];
	char room[RT_ROOM_HEX];
	json_t *ev;
	(void)state;

	lc_start(&f, "handover", 0);
	rt_clients(f.port, f.dir, nicks, 4, c);
	struct itest_client *alice = c[0], *bob = c[1], *carol = c[2], *dave = c[3];
	rt_create_one_by_one(alice, "bob,carol", "Handover", three, room);
	join_all(c, 3, room);

	ev = rt_cmd(alice, "admin_changed", "/admin bob");
	assert_string_equal(itest_json_str(ev, "room"), room);
	assert_string_equal(itest_json_str(ev, "admin"), "bob");
	assert_string_equal(itest_json_str(ev, "by"), "alice");
	json_decref(ev);
	lc_see(bob, "admin_changed", room, "admin", "bob", "by", "alice", NULL);
	lc_see(carol, "admin_changed", room, "admin", "bob", "by", "alice", NULL);
	lc_rooms_has(carol, room, "bob", 3, 2);

	/* alice is an ordinary member now. */
	json_decref(lc_cmd_error(alice, "not_admin", "/add dave"));
	json_decref(lc_cmd_error(alice, "not_admin", "/kick carol"));
	json_decref(lc_cmd_error(alice, "not_admin", "/admin carol"));
	/* And not only her client says so: the server refuses her too. */
	struct ichan w;
	lc_wc_open(&w, f.port, lc_home(&f, "alice"), "alice");
	lc_wc_change_expect(&w, PROTO_ROOM_ADD, room, CC_ERR_NOT_ADMIN);
	lc_wc_change_expect(&w, PROTO_ROOM_KICK, room, CC_ERR_NOT_ADMIN);
	/* (A rekey any member may make: refused for its empty records only.) */
	lc_wc_change_expect(&w, PROTO_ROOM_REKEY, room, CC_ERR_MALFORMED);
	lc_wc_change_expect(&w, PROTO_ROOM_ADMIN, room, CC_ERR_NOT_ADMIN);
	ichan_close(&w);
	lc_rooms_empty(dave);
	/* bob is the admin: he adds dave (epoch 3), then expels him (epoch 4). */
	ev = rt_cmd(bob, "member_added", "/add dave");
	assert_string_equal(itest_json_str(ev, "nick"), "dave");
	assert_string_equal(itest_json_str(ev, "by"), "bob");
	json_decref(ev);
	lc_see(alice, "member_added", room, "nick", "dave", "by", "bob", NULL);
	lc_see(carol, "member_added", room, "nick", "dave", "by", "bob", NULL);
	lc_rooms_has(dave, room, "bob", 4, 3);
	ev = rt_cmd(bob, "member_kicked", "/kick dave");
	assert_string_equal(itest_json_str(ev, "nick"), "dave");
	assert_int_equal(itest_json_int(ev, "epoch", -1), 4);
	json_decref(ev);
	see_kicked(alice, room, "dave", "bob", 4);
	see_kicked(carol, room, "dave", "bob", 4);
	lc_rooms_empty(dave);

	/* Not the admin any more, alice may leave; bob, the admin, online and
	 * in the room, makes the new key by himself. */
	ev = rt_cmd(alice, "left", "/leave %s", room);
	assert_string_equal(itest_json_str(ev, "room"), room);
	json_decref(ev);
	lc_see(bob, "member_left", room, "nick", "alice", NULL);
	see_rekeyed(bob, room, 5, "bob");
	lc_see(carol, "member_left", room, "nick", "alice", NULL);
	see_rekeyed(carol, room, 5, "bob");
	struct itest_client *carol_only[] = {carol};
	say_heard(bob, room, "in epoch five", carol_only, 1);
	assert_int_equal(rt_sql_int("SELECT epoch FROM messages ORDER BY msg_id DESC LIMIT 1"), 5);
	lc_rooms_has(bob, room, "bob", 2, 5);
	lc_rooms_empty(alice);
	json_decref(lc_cmd_error(alice, "no_such_room", "/join %s", room));
	assert_true(itest_client_expect_silence(alice, 200));

	/* The admin may not leave others behind... */
	ev = lc_cmd_error(bob, "must_transfer_admin", "/leave %s", room);
	assert_string_equal(itest_json_str(ev, "room"), room);
	json_decref(ev);
	lc_rooms_has(carol, room, "bob", 2, 5);
	/* ...but the last member may, and the room ends with it. */
	json_decref(rt_cmd(carol, "left", "/leave %s", room));
	lc_see(bob, "member_left", room, "nick", "carol", NULL);
	see_rekeyed(bob, room, 6, "bob");
	json_decref(rt_cmd(bob, "left", "/leave %s", room));
	lc_rooms_empty(bob);
	lc_rooms_empty(carol);
	json_decref(lc_cmd_error(bob, "no_such_room", "/join %s", room));
	assert_int_equal(rt_sql_int("SELECT count(*) FROM rooms"), 0);

	lc_quit_all(c, 4);
	lc_stop(&f);
}

/* ---- 3. a rekey owed while the admin is away ------------------------------------- */

static void test_owed_rekey_offline_admin(void **state)
{
	static const char *const nicks[] = {"bob", "carol", "dave"};
	static const char *const members[] = {"bob", "carol", "dave", NULL};
	struct lc_fixture f;
	struct itest_client *c[3];
	char room[RT_ROOM_HEX];
	(void)state;

	lc_start(&f, "owed", 0);
	rt_clients(f.port, f.dir, nicks, 3, c);
	struct itest_client *bob = c[0], *carol = c[1], *dave = c[2];
	rt_create_one_by_one(bob, "carol,dave", "Owed", members, room);
	join_all(c, 3, room);
	say_heard(bob, room, "epoch two", c + 1, 2);
	rt_quit(bob);

	/* carol leaves: the epoch closes; bob, the admin, is the member who
	 * makes the next one, and dave leaves it to him (he has nothing to
	 * say). */
	json_decref(rt_cmd(carol, "left", "/leave %s", room));
	lc_see(dave, "member_left", room, "nick", "carol", NULL);
	assert_int_equal(rt_sql_int("SELECT rekey_owed FROM rooms"), 1);
	assert_int_equal(rt_sql_int("SELECT closed FROM rooms"), 1);
	assert_true(itest_client_expect_silence(dave, 300));

	/* bob comes back with a command already waiting: the owed key is made
	 * first, before it runs. */
	bob = itest_client_start(f.port, lc_home(&f, "bob"), "bob", NULL);
	assert_non_null(bob);
	assert_int_equal(itest_client_send(bob, "/rooms"), 0);
	lc_see(bob, "registered", NULL, "nick", "bob", NULL);
	see_rekeyed(bob, room, 3, "bob");
	json_t *ev = itest_client_expect(bob, "rooms", ITEST_TIMEOUT_MS);
	assert_non_null(ev);
	json_t *r = rt_rooms_find(json_object_get(ev, "rooms"), room);
	assert_non_null(r);
	assert_int_equal(itest_json_int(r, "epoch", -1), 3);
	assert_int_equal(itest_json_int(r, "members", -1), 2);
	json_decref(ev);
	see_rekeyed(dave, room, 3, "bob");
	assert_int_equal(rt_sql_int("SELECT rekey_owed FROM rooms"), 0);
	assert_int_equal(rt_sql_int("SELECT closed FROM rooms"), 0);
	/* Only the members left have a key of epoch 3: none was wrapped to
	 * carol (dave hears bob below with his). */
	assert_int_equal(rt_sql_int("SELECT count(*) FROM room_keys WHERE epoch = 3 AND user = %lld",
				    lc_user_id("carol")), 0);

	/* dave hears bob in the new epoch. */
	ev = rt_join(bob, room, 0);
	assert_int_equal(itest_json_int(ev, "epoch", -1), 3);
	json_decref(ev);
	struct itest_client *dave_only[] = {dave};
	say_heard(bob, room, "after the rekey", dave_only, 1);
	assert_int_equal(rt_sql_int("SELECT epoch FROM messages ORDER BY msg_id DESC LIMIT 1"), 3);
	assert_true(itest_client_expect_silence(carol, 200));

	c[0] = bob;
	lc_quit_all(c, 3);
	lc_stop(&f);
}

/* ---- 4. nickname expiry ------------------------------------------------------------ */

/* Starts a client from its home (saved nickname), pings, quits: it was seen. */
static void visit(struct lc_fixture *f, const char *nick)
{
	struct itest_client *c = rt_client(f->port, lc_home(f, nick), NULL, nick);
	rt_ping(c);
	lc_quit_seen(f, c, nick);
}

static void test_nick_expiry(void **state)
{
	struct lc_fixture f;
	struct itest_client *c[3];
	char room[RT_ROOM_HEX], old_fp[LC_FP_HEX], new_fp[LC_FP_HEX];
	json_t *ev;
	(void)state;

	lc_start(&f, "expiry", 1);
	rt_clients(f.port, f.dir, three, 3, c);
	rt_create_one_by_one(c[0], "bob,carol", "Expiry", three, room);
	join_all(c, 3, room);
	say_heard(c[0], room, "day one", c + 1, 2);
	lc_user_fp("carol", old_fp);
	lc_quit_all_seen(&f, c, 3);

	/* 23 hours on, everyone but carol drops by: no one is gone yet. */
	lc_clock_hours(&f, 23);
	visit(&f, "alice");
	visit(&f, "bob");
	assert_int_equal(rt_sql_int("SELECT count(*) FROM users"), 3);

	/* 25 hours on, carol has been away over a day. The server frees her
	 * nickname as it starts; when alice (the admin) connects, carol is
	 * signed out of the room and a new key made before anything else. */
	lc_clock_hours(&f, 25);
	lc_restart(&f);
	assert_int_equal(rt_sql_int("SELECT count(*) FROM users WHERE nick_lower = 'carol'"), 0);
	assert_int_equal(rt_sql_int("SELECT rekey_owed FROM rooms"), 1);
	struct itest_client *alice = itest_client_start(f.port, lc_home(&f, "alice"), "alice", NULL);
	assert_non_null(alice);
	lc_see(alice, "registered", NULL, "nick", "alice", NULL);
	lc_see(alice, "member_expired", room, "nick", "carol", "by", "alice", NULL);
	see_rekeyed(alice, room, 3, "alice");
	lc_rooms_has(alice, room, "alice", 2, 3);
	assert_int_equal(rt_sql_int("SELECT count(*) FROM room_gone"), 0);
	assert_int_equal(rt_sql_int("SELECT rekey_owed FROM rooms"), 0);

	struct itest_client *bob = rt_client(f.port, lc_home(&f, "bob"), NULL, "bob");
	ev = rt_join(bob, room, 0);
	static const char *const two[] = {"alice", "bob", NULL};
	assert_true(rt_same_list(json_object_get(ev, "members"), two));
	assert_int_equal(itest_json_int(ev, "epoch", -1), 3);
	json_decref(ev);
	json_decref(rt_join(alice, room, 0));
	struct itest_client *bob_only[] = {bob};
	say_heard(alice, room, "carol is gone", bob_only, 1);

	/* The nickname is free: a new key takes it, and gets nothing of the
	 * old carol's. */
	struct itest_client *carol2 = rt_client(f.port, lc_home(&f, "carol-new"), "carol", "carol");
	lc_user_fp("carol", new_fp);
	assert_string_not_equal(old_fp, new_fp);
	lc_rooms_empty(carol2);
	json_decref(lc_cmd_error(carol2, "no_such_room", "/join %s", room));
	/* The old key no longer owns it. */
	struct itest_client *carol_old = itest_client_start(f.port, lc_home(&f, "carol"), "carol",
								NULL);
	assert_non_null(carol_old);
	ev = itest_client_expect_error(carol_old, "nick_taken", ITEST_TIMEOUT_MS);
	assert_non_null(ev);
	json_decref(ev);
	assert_int_equal(itest_client_wait_exit(carol_old, ITEST_TIMEOUT_MS), 1);

	struct itest_client *all[] = {alice, bob, carol2};
	lc_quit_all(all, 3);
	lc_stop(&f);
}

/* The admin stays away: its successor (the earliest-joined other member)
 * signs it out and takes the role. A member connected all along is never
 * expired, however long ago it connected. */
static void test_admin_expiry(void **state)
{
	struct lc_fixture f;
	struct itest_client *c[3];
	char room[RT_ROOM_HEX];
	(void)state;

	lc_start(&f, "admin-expiry", 1);
	rt_clients(f.port, f.dir, three, 3, c);
	struct itest_client *carol = c[2];
	rt_create_one_by_one(c[0], "bob,carol", "Heirs", three, room);
	join_all(c, 3, room);
	say_heard(c[0], room, "the admin speaks", c + 1, 2);
	lc_quit_seen(&f, c[0], NULL);
	lc_quit_seen(&f, c[1], NULL);

	lc_clock_hours(&f, 23);
	visit(&f, "bob");
	lc_clock_hours(&f, 25);
	/* bob's registration runs the expiry: alice is gone, carol (connected
	 * since hour 0) is not. */
	struct itest_client *bob = itest_client_start(f.port, lc_home(&f, "bob"), "bob", NULL);
	assert_non_null(bob);
	lc_see(bob, "registered", NULL, "nick", "bob", NULL);
	lc_see(bob, "member_expired", room, "nick", "alice", "by", "bob", "admin", "bob", NULL);
	see_rekeyed(bob, room, 3, "bob");
	lc_rooms_has(bob, room, "bob", 2, 3);
	lc_see(carol, "member_expired", room, "nick", "alice", "by", "bob", "admin", "bob", NULL);
	see_rekeyed(carol, room, 3, "bob");
	lc_rooms_has(carol, room, "bob", 2, 3);
	assert_int_equal(rt_sql_int("SELECT count(*) FROM users WHERE nick_lower = 'alice'"), 0);
	assert_int_equal(rt_sql_int("SELECT count(*) FROM users WHERE nick_lower = 'carol'"), 1);

	/* bob is the admin, for the chain too: he talks in the new epoch, and
	 * hands the role on. */
	json_t *ev = rt_join(bob, room, 0);
	assert_string_equal(itest_json_str(ev, "admin"), "bob");
	json_decref(ev);
	struct itest_client *carol_only[] = {carol};
	say_heard(bob, room, "bob runs the room", carol_only, 1);
	json_decref(rt_cmd(bob, "admin_changed", "/admin carol"));
	lc_see(carol, "admin_changed", room, "admin", "carol", "by", "bob", NULL);

	/* A day later still, both connected: another registration runs the
	 * expiry, and takes neither. */
	lc_clock_hours(&f, 50);
	struct itest_client *erin = rt_client(f.port, lc_home(&f, "erin"), "erin", "erin");
	assert_int_equal(rt_sql_int("SELECT count(*) FROM users WHERE nick_lower IN"
				    " ('bob', 'carol', 'erin')"), 3);
	lc_rooms_has(carol, room, "carol", 2, 3);

	struct itest_client *all[] = {bob, carol, erin};
	lc_quit_all(all, 3);
	lc_stop(&f);
}

/* A member leaves, and a day later its nickname expires: its leave record,
 * signed by the key now gone, must still verify for the others, who keep
 * opening the room. */
static void test_expired_leaver(void **state)
{
	static const char *const two[] = {"alice", "bob", NULL};
	struct lc_fixture f;
	struct itest_client *c[3];
	char room[RT_ROOM_HEX];
	(void)state;

	lc_start(&f, "expired-leaver", 1);
	rt_clients(f.port, f.dir, three, 3, c);
	struct itest_client *alice = c[0], *bob = c[1];
	rt_create_one_by_one(alice, "bob,carol", "Leaver", three, room);
	join_all(c, 3, room);
	json_decref(rt_cmd(c[2], "left", "/leave %s", room));
	for (int i = 0; i < 2; i++) {
		lc_see(c[i], "member_left", room, "nick", "carol", NULL);
		see_rekeyed(c[i], room, 3, "alice");
	}
	lc_quit_seen(&f, c[2], NULL);

	/* alice and bob stay connected; carol stays away a day, and the next
	 * registration frees her nickname. */
	lc_clock_hours(&f, 25);
	struct itest_client *erin = rt_client(f.port, lc_home(&f, "erin"), "erin", "erin");
	assert_int_equal(rt_sql_int("SELECT count(*) FROM users WHERE nick_lower = 'carol'"), 0);
	assert_true(itest_client_expect_silence(alice, 200));

	/* The room's history is unchanged: bob opens it again. */
	json_t *ev = rt_join(bob, room, 0);
	assert_true(rt_same_list(json_object_get(ev, "members"), two));
	assert_int_equal(itest_json_int(ev, "epoch", -1), 3);
	json_decref(ev);
	struct itest_client *bob_only[] = {bob};
	say_heard(alice, room, "still readable", bob_only, 1);

	struct itest_client *all[] = {alice, bob, erin};
	lc_quit_all(all, 3);
	lc_stop(&f);
}

/* A member's last words, unread by another when its nickname expires, are
 * still the room's history: shown, verified, at the next join. */
static void test_expired_sender_history(void **state)
{
	struct lc_fixture f;
	struct itest_client *c[3];
	char room[RT_ROOM_HEX];
	(void)state;

	lc_start(&f, "expired-history", 1);
	rt_clients(f.port, f.dir, three, 3, c);
	struct itest_client *alice = c[0];
	rt_create_one_by_one(alice, "bob,carol", "History", three, room);
	join_all(c, 3, room);
	json_decref(rt_cmd(c[1], "disconnected", "/disconnect"));
	lc_quit_seen(&f, c[1], NULL);
	struct rt_sent s = rt_say(c[2], room, "carol's last words", 1);
	rt_expect_msg(alice, room, "carol", "carol's last words", s.seq, s.msg_id);
	lc_quit_seen(&f, c[2], NULL);

	lc_clock_hours(&f, 23);
	visit(&f, "bob");
	lc_clock_hours(&f, 25);
	struct itest_client *bob = rt_client(f.port, lc_home(&f, "bob"), "bob", "bob");
	/* alice (connected all along) signs carol out first. */
	lc_see(alice, "member_expired", room, "nick", "carol", NULL);
	see_rekeyed(alice, room, 3, "alice");
	json_decref(rt_join(bob, room, 1));
	lc_expect_msg(bob, room, "carol", "carol's last words", 1);

	struct itest_client *all[] = {alice, bob};
	lc_quit_all(all, 2);
	lc_stop(&f);
}

/* The admin and its heir (the earliest-joined other member) both stay away:
 * the next member in line, connected, signs both out; the chain hands the
 * role down the line of joining (to bob, then to carol), as the server
 * already did. */
static void test_admin_and_heir_expire(void **state)
{
	struct lc_fixture f;
	struct itest_client *c[3];
	char room[RT_ROOM_HEX];
	(void)state;

	lc_start(&f, "heir-expiry", 1);
	rt_clients(f.port, f.dir, three, 3, c);
	struct itest_client *carol = c[2];
	rt_create_one_by_one(c[0], "bob,carol", "Line of succession", three, room);
	json_decref(rt_join(carol, room, 0));
	lc_quit_seen(&f, c[0], NULL);
	lc_quit_seen(&f, c[1], NULL);

	lc_clock_hours(&f, 25);
	struct itest_client *erin = rt_client(f.port, lc_home(&f, "erin"), "erin", "erin");
	assert_int_equal(rt_sql_int("SELECT count(*) FROM users WHERE nick_lower IN"
				    " ('alice', 'bob')"), 0);
	assert_int_equal(rt_sql_int("SELECT admin_user FROM rooms"), lc_user_id("carol"));
	lc_see(carol, "member_expired", room, "nick", "alice", "by", "carol", "admin", "bob", NULL);
	lc_see(carol, "member_expired", room, "nick", "bob", "by", "carol", "admin", "carol", NULL);
	see_rekeyed(carol, room, 3, "carol");
	lc_rooms_has(carol, room, "carol", 1, 3);

	struct itest_client *all[] = {carol, erin};
	lc_quit_all(all, 2);
	lc_stop(&f);
}

/* ---- 5. a message of an old epoch, slipped back in ----------------------------------- */

static void test_old_epoch_replay(void **state)
{
	static const char *const nicks[] = {"alice", "bob", "carol", "dave"};
	struct lc_fixture f;
	struct itest_client *c[4];
	char room[RT_ROOM_HEX];
	json_t *ev;
	(void)state;

	lc_start(&f, "replay", 0);
	rt_clients(f.port, f.dir, nicks, 4, c);
	struct itest_client *alice = c[0], *bob = c[1], *carol = c[2], *dave = c[3];
	rt_create_one_by_one(alice, "bob,carol", "Replay", three, room);
	join_all(c, 3, room);
	struct itest_client *bc[] = {bob, carol}, *ab[] = {alice, bob};
	say_heard(alice, room, "old from alice", bc, 2);                 /* msg 1 */
	struct rt_sent s = rt_say(carol, room, "old from carol", 1);      /* msg 2 */
	for (int i = 0; i < 2; i++)
		rt_expect_msg(ab[i], room, "carol", "old from carol", s.seq, s.msg_id);

	json_decref(rt_cmd(alice, "member_kicked", "/kick carol"));
	see_kicked(bob, room, "carol", "alice", 3);
	lc_see(carol, "expelled", room, "by", "alice", NULL);
	json_decref(rt_cmd(alice, "member_added", "/add dave"));
	lc_see(bob, "member_added", room, "nick", "dave", "by", "alice", NULL);
	json_decref(rt_join(dave, room, 0));
	struct itest_client *bd[] = {bob, dave};
	say_heard(alice, room, "new from alice", bd, 2);                  /* msg 3 */
	for (int i = 0; i < 2; i++)
		json_decref(rt_cmd(bd[i], "disconnected", "/disconnect"));

	/* The server (or whoever holds its disk) stores both epoch-2 envelopes
	 * again as new messages. */
	long long r = lc_room_row(room);
	char *out = rt_sql("INSERT INTO messages(room, msg_id, sender, epoch, ts_ms, blob)"
			   " SELECT room, msg_id + 3, sender, epoch, ts_ms, blob FROM messages"
			   " WHERE room = %lld AND msg_id IN (1, 2);"
			   "UPDATE rooms SET last_msg_id = 5 WHERE id = %lld", r, r);
	free(out);

	/* Epoch 2 ended with carol's kick, before they were stored: bob (who
	 * has its key, and saw both) and dave (who joined in epoch 4 and has
	 * none) refuse them alike. Neither is ever shown. */
	ev = rt_join(bob, room, 2);
	json_decref(ev);
	json_decref(rt_expect_room_error(bob, "stale_epoch", room, "alice"));
	json_decref(rt_expect_room_error(bob, "stale_epoch", room, "carol"));
	ev = rt_join(dave, room, 2);
	json_decref(ev);
	json_decref(rt_expect_room_error(dave, "stale_epoch", room, "alice"));
	json_decref(rt_expect_room_error(dave, "stale_epoch", room, "carol"));

	/* And the room goes on. */
	say_heard(alice, room, "still here", bd, 2);
	assert_true(itest_client_expect_silence(carol, 200));
	lc_quit_all(c, 4);
	lc_stop(&f);
}

/* ---- periodic rekeying (--rekey-after) ------------------------------------------------ */

static void test_periodic_rekey(void **state)
{
	static const char *const members[] = {"alice", "bob", NULL};
	static const char *const every3[] = {"--rekey-after", "3", NULL};
	struct lc_fixture f;
	char room[RT_ROOM_HEX];
	(void)state;

	lc_start(&f, "periodic", 0);
	struct itest_client *alice = itest_client_start(f.port, lc_home(&f, "alice"), "alice",
							 every3);
	struct itest_client *bob = itest_client_start(f.port, lc_home(&f, "bob"), "bob", NULL);
	assert_non_null(alice);
	assert_non_null(bob);
	lc_see(alice, "registered", NULL, "nick", "alice", NULL);
	lc_see(bob, "registered", NULL, "nick", "bob", NULL);
	rt_create(alice, "bob", "Periodic", members, room);
	json_decref(rt_join(alice, room, 0));
	json_decref(rt_join(bob, room, 0));
	struct itest_client *to_bob[] = {bob};
	say_heard(alice, room, "one", to_bob, 1);
	say_heard(alice, room, "two", to_bob, 1);
	assert_int_equal(rt_sql_int("SELECT epoch FROM rooms"), 1);
	/* The third message makes the admin's client start epoch 2 by itself. */
	say_heard(alice, room, "three", to_bob, 1);
	see_rekeyed(alice, room, 2, "alice");
	see_rekeyed(bob, room, 2, "alice");
	assert_int_equal(rt_sql_int("SELECT epoch FROM rooms"), 2);
	say_heard(alice, room, "four, under the new key", to_bob, 1);
	assert_int_equal(rt_sql_int("SELECT epoch FROM messages ORDER BY msg_id DESC LIMIT 1"), 2);
	struct itest_client *both[] = {alice, bob};
	lc_quit_all(both, 2);
	lc_stop(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_kick, lc_teardown),
		cmocka_unit_test_teardown(test_admin_handover, lc_teardown),
		cmocka_unit_test_teardown(test_owed_rekey_offline_admin, lc_teardown),
		cmocka_unit_test_teardown(test_nick_expiry, lc_teardown),
		cmocka_unit_test_teardown(test_admin_expiry, lc_teardown),
		cmocka_unit_test_teardown(test_expired_leaver, lc_teardown),
		cmocka_unit_test_teardown(test_expired_sender_history, lc_teardown),
		cmocka_unit_test_teardown(test_admin_and_heir_expire, lc_teardown),
		cmocka_unit_test_teardown(test_old_epoch_replay, lc_teardown),
		cmocka_unit_test_teardown(test_periodic_rekey, lc_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
