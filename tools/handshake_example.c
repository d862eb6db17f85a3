/* Prints the worked example of docs/PROTOCOL.md: one handshake and one record
 * each way, made with a deterministic random generator and the example keys
 * in tests/data, every message in hex.
 *
 * It is also a second, independent implementation of the key schedule: it
 * recomputes every secret from the document's rules (not from the channel's
 * code), and checks that they open the records the channel really produced.
 * If the document and the code ever disagree, this program fails.
 *
 * Usage: handshake_example SOURCE_DIR > block.md */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "crypto/rng_test.h"
#include "proto/frame.h"
#include "proto/msg.h"
#include "transport/chan.h"
#include "util/buf.h"

#define SEED "cryptocat worked example"

static void die(const char *what, cc_err err)
{
	fprintf(stderr, "handshake_example: %s: %s\n", what, cc_err_str(err));
	exit(1);
}

static void check(cc_err err, const char *what)
{
	if (err)
		die(what, err);
}

static void print_hex(const char *label, const uint8_t *p, size_t n)
{
	char line[65];
	printf("%s (%zu bytes):\n\n```\n", label, n);
	for (size_t i = 0; i < n; i += 32) {
		size_t k = n - i < 32 ? n - i : 32;
		hex_encode(p + i, k, line);
		printf("%s\n", line);
	}
	printf("```\n\n");
}

/* Moves every frame in wire to the peer; returns the last event. */
static enum chan_event deliver(struct chan *to, struct buf *wire, struct buf *reply,
			       struct buf *copy)
{
	enum chan_event ev = CHAN_EVENT_NONE;
	size_t off = 0, body;
	while (off < wire->len) {
		check(proto_frame_peek(wire->data + off, wire->len - off, PROTO_FRAME_MAX_DEFAULT,
				       &body), "frame");
		size_t n = PROTO_FRAME_HEADER_LEN + body;
		if (copy)
			check(buf_put_bytes(copy, wire->data + off, n), "copy");
		check(chan_recv_frame(to, wire->data + off, n, reply, &ev), "recv");
		off += n;
	}
	buf_reset(wire);
	return ev;
}

static void hkdf(const uint8_t *ikm, size_t ikm_len, const uint8_t salt[32], const char *label,
		 uint8_t out[32])
{
	check(crypto_hkdf_sha256(ikm, ikm_len, salt, 32, (const uint8_t *)label, strlen(label),
				 out, 32), "hkdf");
}

