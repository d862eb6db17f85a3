/* Prints the worked example of docs/PROTOCOL.md: one handshake and one record
 * each way, made with a deterministic random generator and the example keys
 * in tests/data, every message in hex. The block it prints is meant to be
 * enough on its own: it defines the generator, lists every request the
 * handshake makes of it (traced from the real run, so the list cannot drift
 * from the code), and prints both keys.
 *
 * It is also a second, independent implementation of the key schedule: it
 * recomputes every secret from the document's rules (not from the channel's
 * code), re-derives every drawn value from its own copy of the generator,
 * redoes the RSA-OAEP encryption and the RSA-PSS signature from the drawn
 * seed and salt (RFC 8017 encodings written out here, RSA used raw), and
 * checks that all of it matches what the channel really produced. If the
 * document and the code ever disagree, this program fails.
 *
 * Usage: handshake_example SOURCE_DIR > block.md */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "crypto/crypto.h"
#include "crypto/rng_test.h"
#include "proto/frame.h"
#include "proto/msg.h"
#include "transport/chan.h"
#include "util/buf.h"

#include "rfc8017.h"

#define SEED "cryptocat worked example"
#define SEED_LEN (sizeof SEED - 1)
#define PEM_MAX 8192
#define MAX_DRAWS 64
/* The example shows a proof of work: small, so that it takes no time. */
#define PUZZLE_BITS 8
#define PUZZLE_LABEL "cryptocat/1 puzzle"

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

