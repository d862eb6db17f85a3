/* Integration tests against a hostile server operator: the server's database
 * is edited behind the server's back with the sqlite3 program (WAL mode
 * makes that safe while it runs), and real batch clients must notice.
 *
 * What is proved end to end: a stored message whose ciphertext, signature or
 * sender was changed, that was moved from another room, stored twice or
 * reordered is reported (forged / not_member / replayed) and never shown; a
 * membership chain with a changed, reordered, missing or extra record, or a
 * record signed by someone not allowed to make it, is refused (security)
 * and the room not joined; a wrapped key swapped for another member's gives
 * no readable message, one the admin did not commit to is refused
 * (security), and a key already in a client's home needs no server copy;
 * a member who left gets no key of the next epoch, and is not let back in
 * by a row the operator adds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "e2e/e2e.h"
#include "proto/room.h"
#include "support/itest.h"
#include "support/itest_rooms.h"
#include "util/buf.h"

static const char *const three[] = {"alice", "bob", "carol", NULL};

/* ---- the server's database (the server: rt_start with DB, itest_rooms.h) -- */

static long long room_row(const char *room)
{
	return rt_sql_int("SELECT id FROM rooms WHERE room_id = X'%s'", room);
}

static long long user_row(const char *nick)
{
	return rt_sql_int("SELECT id FROM users WHERE nick_lower = '%s'", nick);
}

static uint8_t *msg_blob(long long rid, long long msg_id, size_t *len)
{
	return rt_sql_blob(len, "SELECT hex(blob) FROM messages WHERE room = %lld AND msg_id = %lld",
			   rid, msg_id);
}

static void msg_blob_set(long long rid, long long msg_id, const uint8_t *blob, size_t len)
{
	char *hex = rt_hex(blob, len);
	free(rt_sql("UPDATE messages SET blob = X'%s' WHERE room = %lld AND msg_id = %lld", hex, rid,
		    msg_id));
	free(hex);
}

/* A says TEXT in ROOM; LISTENER (live) hears it. */
static struct rt_sent say_heard(struct itest_client *a, struct itest_client *listener,
				const char *room, const char *text)
{
	struct rt_sent s = rt_say(a, room, text, 0);
	rt_expect_msg(listener, room, itest_client_nick(a), text, s.seq, s.msg_id);
	return s;
}

/* A gap: messages FIRST..LAST of FROM that C never accepted. */
static void expect_gap(struct itest_client *c, const char *room, const char *from, long long first,
		       long long last)
{
	json_t *ev = itest_client_expect(c, "gap", ITEST_TIMEOUT_MS);
	assert_non_null(ev);
	assert_string_equal(itest_json_str(ev, "room"), room);
	assert_string_equal(itest_json_str(ev, "from"), from);
	assert_int_equal(itest_json_int(ev, "first", -1), first);
	assert_int_equal(itest_json_int(ev, "last", -1), last);
	json_decref(ev);
}

static void disconnect(struct itest_client *c, const char *room)
{
	json_t *ev = rt_cmd(c, "disconnected", "/disconnect %s", room);
	assert_string_equal(itest_json_str(ev, "room"), room);
	json_decref(ev);
}

/* /join ROOM is refused with a security error, and nothing else comes of it:
 * the next event after the error is the answer to a /ping. */
static void join_refused(struct itest_client *c, const char *room)
{
	json_t *ev = rt_cmd(c, "error", "/join %s", room);
	assert_string_equal(itest_json_str(ev, "code"), "security");
	assert_string_equal(itest_json_str(ev, "room"), room);
	fprintf(stderr, "[tamper] %s refused the room: %s\n", itest_client_nick(c),
		itest_json_str(ev, "message"));
	json_decref(ev);
	rt_ping(c);
}

