/* Membership changes in the client's rooms: add, kick, admin, disconnect and
 * leave, and the changes others made, relayed by the server. New epochs (and
 * when this client makes one by itself) are in epochs.c. The rules of
 * rooms.c hold here too: a change counts only once its signed record applies
 * to the room's chain, and a key only if it matches the chain's commitment. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "client/core/internal.h"
#include "store/client_store.h"
#include "util/clock.h"
#include "util/log.h"

/* ---- events ----------------------------------------------------------------- */

static void nick_of(char out[PROTO_NICK_MAX + 1], struct proto_bytes b)
{
	memcpy(out, b.p, b.len);
	out[b.len] = '\0';
}

/* What one record means, as an event, with the chain as it stands right
 * after the record applied (names from the chain). */
static void record_event(struct client *cl, uint32_t request, const struct client_room *r,
			 const struct e2e_chain *chain, const struct proto_record *rec)
{
	static const enum client_event_type types[] = {
		[PROTO_REC_ADD] = CLIENT_EV_MEMBER_ADDED,
		[PROTO_REC_LEAVE] = CLIENT_EV_MEMBER_LEFT,
		[PROTO_REC_KICK] = CLIENT_EV_MEMBER_KICKED,
		[PROTO_REC_ADMIN] = CLIENT_EV_ADMIN_CHANGED,
		[PROTO_REC_REKEY] = CLIENT_EV_REKEYED,
		[PROTO_REC_EXPIRE] = CLIENT_EV_MEMBER_EXPIRED,
		[PROTO_REC_MOVE] = CLIENT_EV_REKEYED,  /* and KEY_MOVED, from trust.c */
	};
	char actor[PROTO_NICK_MAX + 1], subject[PROTO_NICK_MAX + 1];

	if (rec->action >= sizeof types / sizeof types[0] || !types[rec->action])
		return;  /* a creation: told as the room itself */
	nick_of(actor, rec->actor);
	if (rec->action == PROTO_REC_ADD) {
		/* One event per member added (an ADD may bring many). */
		struct proto_subject_iter it;
		struct proto_bytes nick;
		const uint8_t *fp;
		proto_subject_iter_init(&it, rec);
		while (proto_subject_next(&it, &nick, &fp) == CC_OK) {
			nick_of(subject, nick);
			client_emit_change(cl, types[rec->action], request, r, chain, subject, actor);
		}
		return;
	}
	nick_of(subject, rec->subject);
	client_emit_change(cl, types[rec->action], request, r, chain,
			   rec->action == PROTO_REC_REKEY || rec->action == PROTO_REC_MOVE ? ""
											   : subject,
			   actor);
}

void client_records_events(struct client *cl, const struct client_req *req,
			   const struct client_room *r)
{
	struct proto_list list = {req->nrecords, {req->records.data, req->records.len}};
	struct proto_list_iter it;
	struct proto_blob_item item;
	struct proto_record rec;
	struct e2e_chain scratch;
	const char *why;

	/* Each told as the chain stands right after it: replayed on a copy. */
	if (e2e_chain_copy(&scratch, &r->chain) != CC_OK)
		return;
	proto_list_iter_init(&it, &list, PROTO_ITEM_BLOB);
	while (proto_list_next(&it, &item) == CC_OK)
		if (e2e_chain_apply(&scratch, item.data.p, item.data.len, client_room_key_lookup,
				    (void *)r, &why) == CC_OK &&
		    proto_record_decode(item.data.p, item.data.len, &rec) == CC_OK)
			record_event(cl, req->id, r, &scratch, &rec);
	e2e_chain_free(&scratch);
}

/* ---- the calls ------------------------------------------------------------------- */

static uint32_t member_request(struct client *cl, enum client_req_kind kind,
			       const uint8_t room[PROTO_ROOM_ID_LEN], const char *nick)
{
	struct client_req *req;
	uint32_t id = client_request(cl, kind, room, &req);
	if (!req)
		return id;
	if (nick && !proto_nick_valid((const uint8_t *)nick, strlen(nick))) {
		client_req_error(cl, req, "bad_nick", "not a nickname");
		client_req_end(cl, req, CC_ERR_BAD_NICK);
		return id;
	}
	if (nick)
		snprintf(req->nick, sizeof req->nick, "%s", nick);
	client_reqs_pump(cl);
	return id;
}

