/* The client's rooms: every end-to-end check happens here and in the files
 * beside it, before anything reaches the user. The server's word is never
 * taken: membership comes from the signed chain, which must extend the head
 * this client stored last time; names come from the chain; keys must match
 * the chain's commitments; messages must carry a valid signature of a member,
 * a head in our chain and a fresh sequence number.
 *
 * This file holds the rooms and their verified state: room objects, /create,
 * /rooms, /join and its checks, and the dispatch of what the server sends.
 * The rooms' directories are in directory.c, talking in messages.c, changes
 * of membership in membership.c, and the new epochs they bring in epochs.c. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "client/core/internal.h"
#include "store/client_store.h"
#include "util/clock.h"
#include "util/log.h"

/* ---- rooms ------------------------------------------------------------------ */

void client_room_free(struct client_room *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->nusers; i++) {
		crypto_rsa_free(r->users[i].key);
		crypto_ed25519_pub_free(r->users[i].sign_key);
	}
	free(r->users);
	free(r->user_slots);
	free(r->positions);
	e2e_chain_free(&r->chain);
	free(r);
}

struct client_room *client_room_new(const uint8_t room_id[PROTO_ROOM_ID_LEN])
{
	struct client_room *r = calloc(1, sizeof *r);
	if (!r)
		return NULL;
	memcpy(r->room_id, room_id, PROTO_ROOM_ID_LEN);
	hex_encode(room_id, PROTO_ROOM_ID_LEN, r->id_hex);
	e2e_chain_init(&r->chain, room_id);
	return r;
}

struct client_room *client_room_find(struct client *cl, const uint8_t room_id[PROTO_ROOM_ID_LEN])
{
	for (size_t i = 0; i < cl->nrooms; i++)
		if (memcmp(cl->rooms[i]->room_id, room_id, PROTO_ROOM_ID_LEN) == 0)
			return cl->rooms[i];
	return NULL;
}

cc_err client_room_install(struct client *cl, struct client_room *r)
{
	for (size_t i = 0; i < cl->nrooms; i++) {
		if (memcmp(cl->rooms[i]->room_id, r->room_id, PROTO_ROOM_ID_LEN) == 0) {
			client_room_free(cl->rooms[i]);
			cl->rooms[i] = r;
			return CC_OK;
		}
	}
	struct client_room **rooms = realloc(cl->rooms, (cl->nrooms + 1) * sizeof *rooms);
	if (!rooms)
		return CC_ERR_NOMEM;
	cl->rooms = rooms;
	cl->rooms[cl->nrooms++] = r;
	return CC_OK;
}

void client_room_remove(struct client *cl, struct client_room *r)
{
	for (size_t i = 0; i < cl->nrooms; i++) {
		if (cl->rooms[i] == r) {
			cl->rooms[i] = cl->rooms[--cl->nrooms];
			break;
		}
	}
	client_room_free(r);
}

void client_rooms_free(struct client *cl)
{
	for (size_t i = 0; i < cl->nrooms; i++)
		client_room_free(cl->rooms[i]);
	free(cl->rooms);
	cl->rooms = NULL;
	cl->nrooms = 0;
}

cc_err client_room_set_position(struct client_room *r, uint32_t seq, uint64_t position)
{
	if (seq >= r->positions_cap) {
		size_t cap = r->positions_cap ? r->positions_cap : 16;
		while (cap <= seq)
			cap *= 2;
		uint64_t *p = realloc(r->positions, cap * sizeof *p);
		if (!p)
			return CC_ERR_NOMEM;
		r->positions = p;
		r->positions_cap = cap;
	}
	r->positions[seq] = position;
	return CC_OK;
}

void client_room_save(struct client *cl, const struct client_room *r)
{
	struct cstore_room saved = {0};
	saved.head_count = r->chain.count;
	memcpy(saved.head_hash, r->chain.last_hash, sizeof saved.head_hash);
	saved.epoch = r->chain.epoch;
	saved.members = (uint32_t)r->chain.nmembers;
	snprintf(saved.admin, sizeof saved.admin, "%s", r->chain.ended ? "" : r->chain.admin.nick);
	snprintf(saved.title, sizeof saved.title, "%s", r->title);
	if (cstore_room_put(cl->store, r->room_id, &saved) != CC_OK)
		log_warn("cannot store the state of room %s", r->id_hex);
}

