/* The line-mode front ends' shared driver: lines from standard input run as
 * commands (cli.h), the core's events go to a view that prints them (batch:
 * JSON; plain: text). */
#ifndef CC_CLIENT_CLI_LINEMODE_H
#define CC_CLIENT_CLI_LINEMODE_H

#include <stdbool.h>
#include <stddef.h>

#include "client/core/client.h"

struct event_base;

struct linemode_view {
	void (*event)(void *ctx, const struct client_event *ev);
	/* What the command line refused, and errors before the core runs. */
	void (*error)(void *ctx, const char *room, const char *code, const char *message);
	void (*help)(void *ctx, const char *const *lines, size_t n);
	/* Run a line only once everything the previous one started has ended
	 * (batch's contract); else lines run as they come and the core queues
	 * them. */
	bool one_at_a_time;
	void *ctx;
};

/* Runs a session until /quit, the end of input, a signal or a fatal error;
 * returns the exit status (enum client_exit). */
int linemode_run(const struct client_config *cfg, struct event_base *base,
		 const struct linemode_view *view);

#endif
