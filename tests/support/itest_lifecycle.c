/* Lifecycle and trust test helpers: see itest_lifecycle.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>

#include <cmocka.h>

#include "itest_lifecycle.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "crypto/crypto.h"
#include "e2e/e2e.h"
#include "itest_extra.h"
#include "proto/msg.h"
#include "proto/room.h"
#include "store/client_store.h"
#include "transport/chan.h"
#include "util/log.h"

#define CLOCK_ENV "CRYPTOCAT_CLOCK_FILE"

static const char *const lc_server_args[] = {"--rsa-bits", "2048", "--nick-ttl", "86400",
					      NULL};

/* ---- a server ------------------------------------------------------------------ */

void lc_clock_write(const char *path, uint64_t secs)
{
	/* Written whole and renamed, so no reader ever sees a half-written
	 * number (it would fall back to real time). */
	char tmp[4200];
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	FILE *fp = fopen(tmp, "w");
	assert_non_null(fp);
	assert_true(fprintf(fp, "%llu\n", (unsigned long long)secs) > 0);
	assert_int_equal(fclose(fp), 0);
	assert_int_equal(rename(tmp, path), 0);
}

void lc_start(struct lc_fixture *f, const char *name, int clock)
{
	memset(f, 0, sizeof *f);
	if (!itest_have_binaries() || !rt_sqlite3())
		skip();
	f->dir = itest_tmpdir(name);
	assert_non_null(f->dir);
	f->data = itest_subdir(f->dir, "server");
	assert_non_null(f->data);
	unsetenv(CLOCK_ENV);
	/* The client store's "opened" notes would drown the test's output. */
	log_set_level(LOG_LEVEL_WARN);
	if (clock) {
		f->clock = itest_path(f->dir, "clock");
		f->t0 = (uint64_t)time(NULL);
		lc_clock_write(f->clock, f->t0);
		assert_int_equal(setenv(CLOCK_ENV, f->clock, 1), 0);
	}
	f->srv = itest_server_start(f->data, lc_server_args);
	assert_non_null(f->srv);
	f->port = itest_server_port(f->srv);
	rt_db_use(itest_path(f->data, "cryptocat.db"), f->dir);
}

void lc_stop(struct lc_fixture *f)
{
	assert_int_equal(itest_server_stop(f->srv), 0);
	f->srv = NULL;
	unsetenv(CLOCK_ENV);
}

void lc_restart(struct lc_fixture *f)
{
	assert_int_equal(itest_server_stop(f->srv), 0);
	f->srv = itest_server_start_on(f->data, f->port, lc_server_args);
	assert_non_null(f->srv);
}

void lc_clock_hours(struct lc_fixture *f, unsigned hours)
{
	assert_non_null(f->clock);
	lc_clock_write(f->clock, f->t0 + hours * LC_HOUR);
}

int lc_teardown(void **state)
{
	unsetenv(CLOCK_ENV);
	return itest_teardown(state);
}

const char *lc_home(const struct lc_fixture *f, const char *name)
{
	const char *home = itest_subdir(f->dir, name);
	assert_non_null(home);
	return home;
}

uint64_t lc_server_time_ms(int port, const char *nick)
{
	struct crypto_rsa_key *key = NULL;
	struct ichan w;
	struct proto_msg m;
	uint8_t *frame;
	size_t len;
	enum chan_event ev;

	assert_int_equal(crypto_init(), CC_OK);
	assert_int_equal(crypto_rsa_generate(2048, &key), CC_OK);
	int fd = itest_tcp_connect(port);
	assert_true(fd >= 0);
	/* ichan_handshake(), keeping the WELCOME. */
	ichan_start(&w, fd, key, nick);
	w.own_key = 1;
	assert_int_equal(itest_read_frame(fd, chan_frame_cap(w.ch), &frame, &len,
					  ITEST_TIMEOUT_MS), 1);
	assert_int_equal(chan_recv_frame(w.ch, frame, len, &w.out, &ev), CC_OK);
	free(frame);
	assert_int_equal(ev, CHAN_EVENT_SERVER_KEY);
	assert_int_equal(chan_client_continue(w.ch, &w.out), CC_OK);
	ichan_flush(&w);
	assert_int_equal(ichan_next(&w, &m, ITEST_TIMEOUT_MS), 1);
	assert_int_equal(m.type, PROTO_WELCOME);
	assert_true(chan_peer_proven(w.ch));
	uint64_t t = m.u.welcome.server_time_ms;
	ichan_close(&w);
	return t;
}

