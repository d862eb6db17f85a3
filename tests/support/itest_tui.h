/* Steps of the full-screen client's end-to-end tests (tests/test_itest_tui*.c):
 * the real client (its test variant) in a tmux pane (itest_tmux.h), typed at
 * and read as a person would. A screen is judged only once it settles: every
 * wait polls the capture until what it wants is there.
 *
 * Like itest_rooms.h, these assert (cmocka): a failed step ends the test, the
 * screen as it was printed on stderr. */
#ifndef CC_TESTS_ITEST_TUI_H
#define CC_TESTS_ITEST_TUI_H

#include "itest_tmux.h"

#define TUI_COLS 100
#define TUI_ROWS 30

/* Our line on its way (not yet confirmed by the server). */
extern const char TUI_ELLIPSIS[];

/* Skips the test without tmux. */
void tui_skip_without_tmux(void);

/* The UI as NICK (home DIR/NICK) on the server at PORT, in a TUI_COLS x
 * TUI_ROWS pane, once it shows [connected]. ENV: more "NAME=value" for its
 * environment (NULL-terminated, or NULL; NO_COLOR is unset unless given);
 * ARGS: more arguments (NULL-terminated, or NULL). Its stderr goes to
 * DIR/tui-NICK.log, in *LOG. */
struct itest_tmux *tui_start(int port, const char *dir, const char *nick,
			     const char *const *env, const char *const *args, const char **log);

/* Waits until the screen shows NEEDLE. */
void tui_wait_for(struct itest_tmux *t, const char *needle);
/* Waits until the screen shows every string of PRESENT and none of ABSENT
 * (NULL-terminated; either may be NULL). Returns the screen (caller frees). */
char *tui_wait_screen(struct itest_tmux *t, const char *const *present,
		      const char *const *absent);
/* Waits until row N (0 from the top) holds NEEDLE. */
void tui_wait_row(struct itest_tmux *t, int n, const char *needle);
/* Waits until the screen's line holding NEEDLE has no TUI_ELLIPSIS: our
 * line confirmed by the server. */
void tui_wait_confirmed(struct itest_tmux *t, const char *needle);

/* Types LINE and Enter. */
void tui_type_line(struct itest_tmux *t, const char *line);

/* The UI exited 0 on its own, back on the normal screen, with nothing in its
 * log LOG (no sanitizer report, nothing written under the screen); stops T. */
void tui_expect_clean_exit(struct itest_tmux *t, const char *log);

/* How many times NEEDLE is in TEXT. */
int tui_count(const char *text, const char *needle);

/* Whether the SGR sequences in S (a capture with escapes) set attribute CODE
 * (1 bold, 7 reverse, 41 red background). */
int tui_has_sgr(const char *s, int code);
/* Whether the SGR sequence whose parameters start at P sets a colour (30-38,
 * 40-48, 90-97, 100-107; 39 and 49 are the defaults). */
int tui_sgr_has_colour(const char *p);
/* Whether any SGR sequence of SCREEN sets a colour. */
int tui_screen_has_colour(const char *screen);

#endif
