/* Integration tests of reconnecting: real servers, real batch clients, and the
 * hostile proxy (tests/support/hostile.h) to cut a connection at a chosen
 * moment.
 *
 *   restart       the server stops and comes back: both clients say
 *                 connection_lost then reconnected, join their room again,
 *                 and every line said before, during (queued while offline)
 *                 and after arrives once at the peer, with one "sent" each
 *   lost answers  a SENT lost in transit (the line is stored once, heard
 *                 once, confirmed once, and not shown to its sender as a
 *                 message); a connection gone silent (keepalive PING, then
 *                 given up); an /add whose OK was lost (made: completed, not
 *                 made twice); a /kick that never reached the server (made
 *                 after); a /create, an /admin and a /leave whose OK was lost
 *   offline       the server gone for good: commands fail with "offline"
 *                 after --offline-timeout, the waits grow 1 s, 2 s, 4 s, and
 *                 /quit or SIGTERM still ends the client at once, status 0
 *   refused       the server comes back with our nickname bound to another
 *                 key (nick_taken, exit status 1), or with another key of its
 *                 own (server_key_changed, exit status 3)
 * The cap of the backoff (60 s) is checked in tests/test_client_reconnect.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proto/msg.h"
#include "support/hostile.h"
#include "support/itest.h"
#include "support/itest_extra.h"
#include "support/itest_rooms.h"

static const char *const two[] = {"alice", "bob", NULL};

/* Stopped by the teardown if a test fails halfway. */
static struct hostile *proxy;

static int teardown(void **state)
{
	hostile_stop(proxy);
	proxy = NULL;
	return itest_teardown(state);
}

/* ---- reading a client's events into a log --------------------------------------- */

/* 1 if EV is EVENT and, unless KEY is NULL, EV[KEY] is the string VALUE. */
static int ev_is(const json_t *ev, const char *event, const char *key, const char *value)
{
	const char *e = itest_json_str(ev, "event");
	if (!e || strcmp(e, event) != 0)
		return 0;
	return !key || (itest_json_str(ev, key) && strcmp(itest_json_str(ev, key), value) == 0);
}

/* Reads C's events, appending each to LOG, until one matches (ev_is);
 * returns it (borrowed from LOG). Fails the test on a timeout. */
static json_t *read_until(struct itest_client *c, json_t *log, const char *event, const char *key,
			  const char *value)
{
	int64_t end = itest_now_ms() + itest_scale_ms(ITEST_TIMEOUT_MS);
	for (;;) {
		assert_true(itest_now_ms() < end);
		json_t *ev = itest_client_next(c, ITEST_TIMEOUT_MS);
		assert_non_null(ev);
		json_array_append_new(log, ev);
		if (ev_is(ev, event, key, value))
			return ev;
	}
}

/* How many events of LOG match; *first (if not NULL) gets the index of the
 * first (-1 if none). */
static size_t log_count(const json_t *log, const char *event, const char *key, const char *value,
			long *first)
{
	size_t n = 0, i;
	json_t *ev;
	if (first)
		*first = -1;
	json_array_foreach(log, i, ev) {
		if (!ev_is(ev, event, key, value))
			continue;
		if (first && *first < 0)
			*first = (long)i;
		n++;
	}
	return n;
}

/* A message from FROM with TEXT in LOG (borrowed; it must be there once). */
static json_t *log_message(const json_t *log, const char *from, const char *text)
{
	size_t i;
	json_t *ev, *found = NULL;
	int n = 0;
	json_array_foreach(log, i, ev) {
		if (ev_is(ev, "message", "text", text)) {
			assert_string_equal(itest_json_str(ev, "from"), from);
			found = ev;
			n++;
		}
	}
	assert_int_equal(n, 1);
	return found;
}

/* Waits (polling, the proxy's lock held for each look) until *P >= WANT. */
static void wait_locked(const int *p, int want)
{
	int64_t end = itest_now_ms() + itest_scale_ms(ITEST_TIMEOUT_MS);
	for (;;) {
		hostile_lock(proxy);
		int v = *p;
		hostile_unlock(proxy);
		if (v >= want)
			return;
		assert_true(itest_now_ms() < end);
		usleep(5000);
	}
}

