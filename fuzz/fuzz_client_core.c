/* The client core against a hostile server: what a server may send after
 * the handshake, fed into the real client (src/client/core/) over a real
 * loopback socket and its real read path (records, inner frames, dispatch).
 *
 * For every input: a fresh client (the example client key, a new client.db
 * in a scratch home) connects to a server played here in-process with the
 * example server key; the harness completes the handshake and registration
 * honestly (WELCOME, OK to SIGNING_KEY and RECEIVE_KEY, an empty ROOMS to the
 * sweep), then asks the client to join the room FUZZ_ROOM (its ROOM_JOIN's
 * request_id is FUZZ_JOIN_ID). Then the input is the server's word:
 *
 *	{ u16 length || message body }*      (the last may be cut short)
 *
 * each body sent as one inner frame, all of them sealed into records and
 * written at once, and the loop run until both sides are quiet. Nothing the
 * client is told may crash it, leak, or make it show a message (no input can
 * sign one: CLIENT_EV_MESSAGE would be a forgery accepted), and every error
 * event has a code and a message. CC_FUZZ_GEN_SEEDS=dir writes the seeds. */
#define FUZZ_NAME "fuzz_client_core"
#include "fuzz_common.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client/core/client.h"
#include "crypto/crypto.h"
#include "e2e/e2e.h"
#include "proto/frame.h"
#include "proto/msg.h"
#include "proto/room.h"
#include "transport/chan.h"
#include "util/log.h"

#define FUZZ_NICK "fuzzer"
/* The request ids the client's first requests get: SIGNING_KEY 1,
 * RECEIVE_KEY 2, the sweep's ROOMS_LIST 3, then the join. The harness
 * checks them, so that seeds naming them stay meaningful. */
#define FUZZ_JOIN_ID 4u
static const uint8_t fuzz_room[PROTO_ROOM_ID_LEN] = {
	0xf0, 0x22, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01};
static const uint8_t fuzz_other_room[PROTO_ROOM_ID_LEN] = {
	0xf0, 0x22, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02};

static struct event_base *base;
static struct crypto_rsa_key *server_key, *client_key;
static struct buf client_key_der;
static uint8_t client_fp[CRYPTO_FINGERPRINT_LEN];
static int listen_fd = -1;
static uint16_t listen_port;
static char home[256];

/* ---- the in-process server ---------------------------------------------- */

struct fake_server {
	int fd;
	struct chan *ch;
	struct buf in, out;
	bool closed;
	uint32_t join_id;     /* the ROOM_JOIN's request_id, once seen */
	bool answer;          /* registration: answer the client's requests */
};

static void srv_send(struct fake_server *s, const struct proto_msg *m)
{
	CHECK(chan_send_msg(s->ch, m, &s->out) == CC_OK);
}

static void srv_on_message(struct fake_server *s, const uint8_t *body, size_t len)
{
	struct proto_msg m, a = {0};
	CHECK(proto_msg_decode(body, len, &m) == CC_OK);  /* the client's own output */
	if (m.type == PROTO_PING) {
		a.type = PROTO_PONG;
		a.u.ping.token = m.u.ping.token;
		srv_send(s, &a);
		return;
	}
	if (m.type == PROTO_ROOM_JOIN)
		s->join_id = m.u.room_ref.request_id;
	if (!s->answer)
		return;
	switch (m.type) {
	case PROTO_SIGNING_KEY:
	case PROTO_RECEIVE_KEY:
		a.type = PROTO_OK;
		a.u.request.request_id = proto_msg_request_id(&m);
		srv_send(s, &a);
		break;
	case PROTO_ROOMS_LIST:
		a.type = PROTO_ROOMS;
		a.u.rooms.request_id = m.u.request.request_id;
		srv_send(s, &a);
		break;
	default:
		break;
	}
}

