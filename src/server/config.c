#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "proto/frame.h"
#include "proto/msg.h"
#include "server/server.h"
#include "util/args.h"
#include "util/log.h"

static const char server_usage[] =
	"Usage: cryptocat-server [OPTIONS]\n"
	"\n"
	"The Crypto Cat relay: it authenticates clients, keeps nicknames and relays\n"
	"end-to-end encrypted traffic it cannot read.\n"
	"\n"
	"Options:\n"
	"  --listen ADDR:PORT       address to listen on (default 127.0.0.1:7777)\n"
	"  --data DIR               key and database directory (default ./var)\n"
	"  --log-level LEVEL        error, warn, info or debug (default info)\n"
	"  --max-connections N      connection cap (default 10000)\n"
	"  --max-frame BYTES        frame cap after authentication (default 1048576)\n"
	"  --max-output BYTES       output queued for one client before it is dropped\n"
	"                           (default 8388608)\n"
	"  --output-soft BYTES      past this much output queued for a client, the\n"
	"                           server stops reading from those who send to its\n"
	"                           rooms until it drains (default 262144, at most a\n"
	"                           quarter of --max-output; 0 = never)\n"
	"  --output-soft-seconds SEC  a client over --output-soft this long is\n"
	"                           dropped (default 30)\n"
	"  --flush-interval-us N    under a steady stream, commit and write at most\n"
	"                           once per N microseconds (default 0: every loop\n"
	"                           turn)\n"
	"  --handshake-timeout SEC  time allowed for the handshake (default 5)\n"
	"  --handshake-workers N    threads for the handshakes' RSA work (default: one\n"
	"                           per core)\n"
	"  --handshake-queue N      handshakes waiting for a worker before new ones are\n"
	"                           refused as busy (default 128)\n"
	"  --preauth-per-address N  connections from one address (IPv4, or IPv6 /64)\n"
	"                           still in their handshake (default 16)\n"
	"  --handshake-rate N       new connections per second from one address\n"
	"                           (default 10)\n"
	"  --handshake-burst N      ...in bursts of up to N (default 30)\n"
	"  --puzzle-min BITS        proof of work asked of every client (default 0)\n"
	"  --puzzle-max BITS        the most proof of work asked under load, 0..32\n"
	"                           (default 20; 0 = never)\n"
	"  --idle-timeout SEC       ping a silent client after SEC, drop it after 2*SEC\n"
	"                           (default 60)\n"
	"  --history-days N         keep stored messages N days (default 30; 0 = forever)\n"
	"  --history-max N          keep at most N messages per room (default 10000;\n"
	"                           0 = no limit)\n"
	"  --nick-ttl SEC           free a nickname whose owner has been away SEC\n"
	"                           seconds (default 86400; 0 = never)\n"
	"  --rsa-bits N             size of a new server key, 2048..4096 (default 3072)\n"
	"  --chain-cache N          keep the verified membership chains of N rooms in\n"
	"                           memory (default 128; 0 = verify every time)\n"
	"  --onion                  publish the listener as a Tor onion service, through\n"
	"                           tor's control port; its key is kept in DIR/onion_key\n"
	"                           (the address stays the same), the address is logged\n"
	"                           and written to DIR/onion_hostname\n"
	"  --tor-control HOST:PORT  tor's control port (default 127.0.0.1:9051)\n"
	"  --tor-control-password-file FILE  the control port's password, FILE's first\n"
	"                           line (default: tor's cookie file, else none)\n"
	"  --onion-port N           the .onion address's port (default: the listener's)\n"
	"  --help                   show this help\n"
	"  --version                show the version\n";

