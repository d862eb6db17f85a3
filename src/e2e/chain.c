/* Membership chains: the rules in e2e.h, applied one record at a time. */
#include <stdlib.h>
#include <string.h>

#include "e2e/e2e.h"

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
	free(chain->commits);
	memset(chain, 0, sizeof *chain);
}

static size_t member_index(const struct e2e_chain *chain, const uint8_t fp[PROTO_FINGERPRINT_LEN])
{
	for (size_t i = 0; i < chain->nmembers; i++)
		if (memcmp(chain->members[i].fp, fp, PROTO_FINGERPRINT_LEN) == 0)
			return i;
	return SIZE_MAX;
}

static int member_index_ok(const struct e2e_chain *chain, const uint8_t fp[PROTO_FINGERPRINT_LEN])
{
	return member_index(chain, fp) != SIZE_MAX;
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
	if (epoch > chain->epoch)
		return NULL;  /* an epoch that has not started */
	for (size_t i = chain->nspans; i-- > 0;) {
		const struct e2e_span *s = &chain->spans[i];
		if (epoch >= s->from && epoch < s->to && strcasecmp(s->who.nick, nick) == 0)
			return &s->who;
	}
	return NULL;
}

const uint8_t *e2e_chain_commit(const struct e2e_chain *chain, uint32_t epoch)
{
	return epoch < chain->ncommits ? chain->commits[epoch] : NULL;
}

static void member_from(struct e2e_member *m, const struct proto_bytes *nick,
			const uint8_t fp[PROTO_FINGERPRINT_LEN])
{
	memcpy(m->nick, nick->p, nick->len);
	m->nick[nick->len] = '\0';
	memcpy(m->fp, fp, PROTO_FINGERPRINT_LEN);
}

static int same_member(const struct e2e_member *m, const uint8_t fp[PROTO_FINGERPRINT_LEN])
{
	return memcmp(m->fp, fp, PROTO_FINGERPRINT_LEN) == 0;
}

/* The chain grows by copying into new arrays, so a failed apply leaves the
 * old state intact (no half-applied record). */
struct chain_next {
	struct e2e_member *members;
	size_t nmembers;
	struct e2e_span *spans;
	size_t nspans;
	uint8_t (*commits)[PROTO_HASH_LEN];
	uint32_t ncommits;
};

static cc_err next_copy(const struct e2e_chain *c, struct chain_next *n)
{
	n->members = malloc((c->nmembers + 1) * sizeof *n->members);
	n->spans = malloc((c->nspans + 1) * sizeof *n->spans);
	n->commits = malloc((size_t)(c->ncommits + 1) * sizeof *n->commits);
	if (!n->members || !n->spans || !n->commits) {
		free(n->members);
		free(n->spans);
		free(n->commits);
		return CC_ERR_NOMEM;
	}
	if (c->nmembers)
		memcpy(n->members, c->members, c->nmembers * sizeof *n->members);
	if (c->nspans)
		memcpy(n->spans, c->spans, c->nspans * sizeof *n->spans);
	if (c->ncommits)
		memcpy(n->commits, c->commits, c->ncommits * sizeof *n->commits);
	n->nmembers = c->nmembers;
	n->nspans = c->nspans;
	n->ncommits = c->ncommits;
	return CC_OK;
}

static void next_add_member(struct chain_next *n, const struct e2e_member *m, uint32_t epoch)
{
	n->members[n->nmembers++] = *m;
	n->spans[n->nspans].who = *m;
	n->spans[n->nspans].from = epoch;
	n->spans[n->nspans].to = UINT32_MAX;
	n->nspans++;
}

static void next_remove_member(struct chain_next *n, const uint8_t fp[PROTO_FINGERPRINT_LEN],
			       uint32_t end_epoch)
{
	for (size_t i = 0; i < n->nmembers; i++) {
		if (!same_member(&n->members[i], fp))
			continue;
		memmove(&n->members[i], &n->members[i + 1],
			(n->nmembers - i - 1) * sizeof *n->members);
		n->nmembers--;
		break;
	}
	for (size_t i = n->nspans; i-- > 0;) {
		if (same_member(&n->spans[i].who, fp) && n->spans[i].to == UINT32_MAX) {
			n->spans[i].to = end_epoch;
			break;
		}
	}
}

#define REFUSE(code, text)      \
	do {                    \
		err = (code);   \
		reason = (text); \
		goto out;       \
	} while (0)

