/* Load generator: the room. bench0's own client core (client/core/client.h,
 * a second session of bench0 with a home of its own for the run) makes it,
 * exactly as a user's /create does; then every connection joins. The first
 * room state to arrive is checked whole (the signed chain, our wrapped key
 * against its commitment), the others against it; bench0's connection has
 * no wrapped key left (its core took it, and the server forgot its copy). */
#define _XOPEN_SOURCE 700  /* nftw */
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client/core/client.h"
#include "loadgen.h"
#include "store/client_store.h"

static struct {
	struct client *client;
	char home[256];
	bool created;
} maker;

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* The maker's session is over: off the loop's stack, free it and join. */
static void maker_finish_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	bool created = maker.created;
	client_free(maker.client);
	maker.client = NULL;
	if (maker.home[0])
		nftw(maker.home, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
	if (!created) {
		lg_fail("bench0's client closed before the room was made");
		return;
	}
	lg_cc_join_all();
	lg_flush_dirty();
}

static void maker_on_event(void *ctx, const struct client_event *ev)
{
	(void)ctx;
	if (ev->type == CLIENT_EV_ERROR) {
		lg_fail("making the room: %s: %s", ev->u.error.code, ev->u.error.message);
		return;
	}
	if (ev->type == CLIENT_EV_REGISTERED) {
		/* The same server every connection met. */
		char hex[CLIENT_FP_HEX];
		hex_encode(g.server_fp, sizeof g.server_fp, hex);
		if (strcmp(hex, ev->u.registered.server_fingerprint) != 0) {
			lg_fail("bench0's client met another server key");
			return;
		}
		const char **nicks = calloc(g.o.clients + 1, sizeof *nicks);
		if (!nicks) {
			lg_fail("out of memory");
			return;
		}
		size_t n = 0;
		for (unsigned i = 1; i < g.o.clients; i++)
			nicks[n++] = g.conns[i].nick;
		if (*g.o.follower)
			nicks[n++] = g.o.follower;
		client_room_create(maker.client, nicks, n, "bench");
		free(nicks);
		return;
	}
	if (ev->type == CLIENT_EV_ROOM_CREATED) {
		if (hex_decode(ev->room, g.room_id, sizeof g.room_id) != CC_OK) {
			lg_fail("the room's id is not hex");
			return;
		}
		maker.created = true;
		if (*g.o.follower) {
			printf("FOLLOW room=%s\n", ev->room);
			fflush(stdout);
		}
		client_quit(maker.client);
	}
}

static void maker_on_state(void *ctx)
{
	(void)ctx;
	if (maker.client && client_get_state(maker.client) == CLIENT_CLOSED) {
		struct timeval now = {0, 0};
		event_base_once(g.base, -1, EV_TIMEOUT, maker_finish_cb, NULL, &now);
	}
}

void lg_cc_create_room(void)
{
	struct client_config cfg = {0};
	struct client_callbacks cb = {maker_on_event, NULL, maker_on_state, NULL};
	char path[300];

	g.phase = PH_CREATE;
	snprintf(maker.home, sizeof maker.home, "/tmp/cryptocat-bench-home-XXXXXX");
	if (!mkdtemp(maker.home)) {
		maker.home[0] = '\0';
		lg_fail("cannot make a home for bench0's client: %s", strerror(errno));
		return;
	}
	snprintf(path, sizeof path, "%s/identity.pem", maker.home);
	if (crypto_rsa_save_private_file(g.keys[0], path)) {
		lg_fail("cannot write bench0's key into %s", maker.home);
		return;
	}
	/* And bench0's receiving key, the one its connection published: the
	 * core publishes it again rather than a new one. */
	struct client_store *cs = NULL;
	struct cstore_recv_key k = {.version = g.recv_version, .created_ms = g.recv_created_ms};
	memcpy(k.priv, g.recv_priv[0], sizeof k.priv);
	memcpy(k.pub, g.recv_pub[0], sizeof k.pub);
	snprintf(path, sizeof path, "%s/client.db", maker.home);
	cc_err serr = cstore_open(path, &cs);
	if (!serr)
		serr = cstore_recv_add(cs, &k);
	cstore_close(cs);
	mem_wipe(&k, sizeof k);
	if (serr) {
		lg_fail("cannot store bench0's receiving key in %s", maker.home);
		return;
	}
	snprintf(cfg.host, sizeof cfg.host, "%s", g.o.host);
	cfg.port = g.o.port;
	snprintf(cfg.home, sizeof cfg.home, "%s", maker.home);
	snprintf(cfg.nick, sizeof cfg.nick, "%s", g.conns[0].nick);
	cfg.rsa_bits = 2048;
	/* The core reconnects after a drop; a benchmark whose server went away
	 * gives up soon rather than wait for it. */
	cfg.offline_timeout_ms = 10000;
	cc_err err = client_new(&cfg, g.base, &cb, &maker.client);
	if (!err)
		err = client_connect(maker.client);
	if (err)
		lg_fail("bench0's client: %s", cc_err_str(err));
}

