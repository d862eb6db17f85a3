/* The server against hostile input, part 2: an authenticated attacker's
 * requests. mallory, registered with her own key and a member of nothing,
 * sends messages in the wrong direction or state, messages that do not
 * decode (cut, trailing, counts that lie, lists over their caps, nicknames
 * with control characters or invalid UTF-8), requests about rooms that are
 * not hers, and keys, certificates and signatures that do not verify. Each
 * row has its expected outcome: an ERROR answering the request with the
 * connection kept (a PING answered after it), or an ERROR and the close.
 * The runner (tests/support/badin.h) checks the server and two batch
 * clients after each row, then runs the table 20 times more and measures
 * the server's memory.
 *
 * Not repeated from elsewhere: a non-member's MSG_SEND, ROOM_JOIN,
 * ROOM_DISCONNECT and ROOM_ADD, a forged sender, a stale epoch, text over
 * its limit, a member's ROOM_ADD (tests/test_itest_rooms.c); replays and a
 * closed epoch (test_itest_hostile_server.c); CLIENT_HELLO in a record
 * (test_itest_transport.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "e2e/e2e.h"
#include "proto/frame.h"
#include "proto/msg.h"
#include "proto/room.h"
#include "support/badin.h"
#include "transport/chan.h"
#include "util/buf.h"

#define REPS 20
#define SERVER_KEY_PEM CC_SOURCE_DIR "/tests/data/example_server_key.pem"

static struct crypto_rsa_key *mallory_key, *alice_key, *other_key;
static uint8_t mallory_fp[CRYPTO_FINGERPRINT_LEN], alice_fp[CRYPTO_FINGERPRINT_LEN];

/* ---- helpers ----------------------------------------------------------------- */

/* One message body (no frame) in a record, as mallory; the server must send
 * ERROR CODE and close. */
static void body_closes(struct badin *b, const uint8_t *body, size_t n, cc_err code)
{
	struct ichan w;
	struct buf plain;
	badin_mallory(b, &w);
	buf_init(&plain, BADIN_MAX_FRAME);
	assert_int_equal(buf_put_u32(&plain, (uint32_t)n), CC_OK);
	assert_int_equal(buf_put_bytes(&plain, body, n), CC_OK);
	badin_post_plain(&w, plain.data, plain.len);
	buf_free(&plain);
	badin_expect_error_close(&w, code);
}

/* M, sent by mallory as request ID: answered by ERROR CODE, kept open. */
static void request_refused(struct badin *b, const struct proto_msg *m, uint32_t id, cc_err code)
{
	struct ichan w;
	badin_mallory(b, &w);
	badin_post(&w, m);
	badin_expect_answer_error(&w, id, code);
	ichan_close(&w);
}

/* A record of ACTION in ROOM signed by KEY (as NICK with FP), with seq 0. */
static void make_record(struct buf *out, const uint8_t room[PROTO_ROOM_ID_LEN], uint8_t action,
			const struct crypto_rsa_key *key, const char *nick,
			const uint8_t fp[CRYPTO_FINGERPRINT_LEN])
{
	struct proto_record rec = {0};
	rec.version = PROTO_RECORD_VERSION;
	memcpy(rec.room_id, room, PROTO_ROOM_ID_LEN);
	rec.action = action;
	rec.actor = rec.subject = proto_bytes_str(nick);
	memcpy(rec.actor_fp, fp, CRYPTO_FINGERPRINT_LEN);
	memcpy(rec.subject_fp, fp, CRYPTO_FINGERPRINT_LEN);
	memset(rec.key_commit, 0xc0, sizeof rec.key_commit);
	rec.time_ms = 1700000000000ull;
	buf_reset(out);
	assert_int_equal(e2e_record_sign(key, &rec, out), CC_OK);
}

/* A ROOM_CREATE of ROOM with the one record REC and one junk key for
 * mallory, as request 7, into M (views into the buffers). */
