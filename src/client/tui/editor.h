/* The input line: a UTF-8 line editor with readline's usual motions and
 * kills, a kill buffer, and a history. The cursor is a byte offset that is
 * always on a cluster boundary (utf8.h), so no key can split a UTF-8
 * sequence or separate a mark from its base; what is shown of a long line
 * scrolls sideways in terminal columns. No curses here. */
#ifndef CC_CLIENT_TUI_EDITOR_H
#define CC_CLIENT_TUI_EDITOR_H

#include <stdbool.h>
#include <stddef.h>

/* The longest line: what the command language reads in a line (lines.h's
 * 64 KiB), less its newline. */
#define EDITOR_MAX_BYTES (64 * 1024 - 1)
#define EDITOR_HISTORY_MAX 500

enum editor_status {
	EDITOR_OK = 0,
	EDITOR_FULL,        /* it would make the line longer than EDITOR_MAX_BYTES */
	EDITOR_INVALID,     /* not UTF-8, or a NUL byte */
	EDITOR_NOMEM,
};

struct editor {
	char *buf;          /* the line, NUL-terminated */
	size_t len, cap;
	size_t cursor;      /* byte offset, on a cluster boundary */
	size_t view;        /* first byte shown (sideways scrolling) */
	char *kill;         /* the last text killed (Ctrl-Y yanks it) */
	size_t kill_len;
	char **hist;        /* oldest first */
	size_t nhist;
	size_t hist_pos;    /* nhist: not browsing */
	char *hist_saved;   /* the line being typed before browsing began */
};

void editor_init(struct editor *ed);
void editor_free(struct editor *ed);

const char *editor_text(const struct editor *ed);
size_t editor_len(const struct editor *ed);
size_t editor_cursor(const struct editor *ed);
bool editor_empty(const struct editor *ed);

/* Inserts n bytes at the cursor, which ends after them; refused whole (and
 * the line left as it was) if they are not UTF-8, hold a NUL, or do not
 * fit. */
enum editor_status editor_insert(struct editor *ed, const char *s, size_t n);
/* Replaces bytes [start, end) (cluster boundaries; end >= start) with s,
 * the cursor after it (completion). Same checks as editor_insert. */
enum editor_status editor_replace(struct editor *ed, size_t start, size_t end, const char *s,
				  size_t n);
/* Sets the whole line (history, a line given back), cursor at the end. */
enum editor_status editor_set(struct editor *ed, const char *s, size_t n);
void editor_clear(struct editor *ed);

/* Motions. */
void editor_left(struct editor *ed);
void editor_right(struct editor *ed);
void editor_home(struct editor *ed);
void editor_end(struct editor *ed);
void editor_word_left(struct editor *ed);    /* Alt-B */
void editor_word_right(struct editor *ed);   /* Alt-F */

/* Deletions; the kills keep what they remove for editor_yank. */
void editor_delete_back(struct editor *ed);  /* Backspace */
void editor_delete_fwd(struct editor *ed);   /* Delete, Ctrl-D */
void editor_kill_end(struct editor *ed);     /* Ctrl-K */
void editor_kill_start(struct editor *ed);   /* Ctrl-U */
void editor_kill_word_back(struct editor *ed);   /* Ctrl-W: back to white space */
void editor_kill_word_fwd(struct editor *ed);    /* Alt-D: to the end of a word */
enum editor_status editor_yank(struct editor *ed);  /* Ctrl-Y */

/* History: a line entered is added (not an empty one, not the same as the
 * last); Up and Down walk it, and coming back down past the newest gives
 * the line that was being typed. */
void editor_history_add(struct editor *ed, const char *line);
void editor_history_up(struct editor *ed);
void editor_history_down(struct editor *ed);

/* What to show in width columns: from *first (a byte offset), with the
 * cursor at column *cursor_col (0..width-1). Moves the view only as much
 * as needed to keep the cursor in sight. */
void editor_view(struct editor *ed, int width, size_t *first, int *cursor_col);

#endif
