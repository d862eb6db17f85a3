/* One loop turn's messages: stored in one transaction, shown once it is
 * committed (internal.h explains the rule). The server's flush_ev does the
 * same for what it stores in a turn; here a turn is one read of the
 * connection, and the commit comes at its end, or before any other kind of
 * message is handled, so that events keep the server's order. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/core/internal.h"
#include "store/client_store.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/testpoint.h"

/* An event of the turn, with its own copies of what it names. */
struct client_staged {
	enum client_event_type type;          /* MESSAGE, GAP or ERROR */
	char room[CLIENT_ROOM_HEX];
	char from[PROTO_NICK_MAX + 1];
	char code[32], why[256];              /* ERROR */
	uint8_t *text;                        /* MESSAGE: wiped when freed */
	size_t len;
	uint64_t seq, msg_id, ts_ms, first, last;
	uint32_t epoch;
	bool verified, safety_verified;
};

void client_turn_begin(struct client *cl)
{
	if (cl->turn.batch) {
		cl->turn.step = NULL;  /* now it holds more than one step's writes */
		return;
	}
	/* Without a batch every write still commits on its own: slower, not
	 * less safe. */
	if (cstore_begin(cl->store) == CC_OK)
		cl->turn.batch = true;
	else
		log_warn("cannot open a store batch: storing write by write");
}

static void staged_clear(struct client_staged *s)
{
	if (s->text) {
		mem_wipe(s->text, s->len + 1);
		free(s->text);
	}
	mem_wipe(s, sizeof *s);
}

static int staged_copy(struct client_staged *s, const struct client_event *ev)
{
	memset(s, 0, sizeof *s);
	s->type = ev->type;
	snprintf(s->room, sizeof s->room, "%s", ev->room ? ev->room : "");
	switch (ev->type) {
	case CLIENT_EV_MESSAGE:
		if (!(s->text = malloc(ev->u.message.len + 1)))
			return -1;
		memcpy(s->text, ev->u.message.text, ev->u.message.len);
		s->text[ev->u.message.len] = '\0';
		s->len = ev->u.message.len;
		snprintf(s->from, sizeof s->from, "%s", ev->u.message.from);
		s->seq = ev->u.message.seq;
		s->epoch = ev->u.message.epoch;
		s->ts_ms = ev->u.message.ts_ms;
		s->msg_id = ev->u.message.msg_id;
		s->verified = ev->u.message.verified;
		s->safety_verified = ev->u.message.safety_verified;
		return 0;
	case CLIENT_EV_GAP:
		snprintf(s->from, sizeof s->from, "%s", ev->u.gap.from);
		s->epoch = ev->u.gap.epoch;
		s->first = ev->u.gap.first;
		s->last = ev->u.gap.last;
		return 0;
	case CLIENT_EV_ERROR:
		snprintf(s->from, sizeof s->from, "%s", ev->u.error.from ? ev->u.error.from : "");
		snprintf(s->code, sizeof s->code, "%s", ev->u.error.code ? ev->u.error.code : "");
		snprintf(s->why, sizeof s->why, "%s", ev->u.error.message ? ev->u.error.message : "");
		return 0;
	default:
		return -1;
	}
}

static void staged_emit(struct client *cl, const struct client_staged *s)
{
	struct client_event ev = {.type = s->type, .room = s->room};
	switch (s->type) {
	case CLIENT_EV_MESSAGE:
		ev.u.message.from = s->from;
		ev.u.message.text = (const char *)s->text;
		ev.u.message.len = s->len;
		ev.u.message.seq = s->seq;
		ev.u.message.epoch = s->epoch;
		ev.u.message.ts_ms = s->ts_ms;
		ev.u.message.msg_id = s->msg_id;
		ev.u.message.verified = s->verified;
		ev.u.message.safety_verified = s->safety_verified;
		break;
	case CLIENT_EV_GAP:
		ev.u.gap.from = s->from;
		ev.u.gap.epoch = s->epoch;
		ev.u.gap.first = s->first;
		ev.u.gap.last = s->last;
		break;
	default:
		ev.u.error.code = s->code;
		ev.u.error.message = s->why;
		ev.u.error.from = *s->from ? s->from : NULL;
		break;
	}
	client_emit(cl, &ev);
}

