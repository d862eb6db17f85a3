/* The server's output: what a loop turn queues for each connection (inner
 * frames in conn->pending), and the flush that commits the turn, answers,
 * fans out and seals each connection's frames straight into its socket
 * buffer. */
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "proto/frame.h"
#include "proto/msg.h"
#include "server/server_internal.h"
#include "transport/chan.h"
#include "util/clock.h"
#include "util/log.h"

static void conn_flush(struct conn *c);

void conn_close_after_flush(struct conn *c)
{
	if (c->closing)
		return;
	c->closing = true;
	conn_flush(c);
	bufferevent_disable(c->bev, EV_READ);
	if (!c->dead && evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
		conn_kill(c);
	/* else conn_write_cb kills it once the output has drained */
}

void conn_write_wire(struct conn *c)
{
	if (c->wire.len == 0)
		return;
	if (c->dead || bufferevent_write(c->bev, c->wire.data, c->wire.len) != 0)
		conn_kill(c);
	buf_clear(&c->wire);  /* sealed records: nothing secret to wipe */
}

/* Seals what is pending into one record (or a few, past the frame cap),
 * straight into the socket's output buffer: one pass over the bytes. */
static void conn_flush(struct conn *c)
{
	if (c->pending.len == 0 || c->dead)
		return;
	struct evbuffer *out = bufferevent_get_output(c->bev);
	size_t sealed_len = chan_sealed_len(c->chan, c->pending.len);
	if (evbuffer_get_length(out) + sealed_len > c->srv->cfg->max_output) {
		/* A reader too slow for what it is sent is dropped, never buffered
		 * without bound. */
		conn_log(c, LOG_LEVEL_WARN, "output cap reached, dropping", CC_ERR_LIMIT);
		buf_reset(&c->pending);
		conn_kill(c);
		return;
	}
	struct evbuffer_iovec space;
	cc_err err = CC_ERR_NOMEM;
	if (evbuffer_reserve_space(out, (ev_ssize_t)sealed_len, &space, 1) == 1 &&
	    space.iov_len >= sealed_len) {
		err = chan_send_into(c->chan, c->pending.data, c->pending.len, space.iov_base,
				     sealed_len);
		space.iov_len = sealed_len;
		if (!err && evbuffer_commit_space(out, &space, 1) != 0)
			err = CC_ERR_NOMEM;
	}
	buf_reset(&c->pending);
	if (err) {
		/* Records sealed but not sent would leave the peer's counter behind
		 * ours: nothing sensible can follow on this connection. */
		conn_log(c, LOG_LEVEL_WARN, "seal", err);
		conn_kill(c);
		return;
	}
	if (c->user_id)
		live_output_queued(c, evbuffer_get_length(out));
}

/* The end of a loop turn's work: commit, answer, fan out, write. Under a
 * steady stream, turns closer than --flush-interval-us are gathered into
 * one: fewer commits, records and writes, each carrying more; after a quiet
 * spell the first turn is flushed at once, so a lone message waits for
 * nothing. */
void server_flush_soon(struct server *srv)
{
	if (srv->flush_pending)
		return;
	srv->flush_pending = true;
	uint64_t gap_us = srv->cfg->flush_interval_us;
	uint64_t since_us = (clock_mono_us() - srv->last_flush_us);
	if (gap_us == 0 || since_us >= gap_us) {
		event_active(srv->flush_ev, EV_WRITE, 0);
		return;
	}
	struct timeval wait = {0, (suseconds_t)(gap_us - since_us)};
	evtimer_add(srv->flush_ev, &wait);
}

static void server_flush_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server *srv = arg;
	(void)fd;
	(void)what;
	srv->flush_pending = false;
	srv->last_flush_us = clock_mono_us();
	server_rooms_commit(srv);
	while (srv->dirty) {
		struct conn *c = srv->dirty;
		srv->dirty = c->dirty_next;
		c->dirty_next = NULL;
		c->dirty = false;
		conn_flush(c);
	}
	while (srv->graveyard) {
		struct conn *c = srv->graveyard;
		srv->graveyard = c->dead_next;
		conn_free(c);
	}
}

struct event *server_flush_event_new(struct server *srv)
{
	return evtimer_new(srv->base, server_flush_cb, srv);
}

static void conn_mark_dirty(struct conn *c)
{
	if (!c->dirty) {
		c->dirty = true;
		c->dirty_next = c->srv->dirty;
		c->srv->dirty = c;
		server_flush_soon(c->srv);
	}
}

size_t conn_queued(const struct conn *c)
{
	return c->pending.len + evbuffer_get_length(bufferevent_get_output(c->bev));
}

cc_err conn_queue_frame(struct conn *c, const uint8_t *frame, size_t len)
{
	if (c->dead || !chan_is_open(c->chan))
		return CC_ERR_STATE;
	cc_err err = buf_put_bytes(&c->pending, frame, len);
	if (err) {
		/* More than max_output waiting: a reader this slow is dropped. */
		conn_log(c, LOG_LEVEL_WARN, "output cap reached, dropping", CC_ERR_LIMIT);
		conn_kill(c);
		return err;
	}
	conn_mark_dirty(c);
	return CC_OK;
}

cc_err conn_queue_msg(struct conn *c, const struct proto_msg *m)
{
	size_t start = c->pending.len;
	uint8_t *hdr;
	cc_err err;

	if (c->dead || !chan_is_open(c->chan))
		return CC_ERR_STATE;
	if ((err = buf_append_space(&c->pending, PROTO_FRAME_HEADER_LEN, &hdr)) ||
	    (err = proto_msg_encode(m, &c->pending))) {
		c->pending.len = start;
		if (err == CC_ERR_TOO_LARGE)
			conn_log(c, LOG_LEVEL_WARN, "pending output over its cap", err);
		return err;
	}
	store_be32(c->pending.data + start, (uint32_t)(c->pending.len - start - PROTO_FRAME_HEADER_LEN));
	conn_mark_dirty(c);
	return CC_OK;
}

void conn_send_error(struct conn *c, uint32_t request_id, cc_err code, const char *text)
{
	struct proto_msg m = {.type = PROTO_ERROR};
	m.u.error.request_id = request_id;
	m.u.error.code = (uint16_t)code;
	m.u.error.text = proto_bytes_str(text ? text : cc_err_str(code));
	conn_queue_msg(c, &m);
}

