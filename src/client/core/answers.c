/* Answers to the client's requests: which kind each request takes at each
 * step, and where each goes. A server that answers out of turn breaks the
 * protocol: the connection is dropped and the request runs again. */
#include "client/core/internal.h"

/* 0 if M cannot answer REQ: a server that answers a join with a SENT, say,
 * breaks the protocol (the request would wait forever, or take the wrong
 * answer for its own). Each request, at each step, takes one kind of answer
 * (and ERROR); the connection is dropped on any other, and the request made
 * again once reconnected (a change is looked up first: resolve). */
static int client_answer_fits(const struct client_req *req, const struct proto_msg *m)
{
	uint8_t t = m->type;
	if (t == PROTO_ERROR)
		return 1;
	switch (req->kind) {
	case REQ_JOIN:
		return t == PROTO_ROOM_STATE || t == PROTO_JOIN_DONE;
	case REQ_ROOMS:
		return t == PROTO_ROOMS;
	case REQ_FINGERPRINT:
	case REQ_SAFETY:
	case REQ_VERIFY:
		return t == PROTO_USERS;
	case REQ_SIGNING_KEY:
	case REQ_RECV_KEY:
	case REQ_KEY_MOVE:
	case REQ_DISCONNECT:
		return t == PROTO_OK;
	case REQ_SEND:
		return t == PROTO_SENT;
	case REQ_SWEEP:  /* ROOMS_LIST first (STEP_USERS), then a ROOM_FETCH per room */
		return req->step == STEP_USERS ? t == PROTO_ROOMS : t == PROTO_ROOM_STATE;
	case REQ_CREATE:
		return req->step == STEP_USERS ? t == PROTO_USERS : t == PROTO_OK;
	case REQ_ADD:
	case REQ_KICK:
	case REQ_REKEY:
	case REQ_ADMIN:
	case REQ_LEAVE:
		/* The directory (an add's), the room's state (a leave loads the
		 * room with a join), then the change. */
		if (req->step == STEP_USERS)
			return t == PROTO_USERS;
		if (req->step == STEP_STATE)
			return t == PROTO_ROOM_STATE || (req->kind == REQ_LEAVE && t == PROTO_JOIN_DONE);
		return t == PROTO_OK;
	case REQ_PING:
		return 0;  /* answered by PONG, which names no request */
	}
	return 1;
}

/* An answer to one of our requests. */
cc_err client_on_answer(struct client *cl, struct client_req *req, const struct proto_msg *m)
{
	if (req->resolve) {
		client_resolve_on_answer(cl, req, m);
		return CC_OK;
	}
	if (!client_answer_fits(req, m))
		return CC_ERR_STATE;  /* dropped: the request runs again once reconnected */
	switch (req->kind) {
	case REQ_SIGNING_KEY:
		if (m->type == PROTO_OK) {
			/* Then our receiving key: registration completes with it. */
			client_req_end(cl, req, CC_OK);
			client_recv_key_publish(cl, true);
			return CC_OK;
		}
		if (m->type == PROTO_ERROR) {
			client_on_error_msg(cl, &m->u.error);
			return CC_OK;
		}
		return CC_ERR_STATE;
	case REQ_CREATE:
		client_create_on_answer(cl, req, m);
		return CC_OK;
	case REQ_ROOMS:
		client_rooms_on_answer(cl, req, m);
		return CC_OK;
	case REQ_JOIN:
		client_join_on_answer(cl, req, m);
		return CC_OK;
	case REQ_LEAVE:
		if (req->step == STEP_STATE)
			client_join_on_answer(cl, req, m);
		else
			client_change_on_answer(cl, req, m);
		return CC_OK;
	case REQ_SEND:
		client_send_on_answer(cl, req, m);
		return CC_OK;
	case REQ_ADD:
	case REQ_KICK:
		if (req->kind == REQ_ADD && req->step == STEP_USERS && m->type == PROTO_USERS)
			client_add_on_users(cl, req, &m->u.users);
		else if (req->step == STEP_STATE && m->type == PROTO_ROOM_STATE)
			client_refresh_on_state(cl, req, &m->u.room_state);
		else
			client_change_on_answer(cl, req, m);
		return CC_OK;
	case REQ_REKEY:
		if (req->step == STEP_STATE && m->type == PROTO_ROOM_STATE)
			client_rekey_on_state(cl, req, &m->u.room_state);
		else
			client_change_on_answer(cl, req, m);
		return CC_OK;
	case REQ_ADMIN:
	case REQ_DISCONNECT:
		client_change_on_answer(cl, req, m);
		return CC_OK;
	case REQ_FINGERPRINT:
	case REQ_SAFETY:
	case REQ_VERIFY:
		if (m->type == PROTO_USERS) {
			client_trust_on_users(cl, req, &m->u.users);
		} else if (m->type == PROTO_ERROR) {
			client_req_error_msg(cl, req, &m->u.error);
			client_req_end(cl, req, (cc_err)m->u.error.code);
		}
		return CC_OK;
	case REQ_RECV_KEY:
		client_recv_key_on_answer(cl, req, m);
		return CC_OK;
	case REQ_SWEEP:
		client_sweep_on_answer(cl, req, m);
		return CC_OK;
	case REQ_KEY_MOVE:
		client_key_move_on_answer(cl, req, m);
		return CC_OK;
	case REQ_PING:
		break;  /* never here: a ping's answer is a PONG, which names no
			   request, so client_answer_fits refuses any other */
	}
	return CC_OK;
}

