/* The full-screen UI's key decoder (src/client/tui/keys.h): characters,
 * control and Alt keys, xterm's escape sequences, sequences cut between
 * reads, and bracketed paste taken whole (no key inside it acts), too big
 * a paste refused, bytes that are not UTF-8 reported. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "client/tui/keys.h"

#define MAX_SEEN 64

struct seen {
	struct key k[MAX_SEEN];
	char *text[MAX_SEEN];
	size_t n;
};

static void record(void *ctx, const struct key *k)
{
	struct seen *s = ctx;
	assert_true(s->n < MAX_SEEN);
	s->k[s->n] = *k;
	s->text[s->n] = NULL;
	if (k->text) {
		s->text[s->n] = malloc(k->len + 1);
		assert_non_null(s->text[s->n]);
		memcpy(s->text[s->n], k->text, k->len);
		s->text[s->n][k->len] = '\0';
	}
	s->k[s->n].text = s->text[s->n];
	s->n++;
}

static void seen_reset(struct seen *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->text[i]);
	s->n = 0;
}

/* Feeds s whole; returns whether bytes wait. */
static bool feed(struct keys *k, struct seen *out, const char *s)
{
	return keys_feed(k, s, strlen(s), record, out);
}

static void expect(const struct seen *s, size_t i, enum key_sym sym, uint32_t cp, bool alt)
{
	assert_true(i < s->n);
	assert_int_equal(s->k[i].sym, sym);
	assert_int_equal(s->k[i].cp, cp);
	assert_int_equal(s->k[i].alt, alt);
}

static void test_characters(void **state)
{
	struct keys k;
	struct seen s = {0};
	(void)state;
	keys_init(&k);
	assert_false(feed(&k, &s, "a\xc3\xa9\xe4\xbd\xa0\xf0\x9f\x98\x80"));
	assert_int_equal(s.n, 4);
	expect(&s, 0, KEY_SYM_CHAR, 'a', false);
	expect(&s, 1, KEY_SYM_CHAR, 0xe9, false);
	expect(&s, 2, KEY_SYM_CHAR, 0x4f60, false);
	expect(&s, 3, KEY_SYM_CHAR, 0x1f600, false);
	assert_string_equal(s.text[3], "\xf0\x9f\x98\x80");
	seen_reset(&s);
	/* A character cut between two reads waits for its end. */
	assert_true(feed(&k, &s, "\xf0\x9f"));
	assert_int_equal(s.n, 0);
	assert_false(feed(&k, &s, "\x98\x80z"));
	assert_int_equal(s.n, 2);
	expect(&s, 0, KEY_SYM_CHAR, 0x1f600, false);
	expect(&s, 1, KEY_SYM_CHAR, 'z', false);
	seen_reset(&s);
	keys_free(&k);
}

static void test_controls(void **state)
{
	struct keys k;
	struct seen s = {0};
	(void)state;
	keys_init(&k);
	feed(&k, &s, "\r\n\t\x7f\x08\x01\x05\x0e\x10\x07\x03");
	enum key_sym syms[] = {KEY_SYM_ENTER, KEY_SYM_ENTER, KEY_SYM_TAB, KEY_SYM_BACKSPACE,
			       KEY_SYM_BACKSPACE};
	for (size_t i = 0; i < 5; i++)
		expect(&s, i, syms[i], 0, false);
	uint32_t ctrl[] = {'a', 'e', 'n', 'p', 'g', 'c'};
	for (size_t i = 0; i < 6; i++)
		expect(&s, 5 + i, KEY_SYM_CTRL, ctrl[i], false);
	assert_int_equal(s.n, 11);
	seen_reset(&s);
	keys_free(&k);
}

