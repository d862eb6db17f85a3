/* Membership chains: the rules in e2e.h, applied one record at a time.
 *
 * A record is checked completely before anything changes, and the arrays
 * are grown before the first write, so a refused record (or an allocation
 * that fails) leaves the chain exactly as it was. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "e2e/e2e.h"
#include "util/ascii.h"

static const uint8_t zero_hash[PROTO_HASH_LEN];

void e2e_chain_init(struct e2e_chain *chain, const uint8_t room_id[PROTO_ROOM_ID_LEN])
{
	memset(chain, 0, sizeof *chain);
	memcpy(chain->room_id, room_id, PROTO_ROOM_ID_LEN);
}

void e2e_chain_free(struct e2e_chain *chain)
{
	free(chain->members);
	free(chain->spans);
	free(chain->epochs);
	free(chain->hashes);
	memset(chain, 0, sizeof *chain);
}

/* Copies n elements of size bytes into a new array of capacity cap (>= n). */
static void *dup_array(const void *src, size_t n, size_t cap, size_t size)
{
	if (cap == 0)
		return NULL;
	void *p = malloc(cap * size);
	if (p && n)
		memcpy(p, src, n * size);
	return p;
}

cc_err e2e_chain_copy(struct e2e_chain *dst, const struct e2e_chain *src)
{
	*dst = *src;
	dst->members = dup_array(src->members, src->nmembers, src->members_cap, sizeof *src->members);
	dst->spans = dup_array(src->spans, src->nspans, src->spans_cap, sizeof *src->spans);
	dst->epochs = dup_array(src->epochs, src->nepochs, src->epochs_cap, sizeof *src->epochs);
	dst->hashes = dup_array(src->hashes, src->count, src->hashes_cap, sizeof *src->hashes);
	if ((src->members_cap && !dst->members) || (src->spans_cap && !dst->spans) ||
	    (src->epochs_cap && !dst->epochs) || (src->hashes_cap && !dst->hashes)) {
		e2e_chain_free(dst);
		return CC_ERR_NOMEM;
	}
	return CC_OK;
}

static size_t member_index(const struct e2e_chain *chain, const uint8_t fp[PROTO_FINGERPRINT_LEN])
{
	for (size_t i = 0; i < chain->nmembers; i++)
		if (memcmp(chain->members[i].fp, fp, PROTO_FINGERPRINT_LEN) == 0)
			return i;
	return SIZE_MAX;
}

const struct e2e_member *e2e_chain_member(const struct e2e_chain *chain,
					  const uint8_t fp[PROTO_FINGERPRINT_LEN])
{
	size_t i = member_index(chain, fp);
	return i == SIZE_MAX ? NULL : &chain->members[i];
}

const struct e2e_member *e2e_chain_member_by_nick(const struct e2e_chain *chain,
						  const char *nick)
{
	for (size_t i = 0; i < chain->nmembers; i++)
		if (strcasecmp(chain->members[i].nick, nick) == 0)
			return &chain->members[i];
	return NULL;
}

const struct e2e_member *e2e_chain_sender(const struct e2e_chain *chain, const char *nick,
					  uint32_t epoch)
{
	if (chain->count == 0 || epoch > chain->epoch)
		return NULL;  /* an epoch that has not started */
	for (size_t i = chain->nspans; i-- > 0;) {
		const struct e2e_span *s = &chain->spans[i];
		if (epoch >= s->from && epoch < s->to && strcasecmp(s->who.nick, nick) == 0)
			return &s->who;
	}
	return NULL;
}

const uint8_t *e2e_chain_successor(const struct e2e_chain *chain,
				   const uint8_t fp[PROTO_FINGERPRINT_LEN])
{
	/* Spans are in order: a move's next span comes after the one it ends. */
	const uint8_t *at = fp;
	for (size_t i = 0; i < chain->nspans; i++) {
		const struct e2e_span *s = &chain->spans[i];
		if (!s->moved || memcmp(s->who.fp, at, PROTO_FINGERPRINT_LEN) != 0)
			continue;
		for (size_t k = i + 1; k < chain->nspans; k++)
			if (chain->spans[k].from == s->to &&
			    strcasecmp(chain->spans[k].who.nick, s->who.nick) == 0) {
				at = chain->spans[k].who.fp;
				break;
			}
	}
	return at;
}

