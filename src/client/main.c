/* cryptocat: the terminal client's command line. It picks a front end over
 * the client core (client/core/client.h): --batch (one JSON event per line,
 * for scripts and tests), --plain (the same events as lines of text), or,
 * when standard input and output are both terminals, the full-screen UI. */
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

#include "client/batch/batch.h"
#include "client/cli/passphrase.h"
#include "client/core/client.h"
#include "client/plain/plain.h"
#include "client/tui/tui.h"
#include "crypto/crypto.h"
#include "util/args.h"
#include "util/conffile.h"
#include "util/log.h"

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
	"  --passphrase-file FILE  the passphrase of the home's keys, FILE's first line\n"
	"                      (else $CRYPTOCAT_PASSPHRASE, else asked on the terminal;\n"
	"                      batch mode never asks). Given on a new home, it protects it\n"
	"  --change-passphrase set, change or remove (empty) the passphrase of the home's\n"
	"                      keys, then exit; the new one from --new-passphrase-file\n"
	"                      FILE, else $CRYPTOCAT_NEW_PASSPHRASE, else asked twice\n"
	"  --rekey-after N[d]  give a room a new key after N messages in its key (or,\n"
	"                      with d, once its key is N days old); repeat for both;\n"
	"                      'never' for neither (default 1000 and 7d)\n"
	"  --key-rotate SEC    replace your receiving key after SEC seconds (default\n"
	"                      604800, a week)\n"
	"  --key-grace SEC     delete a replaced receiving key SEC seconds after\n"
	"                      (default 604800)\n"
	"  --nick-ttl SEC      sign a member out as expired only after SEC seconds\n"
	"                      without a word from them (default 86400, the server's)\n"
	"  --offline-timeout SEC  when the connection drops, the client reconnects by\n"
	"                      itself; a command waiting for it longer than SEC fails\n"
	"                      with error offline (default 60; 0: wait for ever)\n"
	"  --ping-timeout SEC  a connection silent for SEC is given up and made again;\n"
	"                      the server is pinged after SEC/2 (default 60)\n"
	"  --proxy socks5h://HOST:PORT  connect through this SOCKS5 proxy: the server's\n"
	"                      name goes to the proxy (never resolved here), and\n"
	"                      nothing but the proxy is dialled (socks5:// is the same)\n"
	"  --tor               the same as --proxy socks5h://127.0.0.1:9050\n"
	"  --no-proxy, --no-tor  connect directly (over the config file's proxy)\n"
	"  --connect-timeout SEC  through a proxy, give the tunnel SEC to open\n"
	"                      (default 120; reaching the proxy itself: 5)\n"
	"  --batch             read commands from standard input, one per line, and\n"
	"                      write one JSON event per line to standard output\n"
	"  --plain             the line mode (events as lines of text) even on a\n"
	"                      terminal; the default when input or output is not one\n"
	"  --no-plain          the full-screen UI on a terminal (the default)\n"
	"  --bell, --no-bell   full-screen UI: a bell on activity in another window, or\n"
	"                      not (default: a bell)\n"
	"  --color, --no-color full-screen UI: colours, or attributes only (default:\n"
	"                      colours, unless NO_COLOR is set and not empty)\n"
	"  --log-level LEVEL   error, warn, info or debug, on standard error (default warn)\n"
	"  --config FILE       read options from FILE (default\n"
	"                      $XDG_CONFIG_HOME/cryptocat/config, else\n"
	"                      ~/.config/cryptocat/config, if it exists)\n"
	"  --help              show this help\n"
	"  --version           show the version\n"
	"\n"
	"Config file: one \"key = value\" a line, '#' starts a comment line; options\n"
	"given here override it. Its keys are these options without the dashes, with\n"
	"on or off (yes/no, true/false) for bell, color, plain and tor:\n";

/* An option whose value has OPT_KEY is also a key of the config file
 * (util/conffile.h); the others are for the command line only. */
enum { OPT_KEY = 0x100 };

