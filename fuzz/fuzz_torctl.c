/* Fuzz target: tor's control-port replies (src/util/torctl.h), as a tor
 * (or something posing as one on the control port) may send them.
 *
 * The input is a byte stream of replies. Parsed one after another, each
 * whole reply is used exactly, never past the input; every line kept is a
 * NUL-ended string inside the reply's own storage, with no CR or LF in it;
 * a TRUNCATED verdict holds for every shorter prefix too (more bytes never
 * make a complete reply incomplete); and torctl_value on each line either
 * finds a value that fits, or says not there, or refuses, without reading
 * past the line. torctl_quote of the input (as a C string) round-trips
 * through torctl_value.
 *
 * CC_FUZZ_GEN_SEEDS=dir writes the seed corpus (fuzz/corpus/torctl) and
 * exits. */
#define FUZZ_NAME "fuzz_torctl"
#include "fuzz_common.h"

#include "util/torctl.h"

static void check_reply(const struct torctl_reply *r)
{
	CHECK(r->status >= 200 && r->status <= 699 && r->nlines >= 1 &&
	      r->nlines <= TORCTL_LINES_MAX);
	for (size_t i = 0; i < r->nlines; i++) {
		const char *l = r->lines[i];
		CHECK(l >= r->text && l < r->text + sizeof r->text);
		size_t n = strnlen(l, (size_t)(r->text + sizeof r->text - l));
		CHECK(l + n < r->text + sizeof r->text);
		CHECK(!memchr(l, '\n', n) && !memchr(l, '\r', n));
		char v[64];
		static const char *const keys[] = {"ServiceID", "PrivateKey", "METHODS",
						   "COOKIEFILE", "Tor"};
		for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
			int got = torctl_value(l, keys[k], v, sizeof v);
			CHECK(got >= -1 && got <= 1);
			if (got == 1)
				CHECK(strlen(v) < sizeof v);
		}
	}
}

static void gen_seeds(const char *dir)
{
	static const struct {
		const char *name, *text;
	} seeds[] = {
		{"protocolinfo", "250-PROTOCOLINFO 1\r\n250-AUTH METHODS=COOKIE,SAFECOOKIE "
				 "COOKIEFILE=\"/var/run/tor/control.authcookie\"\r\n"
				 "250-VERSION Tor=\"0.4.9.11\"\r\n250 OK\r\n"},
		{"add-onion", "250-ServiceID=xqlnuux4ewoveyfg7wl2gpaq3t6uxs3yhp3zxgujalilkmxznqd25jad"
			      "\r\n250-PrivateKey=ED25519-V3:QJsFAeVVK81v7eA4TLAO9oSpQIXnv6ljnz1iVx6K"
			      "Ck9mMwzRyFvc74axxYFTuM0e6UeZD4h87Y2bYSvWNYQjLw==\r\n250 OK\r\n"},
		{"auth-failed", "515 Authentication failed: Password did not match\r\n"},
		{"collision", "550 Onion address collision\r\n"},
		{"data", "250+onions/current=\r\nabc\r\ndef\r\n.\r\n250 OK\r\n"},
		{"two", "250 OK\r\n250 OK\r\n"},
		{"quoted", "250-AUTH COOKIEFILE=\"a \\\"b\\\\ c\" METHODS=NULL\r\n250 OK\r\n"},
		{"lf-only", "250 OK\n"},
		{"truncated", "250-ServiceID=abc\r\n250-"},
	};
	for (size_t i = 0; i < sizeof seeds / sizeof seeds[0]; i++)
		fuzz_write(dir, seeds[i].name, seeds[i].text, strlen(seeds[i].text));
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
	static struct torctl_reply r, shorter;
	/* An exact-size copy: a read past the input is an ASan report. */
	char *in = malloc(size ? size : 1);
	CHECK(in != NULL);
	memcpy(in, data, size);
	size_t at = 0;
	for (;;) {
		size_t used = 0;
		cc_err err = torctl_reply_parse(in + at, size - at, &r, &used);
		if (err == CC_OK) {
			CHECK(used >= 4 && used <= size - at);
			check_reply(&r);
			/* No shorter prefix is a whole reply of another length. */
			size_t u2 = 0;
			if (used > 1)
				CHECK(torctl_reply_parse(in + at, used - 1, &shorter, &u2) !=
				      CC_OK || u2 < used);
			at += used;
			continue;
		}
		CHECK(err == CC_ERR_TRUNCATED || err == CC_ERR_MALFORMED || err == CC_ERR_TOO_LARGE);
		CHECK(used == 0);
		break;
	}
	/* Quoting any string without control characters round-trips. */
	char s[128], q[300], line[320], back[128];
	size_t n = size < sizeof s - 1 ? size : sizeof s - 1;
	memcpy(s, data, n);
	s[n] = '\0';
	if (torctl_quote(s, q, sizeof q) == CC_OK) {
		snprintf(line, sizeof line, "X K=%s Y", q);
		CHECK(torctl_value(line, "K", back, sizeof back) == 1);
		CHECK(strcmp(back, s) == 0);
	}
	free(in);
	return 0;
}
