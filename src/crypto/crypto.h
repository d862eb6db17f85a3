/* The crypto layer: the only code that includes OpenSSL. Every primitive Crypto
 * Cat uses, behind opaque types and fixed parameters:
 *
 *   RSA          identity and server keys, 2048..4096 bits, e = 65537
 *   RSA-OAEP     SHA-256, MGF1-SHA-256, with a label (domain separation)
 *   RSA-PSS      SHA-256, MGF1-SHA-256, 32-byte salt
 *   X25519       ephemeral key agreement; an all-zero shared secret is refused
 *   Ed25519      per-user message signing keys
 *   HKDF-SHA256  every derived key; HMAC-SHA256 the message ratchets
 *   HPKE         RFC 9180 base mode, DHKEM(X25519, HKDF-SHA256), HKDF-SHA256,
 *                AES-256-GCM: room secrets to a member's receiving key (hpke.c)
 *   scrypt       keys from passphrases; PKCS#8 private keys encrypted under one
 *                (PBES2: scrypt, AES-256-CBC) (pbe.c)
 *   AES-256-GCM  12-byte nonce, 16-byte tag
 *   SHA-256      transcripts and key fingerprints; the handshake's hash
 *                puzzles (puzzle.c)
 *
 * Secrets handed out by this layer live in caller memory; wipe them with
 * mem_wipe() (util/buf.h) on every path out. */
#ifndef CC_CRYPTO_H
#define CC_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"
#include "util/err.h"

#define CRYPTO_SHA256_LEN 32
#define CRYPTO_FINGERPRINT_LEN 32
#define CRYPTO_X25519_LEN 32
#define CRYPTO_ED25519_SEED_LEN 32
#define CRYPTO_ED25519_PUB_LEN 32
#define CRYPTO_ED25519_SIG_LEN 64
#define CRYPTO_AEAD_KEY_LEN 32
#define CRYPTO_AEAD_NONCE_LEN 12
#define CRYPTO_AEAD_TAG_LEN 16
#define CRYPTO_RSA_MIN_BITS 2048
#define CRYPTO_RSA_MAX_BITS 4096
#define CRYPTO_RSA_DEFAULT_BITS 3072
/* Largest RSA-4096 SubjectPublicKeyInfo DER, with room to spare. */
#define CRYPTO_RSA_PUB_DER_MAX 600
/* Largest RSA ciphertext or signature (4096 bits). */
#define CRYPTO_RSA_MAX_BYTES 512
#define CRYPTO_HKDF_MAX_OUT (255 * 32)

/* Call once at start-up; checks that the algorithms above are available. */
cc_err crypto_init(void);

/* CSPRNG (OpenSSL's DRBG). Fails only if the generator cannot be seeded. */
cc_err crypto_random_bytes(void *out, size_t n);

/* 1 if the n bytes at a and b are equal, else 0; time depends only on n. */
int crypto_ct_equal(const void *a, const void *b, size_t n);

void crypto_sha256(const void *p, size_t n, uint8_t out[CRYPTO_SHA256_LEN]);

/* HKDF-SHA256 (RFC 5869), extract then expand. out_len <= CRYPTO_HKDF_MAX_OUT. */
cc_err crypto_hkdf_sha256(const uint8_t *ikm, size_t ikm_len,
			  const uint8_t *salt, size_t salt_len,
			  const uint8_t *info, size_t info_len,
			  uint8_t *out, size_t out_len);

/* The two halves of HKDF-SHA256 apart (HPKE labels each): extract gives the
 * 32-byte PRK (an empty salt means 32 zero bytes); expand's out_len <=
 * CRYPTO_HKDF_MAX_OUT. */
cc_err crypto_hkdf_extract(const uint8_t *salt, size_t salt_len, const uint8_t *ikm,
			   size_t ikm_len, uint8_t prk[CRYPTO_SHA256_LEN]);
cc_err crypto_hkdf_expand(const uint8_t *prk, size_t prk_len, const uint8_t *info,
			  size_t info_len, uint8_t *out, size_t out_len);
/* HMAC-SHA256 (RFC 2104): the ratchets' one-way steps. */
cc_err crypto_hmac_sha256(const uint8_t *key, size_t key_len, const uint8_t *msg,
			  size_t msg_len, uint8_t out[CRYPTO_SHA256_LEN]);
