#include "proto/room.h"

#include <string.h>

/* Both formats are fixed sequences of fields, read with the same bounds-checked
 * reader as the messages. Unknown versions and actions are refused. */

static cc_err get_nick(struct bufreader *r, struct proto_bytes *nick)
{
	cc_err err = bufreader_get_bytes16(r, PROTO_NICK_MAX, &nick->p, &nick->len);
	if (err == CC_ERR_TOO_LARGE || (!err && !proto_nick_valid(nick->p, nick->len)))
		err = CC_ERR_BAD_NICK;
	return err;
}

static cc_err put_nick(struct buf *b, const struct proto_bytes *nick)
{
	if (!proto_nick_valid(nick->p, nick->len))
		return CC_ERR_BAD_NICK;
	return buf_put_bytes16(b, nick->p, nick->len);
}

cc_err proto_subject_put(struct buf *subjects, const struct proto_bytes *nick,
			 const uint8_t fp[PROTO_FINGERPRINT_LEN])
{
	size_t start = subjects->len;
	cc_err err;
	if ((err = put_nick(subjects, nick)) ||
	    (err = buf_put_bytes(subjects, fp, PROTO_FINGERPRINT_LEN)))
		subjects->len = start;
	return err;
}

void proto_subject_iter_init(struct proto_subject_iter *it, const struct proto_record *rec)
{
	it->rec = rec;
	if (rec->nsubjects > 1) {
		bufreader_init(&it->r, rec->subjects.p, rec->subjects.len);
		it->left = rec->nsubjects;
	} else {
		bufreader_init(&it->r, NULL, 0);
		it->left = 1;
	}
}

cc_err proto_subject_next(struct proto_subject_iter *it, struct proto_bytes *nick,
			  const uint8_t **fp)
{
	if (it->left == 0)
		return CC_ERR_NOT_FOUND;
	if (it->rec->nsubjects <= 1) {
		*nick = it->rec->subject;
		*fp = it->rec->subject_fp;
		it->left = 0;
		return CC_OK;
	}
	cc_err err = get_nick(&it->r, nick);
	if (!err && bufreader_remaining(&it->r) < PROTO_FINGERPRINT_LEN)
		err = CC_ERR_TRUNCATED;
	if (err)
		return err;  /* (a decoded record's subjects always parse) */
	*fp = it->r.p;
	bufreader_init(&it->r, it->r.p + PROTO_FINGERPRINT_LEN,
		       bufreader_remaining(&it->r) - PROTO_FINGERPRINT_LEN);
	it->left--;
	return CC_OK;
}

/* Version 2: one nick || fp. Version 3 (an ADD only): u16 count (2 to
 * PROTO_RECORD_SUBJECTS_MAX), then that many; the first is also rec's
 * subject. */
static cc_err get_subjects(struct bufreader *r, struct proto_record *rec)
{
	cc_err err;
	uint16_t n = 1;
	if (rec->version == PROTO_RECORD_VERSION_MANY) {
		if ((err = bufreader_get_u16(r, &n)))
			return err;
		if (rec->action != PROTO_REC_ADD || n < 2 || n > PROTO_RECORD_SUBJECTS_MAX)
			return CC_ERR_MALFORMED;
	}
	const uint8_t *start = r->p;
	for (uint16_t i = 0; i < n; i++) {
		struct proto_bytes nick;
		uint8_t fp[PROTO_FINGERPRINT_LEN];
		if ((err = get_nick(r, &nick)) ||
		    (err = bufreader_get_copy(r, fp, PROTO_FINGERPRINT_LEN)))
			return err;
		if (i == 0) {
			rec->subject = nick;
			memcpy(rec->subject_fp, fp, PROTO_FINGERPRINT_LEN);
		}
	}
	rec->nsubjects = n;
	if (n > 1)
		rec->subjects = (struct proto_bytes){start, (size_t)(r->p - start)};
	return CC_OK;
}

