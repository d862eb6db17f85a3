/* The channel's handshake (docs/PROTOCOL.md 4): the hellos, CLIENT_KEY on
 * both sides, the key schedule, and the proof of work. The state machine
 * that calls these is chan_recv_frame (chan.c). */
#include <stdlib.h>
#include <string.h>

#include "transport/chan_internal.h"

/* Labels of the key schedule; docs/PROTOCOL.md derives every byte from them. */
static const char LABEL_SESSION_SECRET[] = "cryptocat/1 session secret";
static const char LABEL_CLIENT_AUTH[] = "cryptocat/1 client auth";
static const char LABEL_CLIENT_SIGNATURE[] = "cryptocat/1 client signature";
static const char LABEL_C2S[] = "cryptocat/1 c2s";
static const char LABEL_S2C[] = "cryptocat/1 s2c";
static const char LABEL_PUZZLE[] = CHAN_PUZZLE_LABEL;

/* Appends a message as a frame to wire_out and, during the handshake, to the
 * transcript. */
static cc_err chan_put_handshake_msg(struct chan *ch, const struct proto_msg *m,
				     struct buf *wire_out)
{
	struct buf body;
	cc_err err;

	buf_init(&body, PROTO_FRAME_MAX_PREAUTH);
	if ((err = proto_msg_encode(m, &body)))
		goto out;
	size_t start = ch->transcript.len;
	if ((err = proto_frame_put(&ch->transcript, body.data, body.len)))
		goto out;
	err = buf_put_bytes(wire_out, ch->transcript.data + start, ch->transcript.len - start);
out:
	buf_free(&body);
	return err;
}


static void sha256_transcript(const struct chan *ch, const uint8_t *extra, size_t extra_len,
			      uint8_t out[CRYPTO_SHA256_LEN])
{
	struct buf t;
	buf_init(&t, ch->transcript.len + extra_len + 1);
	if (buf_put_bytes(&t, ch->transcript.data, ch->transcript.len) == CC_OK &&
	    buf_put_bytes(&t, extra, extra_len) == CC_OK)
		crypto_sha256(t.data, t.len, out);
	else
		memset(out, 0, CRYPTO_SHA256_LEN);
	buf_free(&t);
}

/* The puzzle's prefix, label || SHA-256(CLIENT_HELLO || SERVER_HELLO frames):
 * both randoms and both ephemeral keys are in it, so a solution is good for
 * this connection only. Called once the transcript holds the two hellos. */
static void puzzle_prefix_set(struct chan *ch)
{
	memcpy(ch->puzzle_prefix, LABEL_PUZZLE, sizeof LABEL_PUZZLE - 1);
	sha256_transcript(ch, NULL, 0, ch->puzzle_prefix + sizeof LABEL_PUZZLE - 1);
}

static cc_err hkdf_label(const struct chan *ch, const uint8_t salt[CRYPTO_SHA256_LEN],
			 const char *label, uint8_t out[32])
{
	return crypto_hkdf_sha256(ch->ikm, sizeof ch->ikm, salt, CRYPTO_SHA256_LEN,
				  (const uint8_t *)label, strlen(label), out, 32);
}

/* The value the client signs: label || 0x00 || SHA-256(transcript so far ||
 * u64 puzzle_nonce || bytes16 session_ct || bytes16 identity key || bytes16
 * nick). */
static cc_err client_signed_input(const struct chan *ch, uint64_t nonce,
				  const uint8_t *session_ct, size_t ct_len, const uint8_t *id_der,
				  size_t id_len, const char *nick, struct buf *out)
{
	struct buf tail;
	uint8_t hash[CRYPTO_SHA256_LEN];
	cc_err err;

	buf_init(&tail, PROTO_FRAME_MAX_PREAUTH);
	if ((err = buf_put_u64(&tail, nonce)) ||
	    (err = buf_put_bytes16(&tail, session_ct, ct_len)) ||
	    (err = buf_put_bytes16(&tail, id_der, id_len)) ||
	    (err = buf_put_bytes16(&tail, nick, strlen(nick))))
		goto out;
	sha256_transcript(ch, tail.data, tail.len, hash);
	if ((err = buf_put_bytes(out, LABEL_CLIENT_SIGNATURE, sizeof LABEL_CLIENT_SIGNATURE)))
		goto out;
	err = buf_put_bytes(out, hash, sizeof hash);
out:
	buf_free(&tail);
	return err;
}