/* AES-256-GCM. seal writes pt_len + 16 bytes (ciphertext then tag) to out;
 * open reads ct_len >= 16 bytes and writes ct_len - 16 bytes, or returns
 * CC_ERR_AUTH (and writes nothing usable) if the tag does not verify.
 * out may equal pt/ct (in place). */
cc_err crypto_aead_seal(const uint8_t key[CRYPTO_AEAD_KEY_LEN],
			const uint8_t nonce[CRYPTO_AEAD_NONCE_LEN],
			const uint8_t *aad, size_t aad_len,
			const uint8_t *pt, size_t pt_len, uint8_t *out);
cc_err crypto_aead_open(const uint8_t key[CRYPTO_AEAD_KEY_LEN],
			const uint8_t nonce[CRYPTO_AEAD_NONCE_LEN],
			const uint8_t *aad, size_t aad_len,
			const uint8_t *ct, size_t ct_len, uint8_t *out);
/* A keyed AES-256-GCM context for one direction of a channel: the key schedule
 * is made once, and each record costs no allocation. encrypt: 1 to seal, 0 to
 * open. The same contract as crypto_aead_seal/open otherwise. */
struct crypto_aead;
cc_err crypto_aead_new(const uint8_t key[CRYPTO_AEAD_KEY_LEN], int encrypt,
		       struct crypto_aead **out);
/* Wipes the key schedule and frees. NULL is fine. */
void crypto_aead_free(struct crypto_aead *a);
cc_err crypto_aead_seal_keyed(struct crypto_aead *a, const uint8_t nonce[CRYPTO_AEAD_NONCE_LEN],
			      const uint8_t *aad, size_t aad_len,
			      const uint8_t *pt, size_t pt_len, uint8_t *out);
cc_err crypto_aead_open_keyed(struct crypto_aead *a, const uint8_t nonce[CRYPTO_AEAD_NONCE_LEN],
			      const uint8_t *aad, size_t aad_len,
			      const uint8_t *ct, size_t ct_len, uint8_t *out);

/* AES-GCM with any key (16/24/32), IV (>= 1 byte) and tag (12..16) length,
 * for the Wycheproof tests; production code uses the fixed form above. */
cc_err crypto_aes_gcm_seal_ex(const uint8_t *key, size_t key_len,
			      const uint8_t *iv, size_t iv_len,
			      const uint8_t *aad, size_t aad_len,
			      const uint8_t *pt, size_t pt_len,
			      uint8_t *ct_out, uint8_t *tag_out, size_t tag_len);
cc_err crypto_aes_gcm_open_ex(const uint8_t *key, size_t key_len,
			      const uint8_t *iv, size_t iv_len,
			      const uint8_t *aad, size_t aad_len,
			      const uint8_t *ct, size_t ct_len,
			      const uint8_t *tag, size_t tag_len, uint8_t *pt_out);

/* X25519. keypair draws the private key from the CSPRNG. shared returns
 * CC_ERR_AUTH when the result is all zeros (a low-order peer key). */
cc_err crypto_x25519_keypair(uint8_t priv[CRYPTO_X25519_LEN], uint8_t pub[CRYPTO_X25519_LEN]);
cc_err crypto_x25519_public(const uint8_t priv[CRYPTO_X25519_LEN], uint8_t pub[CRYPTO_X25519_LEN]);
cc_err crypto_x25519_shared(const uint8_t priv[CRYPTO_X25519_LEN],
			    const uint8_t peer_pub[CRYPTO_X25519_LEN],
			    uint8_t out[CRYPTO_X25519_LEN]);

/* Ed25519 (RFC 8032, pure). The private key is the 32-byte seed. */
cc_err crypto_ed25519_keypair(uint8_t seed[CRYPTO_ED25519_SEED_LEN],
			      uint8_t pub[CRYPTO_ED25519_PUB_LEN]);
cc_err crypto_ed25519_public(const uint8_t seed[CRYPTO_ED25519_SEED_LEN],
			     uint8_t pub[CRYPTO_ED25519_PUB_LEN]);
cc_err crypto_ed25519_sign(const uint8_t seed[CRYPTO_ED25519_SEED_LEN],
			   const uint8_t *msg, size_t msg_len,
			   uint8_t sig[CRYPTO_ED25519_SIG_LEN]);
/* CC_OK only for a valid signature of exactly 64 bytes. */
cc_err crypto_ed25519_verify(const uint8_t pub[CRYPTO_ED25519_PUB_LEN],
			     const uint8_t *msg, size_t msg_len,
			     const uint8_t *sig, size_t sig_len);