int client_is_admin(const struct client *cl, const struct client_room *r)
{
	return memcmp(r->chain.admin.fp, cl->fp, CRYPTO_FINGERPRINT_LEN) == 0;
}

/* ---- /create -------------------------------------------------------------- */

static int nick_ptr_cmp(const void *a, const void *b)
{
	const char *const *x = *(const char *const *const *)a;
	const char *const *y = *(const char *const *const *)b;
	int c = strcasecmp(*x, *y);
	return c ? c : (x < y ? -1 : x > y);  /* then in the caller's order */
}

/* repeated[i]: nicks[i] is self, or one before it, in any case. Sorted, not
 * compared pairwise: a creation may name thousands. NULL without memory. */
static bool *nicks_repeated(const char *self, const char *const *nicks, size_t n)
{
	bool *repeated = calloc(n + 1, sizeof *repeated);
	const char *const **by_nick = malloc((n + 1) * sizeof *by_nick);
	if (!repeated || !by_nick) {
		free(repeated);
		free(by_nick);
		return NULL;
	}
	for (size_t i = 0; i < n; i++)
		by_nick[i] = &nicks[i];
	qsort(by_nick, n, sizeof *by_nick, nick_ptr_cmp);
	for (size_t i = 0; i < n; i++) {
		size_t at = (size_t)(by_nick[i] - nicks);
		repeated[at] = strcasecmp(self, nicks[at]) == 0 ||
			       (i > 0 && strcasecmp(*by_nick[i - 1], nicks[at]) == 0);
	}
	free(by_nick);
	return repeated;
}

uint32_t client_room_create(struct client *cl, const char *const *nicks, size_t n,
			    const char *title)
{
	struct client_req *req = client_req_new(cl, REQ_CREATE, true);
	uint16_t count = 0;
	if (!req)
		return 0;
	uint32_t id = req->id;
	const char *code = NULL, *why = NULL;
	char msg[120];
	if (!client_takes_calls(cl))
		code = "not_connected", why = "not connected to the server";
	else if (strlen(title) > E2E_TITLE_MAX)
		code = "too_long", why = "a title is at most 200 bytes";
	else if (!proto_utf8_valid((const uint8_t *)title, strlen(title)))
		code = "malformed", why = "a title must be UTF-8";
	/* The invitees, each once (any case), never ourselves. */
	bool *repeated = code ? NULL : nicks_repeated(cl->nick, nicks, n);
	buf_reset(&req->asked);
	if (!code && (!repeated || buf_put_u16(&req->asked, 0) != CC_OK))
		code = "no_memory", why = "out of memory";
	for (size_t i = 0; !code && i < n; i++) {
		size_t len = strlen(nicks[i]);
		if (!proto_nick_valid((const uint8_t *)nicks[i], len)) {
			snprintf(msg, sizeof msg, "bad nickname '%.40s'", nicks[i]);
			code = "bad_nick", why = msg;
			break;
		}
		struct proto_nick_item item = {proto_bytes_str(nicks[i])};
		if (!repeated[i] && proto_item_encode(PROTO_ITEM_NICK, &item, &req->asked) == CC_OK)
			count++;
	}
	free(repeated);
	if (!code && count == 0)
		code = "usage", why = "name at least one other member";
	if (code) {
		client_req_error(cl, req, code, why);
		client_req_end(cl, req, CC_ERR_USAGE);
		return id;
	}
	store_be16(req->asked.data, count);
	snprintf(req->title, sizeof req->title, "%s", title);
	client_offline_arm(cl);  /* not connected: it waits, for a while */
	client_reqs_pump(cl);
	return id;
}

void client_create_start(struct client *cl, struct client_req *req)
{
	struct proto_msg m = {.type = PROTO_USERS_GET};
	m.u.users_get.nicks = (struct proto_list){load_be16(req->asked.data),
						  {req->asked.data + 2, req->asked.len - 2}};
	req->step = STEP_USERS;
	if (client_req_send(cl, req, &m) != CC_OK)
		client_req_end(cl, req, CC_ERR_IO);
}

