/* Talking in a room: saying a line (after the room's new epoch when a member
 * left, so nothing new goes under a key someone departed holds), receiving
 * messages (shown only once every check in docs/PROTOCOL.md 9.5 passed), and
 * read acknowledgements. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "client/client_internal.h"
#include "client/rooms_internal.h"
#include "store/client_store.h"
#include "util/clock.h"
#include "util/log.h"

/* How often a line is tried again after a membership change raced it. */
#define SEND_TRIES 3

/* ---- saying a line -------------------------------------------------------- */

void client_text_drop(struct client *cl)
{
	if (cl->text) {
		mem_wipe(cl->text, strlen(cl->text));
		free(cl->text);
	}
	cl->text = NULL;
	cl->text_tries = 0;
}

static void text_fail(struct client *cl, const char *code, const char *message)
{
	char hex[2 * PROTO_ROOM_ID_LEN + 1];
	hex_encode(cl->text_room, PROTO_ROOM_ID_LEN, hex);
	client_emit_room_error(cl, hex, NULL, code, message);
	client_text_drop(cl);
}

/* Seals the line under the room's current epoch and sends it. */
static void text_send(struct client *cl, struct client_room *r)
{
	uint8_t key[E2E_KEY_LEN];
	struct proto_envelope env = {0};
	struct buf out;
	uint64_t seq;
	cc_err err;

	if (client_room_epoch_key(cl, r, r->chain.epoch, key) != CC_OK) {
		text_fail(cl, "no_key", "no key for the room's current epoch");
		return;
	}
	if (cstore_seq_next(cl->store, r->room_id, r->chain.epoch, &seq) != CC_OK) {
		mem_wipe(key, sizeof key);
		text_fail(cl, "store_error", "cannot count messages");
		return;
	}
	buf_init(&out, PROTO_ENVELOPE_MAX);
	env.version = PROTO_ENVELOPE_VERSION;
	memcpy(env.room_id, r->room_id, PROTO_ROOM_ID_LEN);
	env.epoch = r->chain.epoch;
	env.sender = proto_bytes_str(cl->nick);
	env.seq = seq;
	env.time_ms = clock_now_ms();
	/* Our head: who reads this must hold the same history. */
	env.head_seq = r->chain.count - 1;
	memcpy(env.head_hash, r->chain.last_hash, PROTO_HASH_LEN);
	err = e2e_message_seal(cl->sign_seed, key, &env, (const uint8_t *)cl->text,
			       strlen(cl->text), &out);
	mem_wipe(key, sizeof key);
	if (!err) {
		struct proto_msg m = {.type = PROTO_MSG_SEND};
		m.u.msg_send.request_id = client_op_begin(cl, OP_SEND);
		m.u.msg_send.envelope = (struct proto_bytes){out.data, out.len};
		memcpy(cl->op_room, r->room_id, PROTO_ROOM_ID_LEN);
		cl->op_seq = seq;
		cl->op_epoch = env.epoch;
		if ((err = client_send(cl, &m)))
			cl->op = OP_NONE;
	}
	buf_free(&out);
	if (err)
		text_fail(cl, cc_err_code(err), cc_err_str(err));
}

void client_text_continue(struct client *cl)
{
	if (!cl->text || cl->op != OP_NONE || cl->state != CLIENT_READY)
		return;
	struct client_room *r = client_room_find(cl, cl->text_room);
	if (!r || !r->joined) {
		text_fail(cl, "not_joined", "the room is no longer joined; nothing was sent");
		return;
	}
	if (!r->chain.closed && !r->gone_pending) {
		text_send(cl, r);
		return;
	}
	/* A member left or expired: they hold the current key, so the room gets
	 * a new epoch first (any member may make it: now us). */
	if (cl->text_tries++ >= SEND_TRIES) {
		text_fail(cl, "epoch_closed", "a member left and the room's new key could not be "
					      "made; nothing was sent");
		return;
	}
	client_owed_add(cl, r->room_id);
	if (!client_rooms_work(cl))
		text_fail(cl, "epoch_closed", "cannot make the room's new key; nothing was sent");
}