/* Sends LINE, then /ping; returns every event before the pong (an array). */
static json_t *events_of(struct itest_client *c, const char *line)
{
	json_t *all = json_array();
	assert_int_equal(itest_client_send(c, line), 0);
	assert_int_equal(itest_client_send(c, "/ping"), 0);
	for (;;) {
		json_t *ev = itest_client_next(c, ITEST_TIMEOUT_MS);
		assert_non_null(ev);
		const char *name = itest_json_str(ev, "event");
		if (name && strcmp(name, "pong") == 0) {
			json_decref(ev);
			return all;
		}
		json_array_append_new(all, ev);
	}
}

static size_t count_events(const json_t *all, const char *event, const char *code)
{
	size_t i, n = 0;
	json_t *ev;
	json_array_foreach(all, i, ev) {
		const char *e = itest_json_str(ev, "event");
		const char *k = itest_json_str(ev, "code");
		if (e && strcmp(e, event) == 0 && (!code || (k && strcmp(k, code) == 0)))
			n++;
	}
	return n;
}

/* ---- 5, 6. stored messages ----------------------------------------------- */

static void test_tamper_messages(void **state)
{
	static const char *const two[] = {"alice", "bob", NULL};
	struct rt_fixture f;
	struct itest_client *c[3];
	char room[RT_ROOM_HEX], other[RT_ROOM_HEX];
	struct proto_envelope env;
	struct rt_sent s[12];
	struct buf re;
	uint8_t *blob, *blob2;
	size_t len, len2;
	(void)state;

	rt_start(&f, "tamper-msg", 1);
	rt_clients(f.port, f.dir, three, 3, c);
	struct itest_client *alice = c[0], *bob = c[1], *carol = c[2];
	rt_create(alice, "bob,carol", "Tamper", three, room);
	for (int i = 0; i < 3; i++)
		json_decref(rt_join(c[i], room, 0));
	long long rid = room_row(room);
	buf_init(&re, PROTO_ENVELOPE_MAX);

	/* bob is away: what alice says waits in the store for him. */
	disconnect(bob, room);
	s[1] = say_heard(alice, carol, room, "one");
	s[2] = say_heard(alice, carol, room, "two");
	s[3] = say_heard(alice, carol, room, "three");
	/* (5) One byte of "two"'s ciphertext flipped. */
	blob = msg_blob(rid, s[2].msg_id, &len);
	assert_int_equal(proto_envelope_decode(blob, len, &env), CC_OK);
	blob[(size_t)(env.ciphertext.p - blob) + 2] ^= 0x01;
	msg_blob_set(rid, s[2].msg_id, blob, len);
	free(blob);
	json_decref(rt_join(bob, room, 3));
	rt_expect_msg(bob, room, "alice", "one", s[1].seq, s[1].msg_id);
	json_decref(rt_expect_room_error(bob, "forged", room, "alice"));
	/* "two" was never accepted: bob is told one is missing. */
	expect_gap(bob, room, "alice", 2, 2);
	rt_expect_msg(bob, room, "alice", "three", s[3].seq, s[3].msg_id);
	/* One bad message breaks nothing: live messages still verify. */
	s[4] = say_heard(alice, carol, room, "four");
	rt_expect_msg(bob, room, "alice", "four", s[4].seq, s[4].msg_id);

	/* (6) A signature byte; and the sender's name changed to another
	 * member's (same length, so the envelope still parses) and to a
	 * non-member's (the envelope re-encoded around the name). */
	disconnect(bob, room);
	s[5] = say_heard(alice, carol, room, "five");
	s[6] = say_heard(alice, carol, room, "six");
	s[7] = say_heard(alice, carol, room, "seven");
	blob = msg_blob(rid, s[5].msg_id, &len);
	blob[len - 1] ^= 0x80;
	msg_blob_set(rid, s[5].msg_id, blob, len);
	free(blob);
	blob = msg_blob(rid, s[6].msg_id, &len);
	assert_int_equal(proto_envelope_decode(blob, len, &env), CC_OK);
	memcpy(blob + (env.sender.p - blob), "carol", 5);
	msg_blob_set(rid, s[6].msg_id, blob, len);
	free(blob);
	blob = msg_blob(rid, s[7].msg_id, &len);
	assert_int_equal(proto_envelope_decode(blob, len, &env), CC_OK);
	env.sender = proto_bytes_str("mallory");
	buf_reset(&re);
	assert_int_equal(proto_envelope_encode(&env, &re), CC_OK);
	msg_blob_set(rid, s[7].msg_id, re.data, re.len);
	free(blob);
	json_decref(rt_join(bob, room, 3));
	json_decref(rt_expect_room_error(bob, "forged", room, "alice"));
	json_decref(rt_expect_room_error(bob, "forged", room, "carol"));
	json_decref(rt_expect_room_error(bob, "not_member", room, "mallory"));

	/* Another room's message, genuine there, in this room's place. */
	rt_create(alice, "bob", "Elsewhere", two, other);
	json_decref(rt_join(alice, other, 0));
	struct rt_sent elsewhere = rt_say(alice, other, "said elsewhere", 0);
	disconnect(bob, room);
	s[8] = say_heard(alice, carol, room, "eight");
	free(rt_sql("UPDATE messages SET blob = (SELECT blob FROM messages WHERE room = %lld AND"
		    " msg_id = %lld) WHERE room = %lld AND msg_id = %lld",
		    room_row(other), elsewhere.msg_id, rid, s[8].msg_id));
	json_decref(rt_join(bob, room, 1));
	json_decref(rt_expect_room_error(bob, "forged", room, "alice"));

	/* A replay: "one", which bob has read, stored again under a new id. */
	disconnect(bob, room);
	rt_sql_message_copy(rid, s[1].msg_id);
	json_decref(rt_join(bob, room, 1));
	json_decref(rt_expect_room_error(bob, "replayed", room, "alice"));

	/* A reorder: two unread messages swapped. The later one is genuine and
	 * shown; the earlier one, now out of order, is not. */
	disconnect(bob, room);
	s[9] = say_heard(alice, carol, room, "nine");
	s[10] = say_heard(alice, carol, room, "ten");
	blob = msg_blob(rid, s[9].msg_id, &len);
	blob2 = msg_blob(rid, s[10].msg_id, &len2);
	char *hex = rt_hex(blob, len), *hex2 = rt_hex(blob2, len2);
	free(rt_sql("BEGIN;"
		    "UPDATE messages SET blob = X'%s' WHERE room = %lld AND msg_id = %lld;"
		    "UPDATE messages SET blob = X'%s' WHERE room = %lld AND msg_id = %lld;"
		    "COMMIT;",
		    hex2, rid, s[9].msg_id, hex, rid, s[10].msg_id));
	free(hex);
	free(hex2);
	free(blob);
	free(blob2);
	json_decref(rt_join(bob, room, 2));
	/* Nothing from alice was accepted since "four". */
	expect_gap(bob, room, "alice", s[4].seq + 1, s[10].seq - 1);
	rt_expect_msg(bob, room, "alice", "ten", s[10].seq, s[9].msg_id);
	json_decref(rt_expect_room_error(bob, "replayed", room, "alice"));

	/* The room still works for everyone. */
	s[11] = say_heard(alice, carol, room, "eleven");
	rt_expect_msg(bob, room, "alice", "eleven", s[11].seq, s[11].msg_id);

	buf_free(&re);
	for (int i = 0; i < 3; i++) {
		rt_ping(c[i]);
		rt_quit(c[i]);
	}
	rt_stop(&f);
}

