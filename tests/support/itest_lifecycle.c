/* Lifecycle and trust test helpers: see itest_lifecycle.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "itest_lifecycle.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "crypto/crypto.h"
#include "itest_extra.h"
#include "proto/frame.h"
#include "proto/msg.h"
#include "proto/room.h"
#include "store/client_store.h"
#include "transport/chan.h"
#include "util/log.h"

#define CLOCK_ENV "CRYPTOCAT_CLOCK_FILE"

static const char *const lc_server_args[] = {"--rsa-bits", "2048", "--nick-ttl", "86400",
					      NULL};

/* ---- a server ------------------------------------------------------------------ */

static void clock_write(const char *path, uint64_t secs)
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
		clock_write(f->clock, f->t0);
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
	clock_write(f->clock, f->t0 + hours * LC_HOUR);
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

int lc_home_key(const char *home, const char *room_hex, uint32_t epoch, uint8_t key[LC_KEY_LEN])
{
	struct client_store *cs = NULL;
	uint8_t room[CSTORE_ROOM_ID_LEN];
	assert_int_equal(hex_decode(room_hex, room, sizeof room), CC_OK);
	assert_int_equal(cstore_open(itest_path(home, "client.db"), &cs), CC_OK);
	cc_err err = cstore_key_get(cs, room, epoch, key);
	cstore_close(cs);
	if (err != CC_OK)
		assert_int_equal(err, CC_ERR_NOT_FOUND);
	return err == CC_OK ? 0 : -1;
}

int lc_open_envelope(const uint8_t key[LC_KEY_LEN], const uint8_t *blob, size_t len,
		     char *text, size_t cap, uint32_t *epoch)
{
	struct proto_envelope env;
	assert_int_equal(proto_envelope_decode(blob, len, &env), CC_OK);
	if (epoch)
		*epoch = env.epoch;
	assert_true(env.ciphertext.len >= CRYPTO_AEAD_TAG_LEN);
	size_t n = env.ciphertext.len - CRYPTO_AEAD_TAG_LEN;
	uint8_t *plain = malloc(n + 1);
	assert_non_null(plain);
	cc_err err = crypto_aead_open(key, env.nonce, env.header.p, env.header.len,
				      env.ciphertext.p, env.ciphertext.len, plain);
	if (err == CC_OK) {
		assert_true(n < cap);
		memcpy(text, plain, n);
		text[n] = '\0';
	}
	free(plain);
	return err == CC_OK ? 0 : -1;
}

/* ---- a raw session ------------------------------------------------------------------ */

/* One whole inner message: 1 with *M (views valid until the next call), 0 if
 * the server closed, -1 on a timeout. */
static int wc_next(struct lc_wc *w, struct proto_msg *m, int timeout_ms)
{
	for (;;) {
		const uint8_t *body;
		size_t len;
		cc_err err = chan_pop_frame(w->ch, &body, &len);
		if (err == CC_OK) {
			assert_int_equal(proto_msg_decode(body, len, m), CC_OK);
			return 1;
		}
		assert_int_equal(err, CC_ERR_TRUNCATED);
		uint8_t *frame;
		size_t flen;
		int r = itest_read_frame(w->fd, chan_frame_cap(w->ch), &frame, &flen, timeout_ms);
		if (r != 1)
			return r;
		enum chan_event ev;
		buf_reset(&w->out);
		err = chan_recv_frame(w->ch, frame, flen, &w->out, &ev);
		free(frame);
		assert_int_equal(err, CC_OK);
		assert_int_equal(ev, CHAN_EVENT_DATA);
	}
}

static void wc_flush(struct lc_wc *w)
{
	assert_int_equal(itest_tcp_send_all(w->fd, w->out.data, w->out.len), 0);
	buf_reset(&w->out);
}

void lc_wc_open(struct lc_wc *w, int port, const char *home, const char *nick)
{
	uint8_t *frame;
	size_t len;
	enum chan_event ev;
	struct proto_msg m;

	memset(w, 0, sizeof *w);
	assert_int_equal(crypto_init(), CC_OK);
	assert_int_equal(crypto_rsa_load_private_file(itest_path(home, "identity.pem"), &w->key),
			 CC_OK);
	w->fd = itest_tcp_connect(port);
	assert_true(w->fd >= 0);
	buf_init(&w->out, 2 * PROTO_FRAME_MAX_LIMIT);
	assert_int_equal(chan_client_new(w->key, nick, PROTO_FRAME_MAX_DEFAULT, &w->ch), CC_OK);
	assert_int_equal(chan_client_start(w->ch, &w->out), CC_OK);
	wc_flush(w);
	assert_int_equal(itest_read_frame(w->fd, chan_frame_cap(w->ch), &frame, &len,
		ITEST_TIMEOUT_MS), 1);
	assert_int_equal(chan_recv_frame(w->ch, frame, len, &w->out, &ev), CC_OK);
	free(frame);
	assert_int_equal(ev, CHAN_EVENT_SERVER_KEY);
	assert_int_equal(chan_client_continue(w->ch, &w->out), CC_OK);
	wc_flush(w);
	assert_int_equal(wc_next(w, &m, ITEST_TIMEOUT_MS), 1);
	assert_int_equal(m.type, PROTO_WELCOME);
	chan_set_send_cap(w->ch, m.u.welcome.max_frame);
}

