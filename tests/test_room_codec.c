/* The end-to-end codecs (proto/room.h): membership records and room message
 * envelopes. Round trips, every way a decoder must refuse, encoders that
 * refuse without leaving half a value behind, and the signed_part / header
 * views the e2e layer signs and authenticates: they must cover exactly the
 * bytes the encoders produce. Inputs are copied to exact-size heap blocks so
 * ASan sees any read past the end. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/room.h"
#include "util/buf.h"

/* The highest action the codec knows: one more is the first unknown. */
#define LAST_ACTION PROTO_REC_MOVE

/* Deterministic filler for signatures and ciphertexts. */
static uint8_t pattern[PROTO_TEXT_MAX + 64];

static void pattern_init(void)
{
	for (size_t i = 0; i < sizeof pattern; i++)
		pattern[i] = (uint8_t)(i * 151 + 7);
}

static struct proto_bytes str_bytes(const char *s)
{
	return (struct proto_bytes){(const uint8_t *)s, strlen(s)};
}

/* A heap copy of exactly n bytes, so any over-read is an ASan error. */
static uint8_t *dup_exact(const uint8_t *p, size_t n)
{
	uint8_t *d = malloc(n ? n : 1);
	assert_non_null(d);
	if (n)
		memcpy(d, p, n);
	return d;
}

/* Verdicts only: the views die with the copy. */
static cc_err record_decode_exact(const uint8_t *p, size_t n)
{
	struct proto_record rec;
	uint8_t *d = dup_exact(p, n);
	cc_err err = proto_record_decode(d, n, &rec);
	free(d);
	return err;
}

static cc_err envelope_decode_exact(const uint8_t *p, size_t n)
{
	struct proto_envelope env;
	uint8_t *d = dup_exact(p, n);
	cc_err err = proto_envelope_decode(d, n, &env);
	free(d);
	return err;
}

/* ---- records ---- */

/* Every field distinct, so a swapped or shifted field shows. */
static void sample_record(struct proto_record *rec, uint8_t action, size_t sig_len)
{
	memset(rec, 0, sizeof *rec);
	rec->version = PROTO_RECORD_VERSION;
	for (size_t i = 0; i < PROTO_ROOM_ID_LEN; i++)
		rec->room_id[i] = (uint8_t)(0x10 + i);
	rec->seq = 0x01020304;
	for (size_t i = 0; i < PROTO_HASH_LEN; i++) {
		rec->prev_hash[i] = (uint8_t)(0x40 + i);
		rec->actor_fp[i] = (uint8_t)(0x80 + i);
		rec->subject_fp[i] = (uint8_t)(0xa0 + i);
		rec->key_commit[i] = (uint8_t)(0xc0 + i);
	}
	rec->action = action;
	rec->actor = str_bytes("alice");
	rec->subject = str_bytes("Bob_the.builder-2");
	rec->epoch = 0x0a0b0c0d;
	rec->time_ms = 0x1122334455667788ull;
	rec->signature = (struct proto_bytes){pattern, sig_len};
}

/* Offset of the actor nick's length prefix: version, room, seq, prev, action. */
#define REC_OFF_ACTION (1 + PROTO_ROOM_ID_LEN + 4 + PROTO_HASH_LEN)
#define REC_OFF_ACTOR (REC_OFF_ACTION + 1)

static void encode_record(const struct proto_record *rec, struct buf *out)
{
	buf_init(out, 0);
	assert_int_equal(proto_record_encode(rec, out), CC_OK);
}

static void assert_record_equal(const struct proto_record *a, const struct proto_record *b)
{
	assert_int_equal(a->version, b->version);
	assert_memory_equal(a->room_id, b->room_id, PROTO_ROOM_ID_LEN);
	assert_int_equal(a->seq, b->seq);
	assert_memory_equal(a->prev_hash, b->prev_hash, PROTO_HASH_LEN);
	assert_int_equal(a->action, b->action);
	assert_int_equal(a->actor.len, b->actor.len);
	assert_memory_equal(a->actor.p, b->actor.p, a->actor.len);
	assert_memory_equal(a->actor_fp, b->actor_fp, PROTO_FINGERPRINT_LEN);
	assert_int_equal(a->subject.len, b->subject.len);
	assert_memory_equal(a->subject.p, b->subject.p, a->subject.len);
	assert_memory_equal(a->subject_fp, b->subject_fp, PROTO_FINGERPRINT_LEN);
	assert_int_equal(a->epoch, b->epoch);
	assert_memory_equal(a->key_commit, b->key_commit, PROTO_HASH_LEN);
	assert_true(a->time_ms == b->time_ms);
	assert_int_equal(a->signature.len, b->signature.len);
	if (a->signature.len)
		assert_memory_equal(a->signature.p, b->signature.p, a->signature.len);
}

