/* Prints docs/PROTOCOL.md's second worked example: a room secret wrapped to
 * a member's receiving key (HPKE), and the keys of its epoch (base, title
 * key, a sender's chain and message keys), from fixed inputs.
 *
 * Every value is made twice: once by the project's code (src/e2e/, what the
 * client runs) and once here from the formulas of section 9.2 with the bare
 * primitives (HKDF, HMAC, the RFC 9180 context that tests/test_hpke.c
 * checks). The program fails if the two differ, or if the code does not open
 * the wrapped secret built here. tests/test_protocol_doc.c compares the
 * output with the document; scripts/update-protocol-example.sh rewrites it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "e2e/e2e.h"
#include "util/buf.h"

static void die(const char *what)
{
	fprintf(stderr, "keyschedule_example: %s\n", what);
	exit(1);
}

static void check(cc_err err, const char *what)
{
	if (err != CC_OK)
		die(what);
}

static void same(const uint8_t *a, const uint8_t *b, size_t n, const char *what)
{
	if (memcmp(a, b, n) != 0)
		die(what);
}

static void print_hex(const char *label, const uint8_t *p, size_t n)
{
	printf("%s (%zu bytes):\n\n```\n", label, n);
	for (size_t i = 0; i < n; i++)
		printf("%02x%s", p[i], (i + 1) % 32 == 0 || i + 1 == n ? "\n" : "");
	printf("```\n\n");
}

/* L0(label) || room_id || u32 epoch */
static void context(struct buf *b, const char *label, const uint8_t room[16], uint32_t epoch)
{
	check(buf_put_bytes(b, label, strlen(label) + 1), "context");
	check(buf_put_bytes(b, room, 16), "context");
	check(buf_put_u32(b, epoch), "context");
}

