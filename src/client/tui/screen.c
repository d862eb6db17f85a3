/* Drawing the full-screen UI with ncursesw: the title bar, the notice line,
 * the message pane, the status line and the input line. With term.c, the
 * only file that includes curses. Everything drawn goes glyph by glyph through utf8.h, so
 * a control character or escape sequence can never reach the terminal, and
 * wide and combining characters take the columns curses gives them.
 *
 *   title bar      the window's title, room id, members and their marks
 *   notice line    security notices, until acknowledged (only when any)
 *   message pane   the window's scrollback; "more below" when scrolled
 *   status line    connection, nickname, window, other windows' news, server
 *   input line     the prompt and the line being typed (or a question) */
#define NCURSES_WIDECHAR 1
#include <curses.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>
#include <sys/ioctl.h>

#include "client/tui/internal.h"
#include "client/tui/layout.h"
#include "client/tui/utf8.h"

/* The most rows the notice line may take. */
#define NOTICE_ROWS_MAX 3
/* Window names in the window list, at most this wide. */
#define WINLIST_NAME_COLS 12

static SCREEN *screen;
static attr_t style_attr[TUI_STYLE_COUNT_];
static short style_pair[TUI_STYLE_COUNT_];

/* For screen_emergency_restore(), which may run in a signal handler: the
 * terminal's modes as they were, and the strings that leave the screen. */
static struct termios saved_tio;
static volatile sig_atomic_t saved_tio_ok;
static char restore_seq[256];
static size_t restore_len;

static const char PASTE_ON[] = "\033[?2004h";
static const char PASTE_OFF[] = "\033[?2004l";

static void write_all(const char *s, size_t n)
{
	while (n > 0) {
		ssize_t w = write(STDOUT_FILENO, s, n);
		if (w <= 0)
			return;
		s += w;
		n -= (size_t)w;
	}
}

/* ---- styles ------------------------------------------------------------------ */

struct style_def {
	short fg, bg;       /* -1: the terminal's default */
	attr_t color_attr;  /* with colours */
	attr_t mono_attr;   /* without (NO_COLOR, --no-color, a mono terminal) */
};

static const struct style_def style_defs[TUI_STYLE_COUNT_] = {
	[TUI_STYLE_TEXT] = {-1, -1, A_NORMAL, A_NORMAL},
	[TUI_STYLE_TIME] = {COLOR_CYAN, -1, A_NORMAL, A_DIM},
	[TUI_STYLE_NICK] = {-1, -1, A_BOLD, A_BOLD},
	[TUI_STYLE_OWN] = {COLOR_BLUE, -1, A_BOLD, A_BOLD},
	[TUI_STYLE_VERIFIED] = {COLOR_GREEN, -1, A_BOLD, A_BOLD},
	[TUI_STYLE_PINNED] = {COLOR_YELLOW, -1, A_NORMAL, A_NORMAL},
	[TUI_STYLE_ALARM] = {COLOR_WHITE, COLOR_RED, A_BOLD, A_BOLD | A_REVERSE},
	[TUI_STYLE_PENDING] = {-1, -1, A_DIM, A_DIM},
	[TUI_STYLE_FAILED] = {COLOR_RED, -1, A_BOLD, A_BOLD | A_UNDERLINE},
	[TUI_STYLE_INFO] = {COLOR_CYAN, -1, A_NORMAL, A_NORMAL},
	[TUI_STYLE_ERROR] = {COLOR_RED, -1, A_NORMAL, A_BOLD},
	[TUI_STYLE_SECURITY] = {COLOR_YELLOW, COLOR_RED, A_BOLD, A_BOLD | A_REVERSE},
	[TUI_STYLE_CONT] = {-1, -1, A_DIM, A_DIM},
	[TUI_STYLE_BAR] = {COLOR_WHITE, COLOR_BLUE, A_NORMAL, A_REVERSE},
	[TUI_STYLE_BAR_ACTIVE] = {COLOR_YELLOW, COLOR_BLUE, A_BOLD, A_REVERSE | A_BOLD | A_UNDERLINE},
	[TUI_STYLE_BAR_EVENT] = {COLOR_CYAN, COLOR_BLUE, A_NORMAL, A_REVERSE},
	[TUI_STYLE_BAR_MESSAGE] = {COLOR_GREEN, COLOR_BLUE, A_BOLD, A_REVERSE | A_BOLD},
	[TUI_STYLE_NOTICE] = {COLOR_YELLOW, COLOR_RED, A_BOLD, A_BOLD | A_REVERSE},
	[TUI_STYLE_MORE] = {COLOR_BLACK, COLOR_YELLOW, A_BOLD, A_REVERSE | A_BOLD},
	[TUI_STYLE_PROMPT] = {COLOR_YELLOW, -1, A_BOLD, A_BOLD},
};