/* The next events of C: connection_lost (at least MIN_LOST), then reconnected. */
static void expect_lost_then_back(struct itest_client *c, size_t min_lost)
{
	json_t *log = json_array();
	read_until(c, log, "reconnected", NULL, NULL);
	assert_true(json_array_size(log) >= min_lost + 1);
	assert_int_equal(log_count(log, "connection_lost", NULL, NULL, NULL),
			 json_array_size(log) - 1);
	json_decref(log);
}

/* ---- the server restarts ------------------------------------------------------- */

static void test_server_restart(void **state)
{
	struct rt_fixture f;
	struct itest_client *c[2];
	char room[RT_ROOM_HEX], text[64];
	json_t *log[2];
	(void)state;

	rt_start(&f, "reconnect-restart", 1);
	rt_clients(f.port, f.dir, two, 2, c);
	rt_create(c[0], "bob", "Outage", two, room);
	for (int i = 0; i < 2; i++) {
		json_decref(rt_join(c[i], room, 0));
		log[i] = json_array();
	}
	/* Before: said and heard, each once. */
	for (int i = 0; i < 2; i++) {
		snprintf(text, sizeof text, "before, from %s", two[i]);
		assert_int_equal(itest_client_send(c[i], text), 0);
		read_until(c[i], log[i], "sent", NULL, NULL);
		read_until(c[!i], log[!i], "message", "text", text);
	}

	/* The server stops: both clients notice, and try again by themselves. */
	rt_stop(&f);
	for (int i = 0; i < 2; i++) {
		json_t *ev = itest_client_expect(c[i], "connection_lost", ITEST_TIMEOUT_MS);
		assert_non_null(ev);
		assert_true(itest_json_int(ev, "retry_ms", 0) >= 800);
		json_decref(ev);
	}
	/* During: lines typed while offline wait for the connection (a batch
	 * client reads them, and holds the next until they are done). */
	for (int i = 0; i < 2; i++) {
		snprintf(text, sizeof text, "during, from %s", two[i]);
		assert_int_equal(itest_client_send(c[i], text), 0);
	}
	f.srv = itest_server_start_on(f.data, f.port, rt_server_args);
	assert_non_null(f.srv);
	for (int i = 0; i < 2; i++) {
		json_t *back = json_array();
		read_until(c[i], back, "reconnected", NULL, NULL);
		assert_int_equal(log_count(back, "connection_lost", NULL, NULL, NULL),
				 json_array_size(back) - 1);
		json_decref(back);
	}
	for (int i = 0; i < 2; i++) {
		size_t mark = json_array_size(log[i]);
		snprintf(text, sizeof text, "during, from %s", two[!i]);
		/* The room is joined again first, then the line goes, and the
		 * peer's arrives (from the backlog, or live). */
		json_t *joined = read_until(c[i], log[i], "joined", "room", room);
		assert_int_equal(json_array_size(log[i]), mark + 1);
		assert_true(rt_same_list(json_object_get(joined, "members"), two));
		read_until(c[i], log[i], "sent", NULL, NULL);
		if (log_count(log[i], "message", "text", text, NULL) == 0)
			read_until(c[i], log[i], "message", "text", text);
	}
	/* After: as ever. */
	for (int i = 0; i < 2; i++) {
		snprintf(text, sizeof text, "after, from %s", two[i]);
		assert_int_equal(itest_client_send(c[i], text), 0);
		read_until(c[i], log[i], "sent", NULL, NULL);
		read_until(c[!i], log[!i], "message", "text", text);
	}
	for (int i = 0; i < 2; i++) {
		assert_int_equal(itest_client_send(c[i], "/ping"), 0);
		read_until(c[i], log[i], "pong", NULL, NULL);
	}

	/* Each line once at the peer, with the id its sender was told; one
	 * "sent" per line; no error; nobody's own line shown as a message. */
	for (int i = 0; i < 2; i++) {
		static const char *const phases[] = {"before", "during", "after"};
		assert_int_equal(log_count(log[i], "sent", NULL, NULL, NULL), 3);
		assert_int_equal(log_count(log[i], "message", NULL, NULL, NULL), 3);
		assert_int_equal(log_count(log[i], "error", NULL, NULL, NULL), 0);
		assert_int_equal(log_count(log[i], "gap", NULL, NULL, NULL), 0);
		assert_int_equal(log_count(log[i], "joined", NULL, NULL, NULL), 1);
		size_t k, s = 0;
		json_t *ev;
		json_array_foreach(log[!i], k, ev) {
			if (!ev_is(ev, "sent", NULL, NULL))
				continue;
			snprintf(text, sizeof text, "%s, from %s", phases[s++], two[!i]);
			json_t *m = log_message(log[i], two[!i], text);
			assert_int_equal(itest_json_int(m, "msg_id", -1),
					 itest_json_int(ev, "msg_id", -2));
			assert_int_equal(itest_json_int(m, "seq", -1), itest_json_int(ev, "seq", -2));
		}
		assert_int_equal(s, 3);
	}
	assert_int_equal(rt_sql_int("SELECT count(*) FROM messages"), 6);
	for (int i = 0; i < 2; i++) {
		json_decref(log[i]);
		rt_quit(c[i]);
	}
	rt_stop(&f);
}

