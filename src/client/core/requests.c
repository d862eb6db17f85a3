/* The requests in flight, each with its own state, and the order they run
 * in. A request waits (STEP_QUEUED) while:
 *   - the client is not connected (calls made then queue, in order);
 *   - it is reconnected and the rooms that were joined are being joined
 *     again, and the changes a drop cut off resolved (below): those first;
 *   - it is a join and another join is loading (the server pumps one
 *     backlog at a time per connection), or a change of its room is in
 *     flight (the state it loads would race the change's answer);
 *   - it changes a room's membership while another change of that room is
 *     in flight (the second would be stale);
 *   - it says a line in a room whose epoch a departure closed, until the new
 *     epoch exists (nobody sends under a key a departed member holds), or
 *     while that room's membership is changing, or while it is being joined.
 * Everything else starts at once, and several requests may be in flight.
 *
 * When the connection drops, a request not yet sent waits, and one in
 * flight becomes, by what repeating it would do (client_reqs_on_lost):
 *   ping, rooms, fingerprint, safety, verify, and a create or add still
 *   asking for users' keys: they only read; run again from the start.
 *   join: run again from the start, unless its state had come: then the
 *     room is open (JOINED was told) and the request ends; the room's
 *     rejoin brings the rest of its backlog. One whose state failed its
 *     checks ends with the error it reported.
 *   say (MSG_SEND): sent again once reconnected, the very same envelope
 *     (same epoch, number, nonce, signature), after its room's rejoin. The
 *     server stores a message once and answers a byte-identical copy with
 *     the stored message's SENT (docs/PROTOCOL.md), so the line is
 *     confirmed once and heard once; a stale_epoch or epoch_closed answer
 *     to the copy means it was not stored: sealed anew under the room's new
 *     epoch, as any line a change raced. If it came back in the rejoin's
 *     backlog first, it is ours: not shown (messages.c).
 *   disconnect: done (a dropped connection hears nothing live either).
 *   create, add, kick, admin, leave and the core's new epochs whose change
 *     went out: repeating one blindly could make it twice (two rooms, a
 *     second epoch) or fail against itself (stale_epoch, exists). So, once
 *     reconnected and before the room is joined again, the core asks the
 *     server for the room's state (ROOM_FETCH) and looks for its own signed
 *     record in the chain, byte for byte (records are signed with a random
 *     salt: nobody else has those bytes): there, the change was made, and
 *     it completes as if OK had come (keys kept, events told); not there,
 *     it was not, and it runs again from the start on the room as it is
 *     then. A leave is made when the server no longer knows us in the room
 *     (no_such_room); a create is not made when the room does not exist.
 *     For another change, no_such_room means we were removed meanwhile: it
 *     ends with that error.
 *   a leave still loading the room, a new epoch still fetching its state:
 *     run again from the start.
 * The offline timeout (reconnect.c) ends a caller's request that waited too
 * long, saying whether it may have been done. */
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
	client_parts_init(&req->parts);
	buf_init(&req->envelope, PROTO_ENVELOPE_MAX);
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
	if (!client_takes_calls(cl)) {
		client_req_error(cl, req, "not_connected", "not connected to the server");
		client_req_end(cl, req, CC_ERR_STATE);
		return id;
	}
	client_offline_arm(cl);  /* not connected: it waits, for a while */
	*out = req;
	return id;
}

cc_err client_req_send(struct client *cl, struct client_req *req, struct proto_msg *m)
{
	if (++cl->next_wire == 0)
		++cl->next_wire;
	req->wire = cl->next_wire;
	client_parts_reset(&req->parts);  /* of an earlier attempt's answer */
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
		/* Kept: if the connection drops before SENT, the same goes again. */
		if (m->u.msg_send.envelope.p != req->envelope.data) {
			buf_clear(&req->envelope);
			if (buf_put_bytes(&req->envelope, m->u.msg_send.envelope.p,
					  m->u.msg_send.envelope.len))
				return CC_ERR_NOMEM;
		}
		break;
	case PROTO_ROOM_ADD:
	case PROTO_ROOM_KICK:
	case PROTO_ROOM_REKEY:
	case PROTO_ROOM_MOVE:
		m->u.room_rekey.request_id = req->wire;
		break;
	case PROTO_KEY_MOVE:
		m->u.key_move.request_id = req->wire;
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
	client_parts_free(&req->parts);
	free(req->sweep_rooms);
	free(req->change);
	buf_free(&req->envelope);
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
	bool must = r->chain.closed || r->gone_pending || r->keys_lost || r->needs_move;
	if (!must && (!client_rekey_due(cl, r) || req->tries >= CLIENT_SEND_TRIES))
		return 1;
	if (client_req_for_room(cl, REQ_REKEY, req->room))
		return 0;
	if (req->tries++ >= CLIENT_SEND_TRIES)
		return -1;
	client_owed_add(cl, req->room, true);
	return 0;
}