int main(int argc, char **argv)
{
	enum { OPT_SERVER = 1, OPT_NICK, OPT_HOME, OPT_RSA, OPT_BATCH, OPT_PLAIN, OPT_NO_BELL,
	       OPT_NO_COLOR, OPT_LOG, OPT_REKEY, OPT_NICK_TTL, OPT_KEY_ROTATE, OPT_KEY_GRACE,
	       OPT_OFFLINE_TIMEOUT, OPT_PING_TIMEOUT, OPT_NO_PLAIN, OPT_BELL, OPT_COLOR,
	       OPT_CONFIG, OPT_HELP, OPT_VERSION, OPT_PASS_FILE, OPT_NEW_PASS_FILE,
	       OPT_CHANGE_PASS, OPT_PROXY, OPT_NO_PROXY, OPT_TOR, OPT_CONNECT_TIMEOUT };
	static const struct option options[] = {
		{"server", required_argument, NULL, OPT_SERVER | OPT_KEY},
		{"nick", required_argument, NULL, OPT_NICK | OPT_KEY},
		{"home", required_argument, NULL, OPT_HOME | OPT_KEY},
		{"rsa-bits", required_argument, NULL, OPT_RSA | OPT_KEY},
		{"batch", no_argument, NULL, OPT_BATCH},
		{"plain", no_argument, NULL, OPT_PLAIN | OPT_KEY},
		{"no-plain", no_argument, NULL, OPT_NO_PLAIN},
		{"bell", no_argument, NULL, OPT_BELL | OPT_KEY},
		{"no-bell", no_argument, NULL, OPT_NO_BELL},
		{"color", no_argument, NULL, OPT_COLOR | OPT_KEY},
		{"no-color", no_argument, NULL, OPT_NO_COLOR},
		{"rekey-after", required_argument, NULL, OPT_REKEY | OPT_KEY},
		{"nick-ttl", required_argument, NULL, OPT_NICK_TTL | OPT_KEY},
		{"key-rotate", required_argument, NULL, OPT_KEY_ROTATE | OPT_KEY},
		{"key-grace", required_argument, NULL, OPT_KEY_GRACE | OPT_KEY},
		{"offline-timeout", required_argument, NULL, OPT_OFFLINE_TIMEOUT | OPT_KEY},
		{"ping-timeout", required_argument, NULL, OPT_PING_TIMEOUT | OPT_KEY},
		{"log-level", required_argument, NULL, OPT_LOG | OPT_KEY},
		{"proxy", required_argument, NULL, OPT_PROXY | OPT_KEY},
		{"no-proxy", no_argument, NULL, OPT_NO_PROXY},
		{"tor", no_argument, NULL, OPT_TOR | OPT_KEY},
		{"no-tor", no_argument, NULL, OPT_NO_PROXY},
		{"connect-timeout", required_argument, NULL, OPT_CONNECT_TIMEOUT | OPT_KEY},
		{"config", required_argument, NULL, OPT_CONFIG},
		{"help", no_argument, NULL, OPT_HELP},
		{"version", no_argument, NULL, OPT_VERSION},
		{"passphrase-file", required_argument, NULL, OPT_PASS_FILE},
		{"new-passphrase-file", required_argument, NULL, OPT_NEW_PASS_FILE},
		{"change-passphrase", no_argument, NULL, OPT_CHANGE_PASS},
		{NULL, 0, NULL, 0},
	};
	struct client_config cfg = {0};
	struct tui_options tui = {0};
	struct passphrase_options pass = {0};
	struct home_secrets *secrets = NULL;
	struct conffile_args args;
	bool batch = false, plain = false, plain_in_file = false, change_pass = false;
	int opt, idx = 0, level, status = CLIENT_EXIT_USAGE;
	unsigned line;
	unsigned long long number;
	char *end;

	snprintf(cfg.host, sizeof cfg.host, "127.0.0.1");
	cfg.port = 7777;
	cfg.rsa_bits = CRYPTO_RSA_DEFAULT_BITS;
	cfg.nick_ttl_ms = 86400ull * 1000;
	cfg.rekey_after_msgs = 1000;
	cfg.rekey_after_ms = 7ull * 86400 * 1000;
	cfg.offline_timeout_ms = 60 * 1000;
	cfg.ping_timeout_ms = 60 * 1000;
	log_set_level(LOG_LEVEL_WARN);
	/* The config file's lines, as arguments before the command line's. */
	static const int no_file[] = {OPT_HELP, OPT_VERSION, 0};
	char file_error[4400];
	if (conffile_for_main("cryptocat", argc, argv, options, OPT_KEY, OPT_CONFIG, no_file,
			      &args, file_error, sizeof file_error)) {
		fprintf(stderr, "cryptocat: %s\n", file_error);
		return CLIENT_EXIT_USAGE;
	}
	opterr = 0;
	while ((opt = getopt_long(args.argc, args.argv, "", options, &idx)) != -1) {
		opt &= ~OPT_KEY;
		switch (opt) {
		case OPT_SERVER:
			if (args_parse_host_port(optarg, cfg.host, sizeof cfg.host, &cfg.port))
				goto bad_value;
			break;
		case OPT_NICK:
			if (strlen(optarg) > PROTO_NICK_MAX ||
			    !proto_nick_valid((const uint8_t *)optarg, strlen(optarg))) {
				if ((line = conffile_line(&args, optind - 1)))
					fprintf(stderr, "cryptocat: %s:%u: ", args.path, line);
				else
					fputs("cryptocat: ", stderr);
				fprintf(stderr, "bad nickname '%s': %s\n", optarg,
					cc_err_str(CC_ERR_BAD_NICK));
				goto out;
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
			batch = true;
			break;
		case OPT_PLAIN:
		case OPT_NO_PLAIN:
			plain = opt == OPT_PLAIN;
			plain_in_file = conffile_line(&args, optind - 1) != 0;
			break;
		case OPT_BELL:
		case OPT_NO_BELL:
			tui.no_bell = opt == OPT_NO_BELL;
			break;
		case OPT_COLOR:
		case OPT_NO_COLOR:
			tui.no_color = opt == OPT_NO_COLOR;
			tui.color_chosen = true;
			break;
		case OPT_CONFIG:
			break;  /* read before the other options, by config_args() */
		case OPT_REKEY: {
			if (strcmp(optarg, "never") == 0) {
				cfg.rekey_after_msgs = 0;
				cfg.rekey_after_ms = 0;
				break;
			}
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
		case OPT_KEY_ROTATE:
		case OPT_KEY_GRACE:
			if (args_parse_uint(optarg, 1, 10ull * 365 * 86400, &number))
				goto bad_value;
			if (opt == OPT_KEY_ROTATE)
				cfg.recv_rotate_ms = number * 1000;
			else
				cfg.recv_grace_ms = number * 1000;
			break;
		case OPT_OFFLINE_TIMEOUT:
			if (args_parse_uint(optarg, 0, 10ull * 365 * 86400, &number))
				goto bad_value;
			cfg.offline_timeout_ms = number * 1000;
			break;
		case OPT_PING_TIMEOUT:
			if (args_parse_uint(optarg, 1, 86400, &number))
				goto bad_value;
			cfg.ping_timeout_ms = number * 1000;
			break;
		case OPT_LOG:
			if ((level = log_level_parse(optarg)) < 0)
				goto bad_value;
			log_set_level((enum log_level)level);
			break;
		case OPT_PROXY:
		case OPT_TOR: {
			char why_proxy[600];
			if (socks5_url_parse(opt == OPT_TOR ? "socks5h://127.0.0.1:9050" : optarg,
					     &cfg.proxy, why_proxy, sizeof why_proxy)) {
				if ((line = conffile_line(&args, optind - 1)))
					fprintf(stderr, "cryptocat: %s:%u: %s\n", args.path, line,
						why_proxy);
				else
					fprintf(stderr, "cryptocat: %s\n", why_proxy);
				goto out;
			}
			break;
		}
		case OPT_NO_PROXY:
			memset(&cfg.proxy, 0, sizeof cfg.proxy);
			break;
		case OPT_CONNECT_TIMEOUT:
			if (args_parse_uint(optarg, 1, 86400, &number))
				goto bad_value;
			cfg.connect_timeout_ms = number * 1000;
			break;
		case OPT_PASS_FILE:
			pass.file = optarg;
			break;
		case OPT_NEW_PASS_FILE:
			pass.new_file = optarg;
			break;
		case OPT_CHANGE_PASS:
			change_pass = true;
			break;
		case OPT_HELP:
			fputs(client_usage, stdout);
			conffile_print_keys(stdout, options, OPT_KEY, 78);
			puts("\nCommands: /ping, /help, /quit (see cryptocat(1) for every command).");
			status = CLIENT_EXIT_OK;
			goto out;
		case OPT_VERSION:
			printf("cryptocat %s (protocol %d)\n", CC_VERSION, PROTO_VERSION);
			status = CLIENT_EXIT_OK;
			goto out;
		default:
			fprintf(stderr, "cryptocat: unknown option or missing value: %s\n",
				args.argv[optind - 1]);
			goto usage;
		}
	}
	if (optind < args.argc) {
		fprintf(stderr, "cryptocat: unexpected argument: %s\n", args.argv[optind]);
		goto usage;
	}
	if (!cfg.home[0] && client_default_home(cfg.home, sizeof cfg.home)) {
		fprintf(stderr, "cryptocat: no home directory: set --home or CRYPTOCAT_HOME\n");
		goto out;
	}

	if (batch && plain_in_file)
		plain = false;  /* --batch given overrides the file's plain */
	if (batch && plain) {
		fprintf(stderr, "cryptocat: --batch and --plain are two different modes\n");
		goto usage;
	}
	/* The full-screen UI when a person is at a terminal, unless asked not. */
	bool full = !batch && !plain && isatty(STDIN_FILENO) && isatty(STDOUT_FILENO);
	char why[200];
	if (full && !tui_usable(why, sizeof why)) {
		fprintf(stderr, "cryptocat: %s; using the line mode (--plain)\n", why);
		full = false;
	}

	if (pass.new_file && !change_pass) {
		fprintf(stderr, "cryptocat: --new-passphrase-file goes with --change-passphrase\n");
		goto usage;
	}
	/* The passphrase before any front end starts (the full-screen UI would
	 * hide the prompt), reported as the front end would. */
	pass.batch = batch;
	const struct passphrase_report *report = batch ? &batch_passphrase_report
						       : &passphrase_report_text;
	if (change_pass) {
		status = passphrase_change(cfg.home, &pass, report);
		goto out;
	}
	if ((status = passphrase_session(cfg.home, &pass, report, &secrets)))
		goto out;
	cfg.secrets = secrets;

	signal(SIGPIPE, SIG_IGN);
	struct event_base *base = event_base_new();
	if (!base) {
		fprintf(stderr, "cryptocat: %s\n", cc_err_str(CC_ERR_NOMEM));
		status = CLIENT_EXIT_ERROR;
		goto out;
	}
	status = batch ? batch_run(&cfg, base) : full ? tui_run(&cfg, base, &tui)
						      : plain_run(&cfg, base);
	event_base_free(base);
	goto out;
bad_value:
	if ((line = conffile_line(&args, optind - 1))) {
		fprintf(stderr, "cryptocat: %s:%u: bad value for %s: %s\n", args.path, line,
			options[idx].name, optarg);
		goto out;
	}
	fprintf(stderr, "cryptocat: bad value for --%s: %s\n", options[idx].name, optarg);
usage:
	fputs("Try 'cryptocat --help'.\n", stderr);
	status = CLIENT_EXIT_USAGE;
out:
	client_secrets_free(secrets);
	conffile_args_free(&args);
	return status;
}
