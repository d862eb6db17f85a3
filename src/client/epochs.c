/* New epochs: how this client makes one (a room's creation, /add, /kick, and
 * the rekeys a departure, an expiry or --rekey-after owe), and when it does
 * so by itself. Every epoch gets a fresh secret wrapped to exactly its
 * members, so nobody who left holds the key of what is said after, and no
 * newcomer holds the key of what was said before.
 *
 * Who makes an owed epoch: any member may. Without a line waiting to be
 * said, only the first of the remaining members (the admin, else the
 * earliest-joined) does at once, so that several clients do not race; a
 * member with a line waiting makes it itself, whoever is first. When two
 * commits race all the same, the server keeps the first that extends the
 * chain and refuses the other as stale; its maker takes the winner's. */
#include <stdlib.h>
#include <string.h>

#include "client/client_internal.h"
#include "client/rooms_internal.h"
#include "store/client_store.h"
#include "util/clock.h"
#include "util/log.h"

static bool opens_epoch(uint8_t action)
{
	return action == PROTO_REC_CREATE || action == PROTO_REC_ADD ||
	       action == PROTO_REC_KICK || action == PROTO_REC_REKEY;
}

cc_err client_record_make(struct client *cl, const struct e2e_chain *chain, uint8_t action,
			  const char *subject, const uint8_t subject_fp[CRYPTO_FINGERPRINT_LEN],
			  uint32_t epoch, const uint8_t commit[PROTO_HASH_LEN], struct buf *out)
{
	struct proto_record rec = {0};
	rec.version = PROTO_RECORD_VERSION;
	memcpy(rec.room_id, chain->room_id, PROTO_ROOM_ID_LEN);
	rec.seq = chain->count;
	if (chain->count)
		memcpy(rec.prev_hash, chain->last_hash, PROTO_HASH_LEN);
	rec.action = action;
	/* The chain's name for us when it has one (it is what the rules check). */
	const struct e2e_member *self = e2e_chain_member(chain, cl->fp);
	rec.actor = proto_bytes_str(self ? self->nick : cl->nick);
	memcpy(rec.actor_fp, cl->fp, CRYPTO_FINGERPRINT_LEN);
	rec.subject = proto_bytes_str(subject);
	memcpy(rec.subject_fp, subject_fp, CRYPTO_FINGERPRINT_LEN);
	rec.epoch = epoch;
	memcpy(rec.key_commit, commit, PROTO_HASH_LEN);
	rec.time_ms = clock_now_ms();
	return e2e_record_sign(cl->identity, &rec, out);
}

/* Signs the changes on cl->op_chain (a copy of r's chain). Every record that
 * opens an epoch commits to a secret; only the last one's is kept (in
 * cl->op_key): the epochs before it carry no message. */
static cc_err epoch_sign(struct client *cl, struct client_room *r,
			 const struct client_change *changes, size_t n, struct buf *records,
			 uint16_t *nrecords)
{
	struct buf one;
	size_t last_open = n;
	cc_err err = CC_OK;

	for (size_t i = 0; i < n; i++)
		if (opens_epoch(changes[i].action))
			last_open = i;
	if (last_open == n)
		return CC_ERR_INTERNAL;
	buf_init(&one, PROTO_RECORD_MAX);
	for (size_t i = 0; i < n && !err; i++) {
		struct e2e_chain *chain = &cl->op_chain;
		uint8_t commit[PROTO_HASH_LEN], spare[E2E_KEY_LEN];
		uint32_t epoch = chain->epoch;
		const char *why;
		if (opens_epoch(changes[i].action)) {
			epoch = chain->count ? chain->epoch + 1 : 0;
			uint8_t *secret = i == last_open ? cl->op_key : spare;
			if ((err = e2e_epoch_secret_new(secret)))
				break;
			e2e_key_commit(chain->room_id, epoch, secret, commit);
			mem_wipe(spare, sizeof spare);
		} else {
			memcpy(commit, e2e_chain_commit(chain, epoch), PROTO_HASH_LEN);
		}
		buf_reset(&one);
		struct proto_blob_item item = {{NULL, 0}};
		if ((err = client_record_make(cl, chain, changes[i].action, changes[i].nick,
					      changes[i].fp, epoch, commit, &one)) ||
		    (err = e2e_chain_apply(chain, one.data, one.len, client_room_key_lookup, r,
					   &why)))
			break;
		item.data = (struct proto_bytes){one.data, one.len};
		if (!(err = proto_item_encode(PROTO_ITEM_BLOB, &item, records)))
			(*nrecords)++;
	}
	buf_free(&one);
	return err;
}