static void fail(const char *what)
{
	fprintf(stderr, "handshake_example: %s\n", what);
	exit(1);
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

/* ---- The random generator, as the document defines it ------------------ */

/* Block i is SHA-256(SEED || u64be(i)); a request of n bytes starting at
 * block first takes ceil(n / 32) blocks and drops the rest of the last. */
static void gen_request(uint64_t first, size_t n, uint8_t *out)
{
	uint8_t in[SEED_LEN + 8], block[32];
	memcpy(in, SEED, SEED_LEN);
	for (size_t off = 0; off < n; off += 32, first++) {
		for (int b = 0; b < 8; b++)
			in[SEED_LEN + b] = (uint8_t)(first >> (56 - 8 * b));
		crypto_sha256(in, sizeof in, block);
		memcpy(out + off, block, n - off < 32 ? n - off : 32);
	}
}

static uint64_t blocks_for(size_t n)
{
	return (n + 31) / 32;
}

/* ---- The trace of the real run ----------------------------------------- */

enum phase {
	PH_SETUP,
	PH_CLIENT_HELLO,
	PH_SERVER_HELLO,
	PH_CLIENT_READS_SH,
	PH_CLIENT_KEY,
	PH_SERVER_READS_CK,
	PH_RECORDS,
};

static const char *const phase_name[] = {
	[PH_SETUP] = "setup",
	[PH_CLIENT_HELLO] = "client, making CLIENT_HELLO",
	[PH_SERVER_HELLO] = "server, making SERVER_HELLO",
	[PH_CLIENT_READS_SH] = "client, reading SERVER_HELLO",
	[PH_CLIENT_KEY] = "client, making CLIENT_KEY",
	[PH_SERVER_READS_CK] = "server, reading CLIENT_KEY",
	[PH_RECORDS] = "first records",
};

struct draw {
	size_t len;
	uint64_t first;
	enum phase phase;
	int role;
};

static struct draw draws[MAX_DRAWS];
static size_t n_draws;
static int draws_lost;
static enum phase cur_phase;

static void on_draw(void *arg, size_t len, uint64_t first)
{
	(void)arg;
	if (n_draws == MAX_DRAWS) {
		draws_lost = 1;
		return;
	}
	draws[n_draws++] = (struct draw){.len = len, .first = first, .phase = cur_phase,
					 .role = -1};
}

/* What a request is for, found by its content (or, for OpenSSL's blinding,
 * by its size and place), never by its position alone. */
enum role {
	R_CLIENT_EPH,
	R_CLIENT_RANDOM,
	R_SERVER_EPH,
	R_SERVER_RANDOM,
	R_SESSION_SECRET,
	R_OAEP_SEED,
	R_PSS_SALT,
	R_BLIND_CLIENT,
	R_BLIND_SERVER,
	R_COUNT
};

static const struct {
	enum phase phase;
	int repeatable;  /* any number of requests (OpenSSL's choice), else exactly one */
	const char *use;
	const char *label;
} roles[R_COUNT] = {
	[R_CLIENT_EPH] = {PH_CLIENT_HELLO, 0,
			  "client ephemeral X25519 private key (public: `client_eph`)",
			  "Client ephemeral X25519 private key"},
	[R_CLIENT_RANDOM] = {PH_CLIENT_HELLO, 0, "`client_random`", "Client random"},
	[R_SERVER_EPH] = {PH_SERVER_HELLO, 0,
			  "server ephemeral X25519 private key (public: `server_eph`)",
			  "Server ephemeral X25519 private key"},
	[R_SERVER_RANDOM] = {PH_SERVER_HELLO, 0, "`server_random`", "Server random"},
	[R_SESSION_SECRET] = {PH_CLIENT_KEY, 0, "`session_secret`", "Session secret"},
	[R_OAEP_SEED] = {PH_CLIENT_KEY, 0, "RSA-OAEP seed for `session_ct`",
			 "RSA-OAEP seed of `session_ct`"},
	[R_PSS_SALT] = {PH_CLIENT_KEY, 0, "RSA-PSS salt for `signature`",
			"RSA-PSS salt of `signature`"},
	[R_BLIND_CLIENT] = {PH_CLIENT_KEY, 1,
			    "*blinding* (OpenSSL, client key's private operation: the signature)",
			    NULL},
	[R_BLIND_SERVER] = {PH_SERVER_READS_CK, 1,
			    "*blinding* (OpenSSL, server key's private operation: OAEP decryption)",
			    NULL},
};

/* ---- Keys --------------------------------------------------------------- */

static size_t read_text(const char *path, char *text, size_t cap)
{
	FILE *f = fopen(path, "rb");
	size_t n;
	if (!f)
		die(path, CC_ERR_NOT_FOUND);
	n = fread(text, 1, cap, f);
	if (ferror(f) || n == cap || n == 0)
		die(path, CC_ERR_IO);
	fclose(f);
	if (text[n - 1] != '\n' || memchr(text, '`', n))
		fail("key file: unexpected layout");
	return n;
}

/* The same PEM, read by OpenSSL directly, for the raw RSA operations. */
static EVP_PKEY *evp_from_pem(const char *text, size_t len)
{
	BIO *bio = BIO_new_mem_buf(text, (int)len);
	EVP_PKEY *pk = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
	BIO_free(bio);
	if (!pk || !EVP_PKEY_is_a(pk, "RSA") || EVP_PKEY_get_size(pk) > RSA_MAX)
		fail("key: not an RSA private key");
	return pk;
}

static void print_key(const char *who, const char *file, const char *pem, size_t pem_len,
		      const struct crypto_rsa_key *key)
{
	uint8_t fp[CRYPTO_FINGERPRINT_LEN];
	char fp_hex[2 * CRYPTO_FINGERPRINT_LEN + 1];
	check(crypto_rsa_fingerprint(key, fp), "fingerprint");
	hex_encode(fp, sizeof fp, fp_hex);
	printf("%s, RSA-%u, PKCS#8 PEM (`%s`); fingerprint `%s`:\n\n```\n%.*s```\n\n", who,
	       crypto_rsa_bits(key), file, fp_hex, (int)pem_len, pem);
}

static int x25519_matches(const uint8_t *priv, size_t n, const uint8_t pub_expected[32])
{
	uint8_t pub[32];
	return n == 32 && crypto_x25519_public(priv, pub) == CC_OK && !memcmp(pub, pub_expected, 32);
}

/* A size OpenSSL's BN_priv_rand_range would ask for, for a range of the
 * modulus: bits or bits + 1 random bits, in whole bytes. */
static int blinding_size(size_t n, const EVP_PKEY *pk)
{
	size_t bits = (size_t)EVP_PKEY_get_bits(pk);
	return n == (bits + 7) / 8 || n == (bits + 8) / 8;
}

int main(int argc, char **argv)
{
	char path[4096], server_pem[PEM_MAX], client_pem[PEM_MAX];
	size_t server_pem_len, client_pem_len;
	struct crypto_rsa_key *server_key, *client_key;
	EVP_PKEY *server_pk, *client_pk;
	struct chan *client, *server;
	struct buf c2s_wire, s2c_wire, ch_frame, sh_frame, ck_frame, welcome_rec, ping_rec;
	enum chan_event ev;

	if (argc != 2) {
		fprintf(stderr, "usage: handshake_example SOURCE_DIR\n");
		return 2;
	}
	check(crypto_init(), "init");
	snprintf(path, sizeof path, "%s/tests/data/example_server_key.pem", argv[1]);
	server_pem_len = read_text(path, server_pem, sizeof server_pem);
	check(crypto_rsa_private_from_pem(server_pem, server_pem_len, &server_key), "server key");
	server_pk = evp_from_pem(server_pem, server_pem_len);
	snprintf(path, sizeof path, "%s/tests/data/example_client_key.pem", argv[1]);
	client_pem_len = read_text(path, client_pem, sizeof client_pem);
	check(crypto_rsa_private_from_pem(client_pem, client_pem_len, &client_key), "client key");
	client_pk = evp_from_pem(client_pem, client_pem_len);
	buf_init(&c2s_wire, 0);
	buf_init(&s2c_wire, 0);
	buf_init(&ch_frame, 0);
	buf_init(&sh_frame, 0);
	buf_init(&ck_frame, 0);
	buf_init(&welcome_rec, 0);
	buf_init(&ping_rec, 0);

	/* The real handshake, by the channel code, with every request made of
	 * the generator traced. */
	crypto_test_rng_seed((const uint8_t *)SEED, SEED_LEN);
	crypto_test_rng_set_trace(on_draw, NULL);
	cur_phase = PH_SETUP;
	check(chan_client_new(client_key, "alice", PROTO_FRAME_MAX_DEFAULT, &client), "client");
	check(chan_server_new(server_key, PROTO_FRAME_MAX_DEFAULT, &server), "server");
	chan_server_set_puzzle(server, PUZZLE_BITS);
	cur_phase = PH_CLIENT_HELLO;
	check(chan_client_start(client, &c2s_wire), "client hello");
	cur_phase = PH_SERVER_HELLO;
	deliver(server, &c2s_wire, &s2c_wire, &ch_frame);
	cur_phase = PH_CLIENT_READS_SH;
	ev = deliver(client, &s2c_wire, &c2s_wire, &sh_frame);
	if (ev != CHAN_EVENT_SERVER_KEY)
		die("server hello", CC_ERR_STATE);
	cur_phase = PH_CLIENT_KEY;
	check(chan_client_continue(client, &c2s_wire), "client key");
	cur_phase = PH_SERVER_READS_CK;
	ev = deliver(server, &c2s_wire, &s2c_wire, &ck_frame);
	if (ev != CHAN_EVENT_OPEN)
		die("client key", CC_ERR_STATE);

	cur_phase = PH_RECORDS;
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
	crypto_test_rng_restore();  /* ends the trace too */
	if (draws_lost)
		fail("more requests of the generator than the trace holds");

	/* The generator as the document defines it: request j starts at the
	 * block after request j - 1's last, from block 0. */
	uint64_t next_block = 0;
	for (size_t i = 0; i < n_draws; i++) {
		if (draws[i].first != next_block)
			fail("a request did not start at the next unused block");
		next_block += blocks_for(draws[i].len);
	}

	struct proto_msg chm, shm, ckm, auth;
	check(proto_msg_decode(ch_frame.data + 4, ch_frame.len - 4, &chm), "decode ch");
	check(proto_msg_decode(sh_frame.data + 4, sh_frame.len - 4, &shm), "decode sh");
	check(proto_msg_decode(ck_frame.data + 4, ck_frame.len - 4, &ckm), "decode ck");

	/* The keys on the wire are the example keys. */
	uint8_t fp[32], fp_wire[32];
	check(crypto_rsa_fingerprint(server_key, fp), "fingerprint");
	crypto_sha256(shm.u.server_hello.server_key.p, shm.u.server_hello.server_key.len, fp_wire);
	if (memcmp(fp, fp_wire, 32) || memcmp(fp, chan_peer_fingerprint(client), 32))
		fail("SERVER_HELLO does not carry the example server key");

	/* The puzzle, from the document's rule: the challenge is SHA-256 of the
	 * two hello frames, and SHA-256(label || challenge || u64(nonce)) starts
	 * with PUZZLE_BITS zero bits. This client tries nonces from 0 up, so no
	 * smaller one solves it. */
	uint8_t challenge[32], puzzle_in[sizeof PUZZLE_LABEL - 1 + 32 + 8], puzzle_hash[32];
	uint64_t puzzle_nonce = ckm.u.client_key.puzzle_nonce;
	struct buf hellos;
	buf_init(&hellos, 0);
	check(buf_put_bytes(&hellos, ch_frame.data, ch_frame.len), "hellos");
	check(buf_put_bytes(&hellos, sh_frame.data, sh_frame.len), "hellos");
	crypto_sha256(hellos.data, hellos.len, challenge);
	buf_free(&hellos);
	if (shm.u.server_hello.puzzle_bits != PUZZLE_BITS)
		fail("SERVER_HELLO does not ask for the example's puzzle");
	memcpy(puzzle_in, PUZZLE_LABEL, sizeof PUZZLE_LABEL - 1);
	memcpy(puzzle_in + sizeof PUZZLE_LABEL - 1, challenge, 32);
	for (uint64_t n = 0; n <= puzzle_nonce; n++) {
		uint8_t *be = puzzle_in + sizeof PUZZLE_LABEL - 1 + 32;
		for (int b = 0; b < 8; b++)
			be[b] = (uint8_t)(n >> (56 - 8 * b));
		crypto_sha256(puzzle_in, sizeof puzzle_in, puzzle_hash);
		int zeros = 0;
		while (zeros < 256 && !(puzzle_hash[zeros / 8] & (0x80 >> (zeros % 8))))
			zeros++;
		if ((zeros >= PUZZLE_BITS) != (n == puzzle_nonce))
			fail(n == puzzle_nonce ? "the puzzle nonce does not solve the puzzle"
					       : "a smaller nonce solves the puzzle");
	}

	/* session_ct, opened independently: raw RSA with the server key, then
	 * EME-OAEP decoding, which also yields the seed. */
	const char *oaep_label = "cryptocat/1 session secret";
	size_t ks = (size_t)EVP_PKEY_get_size(server_pk);
	const uint8_t *session_ct = ckm.u.client_key.session_ct.p;
	uint8_t oaep_em[RSA_MAX], em_work[RSA_MAX], ct_again[RSA_MAX], oaep_seed[HLEN], ss[32];
	const uint8_t *m;
	if (ckm.u.client_key.session_ct.len != ks)
		fail("session_ct is not k bytes long");
	rsa_raw(server_pk, 1, session_ct, em_work, ks);
	if (oaep_decode(ks, oaep_label, em_work, oaep_seed, &m) != 32)
		fail("session secret is not 32 bytes");
	memcpy(ss, m, 32);
	/* The other way: EME-OAEP of the secret with that seed, to the power e,
	 * is session_ct byte for byte. */
	oaep_encode(ks, oaep_label, ss, 32, oaep_seed, oaep_em);
	rsa_raw(server_pk, 0, oaep_em, ct_again, ks);
	if (memcmp(ct_again, session_ct, ks))
		fail("RSA-OAEP re-encryption with the recovered seed differs from session_ct");
	/* And OpenSSL's own OAEP decryption agrees. */
	uint8_t ss_openssl[32];
	size_t ss_len;
	check(crypto_rsa_oaep_decrypt(server_key, (const uint8_t *)oaep_label, strlen(oaep_label),
				      session_ct, ks, ss_openssl, sizeof ss_openssl, &ss_len),
	      "oaep");
	if (ss_len != 32 || memcmp(ss, ss_openssl, 32))
		fail("session secret: the two decryptions differ");

	uint8_t dh[32], ikm[64], c_eph_priv[32] = {0};
	int have_c_eph = 0;

	/* H_auth = SHA-256(CH frame || SH frame || u64(puzzle_nonce) ||
	 * bytes16(session_ct)). */
	struct buf t;
	uint8_t h_auth[32], k_auth[32], h_final[32], k_c2s[32], k_s2c[32];
	buf_init(&t, 0);
	check(buf_put_bytes(&t, ch_frame.data, ch_frame.len), "t");
	check(buf_put_bytes(&t, sh_frame.data, sh_frame.len), "t");
	check(buf_put_u64(&t, puzzle_nonce), "t");
	check(buf_put_bytes16(&t, session_ct, ks), "t");
	crypto_sha256(t.data, t.len, h_auth);

	/* Every request, explained by its content: the drawn bytes (from this
	 * program's own generator) must be the values the handshake used. */
	uint8_t *drawn[MAX_DRAWS];
	size_t role_count[R_COUNT] = {0};
	for (size_t i = 0; i < n_draws; i++) {
		const uint8_t *v;
		size_t n = draws[i].len;
		if (!(drawn[i] = malloc(n ? n : 1)))
			die("draw", CC_ERR_NOMEM);
		gen_request(draws[i].first, n, drawn[i]);
		v = drawn[i];
		for (int r = 0; r < R_COUNT && draws[i].role < 0; r++) {
			int hit;
			if (roles[r].phase != draws[i].phase ||
			    (!roles[r].repeatable && role_count[r]))
				continue;
			switch (r) {
			case R_CLIENT_EPH:
				hit = x25519_matches(v, n, chm.u.client_hello.eph);
				break;
			case R_CLIENT_RANDOM:
				hit = n == 32 && !memcmp(v, chm.u.client_hello.random, 32);
				break;
			case R_SERVER_EPH:
				hit = x25519_matches(v, n, shm.u.server_hello.eph);
				break;
			case R_SERVER_RANDOM:
				hit = n == 32 && !memcmp(v, shm.u.server_hello.random, 32);
				break;
			case R_SESSION_SECRET:
				hit = n == 32 && !memcmp(v, ss, 32);
				break;
			case R_OAEP_SEED:
				hit = n == HLEN && !memcmp(v, oaep_seed, HLEN);
				break;
			case R_PSS_SALT:
				hit = 0;  /* below, once CLIENT_AUTH is open */
				break;
			case R_BLIND_CLIENT:
				hit = blinding_size(n, client_pk);
				break;
			case R_BLIND_SERVER:
				hit = blinding_size(n, server_pk);
				break;
			default:
				hit = 0;
			}
			if (hit) {
				draws[i].role = r;
				role_count[r]++;
			}
		}
		if (draws[i].role == R_CLIENT_EPH) {
			memcpy(c_eph_priv, v, 32);
			have_c_eph = 1;
		}
	}
	if (!have_c_eph)
		fail("no request gave the client's ephemeral key");
	check(crypto_x25519_shared(c_eph_priv, shm.u.server_hello.eph, dh), "dh");
	memcpy(ikm, dh, 32);
	memcpy(ikm + 32, ss, 32);

	hkdf(ikm, sizeof ikm, h_auth, "cryptocat/1 client auth", k_auth);
	size_t auth_len = ckm.u.client_key.sealed_auth.len - 16;
	uint8_t *auth_plain = malloc(auth_len);
	uint8_t zero_nonce[12] = {0};
	if (!auth_plain)
		die("auth", CC_ERR_NOMEM);
	check(crypto_aead_open(k_auth, zero_nonce, h_auth, 32, ckm.u.client_key.sealed_auth.p,
			       ckm.u.client_key.sealed_auth.len, auth_plain), "open auth");
	check(proto_msg_decode(auth_plain, auth_len, &auth), "decode auth");
	check(crypto_rsa_fingerprint(client_key, fp), "fingerprint");
	crypto_sha256(auth.u.client_auth.identity_key.p, auth.u.client_auth.identity_key.len,
		      fp_wire);
	if (memcmp(fp, fp_wire, 32) || memcmp(fp, chan_peer_fingerprint(server), 32))
		fail("CLIENT_AUTH does not carry the example client key");

	/* The signed input: label || 0x00 || SHA-256(CH || SH || u64(puzzle_nonce)
	 * || bytes16(session_ct) || bytes16(identity key) || bytes16(nick)). */
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

	/* The salt, recovered from the signature: raw RSA with the client's
	 * public key, then EMSA-PSS decoding. Then the signature made again from
	 * the document's rules, that salt and raw RSA with the private key: the
	 * same bytes, so the blinding OpenSSL drew changed nothing. */
	size_t kc = (size_t)EVP_PKEY_get_size(client_pk);
	size_t em_bits = (size_t)EVP_PKEY_get_bits(client_pk) - 1;
	size_t em_len = (em_bits + 7) / 8, lead = kc - em_len;
	const uint8_t *sig = auth.u.client_auth.signature.p;
	uint8_t mhash[HLEN], sig_em[RSA_MAX], pss_em[RSA_MAX], sig_again[RSA_MAX], pss_salt[HLEN];
	if (auth.u.client_auth.signature.len != kc || lead > 1)
		fail("signature is not k bytes long");
	crypto_sha256(sig_input.data, sig_input.len, mhash);
	rsa_raw(client_pk, 0, sig, sig_em, kc);
	if (lead && sig_em[0])
		fail("pss: encoded message too long");
	pss_recover_salt(mhash, sig_em + lead, em_bits, pss_salt);
	memset(pss_em, 0, kc);
	pss_encode(mhash, pss_salt, em_bits, pss_em + lead);
	if (memcmp(pss_em, sig_em, kc))
		fail("EMSA-PSS encoding with the recovered salt differs");
	rsa_raw(client_pk, 1, pss_em, sig_again, kc);
	if (memcmp(sig_again, sig, kc))
		fail("RSA-PSS signature made again differs");
	for (size_t i = 0; i < n_draws; i++) {
		if (draws[i].role >= 0 || draws[i].phase != roles[R_PSS_SALT].phase ||
		    role_count[R_PSS_SALT] || draws[i].len != HLEN ||
		    memcmp(drawn[i], pss_salt, HLEN))
			continue;
		draws[i].role = R_PSS_SALT;
		role_count[R_PSS_SALT]++;
	}
	/* Every request explained, every value found exactly once. */
	for (size_t i = 0; i < n_draws; i++) {
		if (draws[i].role < 0) {
			fprintf(stderr, "handshake_example: request %zu (%zu bytes, block %llu, %s) "
					"is not one the example explains\n", i + 1, draws[i].len,
				(unsigned long long)draws[i].first, phase_name[draws[i].phase]);
			exit(1);
		}
	}
	for (int r = 0; r < R_COUNT; r++) {
		if (!roles[r].repeatable && role_count[r] != 1) {
			fprintf(stderr, "handshake_example: no request gave the %s\n", roles[r].use);
			exit(1);
		}
	}

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
	printf("Everything below can be recomputed from this section and sections 1 to 5: the "
	       "random generator, every request the handshake makes of it, and both keys are "
	       "given here. The client registers the nickname `alice`; the server asks for a "
	       "proof of work of %d bits.\n\n", PUZZLE_BITS);

	printf("#### Random generator\n\n");
	printf("Block `i` (`i` = 0, 1, 2, ...) is `SHA-256(seed || u64(i))`, where `seed` is "
	       "the %zu ASCII bytes `%s` (no terminating NUL) and `u64(i)` is `i` as 8 bytes, "
	       "big-endian. Blocks are used in order, starting with block 0. A request for `n` "
	       "bytes starts at the next unused block, takes `ceil(n / 32)` whole blocks, and "
	       "returns their first `n` bytes; the rest of its last block is discarded, and "
	       "the next request starts at the block after. So the bytes a request gets "
	       "depend only on its size and its first block.\n\n", SEED_LEN, SEED);

	printf("#### Requests made of the generator\n\n");
	printf("Every request of the example, in order (traced from the real run):\n\n");
	printf("| # | made by | bytes | blocks | use |\n");
	printf("| --- | --- | --- | --- | --- |\n");
	size_t n_blinding = 0;
	for (size_t i = 0; i < n_draws; i++) {
		uint64_t last = draws[i].first + blocks_for(draws[i].len);
		char blocks[64];
		if (last <= draws[i].first + 1)
			snprintf(blocks, sizeof blocks, "%llu",
				 (unsigned long long)draws[i].first);
		else
			snprintf(blocks, sizeof blocks, "%llu to %llu",
				 (unsigned long long)draws[i].first,
				 (unsigned long long)(last - 1));
		printf("| %zu | %s | %zu | %s | %s |\n", i + 1, phase_name[draws[i].phase],
		       draws[i].len, blocks, roles[draws[i].role].use);
		if (roles[draws[i].role].repeatable)
			n_blinding++;
	}
	printf("\n");
	if (n_blinding)
		printf("The *blinding* requests are made by OpenSSL inside an RSA private-key "
		       "operation: a random `r` hides the operation's timing, and the result, "
		       "`(x * r^e)^d * r^-1 mod n`, is `x^d mod n` whatever `r` is. They affect no "
		       "byte of the example, and a reimplementation need not reproduce them; they "
		       "only use up blocks, which is why each request's first block is given. "
		       "(`tools/handshake_example.c` checks this: the signature equals "
		       "`EM^d mod n`, computed apart from the handshake.)\n\n");

	printf("#### Keys\n\n");
	print_key("Server key", "tests/data/example_server_key.pem", server_pem, server_pem_len,
		  server_key);
	print_key("Client identity key", "tests/data/example_client_key.pem", client_pem,
		  client_pem_len, client_key);

	printf("#### Values drawn\n\n");
	for (size_t i = 0; i < n_draws; i++) {
		char label[160];
		const char *name = roles[draws[i].role].label;
		if (!name)
			continue;
		snprintf(label, sizeof label, "%s, request %zu, block %llu", name, i + 1,
			 (unsigned long long)draws[i].first);
		print_hex(label, drawn[i], draws[i].len);
	}

	printf("#### Messages on the wire (each a whole frame: length, then body)\n\n");
	print_hex("CLIENT_HELLO frame", ch_frame.data, ch_frame.len);
	print_hex("SERVER_HELLO frame", sh_frame.data, sh_frame.len);
	print_hex("CLIENT_KEY frame", ck_frame.data, ck_frame.len);
	printf("#### Derived values\n\n");
	print_hex("Puzzle challenge = SHA-256(CLIENT_HELLO frame || SERVER_HELLO frame)", challenge,
		  32);
	printf("The server asks for %d bits. The client tries `puzzle_nonce` = 0, 1, 2, ...; "
	       "the first whose hash starts with %d zero bits is %llu (`%016llx` in "
	       "CLIENT_KEY):\n\n", PUZZLE_BITS, PUZZLE_BITS, (unsigned long long)puzzle_nonce,
	       (unsigned long long)puzzle_nonce);
	print_hex("SHA-256(\"" PUZZLE_LABEL "\" || challenge || u64(puzzle_nonce))", puzzle_hash,
		  32);
	print_hex("dh = X25519(client eph, server eph)", dh, 32);
	print_hex("EME-OAEP encoding of the session secret, `0x00 || maskedSeed || maskedDB` "
		  "(`session_ct` is this to the power e, mod n)", oaep_em, ks);
	print_hex("H_auth", h_auth, 32);
	print_hex("K_auth", k_auth, 32);
	print_hex("Signed input (label, 0x00, H_sig)", sig_input.data, sig_input.len);
	print_hex("EMSA-PSS encoding of the signed input, `maskedDB || H || 0xbc`, left-padded "
		  "to the modulus size (`signature` is this to the power d, mod n)", pss_em, kc);
	print_hex("CLIENT_AUTH (the plaintext of sealed_auth)", auth_plain, auth_len);
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
	if (fflush(stdout) != 0 || ferror(stdout))
		fail("write error");

	for (size_t i = 0; i < n_draws; i++) {
		mem_wipe(drawn[i], draws[i].len);
		free(drawn[i]);
	}
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
	EVP_PKEY_free(server_pk);
	EVP_PKEY_free(client_pk);
	crypto_rsa_free(server_key);
	crypto_rsa_free(client_key);
	return 0;
}
