/* The relay server: one libevent loop, many connections. */
#ifndef CC_SERVER_H
#define CC_SERVER_H

#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>

#include "util/err.h"

struct server_config {
	char listen_host[256];
	uint16_t listen_port;
	char data_dir[4096];
	unsigned rsa_bits;              /* for a new server key */
	size_t max_frame;               /* frame cap after authentication */
	size_t max_output;              /* queued bytes before a slow reader is dropped */
	size_t output_soft;             /* past this, its rooms' senders wait (0: never) */
	unsigned output_soft_s;         /* ...and a reader over it this long is dropped */
	unsigned max_connections;
	unsigned flush_interval_us;     /* turns closer than this are flushed as one */
	unsigned handshake_timeout_s;
	/* Handshake flood limits (handshake.c, docs/ROBUSTNESS.md) */
	unsigned handshake_workers;     /* threads for the RSA work (0: one per core) */
	unsigned handshake_queue;       /* CLIENT_KEYs waiting for a worker, at most */
	unsigned preauth_per_addr;      /* unauthenticated connections per address */
	unsigned handshake_rate;        /* new connections per second per address... */
	unsigned handshake_burst;       /* ...with bursts of this many */
	unsigned puzzle_min_bits;       /* proof of work asked even when quiet */
	unsigned puzzle_max_bits;       /* the most it asks under load (0: never) */
	unsigned idle_timeout_s;        /* a silent client is pinged after this... */
	                                /* ...and dropped after twice this */
	unsigned history_days;          /* stored messages kept this long (0: forever) */
	unsigned history_max;           /* at most this many per room (0: no limit) */
	uint64_t nick_ttl_s;            /* a nickname is freed after its owner has been
					   away this long (0: never) */
	unsigned chain_cache_rooms;     /* verified membership chains kept in memory */
	/* --onion: publish the listener as a Tor onion service through tor's
	 * control port (server/onion.c) */
	bool onion;
	char tor_control_host[256];
	uint16_t tor_control_port;
	char tor_control_password_file[4096];  /* empty: the cookie, or none */
	uint16_t onion_port;            /* the .onion's port (0: the listener's) */
};

/* Fills in the defaults: 127.0.0.1:7777, ./var, 5 s handshake, ... */
void server_config_defaults(struct server_config *cfg);
/* Parses the command line into cfg. Returns CC_OK, CC_ERR_USAGE (message
 * printed), or sets *exit_now for --help and --version. */
cc_err server_config_parse(struct server_config *cfg, int argc, char **argv, int *exit_now);

/* Opens the data directory (key and database), listens, and runs until
 * SIGINT or SIGTERM. */
cc_err server_run(const struct server_config *cfg);

#endif
