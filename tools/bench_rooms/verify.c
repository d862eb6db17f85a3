/* bench_rooms' check at the end, so that the generator stays honest: a
 * sample of members looks at the room as its own client would, over a raw
 * session of its own (the handshake with its cached key, then ROOM_FETCH,
 * whose state comes in parts for a big room). Its chain must verify and
 * name it among the members there should be, and the last epoch's secret,
 * wrapped to it by the admin's core (on worker threads for a big room),
 * must open with its receiving key and match the commitment the chain
 * signed. An expelled member must be told no_such_room. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench_rooms.h"
#include "../benchkeys.h"
#include "../benchserver.h"
#include "../benchsession.h"
#include "crypto/crypto.h"
#include "e2e/e2e.h"
#include "proto/frame.h"
#include "proto/msg.h"
#include "proto/room.h"
#include "transport/chan.h"
#include "util/buf.h"

/* The keys of the chain's actors, from the state's directory. */
struct v_directory {
	const struct proto_list *users;
	struct crypto_rsa_key *keys[8];
	uint8_t fps[8][CRYPTO_FINGERPRINT_LEN];
	size_t n;
};

static const struct crypto_rsa_key *v_lookup(void *ctx, const uint8_t fp[PROTO_FINGERPRINT_LEN])
{
	struct v_directory *d = ctx;
	struct proto_list_iter it;
	struct proto_user_item u;
	for (size_t i = 0; i < d->n; i++)
		if (memcmp(d->fps[i], fp, CRYPTO_FINGERPRINT_LEN) == 0)
			return d->keys[i];
	if (d->n == sizeof d->keys / sizeof d->keys[0])
		return NULL;
	proto_list_iter_init(&it, d->users, PROTO_ITEM_USER);
	while (proto_list_next(&it, &u) == CC_OK) {
		struct crypto_rsa_key *k = NULL;
		uint8_t kfp[CRYPTO_FINGERPRINT_LEN];
		crypto_sha256(u.identity_key.p, u.identity_key.len, kfp);
		if (memcmp(kfp, fp, sizeof kfp) != 0 ||
		    crypto_rsa_public_from_der(u.identity_key.p, u.identity_key.len, &k))
			continue;
		d->keys[d->n] = k;
		memcpy(d->fps[d->n], fp, CRYPTO_FINGERPRINT_LEN);
		return d->keys[d->n++];
	}
	return NULL;
}

/* The room's state (its PARTs put together) checked as a member's client
 * would. */
static bool v_state(struct benchsession *s, const struct proto_room_state *st,
		    const uint8_t fp[CRYPTO_FINGERPRINT_LEN], const uint8_t priv[32],
		    unsigned members)
{
	struct v_directory dir = {.users = &st->users};
	struct e2e_chain chain;
	struct proto_list_iter it;
	struct proto_chain_item item;
	struct proto_wrapped_item w;
	const char *why = "";
	bool ok = false, opened = false;

	e2e_chain_init(&chain, st->room_id);
	proto_list_iter_init(&it, &st->records, PROTO_ITEM_CHAIN);
	while (proto_list_next(&it, &item) == CC_OK)
		if (e2e_chain_apply(&chain, item.record.p, item.record.len, v_lookup, &dir, &why)) {
			benchsession_fail(s, "the chain does not verify", why);
			goto out;
		}
	if (chain.count != st->records.count || !e2e_chain_member(&chain, fp) ||
	    chain.nmembers != members) {
		char d[120];
		snprintf(d, sizeof d, "%u records, %zu members, this one %s", chain.count,
			 chain.nmembers, e2e_chain_member(&chain, fp) ? "in" : "not in");
		benchsession_fail(s, "the chain is not the room's", d);
		goto out;
	}
	proto_list_iter_init(&it, &st->keys, PROTO_ITEM_WRAPPED);
	while (!opened && proto_list_next(&it, &w) == CC_OK) {
		uint8_t secret[E2E_KEY_LEN], commit[PROTO_HASH_LEN];
		if (w.epoch != chain.epoch ||
		    e2e_key_unwrap(priv, fp, st->room_id, w.epoch, w.wrapped.p, w.wrapped.len,
				   secret) != CC_OK)
			continue;
		e2e_key_commit(st->room_id, w.epoch, secret, commit);
		mem_wipe(secret, sizeof secret);
		opened = memcmp(commit, e2e_chain_commit(&chain, chain.epoch), sizeof commit) == 0;
	}
	if (!opened) {
		benchsession_fail(s, "the last epoch's key",
				  "none wrapped to this member opens to the chain's commitment");
		goto out;
	}
	ok = true;
out:
	for (size_t i = 0; i < dir.n; i++)
		crypto_rsa_free(dir.keys[i]);
	e2e_chain_free(&chain);
	return ok;
}

