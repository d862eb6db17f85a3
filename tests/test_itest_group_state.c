/* A hostile server against a room's state: real batch clients behind a
 * proxy that holds the server's key (tests/support/hostile.h), a server
 * database edited under the server, and an insider's forgeries made from a
 * member's key and that database (tests/support/itest_insider.h). Each test
 * is one finding of the security review of the protocol's first version
 * (issue 7), which worked then and must not now:
 *
 *   1  rollback: the server drops a kick from the chain it shows a member
 *   1b fork: a member is shown another record at the same place
 *   2  TOFU: a key trusted by the name the server's directory gives it
 *   3  a rekey the server suppresses after a member left
 *   4  a removed member posting into the epoch it was removed from
 *   5  a new member reading what was said before it was added
 *   6  the server deposing an active admin (expiry), and picking the heir
 *
 * Where a test's attack counts epochs or records one per member, its room is
 * made one member at a time (rt_create_one_by_one); the others start as a
 * client makes a room, with one ADD naming every invitee. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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

static const char *const three[] = {"alice", "bob", "carol", NULL};

/* The proxy of the test in progress, stopped by the teardown if it fails. */
static struct hostile *proxy;

static int gs_teardown(void **state)
{
	hostile_stop(proxy);
	proxy = NULL;
	return lc_teardown(state);
}

/* A server (with its database open to the test, and the test clock if
 * CLOCK), and the hostile proxy in front of it: clients get its port. */
static int gs_start(struct lc_fixture *f, const char *name, int clock)
{
	lc_start(f, name, clock);
	proxy = hostile_start(f->port, f->data, f->dir);
	assert_non_null(proxy);
	return hostile_port(proxy);
}

static void gs_stop(struct lc_fixture *f)
{
	hostile_stop(proxy);
	proxy = NULL;
	lc_stop(f);
}

static void join_all(struct itest_client **c, size_t n, const char *room)
{
	for (size_t i = 0; i < n; i++)
		json_decref(rt_join(c[i], room, 0));
}

/* /join ROOM: refused (security) with a message containing WHY; nothing
 * else comes of it. */
static void join_refused(struct itest_client *c, const char *room, const char *why)
{
	json_t *ev = lc_cmd_error(c, "security", "/join %s", room);
	assert_string_equal(itest_json_str(ev, "room"), room);
	fprintf(stderr, "[group-state] %s refused the room: %s\n",
		itest_client_nick(c) ? itest_client_nick(c) : "a client",
		itest_json_str(ev, "message"));
	if (why)
		assert_non_null(strstr(itest_json_str(ev, "message"), why));
	json_decref(ev);
	rt_ping(c);
}

static int same_room(const uint8_t id[PROTO_ROOM_ID_LEN], const char *room_hex)
{
	uint8_t room[PROTO_ROOM_ID_LEN];
	return hex_decode(room_hex, room, sizeof room) == CC_OK &&
	       memcmp(id, room, sizeof room) == 0;
}

/* ---- 1. rollback: the kick dropped from bob's view ------------------------ */

struct rollback_ctx {
	const char *room;
	uint32_t drop_from_epoch;   /* keys of this epoch and later go too */
	int rewritten;
};

/* bob's ROOM_STATE without its last record (the kick) and without the keys
 * of the epoch the kick opened: the room as it was before. */
static enum hostile_verdict rollback_filter(void *ctx, const char *nick, int session,
					    enum hostile_dir dir, const struct proto_msg *m,
					    const uint8_t *body, size_t len, struct buf *out)
{
	struct rollback_ctx *rc = ctx;
	(void)session, (void)body, (void)len;
	if (dir != HOSTILE_TO_CLIENT || strcasecmp(nick, "bob") != 0 ||
	    m->type != PROTO_ROOM_STATE || !same_room(m->u.room_state.room_id, rc->room))
		return HOSTILE_PASS;
	struct proto_msg copy = *m;
	struct proto_room_state *st = &copy.u.room_state;
	struct proto_list_iter it;
	struct proto_chain_item rec;
	struct proto_wrapped_item w;
	struct buf records, keys;
	buf_init(&records, 1024 * 1024);
	buf_init(&keys, 64 * 1024);
	uint16_t nrec = 0, nkeys = 0;
	proto_list_iter_init(&it, &m->u.room_state.records, PROTO_ITEM_CHAIN);
	while (nrec + 1 < m->u.room_state.records.count && proto_list_next(&it, &rec) == CC_OK)
		if (proto_item_encode(PROTO_ITEM_CHAIN, &rec, &records) == CC_OK)
			nrec++;
	proto_list_iter_init(&it, &m->u.room_state.keys, PROTO_ITEM_WRAPPED);
	while (proto_list_next(&it, &w) == CC_OK)
		if (w.epoch < rc->drop_from_epoch &&
		    proto_item_encode(PROTO_ITEM_WRAPPED, &w, &keys) == CC_OK)
			nkeys++;
	st->records = (struct proto_list){nrec, {records.data, records.len}};
	st->keys = (struct proto_list){nkeys, {keys.data, keys.len}};
	cc_err err = hostile_frame_msg(out, &copy);
	buf_free(&records);
	buf_free(&keys);
	if (err)
		return HOSTILE_PASS;
	rc->rewritten++;
	return HOSTILE_REPLACE;
}

