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
		struct client_user *users = realloc(r->users, (r->nusers + 1) * sizeof *users);
		if (!users) {
			crypto_rsa_free(checked.key);
			return CC_ERR_NOMEM;
		}
		r->users = users;
		entry = &r->users[r->nusers++];
		*entry = u;
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

/* The chain's name for a key: the one of its latest span ("" if none). */
static const char *chain_name_of(const struct e2e_chain *chain,
				 const uint8_t fp[CRYPTO_FINGERPRINT_LEN])
{
	for (size_t i = chain->nspans; i-- > 0;)
		if (memcmp(chain->spans[i].who.fp, fp, CRYPTO_FINGERPRINT_LEN) == 0)
			return chain->spans[i].who.nick;
	return "";
}

cc_err client_room_name_users(struct client *cl, struct client_room *r, const char **why)
{
	for (size_t i = 0; i < r->nusers; i++) {
		struct client_user *u = &r->users[i];
		const char *name = chain_name_of(&r->chain, u->fp);
		if (!*name)
			continue;  /* not in the chain: nothing rests on it */
		if (!e2e_chain_names(&r->chain, u->fp, u->dir_nick)) {
			*why = "the server's directory names a member's key differently from the "
			       "room's signed history";
			return CC_ERR_SECURITY;
		}
		/* Pins hold (name, key) pairs as the chain signs them. A key its
		 * owner moved away from (a MOVE it signed) is trusted as far as
		 * the key it moved to is. */
		snprintf(u->nick, sizeof u->nick, "%s", name);
		const uint8_t *now = e2e_chain_successor(&r->chain, u->fp);
		u->trusted = client_trust_check(cl, u->nick, now);
		struct cstore_pin pin;
		u->verified = client_fp_is_own(cl, now) ||
			      (u->trusted && cstore_pin_get(cl->store, u->nick, &pin) == CC_OK &&
			       pin.verified);
	}
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

