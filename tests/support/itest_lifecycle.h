/* Helpers for the membership-lifecycle and trust integration tests
 * (tests/test_itest_lifecycle.c, tests/test_itest_trust.c): a server with an
 * optional test clock (CRYPTOCAT_CLOCK_FILE), event checks, the server's
 * database, the clients' own key stores, and a raw in-process session on the
 * chan API for what a well-behaved client never sends.
 *
 * Like itest_rooms.h, these assert (cmocka): they are test steps. */
#ifndef CC_TESTS_ITEST_LIFECYCLE_H
#define CC_TESTS_ITEST_LIFECYCLE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "itest.h"
#include "itest_chan.h"
#include "itest_rooms.h"
#include "util/buf.h"
#include "util/err.h"

#define LC_KEY_LEN 32
#define LC_FP_HEX 65   /* 64 hex digits and the NUL */
#define LC_HOUR 3600ull

/* ---- a server, with or without the test clock ------------------------------ */

struct lc_fixture {
	const char *dir;            /* everything of the test lives here */
	const char *data;           /* the server's --data */
	const char *clock;          /* the clock file, or NULL (real time) */
	uint64_t t0;                /* the clock's first value (Unix seconds) */
	struct itest_server *srv;
	int port;
};

/* Makes DIR and starts a server (2048-bit key, --nick-ttl 86400). With
 * CLOCK, first points CRYPTOCAT_CLOCK_FILE (inherited by the server and every
 * client started after) at DIR/clock holding the current time, which becomes
 * f->t0. Also points the rt_sql*() helpers at the server's database. */
void lc_start(struct lc_fixture *f, const char *name, int clock);
/* Stops the server; status 0 (no crash, no sanitizer report). */
void lc_stop(struct lc_fixture *f);
/* Stops the server and starts it again on its port and data (its clients
 * pinned host:port). */
void lc_restart(struct lc_fixture *f);
/* Moves the test clock to t0 + HOURS hours (no wall time passes). */
void lc_clock_hours(struct lc_fixture *f, unsigned hours);
/* Writes SECS (Unix seconds) to the clock file PATH: whole, in a temporary
 * file renamed over it, so that no reader sees half a number. */
void lc_clock_write(const char *path, uint64_t secs);
/* The server on PORT's clock: the server_time_ms of the WELCOME it sends a
 * raw session (itest_chan.h) registering NICK with a fresh 2048-bit key. */
uint64_t lc_server_time_ms(int port, const char *nick);
/* cmocka teardown: forgets the clock file, then itest_teardown(). */
int lc_teardown(void **state);
/* DIR/NICK as a home directory (made if missing). */
const char *lc_home(const struct lc_fixture *f, const char *name);

/* ---- events -------------------------------------------------------------------- */

/* The next event must be EVENT; its "room" must be ROOM (unless NULL), and
 * every KEY, VALUE pair that follows (strings, NULL-terminated) must match.
 * Returns it (caller json_decref()s). */
json_t *lc_expect(struct itest_client *c, const char *event, const char *room, ...)
	__attribute__((sentinel));
/* The same, dropping the event. */
void lc_see(struct itest_client *c, const char *event, const char *room, ...)
	__attribute__((sentinel));
/* Sends a line (printf-style); the next event must be an error CODE.
 * Returns it (caller json_decref()s). */
json_t *lc_cmd_error(struct itest_client *c, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* The next event is a message in ROOM from FROM with TEXT whose "verified"
 * is VERIFIED. Returns its msg_id. */
long long lc_expect_msg(struct itest_client *c, const char *room, const char *from,
			const char *text, int verified);
/* /rooms lists nothing. */
void lc_rooms_empty(struct itest_client *c);
/* /rooms lists ROOM with this admin, member count and epoch. */
void lc_rooms_has(struct itest_client *c, const char *room, const char *admin, int members,
		  int epoch);
/* /fingerprint [NICK]: the fingerprint as 64 hex digits into FP. */
void lc_fingerprint(struct itest_client *c, const char *nick, char fp[LC_FP_HEX]);
/* /ping, /quit for each of the N clients. */
void lc_quit_all(struct itest_client **c, size_t n);

/* ---- the server's database (rt_sql*() from itest_rooms.h) --------------------- */

/* The user's row id (nickname without regard to case). */
long long lc_user_id(const char *nick);
/* The room's row id. */
long long lc_room_row(const char *room_hex);
/* The user's key fingerprint, as 64 lowercase hex digits. */
void lc_user_fp(const char *nick, char fp[LC_FP_HEX]);

/* ---- the clients' side ---------------------------------------------------------- */

/* Quits C (registered as AS; NULL: the nickname it was started with) and
 * waits until the server has seen it go (its log says so): a clock moved
 * after this is not taken as the client's last visit. */
void lc_quit_seen(struct lc_fixture *f, struct itest_client *c, const char *as);
/* The same for N clients (NULL ones skipped), each started with its nickname. */
void lc_quit_all_seen(struct lc_fixture *f, struct itest_client **c, size_t n);

/* A copy of NICK's home directory (as cp -a makes it) in NAME under the
 * fixture's directory: a stolen device, at this moment. Returns its path. */
const char *lc_home_copy(struct lc_fixture *f, const char *nick, const char *name);

/* ---- a raw session with a user's own key (itest_chan.h) ------------------------- */

/* ichan_open(), as NICK with the identity key from HOME; its requests' answers
 * may be preceded by REKEY_OWED notices. Closed with ichan_close(). */
void lc_wc_open(struct ichan *w, int port, const char *home, const char *nick);
/* Sends MSG_SEND with a well-formed envelope (junk nonce, ciphertext and
 * signature) for ROOM, EPOCH, SENDER, SEQ; the answer must be ERROR CODE. */
void lc_wc_send_expect(struct ichan *w, const char *room_hex, uint32_t epoch,
		       const char *sender, uint64_t seq, cc_err code);
/* Sends a membership request for ROOM with junk records and keys (TYPE:
 * PROTO_ROOM_ADD, PROTO_ROOM_KICK, PROTO_ROOM_REKEY or PROTO_ROOM_ADMIN):
 * the answer must be ERROR CODE (the server checks the session's role
 * before the records). */
void lc_wc_change_expect(struct ichan *w, uint8_t type, const char *room_hex, cc_err code);

#endif