int e2e_chain_names(const struct e2e_chain *chain, const uint8_t fp[PROTO_FINGERPRINT_LEN],
		    const char *nick)
{
	for (size_t i = 0; i < chain->nspans; i++)
		if (memcmp(chain->spans[i].who.fp, fp, PROTO_FINGERPRINT_LEN) == 0 &&
		    strcasecmp(chain->spans[i].who.nick, nick) == 0)
			return 1;
	return 0;
}

const struct e2e_epoch *e2e_chain_epoch(const struct e2e_chain *chain, uint32_t epoch)
{
	return epoch < chain->nepochs ? &chain->epochs[epoch] : NULL;
}

const uint8_t *e2e_chain_commit(const struct e2e_chain *chain, uint32_t epoch)
{
	return epoch < chain->nepochs ? chain->epochs[epoch].commit : NULL;
}

int e2e_chain_extends(const struct e2e_chain *chain, uint32_t count,
		      const uint8_t hash[PROTO_HASH_LEN])
{
	if (count == 0)
		return 1;
	return count <= chain->count &&
	       memcmp(chain->hashes[count - 1], hash, PROTO_HASH_LEN) == 0;
}

cc_err e2e_chain_check_head(const struct e2e_chain *chain, uint32_t epoch, uint32_t head_seq,
			    const uint8_t head_hash[PROTO_HASH_LEN], const char **why)
{
	const char *ignored;
	if (!why)
		why = &ignored;
	const struct e2e_epoch *e = e2e_chain_epoch(chain, epoch);
	if (head_seq >= chain->count) {
		*why = "the sender had seen membership changes the server did not give us";
		return CC_ERR_SECURITY;
	}
	if (memcmp(chain->hashes[head_seq], head_hash, PROTO_HASH_LEN) != 0) {
		*why = "the sender was shown another history of the room (a fork)";
		return CC_ERR_SECURITY;
	}
	if (!e || head_seq < e->open_seq || (e->end_seq != E2E_SEQ_NONE && head_seq >= e->end_seq)) {
		*why = "the message names a history outside its epoch";
		return CC_ERR_AUTH;
	}
	*why = "";
	return CC_OK;
}

static void member_from(struct e2e_member *m, const struct proto_bytes *nick,
			const uint8_t fp[PROTO_FINGERPRINT_LEN])
{
	memcpy(m->nick, nick->p, nick->len);
	m->nick[nick->len] = '\0';
	memcpy(m->fp, fp, PROTO_FINGERPRINT_LEN);
}

static int same_fp(const uint8_t a[PROTO_FINGERPRINT_LEN], const uint8_t b[PROTO_FINGERPRINT_LEN])
{
	return memcmp(a, b, PROTO_FINGERPRINT_LEN) == 0;
}

/* A nickname on a record and a member's name: equal without regard to case. */
static int nick_is(const struct proto_bytes *nick, const char *name)
{
	return nick->len == strlen(name) && strncasecmp((const char *)nick->p, name, nick->len) == 0;
}

/* Grows an array to hold `more` more elements (doubling), before any write. */
static cc_err reserve(void **arr, size_t *cap, size_t n, size_t more, size_t size)
{
	if (n + more <= *cap)
		return CC_OK;
	size_t ncap = *cap ? *cap * 2 : 8;
	while (ncap < n + more)
		ncap *= 2;
	void *p = realloc(*arr, ncap * size);
	if (!p)
		return CC_ERR_NOMEM;
	*arr = p;
	*cap = ncap;
	return CC_OK;
}