/* ---- answers lost with the connection (the proxy cuts it) ---------------------------- */

/* What the filter does to alice's sessions; counts what it saw. */
struct cut_ctx {
	uint8_t drop_type;          /* drop the first message of this type... */
	enum hostile_dir drop_dir;  /* ...going this way (0: nothing to drop) */
	int dropped;
	int session;                /* alice's latest session */
	int silence;                /* drop everything to this session of alice's */
	int silenced;
	int msg_sends, pings;       /* MSG_SEND, PING from alice to the server */
};

static enum hostile_verdict cut_filter(void *ctx, const char *nick, int session,
				       enum hostile_dir dir, const struct proto_msg *m,
				       const uint8_t *body, size_t len, struct buf *out)
{
	struct cut_ctx *c = ctx;
	(void)body, (void)len, (void)out;
	if (strcmp(nick, "alice") != 0)
		return HOSTILE_PASS;
	if (session > c->session)
		c->session = session;
	if (dir == HOSTILE_TO_SERVER && m->type == PROTO_MSG_SEND)
		c->msg_sends++;
	if (dir == HOSTILE_TO_SERVER && m->type == PROTO_PING)
		c->pings++;
	if (c->silence && session == c->silence && dir == HOSTILE_TO_CLIENT) {
		c->silenced++;
		return HOSTILE_DROP;
	}
	if (c->drop_type && !c->dropped && dir == c->drop_dir && m->type == c->drop_type) {
		c->dropped = 1;
		return HOSTILE_DROP;
	}
	return HOSTILE_PASS;
}

/* Sends LINE to alice, drops the first message of TYPE going DIR once the
 * proxy sees it, then cuts alice's connection; her client must say so and
 * come back (her events up to reconnected are read). */
static void cut_after(struct itest_client *alice, struct cut_ctx *ctx, const char *line,
		      uint8_t type, enum hostile_dir dir)
{
	hostile_lock(proxy);
	ctx->drop_type = type;
	ctx->drop_dir = dir;
	ctx->dropped = 0;
	hostile_unlock(proxy);
	assert_int_equal(itest_client_send(alice, line), 0);
	wait_locked(&ctx->dropped, 1);
	hostile_lock(proxy);
	ctx->drop_type = 0;
	hostile_unlock(proxy);
	hostile_drop_sessions(proxy, "alice");
	expect_lost_then_back(alice, 1);
}