static void room_create(struct proto_msg *m, const uint8_t room[PROTO_ROOM_ID_LEN],
			const struct buf *rec, struct buf *records, struct buf *keys)
{
	static const uint8_t junk[84] = {0, 0, 0, 1};
	struct proto_blob_item blob = {.data = {rec->data, rec->len}};
	struct proto_wrapped_item wi = {.nick = proto_bytes_str("mallory"), .epoch = 0,
					.wrapped = {junk, sizeof junk}};
	buf_reset(records);
	buf_reset(keys);
	assert_int_equal(proto_item_encode(PROTO_ITEM_BLOB, &blob, records), CC_OK);
	assert_int_equal(proto_item_encode(PROTO_ITEM_WRAPPED, &wi, keys), CC_OK);
	memset(m, 0, sizeof *m);
	m->type = PROTO_ROOM_CREATE;
	m->u.room_create.request_id = 7;
	memcpy(m->u.room_create.room_id, room, PROTO_ROOM_ID_LEN);
	m->u.room_create.title_ct = (struct proto_bytes){(const uint8_t *)"junk title", 10};
	m->u.room_create.records = (struct proto_list){1, {records->data, records->len}};
	m->u.room_create.keys = (struct proto_list){1, {keys->data, keys->len}};
}

/* A fresh random room id. */
static void new_room_id(uint8_t room[PROTO_ROOM_ID_LEN])
{
	assert_int_equal(crypto_random_bytes(room, PROTO_ROOM_ID_LEN), CC_OK);
}

/* ---- wrong direction, wrong state -------------------------------------------------- */

static void each_in_record(struct badin *b, const char *const *names, size_t n)
{
	struct buf m;
	buf_init(&m, BADIN_MAX_FRAME);
	for (size_t i = 0; i < n; i++) {
		badin_corpus_msg(names[i], &m);
		body_closes(b, m.data, m.len, CC_ERR_STATE);
	}
	buf_free(&m);
}

static const char *const handshake_types[] = {"client_key", "client_auth", "server_hello",
					       "welcome"};
static const char *const answer_types[] = {"ok", "users", "rooms", "room_state", "room_msg",
					    "sent", "room_record", "join_done", "rekey_owed",
					    "error"};
#define N_OF(a) (sizeof a / sizeof a[0])

static void row_handshake_in_record(struct badin *b)
{
	each_in_record(b, handshake_types, N_OF(handshake_types));
}

static void row_answers_from_client(struct badin *b)
{
	each_in_record(b, answer_types, N_OF(answer_types));
}

/* ---- messages that do not decode ------------------------------------------------------ */

static void row_unknown_type(struct badin *b)
{
	const uint8_t body[] = {0xee, 0, 0, 0, 1};
	body_closes(b, body, sizeof body, CC_ERR_BAD_TYPE);
}

static void row_join_cut(struct badin *b)
{
	uint8_t body[1 + 4 + PROTO_ROOM_ID_LEN] = {PROTO_ROOM_JOIN, 0, 0, 0, 9};
	body_closes(b, body, sizeof body - 3, CC_ERR_TRUNCATED);
}

static void row_rooms_list_trailing(struct badin *b)
{
	const uint8_t body[] = {PROTO_ROOMS_LIST, 0, 0, 0, 9, 0};
	body_closes(b, body, sizeof body, CC_ERR_TRAILING);
}

/* USERS_GET: u32 request_id, u16 count, then nick items (bytes16). */
static void users_get_body(struct buf *body, uint16_t count, const char *const *nicks, size_t n)
{
	buf_reset(body);
	assert_int_equal(buf_put_u8(body, PROTO_USERS_GET), CC_OK);
	assert_int_equal(buf_put_u32(body, 9), CC_OK);
	assert_int_equal(buf_put_u16(body, count), CC_OK);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(buf_put_bytes16(body, nicks[i], strlen(nicks[i])), CC_OK);
}

/* A count of 65535 with one item behind it. */
static void row_count_lies(struct badin *b)
{
	static const char *const one[] = {"alice"};
	struct buf body;
	buf_init(&body, BADIN_MAX_FRAME);
	users_get_body(&body, 0xffff, one, 1);
	body_closes(b, body.data, body.len, CC_ERR_TOO_LARGE);
	buf_free(&body);
}

