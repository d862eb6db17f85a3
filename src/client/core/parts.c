/* Long answers in parts (docs/PROTOCOL.md 8, "Long answers"): the server
 * sends the first records and users of a big USERS or ROOM_STATE as PARTs,
 * kept here with their request until the answer itself comes; the answer is
 * then handled as if it had carried them all. What a hostile server can do
 * with parts is bounded: they take at most the lists' caps, and are dropped
 * with the answer, an ERROR, or a new attempt of the request. */
#include <string.h>

#include "client/core/internal.h"

/* A room's whole state, with 5,120 members and RSA-4096 keys, is ~9 MiB. */
#define PARTS_BYTES_MAX (32u * 1024 * 1024)

void client_parts_init(struct client_parts *p)
{
	memset(p, 0, sizeof *p);
	buf_init(&p->records, PARTS_BYTES_MAX);
	buf_init(&p->users, PARTS_BYTES_MAX);
}

void client_parts_free(struct client_parts *p)
{
	buf_free(&p->records);
	buf_free(&p->users);
	p->nrecords = p->nusers = 0;
	p->any = false;
}

void client_parts_reset(struct client_parts *p)
{
	buf_clear(&p->records);
	buf_clear(&p->users);
	p->nrecords = p->nusers = 0;
	p->any = false;
}

static cc_err append(struct buf *b, uint32_t *count, const struct proto_list *l)
{
	/* The whole list must still count in a u16, as it is handled as one. */
	if (*count + l->count > UINT16_MAX)
		return CC_ERR_TOO_LARGE;
	cc_err err = buf_put_bytes(b, l->raw.p, l->raw.len);
	if (!err)
		*count += l->count;
	return err;
}

cc_err client_parts_add(struct client_parts *p, const struct proto_part *part)
{
	cc_err err;
	if ((err = append(&p->records, &p->nrecords, &part->records)) ||
	    (err = append(&p->users, &p->nusers, &part->users)))
		return err;
	p->any = true;
	return CC_OK;
}

cc_err client_parts_complete(struct client_parts *p, struct proto_msg *m)
{
	struct proto_list *records = NULL, *users = NULL;
	cc_err err;

	if (!p->any)
		return CC_OK;
	if (m->type == PROTO_USERS) {
		users = &m->u.users.users;
	} else if (m->type == PROTO_ROOM_STATE) {
		records = &m->u.room_state.records;
		users = &m->u.room_state.users;
	} else if (m->type == PROTO_ERROR) {
		return CC_OK;  /* the parts of an answer that failed: dropped */
	} else {
		return CC_ERR_STATE;  /* parts, then an answer that takes none */
	}
	if (records) {
		if ((err = append(&p->records, &p->nrecords, records)))
			return err;
		*records = (struct proto_list){(uint16_t)p->nrecords,
					       {p->records.data, p->records.len}};
	} else if (p->nrecords) {
		return CC_ERR_MALFORMED;  /* records before a USERS */
	}
	if ((err = append(&p->users, &p->nusers, users)))
		return err;
	*users = (struct proto_list){(uint16_t)p->nusers, {p->users.data, p->users.len}};
	return CC_OK;
}
