/* Trust in other users' keys: pinned on first sight (TOFU), compared out of
 * band with fingerprints and safety numbers, verified by hand. A key that
 * differs from the pin is announced (key_changed) and its messages are marked
 * verified:false until /verify. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "client/core/internal.h"
#include "store/client_store.h"
#include "util/clock.h"
#include "util/log.h"

static const char LABEL_SAFETY[] = "cryptocat/1 safety number";

static int already_announced(struct client *cl, const char *nick,
			     const uint8_t fp[CRYPTO_FINGERPRINT_LEN])
{
	for (size_t i = 0; i < cl->nannounced; i++)
		if (strcasecmp(cl->announced[i].nick, nick) == 0 &&
		    memcmp(cl->announced[i].fp, fp, CRYPTO_FINGERPRINT_LEN) == 0)
			return 1;
	struct client_member_key *a = realloc(cl->announced, (cl->nannounced + 1) * sizeof *a);
	if (a) {
		cl->announced = a;
		snprintf(a[cl->nannounced].nick, sizeof a->nick, "%s", nick);
		memcpy(a[cl->nannounced].fp, fp, CRYPTO_FINGERPRINT_LEN);
		cl->nannounced++;
	}
	return 0;
}

static void emit_key_changed(struct client *cl, uint32_t request, const char *nick,
			     const char *old_hex, const char *new_hex)
{
	struct client_event ev = {.type = CLIENT_EV_KEY_CHANGED, .request = request};
	ev.u.key_changed.nick = nick;
	ev.u.key_changed.old_fp = old_hex;
	ev.u.key_changed.new_fp = new_hex;
	client_emit(cl, &ev);
}

int client_trust_check(struct client *cl, const char *nick,
		       const uint8_t fp[CRYPTO_FINGERPRINT_LEN])
{
	bool verified;
	return client_trust_check_verified(cl, nick, fp, &verified);
}

int client_trust_check_verified(struct client *cl, const char *nick,
				const uint8_t fp[CRYPTO_FINGERPRINT_LEN], bool *verified)
{
	struct cstore_pin pin;
	char old_hex[2 * CRYPTO_FINGERPRINT_LEN + 1], new_hex[2 * CRYPTO_FINGERPRINT_LEN + 1];

	*verified = false;
	if (client_fp_is_own(cl, fp)) {
		*verified = true;
		return 1;  /* ourselves (or a key we moved away from) */
	}
	cc_err err = cstore_pin_get(cl->store, nick, &pin);
	if (err == CC_ERR_NOT_FOUND) {
		if (cstore_pin_put(cl->store, nick, fp, 0, clock_now_ms()) != CC_OK)
			log_warn("cannot pin the key of %s", nick);
		return 1;  /* pinned now, not verified */
	}
	if (err)
		return 0;
	if (memcmp(pin.fp, fp, CRYPTO_FINGERPRINT_LEN) == 0) {
		*verified = pin.verified != 0;
		return 1;
	}
	if (!already_announced(cl, nick, fp)) {
		hex_encode(pin.fp, CRYPTO_FINGERPRINT_LEN, old_hex);
		hex_encode(fp, CRYPTO_FINGERPRINT_LEN, new_hex);
		emit_key_changed(cl, 0, nick, old_hex, new_hex);
	}
	return 0;
}

void client_trust_moved(struct client *cl, const struct client_room *r,
			const struct proto_record *rec)
{
	char nick[PROTO_NICK_MAX + 1];
	char old_hex[CLIENT_FP_HEX], new_hex[CLIENT_FP_HEX];
	struct cstore_pin pin;

	if (rec->action != PROTO_REC_MOVE || client_fp_is_own(cl, rec->actor_fp) ||
	    rec->subject.len > PROTO_NICK_MAX)
		return;
	memcpy(nick, rec->subject.p, rec->subject.len);
	nick[rec->subject.len] = '\0';
	/* Only the key pinned for the name may hand the pin on: another pin is
	 * a changed key (key_changed), no pin a first sight. */
	if (cstore_pin_get(cl->store, nick, &pin) != CC_OK ||
	    memcmp(pin.fp, rec->actor_fp, CRYPTO_FINGERPRINT_LEN) != 0)
		return;
	if (cstore_pin_put(cl->store, nick, rec->subject_fp, pin.verified, clock_now_ms()) != CC_OK) {
		log_warn("cannot pin the new key of %s", nick);
		return;
	}
	hex_encode(rec->actor_fp, CRYPTO_FINGERPRINT_LEN, old_hex);
	hex_encode(rec->subject_fp, CRYPTO_FINGERPRINT_LEN, new_hex);
	struct client_event ev = {.type = CLIENT_EV_KEY_MOVED, .room = r->id_hex};
	ev.u.key_moved.nick = nick;
	ev.u.key_moved.old_fp = old_hex;
	ev.u.key_moved.new_fp = new_hex;
	ev.u.key_moved.trusted = true;
	ev.u.key_moved.verified = pin.verified != 0;
	client_emit(cl, &ev);
}

