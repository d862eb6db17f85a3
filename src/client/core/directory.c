/* A room's directory: the users whose keys its chain names, as the server's
 * directory gives them, and never trusted for that. Fingerprints are computed
 * here from the keys; a signing key counts only if its identity key certified
 * it and it is not older than one seen before; names come from the chain, and
 * pins are checked on the chain's (name, key) pairs. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "client/core/internal.h"
#include "store/client_store.h"
#include "util/log.h"

/* ---- users by fingerprint --------------------------------------------------
 * Every member is looked up by key for each wrap, message and name: a hash
 * index keeps that constant in rooms of thousands. Fingerprints are SHA-256
 * outputs, so their first bytes are as good a hash as any. */

static size_t fp_slot(const uint8_t fp[CRYPTO_FINGERPRINT_LEN], size_t cap)
{
	size_t h;
	memcpy(&h, fp, sizeof h);
	return h & (cap - 1);
}

static void user_slot_put(struct client_room *r, size_t i)
{
	size_t mask = r->user_slots_cap - 1;
	size_t at = fp_slot(r->users[i].fp, r->user_slots_cap);
	while (r->user_slots[at])
		at = (at + 1) & mask;
	r->user_slots[at] = (uint32_t)i + 1;
}

/* Room in the index for one more user (at most half full). */
static cc_err user_slots_reserve(struct client_room *r)
{
	if (2 * (r->nusers + 1) <= r->user_slots_cap)
		return CC_OK;
	if (r->nusers >= UINT32_MAX / 4)
		return CC_ERR_LIMIT;
	size_t cap = r->user_slots_cap ? 2 * r->user_slots_cap : 16;
	uint32_t *slots = calloc(cap, sizeof *slots);
	if (!slots)
		return CC_ERR_NOMEM;
	free(r->user_slots);
	r->user_slots = slots;
	r->user_slots_cap = cap;
	for (size_t i = 0; i < r->nusers; i++)
		user_slot_put(r, i);
	return CC_OK;
}

struct client_user *client_room_user(const struct client_room *r,
				     const uint8_t fp[CRYPTO_FINGERPRINT_LEN])
{
	if (!r->user_slots_cap)
		return NULL;
	size_t mask = r->user_slots_cap - 1;
	for (size_t at = fp_slot(fp, r->user_slots_cap); r->user_slots[at]; at = (at + 1) & mask) {
		struct client_user *u = &r->users[r->user_slots[at] - 1];
		if (memcmp(u->fp, fp, CRYPTO_FINGERPRINT_LEN) == 0)
			return u;
	}
	return NULL;
}

/* A new entry for u (its key now the room's), or NULL without memory. */
static struct client_user *room_user_append(struct client_room *r, const struct client_user *u)
{
	if (user_slots_reserve(r) != CC_OK)
		return NULL;
	if (r->nusers == r->users_cap) {
		size_t cap = r->users_cap ? 2 * r->users_cap : 16;
		struct client_user *users = realloc(r->users, cap * sizeof *users);
		if (!users)
			return NULL;
		r->users = users;
		r->users_cap = cap;
	}
	r->users[r->nusers] = *u;
	user_slot_put(r, r->nusers);
	return &r->users[r->nusers++];
}

const struct crypto_rsa_key *client_room_key_lookup(void *ctx,
						    const uint8_t fp[PROTO_FINGERPRINT_LEN])
{
	struct client_user *u = client_room_user(ctx, fp);
	return u ? u->key : NULL;
}

/* A signing key the server offers for u. Only one certified by u's identity
 * key counts, and never an older one than the newest this client has seen
 * for that key (the server could otherwise bring back a retired, perhaps
 * stolen, signing key): then the newest one seen stays in use. */
static void user_take_signing_key(struct client *cl, const struct client_room *r,
				  struct client_user *u, uint32_t version,
				  const uint8_t pub[CRYPTO_ED25519_PUB_LEN], bool cert_ok)
{
	uint32_t have_version = 0;
	uint8_t have_pub[CRYPTO_ED25519_PUB_LEN];
	bool have = cstore_sign_get(cl->store, u->fp, &have_version, have_pub) == CC_OK;

	if (have && (!u->sign_ok || u->sign_version < have_version)) {
		memcpy(u->sign_pub, have_pub, sizeof u->sign_pub);
		u->sign_version = have_version;
		u->sign_ok = true;
	}
	if (!cert_ok)
		return;
	if (u->sign_ok && version <= u->sign_version) {
		if (version < u->sign_version ||
		    memcmp(pub, u->sign_pub, CRYPTO_ED25519_PUB_LEN) != 0) {
			char msg[200];
			snprintf(msg, sizeof msg, "the server offered an older signing key of %s "
				 "(version %u; version %u is newer): it is not used",
				 u->dir_nick, (unsigned)version, (unsigned)u->sign_version);
			client_emit_error(cl, 0, r->id_hex, NULL, "security", msg);
		}
		return;
	}
	memcpy(u->sign_pub, pub, sizeof u->sign_pub);
	u->sign_version = version;
	u->sign_ok = true;
	if (cstore_sign_put(cl->store, u->fp, version, pub) != CC_OK)
		log_warn("cannot remember the signing key of %s", u->dir_nick);
}

