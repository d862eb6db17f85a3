/* Identity keys seen in rooms' directories, each parsed once, with the last
 * signing and receiving certificates that verified under it.
 *
 * A room's directory comes whole in every ROOM_STATE, and an add or a kick
 * fetches it again (membership.c): parsing every member's RSA key and
 * verifying its two RSA-PSS certificates again was most of a change in a
 * big room. Verifying is a function of the bytes alone (the key's DER, the
 * version, the time, the public key, the certificate), so an entry whose
 * bytes are exactly those that verified before gets the same answer here,
 * after a lookup and a comparison; other bytes under the same identity key
 * are verified as ever, and kept if they verify. Only what verified is
 * kept: nothing refused can come back accepted. What rests on the answers
 * (versions never going back, names, pins) stays directory.c's. */
#include <stdlib.h>
#include <string.h>

#include "client/core/internal.h"

#define KEYCACHE_BUCKETS 8192  /* a power of two */

struct client_known_key {
	struct client_known_key *next;        /* in the same bucket */
	uint8_t der_hash[CRYPTO_SHA256_LEN];  /* what it is found by */
	uint8_t *der;                         /* the key's bytes, as parsed */
	size_t der_len;
	struct crypto_rsa_key *key;
	uint8_t fp[CRYPTO_FINGERPRINT_LEN];
	/* The last signing certificate that verified under key (0: none). */
	size_t sign_cert_len;
	uint32_t sign_version;
	uint8_t sign_pub[CRYPTO_ED25519_PUB_LEN];
	uint8_t sign_cert[PROTO_SIGN_CERT_MAX];
	/* The same for receiving keys. */
	size_t recv_cert_len;
	uint32_t recv_version;
	uint64_t recv_created_ms;
	uint8_t recv_pub[CRYPTO_X25519_LEN];
	uint8_t recv_cert[PROTO_SIGN_CERT_MAX];
};

static void known_key_free(struct client_known_key *k)
{
	crypto_rsa_free(k->key);
	free(k->der);
	free(k);
}

void client_keycache_free(struct client_keycache *kc)
{
	if (kc->buckets)
		for (size_t i = 0; i < KEYCACHE_BUCKETS; i++)
			while (kc->buckets[i]) {
				struct client_known_key *k = kc->buckets[i];
				kc->buckets[i] = k->next;
				known_key_free(k);
			}
	free(kc->buckets);
	kc->buckets = NULL;
	kc->n = 0;
}

static size_t bucket_of(const uint8_t der_hash[CRYPTO_SHA256_LEN])
{
	size_t h;
	memcpy(&h, der_hash, sizeof h);
	return h & (KEYCACHE_BUCKETS - 1);
}

static struct client_known_key *known_key_find(const struct client_keycache *kc,
					       const uint8_t der_hash[CRYPTO_SHA256_LEN],
					       const uint8_t *der, size_t len)
{
	if (!kc->buckets)
		return NULL;
	for (struct client_known_key *k = kc->buckets[bucket_of(der_hash)]; k; k = k->next)
		if (k->der_len == len && memcmp(k->der_hash, der_hash, CRYPTO_SHA256_LEN) == 0 &&
		    memcmp(k->der, der, len) == 0)
			return k;
	return NULL;
}

/* Keeps key (parsed from der) and returns its entry; NULL without memory,
 * and key stays the caller's. Past CLIENT_KEYCACHE_MAX keys the cache
 * starts over: memory stays bounded whatever a server sends. */
static struct client_known_key *known_key_add(struct client_keycache *kc,
					      const uint8_t der_hash[CRYPTO_SHA256_LEN],
					      const uint8_t *der, size_t len,
					      struct crypto_rsa_key *key)
{
	if (kc->n >= CLIENT_KEYCACHE_MAX)
		client_keycache_free(kc);
	if (!kc->buckets && !(kc->buckets = calloc(KEYCACHE_BUCKETS, sizeof *kc->buckets)))
		return NULL;
	struct client_known_key *k = calloc(1, sizeof *k);
	if (!k || !(k->der = malloc(len)) || crypto_rsa_fingerprint(key, k->fp) != CC_OK) {
		if (k)
			free(k->der);
		free(k);
		return NULL;
	}
	memcpy(k->der, der, len);
	k->der_len = len;
	memcpy(k->der_hash, der_hash, CRYPTO_SHA256_LEN);
	k->key = key;
	size_t b = bucket_of(der_hash);
	k->next = kc->buckets[b];
	kc->buckets[b] = k;
	kc->n++;
	return k;
}

