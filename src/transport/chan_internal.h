/* What the channel's two files share (chan.c: the channel, its records and
 * the frame dispatch; chan_handshake.c: the handshake messages, the key
 * schedule and the proof of work). Nothing outside src/transport/ includes it. */
#ifndef CC_TRANSPORT_CHAN_INTERNAL_H
#define CC_TRANSPORT_CHAN_INTERNAL_H

#include <stdbool.h>

#include "transport/chan.h"

#define SESSION_SECRET_LEN 32
#define RECORD_OVERHEAD CRYPTO_AEAD_TAG_LEN
#define CHAN_PUZZLE_LABEL "cryptocat/1 puzzle"
/* label || challenge: what every try of the puzzle hashes before the nonce */
#define PUZZLE_PREFIX_LEN (sizeof CHAN_PUZZLE_LABEL - 1 + CRYPTO_SHA256_LEN)

enum chan_role { ROLE_CLIENT, ROLE_SERVER };

enum chan_phase {
	PHASE_CLIENT_START,       /* nothing sent */
	PHASE_CLIENT_WAIT_HELLO,  /* CLIENT_HELLO sent */
	PHASE_CLIENT_PIN_CHECK,   /* SERVER_HELLO read; caller checks the pin */
	PHASE_SERVER_WAIT_HELLO,
	PHASE_SERVER_WAIT_KEY,    /* SERVER_HELLO sent */
	PHASE_SERVER_KEY_PENDING, /* CLIENT_KEY held for chan_server_finish_key */
	PHASE_OPEN,
	PHASE_DEAD,               /* an error happened: nothing more is accepted */
};

struct record_dir {
	struct crypto_aead *aead;     /* keyed once: no allocation per record */
	uint64_t counter;
};

struct chan {
	enum chan_role role;
	enum chan_phase phase;
	size_t max_frame;         /* our receive cap after the handshake */
	size_t send_cap;          /* the peer's receive cap */

	struct buf transcript;    /* every handshake frame, as on the wire */
	uint8_t eph_priv[CRYPTO_X25519_LEN];
	uint8_t eph_pub[CRYPTO_X25519_LEN];
	uint8_t peer_eph[CRYPTO_X25519_LEN];
	/* dh || session secret: the input keying material of every key */
	uint8_t ikm[CRYPTO_X25519_LEN + SESSION_SECRET_LEN];

	const struct crypto_rsa_key *own_key;  /* server key, or client identity */
	char nick[PROTO_NICK_MAX + 1];         /* client: to register; server: asked */
	struct crypto_rsa_key *peer_key;
	struct buf peer_key_der;
	uint8_t peer_fp[CRYPTO_FINGERPRINT_LEN];
	bool peer_proven;
	char peer_error[PROTO_ERROR_TEXT_MAX + 1];

	/* The proof of work: server, what SERVER_HELLO asks; client, what was
	 * asked of it. The puzzle is label || challenge || nonce. */
	unsigned puzzle_bits;
	unsigned puzzle_limit;    /* client: the most it will solve */
	uint8_t puzzle_prefix[PUZZLE_PREFIX_LEN];
	bool defer_key;           /* server: CLIENT_KEY waits for chan_server_finish_key */
	struct buf pending_key;   /* server: that CLIENT_KEY frame */

	struct record_dir send, recv;
	struct buf plain_in;      /* decrypted stream of inner frames */
	size_t plain_off;         /* bytes of plain_in already handed out */
};

/* chan.c: a plaintext ERROR frame for the handshake phase (never part of a
 * transcript). */
void chan_put_plain_error(struct buf *wire_out, cc_err code);

/* chan_handshake.c: the hellos, as chan_recv_frame hands them over. */
cc_err chan_hs_on_server_hello(struct chan *ch, const struct proto_msg *m, const uint8_t *frame,
			       size_t frame_len);
cc_err chan_hs_on_client_hello(struct chan *ch, const struct proto_msg *m, const uint8_t *frame,
			       size_t frame_len, struct buf *wire_out);

#endif
