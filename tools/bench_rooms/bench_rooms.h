/* bench_rooms (main.c says what it measures): what its two files share. */
#ifndef CC_TOOLS_BENCH_ROOMS_H
#define CC_TOOLS_BENCH_ROOMS_H

#include <stdbool.h>
#include <stdint.h>

#include "util/err.h"

/* The users to register: bench1..bench<count>, their keys in the cache
 * keys (benchI.pem), on the server at 127.0.0.1:port. */
struct reg_plan {
	const char *keys;
	int port;
	unsigned count;
	unsigned jobs;          /* processes (0: one per core) */
	unsigned inflight;      /* sessions in flight, in all */
	double timeout;         /* seconds without an end: a failure */
};

/* register.c: every user of the plan registered as a real client
 * registers (the handshake, WELCOME, SIGNING_KEY and RECEIVE_KEY with their
 * certificates), then disconnected. NULL, or why not (a failed
 * registration says which on stderr); *took: the seconds it took. */
const char *users_register(const struct reg_plan *plan, double *took);

/* register.c: user's receiving key (version 1), made from its identity key
 * so that verify.c can open what was wrapped to it. A benchmark's keys only:
 * a real client draws it from its CSPRNG. */
struct crypto_rsa_key;
cc_err bench_recv_key(const struct crypto_rsa_key *identity, uint8_t priv[32], uint8_t pub[32]);

/* verify.c: user (benchI) checks the room at the end, as its own client
 * would: the chain in its state verifies, names it a member among members
 * others, and the key of the last epoch wrapped to it opens and matches the
 * chain's commitment; or, if not member, the server says no_such_room.
 * NULL, or why not. */
const char *member_verify(const char *keys, int port, unsigned user,
			  const uint8_t room_id[16], bool member, unsigned members);

double now_s(void);

#endif
