/* Keys: the input line's editing keys, history, completion, window
 * switching, scrolling, and pastes (a paste of several lines waits for y
 * or n before anything is sent). Nothing here waits for the server. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/tui/internal.h"
#include "client/tui/utf8.h"
#include "proto/room.h"
#include "util/buf.h"

/* ---- completion ------------------------------------------------------------------ */

static const char *const room_commands[] = {"/join", "/say", "/leave", "/disconnect"};

static void complete(struct tui *t)
{
	struct complete_source src = {.room_commands = room_commands,
				      .nroom_commands = sizeof room_commands / sizeof *room_commands};
	const char *cmds[64];
	char (*rooms)[CLIENT_ROOM_HEX] = NULL;
	const char **room_ptrs = NULL, **nicks = NULL;
	struct client_room_view v = {0};
	size_t nrooms = 0, matches = 0;

	const struct cli_command *c;
	for (size_t i = 0; src.ncommands < 64 && (c = cli_command_at(t->cli, i)) != NULL; i++)
		if (*c->name)
			cmds[src.ncommands++] = c->name;
	src.commands = cmds;
	char hex[CLIENT_ROOM_HEX];
	while (cli_room_at(t->cli, nrooms, hex))
		nrooms++;
	rooms = calloc(nrooms + 1, sizeof *rooms);
	room_ptrs = calloc(nrooms + 1, sizeof *room_ptrs);
	for (size_t i = 0; rooms && room_ptrs && i < nrooms; i++) {
		cli_room_at(t->cli, i, rooms[i]);
		room_ptrs[src.nrooms++] = rooms[i];
	}
	src.rooms = room_ptrs;
	const struct tui_window *w = tui_model_current(&t->model);
	size_t n = client_room_count(t->client);
	for (size_t i = 0; !w->is_status && i < n; i++) {
		if (client_room_view_get(t->client, i, &v) == CC_OK && strcmp(v.room, w->room) == 0)
			break;
		client_room_view_free(&v);
	}
	if (v.members && (nicks = calloc(v.nmembers + 1, sizeof *nicks))) {
		for (size_t i = 0; i < v.nmembers; i++)
			if (strcmp(v.members[i].nick, t->nick) != 0)
				nicks[src.nnicks++] = v.members[i].nick;
	}
	src.nicks = nicks;
	if (completion_tab(&t->comp, &t->ed, &src, &matches) == COMPLETE_NONE)
		tui_hint(t, "nothing to complete");
	else if (matches > 1 && t->comp.ncands > 1) {
		char list[200] = "";
		for (size_t i = 0; i < t->comp.ncands && strlen(list) < 150; i++) {
			strncat(list, t->comp.cands[i], sizeof list - strlen(list) - 2);
			strcat(list, " ");
		}
		tui_hint(t, "%s", list);
	}
	client_room_view_free(&v);
	free(nicks);
	free(room_ptrs);
	free(rooms);
}

/* ---- pastes ------------------------------------------------------------------------ */

static void paste_drop(struct tui *t)
{
	free(t->paste);
	t->paste = NULL;
	t->paste_lines = 0;
	t->asking = false;
}

static void paste_send(struct tui *t)
{
	char *p = t->paste;
	t->paste = NULL;
	t->asking = false;
	for (char *line = p, *next; line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		if (!*line)
			continue;
		if (line[0] == '/') {
			/* Pasted text is said, never run: "//x" says "/x". */
			char *said = malloc(strlen(line) + 2);
			if (!said)
				continue;
			said[0] = '/';
			strcpy(said + 1, line);
			tui_run_line(t, said);
			free(said);
		} else {
			tui_run_line(t, line);
		}
	}
	free(p);
	t->paste_lines = 0;
}

/* A paste: one line goes into the input line; several are said in the room
 * shown, each as a message, once the user says y. */
