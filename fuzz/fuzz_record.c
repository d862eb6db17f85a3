/* Fuzz target: membership records (proto/room.h) and the chain rules that
 * apply them (e2e/e2e.h).
 *
 * The input is one encoded record. proto_record_decode must not crash; when
 * it accepts, the codec is canonical (re-encoding gives the input) and
 * signed_part is exactly the unsigned encoding. Then e2e_chain_apply gets the
 * bytes three times, and must never crash nor leave a refused record behind:
 *
 *   1. a fresh chain for the record's own room whose lookup knows nobody: it
 *      must refuse everything;
 *   2. a fresh chain whose lookup knows alice and bob (the example keys of
 *      tests/data): only a create signed by its actor may apply;
 *   3. a copy of the room "alice created, then added bob" (epoch 1, open),
 *      with the same lookup: what applies is checked against the rules of
 *      e2e.h (protocol 2: which actions open or close an epoch, who may
 *      sign what, names as the chain has them), written out again here for
 *      that state, and a second apply of the same bytes (a replay) must be
 *      refused as out of sequence.
 *
 * The fuzzer cannot forge RSA signatures, so beyond the seeds it mostly
 * explores the refusals; the seeds (one valid record of every action for 2
 * and 3, and a few the rules refuse) take every rule's accepting path.
 * They are reproducible: the random generator is reseeded with fixed seeds,
 * so the base room's records, and the hash the seeds chain to, are the same
 * on every run. Regenerate them (after any change to the record format or
 * the signing labels) with
 *
 *	CC_FUZZ_GEN_SEEDS=fuzz/corpus/record build-fuzz/fuzz_record
 *
 * which writes them and exits; see fuzz/README.md. */
#include <stdbool.h>
#include <strings.h>

#define FUZZ_NAME "fuzz_record"
#include "fuzz_common.h"

#include "crypto/crypto.h"
#include "e2e/e2e.h"
#include "proto/room.h"

static const uint8_t room[PROTO_ROOM_ID_LEN] = {'f', 'u', 'z', 'z', '_', 'r', 'e', 'c',
						 'o', 'r', 'd', ' ', 'r', 'o', 'o', 'm'};
/* The base room's records are signed under this seed. */
static const char base_seed[] = "cryptocat fuzz_record base";
static const char seeds_seed[] = "cryptocat fuzz_record seeds";

struct id {
	const char *nick;
	struct crypto_rsa_key *key;
	uint8_t fp[PROTO_FINGERPRINT_LEN];
};

static struct id alice = {"alice", NULL, {0}};
static struct id bob = {"bob", NULL, {0}};
/* Never has a key: a subject only. */
static struct id carol = {"carol", NULL, {0xca, 0x10, 0x1}};
/* Nor does dave: carol's fellow subject in an ADD of two. */
static struct id dave = {"dave", NULL, {0xda, 0x7e, 0x2}};

/* The base room: alice created it (epoch 0) and added bob (epoch 1). */
static struct e2e_chain base;

static const struct crypto_rsa_key *lookup_none(void *ctx,
						const uint8_t fp[PROTO_FINGERPRINT_LEN])
{
	(void)ctx;
	(void)fp;
	return NULL;
}

static const struct crypto_rsa_key *lookup_known(void *ctx,
						 const uint8_t fp[PROTO_FINGERPRINT_LEN])
{
	(void)ctx;
	if (memcmp(fp, alice.fp, PROTO_FINGERPRINT_LEN) == 0)
		return alice.key;
	if (memcmp(fp, bob.fp, PROTO_FINGERPRINT_LEN) == 0)
		return bob.key;
	return NULL;
}

/* The secret of each epoch, so the records' commitments can be recomputed. */
static void epoch_commit(uint32_t epoch, uint8_t out[PROTO_HASH_LEN])
{
	uint8_t key[E2E_KEY_LEN];
	for (size_t i = 0; i < E2E_KEY_LEN; i++)
		key[i] = (uint8_t)(epoch * 37 + i);
	e2e_key_commit(room, epoch, key, out);
}

/* A deep copy, so each input starts from the same base. */
static void chain_copy(struct e2e_chain *dst, const struct e2e_chain *src)
{
	CHECK(e2e_chain_copy(dst, src) == CC_OK);
}

/* Refused records change nothing: compare every field and array (the
 * capacities may differ). */
