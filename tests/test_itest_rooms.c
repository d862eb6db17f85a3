/* Integration tests of rooms: a real cryptocat-server and real batch clients
 * (and, for what a well-behaved client never sends, an in-process client on
 * the chan API) on 127.0.0.1.
 *
 * What is proved end to end: the original program's whole workflow (create,
 * list, join, talk, add, disconnect, rejoin with the backlog); that messages
 * the server acknowledged survive a clean stop and a crash, and that
 * restarted clients carry on (keys, sequence numbers, no duplicates); that
 * only members see or touch a room, with one answer for "not a member" and
 * "no such room"; and that the server itself refuses non-members' and forged
 * senders' messages, oversized text, non-admins' adds and an admin's early
 * leave, whatever the client does, and that a refused request has no side
 * effect. */
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
#include "support/itest.h"
#include "support/itest_chan.h"
#include "support/itest_rooms.h"
#include "util/buf.h"

static const char *const three[] = {"alice", "bob", "carol", NULL};

/* ---- checks (the server: rt_start, itest_rooms.h) ------------------------ */

/* One entry of a /rooms listing, checked. A title shows only once the
 * client has checked the room's key (the creator, or a member who joined
 * once): title NULL means none yet, and the entry unverified. */
static void check_listing(json_t *rooms, const char *room, const char *title, const char *admin,
			  int members, int unread, int epoch)
{
	json_t *r = rt_rooms_find(rooms, room);
	assert_non_null(r);
	assert_string_equal(itest_json_str(r, "title"), title ? title : "");
	assert_int_equal(json_is_true(json_object_get(r, "verified")), title != NULL);
	assert_string_equal(itest_json_str(r, "admin"), admin);
	assert_int_equal(itest_json_int(r, "members", -1), members);
	assert_int_equal(itest_json_int(r, "epoch", -1), epoch);
	if (unread >= 0)
		assert_int_equal(itest_json_int(r, "unread", -1), unread);
}

static void expect_rooms_empty(struct itest_client *c)
{
	json_t *rooms = rt_rooms(c);
	assert_int_equal(json_array_size(rooms), 0);
	json_decref(rooms);
}

/* ---- 1. the original's workflow -------------------------------------------- */

