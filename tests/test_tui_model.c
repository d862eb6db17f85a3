/* The full-screen UI's model and layout (src/client/tui/model.h,
 * layout.h), without curses: windows, unread counts and activity, the
 * scrollback's cap, scrolling by rows and the "more below" count, notices
 * that wait for acknowledgement, our lines in flight, escaped text, and
 * wrapping that keeps wide characters whole and marks a message's further
 * lines. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/tui/layout.h"
#include "client/tui/model.h"

#define ROOM_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define ROOM_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

/* Each line one row: scrolling in lines. */
static int one_row(void *ctx, const struct tui_line *l)
{
	(void)ctx;
	(void)l;
	return 1;
}

/* Rows as the pane lays them out at a width. */
static int laid_rows(void *ctx, const struct tui_line *l)
{
	return tui_line_rows(l, *(int *)ctx, l->time_ms);
}

static uint64_t add(struct tui_model *m, struct tui_window *w, const char *text,
		    enum tui_activity act)
{
	uint64_t id = tui_model_add(m, w, TUI_LINE_MSG, TUI_MARK_PINNED, 0, "bob", text, act);
	assert_true(id > 0);
	return id;
}

static void test_windows(void **state)
{
	struct tui_model m;
	size_t i;
	(void)state;
	assert_int_equal(tui_model_init(&m, 0), 0);
	assert_int_equal(m.nwins, 1);
	assert_true(tui_model_current(&m)->is_status);
	struct tui_window *a = tui_model_open(&m, ROOM_A);
	struct tui_window *b = tui_model_open(&m, ROOM_B);
	assert_non_null(a);
	assert_ptr_equal(tui_model_open(&m, ROOM_A), a);
	assert_ptr_equal(tui_model_find(&m, ROOM_B, &i), b);
	assert_int_equal(i, 2);
	assert_null(tui_model_find(&m, "", NULL));
	assert_null(tui_model_open(&m, ""));

	/* Activity where the user is not looking. */
	add(&m, a, "one", TUI_ACT_MESSAGE);
	add(&m, a, "two", TUI_ACT_MESSAGE);
	tui_model_add(&m, b, TUI_LINE_INFO, TUI_MARK_NONE, 0, NULL, "carol joined", TUI_ACT_EVENT);
	assert_int_equal(a->unread, 2);
	assert_int_equal(a->activity, TUI_ACT_MESSAGE);
	assert_int_equal(b->unread, 0);
	assert_int_equal(b->activity, TUI_ACT_EVENT);
	tui_model_add(&m, b, TUI_LINE_SECURITY, TUI_MARK_NONE, 0, NULL, "key changed",
		      TUI_ACT_SECURITY);
	add(&m, b, "after", TUI_ACT_MESSAGE);  /* never lowers it */
	assert_int_equal(b->activity, TUI_ACT_SECURITY);
	tui_model_switch(&m, 1);
	assert_int_equal(a->unread, 0);
	assert_int_equal(a->activity, TUI_ACT_NONE);
	add(&m, a, "seen", TUI_ACT_MESSAGE);  /* shown: read */
	assert_int_equal(a->unread, 0);

	/* Closing: never the status window; the one shown moves along. */
	tui_model_close(&m, 0);
	assert_int_equal(m.nwins, 3);
	tui_model_switch(&m, 2);
	tui_model_close(&m, 1);
	assert_int_equal(m.nwins, 2);
	assert_int_equal(m.current, 1);
	assert_ptr_equal(tui_model_current(&m), b);
	tui_model_close(&m, 1);
	assert_int_equal(m.current, 0);
	tui_model_free(&m);
}

static void test_scrollback_cap(void **state)
{
	struct tui_model m;
	(void)state;
	assert_int_equal(tui_model_init(&m, 100), 0);
	struct tui_window *w = tui_model_current(&m);
	for (int i = 0; i < 250; i++) {
		char text[16];
		snprintf(text, sizeof text, "line %d", i);
		add(&m, w, text, TUI_ACT_MESSAGE);
	}
	assert_true(w->nlines <= 100);
	assert_string_equal(w->lines[w->nlines - 1]->text, "line 249");
	for (size_t i = 1; i < w->nlines; i++)
		assert_true(w->lines[i]->id == w->lines[i - 1]->id + 1);
	assert_null(tui_window_line(w, 1));
	assert_non_null(tui_window_line(w, 250));
	tui_model_free(&m);
}

