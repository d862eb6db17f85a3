/* Membership changes in the client's rooms: /add, /kick, /admin, /disconnect
 * and /leave, and the changes others made, relayed by the server. New epochs
 * (and when this client makes one by itself) are in epochs.c. The rules of
 * rooms.c hold here too: a change counts only once its signed record applies
 * to the room's chain, and a key only if it matches the chain's commitment. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "client/client_internal.h"
#include "client/rooms_internal.h"
#include "store/client_store.h"
#include "util/clock.h"
#include "util/log.h"

/* ---- events ----------------------------------------------------------------- */

/* What one record means, as an event, with the chain as it stands right
 * after the record applied (names from the chain). */
static void record_event(struct client *cl, const char *room_hex, const struct e2e_chain *chain,
			 const struct proto_record *rec)
{
	char actor[PROTO_NICK_MAX + 1], subject[PROTO_NICK_MAX + 1];
	memcpy(actor, rec->actor.p, rec->actor.len);
	actor[rec->actor.len] = '\0';
	memcpy(subject, rec->subject.p, rec->subject.len);
	subject[rec->subject.len] = '\0';
	int epoch = (int)chain->epoch;

	switch (rec->action) {
	case PROTO_REC_ADD:
		client_emit(cl, json_pack("{s:s, s:s, s:s, s:s, s:i}", "event", "member_added", "room",
					  room_hex, "nick", subject, "by", actor, "epoch", epoch));
		break;
	case PROTO_REC_LEAVE:
		client_emit(cl, json_pack("{s:s, s:s, s:s}", "event", "member_left", "room",
					  room_hex, "nick", subject));
		break;
	case PROTO_REC_KICK:
		client_emit(cl, json_pack("{s:s, s:s, s:s, s:s, s:i}", "event", "member_kicked", "room",
					  room_hex, "nick", subject, "by", actor, "epoch", epoch));
		break;
	case PROTO_REC_ADMIN:
		client_emit(cl, json_pack("{s:s, s:s, s:s, s:s}", "event", "admin_changed", "room",
					  room_hex, "admin", subject, "by", actor));
		break;
	case PROTO_REC_REKEY:
		client_emit(cl, json_pack("{s:s, s:s, s:i, s:s}", "event", "rekeyed", "room",
					  room_hex, "epoch", epoch, "by", actor));
		break;
	case PROTO_REC_EXPIRE:
		client_emit(cl, json_pack("{s:s, s:s, s:s, s:s, s:s}", "event", "member_expired",
					  "room", room_hex, "nick", subject, "by", actor, "admin",
					  chain->admin.nick));
		break;
	default:
		break;
	}
}

/* Events for a list of records (blob items) about to extend r's chain: each
 * told as the chain stands right after it (replayed on a copy). */
static void records_events(struct client *cl, const struct client_room *r,
			   const struct buf *records, uint16_t count)
{
	struct proto_list list = {count, {records->data, records->len}};
	struct proto_list_iter it;
	struct proto_blob_item item;
	struct proto_record rec;
	struct e2e_chain scratch;
	const char *why;
	if (e2e_chain_copy(&scratch, &r->chain) != CC_OK)
		return;
	proto_list_iter_init(&it, &list, PROTO_ITEM_BLOB);
	while (proto_list_next(&it, &item) == CC_OK)
		if (e2e_chain_apply(&scratch, item.data.p, item.data.len, client_room_key_lookup,
				    (void *)r, &why) == CC_OK &&
		    proto_record_decode(item.data.p, item.data.len, &rec) == CC_OK)
			record_event(cl, r->id_hex, &scratch, &rec);
	e2e_chain_free(&scratch);
}

/* ---- /add and /kick: new epochs ------------------------------------------- */

