/* cryptocat: the terminal client. This file is the command line and the
 * line-oriented front ends: --batch (one JSON event per line, for scripts and
 * tests) and the plain interactive mode (the same events, as text). */
#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client/client.h"
#include "util/args.h"
#include "util/display.h"
#include "crypto/crypto.h"
#include "util/log.h"

/* Longest command line: a 16 KiB message and its command, with room to spare. */
#define LINE_MAX_BYTES (64 * 1024)

static const char client_usage[] =
	"Usage: cryptocat [OPTIONS]\n"
	"\n"
	"Crypto Cat, end-to-end encrypted group chat.\n"
	"\n"
	"Options:\n"
	"  --server HOST:PORT  server to connect to (default 127.0.0.1:7777)\n"
	"  --nick NAME         nickname to register (1-32 of A-Z a-z 0-9 _ . -);\n"
	"                      later runs reuse the saved one\n"
	"  --home DIR          keys and state (default $CRYPTOCAT_HOME, else\n"
	"                      $XDG_DATA_HOME/cryptocat, else ~/.local/share/cryptocat)\n"
	"  --rsa-bits N        size of a new identity key, 2048..4096 (default 3072)\n"
	"  --rekey-after N[d]  as a room's admin, give it a new key after N messages\n"
	"                      (or, with d, after N days); default never\n"
	"  --nick-ttl SEC      sign a member out as expired only after SEC seconds\n"
	"                      without a word from them (default 86400, the server's)\n"
	"  --batch             read commands from standard input, one per line, and\n"
	"                      write one JSON event per line to standard output\n"
	"  --log-level LEVEL   error, warn, info or debug, on standard error (default warn)\n"
	"  --help              show this help\n"
	"  --version           show the version\n"
	"\n"
	"Commands: /ping, /help, /quit (see the README for every command and event).\n";

struct frontend {
	struct event_base *base;
	struct client *client;
	bool batch;
	struct evbuffer *lines;    /* stdin bytes not yet run */
	struct event *stdin_ev;    /* readable stdin (pipes, terminals) */
	struct event *pump_ev;     /* runs queued lines when the client is idle */
	bool stdin_regular;        /* a plain file: always readable, not pollable */
	bool stdin_eof;
	bool discarding;           /* inside an over-long line */
};

static const char *str_of(const json_t *ev, const char *key)
{
	const char *v = json_string_value(json_object_get(ev, key));
	return v ? v : "";
}

/* Prints text that others chose (messages, names, titles, the server's
 * words) escaped: see util/display.h. A message's further lines are marked
 * with cont, so none can pass for a line of its own. */
static void put_safe(const char *s, const char *cont)
{
	char *e = display_escape(s, strlen(s), cont);
	fputs(e ? e : "(unprintable)", stdout);
	free(e);
}

/* A message's continuation lines: under the text, behind a bar. */
#define FRONTEND_CONT "           | "

/* The interactive rendering: what a person reads. Messages as chat lines,
 * the rest as short notices; anything else as key=value pairs. Every string
 * goes through put_safe. */
