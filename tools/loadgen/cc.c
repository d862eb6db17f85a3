/* Load generator: the Crypto Cat protocol, but for sending (cc_send.c) and
 * the room (cc_room.c): the handshake, joining, receiving and verifying. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loadgen.h"
#include "proto/frame.h"
#include "transport/chan.h"
#include "util/clock.h"

static void cc_queue_msg(struct lg_conn *c, const struct proto_msg *m)
{
	size_t start = c->plain.len;
	uint8_t *hdr;
	if (buf_append_space(&c->plain, PROTO_FRAME_HEADER_LEN, &hdr) ||
	    proto_msg_encode(m, &c->plain)) {
		c->plain.len = start;
		lg_conn_fail(c, "cannot encode a message");
		return;
	}
	store_be32(c->plain.data + start, (uint32_t)(c->plain.len - start - PROTO_FRAME_HEADER_LEN));
	lg_mark_dirty(c);
}

static uint32_t next_req(struct lg_conn *c)
{
	if (++c->next_req == 0)
		c->next_req = 1;
	/* Requests other than MSG_SEND get ids above any seq this run reaches. */
	return 0x80000000u | c->next_req;
}

void lg_cc_on_connected(struct lg_conn *c)
{
	cc_err err = chan_client_new(g.keys[c->idx], c->nick, PROTO_FRAME_MAX_DEFAULT, &c->ch);
	if (!err)
		err = chan_client_start(c->ch, &c->out);
	if (err) {
		lg_conn_fail(c, cc_err_str(err));
		return;
	}
	lg_mark_dirty(c);
}

void lg_cc_join_all(void)
{
	g.phase = PH_JOIN;
	g.t_created = lg_now_ns();
	for (unsigned i = 0; i < g.o.clients; i++) {
		struct lg_conn *c = &g.conns[i];
		struct proto_msg m = {.type = PROTO_ROOM_JOIN};
		m.u.room_ref.request_id = c->req_join = next_req(c);
		memcpy(m.u.room_ref.room_id, g.room_id, PROTO_ROOM_ID_LEN);
		c->state = ST_JOINING;
		cc_queue_msg(c, &m);
	}
}

/* The envelope's plaintext header up to seq: all a receiver needs to know who
 * sent what. The sampled deliveries get the full decode and verification. */
static bool cc_envelope_head(const struct proto_bytes *e, unsigned *si, uint64_t *seq)
{
	/* version, room id, epoch, then the sender's nickname and seq */
	const size_t fixed = 1 + PROTO_ROOM_ID_LEN + 4;
	if (e->len < fixed + 2 || e->p[0] != PROTO_ENVELOPE_VERSION ||
	    memcmp(e->p + 1, g.room_id, PROTO_ROOM_ID_LEN) != 0)
		return false;
	size_t nick_len = load_be16(e->p + fixed);
	const uint8_t *nick = e->p + fixed + 2;
	if (nick_len < 6 || nick_len > PROTO_NICK_MAX || e->len < fixed + 2 + nick_len + 8 ||
	    memcmp(nick, "bench", 5) != 0)
		return false;
	unsigned v = 0;
	for (size_t i = 5; i < nick_len; i++) {
		if (nick[i] < '0' || nick[i] > '9')
			return false;
		v = v * 10 + (unsigned)(nick[i] - '0');
	}
	*si = v;
	*seq = load_be64(nick + nick_len);
	return true;
}

static void cc_verify(const struct lg_sender *s, const struct proto_bytes *e)
{
	struct proto_envelope env;
	size_t len = 0;
	unsigned long long seq = 0, ts = 0;
	g.verified++;
	if (proto_envelope_decode(e->p, e->len, &env) != CC_OK ||
	    env.seq == 0 || env.seq > s->sent || !lg_sender_key((struct lg_sender *)s, env.seq) ||
	    e2e_message_open(g.spub[s->c->idx], lg_sender_key((struct lg_sender *)s, env.seq), &env,
			     g.open_buf, &len) != CC_OK ||
	    len != g.o.size) {
		g.verify_fail++;
		return;
	}
	g.open_buf[len] = '\0';
	/* The text names its seq; sealed while sending, also its send time. */
	int n = sscanf((const char *)g.open_buf, "%llu %llu", &seq, &ts);
	if (g.o.size >= 42 && (n != 2 || seq != env.seq ||
			       (env.seq > s->pool_n && ts != s->sent_ns[env.seq])))
		g.verify_fail++;
}

