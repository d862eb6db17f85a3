/* How the client store keeps its secret columns (recv_keys.priv,
 * chains.chain_key, rooms.title): in clear, or sealed by a sealer the client core gives
 * it once the home's passphrase is proven (client_store.h). The store cannot
 * include the crypto layer, and need not: it knows where each value lives,
 * so it builds the associated data that binds the value to its row, and the
 * sealer knows the key. This way no caller can forget to seal a value or
 * bind it to the wrong place: every read and write of a secret column goes
 * through cstore_bind_secret and cstore_col_secret. */
#include "store/client_store.h"

#include <stdlib.h>
#include <string.h>

#include "store/client_store_internal.h"
#include "util/log.h"
#include "util/testpoint.h"

#define SEALED_LEN (CSTORE_KEY_LEN + CSTORE_SEAL_OVERHEAD)
static const char aad_label[] = "cryptocat/1 client.db";

_Static_assert(SEALED_LEN == 60, "the schema's CHECKs say 60");

/* Initialises aad (nothing to free before) with the label and the table. */
static cc_err aad_start(struct buf *aad, const char *table)
{
	buf_init(aad, CSTORE_AAD_MAX);
	cc_err err = buf_put_bytes(aad, aad_label, sizeof aad_label);  /* with its NUL */
	if (!err)
		err = buf_put_bytes(aad, table, strlen(table) + 1);
	return err;
}

cc_err cstore_aad_recv(uint32_t version, const uint8_t pub[CSTORE_KEY_LEN], struct buf *aad)
{
	cc_err err = aad_start(aad, "recv_keys");
	if (!err)
		err = buf_put_u32(aad, version);
	if (!err)
		err = buf_put_bytes(aad, pub, CSTORE_KEY_LEN);
	return err;
}

cc_err cstore_aad_chain(const uint8_t room[CSTORE_ROOM_ID_LEN], uint32_t epoch,
			const uint8_t sender[CSTORE_FP_LEN], uint64_t next_seq, struct buf *aad)
{
	cc_err err = aad_start(aad, "chains");
	if (!err)
		err = buf_put_bytes(aad, room, CSTORE_ROOM_ID_LEN);
	if (!err)
		err = buf_put_u32(aad, epoch);
	if (!err)
		err = buf_put_bytes(aad, sender, CSTORE_FP_LEN);
	if (!err)
		err = buf_put_u64(aad, next_seq);
	return err;
}

static cc_err aad_room(const uint8_t room[CSTORE_ROOM_ID_LEN], struct buf *aad)
{
	cc_err err = aad_start(aad, "rooms");
	if (!err)
		err = buf_put_bytes(aad, room, CSTORE_ROOM_ID_LEN);
	return err;
}

/* A title to column col as WITH keeps it. */
static cc_err bind_title_with(struct client_store *cs, enum cstore_stmt_id id, int col,
			      const uint8_t *room, const char *title, size_t len,
			      const struct cstore_sealer *with)
{
	sqlite3_stmt *s = cs->stmt[id];
	if (!with || len == 0)
		return sqlite_util_bind_check(CSTORE_NAME, s,
					      sqlite3_bind_text(s, col, title, (int)len,
								SQLITE_TRANSIENT), "bind title");
	uint8_t sealed[CSTORE_TITLE_MAX + CSTORE_SEAL_OVERHEAD];
	struct buf aad;
	cc_err err = aad_room(room, &aad);
	if (!err)
		err = with->seal(with->ctx, aad.data, aad.len, (const uint8_t *)title, len, sealed);
	buf_free(&aad);
	if (!err)
		err = sqlite_util_bind_check(CSTORE_NAME, s,
					     sqlite3_bind_blob(s, col, sealed,
							       (int)(len + CSTORE_SEAL_OVERHEAD),
							       SQLITE_TRANSIENT), "bind sealed title");
	return err;
}

