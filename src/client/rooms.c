/* The client's rooms: every end-to-end check happens here and in
 * membership.c, before anything reaches the user. The server's word is never
 * taken: membership comes from the signed chain, keys must match the chain's
 * commitments, and messages must carry a valid signature of a member and a
 * fresh sequence number.
 *
 * This file holds the rooms and their verified state: room objects and their
 * directories, /create, /rooms, /join, talking, receiving messages, read
 * acknowledgements, and the dispatch of the server's answers. Changes of
 * membership and the new keys they bring are in membership.c. */
#include <stdlib.h>
#include <string.h>

#include "client/client_internal.h"
#include "client/rooms_internal.h"
#include "store/client_store.h"
#include "util/clock.h"
#include "util/log.h"

/* The seen table's row for a room's last server message id uses this sender. */
static const uint8_t last_id_fp[CRYPTO_FINGERPRINT_LEN];

/* ---- rooms and their directories ------------------------------------------ */

void client_room_free(struct client_room *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->nusers; i++)
		crypto_rsa_free(r->users[i].key);
	free(r->users);
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

/* Puts r in the list, replacing any room with its id. */
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
	free(cl->owed);
	cl->owed = NULL;
	cl->nowed = 0;
	free(cl->seen_ids);
	cl->seen_ids = NULL;
	cl->nseen_ids = 0;
}

struct client_user *client_room_user(const struct client_room *r,
				     const uint8_t fp[CRYPTO_FINGERPRINT_LEN])
{
	for (size_t i = 0; i < r->nusers; i++)
		if (memcmp(r->users[i].fp, fp, CRYPTO_FINGERPRINT_LEN) == 0)
			return &r->users[i];
	return NULL;
}

const struct crypto_rsa_key *client_room_key_lookup(void *ctx,
						    const uint8_t fp[PROTO_FINGERPRINT_LEN])
{
	struct client_user *u = client_room_user(ctx, fp);
	return u ? u->key : NULL;
}

/* Adds a directory entry. The fingerprint is computed here from the key, never
 * taken from the server; a signing key counts only if its certificate
 * verifies under that key. */
static cc_err room_add_user(struct client *cl, struct client_room *r, const char *nick,
			    const uint8_t *der, size_t der_len,
			    const uint8_t sign_pub[CRYPTO_ED25519_PUB_LEN], const uint8_t *cert,
			    size_t cert_len)
{
	struct client_user u = {0};
	cc_err err;

	if ((err = crypto_rsa_public_from_der(der, der_len, &u.key)) ||
	    (err = crypto_rsa_fingerprint(u.key, u.fp))) {
		crypto_rsa_free(u.key);
		return err;
	}
	struct client_user *have = client_room_user(r, u.fp);
	if (have) {
		crypto_rsa_free(u.key);
		snprintf(have->nick, sizeof have->nick, "%s", nick);
		have->trusted = client_trust_check(cl, have->nick, have->fp);
		if (have->sign_ok || !cert_len)
			return CC_OK;
		u = *have;
		u.key = have->key;
	} else {
		snprintf(u.nick, sizeof u.nick, "%s", nick);
		u.trusted = client_trust_check(cl, u.nick, u.fp);
	}
	if (cert_len && e2e_signing_cert_verify(u.key, sign_pub, cert, cert_len) == CC_OK) {
		memcpy(u.sign_pub, sign_pub, sizeof u.sign_pub);
		u.sign_ok = true;
	}
	if (have) {
		*have = u;
		return CC_OK;
	}
	struct client_user *users = realloc(r->users, (r->nusers + 1) * sizeof *users);
	if (!users) {
		crypto_rsa_free(u.key);
		return CC_ERR_NOMEM;
	}
	r->users = users;
	r->users[r->nusers++] = u;
	return CC_OK;
}

cc_err client_room_add_user_item(struct client *cl, struct client_room *r,
				 const struct proto_user_item *it)
{
	char nick[PROTO_NICK_MAX + 1];
	memcpy(nick, it->nick.p, it->nick.len);
	nick[it->nick.len] = '\0';
	return room_add_user(cl, r, nick, it->identity_key.p, it->identity_key.len, it->sign_pub,
			     it->sign_cert.p, it->sign_cert.len);
}