static void cc_on_room_msg(struct lg_conn *c, const struct proto_room_msg *rm)
{
	unsigned si;
	uint64_t seq;

	if (g.in_window)
		g.room_msgs_win++;
	struct lg_sender *s = NULL;
	if (cc_envelope_head(&rm->envelope, &si, &seq) && si < g.o.senders)
		s = &g.senders[si];
	if (!s || seq == 0 || seq > s->sent) {
		g.bad++;
		return;
	}
	if (seq <= c->last_seq[si])
		g.reordered++;
	else
		c->last_seq[si] = seq;
	lg_account_delivery(g.read_ns - s->sent_ns[seq]);
	if (g.o.verify_every && ++g.verify_ctr % g.o.verify_every == 0)
		cc_verify(s, &rm->envelope);
	/* As the client: acknowledge what was handled every ack_every messages. */
	c->last_msg_id = rm->msg_id;
	if (g.o.ack_every && ++c->unacked >= g.o.ack_every) {
		struct proto_msg m = {.type = PROTO_ROOM_READ};
		memcpy(m.u.room_read.room_id, g.room_id, PROTO_ROOM_ID_LEN);
		m.u.room_read.msg_id = c->last_msg_id;
		c->unacked = 0;
		cc_queue_msg(c, &m);
	}
}

static void cc_on_server_key(struct lg_conn *c)
{
	/* Pinned on first sight: every connection must meet the same server. */
	const uint8_t *fp = chan_peer_fingerprint(c->ch);
	if (!g.have_server_fp) {
		memcpy(g.server_fp, fp, sizeof g.server_fp);
		g.have_server_fp = true;
	} else if (memcmp(g.server_fp, fp, sizeof g.server_fp) != 0) {
		lg_conn_fail(c, "the server's key changed between connections");
		return;
	}
	cc_err err = chan_client_continue(c->ch, &c->out);
	if (err) {
		lg_conn_fail(c, cc_err_str(err));
		return;
	}
	c->state = ST_KEY;
	lg_mark_dirty(c);
}

static void cc_on_welcome(struct lg_conn *c, const struct proto_welcome *w)
{
	struct buf cert;
	struct proto_msg m = {.type = PROTO_SIGNING_KEY};

	if (memcmp(w->fingerprint, g.fp[c->idx], CRYPTO_FINGERPRINT_LEN) != 0) {
		lg_conn_fail(c, "WELCOME names another key");
		return;
	}
	chan_set_send_cap(c->ch, w->max_frame);
	buf_init(&cert, PROTO_SIGN_CERT_MAX);
	if (e2e_signing_cert_make(g.keys[c->idx], 1, g.spub[c->idx], &cert)) {
		buf_free(&cert);
		lg_conn_fail(c, "cannot certify the signing key");
		return;
	}
	m.u.signing_key.request_id = c->req_signkey = next_req(c);
	m.u.signing_key.version = 1;
	memcpy(m.u.signing_key.sign_pub, g.spub[c->idx], PROTO_SIGN_PUB_LEN);
	m.u.signing_key.sign_cert = (struct proto_bytes){cert.data, cert.len};
	c->state = ST_SIGNKEY;
	cc_queue_msg(c, &m);
	buf_free(&cert);
}

/* The signing key is stored: then the receiving key, certified likewise. */
static void cc_publish_recv_key(struct lg_conn *c)
{
	struct buf cert;
	struct proto_msg m = {.type = PROTO_RECEIVE_KEY};
	buf_init(&cert, PROTO_SIGN_CERT_MAX);
	if (e2e_recv_cert_make(g.keys[c->idx], g.recv_version, g.recv_created_ms, g.recv_pub[c->idx], &cert)) {
		buf_free(&cert);
		lg_conn_fail(c, "cannot certify the receiving key");
		return;
	}
	m.u.receive_key.request_id = c->req_recvkey = next_req(c);
	m.u.receive_key.version = g.recv_version;
	m.u.receive_key.created_ms = g.recv_created_ms;
	memcpy(m.u.receive_key.recv_pub, g.recv_pub[c->idx], PROTO_X25519_LEN);
	m.u.receive_key.recv_cert = (struct proto_bytes){cert.data, cert.len};
	c->state = ST_RECVKEY;
	cc_queue_msg(c, &m);
	buf_free(&cert);
}

static void cc_on_error(struct lg_conn *c, const struct proto_error *e)
{
	char text[PROTO_ERROR_TEXT_MAX + 1];
	memcpy(text, e->text.p, e->text.len);
	text[e->text.len] = '\0';
	if (c->state == ST_JOINED) {
		/* An answer to a MSG_SEND: that message is done with. */
		if (c->idx < g.o.senders && e->request_id && !(e->request_id & 0x80000000u)) {
			g.senders[c->idx].acked++;
			if (g.o.burst)
				lg_sender_fill(&g.senders[c->idx]);
		}
		if (++g.run_errors <= 5)
			fprintf(stderr, "loadgen: %s: server error %u: %s\n", c->nick, e->code, text);
		return;
	}
	char why[PROTO_ERROR_TEXT_MAX + 64];
	snprintf(why, sizeof why, "server error %u: %s", e->code, text);
	lg_conn_fail(c, why);
}

