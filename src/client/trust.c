/* Trust in other users' keys: pinned on first sight (TOFU), compared out of
 * band with fingerprints and safety numbers, verified by hand. A key that
 * differs from the pin is announced (key_changed) and its messages are marked
 * verified:false until /verify. */
#include <stdlib.h>
#include <string.h>

#include "client/client_internal.h"
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

int client_trust_check(struct client *cl, const char *nick,
		       const uint8_t fp[CRYPTO_FINGERPRINT_LEN])
{
	struct cstore_pin pin;
	char old_hex[2 * CRYPTO_FINGERPRINT_LEN + 1], new_hex[2 * CRYPTO_FINGERPRINT_LEN + 1];

	if (memcmp(fp, cl->fp, CRYPTO_FINGERPRINT_LEN) == 0)
		return 1;  /* ourselves */
	cc_err err = cstore_pin_get(cl->store, nick, &pin);
	if (err == CC_ERR_NOT_FOUND) {
		if (cstore_pin_put(cl->store, nick, fp, 0, clock_now_ms()) != CC_OK)
			log_warn("cannot pin the key of %s", nick);
		return 1;
	}
	if (err)
		return 0;
	if (memcmp(pin.fp, fp, CRYPTO_FINGERPRINT_LEN) == 0)
		return 1;
	if (!already_announced(cl, nick, fp)) {
		hex_encode(pin.fp, CRYPTO_FINGERPRINT_LEN, old_hex);
		hex_encode(fp, CRYPTO_FINGERPRINT_LEN, new_hex);
		client_emit(cl, json_pack("{s:s, s:s, s:s, s:s}", "event", "key_changed", "nick", nick,
					  "old", old_hex, "new", new_hex));
	}
	return 0;
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
static void trust_ask(struct client *cl, const char *args, enum client_op op)
{
	size_t n = strcspn(args, " \t");
	if (!proto_nick_valid((const uint8_t *)args, n) || args[n + strspn(args + n, " \t")]) {
		client_emit_error(cl, "usage", op == OP_SAFETY	    ? "/safety NICK"
					       : op == OP_VERIFY ? "/verify NICK"
								 : "/fingerprint [NICK]");
		return;
	}
	memcpy(cl->op_nick, args, n);
	cl->op_nick[n] = '\0';
	client_ask_user(cl, op);
}

void client_cmd_fingerprint(struct client *cl, const char *args)
{
	char hex[2 * CRYPTO_FINGERPRINT_LEN + 1];
	if (!*args) {
		hex_encode(cl->fp, sizeof cl->fp, hex);
		client_emit(cl, json_pack("{s:s, s:s, s:s}", "event", "fingerprint", "nick", cl->nick,
					  "fingerprint", hex));
		return;
	}
	trust_ask(cl, args, OP_FINGERPRINT);
}

void client_cmd_safety(struct client *cl, const char *args)
{
	trust_ask(cl, args, OP_SAFETY);
}

void client_cmd_verify(struct client *cl, const char *args)
{
	trust_ask(cl, args, OP_VERIFY);
}

void client_trust_on_users(struct client *cl, const struct proto_users *users)
{
	struct proto_list_iter it;
	struct proto_user_item item;
	struct crypto_rsa_key *key = NULL;
	uint8_t fp[CRYPTO_FINGERPRINT_LEN];
	char hex[2 * CRYPTO_FINGERPRINT_LEN + 1], nick[PROTO_NICK_MAX + 1];

	proto_list_iter_init(&it, &users->users, PROTO_ITEM_USER);
	if (proto_list_next(&it, &item) != CC_OK ||
	    crypto_rsa_public_from_der(item.identity_key.p, item.identity_key.len, &key) ||
	    crypto_rsa_fingerprint(key, fp)) {
		client_emit_error(cl, "malformed", "the server sent an unusable key");
		goto out;
	}
	memcpy(nick, item.nick.p, item.nick.len);
	nick[item.nick.len] = '\0';
	if (strcasecmp(nick, cl->op_nick) != 0) {
		client_emit_error(cl, "security", "the server answered about another user");
		goto out;
	}
	hex_encode(fp, sizeof fp, hex);
	if (cl->op == OP_FINGERPRINT) {
		struct cstore_pin pin;
		int trusted = client_trust_check(cl, nick, fp);
		int have_pin = cstore_pin_get(cl->store, nick, &pin) == CC_OK;
		char pinned[2 * CRYPTO_FINGERPRINT_LEN + 1] = "";
		if (have_pin)
			hex_encode(pin.fp, sizeof pin.fp, pinned);
		shown_put(cl, nick, fp);
		client_emit(cl, json_pack("{s:s, s:s, s:s, s:s, s:b, s:b}", "event", "fingerprint",
					  "nick", nick, "fingerprint", hex, "pinned", pinned,
					  "trusted", trusted, "verified",
					  have_pin && pin.verified && trusted));
	} else if (cl->op == OP_SAFETY) {
		char number[61];
		shown_put(cl, nick, fp);
		if (safety_number(cl->fp, fp, number) == CC_OK)
			client_emit(cl, json_pack("{s:s, s:s, s:s, s:s}", "event", "safety_number",
						  "nick", nick, "number", number, "fingerprint", hex));
	} else if (cl->op == OP_VERIFY) {
		/* The user compared what /safety or /fingerprint showed: only that
		 * key is verified, whatever the server says now. */
		const uint8_t *shown = shown_get(cl, nick);
		if (!shown) {
			client_emit_error(cl, "usage", "compare /safety NICK with NICK first, then "
						       "/verify NICK");
			goto out;
		}
		if (memcmp(shown, fp, sizeof fp) != 0) {
			char shown_hex[2 * CRYPTO_FINGERPRINT_LEN + 1];
			hex_encode(shown, CRYPTO_FINGERPRINT_LEN, shown_hex);
			client_emit(cl, json_pack("{s:s, s:s, s:s, s:s}", "event", "key_changed", "nick",
						  nick, "old", shown_hex, "new", hex));
			client_emit_error(cl, "key_changed", "the key changed since it was shown; "
							     "nothing was verified");
			goto out;
		}
		if (cstore_pin_put(cl->store, nick, fp, 1, clock_now_ms()) != CC_OK) {
			client_emit_error(cl, "store_error", "cannot record the verification");
			goto out;
		}
		client_rooms_trust(cl, nick, fp);
		client_emit(cl, json_pack("{s:s, s:s, s:s}", "event", "verified", "nick", nick,
					  "fingerprint", hex));
	}
out:
	crypto_rsa_free(key);
	client_op_end(cl);
}