/* ---- events -------------------------------------------------------------------- */

static json_t *expect_v(struct itest_client *c, const char *event, const char *room, va_list ap)
{
	json_t *ev = itest_client_expect(c, event, ITEST_TIMEOUT_MS);
	assert_non_null(ev);
	if (room)
		assert_string_equal(itest_json_str(ev, "room"), room);
	for (;;) {
		const char *key = va_arg(ap, const char *);
		if (!key)
			break;
		const char *want = va_arg(ap, const char *);
		const char *got = itest_json_str(ev, key);
		if (!got || strcmp(got, want) != 0) {
			char *dump = itest_json_dump(ev);
			fprintf(stderr, "[lifecycle] %s: \"%s\" should be \"%s\" in %s\n",
				itest_client_nick(c), key, want, dump);
			free(dump);
		}
		assert_non_null(got);
		assert_string_equal(got, want);
	}
	return ev;
}

json_t *lc_expect(struct itest_client *c, const char *event, const char *room, ...)
{
	va_list ap;
	va_start(ap, room);
	json_t *ev = expect_v(c, event, room, ap);
	va_end(ap);
	return ev;
}

void lc_see(struct itest_client *c, const char *event, const char *room, ...)
{
	va_list ap;
	va_start(ap, room);
	json_decref(expect_v(c, event, room, ap));
	va_end(ap);
}

json_t *lc_cmd_error(struct itest_client *c, const char *code, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	assert_true(n > 0 && (size_t)n < sizeof line);
	assert_int_equal(itest_client_send(c, line), 0);
	json_t *ev = itest_client_expect_error(c, code, ITEST_TIMEOUT_MS);
	assert_non_null(ev);
	assert_non_null(itest_json_str(ev, "message"));
	return ev;
}

long long lc_expect_msg(struct itest_client *c, const char *room, const char *from,
			const char *text, int verified)
{
	json_t *ev = lc_expect(c, "message", room, "from", from, "text", text, NULL);
	json_t *v = json_object_get(ev, "verified");
	assert_true(json_is_boolean(v));
	assert_int_equal(json_is_true(v) ? 1 : 0, verified ? 1 : 0);
	long long msg_id = itest_json_int(ev, "msg_id", -1);
	assert_true(msg_id >= 1);
	json_decref(ev);
	return msg_id;
}

void lc_rooms_empty(struct itest_client *c)
{
	json_t *rooms = rt_rooms(c);
	assert_int_equal(json_array_size(rooms), 0);
	json_decref(rooms);
}

void lc_rooms_has(struct itest_client *c, const char *room, const char *admin, int members,
		  int epoch)
{
	json_t *rooms = rt_rooms(c);
	json_t *r = rt_rooms_find(rooms, room);
	assert_non_null(r);
	assert_string_equal(itest_json_str(r, "admin"), admin);
	assert_int_equal(itest_json_int(r, "members", -1), members);
	assert_int_equal(itest_json_int(r, "epoch", -1), epoch);
	json_decref(rooms);
}

void lc_fingerprint(struct itest_client *c, const char *nick, char fp[LC_FP_HEX])
{
	json_t *ev = nick ? rt_cmd(c, "fingerprint", "/fingerprint %s", nick)
			  : rt_cmd(c, "fingerprint", "/fingerprint");
	const char *got = itest_json_str(ev, "fingerprint");
	assert_non_null(got);
	assert_int_equal(strlen(got), LC_FP_HEX - 1);
	memcpy(fp, got, LC_FP_HEX);
	json_decref(ev);
}

void lc_quit_all(struct itest_client **c, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		rt_ping(c[i]);
		rt_quit(c[i]);
		c[i] = NULL;
	}
}

/* ---- the server's database -------------------------------------------------------- */

long long lc_user_id(const char *nick)
{
	return rt_sql_int("SELECT id FROM users WHERE nick_lower = lower('%s')", nick);
}

long long lc_room_row(const char *room_hex)
{
	return rt_sql_int("SELECT id FROM rooms WHERE room_id = X'%s'", room_hex);
}

