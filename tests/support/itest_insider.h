/* What a member's identity key and a copy of the server's database, taken
 * together, let someone forge: the tests' model of an insider (a member, or
 * a member's stolen key) working with a hostile server. Every value is made
 * with the project's own code from what such an attacker holds, so a client
 * that refuses it refuses the real thing.
 *
 * The server's database is read through rt_sql*() (itest_rooms.h: call
 * rt_db_use or rt_start with DB first). Like itest_rooms.h, these assert. */
#ifndef CC_TESTS_ITEST_INSIDER_H
#define CC_TESTS_ITEST_INSIDER_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/crypto.h"
#include "proto/room.h"
#include "util/buf.h"

struct insider {
	char nick[PROTO_NICK_MAX + 1];
	struct crypto_rsa_key *identity;
	uint8_t fp[CRYPTO_FINGERPRINT_LEN];
	uint8_t sign_seed[CRYPTO_ED25519_SEED_LEN];    /* version 1, as the client makes it */
	uint8_t sign_pub[CRYPTO_ED25519_PUB_LEN];
};

/* The identity key in HOME/identity.pem, and the signing key derived from it. */
void insider_load(struct insider *in, const char *home, const char *nick);
void insider_free(struct insider *in);

/* Record SEQ of the room as the server stores it (caller frees), and its
 * chain hash. */
uint8_t *insider_record_get(const char *room_hex, uint32_t seq, size_t *len,
			    uint8_t hash[PROTO_HASH_LEN]);
/* How many records the server stores for the room. */
uint32_t insider_record_count(const char *room_hex);
/* The seq of the record that opened EPOCH. */
uint32_t insider_epoch_open_seq(const char *room_hex, uint32_t epoch);

/* The secret of EPOCH wrapped to IN in the server's database, unwrapped with
 * IN's identity key: 0, or -1 if the server holds none for IN. */
int insider_epoch_secret(const struct insider *in, const char *room_hex, uint32_t epoch,
			 uint8_t secret[32]);
/* The key EPOCH's messages are sealed with, from its secret. */
void insider_epoch_key(const char *room_hex, uint32_t epoch, const uint8_t secret[32],
		       uint8_t key[32]);

/* A record of ACTION by IN that follows record SEQ - 1 as stored (SEQ 0:
 * none), signed by IN, into OUT (emptied first). */
void insider_record_make(const struct insider *in, const char *room_hex, uint32_t seq,
			 uint8_t action, const char *subject,
			 const uint8_t subject_fp[CRYPTO_FINGERPRINT_LEN], uint32_t epoch,
			 const uint8_t commit[PROTO_HASH_LEN], struct buf *out);
/* An envelope by IN in EPOCH (sealed with KEY), naming as its head record
 * HEAD_SEQ of the stored chain (hash HEAD_HASH if not NULL, else the stored
 * record's), with SEQ and TEXT (LEN bytes), signed with IN's signing key,
 * into OUT (emptied first). */
void insider_envelope(const struct insider *in, const char *room_hex, uint32_t epoch,
		      const uint8_t key[32], uint32_t head_seq, const uint8_t *head_hash,
		      uint64_t seq, const char *text, size_t len, struct buf *out);

#endif
