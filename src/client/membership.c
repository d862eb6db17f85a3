/* Membership changes in the client's rooms, and the new keys they bring:
 * /add, /kick, /admin, /disconnect and /leave; changes others made, relayed by
 * the server; and new epochs (after a kick, when the server says a key is
 * owed, or periodically with --rekey-after). Split from rooms.c, which holds
 * the rooms themselves, so that each file reads on its own. The rules of
 * rooms.c hold here too: a change counts only once its signed record applies
 * to the room's chain, and a key only if it matches the chain's commitment. */
#include <stdlib.h>
#include <string.h>

#include "client/client_internal.h"
#include "client/rooms_internal.h"
#include "store/client_store.h"
#include "util/clock.h"

/* ---- records we sign ------------------------------------------------------ */

/* Signs a record for the room's chain: the next seq, the previous hash, and
 * the commitment of the epoch it applies in. */
static cc_err room_record_make(struct client *cl, const struct client_room *r, uint8_t action,
			       const char *subject, const uint8_t subject_fp[CRYPTO_FINGERPRINT_LEN],
			       uint32_t epoch, const uint8_t commit[PROTO_HASH_LEN],
			       struct buf *out)
{
	struct proto_record rec = {0};
	rec.version = PROTO_RECORD_VERSION;
	memcpy(rec.room_id, r->room_id, PROTO_ROOM_ID_LEN);
	rec.seq = r->chain.count;
	if (r->chain.count)
		memcpy(rec.prev_hash, r->chain.last_hash, PROTO_HASH_LEN);
	rec.action = action;
	rec.actor = proto_bytes_str(cl->nick);
	memcpy(rec.actor_fp, cl->fp, CRYPTO_FINGERPRINT_LEN);
	rec.subject = proto_bytes_str(subject);
	memcpy(rec.subject_fp, subject_fp, CRYPTO_FINGERPRINT_LEN);
	rec.epoch = epoch;
	memcpy(rec.key_commit, commit, PROTO_HASH_LEN);
	rec.time_ms = clock_now_ms();
	return e2e_record_sign(cl->identity, &rec, out);
}

/* Signs and applies a record to the room's chain (our own copy). */
cc_err client_room_record_add(struct client *cl, struct client_room *r, uint8_t action,
			      const char *subject, const uint8_t subject_fp[CRYPTO_FINGERPRINT_LEN],
			      uint32_t epoch, const uint8_t commit[PROTO_HASH_LEN],
			      struct buf *records, uint16_t *count)
{
	struct buf one;
	struct proto_blob_item item;
	const char *why;
	cc_err err;

	buf_init(&one, PROTO_RECORD_MAX);
	if ((err = room_record_make(cl, r, action, subject, subject_fp, epoch, commit, &one)) ||
	    (err = e2e_chain_apply(&r->chain, one.data, one.len, client_room_key_lookup, r, &why)))
		goto out;
	item.data = (struct proto_bytes){one.data, one.len};
	if (!(err = proto_item_encode(PROTO_ITEM_BLOB, &item, records)))
		(*count)++;
out:
	buf_free(&one);
	return err;
}