/* Ed25519 keys made once and used for many signatures: making OpenSSL's
 * key object from raw bytes costs about as much as the operation itself
 * (deriving the public key again, for a private one). A client keeps one per
 * signer it verifies and one for its own signing key. free wipes the private
 * key (NULL is fine). */
struct crypto_ed25519_pub;
struct crypto_ed25519_priv;
cc_err crypto_ed25519_pub_new(const uint8_t pub[CRYPTO_ED25519_PUB_LEN],
			      struct crypto_ed25519_pub **out);
void crypto_ed25519_pub_free(struct crypto_ed25519_pub *k);
/* 1 if k was made from exactly pub. */
int crypto_ed25519_pub_is(const struct crypto_ed25519_pub *k,
			  const uint8_t pub[CRYPTO_ED25519_PUB_LEN]);
cc_err crypto_ed25519_verify_with(const struct crypto_ed25519_pub *k,
				  const uint8_t *msg, size_t msg_len,
				  const uint8_t *sig, size_t sig_len);
cc_err crypto_ed25519_priv_new(const uint8_t seed[CRYPTO_ED25519_SEED_LEN],
			       struct crypto_ed25519_priv **out);
void crypto_ed25519_priv_free(struct crypto_ed25519_priv *k);
cc_err crypto_ed25519_sign_with(const struct crypto_ed25519_priv *k,
				const uint8_t *msg, size_t msg_len,
				uint8_t sig[CRYPTO_ED25519_SIG_LEN]);

/* RSA keys: a private key (which also serves as its public key) or a public key. */
struct crypto_rsa_key;

cc_err crypto_rsa_generate(unsigned bits, struct crypto_rsa_key **out);
void crypto_rsa_free(struct crypto_rsa_key *key);
int crypto_rsa_is_private(const struct crypto_rsa_key *key);
unsigned crypto_rsa_bits(const struct crypto_rsa_key *key);
/* Size in bytes of a ciphertext or signature under this key. */
size_t crypto_rsa_size(const struct crypto_rsa_key *key);

/* SubjectPublicKeyInfo DER. Parsing refuses anything but an RSA key of
 * CRYPTO_RSA_MIN_BITS..CRYPTO_RSA_MAX_BITS with e = 65537, and trailing bytes. */
cc_err crypto_rsa_public_to_der(const struct crypto_rsa_key *key, struct buf *out);
cc_err crypto_rsa_public_from_der(const uint8_t *der, size_t len, struct crypto_rsa_key **out);
/* Keys parsed by crypto_rsa_public_from_der are kept (public keys only, a
 * few hundred, by their DER) so that the same key is not parsed again;
 * this frees them (at exit, for leak checkers; safe at any time). */
void crypto_rsa_cache_clear(void);
/* Another handle on a public key (freed on its own; the key is shared, not
 * copied): CC_ERR_USAGE for a private key. */
cc_err crypto_rsa_public_copy(const struct crypto_rsa_key *key, struct crypto_rsa_key **out);
/* PKCS#8 private keys, DER or PEM (unencrypted: the file is 0600). Parsing
 * accepts RSA keys of any size >= 1024 bits so test vectors load; a PEM
 * encrypted under a passphrase is CC_ERR_BAD_PASSPHRASE (it needs one). */
cc_err crypto_rsa_private_from_der(const uint8_t *der, size_t len, struct crypto_rsa_key **out);
cc_err crypto_rsa_private_to_pem(const struct crypto_rsa_key *key, struct buf *out);
cc_err crypto_rsa_private_from_pem(const char *pem, size_t len, struct crypto_rsa_key **out);

/* ---- Keys from passphrases (pbe.c) --------------------------------------
 * Passphrases are bytes (1..CRYPTO_PASSPHRASE_MAX, no NUL needed). */
#define CRYPTO_PASSPHRASE_MAX 1024
struct crypto_scrypt_params {
	uint8_t log2_n;         /* N = 2^log2_n */
	uint32_t r, p;
};
/* What new files get: N = 2^14, r = 8, p = 8 (16 MiB; why: pbe.c). */
#define CRYPTO_SCRYPT_LOG2_N 14
#define CRYPTO_SCRYPT_R 8
#define CRYPTO_SCRYPT_P 8
extern const struct crypto_scrypt_params crypto_scrypt_default;
/* CC_OK if a reader takes these (N from 2^10 to 2^20, r <= 32, p <= 64, at
 * most 256 MiB), else CC_ERR_MALFORMED. */