/* 1 if the server answered with exactly the users asked for, in order. */
static int users_match_request(const struct buf *asked, const struct proto_users *users)
{
	struct proto_list want = {0};
	struct proto_list_iter wi, gi;
	struct proto_nick_item w;
	struct proto_user_item g;

	if (asked->len < 2)
		return 0;
	want.count = load_be16(asked->data);
	want.raw = (struct proto_bytes){asked->data + 2, asked->len - 2};
	if (want.count != users->users.count)
		return 0;
	proto_list_iter_init(&wi, &want, PROTO_ITEM_NICK);
	proto_list_iter_init(&gi, &users->users, PROTO_ITEM_USER);
	while (proto_list_next(&wi, &w) == CC_OK) {
		if (proto_list_next(&gi, &g) != CC_OK || g.nick.len != w.nick.len ||
		    strncasecmp((const char *)g.nick.p, (const char *)w.nick.p, w.nick.len) != 0)
			return 0;
	}
	return 1;
}

/* The invitees' keys arrived: a room of our own, a create record, one add
 * per invitee, and the last epoch's secret wrapped to all. */
static void create_on_users(struct client *cl, struct client_req *req,
			    const struct proto_users *users)
{
	struct client_room *r = NULL;
	struct client_change *changes = NULL;
	uint8_t room_id[PROTO_ROOM_ID_LEN];
	struct proto_list_iter it;
	struct proto_user_item item;
	size_t n = 0;
	cc_err err;

	if (!users_match_request(&req->asked, users)) {
		/* A server slipping someone else into the room. */
		err = CC_ERR_SECURITY;
		goto fail;
	}
	changes = calloc((size_t)users->users.count + 1, sizeof *changes);
	/* The invitees' keys seen and pins: one commit, before the wraps go out. */
	client_directory_begin(cl, "client:create-stored");
	if ((err = crypto_random_bytes(room_id, sizeof room_id)) || !changes ||
	    !(r = client_room_new(room_id))) {
		err = err ? err : CC_ERR_NOMEM;
		goto fail;
	}
	if ((err = client_room_add_self(cl, r)))
		goto fail;
	changes[n].action = PROTO_REC_CREATE;
	snprintf(changes[n].nick, sizeof changes[n].nick, "%s", cl->nick);
	memcpy(changes[n++].fp, cl->fp, CRYPTO_FINGERPRINT_LEN);
	client_keycache_warm(cl, &users->users);  /* the invitees', on every core */
	proto_list_iter_init(&it, &users->users, PROTO_ITEM_USER);
	while (proto_list_next(&it, &item) == CC_OK) {
		if ((err = client_room_add_user_item(cl, r, &item)))
			goto fail;
		struct client_user *u = &r->users[r->nusers - 1];
		if (memcmp(u->fp, cl->fp, CRYPTO_FINGERPRINT_LEN) == 0)
			continue;  /* ourselves under another case */
		/* The name we asked for is the one we pin and sign. */
		snprintf(u->nick, sizeof u->nick, "%.*s", (int)item.nick.len,
			 (const char *)item.nick.p);
		if (!client_trust_check(cl, u->nick, u->fp)) {
			/* Never give a room key to a key we did not pin. */
			err = CC_ERR_KEY_CHANGED;
			goto fail;
		}
		changes[n].action = PROTO_REC_ADD;
		snprintf(changes[n].nick, sizeof changes[n].nick, "%s", u->nick);
		memcpy(changes[n++].fp, u->fp, CRYPTO_FINGERPRINT_LEN);
	}
	if ((err = client_directory_commit(cl)))
		goto fail;
	snprintf(r->title, sizeof r->title, "%s", req->title);
	memcpy(req->room, room_id, PROTO_ROOM_ID_LEN);
	req->new_room = r;
	req->step = STEP_CHANGE;
	err = client_epoch_send(cl, req, r, PROTO_ROOM_CREATE, changes, n, req->title);
	free(changes);
	if (err)
		client_req_end(cl, req, err);
	return;
fail:
	/* What was seen and pinned until then is kept, as it is on its own. */
	client_directory_commit(cl);
	free(changes);
	client_room_free(r);
	client_req_error(cl, req, cc_err_code(err),
			 err == CC_ERR_SECURITY ? "the server answered with users we did not ask for"
			 : err == CC_ERR_KEY_CHANGED
				 ? "a member's key is not the one pinned: compare fingerprints "
				   "(/safety NICK), then /verify NICK; no room was made"
			 : err == CC_ERR_STORE ? "cannot store the members' keys and pins"
					       : "cannot create the room");
	client_req_end(cl, req, err);
}