/* Wraps the new secret to every member of the new epoch. */
static cc_err epoch_wrap(struct client *cl, const struct client_room *r, struct buf *keys,
			 uint16_t *nkeys)
{
	const struct e2e_chain *chain = &cl->op_chain;
	struct buf one;
	cc_err err = CC_OK;

	buf_init(&one, PROTO_WRAPPED_MAX);
	for (size_t i = 0; i < chain->nmembers && !err; i++) {
		const struct e2e_member *mem = &chain->members[i];
		struct client_user *u = client_room_user(r, mem->fp);
		struct proto_wrapped_item w;
		if (!u) {
			err = CC_ERR_SECURITY;
			break;
		}
		buf_reset(&one);
		if ((err = e2e_key_wrap(u->key, chain->room_id, chain->epoch, cl->op_key, &one)))
			break;
		w.nick = proto_bytes_str(mem->nick);
		w.epoch = chain->epoch;
		w.wrapped = (struct proto_bytes){one.data, one.len};
		if (!(err = proto_item_encode(PROTO_ITEM_WRAPPED, &w, keys)))
			(*nkeys)++;
	}
	buf_free(&one);
	return err;
}

void client_epoch_send(struct client *cl, struct client_room *r, uint8_t type,
		       enum client_op op, const struct client_change *changes, size_t n,
		       const char *title)
{
	struct buf records, keys, title_ct;
	uint16_t nrecords = 0, nkeys = 0;
	uint8_t key[E2E_KEY_LEN];
	cc_err err;

	buf_init(&records, 256 * 1024);
	buf_init(&keys, 512 * 1024);
	buf_init(&title_ct, PROTO_TITLE_CT_MAX);
	if (cl->op_has_chain)
		e2e_chain_free(&cl->op_chain);
	cl->op_has_chain = false;
	if ((err = e2e_chain_copy(&cl->op_chain, &r->chain)))
		goto out;
	cl->op_has_chain = true;
	const struct e2e_chain *chain = &cl->op_chain;
	if ((err = epoch_sign(cl, r, changes, n, &records, &nrecords)) ||
	    (err = epoch_wrap(cl, r, &keys, &nkeys)) ||
	    (err = e2e_epoch_key(cl->op_key, r->room_id, chain->epoch,
				 chain->epochs[chain->epoch].open_hash, key)))
		goto out;
	err = e2e_title_seal(key, r->room_id, chain->epoch, title, &title_ct);
	mem_wipe(key, sizeof key);
	if (err)
		goto out;
	struct proto_msg m = {.type = type};
	uint32_t id = client_op_begin(cl, op);
	struct proto_bytes title_view = {title_ct.data, title_ct.len};
	struct proto_list rec_list = {nrecords, {records.data, records.len}};
	struct proto_list key_list = {nkeys, {keys.data, keys.len}};
	if (type == PROTO_ROOM_CREATE) {
		m.u.room_create.request_id = id;
		memcpy(m.u.room_create.room_id, r->room_id, PROTO_ROOM_ID_LEN);
		m.u.room_create.title_ct = title_view;
		m.u.room_create.records = rec_list;
		m.u.room_create.keys = key_list;
	} else {
		m.u.room_rekey.request_id = id;
		memcpy(m.u.room_rekey.room_id, r->room_id, PROTO_ROOM_ID_LEN);
		m.u.room_rekey.title_ct = title_view;
		m.u.room_rekey.records = rec_list;
		m.u.room_rekey.keys = key_list;
	}
	memcpy(cl->op_room, r->room_id, PROTO_ROOM_ID_LEN);
	cl->op_epoch = chain->epoch;
	/* Kept for the events once the server accepts. */
	buf_reset(&cl->op_record);
	cl->op_nrecords = nrecords;
	if (!(err = buf_put_bytes(&cl->op_record, records.data, records.len)))
		err = client_send(cl, &m);
out:
	if (err) {
		client_emit_room_error(cl, r->id_hex, NULL,
				       err == CC_ERR_SECURITY ? "security" : cc_err_code(err),
				       "cannot start a new key epoch");
		mem_wipe(cl->op_key, sizeof cl->op_key);
		client_room_free(cl->op_new_room);
		cl->op_new_room = NULL;
		client_op_end(cl);
	}
	buf_free(&records);
	buf_free(&keys);
	buf_free(&title_ct);
}

