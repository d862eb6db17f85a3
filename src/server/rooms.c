/* Rooms on the server: membership, wrapped keys, store-and-forward and live
 * fan-out of ciphertext it cannot read.
 *
 * The server checks what it can (the session's identity, the room's chain of
 * signed records, sizes), stores what the members' clients made, and relays
 * it. The members' clients check everything again (src/e2e/): nothing here is
 * trusted by them.
 *
 * Messages are committed in groups: every message received in one loop turn
 * goes into one transaction, committed by the flush event before any answer
 * leaves; only then does the sender get SENT and the others the message. */
#include <event2/event.h>
#include <stdlib.h>
#include <string.h>

#include "e2e/e2e.h"
#include "proto/frame.h"
#include "proto/room.h"
#include "server/server_internal.h"
#include "store/store.h"
#include "transport/chan.h"
#include "util/clock.h"
#include "util/log.h"

/* Backlog is read in batches of this many messages per turn. */
#define PUMP_BATCH 64
/* A room's whole state (chain and directory) travels in one ROOM_STATE, which
 * must fit a 1 MiB frame even with RSA-4096 keys. */
#define ROOM_MEMBERS_MAX 256
#define ROOM_RECORDS_MAX 800

struct live_room {
	int64_t room;
	struct conn **conns;
	size_t n, cap;
};

struct pending_send {
	struct conn *sender;       /* NULL once that connection is gone */
	uint32_t request_id;
	int64_t room;
	uint8_t room_id[PROTO_ROOM_ID_LEN];
	int64_t msg_id;
	uint64_t ts_ms;
	struct buf envelope;
};

/* ---- live membership: who hears a room now ------------------------------ */

static size_t live_slot(const struct server *srv, int64_t room)
{
	return (size_t)((uint64_t)room * 0x9e3779b97f4a7c15ull) & (srv->live_cap - 1);
}

static struct live_room *live_find(const struct server *srv, int64_t room)
{
	for (size_t i = live_slot(srv, room);; i = (i + 1) & (srv->live_cap - 1)) {
		struct live_room *lr = srv->live[i];
		if (!lr || lr->room == room)
			return lr;
	}
}

static cc_err live_grow(struct server *srv)
{
	size_t old_cap = srv->live_cap;
	struct live_room **old = srv->live;
	struct live_room **table = calloc(old_cap * 2, sizeof *table);
	if (!table)
		return CC_ERR_NOMEM;
	srv->live = table;
	srv->live_cap = old_cap * 2;
	for (size_t i = 0; i < old_cap; i++) {
		if (!old[i])
			continue;
		size_t j = live_slot(srv, old[i]->room);
		while (table[j])
			j = (j + 1) & (srv->live_cap - 1);
		table[j] = old[i];
	}
	free(old);
	return CC_OK;
}

/* Removes slot i and re-seats the entries after it (linear probing). */
static void live_remove_slot(struct server *srv, size_t i)
{
	free(srv->live[i]->conns);
	free(srv->live[i]);
	srv->live[i] = NULL;
	srv->live_count--;
	for (size_t j = (i + 1) & (srv->live_cap - 1); srv->live[j];
	     j = (j + 1) & (srv->live_cap - 1)) {
		struct live_room *lr = srv->live[j];
		srv->live[j] = NULL;
		size_t k = live_slot(srv, lr->room);
		while (srv->live[k])
			k = (k + 1) & (srv->live_cap - 1);
		srv->live[k] = lr;
	}
}

static int conn_is_active(const struct conn *c, int64_t room)
{
	for (size_t i = 0; i < c->nactive; i++)
		if (c->active_rooms[i] == room)
			return 1;
	return 0;
}

static cc_err live_add(struct conn *c, int64_t room)
{
	struct server *srv = c->srv;
	cc_err err;

	if (conn_is_active(c, room))
		return CC_OK;
	if (c->nactive == c->active_cap) {
		size_t cap = c->active_cap ? c->active_cap * 2 : 4;
		int64_t *rooms = realloc(c->active_rooms, cap * sizeof *rooms);
		if (!rooms)
			return CC_ERR_NOMEM;
		c->active_rooms = rooms;
		c->active_cap = cap;
	}
	if ((srv->live_count + 1) * 2 > srv->live_cap && (err = live_grow(srv)))
		return err;
	struct live_room *lr = live_find(srv, room);
	if (!lr) {
		lr = calloc(1, sizeof *lr);
		if (!lr)
			return CC_ERR_NOMEM;
		lr->room = room;
		size_t i = live_slot(srv, room);
		while (srv->live[i])
			i = (i + 1) & (srv->live_cap - 1);
		srv->live[i] = lr;
		srv->live_count++;
	}
	if (lr->n == lr->cap) {
		size_t cap = lr->cap ? lr->cap * 2 : 8;
		struct conn **conns = realloc(lr->conns, cap * sizeof *conns);
		if (!conns)
			return CC_ERR_NOMEM;
		lr->conns = conns;
		lr->cap = cap;
	}
	lr->conns[lr->n++] = c;
	c->active_rooms[c->nactive++] = room;
	return CC_OK;
}

/* Stops live delivery of a room to c and records what it has read. */
static void live_remove(struct conn *c, int64_t room)
{
	struct server *srv = c->srv;

	if (!conn_is_active(c, room))
		return;
	for (size_t i = 0; i < c->nactive; i++) {
		if (c->active_rooms[i] == room) {
			c->active_rooms[i] = c->active_rooms[--c->nactive];
			break;
		}
	}
	for (size_t i = live_slot(srv, room); srv->live[i]; i = (i + 1) & (srv->live_cap - 1)) {
		struct live_room *lr = srv->live[i];
		if (lr->room != room)
			continue;
		for (size_t k = 0; k < lr->n; k++) {
			if (lr->conns[k] == c) {
				lr->conns[k] = lr->conns[--lr->n];
				break;
			}
		}
		if (lr->n == 0)
			live_remove_slot(srv, i);
		break;
	}
}

/* ---- helpers ------------------------------------------------------------- */

static void reply_ok(struct conn *c, uint32_t request_id)
{
	struct proto_msg m = {.type = PROTO_OK};
	m.u.request.request_id = request_id;
	conn_queue_msg(c, &m);
}

/* A room the session's user belongs to; no_such_room otherwise, whether the
 * room exists or not, so room ids cannot be probed. */
static cc_err room_of_member(struct conn *c, const uint8_t room_id[PROTO_ROOM_ID_LEN],
			     struct store_room *room, struct store_member *member)
{
	struct store_member scratch;
	cc_err err = store_room_get(c->srv->store, room_id, room);
	if (err == CC_ERR_NOT_FOUND)
		return CC_ERR_NO_SUCH_ROOM;
	if (err)
		return err;
	err = store_member_get(c->srv->store, room->id, c->user_id, member ? member : &scratch);
	return err == CC_ERR_NOT_FOUND ? CC_ERR_NO_SUCH_ROOM : err;
}

