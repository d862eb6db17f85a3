/* The frame layer, the message codec and the bounds-checked buffers under
 * them: round trips of every message, every way a decoder must say no, and
 * encoders that refuse without leaving half a message behind. Inputs are
 * copied to exact-size heap blocks so ASan sees any read past the end. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/frame.h"
#include "proto/msg.h"
#include "util/buf.h"

/* Deterministic filler for every variable-length field. */
static uint8_t pattern[PROTO_ENVELOPE_MAX + 64];
/* Printable ASCII, longer than any text cap, NUL-terminated. */
static char long_text[PROTO_ERROR_TEXT_MAX + 2];

static struct proto_bytes pat(size_t off, size_t len)
{
	return (struct proto_bytes){pattern + off, len};
}

/* Explicit lengths: several test strings hold a NUL. */
struct raw {
	const char *s;
	size_t n;
};
#define RAW(lit) {lit, sizeof(lit) - 1}

static struct proto_bytes raw_bytes(const struct raw *r)
{
	return (struct proto_bytes){(const uint8_t *)r->s, r->n};
}

/* A heap copy of exactly n bytes, so any over-read is an ASan error. */
static uint8_t *dup_exact(const uint8_t *p, size_t n)
{
	uint8_t *d = malloc(n ? n : 1);
	assert_non_null(d);
	if (n)
		memcpy(d, p, n);
	return d;
}

/* For verdicts only: the views die with the copy. */
static cc_err decode_exact(const uint8_t *p, size_t n, struct proto_msg *m)
{
	uint8_t *d = dup_exact(p, n);
	cc_err err = proto_msg_decode(d, n, m);
	free(d);
	return err;
}

/* ---- list items: the sources every list sample is built from ---- */

static const struct proto_nick_item nick_items[] = {
	{{(const uint8_t *)"alice", 5}},
	{{(const uint8_t *)"bob", 3}},
	{{(const uint8_t *)"AZaz09_.-abcdefghijklmnopqrstuvw", 32}},
};
static struct proto_blob_item blob_items[3];
static struct proto_user_item user_items[2];
static struct proto_wrapped_item wrapped_items[2];
static struct proto_room_item room_items[2];
static struct proto_gone_item gone_items[2];
static struct proto_chain_item chain_items[3];

static const void *item_at(enum proto_item_kind kind, size_t i)
{
	switch (kind) {
	case PROTO_ITEM_NICK: return &nick_items[i];
	case PROTO_ITEM_BLOB: return &blob_items[i];
	case PROTO_ITEM_USER: return &user_items[i];
	case PROTO_ITEM_WRAPPED: return &wrapped_items[i];
	case PROTO_ITEM_ROOM: return &room_items[i];
	case PROTO_ITEM_GONE: return &gone_items[i];
	case PROTO_ITEM_CHAIN: return &chain_items[i];
	default: return NULL;
	}
}

static size_t item_count(enum proto_item_kind kind)
{
	switch (kind) {
	case PROTO_ITEM_NICK: return sizeof nick_items / sizeof nick_items[0];
	case PROTO_ITEM_BLOB: return sizeof blob_items / sizeof blob_items[0];
	case PROTO_ITEM_USER: return sizeof user_items / sizeof user_items[0];
	case PROTO_ITEM_WRAPPED: return sizeof wrapped_items / sizeof wrapped_items[0];
	case PROTO_ITEM_ROOM: return sizeof room_items / sizeof room_items[0];
	case PROTO_ITEM_GONE: return sizeof gone_items / sizeof gone_items[0];
	case PROTO_ITEM_CHAIN: return sizeof chain_items / sizeof chain_items[0];
	default: return 0;
	}
}

/* One encoded list per kind, built once. */
static struct buf list_raw[PROTO_ITEM_COUNT_];
static struct proto_list lists[PROTO_ITEM_COUNT_];
static const struct proto_list empty_list = {0, {NULL, 0}};

static int group_setup(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof pattern; i++)
		pattern[i] = (uint8_t)(i * 131 + 7);
	for (size_t i = 0; i < sizeof long_text - 1; i++)
		long_text[i] = (char)('a' + i % 26);
	long_text[sizeof long_text - 1] = '\0';

	blob_items[0].data = pat(3, 100);
	blob_items[1].data = pat(0, 0);
	blob_items[2].data = pat(4, PROTO_RECORD_MAX);
	user_items[0] = (struct proto_user_item){proto_bytes_str("alice"), pat(0, 294),
						 0x01020304, {0}, pat(1, 64),
						 0x0a0b0c0d, 0x0102030405060708ull, {0},
						 pat(3, 256)};
	memcpy(user_items[0].sign_pub, pattern + 5, PROTO_SIGN_PUB_LEN);
	memcpy(user_items[0].recv_pub, pattern + 9, PROTO_X25519_LEN);
	/* No signing or receiving key yet: version 0, zeros and an empty
	 * certificate. */
	user_items[1] = (struct proto_user_item){proto_bytes_str("bob"),
						 pat(2, PROTO_RSA_PUB_MAX), 0, {0}, pat(0, 0),
						 0, 0, {0}, pat(0, 0)};
	wrapped_items[0] = (struct proto_wrapped_item){proto_bytes_str("alice"), 0, pat(5, 256)};
	wrapped_items[1] = (struct proto_wrapped_item){proto_bytes_str("carol"), UINT32_MAX,
						       pat(6, PROTO_WRAPPED_MAX)};
	room_items[0] = (struct proto_room_item){{0}, proto_bytes_str("alice"), 3, 2, 10, 4};
	memcpy(room_items[0].room_id, pattern + 7, PROTO_ROOM_ID_LEN);
	room_items[1] = (struct proto_room_item){{0}, proto_bytes_str("b"), UINT32_MAX,
						 UINT32_MAX, 0, UINT32_MAX};
	gone_items[0] = (struct proto_gone_item){{0}, proto_bytes_str("carol")};
	memcpy(gone_items[0].fingerprint, pattern + 10, PROTO_FINGERPRINT_LEN);
	gone_items[1].nick = proto_bytes_str("AZaz09_.-abcdefghijklmnopqrstuvw");
	memset(gone_items[1].fingerprint, 0xff, PROTO_FINGERPRINT_LEN);
	/* Positions: none yet, an ordinary one, the largest. */
	chain_items[0] = (struct proto_chain_item){0, pat(11, 300)};
	chain_items[1] = (struct proto_chain_item){0x0102030405060708ull, pat(0, 1)};
	chain_items[2] = (struct proto_chain_item){UINT64_MAX, pat(12, PROTO_RECORD_MAX)};
	for (int k = 0; k < PROTO_ITEM_COUNT_; k++) {
		buf_init(&list_raw[k], 0);
		for (size_t i = 0; i < item_count(k); i++)
			if (proto_item_encode(k, item_at(k, i), &list_raw[k]) != CC_OK)
				return -1;
		lists[k].count = (uint16_t)item_count(k);
		lists[k].raw = (struct proto_bytes){list_raw[k].data, list_raw[k].len};
	}
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	for (int k = 0; k < PROTO_ITEM_COUNT_; k++)
		buf_free(&list_raw[k]);
	return 0;
}

/* ---- sample messages: every type, fields at their minimum and maximum ---- */

enum { SAMPLE_COUNT = 53 };

static void room_id_set(uint8_t id[PROTO_ROOM_ID_LEN], size_t off)
{
	memcpy(id, pattern + off, PROTO_ROOM_ID_LEN);
}