/* ---- 7. membership records -------------------------------------------------- */

static uint8_t *record_blob(long long rid, int seq, size_t *len)
{
	return rt_sql_blob(len, "SELECT hex(record) FROM records WHERE room = %lld AND seq = %d",
			   rid, seq);
}

static void record_set(long long rid, int seq, const uint8_t *rec, size_t len)
{
	char *hex = rt_hex(rec, len);
	free(rt_sql("UPDATE records SET record = X'%s' WHERE room = %lld AND seq = %d", hex, rid,
		    seq));
	free(hex);
}

/* Appends REC to the stored chain as the next record (as the server would:
 * count and head hash too), and makes NICK a member with a copy of alice's
 * wrapped key, as an operator slipping someone in would. */
static void slip_in(long long rid, const struct buf *rec, const char *nick)
{
	uint8_t hash[PROTO_HASH_LEN];
	e2e_record_hash(rec->data, rec->len, hash);
	char *hex = rt_hex(rec->data, rec->len), *hash_hex = rt_hex(hash, sizeof hash);
	long long user = user_row(nick), alice = user_row("alice");
	free(rt_sql("BEGIN;"
		    "INSERT INTO records(room, seq, record)"
		    " SELECT id, record_count, X'%s' FROM rooms WHERE id = %lld;"
		    "UPDATE rooms SET record_count = record_count + 1, last_record_hash = X'%s'"
		    " WHERE id = %lld;"
		    "INSERT INTO members(room, user, first_msg_id, last_read_msg_id, since_epoch)"
		    " VALUES(%lld, %lld, 1, 0, 0);"
		    "INSERT INTO room_keys(room, user, epoch, wrapped)"
		    " SELECT room, %lld, epoch, wrapped FROM room_keys WHERE room = %lld AND"
		    " user = %lld;"
		    "COMMIT;",
		    hex, rid, hash_hex, rid, rid, user, user, rid, alice));
	free(hex);
	free(hash_hex);
}

