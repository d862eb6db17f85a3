/* The client against a hostile server: a table of bad inputs the server
 * (the proxy of tests/support/hostile.h, which holds the server's key and
 * plays its part) sends bob's real batch client: frames that do not decode,
 * messages of the wrong state or direction, lies about rooms (a state,
 * record, message or notice for a room bob never asked about, a state for
 * another room answering his join), about keys (a directory entry whose
 * identity key is not the one the chain names), about counts (a list count
 * that lies, a backlog of 2^32-1 that never comes, a room of 2^32-1
 * members) and answers to requests bob made that are of the wrong kind;
 * and long answers in parts (PART) that nobody asked for, that end in the
 * wrong answer, or that add up to more than a list can count.
 *
 * Each row says what bob's client must do: report an error event with a
 * given code and go on, drop the connection (and come back by itself,
 * rejoining his room), or ignore it; in every case nothing forged is shown,
 * bob's client does not crash (the ASan build runs it too), and afterwards,
 * with the proxy honest again, bob answers /ping and hears alice.
 *
 * Not repeated from elsewhere: forged, changed, dropped, replayed and
 * reordered messages, tampered, reordered and missing records, swapped
 * wrapped keys (test_itest_tamper.c, test_itest_hostile.c), a WELCOME
 * naming another nick, older signing keys (test_itest_hostile_server.c). */
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
#include "proto/frame.h"
#include "proto/msg.h"
#include "proto/room.h"
#include "support/hostile.h"
#include "support/itest.h"
#include "support/itest_lifecycle.h"
#include "support/itest_rooms.h"
#include "util/buf.h"

#define SERVER_KEY_PEM CC_SOURCE_DIR "/tests/data/example_server_key.pem"

static const char *const two[] = {"alice", "bob", NULL};
static struct hostile *proxy;

/* ---- what the filter does to bob's next message of a type --------------------- */

enum lie {
	LIE_PREPEND,      /* RAW goes to bob just before the message */
	LIE_ROOM_STATE_OTHER_ROOM,
	LIE_ROOM_STATE_OTHER_KEY,
	LIE_ROOM_STATE_RECORDS_COUNT,
	LIE_ROOM_STATE_BACKLOG,
	LIE_ROOMS_HUGE,
	LIE_USERS_OTHER_NICK,
	LIE_ANSWER_AS_SENT,
	LIE_STATE_IN_PARTS,          /* records and users in a PART, then the rest */
	LIE_STATE_PARTS_THEN_SENT,   /* a PART, then a SENT for the join */
	LIE_STATE_PARTS_OVERFLOW,    /* PARTs of 65 536 records, then the state */
	LIE_SENT_AS_OK,              /* the SENT of bob's line is an OK */
};

struct lie_ctx {
	uint8_t trigger;          /* the type of bob's message that carries the lie */
	enum lie lie;
	struct buf raw;           /* LIE_PREPEND: inner frames */
	struct buf other_key;     /* an RSA key (DER) nobody in the room has */
	int done;
};

static struct lie_ctx lie;

static cc_err put_frame(struct buf *out, const uint8_t *body, size_t len)
{
	cc_err err = buf_put_u32(out, (uint32_t)len);
	return err ? err : buf_put_bytes(out, body, len);
}

/* A copy of LIST with the first user item's identity key replaced. */
static cc_err users_swap_key(const struct proto_list *in, const struct buf *key, struct buf *raw)
{
	struct proto_list_iter it;
	struct proto_user_item u;
	int first = 1;
	cc_err err;
	proto_list_iter_init(&it, in, PROTO_ITEM_USER);
	while ((err = proto_list_next(&it, &u)) == CC_OK) {
		if (first && u.nick.len == 5 && memcmp(u.nick.p, "alice", 5) == 0) {
			u.identity_key = (struct proto_bytes){key->data, key->len};
			first = 0;
		}
		if ((err = proto_item_encode(PROTO_ITEM_USER, &u, raw)))
			return err;
	}
	return err == CC_ERR_NOT_FOUND ? CC_OK : err;
}