static void sample_make(size_t i, struct proto_msg *m)
{
	memset(m, 0, sizeof *m);
	switch (i) {
	case 0:
		m->type = PROTO_CLIENT_HELLO;
		m->u.client_hello.version = PROTO_VERSION;
		memcpy(m->u.client_hello.eph, pattern, PROTO_X25519_LEN);
		memcpy(m->u.client_hello.random, pattern + 40, PROTO_RANDOM_LEN);
		break;
	case 1:
		/* The codec carries any version; refusing it is the channel's job. */
		m->type = PROTO_CLIENT_HELLO;
		m->u.client_hello.version = 0xffff;
		break;
	case 2:
		m->type = PROTO_SERVER_HELLO;
		m->u.server_hello.version = PROTO_VERSION;
		memcpy(m->u.server_hello.eph, pattern + 1, PROTO_X25519_LEN);
		memcpy(m->u.server_hello.random, pattern + 2, PROTO_RANDOM_LEN);
		m->u.server_hello.server_key = pat(3, 294);
		m->u.server_hello.puzzle_bits = 20;
		break;
	case 3:
		m->type = PROTO_SERVER_HELLO;
		m->u.server_hello.server_key = pat(0, 0);
		break;
	case 4:
		m->type = PROTO_CLIENT_KEY;
		m->u.client_key.puzzle_nonce = 0x0102030405060708u;
		m->u.client_key.session_ct = pat(0, 256);
		m->u.client_key.sealed_auth = pat(9, 700);
		break;
	case 5:
		m->type = PROTO_CLIENT_KEY;
		m->u.client_key.session_ct = pat(1, PROTO_RSA_BYTES_MAX);
		m->u.client_key.sealed_auth = pat(0, PROTO_SEALED_AUTH_MAX);
		break;
	case 6:
		m->type = PROTO_CLIENT_AUTH;
		m->u.client_auth.identity_key = pat(11, 294);
		m->u.client_auth.nick = proto_bytes_str("alice");
		m->u.client_auth.signature = pat(12, 256);
		break;
	case 7:
		m->type = PROTO_CLIENT_AUTH;
		m->u.client_auth.identity_key = pat(0, PROTO_RSA_PUB_MAX);
		m->u.client_auth.nick = proto_bytes_str("x");
		m->u.client_auth.signature = pat(0, PROTO_RSA_BYTES_MAX);
		break;
	case 8:
		m->type = PROTO_WELCOME;
		m->u.welcome.nick = proto_bytes_str("Bob");
		memcpy(m->u.welcome.fingerprint, pattern + 13, PROTO_FINGERPRINT_LEN);
		m->u.welcome.server_time_ms = 1700000000123ull;
		m->u.welcome.max_frame = PROTO_FRAME_MAX_DEFAULT;
		break;
	case 9:
		/* 32 characters: every class of the nickname alphabet. */
		m->type = PROTO_WELCOME;
		m->u.welcome.nick = proto_bytes_str("AZaz09_.-abcdefghijklmnopqrstuvw");
		m->u.welcome.server_time_ms = UINT64_MAX;
		m->u.welcome.max_frame = UINT32_MAX;
		break;
	case 10:
		m->type = PROTO_PING;
		m->u.ping.token = 0x0102030405060708ull;
		break;
	case 11:
		m->type = PROTO_PONG;
		m->u.ping.token = UINT64_MAX;
		break;
	case 12:
		m->type = PROTO_ERROR;
		m->u.error.code = CC_ERR_STATE;
		m->u.error.text = proto_bytes_str("");
		break;
	case 13:
		m->type = PROTO_ERROR;
		m->u.error.request_id = 0xdeadbeef;
		m->u.error.code = 0xffff;
		/* 1-, 2-, 3- and 4-byte sequences. */
		m->u.error.text = proto_bytes_str("na\xc3\xafve \xe2\x82\xac \xf0\x9d\x84\x9e");
		break;
	case 14:
		m->type = PROTO_ERROR;
		m->u.error.request_id = 1;
		m->u.error.code = CC_ERR_TOO_LARGE;
		m->u.error.text = (struct proto_bytes){(const uint8_t *)long_text,
						       PROTO_ERROR_TEXT_MAX};
		break;
	case 15:
		m->type = PROTO_SIGNING_KEY;
		m->u.signing_key.request_id = 5;
		m->u.signing_key.version = 1;
		memcpy(m->u.signing_key.sign_pub, pattern + 14, PROTO_SIGN_PUB_LEN);
		m->u.signing_key.sign_cert = pat(15, 256);
		break;
	case 16:
		m->type = PROTO_SIGNING_KEY;
		m->u.signing_key.version = UINT32_MAX;
		m->u.signing_key.sign_cert = pat(0, PROTO_SIGN_CERT_MAX);
		break;
	case 17:
		m->type = PROTO_OK;
		m->u.request.request_id = 0x01020304;
		break;
	case 18:
		m->type = PROTO_USERS_GET;
		m->u.users_get.request_id = 6;
		m->u.users_get.nicks = lists[PROTO_ITEM_NICK];
		break;
	case 19:
		m->type = PROTO_USERS_GET;
		m->u.users_get.nicks = empty_list;
		break;
	case 20:
		m->type = PROTO_USERS;
		m->u.users.request_id = 6;
		m->u.users.users = lists[PROTO_ITEM_USER];
		break;
	case 21:
		m->type = PROTO_ROOM_CREATE;
		m->u.room_create.request_id = 7;
		room_id_set(m->u.room_create.room_id, 16);
		m->u.room_create.title_ct = pat(17, 60);
		m->u.room_create.records = lists[PROTO_ITEM_BLOB];
		m->u.room_create.keys = lists[PROTO_ITEM_WRAPPED];
		break;
	case 22:
		m->type = PROTO_ROOM_CREATE;
		m->u.room_create.title_ct = pat(0, PROTO_TITLE_CT_MAX);
		m->u.room_create.records = empty_list;
		m->u.room_create.keys = empty_list;
		break;
	case 23:
		m->type = PROTO_ROOMS_LIST;
		m->u.request.request_id = UINT32_MAX;
		break;
	case 24:
		m->type = PROTO_ROOMS;
		m->u.rooms.request_id = 8;
		m->u.rooms.rooms = lists[PROTO_ITEM_ROOM];
		break;
	case 25:
		m->type = PROTO_ROOM_JOIN;
		m->u.room_ref.request_id = 9;
		room_id_set(m->u.room_ref.room_id, 18);
		break;
	case 26:
		m->type = PROTO_ROOM_STATE;
		m->u.room_state.request_id = 10;
		room_id_set(m->u.room_state.room_id, 19);
		m->u.room_state.title_ct = pat(20, 33);
		m->u.room_state.records = lists[PROTO_ITEM_CHAIN];
		m->u.room_state.users = lists[PROTO_ITEM_USER];
		m->u.room_state.keys = lists[PROTO_ITEM_WRAPPED];
		m->u.room_state.gone = lists[PROTO_ITEM_GONE];
		m->u.room_state.backlog = 250;
		break;
	case 27:
		m->type = PROTO_ROOM_STATE;
		m->u.room_state.records = empty_list;
		m->u.room_state.users = empty_list;
		m->u.room_state.keys = empty_list;
		m->u.room_state.gone = empty_list;
		m->u.room_state.backlog = UINT32_MAX;
		break;
	case 28:
		m->type = PROTO_ROOM_MSG;
		room_id_set(m->u.room_msg.room_id, 21);
		m->u.room_msg.msg_id = 1;
		m->u.room_msg.server_ts_ms = 1700000000000ull;
		m->u.room_msg.envelope = pat(22, 300);
		break;
	case 29:
		m->type = PROTO_ROOM_MSG;
		m->u.room_msg.msg_id = UINT64_MAX;
		m->u.room_msg.envelope = pat(0, PROTO_ENVELOPE_MAX);
		break;
	case 30:
		m->type = PROTO_MSG_SEND;
		m->u.msg_send.request_id = 11;
		m->u.msg_send.envelope = pat(23, 1000);
		break;
	case 31:
		m->type = PROTO_SENT;
		m->u.sent.request_id = 11;
		room_id_set(m->u.sent.room_id, 24);
		m->u.sent.msg_id = 42;
		m->u.sent.server_ts_ms = 1700000000001ull;
		break;
	case 32:
		/* ADD has KICK's and REKEY's layout: it opens an epoch too. */
		m->type = PROTO_ROOM_ADD;
		m->u.room_rekey.request_id = 12;
		room_id_set(m->u.room_rekey.room_id, 25);
		m->u.room_rekey.records = lists[PROTO_ITEM_BLOB];
		m->u.room_rekey.title_ct = pat(26, 44);
		m->u.room_rekey.keys = lists[PROTO_ITEM_WRAPPED];
		break;
	case 33:
		m->type = PROTO_ROOM_RECORD;
		room_id_set(m->u.room_record.room_id, 28);
		m->u.room_record.position = UINT64_MAX;
		m->u.room_record.record = pat(0, PROTO_RECORD_MAX);
		m->u.room_record.users = empty_list;
		m->u.room_record.keys = empty_list;
		break;
	case 34:
		m->type = PROTO_ROOM_DISCONNECT;
		m->u.room_ref.request_id = 13;
		room_id_set(m->u.room_ref.room_id, 29);
		break;
	case 35:
		m->type = PROTO_ROOM_LEAVE;
		m->u.room_leave.request_id = 14;
		room_id_set(m->u.room_leave.room_id, 30);
		m->u.room_leave.record = pat(31, 500);
		break;
	case 36:
		m->type = PROTO_JOIN_DONE;
		m->u.room_ref.request_id = 15;
		room_id_set(m->u.room_ref.room_id, 32);
		break;
	case 37:
		m->type = PROTO_MSG_SEND;
		m->u.msg_send.envelope = pat(0, 0);
		break;
	case 38:
		m->type = PROTO_ROOM_RECORD;
		room_id_set(m->u.room_record.room_id, 33);
		m->u.room_record.position = 0x1112131415161718ull;
		m->u.room_record.record = pat(34, 300);
		m->u.room_record.users = lists[PROTO_ITEM_USER];
		m->u.room_record.keys = lists[PROTO_ITEM_WRAPPED];
		break;
	case 39:
		m->type = PROTO_ROOM_KICK;
		m->u.room_rekey.request_id = 16;
		room_id_set(m->u.room_rekey.room_id, 35);
		m->u.room_rekey.records = lists[PROTO_ITEM_BLOB];
		m->u.room_rekey.title_ct = pat(36, 48);
		m->u.room_rekey.keys = lists[PROTO_ITEM_WRAPPED];
		break;
	case 40:
		m->type = PROTO_ROOM_REKEY;
		m->u.room_rekey.request_id = 17;
		m->u.room_rekey.records = empty_list;
		m->u.room_rekey.title_ct = pat(0, PROTO_TITLE_CT_MAX);
		m->u.room_rekey.keys = empty_list;
		break;
	case 41:
		m->type = PROTO_ROOM_ADMIN;
		m->u.room_leave.request_id = 18;
		room_id_set(m->u.room_leave.room_id, 37);
		m->u.room_leave.record = pat(38, 350);
		break;
	case 42:
		m->type = PROTO_ROOM_FETCH;
		m->u.room_ref.request_id = 19;
		room_id_set(m->u.room_ref.room_id, 39);
		break;
	case 43:
		m->type = PROTO_REKEY_OWED;
		room_id_set(m->u.room_ref.room_id, 40);
		break;
	case 44:
		m->type = PROTO_ROOM_REKEY;
		m->u.room_rekey.request_id = UINT32_MAX;
		m->u.room_rekey.records = lists[PROTO_ITEM_BLOB];
		m->u.room_rekey.keys = lists[PROTO_ITEM_WRAPPED];
		break;
	case 45:
		m->type = PROTO_ROOM_READ;
		room_id_set(m->u.room_read.room_id, 41);
		m->u.room_read.msg_id = UINT64_MAX;
		break;
	case 46:
		m->type = PROTO_ROOM_ADD;
		m->u.room_rekey.request_id = UINT32_MAX;
		m->u.room_rekey.records = empty_list;
		m->u.room_rekey.title_ct = pat(0, PROTO_TITLE_CT_MAX);
		m->u.room_rekey.keys = empty_list;
		break;
	case 47:
		/* A whole chain with nobody gone. */
		m->type = PROTO_ROOM_STATE;
		m->u.room_state.request_id = 20;
		room_id_set(m->u.room_state.room_id, 42);
		m->u.room_state.title_ct = pat(0, PROTO_TITLE_CT_MAX);
		m->u.room_state.records = lists[PROTO_ITEM_CHAIN];
		m->u.room_state.users = empty_list;
		m->u.room_state.keys = empty_list;
		m->u.room_state.gone = empty_list;
		break;
	case 48:
		m->type = PROTO_RECEIVE_KEY;
		m->u.receive_key.request_id = 21;
		m->u.receive_key.version = UINT32_MAX;
		m->u.receive_key.created_ms = UINT64_MAX;
		memcpy(m->u.receive_key.recv_pub, pattern + 3, PROTO_X25519_LEN);
		m->u.receive_key.recv_cert = pat(2, PROTO_SIGN_CERT_MAX);
		break;
	case 49:
		m->type = PROTO_KEYS_ACK;
		room_id_set(m->u.keys_ack.room_id, 43);
		m->u.keys_ack.epoch = UINT32_MAX;
		break;
	case 50:
		m->type = PROTO_KEY_MOVE;
		m->u.key_move.request_id = 22;
		m->u.key_move.new_key = pat(5, PROTO_RSA_PUB_MAX);
		m->u.key_move.time_ms = UINT64_MAX;
		m->u.key_move.old_sig = pat(6, PROTO_RSA_BYTES_MAX);
		m->u.key_move.new_sig = pat(7, 1);
		break;
	case 51:
		m->type = PROTO_ROOM_MOVE;
		m->u.room_rekey.request_id = 23;
		room_id_set(m->u.room_rekey.room_id, 44);
		m->u.room_rekey.records = lists[PROTO_ITEM_BLOB];
		m->u.room_rekey.title_ct = pat(8, 40);
		m->u.room_rekey.keys = lists[PROTO_ITEM_WRAPPED];
		break;
	case 52:
		m->type = PROTO_PART;
		m->u.part.request_id = 24;
		m->u.part.records = lists[PROTO_ITEM_CHAIN];
		m->u.part.users = lists[PROTO_ITEM_USER];
		break;
	default:
		fail_msg("no sample %zu", i);
	}
}

static void encode_ok(const struct proto_msg *m, struct buf *out)
{
	buf_init(out, 0);
	cc_err err = proto_msg_encode(m, out);
	if (err != CC_OK)
		fail_msg("encode %s: %s", proto_type_name(m->type), cc_err_code(err));
	assert_true(out->len >= 1);
	assert_int_equal(out->data[0], m->type);
}

static void assert_view_equal(struct proto_bytes a, struct proto_bytes b)
{
	assert_int_equal(a.len, b.len);
	if (a.len)
		assert_memory_equal(a.p, b.p, a.len);
}

static void assert_list_equal(struct proto_list a, struct proto_list b)
{
	assert_int_equal(a.count, b.count);
	assert_view_equal(a.raw, b.raw);
}

#define ID_EQ(x, y) assert_memory_equal((x), (y), PROTO_ROOM_ID_LEN)