/* RSA keys by fingerprint, parsed once per operation. */
struct key_cache {
	struct server *srv;
	struct key_cache_entry {
		uint8_t fp[PROTO_FINGERPRINT_LEN];
		struct crypto_rsa_key *key;
	} *entries;
	size_t n, cap;
};

static const struct crypto_rsa_key *key_cache_lookup(void *ctx,
						     const uint8_t fp[PROTO_FINGERPRINT_LEN])
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

static void key_cache_free(struct key_cache *kc)
{
	for (size_t i = 0; i < kc->n; i++)
		crypto_rsa_free(kc->entries[i].key);
	free(kc->entries);
	kc->entries = NULL;
	kc->n = kc->cap = 0;
}

struct chain_load {
	struct e2e_chain *chain;
	struct key_cache *keys;
	cc_err err;
};

static int chain_load_record(void *ctx, uint32_t seq, const uint8_t *rec, size_t len)
{
	struct chain_load *cl = ctx;
	const char *why;
	(void)seq;
	cl->err = e2e_chain_apply(cl->chain, rec, len, key_cache_lookup, cl->keys, &why);
	if (cl->err)
		log_error("stored chain does not verify: %s", why);
	return cl->err ? 1 : 0;
}

/* The room's chain as stored, verified. */
static cc_err chain_load(struct server *srv, const struct store_room *room,
			 struct e2e_chain *chain, struct key_cache *keys)
{
	struct chain_load cl = {chain, keys, CC_OK};
	e2e_chain_init(chain, room->room_id);
	cc_err err = store_record_each(srv->store, room->id, chain_load_record, &cl);
	return cl.err ? cl.err : err;
}

/* Checks and appends one new record to a room's chain (in a transaction). */
static cc_err chain_append(struct conn *c, const struct store_room *room,
			   struct e2e_chain *chain, struct key_cache *keys,
			   const uint8_t *rec, size_t len, const char **why)
{
	cc_err err = e2e_chain_apply(chain, rec, len, key_cache_lookup, keys, why);
	if (err)
		return err;
	return store_record_append(c->srv->store, room->id, chain->count - 1, rec, len,
				   chain->last_hash);
}

/* The record a request carries must be made by the session's own key. */
static cc_err record_actor_is_session(struct conn *c, const uint8_t *rec, size_t len,
				      struct proto_record *out)
{
	cc_err err = proto_record_decode(rec, len, out);
	if (err)
		return err;
	if (memcmp(out->actor_fp, chan_peer_fingerprint(c->chan), PROTO_FINGERPRINT_LEN) != 0)
		return CC_ERR_FORBIDDEN;
	return CC_OK;
}

static cc_err user_item_put(struct server *srv, const uint8_t fp[PROTO_FINGERPRINT_LEN],
			    struct buf *raw);

/* Sends a record, with its actor's and subject's directory entries, to every
 * live member of the room but `except`. */
static void broadcast_record_keyed(struct server *srv, int64_t room,
				   const uint8_t room_id[PROTO_ROOM_ID_LEN], const uint8_t *rec,
				   size_t len, const struct conn *except,
				   const struct proto_list *keys);

static void broadcast_record(struct server *srv, int64_t room,
			     const uint8_t room_id[PROTO_ROOM_ID_LEN], const uint8_t *rec,
			     size_t len, const struct conn *except)
{
	broadcast_record_keyed(srv, room, room_id, rec, len, except, NULL);
}

/* The wrapped key in keys meant for nick, as a one-item list in raw. */
static uint16_t key_for_nick(const struct proto_list *keys, const char *nick, struct buf *raw)
{
	struct proto_list_iter it;
	struct proto_wrapped_item w;

	buf_reset(raw);
	if (!keys)
		return 0;
	proto_list_iter_init(&it, keys, PROTO_ITEM_WRAPPED);
	while (proto_list_next(&it, &w) == CC_OK)
		if (w.nick.len == strlen(nick) && strncasecmp((const char *)w.nick.p, nick, w.nick.len) == 0)
			return proto_item_encode(PROTO_ITEM_WRAPPED, &w, raw) == CC_OK ? 1 : 0;
	return 0;
}

/* Sends a record to every live member of the room but `except`, each with its
 * own wrapped key of a new epoch when keys is given. */
static void broadcast_record_keyed(struct server *srv, int64_t room,
				   const uint8_t room_id[PROTO_ROOM_ID_LEN], const uint8_t *rec,
				   size_t len, const struct conn *except,
				   const struct proto_list *keys)
{
	struct live_room *lr = live_find(srv, room);
	struct proto_msg m = {.type = PROTO_ROOM_RECORD};
	struct proto_record r;
	struct buf users;
	uint16_t nusers = 0;

	if (!lr || proto_record_decode(rec, len, &r))
		return;
	buf_init(&users, 8192);
	const uint8_t *fps[2] = {r.actor_fp, r.subject_fp};
	for (int i = 0; i < 2; i++) {
		if (i == 1 && memcmp(fps[0], fps[1], PROTO_FINGERPRINT_LEN) == 0)
			break;
		if (user_item_put(srv, fps[i], &users) == CC_OK)
			nusers++;
	}
	memcpy(m.u.room_record.room_id, room_id, PROTO_ROOM_ID_LEN);
	m.u.room_record.record = (struct proto_bytes){rec, len};
	m.u.room_record.users = (struct proto_list){nusers, {users.data, users.len}};
	struct buf key;
	buf_init(&key, PROTO_WRAPPED_MAX + 64);
	for (size_t i = lr->n; i-- > 0;) {
		if (lr->conns[i] == except)
			continue;
		uint16_t n = key_for_nick(keys, lr->conns[i]->nick, &key);
		m.u.room_record.keys = (struct proto_list){n, {key.data, key.len}};
		conn_queue_msg(lr->conns[i], &m);
	}
	buf_free(&key);
	buf_free(&users);
}

static void notify_owed(struct server *srv, int64_t user);
static void room_drop_user(struct server *srv, int64_t room, int64_t user);

/* 1 if keys holds exactly one key for each member of the chain, by nickname. */
static int keys_cover_members(const struct e2e_chain *chain, const struct proto_list *keys)
{
	if (keys->count != chain->nmembers)
		return 0;
	for (size_t i = 0; i < chain->nmembers; i++) {
		const char *nick = chain->members[i].nick;
		struct proto_list_iter it;
		struct proto_wrapped_item w;
		unsigned found = 0;
		proto_list_iter_init(&it, keys, PROTO_ITEM_WRAPPED);
		while (proto_list_next(&it, &w) == CC_OK)
			if (w.nick.len == strlen(nick) &&
			    strncasecmp((const char *)w.nick.p, nick, w.nick.len) == 0)
				found++;
		if (found != 1)
			return 0;
	}
	return 1;
}

/* ---- requests ------------------------------------------------------------- */