static void test_workflow(void **state)
{
	static const char *const nicks[] = {"alice", "bob", "carol", "dave"};
	static const char *const four[] = {"alice", "bob", "carol", "dave", NULL};
	static const char title[] = "Plans f\xc3\xbcr Freitag";
	struct rt_fixture f;
	struct itest_client *c[4];
	char room[RT_ROOM_HEX];
	struct rt_sent s;
	json_t *ev, *rooms;
	(void)state;

	rt_start(&f, "workflow", 0);
	rt_clients(f.port, f.dir, nicks, 4, c);
	struct itest_client *alice = c[0], *bob = c[1], *carol = c[2], *dave = c[3];

	rt_create(alice, "bob,carol", title, three, room);
	/* Each member lists it; only its creator has checked its key yet, and
	 * reads its title (both adds are one record, one epoch: 1); dave is not
	 * in it. */
	for (int i = 0; i < 3; i++) {
		rooms = rt_rooms(c[i]);
		assert_int_equal(json_array_size(rooms), 1);
		check_listing(rooms, room, i == 0 ? title : NULL, "alice", 3, 0, 1);
		json_decref(rooms);
	}
	expect_rooms_empty(dave);

	for (int i = 0; i < 3; i++) {
		ev = rt_join(c[i], room, 0);
		assert_string_equal(itest_json_str(ev, "title"), title);
		assert_string_equal(itest_json_str(ev, "admin"), "alice");
		assert_true(rt_same_list(json_object_get(ev, "members"), three));
		assert_int_equal(itest_json_int(ev, "epoch", -1), 1);
		json_decref(ev);
	}
	rooms = rt_rooms(bob);
	check_listing(rooms, room, title, "alice", 3, 0, 1);
	json_decref(rooms);

	/* alice talks (a plain line: the current room), the others hear her. */
	s = rt_say(alice, room, "hello from alice", 1);
	assert_int_equal(s.seq, 1);
	assert_int_equal(s.msg_id, 1);
	rt_expect_msg(bob, room, "alice", "hello from alice", 1, 1);
	rt_expect_msg(carol, room, "alice", "hello from alice", 1, 1);
	/* bob answers with /say; his sequence numbers are his own. */
	s = rt_say(bob, room, "hi alice, bob here \xe2\x9c\x93", 0);
	assert_int_equal(s.seq, 1);
	assert_int_equal(s.msg_id, 2);
	rt_expect_msg(alice, room, "bob", "hi alice, bob here \xe2\x9c\x93", 1, 2);
	rt_expect_msg(carol, room, "bob", "hi alice, bob here \xe2\x9c\x93", 1, 2);

	/* alice adds dave: she and the joined members are told, and the room
	 * has a new epoch (2), whose key dave gets and nobody's older one. */
	ev = rt_cmd(alice, "member_added", "/add dave");
	assert_string_equal(itest_json_str(ev, "room"), room);
	assert_string_equal(itest_json_str(ev, "nick"), "dave");
	assert_string_equal(itest_json_str(ev, "by"), "alice");
	assert_int_equal(itest_json_int(ev, "epoch", -1), 2);
	json_decref(ev);
	for (int i = 1; i < 3; i++) {
		ev = itest_client_expect(c[i], "member_added", ITEST_TIMEOUT_MS);
		assert_non_null(ev);
		assert_string_equal(itest_json_str(ev, "room"), room);
		assert_string_equal(itest_json_str(ev, "nick"), "dave");
		assert_string_equal(itest_json_str(ev, "by"), "alice");
		assert_int_equal(itest_json_int(ev, "epoch", -1), 2);
		json_decref(ev);
	}

	/* dave's history starts when he was added; numbers count per epoch. */
	s = rt_say(alice, room, "welcome dave", 1);
	assert_int_equal(s.seq, 1);
	assert_int_equal(s.msg_id, 3);
	rt_expect_msg(bob, room, "alice", "welcome dave", 1, 3);
	rt_expect_msg(carol, room, "alice", "welcome dave", 1, 3);
	rooms = rt_rooms(dave);
	assert_int_equal(json_array_size(rooms), 1);
	check_listing(rooms, room, NULL, "alice", 4, 1, 2);
	json_decref(rooms);
	ev = rt_join(dave, room, 1);
	assert_string_equal(itest_json_str(ev, "title"), title);
	assert_true(rt_same_list(json_object_get(ev, "members"), four));
	json_decref(ev);
	rt_expect_msg(dave, room, "alice", "welcome dave", 1, 3);

	/* Live for all four now. */
	s = rt_say(carol, room, "hi dave", 0);
	assert_int_equal(s.msg_id, 4);
	rt_expect_msg(alice, room, "carol", "hi dave", 1, 4);
	rt_expect_msg(bob, room, "carol", "hi dave", 1, 4);
	rt_expect_msg(dave, room, "carol", "hi dave", 1, 4);

	/* bob disconnects: still a member, hearing nothing live. */
	ev = rt_cmd(bob, "disconnected", "/disconnect");
	assert_string_equal(itest_json_str(ev, "room"), room);
	json_decref(ev);
	static const char *const out[] = {"while you were out: one", "while you were out: two"};
	for (int i = 0; i < 2; i++) {
		s = rt_say(alice, room, out[i], 1);
		assert_int_equal(s.msg_id, 5 + i);
		rt_expect_msg(carol, room, "alice", out[i], 2 + i, 5 + i);
		rt_expect_msg(dave, room, "alice", out[i], 2 + i, 5 + i);
	}
	rooms = rt_rooms(bob);
	check_listing(rooms, room, title, "alice", 4, 2, 2);
	json_decref(rooms);
	/* Rejoining: exactly the two he missed, in order (the next event after
	 * "disconnected" is "joined": nothing leaked while he was away). */
	json_decref(rt_join(bob, room, 2));
	rt_expect_msg(bob, room, "alice", out[0], 2, 5);
	rt_expect_msg(bob, room, "alice", out[1], 3, 6);
	/* And live again. */
	s = rt_say(alice, room, "live again", 1);
	assert_int_equal(s.msg_id, 7);
	for (int i = 1; i < 4; i++)
		rt_expect_msg(c[i], room, "alice", "live again", 4, 7);

	/* No one heard an echo of their own messages, nor anything else. */
	for (int i = 0; i < 4; i++) {
		rt_ping(c[i]);
		rt_quit(c[i]);
	}
	rt_stop(&f);
}

/* ---- 2. persistence ------------------------------------------------------------ */

/* Restarts the server on its port and data, and the three clients from their
 * homes with their saved nicknames. */
static void restart_all(struct rt_fixture *f, struct itest_client **c, const char *const *homes)
{
	f->srv = itest_server_start_on(f->data, f->port, rt_server_args);
	assert_non_null(f->srv);
	for (int i = 0; i < 3; i++)
		c[i] = rt_client(f->port, homes[i], NULL, three[i]);
}