/* 8193 items: one over the list cap. */
static void row_list_over_cap(struct badin *b)
{
	struct buf body;
	buf_init(&body, BADIN_MAX_FRAME);
	users_get_body(&body, PROTO_LIST_MAX + 1, NULL, 0);
	for (int i = 0; i <= PROTO_LIST_MAX; i++)
		assert_int_equal(buf_put_bytes16(&body, "a", 1), CC_OK);
	body_closes(b, body.data, body.len, CC_ERR_TOO_LARGE);
	buf_free(&body);
}

static void row_nick_control_chars(struct badin *b)
{
	static const char *const bad[] = {"\x1b[31mred"};
	struct buf body;
	buf_init(&body, BADIN_MAX_FRAME);
	users_get_body(&body, 1, bad, 1);
	body_closes(b, body.data, body.len, CC_ERR_BAD_NICK);
	buf_free(&body);
}

static void row_nick_invalid_utf8(struct badin *b)
{
	static const char *const bad[] = {"al\xc3\x28ice"};
	struct buf body;
	buf_init(&body, BADIN_MAX_FRAME);
	users_get_body(&body, 1, bad, 1);
	body_closes(b, body.data, body.len, CC_ERR_BAD_NICK);
	buf_free(&body);
}

static void row_nick_too_long(struct badin *b)
{
	static const char *const bad[] = {"abcdefghijklmnopqrstuvwxyz0123456"};  /* 33 */
	struct buf body;
	buf_init(&body, BADIN_MAX_FRAME);
	users_get_body(&body, 1, bad, 1);
	body_closes(b, body.data, body.len, CC_ERR_BAD_NICK);
	buf_free(&body);
}

/* A title over its cap of 512 in a ROOM_CREATE. */
static void row_title_over_cap(struct badin *b)
{
	struct buf body;
	buf_init(&body, BADIN_MAX_FRAME);
	assert_int_equal(buf_put_u8(&body, PROTO_ROOM_CREATE), CC_OK);
	assert_int_equal(buf_put_u32(&body, 9), CC_OK);
	uint8_t room[PROTO_ROOM_ID_LEN] = {1};
	assert_int_equal(buf_put_bytes(&body, room, sizeof room), CC_OK);
	uint8_t *title;
	assert_int_equal(buf_put_u16(&body, PROTO_TITLE_CT_MAX + 1), CC_OK);
	assert_int_equal(buf_append_space(&body, PROTO_TITLE_CT_MAX + 1, &title), CC_OK);
	memset(title, 'T', PROTO_TITLE_CT_MAX + 1);
	assert_int_equal(buf_put_u16(&body, 0), CC_OK);
	assert_int_equal(buf_put_u16(&body, 0), CC_OK);
	body_closes(b, body.data, body.len, CC_ERR_TOO_LARGE);
	buf_free(&body);
}

/* ---- huge counts, answered --------------------------------------------------------------- */

/* 4096 nicknames nobody has: one lookup each at most, then unknown_user. */
static void row_users_get_4096_unknown(struct badin *b)
{
	struct buf raw;
	char nick[16];
	buf_init(&raw, BADIN_MAX_FRAME);
	for (int i = 0; i < 4096; i++) {
		snprintf(nick, sizeof nick, "nobody%d", i);
		struct proto_nick_item it = {.nick = proto_bytes_str(nick)};
		assert_int_equal(proto_item_encode(PROTO_ITEM_NICK, &it, &raw), CC_OK);
	}
	struct proto_msg m = {.type = PROTO_USERS_GET};
	m.u.users_get.request_id = 11;
	m.u.users_get.nicks = (struct proto_list){4096, {raw.data, raw.len}};
	request_refused(b, &m, 11, CC_ERR_UNKNOWN_USER);
	buf_free(&raw);
}

/* A room of 5,121 records (more than a room has members): refused on the
 * count, before any record is read. */
