/* The membership chains of the end-to-end layer (e2e/e2e.h): records,
 * their signatures, and the chain rules. Each rule is tested from both
 * sides: the allowed record applies, and each way of breaking it is refused
 * with the documented code and leaves the chain exactly as it was. People
 * and fixed secrets: tests/support/e2e_people.h. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "e2e/e2e.h"
#include "proto/room.h"
#include "support/e2e_people.h"
#include "util/buf.h"

/* ---- records ---- */

/* A record for chain c's next slot, committing to epoch's test key. */
static void next_record(const struct e2e_chain *c, struct proto_record *rec, uint8_t action,
			const struct who *actor, const struct who *subject, uint32_t epoch)
{
	memset(rec, 0, sizeof *rec);
	rec->version = PROTO_RECORD_VERSION;
	memcpy(rec->room_id, c->room_id, PROTO_ROOM_ID_LEN);
	rec->seq = c->count;
	if (c->count)
		memcpy(rec->prev_hash, c->last_hash, PROTO_HASH_LEN);
	rec->action = action;
	rec->actor = proto_bytes_str(actor->nick);
	memcpy(rec->actor_fp, actor->fp, PROTO_FINGERPRINT_LEN);
	rec->subject = proto_bytes_str(subject->nick);
	memcpy(rec->subject_fp, subject->fp, PROTO_FINGERPRINT_LEN);
	rec->epoch = epoch;
	epoch_commit(c->room_id, epoch, rec->key_commit);
	rec->time_ms = 1700000000000ull + c->count;
}

static void sign(const struct proto_record *rec, const struct who *signer, struct buf *out)
{
	buf_init(out, PROTO_RECORD_MAX);
	assert_int_equal(e2e_record_sign(signer->key, rec, out), CC_OK);
}

static void test_record_sign_verify(void **state)
{
	(void)state;
	struct e2e_chain c;
	struct proto_record rec, got;
	struct buf wire;
	uint8_t h[PROTO_HASH_LEN], h2[PROTO_HASH_LEN];

	e2e_chain_init(&c, room_a);
	next_record(&c, &rec, PROTO_REC_CREATE, &alice, &alice, 0);
	sign(&rec, &alice, &wire);
	assert_int_equal(proto_record_decode(wire.data, wire.len, &got), CC_OK);
	assert_int_equal(got.signature.len, crypto_rsa_size(alice.key));
	assert_int_equal(e2e_record_verify_sig(alice.key, &got), CC_OK);
	assert_int_equal(e2e_record_verify_sig(bob.key, &got), CC_ERR_AUTH);
	/* The signature covers the signed part, not a shadow copy of it. */
	wire.data[got.signed_part.len - 1] ^= 1;  /* time_ms's last byte */
	assert_int_equal(proto_record_decode(wire.data, wire.len, &got), CC_OK);
	assert_int_equal(e2e_record_verify_sig(alice.key, &got), CC_ERR_AUTH);
	/* The chain hash is SHA-256 of the whole record. */
	e2e_record_hash(wire.data, wire.len, h);
	crypto_sha256(wire.data, wire.len, h2);
	assert_memory_equal(h, h2, sizeof h);
	buf_free(&wire);
	/* Refused fields are refused before signing. */
	rec.action = 0;
	buf_init(&wire, 0);
	assert_int_equal(e2e_record_sign(alice.key, &rec, &wire), CC_ERR_MALFORMED);
	assert_int_equal(wire.len, 0);
	buf_free(&wire);
}

/* ---- chains ---- */

struct keytab {
	const struct who *who[5];
	size_t n;
	unsigned calls;
};

static const struct crypto_rsa_key *keytab_lookup(void *ctx,
						  const uint8_t fp[PROTO_FINGERPRINT_LEN])
{
	struct keytab *t = ctx;
	t->calls++;
	for (size_t i = 0; i < t->n; i++)
		if (memcmp(t->who[i]->fp, fp, PROTO_FINGERPRINT_LEN) == 0)
			return t->who[i]->key;
	return NULL;
}

/* Dave is known to the lookup only where a test says so. */
static struct keytab known = {{&alice, &bob, &carol}, 3, 0};
static struct keytab known_all = {{&alice, &bob, &carol, &dave, &erin}, 5, 0};

static cc_err apply_with(struct e2e_chain *c, const struct buf *wire, struct keytab *tab)
{
	const char *why = NULL;
	cc_err err = e2e_chain_apply(c, wire->data, wire->len, keytab_lookup, tab, &why);
	assert_non_null(why);
	/* A refusal always says why; an acceptance says nothing. */
	if (err)
		assert_true(why[0] != '\0');
	else
		assert_string_equal(why, "");
	return err;
}

/* Signs and applies the next record; returns apply's verdict. */
static cc_err step_by(struct e2e_chain *c, uint8_t action, const struct who *actor,
		      const struct who *subject, uint32_t epoch, const struct who *signer)
{
	struct proto_record rec;
	struct buf wire;
	next_record(c, &rec, action, actor, subject, epoch);
	sign(&rec, signer, &wire);
	cc_err err = apply_with(c, &wire, &known_all);
	buf_free(&wire);
	return err;
}

static cc_err step(struct e2e_chain *c, uint8_t action, const struct who *actor,
		   const struct who *subject, uint32_t epoch)
{
	return step_by(c, action, actor, subject, epoch, actor);
}

/* As step, and the record's chain hash into hash. */
static cc_err step_hash(struct e2e_chain *c, uint8_t action, const struct who *actor,
			const struct who *subject, uint32_t epoch, uint8_t hash[PROTO_HASH_LEN])
{
	struct proto_record rec;
	struct buf wire;
	next_record(c, &rec, action, actor, subject, epoch);
	sign(&rec, actor, &wire);
	e2e_record_hash(wire.data, wire.len, hash);
	cc_err err = apply_with(c, &wire, &known_all);
	buf_free(&wire);
	return err;
}

/* Everything a refused record must leave as it was. */
#define SNAP_MAX 16
struct snap {
	uint32_t count, epoch, nepochs;
	uint8_t last_hash[PROTO_HASH_LEN];
	struct e2e_member admin;
	bool ended, closed;
	size_t nmembers, nspans;
	struct e2e_member members[SNAP_MAX];
	struct e2e_span spans[SNAP_MAX];
	struct e2e_epoch epochs[SNAP_MAX];
	uint8_t hashes[SNAP_MAX][PROTO_HASH_LEN];
};

static void snap_take(const struct e2e_chain *c, struct snap *s)
{
	memset(s, 0, sizeof *s);
	assert_true(c->nmembers <= SNAP_MAX && c->nspans <= SNAP_MAX);
	assert_true(c->nepochs <= SNAP_MAX && c->count <= SNAP_MAX);
	s->count = c->count;
	s->epoch = c->epoch;
	s->nepochs = c->nepochs;
	memcpy(s->last_hash, c->last_hash, PROTO_HASH_LEN);
	s->admin = c->admin;
	s->ended = c->ended;
	s->closed = c->closed;
	s->nmembers = c->nmembers;
	s->nspans = c->nspans;
	if (c->nmembers)
		memcpy(s->members, c->members, c->nmembers * sizeof *c->members);
	if (c->nspans)
		memcpy(s->spans, c->spans, c->nspans * sizeof *c->spans);
	if (c->nepochs)
		memcpy(s->epochs, c->epochs, c->nepochs * sizeof *c->epochs);
	if (c->count)
		memcpy(s->hashes, c->hashes, c->count * sizeof *c->hashes);
}

static void assert_unchanged(const struct e2e_chain *c, const struct snap *s)
{
	struct snap now;
	snap_take(c, &now);
	assert_memory_equal(&now, s, sizeof now);
}

/* Refused with want, and nothing changed. */
static void refuse(struct e2e_chain *c, cc_err want, uint8_t action, const struct who *actor,
		   const struct who *subject, uint32_t epoch)
{
	struct snap s;
	snap_take(c, &s);
	assert_int_equal(step(c, action, actor, subject, epoch), want);
	assert_unchanged(c, &s);
}

/* Signs rec with signer and expects a refusal with want that changes
 * nothing. */
static void refuse_signed(struct e2e_chain *c, cc_err want, const struct proto_record *rec,
			  const struct who *signer, struct keytab *tab)
{
	struct snap s;
	struct buf wire;
	snap_take(c, &s);
	sign(rec, signer, &wire);
	assert_int_equal(apply_with(c, &wire, tab), want);
	assert_unchanged(c, &s);
	buf_free(&wire);
}

static void assert_members(const struct e2e_chain *c, const struct who *const *want, size_t n)
{
	assert_int_equal(c->nmembers, n);
	for (size_t i = 0; i < n; i++) {
		assert_string_equal(c->members[i].nick, want[i]->nick);
		assert_memory_equal(c->members[i].fp, want[i]->fp, PROTO_FINGERPRINT_LEN);
		assert_ptr_equal(e2e_chain_member(c, want[i]->fp), &c->members[i]);
	}
}