static void test_rollback_of_a_kick(void **state)
{
	struct lc_fixture f;
	struct itest_client *c[3];
	char room[RT_ROOM_HEX];
	(void)state;

	int port = gs_start(&f, "gs-rollback", 0);
	rt_clients(port, f.dir, three, 3, c);
	struct itest_client *alice = c[0], *bob = c[1], *carol = c[2];
	rt_create(alice, "bob,carol", "Rollback", three, room);
	join_all(c, 3, room);
	json_decref(rt_cmd(alice, "member_kicked", "/kick carol"));
	lc_see(bob, "member_kicked", room, "nick", "carol", NULL);
	lc_see(carol, "expelled", room, NULL);
	json_decref(rt_cmd(bob, "disconnected", "/disconnect %s", room));

	/* The server shows bob the room as it was before the kick. His client
	 * stored the chain's head: an older chain is refused, the room not
	 * opened (the first version opened it, carol a member again). */
	struct rollback_ctx rc = {room, 3, 0};
	hostile_set_filter(proxy, rollback_filter, &rc);
	join_refused(bob, room, "rollback");
	hostile_lock(proxy);
	assert_int_equal(rc.rewritten, 1);
	hostile_unlock(proxy);
	/* Nor does a restart make the client forget its head. */
	rt_quit(bob);
	bob = c[1] = rt_client(port, lc_home(&f, "bob"), NULL, "bob");
	join_refused(bob, room, "rollback");

	/* The real chain is accepted, and the room goes on without carol. */
	hostile_set_filter(proxy, NULL, NULL);
	json_t *ev = rt_join(bob, room, -1);
	static const char *const two[] = {"alice", "bob", NULL};
	assert_true(rt_same_list(json_object_get(ev, "members"), two));
	json_decref(ev);
	struct rt_sent s = rt_say(alice, room, "for bob only", 1);
	rt_expect_msg(bob, room, "alice", "for bob only", s.seq, s.msg_id);

	lc_quit_all(c, 3);
	gs_stop(&f);
}

/* ---- 1b. fork: bob shown another record than alice at the same place ------ */

struct fork_ctx {
	const char *room;
	struct buf record;           /* carol's rekey, in the place of alice's add */
	struct buf key;              /* its secret wrapped to bob: one wrapped item */
	uint64_t position;
	int swapped;
};

static enum hostile_verdict fork_filter(void *ctx, const char *nick, int session,
					enum hostile_dir dir, const struct proto_msg *m,
					const uint8_t *body, size_t len, struct buf *out)
{
	struct fork_ctx *fc = ctx;
	(void)session, (void)body, (void)len;
	if (dir != HOSTILE_TO_CLIENT || strcasecmp(nick, "bob") != 0 ||
	    m->type != PROTO_ROOM_RECORD || !same_room(m->u.room_record.room_id, fc->room) ||
	    fc->swapped)
		return HOSTILE_PASS;
	struct proto_msg copy = *m;
	copy.u.room_record.record = (struct proto_bytes){fc->record.data, fc->record.len};
	copy.u.room_record.users = (struct proto_list){0, {NULL, 0}};
	copy.u.room_record.keys = (struct proto_list){1, {fc->key.data, fc->key.len}};
	if (hostile_frame_msg(out, &copy))
		return HOSTILE_PASS;
	fc->swapped = 1;
	return HOSTILE_REPLACE;
}

