/* More of a hostile server against real clients (the proxy of
 * tests/support/hostile.h, the server's database edited under it, an
 * insider's forgeries): findings 7 to 12 of the review of the protocol's
 * first version (issue 7), each of which worked then and must not now.
 *
 *   7  a member forging another sender's line on a terminal
 *   8  a room key that does not open, a title from an unchecked key
 *   9  messages dropped, or hidden behind a high message id, unseen
 *  10  a WELCOME with another nickname; a record that renames a member
 *  11  a retired (older) signing key brought back
 *  12  the server storing a replayed copy */
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
#include "support/itest_chan.h"
#include "support/itest_insider.h"
#include "support/itest_lifecycle.h"
#include "support/itest_rooms.h"
#include "transport/chan.h"
#include "util/buf.h"

static const char *const three[] = {"alice", "bob", "carol", NULL};
static struct hostile *proxy;

static int hs_teardown(void **state)
{
	hostile_stop(proxy);
	proxy = NULL;
	return lc_teardown(state);
}

static int hs_start(struct lc_fixture *f, const char *name)
{
	lc_start(f, name, 0);
	proxy = hostile_start(f->port, f->data, f->dir);
	assert_non_null(proxy);
	return hostile_port(proxy);
}

static void hs_stop(struct lc_fixture *f)
{
	hostile_stop(proxy);
	proxy = NULL;
	lc_stop(f);
}

static int same_room(const uint8_t id[PROTO_ROOM_ID_LEN], const char *room_hex)
{
	uint8_t room[PROTO_ROOM_ID_LEN];
	return hex_decode(room_hex, room, sizeof room) == CC_OK &&
	       memcmp(id, room, sizeof room) == 0;
}

/* Sends ENV to NICK's client as a ROOM_MSG of ROOM with MSG_ID. */
static void inject_msg(const char *nick, const char *room, uint64_t msg_id, const struct buf *env)
{
	struct proto_msg m = {.type = PROTO_ROOM_MSG};
	assert_int_equal(hex_decode(room, m.u.room_msg.room_id, PROTO_ROOM_ID_LEN), CC_OK);
	m.u.room_msg.msg_id = msg_id;
	m.u.room_msg.envelope = (struct proto_bytes){env->data, env->len};
	assert_int_equal(hostile_inject(proxy, nick, HOSTILE_TO_CLIENT, &m), 1);
}

/* Insider IN's key of its own message SEQ in the current epoch. */
static uint32_t insider_current_key(const struct insider *in, const char *room, uint64_t seq,
				    uint8_t key[32])
{
	uint32_t epoch = (uint32_t)rt_sql_int("SELECT epoch FROM rooms WHERE room_id = X'%s'", room);
	assert_int_equal(insider_own_key(in, room, epoch, seq, key), 0);
	return epoch;
}

/* ---- 7. no line can pass for another sender's ------------------------------ */

/* The next line of a plain client's output that contains NEEDLE. */
static char *plain_line_with(struct itest_client *c, const char *needle)
{
	for (int i = 0; i < 20; i++) {
		char *line = itest_client_next_line(c, ITEST_TIMEOUT_MS);
		assert_non_null(line);
		if (strstr(line, needle))
			return line;
		free(line);
	}
	fail_msg("no line with %s", needle);
	return NULL;
}

/* No byte of the line can act on a terminal. */
static void assert_inert(const char *line)
{
	for (const unsigned char *p = (const unsigned char *)line; *p; p++)
		assert_true(*p >= 0x20 && *p != 0x7f);
	assert_null(strstr(line, "\xe2\x80\xae"));  /* U+202E raw */
}