uint32_t client_room_add(struct client *cl, const uint8_t room[PROTO_ROOM_ID_LEN],
			 const char *nick)
{
	return member_request(cl, REQ_ADD, room, nick ? nick : "");
}

uint32_t client_room_kick(struct client *cl, const uint8_t room[PROTO_ROOM_ID_LEN],
			  const char *nick)
{
	return member_request(cl, REQ_KICK, room, nick ? nick : "");
}

uint32_t client_room_admin(struct client *cl, const uint8_t room[PROTO_ROOM_ID_LEN],
			   const char *nick)
{
	return member_request(cl, REQ_ADMIN, room, nick ? nick : "");
}

uint32_t client_room_disconnect(struct client *cl, const uint8_t room[PROTO_ROOM_ID_LEN])
{
	return member_request(cl, REQ_DISCONNECT, room, NULL);
}

uint32_t client_room_leave(struct client *cl, const uint8_t room[PROTO_ROOM_ID_LEN])
{
	return member_request(cl, REQ_LEAVE, room, NULL);
}

/* The room of an admin's change, checked when its turn comes: NULL if it is
 * not joined or we are not its admin (reported, req ended). */
static struct client_room *admin_room(struct client *cl, struct client_req *req)
{
	struct client_room *r = client_room_find(cl, req->room);
	if (!r || !r->joined) {
		client_req_error(cl, req, "not_joined", "join the room first (/join ROOM)");
		client_req_end(cl, req, CC_ERR_NOT_FOUND);
		return NULL;
	}
	if (!client_is_admin(cl, r)) {
		client_req_error(cl, req, "not_admin", "only the room's admin may do that");
		client_req_end(cl, req, CC_ERR_NOT_ADMIN);
		return NULL;
	}
	return r;
}

/* The member req names, other than ourselves; NULL if none (reported). */
static const struct e2e_member *named_member(struct client *cl, struct client_req *req,
					     struct client_room **room)
{
	struct client_room *r = admin_room(cl, req);
	if (!r)
		return NULL;
	const struct e2e_member *m = e2e_chain_member_by_nick(&r->chain, req->nick);
	if (!m || memcmp(m->fp, cl->fp, CRYPTO_FINGERPRINT_LEN) == 0) {
		client_req_error(cl, req, "not_member", "name another member of the room");
		client_req_end(cl, req, CC_ERR_NOT_FOUND);
		return NULL;
	}
	*room = r;
	return m;
}

/* ---- add and kick: new epochs ---------------------------------------------- */

/* Keeps the checked change and fetches the room's directory afresh: the new
 * epoch's secret goes to every member's current receiving key. */
static void refresh_start(struct client *cl, struct client_req *req,
			  const struct client_change *change)
{
	struct proto_msg m = {.type = PROTO_ROOM_FETCH};
	if (!(req->change = malloc(sizeof *req->change))) {
		client_req_end(cl, req, CC_ERR_NOMEM);
		return;
	}
	*req->change = *change;
	memcpy(m.u.room_ref.room_id, req->room, PROTO_ROOM_ID_LEN);
	req->step = STEP_STATE;
	if (client_req_send(cl, req, &m) != CC_OK)
		client_req_end(cl, req, CC_ERR_IO);
}

void client_add_start(struct client *cl, struct client_req *req)
{
	struct client_room *r = admin_room(cl, req);
	if (!r)
		return;
	if (e2e_chain_member_by_nick(&r->chain, req->nick)) {
		client_req_error(cl, req, "exists", "already a member");
		client_req_end(cl, req, CC_ERR_EXISTS);
		return;
	}
	if (client_ask_user(cl, req) != CC_OK)
		client_req_end(cl, req, CC_ERR_IO);
}