static void row_room_over_members(struct badin *b)
{
	struct buf records, keys;
	buf_init(&records, BADIN_MAX_FRAME);
	buf_init(&keys, BADIN_MAX_FRAME);
	for (int i = 0; i < 5121; i++) {
		static const uint8_t junk[8] = {1};
		struct proto_blob_item blob = {.data = {junk, sizeof junk}};
		assert_int_equal(proto_item_encode(PROTO_ITEM_BLOB, &blob, &records), CC_OK);
	}
	struct proto_msg m = {.type = PROTO_ROOM_CREATE};
	m.u.room_create.request_id = 12;
	new_room_id(m.u.room_create.room_id);
	m.u.room_create.records = (struct proto_list){5121, {records.data, records.len}};
	m.u.room_create.keys = (struct proto_list){0, {keys.data, 0}};
	request_refused(b, &m, 12, CC_ERR_LIMIT);
	buf_free(&records);
	buf_free(&keys);
}

/* ---- rooms that are not hers ------------------------------------------------------------- */

static void not_hers(struct badin *b, uint8_t type)
{
	struct proto_msg m = {.type = type};
	struct buf rec;
	buf_init(&rec, PROTO_RECORD_MAX);
	make_record(&rec, b->room_id, PROTO_REC_LEAVE, mallory_key, "mallory", mallory_fp);
	switch (type) {
	case PROTO_ROOM_FETCH:
		m.u.room_ref.request_id = 21;
		memcpy(m.u.room_ref.room_id, b->room_id, PROTO_ROOM_ID_LEN);
		break;
	case PROTO_ROOM_LEAVE:
	case PROTO_ROOM_ADMIN:
		m.u.room_leave.request_id = 21;
		memcpy(m.u.room_leave.room_id, b->room_id, PROTO_ROOM_ID_LEN);
		m.u.room_leave.record = (struct proto_bytes){rec.data, rec.len};
		break;
	default:  /* ROOM_KICK, ROOM_REKEY, ROOM_MOVE */
		m.u.room_rekey.request_id = 21;
		memcpy(m.u.room_rekey.room_id, b->room_id, PROTO_ROOM_ID_LEN);
		m.u.room_rekey.title_ct = (struct proto_bytes){(const uint8_t *)"junk", 4};
		break;
	}
	request_refused(b, &m, 21, CC_ERR_NO_SUCH_ROOM);
	buf_free(&rec);
}

static void row_fetch_not_hers(struct badin *b) { not_hers(b, PROTO_ROOM_FETCH); }
static void row_leave_not_hers(struct badin *b) { not_hers(b, PROTO_ROOM_LEAVE); }
static void row_admin_not_hers(struct badin *b) { not_hers(b, PROTO_ROOM_ADMIN); }
static void row_kick_not_hers(struct badin *b) { not_hers(b, PROTO_ROOM_KICK); }
static void row_rekey_not_hers(struct badin *b) { not_hers(b, PROTO_ROOM_REKEY); }
static void row_move_not_hers(struct badin *b) { not_hers(b, PROTO_ROOM_MOVE); }

/* Her own CREATE of the id of alice's room. */
static void row_create_taken_id(struct badin *b)
{
	struct buf rec, records, keys;
	struct proto_msg m;
	buf_init(&rec, PROTO_RECORD_MAX);
	buf_init(&records, 8192);
	buf_init(&keys, 8192);
	make_record(&rec, b->room_id, PROTO_REC_CREATE, mallory_key, "mallory", mallory_fp);
	room_create(&m, b->room_id, &rec, &records, &keys);
	request_refused(b, &m, 7, CC_ERR_EXISTS);
	buf_free(&rec);
	buf_free(&records);
	buf_free(&keys);
}

/* ROOM_READ and KEYS_ACK of alice's room, with the largest numbers: no
 * answer is due, and nothing changes; the connection goes on. */
static void row_read_and_ack_not_hers(struct badin *b)
{
	struct ichan w;
	struct proto_msg m = {.type = PROTO_ROOM_READ};
	badin_mallory(b, &w);
	memcpy(m.u.room_read.room_id, b->room_id, PROTO_ROOM_ID_LEN);
	m.u.room_read.msg_id = UINT64_MAX;
	badin_post(&w, &m);
	memset(&m, 0, sizeof m);
	m.type = PROTO_KEYS_ACK;
	memcpy(m.u.keys_ack.room_id, b->room_id, PROTO_ROOM_ID_LEN);
	m.u.keys_ack.epoch = UINT32_MAX;
	badin_post(&w, &m);
	badin_ping(&w);
	ichan_close(&w);
}

