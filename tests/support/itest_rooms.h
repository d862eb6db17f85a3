/* Helpers for the room integration tests (tests/test_itest_rooms.c,
 * tests/test_itest_tamper.c): batch-client commands that check the event
 * they produce, and the server's database edited with the sqlite3 program.
 *
 * Unlike itest.h, these assert (cmocka): they are test steps, not library
 * calls, and a failed step ends the test with the harness's diagnostics. */
#ifndef CC_TESTS_ITEST_ROOMS_H
#define CC_TESTS_ITEST_ROOMS_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "itest.h"

#define RT_ROOM_HEX 33  /* 32 hex digits and the NUL */

/* Both programs' servers: a 2048-bit key is made on first start. */
extern const char *const rt_server_args[];

/* ---- a server -------------------------------------------------------------- */

struct rt_fixture {
	const char *dir;            /* everything of the test lives here */
	const char *data;           /* the server's --data */
	struct itest_server *srv;
	int port;
};

/* Skips the test without the programs (or, with DB, without the sqlite3
 * program); makes DIR and starts a server with rt_server_args in
 * DIR/server. With DB, also points the rt_sql*() helpers at its database. */
void rt_start(struct rt_fixture *f, const char *name, int db);
/* Stops the server: exit status 0 (no crash, no sanitizer report). */
void rt_stop(struct rt_fixture *f);

/* ---- clients ------------------------------------------------------------- */

/* Starts a batch client with HOME (which must exist) and checks its
 * "registered" event names WANT_NICK. NICK NULL: the saved nickname. */
struct itest_client *rt_client(int port, const char *home, const char *nick,
			       const char *want_nick);
/* Starts N clients (homes DIR/NICK) at once, so their keys are made in
 * parallel, then waits for each to register. */
void rt_clients(int port, const char *dir, const char *const *nicks, size_t n,
		struct itest_client **out);
/* /quit, exit status 0. */
void rt_quit(struct itest_client *c);
/* The server went away before the client registered: error "closed", exit
 * status 1. */
void rt_lost_server(struct itest_client *c);
/* The server of a registered client went away: connection_lost (the client
 * would try again by itself); /quit ends it at once, exit status 0. */
void rt_lost_quit(struct itest_client *c);

/* Sends a line (printf-style) and returns the next event, which must be
 * EVENT (caller json_decref()s). */
json_t *rt_cmd(struct itest_client *c, const char *event, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* /ping and its pong: proves nothing else was printed before it. */
void rt_ping(struct itest_client *c);

/* ---- rooms ---------------------------------------------------------------- */

/* /create MEMBERS TITLE; checks room_created (title, admin, members: the
 * NULL-terminated WANT, in order) and writes the room id to ROOM. */
void rt_create(struct itest_client *c, const char *members, const char *title,
	       const char *const *want, char room[RT_ROOM_HEX]);
/* As rt_create, but a chain of one record per member, as clients made them
 * before an ADD could name several (tests whose attacks edit one member's
 * record): the room made with the first member, then each other one added
 * by the admin, who joins to do it and disconnects after. want is the whole
 * room. */
void rt_create_one_by_one(struct itest_client *c, const char *members, const char *title,
			  const char *const *want, char room[RT_ROOM_HEX]);
/* 1 if the JSON array ARR holds exactly the NULL-terminated strings WANT,
 * in order. */
int rt_same_list(const json_t *arr, const char *const *want);
/* /rooms; returns the "rooms" array (caller json_decref()s). */
json_t *rt_rooms(struct itest_client *c);
/* The entry for ROOM in a rooms array (borrowed), or NULL. */
json_t *rt_rooms_find(json_t *rooms, const char *room);
/* /join ROOM; checks "joined" (room; backlog = BACKLOG unless it is -1) and
 * returns it (caller json_decref()s). */
json_t *rt_join(struct itest_client *c, const char *room, int backlog);

struct rt_sent {
	long long seq, msg_id, ts;
};
/* Says TEXT in ROOM (as a plain line if PLAIN, the current room; else with
 * /say) and checks "sent". */
struct rt_sent rt_say(struct itest_client *c, const char *room, const char *text, int plain);
/* The next event is a verified message in ROOM from FROM with TEXT; its
 * msg_id must be MSG_ID and its seq SEQ unless they are -1. Returns seq. */
long long rt_expect_msg(struct itest_client *c, const char *room, const char *from,
			const char *text, long long seq, long long msg_id);
/* The next event is an error CODE about ROOM, claiming sender FROM (NULL:
 * no "from" key). Returns it (caller json_decref()s). */
json_t *rt_expect_room_error(struct itest_client *c, const char *code, const char *room,
			     const char *from);

/* NICK left ROOM: C gets member_left, then "rekeyed" (the new EPOCH that a
 * departure starts, made by the admin BY's client by itself). */
void rt_expect_left(struct itest_client *c, const char *room, const char *nick, int epoch,
		    const char *by);

/* ---- the server's database ------------------------------------------------ */

/* The sqlite3 program (ITEST_SQLITE3, else /usr/bin/sqlite3), or NULL with
 * a note on stderr if it is not there. */
const char *rt_sqlite3(void);
/* Points the helpers below at DB, with SCRATCH for the program's output. */
void rt_db_use(const char *db, const char *scratch_dir);
/* Runs SQL (printf-style); asserts it succeeded. Returns what it printed,
 * trailing newlines removed (caller frees). */
char *rt_sql(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A query that prints one integer. */
long long rt_sql_int(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* What a hostile server's operator does to replay a message: the room's
 * (row id) message msg_id stored again under the room's next id. */
void rt_sql_message_copy(long long room, long long msg_id);
/* A query that prints one hex() value: the bytes (caller frees), *LEN set. */
uint8_t *rt_sql_blob(size_t *len, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Lowercase hex of N bytes (caller frees): for X'..' literals. */
char *rt_hex(const uint8_t *p, size_t n);

#endif
