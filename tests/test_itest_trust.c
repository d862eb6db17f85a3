/* Integration tests of trust in keys and in a room's signed membership: a
 * real cryptocat-server and real batch clients on 127.0.0.1, and a server
 * that lies (its database edited under it with the sqlite3 program).
 *
 * What is proved end to end: fingerprints and safety numbers that two users
 * compare out of band agree; a key is pinned on first sight, and a different
 * key under a pinned nickname (the server swapping keys, or a nickname that
 * expired and was taken by someone else) is announced, given no room key
 * until the user verifies it, and its messages are marked unverified; and a
 * member slipped into a room, a forged or dropped membership record, never
 * gets past a member's client, nor gets a room key from the admin's. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "e2e/e2e.h"
#include "proto/room.h"
#include "support/itest.h"
#include "support/itest_lifecycle.h"
#include "support/itest_rooms.h"
#include "util/buf.h"

static const char *const four[] = {"alice", "bob", "carol", "mallory"};

/* Checks a /fingerprint NICK answer. */
static void check_fingerprint(struct itest_client *c, const char *nick, const char *fp,
			      const char *pinned, int trusted, int verified)
{
	json_t *ev = rt_cmd(c, "fingerprint", "/fingerprint %s", nick);
	assert_string_equal(itest_json_str(ev, "nick"), nick);
	assert_string_equal(itest_json_str(ev, "fingerprint"), fp);
	assert_string_equal(itest_json_str(ev, "pinned"), pinned);
	assert_int_equal(json_is_true(json_object_get(ev, "trusted")) ? 1 : 0, trusted);
	assert_int_equal(json_is_true(json_object_get(ev, "verified")) ? 1 : 0, verified);
	json_decref(ev);
}

/* /safety NICK: 60 digits, and the other's fingerprint FP (unless NULL).
 * Writes the number. */
static void safety(struct itest_client *c, const char *nick, const char *fp, char number[61])
{
	json_t *ev = rt_cmd(c, "safety_number", "/safety %s", nick);
	assert_string_equal(itest_json_str(ev, "nick"), nick);
	if (fp)
		assert_string_equal(itest_json_str(ev, "fingerprint"), fp);
	const char *n = itest_json_str(ev, "number");
	assert_non_null(n);
	assert_int_equal(strlen(n), 60);
	for (const char *p = n; *p; p++)
		assert_true(isdigit((unsigned char)*p));
	memcpy(number, n, 61);
	json_decref(ev);
}

/* ---- 6. fingerprints, safety numbers, a key swapped by the server ------------------ */

