#include "proto/msg.h"

#include <stddef.h>
#include <string.h>

/* Each message is described by a table of fields; one generic encoder and one
 * generic decoder walk the tables, so adding a message is adding a table. */
enum field_kind {
	FIELD_U8,
	FIELD_U16,
	FIELD_U32,
	FIELD_U64,
	FIELD_FIXED,    /* arg = exact length, stored in a uint8_t array */
	FIELD_BYTES16,  /* arg = cap */
	FIELD_BYTES32,  /* arg = cap */
	FIELD_STR16,    /* arg = cap; UTF-8 */
	FIELD_NICK,     /* bytes16, nickname charset */
	FIELD_LIST,     /* arg = enum proto_item_kind */
};

struct field {
	enum field_kind kind;
	size_t offset;  /* in struct proto_msg */
	size_t arg;
};

struct msg_spec {
	const char *name;
	const struct field *fields;
	size_t count;
};

#define AT(member) offsetof(struct proto_msg, u.member)
#define SPEC(name, fields) {name, fields, sizeof(fields) / sizeof(fields[0])}

/* List items: the same tables, with offsets in the item's struct. */
static const struct field nick_item_fields[] = {
	{FIELD_NICK, offsetof(struct proto_nick_item, nick), PROTO_NICK_MAX},
};
static const struct field blob_item_fields[] = {
	{FIELD_BYTES16, offsetof(struct proto_blob_item, data), PROTO_RECORD_MAX},
};
static const struct field user_item_fields[] = {
	{FIELD_NICK, offsetof(struct proto_user_item, nick), PROTO_NICK_MAX},
	{FIELD_BYTES16, offsetof(struct proto_user_item, identity_key), PROTO_RSA_PUB_MAX},
	{FIELD_U32, offsetof(struct proto_user_item, sign_version), 0},
	{FIELD_FIXED, offsetof(struct proto_user_item, sign_pub), PROTO_SIGN_PUB_LEN},
	{FIELD_BYTES16, offsetof(struct proto_user_item, sign_cert), PROTO_SIGN_CERT_MAX},
	{FIELD_U32, offsetof(struct proto_user_item, recv_version), 0},
	{FIELD_U64, offsetof(struct proto_user_item, recv_created_ms), 0},
	{FIELD_FIXED, offsetof(struct proto_user_item, recv_pub), PROTO_X25519_LEN},
	{FIELD_BYTES16, offsetof(struct proto_user_item, recv_cert), PROTO_SIGN_CERT_MAX},
};
static const struct field wrapped_item_fields[] = {
	{FIELD_NICK, offsetof(struct proto_wrapped_item, nick), PROTO_NICK_MAX},
	{FIELD_U32, offsetof(struct proto_wrapped_item, epoch), 0},
	{FIELD_BYTES16, offsetof(struct proto_wrapped_item, wrapped), PROTO_WRAPPED_MAX},
};
static const struct field room_item_fields[] = {
	{FIELD_FIXED, offsetof(struct proto_room_item, room_id), PROTO_ROOM_ID_LEN},
	{FIELD_NICK, offsetof(struct proto_room_item, admin), PROTO_NICK_MAX},
	{FIELD_U32, offsetof(struct proto_room_item, epoch), 0},
	{FIELD_U32, offsetof(struct proto_room_item, members), 0},
	{FIELD_U32, offsetof(struct proto_room_item, unread), 0},
	{FIELD_U32, offsetof(struct proto_room_item, pending_keys), 0},
};
static const struct field gone_item_fields[] = {
	{FIELD_FIXED, offsetof(struct proto_gone_item, fingerprint), PROTO_FINGERPRINT_LEN},
	{FIELD_NICK, offsetof(struct proto_gone_item, nick), PROTO_NICK_MAX},
};
static const struct field chain_item_fields[] = {
	{FIELD_U64, offsetof(struct proto_chain_item, position), 0},
	{FIELD_BYTES16, offsetof(struct proto_chain_item, record), PROTO_RECORD_MAX},
};

