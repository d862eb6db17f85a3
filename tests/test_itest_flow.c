/* Flow control on the server (--output-soft, docs/ROBUSTNESS.md): a member
 * that reads slower than its room talks holds the room's senders back
 * instead of being dropped, and one that stops reading is dropped after
 * --output-soft-seconds, after which the room goes on.
 *
 *   test_slow_reader_kept     bob's second session reads about 125 messages
 *                             of 16 KB a second while alice sends 800 as fast
 *                             as the server answers: 12.8 MB through a
 *                             --max-output of 64 KiB. Every one arrives, and
 *                             nobody is dropped. With --output-soft 0 (no
 *                             flow control) the same reader is dropped at the
 *                             cap: test_no_flow_control_drops shows it, so the
 *                             first test cannot pass without the feature.
 *   test_stalled_reader_dropped  a session that stops reading holds alice back
 *                             for --output-soft-seconds (2 s), is dropped,
 *                             and alice's messages go on reaching bob.
 *
 *   test_flush_interval       --flush-interval-us 20000: a lone message is
 *                             answered at once, a stream once per 20 ms.
 *
 * The server is the hostile-input fixture's (tests/support/badin.h): small
 * limits, alice and bob as real batch clients, rooms of theirs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proto/frame.h"
#include "proto/msg.h"
#include "proto/room.h"
#include "support/badin.h"
#include "support/itest_extra.h"
#include "util/buf.h"
#include "util/clock.h"

#define TEXT_LEN 16000
/* 12.8 MB: more than the kernel's socket buffers take on loopback (a 4 MiB
 * send buffer at most) plus --max-output. */
#define MESSAGES 800

struct reader {
	struct ichan w;
	int delay_us;       /* between two messages: a slow reader */
	unsigned want;      /* ROOM_MSGs to read */
	unsigned got;
	int closed;         /* the server closed the connection */
};

/* bob's second session, raw, joined to the flood room and past its backlog;
 * a small receive buffer so that the server's queue is what fills. */
static void reader_join(struct badin *b, struct reader *r)
{
	struct proto_msg m = {.type = PROTO_ROOM_JOIN};
	memset(r, 0, sizeof *r);
	int fd = itest_tcp_connect_rcvbuf(b->f.port, 4096);
	assert_true(fd >= 0);
	struct crypto_rsa_key *bob_key = NULL;
	assert_int_equal(crypto_rsa_load_private_file(itest_path(b->bob_home, "identity.pem"),
						      &bob_key), CC_OK);
	ichan_handshake(&r->w, fd, bob_key, "bob", NULL);
	crypto_rsa_free(bob_key);
	memcpy(m.u.room_ref.room_id, b->flood_room_id, PROTO_ROOM_ID_LEN);
	uint32_t id = ichan_request(&r->w, &m);
	ichan_answer(&r->w, id, &m);
	assert_int_equal(m.type, PROTO_ROOM_STATE);
	uint32_t backlog = m.u.room_state.backlog;
	for (uint32_t i = 0; i < backlog; i++)
		assert_int_equal(ichan_next(&r->w, &m, ITEST_TIMEOUT_MS), 1);
	assert_int_equal(ichan_next(&r->w, &m, ITEST_TIMEOUT_MS), 1);
	assert_int_equal(m.type, PROTO_JOIN_DONE);
}

/* The slow reader, on a thread of its own (no cmocka asserts here). */
static void *reader_run(void *arg)
{
	struct reader *r = arg;
	struct proto_msg m;
	while (r->got < r->want) {
		int rc = ichan_next(&r->w, &m, itest_scale_ms(10000));
		if (rc == 0)
			r->closed = 1;
		if (rc != 1)
			break;
		if (m.type == PROTO_ROOM_MSG)
			r->got++;
		usleep((useconds_t)r->delay_us);
	}
	return NULL;
}

/* One 16 KB message from alice's raw session into the flood room: 1 once it
 * is answered SENT. */
static void send_one(struct badin *b, struct ichan *alice, struct buf *env, uint8_t *text)
{
	struct proto_envelope e = {0};
	e.version = PROTO_ENVELOPE_VERSION;
	memcpy(e.room_id, b->flood_room_id, PROTO_ROOM_ID_LEN);
	e.epoch = 1;
	e.sender = proto_bytes_str("alice");
	e.seq = ++b->counter + 1000000;
	e.time_ms = 1700000000000ull;
	e.ciphertext = (struct proto_bytes){text, TEXT_LEN};
	buf_reset(env);
	assert_int_equal(proto_envelope_encode(&e, env), CC_OK);
	struct proto_msg s = {.type = PROTO_MSG_SEND};
	s.u.msg_send.envelope = (struct proto_bytes){env->data, env->len};
	uint32_t id = ichan_request(alice, &s);
	ichan_answer(alice, id, &s);
	assert_int_equal(s.type, PROTO_SENT);
}

/* alice sends COUNT messages while a reader DELAY_US per message follows;
 * returns what the reader got, *closed if the server dropped it. */
static unsigned burst_to_slow_reader(struct badin *b, unsigned count, int delay_us, int *closed)
{
	struct reader r;
	struct ichan alice;
	struct buf env;
	pthread_t t;

	reader_join(b, &r);
	r.delay_us = delay_us;
	r.want = count;
	assert_int_equal(pthread_create(&t, NULL, reader_run, &r), 0);
	badin_as(b, &alice, "alice");
	buf_init(&env, PROTO_ENVELOPE_MAX);
	uint8_t *text = malloc(TEXT_LEN);
	assert_non_null(text);
	memset(text, 'x', TEXT_LEN);
	for (unsigned i = 0; i < count; i++)
		send_one(b, &alice, &env, text);
	free(text);
	buf_free(&env);
	assert_int_equal(pthread_join(t, NULL), 0);
	badin_ping(&alice);
	ichan_close(&alice);
	ichan_close(&r.w);
	*closed = r.closed;
	return r.got;
}