/* An epoch's place: opened by record open_seq, ended by end_seq. */
static void assert_epoch(const struct e2e_chain *c, uint32_t epoch, uint32_t open_seq,
			 uint32_t end_seq)
{
	const struct e2e_epoch *e = e2e_chain_epoch(c, epoch);
	assert_non_null(e);
	assert_ptr_equal(e, &c->epochs[epoch]);
	assert_int_equal(e->open_seq, open_seq);
	assert_int_equal(e->end_seq, end_seq);
	/* Its open hash is the opening record's chain hash, and it started at
	 * that record's time (next_record's clock). */
	assert_true(open_seq < c->count);
	assert_memory_equal(e->open_hash, c->hashes[open_seq], PROTO_HASH_LEN);
	assert_true(e->started_ms == 1700000000000ull + open_seq);
	assert_ptr_equal(e2e_chain_commit(c, epoch), e->commit);
}

/* CREATE by alice (epoch 0), ADD bob (epoch 1), ADD carol (epoch 2): every
 * add opens an epoch. */
static void base_chain(struct e2e_chain *c)
{
	e2e_chain_init(c, room_a);
	assert_int_equal(step(c, PROTO_REC_CREATE, &alice, &alice, 0), CC_OK);
	assert_int_equal(step(c, PROTO_REC_ADD, &alice, &bob, 1), CC_OK);
	assert_int_equal(step(c, PROTO_REC_ADD, &alice, &carol, 2), CC_OK);
}

static void test_chain_build(void **state)
{
	(void)state;
	struct e2e_chain c;
	struct proto_record rec;
	struct buf wire;
	uint8_t h[3][PROTO_HASH_LEN], commit[PROTO_HASH_LEN];

	e2e_chain_init(&c, room_a);
	assert_int_equal(c.count, 0);
	assert_int_equal(c.nepochs, 0);
	assert_false(c.closed);
	assert_false(c.ended);
	assert_null(e2e_chain_commit(&c, 0));
	assert_null(e2e_chain_epoch(&c, 0));
	assert_null(e2e_chain_sender(&c, "alice", 0));
	next_record(&c, &rec, PROTO_REC_CREATE, &alice, &alice, 0);
	sign(&rec, &alice, &wire);
	assert_int_equal(apply_with(&c, &wire, &known), CC_OK);
	e2e_record_hash(wire.data, wire.len, h[0]);
	assert_memory_equal(c.last_hash, h[0], PROTO_HASH_LEN);
	buf_free(&wire);
	assert_int_equal(c.count, 1);
	assert_string_equal(c.admin.nick, "alice");
	assert_memory_equal(c.admin.fp, alice.fp, PROTO_FINGERPRINT_LEN);
	assert_epoch(&c, 0, 0, E2E_SEQ_NONE);

	next_record(&c, &rec, PROTO_REC_ADD, &alice, &bob, 1);
	sign(&rec, &alice, &wire);
	assert_int_equal(apply_with(&c, &wire, &known), CC_OK);
	e2e_record_hash(wire.data, wire.len, h[1]);
	assert_memory_equal(c.last_hash, h[1], PROTO_HASH_LEN);
	buf_free(&wire);
	assert_int_equal(step_hash(&c, PROTO_REC_ADD, &alice, &carol, 2, h[2]), CC_OK);
	assert_memory_equal(c.last_hash, h[2], PROTO_HASH_LEN);

	const struct who *const want[] = {&alice, &bob, &carol};
	assert_members(&c, want, 3);
	assert_int_equal(c.count, 3);
	assert_int_equal(c.epoch, 2);
	assert_int_equal(c.nepochs, 3);
	assert_false(c.ended);
	assert_false(c.closed);
	/* Each record's hash is kept, and each add opened an epoch that ended
	 * where the next began. */
	for (uint32_t e = 0; e < 3; e++) {
		assert_memory_equal(c.hashes[e], h[e], PROTO_HASH_LEN);
		assert_epoch(&c, e, e, e < 2 ? e + 1 : E2E_SEQ_NONE);
		epoch_commit(room_a, e, commit);
		assert_memory_equal(e2e_chain_commit(&c, e), commit, PROTO_HASH_LEN);
	}
	assert_null(e2e_chain_commit(&c, 3));
	assert_null(e2e_chain_epoch(&c, 3));
	assert_null(e2e_chain_epoch(&c, UINT32_MAX));
	assert_null(e2e_chain_member(&c, dave.fp));
	/* Nicks match without regard to case, as on the server. */
	assert_ptr_equal(e2e_chain_member_by_nick(&c, "BoB"), &c.members[1]);
	assert_null(e2e_chain_member_by_nick(&c, "dave"));
	/* Who could send in which epoch: from the one their add opened. */
	const struct e2e_member *m = e2e_chain_sender(&c, "carol", 2);
	assert_non_null(m);
	assert_memory_equal(m->fp, carol.fp, PROTO_FINGERPRINT_LEN);
	assert_ptr_equal(e2e_chain_sender(&c, "CAROL", 2), m);
	assert_null(e2e_chain_sender(&c, "carol", 1));
	assert_null(e2e_chain_sender(&c, "bob", 0));
	assert_non_null(e2e_chain_sender(&c, "bob", 1));
	assert_non_null(e2e_chain_sender(&c, "alice", 0));
	assert_null(e2e_chain_sender(&c, "alice", 3));
	assert_null(e2e_chain_sender(&c, "dave", 2));
	assert_null(e2e_chain_sender(&c, "", 2));
	e2e_chain_free(&c);
}

static void test_chain_create_rules(void **state)
{
	(void)state;
	struct e2e_chain c;
	struct proto_record rec;
	struct snap s;

	e2e_chain_init(&c, room_a);
	snap_take(&c, &s);
	/* Nothing but a create opens a room. */
	refuse(&c, CC_ERR_STATE, PROTO_REC_ADD, &alice, &bob, 0);
	refuse(&c, CC_ERR_STATE, PROTO_REC_ADMIN, &alice, &bob, 0);
	refuse(&c, CC_ERR_STATE, PROTO_REC_LEAVE, &alice, &alice, 0);
	refuse(&c, CC_ERR_STATE, PROTO_REC_REKEY, &alice, &alice, 0);
	refuse(&c, CC_ERR_STATE, PROTO_REC_KICK, &alice, &bob, 0);
	refuse(&c, CC_ERR_STATE, PROTO_REC_EXPIRE, &alice, &bob, 0);
	/* actor = subject, under one name; epoch 0. */
	refuse(&c, CC_ERR_STATE, PROTO_REC_CREATE, &alice, &bob, 0);
	refuse(&c, CC_ERR_AUTH, PROTO_REC_CREATE, &alice, &alice, 1);
	next_record(&c, &rec, PROTO_REC_CREATE, &alice, &alice, 0);
	rec.subject = proto_bytes_str("alicia");
	refuse_signed(&c, CC_ERR_AUTH, &rec, &alice, &known);
	/* seq 0 and a zero previous hash: else made on another head. */
	next_record(&c, &rec, PROTO_REC_CREATE, &alice, &alice, 0);
	rec.seq = 1;
	refuse_signed(&c, CC_ERR_STALE_EPOCH, &rec, &alice, &known);
	next_record(&c, &rec, PROTO_REC_CREATE, &alice, &alice, 0);
	rec.prev_hash[31] = 1;
	refuse_signed(&c, CC_ERR_STALE_EPOCH, &rec, &alice, &known);
	assert_unchanged(&c, &s);

	/* A second create, once the room exists, is not allowed. */
	assert_int_equal(step(&c, PROTO_REC_CREATE, &alice, &alice, 0), CC_OK);
	refuse(&c, CC_ERR_STATE, PROTO_REC_CREATE, &alice, &alice, 0);
	refuse(&c, CC_ERR_STATE, PROTO_REC_CREATE, &alice, &alice, 1);
	refuse(&c, CC_ERR_STATE, PROTO_REC_CREATE, &bob, &bob, 0);
	e2e_chain_free(&c);
}