static void test_fingerprints_and_swapped_key(void **state)
{
	static const char *const ac[] = {"alice", "carol", NULL};
	struct lc_fixture f;
	struct itest_client *c[4];
	char fp_a[LC_FP_HEX], fp_b[LC_FP_HEX], fp_m[LC_FP_HEX], db_fp[LC_FP_HEX];
	char n_ab[61], n_ba[61], n_ac[61], room[RT_ROOM_HEX];
	json_t *ev;
	(void)state;

	lc_start(&f, "trust-keys", 0);
	rt_clients(f.port, f.dir, four, 4, c);
	struct itest_client *alice = c[0], *bob = c[1], *carol = c[2], *mallory = c[3];

	/* With no nickname: your own key, the one the server registered. */
	ev = rt_cmd(alice, "fingerprint", "/fingerprint");
	assert_string_equal(itest_json_str(ev, "nick"), "alice");
	snprintf(fp_a, sizeof fp_a, "%s", itest_json_str(ev, "fingerprint"));
	assert_null(json_object_get(ev, "pinned"));
	json_decref(ev);
	lc_user_fp("alice", db_fp);
	assert_string_equal(fp_a, db_fp);
	lc_fingerprint(bob, NULL, fp_b);
	lc_fingerprint(mallory, NULL, fp_m);

	/* bob's key, pinned as alice first sees it; not verified yet. */
	check_fingerprint(alice, "bob", fp_b, fp_b, 1, 0);
	/* The same safety number on both sides, another with someone else. */
	safety(alice, "bob", fp_b, n_ab);
	safety(bob, "alice", fp_a, n_ba);
	assert_string_equal(n_ab, n_ba);
	safety(alice, "carol", NULL, n_ac);
	assert_string_not_equal(n_ab, n_ac);
	ev = rt_cmd(alice, "verified", "/verify bob");
	assert_string_equal(itest_json_str(ev, "nick"), "bob");
	assert_string_equal(itest_json_str(ev, "fingerprint"), fp_b);
	json_decref(ev);
	check_fingerprint(alice, "bob", fp_b, fp_b, 1, 1);
	json_decref(lc_cmd_error(alice, "usage", "/safety"));
	json_decref(lc_cmd_error(alice, "unknown_user", "/verify nobody"));

	/* alice has a room with carol; then the server gives bob mallory's
	 * key (and signing key), while neither is connected. */
	rt_create(alice, "carol", "Swap", ac, room);
	json_decref(rt_join(alice, room, 0));
	rt_quit(bob);
	rt_quit(mallory);
	free(rt_sql("CREATE TEMP TABLE k AS SELECT nick_lower, pubkey, fingerprint, sign_pub,"
		    " sign_cert FROM users WHERE nick_lower IN ('bob', 'mallory');"
		    "UPDATE users SET fingerprint = randomblob(32)"
		    " WHERE nick_lower IN ('bob', 'mallory');"
		    "UPDATE users SET"
		    " pubkey = (SELECT pubkey FROM k WHERE k.nick_lower <> users.nick_lower),"
		    " fingerprint = (SELECT fingerprint FROM k WHERE k.nick_lower <> users.nick_lower),"
		    " sign_pub = (SELECT sign_pub FROM k WHERE k.nick_lower <> users.nick_lower),"
		    " sign_cert = (SELECT sign_cert FROM k WHERE k.nick_lower <> users.nick_lower)"
		    " WHERE nick_lower IN ('bob', 'mallory')"));
	lc_user_fp("bob", db_fp);
	assert_string_equal(db_fp, fp_m);

	/* A room with "bob": announced, refused, nothing made. */
	assert_int_equal(itest_client_send(alice, "/create bob,carol Nope"), 0);
	lc_see(alice, "key_changed", NULL, "nick", "bob", "old", fp_b, "new", fp_m, NULL);
	json_decref(itest_client_expect_error(alice, "key_changed", ITEST_TIMEOUT_MS));
	/* Adding "bob": refused too (the change was announced already). */
	ev = lc_cmd_error(alice, "key_changed", "/add bob");
	assert_string_equal(itest_json_str(ev, "room"), room);
	json_decref(ev);
	lc_rooms_has(alice, room, "alice", 2, 1);
	lc_rooms_has(carol, room, "alice", 2, 1);
	assert_int_equal(rt_sql_int("SELECT count(*) FROM rooms"), 1);
	assert_int_equal(rt_sql_int("SELECT count(*) FROM members"), 2);
	assert_int_equal(rt_sql_int("SELECT count(*) FROM room_keys WHERE user IN (%lld, %lld)",
				    lc_user_id("bob"), lc_user_id("mallory")), 0);
	/* /verify accepts only the key alice was shown and compared (bob's
	 * real one, by /safety above), never what the server says now. */
	assert_int_equal(itest_client_send(alice, "/verify bob"), 0);
	lc_see(alice, "key_changed", NULL, "nick", "bob", "old", fp_b, "new", fp_m, NULL);
	json_decref(itest_client_expect_error(alice, "key_changed", ITEST_TIMEOUT_MS));
	/* And nothing can be verified without being shown first. */
	json_decref(lc_cmd_error(alice, "usage", "/verify mallory"));
	/* Having verified the old key does not vouch for the new one. */
	check_fingerprint(alice, "bob", fp_m, fp_b, 0, 0);

	struct itest_client *left[] = {alice, carol};
	lc_quit_all(left, 2);
	lc_stop(&f);
}

/* ---- 7. a nickname taken by a new key: key_changed, verified:false, /verify ------- */