/* ---- /add ---------------------------------------------------------------- */

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
	struct buf wrapped;
	uint8_t key[E2E_KEY_LEN];
	cc_err err = CC_ERR_NOT_FOUND;

	buf_init(&wrapped, PROTO_WRAPPED_MAX);
	proto_list_iter_init(&it, &users->users, PROTO_ITEM_USER);
	if (!r || proto_list_next(&it, &item) != CC_OK ||
	    (err = client_room_add_user_item(cl, r, &item)))
		goto fail;
	struct client_user *u = NULL;
	for (size_t i = 0; i < r->nusers; i++)
		if (strcasecmp(r->users[i].nick, cl->op_nick) == 0)
			u = &r->users[i];
	const uint8_t *commit = e2e_chain_commit(&r->chain, r->chain.epoch);
	if (!u || !commit) {
		err = CC_ERR_INTERNAL;
		goto fail;
	}
	if (!u->trusted) {
		/* The server offers another key than the one we pinned: refuse. */
		client_emit_room_error(cl, r->id_hex, NULL, "key_changed",
				       "the key the server gives for that user is not the one "
				       "pinned; nothing was added. Compare /safety NICK, then "
				       "/verify NICK");
		buf_free(&wrapped);
		client_op_end(cl);
		return;
	}
	buf_reset(&cl->op_record);
	if ((err = client_room_current_key(cl, r, key)))
		goto fail;
	err = e2e_key_wrap(u->key, r->room_id, r->chain.epoch, key, &wrapped);
	mem_wipe(key, sizeof key);
	if (err || (err = room_record_make(cl, r, PROTO_REC_ADD, u->nick, u->fp, r->chain.epoch,
					   commit, &cl->op_record)))
		goto fail;
	snprintf(cl->op_nick, sizeof cl->op_nick, "%s", u->nick);
	struct proto_msg m = {.type = PROTO_ROOM_ADD};
	m.u.room_add.request_id = client_op_begin(cl, OP_ADD);
	memcpy(m.u.room_add.room_id, r->room_id, PROTO_ROOM_ID_LEN);
	m.u.room_add.record = (struct proto_bytes){cl->op_record.data, cl->op_record.len};
	m.u.room_add.wrapped = (struct proto_bytes){wrapped.data, wrapped.len};
	if ((err = client_send(cl, &m)))
		goto fail;
	buf_free(&wrapped);
	return;
fail:
	buf_free(&wrapped);
	client_emit_room_error(cl, r ? r->id_hex : "", NULL, cc_err_code(err),
			       "cannot add the member");
	client_op_end(cl);
}

void client_add_on_ok(struct client *cl)
{
	struct client_room *r = client_room_find(cl, cl->op_room);
	const char *why;
	if (!r || e2e_chain_apply(&r->chain, cl->op_record.data, cl->op_record.len,
				  client_room_key_lookup, r, &why) != CC_OK)
		return;
	client_emit(cl, json_pack("{s:s, s:s, s:s, s:s}", "event", "member_added", "room",
				  r->id_hex, "nick", cl->op_nick, "by", cl->nick));
}

/* ---- changes others made ------------------------------------------------- */

/* Our key of the room's (new) current epoch, from a relayed record: kept only
 * if it matches the chain's commitment. */
static void room_take_key(struct client *cl, struct client_room *r, const struct proto_list *keys)
{
	struct proto_list_iter it;
	struct proto_wrapped_item w;
	uint8_t key[E2E_KEY_LEN], commit[PROTO_HASH_LEN];

	proto_list_iter_init(&it, keys, PROTO_ITEM_WRAPPED);
	while (proto_list_next(&it, &w) == CC_OK) {
		const uint8_t *want = e2e_chain_commit(&r->chain, w.epoch);
		if (w.epoch != r->chain.epoch || !want ||
		    e2e_key_unwrap(cl->identity, r->room_id, w.epoch, w.wrapped.p, w.wrapped.len,
				   key) != CC_OK)
			continue;
		e2e_key_commit(r->room_id, w.epoch, key, commit);
		if (crypto_ct_equal(want, commit, sizeof commit))
			cstore_key_put(cl->store, r->room_id, w.epoch, key);
		else
			client_emit_room_error(cl, r->id_hex, NULL, "security",
					       "the server handed out a room key the admin did not "
					       "commit to");
		mem_wipe(key, sizeof key);
	}
}