/* Reads what the client sent and answers it: 1 if anything came. */
static int srv_poll(struct fake_server *s)
{
	uint8_t tmp[16384];
	int got = 0;
	for (;;) {
		ssize_t n = recv(s->fd, tmp, sizeof tmp, MSG_DONTWAIT);
		if (n > 0) {
			CHECK(buf_put_bytes(&s->in, tmp, (size_t)n) == CC_OK);
			got = 1;
			continue;
		}
		if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
			s->closed = true;
		break;
	}
	size_t off = 0, body_len;
	while (s->in.len - off >= PROTO_FRAME_HEADER_LEN) {
		CHECK(proto_frame_header(s->in.data + off, chan_frame_cap(s->ch), &body_len) ==
		      CC_OK);
		size_t flen = PROTO_FRAME_HEADER_LEN + body_len;
		if (s->in.len - off < flen)
			break;
		enum chan_event ev;
		CHECK(chan_recv_frame(s->ch, s->in.data + off, flen, &s->out, &ev) == CC_OK);
		off += flen;
		if (ev == CHAN_EVENT_OPEN) {
			struct proto_msg w = {.type = PROTO_WELCOME};
			w.u.welcome.nick = proto_bytes_str(FUZZ_NICK);
			memcpy(w.u.welcome.fingerprint, client_fp, sizeof client_fp);
			w.u.welcome.server_time_ms = 1700000000000ull;
			w.u.welcome.max_frame = PROTO_FRAME_MAX_DEFAULT;
			srv_send(s, &w);
		} else if (ev == CHAN_EVENT_DATA) {
			const uint8_t *body;
			size_t len;
			cc_err err;
			while ((err = chan_pop_frame(s->ch, &body, &len)) == CC_OK)
				srv_on_message(s, body, len);
			CHECK(err == CC_ERR_TRUNCATED);
		}
	}
	buf_consume(&s->in, off);
	return got;
}

/* Writes what is queued for the client, as far as the socket takes it. */
static int srv_flush(struct fake_server *s)
{
	int sent = 0;
	while (s->out.len && !s->closed) {
		ssize_t n = send(s->fd, s->out.data, s->out.len, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n <= 0) {
			if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				s->closed = true;
			break;
		}
		buf_consume(&s->out, (size_t)n);
		sent = 1;
	}
	return sent;
}

/* Runs the client's loop and the server until neither has anything to do. */
static void pump(struct fake_server *s)
{
	int quiet = 0;
	while (quiet < 3) {
		event_base_loop(base, EVLOOP_NONBLOCK);
		int busy = 0;
		if (!s->closed) {
			busy |= srv_poll(s);
			busy |= srv_flush(s);
		}
		if (busy) {
			quiet = 0;
			continue;
		}
		struct pollfd p = {.fd = s->fd, .events = POLLIN};
		poll(&p, 1, quiet ? 2 : 0);
		quiet++;
	}
}

/* ---- the client ------------------------------------------------------------ */

static void on_event(void *ctx, const struct client_event *ev)
{
	(void)ctx;
	/* No input can sign a message: showing one is a forgery accepted. */
	CHECK(ev->type != CLIENT_EV_MESSAGE);
	/* A room is named by its id in hex, or not at all. */
	CHECK(ev->room && (!*ev->room || strlen(ev->room) == 2 * PROTO_ROOM_ID_LEN));
	if (ev->type == CLIENT_EV_ERROR) {
		CHECK(ev->u.error.code && *ev->u.error.code);
		CHECK(ev->u.error.message && strlen(ev->u.error.message) < 8192);
	}
}

/* client.db and known_servers as the first session left them: each input
 * starts from copies (making the store's schema anew every time would cost
 * more than everything else together). */
static const char *const home_files[] = {"client.db", "known_servers"};
static struct buf home_template[2];
static bool have_template;

static void home_reset(void)
{
	static const char *const gone[] = {"client.db", "client.db-wal", "client.db-shm",
					   "client.db-journal", "known_servers"};
	char path[512];
	for (size_t i = 0; i < sizeof gone / sizeof gone[0]; i++) {
		snprintf(path, sizeof path, "%s/%s", home, gone[i]);
		unlink(path);
	}
	for (size_t i = 0; have_template && i < 2; i++) {
		snprintf(path, sizeof path, "%s/%s", home, home_files[i]);
		FILE *f = fopen(path, "wb");
		CHECK(f && fwrite(home_template[i].data, 1, home_template[i].len, f) ==
			       home_template[i].len && fclose(f) == 0);
	}
}