/* Reads a title (out: CSTORE_TITLE_MAX + 1 bytes) as WITH keeps it. */
static cc_err col_title_with(sqlite3_stmt *s, int col, const uint8_t *room, char *out,
			     const struct cstore_sealer *with)
{
	out[0] = '\0';
	int type = sqlite3_column_type(s, col);
	const void *p = sqlite3_column_blob(s, col);
	size_t n = (size_t)sqlite3_column_bytes(s, col);
	if (type == SQLITE_TEXT && (!with || n == 0))
		return cstore_col_text(s, col, out, CSTORE_TITLE_MAX) ? CC_OK : CC_ERR_STORE;
	if (type != SQLITE_BLOB || !with || !p || n <= CSTORE_SEAL_OVERHEAD ||
	    n > CSTORE_TITLE_MAX + CSTORE_SEAL_OVERHEAD) {
		log_error(CSTORE_NAME ": a title is not kept as this file says (%s)",
			  with ? "sealed" : "in clear");
		return CC_ERR_STORE;
	}
	size_t len = n - CSTORE_SEAL_OVERHEAD;
	struct buf aad;
	cc_err err = aad_room(room, &aad);
	if (!err)
		err = with->open(with->ctx, aad.data, aad.len, p, n, (uint8_t *)out);
	buf_free(&aad);
	if (err) {
		mem_wipe(out, CSTORE_TITLE_MAX + 1);
		log_error(CSTORE_NAME ": a sealed title does not open where it is: client.db was changed");
		return CC_ERR_AUTH;
	}
	out[len] = '\0';
	if (memchr(out, '\0', len)) {
		mem_wipe(out, CSTORE_TITLE_MAX + 1);
		return CC_ERR_STORE;
	}
	return CC_OK;
}

/* Binds key to the column as WITH keeps it (NULL: in clear). */
static cc_err bind_secret_with(struct client_store *cs, enum cstore_stmt_id id, int col,
			       const struct buf *aad, const uint8_t key[CSTORE_KEY_LEN],
			       const struct cstore_sealer *with)
{
	sqlite3_stmt *s = cs->stmt[id];
	if (!with)
		return cstore_bind_blob(cs, id, col, key, CSTORE_KEY_LEN, "bind key");
	uint8_t sealed[SEALED_LEN];
	cc_err err = with->seal(with->ctx, aad->data, aad->len, key, CSTORE_KEY_LEN, sealed);
	if (!err)
		err = sqlite_util_bind_check(CSTORE_NAME, s,
					     sqlite3_bind_blob(s, col, sealed, sizeof sealed,
							       SQLITE_TRANSIENT), "bind sealed key");
	return err;
}

/* The sealer values are written with now: CC_ERR_STATE while a sealed store
 * is locked. */
static cc_err current_sealer(const struct client_store *cs, const struct cstore_sealer **out)
{
	*out = cs->sealed ? cs->sealer : NULL;
	if (cs->sealed && !cs->sealer) {
		log_error(CSTORE_NAME ": its keys are sealed and no passphrase opened them");
		return CC_ERR_STATE;
	}
	return CC_OK;
}

cc_err cstore_bind_secret(struct client_store *cs, enum cstore_stmt_id id, int col,
			  const struct buf *aad, const uint8_t key[CSTORE_KEY_LEN])
{
	const struct cstore_sealer *with;
	cc_err err = current_sealer(cs, &with);
	if (!err)
		err = bind_secret_with(cs, id, col, aad, key, with);
	if (err)
		sqlite_util_stmt_done(cs->stmt[id]);
	return err;
}