static void test_chain_add_rules(void **state)
{
	(void)state;
	struct e2e_chain c;
	base_chain(&c);
	/* Only the admin adds; only non-members; into exactly the next epoch. */
	refuse(&c, CC_ERR_STATE, PROTO_REC_ADD, &bob, &dave, 3);
	refuse(&c, CC_ERR_STATE, PROTO_REC_ADD, &alice, &bob, 3);
	refuse(&c, CC_ERR_STATE, PROTO_REC_ADD, &alice, &alice, 3);
	refuse(&c, CC_ERR_AUTH, PROTO_REC_ADD, &alice, &dave, 2);
	refuse(&c, CC_ERR_AUTH, PROTO_REC_ADD, &alice, &dave, 4);
	/* A member under another nick is still that member (by key), and a
	 * record must call it what the chain does. */
	struct who bob2 = bob;
	bob2.nick = "bobby";
	refuse(&c, CC_ERR_AUTH, PROTO_REC_ADD, &alice, &bob2, 3);
	/* A new key under a member's nickname, in any case: receivers find a
	 * message's sender by nickname, so no. */
	struct who dave_as_carol = dave;
	dave_as_carol.nick = "CAROL";
	refuse(&c, CC_ERR_STATE, PROTO_REC_ADD, &alice, &dave_as_carol, 3);
	dave_as_carol.nick = "carol";
	refuse(&c, CC_ERR_STATE, PROTO_REC_ADD, &alice, &dave_as_carol, 3);
	dave_as_carol.nick = "Alice";
	refuse(&c, CC_ERR_STATE, PROTO_REC_ADD, &alice, &dave_as_carol, 3);

	assert_int_equal(step(&c, PROTO_REC_ADD, &alice, &dave, 3), CC_OK);
	const struct who *const want[] = {&alice, &bob, &carol, &dave};
	assert_members(&c, want, 4);
	assert_int_equal(c.epoch, 3);
	assert_epoch(&c, 3, 3, E2E_SEQ_NONE);
	assert_epoch(&c, 2, 2, 3);
	/* Dave reads and sends from the epoch his add opened, not before. */
	assert_non_null(e2e_chain_sender(&c, "dave", 3));
	assert_null(e2e_chain_sender(&c, "dave", 2));
	e2e_chain_free(&c);
}

/* The next ADD record naming subjects[0..n), signed by signer; subjects
 * (nick || fp, back to back) are kept in raw for the record's views. */
static cc_err add_many(struct e2e_chain *c, const struct who *actor,
		       const struct who *const *subjects, size_t n, uint32_t epoch,
		       const struct who *signer, struct buf *raw)
{
	struct proto_record rec;
	struct buf wire;
	buf_init(raw, PROTO_RECORD_MAX);
	for (size_t i = 0; i < n; i++) {
		struct proto_bytes nick = proto_bytes_str(subjects[i]->nick);
		assert_int_equal(proto_subject_put(raw, &nick, subjects[i]->fp), CC_OK);
	}
	next_record(c, &rec, PROTO_REC_ADD, actor, subjects[0], epoch);
	rec.nsubjects = (uint16_t)n;
	rec.subjects = (struct proto_bytes){raw->data, raw->len};
	sign(&rec, signer, &wire);
	cc_err err = apply_with(c, &wire, &known_all);
	buf_free(&wire);
	return err;
}

static cc_err add_many_by(struct e2e_chain *c, const struct who *actor,
			  const struct who *const *subjects, size_t n, uint32_t epoch)
{
	struct buf raw;
	cc_err err = add_many(c, actor, subjects, n, epoch, actor, &raw);
	buf_free(&raw);
	return err;
}

static void refuse_many(struct e2e_chain *c, cc_err want, const struct who *actor,
			const struct who *const *subjects, size_t n, uint32_t epoch)
{
	struct snap s;
	snap_take(c, &s);
	assert_int_equal(add_many_by(c, actor, subjects, n, epoch), want);
	assert_unchanged(c, &s);
}

/* An ADD of several members (a big room's creation): each subject is held
 * to the rules of a single ADD, and none may be named twice. */
static void test_chain_add_many(void **state)
{
	(void)state;
	struct e2e_chain c;
	struct who dave_as_carol = dave, erin_as_dave = erin, bob2 = bob;
	dave_as_carol.nick = "CAROL";
	erin_as_dave.nick = "Dave";
	bob2.nick = "bobby";
	base_chain(&c);

	const struct who *const twice[] = {&dave, &dave};
	refuse_many(&c, CC_ERR_STATE, &alice, twice, 2, 3);
	const struct who *const same_name[] = {&dave, &erin_as_dave};
	refuse_many(&c, CC_ERR_STATE, &alice, same_name, 2, 3);
	const struct who *const member[] = {&dave, &bob};
	refuse_many(&c, CC_ERR_STATE, &alice, member, 2, 3);
	const struct who *const member_renamed[] = {&dave, &bob2};
	refuse_many(&c, CC_ERR_STATE, &alice, member_renamed, 2, 3);
	const struct who *const members_name[] = {&erin, &dave_as_carol};
	refuse_many(&c, CC_ERR_STATE, &alice, members_name, 2, 3);
	const struct who *const self[] = {&dave, &alice};
	refuse_many(&c, CC_ERR_STATE, &alice, self, 2, 3);
	const struct who *const fine[] = {&erin, &dave};
	refuse_many(&c, CC_ERR_STATE, &bob, fine, 2, 3);  /* not the admin */
	refuse_many(&c, CC_ERR_AUTH, &alice, fine, 2, 4);

	/* Both join, in the record's order, in the one epoch it opens. */
	assert_int_equal(add_many_by(&c, &alice, fine, 2, 3), CC_OK);
	const struct who *const want[] = {&alice, &bob, &carol, &erin, &dave};
	assert_members(&c, want, 5);
	assert_int_equal(c.count, 4);
	assert_int_equal(c.epoch, 3);
	assert_epoch(&c, 3, 3, E2E_SEQ_NONE);
	assert_non_null(e2e_chain_sender(&c, "erin", 3));
	assert_non_null(e2e_chain_sender(&c, "dave", 3));
	assert_null(e2e_chain_sender(&c, "dave", 2));
	/* And leave as anyone else. */
	assert_int_equal(step(&c, PROTO_REC_KICK, &alice, &erin, 4), CC_OK);
	e2e_chain_free(&c);
}

/* The most a record names: 256 subjects (a room of 5,000 is made of 20 of
 * them); one more is not encoded. Subjects' keys are never looked up: only
 * the actor signs. */
static void test_chain_add_most(void **state)
{
	(void)state;
	enum { N = PROTO_RECORD_SUBJECTS_MAX + 1 };
	static struct who many[N];
	static char names[N][PROTO_NICK_MAX + 1];
	const struct who *subjects[N];
	struct e2e_chain c;
	struct buf raw;

	for (size_t i = 0; i < N; i++) {
		snprintf(names[i], sizeof names[i], "member%03zu", i);
		memset(&many[i], 0, sizeof many[i]);
		many[i].nick = names[i];
		crypto_sha256(names[i], strlen(names[i]), many[i].fp);
		subjects[i] = &many[i];
	}
	base_chain(&c);
	struct proto_record rec;
	struct buf wire;
	buf_init(&raw, 2 * PROTO_RECORD_MAX);
	for (size_t i = 0; i < N; i++) {
		struct proto_bytes nick = proto_bytes_str(names[i]);
		assert_int_equal(proto_subject_put(&raw, &nick, many[i].fp), CC_OK);
	}
	next_record(&c, &rec, PROTO_REC_ADD, &alice, subjects[0], 3);
	rec.nsubjects = N;
	rec.subjects = (struct proto_bytes){raw.data, raw.len};
	buf_init(&wire, 2 * PROTO_RECORD_MAX);
	assert_int_equal(e2e_record_sign(alice.key, &rec, &wire), CC_ERR_MALFORMED);
	buf_free(&wire);
	buf_free(&raw);

	assert_int_equal(add_many(&c, &alice, subjects, N - 1, 3, &alice, &raw), CC_OK);
	assert_int_equal(c.nmembers, 3 + N - 1);
	for (size_t i = 0; i < N - 1; i++)
		assert_string_equal(c.members[3 + i].nick, names[i]);
	buf_free(&raw);
	e2e_chain_free(&c);
}