void client_add_on_users(struct client *cl, struct client_req *req, const struct proto_users *users)
{
	struct client_room *r = client_room_find(cl, req->room);
	struct proto_list_iter it;
	struct proto_user_item item;
	struct client_change add = {PROTO_REC_ADD, "", {0}};
	const char *code = NULL, *why = NULL;
	cc_err err = CC_ERR_SECURITY;

	/* The user's keys seen and pin: one commit, before the room is fetched
	 * to wrap to them. */
	client_directory_begin(cl, "client:add-stored");
	proto_list_iter_init(&it, &users->users, PROTO_ITEM_USER);
	if (!r || users->users.count != 1 || proto_list_next(&it, &item) != CC_OK) {
		code = "malformed", why = "the server's answer is not the user asked for";
		err = CC_ERR_MALFORMED;
	} else if (item.nick.len != strlen(req->nick) ||
		   strncasecmp((const char *)item.nick.p, req->nick, item.nick.len) != 0) {
		code = "security", why = "the server answered about another user";
	} else if (client_room_add_user_item(cl, r, &item) != CC_OK) {
		code = "malformed", why = "the server sent an unusable key";
		err = CC_ERR_MALFORMED;
	}
	if (code) {
		client_directory_commit(cl);
		client_req_error(cl, req, code, why);
		client_req_end(cl, req, err);
		return;
	}
	/* The entry just added (or refreshed); its fingerprint was computed
	 * from the key (checked again: a lookup now). */
	struct client_entry_check checked;
	if (client_entry_check(cl, &item, &checked) != CC_OK) {
		client_directory_commit(cl);
		client_req_error(cl, req, "malformed", "the server sent an unusable key");
		client_req_end(cl, req, CC_ERR_MALFORMED);
		return;
	}
	memcpy(add.fp, checked.fp, sizeof add.fp);
	crypto_rsa_free(checked.key);
	/* The name asked for, as the directory spells it, is what we pin and sign. */
	nick_of(add.nick, item.nick);
	bool trusted = client_trust_check(cl, add.nick, add.fp);
	if (client_directory_commit(cl) != CC_OK) {
		client_req_error(cl, req, "store_error", "cannot store the user's key and pin");
		client_req_end(cl, req, CC_ERR_STORE);
		return;
	}
	if (!trusted) {
		/* The server offers another key than the one we pinned: refuse. */
		client_req_error(cl, req, "key_changed",
				 "the key the server gives for that user is not the one pinned; "
				 "nothing was added. Compare /safety NICK, then /verify NICK");
		client_req_end(cl, req, CC_ERR_KEY_CHANGED);
		return;
	}
	refresh_start(cl, req, &add);
}

void client_kick_start(struct client *cl, struct client_req *req)
{
	struct client_room *r;
	const struct e2e_member *m = named_member(cl, req, &r);
	if (!m)
		return;
	struct client_change kick = {PROTO_REC_KICK, "", {0}};
	snprintf(kick.nick, sizeof kick.nick, "%s", m->nick);
	memcpy(kick.fp, m->fp, sizeof kick.fp);
	/* The new epoch's members do not include the expelled one: no key. */
	refresh_start(cl, req, &kick);
}

void client_refresh_on_state(struct client *cl, struct client_req *req,
			     const struct proto_room_state *st)
{
	struct client_room *r = client_room_find(cl, req->room);
	if (!r || !req->change || memcmp(st->room_id, req->room, PROTO_ROOM_ID_LEN) != 0) {
		client_req_error(cl, req, "not_joined", "the room is no longer open here");
		client_req_end(cl, req, CC_ERR_NOT_FOUND);
		return;
	}
	/* Only the directory is taken: each entry's keys are checked as ever
	 * (certified, never older than seen); the chain stays ours. What it
	 * stores is committed before the new secret is wrapped and sent. */
	client_directory_begin(cl, "client:refresh-stored");
	if (client_room_add_users(cl, r, &st->users) != CC_OK)
		log_warn("room %s: a member's key in the directory does not parse", r->id_hex);
	if (client_directory_commit(cl) != CC_OK) {
		client_req_error(cl, req, "store_error", "cannot store the members' keys");
		client_req_end(cl, req, CC_ERR_STORE);
		return;
	}
	cc_err err = client_epoch_send(cl, req, r,
				       req->kind == REQ_ADD ? PROTO_ROOM_ADD : PROTO_ROOM_KICK,
				       req->change, 1, r->title);
	if (err)
		client_req_end(cl, req, err);
}