static void test_lost_answers(void **state)
{
	static const char *const abc[] = {"alice", "bob", "carol", NULL};
	struct rt_fixture f;
	struct itest_client *c[3];
	struct cut_ctx ctx = {0};
	char room[RT_ROOM_HEX];
	json_t *ev;
	(void)state;

	/* alice goes through the proxy (pinning the real server's key, which it
	 * holds); bob and carol straight to the server. */
	rt_start(&f, "reconnect-cut", 1);
	proxy = hostile_start(f.port, f.data, f.dir);
	assert_non_null(proxy);
	hostile_set_filter(proxy, cut_filter, &ctx);
	static const char *const quick[] = {"--ping-timeout", "2", NULL};
	c[0] = itest_client_start(hostile_port(proxy), itest_subdir(f.dir, "alice"), "alice",
				  quick);
	for (int i = 1; i < 3; i++)
		c[i] = itest_client_start(f.port, itest_subdir(f.dir, abc[i]), abc[i], NULL);
	for (int i = 0; i < 3; i++) {
		assert_non_null(c[i]);
		json_decref(itest_client_expect(c[i], "registered", ITEST_TIMEOUT_MS));
	}
	struct itest_client *alice = c[0], *bob = c[1], *carol = c[2];
	rt_create(alice, "bob", "Cut", two, room);
	json_decref(rt_join(alice, room, 0));
	json_decref(rt_join(bob, room, 0));

	/* ---- SENT lost: stored once, heard once, confirmed once ---------------- */
	cut_after(alice, &ctx, "lost in transit", PROTO_SENT, HOSTILE_TO_CLIENT);
	json_t *heard = itest_client_expect(bob, "message", ITEST_TIMEOUT_MS);
	assert_non_null(heard);
	assert_string_equal(itest_json_str(heard, "text"), "lost in transit");
	/* Rejoined: her own line is in the backlog (her read mark went with the
	 * SENT), and is not shown to her; the line is sent again and confirmed
	 * as the stored one. */
	ev = itest_client_expect(alice, "joined", ITEST_TIMEOUT_MS);
	assert_non_null(ev);
	assert_int_equal(itest_json_int(ev, "backlog", -1), 1);
	json_decref(ev);
	ev = itest_client_expect(alice, "sent", ITEST_TIMEOUT_MS);
	assert_non_null(ev);
	assert_int_equal(itest_json_int(ev, "msg_id", -1), itest_json_int(heard, "msg_id", -2));
	assert_int_equal(itest_json_int(ev, "seq", -1), itest_json_int(heard, "seq", -2));
	json_decref(ev);
	rt_ping(alice);
	rt_ping(bob);
	hostile_lock(proxy);
	assert_int_equal(ctx.msg_sends, 2);  /* the first, and the same again */
	hostile_unlock(proxy);
	assert_int_equal(rt_sql_int("SELECT count(*) FROM messages"), 1);
	struct rt_sent s = rt_say(alice, room, "and the next", 1);
	assert_int_equal(s.seq, itest_json_int(heard, "seq", -2) + 1);
	rt_expect_msg(bob, room, "alice", "and the next", s.seq, s.msg_id);
	json_decref(heard);

	/* ---- silence: pinged after 1 s, given up after 2 s, made again --------- */
	hostile_lock(proxy);
	int pings = ctx.pings;
	ctx.silence = ctx.session;  /* the one now */
	hostile_unlock(proxy);
	int64_t t0 = itest_now_ms();
	ev = itest_client_expect(alice, "connection_lost", ITEST_TIMEOUT_MS);
	assert_non_null(ev);
	assert_true(itest_now_ms() - t0 >= 1000);  /* not at once: when silent too long */
	assert_non_null(strstr(itest_json_str(ev, "reason"), "no answer"));
	json_decref(ev);
	hostile_lock(proxy);
	assert_true(ctx.pings > pings);  /* it asked before giving up */
	assert_true(ctx.silenced > 0);
	ctx.silence = 0;
	hostile_unlock(proxy);
	json_decref(itest_client_expect(alice, "reconnected", ITEST_TIMEOUT_MS));
	json_decref(itest_client_expect(alice, "joined", ITEST_TIMEOUT_MS));
	rt_ping(alice);

	/* ---- /add whose OK was lost: it was made; completed, not made twice ---- */
	cut_after(alice, &ctx, "/add carol", PROTO_OK, HOSTILE_TO_CLIENT);
	ev = itest_client_expect(alice, "member_added", ITEST_TIMEOUT_MS);
	assert_non_null(ev);
	assert_string_equal(itest_json_str(ev, "nick"), "carol");
	long long epoch = itest_json_int(ev, "epoch", -1);
	json_decref(ev);
	ev = itest_client_expect(alice, "joined", ITEST_TIMEOUT_MS);
	assert_non_null(ev);
	assert_true(rt_same_list(json_object_get(ev, "members"), abc));
	assert_int_equal(itest_json_int(ev, "epoch", -1), epoch);
	json_decref(ev);
	rt_ping(alice);
	ev = itest_client_expect(bob, "member_added", ITEST_TIMEOUT_MS);
	assert_non_null(ev);
	assert_int_equal(itest_json_int(ev, "epoch", -1), epoch);
	json_decref(ev);
	rt_ping(bob);
	json_decref(rt_join(carol, room, 0));
	s = rt_say(alice, room, "welcome carol", 1);
	assert_int_equal(s.seq, 1);  /* a new epoch */
	rt_expect_msg(carol, room, "alice", "welcome carol", 1, s.msg_id);
	rt_expect_msg(bob, room, "alice", "welcome carol", 1, s.msg_id);

	/* ---- /kick that never reached the server: not made; made after --------- */
	cut_after(alice, &ctx, "/kick carol", PROTO_ROOM_KICK, HOSTILE_TO_SERVER);
	json_decref(itest_client_expect(alice, "joined", ITEST_TIMEOUT_MS));
	ev = itest_client_expect(alice, "member_kicked", ITEST_TIMEOUT_MS);
	assert_non_null(ev);
	assert_string_equal(itest_json_str(ev, "nick"), "carol");
	assert_int_equal(itest_json_int(ev, "epoch", -1), epoch + 1);
	json_decref(ev);
	rt_ping(alice);
	json_decref(itest_client_expect(bob, "member_kicked", ITEST_TIMEOUT_MS));
	json_decref(itest_client_expect(carol, "expelled", ITEST_TIMEOUT_MS));
	rt_ping(bob);

	/* ---- /create whose OK was lost: one room, told once ------------------- */
	cut_after(alice, &ctx, "/create bob Second", PROTO_OK, HOSTILE_TO_CLIENT);
	ev = itest_client_expect(alice, "room_created", ITEST_TIMEOUT_MS);
	assert_non_null(ev);
	assert_string_equal(itest_json_str(ev, "title"), "Second");
	char second[RT_ROOM_HEX];
	snprintf(second, sizeof second, "%s", itest_json_str(ev, "room"));
	json_decref(ev);
	json_decref(itest_client_expect(alice, "joined", ITEST_TIMEOUT_MS));  /* the first room */
	rt_ping(alice);
	ev = rt_rooms(bob);
	assert_int_equal(json_array_size(ev), 2);
	json_decref(ev);
	assert_int_equal(rt_sql_int("SELECT count(*) FROM rooms"), 2);

	/* ---- /admin whose OK was lost: made; both rooms joined again ------------ */
	json_decref(rt_join(alice, second, 0));
	cut_after(alice, &ctx, "/admin bob", PROTO_OK, HOSTILE_TO_CLIENT);
	json_t *log = json_array();
	ev = read_until(alice, log, "admin_changed", NULL, NULL);
	assert_string_equal(itest_json_str(ev, "room"), second);
	assert_string_equal(itest_json_str(ev, "admin"), "bob");
	if (log_count(log, "joined", "room", room, NULL) == 0)
		read_until(alice, log, "joined", "room", room);
	if (log_count(log, "joined", "room", second, NULL) == 0)
		read_until(alice, log, "joined", "room", second);
	assert_int_equal(json_array_size(log), 3);
	json_decref(log);
	rt_ping(alice);

	/* ---- /leave whose OK was lost: made (the server no longer knows her
	 * there); not joined again ------------------------------------------------- */
	char line[80];
	snprintf(line, sizeof line, "/leave %s", second);
	cut_after(alice, &ctx, line, PROTO_OK, HOSTILE_TO_CLIENT);
	ev = itest_client_expect(alice, "left", ITEST_TIMEOUT_MS);
	assert_non_null(ev);
	assert_string_equal(itest_json_str(ev, "room"), second);
	json_decref(ev);
	ev = itest_client_expect(alice, "joined", ITEST_TIMEOUT_MS);
	assert_non_null(ev);
	assert_string_equal(itest_json_str(ev, "room"), room);
	json_decref(ev);
	rt_ping(alice);
	ev = rt_rooms(alice);
	assert_int_equal(json_array_size(ev), 1);
	json_decref(ev);

	for (int i = 0; i < 3; i++)
		rt_quit(c[i]);
	hostile_stop(proxy);
	proxy = NULL;
	rt_stop(&f);
}

