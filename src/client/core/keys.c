/* Keys that expire: this client's receiving keys (made, published, rotated,
 * their private parts deleted after a grace period), the secrets of epochs
 * (opened, turned at once into one chain key per sender, then forgotten and
 * the server told to forget its wrapped copy), and the message keys of the
 * per-sender hash ratchets (each used once; the chain keys only move
 * forward, none passed over is kept). docs/PROTOCOL.md section 9.2. */
#include <stdlib.h>
#include <string.h>

#include "client/core/internal.h"
#include "store/client_store.h"
#include "util/clock.h"
#include "util/log.h"

/* ---- receiving keys ------------------------------------------------------------ */

/* Makes the next receiving key (version after `after`) and stores it. */
static cc_err recv_key_make(struct client *cl, uint32_t after)
{
	struct cstore_recv_key k = {0};
	if (after == UINT32_MAX)
		return CC_ERR_LIMIT;
	k.version = after + 1;
	k.created_ms = clock_now_ms();
	cc_err err = crypto_x25519_keypair(k.priv, k.pub);
	if (!err)
		err = cstore_recv_add(cl->store, &k);
	if (!err)
		log_info("made receiving key %u", (unsigned)k.version);
	mem_wipe(&k, sizeof k);
	return err;
}

cc_err client_recv_key_ready(struct client *cl, uint32_t server_version)
{
	struct cstore_recv_key cur;
	cc_err err = cstore_recv_current(cl->store, &cur);
	uint32_t have = err ? 0 : cur.version;
	bool due = err == CC_ERR_NOT_FOUND ||
		   (!err && clock_now_ms() - cur.created_ms >= cl->cfg.recv_rotate_ms) ||
		   have < server_version;
	mem_wipe(&cur, sizeof cur);
	if (err && err != CC_ERR_NOT_FOUND)
		return err;
	/* A newer version than the server knows of ours, and newer than any it
	 * knows (a home restored from a backup may lag behind it). */
	if (due && (err = recv_key_make(cl, have > server_version ? have : server_version)))
		return err;
	return cstore_recv_current(cl->store, &cl->recv);
}

void client_recv_key_start(struct client *cl, struct client_req *req)
{
	struct proto_msg m = {.type = PROTO_RECEIVE_KEY};
	struct buf cert;
	buf_init(&cert, PROTO_SIGN_CERT_MAX);
	cc_err err = e2e_recv_cert_make(cl->identity, cl->recv.version, cl->recv.created_ms,
					cl->recv.pub, &cert);
	if (!err) {
		m.u.receive_key.version = cl->recv.version;
		m.u.receive_key.created_ms = cl->recv.created_ms;
		memcpy(m.u.receive_key.recv_pub, cl->recv.pub, PROTO_X25519_LEN);
		m.u.receive_key.recv_cert = (struct proto_bytes){cert.data, cert.len};
		req->step = STEP_CHANGE;
		err = client_req_send(cl, req, &m);
	}
	buf_free(&cert);
	if (err)
		client_req_end(cl, req, err);
}

void client_recv_key_publish(struct client *cl, bool connecting)
{
	cc_err err = client_recv_key_ready(cl, 0);
	struct client_req *req = err ? NULL : client_req_new(cl, REQ_RECV_KEY, false);
	if (!req) {
		if (connecting)
			client_fail(cl, "store_error", "cannot make or load a receiving key");
		else
			log_warn("cannot make a new receiving key: %s", cc_err_str(err));
		return;
	}
	req->connecting = connecting;
	if (connecting)
		client_recv_key_start(cl, req);  /* not ready yet: no pump */
	else
		client_reqs_pump(cl);
}

cc_err client_recv_key_renew(struct client *cl)
{
	cc_err err = recv_key_make(cl, cl->recv.version);
	return err ? err : cstore_recv_current(cl->store, &cl->recv);
}

bool client_recv_key_due(const struct client *cl)
{
	return cl->recv.version == 0 ||
	       clock_now_ms() - cl->recv.created_ms >= cl->cfg.recv_rotate_ms;
}

void client_recv_keys_prune(struct client *cl)
{
	uint64_t now = clock_now_ms();
	uint32_t deleted = 0;
	if (now <= cl->cfg.recv_grace_ms)
		return;
	if (cstore_recv_delete_retired(cl->store, now - cl->cfg.recv_grace_ms, &deleted))
		log_warn("cannot delete retired receiving keys");
	else if (deleted)
		log_info("deleted %u retired receiving key(s)", (unsigned)deleted);
}

/* ---- epoch secrets ------------------------------------------------------------------ */

/* An epoch opened this long after our next receiving key was made, yet
 * wrapped to the one before, was wrapped by someone who had not seen the new
 * key: slack for clocks and for a wrap made as we rotated. */
#define WRAP_STALE_MS (60 * 60 * 1000ull)

/* 1 if the secret of an epoch that started at started_ms was wrapped to our
 * key `version` although its successor had been published well before:
 * whoever holds a copy of that older key (a device copied, then lost) reads
 * the epoch, so a healthy room would not have used it. */