/* A receiving key the server offers for u: the same rules as for signing
 * keys. Secrets are only ever wrapped to a key its owner certified, and
 * never to an older one than the newest seen here (an old one's private
 * part may be deleted, or stolen). */
static void user_take_recv_key(struct client *cl, const struct client_room *r,
			       struct client_user *u, const struct proto_user_item *it,
			       bool cert_ok)
{
	uint32_t have_version = 0;
	uint64_t have_created = 0;
	uint8_t have_pub[CRYPTO_X25519_LEN];
	bool have = cstore_recv_seen_get(cl->store, u->fp, &have_version, &have_created,
					 have_pub) == CC_OK;

	if (have && (!u->recv_ok || u->recv_version < have_version)) {
		memcpy(u->recv_pub, have_pub, sizeof u->recv_pub);
		u->recv_version = have_version;
		u->recv_created_ms = have_created;
		u->recv_ok = true;
	}
	if (!cert_ok)
		return;
	if (u->recv_ok && it->recv_version <= u->recv_version) {
		if (it->recv_version < u->recv_version ||
		    memcmp(it->recv_pub, u->recv_pub, CRYPTO_X25519_LEN) != 0) {
			char msg[200];
			snprintf(msg, sizeof msg, "the server offered an older receiving key of %s "
				 "(version %u; version %u is newer): it is not used",
				 u->dir_nick, (unsigned)it->recv_version, (unsigned)u->recv_version);
			client_emit_error(cl, 0, r->id_hex, NULL, "security", msg);
		}
		return;
	}
	memcpy(u->recv_pub, it->recv_pub, sizeof u->recv_pub);
	u->recv_version = it->recv_version;
	u->recv_created_ms = it->recv_created_ms;
	u->recv_ok = true;
	if (cstore_recv_seen_put(cl->store, u->fp, it->recv_version, it->recv_created_ms,
				 it->recv_pub) != CC_OK)
		log_warn("cannot remember the receiving key of %s", u->dir_nick);
}

/* Adds (or refreshes) a directory entry; *out (if not NULL) gets it. The
 * fingerprint is computed here from the key, never taken from the server. */
static cc_err room_add_user(struct client *cl, struct client_room *r,
			    const struct proto_user_item *it, struct client_user **out)
{
	struct client_entry_check checked;
	cc_err err = client_entry_check(cl, it, &checked);
	if (err)
		return err;
	struct client_user *entry = client_room_user(r, checked.fp);
	if (entry) {
		crypto_rsa_free(checked.key);
	} else {
		struct client_user u = {.key = checked.key};
		memcpy(u.fp, checked.fp, sizeof u.fp);
		snprintf(u.dir_nick, sizeof u.dir_nick, "%.*s", (int)it->nick.len,
			 (const char *)it->nick.p);
		if (!(entry = room_user_append(r, &u))) {
			crypto_rsa_free(checked.key);
			return CC_ERR_NOMEM;
		}
	}
	user_take_signing_key(cl, r, entry, it->sign_version, it->sign_pub, checked.sign_ok);
	user_take_recv_key(cl, r, entry, it, checked.recv_ok);
	if (out)
		*out = entry;
	return CC_OK;
}

cc_err client_room_add_user_item(struct client *cl, struct client_room *r,
				 const struct proto_user_item *it)
{
	return room_add_user(cl, r, it, NULL);
}

cc_err client_room_add_users(struct client *cl, struct client_room *r,
			     const struct proto_list *users)
{
	struct proto_list_iter it;
	struct proto_user_item item;
	cc_err err;

	client_keycache_warm(cl, users);  /* a big room's, on every core */
	proto_list_iter_init(&it, users, PROTO_ITEM_USER);
	while (proto_list_next(&it, &item) == CC_OK)
		if ((err = client_room_add_user_item(cl, r, &item)))
			return err;
	return CC_OK;
}

