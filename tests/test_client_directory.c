/* A room's directory in the client core (src/client/core/directory.c and
 * keycache.c), driven directly with entries made here: what the server's
 * directory entries are worth, and what it costs to learn it.
 *
 *   - An entry byte for byte the one verified before is not parsed or
 *     verified again: a lookup (the keycache's counters say so).
 *   - Any byte that differs is verified again, and refused if it does not
 *     verify: another certificate, a certificate of another identity key, a
 *     key that is no key. The cache cannot smuggle in what verifying would
 *     refuse; what it keeps is bounded.
 *   - Users are found by fingerprint, whatever their number.
 *   - Names and pins come from the chain's spans as e2e_chain_names and
 *     e2e_chain_successor say, a moved key included; a directory naming a
 *     key otherwise is refused.
 *   - A directory's writes are one commit (client_directory_begin). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/core/internal.h"
#include "crypto/crypto.h"
#include "e2e/e2e.h"
#include "proto/room.h"
#include "store/client_store.h"
#include "support/e2e_people.h"
#include "support/tmpdir.h"
#include "util/buf.h"

#define MANY 10  /* users of the index test: past its first growth (16 slots) */

struct fixture {
	struct tmpdir tmp;  /* first: tmpdir_fixture_new */
	struct client *cl;
	int security_errors;
};

/* A directory entry's bytes, as the server would send them. */
struct entry {
	struct buf der, sign_cert, recv_cert;
	struct proto_user_item it;
};

static struct crypto_rsa_key *extra[MANY];
static uint8_t extra_fp[MANY][CRYPTO_FINGERPRINT_LEN];

static void on_event(void *ctx, const struct client_event *ev)
{
	struct fixture *f = ctx;
	if (ev->type == CLIENT_EV_ERROR && strcmp(ev->u.error.code, "security") == 0)
		f->security_errors++;
}

static int group_setup(void **state)
{
	if (people_setup(state))
		return -1;
	for (size_t i = 0; i < MANY; i++)
		if (crypto_rsa_generate(2048, &extra[i]) != CC_OK ||
		    crypto_rsa_fingerprint(extra[i], extra_fp[i]) != CC_OK)
			return -1;
	return 0;
}

static int group_teardown(void **state)
{
	for (size_t i = 0; i < MANY; i++)
		crypto_rsa_free(extra[i]);
	return people_teardown(state);
}

/* A client of alice's, with a store and nothing else: enough for rooms'
 * directories. */
static int setup(void **state)
{
	struct fixture *f = tmpdir_fixture_new(sizeof *f, "cc_test_dir", "client.db");
	if (!f || !(f->cl = calloc(1, sizeof *f->cl)) ||
	    cstore_open(f->tmp.path, &f->cl->store) != CC_OK) {
		if (f)
			free(f->cl);
		tmpdir_fixture_free(f);
		return -1;
	}
	snprintf(f->cl->nick, sizeof f->cl->nick, "alice");
	memcpy(f->cl->fp, alice.fp, sizeof f->cl->fp);
	f->cl->identity = alice.key;  /* borrowed: signs the chain's records */
	f->cl->cb.on_event = on_event;
	f->cl->cb.ctx = f;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	client_turn_free(f->cl);
	client_keycache_free(&f->cl->keycache);
	cstore_close(f->cl->store);
	free(f->cl);
	tmpdir_fixture_free(f);
	return 0;
}

static void entry_init(struct entry *e)
{
	memset(e, 0, sizeof *e);
	buf_init(&e->der, PROTO_RSA_PUB_MAX);
	buf_init(&e->sign_cert, PROTO_SIGN_CERT_MAX);
	buf_init(&e->recv_cert, PROTO_SIGN_CERT_MAX);
}

static void entry_free(struct entry *e)
{
	buf_free(&e->der);
	buf_free(&e->sign_cert);
	buf_free(&e->recv_cert);
}

/* KEY's entry under NICK: its signing key SIGN_PUB of SIGN_VERSION and its
 * receiving key RECV_PUB of RECV_VERSION, each certified by CERTIFIER (the
 * key itself, for an honest entry). */
