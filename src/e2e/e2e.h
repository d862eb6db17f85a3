/* End-to-end room cryptography: what a member's client does so that the server
 * stores only ciphertext and can neither forge, replay nor reorder messages,
 * nor slip a member in, unseen. docs/PROTOCOL.md section 9 gives every label.
 *
 *   signing keys   each user's Ed25519 key, certified by its RSA identity key
 *   receiving keys each user's X25519 key for room secrets, certified by its
 *                  RSA identity key, versioned, rotated, its private part
 *                  deleted once superseded
 *   records        membership changes, RSA-PSS signed by their actor, hash-chained
 *   epoch secrets  32 random bytes per epoch, HPKE-wrapped to each member's
 *                  receiving key, committed to in the signed records
 *   epoch base     the secret bound to the record that opened the epoch; a
 *                  title key and one chain key per sender derive from it
 *   message keys   a hash ratchet per sender: each message's key and the next
 *                  chain key come from the chain key, which is then forgotten
 *   messages       AES-256-GCM under their message key, with the sender's
 *                  chain head in the associated data, Ed25519 signed by the
 *                  sender
 *   titles         AES-256-GCM under the epoch's title key */
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
 * lives and dies with it (nothing more to back up). This client's signing
 * key is version 1. */
cc_err e2e_signing_key_derive(const struct crypto_rsa_key *identity,
			      uint8_t seed[CRYPTO_ED25519_SEED_LEN],
			      uint8_t pub[CRYPTO_ED25519_PUB_LEN]);
/* The certificate: RSA-PSS by the identity key over the version and the
 * signing key. The version counts a user's signing keys from 1: receivers
 * remember the highest they saw and refuse older ones. */
cc_err e2e_signing_cert_make(const struct crypto_rsa_key *identity, uint32_t version,
			     const uint8_t pub[CRYPTO_ED25519_PUB_LEN], struct buf *cert);
cc_err e2e_signing_cert_verify(const struct crypto_rsa_key *identity_pub, uint32_t version,
			       const uint8_t pub[CRYPTO_ED25519_PUB_LEN],
			       const uint8_t *cert, size_t cert_len);

/* A receiving key's certificate: RSA-PSS by the identity key over the
 * version, the time it was made and the X25519 key. Versions count a user's
 * receiving keys from 1; receivers remember the highest they saw and refuse
 * older ones. verify: CC_ERR_AUTH if the certificate does not verify,
 * CC_ERR_MALFORMED if it does but the key is a low-order point (no key at
 * all: whatever is wrapped to it, anyone can open). */
cc_err e2e_recv_cert_make(const struct crypto_rsa_key *identity, uint32_t version,
			  uint64_t created_ms, const uint8_t pub[CRYPTO_X25519_LEN],
			  struct buf *cert);
cc_err e2e_recv_cert_verify(const struct crypto_rsa_key *identity_pub, uint32_t version,
			    uint64_t created_ms, const uint8_t pub[CRYPTO_X25519_LEN],
			    const uint8_t *cert, size_t cert_len);
/* Moving to a new identity key: both the old and the new key sign
 * L0("cryptocat/3 key move") || old fingerprint || new fingerprint ||
 * u64 time_ms. The old key's signature says its owner chose the new key;
 * the new key's, that whoever asks holds it. */
cc_err e2e_key_move_sign(const struct crypto_rsa_key *key,
			 const uint8_t old_fp[PROTO_FINGERPRINT_LEN],
			 const uint8_t new_fp[PROTO_FINGERPRINT_LEN], uint64_t time_ms,
			 struct buf *sig);
cc_err e2e_key_move_verify(const struct crypto_rsa_key *pub,
			   const uint8_t old_fp[PROTO_FINGERPRINT_LEN],
			   const uint8_t new_fp[PROTO_FINGERPRINT_LEN], uint64_t time_ms,
			   const uint8_t *sig, size_t sig_len);
/* An epoch's secret: 32 fresh random bytes, made by the member who opens
 * the epoch and wrapped to each member. */
cc_err e2e_epoch_secret_new(uint8_t secret[E2E_KEY_LEN]);
/* SHA-256 commitment to an epoch's secret, for the signed records. */
void e2e_key_commit(const uint8_t room[PROTO_ROOM_ID_LEN], uint32_t epoch,
		    const uint8_t secret[E2E_KEY_LEN], uint8_t out[PROTO_HASH_LEN]);
