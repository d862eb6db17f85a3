#include "e2e/e2e.h"

#include <string.h>

/* Labels: every signature, wrap, hash and key derivation has its own, so no
 * value made for one purpose can pass for another. */
static const char LABEL_SIGNING_SEED[] = "cryptocat/1 signing seed";
static const char LABEL_SIGNING_CERT[] = "cryptocat/2 signing key";
static const char LABEL_RECEIVE_CERT[] = "cryptocat/3 receive key";
static const char LABEL_EPOCH_BASE[] = "cryptocat/3 epoch";
static const char LABEL_EPOCH_SECRET[] = "cryptocat/3 epoch secret";
static const char LABEL_TITLE_KEY[] = "cryptocat/3 title key";
static const char LABEL_CHAIN[] = "cryptocat/3 chain";
static const char LABEL_RECORD[] = "cryptocat/1 record";
static const char LABEL_KEY_MOVE[] = "cryptocat/3 key move";
static const char LABEL_KEY_COMMIT[] = "cryptocat/1 key commit";
static const char LABEL_MESSAGE[] = "cryptocat/1 message";
static const char LABEL_TITLE[] = "cryptocat/1 title";

/* label || 0x00 || room || u32 epoch: the context of keys, wraps and titles. */
static cc_err put_context(struct buf *b, const char *label,
			  const uint8_t room[PROTO_ROOM_ID_LEN], uint32_t epoch)
{
	cc_err err;
	if ((err = buf_put_bytes(b, label, strlen(label) + 1)) ||
	    (err = buf_put_bytes(b, room, PROTO_ROOM_ID_LEN)))
		return err;
	return buf_put_u32(b, epoch);
}

/* label || 0x00 || data: what every signature covers. */
static cc_err put_labelled(struct buf *b, const char *label, const uint8_t *data, size_t len)
{
	cc_err err = buf_put_bytes(b, label, strlen(label) + 1);
	return err ? err : buf_put_bytes(b, data, len);
}

cc_err e2e_signing_key_derive(const struct crypto_rsa_key *identity,
			      uint8_t seed[CRYPTO_ED25519_SEED_LEN],
			      uint8_t pub[CRYPTO_ED25519_PUB_LEN])
{
	struct buf pem;
	cc_err err;

	buf_init(&pem, 64 * 1024);
	if ((err = crypto_rsa_private_to_pem(identity, &pem)) ||
	    (err = crypto_hkdf_sha256(pem.data, pem.len, NULL, 0,
				      (const uint8_t *)LABEL_SIGNING_SEED,
				      strlen(LABEL_SIGNING_SEED), seed, CRYPTO_ED25519_SEED_LEN)))
		goto out;
	err = crypto_ed25519_public(seed, pub);
out:
	buf_free(&pem);
	if (err)
		mem_wipe(seed, CRYPTO_ED25519_SEED_LEN);
	return err;
}

/* label || 0x00 || u32 version || signing key: what a certificate covers. */
static cc_err put_cert_input(struct buf *b, uint32_t version,
			     const uint8_t pub[CRYPTO_ED25519_PUB_LEN])
{
	cc_err err = buf_put_bytes(b, LABEL_SIGNING_CERT, sizeof LABEL_SIGNING_CERT);
	if (!err)
		err = buf_put_u32(b, version);
	return err ? err : buf_put_bytes(b, pub, CRYPTO_ED25519_PUB_LEN);
}

cc_err e2e_signing_cert_make(const struct crypto_rsa_key *identity, uint32_t version,
			     const uint8_t pub[CRYPTO_ED25519_PUB_LEN], struct buf *cert)
{
	struct buf input;
	cc_err err;

	if (version == 0)
		return CC_ERR_MALFORMED;
	buf_init(&input, 256);
	if (!(err = put_cert_input(&input, version, pub)))
		err = crypto_rsa_pss_sign(identity, input.data, input.len, cert);
	buf_free(&input);
	return err;
}