void client_create_on_answer(struct client *cl, struct client_req *req, const struct proto_msg *m)
{
	if (m->type == PROTO_ERROR) {
		client_req_error_msg(cl, req, &m->u.error);
		client_req_end(cl, req, (cc_err)m->u.error.code);
		return;
	}
	if (req->step == STEP_USERS && m->type == PROTO_USERS) {
		create_on_users(cl, req, &m->u.users);
		return;
	}
	if (req->step != STEP_CHANGE || m->type != PROTO_OK)
		return;
	struct client_room *r = req->new_room;
	req->new_room = NULL;
	if (client_epoch_commit(cl, req, r) || client_room_install(cl, r)) {
		client_room_free(r);
		client_req_error(cl, req, "store_error", "cannot keep the new room's key");
		client_req_end(cl, req, CC_ERR_STORE);
		return;
	}
	client_emit_room(cl, CLIENT_EV_ROOM_CREATED, req->id, r, 0);
	client_req_end(cl, req, CC_OK);
}

/* ---- /rooms ----------------------------------------------------------------- */

uint32_t client_rooms_list(struct client *cl)
{
	struct client_req *req;
	uint32_t id = client_request(cl, REQ_ROOMS, NULL, &req);
	if (req)
		client_reqs_pump(cl);
	return id;
}

void client_rooms_start(struct client *cl, struct client_req *req)
{
	struct proto_msg m = {.type = PROTO_ROOMS_LIST};
	req->step = STEP_CHANGE;
	if (client_req_send(cl, req, &m) != CC_OK)
		client_req_end(cl, req, CC_ERR_IO);
}

/* The server lists the rooms and counts; title, admin and members come from
 * what this client verified of each room's chain, where it has (verified:
 * true), else from the server's word with no title (verified: false). */
void client_rooms_on_answer(struct client *cl, struct client_req *req, const struct proto_msg *m)
{
	if (m->type == PROTO_ERROR) {
		client_req_error_msg(cl, req, &m->u.error);
		client_req_end(cl, req, (cc_err)m->u.error.code);
		return;
	}
	if (m->type != PROTO_ROOMS)
		return;
	const struct proto_list *rooms = &m->u.rooms.rooms;
	struct proto_list_iter it;
	struct proto_room_item item;
	struct client_room_info *list = calloc((size_t)rooms->count + 1, sizeof *list);
	struct cstore_room *saved = calloc((size_t)rooms->count + 1, sizeof *saved);
	char (*admins)[PROTO_NICK_MAX + 1] = calloc((size_t)rooms->count + 1, sizeof *admins);
	size_t n = 0;
	proto_list_iter_init(&it, rooms, PROTO_ITEM_ROOM);
	while (list && saved && admins && proto_list_next(&it, &item) == CC_OK) {
		struct client_room_info *info = &list[n];
		hex_encode(item.room_id, PROTO_ROOM_ID_LEN, info->room);
		memcpy(admins[n], item.admin.p, item.admin.len);
		admins[n][item.admin.len] = '\0';
		info->verified = cstore_room_get(cl->store, item.room_id, &saved[n]) == CC_OK &&
				 saved[n].admin[0];
		info->title = info->verified ? saved[n].title : "";
		info->admin = info->verified ? saved[n].admin : admins[n];
		info->members = info->verified ? saved[n].members : item.members;
		info->epoch = info->verified ? saved[n].epoch : item.epoch;
		info->unread = item.unread;
		n++;
	}
	struct client_event ev = {.type = CLIENT_EV_ROOMS, .request = req->id};
	ev.u.rooms.list = list;
	ev.u.rooms.n = list && saved && admins ? n : 0;
	client_emit(cl, &ev);
	free(list);
	free(saved);
	free(admins);
	client_req_end(cl, req, CC_OK);
}

/* ---- /join ---------------------------------------------------------------------- */

uint32_t client_room_join(struct client *cl, const uint8_t room[PROTO_ROOM_ID_LEN])
{
	struct client_req *req;
	uint32_t id = client_request(cl, REQ_JOIN, room, &req);
	if (req)
		client_reqs_pump(cl);
	return id;
}