static cc_err handle_signing_key(struct conn *c, const struct proto_signing_key *sk)
{
	/* Only a key its owner certified is handed out to others. */
	if (e2e_signing_cert_verify(chan_peer_key(c->chan), sk->sign_pub, sk->sign_cert.p,
				    sk->sign_cert.len)) {
		conn_send_error(c, sk->request_id, CC_ERR_AUTH, "the signing key's certificate "
								"does not verify");
		return CC_OK;
	}
	cc_err err = store_user_set_signing_key(c->srv->store, c->user_id, sk->sign_pub,
						sk->sign_cert.p, sk->sign_cert.len);
	if (err)
		conn_send_error(c, sk->request_id, err, NULL);
	else
		reply_ok(c, sk->request_id);
	return CC_OK;
}

/* Appends the directory entry of the key with this fingerprint (a user's, or
 * a retired one) to a list being built. */
static cc_err user_item_put(struct server *srv, const uint8_t fp[PROTO_FINGERPRINT_LEN],
			    struct buf *raw)
{
	struct store_public_key k;
	struct proto_user_item item = {0};

	cc_err err = store_public_key_get(srv->store, fp, &k);
	if (err)
		return err;
	item.nick = proto_bytes_str(k.nick);
	item.identity_key = (struct proto_bytes){k.pubkey, k.pubkey_len};
	memcpy(item.sign_pub, k.sign_pub, sizeof item.sign_pub);
	item.sign_cert = (struct proto_bytes){k.sign_cert, k.sign_cert_len};
	err = proto_item_encode(PROTO_ITEM_USER, &item, raw);
	store_public_key_clear(&k);
	return err;
}

static cc_err handle_users_get(struct conn *c, const struct proto_users_get *req)
{
	struct proto_list_iter it;
	struct proto_nick_item item;
	struct store_user u;
	struct buf raw;
	char nick[PROTO_NICK_MAX + 1], text[80];
	cc_err err = CC_OK;

	buf_init(&raw, c->srv->cfg->max_frame / 2);
	proto_list_iter_init(&it, &req->nicks, PROTO_ITEM_NICK);
	while (proto_list_next(&it, &item) == CC_OK) {
		memcpy(nick, item.nick.p, item.nick.len);
		nick[item.nick.len] = '\0';
		err = store_user_get_by_nick(c->srv->store, nick, &u);
		if (err == CC_ERR_NOT_FOUND) {
			snprintf(text, sizeof text, "no user is called %s", nick);
			conn_send_error(c, req->request_id, CC_ERR_UNKNOWN_USER, text);
			goto out;
		}
		if (!err)
			err = user_item_put(c->srv, u.fingerprint, &raw);
		store_user_clear(&u);
		if (err) {
			conn_send_error(c, req->request_id, err, NULL);
			goto out;
		}
	}
	struct proto_msg m = {.type = PROTO_USERS};
	m.u.users.request_id = req->request_id;
	m.u.users.users = (struct proto_list){req->nicks.count, {raw.data, raw.len}};
	conn_queue_msg(c, &m);
out:
	buf_free(&raw);
	return CC_OK;
}

static cc_err handle_room_create(struct conn *c, const struct proto_room_create *req)
{
	struct server *srv = c->srv;
	struct e2e_chain chain;
	struct key_cache keys = {.srv = srv};
	struct proto_list_iter it;
	struct proto_blob_item rec_item;
	struct proto_wrapped_item key_item;
	struct proto_record first;
	struct store_room room;
	const char *why = "";
	int64_t room_row = 0;
	cc_err err;

	e2e_chain_init(&chain, req->room_id);
	if (req->records.count > ROOM_MEMBERS_MAX) {
		err = CC_ERR_LIMIT;
		why = "a room has at most 256 members";
		goto reply;
	}
	if (req->records.count == 0 || req->keys.count != req->records.count) {
		err = CC_ERR_MALFORMED;
		why = "a room needs its records and one key per member";
		goto reply;
	}
	proto_list_iter_init(&it, &req->records, PROTO_ITEM_BLOB);
	if ((err = proto_list_next(&it, &rec_item)) ||
	    (err = record_actor_is_session(c, rec_item.data.p, rec_item.data.len, &first)))
		goto reply;

	server_rooms_commit(srv);
	if ((err = store_begin(srv->store)))
		goto reply;
	err = store_room_create(srv->store, req->room_id, c->user_id, clock_now_ms(), &room_row);
	if (err)
		goto rollback;
	if ((err = store_room_get_by_id(srv->store, room_row, &room)) ||
	    (err = store_epoch_put(srv->store, room_row, 0, req->title_ct.p, req->title_ct.len)))
		goto rollback;
	/* Every record must verify and apply; each subject becomes a member. */
	proto_list_iter_init(&it, &req->records, PROTO_ITEM_BLOB);
	while (proto_list_next(&it, &rec_item) == CC_OK) {
		struct proto_record rec;
		struct store_user subject;
		if ((err = chain_append(c, &room, &chain, &keys, rec_item.data.p, rec_item.data.len,
					&why)))
			goto rollback;
		proto_record_decode(rec_item.data.p, rec_item.data.len, &rec);
		if (rec.action != PROTO_REC_CREATE && rec.action != PROTO_REC_ADD) {
			err = CC_ERR_MALFORMED;
			why = "a new room takes only create and add records";
			goto rollback;
		}
		if ((err = store_user_get_by_fingerprint(srv->store, rec.subject_fp, &subject))) {
			err = err == CC_ERR_NOT_FOUND ? CC_ERR_UNKNOWN_USER : err;
			goto rollback;
		}
		err = store_member_add(srv->store, room_row, subject.id, 1, 0);
		store_user_clear(&subject);
		if (err)
			goto rollback;
	}
	/* One wrapped epoch-0 key for each member, and only for members. */
	if (!keys_cover_members(&chain, &req->keys)) {
		err = CC_ERR_MALFORMED;
		why = "the key must go to every member once, and only to members";
		goto rollback;
	}
	proto_list_iter_init(&it, &req->keys, PROTO_ITEM_WRAPPED);
	while (proto_list_next(&it, &key_item) == CC_OK) {
		struct store_user u;
		char nick[PROTO_NICK_MAX + 1];
		memcpy(nick, key_item.nick.p, key_item.nick.len);
		nick[key_item.nick.len] = '\0';
		if (key_item.epoch != 0 || store_user_get_by_nick(srv->store, nick, &u) != CC_OK) {
			err = CC_ERR_MALFORMED;
			why = "a key for an unknown user or epoch";
			goto rollback;
		}
		if (!e2e_chain_member(&chain, u.fingerprint)) {
			store_user_clear(&u);
			err = CC_ERR_MALFORMED;
			why = "a key for someone who is not a member";
			goto rollback;
		}
		err = store_key_put(srv->store, room_row, 0, u.id, key_item.wrapped.p,
				    key_item.wrapped.len);
		store_user_clear(&u);
		if (err)
			goto rollback;
	}
	if ((err = store_commit(srv->store)))
		goto reply;
	log_info("conn %s: %s created a room of %zu members", c->peer, c->nick, chain.nmembers);
	goto reply;
rollback:
	store_rollback(srv->store);
reply:
	if (err) {
		if (err == CC_ERR_EXISTS)
			why = "a room with this id exists";
		conn_send_error(c, req->request_id, err, *why ? why : NULL);
	} else {
		reply_ok(c, req->request_id);
	}
	e2e_chain_free(&chain);
	key_cache_free(&keys);
	return CC_OK;
}