static cc_err put_subjects(struct buf *out, const struct proto_record *rec)
{
	struct bufreader r;
	cc_err err;

	if (rec->nsubjects <= 1) {
		if ((err = put_nick(out, &rec->subject)))
			return err;
		return buf_put_bytes(out, rec->subject_fp, PROTO_FINGERPRINT_LEN);
	}
	if (rec->action != PROTO_REC_ADD || rec->nsubjects > PROTO_RECORD_SUBJECTS_MAX)
		return CC_ERR_MALFORMED;
	/* The entries must be what the count says, as a reader will parse them. */
	bufreader_init(&r, rec->subjects.p, rec->subjects.len);
	for (uint16_t i = 0; i < rec->nsubjects; i++) {
		struct proto_bytes nick;
		uint8_t fp[PROTO_FINGERPRINT_LEN];
		if (get_nick(&r, &nick) || bufreader_get_copy(&r, fp, PROTO_FINGERPRINT_LEN))
			return CC_ERR_MALFORMED;
	}
	if (bufreader_remaining(&r) != 0)
		return CC_ERR_MALFORMED;
	if ((err = buf_put_u16(out, rec->nsubjects)))
		return err;
	return buf_put_bytes(out, rec->subjects.p, rec->subjects.len);
}

cc_err proto_record_decode(const uint8_t *p, size_t len, struct proto_record *out)
{
	struct bufreader r;
	cc_err err;

	memset(out, 0, sizeof *out);
	bufreader_init(&r, p, len);
	if ((err = bufreader_get_u8(&r, &out->version)))
		return err;
	if (out->version != PROTO_RECORD_VERSION && out->version != PROTO_RECORD_VERSION_MANY)
		return CC_ERR_VERSION;
	if ((err = bufreader_get_copy(&r, out->room_id, PROTO_ROOM_ID_LEN)) ||
	    (err = bufreader_get_u32(&r, &out->seq)) ||
	    (err = bufreader_get_copy(&r, out->prev_hash, PROTO_HASH_LEN)) ||
	    (err = bufreader_get_u8(&r, &out->action)))
		return err;
	if (out->action < PROTO_REC_CREATE || out->action > PROTO_REC_MOVE)
		return CC_ERR_MALFORMED;
	if ((err = get_nick(&r, &out->actor)) ||
	    (err = bufreader_get_copy(&r, out->actor_fp, PROTO_FINGERPRINT_LEN)) ||
	    (err = get_subjects(&r, out)) ||
	    (err = bufreader_get_u32(&r, &out->epoch)) ||
	    (err = bufreader_get_copy(&r, out->key_commit, PROTO_HASH_LEN)) ||
	    (err = bufreader_get_u64(&r, &out->time_ms)))
		return err;
	out->signed_part.p = p;
	out->signed_part.len = len - bufreader_remaining(&r);
	if ((err = bufreader_get_bytes16(&r, PROTO_RSA_BYTES_MAX, &out->signature.p,
					 &out->signature.len)))
		return err;
	return bufreader_expect_end(&r);
}

cc_err proto_record_encode_unsigned(const struct proto_record *rec, struct buf *out)
{
	size_t start = out->len;
	cc_err err;

	if (rec->action < PROTO_REC_CREATE || rec->action > PROTO_REC_MOVE)
		return CC_ERR_MALFORMED;
	if ((err = buf_put_u8(out, rec->nsubjects > 1 ? PROTO_RECORD_VERSION_MANY
						      : PROTO_RECORD_VERSION)) ||
	    (err = buf_put_bytes(out, rec->room_id, PROTO_ROOM_ID_LEN)) ||
	    (err = buf_put_u32(out, rec->seq)) ||
	    (err = buf_put_bytes(out, rec->prev_hash, PROTO_HASH_LEN)) ||
	    (err = buf_put_u8(out, rec->action)) || (err = put_nick(out, &rec->actor)) ||
	    (err = buf_put_bytes(out, rec->actor_fp, PROTO_FINGERPRINT_LEN)) ||
	    (err = put_subjects(out, rec)) ||
	    (err = buf_put_u32(out, rec->epoch)) ||
	    (err = buf_put_bytes(out, rec->key_commit, PROTO_HASH_LEN)) ||
	    (err = buf_put_u64(out, rec->time_ms)))
		out->len = start;
	return err;
}

