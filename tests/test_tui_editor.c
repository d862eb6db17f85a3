/* The full-screen UI's line editor (src/client/tui/editor.h) and its UTF-8
 * clusters (utf8.h): motions, deletions, kills and history over ASCII,
 * 2-column CJK, 4-byte emoji and combining marks; the cursor never inside
 * a UTF-8 sequence or between a mark and its base, whatever keys come;
 * what is refused leaves the line as it was. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/tui/editor.h"
#include "client/tui/utf8.h"

#define CJK "\xe4\xbd\xa0\xe5\xa5\xbd"         /* 你好: 2 columns each */
#define EMOJI "\xf0\x9f\x98\x80"              /* U+1F600: 4 bytes, 2 columns */
#define E_ACUTE "e\xcc\x81"                   /* e and U+0301 */
#define ACUTE "\xcc\x81"

static void set(struct editor *ed, const char *s)
{
	assert_int_equal(editor_set(ed, s, strlen(s)), EDITOR_OK);
}

static void test_ascii(void **state)
{
	struct editor ed;
	(void)state;
	editor_init(&ed);
	assert_true(editor_empty(&ed));
	assert_string_equal(editor_text(&ed), "");
	assert_int_equal(editor_insert(&ed, "hello", 5), EDITOR_OK);
	assert_int_equal(editor_cursor(&ed), 5);
	editor_left(&ed);
	editor_left(&ed);
	assert_int_equal(editor_insert(&ed, "X", 1), EDITOR_OK);
	assert_string_equal(editor_text(&ed), "helXlo");
	editor_delete_back(&ed);
	editor_delete_fwd(&ed);
	assert_string_equal(editor_text(&ed), "helo");
	editor_home(&ed);
	assert_int_equal(editor_cursor(&ed), 0);
	editor_left(&ed);  /* nothing before */
	assert_int_equal(editor_cursor(&ed), 0);
	editor_delete_back(&ed);
	assert_string_equal(editor_text(&ed), "helo");
	editor_end(&ed);
	editor_right(&ed);
	editor_delete_fwd(&ed);
	assert_int_equal(editor_cursor(&ed), 4);
	assert_string_equal(editor_text(&ed), "helo");
	editor_clear(&ed);
	assert_true(editor_empty(&ed));
	editor_free(&ed);
}

static void test_wide_and_emoji(void **state)
{
	struct editor ed;
	(void)state;
	editor_init(&ed);
	set(&ed, "a" CJK EMOJI "b");
	assert_int_equal(tui_utf8_cols(editor_text(&ed), editor_len(&ed)), 1 + 4 + 2 + 1);
	editor_home(&ed);
	size_t stops[] = {0, 1, 4, 7, 11, 12};
	for (size_t i = 1; i < sizeof stops / sizeof *stops; i++) {
		editor_right(&ed);
		assert_int_equal(editor_cursor(&ed), stops[i]);
	}
	for (size_t i = sizeof stops / sizeof *stops - 1; i-- > 0;) {
		editor_left(&ed);
		assert_int_equal(editor_cursor(&ed), stops[i]);
	}
	/* Backspace over the emoji takes its 4 bytes at once. */
	editor_end(&ed);
	editor_left(&ed);
	editor_delete_back(&ed);
	assert_string_equal(editor_text(&ed), "a" CJK "b");
	editor_delete_back(&ed);
	assert_string_equal(editor_text(&ed), "a\xe4\xbd\xa0" "b");
	editor_free(&ed);
}

