/* The full-screen client end to end: the real client (its test variant) in
 * a tmux pane, typed at and read as a person would, against a real server
 * and batch peers.
 *
 *   test_chat            two users chat both ways (our line shown at once,
 *                        then confirmed); TAB completes a nickname; a resize
 *                        keeps the conversation and the half-typed line;
 *                        PgUp scrolls back with "more below"; a second room's
 *                        message marks its window (Alt-2, Ctrl-N, Ctrl-P); a
 *                        bracketed paste of several lines asks first and is
 *                        sent only after y (and not after n); a peer's escape
 *                        sequences, CR and U+202E appear escaped, acting on
 *                        nothing; a line refused is marked not sent, with
 *                        why; /quit leaves a clean terminal.
 *   test_security_notice a peer's changed key (the server swaps it) is
 *                        announced in the notice line, stays there while the
 *                        pane scrolls, and goes only when acknowledged; with
 *                        NO_COLOR, attributes only; Ctrl-C leaves cleanly.
 *   test_unpinned_key    a message under a key that is not the one pinned
 *                        (a nickname taken by a new key) is marked ! in white
 *                        on red; /verify turns a pinned mark into a verified
 *                        one (test_chat).
 *   test_crash_restores_terminal  a SIGSEGV still leaves the normal screen
 *                        (not under the sanitizers, whose handler reports).
 *
 * Not here: a server restart (the reconnecting core is another branch). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "support/itest.h"
#include "support/itest_lifecycle.h"
#include "support/itest_rooms.h"
#include "support/itest_tmux.h"

#define COLS 100
#define ROWS 30

static const char ELLIPSIS[] = "\xe2\x80\xa6";  /* our line on its way */

/* The UI as NICK, in tmux, on the server at PORT; home DIR/NICK. */
static struct itest_tmux *start_tui(int port, const char *dir, const char *nick,
				    const char *no_color, const char **log)
{
	char server[64];
	snprintf(server, sizeof server, "127.0.0.1:%d", port);
	const char *home = itest_subdir(dir, nick);
	*log = itest_path(dir, no_color ? "tui-nocolor.log" : "tui.log");
	const char *env[] = {"TERM=xterm-256color", "LANG=C.UTF-8", "LC_ALL=C.UTF-8", "TZ=UTC",
			     no_color ? no_color : "NO_COLOR=", NULL};
	const char *argv[] = {itest_client_bin(), "--server", server, "--home", home, "--nick",
			      nick, "--rsa-bits", "2048", "--no-bell", NULL};
	struct itest_tmux *t = itest_tmux_start(dir, COLS, ROWS, env, argv, *log);
	assert_non_null(t);
	char *screen = itest_tmux_wait(t, "[connected]", ITEST_TIMEOUT_MS);
	assert_non_null(screen);
	free(screen);
	return t;
}

static void wait_for(struct itest_tmux *t, const char *needle)
{
	char *screen = itest_tmux_wait(t, needle, ITEST_TIMEOUT_MS);
	assert_non_null(screen);
	free(screen);
}

/* Polls until the screen shows every string of PRESENT and none of ABSENT
 * (NULL-terminated; either may be NULL): a capture may catch the terminal
 * half way through a redraw, so a frame is judged only once it settles.
 * Returns the screen (caller frees). */
static char *wait_screen(struct itest_tmux *t, const char *const *present,
			 const char *const *absent)
{
	char *screen = NULL;
	for (int i = 0; i <= itest_scale_ms(ITEST_TIMEOUT_MS) / 50; i++) {
		free(screen);
		screen = itest_tmux_capture(t, 0);
		int ok = screen != NULL;
		for (size_t k = 0; ok && present && present[k]; k++)
			ok = strstr(screen, present[k]) != NULL;
		for (size_t k = 0; ok && absent && absent[k]; k++)
			ok = strstr(screen, absent[k]) == NULL;
		if (ok)
			return screen;
		struct timespec ts = {0, 50 * 1000000L};
		nanosleep(&ts, NULL);
	}
	fprintf(stderr, "[tui] the screen never settled as expected; it shows:\n%s\n",
		screen ? screen : "");
	fail_msg("the screen never showed what was expected");
	return NULL;
}