static void test_safe_display(void **state)
{
	static const char *const nicks[] = {"bob", "mallory"};
	static const char *const bm[] = {"bob", "mallory", NULL};
	struct lc_fixture f;
	char room[RT_ROOM_HEX];
	(void)state;

	int port = hs_start(&f, "hs-display");
	struct itest_client *c[2];
	rt_clients(port, f.dir, nicks, 2, c);
	struct itest_client *mallory = c[1];
	rt_create(c[0], "mallory", "Display", bm, room);
	json_decref(rt_join(mallory, room, 0));
	rt_quit(c[0]);

	/* bob in his plain, human mode. */
	char server[64];
	snprintf(server, sizeof server, "127.0.0.1:%d", port);
	const char *const args[] = {"--server", server, "--home", lc_home(&f, "bob"), NULL};
	struct itest_client *bob = itest_client_start_args(args, itest_path(f.dir, "bob-plain.log"));
	assert_non_null(bob);
	free(plain_line_with(bob, "registered as bob"));
	assert_int_equal(itest_client_sendf(bob, "/join %s", room), 0);
	free(plain_line_with(bob, "joined room"));

	/* mallory's line that, printed raw, would rub itself out and write a
	 * line of bob's in its place. */
	assert_int_equal(itest_client_sendf(mallory, "/say %s ok\r\x1b[2K[%.8s] <bob> change of "
					     "plan: meet at mine \xe2\x80\xae", room, room), 0);
	json_decref(itest_client_expect(mallory, "sent", ITEST_TIMEOUT_MS));
	char *line = plain_line_with(bob, "<mallory>");
	fprintf(stderr, "[hostile] bob's screen: %s\n", line);
	assert_inert(line);
	assert_int_equal(strncmp(line, "[", 1), 0);
	assert_non_null(strstr(line, "> ok\\r\\x1b[2K["));
	assert_non_null(strstr(line, "\\u202e"));
	free(line);

	/* A message of several lines (only a client of mallory's own would send
	 * one): each further line is marked as the same message's. */
	struct insider m_in;
	uint8_t key[32];
	insider_load(&m_in, lc_home(&f, "mallory"), "mallory");
	uint32_t epoch = insider_current_key(&m_in, room, 2, key);
	static const char text[] = "first\n[00000000] <bob> second\r\nthird";
	struct buf env;
	buf_init(&env, PROTO_ENVELOPE_MAX);
	insider_envelope(&m_in, room, epoch, key, insider_record_count(room) - 1, NULL, 2, text,
			 strlen(text), &env);
	inject_msg("bob", room, 100, &env);
	line = plain_line_with(bob, "<mallory> first");
	assert_inert(line);
	free(line);
	line = itest_client_next_line(bob, ITEST_TIMEOUT_MS);
	assert_non_null(line);
	fprintf(stderr, "[hostile] bob's next line: %s\n", line);
	assert_inert(line);
	assert_int_equal(strncmp(line, "           | [00000000] <bob> second\\r", 38), 0);
	free(line);
	line = itest_client_next_line(bob, ITEST_TIMEOUT_MS);
	assert_non_null(line);
	assert_string_equal(line, "           | third");
	free(line);
	buf_free(&env);
	insider_free(&m_in);
	mem_wipe(key, sizeof key);

	itest_client_close_stdin(bob);
	assert_int_equal(itest_client_wait_exit(bob, ITEST_TIMEOUT_MS), 0);
	rt_quit(mallory);
	hs_stop(&f);
}

/* ---- 8. keys that do not open, titles from unchecked keys ------------------ */

