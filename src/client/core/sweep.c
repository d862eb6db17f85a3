/* At connect (and after a rotation of our receiving key): the secrets the
 * server holds wrapped for us, in rooms this client is not listening to,
 * are fetched at once and turned into chain keys, so the wrapped copies go
 * from the server (KEYS_ACK) and no receiving key is needed for them any
 * more; then the receiving keys retired longer ago than the grace period
 * are deleted. A room whose state does not verify is reported and skipped.
 *
 * After a move to a new identity key, the sweep looks at every room: each
 * whose history still names the old key gets its MOVE (an owed epoch); when
 * none is left, the old key is deleted. */
#include <stdlib.h>
#include <string.h>

#include "client/core/internal.h"
#include "util/log.h"

static void sweep_next(struct client *cl, struct client_req *req)
{
	while (req->nsweep) {
		uint8_t *room = req->sweep_rooms[--req->nsweep];
		struct client_room *r = client_room_find(cl, room);
		if (r && r->joined) {
			if (r->needs_move) {
				req->tries++;
				client_owed_add(cl, room, true);
			}
			continue;  /* its keys come live */
		}
		struct proto_msg m = {.type = PROTO_ROOM_FETCH};
		memcpy(m.u.room_ref.room_id, room, PROTO_ROOM_ID_LEN);
		memcpy(req->room, room, PROTO_ROOM_ID_LEN);
		hex_encode(room, PROTO_ROOM_ID_LEN, req->room_hex);
		req->step = STEP_STATE;
		if (client_req_send(cl, req, &m) != CC_OK)
			client_req_end(cl, req, CC_ERR_IO);
		return;
	}
	/* Nothing waits for an old receiving key any more (but what others
	 * wrapped before they saw the new one: hence the grace period). */
	client_recv_keys_prune(cl);
	/* Every room names our new identity key: the old one may go. */
	if (cl->old_identity && req->tries == 0 && !client_req_of_kind(cl, REQ_REKEY, NULL))
		client_identity_old_done(cl);
	client_req_end(cl, req, CC_OK);
}

void client_sweep_start(struct client *cl, struct client_req *req)
{
	struct proto_msg m = {.type = PROTO_ROOMS_LIST};
	req->step = STEP_USERS;
	if (client_req_send(cl, req, &m) != CC_OK)
		client_req_end(cl, req, CC_ERR_IO);
}

static void sweep_on_rooms(struct client *cl, struct client_req *req, const struct proto_rooms *rooms)
{
	struct proto_list_iter it;
	struct proto_room_item item;
	req->sweep_rooms = calloc((size_t)rooms->rooms.count + 1, sizeof *req->sweep_rooms);
	if (!req->sweep_rooms) {
		client_req_end(cl, req, CC_ERR_NOMEM);
		return;
	}
	proto_list_iter_init(&it, &rooms->rooms, PROTO_ITEM_ROOM);
	while (proto_list_next(&it, &item) == CC_OK)
		if (item.pending_keys || cl->old_identity)
			memcpy(req->sweep_rooms[req->nsweep++], item.room_id, PROTO_ROOM_ID_LEN);
	sweep_next(cl, req);
}

static void sweep_on_state(struct client *cl, struct client_req *req,
			   const struct proto_room_state *st)
{
	const char *why = "";
	struct client_room *r = NULL;
	cc_err err = memcmp(st->room_id, req->room, PROTO_ROOM_ID_LEN) != 0 ? CC_ERR_SECURITY
									    : CC_OK;
	if (err)
		why = "the server answered with another room's state";
	else if (!(r = client_room_new(st->room_id)))
		err = CC_ERR_NOMEM;
	else
		err = client_join_verify(cl, r, st, &why);
	if (!err && r->needs_move) {
		req->tries++;
		client_owed_add(cl, r->room_id, true);
	}
	/* Verifying took the keys (and told the server); a later join reads
	 * them from the store. */
	if (err)
		client_req_error(cl, req, err == CC_ERR_SECURITY ? "security" : cc_err_code(err),
				 *why ? why : cc_err_str(err));
	client_room_free(r);
	sweep_next(cl, req);
}

void client_sweep_on_answer(struct client *cl, struct client_req *req, const struct proto_msg *m)
{
	if (m->type == PROTO_ERROR) {
		/* A room gone meanwhile, say: the others still go. */
		log_info("sweep: %s", cc_err_str(m->u.error.code < CC_ERR_COUNT_
							 ? (cc_err)m->u.error.code
							 : CC_ERR_INTERNAL));
		if (req->step == STEP_STATE)
			sweep_next(cl, req);
		else
			client_req_end(cl, req, CC_ERR_STATE);
		return;
	}
	if (req->step == STEP_USERS && m->type == PROTO_ROOMS)
		sweep_on_rooms(cl, req, &m->u.rooms);
	else if (req->step == STEP_STATE && m->type == PROTO_ROOM_STATE)
		sweep_on_state(cl, req, &m->u.room_state);
}
