/* The hostile-input table of the server (tests/test_itest_bad_input.c and
 * tests/test_itest_bad_requests.c): one real cryptocat-server with small
 * limits, two real batch clients (alice and bob) registered and joined to a
 * room of theirs, and an attacker, mallory, with a registered key of her
 * own. Each row of a table is one bad input with its expected outcome,
 * asserted by the row; after each, the runner checks that the server
 * process is alive and that alice's PING is answered and her line reaches
 * bob. Then the rows that are quick run many times over, and the server's
 * VmRSS may not grow past a small bound (release builds; under ASan,
 * LeakSanitizer at the server's exit checks instead, since the quarantine
 * holds freed memory).
 *
 * Like itest_rooms.h, these assert (cmocka): they are test steps. */
#ifndef CC_TESTS_BADIN_H
#define CC_TESTS_BADIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/crypto.h"
#include "proto/msg.h"
#include "itest.h"
#include "itest_chan.h"
#include "itest_rooms.h"
#include "util/err.h"

/* The server's limits here (cryptocat-server --help has the defaults). */
#define BADIN_MAX_FRAME 65536
#define BADIN_MAX_OUTPUT 65536
#define BADIN_MAX_CONNECTIONS 64
#define BADIN_HANDSHAKE_TIMEOUT_S 2
#define BADIN_IDLE_TIMEOUT_S 2

struct badin {
	struct rt_fixture f;
	struct itest_client *alice, *bob;
	char room[RT_ROOM_HEX];                   /* alice's and bob's */
	uint8_t room_id[PROTO_ROOM_ID_LEN];
	uint32_t room_epoch;
	char flood_room[RT_ROOM_HEX];             /* theirs too, joined by nobody */
	uint8_t flood_room_id[PROTO_ROOM_ID_LEN];
	const char *mallory_home;                 /* her identity.pem */
	const char *alice_home, *bob_home;
	uint64_t counter;                         /* for unique values across runs */
};

struct badin_row {
	const char *name;
	const char *kind;      /* what the issue calls it: "truncated", "slowloris"... */
	void (*run)(struct badin *b);
	bool once;             /* slow (timeouts): not in the repeated runs */
};

/* Starts everything (NAME names the scratch directory). */
void badin_start(struct badin *b, const char *name);
/* The same with more server options (NULL-terminated; later ones win). */
void badin_start_args(struct badin *b, const char *name, const char *const *extra);
/* Quits the clients, stops the server: exit status 0 (alive all along, no
 * sanitizer report). */
void badin_stop(struct badin *b);
/* Runs every row once with the full checks after each, then the quick rows
 * REPS times more, measuring the server's memory. Returns how many rows
 * ran. */
size_t badin_run_table(struct badin *b, const struct badin_row *rows, size_t n, int reps);

/* ---- raw sockets ---------------------------------------------------------- */

int badin_connect(const struct badin *b);
void badin_send(int fd, const void *p, size_t n);
/* The server closes FD without a byte more; FD is closed. */
void badin_expect_closed(int fd);
/* The same within [MIN_MS, MAX_MS] of now (scaled), for the timeouts. */
void badin_expect_closed_within(int fd, int min_ms, int max_ms);
/* The next frame is a plaintext ERROR CODE (request 0), then the close. */
void badin_expect_plain_error(int fd, cc_err code);
/* Sends M in one plaintext frame. */
void badin_send_plain(int fd, const struct proto_msg *m);
/* Closes FD with a RST (SO_LINGER 0): a peer that vanished. */
void badin_reset(int fd);

/* ---- authenticated sessions ------------------------------------------------ */

/* mallory's session (her own key, registered). */
void badin_mallory(struct badin *b, struct ichan *w);
/* A session of alice's or bob's own key (another connection of theirs). */
void badin_as(struct badin *b, struct ichan *w, const char *nick);
/* Sends M as it is (request_id set by the caller). */
void badin_post(struct ichan *w, const struct proto_msg *m);
/* Sends the bytes as one record's plaintext (inner frames, or not). */
void badin_post_plain(struct ichan *w, const void *p, size_t n);
/* The answer to request ID is ERROR CODE; the connection stays open (a PING
 * is answered after it). */
void badin_expect_answer_error(struct ichan *w, uint32_t id, cc_err code);
/* The server sends ERROR CODE (request 0) and closes; W is closed. */
void badin_expect_error_close(struct ichan *w, cc_err code);
/* The server closes without a message; W is closed. */
void badin_expect_close(struct ichan *w);
/* A PING answered by its PONG (PINGs of the server's in between answered). */
void badin_ping(struct ichan *w);

/* The message in fuzz/corpus/msg/NAME (one valid message of each type),
 * read into OUT (emptied first). */
void badin_corpus_msg(const char *name, struct buf *out);

#endif