void client_text_start(struct client *cl, struct client_room *r, const char *text)
{
	size_t n = strlen(text);

	if (n > PROTO_TEXT_MAX) {
		client_emit_room_error(cl, r->id_hex, NULL, "too_long",
				       "a message is at most 16384 bytes; nothing was sent");
		return;
	}
	if (!proto_utf8_valid((const uint8_t *)text, n)) {
		client_emit_room_error(cl, r->id_hex, NULL, "malformed", "a message must be UTF-8");
		return;
	}
	client_text_drop(cl);
	if (!(cl->text = strdup(text))) {
		client_emit_room_error(cl, r->id_hex, NULL, "no_memory", "nothing was sent");
		return;
	}
	memcpy(cl->text_room, r->room_id, PROTO_ROOM_ID_LEN);
	client_text_continue(cl);
}

void client_cmd_text(struct client *cl, const char *text)
{
	if (!cl->current || !cl->current->joined) {
		client_emit_error(cl, "no_room", "join a room before talking (/join ROOM)");
		return;
	}
	client_text_start(cl, cl->current, text);
}

void client_cmd_say(struct client *cl, const char *args)
{
	uint8_t room_id[PROTO_ROOM_ID_LEN];
	const char *text;

	if (client_take_room_arg(cl, args, room_id, &text))
		return;
	struct client_room *r = client_room_find(cl, room_id);
	if (!r || !r->joined) {
		char hex[2 * PROTO_ROOM_ID_LEN + 1];
		hex_encode(room_id, PROTO_ROOM_ID_LEN, hex);
		client_emit_room_error(cl, hex, NULL, "not_joined", "join the room first (/join ROOM)");
		return;
	}
	client_text_start(cl, r, text);
}