union proto_any_item {
	struct proto_nick_item nick;
	struct proto_blob_item blob;
	struct proto_user_item user;
	struct proto_wrapped_item wrapped;
	struct proto_room_item room;
	struct proto_gone_item gone;
	struct proto_chain_item chain;
};

static const struct msg_spec item_specs[PROTO_ITEM_COUNT_] = {
	[PROTO_ITEM_NICK] = SPEC("nick", nick_item_fields),
	[PROTO_ITEM_BLOB] = SPEC("blob", blob_item_fields),
	[PROTO_ITEM_USER] = SPEC("user", user_item_fields),
	[PROTO_ITEM_WRAPPED] = SPEC("wrapped", wrapped_item_fields),
	[PROTO_ITEM_ROOM] = SPEC("room", room_item_fields),
	[PROTO_ITEM_GONE] = SPEC("gone", gone_item_fields),
	[PROTO_ITEM_CHAIN] = SPEC("chain", chain_item_fields),
};

static const struct field client_hello_fields[] = {
	{FIELD_U16, AT(client_hello.version), 0},
	{FIELD_FIXED, AT(client_hello.eph), PROTO_X25519_LEN},
	{FIELD_FIXED, AT(client_hello.random), PROTO_RANDOM_LEN},
};
static const struct field server_hello_fields[] = {
	{FIELD_U16, AT(server_hello.version), 0},
	{FIELD_FIXED, AT(server_hello.eph), PROTO_X25519_LEN},
	{FIELD_FIXED, AT(server_hello.random), PROTO_RANDOM_LEN},
	{FIELD_BYTES16, AT(server_hello.server_key), PROTO_RSA_PUB_MAX},
	{FIELD_U8, AT(server_hello.puzzle_bits), 0},
};
static const struct field client_key_fields[] = {
	{FIELD_U64, AT(client_key.puzzle_nonce), 0},
	{FIELD_BYTES16, AT(client_key.session_ct), PROTO_RSA_BYTES_MAX},
	{FIELD_BYTES16, AT(client_key.sealed_auth), PROTO_SEALED_AUTH_MAX},
};
static const struct field client_auth_fields[] = {
	{FIELD_BYTES16, AT(client_auth.identity_key), PROTO_RSA_PUB_MAX},
	{FIELD_NICK, AT(client_auth.nick), PROTO_NICK_MAX},
	{FIELD_BYTES16, AT(client_auth.signature), PROTO_RSA_BYTES_MAX},
};
static const struct field welcome_fields[] = {
	{FIELD_NICK, AT(welcome.nick), PROTO_NICK_MAX},
	{FIELD_FIXED, AT(welcome.fingerprint), PROTO_FINGERPRINT_LEN},
	{FIELD_U64, AT(welcome.server_time_ms), 0},
	{FIELD_U32, AT(welcome.max_frame), 0},
};
static const struct field ping_fields[] = {
	{FIELD_U64, AT(ping.token), 0},
};
static const struct field error_fields[] = {
	{FIELD_U32, AT(error.request_id), 0},
	{FIELD_U16, AT(error.code), 0},
	{FIELD_STR16, AT(error.text), PROTO_ERROR_TEXT_MAX},
};

