/* Fuzz target: the frame layer (proto/frame.h).
 *
 * The input is a byte stream as it would arrive from a socket:
 *   - proto_frame_peek at the start of it, under several caps, must give the
 *     verdict the header dictates, and a larger cap never a stricter one;
 *   - split into frames at once, then fed again in small chunks (a read loop
 *     with a partial-frame buffer), both splits must give the same frames and
 *     the same final verdict;
 *   - the frames put back with proto_frame_put must be the consumed bytes.
 * Every frame is checked from an exact-size copy so ASan sees over-reads.
 *
 * CC_FUZZ_GEN_SEEDS=dir writes the seed corpus (fuzz/corpus/frame) and exits. */
#define FUZZ_NAME "fuzz_frame"
#include "fuzz_common.h"

#include "proto/frame.h"

static const size_t caps[] = {
	0, 1, 4, 255, PROTO_FRAME_MAX_PREAUTH, PROTO_FRAME_MAX_DEFAULT, PROTO_FRAME_MAX_LIMIT,
	SIZE_MAX,
};

/* The verdict the header alone dictates. */
static cc_err expected_verdict(const uint8_t *p, size_t n, size_t cap)
{
	if (n < PROTO_FRAME_HEADER_LEN)
		return CC_ERR_TRUNCATED;
	uint32_t len = load_be32(p);
	if (len > cap)
		return CC_ERR_TOO_LARGE;
	if (len == 0)
		return CC_ERR_MALFORMED;
	return n - PROTO_FRAME_HEADER_LEN < len ? CC_ERR_TRUNCATED : CC_OK;
}

static void check_peek(const uint8_t *data, size_t size)
{
	uint8_t *copy = malloc(size ? size : 1);
	CHECK(copy);
	if (size)
		memcpy(copy, data, size);
	int was_ok = 0;
	for (size_t i = 0; i < sizeof caps / sizeof caps[0]; i++) {
		size_t body = 0xdead;
		cc_err err = proto_frame_peek(copy, size, caps[i], &body);
		CHECK(err == expected_verdict(copy, size, caps[i]));
		if (err == CC_OK) {
			CHECK(body >= 1 && body <= caps[i]);
			CHECK(body == load_be32(copy));
			CHECK(body <= size - PROTO_FRAME_HEADER_LEN);
			was_ok = 1;
		} else {
			/* Raising the cap never turns a whole frame into an error. */
			CHECK(!was_ok);
			CHECK(body == 0xdead);
		}
	}
	free(copy);
}

struct split {
	size_t count;
	size_t *lens;  /* body lengths, in order */
	size_t used;   /* bytes consumed by whole frames */
	cc_err end;    /* the verdict that stopped the split */
};

static void split_whole(const uint8_t *data, size_t size, size_t cap, struct split *s)
{
	size_t body;
	memset(s, 0, sizeof *s);
	s->lens = malloc((size / PROTO_FRAME_HEADER_LEN + 1) * sizeof *s->lens);
	CHECK(s->lens);
	for (;;) {
		s->end = proto_frame_peek(data + s->used, size - s->used, cap, &body);
		if (s->end != CC_OK)
			break;
		s->lens[s->count++] = body;
		s->used += PROTO_FRAME_HEADER_LEN + body;
	}
}