cc_err crypto_scrypt_params_check(const struct crypto_scrypt_params *prm);
/* scrypt (RFC 7914): out_len (1..64) bytes from the passphrase and salt. */
cc_err crypto_scrypt(const char *pass, size_t pass_len, const uint8_t *salt, size_t salt_len,
		     const struct crypto_scrypt_params *prm, uint8_t *out, size_t out_len);
/* PKCS#8 EncryptedPrivateKeyInfo PEM ("ENCRYPTED PRIVATE KEY"): PBES2 with
 * scrypt (crypto_scrypt_default, a random 16-byte salt) and AES-256-CBC, as
 * `openssl pkcs8 -topk8 -scrypt` writes it. Reading accepts only that scheme
 * (CC_ERR_MALFORMED otherwise); CC_ERR_BAD_PASSPHRASE if pass does not open
 * it. */
cc_err crypto_rsa_private_to_pem_encrypted(const struct crypto_rsa_key *key, const char *pass,
					   size_t pass_len, struct buf *out);
cc_err crypto_rsa_private_from_pem_encrypted(const char *pem, size_t len, const char *pass,
					     size_t pass_len, struct crypto_rsa_key **out);

/* ---- Key files (keyfile.c) ------------------------------------------------
 * A PEM private key file, in clear or encrypted under a passphrase. Writes
 * are atomic (a temp file in the same directory, fsync, rename, fsync of the
 * directory) with mode 0600. Missing files are CC_ERR_NOT_FOUND. */
enum crypto_key_file_kind {
	CRYPTO_KEY_FILE_CLEAR,          /* "PRIVATE KEY" */
	CRYPTO_KEY_FILE_ENCRYPTED,      /* "ENCRYPTED PRIVATE KEY" */
};
/* Which of the two PATH is, from its PEM label alone (CC_ERR_MALFORMED for
 * neither). */
cc_err crypto_key_file_kind(const char *path, enum crypto_key_file_kind *out);
/* pass NULL: the file must be in clear (an encrypted one is
 * CC_ERR_BAD_PASSPHRASE). Otherwise it must be encrypted and open under pass
 * (CC_ERR_BAD_PASSPHRASE if it does not; a key in clear is CC_ERR_SECURITY:
 * someone put it where a protected one was). */
cc_err crypto_rsa_load_key_file(const char *path, const char *pass, size_t pass_len,
				struct crypto_rsa_key **out);
/* Encrypted under pass, or in clear if pass is NULL. */
cc_err crypto_rsa_save_key_file(const struct crypto_rsa_key *key, const char *path,
				const char *pass, size_t pass_len);
/* The clear forms: load_key_file and save_key_file without a passphrase. */
cc_err crypto_rsa_load_private_file(const char *path, struct crypto_rsa_key **out);
cc_err crypto_rsa_save_private_file(const struct crypto_rsa_key *key, const char *path);

/* SHA-256 of the public key's SubjectPublicKeyInfo DER. */
cc_err crypto_rsa_fingerprint(const struct crypto_rsa_key *key,
			      uint8_t out[CRYPTO_FINGERPRINT_LEN]);

/* RSA-OAEP-SHA256. encrypt appends crypto_rsa_size() bytes to out. decrypt
 * writes at most out_max bytes; any failure is CC_ERR_AUTH, with no detail
 * (no padding oracle). */
cc_err crypto_rsa_oaep_encrypt(const struct crypto_rsa_key *key,
			       const uint8_t *label, size_t label_len,
			       const uint8_t *pt, size_t pt_len, struct buf *out);
cc_err crypto_rsa_oaep_decrypt(const struct crypto_rsa_key *key,
			       const uint8_t *label, size_t label_len,
			       const uint8_t *ct, size_t ct_len,
			       uint8_t *out, size_t out_max, size_t *out_len);

/* RSA-PSS-SHA256, 32-byte salt. sign appends crypto_rsa_size() bytes to out;
 * verify returns CC_OK or CC_ERR_AUTH. */
cc_err crypto_rsa_pss_sign(const struct crypto_rsa_key *key,
			   const uint8_t *msg, size_t msg_len, struct buf *out);
cc_err crypto_rsa_pss_verify(const struct crypto_rsa_key *key,
			     const uint8_t *msg, size_t msg_len,
			     const uint8_t *sig, size_t sig_len);