static void test_scrolling(void **state)
{
	struct tui_model m;
	size_t first, last;
	int skip, cut;
	(void)state;
	assert_int_equal(tui_model_init(&m, 0), 0);
	struct tui_window *w = tui_model_current(&m);

	/* Fewer lines than rows: nothing to scroll. */
	for (int i = 0; i < 5; i++)
		add(&m, w, "x", TUI_ACT_MESSAGE);
	tui_window_scroll(w, -9, 10, one_row, NULL);
	assert_true(w->follow);
	for (int i = 5; i < 50; i++)
		add(&m, w, "x", TUI_ACT_MESSAGE);
	assert_true(tui_window_visible(w, 10, one_row, NULL, &first, &skip, &last, &cut));
	assert_int_equal(first, 40);
	assert_int_equal(last, 49);

	/* PgUp: the view moves back, new lines count as below. */
	tui_window_scroll(w, -9, 10, one_row, NULL);
	assert_false(w->follow);
	tui_window_visible(w, 10, one_row, NULL, &first, &skip, &last, &cut);
	assert_int_equal(first, 31);
	assert_int_equal(last, 40);
	add(&m, w, "new", TUI_ACT_MESSAGE);
	add(&m, w, "newer", TUI_ACT_MESSAGE);
	assert_int_equal(w->below, 2);
	tui_window_visible(w, 10, one_row, NULL, &first, &skip, &last, &cut);
	assert_int_equal(last, 40);  /* the view stays put */

	/* Never past the oldest line. */
	tui_window_scroll(w, -1000, 10, one_row, NULL);
	tui_window_visible(w, 10, one_row, NULL, &first, &skip, &last, &cut);
	assert_int_equal(first, 0);
	assert_int_equal(skip, 0);
	assert_int_equal(last, 9);

	/* PgDn back to the newest follows again. */
	tui_window_scroll(w, 9, 10, one_row, NULL);
	assert_false(w->follow);
	tui_window_scroll(w, 1000, 10, one_row, NULL);
	assert_true(w->follow);
	assert_int_equal(w->below, 0);
	tui_model_free(&m);
}

static void test_scrolling_by_rows(void **state)
{
	struct tui_model m;
	size_t first, last;
	int skip, cut, width = 30;
	(void)state;
	assert_int_equal(tui_model_init(&m, 0), 0);
	struct tui_window *w = tui_model_current(&m);
	add(&m, w, "short", TUI_ACT_MESSAGE);
	uint64_t long_id = add(&m, w, "a long line of words that wraps over several rows of "
				       "the pane when it is thirty columns wide", TUI_ACT_MESSAGE);
	add(&m, w, "end", TUI_ACT_MESSAGE);
	int rows = laid_rows(&width, tui_window_line(w, long_id));
	assert_true(rows >= 3);
	/* Two rows up: the bottom of the view is inside the long line. */
	tui_window_scroll(w, -2, 2, laid_rows, &width);
	tui_window_visible(w, 2, laid_rows, &width, &first, &skip, &last, &cut);
	assert_int_equal(last, 1);
	assert_int_equal(cut, 1);
	assert_int_equal(skip, rows - 3);
	/* A narrower pane: the line takes more rows, the view still holds. */
	width = 20;
	tui_window_visible(w, 2, laid_rows, &width, &first, &skip, &last, &cut);
	assert_int_equal(last, 1);
	tui_model_free(&m);
}

static void test_notices(void **state)
{
	struct tui_model m;
	(void)state;
	assert_int_equal(tui_model_init(&m, 0), 0);
	tui_model_notice(&m, ROOM_A, 1, "first");
	tui_model_notice(&m, "", 2, "second");
	tui_model_notice(&m, ROOM_B, 3, "third");
	assert_int_equal(m.nnotices, 3);
	/* However many lines come after, a notice stays until seen. */
	for (int i = 0; i < 100; i++)
		add(&m, tui_model_current(&m), "noise", TUI_ACT_MESSAGE);
	assert_string_equal(m.notices[0].text, "first");
	tui_model_ack(&m, false);
	assert_int_equal(m.nnotices, 2);
	assert_string_equal(m.notices[0].text, "second");
	tui_model_ack(&m, true);
	assert_int_equal(m.nnotices, 0);
	tui_model_ack(&m, false);
	for (int i = 0; i < TUI_NOTICES_MAX + 5; i++)
		tui_model_notice(&m, "", 0, "many");
	assert_int_equal(m.nnotices, TUI_NOTICES_MAX);
	assert_int_equal(m.notices_dropped, 5);
	tui_model_ack(&m, true);
	assert_int_equal(m.notices_dropped, 0);
	tui_model_free(&m);
}