static void test_record_round_trip(void **state)
{
	(void)state;
	/* Every action, and the signature lengths at the edges. */
	static const size_t sig_lens[] = {0, 1, 256, 384, PROTO_RSA_BYTES_MAX};
	for (uint8_t action = PROTO_REC_CREATE; action <= LAST_ACTION; action++) {
		for (size_t k = 0; k < sizeof sig_lens / sizeof sig_lens[0]; k++) {
			struct proto_record rec, got;
			struct buf enc;
			sample_record(&rec, action, sig_lens[k]);
			encode_record(&rec, &enc);
			uint8_t *d = dup_exact(enc.data, enc.len);
			assert_int_equal(proto_record_decode(d, enc.len, &got), CC_OK);
			assert_record_equal(&rec, &got);
			/* Views point into the input. */
			assert_ptr_equal(got.actor.p, d + REC_OFF_ACTOR + 2);
			/* And the codec is canonical. */
			struct buf again;
			encode_record(&got, &again);
			assert_int_equal(again.len, enc.len);
			assert_memory_equal(again.data, enc.data, enc.len);
			free(d);
			buf_free(&again);
			buf_free(&enc);
		}
	}
}

static void test_record_longest_nicks(void **state)
{
	(void)state;
	struct proto_record rec, got;
	struct buf enc;
	sample_record(&rec, PROTO_REC_ADD, 256);
	rec.actor = str_bytes("AZaz09_.-abcdefghijklmnopqrstuvw");
	rec.subject = str_bytes("x");
	assert_int_equal(rec.actor.len, PROTO_NICK_MAX);
	encode_record(&rec, &enc);
	uint8_t *d = dup_exact(enc.data, enc.len);
	assert_int_equal(proto_record_decode(d, enc.len, &got), CC_OK);
	assert_record_equal(&rec, &got);
	free(d);
	buf_free(&enc);
}

static void test_record_truncations(void **state)
{
	(void)state;
	struct proto_record rec;
	struct buf enc;
	sample_record(&rec, PROTO_REC_KICK, 256);
	encode_record(&rec, &enc);
	for (size_t n = 0; n < enc.len; n++)
		assert_int_equal(record_decode_exact(enc.data, n), CC_ERR_TRUNCATED);
	assert_int_equal(record_decode_exact(enc.data, enc.len), CC_OK);
	buf_free(&enc);
}

static void test_record_trailing(void **state)
{
	(void)state;
	struct proto_record rec;
	struct buf enc;
	sample_record(&rec, PROTO_REC_ADD, 256);
	encode_record(&rec, &enc);
	assert_int_equal(buf_put_u8(&enc, 0), CC_OK);
	assert_int_equal(record_decode_exact(enc.data, enc.len), CC_ERR_TRAILING);
	/* Even with no signature, where the extra byte could pass for one. */
	buf_free(&enc);
	sample_record(&rec, PROTO_REC_ADD, 0);
	encode_record(&rec, &enc);
	assert_int_equal(buf_put_u8(&enc, 0), CC_OK);
	assert_int_equal(record_decode_exact(enc.data, enc.len), CC_ERR_TRAILING);
	buf_free(&enc);
}

static void test_record_bad_version(void **state)
{
	(void)state;
	/* 1 is protocol 1's record: the same layout, refused all the same (its
	 * rules are not protocol 2's). */
	static const uint8_t versions[] = {0, 1, PROTO_RECORD_VERSION_MANY + 1, 0x81, 0xff};
	assert_int_equal(PROTO_RECORD_VERSION, 2);
	assert_int_equal(PROTO_RECORD_VERSION_MANY, 3);
	struct proto_record rec;
	struct buf enc;
	sample_record(&rec, PROTO_REC_ADD, 256);
	encode_record(&rec, &enc);
	for (size_t i = 0; i < sizeof versions; i++) {
		enc.data[0] = versions[i];
		assert_int_equal(record_decode_exact(enc.data, enc.len), CC_ERR_VERSION);
		/* The version is checked before anything else is read. */
		assert_int_equal(record_decode_exact(enc.data, 1), CC_ERR_VERSION);
	}
	/* The encoder writes the version it knows, whatever the struct says. */
	buf_free(&enc);
	rec.version = 9;
	encode_record(&rec, &enc);
	assert_int_equal(enc.data[0], PROTO_RECORD_VERSION);
	buf_free(&enc);
}

/* A record of several subjects (version 3, an ADD only): the count, then
 * each nick || fp; the first is also the record's subject. */