/* Field by field, so a table entry pointing at the wrong member shows. */
static void assert_msg_equal(const struct proto_msg *a, const struct proto_msg *b)
{
	assert_int_equal(a->type, b->type);
	switch (a->type) {
	case PROTO_CLIENT_HELLO:
		assert_int_equal(a->u.client_hello.version, b->u.client_hello.version);
		assert_memory_equal(a->u.client_hello.eph, b->u.client_hello.eph, PROTO_X25519_LEN);
		assert_memory_equal(a->u.client_hello.random, b->u.client_hello.random,
				    PROTO_RANDOM_LEN);
		break;
	case PROTO_SERVER_HELLO:
		assert_int_equal(a->u.server_hello.version, b->u.server_hello.version);
		assert_memory_equal(a->u.server_hello.eph, b->u.server_hello.eph, PROTO_X25519_LEN);
		assert_memory_equal(a->u.server_hello.random, b->u.server_hello.random,
				    PROTO_RANDOM_LEN);
		assert_view_equal(a->u.server_hello.server_key, b->u.server_hello.server_key);
		assert_int_equal(a->u.server_hello.puzzle_bits, b->u.server_hello.puzzle_bits);
		break;
	case PROTO_CLIENT_KEY:
		assert_int_equal(a->u.client_key.puzzle_nonce, b->u.client_key.puzzle_nonce);
		assert_view_equal(a->u.client_key.session_ct, b->u.client_key.session_ct);
		assert_view_equal(a->u.client_key.sealed_auth, b->u.client_key.sealed_auth);
		break;
	case PROTO_CLIENT_AUTH:
		assert_view_equal(a->u.client_auth.identity_key, b->u.client_auth.identity_key);
		assert_view_equal(a->u.client_auth.nick, b->u.client_auth.nick);
		assert_view_equal(a->u.client_auth.signature, b->u.client_auth.signature);
		break;
	case PROTO_WELCOME:
		assert_view_equal(a->u.welcome.nick, b->u.welcome.nick);
		assert_memory_equal(a->u.welcome.fingerprint, b->u.welcome.fingerprint,
				    PROTO_FINGERPRINT_LEN);
		assert_true(a->u.welcome.server_time_ms == b->u.welcome.server_time_ms);
		assert_int_equal(a->u.welcome.max_frame, b->u.welcome.max_frame);
		break;
	case PROTO_PING:
	case PROTO_PONG:
		assert_true(a->u.ping.token == b->u.ping.token);
		break;
	case PROTO_ERROR:
		assert_int_equal(a->u.error.request_id, b->u.error.request_id);
		assert_int_equal(a->u.error.code, b->u.error.code);
		assert_view_equal(a->u.error.text, b->u.error.text);
		break;
	case PROTO_SIGNING_KEY:
		assert_int_equal(a->u.signing_key.request_id, b->u.signing_key.request_id);
		assert_int_equal(a->u.signing_key.version, b->u.signing_key.version);
		assert_memory_equal(a->u.signing_key.sign_pub, b->u.signing_key.sign_pub,
				    PROTO_SIGN_PUB_LEN);
		assert_view_equal(a->u.signing_key.sign_cert, b->u.signing_key.sign_cert);
		break;
	case PROTO_OK:
	case PROTO_ROOMS_LIST:
		assert_int_equal(a->u.request.request_id, b->u.request.request_id);
		break;
	case PROTO_USERS_GET:
		assert_int_equal(a->u.users_get.request_id, b->u.users_get.request_id);
		assert_list_equal(a->u.users_get.nicks, b->u.users_get.nicks);
		break;
	case PROTO_USERS:
		assert_int_equal(a->u.users.request_id, b->u.users.request_id);
		assert_list_equal(a->u.users.users, b->u.users.users);
		break;
	case PROTO_ROOM_CREATE:
		assert_int_equal(a->u.room_create.request_id, b->u.room_create.request_id);
		ID_EQ(a->u.room_create.room_id, b->u.room_create.room_id);
		assert_view_equal(a->u.room_create.title_ct, b->u.room_create.title_ct);
		assert_list_equal(a->u.room_create.records, b->u.room_create.records);
		assert_list_equal(a->u.room_create.keys, b->u.room_create.keys);
		break;
	case PROTO_ROOMS:
		assert_int_equal(a->u.rooms.request_id, b->u.rooms.request_id);
		assert_list_equal(a->u.rooms.rooms, b->u.rooms.rooms);
		break;
	case PROTO_ROOM_JOIN:
	case PROTO_ROOM_DISCONNECT:
	case PROTO_JOIN_DONE:
	case PROTO_ROOM_FETCH:
	case PROTO_REKEY_OWED:
		assert_int_equal(a->u.room_ref.request_id, b->u.room_ref.request_id);
		ID_EQ(a->u.room_ref.room_id, b->u.room_ref.room_id);
		break;
	case PROTO_ROOM_READ:
		ID_EQ(a->u.room_read.room_id, b->u.room_read.room_id);
		assert_int_equal(a->u.room_read.msg_id, b->u.room_read.msg_id);
		break;
	case PROTO_RECEIVE_KEY:
		assert_int_equal(a->u.receive_key.request_id, b->u.receive_key.request_id);
		assert_int_equal(a->u.receive_key.version, b->u.receive_key.version);
		assert_true(a->u.receive_key.created_ms == b->u.receive_key.created_ms);
		assert_memory_equal(a->u.receive_key.recv_pub, b->u.receive_key.recv_pub,
				    PROTO_X25519_LEN);
		assert_view_equal(a->u.receive_key.recv_cert, b->u.receive_key.recv_cert);
		break;
	case PROTO_KEYS_ACK:
		ID_EQ(a->u.keys_ack.room_id, b->u.keys_ack.room_id);
		assert_int_equal(a->u.keys_ack.epoch, b->u.keys_ack.epoch);
		break;
	case PROTO_KEY_MOVE:
		assert_int_equal(a->u.key_move.request_id, b->u.key_move.request_id);
		assert_view_equal(a->u.key_move.new_key, b->u.key_move.new_key);
		assert_true(a->u.key_move.time_ms == b->u.key_move.time_ms);
		assert_view_equal(a->u.key_move.old_sig, b->u.key_move.old_sig);
		assert_view_equal(a->u.key_move.new_sig, b->u.key_move.new_sig);
		break;
	case PROTO_ROOM_STATE:
		assert_int_equal(a->u.room_state.request_id, b->u.room_state.request_id);
		ID_EQ(a->u.room_state.room_id, b->u.room_state.room_id);
		assert_view_equal(a->u.room_state.title_ct, b->u.room_state.title_ct);
		assert_list_equal(a->u.room_state.records, b->u.room_state.records);
		assert_list_equal(a->u.room_state.users, b->u.room_state.users);
		assert_list_equal(a->u.room_state.keys, b->u.room_state.keys);
		assert_list_equal(a->u.room_state.gone, b->u.room_state.gone);
		assert_int_equal(a->u.room_state.backlog, b->u.room_state.backlog);
		break;
	case PROTO_ROOM_MSG:
		ID_EQ(a->u.room_msg.room_id, b->u.room_msg.room_id);
		assert_true(a->u.room_msg.msg_id == b->u.room_msg.msg_id);
		assert_true(a->u.room_msg.server_ts_ms == b->u.room_msg.server_ts_ms);
		assert_view_equal(a->u.room_msg.envelope, b->u.room_msg.envelope);
		break;
	case PROTO_MSG_SEND:
		assert_int_equal(a->u.msg_send.request_id, b->u.msg_send.request_id);
		assert_view_equal(a->u.msg_send.envelope, b->u.msg_send.envelope);
		break;
	case PROTO_SENT:
		assert_int_equal(a->u.sent.request_id, b->u.sent.request_id);
		ID_EQ(a->u.sent.room_id, b->u.sent.room_id);
		assert_true(a->u.sent.msg_id == b->u.sent.msg_id);
		assert_true(a->u.sent.server_ts_ms == b->u.sent.server_ts_ms);
		break;
	case PROTO_ROOM_RECORD:
		ID_EQ(a->u.room_record.room_id, b->u.room_record.room_id);
		assert_true(a->u.room_record.position == b->u.room_record.position);
		assert_view_equal(a->u.room_record.record, b->u.room_record.record);
		assert_list_equal(a->u.room_record.users, b->u.room_record.users);
		assert_list_equal(a->u.room_record.keys, b->u.room_record.keys);
		break;
	case PROTO_ROOM_ADD:
	case PROTO_ROOM_KICK:
	case PROTO_ROOM_REKEY:
	case PROTO_ROOM_MOVE:
		assert_int_equal(a->u.room_rekey.request_id, b->u.room_rekey.request_id);
		ID_EQ(a->u.room_rekey.room_id, b->u.room_rekey.room_id);
		assert_list_equal(a->u.room_rekey.records, b->u.room_rekey.records);
		assert_view_equal(a->u.room_rekey.title_ct, b->u.room_rekey.title_ct);
		assert_list_equal(a->u.room_rekey.keys, b->u.room_rekey.keys);
		break;
	case PROTO_PART:
		assert_int_equal(a->u.part.request_id, b->u.part.request_id);
		assert_list_equal(a->u.part.records, b->u.part.records);
		assert_list_equal(a->u.part.users, b->u.part.users);
		break;
	case PROTO_ROOM_LEAVE:
	case PROTO_ROOM_ADMIN:
		assert_int_equal(a->u.room_leave.request_id, b->u.room_leave.request_id);
		ID_EQ(a->u.room_leave.room_id, b->u.room_leave.room_id);
		assert_view_equal(a->u.room_leave.record, b->u.room_leave.record);
		break;
	default:
		fail_msg("type 0x%02x has no comparison: add one", a->type);
	}
}

/* The codec's own table says which types exist. */
static int type_known(unsigned t)
{
	return proto_type_name((uint8_t)t) != NULL;
}

/* ---- message codec ---- */

static void test_msg_roundtrip(void **state)
{
	(void)state;
	unsigned seen[256] = {0};
	for (size_t i = 0; i < SAMPLE_COUNT; i++) {
		struct proto_msg m, d;
		struct buf enc, again;
		sample_make(i, &m);
		encode_ok(&m, &enc);
		/* Views point into the input: keep the copy until done. */
		uint8_t *copy = dup_exact(enc.data, enc.len);
		assert_int_equal(proto_msg_decode(copy, enc.len, &d), CC_OK);
		assert_msg_equal(&m, &d);
		/* Canonical: decoding then encoding gives the same bytes. */
		encode_ok(&d, &again);
		assert_int_equal(again.len, enc.len);
		assert_memory_equal(again.data, enc.data, enc.len);
		free(copy);
		buf_free(&again);
		buf_free(&enc);
		seen[m.type]++;
	}
	/* A new message type needs a sample here. */
	for (unsigned t = 0; t < 256; t++)
		if (type_known(t) && !seen[t])
			fail_msg("no round-trip sample for type 0x%02x (%s)", t,
				 proto_type_name((uint8_t)t));
}

/* Known answers: the wire layout is part of the protocol. */
static void test_msg_layout(void **state)
{
	(void)state;
	struct proto_msg m = {.type = PROTO_PING};
	struct buf out;
	static const uint8_t ping[] = {0x06, 1, 2, 3, 4, 5, 6, 7, 8};
	m.u.ping.token = 0x0102030405060708ull;
	encode_ok(&m, &out);
	assert_int_equal(out.len, sizeof ping);
	assert_memory_equal(out.data, ping, sizeof ping);
	buf_free(&out);

	static const uint8_t error[] = {0x7f, 0, 0, 1, 2, 0, 16, 0, 3, 'b', 'a', 'd'};
	memset(&m, 0, sizeof m);
	m.type = PROTO_ERROR;
	m.u.error.request_id = 0x102;
	m.u.error.code = CC_ERR_STATE;
	m.u.error.text = proto_bytes_str("bad");
	encode_ok(&m, &out);
	assert_int_equal(out.len, sizeof error);
	assert_memory_equal(out.data, error, sizeof error);
	buf_free(&out);

	/* A list: u16 count, then the items back to back. */
	static const uint8_t users_get[] = {0x12, 0, 0, 0, 9, 0, 2, 0, 1, 'a', 0, 2, 'b', 'c'};
	struct buf raw;
	buf_init(&raw, 0);
	struct proto_nick_item a = {proto_bytes_str("a")}, bc = {proto_bytes_str("bc")};
	assert_int_equal(proto_item_encode(PROTO_ITEM_NICK, &a, &raw), CC_OK);
	assert_int_equal(proto_item_encode(PROTO_ITEM_NICK, &bc, &raw), CC_OK);
	memset(&m, 0, sizeof m);
	m.type = PROTO_USERS_GET;
	m.u.users_get.request_id = 9;
	m.u.users_get.nicks = (struct proto_list){2, {raw.data, raw.len}};
	encode_ok(&m, &out);
	assert_int_equal(out.len, sizeof users_get);
	assert_memory_equal(out.data, users_get, sizeof users_get);
	buf_free(&out);
	buf_free(&raw);

	/* client_hello: type, u16 version, eph, random = 67 bytes. */
	sample_make(0, &m);
	encode_ok(&m, &out);
	assert_int_equal(out.len, 1 + 2 + PROTO_X25519_LEN + PROTO_RANDOM_LEN);
	assert_int_equal(PROTO_VERSION, 5);
	assert_int_equal(load_be16(out.data + 1), PROTO_VERSION);
	assert_memory_equal(out.data + 3, pattern, PROTO_X25519_LEN);
	buf_free(&out);

	/* server_hello (protocol 4): the puzzle's bits last, after the key. */
	sample_make(2, &m);
	encode_ok(&m, &out);
	assert_int_equal(out.len, 1 + 2 + PROTO_X25519_LEN + PROTO_RANDOM_LEN + 2 + 294 + 1);
	assert_int_equal(out.data[out.len - 1], 20);
	buf_free(&out);

	/* client_key (protocol 4): the puzzle's u64 nonce first. */
	sample_make(4, &m);
	encode_ok(&m, &out);
	assert_int_equal(out.len, 1 + 8 + 2 + 256 + 2 + 700);
	assert_int_equal(load_be64(out.data + 1), 0x0102030405060708u);
	assert_int_equal(load_be16(out.data + 9), 256);
	buf_free(&out);

	/* signing_key: type, request_id, the certificate's u32 version, the
	 * key, the certificate. */
	memset(&m, 0, sizeof m);
	m.type = PROTO_SIGNING_KEY;
	m.u.signing_key.request_id = 0x01020304;
	m.u.signing_key.version = 0x0a0b0c0d;
	memset(m.u.signing_key.sign_pub, 0x5e, PROTO_SIGN_PUB_LEN);
	m.u.signing_key.sign_cert = proto_bytes_str("cert");
	encode_ok(&m, &out);
	assert_int_equal(out.len, 1 + 4 + 4 + PROTO_SIGN_PUB_LEN + 2 + 4);
	assert_int_equal(load_be32(out.data + 1), 0x01020304);
	assert_int_equal(load_be32(out.data + 5), 0x0a0b0c0d);
	assert_int_equal(out.data[9], 0x5e);
	assert_int_equal(out.data[9 + PROTO_SIGN_PUB_LEN - 1], 0x5e);
	assert_int_equal(load_be16(out.data + 9 + PROTO_SIGN_PUB_LEN), 4);
	assert_memory_equal(out.data + 11 + PROTO_SIGN_PUB_LEN, "cert", 4);
	buf_free(&out);

	/* room_record: type, room id, u64 position, the record, two lists. */
	static const uint8_t room_record[] = {
		0x1d, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
		0, 0, 0, 0, 0, 0, 0x01, 0x02, 0, 3, 'r', 'e', 'c', 0, 0, 0, 0};
	memset(&m, 0, sizeof m);
	m.type = PROTO_ROOM_RECORD;
	for (size_t i = 0; i < PROTO_ROOM_ID_LEN; i++)
		m.u.room_record.room_id[i] = (uint8_t)(i + 1);
	m.u.room_record.position = 0x0102;
	m.u.room_record.record = proto_bytes_str("rec");
	m.u.room_record.users = empty_list;
	m.u.room_record.keys = empty_list;
	encode_ok(&m, &out);
	assert_int_equal(out.len, sizeof room_record);
	assert_memory_equal(out.data, room_record, sizeof room_record);
	buf_free(&out);

	/* The items of protocol 3. A user: nick, identity key, u32 signing key
	 * version, signing key, certificate, u32 receiving key version, u64
	 * its time, receiving key, certificate. */
	struct proto_user_item user = {proto_bytes_str("u"), proto_bytes_str("K"), 0x01000002,
				       {0}, proto_bytes_str("C"), 0x03000004,
				       0x0500000000000006ull, {0}, proto_bytes_str("R")};
	memset(user.sign_pub, 0x77, PROTO_SIGN_PUB_LEN);
	memset(user.recv_pub, 0x88, PROTO_X25519_LEN);
	buf_init(&raw, 0);
	assert_int_equal(proto_item_encode(PROTO_ITEM_USER, &user, &raw), CC_OK);
	assert_int_equal(raw.len, 3 + 3 + 4 + PROTO_SIGN_PUB_LEN + 3 + 4 + 8 + PROTO_X25519_LEN + 3);
	assert_memory_equal(raw.data, "\0\1u\0\1K\1\0\0\2", 10);
	assert_int_equal(raw.data[10], 0x77);
	size_t at = 10 + PROTO_SIGN_PUB_LEN;
	assert_memory_equal(raw.data + at, "\0\1C\3\0\0\4\5\0\0\0\0\0\0\6", 15);
	assert_int_equal(raw.data[at + 15], 0x88);
	assert_memory_equal(raw.data + at + 15 + PROTO_X25519_LEN, "\0\1R", 3);
	buf_free(&raw);
	/* A room: id, admin, epoch, members, unread, pending keys (no title, no
	 * key). */
	struct proto_room_item room = {{0}, proto_bytes_str("ad"), 5, 6, 7, 8};
	memset(room.room_id, 0xee, PROTO_ROOM_ID_LEN);
	buf_init(&raw, 0);
	assert_int_equal(proto_item_encode(PROTO_ITEM_ROOM, &room, &raw), CC_OK);
	assert_int_equal(raw.len, PROTO_ROOM_ID_LEN + 4 + 16);
	assert_memory_equal(raw.data + PROTO_ROOM_ID_LEN,
			    "\0\2ad\0\0\0\5\0\0\0\6\0\0\0\7\0\0\0\x08", 20);
	buf_free(&raw);
	/* A gone member: fingerprint, then nickname. */
	struct proto_gone_item gone = {{0}, proto_bytes_str("zed")};
	memset(gone.fingerprint, 0xf0, PROTO_FINGERPRINT_LEN);
	buf_init(&raw, 0);
	assert_int_equal(proto_item_encode(PROTO_ITEM_GONE, &gone, &raw), CC_OK);
	assert_int_equal(raw.len, PROTO_FINGERPRINT_LEN + 5);
	assert_int_equal(raw.data[0], 0xf0);
	assert_int_equal(raw.data[PROTO_FINGERPRINT_LEN - 1], 0xf0);
	assert_memory_equal(raw.data + PROTO_FINGERPRINT_LEN, "\0\3zed", 5);
	buf_free(&raw);
	/* A chain item: u64 position, then the record. */
	static const uint8_t chain[] = {0, 0, 0, 0, 0, 0, 0x30, 0x39, 0, 2, 0xab, 0xcd};
	static const uint8_t rec2[] = {0xab, 0xcd};
	struct proto_chain_item link = {12345, {rec2, sizeof rec2}};
	buf_init(&raw, 0);
	assert_int_equal(proto_item_encode(PROTO_ITEM_CHAIN, &link, &raw), CC_OK);
	assert_int_equal(raw.len, sizeof chain);
	assert_memory_equal(raw.data, chain, sizeof chain);
	buf_free(&raw);
}

