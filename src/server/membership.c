/* Changes to a room's membership: the new epochs that add, kick, rekey or
 * move a member to its new identity key (one path, handle_new_epoch), the signed records that hand the room to a
 * new admin or leave it (one shared path, record_change), the notices of a
 * new key owed, and the expiry of nicknames away too long.
 *
 * Every change is a record of the room's chain, signed by the session's own
 * key (a MOVE, by the key the session's user moved away from): the server verifies it against the stored chain and stores it in the
 * same transaction as what it means, then tells the live members (live.c).
 * The members' clients verify the chain again (src/e2e/). */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "e2e/e2e.h"
#include "proto/room.h"
#include "server/rooms_internal.h"
#include "store/store.h"
#include "transport/chan.h"
#include "util/ascii.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/testpoint.h"

/* ---- the room's chain of signed records ---------------------------------- */

const struct crypto_rsa_key *key_cache_lookup(void *ctx, const uint8_t fp[PROTO_FINGERPRINT_LEN])
{
	struct key_cache *kc = ctx;
	struct store_public_key k;

	for (size_t i = 0; i < kc->n; i++)
		if (memcmp(kc->entries[i].fp, fp, PROTO_FINGERPRINT_LEN) == 0)
			return kc->entries[i].key;
	if (kc->n == kc->cap) {
		size_t cap = kc->cap ? kc->cap * 2 : 16;
		struct key_cache_entry *e = realloc(kc->entries, cap * sizeof *e);
		if (!e)
			return NULL;
		kc->entries = e;
		kc->cap = cap;
	}
	if (store_public_key_get(kc->srv->store, fp, &k) != CC_OK)
		return NULL;
	struct crypto_rsa_key *key = NULL;
	cc_err err = crypto_rsa_public_from_der(k.pubkey, k.pubkey_len, &key);
	store_public_key_clear(&k);
	if (err)
		return NULL;
	memcpy(kc->entries[kc->n].fp, fp, PROTO_FINGERPRINT_LEN);
	kc->entries[kc->n].key = key;
	return kc->entries[kc->n++].key;
}

void key_cache_free(struct key_cache *kc)
{
	for (size_t i = 0; i < kc->n; i++)
		crypto_rsa_free(kc->entries[i].key);
	free(kc->entries);
	kc->entries = NULL;
	kc->n = kc->cap = 0;
}

/* Checks and appends one new record to a room's chain (in a transaction). A
 * record made on another head is stale_epoch (the client reloads and tries
 * again); one that breaks a rule is security. */
cc_err chain_append(struct conn *c, const struct store_room *room, struct e2e_chain *chain,
		    struct key_cache *keys, const uint8_t *rec, size_t len,
		    const struct e2e_checked_record *checked, const char **why)
{
	cc_err err = e2e_chain_apply_checked(chain, rec, len, checked, key_cache_lookup, keys, why);
	if (err == CC_ERR_STALE_EPOCH || err == CC_ERR_NOMEM)
		return err;
	if (err)
		return CC_ERR_SECURITY;
	return store_record_append(c->srv->store, room->id, chain->count - 1, rec, len,
				   chain->last_hash);
}

/* The record's signature, under its actor's key, before anything costs
 * more: a forged record is refused for one verification. */
static cc_err record_sig_check(const uint8_t *rec, size_t len, struct key_cache *keys,
			       struct e2e_checked_record *checked, const char **why)
{
	cc_err err = e2e_record_check_sig(rec, len, key_cache_lookup, keys, checked);
	if (err == CC_ERR_AUTH) {
		*why = "the record's signature does not verify";
		return CC_ERR_SECURITY;
	}
	return err;
}

/* The record cap (docs/PROTOCOL.md 11): a room's records plus its members
 * never pass ROOM_RECORDS_MAX, so that each member always has room for its
 * LEAVE, which the cap never refuses. new_records records are about to be
 * stored and change the members by members_delta. */
static bool room_over_cap(const struct e2e_chain *chain, uint32_t new_records, int members_delta)
{
	int64_t after = (int64_t)chain->count + new_records + (int64_t)chain->nmembers +
			members_delta;
	return after > ROOM_RECORDS_MAX;
}


