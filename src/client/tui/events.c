/* The core's events as lines in the windows, security events also as
 * notices that wait for the user's acknowledgement. Every string another
 * party chose (nicknames, titles, texts, the server's words) goes through
 * tui_str_safe (util/display.h) before it is kept. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/tui/internal.h"
#include "util/log.h"

/* The room's window, opened if open and it has none; else the one shown. */
static struct tui_window *window_for(struct tui *t, const char *room, bool open)
{
	struct tui_window *w = NULL;
	if (room && *room) {
		bool had = tui_model_find(&t->model, room, NULL) != NULL;
		w = open ? tui_model_open(&t->model, room) : tui_model_find(&t->model, room, NULL);
		if (w && !had)
			events_refresh_title(t, w);
	}
	return w ? w : tui_model_current(&t->model);
}

void events_refresh_title(struct tui *t, struct tui_window *w)
{
	size_t n = client_room_count(t->client);
	for (size_t i = 0; i < n && !w->is_status; i++) {
		struct client_room_view v;
		if (client_room_view_get(t->client, i, &v) == CC_OK && strcmp(v.room, w->room) == 0 &&
		    *v.title) {
			struct tui_str s = {0};
			tui_str_safe(&s, v.title);
			char *title = tui_str_take(&s);
			if (title)
				tui_window_set_title(w, title);
			free(title);
		}
		client_room_view_free(&v);
	}
}

/* A line built with s, in w, as kind, raising w's activity to act. */
static void put(struct tui *t, struct tui_window *w, enum tui_line_kind kind,
		enum tui_activity act, struct tui_str *s)
{
	char *text = tui_str_take(s);
	if (!text)
		return;
	tui_model_add(&t->model, w, kind, TUI_MARK_NONE, tui_now_ms(), NULL, text, act);
	free(text);
}

/* A security event: a line in its window, and a notice until acknowledged. */
static void security(struct tui *t, const char *room, struct tui_str *s)
{
	struct tui_window *w = window_for(t, room, true);
	char *text = tui_str_take(s);
	if (!text)
		return;
	tui_model_add(&t->model, w, TUI_LINE_SECURITY, TUI_MARK_NONE, tui_now_ms(), NULL, text,
		      TUI_ACT_SECURITY);
	tui_model_notice(&t->model, room, tui_now_ms(), text);
	free(text);
	screen_bell(t);
}

static void add_room_prefix(struct tui_str *s, const char *room)
{
	if (room && *room)
		tui_str_add(s, "[%.8s] ", room);
}

/* ---- errors ----------------------------------------------------------------------- */

static bool is_security_error(const struct client_event *ev)
{
	const char *code = ev->u.error.code ? ev->u.error.code : "";
	return ev->u.error.from || strcmp(code, "security") == 0 ||
	       strcmp(code, "server_key_changed") == 0;
}