/* Polls until row N of the screen holds NEEDLE. */
static void wait_row(struct itest_tmux *t, int n, const char *needle)
{
	for (int i = 0; i <= itest_scale_ms(ITEST_TIMEOUT_MS) / 50; i++) {
		char *screen = itest_tmux_capture(t, 0);
		char *row = itest_tmux_row_at(screen, n);
		int ok = row && strstr(row, needle);
		free(row);
		if (ok) {
			free(screen);
			return;
		}
		if (i == itest_scale_ms(ITEST_TIMEOUT_MS) / 50)
			fprintf(stderr, "[tui] row %d never showed \"%s\"; the screen:\n%s\n", n,
				needle, screen ? screen : "");
		free(screen);
		struct timespec ts = {0, 50 * 1000000L};
		nanosleep(&ts, NULL);
	}
	fail_msg("row %d never showed \"%s\"", n, needle);
}

static void type_line(struct itest_tmux *t, const char *line)
{
	assert_int_equal(itest_tmux_type(t, line), 0);
	assert_int_equal(itest_tmux_keys(t, "Enter", NULL), 0);
}

/* The UI exited 0 on its own, back on the normal screen, with nothing in
 * its log (no sanitizer report, nothing written under the screen). */
static void expect_clean_exit(struct itest_tmux *t, const char *log)
{
	assert_int_equal(itest_tmux_wait_exit(t, ITEST_TIMEOUT_MS), 0);
	char *alt = itest_tmux_format(t, "#{alternate_on}");
	assert_non_null(alt);
	assert_string_equal(alt, "0");
	free(alt);
	char *screen = itest_tmux_capture(t, 0);
	assert_non_null(screen);
	assert_null(strstr(screen, "[connected]"));
	free(screen);
	size_t len = 0;
	char *text = itest_read_file(log, &len);
	if (text && len)
		fprintf(stderr, "[tui] the UI's stderr:\n%s\n", text);
	assert_int_equal(len, 0);
	free(text);
	itest_tmux_stop(t);
}

/* Polls until the screen's line holding NEEDLE has no ELLIPSIS mark: our
 * line confirmed by the server. */
static void wait_confirmed(struct itest_tmux *t, const char *needle)
{
	for (int i = 0; i < itest_scale_ms(ITEST_TIMEOUT_MS) / 50; i++) {
		char *screen = itest_tmux_capture(t, 0);
		char *row = itest_tmux_row(screen, needle);
		int done = row && !strstr(row, ELLIPSIS);
		free(row);
		free(screen);
		if (done)
			return;
		struct timespec ts = {0, 50 * 1000000L};
		nanosleep(&ts, NULL);
	}
	fail_msg("our line \"%s\" was never confirmed", needle);
}

/* Whether the SGR sequences in S set attribute CODE (1 bold, 7 reverse). */
static int has_sgr(const char *s, int code)
{
	for (const char *p = s; (p = strstr(p, "\x1b[")); p += 2) {
		const char *q = p + 2;
		while (*q >= '0' && *q <= '9') {
			if (atoi(q) == code && q[strspn(q, "0123456789;")] == 'm')
				return 1;
			q += strspn(q, "0123456789");
			if (*q == ';')
				q++;
		}
	}
	return 0;
}

/* Whether the SGR sequence whose parameters start at P sets a colour
 * (30-38, 40-48, 90-97, 100-107; 39 and 49 are the defaults). */
static int sgr_has_colour(const char *p)
{
	size_t n = strspn(p, "0123456789;");
	if (p[n] != 'm')
		return 0;
	for (const char *q = p; q < p + n;) {
		int c = atoi(q);
		if ((c >= 30 && c <= 38) || (c >= 40 && c <= 48) || (c >= 90 && c <= 97) ||
		    (c >= 100 && c <= 107))
			return 1;
		q += strspn(q, "0123456789");
		if (*q == ';')
			q++;
	}
	return 0;
}

static void skip_without_tmux(void)
{
	if (!itest_tmux_bin()) {
		fprintf(stderr, "test_itest_tui: SKIPPED: no tmux (scripts/install-deps.sh installs "
				"it)\n");
		skip();
	}
}

/* ---- two users, windows, scrolling, pastes, hostile text ----------------------- */

