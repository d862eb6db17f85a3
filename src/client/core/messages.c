/* Talking in a room: saying a line (after the room's new epoch when a member
 * left, so nothing new goes under a key someone departed holds), receiving
 * messages (shown only once every check in docs/PROTOCOL.md 9.5 passed), and
 * read acknowledgements. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "client/core/internal.h"
#include "store/client_store.h"
#include "util/clock.h"
#include "util/log.h"

/* ---- saying a line -------------------------------------------------------- */

uint32_t client_room_send(struct client *cl, const uint8_t room[PROTO_ROOM_ID_LEN],
			  const char *text, size_t len)
{
	struct client_req *req;
	uint32_t id = client_request(cl, REQ_SEND, room, &req);
	if (!req)
		return id;
	struct client_room *r = client_room_find(cl, room);
	const char *code = NULL, *why = NULL;
	cc_err err = CC_ERR_USAGE;
	/* A line for a room being joined waits for it. */
	if ((!r || !r->joined) && !client_req_for_room(cl, REQ_JOIN, room))
		code = "not_joined", why = "join the room first (/join ROOM)";
	else if (len == 0)
		code = "usage", why = "nothing to say";
	else if (len > PROTO_TEXT_MAX)
		code = "too_long", why = "a message is at most 16384 bytes; nothing was sent";
	else if (!proto_utf8_valid((const uint8_t *)text, len))
		code = "malformed", why = "a message must be UTF-8";
	else if (!(req->text = malloc(len + 1)))
		code = "no_memory", why = "nothing was sent", err = CC_ERR_NOMEM;
	if (code) {
		client_req_error(cl, req, code, why);
		client_req_end(cl, req, err);
		return id;
	}
	memcpy(req->text, text, len);
	req->text[len] = '\0';
	req->text_len = len;
	client_reqs_pump(cl);
	return id;
}

static void send_fail(struct client *cl, struct client_req *req, const char *code,
		      const char *message, cc_err err)
{
	client_req_error(cl, req, code, message);
	client_req_end(cl, req, err);
}

/* Seals the line under the room's current epoch and sends it. */
void client_send_start(struct client *cl, struct client_req *req)
{
	struct client_room *r = client_room_find(cl, req->room);
	uint8_t key[E2E_KEY_LEN];
	struct proto_envelope env = {0};
	struct buf out;
	cc_err err;

	if (!r || !r->joined) {
		send_fail(cl, req, "not_joined", "the room is no longer joined; nothing was sent",
			  CC_ERR_NOT_FOUND);
		return;
	}
	cc_err kerr = client_message_key_own(cl, r, r->chain.epoch, key, &req->seq);
	if (kerr == CC_ERR_NOT_FOUND) {
		send_fail(cl, req, "no_key", "no key for the room's current epoch", kerr);
		return;
	}
	if (kerr) {
		send_fail(cl, req, "store_error", "cannot take the next message key", kerr);
		return;
	}
	buf_init(&out, PROTO_ENVELOPE_MAX);
	env.version = PROTO_ENVELOPE_VERSION;
	memcpy(env.room_id, r->room_id, PROTO_ROOM_ID_LEN);
	env.epoch = r->chain.epoch;
	env.sender = proto_bytes_str(cl->nick);
	env.seq = req->seq;
	env.time_ms = clock_now_ms();
	/* Our head: who reads this must hold the same history. */
	env.head_seq = r->chain.count - 1;
	memcpy(env.head_hash, r->chain.last_hash, PROTO_HASH_LEN);
	err = cl->sign_key ? e2e_message_seal_with(cl->sign_key, key, &env,
						   (const uint8_t *)req->text, req->text_len, &out)
			   : e2e_message_seal(cl->sign_seed, key, &env, (const uint8_t *)req->text,
					      req->text_len, &out);
	mem_wipe(key, sizeof key);
	if (!err) {
		struct proto_msg m = {.type = PROTO_MSG_SEND};
		m.u.msg_send.envelope = (struct proto_bytes){out.data, out.len};
		req->epoch = env.epoch;
		req->step = STEP_CHANGE;
		err = client_req_send(cl, req, &m);
	}
	buf_free(&out);
	if (err)
		send_fail(cl, req, cc_err_code(err), cc_err_str(err), err);
}

