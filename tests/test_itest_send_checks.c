/* The checks on MSG_SEND, on a connection that has sent before: the server
 * remembers the rooms a connection sends to (server/room_seen.c), and what
 * it remembers must never outlive a change. bob's and alice's raw sessions
 * each send once in the flood room (remembered), alice's real client then
 * expels bob (a new epoch):
 *   - bob's next message, on the same connection, is refused as from a
 *     non-member (no_such_room), in the old epoch and in the new;
 *   - alice's next message in the old epoch is refused as stale;
 *   - alice's message in the new epoch is accepted.
 * The server is the hostile-input fixture's (tests/support/badin.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "proto/msg.h"
#include "support/badin.h"
#include "util/buf.h"

static struct proto_msg send_req(struct buf *env, const struct badin *b, uint32_t epoch,
				 const char *nick, uint64_t seq)
{
	ichan_junk_envelope(env, b->flood_room_id, epoch, nick, seq);
	struct proto_msg m = {.type = PROTO_MSG_SEND};
	m.u.msg_send.envelope = (struct proto_bytes){env->data, env->len};
	return m;
}

static void expect_sent(struct ichan *w, struct proto_msg *m)
{
	uint32_t id = ichan_request(w, m);
	ichan_answer(w, id, m);
	assert_int_equal(m->type, PROTO_SENT);
}

static void test_remembered_room_follows_a_kick(void **state)
{
	struct badin b;
	struct ichan alice, bob;
	struct buf env;
	struct proto_msg m;
	(void)state;

	badin_start(&b, "send-checks");
	buf_init(&env, PROTO_ENVELOPE_MAX);
	badin_as(&b, &alice, "alice");
	badin_as(&b, &bob, "bob");
	m = send_req(&env, &b, 1, "bob", 1);
	expect_sent(&bob, &m);
	m = send_req(&env, &b, 1, "alice", 1);
	expect_sent(&alice, &m);

	json_decref(rt_join(b.alice, b.flood_room, -1));
	for (int i = 0; i < 2; i++)  /* the two junk lines, refused by her client */
		json_decref(itest_client_expect_error(b.alice, "forged", ITEST_TIMEOUT_MS));
	json_decref(rt_cmd(b.alice, "member_kicked", "/kick bob"));

	m = send_req(&env, &b, 1, "bob", 2);
	ichan_expect_error(&bob, &m, CC_ERR_NO_SUCH_ROOM);
	m = send_req(&env, &b, 2, "bob", 3);
	ichan_expect_error(&bob, &m, CC_ERR_NO_SUCH_ROOM);
	m = send_req(&env, &b, 1, "alice", 2);
	ichan_expect_error(&alice, &m, CC_ERR_STALE_EPOCH);
	m = send_req(&env, &b, 2, "alice", 1);
	expect_sent(&alice, &m);

	buf_free(&env);
	ichan_close(&alice);
	ichan_close(&bob);
	badin_stop(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_remembered_room_follows_a_kick, itest_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
