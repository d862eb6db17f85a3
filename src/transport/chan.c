/* The secure channel: making and freeing one, records both ways, and the
 * frame dispatch that drives the handshake (whose messages and key schedule
 * are in chan_handshake.c). */
#include "transport/chan.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "transport/chan_internal.h"

static cc_err chan_alloc(enum chan_role role, const struct crypto_rsa_key *own_key,
			 size_t max_frame, struct chan **out)
{
	if (max_frame < PROTO_FRAME_MAX_PREAUTH || max_frame > PROTO_FRAME_MAX_LIMIT)
		return CC_ERR_USAGE;
	struct chan *ch = calloc(1, sizeof *ch);
	if (!ch)
		return CC_ERR_NOMEM;
	ch->role = role;
	ch->own_key = own_key;
	ch->max_frame = max_frame;
	/* Every peer accepts pre-auth sized frames; a client learns more from WELCOME. */
	ch->send_cap = PROTO_FRAME_MAX_PREAUTH;
	buf_init(&ch->transcript, 4 * PROTO_FRAME_MAX_PREAUTH);
	buf_init(&ch->peer_key_der, PROTO_RSA_PUB_MAX);
	buf_init(&ch->pending_key, PROTO_FRAME_MAX_PREAUTH + PROTO_FRAME_HEADER_LEN);
	ch->puzzle_limit = CHAN_PUZZLE_CLIENT_MAX;
	/* Room for one frame beyond what is already buffered. */
	buf_init(&ch->plain_in, 2 * max_frame + PROTO_FRAME_HEADER_LEN);
	*out = ch;
	return CC_OK;
}

cc_err chan_server_new(const struct crypto_rsa_key *server_key, size_t max_frame,
		       struct chan **out)
{
	cc_err err = chan_alloc(ROLE_SERVER, server_key, max_frame, out);
	if (!err)
		(*out)->phase = PHASE_SERVER_WAIT_HELLO;
	return err;
}

cc_err chan_client_new(const struct crypto_rsa_key *identity, const char *nick,
		       size_t max_frame, struct chan **out)
{
	size_t n = strlen(nick);
	if (!proto_nick_valid((const uint8_t *)nick, n))
		return CC_ERR_BAD_NICK;
	cc_err err = chan_alloc(ROLE_CLIENT, identity, max_frame, out);
	if (err)
		return err;
	memcpy((*out)->nick, nick, n + 1);
	(*out)->phase = PHASE_CLIENT_START;
	return CC_OK;
}

void chan_free(struct chan *ch)
{
	if (!ch)
		return;
	buf_free(&ch->transcript);
	buf_free(&ch->peer_key_der);
	buf_free(&ch->pending_key);
	buf_free(&ch->plain_in);
	crypto_rsa_free(ch->peer_key);
	crypto_aead_free(ch->send.aead);
	crypto_aead_free(ch->recv.aead);
	mem_wipe(ch, sizeof *ch);
	free(ch);
}
/* A plaintext ERROR frame for the handshake phase (never part of a transcript). */
void chan_put_plain_error(struct buf *wire_out, cc_err code)
{
	struct proto_msg m = {.type = PROTO_ERROR};
	struct buf body;

	m.u.error.code = (uint16_t)code;
	m.u.error.text = proto_bytes_str(cc_err_str(code));
	buf_init(&body, PROTO_FRAME_MAX_PREAUTH);
	if (proto_msg_encode(&m, &body) == CC_OK)
		proto_frame_put(wire_out, body.data, body.len);
	buf_free(&body);
}
static void record_nonce(uint64_t counter, uint8_t nonce[CRYPTO_AEAD_NONCE_LEN])
{
	memset(nonce, 0, 4);
	store_be64(nonce + 4, counter);
}

/* Opens a record (header = the frame's 4 length bytes, the AAD) into plain_in. */
static cc_err chan_open_record(struct chan *ch, const uint8_t *frame, size_t frame_len)
{
	uint8_t nonce[CRYPTO_AEAD_NONCE_LEN];
	const uint8_t *ct = frame + PROTO_FRAME_HEADER_LEN;
	size_t ct_len = frame_len - PROTO_FRAME_HEADER_LEN;
	uint8_t *dst;
	cc_err err;

	if (ct_len < RECORD_OVERHEAD)
		return CC_ERR_MALFORMED;
	if (ch->recv.counter == UINT64_MAX)
		return CC_ERR_LIMIT;
	/* Drop what was handed out before growing the buffer. */
	if (ch->plain_off) {
		buf_consume(&ch->plain_in, ch->plain_off);
		ch->plain_off = 0;
	}
	size_t before = ch->plain_in.len;
	if ((err = buf_append_space(&ch->plain_in, ct_len - RECORD_OVERHEAD, &dst)))
		return err;
	record_nonce(ch->recv.counter, nonce);
	err = crypto_aead_open_keyed(ch->recv.aead, nonce, frame, PROTO_FRAME_HEADER_LEN, ct,
				     ct_len, dst);
	if (err) {
		ch->plain_in.len = before;
		return CC_ERR_AUTH;
	}
	ch->recv.counter++;
	ch->peer_proven = true;
	return CC_OK;
}