struct key_find {
	uint32_t epoch;
	uint8_t *wrapped;
	size_t len;
};

static int key_find_cb(void *ctx, uint32_t epoch, const uint8_t *wrapped, size_t len)
{
	struct key_find *kf = ctx;
	if (epoch != kf->epoch || kf->wrapped)
		return 0;
	kf->wrapped = malloc(len ? len : 1);
	if (kf->wrapped) {
		memcpy(kf->wrapped, wrapped, len);
		kf->len = len;
	}
	return 0;
}

struct list_ctx {
	struct conn *c;
	struct buf *raw;
	uint16_t count;
	cc_err err;
};

static int list_room(void *ctx, const struct store_member *m)
{
	struct list_ctx *lc = ctx;
	struct server *srv = lc->c->srv;
	struct store_room room;
	struct store_user admin;
	struct proto_room_item item = {0};
	uint8_t *title = NULL, *wrapped = NULL;
	size_t title_len = 0, wrapped_len = 0;
	uint32_t members = 0, unread = 0;
	cc_err err;

	if (lc->count == PROTO_LIST_MAX)
		return 0;
	if ((err = store_room_get_by_id(srv->store, m->room, &room)) ||
	    (err = store_user_get_by_id(srv->store, room.admin_user, &admin)))
		goto out;
	int64_t read_to = m->last_read_msg_id > m->first_msg_id - 1 ? m->last_read_msg_id
								    : m->first_msg_id - 1;
	if (!conn_is_active(lc->c, m->room))
		store_message_count_after(srv->store, m->room, read_to, &unread);
	store_member_count(srv->store, m->room, &members);
	err = store_epoch_get(srv->store, m->room, room.epoch, &title, &title_len);
	if (err && err != CC_ERR_NOT_FOUND)
		goto out_admin;
	/* The asker's key of the current epoch opens the title (none while a
	 * new key is owed). */
	memcpy(item.room_id, room.room_id, PROTO_ROOM_ID_LEN);
	item.admin = proto_bytes_str(admin.nick);
	item.epoch = room.epoch;
	item.members = members;
	item.unread = unread;
	item.title_ct = (struct proto_bytes){title, title_len};
	struct key_find kf = {room.epoch, NULL, 0};
	err = store_key_each(srv->store, m->room, lc->c->user_id, room.epoch, key_find_cb, &kf);
	wrapped = kf.wrapped;
	if (err)
		goto out_admin;
	wrapped_len = kf.len;
	item.wrapped = (struct proto_bytes){wrapped, wrapped_len};
	if ((err = proto_item_encode(PROTO_ITEM_ROOM, &item, lc->raw)) == CC_OK)
		lc->count++;
out_admin:
	store_user_clear(&admin);
out:
	free(title);
	free(wrapped);
	lc->err = err;
	return err ? 1 : 0;
}

static cc_err handle_rooms_list(struct conn *c, uint32_t request_id)
{
	struct buf raw;
	struct list_ctx lc = {c, &raw, 0, CC_OK};

	server_rooms_commit(c->srv);
	buf_init(&raw, c->srv->cfg->max_frame / 2);
	cc_err err = store_member_each_room_of(c->srv->store, c->user_id, list_room, &lc);
	if (lc.err || err) {
		conn_send_error(c, request_id, lc.err ? lc.err : err, NULL);
	} else {
		struct proto_msg m = {.type = PROTO_ROOMS};
		m.u.rooms.request_id = request_id;
		m.u.rooms.rooms = (struct proto_list){lc.count, {raw.data, raw.len}};
		conn_queue_msg(c, &m);
	}
	buf_free(&raw);
	return CC_OK;
}

/* ---- join: state, then backlog, then live ---------------------------------- */

struct state_ctx {
	struct server *srv;
	struct buf *gone;
	uint16_t ngone;
	struct buf *records;
	uint16_t nrecords;
	struct buf *users;
	uint16_t nusers;
	uint8_t (*seen)[PROTO_FINGERPRINT_LEN];
	size_t nseen, seen_cap;
	struct buf *keys;
	uint16_t nkeys;
	const char *nick;
	cc_err err;
};

/* Adds the directory entry of a fingerprint the chain names, once. */
static cc_err state_add_user(struct state_ctx *sc, const uint8_t fp[PROTO_FINGERPRINT_LEN])
{
	for (size_t i = 0; i < sc->nseen; i++)
		if (memcmp(sc->seen[i], fp, PROTO_FINGERPRINT_LEN) == 0)
			return CC_OK;
	if (sc->nseen == sc->seen_cap) {
		size_t cap = sc->seen_cap ? sc->seen_cap * 2 : 16;
		void *p = realloc(sc->seen, cap * sizeof *sc->seen);
		if (!p)
			return CC_ERR_NOMEM;
		sc->seen = p;
		sc->seen_cap = cap;
	}
	memcpy(sc->seen[sc->nseen++], fp, PROTO_FINGERPRINT_LEN);
	cc_err err = user_item_put(sc->srv, fp, sc->users);
	if (err == CC_ERR_NOT_FOUND)
		return CC_OK;  /* never known here: the members' clients will say so */
	if (!err)
		sc->nusers++;
	return err;
}

static int state_record(void *ctx, uint32_t seq, const uint8_t *rec, size_t len)
{
	struct state_ctx *sc = ctx;
	struct proto_blob_item item = {{rec, len}};
	struct proto_record r;
	(void)seq;
	if ((sc->err = proto_item_encode(PROTO_ITEM_BLOB, &item, sc->records)))
		return 1;
	sc->nrecords++;
	if ((sc->err = proto_record_decode(rec, len, &r)) ||
	    (sc->err = state_add_user(sc, r.actor_fp)) ||
	    (sc->err = state_add_user(sc, r.subject_fp)))
		return 1;
	return 0;
}

static int state_key(void *ctx, uint32_t epoch, const uint8_t *wrapped, size_t len)
{
	struct state_ctx *sc = ctx;
	struct proto_wrapped_item item;
	item.nick = proto_bytes_str(sc->nick);
	item.epoch = epoch;
	item.wrapped = (struct proto_bytes){wrapped, len};
	if ((sc->err = proto_item_encode(PROTO_ITEM_WRAPPED, &item, sc->keys)))
		return 1;
	sc->nkeys++;
	return 0;
}

static int state_gone(void *ctx, uint32_t n, const uint8_t *blob, size_t len)
{
	struct state_ctx *sc = ctx;
	struct proto_blob_item item = {{blob, len}};
	(void)n;
	if ((sc->err = proto_item_encode(PROTO_ITEM_BLOB, &item, sc->gone)))
		return 1;
	sc->ngone++;
	return 0;
}