static void test_fork(void **state)
{
	static const char *const nicks[] = {"alice", "bob", "carol", "dave"};
	struct lc_fixture f;
	struct itest_client *c[4];
	char room[RT_ROOM_HEX];
	struct insider carol_in;
	struct fork_ctx fc = {0};
	(void)state;

	int port = gs_start(&f, "gs-fork", 0);
	rt_clients(port, f.dir, nicks, 4, c);
	struct itest_client *alice = c[0], *bob = c[1], *carol = c[2];
	rt_create_one_by_one(alice, "bob,carol", "Fork", three, room);
	join_all(c, 3, room);

	/* carol (a member, working with the server) signs a rekey at the place
	 * the next record will take, and wraps its secret to bob. */
	insider_load(&carol_in, lc_home(&f, "carol"), "carol");
	uint32_t seq = insider_record_count(room);
	uint8_t secret[32], commit[PROTO_HASH_LEN], room_id[PROTO_ROOM_ID_LEN];
	assert_int_equal(hex_decode(room, room_id, sizeof room_id), CC_OK);
	assert_int_equal(e2e_epoch_secret_new(secret), CC_OK);
	e2e_key_commit(room_id, 3, secret, commit);
	buf_init(&fc.record, PROTO_RECORD_MAX);
	buf_init(&fc.key, PROTO_WRAPPED_MAX + 64);
	insider_record_make(&carol_in, room, seq, PROTO_REC_REKEY, "carol", carol_in.fp, 3, commit,
			    &fc.record);
	/* To bob's receiving key, as any member can (the directory has it). */
	size_t len;
	uint8_t bob_recv[32], bob_fp[32];
	uint8_t *blob = rt_sql_blob(&len, "SELECT hex(recv_pub) FROM users WHERE nick_lower = 'bob'");
	assert_int_equal(len, 32);
	memcpy(bob_recv, blob, 32);
	free(blob);
	blob = rt_sql_blob(&len, "SELECT hex(fingerprint) FROM users WHERE nick_lower = 'bob'");
	assert_int_equal(len, 32);
	memcpy(bob_fp, blob, 32);
	free(blob);
	uint32_t bob_version = (uint32_t)rt_sql_int("SELECT recv_version FROM users"
						    " WHERE nick_lower = 'bob'");
	struct buf wrapped;
	buf_init(&wrapped, PROTO_WRAPPED_MAX);
	assert_int_equal(e2e_key_wrap(bob_recv, bob_version, bob_fp, room_id, 3, secret, &wrapped),
			 CC_OK);
	struct proto_wrapped_item w = {proto_bytes_str("bob"), 3, {wrapped.data, wrapped.len}};
	assert_int_equal(proto_item_encode(PROTO_ITEM_WRAPPED, &w, &fc.key), CC_OK);
	buf_free(&wrapped);
	fc.room = room;

	/* alice adds dave (record `seq`, epoch 3); bob is shown carol's rekey
	 * there instead. Both are well signed: bob's client cannot tell, yet. */
	hostile_set_filter(proxy, fork_filter, &fc);
	json_decref(rt_cmd(alice, "member_added", "/add dave"));
	lc_see(carol, "member_added", room, "nick", "dave", NULL);
	lc_see(bob, "rekeyed", room, "by", "carol", NULL);
	hostile_lock(proxy);
	assert_int_equal(fc.swapped, 1);
	hostile_unlock(proxy);
	hostile_set_filter(proxy, NULL, NULL);

	/* The moment either speaks, the other sees the fork: the message names
	 * a head it does not hold, and its key is bound to another record. */
	rt_say(alice, room, "from alice's side", 1);
	lc_expect_msg(carol, room, "alice", "from alice's side", 1);
	json_t *ev = rt_expect_room_error(bob, "security", room, "alice");
	assert_non_null(strstr(itest_json_str(ev, "message"), "fork"));
	json_decref(ev);
	rt_say(bob, room, "from bob's side", 1);
	for (int i = 0; i < 3; i += 2) {
		ev = rt_expect_room_error(c[i], "security", room, "bob");
		assert_non_null(strstr(itest_json_str(ev, "message"), "fork"));
		json_decref(ev);
	}
	/* And bob's stored head is carol's record: the server cannot bring him
	 * back to alice's side either. */
	json_decref(rt_cmd(bob, "disconnected", "/disconnect %s", room));
	join_refused(bob, room, "fork");

	insider_free(&carol_in);
	buf_free(&fc.record);
	buf_free(&fc.key);
	mem_wipe(secret, sizeof secret);
	lc_quit_all(c, 4);
	gs_stop(&f);
}