static void styles_init(struct tui *t)
{
	if (t->color && has_colors() && start_color() == OK) {
		use_default_colors();
		for (int i = 0; i < TUI_STYLE_COUNT_; i++) {
			const struct style_def *d = &style_defs[i];
			style_attr[i] = d->color_attr;
			style_pair[i] = 0;
			if (d->fg != -1 || d->bg != -1) {
				init_pair((short)(i + 1), d->fg, d->bg);
				style_pair[i] = (short)(i + 1);
			}
		}
		return;
	}
	t->color = false;
	for (int i = 0; i < TUI_STYLE_COUNT_; i++) {
		style_attr[i] = style_defs[i].mono_attr;
		style_pair[i] = 0;
	}
}

/* ---- drawing glyphs -------------------------------------------------------------- */

static void put_wc(int y, int x, wchar_t *wc, attr_t a, short pair)
{
	cchar_t cc;
	if (setcchar(&cc, wc, a, pair, NULL) == OK)
		mvadd_wch(y, x, &cc);
}

/* One glyph at (y, x), if it fits before column maxx. */
static void put_glyph(int y, int x, int maxx, enum tui_style st, const struct tui_glyph *g)
{
	if (x < 0 || x + g->cols > maxx)
		return;
	attr_t a = style_attr[st];
	if (g->escaped) {
		/* What may not be drawn as itself is shown as its escape. */
		for (int i = 0; g->esc[i]; i++) {
			wchar_t wc[2] = {(wchar_t)(unsigned char)g->esc[i], 0};
			put_wc(y, x + i, wc, a | A_REVERSE, style_pair[st]);
		}
		return;
	}
	wchar_t wc[TUI_GLYPH_WC_MAX + 1] = {0};
	memcpy(wc, g->wc, g->nwc * sizeof *wc);
	put_wc(y, x, wc, a, style_pair[st]);
}

/* Text at (y, x) up to column maxx; returns the column after it. */
static int put_text(int y, int x, int maxx, enum tui_style st, const char *s)
{
	struct tui_glyph g;
	size_t n = strlen(s);
	for (size_t at = 0; at < n;) {
		size_t len = tui_utf8_cluster_len(s + at, n - at);
		tui_glyph_of(s + at, len, &g);
		if (x + g.cols > maxx)
			return maxx;
		put_glyph(y, x, maxx, st, &g);
		x += g.cols;
		at += len;
	}
	return x;
}

/* At most cols columns of s, then an ellipsis if cut. */
static int put_text_cut(int y, int x, int maxx, enum tui_style st, const char *s, int cols)
{
	if (tui_utf8_cols(s, strlen(s)) <= cols)
		return put_text(y, x, maxx, st, s);
	int end = x + cols - 1 < maxx ? x + cols - 1 : maxx;
	x = put_text(y, x, end, st, s);
	return put_text(y, x, maxx, st, "\u2026");
}

static void fill_row(int y, enum tui_style st)
{
	struct tui_glyph g = {.cols = 1, .nwc = 1, .wc = {L' '}};
	for (int x = 0; x < COLS; x++)
		put_glyph(y, x, COLS, st, &g);
}

