/* Laying text out in terminal columns: see layout.h. */
#include "client/tui/layout.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

struct pen {
	int width, indent;
	int row, col;
	int row_start;          /* where text on this row begins */
	bool wrapped;           /* this row began because the last was full */
	tui_cell_fn fn;
	void *ctx;
};

static void pen_newline(struct pen *p, bool wrapped)
{
	p->row++;
	p->col = p->indent;
	p->row_start = p->col;
	p->wrapped = wrapped;
}

static void pen_glyph(struct pen *p, enum tui_style style, const struct tui_glyph *g)
{
	/* Wrap before a glyph that does not fit, unless it is alone on its
	 * row (a terminal too narrow for it: it is cut when drawn). */
	if (p->col + g->cols > p->width && p->col > p->row_start)
		pen_newline(p, true);
	if (p->fn)
		p->fn(p->ctx, p->row, p->col, style, g);
	p->col += g->cols;
}

static void pen_text(struct pen *p, enum tui_style style, const char *s, size_t n)
{
	struct tui_glyph g;
	for (size_t at = 0; at < n;) {
		size_t len = tui_utf8_cluster_len(s + at, n - at);
		tui_glyph_of(s + at, len, &g);
		pen_glyph(p, style, &g);
		at += len;
	}
}

/* The bytes of the word at s (up to white space or a newline), and its
 * columns. */
static size_t word_len(const char *s, size_t n, int *cols)
{
	size_t at = 0;
	struct tui_glyph g;
	*cols = 0;
	while (at < n && s[at] != '\n') {
		size_t len = tui_utf8_cluster_len(s + at, n - at);
		if (tui_utf8_is_space(s + at, len))
			break;
		tui_glyph_of(s + at, len, &g);
		*cols += g.cols;
		at += len;
	}
	return at;
}

static void pen_span(struct pen *p, const struct tui_span *sp)
{
	const char *s = sp->s;
	size_t n = sp->n;
	for (size_t at = 0; at < n;) {
		if (s[at] == '\n') {
			pen_newline(p, false);
			pen_text(p, TUI_STYLE_CONT, TUI_CONT_MARK, strlen(TUI_CONT_MARK));
			p->row_start = p->col;
			at++;
			continue;
		}
		size_t len = tui_utf8_cluster_len(s + at, n - at);
		if (tui_utf8_is_space(s + at, len)) {
			/* A space where a row wraps is the wrap. */
			struct tui_glyph g;
			tui_glyph_of(s + at, len, &g);
			if (p->col + g.cols > p->width)
				pen_newline(p, true);
			else if (!(p->wrapped && p->col == p->row_start))
				pen_glyph(p, sp->style, &g);
			at += len;
			continue;
		}
		int cols;
		size_t wl = word_len(s + at, n - at, &cols);
		/* A word that fits on a row of its own goes there whole. */
		if (p->col + cols > p->width && p->col > p->row_start &&
		    cols <= p->width - p->indent)
			pen_newline(p, true);
		pen_text(p, sp->style, s + at, wl);
		at += wl;
	}
}

int tui_layout(const struct tui_span *spans, size_t n, int width, int indent, tui_cell_fn fn,
	       void *ctx)
{
	struct pen p = {.width = width < 1 ? 1 : width, .fn = fn, .ctx = ctx};
	p.indent = indent > 0 && indent <= p.width / 2 ? indent : 0;
	for (size_t i = 0; i < n; i++)
		pen_span(&p, &spans[i]);
	return p.row + 1;
}

/* ---- scrollback lines ------------------------------------------------------------- */

static void format_time(uint64_t ms, uint64_t now_ms, char out[32])
{
	time_t t = (time_t)(ms / 1000), now = (time_t)(now_ms / 1000);
	struct tm tm, tm_now;
	if (!localtime_r(&t, &tm) || !localtime_r(&now, &tm_now)) {
		strcpy(out, "--:-- ");
		return;
	}
	bool today = tm.tm_year == tm_now.tm_year && tm.tm_yday == tm_now.tm_yday;
	if (!strftime(out, 32, today ? "%H:%M " : "%Y-%m-%d %H:%M ", &tm))
		strcpy(out, "--:-- ");
}

