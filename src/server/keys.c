/* Keys on the server: the signing and receiving keys users publish (checked
 * against the session's identity key, never older than the stored ones), the
 * directory that hands them out, and the acknowledgements of wrapped room
 * keys, after which the server deletes its copy. */
#include <event2/event.h>
#include <stdio.h>
#include <string.h>

#include "e2e/e2e.h"
#include "server/rooms_internal.h"
#include "store/store.h"
#include "transport/chan.h"
#include "util/clock.h"
#include "util/log.h"

cc_err handle_signing_key(struct conn *c, const struct proto_signing_key *sk)
{
	/* Only a key its owner certified is handed out to others. */
	if (e2e_signing_cert_verify(chan_peer_key(c->chan), sk->version, sk->sign_pub,
				    sk->sign_cert.p, sk->sign_cert.len)) {
		conn_send_error(c, sk->request_id, CC_ERR_AUTH, "the signing key's certificate "
								"does not verify");
		return CC_OK;
	}
	/* Never back to an older key: a stolen one stays retired. */
	cc_err err = store_user_set_signing_key(c->srv->store, c->user_id, sk->version,
						sk->sign_pub, sk->sign_cert.p, sk->sign_cert.len);
	if (err == CC_ERR_OUTDATED)
		conn_send_error(c, sk->request_id, err, "a newer signing key of this identity "
							 "key is already published");
	else if (err)
		conn_send_error(c, sk->request_id, err, NULL);
	else
		reply_ok(c, sk->request_id);
	return CC_OK;
}

cc_err handle_receive_key(struct conn *c, const struct proto_receive_key *rk)
{
	/* Only a key its owner certified is handed out to others, and only a
	 * point that is a key. */
	cc_err bad = e2e_recv_cert_verify(chan_peer_key(c->chan), rk->version, rk->created_ms,
					  rk->recv_pub, rk->recv_cert.p, rk->recv_cert.len);
	if (bad == CC_ERR_MALFORMED) {
		conn_send_error(c, rk->request_id, bad, "the receiving key is a low-order point");
		return CC_OK;
	}
	if (bad) {
		conn_send_error(c, rk->request_id, CC_ERR_AUTH, "the receiving key's certificate "
								"does not verify");
		return CC_OK;
	}
	/* Never back to an older key: room secrets must not go to one its owner
	 * has deleted (or lost). */
	cc_err err = store_user_set_receive_key(c->srv->store, c->user_id, rk->version,
						rk->created_ms, rk->recv_pub, rk->recv_cert.p,
						rk->recv_cert.len);
	if (err == CC_ERR_OUTDATED)
		conn_send_error(c, rk->request_id, err, "a newer receiving key of this identity "
							 "key is already published");
	else if (err)
		conn_send_error(c, rk->request_id, err, NULL);
	else
		reply_ok(c, rk->request_id);
	return CC_OK;
}

/* Appends the directory entry of the key with this fingerprint (a user's, or
 * a retired one) to a list being built. */
cc_err user_item_put(struct server *srv, const uint8_t fp[PROTO_FINGERPRINT_LEN],
		     struct buf *raw)
{
	struct store_public_key k;
	struct proto_user_item item = {0};

	cc_err err = store_public_key_get(srv->store, fp, &k);
	if (err)
		return err;
	item.nick = proto_bytes_str(k.nick);
	item.identity_key = (struct proto_bytes){k.pubkey, k.pubkey_len};
	item.sign_version = k.sign_version;
	memcpy(item.sign_pub, k.sign_pub, sizeof item.sign_pub);
	item.sign_cert = (struct proto_bytes){k.sign_cert, k.sign_cert_len};
	item.recv_version = k.recv.version;
	item.recv_created_ms = k.recv.created_ms;
	memcpy(item.recv_pub, k.recv.pub, sizeof item.recv_pub);
	item.recv_cert = (struct proto_bytes){k.recv.cert, k.recv.cert_len};
	err = proto_item_encode(PROTO_ITEM_USER, &item, raw);
	store_public_key_clear(&k);
	return err;
}

/* The session's user moves to a new identity key: the statement signed by
 * the session's key (its owner chose the new key) and by the new key (the
 * asker holds it). Then every connection of the old key is closed: the old
 * key is revoked, and its sessions must not outlive it. */
cc_err handle_key_move(struct conn *c, const struct proto_key_move *km)
{
	struct server *srv = c->srv;
	struct crypto_rsa_key *new_key = NULL;
	uint8_t old_fp[PROTO_FINGERPRINT_LEN], new_fp[PROTO_FINGERPRINT_LEN];
	cc_err err;

	memcpy(old_fp, chan_peer_fingerprint(c->chan), sizeof old_fp);
	if ((err = crypto_rsa_public_from_der(km->new_key.p, km->new_key.len, &new_key))) {
		conn_send_error(c, km->request_id, err == CC_ERR_NOMEM ? err : CC_ERR_MALFORMED,
				"the new key is not an RSA key of 2048 to 4096 bits");
		return CC_OK;
	}
	if ((err = crypto_rsa_fingerprint(new_key, new_fp)))
		goto out;
	if (e2e_key_move_verify(chan_peer_key(c->chan), old_fp, new_fp, km->time_ms,
				km->old_sig.p, km->old_sig.len) ||
	    e2e_key_move_verify(new_key, old_fp, new_fp, km->time_ms, km->new_sig.p,
				km->new_sig.len)) {
		conn_send_error(c, km->request_id, CC_ERR_AUTH,
				"the move is not signed by both keys");
		goto out;
	}
	server_rooms_commit(srv);
	err = store_user_move_key(srv->store, c->user_id, km->new_key.p, km->new_key.len, new_fp,
				  clock_now_s());
	if (err == CC_ERR_EXISTS) {
		conn_send_error(c, km->request_id, err, "that key is already known here");
		err = CC_OK;
		goto out;
	}
	if (err)
		goto out;
	log_info("conn %s: %s moved to a new identity key", c->peer, c->nick);
	reply_ok(c, km->request_id);
	for (struct conn *o = srv->conns; o; o = o->next)
		if (o->user_id == c->user_id && !o->closing)
			conn_close_after_flush(o);
out:
	crypto_rsa_free(new_key);
	if (err)
		conn_send_error(c, km->request_id, err, NULL);
	return CC_OK;
}

/* The member holds the room's keys up to an epoch: its wrapped copies go,
 * and the write-ahead log is truncated soon after so they do not linger. */
cc_err handle_keys_ack(struct conn *c, const struct proto_keys_ack *req)
{
	struct store_room room;
	struct store_member member;
	if (room_of_member(c, req->room_id, &room, &member) != CC_OK)
		return CC_OK;  /* no answer: a room left meanwhile */
	struct server *srv = c->srv;
	if (!server_txn_ensure(srv))
		return CC_OK;
	cc_err err = store_key_forget(srv->store, room.id, c->user_id, req->epoch);
	if (err)
		log_warn("conn %s: cannot forget keys: %s", c->peer, cc_err_str(err));
	else
		server_checkpoint_soon(srv);
	return CC_OK;
}

