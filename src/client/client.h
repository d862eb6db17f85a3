/* The client core: identity, pinned servers, the connection and its state
 * machine, and the commands. No terminal here: the core reports everything as
 * events (JSON objects with a key "event"), which the batch front end prints
 * one per line and the full-screen front end renders. */
#ifndef CC_CLIENT_H
#define CC_CLIENT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "proto/msg.h"
#include "util/err.h"

struct event_base;

struct client_config {
	char host[256];
	uint16_t port;
	char home[4096];
	char nick[PROTO_NICK_MAX + 1];  /* empty: the one saved in home */
	unsigned rsa_bits;
	/* As a room's admin, start a new epoch after this many messages in it
	 * (0: never) or once the epoch is this old (0: never). */
	uint32_t rekey_after_msgs;
	uint64_t rekey_after_ms;
	/* A member is signed out as expired only after this long without a
	 * message or record of theirs seen here (the server's --nick-ttl). */
	uint64_t nick_ttl_ms;
};

/* The core hands each event to the front end, which must not keep it. */
typedef void (*client_event_fn)(void *ctx, json_t *event);

/* Exit statuses, shared by the front ends. */
enum client_exit {
	CLIENT_EXIT_OK = 0,
	CLIENT_EXIT_ERROR = 1,          /* could not connect, register, or lost the server */
	CLIENT_EXIT_USAGE = 2,
	CLIENT_EXIT_SERVER_KEY = 3,     /* the server's key is not the pinned one */
};

struct client;

/* Prepares the home directory (0700), loads or makes the identity key, and
 * resolves the nickname (cfg->nick, else the one saved in home). */
cc_err client_new(const struct client_config *cfg, struct event_base *base,
		  client_event_fn on_event, void *ctx, struct client **out);
void client_free(struct client *cl);

/* Connects and registers. Emits "registered" or an "error"; either way the
 * front end learns the outcome from client_state. */
cc_err client_connect(struct client *cl);

enum client_state {
	CLIENT_CONNECTING,
	CLIENT_READY,                   /* registered: commands run */
	CLIENT_CLOSED,                  /* done; client_exit_status says how */
};
enum client_state client_get_state(const struct client *cl);
int client_exit_status(const struct client *cl);
/* 1 while a command waits for the server's answer. */
int client_busy(const struct client *cl);

/* Runs one command line ("/quit", "/ping", ...). Results come as events. */
void client_command(struct client *cl, const char *line);
/* Ends the session (as /quit): closes the connection and the state becomes
 * CLIENT_CLOSED with exit status 0 unless an error came first. */
void client_quit(struct client *cl);

/* Called whenever the state or busy flag changed, so the front end can decide
 * to read more input or leave the loop. */
void client_set_state_cb(struct client *cl, void (*fn)(void *ctx), void *ctx);

/* The default home: $CRYPTOCAT_HOME, else $XDG_DATA_HOME/cryptocat, else
 * $HOME/.local/share/cryptocat. */
cc_err client_default_home(char *out, size_t n);

#endif