cc_err e2e_signing_cert_verify(const struct crypto_rsa_key *identity_pub, uint32_t version,
			       const uint8_t pub[CRYPTO_ED25519_PUB_LEN],
			       const uint8_t *cert, size_t cert_len)
{
	struct buf input;
	cc_err err;

	if (version == 0)
		return CC_ERR_AUTH;
	buf_init(&input, 256);
	if (!(err = put_cert_input(&input, version, pub)))
		err = crypto_rsa_pss_verify(identity_pub, input.data, input.len, cert, cert_len);
	buf_free(&input);
	return err ? CC_ERR_AUTH : CC_OK;
}

/* label || 0x00 || u32 version || u64 created_ms || receiving key. */
static cc_err put_recv_cert_input(struct buf *b, uint32_t version, uint64_t created_ms,
				  const uint8_t pub[CRYPTO_X25519_LEN])
{
	cc_err err = buf_put_bytes(b, LABEL_RECEIVE_CERT, sizeof LABEL_RECEIVE_CERT);
	if (!err)
		err = buf_put_u32(b, version);
	if (!err)
		err = buf_put_u64(b, created_ms);
	return err ? err : buf_put_bytes(b, pub, CRYPTO_X25519_LEN);
}

cc_err e2e_recv_cert_make(const struct crypto_rsa_key *identity, uint32_t version,
			  uint64_t created_ms, const uint8_t pub[CRYPTO_X25519_LEN],
			  struct buf *cert)
{
	struct buf input;
	cc_err err;

	if (version == 0)
		return CC_ERR_MALFORMED;
	buf_init(&input, 256);
	if (!(err = put_recv_cert_input(&input, version, created_ms, pub)))
		err = crypto_rsa_pss_sign(identity, input.data, input.len, cert);
	buf_free(&input);
	return err;
}

cc_err e2e_recv_cert_verify(const struct crypto_rsa_key *identity_pub, uint32_t version,
			    uint64_t created_ms, const uint8_t pub[CRYPTO_X25519_LEN],
			    const uint8_t *cert, size_t cert_len)
{
	struct buf input;
	cc_err err;

	if (version == 0)
		return CC_ERR_AUTH;
	buf_init(&input, 256);
	if (!(err = put_recv_cert_input(&input, version, created_ms, pub)))
		err = crypto_rsa_pss_verify(identity_pub, input.data, input.len, cert, cert_len);
	buf_free(&input);
	if (err)
		return CC_ERR_AUTH;
	/* A low-order point, certified or not, is no key: any scalar times it
	 * is zero, so a secret wrapped to it is anyone's. A fixed, public scalar
	 * finds it (clamping makes every scalar a multiple of the cofactor). */
	static const uint8_t probe[CRYPTO_X25519_LEN] = {0x70, 0x72, 0x6f, 0x62, 0x65};
	uint8_t dh[CRYPTO_X25519_LEN];
	err = crypto_x25519_shared(probe, pub, dh);
	mem_wipe(dh, sizeof dh);
	return err == CC_ERR_AUTH ? CC_ERR_MALFORMED : err;
}

/* L0("cryptocat/3 key move") || old fingerprint || new fingerprint || u64 time_ms */
static cc_err put_key_move_input(struct buf *b, const uint8_t old_fp[PROTO_FINGERPRINT_LEN],
				 const uint8_t new_fp[PROTO_FINGERPRINT_LEN], uint64_t time_ms)
{
	cc_err err;
	if ((err = buf_put_bytes(b, LABEL_KEY_MOVE, sizeof LABEL_KEY_MOVE)) ||
	    (err = buf_put_bytes(b, old_fp, PROTO_FINGERPRINT_LEN)) ||
	    (err = buf_put_bytes(b, new_fp, PROTO_FINGERPRINT_LEN)))
		return err;
	return buf_put_u64(b, time_ms);
}

cc_err e2e_key_move_sign(const struct crypto_rsa_key *key,
			 const uint8_t old_fp[PROTO_FINGERPRINT_LEN],
			 const uint8_t new_fp[PROTO_FINGERPRINT_LEN], uint64_t time_ms,
			 struct buf *sig)
{
	struct buf input;
	buf_init(&input, 128);
	cc_err err = put_key_move_input(&input, old_fp, new_fp, time_ms);
	if (!err)
		err = crypto_rsa_pss_sign(key, input.data, input.len, sig);
	buf_free(&input);
	return err;
}

