/* The end-to-end formats the server stores but cannot read or forge:
 * membership records and room message envelopes. Codecs only; signing,
 * sealing and verification are in src/e2e/. docs/PROTOCOL.md section 9. */
#ifndef CC_PROTO_ROOM_H
#define CC_PROTO_ROOM_H

#include <stddef.h>
#include <stdint.h>

#include "proto/msg.h"
#include "util/buf.h"

/* A record names one subject (version 2), or, an ADD only, 2 to
 * PROTO_RECORD_SUBJECTS_MAX of them (version 3): one encoding for each. */
#define PROTO_RECORD_VERSION 2
#define PROTO_RECORD_VERSION_MANY 3
#define PROTO_RECORD_SUBJECTS_MAX 256
#define PROTO_ENVELOPE_VERSION 3
#define PROTO_HASH_LEN 32
#define PROTO_NONCE_LEN 12
#define PROTO_SIG_LEN 64
/* Longest message text, in bytes of UTF-8. */
#define PROTO_TEXT_MAX (16 * 1024)

/* The rules each action follows are in src/e2e/e2e.h (chains). */
enum proto_record_action {
	PROTO_REC_CREATE = 1,   /* actor = subject = the creator, the first admin */
	PROTO_REC_ADD = 2,      /* the admin adds subject; new epoch */
	PROTO_REC_KICK = 3,     /* the admin expels subject; new epoch */
	PROTO_REC_LEAVE = 4,    /* subject leaves (actor = subject); closes the epoch */
	PROTO_REC_ADMIN = 5,    /* the admin hands the role to subject */
	PROTO_REC_REKEY = 6,    /* any member starts a new epoch */
	PROTO_REC_EXPIRE = 7,   /* subject's nickname expired; signed by another
				   member; closes the epoch */
	PROTO_REC_MOVE = 8,     /* the actor moves to a new identity key (the
				   subject's), signed by the old; new epoch */
};

/* A membership record: one change to a room's membership, signed by its actor
 * and chained to the previous record by hash. */
struct proto_record {
	uint8_t version;
	uint8_t room_id[PROTO_ROOM_ID_LEN];
	uint32_t seq;                           /* 0 for the create record */
	uint8_t prev_hash[PROTO_HASH_LEN];      /* zeros for seq 0 */
	uint8_t action;
	struct proto_bytes actor;               /* nick */
	uint8_t actor_fp[PROTO_FINGERPRINT_LEN];
	struct proto_bytes subject;             /* nick: the first (or only) subject */
	uint8_t subject_fp[PROTO_FINGERPRINT_LEN];
	uint16_t nsubjects;                     /* 1, or 2.. in an ADD of several */
	struct proto_bytes subjects;            /* nsubjects > 1: every subject as
						   nick || fp, back to back (what
						   proto_subject_put writes) */
	uint32_t epoch;                         /* the epoch once this record applies */
	uint8_t key_commit[PROTO_HASH_LEN];     /* commits to that epoch's key */
	uint64_t time_ms;                       /* the actor's clock */
	struct proto_bytes signature;           /* RSA-PSS by the actor */
	struct proto_bytes signed_part;         /* decode only: every byte before signature */
};

/* Appends one subject (nick || fingerprint) to a record's subjects. */
cc_err proto_subject_put(struct buf *subjects, const struct proto_bytes *nick,
			 const uint8_t fp[PROTO_FINGERPRINT_LEN]);
/* Walks a decoded record's subjects, the only one of a version 2 record
 * included. */
struct proto_subject_iter {
	const struct proto_record *rec;
	struct bufreader r;
	uint16_t left;
};
void proto_subject_iter_init(struct proto_subject_iter *it, const struct proto_record *rec);
/* CC_OK with the next subject (views), CC_ERR_NOT_FOUND after the last. */
cc_err proto_subject_next(struct proto_subject_iter *it, struct proto_bytes *nick,
			  const uint8_t **fp);

/* Decodes exactly len bytes. Views point into p. */
cc_err proto_record_decode(const uint8_t *p, size_t len, struct proto_record *out);
/* Encodes every field but the signature (what the actor signs). */
cc_err proto_record_encode_unsigned(const struct proto_record *rec, struct buf *out);
/* Encodes the whole record, signature included. */
cc_err proto_record_encode(const struct proto_record *rec, struct buf *out);

/* A room message: header (the AEAD's associated data), nonce, ciphertext,
 * and the sender's Ed25519 signature over all of it. */
struct proto_envelope {
	uint8_t version;
	uint8_t room_id[PROTO_ROOM_ID_LEN];
	uint32_t epoch;
	struct proto_bytes sender;              /* nick */
	uint64_t seq;                           /* per sender and epoch, from 1: the
						   number of its message key */
	uint64_t time_ms;                       /* the sender's clock */
	uint32_t head_seq;                      /* the last record the sender applied */
	uint8_t head_hash[PROTO_HASH_LEN];      /* and its chain hash */
	uint8_t nonce[PROTO_NONCE_LEN];
	struct proto_bytes ciphertext;          /* text and the 16-byte tag */
	uint8_t signature[PROTO_SIG_LEN];
	struct proto_bytes header;              /* decode only: version..head_hash */
	struct proto_bytes signed_part;         /* decode only: version..ciphertext */
};

cc_err proto_envelope_decode(const uint8_t *p, size_t len, struct proto_envelope *out);
/* Encodes the header alone (the associated data). */
cc_err proto_envelope_encode_header(const struct proto_envelope *env, struct buf *out);
/* Encodes header, nonce and ciphertext (what the sender signs). */
cc_err proto_envelope_encode_unsigned(const struct proto_envelope *env, struct buf *out);
/* Encodes everything, signature included. */
cc_err proto_envelope_encode(const struct proto_envelope *env, struct buf *out);

#endif
