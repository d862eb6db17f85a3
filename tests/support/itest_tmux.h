/* Integration-test support for the full-screen client: a program run in a
 * tmux pane on a private server (tmux -L), typed at with send-keys, read
 * with capture-pane, resized, pasted into (bracketed), and waited for.
 * Every wait polls the screen until a deadline, never sleeps blindly.
 *
 * Like itest.h, failures return NULL / -1 and print a diagnostic (the
 * screen as it was) on stderr; the test asserts. itest_tmux_cleanup() (or
 * itest_tmux_teardown as a cmocka teardown, which also runs itest_cleanup)
 * kills every tmux server still running, so a failed test leaves none. */
#ifndef CC_TESTS_ITEST_TMUX_H
#define CC_TESTS_ITEST_TMUX_H

struct itest_tmux;

/* The tmux program, or NULL (with a note on stderr) if there is none. */
const char *itest_tmux_bin(void);

/* Starts ARGV (NULL-terminated, argv[0] the program) in a cols x rows pane
 * with ENV (NULL-terminated "NAME=value" strings, or "NAME=" to unset;
 * may be NULL) on top of this process's environment; its stderr goes to
 * LOG. The pane stays after the program exits (remain-on-exit), so its
 * exit status can be read. NULL on failure. */
struct itest_tmux *itest_tmux_start(const char *dir, int cols, int rows,
	const char *const *env, const char *const *argv, const char *log);
/* Kills the tmux server and frees T. */
void itest_tmux_stop(struct itest_tmux *t);
void itest_tmux_cleanup(void);
int itest_tmux_teardown(void **state);

/* The screen as text, one line per row (malloc'd, caller frees); with
 * ESCAPES, with the SGR sequences of its colours and attributes. */
char *itest_tmux_capture(struct itest_tmux *t, int escapes);
/* Row N (0 from the top) alone, with its SGR sequences from a clean state
 * (a whole capture only says what changes from one cell to the next). */
char *itest_tmux_capture_row(struct itest_tmux *t, int n);
/* Waits until the screen shows NEEDLE; returns the screen (caller frees),
 * or NULL after TIMEOUT_MS (the screen printed). */
char *itest_tmux_wait(struct itest_tmux *t, const char *needle, int timeout_ms);
/* Waits until the screen no longer shows NEEDLE: 0, or -1. */
int itest_tmux_wait_gone(struct itest_tmux *t, const char *needle, int timeout_ms);
/* The line of SCREEN that holds NEEDLE (malloc'd), or NULL. */
char *itest_tmux_row(const char *screen, const char *needle);
/* Row N (0 from the top) of SCREEN (malloc'd), or NULL. */
char *itest_tmux_row_at(const char *screen, int n);

/* Types TEXT literally (send-keys -l). 0, or -1. */
int itest_tmux_type(struct itest_tmux *t, const char *text);
/* Presses keys by tmux's names ("Enter", "Tab", "PPage", "C-g", "M-2"),
 * NULL-terminated. 0, or -1. */
int itest_tmux_keys(struct itest_tmux *t, const char *key, ...)
	__attribute__((sentinel));
/* Resizes the window. 0, or -1. */
int itest_tmux_resize(struct itest_tmux *t, int cols, int rows);
/* Pastes TEXT as a terminal would, bracketed if the program asked for it
 * (set-buffer, paste-buffer -p). 0, or -1. */
int itest_tmux_paste(struct itest_tmux *t, const char *text);
/* A tmux format about the pane ("#{pane_dead_status}"), malloc'd. */
char *itest_tmux_format(struct itest_tmux *t, const char *format);
/* The program's process id (the pane's), or -1. */
long itest_tmux_pane_pid(const struct itest_tmux *t);
/* Waits for the program to exit: its exit status (128 + N after signal N),
 * or -1 on timeout. */
int itest_tmux_wait_exit(struct itest_tmux *t, int timeout_ms);

#endif
