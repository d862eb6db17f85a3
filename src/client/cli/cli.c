/* The slash-command language: one table, one parser (see cli.h). */
#include "client/cli/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/buf.h"

/* The most nicknames /create takes, as the server caps a room. */
#define CLI_CREATE_MAX 256

struct cli {
	struct client *client;
	struct cli_callbacks cb;
	const struct cli_command *extra;
	size_t nextra;
	uint8_t current[PROTO_ROOM_ID_LEN];
	bool has_current;
	/* the last /join: where the user was before, if it fails */
	uint32_t join_request;
	uint8_t join_room[PROTO_ROOM_ID_LEN];
	uint8_t join_before[PROTO_ROOM_ID_LEN];
	bool join_had_before;
	uint8_t (*seen)[PROTO_ROOM_ID_LEN];  /* room ids the user has seen */
	size_t nseen;
};

static void cli_error(struct cli *cli, const char *room, const char *code, const char *message)
{
	if (cli->cb.on_error)
		cli->cb.on_error(cli->cb.ctx, room ? room : "", code, message);
}

/* ---- arguments ---------------------------------------------------------------- */

static const char *skip_blanks(const char *s)
{
	return s + strspn(s, " \t");
}

/* The one word args holds, as a nickname: 0, or -1 if args is not exactly
 * one valid nickname. */
static int one_nick(const char *args, char nick[PROTO_NICK_MAX + 1])
{
	size_t n = strcspn(args, " \t");
	if (!proto_nick_valid((const uint8_t *)args, n) || *skip_blanks(args + n))
		return -1;
	memcpy(nick, args, n);
	nick[n] = '\0';
	return 0;
}

static void seen_add(struct cli *cli, const uint8_t room[PROTO_ROOM_ID_LEN])
{
	for (size_t i = 0; i < cli->nseen; i++)
		if (memcmp(cli->seen[i], room, PROTO_ROOM_ID_LEN) == 0)
			return;
	void *p = realloc(cli->seen, (cli->nseen + 1) * sizeof *cli->seen);
	if (!p)
		return;
	cli->seen = p;
	memcpy(cli->seen[cli->nseen++], room, PROTO_ROOM_ID_LEN);
}

static void seen_add_hex(struct cli *cli, const char *hex)
{
	uint8_t room[PROTO_ROOM_ID_LEN];
	if (hex && strlen(hex) == 2 * PROTO_ROOM_ID_LEN && hex_decode(hex, room, sizeof room) == CC_OK)
		seen_add(cli, room);
}

int cli_room_resolve(const struct cli *cli, const char *s, size_t n,
		     uint8_t room[PROTO_ROOM_ID_LEN])
{
	char hex[CLIENT_ROOM_HEX];
	if (n == 2 * PROTO_ROOM_ID_LEN) {
		memcpy(hex, s, n);
		hex[n] = '\0';
		return hex_decode(hex, room, PROTO_ROOM_ID_LEN) == CC_OK ? 0 : -1;
	}
	if (n < 4 || n > 2 * PROTO_ROOM_ID_LEN)
		return -1;
	int found = 0;
	for (size_t i = 0; i < cli->nseen; i++) {
		hex_encode(cli->seen[i], PROTO_ROOM_ID_LEN, hex);
		if (strncasecmp(hex, s, n) != 0)
			continue;
		if (found)
			return -2;
		memcpy(room, cli->seen[i], PROTO_ROOM_ID_LEN);
		found = 1;
	}
	return found ? 0 : -1;
}

/* Splits "ROOM rest": 0 and the room, or -1 (reported). */
static int take_room(struct cli *cli, const char *args, uint8_t room[PROTO_ROOM_ID_LEN],
		     const char **rest)
{
	size_t n = strcspn(args, " \t");
	int rc = n ? cli_room_resolve(cli, args, n, room) : -1;
	if (rc) {
		cli_error(cli, NULL, "usage",
			  rc == -2 ? "that prefix matches several rooms: give more digits"
				   : "a room is its id, 32 hexadecimal digits, or a unique prefix "
				     "of one /rooms listed");
		return -1;
	}
	if (rest)
		*rest = skip_blanks(args + n);
	return 0;
}

