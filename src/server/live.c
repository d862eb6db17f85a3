/* Who hears a room now: the connections that joined it and are live in it.
 *
 * An open-addressed table (srv->live, by room row id) holds, for each room,
 * the connections it is delivered to live; each connection keeps the list of
 * its live rooms (conn->active_rooms). A committed message is encoded once and
 * copied to every listener (live_fan_out); a new record goes to every live
 * member with their directory entries and, for a new epoch, each one's own
 * wrapped key (broadcast_record_keyed). Kept apart from the requests so that
 * the table's invariants live in one file. */
#include <stdlib.h>
#include <string.h>

#include <event2/bufferevent.h>
#include <event2/event.h>

#include "proto/frame.h"
#include "proto/room.h"
#include "server/rooms_internal.h"
#include "util/clock.h"

struct live_room {
	int64_t room;
	struct conn **conns;
	size_t n, cap;
	size_t nbacked;  /* listeners whose output is over --output-soft */
};

static void live_resume_senders(struct server *srv);

/* ---- live membership: who hears a room now ------------------------------ */

static size_t live_slot(const struct server *srv, int64_t room)
{
	return (size_t)((uint64_t)room * 0x9e3779b97f4a7c15ull) & (srv->live_cap - 1);
}

static struct live_room *live_find(const struct server *srv, int64_t room)
{
	for (size_t i = live_slot(srv, room);; i = (i + 1) & (srv->live_cap - 1)) {
		struct live_room *lr = srv->live[i];
		if (!lr || lr->room == room)
			return lr;
	}
}

static cc_err live_grow(struct server *srv)
{
	size_t old_cap = srv->live_cap;
	struct live_room **old = srv->live;
	struct live_room **table = calloc(old_cap * 2, sizeof *table);
	if (!table)
		return CC_ERR_NOMEM;
	srv->live = table;
	srv->live_cap = old_cap * 2;
	for (size_t i = 0; i < old_cap; i++) {
		if (!old[i])
			continue;
		size_t j = live_slot(srv, old[i]->room);
		while (table[j])
			j = (j + 1) & (srv->live_cap - 1);
		table[j] = old[i];
	}
	free(old);
	return CC_OK;
}

/* Removes slot i and re-seats the entries after it (linear probing). */
static void live_remove_slot(struct server *srv, size_t i)
{
	free(srv->live[i]->conns);
	free(srv->live[i]);
	srv->live[i] = NULL;
	srv->live_count--;
	for (size_t j = (i + 1) & (srv->live_cap - 1); srv->live[j];
	     j = (j + 1) & (srv->live_cap - 1)) {
		struct live_room *lr = srv->live[j];
		srv->live[j] = NULL;
		size_t k = live_slot(srv, lr->room);
		while (srv->live[k])
			k = (k + 1) & (srv->live_cap - 1);
		srv->live[k] = lr;
	}
}

int conn_is_active(const struct conn *c, int64_t room)
{
	for (size_t i = 0; i < c->nactive; i++)
		if (c->active_rooms[i] == room)
			return 1;
	return 0;
}

cc_err live_add(struct conn *c, int64_t room)
{
	struct server *srv = c->srv;
	cc_err err;

	if (conn_is_active(c, room))
		return CC_OK;
	if (c->nactive == c->active_cap) {
		size_t cap = c->active_cap ? c->active_cap * 2 : 4;
		int64_t *rooms = realloc(c->active_rooms, cap * sizeof *rooms);
		if (!rooms)
			return CC_ERR_NOMEM;
		c->active_rooms = rooms;
		c->active_cap = cap;
	}
	if ((srv->live_count + 1) * 2 > srv->live_cap && (err = live_grow(srv)))
		return err;
	struct live_room *lr = live_find(srv, room);
	if (!lr) {
		lr = calloc(1, sizeof *lr);
		if (!lr)
			return CC_ERR_NOMEM;
		lr->room = room;
		size_t i = live_slot(srv, room);
		while (srv->live[i])
			i = (i + 1) & (srv->live_cap - 1);
		srv->live[i] = lr;
		srv->live_count++;
	}
	if (lr->n == lr->cap) {
		size_t cap = lr->cap ? lr->cap * 2 : 8;
		struct conn **conns = realloc(lr->conns, cap * sizeof *conns);
		if (!conns)
			return CC_ERR_NOMEM;
		lr->conns = conns;
		lr->cap = cap;
	}
	lr->conns[lr->n++] = c;
	c->active_rooms[c->nactive++] = room;
	if (c->backed)
		lr->nbacked++;
	return CC_OK;
}