static int pump_message(void *ctx, const struct store_message *sm)
{
	struct conn *c = ctx;
	struct proto_msg m = {.type = PROTO_ROOM_MSG};
	struct store_room room;

	if (store_room_get_by_id(c->srv->store, sm->room, &room))
		return 1;
	memcpy(m.u.room_msg.room_id, room.room_id, PROTO_ROOM_ID_LEN);
	m.u.room_msg.msg_id = (uint64_t)sm->msg_id;
	m.u.room_msg.server_ts_ms = sm->ts_ms;
	m.u.room_msg.envelope = (struct proto_bytes){sm->blob, sm->len};
	if (conn_queue_msg(c, &m))
		return 1;
	c->pump_after = sm->msg_id;
	return 0;
}

/* Sends backlog until the connection's output is half full or the backlog is
 * done; in the latter case the connection goes live in the room. Messages
 * stored meanwhile are read from the store, so none is lost or reordered. */
static void pump_backlog(struct conn *c)
{
	struct server *srv = c->srv;

	while (c->pumping && !c->dead) {
		if (conn_queued(c) > srv->cfg->max_output / 2)
			return;  /* conn_write_cb calls back once drained */
		int64_t before = c->pump_after;
		if (store_message_each(srv->store, c->pump_room, c->pump_after, PUMP_BATCH,
				       pump_message, c) != CC_OK) {
			conn_send_error(c, c->pump_request, CC_ERR_STORE, NULL);
			c->pumping = false;
			return;
		}
		if (c->pump_after - before < PUMP_BATCH) {
			struct proto_msg m = {.type = PROTO_JOIN_DONE};
			struct store_room room;
			c->pumping = false;
			if (store_room_get_by_id(srv->store, c->pump_room, &room) ||
			    live_add(c, c->pump_room)) {
				conn_send_error(c, c->pump_request, CC_ERR_STORE, NULL);
				return;
			}
			m.u.room_ref.request_id = c->pump_request;
			memcpy(m.u.room_ref.room_id, room.room_id, PROTO_ROOM_ID_LEN);
			conn_queue_msg(c, &m);
		}
	}
}

void server_on_output_drained(struct conn *c)
{
	server_rooms_commit(c->srv);
	pump_backlog(c);
}

/* Queues ROOM_STATE for a member: chain, directory, its keys, gone members. */
static cc_err queue_room_state(struct conn *c, uint32_t request_id, const struct store_room *room,
			       const struct store_member *member, uint32_t backlog)
{
	struct server *srv = c->srv;
	struct buf records, users, keys, gone;
	uint8_t *title = NULL;
	size_t title_len = 0;
	cc_err err;

	buf_init(&records, srv->cfg->max_frame / 2);
	buf_init(&users, srv->cfg->max_frame / 2);
	buf_init(&keys, srv->cfg->max_frame / 4);
	buf_init(&gone, srv->cfg->max_frame / 4);
	struct state_ctx sc = {.srv = srv, .records = &records, .users = &users, .keys = &keys,
			       .gone = &gone, .nick = c->nick};
	if ((err = store_record_each(srv->store, room->id, state_record, &sc)) || sc.err ||
	    (err = store_key_each(srv->store, room->id, c->user_id, member->since_epoch,
				  state_key, &sc)) || sc.err ||
	    (err = store_room_gone_each(srv->store, room->id, state_gone, &sc)) || sc.err)
		goto out;
	err = store_epoch_get(srv->store, room->id, room->epoch, &title, &title_len);
	if (err && err != CC_ERR_NOT_FOUND)
		goto out;
	struct proto_msg m = {.type = PROTO_ROOM_STATE};
	struct proto_room_state *st = &m.u.room_state;
	st->request_id = request_id;
	memcpy(st->room_id, room->room_id, PROTO_ROOM_ID_LEN);
	st->title_ct = (struct proto_bytes){title, title_len};
	st->records = (struct proto_list){sc.nrecords, {records.data, records.len}};
	st->users = (struct proto_list){sc.nusers, {users.data, users.len}};
	st->keys = (struct proto_list){sc.nkeys, {keys.data, keys.len}};
	st->gone = (struct proto_list){sc.ngone, {gone.data, gone.len}};
	st->backlog = backlog;
	err = conn_queue_msg(c, &m);
out:
	if (sc.err)
		err = sc.err;
	free(title);
	free(sc.seen);
	buf_free(&records);
	buf_free(&users);
	buf_free(&keys);
	buf_free(&gone);
	return err;
}

static cc_err handle_room_fetch(struct conn *c, const struct proto_room_ref *req)
{
	struct store_room room;
	struct store_member member;
	server_rooms_commit(c->srv);
	cc_err err = room_of_member(c, req->room_id, &room, &member);
	if (!err)
		err = queue_room_state(c, req->request_id, &room, &member, 0);
	if (err)
		conn_send_error(c, req->request_id, err, NULL);
	return CC_OK;
}

static cc_err handle_room_join(struct conn *c, const struct proto_room_ref *req)
{
	struct server *srv = c->srv;
	struct store_room room;
	struct store_member member;
	uint32_t backlog = 0;
	cc_err err;

	if (c->pumping) {
		conn_send_error(c, req->request_id, CC_ERR_STATE, "a join is still in progress");
		return CC_OK;
	}
	server_rooms_commit(srv);
	if ((err = room_of_member(c, req->room_id, &room, &member))) {
		conn_send_error(c, req->request_id, err, NULL);
		return CC_OK;
	}
	if (conn_is_active(c, room.id))
		live_remove(c, room.id);  /* rejoining: from what the client acknowledged */
	int64_t after = member.last_read_msg_id > member.first_msg_id - 1
				? member.last_read_msg_id
				: member.first_msg_id - 1;
	if ((err = store_message_count_after(srv->store, room.id, after, &backlog)))
		goto out;
	if ((err = queue_room_state(c, req->request_id, &room, &member, backlog)))
		goto out;
	c->pumping = true;
	c->pump_room = room.id;
	c->pump_request = req->request_id;
	c->pump_after = after;
	pump_backlog(c);
out:
	if (err)
		conn_send_error(c, req->request_id, err, NULL);
	return CC_OK;
}

/* ---- messages ------------------------------------------------------------- */

