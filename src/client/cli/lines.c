/* Lines from a file descriptor: see lines.h. */
#include "client/cli/lines.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct lines {
	struct lines_callbacks cb;
	int fd;
	struct evbuffer *buf;      /* bytes not yet run */
	struct event *read_ev;     /* fd readable (pipes, terminals) */
	struct event *pump_ev;     /* runs lines */
	bool regular;              /* a plain file: always readable, not pollable */
	bool eof;
	bool eof_told;
	bool discarding;           /* inside an over-long line */
};

static void lines_read(struct lines *l)
{
	int n = evbuffer_read(l->buf, l->fd, 16384);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		l->eof = true;
		if (l->read_ev)
			event_del(l->read_ev);
	}
}

/* The next complete line (malloc'd), or NULL. */
static char *lines_take(struct lines *l, size_t *len)
{
	char *line = evbuffer_readln(l->buf, len, EVBUFFER_EOL_LF);
	if (!line && l->eof && evbuffer_get_length(l->buf) > 0) {
		/* A last line without a newline still counts. */
		*len = evbuffer_get_length(l->buf);
		if ((line = malloc(*len + 1))) {
			evbuffer_remove(l->buf, line, *len);
			line[*len] = '\0';
		}
	}
	return line;
}

static void lines_pump_cb(evutil_socket_t fd, short what, void *arg)
{
	struct lines *l = arg;
	(void)fd;
	(void)what;

	while (l->cb.ready(l->cb.ctx)) {
		size_t len;
		char *line = lines_take(l, &len);
		if (line) {
			if (len && line[len - 1] == '\r')
				line[--len] = '\0';
			if (l->discarding)
				l->discarding = false;  /* the tail of an over-long line */
			else if (strlen(line) != len)
				l->cb.on_error(l->cb.ctx, "malformed", "a command line holds a NUL byte");
			else if (len > 0)
				l->cb.on_line(l->cb.ctx, line);
			free(line);
			continue;
		}
		if (evbuffer_get_length(l->buf) > LINES_MAX_BYTES) {
			evbuffer_drain(l->buf, evbuffer_get_length(l->buf));
			if (!l->discarding)
				l->cb.on_error(l->cb.ctx, "too_long", "command line too long; ignored");
			l->discarding = true;
		}
		if (l->eof) {
			if (!l->eof_told) {
				l->eof_told = true;
				l->cb.on_eof(l->cb.ctx);
			}
			return;
		}
		if (!l->regular)
			break;  /* wait until the fd is readable */
		lines_read(l);
	}
	/* Read more only when it can be run soon. */
	if (l->read_ev && !l->eof) {
		if (evbuffer_get_length(l->buf) < LINES_MAX_BYTES)
			event_add(l->read_ev, NULL);
		else
			event_del(l->read_ev);
	}
}

static void lines_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct lines *l = arg;
	(void)fd;
	(void)what;
	lines_read(l);
	event_active(l->pump_ev, EV_READ, 0);
}

void lines_kick(struct lines *l)
{
	if (l)
		event_active(l->pump_ev, EV_READ, 0);
}

struct lines *lines_new(struct event_base *base, int fd, const struct lines_callbacks *cb)
{
	struct lines *l = calloc(1, sizeof *l);
	struct stat st;
	if (!l)
		return NULL;
	l->cb = *cb;
	l->fd = fd;
	l->regular = fstat(fd, &st) == 0 && !S_ISFIFO(st.st_mode) && !S_ISSOCK(st.st_mode) &&
		     !S_ISCHR(st.st_mode);
	l->buf = evbuffer_new();
	l->pump_ev = event_new(base, -1, 0, lines_pump_cb, l);
	if (!l->regular) {
		evutil_make_socket_nonblocking(fd);
		l->read_ev = event_new(base, fd, EV_READ, lines_read_cb, l);
	}
	if (!l->buf || !l->pump_ev || (!l->regular && !l->read_ev)) {
		lines_free(l);
		return NULL;
	}
	lines_kick(l);
	return l;
}

void lines_free(struct lines *l)
{
	if (!l)
		return;
	if (l->read_ev)
		event_free(l->read_ev);
	if (l->pump_ev)
		event_free(l->pump_ev);
	if (l->buf)
		evbuffer_free(l->buf);
	free(l);
}