/* The scratch home goes with the process. */
static void home_remove(void)
{
	have_template = false;
	home_reset();
	char path[512];
	snprintf(path, sizeof path, "%s/identity.pem", home);
	unlink(path);
	snprintf(path, sizeof path, "%s/nick", home);
	unlink(path);
	rmdir(home);
}

static void home_save_template(void)
{
	char path[512];
	uint8_t tmp[65536];
	for (size_t i = 0; i < 2; i++) {
		snprintf(path, sizeof path, "%s/%s", home, home_files[i]);
		FILE *f = fopen(path, "rb");
		CHECK(f);
		buf_init(&home_template[i], 64u * 1024 * 1024);
		size_t n;
		while ((n = fread(tmp, 1, sizeof tmp, f)) > 0)
			CHECK(buf_put_bytes(&home_template[i], tmp, n) == CC_OK);
		fclose(f);
	}
	have_template = true;
}

/* A registered client that has asked to join FUZZ_ROOM, and its server. */
static struct client *session_open(struct fake_server *s)
{
	struct client_config cfg = {0};
	struct client_callbacks cb = {.on_event = on_event};
	struct client *cl = NULL;

	home_reset();
	snprintf(cfg.host, sizeof cfg.host, "127.0.0.1");
	cfg.port = listen_port;
	snprintf(cfg.home, sizeof cfg.home, "%s", home);
	snprintf(cfg.nick, sizeof cfg.nick, FUZZ_NICK);
	cfg.rsa_bits = 2048;
	fuzz_must(client_new(&cfg, base, &cb, &cl), "client_new");
	fuzz_must(client_connect(cl), "client_connect");

	memset(s, 0, sizeof *s);
	buf_init(&s->in, 4 * PROTO_FRAME_MAX_LIMIT);
	buf_init(&s->out, 4 * PROTO_FRAME_MAX_LIMIT);
	s->answer = true;
	s->fd = accept(listen_fd, NULL, NULL);
	CHECK(s->fd >= 0);
	/* Without it each small answer waits for the client's delayed ACK. */
	int one = 1;
	setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	CHECK(chan_server_new(server_key, PROTO_FRAME_MAX_DEFAULT, &s->ch) == CC_OK);
	pump(s);
	CHECK(client_get_state(cl) == CLIENT_READY);
	s->answer = false;
	CHECK(client_room_join(cl, fuzz_room) != 0);
	pump(s);
	CHECK(s->join_id == FUZZ_JOIN_ID);
	return cl;
}

static void session_close(struct client *cl, struct fake_server *s)
{
	client_free(cl);
	/* What the client's last loop turn queued, and its close. */
	event_base_loop(base, EVLOOP_NONBLOCK);
	close(s->fd);
	chan_free(s->ch);
	buf_free(&s->in);
	buf_free(&s->out);
}

/* The input as inner frames, in PLAIN. */
static void input_frames(const uint8_t *data, size_t size, struct buf *plain)
{
	struct bufreader r;
	bufreader_init(&r, data, size);
	while (bufreader_remaining(&r)) {
		uint16_t n = 0;
		if (bufreader_get_u16(&r, &n) != CC_OK)
			break;
		size_t take = n < bufreader_remaining(&r) ? n : bufreader_remaining(&r);
		const uint8_t *p = NULL;
		CHECK(bufreader_get_view(&r, take, &p) == CC_OK);
		CHECK(buf_put_u32(plain, (uint32_t)take) == CC_OK);
		CHECK(buf_put_bytes(plain, p, take) == CC_OK);
	}
}

/* ---- seeds ------------------------------------------------------------------ */

static void seed_put(struct buf *seed, const struct proto_msg *m)
{
	struct buf body;
	buf_init(&body, PROTO_FRAME_MAX_DEFAULT);
	fuzz_must(proto_msg_encode(m, &body), "encode");
	fuzz_must(body.len <= 0xffff ? CC_OK : CC_ERR_TOO_LARGE, "seed message size");
	fuzz_must(buf_put_u16(seed, (uint16_t)body.len), "put");
	fuzz_must(buf_put_bytes(seed, body.data, body.len), "put");
	buf_free(&body);
}