cc_err e2e_key_move_verify(const struct crypto_rsa_key *pub,
			   const uint8_t old_fp[PROTO_FINGERPRINT_LEN],
			   const uint8_t new_fp[PROTO_FINGERPRINT_LEN], uint64_t time_ms,
			   const uint8_t *sig, size_t sig_len)
{
	struct buf input;
	buf_init(&input, 128);
	cc_err err = put_key_move_input(&input, old_fp, new_fp, time_ms);
	if (!err)
		err = crypto_rsa_pss_verify(pub, input.data, input.len, sig, sig_len);
	buf_free(&input);
	return err ? CC_ERR_AUTH : CC_OK;
}

cc_err e2e_epoch_secret_new(uint8_t secret[E2E_KEY_LEN])
{
	return crypto_random_bytes(secret, E2E_KEY_LEN);
}

cc_err e2e_epoch_base(const uint8_t secret[E2E_KEY_LEN], const uint8_t room[PROTO_ROOM_ID_LEN],
		      uint32_t epoch, const uint8_t open_hash[PROTO_HASH_LEN],
		      uint8_t base[E2E_KEY_LEN])
{
	struct buf info;
	cc_err err;

	buf_init(&info, 256);
	if (!(err = put_context(&info, LABEL_EPOCH_BASE, room, epoch)))
		err = crypto_hkdf_sha256(secret, E2E_KEY_LEN, open_hash, PROTO_HASH_LEN, info.data,
					 info.len, base, E2E_KEY_LEN);
	buf_free(&info);
	if (err)
		mem_wipe(base, E2E_KEY_LEN);
	return err;
}

cc_err e2e_title_key(const uint8_t base[E2E_KEY_LEN], uint8_t key[E2E_KEY_LEN])
{
	return crypto_hkdf_expand(base, E2E_KEY_LEN, (const uint8_t *)LABEL_TITLE_KEY,
				  sizeof LABEL_TITLE_KEY, key, E2E_KEY_LEN);
}

cc_err e2e_chain_start(const uint8_t base[E2E_KEY_LEN],
		       const uint8_t sender_fp[PROTO_FINGERPRINT_LEN], uint8_t ck[E2E_KEY_LEN])
{
	uint8_t info[sizeof LABEL_CHAIN + PROTO_FINGERPRINT_LEN];
	memcpy(info, LABEL_CHAIN, sizeof LABEL_CHAIN);
	memcpy(info + sizeof LABEL_CHAIN, sender_fp, PROTO_FINGERPRINT_LEN);
	return crypto_hkdf_expand(base, E2E_KEY_LEN, info, sizeof info, ck, E2E_KEY_LEN);
}

cc_err e2e_ratchet_step(const uint8_t ck[E2E_KEY_LEN], uint8_t mk[E2E_KEY_LEN],
			uint8_t next[E2E_KEY_LEN])
{
	static const uint8_t MESSAGE = 0x01, CHAIN = 0x02;
	uint8_t mk_tmp[E2E_KEY_LEN], next_tmp[E2E_KEY_LEN];
	/* Both from the old key before either is written: ck may equal next. */
	cc_err err = crypto_hmac_sha256(ck, E2E_KEY_LEN, &MESSAGE, 1, mk_tmp);
	if (!err)
		err = crypto_hmac_sha256(ck, E2E_KEY_LEN, &CHAIN, 1, next_tmp);
	if (!err) {
		memcpy(mk, mk_tmp, E2E_KEY_LEN);
		memcpy(next, next_tmp, E2E_KEY_LEN);
	}
	mem_wipe(mk_tmp, sizeof mk_tmp);
	mem_wipe(next_tmp, sizeof next_tmp);
	return err;
}

void e2e_key_commit(const uint8_t room[PROTO_ROOM_ID_LEN], uint32_t epoch,
		    const uint8_t key[E2E_KEY_LEN], uint8_t out[PROTO_HASH_LEN])
{
	struct buf input;

	buf_init(&input, 256);
	if (put_context(&input, LABEL_KEY_COMMIT, room, epoch) == CC_OK &&
	    buf_put_bytes(&input, key, E2E_KEY_LEN) == CC_OK)
		crypto_sha256(input.data, input.len, out);
	else
		memset(out, 0, PROTO_HASH_LEN);  /* matches nothing real */
	buf_free(&input);
}

