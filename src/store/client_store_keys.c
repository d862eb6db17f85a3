/* The client store's secrets: this client's receiving keys, the newest
 * receiving key seen per user and every sender's current chain key.
 * Nothing here derives a key (that is src/e2e/):
 * it keeps what it is given, for as short a time as the caller says, and
 * deletes it for real (secure_delete, a rollback journal). Every secret
 * column is written and read through cstore_bind_secret and
 * cstore_col_secret (client_store_seal.c), which seal it under the home's
 * passphrase when it has one. */
#include "store/client_store.h"

#include <string.h>

#include "store/client_store_internal.h"
#include "util/buf.h"
#include "util/log.h"

/* ---- receiving keys ------------------------------------------------------------ */

static cc_err recv_read(struct client_store *cs, sqlite3_stmt *s, struct cstore_recv_key *out)
{
	int64_t v = sqlite3_column_int64(s, 0), created = sqlite3_column_int64(s, 3);
	int64_t retired = sqlite3_column_int64(s, 4);
	if (sqlite3_column_type(s, 0) != SQLITE_INTEGER || v < 1 || v > UINT32_MAX ||
	    created < 0 || retired < 0 || !cstore_col_fixed(s, 2, out->pub, CSTORE_KEY_LEN)) {
		log_error(CSTORE_NAME ": recv_keys row is damaged");
		mem_wipe(out, sizeof *out);
		return CC_ERR_STORE;
	}
	struct buf aad;
	cc_err err = cstore_aad_recv((uint32_t)v, out->pub, &aad);
	if (!err)
		err = cstore_col_secret(cs, s, 1, &aad, out->priv);
	buf_free(&aad);
	if (err) {
		mem_wipe(out, sizeof *out);
		return err;
	}
	out->version = (uint32_t)v;
	out->created_ms = (uint64_t)created;
	out->retired_ms = (uint64_t)retired;
	return CC_OK;
}

static cc_err recv_fetch(struct client_store *cs, enum cstore_stmt_id id,
			 struct cstore_recv_key *out)
{
	sqlite3_stmt *s = cs->stmt[id];
	cc_err err = sqlite_util_step_row(CSTORE_NAME, s, "read receiving key");
	if (!err)
		err = recv_read(cs, s, out);
	sqlite_util_stmt_done(s);
	return err;
}

cc_err cstore_recv_add(struct client_store *cs, const struct cstore_recv_key *k)
{
	if (!cs || !k || k->version == 0)
		return CC_ERR_INTERNAL;
	if (k->created_ms == 0 || k->created_ms > INT64_MAX)
		return CC_ERR_MALFORMED;
	cc_err err = cstore_tx_begin(cs);
	if (err)
		return err;
	/* Only ever newer: an older one would never be retired, so never deleted. */
	int64_t top = 0;
	err = cstore_fetch_int(cs, STMT_RECV_MAX, 0, &top, "read receiving keys");
	if (!err && (int64_t)k->version <= top)
		err = CC_ERR_OUTDATED;
	struct buf aad;
	buf_init(&aad, CSTORE_AAD_MAX);
	if (!err)
		err = cstore_aad_recv(k->version, k->pub, &aad);
	if (!err)
		err = cstore_bind_key(cs, STMT_RECV_PUT, NULL, NULL, k->version, -1);
	if (!err)
		err = cstore_bind_secret(cs, STMT_RECV_PUT, 2, &aad, k->priv);
	buf_free(&aad);
	if (!err)
		err = cstore_bind_blob(cs, STMT_RECV_PUT, 3, k->pub, CSTORE_KEY_LEN, "bind key");
	if (!err)
		err = cstore_bind_int(cs, STMT_RECV_PUT, 4, (int64_t)k->created_ms, "bind time");
	if (err)
		sqlite_util_stmt_done(cs->stmt[STMT_RECV_PUT]);
	else
		err = cstore_run(cs, STMT_RECV_PUT, "store receiving key");
	if (!err)
		err = cstore_bind_key(cs, STMT_RECV_RETIRE, NULL, NULL, k->version,
				      (int64_t)k->created_ms);
	if (!err)
		err = cstore_run(cs, STMT_RECV_RETIRE, "retire receiving keys");
	return cstore_tx_end(cs, err);
}

cc_err cstore_recv_get(struct client_store *cs, uint32_t version, struct cstore_recv_key *out)
{
	if (!cs || !out)
		return CC_ERR_INTERNAL;
	memset(out, 0, sizeof *out);
	cc_err err = cstore_bind_key(cs, STMT_RECV_GET, NULL, NULL, version, -1);
	return err ? err : recv_fetch(cs, STMT_RECV_GET, out);
}