/* Whether an entry's certificates verify under key: a function of their
 * bytes alone (so a worker may call it: parallel.c). */
static bool sign_cert_verifies(const struct crypto_rsa_key *key, const struct proto_user_item *it)
{
	return it->sign_cert.len && e2e_signing_cert_verify(key, it->sign_version, it->sign_pub,
							    it->sign_cert.p,
							    it->sign_cert.len) == CC_OK;
}

/* The receiving key's (which also refuses a key that is no key). */
static bool recv_cert_verifies(const struct crypto_rsa_key *key, const struct proto_user_item *it)
{
	return it->recv_cert.len &&
	       e2e_recv_cert_verify(key, it->recv_version, it->recv_created_ms, it->recv_pub,
				    it->recv_cert.p, it->recv_cert.len) == CC_OK;
}

/* Keeps the bytes of a certificate that verified under k's key. */
static void sign_cert_keep(struct client_known_key *k, const struct proto_user_item *it)
{
	if (it->sign_cert.len > sizeof k->sign_cert)
		return;
	k->sign_cert_len = it->sign_cert.len;
	k->sign_version = it->sign_version;
	memcpy(k->sign_pub, it->sign_pub, sizeof k->sign_pub);
	memcpy(k->sign_cert, it->sign_cert.p, it->sign_cert.len);
}

static void recv_cert_keep(struct client_known_key *k, const struct proto_user_item *it)
{
	if (it->recv_cert.len > sizeof k->recv_cert)
		return;
	k->recv_cert_len = it->recv_cert.len;
	k->recv_version = it->recv_version;
	k->recv_created_ms = it->recv_created_ms;
	memcpy(k->recv_pub, it->recv_pub, sizeof k->recv_pub);
	memcpy(k->recv_cert, it->recv_cert.p, it->recv_cert.len);
}

/* 1 if the entry's signing certificate verifies under key: the bytes that
 * verified last (k, if any), else verified now (and kept in k). */
static bool signing_cert_ok(struct client_keycache *kc, struct client_known_key *k,
			    const struct crypto_rsa_key *key, const struct proto_user_item *it)
{
	size_t len = it->sign_cert.len;
	if (!len)
		return false;
	if (k && k->sign_cert_len == len && k->sign_version == it->sign_version &&
	    memcmp(k->sign_pub, it->sign_pub, sizeof k->sign_pub) == 0 &&
	    memcmp(k->sign_cert, it->sign_cert.p, len) == 0)
		return true;
	kc->certs_verified++;
	if (!sign_cert_verifies(key, it))
		return false;
	if (k)
		sign_cert_keep(k, it);
	return true;
}

/* The same for the receiving key's certificate. */
static bool recv_cert_ok(struct client_keycache *kc, struct client_known_key *k,
			 const struct crypto_rsa_key *key, const struct proto_user_item *it)
{
	size_t len = it->recv_cert.len;
	if (!len)
		return false;
	if (k && k->recv_cert_len == len && k->recv_version == it->recv_version &&
	    k->recv_created_ms == it->recv_created_ms &&
	    memcmp(k->recv_pub, it->recv_pub, sizeof k->recv_pub) == 0 &&
	    memcmp(k->recv_cert, it->recv_cert.p, len) == 0)
		return true;
	kc->certs_verified++;
	if (!recv_cert_verifies(key, it))
		return false;
	if (k)
		recv_cert_keep(k, it);
	return true;
}

cc_err client_entry_check(struct client *cl, const struct proto_user_item *it,
			  struct client_entry_check *out)
{
	struct client_keycache *kc = &cl->keycache;
	const uint8_t *der = it->identity_key.p;
	size_t len = it->identity_key.len;
	uint8_t der_hash[CRYPTO_SHA256_LEN];
	struct crypto_rsa_key *parsed = NULL;
	cc_err err;