/* label || 0x00 || room || u32 epoch || recipient fp || u32 version: the
 * HPKE info of a wrapped epoch secret. */
static cc_err put_wrap_info(struct buf *b, const uint8_t room[PROTO_ROOM_ID_LEN], uint32_t epoch,
			    const uint8_t recipient_fp[PROTO_FINGERPRINT_LEN], uint32_t version)
{
	cc_err err = put_context(b, LABEL_EPOCH_SECRET, room, epoch);
	if (!err)
		err = buf_put_bytes(b, recipient_fp, PROTO_FINGERPRINT_LEN);
	return err ? err : buf_put_u32(b, version);
}

cc_err e2e_key_wrap(const uint8_t recv_pub[CRYPTO_X25519_LEN], uint32_t recv_version,
		    const uint8_t recipient_fp[PROTO_FINGERPRINT_LEN],
		    const uint8_t room[PROTO_ROOM_ID_LEN], uint32_t epoch,
		    const uint8_t secret[E2E_KEY_LEN], struct buf *out)
{
	struct buf info;
	size_t start = out->len;
	cc_err err;

	buf_init(&info, 256);
	if (!(err = put_wrap_info(&info, room, epoch, recipient_fp, recv_version)) &&
	    !(err = buf_put_u32(out, recv_version)))
		err = crypto_hpke_seal(recv_pub, info.data, info.len, NULL, 0, secret, E2E_KEY_LEN,
				       out);
	buf_free(&info);
	if (err)
		out->len = start;
	return err;
}

cc_err e2e_wrapped_version(const uint8_t *wrapped, size_t len, uint32_t *version)
{
	if (len != E2E_WRAPPED_LEN)
		return CC_ERR_MALFORMED;
	*version = load_be32(wrapped);
	return CC_OK;
}

cc_err e2e_key_unwrap(const uint8_t recv_priv[CRYPTO_X25519_LEN],
		      const uint8_t own_fp[PROTO_FINGERPRINT_LEN],
		      const uint8_t room[PROTO_ROOM_ID_LEN], uint32_t epoch,
		      const uint8_t *wrapped, size_t len, uint8_t secret[E2E_KEY_LEN])
{
	struct buf info;
	uint32_t version;
	cc_err err = e2e_wrapped_version(wrapped, len, &version);
	if (err)
		return CC_ERR_AUTH;
	buf_init(&info, 256);
	if (!(err = put_wrap_info(&info, room, epoch, own_fp, version)))
		err = crypto_hpke_open(recv_priv, info.data, info.len, NULL, 0, wrapped + 4,
				       len - 4, secret);
	buf_free(&info);
	if (err)
		mem_wipe(secret, E2E_KEY_LEN);
	return err ? CC_ERR_AUTH : CC_OK;
}

cc_err e2e_title_seal(const uint8_t key[E2E_KEY_LEN], const uint8_t room[PROTO_ROOM_ID_LEN],
		      uint32_t epoch, const char *title, struct buf *out)
{
	size_t n = strlen(title);
	uint8_t nonce[CRYPTO_AEAD_NONCE_LEN], *dst;
	struct buf aad;
	cc_err err;

	if (n > E2E_TITLE_MAX)
		return CC_ERR_TOO_LARGE;
	if (!proto_utf8_valid((const uint8_t *)title, n))
		return CC_ERR_MALFORMED;
	buf_init(&aad, 256);
	if ((err = put_context(&aad, LABEL_TITLE, room, epoch)) ||
	    (err = crypto_random_bytes(nonce, sizeof nonce)) ||
	    (err = buf_put_bytes(out, nonce, sizeof nonce)) ||
	    (err = buf_append_space(out, n + CRYPTO_AEAD_TAG_LEN, &dst)))
		goto out;
	err = crypto_aead_seal(key, nonce, aad.data, aad.len, (const uint8_t *)title, n, dst);
out:
	buf_free(&aad);
	return err;
}