static void show_error(struct tui *t, const struct client_event *ev)
{
	struct tui_str s = {0};
	const char *code = ev->u.error.code ? ev->u.error.code : "error";

	if (t->in_run && ev->request && !is_security_error(ev)) {
		/* A line refused at once: its own line says why. */
		struct tui_str why = {0};
		tui_str_safe(&why, ev->u.error.message);
		char *w = tui_str_take(&why);
		snprintf(t->run_why, sizeof t->run_why, "%s", w ? w : "");
		free(w);
		if (t->run_said)
			return;  /* said there, not twice */
	}
	struct tui_line *own = tui_model_pending_line(&t->model, ev->request, false);
	if (own && !is_security_error(ev)) {
		/* Said on its own line, not twice. */
		free(own->note);
		tui_str_add(&s, "(not sent: ");
		tui_str_safe(&s, code);
		tui_str_add(&s, ": ");
		tui_str_safe(&s, ev->u.error.message);
		tui_str_add(&s, ")");
		own->note = tui_str_take(&s);
		own->mark = TUI_MARK_FAILED;
		return;
	}
	if (strcmp(code, "server_key_changed") == 0) {
		tui_str_add(&s, "the key of server ");
		tui_str_safe(&s, ev->u.error.server);
		tui_str_add(&s, " is not the one pinned: pinned ");
		tui_str_safe(&s, ev->u.error.pinned);
		tui_str_add(&s, ", offered ");
		tui_str_safe(&s, ev->u.error.offered);
		tui_str_add(&s, ". Nothing was sent to it.");
		security(t, "", &s);
		snprintf(t->fatal, sizeof t->fatal,
			 "server_key_changed: the key of server %.256s is not the one pinned "
			 "(pinned %.64s, offered %.64s); if its operator really replaced it, delete "
			 "its line in known_servers",
			 ev->u.error.server ? ev->u.error.server : "",
			 ev->u.error.pinned ? ev->u.error.pinned : "",
			 ev->u.error.offered ? ev->u.error.offered : "");
		return;
	}
	if (is_security_error(ev)) {
		add_room_prefix(&s, ev->room);
		if (ev->u.error.from) {
			tui_str_add(&s, "a message claiming to be from ");
			tui_str_safe(&s, ev->u.error.from);
			tui_str_add(&s, " was refused (");
			tui_str_safe(&s, code);
			tui_str_add(&s, "): ");
		} else {
			tui_str_add(&s, "security: ");
		}
		tui_str_safe(&s, ev->u.error.message);
		security(t, ev->room, &s);
		return;
	}
	tui_str_safe(&s, code);
	tui_str_add(&s, ": ");
	tui_str_safe(&s, ev->u.error.message);
	put(t, window_for(t, ev->room, false), TUI_LINE_ERROR, TUI_ACT_EVENT, &s);
	if (ev->request == 0 && !t->in_run) {
		/* The core's own word may close the session: said again once
		 * the screen is gone (if it did). A refused line never does. */
		snprintf(t->fatal, sizeof t->fatal, "%.64s: %.400s", code,
			 ev->u.error.message ? ev->u.error.message : "");
	}
}

/* ---- rooms ------------------------------------------------------------------------- */

static void add_members(struct tui_str *s, const char *const *members, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (i)
			tui_str_add(s, ", ");
		tui_str_safe(s, members[i]);
	}
}

static void show_room(struct tui *t, const struct client_event *ev)
{
	struct tui_window *w = window_for(t, ev->room, true);
	struct tui_str s = {0};
	bool joined = ev->type == CLIENT_EV_JOINED;

	tui_str_safe(&s, ev->u.room.title);
	char *title = tui_str_take(&s);
	if (title && *title)
		tui_window_set_title(w, title);
	tui_str_add(&s, "%s \"%s\" [%.32s], admin ", joined ? "joined" : "created room",
		    title ? title : "", ev->room);
	free(title);
	tui_str_safe(&s, ev->u.room.admin);
	tui_str_add(&s, ", members ");
	add_members(&s, ev->u.room.members, ev->u.room.nmembers);
	if (joined && ev->u.room.backlog)
		tui_str_add(&s, "; %u message%s while away follow", ev->u.room.backlog,
			    ev->u.room.backlog == 1 ? "" : "s");
	if (!joined)
		tui_str_add(&s, ". /join %.8s to talk in it", ev->room);
	put(t, w, TUI_LINE_INFO, TUI_ACT_EVENT, &s);
	if (!joined && w != tui_model_current(&t->model)) {
		size_t i = 0;
		tui_model_find(&t->model, ev->room, &i);
		tui_say(t, NULL, TUI_LINE_INFO,
			"created room [%.32s] (window %zu); /join %.8s to talk in it", ev->room, i + 1,
			ev->room);
	}
}

static void show_rooms(struct tui *t, const struct client_event *ev)
{
	if (ev->u.rooms.n == 0)
		tui_say(t, NULL, TUI_LINE_INFO, "no rooms");
	for (size_t i = 0; i < ev->u.rooms.n; i++) {
		const struct client_room_info *r = &ev->u.rooms.list[i];
		struct tui_str s = {0};
		tui_str_add(&s, "%.32s \"", r->room);
		tui_str_safe(&s, r->title);
		tui_str_add(&s, "\" admin ");
		tui_str_safe(&s, r->admin);
		tui_str_add(&s, ", %u members, %u unread%s", r->members, r->unread,
			    r->verified ? "" : " (join to check it)");
		put(t, tui_model_current(&t->model), TUI_LINE_INFO, TUI_ACT_EVENT, &s);
	}
}