static bool wrapped_to_stale_key(struct client *cl, uint32_t version, uint64_t started_ms)
{
	struct cstore_recv_key next;
	if (version >= cl->recv.version || version == UINT32_MAX ||
	    cstore_recv_get(cl->store, version + 1, &next) != CC_OK)
		return false;
	uint64_t replaced = next.created_ms;
	mem_wipe(&next, sizeof next);
	return started_ms > replaced + WRAP_STALE_MS;
}

cc_err client_wrapped_open(struct client *cl, const struct client_room *r, uint32_t epoch,
			   const uint8_t *wrapped, size_t len, uint8_t secret[E2E_KEY_LEN],
			   bool *stale, const char **why)
{
	struct cstore_recv_key k;
	uint32_t version;
	uint8_t commit[PROTO_HASH_LEN];
	const uint8_t *want = e2e_chain_commit(&r->chain, epoch);

	if (!want) {
		*why = "the server handed out a key of an epoch the room never had";
		return CC_ERR_SECURITY;
	}
	if (e2e_wrapped_version(wrapped, len, &version) != CC_OK) {
		*why = "the server handed out a room key that does not parse";
		return CC_ERR_SECURITY;
	}
	cc_err err = cstore_recv_get(cl->store, version, &k);
	if (err == CC_ERR_NOT_FOUND) {
		/* Deleted (retired long ago) or never ours: not the server's lie
		 * necessarily, but this epoch is lost to us. */
		*why = "a room key was wrapped to a receiving key this client no longer has";
		return CC_ERR_NOT_FOUND;
	}
	if (err)
		return err;
	/* Wrapped to us under the identity key the chain knew us by then (we
	 * may have moved to a new one since). */
	const struct e2e_member *self = e2e_chain_sender(&r->chain, cl->nick, epoch);
	err = e2e_key_unwrap(k.priv, self ? self->fp : cl->fp, r->room_id, epoch, wrapped, len,
			     secret);
	mem_wipe(&k, sizeof k);
	if (err) {
		*why = "the server handed out a room key that does not open";
		return CC_ERR_SECURITY;
	}
	e2e_key_commit(r->room_id, epoch, secret, commit);
	if (!crypto_ct_equal(want, commit, sizeof commit)) {
		mem_wipe(secret, E2E_KEY_LEN);
		*why = "the server handed out a room key the chain does not commit to";
		return CC_ERR_SECURITY;
	}
	const struct e2e_epoch *e = e2e_chain_epoch(&r->chain, epoch);
	*stale = e && wrapped_to_stale_key(cl, version, e->started_ms);
	return CC_OK;
}

/* The members who may send in an epoch: the chain's spans that cover it. */
static size_t epoch_senders(const struct e2e_chain *chain, uint32_t epoch,
			    uint8_t (*fps)[CRYPTO_FINGERPRINT_LEN])
{
	size_t n = 0;
	for (size_t i = 0; i < chain->nspans; i++) {
		const struct e2e_span *s = &chain->spans[i];
		if (s->from > epoch || epoch >= s->to)
			continue;
		bool dup = false;
		for (size_t k = 0; k < n && !dup; k++)
			dup = memcmp(fps[k], s->who.fp, CRYPTO_FINGERPRINT_LEN) == 0;
		if (!dup)
			memcpy(fps[n++], s->who.fp, CRYPTO_FINGERPRINT_LEN);
	}
	return n;
}

cc_err client_epoch_take(struct client *cl, const struct e2e_chain *chain, uint32_t epoch,
			 const uint8_t secret[E2E_KEY_LEN], const struct proto_bytes *title_ct,
			 char title[E2E_TITLE_MAX + 1])
{
	const struct e2e_epoch *e = e2e_chain_epoch(chain, epoch);
	uint8_t base[E2E_KEY_LEN], key[E2E_KEY_LEN];
	uint8_t (*fps)[CRYPTO_FINGERPRINT_LEN] = NULL, (*cks)[E2E_KEY_LEN] = NULL;
	cc_err err;

	if (!e)
		return CC_ERR_INTERNAL;
	if ((err = e2e_epoch_base(secret, chain->room_id, epoch, e->open_hash, base)))
		return err;
	fps = calloc(chain->nspans + 1, sizeof *fps);
	cks = calloc(chain->nspans + 1, sizeof *cks);
	if (!fps || !cks) {
		err = CC_ERR_NOMEM;
		goto out;
	}
	size_t n = epoch_senders(chain, epoch, fps);
	for (size_t i = 0; i < n && !err; i++)
		err = e2e_chain_start(base, fps[i], cks[i]);
	if (!err)
		err = cstore_epoch_add(cl->store, chain->room_id, epoch,
				       (const uint8_t(*)[CSTORE_FP_LEN])fps,
				       (const uint8_t(*)[CSTORE_KEY_LEN])cks, n);
	if (!err && title_ct && title_ct->len && title) {
		if ((err = e2e_title_key(base, key)))
			goto out;
		if (e2e_title_open(key, chain->room_id, epoch, title_ct->p, title_ct->len, title))
			title[0] = '\0', err = CC_ERR_AUTH;
	}
out:
	mem_wipe(base, sizeof base);
	mem_wipe(key, sizeof key);
	if (cks)
		mem_wipe(cks, (chain->nspans + 1) * sizeof *cks);
	free(cks);
	free(fps);
	return err;
}