/* ---- 2. trust on the chain's (name, key) pairs --------------------------- */

struct relabel_ctx {
	const char *room;
	const char *from, *to;       /* directory entries named FROM become TO */
	int rewritten;
};

/* bob's ROOM_STATE, its directory entry named `from` renamed `to`. */
static enum hostile_verdict relabel_filter(void *ctx, const char *nick, int session,
					   enum hostile_dir dir, const struct proto_msg *m,
					   const uint8_t *body, size_t len, struct buf *out)
{
	struct relabel_ctx *rc = ctx;
	(void)session, (void)body, (void)len;
	if (dir != HOSTILE_TO_CLIENT || strcasecmp(nick, "bob") != 0 ||
	    m->type != PROTO_ROOM_STATE || !same_room(m->u.room_state.room_id, rc->room))
		return HOSTILE_PASS;
	struct proto_msg copy = *m;
	struct proto_list_iter it;
	struct proto_user_item u;
	struct buf users;
	uint16_t n = 0;
	buf_init(&users, 1024 * 1024);
	proto_list_iter_init(&it, &m->u.room_state.users, PROTO_ITEM_USER);
	while (proto_list_next(&it, &u) == CC_OK) {
		if (u.nick.len == strlen(rc->from) && memcmp(u.nick.p, rc->from, u.nick.len) == 0)
			u.nick = proto_bytes_str(rc->to);
		if (proto_item_encode(PROTO_ITEM_USER, &u, &users) == CC_OK)
			n++;
	}
	copy.u.room_state.users = (struct proto_list){n, {users.data, users.len}};
	cc_err err = hostile_frame_msg(out, &copy);
	buf_free(&users);
	if (err)
		return HOSTILE_PASS;
	rc->rewritten++;
	return HOSTILE_REPLACE;
}