/* A wrapped secret: u32 receiving-key version || HPKE enc (32) || AES-256-GCM
 * of the secret (48). */
#define E2E_WRAPPED_LEN (4 + 32 + E2E_KEY_LEN + 16)
/* HPKE (RFC 9180 base mode) of the secret to a member's receiving key, its
 * info binding room, epoch, the member's identity fingerprint and the key's
 * version, so the server cannot move a wrapped secret to another room,
 * epoch or member. Appends E2E_WRAPPED_LEN bytes. */
cc_err e2e_key_wrap(const uint8_t recv_pub[CRYPTO_X25519_LEN], uint32_t recv_version,
		    const uint8_t recipient_fp[PROTO_FINGERPRINT_LEN],
		    const uint8_t room[PROTO_ROOM_ID_LEN], uint32_t epoch,
		    const uint8_t secret[E2E_KEY_LEN], struct buf *out);
/* Which of our receiving keys a wrapped secret is for. */
cc_err e2e_wrapped_version(const uint8_t *wrapped, size_t len, uint32_t *version);
/* Opens it with that key's private part: CC_ERR_AUTH on any failure. */
cc_err e2e_key_unwrap(const uint8_t recv_priv[CRYPTO_X25519_LEN],
		      const uint8_t own_fp[PROTO_FINGERPRINT_LEN],
		      const uint8_t room[PROTO_ROOM_ID_LEN], uint32_t epoch,
		      const uint8_t *wrapped, size_t len, uint8_t secret[E2E_KEY_LEN]);
/* An epoch's base: the secret bound to the chain hash of the record that
 * opened the epoch, so members shown different chains derive different keys
 * and cannot read each other. Everything of the epoch derives from it; a
 * client keeps it no longer than it takes to derive them. */
cc_err e2e_epoch_base(const uint8_t secret[E2E_KEY_LEN], const uint8_t room[PROTO_ROOM_ID_LEN],
		      uint32_t epoch, const uint8_t open_hash[PROTO_HASH_LEN],
		      uint8_t base[E2E_KEY_LEN]);
/* The epoch's title key. */
cc_err e2e_title_key(const uint8_t base[E2E_KEY_LEN], uint8_t key[E2E_KEY_LEN]);
/* A sender's first chain key in the epoch (for its message number 1). */
cc_err e2e_chain_start(const uint8_t base[E2E_KEY_LEN],
		       const uint8_t sender_fp[PROTO_FINGERPRINT_LEN], uint8_t ck[E2E_KEY_LEN]);
/* One ratchet step: the message key of chain key ck (its number n) and the
 * chain key of number n + 1. HMAC-SHA256(ck, 0x01) and (ck, 0x02): neither
 * leads back to ck. next may be ck itself. */
cc_err e2e_ratchet_step(const uint8_t ck[E2E_KEY_LEN], uint8_t mk[E2E_KEY_LEN],
			uint8_t next[E2E_KEY_LEN]);
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

/* Seals text into a complete envelope under its message key. env's header fields (room_id, epoch,
 * sender, seq, time_ms, head_seq, head_hash) must be set; nonce and signature
 * are made here. */
cc_err e2e_message_seal(const uint8_t sign_seed[CRYPTO_ED25519_SEED_LEN],
			const uint8_t key[E2E_KEY_LEN], struct proto_envelope *env,
			const uint8_t *text, size_t text_len, struct buf *out);
/* The sender's signature over header, nonce and ciphertext: CC_OK or
 * CC_ERR_AUTH. */
cc_err e2e_message_verify(const uint8_t sign_pub[CRYPTO_ED25519_PUB_LEN],
			  const struct proto_envelope *env);
/* The same with key objects made once (crypto.h): what a client uses for
 * every message it sends or receives. */
cc_err e2e_message_seal_with(const struct crypto_ed25519_priv *sign_key,
			     const uint8_t key[E2E_KEY_LEN], struct proto_envelope *env,
			     const uint8_t *text, size_t text_len, struct buf *out);
cc_err e2e_message_verify_with(const struct crypto_ed25519_pub *sign_key,
			       const struct proto_envelope *env);
