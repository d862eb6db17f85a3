/* Moving to a new identity key (/rotate-key, issue 8 property 5), end to
 * end with real clients and a real server:
 *
 *   1. alice moves: the server knows her by the new key and refuses the old
 *      one for good; each of her rooms gets a MOVE signed by the old key,
 *      those she hears live and those she does not; bob, who had verified
 *      her, sees "moved to a new key, signed by the old one" and she stays
 *      verified; carol, who had only pinned her, sees the same without the
 *      verification; dave, away during the move, learns it when he comes
 *      back; her old key file goes once every room names the new one.
 *   2. The old key is worthless after the move: a copy of alice's device
 *      taken before it (the thief), working with a hostile server, makes
 *      bob show a line as alice's before the move (the control: the attack
 *      was real) and nothing after it, in the new epoch or the old one; it
 *      cannot log in either.
 *   3. The server cannot move anyone: a MOVE of alice to a key the server
 *      chose, not signed by her, is refused by bob, and his pin stays.
 *   4. A crash between the server taking the move and the client putting
 *      the new key in place: the next start asks the server with the old
 *      key, hears "revoked", and finishes the move. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crypto/crypto.h"
#include "e2e/e2e.h"
#include "proto/msg.h"
#include "proto/room.h"
#include "support/hostile.h"
#include "support/itest.h"
#include "support/itest_insider.h"
#include "support/itest_lifecycle.h"
#include "support/itest_rooms.h"
#include "util/buf.h"

static struct hostile *proxy;

static int rot_teardown(void **state)
{
	hostile_stop(proxy);
	proxy = NULL;
	return lc_teardown(state);
}

static struct itest_client *start_client(struct lc_fixture *f, const char *nick, int port)
{
	struct itest_client *c = itest_client_start(port ? port : f->port, lc_home(f, nick),
						    nick, NULL);
	assert_non_null(c);
	lc_see(c, "registered", NULL, "nick", nick, NULL);
	return c;
}

/* 1 once FILE exists in HOME (WANT 1) or is gone (WANT 0), within the
 * timeout; each look pings the client C so that its work goes on. */
static int home_file_becomes(struct itest_client *c, const char *home, const char *file, int want)
{
	for (int i = 0; i < 100; i++) {
		if ((access(itest_path(home, file), F_OK) == 0) == want)
			return 1;
		rt_ping(c);
		usleep(50 * 1000);
	}
	return 0;
}

/* ---- 1. the move, end to end ------------------------------------------------------ */