/* Undoes slip_in: HEAD is the chain's real head hash. */
static void slip_out(long long rid, const char *nick, const char *head)
{
	long long user = user_row(nick);
	free(rt_sql("BEGIN;"
		    "DELETE FROM records WHERE room = %lld AND seq = 3;"
		    "UPDATE rooms SET record_count = 3, last_record_hash = X'%s' WHERE id = %lld;"
		    "DELETE FROM members WHERE room = %lld AND user = %lld;"
		    "DELETE FROM room_keys WHERE room = %lld AND user = %lld;"
		    "COMMIT;",
		    rid, head, rid, rid, user, rid, user));
}

/* An ADD record for eve after LAST (the chain's seq 2): the next seq, the
 * right previous hash and key commitment. Signed by SIGNER (actor ACTOR),
 * or, if SIGNER is NULL, carrying LAST's signature: a record the admin
 * never signed. */
static void eve_add_record(const uint8_t *last, size_t last_len,
			   const struct crypto_rsa_key *signer, const char *actor,
			   const uint8_t actor_fp[PROTO_FINGERPRINT_LEN],
			   const uint8_t eve_fp[PROTO_FINGERPRINT_LEN], struct buf *out)
{
	struct proto_record prev, rec;
	assert_int_equal(proto_record_decode(last, last_len, &prev), CC_OK);
	assert_int_equal(prev.seq, 2);
	rec = prev;
	rec.seq = 3;
	e2e_record_hash(last, last_len, rec.prev_hash);
	rec.action = PROTO_REC_ADD;
	rec.actor = proto_bytes_str(actor);
	memcpy(rec.actor_fp, actor_fp, PROTO_FINGERPRINT_LEN);
	rec.subject = proto_bytes_str("eve");
	memcpy(rec.subject_fp, eve_fp, PROTO_FINGERPRINT_LEN);
	rec.time_ms = prev.time_ms + 1;
	buf_reset(out);
	if (signer)
		assert_int_equal(e2e_record_sign(signer, &rec, out), CC_OK);
	else
		assert_int_equal(proto_record_encode(&rec, out), CC_OK);
}

