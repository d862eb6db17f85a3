/* The attacker's copy: what a byte-level copy of a member's home directory
 * and of the server's data directory, taken at a moment t, still opens.
 * Every attempt is made with the project's own code (tests/support/
 * itest_insider.c: the copy's chain keys, then every secret the copied
 * server database holds wrapped to the member, opened with every receiving
 * key in the copied client.db), and each refusal is paired with a positive
 * control, the same attack on a copy taken when it should still work, so a
 * broken attack cannot pass for a working protection.
 *
 *   1. Within an epoch: a device stolen at t opens nothing it had received
 *      before t; no chain or message key of those messages is left in its
 *      files, byte for byte.
 *   2. Across epochs: once the member's receiving key was replaced and the
 *      old one's grace period passed, its home and a copy of the server's
 *      database taken earlier, wrapped secrets and all, open nothing of
 *      before the replacement.
 *   3. Healing: a device copied at t, then the member's receiving key
 *      replaced and a new epoch made: nothing of that epoch opens from the
 *      copy, even with the server's database beside it.
 *   4, 5. A hostile directory: a receiving key bob never certified, or an
 *      older one of his, is not used.
 *   6. Healing when the server keeps offering the replaced key: bob's own
 *      client notices and makes the epoch that heals. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "e2e/e2e.h"
#include "proto/room.h"
#include "store/client_store.h"
#include "support/itest.h"
#include "support/itest_insider.h"
#include "support/itest_lifecycle.h"
#include "support/itest_rooms.h"

static const char *const pair[] = {"alice", "bob", NULL};
static const char *const both_nicks[] = {"alice", "bob"};

/* Receiving keys replaced every 100 s, deleted 100 s after: the clock file
 * moves minutes, not the weeks of the defaults (a day would expire the
 * nicknames). */
static const char *const fast_keys[] = {"--key-rotate", "100", "--key-grace", "100", NULL};

static char *db_of(const char *data_dir)
{
	char *p = malloc(strlen(data_dir) + 32);
	assert_non_null(p);
	sprintf(p, "%s/cryptocat.db", data_dir);
	return p;
}

/* A copy (cp -a) of the directory SRC as F's NAME. */
static const char *copy_dir(struct lc_fixture *f, const char *src, const char *name)
{
	char cmd[8192];
	char *dst = strdup(itest_path(f->dir, name));
	assert_non_null(dst);
	snprintf(cmd, sizeof cmd, "rm -rf '%s' && cp -a '%s' '%s'", dst, src, dst);
	assert_int_equal(system(cmd), 0);
	free(dst);
	return itest_path(f->dir, name);
}

/* The stored envelope of message MSG_ID of ROOM, in the database at DB
 * (caller frees). */
static uint8_t *envelope_in(const char *db, struct lc_fixture *f, const char *room,
			    long long msg_id, size_t *len)
{
	rt_db_use(db, f->dir);
	uint8_t *blob = rt_sql_blob(len, "SELECT hex(m.blob) FROM messages AS m JOIN rooms AS r"
				    " ON r.id = m.room WHERE r.room_id = X'%s' AND m.msg_id = %lld",
				    room, msg_id);
	assert_true(*len > 0);
	return blob;
}

/* 1 if the member's device HOME, with the server's database at DB beside
 * it, opens ENV. */
static int opens(struct lc_fixture *f, const char *home, const char *nick, const char *db,
		 const char *room, const uint8_t *env, size_t len)
{
	struct insider in;
	rt_db_use(db, f->dir);
	insider_load(&in, home, nick);
	int rc = insider_opens(&in, room, env, len);
	insider_free(&in);
	return rc;
}

static void restore_db(struct lc_fixture *f)
{
	rt_db_use(itest_path(f->data, "cryptocat.db"), f->dir);
}

/* 1 if any file in DIR holds the N bytes of NEEDLE. */
static int dir_holds(const char *dir, const uint8_t *needle, size_t n)
{
	static const char *const files[] = {"client.db", "client.db-journal", "client.db-wal",
					    "identity.pem", "known_servers", "nick"};
	for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
		size_t len = 0;
		char *data = itest_read_file(itest_path(dir, files[i]), &len);
		int found = 0;
		for (size_t k = 0; data && !found && k + n <= len; k++)
			found = memcmp(data + k, needle, n) == 0;
		free(data);
		if (found)
			return 1;
	}
	return 0;
}