/* The record a request carries must be made by the session's own key. */
cc_err record_actor_is_session(struct conn *c, const uint8_t *rec, size_t len,
			       struct proto_record *out)
{
	cc_err err = proto_record_decode(rec, len, out);
	if (err)
		return err;
	if (memcmp(out->actor_fp, chan_peer_fingerprint(c->chan), PROTO_FINGERPRINT_LEN) != 0)
		return CC_ERR_FORBIDDEN;
	return CC_OK;
}

/* A MOVE the session may bring: its actor is a key the session's user moved
 * away from (the old key signs it), its subject the session's key. */
static cc_err record_moves_session(struct conn *c, const uint8_t *rec, size_t len,
				   struct proto_record *out)
{
	struct store_user u;
	cc_err err = proto_record_decode(rec, len, out);
	if (err)
		return err;
	if (memcmp(out->subject_fp, chan_peer_fingerprint(c->chan), PROTO_FINGERPRINT_LEN) != 0)
		return CC_ERR_FORBIDDEN;
	err = store_user_get_by_key(c->srv->store, out->actor_fp, &u);
	bool ours = err == CC_OK && u.id == c->user_id;
	store_user_clear(&u);
	if (err && err != CC_ERR_NOT_FOUND)
		return err;
	return ours ? CC_OK : CC_ERR_FORBIDDEN;
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(a, b);
}

static int cmp_fp(const void *a, const void *b)
{
	return memcmp(a, b, PROTO_FINGERPRINT_LEN);
}

/* 1 if keys holds exactly one key for each member of the chain, by nickname:
 * both sides' names sorted and compared, as a big room has thousands. */
static int keys_cover_members(const struct e2e_chain *chain, const struct proto_list *keys)
{
	size_t n = chain->nmembers;
	struct proto_list_iter it;
	struct proto_wrapped_item w;
	int covered = 0;

	if (keys->count != n)
		return 0;
	char(*members)[PROTO_NICK_MAX + 1] = malloc((n ? n : 1) * sizeof *members);
	char(*named)[PROTO_NICK_MAX + 1] = malloc((n ? n : 1) * sizeof *named);
	if (!members || !named)
		goto out;
	for (size_t i = 0; i < n; i++)
		ascii_lower(chain->members[i].nick, strlen(chain->members[i].nick), members[i]);
	size_t k = 0;
	proto_list_iter_init(&it, keys, PROTO_ITEM_WRAPPED);
	while (k < n && proto_list_next(&it, &w) == CC_OK)
		ascii_lower((const char *)w.nick.p, w.nick.len, named[k++]);
	if (k != n)
		goto out;
	qsort(members, n, sizeof *members, cmp_name);
	qsort(named, n, sizeof *named, cmp_name);
	covered = 1;
	for (size_t i = 0; i < n && covered; i++)
		covered = strcmp(members[i], named[i]) == 0 &&
			  (i == 0 || strcmp(named[i - 1], named[i]) != 0);
out:
	free(members);
	free(named);
	return covered;
}

cc_err store_epoch_keys(struct server *srv, int64_t room, const struct e2e_chain *chain,
			const struct proto_list *keys, const char **why)
{
	struct proto_list_iter it;
	struct proto_wrapped_item w;
	cc_err err = CC_OK;

	if (!keys_cover_members(chain, keys)) {
		*why = "the key must go to every member once, and only to members";
		return CC_ERR_MALFORMED;
	}
	/* The members' keys, sorted: each nickname's owner is looked up there. */
	uint8_t(*fps)[PROTO_FINGERPRINT_LEN] = malloc((chain->nmembers + 1) * sizeof *fps);
	if (!fps)
		return CC_ERR_NOMEM;
	for (size_t i = 0; i < chain->nmembers; i++)
		memcpy(fps[i], chain->members[i].fp, PROTO_FINGERPRINT_LEN);
	qsort(fps, chain->nmembers, sizeof *fps, cmp_fp);
	proto_list_iter_init(&it, keys, PROTO_ITEM_WRAPPED);
	while (!err && proto_list_next(&it, &w) == CC_OK) {
		struct store_user u;
		char nick[PROTO_NICK_MAX + 1];
		memcpy(nick, w.nick.p, w.nick.len);
		nick[w.nick.len] = '\0';
		if (w.epoch != chain->epoch || store_user_get_by_nick(srv->store, nick, &u) != CC_OK) {
			*why = "a key for an unknown user or epoch";
			err = CC_ERR_MALFORMED;
			break;
		}
		/* The nickname's current owner must be the member the chain names. */
		err = bsearch(u.fingerprint, fps, chain->nmembers, sizeof *fps, cmp_fp)
			      ? store_key_put(srv->store, room, chain->epoch, u.id, w.wrapped.p,
					      w.wrapped.len)
			      : CC_ERR_MALFORMED;
		store_user_clear(&u);
		if (err)
			*why = "a key for someone who is not a member";
	}
	free(fps);
	return err;
}