static void test_msg_type_names(void **state)
{
	(void)state;
	static const struct {
		uint8_t type;
		const char *name;
	} names[] = {
		{PROTO_CLIENT_HELLO, "client_hello"}, {PROTO_SERVER_HELLO, "server_hello"},
		{PROTO_CLIENT_KEY, "client_key"}, {PROTO_CLIENT_AUTH, "client_auth"},
		{PROTO_WELCOME, "welcome"}, {PROTO_PING, "ping"}, {PROTO_PONG, "pong"},
		{PROTO_ERROR, "error"}, {PROTO_SIGNING_KEY, "signing_key"}, {PROTO_OK, "ok"},
		{PROTO_USERS_GET, "users_get"}, {PROTO_USERS, "users"},
		{PROTO_ROOM_CREATE, "room_create"}, {PROTO_ROOMS_LIST, "rooms_list"},
		{PROTO_ROOMS, "rooms"}, {PROTO_ROOM_JOIN, "room_join"},
		{PROTO_ROOM_STATE, "room_state"}, {PROTO_ROOM_MSG, "room_msg"},
		{PROTO_MSG_SEND, "msg_send"}, {PROTO_SENT, "sent"}, {PROTO_ROOM_ADD, "room_add"},
		{PROTO_ROOM_RECORD, "room_record"}, {PROTO_ROOM_DISCONNECT, "room_disconnect"},
		{PROTO_ROOM_LEAVE, "room_leave"}, {PROTO_JOIN_DONE, "join_done"},
		{PROTO_ROOM_KICK, "room_kick"}, {PROTO_ROOM_ADMIN, "room_admin"},
		{PROTO_ROOM_REKEY, "room_rekey"}, {PROTO_ROOM_FETCH, "room_fetch"},
		{PROTO_REKEY_OWED, "rekey_owed"}, {PROTO_ROOM_READ, "room_read"},
		{PROTO_RECEIVE_KEY, "receive_key"}, {PROTO_KEYS_ACK, "keys_ack"},
	};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		assert_string_equal(proto_type_name(names[i].type), names[i].name);
	/* Type 0 is never a message: an all-zero buffer must not parse. */
	assert_null(proto_type_name(0));
	assert_null(proto_type_name(0xff));
}

/* Requests and their answers carry a request_id first; the rest carry none. */
static void test_msg_request_id(void **state)
{
	(void)state;
	static const uint8_t without[] = {
		PROTO_CLIENT_HELLO, PROTO_SERVER_HELLO, PROTO_CLIENT_KEY, PROTO_CLIENT_AUTH,
		PROTO_WELCOME, PROTO_PING, PROTO_PONG, PROTO_ROOM_MSG, PROTO_ROOM_RECORD,
		PROTO_ROOM_READ, PROTO_KEYS_ACK,
	};
	for (size_t i = 0; i < SAMPLE_COUNT; i++) {
		struct proto_msg m;
		struct buf enc;
		sample_make(i, &m);
		encode_ok(&m, &enc);
		uint32_t want = load_be32(enc.data + 1);
		if (memchr(without, m.type, sizeof without))
			want = 0;
		if (proto_msg_request_id(&m) != want)
			fail_msg("sample %zu (%s): request_id %u, want %u", i,
				 proto_type_name(m.type), proto_msg_request_id(&m), want);
		buf_free(&enc);
	}
}

static void test_decode_unknown_type(void **state)
{
	(void)state;
	size_t unknown = 0;
	for (unsigned t = 0; t < 256; t++) {
		if (type_known(t))
			continue;
		uint8_t in[9] = {(uint8_t)t, 1, 2, 3, 4, 5, 6, 7, 8};
		struct proto_msg m;
		/* Alone, and followed by what would be a valid PING body. */
		assert_int_equal(decode_exact(in, 1, &m), CC_ERR_BAD_TYPE);
		assert_int_equal(decode_exact(in, sizeof in, &m), CC_ERR_BAD_TYPE);
		unknown++;
	}
	assert_true(unknown > 200);
	struct proto_msg m;
	assert_int_equal(decode_exact(NULL, 0, &m), CC_ERR_TRUNCATED);
}

static void test_decode_every_truncation(void **state)
{
	(void)state;
	for (size_t i = 0; i < SAMPLE_COUNT; i++) {
		struct proto_msg m, d;
		struct buf enc;
		sample_make(i, &m);
		encode_ok(&m, &enc);
		/* Every field is length-checked before it is read, and the fields
		 * come in a fixed order, so any prefix is simply too short. */
		for (size_t n = 0; n < enc.len; n++) {
			cc_err err = decode_exact(enc.data, n, &d);
			if (err != CC_ERR_TRUNCATED)
				fail_msg("sample %zu (%s) cut at %zu/%zu: %s", i,
					 proto_type_name(m.type), n, enc.len, cc_err_code(err));
		}
		buf_free(&enc);
	}
}

static void test_decode_trailing(void **state)
{
	(void)state;
	for (size_t i = 0; i < SAMPLE_COUNT; i++) {
		struct proto_msg m, d;
		struct buf enc;
		sample_make(i, &m);
		encode_ok(&m, &enc);
		assert_int_equal(buf_put_u8(&enc, 0), CC_OK);
		assert_int_equal(decode_exact(enc.data, enc.len, &d), CC_ERR_TRAILING);
		assert_int_equal(buf_put_bytes(&enc, pattern, 100), CC_OK);
		assert_int_equal(decode_exact(enc.data, enc.len, &d), CC_ERR_TRAILING);
		buf_free(&enc);
	}
}

/* Every capped bytes16 field of every message: the sample that holds it,
 * where it sits in struct proto_msg, and its cap. */
#define VF(s, member, cap) {s, offsetof(struct proto_msg, u.member), cap, #member}
static const struct var_field {
	size_t sample;
	size_t offset;
	size_t cap;
	const char *name;
} var_fields[] = {
	VF(2, server_hello.server_key, PROTO_RSA_PUB_MAX),
	VF(4, client_key.session_ct, PROTO_RSA_BYTES_MAX),
	VF(4, client_key.sealed_auth, PROTO_SEALED_AUTH_MAX),
	VF(6, client_auth.identity_key, PROTO_RSA_PUB_MAX),
	VF(6, client_auth.signature, PROTO_RSA_BYTES_MAX),
	VF(12, error.text, PROTO_ERROR_TEXT_MAX),
	VF(15, signing_key.sign_cert, PROTO_SIGN_CERT_MAX),
	VF(21, room_create.title_ct, PROTO_TITLE_CT_MAX),
	VF(26, room_state.title_ct, PROTO_TITLE_CT_MAX),
	VF(28, room_msg.envelope, PROTO_ENVELOPE_MAX),
	VF(30, msg_send.envelope, PROTO_ENVELOPE_MAX),
	VF(32, room_rekey.title_ct, PROTO_TITLE_CT_MAX),
	VF(47, room_state.title_ct, PROTO_TITLE_CT_MAX),
	VF(33, room_record.record, PROTO_RECORD_MAX),
	VF(35, room_leave.record, PROTO_RECORD_MAX),
	VF(38, room_record.record, PROTO_RECORD_MAX),
	VF(39, room_rekey.title_ct, PROTO_TITLE_CT_MAX),
	VF(41, room_leave.record, PROTO_RECORD_MAX),
};

static struct proto_bytes *field_at(struct proto_msg *m, size_t offset)
{
	return (struct proto_bytes *)((uint8_t *)m + offset);
}

/* Text fields need valid UTF-8 of any length: ASCII letters. */
static struct proto_bytes filler(const struct var_field *vf, size_t len)
{
	if (len <= PROTO_ERROR_TEXT_MAX + 1 && strcmp(vf->name, "error.text") == 0)
		return (struct proto_bytes){(const uint8_t *)long_text, len};
	return pat(0, len);
}

/* Encodes m into a buffer that already holds a prefix; the encoder must fail
 * with want (ANY_ERROR: any) and leave the buffer's contents as they were. */
#define ANY_ERROR CC_ERR_COUNT_
static void assert_encode_refused(const struct proto_msg *m, cc_err want)
{
	static const char prefix[] = "earlier frames";
	struct buf out;
	buf_init(&out, 0);
	assert_int_equal(buf_put_bytes(&out, prefix, sizeof prefix), CC_OK);
	cc_err err = proto_msg_encode(m, &out);
	if (want == ANY_ERROR ? err == CC_OK : err != want)
		fail_msg("encode type 0x%02x: %s, want %s", m->type, cc_err_code(err),
			 cc_err_code(want));
	assert_int_equal(out.len, sizeof prefix);
	assert_memory_equal(out.data, prefix, sizeof prefix);
	buf_free(&out);
}

