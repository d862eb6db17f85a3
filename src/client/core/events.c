/* Building the core's events: the few shapes many places send. */
#include <stdlib.h>
#include <string.h>

#include "client/core/internal.h"
#include "util/err.h"

void client_emit(struct client *cl, struct client_event *ev)
{
	if (!ev->room)
		ev->room = "";
	/* A handler may call into the core, which may send: nothing sent may
	 * rest on writes not yet committed, so an open batch (a directory's,
	 * turn.c) is committed first. A turn's messages never get here with
	 * theirs open: their events wait for its commit. */
	if (cl->turn.batch)
		client_turn_end(cl);
	if (cl->cb.on_event)
		cl->cb.on_event(cl->cb.ctx, ev);
}

void client_emit_error(struct client *cl, uint32_t request, const char *room_hex,
		       const char *from, const char *code, const char *message)
{
	struct client_event ev = {.type = CLIENT_EV_ERROR, .request = request, .room = room_hex};
	ev.u.error.code = code;
	ev.u.error.message = message;
	ev.u.error.from = from;
	client_emit(cl, &ev);
}

void client_req_error(struct client *cl, const struct client_req *req, const char *code,
		      const char *message)
{
	client_emit_error(cl, req->id, req->room_hex, NULL, code, message);
}

void client_req_error_msg(struct client *cl, const struct client_req *req,
			  const struct proto_error *e)
{
	char text[PROTO_ERROR_TEXT_MAX + 1];
	memcpy(text, e->text.p, e->text.len);
	text[e->text.len] = '\0';
	client_req_error(cl, req, e->code < CC_ERR_COUNT_ ? cc_err_code((cc_err)e->code) : "unknown",
			 *text ? text : cc_err_str(e->code < CC_ERR_COUNT_ ? (cc_err)e->code
									   : CC_ERR_INTERNAL));
}

void client_emit_change(struct client *cl, enum client_event_type type, uint32_t request,
			const struct client_room *r, const struct e2e_chain *chain,
			const char *nick, const char *by)
{
	struct client_event ev = {.type = type, .request = request, .room = r->id_hex};
	ev.u.change.nick = nick ? nick : "";
	ev.u.change.by = by ? by : "";
	ev.u.change.admin = chain->ended ? "" : chain->admin.nick;
	ev.u.change.epoch = chain->epoch;
	client_emit(cl, &ev);
}

void client_emit_room(struct client *cl, enum client_event_type type, uint32_t request,
		      const struct client_room *r, uint32_t backlog)
{
	const char **members = calloc(r->chain.nmembers + 1, sizeof *members);
	struct client_event ev = {.type = type, .request = request, .room = r->id_hex};
	for (size_t i = 0; members && i < r->chain.nmembers; i++)
		members[i] = r->chain.members[i].nick;
	ev.u.room.title = r->title;
	ev.u.room.admin = r->chain.admin.nick;
	ev.u.room.members = members;
	ev.u.room.nmembers = members ? r->chain.nmembers : 0;
	ev.u.room.epoch = r->chain.epoch;
	ev.u.room.backlog = backlog;
	client_emit(cl, &ev);
	free(members);
}
