/* The server's hostile-input table: fixture, runner and the attacker's
 * tools (badin.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "badin.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "proto/frame.h"
#include "itest_extra.h"
#include "transport/chan.h"
#include "util/buf.h"

#define CLIENT_KEY_PEM CC_SOURCE_DIR "/tests/data/example_client_key.pem"

/* How much the server's resident memory may grow over the repeated runs of
 * a table, after a first run that warmed its caches (SQLite's page cache,
 * libevent's and the allocator's pools). A leak of even a few hundred bytes
 * per row, times the rows and runs, goes over it. */
#define BADIN_RSS_SLACK_KB 3072

#if defined(__SANITIZE_ADDRESS__)
#define BADIN_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define BADIN_ASAN 1
#endif
#endif

/* ---- fixture ---------------------------------------------------------------- */

void badin_start(struct badin *b, const char *name)
{
	badin_start_args(b, name, NULL);
}

void badin_start_args(struct badin *b, const char *name, const char *const *extra)
{
	static const char *const base[] = {
		"--rsa-bits", "2048",
		"--max-frame", "65536",
		"--max-output", "65536",
		"--max-connections", "64",
		"--handshake-timeout", "2",
		"--idle-timeout", "2",
		/* A member that stops reading holds its rooms' senders back this
		 * long, then is dropped (before the idle timeout's 4 s). */
		"--output-soft-seconds", "1",
		/* Every bad input comes on a connection of its own from 127.0.0.1:
		 * the per-address flood limits (docs/ROBUSTNESS.md ("Handshake floods"), tested in
		 * test_itest_flood) are lifted so that they are not what answers. */
		"--preauth-per-address", "100000",
		"--handshake-rate", "100000",
		"--handshake-burst", "100000",
		NULL};
	const char *args[64];
	size_t n = 0;
	for (size_t i = 0; base[i]; i++)
		args[n++] = base[i];
	for (size_t i = 0; extra && extra[i]; i++) {
		assert_true(n < sizeof args / sizeof args[0] - 1);
		args[n++] = extra[i];
	}
	args[n] = NULL;
	static const char *const two[] = {"alice", "bob", NULL};
	struct itest_client *c[2];

	memset(b, 0, sizeof *b);
	if (!itest_have_binaries())
		skip();
	assert_int_equal(crypto_init(), CC_OK);
	b->f.dir = itest_tmpdir(name);
	assert_non_null(b->f.dir);
	b->f.data = itest_subdir(b->f.dir, "server");
	assert_non_null(b->f.data);
	b->f.srv = itest_server_start(b->f.data, args);
	assert_non_null(b->f.srv);
	b->f.port = itest_server_port(b->f.srv);

	rt_clients(b->f.port, b->f.dir, two, 2, c);
	b->alice = c[0];
	b->bob = c[1];
	b->alice_home = itest_path(b->f.dir, "alice");
	b->bob_home = itest_path(b->f.dir, "bob");
	rt_create(b->alice, "bob", "Under attack", two, b->room);
	for (int i = 0; i < 2; i++)
		json_decref(rt_join(c[i], b->room, 0));
	assert_int_equal(hex_decode(b->room, b->room_id, sizeof b->room_id), CC_OK);
	b->room_epoch = 1;  /* created with one ADD */
	rt_create(b->alice, "bob", "Flooded", two, b->flood_room);
	assert_int_equal(hex_decode(b->flood_room, b->flood_room_id, sizeof b->flood_room_id),
			 CC_OK);

	b->mallory_home = itest_subdir(b->f.dir, "mallory");
	assert_non_null(b->mallory_home);
	assert_int_equal(itest_copy_file(CLIENT_KEY_PEM, itest_path(b->mallory_home,
					 "identity.pem"), 0600), 0);
	struct ichan w;
	badin_mallory(b, &w);  /* registers her */
	ichan_close(&w);
}

void badin_stop(struct badin *b)
{
	rt_quit(b->alice);
	rt_quit(b->bob);
	rt_stop(&b->f);
}

/* ---- the runner ------------------------------------------------------------------ */

static long server_rss_kb(const struct badin *b)
{
	char path[64], line[256];
	long kb = -1;
	snprintf(path, sizeof path, "/proc/%d/status", (int)itest_server_pid(b->f.srv));
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	while (fgets(line, sizeof line, f))
		if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
			break;
	fclose(f);
	assert_true(kb > 0);
	return kb;
}