void client_send_on_answer(struct client *cl, struct client_req *req, const struct proto_msg *m)
{
	struct client_room *r = client_room_find(cl, req->room);

	if (m->type == PROTO_ERROR) {
		/* A change we had not heard of raced our line (its record has come
		 * since): say it again under the room's new state, in its turn. */
		if ((m->u.error.code == CC_ERR_STALE_EPOCH || m->u.error.code == CC_ERR_EPOCH_CLOSED) &&
		    req->tries++ < CLIENT_SEND_TRIES) {
			req->step = STEP_QUEUED;
			req->wire = 0;
			client_reqs_pump(cl);
			return;
		}
		client_req_error_msg(cl, req, &m->u.error);
		client_req_end(cl, req, (cc_err)m->u.error.code);
		return;
	}
	if (m->type != PROTO_SENT)
		return;
	/* Our own message is handled: a resend of it (after a server restart)
	 * is a duplicate, not news. */
	if (r && m->u.sent.msg_id > r->last_msg_id)
		r->last_msg_id = m->u.sent.msg_id;
	cstore_message_handled(cl->store, req->room, cl->fp, req->epoch, req->seq,
			       r ? r->last_msg_id : 0, clock_now_ms(), NULL);
	if (r) {
		client_room_ack(cl, r);  /* our own message: nothing to resend us */
		if (req->epoch == r->chain.epoch)
			r->epoch_msgs++;
		client_maybe_rekey(cl, r);
	}
	struct client_event ev = {.type = CLIENT_EV_SENT, .request = req->id, .room = req->room_hex};
	ev.u.sent.seq = req->seq;
	ev.u.sent.epoch = req->epoch;
	ev.u.sent.msg_id = m->u.sent.msg_id;
	ev.u.sent.ts_ms = m->u.sent.server_ts_ms;
	client_emit(cl, &ev);
	client_req_end(cl, req, CC_OK);
}

/* ---- read acknowledgements ------------------------------------------------ */

/* Tells the server what we have handled, so the next join's backlog starts
 * there. Every ACK_EVERY messages, and when a join's backlog is done or we
 * stop listening; what is resent after a crash is skipped as a duplicate. */
#define ACK_EVERY 64
void client_room_ack(struct client *cl, struct client_room *r)
{
	if (r->last_msg_id <= r->acked_msg_id)
		return;
	struct proto_msg m = {.type = PROTO_ROOM_READ};
	memcpy(m.u.room_read.room_id, r->room_id, PROTO_ROOM_ID_LEN);
	m.u.room_read.msg_id = r->last_msg_id;
	cc_err err = client_send(cl, &m);
	log_debug("ack %s up to %llu: %s", r->id_hex, (unsigned long long)r->last_msg_id,
		  cc_err_str(err));
	if (!err)
		r->acked_msg_id = r->last_msg_id;
}

void client_room_ack_due(struct client *cl, struct client_room *r)
{
	if (r->last_msg_id - r->acked_msg_id >= ACK_EVERY && !client_loading(cl, r->room_id))
		client_room_ack(cl, r);
}

void client_rooms_ack_all(struct client *cl)
{
	for (size_t i = 0; i < cl->nrooms; i++)
		if (cl->rooms[i]->joined)
			client_room_ack(cl, cl->rooms[i]);
}

/* ---- receiving ------------------------------------------------------------ */

struct msg_check {
	const char *code, *why;
	const struct e2e_member *sender;
	struct client_user *user;
	uint64_t last_seq;
};

#define MSG_REJECT(c, code_, why_) \
	do {                       \
		(c)->code = (code_); \
		(c)->why = (why_);   \
		return -1;         \
	} while (0)

/* The sender's signature, through a verifier made once per signing key
 * (making one costs about as much as a verification). */
static cc_err user_verify(struct client_user *u, const struct proto_envelope *env)
{
	if (!crypto_ed25519_pub_is(u->sign_key, u->sign_pub)) {
		crypto_ed25519_pub_free(u->sign_key);
		u->sign_key = NULL;
		if (crypto_ed25519_pub_new(u->sign_pub, &u->sign_key) != CC_OK)
			return e2e_message_verify(u->sign_pub, env);
	}
	return e2e_message_verify_with(u->sign_key, env);
}