void lc_wc_close(struct lc_wc *w)
{
	close(w->fd);
	chan_free(w->ch);
	buf_free(&w->out);
	crypto_rsa_free(w->key);
	memset(w, 0, sizeof *w);
}

/* Sends M with a fresh request id; its answer must be ERROR CODE. */
static void wc_expect_error(struct lc_wc *w, struct proto_msg *m, cc_err code)
{
	uint32_t id = ++w->next_request;
	switch (m->type) {
	case PROTO_MSG_SEND:
		m->u.msg_send.request_id = id;
		break;
	case PROTO_ROOM_ADD:
		m->u.room_add.request_id = id;
		break;
	case PROTO_ROOM_KICK:
	case PROTO_ROOM_REKEY:
		m->u.room_rekey.request_id = id;
		break;
	case PROTO_ROOM_ADMIN:
		m->u.room_leave.request_id = id;
		break;
	default:
		fail_msg("no request id for type 0x%02x", m->type);
	}
	assert_int_equal(chan_send_msg(w->ch, m, &w->out), CC_OK);
	wc_flush(w);
	/* The answer to it; room traffic and pings in between are not. */
	for (;;) {
		assert_int_equal(wc_next(w, m, ITEST_TIMEOUT_MS), 1);
		if (m->type == PROTO_ROOM_MSG || m->type == PROTO_ROOM_RECORD ||
		    m->type == PROTO_PING || m->type == PROTO_REKEY_OWED)
			continue;
		assert_int_equal(proto_msg_request_id(m), id);
		break;
	}
	if (m->type != PROTO_ERROR)
		fail_msg("expected ERROR %s, got message type 0x%02x", cc_err_code(code), m->type);
	if (m->u.error.code != code)
		fail_msg("expected ERROR %s, got %s", cc_err_code(code),
			 cc_err_code((cc_err)m->u.error.code));
}

void lc_wc_send_expect(struct lc_wc *w, const char *room_hex, uint32_t epoch,
		       const char *sender, uint64_t seq, cc_err code)
{
	struct proto_envelope env = {0};
	struct proto_msg m = {.type = PROTO_MSG_SEND};
	struct buf blob;
	uint8_t ct[48];

	memset(ct, 0x5a, sizeof ct);
	env.version = PROTO_ENVELOPE_VERSION;
	assert_int_equal(hex_decode(room_hex, env.room_id, sizeof env.room_id), CC_OK);
	env.epoch = epoch;
	env.sender = proto_bytes_str(sender);
	env.seq = seq;
	env.time_ms = 1700000000000ull;
	memset(env.nonce, 7, sizeof env.nonce);
	env.ciphertext = (struct proto_bytes){ct, sizeof ct};
	memset(env.signature, 0x33, sizeof env.signature);
	buf_init(&blob, PROTO_ENVELOPE_MAX);
	assert_int_equal(proto_envelope_encode(&env, &blob), CC_OK);
	m.u.msg_send.envelope = (struct proto_bytes){blob.data, blob.len};
	wc_expect_error(w, &m, code);
	buf_free(&blob);
}

void lc_wc_change_expect(struct lc_wc *w, uint8_t type, const char *room_hex, cc_err code)
{
	static const uint8_t junk[] = "junk";
	struct proto_msg m;
	uint8_t room[PROTO_ROOM_ID_LEN];

	assert_int_equal(hex_decode(room_hex, room, sizeof room), CC_OK);
	memset(&m, 0, sizeof m);
	m.type = type;
	switch (type) {
	case PROTO_ROOM_ADD:
		memcpy(m.u.room_add.room_id, room, sizeof room);
		m.u.room_add.record = (struct proto_bytes){junk, 4};
		m.u.room_add.wrapped = (struct proto_bytes){junk, 4};
		break;
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
	wc_expect_error(w, &m, code);
}
