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

#include "client/core/internal.h"
#include "proto/frame.h"
#include "store/client_store.h"
#include "util/clock.h"
#include "util/log.h"

static bool opens_epoch(uint8_t action)
{
	return action == PROTO_REC_CREATE || action == PROTO_REC_ADD ||
	       action == PROTO_REC_KICK || action == PROTO_REC_REKEY || action == PROTO_REC_MOVE;
}

cc_err client_record_make(struct client *cl, const struct e2e_chain *chain, uint8_t action,
			  const struct client_change *who, size_t n, uint32_t epoch,
			  const uint8_t commit[PROTO_HASH_LEN], struct buf *out)
{
	struct proto_record rec = {0};
	struct buf subjects;
	cc_err err = CC_OK;

	if (n == 0 || n > PROTO_RECORD_SUBJECTS_MAX || (n > 1 && action != PROTO_REC_ADD))
		return CC_ERR_INTERNAL;
	buf_init(&subjects, PROTO_RECORD_MAX);
	for (size_t i = 0; n > 1 && i < n && !err; i++) {
		struct proto_bytes nick = proto_bytes_str(who[i].nick);
		err = proto_subject_put(&subjects, &nick, who[i].fp);
	}
	memcpy(rec.room_id, chain->room_id, PROTO_ROOM_ID_LEN);
	rec.seq = chain->count;
	if (chain->count)
		memcpy(rec.prev_hash, chain->last_hash, PROTO_HASH_LEN);
	rec.action = action;
	/* We sign with the key the chain knows us by: the one we moved away
	 * from until the room's MOVE, ours after. */
	const struct crypto_rsa_key *key = cl->identity;
	const uint8_t *fp = cl->fp;
	const struct e2e_member *self = e2e_chain_member(chain, cl->fp);
	if (!self && cl->old_identity && (self = e2e_chain_member(chain, cl->old_fp))) {
		key = cl->old_identity;
		fp = cl->old_fp;
	}
	/* The chain's name for us when it has one (it is what the rules check). */
	rec.actor = proto_bytes_str(self ? self->nick : cl->nick);
	memcpy(rec.actor_fp, fp, CRYPTO_FINGERPRINT_LEN);
	rec.subject = proto_bytes_str(who[0].nick);
	memcpy(rec.subject_fp, who[0].fp, CRYPTO_FINGERPRINT_LEN);
	rec.nsubjects = (uint16_t)n;
	rec.subjects = (struct proto_bytes){subjects.data, subjects.len};
	rec.epoch = epoch;
	memcpy(rec.key_commit, commit, PROTO_HASH_LEN);
	rec.time_ms = clock_now_ms();
	if (!err)
		err = e2e_record_sign(key, &rec, out);
	buf_free(&subjects);
	return err;
}

/* The changes changes[i..) signed as one record: consecutive ADDs, up to
 * PROTO_RECORD_SUBJECTS_MAX; any other change alone. */
static size_t change_group(const struct client_change *changes, size_t n, size_t i)
{
	size_t end = i + 1;
	if (changes[i].action == PROTO_REC_ADD)
		while (end < n && changes[end].action == PROTO_REC_ADD &&
		       end - i < PROTO_RECORD_SUBJECTS_MAX)
			end++;
	return end;
}

/* Signs the changes on req->chain (a copy of r's chain) into req->records.
 * Every record that opens an epoch commits to a secret; only the last one's
 * is kept (in req->secret): the epochs before it carry no message. */
