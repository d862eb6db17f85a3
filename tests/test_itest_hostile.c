/* Integration tests of the hostile-server harness (tests/support/hostile.h):
 * a proxy that holds the real server's key and each user's identity key sits
 * between real batch clients and a real cryptocat-server, and plays the
 * server's part with a filter the test sets.
 *
 * What is proved: the proxy is transparent (clients that pinned the real
 * server accept it, register, create a room, join and talk both ways, with
 * the real server's fingerprint); that it does what a hostile server could:
 * drop a message (the client shows nothing), change one (the client reports
 * it forged and shows nothing), send messages of its own either way (a PING
 * the client answers; one the server answers), and cut a connection (the
 * client reports it lost, and can come back); and that the real server's
 * refusals reach the client, while a user whose key the proxy lacks is cut
 * off. These are the tools; what the clients must detect under attack is
 * for the tests that use them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "proto/msg.h"
#include "support/hostile.h"
#include "support/itest.h"
#include "support/itest_extra.h"
#include "support/itest_rooms.h"
#include "util/buf.h"

static const char *const two[] = {"alice", "bob", NULL};

/* Stopped by the teardown if a test fails halfway. */
static struct hostile *proxy;

static int teardown(void **state)
{
	hostile_stop(proxy);
	proxy = NULL;
	return itest_teardown(state);
}

/* ---- filters (the proxy's thread, its lock held: no assertions here) ------ */

/* Counts what passes, per direction. */
struct count_ctx {
	int to_server, to_client, room_msgs_to_bob;
};

static enum hostile_verdict count_all(void *ctx, const char *nick, int session,
				      enum hostile_dir dir, const struct proto_msg *m,
				      const uint8_t *body, size_t len, struct buf *out)
{
	struct count_ctx *c = ctx;
	(void)session, (void)body, (void)len, (void)out;
	if (dir == HOSTILE_TO_SERVER)
		c->to_server++;
	else
		c->to_client++;
	if (dir == HOSTILE_TO_CLIENT && m->type == PROTO_ROOM_MSG && strcmp(nick, "bob") == 0)
		c->room_msgs_to_bob++;
	return HOSTILE_PASS;
}

/* Drops every room message on its way to bob. */
static enum hostile_verdict drop_to_bob(void *ctx, const char *nick, int session,
					enum hostile_dir dir, const struct proto_msg *m,
					const uint8_t *body, size_t len, struct buf *out)
{
	int *dropped = ctx;
	(void)session, (void)body, (void)len, (void)out;
	if (dir != HOSTILE_TO_CLIENT || m->type != PROTO_ROOM_MSG || strcmp(nick, "bob") != 0)
		return HOSTILE_PASS;
	++*dropped;
	return HOSTILE_DROP;
}

/* Flips the last byte (the sender's signature) of the first room message to
 * bob, re-encoding the message around the changed envelope. */
static enum hostile_verdict forge_one_to_bob(void *ctx, const char *nick, int session,
					     enum hostile_dir dir, const struct proto_msg *m,
					     const uint8_t *body, size_t len, struct buf *out)
{
	int *forged = ctx;
	uint8_t env[PROTO_ENVELOPE_MAX];
	(void)session, (void)body, (void)len;
	if (*forged || dir != HOSTILE_TO_CLIENT || m->type != PROTO_ROOM_MSG ||
	    strcmp(nick, "bob") != 0)
		return HOSTILE_PASS;
	struct proto_msg changed = *m;
	size_t n = m->u.room_msg.envelope.len;
	memcpy(env, m->u.room_msg.envelope.p, n);
	env[n - 1] ^= 0x01;
	changed.u.room_msg.envelope = (struct proto_bytes){env, n};
	if (hostile_frame_msg(out, &changed) != CC_OK)
		return HOSTILE_PASS;  /* the test then fails on bob's output */
	++*forged;
	return HOSTILE_REPLACE;
}

/* Catches bob's PONG to the proxy's own PING (the real server never asked). */
struct pong_ctx {
	uint64_t token;
	int caught;
};

static enum hostile_verdict catch_pong(void *ctx, const char *nick, int session,
				       enum hostile_dir dir, const struct proto_msg *m,
				       const uint8_t *body, size_t len, struct buf *out)
{
	struct pong_ctx *p = ctx;
	(void)session, (void)body, (void)len, (void)out;
	if (dir != HOSTILE_TO_SERVER || m->type != PROTO_PONG || strcmp(nick, "bob") != 0 ||
	    m->u.ping.token != p->token)
		return HOSTILE_PASS;
	p->caught++;
	return HOSTILE_DROP;
}

/* ---- helpers ------------------------------------------------------------- */