/* ---- the server gone for good ------------------------------------------------------- */

/* The next event of C is connection_lost: its retry_ms. */
static long long next_retry(struct itest_client *c)
{
	json_t *ev = itest_client_expect(c, "connection_lost", ITEST_TIMEOUT_MS);
	assert_non_null(ev);
	long long ms = itest_json_int(ev, "retry_ms", -1);
	json_decref(ev);
	return ms;
}

/* Sends LINE to C, which waits for the connection and fails with "offline"
 * after about 2 s (--offline-timeout 2); the connection_lost events that
 * come meanwhile go to RETRIES (count in *N). */
static void fails_offline(struct itest_client *c, const char *line, long long *retries, int *n)
{
	json_t *log = json_array();
	int64_t t0 = itest_now_ms();
	assert_int_equal(itest_client_send(c, line), 0);
	json_t *err = read_until(c, log, "error", NULL, NULL);
	int64_t waited = itest_now_ms() - t0;
	assert_string_equal(itest_json_str(err, "code"), "offline");
	assert_true(waited >= 1900);
	assert_true(waited < itest_scale_ms(8000));
	size_t i;
	json_t *ev;
	json_array_foreach(log, i, ev)
		if (ev_is(ev, "connection_lost", NULL, NULL) && *n < 16)
			retries[(*n)++] = itest_json_int(ev, "retry_ms", -1);
	json_decref(log);
}