static cc_err epoch_sign(struct client *cl, struct client_req *req, struct client_room *r,
			 const struct client_change *changes, size_t n)
{
	struct buf one;
	size_t last_open = n;
	cc_err err = CC_OK;

	for (size_t i = 0; i < n; i = change_group(changes, n, i))
		if (opens_epoch(changes[i].action))
			last_open = i;
	if (last_open == n)
		return CC_ERR_INTERNAL;
	buf_init(&one, PROTO_RECORD_MAX);
	for (size_t i = 0, end; i < n && !err; i = end) {
		end = change_group(changes, n, i);
		struct e2e_chain *chain = &req->chain;
		uint8_t commit[PROTO_HASH_LEN], spare[E2E_KEY_LEN];
		uint32_t epoch = chain->epoch;
		const char *why;
		if (opens_epoch(changes[i].action)) {
			epoch = chain->count ? chain->epoch + 1 : 0;
			uint8_t *secret = i == last_open ? req->secret : spare;
			if ((err = e2e_epoch_secret_new(secret)))
				break;
			e2e_key_commit(chain->room_id, epoch, secret, commit);
			mem_wipe(spare, sizeof spare);
		} else {
			memcpy(commit, e2e_chain_commit(chain, epoch), PROTO_HASH_LEN);
		}
		buf_reset(&one);
		struct proto_blob_item item = {{NULL, 0}};
		if ((err = client_record_make(cl, chain, changes[i].action, &changes[i], end - i,
					      epoch, commit, &one)) ||
		    (err = e2e_chain_apply(chain, one.data, one.len, client_room_key_lookup, r,
					   &why)))
			break;
		item.data = (struct proto_bytes){one.data, one.len};
		if (!(err = proto_item_encode(PROTO_ITEM_BLOB, &item, &req->records)))
			req->nrecords++;
	}
	buf_free(&one);
	return err;
}

/* One member's wrap, on a worker (client_parallel). */
struct wrap_job {
	const struct client_user *u;
	const struct e2e_chain *chain;
	const uint8_t *secret;
	uint8_t out[PROTO_WRAPPED_MAX];
	size_t len;
	cc_err err;
};

static void wrap_one(void *ctx, size_t i)
{
	struct wrap_job *j = &((struct wrap_job *)ctx)[i];
	struct buf one;
	buf_init(&one, PROTO_WRAPPED_MAX);
	j->err = e2e_key_wrap(j->u->recv_pub, j->u->recv_version, j->u->fp, j->chain->room_id,
			      j->chain->epoch, j->secret, &one);
	if (!j->err) {
		memcpy(j->out, one.data, one.len);
		j->len = one.len;
	}
	buf_free(&one);
}

/* Wraps the new secret to every member of the new epoch: the members'
 * keys looked up here, the wraps made on every core (each is an X25519
 * and a seal of its own), then encoded in the chain's order. */
static cc_err epoch_wrap(const struct client_req *req, const struct client_room *r,
			 struct buf *keys, uint16_t *nkeys)
{
	const struct e2e_chain *chain = &req->chain;
	size_t n = chain->nmembers;
	cc_err err = CC_OK;

	struct wrap_job *jobs = calloc(n ? n : 1, sizeof *jobs);
	if (!jobs)
		return CC_ERR_NOMEM;
	for (size_t i = 0; i < n; i++) {
		const struct client_user *u = client_room_user(r, chain->members[i].fp);
		if (!u || !u->recv_ok) {
			/* Never wrap to a key its owner did not certify. */
			err = CC_ERR_SECURITY;
			goto out;
		}
		jobs[i] = (struct wrap_job){.u = u, .chain = chain, .secret = req->secret};
	}
	client_parallel(n, 64, wrap_one, jobs);
	for (size_t i = 0; i < n && !err; i++) {
		struct proto_wrapped_item w;
		if ((err = jobs[i].err))
			break;
		w.nick = proto_bytes_str(chain->members[i].nick);
		w.epoch = chain->epoch;
		w.wrapped = (struct proto_bytes){jobs[i].out, jobs[i].len};
		if (!(err = proto_item_encode(PROTO_ITEM_WRAPPED, &w, keys)))
			(*nkeys)++;
	}
out:
	free(jobs);
	return err;
}

