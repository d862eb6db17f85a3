/* Fuzz target: the server's side of the secure channel (transport/chan.h).
 *
 * The input is what a client sends: a stream split into frames with
 * proto_frame_peek (under the channel's current cap), each fed to
 * chan_recv_frame until one is refused. Once the channel opens, the server
 * sends a WELCOME, pops every inner frame and answers PINGs, as the real one
 * does. Checked on the way: whatever the server writes before it opens is
 * plaintext SERVER_HELLO and ERROR frames only (the ERROR last, with the code
 * the channel returned); nothing plaintext once open; a dead channel stays
 * dead; an opened channel has a valid nickname and a key.
 *
 * The random generator is reseeded with a fixed seed before each input, so
 * the server's ephemeral key and random are the same every time and a
 * recorded CLIENT_KEY stays valid: seeds in fuzz/corpus/handshake/ take the
 * fuzzer past the handshake.
 *
 * Mutated records never pass their tag, so a second input form lets the
 * fuzzer shape what is inside them. An input whose first byte is 1 (a stream
 * starting so would announce a frame over 16 MiB, refused at once) is
 *
 *	0x01 || { u16 length || record plaintext }*
 *
 * (the last plaintext may be cut short): a client with fixed random draws does
 * the handshake and seals each plaintext with chan_send; the server then takes
 * that stream as above. Only the byte 1 selects it: it costs two more RSA
 * operations per input, and most mutations should stay in the cheap form.
 *
 * Regenerate the seeds (after any change to the handshake or the key
 * schedule) with
 *
 *	CC_FUZZ_GEN_SEEDS=fuzz/corpus/handshake build-fuzz/fuzz_handshake
 *
 * which writes them and exits; see fuzz/README.md. */
#define FUZZ_NAME "fuzz_handshake"
#include "fuzz_common.h"

#include "crypto/crypto.h"
#include "proto/frame.h"
#include "proto/msg.h"
#include "transport/chan.h"

/* The server's random draws for every input. */
static const char server_seed[] = "cryptocat fuzz_handshake server";
/* The seed generator's client: hello, then the rest of its draws. */
static const char client_seed[] = "cryptocat fuzz_handshake client";
static const char client_seed2[] = "cryptocat fuzz_handshake client key";

static struct crypto_rsa_key *server_key, *client_key;

/* Everything the server wrote in plaintext: an optional SERVER_HELLO, then,
 * if the handshake failed, one ERROR carrying the channel's verdict. */
static void check_handshake_output(const struct buf *out, cc_err err, int opened)
{
	size_t off = 0, body, count = 0;
	int hello = 0, error = 0;
	while (off < out->len) {
		struct proto_msg m;
		CHECK(proto_frame_peek(out->data + off, out->len - off, PROTO_FRAME_MAX_PREAUTH,
				       &body) == CC_OK);
		CHECK(proto_msg_decode(out->data + off + PROTO_FRAME_HEADER_LEN, body, &m) ==
		      CC_OK);
		CHECK(!error);  /* nothing after an ERROR */
		if (m.type == PROTO_SERVER_HELLO) {
			CHECK(count == 0 && m.u.server_hello.version == PROTO_VERSION);
			hello = 1;
		} else {
			CHECK(m.type == PROTO_ERROR && m.u.error.code == err);
			error = 1;
		}
		off += PROTO_FRAME_HEADER_LEN + body;
		count++;
	}
	CHECK(error == (err != CC_OK && !opened));
	CHECK(!opened || hello);
}

