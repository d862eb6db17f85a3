/* bench_rooms (main.c says what it measures): what its two files share. */
#ifndef CC_TOOLS_BENCH_ROOMS_H
#define CC_TOOLS_BENCH_ROOMS_H

#include <stdbool.h>

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

/* A socket connected (or, non-blocking, connecting) to 127.0.0.1:port, or -1. */
int connect_local(int port, bool nonblocking);

double now_s(void);

#endif