static void test_tamper_records(void **state)
{
	static const char *const nicks[] = {"alice", "bob", "carol", "eve"};
	struct rt_fixture f;
	struct itest_client *c[4];
	char room[RT_ROOM_HEX];
	struct proto_record rec;
	struct buf forged;
	uint8_t *blob, *orig;
	size_t len, orig_len;
	json_t *ev, *rooms;
	(void)state;

	rt_start(&f, "tamper-rec", 1);
	rt_clients(f.port, f.dir, nicks, 4, c);
	struct itest_client *alice = c[0], *bob = c[1], *carol = c[2], *eve = c[3];
	/* One record per member: the attacks below edit bob's and carol's. */
	rt_create_one_by_one(alice, "bob,carol", "Chain", three, room);
	json_decref(rt_join(alice, room, 0));
	long long rid = room_row(room);
	assert_int_equal(rt_sql_int("SELECT count(*) FROM records WHERE room = %lld", rid), 3);
	char *head = rt_sql("SELECT hex(last_record_hash) FROM rooms WHERE id = %lld", rid);
	buf_init(&forged, PROTO_RECORD_MAX);

	/* (7) One byte changed in the middle of the chain: the last byte of
	 * the time in record 1 (alice adds bob), a signed field. */
	orig = record_blob(rid, 1, &orig_len);
	blob = malloc(orig_len);
	assert_non_null(blob);
	memcpy(blob, orig, orig_len);
	assert_int_equal(proto_record_decode(blob, orig_len, &rec), CC_OK);
	blob[rec.signed_part.len - 1] ^= 0x01;
	record_set(rid, 1, blob, orig_len);
	free(blob);
	join_refused(bob, room);
	join_refused(carol, room);
	/* alice, already in, finds out when she next joins. */
	disconnect(alice, room);
	join_refused(alice, room);
	record_set(rid, 1, orig, orig_len);
	free(orig);
	/* Control: the real chain is accepted. */
	ev = rt_join(bob, room, -1);
	assert_true(rt_same_list(json_object_get(ev, "members"), three));
	json_decref(ev);
	disconnect(bob, room);

	/* Records 1 and 2 swapped: out of sequence. */
	free(rt_sql("BEGIN;"
		    "UPDATE records SET seq = 99 WHERE room = %lld AND seq = 1;"
		    "UPDATE records SET seq = 1 WHERE room = %lld AND seq = 2;"
		    "UPDATE records SET seq = 2 WHERE room = %lld AND seq = 99;"
		    "COMMIT;",
		    rid, rid, rid));
	join_refused(bob, room);
	free(rt_sql("BEGIN;"
		    "UPDATE records SET seq = 99 WHERE room = %lld AND seq = 1;"
		    "UPDATE records SET seq = 1 WHERE room = %lld AND seq = 2;"
		    "UPDATE records SET seq = 2 WHERE room = %lld AND seq = 99;"
		    "COMMIT;",
		    rid, rid, rid));

	/* carol's add record dropped: the chain holds, but it no longer makes
	 * her a member, and her client will not pretend it does. */
	orig = record_blob(rid, 2, &orig_len);
	free(rt_sql("DELETE FROM records WHERE room = %lld AND seq = 2", rid));
	join_refused(carol, room);
	char *orig_hex = rt_hex(orig, orig_len);
	free(rt_sql("INSERT INTO records(room, seq, record) VALUES(%lld, 2, X'%s')", rid, orig_hex));
	free(orig_hex);

	/* An extra record the admin never signed (record 2 copied, its subject
	 * now eve, chained correctly, with record 2's signature), and eve made
	 * a member to match. The server's word makes eve list the room ... */
	uint8_t alice_fp[PROTO_FINGERPRINT_LEN], eve_fp[PROTO_FINGERPRINT_LEN];
	assert_int_equal(proto_record_decode(orig, orig_len, &rec), CC_OK);
	memcpy(alice_fp, rec.actor_fp, sizeof alice_fp);
	blob = rt_sql_blob(&len, "SELECT hex(fingerprint) FROM users WHERE nick_lower = 'eve'");
	assert_int_equal(len, sizeof eve_fp);
	memcpy(eve_fp, blob, sizeof eve_fp);
	free(blob);
	eve_add_record(orig, orig_len, NULL, "alice", alice_fp, eve_fp, &forged);
	slip_in(rid, &forged, "eve");
	rooms = rt_rooms(eve);
	ev = rt_rooms_find(rooms, room);
	assert_non_null(ev);
	assert_int_equal(itest_json_int(ev, "members", -1), 4);
	json_decref(rooms);
	/* ... but no client, eve's included, accepts the chain. */
	join_refused(eve, room);
	join_refused(bob, room);
	join_refused(carol, room);
	join_refused(alice, room);
	slip_out(rid, "eve", head);

	/* A record with a valid signature by someone not allowed to make it:
	 * bob (a member, not the admin) adds eve. */
	struct crypto_rsa_key *bob_key = NULL;
	uint8_t bob_fp[PROTO_FINGERPRINT_LEN];
	assert_int_equal(crypto_rsa_load_private_file(
		itest_path(itest_path(f.dir, "bob"), "identity.pem"), &bob_key), CC_OK);
	assert_int_equal(crypto_rsa_fingerprint(bob_key, bob_fp), CC_OK);
	eve_add_record(orig, orig_len, bob_key, "bob", bob_fp, eve_fp, &forged);
	crypto_rsa_free(bob_key);
	slip_in(rid, &forged, "eve");
	join_refused(carol, room);
	join_refused(eve, room);
	slip_out(rid, "eve", head);
	free(orig);

	/* Undone: the room is whole again. */
	for (int i = 0; i < 2; i++) {
		ev = rt_join(c[i], room, -1);
		assert_true(rt_same_list(json_object_get(ev, "members"), three));
		json_decref(ev);
	}
	struct rt_sent s = rt_say(alice, room, "still ours", 0);
	rt_expect_msg(bob, room, "alice", "still ours", s.seq, s.msg_id);

	free(head);
	buf_free(&forged);
	for (int i = 0; i < 4; i++) {
		rt_ping(c[i]);
		rt_quit(c[i]);
	}
	rt_stop(&f);
}

