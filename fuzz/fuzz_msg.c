/* Fuzz target: the message codec (proto/msg.h).
 *
 * The input is one frame body. proto_msg_decode must not crash; when it
 * accepts, the codec is canonical: re-encoding gives the same bytes, and each
 * list re-encoded item by item gives its raw bytes. On the side, the UTF-8
 * and nickname validators are checked against independent reference
 * implementations on the raw input.
 *
 * CC_FUZZ_GEN_SEEDS=dir writes the seed corpus (fuzz/corpus/msg: one message
 * of every type, and a few near misses) and exits. */
#define FUZZ_NAME "fuzz_msg"
#include "fuzz_common.h"

#include "proto/frame.h"
#include "proto/msg.h"

/* Well-formed UTF-8 after Unicode's table 3-7, without NUL. */
static int ref_utf8_valid(const uint8_t *s, size_t n)
{
	size_t i = 0;
	while (i < n) {
		uint8_t c = s[i];
		size_t extra;
		uint8_t lo = 0x80, hi = 0xbf;  /* range of the second byte */
		if (c == 0)
			return 0;
		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			extra = 1;
		else if (c == 0xe0)
			extra = 2, lo = 0xa0;
		else if ((c >= 0xe1 && c <= 0xec) || c == 0xee || c == 0xef)
			extra = 2;
		else if (c == 0xed)
			extra = 2, hi = 0x9f;
		else if (c == 0xf0)
			extra = 3, lo = 0x90;
		else if (c >= 0xf1 && c <= 0xf3)
			extra = 3;
		else if (c == 0xf4)
			extra = 3, hi = 0x8f;
		else
			return 0;
		if (n - i <= extra)
			return 0;
		if (s[i + 1] < lo || s[i + 1] > hi)
			return 0;
		for (size_t k = 2; k <= extra; k++)
			if (s[i + k] < 0x80 || s[i + k] > 0xbf)
				return 0;
		i += extra + 1;
	}
	return 1;
}

