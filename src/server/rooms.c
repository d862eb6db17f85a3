/* Rooms on the server: the requests about rooms (create, list, fetch, join
 * and its backlog, messages, read acknowledgements, disconnect) and the
 * dispatch of every request after registration. Users' published keys, the
 * directory and the wrapped room keys' acknowledgements are in keys.c; who
 * hears a room live in live.c; the changes to a room's membership (add,
 * admin, leave, kick, rekey, nickname expiry) in membership.c; retention in
 * retention.c; rooms_internal.h is what they share.
 *
 * The server checks what it can (the session's identity, the room's chain of
 * signed records, sizes), stores what the members' clients made, and relays
 * it. The members' clients check everything again (src/e2e/): nothing here is
 * trusted by them.
 *
 * Messages are committed in groups: every message received in one loop turn
 * goes into one transaction, committed by the flush event before any answer
 * leaves; only then does the sender get SENT and the others the message. */
#include <event2/event.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "e2e/e2e.h"
#include "proto/room.h"
#include "server/rooms_internal.h"
#include "store/store.h"
#include "transport/chan.h"
#include "util/clock.h"
#include "util/log.h"

/* Backlog is read in batches of this many messages per turn. */
#define PUMP_BATCH 64

/* ---- helpers ------------------------------------------------------------- */

void reply_ok(struct conn *c, uint32_t request_id)
{
	struct proto_msg m = {.type = PROTO_OK};
	m.u.request.request_id = request_id;
	conn_queue_msg(c, &m);
}

/* A room the session's user belongs to; no_such_room otherwise, whether the
 * room exists or not, so room ids cannot be probed. */
cc_err room_of_member(struct conn *c, const uint8_t room_id[PROTO_ROOM_ID_LEN],
		      struct store_room *room, struct store_member *member)
{
	struct store_member scratch;
	cc_err err = store_room_get(c->srv->store, room_id, room);
	if (err == CC_ERR_NOT_FOUND)
		return CC_ERR_NO_SUCH_ROOM;
	if (err)
		return err;
	err = store_member_get(c->srv->store, room->id, c->user_id, member ? member : &scratch);
	return err == CC_ERR_NOT_FOUND ? CC_ERR_NO_SUCH_ROOM : err;
}

/* ---- requests ------------------------------------------------------------- */

/* Makes the chain's members the room's members, from its current epoch. */
static cc_err create_members(struct server *srv, int64_t room, const struct e2e_chain *chain)
{
	for (size_t i = 0; i < chain->nmembers; i++) {
		struct store_user u;
		cc_err err = store_user_get_by_fingerprint(srv->store, chain->members[i].fp, &u);
		if (err)
			return err == CC_ERR_NOT_FOUND ? CC_ERR_UNKNOWN_USER : err;
		/* The chain must call each user what the directory does. */
		if (strcasecmp(u.nick, chain->members[i].nick) != 0)
			err = CC_ERR_MALFORMED;
		else
			err = store_member_add(srv->store, room, u.id, 1, chain->epoch);
		store_user_clear(&u);
		if (err)
			return err;
	}
	return CC_OK;
}

