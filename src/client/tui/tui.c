/* The full-screen UI's session: the terminal, the event loop (the terminal
 * readable, SIGWINCH, a one-second tick for the countdown, a short timer
 * for cut escape sequences), the client core and the command language,
 * and the terminal put back on every way out. See tui.h. */
#include "client/tui/tui.h"

#include <errno.h>
#include <event2/event.h>
#include <langinfo.h>
#include <locale.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "client/tui/internal.h"
#include "util/buf.h"
#include "util/clock.h"
#include "util/log.h"

/* How long a cut escape sequence waits for the rest (a lone ESC is Esc). */
#define KEYS_WAIT_MS 30

#if defined(__SANITIZE_ADDRESS__)
#define TUI_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TUI_SANITIZED 1
#endif
#endif

uint64_t tui_now_ms(void)
{
	return clock_now_ms();
}

uint64_t tui_mono_ms(void)
{
	return clock_mono_ms();
}

void tui_redraw_soon(struct tui *t)
{
	if (t->ev_redraw)
		event_active(t->ev_redraw, EV_TIMEOUT, 0);
}

void tui_hint(struct tui *t, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(t->hint, sizeof t->hint, fmt, ap);
	va_end(ap);
	t->hint_until_ms = tui_mono_ms() + TUI_HINT_MS;
	tui_redraw_soon(t);
}

uint64_t tui_say(struct tui *t, struct tui_window *w, enum tui_line_kind kind, const char *fmt,
		 ...)
{
	struct tui_str s = {0};
	va_list ap;
	va_start(ap, fmt);
	tui_str_vadd(&s, fmt, ap);
	va_end(ap);
	char *text = tui_str_take(&s);
	if (!text)
		return 0;
	uint64_t id = tui_model_add(&t->model, w ? w : tui_model_current(&t->model), kind,
				    TUI_MARK_NONE, tui_now_ms(), NULL, text,
				    kind == TUI_LINE_SECURITY ? TUI_ACT_SECURITY : TUI_ACT_EVENT);
	free(text);
	tui_redraw_soon(t);
	return id;
}

/* ---- windows and the current room ------------------------------------------------- */

void tui_switch(struct tui *t, size_t i)
{
	uint8_t room[PROTO_ROOM_ID_LEN];
	if (i >= t->model.nwins)
		return;
	tui_model_switch(&t->model, i);
	const struct tui_window *w = t->model.wins[i];
	/* Plain text goes to the room shown; the status window has none. */
	if (!w->is_status && hex_decode(w->room, room, sizeof room) == CC_OK)
		cli_set_current(t->cli, room);
	else
		cli_set_current(t->cli, NULL);
	tui_redraw_soon(t);
}

void tui_follow_current(struct tui *t, bool had, const uint8_t before[PROTO_ROOM_ID_LEN])
{
	uint8_t now[PROTO_ROOM_ID_LEN];
	char hex[CLIENT_ROOM_HEX];
	size_t i;
	if (!cli_current(t->cli, now) || (had && memcmp(now, before, sizeof now) == 0))
		return;
	hex_encode(now, sizeof now, hex);
	struct tui_window *w = tui_model_find(&t->model, hex, &i);
	if (!w) {
		if (!(w = tui_model_open(&t->model, hex)))
			return;
		events_refresh_title(t, w);
		tui_model_find(&t->model, hex, &i);
	}
	tui_model_switch(&t->model, i);
	tui_redraw_soon(t);
}

/* ---- running lines ------------------------------------------------------------------- */

/* Whether a line needs the server: the UI's own commands, /help and /quit
 * run at once even while connecting. */
static bool needs_server(const char *line)
{
	static const char *const local[] = {"/help", "/quit"};
	if (line[0] != '/' || line[1] == '/')
		return true;
	size_t n = strcspn(line, " \t");
	for (size_t i = 0; i < tui_ncommands; i++)
		if (strlen(tui_commands[i].name) == n && strncasecmp(tui_commands[i].name, line, n) == 0)
			return false;
	for (size_t i = 0; i < sizeof local / sizeof *local; i++)
		if (strlen(local[i]) == n && strncasecmp(local[i], line, n) == 0)
			return false;
	return true;
}