static void test_record_many_subjects(void **state)
{
	(void)state;
	struct proto_record rec, got;
	struct proto_subject_iter it;
	struct proto_bytes nick;
	const uint8_t *fp;
	struct buf subjects, enc;
	uint8_t fps[3][PROTO_FINGERPRINT_LEN];
	static const char *const names[] = {"dave", "Erin", "f.r-a_nk"};

	buf_init(&subjects, PROTO_RECORD_MAX);
	for (size_t i = 0; i < 3; i++) {
		memset(fps[i], 0x31 + (int)i, PROTO_FINGERPRINT_LEN);
		struct proto_bytes n = str_bytes(names[i]);
		assert_int_equal(proto_subject_put(&subjects, &n, fps[i]), CC_OK);
	}
	sample_record(&rec, PROTO_REC_ADD, 256);
	rec.nsubjects = 3;
	rec.subjects = (struct proto_bytes){subjects.data, subjects.len};
	encode_record(&rec, &enc);
	assert_int_equal(enc.data[0], PROTO_RECORD_VERSION_MANY);
	/* The count sits where a version 2 record has its subject. */
	size_t actor_end = REC_OFF_ACTOR + 2 + rec.actor.len + PROTO_FINGERPRINT_LEN;
	assert_int_equal(load_be16(enc.data + actor_end), 3);
	assert_memory_equal(enc.data + actor_end + 2, subjects.data, subjects.len);
	uint8_t *copy = dup_exact(enc.data, enc.len);
	assert_int_equal(proto_record_decode(copy, enc.len, &got), CC_OK);
	assert_int_equal(got.nsubjects, 3);
	assert_int_equal(got.subject.len, 4);
	assert_memory_equal(got.subject.p, "dave", 4);
	assert_memory_equal(got.subject_fp, fps[0], PROTO_FINGERPRINT_LEN);
	proto_subject_iter_init(&it, &got);
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(proto_subject_next(&it, &nick, &fp), CC_OK);
		assert_int_equal(nick.len, strlen(names[i]));
		assert_memory_equal(nick.p, names[i], nick.len);
		assert_memory_equal(fp, fps[i], PROTO_FINGERPRINT_LEN);
	}
	assert_int_equal(proto_subject_next(&it, &nick, &fp), CC_ERR_NOT_FOUND);
	/* Every cut is refused. */
	for (size_t n = 0; n < enc.len; n++)
		assert_int_not_equal(record_decode_exact(enc.data, n), CC_OK);
	/* A count of 1 (a version 2 record's job), 0, or more than there are;
	 * and any action but ADD. */
	static const uint16_t counts[] = {0, 1, 4, PROTO_RECORD_SUBJECTS_MAX + 1};
	for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++) {
		memcpy(copy, enc.data, enc.len);
		store_be16(copy + actor_end, counts[i]);
		assert_int_not_equal(proto_record_decode(copy, enc.len, &got), CC_OK);
	}
	memcpy(copy, enc.data, enc.len);
	copy[REC_OFF_ACTION] = PROTO_REC_KICK;
	assert_int_equal(proto_record_decode(copy, enc.len, &got), CC_ERR_MALFORMED);
	free(copy);
	buf_free(&enc);
	/* The encoder refuses the same: many subjects but for an ADD, a list
	 * that is not what its count says, and a bad nickname in it. */
	buf_init(&enc, 0);
	rec.action = PROTO_REC_KICK;
	assert_int_equal(proto_record_encode(&rec, &enc), CC_ERR_MALFORMED);
	rec.action = PROTO_REC_ADD;
	rec.nsubjects = 2;
	assert_int_equal(proto_record_encode(&rec, &enc), CC_ERR_MALFORMED);
	rec.nsubjects = 3;
	subjects.data[2] = '!';
	assert_int_equal(proto_record_encode(&rec, &enc), CC_ERR_MALFORMED);
	assert_int_equal(enc.len, 0);
	buf_free(&enc);
	/* A version 2 record walks as its one subject. */
	sample_record(&rec, PROTO_REC_KICK, 256);
	proto_subject_iter_init(&it, &rec);
	assert_int_equal(proto_subject_next(&it, &nick, &fp), CC_OK);
	assert_ptr_equal(nick.p, rec.subject.p);
	assert_ptr_equal(fp, rec.subject_fp);
	assert_int_equal(proto_subject_next(&it, &nick, &fp), CC_ERR_NOT_FOUND);
	buf_free(&subjects);
}

static void test_record_bad_action(void **state)
{
	(void)state;
	static const uint8_t actions[] = {0, LAST_ACTION + 1, 0x80, 0xff};
	struct proto_record rec;
	struct buf enc, out;
	sample_record(&rec, PROTO_REC_ADD, 256);
	encode_record(&rec, &enc);
	buf_init(&out, 0);
	assert_int_equal(buf_put_u8(&out, 0xee), CC_OK);
	for (size_t i = 0; i < sizeof actions; i++) {
		enc.data[REC_OFF_ACTION] = actions[i];
		assert_int_equal(record_decode_exact(enc.data, enc.len), CC_ERR_MALFORMED);
		/* Refused by both encoders, which leave out as it was. */
		rec.action = actions[i];
		assert_int_equal(proto_record_encode(&rec, &out), CC_ERR_MALFORMED);
		assert_int_equal(proto_record_encode_unsigned(&rec, &out), CC_ERR_MALFORMED);
		assert_int_equal(out.len, 1);
	}
	buf_free(&enc);
	buf_free(&out);
}

/* Builds a record's bytes by hand around the given nick fields, so the decoder
 * sees nicks the encoder would refuse to write. */