void client_trust_free(struct client *cl)
{
	free(cl->announced);
	cl->announced = NULL;
	cl->nannounced = 0;
	free(cl->shown);
	cl->shown = NULL;
	cl->nshown = 0;
}

/* Remembers the key shown to the user for nick (what they may compare). */
static void shown_put(struct client *cl, const char *nick, const uint8_t fp[CRYPTO_FINGERPRINT_LEN])
{
	for (size_t i = 0; i < cl->nshown; i++) {
		if (strcasecmp(cl->shown[i].nick, nick) == 0) {
			memcpy(cl->shown[i].fp, fp, CRYPTO_FINGERPRINT_LEN);
			return;
		}
	}
	struct client_member_key *s = realloc(cl->shown, (cl->nshown + 1) * sizeof *s);
	if (!s)
		return;
	cl->shown = s;
	snprintf(s[cl->nshown].nick, sizeof s->nick, "%s", nick);
	memcpy(s[cl->nshown].fp, fp, CRYPTO_FINGERPRINT_LEN);
	cl->nshown++;
}

static const uint8_t *shown_get(const struct client *cl, const char *nick)
{
	for (size_t i = 0; i < cl->nshown; i++)
		if (strcasecmp(cl->shown[i].nick, nick) == 0)
			return cl->shown[i].fp;
	return NULL;
}

/* 60 digits both users compute the same: the two fingerprints in order,
 * expanded with HKDF, read as twelve groups of five digits. */
static cc_err safety_number(const uint8_t a[CRYPTO_FINGERPRINT_LEN],
			    const uint8_t b[CRYPTO_FINGERPRINT_LEN], char out[61])
{
	uint8_t ikm[2 * CRYPTO_FINGERPRINT_LEN], okm[60];
	int first = memcmp(a, b, CRYPTO_FINGERPRINT_LEN) <= 0;
	memcpy(ikm, first ? a : b, CRYPTO_FINGERPRINT_LEN);
	memcpy(ikm + CRYPTO_FINGERPRINT_LEN, first ? b : a, CRYPTO_FINGERPRINT_LEN);
	cc_err err = crypto_hkdf_sha256(ikm, sizeof ikm, NULL, 0, (const uint8_t *)LABEL_SAFETY,
					strlen(LABEL_SAFETY), okm, sizeof okm);
	if (err)
		return err;
	for (int g = 0; g < 12; g++) {
		uint64_t v = 0;
		for (int k = 0; k < 5; k++)
			v = v << 8 | okm[5 * g + k];
		snprintf(out + 5 * g, 6, "%05llu", (unsigned long long)(v % 100000));
	}
	return CC_OK;
}

/* /fingerprint, /safety and /verify about another user: ask the server for
 * the user's key first. */
static uint32_t trust_request(struct client *cl, enum client_req_kind kind, const char *nick)
{
	struct client_req *req;
	uint32_t id = client_request(cl, kind, NULL, &req);
	if (!req)
		return id;
	if (!nick || !proto_nick_valid((const uint8_t *)nick, strlen(nick))) {
		client_req_error(cl, req, "bad_nick", "not a nickname");
		client_req_end(cl, req, CC_ERR_BAD_NICK);
		return id;
	}
	snprintf(req->nick, sizeof req->nick, "%s", nick);
	client_reqs_pump(cl);
	return id;
}

uint32_t client_user_fingerprint(struct client *cl, const char *nick)
{
	if (nick)
		return trust_request(cl, REQ_FINGERPRINT, nick);
	/* Our own: known here, answered at once. */
	struct client_req *req = client_req_new(cl, REQ_FINGERPRINT, true);
	if (!req)
		return 0;
	uint32_t id = req->id;
	char hex[CLIENT_FP_HEX];
	hex_encode(cl->fp, sizeof cl->fp, hex);
	struct client_event ev = {.type = CLIENT_EV_FINGERPRINT, .request = id};
	ev.u.fingerprint.nick = cl->nick;
	ev.u.fingerprint.fingerprint = hex;
	ev.u.fingerprint.pinned = "";
	ev.u.fingerprint.trusted = ev.u.fingerprint.verified = true;
	client_emit(cl, &ev);
	client_req_end(cl, req, CC_OK);
	return id;
}

uint32_t client_user_safety(struct client *cl, const char *nick)
{
	return trust_request(cl, REQ_SAFETY, nick);
}

uint32_t client_user_verify(struct client *cl, const char *nick)
{
	return trust_request(cl, REQ_VERIFY, nick);
}

cc_err client_ask_user(struct client *cl, struct client_req *req)
{
	struct proto_nick_item item = {proto_bytes_str(req->nick)};
	struct proto_msg m = {.type = PROTO_USERS_GET};
	struct buf raw;

	buf_init(&raw, 64);
	cc_err err = proto_item_encode(PROTO_ITEM_NICK, &item, &raw);
	if (!err) {
		m.u.users_get.nicks = (struct proto_list){1, {raw.data, raw.len}};
		req->step = STEP_USERS;
		err = client_req_send(cl, req, &m);
	}
	buf_free(&raw);
	return err;
}

