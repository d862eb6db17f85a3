/* End-to-end room cryptography: what a member's client does so that the server
 * stores only ciphertext and can neither forge, replay nor reorder messages,
 * nor slip a member in, unseen. docs/PROTOCOL.md section 8 gives every label.
 *
 *   signing keys   each user's Ed25519 key, certified by its RSA identity key
 *   records        membership changes, RSA-PSS signed by their actor, hash-chained
 *   room keys      32 random bytes per epoch, RSA-OAEP wrapped to each member,
 *                  committed to in the signed records
 *   messages       AES-256-GCM under the epoch key, Ed25519 signed by the sender
 *   titles         AES-256-GCM under the epoch key */
#ifndef CC_E2E_H
#define CC_E2E_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/crypto.h"
#include "proto/room.h"
#include "util/buf.h"

#define E2E_KEY_LEN 32
#define E2E_TITLE_MAX 200

/* The user's Ed25519 signing key, derived from the identity key so that it
 * lives and dies with it (nothing more to back up). */
cc_err e2e_signing_key_derive(const struct crypto_rsa_key *identity,
			      uint8_t seed[CRYPTO_ED25519_SEED_LEN],
			      uint8_t pub[CRYPTO_ED25519_PUB_LEN]);
/* The certificate: RSA-PSS by the identity key over the signing key. */
cc_err e2e_signing_cert_make(const struct crypto_rsa_key *identity,
			     const uint8_t pub[CRYPTO_ED25519_PUB_LEN], struct buf *cert);
cc_err e2e_signing_cert_verify(const struct crypto_rsa_key *identity_pub,
			       const uint8_t pub[CRYPTO_ED25519_PUB_LEN],
			       const uint8_t *cert, size_t cert_len);

/* A fresh room key. */
cc_err e2e_room_key_new(uint8_t key[E2E_KEY_LEN]);
/* SHA-256 commitment to an epoch's key, for the signed records. */
void e2e_key_commit(const uint8_t room[PROTO_ROOM_ID_LEN], uint32_t epoch,
		    const uint8_t key[E2E_KEY_LEN], uint8_t out[PROTO_HASH_LEN]);
/* RSA-OAEP-SHA256 of the key to a member, labelled with room and epoch so the
 * server cannot move a wrapped key to another room or epoch. */
cc_err e2e_key_wrap(const struct crypto_rsa_key *member, const uint8_t room[PROTO_ROOM_ID_LEN],
		    uint32_t epoch, const uint8_t key[E2E_KEY_LEN], struct buf *out);
cc_err e2e_key_unwrap(const struct crypto_rsa_key *identity,
		      const uint8_t room[PROTO_ROOM_ID_LEN], uint32_t epoch,
		      const uint8_t *wrapped, size_t len, uint8_t key[E2E_KEY_LEN]);

/* Titles: nonce || AES-256-GCM, bound to room and epoch. The title is UTF-8
 * of at most E2E_TITLE_MAX bytes; open writes a NUL-terminated string. */
cc_err e2e_title_seal(const uint8_t key[E2E_KEY_LEN], const uint8_t room[PROTO_ROOM_ID_LEN],
		      uint32_t epoch, const char *title, struct buf *out);
cc_err e2e_title_open(const uint8_t key[E2E_KEY_LEN], const uint8_t room[PROTO_ROOM_ID_LEN],
		      uint32_t epoch, const uint8_t *ct, size_t len,
		      char out[E2E_TITLE_MAX + 1]);

/* Signs rec (every field but the signature set) with the actor's identity key
 * and appends the whole encoded record to out. */
cc_err e2e_record_sign(const struct crypto_rsa_key *actor, const struct proto_record *rec,
		       struct buf *out);
/* CC_OK if the decoded record's signature verifies under the actor's key. */
cc_err e2e_record_verify_sig(const struct crypto_rsa_key *actor, const struct proto_record *rec);
/* The chain hash of an encoded record: SHA-256 of all its bytes. */
void e2e_record_hash(const uint8_t *record, size_t len, uint8_t out[PROTO_HASH_LEN]);

/* Seals text into a complete envelope. env's header fields (room_id, epoch,
 * sender, seq, time_ms) must be set; nonce and signature are made here. */