static void test_combining_marks(void **state)
{
	struct editor ed;
	(void)state;
	editor_init(&ed);
	set(&ed, "caf" E_ACUTE "!");
	/* é is one cluster of 3 bytes, one column. */
	assert_int_equal(tui_utf8_cols(editor_text(&ed), editor_len(&ed)), 5);
	editor_end(&ed);
	editor_left(&ed);
	assert_int_equal(editor_cursor(&ed), 6);
	editor_left(&ed);
	assert_int_equal(editor_cursor(&ed), 3);
	editor_delete_fwd(&ed);
	assert_string_equal(editor_text(&ed), "caf!");
	/* A mark typed after a base joins it: the cursor is after both. */
	editor_end(&ed);
	editor_left(&ed);
	assert_int_equal(editor_insert(&ed, "e", 1), EDITOR_OK);
	assert_int_equal(editor_insert(&ed, ACUTE, 2), EDITOR_OK);
	assert_string_equal(editor_text(&ed), "caf" E_ACUTE "!");
	assert_int_equal(editor_cursor(&ed), 6);
	/* A base typed before a mark that stood alone joins it, and the
	 * cursor goes past the cluster they make, never into it. */
	set(&ed, ACUTE "x");
	editor_home(&ed);
	assert_int_equal(editor_insert(&ed, "e", 1), EDITOR_OK);
	assert_string_equal(editor_text(&ed), E_ACUTE "x");
	assert_int_equal(editor_cursor(&ed), 3);
	/* Deleting a cluster takes its marks with it. */
	set(&ed, "aX" ACUTE "b");
	editor_home(&ed);
	editor_right(&ed);
	editor_delete_fwd(&ed);
	assert_string_equal(editor_text(&ed), "ab");
	/* A control stands alone (a mark after it stays visible, apart);
	 * deleting it joins the mark to the base before, and the cursor goes
	 * past the cluster they make. */
	set(&ed, "a\x1b" ACUTE);
	editor_home(&ed);
	editor_right(&ed);
	assert_int_equal(editor_cursor(&ed), 1);
	editor_delete_fwd(&ed);
	assert_string_equal(editor_text(&ed), "a" ACUTE);
	assert_int_equal(editor_cursor(&ed), 3);
	editor_free(&ed);
}

static void test_words(void **state)
{
	struct editor ed;
	(void)state;
	editor_init(&ed);
	const char *line = "hi, " CJK " w" EMOJI "x  end";
	set(&ed, line);
	/* Alt-B: back to the start of each word. */
	size_t back[] = {strlen(line) - 3, 11, 4, 0, 0};
	for (size_t i = 0; i < sizeof back / sizeof *back; i++) {
		editor_word_left(&ed);
		assert_int_equal(editor_cursor(&ed), back[i]);
	}
	/* Alt-F: to the end of each word. */
	size_t fwd[] = {2, 10, 17, strlen(line), strlen(line)};
	for (size_t i = 0; i < sizeof fwd / sizeof *fwd; i++) {
		editor_word_right(&ed);
		assert_int_equal(editor_cursor(&ed), fwd[i]);
	}
	editor_free(&ed);
}

static void test_kills_and_yank(void **state)
{
	struct editor ed;
	(void)state;
	editor_init(&ed);
	set(&ed, "one two " CJK " three");
	editor_kill_word_back(&ed);  /* Ctrl-W */
	assert_string_equal(editor_text(&ed), "one two " CJK " ");
	editor_kill_word_back(&ed);
	assert_string_equal(editor_text(&ed), "one two ");
	assert_int_equal(editor_yank(&ed), EDITOR_OK);
	assert_string_equal(editor_text(&ed), "one two " CJK " ");
	editor_home(&ed);
	editor_word_right(&ed);
	editor_kill_end(&ed);  /* Ctrl-K */
	assert_string_equal(editor_text(&ed), "one");
	editor_home(&ed);
	assert_int_equal(editor_yank(&ed), EDITOR_OK);
	assert_string_equal(editor_text(&ed), " two " CJK " one");
	editor_kill_start(&ed);  /* Ctrl-U */
	assert_string_equal(editor_text(&ed), "one");
	assert_int_equal(editor_cursor(&ed), 0);
	set(&ed, "a" EMOJI "b c");
	editor_home(&ed);
	editor_kill_word_fwd(&ed);  /* Alt-D */
	assert_string_equal(editor_text(&ed), " c");
	editor_free(&ed);
}

