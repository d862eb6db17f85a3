/* What the full-screen UI shows: see model.h. */
#include "client/tui/model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/display.h"

/* ---- safe text -------------------------------------------------------------- */

static bool str_reserve(struct tui_str *t, size_t extra)
{
	if (t->failed)
		return false;
	if (t->len + extra + 1 <= t->cap)
		return true;
	size_t cap = t->cap ? t->cap : 64;
	while (cap < t->len + extra + 1)
		cap *= 2;
	char *p = realloc(t->s, cap);
	if (!p) {
		t->failed = true;
		return false;
	}
	t->s = p;
	t->cap = cap;
	return true;
}

void tui_str_vadd(struct tui_str *t, const char *fmt, va_list ap)
{
	va_list ap2;
	va_copy(ap2, ap);
	int n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0 || !str_reserve(t, (size_t)n))
		return;
	vsnprintf(t->s + t->len, (size_t)n + 1, fmt, ap);
	t->len += (size_t)n;
}

void tui_str_add(struct tui_str *t, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	tui_str_vadd(t, fmt, ap);
	va_end(ap);
}

void tui_str_safe_n(struct tui_str *t, const char *s, size_t n)
{
	/* A message's further lines stay lines of it ('\n', marked when
	 * drawn); nothing else can act on the terminal. */
	char *e = display_escape(s ? s : "", s ? n : 0, "");
	if (!e) {
		t->failed = true;
		return;
	}
	size_t len = strlen(e);
	if (str_reserve(t, len)) {
		memcpy(t->s + t->len, e, len + 1);
		t->len += len;
	}
	free(e);
}

void tui_str_safe(struct tui_str *t, const char *s)
{
	tui_str_safe_n(t, s, s ? strlen(s) : 0);
}

char *tui_str_take(struct tui_str *t)
{
	char *s = t->failed ? NULL : t->s;
	if (t->failed)
		free(t->s);
	if (!s)
		s = strdup(t->failed ? "(out of memory: this line could not be shown)" : "");
	memset(t, 0, sizeof *t);
	return s;
}

/* ---- windows ------------------------------------------------------------------- */

static void line_free(struct tui_line *l)
{
	if (!l)
		return;
	free(l->nick);
	free(l->text);
	free(l->note);
	free(l);
}

static struct tui_window *window_new(const char *room)
{
	struct tui_window *w = calloc(1, sizeof *w);
	if (!w)
		return NULL;
	w->title = strdup("");
	if (!w->title) {
		free(w);
		return NULL;
	}
	w->is_status = room == NULL;
	snprintf(w->room, sizeof w->room, "%s", room ? room : "");
	w->follow = true;
	w->next_id = 1;
	return w;
}

void tui_window_clear(struct tui_window *w)
{
	for (size_t i = 0; i < w->nlines; i++)
		line_free(w->lines[i]);
	w->nlines = 0;
	w->follow = true;
	w->below = 0;
}

static void window_free(struct tui_window *w)
{
	if (!w)
		return;
	tui_window_clear(w);
	free(w->lines);
	free(w->title);
	free(w);
}

int tui_model_init(struct tui_model *m, size_t max_lines)
{
	memset(m, 0, sizeof *m);
	m->max_lines = max_lines ? max_lines : TUI_SCROLLBACK_DEFAULT;
	m->wins = calloc(1, sizeof *m->wins);
	if (!m->wins || !(m->wins[0] = window_new(NULL))) {
		free(m->wins);
		m->wins = NULL;
		return -1;
	}
	m->nwins = 1;
	return 0;
}

void tui_model_free(struct tui_model *m)
{
	for (size_t i = 0; i < m->nwins; i++)
		window_free(m->wins[i]);
	free(m->wins);
	for (size_t i = 0; i < m->nnotices; i++)
		free(m->notices[i].text);
	free(m->notices);
	free(m->pending);
	memset(m, 0, sizeof *m);
}

struct tui_window *tui_model_current(const struct tui_model *m)
{
	return m->wins[m->current];
}

struct tui_window *tui_model_find(const struct tui_model *m, const char *room, size_t *index)
{
	for (size_t i = 1; room && *room && i < m->nwins; i++) {
		if (strcmp(m->wins[i]->room, room) == 0) {
			if (index)
				*index = i;
			return m->wins[i];
		}
	}
	return NULL;
}

struct tui_window *tui_model_open(struct tui_model *m, const char *room)
{
	struct tui_window *w = tui_model_find(m, room, NULL);
	if (w || !room || !*room)
		return w;
	struct tui_window **wins = realloc(m->wins, (m->nwins + 1) * sizeof *wins);
	if (!wins)
		return NULL;
	m->wins = wins;
	if (!(w = window_new(room)))
		return NULL;
	m->wins[m->nwins++] = w;
	return w;
}

