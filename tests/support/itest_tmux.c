/* A program in a tmux pane, for the full-screen client's tests: see
 * itest_tmux.h. */
#include "itest_tmux.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "itest.h"

/* One tmux command, as the test may wait on the program for a while. */
#define TMUX_CMD_TIMEOUT_MS 10000
#define TMUX_POLL_MS 50
#define TMUX_MAX 8

struct itest_tmux {
	char socket[64];        /* tmux -L: a server of our own */
	char *out;              /* where a command's output goes */
	int live;
	pid_t server_pid;       /* tmux's server, and the program in the pane */
	pid_t pane_pid;
};

static struct itest_tmux *live_tmux[TMUX_MAX];

const char *itest_tmux_bin(void)
{
	static const char *const paths[] = {"/usr/bin/tmux", "/usr/local/bin/tmux", "/bin/tmux"};
	for (size_t i = 0; i < sizeof paths / sizeof *paths; i++)
		if (access(paths[i], X_OK) == 0)
			return paths[i];
	fprintf(stderr, "[itest] no tmux program (scripts/install-deps.sh installs it)\n");
	return NULL;
}

/* Runs tmux -L SOCKET -f /dev/null ARGS...; its output goes to t->out
 * (emptied first). Returns its exit status. */
static int tmux_run(struct itest_tmux *t, const char *const *args)
{
	const char *argv[32];
	size_t n = 0;
	argv[n++] = "-L";
	argv[n++] = t->socket;
	argv[n++] = "-f";
	argv[n++] = "/dev/null";
	for (size_t i = 0; args[i] && n < 31; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	unlink(t->out);
	const char *bin = itest_tmux_bin();
	return bin ? itest_run(bin, argv, t->out, TMUX_CMD_TIMEOUT_MS) : -1;
}

/* ARG as one word for sh -c. */
static void shell_quote(char *out, size_t cap, const char *arg)
{
	size_t o = 0;
	if (o + 1 < cap)
		out[o++] = '\'';
	for (const char *p = arg; *p && o + 5 < cap; p++) {
		if (*p == '\'') {
			memcpy(out + o, "'\\''", 4);
			o += 4;
		} else {
			out[o++] = *p;
		}
	}
	if (o + 1 < cap)
		out[o++] = '\'';
	out[o] = '\0';
}

static void append(char *cmd, size_t cap, const char *word)
{
	char q[1024];
	shell_quote(q, sizeof q, word);
	strncat(cmd, " ", cap - strlen(cmd) - 1);
	strncat(cmd, q, cap - strlen(cmd) - 1);
}

struct itest_tmux *itest_tmux_start(const char *dir, int cols, int rows,
	const char *const *env, const char *const *argv, const char *log)
{
	static unsigned serial;
	char cmd[8192] = "exec env", size_x[16], size_y[16];
	if (!itest_tmux_bin())
		return NULL;
	struct itest_tmux *t = calloc(1, sizeof *t);
	if (!t)
		return NULL;
	snprintf(t->socket, sizeof t->socket, "cc-itest-%ld-%u", (long)getpid(), serial++);
	t->out = strdup(itest_path(dir, t->socket));
	/* env takes its -u options before the assignments. */
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; env && env[i]; i++) {
			size_t len = strlen(env[i]);
			bool unset = len && env[i][len - 1] == '=';
			if (pass == 0 && unset) {
				char name[128];
				snprintf(name, sizeof name, "%.*s", (int)(len - 1), env[i]);
				append(cmd, sizeof cmd, "-u");
				append(cmd, sizeof cmd, name);
			} else if (pass == 1 && !unset) {
				append(cmd, sizeof cmd, env[i]);
			}
		}
	}
	for (size_t i = 0; argv[i]; i++)
		append(cmd, sizeof cmd, argv[i]);
	strncat(cmd, " 2>", sizeof cmd - strlen(cmd) - 1);
	append(cmd, sizeof cmd, log);
	snprintf(size_x, sizeof size_x, "%d", cols);
	snprintf(size_y, sizeof size_y, "%d", rows);
	/* The pane stays after the program, for its exit status. */
	const char *args[] = {"new-session", "-d", "-s", "main", "-x", size_x, "-y", size_y, cmd,
			      ";", "set-option", "-g", "remain-on-exit", "on", NULL};
	for (int i = 0; i < TMUX_MAX; i++) {
		if (!live_tmux[i]) {
			live_tmux[i] = t;
			break;
		}
	}
	t->live = 1;
	if (tmux_run(t, args) != 0) {
		char *err = itest_read_file(t->out, NULL);
		fprintf(stderr, "[itest] tmux new-session failed: %s\n", err ? err : "");
		free(err);
		itest_tmux_stop(t);
		return NULL;
	}
	char *pids = itest_tmux_format(t, "#{pid} #{pane_pid}");
	long server = 0, pane = 0;
	if (pids && sscanf(pids, "%ld %ld", &server, &pane) == 2) {
		t->server_pid = (pid_t)server;
		t->pane_pid = (pid_t)pane;
	}
	free(pids);
	return t;
}