/* The current room for a command about it: 0, or -1 (reported). */
static int need_current(struct cli *cli, uint8_t room[PROTO_ROOM_ID_LEN], const char *why)
{
	if (!cli->has_current) {
		cli_error(cli, NULL, "no_room", why);
		return -1;
	}
	memcpy(room, cli->current, PROTO_ROOM_ID_LEN);
	return 0;
}

/* ---- the commands --------------------------------------------------------------- */

static uint32_t cmd_text(struct cli *cli, const char *text)
{
	uint8_t room[PROTO_ROOM_ID_LEN];
	if (need_current(cli, room, "join a room before talking (/join ROOM)"))
		return 0;
	return client_room_send(cli->client, room, text, strlen(text));
}

static uint32_t cmd_create(struct cli *cli, const char *args)
{
	const char *nicks[CLI_CREATE_MAX];
	char list[CLI_CREATE_MAX * (PROTO_NICK_MAX + 2)];
	size_t n = strcspn(args, " \t"), count = 0;

	if (n == 0) {
		cli_error(cli, NULL, "usage", "/create NICK[,NICK...] [TITLE]");
		return 0;
	}
	if (n >= sizeof list) {
		cli_error(cli, NULL, "limit", "too many members for one room");
		return 0;
	}
	memcpy(list, args, n);
	list[n] = '\0';
	for (char *p = list, *next; p; p = next) {
		next = strchr(p, ',');
		if (next)
			*next++ = '\0';
		if (count == CLI_CREATE_MAX) {
			cli_error(cli, NULL, "limit", "too many members for one room");
			return 0;
		}
		nicks[count++] = p;
	}
	return client_room_create(cli->client, nicks, count, skip_blanks(args + n));
}

static uint32_t cmd_rooms(struct cli *cli, const char *args)
{
	(void)args;
	return client_rooms_list(cli->client);
}

static uint32_t cmd_join(struct cli *cli, const char *args)
{
	uint8_t room[PROTO_ROOM_ID_LEN];
	const char *rest;
	if (take_room(cli, args, room, &rest))
		return 0;
	if (*rest) {
		cli_error(cli, NULL, "usage", "/join ROOM");
		return 0;
	}
	/* The room the user means from now on, even before it is loaded: lines
	 * typed meanwhile wait for it. Back to the one before if it fails. */
	cli->join_had_before = cli->has_current;
	memcpy(cli->join_before, cli->current, PROTO_ROOM_ID_LEN);
	memcpy(cli->join_room, room, PROTO_ROOM_ID_LEN);
	cli->join_request = 0;
	uint32_t id = client_room_join(cli->client, room);
	if (id && client_takes_calls(cli->client)) {
		cli->join_request = id;
		cli_set_current(cli, room);
		seen_add(cli, room);
	}
	return id;
}

static uint32_t cmd_say(struct cli *cli, const char *args)
{
	uint8_t room[PROTO_ROOM_ID_LEN];
	const char *text;
	if (take_room(cli, args, room, &text))
		return 0;
	return client_room_send(cli->client, room, text, strlen(text));
}

/* A command about a member of the current room. */
static uint32_t member_cmd(struct cli *cli, const char *args, const char *usage,
			   uint32_t (*call)(struct client *, const uint8_t *, const char *))
{
	uint8_t room[PROTO_ROOM_ID_LEN];
	char nick[PROTO_NICK_MAX + 1];
	if (need_current(cli, room, "join the room first (/join ROOM)"))
		return 0;
	if (one_nick(args, nick)) {
		char hex[CLIENT_ROOM_HEX];
		hex_encode(room, sizeof room, hex);
		cli_error(cli, hex, "usage", usage);
		return 0;
	}
	return call(cli->client, room, nick);
}

static uint32_t cmd_add(struct cli *cli, const char *args)
{
	return member_cmd(cli, args, "/add NICK", client_room_add);
}

static uint32_t cmd_kick(struct cli *cli, const char *args)
{
	return member_cmd(cli, args, "/kick NICK", client_room_kick);
}

static uint32_t cmd_admin(struct cli *cli, const char *args)
{
	return member_cmd(cli, args, "/admin NICK", client_room_admin);
}

static uint32_t cmd_disconnect(struct cli *cli, const char *args)
{
	uint8_t room[PROTO_ROOM_ID_LEN];
	const char *rest = "";
	if (!*args) {
		if (need_current(cli, room, "name a room, or join one first"))
			return 0;
	} else if (take_room(cli, args, room, &rest)) {
		return 0;
	}
	if (*rest) {
		cli_error(cli, NULL, "usage", "/disconnect [ROOM]");
		return 0;
	}
	return client_room_disconnect(cli->client, room);
}