static void test_field_caps(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof var_fields / sizeof var_fields[0]; i++) {
		const struct var_field *vf = &var_fields[i];
		struct proto_msg m, d;
		struct buf enc, bad;

		/* At the cap: fine both ways. */
		sample_make(vf->sample, &m);
		*field_at(&m, vf->offset) = filler(vf, vf->cap);
		encode_ok(&m, &enc);
		uint8_t *copy = dup_exact(enc.data, enc.len);
		assert_int_equal(proto_msg_decode(copy, enc.len, &d), CC_OK);
		/* Where the field's u16 length sits in the encoding. */
		size_t at = (size_t)(field_at(&d, vf->offset)->p - copy) - 2;
		assert_int_equal(load_be16(enc.data + at), vf->cap);
		free(copy);

		/* One over: the encoder refuses and writes nothing. */
		*field_at(&m, vf->offset) = filler(vf, vf->cap + 1);
		assert_encode_refused(&m, CC_ERR_TOO_LARGE);

		/* One over on the wire, the bytes present, and the rest intact. */
		buf_init(&bad, 0);
		assert_int_equal(buf_put_bytes(&bad, enc.data, at), CC_OK);
		assert_int_equal(buf_put_u16(&bad, (uint16_t)(vf->cap + 1)), CC_OK);
		assert_int_equal(buf_put_bytes(&bad, enc.data + at + 2, vf->cap), CC_OK);
		assert_int_equal(buf_put_u8(&bad, 'a'), CC_OK);
		assert_int_equal(buf_put_bytes(&bad, enc.data + at + 2 + vf->cap,
					       enc.len - at - 2 - vf->cap), CC_OK);
		cc_err err = decode_exact(bad.data, bad.len, &d);
		if (err != CC_ERR_TOO_LARGE)
			fail_msg("%s over its cap: %s", vf->name, cc_err_code(err));
		/* The cap is checked before the length is trusted: no bytes needed. */
		bad.len = at + 2;
		assert_int_equal(decode_exact(bad.data, bad.len, &d), CC_ERR_TOO_LARGE);
		store_be16(bad.data + at, 0xffff);
		assert_int_equal(decode_exact(bad.data, bad.len, &d), CC_ERR_TOO_LARGE);
		buf_free(&bad);
		buf_free(&enc);
	}
}

static const struct raw bad_nicks[] = {
	RAW(""), RAW(" "), RAW("al ice"), RAW("alice "), RAW("caf\xc3\xa9"), RAW("\xff"),
	RAW("a\0b"), RAW("a/b"), RAW("a@b"), RAW("a:b"), RAW("a\tb"), RAW("a\x7f"),
	RAW("a\x80"), RAW("\xd0\x90lice"),
};

/* The nickname fields of messages and of list items. */
enum { NICK_SITES = 7 };

/* Builds a message whose only interesting field is a nickname with these
 * bytes, straight into out, bypassing the encoder's checks. */
static void nick_msg_put(struct buf *out, int site, const uint8_t *nick, size_t n)
{
	buf_init(out, 0);
	switch (site) {
	case 0:
		assert_int_equal(buf_put_u8(out, PROTO_WELCOME), CC_OK);
		assert_int_equal(buf_put_bytes16(out, nick, n), CC_OK);
		assert_int_equal(buf_put_bytes(out, pattern, PROTO_FINGERPRINT_LEN), CC_OK);
		assert_int_equal(buf_put_u64(out, 1), CC_OK);
		assert_int_equal(buf_put_u32(out, PROTO_FRAME_MAX_DEFAULT), CC_OK);
		break;
	case 1:
		assert_int_equal(buf_put_u8(out, PROTO_CLIENT_AUTH), CC_OK);
		assert_int_equal(buf_put_bytes16(out, pattern, 294), CC_OK);
		assert_int_equal(buf_put_bytes16(out, nick, n), CC_OK);
		assert_int_equal(buf_put_bytes16(out, pattern, 256), CC_OK);
		break;
	case 2:
		/* Second item of a nick list. */
		assert_int_equal(buf_put_u8(out, PROTO_USERS_GET), CC_OK);
		assert_int_equal(buf_put_u32(out, 1), CC_OK);
		assert_int_equal(buf_put_u16(out, 2), CC_OK);
		assert_int_equal(buf_put_str16(out, "ok"), CC_OK);
		assert_int_equal(buf_put_bytes16(out, nick, n), CC_OK);
		break;
	case 3:
		assert_int_equal(buf_put_u8(out, PROTO_USERS), CC_OK);
		assert_int_equal(buf_put_u32(out, 1), CC_OK);
		assert_int_equal(buf_put_u16(out, 1), CC_OK);
		assert_int_equal(buf_put_bytes16(out, nick, n), CC_OK);
		assert_int_equal(buf_put_bytes16(out, pattern, 294), CC_OK);
		assert_int_equal(buf_put_u32(out, 1), CC_OK);
		assert_int_equal(buf_put_bytes(out, pattern, PROTO_SIGN_PUB_LEN), CC_OK);
		assert_int_equal(buf_put_bytes16(out, pattern, 0), CC_OK);
		assert_int_equal(buf_put_u32(out, 0), CC_OK);
		assert_int_equal(buf_put_u64(out, 0), CC_OK);
		assert_int_equal(buf_put_bytes(out, pattern, PROTO_X25519_LEN), CC_OK);
		assert_int_equal(buf_put_bytes16(out, pattern, 0), CC_OK);
		break;
	case 4:
		/* The keys list of a ROOM_CREATE, after an empty records list. */
		assert_int_equal(buf_put_u8(out, PROTO_ROOM_CREATE), CC_OK);
		assert_int_equal(buf_put_u32(out, 1), CC_OK);
		assert_int_equal(buf_put_bytes(out, pattern, PROTO_ROOM_ID_LEN), CC_OK);
		assert_int_equal(buf_put_bytes16(out, pattern, 10), CC_OK);
		assert_int_equal(buf_put_u16(out, 0), CC_OK);
		assert_int_equal(buf_put_u16(out, 1), CC_OK);
		assert_int_equal(buf_put_bytes16(out, nick, n), CC_OK);
		assert_int_equal(buf_put_u32(out, 0), CC_OK);
		assert_int_equal(buf_put_bytes16(out, pattern, 256), CC_OK);
		break;
	case 5:
		assert_int_equal(buf_put_u8(out, PROTO_ROOMS), CC_OK);
		assert_int_equal(buf_put_u32(out, 1), CC_OK);
		assert_int_equal(buf_put_u16(out, 1), CC_OK);
		assert_int_equal(buf_put_bytes(out, pattern, PROTO_ROOM_ID_LEN), CC_OK);
		assert_int_equal(buf_put_bytes16(out, nick, n), CC_OK);
		assert_int_equal(buf_put_u32(out, 1), CC_OK);
		assert_int_equal(buf_put_u32(out, 2), CC_OK);
		assert_int_equal(buf_put_u32(out, 3), CC_OK);
		assert_int_equal(buf_put_u32(out, 4), CC_OK);
		break;
	case 6:
		/* The gone list of a ROOM_STATE: fingerprint, then nickname. */
		assert_int_equal(buf_put_u8(out, PROTO_ROOM_STATE), CC_OK);
		assert_int_equal(buf_put_u32(out, 1), CC_OK);
		assert_int_equal(buf_put_bytes(out, pattern, PROTO_ROOM_ID_LEN), CC_OK);
		assert_int_equal(buf_put_bytes16(out, pattern, 0), CC_OK);
		assert_int_equal(buf_put_u16(out, 0), CC_OK);
		assert_int_equal(buf_put_u16(out, 0), CC_OK);
		assert_int_equal(buf_put_u16(out, 0), CC_OK);
		assert_int_equal(buf_put_u16(out, 1), CC_OK);
		assert_int_equal(buf_put_bytes(out, pattern, PROTO_FINGERPRINT_LEN), CC_OK);
		assert_int_equal(buf_put_bytes16(out, nick, n), CC_OK);
		assert_int_equal(buf_put_u32(out, 0), CC_OK);
		break;
	default:
		fail();
	}
}

static void test_decode_bad_nick(void **state)
{
	(void)state;
	for (int site = 0; site < NICK_SITES; site++) {
		for (size_t i = 0; i < sizeof bad_nicks / sizeof bad_nicks[0]; i++) {
			struct proto_msg m;
			struct buf in;
			nick_msg_put(&in, site, (const uint8_t *)bad_nicks[i].s, bad_nicks[i].n);
			cc_err err = decode_exact(in.data, in.len, &m);
			if (err != CC_ERR_BAD_NICK)
				fail_msg("site %d nick #%zu: %s", site, i, cc_err_code(err));
			buf_free(&in);
		}
		/* The same message with a good nickname decodes. */
		struct proto_msg m;
		struct buf in;
		nick_msg_put(&in, site, (const uint8_t *)"a-b.c_D9", 8);
		assert_int_equal(decode_exact(in.data, in.len, &m), CC_OK);
		buf_free(&in);
	}
}

/* Nicknames are 1..32 characters; the error for 33 is the nickname error,
 * not the generic length one (util/err.h: "not 1..32 of [A-Za-z0-9_.-]"). */
static void test_nick_33_chars(void **state)
{
	(void)state;
	static const char nick33[] = "abcdefghijklmnopqrstuvwxyz0123456";
	assert_int_equal(strlen(nick33), PROTO_NICK_MAX + 1);
	assert_false(proto_nick_valid((const uint8_t *)nick33, sizeof nick33 - 1));
	assert_true(proto_nick_valid((const uint8_t *)nick33, PROTO_NICK_MAX));

	struct proto_msg m;
	struct buf in;
	cc_err dec[NICK_SITES];
	for (int site = 0; site < NICK_SITES; site++) {
		nick_msg_put(&in, site, (const uint8_t *)nick33, sizeof nick33 - 1);
		dec[site] = decode_exact(in.data, in.len, &m);
		buf_free(&in);
	}
	memset(&m, 0, sizeof m);
	m.type = PROTO_WELCOME;
	m.u.welcome.nick = proto_bytes_str(nick33);
	buf_init(&in, 0);
	cc_err enc = proto_msg_encode(&m, &in);
	assert_int_equal(in.len, 0);
	buf_free(&in);
	for (int site = 0; site < NICK_SITES; site++)
		if (dec[site] != CC_ERR_BAD_NICK)
			fail_msg("decode site %d, 33-char nick: %s", site, cc_err_code(dec[site]));
	assert_int_equal(enc, CC_ERR_BAD_NICK);
}

static const struct raw bad_utf8[] = {
	/* overlong */
	RAW("\xc0\x80"), RAW("\xc1\xbf"), RAW("\xe0\x80\x80"), RAW("\xe0\x9f\xbf"),
	RAW("\xf0\x80\x80\x80"), RAW("\xf0\x8f\xbf\xbf"), RAW("a\xc0\xafz"),
	/* surrogates, alone and paired */
	RAW("\xed\xa0\x80"), RAW("\xed\xbf\xbf"), RAW("\xed\xa0\xbd\xed\xb8\x80"),
	/* NUL */
	RAW("\0"), RAW("a\0"), RAW("ab\0cd"),
	/* truncated sequences, at the end and in the middle */
	RAW("\xc3"), RAW("\xe2\x82"), RAW("\xf0\x9f\x98"), RAW("abc\xe2"), RAW("\xe2\x82z"),
	RAW("\xf0\x9f\x98 "),
	/* beyond U+10FFFF, bad leads, stray continuations */
	RAW("\xf4\x90\x80\x80"), RAW("\xf5\x80\x80\x80"), RAW("\xf8\x88\x80\x80\x80"),
	RAW("\xfe"), RAW("\xff"), RAW("\x80"), RAW("a\xbf"),
};

static const struct raw good_utf8[] = {
	RAW(""), RAW("\x01"), RAW("\x7f"), RAW("\xc2\x80"), RAW("\xdf\xbf"), RAW("\xe0\xa0\x80"),
	RAW("\xed\x9f\xbf"), RAW("\xee\x80\x80"), RAW("\xef\xbf\xbf"), RAW("\xf0\x90\x80\x80"),
	RAW("\xf4\x8f\xbf\xbf"), RAW("caf\xc3\xa9 \xe2\x98\x95"),
};

static void error_put(struct buf *out, const struct raw *text)
{
	buf_init(out, 0);
	assert_int_equal(buf_put_u8(out, PROTO_ERROR), CC_OK);
	assert_int_equal(buf_put_u32(out, 9), CC_OK);
	assert_int_equal(buf_put_u16(out, CC_ERR_STATE), CC_OK);
	assert_int_equal(buf_put_bytes16(out, text->s, text->n), CC_OK);
}

static void test_decode_bad_utf8(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof bad_utf8 / sizeof bad_utf8[0]; i++) {
		struct proto_msg m;
		struct buf in;
		assert_false(proto_utf8_valid((const uint8_t *)bad_utf8[i].s, bad_utf8[i].n));
		error_put(&in, &bad_utf8[i]);
		cc_err err = decode_exact(in.data, in.len, &m);
		if (err != CC_ERR_MALFORMED)
			fail_msg("bad utf-8 #%zu: %s", i, cc_err_code(err));
		buf_free(&in);
	}
	for (size_t i = 0; i < sizeof good_utf8 / sizeof good_utf8[0]; i++) {
		struct proto_msg m;
		struct buf in;
		assert_true(proto_utf8_valid((const uint8_t *)good_utf8[i].s, good_utf8[i].n));
		error_put(&in, &good_utf8[i]);
		assert_int_equal(decode_exact(in.data, in.len, &m), CC_OK);
		assert_int_equal(m.u.error.text.len, good_utf8[i].n);
		buf_free(&in);
	}
}