static void test_chain_kick(void **state)
{
	(void)state;
	struct e2e_chain c;
	uint8_t commit3[PROTO_HASH_LEN];
	base_chain(&c);

	/* Refused: by a non-admin, of the admin, of a non-member, without a
	 * new epoch, or skipping one. */
	refuse(&c, CC_ERR_STATE, PROTO_REC_KICK, &bob, &carol, 3);
	refuse(&c, CC_ERR_STATE, PROTO_REC_KICK, &alice, &alice, 3);
	refuse(&c, CC_ERR_STATE, PROTO_REC_KICK, &alice, &dave, 3);
	refuse(&c, CC_ERR_AUTH, PROTO_REC_KICK, &alice, &carol, 2);
	refuse(&c, CC_ERR_AUTH, PROTO_REC_KICK, &alice, &carol, 4);

	assert_int_equal(step(&c, PROTO_REC_KICK, &alice, &carol, 3), CC_OK);
	const struct who *const want[] = {&alice, &bob};
	assert_members(&c, want, 2);
	assert_int_equal(c.epoch, 3);
	assert_int_equal(c.nepochs, 4);
	assert_false(c.closed);
	assert_epoch(&c, 3, 3, E2E_SEQ_NONE);
	epoch_commit(room_a, 3, commit3);
	assert_memory_equal(e2e_chain_commit(&c, 3), commit3, PROTO_HASH_LEN);
	/* Carol could send in epoch 2 (her old messages still verify), not
	 * in the epoch her expulsion started. */
	assert_non_null(e2e_chain_sender(&c, "carol", 2));
	assert_null(e2e_chain_sender(&c, "carol", 3));
	assert_non_null(e2e_chain_sender(&c, "bob", 3));
	assert_null(e2e_chain_member_by_nick(&c, "carol"));
	/* Gone: she cannot be expelled again, and cannot leave. */
	refuse(&c, CC_ERR_STATE, PROTO_REC_KICK, &alice, &carol, 4);
	refuse(&c, CC_ERR_STATE, PROTO_REC_LEAVE, &carol, &carol, 3);
	/* The admin may take her back, in a new epoch of her own. */
	assert_int_equal(step(&c, PROTO_REC_ADD, &alice, &carol, 4), CC_OK);
	assert_non_null(e2e_chain_sender(&c, "carol", 4));
	assert_null(e2e_chain_sender(&c, "carol", 3));
	e2e_chain_free(&c);
}

static void test_chain_leave(void **state)
{
	(void)state;
	struct e2e_chain c;
	base_chain(&c);

	/* The admin cannot leave while others remain. */
	refuse(&c, CC_ERR_STATE, PROTO_REC_LEAVE, &alice, &alice, 2);
	/* One leaves only itself, only as a member, within the epoch. */
	refuse(&c, CC_ERR_STATE, PROTO_REC_LEAVE, &bob, &carol, 2);
	refuse(&c, CC_ERR_STATE, PROTO_REC_LEAVE, &alice, &bob, 2);
	refuse(&c, CC_ERR_STATE, PROTO_REC_LEAVE, &dave, &dave, 2);
	refuse(&c, CC_ERR_AUTH, PROTO_REC_LEAVE, &bob, &bob, 3);

	/* A leave closes the epoch: same number, nobody sends in it any more. */
	assert_int_equal(step(&c, PROTO_REC_LEAVE, &bob, &bob, 2), CC_OK);
	const struct who *const want[] = {&alice, &carol};
	assert_members(&c, want, 2);
	assert_int_equal(c.epoch, 2);
	assert_int_equal(c.nepochs, 3);
	assert_true(c.closed);
	assert_epoch(&c, 2, 2, 3);
	/* Bob's messages of the epoch still count. */
	assert_non_null(e2e_chain_sender(&c, "bob", 2));
	/* A second close of a closed epoch keeps where it ended. */
	assert_int_equal(step(&c, PROTO_REC_LEAVE, &carol, &carol, 2), CC_OK);
	assert_true(c.closed);
	assert_epoch(&c, 2, 2, 3);
	const struct who *const alone[] = {&alice};
	assert_members(&c, alone, 1);
	/* A rekey opens the next one. */
	assert_int_equal(step(&c, PROTO_REC_REKEY, &alice, &alice, 3), CC_OK);
	assert_false(c.closed);
	assert_int_equal(c.epoch, 3);
	assert_epoch(&c, 3, 5, E2E_SEQ_NONE);
	assert_epoch(&c, 2, 2, 3);
	assert_null(e2e_chain_sender(&c, "bob", 3));
	assert_null(e2e_chain_sender(&c, "carol", 3));
	assert_non_null(e2e_chain_sender(&c, "bob", 2));
	assert_non_null(e2e_chain_sender(&c, "carol", 2));
	assert_false(c.ended);
	e2e_chain_free(&c);
}

static void test_chain_admin(void **state)
{
	(void)state;
	struct e2e_chain c;
	base_chain(&c);

	/* Only the admin, to another member, within the epoch. */
	refuse(&c, CC_ERR_STATE, PROTO_REC_ADMIN, &bob, &carol, 2);
	refuse(&c, CC_ERR_STATE, PROTO_REC_ADMIN, &bob, &bob, 2);
	refuse(&c, CC_ERR_STATE, PROTO_REC_ADMIN, &alice, &alice, 2);
	refuse(&c, CC_ERR_STATE, PROTO_REC_ADMIN, &alice, &dave, 2);
	refuse(&c, CC_ERR_AUTH, PROTO_REC_ADMIN, &alice, &bob, 3);

	assert_int_equal(step(&c, PROTO_REC_ADMIN, &alice, &bob, 2), CC_OK);
	assert_string_equal(c.admin.nick, "bob");
	assert_memory_equal(c.admin.fp, bob.fp, PROTO_FINGERPRINT_LEN);
	/* Membership and the epoch are unchanged by a handover. */
	const struct who *const want[] = {&alice, &bob, &carol};
	assert_members(&c, want, 3);
	assert_int_equal(c.epoch, 2);
	assert_int_equal(c.nepochs, 3);
	assert_false(c.closed);
	assert_epoch(&c, 2, 2, E2E_SEQ_NONE);
	/* The old admin has lost the admin's powers, the new one has them. */
	refuse(&c, CC_ERR_STATE, PROTO_REC_ADD, &alice, &dave, 3);
	refuse(&c, CC_ERR_STATE, PROTO_REC_KICK, &alice, &carol, 3);
	refuse(&c, CC_ERR_STATE, PROTO_REC_ADMIN, &alice, &carol, 2);
	refuse(&c, CC_ERR_STATE, PROTO_REC_KICK, &bob, &bob, 3);
	/* A rekey is any member's, admin or not. */
	assert_int_equal(step(&c, PROTO_REC_REKEY, &alice, &alice, 3), CC_OK);
	assert_int_equal(step(&c, PROTO_REC_ADD, &bob, &dave, 4), CC_OK);
	/* And, no longer admin, alice may leave though others remain. */
	assert_int_equal(step(&c, PROTO_REC_LEAVE, &alice, &alice, 4), CC_OK);
	assert_null(e2e_chain_member(&c, alice.fp));
	assert_int_equal(step(&c, PROTO_REC_KICK, &bob, &carol, 5), CC_OK);
	assert_false(c.closed);
	e2e_chain_free(&c);
}

static void test_chain_rekey(void **state)
{
	(void)state;
	struct e2e_chain c;
	struct proto_record rec;
	uint8_t h[PROTO_HASH_LEN];
	base_chain(&c);

	/* Any member, about itself, into exactly the next epoch. */
	refuse(&c, CC_ERR_STATE, PROTO_REC_REKEY, &alice, &bob, 3);
	refuse(&c, CC_ERR_STATE, PROTO_REC_REKEY, &dave, &dave, 3);
	refuse(&c, CC_ERR_AUTH, PROTO_REC_REKEY, &alice, &alice, 2);
	refuse(&c, CC_ERR_AUTH, PROTO_REC_REKEY, &bob, &bob, 4);

	/* bob is no admin, and may. */
	assert_int_equal(step_hash(&c, PROTO_REC_REKEY, &bob, &bob, 3, h), CC_OK);
	assert_int_equal(c.epoch, 3);
	assert_int_equal(c.nepochs, 4);
	assert_memory_equal(c.admin.fp, alice.fp, PROTO_FINGERPRINT_LEN);
	assert_epoch(&c, 3, 3, E2E_SEQ_NONE);
	assert_memory_equal(c.epochs[3].open_hash, h, PROTO_HASH_LEN);
	assert_int_equal(step(&c, PROTO_REC_REKEY, &carol, &carol, 4), CC_OK);
	assert_int_equal(c.epoch, 4);
	const struct who *const want[] = {&alice, &bob, &carol};
	assert_members(&c, want, 3);
	assert_non_null(e2e_chain_sender(&c, "carol", 4));

	/* After a leave closed the epoch, a member who is not the admin
	 * opens the next, and the epoch is open again. */
	assert_int_equal(step(&c, PROTO_REC_LEAVE, &bob, &bob, 4), CC_OK);
	assert_true(c.closed);
	assert_int_equal(step(&c, PROTO_REC_REKEY, &carol, &carol, 5), CC_OK);
	assert_false(c.closed);
	assert_int_equal(c.epoch, 5);
	assert_epoch(&c, 4, 4, 5);
	assert_epoch(&c, 5, 6, E2E_SEQ_NONE);
	/* Later records must commit to the new epoch's secret, not an old one. */
	next_record(&c, &rec, PROTO_REC_ADMIN, &alice, &carol, 5);
	epoch_commit(room_a, 4, rec.key_commit);
	refuse_signed(&c, CC_ERR_AUTH, &rec, &alice, &known_all);
	e2e_chain_free(&c);
}