static void test_trust_on_signed_pairs(void **state)
{
	static const char *const nicks[] = {"alice", "bob", "carol", "mallory"};
	static const char *const cb[] = {"carol", "bob", NULL};
	static const char *const abc[] = {"alice", "bob", "carol", NULL};
	struct lc_fixture f;
	struct itest_client *c[4];
	char first[RT_ROOM_HEX], room[RT_ROOM_HEX], fp_c[LC_FP_HEX], fp_m[LC_FP_HEX];
	(void)state;

	int port = gs_start(&f, "gs-tofu", 0);
	rt_clients(port, f.dir, nicks, 4, c);
	struct itest_client *alice = c[0], *bob = c[1];
	/* bob knows carol: he pinned her key in a room of hers. */
	rt_create(c[2], "bob", "Old friends", cb, first);
	json_decref(rt_join(bob, first, 0));
	lc_user_fp("carol", fp_c);
	lc_user_fp("mallory", fp_m);
	rt_quit(c[2]);
	rt_quit(c[3]);
	c[2] = c[3] = NULL;

	/* The server gives carol's name mallory's key. alice never met carol:
	 * she pins what she is given, and makes a room with "carol". */
	free(rt_sql("CREATE TEMP TABLE k AS SELECT nick_lower, pubkey, fingerprint, sign_version,"
		    " sign_pub, sign_cert, recv_version, recv_created_ms, recv_pub, recv_cert"
		    " FROM users WHERE nick_lower IN ('carol', 'mallory');"
		    "UPDATE users SET fingerprint = randomblob(32)"
		    " WHERE nick_lower IN ('carol', 'mallory');"
		    "UPDATE users SET"
		    " pubkey = (SELECT pubkey FROM k WHERE k.nick_lower <> users.nick_lower),"
		    " fingerprint = (SELECT fingerprint FROM k WHERE k.nick_lower <> users.nick_lower),"
		    " sign_version = (SELECT sign_version FROM k"
		    "  WHERE k.nick_lower <> users.nick_lower),"
		    " sign_pub = (SELECT sign_pub FROM k WHERE k.nick_lower <> users.nick_lower),"
		    " sign_cert = (SELECT sign_cert FROM k WHERE k.nick_lower <> users.nick_lower),"
		    " recv_version = (SELECT recv_version FROM k"
		    "  WHERE k.nick_lower <> users.nick_lower),"
		    " recv_created_ms = (SELECT recv_created_ms FROM k"
		    "  WHERE k.nick_lower <> users.nick_lower),"
		    " recv_pub = (SELECT recv_pub FROM k WHERE k.nick_lower <> users.nick_lower),"
		    " recv_cert = (SELECT recv_cert FROM k WHERE k.nick_lower <> users.nick_lower)"
		    " WHERE nick_lower IN ('carol', 'mallory')"));
	rt_create(alice, "bob,carol", "Who is carol", abc, room);
	json_decref(rt_join(alice, room, 0));

	/* The server's directory calls that key "mallory" for bob: the chain
	 * signs "carol". The first version pinned "mallory" on first sight and
	 * showed bob a trusted carol; the name must be the chain's. */
	struct relabel_ctx rc = {room, "carol", "mallory", 0};
	hostile_set_filter(proxy, relabel_filter, &rc);
	join_refused(bob, room, "directory");
	hostile_set_filter(proxy, NULL, NULL);

	/* Named as the chain names it, the key is checked against bob's pin
	 * for carol: announced, and carol's messages unverified. */
	assert_int_equal(itest_client_sendf(bob, "/join %s", room), 0);
	lc_see(bob, "key_changed", NULL, "nick", "carol", "old", fp_c, "new", fp_m, NULL);
	lc_see(bob, "joined", room, NULL);
	struct insider mallory;
	insider_load(&mallory, lc_home(&f, "mallory"), "carol");
	uint8_t key[32];
	uint32_t epoch = (uint32_t)rt_sql_int("SELECT epoch FROM rooms WHERE room_id = X'%s'", room);
	/* mallory's client never joined: her key comes from the server's disk,
	 * wrapped to her receiving key. */
	assert_int_equal(insider_own_key(&mallory, room, epoch, 1, key), 0);
	struct buf env;
	buf_init(&env, PROTO_ENVELOPE_MAX);
	insider_envelope(&mallory, room, epoch, key, insider_record_count(room) - 1, NULL, 1,
			 "it is me, carol", 15, &env);
	struct proto_msg m = {.type = PROTO_ROOM_MSG};
	assert_int_equal(hex_decode(room, m.u.room_msg.room_id, PROTO_ROOM_ID_LEN), CC_OK);
	m.u.room_msg.msg_id = 1000;
	m.u.room_msg.envelope = (struct proto_bytes){env.data, env.len};
	assert_int_equal(hostile_inject(proxy, "bob", HOSTILE_TO_CLIENT, &m), 1);
	lc_expect_msg(bob, room, "carol", "it is me, carol", 0);
	buf_free(&env);
	insider_free(&mallory);
	mem_wipe(key, sizeof key);

	struct itest_client *left[] = {alice, bob};
	lc_quit_all(left, 2);
	gs_stop(&f);
}

/* ---- 3. no sending under a key a departed member holds --------------------- */

static enum hostile_verdict drop_rekey_owed(void *ctx, const char *nick, int session,
					    enum hostile_dir dir, const struct proto_msg *m,
					    const uint8_t *body, size_t len, struct buf *out)
{
	int *dropped = ctx;
	(void)nick, (void)session, (void)body, (void)len, (void)out;
	if (dir != HOSTILE_TO_CLIENT || m->type != PROTO_REKEY_OWED)
		return HOSTILE_PASS;
	++*dropped;
	return HOSTILE_DROP;
}

