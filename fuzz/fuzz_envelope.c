/* Fuzz target: room message envelopes (proto/room.h) and opening them
 * (e2e_message_open, e2e/e2e.h).
 *
 * The input is one encoded envelope. proto_envelope_decode must not crash;
 * when it accepts, the codec is canonical (re-encoding gives the input), and
 * the header and signed_part views are exactly what encode_header and
 * encode_unsigned write. Then the envelope is opened with a fixed signing
 * key and room key: it must not crash, must answer CC_OK, CC_ERR_AUTH or
 * CC_ERR_MALFORMED, and when it opens, the text is UTF-8 of the right length
 * and the same envelope fails under another signer or another room key.
 *
 * Seeds (fuzz/corpus/envelope): messages sealed with that fixed key, so they
 * open (an empty text, whose ciphertext is only the tag; ASCII; multi-byte
 * UTF-8; the longest text; a 32-byte sender), and near misses (text not
 * UTF-8, another signer, a flipped ciphertext bit). The nonce is the only random
 * draw, made under a fixed seed, so the seeds are the same on every run.
 * Regenerate them with
 *
 *	CC_FUZZ_GEN_SEEDS=fuzz/corpus/envelope build-fuzz/fuzz_envelope
 *
 * which writes them and exits; see fuzz/README.md. */
#define FUZZ_NAME "fuzz_envelope"
#include "fuzz_common.h"

#include "crypto/crypto.h"
#include "e2e/e2e.h"
#include "proto/msg.h"
#include "proto/room.h"

static const char seeds_seed[] = "cryptocat fuzz_envelope seeds";

/* The sender's signing seed and the room key are fixed bytes; other_* are
 * the wrong ones. */
static uint8_t sign_seed[CRYPTO_ED25519_SEED_LEN], sign_pub[CRYPTO_ED25519_PUB_LEN];
static uint8_t other_seed[CRYPTO_ED25519_SEED_LEN], other_pub[CRYPTO_ED25519_PUB_LEN];
static uint8_t room_key[E2E_KEY_LEN], other_key[E2E_KEY_LEN];
static uint8_t text[PROTO_TEXT_MAX];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proto_envelope env;
	struct buf out;
	size_t n = SIZE_MAX;

	cc_err err = proto_envelope_decode(data, size, &env);
	if (err != CC_OK) {
		CHECK(err > CC_OK && err < CC_ERR_COUNT_);
		return 0;
	}

	/* Canonical, and the views cover exactly what the encoders write. */
	buf_init(&out, 0);
	CHECK(proto_envelope_encode(&env, &out) == CC_OK);
	CHECK(out.len == size && memcmp(out.data, data, size) == 0);
	buf_reset(&out);
	CHECK(proto_envelope_encode_header(&env, &out) == CC_OK);
	CHECK(env.header.p == data && env.header.len == out.len);
	CHECK(memcmp(out.data, data, out.len) == 0);
	buf_reset(&out);
	CHECK(proto_envelope_encode_unsigned(&env, &out) == CC_OK);
	CHECK(env.signed_part.p == data && env.signed_part.len == out.len);
	CHECK(out.len == size - PROTO_SIG_LEN && memcmp(out.data, data, out.len) == 0);
	buf_free(&out);
	CHECK(env.ciphertext.len >= CRYPTO_AEAD_TAG_LEN &&
	      env.ciphertext.len <= PROTO_TEXT_MAX + CRYPTO_AEAD_TAG_LEN);

	err = e2e_message_open(sign_pub, room_key, &env, text, &n);
	if (err != CC_OK) {
		CHECK(err == CC_ERR_AUTH || err == CC_ERR_MALFORMED);
		return 0;
	}
	CHECK(n == env.ciphertext.len - CRYPTO_AEAD_TAG_LEN);
	CHECK(proto_utf8_valid(text, n));
	/* Bound to its signer and its key. */
	CHECK(e2e_message_open(other_pub, room_key, &env, text, &n) == CC_ERR_AUTH);
	CHECK(e2e_message_open(sign_pub, other_key, &env, text, &n) == CC_ERR_AUTH);
	return 0;
}