static void test_unopenable_key_and_title(void **state)
{
	struct lc_fixture f;
	struct itest_client *c[3];
	char room[RT_ROOM_HEX];
	(void)state;

	int port = hs_start(&f, "hs-keys");
	rt_clients(port, f.dir, three, 3, c);
	struct itest_client *alice = c[0], *bob = c[1], *carol = c[2];
	rt_create(alice, "bob,carol", "The real title", three, room);
	long long r = lc_room_row(room), bob_id = lc_user_id("bob");
	uint32_t epoch = (uint32_t)rt_sql_int("SELECT epoch FROM rooms WHERE id = %lld", r);

	/* The server wraps a key of its own to bob and seals a title of its
	 * choice under it. The first version showed that title in /rooms. */
	uint8_t room_id[PROTO_ROOM_ID_LEN], secret[32], base[32], key[32], bob_fp[32];
	uint8_t open_hash[PROTO_HASH_LEN], bob_recv[32];
	assert_int_equal(hex_decode(room, room_id, sizeof room_id), CC_OK);
	assert_int_equal(e2e_epoch_secret_new(secret), CC_OK);
	size_t len;
	free(insider_record_get(room, insider_epoch_open_seq(room, epoch), &len, open_hash));
	assert_int_equal(e2e_epoch_base(secret, room_id, epoch, open_hash, base), CC_OK);
	assert_int_equal(e2e_title_key(base, key), CC_OK);
	/* To bob's real receiving key (the server has its public half). */
	uint8_t *blob = rt_sql_blob(&len, "SELECT hex(recv_pub) FROM users WHERE id = %lld", bob_id);
	assert_int_equal(len, 32);
	memcpy(bob_recv, blob, 32);
	free(blob);
	uint32_t bob_version = (uint32_t)rt_sql_int("SELECT recv_version FROM users WHERE id = %lld",
						    bob_id);
	blob = rt_sql_blob(&len, "SELECT hex(fingerprint) FROM users WHERE id = %lld", bob_id);
	assert_int_equal(len, 32);
	memcpy(bob_fp, blob, 32);
	free(blob);
	struct buf wrapped, title;
	buf_init(&wrapped, PROTO_WRAPPED_MAX);
	buf_init(&title, PROTO_TITLE_CT_MAX);
	assert_int_equal(e2e_key_wrap(bob_recv, bob_version, bob_fp, room_id, epoch, secret,
				      &wrapped), CC_OK);
	assert_int_equal(e2e_title_seal(key, room_id, epoch, "EVIL TITLE", &title), CC_OK);
	char *w_hex = rt_hex(wrapped.data, wrapped.len), *t_hex = rt_hex(title.data, title.len);
	char *real_title = rt_sql("SELECT hex(title_ct) FROM epochs WHERE room = %lld AND"
				  " epoch = %u", r, (unsigned)epoch);
	free(rt_sql("UPDATE room_keys SET wrapped = X'%s' WHERE room = %lld AND user = %lld;"
		    "UPDATE epochs SET title_ct = X'%s' WHERE room = %lld AND epoch = %u",
		    w_hex, r, bob_id, t_hex, r, (unsigned)epoch));
	json_t *rooms = rt_rooms(bob);
	json_t *item = rt_rooms_find(rooms, room);
	assert_non_null(item);
	assert_string_equal(itest_json_str(item, "title"), "");
	assert_false(json_is_true(json_object_get(item, "verified")));
	json_decref(rooms);
	/* And the key is the room's no more than the title: the room is not
	 * opened (the first version opened it, and said no_key ever after). */
	json_t *ev = lc_cmd_error(bob, "security", "/join %s", room);
	assert_non_null(strstr(itest_json_str(ev, "message"), "commit"));
	json_decref(ev);
	rt_ping(bob);

	/* The real key with a title that does not open: the room opens, with no
	 * title and a security notice (a member could do that much). carol
	 * opens the secret (and the title with it) on this first join only: her
	 * client keeps the epoch's chain keys, the server forgets her copy. */
	assert_int_equal(itest_client_sendf(carol, "/join %s", room), 0);
	ev = rt_expect_room_error(carol, "security", room, NULL);
	assert_non_null(strstr(itest_json_str(ev, "message"), "title"));
	json_decref(ev);
	ev = lc_expect(carol, "joined", room, "title", "", NULL);
	json_decref(ev);
	free(rt_sql("UPDATE epochs SET title_ct = X'%s' WHERE room = %lld AND epoch = %u",
		    real_title, r, (unsigned)epoch));
	/* A control: alice, who made the room, has the real title. */
	rooms = rt_rooms(alice);
	item = rt_rooms_find(rooms, room);
	assert_non_null(item);
	assert_string_equal(itest_json_str(item, "title"), "The real title");
	json_decref(rooms);

	free(w_hex);
	free(t_hex);
	free(real_title);
	buf_free(&wrapped);
	buf_free(&title);
	mem_wipe(secret, sizeof secret);
	mem_wipe(base, sizeof base);
	mem_wipe(key, sizeof key);
	lc_quit_all(c, 3);
	hs_stop(&f);
}

/* ---- 9. nothing dropped unseen ---------------------------------------------- */

struct msg_ctx {
	const char *room;
	int drop;                    /* drop the next ROOM_MSG to bob */
	uint64_t set_id;             /* or give it this msg_id */
	int done;
};

static enum hostile_verdict msg_filter(void *ctx, const char *nick, int session,
				       enum hostile_dir dir, const struct proto_msg *m,
				       const uint8_t *body, size_t len, struct buf *out)
{
	struct msg_ctx *mc = ctx;
	(void)session, (void)body, (void)len;
	if (dir != HOSTILE_TO_CLIENT || strcasecmp(nick, "bob") != 0 || mc->done ||
	    m->type != PROTO_ROOM_MSG || !same_room(m->u.room_msg.room_id, mc->room))
		return HOSTILE_PASS;
	mc->done = 1;
	if (mc->drop)
		return HOSTILE_DROP;
	struct proto_msg copy = *m;
	copy.u.room_msg.msg_id = mc->set_id;
	return hostile_frame_msg(out, &copy) ? HOSTILE_PASS : HOSTILE_REPLACE;
}