static void test_encode_refuses(void **state)
{
	(void)state;
	struct proto_msg m;

	for (size_t i = 0; i < sizeof bad_nicks / sizeof bad_nicks[0]; i++) {
		sample_make(8, &m);
		m.u.welcome.nick = raw_bytes(&bad_nicks[i]);
		assert_encode_refused(&m, CC_ERR_BAD_NICK);
		sample_make(6, &m);
		m.u.client_auth.nick = raw_bytes(&bad_nicks[i]);
		assert_encode_refused(&m, CC_ERR_BAD_NICK);
	}
	for (size_t i = 0; i < sizeof bad_utf8 / sizeof bad_utf8[0]; i++) {
		sample_make(12, &m);
		m.u.error.text = raw_bytes(&bad_utf8[i]);
		assert_encode_refused(&m, CC_ERR_MALFORMED);
	}
	for (unsigned t = 0; t < 256; t++) {
		if (type_known(t))
			continue;
		memset(&m, 0, sizeof m);
		m.type = (uint8_t)t;
		assert_encode_refused(&m, CC_ERR_BAD_TYPE);
	}
}

/* An output buffer whose max is reached midway: no partial message stays. */
static void test_encode_buffer_full(void **state)
{
	(void)state;
	for (size_t i = 0; i < SAMPLE_COUNT; i++) {
		struct proto_msg m;
		struct buf enc;
		sample_make(i, &m);
		encode_ok(&m, &enc);
		for (size_t max = 1; max < enc.len; max += 1 + max / 8) {
			struct buf out;
			buf_init(&out, max);
			assert_int_equal(proto_msg_encode(&m, &out), CC_ERR_TOO_LARGE);
			assert_int_equal(out.len, 0);
			buf_free(&out);
		}
		struct buf exact;
		buf_init(&exact, enc.len);
		assert_int_equal(proto_msg_encode(&m, &exact), CC_OK);
		assert_int_equal(exact.len, enc.len);
		buf_free(&exact);
		buf_free(&enc);
	}
}

/* ---- lists ---- */

static void assert_item_equal(enum proto_item_kind kind, const void *a, const void *b)
{
	switch (kind) {
	case PROTO_ITEM_NICK: {
		const struct proto_nick_item *x = a, *y = b;
		assert_view_equal(x->nick, y->nick);
		break;
	}
	case PROTO_ITEM_BLOB: {
		const struct proto_blob_item *x = a, *y = b;
		assert_view_equal(x->data, y->data);
		break;
	}
	case PROTO_ITEM_USER: {
		const struct proto_user_item *x = a, *y = b;
		assert_view_equal(x->nick, y->nick);
		assert_view_equal(x->identity_key, y->identity_key);
		assert_int_equal(x->sign_version, y->sign_version);
		assert_memory_equal(x->sign_pub, y->sign_pub, PROTO_SIGN_PUB_LEN);
		assert_view_equal(x->sign_cert, y->sign_cert);
		assert_int_equal(x->recv_version, y->recv_version);
		assert_int_equal(x->recv_created_ms, y->recv_created_ms);
		assert_memory_equal(x->recv_pub, y->recv_pub, PROTO_X25519_LEN);
		assert_view_equal(x->recv_cert, y->recv_cert);
		break;
	}
	case PROTO_ITEM_WRAPPED: {
		const struct proto_wrapped_item *x = a, *y = b;
		assert_view_equal(x->nick, y->nick);
		assert_int_equal(x->epoch, y->epoch);
		assert_view_equal(x->wrapped, y->wrapped);
		break;
	}
	case PROTO_ITEM_ROOM: {
		const struct proto_room_item *x = a, *y = b;
		ID_EQ(x->room_id, y->room_id);
		assert_view_equal(x->admin, y->admin);
		assert_int_equal(x->epoch, y->epoch);
		assert_int_equal(x->members, y->members);
		assert_int_equal(x->unread, y->unread);
		assert_int_equal(x->pending_keys, y->pending_keys);
		break;
	}
	case PROTO_ITEM_GONE: {
		const struct proto_gone_item *x = a, *y = b;
		assert_memory_equal(x->fingerprint, y->fingerprint, PROTO_FINGERPRINT_LEN);
		assert_view_equal(x->nick, y->nick);
		break;
	}
	case PROTO_ITEM_CHAIN: {
		const struct proto_chain_item *x = a, *y = b;
		assert_true(x->position == y->position);
		assert_view_equal(x->record, y->record);
		break;
	}
	default:
		fail();
	}
}

/* Iterates list and checks it yields exactly the source items of kind. */
static void assert_list_items(const struct proto_list *list, enum proto_item_kind kind)
{
	union {
		struct proto_nick_item nick;
		struct proto_blob_item blob;
		struct proto_user_item user;
		struct proto_wrapped_item wrapped;
		struct proto_room_item room;
		struct proto_gone_item gone;
		struct proto_chain_item chain;
	} item;
	struct proto_list_iter it;
	proto_list_iter_init(&it, list, kind);
	for (size_t i = 0; i < item_count(kind); i++) {
		assert_int_equal(proto_list_next(&it, &item), CC_OK);
		assert_item_equal(kind, item_at(kind, i), &item);
	}
	assert_int_equal(proto_list_next(&it, &item), CC_ERR_NOT_FOUND);
	assert_int_equal(proto_list_next(&it, &item), CC_ERR_NOT_FOUND);
}

static void test_list_iterate(void **state)
{
	(void)state;
	/* The lists as built, and as decoded out of a message. */
	for (int k = 0; k < PROTO_ITEM_COUNT_; k++)
		assert_list_items(&lists[k], k);

	struct proto_msg m, d;
	struct buf enc;
	sample_make(26, &m);
	encode_ok(&m, &enc);
	assert_int_equal(proto_msg_decode(enc.data, enc.len, &d), CC_OK);
	assert_list_items(&d.u.room_state.records, PROTO_ITEM_CHAIN);
	assert_list_items(&d.u.room_state.users, PROTO_ITEM_USER);
	assert_list_items(&d.u.room_state.keys, PROTO_ITEM_WRAPPED);
	assert_list_items(&d.u.room_state.gone, PROTO_ITEM_GONE);
	buf_free(&enc);
	sample_make(32, &m);
	encode_ok(&m, &enc);
	assert_int_equal(proto_msg_decode(enc.data, enc.len, &d), CC_OK);
	assert_list_items(&d.u.room_rekey.records, PROTO_ITEM_BLOB);
	assert_list_items(&d.u.room_rekey.keys, PROTO_ITEM_WRAPPED);
	buf_free(&enc);
	sample_make(24, &m);
	encode_ok(&m, &enc);
	assert_int_equal(proto_msg_decode(enc.data, enc.len, &d), CC_OK);
	assert_list_items(&d.u.rooms.rooms, PROTO_ITEM_ROOM);
	buf_free(&enc);

	/* An empty list ends at once. */
	struct proto_list_iter it;
	struct proto_nick_item n;
	proto_list_iter_init(&it, &empty_list, PROTO_ITEM_NICK);
	assert_int_equal(proto_list_next(&it, &n), CC_ERR_NOT_FOUND);
	/* An unknown kind yields nothing. */
	proto_list_iter_init(&it, &lists[PROTO_ITEM_NICK], PROTO_ITEM_COUNT_);
	assert_int_equal(proto_list_next(&it, &n), CC_ERR_NOT_FOUND);
}

static void test_item_encode_refuses(void **state)
{
	(void)state;
	struct buf raw;
	buf_init(&raw, 0);
	assert_int_equal(buf_put_u8(&raw, 0xaa), CC_OK);
	struct proto_nick_item bad = {proto_bytes_str("no spaces")};
	assert_int_equal(proto_item_encode(PROTO_ITEM_NICK, &bad, &raw), CC_ERR_BAD_NICK);
	struct proto_blob_item big = {pat(0, PROTO_RECORD_MAX + 1)};
	assert_int_equal(proto_item_encode(PROTO_ITEM_BLOB, &big, &raw), CC_ERR_TOO_LARGE);
	struct proto_wrapped_item w = {proto_bytes_str("alice"), 1, pat(0, PROTO_WRAPPED_MAX + 1)};
	assert_int_equal(proto_item_encode(PROTO_ITEM_WRAPPED, &w, &raw), CC_ERR_TOO_LARGE);
	struct proto_room_item r = room_items[0];
	r.admin = proto_bytes_str("no spaces");
	assert_int_equal(proto_item_encode(PROTO_ITEM_ROOM, &r, &raw), CC_ERR_BAD_NICK);
	struct proto_user_item u = user_items[0];
	u.sign_cert = pat(0, PROTO_SIGN_CERT_MAX + 1);
	assert_int_equal(proto_item_encode(PROTO_ITEM_USER, &u, &raw), CC_ERR_TOO_LARGE);
	/* The new items: a gone member's nickname, a chain item's record cap. */
	struct proto_gone_item g = gone_items[0];
	g.nick = proto_bytes_str("");
	assert_int_equal(proto_item_encode(PROTO_ITEM_GONE, &g, &raw), CC_ERR_BAD_NICK);
	g.nick = proto_bytes_str("abcdefghijklmnopqrstuvwxyz0123456");
	assert_int_equal(proto_item_encode(PROTO_ITEM_GONE, &g, &raw), CC_ERR_BAD_NICK);
	struct proto_chain_item ch = chain_items[0];
	ch.record = pat(0, PROTO_RECORD_MAX + 1);
	assert_int_equal(proto_item_encode(PROTO_ITEM_CHAIN, &ch, &raw), CC_ERR_TOO_LARGE);
	/* And their largest values go through, byte for byte. */
	ch.record = pat(0, PROTO_RECORD_MAX);
	ch.position = UINT64_MAX;
	struct buf one;
	buf_init(&one, 0);
	assert_int_equal(proto_item_encode(PROTO_ITEM_CHAIN, &ch, &one), CC_OK);
	assert_int_equal(one.len, 8 + 2 + PROTO_RECORD_MAX);
	assert_true(load_be64(one.data) == UINT64_MAX);
	assert_int_equal(load_be16(one.data + 8), PROTO_RECORD_MAX);
	buf_free(&one);
	assert_int_equal(proto_item_encode(PROTO_ITEM_COUNT_, &bad, &raw), CC_ERR_BAD_TYPE);
	assert_int_equal(proto_item_encode((enum proto_item_kind)-1, &bad, &raw), CC_ERR_BAD_TYPE);
	/* Nothing half-written. */
	assert_int_equal(raw.len, 1);
	buf_free(&raw);
}

/* The encoder checks a list's raw bytes hold exactly count valid items. */
static void test_list_encode_checks(void **state)
{
	(void)state;
	struct proto_msg m;
	sample_make(18, &m);
	struct proto_list good = m.u.users_get.nicks;

	m.u.users_get.nicks.count = (uint16_t)(good.count + 1);
	assert_encode_refused(&m, CC_ERR_TRUNCATED);
	m.u.users_get.nicks.count = (uint16_t)(good.count - 1);
	assert_encode_refused(&m, CC_ERR_TRAILING);
	m.u.users_get.nicks.count = 0;
	assert_encode_refused(&m, CC_ERR_TRAILING);
	m.u.users_get.nicks = (struct proto_list){PROTO_LIST_MAX + 1, good.raw};
	assert_encode_refused(&m, CC_ERR_TOO_LARGE);
	/* Items of another kind are checked as this kind: user items are not nicks. */
	m.u.users_get.nicks = lists[PROTO_ITEM_USER];
	assert_encode_refused(&m, ANY_ERROR);
	/* A raw nick item that is not a nickname. */
	static const uint8_t bad_raw[] = {0, 3, 'a', ' ', 'b'};
	m.u.users_get.nicks = (struct proto_list){1, {bad_raw, sizeof bad_raw}};
	assert_encode_refused(&m, CC_ERR_BAD_NICK);
	/* Cut items. */
	m.u.users_get.nicks = (struct proto_list){1, {bad_raw, 3}};
	assert_encode_refused(&m, CC_ERR_TRUNCATED);

	/* Protocol 1's ROOM_STATE carried blob items where chain and gone
	 * items now go: they are not taken for them. */
	sample_make(26, &m);
	m.u.room_state.gone = lists[PROTO_ITEM_BLOB];
	assert_encode_refused(&m, ANY_ERROR);
	sample_make(26, &m);
	m.u.room_state.records = lists[PROTO_ITEM_BLOB];
	assert_encode_refused(&m, ANY_ERROR);
}

