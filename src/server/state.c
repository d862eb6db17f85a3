/* A room's state for a member (ROOM_STATE: its chain, the directory entry of
 * everyone the chain names, the member's wrapped keys, the members gone),
 * streamed: records and users go out in PARTs (parts.c) as the connection's
 * output drains, so a room of thousands, megabytes of state, is never held
 * whole in memory nor queued past --max-output. While a state streams, the
 * connection's further requests wait unread (server.c), so answers keep
 * their order. The answer itself is made last, from the store as it is
 * then: the records sent are every record up to that moment, and the
 * membership is checked again (a member expelled meanwhile gets
 * no_such_room, not the state). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/bufferevent.h>

#include "proto/frame.h"
#include "proto/room.h"
#include "server/rooms_internal.h"
#include "store/store.h"
#include "util/clock.h"

struct state_pump {
	uint32_t request_id;
	bool users_answer;                 /* USERS (nicks), not a room's state */
	struct buf nicks;                  /* USERS: the nick items asked for */
	uint16_t nnicks, next_nick;        /* and those before next_nick are sent */
	int64_t room;                      /* the store's row */
	uint8_t room_id[PROTO_ROOM_ID_LEN];
	bool join;                         /* then the backlog, then live */
	uint32_t next_seq;                 /* the records before it are sent */
	bool in_record;                    /* next_seq's item is sent, and its */
	uint16_t next_subject;             /* actor, and its subjects before this */
	struct answer_parts parts;
	uint8_t (*seen)[PROTO_FINGERPRINT_LEN];  /* open addressing; zeros: free */
	size_t nseen, seen_cap;
	cc_err err;
	bool part_sent;                    /* this step queued a PART */
};

static const uint8_t zero_fp[PROTO_FINGERPRINT_LEN];

/* The slot of fp in a table of cap (a power of two) slots: its own, or the
 * free one where it goes. Fingerprints are SHA-256: their first bytes are
 * as good a hash as any. */
static size_t seen_slot(uint8_t (*table)[PROTO_FINGERPRINT_LEN], size_t cap,
			const uint8_t fp[PROTO_FINGERPRINT_LEN])
{
	size_t j = load_be32(fp) & (cap - 1);
	while (memcmp(table[j], fp, PROTO_FINGERPRINT_LEN) != 0 &&
	       memcmp(table[j], zero_fp, PROTO_FINGERPRINT_LEN) != 0)
		j = (j + 1) & (cap - 1);
	return j;
}

/* 1 the first time fp is seen (a big room's chain names thousands of keys,
 * some many times), 0 after; -1 out of memory. */
static int seen_first(struct state_pump *sp, const uint8_t fp[PROTO_FINGERPRINT_LEN])
{
	if (2 * (sp->nseen + 1) > sp->seen_cap) {
		size_t cap = sp->seen_cap ? sp->seen_cap * 2 : 64;
		uint8_t(*table)[PROTO_FINGERPRINT_LEN] = calloc(cap, sizeof *table);
		if (!table)
			return -1;
		for (size_t i = 0; i < sp->seen_cap; i++)
			if (memcmp(sp->seen[i], zero_fp, PROTO_FINGERPRINT_LEN) != 0)
				memcpy(table[seen_slot(table, cap, sp->seen[i])], sp->seen[i],
				       PROTO_FINGERPRINT_LEN);
		free(sp->seen);
		sp->seen = table;
		sp->seen_cap = cap;
	}
	size_t j = seen_slot(sp->seen, sp->seen_cap, fp);
	if (memcmp(sp->seen[j], fp, PROTO_FINGERPRINT_LEN) == 0)
		return 0;
	memcpy(sp->seen[j], fp, PROTO_FINGERPRINT_LEN);
	sp->nseen++;
	return 1;
}