static void test_offline(void **state)
{
	static const char *const ac[] = {"alice", "carol", NULL};
	struct rt_fixture f;
	char room[RT_ROOM_HEX];
	long long retries[16];
	int n = 0;
	(void)state;

	rt_start(&f, "reconnect-offline", 0);
	static const char *const two_s[] = {"--offline-timeout", "2", NULL};
	static const char *const forever[] = {"--offline-timeout", "0", NULL};
	struct itest_client *alice = itest_client_start(f.port, itest_subdir(f.dir, "alice"),
							"alice", two_s);
	struct itest_client *carol = itest_client_start(f.port, itest_subdir(f.dir, "carol"),
							"carol", forever);
	assert_non_null(alice);
	assert_non_null(carol);
	json_decref(itest_client_expect(alice, "registered", ITEST_TIMEOUT_MS));
	json_decref(itest_client_expect(carol, "registered", ITEST_TIMEOUT_MS));
	rt_create(alice, "carol", "Alone", ac, room);
	json_decref(rt_join(alice, room, 0));

	rt_stop(&f);
	retries[n++] = next_retry(alice);
	next_retry(carol);
	/* Without a timeout, a command waits as long as it takes. */
	assert_int_equal(itest_client_send(carol, "/rooms"), 0);
	int64_t carol_t0 = itest_now_ms();
	/* With one, a command read while offline waits, then fails with
	 * "offline"; so does a line for the room. */
	fails_offline(alice, "/ping", retries, &n);
	fails_offline(alice, "nobody hears this", retries, &n);
	while (n < 3)
		retries[n++] = next_retry(alice);
	/* The waits between attempts: 1 s, 2 s, 4 s, each within 20 %. */
	for (int i = 0; i < 3; i++) {
		long long base = 1000ll << i;
		assert_true(retries[i] >= base * 8 / 10);
		assert_true(retries[i] <= base * 12 / 10);
	}
	/* /quit while offline ends at once, exit status 0. */
	int64_t t0 = itest_now_ms();
	assert_int_equal(itest_client_send(alice, "/quit"), 0);
	assert_int_equal(itest_client_wait_exit(alice, ITEST_TIMEOUT_MS), 0);
	assert_true(itest_now_ms() - t0 < itest_scale_ms(2000));

	/* carol's command still waits, well past alice's timeout; SIGTERM ends
	 * her client at once, saying what was not done, exit status 0. */
	assert_true(itest_now_ms() - carol_t0 >= 4000);
	assert_int_equal(kill(itest_client_pid(carol), SIGTERM), 0);
	json_t *log = json_array();
	json_t *err = read_until(carol, log, "error", NULL, NULL);
	assert_string_equal(itest_json_str(err, "code"), "offline");
	assert_int_equal(log_count(log, "error", NULL, NULL, NULL), 1);
	assert_true(log_count(log, "connection_lost", NULL, NULL, NULL) >= 2);
	json_decref(log);
	assert_int_equal(itest_client_wait_exit(carol, ITEST_TIMEOUT_MS), 0);
}