/* Decrypts (after e2e_message_verify). text gets at most PROTO_TEXT_MAX
 * bytes. CC_ERR_AUTH if the ciphertext does not open, CC_ERR_MALFORMED if the
 * text is not UTF-8. */
cc_err e2e_message_decrypt(const uint8_t key[E2E_KEY_LEN], const struct proto_envelope *env,
			   uint8_t *text, size_t *text_len);
/* Both: verifies the sender's signature, then decrypts. */
cc_err e2e_message_open(const uint8_t sign_pub[CRYPTO_ED25519_PUB_LEN],
			const uint8_t key[E2E_KEY_LEN], const struct proto_envelope *env,
			uint8_t *text, size_t *text_len);

/* ---- Membership chains ---------------------------------------------------
 * A room's membership is the result of its records, applied in order. Each
 * record must: be for this room, carry the next seq and the previous record's
 * hash, be signed by its actor's identity key, name every member it mentions
 * as the chain does, and be allowed:
 *
 *   CREATE  first record only; actor = subject; opens epoch 0; actor is admin
 *   ADD     actor is the admin; each subject (one, or up to 256 in a record
 *           of version 3) not a member, no member has its nickname, and none
 *           named twice; they join in the record's order; opens the next
 *           epoch
 *   KICK    actor is the admin; subject a member, not the admin; opens the
 *           next epoch
 *   LEAVE   actor = subject, a member; the admin only when alone (the room
 *           ends); closes the epoch
 *   ADMIN   actor is the admin; subject another member; the epoch goes on
 *   REKEY   actor is any member; subject = actor; opens the next epoch
 *   EXPIRE  actor is any member; subject another member; closes the epoch;
 *           if the subject was the admin, the earliest-joined remaining
 *           member becomes admin (the chain picks, not the signer)
 *   MOVE    actor is a member; subject is the same nickname under a key the
 *           chain never named; signed by the old key (the actor's); the
 *           member keeps its place (and the admin role) under the new key;
 *           opens the next epoch
 *
 * A record that opens an epoch commits to its secret; any other must carry
 * the current epoch's commitment. Membership is constant within an epoch: it
 * changes only where one ends. A closed epoch is one a LEAVE or EXPIRE ended
 * while no new one has opened: nobody may send in it any more, and any member
 * may open the next one. The verifier looks up actors' RSA keys by
 * fingerprint. */

#define E2E_SEQ_NONE UINT32_MAX

struct e2e_member {
	char nick[PROTO_NICK_MAX + 1];
	uint8_t fp[PROTO_FINGERPRINT_LEN];
};

/* Who was a member, from epoch `from` until before epoch `to` (UINT32_MAX: still). */
struct e2e_span {
	struct e2e_member who;
	uint32_t from, to;
	bool moved;                          /* ended by a MOVE: the member goes on
						under the next span's key */
};

/* One epoch: where in the chain it began and ended, and its commitment. */
struct e2e_epoch {
	uint32_t open_seq;                   /* the record that opened it */
	uint32_t end_seq;                    /* the record that closed it or opened
						the next; E2E_SEQ_NONE while current */
	uint8_t commit[PROTO_HASH_LEN];
	uint8_t open_hash[PROTO_HASH_LEN];   /* chain hash of the opening record */
	uint64_t started_ms;                 /* the opener's clock */
};

struct e2e_chain {
	uint8_t room_id[PROTO_ROOM_ID_LEN];
	uint32_t count;                      /* records applied */
	uint8_t last_hash[PROTO_HASH_LEN];
	uint32_t epoch;                      /* the current (last opened) epoch */
	bool closed;                         /* ended by a LEAVE or EXPIRE: no sending */
	struct e2e_member admin;
	bool ended;                          /* the last member left */
	struct e2e_member *members;          /* current, in order of joining */
	size_t nmembers, members_cap;
	struct e2e_span *spans;
	size_t nspans, spans_cap;
	struct e2e_epoch *epochs;            /* by epoch number */
	uint32_t nepochs, epochs_cap;
	uint8_t (*hashes)[PROTO_HASH_LEN];   /* every record's chain hash, by seq */
	uint32_t hashes_cap;
};

/* Returns the RSA public key of the user with this fingerprint (borrowed), or
 * NULL if unknown. */