static uint32_t cmd_leave(struct cli *cli, const char *args)
{
	uint8_t room[PROTO_ROOM_ID_LEN];
	const char *rest;
	if (!*args) {
		cli_error(cli, NULL, "usage", "/leave ROOM");
		return 0;
	}
	if (take_room(cli, args, room, &rest))
		return 0;
	if (*rest) {
		cli_error(cli, NULL, "usage", "/leave ROOM");
		return 0;
	}
	return client_room_leave(cli->client, room);
}

static uint32_t cmd_fingerprint(struct cli *cli, const char *args)
{
	char nick[PROTO_NICK_MAX + 1];
	if (!*args)
		return client_user_fingerprint(cli->client, NULL);
	if (one_nick(args, nick)) {
		cli_error(cli, NULL, "usage", "/fingerprint [NICK]");
		return 0;
	}
	return client_user_fingerprint(cli->client, nick);
}

static uint32_t cmd_safety(struct cli *cli, const char *args)
{
	char nick[PROTO_NICK_MAX + 1];
	if (one_nick(args, nick)) {
		cli_error(cli, NULL, "usage", "/safety NICK");
		return 0;
	}
	return client_user_safety(cli->client, nick);
}

static uint32_t cmd_verify(struct cli *cli, const char *args)
{
	char nick[PROTO_NICK_MAX + 1];
	if (one_nick(args, nick)) {
		cli_error(cli, NULL, "usage", "/verify NICK");
		return 0;
	}
	return client_user_verify(cli->client, nick);
}

static uint32_t cmd_rotate_key(struct cli *cli, const char *args)
{
	if (*skip_blanks(args)) {
		cli_error(cli, NULL, "usage", "/rotate-key");
		return 0;
	}
	return client_rotate_key(cli->client);
}

static uint32_t cmd_ping(struct cli *cli, const char *args)
{
	(void)args;
	return client_ping(cli->client);
}

static uint32_t cmd_help(struct cli *cli, const char *args);

static uint32_t cmd_quit(struct cli *cli, const char *args)
{
	(void)args;
	if (cli->cb.on_quit)
		cli->cb.on_quit(cli->cb.ctx);
	return 0;
}

static const struct cli_command commands[] = {
	{"/create", "NICK[,NICK...] [TITLE]", "make a room with these members; you are its admin",
	 cmd_create},
	{"/rooms", "", "list your rooms", cmd_rooms},
	{"/join", "ROOM", "open a room: its backlog, then live messages", cmd_join},
	{"", "TEXT", "say TEXT in the current room (the last joined)", NULL},
	{"/say", "ROOM TEXT", "say TEXT in ROOM", cmd_say},
	{"/add", "NICK", "add a member to the current room (admin)", cmd_add},
	{"/disconnect", "[ROOM]", "stop hearing a room live; stay a member", cmd_disconnect},
	{"/leave", "ROOM", "stop being a member", cmd_leave},
	{"/kick", "NICK", "expel a member of the current room; new key (admin)", cmd_kick},
	{"/admin", "NICK", "hand the admin role of the current room to a member", cmd_admin},
	{"/fingerprint", "[NICK]", "show your key's fingerprint, or NICK's", cmd_fingerprint},
	{"/safety", "NICK", "show the safety number you and NICK should both see", cmd_safety},
	{"/verify", "NICK", "record that you compared NICK's safety number", cmd_verify},
	{"/rotate-key", "", "move to a new identity key, signed by the current one; the old "
			    "one is refused from then on", cmd_rotate_key},
	{"/ping", "", "measure the round trip to the server", cmd_ping},
	{"/help", "", "list the commands", cmd_help},
	{"/quit", "", "leave", cmd_quit},
};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

const struct cli_command *cli_command_at(const struct cli *cli, size_t i)
{
	if (i < NCOMMANDS)
		return &commands[i];
	i -= NCOMMANDS;
	return cli && i < cli->nextra ? &cli->extra[i] : NULL;
}