/* ADD, KICK or REKEY accepted: the room takes its new chain and secret. */
static cc_err epoch_on_ok(struct client *cl, struct client_req *req)
{
	bool fetched = req->kind == REQ_REKEY;
	struct client_room *r = fetched ? req->new_room : client_room_find(cl, req->room);
	if (fetched)
		req->new_room = NULL;
	if (r)
		client_records_events(cl, req, r);
	if (!r || client_epoch_commit(cl, req, r) != CC_OK ||
	    (fetched && client_room_install(cl, r) != CC_OK)) {
		client_req_error(cl, req, "store_error", "cannot keep the room's new key");
		if (fetched)
			client_room_free(r);
		return CC_ERR_STORE;
	}
	return CC_OK;
}

/* ---- admin and leave: records that keep the epoch ----------------------------- */

/* Signs one record that keeps the epoch (ADMIN, LEAVE) into req->records. */
static cc_err plain_record(struct client *cl, struct client_req *req, struct client_room *r,
			   uint8_t action, const struct e2e_member *subject)
{
	const uint8_t *commit = e2e_chain_commit(&r->chain, r->chain.epoch);
	buf_reset(&req->records);
	if (!commit)
		return CC_ERR_INTERNAL;
	struct client_change who = {.action = action};
	snprintf(who.nick, sizeof who.nick, "%s", subject->nick);
	memcpy(who.fp, subject->fp, CRYPTO_FINGERPRINT_LEN);
	return client_record_make(cl, &r->chain, action, &who, 1, r->chain.epoch, commit,
				  &req->records);
}

/* Our own record, accepted: applied to our copy of the chain and stored. */
static cc_err plain_record_apply(struct client *cl, struct client_req *req, struct client_room *r)
{
	const char *why;
	cc_err err = e2e_chain_apply(&r->chain, req->records.data, req->records.len,
				     client_room_key_lookup, r, &why);
	if (!err)
		err = client_room_set_position(r, r->chain.count - 1, r->last_msg_id);
	if (!err)
		client_room_save(cl, r);
	return err;
}

/* Sends req's record as message type (ROOM_ADMIN or ROOM_LEAVE). */
static cc_err plain_record_send(struct client *cl, struct client_req *req, uint8_t type)
{
	struct proto_msg m = {.type = type};
	memcpy(m.u.room_leave.room_id, req->room, PROTO_ROOM_ID_LEN);
	m.u.room_leave.record = (struct proto_bytes){req->records.data, req->records.len};
	req->step = STEP_CHANGE;
	return client_req_send(cl, req, &m);
}

void client_admin_start(struct client *cl, struct client_req *req)
{
	struct client_room *r;
	const struct e2e_member *m = named_member(cl, req, &r);
	if (!m)
		return;
	snprintf(req->nick, sizeof req->nick, "%s", m->nick);  /* the chain's spelling */
	cc_err err = plain_record(cl, req, r, PROTO_REC_ADMIN, m);
	if (!err)
		err = plain_record_send(cl, req, PROTO_ROOM_ADMIN);
	if (err) {
		client_req_error(cl, req, cc_err_code(err), "cannot hand the role over");
		client_req_end(cl, req, err);
	}
}

void client_leave_start(struct client *cl, struct client_req *req)
{
	struct client_room *r = client_room_find(cl, req->room);
	if (!r || !r->chain.count) {
		/* The chain is needed to sign: load the room first. */
		req->then_leave = true;
		client_join_start(cl, req);
		return;
	}
	if (r->needs_move) {
		/* The room learns our new key first: signed by us it must be. */
		req->step = STEP_QUEUED;
		req->then_leave = false;
		client_owed_add(cl, req->room, true);
		return;
	}
	const struct e2e_member *self = e2e_chain_member(&r->chain, cl->fp);
	if (client_is_admin(cl, r) && r->chain.nmembers > 1) {
		client_req_error(cl, req, "must_transfer_admin",
				 "hand the admin role to another member first (/admin NICK)");
		client_req_end(cl, req, CC_ERR_MUST_TRANSFER_ADMIN);
		return;
	}
	cc_err err = self ? plain_record(cl, req, r, PROTO_REC_LEAVE, self) : CC_ERR_NOT_FOUND;
	if (!err)
		err = plain_record_send(cl, req, PROTO_ROOM_LEAVE);
	if (err) {
		client_req_error(cl, req, cc_err_code(err), "cannot leave");
		client_req_end(cl, req, err);
	}
}