cc_err client_epoch_send(struct client *cl, struct client_req *req, struct client_room *r,
			 uint8_t type, const struct client_change *changes, size_t n,
			 const char *title)
{
	struct buf keys, title_ct;
	uint16_t nkeys = 0;
	cc_err err;

	/* A key for each of up to 5,120 members: within the server's 1 MiB. */
	buf_init(&keys, PROTO_FRAME_MAX_DEFAULT);
	buf_init(&title_ct, PROTO_TITLE_CT_MAX);
	buf_reset(&req->records);
	req->nrecords = 0;
	if (req->has_chain)
		e2e_chain_free(&req->chain);
	req->has_chain = false;
	if ((err = e2e_chain_copy(&req->chain, &r->chain)))
		goto out;
	req->has_chain = true;
	const struct e2e_chain *chain = &req->chain;
	if ((err = epoch_sign(cl, req, r, changes, n)) ||
	    (err = epoch_wrap(req, r, &keys, &nkeys)) ||
	    (err = client_title_seal(req->secret, chain, title, &title_ct)))
		goto out;
	struct proto_msg m = {.type = type};
	struct proto_bytes title_view = {title_ct.data, title_ct.len};
	struct proto_list rec_list = {req->nrecords, {req->records.data, req->records.len}};
	struct proto_list key_list = {nkeys, {keys.data, keys.len}};
	if (type == PROTO_ROOM_CREATE) {
		memcpy(m.u.room_create.room_id, r->room_id, PROTO_ROOM_ID_LEN);
		m.u.room_create.title_ct = title_view;
		m.u.room_create.records = rec_list;
		m.u.room_create.keys = key_list;
	} else {
		memcpy(m.u.room_rekey.room_id, r->room_id, PROTO_ROOM_ID_LEN);
		m.u.room_rekey.title_ct = title_view;
		m.u.room_rekey.records = rec_list;
		m.u.room_rekey.keys = key_list;
	}
	req->epoch = chain->epoch;
	req->step = STEP_CHANGE;
	err = client_req_send(cl, req, &m);
out:
	if (err) {
		client_req_error(cl, req, err == CC_ERR_SECURITY ? "security" : cc_err_code(err),
				 "cannot start a new key epoch");
		mem_wipe(req->secret, sizeof req->secret);
	}
	buf_free(&keys);
	buf_free(&title_ct);
	return err;
}

cc_err client_epoch_commit(struct client *cl, struct client_req *req, struct client_room *r)
{
	const char *why;
	/* The server answers in order: nothing can have extended r's chain
	 * between its copy and the OK (it would have made ours stale). */
	if (!req->has_chain || !e2e_chain_extends(&req->chain, r->chain.count, r->chain.last_hash))
		return CC_ERR_INTERNAL;
	/* The secret becomes the epoch's chain keys and is forgotten; the
	 * server may forget our wrapped copy of it. */
	cc_err err = client_epoch_take(cl, &req->chain, req->chain.epoch, req->secret, NULL, NULL);
	mem_wipe(req->secret, sizeof req->secret);
	if (err)
		return err;
	client_keys_ack(cl, r->room_id, req->chain.epoch);
	/* Our records sit after every message the server stored before them:
	 * it answers only once those went out to us. */
	for (uint32_t seq = r->chain.count; seq < req->chain.count; seq++)
		if ((err = client_room_set_position(r, seq, r->last_msg_id)))
			return err;
	e2e_chain_free(&r->chain);
	r->chain = req->chain;
	req->has_chain = false;
	r->epoch_msgs = 0;
	r->gone_pending = false;
	r->keys_lost = false;
	if (r->needs_move) {
		r->needs_move = false;
		/* The last room to move: a sweep looks for more, and deletes our
		 * old key when there are none. */
		if (!client_req_of_kind(cl, REQ_REKEY, req) && !client_req_of_kind(cl, REQ_SWEEP, NULL))
			client_req_new(cl, REQ_SWEEP, false);
	}
	if (client_room_name_users(cl, r, &why))
		log_warn("room %s: %s", r->id_hex, why);
	client_room_save(cl, r);
	return CC_OK;
}

/* ---- owed epochs ----------------------------------------------------------- */

/* Periodic rekeying (--rekey-after): the admin owes a new epoch once this one
 * has carried enough messages or grown old enough. */
bool client_rekey_due(const struct client *cl, const struct client_room *r)
{
	const struct e2e_epoch *e = e2e_chain_epoch(&r->chain, r->chain.epoch);
	bool by_count = cl->cfg.rekey_after_msgs && r->epoch_msgs >= cl->cfg.rekey_after_msgs;
	bool by_age = cl->cfg.rekey_after_ms && e &&
		      clock_now_ms() - e->started_ms >= cl->cfg.rekey_after_ms;
	return by_count || by_age;
}