/* A membership change someone else made, relayed by the server. */
void client_on_room_record(struct client *cl, const struct proto_room_record *rr)
{
	struct client_room *r = client_room_find(cl, rr->room_id);
	struct proto_record rec;
	const char *why = "";

	if (!r || !r->joined)
		return;
	if (client_room_add_users(cl, r, &rr->users) != CC_OK ||
	    e2e_chain_apply(&r->chain, rr->record.p, rr->record.len, client_room_key_lookup, r,
			    &why)) {
		client_emit_room_error(cl, r->id_hex, NULL, "security",
				       *why ? why : "a membership record does not verify");
		return;
	}
	proto_record_decode(rr->record.p, rr->record.len, &rec);
	char actor[PROTO_NICK_MAX + 1], subject[PROTO_NICK_MAX + 1];
	memcpy(actor, rec.actor.p, rec.actor.len);
	actor[rec.actor.len] = '\0';
	memcpy(subject, rec.subject.p, rec.subject.len);
	subject[rec.subject.len] = '\0';
	if (rec.action == PROTO_REC_KICK && memcmp(rec.subject_fp, cl->fp, PROTO_FINGERPRINT_LEN) == 0) {
		/* We were expelled: the room and its keys are no longer ours. */
		char hex[2 * PROTO_ROOM_ID_LEN + 1];
		memcpy(hex, r->id_hex, sizeof hex);
		client_room_remove(cl, r);
		cstore_room_forget(cl->store, rr->room_id);
		client_emit(cl, json_pack("{s:s, s:s, s:s}", "event", "expelled", "room", hex, "by",
					  actor));
		return;
	}
	if (rec.action == PROTO_REC_KICK || rec.action == PROTO_REC_REKEY)
		room_take_key(cl, r, &rr->keys);
	switch (rec.action) {
	case PROTO_REC_ADD:
		client_emit(cl, json_pack("{s:s, s:s, s:s, s:s}", "event", "member_added", "room",
					  r->id_hex, "nick", subject, "by", actor));
		break;
	case PROTO_REC_LEAVE:
		client_emit(cl, json_pack("{s:s, s:s, s:s}", "event", "member_left", "room",
					  r->id_hex, "nick", subject));
		break;
	case PROTO_REC_KICK:
		client_emit(cl, json_pack("{s:s, s:s, s:s, s:s, s:i}", "event", "member_kicked", "room",
					  r->id_hex, "nick", subject, "by", actor, "epoch",
					  (int)r->chain.epoch));
		break;
	case PROTO_REC_ADMIN:
		client_emit(cl, json_pack("{s:s, s:s, s:s, s:s}", "event", "admin_changed", "room",
					  r->id_hex, "admin", subject, "by", actor));
		break;
	case PROTO_REC_REKEY:
		client_emit(cl, json_pack("{s:s, s:s, s:i, s:s}", "event", "rekeyed", "room",
					  r->id_hex, "epoch", (int)r->chain.epoch, "by", actor));
		break;
	case PROTO_REC_EXPIRE:
		client_emit(cl, json_pack("{s:s, s:s, s:s}", "event", "member_expired", "room",
					  r->id_hex, "nick", subject));
		break;
	default:
		break;
	}
}

/* ---- owed keys and periodic rekeying ------------------------------------ */

/* Remembers a room that owes a new key, once. */
void client_owed_add(struct client *cl, const uint8_t room_id[PROTO_ROOM_ID_LEN])
{
	for (size_t i = 0; i < cl->nowed; i++)
		if (memcmp(cl->owed[i], room_id, PROTO_ROOM_ID_LEN) == 0)
			return;
	void *p = realloc(cl->owed, (cl->nowed + 1) * sizeof *cl->owed);
	if (!p)
		return;
	cl->owed = p;
	memcpy(cl->owed[cl->nowed++], room_id, PROTO_ROOM_ID_LEN);
}

/* Periodic rekeying (--rekey-after): as admin, owe a new epoch once this one
 * has carried enough messages or grown old enough. */
void client_maybe_rekey(struct client *cl, struct client_room *r)
{
	if (!client_is_admin(cl, r))
		return;
	bool by_count = cl->cfg.rekey_after_msgs && r->epoch_msgs >= cl->cfg.rekey_after_msgs;
	bool by_age = cl->cfg.rekey_after_ms &&
		      clock_now_ms() - r->chain.epoch_started_ms >= cl->cfg.rekey_after_ms;
	if (by_count || by_age) {
		r->epoch_msgs = 0;
		client_owed_add(cl, r->room_id);
	}
}

/* ---- new epochs: /kick, owed rekeys; /admin ------------------------------------ */