static void entry_make(struct entry *e, const struct crypto_rsa_key *key, const char *nick,
		       const struct crypto_rsa_key *certifier, uint32_t sign_version,
		       const uint8_t sign_pub[32], uint32_t recv_version, const uint8_t recv_pub[32])
{
	entry_init(e);
	assert_int_equal(crypto_rsa_public_to_der(key, &e->der), CC_OK);
	assert_int_equal(e2e_signing_cert_make(certifier, sign_version, sign_pub, &e->sign_cert),
			 CC_OK);
	uint64_t created = 1700000000000ull + recv_version;
	assert_int_equal(e2e_recv_cert_make(certifier, recv_version, created, recv_pub,
					    &e->recv_cert),
			 CC_OK);
	e->it.nick = proto_bytes_str(nick);
	e->it.identity_key = (struct proto_bytes){e->der.data, e->der.len};
	e->it.sign_version = sign_version;
	memcpy(e->it.sign_pub, sign_pub, 32);
	e->it.sign_cert = (struct proto_bytes){e->sign_cert.data, e->sign_cert.len};
	e->it.recv_version = recv_version;
	e->it.recv_created_ms = created;
	memcpy(e->it.recv_pub, recv_pub, 32);
	e->it.recv_cert = (struct proto_bytes){e->recv_cert.data, e->recv_cert.len};
}

static void x25519_pub(uint8_t pub[32])
{
	uint8_t priv[32];
	assert_int_equal(crypto_x25519_keypair(priv, pub), CC_OK);
	mem_wipe(priv, sizeof priv);
}

static void take(struct fixture *f, struct client_room *r, const struct entry *e)
{
	assert_int_equal(client_room_add_user_item(f->cl, r, &e->it), CC_OK);
}

static const struct client_user *user_of(const struct client_room *r, const struct who *w)
{
	const struct client_user *u = client_room_user(r, w->fp);
	assert_non_null(u);
	return u;
}

/* ---- the same bytes: no work ------------------------------------------------ */

static void test_same_bytes_verified_once(void **state)
{
	struct fixture *f = *state;
	struct client_keycache *kc = &f->cl->keycache;
	struct who *people[] = {&bob, &carol, &dave};
	struct entry e[3];
	uint8_t recv[3][32];

	for (size_t i = 0; i < 3; i++) {
		x25519_pub(recv[i]);
		entry_make(&e[i], people[i]->key, people[i]->nick, people[i]->key, 1,
			   people[i]->pub, 1, recv[i]);
	}
	struct client_room *r1 = client_room_new(room_a), *r2 = client_room_new(room_b);
	for (size_t i = 0; i < 3; i++)
		take(f, r1, &e[i]);
	assert_int_equal(kc->keys_parsed, 3);
	assert_int_equal(kc->certs_verified, 6);
	/* The same entries again, in this room and another: nothing parsed,
	 * nothing verified, the same answers. */
	for (size_t i = 0; i < 3; i++) {
		take(f, r1, &e[i]);
		take(f, r2, &e[i]);
	}
	assert_int_equal(kc->keys_parsed, 3);
	assert_int_equal(kc->certs_verified, 6);
	for (size_t i = 0; i < 3; i++) {
		const struct client_user *u = user_of(r2, people[i]);
		assert_true(u->sign_ok);
		assert_int_equal(u->sign_version, 1);
		assert_memory_equal(u->sign_pub, people[i]->pub, 32);
		assert_true(u->recv_ok);
		assert_int_equal(u->recv_version, 1);
		assert_memory_equal(u->recv_pub, recv[i], 32);
		assert_string_equal(u->dir_nick, people[i]->nick);
		assert_memory_equal(u->fp, people[i]->fp, CRYPTO_FINGERPRINT_LEN);
		assert_int_equal(crypto_rsa_bits(u->key), 2048);
	}
	assert_int_equal(r1->nusers, 3);
	assert_int_equal(f->security_errors, 0);
	client_room_free(r1);
	client_room_free(r2);
	for (size_t i = 0; i < 3; i++)
		entry_free(&e[i]);
}

/* ---- other bytes: verified again ---------------------------------------------- */