/* Keeps a plaintext ERROR's code and text, and kills the channel. */
static cc_err chan_keep_peer_error(struct chan *ch, const struct proto_error *e)
{
	memcpy(ch->peer_error, e->text.p, e->text.len);
	ch->peer_error[e->text.len] = '\0';
	ch->phase = PHASE_DEAD;
	return e->code > CC_OK && e->code < CC_ERR_COUNT_ ? (cc_err)e->code : CC_ERR_INTERNAL;
}

/* Client: a server that refuses CLIENT_KEY (a wrong puzzle, a full queue, a
 * failed check) has no keys to seal its answer with, so it sends a plaintext
 * ERROR where the first record should be. Such a frame is read for its code
 * and text only when it is not a record (its tag fails) and nothing from the
 * server has opened yet; it proves nothing (PROTOCOL.md 4.6). 1 if it was
 * one, with *err its code. */
static int chan_take_plain_error(struct chan *ch, const uint8_t *frame, size_t frame_len,
				 cc_err *err)
{
	struct proto_msg m;
	if (ch->role != ROLE_CLIENT || ch->peer_proven ||
	    proto_msg_decode(frame + PROTO_FRAME_HEADER_LEN, frame_len - PROTO_FRAME_HEADER_LEN,
			     &m) != CC_OK ||
	    m.type != PROTO_ERROR)
		return 0;
	*err = chan_keep_peer_error(ch, &m.u.error);
	return 1;
}

cc_err chan_recv_frame(struct chan *ch, const uint8_t *frame, size_t frame_len,
		       struct buf *wire_out, enum chan_event *event)
{
	struct proto_msg m;
	size_t body_len;
	cc_err err;

	*event = CHAN_EVENT_NONE;
	err = proto_frame_peek(frame, frame_len, chan_frame_cap(ch), &body_len);
	if (err || body_len != frame_len - PROTO_FRAME_HEADER_LEN) {
		err = err ? err : CC_ERR_TRAILING;
		goto fail;
	}
	if (ch->phase == PHASE_OPEN) {
		if ((err = chan_open_record(ch, frame, frame_len))) {
			if (chan_take_plain_error(ch, frame, frame_len, &err))
				return err;
			goto fail;
		}
		*event = CHAN_EVENT_DATA;
		return CC_OK;
	}

	const uint8_t *body = frame + PROTO_FRAME_HEADER_LEN;
	if ((err = proto_msg_decode(body, body_len, &m)))
		goto fail;
	switch (ch->phase) {
	case PHASE_CLIENT_WAIT_HELLO:
		if (m.type == PROTO_ERROR)
			return chan_keep_peer_error(ch, &m.u.error);
		if (m.type != PROTO_SERVER_HELLO) {
			err = CC_ERR_STATE;
			goto fail;
		}
		if ((err = chan_hs_on_server_hello(ch, &m, frame, frame_len)))
			goto fail;
		*event = CHAN_EVENT_SERVER_KEY;
		return CC_OK;
	case PHASE_SERVER_WAIT_HELLO:
		if (m.type != PROTO_CLIENT_HELLO) {
			err = CC_ERR_STATE;
			goto fail;
		}
		if ((err = chan_hs_on_client_hello(ch, &m, frame, frame_len, wire_out)))
			goto fail;
		return CC_OK;
	case PHASE_SERVER_WAIT_KEY:
		if (m.type != PROTO_CLIENT_KEY) {
			err = CC_ERR_STATE;
			goto fail;
		}
		/* One hash decides whether the client paid for the RSA work. */
		if (!crypto_puzzle_check(ch->puzzle_prefix, sizeof ch->puzzle_prefix,
					 ch->puzzle_bits, m.u.client_key.puzzle_nonce)) {
			err = CC_ERR_PUZZLE;
			goto fail;
		}
		if ((err = buf_put_bytes(&ch->pending_key, frame, frame_len)))
			goto fail;
		ch->phase = PHASE_SERVER_KEY_PENDING;
		if (ch->defer_key) {
			*event = CHAN_EVENT_KEY_PENDING;
			return CC_OK;
		}
		if ((err = chan_server_finish_key(ch, wire_out)))
			return err;
		*event = CHAN_EVENT_OPEN;
		return CC_OK;
	default:
		err = CC_ERR_STATE;
		goto fail;
	}
fail:
	if (ch->role == ROLE_SERVER && ch->phase != PHASE_OPEN && ch->phase != PHASE_DEAD)
		chan_put_plain_error(wire_out, err);
	ch->phase = PHASE_DEAD;
	return err;
}

