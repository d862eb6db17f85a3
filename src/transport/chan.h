/* A secure channel endpoint with no I/O: frames in, frames out.
 *
 * The handshake (docs/PROTOCOL.md, "Handshake") authenticates the server by its
 * long-term RSA key and the client by a signature of its RSA identity key,
 * mixes the original RSA-OAEP session secret with an ephemeral X25519 secret,
 * and derives one AES-256-GCM key per direction. After it, each frame is a
 * record whose nonce is its implicit counter, so a tampered, replayed, dropped
 * or reordered record fails its tag and the channel is dead.
 *
 * Record plaintexts form a byte stream of inner frames (a frame may span
 * records, a record may carry many frames): the sender batches whatever it
 * owes into one record, and chan_pop_frame hands the receiver whole frames.
 *
 * The server may ask for a proof of work in its hello (a hash puzzle bound to
 * both hellos): the client solves it before it spends anything, and the
 * server checks it with one hash before it spends its RSA operation. A server
 * can also take CLIENT_KEY's private-key work out of chan_recv_frame
 * (chan_server_defer_key) to run it on another thread.
 *
 * The event loop (server/, client/) moves bytes; this file decides what they
 * mean, which is also what makes it fuzzable. */
#ifndef CC_TRANSPORT_CHAN_H
#define CC_TRANSPORT_CHAN_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/crypto.h"
#include "proto/frame.h"
#include "proto/msg.h"
#include "util/buf.h"

struct chan;

/* A client solves puzzles of at most this many bits unless told otherwise:
 * 2^24 hashes, a few seconds on one core. */
#define CHAN_PUZZLE_CLIENT_MAX 24

enum chan_event {
	CHAN_EVENT_NONE,
	/* Client: the server's hello arrived. Check chan_peer_fingerprint against
	 * the pin, then call chan_client_continue (or give up). */
	CHAN_EVENT_SERVER_KEY,
	/* Server: the client proved its identity key; the channel is open. */
	CHAN_EVENT_OPEN,
	/* Record plaintext arrived: take whole frames with chan_pop_frame. */
	CHAN_EVENT_DATA,
	/* Server, with chan_server_defer_key: CLIENT_KEY arrived and its puzzle
	 * holds. Call chan_server_finish_key (from any one thread); until it
	 * returns, nothing else may touch the channel. */
	CHAN_EVENT_KEY_PENDING,
};

/* Server side. server_key is borrowed and must outlive the channel.
 * max_frame is the frame cap once the client is authenticated. */
cc_err chan_server_new(const struct crypto_rsa_key *server_key, size_t max_frame,
		       struct chan **out);
/* Client side. identity is borrowed; nick is the nickname to register. */
cc_err chan_client_new(const struct crypto_rsa_key *identity, const char *nick,
		       size_t max_frame, struct chan **out);
/* Wipes every secret and frees. NULL is fine. */
void chan_free(struct chan *ch);

/* Server: the proof of work the SERVER_HELLO asks for, in leading zero bits
 * (0: none; at most PROTO_PUZZLE_BITS_MAX). Only before CLIENT_HELLO is read. */
void chan_server_set_puzzle(struct chan *ch, unsigned bits);
/* Server: CLIENT_KEY ends in CHAN_EVENT_KEY_PENDING instead of being
 * processed inside chan_recv_frame. */
void chan_server_defer_key(struct chan *ch);
/* Server, after CHAN_EVENT_KEY_PENDING: the handshake's expensive part (the
 * RSA-OAEP decryption, X25519, the client's signature). It touches only the
 * channel and the server key (OpenSSL allows concurrent private-key
 * operations on one key), so it may run on a worker thread. CC_OK: the
 * channel is open (as CHAN_EVENT_OPEN). Otherwise a plaintext ERROR is
 * appended to wire_out and the channel is dead. */
cc_err chan_server_finish_key(struct chan *ch, struct buf *wire_out);
/* Client: the most puzzle bits chan_client_continue will solve (default
 * CHAN_PUZZLE_CLIENT_MAX); harder ones fail with CC_ERR_PUZZLE. */
void chan_client_set_puzzle_limit(struct chan *ch, unsigned bits);
/* The puzzle bits of this handshake (client: after CHAN_EVENT_SERVER_KEY). */
unsigned chan_puzzle_bits(const struct chan *ch);

/* Client: appends the framed CLIENT_HELLO to wire_out. */
cc_err chan_client_start(struct chan *ch, struct buf *wire_out);
/* Client: after CHAN_EVENT_SERVER_KEY, solves the server's puzzle (this
 * blocks for about 2^bits hashes) and appends the framed CLIENT_KEY. */
cc_err chan_client_continue(struct chan *ch, struct buf *wire_out);

/* The frame cap in force now: PROTO_FRAME_MAX_PREAUTH until the channel is
 * open, then max_frame. Check it with proto_frame_peek before buffering. */
size_t chan_frame_cap(const struct chan *ch);

/* Takes one whole frame (header and body, as proto_frame_peek found it).
 * Handshake replies, framed, are appended to wire_out. Any error is final:
 * send what is in wire_out (perhaps a plaintext ERROR) and close. A plaintext
 * ERROR from the server during the handshake (also in place of the first
 * record: a refused CLIENT_KEY) is returned as its code, with its text in
 * chan_peer_error_text. */
cc_err chan_recv_frame(struct chan *ch, const uint8_t *frame, size_t frame_len,
		       struct buf *wire_out, enum chan_event *event);

/* The next whole inner frame body from the decrypted stream: CC_OK, or
 * CC_ERR_TRUNCATED when none is complete yet, or CC_ERR_TOO_LARGE /
 * CC_ERR_MALFORMED (close). The body stays valid until the next call. */
cc_err chan_pop_frame(struct chan *ch, const uint8_t **body, size_t *len);

/* Seals plaintext (a run of inner frames) into as few records as the peer's
 * frame cap allows, appended to wire_out. Only once the channel is open. */
cc_err chan_send(struct chan *ch, const uint8_t *plain, size_t len, struct buf *wire_out);
/* The bytes chan_send makes of len bytes of plaintext, headers included. */
size_t chan_sealed_len(const struct chan *ch, size_t len);
/* chan_send into memory the caller holds (a socket buffer's reserved space:
 * no copy of the records afterwards); out_len must be chan_sealed_len(len).
 * On an error the channel's state is unchanged unless records were sealed,
 * and the caller must then drop the connection. */
cc_err chan_send_into(struct chan *ch, const uint8_t *plain, size_t len, uint8_t *out,
		      size_t out_len);
/* Encodes one message as an inner frame and seals it. */
cc_err chan_send_msg(struct chan *ch, const struct proto_msg *m, struct buf *wire_out);

int chan_is_open(const struct chan *ch);
/* Client: 1 once a record from the server opened, which proves the server
 * holds its RSA key (only it could read the session secret). */
int chan_peer_proven(const struct chan *ch);
/* The peer's RSA key (server: the client's identity; client: the server's). */
const struct crypto_rsa_key *chan_peer_key(const struct chan *ch);
const uint8_t *chan_peer_key_der(const struct chan *ch, size_t *len);
const uint8_t *chan_peer_fingerprint(const struct chan *ch);
/* Server: the nickname the client asked for. */
const char *chan_peer_nick(const struct chan *ch);
const char *chan_peer_error_text(const struct chan *ch);
/* Client: after the server finished, let the peer's announced cap apply. */
void chan_set_send_cap(struct chan *ch, size_t max_frame);

#endif
