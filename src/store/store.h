/* The store: the server's durable state behind one interface, and the only
 * code that includes <sqlite3.h>. SQLite in WAL mode; the schema is versioned
 * (PRAGMA user_version) and migrated forward on open.
 *
 * Nicknames are compared without regard to case: the store keeps the nickname
 * as registered and a lowercase copy with a UNIQUE index. A key (by its
 * fingerprint) owns at most one nickname. */
#ifndef CC_STORE_H
#define CC_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

#define STORE_NICK_MAX 32
#define STORE_FINGERPRINT_LEN 32
/* Largest public key (SubjectPublicKeyInfo DER) the store accepts; an
 * RSA-4096 key is about 550 bytes. */
#define STORE_PUBKEY_MAX 2048

struct store;

struct store_user {
	int64_t id;
	char nick[STORE_NICK_MAX + 1];
	uint8_t fingerprint[STORE_FINGERPRINT_LEN];
	uint8_t *pubkey;          /* SubjectPublicKeyInfo DER, malloc'd */
	size_t pubkey_len;
	uint64_t created_s;
	uint64_t last_seen_s;
};

/* Opens (creating if needed) the database at path, sets WAL, foreign keys and
 * a busy timeout, and migrates the schema to the newest version. */
cc_err store_open(const char *path, struct store **out);
void store_close(struct store *st);
/* The schema version after migration. */
int store_schema_version(struct store *st);
/* The newest schema version this code knows (the number of migration steps).
 * store_open refuses a file with a newer one (CC_ERR_VERSION). */
int store_schema_latest(void);

/* Binds nick to the key with this fingerprint, or finds the binding:
 *   nick free and key unknown      -> new user, CC_OK
 *   nick bound to this key         -> last_seen updated, CC_OK
 *   nick bound to another key      -> CC_ERR_NICK_TAKEN
 *   key bound to another nick      -> CC_ERR_EXISTS (out->nick names it)
 * out is filled on CC_OK and CC_ERR_EXISTS; release it with store_user_clear.
 * A key that owns a nickname and asks for one bound to another key gets
 * CC_ERR_EXISTS (its own binding), not CC_ERR_NICK_TAKEN. An invalid nickname is
 * CC_ERR_BAD_NICK, an empty key CC_ERR_MALFORMED, a key over STORE_PUBKEY_MAX
 * CC_ERR_TOO_LARGE. The get and register functions zero out first, so
 * store_user_clear is always safe on it. */
cc_err store_user_register(struct store *st, const char *nick,
			   const uint8_t *pubkey, size_t pubkey_len,
			   const uint8_t fingerprint[STORE_FINGERPRINT_LEN],
			   uint64_t now_s, struct store_user *out);
/* Case-insensitive lookup; CC_ERR_NOT_FOUND if nobody has the nickname. */
cc_err store_user_get_by_nick(struct store *st, const char *nick, struct store_user *out);
cc_err store_user_get_by_fingerprint(struct store *st,
				     const uint8_t fingerprint[STORE_FINGERPRINT_LEN],
				     struct store_user *out);
cc_err store_user_get_by_id(struct store *st, int64_t id, struct store_user *out);
/* Records that the user was seen now (on connect and on disconnect). */
cc_err store_user_touch(struct store *st, int64_t id, uint64_t now_s);
/* Frees what a get/register put in u (wipes nothing secret: keys are public). */
void store_user_clear(struct store_user *u);

#endif