static void test_changed_key(void **state)
{
	static const char *const nicks[] = {"alice", "bob", "dave"};
	static const char *const ab[] = {"alice", "bob", NULL};
	static const char *const dab[] = {"dave", "alice", "bob", NULL};
	struct lc_fixture f;
	struct itest_client *c[3];
	char old_fp[LC_FP_HEX], new_fp[LC_FP_HEX], fp_a[LC_FP_HEX], n1[61], n2[61];
	char r0[RT_ROOM_HEX], r2[RT_ROOM_HEX], r3[RT_ROOM_HEX];
	json_t *ev;
	(void)state;

	lc_start(&f, "trust-changed", 1);
	rt_clients(f.port, f.dir, nicks, 3, c);
	struct itest_client *alice = c[0], *dave = c[2];
	lc_fingerprint(c[1], NULL, old_fp);
	lc_fingerprint(alice, NULL, fp_a);
	/* alice pins bob's key in a room with him. */
	rt_create(alice, "bob", "Old times", ab, r0);
	lc_quit_seen(&f, c[1], NULL);

	/* A day on (alice and dave connected all along), a new key registers
	 * "bob": the old bob is signed out of alice's room at once. */
	lc_clock_hours(&f, 25);
	struct itest_client *bob = rt_client(f.port, lc_home(&f, "bob-new"), "bob", "bob");
	lc_see(alice, "member_expired", r0, "nick", "bob", NULL);
	ev = lc_expect(alice, "rekeyed", r0, "by", "alice", NULL);
	json_decref(ev);
	lc_fingerprint(bob, NULL, new_fp);
	assert_string_not_equal(old_fp, new_fp);

	/* alice cannot hand a room key to the new key unseen. */
	assert_int_equal(itest_client_send(alice, "/create bob Again"), 0);
	lc_see(alice, "key_changed", NULL, "nick", "bob", "old", old_fp, "new", new_fp, NULL);
	json_decref(itest_client_expect_error(alice, "key_changed", ITEST_TIMEOUT_MS));
	lc_rooms_empty(bob);
	check_fingerprint(alice, "bob", new_fp, old_fp, 0, 0);

	/* dave never knew the old bob: his room with both is made. alice,
	 * restarted, is told of the changed key when the room names it. */
	rt_create(dave, "alice,bob", "Via dave", dab, r2);
	rt_quit(alice);
	alice = rt_client(f.port, lc_home(&f, "alice"), "alice", "alice");
	assert_int_equal(itest_client_sendf(alice, "/join %s", r2), 0);
	lc_see(alice, "key_changed", NULL, "nick", "bob", "old", old_fp, "new", new_fp, NULL);
	lc_see(alice, "joined", r2, NULL);
	json_decref(rt_join(bob, r2, 0));
	json_decref(rt_join(dave, r2, 0));

	/* The new key's messages reach alice, marked unverified. */
	rt_say(bob, r2, "hello, it is the new me", 1);
	lc_expect_msg(alice, r2, "bob", "hello, it is the new me", 0);
	lc_expect_msg(dave, r2, "bob", "hello, it is the new me", 1);

	/* They compare safety numbers, alice accepts the key. */
	safety(alice, "bob", new_fp, n1);
	safety(bob, "alice", fp_a, n2);
	assert_string_equal(n1, n2);
	ev = rt_cmd(alice, "verified", "/verify bob");
	assert_string_equal(itest_json_str(ev, "fingerprint"), new_fp);
	json_decref(ev);
	check_fingerprint(alice, "bob", new_fp, new_fp, 1, 1);
	rt_say(bob, r2, "verified now", 1);
	lc_expect_msg(alice, r2, "bob", "verified now", 1);
	lc_expect_msg(dave, r2, "bob", "verified now", 1);

	/* And alice's own room with him is made now. */
	rt_create(alice, "bob", "Trusted again", ab, r3);
	json_decref(rt_join(bob, r3, 0));
	json_decref(rt_join(alice, r3, 0));
	rt_say(bob, r3, "in our new room", 1);
	lc_expect_msg(alice, r3, "bob", "in our new room", 1);

	struct itest_client *all[] = {alice, bob, dave};
	lc_quit_all(all, 3);
	lc_stop(&f);
}

/* ---- 8. a lying server: members slipped in, records forged or dropped ----------- */