static void test_slow_reader_kept(void **state)
{
	/* The reader sends nothing: a longer idle timeout than the fixture's. */
	static const char *const args[] = {"--idle-timeout", "20", NULL};
	struct badin b;
	int closed;
	(void)state;
	badin_start_args(&b, "flow-slow", args);
	unsigned got = burst_to_slow_reader(&b, MESSAGES, 8000, &closed);
	assert_int_equal(closed, 0);
	assert_int_equal(got, MESSAGES);
	assert_false(itest_wait_file_contains(itest_server_log(b.f.srv), "dropping", 100));
	badin_stop(&b);
}

/* The control: without flow control the same reader is dropped at the cap. */
static void test_no_flow_control_drops(void **state)
{
	static const char *const off[] = {"--output-soft", "0", "--idle-timeout", "20", NULL};
	struct badin b;
	int closed;
	(void)state;
	badin_start_args(&b, "flow-off", off);
	unsigned got = burst_to_slow_reader(&b, MESSAGES, 8000, &closed);
	assert_int_equal(closed, 1);
	assert_true(got < MESSAGES);
	assert_true(itest_wait_file_contains(itest_server_log(b.f.srv), "output cap reached",
					     ITEST_TIMEOUT_MS));
	badin_stop(&b);
}

static void test_stalled_reader_dropped(void **state)
{
	/* A longer idle timeout, so that the soft limit is what drops it. */
	static const char *const soft[] = {"--output-soft-seconds", "2", "--idle-timeout", "20",
					   NULL};
	struct badin b;
	struct reader r;
	struct ichan alice;
	struct buf env;
	(void)state;
	badin_start_args(&b, "flow-stalled", soft);
	reader_join(&b, &r);  /* and it reads nothing more */
	badin_as(&b, &alice, "alice");
	buf_init(&env, PROTO_ENVELOPE_MAX);
	uint8_t *text = malloc(TEXT_LEN);
	assert_non_null(text);
	memset(text, 'x', TEXT_LEN);
	/* The kernel's buffers take the first megabytes; then its queue in the
	 * server passes the soft limit, and alice waits, until it is dropped. */
	const char *log = itest_server_log(b.f.srv);
	uint64_t longest = 0;
	int dropped = 0;
	for (unsigned i = 0; i < 4000 && !dropped; i++) {
		uint64_t t0 = clock_mono_ms();
		send_one(&b, &alice, &env, text);
		uint64_t took = clock_mono_ms() - t0;
		if (took > longest)
			longest = took;
		if (i % 16 == 0 || took >= 500)
			dropped = itest_file_contains(log, "output over --output-soft too long");
	}
	free(text);
	buf_free(&env);
	assert_true(dropped);
	assert_true(longest >= 1000);  /* held back on the way */
	/* What it had queued, then the close. */
	assert_int_equal(itest_tcp_wait_closed(r.w.fd, ITEST_TIMEOUT_MS), 1);
	ichan_close(&r.w);
	badin_ping(&alice);
	ichan_close(&alice);
	/* The room goes on: a line of alice's real client reaches bob's. */
	struct rt_sent s = rt_say(b.alice, b.room, "after the stall", 0);
	rt_expect_msg(b.bob, b.room, "alice", "after the stall", s.seq, s.msg_id);
	badin_stop(&b);
}

/* --flush-interval-us: a lone message after a quiet spell is answered at
 * once; a stream of them is answered once per interval (one commit and one
 * write for what came in between). */
static void test_flush_interval(void **state)
{
	static const char *const args[] = {"--flush-interval-us", "20000", NULL};
	struct badin b;
	struct ichan alice;
	struct buf env;
	(void)state;
	badin_start_args(&b, "flow-interval", args);
	badin_as(&b, &alice, "alice");
	buf_init(&env, PROTO_ENVELOPE_MAX);
	uint8_t *text = malloc(TEXT_LEN);
	assert_non_null(text);
	memset(text, 'x', TEXT_LEN);
	usleep(50000);  /* quiet for more than the interval */
	uint64_t t0 = clock_mono_ms();
	send_one(&b, &alice, &env, text);
	uint64_t lone = clock_mono_ms() - t0;
	t0 = clock_mono_ms();
	for (int i = 0; i < 20; i++)
		send_one(&b, &alice, &env, text);
	uint64_t stream = clock_mono_ms() - t0;
	free(text);
	buf_free(&env);
	badin_ping(&alice);
	ichan_close(&alice);
	assert_true(lone < (uint64_t)itest_scale_ms(18));  /* not held for the 20 ms */
	/* Each answer came at the next flush, 20 ms after the one before. */
	assert_true(stream >= 19 * 20 - 20);
	/* And the room works: alice's real client's line reaches bob's. */
	struct rt_sent s = rt_say(b.alice, b.room, "after the stream", 0);
	rt_expect_msg(b.bob, b.room, "alice", "after the stream", s.seq, s.msg_id);
	badin_stop(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_slow_reader_kept, itest_teardown),
		cmocka_unit_test_teardown(test_no_flow_control_drops, itest_teardown),
		cmocka_unit_test_teardown(test_stalled_reader_dropped, itest_teardown),
		cmocka_unit_test_teardown(test_flush_interval, itest_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