static cc_err handle_room_create(struct conn *c, const struct proto_room_create *req)
{
	struct server *srv = c->srv;
	struct e2e_chain chain;
	struct key_cache keys = {.srv = srv};
	struct proto_list_iter it;
	struct proto_blob_item rec_item;
	struct proto_record first;
	struct store_room room;
	const char *why = "";
	int64_t room_row = 0;
	cc_err err;

	e2e_chain_init(&chain, req->room_id);
	/* Each record brings one member or more; the keys are checked below. */
	if (req->records.count > ROOM_MEMBERS_MAX || req->keys.count > ROOM_MEMBERS_MAX) {
		err = CC_ERR_LIMIT;
		why = ROOM_FULL_WHY;
		goto reply;
	}
	if (req->records.count == 0 || req->keys.count == 0) {
		err = CC_ERR_MALFORMED;
		why = "a room needs its records and one key per member";
		goto reply;
	}
	proto_list_iter_init(&it, &req->records, PROTO_ITEM_BLOB);
	if ((err = proto_list_next(&it, &rec_item)) ||
	    (err = record_actor_is_session(c, rec_item.data.p, rec_item.data.len, &first)))
		goto reply;

	server_rooms_commit(srv);
	if ((err = store_begin(srv->store)))
		goto reply;
	err = store_room_create(srv->store, req->room_id, c->user_id, clock_now_ms(), &room_row);
	if (err)
		goto rollback;
	if ((err = store_room_get_by_id(srv->store, room_row, &room)))
		goto rollback;
	/* Every record must verify and apply: a create, then adds of one
	 * invitee or more (each opens an epoch; the keys are the last epoch's). */
	proto_list_iter_init(&it, &req->records, PROTO_ITEM_BLOB);
	while (proto_list_next(&it, &rec_item) == CC_OK) {
		struct proto_record rec;
		if ((err = chain_append(c, &room, &chain, &keys, rec_item.data.p, rec_item.data.len,
					NULL, &why)))
			goto rollback;
		proto_record_decode(rec_item.data.p, rec_item.data.len, &rec);
		if (rec.action != PROTO_REC_CREATE && rec.action != PROTO_REC_ADD) {
			err = CC_ERR_MALFORMED;
			why = "a new room takes only create and add records";
			goto rollback;
		}
	}
	if (chain.nmembers > ROOM_MEMBERS_MAX || chain.count + chain.nmembers > ROOM_RECORDS_MAX) {
		err = CC_ERR_LIMIT;
		why = chain.nmembers > ROOM_MEMBERS_MAX ? ROOM_FULL_WHY : ROOM_CAP_WHY;
		goto rollback;
	}
	if ((err = create_members(srv, room_row, &chain))) {
		why = err == CC_ERR_MALFORMED ? "a record names a user by another nickname" : "";
		goto rollback;
	}
	/* One wrapped key for each member, and only for members. */
	if ((err = store_epoch_keys(srv, room_row, &chain, &req->keys, &why)) ||
	    (err = store_epoch_put(srv->store, room_row, chain.epoch, req->title_ct.p,
				   req->title_ct.len, clock_now_ms())) ||
	    (err = store_room_set_epoch(srv->store, room_row, chain.epoch)))
		goto rollback;
	if ((err = store_commit(srv->store)))
		goto rollback;
	log_info("conn %s: %s created a room of %zu members", c->peer, c->nick, chain.nmembers);
	chain_cache_keep(srv, room_row, &chain);
	goto reply;
rollback:
	store_rollback(srv->store);
reply:
	if (err) {
		if (err == CC_ERR_EXISTS)
			why = "a room with this id exists";
		conn_send_error(c, req->request_id, err, *why ? why : NULL);
	} else {
		reply_ok(c, req->request_id);
	}
	e2e_chain_free(&chain);
	key_cache_free(&keys);
	return CC_OK;
}

struct list_ctx {
	struct conn *c;
	struct buf *raw;
	uint16_t count;
	cc_err err;
};

static int list_room(void *ctx, const struct store_member *m)
{
	struct list_ctx *lc = ctx;
	struct server *srv = lc->c->srv;
	struct store_room room;
	struct store_user admin;
	struct proto_room_item item = {0};
	uint32_t members = 0, unread = 0, pending = 0;
	cc_err err;

	if (lc->count == PROTO_LIST_MAX)
		return 0;
	if ((err = store_room_get_by_id(srv->store, m->room, &room)) ||
	    (err = store_user_get_by_id(srv->store, room.admin_user, &admin)))
		goto out;
	int64_t read_to = m->last_read_msg_id > m->first_msg_id - 1 ? m->last_read_msg_id
								    : m->first_msg_id - 1;
	if (!conn_is_active(lc->c, m->room))
		store_message_count_after(srv->store, m->room, read_to, &unread);
	store_member_count(srv->store, m->room, &members);
	store_key_pending(srv->store, m->room, lc->c->user_id, &pending);
	memcpy(item.room_id, room.room_id, PROTO_ROOM_ID_LEN);
	item.admin = proto_bytes_str(admin.nick);
	item.epoch = room.epoch;
	item.members = members;
	item.unread = unread;
	item.pending_keys = pending;
	if ((err = proto_item_encode(PROTO_ITEM_ROOM, &item, lc->raw)) == CC_OK)
		lc->count++;
	store_user_clear(&admin);
out:
	lc->err = err;
	return err ? 1 : 0;
}

