/* The requests in flight, each with its own state, and the order they run
 * in. A request waits (STEP_QUEUED) while:
 *   - it is a join and another join is loading (the server pumps one
 *     backlog at a time per connection);
 *   - it changes a room's membership while another change of that room is
 *     in flight (the second would be stale);
 *   - it says a line in a room whose epoch a departure closed, until the new
 *     epoch exists (nobody sends under a key a departed member holds), or
 *     while that room's membership is changing, or while it is being joined.
 * Everything else starts at once, and several requests may be in flight. */
#include <stdlib.h>
#include <string.h>

#include "client/core/internal.h"
#include "util/log.h"

struct client_req *client_req_new(struct client *cl, enum client_req_kind kind, bool caller)
{
	struct client_req *req = calloc(1, sizeof *req);
	if (!req)
		return NULL;
	req->kind = kind;
	req->step = STEP_QUEUED;
	if (caller) {
		if (++cl->next_id == 0)
			++cl->next_id;  /* 0 means "nobody's" */
		req->id = cl->next_id;
	}
	buf_init(&req->asked, 64 * 1024);
	buf_init(&req->records, 512 * 1024);
	/* Last in the list: requests run in the order they came. */
	struct client_req **tail = &cl->reqs;
	while (*tail)
		tail = &(*tail)->next;
	*tail = req;
	return req;
}

uint32_t client_request(struct client *cl, enum client_req_kind kind, const uint8_t *room,
			struct client_req **out)
{
	struct client_req *req = client_req_new(cl, kind, true);
	*out = NULL;
	if (!req)
		return 0;
	uint32_t id = req->id;
	if (room) {
		memcpy(req->room, room, PROTO_ROOM_ID_LEN);
		hex_encode(room, PROTO_ROOM_ID_LEN, req->room_hex);
	}
	if (cl->state != CLIENT_READY) {
		client_req_error(cl, req, "not_connected", "not connected to the server");
		client_req_end(cl, req, CC_ERR_STATE);
		return id;
	}
	*out = req;
	return id;
}

cc_err client_req_send(struct client *cl, struct client_req *req, struct proto_msg *m)
{
	if (++cl->next_wire == 0)
		++cl->next_wire;
	req->wire = cl->next_wire;
	switch (m->type) {
	case PROTO_SIGNING_KEY:
		m->u.signing_key.request_id = req->wire;
		break;
	case PROTO_RECEIVE_KEY:
		m->u.receive_key.request_id = req->wire;
		break;
	case PROTO_USERS_GET:
		m->u.users_get.request_id = req->wire;
		break;
	case PROTO_ROOM_CREATE:
		m->u.room_create.request_id = req->wire;
		break;
	case PROTO_ROOMS_LIST:
		m->u.request.request_id = req->wire;
		break;
	case PROTO_ROOM_JOIN:
	case PROTO_ROOM_DISCONNECT:
	case PROTO_ROOM_FETCH:
		m->u.room_ref.request_id = req->wire;
		break;
	case PROTO_MSG_SEND:
		m->u.msg_send.request_id = req->wire;
		break;
	case PROTO_ROOM_ADD:
	case PROTO_ROOM_KICK:
	case PROTO_ROOM_REKEY:
		m->u.room_rekey.request_id = req->wire;
		break;
	case PROTO_ROOM_LEAVE:
	case PROTO_ROOM_ADMIN:
		m->u.room_leave.request_id = req->wire;
		break;
	case PROTO_PING:
		break;  /* answered by its token */
	default:
		return CC_ERR_INTERNAL;
	}
	return client_send(cl, m);
}

struct client_req *client_req_by_wire(struct client *cl, uint32_t wire)
{
	for (struct client_req *r = cl->reqs; r && wire; r = r->next)
		if (r->wire == wire)
			return r;
	return NULL;
}

struct client_req *client_req_for_room(struct client *cl, enum client_req_kind kind,
				       const uint8_t room[PROTO_ROOM_ID_LEN])
{
	for (struct client_req *r = cl->reqs; r; r = r->next)
		if (r->kind == kind && memcmp(r->room, room, PROTO_ROOM_ID_LEN) == 0)
			return r;
	return NULL;
}

static void client_req_free(struct client_req *req)
{
	if (req->text) {
		mem_wipe(req->text, req->text_len);
		free(req->text);
	}
	buf_free(&req->asked);
	buf_free(&req->records);
	free(req->sweep_rooms);
	free(req->change);
	if (req->has_chain)
		e2e_chain_free(&req->chain);
	client_room_free(req->new_room);
	mem_wipe(req->secret, sizeof req->secret);
	free(req);
}

void client_req_end(struct client *cl, struct client_req *req, cc_err err)
{
	for (struct client_req **p = &cl->reqs; *p; p = &(*p)->next) {
		if (*p == req) {
			*p = req->next;
			break;
		}
	}
	uint32_t id = req->id;
	client_req_free(req);
	if (id && cl->cb.on_done)
		cl->cb.on_done(cl->cb.ctx, id, err);
	client_reqs_pump(cl);
	client_quit_continue(cl);
	client_notify(cl);
}

void client_reqs_free(struct client *cl)
{
	while (cl->reqs) {
		struct client_req *req = cl->reqs;
		cl->reqs = req->next;
		uint32_t id = req->id;
		client_req_free(req);
		if (id && cl->cb.on_done)
			cl->cb.on_done(cl->cb.ctx, id, CC_ERR_CLOSED);
	}
}

