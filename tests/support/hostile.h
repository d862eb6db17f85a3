/* A hostile server for the integration tests: a man-in-the-middle proxy that
 * IS the server as far as the clients can tell.
 *
 * It holds a copy of the real server's RSA key (DATA/server_key.pem), so it
 * completes the handshake clients expect from the server they pinned; and for
 * each user it logs in to the real server with that user's own identity key
 * (HOMES/<nick>/identity.pem), so the real server does the work. Every inner
 * message, both ways, goes through a filter the test sets, which may pass,
 * drop, change or add messages. Whatever it sends a client is exactly what an
 * operator running modified server code could send (it holds the server key
 * and sees everything the server sees), so a client property that survives
 * this proxy survives a hostile server.
 *
 *	struct hostile *h = hostile_start(f.port, f.data, f.dir);
 *	struct itest_client *bob = rt_client(hostile_port(h), home, NULL, "bob");
 *	hostile_set_filter(h, drop_room_msgs, &ctx);
 *	...
 *	hostile_stop(h);
 *
 * Threading: the proxy runs on its own thread, so the test's main thread can
 * block on its clients; call the functions below from the test's thread
 * (like itest.h, which they use for timeouts). One lock guards everything the
 * proxy holds; the filter runs with it held. A filter must not call any hostile_ function
 * except hostile_frame_msg (the lock is not recursive), nor any cmocka
 * assertion (it is not the test's thread): it records what it saw in its
 * context, and the test reads that between hostile_lock and hostile_unlock.
 * The proxy reports its own problems on stderr, prefixed "[hostile]". */
#ifndef CC_TESTS_HOSTILE_H
#define CC_TESTS_HOSTILE_H

#include <stddef.h>
#include <stdint.h>

#include "proto/msg.h"
#include "util/buf.h"
#include "util/err.h"

struct hostile;

enum hostile_dir {
	HOSTILE_TO_SERVER,  /* from a client, on its way to the real server */
	HOSTILE_TO_CLIENT,  /* from the real server, on its way to a client */
};

/* What the filter decides for one message. */
enum hostile_verdict {
	HOSTILE_PASS,     /* forward it as it came */
	HOSTILE_DROP,     /* forward nothing */
	HOSTILE_REPLACE,  /* forward the bytes the filter appended to `out` instead:
			     zero or more inner frames (u32 length || message body),
			     e.g. built with hostile_frame_msg(); lets a filter change
			     a message, or add messages before or after it */
};

/* Called on the proxy's thread, with its lock held, for every inner message
 * (not the handshake's). NICK: the session's nickname as the client asked for
 * it; SESSION: a small id of the session, from 1 (several sessions may share
 * a nick after a reconnect); M: the decoded message (views valid during the
 * call only); BODY/LEN: its exact bytes; OUT: empty, for HOSTILE_REPLACE.
 * A message that does not decode is forwarded as it came, without a call. */
typedef enum hostile_verdict (*hostile_filter_fn)(void *ctx, const char *nick, int session,
						  enum hostile_dir dir, const struct proto_msg *m,
						  const uint8_t *body, size_t len,
						  struct buf *out);

/* Starts the proxy on 127.0.0.1 (a free port) in front of the real server at
 * 127.0.0.1:SERVER_PORT, with SERVER_DATA/server_key.pem as its key and
 * HOMES/<nick>/identity.pem (or the lowercase <nick>) as each user's. A
 * client whose key is not there is disconnected after its handshake. NULL on
 * failure (with a note on stderr). Call crypto_init() first, or let this. */
struct hostile *hostile_start(int server_port, const char *server_data, const char *homes);
int hostile_port(const struct hostile *h);
/* Sets (or, FN NULL, clears) the filter; it applies from the next message. */
void hostile_set_filter(struct hostile *h, hostile_filter_fn fn, void *ctx);
/* Around the test's reads and writes of what its filter shares with it. */
void hostile_lock(struct hostile *h);
void hostile_unlock(struct hostile *h);
/* Appends one inner frame holding M (proto_msg_encode) to OUT. */
cc_err hostile_frame_msg(struct buf *out, const struct proto_msg *m);

/* Sends M, bypassing the filter, to every live session of NICK (any case;
 * NULL: every session past its client's handshake): HOSTILE_TO_CLIENT as if
 * from the server, HOSTILE_TO_SERVER as if from the client. Returns how many
 * sessions got it (sealed and queued; the proxy's thread writes it). A
 * message to a server not yet logged in to waits until it is. */
int hostile_inject(struct hostile *h, const char *nick, enum hostile_dir dir,
		   const struct proto_msg *m);

/* Forgets which messages the proxy has seen... */
void hostile_mark(struct hostile *h);
/* ...and waits up to TIMEOUT_MS (scaled by ITEST_TIMEOUT_SCALE) until a
 * message of TYPE arrived from a peer in DIR for a session of NICK (any case)
 * since then: 1 if so, 0 on timeout. "Seen" is counted as it arrives, before
 * the filter, whatever the filter then does with it; injected messages do
 * not count. E.g. "the server has sent bob the message" before checking that
 * bob's client stays silent. */
int hostile_wait_seen(struct hostile *h, const char *nick, enum hostile_dir dir, uint8_t type,
		      int timeout_ms);

/* Closes both sockets of every session of NICK (any case; NULL: every
 * session) at once, without flushing what is queued: a dropped connection.
 * Returns once they are closed. */
void hostile_drop_sessions(struct hostile *h, const char *nick);

/* Stops the thread, closes every socket and frees everything. NULL is fine. */
void hostile_stop(struct hostile *h);

#endif