static void test_chat(void **state)
{
	static const char *const ba[] = {"bob", "alice", NULL};
	struct rt_fixture f;
	char room[RT_ROOM_HEX], room2[RT_ROOM_HEX];
	const char *log;
	(void)state;

	skip_without_tmux();
	rt_start(&f, "tui-chat", 0);
	struct itest_tmux *t = start_tui(f.port, f.dir, "alice", NULL, &log);
	struct itest_client *bob = rt_client(f.port, itest_subdir(f.dir, "bob"), "bob", "bob");
	rt_create(bob, "alice", "Friday plans", ba, room);
	json_decref(rt_join(bob, room, 0));

	/* alice joins: the room's window opens and is shown. */
	char line[128];
	snprintf(line, sizeof line, "/join %s", room);
	type_line(t, line);
	wait_for(t, "joined \"Friday plans\"");
	wait_for(t, "[2/2:Friday plans");

	/* Both ways. */
	rt_say(bob, room, "hello alice", 0);
	wait_for(t, "<bob> hello alice");
	type_line(t, "hi bob");
	wait_for(t, "<alice> hi bob");
	rt_expect_msg(bob, room, "alice", "hi bob", -1, -1);
	wait_confirmed(t, "<alice> hi bob");

	/* Compared and verified: bob's mark turns from pinned to verified. */
	type_line(t, "/safety bob");
	wait_for(t, "safety number with bob");
	type_line(t, "/verify bob");
	wait_for(t, "* verified bob");
	rt_say(bob, room, "now you know it is me", 0);
	wait_for(t, "\xe2\x9c\x93<bob> now you know it is me");
	wait_for(t, "\xc2\xb7<bob> hello alice");  /* what came before keeps its mark */

	/* TAB completes a member's nickname. */
	assert_int_equal(itest_tmux_type(t, "bo"), 0);
	assert_int_equal(itest_tmux_keys(t, "Tab", NULL), 0);
	wait_for(t, "[2] bob:");
	type_line(t, "tab works");
	rt_expect_msg(bob, room, "alice", "bob: tab works", -1, -1);

	/* A resize keeps the conversation and the line being typed. */
	assert_int_equal(itest_tmux_type(t, "half typed"), 0);
	wait_for(t, "[2] half typed");
	static const char *const kept[] = {"[2] half typed", "<bob> hello alice", "<alice> hi bob",
					   NULL};
	for (int i = 0; i < 2; i++) {
		assert_int_equal(itest_tmux_resize(t, i == 0 ? 60 : COLS, i == 0 ? 20 : ROWS), 0);
		char *screen = wait_screen(t, kept, NULL);
		char *size = itest_tmux_format(t, "#{pane_width}x#{pane_height}");
		assert_string_equal(size, i == 0 ? "60x20" : "100x30");
		free(size);
		free(screen);
	}
	type_line(t, " line");
	rt_expect_msg(bob, room, "alice", "half typed line", -1, -1);

	/* PgUp scrolls back; "more below" says there is more; PgDn returns. */
	for (int i = 0; i < 40; i++) {
		snprintf(line, sizeof line, "line %02d", i);
		rt_say(bob, room, line, 0);
	}
	static const char *const newest[] = {"<bob> line 39", NULL}, *const oldest[] = {
		"<bob> line 05", NULL};
	static const char *const scrolled[] = {"more below", "<bob> line 05", NULL};
	free(wait_screen(t, newest, oldest));
	assert_int_equal(itest_tmux_keys(t, "PPage", NULL), 0);
	char *screen = wait_screen(t, scrolled, newest);
	free(screen);
	rt_say(bob, room, "while scrolled", 0);
	wait_for(t, "more below: 1 new line");
	assert_int_equal(itest_tmux_keys(t, "NPage", "NPage", NULL), 0);
	assert_int_equal(itest_tmux_wait_gone(t, "more below", ITEST_TIMEOUT_MS), 0);
	wait_for(t, "<bob> while scrolled");

	/* A second room: news there marks its window; Alt-2, Ctrl-N, Ctrl-P. */
	rt_create(bob, "alice", "Second room", ba, room2);
	json_decref(rt_join(bob, room2, 0));
	snprintf(line, sizeof line, "/join %s", room2);
	type_line(t, line);
	wait_for(t, "[3/3:Second room");
	assert_int_equal(itest_tmux_keys(t, "M-2", NULL), 0);
	wait_for(t, "[2/3:Friday plans");
	rt_say(bob, room2, "psst, over here", 0);
	wait_for(t, "[act: 3:Second room(1)]");
	screen = itest_tmux_capture(t, 0);
	assert_null(strstr(screen, "psst"));
	free(screen);
	assert_int_equal(itest_tmux_keys(t, "C-n", NULL), 0);
	wait_for(t, "<bob> psst, over here");
	assert_int_equal(itest_tmux_wait_gone(t, "(1)", ITEST_TIMEOUT_MS), 0);
	assert_int_equal(itest_tmux_keys(t, "C-p", NULL), 0);
	wait_for(t, "[2/3:Friday plans");

	/* A paste of several lines asks first; n sends nothing, y sends them
	 * (a line starting with / is said, not run). */
	assert_int_equal(itest_tmux_paste(t, "one pasted\n/two pasted\r\nthree pasted\n"), 0);
	wait_for(t, "send 3 lines? (y/n)");
	assert_int_equal(itest_client_expect_silence(bob, itest_scale_ms(500)), 1);
	assert_int_equal(itest_tmux_keys(t, "n", NULL), 0);
	wait_for(t, "the paste of 3 lines was not sent");
	assert_int_equal(itest_tmux_paste(t, "one pasted\n/two pasted\r\nthree pasted\n"), 0);
	wait_for(t, "send 3 lines? (y/n)");
	assert_int_equal(itest_client_expect_silence(bob, itest_scale_ms(300)), 1);
	assert_int_equal(itest_tmux_keys(t, "y", NULL), 0);
	rt_expect_msg(bob, room, "alice", "one pasted", -1, -1);
	rt_expect_msg(bob, room, "alice", "/two pasted", -1, -1);
	rt_expect_msg(bob, room, "alice", "three pasted", -1, -1);
	wait_confirmed(t, "<alice> three pasted");
	/* A single line pasted goes into the input line, unsent. */
	assert_int_equal(itest_tmux_paste(t, "just one\n"), 0);
	wait_for(t, "[2] just one");
	assert_int_equal(itest_tmux_keys(t, "C-u", NULL), 0);

	/* A line that, drawn raw, would rub itself out and pass for alice's. */
	snprintf(line, sizeof line, "ok\r\x1b[2K[%.8s] <alice> pwned \xe2\x80\xae end", room);
	rt_say(bob, room, line, 0);
	static const char *const hostile[] = {"<alice> pwned \\u202e end", NULL};
	screen = wait_screen(t, hostile, NULL);
	char *row = itest_tmux_row(screen, "pwned");
	fprintf(stderr, "[tui] the hostile line as shown: %s\n", row);
	assert_non_null(strstr(row, "<bob> ok\\r\\x1b[2K["));
	assert_non_null(strstr(row, "<alice> pwned \\u202e end"));
	assert_null(strstr(row, "\xe2\x80\xae"));
	free(row);
	free(screen);

	/* The input line's own keys, on a line being typed. */
	assert_int_equal(itest_tmux_type(t, "caf\xc3\xa9 \xe4\xbd\xa0\xe5\xa5\xbd \xf0\x9f\x98\x80 x"), 0);
	assert_int_equal(itest_tmux_keys(t, "C-w", "C-a", "M-f", "C-k", NULL), 0);
	wait_for(t, "[2] caf\xc3\xa9\n");
	assert_int_equal(itest_tmux_keys(t, "C-u", NULL), 0);

	/* A line the core refuses is marked not sent, with the reason. */
	type_line(t, "/disconnect");
	wait_for(t, "stopped hearing room");
	type_line(t, "anyone there?");
	wait_for(t, "\xe2\x9c\x97<alice> anyone there? (not sent: join the room first");
	assert_int_equal(itest_client_expect_silence(bob, itest_scale_ms(300)), 1);

	type_line(t, "/quit");
	expect_clean_exit(t, log);
	rt_quit(bob);
	rt_stop(&f);
}