void client_maybe_rekey(struct client *cl, struct client_room *r)
{
	/* The admin makes it at once; other members before they next speak
	 * (requests.c), so that a room whose admin is away still heals. */
	if (!client_is_admin(cl, r) || !client_rekey_due(cl, r))
		return;
	client_owed_add(cl, r->room_id, true);
	client_reqs_pump(cl);
}

void client_rekey_start(struct client *cl, struct client_req *req)
{
	struct proto_msg m = {.type = PROTO_ROOM_FETCH};
	memcpy(m.u.room_ref.room_id, req->room, PROTO_ROOM_ID_LEN);
	req->step = STEP_STATE;
	if (client_req_send(cl, req, &m) != CC_OK)
		client_req_end(cl, req, CC_ERR_IO);
}

/* 1 if a line of the caller's waits for room. */
static int line_waiting(const struct client *cl, const uint8_t room[PROTO_ROOM_ID_LEN])
{
	for (const struct client_req *q = cl->reqs; q; q = q->next)
		if (q->kind == REQ_SEND && memcmp(q->room, room, PROTO_ROOM_ID_LEN) == 0)
			return 1;
	return 0;
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
			client_emit_error(cl, 0, r->id_hex, NULL, "security", msg);
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

void client_rekey_on_state(struct client *cl, struct client_req *req,
			   const struct proto_room_state *st)
{
	const char *why = "";
	struct client_room *r = client_room_new(st->room_id);
	struct client_change *changes = NULL;
	cc_err err = r ? client_join_verify(cl, r, st, &why) : CC_ERR_NOMEM;

	if (!err && memcmp(st->room_id, req->room, PROTO_ROOM_ID_LEN) != 0) {
		err = CC_ERR_SECURITY;
		why = "the server answered with another room's state";
	}
	if (err)
		goto fail;
	changes = calloc((size_t)st->gone.count + 1, sizeof *changes);
	if (!changes) {
		err = CC_ERR_NOMEM;
		goto fail;
	}
	struct client_room *old = client_room_find(cl, r->room_id);
	if (r->needs_move) {
		/* We moved to a new identity key: the room learns it first, in a
		 * record of its own that opens the next epoch (signed out members
		 * wait for the rekey after). */
		changes[0].action = PROTO_REC_MOVE;
		snprintf(changes[0].nick, sizeof changes[0].nick, "%s", cl->nick);
		memcpy(changes[0].fp, cl->fp, CRYPTO_FINGERPRINT_LEN);
		if (old) {
			r->joined = old->joined;
			r->acked_msg_id = old->acked_msg_id;
		}
		req->new_room = r;
		err = client_epoch_send(cl, req, r, PROTO_ROOM_MOVE, changes, 1, r->title);
		free(changes);
		if (err)
			client_req_end(cl, req, err);
		return;
	}
	size_t n = expire_candidates(cl, r, &st->gone, changes);
	bool wanted = req->wanted || line_waiting(cl, r->room_id);
	if ((!r->chain.closed && n == 0 && !wanted) ||
	    (!wanted && !first_to_stay(cl, r, changes, n))) {
		/* Nothing owed, or someone else's to make: a line said here first
		 * makes it (gone_pending stays while someone may be signed out). */
		if (old)
			old->gone_pending = n > 0;
		free(changes);
		client_room_free(r);
		client_req_end(cl, req, CC_OK);
		return;
	}
	changes[n].action = PROTO_REC_REKEY;
	snprintf(changes[n].nick, sizeof changes[n].nick, "%s", cl->nick);
	memcpy(changes[n++].fp, cl->fp, CRYPTO_FINGERPRINT_LEN);
	if (old) {
		r->joined = old->joined;
		r->acked_msg_id = old->acked_msg_id;
	}
	req->new_room = r;
	err = client_epoch_send(cl, req, r, PROTO_ROOM_REKEY, changes, n, r->title);
	free(changes);
	if (err)
		client_req_end(cl, req, err);
	return;
fail:
	client_req_error(cl, req, err == CC_ERR_SECURITY ? "security" : cc_err_code(err),
			 *why ? why : "cannot make the room's new key");
	free(changes);
	client_room_free(r);
	client_req_end(cl, req, err);
}