static void queue_line(struct tui *t, const char *line)
{
	char **q = realloc(t->queued, (t->nqueued + 1) * sizeof *q);
	char *copy = strdup(line);
	if (!q || !copy) {
		if (q)
			t->queued = q;
		free(copy);
		tui_say(t, NULL, TUI_LINE_ERROR, "out of memory: a line typed while connecting was "
			"dropped");
		return;
	}
	t->queued = q;
	t->queued[t->nqueued++] = copy;
	tui_hint(t, "%zu line%s will run once connected", t->nqueued, t->nqueued == 1 ? "" : "s");
}

static void run_queued(struct tui *t)
{
	char **q = t->queued;
	size_t n = t->nqueued;
	t->queued = NULL;
	t->nqueued = 0;
	for (size_t i = 0; i < n; i++) {
		tui_run_line(t, q[i]);
		free(q[i]);
	}
	free(q);
}

/* The room and text of a line that says something: plain text for the
 * current room, or /say ROOM TEXT. */
static const char *said_text(struct tui *t, const char *line, char room[CLIENT_ROOM_HEX])
{
	uint8_t id[PROTO_ROOM_ID_LEN];
	*room = '\0';
	if (line[0] != '/' || line[1] == '/') {
		if (!cli_current(t->cli, id))
			return NULL;
		hex_encode(id, sizeof id, room);
		return line[0] == '/' ? line + 1 : line;
	}
	if (strncasecmp(line, "/say", 4) != 0 || (line[4] != ' ' && line[4] != '\t'))
		return NULL;
	const char *args = line + 4 + strspn(line + 4, " \t");
	size_t n = strcspn(args, " \t");
	if (!n || cli_room_resolve(t->cli, args, n, id) != 0)
		return NULL;
	hex_encode(id, sizeof id, room);
	return args + n + strspn(args + n, " \t");
}

void tui_run_line(struct tui *t, const char *line)
{
	uint8_t before[PROTO_ROOM_ID_LEN];
	char room[CLIENT_ROOM_HEX];
	struct tui_window *w = NULL;
	uint64_t own = 0;

	if (client_get_state(t->client) == CLIENT_CONNECTING && needs_server(line)) {
		queue_line(t, line);
		return;
	}
	bool had = cli_current(t->cli, before);
	const char *text = said_text(t, line, room);
	if (text && *text && (w = tui_model_open(&t->model, room))) {
		/* Shown at once, as on its way; SENT or an error settles it. */
		struct tui_str s = {0};
		tui_str_safe(&s, t->nick);
		char *nick = tui_str_take(&s);
		tui_str_safe(&s, text);
		char *safe = tui_str_take(&s);
		if (nick && safe)
			own = tui_model_add(&t->model, w, TUI_LINE_OWN, TUI_MARK_PENDING, tui_now_ms(),
					    nick, safe, TUI_ACT_NONE);
		free(nick);
		free(safe);
	}
	t->in_run = true;
	t->run_said = own != 0;
	t->run_done = 0;
	t->run_err = CC_OK;
	t->run_why[0] = '\0';
	uint32_t request = cli_run(t->cli, line);
	t->in_run = t->run_said = false;
	struct tui_line *l = own ? tui_window_line(w, own) : NULL;
	if (l) {
		if (!request || (t->run_done == request && t->run_err)) {
			struct tui_str s = {0};
			tui_str_add(&s, "(not sent: %s)", *t->run_why ? t->run_why : "refused");
			l->mark = TUI_MARK_FAILED;
			l->note = tui_str_take(&s);
		} else if (t->run_done != request) {
			tui_model_pending_add(&t->model, request, w, own);
		} else {
			l->mark = TUI_MARK_SENT;
		}
	}
	tui_follow_current(t, had, before);
	tui_redraw_soon(t);
}