/* ---- a changed key stays in the notice line until acknowledged ------------------ */

static void test_security_notice(void **state)
{
	static const char *const ba[] = {"bob", "alice", NULL};
	struct rt_fixture f;
	char room[RT_ROOM_HEX];
	const char *log;
	(void)state;

	skip_without_tmux();
	rt_start(&f, "tui-notice", 1);
	struct itest_tmux *t = start_tui(f.port, f.dir, "alice", "NO_COLOR=1", &log);
	struct itest_client *bob = rt_client(f.port, itest_subdir(f.dir, "bob"), "bob", "bob");
	struct itest_client *mallory = rt_client(f.port, itest_subdir(f.dir, "mallory"), "mallory",
						 "mallory");
	/* alice pins bob's key in their room, and sees it as pinned (·). */
	rt_create(bob, "alice", "Ours", ba, room);
	json_decref(rt_join(bob, room, 0));
	char line[128];
	snprintf(line, sizeof line, "/join %s", room);
	type_line(t, line);
	wait_for(t, "joined \"Ours\"");
	rt_say(bob, room, "it is me", 0);
	wait_for(t, "\xc2\xb7<bob> it is me");
	rt_quit(bob);
	rt_quit(mallory);

	/* The server gives bob's name mallory's key. */
	free(rt_sql("CREATE TEMP TABLE k AS SELECT nick_lower, pubkey, fingerprint, sign_pub,"
		    " sign_cert FROM users WHERE nick_lower IN ('bob', 'mallory');"
		    "UPDATE users SET fingerprint = randomblob(32)"
		    " WHERE nick_lower IN ('bob', 'mallory');"
		    "UPDATE users SET"
		    " pubkey = (SELECT pubkey FROM k WHERE k.nick_lower <> users.nick_lower),"
		    " fingerprint = (SELECT fingerprint FROM k WHERE k.nick_lower <> users.nick_lower),"
		    " sign_pub = (SELECT sign_pub FROM k WHERE k.nick_lower <> users.nick_lower),"
		    " sign_cert = (SELECT sign_cert FROM k WHERE k.nick_lower <> users.nick_lower)"
		    " WHERE nick_lower IN ('bob', 'mallory')"));
	type_line(t, "/fingerprint bob");
	wait_for(t, "(NOT the pinned key)");
	type_line(t, "/create bob Nope");
	/* In the notice line, under the title bar, with how to dismiss it. */
	wait_row(t, 1, "!! the key of bob changed");
	wait_for(t, "[Ctrl-G or /ack: seen; 1 of 1]");
	char *screen, *notice;
	/* NO_COLOR: no colour anywhere, the notice in bold reverse video. */
	notice = itest_tmux_capture_row(t, 1);
	assert_non_null(notice);
	char *bang = strstr(notice, "!!");
	assert_non_null(bang);
	*bang = '\0';
	assert_true(has_sgr(notice, 1));
	assert_true(has_sgr(notice, 7));
	free(notice);
	screen = itest_tmux_capture(t, 1);
	for (const char *p = screen; (p = strstr(p, "\x1b[")); p += 2)
		assert_false(sgr_has_colour(p + 2));
	free(screen);

	/* It stays while the pane scrolls on, and goes only when seen. */
	type_line(t, "/help");
	type_line(t, "/help");
	wait_for(t, "keys: Alt-1..9");
	wait_row(t, 1, "!! the key of bob changed");
	assert_int_equal(itest_tmux_keys(t, "C-g", NULL), 0);
	assert_int_equal(itest_tmux_wait_gone(t, "Ctrl-G or /ack", ITEST_TIMEOUT_MS), 0);

	/* Ctrl-C leaves, the terminal as it was. */
	assert_int_equal(itest_tmux_keys(t, "C-c", NULL), 0);
	expect_clean_exit(t, log);
	rt_stop(&f);
}