/* The AES-GCM key and associated data that seal CLIENT_AUTH: H_auth is
 * SHA-256(transcript so far || u64 puzzle_nonce || bytes16 session_ct). */
static cc_err client_auth_key(const struct chan *ch, uint64_t nonce, const uint8_t *session_ct,
			      size_t ct_len, uint8_t key[32], uint8_t aad[CRYPTO_SHA256_LEN])
{
	struct buf tail;
	cc_err err;

	buf_init(&tail, 8 + PROTO_RSA_BYTES_MAX + 2);
	if (!(err = buf_put_u64(&tail, nonce)))
		err = buf_put_bytes16(&tail, session_ct, ct_len);
	if (!err) {
		sha256_transcript(ch, tail.data, tail.len, aad);
		err = hkdf_label(ch, aad, LABEL_CLIENT_AUTH, key);
	}
	buf_free(&tail);
	return err;
}

/* Once the transcript is complete: one key per direction, counters at 0. */
static cc_err chan_derive_traffic_keys(struct chan *ch)
{
	uint8_t th[CRYPTO_SHA256_LEN], c2s[32], s2c[32];
	cc_err err;

	sha256_transcript(ch, NULL, 0, th);
	if ((err = hkdf_label(ch, th, LABEL_C2S, c2s)) ||
	    (err = hkdf_label(ch, th, LABEL_S2C, s2c)))
		goto out;
	if ((err = crypto_aead_new(ch->role == ROLE_CLIENT ? c2s : s2c, 1, &ch->send.aead)) ||
	    (err = crypto_aead_new(ch->role == ROLE_CLIENT ? s2c : c2s, 0, &ch->recv.aead)))
		goto out;
	ch->send.counter = 0;
	ch->recv.counter = 0;
	/* The handshake secrets are done with: forward secrecy starts here. */
	mem_wipe(ch->ikm, sizeof ch->ikm);
	mem_wipe(ch->eph_priv, sizeof ch->eph_priv);
	buf_free(&ch->transcript);
	ch->phase = PHASE_OPEN;
out:
	mem_wipe(c2s, sizeof c2s);
	mem_wipe(s2c, sizeof s2c);
	return err;
}

static cc_err chan_set_peer_key(struct chan *ch, const uint8_t *der, size_t len)
{
	cc_err err = crypto_rsa_public_from_der(der, len, &ch->peer_key);
	if (err)
		return err == CC_ERR_NOMEM ? err : CC_ERR_AUTH;
	if ((err = buf_put_bytes(&ch->peer_key_der, der, len)))
		return err;
	return crypto_rsa_fingerprint(ch->peer_key, ch->peer_fp);
}

cc_err chan_client_start(struct chan *ch, struct buf *wire_out)
{
	struct proto_msg m = {.type = PROTO_CLIENT_HELLO};
	cc_err err;

	if (ch->role != ROLE_CLIENT || ch->phase != PHASE_CLIENT_START)
		return CC_ERR_STATE;
	m.u.client_hello.version = PROTO_VERSION;
	if ((err = crypto_x25519_keypair(ch->eph_priv, ch->eph_pub)) ||
	    (err = crypto_random_bytes(m.u.client_hello.random, PROTO_RANDOM_LEN)))
		return err;
	memcpy(m.u.client_hello.eph, ch->eph_pub, CRYPTO_X25519_LEN);
	if ((err = chan_put_handshake_msg(ch, &m, wire_out)))
		return err;
	ch->phase = PHASE_CLIENT_WAIT_HELLO;
	return CC_OK;
}