void tui_quit(struct tui *t)
{
	if (t->quitting) {
		/* Asked twice: leave without waiting for what is in flight. */
		event_base_loopexit(t->base, NULL);
		return;
	}
	t->quitting = true;
	free(t->paste);
	t->paste = NULL;
	t->asking = false;
	tui_hint(t, "finishing what is in flight; Ctrl-C again leaves at once");
	client_quit(t->client);
	if (client_get_state(t->client) == CLIENT_CLOSED)
		event_base_loopexit(t->base, NULL);
}

/* ---- the core's callbacks ------------------------------------------------------------ */

static void on_event(void *ctx, const struct client_event *ev)
{
	struct tui *t = ctx;
	uint8_t room[PROTO_ROOM_ID_LEN];
	cli_on_event(t->cli, ev);
	/* The command language forgets a room we stopped hearing; plain text
	 * still goes to the room shown (and is refused with the reason). */
	const struct tui_window *w = tui_model_current(&t->model);
	if (!w->is_status && !cli_current(t->cli, room) &&
	    hex_decode(w->room, room, sizeof room) == CC_OK)
		cli_set_current(t->cli, room);
	events_show(t, ev);
	tui_redraw_soon(t);
}

static void on_done(void *ctx, uint32_t request, cc_err err)
{
	struct tui *t = ctx;
	uint8_t before[PROTO_ROOM_ID_LEN];
	bool had = cli_current(t->cli, before);
	cli_on_done(t->cli, request, err);
	if (t->in_run && request) {
		t->run_done = request;
		t->run_err = err;
	}
	events_done(t, request, err);
	/* A join that failed puts the room before it back. */
	tui_follow_current(t, had, before);
	tui_redraw_soon(t);
}

static void on_state(void *ctx)
{
	struct tui *t = ctx;
	enum client_state st = client_get_state(t->client);
	if (st == CLIENT_CLOSED) {
		event_base_loopexit(t->base, NULL);
		return;
	}
	if (st == CLIENT_READY) {
		t->retry_at_ms = 0;
		if (t->nqueued)
			run_queued(t);
	}
	tui_redraw_soon(t);
}

static void on_cli_error(void *ctx, const char *room, const char *code, const char *message)
{
	struct tui *t = ctx;
	struct client_event ev = {.type = CLIENT_EV_ERROR, .room = room};
	ev.u.error.code = code;
	ev.u.error.message = message;
	events_show(t, &ev);
	tui_redraw_soon(t);
}

static void on_help(void *ctx, const char *const *lines, size_t n)
{
	struct tui *t = ctx;
	for (size_t i = 0; i < n; i++)
		tui_say(t, NULL, TUI_LINE_INFO, "%s", lines[i]);
	tui_say(t, NULL, TUI_LINE_INFO, "keys: Alt-1..9 Ctrl-N Ctrl-P windows; PgUp PgDn scroll; "
		"Tab completes; Up Down history; Ctrl-G acknowledges a notice; Ctrl-C Ctrl-D quit");
	tui_say(t, NULL, TUI_LINE_INFO, "marks: \u2713 key verified (/verify), \u00b7 key pinned "
		"but not compared, ! key NOT the pinned one; \u2026 sending, \u2717 not sent");
}

static void on_quit(void *ctx)
{
	tui_quit(ctx);
}

static void log_sink(void *ctx, enum log_level level, const char *line)
{
	struct tui *t = ctx;
	events_log(t, (int)level, line);
	tui_redraw_soon(t);
}

/* ---- the event loop's events ------------------------------------------------------------ */

static void on_input(evutil_socket_t fd, short what, void *arg)
{
	struct tui *t = arg;
	char buf[4096];
	(void)what;
	ssize_t n = read(fd, buf, sizeof buf);
	if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) {
		/* The terminal went away. */
		event_del(t->ev_input);
		tui_quit(t);
		return;
	}
	if (n < 0)
		return;
	struct timeval wait = {0, KEYS_WAIT_MS * 1000};
	struct timeval paste = {TUI_PASTE_WAIT_MS / 1000, (TUI_PASTE_WAIT_MS % 1000) * 1000};
	if (keys_feed(&t->keys, buf, (size_t)n, input_key, t))
		evtimer_add(t->ev_keys_wait, &wait);
	else
		evtimer_del(t->ev_keys_wait);
	if (keys_in_paste(&t->keys))
		evtimer_add(t->ev_paste_wait, &paste);
	else
		evtimer_del(t->ev_paste_wait);
}