static cc_err handle_msg_send(struct conn *c, const struct proto_msg_send *req)
{
	struct server *srv = c->srv;
	struct proto_envelope env;
	struct store_room room;
	cc_err err;

	if ((err = proto_envelope_decode(req->envelope.p, req->envelope.len, &env))) {
		conn_send_error(c, req->request_id, err, "the message does not parse");
		return CC_OK;
	}
	if ((err = room_of_member(c, env.room_id, &room, NULL))) {
		conn_send_error(c, req->request_id, err, NULL);
		return CC_OK;
	}
	/* The sender is the session, never a name inside the message. */
	if (env.sender.len != strlen(c->nick) ||
	    memcmp(env.sender.p, c->nick, env.sender.len) != 0) {
		conn_send_error(c, req->request_id, CC_ERR_FORBIDDEN,
				"a message must name its sender's own nickname");
		return CC_OK;
	}
	if (env.epoch != room.epoch) {
		conn_send_error(c, req->request_id, CC_ERR_STALE_EPOCH, NULL);
		return CC_OK;
	}
	if (srv->nsends == srv->sends_cap) {
		size_t cap = srv->sends_cap ? srv->sends_cap * 2 : 64;
		struct pending_send *p = realloc(srv->sends, cap * sizeof *p);
		if (!p)
			return CC_ERR_NOMEM;
		for (size_t i = srv->sends_cap; i < cap; i++)
			buf_init(&p[i].envelope, PROTO_ENVELOPE_MAX);
		srv->sends = p;
		srv->sends_cap = cap;
	}
	if (!srv->txn_open) {
		if ((err = store_begin(srv->store))) {
			conn_send_error(c, req->request_id, err, NULL);
			return CC_OK;
		}
		srv->txn_open = true;
		event_active(srv->flush_ev, EV_WRITE, 0);
	}
	struct pending_send *ps = &srv->sends[srv->nsends];
	ps->ts_ms = clock_now_ms();
	err = store_message_append(srv->store, room.id, c->user_id, env.epoch, ps->ts_ms,
				   req->envelope.p, req->envelope.len, &ps->msg_id);
	if (err) {
		conn_send_error(c, req->request_id, err, NULL);
		return CC_OK;
	}
	buf_reset(&ps->envelope);
	if ((err = buf_put_bytes(&ps->envelope, req->envelope.p, req->envelope.len)))
		return err;
	ps->sender = c;
	ps->request_id = req->request_id;
	ps->room = room.id;
	memcpy(ps->room_id, room.room_id, PROTO_ROOM_ID_LEN);
	srv->nsends++;
	return CC_OK;
}

/* Encodes ROOM_MSG once as an inner frame, then copies it to every listener. */
static void fan_out(struct server *srv, const struct pending_send *ps)
{
	struct live_room *lr = live_find(srv, ps->room);
	struct proto_msg m = {.type = PROTO_ROOM_MSG};
	uint8_t *hdr;

	if (!lr)
		return;
	memcpy(m.u.room_msg.room_id, ps->room_id, PROTO_ROOM_ID_LEN);
	m.u.room_msg.msg_id = (uint64_t)ps->msg_id;
	m.u.room_msg.server_ts_ms = ps->ts_ms;
	m.u.room_msg.envelope = (struct proto_bytes){ps->envelope.data, ps->envelope.len};
	buf_reset(&srv->fanout);
	if (buf_append_space(&srv->fanout, PROTO_FRAME_HEADER_LEN, &hdr) ||
	    proto_msg_encode(&m, &srv->fanout))
		return;
	store_be32(srv->fanout.data, (uint32_t)(srv->fanout.len - PROTO_FRAME_HEADER_LEN));
	/* Iterate backwards: a connection dropped for its output cap is only
	 * marked dead, so the array does not change under us. */
	for (size_t i = lr->n; i-- > 0;)
		if (lr->conns[i] != ps->sender)
			conn_queue_frame(lr->conns[i], srv->fanout.data, srv->fanout.len);
}

void server_rooms_commit(struct server *srv)
{
	if (!srv->txn_open)
		return;
	srv->txn_open = false;
	cc_err err = store_commit(srv->store);
	if (err)
		store_rollback(srv->store);
	for (size_t i = 0; i < srv->nsends; i++) {
		struct pending_send *ps = &srv->sends[i];
		if (err) {
			if (ps->sender)
				conn_send_error(ps->sender, ps->request_id, err, NULL);
			continue;
		}
		if (ps->sender) {
			struct proto_msg m = {.type = PROTO_SENT};
			m.u.sent.request_id = ps->request_id;
			memcpy(m.u.sent.room_id, ps->room_id, PROTO_ROOM_ID_LEN);
			m.u.sent.msg_id = (uint64_t)ps->msg_id;
			m.u.sent.server_ts_ms = ps->ts_ms;
			conn_queue_msg(ps->sender, &m);
		}
		fan_out(srv, ps);
	}
	srv->nsends = 0;
}

/* ---- membership changes ------------------------------------------------------ */

static cc_err handle_room_disconnect(struct conn *c, const struct proto_room_ref *req)
{
	struct store_room room;
	server_rooms_commit(c->srv);
	cc_err err = room_of_member(c, req->room_id, &room, NULL);
	if (err) {
		conn_send_error(c, req->request_id, err, NULL);
		return CC_OK;
	}
	if (c->pumping && c->pump_room == room.id)
		c->pumping = false;
	live_remove(c, room.id);
	reply_ok(c, req->request_id);
	return CC_OK;
}

/* Drops every live connection of a user from a room (it left or was removed). */
static void room_drop_user(struct server *srv, int64_t room, int64_t user)
{
	struct live_room *lr = live_find(srv, room);
	for (size_t i = lr ? lr->n : 0; i-- > 0;) {
		struct conn *other = lr->conns[i];
		if (other->user_id == user) {
			live_remove(other, room);
			lr = live_find(srv, room);
			if (!lr)
				break;
		}
	}
	for (struct conn *o = srv->conns; o; o = o->next)
		if (o->user_id == user && o->pumping && o->pump_room == room)
			o->pumping = false;
}

/* ---- new epochs: kick, rekey (after leaves and expiries), admin handover ---- */

/* Tells each of the user's connections which rooms owe a new key. */
static int owed_notify_one(void *ctx, const struct store_member *m)
{
	struct conn *c = ctx;
	struct store_room room;
	struct proto_msg msg = {.type = PROTO_REKEY_OWED};
	if (store_room_get_by_id(c->srv->store, m->room, &room) == CC_OK) {
		memcpy(msg.u.room_ref.room_id, room.room_id, PROTO_ROOM_ID_LEN);
		conn_queue_msg(c, &msg);
	}
	return 0;
}