void client_join_start(struct client *cl, struct client_req *req)
{
	struct proto_msg m = {.type = PROTO_ROOM_JOIN};
	memcpy(m.u.room_ref.room_id, req->room, PROTO_ROOM_ID_LEN);
	req->step = STEP_STATE;
	req->failed = false;
	if (client_req_send(cl, req, &m) != CC_OK)
		client_req_end(cl, req, CC_ERR_IO);
}

/* The chain the server sent, record by record, with each one's position.
 * Activity: the latest time each actor signed, remembered in one go. */
static cc_err join_apply_chain(struct client *cl, struct client_room *r,
			       const struct proto_list *records, const char **why)
{
	struct proto_list_iter it;
	struct proto_chain_item item;
	uint8_t (*fps)[CRYPTO_FINGERPRINT_LEN] = NULL;
	uint64_t *times = NULL;
	size_t n = 0;
	cc_err err = CC_OK;

	fps = malloc((size_t)records->count * sizeof *fps + 1);
	times = malloc((size_t)records->count * sizeof *times + 1);
	if (!fps || !times) {
		err = CC_ERR_NOMEM;
		goto out;
	}
	proto_list_iter_init(&it, records, PROTO_ITEM_CHAIN);
	while (proto_list_next(&it, &item) == CC_OK) {
		struct proto_record rec;
		if (e2e_chain_apply(&r->chain, item.record.p, item.record.len,
				    client_room_key_lookup, r, why)) {
			err = CC_ERR_SECURITY;
			goto out;
		}
		if ((err = client_room_set_position(r, r->chain.count - 1, item.position)))
			goto out;
		proto_record_decode(item.record.p, item.record.len, &rec);
		client_trust_moved(cl, r, &rec);  /* a member's new key, signed by the old */
		size_t k = 0;
		while (k < n && memcmp(fps[k], rec.actor_fp, CRYPTO_FINGERPRINT_LEN) != 0)
			k++;
		if (k == n) {
			memcpy(fps[n], rec.actor_fp, CRYPTO_FINGERPRINT_LEN);
			times[n++] = 0;
		}
		if (rec.time_ms > times[k])
			times[k] = rec.time_ms;
	}
	if (cstore_activity_put_all(cl->store, (const uint8_t(*)[CSTORE_FP_LEN])fps, times, n))
		log_warn("cannot remember who was active in room %s", r->id_hex);
out:
	free(fps);
	free(times);
	return err;
}

/* Our wrapped secrets: each opens to the chain's commitment for its epoch
 * (one we were a member of), becomes that epoch's chain keys and is
 * acknowledged, so the server forgets it. The current epoch's keys must be
 * at hand after, unless the secret of it was wrapped to a receiving key we
 * deleted (*lost: the room needs a new epoch). The current epoch's secret
 * also opens the title (*titled). */
static cc_err join_take_keys(struct client *cl, struct client_room *r,
			     const struct proto_room_state *st, bool *lost, bool *titled,
			     const char **why)
{
	struct proto_list_iter it;
	struct proto_wrapped_item w;
	uint8_t secret[E2E_KEY_LEN];
	bool any = false;
	uint32_t top = 0;
	cc_err err;

	proto_list_iter_init(&it, &st->keys, PROTO_ITEM_WRAPPED);
	while (proto_list_next(&it, &w) == CC_OK) {
		if (!e2e_chain_sender(&r->chain, cl->nick, w.epoch)) {
			*why = "the server handed out a key of an epoch we were not a member of";
			return CC_ERR_SECURITY;
		}
		if (cstore_epoch_has(cl->store, r->room_id, w.epoch) == CC_OK) {
			any = true;  /* taken before (the ack was lost): never rewind it */
			top = w.epoch > top ? w.epoch : top;
			continue;
		}
		const char *lost_why;
		bool stale = false;
		err = client_wrapped_open(cl, r, w.epoch, w.wrapped.p, w.wrapped.len, secret,
					  &stale, &lost_why);
		if (err == CC_ERR_NOT_FOUND) {
			log_warn("room %s, epoch %u: %s", r->id_hex, (unsigned)w.epoch, lost_why);
			*lost = w.epoch == r->chain.epoch || *lost;
			continue;
		}
		if (err) {
			*why = lost_why;
			return err;
		}
		bool current = w.epoch == r->chain.epoch;
		if (stale && current) {
			client_emit_error(cl, 0, r->id_hex, NULL, "security", STALE_WRAP_NOTICE);
			*lost = true;
		}
		err = client_epoch_take(cl, &r->chain, w.epoch, secret,
					current ? &st->title_ct : NULL, current ? r->title : NULL);
		mem_wipe(secret, sizeof secret);
		if (err == CC_ERR_AUTH) {
			client_emit_error(cl, 0, r->id_hex, NULL, "security",
					  "the room's title does not open under its key");
			err = CC_OK;
		} else if (!err && current && st->title_ct.len) {
			*titled = true;
		}
		if (err)
			return err;
		any = true;
		top = w.epoch > top ? w.epoch : top;
	}
	if (any)
		client_keys_ack(cl, r->room_id, top);
	if (!*lost && cstore_epoch_has(cl->store, r->room_id, r->chain.epoch) != CC_OK) {
		*why = "the server gave us no key of the room's current epoch";
		return CC_ERR_SECURITY;
	}
	return CC_OK;
}