/* Reads the column as WITH keeps it. */
static cc_err col_secret_with(sqlite3_stmt *s, int col, const struct buf *aad,
			      uint8_t out[CSTORE_KEY_LEN], const struct cstore_sealer *with)
{
	size_t want = with ? SEALED_LEN : CSTORE_KEY_LEN;
	const void *p = sqlite3_column_blob(s, col);
	if (sqlite3_column_type(s, col) != SQLITE_BLOB || !p ||
	    (size_t)sqlite3_column_bytes(s, col) != want) {
		/* A key in clear in a sealed store (or the reverse) is not ours. */
		log_error(CSTORE_NAME ": a key is not kept as this file says (%s)",
			  with ? "sealed" : "in clear");
		return CC_ERR_STORE;
	}
	if (!with) {
		memcpy(out, p, CSTORE_KEY_LEN);
		return CC_OK;
	}
	cc_err err = with->open(with->ctx, aad->data, aad->len, p, SEALED_LEN, out);
	if (err) {
		mem_wipe(out, CSTORE_KEY_LEN);
		log_error(CSTORE_NAME ": a sealed key does not open where it is: client.db was changed");
		return CC_ERR_AUTH;
	}
	return CC_OK;
}

cc_err cstore_col_secret(struct client_store *cs, sqlite3_stmt *s, int col,
			 const struct buf *aad, uint8_t out[CSTORE_KEY_LEN])
{
	const struct cstore_sealer *with;
	cc_err err = current_sealer(cs, &with);
	if (!err)
		err = col_secret_with(s, col, aad, out, with);
	if (err)
		mem_wipe(out, CSTORE_KEY_LEN);
	return err;
}

cc_err cstore_bind_title(struct client_store *cs, enum cstore_stmt_id id, int col,
			 const uint8_t room[CSTORE_ROOM_ID_LEN], const char *title, size_t len)
{
	const struct cstore_sealer *with;
	cc_err err = len > CSTORE_TITLE_MAX ? CC_ERR_TOO_LARGE : current_sealer(cs, &with);
	if (!err)
		err = bind_title_with(cs, id, col, room, title, len, with);
	if (err)
		sqlite_util_stmt_done(cs->stmt[id]);
	return err;
}

cc_err cstore_col_title(struct client_store *cs, sqlite3_stmt *s, int col,
			const uint8_t room[CSTORE_ROOM_ID_LEN], char *out)
{
	const struct cstore_sealer *with;
	out[0] = '\0';
	cc_err err = current_sealer(cs, &with);
	return err ? err : col_title_with(s, col, room, out, with);
}

/* ---- the at_rest row ---------------------------------------------------------------- */

static cc_err at_rest_read(struct client_store *cs, struct cstore_at_rest *out)
{
	memset(out, 0, sizeof *out);
	sqlite3_stmt *s = cs->stmt[STMT_AT_REST_GET];
	cc_err err = sqlite_util_step_row(CSTORE_NAME, s, "read at_rest");
	if (!err) {
		int64_t sealed = sqlite3_column_int64(s, 0), warned = sqlite3_column_int64(s, 1);
		int64_t n = sqlite3_column_int64(s, 2), r = sqlite3_column_int64(s, 3);
		int64_t p = sqlite3_column_int64(s, 4);
		bool ok = (sealed == 0 || sealed == 1) && (warned == 0 || warned == 1) &&
			  n >= 0 && n <= 63 && r >= 0 && r <= UINT32_MAX && p >= 0 &&
			  p <= UINT32_MAX;
		out->sealed = sealed == 1;
		out->warned = warned == 1;
		out->kdf_log2_n = (uint8_t)n;
		out->kdf_r = (uint32_t)r;
		out->kdf_p = (uint32_t)p;
		if (ok && out->sealed)
			ok = cstore_col_fixed(s, 5, out->salt, CSTORE_SALT_LEN) &&
			     cstore_col_fixed(s, 6, out->check, CSTORE_CHECK_LEN);
		if (ok && sqlite3_column_type(s, 7) != SQLITE_NULL) {
			out->identity_pending = true;
			ok = cstore_col_fixed(s, 7, out->identity_hash, sizeof out->identity_hash);
		}
		if (!ok) {
			log_error(CSTORE_NAME ": at_rest row is damaged");
			memset(out, 0, sizeof *out);
			err = CC_ERR_STORE;
		}
	}
	sqlite_util_stmt_done(s);
	return err;
}