static void show_change(struct tui *t, const struct client_event *ev)
{
	struct tui_str s = {0};
	const char *nick = ev->u.change.nick, *by = ev->u.change.by;
	switch (ev->type) {
	case CLIENT_EV_MEMBER_ADDED:
		tui_str_safe(&s, nick);
		tui_str_add(&s, " was added by ");
		tui_str_safe(&s, by);
		break;
	case CLIENT_EV_MEMBER_LEFT:
		tui_str_safe(&s, nick);
		tui_str_add(&s, " left");
		break;
	case CLIENT_EV_MEMBER_KICKED:
		tui_str_safe(&s, nick);
		tui_str_add(&s, " was expelled by ");
		tui_str_safe(&s, by);
		break;
	case CLIENT_EV_MEMBER_EXPIRED:
		tui_str_safe(&s, nick);
		tui_str_add(&s, "'s nickname expired; signed out by ");
		tui_str_safe(&s, by);
		break;
	case CLIENT_EV_ADMIN_CHANGED:
		tui_str_safe(&s, ev->u.change.admin);
		tui_str_add(&s, " is the admin now, named by ");
		tui_str_safe(&s, by);
		break;
	case CLIENT_EV_REKEYED:
		tui_str_add(&s, "new room key from ");
		tui_str_safe(&s, by);
		break;
	case CLIENT_EV_EXPELLED:
	case CLIENT_EV_EXPIRED:
	case CLIENT_EV_REMOVED:
		add_room_prefix(&s, ev->room);
		tui_str_add(&s, ev->type == CLIENT_EV_EXPELLED ? "you were expelled from the room by "
				: ev->type == CLIENT_EV_EXPIRED ? "your nickname expired: you were signed "
								  "out of the room by "
								: "you are no longer a member of the room: ");
		tui_str_safe(&s, by);
		security(t, ev->room, &s);
		return;
	default:
		return;
	}
	if (ev->type == CLIENT_EV_MEMBER_ADDED || ev->type == CLIENT_EV_MEMBER_KICKED ||
	    ev->type == CLIENT_EV_REKEYED)
		tui_str_add(&s, " (key epoch %u)", ev->u.change.epoch);
	put(t, window_for(t, ev->room, true), TUI_LINE_INFO, TUI_ACT_EVENT, &s);
}

/* ---- messages ------------------------------------------------------------------------ */

static void show_message(struct tui *t, const struct client_event *ev)
{
	struct tui_window *w = window_for(t, ev->room, true);
	struct tui_str s = {0};
	enum tui_mark mark = ev->u.message.safety_verified ? TUI_MARK_VERIFIED
			     : ev->u.message.verified	    ? TUI_MARK_PINNED
							    : TUI_MARK_UNPINNED;
	bool own = strcmp(ev->u.message.from, t->nick) == 0;

	tui_str_safe(&s, ev->u.message.from);
	char *nick = tui_str_take(&s);
	tui_str_safe_n(&s, ev->u.message.text, ev->u.message.len);
	char *text = tui_str_take(&s);
	if (nick && text) {
		/* Our own lines from before (a backlog) are ours, not another's. */
		tui_model_add(&t->model, w, own ? TUI_LINE_OWN : TUI_LINE_MSG,
			      own ? TUI_MARK_SENT : mark, ev->u.message.ts_ms, nick, text,
			      TUI_ACT_MESSAGE);
		if (w != tui_model_current(&t->model))
			screen_bell(t);
	}
	free(nick);
	free(text);
}

static void show_gap(struct tui *t, const struct client_event *ev)
{
	struct tui_str s = {0};
	add_room_prefix(&s, ev->room);
	tui_str_add(&s, "messages %llu to %llu of ", (unsigned long long)ev->u.gap.first,
		    (unsigned long long)ev->u.gap.last);
	tui_str_safe(&s, ev->u.gap.from);
	tui_str_add(&s, " never arrived (dropped by the server, or refused)");
	security(t, ev->room, &s);
}