void client_owed_add(struct client *cl, const uint8_t room[PROTO_ROOM_ID_LEN], bool wanted)
{
	struct client_req *req = client_req_for_room(cl, REQ_REKEY, room);
	if (req) {
		req->wanted |= wanted;
		return;
	}
	if (!(req = client_req_new(cl, REQ_REKEY, false)))
		return;
	memcpy(req->room, room, PROTO_ROOM_ID_LEN);
	hex_encode(room, PROTO_ROOM_ID_LEN, req->room_hex);
	req->wanted = wanted;
}

static bool changes_room(enum client_req_kind kind)
{
	return kind == REQ_ADD || kind == REQ_KICK || kind == REQ_ADMIN || kind == REQ_LEAVE ||
	       kind == REQ_REKEY;
}

/* 1 if a request other than `self` is past the queue and matches. */
static int active(const struct client *cl, const struct client_req *self, bool joins,
		  const uint8_t *room)
{
	for (const struct client_req *r = cl->reqs; r; r = r->next) {
		if (r == self || r->step == STEP_QUEUED)
			continue;
		if (joins && r->step == STEP_STATE && (r->kind == REQ_JOIN || r->kind == REQ_LEAVE))
			return 1;
		if (room && changes_room(r->kind) && memcmp(r->room, room, PROTO_ROOM_ID_LEN) == 0)
			return 1;
	}
	return 0;
}

/* A line waiting for its room: 1 to start it now, 0 to keep it waiting
 * (a new epoch is owed: one is asked for), -1 when it has waited too often. */
static int send_ready(struct client *cl, struct client_req *req)
{
	struct client_room *r = client_room_find(cl, req->room);
	if (active(cl, req, false, req->room) || client_req_for_room(cl, REQ_JOIN, req->room))
		return 0;
	if (!r || !r->joined)
		return 1;  /* (client_send_start reports a room no longer joined) */
	/* Due only for its age or message count: a new epoch first if it can be
	 * made, else the line goes out under this one. */
	bool must = r->chain.closed || r->gone_pending || r->keys_lost;
	if (!must && (!client_rekey_due(cl, r) || req->tries >= CLIENT_SEND_TRIES))
		return 1;
	if (client_req_for_room(cl, REQ_REKEY, req->room))
		return 0;
	if (req->tries++ >= CLIENT_SEND_TRIES)
		return -1;
	client_owed_add(cl, req->room, true);
	return 0;
}

/* Starts req; 0, or 1 if it must wait. */
static int start(struct client *cl, struct client_req *req)
{
	switch (req->kind) {
	case REQ_JOIN:
		if (active(cl, req, true, NULL))
			return 1;
		client_join_start(cl, req);
		return 0;
	case REQ_LEAVE: {
		struct client_room *r = client_room_find(cl, req->room);
		if (!(r && r->chain.count) && active(cl, req, true, NULL))
			return 1;  /* it must load the room first: a join */
		if (active(cl, req, false, req->room))
			return 1;
		client_leave_start(cl, req);
		return 0;
	}
	case REQ_ADD:
	case REQ_KICK:
	case REQ_ADMIN:
	case REQ_REKEY:
		if (active(cl, req, false, req->room) ||
		    (req->kind == REQ_REKEY && client_loading(cl, req->room)))
			return 1;
		if (req->kind == REQ_ADD)
			client_add_start(cl, req);
		else if (req->kind == REQ_KICK)
			client_kick_start(cl, req);
		else if (req->kind == REQ_ADMIN)
			client_admin_start(cl, req);
		else
			client_rekey_start(cl, req);
		return 0;
	case REQ_SEND: {
		int ready = send_ready(cl, req);
		if (ready < 0) {
			client_req_error(cl, req, "epoch_closed", "a member left and the room's new "
								  "key could not be made; nothing was "
								  "sent");
			client_req_end(cl, req, CC_ERR_EPOCH_CLOSED);
			return 0;
		}
		if (ready == 0)
			return 1;
		client_send_start(cl, req);
		return 0;
	}
	case REQ_CREATE:
		client_create_start(cl, req);
		return 0;
	case REQ_ROOMS:
		client_rooms_start(cl, req);
		return 0;
	case REQ_DISCONNECT:
		client_disconnect_start(cl, req);
		return 0;
	case REQ_FINGERPRINT:
	case REQ_SAFETY:
	case REQ_VERIFY:
		client_trust_start(cl, req);
		return 0;
	case REQ_SWEEP:
		client_sweep_start(cl, req);
		return 0;
	case REQ_RECV_KEY:
		client_recv_key_start(cl, req);
		return 0;
	case REQ_PING:
	case REQ_SIGNING_KEY:
		return 0;  /* started by their callers */
	}
	return 0;
}

void client_reqs_pump(struct client *cl)
{
	if (cl->state != CLIENT_READY || cl->pumping)
		return;
	cl->pumping = true;
	/* Starting one may end others (an error at once) or queue more (a rekey
	 * a line waits for): look again from the top each time. */
	for (bool again = true; again && cl->state == CLIENT_READY;) {
		again = false;
		for (struct client_req *req = cl->reqs; req; req = req->next) {
			if (req->step != STEP_QUEUED)
				continue;
			size_t before = 0;
			for (struct client_req *r = cl->reqs; r; r = r->next)
				before++;
			int waits = start(cl, req);
			size_t after = 0;
			for (struct client_req *r = cl->reqs; r; r = r->next)
				after++;
			if (!waits || after != before) {
				again = true;
				break;
			}
		}
	}
	cl->pumping = false;
}

int client_loading(const struct client *cl, const uint8_t room[PROTO_ROOM_ID_LEN])
{
	for (const struct client_req *r = cl->reqs; r; r = r->next)
		if ((r->kind == REQ_JOIN || r->kind == REQ_LEAVE) && r->step == STEP_STATE &&
		    memcmp(r->room, room, PROTO_ROOM_ID_LEN) == 0)
			return 1;
	return 0;
}
