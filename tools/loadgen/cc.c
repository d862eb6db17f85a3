/* Load generator: the Crypto Cat protocol, but for sending (cc_send.c): the
 * handshake, making the room and joining it, receiving and verifying. */
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

static const struct crypto_rsa_key *lg_key_lookup(void *ctx,
						  const uint8_t fp[PROTO_FINGERPRINT_LEN])
{
	(void)ctx;
	for (unsigned i = 0; i < g.o.clients; i++)
		if (memcmp(g.fp[i], fp, PROTO_FINGERPRINT_LEN) == 0)
			return g.keys[i];
	return NULL;
}

/* bench0 asks for everyone else's directory entry. */
static void cc_create_ask(void)
{
	struct lg_conn *c = &g.conns[0];
	struct buf raw;
	struct proto_msg m = {.type = PROTO_USERS_GET};

	g.phase = PH_CREATE;
	buf_init(&raw, 64 * 1024);
	for (unsigned i = 1; i < g.o.clients; i++) {
		struct proto_nick_item item = {proto_bytes_str(g.conns[i].nick)};
		if (proto_item_encode(PROTO_ITEM_NICK, &item, &raw)) {
			buf_free(&raw);
			lg_fail("cannot encode USERS_GET");
			return;
		}
	}
	m.u.users_get.request_id = g.req_users = next_req(c);
	m.u.users_get.nicks = (struct proto_list){(uint16_t)(g.o.clients - 1), {raw.data, raw.len}};
	cc_queue_msg(c, &m);
	buf_free(&raw);
}

/* As src/client/epochs.c does for /create: the records (CREATE, then one ADD
 * per member, each opening an epoch), the last epoch's secret wrapped to
 * every member; the epochs before it carry nothing, so their secrets are
 * thrown away. */
static void cc_create_room(const struct proto_users *users)
{
	struct lg_conn *c = &g.conns[0];
	struct proto_list_iter it;
	struct proto_user_item item;
	struct e2e_chain chain;
	struct buf records, keys, one, title;
	uint8_t commit[PROTO_HASH_LEN];
	const char *why = "";
	unsigned k = 1;
	cc_err err = CC_OK;

	/* The directory must give each member the key we know it has (our pin). */
	proto_list_iter_init(&it, &users->users, PROTO_ITEM_USER);
	while (proto_list_next(&it, &item) == CC_OK) {
		struct crypto_rsa_key *pub = NULL;
		uint8_t fp[CRYPTO_FINGERPRINT_LEN];
		if (k >= g.o.clients ||
		    crypto_rsa_public_from_der(item.identity_key.p, item.identity_key.len, &pub) ||
		    crypto_rsa_fingerprint(pub, fp) || memcmp(fp, g.fp[k], sizeof fp) != 0) {
			crypto_rsa_free(pub);
			lg_fail("the server's directory gives bench%u another key", k);
			return;
		}
		crypto_rsa_free(pub);
		k++;
	}
	if (k != g.o.clients) {
		lg_fail("the server's directory lists %u users, not %u", k - 1, g.o.clients - 1);
		return;
	}

	if ((err = crypto_random_bytes(g.room_id, sizeof g.room_id))) {
		lg_fail("cannot make a room id: %s", cc_err_str(err));
		return;
	}
	buf_init(&records, 1024 * 1024);
	buf_init(&keys, 1024 * 1024);
	buf_init(&one, PROTO_RECORD_MAX);
	buf_init(&title, PROTO_TITLE_CT_MAX);
	e2e_chain_init(&chain, g.room_id);
	for (unsigned i = 0; i < g.o.clients; i++) {
		uint8_t spare[E2E_KEY_LEN];
		uint8_t *secret = i + 1 == g.o.clients ? g.room_secret : spare;
		if ((err = e2e_epoch_secret_new(secret)))
			goto out;
		e2e_key_commit(g.room_id, i, secret, commit);
		struct proto_record rec = {0};
		rec.version = PROTO_RECORD_VERSION;
		memcpy(rec.room_id, g.room_id, PROTO_ROOM_ID_LEN);
		rec.seq = chain.count;
		if (chain.count)
			memcpy(rec.prev_hash, chain.last_hash, PROTO_HASH_LEN);
		rec.action = i == 0 ? PROTO_REC_CREATE : PROTO_REC_ADD;
		rec.actor = proto_bytes_str(g.conns[0].nick);
		memcpy(rec.actor_fp, g.fp[0], PROTO_FINGERPRINT_LEN);
		rec.subject = proto_bytes_str(g.conns[i].nick);
		memcpy(rec.subject_fp, g.fp[i], PROTO_FINGERPRINT_LEN);
		rec.epoch = i;
		memcpy(rec.key_commit, commit, PROTO_HASH_LEN);
		rec.time_ms = clock_now_ms();
		one.len = 0;
		if ((err = e2e_record_sign(g.keys[0], &rec, &one)) ||
		    (err = e2e_chain_apply(&chain, one.data, one.len, lg_key_lookup, NULL, &why)))
			goto out;
		struct proto_blob_item blob = {{one.data, one.len}};
		if ((err = proto_item_encode(PROTO_ITEM_BLOB, &blob, &records)))
			goto out;
	}
	g.epoch = chain.epoch;
	g.head_seq = chain.count - 1;
	memcpy(g.head_hash, chain.last_hash, PROTO_HASH_LEN);
	if ((err = e2e_epoch_key(g.room_secret, g.room_id, g.epoch,
				 chain.epochs[g.epoch].open_hash, g.room_key)))
		goto out;
	for (unsigned i = 0; i < g.o.clients; i++) {
		struct proto_wrapped_item w;
		one.len = 0;
		if ((err = e2e_key_wrap(g.keys[i], g.room_id, g.epoch, g.room_secret, &one)))
			goto out;
		w.nick = proto_bytes_str(g.conns[i].nick);
		w.epoch = g.epoch;
		w.wrapped = (struct proto_bytes){one.data, one.len};
		if ((err = proto_item_encode(PROTO_ITEM_WRAPPED, &w, &keys)))
			goto out;
	}
	if ((err = e2e_title_seal(g.room_key, g.room_id, g.epoch, "bench", &title)))
		goto out;
	struct proto_msg m = {.type = PROTO_ROOM_CREATE};
	m.u.room_create.request_id = g.req_create = next_req(c);
	memcpy(m.u.room_create.room_id, g.room_id, PROTO_ROOM_ID_LEN);
	m.u.room_create.title_ct = (struct proto_bytes){title.data, title.len};
	m.u.room_create.records = (struct proto_list){(uint16_t)g.o.clients, {records.data, records.len}};
	m.u.room_create.keys = (struct proto_list){(uint16_t)g.o.clients, {keys.data, keys.len}};
	cc_queue_msg(c, &m);
out:
	if (err)
		lg_fail("cannot make the room: %s%s%s", cc_err_str(err), *why ? ": " : "", why);
	e2e_chain_free(&chain);
	buf_free(&records);
	buf_free(&keys);
	buf_free(&one);
	buf_free(&title);
}