void lc_user_fp(const char *nick, char fp[LC_FP_HEX])
{
	char *out = rt_sql("SELECT lower(hex(fingerprint)) FROM users WHERE nick_lower = lower('%s')",
			   nick);
	assert_int_equal(strlen(out), LC_FP_HEX - 1);
	memcpy(fp, out, LC_FP_HEX);
	free(out);
}

/* ---- the clients' side -------------------------------------------------------------- */

/* How many times the server's log says NICK went. */
static int times_gone(struct lc_fixture *f, const char *nick)
{
	char needle[64];
	size_t len = 0;
	snprintf(needle, sizeof needle, ": %s disconnected", nick);
	char *log = itest_read_file(itest_server_log(f->srv), &len);
	int n = 0;
	for (const char *p = log; p && (p = strstr(p, needle)); p += strlen(needle))
		n++;
	free(log);
	return n;
}

void lc_quit_seen(struct lc_fixture *f, struct itest_client *c, const char *as)
{
	char nick[64];
	snprintf(nick, sizeof nick, "%s", as ? as : itest_client_nick(c));
	int before = times_gone(f, nick);
	rt_quit(c);
	for (int waited = 0; times_gone(f, nick) <= before; waited += 10) {
		assert_true(waited < itest_scale_ms(ITEST_TIMEOUT_MS));
		usleep(10 * 1000);
	}
}

void lc_quit_all_seen(struct lc_fixture *f, struct itest_client **c, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (c[i])
			lc_quit_seen(f, c[i], NULL);
}

const char *lc_home_copy(struct lc_fixture *f, const char *nick, const char *name)
{
	char cmd[8192];
	const char *dst = itest_path(f->dir, name);
	char *dst_copy = strdup(dst);
	assert_non_null(dst_copy);
	snprintf(cmd, sizeof cmd, "rm -rf '%s' && cp -a '%s' '%s'", dst_copy, lc_home(f, nick),
		 dst_copy);
	assert_int_equal(system(cmd), 0);
	free(dst_copy);
	return itest_path(f->dir, name);
}

/* ---- a raw session ------------------------------------------------------------------ */

void lc_wc_open(struct ichan *w, int port, const char *home, const char *nick)
{
	ichan_open(w, port, home, nick);
	/* Owed rekeys are announced at any time here: not the answer. */
	w->skip_rekey_owed = 1;
}

void lc_wc_send_expect(struct ichan *w, const char *room_hex, uint32_t epoch,
		       const char *sender, uint64_t seq, cc_err code)
{
	struct proto_msg m = {.type = PROTO_MSG_SEND};
	uint8_t room[PROTO_ROOM_ID_LEN];
	struct buf blob;

	assert_int_equal(hex_decode(room_hex, room, sizeof room), CC_OK);
	buf_init(&blob, PROTO_ENVELOPE_MAX);
	ichan_junk_envelope(&blob, room, epoch, sender, seq);
	m.u.msg_send.envelope = (struct proto_bytes){blob.data, blob.len};
	ichan_expect_error(w, &m, code);
	buf_free(&blob);
}

void lc_wc_change_expect(struct ichan *w, uint8_t type, const char *room_hex, cc_err code)
{
	static const uint8_t junk[] = "junk";
	struct proto_msg m;
	uint8_t room[PROTO_ROOM_ID_LEN];

	assert_int_equal(hex_decode(room_hex, room, sizeof room), CC_OK);
	memset(&m, 0, sizeof m);
	m.type = type;
	switch (type) {
	case PROTO_ROOM_ADD:
	case PROTO_ROOM_KICK:
	case PROTO_ROOM_REKEY:
		/* Empty lists: junk items would not even parse. */
		memcpy(m.u.room_rekey.room_id, room, sizeof room);
		m.u.room_rekey.title_ct = (struct proto_bytes){junk, 4};
		break;
	case PROTO_ROOM_ADMIN:
		memcpy(m.u.room_leave.room_id, room, sizeof room);
		m.u.room_leave.record = (struct proto_bytes){junk, 4};
		break;
	default:
		fail_msg("not a membership request: 0x%02x", type);
	}
	ichan_expect_error(w, &m, code);
}