/* ---- the message pane ------------------------------------------------------------ */

struct pane_pen {
	int top, bottom;    /* rows of the screen the pane has: [top, bottom) */
	int base;           /* screen row of the line's first row */
	int rows_max;       /* rows of the line to draw */
};

static void pane_cell(void *ctx, int row, int col, enum tui_style style,
		      const struct tui_glyph *g)
{
	const struct pane_pen *p = ctx;
	int y = p->base + row;
	if (row < p->rows_max && y >= p->top && y < p->bottom)
		put_glyph(y, col, COLS, style, g);
}

int tui_rows(void *ctx, const struct tui_line *l)
{
	(void)ctx;
	return tui_line_rows(l, COLS, tui_now_ms());
}

static void draw_line(const struct tui_line *l, struct pane_pen *p)
{
	struct tui_span spans[TUI_LINE_SPANS];
	char timebuf[32];
	int indent;
	size_t n = tui_line_spans(l, tui_now_ms(), timebuf, spans, &indent);
	tui_layout(spans, n, COLS, indent, pane_cell, p);
}

static void draw_pane(struct tui *t, int top, int height)
{
	struct tui_window *w = tui_model_current(&t->model);
	size_t first, last;
	int skip, cut;
	if (!tui_window_visible(w, height, tui_rows, t, &first, &skip, &last, &cut))
		return;
	struct pane_pen p = {.top = top, .bottom = top + height, .base = top - skip};
	for (size_t i = first; i <= last; i++) {
		int rows = tui_rows(t, w->lines[i]);
		p.rows_max = i == last ? rows - cut : rows;
		draw_line(w->lines[i], &p);
		p.base += rows;
	}
	if (!w->follow) {
		char more[96];
		if (w->below)
			snprintf(more, sizeof more, " -- more below: %u new line%s (PgDn) -- ", w->below,
				 w->below == 1 ? "" : "s");
		else
			snprintf(more, sizeof more, " -- more below (PgDn) -- ");
		int y = top + height - 1;
		fill_row(y, TUI_STYLE_MORE);
		put_text(y, 0, COLS, TUI_STYLE_MORE, more);
	}
}

/* ---- the notice line ---------------------------------------------------------------- */

struct notice_pen {
	int top, rows_max;
};

static void notice_cell(void *ctx, int row, int col, enum tui_style style,
			const struct tui_glyph *g)
{
	const struct notice_pen *p = ctx;
	if (row < p->rows_max)
		put_glyph(p->top + row, col, COLS, style, g);
}

static size_t notice_spans(const struct tui *t, char *count, size_t n, struct tui_span *spans)
{
	const struct tui_model *m = &t->model;
	snprintf(count, n, "  [Ctrl-G or /ack: seen; %zu of %zu%s]", (size_t)1, m->nnotices,
		 m->notices_dropped ? " and more in the windows" : "");
	spans[0] = (struct tui_span){TUI_STYLE_NOTICE, "!! ", 3};
	spans[1] = (struct tui_span){TUI_STYLE_NOTICE, m->notices[0].text, strlen(m->notices[0].text)};
	spans[2] = (struct tui_span){TUI_STYLE_NOTICE, count, strlen(count)};
	return 3;
}

static int notice_rows(const struct tui *t)
{
	if (t->model.nnotices == 0)
		return 0;
	struct tui_span spans[3];
	char count[96];
	size_t n = notice_spans(t, count, sizeof count, spans);
	int rows = tui_layout(spans, n, COLS, 3, NULL, NULL);
	return rows < NOTICE_ROWS_MAX ? rows : NOTICE_ROWS_MAX;
}

static void draw_notice(struct tui *t, int top, int rows)
{
	struct tui_span spans[3];
	char count[96];
	size_t n = notice_spans(t, count, sizeof count, spans);
	for (int r = 0; r < rows; r++)
		fill_row(top + r, TUI_STYLE_NOTICE);
	struct notice_pen p = {top, rows};
	tui_layout(spans, n, COLS, 3, notice_cell, &p);
}