cc_err client_epoch_commit(struct client *cl, struct client_room *r)
{
	const char *why;
	/* The server answers in order: nothing can have extended r's chain
	 * between its copy and the OK (it would have made ours stale). */
	if (!cl->op_has_chain || !e2e_chain_extends(&cl->op_chain, r->chain.count, r->chain.last_hash))
		return CC_ERR_INTERNAL;
	cc_err err = cstore_key_put(cl->store, r->room_id, cl->op_chain.epoch, cl->op_key);
	mem_wipe(cl->op_key, sizeof cl->op_key);
	if (err)
		return err;
	/* Our records sit after every message the server stored before them:
	 * it answers only once those went out to us. */
	for (uint32_t seq = r->chain.count; seq < cl->op_chain.count; seq++)
		if ((err = client_room_set_position(r, seq, r->last_msg_id)))
			return err;
	e2e_chain_free(&r->chain);
	r->chain = cl->op_chain;
	cl->op_has_chain = false;
	r->epoch_msgs = 0;
	r->gone_pending = false;
	if (client_room_name_users(cl, r, &why))
		log_warn("room %s: %s", r->id_hex, why);
	client_room_save(cl, r);
	return CC_OK;
}

/* ---- owed epochs ----------------------------------------------------------- */

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

/* Periodic rekeying (--rekey-after): the admin owes a new epoch once this one
 * has carried enough messages or grown old enough. */
