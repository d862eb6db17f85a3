/* --batch: the core's events as JSON lines (see batch.h). */
#include "client/batch/batch.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/cli/linemode.h"

static const char *const event_names[CLIENT_EV_COUNT_] = {
	[CLIENT_EV_REGISTERED] = "registered",
	[CLIENT_EV_ERROR] = "error",
	[CLIENT_EV_ROOM_CREATED] = "room_created",
	[CLIENT_EV_ROOMS] = "rooms",
	[CLIENT_EV_JOINED] = "joined",
	[CLIENT_EV_MESSAGE] = "message",
	[CLIENT_EV_GAP] = "gap",
	[CLIENT_EV_SENT] = "sent",
	[CLIENT_EV_MEMBER_ADDED] = "member_added",
	[CLIENT_EV_MEMBER_LEFT] = "member_left",
	[CLIENT_EV_MEMBER_KICKED] = "member_kicked",
	[CLIENT_EV_MEMBER_EXPIRED] = "member_expired",
	[CLIENT_EV_ADMIN_CHANGED] = "admin_changed",
	[CLIENT_EV_REKEYED] = "rekeyed",
	[CLIENT_EV_EXPELLED] = "expelled",
	[CLIENT_EV_EXPIRED] = "expired",
	[CLIENT_EV_REMOVED] = "removed",
	[CLIENT_EV_DISCONNECTED] = "disconnected",
	[CLIENT_EV_LEFT] = "left",
	[CLIENT_EV_KEY_CHANGED] = "key_changed",
	[CLIENT_EV_FINGERPRINT] = "fingerprint",
	[CLIENT_EV_SAFETY_NUMBER] = "safety_number",
	[CLIENT_EV_VERIFIED] = "verified",
	[CLIENT_EV_PONG] = "pong",
	[CLIENT_EV_CONNECTION_LOST] = "connection_lost",
	[CLIENT_EV_RECONNECTED] = "reconnected",
	[CLIENT_EV_KEY_ROTATED] = "key_rotated",
	[CLIENT_EV_KEY_MOVED] = "key_moved",
};

static void put(json_t *o, const char *key, json_t *value)
{
	if (o && value)
		json_object_set_new(o, key, value);
	else
		json_decref(value);
}

static void put_str(json_t *o, const char *key, const char *s)
{
	put(o, key, json_string(s ? s : ""));
}

static void put_int(json_t *o, const char *key, uint64_t v)
{
	put(o, key, json_integer((json_int_t)v));
}

static json_t *member_list(const char *const *members, size_t n)
{
	json_t *list = json_array();
	for (size_t i = 0; list && i < n; i++)
		json_array_append_new(list, json_string(members[i]));
	return list;
}

static json_t *room_list(const struct client_room_info *rooms, size_t n)
{
	json_t *list = json_array();
	for (size_t i = 0; list && i < n; i++) {
		const struct client_room_info *r = &rooms[i];
		json_t *o = json_object();
		put_str(o, "room", r->room);
		put_str(o, "title", r->title);
		put_str(o, "admin", r->admin);
		put_int(o, "members", r->members);
		put_int(o, "unread", r->unread);
		put_int(o, "epoch", r->epoch);
		put(o, "verified", json_boolean(r->verified));
		json_array_append_new(list, o);
	}
	return list;
}

