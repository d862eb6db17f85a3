/* The input line: see editor.h. */
#include "client/tui/editor.h"

#include <stdlib.h>
#include <string.h>

#include "client/tui/utf8.h"

void editor_init(struct editor *ed)
{
	memset(ed, 0, sizeof *ed);
}

static void history_free(struct editor *ed)
{
	for (size_t i = 0; i < ed->nhist; i++)
		free(ed->hist[i]);
	free(ed->hist);
	ed->hist = NULL;
	ed->nhist = ed->hist_pos = 0;
	free(ed->hist_saved);
	ed->hist_saved = NULL;
}

void editor_free(struct editor *ed)
{
	free(ed->buf);
	free(ed->kill);
	history_free(ed);
	memset(ed, 0, sizeof *ed);
}

const char *editor_text(const struct editor *ed)
{
	return ed->buf ? ed->buf : "";
}

size_t editor_len(const struct editor *ed)
{
	return ed->len;
}

size_t editor_cursor(const struct editor *ed)
{
	return ed->cursor;
}

bool editor_empty(const struct editor *ed)
{
	return ed->len == 0;
}

static bool valid_text(const char *s, size_t n)
{
	uint32_t cp;
	for (size_t at = 0; at < n;) {
		size_t l = tui_utf8_decode(s + at, n - at, &cp);
		if (l == 0 || cp == 0)
			return false;
		at += l;
	}
	return true;
}

static bool reserve(struct editor *ed, size_t len)
{
	if (len + 1 <= ed->cap)
		return true;
	size_t cap = ed->cap ? ed->cap : 128;
	while (cap < len + 1)
		cap *= 2;
	char *p = realloc(ed->buf, cap);
	if (!p)
		return false;
	ed->buf = p;
	ed->cap = cap;
	return true;
}

/* The cluster boundary at or after pos: an edit can join a mark to a new
 * base, and the cursor must not end up inside the cluster they make. */
static size_t boundary_at_or_after(const struct editor *ed, size_t pos)
{
	size_t at = 0;
	while (at < pos && at < ed->len)
		at += tui_utf8_cluster_len(ed->buf + at, ed->len - at);
	return at;
}

static size_t boundary_at_or_before(const struct editor *ed, size_t pos)
{
	size_t at = 0, prev = 0;
	while (at <= pos && at < ed->len) {
		prev = at;
		at += tui_utf8_cluster_len(ed->buf + at, ed->len - at);
	}
	return at <= pos ? at : prev;
}

enum editor_status editor_replace(struct editor *ed, size_t start, size_t end, const char *s,
				  size_t n)
{
	if (end > ed->len || start > end)
		return EDITOR_INVALID;
	if (!valid_text(s, n))
		return EDITOR_INVALID;
	if (ed->len - (end - start) + n > EDITOR_MAX_BYTES)
		return EDITOR_FULL;
	size_t len = ed->len - (end - start) + n;
	if (!reserve(ed, len))
		return EDITOR_NOMEM;
	memmove(ed->buf + start + n, ed->buf + end, ed->len - end);
	memcpy(ed->buf + start, s, n);
	ed->len = len;
	ed->buf[len] = '\0';
	ed->cursor = boundary_at_or_after(ed, start + n);
	return EDITOR_OK;
}

enum editor_status editor_insert(struct editor *ed, const char *s, size_t n)
{
	return editor_replace(ed, ed->cursor, ed->cursor, s, n);
}

enum editor_status editor_set(struct editor *ed, const char *s, size_t n)
{
	enum editor_status st = editor_replace(ed, 0, ed->len, s, n);
	if (st == EDITOR_OK)
		ed->cursor = ed->len;
	return st;
}

void editor_clear(struct editor *ed)
{
	ed->len = ed->cursor = ed->view = 0;
	if (ed->buf)
		ed->buf[0] = '\0';
	free(ed->hist_saved);
	ed->hist_saved = NULL;
	ed->hist_pos = ed->nhist;
}

/* ---- motions ---------------------------------------------------------------- */

static size_t next_of(const struct editor *ed, size_t pos)
{
	return pos < ed->len ? pos + tui_utf8_cluster_len(ed->buf + pos, ed->len - pos) : pos;
}

static size_t prev_of(const struct editor *ed, size_t pos)
{
	return pos > 0 ? tui_utf8_cluster_prev(ed->buf, ed->len, pos) : 0;
}

static bool word_at(const struct editor *ed, size_t pos)
{
	return tui_utf8_is_word(ed->buf + pos, next_of(ed, pos) - pos);
}

static bool space_at(const struct editor *ed, size_t pos)
{
	return tui_utf8_is_space(ed->buf + pos, next_of(ed, pos) - pos);
}

void editor_left(struct editor *ed)
{
	ed->cursor = prev_of(ed, ed->cursor);
}

void editor_right(struct editor *ed)
{
	ed->cursor = next_of(ed, ed->cursor);
}

void editor_home(struct editor *ed)
{
	ed->cursor = 0;
}

void editor_end(struct editor *ed)
{
	ed->cursor = ed->len;
}

static size_t word_start_before(const struct editor *ed, size_t pos)
{
	while (pos > 0 && !word_at(ed, prev_of(ed, pos)))
		pos = prev_of(ed, pos);
	while (pos > 0 && word_at(ed, prev_of(ed, pos)))
		pos = prev_of(ed, pos);
	return pos;
}