static enum hostile_verdict lie_filter(void *ctx, const char *nick, int session,
				       enum hostile_dir dir, const struct proto_msg *m,
				       const uint8_t *body, size_t len, struct buf *out)
{
	struct lie_ctx *l = ctx;
	(void)session;
	if (dir != HOSTILE_TO_CLIENT || strcasecmp(nick, "bob") != 0 || l->done ||
	    m->type != l->trigger)
		return HOSTILE_PASS;
	struct proto_msg c = *m;
	struct buf tmp, body2;
	buf_init(&tmp, PROTO_FRAME_MAX_DEFAULT);
	buf_init(&body2, PROTO_FRAME_MAX_DEFAULT);
	cc_err err = CC_OK;
	switch (l->lie) {
	case LIE_PREPEND:
		if (!(err = buf_put_bytes(out, l->raw.data, l->raw.len)))
			err = put_frame(out, body, len);
		break;
	case LIE_ROOM_STATE_OTHER_ROOM:
		c.u.room_state.room_id[0] ^= 0xff;
		err = hostile_frame_msg(out, &c);
		break;
	case LIE_ROOM_STATE_OTHER_KEY:
		if (!(err = users_swap_key(&m->u.room_state.users, &l->other_key, &tmp))) {
			c.u.room_state.users.raw = (struct proto_bytes){tmp.data, tmp.len};
			err = hostile_frame_msg(out, &c);
		}
		break;
	case LIE_ROOM_STATE_RECORDS_COUNT:
		/* One more record than the list holds: the encoder would refuse,
		 * so the count is patched in the encoded body (after the type, the
		 * id, the room and the title). */
		if (!(err = proto_msg_encode(m, &body2))) {
			size_t at = 1 + 4 + PROTO_ROOM_ID_LEN + 2 + m->u.room_state.title_ct.len;
			store_be16(body2.data + at, (uint16_t)(m->u.room_state.records.count + 1));
			err = put_frame(out, body2.data, body2.len);
		}
		break;
	case LIE_ROOM_STATE_BACKLOG:
		c.u.room_state.backlog = UINT32_MAX;
		err = hostile_frame_msg(out, &c);
		break;
	case LIE_ROOMS_HUGE: {
		struct proto_list_iter it;
		struct proto_room_item r;
		proto_list_iter_init(&it, &m->u.rooms.rooms, PROTO_ITEM_ROOM);
		while (!err && proto_list_next(&it, &r) == CC_OK) {
			r.epoch = r.members = r.unread = r.pending_keys = UINT32_MAX;
			err = proto_item_encode(PROTO_ITEM_ROOM, &r, &tmp);
		}
		c.u.rooms.rooms.raw = (struct proto_bytes){tmp.data, tmp.len};
		if (!err)
			err = hostile_frame_msg(out, &c);
		break;
	}
	case LIE_USERS_OTHER_NICK: {
		/* alice's entry, named carol. */
		struct proto_list_iter it;
		struct proto_user_item u;
		proto_list_iter_init(&it, &m->u.users.users, PROTO_ITEM_USER);
		while (!err && proto_list_next(&it, &u) == CC_OK) {
			u.nick = proto_bytes_str("carol");
			err = proto_item_encode(PROTO_ITEM_USER, &u, &tmp);
		}
		c.u.users.users.raw = (struct proto_bytes){tmp.data, tmp.len};
		if (!err)
			err = hostile_frame_msg(out, &c);
		break;
	}
	case LIE_STATE_IN_PARTS:
	case LIE_STATE_PARTS_THEN_SENT: {
		/* What an honest server does with a long state: the lists go
		 * first, as a PART; then the answer, with its lists empty. */
		struct proto_msg part = {.type = PROTO_PART};
		part.u.part.request_id = m->u.room_state.request_id;
		part.u.part.records = m->u.room_state.records;
		part.u.part.users = m->u.room_state.users;
		if ((err = hostile_frame_msg(out, &part)))
			break;
		c.u.room_state.records = (struct proto_list){0, {NULL, 0}};
		c.u.room_state.users = (struct proto_list){0, {NULL, 0}};
		if (l->lie == LIE_STATE_PARTS_THEN_SENT) {
			memset(&c, 0, sizeof c);
			c.type = PROTO_SENT;
			c.u.sent.request_id = part.u.part.request_id;
		}
		err = hostile_frame_msg(out, &c);
		break;
	}
	case LIE_STATE_PARTS_OVERFLOW: {
		/* Eight PARTs of 8192 tiny records each: one more record than a
		 * list's u16 count can hold once they are joined. */
		struct proto_msg part = {.type = PROTO_PART};
		struct proto_chain_item junk = {1, {(const uint8_t *)"x", 1}};
		for (int i = 0; !err && i < PROTO_LIST_MAX; i++)
			err = proto_item_encode(PROTO_ITEM_CHAIN, &junk, &tmp);
		part.u.part.request_id = m->u.room_state.request_id;
		part.u.part.records = (struct proto_list){PROTO_LIST_MAX, {tmp.data, tmp.len}};
		for (int i = 0; !err && i < 8; i++)
			err = hostile_frame_msg(out, &part);
		if (!err)
			err = put_frame(out, body, len);
		break;
	}
	case LIE_SENT_AS_OK:
		memset(&c, 0, sizeof c);
		c.type = PROTO_OK;
		c.u.request.request_id = m->u.sent.request_id;
		err = hostile_frame_msg(out, &c);
		break;
	case LIE_ANSWER_AS_SENT:
		/* The answer to the request is a SENT of its id. */
		memset(&c, 0, sizeof c);
		c.type = PROTO_SENT;
		c.u.sent.request_id = proto_msg_request_id(m);
		c.u.sent.msg_id = UINT64_MAX;
		err = hostile_frame_msg(out, &c);
		break;
	}
	buf_free(&tmp);
	buf_free(&body2);
	if (err)
		return HOSTILE_PASS;  /* the test then fails on bob's output */
	l->done = 1;
	return HOSTILE_REPLACE;
}