void tui_model_switch(struct tui_model *m, size_t i)
{
	if (i >= m->nwins)
		return;
	m->current = i;
	m->wins[i]->unread = 0;
	m->wins[i]->activity = TUI_ACT_NONE;
}

void tui_model_close(struct tui_model *m, size_t i)
{
	if (i == 0 || i >= m->nwins)
		return;
	struct tui_window *w = m->wins[i];
	size_t keep = 0;
	for (size_t k = 0; k < m->npending; k++)
		if (m->pending[k].win != w)
			m->pending[keep++] = m->pending[k];
	m->npending = keep;
	window_free(w);
	memmove(m->wins + i, m->wins + i + 1, (m->nwins - i - 1) * sizeof *m->wins);
	m->nwins--;
	if (m->current == i)
		tui_model_switch(m, i - 1);
	else if (m->current > i)
		m->current--;
}

void tui_window_set_title(struct tui_window *w, const char *safe_title)
{
	char *t = strdup(safe_title ? safe_title : "");
	if (!t)
		return;
	free(w->title);
	w->title = t;
}

/* Drops the oldest tenth when the window is full. */
static void window_trim(struct tui_model *m, struct tui_window *w)
{
	if (w->nlines < m->max_lines)
		return;
	size_t drop = m->max_lines / 10 ? m->max_lines / 10 : 1;
	if (drop > w->nlines)
		drop = w->nlines;
	for (size_t i = 0; i < drop; i++)
		line_free(w->lines[i]);
	memmove(w->lines, w->lines + drop, (w->nlines - drop) * sizeof *w->lines);
	w->nlines -= drop;
	if (!w->follow && w->nlines && w->anchor < w->lines[0]->id) {
		w->anchor = w->lines[0]->id;
		w->anchor_below = 0;
	}
}

uint64_t tui_model_add(struct tui_model *m, struct tui_window *w, enum tui_line_kind kind,
		       enum tui_mark mark, uint64_t time_ms, const char *nick, const char *text,
		       enum tui_activity act)
{
	window_trim(m, w);
	if (w->nlines == w->cap) {
		size_t cap = w->cap ? w->cap * 2 : 64;
		struct tui_line **p = realloc(w->lines, cap * sizeof *p);
		if (!p)
			return 0;
		w->lines = p;
		w->cap = cap;
	}
	struct tui_line *l = calloc(1, sizeof *l);
	if (!l)
		return 0;
	l->kind = kind;
	l->mark = mark;
	l->time_ms = time_ms;
	l->nick = nick ? strdup(nick) : NULL;
	l->text = strdup(text ? text : "");
	if ((nick && !l->nick) || !l->text) {
		line_free(l);
		return 0;
	}
	l->id = w->next_id++;
	w->lines[w->nlines++] = l;
	if (!w->follow)
		w->below++;
	if (w != tui_model_current(m)) {
		if (act == TUI_ACT_MESSAGE)
			w->unread++;
		if (act > w->activity)
			w->activity = act;
	}
	return l->id;
}

