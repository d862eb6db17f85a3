/* Steps of the full-screen client's tests: see itest_tui.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "itest_tui.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "itest.h"

const char TUI_ELLIPSIS[] = "\xe2\x80\xa6";

#define POLL_MS 50

static void pause_poll(void)
{
	struct timespec ts = {0, POLL_MS * 1000000L};
	nanosleep(&ts, NULL);
}

void tui_skip_without_tmux(void)
{
	if (!itest_tmux_bin()) {
		fprintf(stderr, "SKIPPED: no tmux (scripts/install-deps.sh installs it)\n");
		skip();
	}
}

struct itest_tmux *tui_start(int port, const char *dir, const char *nick,
			     const char *const *env, const char *const *args, const char **log)
{
	char server[64], logname[64];
	const char *envv[16], *argv[32];
	size_t ne = 0, na = 0;

	snprintf(server, sizeof server, "127.0.0.1:%d", port);
	snprintf(logname, sizeof logname, "tui-%s.log", nick);
	*log = itest_path(dir, logname);
	static const char *const base_env[] = {"TERM=xterm-256color", "LANG=C.UTF-8",
					       "LC_ALL=C.UTF-8", "TZ=UTC", "NO_COLOR="};
	for (size_t i = 0; i < sizeof base_env / sizeof *base_env; i++)
		envv[ne++] = base_env[i];
	for (size_t i = 0; env && env[i] && ne < 15; i++)
		envv[ne++] = env[i];  /* later wins: env applies them in order */
	envv[ne] = NULL;
	const char *base_args[] = {itest_client_bin(), "--server", server, "--home",
				   itest_subdir(dir, nick), "--nick", nick, "--rsa-bits", "2048",
				   "--no-bell"};
	for (size_t i = 0; i < sizeof base_args / sizeof *base_args; i++)
		argv[na++] = base_args[i];
	for (size_t i = 0; args && args[i] && na < 31; i++)
		argv[na++] = args[i];
	argv[na] = NULL;
	struct itest_tmux *t = itest_tmux_start(dir, TUI_COLS, TUI_ROWS, envv, argv, *log);
	assert_non_null(t);
	tui_wait_for(t, "[connected]");
	return t;
}

void tui_wait_for(struct itest_tmux *t, const char *needle)
{
	char *screen = itest_tmux_wait(t, needle, ITEST_TIMEOUT_MS);
	assert_non_null(screen);
	free(screen);
}

char *tui_wait_screen(struct itest_tmux *t, const char *const *present,
		      const char *const *absent)
{
	char *screen = NULL;
	for (int i = 0; i <= itest_scale_ms(ITEST_TIMEOUT_MS) / POLL_MS; i++) {
		free(screen);
		screen = itest_tmux_capture(t, 0);
		int ok = screen != NULL;
		for (size_t k = 0; ok && present && present[k]; k++)
			ok = strstr(screen, present[k]) != NULL;
		for (size_t k = 0; ok && absent && absent[k]; k++)
			ok = strstr(screen, absent[k]) == NULL;
		if (ok)
			return screen;
		pause_poll();
	}
	fprintf(stderr, "[tui] the screen never settled as expected; it shows:\n%s\n",
		screen ? screen : "");
	fail_msg("the screen never showed what was expected");
	return NULL;
}

void tui_wait_row(struct itest_tmux *t, int n, const char *needle)
{
	for (int i = 0; i <= itest_scale_ms(ITEST_TIMEOUT_MS) / POLL_MS; i++) {
		char *screen = itest_tmux_capture(t, 0);
		char *row = itest_tmux_row_at(screen, n);
		int ok = row && strstr(row, needle);
		free(row);
		if (ok) {
			free(screen);
			return;
		}
		if (i == itest_scale_ms(ITEST_TIMEOUT_MS) / POLL_MS)
			fprintf(stderr, "[tui] row %d never showed \"%s\"; the screen:\n%s\n", n,
				needle, screen ? screen : "");
		free(screen);
		pause_poll();
	}
	fail_msg("row %d never showed \"%s\"", n, needle);
}

void tui_wait_confirmed(struct itest_tmux *t, const char *needle)
{
	char *screen = NULL;
	for (int i = 0; i < itest_scale_ms(ITEST_TIMEOUT_MS) / POLL_MS; i++) {
		free(screen);
		screen = itest_tmux_capture(t, 0);
		char *row = itest_tmux_row(screen, needle);
		int done = row && !strstr(row, TUI_ELLIPSIS);
		free(row);
		if (done) {
			free(screen);
			return;
		}
		pause_poll();
	}
	fprintf(stderr, "[tui] the screen:\n%s\n", screen ? screen : "");
	free(screen);
	fail_msg("our line \"%s\" was never confirmed", needle);
}

void tui_type_line(struct itest_tmux *t, const char *line)
{
	assert_int_equal(itest_tmux_type(t, line), 0);
	assert_int_equal(itest_tmux_keys(t, "Enter", NULL), 0);
}

void tui_expect_clean_exit(struct itest_tmux *t, const char *log)
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

int tui_count(const char *text, const char *needle)
{
	int n = 0;
	size_t len = strlen(needle);
	for (const char *p = text; len && (p = strstr(p, needle)); p += len)
		n++;
	return n;
}

int tui_has_sgr(const char *s, int code)
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

int tui_sgr_has_colour(const char *p)
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

int tui_screen_has_colour(const char *screen)
{
	for (const char *p = screen; (p = strstr(p, "\x1b[")); p += 2)
		if (tui_sgr_has_colour(p + 2))
			return 1;
	return 0;
}