cc_err chan_pop_frame(struct chan *ch, const uint8_t **body, size_t *len)
{
	const uint8_t *p = ch->plain_in.data + ch->plain_off;
	size_t avail = ch->plain_in.len - ch->plain_off;
	cc_err err;

	if (avail == 0) {
		buf_reset(&ch->plain_in);
		ch->plain_off = 0;
		return CC_ERR_TRUNCATED;
	}
	if ((err = proto_frame_peek(p, avail, ch->max_frame, len)))
		return err;
	*body = p + PROTO_FRAME_HEADER_LEN;
	ch->plain_off += PROTO_FRAME_HEADER_LEN + *len;
	return CC_OK;
}

size_t chan_sealed_len(const struct chan *ch, size_t len)
{
	size_t chunk_max = ch->send_cap - RECORD_OVERHEAD;
	size_t records = (len + chunk_max - 1) / chunk_max;
	return len + records * (PROTO_FRAME_HEADER_LEN + RECORD_OVERHEAD);
}

cc_err chan_send_into(struct chan *ch, const uint8_t *plain, size_t len, uint8_t *out,
		      size_t out_len)
{
	uint8_t nonce[CRYPTO_AEAD_NONCE_LEN];
	cc_err err;

	if (ch->phase != PHASE_OPEN)
		return CC_ERR_STATE;
	if (out_len != chan_sealed_len(ch, len))
		return CC_ERR_INTERNAL;
	size_t chunk_max = ch->send_cap - RECORD_OVERHEAD;
	while (len > 0) {
		size_t n = len < chunk_max ? len : chunk_max;
		if (ch->send.counter == UINT64_MAX)
			return CC_ERR_LIMIT;
		store_be32(out, (uint32_t)(n + RECORD_OVERHEAD));
		record_nonce(ch->send.counter, nonce);
		if ((err = crypto_aead_seal_keyed(ch->send.aead, nonce, out, PROTO_FRAME_HEADER_LEN,
						  plain, n, out + PROTO_FRAME_HEADER_LEN)))
			return err;
		ch->send.counter++;
		out += PROTO_FRAME_HEADER_LEN + n + RECORD_OVERHEAD;
		plain += n;
		len -= n;
	}
	return CC_OK;
}

cc_err chan_send(struct chan *ch, const uint8_t *plain, size_t len, struct buf *wire_out)
{
	if (ch->phase != PHASE_OPEN)
		return CC_ERR_STATE;
	size_t start = wire_out->len;
	size_t n = chan_sealed_len(ch, len);
	uint8_t *dst;
	cc_err err = buf_append_space(wire_out, n, &dst);
	if (err)
		return err;
	if ((err = chan_send_into(ch, plain, len, dst, n)))
		wire_out->len = start;
	return err;
}

cc_err chan_send_msg(struct chan *ch, const struct proto_msg *m, struct buf *wire_out)
{
	struct buf plain;
	cc_err err;

	buf_init(&plain, ch->max_frame + PROTO_FRAME_HEADER_LEN);
	uint8_t *hdr;
	if ((err = buf_append_space(&plain, PROTO_FRAME_HEADER_LEN, &hdr)) ||
	    (err = proto_msg_encode(m, &plain)))
		goto out;
	store_be32(plain.data, (uint32_t)(plain.len - PROTO_FRAME_HEADER_LEN));
	err = chan_send(ch, plain.data, plain.len, wire_out);
out:
	buf_free(&plain);
	return err;
}

size_t chan_frame_cap(const struct chan *ch)
{
	return ch->phase == PHASE_OPEN ? ch->max_frame : PROTO_FRAME_MAX_PREAUTH;
}

int chan_is_open(const struct chan *ch)
{
	return ch->phase == PHASE_OPEN;
}

int chan_peer_proven(const struct chan *ch)
{
	return ch->peer_proven;
}

const struct crypto_rsa_key *chan_peer_key(const struct chan *ch)
{
	return ch->peer_key;
}

const uint8_t *chan_peer_key_der(const struct chan *ch, size_t *len)
{
	*len = ch->peer_key_der.len;
	return ch->peer_key_der.data;
}

const uint8_t *chan_peer_fingerprint(const struct chan *ch)
{
	return ch->peer_fp;
}

const char *chan_peer_nick(const struct chan *ch)
{
	return ch->nick;
}

const char *chan_peer_error_text(const struct chan *ch)
{
	return ch->peer_error;
}

void chan_set_send_cap(struct chan *ch, size_t max_frame)
{
	if (max_frame >= PROTO_FRAME_MAX_PREAUTH && max_frame <= PROTO_FRAME_MAX_LIMIT)
		ch->send_cap = max_frame;
}