/* Wraps key (of the chain's current epoch) to every member in keys. */
static cc_err wrap_to_members(struct client_room *r, const uint8_t key[E2E_KEY_LEN],
			      uint32_t epoch, const uint8_t *skip_fp, struct buf *keys,
			      uint16_t *count)
{
	struct buf one;
	cc_err err = CC_OK;

	buf_init(&one, PROTO_WRAPPED_MAX);
	for (size_t i = 0; i < r->chain.nmembers && !err; i++) {
		const struct e2e_member *mem = &r->chain.members[i];
		struct client_user *u = client_room_user(r, mem->fp);
		struct proto_wrapped_item w;
		if (skip_fp && memcmp(mem->fp, skip_fp, PROTO_FINGERPRINT_LEN) == 0)
			continue;
		if (!u) {
			err = CC_ERR_SECURITY;
			break;
		}
		buf_reset(&one);
		if ((err = e2e_key_wrap(u->key, r->room_id, epoch, key, &one)))
			break;
		w.nick = proto_bytes_str(mem->nick);
		w.epoch = epoch;
		w.wrapped = (struct proto_bytes){one.data, one.len};
		if (!(err = proto_item_encode(PROTO_ITEM_WRAPPED, &w, keys)))
			(*count)++;
	}
	buf_free(&one);
	return err;
}

static void send_new_epoch(struct client *cl, struct client_room *r, uint8_t type,
			   enum client_op op, const struct buf *records, uint16_t nrecords,
			   uint32_t epoch, const uint8_t *skip_fp)
{
	struct buf keys, title;
	uint16_t nkeys = 0;
	cc_err err;

	buf_init(&keys, 512 * 1024);
	buf_init(&title, PROTO_TITLE_CT_MAX);
	if ((err = wrap_to_members(r, cl->op_key, epoch, skip_fp, &keys, &nkeys)) ||
	    (err = e2e_title_seal(cl->op_key, r->room_id, epoch, r->title, &title)))
		goto out;
	struct proto_msg m = {.type = type};
	m.u.room_rekey.request_id = client_op_begin(cl, op);
	memcpy(m.u.room_rekey.room_id, r->room_id, PROTO_ROOM_ID_LEN);
	memcpy(cl->op_room, r->room_id, PROTO_ROOM_ID_LEN);
	m.u.room_rekey.records = (struct proto_list){nrecords, {records->data, records->len}};
	m.u.room_rekey.title_ct = (struct proto_bytes){title.data, title.len};
	m.u.room_rekey.keys = (struct proto_list){nkeys, {keys.data, keys.len}};
	cl->op_seq = epoch;
	err = client_send(cl, &m);
out:
	if (err) {
		client_emit_room_error(cl, r->id_hex, NULL, cc_err_code(err),
				       "cannot start a new key epoch");
		client_op_end(cl);
	}
	buf_free(&keys);
	buf_free(&title);
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
	uint8_t commit[PROTO_HASH_LEN];
	struct buf records;
	struct proto_blob_item item;

	if (!m)
		return;
	snprintf(cl->op_nick, sizeof cl->op_nick, "%s", m->nick);
	uint32_t epoch = r->chain.epoch + 1;
	buf_init(&records, PROTO_RECORD_MAX + 16);
	buf_reset(&cl->op_record);
	if (e2e_room_key_new(cl->op_key) != CC_OK)
		goto fail;
	e2e_key_commit(r->room_id, epoch, cl->op_key, commit);
	if (room_record_make(cl, r, PROTO_REC_KICK, m->nick, m->fp, epoch, commit,
			     &cl->op_record) != CC_OK)
		goto fail;
	item.data = (struct proto_bytes){cl->op_record.data, cl->op_record.len};
	if (proto_item_encode(PROTO_ITEM_BLOB, &item, &records) != CC_OK)
		goto fail;
	/* The expelled member gets no key of the new epoch. */
	send_new_epoch(cl, r, PROTO_ROOM_KICK, OP_KICK, &records, 1, epoch, m->fp);
	buf_free(&records);
	return;
fail:
	buf_free(&records);
	mem_wipe(cl->op_key, sizeof cl->op_key);
	client_emit_room_error(cl, r->id_hex, NULL, "internal", "cannot expel the member");
}