/* Stops live delivery of a room to c (reads are recorded by ROOM_READ). */
void live_remove(struct conn *c, int64_t room)
{
	struct server *srv = c->srv;

	if (!conn_is_active(c, room))
		return;
	for (size_t i = 0; i < c->nactive; i++) {
		if (c->active_rooms[i] == room) {
			c->active_rooms[i] = c->active_rooms[--c->nactive];
			break;
		}
	}
	for (size_t i = live_slot(srv, room); srv->live[i]; i = (i + 1) & (srv->live_cap - 1)) {
		struct live_room *lr = srv->live[i];
		if (lr->room != room)
			continue;
		for (size_t k = 0; k < lr->n; k++) {
			if (lr->conns[k] == c) {
				lr->conns[k] = lr->conns[--lr->n];
				break;
			}
		}
		if (c->backed && lr->nbacked > 0) {
			lr->nbacked--;
			live_resume_senders(srv);
		}
		if (lr->n == 0)
			live_remove_slot(srv, i);
		break;
	}
}

/* Drops every live connection of a user from a room (it left or was removed). */
void room_drop_user(struct server *srv, int64_t room, int64_t user)
{
	struct live_room *lr = live_find(srv, room);
	for (size_t i = lr ? lr->n : 0; i-- > 0;) {
		struct conn *other = lr->conns[i];
		if (other->user_id == user) {
			live_remove(other, room);
			lr = live_find(srv, room);
			if (!lr)
				break;
		}
	}
	for (struct conn *o = srv->conns; o; o = o->next)
		if (o->user_id == user && o->pumping && o->pump_room == room)
			o->pumping = false;
}

cc_err live_init(struct server *srv)
{
	srv->live_cap = 64;
	srv->live = calloc(srv->live_cap, sizeof *srv->live);
	buf_init(&srv->fanout, PROTO_FRAME_MAX_LIMIT);
	return srv->live ? CC_OK : CC_ERR_NOMEM;
}

void live_free(struct server *srv)
{
	for (size_t i = 0; i < srv->live_cap; i++) {
		if (srv->live && srv->live[i]) {
			free(srv->live[i]->conns);
			free(srv->live[i]);
		}
	}
	free(srv->live);
	srv->live = NULL;
	buf_free(&srv->fanout);
}

/* ---- sending to who hears a room now ------------------------------------- */

/* The wrapped key in keys meant for nick, as a one-item list in raw. */
static uint16_t key_for_nick(const struct proto_list *keys, const char *nick, struct buf *raw)
{
	struct proto_list_iter it;
	struct proto_wrapped_item w;

	buf_reset(raw);
	if (!keys)
		return 0;
	proto_list_iter_init(&it, keys, PROTO_ITEM_WRAPPED);
	while (proto_list_next(&it, &w) == CC_OK)
		if (w.nick.len == strlen(nick) && strncasecmp((const char *)w.nick.p, nick, w.nick.len) == 0)
			return proto_item_encode(PROTO_ITEM_WRAPPED, &w, raw) == CC_OK ? 1 : 0;
	return 0;
}

/* Sends a record to every live member of the room but `except`, each with its
 * own wrapped key of a new epoch when keys is given. */
void broadcast_record(struct server *srv, int64_t room, const uint8_t room_id[PROTO_ROOM_ID_LEN],
		      uint64_t position, const uint8_t *rec, size_t len,
		      const struct conn *except, const struct proto_list *keys)
{
	struct live_room *lr = live_find(srv, room);
	struct proto_msg m = {.type = PROTO_ROOM_RECORD};
	struct proto_record r;
	struct buf users;
	uint16_t nusers = 0;

	if (!lr || proto_record_decode(rec, len, &r))
		return;
	/* The directory entries of everyone the record names: its actor and
	 * subjects (an ADD may bring up to PROTO_RECORD_SUBJECTS_MAX). */
	struct proto_subject_iter it;
	struct proto_bytes nick;
	const uint8_t *fp;
	buf_init(&users, (PROTO_RECORD_SUBJECTS_MAX + 1) * 2048);
	if (user_item_put(srv, r.actor_fp, &users) == CC_OK)
		nusers++;
	proto_subject_iter_init(&it, &r);
	while (proto_subject_next(&it, &nick, &fp) == CC_OK)
		if (memcmp(fp, r.actor_fp, PROTO_FINGERPRINT_LEN) != 0 &&
		    user_item_put(srv, fp, &users) == CC_OK)
			nusers++;
	memcpy(m.u.room_record.room_id, room_id, PROTO_ROOM_ID_LEN);
	m.u.room_record.position = position;
	m.u.room_record.record = (struct proto_bytes){rec, len};
	m.u.room_record.users = (struct proto_list){nusers, {users.data, users.len}};
	struct buf key;
	buf_init(&key, PROTO_WRAPPED_MAX + 64);
	for (size_t i = lr->n; i-- > 0;) {
		if (lr->conns[i] == except)
			continue;
		uint16_t n = key_for_nick(keys, lr->conns[i]->nick, &key);
		m.u.room_record.keys = (struct proto_list){n, {key.data, key.len}};
		conn_queue_msg(lr->conns[i], &m);
	}
	buf_free(&key);
	buf_free(&users);
}