static void frontend_print_text(const json_t *ev)
{
	const char *name = str_of(ev, "event");
	const char *room = str_of(ev, "room");
	if (strcmp(name, "error") == 0) {
		fputs("! ", stdout);
		if (*room)
			printf("%.32s ", room);
		put_safe(str_of(ev, "code"), NULL);
		fputs(": ", stdout);
		put_safe(str_of(ev, "message"), NULL);
		putchar('\n');
	} else if (strcmp(name, "message") == 0) {
		bool verified = json_is_true(json_object_get(ev, "verified"));
		printf("[%.8s] <", room);
		put_safe(str_of(ev, "from"), NULL);
		printf(">%s ", verified ? "" : " (key not verified)");
		put_safe(str_of(ev, "text"), FRONTEND_CONT);
		putchar('\n');
	} else if (strcmp(name, "sent") == 0) {
		/* The line the user typed is already on the screen. */
	} else if (strcmp(name, "registered") == 0) {
		fputs("* registered as ", stdout);
		put_safe(str_of(ev, "nick"), NULL);
		printf(" (key %.64s)\n", str_of(ev, "fingerprint"));
	} else if (strcmp(name, "room_created") == 0 || strcmp(name, "joined") == 0) {
		char *members = json_dumps(json_object_get(ev, "members"), JSON_COMPACT);
		printf("* %s %.32s \"", name[0] == 'r' ? "created room" : "joined room", room);
		put_safe(str_of(ev, "title"), NULL);
		fputs("\", admin ", stdout);
		put_safe(str_of(ev, "admin"), NULL);
		fputs(", members ", stdout);
		put_safe(members ? members : "?", NULL);
		putchar('\n');
		free(members);
	} else if (strcmp(name, "rooms") == 0) {
		size_t i;
		json_t *r;
		json_t *rooms = json_object_get(ev, "rooms");
		if (json_array_size(rooms) == 0)
			printf("* no rooms\n");
		json_array_foreach(rooms, i, r)
		{
			printf("* %.32s \"", str_of(r, "room"));
			put_safe(str_of(r, "title"), NULL);
			fputs("\" admin ", stdout);
			put_safe(str_of(r, "admin"), NULL);
			printf(", %lld members, %lld unread%s\n",
			       (long long)json_integer_value(json_object_get(r, "members")),
			       (long long)json_integer_value(json_object_get(r, "unread")),
			       json_is_true(json_object_get(r, "verified")) ? ""
									    : " (join to check it)");
		}
	} else if (strcmp(name, "help") == 0) {
		size_t i;
		json_t *line;
		json_array_foreach(json_object_get(ev, "commands"), i, line) {
			fputs("  ", stdout);
			put_safe(json_string_value(line), NULL);
			putchar('\n');
		}
	} else {
		const char *key;
		json_t *value;
		fputs("* ", stdout);
		put_safe(name, NULL);
		json_object_foreach((json_t *)ev, key, value)
		{
			if (strcmp(key, "event") == 0)
				continue;
			char *v = json_is_string(value) ? strdup(json_string_value(value))
							: json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY);
			printf(" %s=", key);
			put_safe(v ? v : "?", NULL);
			free(v);
		}
		putchar('\n');
	}
}

static void frontend_print(void *ctx, json_t *ev)
{
	struct frontend *fe = ctx;
	if (fe->batch) {
		/* Every byte printable ASCII: JSON escapes carry the exact text, and
		 * nothing in it can act on a terminal that shows the stream. */
		char *s = json_dumps(ev, JSON_COMPACT | JSON_ENSURE_ASCII);
		if (s) {
			/* (jansson leaves DEL as it is; it can only be inside a string.) */
			for (const char *p = s; *p; p++) {
				if (*p == 0x7f)
					fputs("\\u007f", stdout);
				else
					fputc(*p, stdout);
			}
			fputc('\n', stdout);
			fflush(stdout);
			free(s);
		}
		return;
	}
	frontend_print_text(ev);
	fflush(stdout);
}

static void frontend_emit_error(struct frontend *fe, const char *code, const char *message)
{
	json_t *ev = json_pack("{s:s, s:s, s:s}", "event", "error", "code", code, "message", message);
	if (ev) {
		frontend_print(fe, ev);
		json_decref(ev);
	}
}

/* Reads what stdin has into fe->lines; notes EOF. */
static void frontend_read_stdin(struct frontend *fe)
{
	int n = evbuffer_read(fe->lines, STDIN_FILENO, 16384);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		fe->stdin_eof = true;
		if (fe->stdin_ev)
			event_del(fe->stdin_ev);
	}
}