void client_trust_start(struct client *cl, struct client_req *req)
{
	if (client_ask_user(cl, req) != CC_OK)
		client_req_end(cl, req, CC_ERR_IO);
}

/* The user's key arrived: 0 and its fingerprint, or an error (reported). */
static cc_err trust_key_of(struct client *cl, struct client_req *req,
			   const struct proto_users *users, uint8_t fp[CRYPTO_FINGERPRINT_LEN])
{
	struct proto_list_iter it;
	struct proto_user_item item;
	struct crypto_rsa_key *key = NULL;

	proto_list_iter_init(&it, &users->users, PROTO_ITEM_USER);
	if (proto_list_next(&it, &item) != CC_OK ||
	    crypto_rsa_public_from_der(item.identity_key.p, item.identity_key.len, &key) ||
	    crypto_rsa_fingerprint(key, fp)) {
		crypto_rsa_free(key);
		client_req_error(cl, req, "malformed", "the server sent an unusable key");
		return CC_ERR_MALFORMED;
	}
	crypto_rsa_free(key);
	if (item.nick.len != strlen(req->nick) ||
	    strncasecmp((const char *)item.nick.p, req->nick, item.nick.len) != 0) {
		client_req_error(cl, req, "security", "the server answered about another user");
		return CC_ERR_SECURITY;
	}
	/* The directory's spelling of the name. */
	memcpy(req->nick, item.nick.p, item.nick.len);
	req->nick[item.nick.len] = '\0';
	return CC_OK;
}

void client_trust_on_users(struct client *cl, struct client_req *req,
			   const struct proto_users *users)
{
	uint8_t fp[CRYPTO_FINGERPRINT_LEN];
	char hex[CLIENT_FP_HEX];
	const char *nick = req->nick;
	cc_err err = trust_key_of(cl, req, users, fp);

	if (err)
		goto out;
	hex_encode(fp, sizeof fp, hex);
	if (req->kind == REQ_FINGERPRINT) {
		struct cstore_pin pin;
		int trusted = client_trust_check(cl, nick, fp);
		int have_pin = cstore_pin_get(cl->store, nick, &pin) == CC_OK;
		char pinned[CLIENT_FP_HEX] = "";
		if (have_pin)
			hex_encode(pin.fp, sizeof pin.fp, pinned);
		shown_put(cl, nick, fp);
		struct client_event ev = {.type = CLIENT_EV_FINGERPRINT, .request = req->id};
		ev.u.fingerprint.nick = nick;
		ev.u.fingerprint.fingerprint = hex;
		ev.u.fingerprint.others = true;
		ev.u.fingerprint.pinned = pinned;
		ev.u.fingerprint.trusted = trusted;
		ev.u.fingerprint.verified = have_pin && pin.verified && trusted;
		client_emit(cl, &ev);
	} else if (req->kind == REQ_SAFETY) {
		char number[61];
		shown_put(cl, nick, fp);
		if ((err = safety_number(cl->fp, fp, number))) {
			client_req_error(cl, req, cc_err_code(err), cc_err_str(err));
			goto out;
		}
		struct client_event ev = {.type = CLIENT_EV_SAFETY_NUMBER, .request = req->id};
		ev.u.safety.nick = nick;
		ev.u.safety.number = number;
		ev.u.safety.fingerprint = hex;
		client_emit(cl, &ev);
	} else {
		/* The user compared what /safety or /fingerprint showed: only that
		 * key is verified, whatever the server says now. */
		const uint8_t *shown = shown_get(cl, nick);
		if (!shown) {
			client_req_error(cl, req, "usage", "compare /safety NICK with NICK first, then "
							   "/verify NICK");
			err = CC_ERR_USAGE;
			goto out;
		}
		if (memcmp(shown, fp, sizeof fp) != 0) {
			char shown_hex[CLIENT_FP_HEX];
			hex_encode(shown, CRYPTO_FINGERPRINT_LEN, shown_hex);
			emit_key_changed(cl, req->id, nick, shown_hex, hex);
			client_req_error(cl, req, "key_changed", "the key changed since it was shown; "
								 "nothing was verified");
			err = CC_ERR_KEY_CHANGED;
			goto out;
		}
		if (cstore_pin_put(cl->store, nick, fp, 1, clock_now_ms()) != CC_OK) {
			client_req_error(cl, req, "store_error", "cannot record the verification");
			err = CC_ERR_STORE;
			goto out;
		}
		client_rooms_trust(cl, nick, fp);
		struct client_event ev = {.type = CLIENT_EV_VERIFIED, .request = req->id};
		ev.u.verified.nick = nick;
		ev.u.verified.fingerprint = hex;
		client_emit(cl, &ev);
	}
out:
	client_req_end(cl, req, err);
}