/* Whether PID is a zombie: exited, not yet reaped by its parent. */
static int is_zombie(pid_t pid)
{
	char path[64], stat[512];
	snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	size_t n = fread(stat, 1, sizeof stat - 1, f);
	fclose(f);
	stat[n] = '\0';
	const char *end = strrchr(stat, ')');  /* the name may hold spaces */
	return end && end[1] == ' ' && end[2] == 'Z';
}

/* tmux built with libutempter runs its helper when a pane's terminal
 * closes, with SIGCHLD at its default for the while: the pane program's own
 * SIGCHLD, if it comes then, is lost and the program stays a zombie, the
 * pane never dead. Telling the server again makes it reap the program. */
static void nudge_if_zombie(struct itest_tmux *t)
{
	if (t->server_pid > 0 && t->pane_pid > 0 && is_zombie(t->pane_pid))
		kill(t->server_pid, SIGCHLD);
}

void itest_tmux_stop(struct itest_tmux *t)
{
	if (!t)
		return;
	if (t->live) {
		const char *args[] = {"kill-server", NULL};
		nudge_if_zombie(t);
		tmux_run(t, args);
		t->live = 0;
		/* A server that waits for a program it never reaped would stay. */
		for (int i = 0; t->server_pid > 0 && i < 40 && kill(t->server_pid, 0) == 0; i++) {
			nudge_if_zombie(t);
			struct timespec ts = {0, 50 * 1000000L};
			nanosleep(&ts, NULL);
		}
		if (t->server_pid > 0 && kill(t->server_pid, 0) == 0) {
			fprintf(stderr, "[itest] tmux server %ld did not exit; killing it\n",
				(long)t->server_pid);
			kill(t->server_pid, SIGKILL);
		}
	}
	for (int i = 0; i < TMUX_MAX; i++)
		if (live_tmux[i] == t)
			live_tmux[i] = NULL;
	free(t->out);
	free(t);
}

void itest_tmux_cleanup(void)
{
	for (int i = 0; i < TMUX_MAX; i++)
		if (live_tmux[i])
			itest_tmux_stop(live_tmux[i]);
}

int itest_tmux_teardown(void **state)
{
	itest_tmux_cleanup();
	return itest_teardown(state);
}

char *itest_tmux_capture(struct itest_tmux *t, int escapes)
{
	const char *plain[] = {"capture-pane", "-p", "-t", "main", NULL};
	const char *esc[] = {"capture-pane", "-p", "-e", "-t", "main", NULL};
	if (tmux_run(t, escapes ? esc : plain) != 0)
		return NULL;
	char *s = itest_read_file(t->out, NULL);
	return s ? s : strdup("");
}

char *itest_tmux_capture_row(struct itest_tmux *t, int n)
{
	char row[16];
	snprintf(row, sizeof row, "%d", n);
	const char *args[] = {"capture-pane", "-p", "-e", "-S", row, "-E", row, "-t", "main", NULL};
	if (tmux_run(t, args) != 0)
		return NULL;
	char *s = itest_read_file(t->out, NULL);
	if (s)
		s[strcspn(s, "\n")] = '\0';
	return s;
}

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

char *itest_tmux_wait(struct itest_tmux *t, const char *needle, int timeout_ms)
{
	char *screen = NULL;
	for (int waited = 0; waited <= itest_scale_ms(timeout_ms); waited += TMUX_POLL_MS) {
		free(screen);
		screen = itest_tmux_capture(t, 0);
		if (screen && strstr(screen, needle))
			return screen;
		sleep_ms(TMUX_POLL_MS);
	}
	fprintf(stderr, "[itest] the screen never showed \"%s\"; it shows:\n%s\n", needle,
		screen ? screen : "(nothing)");
	free(screen);
	return NULL;
}