const char *member_verify(const char *keys, int port, unsigned user,
			  const uint8_t room_id[16], bool member, unsigned members)
{
	static char why[300];
	struct benchsession s = {.fd = -1};
	struct crypto_rsa_key *key = NULL;
	uint8_t fp[CRYPTO_FINGERPRINT_LEN], priv[32], pub[32];
	struct buf records, users;
	uint32_t nrecords = 0, nusers = 0;
	struct proto_msg m;
	char nick[16];
	bool ok = false;

	snprintf(nick, sizeof nick, "bench%u", user);
	buf_init(&s.out, 2 * PROTO_FRAME_MAX_LIMIT);
	buf_init(&records, 64u << 20);
	buf_init(&users, 64u << 20);
	if (benchkeys_load(keys, user, &key) || crypto_rsa_fingerprint(key, fp) ||
	    bench_recv_key(key, priv, pub)) {
		benchsession_fail(&s, nick, "cannot load its key");
		goto out;
	}
	if ((s.fd = benchserver_connect(port, false)) < 0) {
		benchsession_fail(&s, nick, "cannot connect");
		goto out;
	}
	if (chan_client_new(key, nick, PROTO_FRAME_MAX_DEFAULT, &s.ch) ||
	    chan_client_start(s.ch, &s.out) || !benchsession_flush(&s)) {
		benchsession_fail(&s, nick, "cannot start the handshake");
		goto out;
	}
	do
		if (!benchsession_next(&s, &m))
			goto out;
	while (m.type == PROTO_PING);
	if (m.type != PROTO_WELCOME) {
		benchsession_fail(&s, nick, "no WELCOME");
		goto out;
	}
	chan_set_send_cap(s.ch, m.u.welcome.max_frame);
	struct proto_msg fetch = {.type = PROTO_ROOM_FETCH};
	fetch.u.room_ref.request_id = 7;
	memcpy(fetch.u.room_ref.room_id, room_id, PROTO_ROOM_ID_LEN);
	if (chan_send_msg(s.ch, &fetch, &s.out) || !benchsession_flush(&s)) {
		benchsession_fail(&s, nick, "cannot ask for the room");
		goto out;
	}
	for (;;) {
		if (!benchsession_next(&s, &m))
			goto out;
		if (proto_msg_request_id(&m) != 7)
			continue;  /* PINGs, REKEY_OWED */
		if (m.type == PROTO_PART) {
			if (buf_put_bytes(&records, m.u.part.records.raw.p, m.u.part.records.raw.len) ||
			    buf_put_bytes(&users, m.u.part.users.raw.p, m.u.part.users.raw.len)) {
				benchsession_fail(&s, nick, "a state too large");
				goto out;
			}
			nrecords += m.u.part.records.count;
			nusers += m.u.part.users.count;
			continue;
		}
		break;
	}
	if (!member) {
		ok = m.type == PROTO_ERROR && m.u.error.code == CC_ERR_NO_SUCH_ROOM;
		if (!ok)
			benchsession_fail(&s, nick, "expelled, and still given the room");
		goto out;
	}
	if (m.type != PROTO_ROOM_STATE) {
		benchsession_fail(&s, nick,
				  m.type == PROTO_ERROR ? "the room was refused" : "a wrong answer");
		goto out;
	}
	struct proto_room_state st = m.u.room_state;
	if (buf_put_bytes(&records, st.records.raw.p, st.records.raw.len) ||
	    buf_put_bytes(&users, st.users.raw.p, st.users.raw.len) ||
	    nrecords + st.records.count > UINT16_MAX || nusers + st.users.count > UINT16_MAX) {
		benchsession_fail(&s, nick, "a state too large");
		goto out;
	}
	st.records = (struct proto_list){(uint16_t)(nrecords + st.records.count),
					 {records.data, records.len}};
	st.users = (struct proto_list){(uint16_t)(nusers + st.users.count), {users.data, users.len}};
	ok = v_state(&s, &st, fp, priv, members);
out:
	if (!ok)
		snprintf(why, sizeof why, "%s: %s", nick, s.why[0] ? s.why : "failed");
	mem_wipe(priv, sizeof priv);
	if (s.fd >= 0)
		close(s.fd);
	chan_free(s.ch);
	crypto_rsa_free(key);
	buf_free(&s.out);
	buf_free(&records);
	buf_free(&users);
	return ok ? NULL : why;
}