cc_err chan_hs_on_server_hello(struct chan *ch, const struct proto_msg *m, const uint8_t *frame,
			       size_t frame_len)
{
	const struct proto_server_hello *sh = &m->u.server_hello;
	cc_err err;

	if (sh->version != PROTO_VERSION)
		return CC_ERR_VERSION;
	if ((err = chan_set_peer_key(ch, sh->server_key.p, sh->server_key.len)))
		return err;
	memcpy(ch->peer_eph, sh->eph, CRYPTO_X25519_LEN);
	if ((err = buf_put_bytes(&ch->transcript, frame, frame_len)))
		return err;
	ch->puzzle_bits = sh->puzzle_bits;
	puzzle_prefix_set(ch);
	ch->phase = PHASE_CLIENT_PIN_CHECK;
	return CC_OK;
}

cc_err chan_client_continue(struct chan *ch, struct buf *wire_out)
{
	uint8_t session_secret[SESSION_SECRET_LEN], dh[CRYPTO_X25519_LEN];
	uint8_t auth_key[32], auth_aad[CRYPTO_SHA256_LEN];
	uint8_t nonce[CRYPTO_AEAD_NONCE_LEN] = {0};
	struct buf session_ct, id_der, signed_input, signature, auth_plain, sealed;
	struct proto_msg m;
	cc_err err;

	if (ch->role != ROLE_CLIENT || ch->phase != PHASE_CLIENT_PIN_CHECK)
		return CC_ERR_STATE;
	buf_init(&session_ct, PROTO_RSA_BYTES_MAX);
	buf_init(&id_der, PROTO_RSA_PUB_MAX);
	buf_init(&signed_input, 256);
	buf_init(&signature, PROTO_RSA_BYTES_MAX);
	buf_init(&auth_plain, PROTO_SEALED_AUTH_MAX);
	buf_init(&sealed, PROTO_SEALED_AUTH_MAX);
	ch->phase = PHASE_DEAD;  /* until it all worked */

	/* The puzzle first: it blocks the caller for about 2^bits hashes, which
	 * is why a client sets a limit on what it accepts. */
	memset(&m, 0, sizeof m);
	m.type = PROTO_CLIENT_KEY;
	if (ch->puzzle_bits > ch->puzzle_limit) {
		err = CC_ERR_PUZZLE;
		goto out;
	}
	if ((err = crypto_puzzle_solve(ch->puzzle_prefix, sizeof ch->puzzle_prefix,
				       ch->puzzle_bits, 0, UINT64_MAX, &m.u.client_key.puzzle_nonce)))
		goto out;

	if ((err = crypto_x25519_shared(ch->eph_priv, ch->peer_eph, dh)) ||
	    (err = crypto_random_bytes(session_secret, sizeof session_secret)))
		goto out;
	memcpy(ch->ikm, dh, sizeof dh);
	memcpy(ch->ikm + sizeof dh, session_secret, sizeof session_secret);
	if ((err = crypto_rsa_oaep_encrypt(ch->peer_key, (const uint8_t *)LABEL_SESSION_SECRET,
					   strlen(LABEL_SESSION_SECRET), session_secret,
					   sizeof session_secret, &session_ct)))
		goto out;

	/* CLIENT_AUTH: identity key, nickname, signature over the transcript. */
	if ((err = crypto_rsa_public_to_der(ch->own_key, &id_der)) ||
	    (err = client_signed_input(ch, m.u.client_key.puzzle_nonce, session_ct.data,
				       session_ct.len, id_der.data, id_der.len, ch->nick,
				       &signed_input)) ||
	    (err = crypto_rsa_pss_sign(ch->own_key, signed_input.data, signed_input.len,
				       &signature)))
		goto out;
	struct proto_msg auth = {.type = PROTO_CLIENT_AUTH};
	auth.u.client_auth.identity_key = (struct proto_bytes){id_der.data, id_der.len};
	auth.u.client_auth.nick = proto_bytes_str(ch->nick);
	auth.u.client_auth.signature = (struct proto_bytes){signature.data, signature.len};
	if ((err = proto_msg_encode(&auth, &auth_plain)))
		goto out;

	/* Sealed under a key only the holder of the server's RSA key can derive. */
	uint8_t *dst;
	if ((err = client_auth_key(ch, m.u.client_key.puzzle_nonce, session_ct.data,
				   session_ct.len, auth_key, auth_aad)) ||
	    (err = buf_append_space(&sealed, auth_plain.len + CRYPTO_AEAD_TAG_LEN, &dst)) ||
	    (err = crypto_aead_seal(auth_key, nonce, auth_aad, sizeof auth_aad, auth_plain.data,
				    auth_plain.len, dst)))
		goto out;

	m.u.client_key.session_ct = (struct proto_bytes){session_ct.data, session_ct.len};
	m.u.client_key.sealed_auth = (struct proto_bytes){sealed.data, sealed.len};
	if ((err = chan_put_handshake_msg(ch, &m, wire_out)) ||
	    (err = chan_derive_traffic_keys(ch)))
		goto out;
out:
	mem_wipe(session_secret, sizeof session_secret);
	mem_wipe(dh, sizeof dh);
	mem_wipe(auth_key, sizeof auth_key);
	buf_free(&session_ct);
	buf_free(&id_der);
	buf_free(&signed_input);
	buf_free(&signature);
	buf_free(&auth_plain);
	buf_free(&sealed);
	return err;
}