/* ---- keys, certificates, signatures ------------------------------------------------------ */

static void row_create_junk_record(struct badin *b)
{
	struct buf rec, records, keys;
	struct proto_msg m;
	uint8_t room[PROTO_ROOM_ID_LEN];
	buf_init(&rec, PROTO_RECORD_MAX);
	buf_init(&records, 8192);
	buf_init(&keys, 8192);
	new_room_id(room);
	/* The version right, then 18 bytes of junk: cut short. */
	assert_int_equal(buf_put_u8(&rec, PROTO_RECORD_VERSION), CC_OK);
	assert_int_equal(buf_put_bytes(&rec, "not a record at al", 18), CC_OK);
	room_create(&m, room, &rec, &records, &keys);
	request_refused(b, &m, 7, CC_ERR_TRUNCATED);
	buf_free(&rec);
	buf_free(&records);
	buf_free(&keys);
}

/* Her own CREATE with one bit of its signature flipped. */
static void row_create_bad_signature(struct badin *b)
{
	struct buf rec, records, keys;
	struct proto_msg m;
	uint8_t room[PROTO_ROOM_ID_LEN];
	buf_init(&rec, PROTO_RECORD_MAX);
	buf_init(&records, 8192);
	buf_init(&keys, 8192);
	new_room_id(room);
	make_record(&rec, room, PROTO_REC_CREATE, mallory_key, "mallory", mallory_fp);
	rec.data[rec.len - 5] ^= 0x01;
	room_create(&m, room, &rec, &records, &keys);
	request_refused(b, &m, 7, CC_ERR_SECURITY);
	buf_free(&rec);
	buf_free(&records);
	buf_free(&keys);
}

/* A CREATE by alice, well signed by her key, sent in mallory's session. */
static void row_create_by_another(struct badin *b)
{
	struct buf rec, records, keys;
	struct proto_msg m;
	uint8_t room[PROTO_ROOM_ID_LEN];
	buf_init(&rec, PROTO_RECORD_MAX);
	buf_init(&records, 8192);
	buf_init(&keys, 8192);
	new_room_id(room);
	make_record(&rec, room, PROTO_REC_CREATE, alice_key, "alice", alice_fp);
	room_create(&m, room, &rec, &records, &keys);
	request_refused(b, &m, 7, CC_ERR_FORBIDDEN);
	buf_free(&rec);
	buf_free(&records);
	buf_free(&keys);
}

static void row_signing_key_junk_cert(struct badin *b)
{
	uint8_t cert[256];
	struct proto_msg m = {.type = PROTO_SIGNING_KEY};
	memset(cert, 0x99, sizeof cert);
	m.u.signing_key.request_id = 31;
	m.u.signing_key.version = 1;
	memset(m.u.signing_key.sign_pub, 0x12, sizeof m.u.signing_key.sign_pub);
	m.u.signing_key.sign_cert = (struct proto_bytes){cert, sizeof cert};
	request_refused(b, &m, 31, CC_ERR_AUTH);
}

static void row_receive_key_junk_cert(struct badin *b)
{
	uint8_t cert[256];
	struct proto_msg m = {.type = PROTO_RECEIVE_KEY};
	memset(cert, 0x77, sizeof cert);
	m.u.receive_key.request_id = 32;
	m.u.receive_key.version = 1;
	m.u.receive_key.created_ms = 1700000000000ull;
	memset(m.u.receive_key.recv_pub, 0x21, sizeof m.u.receive_key.recv_pub);
	m.u.receive_key.recv_cert = (struct proto_bytes){cert, sizeof cert};
	request_refused(b, &m, 32, CC_ERR_AUTH);
}

