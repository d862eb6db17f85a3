/* Connecting through a SOCKS5 proxy (--proxy, --tor): the client dials
 * only the proxy and hands it the server's name as the user gave it
 * (transport/socks5.c), so no name is resolved here and no other
 * connection is made; .onion names work through Tor. Each client run has
 * its own random username and password, which Tor (IsolateSOCKSAuth) takes
 * as a reason to use circuits no other identity shares.
 *
 * Two deadlines: reaching the proxy (the TCP connection and its choice of
 * method, 5 s: it is local, or near), then the tunnel (connect_timeout_ms,
 * 120 s by default: a fresh onion service takes tens of seconds). The
 * keepalive of reconnect.c waits until the tunnel is open. */
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <stdio.h>
#include <string.h>

#include "client/core/internal.h"
#include "crypto/crypto.h"
#include "util/log.h"

#define PROXY_REACH_MS 5000
#define PROXY_CONNECT_DEFAULT_MS 120000

static void proxy_timer_in(struct client *cl, uint64_t ms)
{
	struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};
	evtimer_add(cl->proxy_timer, &tv);
}

static void proxy_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct client *cl = arg;
	char why[1000];
	(void)fd;
	(void)what;
	if (!cl->proxy_phase)
		return;
	if (cl->socks.state == SOCKS5_CONNECT || cl->socks.state == SOCKS5_AUTH) {
		snprintf(why, sizeof why, "the proxy %s did not reach %s within %llu s",
			 cl->proxy_name, cl->server,
			 (unsigned long long)(client_proxy_connect_ms(cl) / 1000));
		client_conn_failed(cl, "connect_timeout", why);
	} else {
		snprintf(why, sizeof why, "the proxy %s did not answer within %d s",
			 cl->proxy_name, PROXY_REACH_MS / 1000);
		client_conn_failed(cl, "proxy_timeout", why);
	}
}

cc_err client_proxy_init(struct client *cl)
{
	if (!cl->cfg.proxy.port)
		return CC_OK;
	snprintf(cl->proxy_name, sizeof cl->proxy_name,
		 strchr(cl->cfg.proxy.host, ':') ? "[%s]:%u" : "%s:%u", cl->cfg.proxy.host,
		 cl->cfg.proxy.port);
	/* 16 random bytes each, in hex: the proxy sees nothing of the identity. */
	uint8_t rnd[16];
	cc_err err = crypto_random_bytes(rnd, sizeof rnd);
	if (!err) {
		hex_encode(rnd, sizeof rnd, cl->proxy_user);
		err = crypto_random_bytes(rnd, sizeof rnd);
	}
	if (!err)
		hex_encode(rnd, sizeof rnd, cl->proxy_pass);
	mem_wipe(rnd, sizeof rnd);
	if (!err && !(cl->proxy_timer = evtimer_new(cl->base, proxy_timeout_cb, cl)))
		err = CC_ERR_NOMEM;
	return err;
}

void client_proxy_free(struct client *cl)
{
	if (cl->proxy_timer)
		event_free(cl->proxy_timer);
	cl->proxy_timer = NULL;
	socks5_clear(&cl->socks);
	mem_wipe(cl->proxy_pass, sizeof cl->proxy_pass);
}

uint64_t client_proxy_connect_ms(const struct client *cl)
{
	return cl->cfg.connect_timeout_ms ? cl->cfg.connect_timeout_ms : PROXY_CONNECT_DEFAULT_MS;
}

void client_proxy_dialing(struct client *cl)
{
	cl->proxy_phase = true;
	memset(&cl->socks, 0, sizeof cl->socks);
	proxy_timer_in(cl, PROXY_REACH_MS);
}

void client_proxy_closed(struct client *cl)
{
	cl->proxy_phase = false;
	if (cl->proxy_timer)
		evtimer_del(cl->proxy_timer);
	socks5_clear(&cl->socks);
}

cc_err client_proxy_start(struct client *cl, struct buf *out)
{
	cc_err err = socks5_start(&cl->socks, cl->cfg.host, cl->cfg.port, cl->proxy_user,
				  cl->proxy_pass, out);
	if (err) {
		char why[600];
		snprintf(why, sizeof why, "cannot go through the proxy %s: %s", cl->proxy_name,
			 cl->socks.error_text);
		client_conn_failed(cl, cl->socks.error_code, why);
	}
	return err;
}

int client_proxy_read(struct client *cl, struct evbuffer *input, struct buf *out)
{
	for (;;) {
		size_t avail = evbuffer_get_length(input), used = 0;
		if (avail == 0)
			return 1;
		/* A reply is at most 4 + 1 + 255 + 2 bytes. */
		size_t look = avail < 262 ? avail : 262;
		const uint8_t *data = evbuffer_pullup(input, (ev_ssize_t)look);
		enum socks5_state before = cl->socks.state;
		cc_err err = socks5_recv(&cl->socks, data, look, &used, out);
		if (err == CC_ERR_TRUNCATED)
			return 1;
		evbuffer_drain(input, used);
		if (err) {
			char why[700];
			if (cl->socks.reply)
				snprintf(why, sizeof why, "the proxy %s could not reach %s: %s "
					 "(SOCKS reply 0x%02x)", cl->proxy_name, cl->server,
					 cl->socks.error_text, cl->socks.reply);
			else
				snprintf(why, sizeof why, "the proxy %s: %s", cl->proxy_name,
					 cl->socks.error_text ? cl->socks.error_text
							      : cc_err_str(err));
			client_conn_failed(cl, cl->socks.error_code ? cl->socks.error_code
								    : "proxy_protocol", why);
			return -1;
		}
		if (before == SOCKS5_METHOD)
			proxy_timer_in(cl, client_proxy_connect_ms(cl));  /* reached: now the tunnel */
		if (cl->socks.state == SOCKS5_OPEN) {
			cl->proxy_phase = false;
			evtimer_del(cl->proxy_timer);
			log_info("the proxy %s opened a tunnel to %s", cl->proxy_name, cl->server);
			return 0;
		}
	}
}

const char *client_proxy_get(const struct client *cl)
{
	return cl->cfg.proxy.port ? cl->proxy_name : NULL;
}