cc_err cstore_at_rest_load(struct client_store *cs)
{
	struct cstore_at_rest row;
	cc_err err = at_rest_read(cs, &row);
	cs->sealed = !err && row.sealed;
	return err == CC_ERR_NOT_FOUND ? CC_OK : err;
}

cc_err cstore_at_rest_get(struct client_store *cs, struct cstore_at_rest *out)
{
	if (!out)
		return CC_ERR_INTERNAL;
	memset(out, 0, sizeof *out);
	if (!cs)
		return CC_ERR_INTERNAL;
	return at_rest_read(cs, out);
}

static cc_err at_rest_write(struct client_store *cs, const struct cstore_at_rest *row)
{
	enum cstore_stmt_id id = STMT_AT_REST_PUT;
	sqlite3_stmt *s = cs->stmt[id];
	cc_err err = cstore_bind_int(cs, id, 1, row->sealed, "bind sealed");
	if (!err)
		err = cstore_bind_int(cs, id, 2, row->warned, "bind warned");
	if (!err)
		err = cstore_bind_int(cs, id, 3, row->sealed ? row->kdf_log2_n : 0, "bind kdf");
	if (!err)
		err = cstore_bind_int(cs, id, 4, row->sealed ? row->kdf_r : 0, "bind kdf");
	if (!err)
		err = cstore_bind_int(cs, id, 5, row->sealed ? row->kdf_p : 0, "bind kdf");
	if (!err && row->sealed)
		err = cstore_bind_blob(cs, id, 6, row->salt, CSTORE_SALT_LEN, "bind salt");
	if (!err && row->sealed)
		err = cstore_bind_blob(cs, id, 7, row->check, CSTORE_CHECK_LEN, "bind check");
	if (!err && row->identity_pending)
		err = cstore_bind_blob(cs, id, 8, row->identity_hash, sizeof row->identity_hash,
				       "bind identity hash");
	if (err) {
		sqlite_util_stmt_done(s);
		return err;
	}
	return cstore_run(cs, id, "store at_rest");
}

cc_err cstore_at_rest_put(struct client_store *cs, const struct cstore_at_rest *row)
{
	if (!cs || !row)
		return CC_ERR_INTERNAL;
	cc_err err = cstore_tx_begin(cs);
	if (err)
		return err;
	struct cstore_at_rest have;
	err = at_rest_read(cs, &have);
	if (err == CC_ERR_NOT_FOUND)
		err = row->sealed ? CC_ERR_STATE : CC_OK;  /* no row: in clear */
	else if (!err && (have.sealed != row->sealed ||
			  (row->sealed && (memcmp(have.salt, row->salt, CSTORE_SALT_LEN) != 0 ||
					   memcmp(have.check, row->check, CSTORE_CHECK_LEN) != 0 ||
					   have.kdf_log2_n != row->kdf_log2_n ||
					   have.kdf_r != row->kdf_r || have.kdf_p != row->kdf_p))))
		err = CC_ERR_STATE;
	if (err == CC_ERR_STATE)
		log_error(CSTORE_NAME ": a change of how keys are kept goes through a reseal");
	if (!err)
		err = at_rest_write(cs, row);
	return cstore_tx_end(cs, err);
}

cc_err cstore_sealer_set(struct client_store *cs, const struct cstore_sealer *sealer)
{
	if (!cs || !sealer || !sealer->seal || !sealer->open)
		return CC_ERR_INTERNAL;
	if (!cs->sealed)
		return CC_ERR_STATE;
	cs->sealer = sealer;
	return CC_OK;
}

/* ---- resealing ------------------------------------------------------------------------ */