/* A fresh server takes the stream frame by frame. */
static void server_run(const uint8_t *data, size_t size)
{
	struct chan *ch;
	struct buf hs_out, data_out;
	enum chan_event ev;
	size_t off = 0, body;
	int opened = 0;
	cc_err err = CC_OK;

	fuzz_rng_seed_str(server_seed);
	CHECK(chan_server_new(server_key, PROTO_FRAME_MAX_DEFAULT, &ch) == CC_OK);
	buf_init(&hs_out, 0);
	buf_init(&data_out, 0);
	while (off < size) {
		if (proto_frame_peek(data + off, size - off, chan_frame_cap(ch), &body) != CC_OK)
			break;  /* the server would wait for more, or close */
		size_t n = PROTO_FRAME_HEADER_LEN + body;
		/* An exact copy: reading past the frame is an ASan error. */
		uint8_t *frame = malloc(n);
		CHECK(frame);
		memcpy(frame, data + off, n);
		off += n;
		size_t before = hs_out.len;
		err = chan_recv_frame(ch, frame, n, &hs_out, &ev);
		if (err != CC_OK) {
			CHECK(!chan_is_open(ch));
			/* Dead for good. */
			size_t dead_len = hs_out.len;
			CHECK(chan_recv_frame(ch, frame, n, &hs_out, &ev) != CC_OK);
			CHECK(hs_out.len == dead_len);
			free(frame);
			break;
		}
		free(frame);
		CHECK(ev != CHAN_EVENT_SERVER_KEY);
		if (opened)
			CHECK(hs_out.len == before);
		if (ev == CHAN_EVENT_OPEN) {
			const char *nick = chan_peer_nick(ch);
			CHECK(!opened && chan_is_open(ch));
			CHECK(proto_nick_valid((const uint8_t *)nick, strlen(nick)));
			CHECK(chan_peer_key(ch) != NULL);
			CHECK(chan_frame_cap(ch) == PROTO_FRAME_MAX_DEFAULT);
			opened = 1;
			struct proto_msg w = {.type = PROTO_WELCOME};
			w.u.welcome.nick = proto_bytes_str(nick);
			memcpy(w.u.welcome.fingerprint, chan_peer_fingerprint(ch),
			       PROTO_FINGERPRINT_LEN);
			w.u.welcome.max_frame = PROTO_FRAME_MAX_DEFAULT;
			CHECK(chan_send_msg(ch, &w, &data_out) == CC_OK);
		} else if (ev == CHAN_EVENT_DATA) {
			const uint8_t *inner;
			size_t len;
			cc_err perr;
			CHECK(opened);
			while ((perr = chan_pop_frame(ch, &inner, &len)) == CC_OK) {
				struct proto_msg m;
				CHECK(len >= 1 && len <= PROTO_FRAME_MAX_DEFAULT);
				if (proto_msg_decode(inner, len, &m) == CC_OK &&
				    m.type == PROTO_PING) {
					m.type = PROTO_PONG;
					CHECK(chan_send_msg(ch, &m, &data_out) == CC_OK);
				}
			}
			if (perr != CC_ERR_TRUNCATED)
				break;  /* the server closes the connection */
		} else {
			CHECK(ev == CHAN_EVENT_NONE && !opened);
		}
	}
	check_handshake_output(&hs_out, err, opened);
	chan_free(ch);
	buf_free(&hs_out);
	buf_free(&data_out);
}

/* The client's half of the handshake, its draws fixed: CLIENT_HELLO into
 * wire, then, given the server's hello, CLIENT_KEY. */
static cc_err client_hello(struct chan **c, struct buf *wire)
{
	cc_err err;
	fuzz_rng_seed_str(client_seed);
	if ((err = chan_client_new(client_key, "fuzzer", PROTO_FRAME_MAX_DEFAULT, c)))
		return err;
	return chan_client_start(*c, wire);
}

static cc_err client_key_send(struct chan *c, const struct buf *server_hello, struct buf *wire)
{
	enum chan_event ev;
	cc_err err;
	if ((err = chan_recv_frame(c, server_hello->data, server_hello->len, wire, &ev)))
		return err;
	if (ev != CHAN_EVENT_SERVER_KEY)
		return CC_ERR_STATE;
	fuzz_rng_seed_str(client_seed2);
	return chan_client_continue(c, wire);
}

/* What the server answers the fixed CLIENT_HELLO, computed once. */
static struct buf cached_server_hello;

/* The second input form: record plaintexts, sealed by a real client. */
static void records_run(const uint8_t *data, size_t size)
{
	struct chan *c;
	struct buf stream;

	buf_init(&stream, 0);
	CHECK(client_hello(&c, &stream) == CC_OK);
	CHECK(client_key_send(c, &cached_server_hello, &stream) == CC_OK);
	while (size > 0) {
		size_t n = size >= 2 ? load_be16(data) : 0;
		size_t skip = size >= 2 ? 2 : size;
		if (n > size - skip)
			n = size - skip;
		CHECK(chan_send(c, data + skip, n, &stream) == CC_OK);
		data += skip + n;
		size -= skip + n;
	}
	chan_free(c);
	server_run(stream.data, stream.len);
	buf_free(&stream);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 0 && data[0] == 1)
		records_run(data + 1, size - 1);
	else
		server_run(data, size);
	return 0;
}