static void seed_put_raw(struct buf *seed, const uint8_t *p, size_t n)
{
	fuzz_must(buf_put_u16(seed, (uint16_t)n), "put");
	fuzz_must(buf_put_bytes(seed, p, n), "put");
}

/* The client's own CREATE record of ROOM (signed by the example client
 * key) into OUT. */
static void create_record(const uint8_t room[PROTO_ROOM_ID_LEN], struct buf *out)
{
	struct proto_record rec = {0};
	rec.version = PROTO_RECORD_VERSION;
	memcpy(rec.room_id, room, PROTO_ROOM_ID_LEN);
	rec.action = PROTO_REC_CREATE;
	rec.actor = rec.subject = proto_bytes_str(FUZZ_NICK);
	memcpy(rec.actor_fp, client_fp, sizeof client_fp);
	memcpy(rec.subject_fp, client_fp, sizeof client_fp);
	uint8_t secret[E2E_KEY_LEN];
	memset(secret, 0x5e, sizeof secret);
	e2e_key_commit(room, 0, secret, rec.key_commit);
	rec.time_ms = 1700000000000ull;
	buf_reset(out);
	fuzz_must(e2e_record_sign(client_key, &rec, out), "sign");
}

/* The client's own directory entry (no signing or receiving key). */
static void own_user(struct buf *users)
{
	struct proto_user_item u = {0};
	u.nick = proto_bytes_str(FUZZ_NICK);
	u.identity_key = (struct proto_bytes){client_key_der.data, client_key_der.len};
	fuzz_must(proto_item_encode(PROTO_ITEM_USER, &u, users), "user");
}

/* A ROOM_STATE answering the join (ROOM, request ID) whose chain is the
 * client's own CREATE, claiming BACKLOG messages. */
static void room_state(struct buf *seed, uint32_t id, const uint8_t room[PROTO_ROOM_ID_LEN],
		       uint32_t backlog, uint16_t records_count_lie)
{
	struct buf rec, chain, users;
	buf_init(&rec, PROTO_RECORD_MAX);
	buf_init(&chain, 8192);
	buf_init(&users, 8192);
	create_record(room, &rec);
	struct proto_chain_item ci = {.position = 0, .record = {rec.data, rec.len}};
	fuzz_must(proto_item_encode(PROTO_ITEM_CHAIN, &ci, &chain), "chain");
	own_user(&users);
	struct proto_msg m = {.type = PROTO_ROOM_STATE};
	m.u.room_state.request_id = id;
	memcpy(m.u.room_state.room_id, room, PROTO_ROOM_ID_LEN);
	m.u.room_state.title_ct = (struct proto_bytes){(const uint8_t *)"0123456789abcdef0123456789", 26};
	m.u.room_state.records = (struct proto_list){1, {chain.data, chain.len}};
	m.u.room_state.users = (struct proto_list){1, {users.data, users.len}};
	m.u.room_state.backlog = backlog;
	if (!records_count_lie) {
		seed_put(seed, &m);
	} else {
		/* The encoder checks counts; the lie is written by hand: the
		 * records list's u16 count follows id, room and title. */
		struct buf body;
		buf_init(&body, PROTO_FRAME_MAX_DEFAULT);
		fuzz_must(proto_msg_encode(&m, &body), "encode");
		size_t at = 1 + 4 + PROTO_ROOM_ID_LEN + 2 + m.u.room_state.title_ct.len;
		store_be16(body.data + at, records_count_lie);
		seed_put_raw(seed, body.data, body.len);
		buf_free(&body);
	}
	buf_free(&rec);
	buf_free(&chain);
	buf_free(&users);
}

static void room_ref(struct buf *seed, uint8_t type, uint32_t id,
		     const uint8_t room[PROTO_ROOM_ID_LEN])
{
	struct proto_msg m = {.type = type};
	m.u.room_ref.request_id = id;
	memcpy(m.u.room_ref.room_id, room, PROTO_ROOM_ID_LEN);
	seed_put(seed, &m);
}