/* The room is no longer ours: its secrets go, its chain head stays (so an
 * old history replayed to us later is still caught). */
static void room_gone_for_us(struct client *cl, struct client_room *r)
{
	client_room_save(cl, r);
	cstore_room_forget(cl->store, r->room_id);
	client_room_remove(cl, r);
}

static void leave_on_ok(struct client *cl, struct client_req *req)
{
	struct client_room *r = client_room_find(cl, req->room);
	if (r) {
		if (plain_record_apply(cl, req, r) != CC_OK)
			log_warn("room %s: our leave record does not apply here", req->room_hex);
		room_gone_for_us(cl, r);
	} else {
		cstore_room_forget(cl->store, req->room);
	}
	struct client_event ev = {.type = CLIENT_EV_LEFT, .request = req->id, .room = req->room_hex};
	client_emit(cl, &ev);
}

/* ---- disconnect ------------------------------------------------------------------ */

void client_disconnect_start(struct client *cl, struct client_req *req)
{
	struct client_room *r = client_room_find(cl, req->room);
	if (r && r->joined)
		client_room_ack(cl, r);  /* before we stop listening: the backlog starts after it */
	struct proto_msg m = {.type = PROTO_ROOM_DISCONNECT};
	memcpy(m.u.room_ref.room_id, req->room, PROTO_ROOM_ID_LEN);
	req->step = STEP_CHANGE;
	if (client_req_send(cl, req, &m) != CC_OK)
		client_req_end(cl, req, CC_ERR_IO);
}

/* ---- answers ---------------------------------------------------------------------- */

void client_change_on_answer(struct client *cl, struct client_req *req, const struct proto_msg *m)
{
	if (m->type == PROTO_ERROR) {
		if (req->kind == REQ_REKEY && m->u.error.code == CC_ERR_STALE_EPOCH)
			/* Another member's new epoch came first: theirs holds. */
			log_info("room %s: another member made the new epoch first", req->room_hex);
		else
			client_req_error_msg(cl, req, &m->u.error);
		client_req_end(cl, req, (cc_err)m->u.error.code);
		return;
	}
	if (m->type != PROTO_OK || req->step != STEP_CHANGE)
		return;
	cc_err err = CC_OK;
	switch (req->kind) {
	case REQ_ADD:
	case REQ_KICK:
	case REQ_REKEY:
		err = epoch_on_ok(cl, req);
		break;
	case REQ_ADMIN: {
		struct client_room *r = client_room_find(cl, req->room);
		if (r && plain_record_apply(cl, req, r) == CC_OK)
			client_emit_change(cl, CLIENT_EV_ADMIN_CHANGED, req->id, r, &r->chain,
					   req->nick, cl->nick);
		break;
	}
	case REQ_LEAVE:
		leave_on_ok(cl, req);
		break;
	case REQ_DISCONNECT: {
		struct client_room *r = client_room_find(cl, req->room);
		if (r)
			r->joined = false;
		struct client_event ev = {.type = CLIENT_EV_DISCONNECTED, .request = req->id,
					  .room = req->room_hex};
		client_emit(cl, &ev);
		break;
	}
	default:
		break;
	}
	client_req_end(cl, req, err);
}

/* ---- changes others made ------------------------------------------------- */

/* Our secret of the epoch a relayed record opened: kept (as its chain keys)
 * only if it matches the chain's commitment. 0, or -1 (reported) if it is
 * missing or wrong; lost: wrapped to a receiving key we no longer have. */