static size_t word_end_after(const struct editor *ed, size_t pos)
{
	while (pos < ed->len && !word_at(ed, pos))
		pos = next_of(ed, pos);
	while (pos < ed->len && word_at(ed, pos))
		pos = next_of(ed, pos);
	return pos;
}

void editor_word_left(struct editor *ed)
{
	ed->cursor = word_start_before(ed, ed->cursor);
}

void editor_word_right(struct editor *ed)
{
	ed->cursor = word_end_after(ed, ed->cursor);
}

/* ---- deletions ---------------------------------------------------------------- */

/* Removes [start, end), keeping it for Ctrl-Y if kill. */
static void cut(struct editor *ed, size_t start, size_t end, bool kill)
{
	if (start >= end)
		return;
	if (kill) {
		char *k = malloc(end - start);
		if (k) {
			memcpy(k, ed->buf + start, end - start);
			free(ed->kill);
			ed->kill = k;
			ed->kill_len = end - start;
		}
	}
	memmove(ed->buf + start, ed->buf + end, ed->len - end);
	ed->len -= end - start;
	ed->buf[ed->len] = '\0';
	ed->cursor = boundary_at_or_after(ed, start);
}

void editor_delete_back(struct editor *ed)
{
	cut(ed, prev_of(ed, ed->cursor), ed->cursor, false);
}

void editor_delete_fwd(struct editor *ed)
{
	cut(ed, ed->cursor, next_of(ed, ed->cursor), false);
}

void editor_kill_end(struct editor *ed)
{
	cut(ed, ed->cursor, ed->len, true);
}

void editor_kill_start(struct editor *ed)
{
	cut(ed, 0, ed->cursor, true);
}

void editor_kill_word_back(struct editor *ed)
{
	size_t pos = ed->cursor;
	while (pos > 0 && space_at(ed, prev_of(ed, pos)))
		pos = prev_of(ed, pos);
	while (pos > 0 && !space_at(ed, prev_of(ed, pos)))
		pos = prev_of(ed, pos);
	cut(ed, pos, ed->cursor, true);
}

void editor_kill_word_fwd(struct editor *ed)
{
	cut(ed, ed->cursor, word_end_after(ed, ed->cursor), true);
}

enum editor_status editor_yank(struct editor *ed)
{
	return ed->kill_len ? editor_insert(ed, ed->kill, ed->kill_len) : EDITOR_OK;
}

/* ---- history ------------------------------------------------------------------ */

void editor_history_add(struct editor *ed, const char *line)
{
	if (!*line || (ed->nhist && strcmp(ed->hist[ed->nhist - 1], line) == 0)) {
		ed->hist_pos = ed->nhist;
		return;
	}
	char *copy = strdup(line);
	if (!copy)
		return;
	if (ed->nhist == EDITOR_HISTORY_MAX) {
		free(ed->hist[0]);
		memmove(ed->hist, ed->hist + 1, (ed->nhist - 1) * sizeof *ed->hist);
		ed->nhist--;
	} else {
		char **h = realloc(ed->hist, (ed->nhist + 1) * sizeof *h);
		if (!h) {
			free(copy);
			return;
		}
		ed->hist = h;
	}
	ed->hist[ed->nhist++] = copy;
	ed->hist_pos = ed->nhist;
}

void editor_history_up(struct editor *ed)
{
	if (ed->hist_pos == 0 || ed->nhist == 0)
		return;
	if (ed->hist_pos > ed->nhist)
		ed->hist_pos = ed->nhist;
	if (ed->hist_pos == ed->nhist) {
		/* Keep what is being typed, to come back to it. */
		free(ed->hist_saved);
		ed->hist_saved = strdup(editor_text(ed));
		if (!ed->hist_saved)
			return;
	}
	const char *line = ed->hist[ed->hist_pos - 1];
	if (editor_set(ed, line, strlen(line)) == EDITOR_OK)
		ed->hist_pos--;
}

void editor_history_down(struct editor *ed)
{
	if (ed->hist_pos >= ed->nhist)
		return;
	ed->hist_pos++;
	const char *line = ed->hist_pos < ed->nhist ? ed->hist[ed->hist_pos]
			   : ed->hist_saved	     ? ed->hist_saved
						     : "";
	editor_set(ed, line, strlen(line));
	if (ed->hist_pos == ed->nhist) {
		free(ed->hist_saved);
		ed->hist_saved = NULL;
	}
}

/* ---- the view ------------------------------------------------------------------- */

void editor_view(struct editor *ed, int width, size_t *first, int *cursor_col)
{
	if (width < 2)
		width = 2;
	if (ed->view > ed->len)
		ed->view = ed->len;
	ed->view = boundary_at_or_before(ed, ed->view);
	/* The cursor's own cluster must fit too: one column past the text. */
	if (tui_utf8_cols(editor_text(ed), ed->len) < width) {
		ed->view = 0;
	} else if (ed->cursor < ed->view) {
		/* Jump back by half a screen, so the text before is in sight. */
		ed->view = ed->cursor;
		while (ed->view > 0 &&
		       tui_utf8_cols(ed->buf + prev_of(ed, ed->view),
				     ed->cursor - prev_of(ed, ed->view)) < width / 2)
			ed->view = prev_of(ed, ed->view);
	}
	while (ed->view < ed->cursor &&
	       tui_utf8_cols(ed->buf + ed->view, ed->cursor - ed->view) > width - 1)
		ed->view = next_of(ed, ed->view);
	*first = ed->view;
	*cursor_col = tui_utf8_cols(ed->buf ? ed->buf + ed->view : "", ed->cursor - ed->view);
}