/* alice and bob, and a room of theirs; joined by both if JOIN. */
static void start(struct lc_fixture *f, const char *name, struct itest_client **c, char *room,
		  int join)
{
	lc_start(f, name, 1);
	for (int i = 0; i < 2; i++) {
		c[i] = itest_client_start(f->port, lc_home(f, both_nicks[i]), both_nicks[i],
					  fast_keys);
		assert_non_null(c[i]);
		lc_see(c[i], "registered", NULL, "nick", both_nicks[i], NULL);
	}
	rt_create(c[0], "bob", "Secrets", pair, room);
	for (int i = 0; join && i < 2; i++)
		json_decref(rt_join(c[i], room, 0));
}

/* ---- 1. within an epoch ------------------------------------------------------ */

static void test_stolen_device_reads_nothing_past(void **state)
{
	struct lc_fixture f;
	struct itest_client *c[2];
	char room[RT_ROOM_HEX];
	(void)state;

	start(&f, "fs-within", c, room, 1);
	struct itest_client *alice = c[0], *bob = c[1];
	/* bob's device before any message: alice's chain key of number 1. */
	const char *before = lc_home_copy(&f, "bob", "bob-before");
	uint8_t room_id[PROTO_ROOM_ID_LEN], alice_fp[32], ck1[32], mk1[32], ck2[32];
	assert_int_equal(hex_decode(room, room_id, sizeof room_id), CC_OK);
	size_t n;
	uint8_t *fp = rt_sql_blob(&n, "SELECT hex(fingerprint) FROM users WHERE nick_lower ="
				  " 'alice'");
	assert_int_equal(n, 32);
	memcpy(alice_fp, fp, 32);
	free(fp);
	uint32_t epoch = (uint32_t)rt_sql_int("SELECT epoch FROM rooms WHERE room_id = X'%s'", room);
	struct client_store *cs = NULL;
	uint64_t next = 0;
	assert_int_equal(cstore_open(itest_path(before, "client.db"), &cs), CC_OK);
	assert_int_equal(cstore_chain_get(cs, room_id, epoch, alice_fp, ck1, &next), CC_OK);
	cstore_close(cs);
	assert_int_equal(next, 1);
	assert_int_equal(e2e_ratchet_step(ck1, mk1, ck2), CC_OK);
	/* A control: the copy's files hold that chain key. */
	assert_true(dir_holds(before, ck1, sizeof ck1));

	struct rt_sent s1 = rt_say(alice, room, "first secret", 0);
	rt_expect_msg(bob, room, "alice", "first secret", s1.seq, s1.msg_id);
	struct rt_sent s2 = rt_say(alice, room, "second secret", 0);
	rt_expect_msg(bob, room, "alice", "second secret", s2.seq, s2.msg_id);

	/* t: bob's device and the server's disk are copied. */
	const char *stolen = lc_home_copy(&f, "bob", "bob-stolen");
	const char *data = copy_dir(&f, f.data, "server-at-t");
	char *db = db_of(data);
	/* And the next message, after t (the copy's chain is ready for it). */
	struct rt_sent s3 = rt_say(alice, room, "after the theft", 0);
	rt_expect_msg(bob, room, "alice", "after the theft", s3.seq, s3.msg_id);
	char *db_now = db_of(f.data);

	size_t len1, len2, len3;
	uint8_t *m1 = envelope_in(db_now, &f, room, s1.msg_id, &len1);
	uint8_t *m2 = envelope_in(db_now, &f, room, s2.msg_id, &len2);
	uint8_t *m3 = envelope_in(db_now, &f, room, s3.msg_id, &len3);
	/* What bob had read before t: nothing opens it. */
	assert_int_equal(opens(&f, stolen, "bob", db, room, m1, len1), 0);
	assert_int_equal(opens(&f, stolen, "bob", db, room, m2, len2), 0);
	/* Controls: the device before any message opens both; the stolen copy
	 * opens what came after t. */
	assert_int_equal(opens(&f, before, "bob", db, room, m1, len1), 1);
	assert_int_equal(opens(&f, before, "bob", db, room, m2, len2), 1);
	assert_int_equal(opens(&f, stolen, "bob", db, room, m3, len3), 1);
	/* Byte for byte: neither the chain key nor the message key of the
	 * first message is anywhere in the stolen files. */
	assert_false(dir_holds(stolen, ck1, sizeof ck1));
	assert_false(dir_holds(stolen, mk1, sizeof mk1));
	assert_false(dir_holds(stolen, ck2, sizeof ck2));
	restore_db(&f);

	free(m1);
	free(m2);
	free(m3);
	free(db);
	free(db_now);
	mem_wipe(ck1, sizeof ck1);
	mem_wipe(ck2, sizeof ck2);
	mem_wipe(mk1, sizeof mk1);
	lc_quit_all(c, 2);
	lc_stop(&f);
}

