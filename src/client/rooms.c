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

#include "client/client_internal.h"
#include "client/rooms_internal.h"
#include "store/client_store.h"
#include "util/clock.h"
#include "util/log.h"

/* ---- rooms and their directories ------------------------------------------ */

void client_room_free(struct client_room *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->nusers; i++)
		crypto_rsa_free(r->users[i].key);
	free(r->users);
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
			if (cl->current == cl->rooms[i])
				cl->current = r;
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
	if (cl->current == r)
		cl->current = NULL;
	client_room_free(r);
}

void client_rooms_free(struct client *cl)
{
	for (size_t i = 0; i < cl->nrooms; i++)
		client_room_free(cl->rooms[i]);
	free(cl->rooms);
	cl->rooms = NULL;
	cl->nrooms = 0;
	cl->current = NULL;
	client_room_free(cl->op_new_room);
	cl->op_new_room = NULL;
	if (cl->op_has_chain)
		e2e_chain_free(&cl->op_chain);
	cl->op_has_chain = false;
	free(cl->owed);
	cl->owed = NULL;
	cl->nowed = 0;
	free(cl->seen_ids);
	cl->seen_ids = NULL;
	cl->nseen_ids = 0;
	client_text_drop(cl);
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

json_t *client_room_members_json(const struct client_room *r)
{
	json_t *list = json_array();
	for (size_t i = 0; list && i < r->chain.nmembers; i++)
		json_array_append_new(list, json_string(r->chain.members[i].nick));
	return list;
}

/* "ROOM" as 32 hex digits. */
static int parse_room_id(const char *s, size_t n, uint8_t out[PROTO_ROOM_ID_LEN])
{
	char hex[2 * PROTO_ROOM_ID_LEN + 1];
	if (n != 2 * PROTO_ROOM_ID_LEN)
		return -1;
	memcpy(hex, s, n);
	hex[n] = '\0';
	return hex_decode(hex, out, PROTO_ROOM_ID_LEN) == CC_OK ? 0 : -1;
}

/* Remembers a room id the user has seen (from /rooms), for prefixes. */
static void room_id_seen(struct client *cl, const uint8_t room[PROTO_ROOM_ID_LEN])
{
	for (size_t i = 0; i < cl->nseen_ids; i++)
		if (memcmp(cl->seen_ids[i], room, PROTO_ROOM_ID_LEN) == 0)
			return;
	void *p = realloc(cl->seen_ids, (cl->nseen_ids + 1) * sizeof *cl->seen_ids);
	if (!p)
		return;
	cl->seen_ids = p;
	memcpy(cl->seen_ids[cl->nseen_ids++], room, PROTO_ROOM_ID_LEN);
}

/* A unique prefix (at least 4 hex digits) of a room id the user has seen. */
static int room_id_by_prefix(struct client *cl, const char *s, size_t n,
			     uint8_t room[PROTO_ROOM_ID_LEN])
{
	int found = 0;
	char hex[2 * PROTO_ROOM_ID_LEN + 1];
	if (n < 4 || n >= 2 * PROTO_ROOM_ID_LEN)
		return -1;
	for (size_t i = 0; i < cl->nrooms + cl->nseen_ids; i++) {
		const uint8_t *id = i < cl->nrooms ? cl->rooms[i]->room_id : cl->seen_ids[i - cl->nrooms];
		hex_encode(id, PROTO_ROOM_ID_LEN, hex);
		if (strncasecmp(hex, s, n) != 0)
			continue;
		if (found && memcmp(room, id, PROTO_ROOM_ID_LEN) != 0)
			return -2;  /* ambiguous */
		memcpy(room, id, PROTO_ROOM_ID_LEN);
		found = 1;
	}
	return found ? 0 : -1;
}

/* Splits "ROOM rest": the room id (whole, or a unique prefix of one seen in
 * /rooms), and where the rest starts. */
int client_take_room_arg(struct client *cl, const char *args, uint8_t room[PROTO_ROOM_ID_LEN],
			 const char **rest)
{
	size_t n = strcspn(args, " \t");
	if (n == 0 || (parse_room_id(args, n, room) && room_id_by_prefix(cl, args, n, room))) {
		client_emit_error(cl, "usage", "a room is its id, 32 hexadecimal digits, or a "
					       "unique prefix of one /rooms listed");
		return -1;
	}
	if (rest) {
		*rest = args + n;
		*rest += strspn(*rest, " \t");
	}
	return 0;
}

int client_is_admin(const struct client *cl, const struct client_room *r)
{
	return memcmp(r->chain.admin.fp, cl->fp, CRYPTO_FINGERPRINT_LEN) == 0;
}

cc_err client_room_epoch_key(struct client *cl, const struct client_room *r, uint32_t epoch,
			     uint8_t key[E2E_KEY_LEN])
{
	const struct e2e_epoch *e = e2e_chain_epoch(&r->chain, epoch);
	uint8_t secret[E2E_KEY_LEN];
	if (!e)
		return CC_ERR_NOT_FOUND;
	cc_err err = cstore_key_get(cl->store, r->room_id, epoch, secret);
	if (!err)
		err = e2e_epoch_key(secret, r->room_id, epoch, e->open_hash, key);
	mem_wipe(secret, sizeof secret);
	return err;
}

/* ---- /create -------------------------------------------------------------- */

void client_cmd_create(struct client *cl, const char *args)
{
	struct buf raw;
	uint16_t count = 0;
	size_t n = strcspn(args, " \t");
	const char *title = args + n;
	title += strspn(title, " \t");

	if (n == 0) {
		client_emit_error(cl, "usage", "/create NICK[,NICK...] [TITLE]");
		return;
	}
	if (strlen(title) > E2E_TITLE_MAX) {
		client_emit_error(cl, "too_long", "a title is at most 200 bytes");
		return;
	}
	buf_init(&raw, 64 * 1024);
	for (const char *p = args; p < args + n;) {
		size_t len = strcspn(p, ",");
		if (len > (size_t)(args + n - p))
			len = (size_t)(args + n - p);
		if (!proto_nick_valid((const uint8_t *)p, len)) {
			char msg[120];
			snprintf(msg, sizeof msg, "bad nickname '%.*s'", (int)(len < 40 ? len : 40), p);
			client_emit_error(cl, "bad_nick", msg);
			goto out;
		}
		bool dup = strlen(cl->nick) == len && strncasecmp(cl->nick, p, len) == 0;
		struct proto_list_iter it;
		struct proto_nick_item item;
		struct proto_list so_far = {count, {raw.data, raw.len}};
		proto_list_iter_init(&it, &so_far, PROTO_ITEM_NICK);
		while (!dup && proto_list_next(&it, &item) == CC_OK)
			dup = item.nick.len == len && strncasecmp((const char *)item.nick.p, p, len) == 0;
		if (!dup) {
			item.nick = (struct proto_bytes){(const uint8_t *)p, len};
			if (proto_item_encode(PROTO_ITEM_NICK, &item, &raw) != CC_OK)
				goto out;
			count++;
		}
		p += len + 1;
	}
	if (count == 0) {
		client_emit_error(cl, "usage", "name at least one other member");
		goto out;
	}
	snprintf(cl->op_title, sizeof cl->op_title, "%s", title);
	struct proto_msg m = {.type = PROTO_USERS_GET};
	m.u.users_get.request_id = client_op_begin(cl, OP_CREATE_USERS);
	m.u.users_get.nicks = (struct proto_list){count, {raw.data, raw.len}};
	/* Keep what we asked for: the answer must name exactly these users. */
	buf_reset(&cl->op_record);
	if (buf_put_u16(&cl->op_record, count) || buf_put_bytes(&cl->op_record, raw.data, raw.len) ||
	    client_send(cl, &m))
		client_op_end(cl);
out:
	buf_free(&raw);
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
static void create_on_users(struct client *cl, const struct proto_users *users)
{
	struct client_room *r = NULL;
	struct client_change *changes = NULL;
	uint8_t room_id[PROTO_ROOM_ID_LEN];
	struct proto_list_iter it;
	struct proto_user_item item;
	size_t n = 0;
	cc_err err;

	if (!users_match_request(&cl->op_record, users)) {
		/* A server slipping someone else into the room. */
		err = CC_ERR_SECURITY;
		goto fail;
	}
	changes = calloc((size_t)users->users.count + 1, sizeof *changes);
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
	snprintf(r->title, sizeof r->title, "%s", cl->op_title);
	cl->op_new_room = r;
	client_epoch_send(cl, r, PROTO_ROOM_CREATE, OP_CREATE, changes, n, cl->op_title);
	free(changes);
	return;
fail:
	free(changes);
	client_room_free(r);
	client_emit_error(cl, cc_err_code(err),
			  err == CC_ERR_SECURITY ? "the server answered with users we did not ask for"
			  : err == CC_ERR_KEY_CHANGED
				  ? "a member's key is not the one pinned: compare fingerprints "
				    "(/safety NICK), then /verify NICK; no room was made"
				  : "cannot create the room");
	client_op_end(cl);
}

static void create_on_ok(struct client *cl)
{
	struct client_room *r = cl->op_new_room;
	cl->op_new_room = NULL;
	if (!r || client_epoch_commit(cl, r) || client_room_install(cl, r)) {
		client_emit_error(cl, "store_error", "cannot keep the new room's key");
		client_room_free(r);
		return;
	}
	client_emit(cl, json_pack("{s:s, s:s, s:s, s:s, s:o}", "event", "room_created", "room",
				  r->id_hex, "title", r->title, "admin", cl->nick, "members",
				  client_room_members_json(r)));
}

/* ---- /rooms ----------------------------------------------------------------- */

void client_cmd_rooms(struct client *cl)
{
	struct proto_msg m = {.type = PROTO_ROOMS_LIST};
	m.u.request.request_id = client_op_begin(cl, OP_ROOMS);
	if (client_send(cl, &m))
		client_op_end(cl);
}

/* The server lists the rooms and counts; title, admin and members come from
 * what this client verified of each room's chain, where it has (verified:
 * true), else from the server's word with no title (verified: false). */
static void rooms_on_list(struct client *cl, const struct proto_rooms *rooms)
{
	struct proto_list_iter it;
	struct proto_room_item item;
	json_t *list = json_array();

	proto_list_iter_init(&it, &rooms->rooms, PROTO_ITEM_ROOM);
	while (list && proto_list_next(&it, &item) == CC_OK) {
		char hex[2 * PROTO_ROOM_ID_LEN + 1], admin[PROTO_NICK_MAX + 1];
		struct cstore_room saved;
		hex_encode(item.room_id, PROTO_ROOM_ID_LEN, hex);
		room_id_seen(cl, item.room_id);
		memcpy(admin, item.admin.p, item.admin.len);
		admin[item.admin.len] = '\0';
		bool verified = cstore_room_get(cl->store, item.room_id, &saved) == CC_OK &&
				saved.admin[0];
		json_array_append_new(
			list, json_pack("{s:s, s:s, s:s, s:i, s:i, s:i, s:b}", "room", hex, "title",
					verified ? saved.title : "", "admin",
					verified ? saved.admin : admin, "members",
					verified ? (int)saved.members : (int)item.members, "unread",
					(int)item.unread, "epoch",
					verified ? (int)saved.epoch : (int)item.epoch, "verified",
					verified));
	}
	client_emit(cl, json_pack("{s:s, s:o}", "event", "rooms", "rooms", list));
}

/* ---- /join ---------------------------------------------------------------------- */

void client_join_send(struct client *cl, const uint8_t room_id[PROTO_ROOM_ID_LEN],
		      enum client_op op)
{
	struct proto_msg m = {.type = PROTO_ROOM_JOIN};
	m.u.room_ref.request_id = client_op_begin(cl, op);
	memcpy(m.u.room_ref.room_id, room_id, PROTO_ROOM_ID_LEN);
	memcpy(cl->op_room, room_id, PROTO_ROOM_ID_LEN);
	cl->op_failed = false;
	if (client_send(cl, &m))
		client_op_end(cl);
}

void client_cmd_join(struct client *cl, const char *args)
{
	uint8_t room_id[PROTO_ROOM_ID_LEN];
	if (client_take_room_arg(cl, args, room_id, NULL) == 0)
		client_join_send(cl, room_id, OP_JOIN);
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

/* Our wrapped secrets: each must open and match the chain's commitment for
 * its epoch, one of ours; the current epoch's must be at hand. */
static cc_err join_take_keys(struct client *cl, struct client_room *r,
			     const struct proto_list *keys, const char **why)
{
	struct proto_list_iter it;
	struct proto_wrapped_item w;
	uint8_t secret[E2E_KEY_LEN], commit[PROTO_HASH_LEN];
	cc_err err;

	proto_list_iter_init(&it, keys, PROTO_ITEM_WRAPPED);
	while (proto_list_next(&it, &w) == CC_OK) {
		const uint8_t *want = e2e_chain_commit(&r->chain, w.epoch);
		if (!want || !e2e_chain_sender(&r->chain, cl->nick, w.epoch)) {
			*why = "the server handed out a key of an epoch we were not a member of";
			return CC_ERR_SECURITY;
		}
		if (e2e_key_unwrap(cl->identity, r->room_id, w.epoch, w.wrapped.p, w.wrapped.len,
				   secret) != CC_OK) {
			*why = "the server handed out a room key that does not open";
			return CC_ERR_SECURITY;
		}
		e2e_key_commit(r->room_id, w.epoch, secret, commit);
		if (!crypto_ct_equal(want, commit, sizeof commit)) {
			mem_wipe(secret, sizeof secret);
			*why = "the server handed out a room key the chain does not commit to";
			return CC_ERR_SECURITY;
		}
		err = cstore_key_put(cl->store, r->room_id, w.epoch, secret);
		mem_wipe(secret, sizeof secret);
		if (err)
			return err;
	}
	if (cstore_key_get(cl->store, r->room_id, r->chain.epoch, secret) != CC_OK) {
		*why = "the server gave us no key of the room's current epoch";
		return CC_ERR_SECURITY;
	}
	mem_wipe(secret, sizeof secret);
	return CC_OK;
}

cc_err client_join_verify(struct client *cl, struct client_room *r,
			  const struct proto_room_state *st, const char **why)
{
	struct cstore_room saved;
	struct proto_list_iter it;
	struct proto_gone_item gone;
	uint8_t key[E2E_KEY_LEN];
	cc_err err;

	if ((err = client_room_add_users(cl, r, &st->users)) ||
	    (err = client_room_add_self(cl, r))) {
		*why = "a member's key does not parse";
		return err;
	}
	if ((err = join_apply_chain(cl, r, &st->records, why)))
		return err;
	/* The server may add to the history we saw, never take from it. */
	err = cstore_room_get(cl->store, r->room_id, &saved);
	if (err && err != CC_ERR_NOT_FOUND)
		return err;
	if (!err && !e2e_chain_extends(&r->chain, saved.head_count, saved.head_hash)) {
		*why = saved.head_count > r->chain.count
			       ? "the server showed an older history of the room than before "
				 "(a rollback)"
			       : "the server showed another history of the room than before (a fork)";
		return CC_ERR_SECURITY;
	}
	if (!e2e_chain_member(&r->chain, cl->fp)) {
		*why = "the room's signed membership does not include us";
		return CC_ERR_SECURITY;
	}
	if ((err = client_room_name_users(cl, r, why)) ||
	    (err = join_take_keys(cl, r, &st->keys, why)))
		return err;
	/* The title only from a checked key. */
	if ((err = client_room_epoch_key(cl, r, r->chain.epoch, key)))
		return err;
	if (st->title_ct.len &&
	    e2e_title_open(key, r->room_id, r->chain.epoch, st->title_ct.p, st->title_ct.len,
			   r->title) != CC_OK) {
		r->title[0] = '\0';
		client_emit_room_error(cl, r->id_hex, NULL, "security",
				       "the room's title does not open under its key");
	}
	mem_wipe(key, sizeof key);
	proto_list_iter_init(&it, &st->gone, PROTO_ITEM_GONE);
	while (proto_list_next(&it, &gone) == CC_OK)
		if (e2e_chain_member(&r->chain, gone.fingerprint))
			r->gone_pending = true;
	r->last_msg_id = saved.last_msg_id;
	client_room_save(cl, r);
	return CC_OK;
}

static void join_on_state(struct client *cl, const struct proto_room_state *st)
{
	const char *why = "";
	struct client_room *r = client_room_new(st->room_id);
	cc_err err = r ? client_join_verify(cl, r, st, &why) : CC_ERR_NOMEM;

	if (err) {
		char hex[2 * PROTO_ROOM_ID_LEN + 1];
		hex_encode(st->room_id, PROTO_ROOM_ID_LEN, hex);
		client_emit_room_error(cl, hex, NULL, err == CC_ERR_SECURITY ? "security"
									  : cc_err_code(err),
				       *why ? why : cc_err_str(err));
		client_room_free(r);
		cl->op_failed = true;
		return;
	}
	struct client_room *old = client_room_find(cl, r->room_id);
	if (old)
		r->acked_msg_id = old->acked_msg_id;
	r->joined = true;
	if (client_room_install(cl, r)) {
		client_room_free(r);
		cl->op_failed = true;
		return;
	}
	if (cl->op == OP_LEAVE_LOAD)
		return;  /* loaded only to leave it */
	cl->current = r;
	client_maybe_rekey(cl, r);  /* an epoch that grew old while we were away */
	client_emit(cl, json_pack("{s:s, s:s, s:s, s:s, s:o, s:i, s:i}", "event", "joined", "room",
				  r->id_hex, "title", r->title, "admin", r->chain.admin.nick,
				  "members", client_room_members_json(r), "epoch",
				  (int)r->chain.epoch, "backlog", (int)st->backlog));
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
		client_owed_add(cl, m->u.room_ref.room_id);
		if (cl->state == CLIENT_READY && client_rooms_work(cl))
			client_notify(cl);
	}
	return CC_OK;
}

/* ---- answers --------------------------------------------------------------------- */

void client_on_answer(struct client *cl, const struct proto_msg *m)
{
	char hex[2 * PROTO_ROOM_ID_LEN + 1];
	hex_encode(cl->op_room, PROTO_ROOM_ID_LEN, hex);

	if (cl->op == OP_SEND) {
		client_send_on_answer(cl, m);
		return;
	}
	if (m->type == PROTO_ERROR) {
		char text[PROTO_ERROR_TEXT_MAX + 1];
		const char *code = m->u.error.code < CC_ERR_COUNT_ ? cc_err_code(m->u.error.code)
								  : "unknown";
		memcpy(text, m->u.error.text.p, m->u.error.text.len);
		text[m->u.error.text.len] = '\0';
		bool about_room = cl->op == OP_JOIN || cl->op == OP_ADD || cl->op == OP_ADD_USERS ||
				  cl->op == OP_DISCONNECT || cl->op == OP_LEAVE ||
				  cl->op == OP_LEAVE_LOAD || cl->op == OP_KICK ||
				  cl->op == OP_ADMIN || cl->op == OP_REKEY_FETCH ||
				  cl->op == OP_REKEY;
		if (about_room)
			client_emit_room_error(cl, hex, NULL, code, text);
		else
			client_emit_error(cl, code, text);
		client_room_free(cl->op_new_room);
		cl->op_new_room = NULL;
		client_op_end(cl);
		return;
	}
	switch (cl->op) {
	case OP_CREATE_USERS:
		if (m->type == PROTO_USERS)
			create_on_users(cl, &m->u.users);
		return;
	case OP_CREATE:
		if (m->type == PROTO_OK) {
			create_on_ok(cl);
			client_op_end(cl);
		}
		return;
	case OP_ROOMS:
		if (m->type == PROTO_ROOMS) {
			rooms_on_list(cl, &m->u.rooms);
			client_op_end(cl);
		}
		return;
	case OP_JOIN:
	case OP_LEAVE_LOAD:
		if (m->type == PROTO_ROOM_STATE) {
			join_on_state(cl, &m->u.room_state);
		} else if (m->type == PROTO_JOIN_DONE) {
			struct client_room *r = client_room_find(cl, cl->op_room);
			if (r && !cl->op_failed)
				client_room_ack(cl, r);
			if (cl->op == OP_LEAVE_LOAD && r && !cl->op_failed) {
				client_leave_send(cl, r);
				return;
			}
			client_op_end(cl);
		}
		return;
	case OP_ADD_USERS:
		if (m->type == PROTO_USERS)
			client_add_on_users(cl, &m->u.users);
		return;
	case OP_ADD:
	case OP_KICK:
	case OP_REKEY:
		if (m->type == PROTO_OK) {
			client_epoch_on_ok(cl);
			client_op_end(cl);
		}
		return;
	case OP_DISCONNECT:
		if (m->type == PROTO_OK) {
			struct client_room *r = client_room_find(cl, cl->op_room);
			if (r)
				r->joined = false;
			if (cl->current == r)
				cl->current = NULL;
			client_emit(cl, json_pack("{s:s, s:s}", "event", "disconnected", "room", hex));
			client_op_end(cl);
		}
		return;
	case OP_ADMIN:
		if (m->type == PROTO_OK) {
			client_admin_on_ok(cl);
			client_op_end(cl);
		}
		return;
	case OP_REKEY_FETCH:
		if (m->type == PROTO_ROOM_STATE)
			client_rekey_on_state(cl, &m->u.room_state);
		return;
	case OP_FINGERPRINT:
	case OP_SAFETY:
	case OP_VERIFY:
		if (m->type == PROTO_USERS)
			client_trust_on_users(cl, &m->u.users);
		return;
	case OP_LEAVE:
		if (m->type == PROTO_OK) {
			client_leave_on_ok(cl);
			client_op_end(cl);
		}
		return;
	default:
		return;
	}
}