static void notify_owed(struct server *srv, int64_t user)
{
	for (struct conn *c = srv->conns; c; c = c->next)
		if (c->user_id == user && !c->dead && !c->closing)
			store_room_each_owed(srv->store, user, owed_notify_one, c);
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

/* KICK (one record) or REKEY (EXPIREs, then one REKEY): a new epoch, its
 * title and one key per remaining member, checked and stored at once. */
static cc_err handle_new_epoch(struct conn *c, const struct proto_room_rekey *req, bool kick)
{
	struct server *srv = c->srv;
	struct store_room room;
	struct e2e_chain chain;
	struct key_cache keys = {.srv = srv};
	struct proto_list_iter it;
	struct proto_blob_item item;
	struct proto_record rec;
	struct store_user kicked = {0};
	const char *why = "";
	uint16_t left = req->records.count;
	cc_err err;

	server_rooms_commit(srv);
	e2e_chain_init(&chain, req->room_id);
	if ((err = room_of_member(c, req->room_id, &room, NULL)))
		goto reply;
	if (room.admin_user != c->user_id) {
		err = CC_ERR_NOT_ADMIN;
		goto reply;
	}
	if (left == 0 || (kick && left != 1)) {
		err = CC_ERR_MALFORMED;
		why = "a new epoch takes its records";
		goto reply;
	}
	if ((err = chain_load(srv, &room, &chain, &keys)))
		goto reply;
	if (chain.count + left > ROOM_RECORDS_MAX) {
		err = CC_ERR_LIMIT;
		goto reply;
	}
	if ((err = store_begin(srv->store)))
		goto reply;
	proto_list_iter_init(&it, &req->records, PROTO_ITEM_BLOB);
	while (proto_list_next(&it, &item) == CC_OK) {
		left--;
		if ((err = record_actor_is_session(c, item.data.p, item.data.len, &rec)))
			goto rollback;
		uint8_t want = kick ? PROTO_REC_KICK : left ? PROTO_REC_EXPIRE : PROTO_REC_REKEY;
		if (rec.action != want) {
			err = CC_ERR_MALFORMED;
			why = kick ? "not a kick record" : "expire records, then one rekey record";
			goto rollback;
		}
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
		if ((err = chain_append(c, &room, &chain, &keys, item.data.p, item.data.len, &why)))
			goto rollback;
		if (rec.action == PROTO_REC_KICK) {
			if ((err = store_user_get_by_fingerprint(srv->store, rec.subject_fp, &kicked)) ||
			    (err = store_member_remove(srv->store, room.id, kicked.id)))
				goto rollback;
		}
	}
	/* Exactly one key of the new epoch for every member the chain now has. */
	if (!keys_cover_members(&chain, &req->keys)) {
		err = CC_ERR_MALFORMED;
		why = "the new key must go to every member, and only to members";
		goto rollback;
	}
	struct proto_wrapped_item w;
	proto_list_iter_init(&it, &req->keys, PROTO_ITEM_WRAPPED);
	while (proto_list_next(&it, &w) == CC_OK) {
		struct store_user u;
		char nick[PROTO_NICK_MAX + 1];
		memcpy(nick, w.nick.p, w.nick.len);
		nick[w.nick.len] = '\0';
		if (w.epoch != chain.epoch || store_user_get_by_nick(srv->store, nick, &u) != CC_OK) {
			err = CC_ERR_MALFORMED;
			why = "a key for an unknown user or epoch";
			goto rollback;
		}
		bool member = e2e_chain_member(&chain, u.fingerprint) != NULL;
		err = member ? store_key_put(srv->store, room.id, chain.epoch, u.id, w.wrapped.p,
					     w.wrapped.len)
			     : CC_ERR_MALFORMED;
		store_user_clear(&u);
		if (err) {
			why = "a key for someone who is not a member";
			goto rollback;
		}
	}
	uint32_t gone_count = 0;
	if ((err = store_epoch_put(srv->store, room.id, chain.epoch, req->title_ct.p,
				   req->title_ct.len)) ||
	    (err = store_room_set_epoch(srv->store, room.id, chain.epoch)))
		goto rollback;
	struct store_user admin;
	if ((err = store_user_get_by_fingerprint(srv->store, chain.admin.fp, &admin)))
		goto rollback;
	err = store_room_set_admin(srv->store, room.id, admin.id);
	store_user_clear(&admin);
	if (err)
		goto rollback;
	/* Still owed while someone gone is not yet signed out of the chain. */
	err = store_room_gone_each(srv->store, room.id, count_blob_cb, &gone_count);
	if (err || (err = store_room_set_rekey_owed(srv->store, room.id, gone_count > 0)) ||
	    (err = store_commit(srv->store)))
		goto rollback;
	log_info("conn %s: %s started epoch %u of a room", c->peer, c->nick, chain.epoch);

	/* Tell the members: every record, the last with each one's new key. */
	proto_list_iter_init(&it, &req->records, PROTO_ITEM_BLOB);
	for (uint16_t i = 0; proto_list_next(&it, &item) == CC_OK; i++) {
		bool last = i + 1 == req->records.count;
		broadcast_record_keyed(srv, room.id, room.room_id, item.data.p, item.data.len, c,
				       last ? &req->keys : NULL);
	}
	/* The expelled member heard its own kick (without a key); now cut it off. */
	if (kick)
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
	return CC_OK;
}

/* One signed record that changes a room without a new epoch (add, admin
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
	err = store_user_get_by_fingerprint(srv->store, ch->rec.subject_fp, &ch->subject);
	if (err)
		return err == CC_ERR_NOT_FOUND ? CC_ERR_UNKNOWN_USER : err;
	return chain_load(srv, &ch->room, &ch->chain, &ch->keys);
}

static cc_err change_commit(struct record_change *ch, const struct proto_bytes *record,
			    cc_err (*apply)(struct record_change *ch, const void *arg),
			    const void *arg)
{
	struct store *st = ch->c->srv->store;
	cc_err err = store_begin(st);
	if (err)
		return err;
	if ((err = chain_append(ch->c, &ch->room, &ch->chain, &ch->keys, record->p, record->len,
				&ch->why)) ||
	    (err = apply(ch, arg)) || (err = store_commit(st)))
		store_rollback(st);
	return err;
}

static void change_end(struct record_change *ch, uint32_t request_id, cc_err err)
{
	if (err)
		conn_send_error(ch->c, request_id, err, *ch->why ? ch->why : NULL);
	else
		reply_ok(ch->c, request_id);
	store_user_clear(&ch->subject);
	e2e_chain_free(&ch->chain);
	key_cache_free(&ch->keys);
}

static cc_err apply_add(struct record_change *ch, const void *arg)
{
	const struct proto_room_add *req = arg;
	struct store *st = ch->c->srv->store;
	cc_err err = store_member_add(st, ch->room.id, ch->subject.id, ch->room.last_msg_id + 1,
				      ch->room.epoch);
	return err ? err : store_key_put(st, ch->room.id, ch->room.epoch, ch->subject.id,
					 req->wrapped.p, req->wrapped.len);
}

static cc_err handle_room_add(struct conn *c, const struct proto_room_add *req)
{
	struct record_change ch;
	cc_err err = change_begin(c, req->room_id, &req->record, PROTO_REC_ADD, true, &ch);
	if (!err && (ch.chain.nmembers >= ROOM_MEMBERS_MAX || ch.chain.count >= ROOM_RECORDS_MAX)) {
		err = CC_ERR_LIMIT;
		ch.why = "the room is full (256 members, 800 membership changes)";
	}
	if (!err && !(err = change_commit(&ch, &req->record, apply_add, req))) {
		log_info("conn %s: %s added %s to a room", c->peer, c->nick, ch.subject.nick);
		broadcast_record(c->srv, ch.room.id, ch.room.room_id, req->record.p, req->record.len,
				 c);
	}
	change_end(&ch, req->request_id, err);
	return CC_OK;
}

static cc_err apply_admin(struct record_change *ch, const void *arg)
{
	(void)arg;
	return store_room_set_admin(ch->c->srv->store, ch->room.id, ch->subject.id);
}

static cc_err handle_room_admin(struct conn *c, const struct proto_room_leave *req)
{
	struct record_change ch;
	cc_err err = change_begin(c, req->room_id, &req->record, PROTO_REC_ADMIN, true, &ch);
	if (!err && !(err = change_commit(&ch, &req->record, apply_admin, NULL))) {
		log_info("conn %s: %s handed a room to %s", c->peer, c->nick, ch.subject.nick);
		broadcast_record(c->srv, ch.room.id, ch.room.room_id, req->record.p, req->record.len,
				 c);
		/* A new key may be owed (someone left while the old admin was away). */
		notify_owed(c->srv, ch.subject.id);
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
	/* The leaver still holds the current key: the admin owes a new one. */
	return ch->chain.nmembers == 0 ? store_room_delete(st, ch->room.id)
				       : store_room_set_rekey_owed(st, ch->room.id, true);
}