static void cc_on_message(struct lg_conn *c, const uint8_t *body, size_t len)
{
	struct proto_msg m;
	cc_err err = proto_msg_decode(body, len, &m);
	if (err) {
		lg_conn_fail(c, cc_err_str(err));
		return;
	}
	switch (m.type) {
	case PROTO_ROOM_MSG:
		cc_on_room_msg(c, &m.u.room_msg);
		return;
	case PROTO_SENT:
		if (c->idx < g.o.senders) {
			g.senders[c->idx].acked++;
			if (g.o.burst)
				lg_sender_fill(&g.senders[c->idx]);
		}
		return;
	case PROTO_WELCOME:
		cc_on_welcome(c, &m.u.welcome);
		return;
	case PROTO_OK:
		if (c->state == ST_SIGNKEY && m.u.request.request_id == c->req_signkey) {
			cc_publish_recv_key(c);
		} else if (c->state == ST_RECVKEY && m.u.request.request_id == c->req_recvkey) {
			lg_conn_registered(c);
			if (g.registered == g.o.clients)
				lg_cc_create_room();
		}
		return;
	case PROTO_ROOM_STATE:
		lg_cc_on_room_state(c, &m.u.room_state);
		return;
	case PROTO_JOIN_DONE:
		if (c->state == ST_JOINING && m.u.room_ref.request_id == c->req_join) {
			c->state = ST_JOINED;
			if (++g.joined == g.o.clients) {
				if (*g.o.go_file)
					g.waiting_go = true;  /* lg_on_tick starts the run */
				else
					lg_run_start();
			}
		}
		return;
	case PROTO_PING: {
		struct proto_msg pong = {.type = PROTO_PONG};
		pong.u.ping.token = m.u.ping.token;
		cc_queue_msg(c, &pong);
		return;
	}
	case PROTO_ERROR:
		cc_on_error(c, &m.u.error);
		return;
	default:
		return;  /* ROOM_RECORD, REKEY_OWED, PONG: nothing to do */
	}
}

void lg_cc_process(struct lg_conn *c)
{
	while (c->state != ST_DEAD && !g.exit_code && c->in_len - c->in_off >= PROTO_FRAME_HEADER_LEN) {
		size_t body;
		cc_err err = proto_frame_header(c->in + c->in_off, chan_frame_cap(c->ch), &body);
		if (err) {
			lg_conn_fail(c, cc_err_str(err));
			return;
		}
		size_t need = PROTO_FRAME_HEADER_LEN + body;
		if (c->in_len - c->in_off < need) {
			/* A frame larger than the buffer: make room for all of it. */
			if (need > c->in_cap - c->in_off) {
				memmove(c->in, c->in + c->in_off, c->in_len - c->in_off);
				c->in_len -= c->in_off;
				c->in_off = 0;
				if (need + LG_READ_MIN > c->in_cap) {
					uint8_t *p = realloc(c->in, need + LG_READ_MIN);
					if (!p) {
						lg_fail("out of memory");
						return;
					}
					c->in = p;
					c->in_cap = need + LG_READ_MIN;
				}
			}
			return;
		}
		enum chan_event ev;
		size_t before = c->out.len;
		err = chan_recv_frame(c->ch, c->in + c->in_off, need, &c->out, &ev);
		c->in_off += need;
		if (c->out.len != before)
			lg_mark_dirty(c);
		if (err) {
			char why[PROTO_ERROR_TEXT_MAX + 64];
			snprintf(why, sizeof why, "%s %s", cc_err_str(err), chan_peer_error_text(c->ch));
			lg_conn_fail(c, why);
			return;
		}
		if (ev == CHAN_EVENT_SERVER_KEY) {
			cc_on_server_key(c);
		} else if (ev == CHAN_EVENT_DATA) {
			const uint8_t *b;
			size_t n;
			if (g.in_window)
				g.records_win++;
			while (c->state != ST_DEAD && (err = chan_pop_frame(c->ch, &b, &n)) == CC_OK)
				cc_on_message(c, b, n);
			if (c->state != ST_DEAD && err != CC_ERR_TRUNCATED) {
				lg_conn_fail(c, cc_err_str(err));
				return;
			}
		}
	}
}