/* ---- new epochs: kick, rekey (after leaves and expiries), admin handover ---- */

/* Tells a connection that a room owes a new epoch (any member may make it). */
static void owed_notify_conn(struct conn *c, const uint8_t room_id[PROTO_ROOM_ID_LEN])
{
	struct proto_msg msg = {.type = PROTO_REKEY_OWED};
	memcpy(msg.u.room_ref.room_id, room_id, PROTO_ROOM_ID_LEN);
	conn_queue_msg(c, &msg);
}

static int owed_notify_one(void *ctx, const struct store_member *m)
{
	struct conn *c = ctx;
	struct store_room room;
	if (store_room_get_by_id(c->srv->store, m->room, &room) == CC_OK)
		owed_notify_conn(c, room.room_id);
	return 0;
}

struct owed_room {
	struct server *srv;
	const uint8_t *room_id;
};

static int owed_notify_member(void *ctx, const struct store_member *m)
{
	struct owed_room *o = ctx;
	for (struct conn *c = o->srv->conns; c; c = c->next)
		if (c->user_id == m->user && !c->dead && !c->closing)
			owed_notify_conn(c, o->room_id);
	return 0;
}

/* Tells every connected member of the room that it owes a new epoch. */
static void notify_owed(struct server *srv, int64_t room, const uint8_t room_id[PROTO_ROOM_ID_LEN])
{
	struct owed_room o = {srv, room_id};
	store_member_each(srv->store, room, owed_notify_member, &o);
}

void server_on_registered(struct conn *c)
{
	store_room_each_owed(c->srv->store, c->user_id, owed_notify_one, c);
}

static int count_blob_cb(void *ctx, uint32_t n, const uint8_t *blob, size_t len)
{
	(void)n;
	(void)blob;
	(void)len;
	(*(uint32_t *)ctx)++;
	return 0;
}

struct gone_find {
	const uint8_t *fp;
	bool found;
};

static int gone_find_cb(void *ctx, uint32_t n, const uint8_t *blob, size_t len)
{
	struct gone_find *gf = ctx;
	(void)n;
	if (len >= PROTO_FINGERPRINT_LEN && memcmp(blob, gf->fp, PROTO_FINGERPRINT_LEN) == 0)
		gf->found = true;
	return 0;
}

/* New members join a room (an ADD's subjects): each may read from the
 * epoch the ADD opened. */
static cc_err add_members(struct server *srv, const struct store_room *room,
			  const struct proto_record *rec, const struct e2e_chain *chain)
{
	struct proto_subject_iter it;
	struct proto_bytes nick;
	const uint8_t *fp;
	cc_err err = CC_OK;

	proto_subject_iter_init(&it, rec);
	while (!err && proto_subject_next(&it, &nick, &fp) == CC_OK) {
		struct store_user u;
		if ((err = store_user_get_by_fingerprint(srv->store, fp, &u)))
			return err == CC_ERR_NOT_FOUND ? CC_ERR_UNKNOWN_USER : err;
		/* The chain must call the user what the directory does. */
		if (nick.len != strlen(u.nick) ||
		    strncasecmp((const char *)nick.p, u.nick, nick.len) != 0)
			err = CC_ERR_MALFORMED;
		else
			err = store_member_add(srv->store, room->id, u.id, room->last_msg_id + 1,
					       chain->epoch);
		store_user_clear(&u);
	}
	return err;
}