void client_cmd_add(struct client *cl, const char *args)
{
	struct client_room *r = cl->current;
	size_t n = strcspn(args, " \t");

	if (!r || !r->joined) {
		client_emit_error(cl, "no_room", "join the room first (/join ROOM)");
		return;
	}
	if (!proto_nick_valid((const uint8_t *)args, n) || args[n + strspn(args + n, " \t")]) {
		client_emit_room_error(cl, r->id_hex, NULL, "usage", "/add NICK");
		return;
	}
	if (!client_is_admin(cl, r)) {
		client_emit_room_error(cl, r->id_hex, NULL, "not_admin",
				       "only the room's admin may add members");
		return;
	}
	memcpy(cl->op_nick, args, n);
	cl->op_nick[n] = '\0';
	if (e2e_chain_member_by_nick(&r->chain, cl->op_nick)) {
		client_emit_room_error(cl, r->id_hex, NULL, "exists", "already a member");
		return;
	}
	memcpy(cl->op_room, r->room_id, PROTO_ROOM_ID_LEN);
	client_ask_user(cl, OP_ADD_USERS);
}

void client_add_on_users(struct client *cl, const struct proto_users *users)
{
	struct client_room *r = client_room_find(cl, cl->op_room);
	struct proto_list_iter it;
	struct proto_user_item item;
	struct client_change add = {PROTO_REC_ADD, "", {0}};

	proto_list_iter_init(&it, &users->users, PROTO_ITEM_USER);
	if (!r || users->users.count != 1 || proto_list_next(&it, &item) != CC_OK) {
		client_emit_room_error(cl, r ? r->id_hex : "", NULL, "malformed",
				       "the server's answer is not the user asked for");
		client_op_end(cl);
		return;
	}
	if (item.nick.len != strlen(cl->op_nick) ||
	    strncasecmp((const char *)item.nick.p, cl->op_nick, item.nick.len) != 0) {
		client_emit_room_error(cl, r->id_hex, NULL, "security",
				       "the server answered about another user");
		client_op_end(cl);
		return;
	}
	struct crypto_rsa_key *probe = NULL;
	uint8_t fp[CRYPTO_FINGERPRINT_LEN];
	if (client_room_add_user_item(cl, r, &item) ||
	    crypto_rsa_public_from_der(item.identity_key.p, item.identity_key.len, &probe) ||
	    crypto_rsa_fingerprint(probe, fp)) {
		crypto_rsa_free(probe);
		client_emit_room_error(cl, r->id_hex, NULL, "malformed",
				       "the server sent an unusable key");
		client_op_end(cl);
		return;
	}
	crypto_rsa_free(probe);
	/* The name asked for, as the directory spells it, is what we pin and sign. */
	snprintf(add.nick, sizeof add.nick, "%.*s", (int)item.nick.len, (const char *)item.nick.p);
	memcpy(add.fp, fp, sizeof add.fp);
	if (!client_trust_check(cl, add.nick, add.fp)) {
		/* The server offers another key than the one we pinned: refuse. */
		client_emit_room_error(cl, r->id_hex, NULL, "key_changed",
				       "the key the server gives for that user is not the one "
				       "pinned; nothing was added. Compare /safety NICK, then "
				       "/verify NICK");
		client_op_end(cl);
		return;
	}
	client_epoch_send(cl, r, PROTO_ROOM_ADD, OP_ADD, &add, 1, r->title);
}

/* A member of the current room named by the command, other than ourselves. */
static const struct e2e_member *command_member(struct client *cl, const char *args,
					       struct client_room **room, const char *usage)
{
	struct client_room *r = cl->current;
	size_t n = strcspn(args, " \t");

	if (!r || !r->joined) {
		client_emit_error(cl, "no_room", "join the room first (/join ROOM)");
		return NULL;
	}
	if (!proto_nick_valid((const uint8_t *)args, n) || args[n + strspn(args + n, " \t")]) {
		client_emit_room_error(cl, r->id_hex, NULL, "usage", usage);
		return NULL;
	}
	if (!client_is_admin(cl, r)) {
		client_emit_room_error(cl, r->id_hex, NULL, "not_admin",
				       "only the room's admin may do that");
		return NULL;
	}
	char nick[PROTO_NICK_MAX + 1];
	memcpy(nick, args, n);
	nick[n] = '\0';
	const struct e2e_member *m = e2e_chain_member_by_nick(&r->chain, nick);
	if (!m || memcmp(m->fp, cl->fp, CRYPTO_FINGERPRINT_LEN) == 0) {
		client_emit_room_error(cl, r->id_hex, NULL, "not_member",
				       "name another member of the room");
		return NULL;
	}
	*room = r;
	return m;
}

