/* What a member's home directory (its identity key and client.db: receiving
 * keys, chain keys) and a copy of the server's database, taken together, let
 * someone forge or read: the tests' model of an insider (a member, or a
 * member's stolen device) working with a hostile server. Every value is made
 * with the project's own code from what such an attacker holds, so a client
 * that refuses it refuses the real thing, and what it cannot open, an
 * attacker with the same copies cannot either.
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
	char home[4096];                                /* its client.db is read from here */
	struct home_secrets *secrets;                   /* the home's passphrase, or NULL */
	struct crypto_rsa_key *identity;
	uint8_t fp[CRYPTO_FINGERPRINT_LEN];
	uint8_t sign_seed[CRYPTO_ED25519_SEED_LEN];    /* version 1, as the client makes it */
	uint8_t sign_pub[CRYPTO_ED25519_PUB_LEN];
};

/* The identity key in HOME/identity.pem, the signing key derived from it,
 * and HOME for its client.db. */
void insider_load(struct insider *in, const char *home, const char *nick);
/* The same for a home under a passphrase (PASS NULL: none), opened with the
 * client's own code (client/core/home.h), as someone who learnt it would. */
void insider_load_passphrase(struct insider *in, const char *home, const char *nick,
			     const char *pass);
/* IN's client.db, unlocked with its passphrase if it has one (cstore_close). */
struct client_store *insider_store_open(const struct insider *in);
void insider_free(struct insider *in);

/* Record SEQ of the room as the server stores it (caller frees), and its
 * chain hash. */
uint8_t *insider_record_get(const char *room_hex, uint32_t seq, size_t *len,
			    uint8_t hash[PROTO_HASH_LEN]);
/* How many records the server stores for the room. */
uint32_t insider_record_count(const char *room_hex);
/* The seq of the record that opened EPOCH. */
uint32_t insider_epoch_open_seq(const char *room_hex, uint32_t epoch);

/* The key of message SEQ of SENDER (a fingerprint) in EPOCH as the insider
 * can make it: from the sender's chain key in IN's client.db (stepped
 * forward; a number behind it is gone), else from a secret the server's
 * database holds wrapped to IN, opened with one of the receiving keys in
 * IN's client.db. 0, or -1 if neither gives it. */
int insider_message_key(const struct insider *in, const char *room_hex, uint32_t epoch,
			const uint8_t sender[CRYPTO_FINGERPRINT_LEN], uint64_t seq,
			uint8_t key[32]);
/* The same for a message of IN's own. */
int insider_own_key(const struct insider *in, const char *room_hex, uint32_t epoch, uint64_t seq,
		    uint8_t key[32]);
/* 1 if the insider can open the stored envelope BLOB (the server's copy):
 * its sender's fingerprint from the server's directory, then
 * insider_message_key. */
int insider_opens(const struct insider *in, const char *room_hex, const uint8_t *blob,
		  size_t len);

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