/* Room for one more record that adds up to `joining` members. */
static cc_err chain_reserve(struct e2e_chain *c, size_t joining)
{
	size_t epochs_cap = c->epochs_cap, hashes_cap = c->hashes_cap;
	cc_err err;
	if ((err = reserve((void **)&c->members, &c->members_cap, c->nmembers, joining,
			   sizeof *c->members)) ||
	    (err = reserve((void **)&c->spans, &c->spans_cap, c->nspans, joining, sizeof *c->spans)) ||
	    (err = reserve((void **)&c->epochs, &epochs_cap, c->nepochs, 1, sizeof *c->epochs)) ||
	    (err = reserve((void **)&c->hashes, &hashes_cap, c->count, 1, sizeof *c->hashes)))
		return err;
	c->epochs_cap = (uint32_t)epochs_cap;
	c->hashes_cap = (uint32_t)hashes_cap;
	return CC_OK;
}

static void chain_add_member(struct e2e_chain *c, const struct e2e_member *m, uint32_t epoch)
{
	c->members[c->nmembers++] = *m;
	c->spans[c->nspans].who = *m;
	c->spans[c->nspans].from = epoch;
	c->spans[c->nspans].to = UINT32_MAX;
	c->spans[c->nspans].moved = false;
	c->nspans++;
}

/* The open span of the key fp ends before epoch end_epoch. */
static void chain_end_span(struct e2e_chain *c, const uint8_t fp[PROTO_FINGERPRINT_LEN],
			   uint32_t end_epoch)
{
	for (size_t i = c->nspans; i-- > 0;) {
		if (same_fp(c->spans[i].who.fp, fp) && c->spans[i].to == UINT32_MAX) {
			c->spans[i].to = end_epoch;
			break;
		}
	}
}

/* 1 if the chain ever named the key fp (under any name). */
static int fp_named(const struct e2e_chain *c, const uint8_t fp[PROTO_FINGERPRINT_LEN])
{
	for (size_t i = 0; i < c->nspans; i++)
		if (same_fp(c->spans[i].who.fp, fp))
			return 1;
	return 0;
}

static void chain_remove_member(struct e2e_chain *c, size_t idx, uint32_t end_epoch)
{
	chain_end_span(c, c->members[idx].fp, end_epoch);
	memmove(&c->members[idx], &c->members[idx + 1], (c->nmembers - idx - 1) * sizeof *c->members);
	c->nmembers--;
}