/* Runs queued lines, one at a time, each only once the previous one is done. */
static void frontend_pump_cb(evutil_socket_t fd, short what, void *arg)
{
	struct frontend *fe = arg;
	(void)fd;
	(void)what;

	while (client_get_state(fe->client) == CLIENT_READY && !client_busy(fe->client)) {
		size_t len;
		char *line = evbuffer_readln(fe->lines, &len, EVBUFFER_EOL_LF);
		if (!line && fe->stdin_eof && evbuffer_get_length(fe->lines) > 0) {
			/* A last line without a newline still counts. */
			len = evbuffer_get_length(fe->lines);
			line = malloc(len + 1);
			if (line) {
				evbuffer_remove(fe->lines, line, len);
				line[len] = '\0';
			}
		}
		if (line) {
			if (len && line[len - 1] == '\r')
				line[--len] = '\0';
			if (fe->discarding) {
				fe->discarding = false;  /* the tail of an over-long line */
			} else if (strlen(line) != len) {
				frontend_emit_error(fe, "malformed", "a command line holds a NUL byte");
			} else if (len > 0) {
				client_command(fe->client, line);
			}
			free(line);
			continue;
		}
		if (evbuffer_get_length(fe->lines) > LINE_MAX_BYTES) {
			evbuffer_drain(fe->lines, evbuffer_get_length(fe->lines));
			if (!fe->discarding)
				frontend_emit_error(fe, "too_long", "command line too long; ignored");
			fe->discarding = true;
		}
		if (fe->stdin_eof) {
			client_quit(fe->client);
			return;
		}
		if (!fe->stdin_regular)
			break;  /* wait until stdin is readable */
		frontend_read_stdin(fe);
	}
	/* Read more only when it can be run soon: bounded buffering. */
	if (fe->stdin_ev && !fe->stdin_eof) {
		if (evbuffer_get_length(fe->lines) < LINE_MAX_BYTES)
			event_add(fe->stdin_ev, NULL);
		else
			event_del(fe->stdin_ev);
	}
}

static void frontend_stdin_cb(evutil_socket_t fd, short what, void *arg)
{
	struct frontend *fe = arg;
	(void)fd;
	(void)what;
	frontend_read_stdin(fe);
	event_active(fe->pump_ev, EV_READ, 0);
}

static void frontend_state_cb(void *arg)
{
	struct frontend *fe = arg;
	if (client_get_state(fe->client) == CLIENT_CLOSED)
		event_base_loopexit(fe->base, NULL);
	else
		event_active(fe->pump_ev, EV_READ, 0);
}

static void frontend_signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct frontend *fe = arg;
	(void)sig;
	(void)what;
	client_quit(fe->client);
}