static void test_pending(void **state)
{
	struct tui_model m;
	(void)state;
	assert_int_equal(tui_model_init(&m, 0), 0);
	struct tui_window *a = tui_model_open(&m, ROOM_A);
	uint64_t id = tui_model_add(&m, a, TUI_LINE_OWN, TUI_MARK_PENDING, 0, "alice", "hi",
				    TUI_ACT_NONE);
	tui_model_pending_add(&m, 7, a, id);
	assert_null(tui_model_pending_line(&m, 8, false));
	assert_null(tui_model_pending_line(&m, 0, false));
	struct tui_line *l = tui_model_pending_line(&m, 7, false);
	assert_non_null(l);
	assert_string_equal(l->text, "hi");
	assert_ptr_equal(tui_model_pending_line(&m, 7, true), l);
	assert_null(tui_model_pending_line(&m, 7, true));
	/* A closed window takes its lines in flight with it. */
	tui_model_pending_add(&m, 9, a, id);
	tui_model_close(&m, 1);
	assert_null(tui_model_pending_line(&m, 9, false));
	tui_model_free(&m);
}

static void test_safe_text(void **state)
{
	struct tui_str s = {0};
	(void)state;
	tui_str_add(&s, "from %s: ", "ours");
	tui_str_safe(&s, "ok\r\x1b[2K<bob> fake \xe2\x80\xae end\\");
	tui_str_safe_n(&s, "a\nb\x07", 4);
	char *t = tui_str_take(&s);
	assert_string_equal(t, "from ours: ok\\r\\x1b[2K<bob> fake \\u202e end\\\\a\nb\\x07");
	free(t);
	t = tui_str_take(&s);  /* empty after */
	assert_string_equal(t, "");
	free(t);
}

/* ---- layout ------------------------------------------------------------------ */

struct grid {
	int width, rows;
	char cell[8][64][8];    /* what each cell shows (UTF-8 of the base) */
	int style[8][64];
};

static void grid_cell(void *ctx, int row, int col, enum tui_style style,
		      const struct tui_glyph *g)
{
	struct grid *gr = ctx;
	assert_true(row < 8);
	assert_true(col >= 0);
	assert_true(col + g->cols <= gr->width);
	if (g->escaped) {
		for (int i = 0; g->esc[i]; i++) {
			gr->cell[row][col + i][0] = g->esc[i];
			gr->style[row][col + i] = style;
		}
	} else {
		assert_true(wcrtomb(gr->cell[row][col], g->wc[0], NULL) > 0);
		gr->style[row][col] = style;
		if (g->cols == 2)
			strcpy(gr->cell[row][col + 1], "\x01");  /* the wide glyph's right half */
	}
	if (row + 1 > gr->rows)
		gr->rows = row + 1;
}

/* Row r of the grid as a string (empty cells as spaces, trailing ones cut). */
static char *grid_row(struct grid *g, int r, char *out)
{
	out[0] = '\0';
	for (int c = 0; c < g->width; c++) {
		if (strcmp(g->cell[r][c], "\x01") == 0)
			continue;
		strcat(out, *g->cell[r][c] ? g->cell[r][c] : " ");
	}
	size_t n = strlen(out);
	while (n && out[n - 1] == ' ')
		out[--n] = '\0';
	return out;
}

static void test_layout(void **state)
{
	char row[512];
	(void)state;
	struct grid *g = calloc(1, sizeof *g);
	assert_non_null(g);
	/* Words move to the next row whole; the further rows are indented. */
	g->width = 12;
	struct tui_span words[] = {{TUI_STYLE_NICK, "<bob> ", 6},
				   {TUI_STYLE_TEXT, "one two three four", 18}};
	int rows = tui_layout(words, 2, 12, 6, grid_cell, g);
	assert_int_equal(rows, 4);
	assert_string_equal(grid_row(g, 0, row), "<bob> one");
	assert_string_equal(grid_row(g, 1, row), "      two");
	assert_string_equal(grid_row(g, 2, row), "      three");
	assert_string_equal(grid_row(g, 3, row), "      four");
	assert_int_equal(g->style[0][0], TUI_STYLE_NICK);

	/* A wide character never straddles the edge: 5 columns, 3 wide
	 * characters (a word), so the third begins the next row. */
	memset(g, 0, sizeof *g);
	g->width = 5;
	struct tui_span cjk = {TUI_STYLE_TEXT, "\xe4\xbd\xa0\xe5\xa5\xbd\xe5\x90\x97", 9};
	rows = tui_layout(&cjk, 1, 5, 0, grid_cell, g);
	assert_int_equal(rows, 2);
	assert_string_equal(grid_row(g, 0, row), "\xe4\xbd\xa0\xe5\xa5\xbd");
	assert_string_equal(grid_row(g, 1, row), "\xe5\x90\x97");

	/* A message's further lines are marked; controls are shown escaped,
	 * never passed on; a mark alone sits on a dotted circle. */
	memset(g, 0, sizeof *g);
	g->width = 40;
	struct tui_span multi = {TUI_STYLE_TEXT, "first\n<alice> fake\x1b!\n\xcc\x81", 25};
	multi.n = strlen(multi.s);
	rows = tui_layout(&multi, 1, 40, 4, grid_cell, g);
	assert_int_equal(rows, 3);
	assert_string_equal(grid_row(g, 0, row), "first");
	assert_string_equal(grid_row(g, 1, row), "    " TUI_CONT_MARK "<alice> fake^[!");
	assert_int_equal(g->style[1][4], TUI_STYLE_CONT);
	assert_string_equal(grid_row(g, 2, row), "    " TUI_CONT_MARK "\xe2\x97\x8c");
	free(g);
}