int itest_tmux_wait_gone(struct itest_tmux *t, const char *needle, int timeout_ms)
{
	char *screen = NULL;
	for (int waited = 0; waited <= itest_scale_ms(timeout_ms); waited += TMUX_POLL_MS) {
		free(screen);
		screen = itest_tmux_capture(t, 0);
		if (screen && !strstr(screen, needle)) {
			free(screen);
			return 0;
		}
		sleep_ms(TMUX_POLL_MS);
	}
	fprintf(stderr, "[itest] the screen still shows \"%s\":\n%s\n", needle,
		screen ? screen : "(nothing)");
	free(screen);
	return -1;
}

char *itest_tmux_row(const char *screen, const char *needle)
{
	const char *hit = screen ? strstr(screen, needle) : NULL;
	if (!hit)
		return NULL;
	const char *start = hit;
	while (start > screen && start[-1] != '\n')
		start--;
	size_t len = strcspn(start, "\n");
	return strndup(start, len);
}

char *itest_tmux_row_at(const char *screen, int n)
{
	const char *p = screen;
	for (int i = 0; p && i < n; i++) {
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return p && *p ? strndup(p, strcspn(p, "\n")) : NULL;
}

int itest_tmux_type(struct itest_tmux *t, const char *text)
{
	const char *args[] = {"send-keys", "-t", "main", "-l", text, NULL};
	return tmux_run(t, args) == 0 ? 0 : -1;
}

int itest_tmux_keys(struct itest_tmux *t, const char *key, ...)
{
	const char *args[24] = {"send-keys", "-t", "main"};
	size_t n = 3;
	va_list ap;
	va_start(ap, key);
	for (const char *k = key; k && n < 23; k = va_arg(ap, const char *))
		args[n++] = k;
	va_end(ap);
	args[n] = NULL;
	return tmux_run(t, args) == 0 ? 0 : -1;
}

int itest_tmux_resize(struct itest_tmux *t, int cols, int rows)
{
	char x[16], y[16];
	snprintf(x, sizeof x, "%d", cols);
	snprintf(y, sizeof y, "%d", rows);
	const char *args[] = {"resize-window", "-t", "main", "-x", x, "-y", y, NULL};
	return tmux_run(t, args) == 0 ? 0 : -1;
}

int itest_tmux_paste(struct itest_tmux *t, const char *text)
{
	const char *set[] = {"set-buffer", "-b", "itest", "--", text, NULL};
	const char *paste[] = {"paste-buffer", "-p", "-b", "itest", "-t", "main", NULL};
	return tmux_run(t, set) == 0 && tmux_run(t, paste) == 0 ? 0 : -1;
}

char *itest_tmux_format(struct itest_tmux *t, const char *format)
{
	const char *args[] = {"display-message", "-p", "-t", "main", format, NULL};
	if (tmux_run(t, args) != 0)
		return NULL;
	char *s = itest_read_file(t->out, NULL);
	if (s)
		s[strcspn(s, "\n")] = '\0';
	return s;
}

long itest_tmux_pane_pid(const struct itest_tmux *t)
{
	return t && t->pane_pid > 0 ? (long)t->pane_pid : -1;
}

int itest_tmux_wait_exit(struct itest_tmux *t, int timeout_ms)
{
	for (int waited = 0; waited <= itest_scale_ms(timeout_ms); waited += TMUX_POLL_MS) {
		/* "1|STATUS|" after an exit, "1||SIGNAL" after a signal; "1||"
		 * while the terminal is closed but the program not yet reaped. */
		char *dead = itest_tmux_format(t, "#{pane_dead}|#{pane_dead_status}|"
						  "#{pane_dead_signal}");
		char *status = dead && dead[0] == '1' && dead[1] == '|' ? dead + 2 : NULL;
		char *sig = status ? strchr(status, '|') : NULL;
		if (sig && (sig != status || sig[1])) {
			*sig++ = '\0';
			int result = *status ? atoi(status) : 128 + atoi(sig);
			if (result != 0)
				fprintf(stderr, "[itest] the program in tmux ended: status %s, signal %s\n",
					status, sig ? sig : "");
			free(dead);
			return result;
		}
		free(dead);
		nudge_if_zombie(t);
		sleep_ms(TMUX_POLL_MS);
	}
	char *screen = itest_tmux_capture(t, 0);
	fprintf(stderr, "[itest] the program in tmux did not exit; the screen:\n%s\n",
		screen ? screen : "");
	free(screen);
	return -1;
}