/* Appends to ROOM's stored chain an ADD of mallory made from its last
 * record: signed by the key in SIGNER_HOME as SIGNER if given, else keeping
 * the copied signature (which no longer matches). Gives mallory a
 * membership row too, as the server would. */
static void forge_add(const char *room, const char *signer_home, const char *signer)
{
	long long r = lc_room_row(room), mallory = lc_user_id("mallory");
	long long n = rt_sql_int("SELECT record_count FROM rooms WHERE id = %lld", r);
	char fp_m[LC_FP_HEX];
	size_t len;
	uint8_t *last = rt_sql_blob(&len, "SELECT hex(record) FROM records WHERE room = %lld AND"
				    " seq = %lld", r, n - 1);
	struct proto_record rec;
	struct buf out;
	uint8_t hash[PROTO_HASH_LEN];

	assert_int_equal(proto_record_decode(last, len, &rec), CC_OK);
	assert_int_equal(rec.action, PROTO_REC_ADD);
	lc_user_fp("mallory", fp_m);
	rec.seq = (uint32_t)n;
	rec.epoch++;  /* an add opens the next epoch */
	e2e_record_hash(last, len, rec.prev_hash);
	rec.subject = proto_bytes_str("mallory");
	rec.nsubjects = 1;  /* mallory alone, where the copied ADD named several */
	assert_int_equal(hex_decode(fp_m, rec.subject_fp, sizeof rec.subject_fp), CC_OK);
	buf_init(&out, PROTO_RECORD_MAX);
	if (signer) {
		struct crypto_rsa_key *key = NULL;
		assert_int_equal(crypto_rsa_load_private_file(itest_path(signer_home,
			"identity.pem"), &key), CC_OK);
		rec.actor = proto_bytes_str(signer);
		assert_int_equal(crypto_rsa_fingerprint(key, rec.actor_fp), CC_OK);
		assert_int_equal(e2e_record_sign(key, &rec, &out), CC_OK);
		crypto_rsa_free(key);
	} else {
		assert_int_equal(proto_record_encode(&rec, &out), CC_OK);
	}
	e2e_record_hash(out.data, out.len, hash);
	char *rec_hex = rt_hex(out.data, out.len), *hash_hex = rt_hex(hash, sizeof hash);
	free(rt_sql("INSERT INTO records(room, seq, record) VALUES(%lld, %lld, X'%s');"
		    "UPDATE rooms SET record_count = %lld, last_record_hash = X'%s' WHERE id = %lld;"
		    "INSERT INTO members(room, user, first_msg_id, last_read_msg_id, since_epoch)"
		    " VALUES(%lld, %lld, 1, 0, 0)",
		    r, n, rec_hex, n + 1, hash_hex, r, r, mallory));
	free(rec_hex);
	free(hash_hex);
	buf_free(&out);
	free(last);
}

/* /join ROOM is refused by C's client: a security error, no joined, and
 * nothing after it. */
static void join_refused(struct itest_client *c, const char *room)
{
	json_t *ev = lc_cmd_error(c, "security", "/join %s", room);
	assert_string_equal(itest_json_str(ev, "room"), room);
	json_decref(ev);
	rt_ping(c);
}