static void test_nothing_dropped_unseen(void **state)
{
	static const char *const ab[] = {"alice", "bob", NULL};
	struct lc_fixture f;
	struct itest_client *c[2];
	char room[RT_ROOM_HEX];
	(void)state;

	int port = hs_start(&f, "hs-drops");
	rt_clients(port, f.dir, ab, 2, c);
	struct itest_client *alice = c[0], *bob = c[1];
	rt_create(alice, "bob", "Drops", ab, room);
	json_decref(rt_join(alice, room, 0));
	json_decref(rt_join(bob, room, 0));

	/* The server drops one message to bob: the next shows the gap. */
	struct msg_ctx mc = {room, 1, 0, 0};
	hostile_set_filter(proxy, msg_filter, &mc);
	struct rt_sent s1 = rt_say(alice, room, "dropped", 1);
	assert_true(itest_client_expect_silence(bob, 300));
	struct rt_sent s2 = rt_say(alice, room, "after the drop", 1);
	json_t *ev = lc_expect(bob, "gap", room, "from", "alice", NULL);
	assert_int_equal(itest_json_int(ev, "first", -1), s1.seq);
	assert_int_equal(itest_json_int(ev, "last", -1), s1.seq);
	json_decref(ev);
	rt_expect_msg(bob, room, "alice", "after the drop", s2.seq, s2.msg_id);

	/* A message id far ahead: the first version skipped everything after it
	 * as already seen. Ids are only the server's word now. */
	struct msg_ctx high = {room, 0, 1ull << 40, 0};
	hostile_set_filter(proxy, msg_filter, &high);
	struct rt_sent s3 = rt_say(alice, room, "with a high id", 1);
	rt_expect_msg(bob, room, "alice", "with a high id", s3.seq, 1ll << 40);
	hostile_set_filter(proxy, NULL, NULL);
	for (int i = 0; i < 3; i++) {
		struct rt_sent s = rt_say(alice, room, "still arriving", 1);
		rt_expect_msg(bob, room, "alice", "still arriving", s.seq, s.msg_id);
	}

	lc_quit_all(c, 2);
	hs_stop(&f);
}

/* ---- 10. names: the WELCOME's, and a record's --------------------------------- */

static enum hostile_verdict rename_welcome(void *ctx, const char *nick, int session,
					   enum hostile_dir dir, const struct proto_msg *m,
					   const uint8_t *body, size_t len, struct buf *out)
{
	(void)ctx, (void)session, (void)body, (void)len;
	if (dir != HOSTILE_TO_CLIENT || strcasecmp(nick, "bob") != 0 || m->type != PROTO_WELCOME)
		return HOSTILE_PASS;
	struct proto_msg copy = *m;
	copy.u.welcome.nick = proto_bytes_str("bobby");
	return hostile_frame_msg(out, &copy) ? HOSTILE_PASS : HOSTILE_REPLACE;
}

