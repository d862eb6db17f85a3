/* Long answers in parts: a USERS or ROOM_STATE whose lists would pass
 * PARTS_BUDGET goes out as PARTs first (docs/PROTOCOL.md 8, "Long answers"),
 * so a room of thousands of members never needs one huge frame, and every
 * frame the server sends stays within the 1 MiB a client accepts. */
#include "server/rooms_internal.h"

void parts_init(struct answer_parts *p, struct conn *c, uint32_t request_id)
{
	p->c = c;
	p->request_id = request_id;
	/* A quarter of what may wait for the client at most: the streaming
	 * (state.c) adds a PART only while less than half of that waits. */
	p->budget = c->srv->cfg->max_output / 4;
	if (p->budget > PARTS_BUDGET)
		p->budget = PARTS_BUDGET;
	/* An item may pass the budget by its own size: room for one. */
	buf_init(&p->records, p->budget + PROTO_RECORD_MAX + 64);
	buf_init(&p->users, p->budget + 4096);
	p->nrecords = p->nusers = 0;
}

void parts_free(struct answer_parts *p)
{
	buf_free(&p->records);
	buf_free(&p->users);
}

cc_err parts_make_room(struct answer_parts *p)
{
	if (p->records.len + p->users.len < p->budget)
		return CC_OK;
	struct proto_msg m = {.type = PROTO_PART};
	m.u.part.request_id = p->request_id;
	m.u.part.records = (struct proto_list){p->nrecords, {p->records.data, p->records.len}};
	m.u.part.users = (struct proto_list){p->nusers, {p->users.data, p->users.len}};
	cc_err err = conn_queue_msg(p->c, &m);
	buf_clear(&p->records);
	buf_clear(&p->users);
	p->nrecords = p->nusers = 0;
	return err;
}