/* The records of a new epoch, before the room's chain is touched: each one
 * the session may bring, of the kind its place takes, its signature
 * verified (checked[i]). A request costs one verification per record, and
 * a REKEY carries no more EXPIREs than the room has members gone. *subjects:
 * the subjects the records name (an ADD's: the members it brings). */
static cc_err new_epoch_records_check(struct conn *c, const struct proto_room_rekey *req,
				      uint8_t action, const struct store_room *room,
				      struct key_cache *keys, struct e2e_checked_record *checked,
				      size_t *subjects, const char **why)
{
	struct proto_list_iter it;
	struct proto_blob_item item;
	struct proto_record rec;
	uint16_t left = req->records.count;
	bool one_record = action != PROTO_REC_REKEY;
	uint32_t gone_count = 0;
	cc_err err;

	if (left == 0 || (one_record && left != 1)) {
		*why = "a new epoch takes its records";
		return CC_ERR_MALFORMED;
	}
	if (!one_record) {
		if ((err = store_room_gone_each(c->srv->store, room->id, count_blob_cb, &gone_count)))
			return err;
		if (left - 1u > gone_count) {
			*why = "more expire records than members gone";
			return CC_ERR_FORBIDDEN;
		}
	}
	proto_list_iter_init(&it, &req->records, PROTO_ITEM_BLOB);
	for (size_t i = 0; proto_list_next(&it, &item) == CC_OK; i++) {
		left--;
		err = action == PROTO_REC_MOVE
			      ? record_moves_session(c, item.data.p, item.data.len, &rec)
			      : record_actor_is_session(c, item.data.p, item.data.len, &rec);
		if (err)
			return err;
		if (rec.action != (left ? PROTO_REC_EXPIRE : action)) {
			*why = one_record ? "not the record this request takes"
					  : "expire records, then one rekey record";
			return CC_ERR_MALFORMED;
		}
		if ((err = record_sig_check(item.data.p, item.data.len, keys, &checked[i], why)))
			return err;
		*subjects += rec.nsubjects;
	}
	return CC_OK;
}

/* ADD, KICK or MOVE (one record), or REKEY (EXPIREs, then one REKEY): a new
 * epoch, its title and one key per member, checked and stored at once. The
 * chain's rules say who may sign each (the admin adds and kicks, any member
 * rekeys, a member moves itself); the server also refuses an EXPIRE for
 * anyone whose nickname did not expire, and a MOVE but from a key the
 * session's user moved away from to the session's key. The records'
 * signatures are verified first; the room's chain comes verified from the
 * cache (chain_cache.c), and the new one replaces it once committed. */
