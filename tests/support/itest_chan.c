/* The in-process chan client of the integration tests: see itest_chan.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "itest_chan.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "itest.h"
#include "itest_extra.h"
#include "proto/frame.h"
#include "transport/chan.h"

/* ---- the session ----------------------------------------------------------------- */

void ichan_flush(struct ichan *w)
{
	assert_int_equal(itest_tcp_send_all(w->fd, w->out.data, w->out.len), 0);
	buf_reset(&w->out);
}

int ichan_next(struct ichan *w, struct proto_msg *m, int timeout_ms)
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

void ichan_start(struct ichan *w, int fd, struct crypto_rsa_key *key, const char *nick)
{
	memset(w, 0, sizeof *w);
	w->fd = fd;
	w->key = key;
	assert_int_equal(crypto_rsa_fingerprint(key, w->fp), CC_OK);
	buf_init(&w->out, 2 * PROTO_FRAME_MAX_LIMIT);
	assert_int_equal(chan_client_new(key, nick, PROTO_FRAME_MAX_DEFAULT, &w->ch), CC_OK);
	assert_int_equal(chan_client_start(w->ch, &w->out), CC_OK);
	ichan_flush(w);
}

void ichan_handshake(struct ichan *w, int fd, struct crypto_rsa_key *key, const char *nick,
		     const uint8_t *server_fp)
{
	uint8_t *frame;
	size_t len;
	enum chan_event ev;
	struct proto_msg m;

	ichan_start(w, fd, key, nick);
	assert_int_equal(itest_read_frame(fd, chan_frame_cap(w->ch), &frame, &len,
		ITEST_TIMEOUT_MS), 1);
	assert_int_equal(chan_recv_frame(w->ch, frame, len, &w->out, &ev), CC_OK);
	free(frame);
	assert_int_equal(ev, CHAN_EVENT_SERVER_KEY);
	/* The pin, where the test knows the server's key. */
	if (server_fp)
		assert_memory_equal(chan_peer_fingerprint(w->ch), server_fp,
				    CRYPTO_FINGERPRINT_LEN);
	assert_int_equal(chan_client_continue(w->ch, &w->out), CC_OK);
	ichan_flush(w);
	assert_int_equal(ichan_next(w, &m, ITEST_TIMEOUT_MS), 1);
	assert_int_equal(m.type, PROTO_WELCOME);
	assert_int_equal(m.u.welcome.nick.len, strlen(nick));
	assert_memory_equal(m.u.welcome.nick.p, nick, strlen(nick));
	assert_memory_equal(m.u.welcome.fingerprint, w->fp, sizeof w->fp);
	assert_true(chan_peer_proven(w->ch));
	w->max_frame = m.u.welcome.max_frame;
	chan_set_send_cap(w->ch, w->max_frame);
}

void ichan_open(struct ichan *w, int port, const char *home, const char *nick)
{
	struct crypto_rsa_key *key = NULL;
	assert_int_equal(crypto_init(), CC_OK);
	assert_int_equal(crypto_rsa_load_private_file(itest_path(home, "identity.pem"), &key),
			 CC_OK);
	int fd = itest_tcp_connect(port);
	assert_true(fd >= 0);
	ichan_handshake(w, fd, key, nick, NULL);
	w->own_key = 1;
}

void ichan_close(struct ichan *w)
{
	if (w->fd >= 0)
		close(w->fd);
	chan_free(w->ch);
	buf_free(&w->out);
	if (w->own_key)
		crypto_rsa_free(w->key);
	memset(w, 0, sizeof *w);
	w->fd = -1;
}

/* ---- requests ---------------------------------------------------------------------- */

uint32_t ichan_request(struct ichan *w, struct proto_msg *m)
{
	uint32_t id = ++w->next_request;
	switch (m->type) {
	case PROTO_MSG_SEND:
		m->u.msg_send.request_id = id;
		break;
	case PROTO_ROOM_JOIN:
	case PROTO_ROOM_DISCONNECT:
		m->u.room_ref.request_id = id;
		break;
	case PROTO_ROOM_LEAVE:
	case PROTO_ROOM_ADMIN:
		m->u.room_leave.request_id = id;
		break;
	case PROTO_ROOM_ADD:
	case PROTO_ROOM_KICK:
	case PROTO_ROOM_REKEY:
		m->u.room_rekey.request_id = id;
		break;
	default:
		fail_msg("no request id for type 0x%02x", m->type);
	}
	assert_int_equal(chan_send_msg(w->ch, m, &w->out), CC_OK);
	ichan_flush(w);
	return id;
}

void ichan_answer(struct ichan *w, uint32_t id, struct proto_msg *m)
{
	for (;;) {
		assert_int_equal(ichan_next(w, m, ITEST_TIMEOUT_MS), 1);
		if (m->type == PROTO_ROOM_MSG || m->type == PROTO_ROOM_RECORD ||
		    m->type == PROTO_PING || (w->skip_rekey_owed && m->type == PROTO_REKEY_OWED))
			continue;
		assert_int_equal(proto_msg_request_id(m), id);
		return;
	}
}

void ichan_expect_error(struct ichan *w, struct proto_msg *req, cc_err code)
{
	struct proto_msg m;
	uint32_t id = ichan_request(w, req);
	ichan_answer(w, id, &m);
	if (m.type != PROTO_ERROR)
		fail_msg("expected ERROR %s, got message type 0x%02x", cc_err_code(code), m.type);
	if (m.u.error.code != code)
		fail_msg("expected ERROR %s, got %s (%.*s)", cc_err_code(code),
			 cc_err_code((cc_err)m.u.error.code), (int)m.u.error.text.len,
			 (const char *)m.u.error.text.p);
}

void ichan_junk_envelope(struct buf *out, const uint8_t room[PROTO_ROOM_ID_LEN], uint32_t epoch,
			 const char *sender, uint64_t seq)
{
	struct proto_envelope env = {0};
	uint8_t ct[48];
	memset(ct, 0x5a, sizeof ct);
	env.version = PROTO_ENVELOPE_VERSION;
	memcpy(env.room_id, room, PROTO_ROOM_ID_LEN);
	env.epoch = epoch;
	env.sender = proto_bytes_str(sender);
	env.seq = seq;
	env.time_ms = 1700000000000ull;
	memset(env.nonce, 7, sizeof env.nonce);
	env.ciphertext = (struct proto_bytes){ct, sizeof ct};
	memset(env.signature, 0x33, sizeof env.signature);
	buf_reset(out);
	assert_int_equal(proto_envelope_encode(&env, out), CC_OK);
}