static void test_changed_bytes_verified_again(void **state)
{
	struct fixture *f = *state;
	struct client_keycache *kc = &f->cl->keycache;
	struct entry v1, e;
	uint8_t recv1[32], recv2[32], pub2[32], seed2[32];

	x25519_pub(recv1);
	x25519_pub(recv2);
	assert_int_equal(crypto_random_bytes(seed2, sizeof seed2), CC_OK);
	assert_int_equal(crypto_ed25519_public(seed2, pub2), CC_OK);
	entry_make(&v1, bob.key, "bob", bob.key, 1, bob.pub, 1, recv1);
	struct client_room *r = client_room_new(room_a);
	take(f, r, &v1);
	uint64_t verified = kc->certs_verified;

	/* A newer signing key whose certificate is not bob's (carol made it):
	 * verified, refused; bob keeps version 1. */
	entry_make(&e, bob.key, "bob", carol.key, 2, pub2, 1, recv1);
	e.it.recv_cert = v1.it.recv_cert;  /* the receiving key as before */
	struct client_room *r2 = client_room_new(room_b);
	take(f, r2, &e);
	assert_int_equal(kc->certs_verified, verified + 1);
	assert_int_equal(user_of(r2, &bob)->sign_version, 1);
	assert_memory_equal(user_of(r2, &bob)->sign_pub, bob.pub, 32);
	/* The same again: verified again, refused again (only what verified is
	 * remembered). */
	take(f, r2, &e);
	assert_int_equal(kc->certs_verified, verified + 2);
	assert_int_equal(user_of(r2, &bob)->sign_version, 1);

	/* Bob's own certificate of version 1, one byte of it changed: verified
	 * again and refused (the version seen before stays). */
	v1.sign_cert.data[v1.sign_cert.len / 2] ^= 0x01;
	take(f, r2, &v1);
	assert_int_equal(kc->certs_verified, verified + 3);
	v1.sign_cert.data[v1.sign_cert.len / 2] ^= 0x01;
	/* The certificate of version 1 with another key in it: refused. */
	v1.it.sign_pub[0] ^= 0x01;
	take(f, r2, &v1);
	assert_int_equal(kc->certs_verified, verified + 4);
	assert_memory_equal(user_of(r2, &bob)->sign_pub, bob.pub, 32);
	v1.it.sign_pub[0] ^= 0x01;

	/* Version 2 certified by bob: verified once, taken; then a lookup. */
	entry_free(&e);
	entry_make(&e, bob.key, "bob", bob.key, 2, pub2, 2, recv2);
	take(f, r2, &e);
	assert_int_equal(kc->certs_verified, verified + 6);
	take(f, r2, &e);
	assert_int_equal(kc->certs_verified, verified + 6);
	const struct client_user *u = user_of(r2, &bob);
	assert_int_equal(u->sign_version, 2);
	assert_memory_equal(u->sign_pub, pub2, 32);
	assert_int_equal(u->recv_version, 2);
	assert_memory_equal(u->recv_pub, recv2, 32);
	/* And version 1 again, though it verified before: older, not used (the
	 * rule of directory.c, on the cache's answer). */
	int before = f->security_errors;
	take(f, r2, &v1);
	assert_int_equal(u->sign_version, 2);
	assert_int_equal(u->recv_version, 2);
	assert_true(f->security_errors > before);

	/* Bob's certificates, byte for byte, on carol's identity key: verified
	 * under hers, and refused. */
	struct entry c;
	entry_make(&c, carol.key, "carol", bob.key, 3, pub2, 3, recv2);
	take(f, r2, &c);
	u = user_of(r2, &carol);
	assert_false(u->sign_ok);
	assert_false(u->recv_ok);
	uint64_t n = kc->certs_verified;
	take(f, r2, &c);
	assert_int_equal(kc->certs_verified, n + 2);

	/* A receiving key that is no key (a low-order point), certified by its
	 * owner: refused each time. */
	static const uint8_t zero[32];
	struct entry z;
	entry_make(&z, dave.key, "dave", dave.key, 1, dave.pub, 1, zero);
	take(f, r2, &z);
	assert_false(user_of(r2, &dave)->recv_ok);
	assert_true(user_of(r2, &dave)->sign_ok);
	n = kc->certs_verified;
	take(f, r2, &z);
	assert_int_equal(kc->certs_verified, n + 1);
	assert_false(user_of(r2, &dave)->recv_ok);

	client_room_free(r);
	client_room_free(r2);
	entry_free(&v1);
	entry_free(&e);
	entry_free(&c);
	entry_free(&z);
	mem_wipe(seed2, sizeof seed2);
}