/* ---- the first room state, checked whole ------------------------------------ */

static const struct crypto_rsa_key *lg_key_lookup(void *ctx,
						  const uint8_t fp[PROTO_FINGERPRINT_LEN])
{
	(void)ctx;
	for (unsigned i = 0; i < g.o.clients; i++)
		if (memcmp(g.fp[i], fp, PROTO_FINGERPRINT_LEN) == 0)
			return g.keys[i];
	return NULL;
}

/* Our wrapped secret of the epoch, opened (0), or -1. */
static int unwrap_ours(unsigned idx, const struct proto_room_state *st, uint32_t epoch,
		       uint8_t secret[E2E_KEY_LEN])
{
	struct proto_list_iter it;
	struct proto_wrapped_item w;
	proto_list_iter_init(&it, &st->keys, PROTO_ITEM_WRAPPED);
	while (proto_list_next(&it, &w) == CC_OK)
		if (w.epoch == epoch && e2e_key_unwrap(g.recv_priv[idx], g.fp[idx], st->room_id, epoch,
						       w.wrapped.p, w.wrapped.len, secret) == CC_OK)
			return 0;
	return -1;
}

/* The room as bench0's client made it: one member per connection, every
 * record signed, the secret we unwrap the one the chain commits to. */
static const char *room_learn(unsigned idx, const struct proto_room_state *st)
{
	struct e2e_chain chain;
	struct proto_list_iter it;
	struct proto_chain_item item;
	uint8_t commit[PROTO_HASH_LEN];
	const char *why = NULL;

	e2e_chain_init(&chain, g.room_id);
	proto_list_iter_init(&it, &st->records, PROTO_ITEM_CHAIN);
	while (!why && proto_list_next(&it, &item) == CC_OK) {
		const char *reason = "";
		if (e2e_chain_apply(&chain, item.record.p, item.record.len, lg_key_lookup, NULL,
				    &reason) != CC_OK)
			why = *reason ? reason : "a record does not apply";
	}
	if (!why && chain.nmembers != g.o.clients + (*g.o.follower ? 1u : 0u))
		why = "the room does not hold every connection";
	if (!why && unwrap_ours(idx, st, chain.epoch, g.room_secret))
		why = "no key of ours for the room's epoch";
	if (!why) {
		e2e_key_commit(g.room_id, chain.epoch, g.room_secret, commit);
		if (!crypto_ct_equal(commit, e2e_chain_commit(&chain, chain.epoch), sizeof commit))
			why = "the key is not the one the chain commits to";
	}
	if (!why && e2e_epoch_base(g.room_secret, g.room_id, chain.epoch,
				   chain.epochs[chain.epoch].open_hash, g.room_base) != CC_OK)
		why = "cannot derive the room's keys";
	g.epoch = chain.epoch;
	g.head_seq = chain.count - 1;
	memcpy(g.head_hash, chain.last_hash, PROTO_HASH_LEN);
	e2e_chain_free(&chain);
	return why;
}

void lg_cc_on_room_state(struct lg_conn *c, const struct proto_room_state *st)
{
	static bool learned;
	const char *why = NULL;
	uint8_t secret[E2E_KEY_LEN];

	if (memcmp(st->room_id, g.room_id, PROTO_ROOM_ID_LEN) != 0)
		why = "ROOM_STATE of another room";
	else if (c->idx == 0)
		;  /* bench0's client core took its key and had the server forget its copy */
	else if (!learned)
		why = room_learn(c->idx, st);
	else if (unwrap_ours(c->idx, st, g.epoch, secret) ||
		 !crypto_ct_equal(secret, g.room_secret, sizeof secret))
		why = "no usable room key in ROOM_STATE";
	mem_wipe(secret, sizeof secret);
	learned = learned || !why;
	g.backlog += st->backlog;
	if (why)
		lg_conn_fail(c, why);
}
