/* The rooms a connection sends to, remembered: MSG_SEND checks that the
 * sender is a member and reads the room's epoch, two queries per message at
 * full fan-out. A copy is used only while store_rooms_version is unchanged,
 * that is while no room, membership or user has changed at all (a kick, a
 * new epoch, a leave, an expiry all change it), so it says exactly what the
 * store would. */
#include <stdlib.h>
#include <string.h>

#include "server/rooms_internal.h"
#include "store/store.h"

/* Rooms remembered per connection (a client talks in a few at a time). */
#define ROOMS_SEEN_MAX 8

struct room_seen {
	struct store_room room;
	uint64_t version;  /* store_rooms_version when it was read */
};

cc_err room_of_sender(struct conn *c, const uint8_t room_id[PROTO_ROOM_ID_LEN],
		      struct store_room *room)
{
	uint64_t version = store_rooms_version(c->srv->store);
	size_t slot = c->nseen;  /* where this room's copy goes: its own, or a new one */
	for (size_t i = 0; i < c->nseen; i++) {
		if (memcmp(c->seen[i].room.room_id, room_id, PROTO_ROOM_ID_LEN) != 0)
			continue;
		if (c->seen[i].version == version) {
			*room = c->seen[i].room;
			return CC_OK;
		}
		slot = i;  /* out of date: read again */
		break;
	}
	cc_err err = room_of_member(c, room_id, room, NULL);
	if (err)
		return err;
	if (!c->seen && !(c->seen = calloc(ROOMS_SEEN_MAX, sizeof *c->seen)))
		return CC_OK;  /* remembered another time */
	if (slot == ROOMS_SEEN_MAX)
		slot = c->seen_next++ % ROOMS_SEEN_MAX;
	else if (slot == c->nseen)
		c->nseen++;
	c->seen[slot] = (struct room_seen){*room, version};
	return CC_OK;
}

void room_seen_free(struct conn *c)
{
	free(c->seen);
	c->seen = NULL;
	c->nseen = 0;
}