int main(int argc, char **argv)
{
	enum { OPT_SERVER = 1, OPT_NICK, OPT_HOME, OPT_RSA, OPT_BATCH, OPT_LOG, OPT_REKEY,
	       OPT_NICK_TTL, OPT_HELP, OPT_VERSION };
	static const struct option options[] = {
		{"server", required_argument, NULL, OPT_SERVER},
		{"nick", required_argument, NULL, OPT_NICK},
		{"home", required_argument, NULL, OPT_HOME},
		{"rsa-bits", required_argument, NULL, OPT_RSA},
		{"batch", no_argument, NULL, OPT_BATCH},
		{"rekey-after", required_argument, NULL, OPT_REKEY},
		{"nick-ttl", required_argument, NULL, OPT_NICK_TTL},
		{"log-level", required_argument, NULL, OPT_LOG},
		{"help", no_argument, NULL, OPT_HELP},
		{"version", no_argument, NULL, OPT_VERSION},
		{NULL, 0, NULL, 0},
	};
	struct client_config cfg = {0};
	struct frontend fe = {0};
	int opt, idx = 0, level, status = CLIENT_EXIT_ERROR;
	unsigned long long number;
	char *end;

	snprintf(cfg.host, sizeof cfg.host, "127.0.0.1");
	cfg.port = 7777;
	cfg.rsa_bits = CRYPTO_RSA_DEFAULT_BITS;
	cfg.nick_ttl_ms = 86400ull * 1000;
	log_set_level(LOG_LEVEL_WARN);
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "", options, &idx)) != -1) {
		switch (opt) {
		case OPT_SERVER:
			if (args_parse_host_port(optarg, cfg.host, sizeof cfg.host, &cfg.port))
				goto bad_value;
			break;
		case OPT_NICK:
			if (strlen(optarg) > PROTO_NICK_MAX ||
			    !proto_nick_valid((const uint8_t *)optarg, strlen(optarg))) {
				fprintf(stderr, "cryptocat: bad nickname '%s': %s\n", optarg,
					cc_err_str(CC_ERR_BAD_NICK));
				return CLIENT_EXIT_USAGE;
			}
			snprintf(cfg.nick, sizeof cfg.nick, "%s", optarg);
			break;
		case OPT_HOME:
			if (!*optarg || strlen(optarg) >= sizeof cfg.home)
				goto bad_value;
			snprintf(cfg.home, sizeof cfg.home, "%s", optarg);
			break;
		case OPT_RSA:
			if (args_parse_uint(optarg, CRYPTO_RSA_MIN_BITS, CRYPTO_RSA_MAX_BITS, &number))
				goto bad_value;
			cfg.rsa_bits = (unsigned)number;
			break;
		case OPT_BATCH:
			fe.batch = true;
			break;
		case OPT_REKEY: {
			errno = 0;
			unsigned long n = strtoul(optarg, &end, 10);
			if (errno || end == optarg || n == 0 || n > 1000000 ||
			    (*end && strcmp(end, "d") != 0) || *optarg == '-')
				goto bad_value;
			if (*end == 'd')
				cfg.rekey_after_ms = (uint64_t)n * 86400000ull;
			else
				cfg.rekey_after_msgs = (uint32_t)n;
			break;
		}
		case OPT_NICK_TTL:
			if (args_parse_uint(optarg, 1, 10ull * 365 * 86400, &number))
				goto bad_value;
			cfg.nick_ttl_ms = number * 1000;
			break;
		case OPT_LOG:
			if ((level = log_level_parse(optarg)) < 0)
				goto bad_value;
			log_set_level((enum log_level)level);
			break;
		case OPT_HELP:
			fputs(client_usage, stdout);
			return CLIENT_EXIT_OK;
		case OPT_VERSION:
			printf("cryptocat %s (protocol %d)\n", CC_VERSION, PROTO_VERSION);
			return CLIENT_EXIT_OK;
		default:
			fprintf(stderr, "cryptocat: unknown option or missing value: %s\n",
				argv[optind - 1]);
			goto usage;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "cryptocat: unexpected argument: %s\n", argv[optind]);
		goto usage;
	}
	if (!cfg.home[0] && client_default_home(cfg.home, sizeof cfg.home)) {
		fprintf(stderr, "cryptocat: no home directory: set --home or CRYPTOCAT_HOME\n");
		return CLIENT_EXIT_USAGE;
	}

	signal(SIGPIPE, SIG_IGN);
	struct stat st;
	fe.stdin_regular = fstat(STDIN_FILENO, &st) == 0 && !S_ISFIFO(st.st_mode) &&
			   !S_ISSOCK(st.st_mode) && !S_ISCHR(st.st_mode);
	fe.base = event_base_new();
	fe.lines = evbuffer_new();
	if (!fe.base || !fe.lines)
		goto out;
	fe.pump_ev = event_new(fe.base, -1, 0, frontend_pump_cb, &fe);
	if (!fe.stdin_regular) {
		evutil_make_socket_nonblocking(STDIN_FILENO);
		fe.stdin_ev = event_new(fe.base, STDIN_FILENO, EV_READ, frontend_stdin_cb, &fe);
	}
	struct event *sigint = evsignal_new(fe.base, SIGINT, frontend_signal_cb, &fe);
	struct event *sigterm = evsignal_new(fe.base, SIGTERM, frontend_signal_cb, &fe);
	if (!fe.pump_ev || !sigint || !sigterm || (!fe.stdin_regular && !fe.stdin_ev))
		goto out_events;
	evsignal_add(sigint, NULL);
	evsignal_add(sigterm, NULL);

	cc_err err = client_new(&cfg, fe.base, frontend_print, &fe, &fe.client);
	if (err) {
		frontend_emit_error(&fe, cc_err_code(err), cc_err_str(err));
		status = err == CC_ERR_USAGE || err == CC_ERR_BAD_NICK ? CLIENT_EXIT_USAGE
								       : CLIENT_EXIT_ERROR;
		goto out_events;
	}
	client_set_state_cb(fe.client, frontend_state_cb, &fe);
	if (client_connect(fe.client) == CC_OK || client_get_state(fe.client) != CLIENT_CLOSED)
		event_base_dispatch(fe.base);
	status = client_exit_status(fe.client);
	client_free(fe.client);
out_events:
	if (sigint)
		event_free(sigint);
	if (sigterm)
		event_free(sigterm);
	if (fe.stdin_ev)
		event_free(fe.stdin_ev);
	if (fe.pump_ev)
		event_free(fe.pump_ev);
out:
	if (fe.lines)
		evbuffer_free(fe.lines);
	if (fe.base)
		event_base_free(fe.base);
	return status;
bad_value:
	fprintf(stderr, "cryptocat: bad value for --%s: %s\n", options[idx].name, optarg);
usage:
	fputs("Try 'cryptocat --help'.\n", stderr);
	return CLIENT_EXIT_USAGE;
}