static cc_err handle_rooms_list(struct conn *c, uint32_t request_id)
{
	struct buf raw;
	struct list_ctx lc = {c, &raw, 0, CC_OK};

	server_rooms_commit(c->srv);
	buf_init(&raw, c->srv->cfg->max_frame / 2);
	cc_err err = store_member_each_room_of(c->srv->store, c->user_id, list_room, &lc);
	if (lc.err || err) {
		conn_send_error(c, request_id, lc.err ? lc.err : err, NULL);
	} else {
		struct proto_msg m = {.type = PROTO_ROOMS};
		m.u.rooms.request_id = request_id;
		m.u.rooms.rooms = (struct proto_list){lc.count, {raw.data, raw.len}};
		conn_queue_msg(c, &m);
	}
	buf_free(&raw);
	return CC_OK;
}

/* ---- join: state, then backlog, then live ---------------------------------- */

static int pump_message(void *ctx, const struct store_message *sm)
{
	struct conn *c = ctx;
	struct proto_msg m = {.type = PROTO_ROOM_MSG};
	struct store_room room;

	if (store_room_get_by_id(c->srv->store, sm->room, &room))
		return 1;
	memcpy(m.u.room_msg.room_id, room.room_id, PROTO_ROOM_ID_LEN);
	m.u.room_msg.msg_id = (uint64_t)sm->msg_id;
	m.u.room_msg.server_ts_ms = sm->ts_ms;
	m.u.room_msg.envelope = (struct proto_bytes){sm->blob, sm->len};
	if (conn_queue_msg(c, &m))
		return 1;
	c->pump_after = sm->msg_id;
	return 0;
}

/* Sends backlog until the connection's output is half full or the backlog is
 * done; in the latter case the connection goes live in the room. Messages
 * stored meanwhile are read from the store, so none is lost or reordered. */
static void pump_backlog(struct conn *c)
{
	struct server *srv = c->srv;

	while (c->pumping && !c->dead) {
		if (conn_queued(c) > srv->cfg->max_output / 2)
			return;  /* conn_write_cb calls back once drained */
		int64_t before = c->pump_after;
		if (store_message_each(srv->store, c->pump_room, c->pump_after, PUMP_BATCH,
				       pump_message, c) != CC_OK) {
			conn_send_error(c, c->pump_request, CC_ERR_STORE, NULL);
			c->pumping = false;
			return;
		}
		if (c->pump_after - before < PUMP_BATCH) {
			struct proto_msg m = {.type = PROTO_JOIN_DONE};
			struct store_room room;
			c->pumping = false;
			if (store_room_get_by_id(srv->store, c->pump_room, &room) ||
			    live_add(c, c->pump_room)) {
				conn_send_error(c, c->pump_request, CC_ERR_STORE, NULL);
				return;
			}
			m.u.room_ref.request_id = c->pump_request;
			memcpy(m.u.room_ref.room_id, room.room_id, PROTO_ROOM_ID_LEN);
			conn_queue_msg(c, &m);
		}
	}
}

void join_backlog_start(struct conn *c, int64_t room, uint32_t request_id, int64_t after)
{
	c->pumping = true;
	c->pump_room = room;
	c->pump_request = request_id;
	c->pump_after = after;
	pump_backlog(c);
}

void server_on_output_drained(struct conn *c)
{
	server_rooms_commit(c->srv);
	if (c->state) {
		/* Its requests wait unread while an answer streams: reading the
		 * answer is its sign of life. One that stops reading falls silent,
		 * and the idle timeout drops it as any other. */
		c->last_recv_ms = clock_mono_ms();
		state_continue(c);
	} else {
		pump_backlog(c);
	}
}

static cc_err handle_room_fetch(struct conn *c, const struct proto_room_ref *req)
{
	struct store_room room;
	server_rooms_commit(c->srv);
	cc_err err = room_of_member(c, req->room_id, &room, NULL);
	if (err)
		conn_send_error(c, req->request_id, err, NULL);
	else
		state_start(c, req->request_id, &room, false);
	return CC_OK;
}

/* The state (state.c), then the backlog (pump_backlog), then live. */
static cc_err handle_room_join(struct conn *c, const struct proto_room_ref *req)
{
	struct server *srv = c->srv;
	struct store_room room;
	cc_err err;

	if (c->pumping) {
		conn_send_error(c, req->request_id, CC_ERR_STATE, "a join is still in progress");
		return CC_OK;
	}
	server_rooms_commit(srv);
	if ((err = room_of_member(c, req->room_id, &room, NULL))) {
		conn_send_error(c, req->request_id, err, NULL);
		return CC_OK;
	}
	if (conn_is_active(c, room.id))
		live_remove(c, room.id);  /* rejoining: from what the client acknowledged */
	state_start(c, req->request_id, &room, true);
	return CC_OK;
}