static void test_rotate_end_to_end(void **state)
{
	static const char *const abc[] = {"alice", "bob", "carol", NULL};
	static const char *const ad[] = {"alice", "dave", NULL};
	struct lc_fixture f;
	struct itest_client *alice, *bob, *carol, *dave;
	char room[RT_ROOM_HEX], room2[RT_ROOM_HEX];
	char old_fp[LC_FP_HEX], new_fp[LC_FP_HEX], seen[LC_FP_HEX];
	(void)state;

	lc_start(&f, "rotate", 0);
	alice = start_client(&f, "alice", 0);
	bob = start_client(&f, "bob", 0);
	carol = start_client(&f, "carol", 0);
	dave = start_client(&f, "dave", 0);
	rt_create(alice, "bob,carol", "Plans", abc, room);
	rt_create(alice, "dave", "Quiet", ad, room2);
	json_decref(rt_join(alice, room, 0));
	json_decref(rt_join(bob, room, 0));
	json_decref(rt_join(carol, room, 0));
	json_decref(rt_join(dave, room2, 0));
	/* bob compares alice's key; carol only pins it. */
	lc_fingerprint(alice, NULL, old_fp);
	lc_fingerprint(bob, "alice", seen);
	assert_string_equal(seen, old_fp);
	json_decref(rt_cmd(bob, "verified", "/verify alice"));
	struct rt_sent s0 = rt_say(alice, room, "before the move", 0);
	rt_expect_msg(bob, room, "alice", "before the move", s0.seq, s0.msg_id);
	rt_expect_msg(carol, room, "alice", "before the move", s0.seq, s0.msg_id);
	lc_quit_seen(&f, dave, "dave");  /* away during the move */
	const char *before = lc_home_copy(&f, "alice", "alice-before");

	json_t *ev = rt_cmd(alice, "key_rotated", "/rotate-key");
	assert_string_equal(itest_json_str(ev, "old"), old_fp);
	memcpy(new_fp, itest_json_str(ev, "new"), LC_FP_HEX);
	assert_string_not_equal(new_fp, old_fp);
	json_decref(ev);
	/* The server closes the old key's session; the new key connects, and
	 * both rooms learn it: the one she hears (rejoined) and the other (the
	 * sweep), in either order. */
	json_decref(itest_client_wait_for(alice, "reconnected", ITEST_TIMEOUT_MS));
	int moved[2] = {0, 0};
	for (int i = 0; i < 2; i++) {
		ev = itest_client_wait_for(alice, "rekeyed", ITEST_TIMEOUT_MS);
		assert_non_null(ev);
		assert_string_equal(itest_json_str(ev, "by"), "alice");
		const char *which = itest_json_str(ev, "room");
		moved[0] |= strcmp(which, room) == 0;
		moved[1] |= strcmp(which, room2) == 0;
		json_decref(ev);
	}
	assert_true(moved[0] && moved[1]);

	ev = lc_expect(bob, "key_moved", room, "nick", "alice", NULL);
	assert_string_equal(itest_json_str(ev, "old"), old_fp);
	assert_string_equal(itest_json_str(ev, "new"), new_fp);
	assert_true(json_is_true(json_object_get(ev, "trusted")));
	assert_true(json_is_true(json_object_get(ev, "verified")));
	json_decref(ev);
	lc_see(bob, "rekeyed", room, "by", "alice", NULL);
	ev = lc_expect(carol, "key_moved", room, "nick", "alice", NULL);
	assert_true(json_is_true(json_object_get(ev, "trusted")));
	assert_false(json_is_true(json_object_get(ev, "verified")));
	json_decref(ev);
	lc_see(carol, "rekeyed", room, "by", "alice", NULL);

	/* What she says now is hers, verified for bob, with no key_changed. */
	struct rt_sent s1 = rt_say(alice, room, "after the move", 0);
	rt_expect_msg(bob, room, "alice", "after the move", s1.seq, s1.msg_id);
	rt_expect_msg(carol, room, "alice", "after the move", s1.seq, s1.msg_id);
	ev = rt_cmd(bob, "fingerprint", "/fingerprint alice");
	assert_string_equal(itest_json_str(ev, "fingerprint"), new_fp);
	assert_true(json_is_true(json_object_get(ev, "verified")));
	json_decref(ev);
	lc_fingerprint(alice, NULL, seen);
	assert_string_equal(seen, new_fp);

	/* Every room names the new key: the old key file goes. */
	assert_true(home_file_becomes(alice, lc_home(&f, "alice"), "identity.old.pem", 0));
	assert_false(access(itest_path(lc_home(&f, "alice"), "identity.next.pem"), F_OK) == 0);

	/* dave comes back: he learns the move from the room's history. */
	dave = itest_client_start(f.port, lc_home(&f, "dave"), NULL, NULL);
	assert_non_null(dave);
	lc_see(dave, "registered", NULL, "nick", "dave", NULL);
	assert_int_equal(itest_client_sendf(dave, "/join %s", room2), 0);
	ev = lc_expect(dave, "key_moved", room2, "nick", "alice", NULL);
	assert_string_equal(itest_json_str(ev, "new"), new_fp);
	json_decref(ev);
	lc_see(dave, "joined", room2, NULL);
	json_decref(rt_join(alice, room2, 0));
	struct rt_sent s2 = rt_say(alice, room2, "still me", 0);
	rt_expect_msg(dave, room2, "alice", "still me", s2.seq, s2.msg_id);

	/* The old key is refused for good, whatever the nickname. */
	struct itest_client *ghost = itest_client_start(f.port, before, NULL, NULL);
	assert_non_null(ghost);
	ev = itest_client_expect(ghost, "error", ITEST_TIMEOUT_MS);
	assert_non_null(ev);
	assert_string_equal(itest_json_str(ev, "code"), "revoked");
	json_decref(ev);
	assert_int_equal(itest_client_wait_exit(ghost, ITEST_TIMEOUT_MS), 1);

	struct itest_client *all[] = {alice, bob, carol, dave};
	lc_quit_all(all, 4);
	lc_stop(&f);
}

