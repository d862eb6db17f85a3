/* HPKE, RFC 9180, base mode: DHKEM(X25519, HKDF-SHA256), HKDF-SHA256,
 * AES-GCM. Built from the primitives of crypto.c and ecc.c (OpenSSL 3.0 has
 * no HPKE); every step is named as the RFC names it. */
#include "crypto/crypto.h"

#include <string.h>

#define HPKE_KEM_ID 0x0020
#define HPKE_KDF_ID 0x0001
#define HPKE_NSECRET 32

static const char HPKE_V1[] = "HPKE-v1";

/* suite_id: "KEM" || kem_id for the KEM's derivations, "HPKE" || kem_id ||
 * kdf_id || aead_id for the key schedule's. */
struct hpke_suite {
	uint8_t id[10];
	size_t len;
};

static struct hpke_suite suite_kem(void)
{
	struct hpke_suite s = {{'K', 'E', 'M', HPKE_KEM_ID >> 8, HPKE_KEM_ID & 0xff}, 5};
	return s;
}

static struct hpke_suite suite_hpke(enum crypto_hpke_aead aead)
{
	struct hpke_suite s = {{'H', 'P', 'K', 'E', HPKE_KEM_ID >> 8, HPKE_KEM_ID & 0xff,
				HPKE_KDF_ID >> 8, HPKE_KDF_ID & 0xff, 0, (uint8_t)aead},
			       10};
	return s;
}

/* LabeledExtract(salt, label, ikm) = Extract(salt, "HPKE-v1" || suite_id ||
 * label || ikm). */
static cc_err labeled_extract(const struct hpke_suite *suite, const uint8_t *salt,
			      size_t salt_len, const char *label, const uint8_t *ikm,
			      size_t ikm_len, uint8_t prk[CRYPTO_SHA256_LEN])
{
	struct buf in;
	cc_err err;
	buf_init(&in, 1024);
	if (!(err = buf_put_bytes(&in, HPKE_V1, strlen(HPKE_V1))) &&
	    !(err = buf_put_bytes(&in, suite->id, suite->len)) &&
	    !(err = buf_put_bytes(&in, label, strlen(label))) &&
	    !(err = buf_put_bytes(&in, ikm, ikm_len)))
		err = crypto_hkdf_extract(salt, salt_len, in.data, in.len, prk);
	mem_wipe(in.data, in.len);
	buf_free(&in);
	return err;
}

/* LabeledExpand(prk, label, info, L) = Expand(prk, I2OSP(L, 2) || "HPKE-v1" ||
 * suite_id || label || info, L). */
static cc_err labeled_expand(const struct hpke_suite *suite, const uint8_t prk[CRYPTO_SHA256_LEN],
			     const char *label, const uint8_t *info, size_t info_len,
			     uint8_t *out, size_t out_len)
{
	struct buf in;
	cc_err err;
	buf_init(&in, 1024);
	if (!(err = buf_put_u16(&in, (uint16_t)out_len)) &&
	    !(err = buf_put_bytes(&in, HPKE_V1, strlen(HPKE_V1))) &&
	    !(err = buf_put_bytes(&in, suite->id, suite->len)) &&
	    !(err = buf_put_bytes(&in, label, strlen(label))) &&
	    !(err = buf_put_bytes(&in, info, info_len)))
		err = crypto_hkdf_expand(prk, CRYPTO_SHA256_LEN, in.data, in.len, out, out_len);
	buf_free(&in);
	return err;
}

/* ExtractAndExpand(dh, kem_context): the KEM's shared secret. */
static cc_err kem_shared_secret(const uint8_t dh[CRYPTO_X25519_LEN],
				const uint8_t enc[CRYPTO_HPKE_ENC_LEN],
				const uint8_t pk_r[CRYPTO_X25519_LEN], uint8_t out[HPKE_NSECRET])
{
	struct hpke_suite kem = suite_kem();
	uint8_t prk[CRYPTO_SHA256_LEN], context[2 * CRYPTO_X25519_LEN];
	memcpy(context, enc, CRYPTO_HPKE_ENC_LEN);
	memcpy(context + CRYPTO_HPKE_ENC_LEN, pk_r, CRYPTO_X25519_LEN);
	cc_err err = labeled_extract(&kem, NULL, 0, "eae_prk", dh, CRYPTO_X25519_LEN, prk);
	if (!err)
		err = labeled_expand(&kem, prk, "shared_secret", context, sizeof context, out,
				     HPKE_NSECRET);
	mem_wipe(prk, sizeof prk);
	return err;
}