/* ---- messages ------------------------------------------------------------- */

static cc_err handle_msg_send(struct conn *c, const struct proto_msg_send *req)
{
	struct server *srv = c->srv;
	struct proto_envelope env;
	struct store_room room;
	cc_err err;

	if ((err = proto_envelope_decode(req->envelope.p, req->envelope.len, &env))) {
		conn_send_error(c, req->request_id, err, "the message does not parse");
		return CC_OK;
	}
	if ((err = room_of_sender(c, env.room_id, &room))) {
		conn_send_error(c, req->request_id, err, NULL);
		return CC_OK;
	}
	/* The sender is the session, never a name inside the message
	 * (nicknames compare without regard to case). */
	if (env.sender.len != strlen(c->nick) ||
	    strncasecmp((const char *)env.sender.p, c->nick, env.sender.len) != 0) {
		conn_send_error(c, req->request_id, CC_ERR_FORBIDDEN,
				"a message must name its sender's own nickname");
		return CC_OK;
	}
	/* Nothing new in a stale epoch, nor in a closed one (someone left: the
	 * key they hold must carry nothing new); a copy of a message stored
	 * before is answered as the first time. */
	if (env.epoch != room.epoch || room.closed) {
		if (!msg_sent_before(c, &room, &env, req))
			conn_send_error(c, req->request_id, env.epoch != room.epoch
				? CC_ERR_STALE_EPOCH : CC_ERR_EPOCH_CLOSED, NULL);
		return CC_OK;
	}
	if (srv->nsends == srv->sends_cap) {
		size_t cap = srv->sends_cap ? srv->sends_cap * 2 : 64;
		struct pending_send *p = realloc(srv->sends, cap * sizeof *p);
		if (!p)
			return CC_ERR_NOMEM;
		for (size_t i = srv->sends_cap; i < cap; i++)
			buf_init(&p[i].envelope, PROTO_ENVELOPE_MAX);
		srv->sends = p;
		srv->sends_cap = cap;
	}
	if (!server_txn_ensure(srv)) {
		conn_send_error(c, req->request_id, CC_ERR_STORE, NULL);
		return CC_OK;
	}
	struct pending_send *ps = &srv->sends[srv->nsends];
	ps->ts_ms = clock_now_ms();
	err = store_message_append(srv->store, room.id, c->user_id, env.epoch, env.seq, ps->ts_ms,
				   req->envelope.p, req->envelope.len, &ps->msg_id);
	if (err) {
		if (!(err == CC_ERR_REPLAYED && msg_sent_before(c, &room, &env, req)))
			conn_send_error(c, req->request_id, err, NULL);
		return CC_OK;
	}
	buf_reset(&ps->envelope);
	if ((err = buf_put_bytes(&ps->envelope, req->envelope.p, req->envelope.len)))
		return err;
	ps->sender = c;
	ps->request_id = req->request_id;
	ps->room = room.id;
	memcpy(ps->room_id, room.room_id, PROTO_ROOM_ID_LEN);
	srv->nsends++;
	return CC_OK;
}

bool server_txn_ensure(struct server *srv)
{
	if (srv->txn_open)
		return true;
	if (store_begin(srv->store) != CC_OK)
		return false;
	srv->txn_open = true;
	server_flush_soon(srv);
	return true;
}

void server_rooms_commit(struct server *srv)
{
	if (!srv->txn_open)
		return;
	reads_write_all(srv);
	srv->txn_open = false;
	cc_err err = store_commit(srv->store);
	if (err)
		store_rollback(srv->store);
	for (size_t i = 0; i < srv->nsends; i++) {
		struct pending_send *ps = &srv->sends[i];
		if (err) {
			if (ps->sender)
				conn_send_error(ps->sender, ps->request_id, err, NULL);
			continue;
		}
		if (ps->sender) {
			struct proto_msg m = {.type = PROTO_SENT};
			m.u.sent.request_id = ps->request_id;
			memcpy(m.u.sent.room_id, ps->room_id, PROTO_ROOM_ID_LEN);
			m.u.sent.msg_id = (uint64_t)ps->msg_id;
			m.u.sent.server_ts_ms = ps->ts_ms;
			conn_queue_msg(ps->sender, &m);
		}
		live_fan_out(srv, ps);
	}
	srv->nsends = 0;
}