static void test_list_decode_limits(void **state)
{
	(void)state;
	struct proto_msg m;
	struct buf in;

	/* PROTO_LIST_MAX items is the most; one more is refused from the count. */
	buf_init(&in, 0);
	assert_int_equal(buf_put_u8(&in, PROTO_USERS_GET), CC_OK);
	assert_int_equal(buf_put_u32(&in, 1), CC_OK);
	assert_int_equal(buf_put_u16(&in, PROTO_LIST_MAX), CC_OK);
	for (size_t i = 0; i < PROTO_LIST_MAX; i++)
		assert_int_equal(buf_put_str16(&in, "n"), CC_OK);
	uint8_t *copy = dup_exact(in.data, in.len);
	assert_int_equal(proto_msg_decode(copy, in.len, &m), CC_OK);
	assert_int_equal(m.u.users_get.nicks.count, PROTO_LIST_MAX);
	assert_int_equal(m.u.users_get.nicks.raw.len, 3 * PROTO_LIST_MAX);
	free(copy);
	store_be16(in.data + 5, PROTO_LIST_MAX + 1);
	assert_int_equal(decode_exact(in.data, in.len, &m), CC_ERR_TOO_LARGE);
	assert_int_equal(decode_exact(in.data, 7, &m), CC_ERR_TOO_LARGE);
	store_be16(in.data + 5, 0xffff);
	assert_int_equal(decode_exact(in.data, 7, &m), CC_ERR_TOO_LARGE);
	buf_free(&in);

	/* An item over its own cap inside a list. */
	buf_init(&in, 0);
	assert_int_equal(buf_put_u8(&in, PROTO_ROOM_CREATE), CC_OK);
	assert_int_equal(buf_put_u32(&in, 1), CC_OK);
	assert_int_equal(buf_put_bytes(&in, pattern, PROTO_ROOM_ID_LEN), CC_OK);
	assert_int_equal(buf_put_bytes16(&in, pattern, 10), CC_OK);
	assert_int_equal(buf_put_u16(&in, 1), CC_OK);
	assert_int_equal(buf_put_bytes16(&in, pattern, PROTO_RECORD_MAX + 1), CC_OK);
	assert_int_equal(buf_put_u16(&in, 0), CC_OK);
	assert_int_equal(decode_exact(in.data, in.len, &m), CC_ERR_TOO_LARGE);
	buf_free(&in);

	/* A chain item's record over its cap, inside a ROOM_STATE. */
	buf_init(&in, 0);
	assert_int_equal(buf_put_u8(&in, PROTO_ROOM_STATE), CC_OK);
	assert_int_equal(buf_put_u32(&in, 1), CC_OK);
	assert_int_equal(buf_put_bytes(&in, pattern, PROTO_ROOM_ID_LEN), CC_OK);
	assert_int_equal(buf_put_bytes16(&in, pattern, 0), CC_OK);
	assert_int_equal(buf_put_u16(&in, 1), CC_OK);
	assert_int_equal(buf_put_u64(&in, 1), CC_OK);
	assert_int_equal(buf_put_bytes16(&in, pattern, PROTO_RECORD_MAX + 1), CC_OK);
	for (int i = 0; i < 3; i++)
		assert_int_equal(buf_put_u16(&in, 0), CC_OK);
	assert_int_equal(buf_put_u32(&in, 0), CC_OK);
	assert_int_equal(decode_exact(in.data, in.len, &m), CC_ERR_TOO_LARGE);
	/* At the cap it decodes. */
	size_t len_at = 1 + 4 + PROTO_ROOM_ID_LEN + 2 + 2 + 8;
	store_be16(in.data + len_at, PROTO_RECORD_MAX);
	uint8_t *copy2 = malloc(in.len - 1);
	assert_non_null(copy2);
	memcpy(copy2, in.data, len_at + 2 + PROTO_RECORD_MAX);
	memcpy(copy2 + len_at + 2 + PROTO_RECORD_MAX, in.data + len_at + 2 + PROTO_RECORD_MAX + 1,
	       in.len - (len_at + 2 + PROTO_RECORD_MAX + 1));
	assert_int_equal(proto_msg_decode(copy2, in.len - 1, &m), CC_OK);
	assert_int_equal(m.u.room_state.records.count, 1);
	free(copy2);
	buf_free(&in);
}

/* ---- frames ---- */

static cc_err peek_exact(const uint8_t *in, size_t n, size_t max, size_t *body_len)
{
	uint8_t *d = dup_exact(in, n);
	cc_err err = proto_frame_peek(d, n, max, body_len);
	free(d);
	return err;
}

static void test_frame_peek(void **state)
{
	(void)state;
	uint8_t f[4 + 10] = {0, 0, 0, 10};
	size_t body = 12345;

	memcpy(f + 4, pattern, 10);
	/* Short header. */
	for (size_t n = 0; n < PROTO_FRAME_HEADER_LEN; n++)
		assert_int_equal(peek_exact(f, n, 100, &body), CC_ERR_TRUNCATED);
	/* Partial body. */
	for (size_t n = PROTO_FRAME_HEADER_LEN; n < sizeof f; n++)
		assert_int_equal(peek_exact(f, n, 100, &body), CC_ERR_TRUNCATED);
	assert_int_equal(body, 12345);
	/* Exact frame, and the first frame of a longer stream. */
	assert_int_equal(peek_exact(f, sizeof f, 100, &body), CC_OK);
	assert_int_equal(body, 10);
	uint8_t two[sizeof f + 5];
	memcpy(two, f, sizeof f);
	memcpy(two + sizeof f, "\0\0\0\1x", 5);
	body = 0;
	assert_int_equal(peek_exact(two, sizeof two, 100, &body), CC_OK);
	assert_int_equal(body, 10);
	/* The cap is inclusive. */
	assert_int_equal(peek_exact(f, sizeof f, 10, &body), CC_OK);
	assert_int_equal(peek_exact(f, sizeof f, 9, &body), CC_ERR_TOO_LARGE);
}

static void test_frame_peek_over_cap(void **state)
{
	(void)state;
	size_t body;
	uint8_t h[4];

	/* Refused from the header alone, before the body could be buffered. */
	store_be32(h, PROTO_FRAME_MAX_PREAUTH + 1);
	assert_int_equal(peek_exact(h, 4, PROTO_FRAME_MAX_PREAUTH, &body), CC_ERR_TOO_LARGE);
	assert_int_equal(peek_exact(h, 4, PROTO_FRAME_MAX_DEFAULT, &body), CC_ERR_TRUNCATED);
	store_be32(h, UINT32_MAX);
	assert_int_equal(peek_exact(h, 4, PROTO_FRAME_MAX_LIMIT, &body), CC_ERR_TOO_LARGE);
	store_be32(h, PROTO_FRAME_MAX_LIMIT + 1);
	assert_int_equal(peek_exact(h, 4, PROTO_FRAME_MAX_LIMIT, &body), CC_ERR_TOO_LARGE);
	store_be32(h, 0x80000000u);
	assert_int_equal(peek_exact(h, 4, PROTO_FRAME_MAX_DEFAULT, &body), CC_ERR_TOO_LARGE);
}

static void test_frame_peek_zero_length(void **state)
{
	(void)state;
	size_t body;
	uint8_t z[8] = {0, 0, 0, 0, 'x', 'y', 'z', 'w'};
	assert_int_equal(peek_exact(z, 4, 100, &body), CC_ERR_MALFORMED);
	assert_int_equal(peek_exact(z, sizeof z, 100, &body), CC_ERR_MALFORMED);
	assert_int_equal(peek_exact(z, sizeof z, 0, &body), CC_ERR_MALFORMED);
}

static void test_frame_put_roundtrip(void **state)
{
	(void)state;
	static const size_t lens[] = {1, 2, 255, 256, 65535, 65536, 100000};
	struct buf out;
	buf_init(&out, 0);
	for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
		size_t n = lens[i];
		uint8_t *body = malloc(n);
		assert_non_null(body);
		for (size_t k = 0; k < n; k++)
			body[k] = (uint8_t)(k ^ i);
		assert_int_equal(proto_frame_put(&out, body, n), CC_OK);
		free(body);
	}
	/* Split the stream back into frames. */
	size_t off = 0, count = 0, body_len;
	while (off < out.len) {
		assert_int_equal(peek_exact(out.data + off, out.len - off, PROTO_FRAME_MAX_DEFAULT,
					    &body_len), CC_OK);
		assert_int_equal(body_len, lens[count]);
		assert_int_equal(load_be32(out.data + off), body_len);
		for (size_t k = 0; k < body_len; k++)
			if (out.data[off + 4 + k] != (uint8_t)(k ^ count))
				fail_msg("frame %zu byte %zu", count, k);
		off += PROTO_FRAME_HEADER_LEN + body_len;
		count++;
	}
	assert_int_equal(off, out.len);
	assert_int_equal(count, sizeof lens / sizeof lens[0]);
	buf_free(&out);
}

static void test_frame_put_refuses(void **state)
{
	(void)state;
	struct buf out;
	uint8_t b = 'x';
	buf_init(&out, 0);
	assert_int_equal(buf_put_u8(&out, 0xaa), CC_OK);
	assert_int_equal(proto_frame_put(&out, &b, 0), CC_ERR_MALFORMED);
	/* The length is checked before the body is read. */
	assert_int_equal(proto_frame_put(&out, &b, PROTO_FRAME_MAX_LIMIT + 1), CC_ERR_TOO_LARGE);
	assert_int_equal(out.len, 1);
	buf_free(&out);
	/* A buffer whose max cannot take header and body gets neither. */
	buf_init(&out, 8);
	assert_int_equal(proto_frame_put(&out, pattern, 5), CC_ERR_TOO_LARGE);
	assert_int_equal(out.len, 0);
	assert_int_equal(proto_frame_put(&out, pattern, 4), CC_OK);
	assert_int_equal(out.len, 8);
	buf_free(&out);
}

/* ---- util/buf.h ---- */

#define ASSERT_UNMOVED(r, p0, len0)                 \
	do {                                        \
		assert_ptr_equal((r).p, (p0));      \
		assert_int_equal((r).len, (len0));  \
	} while (0)

static void test_bufreader_fail_keeps_cursor(void **state)
{
	(void)state;
	static const uint8_t in[] = {1, 2, 3, 4, 5, 6, 7};
	for (size_t n = 0; n <= sizeof in; n++) {
		uint8_t *d = dup_exact(in, n);
		struct bufreader r;
		uint8_t u8 = 0x5a, copy[8];
		uint16_t u16 = 0x5a5a;
		uint32_t u32 = 0x5a5a5a5a;
		uint64_t u64 = 0x5a5a5a5a5a5a5a5aull;
		const uint8_t *view = NULL;
		size_t len = 99;

		bufreader_init(&r, d, n);
		if (n < 1) {
			assert_int_equal(bufreader_get_u8(&r, &u8), CC_ERR_TRUNCATED);
			assert_int_equal(u8, 0x5a);
		}
		if (n < 2) {
			assert_int_equal(bufreader_get_u16(&r, &u16), CC_ERR_TRUNCATED);
			assert_int_equal(u16, 0x5a5a);
		}
		if (n < 4) {
			assert_int_equal(bufreader_get_u32(&r, &u32), CC_ERR_TRUNCATED);
			assert_int_equal(u32, 0x5a5a5a5a);
		}
		assert_int_equal(bufreader_get_u64(&r, &u64), CC_ERR_TRUNCATED);
		assert_true(u64 == 0x5a5a5a5a5a5a5a5aull);
		assert_int_equal(bufreader_get_view(&r, n + 1, &view), CC_ERR_TRUNCATED);
		assert_null(view);
		assert_int_equal(bufreader_get_copy(&r, copy, n + 1), CC_ERR_TRUNCATED);
		assert_int_equal(bufreader_get_view(&r, SIZE_MAX, &view), CC_ERR_TRUNCATED);
		ASSERT_UNMOVED(r, d, n);
		/* in[0..1] = 0x0102 = 258 announced, never present. */
		assert_int_not_equal(bufreader_get_bytes16(&r, 1000, &view, &len), CC_OK);
		assert_int_not_equal(bufreader_get_bytes32(&r, 1000, &view, &len), CC_OK);
		assert_int_equal(len, 99);
		ASSERT_UNMOVED(r, d, n);
		assert_int_equal(bufreader_remaining(&r), n);
		assert_int_equal(bufreader_expect_end(&r), n ? CC_ERR_TRAILING : CC_OK);
		free(d);
	}
}

static void test_bufreader_gets(void **state)
{
	(void)state;
	static const uint8_t in[] = {0xab, 0x12, 0x34, 0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4, 5,
				     6, 7, 8, 0, 3, 'x', 'y', 'z', 0, 0, 0, 1, 'q', 0, 0};
	struct bufreader r;
	uint8_t u8;
	uint16_t u16;
	uint32_t u32;
	uint64_t u64;
	const uint8_t *v;
	size_t n;

	bufreader_init(&r, in, sizeof in);
	assert_int_equal(bufreader_get_u8(&r, &u8), CC_OK);
	assert_int_equal(u8, 0xab);
	assert_int_equal(bufreader_get_u16(&r, &u16), CC_OK);
	assert_int_equal(u16, 0x1234);
	assert_int_equal(bufreader_get_u32(&r, &u32), CC_OK);
	assert_int_equal(u32, 0xdeadbeef);
	assert_int_equal(bufreader_get_u64(&r, &u64), CC_OK);
	assert_true(u64 == 0x0102030405060708ull);
	assert_int_equal(bufreader_get_bytes16(&r, 3, &v, &n), CC_OK);
	assert_int_equal(n, 3);
	assert_memory_equal(v, "xyz", 3);
	assert_int_equal(bufreader_get_bytes32(&r, 1, &v, &n), CC_OK);
	assert_int_equal(n, 1);
	assert_int_equal(v[0], 'q');
	/* An empty bytes16 is fine. */
	assert_int_equal(bufreader_get_bytes16(&r, 0, &v, &n), CC_OK);
	assert_int_equal(n, 0);
	assert_int_equal(bufreader_expect_end(&r), CC_OK);
	assert_int_equal(bufreader_get_view(&r, 0, &v), CC_OK);
}