/* One secret row as read for a reseal: its key columns and the value. */
enum reseal_table { RESEAL_RECV, RESEAL_CHAINS, RESEAL_TITLES };
struct reseal_row {
	uint8_t room[CSTORE_ROOM_ID_LEN];
	uint8_t sender[CSTORE_FP_LEN];  /* chains; recv_keys: pub */
	int64_t a, b;                   /* chains: epoch, next_seq; recv_keys: version */
	uint8_t key[CSTORE_KEY_LEN];
	char title[CSTORE_TITLE_MAX + 1];
};

struct reseal_rows {
	struct reseal_row *v;
	size_t n, cap;
};

static void rows_free(struct reseal_rows *rows)
{
	if (rows->v)
		mem_wipe(rows->v, rows->cap * sizeof *rows->v);
	free(rows->v);
	memset(rows, 0, sizeof *rows);
}

static cc_err rows_add(struct reseal_rows *rows, struct reseal_row **out)
{
	if (rows->n == rows->cap) {
		size_t cap = rows->cap ? 2 * rows->cap : 64;
		struct reseal_row *v = calloc(cap, sizeof *v);
		if (!v)
			return CC_ERR_NOMEM;
		if (rows->v) {
			/* Not realloc: the old block holds keys and must be wiped. */
			memcpy(v, rows->v, rows->n * sizeof *v);
			mem_wipe(rows->v, rows->cap * sizeof *rows->v);
			free(rows->v);
		}
		rows->v = v;
		rows->cap = cap;
	}
	*out = &rows->v[rows->n++];
	return CC_OK;
}

static const enum cstore_stmt_id reseal_read[] = {STMT_RECV_ALL, STMT_CHAIN_ALL,
						    STMT_ROOM_TITLES};
static const enum cstore_stmt_id reseal_write[] = {STMT_RECV_SET_PRIV, STMT_CHAIN_SET_KEY,
						     STMT_ROOM_SET_TITLE};

/* One row of the table as read by reseal_read[t]: its place, and its value
 * opened with FROM. */
static cc_err row_read(sqlite3_stmt *s, enum reseal_table t, const struct cstore_sealer *from,
		       struct reseal_row *r)
{
	struct buf aad;
	buf_init(&aad, CSTORE_AAD_MAX);
	cc_err err = CC_ERR_STORE;
	if (t == RESEAL_TITLES) {
		if (cstore_col_fixed(s, 0, r->room, CSTORE_ROOM_ID_LEN))
			err = col_title_with(s, 1, r->room, r->title, from);
		return err;
	}
	if (t == RESEAL_CHAINS) {
		r->a = sqlite3_column_int64(s, 1);
		r->b = sqlite3_column_int64(s, 4);
		if (cstore_col_fixed(s, 0, r->room, CSTORE_ROOM_ID_LEN) &&
		    cstore_col_fixed(s, 2, r->sender, CSTORE_FP_LEN) && r->a >= 0 &&
		    r->a <= UINT32_MAX && r->b >= 1)
			err = cstore_aad_chain(r->room, (uint32_t)r->a, r->sender, (uint64_t)r->b,
					       &aad);
	} else {
		r->a = sqlite3_column_int64(s, 0);
		if (cstore_col_fixed(s, 2, r->sender, CSTORE_KEY_LEN) && r->a >= 1 &&
		    r->a <= UINT32_MAX)
			err = cstore_aad_recv((uint32_t)r->a, r->sender, &aad);
	}
	if (!err)
		err = col_secret_with(s, t == RESEAL_CHAINS ? 3 : 1, &aad, r->key, from);
	buf_free(&aad);
	return err;
}