/* The server is alive, and the others are unaffected: alice's PING is
 * answered and her line reaches bob. */
static void others_unaffected(struct badin *b)
{
	char text[64];
	assert_int_equal(kill(itest_server_pid(b->f.srv), 0), 0);
	rt_ping(b->alice);
	snprintf(text, sizeof text, "still here %llu", (unsigned long long)++b->counter);
	struct rt_sent s = rt_say(b->alice, b->room, text, 0);
	rt_expect_msg(b->bob, b->room, "alice", text, s.seq, s.msg_id);
}

size_t badin_run_table(struct badin *b, const struct badin_row *rows, size_t n, int reps)
{
	size_t ran = 0;
	for (size_t i = 0; i < n; i++) {
		fprintf(stderr, "row %2zu %-14s %s\n", i + 1, rows[i].kind, rows[i].name);
		rows[i].run(b);
		others_unaffected(b);
		ran++;
	}
	/* A second run warms what the first did not. */
	for (size_t i = 0; i < n; i++)
		if (!rows[i].once)
			rows[i].run(b);
	others_unaffected(b);
	long before = server_rss_kb(b);
	size_t repeated = 0;
	for (int r = 0; r < reps; r++) {
		for (size_t i = 0; i < n; i++)
			if (!rows[i].once) {
				rows[i].run(b);
				repeated++;
			}
		rt_ping(b->alice);
	}
	others_unaffected(b);
	long after = server_rss_kb(b);
	fprintf(stderr, "server VmRSS %ld kB before, %ld kB after %zu more rows (%d runs)\n",
		before, after, repeated, reps);
#ifdef BADIN_ASAN
	/* The quarantine keeps what is freed: LeakSanitizer at exit decides. */
	(void)before;
#else
	/* Under make memcheck the server is valgrind, whose own memory grows
	 * with what it tracks: its leak check at exit decides instead. */
	const char *vg = getenv("ITEST_UNDER_VALGRIND");
	if (!vg || !*vg)
		assert_true(after - before <= BADIN_RSS_SLACK_KB);
#endif
	return ran;
}

/* ---- raw sockets ------------------------------------------------------------------ */

int badin_connect(const struct badin *b)
{
	int fd = itest_tcp_connect(b->f.port);
	assert_true(fd >= 0);
	return fd;
}

void badin_send(int fd, const void *p, size_t n)
{
	assert_int_equal(itest_tcp_send_all(fd, p, n), 0);
}

void badin_expect_closed(int fd)
{
	size_t got = 99;
	assert_int_equal(itest_tcp_wait_closed_count(fd, ITEST_TIMEOUT_MS, &got), 1);
	assert_int_equal(got, 0);
	close(fd);
}

void badin_expect_closed_within(int fd, int min_ms, int max_ms)
{
	int64_t t0 = itest_now_ms();
	assert_int_equal(itest_tcp_wait_closed(fd, itest_scale_ms(max_ms)), 1);
	int64_t took = itest_now_ms() - t0;
	if (took < min_ms)
		fail_msg("closed after %lld ms, before %d ms", (long long)took, min_ms);
	close(fd);
}

void badin_expect_plain_error(int fd, cc_err code)
{
	uint8_t *frame;
	size_t len;
	struct proto_msg m;
	assert_int_equal(itest_read_frame(fd, PROTO_FRAME_MAX_PREAUTH, &frame, &len,
		ITEST_TIMEOUT_MS), 1);
	assert_int_equal(proto_msg_decode(frame + PROTO_FRAME_HEADER_LEN,
		len - PROTO_FRAME_HEADER_LEN, &m), CC_OK);
	assert_int_equal(m.type, PROTO_ERROR);
	if (m.u.error.code != code)
		fail_msg("expected ERROR %s, got %s", cc_err_code(code),
			 cc_err_code((cc_err)m.u.error.code));
	assert_int_equal(m.u.error.request_id, 0);
	free(frame);
	badin_expect_closed(fd);
}

void badin_send_plain(int fd, const struct proto_msg *m)
{
	struct buf body, frame;
	buf_init(&body, PROTO_FRAME_MAX_PREAUTH);
	buf_init(&frame, PROTO_FRAME_MAX_PREAUTH + PROTO_FRAME_HEADER_LEN);
	assert_int_equal(proto_msg_encode(m, &body), CC_OK);
	assert_int_equal(proto_frame_put(&frame, body.data, body.len), CC_OK);
	badin_send(fd, frame.data, frame.len);
	buf_free(&body);
	buf_free(&frame);
}