static void row_receive_key_version_zero(struct badin *b)
{
	struct buf cert;
	struct proto_msg m = {.type = PROTO_RECEIVE_KEY};
	buf_init(&cert, PROTO_SIGN_CERT_MAX);
	m.u.receive_key.request_id = 33;
	m.u.receive_key.version = 0;
	m.u.receive_key.created_ms = 1700000000000ull;
	memset(m.u.receive_key.recv_pub, 0x21, sizeof m.u.receive_key.recv_pub);
	/* Our own code will not certify version 0: a certificate of version 1
	 * under it. */
	assert_int_equal(e2e_recv_cert_make(mallory_key, 1, m.u.receive_key.created_ms,
					    m.u.receive_key.recv_pub, &cert), CC_OK);
	m.u.receive_key.recv_cert = (struct proto_bytes){cert.data, cert.len};
	request_refused(b, &m, 33, CC_ERR_AUTH);
	buf_free(&cert);
}

/* A receiving key of all zeros (a low-order point that would make every
 * secret wrapped to it public), certified by her own key. */
static void row_receive_key_zero_point(struct badin *b)
{
	struct buf cert;
	struct proto_msg m = {.type = PROTO_RECEIVE_KEY};
	buf_init(&cert, PROTO_SIGN_CERT_MAX);
	m.u.receive_key.request_id = 34;
	m.u.receive_key.version = 1;
	m.u.receive_key.created_ms = 1700000000000ull;
	assert_int_equal(e2e_recv_cert_make(mallory_key, 1, m.u.receive_key.created_ms,
					    m.u.receive_key.recv_pub, &cert), CC_OK);
	m.u.receive_key.recv_cert = (struct proto_bytes){cert.data, cert.len};
	request_refused(b, &m, 34, CC_ERR_MALFORMED);
	buf_free(&cert);
}

static void row_key_move_junk_key(struct badin *b)
{
	uint8_t der[300], sig[256];
	struct proto_msg m = {.type = PROTO_KEY_MOVE};
	memset(der, 0x30, sizeof der);
	memset(sig, 0x01, sizeof sig);
	m.u.key_move.request_id = 41;
	m.u.key_move.new_key = (struct proto_bytes){der, sizeof der};
	m.u.key_move.time_ms = 1700000000000ull;
	m.u.key_move.old_sig = m.u.key_move.new_sig = (struct proto_bytes){sig, sizeof sig};
	request_refused(b, &m, 41, CC_ERR_MALFORMED);
}

/* A real RSA key as the new one, signatures of junk. */
static void row_key_move_bad_signatures(struct badin *b)
{
	uint8_t sig[256];
	struct buf der;
	struct proto_msg m = {.type = PROTO_KEY_MOVE};
	buf_init(&der, PROTO_RSA_PUB_MAX);
	assert_int_equal(crypto_rsa_public_to_der(other_key, &der), CC_OK);
	memset(sig, 0x01, sizeof sig);
	m.u.key_move.request_id = 42;
	m.u.key_move.new_key = (struct proto_bytes){der.data, der.len};
	m.u.key_move.time_ms = 1700000000000ull;
	m.u.key_move.old_sig = m.u.key_move.new_sig = (struct proto_bytes){sig, sizeof sig};
	request_refused(b, &m, 42, CC_ERR_AUTH);
	buf_free(&der);
}

/* An envelope that does not decode, and one of protocol version 1. */
static void row_envelope_junk(struct badin *b)
{
	static const uint8_t junk[40] = {PROTO_ENVELOPE_VERSION, 0xff};
	struct proto_msg m = {.type = PROTO_MSG_SEND};
	m.u.msg_send.request_id = 51;
	m.u.msg_send.envelope = (struct proto_bytes){junk, sizeof junk};
	request_refused(b, &m, 51, CC_ERR_BAD_NICK);  /* its sender field is junk */
}

static void row_envelope_old_version(struct badin *b)
{
	struct buf env;
	buf_init(&env, PROTO_ENVELOPE_MAX);
	ichan_junk_envelope(&env, b->room_id, b->room_epoch, "mallory", 1);
	env.data[0] = 1;
	struct proto_msg m = {.type = PROTO_MSG_SEND};
	m.u.msg_send.request_id = 52;
	m.u.msg_send.envelope = (struct proto_bytes){env.data, env.len};
	request_refused(b, &m, 52, CC_ERR_VERSION);
	buf_free(&env);
}

/* ---- the table ------------------------------------------------------------------------------ */