cc_err cstore_recv_current(struct client_store *cs, struct cstore_recv_key *out)
{
	if (!cs || !out)
		return CC_ERR_INTERNAL;
	memset(out, 0, sizeof *out);
	return recv_fetch(cs, STMT_RECV_CURRENT, out);
}

cc_err cstore_recv_delete_retired(struct client_store *cs, uint64_t before_ms,
				  uint32_t *deleted)
{
	if (deleted)
		*deleted = 0;
	if (!cs)
		return CC_ERR_INTERNAL;
	if (before_ms > INT64_MAX)
		before_ms = INT64_MAX;
	cc_err err = cstore_bind_key(cs, STMT_RECV_DELETE, NULL, NULL, (int64_t)before_ms, -1);
	if (!err)
		err = cstore_run(cs, STMT_RECV_DELETE, "delete retired receiving keys");
	if (!err && deleted)
		*deleted = (uint32_t)sqlite3_changes(cs->db);
	return err;
}

cc_err cstore_recv_seen_get(struct client_store *cs, const uint8_t fp[CSTORE_FP_LEN],
			    uint32_t *version, uint64_t *created_ms, uint8_t pub[CSTORE_KEY_LEN])
{
	if (pub)
		memset(pub, 0, CSTORE_KEY_LEN);
	if (version)
		*version = 0;
	if (created_ms)
		*created_ms = 0;
	if (!cs || !fp || !version || !created_ms || !pub)
		return CC_ERR_INTERNAL;
	sqlite3_stmt *s = cs->stmt[STMT_RECV_SEEN_GET];
	cc_err err = cstore_bind_key(cs, STMT_RECV_SEEN_GET, NULL, fp, -1, -1);
	if (err)
		return err;
	err = sqlite_util_step_row(CSTORE_NAME, s, "read receiving key seen");
	if (!err) {
		int64_t v = sqlite3_column_int64(s, 0), created = sqlite3_column_int64(s, 1);
		if (sqlite3_column_type(s, 0) != SQLITE_INTEGER || v < 1 || v > UINT32_MAX ||
		    created < 0 || !cstore_col_fixed(s, 2, pub, CSTORE_KEY_LEN)) {
			log_error(CSTORE_NAME ": recv_seen row is damaged");
			err = CC_ERR_STORE;
		} else {
			*version = (uint32_t)v;
			*created_ms = (uint64_t)created;
		}
	}
	sqlite_util_stmt_done(s);
	return err;
}

cc_err cstore_recv_seen_put(struct client_store *cs, const uint8_t fp[CSTORE_FP_LEN],
			    uint32_t version, uint64_t created_ms,
			    const uint8_t pub[CSTORE_KEY_LEN])
{
	if (!cs || !fp || !pub || version == 0)
		return CC_ERR_INTERNAL;
	if (created_ms > INT64_MAX)
		return CC_ERR_MALFORMED;
	cc_err err = cstore_bind_key(cs, STMT_RECV_SEEN_PUT, NULL, fp, version,
				     (int64_t)created_ms);
	if (!err)
		err = cstore_bind_blob(cs, STMT_RECV_SEEN_PUT, 4, pub, CSTORE_KEY_LEN, "bind key");
	if (err) {
		sqlite_util_stmt_done(cs->stmt[STMT_RECV_SEEN_PUT]);
		return err;
	}
	return cstore_run(cs, STMT_RECV_SEEN_PUT, "store receiving key seen");
}

/* ---- chains ------------------------------------------------------------------------ */

/* Binds room, epoch, sender (?1..?3) of a chain statement. */
static cc_err bind_chain(struct client_store *cs, enum cstore_stmt_id id, const uint8_t *room,
			 uint32_t epoch, const uint8_t *sender)
{
	cc_err err = cstore_bind_key(cs, id, room, NULL, epoch, -1);
	if (!err && sender)
		err = cstore_bind_blob(cs, id, 3, sender, CSTORE_FP_LEN, "bind sender");
	if (err)
		sqlite_util_stmt_done(cs->stmt[id]);
	return err;
}

