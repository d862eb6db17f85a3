/* Fuzz target: room message envelopes (proto/room.h) and opening them
 * (e2e_message_open, e2e/e2e.h).
 *
 * The input is one encoded envelope. proto_envelope_decode must not crash;
 * when it accepts, the codec is canonical (re-encoding gives the input), and
 * the header and signed_part views are exactly what encode_header and
 * encode_unsigned write (the header, the associated data, runs through the
 * sender's chain head). Then the envelope is opened with a fixed signing
 * key and epoch key: it must not crash, must answer CC_OK, CC_ERR_AUTH or
 * CC_ERR_MALFORMED, and when it opens, the text is UTF-8 of the right length
 * and the same envelope fails under another signer or another epoch key.
 *
 * Seeds (fuzz/corpus/envelope): messages sealed with that fixed key, so they
 * open (an empty text, whose ciphertext is only the tag; ASCII; multi-byte
 * UTF-8; the longest text; a 32-byte sender; the largest head number), and
 * near misses (text not UTF-8, another signer, a flipped ciphertext bit, a
 * flipped head hash bit, an envelope of version 1). The nonce is the only
 * random draw, made under a fixed seed, so the seeds are the same on every
 * run.
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

/* The sender's signing seed and the epoch key (what e2e_epoch_key derives)
 * are fixed bytes; other_* are the wrong ones. */
static uint8_t sign_seed[CRYPTO_ED25519_SEED_LEN], sign_pub[CRYPTO_ED25519_PUB_LEN];
static uint8_t other_seed[CRYPTO_ED25519_SEED_LEN], other_pub[CRYPTO_ED25519_PUB_LEN];
static uint8_t message_key[E2E_KEY_LEN], other_key[E2E_KEY_LEN];
static uint8_t text[PROTO_TEXT_MAX];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proto_envelope env;
	struct buf out;
	size_t n = SIZE_MAX;

	cc_err err = proto_envelope_decode(data, size, &env);
	if (err != CC_OK) {
		CHECK(err > CC_OK && err < CC_ERR_COUNT_);
		/* Only the one version is read past its first byte. */
		if (size >= 1 && data[0] != PROTO_ENVELOPE_VERSION)
			CHECK(err == CC_ERR_VERSION);
		return 0;
	}
	CHECK(env.version == PROTO_ENVELOPE_VERSION);

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

	err = e2e_message_open(sign_pub, message_key, &env, text, &n);
	if (err != CC_OK) {
		CHECK(err == CC_ERR_AUTH || err == CC_ERR_MALFORMED);
		return 0;
	}
	CHECK(n == env.ciphertext.len - CRYPTO_AEAD_TAG_LEN);
	CHECK(proto_utf8_valid(text, n));
	/* Bound to its signer and its key. */
	CHECK(e2e_message_open(other_pub, message_key, &env, text, &n) == CC_ERR_AUTH);
	CHECK(e2e_message_open(sign_pub, other_key, &env, text, &n) == CC_ERR_AUTH);
	return 0;
}

/* ---- seed generation (CC_FUZZ_GEN_SEEDS=dir) ---- */

/* Seals text from sender (with seed) naming head_seq as its head, checks
 * how the fixed keys open it, and writes it; flip, if not 0, is XORed into
 * the last ciphertext byte first, head_flip into the head hash's last. */
static void gen_env(const char *dir, const char *name, const char *sender,
		    const uint8_t seed[CRYPTO_ED25519_SEED_LEN], const void *msg, size_t len,
		    uint32_t head_seq, uint8_t flip, uint8_t head_flip, cc_err want)
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
	env.head_seq = head_seq;
	for (size_t i = 0; i < PROTO_HASH_LEN; i++)
		env.head_hash[i] = (uint8_t)(0xe0 ^ i);
	buf_init(&b, 0);
	fuzz_must(e2e_message_seal(seed, message_key, &env, msg, len, &b), name);
	b.data[b.len - PROTO_SIG_LEN - 1] ^= flip;
	size_t head_hash_end = 1 + PROTO_ROOM_ID_LEN + 4 + 2 + strlen(sender) + 8 + 8 + 4 +
			       PROTO_HASH_LEN;
	b.data[head_hash_end - 1] ^= head_flip;
	fuzz_must(proto_envelope_decode(b.data, b.len, &env), name);
	cc_err err = e2e_message_open(sign_pub, message_key, &env, text, &n);
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
	gen_env(dir, "empty", "alice", sign_seed, "", 0, 5, 0, 0, CC_OK);
	gen_env(dir, "hello", "alice", sign_seed, "hello", 5, 5, 0, 0, CC_OK);
	gen_env(dir, "utf8", "alice", sign_seed, utf8, sizeof utf8 - 1, 5, 0, 0, CC_OK);
	gen_env(dir, "longest", "alice", sign_seed, longest, sizeof longest, 5, 0, 0, CC_OK);
	gen_env(dir, "sender32", "AZaz09_.-abcdefghijklmnopqrstuvw", sign_seed, "hi", 2, 5, 0, 0,
		CC_OK);
	gen_env(dir, "head_max", "alice", sign_seed, "hi", 2, UINT32_MAX, 0, 0, CC_OK);
	/* Near misses: each stops at a different check. */
	gen_env(dir, "not_utf8", "alice", sign_seed, "ok\xc0\x80", 4, 5, 0, 0, CC_ERR_MALFORMED);
	gen_env(dir, "nul_in_text", "alice", sign_seed, "a\0b", 3, 5, 0, 0, CC_ERR_MALFORMED);
	gen_env(dir, "other_signer", "mallory", other_seed, "hello", 5, 5, 0, 0, CC_ERR_AUTH);
	gen_env(dir, "flipped", "alice", sign_seed, "hello", 5, 5, 0x01, 0, CC_ERR_AUTH);
	gen_env(dir, "head_flipped", "alice", sign_seed, "hello", 5, 5, 0, 0x01, CC_ERR_AUTH);
	/* Protocol 1's layout (no head) under its version byte: refused by
	 * that byte. */
	struct buf v1;
	buf_init(&v1, 0);
	fuzz_must(buf_put_u8(&v1, 1), "v1");
	fuzz_must(buf_put_bytes(&v1, "fuzz_envelope!!!", PROTO_ROOM_ID_LEN), "v1");
	fuzz_must(buf_put_u32(&v1, 3), "v1");
	fuzz_must(buf_put_bytes16(&v1, "alice", 5), "v1");
	fuzz_must(buf_put_u64(&v1, 42), "v1");
	fuzz_must(buf_put_u64(&v1, 1700000000000ull), "v1");
	fuzz_must(buf_put_bytes(&v1, longest, PROTO_NONCE_LEN), "v1");
	fuzz_must(buf_put_bytes16(&v1, longest, 21), "v1");
	fuzz_must(buf_put_bytes(&v1, longest, PROTO_SIG_LEN), "v1");
	struct proto_envelope env;
	if (proto_envelope_decode(v1.data, v1.len, &env) != CC_ERR_VERSION) {
		fprintf(stderr, "fuzz_envelope seeds: version_1 is not refused by its version\n");
		exit(1);
	}
	fuzz_write_buf(dir, "version_1", &v1);
	buf_free(&v1);
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
		message_key[i] = (uint8_t)(0x17 * i + 5);
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