static void raw_record(struct buf *b, const uint8_t *actor, size_t actor_len,
		       const uint8_t *subject, size_t subject_len)
{
	uint8_t zeros[PROTO_HASH_LEN] = {0};
	buf_init(b, 0);
	assert_int_equal(buf_put_u8(b, PROTO_RECORD_VERSION), CC_OK);
	assert_int_equal(buf_put_bytes(b, zeros, PROTO_ROOM_ID_LEN), CC_OK);
	assert_int_equal(buf_put_u32(b, 1), CC_OK);
	assert_int_equal(buf_put_bytes(b, zeros, PROTO_HASH_LEN), CC_OK);
	assert_int_equal(buf_put_u8(b, PROTO_REC_ADD), CC_OK);
	assert_int_equal(buf_put_bytes16(b, actor, actor_len), CC_OK);
	assert_int_equal(buf_put_bytes(b, zeros, PROTO_FINGERPRINT_LEN), CC_OK);
	assert_int_equal(buf_put_bytes16(b, subject, subject_len), CC_OK);
	assert_int_equal(buf_put_bytes(b, zeros, PROTO_FINGERPRINT_LEN), CC_OK);
	assert_int_equal(buf_put_u32(b, 0), CC_OK);
	assert_int_equal(buf_put_bytes(b, zeros, PROTO_HASH_LEN), CC_OK);
	assert_int_equal(buf_put_u64(b, 0), CC_OK);
	assert_int_equal(buf_put_bytes16(b, pattern, 256), CC_OK);
}

struct bad_nick {
	const char *s;
	size_t n;
	cc_err want;
};

static const struct bad_nick bad_nicks[] = {
	{"", 0, CC_ERR_BAD_NICK},
	{"a b", 3, CC_ERR_BAD_NICK},
	{"a\0b", 3, CC_ERR_BAD_NICK},
	{"caf\xc3\xa9", 5, CC_ERR_BAD_NICK},
	{"bob@home", 8, CC_ERR_BAD_NICK},
	{"abcdefghijklmnopqrstuvwxyz0123456", 33, CC_ERR_BAD_NICK},
};

static void test_record_bad_nick(void **state)
{
	(void)state;
	const uint8_t *good = (const uint8_t *)"alice";
	struct buf b;

	raw_record(&b, good, 5, good, 5);
	assert_int_equal(record_decode_exact(b.data, b.len), CC_OK);
	buf_free(&b);
	for (size_t i = 0; i < sizeof bad_nicks / sizeof bad_nicks[0]; i++) {
		const struct bad_nick *bn = &bad_nicks[i];
		const uint8_t *s = (const uint8_t *)bn->s;
		raw_record(&b, s, bn->n, good, 5);
		assert_int_equal(record_decode_exact(b.data, b.len), bn->want);
		buf_free(&b);
		raw_record(&b, good, 5, s, bn->n);
		assert_int_equal(record_decode_exact(b.data, b.len), bn->want);
		buf_free(&b);

		/* The encoders refuse them too, and leave out as it was. */
		struct proto_record rec;
		struct buf out;
		buf_init(&out, 0);
		sample_record(&rec, PROTO_REC_ADD, 256);
		rec.actor = (struct proto_bytes){s, bn->n};
		assert_int_equal(proto_record_encode(&rec, &out), CC_ERR_BAD_NICK);
		sample_record(&rec, PROTO_REC_ADD, 256);
		rec.subject = (struct proto_bytes){s, bn->n};
		assert_int_equal(proto_record_encode_unsigned(&rec, &out), CC_ERR_BAD_NICK);
		assert_int_equal(out.len, 0);
		buf_free(&out);
	}
}

static void test_record_oversize_signature(void **state)
{
	(void)state;
	struct proto_record rec;
	struct buf enc, out;

	/* Encoder: one byte over the cap, nothing written. */
	sample_record(&rec, PROTO_REC_ADD, PROTO_RSA_BYTES_MAX + 1);
	buf_init(&out, 0);
	assert_int_equal(buf_put_u8(&out, 0xee), CC_OK);
	assert_int_equal(proto_record_encode(&rec, &out), CC_ERR_TOO_LARGE);
	assert_int_equal(out.len, 1);
	buf_free(&out);

	/* Decoder: the length prefix over the cap is refused before the bytes
	 * are looked at, even when they are all there. */
	sample_record(&rec, PROTO_REC_ADD, PROTO_RSA_BYTES_MAX);
	encode_record(&rec, &enc);
	size_t off = enc.len - PROTO_RSA_BYTES_MAX - 2;
	assert_int_equal(buf_put_u8(&enc, 0), CC_OK);
	store_be16(enc.data + off, PROTO_RSA_BYTES_MAX + 1);
	assert_int_equal(record_decode_exact(enc.data, enc.len), CC_ERR_TOO_LARGE);
	store_be16(enc.data + off, 0xffff);
	assert_int_equal(record_decode_exact(enc.data, enc.len), CC_ERR_TOO_LARGE);
	buf_free(&enc);
}