/* ---- the fixture --------------------------------------------------------------- */

struct hc {
	struct lc_fixture f;
	struct itest_client *alice, *bob;
	char room[RT_ROOM_HEX];
	uint8_t room_id[PROTO_ROOM_ID_LEN];
	int said;
};

static int hc_teardown(void **state)
{
	hostile_stop(proxy);
	proxy = NULL;
	buf_free(&lie.raw);
	buf_free(&lie.other_key);
	return lc_teardown(state);
}

/* Arms the lie for bob's next message of TYPE. */
static void arm(uint8_t type, enum lie what)
{
	hostile_lock(proxy);
	lie.trigger = type;
	lie.lie = what;
	lie.done = 0;
	hostile_unlock(proxy);
}

static int lie_done(void)
{
	hostile_lock(proxy);
	int d = lie.done;
	hostile_unlock(proxy);
	return d;
}

/* bob's client dropped the connection, came back by itself and rejoined
 * his room; with PONG, the /ping in flight went again and was answered;
 * with SENT, the line in flight went again and was confirmed. Nothing else
 * may be said meanwhile. */
static void expect_reconnect_with(struct hc *h, bool pong, bool sent)
{
	bool lost = false, back = false, joined = false, ponged = !pong, confirmed = !sent;
	while (!(lost && back && joined && ponged && confirmed)) {
		json_t *ev = itest_client_next(h->bob, ITEST_TIMEOUT_MS);
		assert_non_null(ev);
		const char *name = itest_json_str(ev, "event");
		if (strcmp(name, "connection_lost") == 0 && !lost)
			lost = true;
		else if (strcmp(name, "reconnected") == 0 && lost && !back)
			back = true;
		else if (strcmp(name, "joined") == 0 && back && !joined)
			joined = strcmp(itest_json_str(ev, "room"), h->room) == 0;
		else if (strcmp(name, "pong") == 0 && back && !ponged)
			ponged = true;
		else if (strcmp(name, "sent") == 0 && back && !confirmed)
			confirmed = true;
		else
			fail_msg("bob said %s while coming back", itest_json_dump(ev));
		json_decref(ev);
	}
}