static bool chain_equal(const struct e2e_chain *a, const struct e2e_chain *b)
{
	return memcmp(a->room_id, b->room_id, PROTO_ROOM_ID_LEN) == 0 && a->count == b->count &&
	       memcmp(a->last_hash, b->last_hash, PROTO_HASH_LEN) == 0 && a->epoch == b->epoch &&
	       a->closed == b->closed &&
	       memcmp(&a->admin, &b->admin, sizeof a->admin) == 0 && a->ended == b->ended &&
	       a->nmembers == b->nmembers && a->nspans == b->nspans &&
	       a->nepochs == b->nepochs &&
	       (!a->nmembers ||
		memcmp(a->members, b->members, a->nmembers * sizeof *a->members) == 0) &&
	       (!a->nspans || memcmp(a->spans, b->spans, a->nspans * sizeof *a->spans) == 0) &&
	       (!a->nepochs ||
		memcmp(a->epochs, b->epochs, a->nepochs * sizeof *a->epochs) == 0) &&
	       (!a->count || memcmp(a->hashes, b->hashes, a->count * sizeof *a->hashes) == 0);
}

static bool is_member(const struct e2e_chain *c, const uint8_t fp[PROTO_FINGERPRINT_LEN])
{
	return e2e_chain_member(c, fp) != NULL;
}

static bool fp_is(const uint8_t fp[PROTO_FINGERPRINT_LEN], const struct id *who)
{
	return memcmp(fp, who->fp, PROTO_FINGERPRINT_LEN) == 0;
}

/* A nickname on the record and a name: equal without regard to case. */
static bool nick_is(const struct proto_bytes *nick, const char *name)
{
	return nick->len == strlen(name) &&
	       strncasecmp((const char *)nick->p, name, nick->len) == 0;
}

/* The record applied to the base room: check the outcome against e2e.h's
 * rules, restated from the base state (admin alice; members alice, bob;
 * epoch 1 open). */
