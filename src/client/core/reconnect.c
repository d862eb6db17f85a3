/* Reconnecting. Once a session has registered, a dropped connection (the
 * server closed it, a read or write failed, or it fell silent: the
 * keepalive below) is not the end: the client goes OFFLINE, says so
 * (CONNECTION_LOST, with the time to the next attempt), and tries again
 * after 1 s, 2 s, 4 s... up to 60 s, with jitter. Each attempt is a whole
 * new handshake, the server's key checked against the pin as the first time
 * (a changed key ends the session, exit status 3). An answer no retry can
 * mend (the server refuses our key or nickname) ends it too; a refused or
 * timed-out connection, a full or failing server, only wait for the next.
 *
 * Once registered again: RECONNECTED, then the rooms that were joined are
 * joined again (what was missed comes first, as any join's backlog), then
 * what waited runs, in order (requests.c says what becomes of each request
 * in flight when the connection drops). A caller's request that waits
 * longer than offline_timeout_ms for the connection ends with "offline". */
#include <event2/event.h>
#include <stdlib.h>
#include <string.h>

#include "client/core/internal.h"
#include "crypto/crypto.h"
#include "util/clock.h"
#include "util/log.h"

uint64_t client_backoff_ms(unsigned attempt, uint32_t rnd)
{
	uint64_t base = CLIENT_RECONNECT_FIRST_MS;
	for (unsigned i = 0; i < attempt && base < CLIENT_RECONNECT_MAX_MS; i++)
		base *= 2;
	if (base > CLIENT_RECONNECT_MAX_MS)
		base = CLIENT_RECONNECT_MAX_MS;
	/* base * [0.8, 1.2], in steps of a thousandth. */
	uint64_t wait = base * (800 + rnd % 401) / 1000;
	return wait < CLIENT_RECONNECT_MAX_MS ? wait : CLIENT_RECONNECT_MAX_MS;
}

/* The answers that trying again cannot change: our key or nickname is
 * refused, or the server speaks another protocol. */
static bool retry_mends(const char *code)
{
	static const char *const final[] = {
		"auth_failed", "nick_taken", "exists", "bad_nick", "bad_version", "outdated",
		"forbidden", "io_error",
	};
	for (size_t i = 0; i < sizeof final / sizeof final[0]; i++)
		if (strcmp(code, final[i]) == 0)
			return false;
	return true;
}

static void timer_in(struct event *ev, uint64_t ms)
{
	struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};
	evtimer_add(ev, &tv);
}

void client_conn_failed(struct client *cl, const char *code, const char *why)
{
	if (cl->state == CLIENT_CLOSED)
		return;
	/* The first connection's failure is the end (the user is there to
	 * see it); an attempt that meets an answer no retry mends is too. A
	 * session that was registered a moment ago always tries again. */
	if (!cl->established || (cl->state != CLIENT_READY && !retry_mends(code))) {
		client_fail(cl, code, why);
		return;
	}
	bool dropped = cl->state == CLIENT_READY;
	client_conn_close(cl);
	cl->state = CLIENT_OFFLINE;
	cl->attempts = dropped ? 0 : cl->attempts + 1;
	cl->resuming = false;
	if (cl->quitting) {
		if (dropped)
			client_reqs_on_lost(cl);  /* so that each says what may have been done */
		client_quit_offline(cl);
		return;
	}
	uint32_t rnd = 0;
	crypto_random_bytes(&rnd, sizeof rnd);
	uint64_t wait = client_backoff_ms(cl->attempts, rnd);
	timer_in(cl->retry_timer, wait);
	log_info("%s (%s); trying again in %llu ms", why, code, (unsigned long long)wait);
	struct client_event ev = {.type = CLIENT_EV_CONNECTION_LOST};
	ev.u.connection.reason = why;
	ev.u.connection.retry_ms = wait;
	client_emit(cl, &ev);
	if (dropped)
		client_reqs_on_lost(cl);
	client_offline_arm(cl);
	client_notify(cl);
}

static void retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct client *cl = arg;
	(void)fd;
	(void)what;
	if (cl->state != CLIENT_OFFLINE)
		return;
	log_info("connecting to %s again (attempt %u)", cl->server, cl->attempts + 1);
	cl->state = CLIENT_CONNECTING;
	client_notify(cl);
	client_conn_open(cl);  /* a failure comes back through client_conn_failed */
}

void client_conn_again_now(struct client *cl)
{
	client_conn_close(cl);
	cl->state = CLIENT_OFFLINE;
	/* From the loop, not from inside the read callback of the connection
	 * just closed. */
	timer_in(cl->retry_timer, 0);
}

void client_reconnected(struct client *cl)
{
	cl->state = CLIENT_READY;
	cl->attempts = 0;
	for (struct client_req *r = cl->reqs; r; r = r->next)
		r->offline_since = 0;
	evtimer_del(cl->offline_timer);
	/* Rejoins and the changes to resolve go first (client_reqs_pump). */
	cl->resuming = true;
	log_info("reconnected to %s", cl->server);
	struct client_event ev = {.type = CLIENT_EV_RECONNECTED};
	client_emit(cl, &ev);
}