static int room_take_key(struct client *cl, struct client_room *r, const struct proto_list *keys,
			 bool *lost)
{
	struct proto_list_iter it;
	struct proto_wrapped_item w;
	uint8_t secret[E2E_KEY_LEN];
	const char *why = "the server gave us no valid key of the room's new epoch";

	proto_list_iter_init(&it, keys, PROTO_ITEM_WRAPPED);
	while (proto_list_next(&it, &w) == CC_OK) {
		if (w.epoch != r->chain.epoch)
			continue;
		bool stale = false;
		cc_err err = client_wrapped_open(cl, r, w.epoch, w.wrapped.p, w.wrapped.len, secret,
						 &stale, &why);
		if (err == CC_ERR_NOT_FOUND) {
			*lost = true;
			log_warn("room %s: %s", r->id_hex, why);
			return -1;
		}
		if (err)
			break;
		if (stale) {
			client_emit_error(cl, 0, r->id_hex, NULL, "security", STALE_WRAP_NOTICE);
			*lost = true;
		}
		err = client_epoch_take(cl, &r->chain, w.epoch, secret, NULL, NULL);
		mem_wipe(secret, sizeof secret);
		if (err) {
			why = "cannot keep the room's new keys";
			break;
		}
		client_keys_ack(cl, r->room_id, w.epoch);
		return 0;
	}
	client_emit_error(cl, 0, r->id_hex, NULL, "security", why);
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
	/* The newcomers' keys seen, then their pins: a commit each (nothing
	 * sent rests on them; a failure is a warning, as a single write's). */
	client_directory_begin(cl, "client:record-stored");
	err = client_room_add_users(cl, r, &rr->users);
	if (client_directory_commit(cl) != CC_OK)
		log_warn("room %s: cannot store the members' keys", r->id_hex);
	if (err) {
		client_emit_error(cl, 0, r->id_hex, NULL, "security",
				  "a membership record comes with a key that does not parse");
		return;
	}
	err = e2e_chain_apply(&r->chain, rr->record.p, rr->record.len, client_room_key_lookup, r,
			      &why);
	if (err) {
		client_emit_error(cl, 0, r->id_hex, NULL, "security",
				  err == CC_ERR_STALE_EPOCH
					  ? "the server skipped membership records (or replayed one)"
				  : *why ? why
					 : "a membership record does not verify");
		return;
	}
	proto_record_decode(rr->record.p, rr->record.len, &rec);
	client_trust_moved(cl, r, &rec);  /* a member's new key, signed by the old */
	if (client_room_set_position(r, r->chain.count - 1, rr->position) ||
	    cstore_activity_put(cl->store, rec.actor_fp, rec.time_ms))
		log_warn("room %s: cannot keep a record's details", r->id_hex);
	client_directory_begin(cl, "client:record-pins-stored");
	if (client_room_name_users(cl, r, &why))
		client_emit_error(cl, 0, r->id_hex, NULL, "security", why);
	if (client_directory_commit(cl) != CC_OK)
		log_warn("room %s: cannot store the members' pins", r->id_hex);
	if (!e2e_chain_member(&r->chain, cl->fp) &&
	    !(r->needs_move && e2e_chain_member(&r->chain, cl->old_fp))) {
		/* Expelled (or signed out): the room and its keys are no longer ours. */
		char hex[CLIENT_ROOM_HEX], actor[PROTO_NICK_MAX + 1];
		memcpy(hex, r->id_hex, sizeof hex);
		nick_of(actor, rec.actor);
		room_gone_for_us(cl, r);
		struct client_event ev = {.type = rec.action == PROTO_REC_KICK	   ? CLIENT_EV_EXPELLED
						  : rec.action == PROTO_REC_EXPIRE ? CLIENT_EV_EXPIRED
										   : CLIENT_EV_REMOVED,
					  .room = hex};
		ev.u.change.nick = cl->nick;
		ev.u.change.by = actor;
		ev.u.change.admin = "";
		client_emit(cl, &ev);
		return;
	}
	bool opened = r->chain.epochs[r->chain.epoch].open_seq == r->chain.count - 1;
	bool lost = false;
	if (opened) {
		room_take_key(cl, r, &rr->keys, &lost);
		r->epoch_msgs = 0;
		r->gone_pending = false;
		r->keys_lost = lost;
	}
	client_room_save(cl, r);
	record_event(cl, 0, r, &r->chain, &rec);
	client_epochs_forget_ended(cl, r);
	if (lost)
		client_owed_add(cl, r->room_id, true);  /* we cannot read it: a new epoch */
	client_reqs_pump(cl);  /* lines waiting for this room's new epoch */
}