void client_cmd_kick(struct client *cl, const char *args)
{
	struct client_room *r;
	const struct e2e_member *m = command_member(cl, args, &r, "/kick NICK");
	if (!m)
		return;
	struct client_change kick = {PROTO_REC_KICK, "", {0}};
	snprintf(kick.nick, sizeof kick.nick, "%s", m->nick);
	memcpy(kick.fp, m->fp, sizeof kick.fp);
	/* The new epoch's members do not include the expelled one: no key. */
	client_epoch_send(cl, r, PROTO_ROOM_KICK, OP_KICK, &kick, 1, r->title);
}

/* ADD, KICK or REKEY accepted: the room takes its new chain and secret. */
void client_epoch_on_ok(struct client *cl)
{
	bool fetched = cl->op == OP_REKEY;
	struct client_room *r = fetched ? cl->op_new_room : client_room_find(cl, cl->op_room);
	if (fetched)
		cl->op_new_room = NULL;
	if (r)
		records_events(cl, r, &cl->op_record, cl->op_nrecords);
	if (!r || client_epoch_commit(cl, r) != CC_OK ||
	    (fetched && client_room_install(cl, r) != CC_OK)) {
		client_emit_room_error(cl, r ? r->id_hex : "", NULL, "store_error",
				       "cannot keep the room's new key");
		if (fetched)
			client_room_free(r);
	}
}

/* ---- /admin ------------------------------------------------------------------- */

/* Signs one record that keeps the epoch (ADMIN, LEAVE) into cl->op_record. */
static cc_err plain_record(struct client *cl, struct client_room *r, uint8_t action,
			   const struct e2e_member *subject)
{
	const uint8_t *commit = e2e_chain_commit(&r->chain, r->chain.epoch);
	buf_reset(&cl->op_record);
	if (!commit)
		return CC_ERR_INTERNAL;
	return client_record_make(cl, &r->chain, action, subject->nick, subject->fp,
				  r->chain.epoch, commit, &cl->op_record);
}

/* Our own record, accepted: applied to our copy of the chain and stored. */
static cc_err plain_record_apply(struct client *cl, struct client_room *r)
{
	const char *why;
	cc_err err = e2e_chain_apply(&r->chain, cl->op_record.data, cl->op_record.len,
				     client_room_key_lookup, r, &why);
	if (!err)
		err = client_room_set_position(r, r->chain.count - 1, r->last_msg_id);
	if (!err)
		client_room_save(cl, r);
	return err;
}

void client_cmd_admin(struct client *cl, const char *args)
{
	struct client_room *r;
	const struct e2e_member *m = command_member(cl, args, &r, "/admin NICK");
	if (!m)
		return;
	snprintf(cl->op_nick, sizeof cl->op_nick, "%s", m->nick);
	if (plain_record(cl, r, PROTO_REC_ADMIN, m) != CC_OK) {
		client_emit_room_error(cl, r->id_hex, NULL, "internal", "cannot hand the role over");
		return;
	}
	struct proto_msg msg = {.type = PROTO_ROOM_ADMIN};
	msg.u.room_leave.request_id = client_op_begin(cl, OP_ADMIN);
	memcpy(msg.u.room_leave.room_id, r->room_id, PROTO_ROOM_ID_LEN);
	memcpy(cl->op_room, r->room_id, PROTO_ROOM_ID_LEN);
	msg.u.room_leave.record = (struct proto_bytes){cl->op_record.data, cl->op_record.len};
	if (client_send(cl, &msg))
		client_op_end(cl);
}

void client_admin_on_ok(struct client *cl)
{
	struct client_room *r = client_room_find(cl, cl->op_room);
	if (!r || plain_record_apply(cl, r) != CC_OK)
		return;
	client_emit(cl, json_pack("{s:s, s:s, s:s, s:s}", "event", "admin_changed", "room",
				  r->id_hex, "admin", cl->op_nick, "by", cl->nick));
}

