/* Moving to a new identity key (/rotate-key): a new RSA key, certified by
 * the old one in a statement both sign (KEY_MOVE); the server then knows
 * the user by the new key and refuses the old one for good. Each room's
 * history learns of it from a MOVE record the old key signs (epochs.c), so
 * members see "moved to a new key, signed by the old one" and a verified
 * contact stays verified (trust.c). docs/PROTOCOL.md section 9.10.
 *
 * The home holds, during a move:
 *   identity.next.pem  the new key, written before KEY_MOVE is sent, so a
 *                      crash after the server took it loses nothing
 *   identity.pem       the key the server knows us by
 *   identity.old.pem   the key we moved from, kept until every room's
 *                      history names the new one (it signs the MOVEs)
 * At start, identity.next.pem means a move whose answer we never saw: the
 * server's answer to the old key says which way it went (revoked: it was
 * made; registered: it was not). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "client/core/home.h"
#include "client/core/internal.h"
#include "store/client_store.h"
#include "util/clock.h"
#include "util/log.h"

static const char ID_CURRENT[] = "identity.pem";
static const char ID_NEXT[] = "identity.next.pem";
static const char ID_OLD[] = "identity.old.pem";

static void home_path(const struct client *cl, const char *name, char *out, size_t n)
{
	snprintf(out, n, "%s/%s", cl->cfg.home, name);
}

cc_err client_identity_set(struct client *cl, struct crypto_rsa_key *key)
{
	cc_err err;
	cl->identity = key;
	buf_reset(&cl->sign_cert);
	/* The old key object goes first: it must never sign for the new seed. */
	crypto_ed25519_priv_free(cl->sign_key);
	cl->sign_key = NULL;
	if ((err = crypto_rsa_fingerprint(key, cl->fp)) ||
	    (err = e2e_signing_key_derive(key, cl->sign_seed, cl->sign_pub)) ||
	    (err = e2e_signing_cert_make(key, 1, cl->sign_pub, &cl->sign_cert)))
		return err;
	return crypto_ed25519_priv_new(cl->sign_seed, &cl->sign_key);
}

/* Loads a key file of the home, under the session's passphrase if the home
 * has one (home_key_load logs why not): CC_ERR_NOT_FOUND if there is none. */
static cc_err key_file_load(const struct client *cl, const char *name, struct crypto_rsa_key **out)
{
	return home_key_load(cl->cfg.home, name, cl->cfg.secrets, out);
}

static void key_file_remove(const struct client *cl, const char *name)
{
	char path[4200];
	home_path(cl, name, path, sizeof path);
	if (unlink(path) != 0 && errno != ENOENT)
		log_warn("cannot remove %s: %s", path, strerror(errno));
}

cc_err client_identity_load_moving(struct client *cl)
{
	cc_err err = key_file_load(cl, ID_OLD, &cl->old_identity);
	if (err == CC_OK)
		err = crypto_rsa_fingerprint(cl->old_identity, cl->old_fp);
	if (err == CC_OK)
		log_info("rooms still to move from our old identity key");
	if (err && err != CC_ERR_NOT_FOUND)
		return err;
	err = key_file_load(cl, ID_NEXT, &cl->next_identity);
	if (err == CC_OK)
		log_info("a move to a new identity key was not answered: the server will say");
	return err == CC_ERR_NOT_FOUND ? CC_OK : err;
}

int client_fp_is_own(struct client *cl, const uint8_t fp[CRYPTO_FINGERPRINT_LEN])
{
	if (memcmp(fp, cl->fp, CRYPTO_FINGERPRINT_LEN) == 0)
		return 1;
	if (cl->old_identity && memcmp(fp, cl->old_fp, CRYPTO_FINGERPRINT_LEN) == 0)
		return 1;
	return cstore_own_key_has(cl->store, fp) == CC_OK;
}

/* The server took the move: the new key becomes ours, the current one the
 * old one (kept to sign the rooms' MOVEs), and a new receiving key is made
 * (a move often means the device was at risk). */
static cc_err identity_promote(struct client *cl)
{
	char cur[4200], next[4200], old[4200];
	char old_hex[CLIENT_FP_HEX], new_hex[CLIENT_FP_HEX];
	home_path(cl, ID_CURRENT, cur, sizeof cur);
	home_path(cl, ID_NEXT, next, sizeof next);
	home_path(cl, ID_OLD, old, sizeof old);

	if (!cl->next_identity)
		return CC_ERR_INTERNAL;
	/* Two renames, each atomic; a crash between them leaves the old key
	 * as identity.old.pem and the new one as identity.next.pem, which the
	 * next start finishes (the server answers the old key: revoked). */
	if (rename(cur, old) != 0 || rename(next, cur) != 0) {
		log_error("cannot put the new identity key in place in %s: %s", cl->cfg.home,
			  strerror(errno));
		return CC_ERR_IO;
	}
	crypto_rsa_free(cl->old_identity);
	cl->old_identity = cl->identity;
	memcpy(cl->old_fp, cl->fp, sizeof cl->old_fp);
	cc_err err = client_identity_set(cl, cl->next_identity);
	cl->next_identity = NULL;
	if (err)
		return err;
	if (cstore_own_key_add(cl->store, cl->old_fp, clock_now_ms()) != CC_OK)
		log_warn("cannot remember our old identity key");
	if ((err = client_recv_key_renew(cl)))
		log_warn("cannot make a new receiving key: %s", cc_err_str(err));
	hex_encode(cl->old_fp, CRYPTO_FINGERPRINT_LEN, old_hex);
	hex_encode(cl->fp, CRYPTO_FINGERPRINT_LEN, new_hex);
	log_info("moved to a new identity key %s", new_hex);
	struct client_event ev = {.type = CLIENT_EV_KEY_ROTATED};
	ev.u.key_rotated.old_fp = old_hex;
	ev.u.key_rotated.new_fp = new_hex;
	client_emit(cl, &ev);
	return CC_OK;
}