/* The fields of each event, as the README lists them. */
static void event_fields(json_t *o, const struct client_event *ev)
{
	switch (ev->type) {
	case CLIENT_EV_REGISTERED:
		put_str(o, "nick", ev->u.registered.nick);
		put_str(o, "fingerprint", ev->u.registered.fingerprint);
		put_str(o, "server", ev->u.registered.server);
		put_str(o, "server_fingerprint", ev->u.registered.server_fingerprint);
		put_str(o, "server_key", ev->u.registered.server_key_new ? "new" : "known");
		break;
	case CLIENT_EV_ERROR:
		put_str(o, "code", ev->u.error.code);
		put_str(o, "message", ev->u.error.message);
		if (ev->u.error.from)
			put_str(o, "from", ev->u.error.from);
		if (ev->u.error.server) {
			put_str(o, "server", ev->u.error.server);
			put_str(o, "pinned", ev->u.error.pinned);
			put_str(o, "offered", ev->u.error.offered);
		}
		break;
	case CLIENT_EV_ROOM_CREATED:
	case CLIENT_EV_JOINED:
		put_str(o, "title", ev->u.room.title);
		put_str(o, "admin", ev->u.room.admin);
		put(o, "members", member_list(ev->u.room.members, ev->u.room.nmembers));
		if (ev->type == CLIENT_EV_JOINED) {
			put_int(o, "epoch", ev->u.room.epoch);
			put_int(o, "backlog", ev->u.room.backlog);
		}
		break;
	case CLIENT_EV_ROOMS:
		put(o, "rooms", room_list(ev->u.rooms.list, ev->u.rooms.n));
		break;
	case CLIENT_EV_MESSAGE:
		put_str(o, "from", ev->u.message.from);
		put(o, "text", json_stringn(ev->u.message.text, ev->u.message.len));
		put_int(o, "seq", ev->u.message.seq);
		put_int(o, "epoch", ev->u.message.epoch);
		put_int(o, "ts", ev->u.message.ts_ms);
		put_int(o, "msg_id", ev->u.message.msg_id);
		put(o, "verified", json_boolean(ev->u.message.verified));
		break;
	case CLIENT_EV_GAP:
		put_str(o, "from", ev->u.gap.from);
		put_int(o, "epoch", ev->u.gap.epoch);
		put_int(o, "first", ev->u.gap.first);
		put_int(o, "last", ev->u.gap.last);
		break;
	case CLIENT_EV_SENT:
		put_int(o, "seq", ev->u.sent.seq);
		put_int(o, "epoch", ev->u.sent.epoch);
		put_int(o, "msg_id", ev->u.sent.msg_id);
		put_int(o, "ts", ev->u.sent.ts_ms);
		break;
	case CLIENT_EV_MEMBER_ADDED:
	case CLIENT_EV_MEMBER_KICKED:
		put_str(o, "nick", ev->u.change.nick);
		put_str(o, "by", ev->u.change.by);
		put_int(o, "epoch", ev->u.change.epoch);
		break;
	case CLIENT_EV_MEMBER_LEFT:
		put_str(o, "nick", ev->u.change.nick);
		break;
	case CLIENT_EV_MEMBER_EXPIRED:
		put_str(o, "nick", ev->u.change.nick);
		put_str(o, "by", ev->u.change.by);
		put_str(o, "admin", ev->u.change.admin);
		break;
	case CLIENT_EV_ADMIN_CHANGED:
		put_str(o, "admin", ev->u.change.admin);
		put_str(o, "by", ev->u.change.by);
		break;
	case CLIENT_EV_REKEYED:
		put_int(o, "epoch", ev->u.change.epoch);
		put_str(o, "by", ev->u.change.by);
		break;
	case CLIENT_EV_EXPELLED:
	case CLIENT_EV_EXPIRED:
	case CLIENT_EV_REMOVED:
		put_str(o, "by", ev->u.change.by);
		break;
	case CLIENT_EV_KEY_ROTATED:
		put_str(o, "old", ev->u.key_rotated.old_fp);
		put_str(o, "new", ev->u.key_rotated.new_fp);
		break;
	case CLIENT_EV_KEY_MOVED:
		put_str(o, "nick", ev->u.key_moved.nick);
		put_str(o, "old", ev->u.key_moved.old_fp);
		put_str(o, "new", ev->u.key_moved.new_fp);
		json_object_set_new(o, "trusted", json_boolean(ev->u.key_moved.trusted));
		json_object_set_new(o, "verified", json_boolean(ev->u.key_moved.verified));
		break;
	case CLIENT_EV_KEY_CHANGED:
		put_str(o, "nick", ev->u.key_changed.nick);
		put_str(o, "old", ev->u.key_changed.old_fp);
		put_str(o, "new", ev->u.key_changed.new_fp);
		break;
	case CLIENT_EV_FINGERPRINT:
		put_str(o, "nick", ev->u.fingerprint.nick);
		put_str(o, "fingerprint", ev->u.fingerprint.fingerprint);
		if (ev->u.fingerprint.others) {
			put_str(o, "pinned", ev->u.fingerprint.pinned);
			put(o, "trusted", json_boolean(ev->u.fingerprint.trusted));
			put(o, "verified", json_boolean(ev->u.fingerprint.verified));
		}
		break;
	case CLIENT_EV_SAFETY_NUMBER:
		put_str(o, "nick", ev->u.safety.nick);
		put_str(o, "number", ev->u.safety.number);
		put_str(o, "fingerprint", ev->u.safety.fingerprint);
		break;
	case CLIENT_EV_VERIFIED:
		put_str(o, "nick", ev->u.verified.nick);
		put_str(o, "fingerprint", ev->u.verified.fingerprint);
		break;
	case CLIENT_EV_PONG:
		put_int(o, "rtt_ms", ev->u.pong.rtt_ms);
		break;
	case CLIENT_EV_CONNECTION_LOST:
		put_str(o, "reason", ev->u.connection.reason);
		put_int(o, "retry_ms", ev->u.connection.retry_ms);
		break;
	case CLIENT_EV_DISCONNECTED:
	case CLIENT_EV_LEFT:
	case CLIENT_EV_RECONNECTED:
	case CLIENT_EV_COUNT_:
		break;
	}
}