	memset(out, 0, sizeof *out);
	crypto_sha256(der, len, der_hash);
	struct client_known_key *k = known_key_find(kc, der_hash, der, len);
	if (!k) {
		kc->keys_parsed++;
		if ((err = crypto_rsa_public_from_der(der, len, &parsed)))
			return err;
		if ((k = known_key_add(kc, der_hash, der, len, parsed)))
			parsed = NULL;  /* the cache's now */
	}
	if (k) {
		err = crypto_rsa_public_copy(k->key, &out->key);
		memcpy(out->fp, k->fp, sizeof out->fp);
	} else {
		/* No memory to keep it: checked as ever, and forgotten. */
		out->key = parsed;
		err = crypto_rsa_fingerprint(parsed, out->fp);
	}
	if (err) {
		crypto_rsa_free(out->key);
		out->key = NULL;
		return err;
	}
	out->sign_ok = signing_cert_ok(kc, k, out->key, it);
	out->recv_ok = recv_cert_ok(kc, k, out->key, it);
	return CC_OK;
}

/* ---- a directory never seen, checked on every core ---- */

/* Fewer entries than this are checked on the loop's thread, as they come. */
#define WARM_MIN 64

struct warm_entry {
	struct proto_user_item it;            /* views into the caller's list */
	uint8_t der_hash[CRYPTO_SHA256_LEN];
	struct crypto_rsa_key *key;           /* NULL: did not parse */
	bool sign_ok, recv_ok;
};

/* One entry, on a worker: nothing but the entry is touched. */
static void warm_one(void *ctx, size_t i)
{
	struct warm_entry *w = &((struct warm_entry *)ctx)[i];
	const struct proto_user_item *it = &w->it;
	if (crypto_rsa_public_from_der(it->identity_key.p, it->identity_key.len, &w->key))
		return;
	w->sign_ok = sign_cert_verifies(w->key, it);
	w->recv_ok = recv_cert_verifies(w->key, it);
}

/* What a worker found, into the cache (on the loop's thread): the key, and
 * the certificates that verified, byte for byte. */
static void warm_keep(struct client_keycache *kc, struct warm_entry *w)
{
	const struct proto_user_item *it = &w->it;
	if (!w->key ||
	    known_key_find(kc, w->der_hash, it->identity_key.p, it->identity_key.len))
		return;  /* did not parse, or the same key twice in the list */
	struct client_known_key *k = known_key_add(kc, w->der_hash, it->identity_key.p,
						   it->identity_key.len, w->key);
	if (!k)
		return;
	w->key = NULL;  /* the cache's now */
	kc->keys_parsed++;
	if (w->sign_ok)
		sign_cert_keep(k, it);
	if (w->recv_ok)
		recv_cert_keep(k, it);
	kc->certs_verified += (it->sign_cert.len != 0) + (it->recv_cert.len != 0);
}

void client_keycache_warm(struct client *cl, const struct proto_list *users)
{
	struct client_keycache *kc = &cl->keycache;
	struct proto_list_iter iter;
	struct proto_user_item it;
	size_t n = 0;

	if (users->count < WARM_MIN)
		return;
	struct warm_entry *todo = calloc(users->count, sizeof *todo);
	if (!todo)
		return;  /* checked one by one, as ever */
	proto_list_iter_init(&iter, users, PROTO_ITEM_USER);
	while (n < users->count && proto_list_next(&iter, &it) == CC_OK) {
		struct warm_entry *w = &todo[n];
		crypto_sha256(it.identity_key.p, it.identity_key.len, w->der_hash);
		if (!known_key_find(kc, w->der_hash, it.identity_key.p, it.identity_key.len)) {
			w->it = it;
			n++;
		}
	}
	/* A cache about to start over would drop what is kept here. */
	if (n >= WARM_MIN && kc->n + n <= CLIENT_KEYCACHE_MAX) {
		client_parallel(n, WARM_MIN / 2, warm_one, todo);
		for (size_t i = 0; i < n; i++)
			warm_keep(kc, &todo[i]);
	}
	for (size_t i = 0; i < n; i++)
		crypto_rsa_free(todo[i].key);
	free(todo);
}