cc_err client_room_add_users(struct client *cl, struct client_room *r,
			     const struct proto_list *users)
{
	struct proto_list_iter it;
	struct proto_user_item item;
	cc_err err;

	proto_list_iter_init(&it, users, PROTO_ITEM_USER);
	while (proto_list_next(&it, &item) == CC_OK)
		if ((err = client_room_add_user_item(cl, r, &item)))
			return err;
	return CC_OK;
}

void client_rooms_trust(struct client *cl, const char *nick,
			const uint8_t fp[CRYPTO_FINGERPRINT_LEN])
{
	for (size_t i = 0; i < cl->nrooms; i++)
		for (size_t k = 0; k < cl->rooms[i]->nusers; k++) {
			struct client_user *u = &cl->rooms[i]->users[k];
			if (strcasecmp(u->nick, nick) == 0)
				u->trusted = memcmp(u->fp, fp, CRYPTO_FINGERPRINT_LEN) == 0;
		}
}

/* Ourselves, from our own key (never from the server). */
static cc_err room_add_self(struct client *cl, struct client_room *r)
{
	struct buf der, cert;
	cc_err err;

	buf_init(&der, PROTO_RSA_PUB_MAX);
	buf_init(&cert, PROTO_SIGN_CERT_MAX);
	if (!(err = crypto_rsa_public_to_der(cl->identity, &der)) &&
	    !(err = e2e_signing_cert_make(cl->identity, cl->sign_pub, &cert)))
		err = room_add_user(cl, r, cl->nick, der.data, der.len, cl->sign_pub, cert.data,
				    cert.len);
	buf_free(&der);
	buf_free(&cert);
	return err;
}

static json_t *room_members_json(const struct client_room *r)
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