/* A member moving to a new identity key: signed by the old key, under its
 * own nickname, to a key the chain never named; same place, same role, a
 * new epoch; the old key can do nothing more. */
static void test_chain_move(void **state)
{
	(void)state;
	struct e2e_chain c;
	struct proto_record rec;
	base_chain(&c);
	/* bob's and alice's new keys: erin's and dave's keys under their names. */
	struct who bob2 = erin, alice2 = dave, robert = erin;
	bob2.nick = "bob";
	alice2.nick = "alice";
	robert.nick = "robert";

	refuse(&c, CC_ERR_STATE, PROTO_REC_MOVE, &dave, &dave, 3);    /* not a member */
	refuse(&c, CC_ERR_STATE, PROTO_REC_MOVE, &bob, &bob, 3);      /* no new key */
	refuse(&c, CC_ERR_AUTH, PROTO_REC_MOVE, &bob, &robert, 3);    /* another name */
	refuse(&c, CC_ERR_AUTH, PROTO_REC_MOVE, &bob, &bob2, 2);      /* not a new epoch */
	/* carol's key is carol's: bob cannot take it (nor its name). */
	struct who bob_as_carol = carol;
	bob_as_carol.nick = "bob";
	refuse(&c, CC_ERR_AUTH, PROTO_REC_MOVE, &bob, &bob_as_carol, 3);
	/* Signed by the new key instead of the old: the actor's key must sign. */
	next_record(&c, &rec, PROTO_REC_MOVE, &bob, &bob2, 3);
	refuse_signed(&c, CC_ERR_AUTH, &rec, &erin, &known_all);

	assert_int_equal(step(&c, PROTO_REC_MOVE, &bob, &bob2, 3), CC_OK);
	assert_int_equal(c.epoch, 3);
	assert_false(c.closed);
	const struct who *const want[] = {&alice, &bob2, &carol};
	assert_members(&c, want, 3);
	assert_null(e2e_chain_member(&c, bob.fp));
	/* Before the move bob sent with his old key, from it with the new. */
	assert_memory_equal(e2e_chain_sender(&c, "bob", 2)->fp, bob.fp, PROTO_FINGERPRINT_LEN);
	assert_memory_equal(e2e_chain_sender(&c, "BOB", 3)->fp, erin.fp, PROTO_FINGERPRINT_LEN);
	assert_true(e2e_chain_names(&c, erin.fp, "bob"));
	/* The old key is out: it cannot rekey, leave or move again. */
	refuse(&c, CC_ERR_STATE, PROTO_REC_REKEY, &bob, &bob, 4);
	refuse(&c, CC_ERR_STATE, PROTO_REC_LEAVE, &bob, &bob, 3);
	refuse(&c, CC_ERR_STATE, PROTO_REC_MOVE, &bob, &bob2, 4);
	/* Nor can the new key go back to a key of the room's history. */
	refuse(&c, CC_ERR_STATE, PROTO_REC_MOVE, &bob2, &bob, 4);
	assert_int_equal(step(&c, PROTO_REC_REKEY, &bob2, &bob2, 4), CC_OK);

	/* The admin moves: the role follows the member, not the old key. */
	assert_int_equal(step(&c, PROTO_REC_MOVE, &alice, &alice2, 5), CC_OK);
	assert_memory_equal(c.admin.fp, dave.fp, PROTO_FINGERPRINT_LEN);
	assert_string_equal(c.admin.nick, "alice");
	refuse(&c, CC_ERR_STATE, PROTO_REC_KICK, &alice, &carol, 6);
	assert_int_equal(step(&c, PROTO_REC_KICK, &alice2, &carol, 6), CC_OK);
	const struct who *const left[] = {&alice2, &bob2};
	assert_members(&c, left, 2);
	e2e_chain_free(&c);
}

static void test_chain_expire(void **state)
{
	(void)state;
	struct e2e_chain c;
	base_chain(&c);

	/* Any member signs another member out; nobody itself; no non-member;
	 * within the epoch. */
	refuse(&c, CC_ERR_STATE, PROTO_REC_EXPIRE, &alice, &dave, 2);
	refuse(&c, CC_ERR_STATE, PROTO_REC_EXPIRE, &bob, &bob, 2);
	refuse(&c, CC_ERR_STATE, PROTO_REC_EXPIRE, &alice, &alice, 2);
	refuse(&c, CC_ERR_STATE, PROTO_REC_EXPIRE, &dave, &carol, 2);
	refuse(&c, CC_ERR_AUTH, PROTO_REC_EXPIRE, &bob, &carol, 3);
	/* bob, no admin, signs carol out: the epoch closes, alice stays admin. */
	assert_int_equal(step(&c, PROTO_REC_EXPIRE, &bob, &carol, 2), CC_OK);
	const struct who *const want[] = {&alice, &bob};
	assert_members(&c, want, 2);
	assert_int_equal(c.epoch, 2);
	assert_true(c.closed);
	assert_epoch(&c, 2, 2, 3);
	assert_memory_equal(c.admin.fp, alice.fp, PROTO_FINGERPRINT_LEN);
	/* Like a leave: her messages of the epoch count, none after. */
	assert_non_null(e2e_chain_sender(&c, "carol", 2));
	assert_int_equal(step(&c, PROTO_REC_REKEY, &bob, &bob, 3), CC_OK);
	assert_null(e2e_chain_sender(&c, "carol", 3));
	e2e_chain_free(&c);

	/* An expired admin: the earliest-joined member left takes the role,
	 * whoever signed. carol signs, bob (joined before her) is the admin. */
	base_chain(&c);
	refuse(&c, CC_ERR_STATE, PROTO_REC_EXPIRE, &dave, &alice, 2);
	assert_int_equal(step(&c, PROTO_REC_EXPIRE, &carol, &alice, 2), CC_OK);
	assert_memory_equal(c.admin.fp, bob.fp, PROTO_FINGERPRINT_LEN);
	assert_string_equal(c.admin.nick, "bob");
	assert_ptr_equal(e2e_chain_member(&c, bob.fp), &c.members[0]);
	assert_true(c.closed);
	/* The old admin's powers are gone with her. */
	refuse(&c, CC_ERR_STATE, PROTO_REC_ADD, &alice, &dave, 3);
	refuse(&c, CC_ERR_STATE, PROTO_REC_ADD, &carol, &dave, 3);
	assert_int_equal(step(&c, PROTO_REC_ADD, &bob, &dave, 3), CC_OK);
	e2e_chain_free(&c);

	/* Joining order, not key or name: bob kicked and taken back joins
	 * after carol, who is then the earliest left when alice goes. */
	base_chain(&c);
	assert_int_equal(step(&c, PROTO_REC_KICK, &alice, &bob, 3), CC_OK);
	assert_int_equal(step(&c, PROTO_REC_ADD, &alice, &bob, 4), CC_OK);
	assert_int_equal(step(&c, PROTO_REC_EXPIRE, &bob, &alice, 4), CC_OK);
	assert_memory_equal(c.admin.fp, carol.fp, PROTO_FINGERPRINT_LEN);
	const struct who *const left[] = {&carol, &bob};
	assert_members(&c, left, 2);
	e2e_chain_free(&c);
}

/* A record must name each current member it mentions as the chain does
 * (any case): one key, one name. */
static void test_chain_names(void **state)
{
	(void)state;
	struct e2e_chain c;
	struct proto_record rec;
	base_chain(&c);

	next_record(&c, &rec, PROTO_REC_ADMIN, &alice, &bob, 2);
	rec.actor = proto_bytes_str("alicia");
	refuse_signed(&c, CC_ERR_AUTH, &rec, &alice, &known_all);
	next_record(&c, &rec, PROTO_REC_ADMIN, &alice, &bob, 2);
	rec.subject = proto_bytes_str("robert");
	refuse_signed(&c, CC_ERR_AUTH, &rec, &alice, &known_all);
	next_record(&c, &rec, PROTO_REC_KICK, &alice, &carol, 3);
	rec.subject = proto_bytes_str("bob");  /* carol's key, bob's name */
	refuse_signed(&c, CC_ERR_AUTH, &rec, &alice, &known_all);
	next_record(&c, &rec, PROTO_REC_REKEY, &bob, &bob, 3);
	rec.subject = proto_bytes_str("bobby");
	refuse_signed(&c, CC_ERR_AUTH, &rec, &bob, &known_all);
	next_record(&c, &rec, PROTO_REC_EXPIRE, &carol, &bob, 2);
	rec.actor = proto_bytes_str("bob");  /* carol's key, bob's name */
	refuse_signed(&c, CC_ERR_AUTH, &rec, &carol, &known_all);

	/* The same names in another case are the same names. */
	next_record(&c, &rec, PROTO_REC_ADMIN, &alice, &bob, 2);
	rec.actor = proto_bytes_str("ALICE");
	rec.subject = proto_bytes_str("Bob");
	struct buf wire;
	sign(&rec, &alice, &wire);
	assert_int_equal(apply_with(&c, &wire, &known_all), CC_OK);
	buf_free(&wire);
	/* The chain keeps its own spelling. */
	assert_string_equal(c.admin.nick, "bob");
	assert_string_equal(c.members[0].nick, "alice");

	/* What the chain ever called a key: current or past member, any case. */
	assert_true(e2e_chain_names(&c, alice.fp, "alice"));
	assert_true(e2e_chain_names(&c, alice.fp, "ALICE"));
	assert_false(e2e_chain_names(&c, alice.fp, "bob"));
	assert_false(e2e_chain_names(&c, bob.fp, "alice"));
	assert_false(e2e_chain_names(&c, dave.fp, "dave"));
	assert_int_equal(step(&c, PROTO_REC_KICK, &bob, &carol, 3), CC_OK);
	assert_true(e2e_chain_names(&c, carol.fp, "Carol"));
	assert_false(e2e_chain_names(&c, carol.fp, "carola"));
	e2e_chain_free(&c);
}