/* A key that does not parse is refused, and not kept. */
static void test_bad_key_refused(void **state)
{
	struct fixture *f = *state;
	struct entry e;
	uint8_t recv[32];
	x25519_pub(recv);
	entry_make(&e, erin.key, "erin", erin.key, 1, erin.pub, 1, recv);
	e.der.data[e.der.len - 1] ^= 0x01;
	struct client_room *r = client_room_new(room_a);
	assert_int_not_equal(client_room_add_user_item(f->cl, r, &e.it), CC_OK);
	assert_int_not_equal(client_room_add_user_item(f->cl, r, &e.it), CC_OK);
	assert_int_equal(f->cl->keycache.keys_parsed, 2);
	assert_int_equal(f->cl->keycache.n, 0);
	assert_int_equal(r->nusers, 0);
	client_room_free(r);
	entry_free(&e);
}

/* The cache holds at most CLIENT_KEYCACHE_MAX keys: past it, it starts
 * over (and what it forgot is parsed again when it comes back). */
static void test_cache_bounded(void **state)
{
	struct fixture *f = *state;
	struct client_keycache *kc = &f->cl->keycache;
	struct entry b, c;
	uint8_t recv[32];
	x25519_pub(recv);
	entry_make(&b, bob.key, "bob", bob.key, 1, bob.pub, 1, recv);
	entry_make(&c, carol.key, "carol", carol.key, 1, carol.pub, 1, recv);
	struct client_room *r = client_room_new(room_a);
	take(f, r, &b);
	assert_int_equal(kc->n, 1);
	kc->n = CLIENT_KEYCACHE_MAX;  /* as if full */
	take(f, r, &c);
	assert_int_equal(kc->n, 1);
	assert_int_equal(kc->keys_parsed, 2);
	take(f, r, &b);  /* forgotten: parsed and verified again */
	assert_int_equal(kc->keys_parsed, 3);
	assert_int_equal(kc->certs_verified, 6);
	assert_int_equal(kc->n, 2);
	assert_true(user_of(r, &bob)->sign_ok);
	client_room_free(r);
	entry_free(&b);
	entry_free(&c);
}

/* ---- a big directory, checked on every core ----------------------------------- */

/* 70 entries over 14 keys (past the warm's minimum of 64), every fifth one
 * certified by the wrong key: warmed on worker threads, each key is parsed
 * once, and every entry then checks exactly as it would cold: the honest
 * ones from the cache, the forged ones verified again and refused. */
static void test_directory_warmed(void **state)
{
	struct fixture *f = *state;
	struct client_keycache *kc = &f->cl->keycache;
	enum { KEYS = 4 + MANY, ENTRIES = 70 };
	const struct crypto_rsa_key *keys[KEYS] = {bob.key, carol.key, dave.key, erin.key};
	static struct entry e[ENTRIES];
	uint8_t sign_pub[32], recv[32];
	struct buf raw;

	for (size_t i = 0; i < MANY; i++)
		keys[4 + i] = extra[i];
	x25519_pub(sign_pub);
	x25519_pub(recv);
	buf_init(&raw, 1 << 20);
	for (size_t i = 0; i < ENTRIES; i++) {
		const struct crypto_rsa_key *k = keys[i % KEYS];
		bool forged = i % 5 == 4;
		char nick[16];
		snprintf(nick, sizeof nick, "user%zu", i % KEYS);
		entry_make(&e[i], k, "x", forged ? keys[(i + 1) % KEYS] : k, 1, sign_pub, 1, recv);
		e[i].it.nick = proto_bytes_str(nick);
		assert_int_equal(proto_item_encode(PROTO_ITEM_USER, &e[i].it, &raw), CC_OK);
		e[i].it.nick = proto_bytes_str("x");
	}
	struct proto_list list = {ENTRIES, {raw.data, raw.len}};
	client_keycache_warm(f->cl, &list);
	assert_int_equal(kc->keys_parsed, KEYS);
	assert_int_equal(kc->n, KEYS);
	for (size_t i = 0; i < ENTRIES; i++) {
		struct client_entry_check c;
		bool forged = i % 5 == 4;
		assert_int_equal(client_entry_check(f->cl, &e[i].it, &c), CC_OK);
		assert_int_equal(c.sign_ok, !forged);
		assert_int_equal(c.recv_ok, !forged);
		uint8_t fp[CRYPTO_FINGERPRINT_LEN];
		assert_int_equal(crypto_rsa_fingerprint(keys[i % KEYS], fp), CC_OK);
		assert_memory_equal(c.fp, fp, sizeof fp);
		crypto_rsa_free(c.key);
	}
	assert_int_equal(kc->keys_parsed, KEYS);  /* none parsed again */
	/* Fewer than the minimum: left to the checks one by one. */
	client_keycache_free(kc);
	kc->keys_parsed = 0;
	list.count = 10;
	client_keycache_warm(f->cl, &list);
	assert_int_equal(kc->keys_parsed, 0);
	for (size_t i = 0; i < ENTRIES; i++)
		entry_free(&e[i]);
	buf_free(&raw);
}