/* ---- 2. the old key after the move -------------------------------------------------- */

/* Sends ENV to NICK's client as a ROOM_MSG of ROOM with MSG_ID. */
static void inject_msg(const char *nick, const char *room, uint64_t msg_id, const struct buf *env)
{
	struct proto_msg m = {.type = PROTO_ROOM_MSG};
	assert_int_equal(hex_decode(room, m.u.room_msg.room_id, PROTO_ROOM_ID_LEN), CC_OK);
	m.u.room_msg.msg_id = msg_id;
	m.u.room_msg.envelope = (struct proto_bytes){env->data, env->len};
	assert_int_equal(hostile_inject(proxy, nick, HOSTILE_TO_CLIENT, &m), 1);
}

static uint32_t room_epoch(const char *room)
{
	return (uint32_t)rt_sql_int("SELECT epoch FROM rooms WHERE room_id = X'%s'", room);
}

static void test_old_key_worthless(void **state)
{
	static const char *const ab[] = {"alice", "bob", NULL};
	struct lc_fixture f;
	char room[RT_ROOM_HEX];
	struct insider thief;
	struct buf env;
	uint8_t key[32];
	(void)state;

	lc_start(&f, "rotate-thief", 0);
	proxy = hostile_start(f.port, f.data, f.dir);
	assert_non_null(proxy);
	struct itest_client *alice = start_client(&f, "alice", 0);
	struct itest_client *bob = start_client(&f, "bob", hostile_port(proxy));
	rt_create(alice, "bob", "Ours", ab, room);
	json_decref(rt_join(alice, room, 0));
	json_decref(rt_join(bob, room, 0));
	struct rt_sent s0 = rt_say(alice, room, "hello", 0);
	rt_expect_msg(bob, room, "alice", "hello", s0.seq, s0.msg_id);

	/* The thief copies alice's device. Control: with it, a line of "alice"
	 * in the current epoch is shown to bob as hers. */
	const char *stolen = lc_home_copy(&f, "alice", "alice-stolen");
	rt_db_use(itest_path(f.data, "cryptocat.db"), f.dir);
	insider_load(&thief, stolen, "alice");
	uint32_t e0 = room_epoch(room);
	uint32_t head = insider_record_count(room) - 1;
	buf_init(&env, PROTO_ENVELOPE_MAX);
	assert_int_equal(insider_own_key(&thief, room, e0, 2, key), 0);
	insider_envelope(&thief, room, e0, key, head, NULL, 2, "forged while it counts", 22, &env);
	inject_msg("bob", room, 100, &env);
	rt_expect_msg(bob, room, "alice", "forged while it counts", 2, 100);

	/* alice moves; bob learns it. */
	json_decref(rt_cmd(alice, "key_rotated", "/rotate-key"));
	json_decref(itest_client_wait_for(alice, "rekeyed", ITEST_TIMEOUT_MS));
	lc_see(bob, "key_moved", room, "nick", "alice", NULL);
	lc_see(bob, "rekeyed", room, "by", "alice", NULL);
	uint32_t e1 = room_epoch(room);
	assert_true(e1 > e0);

	/* In the new epoch: the old key's signature is not alice's any more. */
	head = insider_record_count(room) - 1;
	memset(key, 7, sizeof key);
	insider_envelope(&thief, room, e1, key, head, NULL, 1, "forged after the move", 21, &env);
	inject_msg("bob", room, 200, &env);
	json_t *ev = rt_expect_room_error(bob, "forged", room, "alice");
	json_decref(ev);
	/* In the old epoch: it ended with the move. */
	assert_int_equal(insider_own_key(&thief, room, e0, 3, key), 0);
	insider_envelope(&thief, room, e0, key, insider_epoch_open_seq(room, e0), NULL, 3,
			 "forged in the old epoch", 23, &env);
	inject_msg("bob", room, 300, &env);
	json_decref(rt_expect_room_error(bob, "stale_epoch", room, "alice"));
	/* alice's own lines still come through. */
	struct rt_sent s1 = rt_say(alice, room, "the real me", 0);
	rt_expect_msg(bob, room, "alice", "the real me", s1.seq, s1.msg_id);

	/* Nor can the thief log in with it. */
	struct itest_client *ghost = itest_client_start(f.port, stolen, NULL, NULL);
	assert_non_null(ghost);
	ev = itest_client_expect(ghost, "error", ITEST_TIMEOUT_MS);
	assert_string_equal(itest_json_str(ev, "code"), "revoked");
	json_decref(ev);
	assert_int_equal(itest_client_wait_exit(ghost, ITEST_TIMEOUT_MS), 1);

	buf_free(&env);
	insider_free(&thief);
	struct itest_client *all[] = {alice, bob};
	lc_quit_all(all, 2);
	hostile_stop(proxy);
	proxy = NULL;
	lc_stop(&f);
}