/* ---- the bars ------------------------------------------------------------------------ */

/* The room's members and their marks, as the core knows them. */
static bool room_view(struct tui *t, const char *room, struct client_room_view *v)
{
	size_t n = client_room_count(t->client);
	for (size_t i = 0; *room && i < n; i++) {
		if (client_room_view_get(t->client, i, v) != CC_OK) {
			client_room_view_free(v);
			continue;
		}
		if (strcmp(v->room, room) == 0)
			return true;
		client_room_view_free(v);
	}
	return false;
}

static void draw_title(struct tui *t)
{
	struct tui_window *w = tui_model_current(&t->model);
	struct client_room_view v;
	char buf[160];
	int x;

	fill_row(0, TUI_STYLE_BAR);
	if (w->is_status) {
		snprintf(buf, sizeof buf, " Crypto Cat %s: status window. /help lists the commands; "
			 "Alt-1..9, Ctrl-N/Ctrl-P switch windows", CC_VERSION);
		put_text(0, 0, COLS, TUI_STYLE_BAR, buf);
		return;
	}
	x = put_text(0, 0, COLS, TUI_STYLE_BAR, " ");
	x = put_text(0, x, COLS, TUI_STYLE_BAR_ACTIVE, *w->title ? w->title : "(no title)");
	snprintf(buf, sizeof buf, "  [%.8s]", w->room);
	x = put_text(0, x, COLS, TUI_STYLE_BAR, buf);
	if (!room_view(t, w->room, &v))
		return;
	if (!v.joined)
		x = put_text(0, x, COLS, TUI_STYLE_BAR, "  (not joined)");
	snprintf(buf, sizeof buf, "  %zu member%s:", v.nmembers, v.nmembers == 1 ? "" : "s");
	x = put_text(0, x, COLS, TUI_STYLE_BAR, buf);
	for (size_t i = 0; i < v.nmembers && x < COLS; i++) {
		const struct client_member_view *m = &v.members[i];
		bool self = strcmp(m->nick, t->nick) == 0;
		x = put_text(0, x, COLS, TUI_STYLE_BAR, " ");
		if (!self)
			x = put_text(0, x, COLS, m->verified ? TUI_STYLE_VERIFIED
						 : m->trusted ? TUI_STYLE_BAR
							      : TUI_STYLE_ALARM,
				     m->verified ? "\u2713" : m->trusted ? "\u00b7" : "!");
		x = put_text(0, x, COLS, TUI_STYLE_BAR, m->nick);
		if (m->admin)
			x = put_text(0, x, COLS, TUI_STYLE_BAR, "(admin)");
	}
	client_room_view_free(&v);
}

static const char *state_text(struct tui *t, char *buf, size_t n, enum tui_style *st)
{
	enum client_state state = client_get_state(t->client);
	*st = t->quitting || state == CLIENT_READY ? TUI_STYLE_BAR
	      : state == CLIENT_CONNECTING	 ? TUI_STYLE_BAR_EVENT
						 : TUI_STYLE_NOTICE;
	return tui_connection_text(state, t->quitting, t->retry_at_ms, tui_mono_ms(), buf, n);
}

/* The other windows with something new, as irssi's "Act:": their number
 * and name, (N) messages not read, ! a security event, + other news. */