/* An encoder that runs out of room leaves out as it was. */
static void test_record_encode_out_of_room(void **state)
{
	(void)state;
	struct proto_record rec;
	struct buf full, out;
	sample_record(&rec, PROTO_REC_ADD, 256);
	encode_record(&rec, &full);
	for (size_t max = 1; max < full.len; max += 7) {
		buf_init(&out, max);
		assert_int_equal(buf_put_u8(&out, 0xee), CC_OK);
		assert_int_not_equal(proto_record_encode(&rec, &out), CC_OK);
		assert_int_equal(out.len, 1);
		buf_free(&out);
	}
	buf_free(&full);
}

static void test_record_signed_part(void **state)
{
	(void)state;
	static const size_t sig_lens[] = {0, 256, PROTO_RSA_BYTES_MAX};
	for (size_t k = 0; k < sizeof sig_lens / sizeof sig_lens[0]; k++) {
		struct proto_record rec, got;
		struct buf enc, unsig;
		sample_record(&rec, PROTO_REC_ADMIN, sig_lens[k]);
		encode_record(&rec, &enc);
		buf_init(&unsig, 0);
		assert_int_equal(proto_record_encode_unsigned(&rec, &unsig), CC_OK);
		uint8_t *d = dup_exact(enc.data, enc.len);
		assert_int_equal(proto_record_decode(d, enc.len, &got), CC_OK);
		/* Exactly the bytes the actor signs: everything up to the signature. */
		assert_ptr_equal(got.signed_part.p, d);
		assert_int_equal(got.signed_part.len, unsig.len);
		assert_int_equal(got.signed_part.len, enc.len - 2 - sig_lens[k]);
		assert_memory_equal(got.signed_part.p, unsig.data, unsig.len);
		/* The unsigned encoding is a prefix of the signed one. */
		assert_memory_equal(enc.data, unsig.data, unsig.len);
		free(d);
		buf_free(&unsig);
		buf_free(&enc);
	}
}

/* ---- envelopes ---- */

static void sample_envelope(struct proto_envelope *env, size_t ct_len)
{
	memset(env, 0, sizeof *env);
	env->version = PROTO_ENVELOPE_VERSION;
	for (size_t i = 0; i < PROTO_ROOM_ID_LEN; i++)
		env->room_id[i] = (uint8_t)(0x20 + i);
	env->epoch = 0x01020304;
	env->sender = str_bytes("carol");
	env->seq = 0x0102030405060708ull;
	env->time_ms = 0x1122334455667788ull;
	env->head_seq = 0x0d0e0f10;
	for (size_t i = 0; i < PROTO_HASH_LEN; i++)
		env->head_hash[i] = (uint8_t)(0xb0 + i);
	for (size_t i = 0; i < PROTO_NONCE_LEN; i++)
		env->nonce[i] = (uint8_t)(0x60 + i);
	env->ciphertext = (struct proto_bytes){pattern, ct_len};
	for (size_t i = 0; i < PROTO_SIG_LEN; i++)
		env->signature[i] = (uint8_t)(0x90 + i);
}

/* Header length for a sender nick of n bytes: version, room, epoch, sender,
 * seq, time_ms, head_seq, head_hash. */
#define ENV_HEADER_LEN(n) (1 + PROTO_ROOM_ID_LEN + 4 + 2 + (n) + 8 + 8 + 4 + PROTO_HASH_LEN)
/* Offsets in an encoded envelope whose sender has n bytes. */
#define ENV_OFF_TIME(n) (1 + PROTO_ROOM_ID_LEN + 4 + 2 + (n) + 8)
#define ENV_OFF_HEAD_SEQ(n) (ENV_OFF_TIME(n) + 8)
#define ENV_OFF_HEAD_HASH(n) (ENV_OFF_HEAD_SEQ(n) + 4)

static void encode_envelope(const struct proto_envelope *env, struct buf *out)
{
	buf_init(out, 0);
	assert_int_equal(proto_envelope_encode(env, out), CC_OK);
}

static void assert_envelope_equal(const struct proto_envelope *a, const struct proto_envelope *b)
{
	assert_int_equal(a->version, b->version);
	assert_memory_equal(a->room_id, b->room_id, PROTO_ROOM_ID_LEN);
	assert_int_equal(a->epoch, b->epoch);
	assert_int_equal(a->sender.len, b->sender.len);
	assert_memory_equal(a->sender.p, b->sender.p, a->sender.len);
	assert_true(a->seq == b->seq);
	assert_true(a->time_ms == b->time_ms);
	assert_int_equal(a->head_seq, b->head_seq);
	assert_memory_equal(a->head_hash, b->head_hash, PROTO_HASH_LEN);
	assert_memory_equal(a->nonce, b->nonce, PROTO_NONCE_LEN);
	assert_int_equal(a->ciphertext.len, b->ciphertext.len);
	assert_memory_equal(a->ciphertext.p, b->ciphertext.p, a->ciphertext.len);
	assert_memory_equal(a->signature, b->signature, PROTO_SIG_LEN);
}