static void test_membership_attacks(void **state)
{
	static const char *const abc[] = {"alice", "bob", "carol", NULL};
	struct lc_fixture f;
	struct itest_client *c[4];
	char forged[RT_ROOM_HEX], slipped[RT_ROOM_HEX], dropped[RT_ROOM_HEX], by_bob[RT_ROOM_HEX];
	json_t *ev;
	(void)state;

	lc_start(&f, "trust-chain", 0);
	rt_clients(f.port, f.dir, four, 4, c);
	struct itest_client *alice = c[0], *bob = c[1], *carol = c[2], *mallory = c[3];
	rt_create(alice, "bob,carol", "Forged", abc, forged);
	rt_create(alice, "bob,carol", "Slipped", abc, slipped);
	rt_create_one_by_one(alice, "bob,carol", "Dropped", abc, dropped);
	rt_create(alice, "bob,carol", "By bob", abc, by_bob);
	long long m_id = lc_user_id("mallory");

	/* A membership row alone: the server lists the room to mallory, but
	 * her own client refuses it (the chain does not name her), and when
	 * bob leaves, the admin's client wraps the new key to the chain's
	 * members only. */
	for (int i = 0; i < 3; i++)
		json_decref(rt_join(c[i], slipped, 0));
	long long r = lc_room_row(slipped);
	free(rt_sql("INSERT INTO members(room, user, first_msg_id, last_read_msg_id, since_epoch)"
		    " VALUES(%lld, %lld, 1, 0, 0)", r, m_id));
	ev = rt_rooms(mallory);
	assert_non_null(rt_rooms_find(ev, slipped));
	json_decref(ev);
	join_refused(mallory, slipped);
	json_decref(rt_cmd(bob, "left", "/leave %s", slipped));
	lc_see(alice, "member_left", slipped, "nick", "bob", NULL);
	ev = lc_expect(alice, "rekeyed", slipped, "by", "alice", NULL);
	assert_int_equal(itest_json_int(ev, "epoch", -1), 2);
	json_decref(ev);
	lc_see(carol, "member_left", slipped, "nick", "bob", NULL);
	lc_see(carol, "rekeyed", slipped, "by", "alice", NULL);
	/* The server told mallory too that a key is owed: her client looked,
	 * and refused the room again. */
	json_decref(rt_expect_room_error(mallory, "security", slipped, NULL));
	/* No secret of the new epoch was ever wrapped to mallory (the members'
	 * own copies go as soon as their clients hold the keys); carol reading
	 * the next message shows hers arrived. */
	assert_int_equal(rt_sql_int("SELECT count(*) FROM room_keys WHERE room = %lld AND"
				    " epoch = 2 AND user = %lld", r, m_id), 0);
	struct rt_sent s = rt_say(alice, slipped, "members only", 0);
	rt_expect_msg(carol, slipped, "alice", "members only", s.seq, s.msg_id);
	join_refused(mallory, slipped);

	/* A forged ADD (a copied signature), and one signed by bob, who is not
	 * the admin: no member's client opens the room, not even mallory's. */
	forge_add(forged, NULL, NULL);
	forge_add(by_bob, lc_home(&f, "bob"), "bob");
	for (int i = 0; i < 4; i++) {
		join_refused(c[i], forged);
		join_refused(c[i], by_bob);
	}
	/* A record dropped from the middle (the others renumbered). */
	r = lc_room_row(dropped);
	free(rt_sql("DELETE FROM records WHERE room = %lld AND seq = 1;"
		    "UPDATE records SET seq = seq + 1000 WHERE room = %lld AND seq > 1;"
		    "UPDATE records SET seq = seq - 1001 WHERE room = %lld AND seq > 1000;"
		    "UPDATE rooms SET record_count = record_count - 1 WHERE id = %lld",
		    r, r, r, r));
	for (int i = 0; i < 3; i++)
		join_refused(c[i], dropped);

	/* New keys owed for the forged rooms: the admin's client, connecting,
	 * refuses to make them rather than trust the chain. */
	free(rt_sql("UPDATE rooms SET rekey_owed = 1 WHERE id IN (%lld, %lld)",
		    lc_room_row(forged), lc_room_row(by_bob)));
	rt_quit(alice);
	alice = itest_client_start(f.port, lc_home(&f, "alice"), "alice", NULL);
	assert_non_null(alice);
	c[0] = alice;
	lc_see(alice, "registered", NULL, "nick", "alice", NULL);
	json_decref(rt_expect_room_error(alice, "security", forged, NULL));
	json_decref(rt_expect_room_error(alice, "security", by_bob, NULL));
	rt_ping(alice);
	assert_int_equal(rt_sql_int("SELECT count(*) FROM room_keys WHERE user = %lld", m_id), 0);
	assert_int_equal(rt_sql_int("SELECT max(epoch) FROM rooms WHERE id IN (%lld, %lld)",
				    lc_room_row(forged), lc_room_row(by_bob)), 1);

	lc_quit_all(c, 4);
	lc_stop(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_fingerprints_and_swapped_key, lc_teardown),
		cmocka_unit_test_teardown(test_changed_key, lc_teardown),
		cmocka_unit_test_teardown(test_membership_attacks, lc_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