static void check_base_applied(const struct e2e_chain *c, const struct proto_record *rec,
			       const uint8_t *data, size_t size)
{
	uint8_t h[PROTO_HASH_LEN];
	bool by_admin = fp_is(rec->actor_fp, &alice);
	bool opens = rec->action == PROTO_REC_ADD || rec->action == PROTO_REC_KICK ||
		     rec->action == PROTO_REC_REKEY || rec->action == PROTO_REC_MOVE;
	bool closes = rec->action == PROTO_REC_LEAVE || rec->action == PROTO_REC_EXPIRE;
	bool self = memcmp(rec->actor_fp, rec->subject_fp, PROTO_FINGERPRINT_LEN) == 0;
	bool actor_was = is_member(&base, rec->actor_fp);
	bool subject_was = is_member(&base, rec->subject_fp);
	const struct e2e_epoch *was = e2e_chain_epoch(&base, base.epoch);

	/* Signed by a known actor, in sequence, chained, for this room. */
	CHECK(fp_is(rec->actor_fp, &alice) || fp_is(rec->actor_fp, &bob));
	CHECK(rec->seq == base.count);
	CHECK(memcmp(rec->prev_hash, base.last_hash, PROTO_HASH_LEN) == 0);
	CHECK(memcmp(rec->room_id, room, PROTO_ROOM_ID_LEN) == 0);
	CHECK(rec->epoch == base.epoch + (opens ? 1 : 0));
	if (!opens)
		CHECK(memcmp(rec->key_commit, was->commit, PROTO_HASH_LEN) == 0);
	/* Members are named as the chain names them (any case). */
	if (actor_was)
		CHECK(nick_is(&rec->actor, e2e_chain_member(&base, rec->actor_fp)->nick));
	if (subject_was)
		CHECK(nick_is(&rec->subject, e2e_chain_member(&base, rec->subject_fp)->nick));
	if (self)
		CHECK(rec->actor.len == rec->subject.len &&
		      strncasecmp((const char *)rec->actor.p, (const char *)rec->subject.p,
				  rec->actor.len) == 0);
	CHECK(c->count == base.count + 1);
	CHECK(c->epoch == rec->epoch);
	e2e_record_hash(data, size, h);
	CHECK(memcmp(c->last_hash, h, PROTO_HASH_LEN) == 0);
	CHECK(memcmp(c->hashes[rec->seq], h, PROTO_HASH_LEN) == 0);
	CHECK(e2e_chain_extends(c, base.count, base.last_hash));
	CHECK(e2e_chain_extends(c, c->count, h));
	CHECK(memcmp(e2e_chain_commit(c, rec->epoch), rec->key_commit, PROTO_HASH_LEN) == 0);

	/* Where epochs open and end. */
	const struct e2e_epoch *old = e2e_chain_epoch(c, base.epoch);
	CHECK(old && old->open_seq == was->open_seq);
	CHECK(memcmp(old->open_hash, was->open_hash, PROTO_HASH_LEN) == 0);
	if (opens) {
		const struct e2e_epoch *e = e2e_chain_epoch(c, rec->epoch);
		CHECK(c->nepochs == base.nepochs + 1 && e);
		CHECK(e->open_seq == rec->seq && e->end_seq == E2E_SEQ_NONE);
		CHECK(memcmp(e->open_hash, h, PROTO_HASH_LEN) == 0);
		CHECK(e->started_ms == rec->time_ms);
		CHECK(old->end_seq == rec->seq && !c->closed);
	} else {
		CHECK(c->nepochs == base.nepochs);
		CHECK(c->closed == closes);
		CHECK(old->end_seq == (closes ? rec->seq : E2E_SEQ_NONE));
	}

	switch (rec->action) {
	case PROTO_REC_ADD: {
		struct proto_subject_iter it;
		struct proto_bytes nick;
		const uint8_t *fp;
		size_t k = 0;
		CHECK(by_admin && !subject_was);
		/* Each subject (one, or several in version 3) was no member, had
		 * no member's nickname in any case, and joined in the record's
		 * order. */
		proto_subject_iter_init(&it, rec);
		while (proto_subject_next(&it, &nick, &fp) == CC_OK) {
			CHECK(!is_member(&base, fp));
			for (size_t i = 0; i < base.nmembers; i++)
				CHECK(!nick_is(&nick, base.members[i].nick));
			CHECK(base.nmembers + k < c->nmembers);
			const struct e2e_member *m = &c->members[base.nmembers + k];
			CHECK(memcmp(m->fp, fp, PROTO_FINGERPRINT_LEN) == 0 && nick_is(&nick, m->nick));
			k++;
		}
		CHECK(k == (rec->nsubjects > 1 ? rec->nsubjects : 1u));
		CHECK(c->nmembers == base.nmembers + k);
		CHECK(e2e_chain_sender(c, c->members[c->nmembers - 1].nick, c->epoch));
		CHECK(!e2e_chain_sender(c, c->members[c->nmembers - 1].nick, base.epoch));
		break;
	}
	case PROTO_REC_KICK:
		CHECK(by_admin && subject_was && !fp_is(rec->subject_fp, &alice));
		CHECK(c->nmembers == base.nmembers - 1 && !is_member(c, rec->subject_fp));
		break;
	case PROTO_REC_LEAVE:
		/* Only bob can: alice is the admin and not alone. */
		CHECK(!by_admin && fp_is(rec->subject_fp, &bob) && self);
		CHECK(c->nmembers == base.nmembers - 1 && !is_member(c, bob.fp));
		CHECK(!c->ended);
		break;
	case PROTO_REC_ADMIN:
		CHECK(by_admin && subject_was && !fp_is(rec->subject_fp, &alice));
		CHECK(fp_is(c->admin.fp, &bob) && c->nmembers == base.nmembers);
		break;
	case PROTO_REC_REKEY:
		/* Any member, for itself. */
		CHECK(actor_was && self);
		CHECK(c->nmembers == base.nmembers);
		break;
	case PROTO_REC_EXPIRE:
		/* Any member signs another out; an expired admin is followed by
		 * the earliest-joined member left (bob, here the only one). */
		CHECK(actor_was && subject_was && !self);
		CHECK(c->nmembers == base.nmembers - 1 && !is_member(c, rec->subject_fp));
		if (fp_is(rec->subject_fp, &alice))
			CHECK(fp_is(c->admin.fp, &bob) &&
			      memcmp(&c->admin, &c->members[0], sizeof c->admin) == 0);
		else
			CHECK(fp_is(c->admin.fp, &alice));
		break;
	case PROTO_REC_MOVE: {
		/* A member, under its own name, to a key the room never had; its
		 * place and role go with it. */
		CHECK(actor_was && !self && !subject_was);
		const struct e2e_member *m = e2e_chain_member(&base, rec->actor_fp);
		CHECK(nick_is(&rec->subject, m->nick));
		CHECK(c->nmembers == base.nmembers && !is_member(c, rec->actor_fp));
		size_t at = (size_t)(m - base.members);
		CHECK(memcmp(c->members[at].fp, rec->subject_fp, PROTO_FINGERPRINT_LEN) == 0);
		CHECK(strcmp(c->members[at].nick, m->nick) == 0);
		if (by_admin)
			CHECK(memcmp(c->admin.fp, rec->subject_fp, PROTO_FINGERPRINT_LEN) == 0);
		else
			CHECK(fp_is(c->admin.fp, &alice));
		break;
	}
	default:
		/* CREATE never applies to a room that exists. */
		CHECK(0);
	}
	if (rec->action != PROTO_REC_ADMIN && rec->action != PROTO_REC_EXPIRE &&
	    rec->action != PROTO_REC_MOVE)
		CHECK(fp_is(c->admin.fp, &alice));
	/* The messages of the epoch a record opened name it as their head. */
	const char *why = NULL;
	CHECK(e2e_chain_check_head(c, rec->epoch, rec->seq, h, &why) ==
	      (closes ? CC_ERR_AUTH : CC_OK));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proto_record rec;
	struct e2e_chain c;
	struct buf out;
	const char *why;

	cc_err err = proto_record_decode(data, size, &rec);
	if (err != CC_OK) {
		CHECK(err > CC_OK && err < CC_ERR_COUNT_);
		/* The chain says the same, and nothing changes. */
		e2e_chain_init(&c, room);
		CHECK(e2e_chain_apply(&c, data, size, lookup_known, NULL, &why) == err);
		CHECK(c.count == 0 && c.nmembers == 0 && c.nepochs == 0 && why && why[0]);
		e2e_chain_free(&c);
		return 0;
	}
	CHECK(rec.version == (rec.nsubjects > 1 ? PROTO_RECORD_VERSION_MANY : PROTO_RECORD_VERSION));

	/* Canonical: the one encoding of these fields is the input. */
	buf_init(&out, 0);
	CHECK(proto_record_encode(&rec, &out) == CC_OK);
	CHECK(out.len == size && memcmp(out.data, data, size) == 0);
	/* signed_part: the unsigned encoding, at the start of the input. */
	buf_reset(&out);
	CHECK(proto_record_encode_unsigned(&rec, &out) == CC_OK);
	CHECK(rec.signed_part.p == data && rec.signed_part.len == out.len);
	CHECK(out.len == size - 2 - rec.signature.len);
	CHECK(memcmp(out.data, data, out.len) == 0);
	buf_free(&out);

	/* 1. Nobody known: always refused (the room is the record's own, so
	 * the lookup is reached whenever seq and prev_hash allow). */
	e2e_chain_init(&c, rec.room_id);
	err = e2e_chain_apply(&c, data, size, lookup_none, NULL, &why);
	CHECK(err != CC_OK && why && why[0]);
	CHECK(c.count == 0 && c.nmembers == 0 && c.nspans == 0 && c.nepochs == 0);
	e2e_chain_free(&c);

	/* 2. A fresh room: only a proper create. */
	e2e_chain_init(&c, rec.room_id);
	err = e2e_chain_apply(&c, data, size, lookup_known, NULL, &why);
	if (err == CC_OK) {
		CHECK(rec.action == PROTO_REC_CREATE && rec.seq == 0 && rec.epoch == 0);
		CHECK(memcmp(rec.actor_fp, rec.subject_fp, PROTO_FINGERPRINT_LEN) == 0);
		CHECK(fp_is(rec.actor_fp, &alice) || fp_is(rec.actor_fp, &bob));
		CHECK(rec.actor.len == rec.subject.len &&
		      strncasecmp((const char *)rec.actor.p, (const char *)rec.subject.p,
				  rec.actor.len) == 0);
		CHECK(c.count == 1 && c.nmembers == 1 && c.epoch == 0 && c.nepochs == 1);
		CHECK(!c.closed && !c.ended);
		CHECK(memcmp(c.admin.fp, rec.actor_fp, PROTO_FINGERPRINT_LEN) == 0);
		CHECK(memcmp(c.epochs[0].commit, rec.key_commit, PROTO_HASH_LEN) == 0);
		CHECK(memcmp(c.epochs[0].open_hash, c.last_hash, PROTO_HASH_LEN) == 0);
		CHECK(c.epochs[0].open_seq == 0 && c.epochs[0].end_seq == E2E_SEQ_NONE);
		CHECK(e2e_chain_sender(&c, c.admin.nick, 0) != NULL);
	} else {
		CHECK(c.count == 0 && c.nmembers == 0 && why && why[0]);
	}
	e2e_chain_free(&c);

	/* 3. The base room. */
	chain_copy(&c, &base);
	err = e2e_chain_apply(&c, data, size, lookup_known, NULL, &why);
	if (err == CC_OK) {
		check_base_applied(&c, &rec, data, size);
		struct e2e_chain after;
		chain_copy(&after, &c);
		CHECK(e2e_chain_apply(&c, data, size, lookup_known, NULL, &why) ==
		      CC_ERR_STALE_EPOCH);
		CHECK(chain_equal(&c, &after));
		e2e_chain_free(&after);
	} else {
		CHECK(err == CC_ERR_AUTH || err == CC_ERR_STATE || err == CC_ERR_STALE_EPOCH);
		/* For this room, out of sequence is decided by seq and prev_hash
		 * alone. */
		if (memcmp(rec.room_id, room, PROTO_ROOM_ID_LEN) == 0)
			CHECK((err == CC_ERR_STALE_EPOCH) ==
			      (rec.seq != base.count ||
			       memcmp(rec.prev_hash, base.last_hash, PROTO_HASH_LEN) != 0));
		else
			CHECK(err == CC_ERR_AUTH);
		CHECK(chain_equal(&c, &base) && why && why[0]);
	}
	e2e_chain_free(&c);
	return 0;
}

