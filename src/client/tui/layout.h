/* Laying text out in terminal columns, without curses: styled spans of
 * UTF-8 wrapped at a width (between words where it can, never inside a
 * cluster), the further rows indented, and a message's further lines
 * marked so that none can pass for a line of its own; and the spans of a
 * scrollback line (time, mark, sender, text) as the message pane shows it.
 * The screen draws what this lays out, and the scrollback counts rows with
 * it, so the two cannot disagree. */
#ifndef CC_CLIENT_TUI_LAYOUT_H
#define CC_CLIENT_TUI_LAYOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "client/tui/model.h"
#include "client/tui/utf8.h"

enum tui_style {
	TUI_STYLE_TEXT,
	TUI_STYLE_TIME,
	TUI_STYLE_NICK,
	TUI_STYLE_OWN,          /* our nickname */
	TUI_STYLE_VERIFIED,     /* the mark of a compared key */
	TUI_STYLE_PINNED,       /* the mark of a pinned key */
	TUI_STYLE_ALARM,        /* a key that is not the pinned one */
	TUI_STYLE_PENDING,      /* our line on its way */
	TUI_STYLE_FAILED,       /* our line not sent */
	TUI_STYLE_INFO,
	TUI_STYLE_ERROR,
	TUI_STYLE_SECURITY,
	TUI_STYLE_CONT,         /* the mark of a message's further line */
	TUI_STYLE_BAR,          /* the title and status bars */
	TUI_STYLE_BAR_ACTIVE,   /* the window shown, in the window list */
	TUI_STYLE_BAR_EVENT,    /* a window with events not seen */
	TUI_STYLE_BAR_MESSAGE,  /* a window with messages not read */
	TUI_STYLE_NOTICE,       /* the security notice line */
	TUI_STYLE_MORE,         /* "more below" */
	TUI_STYLE_PROMPT,       /* a question in the input line */
	TUI_STYLE_COUNT_
};

struct tui_span {
	enum tui_style style;
	const char *s;
	size_t n;
};

/* Called for each glyph laid out: row from 0, col from 0. */
typedef void (*tui_cell_fn)(void *ctx, int row, int col, enum tui_style style,
			    const struct tui_glyph *g);

/* The mark drawn before a message's further lines. */
#define TUI_CONT_MARK "| "

/* Lays spans out in width columns; rows after the first start at column
 * indent (0 if that leaves less than half the width); a '\n' in a span
 * starts a further line, marked with TUI_CONT_MARK. Calls fn (if not NULL)
 * for each glyph; returns the rows used (at least 1). */
int tui_layout(const struct tui_span *spans, size_t n, int width, int indent, tui_cell_fn fn,
	       void *ctx);

/* The most spans a scrollback line makes. */
#define TUI_LINE_SPANS 10

/* The spans of a scrollback line; *indent is where its text starts. The
 * time is HH:MM, with the date before it when it is not now_ms's day
 * (timebuf holds it). Returns the number of spans. */
size_t tui_line_spans(const struct tui_line *l, uint64_t now_ms, char timebuf[32],
		      struct tui_span spans[TUI_LINE_SPANS], int *indent);
/* The rows a scrollback line takes at width. */
int tui_line_rows(const struct tui_line *l, int width, uint64_t now_ms);

/* What the status line says of the connection: connecting, connected,
 * "reconnecting in N s" counting down to retry_at_ms (a monotonic time,
 * 0 unknown) from now_ms, closed; quitting while /quit finishes. buf
 * holds the countdown; the text returned is static or buf. */
const char *tui_connection_text(enum client_state state, bool quitting, uint64_t retry_at_ms,
				uint64_t now_ms, char *buf, size_t n);

#endif
