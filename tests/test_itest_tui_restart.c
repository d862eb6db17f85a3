/* The full-screen client end to end, continued (tests/test_itest_tui.c has
 * the rest): two of them in tmux panes, typed at and read as people would.
 *
 *   test_server_restart  alice and bob chat in a room; the server stops: both
 *                        status lines count down to the next attempt
 *                        ("reconnecting in 2 s", then "1 s"); each types a
 *                        line, shown at once as on its way; the server comes
 *                        back on the same port and data: both are connected
 *                        again, both lines arrive and are confirmed, and they
 *                        chat on. Counted on both screens: every line is
 *                        there once, in order, none lost, none twice; the
 *                        status window tells of the loss and the return.
 *   test_config_colors   the config file's "color = off" draws no colour;
 *                        --color on the command line overrides it, and
 *                        NO_COLOR too (no-color.org: a flag goes first). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "support/itest.h"
#include "support/itest_rooms.h"
#include "support/itest_tmux.h"
#include "support/itest_tui.h"

static const char *const nicks[] = {"alice", "bob"};

/* The status line: the last row but the input line. */
#define STATUS_ROW (TUI_ROWS - 2)

/* Every line said, as the screens show it, in the order said. */
static const char *const said[][2] = {
	{"<alice> before, from alice", "<bob> before, from bob"},
	{"<alice> during, from alice", "<bob> during, from bob"},
	{"<alice> after, from alice", "<bob> after, from bob"},
};

/* LINE (said[..][I] without its "<nick> ") typed by I; both screens show it,
 * and its sender's confirmed. */
static void say(struct itest_tmux *t[2], int i, const char *shown)
{
	tui_type_line(t[i], strchr(shown, ' ') + 1);
	tui_wait_for(t[!i], shown);
	tui_wait_confirmed(t[i], shown);
}

/* Each line of SAID[0..ROUNDS) once on T's screen, each sender's in order,
 * and nothing else said by anyone. */
static void expect_each_once(struct itest_tmux *t, int rounds)
{
	char *screen = itest_tmux_capture(t, 0);
	assert_non_null(screen);
	for (int i = 0; i < 2; i++) {
		const char *prev = screen;
		for (int r = 0; r < rounds; r++) {
			int n = tui_count(screen, said[r][i]);
			if (n != 1)
				fprintf(stderr, "[tui] \"%s\" %d times on:\n%s\n", said[r][i], n,
					screen);
			assert_int_equal(n, 1);
			const char *at = strstr(screen, said[r][i]);
			assert_true(at > prev);
			prev = at;
		}
		char from[32];
		snprintf(from, sizeof from, ", from %s", nicks[i]);
		assert_int_equal(tui_count(screen, from), rounds);
	}
	free(screen);
}

/* The number N of "reconnecting in N s" on T's status line, or -1. */
static int countdown(struct itest_tmux *t)
{
	char *screen = itest_tmux_capture(t, 0);
	char *row = screen ? itest_tmux_row_at(screen, STATUS_ROW) : NULL;
	const char *p = row ? strstr(row, "reconnecting in ") : NULL;
	int n = p && isdigit((unsigned char)p[16]) ? atoi(p + 16) : -1;
	free(row);
	free(screen);
	return n;
}

/* Both status lines count down: each shows "reconnecting in 2 s", then "in
 * 1 s" (the backoff's waits, 1 s, 2 s, 4 s... within 20 %, each count down
 * to 1; a wait of 2 s or more shows 2 first). Both are watched at once, so
 * the outage stays short. */
static void expect_countdowns(struct itest_tmux *t[2])
{
	int seen[2] = {0, 0};  /* 0: waiting for 2; 1: for 1; 2: done */
	for (int k = 0; k <= itest_scale_ms(ITEST_TIMEOUT_MS) / 25; k++) {
		for (int i = 0; i < 2; i++)
			if (seen[i] < 2 && countdown(t[i]) == 2 - seen[i])
				seen[i]++;
		if (seen[0] == 2 && seen[1] == 2)
			return;
		struct timespec ts = {0, 25 * 1000000L};
		nanosleep(&ts, NULL);
	}
	fail_msg("the status lines never counted down from 2 s to 1 s (alice %d, bob %d)",
		 seen[0], seen[1]);
}