/* ---- 8. wrapped keys ------------------------------------------------------------ */

/* The events of a join after tampering: never a message shown; the joined
 * event (if any) and every message before the pong are checked. */
static void check_no_message(const json_t *all, const char *who)
{
	size_t i;
	json_t *ev;
	json_array_foreach(all, i, ev) {
		char *line = itest_json_dump(ev);
		fprintf(stderr, "[tamper] %s: %s\n", who, line);
		free(line);
	}
	assert_int_equal(count_events(all, "message", NULL), 0);
}

/* A join once the key is back: joined, with the title, no error, and any
 * message shown is a genuine one from alice (a failed join may or may not have
 * used up the backlog). */
static void join_restored(struct itest_client *c, const char *room, const struct rt_sent *one)
{
	char line[64];
	size_t i;
	json_t *ev;
	snprintf(line, sizeof line, "/join %s", room);
	json_t *all = events_of(c, line);
	assert_int_equal(count_events(all, "joined", NULL), 1);
	assert_int_equal(count_events(all, "error", NULL), 0);
	json_array_foreach(all, i, ev) {
		const char *e = itest_json_str(ev, "event");
		if (strcmp(e, "joined") == 0)
			assert_string_equal(itest_json_str(ev, "title"), "Keys");
		if (strcmp(e, "message") == 0) {
			/* A refused join acknowledged nothing, so what it could not
			 * read comes again now: genuine messages from alice only. */
			const char *text = itest_json_str(ev, "text");
			assert_true(strcmp(text, "one") == 0 || strcmp(text, "two") == 0);
			if (strcmp(text, "one") == 0)
				assert_int_equal(itest_json_int(ev, "msg_id", -1), one->msg_id);
			assert_string_equal(itest_json_str(ev, "from"), "alice");
			assert_true(json_is_true(json_object_get(ev, "verified")));
		}
	}
	json_decref(all);
}