cc_err e2e_title_open(const uint8_t key[E2E_KEY_LEN], const uint8_t room[PROTO_ROOM_ID_LEN],
		      uint32_t epoch, const uint8_t *ct, size_t len, char out[E2E_TITLE_MAX + 1])
{
	struct buf aad;
	cc_err err;

	if (len < CRYPTO_AEAD_NONCE_LEN + CRYPTO_AEAD_TAG_LEN ||
	    len - CRYPTO_AEAD_NONCE_LEN - CRYPTO_AEAD_TAG_LEN > E2E_TITLE_MAX)
		return CC_ERR_MALFORMED;
	size_t n = len - CRYPTO_AEAD_NONCE_LEN - CRYPTO_AEAD_TAG_LEN;
	buf_init(&aad, 256);
	if (!(err = put_context(&aad, LABEL_TITLE, room, epoch)))
		err = crypto_aead_open(key, ct, aad.data, aad.len, ct + CRYPTO_AEAD_NONCE_LEN,
				       len - CRYPTO_AEAD_NONCE_LEN, (uint8_t *)out);
	buf_free(&aad);
	if (err)
		return CC_ERR_AUTH;
	out[n] = '\0';
	if (!proto_utf8_valid((const uint8_t *)out, n)) {
		out[0] = '\0';
		return CC_ERR_MALFORMED;
	}
	return CC_OK;
}

cc_err e2e_record_sign(const struct crypto_rsa_key *actor, const struct proto_record *rec,
		       struct buf *out)
{
	struct buf unsigned_part, input, sig;
	struct proto_record signed_rec = *rec;
	cc_err err;

	buf_init(&unsigned_part, PROTO_RECORD_MAX);
	buf_init(&input, PROTO_RECORD_MAX);
	buf_init(&sig, PROTO_RSA_BYTES_MAX);
	if ((err = proto_record_encode_unsigned(rec, &unsigned_part)) ||
	    (err = put_labelled(&input, LABEL_RECORD, unsigned_part.data, unsigned_part.len)) ||
	    (err = crypto_rsa_pss_sign(actor, input.data, input.len, &sig)))
		goto out;
	signed_rec.signature = (struct proto_bytes){sig.data, sig.len};
	err = proto_record_encode(&signed_rec, out);
out:
	buf_free(&unsigned_part);
	buf_free(&input);
	buf_free(&sig);
	return err;
}

cc_err e2e_record_verify_sig(const struct crypto_rsa_key *actor, const struct proto_record *rec)
{
	struct buf input;
	cc_err err;

	buf_init(&input, PROTO_RECORD_MAX);
	if (!(err = put_labelled(&input, LABEL_RECORD, rec->signed_part.p, rec->signed_part.len)))
		err = crypto_rsa_pss_verify(actor, input.data, input.len, rec->signature.p,
					    rec->signature.len);
	buf_free(&input);
	return err ? CC_ERR_AUTH : CC_OK;
}

void e2e_record_hash(const uint8_t *record, size_t len, uint8_t out[PROTO_HASH_LEN])
{
	crypto_sha256(record, len, out);
}

/* Signs with the key object when there is one, else with the raw seed. */
static cc_err message_seal(const uint8_t *sign_seed, const struct crypto_ed25519_priv *sign_key,
			   const uint8_t key[E2E_KEY_LEN], struct proto_envelope *env,
			   const uint8_t *text, size_t text_len, struct buf *out)
{
	struct buf header, ct, input;
	uint8_t *dst;
	cc_err err;

	if (text_len > PROTO_TEXT_MAX)
		return CC_ERR_TOO_LARGE;
	buf_init(&header, 256);
	buf_init(&ct, PROTO_TEXT_MAX + CRYPTO_AEAD_TAG_LEN);
	buf_init(&input, PROTO_ENVELOPE_MAX + 64);
	if ((err = proto_envelope_encode_header(env, &header)) ||
	    (err = crypto_random_bytes(env->nonce, sizeof env->nonce)) ||
	    (err = buf_append_space(&ct, text_len + CRYPTO_AEAD_TAG_LEN, &dst)) ||
	    (err = crypto_aead_seal(key, env->nonce, header.data, header.len, text, text_len, dst)))
		goto out;
	env->ciphertext = (struct proto_bytes){ct.data, ct.len};
	if ((err = buf_put_bytes(&input, LABEL_MESSAGE, sizeof LABEL_MESSAGE)) ||
	    (err = proto_envelope_encode_unsigned(env, &input)) ||
	    (err = sign_key ? crypto_ed25519_sign_with(sign_key, input.data, input.len,
							  env->signature)
			    : crypto_ed25519_sign(sign_seed, input.data, input.len, env->signature)))
		goto out;
	err = proto_envelope_encode(env, out);
out:
	env->ciphertext = (struct proto_bytes){NULL, 0};
	buf_free(&header);
	buf_free(&ct);
	buf_free(&input);
	return err;
}

