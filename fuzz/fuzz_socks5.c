/* Fuzz target: the SOCKS5 client's parser (src/transport/socks5.h), over
 * anything a proxy can send, and the proxy URL parser.
 *
 * Input: a first byte of flags (bit 0: offer username/password), then the
 * proxy's byte stream. It is fed to one client whole, reply after reply,
 * and to another a byte at a time, as reads may cut it: both end in the
 * same state with the same error code, having used the same bytes and
 * written the same requests. Along the way: a reply is used whole or not
 * at all, never past the input; a failure always says why; once open or
 * failed, no credential is left in the state; every request written is
 * well formed (the greeting, RFC 1929's, a CONNECT with ATYP 3 and the
 * name as given). An input starting with 'U' is instead a proxy URL: if
 * accepted, its host and port print back to a URL that parses the same.
 *
 * CC_FUZZ_GEN_SEEDS=dir writes the seed corpus (fuzz/corpus/socks5) and
 * exits. */
#define FUZZ_NAME "fuzz_socks5"
#include "fuzz_common.h"

#include "transport/socks5.h"

#define HOST "exampleonionaddressxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx.onion"
#define PORT 7777

struct run {
	struct socks5 s;
	struct buf out;
	size_t used;
	cc_err err;
};

static int creds_gone(const struct socks5 *s)
{
	for (size_t i = 0; i < sizeof s->user; i++)
		if (s->user[i] || s->pass[i])
			return 0;
	return 1;
}

static void run_start(struct run *r, int creds)
{
	buf_init(&r->out, 4096);
	r->used = 0;
	r->err = socks5_start(&r->s, HOST, PORT, creds ? "user" : NULL, creds ? "pass" : NULL,
			      &r->out);
	CHECK(r->err == CC_OK && r->s.state == SOCKS5_METHOD);
}

/* One call: checks what it did. */
static cc_err run_step(struct run *r, const uint8_t *in, size_t len)
{
	enum socks5_state before = r->s.state;
	size_t used = 99, out_before = r->out.len;
	cc_err err = socks5_recv(&r->s, in, len, &used, &r->out);
	CHECK(used <= len);
	if (err == CC_ERR_TRUNCATED) {
		CHECK(used == 0 && r->s.state == before && r->out.len == out_before);
		return err;
	}
	if (err) {
		CHECK(r->s.state == SOCKS5_FAILED && r->s.error_code && r->s.error_text);
		CHECK(creds_gone(&r->s));
	} else {
		CHECK(used >= 2);
		CHECK(r->s.state == SOCKS5_AUTH || r->s.state == SOCKS5_CONNECT ||
		      r->s.state == SOCKS5_OPEN);
		if (r->s.state == SOCKS5_OPEN)
			CHECK(creds_gone(&r->s) && r->out.len == out_before);
		else
			CHECK(r->out.len > out_before);
	}
	r->used += used;
	return err;
}

/* Whole: each call gets everything not yet used. */
static void run_whole(struct run *r, const uint8_t *in, size_t len)
{
	for (;;) {
		if (r->s.state == SOCKS5_OPEN || r->s.state == SOCKS5_FAILED)
			return;
		cc_err err = run_step(r, in + r->used, len - r->used);
		if (err) {
			r->err = err;
			return;
		}
	}
}

/* A byte at a time: the unused bytes so far, one more each round. */
static void run_bytes(struct run *r, const uint8_t *in, size_t len)
{
	for (size_t have = r->used; have < len;) {
		if (r->s.state == SOCKS5_OPEN || r->s.state == SOCKS5_FAILED)
			return;
		have++;
		cc_err err = run_step(r, in + r->used, have - r->used);
		if (err && err != CC_ERR_TRUNCATED) {
			r->err = err;
			return;
		}
		/* A whole reply may leave the next one already whole. */
		while (err == CC_OK && r->s.state != SOCKS5_OPEN && r->used < have) {
			err = run_step(r, in + r->used, have - r->used);
			if (err && err != CC_ERR_TRUNCATED) {
				r->err = err;
				return;
			}
		}
	}
}

/* The requests written are the greeting, perhaps RFC 1929's, perhaps a
 * CONNECT, each exactly as RFC 1928 and 1929 shape them. */
