/* The plain line mode: the core's events as text (see plain.h). */
#include "client/plain/plain.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/cli/linemode.h"
#include "util/display.h"

/* A message's continuation lines: under the text, behind a bar. */
#define PLAIN_CONT "           | "

/* Prints text that others chose (messages, names, titles, the server's
 * words) escaped: a message's further lines are marked with cont, so none
 * can pass for a line of its own. */
static void put_safe_n(const char *s, size_t n, const char *cont)
{
	char *e = display_escape(s, n, cont);
	fputs(e ? e : "(unprintable)", stdout);
	free(e);
}

static void put_safe(const char *s)
{
	put_safe_n(s ? s : "", s ? strlen(s) : 0, NULL);
}

/* The room an event is about, short: the first 8 digits of its id. */
static void put_room(const char *room)
{
	if (room && *room)
		printf("[%.8s] ", room);
}

static void put_members(const char *const *members, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (i)
			fputs(", ", stdout);
		put_safe(members[i]);
	}
}

static void plain_change(const struct client_event *ev)
{
	const char *nick = ev->u.change.nick, *by = ev->u.change.by;
	put_room(ev->room);
	fputs("* ", stdout);
	switch (ev->type) {
	case CLIENT_EV_MEMBER_ADDED:
		put_safe(nick);
		fputs(" was added by ", stdout);
		put_safe(by);
		break;
	case CLIENT_EV_MEMBER_LEFT:
		put_safe(nick);
		fputs(" left", stdout);
		break;
	case CLIENT_EV_MEMBER_KICKED:
		put_safe(nick);
		fputs(" was expelled by ", stdout);
		put_safe(by);
		break;
	case CLIENT_EV_MEMBER_EXPIRED:
		put_safe(nick);
		fputs("'s nickname expired; signed out by ", stdout);
		put_safe(by);
		break;
	case CLIENT_EV_ADMIN_CHANGED:
		put_safe(ev->u.change.admin);
		fputs(" is the admin now, named by ", stdout);
		put_safe(by);
		break;
	case CLIENT_EV_REKEYED:
		fputs("new room key from ", stdout);
		put_safe(by);
		break;
	case CLIENT_EV_EXPELLED:
		fputs("you were expelled from the room by ", stdout);
		put_safe(by);
		break;
	case CLIENT_EV_EXPIRED:
		fputs("your nickname expired: you were signed out of the room by ", stdout);
		put_safe(by);
		break;
	case CLIENT_EV_REMOVED:
		fputs("you are no longer a member of the room (", stdout);
		put_safe(by);
		fputs(")", stdout);
		break;
	default:
		break;
	}
	if (ev->type == CLIENT_EV_MEMBER_ADDED || ev->type == CLIENT_EV_MEMBER_KICKED ||
	    ev->type == CLIENT_EV_REKEYED)
		printf(" (key epoch %u)", ev->u.change.epoch);
	putchar('\n');
}

static void plain_rooms(const struct client_event *ev)
{
	if (ev->u.rooms.n == 0)
		puts("* no rooms");
	for (size_t i = 0; i < ev->u.rooms.n; i++) {
		const struct client_room_info *r = &ev->u.rooms.list[i];
		printf("* %.32s \"", r->room);
		put_safe(r->title);
		fputs("\" admin ", stdout);
		put_safe(r->admin);
		printf(", %u members, %u unread%s\n", r->members, r->unread,
		       r->verified ? "" : " (join to check it)");
	}
}