/* ---- a message under a key that is not the pinned one ------------------------ */

static void test_unpinned_key(void **state)
{
	static const char *const ba[] = {"bob", "alice", NULL};
	static const char *const dab[] = {"dave", "alice", "bob", NULL};
	struct lc_fixture f;
	char r0[RT_ROOM_HEX], r2[RT_ROOM_HEX], line[128];
	const char *log;
	(void)state;

	skip_without_tmux();
	lc_start(&f, "tui-unpinned", 1);
	struct itest_tmux *t = start_tui(f.port, f.dir, "alice", NULL, &log);
	struct itest_client *bob = rt_client(f.port, lc_home(&f, "bob"), "bob", "bob");
	struct itest_client *dave = rt_client(f.port, lc_home(&f, "dave"), "dave", "dave");
	/* alice pins bob's key in his room. */
	rt_create(bob, "alice", "Old times", ba, r0);
	snprintf(line, sizeof line, "/join %s", r0);
	type_line(t, line);
	wait_for(t, "joined \"Old times\"");
	rt_quit(bob);

	/* A day on, another key takes the nickname "bob"; dave, who never
	 * knew the old one, makes a room with it and alice. */
	lc_clock_hours(&f, 25);
	bob = rt_client(f.port, lc_home(&f, "bob-new"), "bob", "bob");
	rt_create(dave, "alice,bob", "Via dave", dab, r2);
	snprintf(line, sizeof line, "/join %s", r2);
	type_line(t, line);
	wait_for(t, "joined \"Via dave\"");
	wait_for(t, "the key of bob changed");
	wait_for(t, "[Ctrl-G or /ack: seen;");
	json_decref(rt_join(bob, r2, 0));
	json_decref(rt_join(dave, r2, 0));

	/* The new key's message: the loud mark, white on red. */
	rt_say(bob, r2, "hello, it is the new me", 0);
	lc_expect_msg(dave, r2, "bob", "hello, it is the new me", 1);  /* dave knows no other */
	static const char *const loud[] = {"!<bob> hello, it is the new me", NULL};
	char *screen = wait_screen(t, loud, NULL);
	int n = 0;
	for (const char *p = screen; p < strstr(screen, loud[0]); p++)
		n += *p == '\n';
	free(screen);
	char *row = itest_tmux_capture_row(t, n);
	assert_non_null(row);
	char *mark = strstr(row, "!");
	assert_non_null(mark);
	*mark = '\0';
	assert_true(has_sgr(row, 41));  /* red background */
	free(row);
	/* /names says why, in the security colour. */
	type_line(t, "/names");
	wait_for(t, "bob: key NOT the pinned one");

	assert_int_equal(itest_tmux_keys(t, "C-g", NULL), 0);
	type_line(t, "/quit");
	expect_clean_exit(t, log);
	struct itest_client *all[] = {bob, dave};
	lc_quit_all(all, 2);
	lc_stop(&f);
}

