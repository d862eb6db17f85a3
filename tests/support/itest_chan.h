/* An in-process client on the chan API (src/transport/chan.h) for the
 * integration tests: what a well-behaved cryptocat never sends (forged
 * senders, requests it has no right to make, tampered, replayed or
 * reordered records) comes from here, against the real cryptocat-server.
 *
 * A session with a user's own identity key:
 *
 *	struct ichan w;
 *	ichan_open(&w, port, itest_path(dir, "eve"), "eve");
 *	ichan_expect_error(&w, &m, CC_ERR_NO_SUCH_ROOM);
 *	ichan_close(&w);
 *
 * or, with a key the test holds, on a socket it connected itself:
 * ichan_handshake(&w, fd, key, nick, server_fp).
 *
 * Like itest_rooms.h, these assert (cmocka): they are test steps. */
#ifndef CC_TESTS_ITEST_CHAN_H
#define CC_TESTS_ITEST_CHAN_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/crypto.h"
#include "proto/msg.h"
#include "proto/room.h"
#include "util/buf.h"
#include "util/err.h"

struct chan;

struct ichan {
	int fd;                       /* -1 once closed */
	struct chan *ch;
	struct buf out;               /* bytes on their way to the socket */
	struct crypto_rsa_key *key;   /* the session's identity */
	int own_key;                  /* ichan_close() frees KEY */
	uint8_t fp[CRYPTO_FINGERPRINT_LEN];   /* KEY's fingerprint */
	uint32_t max_frame;           /* the server's cap, from WELCOME */
	uint32_t next_request;        /* the last request id used */
	/* ichan_answer() also passes over REKEY_OWED notices (else one fails
	 * the test like any other message that is not the answer). */
	int skip_rekey_owed;
};

/* Starts a handshake on the connected FD as NICK with KEY (not owned):
 * sends CLIENT_HELLO, nothing more. */
void ichan_start(struct ichan *w, int fd, struct crypto_rsa_key *key, const char *nick);
/* The whole handshake on the connected FD as NICK with KEY (not owned).
 * The server's key must have the fingerprint SERVER_FP unless it is NULL;
 * the server's first message must be a WELCOME naming NICK and KEY's
 * fingerprint, the server must be proven, and the WELCOME's max_frame
 * becomes the send cap. */
void ichan_handshake(struct ichan *w, int fd, struct crypto_rsa_key *key, const char *nick,
		     const uint8_t *server_fp);
/* Connects to PORT and does the handshake as NICK with the identity key
 * HOME/identity.pem (owned by W). */
void ichan_open(struct ichan *w, int port, const char *home, const char *nick);
/* Closes the socket (unless already closed), frees the session and W's
 * own key; W is zeroed, with fd -1. */
void ichan_close(struct ichan *w);

/* Sends W->out and empties it. */
void ichan_flush(struct ichan *w);
/* Reads records until one whole inner message is there: 1 with *M (views
 * valid until the next call), 0 if the server closed, -1 on a timeout. */
int ichan_next(struct ichan *w, struct proto_msg *m, int timeout_ms);

/* Sends M with a fresh request id (set here: MSG_SEND, ROOM_JOIN,
 * ROOM_DISCONNECT, ROOM_ADD, ROOM_LEAVE, ROOM_ADMIN, ROOM_KICK, ROOM_REKEY)
 * and returns that id. */
uint32_t ichan_request(struct ichan *w, struct proto_msg *m);
/* The next answer to request ID into *M: room traffic (ROOM_MSG,
 * ROOM_RECORD) and PINGs in between are passed over, anything else must
 * carry ID. */
void ichan_answer(struct ichan *w, uint32_t id, struct proto_msg *m);
/* Sends REQ (as ichan_request); its answer must be ERROR CODE. */
void ichan_expect_error(struct ichan *w, struct proto_msg *req, cc_err code);

/* A well-formed envelope in OUT (emptied first) for ROOM, EPOCH, SENDER
 * and SEQ, with junk for nonce, ciphertext and signature. */
void ichan_junk_envelope(struct buf *out, const uint8_t room[PROTO_ROOM_ID_LEN], uint32_t epoch,
			 const char *sender, uint64_t seq);

#endif