cc_err e2e_chain_apply(struct e2e_chain *chain, const uint8_t *record, size_t len,
		       e2e_key_lookup_fn lookup, void *ctx, const char **why)
{
	struct proto_record rec;
	struct chain_next n = {0};
	struct e2e_member actor, subject;
	const char *reason = "";
	cc_err err;

	if ((err = proto_record_decode(record, len, &rec))) {
		reason = "the record does not parse";
		goto out_nofree;
	}
	if (chain->ended)
		REFUSE(CC_ERR_STATE, "the room has ended");
	if (memcmp(rec.room_id, chain->room_id, PROTO_ROOM_ID_LEN) != 0)
		REFUSE(CC_ERR_AUTH, "the record is for another room");
	if (rec.seq != chain->count)
		REFUSE(CC_ERR_AUTH, "the record is out of sequence");
	if (memcmp(rec.prev_hash, chain->count ? chain->last_hash : zero_hash, PROTO_HASH_LEN))
		REFUSE(CC_ERR_AUTH, "the record does not chain to the previous one");
	const struct crypto_rsa_key *actor_key = lookup(ctx, rec.actor_fp);
	if (!actor_key)
		REFUSE(CC_ERR_AUTH, "the record's actor is unknown");
	if (e2e_record_verify_sig(actor_key, &rec))
		REFUSE(CC_ERR_AUTH, "the record's signature does not verify");

	member_from(&actor, &rec.actor, rec.actor_fp);
	member_from(&subject, &rec.subject, rec.subject_fp);
	bool actor_is_admin = chain->count > 0 && same_member(&chain->admin, rec.actor_fp);
	bool subject_member = member_index(chain, rec.subject_fp) != SIZE_MAX;
	bool new_epoch = rec.action == PROTO_REC_KICK || rec.action == PROTO_REC_REKEY;
	uint32_t want_epoch = chain->count == 0 ? 0 : chain->epoch + (new_epoch ? 1 : 0);
	if (rec.epoch != want_epoch)
		REFUSE(CC_ERR_AUTH, "the record's epoch is wrong");
	if (!new_epoch && chain->count > 0 &&
	    memcmp(rec.key_commit, chain->commits[chain->epoch], PROTO_HASH_LEN) != 0)
		REFUSE(CC_ERR_AUTH, "the record commits to another key");

	if ((err = next_copy(chain, &n)))
		goto out_nofree;
	struct e2e_member new_admin = chain->admin;
	bool ended = false;
	switch (rec.action) {
	case PROTO_REC_CREATE:
		if (chain->count != 0 || !same_member(&actor, rec.subject_fp))
			REFUSE(CC_ERR_STATE, "only the creator may open a room");
		next_add_member(&n, &actor, 0);
		new_admin = actor;
		break;
	case PROTO_REC_ADD:
		if (!actor_is_admin)
			REFUSE(CC_ERR_STATE, "only the admin may add members");
		if (subject_member)
			REFUSE(CC_ERR_STATE, "the subject is already a member");
		/* One nickname, one member (also one who can still send this epoch):
		 * receivers find senders by nickname. */
		const struct e2e_member *same_nick = e2e_chain_sender(chain, subject.nick, chain->epoch);
		if (same_nick && !same_member(same_nick, rec.subject_fp))
			REFUSE(CC_ERR_STATE, "another member has that nickname");
		next_add_member(&n, &subject, rec.epoch);
		break;
	case PROTO_REC_KICK:
		if (!actor_is_admin)
			REFUSE(CC_ERR_STATE, "only the admin may expel members");
		if (!subject_member || same_member(&actor, rec.subject_fp))
			REFUSE(CC_ERR_STATE, "the subject is not a member the admin can expel");
		next_remove_member(&n, rec.subject_fp, rec.epoch);
		break;
	case PROTO_REC_LEAVE:
		if (chain->count == 0 || !same_member(&actor, rec.subject_fp) || !subject_member)
			REFUSE(CC_ERR_STATE, "only a member may leave, and only itself");
		if (actor_is_admin && chain->nmembers > 1)
			REFUSE(CC_ERR_STATE, "the admin must hand the role over before leaving");
		next_remove_member(&n, rec.subject_fp, rec.epoch + 1);
		ended = n.nmembers == 0;
		break;
	case PROTO_REC_ADMIN:
		if (!actor_is_admin)
			REFUSE(CC_ERR_STATE, "only the admin may hand the role over");
		if (!subject_member || same_member(&actor, rec.subject_fp))
			REFUSE(CC_ERR_STATE, "the new admin must be another member");
		new_admin = subject;
		break;
	case PROTO_REC_REKEY:
		if (!actor_is_admin || !same_member(&actor, rec.subject_fp))
			REFUSE(CC_ERR_STATE, "only the admin may start a new epoch");
		break;
	case PROTO_REC_EXPIRE:
		if (!subject_member || same_member(&actor, rec.subject_fp))
			REFUSE(CC_ERR_STATE, "the subject is not a member another can expire");
		if (same_member(&chain->admin, rec.subject_fp)) {
			/* The admin is gone: the member who signs that takes over. (The
			 * server asks the earliest-joined member still here; several may
			 * have expired at once, so the chain cannot name one.) */
			if (!member_index_ok(chain, rec.actor_fp))
				REFUSE(CC_ERR_STATE, "only a member may succeed the admin");
			new_admin = actor;
		} else if (!actor_is_admin) {
			REFUSE(CC_ERR_STATE, "only the admin may expire members");
		}
		next_remove_member(&n, rec.subject_fp, rec.epoch + 1);
		break;
	default:
		REFUSE(CC_ERR_MALFORMED, "unknown action");
	}
	if (rec.epoch == n.ncommits)
		memcpy(n.commits[n.ncommits++], rec.key_commit, PROTO_HASH_LEN);

	/* Commit the new state. */
	free(chain->members);
	free(chain->spans);
	free(chain->commits);
	chain->members = n.members;
	chain->nmembers = n.nmembers;
	chain->spans = n.spans;
	chain->nspans = n.nspans;
	chain->commits = n.commits;
	chain->ncommits = n.ncommits;
	chain->admin = new_admin;
	if (chain->count == 0 || rec.epoch != chain->epoch)
		chain->epoch_started_ms = rec.time_ms;
	chain->epoch = rec.epoch;
	chain->ended = ended;
	chain->count++;
	e2e_record_hash(record, len, chain->last_hash);
	if (why)
		*why = "";
	return CC_OK;
out:
	free(n.members);
	free(n.spans);
	free(n.commits);
out_nofree:
	if (why)
		*why = reason;
	return err;
}