/* ---- 3. the server cannot move anyone ------------------------------------------------ */

static void test_server_cannot_move(void **state)
{
	static const char *const ab[] = {"alice", "bob", NULL};
	struct lc_fixture f;
	char room[RT_ROOM_HEX], before[LC_FP_HEX], after[LC_FP_HEX];
	struct insider mallory;
	struct buf rec;
	(void)state;

	lc_start(&f, "rotate-forged", 0);
	proxy = hostile_start(f.port, f.data, f.dir);
	assert_non_null(proxy);
	struct itest_client *alice = start_client(&f, "alice", 0);
	struct itest_client *bob = start_client(&f, "bob", hostile_port(proxy));
	struct itest_client *mal = start_client(&f, "mallory", 0);
	rt_quit(mal);
	rt_create(alice, "bob", "Ours", ab, room);
	json_decref(rt_join(alice, room, 0));
	json_decref(rt_join(bob, room, 0));
	lc_fingerprint(bob, "alice", before);

	/* The server's MOVE of alice to mallory's key: alice named as its
	 * actor, as the rule wants, but signed by mallory (the server has no
	 * key of alice's to sign with). */
	rt_db_use(itest_path(f.data, "cryptocat.db"), f.dir);
	insider_load(&mallory, lc_home(&f, "mallory"), "mallory");
	uint32_t seq = insider_record_count(room);
	struct proto_record r = {0};
	size_t prev_len;
	free(insider_record_get(room, seq - 1, &prev_len, r.prev_hash));
	r.version = PROTO_RECORD_VERSION;
	assert_int_equal(hex_decode(room, r.room_id, sizeof r.room_id), CC_OK);
	r.seq = seq;
	r.action = PROTO_REC_MOVE;
	char alice_fp[LC_FP_HEX];
	lc_user_fp("alice", alice_fp);
	assert_int_equal(hex_decode(alice_fp, r.actor_fp, sizeof r.actor_fp), CC_OK);
	r.actor = proto_bytes_str("alice");
	r.subject = proto_bytes_str("alice");
	memcpy(r.subject_fp, mallory.fp, sizeof r.subject_fp);
	r.epoch = room_epoch(room) + 1;
	memset(r.key_commit, 0x42, sizeof r.key_commit);
	r.time_ms = 1;
	buf_init(&rec, PROTO_RECORD_MAX);
	assert_int_equal(e2e_record_sign(mallory.identity, &r, &rec), CC_OK);

	struct proto_msg m = {.type = PROTO_ROOM_RECORD};
	assert_int_equal(hex_decode(room, m.u.room_record.room_id, PROTO_ROOM_ID_LEN), CC_OK);
	m.u.room_record.position = 1;
	m.u.room_record.record = (struct proto_bytes){rec.data, rec.len};
	assert_int_equal(hostile_inject(proxy, "bob", HOSTILE_TO_CLIENT, &m), 1);
	json_decref(rt_expect_room_error(bob, "security", room, NULL));
	/* No key_moved, and alice's pin is where it was. */
	lc_fingerprint(bob, "alice", after);
	assert_string_equal(after, before);
	struct rt_sent s = rt_say(alice, room, "unmoved", 0);
	rt_expect_msg(bob, room, "alice", "unmoved", s.seq, s.msg_id);

	buf_free(&rec);
	insider_free(&mallory);
	struct itest_client *all[] = {alice, bob};
	lc_quit_all(all, 2);
	hostile_stop(proxy);
	proxy = NULL;
	lc_stop(&f);
}