/* ---- disconnect ---------------------------------------------------------- */

static cc_err handle_room_disconnect(struct conn *c, const struct proto_room_ref *req)
{
	struct store_room room;
	server_rooms_commit(c->srv);
	cc_err err = room_of_member(c, req->room_id, &room, NULL);
	if (err) {
		conn_send_error(c, req->request_id, err, NULL);
		return CC_OK;
	}
	if (c->pumping && c->pump_room == room.id)
		c->pumping = false;
	live_remove(c, room.id);
	reply_ok(c, req->request_id);
	return CC_OK;
}

/* ---- dispatch and lifecycle ------------------------------------------------ */

cc_err server_handle_request(struct conn *c, const struct proto_msg *m)
{
	switch (m->type) {
	case PROTO_SIGNING_KEY:
		return handle_signing_key(c, &m->u.signing_key);
	case PROTO_USERS_GET:
		/* Thousands of users (a big room's invitees) stream as PARTs. */
		users_start(c, &m->u.users_get);
		return CC_OK;
	case PROTO_ROOM_CREATE:
		return handle_room_create(c, &m->u.room_create);
	case PROTO_ROOMS_LIST:
		return handle_rooms_list(c, m->u.request.request_id);
	case PROTO_ROOM_JOIN:
		return handle_room_join(c, &m->u.room_ref);
	case PROTO_MSG_SEND:
		return handle_msg_send(c, &m->u.msg_send);
	case PROTO_ROOM_ADD:
		return handle_new_epoch(c, &m->u.room_rekey, PROTO_REC_ADD);
	case PROTO_ROOM_DISCONNECT:
		return handle_room_disconnect(c, &m->u.room_ref);
	case PROTO_ROOM_LEAVE:
		return handle_room_leave(c, &m->u.room_leave);
	case PROTO_ROOM_KICK:
		return handle_new_epoch(c, &m->u.room_rekey, PROTO_REC_KICK);
	case PROTO_ROOM_REKEY:
		return handle_new_epoch(c, &m->u.room_rekey, PROTO_REC_REKEY);
	case PROTO_ROOM_ADMIN:
		return handle_room_admin(c, &m->u.room_leave);
	case PROTO_ROOM_FETCH:
		return handle_room_fetch(c, &m->u.room_ref);
	case PROTO_ROOM_READ:
		return handle_room_read(c, &m->u.room_read);
	case PROTO_RECEIVE_KEY:
		return handle_receive_key(c, &m->u.receive_key);
	case PROTO_KEYS_ACK:
		return handle_keys_ack(c, &m->u.keys_ack);
	case PROTO_KEY_MOVE:
		return handle_key_move(c, &m->u.key_move);
	case PROTO_ROOM_MOVE:
		return handle_new_epoch(c, &m->u.room_rekey, PROTO_REC_MOVE);
	default:
		/* Handshake or server-to-client messages have no business here. */
		return CC_ERR_STATE;
	}
}

void server_on_disconnect(struct conn *c)
{
	struct server *srv = c->srv;
	for (size_t i = 0; i < srv->nsends; i++)
		if (srv->sends[i].sender == c)
			srv->sends[i].sender = NULL;
	reads_conn_gone(c);
	live_conn_gone(c);
	room_seen_free(c);
	state_drop(c);
	while (c->nactive)
		live_remove(c, c->active_rooms[c->nactive - 1]);
	free(c->active_rooms);
	c->active_rooms = NULL;
	c->active_cap = 0;
	c->pumping = false;
	log_debug("conn %s: %s disconnected", c->peer, c->nick);
}

cc_err server_rooms_init(struct server *srv)
{
	cc_err err = live_init(srv);
	if (!err)
		err = chain_cache_init(srv);
	if (!err)
		err = retention_init(srv);
	return err;
}

void server_rooms_free(struct server *srv)
{
	live_free(srv);
	for (size_t i = 0; i < srv->sends_cap; i++)
		buf_free(&srv->sends[i].envelope);
	free(srv->sends);
	srv->sends = NULL;
	retention_free(srv);
	chain_cache_free(srv);
}
