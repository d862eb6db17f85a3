/* Load generator: connections, their sockets and buffers, and the event
 * callbacks that read and write them. What was read goes to cc.c or irc.c. */
#include <errno.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "loadgen.h"
#include "transport/chan.h"

static void conn_flush(struct lg_conn *c);

void lg_mark_dirty(struct lg_conn *c)
{
	if (!c->dirty) {
		c->dirty = true;
		c->dirty_next = g.dirty;
		g.dirty = c;
	}
}

void lg_flush_dirty(void)
{
	while (g.dirty) {
		struct lg_conn *c = g.dirty;
		g.dirty = c->dirty_next;
		c->dirty_next = NULL;
		c->dirty = false;
		conn_flush(c);
	}
}

void lg_conn_close(struct lg_conn *c)
{
	if (c->rev)
		event_free(c->rev);
	if (c->wev)
		event_free(c->wev);
	c->rev = c->wev = NULL;
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

void lg_conn_fail(struct lg_conn *c, const char *why)
{
	if (c->state == ST_DEAD)
		return;
	bool setup = c->state != ST_JOINED;
	c->state = ST_DEAD;
	g.dead++;
	lg_conn_close(c);
	if (setup || g.phase < PH_RUN)
		lg_fail("%s: %s", c->nick, why);
	else if (g.dead <= 5)
		fprintf(stderr, "loadgen: %s lost during the run: %s\n", c->nick, why);
}

static void conn_write(struct lg_conn *c)
{
	while (c->out_off < c->out.len) {
		ssize_t n = send(c->fd, c->out.data + c->out_off, c->out.len - c->out_off,
				 MSG_NOSIGNAL);
		if (n > 0) {
			c->out_off += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			event_add(c->wev, NULL);
			return;
		}
		lg_conn_fail(c, n < 0 ? strerror(errno) : "write failed");
		return;
	}
	/* Not buf_reset: nothing here is secret, and wiping costs a pass. */
	c->out.len = 0;
	c->out_off = 0;
}

static void conn_flush(struct lg_conn *c)
{
	if (c->state == ST_DEAD || c->state == ST_CONNECTING)
		return;
	if (c->plain.len && c->ch && chan_is_open(c->ch)) {
		cc_err err = chan_send(c->ch, c->plain.data, c->plain.len, &c->out);
		c->plain.len = 0;
		if (err) {
			lg_conn_fail(c, cc_err_str(err));
			return;
		}
	}
	conn_write(c);
}

static void on_read(evutil_socket_t fd, short what, void *arg);
static void on_write(evutil_socket_t fd, short what, void *arg);

static void conn_connected(struct lg_conn *c)
{
	c->state = ST_HELLO;
	if (g.o.irc)
		lg_irc_on_connected(c);
	else
		lg_cc_on_connected(c);
}

static void conn_open(struct lg_conn *c)
{
	int one = 1;
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		lg_fail("socket: %s", strerror(errno));
		return;
	}
	/* The server sets TCP_NODELAY on its side; the generator does the same
	 * for both servers unless told not to. */
	if (g.o.nodelay)
		setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	c->rev = event_new(g.base, c->fd, EV_READ | EV_PERSIST, on_read, c);
	c->wev = event_new(g.base, c->fd, EV_WRITE, on_write, c);
	if (!c->rev || !c->wev) {
		lg_fail("out of memory");
		return;
	}
	event_add(c->rev, NULL);
	c->state = ST_CONNECTING;
	if (connect(c->fd, (const struct sockaddr *)&g.addr, sizeof g.addr) == 0) {
		conn_connected(c);
		return;
	}
	if (errno != EINPROGRESS) {
		lg_conn_fail(c, strerror(errno));
		return;
	}
	event_add(c->wev, NULL);
}

void lg_open_more(void)
{
	while (g.phase == PH_CONNECT && !g.exit_code && g.pending < g.o.connect_batch &&
	       g.next_open < g.o.clients) {
		g.pending++;
		conn_open(&g.conns[g.next_open++]);
	}
}

void lg_conn_registered(struct lg_conn *c)
{
	c->state = ST_READY;
	g.pending--;
	g.registered++;
	if (g.registered == g.o.clients)
		g.t_registered = lg_now_ns();
	lg_open_more();
}

static void on_read(evutil_socket_t fd, short what, void *arg)
{
	struct lg_conn *c = arg;
	(void)what;

	/* Room for a good read: drop what was handled, grow if a frame needs it. */
	if (c->in_off == c->in_len) {
		c->in_off = c->in_len = 0;
	} else if (c->in_cap - c->in_len < LG_READ_MIN && c->in_off) {
		memmove(c->in, c->in + c->in_off, c->in_len - c->in_off);
		c->in_len -= c->in_off;
		c->in_off = 0;
	}
	if (c->in_cap - c->in_len < LG_READ_MIN) {
		uint8_t *p = realloc(c->in, c->in_cap * 2);
		if (!p) {
			lg_fail("out of memory");
			return;
		}
		c->in = p;
		c->in_cap *= 2;
	}
	ssize_t n = recv(fd, c->in + c->in_len, c->in_cap - c->in_len, 0);
	/* Everything in one read arrived together: one clock reading for all. */
	g.read_ns = lg_now_ns();
	if (n == 0) {
		lg_conn_fail(c, "closed by the server");
	} else if (n < 0) {
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			lg_conn_fail(c, strerror(errno));
	} else {
		c->in_len += (size_t)n;
		if (g.o.irc)
			lg_irc_process(c);
		else
			lg_cc_process(c);
	}
	lg_flush_dirty();
}

static void on_write(evutil_socket_t fd, short what, void *arg)
{
	struct lg_conn *c = arg;
	(void)what;
	if (c->state == ST_CONNECTING) {
		int err = 0;
		socklen_t len = sizeof err;
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
			err = errno;
		if (err) {
			lg_conn_fail(c, strerror(err));
			return;
		}
		conn_connected(c);
	}
	conn_flush(c);
	lg_flush_dirty();
}