void client_maybe_rekey(struct client *cl, struct client_room *r)
{
	if (!client_is_admin(cl, r))
		return;
	const struct e2e_epoch *e = e2e_chain_epoch(&r->chain, r->chain.epoch);
	bool by_count = cl->cfg.rekey_after_msgs && r->epoch_msgs >= cl->cfg.rekey_after_msgs;
	bool by_age = cl->cfg.rekey_after_ms && e &&
		      clock_now_ms() - e->started_ms >= cl->cfg.rekey_after_ms;
	if (by_count || by_age) {
		r->epoch_msgs = 0;
		r->rekey_wanted = true;
		client_owed_add(cl, r->room_id);
	}
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

/* 1 if the server's gone list names this key. */
static int gone_has(const struct proto_list *gone, const uint8_t fp[CRYPTO_FINGERPRINT_LEN])
{
	struct proto_list_iter it;
	struct proto_gone_item g;
	proto_list_iter_init(&it, gone, PROTO_ITEM_GONE);
	while (proto_list_next(&it, &g) == CC_OK)
		if (memcmp(g.fingerprint, fp, CRYPTO_FINGERPRINT_LEN) == 0)
			return 1;
	return 0;
}

/* The members the server says expired that we may sign out, in the chain's
 * order of joining: members still, and silent here for the whole expiry time
 * (the server cannot make us sign out someone we have just heard from). */
static size_t expire_candidates(struct client *cl, struct client_room *r,
				const struct proto_list *gone, struct client_change *out)
{
	uint64_t now = clock_now_ms();
	size_t n = 0;

	for (size_t i = 0; i < r->chain.nmembers; i++) {
		const struct e2e_member *m = &r->chain.members[i];
		uint64_t last = 0;
		if (!gone_has(gone, m->fp) || memcmp(m->fp, cl->fp, CRYPTO_FINGERPRINT_LEN) == 0)
			continue;
		cstore_activity_get(cl->store, m->fp, &last);
		if (last + cl->cfg.nick_ttl_ms > now) {
			char msg[300];
			snprintf(msg, sizeof msg, "the server says the nickname of %s expired, but %s "
				 "signed something %llu s ago: not signing %s out", m->nick, m->nick,
				 (unsigned long long)((now > last ? now - last : 0) / 1000), m->nick);
			client_emit_room_error(cl, r->id_hex, NULL, "security", msg);
			continue;
		}
		out[n].action = PROTO_REC_EXPIRE;
		snprintf(out[n].nick, sizeof out[n].nick, "%s", m->nick);
		memcpy(out[n++].fp, m->fp, CRYPTO_FINGERPRINT_LEN);
	}
	return n;
}

/* 1 if we are the first of the members who stay: the admin if it stays, else
 * the earliest-joined. */
static int first_to_stay(const struct client *cl, const struct client_room *r,
			 const struct client_change *expiring, size_t n)
{
	const uint8_t *first = NULL;
	for (size_t pass = 0; pass < 2 && !first; pass++) {
		for (size_t i = 0; i < r->chain.nmembers && !first; i++) {
			const struct e2e_member *m = pass == 0 ? &r->chain.admin : &r->chain.members[i];
			bool goes = false;
			for (size_t k = 0; k < n; k++)
				goes |= memcmp(expiring[k].fp, m->fp, CRYPTO_FINGERPRINT_LEN) == 0;
			if (!goes)
				first = m->fp;
			if (pass == 0)
				break;
		}
	}
	return first && memcmp(first, cl->fp, CRYPTO_FINGERPRINT_LEN) == 0;
}

void client_rekey_on_state(struct client *cl, const struct proto_room_state *st)
{
	const char *why = "";
	struct client_room *r = client_room_new(st->room_id);
	struct client_change *changes = NULL;
	cc_err err = r ? client_join_verify(cl, r, st, &why) : CC_ERR_NOMEM;

	if (err)
		goto fail;
	changes = calloc((size_t)st->gone.count + 1, sizeof *changes);
	if (!changes) {
		err = CC_ERR_NOMEM;
		goto fail;
	}
	struct client_room *old = client_room_find(cl, r->room_id);
	size_t n = expire_candidates(cl, r, &st->gone, changes);
	bool wanted = (old && old->rekey_wanted) ||
		      (cl->text && memcmp(cl->text_room, r->room_id, PROTO_ROOM_ID_LEN) == 0);
	if ((!r->chain.closed && n == 0 && !wanted) ||
	    (!wanted && !first_to_stay(cl, r, changes, n))) {
		/* Nothing owed, or someone else's to make: a line said here first
		 * makes it (gone_pending stays while someone may be signed out). */
		if (old)
			old->gone_pending = n > 0;
		free(changes);
		client_room_free(r);
		client_op_end(cl);
		return;
	}
	changes[n].action = PROTO_REC_REKEY;
	snprintf(changes[n].nick, sizeof changes[n].nick, "%s", cl->nick);
	memcpy(changes[n++].fp, cl->fp, CRYPTO_FINGERPRINT_LEN);
	if (old) {
		r->joined = old->joined;
		r->acked_msg_id = old->acked_msg_id;
		old->rekey_wanted = false;
	}
	cl->op_new_room = r;
	client_epoch_send(cl, r, PROTO_ROOM_REKEY, OP_REKEY, changes, n, r->title);
	free(changes);
	return;
fail:
	client_emit_room_error(cl, r ? r->id_hex : "", NULL, err == CC_ERR_SECURITY ? "security"
									     : cc_err_code(err),
			       *why ? why : "cannot make the room's new key");
	free(changes);
	client_room_free(r);
	client_op_end(cl);
}