/* The same stream through a read loop: append a chunk, take whole frames. */
static void split_chunked(const uint8_t *data, size_t size, size_t cap, size_t chunk,
			  const struct split *want)
{
	struct buf in;
	size_t fed = 0, count = 0, body;
	cc_err end = CC_ERR_TRUNCATED;

	buf_init(&in, 0);
	while (fed < size && end == CC_ERR_TRUNCATED) {
		size_t n = size - fed < chunk ? size - fed : chunk;
		CHECK(buf_put_bytes(&in, data + fed, n) == CC_OK);
		fed += n;
		while ((end = proto_frame_peek(in.data, in.len, cap, &body)) == CC_OK) {
			CHECK(count < want->count && body == want->lens[count]);
			count++;
			buf_consume(&in, PROTO_FRAME_HEADER_LEN + body);
		}
	}
	CHECK(count == want->count);
	if (size == 0 || end == CC_ERR_TRUNCATED) {
		/* Ran out of input mid-frame, like the one-shot split. */
		CHECK(want->end == CC_ERR_TRUNCATED);
		CHECK(in.len == size - want->used);
	} else {
		CHECK(end == want->end);
	}
	buf_free(&in);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_peek(data, size);

	/* Split at the pre-auth cap and at the default cap. */
	static const size_t split_caps[] = {PROTO_FRAME_MAX_PREAUTH, PROTO_FRAME_MAX_DEFAULT};
	for (size_t c = 0; c < 2; c++) {
		struct split s;
		split_whole(data, size, split_caps[c], &s);

		/* Frames re-put give back exactly the consumed bytes. */
		struct buf again;
		size_t off = 0;
		buf_init(&again, 0);
		for (size_t i = 0; i < s.count; i++) {
			uint8_t *frame = malloc(s.lens[i]);
			CHECK(frame);
			memcpy(frame, data + off + PROTO_FRAME_HEADER_LEN, s.lens[i]);
			CHECK(proto_frame_put(&again, frame, s.lens[i]) == CC_OK);
			free(frame);
			off += PROTO_FRAME_HEADER_LEN + s.lens[i];
		}
		CHECK(again.len == s.used);
		CHECK(s.used == 0 || memcmp(again.data, data, s.used) == 0);
		buf_free(&again);

		/* Chunk sizes from the input, so the fuzzer steers them too; byte
		 * by byte only for short inputs, where it stays cheap. */
		size_t chunk = size ? 1 + data[size - 1] % 17 : 1;
		split_chunked(data, size, split_caps[c], chunk, &s);
		if (size <= 512)
			split_chunked(data, size, split_caps[c], 1, &s);
		free(s.lens);
	}
	return 0;
}

/* ---- seed generation (CC_FUZZ_GEN_SEEDS=dir) ---- */

static void gen_seeds(const char *dir)
{
	uint8_t body[300];
	struct buf b;
	for (size_t i = 0; i < sizeof body; i++)
		body[i] = (uint8_t)(i * 37 + 1);

	buf_init(&b, 0);
	CHECK(proto_frame_put(&b, (const uint8_t *)"hello", 5) == CC_OK);
	fuzz_write_buf(dir, "one_frame", &b);
	CHECK(proto_frame_put(&b, body, 1) == CC_OK);
	fuzz_write_buf(dir, "two_frames", &b);
	/* The second frame cut short. */
	CHECK(proto_frame_put(&b, body, 200) == CC_OK);
	b.len -= 100;
	fuzz_write_buf(dir, "partial_body", &b);
	buf_reset(&b);
	for (size_t n = 1; n <= 16; n++)
		CHECK(proto_frame_put(&b, body, n) == CC_OK);
	fuzz_write_buf(dir, "many_frames", &b);
	/* A CLIENT_HELLO-sized frame: type, version, two 32-byte fields. */
	buf_reset(&b);
	body[0] = 0x01, body[1] = 0, body[2] = 1;
	CHECK(proto_frame_put(&b, body, 67) == CC_OK);
	fuzz_write_buf(dir, "client_hello_sized", &b);
	buf_free(&b);

	static const uint8_t short_header[] = {0, 0, 1};
	static const uint8_t zero_length[] = {0, 0, 0, 0, 'x'};
	static const uint8_t over_preauth[] = {0, 1, 0, 1, 'x', 'y'};
	static const uint8_t over_default[] = {0, 0x10, 0, 1, 'x'};
	static const uint8_t over_limit[] = {0xff, 0xff, 0xff, 0xff, 'x'};
	static const uint8_t then_zero[] = {0, 0, 0, 1, 'a', 0, 0, 0, 0};
	fuzz_write(dir, "short_header", short_header, sizeof short_header);
	fuzz_write(dir, "zero_length", zero_length, sizeof zero_length);
	fuzz_write(dir, "over_preauth", over_preauth, sizeof over_preauth);
	fuzz_write(dir, "over_default", over_default, sizeof over_default);
	fuzz_write(dir, "over_limit", over_limit, sizeof over_limit);
	fuzz_write(dir, "frame_then_zero_length", then_zero, sizeof then_zero);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	const char *dir = getenv("CC_FUZZ_GEN_SEEDS");
	if (dir) {
		gen_seeds(dir);
		exit(0);
	}
	return 0;
}
