/* Room test helpers: see itest_rooms.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "itest_rooms.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crypto/crypto.h"

const char *const rt_server_args[] = {"--rsa-bits", "2048", NULL};

/* ---- a server ------------------------------------------------------------ */

void rt_start(struct rt_fixture *f, const char *name, int db)
{
	memset(f, 0, sizeof *f);
	if (!itest_have_binaries() || (db && !rt_sqlite3()))
		skip();
	assert_int_equal(crypto_init(), CC_OK);
	f->dir = itest_tmpdir(name);
	assert_non_null(f->dir);
	f->data = itest_subdir(f->dir, "server");
	assert_non_null(f->data);
	f->srv = itest_server_start(f->data, rt_server_args);
	assert_non_null(f->srv);
	f->port = itest_server_port(f->srv);
	if (db)
		rt_db_use(itest_path(f->data, "cryptocat.db"), f->dir);
}

void rt_stop(struct rt_fixture *f)
{
	assert_int_equal(itest_server_stop(f->srv), 0);
	f->srv = NULL;
}

/* ---- clients ------------------------------------------------------------- */

static void check_registered(struct itest_client *c, const char *want_nick)
{
	json_t *ev = itest_client_expect(c, "registered", ITEST_TIMEOUT_MS);
	assert_non_null(ev);
	assert_string_equal(itest_json_str(ev, "nick"), want_nick);
	json_decref(ev);
}

struct itest_client *rt_client(int port, const char *home, const char *nick,
			       const char *want_nick)
{
	struct itest_client *c = itest_client_start(port, home, nick, NULL);
	assert_non_null(c);
	check_registered(c, want_nick);
	return c;
}

void rt_clients(int port, const char *dir, const char *const *nicks, size_t n,
		struct itest_client **out)
{
	for (size_t i = 0; i < n; i++) {
		const char *home = itest_subdir(dir, nicks[i]);
		assert_non_null(home);
		out[i] = itest_client_start(port, home, nicks[i], NULL);
		assert_non_null(out[i]);
	}
	for (size_t i = 0; i < n; i++)
		check_registered(out[i], nicks[i]);
}

void rt_quit(struct itest_client *c)
{
	assert_int_equal(itest_client_send(c, "/quit"), 0);
	assert_int_equal(itest_client_wait_exit(c, ITEST_TIMEOUT_MS), 0);
}

void rt_lost_server(struct itest_client *c)
{
	json_t *ev = itest_client_expect_error(c, "closed", ITEST_TIMEOUT_MS);
	assert_non_null(ev);
	json_decref(ev);
	assert_int_equal(itest_client_wait_exit(c, ITEST_TIMEOUT_MS), 1);
}

void rt_lost_quit(struct itest_client *c)
{
	json_t *ev = itest_client_expect(c, "connection_lost", ITEST_TIMEOUT_MS);
	assert_non_null(ev);
	assert_true(itest_json_int(ev, "retry_ms", 0) > 0);
	json_decref(ev);
	assert_int_equal(itest_client_send(c, "/quit"), 0);
	assert_int_equal(itest_client_wait_exit(c, ITEST_TIMEOUT_MS), 0);
}

/* printf into a malloc'd string. */
static char *vformat(const char *fmt, va_list ap)
{
	va_list again;
	va_copy(again, ap);
	int n = vsnprintf(NULL, 0, fmt, ap);
	assert_true(n >= 0);
	char *s = malloc((size_t)n + 1);
	assert_non_null(s);
	vsnprintf(s, (size_t)n + 1, fmt, again);
	va_end(again);
	return s;
}

json_t *rt_cmd(struct itest_client *c, const char *event, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *line = vformat(fmt, ap);
	va_end(ap);
	assert_int_equal(itest_client_send(c, line), 0);
	free(line);
	json_t *ev = itest_client_expect(c, event, ITEST_TIMEOUT_MS);
	assert_non_null(ev);
	return ev;
}

void rt_ping(struct itest_client *c)
{
	json_decref(rt_cmd(c, "pong", "/ping"));
}

/* ---- rooms ---------------------------------------------------------------- */

int rt_same_list(const json_t *arr, const char *const *want)
{
	size_t n = 0;
	if (!json_is_array(arr))
		return 0;
	for (; want[n]; n++) {
		const char *s = json_string_value(json_array_get(arr, n));
		if (!s || strcmp(s, want[n]) != 0)
			return 0;
	}
	return json_array_size(arr) == n;
}