/* ---- 2. across epochs: a replaced receiving key ------------------------------ */

/* Restarts NICK's client (the receiving key is checked at connect). */
static struct itest_client *reconnect(struct lc_fixture *f, struct itest_client *c,
				      const char *nick)
{
	lc_quit_seen(f, c, nick);
	c = itest_client_start(f->port, lc_home(f, nick), NULL, fast_keys);
	assert_non_null(c);
	lc_see(c, "registered", NULL, "nick", nick, NULL);
	rt_ping(c);  /* the sweep at connect is done */
	return c;
}

static long long recv_version_of(const char *nick)
{
	return rt_sql_int("SELECT recv_version FROM users WHERE nick_lower = '%s'", nick);
}

static void test_old_receiving_key_gone(void **state)
{
	struct lc_fixture f;
	struct itest_client *c[2];
	char room[RT_ROOM_HEX];
	(void)state;

	start(&f, "fs-rotation", c, room, 0);
	struct itest_client *alice = c[0];
	json_decref(rt_join(alice, room, 0));
	struct rt_sent s1 = rt_say(alice, room, "before the rotation", 0);
	/* A hostile server keeps everything: its disk now, with bob's wrapped
	 * secret of the epoch (bob has not opened the room yet). */
	const char *data = copy_dir(&f, f.data, "server-kept");
	char *db = db_of(data);
	rt_db_use(db, f.dir);
	assert_true(rt_sql_int("SELECT count(*) FROM room_keys AS k JOIN users AS u ON u.id = k.user"
			       " WHERE u.nick_lower = 'bob'") > 0);
	restore_db(&f);
	c[1] = reconnect(&f, c[1], "bob");
	json_decref(rt_join(c[1], room, 1));
	rt_expect_msg(c[1], room, "alice", "before the rotation", s1.seq, s1.msg_id);
	const char *with_old_key = lc_home_copy(&f, "bob", "bob-key-1");
	assert_int_equal(recv_version_of("bob"), 1);

	/* 150 s on: bob's key is due; he replaces it at his next connect. */
	lc_clock_write(f.clock, f.t0 + 150);
	c[1] = reconnect(&f, c[1], "bob");
	assert_int_equal(recv_version_of("bob"), 2);
	/* 150 s more: past the grace period, the old key's private half goes. */
	lc_clock_write(f.clock, f.t0 + 300);
	c[1] = reconnect(&f, c[1], "bob");
	const char *after = lc_home_copy(&f, "bob", "bob-key-2");
	struct client_store *cs = NULL;
	struct cstore_recv_key k;
	assert_int_equal(cstore_open(itest_path(after, "client.db"), &cs), CC_OK);
	assert_int_equal(cstore_recv_get(cs, 1, &k), CC_ERR_NOT_FOUND);
	assert_int_equal(cstore_recv_get(cs, 2, &k), CC_OK);
	cstore_close(cs);
	mem_wipe(&k, sizeof k);

	/* bob's identity key and home now, and the server's disk as it was
	 * (his wrapped secret in it): nothing of before opens. */
	char *db_now = db_of(f.data);
	size_t len;
	uint8_t *m1 = envelope_in(db_now, &f, room, s1.msg_id, &len);
	assert_int_equal(opens(&f, after, "bob", db, room, m1, len), 0);
	/* Control: with the old receiving key (his home before the deletion),
	 * the same disk opens it: only the deletion stands in the way. */
	assert_int_equal(opens(&f, with_old_key, "bob", db, room, m1, len), 1);
	restore_db(&f);

	free(m1);
	free(db);
	free(db_now);
	lc_quit_all(c, 2);
	lc_stop(&f);
}

/* ---- 3. healing -------------------------------------------------------------- */