void badin_reset(int fd)
{
	struct linger lg = {.l_onoff = 1, .l_linger = 0};
	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg), 0);
	close(fd);
}

/* ---- sessions ---------------------------------------------------------------------- */

void badin_mallory(struct badin *b, struct ichan *w)
{
	ichan_open(w, b->f.port, b->mallory_home, "mallory");
}

void badin_as(struct badin *b, struct ichan *w, const char *nick)
{
	ichan_open(w, b->f.port, strcmp(nick, "alice") == 0 ? b->alice_home : b->bob_home, nick);
}

void badin_post(struct ichan *w, const struct proto_msg *m)
{
	assert_int_equal(chan_send_msg(w->ch, m, &w->out), CC_OK);
	ichan_flush(w);
}

void badin_post_plain(struct ichan *w, const void *p, size_t n)
{
	assert_int_equal(chan_send(w->ch, p, n, &w->out), CC_OK);
	ichan_flush(w);
}

/* The next message that is not the server's PING (answered). */
static int next_not_ping(struct ichan *w, struct proto_msg *m)
{
	/* A server that answers nothing but its own PINGs fails, in time. */
	int64_t deadline = itest_now_ms() + itest_scale_ms(ITEST_TIMEOUT_MS);
	for (;;) {
		if (itest_now_ms() > deadline)
			fail_msg("no answer but PINGs for %d ms", ITEST_TIMEOUT_MS);
		int r = ichan_next(w, m, ITEST_TIMEOUT_MS);
		if (r != 1 || m->type != PROTO_PING)
			return r;
		struct proto_msg pong = {.type = PROTO_PONG};
		pong.u.ping.token = m->u.ping.token;
		badin_post(w, &pong);
	}
}

void badin_ping(struct ichan *w)
{
	struct proto_msg m = {.type = PROTO_PING};
	uint64_t token = 0x7e57000000000000ull | (uint64_t)rand();
	m.u.ping.token = token;
	badin_post(w, &m);
	assert_int_equal(next_not_ping(w, &m), 1);
	assert_int_equal(m.type, PROTO_PONG);
	assert_true(m.u.ping.token == token);
}

void badin_expect_answer_error(struct ichan *w, uint32_t id, cc_err code)
{
	struct proto_msg m;
	assert_int_equal(next_not_ping(w, &m), 1);
	if (m.type != PROTO_ERROR)
		fail_msg("expected ERROR %s, got message type 0x%02x", cc_err_code(code), m.type);
	if (m.u.error.code != code)
		fail_msg("expected ERROR %s, got %s (%.*s)", cc_err_code(code),
			 cc_err_code((cc_err)m.u.error.code), (int)m.u.error.text.len,
			 (const char *)m.u.error.text.p);
	assert_int_equal(m.u.error.request_id, id);
	badin_ping(w);
}

void badin_expect_error_close(struct ichan *w, cc_err code)
{
	struct proto_msg m;
	assert_int_equal(next_not_ping(w, &m), 1);
	if (m.type != PROTO_ERROR)
		fail_msg("expected ERROR %s, got message type 0x%02x", cc_err_code(code), m.type);
	if (m.u.error.code != code)
		fail_msg("expected ERROR %s, got %s (%.*s)", cc_err_code(code),
			 cc_err_code((cc_err)m.u.error.code), (int)m.u.error.text.len,
			 (const char *)m.u.error.text.p);
	assert_int_equal(ichan_next(w, &m, ITEST_TIMEOUT_MS), 0);
	ichan_close(w);
}

void badin_expect_close(struct ichan *w)
{
	badin_expect_closed(w->fd);
	w->fd = -1;
	ichan_close(w);
}

void badin_corpus_msg(const char *name, struct buf *out)
{
	char path[512];
	size_t len;
	snprintf(path, sizeof path, "%s/fuzz/corpus/msg/%s", CC_SOURCE_DIR, name);
	char *p = itest_read_file(path, &len);
	if (!p)
		fail_msg("cannot read %s", path);
	buf_reset(out);
	assert_int_equal(buf_put_bytes(out, p, len), CC_OK);
	free(p);
}