/* A message of an epoch we were not shown: if its sender (a member now)
 * really signed it, the server is keeping membership records from us. */
static int msg_future_epoch(struct client_room *r, const struct proto_envelope *env,
			    const char *from, struct msg_check *c)
{
	const struct e2e_member *m = e2e_chain_member_by_nick(&r->chain, from);
	struct client_user *u = m ? client_room_user(r, m->fp) : NULL;
	if (u && u->sign_ok && user_verify(u, env) == CC_OK)
		MSG_REJECT(c, "security", "the sender had seen membership changes the server "
					  "did not give us");
	MSG_REJECT(c, "not_member", "the sender was not a member of the room then");
}

/* Everything but the decryption, in an order where nothing the signature
 * does not cover can raise an alarm: 0 to go on, 1 for a duplicate of a
 * message already handled (skipped without a word), 2 for one of our own
 * (handled, not shown), -1 to reject (code, why). */
static int msg_check(struct client *cl, struct client_room *r, const struct proto_room_msg *rm,
		     const struct proto_envelope *env, const char *from, struct msg_check *c)
{
	const char *why;
	if (memcmp(env->room_id, r->room_id, PROTO_ROOM_ID_LEN) != 0)
		MSG_REJECT(c, "forged", "the message was made for another room");
	if (env->epoch > r->chain.epoch)
		return msg_future_epoch(r, env, from, c);
	c->sender = e2e_chain_sender(&r->chain, from, env->epoch);
	if (!c->sender)
		MSG_REJECT(c, "not_member", "the sender was not a member of the room then");
	cstore_seen_get(cl->store, r->room_id, c->sender->fp, env->epoch, &c->last_seq);
	/* The server resends what was not acknowledged: not news. A new id for
	 * an old number is a replay (rejected below); an old id for a new number
	 * is news all the same (ids are only the server's word). */
	if (rm->msg_id <= r->last_msg_id && env->seq <= c->last_seq)
		return 1;
	c->user = client_room_user(r, c->sender->fp);
	if (!c->user || !c->user->sign_ok)
		MSG_REJECT(c, "forged", "the sender has no certified signing key");
	if (user_verify(c->user, env) != CC_OK)
		MSG_REJECT(c, "forged", "the signature does not verify");
	/* Signed: the sender saw the chain up to its head. It must be ours. */
	cc_err err = e2e_chain_check_head(&r->chain, env->epoch, env->head_seq, env->head_hash, &why);
	if (err)
		MSG_REJECT(c, err == CC_ERR_SECURITY ? "security" : "forged", why);
	/* Our own line, back in a backlog because its SENT (and our read mark)
	 * was lost with the connection: we said it, it is no news. */
	if (client_fp_is_own(cl, c->sender->fp))
		return 2;
	/* Nobody may send in an epoch once it has ended (a departure closed it
	 * or a new one opened): only what the server stored before that record
	 * counts. */
	const struct e2e_epoch *e = e2e_chain_epoch(&r->chain, env->epoch);
	if (e->end_seq != E2E_SEQ_NONE && e->end_seq < r->chain.count &&
	    rm->msg_id > r->positions[e->end_seq])
		MSG_REJECT(c, "stale_epoch", "the message was sent after its epoch ended");
	/* Per sender and epoch, numbers only go up: a replay or reorder shows. */
	if (env->seq <= c->last_seq)
		MSG_REJECT(c, "replayed", "a message replayed or out of order");
	return 0;
}

/* A message from the server: shown only once every check passed, and once
 * what handling it stored is committed (turn.c: the turn's events wait). */