/* KeySchedule(mode_base, shared_secret, info, "", ""). */
static cc_err key_schedule(enum crypto_hpke_aead aead, const uint8_t *info, size_t info_len,
			   struct crypto_hpke_ctx *ctx)
{
	struct hpke_suite suite = suite_hpke(aead);
	uint8_t context[1 + 2 * CRYPTO_SHA256_LEN], secret[CRYPTO_SHA256_LEN];
	cc_err err;

	context[0] = 0x00;  /* mode_base */
	if ((err = labeled_extract(&suite, NULL, 0, "psk_id_hash", NULL, 0, context + 1)) ||
	    (err = labeled_extract(&suite, NULL, 0, "info_hash", info, info_len,
				   context + 1 + CRYPTO_SHA256_LEN)) ||
	    (err = labeled_extract(&suite, ctx->shared_secret, HPKE_NSECRET, "secret", NULL, 0,
				   secret)) ||
	    (err = labeled_expand(&suite, secret, "key", context, sizeof context, ctx->key,
				  ctx->key_len)) ||
	    (err = labeled_expand(&suite, secret, "base_nonce", context, sizeof context,
				  ctx->base_nonce, sizeof ctx->base_nonce)))
		crypto_hpke_ctx_wipe(ctx);
	mem_wipe(secret, sizeof secret);
	return err;
}

static cc_err ctx_start(struct crypto_hpke_ctx *ctx, enum crypto_hpke_aead aead)
{
	memset(ctx, 0, sizeof *ctx);
	if (aead != CRYPTO_HPKE_AES_128_GCM && aead != CRYPTO_HPKE_AES_256_GCM)
		return CC_ERR_USAGE;
	ctx->aead = aead;
	ctx->key_len = aead == CRYPTO_HPKE_AES_128_GCM ? 16 : 32;
	return CC_OK;
}

cc_err crypto_hpke_setup_sender(enum crypto_hpke_aead aead, const uint8_t pk_r[CRYPTO_X25519_LEN],
				const uint8_t sk_e[CRYPTO_X25519_LEN], const uint8_t *info,
				size_t info_len, uint8_t enc[CRYPTO_HPKE_ENC_LEN],
				struct crypto_hpke_ctx *ctx)
{
	uint8_t dh[CRYPTO_X25519_LEN];
	cc_err err;

	if ((err = ctx_start(ctx, aead)) || (err = crypto_x25519_public(sk_e, enc)))
		return err;
	/* Encap: dh = DH(skE, pkR); an all-zero dh (a low-order pkR) fails. */
	if (!(err = crypto_x25519_shared(sk_e, pk_r, dh)) &&
	    !(err = kem_shared_secret(dh, enc, pk_r, ctx->shared_secret)))
		err = key_schedule(aead, info, info_len, ctx);
	mem_wipe(dh, sizeof dh);
	if (err)
		crypto_hpke_ctx_wipe(ctx);
	return err;
}

cc_err crypto_hpke_setup_recipient(enum crypto_hpke_aead aead,
				   const uint8_t sk_r[CRYPTO_X25519_LEN],
				   const uint8_t enc[CRYPTO_HPKE_ENC_LEN], const uint8_t *info,
				   size_t info_len, struct crypto_hpke_ctx *ctx)
{
	uint8_t dh[CRYPTO_X25519_LEN], pk_r[CRYPTO_X25519_LEN];
	cc_err err;

	if ((err = ctx_start(ctx, aead)) || (err = crypto_x25519_public(sk_r, pk_r)))
		return err;
	/* Decap: dh = DH(skR, pkE). */
	if (!(err = crypto_x25519_shared(sk_r, enc, dh)) &&
	    !(err = kem_shared_secret(dh, enc, pk_r, ctx->shared_secret)))
		err = key_schedule(aead, info, info_len, ctx);
	mem_wipe(dh, sizeof dh);
	if (err)
		crypto_hpke_ctx_wipe(ctx);
	return err;
}