static void show_sent(struct tui *t, const struct client_event *ev)
{
	struct tui_line *l = tui_model_pending_line(&t->model, ev->request, true);
	if (l && l->mark == TUI_MARK_PENDING)
		l->mark = TUI_MARK_SENT;
}

/* ---- keys and the rest ------------------------------------------------------------------ */

static void show_key_changed(struct tui *t, const struct client_event *ev)
{
	struct tui_str s = {0};
	tui_str_add(&s, "the key of ");
	tui_str_safe(&s, ev->u.key_changed.nick);
	tui_str_add(&s, " changed: pinned %.16s\u2026, now %.16s\u2026. Their messages are marked ! "
		    "until you compare /safety ", ev->u.key_changed.old_fp, ev->u.key_changed.new_fp);
	tui_str_safe(&s, ev->u.key_changed.nick);
	tui_str_add(&s, " with them and /verify ");
	tui_str_safe(&s, ev->u.key_changed.nick);
	security(t, ev->room, &s);
}

static void show_registered(struct tui *t, const struct client_event *ev)
{
	const struct client_event *e = ev;
	snprintf(t->nick, sizeof t->nick, "%s", e->u.registered.nick);
	snprintf(t->server, sizeof t->server, "%s", e->u.registered.server);
	snprintf(t->server_fp, sizeof t->server_fp, "%s", e->u.registered.server_fingerprint);
	struct tui_window *status = t->model.wins[0];
	struct tui_str s = {0};
	tui_str_add(&s, "registered as ");
	tui_str_safe(&s, e->u.registered.nick);
	tui_str_add(&s, " (your key %.64s)", e->u.registered.fingerprint);
	put(t, status, TUI_LINE_INFO, TUI_ACT_EVENT, &s);
	tui_str_add(&s, "server %.256s, key %.64s%s", e->u.registered.server,
		    e->u.registered.server_fingerprint,
		    e->u.registered.server_key_new ? ": first contact, pinned from now on"
						   : " (the pinned one)");
	put(t, status, TUI_LINE_INFO, TUI_ACT_EVENT, &s);
	/* What a newcomer types next. */
	tui_say(t, status, TUI_LINE_INFO, "/rooms lists your rooms, then /join ROOM opens one (TAB "
		"completes the ids listed); /create NICK[,NICK...] TITLE makes one; /help for the "
		"rest");
}