static void test_rekey_not_suppressible(void **state)
{
	struct lc_fixture f;
	struct itest_client *c[3];
	char room[RT_ROOM_HEX];
	int dropped = 0;
	(void)state;

	int port = gs_start(&f, "gs-suppress", 0);
	rt_clients(port, f.dir, three, 3, c);
	struct itest_client *alice = c[0], *bob = c[1], *carol = c[2];
	rt_create_one_by_one(alice, "bob,carol", "Suppressed", three, room);
	join_all(c, 3, room);
	/* carol's device as it is before anything is said (for a positive
	 * control below). */
	const char *carol_copy = lc_home_copy(&f, "carol", "carol-joined");
	rt_say(alice, room, "before", 1);
	lc_expect_msg(bob, room, "alice", "before", 1);
	lc_expect_msg(carol, room, "alice", "before", 1);

	/* carol leaves; the server tells no one that a new key is owed. */
	hostile_set_filter(proxy, drop_rekey_owed, &dropped);
	json_decref(rt_cmd(carol, "left", "/leave %s", room));
	lc_see(alice, "member_left", room, "nick", "carol", NULL);
	lc_see(bob, "member_left", room, "nick", "carol", NULL);
	assert_true(itest_client_expect_silence(alice, 300));
	hostile_lock(proxy);
	assert_true(dropped >= 2);
	hostile_unlock(proxy);
	/* The server takes nothing in the closed epoch, from anyone. */
	struct ichan w;
	lc_wc_open(&w, f.port, lc_home(&f, "alice"), "alice");
	lc_wc_send_expect(&w, room, 2, "alice", 50, CC_ERR_EPOCH_CLOSED);
	ichan_close(&w);

	/* bob talks: the leave closed the epoch in the chain itself, so his
	 * client (not the admin's) makes the new one first, then says it in it.
	 * (The first version said it under the key carol still holds.) */
	assert_int_equal(itest_client_sendf(bob, "/say %s after carol left", room), 0);
	json_t *ev = lc_expect(bob, "rekeyed", room, "by", "bob", NULL);
	assert_int_equal(itest_json_int(ev, "epoch", -1), 3);
	json_decref(ev);
	ev = lc_expect(bob, "sent", room, NULL);
	assert_int_equal(itest_json_int(ev, "epoch", -1), 3);
	long long msg_id = itest_json_int(ev, "msg_id", -1);
	json_decref(ev);
	lc_see(alice, "rekeyed", room, "by", "bob", NULL);
	lc_expect_msg(alice, room, "bob", "after carol left", 1);

	/* carol's device (as it was after joining, or is now) and the server's
	 * disk together open nothing of it; the earlier copy does open what was
	 * said before she left (a positive control), her device now does not
	 * (she read it: forward secrecy). */
	struct insider carol_then, carol_now;
	insider_load(&carol_then, carol_copy, "carol");
	insider_load(&carol_now, lc_home(&f, "carol"), "carol");
	size_t len;
	long long r = lc_room_row(room);
	uint8_t *blob = rt_sql_blob(&len, "SELECT hex(blob) FROM messages WHERE room = %lld AND"
				    " msg_id = %lld", r, msg_id);
	assert_int_equal(insider_opens(&carol_then, room, blob, len), 0);
	assert_int_equal(insider_opens(&carol_now, room, blob, len), 0);
	free(blob);
	blob = rt_sql_blob(&len, "SELECT hex(blob) FROM messages WHERE room = %lld AND msg_id = 1",
			   r);
	assert_int_equal(insider_opens(&carol_then, room, blob, len), 1);
	assert_int_equal(insider_opens(&carol_now, room, blob, len), 0);
	free(blob);
	insider_free(&carol_then);
	insider_free(&carol_now);
	hostile_set_filter(proxy, NULL, NULL);

	lc_quit_all(c, 3);
	gs_stop(&f);
}

/* ---- 4. a removed member posting into its old epoch ------------------------- */

static void test_removed_member_cannot_post(void **state)
{
	struct lc_fixture f;
	struct itest_client *c[3];
	char room[RT_ROOM_HEX];
	(void)state;

	int port = gs_start(&f, "gs-old-epoch", 0);
	rt_clients(port, f.dir, three, 3, c);
	struct itest_client *alice = c[0], *bob = c[1];
	rt_create_one_by_one(alice, "bob,carol", "Old epoch", three, room);
	join_all(c, 3, room);
	struct insider carol_in;
	insider_load(&carol_in, lc_home(&f, "carol"), "carol");
	uint8_t key[32];
	/* Her own next message key of epoch 2, from her device. */
	assert_int_equal(insider_own_key(&carol_in, room, 2, 1, key), 0);
	uint32_t head = insider_record_count(room) - 1;
	json_decref(rt_cmd(alice, "member_kicked", "/kick carol"));
	lc_see(bob, "member_kicked", room, "nick", "carol", NULL);

	/* carol, expelled, still holds epoch 2's key; the server stores and
	 * relays her message in it, after her kick. The first version showed
	 * it, verified; epoch 2 ended with the kick. */
	struct buf env;
	buf_init(&env, PROTO_ENVELOPE_MAX);
	insider_envelope(&carol_in, room, 2, key, head, NULL, 1, "I am still here", 15, &env);
	struct proto_msg m = {.type = PROTO_ROOM_MSG};
	assert_int_equal(hex_decode(room, m.u.room_msg.room_id, PROTO_ROOM_ID_LEN), CC_OK);
	m.u.room_msg.msg_id = 1;  /* stored after the kick, at position 0 */
	m.u.room_msg.envelope = (struct proto_bytes){env.data, env.len};
	assert_int_equal(hostile_inject(proxy, "bob", HOSTILE_TO_CLIENT, &m), 1);
	json_t *ev = rt_expect_room_error(bob, "stale_epoch", room, "carol");
	json_decref(ev);
	rt_ping(bob);
	/* Before the kick, the same message would have counted: the rule is
	 * about when, not who (a control on the first half of it). */
	struct rt_sent s = rt_say(alice, room, "the room goes on", 1);
	rt_expect_msg(bob, room, "alice", "the room goes on", s.seq, s.msg_id);

	buf_free(&env);
	insider_free(&carol_in);
	mem_wipe(key, sizeof key);
	lc_quit_all(c, 2);
	gs_stop(&f);
}