static void test_copy_heals_after_rekey(void **state)
{
	struct lc_fixture f;
	struct itest_client *c[3];
	char room[RT_ROOM_HEX];
	(void)state;

	start(&f, "fs-healing", c, room, 1);
	c[2] = rt_client(f.port, lc_home(&f, "carol"), "carol", "carol");
	struct itest_client *alice = c[0];
	struct rt_sent s0 = rt_say(alice, room, "before the copy", 0);
	rt_expect_msg(c[1], room, "alice", "before the copy", s0.seq, s0.msg_id);
	/* t: bob's device is copied (its receiving key and chain keys). */
	const char *stolen = lc_home_copy(&f, "bob", "bob-stolen");

	/* bob's receiving key is replaced, then alice adds carol: a new epoch,
	 * its secret wrapped to everyone's current key. bob is not listening,
	 * so his wrapped copy stays on the server for the attacker to take. */
	lc_clock_write(f.clock, f.t0 + 150);
	c[1] = reconnect(&f, c[1], "bob");
	assert_int_equal(recv_version_of("bob"), 2);
	const char *rotated = lc_home_copy(&f, "bob", "bob-rotated");
	json_decref(rt_cmd(alice, "member_added", "/add carol"));
	struct rt_sent s1 = rt_say(alice, room, "after the rekey", 0);
	const char *data = copy_dir(&f, f.data, "server-after-rekey");
	char *db = db_of(data);
	rt_db_use(db, f.dir);
	long long epoch = rt_sql_int("SELECT epoch FROM messages WHERE msg_id = %lld", s1.msg_id);
	assert_true(rt_sql_int("SELECT count(*) FROM room_keys AS k JOIN users AS u ON u.id = k.user"
			       " WHERE u.nick_lower = 'bob' AND k.epoch = %lld", epoch) == 1);
	restore_db(&f);

	char *db_now = db_of(f.data);
	size_t len;
	uint8_t *m1 = envelope_in(db_now, &f, room, s1.msg_id, &len);
	/* The copy taken at t, with the server's disk: nothing of the new epoch. */
	assert_int_equal(opens(&f, stolen, "bob", db, room, m1, len), 0);
	/* Control: bob's device after the replacement opens it from the same
	 * disk (his current key). */
	assert_int_equal(opens(&f, rotated, "bob", db, room, m1, len), 1);
	/* And bob reads it. */
	json_decref(rt_join(c[1], room, 1));
	rt_expect_msg(c[1], room, "alice", "after the rekey", s1.seq, s1.msg_id);
	restore_db(&f);

	free(m1);
	free(db);
	free(db_now);
	lc_quit_all(c, 3);
	lc_stop(&f);
}

/* ---- 4, 5. a hostile directory ---------------------------------------------------- */

/* 1 if bob's wrapped secret of EPOCH in ROOM opens with the X25519 private
 * key PRIV (the server's own, say). */
static int server_opens_bobs_secret(const char *room, long long epoch,
				    const uint8_t priv[32])
{
	uint8_t room_id[PROTO_ROOM_ID_LEN], fp[32], secret[32];
	size_t n;
	assert_int_equal(hex_decode(room, room_id, sizeof room_id), CC_OK);
	uint8_t *b = rt_sql_blob(&n, "SELECT hex(fingerprint) FROM users WHERE nick_lower = 'bob'");
	assert_int_equal(n, 32);
	memcpy(fp, b, 32);
	free(b);
	uint8_t *w = rt_sql_blob(&n, "SELECT hex(k.wrapped) FROM room_keys AS k JOIN users AS u"
				 " ON u.id = k.user JOIN rooms AS r ON r.id = k.room WHERE"
				 " u.nick_lower = 'bob' AND k.epoch = %lld AND r.room_id = X'%s'",
				 epoch, room);
	assert_true(n > 0);
	int rc = e2e_key_unwrap(priv, fp, room_id, (uint32_t)epoch, w, n, secret) == CC_OK;
	free(w);
	mem_wipe(secret, sizeof secret);
	return rc;
}

/* The server offers its own receiving key as bob's (its certificate cannot
 * verify): alice's client keeps to the one bob certified and wraps to it;
 * the server's key opens nothing. */
static void test_substituted_receiving_key(void **state)
{
	struct lc_fixture f;
	struct itest_client *c[3];
	char room[RT_ROOM_HEX];
	uint8_t priv[32], pub[32];
	(void)state;

	start(&f, "fs-substitute", c, room, 1);
	c[2] = rt_client(f.port, lc_home(&f, "carol"), "carol", "carol");
	assert_int_equal(crypto_x25519_keypair(priv, pub), CC_OK);
	char *hex = rt_hex(pub, sizeof pub);
	free(rt_sql("UPDATE users SET recv_pub = X'%s' WHERE nick_lower = 'bob'", hex));
	free(hex);
	json_decref(rt_cmd(c[1], "disconnected", "/disconnect %s", room));
	json_decref(rt_cmd(c[0], "member_added", "/add carol"));
	struct rt_sent s = rt_say(c[0], room, "for the real bob", 0);
	long long epoch = rt_sql_int("SELECT epoch FROM messages WHERE msg_id = %lld", s.msg_id);
	assert_int_equal(server_opens_bobs_secret(room, epoch, priv), 0);
	json_decref(rt_join(c[1], room, 1));
	rt_expect_msg(c[1], room, "alice", "for the real bob", s.seq, s.msg_id);
	mem_wipe(priv, sizeof priv);
	lc_quit_all(c, 3);
	lc_stop(&f);
}