/* The real server's key fingerprint, in hex, from its data directory. */
static void server_fp_hex(const char *data, char hex[2 * CRYPTO_FINGERPRINT_LEN + 1])
{
	struct crypto_rsa_key *key = NULL;
	uint8_t fp[CRYPTO_FINGERPRINT_LEN];
	assert_int_equal(crypto_rsa_load_private_file(itest_path(data, "server_key.pem"), &key),
			 CC_OK);
	assert_int_equal(crypto_rsa_fingerprint(key, fp), CC_OK);
	crypto_rsa_free(key);
	hex_encode(fp, sizeof fp, hex);
}

/* Waits for C's "registered" and checks its nick and server key. */
static void expect_registered(struct itest_client *c, const char *nick, const char *server_fp,
			      const char *status)
{
	json_t *ev = itest_client_expect(c, "registered", ITEST_TIMEOUT_MS);
	assert_non_null(ev);
	assert_string_equal(itest_json_str(ev, "nick"), nick);
	assert_string_equal(itest_json_str(ev, "server_fingerprint"), server_fp);
	assert_string_equal(itest_json_str(ev, "server_key"), status);
	json_decref(ev);
}

/* HOME's client pins SERVER_FP for the proxy's address, as if the proxy sat
 * where the real server is: the operator's own machine. */
static void pin_proxy(const char *home, int port, const char *server_fp)
{
	const char *path = itest_path(home, "known_servers");
	FILE *f = fopen(path, "a");
	assert_non_null(f);
	fprintf(f, "127.0.0.1:%d %s\n", port, server_fp);
	assert_int_equal(fclose(f), 0);
}

/* C fails with error CODE and exits with status 1; returns the error. */
static json_t *rt_expect_error_exit(struct itest_client *c, const char *code)
{
	json_t *ev = itest_client_expect_error(c, code, ITEST_TIMEOUT_MS);
	assert_non_null(ev);
	assert_int_equal(itest_client_wait_exit(c, ITEST_TIMEOUT_MS), 1);
	return ev;
}

static int locked_int(const int *p)
{
	hostile_lock(proxy);
	int v = *p;
	hostile_unlock(proxy);
	return v;
}

/* ---- the test ------------------------------------------------------------ */