/* ---- 4. a crash in the middle of a move ---------------------------------------------- */

static void test_move_finished_after_crash(void **state)
{
	static const char *const ab[] = {"alice", "bob", NULL};
	struct lc_fixture f;
	char room[RT_ROOM_HEX], old_fp[LC_FP_HEX], new_fp[LC_FP_HEX];
	(void)state;

	lc_start(&f, "rotate-crash", 0);
	struct itest_client *alice = start_client(&f, "alice", 0);
	struct itest_client *bob = start_client(&f, "bob", 0);
	rt_create(alice, "bob", "Ours", ab, room);
	json_decref(rt_join(bob, room, 0));
	lc_fingerprint(alice, NULL, old_fp);
	const char *home = lc_home(&f, "alice");
	/* The home as a crash right after the server's OK leaves it: the new
	 * key next to the old, the server already moved. Made by moving, then
	 * putting the files back as they were between the two steps. */
	json_t *ev = rt_cmd(alice, "key_rotated", "/rotate-key");
	memcpy(new_fp, itest_json_str(ev, "new"), LC_FP_HEX);
	json_decref(ev);
	itest_client_kill(alice);  /* before it reconnects (a second's backoff) */
	char cmd[8192];
	snprintf(cmd, sizeof cmd, "cd '%s' && mv identity.pem identity.next.pem && "
		 "mv identity.old.pem identity.pem", home);
	assert_int_equal(system(cmd), 0);

	alice = itest_client_start(f.port, home, NULL, NULL);
	assert_non_null(alice);
	ev = lc_expect(alice, "key_rotated", NULL, NULL);
	assert_string_equal(itest_json_str(ev, "old"), old_fp);
	assert_string_equal(itest_json_str(ev, "new"), new_fp);
	json_decref(ev);
	lc_see(alice, "registered", NULL, "nick", "alice", NULL);
	/* And the room learns it, as after any move. */
	lc_see(alice, "rekeyed", room, "by", "alice", NULL);
	lc_see(bob, "key_moved", room, "nick", "alice", NULL);
	lc_see(bob, "rekeyed", room, "by", "alice", NULL);
	char now[LC_FP_HEX];
	lc_fingerprint(alice, NULL, now);
	assert_string_equal(now, new_fp);
	assert_true(home_file_becomes(alice, home, "identity.old.pem", 0));

	struct itest_client *all[] = {alice, bob};
	lc_quit_all(all, 2);
	lc_stop(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_rotate_end_to_end, rot_teardown),
		cmocka_unit_test_teardown(test_old_key_worthless, rot_teardown),
		cmocka_unit_test_teardown(test_server_cannot_move, rot_teardown),
		cmocka_unit_test_teardown(test_move_finished_after_crash, rot_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