static void test_persistence(void **state)
{
	struct rt_fixture f;
	struct itest_client *c[3];
	const char *homes[3];
	char room[RT_ROOM_HEX];
	struct rt_sent s;
	json_t *rooms;
	(void)state;

	rt_start(&f, "persist", 0);
	rt_clients(f.port, f.dir, three, 3, c);
	for (int i = 0; i < 3; i++)
		homes[i] = itest_path(f.dir, three[i]);
	rt_create(c[0], "bob,carol", "Kept", three, room);
	for (int i = 0; i < 3; i++)
		json_decref(rt_join(c[i], room, 0));
	s = rt_say(c[0], room, "one", 1);
	rt_expect_msg(c[1], room, "alice", "one", 1, 1);
	rt_expect_msg(c[2], room, "alice", "one", 1, 1);
	json_decref(rt_cmd(c[2], "disconnected", "/disconnect"));
	s = rt_say(c[0], room, "two", 1);
	assert_int_equal(s.seq, 2);
	rt_expect_msg(c[1], room, "alice", "two", 2, 2);
	s = rt_say(c[1], room, "three", 1);
	assert_int_equal(s.seq, 1);
	rt_expect_msg(c[0], room, "bob", "three", 1, 3);

	/* A clean stop mid-conversation: every client notices (and would try
	 * again by itself); they quit, to come back from their homes. */
	rt_stop(&f);
	for (int i = 0; i < 3; i++)
		rt_lost_quit(c[i]);
	restart_all(&f, c, homes);

	/* carol had read neither "two" nor "three": both wait for her. */
	rooms = rt_rooms(c[2]);
	check_listing(rooms, room, "Kept", "alice", 3, 2, 1);
	json_decref(rooms);
	json_decref(rt_join(c[2], room, 2));
	rt_expect_msg(c[2], room, "alice", "two", 2, 2);
	rt_expect_msg(c[2], room, "bob", "three", 1, 3);
	/* alice and bob had heard everything: nothing is shown again. */
	json_decref(rt_join(c[0], room, -1));
	json_decref(rt_join(c[1], room, -1));
	/* Sequence numbers go on from the homes; the next event anyone sees is
	 * the new message (a duplicate would come first). */
	s = rt_say(c[0], room, "four, after the restart", 1);
	assert_int_equal(s.seq, 3);
	assert_int_equal(s.msg_id, 4);
	rt_expect_msg(c[1], room, "alice", "four, after the restart", 3, 4);
	rt_expect_msg(c[2], room, "alice", "four, after the restart", 3, 4);
	s = rt_say(c[1], room, "five", 1);
	assert_int_equal(s.seq, 2);
	rt_expect_msg(c[0], room, "bob", "five", 2, 5);
	rt_expect_msg(c[2], room, "bob", "five", 2, 5);

	for (int i = 0; i < 3; i++) {
		rt_ping(c[i]);
		rt_quit(c[i]);
	}
	rt_stop(&f);
}

/* A crash (SIGKILL): no goodbye, so the server's read marks lag behind what
 * the live clients saw, and it hands them those messages again. What it
 * acknowledged is all there, and no client shows anything twice: neither
 * others' messages nor its own. */
static void test_crash(void **state)
{
	struct rt_fixture f;
	struct itest_client *c[3];
	const char *homes[3];
	char room[RT_ROOM_HEX];
	struct rt_sent s;
	json_t *ev;
	(void)state;

	rt_start(&f, "crash", 0);
	rt_clients(f.port, f.dir, three, 3, c);
	for (int i = 0; i < 3; i++)
		homes[i] = itest_path(f.dir, three[i]);
	rt_create(c[0], "bob,carol", "Crash", three, room);
	for (int i = 0; i < 3; i++)
		json_decref(rt_join(c[i], room, 0));
	s = rt_say(c[0], room, "one", 1);
	rt_expect_msg(c[1], room, "alice", "one", 1, 1);
	rt_expect_msg(c[2], room, "alice", "one", 1, 1);
	s = rt_say(c[1], room, "two", 1);
	rt_expect_msg(c[0], room, "bob", "two", 1, 2);
	rt_expect_msg(c[2], room, "bob", "two", 1, 2);
	json_decref(rt_cmd(c[2], "disconnected", "/disconnect"));
	s = rt_say(c[0], room, "three", 1);
	assert_int_equal(s.seq, 2);
	rt_expect_msg(c[1], room, "alice", "three", 2, 3);

	itest_server_kill(f.srv);
	f.srv = NULL;
	for (int i = 0; i < 3; i++)
		rt_lost_quit(c[i]);
	restart_all(&f, c, homes);

	/* carol missed "three" only. */
	json_decref(rt_join(c[2], room, 1));
	rt_expect_msg(c[2], room, "alice", "three", 2, 3);
	for (int i = 0; i < 2; i++) {
		ev = rt_join(c[i], room, -1);
		assert_string_equal(itest_json_str(ev, "title"), "Crash");
		json_decref(ev);
	}
	/* The next thing anyone shows is the new message. */
	s = rt_say(c[2], room, "four, after the crash", 1);
	assert_int_equal(s.seq, 1);
	assert_int_equal(s.msg_id, 4);
	rt_expect_msg(c[0], room, "carol", "four, after the crash", 1, 4);
	rt_expect_msg(c[1], room, "carol", "four, after the crash", 1, 4);
	s = rt_say(c[0], room, "five", 1);
	assert_int_equal(s.seq, 3);
	rt_expect_msg(c[1], room, "alice", "five", 3, 5);
	rt_expect_msg(c[2], room, "alice", "five", 3, 5);

	for (int i = 0; i < 3; i++) {
		rt_ping(c[i]);
		rt_quit(c[i]);
	}
	rt_stop(&f);
}

