/* The client's home directory: identity key, saved nickname, pinned servers. */
#ifndef CC_CLIENT_HOME_H
#define CC_CLIENT_HOME_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/crypto.h"
#include "util/err.h"

/* mkdir -p with mode 0700 for the last component. */
cc_err home_prepare(const char *home);
/* Loads home/identity.pem, or makes a key of `bits` and saves it (0600).
 * *created tells which happened. */
cc_err home_identity_load(const char *home, unsigned bits, struct crypto_rsa_key **out,
			  int *created);
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