static void resolve_start(struct client *cl, struct client_req *req);
static void send_again(struct client *cl, struct client_req *req);

/* 1 if a request other than req is in flight. */
static int any_in_flight(const struct client *cl, const struct client_req *req)
{
	for (const struct client_req *r = cl->reqs; r; r = r->next)
		if (r != req && r->step != STEP_QUEUED)
			return 1;
	return 0;
}

/* 1 while a move to a new identity key waits for its answer: the session
 * is the old key's, and ends with that answer. */
static int key_move_in_flight(const struct client *cl)
{
	for (const struct client_req *r = cl->reqs; r; r = r->next)
		if (r->kind == REQ_KEY_MOVE && r->step != STEP_QUEUED)
			return 1;
	return 0;
}

struct client_req *client_req_of_kind(struct client *cl, enum client_req_kind kind,
				      const struct client_req *except)
{
	for (struct client_req *r = cl->reqs; r; r = r->next)
		if (r->kind == kind && r != except)
			return r;
	return NULL;
}

/* 1 if req's room still names us by the key we moved from: its MOVE is
 * owed (and asked for), and req waits for it. */
static int waits_for_move(struct client *cl, const struct client_req *req)
{
	struct client_room *r = client_room_find(cl, req->room);
	if (!r || !r->needs_move)
		return 0;
	if (!client_req_for_room(cl, REQ_REKEY, req->room))
		client_owed_add(cl, req->room, true);
	return 1;
}