typedef const struct crypto_rsa_key *(*e2e_key_lookup_fn)(void *ctx,
							   const uint8_t fp[PROTO_FINGERPRINT_LEN]);

void e2e_chain_init(struct e2e_chain *chain, const uint8_t room_id[PROTO_ROOM_ID_LEN]);
void e2e_chain_free(struct e2e_chain *chain);
/* A deep copy (dst is overwritten, not freed): to try records on a scratch
 * chain before they are accepted. */
cc_err e2e_chain_copy(struct e2e_chain *dst, const struct e2e_chain *src);
/* Checks one encoded record against the chain and applies it. On error the
 * chain is unchanged: CC_ERR_STALE_EPOCH if the record does not carry the
 * next seq and the last hash (made on another head: a race, or a chain cut
 * short), CC_ERR_AUTH for a bad signature, room, epoch, commitment or name,
 * CC_ERR_STATE for an action the actor may not take. why (if not NULL) gets
 * a sentence. */
cc_err e2e_chain_apply(struct e2e_chain *chain, const uint8_t *record, size_t len,
		       e2e_key_lookup_fn lookup, void *ctx, const char **why);
/* A record whose signature was verified on its own, before any chain is
 * at hand (a server refuses a forged record before loading the room): the
 * SHA-256 of its bytes. */
struct e2e_checked_record {
	bool valid;
	uint8_t hash[PROTO_HASH_LEN];
};
/* Decodes the record and verifies its signature under its actor's key:
 * CC_OK (out is set), CC_ERR_AUTH (unknown actor or bad signature), or the
 * decoder's error. */
cc_err e2e_record_check_sig(const uint8_t *record, size_t len, e2e_key_lookup_fn lookup,
			    void *ctx, struct e2e_checked_record *out);
/* e2e_chain_apply without verifying the signature again when checked is
 * for exactly these bytes (else as e2e_chain_apply, with lookup). */
cc_err e2e_chain_apply_checked(struct e2e_chain *chain, const uint8_t *record, size_t len,
			       const struct e2e_checked_record *checked,
			       e2e_key_lookup_fn lookup, void *ctx, const char **why);
const struct e2e_member *e2e_chain_member(const struct e2e_chain *chain,
					  const uint8_t fp[PROTO_FINGERPRINT_LEN]);
const struct e2e_member *e2e_chain_member_by_nick(const struct e2e_chain *chain,
						  const char *nick);
/* The member who could send as `nick` (any case) in `epoch`, or NULL. */
const struct e2e_member *e2e_chain_sender(const struct e2e_chain *chain, const char *nick,
					  uint32_t epoch);
/* The key a member who moved (MOVE records) is known by now: fp itself if
 * it never moved, else the last key of the moves that started from it. */
const uint8_t *e2e_chain_successor(const struct e2e_chain *chain,
				   const uint8_t fp[PROTO_FINGERPRINT_LEN]);
/* 1 if the chain ever named the key fp with this nickname (any case). */
int e2e_chain_names(const struct e2e_chain *chain, const uint8_t fp[PROTO_FINGERPRINT_LEN],
		    const char *nick);
/* An epoch's place in the chain, or NULL if it has not opened. */
const struct e2e_epoch *e2e_chain_epoch(const struct e2e_chain *chain, uint32_t epoch);
/* The key commitment of an epoch, or NULL. */
const uint8_t *e2e_chain_commit(const struct e2e_chain *chain, uint32_t epoch);
/* 1 if the chain extends a head stored earlier: it holds at least count
 * records and record count - 1 has this hash (count 0: any chain). */
int e2e_chain_extends(const struct e2e_chain *chain, uint32_t count,
		      const uint8_t hash[PROTO_HASH_LEN]);
/* Checks the head a message names (the last record its sender had applied)
 * against this chain: CC_OK if it is one of our records, inside the
 * message's epoch; CC_ERR_SECURITY if we do not hold that record (the server
 * withheld it) or hold another one there (we were shown a different chain);
 * CC_ERR_AUTH if it lies outside the epoch. why gets a sentence. */
cc_err e2e_chain_check_head(const struct e2e_chain *chain, uint32_t epoch, uint32_t head_seq,
			    const uint8_t head_hash[PROTO_HASH_LEN], const char **why);

#endif