/* ---- 5. a new member and what was said before ----------------------------- */

static void test_new_member_reads_nothing_older(void **state)
{
	static const char *const nicks[] = {"alice", "bob", "dave"};
	static const char *const ab[] = {"alice", "bob", NULL};
	struct lc_fixture f;
	struct itest_client *c[3];
	char room[RT_ROOM_HEX];
	(void)state;

	int port = gs_start(&f, "gs-new-member", 0);
	rt_clients(port, f.dir, nicks, 3, c);
	struct itest_client *alice = c[0], *bob = c[1], *dave = c[2];
	rt_create(alice, "bob", "Before dave", ab, room);
	join_all(c, 2, room);
	struct rt_sent s = rt_say(alice, room, "not for dave", 1);
	rt_expect_msg(bob, room, "alice", "not for dave", s.seq, s.msg_id);
	json_t *ev = rt_cmd(alice, "member_added", "/add dave");
	assert_int_equal(itest_json_int(ev, "epoch", -1), 2);
	json_decref(ev);
	lc_see(bob, "member_added", room, "nick", "dave", NULL);

	/* The server hands dave the whole stored history. The first version
	 * kept the epoch on an add: dave read it. Now the add opened epoch 2,
	 * and dave holds no key of epoch 1. */
	free(rt_sql("UPDATE members SET first_msg_id = 1, last_read_msg_id = 0 WHERE user = %lld",
		    lc_user_id("dave")));
	assert_int_equal(rt_sql_int("SELECT count(*) FROM room_keys WHERE user = %lld AND"
				    " epoch < 2", lc_user_id("dave")), 0);
	ev = rt_join(dave, room, 1);
	json_decref(ev);
	json_decref(rt_expect_room_error(dave, "no_key", room, "alice"));
	rt_ping(dave);
	s = rt_say(alice, room, "welcome dave", 1);
	rt_expect_msg(dave, room, "alice", "welcome dave", s.seq, s.msg_id);
	rt_expect_msg(bob, room, "alice", "welcome dave", s.seq, s.msg_id);
	lc_quit_all(c, 3);
	gs_stop(&f);
}

/* ---- 6. expiry cannot depose the living; the chain picks the heir ---------- */

/* The server's lie: GONE's nickname expired (its room_gone row), HEIR is the
 * admin, a new key is owed; and it tells each of the clients in TOLD. */
static long long claim_gone(const char *room, const char *gone, const char *heir,
			    const char *const *told)
{
	char fp[LC_FP_HEX];
	lc_user_fp(gone, fp);
	long long r = lc_room_row(room);
	free(rt_sql("INSERT INTO room_gone(room, fingerprint, nick) VALUES(%lld, X'%s', '%s');"
		    "UPDATE rooms SET rekey_owed = 1, admin_user = %lld WHERE id = %lld",
		    r, fp, gone, lc_user_id(heir), r));
	struct proto_msg owed = {.type = PROTO_REKEY_OWED};
	assert_int_equal(hex_decode(room, owed.u.room_ref.room_id, PROTO_ROOM_ID_LEN), CC_OK);
	for (size_t i = 0; told[i]; i++)
		assert_int_equal(hostile_inject(proxy, told[i], HOSTILE_TO_CLIENT, &owed), 1);
	return r;
}