static void test_refused_input(void **state)
{
	struct editor ed;
	(void)state;
	editor_init(&ed);
	set(&ed, "keep " CJK);
	static const struct {
		const char *s;
		size_t n;
	} bad[] = {
		{"\xff", 1}, {"\xe4\xbd", 2}, {"a\0b", 3}, {"\xc0\xaf", 2},
		{"\xed\xa0\x80", 3}, {"\xf4\x90\x80\x80", 4}, {"\x80", 1},
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		assert_int_equal(editor_insert(&ed, bad[i].s, bad[i].n), EDITOR_INVALID);
		assert_string_equal(editor_text(&ed), "keep " CJK);
		assert_int_equal(editor_cursor(&ed), editor_len(&ed));
	}
	/* Full: refused whole, nothing lost. */
	char *big = malloc(EDITOR_MAX_BYTES);
	assert_non_null(big);
	memset(big, 'x', EDITOR_MAX_BYTES);
	assert_int_equal(editor_insert(&ed, big, EDITOR_MAX_BYTES), EDITOR_FULL);
	assert_string_equal(editor_text(&ed), "keep " CJK);
	size_t room = EDITOR_MAX_BYTES - editor_len(&ed);
	assert_int_equal(editor_insert(&ed, big, room), EDITOR_OK);
	assert_int_equal(editor_len(&ed), EDITOR_MAX_BYTES);
	assert_int_equal(editor_insert(&ed, "y", 1), EDITOR_FULL);
	assert_int_equal(editor_yank(&ed), EDITOR_OK);  /* nothing killed yet */
	free(big);
	editor_free(&ed);
}

static void test_history(void **state)
{
	struct editor ed;
	(void)state;
	editor_init(&ed);
	editor_history_add(&ed, "first");
	editor_history_add(&ed, "second");
	editor_history_add(&ed, "second");  /* not twice in a row */
	editor_history_add(&ed, "");
	assert_int_equal(ed.nhist, 2);
	set(&ed, "typing " CJK);
	editor_history_up(&ed);
	assert_string_equal(editor_text(&ed), "second");
	editor_history_up(&ed);
	assert_string_equal(editor_text(&ed), "first");
	editor_history_up(&ed);  /* the oldest stays */
	assert_string_equal(editor_text(&ed), "first");
	editor_history_down(&ed);
	assert_string_equal(editor_text(&ed), "second");
	editor_history_down(&ed);  /* back to what was being typed */
	assert_string_equal(editor_text(&ed), "typing " CJK);
	editor_history_down(&ed);
	assert_string_equal(editor_text(&ed), "typing " CJK);
	/* The oldest go when it is full. */
	for (int i = 0; i < EDITOR_HISTORY_MAX + 10; i++) {
		char line[16];
		snprintf(line, sizeof line, "line %d", i);
		editor_history_add(&ed, line);
	}
	assert_int_equal(ed.nhist, EDITOR_HISTORY_MAX);
	assert_string_equal(ed.hist[0], "line 10");
	editor_free(&ed);
}

static void test_view(void **state)
{
	struct editor ed;
	size_t first;
	int col;
	(void)state;
	editor_init(&ed);
	set(&ed, "short");
	editor_view(&ed, 20, &first, &col);
	assert_int_equal(first, 0);
	assert_int_equal(col, 5);
	/* Forty wide characters in 21 columns: the cursor stays in sight, the
	 * view starts on a character, never half of one. */
	editor_clear(&ed);
	for (int i = 0; i < 40; i++)
		assert_int_equal(editor_insert(&ed, "\xe4\xbd\xa0", 3), EDITOR_OK);
	for (int step = 0; step < 90; step++) {
		editor_view(&ed, 21, &first, &col);
		assert_true(col >= 0 && col <= 20);
		assert_int_equal(first % 3, 0);
		assert_int_equal(col, tui_utf8_cols(editor_text(&ed) + first, editor_cursor(&ed) - first));
		if (step < 45)
			editor_left(&ed);
		else
			editor_right(&ed);
	}
	editor_free(&ed);
}

/* Any sequence of keys leaves valid UTF-8 and the cursor on a cluster
 * boundary (a small deterministic generator, many rounds). */