static int is_room_hex(const char *s)
{
	if (!s || strlen(s) != RT_ROOM_HEX - 1)
		return 0;
	for (; *s; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
			return 0;
	return 1;
}

void rt_create(struct itest_client *c, const char *members, const char *title,
	       const char *const *want, char room[RT_ROOM_HEX])
{
	json_t *ev = rt_cmd(c, "room_created", "/create %s %s", members, title);
	const char *id = itest_json_str(ev, "room");
	assert_true(is_room_hex(id));
	snprintf(room, RT_ROOM_HEX, "%s", id);
	assert_string_equal(itest_json_str(ev, "title"), title);
	assert_string_equal(itest_json_str(ev, "admin"), itest_client_nick(c));
	assert_true(rt_same_list(json_object_get(ev, "members"), want));
	json_decref(ev);
}

void rt_create_one_by_one(struct itest_client *c, const char *members, const char *title,
			  const char *const *want, char room[RT_ROOM_HEX])
{
	char first[64];
	const char *rest = strchr(members, ',');
	size_t n = rest ? (size_t)(rest - members) : strlen(members);
	assert_true(n < sizeof first);
	memcpy(first, members, n);
	first[n] = '\0';
	const char *const just_first[] = {itest_client_nick(c), first, NULL};
	rt_create(c, first, title, just_first, room);
	if (!rest)
		return;
	json_decref(rt_join(c, room, -1));
	while (rest) {
		const char *next = strchr(rest + 1, ',');
		n = next ? (size_t)(next - rest - 1) : strlen(rest + 1);
		assert_true(n < sizeof first);
		memcpy(first, rest + 1, n);
		first[n] = '\0';
		json_t *ev = rt_cmd(c, "member_added", "/add %s", first);
		assert_string_equal(itest_json_str(ev, "nick"), first);
		json_decref(ev);
		rest = next;
	}
	json_t *ev = rt_cmd(c, "disconnected", "/disconnect %s", room);
	json_decref(ev);
	json_t *rooms = rt_rooms(c);
	json_t *r = rt_rooms_find(rooms, room);
	assert_non_null(r);
	size_t want_n = 0;
	while (want[want_n])
		want_n++;
	assert_int_equal(itest_json_int(r, "members", -1), (long long)want_n);
	json_decref(rooms);
}

json_t *rt_rooms(struct itest_client *c)
{
	json_t *ev = rt_cmd(c, "rooms", "/rooms");
	json_t *rooms = json_object_get(ev, "rooms");
	assert_true(json_is_array(rooms));
	json_incref(rooms);
	json_decref(ev);
	return rooms;
}

json_t *rt_rooms_find(json_t *rooms, const char *room)
{
	size_t i;
	json_t *r;
	json_array_foreach(rooms, i, r)
		if (strcmp(itest_json_str(r, "room") ? itest_json_str(r, "room") : "", room) == 0)
			return r;
	return NULL;
}

json_t *rt_join(struct itest_client *c, const char *room, int backlog)
{
	json_t *ev = rt_cmd(c, "joined", "/join %s", room);
	assert_string_equal(itest_json_str(ev, "room"), room);
	if (backlog >= 0)
		assert_int_equal(itest_json_int(ev, "backlog", -1), backlog);
	return ev;
}

struct rt_sent rt_say(struct itest_client *c, const char *room, const char *text, int plain)
{
	struct rt_sent s;
	json_t *ev = plain ? rt_cmd(c, "sent", "%s", text)
			   : rt_cmd(c, "sent", "/say %s %s", room, text);
	assert_string_equal(itest_json_str(ev, "room"), room);
	s.seq = itest_json_int(ev, "seq", -1);
	s.msg_id = itest_json_int(ev, "msg_id", -1);
	s.ts = itest_json_int(ev, "ts", -1);
	assert_true(s.seq >= 1 && s.msg_id >= 1 && s.ts > 0);
	json_decref(ev);
	return s;
}

long long rt_expect_msg(struct itest_client *c, const char *room, const char *from,
			const char *text, long long seq, long long msg_id)
{
	json_t *ev = itest_client_expect(c, "message", ITEST_TIMEOUT_MS);
	assert_non_null(ev);
	assert_string_equal(itest_json_str(ev, "room"), room);
	assert_string_equal(itest_json_str(ev, "from"), from);
	assert_string_equal(itest_json_str(ev, "text"), text);
	assert_true(json_is_true(json_object_get(ev, "verified")));
	long long got_seq = itest_json_int(ev, "seq", -1);
	assert_true(got_seq >= 1);
	if (seq >= 0)
		assert_int_equal(got_seq, seq);
	if (msg_id >= 0)
		assert_int_equal(itest_json_int(ev, "msg_id", -1), msg_id);
	assert_true(itest_json_int(ev, "ts", -1) > 0);
	json_decref(ev);
	return got_seq;
}

json_t *rt_expect_room_error(struct itest_client *c, const char *code, const char *room,
			     const char *from)
{
	json_t *ev = itest_client_expect_error(c, code, ITEST_TIMEOUT_MS);
	assert_non_null(ev);
	assert_string_equal(itest_json_str(ev, "room"), room);
	if (from)
		assert_string_equal(itest_json_str(ev, "from"), from);
	else
		assert_null(json_object_get(ev, "from"));
	assert_non_null(itest_json_str(ev, "message"));
	return ev;
}

void rt_expect_left(struct itest_client *c, const char *room, const char *nick, int epoch,
		    const char *by)
{
	json_t *ev = itest_client_expect(c, "member_left", ITEST_TIMEOUT_MS);
	assert_non_null(ev);
	assert_string_equal(itest_json_str(ev, "room"), room);
	assert_string_equal(itest_json_str(ev, "nick"), nick);
	json_decref(ev);
	ev = itest_client_expect(c, "rekeyed", ITEST_TIMEOUT_MS);
	assert_non_null(ev);
	assert_string_equal(itest_json_str(ev, "room"), room);
	assert_int_equal(itest_json_int(ev, "epoch", -1), epoch);
	assert_string_equal(itest_json_str(ev, "by"), by);
	json_decref(ev);
}

/* ---- the server's database ------------------------------------------------ */

static char rt_db[4200];
static char rt_db_out[4200];

const char *rt_sqlite3(void)
{
	const char *path = getenv("ITEST_SQLITE3");
	if (!path || !*path)
		path = "/usr/bin/sqlite3";
	if (access(path, X_OK) != 0) {
		fprintf(stderr, "[rooms] %s: not installed (Debian package sqlite3)\n", path);
		return NULL;
	}
	return path;
}

void rt_db_use(const char *db, const char *scratch_dir)
{
	snprintf(rt_db, sizeof rt_db, "%s", db);
	snprintf(rt_db_out, sizeof rt_db_out, "%s/sqlite3.out", scratch_dir);
}

static char *sql_run(const char *fmt, va_list ap)
{
	char *sql = vformat(fmt, ap);
	const char *bin = rt_sqlite3();
	assert_non_null(bin);
	/* The server may hold a write lock for one group commit: wait for it. */
	const char *const args[] = {"-batch", "-bail", "-cmd", ".timeout 10000", rt_db, sql,
				    NULL};
	unlink(rt_db_out);
	int status = itest_run(bin, args, rt_db_out, ITEST_TIMEOUT_MS);
	char *out = itest_read_file(rt_db_out, NULL);
	if (status != 0)
		fprintf(stderr, "[rooms] sqlite3 exit %d for: %s\n%s\n", status, sql,
			out ? out : "");
	free(sql);
	assert_int_equal(status, 0);
	assert_non_null(out);
	size_t len = strlen(out);
	while (len && (out[len - 1] == '\n' || out[len - 1] == '\r'))
		out[--len] = '\0';
	return out;
}

char *rt_sql(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *out = sql_run(fmt, ap);
	va_end(ap);
	return out;
}

long long rt_sql_int(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *out = sql_run(fmt, ap);
	va_end(ap);
	char *end;
	long long v = strtoll(out, &end, 10);
	if (end == out || *end)
		fprintf(stderr, "[rooms] not one integer: \"%s\"\n", out);
	assert_true(end != out && *end == '\0');
	free(out);
	return v;
}

void rt_sql_message_copy(long long room, long long msg_id)
{
	free(rt_sql("BEGIN;"
		    "INSERT INTO messages(room, msg_id, sender, epoch, ts_ms, blob)"
		    " SELECT room, (SELECT last_msg_id + 1 FROM rooms WHERE id = %lld), sender,"
		    " epoch, ts_ms, blob FROM messages WHERE room = %lld AND msg_id = %lld;"
		    "UPDATE rooms SET last_msg_id = last_msg_id + 1 WHERE id = %lld;"
		    "COMMIT;",
		    room, room, msg_id, room));
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

uint8_t *rt_sql_blob(size_t *len, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *out = sql_run(fmt, ap);
	va_end(ap);
	size_t n = strlen(out);
	if (n == 0 || n % 2)
		fprintf(stderr, "[rooms] not one hex value: \"%s\"\n", out);
	assert_true(n > 0 && n % 2 == 0);
	uint8_t *p = malloc(n / 2);
	assert_non_null(p);
	for (size_t i = 0; i < n / 2; i++) {
		int hi = hex_digit(out[2 * i]), lo = hex_digit(out[2 * i + 1]);
		assert_true(hi >= 0 && lo >= 0);
		p[i] = (uint8_t)(hi << 4 | lo);
	}
	free(out);
	*len = n / 2;
	return p;
}

char *rt_hex(const uint8_t *p, size_t n)
{
	static const char digits[] = "0123456789abcdef";
	char *s = malloc(2 * n + 1);
	assert_non_null(s);
	for (size_t i = 0; i < n; i++) {
		s[2 * i] = digits[p[i] >> 4];
		s[2 * i + 1] = digits[p[i] & 15];
	}
	s[2 * n] = '\0';
	return s;
}