/* Starts req; 0, or 1 if it must wait. */
static int start(struct client *cl, struct client_req *req)
{
	if (key_move_in_flight(cl))
		return 1;
	if (req->resolve) {
		resolve_start(cl, req);
		return 0;
	}
	switch (req->kind) {
	case REQ_JOIN:
		if (active(cl, req, true, NULL) || active(cl, req, false, req->room))
			return 1;
		client_join_start(cl, req);
		return 0;
	case REQ_LEAVE: {
		struct client_room *r = client_room_find(cl, req->room);
		if (!(r && r->chain.count) && active(cl, req, true, NULL))
			return 1;  /* it must load the room first: a join */
		if (active(cl, req, false, req->room) || waits_for_move(cl, req))
			return 1;
		client_leave_start(cl, req);
		return 0;
	}
	case REQ_ADD:
	case REQ_KICK:
	case REQ_ADMIN:
	case REQ_REKEY:
		if ((req->kind != REQ_REKEY && waits_for_move(cl, req)) ||
		    active(cl, req, false, req->room) ||
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
		if (req->resend) {
			if (active(cl, req, false, req->room) ||
			    client_req_for_room(cl, REQ_JOIN, req->room))
				return 1;  /* after its room's rejoin */
			send_again(cl, req);
			return 0;
		}
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
		client_ping_start(cl, req);
		return 0;
	case REQ_KEY_MOVE:
		/* Alone: what is in flight finishes under the old key first. */
		if (any_in_flight(cl, req))
			return 1;
		client_key_move_start(cl, req);
		return 0;
	case REQ_SIGNING_KEY:
		return 0;  /* started with the connection */
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
		/* Reconnected: the rejoins and the resolving first, until none is left. */
		bool left = false;
		for (struct client_req *r = cl->reqs; cl->resuming && r && !left; r = r->next)
			left = r->resume;
		cl->resuming = left;
		for (struct client_req *req = cl->reqs; req; req = req->next) {
			if (req->step != STEP_QUEUED || (cl->resuming && !req->resume))
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

/* ---- when the connection drops (the rules at the top) ---------------------------- */

void client_reqs_drop_connection(struct client *cl)
{
	/* Registration's steps: the next WELCOME makes them again. */
	for (struct client_req *r = cl->reqs; r;) {
		struct client_req *next = r->next;
		if (r->kind == REQ_SIGNING_KEY || (r->kind == REQ_RECV_KEY && r->connecting)) {
			client_req_end(cl, r, CC_ERR_CLOSED);
			next = cl->reqs;  /* the list changed */
		}
		r = next;
	}
}

/* Back to the start: nothing of an earlier try is kept. */
static void req_restart(struct client_req *req)
{
	req->step = STEP_QUEUED;
	req->wire = 0;
	req->resolve = req->failed = req->then_leave = req->loaded = false;
	if (req->has_chain)
		e2e_chain_free(&req->chain);
	req->has_chain = false;
	buf_reset(&req->records);
	req->nrecords = 0;
	client_room_free(req->new_room);
	req->new_room = NULL;
	mem_wipe(req->secret, sizeof req->secret);
	free(req->sweep_rooms);
	req->sweep_rooms = NULL;
	req->nsweep = 0;
	free(req->change);
	req->change = NULL;
}

/* What req becomes; 1 if it ended (the list changed). */
static int req_on_lost(struct client *cl, struct client_req *req)
{
	req->wire = 0;
	if (req->step == STEP_QUEUED || req->resolve) {
		req->step = STEP_QUEUED;  /* not sent yet, or to be resolved still */
		return 0;
	}
	switch (req->kind) {
	case REQ_JOIN:
		if (req->failed) {
			client_req_end(cl, req, CC_ERR_SECURITY);
			return 1;
		}
		if (req->loaded) {
			client_req_end(cl, req, CC_OK);
			return 1;
		}
		req_restart(req);
		return 0;
	case REQ_DISCONNECT: {
		struct client_room *r = client_room_find(cl, req->room);
		if (r)
			r->joined = false;
		struct client_event ev = {.type = CLIENT_EV_DISCONNECTED, .request = req->id,
					  .room = req->room_hex};
		client_emit(cl, &ev);
		client_req_end(cl, req, CC_OK);
		return 1;
	}
	case REQ_SEND:
		req->resend = true;
		req->step = STEP_QUEUED;
		return 0;
	case REQ_KEY_MOVE:
		/* Whether the server took it, its answer to our key says as we
		 * connect again (identity.c). */
		client_req_error(cl, req, "offline", "the connection dropped before the server "
						     "answered the move to a new key: reconnecting "
						     "tells whether it was made");
		client_req_end(cl, req, CC_ERR_CLOSED);
		return 1;
	case REQ_LEAVE:
	case REQ_CREATE:
	case REQ_ADD:
	case REQ_KICK:
	case REQ_ADMIN:
	case REQ_REKEY:
		if (req->step == STEP_CHANGE) {
			req->step = STEP_QUEUED;
			req->resolve = req->resume = true;
			if (req->new_room)
				req->new_room->joined = false;  /* its rejoin comes after */
			return 0;
		}
		if (req->kind == REQ_LEAVE) {
			/* It was loading the room only to sign on its chain: load it
			 * afresh, the room may have changed meanwhile. */
			struct client_room *r = client_room_find(cl, req->room);
			if (r)
				client_room_remove(cl, r);
		}
		req_restart(req);
		return 0;
	default:
		req_restart(req);  /* they only read */
		return 0;
	}
}

void client_reqs_on_lost(struct client *cl)
{
	for (struct client_req *req = cl->reqs; req;) {
		struct client_req *next = req->next;
		req = req_on_lost(cl, req) ? cl->reqs : next;
	}
	/* Every room we were hearing is joined again first, once connected,
	 * unless we are leaving it. What the server got of our last read marks
	 * is unknown: the rejoins mark them again. */
	for (size_t i = 0; i < cl->nrooms; i++) {
		struct client_room *r = cl->rooms[i];
		r->acked_msg_id = 0;
		if (!r->joined)
			continue;
		r->joined = false;
		bool skip = false;
		for (struct client_req *q = cl->reqs; q && !skip; q = q->next)
			skip = memcmp(q->room, r->room_id, PROTO_ROOM_ID_LEN) == 0 &&
			       ((q->kind == REQ_LEAVE && q->resolve) ||
				(q->kind == REQ_JOIN && !q->id));
		struct client_req *rejoin = skip ? NULL : client_req_new(cl, REQ_JOIN, false);
		if (rejoin) {
			memcpy(rejoin->room, r->room_id, PROTO_ROOM_ID_LEN);
			memcpy(rejoin->room_hex, r->id_hex, sizeof rejoin->room_hex);
			rejoin->resume = true;
		}
	}
}

/* ---- resolving a change whose answer was lost -------------------------------------- */

static void resolve_start(struct client *cl, struct client_req *req)
{
	struct proto_msg m = {.type = PROTO_ROOM_FETCH};
	memcpy(m.u.room_ref.room_id, req->room, PROTO_ROOM_ID_LEN);
	req->step = STEP_STATE;
	if (client_req_send(cl, req, &m) != CC_OK)
		client_req_end(cl, req, CC_ERR_IO);
}

/* 1 if the chain in st holds the last record req sent, byte for byte. */
static int state_holds_ours(const struct client_req *req, const struct proto_room_state *st)
{
	struct proto_bytes ours = {req->records.data, req->records.len};
	if (req->nrecords) {  /* a list of records: the last is made with the rest */
		struct proto_list list = {req->nrecords, {req->records.data, req->records.len}};
		struct proto_list_iter it;
		struct proto_blob_item item;
		proto_list_iter_init(&it, &list, PROTO_ITEM_BLOB);
		while (proto_list_next(&it, &item) == CC_OK)
			ours = item.data;
	}
	struct proto_list_iter it;
	struct proto_chain_item item;
	proto_list_iter_init(&it, &st->records, PROTO_ITEM_CHAIN);
	while (ours.len && proto_list_next(&it, &item) == CC_OK)
		if (item.record.len == ours.len && memcmp(item.record.p, ours.p, ours.len) == 0)
			return 1;
	return 0;
}

void client_resolve_on_answer(struct client *cl, struct client_req *req, const struct proto_msg *m)
{
	bool gone = m->type == PROTO_ERROR && m->u.error.code == CC_ERR_NO_SUCH_ROOM;
	if (m->type == PROTO_ERROR && !gone) {
		client_req_error_msg(cl, req, &m->u.error);
		client_req_end(cl, req, (cc_err)m->u.error.code);
		return;
	}
	if (m->type != PROTO_ROOM_STATE && !gone)
		return;
	bool made = req->kind == REQ_LEAVE ? gone : !gone && state_holds_ours(req, &m->u.room_state);
	if (gone && req->kind != REQ_LEAVE && req->kind != REQ_CREATE) {
		client_req_error(cl, req, "no_such_room",
				 "the room is no longer yours (were you removed while away?)");
		client_req_end(cl, req, CC_ERR_NO_SUCH_ROOM);
		return;
	}
	req->resolve = req->resume = false;
	log_info("room %s: a change cut off by the drop was %smade", req->room_hex,
		 made ? "" : "not ");
	if (made) {
		/* As if its OK had come: the same code keeps the keys, tells the
		 * events and ends it. */
		struct proto_msg ok = {.type = PROTO_OK};
		ok.u.request.request_id = req->wire;
		req->step = STEP_CHANGE;
		if (req->kind == REQ_CREATE)
			client_create_on_answer(cl, req, &ok);
		else
			client_change_on_answer(cl, req, &ok);
		return;
	}
	if (req->kind == REQ_LEAVE) {
		struct client_room *r = client_room_find(cl, req->room);
		if (r)
			client_room_remove(cl, r);  /* signed afresh on the room as it is now */
	}
	req_restart(req);
	client_reqs_pump(cl);
}

/* ---- saying a line again ------------------------------------------------------------- */

static void send_again(struct client *cl, struct client_req *req)
{
	struct proto_msg m = {.type = PROTO_MSG_SEND};
	m.u.msg_send.envelope = (struct proto_bytes){req->envelope.data, req->envelope.len};
	req->resend = false;
	req->step = STEP_CHANGE;
	if (client_req_send(cl, req, &m) != CC_OK) {
		client_req_error(cl, req, "no_memory", "cannot send the line again");
		client_req_end(cl, req, CC_ERR_NOMEM);
	}
}