static void test_line_spans(void **state)
{
	struct tui_span spans[TUI_LINE_SPANS];
	char timebuf[32];
	int indent;
	(void)state;
	/* 2021-01-01 12:34 UTC; the day is now_ms's: no date. */
	uint64_t t = 1609504440000ull;
	struct tui_line l = {.kind = TUI_LINE_MSG, .mark = TUI_MARK_UNPINNED, .time_ms = t,
			     .nick = "bob", .text = "hello"};
	size_t n = tui_line_spans(&l, t, timebuf, spans, &indent);
	assert_int_equal(strlen(timebuf), 6);  /* "HH:MM " */
	assert_true(n >= 5);
	assert_int_equal(spans[1].style, TUI_STYLE_ALARM);
	assert_memory_equal(spans[1].s, "!", 1);
	assert_int_equal(spans[2].style, TUI_STYLE_ALARM);  /* the nickname too */
	assert_int_equal(indent, 6 + 1 + 3 + 3);
	assert_int_equal(spans[n - 1].style, TUI_STYLE_TEXT);
	/* Another day: the date is shown. */
	tui_line_spans(&l, t + 3 * 86400000ull, timebuf, spans, &indent);
	assert_int_equal(strlen(timebuf), 17);  /* "YYYY-MM-DD HH:MM " */
	l.mark = TUI_MARK_VERIFIED;
	tui_line_spans(&l, t, timebuf, spans, &indent);
	assert_int_equal(spans[1].style, TUI_STYLE_VERIFIED);
	assert_memory_equal(spans[1].s, "\u2713", 3);
	l.kind = TUI_LINE_OWN;
	l.mark = TUI_MARK_FAILED;
	l.note = "(not sent: no)";
	n = tui_line_spans(&l, t, timebuf, spans, &indent);
	assert_int_equal(spans[n - 1].style, TUI_STYLE_FAILED);
	assert_string_equal(spans[n - 1].s, "(not sent: no)");
}

static void test_connection_text(void **state)
{
	char buf[64];
	(void)state;
	assert_string_equal(tui_connection_text(CLIENT_CONNECTING, false, 0, 0, buf, sizeof buf),
			    "connecting\u2026");
	assert_string_equal(tui_connection_text(CLIENT_READY, false, 0, 0, buf, sizeof buf),
			    "connected");
	/* CONNECTION_LOST said "in 5000 ms" at t = 1000: it counts down. */
	const char *expect[] = {"reconnecting in 5 s", "reconnecting in 5 s", "reconnecting in 4 s",
				"reconnecting in 1 s", "reconnecting\u2026"};
	uint64_t at[] = {1000, 1500, 2000, 5999, 6000};
	for (size_t i = 0; i < 5; i++)
		assert_string_equal(tui_connection_text(CLIENT_OFFLINE, false, 6000, at[i], buf,
							sizeof buf), expect[i]);
	assert_string_equal(tui_connection_text(CLIENT_OFFLINE, false, 0, 10, buf, sizeof buf),
			    "reconnecting\u2026");
	assert_string_equal(tui_connection_text(CLIENT_READY, true, 0, 0, buf, sizeof buf),
			    "quitting\u2026");
	assert_string_equal(tui_connection_text(CLIENT_CLOSED, false, 0, 0, buf, sizeof buf),
			    "closed");
}

int main(void)
{
	if (!setlocale(LC_CTYPE, "C.UTF-8")) {
		fprintf(stderr, "test_tui_model: no C.UTF-8 locale\n");
		return 1;
	}
	setenv("TZ", "UTC", 1);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_windows),	   cmocka_unit_test(test_scrollback_cap),
		cmocka_unit_test(test_scrolling),  cmocka_unit_test(test_scrolling_by_rows),
		cmocka_unit_test(test_notices),	   cmocka_unit_test(test_pending),
		cmocka_unit_test(test_safe_text),  cmocka_unit_test(test_layout),
		cmocka_unit_test(test_line_spans), cmocka_unit_test(test_connection_text),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