static const struct field signing_key_fields[] = {
	{FIELD_U32, AT(signing_key.request_id), 0},
	{FIELD_U32, AT(signing_key.version), 0},
	{FIELD_FIXED, AT(signing_key.sign_pub), PROTO_SIGN_PUB_LEN},
	{FIELD_BYTES16, AT(signing_key.sign_cert), PROTO_SIGN_CERT_MAX},
};
static const struct field request_fields[] = {
	{FIELD_U32, AT(request.request_id), 0},
};
static const struct field users_get_fields[] = {
	{FIELD_U32, AT(users_get.request_id), 0},
	{FIELD_LIST, AT(users_get.nicks), PROTO_ITEM_NICK},
};
static const struct field users_fields[] = {
	{FIELD_U32, AT(users.request_id), 0},
	{FIELD_LIST, AT(users.users), PROTO_ITEM_USER},
};
static const struct field room_create_fields[] = {
	{FIELD_U32, AT(room_create.request_id), 0},
	{FIELD_FIXED, AT(room_create.room_id), PROTO_ROOM_ID_LEN},
	{FIELD_BYTES16, AT(room_create.title_ct), PROTO_TITLE_CT_MAX},
	{FIELD_LIST, AT(room_create.records), PROTO_ITEM_BLOB},
	{FIELD_LIST, AT(room_create.keys), PROTO_ITEM_WRAPPED},
};
static const struct field rooms_fields[] = {
	{FIELD_U32, AT(rooms.request_id), 0},
	{FIELD_LIST, AT(rooms.rooms), PROTO_ITEM_ROOM},
};
static const struct field room_ref_fields[] = {
	{FIELD_U32, AT(room_ref.request_id), 0},
	{FIELD_FIXED, AT(room_ref.room_id), PROTO_ROOM_ID_LEN},
};
static const struct field room_state_fields[] = {
	{FIELD_U32, AT(room_state.request_id), 0},
	{FIELD_FIXED, AT(room_state.room_id), PROTO_ROOM_ID_LEN},
	{FIELD_BYTES16, AT(room_state.title_ct), PROTO_TITLE_CT_MAX},
	{FIELD_LIST, AT(room_state.records), PROTO_ITEM_CHAIN},
	{FIELD_LIST, AT(room_state.users), PROTO_ITEM_USER},
	{FIELD_LIST, AT(room_state.keys), PROTO_ITEM_WRAPPED},
	{FIELD_LIST, AT(room_state.gone), PROTO_ITEM_GONE},
	{FIELD_U32, AT(room_state.backlog), 0},
};
static const struct field part_fields[] = {
	{FIELD_U32, AT(part.request_id), 0},
	{FIELD_LIST, AT(part.records), PROTO_ITEM_CHAIN},
	{FIELD_LIST, AT(part.users), PROTO_ITEM_USER},
};
static const struct field room_msg_fields[] = {
	{FIELD_FIXED, AT(room_msg.room_id), PROTO_ROOM_ID_LEN},
	{FIELD_U64, AT(room_msg.msg_id), 0},
	{FIELD_U64, AT(room_msg.server_ts_ms), 0},
	{FIELD_BYTES16, AT(room_msg.envelope), PROTO_ENVELOPE_MAX},
};
static const struct field msg_send_fields[] = {
	{FIELD_U32, AT(msg_send.request_id), 0},
	{FIELD_BYTES16, AT(msg_send.envelope), PROTO_ENVELOPE_MAX},
};
static const struct field sent_fields[] = {
	{FIELD_U32, AT(sent.request_id), 0},
	{FIELD_FIXED, AT(sent.room_id), PROTO_ROOM_ID_LEN},
	{FIELD_U64, AT(sent.msg_id), 0},
	{FIELD_U64, AT(sent.server_ts_ms), 0},
};
static const struct field room_record_fields[] = {
	{FIELD_FIXED, AT(room_record.room_id), PROTO_ROOM_ID_LEN},
	{FIELD_U64, AT(room_record.position), 0},
	{FIELD_BYTES16, AT(room_record.record), PROTO_RECORD_MAX},
	{FIELD_LIST, AT(room_record.users), PROTO_ITEM_USER},
	{FIELD_LIST, AT(room_record.keys), PROTO_ITEM_WRAPPED},
};
static const struct field receive_key_fields[] = {
	{FIELD_U32, AT(receive_key.request_id), 0},
	{FIELD_U32, AT(receive_key.version), 0},
	{FIELD_U64, AT(receive_key.created_ms), 0},
	{FIELD_FIXED, AT(receive_key.recv_pub), PROTO_X25519_LEN},
	{FIELD_BYTES16, AT(receive_key.recv_cert), PROTO_SIGN_CERT_MAX},
};
static const struct field keys_ack_fields[] = {
	{FIELD_FIXED, AT(keys_ack.room_id), PROTO_ROOM_ID_LEN},
	{FIELD_U32, AT(keys_ack.epoch), 0},
};
static const struct field key_move_fields[] = {
	{FIELD_U32, AT(key_move.request_id), 0},
	{FIELD_BYTES16, AT(key_move.new_key), PROTO_RSA_PUB_MAX},
	{FIELD_U64, AT(key_move.time_ms), 0},
	{FIELD_BYTES16, AT(key_move.old_sig), PROTO_RSA_BYTES_MAX},
	{FIELD_BYTES16, AT(key_move.new_sig), PROTO_RSA_BYTES_MAX},
};
static const struct field room_read_fields[] = {
	{FIELD_FIXED, AT(room_read.room_id), PROTO_ROOM_ID_LEN},
	{FIELD_U64, AT(room_read.msg_id), 0},
};
static const struct field room_rekey_fields[] = {
	{FIELD_U32, AT(room_rekey.request_id), 0},
	{FIELD_FIXED, AT(room_rekey.room_id), PROTO_ROOM_ID_LEN},
	{FIELD_LIST, AT(room_rekey.records), PROTO_ITEM_BLOB},
	{FIELD_BYTES16, AT(room_rekey.title_ct), PROTO_TITLE_CT_MAX},
	{FIELD_LIST, AT(room_rekey.keys), PROTO_ITEM_WRAPPED},
};
static const struct field room_leave_fields[] = {
	{FIELD_U32, AT(room_leave.request_id), 0},
	{FIELD_FIXED, AT(room_leave.room_id), PROTO_ROOM_ID_LEN},
	{FIELD_BYTES16, AT(room_leave.record), PROTO_RECORD_MAX},
};