/* The current epoch's key, from the local store. */
cc_err client_room_current_key(struct client *cl, const struct client_room *r,
			       uint8_t key[E2E_KEY_LEN])
{
	return cstore_key_get(cl->store, r->room_id, r->chain.epoch, key);
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

/* The invitees' keys arrived: make the room, its key and its records. */
static void create_on_users(struct client *cl, const struct proto_users *users)
{
	struct client_room *r = NULL;
	struct buf records, keys, one, title;
	uint16_t nrecords = 0, nkeys = 0;
	uint8_t room_id[PROTO_ROOM_ID_LEN], commit[PROTO_HASH_LEN];
	struct proto_list_iter it;
	struct proto_user_item item;
	cc_err err;

	buf_init(&records, 256 * 1024);
	buf_init(&keys, 256 * 1024);
	buf_init(&one, PROTO_WRAPPED_MAX);
	buf_init(&title, PROTO_TITLE_CT_MAX);
	if (!users_match_request(&cl->op_record, users)) {
		/* A server slipping someone else into the room. */
		err = CC_ERR_SECURITY;
		goto fail;
	}
	if ((err = crypto_random_bytes(room_id, sizeof room_id)) ||
	    (err = e2e_room_key_new(cl->op_key)) || !(r = client_room_new(room_id))) {
		err = err ? err : CC_ERR_NOMEM;
		goto fail;
	}
	e2e_key_commit(room_id, 0, cl->op_key, commit);
	if ((err = room_add_self(cl, r)) ||
	    (err = client_room_record_add(cl, r, PROTO_REC_CREATE, cl->nick, cl->fp, 0, commit,
					  &records, &nrecords)))
		goto fail;
	proto_list_iter_init(&it, &users->users, PROTO_ITEM_USER);
	while (proto_list_next(&it, &item) == CC_OK) {
		if ((err = client_room_add_user_item(cl, r, &item)))
			goto fail;
		struct client_user *u = &r->users[r->nusers - 1];
		if (memcmp(u->fp, cl->fp, CRYPTO_FINGERPRINT_LEN) == 0)
			continue;  /* ourselves under another case */
		if (!u->trusted) {
			/* Never give a room key to a key we did not pin. */
			err = CC_ERR_KEY_CHANGED;
			goto fail;
		}
		if ((err = client_room_record_add(cl, r, PROTO_REC_ADD, u->nick, u->fp, 0, commit,
						  &records, &nrecords)))
			goto fail;
	}
	/* The key, wrapped to every member, ourselves included. */
	for (size_t i = 0; i < r->chain.nmembers; i++) {
		const struct e2e_member *mem = &r->chain.members[i];
		struct proto_wrapped_item w;
		buf_reset(&one);
		if ((err = e2e_key_wrap(client_room_user(r, mem->fp)->key, room_id, 0, cl->op_key,
					&one)))
			goto fail;
		w.nick = proto_bytes_str(mem->nick);
		w.epoch = 0;
		w.wrapped = (struct proto_bytes){one.data, one.len};
		if ((err = proto_item_encode(PROTO_ITEM_WRAPPED, &w, &keys)))
			goto fail;
		nkeys++;
	}
	if ((err = e2e_title_seal(cl->op_key, room_id, 0, cl->op_title, &title)))
		goto fail;
	snprintf(r->title, sizeof r->title, "%s", cl->op_title);

	struct proto_msg m = {.type = PROTO_ROOM_CREATE};
	m.u.room_create.request_id = client_op_begin(cl, OP_CREATE);
	memcpy(m.u.room_create.room_id, room_id, PROTO_ROOM_ID_LEN);
	m.u.room_create.title_ct = (struct proto_bytes){title.data, title.len};
	m.u.room_create.records = (struct proto_list){nrecords, {records.data, records.len}};
	m.u.room_create.keys = (struct proto_list){nkeys, {keys.data, keys.len}};
	if ((err = client_send(cl, &m)))
		goto fail;
	cl->op_new_room = r;
	goto out;
fail:
	client_room_free(r);
	client_emit_error(cl, cc_err_code(err),
			  err == CC_ERR_SECURITY ? "the server answered with users we did not ask for"
			  : err == CC_ERR_KEY_CHANGED
				  ? "a member's key is not the one pinned: compare fingerprints "
				    "(/safety NICK), then /verify NICK; no room was made"
				  : "cannot create the room");
	client_op_end(cl);
out:
	buf_free(&records);
	buf_free(&keys);
	buf_free(&one);
	buf_free(&title);
}

static void create_on_ok(struct client *cl)
{
	struct client_room *r = cl->op_new_room;
	cl->op_new_room = NULL;
	if (cstore_key_put(cl->store, r->room_id, 0, cl->op_key) || client_room_install(cl, r)) {
		client_emit_error(cl, "store_error", "cannot keep the new room's key");
		client_room_free(r);
		return;
	}
	client_emit(cl, json_pack("{s:s, s:s, s:s, s:s, s:o}", "event", "room_created", "room",
				  r->id_hex, "title", r->title, "admin", cl->nick, "members",
				  room_members_json(r)));
}

/* ---- /rooms ----------------------------------------------------------------- */

void client_cmd_rooms(struct client *cl)
{
	struct proto_msg m = {.type = PROTO_ROOMS_LIST};
	m.u.request.request_id = client_op_begin(cl, OP_ROOMS);
	if (client_send(cl, &m))
		client_op_end(cl);
}

static void rooms_on_list(struct client *cl, const struct proto_rooms *rooms)
{
	struct proto_list_iter it;
	struct proto_room_item item;
	json_t *list = json_array();

	proto_list_iter_init(&it, &rooms->rooms, PROTO_ITEM_ROOM);
	while (list && proto_list_next(&it, &item) == CC_OK) {
		char hex[2 * PROTO_ROOM_ID_LEN + 1], admin[PROTO_NICK_MAX + 1];
		char title[E2E_TITLE_MAX + 1] = "";
		uint8_t key[E2E_KEY_LEN];
		hex_encode(item.room_id, PROTO_ROOM_ID_LEN, hex);
		room_id_seen(cl, item.room_id);
		memcpy(admin, item.admin.p, item.admin.len);
		admin[item.admin.len] = '\0';
		/* The title is the members' secret: opened with our own key. */
		bool have_key = cstore_key_get(cl->store, item.room_id, item.epoch, key) == CC_OK ||
				(item.wrapped.len &&
				 e2e_key_unwrap(cl->identity, item.room_id, item.epoch,
						item.wrapped.p, item.wrapped.len, key) == CC_OK);
		if (!have_key ||
		    e2e_title_open(key, item.room_id, item.epoch, item.title_ct.p,
				   item.title_ct.len, title) != CC_OK)
			title[0] = '\0';
		mem_wipe(key, sizeof key);
		json_array_append_new(list, json_pack("{s:s, s:s, s:s, s:i, s:i, s:i}", "room", hex,
						      "title", title, "admin", admin, "members",
						      (int)item.members, "unread", (int)item.unread,
						      "epoch", (int)item.epoch));
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

/* Verifies the whole state the server sent; on any failure the room is not
 * joined and a security error says why. */
cc_err client_join_verify(struct client *cl, struct client_room *r,
			  const struct proto_room_state *st, const char **why)
{
	struct proto_list_iter it;
	struct proto_blob_item rec;
	struct proto_wrapped_item w;
	uint8_t key[E2E_KEY_LEN], commit[PROTO_HASH_LEN];
	cc_err err;

	if ((err = client_room_add_users(cl, r, &st->users)) || (err = room_add_self(cl, r))) {
		*why = "a member's key does not parse";
		return err;
	}
	proto_list_iter_init(&it, &st->records, PROTO_ITEM_BLOB);
	while (proto_list_next(&it, &rec) == CC_OK)
		if ((err = e2e_chain_apply(&r->chain, rec.data.p, rec.data.len,
					   client_room_key_lookup, r, why)))
			return CC_ERR_SECURITY;
	if (!e2e_chain_member(&r->chain, cl->fp)) {
		*why = "the room's signed membership does not include us";
		return CC_ERR_SECURITY;
	}
	/* Every key must be the one the admin committed to in the chain. */
	proto_list_iter_init(&it, &st->keys, PROTO_ITEM_WRAPPED);
	while (proto_list_next(&it, &w) == CC_OK) {
		const uint8_t *want = e2e_chain_commit(&r->chain, w.epoch);
		if (e2e_key_unwrap(cl->identity, r->room_id, w.epoch, w.wrapped.p, w.wrapped.len,
				   key) != CC_OK)
			continue;  /* not ours, or damaged: no key for that epoch */
		e2e_key_commit(r->room_id, w.epoch, key, commit);
		if (!want || !crypto_ct_equal(want, commit, sizeof commit)) {
			mem_wipe(key, sizeof key);
			*why = "the server handed out a room key the admin did not commit to";
			return CC_ERR_SECURITY;
		}
		err = cstore_key_put(cl->store, r->room_id, w.epoch, key);
		mem_wipe(key, sizeof key);
		if (err)
			return err;
	}
	if (client_room_current_key(cl, r, key) == CC_OK) {
		if (e2e_title_open(key, r->room_id, r->chain.epoch, st->title_ct.p, st->title_ct.len,
				   r->title) != CC_OK)
			r->title[0] = '\0';
		mem_wipe(key, sizeof key);
	}
	cstore_seen_get(cl->store, r->room_id, last_id_fp, &r->last_msg_id);
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
				  "members", room_members_json(r), "epoch", (int)r->chain.epoch,
				  "backlog", (int)st->backlog));
}

/* ---- talking -------------------------------------------------------------------- */

static void send_text(struct client *cl, struct client_room *r, const char *text)
{
	size_t n = strlen(text);
	uint8_t key[E2E_KEY_LEN];
	struct proto_envelope env = {0};
	struct buf out;
	uint64_t seq;

	if (n > PROTO_TEXT_MAX) {
		client_emit_room_error(cl, r->id_hex, NULL, "too_long",
				       "a message is at most 16384 bytes; nothing was sent");
		return;
	}
	if (!proto_utf8_valid((const uint8_t *)text, n)) {
		client_emit_room_error(cl, r->id_hex, NULL, "malformed", "a message must be UTF-8");
		return;
	}
	if (client_room_current_key(cl, r, key) != CC_OK) {
		client_emit_room_error(cl, r->id_hex, NULL, "no_key",
				       "no key for the room's current epoch yet");
		return;
	}
	if (cstore_seq_next(cl->store, r->room_id, &seq) != CC_OK) {
		mem_wipe(key, sizeof key);
		client_emit_room_error(cl, r->id_hex, NULL, "store_error", "cannot count messages");
		return;
	}
	buf_init(&out, PROTO_ENVELOPE_MAX);
	env.version = PROTO_ENVELOPE_VERSION;
	memcpy(env.room_id, r->room_id, PROTO_ROOM_ID_LEN);
	env.epoch = r->chain.epoch;
	env.sender = proto_bytes_str(cl->nick);
	env.seq = seq;
	env.time_ms = clock_now_ms();
	cc_err err = e2e_message_seal(cl->sign_seed, key, &env, (const uint8_t *)text, n, &out);
	mem_wipe(key, sizeof key);
	if (!err) {
		struct proto_msg m = {.type = PROTO_MSG_SEND};
		m.u.msg_send.request_id = client_op_begin(cl, OP_SEND);
		m.u.msg_send.envelope = (struct proto_bytes){out.data, out.len};
		memcpy(cl->op_room, r->room_id, PROTO_ROOM_ID_LEN);
		cl->op_seq = seq;
		if ((err = client_send(cl, &m)))
			client_op_end(cl);
	}
	if (err)
		client_emit_room_error(cl, r->id_hex, NULL, cc_err_code(err), cc_err_str(err));
	buf_free(&out);
}

void client_cmd_text(struct client *cl, const char *text)
{
	if (!cl->current || !cl->current->joined) {
		client_emit_error(cl, "no_room", "join a room before talking (/join ROOM)");
		return;
	}
	send_text(cl, cl->current, text);
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
	send_text(cl, r, text);
}

/* ---- read acknowledgements ------------------------------------------------ */

/* Tells the server what we have handled, so the next join's backlog starts
 * there. Every ACK_EVERY messages, and when a join's backlog is done or we
 * stop listening; what is resent after a crash is skipped by msg_id. */
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

/* A message from the server: shown only once every check passed. */
static void on_room_msg(struct client *cl, const struct proto_room_msg *rm)
{
	struct client_room *r = client_room_find(cl, rm->room_id);
	struct proto_envelope env;
	uint8_t key[E2E_KEY_LEN];
	uint8_t *text = NULL;
	size_t text_len = 0;
	uint64_t last_seq = 0;
	char from[PROTO_NICK_MAX + 1] = "";

	if (!r || !r->joined || (cl->op == OP_LEAVE_LOAD && cl->op_failed == false &&
				 memcmp(cl->op_room, rm->room_id, PROTO_ROOM_ID_LEN) == 0))
		return;  /* not listening to that room (or leaving it) */
	if (rm->msg_id <= r->last_msg_id)
		return;  /* delivered again after a server restart: already handled */
	const char *code = "forged", *why = "the message does not parse";
	if (proto_envelope_decode(rm->envelope.p, rm->envelope.len, &env) != CC_OK)
		goto reject;
	memcpy(from, env.sender.p, env.sender.len);
	from[env.sender.len] = '\0';
	if (memcmp(env.room_id, r->room_id, PROTO_ROOM_ID_LEN) != 0) {
		why = "the message was made for another room";
		goto reject;
	}
	const struct e2e_member *sender = e2e_chain_sender(&r->chain, from, env.epoch);
	if (!sender) {
		code = "not_member";
		why = "the sender was not a member of the room then";
		goto reject;
	}
	struct client_user *u = client_room_user(r, sender->fp);
	if (!u || !u->sign_ok) {
		why = "the sender has no certified signing key";
		goto reject;
	}
	if (cstore_key_get(cl->store, r->room_id, env.epoch, key) != CC_OK) {
		code = "no_key";
		why = "no key for the message's epoch";
		goto reject;
	}
	text = malloc(PROTO_TEXT_MAX + 1);
	cc_err err = text ? e2e_message_open(u->sign_pub, key, &env, text, &text_len)
			  : CC_ERR_NOMEM;
	mem_wipe(key, sizeof key);
	if (err) {
		why = err == CC_ERR_AUTH ? "the signature or ciphertext does not verify"
					 : "the text is not UTF-8";
		goto reject;
	}
	/* Per sender, sequence numbers only go up: a replay or reorder shows. */
	cstore_seen_get(cl->store, r->room_id, sender->fp, &last_seq);
	if (env.seq <= last_seq) {
		code = "replayed";
		why = "a message replayed or out of order";
		goto reject;
	}
	/* Stored before it is shown, so a replay after a crash still shows. */
	cstore_seen_put_message(cl->store, r->room_id, sender->fp, env.seq, rm->msg_id);
	r->last_msg_id = rm->msg_id;
	if (env.epoch == r->chain.epoch) {
		r->epoch_msgs++;
		client_maybe_rekey(cl, r);
	}
	text[text_len] = '\0';
	client_emit(cl, json_pack("{s:s, s:s, s:s, s:s%, s:I, s:I, s:I, s:b}", "event", "message",
				  "room", r->id_hex, "from", from, "text", (const char *)text,
				  text_len, "seq", (json_int_t)env.seq, "ts",
				  (json_int_t)env.time_ms, "msg_id", (json_int_t)rm->msg_id,
				  "verified", u->trusted ? 1 : 0));
	goto done;
reject:
	client_emit_room_error(cl, r->id_hex, *from ? from : NULL, code, why);
	r->last_msg_id = rm->msg_id;
	cstore_seen_put(cl->store, r->room_id, last_id_fp, rm->msg_id);
done:
	if (r->last_msg_id - r->acked_msg_id >= ACK_EVERY && cl->op != OP_JOIN)
		client_room_ack(cl, r);
	if (text) {
		mem_wipe(text, PROTO_TEXT_MAX + 1);
		free(text);
	}
}

cc_err client_on_room_message(struct client *cl, const struct proto_msg *m)
{
	if (m->type == PROTO_ROOM_MSG) {
		on_room_msg(cl, &m->u.room_msg);
	} else if (m->type == PROTO_ROOM_RECORD) {
		client_on_room_record(cl, &m->u.room_record);
	} else if (m->type == PROTO_REKEY_OWED) {
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

	if (m->type == PROTO_ERROR) {
		char text[PROTO_ERROR_TEXT_MAX + 1];
		const char *code = m->u.error.code < CC_ERR_COUNT_ ? cc_err_code(m->u.error.code)
								  : "unknown";
		memcpy(text, m->u.error.text.p, m->u.error.text.len);
		text[m->u.error.text.len] = '\0';
		bool about_room = cl->op == OP_JOIN || cl->op == OP_SEND || cl->op == OP_ADD ||
				  cl->op == OP_ADD_USERS || cl->op == OP_DISCONNECT ||
				  cl->op == OP_LEAVE || cl->op == OP_LEAVE_LOAD ||
				  cl->op == OP_KICK || cl->op == OP_ADMIN ||
				  cl->op == OP_REKEY_FETCH || cl->op == OP_REKEY;
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
	case OP_SEND:
		if (m->type == PROTO_SENT) {
			/* Our own message is handled: a resend of it (after a server
			 * restart) is a duplicate, not news. */
			struct client_room *r = client_room_find(cl, cl->op_room);
			if (r && m->u.sent.msg_id > r->last_msg_id)
				r->last_msg_id = m->u.sent.msg_id;
			cstore_seen_put_message(cl->store, cl->op_room, cl->fp, cl->op_seq,
						r ? r->last_msg_id : 0);
			if (r) {
				client_room_ack(cl, r);  /* our own message: nothing to resend us */
				r->epoch_msgs++;
				client_maybe_rekey(cl, r);
			}
			client_emit(cl, json_pack("{s:s, s:s, s:I, s:I, s:I}", "event", "sent", "room",
						  hex, "seq", (json_int_t)cl->op_seq, "msg_id",
						  (json_int_t)m->u.sent.msg_id, "ts",
						  (json_int_t)m->u.sent.server_ts_ms));
			client_op_end(cl);
		}
		return;
	case OP_ADD_USERS:
		if (m->type == PROTO_USERS)
			client_add_on_users(cl, &m->u.users);
		return;
	case OP_ADD:
		if (m->type == PROTO_OK) {
			client_add_on_ok(cl);
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
	case OP_KICK:
		if (m->type == PROTO_OK) {
			client_kick_on_ok(cl);
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
	case OP_REKEY:
		if (m->type == PROTO_OK) {
			client_rekey_on_ok(cl);
			client_op_end(cl);
		}
		return;
	case OP_FINGERPRINT:
	case OP_SAFETY:
	case OP_VERIFY:
		if (m->type == PROTO_USERS)
			client_trust_on_users(cl, &m->u.users);
		return;
	case OP_LEAVE:
		if (m->type == PROTO_OK) {
			struct client_room *r = client_room_find(cl, cl->op_room);
			if (r)
				client_room_remove(cl, r);
			cstore_room_forget(cl->store, cl->op_room);
			client_emit(cl, json_pack("{s:s, s:s}", "event", "left", "room", hex));
			client_op_end(cl);
		}
		return;
	default:
		return;
	}
}