void server_config_defaults(struct server_config *cfg)
{
	memset(cfg, 0, sizeof *cfg);
	snprintf(cfg->listen_host, sizeof cfg->listen_host, "127.0.0.1");
	cfg->listen_port = 7777;
	snprintf(cfg->data_dir, sizeof cfg->data_dir, "./var");
	cfg->rsa_bits = CRYPTO_RSA_DEFAULT_BITS;
	cfg->max_frame = PROTO_FRAME_MAX_DEFAULT;
	cfg->max_output = 8u * 1024 * 1024;
	cfg->output_soft = 256u * 1024;
	cfg->output_soft_s = 30;
	cfg->max_connections = 10000;
	cfg->handshake_timeout_s = 5;
	cfg->handshake_workers = 0;
	cfg->handshake_queue = 128;
	cfg->preauth_per_addr = 16;
	cfg->handshake_rate = 10;
	cfg->handshake_burst = 30;
	cfg->puzzle_min_bits = 0;
	cfg->puzzle_max_bits = 20;
	cfg->idle_timeout_s = 60;
	cfg->history_days = 30;
	cfg->history_max = 10000;
	cfg->nick_ttl_s = 86400;
	cfg->chain_cache_rooms = 128;
	snprintf(cfg->tor_control_host, sizeof cfg->tor_control_host, "127.0.0.1");
	cfg->tor_control_port = 9051;
}

