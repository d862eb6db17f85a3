/* Authenticated requests. Authorization always comes from the session
 * (c->user_id), never from a name inside a message. */
#include "server/server_internal.h"
#include "util/log.h"

cc_err server_handle_request(struct conn *c, const struct proto_msg *m)
{
	(void)c;
	switch (m->type) {
	default:
		/* Handshake or server-to-client messages have no business here. */
		return CC_ERR_STATE;
	}
}

void server_on_disconnect(struct conn *c)
{
	log_debug("conn %s: %s disconnected", c->peer, c->nick);
}