static void test_envelope_round_trip(void **state)
{
	(void)state;
	static const size_t ct_lens[] = {16, 17, 100, 4096, PROTO_TEXT_MAX + 16};
	for (size_t k = 0; k < sizeof ct_lens / sizeof ct_lens[0]; k++) {
		struct proto_envelope env, got;
		struct buf enc, again;
		sample_envelope(&env, ct_lens[k]);
		encode_envelope(&env, &enc);
		assert_int_equal(enc.len, ENV_HEADER_LEN(5) + PROTO_NONCE_LEN + 2 + ct_lens[k] +
						  PROTO_SIG_LEN);
		assert_true(enc.len <= PROTO_ENVELOPE_MAX);
		uint8_t *d = dup_exact(enc.data, enc.len);
		assert_int_equal(proto_envelope_decode(d, enc.len, &got), CC_OK);
		assert_envelope_equal(&env, &got);
		encode_envelope(&got, &again);
		assert_int_equal(again.len, enc.len);
		assert_memory_equal(again.data, enc.data, enc.len);
		free(d);
		buf_free(&again);
		buf_free(&enc);
	}
}

static void test_envelope_truncations(void **state)
{
	(void)state;
	struct proto_envelope env;
	struct buf enc;
	sample_envelope(&env, 40);
	encode_envelope(&env, &enc);
	for (size_t n = 0; n < enc.len; n++)
		assert_int_equal(envelope_decode_exact(enc.data, n), CC_ERR_TRUNCATED);
	assert_int_equal(envelope_decode_exact(enc.data, enc.len), CC_OK);
	buf_free(&enc);
}

static void test_envelope_trailing(void **state)
{
	(void)state;
	struct proto_envelope env;
	struct buf enc;
	sample_envelope(&env, 40);
	encode_envelope(&env, &enc);
	assert_int_equal(buf_put_u8(&enc, 0), CC_OK);
	assert_int_equal(envelope_decode_exact(enc.data, enc.len), CC_ERR_TRAILING);
	buf_free(&enc);
}

static void test_envelope_bad_version(void **state)
{
	(void)state;
	static const uint8_t versions[] = {0, 1, 2, PROTO_ENVELOPE_VERSION + 1, 0xff};
	struct proto_envelope env;
	struct buf enc;
	assert_int_equal(PROTO_ENVELOPE_VERSION, 3);
	sample_envelope(&env, 40);
	encode_envelope(&env, &enc);
	for (size_t i = 0; i < sizeof versions; i++) {
		enc.data[0] = versions[i];
		assert_int_equal(envelope_decode_exact(enc.data, enc.len), CC_ERR_VERSION);
		assert_int_equal(envelope_decode_exact(enc.data, 1), CC_ERR_VERSION);
	}
	buf_free(&enc);

	/* A whole protocol-1 envelope (no head fields after time_ms) is refused
	 * by its version byte, before its shorter header is misread. */
	buf_init(&enc, 0);
	assert_int_equal(buf_put_u8(&enc, 1), CC_OK);
	assert_int_equal(buf_put_bytes(&enc, env.room_id, PROTO_ROOM_ID_LEN), CC_OK);
	assert_int_equal(buf_put_u32(&enc, env.epoch), CC_OK);
	assert_int_equal(buf_put_bytes16(&enc, env.sender.p, env.sender.len), CC_OK);
	assert_int_equal(buf_put_u64(&enc, env.seq), CC_OK);
	assert_int_equal(buf_put_u64(&enc, env.time_ms), CC_OK);
	assert_int_equal(buf_put_bytes(&enc, env.nonce, PROTO_NONCE_LEN), CC_OK);
	assert_int_equal(buf_put_bytes16(&enc, env.ciphertext.p, env.ciphertext.len), CC_OK);
	assert_int_equal(buf_put_bytes(&enc, env.signature, PROTO_SIG_LEN), CC_OK);
	assert_int_equal(envelope_decode_exact(enc.data, enc.len), CC_ERR_VERSION);
	buf_free(&enc);

	/* The encoder writes the version it knows, whatever the struct says. */
	env.version = 1;
	encode_envelope(&env, &enc);
	assert_int_equal(enc.data[0], PROTO_ENVELOPE_VERSION);
	buf_free(&enc);
}

/* The version 2 header: head_seq (u32) and head_hash (32 bytes) follow
 * time_ms, in the header (the associated data), at fixed offsets. */