static const char *offline_why(const struct client_req *req);

void client_quit_offline(struct client *cl)
{
	for (struct client_req *r = cl->reqs; r; r = r->next)
		if (r->id)
			client_req_error(cl, r, "offline", offline_why(r));
	client_close(cl, CLIENT_EXIT_OK);
}

/* ---- keepalive ------------------------------------------------------------- */

void client_conn_alive(struct client *cl)
{
	cl->last_rx_ms = clock_mono_ms();
	cl->ping_out = false;
	if (!evtimer_pending(cl->conn_timer, NULL)) {
		/* A few looks per timeout: a dead connection is seen within 1.25 of it. */
		uint64_t tick = cl->cfg.ping_timeout_ms > 400 ? cl->cfg.ping_timeout_ms / 4 : 100;
		struct timeval tv = {(time_t)(tick / 1000), (suseconds_t)(tick % 1000) * 1000};
		event_add(cl->conn_timer, &tv);
	}
}

/* A connection that hears nothing for the ping timeout is dead even if TCP
 * has not noticed (a peer gone without a word, a cable pulled): asked after
 * half of it (PING), given up after all of it. */
static void conn_tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct client *cl = arg;
	(void)fd;
	(void)what;
	if (!cl->bev || cl->proxy_phase)
		return;  /* (through a proxy, the proxy's deadlines first: proxy.c) */
	uint64_t silent = clock_mono_ms() - cl->last_rx_ms;
	if (silent >= cl->cfg.ping_timeout_ms) {
		char why[400];
		snprintf(why, sizeof why, "no answer from %s for %llu s", cl->server,
			 (unsigned long long)(silent / 1000));
		client_conn_failed(cl, cl->state == CLIENT_READY ? "timeout" : "connection_failed",
				   why);
		return;
	}
	if (cl->state == CLIENT_READY && !cl->ping_out && silent >= cl->cfg.ping_timeout_ms / 2) {
		struct proto_msg ping = {.type = PROTO_PING};
		crypto_random_bytes(&cl->ping_token, sizeof cl->ping_token);
		ping.u.ping.token = cl->ping_token;
		if (client_send(cl, &ping) == CC_OK)
			cl->ping_out = true;
	}
}

/* ---- the offline timeout ------------------------------------------------------ */

/* Why a request that waited too long ends: what may or may not have
 * happened to it. */
static const char *offline_why(const struct client_req *req)
{
	if (req->resend)
		return "the connection dropped before the server confirmed this line and has "
		       "not come back: it may or may not have reached the room";
	if (req->resolve)
		return "the connection dropped before the server answered and has not come "
		       "back: the change may or may not have been made";
	return "not connected to the server: nothing was done";
}

void client_offline_arm(struct client *cl)
{
	if (cl->state == CLIENT_READY || cl->state == CLIENT_CLOSED)
		return;
	uint64_t now = clock_mono_ms(), first = 0;
	for (struct client_req *r = cl->reqs; r; r = r->next) {
		if (!r->id)
			continue;
		if (!r->offline_since)
			r->offline_since = now;
		if (!first || r->offline_since < first)
			first = r->offline_since;
	}
	evtimer_del(cl->offline_timer);
	if (first && cl->cfg.offline_timeout_ms) {
		uint64_t due = first + cl->cfg.offline_timeout_ms;
		timer_in(cl->offline_timer, due > now ? due - now : 0);
	}
}

static void offline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct client *cl = arg;
	(void)fd;
	(void)what;
	uint64_t now = clock_mono_ms();
	for (struct client_req *r = cl->reqs; r && cl->state != CLIENT_READY;) {
		if (r->id && r->offline_since && now - r->offline_since >= cl->cfg.offline_timeout_ms) {
			client_req_error(cl, r, "offline", offline_why(r));
			client_req_end(cl, r, CC_ERR_TIMEOUT);
			r = cl->reqs;  /* the list changed (and the caller may have asked more) */
			continue;
		}
		r = r->next;
	}
	client_offline_arm(cl);
}

cc_err client_timers_new(struct client *cl)
{
	cl->conn_timer = event_new(cl->base, -1, EV_PERSIST, conn_tick_cb, cl);
	cl->retry_timer = evtimer_new(cl->base, retry_cb, cl);
	cl->offline_timer = evtimer_new(cl->base, offline_cb, cl);
	return cl->conn_timer && cl->retry_timer && cl->offline_timer ? CC_OK : CC_ERR_NOMEM;
}

void client_timers_free(struct client *cl)
{
	if (cl->conn_timer)
		event_free(cl->conn_timer);
	if (cl->retry_timer)
		event_free(cl->retry_timer);
	if (cl->offline_timer)
		event_free(cl->offline_timer);
	cl->conn_timer = cl->retry_timer = cl->offline_timer = NULL;
}