static int draw_activity(struct tui *t, int y, int x)
{
	const struct tui_model *m = &t->model;
	char buf[32];
	bool any = false;
	for (size_t i = 0; i < m->nwins && x < COLS; i++) {
		const struct tui_window *w = m->wins[i];
		if (i == m->current || w->activity == TUI_ACT_NONE)
			continue;
		enum tui_style st = w->activity == TUI_ACT_SECURITY  ? TUI_STYLE_NOTICE
				    : w->activity == TUI_ACT_MESSAGE ? TUI_STYLE_BAR_MESSAGE
								     : TUI_STYLE_BAR_EVENT;
		x = put_text(y, x, COLS, TUI_STYLE_BAR, any ? " " : " [act: ");
		any = true;
		snprintf(buf, sizeof buf, "%zu:", i + 1);
		x = put_text(y, x, COLS, st, buf);
		if (w->is_status)
			x = put_text(y, x, COLS, st, "status");
		else if (*w->title)
			x = put_text_cut(y, x, COLS, st, w->title, WINLIST_NAME_COLS);
		else {
			snprintf(buf, sizeof buf, "%.8s", w->room);
			x = put_text(y, x, COLS, st, buf);
		}
		if (w->activity == TUI_ACT_SECURITY)
			x = put_text(y, x, COLS, st, "!");
		if (w->unread) {
			snprintf(buf, sizeof buf, "(%u)", w->unread);
			x = put_text(y, x, COLS, st, buf);
		} else if (w->activity == TUI_ACT_EVENT) {
			x = put_text(y, x, COLS, st, "+");
		}
	}
	return any ? put_text(y, x, COLS, TUI_STYLE_BAR, "]") : x;
}

static void draw_status(struct tui *t, int y)
{
	struct tui_window *w = tui_model_current(&t->model);
	char buf[160], state[64];
	enum tui_style st;
	int x;

	fill_row(y, TUI_STYLE_BAR);
	x = put_text(y, 0, COLS, TUI_STYLE_BAR, " [");
	const char *s = state_text(t, state, sizeof state, &st);
	x = put_text(y, x, COLS, st, s);
	x = put_text(y, x, COLS, TUI_STYLE_BAR, "]");
	/* Through a proxy (Tor): always in sight, as the server's key is. */
	const char *proxy = client_proxy_get(t->client);
	if (proxy) {
		snprintf(buf, sizeof buf, " [via proxy %s]", proxy);
		x = put_text(y, x, COLS, TUI_STYLE_BAR, buf);
	}
	snprintf(buf, sizeof buf, " [%s] [%zu/%zu:", *t->nick ? t->nick : "?", t->model.current + 1,
		 t->model.nwins);
	x = put_text(y, x, COLS, TUI_STYLE_BAR, buf);
	if (w->is_status) {
		x = put_text(y, x, COLS, TUI_STYLE_BAR, "status]");
	} else {
		struct client_room_view v;
		size_t members = 0;
		if (room_view(t, w->room, &v)) {
			members = v.nmembers;
			client_room_view_free(&v);
		}
		x = put_text_cut(y, x, COLS, TUI_STYLE_BAR, *w->title ? w->title : "(no title)", 24);
		snprintf(buf, sizeof buf, " %.8s, %zu member%s]", w->room, members,
			 members == 1 ? "" : "s");
		x = put_text(y, x, COLS, TUI_STYLE_BAR, buf);
	}
	x = draw_activity(t, y, x);
	if (*t->server_fp) {
		snprintf(buf, sizeof buf, " [server %.8s]", t->server_fp);
		x = put_text(y, x, COLS, TUI_STYLE_BAR, buf);
	}
	if (*t->hint && tui_mono_ms() < t->hint_until_ms) {
		x = put_text(y, x, COLS, TUI_STYLE_BAR, "  ");
		put_text(y, x, COLS, TUI_STYLE_PROMPT, t->hint);
	}
}