static void test_never_splits(void **state)
{
	static const char *const pieces[] = {"a", " ", CJK, EMOJI, E_ACUTE, ACUTE, "\xcc\x88",
					     "\xe2\x80\x8d", "x\xef\xb8\x8f", ",", "\t"};
	struct editor ed;
	uint32_t rnd = 12345;
	(void)state;
	editor_init(&ed);
	for (int round = 0; round < 20000; round++) {
		rnd = rnd * 1103515245u + 12345u;
		unsigned op = (rnd >> 16) % 16;
		const char *p = pieces[(rnd >> 8) % (sizeof pieces / sizeof *pieces)];
		switch (op) {
		case 0: case 1: case 2: case 3:
			if (editor_len(&ed) < 400)
				editor_insert(&ed, p, strlen(p));
			break;
		case 4: editor_left(&ed); break;
		case 5: editor_right(&ed); break;
		case 6: editor_word_left(&ed); break;
		case 7: editor_word_right(&ed); break;
		case 8: editor_delete_back(&ed); break;
		case 9: editor_delete_fwd(&ed); break;
		case 10: editor_kill_word_back(&ed); break;
		case 11: editor_kill_word_fwd(&ed); break;
		case 12: editor_yank(&ed); break;
		case 13: if ((rnd >> 4) % 8 == 0) editor_kill_end(&ed); break;
		case 14: editor_home(&ed); break;
		default: editor_end(&ed); break;
		}
		const char *s = editor_text(&ed);
		size_t len = editor_len(&ed), cur = editor_cursor(&ed);
		assert_int_equal(strlen(s), len);
		uint32_t cp;
		for (size_t at = 0; at < len;) {
			size_t l = tui_utf8_decode(s + at, len - at, &cp);
			assert_true(l > 0);
			at += l;
		}
		/* The cursor is where a walk over clusters stops. */
		size_t at = 0;
		while (at < cur)
			at += tui_utf8_cluster_len(s + at, len - at);
		assert_int_equal(at, cur);
		size_t first;
		int col;
		editor_view(&ed, 13, &first, &col);
		assert_true(col >= 0 && col <= 12);
	}
	editor_free(&ed);
}

static void test_glyphs(void **state)
{
	struct tui_glyph g;
	(void)state;
	tui_glyph_of("a", 1, &g);
	assert_false(g.escaped);
	assert_int_equal(g.cols, 1);
	tui_glyph_of(CJK, 3, &g);
	assert_int_equal(g.cols, 2);
	tui_glyph_of(EMOJI, 4, &g);
	assert_int_equal(g.cols, 2);
	assert_int_equal(g.nwc, 1);
	tui_glyph_of(E_ACUTE, 3, &g);
	assert_int_equal(g.cols, 1);
	assert_int_equal(g.nwc, 2);
	/* What may not reach the terminal as itself. */
	tui_glyph_of("\x1b", 1, &g);
	assert_true(g.escaped);
	assert_string_equal(g.esc, "^[");
	tui_glyph_of("\xe2\x80\xae", 3, &g);  /* U+202E */
	assert_true(g.escaped);
	assert_string_equal(g.esc, "\\u202e");
	tui_glyph_of("\xc2\x9b", 2, &g);  /* CSI as C1 */
	assert_true(g.escaped);
	tui_glyph_of("\xff", 1, &g);
	assert_true(g.escaped);
	assert_string_equal(g.esc, "\\xff");
	tui_glyph_of("\xcd\xb8", 2, &g);  /* U+0378, unassigned */
	assert_true(g.escaped);
	/* A mark alone gets a dotted circle to sit on. */
	tui_glyph_of(ACUTE, 2, &g);
	assert_false(g.escaped);
	assert_int_equal(g.cols, 1);
	assert_int_equal(g.wc[0], 0x25cc);
	/* Controls stand alone: a mark after one does not hide it. */
	assert_int_equal(tui_utf8_cluster_len("\x1b" ACUTE, 3), 1);
	assert_int_equal(tui_utf8_cluster_len("\xe2\x80\xae" ACUTE, 5), 3);
}

int main(void)
{
	if (!setlocale(LC_CTYPE, "C.UTF-8")) {
		fprintf(stderr, "test_tui_editor: no C.UTF-8 locale\n");
		return 1;
	}
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ascii),
		cmocka_unit_test(test_wide_and_emoji),
		cmocka_unit_test(test_combining_marks),
		cmocka_unit_test(test_words),
		cmocka_unit_test(test_kills_and_yank),
		cmocka_unit_test(test_refused_input),
		cmocka_unit_test(test_history),
		cmocka_unit_test(test_view),
		cmocka_unit_test(test_never_splits),
		cmocka_unit_test(test_glyphs),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