static void paste(struct tui *t, const char *s, size_t n)
{
	uint32_t cp;
	for (size_t at = 0; at < n;) {
		size_t l = tui_utf8_decode(s + at, n - at, &cp);
		if (l == 0 || cp == 0) {
			tui_say(t, NULL, TUI_LINE_ERROR, "the paste is not UTF-8 text (byte %zu of %zu is "
				"0x%02x): nothing was inserted or sent", at + 1, n,
				(unsigned char)s[at]);
			return;
		}
		at += l;
	}
	/* One kind of line end ('\n'), none at the end. */
	char *text = malloc(n + 1);
	size_t len = 0, lines = 0, longest = 0, cur = 0, longest_at = 0;
	if (!text) {
		tui_say(t, NULL, TUI_LINE_ERROR, "out of memory: the paste was not taken");
		return;
	}
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\r' && i + 1 < n && s[i + 1] == '\n')
			continue;
		text[len++] = s[i] == '\r' ? '\n' : s[i];
	}
	while (len > 0 && text[len - 1] == '\n')
		len--;
	text[len] = '\0';
	if (!memchr(text, '\n', len)) {
		enum editor_status st = editor_insert(&t->ed, text, len);
		if (st == EDITOR_FULL)
			tui_say(t, NULL, TUI_LINE_ERROR, "the paste (%zu bytes) does not fit in the input "
				"line (at most %d bytes): nothing was inserted", len, EDITOR_MAX_BYTES);
		free(text);
		return;
	}
	for (size_t i = 0; i <= len; i++) {
		if (i == len || text[i] == '\n') {
			if (cur)
				lines++;
			if (cur > longest)
				longest = cur, longest_at = lines;
			cur = 0;
		} else {
			cur++;
		}
	}
	uint8_t room[PROTO_ROOM_ID_LEN];
	if (longest > PROTO_TEXT_MAX) {
		tui_say(t, NULL, TUI_LINE_ERROR, "line %zu of the paste has %zu bytes, more than a "
			"message holds (%d): nothing was sent", longest_at, longest, PROTO_TEXT_MAX);
	} else if (!cli_current(t->cli, room)) {
		tui_say(t, NULL, TUI_LINE_ERROR, "a paste of %zu lines is said in a room: show a room's "
			"window first (nothing was sent)", lines);
	} else {
		free(t->paste);
		t->paste = text;
		t->paste_lines = lines;
		hex_encode(room, sizeof room, t->paste_room);
		t->asking = true;
		return;
	}
	free(text);
}

static void answer(struct tui *t, const struct key *k)
{
	bool is_char = k->sym == KEY_SYM_CHAR && !k->alt;
	if (is_char && (k->cp == 'y' || k->cp == 'Y')) {
		paste_send(t);
	} else if ((is_char && (k->cp == 'n' || k->cp == 'N')) || k->sym == KEY_SYM_ESC ||
		   (k->sym == KEY_SYM_CTRL && (k->cp == 'c' || k->cp == 'g'))) {
		tui_say(t, NULL, TUI_LINE_INFO, "the paste of %zu lines was not sent", t->paste_lines);
		paste_drop(t);
	} else if (k->sym == KEY_SYM_PASTE) {
		tui_hint(t, "answer the question first: y sends, n drops");
	} else {
		tui_hint(t, "y sends the %zu lines, n drops them", t->paste_lines);
	}
}

void input_paste_timeout(struct tui *t)
{
	keys_end_paste(&t->keys, input_key, t);
}

/* ---- keys ------------------------------------------------------------------------------ */

static void submit(struct tui *t)
{
	if (editor_empty(&t->ed))
		return;
	char *line = strdup(editor_text(&t->ed));
	if (!line) {
		tui_hint(t, "out of memory: the line stays");
		return;
	}
	editor_history_add(&t->ed, line);
	editor_clear(&t->ed);
	tui_window_follow(tui_model_current(&t->model));
	tui_run_line(t, line);
	free(line);
}

static void scroll(struct tui *t, int direction)
{
	int h = screen_pane_height(t);
	int step = h > 2 ? h - 1 : 1;
	tui_window_scroll(tui_model_current(&t->model), direction * step, h, tui_rows, t);
}

static void insert(struct tui *t, const char *s, size_t n)
{
	enum editor_status st = editor_insert(&t->ed, s, n);
	if (st == EDITOR_FULL)
		tui_hint(t, "the input line is full (%d bytes)", EDITOR_MAX_BYTES);
	else if (st != EDITOR_OK)
		tui_hint(t, "that could not be inserted");
}

static void window_key(struct tui *t, size_t i)
{
	if (i < t->model.nwins)
		tui_switch(t, i);
	else
		tui_hint(t, "no window %zu", i + 1);
}