/* ---- the base room and the seeds ---- */

/* A record for chain c's next slot, committing to the epoch's key. */
static void next_record(const struct e2e_chain *c, struct proto_record *rec, uint8_t action,
			const struct id *actor, const struct id *subject, uint32_t epoch)
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
	epoch_commit(epoch, rec->key_commit);
	rec->time_ms = 1700000000000ull + c->count;
}

/* Signs (under the current random seed) and appends to out. */
static void sign_into(const struct proto_record *rec, const struct id *signer, struct buf *out)
{
	buf_reset(out);
	fuzz_must(e2e_record_sign(signer->key, rec, out), "sign");
}

/* The same two records every time: the seeds chain to the second's hash. */
static void base_build(void)
{
	struct proto_record rec;
	struct buf b;
	const char *why = "";

	buf_init(&b, 0);
	fuzz_rng_seed_str(base_seed);
	e2e_chain_init(&base, room);
	next_record(&base, &rec, PROTO_REC_CREATE, &alice, &alice, 0);
	sign_into(&rec, &alice, &b);
	fuzz_must(e2e_chain_apply(&base, b.data, b.len, lookup_known, NULL, &why), why);
	next_record(&base, &rec, PROTO_REC_ADD, &alice, &bob, 1);
	sign_into(&rec, &alice, &b);
	fuzz_must(e2e_chain_apply(&base, b.data, b.len, lookup_known, NULL, &why), why);
	crypto_test_rng_restore();
	buf_free(&b);
}