int main(int argc, char **argv)
{
	char path[4096];
	struct crypto_rsa_key *server_key, *client_key;
	struct chan *client, *server;
	struct buf c2s_wire, s2c_wire, ch_frame, sh_frame, ck_frame, welcome_rec, ping_rec;
	enum chan_event ev;

	if (argc != 2) {
		fprintf(stderr, "usage: handshake_example SOURCE_DIR\n");
		return 2;
	}
	check(crypto_init(), "init");
	snprintf(path, sizeof path, "%s/tests/data/example_server_key.pem", argv[1]);
	check(crypto_rsa_load_private_file(path, &server_key), "server key");
	snprintf(path, sizeof path, "%s/tests/data/example_client_key.pem", argv[1]);
	check(crypto_rsa_load_private_file(path, &client_key), "client key");
	buf_init(&c2s_wire, 0);
	buf_init(&s2c_wire, 0);
	buf_init(&ch_frame, 0);
	buf_init(&sh_frame, 0);
	buf_init(&ck_frame, 0);
	buf_init(&welcome_rec, 0);
	buf_init(&ping_rec, 0);

	/* The real handshake, by the channel code. */
	crypto_test_rng_seed((const uint8_t *)SEED, strlen(SEED));
	check(chan_client_new(client_key, "alice", PROTO_FRAME_MAX_DEFAULT, &client), "client");
	check(chan_server_new(server_key, PROTO_FRAME_MAX_DEFAULT, &server), "server");
	check(chan_client_start(client, &c2s_wire), "client hello");
	deliver(server, &c2s_wire, &s2c_wire, &ch_frame);
	ev = deliver(client, &s2c_wire, &c2s_wire, &sh_frame);
	if (ev != CHAN_EVENT_SERVER_KEY)
		die("server hello", CC_ERR_STATE);
	check(chan_client_continue(client, &c2s_wire), "client key");
	ev = deliver(server, &c2s_wire, &s2c_wire, &ck_frame);
	if (ev != CHAN_EVENT_OPEN)
		die("client key", CC_ERR_STATE);

	struct proto_msg welcome = {.type = PROTO_WELCOME};
	welcome.u.welcome.nick = proto_bytes_str("alice");
	memcpy(welcome.u.welcome.fingerprint, chan_peer_fingerprint(server), 32);
	welcome.u.welcome.server_time_ms = 1798761600000ull;  /* 2027-01-01T00:00:00Z */
	welcome.u.welcome.max_frame = PROTO_FRAME_MAX_DEFAULT;
	check(chan_send_msg(server, &welcome, &s2c_wire), "welcome");
	deliver(client, &s2c_wire, &c2s_wire, &welcome_rec);
	struct proto_msg ping = {.type = PROTO_PING};
	ping.u.ping.token = 42;
	check(chan_send_msg(client, &ping, &c2s_wire), "ping");
	deliver(server, &c2s_wire, &s2c_wire, &ping_rec);

	/* The same secrets again, from the document's rules alone. The random
	 * stream is replayed in the order the parties drew from it. */
	uint8_t c_eph_priv[32], c_random[32], s_eph_priv[32], s_random[32], c_ss_drawn[32];
	uint8_t pub[32], dh[32], ss[32], ikm[64];
	crypto_test_rng_seed((const uint8_t *)SEED, strlen(SEED));
	check(crypto_random_bytes(c_eph_priv, 32), "rng");
	check(crypto_random_bytes(c_random, 32), "rng");
	check(crypto_random_bytes(s_eph_priv, 32), "rng");
	check(crypto_random_bytes(s_random, 32), "rng");
	check(crypto_random_bytes(c_ss_drawn, 32), "rng");
	crypto_test_rng_restore();

	struct proto_msg chm, shm, ckm, auth;
	check(proto_msg_decode(ch_frame.data + 4, ch_frame.len - 4, &chm), "decode ch");
	check(proto_msg_decode(sh_frame.data + 4, sh_frame.len - 4, &shm), "decode sh");
	check(proto_msg_decode(ck_frame.data + 4, ck_frame.len - 4, &ckm), "decode ck");
	check(crypto_x25519_public(c_eph_priv, pub), "x25519");
	if (memcmp(pub, chm.u.client_hello.eph, 32))
		die("client ephemeral key does not match the replayed stream", CC_ERR_INTERNAL);
	check(crypto_x25519_public(s_eph_priv, pub), "x25519");
	if (memcmp(pub, shm.u.server_hello.eph, 32))
		die("server ephemeral key does not match the replayed stream", CC_ERR_INTERNAL);
	check(crypto_x25519_shared(c_eph_priv, shm.u.server_hello.eph, dh), "dh");

	/* The session secret, as the server reads it. */
	size_t ss_len;
	const char *oaep_label = "cryptocat/1 session secret";
	check(crypto_rsa_oaep_decrypt(server_key, (const uint8_t *)oaep_label, strlen(oaep_label),
				      ckm.u.client_key.session_ct.p,
				      ckm.u.client_key.session_ct.len, ss, sizeof ss, &ss_len),
	      "oaep");
	if (ss_len != 32 || memcmp(ss, c_ss_drawn, 32))
		die("session secret", CC_ERR_INTERNAL);
	memcpy(ikm, dh, 32);
	memcpy(ikm + 32, ss, 32);

	/* H_auth = SHA-256(CH frame || SH frame || bytes16(session_ct)). */
	struct buf t;
	uint8_t h_auth[32], k_auth[32], h_final[32], k_c2s[32], k_s2c[32];
	buf_init(&t, 0);
	check(buf_put_bytes(&t, ch_frame.data, ch_frame.len), "t");
	check(buf_put_bytes(&t, sh_frame.data, sh_frame.len), "t");
	check(buf_put_bytes16(&t, ckm.u.client_key.session_ct.p, ckm.u.client_key.session_ct.len),
	      "t");
	crypto_sha256(t.data, t.len, h_auth);
	hkdf(ikm, sizeof ikm, h_auth, "cryptocat/1 client auth", k_auth);
	size_t auth_len = ckm.u.client_key.sealed_auth.len - 16;
	uint8_t *auth_plain = malloc(auth_len);
	uint8_t zero_nonce[12] = {0};
	check(crypto_aead_open(k_auth, zero_nonce, h_auth, 32, ckm.u.client_key.sealed_auth.p,
			       ckm.u.client_key.sealed_auth.len, auth_plain), "open auth");
	check(proto_msg_decode(auth_plain, auth_len, &auth), "decode auth");

	/* The signed input: label || 0x00 || SHA-256(CH || SH || bytes16(session_ct)
	 * || bytes16(identity key) || bytes16(nick)). */
	uint8_t h_sig[32];
	struct buf sig_input;
	buf_init(&sig_input, 0);
	check(buf_put_bytes16(&t, auth.u.client_auth.identity_key.p,
			      auth.u.client_auth.identity_key.len), "t");
	check(buf_put_bytes16(&t, auth.u.client_auth.nick.p, auth.u.client_auth.nick.len), "t");
	crypto_sha256(t.data, t.len, h_sig);
	const char *sig_label = "cryptocat/1 client signature";
	check(buf_put_bytes(&sig_input, sig_label, strlen(sig_label) + 1), "sig");
	check(buf_put_bytes(&sig_input, h_sig, 32), "sig");
	check(crypto_rsa_pss_verify(client_key, sig_input.data, sig_input.len,
				    auth.u.client_auth.signature.p,
				    auth.u.client_auth.signature.len), "signature");

	/* Traffic keys: salt = SHA-256(CH || SH || CK frames). */
	buf_reset(&t);
	check(buf_put_bytes(&t, ch_frame.data, ch_frame.len), "t");
	check(buf_put_bytes(&t, sh_frame.data, sh_frame.len), "t");
	check(buf_put_bytes(&t, ck_frame.data, ck_frame.len), "t");
	crypto_sha256(t.data, t.len, h_final);
	hkdf(ikm, sizeof ikm, h_final, "cryptocat/1 c2s", k_c2s);
	hkdf(ikm, sizeof ikm, h_final, "cryptocat/1 s2c", k_s2c);

	/* Both records open under the recomputed keys with counter 0. */
	uint8_t plain[256];
	check(crypto_aead_open(k_s2c, zero_nonce, welcome_rec.data, 4, welcome_rec.data + 4,
			       welcome_rec.len - 4, plain), "welcome record");
	size_t welcome_plain_len = welcome_rec.len - 4 - 16;
	check(crypto_aead_open(k_c2s, zero_nonce, ping_rec.data, 4, ping_rec.data + 4,
			       ping_rec.len - 4, plain + 128), "ping record");
	size_t ping_plain_len = ping_rec.len - 4 - 16;

	printf("<!-- BEGIN WORKED EXAMPLE: generated by tools/handshake_example.c; "
	       "tests/test_protocol_doc.c checks it -->\n\n");
	printf("Random bytes come from SHA-256 counter mode seeded with \"%s\"; the keys are "
	       "`tests/data/example_server_key.pem` and `tests/data/example_client_key.pem` "
	       "(RSA-2048). The client registers the nickname `alice`.\n\n", SEED);
	printf("#### Values each side draws\n\n");
	print_hex("Client ephemeral X25519 private key", c_eph_priv, 32);
	print_hex("Client random", c_random, 32);
	print_hex("Server ephemeral X25519 private key", s_eph_priv, 32);
	print_hex("Server random", s_random, 32);
	print_hex("Session secret (client)", ss, 32);
	printf("#### Messages on the wire (each a whole frame: length, then body)\n\n");
	print_hex("CLIENT_HELLO frame", ch_frame.data, ch_frame.len);
	print_hex("SERVER_HELLO frame", sh_frame.data, sh_frame.len);
	print_hex("CLIENT_KEY frame", ck_frame.data, ck_frame.len);
	printf("#### Derived values\n\n");
	print_hex("dh = X25519(client eph, server eph)", dh, 32);
	print_hex("H_auth", h_auth, 32);
	print_hex("K_auth", k_auth, 32);
	print_hex("CLIENT_AUTH (the plaintext of sealed_auth)", auth_plain, auth_len);
	print_hex("Signed input (label, 0x00, H_sig)", sig_input.data, sig_input.len);
	print_hex("H_final", h_final, 32);
	print_hex("K_c2s", k_c2s, 32);
	print_hex("K_s2c", k_s2c, 32);
	printf("#### First records\n\n");
	print_hex("WELCOME plaintext (inner frame)", plain, welcome_plain_len);
	print_hex("WELCOME record, server to client, counter 0", welcome_rec.data,
		  welcome_rec.len);
	print_hex("PING plaintext (inner frame, token 42)", plain + 128, ping_plain_len);
	print_hex("PING record, client to server, counter 0", ping_rec.data, ping_rec.len);
	printf("<!-- END WORKED EXAMPLE -->\n");

	mem_wipe(auth_plain, auth_len);
	free(auth_plain);
	buf_free(&t);
	buf_free(&sig_input);
	buf_free(&c2s_wire);
	buf_free(&s2c_wire);
	buf_free(&ch_frame);
	buf_free(&sh_frame);
	buf_free(&ck_frame);
	buf_free(&welcome_rec);
	buf_free(&ping_rec);
	chan_free(client);
	chan_free(server);
	crypto_rsa_free(server_key);
	crypto_rsa_free(client_key);
	return 0;
}
