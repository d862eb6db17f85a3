/* Lines from a file descriptor (standard input) for the line-mode front ends:
 * read only as fast as they can be run (bounded buffering), CR LF or LF, a
 * last line without a newline still counted, an over-long line refused
 * whole, a line holding a NUL byte refused. */
#ifndef CC_CLIENT_CLI_LINES_H
#define CC_CLIENT_CLI_LINES_H

#include <stdbool.h>

struct event_base;
struct lines;

/* Longest line: a 16 KiB message and its command, with room to spare. */
#define LINES_MAX_BYTES (64 * 1024)

struct lines_callbacks {
	/* May the next line run now? */
	bool (*ready)(void *ctx);
	void (*on_line)(void *ctx, const char *line);
	/* A line refused (code too_long or malformed). */
	void (*on_error)(void *ctx, const char *code, const char *message);
	/* Every line has run and the input ended. */
	void (*on_eof)(void *ctx);
	void *ctx;
};

struct lines *lines_new(struct event_base *base, int fd, const struct lines_callbacks *cb);
void lines_free(struct lines *l);
/* Looks again (soon, from the event loop): ready() may have changed. */
void lines_kick(struct lines *l);

#endif
