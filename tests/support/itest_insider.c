/* An insider's forgeries for the integration tests: see itest_insider.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "itest_insider.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "e2e/e2e.h"
#include "itest.h"
#include "itest_rooms.h"
#include "util/clock.h"

void insider_load(struct insider *in, const char *home, const char *nick)
{
	memset(in, 0, sizeof *in);
	snprintf(in->nick, sizeof in->nick, "%s", nick);
	assert_int_equal(crypto_init(), CC_OK);
	assert_int_equal(crypto_rsa_load_private_file(itest_path(home, "identity.pem"),
						      &in->identity), CC_OK);
	assert_int_equal(crypto_rsa_fingerprint(in->identity, in->fp), CC_OK);
	assert_int_equal(e2e_signing_key_derive(in->identity, in->sign_seed, in->sign_pub), CC_OK);
}

void insider_free(struct insider *in)
{
	crypto_rsa_free(in->identity);
	mem_wipe(in, sizeof *in);
}

static long long room_row(const char *room_hex)
{
	return rt_sql_int("SELECT id FROM rooms WHERE room_id = X'%s'", room_hex);
}

uint8_t *insider_record_get(const char *room_hex, uint32_t seq, size_t *len,
			    uint8_t hash[PROTO_HASH_LEN])
{
	uint8_t *rec = rt_sql_blob(len, "SELECT hex(record) FROM records WHERE room = %lld AND"
				   " seq = %u", room_row(room_hex), (unsigned)seq);
	assert_true(*len > 0);
	if (hash)
		e2e_record_hash(rec, *len, hash);
	return rec;
}

uint32_t insider_record_count(const char *room_hex)
{
	return (uint32_t)rt_sql_int("SELECT count(*) FROM records WHERE room = %lld",
				    room_row(room_hex));
}

uint32_t insider_epoch_open_seq(const char *room_hex, uint32_t epoch)
{
	uint32_t n = insider_record_count(room_hex), prev = UINT32_MAX;
	for (uint32_t seq = 0; seq < n; seq++) {
		size_t len;
		struct proto_record rec;
		uint8_t *blob = insider_record_get(room_hex, seq, &len, NULL);
		assert_int_equal(proto_record_decode(blob, len, &rec), CC_OK);
		free(blob);
		if (rec.epoch != prev && rec.epoch == epoch)
			return seq;
		prev = rec.epoch;
	}
	fail_msg("no record opened epoch %u", (unsigned)epoch);
	return 0;
}

int insider_epoch_secret(const struct insider *in, const char *room_hex, uint32_t epoch,
			 uint8_t secret[32])
{
	uint8_t room[PROTO_ROOM_ID_LEN];
	char *fp_hex = rt_hex(in->fp, sizeof in->fp);
	long long n = rt_sql_int("SELECT count(*) FROM room_keys AS k JOIN users AS u"
				 " ON u.id = k.user WHERE u.fingerprint = X'%s' AND k.epoch = %u"
				 " AND k.room = %lld", fp_hex, (unsigned)epoch, room_row(room_hex));
	if (n == 0) {
		free(fp_hex);
		return -1;
	}
	size_t len;
	uint8_t *wrapped = rt_sql_blob(&len, "SELECT hex(k.wrapped) FROM room_keys AS k JOIN users"
				       " AS u ON u.id = k.user WHERE u.fingerprint = X'%s' AND"
				       " k.epoch = %u AND k.room = %lld", fp_hex, (unsigned)epoch,
				       room_row(room_hex));
	free(fp_hex);
	assert_int_equal(hex_decode(room_hex, room, sizeof room), CC_OK);
	cc_err err = e2e_key_unwrap(in->identity, room, epoch, wrapped, len, secret);
	free(wrapped);
	return err == CC_OK ? 0 : -1;
}

void insider_epoch_key(const char *room_hex, uint32_t epoch, const uint8_t secret[32],
		       uint8_t key[32])
{
	uint8_t room[PROTO_ROOM_ID_LEN], open_hash[PROTO_HASH_LEN];
	size_t len;
	assert_int_equal(hex_decode(room_hex, room, sizeof room), CC_OK);
	free(insider_record_get(room_hex, insider_epoch_open_seq(room_hex, epoch), &len,
				open_hash));
	assert_int_equal(e2e_epoch_key(secret, room, epoch, open_hash, key), CC_OK);
}

void insider_record_make(const struct insider *in, const char *room_hex, uint32_t seq,
			 uint8_t action, const char *subject,
			 const uint8_t subject_fp[CRYPTO_FINGERPRINT_LEN], uint32_t epoch,
			 const uint8_t commit[PROTO_HASH_LEN], struct buf *out)
{
	struct proto_record rec = {0};
	rec.version = PROTO_RECORD_VERSION;
	assert_int_equal(hex_decode(room_hex, rec.room_id, sizeof rec.room_id), CC_OK);
	rec.seq = seq;
	if (seq > 0) {
		size_t len;
		free(insider_record_get(room_hex, seq - 1, &len, rec.prev_hash));
	}
	rec.action = action;
	rec.actor = proto_bytes_str(in->nick);
	memcpy(rec.actor_fp, in->fp, sizeof rec.actor_fp);
	rec.subject = proto_bytes_str(subject);
	memcpy(rec.subject_fp, subject_fp, sizeof rec.subject_fp);
	rec.epoch = epoch;
	memcpy(rec.key_commit, commit, PROTO_HASH_LEN);
	rec.time_ms = clock_now_ms();
	buf_reset(out);
	assert_int_equal(e2e_record_sign(in->identity, &rec, out), CC_OK);
}

void insider_envelope(const struct insider *in, const char *room_hex, uint32_t epoch,
		      const uint8_t key[32], uint32_t head_seq, const uint8_t *head_hash,
		      uint64_t seq, const char *text, size_t len, struct buf *out)
{
	struct proto_envelope env = {0};
	env.version = PROTO_ENVELOPE_VERSION;
	assert_int_equal(hex_decode(room_hex, env.room_id, sizeof env.room_id), CC_OK);
	env.epoch = epoch;
	env.sender = proto_bytes_str(in->nick);
	env.seq = seq;
	env.time_ms = clock_now_ms();
	env.head_seq = head_seq;
	if (head_hash) {
		memcpy(env.head_hash, head_hash, PROTO_HASH_LEN);
	} else {
		size_t rlen;
		free(insider_record_get(room_hex, head_seq, &rlen, env.head_hash));
	}
	buf_reset(out);
	assert_int_equal(e2e_message_seal(in->sign_seed, key, &env, (const uint8_t *)text, len,
					  out), CC_OK);
}