static size_t line_index(const struct tui_window *w, uint64_t id, bool *found)
{
	size_t lo = 0, hi = w->nlines;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (w->lines[mid]->id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = lo < w->nlines && w->lines[lo]->id == id;
	return lo;
}

struct tui_line *tui_window_line(const struct tui_window *w, uint64_t id)
{
	bool found;
	size_t i = line_index(w, id, &found);
	return found ? w->lines[i] : NULL;
}

/* ---- scrolling ---------------------------------------------------------------------- */

static int rows_of(tui_rows_fn fn, void *ctx, const struct tui_line *l)
{
	int r = fn(ctx, l);
	return r > 0 ? r : 1;
}

/* Where the bottom of the view is: line index *i, *k of its rows below. */
static void bottom_of(const struct tui_window *w, tui_rows_fn fn, void *ctx, size_t *i, int *k)
{
	*i = w->nlines - 1;
	*k = 0;
	if (w->follow)
		return;
	bool found;
	size_t at = line_index(w, w->anchor, &found);
	if (at >= w->nlines)
		return;
	*i = at;
	*k = found ? w->anchor_below : 0;
	int rows = rows_of(fn, ctx, w->lines[at]);
	if (*k >= rows)
		*k = rows - 1;  /* the width grew */
	if (*k < 0)
		*k = 0;
}

void tui_window_follow(struct tui_window *w)
{
	w->follow = true;
	w->below = 0;
}

void tui_window_scroll(struct tui_window *w, int rows, int height, tui_rows_fn fn, void *ctx)
{
	size_t i;
	int k;
	if (w->nlines == 0 || rows == 0)
		return;
	if (height < 1)
		height = 1;
	bottom_of(w, fn, ctx, &i, &k);
	if (rows < 0) {
		k += -rows;
		while (i > 0 && k >= rows_of(fn, ctx, w->lines[i])) {
			k -= rows_of(fn, ctx, w->lines[i]);
			i--;
		}
		/* Never past the top: the oldest row stays at the top of the
		 * pane. Rows from the top to the bottom of the view: */
		int above = rows_of(fn, ctx, w->lines[i]) - k;
		for (size_t j = 0; j < i && above < height; j++)
			above += rows_of(fn, ctx, w->lines[j]);
		if (above < height) {
			size_t j = 0;
			int acc = rows_of(fn, ctx, w->lines[0]);
			while (acc < height && j + 1 < w->nlines)
				acc += rows_of(fn, ctx, w->lines[++j]);
			if (acc <= height && j + 1 == w->nlines) {
				tui_window_follow(w);  /* everything fits */
				return;
			}
			i = j;
			k = acc - height;
		}
	} else {
		k -= rows;
		while (k < 0 && i + 1 < w->nlines) {
			i++;
			k += rows_of(fn, ctx, w->lines[i]);
		}
		if (k < 0)
			k = 0;
	}
	if (i + 1 == w->nlines && k == 0) {
		tui_window_follow(w);
		return;
	}
	if (w->follow)
		w->below = 0;
	w->follow = false;
	w->anchor = w->lines[i]->id;
	w->anchor_below = k;
}

bool tui_window_visible(const struct tui_window *w, int height, tui_rows_fn fn, void *ctx,
			size_t *first, int *skip, size_t *last, int *cut)
{
	if (w->nlines == 0 || height < 1)
		return false;
	size_t i;
	int k;
	bottom_of(w, fn, ctx, &i, &k);
	int used = rows_of(fn, ctx, w->lines[i]) - k;
	size_t f = i;
	while (used < height && f > 0)
		used += rows_of(fn, ctx, w->lines[--f]);
	*first = f;
	*skip = used > height ? used - height : 0;
	*last = i;
	*cut = k;
	return true;
}

/* ---- notices ------------------------------------------------------------------------- */

void tui_model_notice(struct tui_model *m, const char *room, uint64_t time_ms,
		      const char *safe_text)
{
	if (m->nnotices == TUI_NOTICES_MAX) {
		m->notices_dropped++;
		return;
	}
	struct tui_notice *p = realloc(m->notices, (m->nnotices + 1) * sizeof *p);
	char *text = strdup(safe_text);
	if (!p || !text) {
		if (p)
			m->notices = p;
		free(text);
		m->notices_dropped++;
		return;
	}
	m->notices = p;
	p[m->nnotices].text = text;
	p[m->nnotices].time_ms = time_ms;
	snprintf(p[m->nnotices].room, sizeof p->room, "%s", room ? room : "");
	m->nnotices++;
}

void tui_model_ack(struct tui_model *m, bool all)
{
	size_t n = all ? m->nnotices : m->nnotices ? 1 : 0;
	for (size_t i = 0; i < n; i++)
		free(m->notices[i].text);
	memmove(m->notices, m->notices + n, (m->nnotices - n) * sizeof *m->notices);
	m->nnotices -= n;
	if (m->nnotices == 0)
		m->notices_dropped = 0;  /* those not kept are in their windows */
}

/* ---- our lines in flight -------------------------------------------------------------- */

void tui_model_pending_add(struct tui_model *m, uint32_t request, struct tui_window *w,
			   uint64_t line)
{
	struct tui_pending *p = realloc(m->pending, (m->npending + 1) * sizeof *p);
	if (!p)
		return;  /* the line stays marked as on its way */
	m->pending = p;
	p[m->npending++] = (struct tui_pending){request, w, line};
}

struct tui_line *tui_model_pending_line(struct tui_model *m, uint32_t request, bool take)
{
	for (size_t i = 0; request && i < m->npending; i++) {
		if (m->pending[i].request != request)
			continue;
		struct tui_line *l = tui_window_line(m->pending[i].win, m->pending[i].line);
		if (take) {
			memmove(m->pending + i, m->pending + i + 1,
				(m->npending - i - 1) * sizeof *m->pending);
			m->npending--;
		}
		return l;
	}
	return NULL;
}