cc_err cstore_epoch_add(struct client_store *cs, const uint8_t room[CSTORE_ROOM_ID_LEN],
			uint32_t epoch, const uint8_t (*senders)[CSTORE_FP_LEN],
			const uint8_t (*chain_keys)[CSTORE_KEY_LEN], size_t n)
{
	if (!cs || !room || (n && (!senders || !chain_keys)))
		return CC_ERR_INTERNAL;
	cc_err err = cstore_tx_begin(cs);
	int64_t forgotten = 0;
	if (!err)
		err = cstore_bind_key(cs, STMT_CHAIN_FORGOTTEN, room, NULL, epoch, -1);
	if (!err)
		err = cstore_fetch_int(cs, STMT_CHAIN_FORGOTTEN, 0, &forgotten, "read room");
	if (!err && forgotten)
		n = 0;  /* deleted for good: not made again */
	for (size_t i = 0; !err && i < n; i++) {
		/* Every chain starts at number 1 (the statement's). */
		struct buf aad;
		err = cstore_aad_chain(room, epoch, senders[i], 1, &aad);
		if (!err)
			err = bind_chain(cs, STMT_CHAIN_INSERT, room, epoch, senders[i]);
		if (!err)
			err = cstore_bind_secret(cs, STMT_CHAIN_INSERT, 4, &aad, chain_keys[i]);
		buf_free(&aad);
		if (!err)
			err = cstore_run(cs, STMT_CHAIN_INSERT, "store chain");
		else
			sqlite_util_stmt_done(cs->stmt[STMT_CHAIN_INSERT]);
	}
	return cstore_tx_end(cs, err);
}

cc_err cstore_epoch_has(struct client_store *cs, const uint8_t room[CSTORE_ROOM_ID_LEN],
			uint32_t epoch)
{
	if (!cs || !room)
		return CC_ERR_INTERNAL;
	int64_t n = 0;
	cc_err err = cstore_bind_key(cs, STMT_CHAIN_COUNT, room, NULL, epoch, -1);
	if (!err)
		err = cstore_fetch_int(cs, STMT_CHAIN_COUNT, 0, &n, "count chains");
	return err ? err : n > 0 ? CC_OK : CC_ERR_NOT_FOUND;
}

cc_err cstore_epoch_messages(struct client_store *cs, const uint8_t room[CSTORE_ROOM_ID_LEN],
			     uint32_t epoch, uint64_t *count)
{
	if (!cs || !room || !count)
		return CC_ERR_INTERNAL;
	*count = 0;
	int64_t n = 0;
	cc_err err = cstore_bind_key(cs, STMT_CHAIN_SENT, room, NULL, epoch, -1);
	if (!err)
		err = cstore_fetch_int(cs, STMT_CHAIN_SENT, 0, &n, "count messages");
	if (!err)
		*count = (uint64_t)n;
	return err == CC_ERR_NOT_FOUND ? CC_OK : err;
}

cc_err cstore_chain_get(struct client_store *cs, const uint8_t room[CSTORE_ROOM_ID_LEN],
			uint32_t epoch, const uint8_t sender[CSTORE_FP_LEN],
			uint8_t chain_key[CSTORE_KEY_LEN], uint64_t *next_seq)
{
	if (!cs || !room || !sender || !chain_key || !next_seq)
		return CC_ERR_INTERNAL;
	memset(chain_key, 0, CSTORE_KEY_LEN);
	*next_seq = 0;
	sqlite3_stmt *s = cs->stmt[STMT_CHAIN_GET];
	cc_err err = bind_chain(cs, STMT_CHAIN_GET, room, epoch, sender);
	if (err)
		return err;
	err = sqlite_util_step_row(CSTORE_NAME, s, "read chain");
	if (!err) {
		int64_t next = sqlite3_column_int64(s, 1);
		struct buf aad;
		buf_init(&aad, CSTORE_AAD_MAX);
		if (sqlite3_column_type(s, 1) != SQLITE_INTEGER || next < 1) {
			log_error(CSTORE_NAME ": chains row is damaged");
			err = CC_ERR_STORE;
		}
		if (!err)
			err = cstore_aad_chain(room, epoch, sender, (uint64_t)next, &aad);
		if (!err)
			err = cstore_col_secret(cs, s, 0, &aad, chain_key);
		buf_free(&aad);
		if (err)
			mem_wipe(chain_key, CSTORE_KEY_LEN);
		else
			*next_seq = (uint64_t)next;
	}
	sqlite_util_stmt_done(s);
	return err;
}