static cc_err handle_room_leave(struct conn *c, const struct proto_room_leave *req)
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
			broadcast_record(c->srv, ch.room.id, ch.room.room_id, req->record.p,
					 req->record.len, c);
			notify_owed(c->srv, ch.room.admin_user);
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

/* The client has handled the room's messages up to msg_id: the backlog of its
 * next join starts after that. Reads are acknowledged by the client, not
 * assumed when the server queues them, so nothing is lost if the client dies
 * (or refuses the room) before handling them; it skips what it handled. */
static cc_err handle_room_read(struct conn *c, const struct proto_room_read *req)
{
	struct store_room room;
	struct store_member member;
	if (room_of_member(c, req->room_id, &room, &member) != CC_OK)
		return CC_OK;  /* no answer: a read for a room left meanwhile */
	int64_t upto = req->msg_id > (uint64_t)room.last_msg_id ? room.last_msg_id
							       : (int64_t)req->msg_id;
	if (upto <= member.last_read_msg_id)
		return CC_OK;
	/* Into the loop turn's group commit, like messages: one fsync for all.
	 * A read lost in a crash only means a resend the client skips. */
	struct server *srv = c->srv;
	if (!srv->txn_open) {
		if (store_begin(srv->store) != CC_OK)
			return CC_OK;
		srv->txn_open = true;
		event_active(srv->flush_ev, EV_WRITE, 0);
	}
	cc_err err = store_member_set_read(srv->store, room.id, c->user_id, upto);
	if (err)
		log_warn("conn %s: cannot record a read: %s", c->peer, cc_err_str(err));
	return CC_OK;
}

/* ---- dispatch and lifecycle ------------------------------------------------ */

cc_err server_handle_request(struct conn *c, const struct proto_msg *m)
{
	switch (m->type) {
	case PROTO_SIGNING_KEY:
		return handle_signing_key(c, &m->u.signing_key);
	case PROTO_USERS_GET:
		return handle_users_get(c, &m->u.users_get);
	case PROTO_ROOM_CREATE:
		return handle_room_create(c, &m->u.room_create);
	case PROTO_ROOMS_LIST:
		return handle_rooms_list(c, m->u.request.request_id);
	case PROTO_ROOM_JOIN:
		return handle_room_join(c, &m->u.room_ref);
	case PROTO_MSG_SEND:
		return handle_msg_send(c, &m->u.msg_send);
	case PROTO_ROOM_ADD:
		return handle_room_add(c, &m->u.room_add);
	case PROTO_ROOM_DISCONNECT:
		return handle_room_disconnect(c, &m->u.room_ref);
	case PROTO_ROOM_LEAVE:
		return handle_room_leave(c, &m->u.room_leave);
	case PROTO_ROOM_KICK:
		return handle_new_epoch(c, &m->u.room_rekey, true);
	case PROTO_ROOM_REKEY:
		return handle_new_epoch(c, &m->u.room_rekey, false);
	case PROTO_ROOM_ADMIN:
		return handle_room_admin(c, &m->u.room_leave);
	case PROTO_ROOM_FETCH:
		return handle_room_fetch(c, &m->u.room_ref);
	case PROTO_ROOM_READ:
		return handle_room_read(c, &m->u.room_read);
	default:
		/* Handshake or server-to-client messages have no business here. */
		return CC_ERR_STATE;
	}
}

void server_on_disconnect(struct conn *c)
{
	struct server *srv = c->srv;
	for (size_t i = 0; i < srv->nsends; i++)
		if (srv->sends[i].sender == c)
			srv->sends[i].sender = NULL;
	while (c->nactive)
		live_remove(c, c->active_rooms[c->nactive - 1]);
	free(c->active_rooms);
	c->active_rooms = NULL;
	c->active_cap = 0;
	c->pumping = false;
	log_debug("conn %s: %s disconnected", c->peer, c->nick);
}

/* Retention deletes in steps of this many messages, one loop turn each. */
#define PRUNE_STEP 2000

static void prune_step_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server *srv = arg;
	uint64_t deleted = 0;
	(void)fd;
	(void)what;
	server_rooms_commit(srv);
	uint64_t before = srv->cfg->history_days
				  ? clock_now_ms() - (uint64_t)srv->cfg->history_days * 86400000ull
				  : 0;
	if (store_message_prune_some(srv->store, before, srv->cfg->history_max, PRUNE_STEP,
				     &deleted) != CC_OK)
		return;
	srv->pruned += deleted;
	if (deleted == PRUNE_STEP) {
		/* More to do: let clients in first, then go on. */
		struct timeval soon = {0, 10000};
		if (event_base_once(srv->base, -1, EV_TIMEOUT, prune_step_cb, srv, &soon) == 0)
			return;
	}
	if (srv->pruned)
		log_info("retention: deleted %llu old messages", (unsigned long long)srv->pruned);
	srv->pruned = 0;
}

static void retention_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server *srv = arg;
	(void)fd;
	(void)what;
	prune_step_cb(-1, 0, srv);
	server_expire_idle(srv);
}

cc_err server_rooms_init(struct server *srv)
{
	srv->live_cap = 64;
	srv->live = calloc(srv->live_cap, sizeof *srv->live);
	buf_init(&srv->fanout, PROTO_FRAME_MAX_LIMIT);
	srv->retention_ev = event_new(srv->base, -1, EV_PERSIST, retention_cb, srv);
	if (!srv->live || !srv->retention_ev)
		return CC_ERR_NOMEM;
	/* Retention and nickname expiry, every minute (cheap: indexed queries). */
	struct timeval every = {60, 0};
	event_add(srv->retention_ev, &every);
	retention_cb(-1, 0, srv);  /* once at start */
	return CC_OK;
}

void server_rooms_free(struct server *srv)
{
	for (size_t i = 0; i < srv->live_cap; i++) {
		if (srv->live && srv->live[i]) {
			free(srv->live[i]->conns);
			free(srv->live[i]);
		}
	}
	free(srv->live);
	srv->live = NULL;
	for (size_t i = 0; i < srv->sends_cap; i++)
		buf_free(&srv->sends[i].envelope);
	free(srv->sends);
	srv->sends = NULL;
	buf_free(&srv->fanout);
	if (srv->retention_ev)
		event_free(srv->retention_ev);
	srv->retention_ev = NULL;
}