void client_kick_on_ok(struct client *cl)
{
	struct client_room *r = client_room_find(cl, cl->op_room);
	const char *why;
	if (!r || e2e_chain_apply(&r->chain, cl->op_record.data, cl->op_record.len,
				  client_room_key_lookup, r, &why) != CC_OK ||
	    cstore_key_put(cl->store, r->room_id, r->chain.epoch, cl->op_key) != CC_OK)
		return;
	client_emit(cl, json_pack("{s:s, s:s, s:s, s:s, s:i}", "event", "member_kicked", "room",
				  r->id_hex, "nick", cl->op_nick, "by", cl->nick, "epoch",
				  (int)r->chain.epoch));
}

void client_cmd_admin(struct client *cl, const char *args)
{
	struct client_room *r;
	const struct e2e_member *m = command_member(cl, args, &r, "/admin NICK");
	const uint8_t *commit;

	if (!m)
		return;
	commit = e2e_chain_commit(&r->chain, r->chain.epoch);
	snprintf(cl->op_nick, sizeof cl->op_nick, "%s", m->nick);
	buf_reset(&cl->op_record);
	if (!commit || room_record_make(cl, r, PROTO_REC_ADMIN, m->nick, m->fp, r->chain.epoch,
					commit, &cl->op_record) != CC_OK) {
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
	const char *why;
	if (!r || e2e_chain_apply(&r->chain, cl->op_record.data, cl->op_record.len,
				  client_room_key_lookup, r, &why) != CC_OK)
		return;
	client_emit(cl, json_pack("{s:s, s:s, s:s, s:s}", "event", "admin_changed", "room",
				  r->id_hex, "admin", cl->op_nick, "by", cl->nick));
}

int client_rooms_work(struct client *cl)
{
	if (cl->op != OP_NONE || cl->state != CLIENT_READY || cl->nowed == 0)
		return 0;
	uint8_t room_id[PROTO_ROOM_ID_LEN];
	memcpy(room_id, cl->owed[0], PROTO_ROOM_ID_LEN);
	memmove(cl->owed, cl->owed + 1, --cl->nowed * sizeof *cl->owed);
	struct proto_msg m = {.type = PROTO_ROOM_FETCH};
	m.u.room_ref.request_id = client_op_begin(cl, OP_REKEY_FETCH);
	memcpy(m.u.room_ref.room_id, room_id, PROTO_ROOM_ID_LEN);
	memcpy(cl->op_room, room_id, PROTO_ROOM_ID_LEN);
	if (client_send(cl, &m)) {
		cl->op = OP_NONE;
		return 0;
	}
	return 1;
}

/* The owed room's state arrived: sign out the gone members, start an epoch. */
void client_rekey_on_state(struct client *cl, const struct proto_room_state *st)
{
	const char *why = "";
	struct client_room *r = client_room_new(st->room_id);
	struct buf records;
	uint16_t nrecords = 0;
	struct proto_list_iter it;
	struct proto_blob_item gone;
	uint8_t commit[PROTO_HASH_LEN];
	cc_err err = r ? client_join_verify(cl, r, st, &why) : CC_ERR_NOMEM;

	buf_init(&records, 256 * 1024);
	if (err)
		goto fail;
	/* The gone admin first: its successor signs that, and is admin after. */
	for (int pass = 0; pass < 2; pass++) {
		proto_list_iter_init(&it, &st->gone, PROTO_ITEM_BLOB);
		while (proto_list_next(&it, &gone) == CC_OK) {
			if (gone.data.len < PROTO_FINGERPRINT_LEN)
				continue;
			const struct e2e_member *m = e2e_chain_member(&r->chain, gone.data.p);
			bool is_admin = m && memcmp(r->chain.admin.fp, m->fp, PROTO_FINGERPRINT_LEN) == 0;
			if (!m || is_admin != (pass == 0))
				continue;
			struct e2e_member who = *m;
			const uint8_t *cur = e2e_chain_commit(&r->chain, r->chain.epoch);
			if ((err = client_room_record_add(cl, r, PROTO_REC_EXPIRE, who.nick,
							  who.fp, r->chain.epoch, cur, &records,
							  &nrecords))) {
				why = "not ours to sign out";
				goto fail;
			}
			client_emit(cl, json_pack("{s:s, s:s, s:s}", "event", "member_expired", "room",
						  r->id_hex, "nick", who.nick));
		}
	}
	if (!client_is_admin(cl, r)) {
		/* Someone else owes it (the role moved): nothing for us to do. */
		client_room_free(r);
		buf_free(&records);
		client_op_end(cl);
		return;
	}
	uint32_t epoch = r->chain.epoch + 1;
	if ((err = e2e_room_key_new(cl->op_key)))
		goto fail;
	e2e_key_commit(r->room_id, epoch, cl->op_key, commit);
	if ((err = client_room_record_add(cl, r, PROTO_REC_REKEY, cl->nick, cl->fp, epoch, commit,
					  &records, &nrecords)))
		goto fail;
	struct client_room *old = client_room_find(cl, r->room_id);
	r->joined = old && old->joined;
	cl->op_new_room = r;
	send_new_epoch(cl, r, PROTO_ROOM_REKEY, OP_REKEY, &records, nrecords, epoch, NULL);
	buf_free(&records);
	return;
fail:
	client_emit_room_error(cl, r ? r->id_hex : "", NULL, err == CC_ERR_SECURITY ? "security"
									     : cc_err_code(err),
			       *why ? why : "cannot make the room's new key");
	client_room_free(r);
	buf_free(&records);
	client_op_end(cl);
}

void client_rekey_on_ok(struct client *cl)
{
	struct client_room *r = cl->op_new_room;
	cl->op_new_room = NULL;
	if (!r)
		return;
	if (cstore_key_put(cl->store, r->room_id, r->chain.epoch, cl->op_key) != CC_OK ||
	    client_room_install(cl, r) != CC_OK) {
		client_room_free(r);
		return;
	}
	client_emit(cl, json_pack("{s:s, s:s, s:i, s:s}", "event", "rekeyed", "room", r->id_hex,
				  "epoch", (int)r->chain.epoch, "by", cl->nick));
}

/* ---- /disconnect and /leave ---------------------------------------------- */

/* "[ROOM]": the given room, else the current one. */
static struct client_room *room_arg_or_current(struct client *cl, const char *args,
					       uint8_t room_id[PROTO_ROOM_ID_LEN])
{
	if (*args) {
		if (client_take_room_arg(cl, args, room_id, NULL))
			return NULL;
		return client_room_find(cl, room_id);
	}
	if (!cl->current) {
		client_emit_error(cl, "no_room", "name a room, or join one first");
		return NULL;
	}
	memcpy(room_id, cl->current->room_id, PROTO_ROOM_ID_LEN);
	return cl->current;
}

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
	const uint8_t *commit = e2e_chain_commit(&r->chain, r->chain.epoch);
	cc_err err = CC_ERR_INTERNAL;

	if (client_is_admin(cl, r) && r->chain.nmembers > 1) {
		client_emit_room_error(cl, r->id_hex, NULL, "must_transfer_admin",
				       "hand the admin role to another member first (/admin NICK)");
		client_op_end(cl);
		return;
	}
	buf_reset(&cl->op_record);
	if (commit && !(err = room_record_make(cl, r, PROTO_REC_LEAVE, cl->nick, cl->fp,
					       r->chain.epoch, commit, &cl->op_record))) {
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

void client_cmd_leave(struct client *cl, const char *args)
{
	uint8_t room_id[PROTO_ROOM_ID_LEN];
	if (!*args) {
		client_emit_error(cl, "usage", "/leave ROOM");
		return;
	}
	struct client_room *r = room_arg_or_current(cl, args, room_id);
	if (r && r->chain.count) {
		cl->op = OP_LEAVE_LOAD;  /* client_leave_send starts the real op */
		client_leave_send(cl, r);
		return;
	}
	if (*args && client_take_room_arg(cl, args, room_id, NULL) == 0)
		client_join_send(cl, room_id, OP_LEAVE_LOAD);  /* the chain is needed to sign */
}