static void room_msg(struct buf *seed, const uint8_t room[PROTO_ROOM_ID_LEN], uint64_t id)
{
	static const uint8_t junk[96] = {PROTO_ENVELOPE_VERSION, 1, 2, 3};
	struct proto_msg m = {.type = PROTO_ROOM_MSG};
	memcpy(m.u.room_msg.room_id, room, PROTO_ROOM_ID_LEN);
	m.u.room_msg.msg_id = id;
	m.u.room_msg.server_ts_ms = 1700000000001ull;
	m.u.room_msg.envelope = (struct proto_bytes){junk, sizeof junk};
	seed_put(seed, &m);
}

static void gen_seeds(const char *dir)
{
	struct buf s;
	struct proto_msg m;
	buf_init(&s, PROTO_FRAME_MAX_DEFAULT);

#define SEED(name)                          \
	do {                                \
		fuzz_write_buf(dir, name, &s); \
		buf_reset(&s);              \
	} while (0)

	/* The honest answer: the client's own room, then JOIN_DONE. */
	room_state(&s, FUZZ_JOIN_ID, fuzz_room, 0, 0);
	room_ref(&s, PROTO_JOIN_DONE, FUZZ_JOIN_ID, fuzz_room);
	SEED("room_state");
	/* A backlog of one that is not signed by anyone. */
	room_state(&s, FUZZ_JOIN_ID, fuzz_room, 1, 0);
	room_msg(&s, fuzz_room, 1);
	room_ref(&s, PROTO_JOIN_DONE, FUZZ_JOIN_ID, fuzz_room);
	SEED("room_state_backlog_junk");
	/* Counts that lie: a backlog of 2^32-1 then JOIN_DONE; a records
	 * count of 2 with one record. */
	room_state(&s, FUZZ_JOIN_ID, fuzz_room, UINT32_MAX, 0);
	room_ref(&s, PROTO_JOIN_DONE, FUZZ_JOIN_ID, fuzz_room);
	SEED("backlog_lie");
	room_state(&s, FUZZ_JOIN_ID, fuzz_room, 0, 2);
	SEED("records_count_lie");
	/* Rooms not asked for. */
	room_state(&s, FUZZ_JOIN_ID, fuzz_other_room, 0, 0);
	SEED("room_state_other_room");
	room_state(&s, 77, fuzz_other_room, 0, 0);
	SEED("room_state_unasked");
	room_msg(&s, fuzz_other_room, 1);
	SEED("room_msg_not_member");
	room_ref(&s, PROTO_REKEY_OWED, 0, fuzz_room);
	SEED("rekey_owed");
	room_ref(&s, PROTO_JOIN_DONE, FUZZ_JOIN_ID, fuzz_room);
	SEED("join_done_first");
	/* A record for the joined room before its state. */
	{
		struct buf rec;
		buf_init(&rec, PROTO_RECORD_MAX);
		create_record(fuzz_room, &rec);
		memset(&m, 0, sizeof m);
		m.type = PROTO_ROOM_RECORD;
		memcpy(m.u.room_record.room_id, fuzz_room, PROTO_ROOM_ID_LEN);
		m.u.room_record.record = (struct proto_bytes){rec.data, rec.len};
		seed_put(&s, &m);
		buf_free(&rec);
		SEED("room_record");
	}
	/* Answers to nothing asked, and the wrong answer to the join. */
	memset(&m, 0, sizeof m);
	m.type = PROTO_ROOMS;
	{
		struct buf items;
		buf_init(&items, 4096);
		struct proto_room_item ri = {.admin = proto_bytes_str(FUZZ_NICK),
					     .epoch = UINT32_MAX, .members = UINT32_MAX,
					     .unread = UINT32_MAX, .pending_keys = UINT32_MAX};
		memcpy(ri.room_id, fuzz_room, PROTO_ROOM_ID_LEN);
		fuzz_must(proto_item_encode(PROTO_ITEM_ROOM, &ri, &items), "room item");
		m.u.rooms.request_id = FUZZ_JOIN_ID;
		m.u.rooms.rooms = (struct proto_list){1, {items.data, items.len}};
		seed_put(&s, &m);
		buf_free(&items);
		SEED("rooms_as_join_answer");
	}
	memset(&m, 0, sizeof m);
	m.type = PROTO_USERS;
	{
		struct buf users;
		buf_init(&users, 8192);
		own_user(&users);
		m.u.users.request_id = FUZZ_JOIN_ID;
		m.u.users.users = (struct proto_list){1, {users.data, users.len}};
		seed_put(&s, &m);
		buf_free(&users);
		SEED("users_as_join_answer");
	}
	memset(&m, 0, sizeof m);
	m.type = PROTO_SENT;
	m.u.sent.request_id = FUZZ_JOIN_ID;
	memcpy(m.u.sent.room_id, fuzz_room, PROTO_ROOM_ID_LEN);
	seed_put(&s, &m);
	SEED("sent_as_join_answer");
	memset(&m, 0, sizeof m);
	m.type = PROTO_ERROR;
	m.u.error.request_id = FUZZ_JOIN_ID;
	m.u.error.code = CC_ERR_NO_SUCH_ROOM;
	m.u.error.text = proto_bytes_str("\x1b[2Jno such room\r\n");
	seed_put(&s, &m);
	SEED("error_join");
	m.u.error.request_id = 0;
	m.u.error.code = 0xffff;
	seed_put(&s, &m);
	SEED("error_unknown_code");
	/* Handshake messages after it, and a PING. */
	memset(&m, 0, sizeof m);
	m.type = PROTO_WELCOME;
	m.u.welcome.nick = proto_bytes_str(FUZZ_NICK);
	memcpy(m.u.welcome.fingerprint, client_fp, sizeof client_fp);
	m.u.welcome.max_frame = 1;
	seed_put(&s, &m);
	SEED("welcome_again");
	memset(&m, 0, sizeof m);
	m.type = PROTO_CLIENT_HELLO;
	m.u.client_hello.version = PROTO_VERSION;
	seed_put(&s, &m);
	SEED("client_hello");
	memset(&m, 0, sizeof m);
	m.type = PROTO_PING;
	m.u.ping.token = 42;
	seed_put(&s, &m);
	SEED("ping");
	/* Frames that do not decode: empty, an unknown type, a cut ROOM_STATE. */
	seed_put_raw(&s, (const uint8_t *)"", 0);
	SEED("empty_frame");
	seed_put_raw(&s, (const uint8_t *)"\xee\x01\x02", 3);
	SEED("bad_type");
	room_state(&s, FUZZ_JOIN_ID, fuzz_room, 0, 0);
	s.data[0] = 0;
	s.data[1] = 60;   /* the length of what stays */
	s.len = 2 + 60;
	SEED("room_state_cut");
	/* Regressions of what the integration tables found (issue 10): a
	 * message cut short, then a PING in the same record (the cut one was
	 * taken for "no whole frame yet", the PING held back); the join's
	 * state listing the client itself with a certified receiving key of
	 * zeros (a low-order point). */
	room_msg(&s, fuzz_room, 1);
	s.len -= 10;
	store_be16(s.data, (uint16_t)(s.len - 2));
	memset(&m, 0, sizeof m);
	m.type = PROTO_PING;
	m.u.ping.token = 43;
	seed_put(&s, &m);
	SEED("room_msg_cut_then_ping");
	{
		struct buf rec, chain, users, cert;
		buf_init(&rec, PROTO_RECORD_MAX);
		buf_init(&chain, 8192);
		buf_init(&users, 8192);
		buf_init(&cert, PROTO_SIGN_CERT_MAX);
		create_record(fuzz_room, &rec);
		struct proto_chain_item ci = {.position = 0, .record = {rec.data, rec.len}};
		fuzz_must(proto_item_encode(PROTO_ITEM_CHAIN, &ci, &chain), "chain");
		struct proto_user_item u = {0};
		u.nick = proto_bytes_str(FUZZ_NICK);
		u.identity_key = (struct proto_bytes){client_key_der.data, client_key_der.len};
		u.recv_version = 9;
		u.recv_created_ms = 1700000000000ull;
		fuzz_must(e2e_recv_cert_make(client_key, 9, u.recv_created_ms, u.recv_pub, &cert),
			  "recv cert");
		u.recv_cert = (struct proto_bytes){cert.data, cert.len};
		fuzz_must(proto_item_encode(PROTO_ITEM_USER, &u, &users), "user");
		memset(&m, 0, sizeof m);
		m.type = PROTO_ROOM_STATE;
		m.u.room_state.request_id = FUZZ_JOIN_ID;
		memcpy(m.u.room_state.room_id, fuzz_room, PROTO_ROOM_ID_LEN);
		m.u.room_state.records = (struct proto_list){1, {chain.data, chain.len}};
		m.u.room_state.users = (struct proto_list){1, {users.data, users.len}};
		seed_put(&s, &m);
		room_ref(&s, PROTO_JOIN_DONE, FUZZ_JOIN_ID, fuzz_room);
		SEED("room_state_zero_recv_key");
		buf_free(&rec);
		buf_free(&chain);
		buf_free(&users);
		buf_free(&cert);
	}
	buf_free(&s);
#undef SEED
}