/* parts_make_room, noting whether it sent a PART (the step's end). */
static cc_err make_room(struct state_pump *sp)
{
	size_t before = sp->parts.records.len + sp->parts.users.len;
	cc_err err = parts_make_room(&sp->parts);
	if (!err && sp->parts.records.len + sp->parts.users.len < before)
		sp->part_sent = true;
	return err;
}

/* Adds the directory entry of a fingerprint the chain names, once. */
static cc_err add_user(struct server *srv, struct state_pump *sp,
		       const uint8_t fp[PROTO_FINGERPRINT_LEN])
{
	int first = seen_first(sp, fp);
	if (first <= 0)
		return first < 0 ? CC_ERR_NOMEM : CC_OK;
	cc_err err = make_room(sp);
	if (err)
		return err;
	err = user_item_put(srv, fp, &sp->parts.users);
	if (err == CC_ERR_NOT_FOUND)
		return CC_OK;  /* never known here: the members' clients will say so */
	if (!err)
		sp->parts.nusers++;
	return err;
}

/* What step_record returns to stop the walk once a PART went out (a walk's
 * callback returns a cc_err, which the walk returns as is); no error. */
#define STEP_PAUSED CC_ERR_LIMIT

struct step_ctx {
	struct conn *c;
	struct state_pump *sp;
};

/* One record (from next_seq on) and the users it names; stops the walk
 * once a PART went out, so that the output is looked at again. */
static int step_record(void *ctx, uint32_t seq, uint64_t position, const uint8_t *rec,
		       size_t len)
{
	struct step_ctx *st = ctx;
	struct state_pump *sp = st->sp;
	struct proto_chain_item item = {position, {rec, len}};
	struct proto_record r;
	struct proto_subject_iter it;
	struct proto_bytes nick;
	const uint8_t *fp;

	if ((sp->err = proto_record_decode(rec, len, &r)))
		return sp->err;
	if (!sp->in_record) {
		if ((sp->err = make_room(sp)) ||
		    (sp->err = proto_item_encode(PROTO_ITEM_CHAIN, &item, &sp->parts.records)))
			return sp->err;
		sp->parts.nrecords++;
		sp->in_record = true;
		sp->next_subject = 0;
		if ((sp->err = add_user(st->c->srv, sp, r.actor_fp)))
			return sp->err;
	}
	/* A user at a time (an ADD names up to 256): a step ends with the
	 * first PART, even inside a record. */
	proto_subject_iter_init(&it, &r);
	for (uint16_t i = 0; proto_subject_next(&it, &nick, &fp) == CC_OK; i++) {
		if (i < sp->next_subject)
			continue;
		if (sp->part_sent)
			return STEP_PAUSED;
		if ((sp->err = add_user(st->c->srv, sp, fp)))
			return sp->err;
		sp->next_subject = i + 1;
	}
	sp->in_record = false;
	sp->next_seq = seq + 1;
	return sp->part_sent ? STEP_PAUSED : 0;
}

/* USERS: the entries of the nicks asked for, from next_nick on, until a
 * PART went out. An unknown nickname ends it with ERROR unknown_user. */
static cc_err step_users(struct conn *c, struct state_pump *sp, bool *done)
{
	struct proto_list list = {sp->nnicks, {sp->nicks.data, sp->nicks.len}};
	struct proto_list_iter it;
	struct proto_nick_item item;
	char nick[PROTO_NICK_MAX + 1], text[80];

	proto_list_iter_init(&it, &list, PROTO_ITEM_NICK);
	for (uint16_t i = 0; proto_list_next(&it, &item) == CC_OK; i++) {
		if (i < sp->next_nick)
			continue;
		if (sp->part_sent)
			return CC_OK;
		struct store_user u;
		memcpy(nick, item.nick.p, item.nick.len);
		nick[item.nick.len] = '\0';
		cc_err err = store_user_get_by_nick(c->srv->store, nick, &u);
		if (err == CC_ERR_NOT_FOUND) {
			snprintf(text, sizeof text, "no user is called %s", nick);
			conn_send_error(c, sp->request_id, CC_ERR_UNKNOWN_USER, text);
			*done = true;
			return CC_OK;
		}
		if (!err && !(err = make_room(sp)) &&
		    !(err = user_item_put(c->srv, u.fingerprint, &sp->parts.users)))
			sp->parts.nusers++;
		store_user_clear(&u);
		if (err)
			return err;
		sp->next_nick = i + 1;
	}
	struct proto_msg m = {.type = PROTO_USERS};
	m.u.users.request_id = sp->request_id;
	m.u.users.users = (struct proto_list){sp->parts.nusers,
					      {sp->parts.users.data, sp->parts.users.len}};
	*done = true;
	return conn_queue_msg(c, &m);
}