static void test_hostile_proxy(void **state)
{
	struct rt_fixture f;
	struct itest_client *c[2];
	const char *homes[2];
	char fp[2 * CRYPTO_FINGERPRINT_LEN + 1], room[RT_ROOM_HEX];
	struct rt_sent s, s2;
	(void)state;

	rt_start(&f, "hostile", 0);
	server_fp_hex(f.data, fp);

	/* alice and bob first meet the real server, and pin its key. */
	for (int i = 0; i < 2; i++) {
		homes[i] = itest_subdir(f.dir, two[i]);
		assert_non_null(homes[i]);
		c[i] = itest_client_start(f.port, homes[i], two[i], NULL);
		assert_non_null(c[i]);
	}
	for (int i = 0; i < 2; i++) {
		expect_registered(c[i], two[i], fp, "new");
		rt_quit(c[i]);
	}

	/* ---- 1. transparency: the pin holds, and everything works ---------- */
	proxy = hostile_start(f.port, f.data, f.dir);
	assert_non_null(proxy);
	int port = hostile_port(proxy);
	struct count_ctx counts = {0};
	hostile_set_filter(proxy, count_all, &counts);
	for (int i = 0; i < 2; i++) {
		pin_proxy(homes[i], port, fp);
		c[i] = itest_client_start(port, homes[i], two[i], NULL);
		assert_non_null(c[i]);
	}
	for (int i = 0; i < 2; i++)
		expect_registered(c[i], two[i], fp, "known");
	struct itest_client *alice = c[0], *bob = c[1];

	rt_create(alice, "bob", "Through the proxy", two, room);
	for (int i = 0; i < 2; i++)
		json_decref(rt_join(c[i], room, 0));
	s = rt_say(alice, room, "hello bob", 1);
	rt_expect_msg(bob, room, "alice", "hello bob", s.seq, s.msg_id);
	s = rt_say(bob, room, "hello alice", 1);
	rt_expect_msg(alice, room, "bob", "hello alice", s.seq, s.msg_id);
	hostile_lock(proxy);
	struct count_ctx seen = counts;
	hostile_unlock(proxy);
	/* It all went through the filter: requests, answers, the message. */
	assert_true(seen.to_server >= 6);
	assert_true(seen.to_client >= 6);
	assert_int_equal(seen.room_msgs_to_bob, 1);

	/* ---- 2. drop: bob hears nothing of it, until alice's next message
	 * shows one of hers is missing -------------------------------------- */
	int dropped = 0;
	hostile_set_filter(proxy, drop_to_bob, &dropped);
	hostile_mark(proxy);
	s = rt_say(alice, room, "bob never sees this", 1);
	assert_true(hostile_wait_seen(proxy, "bob", HOSTILE_TO_CLIENT, PROTO_ROOM_MSG,
				      ITEST_TIMEOUT_MS));
	assert_int_equal(itest_client_expect_silence(bob, 500), 1);
	assert_int_equal(locked_int(&dropped), 1);
	hostile_set_filter(proxy, NULL, NULL);
	s2 = rt_say(alice, room, "but this", 1);
	assert_int_equal(s2.msg_id, s.msg_id + 1);
	json_t *gap = itest_client_expect(bob, "gap", ITEST_TIMEOUT_MS);
	assert_non_null(gap);
	assert_string_equal(itest_json_str(gap, "from"), "alice");
	assert_int_equal(itest_json_int(gap, "first", -1), s.seq);
	assert_int_equal(itest_json_int(gap, "last", -1), s.seq);
	json_decref(gap);
	rt_expect_msg(bob, room, "alice", "but this", s2.seq, s2.msg_id);

	/* ---- 3. change: reported as forged, never shown -------------------- */
	int forged = 0;
	hostile_set_filter(proxy, forge_one_to_bob, &forged);
	rt_say(alice, room, "changed on the way", 1);
	json_decref(rt_expect_room_error(bob, "forged", room, "alice"));
	rt_ping(bob);
	assert_int_equal(locked_int(&forged), 1);
	s = rt_say(alice, room, "and this is genuine", 1);
	gap = itest_client_expect(bob, "gap", ITEST_TIMEOUT_MS);
	assert_non_null(gap);
	json_decref(gap);
	rt_expect_msg(bob, room, "alice", "and this is genuine", s.seq, s.msg_id);
	hostile_set_filter(proxy, NULL, NULL);

	/* ---- 4. inject: the proxy's own PING is answered -------------------- */
	struct pong_ctx pong = {.token = 0x686f7374696c6521ull};
	struct proto_msg ping = {.type = PROTO_PING};
	hostile_set_filter(proxy, catch_pong, &pong);
	hostile_mark(proxy);
	ping.u.ping.token = pong.token;
	assert_int_equal(hostile_inject(proxy, "nobody", HOSTILE_TO_CLIENT, &ping), 0);
	assert_int_equal(hostile_inject(proxy, "bob", HOSTILE_TO_CLIENT, &ping), 1);
	assert_true(hostile_wait_seen(proxy, "bob", HOSTILE_TO_SERVER, PROTO_PONG,
				      ITEST_TIMEOUT_MS));
	assert_int_equal(locked_int(&pong.caught), 1);
	hostile_set_filter(proxy, NULL, NULL);
	/* And the other way: a PING as if from alice, which the real server answers
	 * (her client takes the PONG it never asked for quietly). */
	hostile_mark(proxy);
	assert_int_equal(hostile_inject(proxy, "ALICE", HOSTILE_TO_SERVER, &ping), 1);
	assert_true(hostile_wait_seen(proxy, "alice", HOSTILE_TO_CLIENT, PROTO_PONG,
				      ITEST_TIMEOUT_MS));
	rt_ping(bob);
	rt_ping(alice);

	/* ---- 5. drop the connection: bob's client says so, and comes back ---- */
	hostile_drop_sessions(proxy, "bob");
	json_t *lost = itest_client_expect(bob, "connection_lost", ITEST_TIMEOUT_MS);
	assert_non_null(lost);
	json_decref(lost);
	rt_ping(alice);
	/* The proxy serves on: bob's client comes back through it by itself,
	 * joins the room again, and shows nothing of its backlog twice. */
	json_decref(itest_client_expect(bob, "reconnected", ITEST_TIMEOUT_MS));
	json_decref(itest_client_expect(bob, "joined", ITEST_TIMEOUT_MS));
	rt_ping(bob);

	rt_quit(bob);
	rt_quit(alice);

	/* ---- 6. the edges: the server's refusal reaches the client ----------- */
	/* alice's key asking for a second nickname (the proxy finds the key under
	 * that name): the real server's ERROR is relayed before the close. */
	const char *alias = itest_subdir(f.dir, "alice2");
	assert_non_null(alias);
	assert_int_equal(itest_copy_file(itest_path(homes[0], "identity.pem"),
					 itest_path(alias, "identity.pem"), 0600), 0);
	c[0] = itest_client_start(port, homes[0], "alice2", NULL);
	assert_non_null(c[0]);
	json_decref(rt_expect_error_exit(c[0], "exists"));
	/* A user whose key the proxy does not hold is cut off after the handshake. */
	const char *outside = itest_subdir(itest_subdir(f.dir, "outside"), "carol");
	assert_non_null(outside);
	c[0] = itest_client_start(port, outside, "carol", NULL);
	assert_non_null(c[0]);
	rt_lost_server(c[0]);

	hostile_stop(proxy);
	proxy = NULL;
	rt_stop(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_hostile_proxy, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
