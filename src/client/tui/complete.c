/* TAB completion: see complete.h. */
#include "client/tui/complete.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void completion_init(struct completion *c)
{
	memset(c, 0, sizeof *c);
}

static void cands_free(struct completion *c)
{
	for (size_t i = 0; i < c->ncands; i++)
		free(c->cands[i]);
	free(c->cands);
	c->cands = NULL;
	c->ncands = c->next = 0;
}

void completion_free(struct completion *c)
{
	cands_free(c);
	memset(c, 0, sizeof *c);
}

void completion_reset(struct completion *c)
{
	cands_free(c);
	c->active = false;
}

static int cmp_str(const void *a, const void *b)
{
	return strcasecmp(*(char *const *)a, *(char *const *)b);
}

/* Adds the strings of list that start with word (case aside), once each. */
static void collect(struct completion *c, const char *const *list, size_t n, const char *word,
		    size_t wlen)
{
	for (size_t i = 0; i < n; i++) {
		if (!list[i] || strncasecmp(list[i], word, wlen) != 0 || !*list[i])
			continue;
		bool dup = false;
		for (size_t k = 0; k < c->ncands && !dup; k++)
			dup = strcasecmp(c->cands[k], list[i]) == 0;
		if (dup)
			continue;
		char **p = realloc(c->cands, (c->ncands + 1) * sizeof *p);
		if (!p)
			return;
		c->cands = p;
		if ((p[c->ncands] = strdup(list[i])))
			c->ncands++;
	}
}

static bool in_list(const char *const *list, size_t n, const char *s, size_t len)
{
	for (size_t i = 0; i < n; i++)
		if (strlen(list[i]) == len && strncasecmp(list[i], s, len) == 0)
			return true;
	return false;
}

/* Puts candidate i (and the suffix) in place of the word. */
static void put(struct completion *c, struct editor *ed, const char *cand, bool with_suffix)
{
	size_t clen = strlen(cand), slen = with_suffix ? strlen(c->suffix) : 0;
	char *s = malloc(clen + slen + 1);
	if (!s)
		return;
	memcpy(s, cand, clen);
	memcpy(s + clen, c->suffix, slen);
	if (editor_replace(ed, c->start, c->end, s, clen + slen) == EDITOR_OK)
		c->end = c->start + clen + slen;
	free(s);
}

/* What the word at c->start is, and the candidates for it. */
static enum complete_kind kind_of(const struct completion *c, const struct editor *ed,
				  const struct complete_source *src, const char *const **list,
				  size_t *n)
{
	const char *line = editor_text(ed);
	size_t lead = strspn(line, " ");
	if (c->start == lead && line[lead] == '/') {
		*list = src->commands;
		*n = src->ncommands;
		return COMPLETE_COMMAND;
	}
	if (line[lead] == '/') {
		/* The first argument of a command that takes a room. */
		size_t cmd = strcspn(line + lead, " ");
		size_t arg = lead + cmd + strspn(line + lead + cmd, " ");
		if (c->start == arg &&
		    in_list(src->room_commands, src->nroom_commands, line + lead, cmd)) {
			*list = src->rooms;
			*n = src->nrooms;
			return COMPLETE_ROOM;
		}
	}
	*list = src->nicks;
	*n = src->nnicks;
	return COMPLETE_NICK;
}

enum complete_kind completion_tab(struct completion *c, struct editor *ed,
				  const struct complete_source *src, size_t *nmatches)
{
	const char *line = editor_text(ed);
	size_t cursor = editor_cursor(ed);

	if (nmatches)
		*nmatches = c->ncands;
	if (c->active && c->ncands > 1 && cursor == c->end) {
		put(c, ed, c->cands[c->next], true);
		c->next = (c->next + 1) % c->ncands;
		return c->kind;
	}
	completion_reset(c);
	size_t start = cursor;
	while (start > 0 && line[start - 1] != ' ' && line[start - 1] != ',')
		start--;
	c->start = start;
	c->end = cursor;
	const char *const *list = NULL;
	size_t n = 0;
	enum complete_kind kind = kind_of(c, ed, src, &list, &n);
	collect(c, list, n, line + start, cursor - start);
	if (nmatches)
		*nmatches = c->ncands;
	if (c->ncands == 0)
		return COMPLETE_NONE;
	qsort(c->cands, c->ncands, sizeof *c->cands, cmp_str);
	size_t lead = strspn(line, " ");
	bool after_comma = start > 0 && line[start - 1] == ',';
	strcpy(c->suffix, kind == COMPLETE_NICK && start == lead ? ": " : after_comma ? "" : " ");
	c->kind = kind;
	if (c->ncands == 1) {
		put(c, ed, c->cands[0], true);
		completion_reset(c);
		return kind;
	}
	/* As far as they all agree; then each in turn. */
	size_t common = strlen(c->cands[0]);
	for (size_t i = 1; i < c->ncands; i++) {
		size_t k = 0;
		while (k < common && c->cands[i][k] &&
		       tolower((unsigned char)c->cands[i][k]) == tolower((unsigned char)c->cands[0][k]))
			k++;
		common = k;
	}
	c->active = true;
	if (common > cursor - start) {
		char *prefix = strndup(c->cands[0], common);
		if (prefix)
			put(c, ed, prefix, false);
		free(prefix);
		c->next = 0;
	} else {
		put(c, ed, c->cands[0], true);
		c->next = 1;
	}
	return kind;
}