static void cc_join_all(void)
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

/* Our key must unwrap from the state and be the one the room was made with. */
static void cc_on_room_state(struct lg_conn *c, const struct proto_room_state *st)
{
	struct proto_list_iter it;
	struct proto_wrapped_item w;
	uint8_t key[E2E_KEY_LEN];
	bool ok = false;

	proto_list_iter_init(&it, &st->keys, PROTO_ITEM_WRAPPED);
	while (!ok && proto_list_next(&it, &w) == CC_OK) {
		if (w.epoch != g.epoch)
			continue;
		ok = e2e_key_unwrap(g.keys[c->idx], st->room_id, g.epoch, w.wrapped.p,
				    w.wrapped.len, key) == CC_OK &&
		     crypto_ct_equal(key, g.room_secret, sizeof key);
		mem_wipe(key, sizeof key);
	}
	g.backlog += st->backlog;
	if (!ok)
		lg_conn_fail(c, "no usable room key in ROOM_STATE");
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
	    e2e_message_open(g.spub[s->c->idx], g.room_key, &env, g.open_buf, &len) != CC_OK ||
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
			lg_conn_registered(c);
			if (g.registered == g.o.clients)
				cc_create_ask();
		} else if (c->idx == 0 && m.u.request.request_id == g.req_create) {
			cc_join_all();
		}
		return;
	case PROTO_USERS:
		if (c->idx == 0 && m.u.users.request_id == g.req_users)
			cc_create_room(&m.u.users);
		return;
	case PROTO_ROOM_STATE:
		cc_on_room_state(c, &m.u.room_state);
		return;
	case PROTO_JOIN_DONE:
		if (c->state == ST_JOINING && m.u.room_ref.request_id == c->req_join) {
			c->state = ST_JOINED;
			if (++g.joined == g.o.clients)
				lg_run_start();
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