static void test_names(void **state)
{
	struct lc_fixture f;
	struct itest_client *c[3];
	char room[RT_ROOM_HEX];
	(void)state;

	int port = hs_start(&f, "hs-names");
	rt_clients(port, f.dir, three, 3, c);
	struct itest_client *alice = c[0], *bob = c[1], *carol = c[2];
	rt_create(alice, "bob,carol", "Names", three, room);
	for (int i = 0; i < 3; i++)
		json_decref(rt_join(c[i], room, 0));

	/* alice (or her stolen key) signs an admin handover to bob's key under
	 * carol's name. The first version showed carol as the admin. */
	struct insider a_in;
	char fp_b[LC_FP_HEX];
	uint8_t bob_fp[PROTO_FINGERPRINT_LEN], commit[PROTO_HASH_LEN];
	insider_load(&a_in, lc_home(&f, "alice"), "alice");
	lc_user_fp("bob", fp_b);
	assert_int_equal(hex_decode(fp_b, bob_fp, sizeof bob_fp), CC_OK);
	uint32_t seq = insider_record_count(room);
	size_t len;
	uint8_t *last = insider_record_get(room, seq - 1, &len, NULL);
	struct proto_record prev;
	assert_int_equal(proto_record_decode(last, len, &prev), CC_OK);
	memcpy(commit, prev.key_commit, sizeof commit);
	struct buf rec;
	buf_init(&rec, PROTO_RECORD_MAX);
	insider_record_make(&a_in, room, seq, PROTO_REC_ADMIN, "carol", bob_fp, prev.epoch, commit,
			    &rec);
	struct proto_msg m = {.type = PROTO_ROOM_RECORD};
	assert_int_equal(hex_decode(room, m.u.room_record.room_id, PROTO_ROOM_ID_LEN), CC_OK);
	m.u.room_record.record = (struct proto_bytes){rec.data, rec.len};
	assert_int_equal(hostile_inject(proxy, "carol", HOSTILE_TO_CLIENT, &m), 1);
	json_t *ev = rt_expect_room_error(carol, "security", room, NULL);
	assert_non_null(strstr(itest_json_str(ev, "message"), "names its subject"));
	json_decref(ev);
	rt_ping(carol);
	free(last);
	buf_free(&rec);
	insider_free(&a_in);
	/* Nothing changed: alice is still the admin for carol's client. */
	struct rt_sent s = rt_say(alice, room, "still me", 1);
	rt_expect_msg(carol, room, "alice", "still me", s.seq, s.msg_id);
	rt_expect_msg(bob, room, "alice", "still me", s.seq, s.msg_id);
	json_decref(rt_cmd(carol, "disconnected", "/disconnect %s", room));
	ev = rt_join(carol, room, 0);
	assert_string_equal(itest_json_str(ev, "admin"), "alice");
	json_decref(ev);

	/* The server registers bob under another name than he asked for: his
	 * client stops (the first version went on as "bobby"). */
	rt_quit(bob);
	hostile_set_filter(proxy, rename_welcome, NULL);
	bob = itest_client_start(port, lc_home(&f, "bob"), "bob", NULL);
	assert_non_null(bob);
	ev = itest_client_expect_error(bob, "auth_failed", ITEST_TIMEOUT_MS);
	assert_non_null(ev);
	assert_non_null(strstr(itest_json_str(ev, "message"), "nickname"));
	json_decref(ev);
	assert_int_equal(itest_client_wait_exit(bob, ITEST_TIMEOUT_MS), 1);
	hostile_set_filter(proxy, NULL, NULL);

	struct itest_client *left[] = {alice, carol};
	lc_quit_all(left, 2);
	hs_stop(&f);
}

/* ---- 11. signing keys are versioned ------------------------------------------ */

/* SIGNING_KEY VERSION with the Ed25519 key of SEED on W; the answer's type
 * (OK) or error code. */
static int publish(struct ichan *w, uint32_t version, const uint8_t seed[32], uint8_t pub[32])
{
	struct proto_msg m = {.type = PROTO_SIGNING_KEY}, a;
	struct buf cert;
	buf_init(&cert, PROTO_SIGN_CERT_MAX);
	assert_int_equal(crypto_ed25519_public(seed, pub), CC_OK);
	assert_int_equal(e2e_signing_cert_make(w->key, version, pub, &cert), CC_OK);
	m.u.signing_key.request_id = 77 + version;
	m.u.signing_key.version = version;
	memcpy(m.u.signing_key.sign_pub, pub, 32);
	m.u.signing_key.sign_cert = (struct proto_bytes){cert.data, cert.len};
	assert_int_equal(chan_send_msg(w->ch, &m, &w->out), CC_OK);
	ichan_flush(w);
	ichan_answer(w, m.u.signing_key.request_id, &a);
	buf_free(&cert);
	return a.type == PROTO_OK ? 0 : (int)a.u.error.code;
}