/* ---- seed generation (CC_FUZZ_GEN_SEEDS=dir) ---- */

static void gen_cat(struct buf *out, const struct buf *a, const struct buf *b)
{
	buf_reset(out);
	fuzz_must(buf_put_bytes(out, a->data, a->len), "concat");
	if (b)
		fuzz_must(buf_put_bytes(out, b->data, b->len), "concat");
}

/* Feeds every frame of wire to ch and expects the given last event. */
static void gen_deliver(struct chan *ch, const struct buf *wire, struct buf *reply,
			enum chan_event want, const char *what)
{
	size_t off = 0, body;
	enum chan_event ev = CHAN_EVENT_NONE;
	while (off < wire->len) {
		fuzz_must(proto_frame_peek(wire->data + off, wire->len - off, chan_frame_cap(ch),
					   &body), what);
		size_t n = PROTO_FRAME_HEADER_LEN + body;
		fuzz_must(chan_recv_frame(ch, wire->data + off, n, reply, &ev), what);
		off += n;
	}
	if (ev != want)
		fuzz_must(CC_ERR_STATE, what);
}

/* One inner frame holding an encoded message. */
static void gen_inner(struct buf *plain, const struct proto_msg *m)
{
	struct buf body;
	buf_init(&body, 0);
	fuzz_must(proto_msg_encode(m, &body), "encode");
	fuzz_must(proto_frame_put(plain, body.data, body.len), "frame");
	buf_free(&body);
}