cc_err client_join_verify(struct client *cl, struct client_room *r,
			  const struct proto_room_state *st, const char **why)
{
	struct cstore_room saved;
	struct proto_list_iter it;
	struct proto_gone_item gone;
	cc_err err;

	client_directory_begin(cl, "client:join-stored");
	if ((err = client_room_add_users(cl, r, &st->users)) ||
	    (err = client_room_add_self(cl, r))) {
		client_directory_commit(cl);
		*why = "a member's key does not parse";
		return err;
	}
	if ((err = client_directory_commit(cl))) {
		*why = "cannot store the members' keys";
		return err;
	}
	if ((err = join_apply_chain(cl, r, &st->records, why)))
		return err;
	/* The server may add to the history we saw, never take from it. */
	err = cstore_room_get(cl->store, r->room_id, &saved);
	if (err && err != CC_ERR_NOT_FOUND)
		return err;
	bool have_saved = !err;
	if (have_saved)
		r->keys_from = saved.keys_from;
	if (!err && !e2e_chain_extends(&r->chain, saved.head_count, saved.head_hash)) {
		*why = saved.head_count > r->chain.count
			       ? "the server showed an older history of the room than before "
				 "(a rollback)"
			       : "the server showed another history of the room than before (a fork)";
		return CC_ERR_SECURITY;
	}
	if (!e2e_chain_member(&r->chain, cl->fp)) {
		/* Under the key we moved from, until the room's MOVE (owed). */
		r->needs_move = cl->old_identity && e2e_chain_member(&r->chain, cl->old_fp);
		if (!r->needs_move) {
			*why = "the room's signed membership does not include us";
			return CC_ERR_SECURITY;
		}
	}
	bool titled = false;
	r->title[0] = '\0';
	/* The pins of members seen for the first time: one commit. */
	client_directory_begin(cl, "client:join-pins-stored");
	err = client_room_name_users(cl, r, why);
	cc_err stored = client_directory_commit(cl);
	if (!err && stored) {
		err = stored;
		*why = "cannot store the members' pins";
	}
	if (err || (err = join_take_keys(cl, r, st, &r->keys_lost, &titled, why)))
		return err;
	/* The title only from a checked key: the current epoch's, else the one
	 * this client opened before. */
	if (!titled && have_saved)
		snprintf(r->title, sizeof r->title, "%s", saved.title);
	uint64_t sent = 0;
	if (cstore_epoch_messages(cl->store, r->room_id, r->chain.epoch, &sent) == CC_OK)
		r->epoch_msgs = sent > UINT32_MAX ? UINT32_MAX : (uint32_t)sent;
	proto_list_iter_init(&it, &st->gone, PROTO_ITEM_GONE);
	while (proto_list_next(&it, &gone) == CC_OK)
		if (e2e_chain_member(&r->chain, gone.fingerprint))
			r->gone_pending = true;
	r->last_msg_id = saved.last_msg_id;
	client_room_save(cl, r);
	return CC_OK;
}