static void test_signing_key_versions(void **state)
{
	static const char *const nicks[] = {"alice", "dave"};
	static const char *const ad[] = {"alice", "dave", NULL};
	struct lc_fixture f;
	struct itest_client *c[2];
	char room[RT_ROOM_HEX];
	(void)state;

	int port = hs_start(&f, "hs-signing");
	rt_clients(port, f.dir, nicks, 2, c);
	struct itest_client *alice = c[0];
	rt_quit(c[1]);  /* dave's key is made; from now on dave is the test */

	/* dave publishes a second signing key (version 2): the server keeps it,
	 * and refuses his first from now on. */
	struct insider d_in;
	insider_load(&d_in, lc_home(&f, "dave"), "dave");
	uint8_t v2_seed[32], v2_pub[32], v1_pub[32];
	assert_int_equal(crypto_random_bytes(v2_seed, sizeof v2_seed), CC_OK);
	struct ichan w;
	ichan_open(&w, f.port, lc_home(&f, "dave"), "dave");
	w.skip_rekey_owed = 1;
	assert_int_equal(publish(&w, 2, v2_seed, v2_pub), 0);
	assert_int_equal(publish(&w, 1, d_in.sign_seed, v1_pub), CC_ERR_OUTDATED);
	assert_int_equal(publish(&w, 2, d_in.sign_seed, v1_pub), CC_ERR_OUTDATED);
	assert_int_equal(publish(&w, 2, v2_seed, v2_pub), 0);  /* the same again: fine */

	rt_create(alice, "dave", "Versions", ad, room);
	json_decref(rt_join(alice, room, 0));
	uint8_t key[32];
	uint32_t epoch = insider_current_key(&d_in, room, 1, key);
	uint32_t head = insider_record_count(room) - 1;
	struct buf env;
	buf_init(&env, PROTO_ENVELOPE_MAX);

	/* Signed with version 2: verified. */
	memcpy(d_in.sign_seed, v2_seed, 32);
	insider_envelope(&d_in, room, epoch, key, head, NULL, 1, "v2 speaking", 11, &env);
	inject_msg("alice", room, 1, &env);
	lc_expect_msg(alice, room, "dave", "v2 speaking", 1);
	/* The server brings back dave's version 1 (retired, perhaps stolen):
	 * alice's client remembers version 2, says so, and keeps to it. */
	struct buf cert1;
	buf_init(&cert1, PROTO_SIGN_CERT_MAX);
	assert_int_equal(e2e_signing_cert_make(d_in.identity, 1, v1_pub, &cert1), CC_OK);
	char *c_hex = rt_hex(cert1.data, cert1.len), *p_hex = rt_hex(v1_pub, 32);
	free(rt_sql("UPDATE users SET sign_version = 1, sign_pub = X'%s', sign_cert = X'%s'"
		    " WHERE nick_lower = 'dave'", p_hex, c_hex));
	free(c_hex);
	free(p_hex);
	buf_free(&cert1);
	json_decref(rt_cmd(alice, "disconnected", "/disconnect %s", room));
	assert_int_equal(itest_client_sendf(alice, "/join %s", room), 0);
	json_t *ev = itest_client_expect_error(alice, "security", ITEST_TIMEOUT_MS);
	assert_non_null(ev);
	assert_non_null(strstr(itest_json_str(ev, "message"), "older signing key"));
	json_decref(ev);
	json_decref(itest_client_expect(alice, "joined", ITEST_TIMEOUT_MS));
	/* A message signed with the old key is refused, one with the newest
	 * one still shown. */
	insider_free(&d_in);
	insider_load(&d_in, lc_home(&f, "dave"), "dave");  /* version 1 again */
	assert_int_equal(insider_own_key(&d_in, room, epoch, 2, key), 0);
	insider_envelope(&d_in, room, epoch, key, head, NULL, 2, "v1 speaking", 11, &env);
	inject_msg("alice", room, 2, &env);
	json_decref(rt_expect_room_error(alice, "forged", room, "dave"));
	memcpy(d_in.sign_seed, v2_seed, 32);
	assert_int_equal(insider_own_key(&d_in, room, epoch, 3, key), 0);
	insider_envelope(&d_in, room, epoch, key, head, NULL, 3, "v2 again", 8, &env);
	inject_msg("alice", room, 3, &env);
	ev = itest_client_expect(alice, "gap", ITEST_TIMEOUT_MS);  /* 2 was never accepted */
	json_decref(ev);
	lc_expect_msg(alice, room, "dave", "v2 again", 1);

	ichan_close(&w);
	buf_free(&env);
	insider_free(&d_in);
	mem_wipe(v2_seed, sizeof v2_seed);
	mem_wipe(key, sizeof key);
	rt_quit(alice);
	hs_stop(&f);
}

/* ---- 12. the server refuses a replayed copy, and confirms a resent one ------ */

