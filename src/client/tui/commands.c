/* The full-screen UI's own commands: the extra table of the shared command
 * language (cli.h), so /help lists them and TAB completes them. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "client/tui/internal.h"

static struct tui *tui_of(struct cli *cli)
{
	return cli_ctx(cli);
}

/* A window number, 1..nwins: its index, or -1 (reported). */
static long window_arg(struct tui *t, const char *args, const char *usage)
{
	char *end;
	errno = 0;
	unsigned long n = strtoul(args, &end, 10);
	end += strspn(end, " \t");
	if (errno || end == args || *end || *args == '-' || n < 1 || n > t->model.nwins) {
		tui_say(t, NULL, TUI_LINE_ERROR, "usage: %s (a window from 1 to %zu)", usage,
			t->model.nwins);
		return -1;
	}
	return (long)n - 1;
}

static uint32_t cmd_win(struct cli *cli, const char *args)
{
	struct tui *t = tui_of(cli);
	if (!*args) {
		for (size_t i = 0; i < t->model.nwins; i++) {
			const struct tui_window *w = t->model.wins[i];
			if (w->is_status)
				tui_say(t, NULL, TUI_LINE_INFO, "window %zu: status", i + 1);
			else
				tui_say(t, NULL, TUI_LINE_INFO, "window %zu: %s [%.32s]", i + 1,
					*w->title ? w->title : "(no title)", w->room);
		}
		return 0;
	}
	long i = window_arg(t, args, "/win N");
	if (i >= 0)
		tui_switch(t, (size_t)i);
	return 0;
}

static uint32_t cmd_ack(struct cli *cli, const char *args)
{
	struct tui *t = tui_of(cli);
	bool all = strcasecmp(args, "all") == 0;
	if (*args && !all) {
		tui_say(t, NULL, TUI_LINE_ERROR, "usage: /ack [all]");
	} else if (t->model.nnotices == 0) {
		tui_say(t, NULL, TUI_LINE_INFO, "no notice to acknowledge");
	} else {
		tui_model_ack(&t->model, all);
		tui_redraw_soon(t);
	}
	return 0;
}

static uint32_t cmd_close(struct cli *cli, const char *args)
{
	struct tui *t = tui_of(cli);
	long i = *args ? window_arg(t, args, "/close [N]") : (long)t->model.current;
	if (i < 0)
		return 0;
	if (i == 0) {
		tui_say(t, NULL, TUI_LINE_ERROR, "the status window stays open");
		return 0;
	}
	tui_model_close(&t->model, (size_t)i);
	/* The window shown may be another now: plain text follows it. */
	tui_switch(t, t->model.current);
	tui_say(t, NULL, TUI_LINE_INFO, "window %ld closed; a joined room stays joined (its news "
		"opens it again; /disconnect stops hearing it)", i + 1);
	return 0;
}

static uint32_t cmd_clear(struct cli *cli, const char *args)
{
	struct tui *t = tui_of(cli);
	(void)args;
	tui_window_clear(tui_model_current(&t->model));
	tui_redraw_soon(t);
	return 0;
}

static uint32_t cmd_bell(struct cli *cli, const char *args)
{
	struct tui *t = tui_of(cli);
	if (strcasecmp(args, "on") == 0)
		t->bell = true;
	else if (strcasecmp(args, "off") == 0)
		t->bell = false;
	else if (*args) {
		tui_say(t, NULL, TUI_LINE_ERROR, "usage: /bell [on|off]");
		return 0;
	}
	tui_say(t, NULL, TUI_LINE_INFO, "the bell (a message in another window, a security "
		"notice) is %s",
		t->bell ? "on" : "off");
	return 0;
}

static uint32_t cmd_names(struct cli *cli, const char *args)
{
	struct tui *t = tui_of(cli);
	const struct tui_window *w = tui_model_current(&t->model);
	(void)args;
	size_t n = client_room_count(t->client);
	for (size_t i = 0; !w->is_status && i < n; i++) {
		struct client_room_view v;
		if (client_room_view_get(t->client, i, &v) != CC_OK || strcmp(v.room, w->room) != 0) {
			client_room_view_free(&v);
			continue;
		}
		for (size_t k = 0; k < v.nmembers; k++) {
			const struct client_member_view *m = &v.members[k];
			bool self = strcmp(m->nick, t->nick) == 0;
			tui_say(t, NULL, self || m->trusted ? TUI_LINE_INFO : TUI_LINE_SECURITY,
				"%s %s%s: %s", self ? " " : m->verified ? "\u2713" : m->trusted ? "\u00b7" : "!",
				m->nick, m->admin ? " (admin)" : "",
				self	      ? "you"
				: m->verified ? "key verified (you compared safety numbers)"
				: m->trusted  ? "key pinned on first sight, not compared (/safety, /verify)"
					      : "key NOT the pinned one: compare /safety, then /verify");
		}
		client_room_view_free(&v);
		return 0;
	}
	tui_say(t, NULL, TUI_LINE_ERROR, "no room here: show a room's window first");
	return 0;
}

const struct cli_command tui_commands[] = {
	{"/win", "[N]", "show window N (Alt-1..9, Ctrl-N, Ctrl-P); alone: list them", cmd_win},
	{"/close", "[N]", "close a room's window (the room stays joined)", cmd_close},
	{"/ack", "[all]", "acknowledge the security notice shown (Ctrl-G), or all", cmd_ack},
	{"/names", "", "the members of the room shown and whether their keys are verified",
	 cmd_names},
	{"/clear", "", "empty the window's scrollback", cmd_clear},
	{"/bell", "[on|off]", "bell on a message in another window, and on a security notice",
	 cmd_bell},
};
const size_t tui_ncommands = sizeof tui_commands / sizeof tui_commands[0];
