/* The full-screen front end (ncursesw): a window per room and a status
 * window, a message pane with scrollback, an input line with readline's
 * keys, history and TAB completion, a status line, and the security
 * notices that stay until acknowledged. Typed lines run through the shared
 * command language (client/cli/cli.h); every string others chose is
 * escaped before it is drawn. The default when standard input and output
 * are terminals. */
#ifndef CC_CLIENT_TUI_TUI_H
#define CC_CLIENT_TUI_TUI_H

#include <stdbool.h>
#include <stddef.h>

#include "client/core/client.h"

struct event_base;

struct tui_options {
	bool no_bell;       /* no bell on a message in another window, nor on a notice */
	bool no_color;      /* attributes only */
	/* no_color was chosen (--color, --no-color, the config file's color),
	 * which then goes over the NO_COLOR variable (no-color.org); else
	 * NO_COLOR set and not empty means no colours */
	bool color_chosen;
};

/* Whether the full-screen UI can run here: a UTF-8 locale (it sets
 * LC_CTYPE from the environment) and a terminal type curses knows. If not,
 * why (a sentence) goes in why. */
bool tui_usable(char *why, size_t n);

/* Runs a session until /quit, Ctrl-C, Ctrl-D, a signal or a fatal error;
 * the terminal is restored on every way out. Returns the exit status
 * (enum client_exit). */
int tui_run(const struct client_config *cfg, struct event_base *base,
	    const struct tui_options *opt);

#endif