struct tail_ctx {
	struct buf keys, gone;
	uint16_t nkeys, ngone;
	const char *nick;
	cc_err err;
};

static int tail_key(void *ctx, uint32_t epoch, const uint8_t *wrapped, size_t len)
{
	struct tail_ctx *t = ctx;
	struct proto_wrapped_item item;
	item.nick = proto_bytes_str(t->nick);
	item.epoch = epoch;
	item.wrapped = (struct proto_bytes){wrapped, len};
	if ((t->err = proto_item_encode(PROTO_ITEM_WRAPPED, &item, &t->keys)))
		return 1;
	t->nkeys++;
	return 0;
}

static int tail_gone(void *ctx, uint32_t n, const uint8_t *blob, size_t len)
{
	struct tail_ctx *t = ctx;
	struct proto_gone_item item;
	(void)n;
	if (len <= PROTO_FINGERPRINT_LEN)
		return 0;  /* (the store never makes one) */
	memcpy(item.fingerprint, blob, PROTO_FINGERPRINT_LEN);
	item.nick = (struct proto_bytes){blob + PROTO_FINGERPRINT_LEN, len - PROTO_FINGERPRINT_LEN};
	if ((t->err = proto_item_encode(PROTO_ITEM_GONE, &item, &t->gone)))
		return 1;
	t->ngone++;
	return 0;
}

/* The answer: the last records and users, the member's keys, the members
 * gone, the title; for a join, then the backlog. */
static cc_err state_finish(struct conn *c, struct state_pump *sp)
{
	struct server *srv = c->srv;
	struct store_room room;
	struct store_member member;
	struct tail_ctx t = {.nick = c->nick};
	uint8_t *title = NULL;
	size_t title_len = 0;
	uint32_t backlog = 0;
	int64_t after = 0;
	cc_err err;

	buf_init(&t.keys, PARTS_BUDGET);
	buf_init(&t.gone, PARTS_BUDGET);
	if ((err = room_of_member(c, sp->room_id, &room, &member)))
		goto out;
	if (sp->join) {
		after = member.last_read_msg_id > member.first_msg_id - 1 ? member.last_read_msg_id
									  : member.first_msg_id - 1;
		if ((err = store_message_count_after(srv->store, room.id, after, &backlog)))
			goto out;
	}
	if ((err = store_key_each(srv->store, room.id, c->user_id, member.since_epoch, tail_key,
				  &t)) || (err = t.err) ||
	    (err = store_room_gone_each(srv->store, room.id, tail_gone, &t)) || (err = t.err))
		goto out;
	err = store_epoch_get(srv->store, room.id, room.epoch, &title, &title_len);
	if (err && err != CC_ERR_NOT_FOUND)
		goto out;
	struct proto_msg m = {.type = PROTO_ROOM_STATE};
	struct proto_room_state *st = &m.u.room_state;
	st->request_id = sp->request_id;
	memcpy(st->room_id, room.room_id, PROTO_ROOM_ID_LEN);
	st->title_ct = (struct proto_bytes){title, title_len};
	st->records = (struct proto_list){sp->parts.nrecords,
					  {sp->parts.records.data, sp->parts.records.len}};
	st->users = (struct proto_list){sp->parts.nusers,
					{sp->parts.users.data, sp->parts.users.len}};
	st->keys = (struct proto_list){t.nkeys, {t.keys.data, t.keys.len}};
	st->gone = (struct proto_list){t.ngone, {t.gone.data, t.gone.len}};
	st->backlog = backlog;
	if ((err = conn_queue_msg(c, &m)))
		goto out;
	if (sp->join)
		join_backlog_start(c, room.id, sp->request_id, after);
out:
	free(title);
	buf_free(&t.keys);
	buf_free(&t.gone);
	return err;
}