/* bob replaced his receiving key; the server offers the old one again (its
 * private half may be deleted, or stolen). alice's client, which saw the
 * new one, says so and wraps to the new one. */
static void test_older_receiving_key_refused(void **state)
{
	struct lc_fixture f;
	struct itest_client *c[3];
	char room[RT_ROOM_HEX];
	(void)state;

	start(&f, "fs-downgrade", c, room, 1);
	c[2] = rt_client(f.port, lc_home(&f, "carol"), "carol", "carol");
	char *old = rt_sql("SELECT hex(recv_pub) || ' ' || hex(recv_cert) || ' ' ||"
			   " recv_created_ms FROM users WHERE nick_lower = 'bob'");
	char old_pub[65], old_cert[2048];
	unsigned long long old_created;
	assert_int_equal(sscanf(old, "%64s %2047s %llu", old_pub, old_cert, &old_created), 3);
	free(old);
	/* bob's key is replaced; alice sees the new one when she adds carol. */
	lc_clock_write(f.clock, f.t0 + 150);
	c[1] = reconnect(&f, c[1], "bob");
	assert_int_equal(recv_version_of("bob"), 2);
	json_decref(rt_cmd(c[0], "member_added", "/add carol"));
	/* The server brings back version 1; alice kicks carol: a new epoch. */
	free(rt_sql("UPDATE users SET recv_version = 1, recv_pub = X'%s', recv_cert = X'%s',"
		    " recv_created_ms = %llu WHERE nick_lower = 'bob'", old_pub, old_cert,
		    old_created));
	assert_int_equal(itest_client_sendf(c[0], "/kick carol"), 0);
	json_t *ev = rt_expect_room_error(c[0], "security", room, NULL);
	assert_non_null(strstr(itest_json_str(ev, "message"), "older receiving key"));
	json_decref(ev);
	json_decref(itest_client_expect(c[0], "member_kicked", ITEST_TIMEOUT_MS));
	struct rt_sent s = rt_say(c[0], room, "to the new key", 0);
	json_decref(rt_join(c[1], room, 1));
	rt_expect_msg(c[1], room, "alice", "to the new key", s.seq, s.msg_id);
	lc_quit_all(c, 3);
	lc_stop(&f);
}

/* ---- 6. healing, with the new receiving key withheld ---------------------------- */

/* bob's device is copied; bob replaces his receiving key; the server keeps
 * offering the old one (which the copy holds) so that the next epochs stay
 * readable to the copy. bob's client sees the new epoch wrapped to a key it
 * replaced long before, says so, and makes another epoch itself, wrapped to
 * its own current key: the copy reads the first (the attack is real) and
 * nothing of the second. */