/* ---- 3. access control --------------------------------------------------------- */

static json_t *expect_cmd_error(struct itest_client *c, const char *code, const char *line)
{
	json_t *ev = rt_cmd(c, "error", "%s", line);
	assert_string_equal(itest_json_str(ev, "code"), code);
	return ev;
}


static void test_access_control(void **state)
{
	static const char *const nicks[] = {"alice", "bob", "carol", "eve"};
	static const char unknown_room[] = "00112233445566778899aabbccddeeff";
	struct rt_fixture f;
	struct itest_client *c[4];
	char room[RT_ROOM_HEX];
	json_t *ev, *ev2, *rooms;
	(void)state;

	rt_start(&f, "access", 0);
	rt_clients(f.port, f.dir, nicks, 4, c);
	struct itest_client *alice = c[0], *bob = c[1], *carol = c[2], *eve = c[3];

	/* An invitee nobody registered: refused by name, and no room made. */
	ev = expect_cmd_error(alice, "unknown_user", "/create bob,zed Secret");
	assert_non_null(strstr(itest_json_str(ev, "message"), "zed"));
	json_decref(ev);
	json_decref(expect_cmd_error(alice, "bad_nick", "/create bob,b@d Secret"));
	json_decref(expect_cmd_error(alice, "usage", "/create ALICE Secret"));
	expect_rooms_empty(bob);
	expect_rooms_empty(alice);

	/* Each invitee once, in the order first named, whatever the case; the
	 * creator never. */
	rt_create(alice, "bob,CAROL,alice,Bob,carol", "Secret", three, room);
	/* eve is not a member: the same answer as for a room that does not
	 * exist, so room ids cannot be probed. */
	expect_rooms_empty(eve);
	json_decref(expect_cmd_error(eve, "usage", "/join dummy"));
	char line[128];
	snprintf(line, sizeof line, "/join %s", room);
	ev = expect_cmd_error(eve, "no_such_room", line);
	assert_string_equal(itest_json_str(ev, "room"), room);
	snprintf(line, sizeof line, "/join %s", unknown_room);
	ev2 = expect_cmd_error(eve, "no_such_room", line);
	assert_string_equal(itest_json_str(ev2, "room"), unknown_room);
	assert_string_equal(itest_json_str(ev, "message"), itest_json_str(ev2, "message"));
	json_decref(ev);
	json_decref(ev2);
	snprintf(line, sizeof line, "/say %s let me in", room);
	json_decref(expect_cmd_error(eve, "not_joined", line));
	json_decref(expect_cmd_error(eve, "no_room", "let me in"));

	for (int i = 0; i < 3; i++)
		json_decref(rt_join(c[i], room, 0));
	/* Only the admin adds members. */
	ev = expect_cmd_error(bob, "not_admin", "/add eve");
	assert_string_equal(itest_json_str(ev, "room"), room);
	json_decref(ev);
	expect_rooms_empty(eve);

	/* One byte over 16384: refused, and nothing sent. */
	char *big = malloc(PROTO_TEXT_MAX + 2);
	assert_non_null(big);
	memset(big, 'x', PROTO_TEXT_MAX + 1);
	big[PROTO_TEXT_MAX + 1] = '\0';
	ev = expect_cmd_error(alice, "too_long", big);
	assert_string_equal(itest_json_str(ev, "room"), room);
	json_decref(ev);
	assert_true(itest_client_expect_silence(bob, 300));
	assert_true(itest_client_expect_silence(carol, 300));
	/* Exactly 16384: sent, and it arrives whole (and first). */
	big[PROTO_TEXT_MAX] = '\0';
	struct rt_sent s = rt_say(alice, room, big, 1);
	assert_int_equal(s.msg_id, 1);
	rt_expect_msg(bob, room, "alice", big, 1, 1);
	rt_expect_msg(carol, room, "alice", big, 1, 1);
	free(big);

	/* The admin may not leave while others remain. */
	snprintf(line, sizeof line, "/leave %s", room);
	ev = expect_cmd_error(alice, "must_transfer_admin", line);
	assert_string_equal(itest_json_str(ev, "room"), room);
	json_decref(ev);
	rooms = rt_rooms(alice);
	check_listing(rooms, room, "Secret", "alice", 3, -1, 1);
	json_decref(rooms);

	/* A member may: the others are told, and the room is gone for her.
	 * A departure closes the epoch: alice's client (the first member who
	 * stays) makes the new key by itself, and bob gets it. */
	ev = rt_cmd(carol, "left", "%s", line);
	assert_string_equal(itest_json_str(ev, "room"), room);
	json_decref(ev);
	for (int i = 0; i < 2; i++)
		rt_expect_left(c[i], room, "carol", 2, "alice");
	expect_rooms_empty(carol);
	snprintf(line, sizeof line, "/join %s", room);
	json_decref(expect_cmd_error(carol, "no_such_room", line));
	rooms = rt_rooms(alice);
	check_listing(rooms, room, "Secret", "alice", 2, -1, 2);
	json_decref(rooms);
	s = rt_say(alice, room, "after carol left", 1);
	rt_expect_msg(bob, room, "alice", "after carol left", 1, 2);
	rt_ping(carol);

	/* bob leaves; alice, alone, may leave too, and the room ends. */
	snprintf(line, sizeof line, "/leave %s", room);
	json_decref(rt_cmd(bob, "left", "%s", line));
	rt_expect_left(alice, room, "bob", 3, "alice");
	json_decref(rt_cmd(alice, "left", "%s", line));
	expect_rooms_empty(alice);
	expect_rooms_empty(bob);
	snprintf(line, sizeof line, "/join %s", room);
	json_decref(expect_cmd_error(alice, "no_such_room", line));

	for (int i = 0; i < 4; i++)
		rt_quit(c[i]);
	rt_stop(&f);
}