static void gen_seeds(const char *dir)
{
	struct chan *c, *s;
	struct buf hello, shello, ckey, recs, tail, file, plain;
	struct proto_msg m;

	buf_init(&hello, 0);
	buf_init(&shello, 0);
	buf_init(&ckey, 0);
	buf_init(&recs, 0);
	buf_init(&tail, 0);
	buf_init(&file, 0);
	buf_init(&plain, 0);

	/* The handshake, each side under its own fixed seed; the server's draws
	 * happen exactly as in LLVMFuzzerTestOneInput. */
	fuzz_must(client_hello(&c, &hello), "client hello");
	fuzz_rng_seed_str(server_seed);
	fuzz_must(chan_server_new(server_key, PROTO_FRAME_MAX_DEFAULT, &s), "server");
	gen_deliver(s, &hello, &shello, CHAN_EVENT_NONE, "server hello");
	fuzz_must(client_key_send(c, &shello, &ckey), "client key");
	gen_deliver(s, &ckey, &tail, CHAN_EVENT_OPEN, "open");

	/* Records: one PING; PING, PONG and ERROR in one record; a PING cut
	 * across two records. */
	memset(&m, 0, sizeof m);
	m.type = PROTO_PING;
	m.u.ping.token = 1;
	fuzz_must(chan_send_msg(c, &m, &recs), "ping");
	m.u.ping.token = 2;
	gen_inner(&plain, &m);
	m.type = PROTO_PONG;
	m.u.ping.token = 3;
	gen_inner(&plain, &m);
	memset(&m, 0, sizeof m);
	m.type = PROTO_ERROR;
	m.u.error.code = CC_ERR_STATE;
	m.u.error.text = proto_bytes_str("caf\xc3\xa9");
	gen_inner(&plain, &m);
	fuzz_must(chan_send(c, plain.data, plain.len, &recs), "batch");
	buf_reset(&plain);
	memset(&m, 0, sizeof m);
	m.type = PROTO_PING;
	m.u.ping.token = 4;
	gen_inner(&plain, &m);
	fuzz_must(chan_send(c, plain.data, 6, &recs), "split 1");
	fuzz_must(chan_send(c, plain.data + 6, plain.len - 6, &recs), "split 2");
	gen_deliver(s, &recs, &tail, CHAN_EVENT_DATA, "records");
	/* Then an empty inner frame, which makes the server close. */
	static const uint8_t empty_inner[4] = {0};
	buf_reset(&plain);
	fuzz_must(chan_send(c, empty_inner, sizeof empty_inner, &plain), "empty inner");

	fuzz_write_buf(dir, "client_hello", &hello);
	gen_cat(&file, &hello, &ckey);
	fuzz_write_buf(dir, "client_hello_key", &file);
	gen_cat(&file, &hello, &ckey);
	fuzz_must(buf_put_bytes(&file, recs.data, recs.len), "concat");
	fuzz_write_buf(dir, "session", &file);
	fuzz_must(buf_put_bytes(&file, plain.data, plain.len), "concat");
	fuzz_write_buf(dir, "session_empty_inner", &file);
	/* A tag bit flipped in the first record. */
	gen_cat(&file, &hello, &ckey);
	fuzz_must(buf_put_bytes(&file, recs.data, recs.len), "concat");
	file.data[hello.len + ckey.len + 30] ^= 1;
	fuzz_write_buf(dir, "session_bad_tag", &file);
	/* Out of order and malformed handshakes. */
	fuzz_write_buf(dir, "client_key_first", &ckey);
	gen_cat(&file, &hello, &hello);
	fuzz_write_buf(dir, "client_hello_twice", &file);
	gen_cat(&file, &hello, NULL);
	store_be16(file.data + PROTO_FRAME_HEADER_LEN + 1, PROTO_VERSION + 1);
	fuzz_write_buf(dir, "client_hello_bad_version", &file);

	/* The records form: the same inner frames as plaintexts to seal. */
	buf_reset(&file);
	fuzz_must(buf_put_u8(&file, 1), "records");
	buf_reset(&plain);
	memset(&m, 0, sizeof m);
	m.type = PROTO_PING;
	m.u.ping.token = 5;
	gen_inner(&plain, &m);
	gen_inner(&plain, &m);
	fuzz_must(buf_put_bytes16(&file, plain.data, plain.len), "records");
	fuzz_must(buf_put_bytes16(&file, plain.data, 6), "records");
	fuzz_must(buf_put_bytes16(&file, plain.data + 6, plain.len - 6), "records");
	fuzz_write_buf(dir, "records_pings", &file);
	static const uint8_t over_cap[] = {0, 4, 0, 0x10, 0, 1};
	buf_reset(&file);
	fuzz_must(buf_put_u8(&file, 1), "records");
	fuzz_must(buf_put_bytes(&file, over_cap, sizeof over_cap), "records");
	fuzz_write_buf(dir, "records_inner_over_cap", &file);

	chan_free(c);
	chan_free(s);
	buf_free(&hello);
	buf_free(&shello);
	buf_free(&ckey);
	buf_free(&recs);
	buf_free(&tail);
	buf_free(&file);
	buf_free(&plain);
	crypto_test_rng_restore();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if (crypto_init() != CC_OK ||
	    crypto_rsa_private_from_pem(fuzz_server_pem, strlen(fuzz_server_pem),
					&server_key) != CC_OK ||
	    crypto_rsa_private_from_pem(fuzz_client_pem, strlen(fuzz_client_pem),
					&client_key) != CC_OK) {
		fprintf(stderr, "fuzz_handshake: cannot load the example keys\n");
		abort();
	}
	const char *dir = getenv("CC_FUZZ_GEN_SEEDS");
	if (dir) {
		gen_seeds(dir);
		exit(0);
	}

	/* The server's answer to the fixed CLIENT_HELLO, for the records form. */
	struct chan *c, *s;
	struct buf hello;
	enum chan_event ev;
	buf_init(&hello, 0);
	buf_init(&cached_server_hello, 0);
	CHECK(client_hello(&c, &hello) == CC_OK);
	fuzz_rng_seed_str(server_seed);
	CHECK(chan_server_new(server_key, PROTO_FRAME_MAX_DEFAULT, &s) == CC_OK);
	CHECK(chan_recv_frame(s, hello.data, hello.len, &cached_server_hello, &ev) == CC_OK);
	chan_free(s);
	chan_free(c);
	buf_free(&hello);
	crypto_test_rng_restore();
	return 0;
}