/* Where epochs open and end, record by record: ADD, KICK, REKEY and CREATE
 * open one (bound to the opening record's hash); LEAVE and EXPIRE close the
 * current one; ADMIN leaves it as it is. */
static void test_chain_epochs(void **state)
{
	(void)state;
	struct e2e_chain c;
	uint8_t h[10][PROTO_HASH_LEN];
	e2e_chain_init(&c, room_a);

	assert_int_equal(step_hash(&c, PROTO_REC_CREATE, &alice, &alice, 0, h[0]), CC_OK);
	assert_epoch(&c, 0, 0, E2E_SEQ_NONE);
	assert_int_equal(step_hash(&c, PROTO_REC_ADD, &alice, &bob, 1, h[1]), CC_OK);
	assert_epoch(&c, 0, 0, 1);
	assert_epoch(&c, 1, 1, E2E_SEQ_NONE);
	assert_int_equal(step_hash(&c, PROTO_REC_ADMIN, &alice, &bob, 1, h[2]), CC_OK);
	assert_int_equal(c.nepochs, 2);
	assert_false(c.closed);
	assert_epoch(&c, 1, 1, E2E_SEQ_NONE);
	assert_int_equal(step_hash(&c, PROTO_REC_ADD, &bob, &carol, 2, h[3]), CC_OK);
	assert_epoch(&c, 1, 1, 3);
	assert_epoch(&c, 2, 3, E2E_SEQ_NONE);
	assert_int_equal(step_hash(&c, PROTO_REC_LEAVE, &alice, &alice, 2, h[4]), CC_OK);
	assert_true(c.closed);
	assert_int_equal(c.epoch, 2);
	assert_int_equal(c.nepochs, 3);
	assert_epoch(&c, 2, 3, 4);
	assert_int_equal(step_hash(&c, PROTO_REC_EXPIRE, &bob, &carol, 2, h[5]), CC_OK);
	assert_true(c.closed);
	assert_epoch(&c, 2, 3, 4);
	assert_int_equal(step_hash(&c, PROTO_REC_REKEY, &bob, &bob, 3, h[6]), CC_OK);
	assert_false(c.closed);
	assert_epoch(&c, 2, 3, 4);
	assert_epoch(&c, 3, 6, E2E_SEQ_NONE);
	assert_int_equal(step_hash(&c, PROTO_REC_ADD, &bob, &dave, 4, h[7]), CC_OK);
	assert_int_equal(step_hash(&c, PROTO_REC_KICK, &bob, &dave, 5, h[8]), CC_OK);
	assert_epoch(&c, 3, 6, 7);
	assert_epoch(&c, 4, 7, 8);
	assert_epoch(&c, 5, 8, E2E_SEQ_NONE);
	assert_int_equal(c.nepochs, 6);
	assert_int_equal(c.count, 9);
	/* Every record's hash, and every opening record's is its epoch's. */
	for (uint32_t i = 0; i < 9; i++)
		assert_memory_equal(c.hashes[i], h[i], PROTO_HASH_LEN);
	static const uint32_t opened_by[6] = {0, 1, 3, 6, 7, 8};
	for (uint32_t e = 0; e < 6; e++) {
		uint8_t commit[PROTO_HASH_LEN];
		assert_memory_equal(c.epochs[e].open_hash, h[opened_by[e]], PROTO_HASH_LEN);
		epoch_commit(room_a, e, commit);
		assert_memory_equal(c.epochs[e].commit, commit, PROTO_HASH_LEN);
	}
	e2e_chain_free(&c);
}

static void test_chain_refusals(void **state)
{
	(void)state;
	struct e2e_chain c;
	struct proto_record rec;
	struct buf wire;
	struct snap s;
	base_chain(&c);

	/* Wrong seq: a replay of an old slot, or skipping one: made on
	 * another head. */
	next_record(&c, &rec, PROTO_REC_ADD, &alice, &dave, 3);
	rec.seq = c.count - 1;
	refuse_signed(&c, CC_ERR_STALE_EPOCH, &rec, &alice, &known_all);
	rec.seq = c.count + 1;
	refuse_signed(&c, CC_ERR_STALE_EPOCH, &rec, &alice, &known_all);
	rec.seq = UINT32_MAX;
	refuse_signed(&c, CC_ERR_STALE_EPOCH, &rec, &alice, &known_all);
	/* Wrong previous hash. */
	next_record(&c, &rec, PROTO_REC_ADD, &alice, &dave, 3);
	rec.prev_hash[0] ^= 0x80;
	refuse_signed(&c, CC_ERR_STALE_EPOCH, &rec, &alice, &known_all);
	memset(rec.prev_hash, 0, PROTO_HASH_LEN);
	refuse_signed(&c, CC_ERR_STALE_EPOCH, &rec, &alice, &known_all);
	/* Another room. */
	next_record(&c, &rec, PROTO_REC_ADD, &alice, &dave, 3);
	memcpy(rec.room_id, room_b, PROTO_ROOM_ID_LEN);
	refuse_signed(&c, CC_ERR_AUTH, &rec, &alice, &known_all);
	/* Wrong epoch, either way. */
	next_record(&c, &rec, PROTO_REC_ADD, &alice, &dave, 2);
	refuse_signed(&c, CC_ERR_AUTH, &rec, &alice, &known_all);
	next_record(&c, &rec, PROTO_REC_ADD, &alice, &dave, UINT32_MAX);
	refuse_signed(&c, CC_ERR_AUTH, &rec, &alice, &known_all);
	/* A record that opens no epoch carries the current commitment: not
	 * another secret's, nor the right secret's for another room. */
	next_record(&c, &rec, PROTO_REC_ADMIN, &alice, &bob, 2);
	rec.key_commit[5] ^= 1;
	refuse_signed(&c, CC_ERR_AUTH, &rec, &alice, &known_all);
	next_record(&c, &rec, PROTO_REC_ADMIN, &alice, &bob, 2);
	epoch_commit(room_b, 2, rec.key_commit);
	refuse_signed(&c, CC_ERR_AUTH, &rec, &alice, &known_all);
	/* Unknown actor: dave's key is not in the lookup. */
	next_record(&c, &rec, PROTO_REC_LEAVE, &dave, &dave, 2);
	refuse_signed(&c, CC_ERR_AUTH, &rec, &dave, &known);
	/* Signed by someone other than the actor. */
	next_record(&c, &rec, PROTO_REC_ADD, &alice, &dave, 3);
	refuse_signed(&c, CC_ERR_AUTH, &rec, &bob, &known_all);
	refuse_signed(&c, CC_ERR_AUTH, &rec, &dave, &known_all);
	/* A self-signed record naming a member's key still needs that key. */
	next_record(&c, &rec, PROTO_REC_LEAVE, &bob, &bob, 2);
	refuse_signed(&c, CC_ERR_AUTH, &rec, &carol, &known_all);

	/* A bad signature: any bit flipped anywhere in a good record (a flip
	 * may also break the parse or another check: never accepted). */
	next_record(&c, &rec, PROTO_REC_ADD, &alice, &dave, 3);
	sign(&rec, &alice, &wire);
	snap_take(&c, &s);
	for (size_t i = 0; i < wire.len; i++) {
		uint8_t bit = (uint8_t)(1u << (i % 8));
		wire.data[i] ^= bit;
		assert_int_not_equal(apply_with(&c, &wire, &known_all), CC_OK);
		assert_unchanged(&c, &s);
		wire.data[i] ^= bit;
	}
	/* The signature alone, bit by bit through one byte, and cut. */
	size_t sig_at = wire.len - crypto_rsa_size(alice.key);
	for (unsigned b = 0; b < 8; b++) {
		wire.data[sig_at + 100] ^= (uint8_t)(1u << b);
		assert_int_equal(apply_with(&c, &wire, &known_all), CC_ERR_AUTH);
		wire.data[sig_at + 100] ^= (uint8_t)(1u << b);
	}
	assert_unchanged(&c, &s);
	/* Then the untouched record applies. */
	assert_int_equal(apply_with(&c, &wire, &known_all), CC_OK);
	assert_int_equal(c.count, s.count + 1);
	/* And the same bytes again are a replay: out of sequence. */
	snap_take(&c, &s);
	assert_int_equal(apply_with(&c, &wire, &known_all), CC_ERR_STALE_EPOCH);
	assert_unchanged(&c, &s);
	buf_free(&wire);

	/* Bytes that do not parse are refused with the decoder's code; so are
	 * records of protocol 1. */
	static const uint8_t junk[] = {PROTO_RECORD_VERSION, 1, 2, 3};
	static const uint8_t old[] = {1, 1, 2, 3};
	const char *why = NULL;
	assert_int_equal(e2e_chain_apply(&c, junk, sizeof junk, keytab_lookup, &known_all, &why),
			 CC_ERR_TRUNCATED);
	assert_non_null(why);
	assert_int_equal(e2e_chain_apply(&c, junk, 0, keytab_lookup, &known_all, NULL),
			 CC_ERR_TRUNCATED);
	assert_int_equal(e2e_chain_apply(&c, old, sizeof old, keytab_lookup, &known_all, &why),
			 CC_ERR_VERSION);
	assert_unchanged(&c, &s);
	e2e_chain_free(&c);
}