cc_err e2e_message_seal(const uint8_t sign_seed[CRYPTO_ED25519_SEED_LEN],
			const uint8_t key[E2E_KEY_LEN], struct proto_envelope *env,
			const uint8_t *text, size_t text_len, struct buf *out);
/* Verifies the sender's signature, then decrypts. text gets at most
 * PROTO_TEXT_MAX bytes. CC_ERR_AUTH if either check fails, CC_ERR_MALFORMED if
 * the text is not UTF-8. */
cc_err e2e_message_open(const uint8_t sign_pub[CRYPTO_ED25519_PUB_LEN],
			const uint8_t key[E2E_KEY_LEN], const struct proto_envelope *env,
			uint8_t *text, size_t *text_len);

/* ---- Membership chains ---------------------------------------------------
 * A room's membership is the result of its records, applied in order. Each
 * record must: be for this room, carry the next seq and the previous record's
 * hash, be signed by its actor's identity key, and be allowed:
 *
 *   CREATE  first record only; actor = subject; epoch 0; the actor is admin
 *   ADD     actor is the admin; subject not a member; epoch unchanged
 *   KICK    actor is the admin; subject a member, not the admin; epoch + 1
 *   LEAVE   actor = subject, a member; the admin only when alone (the room
 *           ends); epoch unchanged (the admin owes a REKEY)
 *   ADMIN   actor is the admin; subject a member, not the actor; epoch unchanged
 *   REKEY   actor is the admin; epoch + 1; subject = actor
 *   EXPIRE  subject a member whose nickname expired; actor is the admin, or,
 *           when the subject is the admin, another member, who becomes admin
 *           (the server asks the earliest-joined member still there); epoch
 *           unchanged (a REKEY follows)
 *
 * and its key commitment must equal the current epoch's unless it starts an
 * epoch. The verifier looks up actors' RSA keys by fingerprint. */

struct e2e_member {
	char nick[PROTO_NICK_MAX + 1];
	uint8_t fp[PROTO_FINGERPRINT_LEN];
};

/* Who was a member, from epoch `from` until before epoch `to` (UINT32_MAX: still). */
struct e2e_span {
	struct e2e_member who;
	uint32_t from, to;
};

struct e2e_chain {
	uint8_t room_id[PROTO_ROOM_ID_LEN];
	uint32_t count;                      /* records applied */
	uint8_t last_hash[PROTO_HASH_LEN];
	uint32_t epoch;
	uint64_t epoch_started_ms;           /* the actor's time on the record that began it */
	struct e2e_member admin;
	bool ended;                          /* the last member left */
	struct e2e_member *members;          /* current, in order of joining */
	size_t nmembers;
	struct e2e_span *spans;
	size_t nspans;
	uint8_t (*commits)[PROTO_HASH_LEN];  /* per epoch */
	uint32_t ncommits;
};

/* Returns the RSA public key of the user with this fingerprint (borrowed), or
 * NULL if unknown. */
typedef const struct crypto_rsa_key *(*e2e_key_lookup_fn)(void *ctx,
							   const uint8_t fp[PROTO_FINGERPRINT_LEN]);

void e2e_chain_init(struct e2e_chain *chain, const uint8_t room_id[PROTO_ROOM_ID_LEN]);
void e2e_chain_free(struct e2e_chain *chain);
/* Checks one encoded record against the chain and applies it. On error the
 * chain is unchanged; CC_ERR_AUTH for a bad signature or hash,
 * CC_ERR_STATE for an action the actor may not take. why (if not NULL) gets a
 * sentence. */
cc_err e2e_chain_apply(struct e2e_chain *chain, const uint8_t *record, size_t len,
		       e2e_key_lookup_fn lookup, void *ctx, const char **why);
const struct e2e_member *e2e_chain_member(const struct e2e_chain *chain,
					  const uint8_t fp[PROTO_FINGERPRINT_LEN]);
const struct e2e_member *e2e_chain_member_by_nick(const struct e2e_chain *chain,
						  const char *nick);
/* The member who sent as `nick` in `epoch`, or NULL if none could. */
const struct e2e_member *e2e_chain_sender(const struct e2e_chain *chain, const char *nick,
					  uint32_t epoch);
/* The key commitment of an epoch, or NULL. */
const uint8_t *e2e_chain_commit(const struct e2e_chain *chain, uint32_t epoch);

#endif
