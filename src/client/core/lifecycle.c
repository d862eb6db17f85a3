/* The client core's lifecycle: a client made from its configuration (the
 * home opened under its passphrase, the identity key loaded, a move to a
 * new key picked up where it was left), freed with every secret wiped, and
 * the small questions a front end asks of it. The connection and what the
 * server sends are core.c's. */
#include "client/core/client.h"

#include <event2/bufferevent.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/core/home.h"
#include "client/core/internal.h"
#include "crypto/crypto.h"
#include "proto/frame.h"
#include "store/client_store.h"
#include "transport/chan.h"
#include "util/log.h"

enum client_state client_get_state(const struct client *cl)
{
	return cl->state;
}

int client_exit_status(const struct client *cl)
{
	return cl->exit_status;
}

int client_busy(const struct client *cl)
{
	if (cl->quitting || (cl->reqs && cl->state == CLIENT_READY))
		return 1;
	/* Not connected, the core's own work waits for the connection and keeps
	 * nobody waiting (a batch script may still /quit). */
	for (const struct client_req *r = cl->reqs; r; r = r->next)
		if (r->id)
			return 1;
	return 0;
}

int client_takes_calls(const struct client *cl)
{
	return cl->state == CLIENT_READY ||
	       (cl->established && (cl->state == CLIENT_OFFLINE || cl->state == CLIENT_CONNECTING));
}

cc_err client_default_home(char *out, size_t n)
{
	const char *env = getenv("CRYPTOCAT_HOME");
	int w;
	if (env && *env)
		w = snprintf(out, n, "%s", env);
	else if ((env = getenv("XDG_DATA_HOME")) && *env)
		w = snprintf(out, n, "%s/cryptocat", env);
	else if ((env = getenv("HOME")) && *env)
		w = snprintf(out, n, "%s/.local/share/cryptocat", env);
	else
		return CC_ERR_USAGE;
	return w > 0 && (size_t)w < n ? CC_OK : CC_ERR_TOO_LARGE;
}

cc_err client_new(const struct client_config *cfg, struct event_base *base,
		  const struct client_callbacks *cb, struct client **out)
{
	struct client *cl;
	int created;
	cc_err err;

	if (!(cl = calloc(1, sizeof *cl)))
		return CC_ERR_NOMEM;
	cl->cfg = *cfg;
	if (!cl->cfg.nick_ttl_ms)
		cl->cfg.nick_ttl_ms = 86400ull * 1000;  /* the server's default */
	if (!cl->cfg.recv_rotate_ms)
		cl->cfg.recv_rotate_ms = 7ull * 86400 * 1000;
	if (!cl->cfg.recv_grace_ms)
		cl->cfg.recv_grace_ms = 7ull * 86400 * 1000;
	cl->base = base;
	if (cb)
		cl->cb = *cb;
	cl->state = CLIENT_CONNECTING;
	buf_init(&cl->wire, 2 * PROTO_FRAME_MAX_LIMIT);
	buf_init(&cl->sign_cert, PROTO_SIGN_CERT_MAX);
	if (!cl->cfg.ping_timeout_ms)
		cl->cfg.ping_timeout_ms = CLIENT_PING_TIMEOUT_MS;
	if ((err = client_timers_new(cl)) || (err = client_proxy_init(cl)))
		goto fail;
	snprintf(cl->server, sizeof cl->server, strchr(cfg->host, ':') ? "[%s]:%u" : "%s:%u",
		 cfg->host, cfg->port);
	if ((err = crypto_init()) || (err = home_prepare(cfg->home)))
		goto fail;
	if (cfg->nick[0]) {
		snprintf(cl->nick, sizeof cl->nick, "%s", cfg->nick);
	} else if (home_nick_load(cfg->home, cl->nick, sizeof cl->nick) != CC_OK) {
		log_error("no nickname: give one with --nick the first time");
		err = CC_ERR_USAGE;
		goto fail;
	}
	if (!proto_nick_valid((const uint8_t *)cl->nick, strlen(cl->nick))) {
		err = CC_ERR_BAD_NICK;
		goto fail;
	}
	/* The passphrase is checked before anything in the home is read. */
	if ((err = home_open(cfg->home, cfg->rsa_bits, cfg->secrets, &cl->identity, &created,
			     &cl->store)))
		goto fail;
	if (created)
		log_info("made a new %u-bit identity key in %s", cfg->rsa_bits, cfg->home);
	if ((err = client_identity_set(cl, cl->identity)) ||
	    (err = client_identity_load_moving(cl)))
		goto fail;
	*out = cl;
	return CC_OK;
fail:
	client_free(cl);
	return err;
}

void client_free(struct client *cl)
{
	if (!cl)
		return;
	if (cl->bev)
		bufferevent_free(cl->bev);
	if (cl->quit_timer)
		event_free(cl->quit_timer);
	if (cl->keys_timer)
		event_free(cl->keys_timer);
	chan_free(cl->chan);
	client_timers_free(cl);
	client_proxy_free(cl);
	/* Nobody is told any more: the front end is going too. */
	cl->cb.on_done = NULL;
	client_reqs_free(cl);
	client_rooms_free(cl);
	client_trust_free(cl);
	client_keycache_free(&cl->keycache);
	client_turn_free(cl);
	cstore_close(cl->store);
	crypto_rsa_free(cl->identity);
	crypto_rsa_free(cl->old_identity);
	crypto_rsa_free(cl->next_identity);
	buf_free(&cl->wire);
	buf_free(&cl->sign_cert);
	mem_wipe(cl->sign_seed, sizeof cl->sign_seed);
	crypto_ed25519_priv_free(cl->sign_key);
	mem_wipe(&cl->recv, sizeof cl->recv);
	free(cl);
}