static void expect_reconnect(struct hc *h, bool pong)
{
	expect_reconnect_with(h, pong, false);
}

/* After a row: bob answers /ping and hears alice; nothing else came. */
static void bob_still_works(struct hc *h)
{
	char text[48];
	assert_true(lie_done());
	rt_ping(h->bob);
	snprintf(text, sizeof text, "after row %d", ++h->said);
	struct rt_sent s = rt_say(h->alice, h->room, text, 0);
	rt_expect_msg(h->bob, h->room, "alice", text, s.seq, s.msg_id);
	rt_ping(h->alice);
}

/* The frames in RAW (emptied first) go to bob before the PONG to his
 * /ping; he must drop the connection and come back. */
static void raw_drops(struct hc *h)
{
	arm(PROTO_PONG, LIE_PREPEND);
	assert_int_equal(itest_client_send(h->bob, "/ping"), 0);
	expect_reconnect(h, true);
}

/* The same, and bob must report an error CODE (about no room) and go on. */
static void raw_reported(struct hc *h, const char *code)
{
	arm(PROTO_PONG, LIE_PREPEND);
	assert_int_equal(itest_client_send(h->bob, "/ping"), 0);
	json_t *ev = itest_client_expect_error(h->bob, code, ITEST_TIMEOUT_MS);
	assert_non_null(ev);
	json_decref(ev);
	json_decref(itest_client_expect(h->bob, "pong", ITEST_TIMEOUT_MS));
}

/* The same, and bob must show nothing at all of it. */
static void raw_ignored(struct hc *h)
{
	arm(PROTO_PONG, LIE_PREPEND);
	json_decref(rt_cmd(h->bob, "pong", "/ping"));
}

static void raw_reset(void)
{
	hostile_lock(proxy);
	buf_reset(&lie.raw);
	hostile_unlock(proxy);
}

static void raw_add(const uint8_t *body, size_t len)
{
	hostile_lock(proxy);
	assert_int_equal(put_frame(&lie.raw, body, len), CC_OK);
	hostile_unlock(proxy);
}

static void raw_add_msg(const struct proto_msg *m)
{
	hostile_lock(proxy);
	assert_int_equal(hostile_frame_msg(&lie.raw, m), CC_OK);
	hostile_unlock(proxy);
}

/* bob /disconnects and /joins again: the join's ROOM_STATE carries the lie
 * armed for it. */
static void rejoin(struct hc *h)
{
	json_decref(rt_cmd(h->bob, "disconnected", "/disconnect %s", h->room));
	assert_int_equal(itest_client_sendf(h->bob, "/join %s", h->room), 0);
}

/* ---- the test ------------------------------------------------------------------ */