void events_show(struct tui *t, const struct client_event *ev)
{
	struct tui_str s = {0};
	switch (ev->type) {
	case CLIENT_EV_REGISTERED:
		show_registered(t, ev);
		break;
	case CLIENT_EV_ERROR:
		show_error(t, ev);
		break;
	case CLIENT_EV_ROOM_CREATED:
	case CLIENT_EV_JOINED:
		show_room(t, ev);
		break;
	case CLIENT_EV_ROOMS:
		show_rooms(t, ev);
		break;
	case CLIENT_EV_MESSAGE:
		show_message(t, ev);
		break;
	case CLIENT_EV_GAP:
		show_gap(t, ev);
		break;
	case CLIENT_EV_SENT:
		show_sent(t, ev);
		break;
	case CLIENT_EV_DISCONNECTED:
		tui_str_add(&s, "stopped hearing room [%.32s] (still a member; /join to come back)",
			    ev->room);
		put(t, window_for(t, ev->room, false), TUI_LINE_INFO, TUI_ACT_EVENT, &s);
		break;
	case CLIENT_EV_LEFT:
		tui_str_add(&s, "left room [%.32s]", ev->room);
		put(t, window_for(t, ev->room, false), TUI_LINE_INFO, TUI_ACT_EVENT, &s);
		break;
	case CLIENT_EV_KEY_CHANGED:
		show_key_changed(t, ev);
		break;
	case CLIENT_EV_FINGERPRINT:
		tui_str_safe(&s, ev->u.fingerprint.nick);
		tui_str_add(&s, ": %.64s", ev->u.fingerprint.fingerprint);
		if (ev->u.fingerprint.others)
			tui_str_add(&s, "%s", ev->u.fingerprint.verified  ? " (verified)"
					      : ev->u.fingerprint.trusted ? " (pinned, not verified)"
									  : " (NOT the pinned key)");
		put(t, tui_model_current(&t->model), TUI_LINE_INFO, TUI_ACT_EVENT, &s);
		break;
	case CLIENT_EV_SAFETY_NUMBER:
		tui_str_add(&s, "safety number with ");
		tui_str_safe(&s, ev->u.safety.nick);
		tui_str_add(&s, ": %.60s (compare it with theirs, then /verify ", ev->u.safety.number);
		tui_str_safe(&s, ev->u.safety.nick);
		tui_str_add(&s, ")");
		put(t, tui_model_current(&t->model), TUI_LINE_INFO, TUI_ACT_EVENT, &s);
		break;
	case CLIENT_EV_VERIFIED:
		tui_str_add(&s, "verified ");
		tui_str_safe(&s, ev->u.verified.nick);
		tui_str_add(&s, " (%.64s): their messages are marked \u2713", ev->u.verified.fingerprint);
		put(t, tui_model_current(&t->model), TUI_LINE_INFO, TUI_ACT_EVENT, &s);
		break;
	case CLIENT_EV_PONG:
		tui_say(t, NULL, TUI_LINE_INFO, "pong: %llu ms", (unsigned long long)ev->u.pong.rtt_ms);
		break;
	case CLIENT_EV_CONNECTION_LOST:
		t->retry_at_ms = tui_mono_ms() + ev->u.connection.retry_ms;
		tui_str_add(&s, "connection lost (");
		tui_str_safe(&s, ev->u.connection.reason);
		tui_str_add(&s, "); reconnecting in %llu s",
			    (unsigned long long)(ev->u.connection.retry_ms + 999) / 1000);
		put(t, t->model.wins[0], TUI_LINE_ERROR, TUI_ACT_EVENT, &s);
		break;
	case CLIENT_EV_RECONNECTED:
		t->retry_at_ms = 0;
		tui_say(t, t->model.wins[0], TUI_LINE_INFO, "reconnected");
		break;
	case CLIENT_EV_KEY_ROTATED:
		tui_str_add(&s, "you moved to a new identity key %.64s; the old one (%.16s\u2026) "
			    "is refused from now on, and every room is told", ev->u.key_rotated.new_fp,
			    ev->u.key_rotated.old_fp);
		put(t, t->model.wins[0], TUI_LINE_INFO, TUI_ACT_EVENT, &s);
		break;
	case CLIENT_EV_KEY_MOVED:
		tui_str_safe(&s, ev->u.key_moved.nick);
		tui_str_add(&s, " moved to a new key (%.16s\u2026), signed by their old one%s",
			    ev->u.key_moved.new_fp,
			    ev->u.key_moved.verified  ? ": still verified"
			    : ev->u.key_moved.trusted ? ": pinned in place of the old one"
						      : "");
		put(t, window_for(t, ev->room, true), TUI_LINE_INFO, TUI_ACT_EVENT, &s);
		break;
	case CLIENT_EV_COUNT_:
		break;
	default:
		show_change(t, ev);
		break;
	}
}

void events_done(struct tui *t, uint32_t request, cc_err err)
{
	struct tui_line *l = tui_model_pending_line(&t->model, request, true);
	if (!l)
		return;
	if (err && l->mark != TUI_MARK_FAILED) {
		l->mark = TUI_MARK_FAILED;
		if (!l->note) {
			struct tui_str s = {0};
			tui_str_add(&s, "(not sent: %s)", cc_err_str(err));
			l->note = tui_str_take(&s);
		}
	} else if (!err && l->mark == TUI_MARK_PENDING) {
		l->mark = TUI_MARK_SENT;
	}
}

void events_log(struct tui *t, int level, const char *line)
{
	struct tui_str s = {0};
	tui_str_safe(&s, line);
	put(t, t->model.wins[0], level <= LOG_LEVEL_WARN ? TUI_LINE_ERROR : TUI_LINE_INFO,
	    TUI_ACT_EVENT, &s);
}
