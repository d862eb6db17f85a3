/* The client's home directory: identity key, saved nickname, pinned servers,
 * and how its secrets are kept at rest (secrets.c). */
#ifndef CC_CLIENT_HOME_H
#define CC_CLIENT_HOME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "client/core/client.h"
#include "crypto/crypto.h"
#include "store/client_store.h"
#include "util/err.h"

#define HOME_PATH_MAX 4200
#define HOME_IDENTITY "identity.pem"
#define HOME_DB "client.db"

/* The session's passphrase context: the passphrase, kept while the client
 * runs because key files may be written later (a new identity key), and
 * the key of the client.db it opened (scrypt of it with that file's salt:
 * secrets.c). No passphrase (pass_len 0, or the context NULL): the home's
 * secrets are in clear. Wiped by home_secrets_free. */
struct home_secrets {
	char pass[CRYPTO_PASSPHRASE_MAX];
	size_t pass_len;
	bool derived;                           /* the fields below are set */
	struct crypto_scrypt_params prm;
	uint8_t salt[CSTORE_SALT_LEN];
	uint8_t seal_key[CRYPTO_AEAD_KEY_LEN];
	uint8_t check[CSTORE_CHECK_LEN];
	struct cstore_sealer sealer;            /* AES-256-GCM under seal_key */
};

cc_err home_secrets_new(const char *pass, size_t pass_len, struct home_secrets **out);
void home_secrets_free(struct home_secrets *s);
bool home_secrets_has(const struct home_secrets *s);
/* A new random salt and the default scrypt parameters, the key derived:
 * ROW (zeroed first) describes it, sealed. */
cc_err home_secrets_fresh(struct home_secrets *s, struct cstore_at_rest *row);
/* Derives the key of a sealed ROW and proves it against the row's check
 * value (in constant time): CC_ERR_BAD_PASSPHRASE if it is not the one.
 * HOME names the home in the log. */
cc_err home_secrets_check(struct home_secrets *s, const struct cstore_at_rest *row,
			  const char *home);

/* mkdir -p with mode 0700 for the last component. */
cc_err home_prepare(const char *home);
/* The one pair of functions that reads and writes private key files in the
 * home (identity.pem, and identity.pem.new during a passphrase change):
 * HOME/FILE, encrypted under the context's passphrase if it has one, else in
 * clear (secrets at rest: docs/SECURITY.md). load: CC_ERR_NOT_FOUND if there
 * is none, CC_ERR_BAD_PASSPHRASE if the passphrase does not open it (or a
 * passphrase is needed), CC_ERR_SECURITY for a key in clear where a
 * passphrase protects the home. save: atomic, mode 0600. */
cc_err home_key_load(const char *home, const char *file, const struct home_secrets *s,
		     struct crypto_rsa_key **out);
cc_err home_key_save(const char *home, const char *file, const struct home_secrets *s,
		     const struct crypto_rsa_key *key);
/* Loads home/identity.pem, or makes a key of `bits` and saves it (0600),
 * through the pair above. *created tells which happened. */
cc_err home_identity_load(const char *home, unsigned bits, const struct home_secrets *s,
			  struct crypto_rsa_key **out, int *created);

/* ---- secrets at rest (secrets.c) ---------------------------------------------------- */

/* Opens the home's client.db and identity key under the passphrase context
 * (NULL: none given): finishes or rolls back a passphrase change a crash
 * cut short, checks the passphrase against client.db before anything else
 * is read (CC_ERR_BAD_PASSPHRASE, nothing written), and on a new home keeps
 * its secrets as the context says. The store is unlocked (sealer set) and
 * must be closed before s is freed. */
cc_err home_open(const char *home, unsigned bits, struct home_secrets *s,
		 struct crypto_rsa_key **identity, int *created, struct client_store **store);
/* What protects HOME (client_home_lock_get). */
cc_err home_lock_get(const char *home, enum client_home_lock *out);
/* Checks S against HOME without opening anything else (client_home_unlock). */
cc_err home_unlock(const char *home, struct home_secrets *s);
/* --change-passphrase (client_home_change_passphrase). */
cc_err home_change_passphrase(const char *home, struct home_secrets *old_s,
			      struct home_secrets *new_s);
/* The one-time warning of a home whose keys are in clear: logged (where the
 * front end shows diagnostics) and remembered in client.db. */
void home_clear_warning(struct client_store *cs, const char *home);
/* The nickname saved after the last registration; CC_ERR_NOT_FOUND if none. */
cc_err home_nick_load(const char *home, char *out, size_t n);
cc_err home_nick_save(const char *home, const char *nick);

enum pin_result {
	PIN_NEW,       /* first sight: now pinned */
	PIN_MATCH,     /* the pinned key */
	PIN_CHANGED,   /* another key is pinned for this server: refuse */
};
/* Checks the server "host:port" against home/known_servers, pinning it on
 * first use. On PIN_CHANGED, pinned_hex receives the old fingerprint. */
cc_err home_pin_check(const char *home, const char *server,
		      const uint8_t fp[CRYPTO_FINGERPRINT_LEN], enum pin_result *result,
		      char pinned_hex[2 * CRYPTO_FINGERPRINT_LEN + 1]);

#endif