cc_err chan_hs_on_client_hello(struct chan *ch, const struct proto_msg *m, const uint8_t *frame,
			       size_t frame_len, struct buf *wire_out)
{
	const struct proto_client_hello *chello = &m->u.client_hello;
	struct proto_msg reply = {.type = PROTO_SERVER_HELLO};
	struct buf der;
	cc_err err;

	if (chello->version != PROTO_VERSION)
		return CC_ERR_VERSION;
	memcpy(ch->peer_eph, chello->eph, CRYPTO_X25519_LEN);
	if ((err = buf_put_bytes(&ch->transcript, frame, frame_len)))
		return err;

	buf_init(&der, PROTO_RSA_PUB_MAX);
	struct proto_server_hello *sh = &reply.u.server_hello;
	sh->version = PROTO_VERSION;
	if ((err = crypto_x25519_keypair(ch->eph_priv, ch->eph_pub)) ||
	    (err = crypto_random_bytes(sh->random, PROTO_RANDOM_LEN)) ||
	    (err = crypto_rsa_public_to_der(ch->own_key, &der)))
		goto out;
	memcpy(sh->eph, ch->eph_pub, CRYPTO_X25519_LEN);
	sh->server_key = (struct proto_bytes){der.data, der.len};
	sh->puzzle_bits = (uint8_t)ch->puzzle_bits;
	if ((err = chan_put_handshake_msg(ch, &reply, wire_out)))
		goto out;
	if (ch->puzzle_bits)
		puzzle_prefix_set(ch);
	ch->phase = PHASE_SERVER_WAIT_KEY;
out:
	buf_free(&der);
	return err;
}