/* ---- users by fingerprint ------------------------------------------------------ */

static void test_users_by_fingerprint(void **state)
{
	struct fixture *f = *state;
	struct entry e[MANY];
	uint8_t recv[32], pub[32], seed[32] = {7};
	char nick[16];

	x25519_pub(recv);
	assert_int_equal(crypto_ed25519_public(seed, pub), CC_OK);
	struct client_room *r = client_room_new(room_a);
	for (size_t i = 0; i < MANY; i++) {
		snprintf(nick, sizeof nick, "user%zu", i);
		entry_make(&e[i], extra[i], nick, extra[i], 1, pub, 1, recv);
		take(f, r, &e[i]);
		/* Every one so far is found, at its place, as the index grows. */
		for (size_t k = 0; k <= i; k++) {
			const struct client_user *u = client_room_user(r, extra_fp[k]);
			assert_ptr_equal(u, &r->users[k]);
			assert_memory_equal(u->fp, extra_fp[k], CRYPTO_FINGERPRINT_LEN);
		}
	}
	assert_int_equal(r->nusers, MANY);
	assert_true(r->user_slots_cap >= 2 * MANY);
	/* A key again is the same user, not another. */
	take(f, r, &e[3]);
	assert_int_equal(r->nusers, MANY);
	/* Keys not in the room are not found. */
	assert_null(client_room_user(r, alice.fp));
	uint8_t near[CRYPTO_FINGERPRINT_LEN];
	memcpy(near, extra_fp[0], sizeof near);
	near[CRYPTO_FINGERPRINT_LEN - 1] ^= 0x01;  /* the same slot, another key */
	assert_null(client_room_user(r, near));
	struct client_room *empty = client_room_new(room_b);
	assert_null(client_room_user(empty, extra_fp[0]));
	client_room_free(empty);
	client_room_free(r);
	for (size_t i = 0; i < MANY; i++)
		entry_free(&e[i]);
}

/* ---- names and pins from the chain ------------------------------------------------- */

/* Signs rec as signer and applies it to r's chain. */
static void chain_add(struct client_room *r, uint8_t action, const struct who *actor,
		      const char *subject, const uint8_t subject_fp[32], uint32_t epoch,
		      const struct crypto_rsa_key *signer)
{
	struct proto_record rec = {0};
	struct buf wire;
	const char *why = NULL;

	rec.version = PROTO_RECORD_VERSION;
	memcpy(rec.room_id, r->chain.room_id, PROTO_ROOM_ID_LEN);
	rec.seq = r->chain.count;
	if (r->chain.count)
		memcpy(rec.prev_hash, r->chain.last_hash, PROTO_HASH_LEN);
	rec.action = action;
	rec.actor = proto_bytes_str(actor->nick);
	memcpy(rec.actor_fp, actor->fp, PROTO_FINGERPRINT_LEN);
	rec.subject = proto_bytes_str(subject);
	memcpy(rec.subject_fp, subject_fp, PROTO_FINGERPRINT_LEN);
	rec.epoch = epoch;
	epoch_commit(r->chain.room_id, epoch, rec.key_commit);
	rec.time_ms = 1700000000000ull + r->chain.count;
	buf_init(&wire, PROTO_RECORD_MAX);
	assert_int_equal(e2e_record_sign(signer, &rec, &wire), CC_OK);
	assert_int_equal(e2e_chain_apply(&r->chain, wire.data, wire.len, client_room_key_lookup,
					 r, &why),
			 CC_OK);
	buf_free(&wire);
}