static void ctrl_key(struct tui *t, uint32_t c)
{
	size_t nwins = t->model.nwins;
	switch (c) {
	case 'a': editor_home(&t->ed); break;
	case 'e': editor_end(&t->ed); break;
	case 'b': editor_left(&t->ed); break;
	case 'f': editor_right(&t->ed); break;
	case 'k': editor_kill_end(&t->ed); break;
	case 'u': editor_kill_start(&t->ed); break;
	case 'w': editor_kill_word_back(&t->ed); break;
	case 'y':
		if (editor_yank(&t->ed) == EDITOR_FULL)
			tui_hint(t, "the input line is full (%d bytes)", EDITOR_MAX_BYTES);
		break;
	case 'd':
		if (editor_empty(&t->ed))
			tui_quit(t);
		else
			editor_delete_fwd(&t->ed);
		break;
	case 'c': tui_quit(t); break;
	case 'n': tui_switch(t, (t->model.current + 1) % nwins); break;
	case 'p': tui_switch(t, (t->model.current + nwins - 1) % nwins); break;
	case 'g':
		if (t->model.nnotices)
			tui_model_ack(&t->model, false);
		else
			tui_hint(t, "no notice to acknowledge");
		break;
	case 'l': screen_resize(t); break;
	case 'z': screen_suspend(t); break;
	default:
		tui_hint(t, "Ctrl-%c does nothing here; /help lists the commands",
			 c >= 'a' && c <= 'z' ? (char)(c - 32) : (char)c);
		break;
	}
}

static void alt_char(struct tui *t, uint32_t c)
{
	if (c >= '1' && c <= '9')
		window_key(t, c - '1');
	else if (c == '0')
		window_key(t, 9);
	else if (c == 'b' || c == 'B')
		editor_word_left(&t->ed);
	else if (c == 'f' || c == 'F')
		editor_word_right(&t->ed);
	else if (c == 'd' || c == 'D')
		editor_kill_word_fwd(&t->ed);
	else
		tui_hint(t, "that Alt key does nothing here");
}

/* An escape sequence nobody knows, shown as its bytes. */
static void unknown_key(struct tui *t, const struct key *k)
{
	char seq[64] = "";
	size_t o = 0;
	for (size_t i = 0; i < k->len && o + 5 < sizeof seq; i++) {
		unsigned char b = (unsigned char)k->text[i];
		o += (size_t)snprintf(seq + o, sizeof seq - o, b == 0x1b ? "ESC" : b > 0x20 && b < 0x7f
							      ? "%c" : "\\x%02x", b);
	}
	tui_hint(t, "unknown key %s: ignored", seq);
}

static void edit_key(struct tui *t, const struct key *k)
{
	bool word = k->alt || k->ctrl;
	switch (k->sym) {
	case KEY_SYM_CHAR:
		if (k->alt)
			alt_char(t, k->cp);
		else
			insert(t, k->text, k->len);
		break;
	case KEY_SYM_CTRL:
		ctrl_key(t, k->cp);
		break;
	case KEY_SYM_ENTER: submit(t); break;
	case KEY_SYM_TAB: complete(t); break;
	case KEY_SYM_BACKSPACE:
		if (k->alt)
			editor_kill_word_back(&t->ed);
		else
			editor_delete_back(&t->ed);
		break;
	case KEY_SYM_DELETE: editor_delete_fwd(&t->ed); break;
	case KEY_SYM_LEFT: word ? editor_word_left(&t->ed) : editor_left(&t->ed); break;
	case KEY_SYM_RIGHT: word ? editor_word_right(&t->ed) : editor_right(&t->ed); break;
	case KEY_SYM_UP: editor_history_up(&t->ed); break;
	case KEY_SYM_DOWN: editor_history_down(&t->ed); break;
	case KEY_SYM_HOME: editor_home(&t->ed); break;
	case KEY_SYM_END: editor_end(&t->ed); break;
	case KEY_SYM_PGUP: scroll(t, -1); break;
	case KEY_SYM_PGDN: scroll(t, 1); break;
	case KEY_SYM_ESC: t->hint[0] = '\0'; break;
	case KEY_SYM_PASTE: paste(t, k->text, k->len); break;
	case KEY_SYM_PASTE_TOO_BIG:
		tui_say(t, NULL, TUI_LINE_ERROR, "the paste (%zu bytes) is larger than the %d bytes "
			"taken at once: nothing was inserted or sent", k->len, KEYS_PASTE_MAX);
		break;
	case KEY_SYM_INVALID:
		tui_hint(t, "ignored a byte that is not UTF-8 (0x%02x): is the terminal set to UTF-8?",
			 (unsigned)k->cp);
		break;
	case KEY_SYM_UNKNOWN: unknown_key(t, k); break;
	case KEY_SYM_BACKTAB:
	case KEY_SYM_INSERT:
	case KEY_SYM_FKEY:
	default:
		tui_hint(t, "that key does nothing here; /help lists the commands");
		break;
	}
}

void input_key(void *ctx, const struct key *k)
{
	struct tui *t = ctx;
	if (k->sym != KEY_SYM_TAB)
		completion_reset(&t->comp);
	if (t->asking)
		answer(t, k);
	else
		edit_key(t, k);
	tui_redraw_soon(t);
}