/* Signs rec, checks what the base room (or a fresh one, for seq 0) says
 * about it, and writes it. */
static void gen_record(const char *dir, const char *name, const struct proto_record *rec,
		       const struct id *signer, cc_err want)
{
	struct e2e_chain c;
	struct buf b;
	const char *why = "";

	buf_init(&b, 0);
	sign_into(rec, signer, &b);
	if (rec->seq == 0)
		e2e_chain_init(&c, room);
	else
		chain_copy(&c, &base);
	cc_err err = e2e_chain_apply(&c, b.data, b.len, lookup_known, NULL, &why);
	if (err != want) {
		fprintf(stderr, "fuzz_record seeds: %s: %s (%s), wanted %s\n", name,
			cc_err_str(err), why, cc_err_str(want));
		exit(1);
	}
	e2e_chain_free(&c);
	fuzz_write_buf(dir, name, &b);
	buf_free(&b);
}

static void gen_seeds(const char *dir)
{
	struct e2e_chain fresh;
	struct proto_record rec;
	uint8_t sig[PROTO_RSA_BYTES_MAX];
	struct buf b;

	fuzz_rng_seed_str(seeds_seed);
	e2e_chain_init(&fresh, room);
	/* Every action's accepting path (the base room is at epoch 1). */
	next_record(&fresh, &rec, PROTO_REC_CREATE, &alice, &alice, 0);
	gen_record(dir, "create", &rec, &alice, CC_OK);
	next_record(&base, &rec, PROTO_REC_ADD, &alice, &carol, 2);
	gen_record(dir, "add", &rec, &alice, CC_OK);
	{
		/* An ADD of two (record version 3). */
		struct buf subjects;
		struct proto_bytes n1 = proto_bytes_str(carol.nick), n2 = proto_bytes_str(dave.nick);
		buf_init(&subjects, PROTO_RECORD_MAX);
		if (proto_subject_put(&subjects, &n1, carol.fp) ||
		    proto_subject_put(&subjects, &n2, dave.fp))
			exit(1);
		next_record(&base, &rec, PROTO_REC_ADD, &alice, &carol, 2);
		rec.nsubjects = 2;
		rec.subjects = (struct proto_bytes){subjects.data, subjects.len};
		gen_record(dir, "add_many", &rec, &alice, CC_OK);
		rec.subjects = (struct proto_bytes){subjects.data, subjects.len / 2};
		rec.nsubjects = 1;
		next_record(&base, &rec, PROTO_REC_ADD, &alice, &carol, 2);
		buf_reset(&subjects);
		if (proto_subject_put(&subjects, &n1, carol.fp) ||
		    proto_subject_put(&subjects, &n1, carol.fp))
			exit(1);
		rec.nsubjects = 2;
		rec.subjects = (struct proto_bytes){subjects.data, subjects.len};
		gen_record(dir, "add_many_twice", &rec, &alice, CC_ERR_STATE);
		buf_free(&subjects);
	}
	next_record(&base, &rec, PROTO_REC_KICK, &alice, &bob, 2);
	gen_record(dir, "kick", &rec, &alice, CC_OK);
	next_record(&base, &rec, PROTO_REC_LEAVE, &bob, &bob, 1);
	gen_record(dir, "leave", &rec, &bob, CC_OK);
	next_record(&base, &rec, PROTO_REC_ADMIN, &alice, &bob, 1);
	gen_record(dir, "admin", &rec, &alice, CC_OK);
	next_record(&base, &rec, PROTO_REC_REKEY, &alice, &alice, 2);
	gen_record(dir, "rekey", &rec, &alice, CC_OK);
	next_record(&base, &rec, PROTO_REC_REKEY, &bob, &bob, 2);
	gen_record(dir, "rekey_by_member", &rec, &bob, CC_OK);
	next_record(&base, &rec, PROTO_REC_EXPIRE, &alice, &bob, 1);
	gen_record(dir, "expire", &rec, &alice, CC_OK);
	next_record(&base, &rec, PROTO_REC_EXPIRE, &bob, &alice, 1);
	gen_record(dir, "expire_admin", &rec, &bob, CC_OK);
	next_record(&base, &rec, PROTO_REC_ADMIN, &alice, &bob, 1);
	rec.actor = proto_bytes_str("ALICE");
	gen_record(dir, "admin_other_case", &rec, &alice, CC_OK);
	/* bob, then alice (the admin), moving to carol's key under their names. */
	next_record(&base, &rec, PROTO_REC_MOVE, &bob, &carol, 2);
	rec.subject = proto_bytes_str("bob");
	gen_record(dir, "move", &rec, &bob, CC_OK);
	next_record(&base, &rec, PROTO_REC_MOVE, &alice, &carol, 2);
	rec.subject = proto_bytes_str("alice");
	gen_record(dir, "move_admin", &rec, &alice, CC_OK);
	next_record(&base, &rec, PROTO_REC_MOVE, &bob, &carol, 2);
	gen_record(dir, "move_other_name", &rec, &bob, CC_ERR_AUTH);
	next_record(&base, &rec, PROTO_REC_MOVE, &bob, &alice, 2);
	rec.subject = proto_bytes_str("bob");
	gen_record(dir, "move_to_member", &rec, &bob, CC_ERR_AUTH);
	/* Validly signed, refused by the rules. */
	next_record(&base, &rec, PROTO_REC_ADD, &bob, &carol, 2);
	gen_record(dir, "add_by_member", &rec, &bob, CC_ERR_STATE);
	next_record(&base, &rec, PROTO_REC_ADD, &alice, &carol, 2);
	rec.subject = proto_bytes_str("Bob");
	gen_record(dir, "add_taken_nick", &rec, &alice, CC_ERR_STATE);
	next_record(&base, &rec, PROTO_REC_LEAVE, &alice, &alice, 1);
	gen_record(dir, "leave_admin_not_alone", &rec, &alice, CC_ERR_STATE);
	next_record(&base, &rec, PROTO_REC_KICK, &alice, &alice, 2);
	gen_record(dir, "kick_self", &rec, &alice, CC_ERR_STATE);
	next_record(&base, &rec, PROTO_REC_REKEY, &alice, &bob, 2);
	gen_record(dir, "rekey_other", &rec, &alice, CC_ERR_STATE);
	next_record(&base, &rec, PROTO_REC_CREATE, &bob, &bob, 0);
	gen_record(dir, "create_again", &rec, &bob, CC_ERR_STATE);
	/* Validly signed, refused by the chain checks. */
	next_record(&base, &rec, PROTO_REC_ADD, &alice, &carol, 1);
	gen_record(dir, "add_wrong_epoch", &rec, &alice, CC_ERR_AUTH);
	next_record(&base, &rec, PROTO_REC_ADMIN, &alice, &bob, 1);
	epoch_commit(7, rec.key_commit);
	gen_record(dir, "admin_wrong_commit", &rec, &alice, CC_ERR_AUTH);
	next_record(&base, &rec, PROTO_REC_ADMIN, &alice, &bob, 1);
	rec.subject = proto_bytes_str("robert");
	gen_record(dir, "admin_misnamed", &rec, &alice, CC_ERR_AUTH);
	next_record(&base, &rec, PROTO_REC_ADD, &alice, &carol, 2);
	gen_record(dir, "add_signed_by_other", &rec, &bob, CC_ERR_AUTH);
	/* Made on another head: the seq and hash of the base's first record. */
	next_record(&base, &rec, PROTO_REC_REKEY, &alice, &alice, 2);
	rec.seq = 1;
	memcpy(rec.prev_hash, base.hashes[0], PROTO_HASH_LEN);
	gen_record(dir, "rekey_stale", &rec, &alice, CC_ERR_STALE_EPOCH);

	/* Codec edges: longest nicks with the largest signature, and an empty
	 * signature (both for another room). */
	for (size_t i = 0; i < sizeof sig; i++)
		sig[i] = (uint8_t)(i * 151 + 3);
	next_record(&base, &rec, PROTO_REC_ADMIN, &alice, &bob, 1);
	rec.room_id[0] ^= 0xff;
	rec.actor = proto_bytes_str("AZaz09_.-abcdefghijklmnopqrstuvw");
	rec.subject = proto_bytes_str("x");
	rec.signature = (struct proto_bytes){sig, sizeof sig};
	buf_init(&b, 0);
	fuzz_must(proto_record_encode(&rec, &b), "encode");
	fuzz_write_buf(dir, "longest", &b);
	buf_reset(&b);
	rec.signature.len = 0;
	fuzz_must(proto_record_encode(&rec, &b), "encode");
	fuzz_write_buf(dir, "unsigned", &b);
	buf_free(&b);
	e2e_chain_free(&fresh);
	crypto_test_rng_restore();
}

static void load(const char *pem, struct id *who)
{
	fuzz_must(crypto_rsa_private_from_pem(pem, strlen(pem), &who->key), "key");
	fuzz_must(crypto_rsa_fingerprint(who->key, who->fp), "fingerprint");
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_must(crypto_init(), "crypto_init");
	/* alice has the example server key, bob the example client key. */
	load(fuzz_server_pem, &alice);
	load(fuzz_client_pem, &bob);
	base_build();
	const char *dir = getenv("CC_FUZZ_GEN_SEEDS");
	if (dir) {
		gen_seeds(dir);
		exit(0);
	}
	return 0;
}