static void on_keys_wait(evutil_socket_t fd, short what, void *arg)
{
	struct tui *t = arg;
	(void)fd;
	(void)what;
	keys_flush(&t->keys, input_key, t);
}

static void on_paste_wait(evutil_socket_t fd, short what, void *arg)
{
	struct tui *t = arg;
	(void)fd;
	(void)what;
	input_paste_timeout(t);
}

static void on_redraw(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	screen_draw(arg);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	/* The countdown, hints that expire, the time of day. */
	tui_redraw_soon(arg);
}

static void on_winch(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	screen_resize(arg);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	(void)sig;
	tui_quit(arg);
}

#ifndef TUI_SANITIZED
/* A crash must not leave the terminal raw and on the other screen. */
static void on_fatal(int sig)
{
	screen_emergency_restore();
	signal(sig, SIG_DFL);
	raise(sig);
}
#endif

static void fatal_handlers(bool on)
{
#ifndef TUI_SANITIZED
	static const int sigs[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};
	for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++) {
		struct sigaction sa = {0};
		sa.sa_handler = on ? on_fatal : SIG_DFL;
		sigemptyset(&sa.sa_mask);
		sa.sa_flags = on ? (int)SA_RESETHAND : 0;
		sigaction(sigs[i], &sa, NULL);
	}
#else
	(void)on;  /* the sanitizers' own handlers report a crash */
#endif
}

static void atexit_restore(void)
{
	screen_emergency_restore();
}

/* ---- the session ------------------------------------------------------------------------ */

bool tui_usable(char *why, size_t n)
{
	setlocale(LC_CTYPE, "");
	const char *codeset = nl_langinfo(CODESET);
	if (!codeset || strcasecmp(codeset, "UTF-8") != 0) {
		snprintf(why, n, "the full-screen UI needs a UTF-8 locale (e.g. LANG=C.UTF-8); "
			 "this one is %s", codeset ? codeset : "unknown");
		return false;
	}
	const char *term = getenv("TERM");
	if (!term || !*term || strcmp(term, "dumb") == 0 || !screen_term_usable()) {
		snprintf(why, n, "the full-screen UI does not know the terminal type '%s'",
			 term ? term : "");
		return false;
	}
	return true;
}

static void events_free_all(struct tui *t)
{
	struct event **evs[] = {&t->ev_input,  &t->ev_winch,     &t->ev_term,
				&t->ev_hup,    &t->ev_int,       &t->ev_tick,
				&t->ev_redraw, &t->ev_keys_wait, &t->ev_paste_wait};
	for (size_t i = 0; i < sizeof evs / sizeof *evs; i++) {
		if (*evs[i])
			event_free(*evs[i]);
		*evs[i] = NULL;
	}
}

static int events_setup(struct tui *t)
{
	struct event_base *b = t->base;
	struct timeval second = {1, 0};
	t->ev_input = event_new(b, STDIN_FILENO, EV_READ | EV_PERSIST, on_input, t);
	t->ev_winch = evsignal_new(b, SIGWINCH, on_winch, t);
	t->ev_term = evsignal_new(b, SIGTERM, on_signal, t);
	t->ev_hup = evsignal_new(b, SIGHUP, on_signal, t);
	t->ev_int = evsignal_new(b, SIGINT, on_signal, t);
	t->ev_tick = event_new(b, -1, EV_PERSIST, on_tick, t);
	t->ev_redraw = event_new(b, -1, 0, on_redraw, t);
	t->ev_keys_wait = evtimer_new(b, on_keys_wait, t);
	t->ev_paste_wait = evtimer_new(b, on_paste_wait, t);
	if (!t->ev_input || !t->ev_winch || !t->ev_term || !t->ev_hup || !t->ev_int ||
	    !t->ev_tick || !t->ev_redraw || !t->ev_keys_wait || !t->ev_paste_wait)
		return -1;
	if (event_add(t->ev_input, NULL) || evsignal_add(t->ev_winch, NULL) ||
	    evsignal_add(t->ev_term, NULL) || evsignal_add(t->ev_hup, NULL) ||
	    evsignal_add(t->ev_int, NULL) || event_add(t->ev_tick, &second))
		return -1;
	return 0;
}