static uint32_t cmd_help(struct cli *cli, const char *args)
{
	(void)args;
	size_t n = NCOMMANDS + cli->nextra;
	char **lines = calloc(n, sizeof *lines);
	for (size_t i = 0; lines && i < n; i++) {
		const struct cli_command *c = cli_command_at(cli, i);
		char usage[64];
		snprintf(usage, sizeof usage, "%s%s%s", c->name, *c->name && *c->args ? " " : "",
			 c->args);
		size_t len = strlen(usage) + strlen(c->help) + 40;
		if ((lines[i] = malloc(len)))
			snprintf(lines[i], len, "%-31s %s", usage, c->help);
	}
	if (lines && cli->cb.on_help)
		cli->cb.on_help(cli->cb.ctx, (const char *const *)lines, n);
	for (size_t i = 0; lines && i < n; i++)
		free(lines[i]);
	free(lines);
	return 0;
}

uint32_t cli_run(struct cli *cli, const char *line)
{
	if (line[0] != '/')
		return cmd_text(cli, line);
	if (line[1] == '/')
		return cmd_text(cli, line + 1);  /* "//x" says "/x" */
	size_t n = strcspn(line, " \t");
	const char *args = skip_blanks(line + n);
	for (size_t i = 0; i < NCOMMANDS + cli->nextra; i++) {
		const struct cli_command *c = cli_command_at(cli, i);
		if (c->run && strlen(c->name) == n && strncasecmp(c->name, line, n) == 0)
			return c->run(cli, args);
	}
	char msg[80];
	snprintf(msg, sizeof msg, "unknown command %.*s; try /help", n > 32 ? 32 : (int)n, line);
	cli_error(cli, NULL, "unknown_command", msg);
	return 0;
}

/* ---- following the core ----------------------------------------------------------- */

void cli_on_event(struct cli *cli, const struct client_event *ev)
{
	switch (ev->type) {
	case CLIENT_EV_ROOMS:
		for (size_t i = 0; i < ev->u.rooms.n; i++)
			seen_add_hex(cli, ev->u.rooms.list[i].room);
		break;
	case CLIENT_EV_ROOM_CREATED:
	case CLIENT_EV_JOINED:
		seen_add_hex(cli, ev->room);
		break;
	case CLIENT_EV_DISCONNECTED:
	case CLIENT_EV_LEFT:
	case CLIENT_EV_EXPELLED:
	case CLIENT_EV_EXPIRED:
	case CLIENT_EV_REMOVED: {
		char hex[CLIENT_ROOM_HEX];
		hex_encode(cli->current, PROTO_ROOM_ID_LEN, hex);
		if (cli->has_current && strcmp(hex, ev->room) == 0)
			cli->has_current = false;
		break;
	}
	default:
		break;
	}
}

void cli_on_done(struct cli *cli, uint32_t request, cc_err err)
{
	if (!request || request != cli->join_request)
		return;
	cli->join_request = 0;
	if (err && cli->has_current && memcmp(cli->current, cli->join_room, PROTO_ROOM_ID_LEN) == 0)
		cli_set_current(cli, cli->join_had_before ? cli->join_before : NULL);
}

/* ---- the rest --------------------------------------------------------------------- */

bool cli_current(const struct cli *cli, uint8_t room[PROTO_ROOM_ID_LEN])
{
	if (cli->has_current)
		memcpy(room, cli->current, PROTO_ROOM_ID_LEN);
	return cli->has_current;
}

void cli_set_current(struct cli *cli, const uint8_t *room)
{
	cli->has_current = room != NULL;
	if (room)
		memmove(cli->current, room, PROTO_ROOM_ID_LEN);
}

bool cli_room_at(const struct cli *cli, size_t i, char hex[CLIENT_ROOM_HEX])
{
	if (i >= cli->nseen)
		return false;
	hex_encode(cli->seen[i], PROTO_ROOM_ID_LEN, hex);
	return true;
}

struct cli *cli_new(struct client *client, const struct cli_callbacks *cb,
		    const struct cli_command *extra, size_t nextra)
{
	struct cli *cli = calloc(1, sizeof *cli);
	if (!cli)
		return NULL;
	cli->client = client;
	if (cb)
		cli->cb = *cb;
	cli->extra = extra;
	cli->nextra = nextra;
	return cli;
}

void cli_free(struct cli *cli)
{
	if (!cli)
		return;
	free(cli->seen);
	free(cli);
}

void *cli_ctx(const struct cli *cli)
{
	return cli->cb.ctx;
}

struct client *cli_client(const struct cli *cli)
{
	return cli->client;
}