static void check_requests(const struct buf *out, int creds)
{
	static const uint8_t hello_creds[] = {5, 2, 0, 2}, hello[] = {5, 1, 0};
	const uint8_t *p = out->data;
	size_t n = out->len, h = creds ? sizeof hello_creds : sizeof hello;
	CHECK(n >= h && memcmp(p, creds ? hello_creds : hello, h) == 0);
	p += h;
	n -= h;
	static const uint8_t auth[] = {1, 4, 'u', 's', 'e', 'r', 4, 'p', 'a', 's', 's'};
	if (creds && n >= sizeof auth && p[0] == 1) {
		CHECK(memcmp(p, auth, sizeof auth) == 0);
		p += sizeof auth;
		n -= sizeof auth;
	}
	if (n == 0)
		return;
	size_t hl = strlen(HOST);
	CHECK(n == 5 + hl + 2);
	CHECK(p[0] == 5 && p[1] == 1 && p[2] == 0 && p[3] == 3 && p[4] == hl);
	CHECK(memcmp(p + 5, HOST, hl) == 0);
	CHECK(p[5 + hl] == PORT >> 8 && p[6 + hl] == (PORT & 0xff));
}

static void fuzz_url(const uint8_t *data, size_t size)
{
	char url[600], why[700], again[700];
	if (size > sizeof url - 1)
		size = sizeof url - 1;
	memcpy(url, data, size);
	url[size] = '\0';
	struct socks5_proxy p, q;
	if (socks5_url_parse(url, &p, why, sizeof why) != CC_OK) {
		CHECK(strstr(why, "bad proxy") != NULL);
		return;
	}
	size_t hl = strlen(p.host);
	CHECK(hl >= 1 && hl <= SOCKS5_HOST_MAX && p.port >= 1);
	snprintf(again, sizeof again, strchr(p.host, ':') ? "socks5h://[%s]:%u"
							  : "socks5h://%s:%u", p.host, p.port);
	CHECK(socks5_url_parse(again, &q, why, sizeof why) == CC_OK);
	CHECK(strcmp(p.host, q.host) == 0 && p.port == q.port);
}

static void gen_seeds(const char *dir)
{
	static const struct {
		const char *name;
		const char *bytes;
		size_t len;
	} seeds[] = {
		{"open-none-ipv4", "\x00\x05\x00\x05\x00\x00\x01\x7f\x00\x00\x01\x1e\x61", 13},
		{"open-creds-ipv6",
		 "\x01\x05\x02\x01\x00\x05\x00\x00\x04\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
		 "\x00\x00\x00\x00\x00\x01\x1e\x61", 27},
		{"open-creds-name", "\x01\x05\x02\x01\x00\x05\x00\x00\x03\x04host\x1e\x61", 15},
		{"no-method", "\x01\x05\xff", 3},
		{"auth-refused", "\x01\x05\x02\x01\x01", 5},
		{"host-unreachable", "\x00\x05\x00\x05\x04\x00\x01\x00\x00\x00\x00\x00\x00", 13},
		{"onion-not-found", "\x01\x05\x02\x01\x00\x05\xf0\x00\x01\x00\x00\x00\x00\x00\x00", 15},
		{"not-socks", "\x00HTTP/1.1 400 Bad Request\r\n", 27},
		{"truncated", "\x01\x05\x02\x01\x00\x05\x00\x00\x04\x00\x00", 11},
		{"url", "Usocks5h://127.0.0.1:9050", 25},
		{"url-v6", "Usocks5://[::1]:9150", 20},
	};
	for (size_t i = 0; i < sizeof seeds / sizeof seeds[0]; i++)
		fuzz_write(dir, seeds[i].name, seeds[i].bytes, seeds[i].len);
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	if (data[0] == 'U') {
		fuzz_url(data + 1, size - 1);
		return 0;
	}
	int creds = data[0] & 1;
	/* An exact-size copy: a read past the input is an ASan report. */
	size_t len = size - 1;
	uint8_t *in = malloc(len ? len : 1);
	CHECK(in != NULL);
	memcpy(in, data + 1, len);

	struct run whole, bytes;
	run_start(&whole, creds);
	run_start(&bytes, creds);
	run_whole(&whole, in, len);
	run_bytes(&bytes, in, len);
	CHECK(whole.s.state == bytes.s.state && whole.used == bytes.used);
	CHECK(whole.out.len == bytes.out.len &&
	      memcmp(whole.out.data, bytes.out.data, whole.out.len) == 0);
	if (whole.s.state == SOCKS5_FAILED)
		CHECK(strcmp(whole.s.error_code, bytes.s.error_code) == 0 &&
		      whole.s.reply == bytes.s.reply);
	check_requests(&whole.out, creds);
	socks5_clear(&whole.s);
	socks5_clear(&bytes.s);
	buf_free(&whole.out);
	buf_free(&bytes.out);
	free(in);
	return 0;
}