static void test_bufreader_length_over_max(void **state)
{
	(void)state;
	/* Length 5 with 5 bytes present, but a cap of 4: too large, unmoved. */
	static const uint8_t in16[] = {0, 5, 'a', 'b', 'c', 'd', 'e'};
	static const uint8_t in32[] = {0, 0, 0, 5, 'a', 'b', 'c', 'd', 'e'};
	static const uint8_t huge[] = {0xff, 0xff, 0xff, 0xff};
	struct bufreader r;
	const uint8_t *v = NULL;
	size_t n = 77;

	bufreader_init(&r, in16, sizeof in16);
	assert_int_equal(bufreader_get_bytes16(&r, 4, &v, &n), CC_ERR_TOO_LARGE);
	ASSERT_UNMOVED(r, in16, sizeof in16);
	assert_null(v);
	assert_int_equal(n, 77);
	assert_int_equal(bufreader_get_bytes16(&r, 5, &v, &n), CC_OK);
	assert_int_equal(n, 5);

	bufreader_init(&r, in32, sizeof in32);
	assert_int_equal(bufreader_get_bytes32(&r, 4, &v, &n), CC_ERR_TOO_LARGE);
	ASSERT_UNMOVED(r, in32, sizeof in32);
	assert_int_equal(bufreader_get_bytes32(&r, 5, &v, &n), CC_OK);
	assert_int_equal(bufreader_remaining(&r), 0);

	/* Over the cap is reported before "not enough bytes". */
	bufreader_init(&r, huge, sizeof huge);
	assert_int_equal(bufreader_get_bytes32(&r, 1000, &v, &n), CC_ERR_TOO_LARGE);
	assert_int_equal(bufreader_get_bytes32(&r, SIZE_MAX, &v, &n), CC_ERR_TRUNCATED);
	assert_int_equal(bufreader_get_bytes16(&r, 1000, &v, &n), CC_ERR_TOO_LARGE);
	assert_int_equal(bufreader_get_bytes16(&r, 0xffff, &v, &n), CC_ERR_TRUNCATED);
	ASSERT_UNMOVED(r, huge, sizeof huge);
}

static void test_buf_put_layout(void **state)
{
	(void)state;
	static const uint8_t want[] = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09,
				       0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0, 2, 'h', 'i',
				       0, 0, 0, 1, 'z', 0, 3, 'a', 'b', 'c'};
	struct buf b;
	buf_init(&b, 0);
	assert_int_equal(b.max, BUF_MAX_DEFAULT);
	assert_int_equal(buf_put_u8(&b, 0x01), CC_OK);
	assert_int_equal(buf_put_u16(&b, 0x0203), CC_OK);
	assert_int_equal(buf_put_u32(&b, 0x04050607), CC_OK);
	assert_int_equal(buf_put_u64(&b, 0x08090a0b0c0d0e0full), CC_OK);
	assert_int_equal(buf_put_bytes16(&b, "hi", 2), CC_OK);
	assert_int_equal(buf_put_bytes32(&b, "z", 1), CC_OK);
	assert_int_equal(buf_put_str16(&b, "abc"), CC_OK);
	assert_int_equal(b.len, sizeof want);
	assert_memory_equal(b.data, want, sizeof want);
	buf_free(&b);
	assert_null(b.data);
	assert_int_equal(b.len, 0);
	/* Freeing twice is harmless. */
	buf_free(&b);
}

static void test_buf_max_enforced(void **state)
{
	(void)state;
	struct buf b;
	uint8_t *p = NULL;

	buf_init(&b, 10);
	assert_int_equal(buf_put_bytes(&b, pattern, 10), CC_OK);
	assert_int_equal(buf_put_u8(&b, 1), CC_ERR_TOO_LARGE);
	assert_int_equal(buf_put_u16(&b, 1), CC_ERR_TOO_LARGE);
	assert_int_equal(buf_put_u32(&b, 1), CC_ERR_TOO_LARGE);
	assert_int_equal(buf_put_u64(&b, 1), CC_ERR_TOO_LARGE);
	assert_int_equal(buf_put_bytes16(&b, "", 0), CC_ERR_TOO_LARGE);
	assert_int_equal(buf_put_bytes32(&b, "", 0), CC_ERR_TOO_LARGE);
	assert_int_equal(buf_append_space(&b, 1, &p), CC_ERR_TOO_LARGE);
	assert_null(p);
	assert_int_equal(buf_reserve(&b, SIZE_MAX), CC_ERR_TOO_LARGE);
	assert_int_equal(b.len, 10);
	assert_memory_equal(b.data, pattern, 10);
	assert_true(b.cap <= 10);
	/* Zero more bytes always fit. */
	assert_int_equal(buf_put_bytes(&b, NULL, 0), CC_OK);
	buf_free(&b);

	/* A length prefix that fits but a body that does not: nothing written. */
	buf_init(&b, 6);
	assert_int_equal(buf_put_bytes16(&b, "abcde", 5), CC_ERR_TOO_LARGE);
	assert_int_equal(buf_put_bytes32(&b, "abc", 3), CC_ERR_TOO_LARGE);
	assert_int_equal(b.len, 0);
	assert_int_equal(buf_put_bytes16(&b, "abcd", 4), CC_OK);
	assert_int_equal(b.len, 6);
	buf_free(&b);

	/* A bytes16 longer than a u16 can say is refused, whatever the max. */
	uint8_t *big = calloc(1, 0x10000);
	assert_non_null(big);
	buf_init(&b, 0);
	assert_int_equal(buf_put_bytes16(&b, big, 0x10000), CC_ERR_TOO_LARGE);
	assert_int_equal(b.len, 0);
	assert_int_equal(buf_put_bytes16(&b, big, 0xffff), CC_OK);
	assert_int_equal(b.len, 0x10001);
	assert_int_equal(load_be16(b.data), 0xffff);
	buf_free(&b);
	free(big);
}

static void test_buf_grow_and_reset(void **state)
{
	(void)state;
	struct buf b;
	buf_init(&b, 0);
	for (size_t i = 0; i < 5000; i++)
		assert_int_equal(buf_put_u8(&b, (uint8_t)i), CC_OK);
	assert_int_equal(b.len, 5000);
	for (size_t i = 0; i < 5000; i++)
		assert_int_equal(b.data[i], (uint8_t)i);
	size_t cap = b.cap;
	buf_reset(&b);
	assert_int_equal(b.len, 0);
	assert_int_equal(b.cap, cap);
	assert_non_null(b.data);
	/* reset wipes what was written. */
	for (size_t i = 0; i < 5000; i++)
		assert_int_equal(b.data[i], 0);
	buf_free(&b);
}

static void test_buf_consume(void **state)
{
	(void)state;
	struct buf b;
	buf_init(&b, 0);
	assert_int_equal(buf_put_bytes(&b, "abcdefgh", 8), CC_OK);
	buf_consume(&b, 0);
	assert_int_equal(b.len, 8);
	buf_consume(&b, 3);
	assert_int_equal(b.len, 5);
	assert_memory_equal(b.data, "defgh", 5);
	/* The bytes moved out of the tail are wiped. */
	for (size_t i = 5; i < 8; i++)
		assert_int_equal(b.data[i], 0);
	assert_int_equal(buf_put_bytes(&b, "ij", 2), CC_OK);
	assert_memory_equal(b.data, "defghij", 7);
	buf_consume(&b, 7);
	assert_int_equal(b.len, 0);
	assert_int_equal(buf_put_bytes(&b, "k", 1), CC_OK);
	buf_consume(&b, 100);
	assert_int_equal(b.len, 0);
	buf_free(&b);

	/* Consuming from an empty, never-allocated buffer is fine. */
	buf_init(&b, 0);
	buf_consume(&b, 0);
	buf_consume(&b, 1);
	assert_int_equal(b.len, 0);
	buf_free(&b);
}

static void test_hex(void **state)
{
	(void)state;
	static const uint8_t bytes[] = {0x00, 0x01, 0x7f, 0x80, 0xab, 0xcd, 0xef, 0xff};
	char hex[2 * sizeof bytes + 1];
	uint8_t back[sizeof bytes];

	hex_encode(bytes, sizeof bytes, hex);
	assert_string_equal(hex, "00017f80abcdefff");
	assert_int_equal(hex_decode(hex, back, sizeof back), CC_OK);
	assert_memory_equal(back, bytes, sizeof bytes);
	assert_int_equal(hex_decode("00017F80ABCDEFFF", back, sizeof back), CC_OK);
	assert_memory_equal(back, bytes, sizeof bytes);

	hex_encode(bytes, 0, hex);
	assert_string_equal(hex, "");
	assert_int_equal(hex_decode("", back, 0), CC_OK);

	/* Wrong lengths, odd lengths, non-hex characters anywhere. */
	assert_int_equal(hex_decode("00017f80abcdeff", back, sizeof back), CC_ERR_MALFORMED);
	assert_int_equal(hex_decode("00017f80abcdefff00", back, sizeof back), CC_ERR_MALFORMED);
	assert_int_equal(hex_decode("0", back, 1), CC_ERR_MALFORMED);
	assert_int_equal(hex_decode("", back, 1), CC_ERR_MALFORMED);
	assert_int_equal(hex_decode("0g", back, 1), CC_ERR_MALFORMED);
	assert_int_equal(hex_decode("g0", back, 1), CC_ERR_MALFORMED);
	assert_int_equal(hex_decode(" 0", back, 1), CC_ERR_MALFORMED);
	assert_int_equal(hex_decode("0x", back, 1), CC_ERR_MALFORMED);
	assert_int_equal(hex_decode("-1", back, 1), CC_ERR_MALFORMED);

	/* Every byte value survives a round trip. */
	uint8_t all[256], all_back[256];
	char all_hex[513];
	for (size_t i = 0; i < 256; i++)
		all[i] = (uint8_t)i;
	hex_encode(all, sizeof all, all_hex);
	assert_int_equal(strlen(all_hex), 512);
	assert_int_equal(hex_decode(all_hex, all_back, sizeof all_back), CC_OK);
	assert_memory_equal(all, all_back, sizeof all);
}

static void test_be_helpers(void **state)
{
	(void)state;
	uint8_t b[8];
	store_be16(b, 0xa1b2);
	assert_int_equal(b[0], 0xa1);
	assert_int_equal(b[1], 0xb2);
	assert_int_equal(load_be16(b), 0xa1b2);
	store_be32(b, 0xf1e2d3c4);
	assert_int_equal(b[0], 0xf1);
	assert_int_equal(b[3], 0xc4);
	assert_int_equal(load_be32(b), 0xf1e2d3c4);
	store_be64(b, 0x8877665544332211ull);
	assert_int_equal(b[0], 0x88);
	assert_int_equal(b[7], 0x11);
	assert_true(load_be64(b) == 0x8877665544332211ull);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_msg_roundtrip),
		cmocka_unit_test(test_msg_layout),
		cmocka_unit_test(test_msg_type_names),
		cmocka_unit_test(test_msg_request_id),
		cmocka_unit_test(test_decode_unknown_type),
		cmocka_unit_test(test_decode_every_truncation),
		cmocka_unit_test(test_decode_trailing),
		cmocka_unit_test(test_field_caps),
		cmocka_unit_test(test_decode_bad_nick),
		cmocka_unit_test(test_nick_33_chars),
		cmocka_unit_test(test_decode_bad_utf8),
		cmocka_unit_test(test_encode_refuses),
		cmocka_unit_test(test_encode_buffer_full),
		cmocka_unit_test(test_list_iterate),
		cmocka_unit_test(test_item_encode_refuses),
		cmocka_unit_test(test_list_encode_checks),
		cmocka_unit_test(test_list_decode_limits),
		cmocka_unit_test(test_frame_peek),
		cmocka_unit_test(test_frame_peek_over_cap),
		cmocka_unit_test(test_frame_peek_zero_length),
		cmocka_unit_test(test_frame_put_roundtrip),
		cmocka_unit_test(test_frame_put_refuses),
		cmocka_unit_test(test_bufreader_fail_keeps_cursor),
		cmocka_unit_test(test_bufreader_gets),
		cmocka_unit_test(test_bufreader_length_over_max),
		cmocka_unit_test(test_buf_put_layout),
		cmocka_unit_test(test_buf_max_enforced),
		cmocka_unit_test(test_buf_grow_and_reset),
		cmocka_unit_test(test_buf_consume),
		cmocka_unit_test(test_hex),
		cmocka_unit_test(test_be_helpers),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