/* The signature is checked before the rules: a forged record gets the
 * same answer whatever it asks for, and the lookup is asked only once, for
 * the actor. */
static void test_chain_auth_before_rules(void **state)
{
	(void)state;
	struct e2e_chain c;
	struct proto_record rec;
	base_chain(&c);
	next_record(&c, &rec, PROTO_REC_ADD, &bob, &dave, 3);  /* bob may not add */
	known_all.calls = 0;
	refuse_signed(&c, CC_ERR_AUTH, &rec, &carol, &known_all);
	assert_int_equal(known_all.calls, 1);
	next_record(&c, &rec, PROTO_REC_KICK, &alice, &alice, 3);
	refuse_signed(&c, CC_ERR_AUTH, &rec, &bob, &known_all);
	assert_int_equal(known_all.calls, 2);
	/* Checks that need no key come first: the lookup is not even asked. */
	next_record(&c, &rec, PROTO_REC_ADD, &alice, &dave, 3);
	rec.seq = 0;
	refuse_signed(&c, CC_ERR_STALE_EPOCH, &rec, &alice, &known_all);
	assert_int_equal(known_all.calls, 2);
	e2e_chain_free(&c);
}

static void test_chain_end(void **state)
{
	(void)state;
	struct e2e_chain c;
	struct snap s;

	/* A room of one: its admin leaves, and the room is over. */
	e2e_chain_init(&c, room_b);
	assert_int_equal(step(&c, PROTO_REC_CREATE, &dave, &dave, 0), CC_OK);
	assert_int_equal(step(&c, PROTO_REC_LEAVE, &dave, &dave, 0), CC_OK);
	assert_true(c.ended);
	assert_true(c.closed);
	assert_int_equal(c.nmembers, 0);
	snap_take(&c, &s);
	refuse(&c, CC_ERR_STATE, PROTO_REC_CREATE, &dave, &dave, 0);
	refuse(&c, CC_ERR_STATE, PROTO_REC_ADD, &dave, &alice, 1);
	refuse(&c, CC_ERR_STATE, PROTO_REC_REKEY, &dave, &dave, 1);
	assert_unchanged(&c, &s);
	e2e_chain_free(&c);

	/* The full room empties: members go, the admin last. */
	base_chain(&c);
	assert_int_equal(step(&c, PROTO_REC_KICK, &alice, &bob, 3), CC_OK);
	refuse(&c, CC_ERR_STATE, PROTO_REC_LEAVE, &alice, &alice, 3);
	assert_int_equal(step(&c, PROTO_REC_LEAVE, &carol, &carol, 3), CC_OK);
	assert_false(c.ended);
	assert_int_equal(step(&c, PROTO_REC_LEAVE, &alice, &alice, 3), CC_OK);
	assert_true(c.ended);
	assert_int_equal(c.nmembers, 0);
	snap_take(&c, &s);
	refuse(&c, CC_ERR_STATE, PROTO_REC_ADD, &alice, &bob, 4);
	refuse(&c, CC_ERR_STATE, PROTO_REC_CREATE, &alice, &alice, 0);
	assert_unchanged(&c, &s);
	e2e_chain_free(&c);
}

/* A head stored earlier (count, hash of record count - 1) is extended by a
 * chain that holds that very record at that place. */
static void test_chain_extends(void **state)
{
	(void)state;
	struct e2e_chain c;
	uint8_t h[PROTO_HASH_LEN], zero[PROTO_HASH_LEN] = {0};

	e2e_chain_init(&c, room_a);
	assert_true(e2e_chain_extends(&c, 0, zero));
	assert_false(e2e_chain_extends(&c, 1, zero));
	e2e_chain_free(&c);

	base_chain(&c);
	assert_true(e2e_chain_extends(&c, 0, zero));
	for (uint32_t n = 1; n <= c.count; n++) {
		memcpy(h, c.hashes[n - 1], PROTO_HASH_LEN);
		assert_true(e2e_chain_extends(&c, n, h));
		h[n % PROTO_HASH_LEN] ^= 0x01;
		assert_false(e2e_chain_extends(&c, n, h));
	}
	/* The right hash at the wrong place. */
	assert_false(e2e_chain_extends(&c, 2, c.hashes[2]));
	assert_false(e2e_chain_extends(&c, 3, c.hashes[1]));
	/* A head beyond this chain: ours was cut short. */
	assert_false(e2e_chain_extends(&c, c.count + 1, c.last_hash));
	assert_false(e2e_chain_extends(&c, UINT32_MAX, c.last_hash));
	/* The chain grows; old heads stay extended. */
	memcpy(h, c.last_hash, PROTO_HASH_LEN);
	assert_int_equal(step(&c, PROTO_REC_REKEY, &bob, &bob, 3), CC_OK);
	assert_true(e2e_chain_extends(&c, 3, h));
	assert_true(e2e_chain_extends(&c, 4, c.last_hash));
	e2e_chain_free(&c);
}

static cc_err check_head(const struct e2e_chain *c, uint32_t epoch, uint32_t head_seq,
			 const uint8_t hash[PROTO_HASH_LEN])
{
	const char *why = NULL;
	cc_err err = e2e_chain_check_head(c, epoch, head_seq, hash, &why);
	assert_non_null(why);
	if (err)
		assert_true(why[0] != '\0');
	else
		assert_string_equal(why, "");
	return err;
}

/* The head a message names: one of our records (else SECURITY: withheld
 * from us, or a fork), inside the message's epoch (else AUTH). */
