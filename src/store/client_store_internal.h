/* What the client store's files share, and nothing else includes:
 * client_store.c (the schema, rooms, counters, pins, signing keys, activity),
 * client_store_keys.c (receiving keys, chain keys) and client_store_seal.c
 * (how their secret columns are kept). */
#ifndef CC_CLIENT_STORE_INTERNAL_H
#define CC_CLIENT_STORE_INTERNAL_H

#include <stdbool.h>

#include "store/client_store.h"
#include "store/sqlite_util.h"
#include "util/buf.h"

#define CSTORE_NAME "client store"

enum cstore_stmt_id {
	STMT_BEGIN,
	STMT_COMMIT,
	STMT_ROLLBACK,
	STMT_SAVEPOINT,
	STMT_RELEASE,
	STMT_ROLLBACK_TO,
	STMT_CHAIN_INSERT,
	STMT_CHAIN_FORGOTTEN,
	STMT_ROOM_KEYS_FROM,
	STMT_RECV_MAX,
	STMT_CHAIN_GET,
	STMT_CHAIN_SET,
	STMT_CHAIN_COUNT,
	STMT_CHAIN_SENT,
	STMT_CHAIN_FORGET,
	STMT_CHAIN_FORGET_ROOM,
	STMT_RECV_PUT,
	STMT_RECV_RETIRE,
	STMT_RECV_GET,
	STMT_RECV_CURRENT,
	STMT_RECV_DELETE,
	STMT_RECV_SEEN_GET,
	STMT_RECV_SEEN_PUT,
	STMT_SEEN_GET,
	STMT_SEEN_PUT,
	STMT_SEEN_FORGET,
	STMT_ROOM_GET,
	STMT_ROOM_PUT,
	STMT_ROOM_LAST_ID,
	STMT_ROOM_FORGET,
	STMT_SIGN_GET,
	STMT_SIGN_PUT,
	STMT_OWN_KEY_PUT,
	STMT_OWN_KEY_GET,
	STMT_ACTIVITY_GET,
	STMT_ACTIVITY_PUT,
	STMT_PIN_GET,
	STMT_PIN_PUT,
	STMT_AT_REST_GET,
	STMT_AT_REST_PUT,
	STMT_RECV_ALL,
	STMT_RECV_SET_PRIV,
	STMT_CHAIN_ALL,
	STMT_CHAIN_SET_KEY,
	STMT_ROOM_TITLES,
	STMT_ROOM_SET_TITLE,
	STMT_COUNT_
};

struct client_store {
	sqlite3 *db;
	sqlite3_stmt *stmt[STMT_COUNT_];
	int version;
	bool sealed;                           /* the at_rest row says so */
	const struct cstore_sealer *sealer;    /* set once a sealed store is unlocked */
	bool batch;                            /* inside cstore_begin .. cstore_commit */
};

/* ---- secret columns (client_store_seal.c) ---- */

/* The associated data of a secret value (client_store.h), for a row of
 * recv_keys or of chains, into aad (initialised here; the caller frees). */
#define CSTORE_AAD_MAX 128
cc_err cstore_aad_recv(uint32_t version, const uint8_t pub[CSTORE_KEY_LEN], struct buf *aad);
cc_err cstore_aad_chain(const uint8_t room[CSTORE_ROOM_ID_LEN], uint32_t epoch,
			const uint8_t sender[CSTORE_FP_LEN], uint64_t next_seq, struct buf *aad);
/* Binds a 32-byte secret to column col of statement id, sealed under aad
 * if the store is sealed. On error the statement is left clean. */
cc_err cstore_bind_secret(struct client_store *cs, enum cstore_stmt_id id, int col,
			  const struct buf *aad, const uint8_t key[CSTORE_KEY_LEN]);
/* Reads column col as a 32-byte secret, opened under aad if sealed:
 * CC_ERR_STORE if it is not a value of the store's kind, CC_ERR_AUTH if it
 * does not open where it is. out is wiped on error. */
cc_err cstore_col_secret(struct client_store *cs, sqlite3_stmt *s, int col,
			 const struct buf *aad, uint8_t out[CSTORE_KEY_LEN]);
/* A room's title (LEN bytes, at most CSTORE_TITLE_MAX) to column col:
 * TEXT in clear, a sealed BLOB (associated data: the table and the room)
 * in a sealed store; an empty one is empty TEXT in both. */
cc_err cstore_bind_title(struct client_store *cs, enum cstore_stmt_id id, int col,
			 const uint8_t room[CSTORE_ROOM_ID_LEN], const char *title, size_t len);
/* Reads column col as ROOM's title into out (CSTORE_TITLE_MAX + 1 bytes):
 * CC_ERR_STORE if it is not of the store's kind or not a title,
 * CC_ERR_AUTH if it does not open where it is. */
cc_err cstore_col_title(struct client_store *cs, sqlite3_stmt *s, int col,
			const uint8_t room[CSTORE_ROOM_ID_LEN], char *out);
/* Reads the at_rest row into cs->sealed (at open). */
cc_err cstore_at_rest_load(struct client_store *cs);

/* Shorthands that bind the log name and the statement table. */
cc_err cstore_run(struct client_store *cs, enum cstore_stmt_id id, const char *what);
cc_err cstore_bind_room(struct client_store *cs, enum cstore_stmt_id id, const uint8_t *room);
cc_err cstore_bind_int(struct client_store *cs, enum cstore_stmt_id id, int col, int64_t v,
		       const char *what);
cc_err cstore_bind_blob(struct client_store *cs, enum cstore_stmt_id id, int col,
			const void *p, int len, const char *what);
cc_err cstore_tx_begin(struct client_store *cs);
/* Commits on success, rolls back otherwise; returns the outcome. */
cc_err cstore_tx_end(struct client_store *cs, cc_err err);
/* Steps a bound query that returns at most one row and reads its first
 * column as an integer in [min, INT64_MAX]: CC_OK, CC_ERR_NOT_FOUND or an
 * error. Always resets the statement. */
cc_err cstore_fetch_int(struct client_store *cs, enum cstore_stmt_id id, int64_t min,
			int64_t *v, const char *what);
/* Binds ?1 room, then ?2.. as the blob fp (if not NULL) and the integers a, b
 * (each if >= 0): the shapes of every keyed statement here. On error the
 * statement is left clean. */
cc_err cstore_bind_key(struct client_store *cs, enum cstore_stmt_id id, const uint8_t *room,
		       const uint8_t *fp, int64_t a, int64_t b);
/* Copies column col (TEXT of at most max bytes, no NUL) into out. */
bool cstore_col_text(sqlite3_stmt *s, int col, char *out, size_t max);
/* Copies column col, a BLOB of exactly n bytes, into out: false if it is not. */
bool cstore_col_fixed(sqlite3_stmt *s, int col, void *out, size_t n);

#endif