static const struct msg_spec msg_specs[256] = {
	[PROTO_CLIENT_HELLO] = SPEC("client_hello", client_hello_fields),
	[PROTO_SERVER_HELLO] = SPEC("server_hello", server_hello_fields),
	[PROTO_CLIENT_KEY] = SPEC("client_key", client_key_fields),
	[PROTO_CLIENT_AUTH] = SPEC("client_auth", client_auth_fields),
	[PROTO_WELCOME] = SPEC("welcome", welcome_fields),
	[PROTO_PING] = SPEC("ping", ping_fields),
	[PROTO_PONG] = SPEC("pong", ping_fields),
	[PROTO_ERROR] = SPEC("error", error_fields),
	[PROTO_SIGNING_KEY] = SPEC("signing_key", signing_key_fields),
	[PROTO_OK] = SPEC("ok", request_fields),
	[PROTO_USERS_GET] = SPEC("users_get", users_get_fields),
	[PROTO_USERS] = SPEC("users", users_fields),
	[PROTO_ROOM_CREATE] = SPEC("room_create", room_create_fields),
	[PROTO_ROOMS_LIST] = SPEC("rooms_list", request_fields),
	[PROTO_ROOMS] = SPEC("rooms", rooms_fields),
	[PROTO_ROOM_JOIN] = SPEC("room_join", room_ref_fields),
	[PROTO_ROOM_STATE] = SPEC("room_state", room_state_fields),
	[PROTO_PART] = SPEC("part", part_fields),
	[PROTO_ROOM_MSG] = SPEC("room_msg", room_msg_fields),
	[PROTO_MSG_SEND] = SPEC("msg_send", msg_send_fields),
	[PROTO_SENT] = SPEC("sent", sent_fields),
	[PROTO_ROOM_ADD] = SPEC("room_add", room_rekey_fields),
	[PROTO_ROOM_RECORD] = SPEC("room_record", room_record_fields),
	[PROTO_ROOM_DISCONNECT] = SPEC("room_disconnect", room_ref_fields),
	[PROTO_ROOM_LEAVE] = SPEC("room_leave", room_leave_fields),
	[PROTO_JOIN_DONE] = SPEC("join_done", room_ref_fields),
	[PROTO_ROOM_KICK] = SPEC("room_kick", room_rekey_fields),
	[PROTO_ROOM_ADMIN] = SPEC("room_admin", room_leave_fields),
	[PROTO_ROOM_REKEY] = SPEC("room_rekey", room_rekey_fields),
	[PROTO_ROOM_FETCH] = SPEC("room_fetch", room_ref_fields),
	[PROTO_REKEY_OWED] = SPEC("rekey_owed", room_ref_fields),
	[PROTO_ROOM_READ] = SPEC("room_read", room_read_fields),
	[PROTO_RECEIVE_KEY] = SPEC("receive_key", receive_key_fields),
	[PROTO_KEYS_ACK] = SPEC("keys_ack", keys_ack_fields),
	[PROTO_KEY_MOVE] = SPEC("key_move", key_move_fields),
	[PROTO_ROOM_MOVE] = SPEC("room_move", room_rekey_fields),
};