static void span(struct tui_span *spans, size_t *n, enum tui_style style, const char *s)
{
	if (*n < TUI_LINE_SPANS && s && *s)
		spans[(*n)++] = (struct tui_span){style, s, strlen(s)};
}

size_t tui_line_spans(const struct tui_line *l, uint64_t now_ms, char timebuf[32],
		      struct tui_span spans[TUI_LINE_SPANS], int *indent)
{
	size_t n = 0;
	enum tui_style text = TUI_STYLE_TEXT, nick = TUI_STYLE_NICK, mark_style = TUI_STYLE_TEXT;
	const char *mark = " ";

	format_time(l->time_ms, now_ms, timebuf);
	span(spans, &n, TUI_STYLE_TIME, timebuf);
	*indent = tui_utf8_cols(timebuf, strlen(timebuf));
	switch (l->kind) {
	case TUI_LINE_INFO:
		span(spans, &n, TUI_STYLE_INFO, "* ");
		text = TUI_STYLE_INFO;
		*indent += 2;
		break;
	case TUI_LINE_ERROR:
		span(spans, &n, TUI_STYLE_ERROR, "! ");
		text = TUI_STYLE_ERROR;
		*indent += 2;
		break;
	case TUI_LINE_SECURITY:
		span(spans, &n, TUI_STYLE_SECURITY, "!! ");
		text = TUI_STYLE_SECURITY;
		*indent += 3;
		break;
	case TUI_LINE_MSG:
	case TUI_LINE_OWN:
		switch (l->mark) {
		case TUI_MARK_VERIFIED:
			mark = "\u2713", mark_style = TUI_STYLE_VERIFIED;
			break;
		case TUI_MARK_PINNED:
			mark = "\u00b7", mark_style = TUI_STYLE_PINNED;
			break;
		case TUI_MARK_UNPINNED:
			mark = "!", mark_style = nick = TUI_STYLE_ALARM;
			break;
		case TUI_MARK_PENDING:
			mark = "\u2026", mark_style = text = TUI_STYLE_PENDING;
			break;
		case TUI_MARK_FAILED:
			mark = "\u2717", mark_style = TUI_STYLE_FAILED;
			break;
		default:
			break;
		}
		if (l->kind == TUI_LINE_OWN)
			nick = TUI_STYLE_OWN;
		span(spans, &n, mark_style, mark);
		span(spans, &n, nick, "<");
		span(spans, &n, nick, l->nick ? l->nick : "?");
		span(spans, &n, nick, "> ");
		*indent += 1 + 3 + tui_utf8_cols(l->nick ? l->nick : "?", l->nick ? strlen(l->nick) : 1);
		break;
	}
	span(spans, &n, text, l->text);
	if (l->note) {
		span(spans, &n, TUI_STYLE_FAILED, " ");
		span(spans, &n, TUI_STYLE_FAILED, l->note);
	}
	return n;
}

int tui_line_rows(const struct tui_line *l, int width, uint64_t now_ms)
{
	struct tui_span spans[TUI_LINE_SPANS];
	char timebuf[32];
	int indent;
	size_t n = tui_line_spans(l, now_ms, timebuf, spans, &indent);
	return tui_layout(spans, n, width, indent, NULL, NULL);
}

const char *tui_connection_text(enum client_state state, bool quitting, uint64_t retry_at_ms,
				uint64_t now_ms, char *buf, size_t n)
{
	if (quitting)
		return "quitting\u2026";
	switch (state) {
	case CLIENT_CONNECTING:
		return "connecting\u2026";
	case CLIENT_READY:
		return "connected";
	case CLIENT_OFFLINE:
		if (retry_at_ms > now_ms) {
			/* Rounded up: "in 1 s" until the attempt, never "in 0 s". */
			snprintf(buf, n, "reconnecting in %llu s",
				 (unsigned long long)(retry_at_ms - now_ms + 999) / 1000);
			return buf;
		}
		return "reconnecting\u2026";
	case CLIENT_CLOSED:
	default:
		return "closed";
	}
}
