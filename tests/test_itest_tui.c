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
 *   test_proxy_shown     through a SOCKS5 proxy (to an .onion name only the
 *                        proxy knows) the status line says "via proxy".
 *
 * A server restarted under two of them: tests/test_itest_tui_restart.c. */
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
#include "support/itest_tui.h"
#include "support/socks_proxy.h"

/* ---- two users, windows, scrolling, pastes, hostile text ----------------------- */

static void test_chat(void **state)
{
	static const char *const ba[] = {"bob", "alice", NULL};
	struct rt_fixture f;
	char room[RT_ROOM_HEX], room2[RT_ROOM_HEX];
	const char *log;
	(void)state;

	tui_skip_without_tmux();
	rt_start(&f, "tui-chat", 0);
	struct itest_tmux *t = tui_start(f.port, f.dir, "alice", NULL, NULL, &log);
	struct itest_client *bob = rt_client(f.port, itest_subdir(f.dir, "bob"), "bob", "bob");
	rt_create(bob, "alice", "Friday plans", ba, room);
	json_decref(rt_join(bob, room, 0));

	/* alice joins: the room's window opens and is shown. */
	char line[128];
	snprintf(line, sizeof line, "/join %s", room);
	tui_type_line(t, line);
	tui_wait_for(t, "joined \"Friday plans\"");
	tui_wait_for(t, "[2/2:Friday plans");

	/* Both ways. */
	rt_say(bob, room, "hello alice", 0);
	tui_wait_for(t, "<bob> hello alice");
	tui_type_line(t, "hi bob");
	tui_wait_for(t, "<alice> hi bob");
	rt_expect_msg(bob, room, "alice", "hi bob", -1, -1);
	tui_wait_confirmed(t, "<alice> hi bob");

	/* Compared and verified: bob's mark turns from pinned to verified. */
	tui_type_line(t, "/safety bob");
	tui_wait_for(t, "safety number with bob");
	tui_type_line(t, "/verify bob");
	tui_wait_for(t, "* verified bob");
	rt_say(bob, room, "now you know it is me", 0);
	tui_wait_for(t, "\xe2\x9c\x93<bob> now you know it is me");
	tui_wait_for(t, "\xc2\xb7<bob> hello alice");  /* what came before keeps its mark */

	/* TAB completes a member's nickname. */
	assert_int_equal(itest_tmux_type(t, "bo"), 0);
	assert_int_equal(itest_tmux_keys(t, "Tab", NULL), 0);
	tui_wait_for(t, "[2] bob:");
	tui_type_line(t, "tab works");
	rt_expect_msg(bob, room, "alice", "bob: tab works", -1, -1);

	/* A resize keeps the conversation and the line being typed. */
	assert_int_equal(itest_tmux_type(t, "half typed"), 0);
	tui_wait_for(t, "[2] half typed");
	static const char *const kept[] = {"[2] half typed", "<bob> hello alice", "<alice> hi bob",
					   NULL};
	for (int i = 0; i < 2; i++) {
		assert_int_equal(itest_tmux_resize(t, i == 0 ? 60 : TUI_COLS, i == 0 ? 20 : TUI_ROWS), 0);
		char *screen = tui_wait_screen(t, kept, NULL);
		char *size = itest_tmux_format(t, "#{pane_width}x#{pane_height}");
		assert_string_equal(size, i == 0 ? "60x20" : "100x30");
		free(size);
		free(screen);
	}
	tui_type_line(t, " line");
	rt_expect_msg(bob, room, "alice", "half typed line", -1, -1);

	/* PgUp scrolls back; "more below" says there is more; PgDn returns. */
	for (int i = 0; i < 40; i++) {
		snprintf(line, sizeof line, "line %02d", i);
		rt_say(bob, room, line, 0);
	}
	static const char *const newest[] = {"<bob> line 39", NULL}, *const oldest[] = {
		"<bob> line 05", NULL};
	static const char *const scrolled[] = {"more below", "<bob> line 05", NULL};
	free(tui_wait_screen(t, newest, oldest));
	assert_int_equal(itest_tmux_keys(t, "PPage", NULL), 0);
	char *screen = tui_wait_screen(t, scrolled, newest);
	free(screen);
	rt_say(bob, room, "while scrolled", 0);
	tui_wait_for(t, "more below: 1 new line");
	assert_int_equal(itest_tmux_keys(t, "NPage", "NPage", NULL), 0);
	assert_int_equal(itest_tmux_wait_gone(t, "more below", ITEST_TIMEOUT_MS), 0);
	tui_wait_for(t, "<bob> while scrolled");

	/* A second room: news there marks its window; Alt-2, Ctrl-N, Ctrl-P. */
	rt_create(bob, "alice", "Second room", ba, room2);
	json_decref(rt_join(bob, room2, 0));
	snprintf(line, sizeof line, "/join %s", room2);
	tui_type_line(t, line);
	tui_wait_for(t, "[3/3:Second room");
	assert_int_equal(itest_tmux_keys(t, "M-2", NULL), 0);
	tui_wait_for(t, "[2/3:Friday plans");
	rt_say(bob, room2, "psst, over here", 0);
	tui_wait_for(t, "[act: 3:Second room(1)]");
	screen = itest_tmux_capture(t, 0);
	assert_null(strstr(screen, "psst"));
	free(screen);
	assert_int_equal(itest_tmux_keys(t, "C-n", NULL), 0);
	tui_wait_for(t, "<bob> psst, over here");
	assert_int_equal(itest_tmux_wait_gone(t, "(1)", ITEST_TIMEOUT_MS), 0);
	assert_int_equal(itest_tmux_keys(t, "C-p", NULL), 0);
	tui_wait_for(t, "[2/3:Friday plans");

	/* A paste of several lines asks first; n sends nothing, y sends them
	 * (a line starting with / is said, not run). */
	assert_int_equal(itest_tmux_paste(t, "one pasted\n/two pasted\r\nthree pasted\n"), 0);
	tui_wait_for(t, "send 3 lines? (y/n)");
	assert_int_equal(itest_client_expect_silence(bob, 500), 1);
	assert_int_equal(itest_tmux_keys(t, "n", NULL), 0);
	tui_wait_for(t, "the paste of 3 lines was not sent");
	assert_int_equal(itest_tmux_paste(t, "one pasted\n/two pasted\r\nthree pasted\n"), 0);
	tui_wait_for(t, "send 3 lines? (y/n)");
	assert_int_equal(itest_client_expect_silence(bob, 300), 1);
	assert_int_equal(itest_tmux_keys(t, "y", NULL), 0);
	rt_expect_msg(bob, room, "alice", "one pasted", -1, -1);
	rt_expect_msg(bob, room, "alice", "/two pasted", -1, -1);
	rt_expect_msg(bob, room, "alice", "three pasted", -1, -1);
	tui_wait_confirmed(t, "<alice> three pasted");
	/* A single line pasted goes into the input line, unsent. */
	assert_int_equal(itest_tmux_paste(t, "just one\n"), 0);
	tui_wait_for(t, "[2] just one");
	assert_int_equal(itest_tmux_keys(t, "C-u", NULL), 0);

	/* A line that, drawn raw, would rub itself out and pass for alice's. */
	snprintf(line, sizeof line, "ok\r\x1b[2K[%.8s] <alice> pwned \xe2\x80\xae end", room);
	rt_say(bob, room, line, 0);
	static const char *const hostile[] = {"<alice> pwned \\u202e end", NULL};
	screen = tui_wait_screen(t, hostile, NULL);
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
	tui_wait_for(t, "[2] caf\xc3\xa9\n");
	assert_int_equal(itest_tmux_keys(t, "C-u", NULL), 0);

	/* A line the core refuses is marked not sent, with the reason. */
	tui_type_line(t, "/disconnect");
	tui_wait_for(t, "stopped hearing room");
	tui_type_line(t, "anyone there?");
	tui_wait_for(t, "\xe2\x9c\x97<alice> anyone there? (not sent: join the room first");
	assert_int_equal(itest_client_expect_silence(bob, 300), 1);

	tui_type_line(t, "/quit");
	tui_expect_clean_exit(t, log);
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

	tui_skip_without_tmux();
	static const char *const no_color[] = {"NO_COLOR=1", NULL};
	rt_start(&f, "tui-notice", 1);
	struct itest_tmux *t = tui_start(f.port, f.dir, "alice", no_color, NULL, &log);
	struct itest_client *bob = rt_client(f.port, itest_subdir(f.dir, "bob"), "bob", "bob");
	struct itest_client *mallory = rt_client(f.port, itest_subdir(f.dir, "mallory"), "mallory",
						 "mallory");
	/* alice pins bob's key in their room, and sees it as pinned (·). */
	rt_create(bob, "alice", "Ours", ba, room);
	json_decref(rt_join(bob, room, 0));
	char line[128];
	snprintf(line, sizeof line, "/join %s", room);
	tui_type_line(t, line);
	tui_wait_for(t, "joined \"Ours\"");
	rt_say(bob, room, "it is me", 0);
	tui_wait_for(t, "\xc2\xb7<bob> it is me");
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
	tui_type_line(t, "/fingerprint bob");
	tui_wait_for(t, "(NOT the pinned key)");
	tui_type_line(t, "/create bob Nope");
	/* In the notice line, under the title bar, with how to dismiss it. */
	tui_wait_row(t, 1, "!! the key of bob changed");
	tui_wait_for(t, "[Ctrl-G or /ack: seen; 1 of 1]");
	char *screen, *notice;
	/* NO_COLOR: no colour anywhere, the notice in bold reverse video. */
	notice = itest_tmux_capture_row(t, 1);
	assert_non_null(notice);
	char *bang = strstr(notice, "!!");
	assert_non_null(bang);
	*bang = '\0';
	assert_true(tui_has_sgr(notice, 1));
	assert_true(tui_has_sgr(notice, 7));
	free(notice);
	screen = itest_tmux_capture(t, 1);
	assert_false(tui_screen_has_colour(screen));
	free(screen);

	/* It stays while the pane scrolls on, and goes only when seen. */
	tui_type_line(t, "/help");
	tui_type_line(t, "/help");
	tui_wait_for(t, "keys: Alt-1..9");
	tui_wait_row(t, 1, "!! the key of bob changed");
	assert_int_equal(itest_tmux_keys(t, "C-g", NULL), 0);
	assert_int_equal(itest_tmux_wait_gone(t, "Ctrl-G or /ack", ITEST_TIMEOUT_MS), 0);

	/* Ctrl-C leaves, the terminal as it was. */
	assert_int_equal(itest_tmux_keys(t, "C-c", NULL), 0);
	tui_expect_clean_exit(t, log);
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

	tui_skip_without_tmux();
	lc_start(&f, "tui-unpinned", 1);
	struct itest_tmux *t = tui_start(f.port, f.dir, "alice", NULL, NULL, &log);
	struct itest_client *bob = rt_client(f.port, lc_home(&f, "bob"), "bob", "bob");
	struct itest_client *dave = rt_client(f.port, lc_home(&f, "dave"), "dave", "dave");
	/* alice pins bob's key in his room. */
	rt_create(bob, "alice", "Old times", ba, r0);
	snprintf(line, sizeof line, "/join %s", r0);
	tui_type_line(t, line);
	tui_wait_for(t, "joined \"Old times\"");
	rt_quit(bob);

	/* A day on, another key takes the nickname "bob"; dave, who never
	 * knew the old one, makes a room with it and alice. */
	lc_clock_hours(&f, 25);
	bob = rt_client(f.port, lc_home(&f, "bob-new"), "bob", "bob");
	rt_create(dave, "alice,bob", "Via dave", dab, r2);
	snprintf(line, sizeof line, "/join %s", r2);
	tui_type_line(t, line);
	tui_wait_for(t, "joined \"Via dave\"");
	tui_wait_for(t, "the key of bob changed");
	tui_wait_for(t, "[Ctrl-G or /ack: seen;");
	json_decref(rt_join(bob, r2, 0));
	json_decref(rt_join(dave, r2, 0));

	/* The new key's message: the loud mark, white on red. */
	rt_say(bob, r2, "hello, it is the new me", 0);
	lc_expect_msg(dave, r2, "bob", "hello, it is the new me", 1);  /* dave knows no other */
	static const char *const loud[] = {"!<bob> hello, it is the new me", NULL};
	char *screen = tui_wait_screen(t, loud, NULL);
	int n = 0;
	for (const char *p = screen; p < strstr(screen, loud[0]); p++)
		n += *p == '\n';
	free(screen);
	char *row = itest_tmux_capture_row(t, n);
	assert_non_null(row);
	char *mark = strstr(row, "!");
	assert_non_null(mark);
	*mark = '\0';
	assert_true(tui_has_sgr(row, 41));  /* red background */
	free(row);
	/* /names says why, in the security colour. */
	tui_type_line(t, "/names");
	tui_wait_for(t, "bob: key NOT the pinned one");

	assert_int_equal(itest_tmux_keys(t, "C-g", NULL), 0);
	tui_type_line(t, "/quit");
	tui_expect_clean_exit(t, log);
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

	tui_skip_without_tmux();
#if defined(__SANITIZE_ADDRESS__)
	/* Under the sanitizers their own handler reports a crash instead. */
	fprintf(stderr, "test_crash_restores_terminal: SKIPPED under the sanitizers\n");
	skip();
#endif
	rt_start(&f, "tui-crash", 0);
	struct itest_tmux *t = tui_start(f.port, f.dir, "alice", NULL, NULL, &log);
	assert_int_equal(itest_tmux_type(t, "half a line"), 0);
	tui_wait_for(t, "[1] half a line");
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

static struct socks_proxy *tui_proxy;

/* Through a proxy, the status line says so, beside the connection's state. */
static void test_proxy_shown(void **state)
{
	static const char onion[] = "tuiproxytestxaddressxthatxresolvesxnowhereabcdefghijklmn.onion";
	struct rt_fixture f;
	char url[64], server[100], via[100];
	const char *log;
	(void)state;

	tui_skip_without_tmux();
	rt_start(&f, "tui-proxy", 0);
	tui_proxy = socks_proxy_start();
	assert_non_null(tui_proxy);
	socks_proxy_map(tui_proxy, onion, 7777, f.port);
	snprintf(url, sizeof url, "socks5h://127.0.0.1:%d", socks_proxy_port(tui_proxy));
	snprintf(server, sizeof server, "%s:7777", onion);
	const char *const args[] = {"--server", server, "--proxy", url, NULL};
	struct itest_tmux *t = tui_start(f.port, f.dir, "alice", NULL, args, &log);
	snprintf(via, sizeof via, "[connected] [via proxy 127.0.0.1:%d]",
		 socks_proxy_port(tui_proxy));
	tui_wait_for(t, via);
	assert_int_equal(socks_proxy_count(tui_proxy), 1);
	tui_type_line(t, "/quit");
	tui_expect_clean_exit(t, log);
	rt_stop(&f);
}

static int tui_proxy_teardown(void **state)
{
	socks_proxy_stop(tui_proxy);
	tui_proxy = NULL;
	return itest_tmux_teardown(state);
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
		cmocka_unit_test_teardown(test_proxy_shown, tui_proxy_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