static void state_free(struct state_pump *sp)
{
	if (!sp)
		return;
	parts_free(&sp->parts);
	buf_free(&sp->nicks);
	free(sp->seen);
	free(sp);
}

/* Streams while the output has room; 1 when the state is done (answered,
 * or an ERROR sent), 0 when it waits for the output to drain. */
static int state_run(struct conn *c)
{
	struct state_pump *sp = c->state;
	struct server *srv = c->srv;
	cc_err err = CC_OK;

	while (!c->dead && !c->closing) {
		if (conn_queued(c) > srv->cfg->max_output / 2)
			return 0;  /* conn_write_cb calls back once drained */
		sp->part_sent = false;
		if (sp->users_answer) {
			bool done = false;
			if ((err = step_users(c, sp, &done)) || done)
				break;
			continue;
		}
		struct step_ctx st = {c, sp};
		uint32_t before = sp->next_seq;
		uint16_t before_subject = sp->next_subject;
		err = store_record_each(srv->store, sp->room, sp->next_seq, step_record, &st);
		if (err == STEP_PAUSED && !sp->err)
			err = CC_OK;
		if (err || (err = sp->err))
			break;
		if (!sp->part_sent || (sp->next_seq == before && sp->next_subject == before_subject &&
					!sp->in_record)) {
			err = state_finish(c, sp);
			break;
		}
	}
	if (err && !c->dead)
		conn_send_error(c, sp->request_id, err, NULL);
	c->state = NULL;
	state_free(sp);
	return 1;
}

static struct state_pump *pump_new(struct conn *c, uint32_t request_id)
{
	struct state_pump *sp = calloc(1, sizeof *sp);
	if (!sp) {
		conn_send_error(c, request_id, CC_ERR_NOMEM, NULL);
		return NULL;
	}
	sp->request_id = request_id;
	buf_init(&sp->nicks, PROTO_FRAME_MAX_LIMIT);
	parts_init(&sp->parts, c, request_id);
	return sp;
}

void users_start(struct conn *c, const struct proto_users_get *req)
{
	struct state_pump *sp = pump_new(c, req->request_id);
	if (!sp)
		return;
	sp->users_answer = true;
	sp->nnicks = req->nicks.count;
	if (buf_put_bytes(&sp->nicks, req->nicks.raw.p, req->nicks.raw.len)) {
		conn_send_error(c, req->request_id, CC_ERR_NOMEM, NULL);
		state_free(sp);
		return;
	}
	c->state = sp;
	state_run(c);
}

void state_start(struct conn *c, uint32_t request_id, const struct store_room *room, bool join)
{
	struct state_pump *sp = pump_new(c, request_id);
	if (!sp)
		return;
	sp->room = room->id;
	memcpy(sp->room_id, room->room_id, PROTO_ROOM_ID_LEN);
	sp->join = join;
	c->state = sp;
	/* Done at once, as a small room's state is: the reading goes on. If
	 * not, server.c stops reading the connection until it is. */
	state_run(c);
}

void state_continue(struct conn *c)
{
	if (c->state && state_run(c) && !c->state)
		server_conn_resume_input(c);
}

void state_drop(struct conn *c)
{
	state_free(c->state);
	c->state = NULL;
}