/* Encodes ROOM_MSG once as an inner frame, then copies it to every listener. */
void live_fan_out(struct server *srv, const struct pending_send *ps)
{
	struct live_room *lr = live_find(srv, ps->room);
	struct proto_msg m = {.type = PROTO_ROOM_MSG};
	uint8_t *hdr;

	if (!lr)
		return;
	memcpy(m.u.room_msg.room_id, ps->room_id, PROTO_ROOM_ID_LEN);
	m.u.room_msg.msg_id = (uint64_t)ps->msg_id;
	m.u.room_msg.server_ts_ms = ps->ts_ms;
	m.u.room_msg.envelope = (struct proto_bytes){ps->envelope.data, ps->envelope.len};
	buf_reset(&srv->fanout);
	if (buf_append_space(&srv->fanout, PROTO_FRAME_HEADER_LEN, &hdr) ||
	    proto_msg_encode(&m, &srv->fanout))
		return;
	store_be32(srv->fanout.data, (uint32_t)(srv->fanout.len - PROTO_FRAME_HEADER_LEN));
	/* Iterate backwards: a connection dropped for its output cap is only
	 * marked dead, so the array does not change under us. */
	for (size_t i = lr->n; i-- > 0;)
		if (lr->conns[i] != ps->sender)
			conn_queue_frame(lr->conns[i], srv->fanout.data, srv->fanout.len);
	/* Someone here reads slower than the room talks: its sender waits (its
	 * socket is not read) until that reader has drained, so a burst queues
	 * in the senders' TCP windows, not without bound in the server. */
	struct conn *s = ps->sender;
	if (lr->nbacked > 0 && s && !s->paused && !s->closing && !s->dead) {
		s->paused = true;
		s->paused_next = srv->paused;
		srv->paused = s;
		bufferevent_disable(s->bev, EV_READ);
	}
}

/* ---- flow control: --output-soft ------------------------------------------ */

size_t live_output_soft(const struct server *srv)
{
	size_t quarter = srv->cfg->max_output / 4;
	return srv->cfg->output_soft < quarter ? srv->cfg->output_soft : quarter;
}

static void backed_set(struct conn *c, bool backed)
{
	struct server *srv = c->srv;
	if (c->backed == backed)
		return;
	c->backed = backed;
	c->backed_since_ms = backed ? clock_mono_ms() : 0;
	for (size_t i = 0; i < c->nactive; i++) {
		struct live_room *lr = live_find(srv, c->active_rooms[i]);
		if (!lr)
			continue;
		if (backed)
			lr->nbacked++;
		else if (lr->nbacked > 0)
			lr->nbacked--;
	}
	if (!backed)
		live_resume_senders(srv);
}

/* Every waiting sender is read again; one whose room is still backed waits
 * again at its next message. */
static void live_resume_senders(struct server *srv)
{
	uint64_t now = clock_mono_ms();
	while (srv->paused) {
		struct conn *c = srv->paused;
		srv->paused = c->paused_next;
		c->paused_next = NULL;
		c->paused = false;
		if (c->closing || c->dead)
			continue;
		c->last_recv_ms = now;  /* it was not silent: we were not listening */
		bufferevent_enable(c->bev, EV_READ);
	}
}

void live_output_queued(struct conn *c, size_t queued)
{
	size_t soft = live_output_soft(c->srv);
	if (soft && !c->backed && queued > soft)
		backed_set(c, true);
}

void live_output_written(struct conn *c, size_t queued)
{
	if (c->backed && queued <= live_output_soft(c->srv) / 2)
		backed_set(c, false);
}

int live_backed_too_long(const struct conn *c, uint64_t now_mono_ms)
{
	return c->backed &&
	       now_mono_ms - c->backed_since_ms >= (uint64_t)c->srv->cfg->output_soft_s * 1000;
}

/* The connection is going: it no longer holds anyone back, nor waits. */
void live_conn_gone(struct conn *c)
{
	struct server *srv = c->srv;
	if (c->paused) {
		struct conn **pp = &srv->paused;
		while (*pp != c)
			pp = &(*pp)->paused_next;
		*pp = c->paused_next;
		c->paused = false;
		c->paused_next = NULL;
	}
	backed_set(c, false);
}