/* ---- refused for good: another key holds the nickname, another server key ------------ */

static void test_refused_for_good(void **state)
{
	struct rt_fixture f;
	struct itest_client *c[2];
	(void)state;

	rt_start(&f, "reconnect-refused", 1);
	rt_clients(f.port, f.dir, two, 2, c);
	struct itest_client *alice = c[0], *bob = c[1];

	/* While the server is down, bob's nickname goes to another key (as
	 * after its expiry): his client is refused, and stops (exit status 1);
	 * alice's comes back. */
	rt_stop(&f);
	assert_true(next_retry(alice) > 0);
	assert_true(next_retry(bob) > 0);
	free(rt_sql("UPDATE users SET fingerprint = zeroblob(32) WHERE nick_lower = 'bob'"));
	f.srv = itest_server_start_on(f.data, f.port, rt_server_args);
	assert_non_null(f.srv);
	json_t *log = json_array();
	json_t *err = read_until(bob, log, "error", NULL, NULL);
	assert_string_equal(itest_json_str(err, "code"), "nick_taken");
	assert_int_equal(log_count(log, "reconnected", NULL, NULL, NULL), 0);
	json_decref(log);
	assert_int_equal(itest_client_wait_exit(bob, ITEST_TIMEOUT_MS), 1);
	expect_lost_then_back(alice, 0);  /* (her first connection_lost was read) */
	rt_ping(alice);

	/* Another server (another key) where alice's was: refused, exit status 3. */
	rt_stop(&f);
	assert_true(next_retry(alice) > 0);
	f.srv = itest_server_start_on(itest_subdir(f.dir, "impostor"), f.port, rt_server_args);
	assert_non_null(f.srv);
	log = json_array();
	err = read_until(alice, log, "error", NULL, NULL);
	assert_string_equal(itest_json_str(err, "code"), "server_key_changed");
	assert_non_null(itest_json_str(err, "pinned"));
	assert_non_null(itest_json_str(err, "offered"));
	assert_string_not_equal(itest_json_str(err, "pinned"), itest_json_str(err, "offered"));
	assert_int_equal(log_count(log, "reconnected", NULL, NULL, NULL), 0);
	json_decref(log);
	assert_int_equal(itest_client_wait_exit(alice, ITEST_TIMEOUT_MS), 3);
	rt_stop(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_server_restart, teardown),
		cmocka_unit_test_teardown(test_lost_answers, teardown),
		cmocka_unit_test_teardown(test_offline, teardown),
		cmocka_unit_test_teardown(test_refused_for_good, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