static void test_envelope_head_fields(void **state)
{
	(void)state;
	static const uint32_t head_seqs[] = {0, 1, 0x0d0e0f10, UINT32_MAX};
	for (size_t k = 0; k < sizeof head_seqs / sizeof head_seqs[0]; k++) {
		struct proto_envelope env, got;
		struct buf enc;
		sample_envelope(&env, 40);
		env.head_seq = head_seqs[k];
		for (size_t i = 0; i < PROTO_HASH_LEN; i++)
			env.head_hash[i] = (uint8_t)(k * 50 + i);
		encode_envelope(&env, &enc);
		/* Big-endian u32, then the hash, right after time_ms. */
		assert_int_equal(load_be64(enc.data + ENV_OFF_TIME(5)), env.time_ms);
		assert_int_equal(load_be32(enc.data + ENV_OFF_HEAD_SEQ(5)), head_seqs[k]);
		assert_memory_equal(enc.data + ENV_OFF_HEAD_HASH(5), env.head_hash,
				    PROTO_HASH_LEN);
		uint8_t *d = dup_exact(enc.data, enc.len);
		assert_int_equal(proto_envelope_decode(d, enc.len, &got), CC_OK);
		assert_int_equal(got.head_seq, head_seqs[k]);
		assert_memory_equal(got.head_hash, env.head_hash, PROTO_HASH_LEN);
		/* Both head fields are inside the header view. */
		assert_int_equal(got.header.len, ENV_OFF_HEAD_HASH(5) + PROTO_HASH_LEN);
		free(d);

		/* A changed byte of either field decodes to exactly that change. */
		enc.data[ENV_OFF_HEAD_SEQ(5) + 3] ^= 0x01;
		enc.data[ENV_OFF_HEAD_HASH(5) + 31] ^= 0x80;
		d = dup_exact(enc.data, enc.len);
		assert_int_equal(proto_envelope_decode(d, enc.len, &got), CC_OK);
		assert_int_equal(got.head_seq, head_seqs[k] ^ 1u);
		assert_memory_equal(got.head_hash, env.head_hash, PROTO_HASH_LEN - 1);
		assert_int_equal(got.head_hash[31], env.head_hash[31] ^ 0x80);
		free(d);
		buf_free(&enc);
	}
}

/* Hand-built envelope bytes: a sender and a ciphertext of any length. */
static void raw_envelope(struct buf *b, const uint8_t *sender, size_t sender_len, size_t ct_len)
{
	uint8_t zeros[PROTO_SIG_LEN] = {0};
	_Static_assert(PROTO_SIG_LEN >= PROTO_HASH_LEN, "zeros covers the head hash");
	buf_init(b, 0);
	assert_int_equal(buf_put_u8(b, PROTO_ENVELOPE_VERSION), CC_OK);
	assert_int_equal(buf_put_bytes(b, zeros, PROTO_ROOM_ID_LEN), CC_OK);
	assert_int_equal(buf_put_u32(b, 0), CC_OK);
	assert_int_equal(buf_put_bytes16(b, sender, sender_len), CC_OK);
	assert_int_equal(buf_put_u64(b, 1), CC_OK);
	assert_int_equal(buf_put_u64(b, 0), CC_OK);
	assert_int_equal(buf_put_u32(b, 0), CC_OK);
	assert_int_equal(buf_put_bytes(b, zeros, PROTO_HASH_LEN), CC_OK);
	assert_int_equal(buf_put_bytes(b, zeros, PROTO_NONCE_LEN), CC_OK);
	assert_int_equal(buf_put_bytes16(b, pattern, ct_len), CC_OK);
	assert_int_equal(buf_put_bytes(b, zeros, PROTO_SIG_LEN), CC_OK);
}

static void test_envelope_bad_sender(void **state)
{
	(void)state;
	struct buf b;
	raw_envelope(&b, (const uint8_t *)"dave", 4, 16);
	assert_int_equal(envelope_decode_exact(b.data, b.len), CC_OK);
	buf_free(&b);
	for (size_t i = 0; i < sizeof bad_nicks / sizeof bad_nicks[0]; i++) {
		const struct bad_nick *bn = &bad_nicks[i];
		raw_envelope(&b, (const uint8_t *)bn->s, bn->n, 16);
		assert_int_equal(envelope_decode_exact(b.data, b.len), bn->want);
		buf_free(&b);

		struct proto_envelope env;
		struct buf out;
		sample_envelope(&env, 40);
		env.sender = (struct proto_bytes){(const uint8_t *)bn->s, bn->n};
		buf_init(&out, 0);
		assert_int_equal(proto_envelope_encode(&env, &out), CC_ERR_BAD_NICK);
		assert_int_equal(proto_envelope_encode_unsigned(&env, &out), CC_ERR_BAD_NICK);
		assert_int_equal(proto_envelope_encode_header(&env, &out), CC_ERR_BAD_NICK);
		assert_int_equal(out.len, 0);
		buf_free(&out);
	}
}