int client_identity_on_revoked(struct client *cl)
{
	if (!cl->next_identity)
		return 0;
	if (identity_promote(cl) != CC_OK)
		return 0;
	log_info("the server had taken our move to a new identity key: connecting with it");
	return 1;
}

void client_identity_on_registered(struct client *cl)
{
	if (!cl->next_identity)
		return;
	/* The server knows us by the key we have: the move never happened. */
	crypto_rsa_free(cl->next_identity);
	cl->next_identity = NULL;
	key_file_remove(cl, ID_NEXT);
	client_emit_error(cl, 0, NULL, NULL, "key_move_failed",
			  "the move to a new identity key did not happen: run /rotate-key again");
}

void client_identity_old_done(struct client *cl)
{
	if (!cl->old_identity)
		return;
	crypto_rsa_free(cl->old_identity);
	cl->old_identity = NULL;
	key_file_remove(cl, ID_OLD);
	log_info("every room names our new identity key: the old one is deleted");
}

/* ---- the request ----------------------------------------------------------------- */

uint32_t client_rotate_key(struct client *cl)
{
	struct client_req *req;
	uint32_t id = client_request(cl, REQ_KEY_MOVE, NULL, &req);
	if (req)
		client_reqs_pump(cl);
	return id;
}

void client_key_move_start(struct client *cl, struct client_req *req)
{
	struct crypto_rsa_key *key = NULL;
	uint8_t new_fp[CRYPTO_FINGERPRINT_LEN];
	struct buf der, old_sig, new_sig;
	cc_err err;

	if (cl->old_identity || cl->next_identity) {
		client_req_error(cl, req, "bad_state", "a move to a new identity key is still "
						       "being carried into the rooms: try again "
						       "once it is done");
		client_req_end(cl, req, CC_ERR_STATE);
		return;
	}
	buf_init(&der, PROTO_RSA_PUB_MAX);
	buf_init(&old_sig, PROTO_RSA_BYTES_MAX);
	buf_init(&new_sig, PROTO_RSA_BYTES_MAX);
	req->seq = clock_now_ms();
	/* Written before the server hears of it: a crash after the server
	 * took the move must not lose the key it now knows us by. */
	const char *what = "make the new identity key";
	if (!(err = crypto_rsa_generate(cl->cfg.rsa_bits, &key)) &&
	    (what = "save the new identity key", !(err = home_key_save(cl->cfg.home, ID_NEXT, cl->cfg.secrets, key))) &&
	    (what = "sign the move", !(err = crypto_rsa_fingerprint(key, new_fp))) &&
	    !(err = crypto_rsa_public_to_der(key, &der)) &&
	    !(err = e2e_key_move_sign(cl->identity, cl->fp, new_fp, req->seq, &old_sig)))
		err = e2e_key_move_sign(key, cl->fp, new_fp, req->seq, &new_sig);
	if (err) {
		log_warn("cannot %s: %s", what, cc_err_str(err));
		goto out;
	}
	struct proto_msg m = {.type = PROTO_KEY_MOVE};
	m.u.key_move.new_key = (struct proto_bytes){der.data, der.len};
	m.u.key_move.time_ms = req->seq;
	m.u.key_move.old_sig = (struct proto_bytes){old_sig.data, old_sig.len};
	m.u.key_move.new_sig = (struct proto_bytes){new_sig.data, new_sig.len};
	req->step = STEP_CHANGE;
	if ((err = client_req_send(cl, req, &m))) {
		what = "send the move";
		goto out;
	}
	cl->next_identity = key;
	key = NULL;
out:
	if (err) {
		char text[120];
		snprintf(text, sizeof text, "cannot %s", what);
		key_file_remove(cl, ID_NEXT);
		client_req_error(cl, req, cc_err_code(err), text);
	}
	crypto_rsa_free(key);
	buf_free(&der);
	buf_free(&old_sig);
	buf_free(&new_sig);
	if (err)
		client_req_end(cl, req, err);
}

void client_key_move_on_answer(struct client *cl, struct client_req *req, const struct proto_msg *m)
{
	if (m->type == PROTO_ERROR) {
		crypto_rsa_free(cl->next_identity);
		cl->next_identity = NULL;
		key_file_remove(cl, ID_NEXT);
		client_req_error_msg(cl, req, &m->u.error);
		client_req_end(cl, req, (cc_err)m->u.error.code);
		return;
	}
	if (m->type != PROTO_OK)
		return;
	cc_err err = identity_promote(cl);
	if (err)
		client_req_error(cl, req, cc_err_code(err), "the server took the new identity key "
							    "but it could not be put in place");
	/* The server closes this connection (the old key's); the next one is
	 * the new key's, and its sweep moves the rooms. */
	client_req_end(cl, req, err);
}