void client_turn_stage(struct client *cl, struct client_room *r, const struct client_event *ev)
{
	struct client_turn *t = &cl->turn;
	r->in_turn = true;
	if (t->n == t->cap) {
		size_t cap = t->cap ? 2 * t->cap : 64;
		struct client_staged *ev2 = realloc(t->ev, cap * sizeof *ev2);
		if (ev2) {
			t->ev = ev2;
			t->cap = cap;
		}
	}
	if (t->n < t->cap && staged_copy(&t->ev[t->n], ev) == 0) {
		t->n++;
		return;
	}
	if (t->n < t->cap)
		staged_clear(&t->ev[t->n]);
	/* No memory to keep it: commit what it depends on now, then show it. */
	if (client_turn_end(cl) == CC_OK) {
		struct client_event copy = *ev;
		client_emit(cl, &copy);
	}
}

/* The commit failed: nothing of the turn was stored, so nothing of it is
 * shown, and the rooms go back to what the store holds. */
static void turn_undo(struct client *cl)
{
	for (size_t i = 0; i < cl->turn.n; i++)
		staged_clear(&cl->turn.ev[i]);
	cl->turn.n = 0;
	for (size_t i = 0; i < cl->nrooms; i++) {
		struct client_room *r = cl->rooms[i];
		struct cstore_room cr;
		if (!r->in_turn)
			continue;
		r->in_turn = false;
		if (cstore_room_get(cl->store, r->room_id, &cr) == CC_OK)
			r->last_msg_id = cr.last_msg_id;
		client_emit_error(cl, 0, r->id_hex, NULL, "store_error",
				  "cannot store the messages received: they come again");
	}
}

cc_err client_turn_end(struct client *cl)
{
	struct client_turn *t = &cl->turn;
	if (t->batch) {
		t->batch = false;
		/* Written, not committed; nothing shown, nothing sent. */
		testpoint(t->step ? t->step : "client:turn-stored");
		t->step = NULL;
		uint64_t t0 = clock_mono_ms();
		if (cstore_commit(cl->store) != CC_OK) {
			log_error("cannot commit the writes of this turn");
			t->failed = true;
			turn_undo(cl);
			return CC_ERR_STORE;
		}
		log_debug("turn: %zu events committed in %llu ms", t->n,
			  (unsigned long long)(clock_mono_ms() - t0));
	}
	/* Shown in the order they came; an event's handler may call into the
	 * core, so the list is taken first. */
	struct client_staged *ev = t->ev;
	size_t n = t->n;
	t->ev = NULL;
	t->n = t->cap = 0;
	for (size_t i = 0; i < n; i++) {
		staged_emit(cl, &ev[i]);
		staged_clear(&ev[i]);
	}
	free(ev);
	for (size_t i = 0; i < cl->nrooms; i++) {
		struct client_room *r = cl->rooms[i];
		if (!r->in_turn)
			continue;
		r->in_turn = false;
		client_room_ack_due(cl, r);
		client_maybe_rekey(cl, r);
		client_epochs_forget_ended(cl, r);
	}
	return CC_OK;
}

/* A directory's writes join the turn's batch: one commit for them all, and
 * it comes before anything that rests on them is sent. */
void client_directory_begin(struct client *cl, const char *step)
{
	bool open = cl->turn.batch;
	client_turn_begin(cl);
	cl->turn.step = !open && cl->turn.batch ? step : NULL;  /* holds nothing else */
	cl->turn.failed = false;
}

cc_err client_directory_commit(struct client *cl)
{
	client_turn_end(cl);
	/* Also a commit made early, before an event (events.c), that failed. */
	bool failed = cl->turn.failed;
	cl->turn.failed = false;
	return failed ? CC_ERR_STORE : CC_OK;
}

void client_turn_free(struct client *cl)
{
	if (cl->turn.batch)
		cstore_rollback(cl->store);
	cl->turn.batch = false;
	cl->turn.step = NULL;
	for (size_t i = 0; i < cl->turn.n; i++)
		staged_clear(&cl->turn.ev[i]);
	free(cl->turn.ev);
	cl->turn.ev = NULL;
	cl->turn.n = cl->turn.cap = 0;
}