/* ---- 4. the server's own checks, from an in-process client ------------------------ */

/* (The client, a session with a user's own key, is support/itest_chan.h.) */

/* An envelope carrying one byte more than the longest text (built by hand:
 * the encoder refuses it). */
static void oversized_envelope(struct buf *out, const uint8_t room[PROTO_ROOM_ID_LEN],
			       const char *sender)
{
	struct proto_envelope env = {0};
	size_t ct_len = PROTO_TEXT_MAX + CRYPTO_AEAD_TAG_LEN + 1;
	uint8_t *ct = malloc(ct_len), sig[PROTO_SIG_LEN], nonce[PROTO_NONCE_LEN];
	assert_non_null(ct);
	memset(ct, 0x5a, ct_len);
	memset(sig, 0x33, sizeof sig);
	memset(nonce, 7, sizeof nonce);
	env.version = PROTO_ENVELOPE_VERSION;
	memcpy(env.room_id, room, PROTO_ROOM_ID_LEN);
	env.sender = proto_bytes_str(sender);
	env.seq = 2000;
	env.time_ms = 1700000000000ull;
	buf_reset(out);
	assert_int_equal(proto_envelope_encode_header(&env, out), CC_OK);
	assert_int_equal(buf_put_bytes(out, nonce, sizeof nonce), CC_OK);
	assert_int_equal(buf_put_bytes16(out, ct, ct_len), CC_OK);
	assert_int_equal(buf_put_bytes(out, sig, sizeof sig), CC_OK);
	free(ct);
}

static void msg_send(struct proto_msg *m, const struct buf *env)
{
	memset(m, 0, sizeof *m);
	m->type = PROTO_MSG_SEND;
	m->u.msg_send.envelope = (struct proto_bytes){env->data, env->len};
}

static void room_ref(struct proto_msg *m, uint8_t type, const uint8_t room[PROTO_ROOM_ID_LEN])
{
	memset(m, 0, sizeof *m);
	m->type = type;
	memcpy(m->u.room_ref.room_id, room, PROTO_ROOM_ID_LEN);
}