/* Every row of the table, opened with FROM. */
static cc_err rows_read(struct client_store *cs, enum reseal_table t,
			const struct cstore_sealer *from, struct reseal_rows *rows)
{
	sqlite3_stmt *s = cs->stmt[reseal_read[t]];
	cc_err err = CC_OK;
	int rc = SQLITE_DONE;
	while (!err && (rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct reseal_row *r;
		if (!(err = rows_add(rows, &r)))
			err = row_read(s, t, from, r);
	}
	if (!err && rc != SQLITE_DONE) {
		sqlite_util_log(CSTORE_NAME, cs->db, "read keys to reseal");
		err = CC_ERR_STORE;
	}
	sqlite_util_stmt_done(s);
	return err;
}

/* One row written back as TO keeps it. */
static cc_err row_write(struct client_store *cs, enum reseal_table t,
			const struct cstore_sealer *to, const struct reseal_row *r)
{
	enum cstore_stmt_id id = reseal_write[t];
	struct buf aad;
	buf_init(&aad, CSTORE_AAD_MAX);
	cc_err err;
	if (t == RESEAL_TITLES) {
		err = cstore_bind_key(cs, id, r->room, NULL, -1, -1);
		if (!err)
			err = bind_title_with(cs, id, 2, r->room, r->title, strlen(r->title), to);
	} else if (t == RESEAL_CHAINS) {
		err = cstore_aad_chain(r->room, (uint32_t)r->a, r->sender, (uint64_t)r->b, &aad);
		if (!err)
			err = cstore_bind_key(cs, id, r->room, NULL, r->a, -1);
		if (!err)
			err = cstore_bind_blob(cs, id, 3, r->sender, CSTORE_FP_LEN, "bind sender");
		if (!err)
			err = bind_secret_with(cs, id, 4, &aad, r->key, to);
	} else {
		err = cstore_aad_recv((uint32_t)r->a, r->sender, &aad);
		if (!err)
			err = cstore_bind_int(cs, id, 1, r->a, "bind version");
		if (!err)
			err = bind_secret_with(cs, id, 2, &aad, r->key, to);
	}
	buf_free(&aad);
	if (err) {
		sqlite_util_stmt_done(cs->stmt[id]);
		return err;
	}
	return cstore_run(cs, id, "reseal");
}

static cc_err rows_write(struct client_store *cs, enum reseal_table t,
			 const struct cstore_sealer *to, const struct reseal_rows *rows)
{
	cc_err err = CC_OK;
	for (size_t i = 0; !err && i < rows->n; i++) {
		err = row_write(cs, t, to, &rows->v[i]);
		/* A crash here must leave the old state whole (the journal). */
		if (!err && i == 0 && t == RESEAL_RECV)
			testpoint("reseal:first-row");
	}
	return err;
}

cc_err cstore_reseal(struct client_store *cs, const struct cstore_sealer *to,
		     const struct cstore_at_rest *row)
{
	if (!cs || !row || row->sealed != (to != NULL) || (to && (!to->seal || !to->open)))
		return CC_ERR_INTERNAL;
	const struct cstore_sealer *from;
	cc_err err = current_sealer(cs, &from);
	if (err)
		return err;
	struct reseal_rows rows[3] = {{0}};
	if ((err = cstore_tx_begin(cs)))
		return err;
	/* Everything read before anything is written: no statement steps over
	 * a table it is changing. */
	for (enum reseal_table t = RESEAL_RECV; !err && t <= RESEAL_TITLES; t++)
		err = rows_read(cs, t, from, &rows[t]);
	for (enum reseal_table t = RESEAL_RECV; !err && t <= RESEAL_TITLES; t++)
		err = rows_write(cs, t, to, &rows[t]);
	if (!err)
		err = at_rest_write(cs, row);
	err = cstore_tx_end(cs, err);
	for (enum reseal_table t = RESEAL_RECV; t <= RESEAL_TITLES; t++)
		rows_free(&rows[t]);
	if (!err) {
		cs->sealed = row->sealed;
		cs->sealer = to;
		log_info(CSTORE_NAME ": keys now kept %s", to ? "sealed" : "in clear");
	}
	return err;
}