cc_err cstore_chain_advance(struct client_store *cs, const uint8_t room[CSTORE_ROOM_ID_LEN],
			    uint32_t epoch, const uint8_t sender[CSTORE_FP_LEN],
			    const uint8_t chain_key[CSTORE_KEY_LEN], uint64_t next_seq)
{
	if (!cs || !room || !sender || !chain_key)
		return CC_ERR_INTERNAL;
	if (next_seq > INT64_MAX)
		return CC_ERR_LIMIT;
	struct buf aad;
	cc_err err = cstore_aad_chain(room, epoch, sender, next_seq, &aad);
	if (!err)
		err = bind_chain(cs, STMT_CHAIN_SET, room, epoch, sender);
	if (!err)
		err = cstore_bind_secret(cs, STMT_CHAIN_SET, 4, &aad, chain_key);
	buf_free(&aad);
	if (!err)
		err = cstore_bind_int(cs, STMT_CHAIN_SET, 5, (int64_t)next_seq, "bind number");
	if (err) {
		sqlite_util_stmt_done(cs->stmt[STMT_CHAIN_SET]);
		return err;
	}
	err = cstore_run(cs, STMT_CHAIN_SET, "advance chain");
	if (!err && sqlite3_changes(cs->db) == 0) {
		uint8_t ck[CSTORE_KEY_LEN];
		uint64_t have = 0;
		err = cstore_chain_get(cs, room, epoch, sender, ck, &have);
		mem_wipe(ck, sizeof ck);
		if (!err)
			err = CC_ERR_STALE_EPOCH;
	}
	return err;
}

/* Group commit (client_store.h): inside it cstore_tx_begin makes savepoints. */
cc_err cstore_begin(struct client_store *cs)
{
	if (!cs)
		return CC_ERR_INTERNAL;
	if (cs->batch)
		return CC_ERR_STATE;
	cc_err err = cstore_run(cs, STMT_BEGIN, "begin batch");
	if (!err)
		cs->batch = true;
	return err;
}

cc_err cstore_commit(struct client_store *cs)
{
	if (!cs || !cs->batch)
		return CC_ERR_STATE;
	cs->batch = false;
	return sqlite_util_tx_end(CSTORE_NAME, cs->stmt[STMT_COMMIT], cs->stmt[STMT_ROLLBACK],
				  CC_OK);
}

void cstore_rollback(struct client_store *cs)
{
	if (!cs || !cs->batch)
		return;
	cs->batch = false;
	sqlite_util_tx_rollback(CSTORE_NAME, cs->stmt[STMT_ROLLBACK]);
}

cc_err cstore_message_handled(struct client_store *cs, const uint8_t room[CSTORE_ROOM_ID_LEN],
			      const uint8_t sender_fp[CSTORE_FP_LEN], uint32_t epoch,
			      uint64_t seq, uint64_t msg_id, uint64_t signed_ms,
			      const struct cstore_ratchet *ratchet)
{
	if (!cs || !room || !sender_fp)
		return CC_ERR_INTERNAL;
	/* No honest sender gets there (numbers count up from 1). */
	if (seq > INT64_MAX || msg_id > INT64_MAX || signed_ms > INT64_MAX)
		return CC_ERR_MALFORMED;
	cc_err err = cstore_tx_begin(cs);
	if (err)
		return err;
	if (ratchet)
		err = cstore_chain_advance(cs, room, epoch, sender_fp, ratchet->chain_key,
					   ratchet->next_seq);
	if (!err)
		err = cstore_bind_key(cs, STMT_SEEN_PUT, room, sender_fp, epoch, (int64_t)seq);
	if (!err)
		err = cstore_run(cs, STMT_SEEN_PUT, "store seen");
	if (!err)
		err = cstore_room_last_id_put(cs, room, msg_id);
	if (!err)
		err = cstore_activity_put(cs, sender_fp, signed_ms);
	return cstore_tx_end(cs, err);
}

cc_err cstore_epoch_forget(struct client_store *cs, const uint8_t room[CSTORE_ROOM_ID_LEN],
			   uint32_t max_epoch)
{
	if (!cs || !room)
		return CC_ERR_INTERNAL;
	cc_err err = cstore_tx_begin(cs);
	if (!err)
		err = cstore_bind_key(cs, STMT_CHAIN_FORGET, room, NULL, max_epoch, -1);
	if (!err)
		err = cstore_run(cs, STMT_CHAIN_FORGET, "forget chains");
	if (!err)
		err = cstore_bind_key(cs, STMT_ROOM_KEYS_FROM, room, NULL, (int64_t)max_epoch + 1, -1);
	if (!err)
		err = cstore_run(cs, STMT_ROOM_KEYS_FROM, "store forgotten epochs");
	return cstore_tx_end(cs, err);
}