static void join_on_state(struct client *cl, struct client_req *req,
			  const struct proto_room_state *st)
{
	const char *why = "";
	struct client_room *r = client_room_new(st->room_id);
	cc_err err = r ? client_join_verify(cl, r, st, &why) : CC_ERR_NOMEM;

	if (!err && memcmp(st->room_id, req->room, PROTO_ROOM_ID_LEN) != 0) {
		err = CC_ERR_SECURITY;
		why = "the server answered with another room's state";
	}
	if (err) {
		client_req_error(cl, req, err == CC_ERR_SECURITY ? "security" : cc_err_code(err),
				 *why ? why : cc_err_str(err));
		client_room_free(r);
		req->failed = true;
		return;
	}
	struct client_room *old = client_room_find(cl, r->room_id);
	if (old)
		r->acked_msg_id = old->acked_msg_id;
	r->joined = true;
	if (client_room_install(cl, r)) {
		client_room_free(r);
		req->failed = true;
		return;
	}
	req->loaded = true;
	if (req->then_leave)
		return;  /* loaded only to leave it */
	if (r->keys_lost || r->needs_move)
		client_owed_add(cl, r->room_id, true);  /* a new epoch (or our MOVE) first */
	client_maybe_rekey(cl, r);  /* an epoch that grew old while we were away */
	client_emit_room(cl, CLIENT_EV_JOINED, req->id, r, st->backlog);
}

void client_join_on_answer(struct client *cl, struct client_req *req, const struct proto_msg *m)
{
	if (m->type == PROTO_ERROR) {
		client_req_error_msg(cl, req, &m->u.error);
		client_req_end(cl, req, (cc_err)m->u.error.code);
		return;
	}
	if (m->type == PROTO_ROOM_STATE) {
		join_on_state(cl, req, &m->u.room_state);
		return;
	}
	if (m->type != PROTO_JOIN_DONE)
		return;
	struct client_room *r = client_room_find(cl, req->room);
	if (r && !req->failed) {
		client_room_ack(cl, r);
		client_epochs_forget_ended(cl, r);
	}
	if (req->failed) {
		client_req_end(cl, req, CC_ERR_SECURITY);
	} else if (req->then_leave) {
		req->step = STEP_QUEUED;  /* the room is loaded: now the leave itself */
		client_leave_start(cl, req);
	} else {
		client_req_end(cl, req, CC_OK);
	}
}

/* ---- what the server sends on its own ------------------------------------------- */

cc_err client_on_room_message(struct client *cl, const struct proto_msg *m)
{
	if (m->type == PROTO_ROOM_MSG) {
		client_on_room_msg(cl, &m->u.room_msg);
	} else if (m->type == PROTO_ROOM_RECORD) {
		client_on_room_record(cl, &m->u.room_record);
	} else if (m->type == PROTO_REKEY_OWED) {
		/* The server's word that a new epoch is owed: checked against the
		 * chain when the room's state comes (epochs.c). */
		client_owed_add(cl, m->u.room_ref.room_id, false);
		client_reqs_pump(cl);
		client_notify(cl);
	}
	return CC_OK;
}

/* ---- views for the front ends -------------------------------------------------- */

size_t client_room_count(const struct client *cl)
{
	return cl->nrooms;
}

cc_err client_room_view_get(struct client *cl, size_t i, struct client_room_view *out)
{
	memset(out, 0, sizeof *out);
	if (i >= cl->nrooms)
		return CC_ERR_NOT_FOUND;
	const struct client_room *r = cl->rooms[i];
	memcpy(out->room, r->id_hex, sizeof out->room);
	snprintf(out->title, sizeof out->title, "%s", r->title);
	snprintf(out->admin, sizeof out->admin, "%s", r->chain.ended ? "" : r->chain.admin.nick);
	out->epoch = r->chain.epoch;
	out->joined = r->joined;
	out->closed = r->chain.closed;
	out->members = calloc(r->chain.nmembers + 1, sizeof *out->members);
	if (!out->members)
		return CC_ERR_NOMEM;
	out->nmembers = r->chain.nmembers;
	for (size_t k = 0; k < r->chain.nmembers; k++) {
		const struct e2e_member *m = &r->chain.members[k];
		const struct client_user *u = client_room_user(r, m->fp);
		struct client_member_view *v = &out->members[k];
		snprintf(v->nick, sizeof v->nick, "%s", m->nick);
		v->admin = memcmp(m->fp, r->chain.admin.fp, CRYPTO_FINGERPRINT_LEN) == 0;
		v->trusted = u && u->trusted;
		v->verified = u && u->verified;
	}
	return CC_OK;
}

void client_room_view_free(struct client_room_view *v)
{
	free(v->members);
	memset(v, 0, sizeof *v);
}