static void test_envelope_ciphertext_bounds(void **state)
{
	(void)state;
	const uint8_t *nick = (const uint8_t *)"dave";
	struct proto_envelope env;
	struct buf b, out;

	/* Shorter than a tag: no message could have made it. */
	for (size_t n = 0; n < 16; n++) {
		raw_envelope(&b, nick, 4, n);
		assert_int_equal(envelope_decode_exact(b.data, b.len), CC_ERR_MALFORMED);
		buf_free(&b);
	}
	raw_envelope(&b, nick, 4, 16);
	assert_int_equal(envelope_decode_exact(b.data, b.len), CC_OK);
	buf_free(&b);
	raw_envelope(&b, nick, 4, PROTO_TEXT_MAX + 16);
	assert_int_equal(envelope_decode_exact(b.data, b.len), CC_OK);
	buf_free(&b);
	raw_envelope(&b, nick, 4, PROTO_TEXT_MAX + 17);
	assert_int_equal(envelope_decode_exact(b.data, b.len), CC_ERR_TOO_LARGE);
	buf_free(&b);

	/* The encoders agree, and leave out as it was. */
	buf_init(&out, 0);
	assert_int_equal(buf_put_u8(&out, 0xee), CC_OK);
	sample_envelope(&env, 15);
	assert_int_equal(proto_envelope_encode(&env, &out), CC_ERR_MALFORMED);
	assert_int_equal(proto_envelope_encode_unsigned(&env, &out), CC_ERR_MALFORMED);
	sample_envelope(&env, 0);
	assert_int_equal(proto_envelope_encode(&env, &out), CC_ERR_MALFORMED);
	sample_envelope(&env, PROTO_TEXT_MAX + 17);
	assert_int_equal(proto_envelope_encode(&env, &out), CC_ERR_TOO_LARGE);
	assert_int_equal(proto_envelope_encode_unsigned(&env, &out), CC_ERR_TOO_LARGE);
	assert_int_equal(out.len, 1);
	buf_free(&out);
}

static void test_envelope_encode_out_of_room(void **state)
{
	(void)state;
	struct proto_envelope env;
	struct buf full, out;
	sample_envelope(&env, 40);
	encode_envelope(&env, &full);
	for (size_t max = 1; max < full.len; max += 5) {
		buf_init(&out, max);
		assert_int_equal(buf_put_u8(&out, 0xee), CC_OK);
		assert_int_not_equal(proto_envelope_encode(&env, &out), CC_OK);
		assert_int_equal(out.len, 1);
		buf_free(&out);
	}
	buf_free(&full);
}

static void test_envelope_views(void **state)
{
	(void)state;
	static const char *senders[] = {"x", "carol", "AZaz09_.-abcdefghijklmnopqrstuvw"};
	for (size_t k = 0; k < sizeof senders / sizeof senders[0]; k++) {
		struct proto_envelope env, got;
		struct buf enc, header, unsig;
		sample_envelope(&env, 16 + 11 * k);
		env.sender = str_bytes(senders[k]);
		encode_envelope(&env, &enc);
		buf_init(&header, 0);
		buf_init(&unsig, 0);
		assert_int_equal(proto_envelope_encode_header(&env, &header), CC_OK);
		assert_int_equal(proto_envelope_encode_unsigned(&env, &unsig), CC_OK);
		uint8_t *d = dup_exact(enc.data, enc.len);
		assert_int_equal(proto_envelope_decode(d, enc.len, &got), CC_OK);

		/* header: version..head_hash, the AEAD's associated data. */
		assert_int_equal(header.len, ENV_HEADER_LEN(env.sender.len));
		assert_ptr_equal(got.header.p, d);
		assert_int_equal(got.header.len, header.len);
		assert_memory_equal(got.header.p, header.data, header.len);
		/* signed_part: the header, nonce and ciphertext; only the
		 * signature is left out. */
		assert_ptr_equal(got.signed_part.p, d);
		assert_int_equal(got.signed_part.len, unsig.len);
		assert_int_equal(got.signed_part.len, enc.len - PROTO_SIG_LEN);
		assert_memory_equal(got.signed_part.p, unsig.data, unsig.len);
		/* The ciphertext view sits between them. */
		assert_ptr_equal(got.ciphertext.p, d + header.len + PROTO_NONCE_LEN + 2);
		free(d);
		buf_free(&header);
		buf_free(&unsig);
		buf_free(&enc);
	}
}

int main(void)
{
	pattern_init();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_record_round_trip),
		cmocka_unit_test(test_record_longest_nicks),
		cmocka_unit_test(test_record_truncations),
		cmocka_unit_test(test_record_trailing),
		cmocka_unit_test(test_record_bad_version),
		cmocka_unit_test(test_record_many_subjects),
		cmocka_unit_test(test_record_bad_action),
		cmocka_unit_test(test_record_bad_nick),
		cmocka_unit_test(test_record_oversize_signature),
		cmocka_unit_test(test_record_encode_out_of_room),
		cmocka_unit_test(test_record_signed_part),
		cmocka_unit_test(test_envelope_round_trip),
		cmocka_unit_test(test_envelope_truncations),
		cmocka_unit_test(test_envelope_trailing),
		cmocka_unit_test(test_envelope_bad_version),
		cmocka_unit_test(test_envelope_head_fields),
		cmocka_unit_test(test_envelope_bad_sender),
		cmocka_unit_test(test_envelope_ciphertext_bounds),
		cmocka_unit_test(test_envelope_encode_out_of_room),
		cmocka_unit_test(test_envelope_views),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