void client_send_on_answer(struct client *cl, const struct proto_msg *m)
{
	char hex[2 * PROTO_ROOM_ID_LEN + 1];
	struct client_room *r = client_room_find(cl, cl->op_room);
	hex_encode(cl->op_room, PROTO_ROOM_ID_LEN, hex);

	if (m->type == PROTO_ERROR) {
		/* A change we had not heard of raced our line (its record has come
		 * since): say it again under the room's new state. */
		bool retry = (m->u.error.code == CC_ERR_STALE_EPOCH ||
			      m->u.error.code == CC_ERR_EPOCH_CLOSED) &&
			     cl->text_tries++ < SEND_TRIES;
		if (!retry) {
			char text[PROTO_ERROR_TEXT_MAX + 1];
			memcpy(text, m->u.error.text.p, m->u.error.text.len);
			text[m->u.error.text.len] = '\0';
			text_fail(cl, m->u.error.code < CC_ERR_COUNT_ ? cc_err_code(m->u.error.code)
								      : "unknown",
				  text);
		}
		client_op_end(cl);
		return;
	}
	if (m->type != PROTO_SENT)
		return;
	/* Our own message is handled: a resend of it (after a server restart)
	 * is a duplicate, not news. */
	if (r && m->u.sent.msg_id > r->last_msg_id)
		r->last_msg_id = m->u.sent.msg_id;
	cstore_seen_put_message(cl->store, cl->op_room, cl->fp, cl->op_epoch, cl->op_seq,
				r ? r->last_msg_id : 0, clock_now_ms());
	if (r) {
		client_room_ack(cl, r);  /* our own message: nothing to resend us */
		if (cl->op_epoch == r->chain.epoch)
			r->epoch_msgs++;
		client_maybe_rekey(cl, r);
	}
	client_emit(cl, json_pack("{s:s, s:s, s:I, s:i, s:I, s:I}", "event", "sent", "room", hex,
				  "seq", (json_int_t)cl->op_seq, "epoch", (int)cl->op_epoch,
				  "msg_id", (json_int_t)m->u.sent.msg_id, "ts",
				  (json_int_t)m->u.sent.server_ts_ms));
	client_text_drop(cl);
	client_op_end(cl);
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

/* A message of an epoch we were not shown: if its sender (a member now)
 * really signed it, the server is keeping membership records from us. */
static int msg_future_epoch(struct client_room *r, const struct proto_envelope *env,
			    const char *from, struct msg_check *c)
{
	const struct e2e_member *m = e2e_chain_member_by_nick(&r->chain, from);
	struct client_user *u = m ? client_room_user(r, m->fp) : NULL;
	if (u && u->sign_ok && e2e_message_verify(u->sign_pub, env) == CC_OK)
		MSG_REJECT(c, "security", "the sender had seen membership changes the server "
					  "did not give us");
	MSG_REJECT(c, "not_member", "the sender was not a member of the room then");
}

/* Everything but the decryption, in an order where nothing the signature
 * does not cover can raise an alarm: 0 to go on, 1 for a duplicate of a
 * message already handled (skipped without a word), -1 to reject (code,
 * why). */
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
	if (e2e_message_verify(c->user->sign_pub, env) != CC_OK)
		MSG_REJECT(c, "forged", "the signature does not verify");
	/* Signed: the sender saw the chain up to its head. It must be ours. */
	cc_err err = e2e_chain_check_head(&r->chain, env->epoch, env->head_seq, env->head_hash, &why);
	if (err)
		MSG_REJECT(c, err == CC_ERR_SECURITY ? "security" : "forged", why);
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

/* A message from the server: shown only once every check passed. */
void client_on_room_msg(struct client *cl, const struct proto_room_msg *rm)
{
	struct client_room *r = client_room_find(cl, rm->room_id);
	struct proto_envelope env;
	struct msg_check c = {"forged", "the message does not parse", NULL, NULL, 0};
	uint8_t key[E2E_KEY_LEN];
	uint8_t *text = NULL;
	size_t text_len = 0;
	char from[PROTO_NICK_MAX + 1] = "";

	if (!r || !r->joined || (cl->op == OP_LEAVE_LOAD && cl->op_failed == false &&
				 memcmp(cl->op_room, rm->room_id, PROTO_ROOM_ID_LEN) == 0))
		return;  /* not listening to that room (or leaving it) */
	if (proto_envelope_decode(rm->envelope.p, rm->envelope.len, &env) != CC_OK)
		goto reject;
	memcpy(from, env.sender.p, env.sender.len);
	from[env.sender.len] = '\0';
	int verdict = msg_check(cl, r, rm, &env, from, &c);
	if (verdict > 0)
		return;
	if (verdict < 0)
		goto reject;
	if (client_room_epoch_key(cl, r, env.epoch, key) != CC_OK) {
		c.code = "no_key";
		c.why = "no key for the message's epoch";
		goto reject;
	}
	text = malloc(PROTO_TEXT_MAX + 1);
	cc_err err = text ? e2e_message_decrypt(key, &env, text, &text_len) : CC_ERR_NOMEM;
	mem_wipe(key, sizeof key);
	if (err) {
		c.why = err == CC_ERR_AUTH ? "the ciphertext does not open under the epoch's key"
					   : "the text is not UTF-8";
		goto reject;
	}
	/* A gap: messages of this sender the server did not hand us. */
	if (env.seq > c.last_seq + 1)
		client_emit(cl, json_pack("{s:s, s:s, s:s, s:i, s:I, s:I}", "event", "gap", "room",
					  r->id_hex, "from", c.sender->nick, "epoch",
					  (int)env.epoch, "first", (json_int_t)(c.last_seq + 1),
					  "last", (json_int_t)(env.seq - 1)));
	/* Stored before it is shown, so a replay after a crash still shows. */
	cstore_seen_put_message(cl->store, r->room_id, c.sender->fp, env.epoch, env.seq,
				rm->msg_id, env.time_ms);
	if (rm->msg_id > r->last_msg_id)
		r->last_msg_id = rm->msg_id;
	if (env.epoch == r->chain.epoch) {
		r->epoch_msgs++;
		client_maybe_rekey(cl, r);
	}
	text[text_len] = '\0';
	client_emit(cl, json_pack("{s:s, s:s, s:s, s:s%, s:I, s:i, s:I, s:I, s:b}", "event",
				  "message", "room", r->id_hex, "from", c.sender->nick, "text",
				  (const char *)text, text_len, "seq", (json_int_t)env.seq, "epoch",
				  (int)env.epoch, "ts", (json_int_t)env.time_ms, "msg_id",
				  (json_int_t)rm->msg_id, "verified", c.user->trusted ? 1 : 0));
	goto done;
reject:
	client_emit_room_error(cl, r->id_hex, *from ? from : NULL, c.code, c.why);
	if (rm->msg_id > r->last_msg_id) {
		r->last_msg_id = rm->msg_id;
		cstore_room_last_id_put(cl->store, r->room_id, rm->msg_id);
	}
done:
	if (r->last_msg_id - r->acked_msg_id >= ACK_EVERY && cl->op != OP_JOIN)
		client_room_ack(cl, r);
	if (text) {
		mem_wipe(text, PROTO_TEXT_MAX + 1);
		free(text);
	}
}