cc_err client_room_add_self(struct client *cl, struct client_room *r)
{
	struct proto_user_item it = {0};
	struct client_user *self = NULL;
	struct buf der;
	cc_err err;

	buf_init(&der, PROTO_RSA_PUB_MAX);
	if (!(err = crypto_rsa_public_to_der(cl->identity, &der))) {
		it.nick = proto_bytes_str(cl->nick);
		it.identity_key = (struct proto_bytes){der.data, der.len};
		it.sign_version = 1;
		memcpy(it.sign_pub, cl->sign_pub, sizeof it.sign_pub);
		it.sign_cert = (struct proto_bytes){cl->sign_cert.data, cl->sign_cert.len};
		err = room_add_user(cl, r, &it, &self);
	}
	/* Our own receiving key is the one we hold. */
	if (!err && cl->recv.version) {
		self->recv_version = cl->recv.version;
		self->recv_created_ms = cl->recv.created_ms;
		memcpy(self->recv_pub, cl->recv.pub, sizeof self->recv_pub);
		self->recv_ok = true;
	}
	buf_free(&der);
	return err;
}

/* What the chain says of one key, from its spans (in the chain's order). */
struct key_in_chain {
	const char *name;                 /* of its latest span; "" if none */
	bool named_so;                    /* some span of it has the directory's name:
					     e2e_chain_names */
	bool moved;                       /* some span of it ended in a MOVE */
};

static int span_by_fp(const void *a, const void *b)
{
	const struct e2e_span *x = *(const struct e2e_span *const *)a;
	const struct e2e_span *y = *(const struct e2e_span *const *)b;
	int c = memcmp(x->who.fp, y->who.fp, CRYPTO_FINGERPRINT_LEN);
	return c ? c : (x < y ? -1 : x > y);  /* then in the chain's order */
}

/* The spans of fp: a run of by_fp (the chain's spans sorted by key, then
 * order), found by halving; without by_fp, every span is looked at. */
static void key_in_chain(const struct e2e_chain *chain, const struct e2e_span *const *by_fp,
			 const uint8_t fp[CRYPTO_FINGERPRINT_LEN], const char *dir_nick,
			 struct key_in_chain *out)
{
	size_t i = 0, n = chain->nspans;
	if (by_fp) {
		size_t lo = 0, hi = n;
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;
			if (memcmp(by_fp[mid]->who.fp, fp, CRYPTO_FINGERPRINT_LEN) < 0)
				lo = mid + 1;
			else
				hi = mid;
		}
		i = lo;
	}
	*out = (struct key_in_chain){.name = ""};
	for (; i < n; i++) {
		const struct e2e_span *s = by_fp ? by_fp[i] : &chain->spans[i];
		if (memcmp(s->who.fp, fp, CRYPTO_FINGERPRINT_LEN) != 0) {
			if (by_fp)
				break;  /* past its run */
			continue;
		}
		out->name = s->who.nick;
		out->named_so |= strcasecmp(s->who.nick, dir_nick) == 0;
		out->moved |= s->moved;
	}
}

cc_err client_room_name_users(struct client *cl, struct client_room *r, const char **why)
{
	/* Each user's spans found by halving, not by a pass over the whole
	 * history: rooms of thousands have thousands of spans. Without memory
	 * for the sorted copy, the passes it is. */
	const struct e2e_span **by_fp = malloc((r->chain.nspans + 1) * sizeof *by_fp);
	for (size_t i = 0; by_fp && i < r->chain.nspans; i++)
		by_fp[i] = &r->chain.spans[i];
	if (by_fp)
		qsort(by_fp, r->chain.nspans, sizeof *by_fp, span_by_fp);
	for (size_t i = 0; i < r->nusers; i++) {
		struct client_user *u = &r->users[i];
		struct key_in_chain k;
		key_in_chain(&r->chain, by_fp, u->fp, u->dir_nick, &k);
		if (!*k.name)
			continue;  /* not in the chain: nothing rests on it */
		if (!k.named_so) {
			free(by_fp);
			*why = "the server's directory names a member's key differently from the "
			       "room's signed history";
			return CC_ERR_SECURITY;
		}
		/* Pins hold (name, key) pairs as the chain signs them. A key its
		 * owner moved away from (a MOVE it signed) is trusted as far as
		 * the key it moved to is. */
		snprintf(u->nick, sizeof u->nick, "%s", k.name);
		const uint8_t *now = k.moved ? e2e_chain_successor(&r->chain, u->fp) : u->fp;
		u->trusted = client_trust_check_verified(cl, u->nick, now, &u->verified);
	}
	free(by_fp);
	return CC_OK;
}

void client_rooms_trust(struct client *cl, const char *nick,
			const uint8_t fp[CRYPTO_FINGERPRINT_LEN])
{
	for (size_t i = 0; i < cl->nrooms; i++)
		for (size_t k = 0; k < cl->rooms[i]->nusers; k++) {
			struct client_user *u = &cl->rooms[i]->users[k];
			if (*u->nick && strcasecmp(u->nick, nick) == 0)
				u->verified = u->trusted =
					memcmp(u->fp, fp, CRYPTO_FINGERPRINT_LEN) == 0;
		}
}