/* ---- seed generation (CC_FUZZ_GEN_SEEDS=dir) ---- */

/* Seals text from sender (with seed), checks how the fixed keys open it,
 * and writes it; flip, if not 0, is XORed into the last ciphertext byte
 * first. */
static void gen_env(const char *dir, const char *name, const char *sender,
		    const uint8_t seed[CRYPTO_ED25519_SEED_LEN], const void *msg, size_t len,
		    uint8_t flip, cc_err want)
{
	struct proto_envelope env;
	struct buf b;
	size_t n;

	memset(&env, 0, sizeof env);
	memcpy(env.room_id, "fuzz_envelope!!!", PROTO_ROOM_ID_LEN);
	env.epoch = 3;
	env.sender = proto_bytes_str(sender);
	env.seq = 42;
	env.time_ms = 1700000000000ull;
	buf_init(&b, 0);
	fuzz_must(e2e_message_seal(seed, room_key, &env, msg, len, &b), name);
	b.data[b.len - PROTO_SIG_LEN - 1] ^= flip;
	fuzz_must(proto_envelope_decode(b.data, b.len, &env), name);
	cc_err err = e2e_message_open(sign_pub, room_key, &env, text, &n);
	if (err != want) {
		fprintf(stderr, "fuzz_envelope seeds: %s opens with %s, wanted %s\n", name,
			cc_err_str(err), cc_err_str(want));
		exit(1);
	}
	fuzz_write_buf(dir, name, &b);
	buf_free(&b);
}

static void gen_seeds(const char *dir)
{
	static uint8_t longest[PROTO_TEXT_MAX];
	static const char utf8[] = "na\xc3\xafve caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x90\xb1";

	for (size_t i = 0; i < sizeof longest; i++)
		longest[i] = (uint8_t)(' ' + i % 95);
	fuzz_rng_seed_str(seeds_seed);
	gen_env(dir, "empty", "alice", sign_seed, "", 0, 0, CC_OK);
	gen_env(dir, "hello", "alice", sign_seed, "hello", 5, 0, CC_OK);
	gen_env(dir, "utf8", "alice", sign_seed, utf8, sizeof utf8 - 1, 0, CC_OK);
	gen_env(dir, "longest", "alice", sign_seed, longest, sizeof longest, 0, CC_OK);
	gen_env(dir, "sender32", "AZaz09_.-abcdefghijklmnopqrstuvw", sign_seed, "hi", 2, 0,
		CC_OK);
	/* Near misses: each stops at a different check. */
	gen_env(dir, "not_utf8", "alice", sign_seed, "ok\xc0\x80", 4, 0, CC_ERR_MALFORMED);
	gen_env(dir, "nul_in_text", "alice", sign_seed, "a\0b", 3, 0, CC_ERR_MALFORMED);
	gen_env(dir, "other_signer", "mallory", other_seed, "hello", 5, 0, CC_ERR_AUTH);
	gen_env(dir, "flipped", "alice", sign_seed, "hello", 5, 0x01, CC_ERR_AUTH);
	crypto_test_rng_restore();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_must(crypto_init(), "crypto_init");
	for (size_t i = 0; i < E2E_KEY_LEN; i++) {
		sign_seed[i] = (uint8_t)(0x51 + i);
		other_seed[i] = (uint8_t)(0x93 + 3 * i);
		room_key[i] = (uint8_t)(0x17 * i + 5);
		other_key[i] = (uint8_t)(0x17 * i + 6);
	}
	fuzz_must(crypto_ed25519_public(sign_seed, sign_pub), "signing key");
	fuzz_must(crypto_ed25519_public(other_seed, other_pub), "other signing key");
	const char *dir = getenv("CC_FUZZ_GEN_SEEDS");
	if (dir) {
		gen_seeds(dir);
		exit(0);
	}
	return 0;
}
