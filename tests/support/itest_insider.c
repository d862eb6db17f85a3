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

#include "client/core/home.h"
#include "e2e/e2e.h"
#include "itest.h"
#include "store/client_store.h"
#include "itest_rooms.h"
#include "util/clock.h"

void insider_load(struct insider *in, const char *home, const char *nick)
{
	insider_load_passphrase(in, home, nick, NULL);
}

void insider_load_passphrase(struct insider *in, const char *home, const char *nick,
			     const char *pass)
{
	memset(in, 0, sizeof *in);
	snprintf(in->nick, sizeof in->nick, "%s", nick);
	snprintf(in->home, sizeof in->home, "%s", home);
	assert_int_equal(crypto_init(), CC_OK);
	if (pass)
		assert_int_equal(home_secrets_new(pass, strlen(pass), &in->secrets), CC_OK);
	assert_int_equal(home_key_load(home, HOME_IDENTITY, in->secrets, &in->identity), CC_OK);
	assert_int_equal(crypto_rsa_fingerprint(in->identity, in->fp), CC_OK);
	assert_int_equal(e2e_signing_key_derive(in->identity, in->sign_seed, in->sign_pub), CC_OK);
}

struct client_store *insider_store_open(const struct insider *in)
{
	struct client_store *cs = NULL;
	assert_int_equal(cstore_open(itest_path(in->home, "client.db"), &cs), CC_OK);
	if (in->secrets) {
		struct cstore_at_rest row;
		assert_int_equal(cstore_at_rest_get(cs, &row), CC_OK);
		assert_true(row.sealed);
		assert_int_equal(home_secrets_check(in->secrets, &row, in->home), CC_OK);
		assert_int_equal(cstore_sealer_set(cs, &in->secrets->sealer), CC_OK);
	}
	return cs;
}

void insider_free(struct insider *in)
{
	crypto_rsa_free(in->identity);
	home_secrets_free(in->secrets);
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

/* Steps chain key CK of number N to the key of message SEQ (>= N). */
static void chain_to(uint8_t ck[32], uint64_t n, uint64_t seq, uint8_t key[32])
{
	for (; n < seq; n++)
		assert_int_equal(e2e_ratchet_step(ck, key, ck), CC_OK);
	assert_int_equal(e2e_ratchet_step(ck, key, ck), CC_OK);
}

/* From a secret of EPOCH the server holds wrapped to IN: 0 and KEY, or -1. */
static int from_server_disk(const struct insider *in, struct client_store *cs,
			    const char *room_hex, uint32_t epoch,
			    const uint8_t sender[CRYPTO_FINGERPRINT_LEN], uint64_t seq,
			    uint8_t key[32])
{
	uint8_t room[PROTO_ROOM_ID_LEN], secret[32], base[32], ck[32], open_hash[PROTO_HASH_LEN];
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
	uint32_t version = 0;
	struct cstore_recv_key k;
	int rc = -1;
	if (e2e_wrapped_version(wrapped, len, &version) == CC_OK &&
	    cstore_recv_get(cs, version, &k) == CC_OK) {
		if (e2e_key_unwrap(k.priv, in->fp, room, epoch, wrapped, len, secret) == CC_OK) {
			size_t rlen;
			free(insider_record_get(room_hex, insider_epoch_open_seq(room_hex, epoch),
						&rlen, open_hash));
			assert_int_equal(e2e_epoch_base(secret, room, epoch, open_hash, base), CC_OK);
			assert_int_equal(e2e_chain_start(base, sender, ck), CC_OK);
			chain_to(ck, 1, seq, key);
			rc = 0;
		}
		mem_wipe(&k, sizeof k);
	}
	free(wrapped);
	mem_wipe(secret, sizeof secret);
	mem_wipe(base, sizeof base);
	mem_wipe(ck, sizeof ck);
	return rc;
}

int insider_message_key(const struct insider *in, const char *room_hex, uint32_t epoch,
			const uint8_t sender[CRYPTO_FINGERPRINT_LEN], uint64_t seq,
			uint8_t key[32])
{
	struct client_store *cs = NULL;
	uint8_t room[PROTO_ROOM_ID_LEN], ck[32];
	uint64_t next = 0;
	int rc = -1;
	assert_int_equal(hex_decode(room_hex, room, sizeof room), CC_OK);
	cs = insider_store_open(in);
	if (cstore_chain_get(cs, room, epoch, sender, ck, &next) == CC_OK && seq >= next) {
		chain_to(ck, next, seq, key);
		rc = 0;
	}
	if (rc != 0)
		rc = from_server_disk(in, cs, room_hex, epoch, sender, seq, key);
	cstore_close(cs);
	mem_wipe(ck, sizeof ck);
	return rc;
}

int insider_own_key(const struct insider *in, const char *room_hex, uint32_t epoch, uint64_t seq,
		    uint8_t key[32])
{
	return insider_message_key(in, room_hex, epoch, in->fp, seq, key);
}

int insider_opens(const struct insider *in, const char *room_hex, const uint8_t *blob,
		  size_t len)
{
	struct proto_envelope env;
	uint8_t key[32], text[PROTO_TEXT_MAX];
	size_t n;
	char nick[PROTO_NICK_MAX + 1];
	assert_int_equal(proto_envelope_decode(blob, len, &env), CC_OK);
	snprintf(nick, sizeof nick, "%.*s", (int)env.sender.len, (const char *)env.sender.p);
	size_t fp_len = 0;
	uint8_t *fp = rt_sql_blob(&fp_len, "SELECT hex(fingerprint) FROM users WHERE nick_lower ="
				  " lower('%s') UNION ALL SELECT hex(fingerprint) FROM keys_retired"
				  " WHERE lower(nick) = lower('%s') LIMIT 1", nick, nick);
	assert_int_equal(fp_len, CRYPTO_FINGERPRINT_LEN);
	int opens = insider_message_key(in, room_hex, env.epoch, fp, env.seq, key) == 0 &&
		    e2e_message_decrypt(key, &env, text, &n) == CC_OK;
	free(fp);
	mem_wipe(key, sizeof key);
	mem_wipe(text, sizeof text);
	return opens;
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