cc_err client_title_seal(const uint8_t secret[E2E_KEY_LEN], const struct e2e_chain *chain,
			 const char *title, struct buf *out)
{
	const struct e2e_epoch *e = e2e_chain_epoch(chain, chain->epoch);
	uint8_t base[E2E_KEY_LEN], key[E2E_KEY_LEN];
	if (!e)
		return CC_ERR_INTERNAL;
	cc_err err = e2e_epoch_base(secret, chain->room_id, chain->epoch, e->open_hash, base);
	if (!err)
		err = e2e_title_key(base, key);
	if (!err)
		err = e2e_title_seal(key, chain->room_id, chain->epoch, title, out);
	mem_wipe(base, sizeof base);
	mem_wipe(key, sizeof key);
	return err;
}

void client_keys_ack(struct client *cl, const uint8_t room[PROTO_ROOM_ID_LEN], uint32_t epoch)
{
	struct proto_msg m = {.type = PROTO_KEYS_ACK};
	memcpy(m.u.keys_ack.room_id, room, PROTO_ROOM_ID_LEN);
	m.u.keys_ack.epoch = epoch;
	if (cl->chan && client_send(cl, &m) != CC_OK)
		log_warn("cannot tell the server to forget a room's keys");
}

void client_epochs_forget_ended(struct client *cl, struct client_room *r)
{
	/* An epoch is over for good once we have handled every message the
	 * server stored before the record that ended it: no valid message of
	 * it can come any more (rooms.c refuses one stored after its end). */
	uint32_t upto = UINT32_MAX;
	for (uint32_t e = r->keys_from; e < r->chain.epoch; e++) {
		const struct e2e_epoch *ep = e2e_chain_epoch(&r->chain, e);
		if (!ep || ep->end_seq == E2E_SEQ_NONE || ep->end_seq >= r->positions_cap ||
		    r->positions[ep->end_seq] > r->last_msg_id)
			break;
		upto = e;
	}
	if (upto == UINT32_MAX)
		return;
	if (cstore_epoch_forget(cl->store, r->room_id, upto) != CC_OK) {
		log_warn("room %s: cannot delete the keys of ended epochs", r->id_hex);
		return;
	}
	log_debug("room %s: deleted the keys of epochs up to %u", r->id_hex, (unsigned)upto);
	r->keys_from = upto + 1;
}

/* ---- message keys --------------------------------------------------------------------- */

cc_err client_message_key_own(struct client *cl, const struct client_room *r, uint32_t epoch,
			      uint8_t mk[E2E_KEY_LEN], uint64_t *seq)
{
	uint8_t ck[E2E_KEY_LEN];
	uint64_t next;
	cc_err err = cstore_chain_get(cl->store, r->room_id, epoch, cl->fp, ck, &next);
	if (!err)
		err = e2e_ratchet_step(ck, mk, ck);
	/* Stored before the key is used: a crash cannot make us use it twice. */
	if (!err)
		err = cstore_chain_advance(cl->store, r->room_id, epoch, cl->fp, ck, next + 1);
	mem_wipe(ck, sizeof ck);
	if (err)
		mem_wipe(mk, E2E_KEY_LEN);
	else
		*seq = next;
	return err;
}

cc_err client_message_key_recv(struct client *cl, const struct client_room *r, uint32_t epoch,
			       const uint8_t sender[CRYPTO_FINGERPRINT_LEN], uint64_t seq,
			       uint8_t mk[E2E_KEY_LEN], struct cstore_ratchet *step)
{
	uint8_t ck[E2E_KEY_LEN];
	uint64_t next;
	cc_err err = cstore_chain_get(cl->store, r->room_id, epoch, sender, ck, &next);
	if (err)
		return err;  /* CC_ERR_NOT_FOUND: no key of that epoch (any more) */
	if (seq < next) {
		/* Its key is gone with the chain's step: used, or passed over. */
		mem_wipe(ck, sizeof ck);
		return CC_ERR_REPLAYED;
	}
	if (seq - next > CLIENT_MAX_SKIP) {
		mem_wipe(ck, sizeof ck);
		return CC_ERR_LIMIT;
	}
	uint8_t passed[E2E_KEY_LEN];
	for (uint64_t n = next; !err && n < seq; n++)
		err = e2e_ratchet_step(ck, passed, ck);
	mem_wipe(passed, sizeof passed);
	if (!err)
		err = e2e_ratchet_step(ck, mk, ck);
	if (!err) {
		memcpy(step->chain_key, ck, E2E_KEY_LEN);
		step->next_seq = seq + 1;
	}
	mem_wipe(ck, sizeof ck);
	if (err)
		mem_wipe(mk, E2E_KEY_LEN);
	return err;
}