/* ---- /disconnect and /leave ---------------------------------------------- */

void client_cmd_disconnect(struct client *cl, const char *args)
{
	uint8_t room_id[PROTO_ROOM_ID_LEN];
	if (!*args && !cl->current) {
		client_emit_error(cl, "no_room", "name a room, or join one first");
		return;
	}
	if (*args && client_take_room_arg(cl, args, room_id, NULL))
		return;
	if (!*args)
		memcpy(room_id, cl->current->room_id, PROTO_ROOM_ID_LEN);
	struct client_room *r = client_room_find(cl, room_id);
	if (r && r->joined)
		client_room_ack(cl, r);  /* before we stop listening: the backlog starts after it */
	struct proto_msg m = {.type = PROTO_ROOM_DISCONNECT};
	m.u.room_ref.request_id = client_op_begin(cl, OP_DISCONNECT);
	memcpy(m.u.room_ref.room_id, room_id, PROTO_ROOM_ID_LEN);
	memcpy(cl->op_room, room_id, PROTO_ROOM_ID_LEN);
	if (client_send(cl, &m))
		client_op_end(cl);
}

void client_leave_send(struct client *cl, struct client_room *r)
{
	const struct e2e_member *self = e2e_chain_member(&r->chain, cl->fp);
	cc_err err = CC_ERR_INTERNAL;

	if (client_is_admin(cl, r) && r->chain.nmembers > 1) {
		client_emit_room_error(cl, r->id_hex, NULL, "must_transfer_admin",
				       "hand the admin role to another member first (/admin NICK)");
		client_op_end(cl);
		return;
	}
	if (self && !(err = plain_record(cl, r, PROTO_REC_LEAVE, self))) {
		struct proto_msg m = {.type = PROTO_ROOM_LEAVE};
		m.u.room_leave.request_id = client_op_begin(cl, OP_LEAVE);
		memcpy(m.u.room_leave.room_id, r->room_id, PROTO_ROOM_ID_LEN);
		memcpy(cl->op_room, r->room_id, PROTO_ROOM_ID_LEN);
		m.u.room_leave.record = (struct proto_bytes){cl->op_record.data, cl->op_record.len};
		err = client_send(cl, &m);
	}
	if (err) {
		client_emit_room_error(cl, r->id_hex, NULL, cc_err_code(err), "cannot leave");
		client_op_end(cl);
	}
}

/* The room is no longer ours: its secrets go, its chain head stays (so an
 * old history replayed to us later is still caught). */
static void room_gone_for_us(struct client *cl, struct client_room *r)
{
	client_room_save(cl, r);
	cstore_room_forget(cl->store, r->room_id);
	if (cl->text && memcmp(cl->text_room, r->room_id, PROTO_ROOM_ID_LEN) == 0)
		client_text_drop(cl);
	client_room_remove(cl, r);
}

void client_leave_on_ok(struct client *cl)
{
	char hex[2 * PROTO_ROOM_ID_LEN + 1];
	struct client_room *r = client_room_find(cl, cl->op_room);
	hex_encode(cl->op_room, PROTO_ROOM_ID_LEN, hex);
	if (r) {
		if (plain_record_apply(cl, r) != CC_OK)
			log_warn("room %s: our leave record does not apply here", hex);
		room_gone_for_us(cl, r);
	} else {
		cstore_room_forget(cl->store, cl->op_room);
	}
	client_emit(cl, json_pack("{s:s, s:s}", "event", "left", "room", hex));
}

void client_cmd_leave(struct client *cl, const char *args)
{
	uint8_t room_id[PROTO_ROOM_ID_LEN];
	if (!*args) {
		client_emit_error(cl, "usage", "/leave ROOM");
		return;
	}
	if (client_take_room_arg(cl, args, room_id, NULL))
		return;
	struct client_room *r = client_room_find(cl, room_id);
	if (r && r->chain.count) {
		cl->op = OP_LEAVE_LOAD;  /* client_leave_send starts the real op */
		client_leave_send(cl, r);
		return;
	}
	client_join_send(cl, room_id, OP_LEAVE_LOAD);  /* the chain is needed to sign */
}