void client_on_room_msg(struct client *cl, const struct proto_room_msg *rm)
{
	struct client_room *r = client_room_find(cl, rm->room_id);
	struct proto_envelope env;
	struct msg_check c = {"forged", "the message does not parse", NULL, NULL, 0};
	uint8_t key[E2E_KEY_LEN];
	uint8_t *text = NULL;
	size_t text_len = 0;
	char from[PROTO_NICK_MAX + 1] = "";

	struct client_req *leaving = client_req_for_room(cl, REQ_LEAVE, rm->room_id);
	if (!r || !r->joined || (leaving && leaving->then_leave))
		return;  /* not listening to that room (or loading it only to leave) */
	client_turn_begin(cl);
	if (proto_envelope_decode(rm->envelope.p, rm->envelope.len, &env) != CC_OK)
		goto reject;
	memcpy(from, env.sender.p, env.sender.len);
	from[env.sender.len] = '\0';
	int verdict = msg_check(cl, r, rm, &env, from, &c);
	if (verdict == 2) {
		cstore_message_handled(cl->store, r->room_id, c.sender->fp, env.epoch, env.seq,
				       rm->msg_id, env.time_ms, NULL);
		if (rm->msg_id > r->last_msg_id)
			r->last_msg_id = rm->msg_id;
		goto done;
	}
	if (verdict > 0)
		return;
	if (verdict < 0)
		goto reject;
	struct cstore_ratchet step;
	cc_err err = client_message_key_recv(cl, r, env.epoch, c.sender->fp, env.seq, key, &step);
	if (err) {
		c.code = err == CC_ERR_REPLAYED ? "replayed" : "no_key";
		c.why = err == CC_ERR_REPLAYED ? "a message number whose key is used up"
			: err == CC_ERR_LIMIT	 ? "the message skips too many numbers"
						 : "no key for the message's epoch";
		goto reject;
	}
	text = malloc(PROTO_TEXT_MAX + 1);
	err = text ? e2e_message_decrypt(key, &env, text, &text_len) : CC_ERR_NOMEM;
	mem_wipe(key, sizeof key);
	if (err) {
		mem_wipe(&step, sizeof step);
		c.why = err == CC_ERR_AUTH ? "the ciphertext does not open under its key"
					   : "the text is not UTF-8";
		goto reject;
	}
	/* A gap: messages of this sender the server did not hand us. */
	if (env.seq > c.last_seq + 1) {
		struct client_event gap = {.type = CLIENT_EV_GAP, .room = r->id_hex};
		gap.u.gap.from = c.sender->nick;
		gap.u.gap.epoch = env.epoch;
		gap.u.gap.first = c.last_seq + 1;
		gap.u.gap.last = env.seq - 1;
		client_turn_stage(cl, r, &gap);
	}
	/* Stored before it is shown (committed with the turn): the chain's
	 * step (the message key is gone for good), so a replay after a crash
	 * still shows. */
	if (cstore_message_handled(cl->store, r->room_id, c.sender->fp, env.epoch, env.seq,
				   rm->msg_id, env.time_ms, &step) != CC_OK)
		log_warn("room %s: cannot store a message's step", r->id_hex);
	mem_wipe(&step, sizeof step);
	if (rm->msg_id > r->last_msg_id)
		r->last_msg_id = rm->msg_id;
	if (env.epoch == r->chain.epoch)
		r->epoch_msgs++;  /* a rekey it makes due comes after the commit */
	text[text_len] = '\0';
	struct client_event ev = {.type = CLIENT_EV_MESSAGE, .room = r->id_hex};
	ev.u.message.from = c.sender->nick;
	ev.u.message.text = (const char *)text;
	ev.u.message.len = text_len;
	ev.u.message.seq = env.seq;
	ev.u.message.epoch = env.epoch;
	ev.u.message.ts_ms = env.time_ms;
	ev.u.message.msg_id = rm->msg_id;
	ev.u.message.verified = c.user->trusted;
	ev.u.message.safety_verified = c.user->verified;
	client_turn_stage(cl, r, &ev);
	goto done;
reject:
	{
		struct client_event err_ev = {.type = CLIENT_EV_ERROR, .room = r->id_hex};
		err_ev.u.error.code = c.code;
		err_ev.u.error.message = c.why;
		err_ev.u.error.from = *from ? from : NULL;
		client_turn_stage(cl, r, &err_ev);
	}
	if (rm->msg_id > r->last_msg_id) {
		r->last_msg_id = rm->msg_id;
		cstore_room_last_id_put(cl->store, r->room_id, rm->msg_id);
	}
done:
	/* The acknowledgement, a due rekey and the deletion of ended epochs'
	 * keys come after the turn's commit (client_turn_end). */
	r->in_turn = true;
	if (text) {
		mem_wipe(text, PROTO_TEXT_MAX + 1);
		free(text);
	}
}