cc_err proto_record_encode(const struct proto_record *rec, struct buf *out)
{
	size_t start = out->len;
	cc_err err;

	if (rec->signature.len > PROTO_RSA_BYTES_MAX)
		return CC_ERR_TOO_LARGE;
	if ((err = proto_record_encode_unsigned(rec, out)))
		return err;
	if ((err = buf_put_bytes16(out, rec->signature.p, rec->signature.len)))
		out->len = start;
	return err;
}

cc_err proto_envelope_decode(const uint8_t *p, size_t len, struct proto_envelope *out)
{
	struct bufreader r;
	cc_err err;

	memset(out, 0, sizeof *out);
	bufreader_init(&r, p, len);
	if ((err = bufreader_get_u8(&r, &out->version)))
		return err;
	if (out->version != PROTO_ENVELOPE_VERSION)
		return CC_ERR_VERSION;
	if ((err = bufreader_get_copy(&r, out->room_id, PROTO_ROOM_ID_LEN)) ||
	    (err = bufreader_get_u32(&r, &out->epoch)) || (err = get_nick(&r, &out->sender)) ||
	    (err = bufreader_get_u64(&r, &out->seq)) ||
	    (err = bufreader_get_u64(&r, &out->time_ms)) ||
	    (err = bufreader_get_u32(&r, &out->head_seq)) ||
	    (err = bufreader_get_copy(&r, out->head_hash, PROTO_HASH_LEN)))
		return err;
	out->header.p = p;
	out->header.len = len - bufreader_remaining(&r);
	if ((err = bufreader_get_copy(&r, out->nonce, PROTO_NONCE_LEN)) ||
	    (err = bufreader_get_bytes16(&r, PROTO_TEXT_MAX + 16, &out->ciphertext.p,
					 &out->ciphertext.len)))
		return err;
	if (out->ciphertext.len < 16)
		return CC_ERR_MALFORMED;
	out->signed_part.p = p;
	out->signed_part.len = len - bufreader_remaining(&r);
	if ((err = bufreader_get_copy(&r, out->signature, PROTO_SIG_LEN)))
		return err;
	return bufreader_expect_end(&r);
}

cc_err proto_envelope_encode_header(const struct proto_envelope *env, struct buf *out)
{
	size_t start = out->len;
	cc_err err;

	if ((err = buf_put_u8(out, PROTO_ENVELOPE_VERSION)) ||
	    (err = buf_put_bytes(out, env->room_id, PROTO_ROOM_ID_LEN)) ||
	    (err = buf_put_u32(out, env->epoch)) || (err = put_nick(out, &env->sender)) ||
	    (err = buf_put_u64(out, env->seq)) || (err = buf_put_u64(out, env->time_ms)) ||
	    (err = buf_put_u32(out, env->head_seq)) ||
	    (err = buf_put_bytes(out, env->head_hash, PROTO_HASH_LEN)))
		out->len = start;
	return err;
}

cc_err proto_envelope_encode_unsigned(const struct proto_envelope *env, struct buf *out)
{
	size_t start = out->len;
	cc_err err;

	if (env->ciphertext.len < 16 || env->ciphertext.len > PROTO_TEXT_MAX + 16)
		return env->ciphertext.len < 16 ? CC_ERR_MALFORMED : CC_ERR_TOO_LARGE;
	if ((err = proto_envelope_encode_header(env, out)) ||
	    (err = buf_put_bytes(out, env->nonce, PROTO_NONCE_LEN)) ||
	    (err = buf_put_bytes16(out, env->ciphertext.p, env->ciphertext.len)))
		out->len = start;
	return err;
}

cc_err proto_envelope_encode(const struct proto_envelope *env, struct buf *out)
{
	size_t start = out->len;
	cc_err err;

	if ((err = proto_envelope_encode_unsigned(env, out)) ||
	    (err = buf_put_bytes(out, env->signature, PROTO_SIG_LEN)))
		out->len = start;
	return err;
}