/* Joins ROOM and copies the chain's last record into LAST. */
static void wc_join_last_record(struct ichan *w, const uint8_t room[PROTO_ROOM_ID_LEN],
				struct buf *last)
{
	struct proto_msg m;
	room_ref(&m, PROTO_ROOM_JOIN, room);
	uint32_t id = ichan_request(w, &m);
	ichan_answer(w, id, &m);
	assert_int_equal(m.type, PROTO_ROOM_STATE);
	struct proto_list_iter it;
	struct proto_chain_item rec;
	proto_list_iter_init(&it, &m.u.room_state.records, PROTO_ITEM_CHAIN);
	buf_reset(last);
	while (proto_list_next(&it, &rec) == CC_OK) {
		buf_reset(last);
		assert_int_equal(buf_put_bytes(last, rec.record.p, rec.record.len), CC_OK);
	}
	assert_true(last->len > 0);
	ichan_answer(w, id, &m);
	assert_int_equal(m.type, PROTO_JOIN_DONE);
}

/* A LEAVE record for SUBJECT that follows LAST, signed by the session's key. */
static void wc_leave_record(struct ichan *w, const char *actor, const struct buf *last,
			    const char *subject, const uint8_t subject_fp[PROTO_FINGERPRINT_LEN],
			    struct buf *out)
{
	struct proto_record prev, rec = {0};
	assert_int_equal(proto_record_decode(last->data, last->len, &prev), CC_OK);
	rec.version = PROTO_RECORD_VERSION;
	memcpy(rec.room_id, prev.room_id, PROTO_ROOM_ID_LEN);
	rec.seq = prev.seq + 1;
	e2e_record_hash(last->data, last->len, rec.prev_hash);
	rec.action = PROTO_REC_LEAVE;
	rec.actor = proto_bytes_str(actor);
	memcpy(rec.actor_fp, w->fp, PROTO_FINGERPRINT_LEN);
	rec.subject = proto_bytes_str(subject);
	memcpy(rec.subject_fp, subject_fp, PROTO_FINGERPRINT_LEN);
	rec.epoch = prev.epoch;
	memcpy(rec.key_commit, prev.key_commit, PROTO_HASH_LEN);
	rec.time_ms = 1700000000000ull;
	buf_reset(out);
	assert_int_equal(e2e_record_sign(w->key, &rec, out), CC_OK);
}

/* alice says TEXT; bob and carol must hear it next: nothing came before. */
static void marker(struct itest_client **c, const char *room, const char *text)
{
	struct rt_sent s = rt_say(c[0], room, text, 0);
	rt_expect_msg(c[1], room, "alice", text, s.seq, s.msg_id);
	rt_expect_msg(c[2], room, "alice", text, s.seq, s.msg_id);
}