const char *proto_type_name(uint8_t type)
{
	return msg_specs[type].name;
}

int proto_nick_valid(const uint8_t *s, size_t n)
{
	if (n < 1 || n > PROTO_NICK_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		uint8_t c = s[i];
		int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			 (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
		if (!ok)
			return 0;
	}
	return 1;
}

int proto_utf8_valid(const uint8_t *s, size_t n)
{
	size_t i = 0;
	while (i < n) {
		uint8_t c = s[i];
		if (c == 0)
			return 0;
		if (c < 0x80) {
			i++;
			continue;
		}
		size_t extra;
		uint32_t cp, min;
		if ((c & 0xe0) == 0xc0) {
			extra = 1, cp = c & 0x1f, min = 0x80;
		} else if ((c & 0xf0) == 0xe0) {
			extra = 2, cp = c & 0x0f, min = 0x800;
		} else if ((c & 0xf8) == 0xf0) {
			extra = 3, cp = c & 0x07, min = 0x10000;
		} else {
			return 0;
		}
		if (n - i - 1 < extra)
			return 0;
		for (size_t k = 1; k <= extra; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += extra + 1;
	}
	return 1;
}

struct proto_bytes proto_bytes_str(const char *s)
{
	struct proto_bytes b = {(const uint8_t *)s, strlen(s)};
	return b;
}

static cc_err spec_decode(struct bufreader *r, const struct msg_spec *spec, uint8_t *base);

/* Reads a list: every item must decode; the list keeps the span of them. */
static cc_err list_decode(struct bufreader *r, enum proto_item_kind kind, struct proto_list *l)
{
	union proto_any_item scratch;
	cc_err err;

	if ((err = bufreader_get_u16(r, &l->count)))
		return err;
	if (l->count > PROTO_LIST_MAX)
		return CC_ERR_TOO_LARGE;
	l->raw.p = r->p;
	for (uint16_t i = 0; i < l->count; i++)
		if ((err = spec_decode(r, &item_specs[kind], (uint8_t *)&scratch)))
			return err;
	l->raw.len = (size_t)(r->p - l->raw.p);
	return CC_OK;
}

static cc_err field_decode(struct bufreader *r, const struct field *f, uint8_t *base)
{
	void *dst = base + f->offset;
	struct proto_bytes *view = dst;
	cc_err err;

	switch (f->kind) {
	case FIELD_U8:
		return bufreader_get_u8(r, dst);
	case FIELD_U16:
		return bufreader_get_u16(r, dst);
	case FIELD_U32:
		return bufreader_get_u32(r, dst);
	case FIELD_U64:
		return bufreader_get_u64(r, dst);
	case FIELD_FIXED:
		return bufreader_get_copy(r, dst, f->arg);
	case FIELD_BYTES16:
		return bufreader_get_bytes16(r, f->arg, &view->p, &view->len);
	case FIELD_BYTES32:
		return bufreader_get_bytes32(r, f->arg, &view->p, &view->len);
	case FIELD_STR16:
		err = bufreader_get_bytes16(r, f->arg, &view->p, &view->len);
		if (!err && !proto_utf8_valid(view->p, view->len))
			err = CC_ERR_MALFORMED;
		return err;
	case FIELD_NICK:
		/* Too long is one way of not being a nickname. */
		err = bufreader_get_bytes16(r, f->arg, &view->p, &view->len);
		if (err == CC_ERR_TOO_LARGE || (!err && !proto_nick_valid(view->p, view->len)))
			err = CC_ERR_BAD_NICK;
		return err;
	case FIELD_LIST:
		return list_decode(r, (enum proto_item_kind)f->arg, dst);
	}
	return CC_ERR_INTERNAL;
}

static cc_err spec_decode(struct bufreader *r, const struct msg_spec *spec, uint8_t *base)
{
	cc_err err;
	for (size_t i = 0; i < spec->count; i++)
		if ((err = field_decode(r, &spec->fields[i], base)))
			return err;
	return CC_OK;
}

cc_err proto_msg_decode(const uint8_t *p, size_t len, struct proto_msg *out)
{
	struct bufreader r;
	uint8_t type;
	cc_err err;

	memset(out, 0, sizeof *out);
	bufreader_init(&r, p, len);
	if ((err = bufreader_get_u8(&r, &type)))
		return err;
	const struct msg_spec *spec = &msg_specs[type];
	if (!spec->name)
		return CC_ERR_BAD_TYPE;
	out->type = type;
	if ((err = spec_decode(&r, spec, (uint8_t *)out)))
		return err;
	return bufreader_expect_end(&r);
}

static cc_err field_encode(struct buf *b, const struct field *f, const uint8_t *base)
{
	const void *src = base + f->offset;
	const struct proto_bytes *view = src;
	const struct proto_list *list = src;
	struct bufreader check;
	struct proto_list checked;
	uint8_t count[2];
	cc_err err;

	switch (f->kind) {
	case FIELD_U8:
		return buf_put_u8(b, *(const uint8_t *)src);
	case FIELD_U16:
		return buf_put_u16(b, *(const uint16_t *)src);
	case FIELD_U32:
		return buf_put_u32(b, *(const uint32_t *)src);
	case FIELD_U64:
		return buf_put_u64(b, *(const uint64_t *)src);
	case FIELD_FIXED:
		return buf_put_bytes(b, src, f->arg);
	case FIELD_BYTES16:
	case FIELD_BYTES32:
	case FIELD_STR16:
	case FIELD_NICK:
		if (view->len > f->arg)
			return f->kind == FIELD_NICK ? CC_ERR_BAD_NICK : CC_ERR_TOO_LARGE;
		if (f->kind == FIELD_STR16 && !proto_utf8_valid(view->p, view->len))
			return CC_ERR_MALFORMED;
		if (f->kind == FIELD_NICK && !proto_nick_valid(view->p, view->len))
			return CC_ERR_BAD_NICK;
		return f->kind == FIELD_BYTES32 ? buf_put_bytes32(b, view->p, view->len)
						: buf_put_bytes16(b, view->p, view->len);
	case FIELD_LIST:
		/* The items were encoded by proto_item_encode; check they are exactly
		 * count valid items, as the receiver will. */
		store_be16(count, list->count);
		if ((err = buf_put_bytes(b, count, 2)) ||
		    (err = buf_put_bytes(b, list->raw.p, list->raw.len)))
			return err;
		bufreader_init(&check, b->data + b->len - 2 - list->raw.len, 2 + list->raw.len);
		if ((err = list_decode(&check, (enum proto_item_kind)f->arg, &checked)))
			return err;
		return bufreader_expect_end(&check);
	}
	return CC_ERR_INTERNAL;
}

static cc_err spec_encode(struct buf *out, const struct msg_spec *spec, const uint8_t *base)
{
	size_t start = out->len;
	cc_err err;
	for (size_t i = 0; i < spec->count; i++) {
		if ((err = field_encode(out, &spec->fields[i], base))) {
			out->len = start;  /* leave no half-written message behind */
			return err;
		}
	}
	return CC_OK;
}

cc_err proto_item_encode(enum proto_item_kind kind, const void *item, struct buf *raw)
{
	if ((unsigned)kind >= PROTO_ITEM_COUNT_)
		return CC_ERR_BAD_TYPE;
	return spec_encode(raw, &item_specs[kind], item);
}

void proto_list_iter_init(struct proto_list_iter *it, const struct proto_list *list,
			  enum proto_item_kind kind)
{
	bufreader_init(&it->r, list->raw.p, list->raw.len);
	it->kind = kind;
	it->left = list->count;
}

cc_err proto_list_next(struct proto_list_iter *it, void *item)
{
	if (it->left == 0 || (unsigned)it->kind >= PROTO_ITEM_COUNT_)
		return CC_ERR_NOT_FOUND;
	cc_err err = spec_decode(&it->r, &item_specs[it->kind], item);
	if (err)
		return err;
	it->left--;
	return CC_OK;
}

cc_err proto_msg_encode(const struct proto_msg *m, struct buf *out)
{
	const struct msg_spec *spec = &msg_specs[m->type];
	size_t start = out->len;
	cc_err err;

	if (!spec->name)
		return CC_ERR_BAD_TYPE;
	if ((err = buf_put_u8(out, m->type)))
		return err;
	if ((err = spec_encode(out, spec, (const uint8_t *)m)))
		out->len = start;
	return err;
}

uint32_t proto_msg_request_id(const struct proto_msg *m)
{
	switch (m->type) {
	case PROTO_ERROR:
		return m->u.error.request_id;
	case PROTO_SIGNING_KEY:
		return m->u.signing_key.request_id;
	case PROTO_RECEIVE_KEY:
		return m->u.receive_key.request_id;
	case PROTO_KEY_MOVE:
		return m->u.key_move.request_id;
	case PROTO_OK:
	case PROTO_ROOMS_LIST:
		return m->u.request.request_id;
	case PROTO_USERS_GET:
		return m->u.users_get.request_id;
	case PROTO_USERS:
		return m->u.users.request_id;
	case PROTO_ROOM_CREATE:
		return m->u.room_create.request_id;
	case PROTO_ROOMS:
		return m->u.rooms.request_id;
	case PROTO_ROOM_JOIN:
	case PROTO_ROOM_DISCONNECT:
	case PROTO_JOIN_DONE:
	case PROTO_ROOM_FETCH:
	case PROTO_REKEY_OWED:
		return m->u.room_ref.request_id;
	case PROTO_ROOM_ADD:
	case PROTO_ROOM_KICK:
	case PROTO_ROOM_REKEY:
	case PROTO_ROOM_MOVE:
		return m->u.room_rekey.request_id;
	case PROTO_ROOM_STATE:
		return m->u.room_state.request_id;
	case PROTO_PART:
		return m->u.part.request_id;
	case PROTO_MSG_SEND:
		return m->u.msg_send.request_id;
	case PROTO_SENT:
		return m->u.sent.request_id;
	case PROTO_ROOM_LEAVE:
	case PROTO_ROOM_ADMIN:
		return m->u.room_leave.request_id;
	default:
		return 0;
	}
}