static void draw_input(struct tui *t, int y)
{
	char prompt[96];
	int x;
	if (t->asking) {
		snprintf(prompt, sizeof prompt, "send %zu lines? (y/n) ", t->paste_lines);
		x = put_text(y, 0, COLS, TUI_STYLE_PROMPT, prompt);
		move(y, x < COLS ? x : COLS - 1);
		return;
	}
	snprintf(prompt, sizeof prompt, "[%zu] ", t->model.current + 1);
	x = put_text(y, 0, COLS, TUI_STYLE_PROMPT, prompt);
	size_t first;
	int cursor;
	editor_view(&t->ed, COLS - x, &first, &cursor);
	const char *text = editor_text(&t->ed);
	size_t len = editor_len(&t->ed);
	struct tui_glyph g;
	int col = x;
	for (size_t at = first; at < len;) {
		size_t l = tui_utf8_cluster_len(text + at, len - at);
		tui_glyph_of(text + at, l, &g);
		if (col + g.cols > COLS)
			break;
		put_glyph(y, col, COLS, TUI_STYLE_TEXT, &g);
		col += g.cols;
		at += l;
	}
	move(y, x + cursor < COLS ? x + cursor : COLS - 1);
}

/* ---- the whole screen -------------------------------------------------------------------- */

int screen_width(const struct tui *t)
{
	(void)t;
	return COLS;
}

int screen_pane_height(const struct tui *t)
{
	int h = LINES - 3 - notice_rows(t);
	return h > 1 ? h : 1;
}

void screen_draw(struct tui *t)
{
	if (!t->screen_open)
		return;
	erase();
	if (LINES < 6 || COLS < 24) {
		put_text(0, 0, COLS, TUI_STYLE_TEXT, "terminal too small");
		refresh();
		return;
	}
	int nrows = notice_rows(t);
	draw_title(t);
	if (nrows)
		draw_notice(t, 1, nrows);
	draw_pane(t, 1 + nrows, screen_pane_height(t));
	draw_status(t, LINES - 2);
	draw_input(t, LINES - 1);
	refresh();
}

void screen_resize(struct tui *t)
{
	struct winsize ws;
	if (!t->screen_open)
		return;
	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0 && ws.ws_col > 0)
		resizeterm(ws.ws_row, ws.ws_col);
	clearok(curscr, TRUE);
	screen_draw(t);
}

void screen_bell(struct tui *t)
{
	if (t->screen_open && t->bell)
		beep();
}

/* ---- opening and closing -------------------------------------------------------------------- */


static void restore_add(const char *s)
{
	size_t n = s && s != (char *)-1 ? strlen(s) : 0;
	if (restore_len + n < sizeof restore_seq) {
		memcpy(restore_seq + restore_len, s, n);
		restore_len += n;
	}
}

int screen_open(struct tui *t)
{
	if (tcgetattr(STDIN_FILENO, &saved_tio) == 0)
		saved_tio_ok = 1;
	screen = newterm(NULL, stdout, stdin);
	if (!screen)
		return -1;
	set_term(screen);
	raw();
	noecho();
	nonl();
	typeahead(-1);  /* input is read by the event loop, not by curses */
	keypad(stdscr, FALSE);
	styles_init(t);
	/* What puts the terminal back if the process dies. */
	restore_len = 0;
	restore_add(PASTE_OFF);
	restore_add(tigetstr("sgr0"));
	restore_add(tigetstr("cnorm"));
	restore_add(tigetstr("rmcup"));
	restore_add("\r\n");
	t->screen_open = true;
	refresh();
	write_all(PASTE_ON, strlen(PASTE_ON));
	return 0;
}

void screen_close(struct tui *t)
{
	if (!t->screen_open)
		return;
	t->screen_open = false;
	endwin();
	write_all(PASTE_OFF, strlen(PASTE_OFF));
	delscreen(screen);
	screen = NULL;
	restore_len = 0;
	saved_tio_ok = 0;
}

void screen_suspend(struct tui *t)
{
	if (!t->screen_open)
		return;
	write_all(PASTE_OFF, strlen(PASTE_OFF));
	endwin();
	kill(getpid(), SIGSTOP);
	/* Back: the terminal may have changed size meanwhile. */
	refresh();
	write_all(PASTE_ON, strlen(PASTE_ON));
	screen_resize(t);
}

void screen_emergency_restore(void)
{
	if (restore_len)
		write_all(restore_seq, restore_len);
	if (saved_tio_ok)
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_tio);
	restore_len = 0;
	saved_tio_ok = 0;
}