static int cmp_fp(const void *a, const void *b)
{
	return memcmp(a, b, PROTO_FINGERPRINT_LEN);
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* An ADD of several subjects: 1 if none of them is a member, has a member's
 * nickname (without regard to case) or is named twice in the record. The
 * members' and subjects' keys and names are sorted together, so a big room
 * costs n log n, not n times its size. */
static int subjects_are_new(const struct e2e_chain *c, const struct proto_record *rec)
{
	size_t n = c->nmembers + rec->nsubjects;
	uint8_t(*fps)[PROTO_FINGERPRINT_LEN] = malloc(n * sizeof *fps);
	char(*names)[PROTO_NICK_MAX + 1] = malloc(n * sizeof *names);
	struct proto_subject_iter it;
	struct proto_bytes nick;
	const uint8_t *fp;
	size_t k = 0;
	int fresh = 0;

	if (!fps || !names)
		goto out;
	for (; k < c->nmembers; k++) {
		memcpy(fps[k], c->members[k].fp, PROTO_FINGERPRINT_LEN);
		ascii_lower(c->members[k].nick, strlen(c->members[k].nick), names[k]);
	}
	proto_subject_iter_init(&it, rec);
	while (k < n && proto_subject_next(&it, &nick, &fp) == CC_OK) {
		memcpy(fps[k], fp, PROTO_FINGERPRINT_LEN);
		ascii_lower((const char *)nick.p, nick.len, names[k]);
		k++;
	}
	if (k != n)
		goto out;
	qsort(fps, n, sizeof *fps, cmp_fp);
	qsort(names, n, sizeof *names, cmp_name);
	fresh = 1;
	for (size_t i = 1; i < n && fresh; i++)
		if (memcmp(fps[i - 1], fps[i], PROTO_FINGERPRINT_LEN) == 0 ||
		    strcmp(names[i - 1], names[i]) == 0)
			fresh = 0;
out:
	free(fps);
	free(names);
	return fresh;
}

#define REFUSE(code, text)       \
	do {                     \
		err = (code);    \
		reason = (text); \
		goto out;        \
	} while (0)

cc_err e2e_record_check_sig(const uint8_t *record, size_t len, e2e_key_lookup_fn lookup,
			    void *ctx, struct e2e_checked_record *out)
{
	struct proto_record rec;
	memset(out, 0, sizeof *out);
	cc_err err = proto_record_decode(record, len, &rec);
	if (err)
		return err;
	const struct crypto_rsa_key *actor_key = lookup(ctx, rec.actor_fp);
	if (!actor_key || e2e_record_verify_sig(actor_key, &rec))
		return CC_ERR_AUTH;
	e2e_record_hash(record, len, out->hash);
	out->valid = true;
	return CC_OK;
}

/* checked (may be NULL): a signature already verified for exactly these
 * bytes; otherwise lookup finds the actor's key and the signature is
 * verified here. */
static cc_err chain_apply(struct e2e_chain *chain, const uint8_t *record, size_t len,
			  e2e_key_lookup_fn lookup, void *ctx,
			  const struct e2e_checked_record *checked, const char **why)
{
	struct proto_record rec;
	struct e2e_member actor, subject;
	const char *reason = "";
	uint8_t hash[PROTO_HASH_LEN];
	cc_err err;

	if ((err = proto_record_decode(record, len, &rec)))
		REFUSE(err, "the record does not parse");
	e2e_record_hash(record, len, hash);
	if (chain->ended)
		REFUSE(CC_ERR_STATE, "the room has ended");
	if (memcmp(rec.room_id, chain->room_id, PROTO_ROOM_ID_LEN) != 0)
		REFUSE(CC_ERR_AUTH, "the record is for another room");
	if (rec.seq != chain->count)
		REFUSE(CC_ERR_STALE_EPOCH, "the record is out of sequence");
	if (memcmp(rec.prev_hash, chain->count ? chain->last_hash : zero_hash, PROTO_HASH_LEN))
		REFUSE(CC_ERR_STALE_EPOCH, "the record does not chain to the previous one");
	bool sig_checked = checked && checked->valid &&
			   memcmp(checked->hash, hash, PROTO_HASH_LEN) == 0;
	if (!sig_checked) {
		const struct crypto_rsa_key *actor_key = lookup ? lookup(ctx, rec.actor_fp) : NULL;
		if (!actor_key)
			REFUSE(CC_ERR_AUTH, "the record's actor is unknown");
		if (e2e_record_verify_sig(actor_key, &rec))
			REFUSE(CC_ERR_AUTH, "the record's signature does not verify");
	}

	member_from(&actor, &rec.actor, rec.actor_fp);
	member_from(&subject, &rec.subject, rec.subject_fp);
	size_t actor_idx = member_index(chain, rec.actor_fp);
	size_t subject_idx = member_index(chain, rec.subject_fp);
	bool actor_is_admin = chain->count > 0 && same_fp(chain->admin.fp, rec.actor_fp);
	bool self = same_fp(rec.actor_fp, rec.subject_fp);
	bool opens = rec.action == PROTO_REC_CREATE || rec.action == PROTO_REC_ADD ||
		     rec.action == PROTO_REC_KICK || rec.action == PROTO_REC_REKEY ||
		     rec.action == PROTO_REC_MOVE;
	bool closes = rec.action == PROTO_REC_LEAVE || rec.action == PROTO_REC_EXPIRE;

	if ((rec.action == PROTO_REC_CREATE) != (chain->count == 0))
		REFUSE(CC_ERR_STATE, "a chain starts with its one create record");
	uint32_t want_epoch = chain->count == 0 ? 0 : chain->epoch + (opens ? 1 : 0);
	if (rec.epoch != want_epoch)
		REFUSE(CC_ERR_AUTH, "the record's epoch is wrong");
	if (!opens && memcmp(rec.key_commit, chain->epochs[chain->epoch].commit, PROTO_HASH_LEN))
		REFUSE(CC_ERR_AUTH, "the record commits to another key");
	/* Names come from the chain: a record must call a member what the
	 * chain calls it, and one key is one name. */
	if (actor_idx != SIZE_MAX && !nick_is(&rec.actor, chain->members[actor_idx].nick))
		REFUSE(CC_ERR_AUTH, "the record names its actor differently from the chain");
	if (subject_idx != SIZE_MAX && !nick_is(&rec.subject, chain->members[subject_idx].nick))
		REFUSE(CC_ERR_AUTH, "the record names its subject differently from the chain");
	if (self && !nick_is(&rec.subject, actor.nick))
		REFUSE(CC_ERR_AUTH, "the record gives one key two names");

	switch (rec.action) {
	case PROTO_REC_CREATE:
		if (!self)
			REFUSE(CC_ERR_STATE, "only the creator may open a room");
		break;
	case PROTO_REC_ADD:
		if (!actor_is_admin)
			REFUSE(CC_ERR_STATE, "only the admin may add members");
		if (rec.nsubjects > 1) {
			if (!subjects_are_new(chain, &rec))
				REFUSE(CC_ERR_STATE, "a subject is a member, has a member's nickname "
						     "or is named twice");
			break;
		}
		if (subject_idx != SIZE_MAX)
			REFUSE(CC_ERR_STATE, "the subject is already a member");
		/* Receivers find a message's sender by nickname. */
		if (e2e_chain_member_by_nick(chain, subject.nick))
			REFUSE(CC_ERR_STATE, "another member has that nickname");
		break;
	case PROTO_REC_KICK:
		if (!actor_is_admin)
			REFUSE(CC_ERR_STATE, "only the admin may expel members");
		if (subject_idx == SIZE_MAX || self)
			REFUSE(CC_ERR_STATE, "the subject is not a member the admin can expel");
		break;
	case PROTO_REC_LEAVE:
		if (!self || subject_idx == SIZE_MAX)
			REFUSE(CC_ERR_STATE, "only a member may leave, and only itself");
		if (actor_is_admin && chain->nmembers > 1)
			REFUSE(CC_ERR_STATE, "the admin must hand the role over before leaving");
		break;
	case PROTO_REC_ADMIN:
		if (!actor_is_admin)
			REFUSE(CC_ERR_STATE, "only the admin may hand the role over");
		if (subject_idx == SIZE_MAX || self)
			REFUSE(CC_ERR_STATE, "the new admin must be another member");
		break;
	case PROTO_REC_REKEY:
		if (actor_idx == SIZE_MAX || !self)
			REFUSE(CC_ERR_STATE, "only a member may start a new epoch, for itself");
		break;
	case PROTO_REC_EXPIRE:
		if (actor_idx == SIZE_MAX)
			REFUSE(CC_ERR_STATE, "only a member may sign another out");
		if (subject_idx == SIZE_MAX || self)
			REFUSE(CC_ERR_STATE, "the subject is not another member");
		break;
	case PROTO_REC_MOVE:
		if (actor_idx == SIZE_MAX || self)
			REFUSE(CC_ERR_STATE, "only a member may move, to a key of its own");
		if (!nick_is(&rec.subject, chain->members[actor_idx].nick))
			REFUSE(CC_ERR_AUTH, "a member moves under its own nickname");
		/* A fresh key: one key, one name, and no one's old place. */
		if (fp_named(chain, rec.subject_fp))
			REFUSE(CC_ERR_STATE, "the new key is already in the room's history");
		break;
	default:
		REFUSE(CC_ERR_MALFORMED, "unknown action");
	}

	if ((err = chain_reserve(chain, rec.action == PROTO_REC_ADD ? rec.nsubjects : 1)))
		REFUSE(err, "out of memory");
	/* Everything is checked and there is room: apply. */
	uint32_t cur = chain->epoch;
	if (opens) {
		if (chain->count > 0 && chain->epochs[cur].end_seq == E2E_SEQ_NONE)
			chain->epochs[cur].end_seq = rec.seq;
		struct e2e_epoch *e = &chain->epochs[chain->nepochs++];
		e->open_seq = rec.seq;
		e->end_seq = E2E_SEQ_NONE;
		memcpy(e->commit, rec.key_commit, PROTO_HASH_LEN);
		memcpy(e->open_hash, hash, PROTO_HASH_LEN);
		e->started_ms = rec.time_ms;
		chain->epoch = rec.epoch;
		chain->closed = false;
	} else if (closes && !chain->closed) {
		chain->epochs[cur].end_seq = rec.seq;
		chain->closed = true;
	}
	switch (rec.action) {
	case PROTO_REC_CREATE:
		chain_add_member(chain, &actor, 0);
		chain->admin = actor;
		break;
	case PROTO_REC_ADD: {
		struct proto_subject_iter it;
		struct proto_bytes nick;
		const uint8_t *fp;
		proto_subject_iter_init(&it, &rec);
		while (proto_subject_next(&it, &nick, &fp) == CC_OK) {
			member_from(&subject, &nick, fp);
			chain_add_member(chain, &subject, rec.epoch);
		}
		break;
	}
	case PROTO_REC_KICK:
		chain_remove_member(chain, subject_idx, rec.epoch);
		break;
	case PROTO_REC_LEAVE:
		chain_remove_member(chain, subject_idx, rec.epoch + 1);
		chain->ended = chain->nmembers == 0;
		break;
	case PROTO_REC_ADMIN:
		chain->admin = chain->members[subject_idx];
		break;
	case PROTO_REC_MOVE: {
		/* Same place in the order of joining, same role, new key. */
		struct e2e_member moved = chain->members[actor_idx];
		memcpy(moved.fp, rec.subject_fp, PROTO_FINGERPRINT_LEN);
		bool was_admin = actor_is_admin;
		chain_end_span(chain, rec.actor_fp, rec.epoch);
		for (size_t i = chain->nspans; i-- > 0;)
			if (same_fp(chain->spans[i].who.fp, rec.actor_fp)) {
				chain->spans[i].moved = true;
				break;
			}
		chain->members[actor_idx] = moved;
		chain->spans[chain->nspans].who = moved;
		chain->spans[chain->nspans].from = rec.epoch;
		chain->spans[chain->nspans].to = UINT32_MAX;
		chain->spans[chain->nspans].moved = false;
		chain->nspans++;
		if (was_admin)
			chain->admin = moved;
		break;
	}
	case PROTO_REC_EXPIRE: {
		bool was_admin = same_fp(chain->admin.fp, rec.subject_fp);
		chain_remove_member(chain, subject_idx, rec.epoch + 1);
		/* The chain picks the successor: the earliest-joined member left
		 * (the actor's own member entry guarantees there is one). */
		if (was_admin)
			chain->admin = chain->members[0];
		break;
	}
	default:
		break;
	}
	memcpy(chain->hashes[chain->count], hash, PROTO_HASH_LEN);
	memcpy(chain->last_hash, hash, PROTO_HASH_LEN);
	chain->count++;
	if (why)
		*why = "";
	return CC_OK;
out:
	if (why)
		*why = reason;
	return err;
}

cc_err e2e_chain_apply(struct e2e_chain *chain, const uint8_t *record, size_t len,
		       e2e_key_lookup_fn lookup, void *ctx, const char **why)
{
	return chain_apply(chain, record, len, lookup, ctx, NULL, why);
}

cc_err e2e_chain_apply_checked(struct e2e_chain *chain, const uint8_t *record, size_t len,
			       const struct e2e_checked_record *checked,
			       e2e_key_lookup_fn lookup, void *ctx, const char **why)
{
	return chain_apply(chain, record, len, lookup, ctx, checked, why);
}