static void test_hostile_client(void **state)
{
	struct hc h = {0};
	struct proto_msg m;
	uint8_t elsewhere[PROTO_ROOM_ID_LEN];
	int inputs = 0;
	(void)state;

	lc_start(&h.f, "hostile-client", 0);
	proxy = hostile_start(h.f.port, h.f.data, h.f.dir);
	assert_non_null(proxy);
	buf_init(&lie.raw, PROTO_FRAME_MAX_DEFAULT);
	buf_init(&lie.other_key, PROTO_RSA_PUB_MAX);
	struct crypto_rsa_key *other = NULL;
	assert_int_equal(crypto_rsa_load_private_file(SERVER_KEY_PEM, &other), CC_OK);
	assert_int_equal(crypto_rsa_public_to_der(other, &lie.other_key), CC_OK);
	crypto_rsa_free(other);
	lie.done = 1;
	hostile_set_filter(proxy, lie_filter, &lie);

	struct itest_client *c[2];
	rt_clients(hostile_port(proxy), h.f.dir, two, 2, c);
	h.alice = c[0];
	h.bob = c[1];
	rt_create(h.alice, "bob", "Lied to", two, h.room);
	for (int i = 0; i < 2; i++)
		json_decref(rt_join(c[i], h.room, 0));
	assert_int_equal(hex_decode(h.room, h.room_id, sizeof h.room_id), CC_OK);
	assert_int_equal(crypto_random_bytes(elsewhere, sizeof elsewhere), CC_OK);
	bob_still_works(&h);

	/* ---- frames that do not decode: dropped, and back ------------------- */
	static const uint8_t bad_type[] = {0xee, 1, 2, 3};
	static const uint8_t pong_trailing[] = {PROTO_PONG, 0, 0, 0, 0, 0, 0, 0, 1, 0};
	uint8_t msg_cut[1 + PROTO_ROOM_ID_LEN + 8] = {PROTO_ROOM_MSG};
	memcpy(msg_cut + 1, h.room_id, PROTO_ROOM_ID_LEN);
	const struct {
		const char *name;
		const uint8_t *body;
		size_t len;
	} undecodable[] = {
		{"unknown type 0xee", bad_type, sizeof bad_type},
		{"PONG and a trailing byte", pong_trailing, sizeof pong_trailing},
		{"ROOM_MSG of bob's room cut short", msg_cut, sizeof msg_cut},
		{"an empty inner frame", NULL, 0},
	};
	for (size_t i = 0; i < sizeof undecodable / sizeof undecodable[0]; i++) {
		fprintf(stderr, "input %d: %s\n", ++inputs, undecodable[i].name);
		raw_reset();
		raw_add(undecodable[i].body, undecodable[i].len);
		raw_drops(&h);
		bob_still_works(&h);
	}
	/* An inner frame announcing 4 GiB - 1. */
	fprintf(stderr, "input %d: inner frame of 4 GiB - 1\n", ++inputs);
	raw_reset();
	hostile_lock(proxy);
	assert_int_equal(buf_put_u32(&lie.raw, UINT32_MAX), CC_OK);
	assert_int_equal(buf_put_u8(&lie.raw, PROTO_PONG), CC_OK);
	hostile_unlock(proxy);
	raw_drops(&h);
	bob_still_works(&h);

	/* ---- the wrong state or direction: dropped ------------------------------ */
	static const uint8_t wrong_types[] = {PROTO_WELCOME, PROTO_SERVER_HELLO,
					      PROTO_CLIENT_HELLO, PROTO_ROOM_JOIN};
	for (size_t i = 0; i < sizeof wrong_types; i++) {
		fprintf(stderr, "input %d: %s after registration\n", ++inputs,
			proto_type_name(wrong_types[i]));
		memset(&m, 0, sizeof m);
		m.type = wrong_types[i];
		m.u.welcome.nick = proto_bytes_str("bob");  /* WELCOME's: the rest zeros */
		if (m.type == PROTO_SERVER_HELLO) {
			static const uint8_t k[] = {0x30, 0};
			m.u.server_hello.server_key = (struct proto_bytes){k, sizeof k};
		}
		if (m.type == PROTO_CLIENT_HELLO || m.type == PROTO_ROOM_JOIN)
			memset(&m.u, 0, sizeof m.u);
		raw_reset();
		raw_add_msg(&m);
		raw_drops(&h);
		bob_still_works(&h);
	}

	/* ---- an ERROR with an escape sequence, and with a code unknown ---------- */
	fprintf(stderr, "input %d: ERROR with escape sequences\n", ++inputs);
	memset(&m, 0, sizeof m);
	m.type = PROTO_ERROR;
	m.u.error.code = CC_ERR_INTERNAL;
	m.u.error.text = proto_bytes_str("\x1b[2J\x1b]0;owned\x07 all is well\r\n");
	raw_reset();
	raw_add_msg(&m);
	raw_reported(&h, "internal");
	bob_still_works(&h);
	fprintf(stderr, "input %d: ERROR with code 65535\n", ++inputs);
	m.u.error.code = 0xffff;
	m.u.error.text = proto_bytes_str("");
	raw_reset();
	raw_add_msg(&m);
	raw_reported(&h, "unknown");
	bob_still_works(&h);

	/* ---- lies about rooms bob never asked about: ignored -------------------- */
	fprintf(stderr, "input %d: ROOM_MSG of a room bob is not in\n", ++inputs);
	memset(&m, 0, sizeof m);
	m.type = PROTO_ROOM_MSG;
	memcpy(m.u.room_msg.room_id, elsewhere, PROTO_ROOM_ID_LEN);
	m.u.room_msg.msg_id = 1;
	static const uint8_t junk_env[64] = {PROTO_ENVELOPE_VERSION};
	m.u.room_msg.envelope = (struct proto_bytes){junk_env, sizeof junk_env};
	raw_reset();
	raw_add_msg(&m);
	raw_ignored(&h);
	bob_still_works(&h);

	fprintf(stderr, "input %d: ROOM_STATE nobody asked for\n", ++inputs);
	memset(&m, 0, sizeof m);
	m.type = PROTO_ROOM_STATE;
	m.u.room_state.request_id = 0x7fffffff;
	memcpy(m.u.room_state.room_id, elsewhere, PROTO_ROOM_ID_LEN);
	m.u.room_state.backlog = 3;
	raw_reset();
	raw_add_msg(&m);
	raw_ignored(&h);
	bob_still_works(&h);

	fprintf(stderr, "input %d: JOIN_DONE of a room bob is not in\n", ++inputs);
	memset(&m, 0, sizeof m);
	m.type = PROTO_JOIN_DONE;
	memcpy(m.u.room_ref.room_id, elsewhere, PROTO_ROOM_ID_LEN);
	raw_reset();
	raw_add_msg(&m);
	raw_ignored(&h);
	bob_still_works(&h);

	/* ---- lies in the answer to bob's join ------------------------------------ */
	fprintf(stderr, "input %d: ROOM_STATE of another room for bob's join\n", ++inputs);
	arm(PROTO_ROOM_STATE, LIE_ROOM_STATE_OTHER_ROOM);
	rejoin(&h);
	json_t *ev = itest_client_expect_error(h.bob, "security", ITEST_TIMEOUT_MS);
	assert_non_null(ev);
	json_decref(ev);
	json_decref(rt_join(h.bob, h.room, -1));
	bob_still_works(&h);

	fprintf(stderr, "input %d: alice's identity key swapped in bob's join\n", ++inputs);
	arm(PROTO_ROOM_STATE, LIE_ROOM_STATE_OTHER_KEY);
	rejoin(&h);
	ev = itest_client_expect_error(h.bob, "security", ITEST_TIMEOUT_MS);
	assert_non_null(ev);
	json_decref(ev);
	json_decref(rt_join(h.bob, h.room, -1));
	bob_still_works(&h);

	fprintf(stderr, "input %d: records count one over the list\n", ++inputs);
	arm(PROTO_ROOM_STATE, LIE_ROOM_STATE_RECORDS_COUNT);
	rejoin(&h);
	expect_reconnect(&h, false);
	bob_still_works(&h);

	fprintf(stderr, "input %d: a backlog of 2^32-1 that never comes\n", ++inputs);
	arm(PROTO_ROOM_STATE, LIE_ROOM_STATE_BACKLOG);
	rejoin(&h);
	/* The count is the server's announcement; no message comes of it, and
	 * JOIN_DONE ends the join. */
	ev = itest_client_expect(h.bob, "joined", ITEST_TIMEOUT_MS);
	assert_non_null(ev);
	json_decref(ev);
	bob_still_works(&h);

	fprintf(stderr, "input %d: a join answered with SENT\n", ++inputs);
	arm(PROTO_ROOM_STATE, LIE_ANSWER_AS_SENT);
	rejoin(&h);
	expect_reconnect(&h, false);  /* the join ran again, and went through */
	bob_still_works(&h);

	/* ---- long answers in parts (PART) ------------------------------------------ */
	fprintf(stderr, "input %d: a PART nobody asked for\n", ++inputs);
	memset(&m, 0, sizeof m);
	m.type = PROTO_PART;
	m.u.part.request_id = 0x7ffffffe;
	raw_reset();
	raw_add_msg(&m);
	raw_ignored(&h);
	bob_still_works(&h);

	/* The control: a state in parts is the same state. */
	fprintf(stderr, "input %d: bob's join state sent in parts\n", ++inputs);
	arm(PROTO_ROOM_STATE, LIE_STATE_IN_PARTS);
	rejoin(&h);
	ev = itest_client_expect(h.bob, "joined", ITEST_TIMEOUT_MS);
	assert_non_null(ev);
	assert_true(rt_same_list(json_object_get(ev, "members"), two));
	json_decref(ev);
	bob_still_works(&h);

	fprintf(stderr, "input %d: parts of a join, then a SENT for it\n", ++inputs);
	arm(PROTO_ROOM_STATE, LIE_STATE_PARTS_THEN_SENT);
	rejoin(&h);
	expect_reconnect(&h, false);
	bob_still_works(&h);

	fprintf(stderr, "input %d: parts of 65 536 records\n", ++inputs);
	arm(PROTO_ROOM_STATE, LIE_STATE_PARTS_OVERFLOW);
	rejoin(&h);
	expect_reconnect(&h, false);
	bob_still_works(&h);

	/* An answer of the wrong kind to a line: the connection goes, and the
	 * very same envelope goes again; the server answers the stored copy
	 * with its first SENT, and alice hears the line once. */
	fprintf(stderr, "input %d: bob's line answered with OK\n", ++inputs);
	arm(PROTO_SENT, LIE_SENT_AS_OK);
	assert_int_equal(itest_client_sendf(h.bob, "/say %s said once", h.room), 0);
	expect_reconnect_with(&h, false, true);
	ev = itest_client_expect(h.alice, "message", ITEST_TIMEOUT_MS);
	assert_non_null(ev);
	assert_string_equal(itest_json_str(ev, "text"), "said once");
	json_decref(ev);
	bob_still_works(&h);  /* and alice heard nothing more than that */

	/* ---- lies about counts and names in other answers ------------------------- */
	fprintf(stderr, "input %d: /rooms with counts of 2^32-1\n", ++inputs);
	arm(PROTO_ROOMS, LIE_ROOMS_HUGE);
	ev = rt_rooms(h.bob);
	/* What bob verified himself (members, epoch) is his own; the unread
	 * count is the server's word, and says so in the manual. */
	json_t *entry = rt_rooms_find(ev, h.room);
	assert_non_null(entry);
	assert_int_equal(itest_json_int(entry, "members", -1), 2);
	assert_int_equal(itest_json_int(entry, "epoch", -1), 1);
	assert_true(json_is_true(json_object_get(entry, "verified")));
	json_decref(ev);
	bob_still_works(&h);

	fprintf(stderr, "input %d: /fingerprint alice answered with carol's name\n", ++inputs);
	arm(PROTO_USERS, LIE_USERS_OTHER_NICK);
	assert_int_equal(itest_client_send(h.bob, "/fingerprint alice"), 0);
	ev = itest_client_expect_error(h.bob, "security", ITEST_TIMEOUT_MS);
	assert_non_null(ev);
	json_decref(ev);
	bob_still_works(&h);

	fprintf(stderr, "%d inputs\n", inputs);
	assert_true(inputs >= 20);
	rt_quit(h.alice);
	rt_quit(h.bob);
	hostile_stop(proxy);
	proxy = NULL;
	lc_stop(&h.f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_hostile_client, hc_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
