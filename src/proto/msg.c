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
};
static const struct field client_key_fields[] = {
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

static const struct msg_spec msg_specs[256] = {
	[PROTO_CLIENT_HELLO] = SPEC("client_hello", client_hello_fields),
	[PROTO_SERVER_HELLO] = SPEC("server_hello", server_hello_fields),
	[PROTO_CLIENT_KEY] = SPEC("client_key", client_key_fields),
	[PROTO_CLIENT_AUTH] = SPEC("client_auth", client_auth_fields),
	[PROTO_WELCOME] = SPEC("welcome", welcome_fields),
	[PROTO_PING] = SPEC("ping", ping_fields),
	[PROTO_PONG] = SPEC("pong", ping_fields),
	[PROTO_ERROR] = SPEC("error", error_fields),
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
		err = bufreader_get_bytes16(r, f->arg, &view->p, &view->len);
		if (!err && !proto_nick_valid(view->p, view->len))
			err = CC_ERR_BAD_NICK;
		return err;
	}
	return CC_ERR_INTERNAL;
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
	for (size_t i = 0; i < spec->count; i++)
		if ((err = field_decode(&r, &spec->fields[i], (uint8_t *)out)))
			return err;
	return bufreader_expect_end(&r);
}

static cc_err field_encode(struct buf *b, const struct field *f, const uint8_t *base)
{
	const void *src = base + f->offset;
	const struct proto_bytes *view = src;

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
			return CC_ERR_TOO_LARGE;
		if (f->kind == FIELD_STR16 && !proto_utf8_valid(view->p, view->len))
			return CC_ERR_MALFORMED;
		if (f->kind == FIELD_NICK && !proto_nick_valid(view->p, view->len))
			return CC_ERR_BAD_NICK;
		return f->kind == FIELD_BYTES32 ? buf_put_bytes32(b, view->p, view->len)
						: buf_put_bytes16(b, view->p, view->len);
	}
	return CC_ERR_INTERNAL;
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
	for (size_t i = 0; i < spec->count; i++) {
		if ((err = field_encode(out, &spec->fields[i], (const uint8_t *)m))) {
			out->len = start;  /* leave no half-written message behind */
			return err;
		}
	}
	return CC_OK;
}