cc_err handle_new_epoch(struct conn *c, const struct proto_room_rekey *req, uint8_t action)
{
	struct server *srv = c->srv;
	struct store_room room;
	struct e2e_chain chain;
	struct key_cache keys = {.srv = srv};
	struct e2e_checked_record *checked = NULL;
	struct proto_list_iter it;
	struct proto_blob_item item;
	struct proto_record rec;
	struct store_user kicked = {0};
	const char *why = "";
	uint16_t nrecords = req->records.count;
	bool admin_only = action == PROTO_REC_ADD || action == PROTO_REC_KICK;
	uint32_t epoch = 0;
	cc_err err;

	server_rooms_commit(srv);
	e2e_chain_init(&chain, req->room_id);
	if ((err = room_of_member(c, req->room_id, &room, NULL)))
		goto reply;
	if (admin_only && room.admin_user != c->user_id) {
		err = CC_ERR_NOT_ADMIN;
		goto reply;
	}
	if (nrecords > ROOM_MEMBERS_MAX) {
		err = CC_ERR_LIMIT;
		why = "more records than a room has members";
		goto reply;
	}
	if (!(checked = calloc(nrecords ? nrecords : 1, sizeof *checked))) {
		err = CC_ERR_NOMEM;
		goto reply;
	}
	size_t subjects = 0;
	if ((err = new_epoch_records_check(c, req, action, &room, &keys, checked, &subjects,
					   &why)) ||
	    (err = chain_cache_get(srv, &room, &chain, &keys)))
		goto reply;
	/* An ADD brings its subjects, a KICK or an EXPIRE takes one. */
	int members_delta = action == PROTO_REC_ADD	 ? (int)subjects
			    : action == PROTO_REC_KICK ? -1
						       : -(int)(nrecords - 1);
	bool full = action == PROTO_REC_ADD &&
		    chain.nmembers + (size_t)members_delta > ROOM_MEMBERS_MAX;
	if (full || room_over_cap(&chain, nrecords, members_delta)) {
		err = CC_ERR_LIMIT;
		why = full ? ROOM_FULL_WHY : ROOM_CAP_WHY;
		goto reply;
	}
	if ((err = store_begin(srv->store)))
		goto reply;
	proto_list_iter_init(&it, &req->records, PROTO_ITEM_BLOB);
	for (size_t i = 0; proto_list_next(&it, &item) == CC_OK; i++) {
		proto_record_decode(item.data.p, item.data.len, &rec);  /* checked above */
		if (rec.action == PROTO_REC_EXPIRE) {
			/* Only the server knows who is gone: no expiring anyone else. */
			struct gone_find gf = {rec.subject_fp, false};
			store_room_gone_each(srv->store, room.id, gone_find_cb, &gf);
			if (!gf.found) {
				err = CC_ERR_FORBIDDEN;
				why = "that member's nickname has not expired";
				goto rollback;
			}
			if ((err = store_room_gone_remove(srv->store, room.id, rec.subject_fp)))
				goto rollback;
		}
		if ((err = chain_append(c, &room, &chain, &keys, item.data.p, item.data.len,
					&checked[i], &why)))
			goto rollback;
		if (rec.action == PROTO_REC_KICK) {
			if ((err = store_user_get_by_key(srv->store, rec.subject_fp, &kicked)) ||
			    (err = store_member_remove(srv->store, room.id, kicked.id)))
				goto rollback;
		} else if (rec.action == PROTO_REC_ADD &&
			   (err = add_members(srv, &room, &rec, &chain))) {
			why = err == CC_ERR_MALFORMED ? "the record names the user by another nickname"
						      : "";
			goto rollback;
		}
	}
	/* Exactly one key of the new epoch for every member the chain now has. */
	if ((err = store_epoch_keys(srv, room.id, &chain, &req->keys, &why)))
		goto rollback;
	uint32_t gone_count = 0;
	if ((err = store_epoch_put(srv->store, room.id, chain.epoch, req->title_ct.p,
				   req->title_ct.len, clock_now_ms())) ||
	    (err = store_room_set_epoch(srv->store, room.id, chain.epoch)) ||
	    (err = store_room_set_closed(srv->store, room.id, false)))
		goto rollback;
	struct store_user admin;
	if ((err = store_user_get_by_key(srv->store, chain.admin.fp, &admin)))
		goto rollback;
	err = store_room_set_admin(srv->store, room.id, admin.id);
	store_user_clear(&admin);
	if (err)
		goto rollback;
	/* Still owed while someone gone is not yet signed out of the chain. */
	err = store_room_gone_each(srv->store, room.id, count_blob_cb, &gone_count);
	if (err || (err = store_room_set_rekey_owed(srv->store, room.id, gone_count > 0)))
		goto rollback;
	testpoint("epoch:stored");  /* written, not committed */
	if ((err = store_commit(srv->store)))
		goto rollback;
	/* Only what is committed is kept. */
	epoch = chain.epoch;
	chain_cache_keep(srv, room.id, &chain);
	testpoint("epoch:committed");  /* stored, nobody told yet */
	log_info("conn %s: %s started epoch %u of a room", c->peer, c->nick, epoch);

	/* Tell the members: every record, the last with each one's new key. */
	proto_list_iter_init(&it, &req->records, PROTO_ITEM_BLOB);
	for (uint16_t i = 0; proto_list_next(&it, &item) == CC_OK; i++) {
		bool last = i + 1 == req->records.count;
		broadcast_record(srv, room.id, room.room_id, (uint64_t)room.last_msg_id, item.data.p,
				 item.data.len, c, last ? &req->keys : NULL);
	}
	/* The expelled member heard its own kick (without a key); now cut it off. */
	if (action == PROTO_REC_KICK)
		room_drop_user(srv, room.id, kicked.id);
	goto reply;
rollback:
	store_rollback(srv->store);
reply:
	if (err)
		conn_send_error(c, req->request_id, err, *why ? why : NULL);
	else
		reply_ok(c, req->request_id);
	store_user_clear(&kicked);
	e2e_chain_free(&chain);
	key_cache_free(&keys);
	free(checked);
	return CC_OK;
}