static void test_tamper_keys(void **state)
{
	struct rt_fixture f;
	struct itest_client *c[3];
	char room[RT_ROOM_HEX];
	uint8_t room_id[PROTO_ROOM_ID_LEN], key[E2E_KEY_LEN];
	struct buf wrapped;
	json_t *all, *ev, *rooms;
	(void)state;

	rt_start(&f, "tamper-key", 1);
	rt_clients(f.port, f.dir, three, 3, c);
	struct itest_client *alice = c[0], *bob = c[1], *carol = c[2];
	rt_create(alice, "bob,carol", "Keys", three, room);
	assert_int_equal(hex_decode(room, room_id, sizeof room_id), CC_OK);
	json_decref(rt_join(alice, room, 0));
	struct rt_sent one = rt_say(alice, room, "one", 0);
	long long rid = room_row(room), bob_row = user_row("bob"), carol_row = user_row("carol");
	char *bob_key = rt_sql("SELECT hex(wrapped) FROM room_keys WHERE room = %lld AND user = %lld"
			       " AND epoch = 1", rid, bob_row);
	char *carol_key = rt_sql("SELECT hex(wrapped) FROM room_keys WHERE room = %lld AND"
				 " user = %lld AND epoch = 1", rid, carol_row);

	/* (8) bob's wrapped key replaced with carol's, before bob ever read the
	 * room: it does not open, so his client refuses the room outright
	 * (security): no "joined", nothing shown. */
	free(rt_sql("UPDATE room_keys SET wrapped = X'%s' WHERE room = %lld AND user = %lld",
		    carol_key, rid, bob_row));
	rooms = rt_rooms(bob);
	ev = rt_rooms_find(rooms, room);
	assert_non_null(ev);
	assert_string_equal(itest_json_str(ev, "title"), "");
	json_decref(rooms);
	char line[128];
	snprintf(line, sizeof line, "/join %s", room);
	all = events_of(bob, line);
	check_no_message(all, "bob, carol's key");
	assert_int_equal(count_events(all, "joined", NULL), 0);
	assert_int_equal(count_events(all, "error", "security"), 1);
	assert_int_equal(count_events(all, "error", NULL), 1);
	json_decref(all);
	snprintf(line, sizeof line, "/say %s can anyone read this?", room);
	all = events_of(bob, line);
	check_no_message(all, "bob says");
	assert_int_equal(count_events(all, "sent", NULL), 0);
	json_decref(all);
	/* Restored: bob joins and hears alice (any earlier message he gets is
	 * the genuine "one"). */
	free(rt_sql("UPDATE room_keys SET wrapped = X'%s' WHERE room = %lld AND user = %lld",
		    bob_key, rid, bob_row));
	disconnect(bob, room);
	join_restored(bob, room, &one);
	struct rt_sent s = say_heard(alice, bob, room, "two");

	/* A key wrapped to carol that the admin never committed to: it opens,
	 * and her client refuses it (and the room). */
	uint8_t *blob, carol_recv[32], carol_fp[32];
	size_t blob_len;
	blob = rt_sql_blob(&blob_len, "SELECT hex(recv_pub) FROM users WHERE id = %lld", carol_row);
	assert_int_equal(blob_len, 32);
	memcpy(carol_recv, blob, 32);
	free(blob);
	blob = rt_sql_blob(&blob_len, "SELECT hex(fingerprint) FROM users WHERE id = %lld",
			   carol_row);
	assert_int_equal(blob_len, 32);
	memcpy(carol_fp, blob, 32);
	free(blob);
	uint32_t carol_version = (uint32_t)rt_sql_int("SELECT recv_version FROM users"
						      " WHERE id = %lld", carol_row);
	assert_int_equal(crypto_random_bytes(key, sizeof key), CC_OK);
	buf_init(&wrapped, PROTO_WRAPPED_MAX);
	assert_int_equal(e2e_key_wrap(carol_recv, carol_version, carol_fp, room_id, 1, key,
				      &wrapped), CC_OK);
	char *bogus = rt_hex(wrapped.data, wrapped.len);
	buf_free(&wrapped);
	free(rt_sql("UPDATE room_keys SET wrapped = X'%s' WHERE room = %lld AND user = %lld",
		    bogus, rid, carol_row));
	free(bogus);
	rooms = rt_rooms(carol);
	ev = rt_rooms_find(rooms, room);
	assert_non_null(ev);
	assert_string_equal(itest_json_str(ev, "title"), "");
	json_decref(rooms);
	join_refused(carol, room);
	free(rt_sql("UPDATE room_keys SET wrapped = X'%s' WHERE room = %lld AND user = %lld",
		    carol_key, rid, carol_row));
	join_restored(carol, room, &one);
	s = rt_say(alice, room, "three", 0);
	rt_expect_msg(bob, room, "alice", "three", s.seq, s.msg_id);
	rt_expect_msg(carol, room, "alice", "three", s.seq, s.msg_id);

	/* A key already in a client's home needs no copy on the server. */
	free(rt_sql("DELETE FROM room_keys WHERE room = %lld AND user = %lld", rid, bob_row));
	disconnect(bob, room);
	s = say_heard(alice, carol, room, "four");
	rooms = rt_rooms(bob);
	ev = rt_rooms_find(rooms, room);
	assert_non_null(ev);
	assert_string_equal(itest_json_str(ev, "title"), "Keys");
	json_decref(rooms);
	ev = rt_join(bob, room, 1);
	assert_string_equal(itest_json_str(ev, "title"), "Keys");
	json_decref(ev);
	rt_expect_msg(bob, room, "alice", "four", s.seq, s.msg_id);
	s = rt_say(bob, room, "and I still talk", 0);
	rt_expect_msg(alice, room, "bob", "and I still talk", s.seq, s.msg_id);
	rt_expect_msg(carol, room, "bob", "and I still talk", s.seq, s.msg_id);

	free(bob_key);
	free(carol_key);
	for (int k = 0; k < 3; k++) {
		rt_ping(c[k]);
		rt_quit(c[k]);
	}
	rt_stop(&f);
}