/* ---- libFuzzer --------------------------------------------------------------- */

static void quiet_log(void *ctx, enum log_level level, const char *line)
{
	(void)ctx, (void)level, (void)line;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	log_set_sink(quiet_log, NULL);
	fuzz_must(crypto_init(), "crypto_init");
	fuzz_must(crypto_rsa_private_from_pem(fuzz_server_pem, strlen(fuzz_server_pem),
					      &server_key), "server key");
	fuzz_must(crypto_rsa_private_from_pem(fuzz_client_pem, strlen(fuzz_client_pem),
					      &client_key), "client key");
	fuzz_must(crypto_rsa_fingerprint(client_key, client_fp), "fingerprint");
	buf_init(&client_key_der, PROTO_RSA_PUB_MAX);
	fuzz_must(crypto_rsa_public_to_der(client_key, &client_key_der), "der");

	snprintf(home, sizeof home, "%s/fuzz_client_core.XXXXXX", access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
	CHECK(mkdtemp(home));
	atexit(home_remove);
	char path[512];
	snprintf(path, sizeof path, "%s/identity.pem", home);
	FILE *f = fopen(path, "w");
	CHECK(f && fputs(fuzz_client_pem, f) >= 0 && fclose(f) == 0);
	CHECK(chmod(path, 0600) == 0);

	listen_fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t sl = sizeof sa;
	CHECK(listen_fd >= 0 && bind(listen_fd, (struct sockaddr *)&sa, sizeof sa) == 0 &&
	      listen(listen_fd, 4) == 0 &&
	      getsockname(listen_fd, (struct sockaddr *)&sa, &sl) == 0);
	listen_port = ntohs(sa.sin_port);
	base = event_base_new();
	CHECK(base);

	/* One session to make the home's template. */
	struct fake_server s;
	fuzz_rng_seed_str(FUZZ_NAME);
	session_close(session_open(&s), &s);
	crypto_test_rng_restore();
	home_save_template();

	const char *dir = getenv("CC_FUZZ_GEN_SEEDS");
	if (dir) {
		fuzz_rng_seed_str(FUZZ_NAME " seeds");
		gen_seeds(dir);
		crypto_test_rng_restore();
		exit(0);
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fake_server s;
	struct buf plain;

	fuzz_rng_seed_str(FUZZ_NAME);
	struct client *cl = session_open(&s);
	buf_init(&plain, PROTO_FRAME_MAX_LIMIT);
	input_frames(data, size, &plain);
	if (plain.len)
		CHECK(chan_send(s.ch, plain.data, plain.len, &s.out) == CC_OK);
	buf_free(&plain);
	pump(&s);
	/* Whatever it was told, the client is still a client: connected and
	 * ready, or offline and about to try again; never ended by it. */
	CHECK(client_get_state(cl) != CLIENT_CLOSED);
	session_close(cl, &s);
	crypto_test_rng_restore();
	return 0;
}