/* ComputeNonce(seq) = base_nonce XOR I2OSP(seq, Nn). */
static void ctx_nonce(const struct crypto_hpke_ctx *ctx, uint8_t nonce[CRYPTO_AEAD_NONCE_LEN])
{
	memcpy(nonce, ctx->base_nonce, CRYPTO_AEAD_NONCE_LEN);
	for (int i = 0; i < 8; i++)
		nonce[CRYPTO_AEAD_NONCE_LEN - 1 - i] ^= (uint8_t)(ctx->seq >> (8 * i));
}

cc_err crypto_hpke_ctx_seal(struct crypto_hpke_ctx *ctx, const uint8_t *aad, size_t aad_len,
			    const uint8_t *pt, size_t pt_len, uint8_t *out)
{
	uint8_t nonce[CRYPTO_AEAD_NONCE_LEN];
	if (ctx->seq == UINT64_MAX)
		return CC_ERR_LIMIT;
	ctx_nonce(ctx, nonce);
	cc_err err = crypto_aes_gcm_seal_ex(ctx->key, ctx->key_len, nonce, sizeof nonce, aad,
					    aad_len, pt, pt_len, out, out + pt_len,
					    CRYPTO_AEAD_TAG_LEN);
	if (!err)
		ctx->seq++;
	return err;
}

cc_err crypto_hpke_ctx_open(struct crypto_hpke_ctx *ctx, const uint8_t *aad, size_t aad_len,
			    const uint8_t *ct, size_t ct_len, uint8_t *out)
{
	uint8_t nonce[CRYPTO_AEAD_NONCE_LEN];
	if (ct_len < CRYPTO_AEAD_TAG_LEN || ctx->seq == UINT64_MAX)
		return CC_ERR_AUTH;
	ctx_nonce(ctx, nonce);
	size_t body = ct_len - CRYPTO_AEAD_TAG_LEN;
	if (crypto_aes_gcm_open_ex(ctx->key, ctx->key_len, nonce, sizeof nonce, aad, aad_len, ct,
				   body, ct + body, CRYPTO_AEAD_TAG_LEN, out))
		return CC_ERR_AUTH;
	ctx->seq++;
	return CC_OK;
}

void crypto_hpke_ctx_wipe(struct crypto_hpke_ctx *ctx)
{
	mem_wipe(ctx, sizeof *ctx);
}

cc_err crypto_hpke_seal(const uint8_t pk_r[CRYPTO_X25519_LEN], const uint8_t *info,
			size_t info_len, const uint8_t *aad, size_t aad_len, const uint8_t *pt,
			size_t pt_len, struct buf *out)
{
	uint8_t sk_e[CRYPTO_X25519_LEN], pk_e[CRYPTO_X25519_LEN], *dst;
	struct crypto_hpke_ctx ctx;
	size_t start = out->len;
	cc_err err;

	if ((err = crypto_x25519_keypair(sk_e, pk_e)))
		return err;
	err = crypto_hpke_setup_sender(CRYPTO_HPKE_AES_256_GCM, pk_r, sk_e, info, info_len, pk_e,
				       &ctx);
	mem_wipe(sk_e, sizeof sk_e);
	if (!err && !(err = buf_put_bytes(out, pk_e, sizeof pk_e)) &&
	    !(err = buf_append_space(out, pt_len + CRYPTO_AEAD_TAG_LEN, &dst)))
		err = crypto_hpke_ctx_seal(&ctx, aad, aad_len, pt, pt_len, dst);
	crypto_hpke_ctx_wipe(&ctx);
	if (err)
		out->len = start;
	return err;
}

cc_err crypto_hpke_open(const uint8_t sk_r[CRYPTO_X25519_LEN], const uint8_t *info,
			size_t info_len, const uint8_t *aad, size_t aad_len, const uint8_t *in,
			size_t in_len, uint8_t *out)
{
	struct crypto_hpke_ctx ctx;
	if (in_len < CRYPTO_HPKE_ENC_LEN + CRYPTO_AEAD_TAG_LEN)
		return CC_ERR_AUTH;
	cc_err err = crypto_hpke_setup_recipient(CRYPTO_HPKE_AES_256_GCM, sk_r, in, info,
						 info_len, &ctx);
	if (!err)
		err = crypto_hpke_ctx_open(&ctx, aad, aad_len, in + CRYPTO_HPKE_ENC_LEN,
					   in_len - CRYPTO_HPKE_ENC_LEN, out);
	crypto_hpke_ctx_wipe(&ctx);
	return err ? CC_ERR_AUTH : CC_OK;
}
