/* Read acknowledgements (ROOM_READ), kept in memory per connection and
 * written at the loop turn's group commit. A receiver acknowledges every 64
 * messages in every room it hears: looking the room and the membership up in
 * the store for each one was most of the store's work at full fan-out. The
 * first acknowledgement of a room on a connection is checked against the
 * store (a member of that room); the later ones only move the mark forward,
 * and the store's update touches only a member's own row, forward only and
 * never past the room's last message (store_member_advance_read), so a stale
 * entry after a kick changes nothing. An acknowledgement lost in a crash
 * only means a resend that the client skips. */
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "server/rooms_internal.h"
#include "store/store.h"
#include "util/log.h"

/* Rooms remembered per connection; acknowledgements of more go the slow way. */
#define READ_MARKS_MAX 64

struct read_mark {
	int64_t room;
	uint8_t room_id[PROTO_ROOM_ID_LEN];
	int64_t written;  /* the mark as last written (or read) */
	int64_t upto;     /* the mark acknowledged; written at the commit */
};

static struct read_mark *mark_find(const struct conn *c, const uint8_t room_id[PROTO_ROOM_ID_LEN])
{
	for (size_t i = 0; i < c->nmarks; i++)
		if (memcmp(c->marks[i].room_id, room_id, PROTO_ROOM_ID_LEN) == 0)
			return &c->marks[i];
	return NULL;
}

/* A new entry for a room the store says c's user is a member of; NULL when
 * the table is full or memory is short (the caller writes at once). */
static struct read_mark *mark_add(struct conn *c, const struct store_room *room,
				  const struct store_member *member)
{
	if (c->nmarks == READ_MARKS_MAX)
		return NULL;
	if (c->nmarks == c->marks_cap) {
		size_t cap = c->marks_cap ? c->marks_cap * 2 : 4;
		struct read_mark *m = realloc(c->marks, cap * sizeof *m);
		if (!m)
			return NULL;
		c->marks = m;
		c->marks_cap = cap;
	}
	struct read_mark *m = &c->marks[c->nmarks++];
	m->room = room->id;
	memcpy(m->room_id, room->room_id, PROTO_ROOM_ID_LEN);
	m->written = m->upto = member->last_read_msg_id;
	return m;
}

static void mark_write(struct conn *c, struct read_mark *m)
{
	cc_err err = store_member_advance_read(c->srv->store, m->room, c->user_id, m->upto);
	if (err)
		log_warn("conn %s: cannot record a read: %s", c->peer, cc_err_str(err));
	m->written = m->upto;
}

/* The client has handled the room's messages up to msg_id: the backlog of its
 * next join starts after that. Reads are acknowledged by the client, not
 * assumed when the server queues them, so nothing is lost if the client dies
 * (or refuses the room) before handling them; it skips what it handled. */
cc_err handle_room_read(struct conn *c, const struct proto_room_read *req)
{
	struct server *srv = c->srv;
	int64_t upto = req->msg_id > INT64_MAX ? INT64_MAX : (int64_t)req->msg_id;
	struct read_mark *m = mark_find(c, req->room_id);
	if (!m) {
		struct store_room room;
		struct store_member member;
		if (room_of_member(c, req->room_id, &room, &member) != CC_OK)
			return CC_OK;  /* no answer: a read for a room left meanwhile */
		if (upto <= member.last_read_msg_id)
			return CC_OK;
		m = mark_add(c, &room, &member);
		if (!m) {
			/* Not remembered: written now, in the turn's transaction. */
			struct read_mark once = {.room = room.id, .upto = upto};
			if (server_txn_ensure(srv))
				mark_write(c, &once);
			return CC_OK;
		}
	}
	if (upto <= m->upto)
		return CC_OK;
	/* Into the loop turn's group commit, like messages: one fsync for all. */
	if (!server_txn_ensure(srv))
		return CC_OK;
	m->upto = upto;
	if (!c->marks_dirty) {
		c->marks_dirty = true;
		c->marks_next = srv->marks_dirty;
		srv->marks_dirty = c;
	}
	return CC_OK;
}

void reads_write_all(struct server *srv)
{
	while (srv->marks_dirty) {
		struct conn *c = srv->marks_dirty;
		srv->marks_dirty = c->marks_next;
		c->marks_next = NULL;
		c->marks_dirty = false;
		for (size_t i = 0; i < c->nmarks; i++)
			if (c->marks[i].upto > c->marks[i].written)
				mark_write(c, &c->marks[i]);
	}
}

void reads_conn_gone(struct conn *c)
{
	struct server *srv = c->srv;
	if (c->marks_dirty) {
		struct conn **pp = &srv->marks_dirty;
		while (*pp != c)
			pp = &(*pp)->marks_next;
		*pp = c->marks_next;
		c->marks_dirty = false;
		c->marks_next = NULL;
		/* Marked dirty only with the transaction open, and every commit
		 * writes the marks first: it is still open. */
		for (size_t i = 0; i < c->nmarks; i++)
			if (c->marks[i].upto > c->marks[i].written && server_txn_ensure(srv))
				mark_write(c, &c->marks[i]);
	}
	free(c->marks);
	c->marks = NULL;
	c->nmarks = c->marks_cap = 0;
}