cc_err e2e_message_seal(const uint8_t sign_seed[CRYPTO_ED25519_SEED_LEN],
			const uint8_t key[E2E_KEY_LEN], struct proto_envelope *env,
			const uint8_t *text, size_t text_len, struct buf *out)
{
	return message_seal(sign_seed, NULL, key, env, text, text_len, out);
}

cc_err e2e_message_seal_with(const struct crypto_ed25519_priv *sign_key,
			     const uint8_t key[E2E_KEY_LEN], struct proto_envelope *env,
			     const uint8_t *text, size_t text_len, struct buf *out)
{
	if (!sign_key)
		return CC_ERR_INTERNAL;
	return message_seal(NULL, sign_key, key, env, text, text_len, out);
}

static cc_err message_verify(const uint8_t *sign_pub, const struct crypto_ed25519_pub *k,
			     const struct proto_envelope *env)
{
	struct buf input;
	cc_err err;

	buf_init(&input, PROTO_ENVELOPE_MAX + 64);
	if (!(err = put_labelled(&input, LABEL_MESSAGE, env->signed_part.p, env->signed_part.len)))
		err = k ? crypto_ed25519_verify_with(k, input.data, input.len, env->signature,
						     PROTO_SIG_LEN)
			: crypto_ed25519_verify(sign_pub, input.data, input.len, env->signature,
						PROTO_SIG_LEN);
	buf_free(&input);
	return err ? CC_ERR_AUTH : CC_OK;
}

cc_err e2e_message_verify(const uint8_t sign_pub[CRYPTO_ED25519_PUB_LEN],
			  const struct proto_envelope *env)
{
	return message_verify(sign_pub, NULL, env);
}

cc_err e2e_message_verify_with(const struct crypto_ed25519_pub *sign_key,
			       const struct proto_envelope *env)
{
	if (!sign_key)
		return CC_ERR_AUTH;
	return message_verify(NULL, sign_key, env);
}

cc_err e2e_message_decrypt(const uint8_t key[E2E_KEY_LEN], const struct proto_envelope *env,
			   uint8_t *text, size_t *text_len)
{
	if (env->ciphertext.len < CRYPTO_AEAD_TAG_LEN ||
	    env->ciphertext.len - CRYPTO_AEAD_TAG_LEN > PROTO_TEXT_MAX)
		return CC_ERR_MALFORMED;
	size_t n = env->ciphertext.len - CRYPTO_AEAD_TAG_LEN;
	if (crypto_aead_open(key, env->nonce, env->header.p, env->header.len, env->ciphertext.p,
			     env->ciphertext.len, text))
		return CC_ERR_AUTH;
	if (!proto_utf8_valid(text, n))
		return CC_ERR_MALFORMED;
	*text_len = n;
	return CC_OK;
}

cc_err e2e_message_open(const uint8_t sign_pub[CRYPTO_ED25519_PUB_LEN],
			const uint8_t key[E2E_KEY_LEN], const struct proto_envelope *env,
			uint8_t *text, size_t *text_len)
{
	/* The signature first: nothing unauthenticated reaches the decryption. */
	cc_err err = e2e_message_verify(sign_pub, env);
	return err ? err : e2e_message_decrypt(key, env, text, text_len);
}