static void print_json(json_t *o)
{
	/* Every byte printable ASCII: JSON escapes carry the exact text, and
	 * nothing in it can act on a terminal that shows the stream. */
	char *s = o ? json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII | JSON_PRESERVE_ORDER) : NULL;
	json_decref(o);
	if (!s)
		return;
	/* (jansson leaves DEL as it is; it can only be inside a string.) */
	for (const char *p = s; *p; p++) {
		if (*p == 0x7f)
			fputs("\\u007f", stdout);
		else
			fputc(*p, stdout);
	}
	fputc('\n', stdout);
	fflush(stdout);
	free(s);
}

static void batch_event(void *ctx, const struct client_event *ev)
{
	(void)ctx;
	if (ev->type >= CLIENT_EV_COUNT_)
		return;
	json_t *o = json_object();
	put_str(o, "event", event_names[ev->type]);
	if (ev->room && *ev->room)
		put_str(o, "room", ev->room);
	event_fields(o, ev);
	print_json(o);
}

static void batch_error(void *ctx, const char *room, const char *code, const char *message)
{
	struct client_event ev = {.type = CLIENT_EV_ERROR, .room = room};
	ev.u.error.code = code;
	ev.u.error.message = message;
	batch_event(ctx, &ev);
}

static void batch_help(void *ctx, const char *const *lines, size_t n)
{
	(void)ctx;
	json_t *o = json_object();
	put_str(o, "event", "help");
	put(o, "commands", member_list(lines, n));
	print_json(o);
}

static void batch_pass_error(void *ctx, const char *code, const char *message)
{
	batch_error(ctx, NULL, code, message);
}

static void batch_pass_changed(void *ctx, bool protected)
{
	(void)ctx;
	json_t *o = json_object();
	put_str(o, "event", "passphrase_changed");
	put(o, "protected", json_boolean(protected));
	print_json(o);
}

const struct passphrase_report batch_passphrase_report = {batch_pass_error, batch_pass_changed,
							  NULL};

int batch_run(const struct client_config *cfg, struct event_base *base)
{
	const struct linemode_view view = {batch_event, batch_error, batch_help, true, NULL};
	return linemode_run(cfg, base, &view);
}