static void plain_event(void *ctx, const struct client_event *ev)
{
	(void)ctx;
	switch (ev->type) {
	case CLIENT_EV_ERROR:
		fputs("! ", stdout);
		put_room(ev->room);
		put_safe(ev->u.error.code);
		fputs(": ", stdout);
		put_safe(ev->u.error.message);
		if (ev->u.error.from) {
			fputs(" (from ", stdout);
			put_safe(ev->u.error.from);
			fputs(")", stdout);
		}
		putchar('\n');
		break;
	case CLIENT_EV_MESSAGE:
		put_room(ev->room);
		putchar('<');
		put_safe(ev->u.message.from);
		printf(">%s ", ev->u.message.verified ? "" : " (key not verified)");
		put_safe_n(ev->u.message.text, ev->u.message.len, PLAIN_CONT);
		putchar('\n');
		break;
	case CLIENT_EV_SENT:
		break;  /* the line the user typed is already on the screen */
	case CLIENT_EV_GAP:
		put_room(ev->room);
		printf("! messages %llu to %llu of ", (unsigned long long)ev->u.gap.first,
		       (unsigned long long)ev->u.gap.last);
		put_safe(ev->u.gap.from);
		puts(" never arrived");
		break;
	case CLIENT_EV_REGISTERED:
		fputs("* registered as ", stdout);
		put_safe(ev->u.registered.nick);
		printf(" (key %.64s)\n", ev->u.registered.fingerprint);
		if (ev->u.registered.server_key_new)
			printf("* first contact with %s: its key %.64s is pinned from now on\n",
			       ev->u.registered.server, ev->u.registered.server_fingerprint);
		break;
	case CLIENT_EV_ROOM_CREATED:
	case CLIENT_EV_JOINED:
		printf("* %s %.32s \"", ev->type == CLIENT_EV_JOINED ? "joined room" : "created room",
		       ev->room);
		put_safe(ev->u.room.title);
		fputs("\", admin ", stdout);
		put_safe(ev->u.room.admin);
		fputs(", members ", stdout);
		put_members(ev->u.room.members, ev->u.room.nmembers);
		if (ev->type == CLIENT_EV_JOINED && ev->u.room.backlog)
			printf(" (%u messages while away)", ev->u.room.backlog);
		putchar('\n');
		break;
	case CLIENT_EV_ROOMS:
		plain_rooms(ev);
		break;
	case CLIENT_EV_DISCONNECTED:
		printf("* stopped hearing room %.32s (still a member)\n", ev->room);
		break;
	case CLIENT_EV_LEFT:
		printf("* left room %.32s\n", ev->room);
		break;
	case CLIENT_EV_KEY_CHANGED:
		fputs("! the key of ", stdout);
		put_safe(ev->u.key_changed.nick);
		printf(" changed: pinned %.64s, now %.64s. Compare /safety ", ev->u.key_changed.old_fp,
		       ev->u.key_changed.new_fp);
		put_safe(ev->u.key_changed.nick);
		puts(" with them before trusting it");
		break;
	case CLIENT_EV_FINGERPRINT:
		fputs("* ", stdout);
		put_safe(ev->u.fingerprint.nick);
		printf(": %.64s", ev->u.fingerprint.fingerprint);
		if (ev->u.fingerprint.others)
			fputs(ev->u.fingerprint.verified  ? " (verified)"
			      : ev->u.fingerprint.trusted ? " (pinned, not verified)"
							  : " (NOT the pinned key)",
			      stdout);
		putchar('\n');
		break;
	case CLIENT_EV_SAFETY_NUMBER:
		fputs("* safety number with ", stdout);
		put_safe(ev->u.safety.nick);
		printf(": %.60s\n", ev->u.safety.number);
		break;
	case CLIENT_EV_VERIFIED:
		fputs("* verified ", stdout);
		put_safe(ev->u.verified.nick);
		printf(" (%.64s)\n", ev->u.verified.fingerprint);
		break;
	case CLIENT_EV_PONG:
		printf("* pong: %llu ms\n", (unsigned long long)ev->u.pong.rtt_ms);
		break;
	case CLIENT_EV_CONNECTION_LOST:
		fputs("! connection lost (", stdout);
		put_safe(ev->u.connection.reason);
		printf("); reconnecting in %llu s\n",
		       (unsigned long long)(ev->u.connection.retry_ms + 999) / 1000);
		break;
	case CLIENT_EV_RECONNECTED:
		puts("* reconnected");
		break;
	case CLIENT_EV_KEY_ROTATED:
		printf("* you moved to a new identity key %.64s (the old one, %.64s, is refused "
		       "from now on); reconnecting with it\n", ev->u.key_rotated.new_fp,
		       ev->u.key_rotated.old_fp);
		break;
	case CLIENT_EV_KEY_MOVED:
		printf("* [%.8s] ", ev->room);
		put_safe(ev->u.key_moved.nick);
		printf(" moved to a new key %.64s, signed by their old one%s\n",
		       ev->u.key_moved.new_fp,
		       ev->u.key_moved.verified  ? " (you had verified the old one: the new one is "
						   "verified too)"
		       : ev->u.key_moved.trusted ? " (pinned in place of the old one)"
						 : "");
		break;
	case CLIENT_EV_COUNT_:
		break;
	default:
		plain_change(ev);
		break;
	}
	fflush(stdout);
}

static void plain_error(void *ctx, const char *room, const char *code, const char *message)
{
	struct client_event ev = {.type = CLIENT_EV_ERROR, .room = room};
	ev.u.error.code = code;
	ev.u.error.message = message;
	plain_event(ctx, &ev);
}

static void plain_help(void *ctx, const char *const *lines, size_t n)
{
	(void)ctx;
	for (size_t i = 0; i < n; i++)
		printf("  %s\n", lines[i]);
	fflush(stdout);
}

int plain_run(const struct client_config *cfg, struct event_base *base)
{
	const struct linemode_view view = {plain_event, plain_error, plain_help, false, NULL};
	return linemode_run(cfg, base, &view);
}
