/* The full-screen UI's parts, shared by its files: tui.c (the session:
 * terminal, event loop, signals), screen.c (curses drawing; with term.c the
 * only files that include curses), events.c (the core's events as lines),
 * input.c (keys, the input line, pastes) and commands.c (the UI's own
 * commands). The curses-free pieces under them: utf8.h, editor.h, keys.h,
 * complete.h, model.h, layout.h. */
#ifndef CC_CLIENT_TUI_INTERNAL_H
#define CC_CLIENT_TUI_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "client/cli/cli.h"
#include "client/core/client.h"
#include "client/tui/complete.h"
#include "client/tui/editor.h"
#include "client/tui/keys.h"
#include "client/tui/model.h"
#include "client/tui/tui.h"

struct event;
struct event_base;

/* Short messages in the status line (an unknown key, completions). */
#define TUI_HINT_MS 4000
/* How long the question about a paste may wait for the rest of it. */
#define TUI_PASTE_WAIT_MS 1000

struct tui {
	struct event_base *base;
	struct client *client;
	struct cli *cli;
	struct tui_options opt;
	bool color;
	bool bell;
	bool screen_open;

	struct tui_model model;
	struct editor ed;
	struct completion comp;
	struct keys keys;

	struct event *ev_input, *ev_winch, *ev_term, *ev_hup, *ev_int, *ev_tick;
	struct event *ev_redraw, *ev_keys_wait, *ev_paste_wait;

	/* What the status line shows. */
	char nick[PROTO_NICK_MAX + 1];
	char server[300];
	char server_fp[CLIENT_FP_HEX];
	uint64_t retry_at_ms;   /* monotonic: the next reconnect attempt; 0 */
	bool quitting;

	/* A paste of several lines, waiting for y or n. */
	bool asking;
	char *paste;            /* the lines, '\n' between them */
	size_t paste_lines;
	char paste_room[CLIENT_ROOM_HEX];

	char hint[256];         /* safe to show */
	uint64_t hint_until_ms; /* monotonic */

	/* Lines typed before the client was registered, run once it is. */
	char **queued;
	size_t nqueued;

	/* While cli_run runs: what ended at once (a refused line), said on
	 * our own line when the line says something (run_said). */
	bool in_run;
	bool run_said;
	uint32_t run_done;
	cc_err run_err;
	char run_why[256];      /* safe to show */

	/* The error that closed the session, printed once the terminal is back. */
	char fatal[1024];
};

/* tui.c */
void tui_redraw_soon(struct tui *t);
void tui_quit(struct tui *t);
/* Runs a line as the user typed it: a command or text for the room shown. */
void tui_run_line(struct tui *t, const char *line);
/* The window of the room cli_current names, shown if it is not. */
void tui_follow_current(struct tui *t, bool had, const uint8_t before[PROTO_ROOM_ID_LEN]);
/* Shows window i and makes its room the one plain text goes to. */
void tui_switch(struct tui *t, size_t i);
void tui_hint(struct tui *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A line in window w (NULL: the one shown), built from a format whose
 * arguments are ours; others' strings go through tui_str_safe first. */
uint64_t tui_say(struct tui *t, struct tui_window *w, enum tui_line_kind kind, const char *fmt,
		 ...) __attribute__((format(printf, 4, 5)));
uint64_t tui_now_ms(void);
uint64_t tui_mono_ms(void);

/* screen.c */
/* Whether curses knows the terminal ($TERM) (term.c). */
bool screen_term_usable(void);
int screen_open(struct tui *t);
void screen_close(struct tui *t);
void screen_draw(struct tui *t);
void screen_resize(struct tui *t);
void screen_bell(struct tui *t);
void screen_suspend(struct tui *t);
/* The message pane's size. */
int screen_pane_height(const struct tui *t);
int screen_width(const struct tui *t);
/* Puts the terminal back as it was, from a signal handler (async-signal-safe). */
void screen_emergency_restore(void);
/* Rows a line takes in the pane (the scrollback's tui_rows_fn). */
int tui_rows(void *ctx, const struct tui_line *l);

/* events.c */
void events_show(struct tui *t, const struct client_event *ev);
void events_done(struct tui *t, uint32_t request, cc_err err);
/* A diagnostic of the core's, for the status window. */
void events_log(struct tui *t, int level, const char *line);
/* The room's title as the core knows it, safe to show, into w. */
void events_refresh_title(struct tui *t, struct tui_window *w);

/* input.c */
void input_key(void *ctx, const struct key *k);
void input_paste_timeout(struct tui *t);

/* commands.c: the UI's own commands, listed by /help after the shared ones. */
extern const struct cli_command tui_commands[];
extern const size_t tui_ncommands;

#endif
