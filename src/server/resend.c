/* A message sent again. A client whose connection dropped before SENT came
 * cannot know whether its message was stored, so it sends the very same
 * envelope again once it has reconnected (same epoch, same number). The
 * unique index on (room, sender, epoch, seq) still refuses the copy; this
 * turns that refusal into the answer the first try would have had, so the
 * sender is confirmed once and the others hear the message once. Another
 * envelope under a stored number stays a replay (docs/PROTOCOL.md, MSG_SEND). */
#include <string.h>

#include "proto/room.h"
#include "server/rooms_internal.h"
#include "store/store.h"

int msg_sent_before(struct conn *c, const struct store_room *room,
		    const struct proto_envelope *env, const struct proto_msg_send *req)
{
	struct proto_msg m = {.type = PROTO_SENT};
	int64_t msg_id;

	/* SENT means on disk: what this loop turn stored is committed first
	 * (and answered first, in order). */
	server_rooms_commit(c->srv);
	if (store_message_find(c->srv->store, room->id, c->user_id, env->epoch, env->seq,
			       req->envelope.p, req->envelope.len, &msg_id,
			       &m.u.sent.server_ts_ms) != CC_OK)
		return 0;
	m.u.sent.request_id = req->request_id;
	memcpy(m.u.sent.room_id, room->room_id, PROTO_ROOM_ID_LEN);
	m.u.sent.msg_id = (uint64_t)msg_id;
	conn_queue_msg(c, &m);
	return 1;
}