/* ---- a crash still gives the terminal back ---------------------------------------- */

static void test_crash_restores_terminal(void **state)
{
	struct rt_fixture f;
	const char *log;
	(void)state;

	skip_without_tmux();
#if defined(__SANITIZE_ADDRESS__)
	/* Under the sanitizers their own handler reports a crash instead. */
	fprintf(stderr, "test_crash_restores_terminal: SKIPPED under the sanitizers\n");
	skip();
#endif
	rt_start(&f, "tui-crash", 0);
	struct itest_tmux *t = start_tui(f.port, f.dir, "alice", NULL, &log);
	assert_int_equal(itest_tmux_type(t, "half a line"), 0);
	wait_for(t, "[1] half a line");
	long pid = itest_tmux_pane_pid(t);
	assert_true(pid > 0);
	assert_int_equal(kill((pid_t)pid, SIGSEGV), 0);
	assert_int_equal(itest_tmux_wait_exit(t, ITEST_TIMEOUT_MS), 128 + SIGSEGV);
	char *alt = itest_tmux_format(t, "#{alternate_on}");
	assert_string_equal(alt, "0");
	free(alt);
	char *screen = itest_tmux_capture(t, 0);
	assert_null(strstr(screen, "[connected]"));
	free(screen);
	itest_tmux_stop(t);
	rt_stop(&f);
}

/* The lifecycle fixture's teardown (its clock file) and tmux's. */
static int tui_lc_teardown(void **state)
{
	itest_tmux_cleanup();
	return lc_teardown(state);
}

int main(void)
{
	unsetenv("TMUX");  /* a test run from inside tmux starts its own */
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_chat, itest_tmux_teardown),
		cmocka_unit_test_teardown(test_security_notice, itest_tmux_teardown),
		cmocka_unit_test_teardown(test_unpinned_key, tui_lc_teardown),
		cmocka_unit_test_teardown(test_crash_restores_terminal, itest_tmux_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