/* ---- a member who left, let back in by the operator -------------------------- */

static void test_tamper_readmit(void **state)
{
	struct rt_fixture f;
	struct itest_client *c[3];
	char room[RT_ROOM_HEX];
	json_t *ev, *rooms;
	(void)state;

	rt_start(&f, "tamper-readmit", 1);
	rt_clients(f.port, f.dir, three, 3, c);
	struct itest_client *alice = c[0], *bob = c[1], *carol = c[2];
	rt_create(alice, "bob,carol", "Leavers", three, room);
	for (int i = 0; i < 3; i++)
		json_decref(rt_join(c[i], room, 0));
	struct rt_sent s = rt_say(alice, room, "before", 0);
	rt_expect_msg(bob, room, "alice", "before", s.seq, s.msg_id);
	rt_expect_msg(carol, room, "alice", "before", s.seq, s.msg_id);
	ev = rt_cmd(carol, "left", "/leave %s", room);
	json_decref(ev);
	rt_expect_left(alice, room, "carol", 2, "alice");
	rt_expect_left(bob, room, "carol", 2, "alice");
	s = say_heard(alice, bob, room, "after");

	/* What the store holds: the message is under the new epoch, and no key
	 * of that epoch was ever wrapped to carol (bob's and alice's copies went
	 * once their clients held the keys; bob heard "after" with his). */
	long long rid = room_row(room), carol_row = user_row("carol");
	assert_int_equal(rt_sql_int("SELECT epoch FROM messages WHERE room = %lld AND msg_id = %lld",
				    rid, s.msg_id), 2);
	assert_int_equal(rt_sql_int("SELECT count(*) FROM room_keys WHERE room = %lld AND user = %lld"
				    " AND epoch >= 2", rid, carol_row), 0);

	/* The operator makes her a member again: the server lists the room,
	 * her client cannot read its title, and refuses the chain (she left). */
	free(rt_sql("INSERT INTO members(room, user, first_msg_id, last_read_msg_id, since_epoch)"
		    " VALUES(%lld, %lld, 1, 0, 0)", rid, carol_row));
	rooms = rt_rooms(carol);
	ev = rt_rooms_find(rooms, room);
	assert_non_null(ev);
	assert_string_equal(itest_json_str(ev, "title"), "");
	json_decref(rooms);
	join_refused(carol, room);

	for (int i = 0; i < 3; i++) {
		rt_ping(c[i]);
		rt_quit(c[i]);
	}
	rt_stop(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_tamper_messages, itest_teardown),
		cmocka_unit_test_teardown(test_tamper_records, itest_teardown),
		cmocka_unit_test_teardown(test_tamper_keys, itest_teardown),
		cmocka_unit_test_teardown(test_tamper_readmit, itest_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