static void test_server_restart(void **state)
{
	struct rt_fixture f;
	struct itest_tmux *t[2];
	const char *log[2];
	char room[RT_ROOM_HEX], line[128];
	(void)state;

	tui_skip_without_tmux();
	rt_start(&f, "tui-restart", 0);
	for (int i = 0; i < 2; i++)
		t[i] = tui_start(f.port, f.dir, nicks[i], NULL, NULL, &log[i]);

	/* alice makes the room; both open it. */
	tui_type_line(t[0], "/create bob Outage");
	static const char *const created[] = {"created room [", NULL};
	char *screen = tui_wait_screen(t[0], created, NULL);
	const char *id = strstr(screen, created[0]) + strlen(created[0]);
	assert_true(strspn(id, "0123456789abcdef") >= RT_ROOM_HEX - 1);
	memcpy(room, id, RT_ROOM_HEX - 1);
	room[RT_ROOM_HEX - 1] = '\0';
	free(screen);
	snprintf(line, sizeof line, "/join %s", room);
	for (int i = 0; i < 2; i++) {
		tui_type_line(t[i], line);
		tui_wait_for(t[i], "joined \"Outage\"");
		tui_wait_row(t[i], STATUS_ROW, ":Outage ");
	}
	say(t, 0, said[0][0]);
	say(t, 1, said[0][1]);

	/* The server stops. Both notice, and count down to the next try. */
	rt_stop(&f);
	for (int i = 0; i < 2; i++)
		tui_wait_row(t[i], STATUS_ROW, "reconnecting");
	/* Lines typed now are shown at once, on their way. */
	for (int i = 0; i < 2; i++) {
		tui_type_line(t[i], strchr(said[1][i], ' ') + 1);
		tui_wait_for(t[i], said[1][i]);
		screen = itest_tmux_capture(t[i], 0);
		char *row = itest_tmux_row(screen, said[1][i]);
		assert_non_null(row);
		assert_non_null(strstr(row, TUI_ELLIPSIS));
		free(row);
		free(screen);
	}
	expect_countdowns(t);
	/* Still down: nothing of the other's arrived. */
	for (int i = 0; i < 2; i++) {
		screen = itest_tmux_capture(t[i], 0);
		assert_null(strstr(screen, said[1][!i]));
		free(screen);
	}

	/* Back on the same port, with the same data. */
	f.srv = itest_server_start_on(f.data, f.port, rt_server_args);
	assert_non_null(f.srv);
	static const char *const back[] = {"[connected]", NULL}, *const gone[] = {"reconnecting",
										   NULL};
	for (int i = 0; i < 2; i++)
		free(tui_wait_screen(t[i], back, gone));
	/* What was typed while down went out once it was back. */
	for (int i = 0; i < 2; i++) {
		tui_wait_for(t[!i], said[1][i]);
		tui_wait_confirmed(t[i], said[1][i]);
	}
	say(t, 0, said[2][0]);
	say(t, 1, said[2][1]);
	for (int i = 0; i < 2; i++)
		expect_each_once(t[i], 3);

	/* The status window tells what happened. */
	for (int i = 0; i < 2; i++) {
		assert_int_equal(itest_tmux_keys(t[i], "M-1", NULL), 0);
		static const char *const told[] = {"connection lost (", "reconnected", NULL};
		free(tui_wait_screen(t[i], told, NULL));
		assert_int_equal(itest_tmux_keys(t[i], "M-2", NULL), 0);
		tui_wait_row(t[i], STATUS_ROW, ":Outage ");
		expect_each_once(t[i], 3);
	}

	for (int i = 0; i < 2; i++) {
		tui_type_line(t[i], "/quit");
		tui_expect_clean_exit(t[i], log[i]);
	}
	rt_stop(&f);
}

/* ---- the config file's colours, and the flag over them ---------------------------- */

static void test_config_colors(void **state)
{
	struct rt_fixture f;
	char env_xdg[512];
	const char *log;
	(void)state;

	tui_skip_without_tmux();
	rt_start(&f, "tui-config", 0);
	const char *conf = itest_subdir(f.dir, "conf");
	const char *path = itest_path(itest_subdir(conf, "cryptocat"), "config");
	FILE *file = fopen(path, "w");
	assert_non_null(file);
	fputs("# no colours, please\ncolor = off\nbell = off\n", file);
	assert_int_equal(fclose(file), 0);
	snprintf(env_xdg, sizeof env_xdg, "XDG_CONFIG_HOME=%s", conf);

	/* Control: without the file, colours (the status line's blue). */
	struct itest_tmux *t = tui_start(f.port, f.dir, "alice", NULL, NULL, &log);
	char *screen = itest_tmux_capture(t, 1);
	assert_true(tui_screen_has_colour(screen));
	free(screen);
	tui_type_line(t, "/quit");
	tui_expect_clean_exit(t, log);

	/* The file: none. */
	const char *env[] = {env_xdg, NULL};
	t = tui_start(f.port, f.dir, "alice", env, NULL, &log);
	screen = itest_tmux_capture(t, 1);
	assert_false(tui_screen_has_colour(screen));
	assert_true(tui_has_sgr(screen, 7));  /* the status line in reverse video instead */
	free(screen);
	tui_type_line(t, "/quit");
	tui_expect_clean_exit(t, log);

	/* --color beats the file, and NO_COLOR too. */
	const char *env_no_color[] = {env_xdg, "NO_COLOR=1", NULL};
	const char *color[] = {"--color", NULL};
	t = tui_start(f.port, f.dir, "alice", env_no_color, color, &log);
	screen = itest_tmux_capture(t, 1);
	assert_true(tui_screen_has_colour(screen));
	free(screen);
	tui_type_line(t, "/quit");
	tui_expect_clean_exit(t, log);
	rt_stop(&f);
}

int main(void)
{
	unsetenv("TMUX");  /* a test run from inside tmux starts its own */
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_server_restart, itest_tmux_teardown),
		cmocka_unit_test_teardown(test_config_colors, itest_tmux_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