static void test_server_refuses(void **state)
{
	static const char *const nicks[] = {"alice", "bob", "carol", "eve"};
	struct rt_fixture f;
	struct itest_client *c[4];
	char room[RT_ROOM_HEX];
	uint8_t room_id[PROTO_ROOM_ID_LEN], nowhere[PROTO_ROOM_ID_LEN];
	struct ichan w;
	struct buf env, rec, last;
	struct proto_msg m;
	json_t *ev;
	uint32_t id;
	(void)state;

	rt_start(&f, "refuse", 0);
	rt_clients(f.port, f.dir, nicks, 4, c);
	rt_create(c[0], "bob,carol", "Members only", three, room);
	for (int i = 0; i < 3; i++)
		json_decref(rt_join(c[i], room, 0));
	assert_int_equal(hex_decode(room, room_id, sizeof room_id), CC_OK);
	assert_int_equal(crypto_random_bytes(nowhere, sizeof nowhere), CC_OK);
	buf_init(&env, PROTO_ENVELOPE_MAX);
	buf_init(&rec, PROTO_RECORD_MAX);
	buf_init(&last, PROTO_RECORD_MAX);

	/* eve's own session (her key, from her home): not a member, so a
	 * well-formed message is refused as if the room did not exist, and so
	 * is one for a room that does not. */
	ichan_open(&w, f.port, itest_path(f.dir, "eve"), "eve");
	ichan_junk_envelope(&env, room_id, 0, "eve", 1);
	msg_send(&m, &env);
	ichan_expect_error(&w, &m, CC_ERR_NO_SUCH_ROOM);
	ichan_junk_envelope(&env, nowhere, 0, "eve", 1);
	msg_send(&m, &env);
	ichan_expect_error(&w, &m, CC_ERR_NO_SUCH_ROOM);
	/* Nor may she join, disconnect from or add to it. */
	room_ref(&m, PROTO_ROOM_JOIN, room_id);
	ichan_expect_error(&w, &m, CC_ERR_NO_SUCH_ROOM);
	room_ref(&m, PROTO_ROOM_DISCONNECT, room_id);
	ichan_expect_error(&w, &m, CC_ERR_NO_SUCH_ROOM);
	memset(&m, 0, sizeof m);
	m.type = PROTO_ROOM_ADD;
	memcpy(m.u.room_rekey.room_id, room_id, PROTO_ROOM_ID_LEN);
	m.u.room_rekey.title_ct = (struct proto_bytes){(const uint8_t *)"junk", 4};
	ichan_expect_error(&w, &m, CC_ERR_NO_SUCH_ROOM);
	ichan_close(&w);
	marker(c, room, "marker one");

	/* bob's own session: a member, but only in his own name. */
	ichan_open(&w, f.port, itest_path(f.dir, "bob"), "bob");
	ichan_junk_envelope(&env, room_id, 0, "alice", 1);
	msg_send(&m, &env);
	ichan_expect_error(&w, &m, CC_ERR_FORBIDDEN);
	/* Clients compare nicknames without case: so must the server. */
	ichan_junk_envelope(&env, room_id, 0, "ALICE", 1);
	msg_send(&m, &env);
	ichan_expect_error(&w, &m, CC_ERR_FORBIDDEN);
	ichan_junk_envelope(&env, room_id, 0, "bob", 1);
	msg_send(&m, &env);
	ichan_expect_error(&w, &m, CC_ERR_STALE_EPOCH);
	ichan_junk_envelope(&env, room_id, 2, "bob", 1);
	msg_send(&m, &env);
	ichan_expect_error(&w, &m, CC_ERR_STALE_EPOCH);
	/* Text over 16384 bytes is not stored, whoever made the envelope. */
	oversized_envelope(&env, room_id, "bob");
	msg_send(&m, &env);
	id = ichan_request(&w, &m);
	ichan_answer(&w, id, &m);
	assert_int_equal(m.type, PROTO_ERROR);
	assert_true(m.u.error.code == CC_ERR_TOO_LARGE || m.u.error.code == CC_ERR_TOO_LONG);
	/* Only the admin adds, whatever the record says. */
	memset(&m, 0, sizeof m);
	m.type = PROTO_ROOM_ADD;
	memcpy(m.u.room_rekey.room_id, room_id, PROTO_ROOM_ID_LEN);
	m.u.room_rekey.title_ct = (struct proto_bytes){(const uint8_t *)"junk", 4};
	ichan_expect_error(&w, &m, CC_ERR_NOT_ADMIN);
	ichan_close(&w);
	marker(c, room, "marker two");

	/* The signature is not the server's to check: it stores and relays
	 * bob's junk, and every member's client refuses it (bob's own too). */
	ichan_open(&w, f.port, itest_path(f.dir, "bob"), "bob");
	ichan_junk_envelope(&env, room_id, 1, "bob", 1000);
	msg_send(&m, &env);
	id = ichan_request(&w, &m);
	ichan_answer(&w, id, &m);
	assert_int_equal(m.type, PROTO_SENT);
	assert_memory_equal(m.u.sent.room_id, room_id, PROTO_ROOM_ID_LEN);
	for (int i = 0; i < 3; i++)
		json_decref(rt_expect_room_error(c[i], "forged", room, "bob"));
	ichan_close(&w);
	marker(c, room, "marker three");

	/* alice's own session: the admin may not leave while others remain,
	 * even with a well-signed leave record. */
	ichan_open(&w, f.port, itest_path(f.dir, "alice"), "alice");
	wc_join_last_record(&w, room_id, &last);
	wc_leave_record(&w, "alice", &last, "alice", w.fp, &rec);
	memset(&m, 0, sizeof m);
	m.type = PROTO_ROOM_LEAVE;
	memcpy(m.u.room_leave.room_id, room_id, PROTO_ROOM_ID_LEN);
	m.u.room_leave.record = (struct proto_bytes){rec.data, rec.len};
	ichan_expect_error(&w, &m, CC_ERR_MUST_TRANSFER_ADMIN);
	ichan_close(&w);
	ev = rt_rooms(c[0]);
	check_listing(ev, room, "Members only", "alice", 3, -1, 1);
	json_decref(ev);
	marker(c, room, "marker four");

	buf_free(&env);
	buf_free(&rec);
	buf_free(&last);
	for (int i = 0; i < 4; i++) {
		rt_ping(c[i]);
		rt_quit(c[i]);
	}
	rt_stop(&f);
}