static void test_sequences(void **state)
{
	struct keys k;
	struct seen s = {0};
	(void)state;
	keys_init(&k);
	feed(&k, &s, "\x1b[A\x1b[B\x1bOC\x1bOD\x1b[H\x1b[F\x1b[1~\x1b[4~\x1b[3~\x1b[5~\x1b[6~");
	enum key_sym syms[] = {KEY_SYM_UP,   KEY_SYM_DOWN, KEY_SYM_RIGHT,  KEY_SYM_LEFT,
			       KEY_SYM_HOME, KEY_SYM_END,  KEY_SYM_HOME,   KEY_SYM_END,
			       KEY_SYM_DELETE, KEY_SYM_PGUP, KEY_SYM_PGDN};
	assert_int_equal(s.n, sizeof syms / sizeof *syms);
	for (size_t i = 0; i < s.n; i++)
		expect(&s, i, syms[i], 0, false);
	seen_reset(&s);
	/* Modifiers: Ctrl-Right, Alt-Left. */
	feed(&k, &s, "\x1b[1;5C\x1b[1;3D");
	assert_int_equal(s.n, 2);
	assert_int_equal(s.k[0].sym, KEY_SYM_RIGHT);
	assert_true(s.k[0].ctrl);
	assert_int_equal(s.k[1].sym, KEY_SYM_LEFT);
	assert_true(s.k[1].alt);
	seen_reset(&s);
	/* A sequence cut between reads. */
	assert_true(feed(&k, &s, "\x1b["));
	assert_true(feed(&k, &s, "5"));
	assert_false(feed(&k, &s, "~"));
	assert_int_equal(s.n, 1);
	expect(&s, 0, KEY_SYM_PGUP, 0, false);
	seen_reset(&s);
	/* Unknown ones are reported, and what follows is read as usual. */
	feed(&k, &s, "\x1b[99~x\x1b[1;2y");
	assert_int_equal(s.n, 3);
	assert_int_equal(s.k[0].sym, KEY_SYM_UNKNOWN);
	assert_string_equal(s.text[0], "\x1b[99~");
	expect(&s, 1, KEY_SYM_CHAR, 'x', false);
	assert_int_equal(s.k[2].sym, KEY_SYM_UNKNOWN);
	seen_reset(&s);
	/* F-keys are keys, not text. */
	feed(&k, &s, "\x1bOP\x1b[15~");
	expect(&s, 0, KEY_SYM_FKEY, 1, false);
	expect(&s, 1, KEY_SYM_FKEY, 5, false);
	seen_reset(&s);
	keys_free(&k);
}

static void test_alt_and_esc(void **state)
{
	struct keys k;
	struct seen s = {0};
	(void)state;
	keys_init(&k);
	feed(&k, &s, "\x1b" "b\x1b" "f\x1b" "1\x1b\x7f\x1b\xc3\xa9");
	assert_int_equal(s.n, 5);
	expect(&s, 0, KEY_SYM_CHAR, 'b', true);
	expect(&s, 1, KEY_SYM_CHAR, 'f', true);
	expect(&s, 2, KEY_SYM_CHAR, '1', true);
	expect(&s, 3, KEY_SYM_BACKSPACE, 0, true);
	expect(&s, 4, KEY_SYM_CHAR, 0xe9, true);
	seen_reset(&s);
	/* A lone ESC waits; with nothing after it, it is Esc. */
	assert_true(feed(&k, &s, "\x1b"));
	assert_int_equal(s.n, 0);
	keys_flush(&k, record, &s);
	assert_int_equal(s.n, 1);
	expect(&s, 0, KEY_SYM_ESC, 0, false);
	seen_reset(&s);
	/* ESC ESC: Esc, then whatever the second starts. */
	feed(&k, &s, "\x1b\x1b[A");
	assert_int_equal(s.n, 2);
	expect(&s, 0, KEY_SYM_ESC, 0, false);
	expect(&s, 1, KEY_SYM_UP, 0, false);
	seen_reset(&s);
	keys_free(&k);
}

static void test_invalid_bytes(void **state)
{
	struct keys k;
	struct seen s = {0};
	(void)state;
	keys_init(&k);
	feed(&k, &s, "\xff" "a\x80");
	assert_int_equal(s.n, 3);
	expect(&s, 0, KEY_SYM_INVALID, 0xff, false);
	expect(&s, 1, KEY_SYM_CHAR, 'a', false);
	expect(&s, 2, KEY_SYM_INVALID, 0x80, false);
	seen_reset(&s);
	/* A sequence that can no longer be UTF-8 is reported at once... */
	feed(&k, &s, "\xe4q");
	assert_int_equal(s.n, 2);
	expect(&s, 0, KEY_SYM_INVALID, 0xe4, false);
	expect(&s, 1, KEY_SYM_CHAR, 'q', false);
	seen_reset(&s);
	/* ...one cut short when nothing more comes. */
	assert_true(feed(&k, &s, "\xe4\xbd"));
	keys_flush(&k, record, &s);
	assert_int_equal(s.n, 2);
	expect(&s, 0, KEY_SYM_INVALID, 0xe4, false);
	expect(&s, 1, KEY_SYM_INVALID, 0xbd, false);
	seen_reset(&s);
	keys_free(&k);
}