static cc_err server_on_client_key(struct chan *ch, const struct proto_msg *m,
				   const uint8_t *frame, size_t frame_len)
{
	const struct proto_client_key *ck = &m->u.client_key;
	uint8_t session_secret[SESSION_SECRET_LEN], dh[CRYPTO_X25519_LEN];
	uint8_t auth_key[32], auth_aad[CRYPTO_SHA256_LEN];
	uint8_t nonce[CRYPTO_AEAD_NONCE_LEN] = {0};
	uint8_t *auth_plain = NULL;
	size_t secret_len = 0;
	struct proto_msg auth;
	struct buf signed_input;
	cc_err err;

	buf_init(&signed_input, 256);
	if (ck->sealed_auth.len < CRYPTO_AEAD_TAG_LEN) {
		err = CC_ERR_MALFORMED;
		goto out;
	}
	/* The one RSA private-key operation of the handshake. Every failure below
	 * is reported as the same CC_ERR_AUTH, so nothing tells them apart. */
	err = crypto_rsa_oaep_decrypt(ch->own_key, (const uint8_t *)LABEL_SESSION_SECRET,
				      strlen(LABEL_SESSION_SECRET), ck->session_ct.p,
				      ck->session_ct.len, session_secret,
				      sizeof session_secret, &secret_len);
	if (err || secret_len != SESSION_SECRET_LEN) {
		err = CC_ERR_AUTH;
		goto out;
	}
	if ((err = crypto_x25519_shared(ch->eph_priv, ch->peer_eph, dh)))
		goto out;
	memcpy(ch->ikm, dh, sizeof dh);
	memcpy(ch->ikm + sizeof dh, session_secret, sizeof session_secret);

	size_t plain_len = ck->sealed_auth.len - CRYPTO_AEAD_TAG_LEN;
	auth_plain = malloc(plain_len ? plain_len : 1);
	if (!auth_plain) {
		err = CC_ERR_NOMEM;
		goto out;
	}
	if ((err = client_auth_key(ch, ck->puzzle_nonce, ck->session_ct.p, ck->session_ct.len,
				   auth_key, auth_aad)) ||
	    (err = crypto_aead_open(auth_key, nonce, auth_aad, sizeof auth_aad,
				    ck->sealed_auth.p, ck->sealed_auth.len, auth_plain)))
		goto out;
	if ((err = proto_msg_decode(auth_plain, plain_len, &auth)))
		goto out;
	if (auth.type != PROTO_CLIENT_AUTH) {
		err = CC_ERR_BAD_TYPE;
		goto out;
	}
	const struct proto_client_auth *ca = &auth.u.client_auth;
	memcpy(ch->nick, ca->nick.p, ca->nick.len);
	ch->nick[ca->nick.len] = '\0';
	if ((err = chan_set_peer_key(ch, ca->identity_key.p, ca->identity_key.len)) ||
	    (err = client_signed_input(ch, ck->puzzle_nonce, ck->session_ct.p, ck->session_ct.len,
				       ca->identity_key.p, ca->identity_key.len, ch->nick,
				       &signed_input)) ||
	    (err = crypto_rsa_pss_verify(ch->peer_key, signed_input.data, signed_input.len,
					 ca->signature.p, ca->signature.len)))
		goto out;
	if ((err = buf_put_bytes(&ch->transcript, frame, frame_len)) ||
	    (err = chan_derive_traffic_keys(ch)))
		goto out;
out:
	if (err && err != CC_ERR_NOMEM)
		err = CC_ERR_AUTH;
	mem_wipe(session_secret, sizeof session_secret);
	mem_wipe(dh, sizeof dh);
	mem_wipe(auth_key, sizeof auth_key);
	if (auth_plain) {
		mem_wipe(auth_plain, ck->sealed_auth.len - CRYPTO_AEAD_TAG_LEN);
		free(auth_plain);
	}
	buf_free(&signed_input);
	return err;
}
cc_err chan_server_finish_key(struct chan *ch, struct buf *wire_out)
{
	struct proto_msg m;
	cc_err err;

	if (ch->role != ROLE_SERVER || ch->phase != PHASE_SERVER_KEY_PENDING)
		return CC_ERR_STATE;
	const uint8_t *frame = ch->pending_key.data;
	size_t frame_len = ch->pending_key.len;
	/* Decoded again: the frame chan_recv_frame checked is this copy. */
	if ((err = proto_msg_decode(frame + PROTO_FRAME_HEADER_LEN,
				    frame_len - PROTO_FRAME_HEADER_LEN, &m)) ||
	    (err = server_on_client_key(ch, &m, frame, frame_len))) {
		chan_put_plain_error(wire_out, err);
		ch->phase = PHASE_DEAD;
	}
	buf_free(&ch->pending_key);
	return err;
}

void chan_server_set_puzzle(struct chan *ch, unsigned bits)
{
	if (ch->role == ROLE_SERVER && ch->phase == PHASE_SERVER_WAIT_HELLO)
		ch->puzzle_bits = bits < PROTO_PUZZLE_BITS_MAX ? bits : PROTO_PUZZLE_BITS_MAX;
}

void chan_server_defer_key(struct chan *ch)
{
	ch->defer_key = true;
}

void chan_client_set_puzzle_limit(struct chan *ch, unsigned bits)
{
	ch->puzzle_limit = bits;
}

unsigned chan_puzzle_bits(const struct chan *ch)
{
	return ch->puzzle_bits;
}