static void test_names_from_chain(void **state)
{
	struct fixture *f = *state;
	struct entry e[5];
	uint8_t recv[32];
	const char *why = "";

	/* alice makes the room with bob and dave; dave moves to erin's key
	 * (a MOVE signed by dave's old one). The directory spells names its
	 * own way, any case; carol's key is in it, not in the chain. */
	x25519_pub(recv);
	entry_make(&e[0], alice.key, "alice", alice.key, 1, alice.pub, 1, recv);
	entry_make(&e[1], bob.key, "BOB", bob.key, 1, bob.pub, 1, recv);
	entry_make(&e[2], dave.key, "dave", dave.key, 1, dave.pub, 1, recv);
	entry_make(&e[3], erin.key, "Dave", erin.key, 1, erin.pub, 1, recv);
	entry_make(&e[4], carol.key, "carol", carol.key, 1, carol.pub, 1, recv);
	struct client_room *r = client_room_new(room_a);
	for (size_t i = 0; i < 5; i++)
		take(f, r, &e[i]);
	chain_add(r, PROTO_REC_CREATE, &alice, "alice", alice.fp, 0, alice.key);
	chain_add(r, PROTO_REC_ADD, &alice, "bob", bob.fp, 1, alice.key);
	chain_add(r, PROTO_REC_ADD, &alice, "dave", dave.fp, 2, alice.key);
	chain_add(r, PROTO_REC_MOVE, &dave, "dave", erin.fp, 3, dave.key);

	client_directory_begin(f->cl, "test:names-stored");
	assert_int_equal(client_room_name_users(f->cl, r, &why), CC_OK);
	assert_int_equal(client_directory_commit(f->cl), CC_OK);
	/* Names are the chain's, as e2e_chain_names agrees; a key moved from
	 * is trusted as far as the key it moved to (pinned now for "dave"). */
	struct { const struct who *w; const char *nick; const char *dir; bool verified; } want[] = {
		{&alice, "alice", "alice", true},
		{&bob, "bob", "BOB", false},
		{&dave, "dave", "dave", false},
		{&erin, "dave", "Dave", false},
	};
	for (size_t i = 0; i < 4; i++) {
		const struct client_user *u = user_of(r, want[i].w);
		assert_string_equal(u->nick, want[i].nick);
		assert_true(e2e_chain_names(&r->chain, u->fp, want[i].dir));
		assert_true(u->trusted);
		assert_int_equal(u->verified, want[i].verified);
	}
	assert_memory_equal(e2e_chain_successor(&r->chain, dave.fp), erin.fp, 32);
	assert_string_equal(user_of(r, &carol)->nick, "");
	struct cstore_pin pin;
	assert_int_equal(cstore_pin_get(f->cl->store, "dave", &pin), CC_OK);
	assert_memory_equal(pin.fp, erin.fp, 32);
	assert_int_equal(cstore_pin_get(f->cl->store, "bob", &pin), CC_OK);
	assert_memory_equal(pin.fp, bob.fp, 32);
	assert_int_equal(cstore_pin_get(f->cl->store, "carol", &pin), CC_ERR_NOT_FOUND);
	/* Verified by hand: the pin says so, and so does the next naming. */
	assert_int_equal(cstore_pin_put(f->cl->store, "bob", bob.fp, 1, 1), CC_OK);
	assert_int_equal(client_room_name_users(f->cl, r, &why), CC_OK);
	assert_true(user_of(r, &bob)->verified);
	client_room_free(r);

	/* The directory calls bob's key by a name the chain never gave it. */
	struct entry m;
	entry_make(&m, bob.key, "mallory", bob.key, 1, bob.pub, 1, recv);
	r = client_room_new(room_b);
	take(f, r, &e[0]);
	take(f, r, &m);
	chain_add(r, PROTO_REC_CREATE, &alice, "alice", alice.fp, 0, alice.key);
	chain_add(r, PROTO_REC_ADD, &alice, "bob", bob.fp, 1, alice.key);
	why = "";
	assert_int_equal(client_room_name_users(f->cl, r, &why), CC_ERR_SECURITY);
	assert_non_null(strstr(why, "differently"));
	client_room_free(r);
	entry_free(&m);
	for (size_t i = 0; i < 5; i++)
		entry_free(&e[i]);
}