/* One signed record that changes a room without opening an epoch (admin
 * handover, leave): the checks they share, then `apply` stores what the
 * change means in the same transaction as the record. */
struct record_change {
	struct conn *c;
	struct store_room room;
	struct proto_record rec;
	struct store_user subject;       /* the record's subject, if registered */
	struct e2e_chain chain;
	struct key_cache keys;
	const char *why;
	struct e2e_checked_record checked;  /* the record's signature, verified */
	bool committed;                  /* the record is stored: chain is the room's */
};

static cc_err change_begin(struct conn *c, const uint8_t room_id[PROTO_ROOM_ID_LEN],
			   const struct proto_bytes *record, uint8_t action, bool admin_only,
			   struct record_change *ch)
{
	struct server *srv = c->srv;
	cc_err err;

	memset(ch, 0, sizeof *ch);
	ch->c = c;
	ch->keys.srv = srv;
	ch->why = "";
	server_rooms_commit(srv);
	e2e_chain_init(&ch->chain, room_id);
	if ((err = room_of_member(c, room_id, &ch->room, NULL)))
		return err;
	if (admin_only && ch->room.admin_user != c->user_id)
		return CC_ERR_NOT_ADMIN;
	if ((err = record_actor_is_session(c, record->p, record->len, &ch->rec)))
		return err;
	if (ch->rec.action != action) {
		ch->why = "a record of another kind";
		return CC_ERR_MALFORMED;
	}
	/* A member the chain still names by a key it moved away from is that
	 * user all the same. */
	err = store_user_get_by_key(srv->store, ch->rec.subject_fp, &ch->subject);
	if (err)
		return err == CC_ERR_NOT_FOUND ? CC_ERR_UNKNOWN_USER : err;
	struct e2e_checked_record checked;
	if ((err = record_sig_check(record->p, record->len, &ch->keys, &checked, &ch->why)) ||
	    (err = chain_cache_get(srv, &ch->room, &ch->chain, &ch->keys)))
		return err;
	/* The cap refuses no LEAVE (room_over_cap). */
	if (action != PROTO_REC_LEAVE && room_over_cap(&ch->chain, 1, 0)) {
		ch->why = ROOM_CAP_WHY;
		return CC_ERR_LIMIT;
	}
	ch->checked = checked;
	return CC_OK;
}

static cc_err change_commit(struct record_change *ch, const struct proto_bytes *record,
			    cc_err (*apply)(struct record_change *ch, const void *arg),
			    const void *arg)
{
	struct store *st = ch->c->srv->store;
	cc_err err = store_begin(st);
	if (err)
		return err;
	err = chain_append(ch->c, &ch->room, &ch->chain, &ch->keys, record->p, record->len,
			   &ch->checked, &ch->why);
	if (!err)
		err = apply(ch, arg);
	if (!err) {
		testpoint("change:stored");  /* written, not committed */
		err = store_commit(st);
	}
	if (err)
		store_rollback(st);
	ch->committed = err == CC_OK;
	if (ch->committed)
		testpoint("change:committed");  /* stored, nobody told yet */
	return err;
}

static void change_end(struct record_change *ch, uint32_t request_id, cc_err err)
{
	if (err)
		conn_send_error(ch->c, request_id, err, *ch->why ? ch->why : NULL);
	else
		reply_ok(ch->c, request_id);
	/* Only what is committed is kept; a room that ended is forgotten. */
	if (ch->committed && ch->chain.ended)
		chain_cache_forget(ch->c->srv, ch->room.id);
	else if (ch->committed)
		chain_cache_keep(ch->c->srv, ch->room.id, &ch->chain);
	store_user_clear(&ch->subject);
	e2e_chain_free(&ch->chain);
	key_cache_free(&ch->keys);
}

static cc_err apply_admin(struct record_change *ch, const void *arg)
{
	(void)arg;
	return store_room_set_admin(ch->c->srv->store, ch->room.id, ch->subject.id);
}

