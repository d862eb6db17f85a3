/* The slash-command language, as one table (name, arguments, help, handler)
 * that every front end shares, so that /help and the parser cannot disagree.
 * It turns a typed line into a call of the client core and keeps what only
 * the person at the keyboard means: the current room (the last one joined,
 * or the window a full-screen front end shows) and the room ids they have
 * seen, for prefixes.
 *
 * A front end feeds it every core event (cli_on_event) and every request's
 * end (cli_on_done); it reports what it refuses itself through its own
 * callbacks, never by printing. */
#ifndef CC_CLIENT_CLI_CLI_H
#define CC_CLIENT_CLI_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "client/core/client.h"

struct cli;

struct cli_command {
	const char *name;               /* "/join"; "" for a line that is not a command */
	const char *args;               /* "ROOM" */
	const char *help;               /* one line */
	/* Runs the command; returns the request it started, or 0. */
	uint32_t (*run)(struct cli *cli, const char *args);
};

struct cli_callbacks {
	/* A line the parser refused, or a command it answered itself. room is
	 * "" when about no room. */
	void (*on_error)(void *ctx, const char *room, const char *code, const char *message);
	/* /help: one line per command, "NAME ARGS" padded, then its help. */
	void (*on_help)(void *ctx, const char *const *lines, size_t n);
	/* /quit. */
	void (*on_quit)(void *ctx);
	void *ctx;
};

/* extra: the front end's own commands (a window list's /win...), listed by
 * /help after the shared ones; the table must outlive the cli. */
struct cli *cli_new(struct client *client, const struct cli_callbacks *cb,
		    const struct cli_command *extra, size_t nextra);
void cli_free(struct cli *cli);
/* The front end's context (cb->ctx), for its own commands. */
void *cli_ctx(const struct cli *cli);
struct client *cli_client(const struct cli *cli);

/* Runs one typed line: a /command, or text for the current room ("//x"
 * says "/x"). Returns the request it started, or 0 (done at once: an error
 * reported, /help, /quit). */
uint32_t cli_run(struct cli *cli, const char *line);

/* What the core said: the current room follows joins and departures. */
void cli_on_event(struct cli *cli, const struct client_event *ev);
void cli_on_done(struct cli *cli, uint32_t request, cc_err err);

/* The current room (false: none). */
bool cli_current(const struct cli *cli, uint8_t room[PROTO_ROOM_ID_LEN]);
void cli_set_current(struct cli *cli, const uint8_t *room);  /* NULL: none */

/* Resolves a room argument: 32 hex digits, or a unique prefix (4 or more
 * digits) of an id seen here. 0, -1 (no such id) or -2 (ambiguous). */
int cli_room_resolve(const struct cli *cli, const char *s, size_t n,
		     uint8_t room[PROTO_ROOM_ID_LEN]);

/* For completion: the commands (shared, then extra), i from 0; NULL past
 * the end. With CLI NULL, the shared commands alone (for the docs' test). */
const struct cli_command *cli_command_at(const struct cli *cli, size_t i);
/* The room ids seen, i from 0, as hex; false past the end. */
bool cli_room_at(const struct cli *cli, size_t i, char hex[CLIENT_ROOM_HEX]);

#endif