static void test_expiry_cannot_depose_the_living(void **state)
{
	struct lc_fixture f;
	struct itest_client *c[3];
	char room[RT_ROOM_HEX];
	(void)state;

	int port = gs_start(&f, "gs-depose", 0);
	rt_clients(port, f.dir, three, 3, c);
	struct itest_client *alice = c[0], *bob = c[1], *carol = c[2];
	rt_create_one_by_one(alice, "bob,carol", "Living admin", three, room);
	join_all(c, 3, room);
	struct rt_sent s = rt_say(alice, room, "I am here", 1);
	rt_expect_msg(bob, room, "alice", "I am here", s.seq, s.msg_id);
	rt_expect_msg(carol, room, "alice", "I am here", s.seq, s.msg_id);

	/* The server says alice's nickname expired, makes bob the admin, and
	 * asks everyone for a new key. The first version signed alice out at
	 * once; the members just heard her. */
	static const char *const told[] = {"bob", "carol", NULL};
	long long r = claim_gone(room, "alice", "bob", told);
	for (int i = 1; i < 3; i++) {
		json_t *ev = rt_expect_room_error(c[i], "security", room, NULL);
		assert_non_null(strstr(itest_json_str(ev, "message"), "not signing alice out"));
		json_decref(ev);
		rt_ping(c[i]);
	}
	assert_int_equal(rt_sql_int("SELECT count(*) FROM records WHERE room = %lld", r), 3);
	assert_true(itest_client_expect_silence(alice, 200));
	s = rt_say(alice, room, "still the admin", 1);
	rt_expect_msg(bob, room, "alice", "still the admin", s.seq, s.msg_id);
	rt_expect_msg(carol, room, "alice", "still the admin", s.seq, s.msg_id);

	lc_quit_all(c, 3);
	gs_stop(&f);
}

/* A day of silence later the admin may be signed out, but the chain, not
 * the server, says who takes over: the earliest-joined member left. */
static void test_heir_chosen_by_chain(void **state)
{
	struct lc_fixture f;
	struct itest_client *c[3];
	char room[RT_ROOM_HEX];
	(void)state;

	int port = gs_start(&f, "gs-heir", 1);
	rt_clients(port, f.dir, three, 3, c);
	struct itest_client *alice = c[0], *carol = c[2];
	rt_create(alice, "bob,carol", "Heir", three, room);
	join_all(c, 3, room);
	lc_quit_seen(&f, c[1], NULL);
	c[1] = NULL;
	lc_clock_hours(&f, 25);

	/* The server (alice silent a day, though connected) says she is gone
	 * and names carol admin. bob, first in line, is away. */
	static const char *const told[] = {"carol", NULL};
	long long r = claim_gone(room, "alice", "carol", told);
	/* Not carol's to make (bob is first in line): nothing happens... */
	assert_true(itest_client_expect_silence(carol, 500));
	/* ...until she has something to say: she signs alice out herself, and
	 * the chain makes bob admin, whatever the server said. */
	assert_int_equal(itest_client_sendf(carol, "/say %s anyone?", room), 0);
	lc_see(carol, "member_expired", room, "nick", "alice", "by", "carol", "admin", "bob", NULL);
	lc_see(carol, "rekeyed", room, "by", "carol", NULL);
	lc_see(carol, "sent", room, NULL);
	assert_int_equal(rt_sql_int("SELECT admin_user FROM rooms WHERE id = %lld", r),
			 lc_user_id("bob"));
	lc_see(alice, "expired", room, "by", "carol", NULL);

	struct itest_client *left[] = {alice, carol};
	lc_quit_all(left, 2);
	gs_stop(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_rollback_of_a_kick, gs_teardown),
		cmocka_unit_test_teardown(test_fork, gs_teardown),
		cmocka_unit_test_teardown(test_trust_on_signed_pairs, gs_teardown),
		cmocka_unit_test_teardown(test_rekey_not_suppressible, gs_teardown),
		cmocka_unit_test_teardown(test_removed_member_cannot_post, gs_teardown),
		cmocka_unit_test_teardown(test_new_member_reads_nothing_older, gs_teardown),
		cmocka_unit_test_teardown(test_expiry_cannot_depose_the_living, gs_teardown),
		cmocka_unit_test_teardown(test_heir_chosen_by_chain, gs_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