static void test_paste(void **state)
{
	struct keys k;
	struct seen s = {0};
	(void)state;
	keys_init(&k);
	/* Enter, Ctrl-C, ESC sequences inside a paste are text. */
	feed(&k, &s, "x\x1b[200~one\r\ntwo\x03\x1b[A\nthree\x1b[201~y");
	assert_int_equal(s.n, 3);
	expect(&s, 0, KEY_SYM_CHAR, 'x', false);
	assert_int_equal(s.k[1].sym, KEY_SYM_PASTE);
	assert_int_equal(s.k[1].len, strlen("one\r\ntwo\x03\x1b[A\nthree"));
	assert_string_equal(s.text[1], "one\r\ntwo\x03\x1b[A\nthree");
	expect(&s, 2, KEY_SYM_CHAR, 'y', false);
	seen_reset(&s);
	/* Fed a byte at a time: the markers cut anywhere. */
	const char *p = "\x1b[200~a\x1b[20\x1b[201b\n\xe4\xbd\xa0\x1b[201~z";
	for (size_t i = 0; p[i]; i++)
		keys_feed(&k, p + i, 1, record, &s);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.k[0].sym, KEY_SYM_PASTE);
	assert_string_equal(s.text[0], "a\x1b[20\x1b[201b\n\xe4\xbd\xa0");
	expect(&s, 1, KEY_SYM_CHAR, 'z', false);
	seen_reset(&s);
	/* An end marker that never comes: ended by the caller's timer. */
	feed(&k, &s, "\x1b[200~lost end\x1b[20");
	assert_true(keys_in_paste(&k));
	assert_int_equal(s.n, 0);
	keys_end_paste(&k, record, &s);
	assert_false(keys_in_paste(&k));
	assert_int_equal(s.n, 1);
	assert_string_equal(s.text[0], "lost end\x1b[20");
	seen_reset(&s);
	feed(&k, &s, "q");
	expect(&s, 0, KEY_SYM_CHAR, 'q', false);
	seen_reset(&s);
	keys_free(&k);
}

static void test_paste_too_big(void **state)
{
	struct keys k;
	struct seen s = {0};
	(void)state;
	keys_init(&k);
	size_t big = KEYS_PASTE_MAX + 100;
	char *chunk = malloc(65536);
	assert_non_null(chunk);
	memset(chunk, 'x', 65536);
	feed(&k, &s, "\x1b[200~");
	for (size_t left = big; left;) {
		size_t n = left < 65536 ? left : 65536;
		keys_feed(&k, chunk, n, record, &s);
		left -= n;
	}
	feed(&k, &s, "\x1b[201~ok");
	assert_int_equal(s.n, 3);
	assert_int_equal(s.k[0].sym, KEY_SYM_PASTE_TOO_BIG);
	assert_int_equal(s.k[0].len, big);
	expect(&s, 1, KEY_SYM_CHAR, 'o', false);
	seen_reset(&s);
	/* Just under the cap is taken whole. */
	feed(&k, &s, "\x1b[200~");
	for (size_t left = KEYS_PASTE_MAX; left;) {
		size_t n = left < 65536 ? left : 65536;
		keys_feed(&k, chunk, n, record, &s);
		left -= n;
	}
	feed(&k, &s, "\x1b[201~");
	assert_int_equal(s.n, 1);
	assert_int_equal(s.k[0].sym, KEY_SYM_PASTE);
	assert_int_equal(s.k[0].len, KEYS_PASTE_MAX);
	seen_reset(&s);
	free(chunk);
	keys_free(&k);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_characters),  cmocka_unit_test(test_controls),
		cmocka_unit_test(test_sequences),   cmocka_unit_test(test_alt_and_esc),
		cmocka_unit_test(test_invalid_bytes), cmocka_unit_test(test_paste),
		cmocka_unit_test(test_paste_too_big),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