static void test_withheld_receiving_key_heals(void **state)
{
	/* The old key is kept (long grace): only the check can heal. */
	static const char *const keep_old[] = {"--key-rotate", "100", "--key-grace", "100000",
					       NULL};
	struct lc_fixture f;
	struct itest_client *c[3];
	char room[RT_ROOM_HEX];
	(void)state;

	lc_start(&f, "fs-withheld", 1);
	for (int i = 0; i < 2; i++) {
		c[i] = itest_client_start(f.port, lc_home(&f, both_nicks[i]), both_nicks[i],
					  keep_old);
		assert_non_null(c[i]);
		lc_see(c[i], "registered", NULL, "nick", both_nicks[i], NULL);
	}
	rt_create(c[0], "bob", "Secrets", pair, room);
	json_decref(rt_join(c[0], room, 0));
	c[2] = rt_client(f.port, lc_home(&f, "carol"), "carol", "carol");
	const char *stolen = lc_home_copy(&f, "bob", "bob-stolen");
	char *old = rt_sql("SELECT hex(recv_pub) || ' ' || hex(recv_cert) || ' ' ||"
			   " recv_created_ms FROM users WHERE nick_lower = 'bob'");
	char old_pub[65], old_cert[2048];
	unsigned long long old_created;
	assert_int_equal(sscanf(old, "%64s %2047s %llu", old_pub, old_cert, &old_created), 3);
	free(old);

	/* bob replaces his key; the server puts the old one back. */
	lc_clock_write(f.clock, f.t0 + 150);
	lc_quit_seen(&f, c[1], "bob");
	c[1] = itest_client_start(f.port, lc_home(&f, "bob"), NULL, keep_old);
	assert_non_null(c[1]);
	lc_see(c[1], "registered", NULL, "nick", "bob", NULL);
	rt_ping(c[1]);
	assert_int_equal(recv_version_of("bob"), 2);
	char *cur = rt_sql("SELECT hex(recv_pub) || ' ' || hex(recv_cert) || ' ' ||"
			   " recv_created_ms FROM users WHERE nick_lower = 'bob'");
	free(rt_sql("UPDATE users SET recv_version = 1, recv_pub = X'%s', recv_cert = X'%s',"
		    " recv_created_ms = %llu WHERE nick_lower = 'bob'", old_pub, old_cert,
		    old_created));

	/* Two hours on, alice adds carol: she never saw bob's new key. */
	lc_clock_write(f.clock, f.t0 + 150 + 7200);
	json_decref(rt_cmd(c[0], "member_added", "/add carol"));
	struct rt_sent s1 = rt_say(c[0], room, "wrapped to the old key", 0);
	const char *data = copy_dir(&f, f.data, "server-withheld");
	char *db = db_of(data);
	char *db_now = db_of(f.data);
	size_t len;
	uint8_t *m1 = envelope_in(db_now, &f, room, s1.msg_id, &len);
	/* The attack is real: the copy opens that epoch. */
	assert_int_equal(opens(&f, stolen, "bob", db, room, m1, len), 1);
	restore_db(&f);

	/* The server shows bob his own entry as he published it (only the
	 * others see the old key). bob opens the room: he reads the message,
	 * says what happened and makes a new epoch to his current key. */
	char cur_pub[65], cur_cert[2048];
	unsigned long long cur_created;
	assert_int_equal(sscanf(cur, "%64s %2047s %llu", cur_pub, cur_cert, &cur_created), 3);
	free(cur);
	free(rt_sql("UPDATE users SET recv_version = 2, recv_pub = X'%s', recv_cert = X'%s',"
		    " recv_created_ms = %llu WHERE nick_lower = 'bob'", cur_pub, cur_cert,
		    cur_created));
	assert_int_equal(itest_client_sendf(c[1], "/join %s", room), 0);
	json_t *ev = rt_expect_room_error(c[1], "security", room, NULL);
	assert_non_null(strstr(itest_json_str(ev, "message"), "replaced long before"));
	json_decref(ev);
	lc_see(c[1], "joined", room, NULL);
	rt_expect_msg(c[1], room, "alice", "wrapped to the old key", s1.seq, s1.msg_id);
	lc_see(c[1], "rekeyed", room, "by", "bob", NULL);
	lc_see(c[0], "rekeyed", room, "by", "bob", NULL);
	const char *healed = lc_home_copy(&f, "bob", "bob-healed");
	struct rt_sent s2 = rt_say(c[0], room, "after bob's own epoch", 0);
	rt_expect_msg(c[1], room, "alice", "after bob's own epoch", s2.seq, s2.msg_id);
	/* The copy, with the server's disk as it is now, opens nothing of it. */
	free(db);
	data = copy_dir(&f, f.data, "server-healed");
	db = db_of(data);
	free(m1);
	m1 = envelope_in(db_now, &f, room, s2.msg_id, &len);
	assert_int_equal(opens(&f, stolen, "bob", db, room, m1, len), 0);
	/* Control: bob's device as it was after his new epoch opens it. */
	assert_int_equal(opens(&f, healed, "bob", db, room, m1, len), 1);
	restore_db(&f);

	free(m1);
	free(db);
	free(db_now);
	lc_quit_all(c, 3);
	lc_stop(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_stolen_device_reads_nothing_past, lc_teardown),
		cmocka_unit_test_teardown(test_old_receiving_key_gone, lc_teardown),
		cmocka_unit_test_teardown(test_copy_heals_after_rekey, lc_teardown),
		cmocka_unit_test_teardown(test_substituted_receiving_key, lc_teardown),
		cmocka_unit_test_teardown(test_older_receiving_key_refused, lc_teardown),
		cmocka_unit_test_teardown(test_withheld_receiving_key_heals, lc_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
