/* What the full-screen UI shows, without curses: a status window and one
 * window per room, each with its scrollback (lines of text already made
 * safe to show), its unread count and activity, and where it is scrolled
 * to; the security notices waiting for the user's acknowledgement; and the
 * user's own lines still being sent. Unit tests drive it directly. */
#ifndef CC_CLIENT_TUI_MODEL_H
#define CC_CLIENT_TUI_MODEL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "client/core/client.h"

/* Lines a window keeps; the oldest go first. */
#define TUI_SCROLLBACK_DEFAULT 5000
/* Notices waiting at most; more are counted (each is in its window too). */
#define TUI_NOTICES_MAX 200

enum tui_line_kind {
	TUI_LINE_MSG,       /* a message from someone */
	TUI_LINE_OWN,       /* a line of ours */
	TUI_LINE_INFO,      /* what happened: joins, answers */
	TUI_LINE_ERROR,     /* a command refused, an error */
	TUI_LINE_SECURITY,  /* a security event (also a notice) */
};

enum tui_mark {
	TUI_MARK_NONE,
	TUI_MARK_VERIFIED,  /* the sender's key is pinned and the user compared it */
	TUI_MARK_PINNED,    /* the sender's key is the pinned one, not compared */
	TUI_MARK_UNPINNED,  /* the sender's key is NOT the pinned one */
	TUI_MARK_PENDING,   /* our line, on its way */
	TUI_MARK_SENT,      /* our line, stored by the server */
	TUI_MARK_FAILED,    /* our line, not sent */
};

/* Strings are safe to show (display_escape'd where others chose them);
 * '\n' in text starts a further line of the same message. */
struct tui_line {
	uint64_t id;        /* increasing within its window */
	uint64_t time_ms;
	enum tui_line_kind kind;
	enum tui_mark mark;
	char *nick;         /* NULL: a line without a sender */
	char *text;
	char *note;         /* why our line was not sent; NULL */
};

enum tui_activity {
	TUI_ACT_NONE,
	TUI_ACT_EVENT,      /* joins, departures, answers */
	TUI_ACT_MESSAGE,    /* messages not read */
	TUI_ACT_SECURITY,   /* a security event */
};

struct tui_window {
	bool is_status;
	char room[CLIENT_ROOM_HEX];  /* "" for the status window */
	char *title;                 /* safe to show; "" until known */
	struct tui_line **lines;     /* oldest first */
	size_t nlines, cap;
	uint64_t next_id;
	unsigned unread;
	enum tui_activity activity;
	/* Scrolling: following the newest line, or the bottom of the view
	 * anchored on a line (by id) with some of its rows below the view. */
	bool follow;
	uint64_t anchor;
	int anchor_below;
	unsigned below;              /* lines added under the view since */
};

struct tui_notice {
	char *text;                  /* safe to show */
	char room[CLIENT_ROOM_HEX];
	uint64_t time_ms;
};

struct tui_pending {
	uint32_t request;
	struct tui_window *win;
	uint64_t line;
};

struct tui_model {
	struct tui_window **wins;    /* [0] is the status window */
	size_t nwins;
	size_t current;
	size_t max_lines;
	struct tui_notice *notices;  /* oldest first */
	size_t nnotices;
	unsigned notices_dropped;
	struct tui_pending *pending;
	size_t npending;
};

/* ---- safe text -------------------------------------------------------------- */

/* A string being built: literal parts (ours) and parts others chose,
 * escaped (util/display.h). On running out of memory it says so. */
struct tui_str {
	char *s;
	size_t len, cap;
	bool failed;
};
void tui_str_add(struct tui_str *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void tui_str_vadd(struct tui_str *t, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));
/* Text from someone else: n bytes, escaped. */
void tui_str_safe_n(struct tui_str *t, const char *s, size_t n);
void tui_str_safe(struct tui_str *t, const char *s);
/* The string (malloc'd; the builder is empty after). */
char *tui_str_take(struct tui_str *t);

/* ---- windows ------------------------------------------------------------------- */

int tui_model_init(struct tui_model *m, size_t max_lines);
void tui_model_free(struct tui_model *m);

struct tui_window *tui_model_current(const struct tui_model *m);
/* The window of a room, or NULL; *index set when found and index given. */
struct tui_window *tui_model_find(const struct tui_model *m, const char *room, size_t *index);
/* The room's window, made at the end of the list if it has none (NULL:
 * out of memory). */
struct tui_window *tui_model_open(struct tui_model *m, const char *room);
/* Shows window i (0-based): its unread count and activity are read. */
void tui_model_switch(struct tui_model *m, size_t i);
/* Closes window i (never the status window). */
void tui_model_close(struct tui_model *m, size_t i);
void tui_window_set_title(struct tui_window *w, const char *safe_title);

/* Adds a line (strings copied); returns its id, 0 if out of memory. A
 * line in a window that is not shown counts as unread (a message) and
 * raises the window's activity to act; one under a scrolled view counts
 * as below. */
uint64_t tui_model_add(struct tui_model *m, struct tui_window *w, enum tui_line_kind kind,
		       enum tui_mark mark, uint64_t time_ms, const char *nick, const char *text,
		       enum tui_activity act);
struct tui_line *tui_window_line(const struct tui_window *w, uint64_t id);
void tui_window_clear(struct tui_window *w);

/* ---- scrolling ---------------------------------------------------------------------- */

/* The rows a line takes at the current width. */
typedef int (*tui_rows_fn)(void *ctx, const struct tui_line *l);

/* Moves the view by rows (negative: back, older), within a pane of height
 * rows; reaching the newest line follows it again. */
void tui_window_scroll(struct tui_window *w, int rows, int height, tui_rows_fn fn, void *ctx);
void tui_window_follow(struct tui_window *w);
/* What a pane of height rows shows: lines [*first, *last] (indices), the
 * top *skip rows of the first cut off, and the bottom *cut rows of the last.
 * False if the window has no line. */
bool tui_window_visible(const struct tui_window *w, int height, tui_rows_fn fn, void *ctx,
			size_t *first, int *skip, size_t *last, int *cut);

/* ---- notices ------------------------------------------------------------------------- */

void tui_model_notice(struct tui_model *m, const char *room, uint64_t time_ms,
		      const char *safe_text);
/* Acknowledges the oldest notice (all: every one). */
void tui_model_ack(struct tui_model *m, bool all);

/* ---- our lines in flight -------------------------------------------------------------- */

void tui_model_pending_add(struct tui_model *m, uint32_t request, struct tui_window *w,
			   uint64_t line);
/* The line of a request, forgotten if take; NULL if none. */
struct tui_line *tui_model_pending_line(struct tui_model *m, uint32_t request, bool take);

#endif