/* A member's own session signs a leave record naming another member: the
 * server refuses it (the chain's rules), and the failed request must leave
 * that member's other connections hearing the room. */
static void test_failed_leave_keeps_listening(void **state)
{
	struct rt_fixture f;
	struct itest_client *c[3];
	char room[RT_ROOM_HEX];
	uint8_t room_id[PROTO_ROOM_ID_LEN], alice_fp[PROTO_FINGERPRINT_LEN];
	struct crypto_rsa_key *alice_key = NULL;
	struct ichan w;
	struct buf rec, last;
	struct proto_msg m;
	(void)state;

	rt_start(&f, "bad-leave", 0);
	rt_clients(f.port, f.dir, three, 3, c);
	rt_create(c[0], "bob,carol", "Leaving", three, room);
	for (int i = 0; i < 3; i++)
		json_decref(rt_join(c[i], room, 0));
	assert_int_equal(hex_decode(room, room_id, sizeof room_id), CC_OK);
	assert_int_equal(crypto_rsa_load_private_file(
		itest_path(itest_path(f.dir, "alice"), "identity.pem"), &alice_key), CC_OK);
	assert_int_equal(crypto_rsa_fingerprint(alice_key, alice_fp), CC_OK);
	crypto_rsa_free(alice_key);
	buf_init(&rec, PROTO_RECORD_MAX);
	buf_init(&last, PROTO_RECORD_MAX);

	ichan_open(&w, f.port, itest_path(f.dir, "bob"), "bob");
	wc_join_last_record(&w, room_id, &last);
	wc_leave_record(&w, "bob", &last, "alice", alice_fp, &rec);
	memset(&m, 0, sizeof m);
	m.type = PROTO_ROOM_LEAVE;
	memcpy(m.u.room_leave.room_id, room_id, PROTO_ROOM_ID_LEN);
	m.u.room_leave.record = (struct proto_bytes){rec.data, rec.len};
	ichan_expect_error(&w, &m, CC_ERR_SECURITY);
	ichan_close(&w);
	buf_free(&rec);
	buf_free(&last);

	/* Nobody left: the room still has three members, and bob's batch
	 * client still hears it live. */
	json_t *rooms = rt_rooms(c[0]);
	check_listing(rooms, room, "Leaving", "alice", 3, -1, 1);
	json_decref(rooms);
	marker(c, room, "still here?");

	for (int i = 0; i < 3; i++) {
		rt_ping(c[i]);
		rt_quit(c[i]);
	}
	rt_stop(&f);
}

/* People type a room's id prefix, once /rooms has listed it; an unknown or
 * ambiguous prefix is a usage error, never a guess. */
static void test_room_prefix(void **state)
{
	static const char *const nicks[] = {"alice", "bob"};
	static const char *const two[] = {"alice", "bob", NULL};
	struct rt_fixture f;
	struct itest_client *c[2];
	char room[RT_ROOM_HEX], prefix[8];
	(void)state;

	rt_start(&f, "prefix", 0);
	rt_clients(f.port, f.dir, nicks, 2, c);
	rt_create(c[0], "bob", "Prefix", two, room);
	snprintf(prefix, sizeof prefix, "%.6s", room);
	/* Not listed yet: bob's client cannot know what the prefix means. */
	char line[64];
	snprintf(line, sizeof line, "/join %s", prefix);
	json_decref(expect_cmd_error(c[1], "usage", line));
	json_decref(rt_rooms(c[1]));
	json_t *ev = rt_cmd(c[1], "joined", "/join %s", prefix);
	assert_string_equal(itest_json_str(ev, "room"), room);
	json_decref(ev);
	/* Too short to be a prefix. */
	snprintf(line, sizeof line, "/join %.3s", room);
	json_decref(expect_cmd_error(c[1], "usage", line));
	rt_quit(c[0]);
	rt_quit(c[1]);
	rt_stop(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_workflow, itest_teardown),
		cmocka_unit_test_teardown(test_persistence, itest_teardown),
		cmocka_unit_test_teardown(test_crash, itest_teardown),
		cmocka_unit_test_teardown(test_access_control, itest_teardown),
		cmocka_unit_test_teardown(test_server_refuses, itest_teardown),
		cmocka_unit_test_teardown(test_failed_leave_keeps_listening, itest_teardown),
		cmocka_unit_test_teardown(test_room_prefix, itest_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