static void test_chain_check_head(void **state)
{
	(void)state;
	struct e2e_chain c;
	uint8_t h[PROTO_HASH_LEN];
	base_chain(&c);  /* epochs 0: [0, 1), 1: [1, 2), 2: [2, -) */

	for (uint32_t e = 0; e < 3; e++)
		assert_int_equal(check_head(&c, e, e, c.hashes[e]), CC_OK);
	/* Outside the epoch: before it opened, after it ended, or an epoch
	 * that never opened. */
	assert_int_equal(check_head(&c, 2, 1, c.hashes[1]), CC_ERR_AUTH);
	assert_int_equal(check_head(&c, 1, 2, c.hashes[2]), CC_ERR_AUTH);
	assert_int_equal(check_head(&c, 0, 1, c.hashes[1]), CC_ERR_AUTH);
	assert_int_equal(check_head(&c, 3, 2, c.hashes[2]), CC_ERR_AUTH);
	assert_int_equal(check_head(&c, UINT32_MAX, 2, c.hashes[2]), CC_ERR_AUTH);
	/* Beyond our chain: the server kept records from us. */
	assert_int_equal(check_head(&c, 2, 3, c.hashes[2]), CC_ERR_SECURITY);
	assert_int_equal(check_head(&c, 2, UINT32_MAX, c.hashes[2]), CC_ERR_SECURITY);
	/* Another record at that place: the sender saw another history. */
	memcpy(h, c.hashes[2], PROTO_HASH_LEN);
	h[31] ^= 0x01;
	assert_int_equal(check_head(&c, 2, 2, h), CC_ERR_SECURITY);
	assert_int_equal(check_head(&c, 2, 2, c.hashes[1]), CC_ERR_SECURITY);
	/* The security verdicts come first, whatever the epoch. */
	assert_int_equal(check_head(&c, 9, 99, h), CC_ERR_SECURITY);
	assert_int_equal(check_head(&c, 0, 2, h), CC_ERR_SECURITY);

	/* A handover stays in the epoch: a head on it is fine. */
	assert_int_equal(step(&c, PROTO_REC_ADMIN, &alice, &bob, 2), CC_OK);
	assert_int_equal(check_head(&c, 2, 3, c.hashes[3]), CC_OK);
	assert_int_equal(check_head(&c, 2, 2, c.hashes[2]), CC_OK);
	/* The leave that closes the epoch ends it: a head on the leave is past
	 * it (nobody sends in a closed epoch), one before it is fine. */
	assert_int_equal(step(&c, PROTO_REC_LEAVE, &carol, &carol, 2), CC_OK);
	assert_int_equal(check_head(&c, 2, 4, c.hashes[4]), CC_ERR_AUTH);
	assert_int_equal(check_head(&c, 2, 3, c.hashes[3]), CC_OK);
	/* The next epoch starts at its rekey. */
	assert_int_equal(step(&c, PROTO_REC_REKEY, &alice, &alice, 3), CC_OK);
	assert_int_equal(check_head(&c, 3, 5, c.hashes[5]), CC_OK);
	assert_int_equal(check_head(&c, 3, 4, c.hashes[4]), CC_ERR_AUTH);
	assert_int_equal(check_head(&c, 2, 5, c.hashes[5]), CC_ERR_AUTH);
	e2e_chain_free(&c);

	/* An empty chain holds no head at all. */
	e2e_chain_init(&c, room_a);
	assert_int_equal(check_head(&c, 0, 0, h), CC_ERR_SECURITY);
	e2e_chain_free(&c);
}

/* A copy is a chain of its own: records applied to one do not reach the
 * other, and both free cleanly. */
static void test_chain_copy(void **state)
{
	(void)state;
	struct e2e_chain c, copy, empty, empty_copy;
	struct snap before, copy_before;

	e2e_chain_init(&empty, room_b);
	assert_int_equal(e2e_chain_copy(&empty_copy, &empty), CC_OK);
	assert_int_equal(empty_copy.count, 0);
	assert_memory_equal(empty_copy.room_id, room_b, PROTO_ROOM_ID_LEN);
	assert_int_equal(step(&empty_copy, PROTO_REC_CREATE, &dave, &dave, 0), CC_OK);
	assert_int_equal(empty.count, 0);
	assert_null(empty.members);
	e2e_chain_free(&empty_copy);
	e2e_chain_free(&empty);

	base_chain(&c);
	snap_take(&c, &before);
	assert_int_equal(e2e_chain_copy(&copy, &c), CC_OK);
	assert_unchanged(&copy, &before);
	assert_true(copy.members != c.members && copy.spans != c.spans &&
		    copy.epochs != c.epochs && copy.hashes != c.hashes);

	/* A record on the copy: the original is untouched. */
	assert_int_equal(step(&copy, PROTO_REC_ADD, &alice, &dave, 3), CC_OK);
	assert_unchanged(&c, &before);
	assert_int_equal(copy.nmembers, 4);
	snap_take(&copy, &copy_before);
	/* Another on the original, in the same slot: the copy is untouched,
	 * and the two now differ at record 3. */
	assert_int_equal(step(&c, PROTO_REC_REKEY, &bob, &bob, 3), CC_OK);
	assert_unchanged(&copy, &copy_before);
	assert_memory_not_equal(c.hashes[3], copy.hashes[3], PROTO_HASH_LEN);
	assert_memory_equal(c.hashes[2], copy.hashes[2], PROTO_HASH_LEN);
	/* Both keep growing past their first arrays' room. */
	for (uint32_t e = 4; e < 14; e++) {
		assert_int_equal(step(&c, PROTO_REC_REKEY, &carol, &carol, e), CC_OK);
		assert_int_equal(step(&copy, PROTO_REC_REKEY, &dave, &dave, e), CC_OK);
	}
	assert_int_equal(c.count, 14);
	assert_int_equal(copy.count, 14);
	assert_int_equal(c.nmembers, 3);
	assert_int_equal(copy.nmembers, 4);
	/* A copy of the grown chain too. */
	struct e2e_chain again;
	assert_int_equal(e2e_chain_copy(&again, &copy), CC_OK);
	assert_int_equal(step(&again, PROTO_REC_REKEY, &alice, &alice, 14), CC_OK);
	assert_int_equal(copy.count, 14);
	assert_int_equal(again.count, 15);
	e2e_chain_free(&again);
	e2e_chain_free(&copy);
	e2e_chain_free(&c);
}

/* The point of binding the epoch key to the opening record: a server that
 * shows two members two different chains (here: the same creation, then
 * bob's add to one and carol's to the other, each committing to the same
 * secret) cannot make them share a key, so they cannot read each other. */
static void test_chain_fork_keys(void **state)
{
	(void)state;
	struct e2e_chain one, two;
	uint8_t secret[E2E_KEY_LEN], key_one[E2E_KEY_LEN], key_two[E2E_KEY_LEN];
	struct proto_record rec;
	struct buf wire;

	e2e_chain_init(&one, room_a);
	next_record(&one, &rec, PROTO_REC_CREATE, &alice, &alice, 0);
	sign(&rec, &alice, &wire);
	assert_int_equal(apply_with(&one, &wire, &known_all), CC_OK);
	assert_int_equal(e2e_chain_copy(&two, &one), CC_OK);
	buf_free(&wire);
	assert_int_equal(step(&one, PROTO_REC_ADD, &alice, &bob, 1), CC_OK);
	assert_int_equal(step(&two, PROTO_REC_ADD, &alice, &carol, 1), CC_OK);
	assert_memory_equal(e2e_chain_commit(&one, 1), e2e_chain_commit(&two, 1), PROTO_HASH_LEN);

	epoch_secret(1, secret);
	assert_int_equal(e2e_epoch_base(secret, room_a, 1, e2e_chain_epoch(&one, 1)->open_hash,
				       key_one), CC_OK);
	assert_int_equal(e2e_epoch_base(secret, room_a, 1, e2e_chain_epoch(&two, 1)->open_hash,
				       key_two), CC_OK);
	assert_memory_not_equal(key_one, key_two, E2E_KEY_LEN);

	/* Bob's message on his chain does not open on carol's. */
	struct proto_envelope env;
	uint8_t text[16];
	size_t n = 0;
	header_for(&env, &bob, 1, 1);
	env.head_seq = 1;
	memcpy(env.head_hash, one.hashes[1], PROTO_HASH_LEN);
	buf_init(&wire, PROTO_ENVELOPE_MAX);
	assert_int_equal(e2e_message_seal(bob.seed, key_one, &env, (const uint8_t *)"psst", 4,
					  &wire), CC_OK);
	assert_int_equal(proto_envelope_decode(wire.data, wire.len, &env), CC_OK);
	assert_int_equal(e2e_message_open(bob.pub, key_one, &env, text, &n), CC_OK);
	assert_int_equal(e2e_message_open(bob.pub, key_two, &env, text, &n), CC_ERR_AUTH);
	/* And carol's chain says why: the head is another record. */
	const char *why = NULL;
	assert_int_equal(e2e_chain_check_head(&two, 1, env.head_seq, env.head_hash, &why),
			 CC_ERR_SECURITY);
	assert_int_equal(e2e_chain_check_head(&one, 1, env.head_seq, env.head_hash, &why),
			 CC_OK);
	buf_free(&wire);
	e2e_chain_free(&one);
	e2e_chain_free(&two);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_record_sign_verify),
		cmocka_unit_test(test_chain_build),
		cmocka_unit_test(test_chain_create_rules),
		cmocka_unit_test(test_chain_add_rules),
		cmocka_unit_test(test_chain_add_many),
		cmocka_unit_test(test_chain_add_most),
		cmocka_unit_test(test_chain_kick),
		cmocka_unit_test(test_chain_leave),
		cmocka_unit_test(test_chain_admin),
		cmocka_unit_test(test_chain_rekey),
		cmocka_unit_test(test_chain_expire),
		cmocka_unit_test(test_chain_move),
		cmocka_unit_test(test_chain_names),
		cmocka_unit_test(test_chain_epochs),
		cmocka_unit_test(test_chain_refusals),
		cmocka_unit_test(test_chain_auth_before_rules),
		cmocka_unit_test(test_chain_end),
		cmocka_unit_test(test_chain_extends),
		cmocka_unit_test(test_chain_check_head),
		cmocka_unit_test(test_chain_copy),
		cmocka_unit_test(test_chain_fork_keys),
	};
	return cmocka_run_group_tests(tests, people_setup, people_teardown);
}