cc_err handle_room_admin(struct conn *c, const struct proto_room_leave *req)
{
	struct record_change ch;
	cc_err err = change_begin(c, req->room_id, &req->record, PROTO_REC_ADMIN, true, &ch);
	if (!err && !(err = change_commit(&ch, &req->record, apply_admin, NULL))) {
		log_info("conn %s: %s handed a room to %s", c->peer, c->nick, ch.subject.nick);
		broadcast_record(c->srv, ch.room.id, ch.room.room_id, (uint64_t)ch.room.last_msg_id,
				 req->record.p, req->record.len, c, NULL);
	}
	change_end(&ch, req->request_id, err);
	return CC_OK;
}

static cc_err apply_leave(struct record_change *ch, const void *arg)
{
	struct store *st = ch->c->srv->store;
	(void)arg;
	cc_err err = store_member_remove(st, ch->room.id, ch->c->user_id);
	if (err)
		return err;
	/* The leaver still holds the current key: nobody may send under it,
	 * and any member may make the next. */
	if (ch->chain.nmembers == 0)
		return store_room_delete(st, ch->room.id);
	err = store_room_set_rekey_owed(st, ch->room.id, true);
	return err ? err : store_room_set_closed(st, ch->room.id, true);
}

cc_err handle_room_leave(struct conn *c, const struct proto_room_leave *req)
{
	struct record_change ch;
	cc_err err = change_begin(c, req->room_id, &req->record, PROTO_REC_LEAVE, false, &ch);
	if (!err && ch.room.admin_user == c->user_id && ch.chain.nmembers > 1)
		err = CC_ERR_MUST_TRANSFER_ADMIN;
	if (!err && !(err = change_commit(&ch, &req->record, apply_leave, NULL))) {
		/* Only now that the leave holds does the user stop hearing the room. */
		room_drop_user(c->srv, ch.room.id, c->user_id);
		log_info("conn %s: %s left a room%s", c->peer, c->nick,
			 ch.chain.nmembers ? "" : ", which ended with it");
		if (ch.chain.nmembers) {
			broadcast_record(c->srv, ch.room.id, ch.room.room_id,
					 (uint64_t)ch.room.last_msg_id, req->record.p,
					 req->record.len, c, NULL);
			notify_owed(c->srv, ch.room.id, ch.room.room_id);
		}
	}
	change_end(&ch, req->request_id, err);
	return CC_OK;
}

/* ---- nickname expiry ----------------------------------------------------- */

struct idle_ctx {
	struct server *srv;
	int64_t *ids;
	size_t n, cap;
};

static int idle_collect(void *ctx, const struct store_user *u)
{
	struct idle_ctx *ic = ctx;
	for (struct conn *c = ic->srv->conns; c; c = c->next)
		if (c->user_id == u->id)
			return 0;  /* here now: not away */
	if (ic->n == ic->cap) {
		size_t cap = ic->cap ? ic->cap * 2 : 16;
		int64_t *ids = realloc(ic->ids, cap * sizeof *ids);
		if (!ids)
			return 1;
		ic->ids = ids;
		ic->cap = cap;
	}
	ic->ids[ic->n++] = u->id;
	return 0;
}

void server_expire_idle(struct server *srv)
{
	struct idle_ctx ic = {srv, NULL, 0, 0};
	uint64_t now = clock_now_s();
	uint64_t ttl = srv->cfg->nick_ttl_s;

	if (ttl == 0 || now < ttl)
		return;
	server_rooms_commit(srv);
	if (store_user_each_idle(srv->store, now - ttl, idle_collect, &ic) == CC_OK) {
		for (size_t i = 0; i < ic.n; i++) {
			if (store_user_expire(srv->store, ic.ids[i]) == CC_OK)
				log_info("a nickname expired after %llu s away (user %lld)",
					 (unsigned long long)ttl, (long long)ic.ids[i]);
		}
	}
	if (ic.n)
		for (struct conn *c = srv->conns; c; c = c->next)
			if (c->user_id && !c->dead)
				store_room_each_owed(srv->store, c->user_id, owed_notify_one, c);
	free(ic.ids);
}