int tui_run(const struct client_config *cfg, struct event_base *base,
	    const struct tui_options *opt)
{
	static bool atexit_done;
	struct tui *t = calloc(1, sizeof *t);
	struct client_callbacks ccb = {on_event, on_done, on_state, t};
	struct cli_callbacks kcb = {on_cli_error, on_help, on_quit, t};
	int status = CLIENT_EXIT_ERROR;
	const char *no_color = getenv("NO_COLOR");

	if (!t || tui_model_init(&t->model, TUI_SCROLLBACK_DEFAULT)) {
		fprintf(stderr, "cryptocat: %s\n", cc_err_str(CC_ERR_NOMEM));
		free(t);
		return CLIENT_EXIT_ERROR;
	}
	t->base = base;
	t->opt = *opt;
	t->color = opt->color_chosen ? !opt->no_color : !(no_color && *no_color);
	t->bell = !opt->no_bell;
	editor_init(&t->ed);
	completion_init(&t->comp);
	keys_init(&t->keys);

	/* The identity key is loaded (or made) before the screen is taken. */
	cc_err err = client_new(cfg, base, &ccb, &t->client);
	if (err) {
		fprintf(stderr, "cryptocat: %s: %s\n", cc_err_code(err), cc_err_str(err));
		status = err == CC_ERR_USAGE || err == CC_ERR_BAD_NICK ? CLIENT_EXIT_USAGE
			 : err == CC_ERR_BAD_PASSPHRASE		       ? CLIENT_EXIT_PASSPHRASE
								       : CLIENT_EXIT_ERROR;
		goto out;
	}
	t->cli = cli_new(t->client, &kcb, tui_commands, tui_ncommands);
	if (!t->cli) {
		fprintf(stderr, "cryptocat: %s\n", cc_err_str(CC_ERR_NOMEM));
		goto out;
	}
	if (!atexit_done)
		atexit_done = atexit(atexit_restore) == 0;
	fatal_handlers(true);
	if (screen_open(t)) {
		fatal_handlers(false);
		fprintf(stderr, "cryptocat: cannot start the full-screen UI on this terminal; "
				"try --plain\n");
		goto out;
	}
	log_set_sink(log_sink, t);
	if (events_setup(t)) {
		snprintf(t->fatal, sizeof t->fatal, "%s", cc_err_str(CC_ERR_NOMEM));
		goto close;
	}
	tui_say(t, t->model.wins[0], TUI_LINE_INFO, "Crypto Cat %s: connecting as %s to %s:%u. "
		"/help lists the commands.", CC_VERSION, client_nick(t->client), cfg->host,
		(unsigned)cfg->port);
	screen_draw(t);
	if (client_connect(t->client) == CC_OK || client_get_state(t->client) != CLIENT_CLOSED)
		event_base_dispatch(base);
	status = client_exit_status(t->client);
close:
	log_set_sink(NULL, NULL);
	screen_close(t);
	fatal_handlers(false);
	if (*t->fatal && status != CLIENT_EXIT_OK)
		fprintf(stderr, "cryptocat: %s\n", t->fatal);
out:
	events_free_all(t);
	client_free(t->client);
	cli_free(t->cli);
	for (size_t i = 0; i < t->nqueued; i++)
		free(t->queued[i]);
	free(t->queued);
	free(t->paste);
	keys_free(&t->keys);
	completion_free(&t->comp);
	editor_free(&t->ed);
	tui_model_free(&t->model);
	free(t);
	return status;
}