static const struct badin_row rows[] = {
	{"each handshake message in a record", "wrong state", row_handshake_in_record, false},
	{"each server-to-client message from a client", "wrong state", row_answers_from_client,
	 false},
	{"unknown type 0xee in a record", "bad type", row_unknown_type, false},
	{"ROOM_JOIN cut short", "truncated", row_join_cut, false},
	{"ROOMS_LIST and a trailing byte", "trailing", row_rooms_list_trailing, false},
	{"USERS_GET count 65535, one item", "huge count", row_count_lies, false},
	{"USERS_GET of 8193 items", "flood", row_list_over_cap, false},
	{"nickname with an escape sequence", "control chars", row_nick_control_chars, false},
	{"nickname of invalid UTF-8", "invalid UTF-8", row_nick_invalid_utf8, false},
	{"nickname of 33 characters", "oversized length", row_nick_too_long, false},
	{"ROOM_CREATE title of 513 bytes", "oversized length", row_title_over_cap, false},
	{"USERS_GET of 4096 unknown nicknames", "huge count", row_users_get_4096_unknown, false},
	{"ROOM_CREATE of 5,121 records", "flood", row_room_over_members, false},
	{"ROOM_FETCH of alice's room", "not hers", row_fetch_not_hers, false},
	{"ROOM_LEAVE of alice's room", "not hers", row_leave_not_hers, false},
	{"ROOM_ADMIN of alice's room", "not hers", row_admin_not_hers, false},
	{"ROOM_KICK of alice's room", "not hers", row_kick_not_hers, false},
	{"ROOM_REKEY of alice's room", "not hers", row_rekey_not_hers, false},
	{"ROOM_MOVE of alice's room", "not hers", row_move_not_hers, false},
	{"ROOM_CREATE with alice's room id", "not hers", row_create_taken_id, false},
	{"ROOM_READ, KEYS_ACK of alice's room, max", "not hers", row_read_and_ack_not_hers,
	 false},
	{"ROOM_CREATE of a junk record", "invalid record", row_create_junk_record, false},
	{"ROOM_CREATE, a signature bit flipped", "invalid signature", row_create_bad_signature,
	 false},
	{"ROOM_CREATE signed by alice's key", "invalid signature", row_create_by_another, false},
	{"SIGNING_KEY with a junk certificate", "invalid key", row_signing_key_junk_cert, false},
	{"RECEIVE_KEY with a junk certificate", "invalid key", row_receive_key_junk_cert, false},
	{"RECEIVE_KEY version 0, certified as 1", "invalid key", row_receive_key_version_zero, false},
	{"RECEIVE_KEY of zeros, certified", "invalid point", row_receive_key_zero_point, false},
	{"KEY_MOVE to junk DER", "invalid key", row_key_move_junk_key, false},
	{"KEY_MOVE with junk signatures", "invalid signature", row_key_move_bad_signatures,
	 false},
	{"MSG_SEND of an envelope of junk", "invalid envelope", row_envelope_junk, false},
	{"MSG_SEND of a version 1 envelope", "wrong version", row_envelope_old_version, false},
};

static void test_bad_requests(void **state)
{
	struct badin b;
	(void)state;
	badin_start(&b, "bad-requests");
	assert_int_equal(crypto_rsa_load_private_file(itest_path(b.mallory_home, "identity.pem"),
						      &mallory_key), CC_OK);
	assert_int_equal(crypto_rsa_fingerprint(mallory_key, mallory_fp), CC_OK);
	assert_int_equal(crypto_rsa_load_private_file(itest_path(b.alice_home, "identity.pem"),
						      &alice_key), CC_OK);
	assert_int_equal(crypto_rsa_fingerprint(alice_key, alice_fp), CC_OK);
	assert_int_equal(crypto_rsa_load_private_file(SERVER_KEY_PEM, &other_key), CC_OK);
	size_t n = badin_run_table(&b, rows, N_OF(rows), REPS);
	fprintf(stderr, "%zu rows (%zu distinct inputs)\n", n,
		n - 3 + N_OF(handshake_types) + N_OF(answer_types) + 2);
	crypto_rsa_free(mallory_key);
	crypto_rsa_free(alice_key);
	crypto_rsa_free(other_key);
	badin_stop(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_bad_requests, itest_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