/* ---- a directory's writes: one commit ------------------------------------------------ */

static void test_directory_one_commit(void **state)
{
	struct fixture *f = *state;
	struct who *people[] = {&bob, &carol, &dave};
	struct entry e[3];
	uint8_t recv[32];
	uint32_t version;
	uint8_t pub[32];

	x25519_pub(recv);
	struct client_room *r = client_room_new(room_a);
	/* Everything between begin and a failed commit is gone (rolled back
	 * here, as a crash before the commit would leave it). */
	client_directory_begin(f->cl, "test:dir-stored");
	assert_true(f->cl->turn.batch);
	for (size_t i = 0; i < 3; i++) {
		entry_make(&e[i], people[i]->key, people[i]->nick, people[i]->key, 1,
			   people[i]->pub, 1, recv);
		take(f, r, &e[i]);
		assert_int_equal(client_trust_check(f->cl, people[i]->nick, people[i]->fp), 1);
	}
	/* The batch's own reads see its writes. */
	assert_int_equal(cstore_sign_get(f->cl->store, bob.fp, &version, pub), CC_OK);
	client_turn_free(f->cl);  /* rolls back */
	struct cstore_pin pin;
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(cstore_pin_get(f->cl->store, people[i]->nick, &pin),
				 CC_ERR_NOT_FOUND);
		assert_int_equal(cstore_sign_get(f->cl->store, people[i]->fp, &version, pub),
				 CC_ERR_NOT_FOUND);
	}
	/* Committed: all of it. */
	client_room_free(r);
	r = client_room_new(room_a);
	client_directory_begin(f->cl, "test:dir-stored");
	for (size_t i = 0; i < 3; i++) {
		take(f, r, &e[i]);
		assert_int_equal(client_trust_check(f->cl, people[i]->nick, people[i]->fp), 1);
	}
	assert_int_equal(client_directory_commit(f->cl), CC_OK);
	assert_false(f->cl->turn.batch);
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(cstore_pin_get(f->cl->store, people[i]->nick, &pin), CC_OK);
		assert_memory_equal(pin.fp, people[i]->fp, 32);
		assert_int_equal(cstore_sign_get(f->cl->store, people[i]->fp, &version, pub), CC_OK);
		assert_int_equal(version, 1);
		uint64_t created;
		assert_int_equal(cstore_recv_seen_get(f->cl->store, people[i]->fp, &version,
						      &created, pub),
				 CC_OK);
		assert_memory_equal(pub, recv, 32);
	}
	/* An event shown meanwhile commits what came before it first: its
	 * handler may call into the core. */
	client_directory_begin(f->cl, "test:dir-stored");
	assert_int_equal(cstore_pin_put(f->cl->store, "erin", erin.fp, 0, 1), CC_OK);
	client_emit_error(f->cl, 0, "", NULL, "security", "an event");
	assert_false(f->cl->turn.batch);
	assert_int_equal(client_directory_commit(f->cl), CC_OK);
	assert_int_equal(cstore_pin_get(f->cl->store, "erin", &pin), CC_OK);
	client_room_free(r);
	for (size_t i = 0; i < 3; i++)
		entry_free(&e[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_same_bytes_verified_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_changed_bytes_verified_again, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_key_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cache_bounded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_directory_warmed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_users_by_fingerprint, setup, teardown),
		cmocka_unit_test_setup_teardown(test_names_from_chain, setup, teardown),
		cmocka_unit_test_setup_teardown(test_directory_one_commit, setup, teardown),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