/* ---- Proof of work (puzzle.c) -------------------------------------------
 * Hash puzzles: a nonce such that SHA-256(prefix || u64be(nonce)) starts with
 * at least `bits` zero bits. Finding one takes 2^bits hashes on average;
 * checking one takes one. */
/* Leading zero bits of the n bytes at p (most significant bit first). */
unsigned crypto_leading_zero_bits(const uint8_t *p, size_t n);
/* 1 if nonce solves the puzzle (always, for 0 bits), else 0. prefix_len <= 256. */
int crypto_puzzle_check(const uint8_t *prefix, size_t prefix_len, unsigned bits, uint64_t nonce);
/* Tries first, first + 1, ... (at most `tries` nonces) and sets *nonce to the
 * first that solves the puzzle: CC_OK, or CC_ERR_NOT_FOUND. bits <= 256. */
cc_err crypto_puzzle_solve(const uint8_t *prefix, size_t prefix_len, unsigned bits,
			   uint64_t first, uint64_t tries, uint64_t *nonce);

/* ---- HPKE (hpke.c) ------------------------------------------------------
 * RFC 9180, base mode only: DHKEM(X25519, HKDF-SHA256) (kem 0x0020),
 * HKDF-SHA256 (kdf 0x0001), AES-GCM. The product uses AES-256-GCM (aead
 * 0x0002); AES-128-GCM (0x0001) is there for RFC 9180's own test vectors. */
#define CRYPTO_HPKE_ENC_LEN 32
enum crypto_hpke_aead {
	CRYPTO_HPKE_AES_128_GCM = 1,
	CRYPTO_HPKE_AES_256_GCM = 2,
};
/* A context set up for one direction; wiped by crypto_hpke_ctx_wipe. */
struct crypto_hpke_ctx {
	enum crypto_hpke_aead aead;
	uint8_t shared_secret[32];
	uint8_t key[32];
	size_t key_len;
	uint8_t base_nonce[CRYPTO_AEAD_NONCE_LEN];
	uint64_t seq;
};
/* SetupBaseS with a given ephemeral private key (the test vectors'; the
 * product's calls use crypto_hpke_seal, which draws one). enc gets pkE. */
cc_err crypto_hpke_setup_sender(enum crypto_hpke_aead aead, const uint8_t pk_r[CRYPTO_X25519_LEN],
				const uint8_t sk_e[CRYPTO_X25519_LEN], const uint8_t *info,
				size_t info_len, uint8_t enc[CRYPTO_HPKE_ENC_LEN],
				struct crypto_hpke_ctx *ctx);
cc_err crypto_hpke_setup_recipient(enum crypto_hpke_aead aead,
				   const uint8_t sk_r[CRYPTO_X25519_LEN],
				   const uint8_t enc[CRYPTO_HPKE_ENC_LEN], const uint8_t *info,
				   size_t info_len, struct crypto_hpke_ctx *ctx);
/* The next message of the context (nonce = base_nonce XOR seq): out gets
 * pt_len + 16 bytes / ct_len - 16 bytes; CC_ERR_AUTH if it does not open. */
cc_err crypto_hpke_ctx_seal(struct crypto_hpke_ctx *ctx, const uint8_t *aad, size_t aad_len,
			    const uint8_t *pt, size_t pt_len, uint8_t *out);
cc_err crypto_hpke_ctx_open(struct crypto_hpke_ctx *ctx, const uint8_t *aad, size_t aad_len,
			    const uint8_t *ct, size_t ct_len, uint8_t *out);
void crypto_hpke_ctx_wipe(struct crypto_hpke_ctx *ctx);
/* Single-shot, AES-256-GCM, a fresh ephemeral key: enc then pt_len + 16
 * bytes of ciphertext appended to out. */
cc_err crypto_hpke_seal(const uint8_t pk_r[CRYPTO_X25519_LEN], const uint8_t *info,
			size_t info_len, const uint8_t *aad, size_t aad_len, const uint8_t *pt,
			size_t pt_len, struct buf *out);
/* The other end: in = enc || ciphertext; out gets in_len - 48 bytes. Every
 * failure is CC_ERR_AUTH. */
cc_err crypto_hpke_open(const uint8_t sk_r[CRYPTO_X25519_LEN], const uint8_t *info,
			size_t info_len, const uint8_t *aad, size_t aad_len, const uint8_t *in,
			size_t in_len, uint8_t *out);

#endif