cc_err server_config_parse(struct server_config *cfg, int argc, char **argv, int *exit_now)
{
	enum { OPT_LISTEN = 1, OPT_DATA, OPT_LOG, OPT_MAXCONN, OPT_MAXFRAME, OPT_MAXOUT,
	       OPT_OUTPUT_SOFT, OPT_OUTPUT_SOFT_S, OPT_FLUSH_US, OPT_HS_TIMEOUT, OPT_IDLE, OPT_RSA,
	       OPT_HIST_DAYS, OPT_HIST_MAX, OPT_NICK_TTL, OPT_HELP,
	       OPT_VERSION, OPT_HS_WORKERS, OPT_HS_QUEUE, OPT_PREAUTH_ADDR, OPT_HS_RATE,
	       OPT_HS_BURST, OPT_PUZZLE_MIN, OPT_PUZZLE_MAX, OPT_ONION, OPT_TOR_CONTROL,
	       OPT_TOR_PASSWORD, OPT_ONION_PORT, OPT_CHAIN_CACHE };
	static const struct option options[] = {
		{"listen", required_argument, NULL, OPT_LISTEN},
		{"data", required_argument, NULL, OPT_DATA},
		{"log-level", required_argument, NULL, OPT_LOG},
		{"max-connections", required_argument, NULL, OPT_MAXCONN},
		{"max-frame", required_argument, NULL, OPT_MAXFRAME},
		{"max-output", required_argument, NULL, OPT_MAXOUT},
		{"output-soft", required_argument, NULL, OPT_OUTPUT_SOFT},
		{"flush-interval-us", required_argument, NULL, OPT_FLUSH_US},
		{"output-soft-seconds", required_argument, NULL, OPT_OUTPUT_SOFT_S},
		{"handshake-timeout", required_argument, NULL, OPT_HS_TIMEOUT},
		{"idle-timeout", required_argument, NULL, OPT_IDLE},
		{"rsa-bits", required_argument, NULL, OPT_RSA},
		{"history-days", required_argument, NULL, OPT_HIST_DAYS},
		{"history-max", required_argument, NULL, OPT_HIST_MAX},
		{"nick-ttl", required_argument, NULL, OPT_NICK_TTL},
		{"chain-cache", required_argument, NULL, OPT_CHAIN_CACHE},
		{"handshake-workers", required_argument, NULL, OPT_HS_WORKERS},
		{"handshake-queue", required_argument, NULL, OPT_HS_QUEUE},
		{"preauth-per-address", required_argument, NULL, OPT_PREAUTH_ADDR},
		{"handshake-rate", required_argument, NULL, OPT_HS_RATE},
		{"handshake-burst", required_argument, NULL, OPT_HS_BURST},
		{"puzzle-min", required_argument, NULL, OPT_PUZZLE_MIN},
		{"puzzle-max", required_argument, NULL, OPT_PUZZLE_MAX},
		{"onion", no_argument, NULL, OPT_ONION},
		{"tor-control", required_argument, NULL, OPT_TOR_CONTROL},
		{"tor-control-password-file", required_argument, NULL, OPT_TOR_PASSWORD},
		{"onion-port", required_argument, NULL, OPT_ONION_PORT},
		{"help", no_argument, NULL, OPT_HELP},
		{"version", no_argument, NULL, OPT_VERSION},
		{NULL, 0, NULL, 0},
	};
	unsigned long long v;
	int opt, level, idx = 0;

	*exit_now = 0;
	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "", options, &idx)) != -1) {
		switch (opt) {
		case OPT_LISTEN:
			if (args_parse_host_port(optarg, cfg->listen_host, sizeof cfg->listen_host,
						 &cfg->listen_port))
				goto bad_value;
			break;
		case OPT_DATA:
			if (!*optarg || strlen(optarg) >= sizeof cfg->data_dir)
				goto bad_value;
			snprintf(cfg->data_dir, sizeof cfg->data_dir, "%s", optarg);
			break;
		case OPT_LOG:
			if ((level = log_level_parse(optarg)) < 0)
				goto bad_value;
			log_set_level((enum log_level)level);
			break;
		case OPT_MAXCONN:
			if (args_parse_uint(optarg, 1, 1000000, &v))
				goto bad_value;
			cfg->max_connections = (unsigned)v;
			break;
		case OPT_MAXFRAME:
			if (args_parse_uint(optarg, PROTO_FRAME_MAX_PREAUTH, PROTO_FRAME_MAX_LIMIT, &v))
				goto bad_value;
			cfg->max_frame = (size_t)v;
			break;
		case OPT_MAXOUT:
			if (args_parse_uint(optarg, 64 * 1024, 1ull << 32, &v))
				goto bad_value;
			cfg->max_output = (size_t)v;
			break;
		case OPT_OUTPUT_SOFT:
			if (args_parse_uint(optarg, 0, 1ull << 32, &v))
				goto bad_value;
			cfg->output_soft = (size_t)v;
			break;
		case OPT_FLUSH_US:
			if (args_parse_uint(optarg, 0, 100000, &v))
				goto bad_value;
			cfg->flush_interval_us = (unsigned)v;
			break;
		case OPT_OUTPUT_SOFT_S:
			if (args_parse_uint(optarg, 1, 86400, &v))
				goto bad_value;
			cfg->output_soft_s = (unsigned)v;
			break;
		case OPT_HS_TIMEOUT:
			if (args_parse_uint(optarg, 1, 3600, &v))
				goto bad_value;
			cfg->handshake_timeout_s = (unsigned)v;
			break;
		case OPT_IDLE:
			if (args_parse_uint(optarg, 1, 86400, &v))
				goto bad_value;
			cfg->idle_timeout_s = (unsigned)v;
			break;
		case OPT_RSA:
			if (args_parse_uint(optarg, CRYPTO_RSA_MIN_BITS, CRYPTO_RSA_MAX_BITS, &v))
				goto bad_value;
			cfg->rsa_bits = (unsigned)v;
			break;
		case OPT_HIST_DAYS:
			if (args_parse_uint(optarg, 0, 36500, &v))
				goto bad_value;
			cfg->history_days = (unsigned)v;
			break;
		case OPT_HIST_MAX:
			if (args_parse_uint(optarg, 0, 100000000, &v))
				goto bad_value;
			cfg->history_max = (unsigned)v;
			break;
		case OPT_NICK_TTL:
			if (args_parse_uint(optarg, 0, 100ull * 365 * 86400, &v))
				goto bad_value;
			cfg->nick_ttl_s = v;
			break;
		case OPT_CHAIN_CACHE:
			if (args_parse_uint(optarg, 0, 100000, &v))
				goto bad_value;
			cfg->chain_cache_rooms = (unsigned)v;
			break;
		case OPT_HS_WORKERS:
			if (args_parse_uint(optarg, 1, 256, &v))
				goto bad_value;
			cfg->handshake_workers = (unsigned)v;
			break;
		case OPT_HS_QUEUE:
			if (args_parse_uint(optarg, 1, 100000, &v))
				goto bad_value;
			cfg->handshake_queue = (unsigned)v;
			break;
		case OPT_PREAUTH_ADDR:
			if (args_parse_uint(optarg, 1, 1000000, &v))
				goto bad_value;
			cfg->preauth_per_addr = (unsigned)v;
			break;
		case OPT_HS_RATE:
			if (args_parse_uint(optarg, 1, 1000000, &v))
				goto bad_value;
			cfg->handshake_rate = (unsigned)v;
			break;
		case OPT_HS_BURST:
			if (args_parse_uint(optarg, 1, 1000000, &v))
				goto bad_value;
			cfg->handshake_burst = (unsigned)v;
			break;
		case OPT_PUZZLE_MIN:
			if (args_parse_uint(optarg, 0, PROTO_PUZZLE_BITS_MAX, &v))
				goto bad_value;
			cfg->puzzle_min_bits = (unsigned)v;
			break;
		case OPT_PUZZLE_MAX:
			if (args_parse_uint(optarg, 0, PROTO_PUZZLE_BITS_MAX, &v))
				goto bad_value;
			cfg->puzzle_max_bits = (unsigned)v;
			break;
		case OPT_ONION:
			cfg->onion = true;
			break;
		case OPT_TOR_CONTROL:
			if (args_parse_host_port(optarg, cfg->tor_control_host,
						 sizeof cfg->tor_control_host, &cfg->tor_control_port))
				goto bad_value;
			break;
		case OPT_TOR_PASSWORD:
			if (!*optarg || strlen(optarg) >= sizeof cfg->tor_control_password_file)
				goto bad_value;
			snprintf(cfg->tor_control_password_file,
				 sizeof cfg->tor_control_password_file, "%s", optarg);
			break;
		case OPT_ONION_PORT:
			if (args_parse_uint(optarg, 1, 65535, &v))
				goto bad_value;
			cfg->onion_port = (uint16_t)v;
			break;
		case OPT_HELP:
			fputs(server_usage, stdout);
			*exit_now = 1;
			return CC_OK;
		case OPT_VERSION:
			printf("cryptocat-server %s (protocol %d)\n", CC_VERSION, PROTO_VERSION);
			*exit_now = 1;
			return CC_OK;
		default:
			fprintf(stderr, "cryptocat-server: unknown option or missing value: %s\n",
				argv[optind - 1]);
			goto usage;
		}
	}
	if (cfg->puzzle_min_bits > cfg->puzzle_max_bits && cfg->puzzle_max_bits) {
		fprintf(stderr, "cryptocat-server: --puzzle-min is above --puzzle-max\n");
		goto usage;
	}
	if (optind < argc) {
		fprintf(stderr, "cryptocat-server: unexpected argument: %s\n", argv[optind]);
		goto usage;
	}
	if (!cfg->onion && (cfg->tor_control_password_file[0] || cfg->onion_port)) {
		fprintf(stderr, "cryptocat-server: --tor-control-password-file and --onion-port go"
			" with --onion\n");
		goto usage;
	}
	if (cfg->onion && strcmp(cfg->listen_host, "127.0.0.1") != 0 &&
	    strcmp(cfg->listen_host, "::1") != 0 && strcmp(cfg->listen_host, "localhost") != 0)
		log_warn("--onion with --listen %s: the server is reachable directly too, not"
			 " only as an onion service", cfg->listen_host);
	return CC_OK;
bad_value:
	fprintf(stderr, "cryptocat-server: bad value for --%s: %s\n", options[idx].name, optarg);
usage:
	fputs("Try 'cryptocat-server --help'.\n", stderr);
	return CC_ERR_USAGE;
}