static int ref_nick_valid(const uint8_t *s, size_t n)
{
	static const char alphabet[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-";
	if (n < 1 || n > PROTO_NICK_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (s[i] == 0 || !memchr(alphabet, s[i], sizeof alphabet - 1))
			return 0;
	return 1;
}

/* Every item of a decoded list comes out, re-encodes to the raw bytes, and
 * the iterator then ends. */
static void check_list(const struct proto_list *list, enum proto_item_kind kind)
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
	struct buf raw;

	buf_init(&raw, 0);
	proto_list_iter_init(&it, list, kind);
	for (uint16_t i = 0; i < list->count; i++) {
		CHECK(proto_list_next(&it, &item) == CC_OK);
		CHECK(proto_item_encode(kind, &item, &raw) == CC_OK);
	}
	CHECK(proto_list_next(&it, &item) == CC_ERR_NOT_FOUND);
	CHECK(raw.len == list->raw.len);
	CHECK(raw.len == 0 || memcmp(raw.data, list->raw.p, raw.len) == 0);
	buf_free(&raw);
}

static void check_lists(const struct proto_msg *m)
{
	switch (m->type) {
	case PROTO_USERS_GET:
		check_list(&m->u.users_get.nicks, PROTO_ITEM_NICK);
		break;
	case PROTO_USERS:
		check_list(&m->u.users.users, PROTO_ITEM_USER);
		break;
	case PROTO_ROOM_CREATE:
		check_list(&m->u.room_create.records, PROTO_ITEM_BLOB);
		check_list(&m->u.room_create.keys, PROTO_ITEM_WRAPPED);
		break;
	case PROTO_ROOMS:
		check_list(&m->u.rooms.rooms, PROTO_ITEM_ROOM);
		break;
	case PROTO_ROOM_STATE:
		check_list(&m->u.room_state.records, PROTO_ITEM_CHAIN);
		check_list(&m->u.room_state.users, PROTO_ITEM_USER);
		check_list(&m->u.room_state.keys, PROTO_ITEM_WRAPPED);
		check_list(&m->u.room_state.gone, PROTO_ITEM_GONE);
		break;
	case PROTO_ROOM_RECORD:
		check_list(&m->u.room_record.users, PROTO_ITEM_USER);
		check_list(&m->u.room_record.keys, PROTO_ITEM_WRAPPED);
		break;
	case PROTO_ROOM_ADD:
	case PROTO_ROOM_KICK:
	case PROTO_ROOM_REKEY:
		check_list(&m->u.room_rekey.records, PROTO_ITEM_BLOB);
		check_list(&m->u.room_rekey.keys, PROTO_ITEM_WRAPPED);
		break;
	default:
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proto_msg m;
	struct buf out;

	CHECK(proto_utf8_valid(data, size) == ref_utf8_valid(data, size));
	CHECK(proto_nick_valid(data, size) == ref_nick_valid(data, size));

	cc_err err = proto_msg_decode(data, size, &m);
	if (err != CC_OK) {
		CHECK(err > CC_OK && err < CC_ERR_COUNT_);
		return 0;
	}
	CHECK(size >= 1 && m.type == data[0]);
	CHECK(proto_type_name(m.type) != NULL);

	/* Canonical: the one encoding of these fields is the input. */
	buf_init(&out, 0);
	CHECK(proto_msg_encode(&m, &out) == CC_OK);
	CHECK(out.len == size);
	CHECK(memcmp(out.data, data, size) == 0);
	buf_free(&out);
	check_lists(&m);
	return 0;
}

/* ---- seed generation (CC_FUZZ_GEN_SEEDS=dir) ---- */

static const char *gen_dir;
static uint8_t fill[PROTO_RSA_PUB_MAX];

static struct proto_bytes gen_bytes(size_t n)
{
	return (struct proto_bytes){fill, n};
}

/* Named after the type unless name is given. */
static void gen_msg(const struct proto_msg *m, const char *name)
{
	struct buf out;
	buf_init(&out, 0);
	cc_err err = proto_msg_encode(m, &out);
	if (err != CC_OK) {
		/* A new type whose fields need values: add a case above. */
		fprintf(stderr, "fuzz_msg seeds: type 0x%02x (%s): %s\n", m->type,
			proto_type_name(m->type), cc_err_str(err));
		exit(1);
	}
	fuzz_write(gen_dir, name ? name : proto_type_name(m->type), out.data, out.len);
	buf_free(&out);
}

/* A list of n items built from item, encoded into raw. */
static struct proto_list gen_list(enum proto_item_kind kind, const void *item, uint16_t n,
				  struct buf *raw)
{
	buf_init(raw, 0);
	for (uint16_t i = 0; i < n; i++)
		CHECK(proto_item_encode(kind, item, raw) == CC_OK);
	return (struct proto_list){n, {raw->data, raw->len}};
}

static void gen_seeds(void)
{
	struct proto_msg m;
	struct buf nicks, users, blobs, keys, rooms, gones, chains;

	for (size_t i = 0; i < sizeof fill; i++)
		fill[i] = (uint8_t)(i * 151 + 3);
	struct proto_nick_item nick = {proto_bytes_str("alice")};
	struct proto_user_item user = {proto_bytes_str("bob"), gen_bytes(294), 1, {1, 2, 3},
				       gen_bytes(64), 2, 1700000000000ull, {4, 5, 6},
				       gen_bytes(256)};
	struct proto_blob_item blob = {gen_bytes(100)};
	struct proto_wrapped_item wrapped = {proto_bytes_str("carol"), 1, gen_bytes(84)};
	struct proto_room_item room = {{9, 9, 9}, proto_bytes_str("alice"), 2, 3, 4, 1};
	struct proto_gone_item gone = {{7, 7, 7}, proto_bytes_str("dave")};
	struct proto_chain_item chain = {5, gen_bytes(300)};
	struct proto_list nick_list = gen_list(PROTO_ITEM_NICK, &nick, 2, &nicks);
	struct proto_list user_list = gen_list(PROTO_ITEM_USER, &user, 1, &users);
	struct proto_list blob_list = gen_list(PROTO_ITEM_BLOB, &blob, 2, &blobs);
	struct proto_list key_list = gen_list(PROTO_ITEM_WRAPPED, &wrapped, 1, &keys);
	struct proto_list room_list = gen_list(PROTO_ITEM_ROOM, &room, 1, &rooms);
	struct proto_list gone_list = gen_list(PROTO_ITEM_GONE, &gone, 1, &gones);
	struct proto_list chain_list = gen_list(PROTO_ITEM_CHAIN, &chain, 2, &chains);

	for (unsigned t = 0; t < 256; t++) {
		if (!proto_type_name((uint8_t)t))
			continue;
		/* Plausible values for the fields each type has. */
		memset(&m, 0, sizeof m);
		m.type = (uint8_t)t;
		switch (t) {
		case PROTO_CLIENT_HELLO:
			m.u.client_hello.version = PROTO_VERSION;
			memcpy(m.u.client_hello.eph, fill, PROTO_X25519_LEN);
			break;
		case PROTO_SERVER_HELLO:
			m.u.server_hello.version = PROTO_VERSION;
			m.u.server_hello.server_key = gen_bytes(294);
			break;
		case PROTO_CLIENT_KEY:
			m.u.client_key.session_ct = gen_bytes(256);
			m.u.client_key.sealed_auth = gen_bytes(580);
			break;
		case PROTO_CLIENT_AUTH:
			m.u.client_auth.identity_key = gen_bytes(294);
			m.u.client_auth.nick = proto_bytes_str("alice");
			m.u.client_auth.signature = gen_bytes(256);
			break;
		case PROTO_WELCOME:
			m.u.welcome.nick = proto_bytes_str("alice");
			m.u.welcome.server_time_ms = 1700000000000ull;
			m.u.welcome.max_frame = PROTO_FRAME_MAX_DEFAULT;
			break;
		case PROTO_PING:
		case PROTO_PONG:
			m.u.ping.token = 42;
			break;
		case PROTO_ERROR:
			m.u.error.request_id = 7;
			m.u.error.code = CC_ERR_STATE;
			m.u.error.text = proto_bytes_str("na\xc3\xafve \xe2\x82\xac \xf0\x9d\x84\x9e");
			break;
		case PROTO_SIGNING_KEY:
			m.u.signing_key.request_id = 1;
			m.u.signing_key.version = 1;
			m.u.signing_key.sign_cert = gen_bytes(256);
			break;
		case PROTO_RECEIVE_KEY:
			m.u.receive_key.request_id = 10;
			m.u.receive_key.version = 1;
			m.u.receive_key.created_ms = 1700000000000ull;
			memcpy(m.u.receive_key.recv_pub, fill, PROTO_X25519_LEN);
			m.u.receive_key.recv_cert = gen_bytes(256);
			break;
		case PROTO_KEYS_ACK:
			memcpy(m.u.keys_ack.room_id, fill, PROTO_ROOM_ID_LEN);
			m.u.keys_ack.epoch = 3;
			break;
		case PROTO_KEY_MOVE:
			m.u.key_move.request_id = 11;
			m.u.key_move.new_key = gen_bytes(294);
			m.u.key_move.time_ms = 1700000000000ull;
			m.u.key_move.old_sig = gen_bytes(256);
			m.u.key_move.new_sig = gen_bytes(256);
			break;
		case PROTO_USERS_GET:
			m.u.users_get.request_id = 2;
			m.u.users_get.nicks = nick_list;
			break;
		case PROTO_USERS:
			m.u.users.request_id = 2;
			m.u.users.users = user_list;
			break;
		case PROTO_ROOM_CREATE:
			m.u.room_create.request_id = 3;
			m.u.room_create.title_ct = gen_bytes(40);
			m.u.room_create.records = blob_list;
			m.u.room_create.keys = key_list;
			break;
		case PROTO_ROOMS:
			m.u.rooms.request_id = 4;
			m.u.rooms.rooms = room_list;
			break;
		case PROTO_ROOM_STATE:
			m.u.room_state.request_id = 5;
			m.u.room_state.title_ct = gen_bytes(40);
			m.u.room_state.records = chain_list;
			m.u.room_state.users = user_list;
			m.u.room_state.keys = key_list;
			m.u.room_state.gone = gone_list;
			m.u.room_state.backlog = 3;
			break;
		case PROTO_ROOM_MSG:
			m.u.room_msg.msg_id = 1;
			m.u.room_msg.envelope = gen_bytes(200);
			break;
		case PROTO_MSG_SEND:
			m.u.msg_send.request_id = 6;
			m.u.msg_send.envelope = gen_bytes(200);
			break;
		case PROTO_ROOM_RECORD:
			m.u.room_record.position = 4;
			m.u.room_record.record = gen_bytes(300);
			m.u.room_record.users = user_list;
			m.u.room_record.keys = key_list;
			break;
		case PROTO_ROOM_ADD:
		case PROTO_ROOM_KICK:
		case PROTO_ROOM_REKEY:
		case PROTO_ROOM_MOVE:
			m.u.room_rekey.request_id = 9;
			m.u.room_rekey.records = blob_list;
			m.u.room_rekey.title_ct = gen_bytes(40);
			m.u.room_rekey.keys = key_list;
			break;
		case PROTO_ROOM_LEAVE:
		case PROTO_ROOM_ADMIN:
			m.u.room_leave.request_id = 8;
			m.u.room_leave.record = gen_bytes(300);
			break;
		default:
			/* Only fixed-size fields (ids, request ids): zeros encode. A
			 * request id makes the seed look like real traffic. */
			m.u.room_ref.request_id = t;
			break;
		}
		gen_msg(&m, NULL);
	}

	/* Edges: empty text and lists, a 32-character nickname. */
	memset(&m, 0, sizeof m);
	m.type = PROTO_ERROR;
	gen_msg(&m, "error_empty_text");
	m.type = PROTO_USERS_GET;
	gen_msg(&m, "users_get_empty");
	memset(&m, 0, sizeof m);
	m.type = PROTO_WELCOME;
	m.u.welcome.nick = proto_bytes_str("AZaz09_.-abcdefghijklmnopqrstuvw");
	gen_msg(&m, "welcome_nick32");
	/* Near misses: each one byte away from valid. */
	static const uint8_t overlong[] = {0x7f, 0, 0, 0, 0, 0, 16, 0, 2, 0xc0, 0x80};
	static const uint8_t nick_space[] = {0x12, 0, 0, 0, 1, 0, 1, 0, 3, 'a', ' ', 'b'};
	static const uint8_t trailing[] = {0x06, 0, 0, 0, 0, 0, 0, 0, 1, 0};
	static const uint8_t unknown[] = {0x08, 0, 0, 0, 0, 0, 0, 0, 1};
	fuzz_write(gen_dir, "error_overlong_utf8", overlong, sizeof overlong);
	fuzz_write(gen_dir, "users_get_bad_nick", nick_space, sizeof nick_space);
	fuzz_write(gen_dir, "ping_trailing", trailing, sizeof trailing);
	fuzz_write(gen_dir, "unknown_type", unknown, sizeof unknown);
	/* A ROOM_STATE as protocol 1 wrote it: its gone list of blobs
	 * (fingerprint || nick in one bytes16) is no list of gone items. */
	struct buf v1;
	buf_init(&v1, 0);
	CHECK(buf_put_u8(&v1, PROTO_ROOM_STATE) == CC_OK && buf_put_u32(&v1, 5) == CC_OK &&
	      buf_put_bytes(&v1, fill, PROTO_ROOM_ID_LEN) == CC_OK &&
	      buf_put_bytes16(&v1, fill, 0) == CC_OK && buf_put_u16(&v1, 0) == CC_OK &&
	      buf_put_u16(&v1, 0) == CC_OK && buf_put_u16(&v1, 0) == CC_OK &&
	      buf_put_u16(&v1, 1) == CC_OK && buf_put_u16(&v1, 36) == CC_OK &&
	      buf_put_bytes(&v1, fill, 32) == CC_OK && buf_put_bytes(&v1, "dave", 4) == CC_OK &&
	      buf_put_u32(&v1, 0) == CC_OK);
	fuzz_write(gen_dir, "room_state_v1_gone", v1.data, v1.len);
	buf_free(&v1);
	buf_free(&nicks);
	buf_free(&users);
	buf_free(&blobs);
	buf_free(&keys);
	buf_free(&rooms);
	buf_free(&gones);
	buf_free(&chains);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	gen_dir = getenv("CC_FUZZ_GEN_SEEDS");
	if (gen_dir) {
		gen_seeds();
		exit(0);
	}
	return 0;
}