/* ---- changes others made ------------------------------------------------- */

/* Our secret of the epoch a relayed record opened: kept only if it matches
 * the chain's commitment. 0, or -1 (reported) if it is missing or wrong. */
static int room_take_key(struct client *cl, struct client_room *r, const struct proto_list *keys)
{
	struct proto_list_iter it;
	struct proto_wrapped_item w;
	uint8_t secret[E2E_KEY_LEN], commit[PROTO_HASH_LEN];
	const uint8_t *want = e2e_chain_commit(&r->chain, r->chain.epoch);

	proto_list_iter_init(&it, keys, PROTO_ITEM_WRAPPED);
	while (proto_list_next(&it, &w) == CC_OK) {
		if (w.epoch != r->chain.epoch ||
		    e2e_key_unwrap(cl->identity, r->room_id, w.epoch, w.wrapped.p, w.wrapped.len,
				   secret) != CC_OK)
			continue;
		e2e_key_commit(r->room_id, w.epoch, secret, commit);
		bool ok = crypto_ct_equal(want, commit, sizeof commit) &&
			  cstore_key_put(cl->store, r->room_id, w.epoch, secret) == CC_OK;
		mem_wipe(secret, sizeof secret);
		if (ok)
			return 0;
	}
	client_emit_room_error(cl, r->id_hex, NULL, "security",
			       "the server gave us no valid key of the room's new epoch");
	return -1;
}

/* A membership change someone else made, relayed by the server. */
void client_on_room_record(struct client *cl, const struct proto_room_record *rr)
{
	struct client_room *r = client_room_find(cl, rr->room_id);
	struct proto_record rec;
	const char *why = "";
	cc_err err;

	if (!r || !r->joined)
		return;
	if (client_room_add_users(cl, r, &rr->users) != CC_OK) {
		client_emit_room_error(cl, r->id_hex, NULL, "security",
				       "a membership record comes with a key that does not parse");
		return;
	}
	err = e2e_chain_apply(&r->chain, rr->record.p, rr->record.len, client_room_key_lookup, r,
			      &why);
	if (err) {
		client_emit_room_error(cl, r->id_hex, NULL, "security",
				       err == CC_ERR_STALE_EPOCH
					       ? "the server skipped membership records (or "
						 "replayed one)"
					       : *why ? why : "a membership record does not verify");
		return;
	}
	proto_record_decode(rr->record.p, rr->record.len, &rec);
	if (client_room_set_position(r, r->chain.count - 1, rr->position) ||
	    cstore_activity_put(cl->store, rec.actor_fp, rec.time_ms))
		log_warn("room %s: cannot keep a record's details", r->id_hex);
	if (client_room_name_users(cl, r, &why))
		client_emit_room_error(cl, r->id_hex, NULL, "security", why);
	if (!e2e_chain_member(&r->chain, cl->fp)) {
		/* Expelled (or signed out): the room and its keys are no longer ours. */
		char hex[2 * PROTO_ROOM_ID_LEN + 1], actor[PROTO_NICK_MAX + 1];
		memcpy(hex, r->id_hex, sizeof hex);
		snprintf(actor, sizeof actor, "%.*s", (int)rec.actor.len, (const char *)rec.actor.p);
		room_gone_for_us(cl, r);
		client_emit(cl, json_pack("{s:s, s:s, s:s}", "event",
					  rec.action == PROTO_REC_KICK     ? "expelled"
					  : rec.action == PROTO_REC_EXPIRE ? "expired"
									   : "removed",
					  "room", hex, "by", actor));
		return;
	}
	bool opened = r->chain.epochs[r->chain.epoch].open_seq == r->chain.count - 1;
	if (opened) {
		room_take_key(cl, r, &rr->keys);
		r->epoch_msgs = 0;
		r->gone_pending = false;
	}
	client_room_save(cl, r);
	record_event(cl, r->id_hex, &r->chain, &rec);
}