static void test_server_refuses_replays(void **state)
{
	static const char *const ab[] = {"alice", "bob", NULL};
	struct lc_fixture f;
	struct itest_client *c[2];
	char room[RT_ROOM_HEX];
	(void)state;

	int port = hs_start(&f, "hs-replay");
	rt_clients(port, f.dir, ab, 2, c);
	rt_create(c[0], "bob", "Replays", ab, room);
	uint32_t epoch = (uint32_t)rt_sql_int("SELECT epoch FROM rooms WHERE room_id = X'%s'", room);
	uint8_t room_id[PROTO_ROOM_ID_LEN];
	assert_int_equal(hex_decode(room, room_id, sizeof room_id), CC_OK);

	/* bob's own session sends number 5 twice (as a client does whose SENT
	 * its dropped connection lost), then another envelope with number 5: the
	 * server stores the first only (the first version stored every copy,
	 * padding history and unread counts), confirms the very same bytes
	 * again as stored, and refuses other bytes as a replay. */
	struct ichan w;
	struct buf env, first;
	struct proto_msg m = {.type = PROTO_MSG_SEND}, a;
	buf_init(&env, PROTO_ENVELOPE_MAX);
	buf_init(&first, PROTO_ENVELOPE_MAX);
	ichan_open(&w, f.port, lc_home(&f, "bob"), "bob");
	ichan_junk_envelope(&first, room_id, epoch, "bob", 5);
	m.u.msg_send.envelope = (struct proto_bytes){first.data, first.len};
	ichan_answer(&w, ichan_request(&w, &m), &a);
	assert_int_equal(a.type, PROTO_SENT);
	uint64_t id5 = a.u.sent.msg_id, ts5 = a.u.sent.server_ts_ms;
	ichan_answer(&w, ichan_request(&w, &m), &a);
	assert_int_equal(a.type, PROTO_SENT);
	assert_int_equal(a.u.sent.msg_id, id5);
	assert_int_equal(a.u.sent.server_ts_ms, ts5);
	assert_memory_equal(a.u.sent.room_id, room_id, PROTO_ROOM_ID_LEN);
	ichan_junk_envelope(&env, room_id, epoch, "bob", 5);
	env.data[env.len - 1] ^= 1;  /* another signature */
	m.u.msg_send.envelope = (struct proto_bytes){env.data, env.len};
	ichan_expect_error(&w, &m, CC_ERR_REPLAYED);
	/* The next number is taken, so is the same number of another epoch. */
	ichan_junk_envelope(&env, room_id, epoch, "bob", 6);
	m.u.msg_send.envelope = (struct proto_bytes){env.data, env.len};
	ichan_answer(&w, ichan_request(&w, &m), &a);
	assert_int_equal(a.type, PROTO_SENT);
	/* A resent copy is confirmed even once its epoch has closed or ended
	 * (a member left, or a new key came, while its sender was away); a new
	 * message there is refused as ever. */
	struct proto_msg resend = {.type = PROTO_MSG_SEND};
	resend.u.msg_send.envelope = (struct proto_bytes){first.data, first.len};
	free(rt_sql("UPDATE rooms SET closed = 1"));
	ichan_answer(&w, ichan_request(&w, &resend), &a);
	assert_int_equal(a.type, PROTO_SENT);
	assert_int_equal(a.u.sent.msg_id, id5);
	ichan_junk_envelope(&env, room_id, epoch, "bob", 7);
	m.u.msg_send.envelope = (struct proto_bytes){env.data, env.len};
	ichan_expect_error(&w, &m, CC_ERR_EPOCH_CLOSED);
	free(rt_sql("UPDATE rooms SET closed = 0, epoch = epoch + 1"));
	ichan_answer(&w, ichan_request(&w, &resend), &a);
	assert_int_equal(a.type, PROTO_SENT);
	assert_int_equal(a.u.sent.msg_id, id5);
	assert_int_equal(a.u.sent.server_ts_ms, ts5);
	ichan_expect_error(&w, &m, CC_ERR_STALE_EPOCH);
	ichan_close(&w);
	assert_int_equal(rt_sql_int("SELECT count(*) FROM messages"), 2);
	assert_int_equal(rt_sql_int("SELECT last_msg_id FROM rooms"), 2);

	buf_free(&env);
	buf_free(&first);
	lc_quit_all(c, 2);
	hs_stop(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_safe_display, hs_teardown),
		cmocka_unit_test_teardown(test_unopenable_key_and_title, hs_teardown),
		cmocka_unit_test_teardown(test_nothing_dropped_unseen, hs_teardown),
		cmocka_unit_test_teardown(test_names, hs_teardown),
		cmocka_unit_test_teardown(test_signing_key_versions, hs_teardown),
		cmocka_unit_test_teardown(test_server_refuses_replays, hs_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