int main(void)
{
	uint8_t room[16], secret[32], recv_priv[32], recv_pub[32], eph_priv[32], eph_pub[32];
	uint8_t fp_bob[32], fp_alice[32], open_hash[32];
	const uint32_t epoch = 3, version = 1;

	check(crypto_init(), "crypto_init");
	for (int i = 0; i < 32; i++) {
		if (i < 16)
			room[i] = (uint8_t)i;
		secret[i] = (uint8_t)(0x40 + i);
		recv_priv[i] = (uint8_t)(0x20 + i);
		eph_priv[i] = (uint8_t)(0x60 + i);
		fp_bob[i] = (uint8_t)(0xa0 + i);
		fp_alice[i] = (uint8_t)(0xe0 ^ i);
		open_hash[i] = (uint8_t)(0xc0 + i);
	}
	check(crypto_x25519_public(recv_priv, recv_pub), "receiving key");
	check(crypto_x25519_public(eph_priv, eph_pub), "ephemeral key");

	/* ---- the wrap, built from the formulas ---- */
	struct buf info, wrapped;
	buf_init(&info, 256);
	buf_init(&wrapped, 256);
	context(&info, "cryptocat/3 epoch secret", room, epoch);
	check(buf_put_bytes(&info, fp_bob, 32), "info");
	check(buf_put_u32(&info, version), "info");
	struct crypto_hpke_ctx ctx;
	uint8_t enc[32], *ct;
	check(crypto_hpke_setup_sender(CRYPTO_HPKE_AES_256_GCM, recv_pub, eph_priv, info.data,
				       info.len, enc, &ctx), "hpke");
	same(enc, eph_pub, 32, "enc is not the ephemeral public key");
	check(buf_put_u32(&wrapped, version), "wrapped");
	check(buf_put_bytes(&wrapped, enc, 32), "wrapped");
	check(buf_append_space(&wrapped, 48, &ct), "wrapped");
	check(crypto_hpke_ctx_seal(&ctx, NULL, 0, secret, 32, ct), "seal");
	crypto_hpke_ctx_wipe(&ctx);
	if (wrapped.len != E2E_WRAPPED_LEN)
		die("wrapped length");
	/* The code opens it. */
	uint8_t got[32];
	check(e2e_key_unwrap(recv_priv, fp_bob, room, epoch, wrapped.data, wrapped.len, got),
	      "the code does not open the wrapped secret");
	same(got, secret, 32, "the code opens another secret");

	/* ---- the epoch's keys, twice ---- */
	struct buf b;
	uint8_t commit[32], commit2[32], base[32], base2[32], title[32], title2[32];
	uint8_t ck1[32], ck1b[32], mk1[32], mk1b[32], ck2[32], ck2b[32], mk2[32], mk2b[32];
	buf_init(&b, 256);
	context(&b, "cryptocat/1 key commit", room, epoch);
	check(buf_put_bytes(&b, secret, 32), "commit");
	crypto_sha256(b.data, b.len, commit);
	e2e_key_commit(room, epoch, secret, commit2);
	same(commit, commit2, 32, "commit");

	buf_reset(&b);
	context(&b, "cryptocat/3 epoch", room, epoch);
	check(crypto_hkdf_sha256(secret, 32, open_hash, 32, b.data, b.len, base, 32), "base");
	check(e2e_epoch_base(secret, room, epoch, open_hash, base2), "base");
	same(base, base2, 32, "epoch base");

	static const char title_label[] = "cryptocat/3 title key";
	check(crypto_hkdf_expand(base, 32, (const uint8_t *)title_label, sizeof title_label,
				 title, 32), "title key");
	check(e2e_title_key(base, title2), "title key");
	same(title, title2, 32, "title key");

	static const char chain_label[] = "cryptocat/3 chain";
	uint8_t chain_info[sizeof chain_label + 32];
	memcpy(chain_info, chain_label, sizeof chain_label);
	memcpy(chain_info + sizeof chain_label, fp_alice, 32);
	check(crypto_hkdf_expand(base, 32, chain_info, sizeof chain_info, ck1, 32), "chain");
	check(e2e_chain_start(base, fp_alice, ck1b), "chain");
	same(ck1, ck1b, 32, "chain key 1");

	static const uint8_t one = 0x01, two = 0x02;
	check(crypto_hmac_sha256(ck1, 32, &one, 1, mk1), "ratchet");
	check(crypto_hmac_sha256(ck1, 32, &two, 1, ck2), "ratchet");
	check(crypto_hmac_sha256(ck2, 32, &one, 1, mk2), "ratchet");
	check(e2e_ratchet_step(ck1b, mk1b, ck2b), "ratchet");
	same(mk1, mk1b, 32, "message key 1");
	same(ck2, ck2b, 32, "chain key 2");
	check(e2e_ratchet_step(ck2b, mk2b, ck2b), "ratchet");
	same(mk2, mk2b, 32, "message key 2");

	printf("<!-- BEGIN KEY SCHEDULE EXAMPLE: generated by tools/keyschedule_example.c; "
	       "tests/test_protocol_doc.c checks it -->\n\n");
	printf("Section 9.2 with fixed inputs (none of them random, so anyone can redo it): "
	       "room `00 01 .. 0f`, epoch 3, the epoch's secret `40 41 .. 5f`, bob's identity "
	       "fingerprint `a0 a1 .. bf`, his receiving key (version 1) with private key "
	       "`20 21 .. 3f`, the ephemeral private key `60 61 .. 7f` (normally drawn for each "
	       "wrap), the opening record's chain hash `c0 c1 .. df`, and alice's fingerprint "
	       "`e0 e1 .. ff`: she is the sender whose chain is shown.\n\n");
	print_hex("bob's receiving key, public (X25519 of the private key)", recv_pub, 32);
	print_hex("HPKE info = L0(\"cryptocat/3 epoch secret\") || room_id || u32 epoch || "
		  "bob's fingerprint || u32 version", info.data, info.len);
	print_hex("wrapped = u32 version || enc || ciphertext (HPKE base mode, aad empty, "
		  "sequence number 0)", wrapped.data, wrapped.len);
	print_hex("key_commit", commit, 32);
	print_hex("epoch base", base, 32);
	print_hex("title key", title, 32);
	print_hex("alice's chain key 1", ck1, 32);
	print_hex("alice's message key 1 = HMAC(chain key 1, 0x01)", mk1, 32);
	print_hex("alice's chain key 2 = HMAC(chain key 1, 0x02)", ck2, 32);
	print_hex("alice's message key 2", mk2, 32);
	printf("<!-- END KEY SCHEDULE EXAMPLE -->\n");

	buf_free(&info);
	buf_free(&wrapped);
	buf_free(&b);
	return 0;
}
