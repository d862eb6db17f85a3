/* Retention on the server, every minute: old messages deleted in steps (one
 * loop turn each, so clients get in between), the wrapped keys of epochs that
 * ended before the horizon, expired nicknames; and the write-ahead log
 * truncated soon after secrets were deleted, so their pages do not linger. */
#include <event2/event.h>

#include "server/rooms_internal.h"
#include "store/store.h"
#include "util/clock.h"
#include "util/log.h"

/* Retention deletes in steps of this many messages, one loop turn each. */
#define PRUNE_STEP 2000

static void prune_step_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server *srv = arg;
	uint64_t deleted = 0;
	(void)fd;
	(void)what;
	server_rooms_commit(srv);
	uint64_t before = srv->cfg->history_days
				  ? clock_now_ms() - (uint64_t)srv->cfg->history_days * 86400000ull
				  : 0;
	if (store_message_prune_some(srv->store, before, srv->cfg->history_max, PRUNE_STEP,
				     &deleted) != CC_OK)
		return;
	/* The wrapped secrets of epochs that ended before the retention's horizon
	 * go too: a stolen receiving key must not open them from a copy of this
	 * database. */
	uint64_t keys = 0;
	if (store_key_prune_some(srv->store, before, PRUNE_STEP, &keys) == CC_OK && keys) {
		log_info("retention: deleted %llu wrapped keys of ended epochs",
			 (unsigned long long)keys);
		server_checkpoint_soon(srv);
	}
	srv->pruned += deleted;
	if (deleted == PRUNE_STEP) {
		/* More to do: let clients in first, then go on. */
		struct timeval soon = {0, 10000};
		if (event_base_once(srv->base, -1, EV_TIMEOUT, prune_step_cb, srv, &soon) == 0)
			return;
	}
	if (srv->pruned)
		log_info("retention: deleted %llu old messages", (unsigned long long)srv->pruned);
	srv->pruned = 0;
}

static void checkpoint_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server *srv = arg;
	(void)fd;
	(void)what;
	server_rooms_commit(srv);
	if (store_checkpoint(srv->store) != CC_OK)
		log_warn("store: cannot truncate the write-ahead log after deleting keys");
}

/* At most one checkpoint a second, whatever the number of deletions. */
void server_checkpoint_soon(struct server *srv)
{
	struct timeval second = {1, 0};
	if (srv->checkpoint_ev && !evtimer_pending(srv->checkpoint_ev, NULL))
		evtimer_add(srv->checkpoint_ev, &second);
}

static void retention_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server *srv = arg;
	(void)fd;
	(void)what;
	prune_step_cb(-1, 0, srv);
	server_expire_idle(srv);
}

cc_err retention_init(struct server *srv)
{
	srv->retention_ev = event_new(srv->base, -1, EV_PERSIST, retention_cb, srv);
	srv->checkpoint_ev = evtimer_new(srv->base, checkpoint_cb, srv);
	if (!srv->retention_ev || !srv->checkpoint_ev)
		return CC_ERR_NOMEM;
	/* Retention and nickname expiry, every minute (cheap: indexed queries). */
	struct timeval every = {60, 0};
	event_add(srv->retention_ev, &every);
	retention_cb(-1, 0, srv);  /* once at start */
	return CC_OK;
}

void retention_free(struct server *srv)
{
	if (srv->retention_ev)
		event_free(srv->retention_ev);
	srv->retention_ev = NULL;
	if (srv->checkpoint_ev) {
		/* One last truncation: shutting down right after a deletion. */
		if (evtimer_pending(srv->checkpoint_ev, NULL))
			checkpoint_cb(-1, 0, srv);
		event_free(srv->checkpoint_ev);
	}
	srv->checkpoint_ev = NULL;
}
