/* Integration tests of registration, pinning and the command lines, against
 * the real cryptocat-server and cryptocat (batch mode) on 127.0.0.1.
 *
 * What is proved end to end: a nickname is bound to the key that first
 * registers it (any case), survives a server restart, and a key owns one
 * nickname; a client refuses a server whose key is not the pinned one (exit
 * 3) and leaves the pin alone; the saved nickname is reused; bad command
 * lines exit 2 without connecting; SIGTERM and SIGINT stop the server with
 * status 0 while clients are connected. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto/crypto.h"
#include "support/itest.h"
#include "support/itest_extra.h"
#include "support/itest_rooms.h"
#include "util/buf.h"

#define FP_HEX_LEN 64

/* Every server makes a 2048-bit key on first start: 3072 would be slow. */
static const char *const server_args[] = {"--rsa-bits", "2048", "--log-level", "debug", NULL};

static void check_fp_hex(const char *s)
{
	assert_non_null(s);
	assert_int_equal(strlen(s), FP_HEX_LEN);
	for (const char *p = s; *p; p++)
		assert_true((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'));
}

/* Runs one client session: registers, checks the event, quits (exit 0).
 * Returns the registered event (caller json_decref()s). */
static json_t *register_once(int port, const char *home, const char *nick,
			     const char *want_nick, const char *want_key_status)
{
	struct itest_client *c = itest_client_start(port, home, nick, NULL);
	assert_non_null(c);
	json_t *ev = itest_client_expect(c, "registered", ITEST_TIMEOUT_MS);
	assert_non_null(ev);
	assert_string_equal(itest_json_str(ev, "nick"), want_nick);
	assert_string_equal(itest_json_str(ev, "server_key"), want_key_status);
	check_fp_hex(itest_json_str(ev, "fingerprint"));
	check_fp_hex(itest_json_str(ev, "server_fingerprint"));
	char server[32];
	snprintf(server, sizeof server, "127.0.0.1:%d", port);
	assert_string_equal(itest_json_str(ev, "server"), server);
	assert_int_equal(itest_client_send(c, "/quit"), 0);
	assert_int_equal(itest_client_wait_exit(c, ITEST_TIMEOUT_MS), 0);
	return ev;
}

/* A session that must be refused with error CODE and exit status STATUS.
 * Returns the error event (caller json_decref()s). */
static json_t *refused_once(int port, const char *home, const char *nick, const char *code,
			    int status)
{
	struct itest_client *c = itest_client_start(port, home, nick, NULL);
	assert_non_null(c);
	json_t *ev = itest_client_expect_error(c, code, ITEST_TIMEOUT_MS);
	assert_non_null(ev);
	assert_non_null(itest_json_str(ev, "message"));
	/* It exits by itself: no /quit is needed (nor possible). */
	assert_int_equal(itest_client_wait_exit(c, ITEST_TIMEOUT_MS), status);
	return ev;
}

/* How many times NEEDLE occurs in the file at PATH. */
static int count_in_file(const char *path, const char *needle)
{
	char *text = itest_read_file(path, NULL);
	assert_non_null(text);
	int n = 0;
	for (char *p = strstr(text, needle); p; p = strstr(p + 1, needle))
		n++;
	free(text);
	return n;
}

static char *saved_nick(const char *home)
{
	char *s = itest_read_file(itest_path(home, "nick"), NULL);
	assert_non_null(s);
	return s;
}

/* ---- nickname binding ------------------------------------------------ */

static void test_nick_binding(void **state)
{
	(void)state;
	if (!itest_have_binaries())
		skip();
	const char *dir = itest_tmpdir("register");
	assert_non_null(dir);
	const char *data = itest_subdir(dir, "server");
	const char *home_a = itest_subdir(dir, "alice");
	const char *home_b = itest_subdir(dir, "other");
	assert_non_null(data);
	assert_non_null(home_a);
	assert_non_null(home_b);
	struct itest_server *srv = itest_server_start(data, server_args);
	assert_non_null(srv);
	int port = itest_server_port(srv);

	/* First registration: a new user and a newly pinned server. */
	struct itest_client *a = itest_client_start(port, home_a, "alice", NULL);
	assert_non_null(a);
	json_t *first = itest_client_expect(a, "registered", ITEST_TIMEOUT_MS);
	assert_non_null(first);
	assert_string_equal(itest_json_str(first, "nick"), "alice");
	assert_string_equal(itest_json_str(first, "server_key"), "new");
	check_fp_hex(itest_json_str(first, "fingerprint"));
	check_fp_hex(itest_json_str(first, "server_fingerprint"));
	char fp_a[FP_HEX_LEN + 1], server_fp[FP_HEX_LEN + 1];
	snprintf(fp_a, sizeof fp_a, "%s", itest_json_str(first, "fingerprint"));
	snprintf(server_fp, sizeof server_fp, "%s", itest_json_str(first, "server_fingerprint"));
	json_decref(first);

	/* Another key, the same nickname in another case, while alice is online. */
	json_decref(refused_once(port, home_b, "ALICE", "nick_taken", 1));
	/* alice did not notice. */
	assert_int_equal(itest_client_send(a, "/ping"), 0);
	json_t *ev = itest_client_expect(a, "pong", ITEST_TIMEOUT_MS);
	assert_non_null(ev);
	json_decref(ev);
	assert_int_equal(itest_client_send(a, "/quit"), 0);
	assert_int_equal(itest_client_wait_exit(a, ITEST_TIMEOUT_MS), 0);

	/* The first key gets its nickname back, in the case first registered. */
	ev = register_once(port, home_a, "Alice", "alice", "known");
	assert_string_equal(itest_json_str(ev, "fingerprint"), fp_a);
	assert_string_equal(itest_json_str(ev, "server_fingerprint"), server_fp);
	json_decref(ev);
	char *nick = saved_nick(home_a);
	assert_string_equal(nick, "alice\n");
	free(nick);

	/* Users and the server's key survive a restart on the same port. */
	assert_int_equal(itest_server_stop(srv), 0);
	srv = itest_server_start_on(data, port, server_args);
	assert_non_null(srv);
	ev = register_once(port, home_a, "alice", "alice", "known");
	assert_string_equal(itest_json_str(ev, "fingerprint"), fp_a);
	assert_string_equal(itest_json_str(ev, "server_fingerprint"), server_fp);
	json_decref(ev);
	json_decref(refused_once(port, home_b, "ALICE", "nick_taken", 1));
	json_decref(refused_once(port, home_b, "alice", "nick_taken", 1));

	/* A key owns one nickname: the text names the one it has. */
	ev = refused_once(port, home_a, "bob", "exists", 1);
	assert_non_null(strstr(itest_json_str(ev, "message"), "alice"));
	json_decref(ev);
	/* The refusal neither changed the saved nickname nor bound "bob". */
	nick = saved_nick(home_a);
	assert_string_equal(nick, "alice\n");
	free(nick);
	ev = register_once(port, home_b, "Bob", "Bob", "known");
	assert_string_not_equal(itest_json_str(ev, "fingerprint"), fp_a);
	json_decref(ev);

	assert_int_equal(itest_server_stop(srv), 0);
}

/* ---- pinned server key ------------------------------------------------ */

/* The fingerprint of the key the server keeps in DATA (made at first start). */
static void server_key_fp(const char *data, char out[FP_HEX_LEN + 1])
{
	struct crypto_rsa_key *key = NULL;
	uint8_t fp[CRYPTO_FINGERPRINT_LEN];
	assert_int_equal(crypto_init(), CC_OK);
	assert_int_equal(crypto_rsa_load_private_file(itest_path(data, "server_key.pem"), &key),
		CC_OK);
	assert_int_equal(crypto_rsa_fingerprint(key, fp), CC_OK);
	crypto_rsa_free(key);
	hex_encode(fp, sizeof fp, out);
}

static void test_server_key_changed(void **state)
{
	(void)state;
	if (!itest_have_binaries())
		skip();
	const char *dir = itest_tmpdir("pin");
	assert_non_null(dir);
	const char *data_a = itest_subdir(dir, "server-a");
	const char *data_b = itest_subdir(dir, "server-b");
	const char *home = itest_subdir(dir, "carol");
	assert_non_null(data_a);
	assert_non_null(data_b);
	assert_non_null(home);

	struct itest_server *srv = itest_server_start(data_a, server_args);
	assert_non_null(srv);
	int port = itest_server_port(srv);
	char fp_a[FP_HEX_LEN + 1], fp_b[FP_HEX_LEN + 1];
	server_key_fp(data_a, fp_a);
	json_t *ev = register_once(port, home, "carol", "carol", "new");
	assert_string_equal(itest_json_str(ev, "server_fingerprint"), fp_a);
	json_decref(ev);
	assert_int_equal(itest_server_stop(srv), 0);

	const char *known_path = itest_path(home, "known_servers");
	char *known = itest_read_file(known_path, NULL);
	assert_non_null(known);
	char pin_line[128];
	snprintf(pin_line, sizeof pin_line, "127.0.0.1:%d %s\n", port, fp_a);
	assert_non_null(strstr(known, pin_line));

	/* Another server (another key) on the same address. */
	srv = itest_server_start_on(data_b, port, server_args);
	assert_non_null(srv);
	server_key_fp(data_b, fp_b);
	/* One log per port: count what this server adds. */
	char log_b[4200];
	snprintf(log_b, sizeof log_b, "%s", itest_server_log(srv));
	int registered_before = count_in_file(log_b, "registered");
	assert_string_not_equal(fp_a, fp_b);
	ev = refused_once(port, home, "carol", "server_key_changed", 3);
	char server[32];
	snprintf(server, sizeof server, "127.0.0.1:%d", port);
	assert_string_equal(itest_json_str(ev, "server"), server);
	assert_string_equal(itest_json_str(ev, "pinned"), fp_a);
	assert_string_equal(itest_json_str(ev, "offered"), fp_b);
	json_decref(ev);
	assert_int_equal(itest_server_stop(srv), 0);
	/* The client stopped before it sent who it is: nothing registered. */
	assert_int_equal(count_in_file(log_b, "registered"), registered_before);

	/* The pin is untouched (byte for byte). */
	char *known_after = itest_read_file(known_path, NULL);
	assert_non_null(known_after);
	assert_string_equal(known_after, known);
	free(known_after);
	free(known);

	/* The real server back: accepted again as "known". */
	srv = itest_server_start_on(data_a, port, server_args);
	assert_non_null(srv);
	json_decref(register_once(port, home, "carol", "carol", "known"));
	assert_int_equal(itest_server_stop(srv), 0);
}

/* ---- saved nickname ---------------------------------------------------- */

static void test_saved_nick(void **state)
{
	(void)state;
	if (!itest_have_binaries())
		skip();
	const char *dir = itest_tmpdir("saved");
	assert_non_null(dir);
	const char *data = itest_subdir(dir, "server");
	const char *home = itest_subdir(dir, "dave");
	assert_non_null(data);
	assert_non_null(home);
	struct itest_server *srv = itest_server_start(data, server_args);
	assert_non_null(srv);
	int port = itest_server_port(srv);

	json_t *ev = register_once(port, home, "Dave", "Dave", "new");
	char fp[FP_HEX_LEN + 1];
	snprintf(fp, sizeof fp, "%s", itest_json_str(ev, "fingerprint"));
	json_decref(ev);
	char *nick = saved_nick(home);
	assert_string_equal(nick, "Dave\n");
	free(nick);

	/* No --nick: the saved one. */
	ev = register_once(port, home, NULL, "Dave", "known");
	assert_string_equal(itest_json_str(ev, "fingerprint"), fp);
	json_decref(ev);

	/* No --nick and nothing saved: a usage error, exit 2. */
	const char *fresh = itest_subdir(dir, "fresh");
	assert_non_null(fresh);
	struct itest_client *c = itest_client_start(port, fresh, NULL, NULL);
	assert_non_null(c);
	char clog[4200];
	snprintf(clog, sizeof clog, "%s", itest_client_log(c));
	assert_int_equal(itest_client_wait_exit(c, ITEST_TIMEOUT_MS), 2);
	assert_true(itest_file_contains(clog, "no nickname"));

	assert_int_equal(itest_server_stop(srv), 0);
}

/* ---- command lines ----------------------------------------------------- */

/* A socket on a free loopback port: listening if LISTEN (it records any
 * connection attempt), else only bound (connections are refused). */
static int loopback_socket(int listen_too, int *port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	struct sockaddr_in sa;
	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	if (listen_too) {
		assert_int_equal(listen(fd, 16), 0);
		/* accept() must report "nobody" rather than wait. */
		assert_int_equal(fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK), 0);
	}
	socklen_t len = sizeof sa;
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	*port = ntohs(sa.sin_port);
	return fd;
}

/* 1 if a connection is waiting on the listening socket FD. */
static int has_pending_connection(int fd)
{
	int c = accept(fd, NULL, NULL);
	if (c >= 0) {
		close(c);
		return 1;
	}
	assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
	return 0;
}

static int run_logged(const char *bin, const char *const *args, const char *log)
{
	unlink(log);
	return itest_run(bin, args, log, ITEST_TIMEOUT_MS);
}

static void test_command_lines(void **state)
{
	(void)state;
	if (!itest_have_binaries())
		skip();
	const char *dir = itest_tmpdir("cmdline");
	assert_non_null(dir);
	const char *log = itest_path(dir, "out.log");
	const char *home = itest_path(dir, "home");  /* never created */
	int lport;
	int lfd = loopback_socket(1, &lport);
	char server[32];
	snprintf(server, sizeof server, "127.0.0.1:%d", lport);

	/* Bad nicknames: exit 2, before the home is made or a connection tried. */
	static const char nick33[] = "abcdefghijklmnopqrstuvwxyz0123456";
	assert_int_equal(strlen(nick33), 33);
	const char *const bad_nicks[] = {"a b", nick33, "", "al!ce", "\xc3\xa9t\xc3\xa9"};
	for (size_t i = 0; i < sizeof bad_nicks / sizeof bad_nicks[0]; i++) {
		const char *args[] = {"--batch", "--server", server, "--home", home,
				      "--rsa-bits", "2048", "--nick", bad_nicks[i], NULL};
		assert_int_equal(run_logged(itest_client_bin(), args, log), 2);
		assert_true(itest_file_contains(log, "bad nickname"));
		assert_false(has_pending_connection(lfd));
		struct stat st;
		assert_int_equal(stat(home, &st), -1);
	}

	/* Unknown options and missing values: 2, with a hint. */
	const char *const client_bad[][3] = {
		{"--bogus", NULL, NULL},
		{"--home", home, "--nick"},
		{"--server", "localhost", NULL},
		{"--server", "127.0.0.1:0", NULL},
		{"--rsa-bits", "1024", NULL},
		{"extra-argument", NULL, NULL},
	};
	for (size_t i = 0; i < sizeof client_bad / sizeof client_bad[0]; i++) {
		const char *args[] = {client_bad[i][0], client_bad[i][1], client_bad[i][2], NULL};
		assert_int_equal(run_logged(itest_client_bin(), args, log), 2);
		assert_true(itest_file_contains(log, "cryptocat --help"));
	}
	const char *const server_bad[][2] = {
		{"--bogus", NULL},
		{"--max-connections", "0"},
		{"--rsa-bits", "1024"},
		{"--max-frame", "100"},
		{"extra-argument", NULL},
	};
	for (size_t i = 0; i < sizeof server_bad / sizeof server_bad[0]; i++) {
		const char *args[] = {server_bad[i][0], server_bad[i][1], NULL};
		assert_int_equal(run_logged(itest_server_bin(), args, log), 2);
		assert_true(itest_file_contains(log, "cryptocat-server --help"));
	}
	assert_false(has_pending_connection(lfd));

	/* --help and --version: 0 for both. */
	const char *const help[] = {"--help", NULL};
	const char *const version[] = {"--version", NULL};
	const char *const bins[] = {itest_client_bin(), itest_server_bin()};
	for (size_t i = 0; i < 2; i++) {
		assert_int_equal(run_logged(bins[i], help, log), 0);
		assert_true(itest_file_contains(log, "Usage: cryptocat"));
		assert_true(itest_file_contains(log, "--version"));
		assert_int_equal(run_logged(bins[i], version, log), 0);
		assert_true(itest_file_contains(log, CC_VERSION));
	}

	/* A bad --listen: exit 2 and a message naming the option and value. */
	const char *const bad_listen[] = {"nonsense", "127.0.0.1:70000", ":7777", "127.0.0.1:"};
	for (size_t i = 0; i < sizeof bad_listen / sizeof bad_listen[0]; i++) {
		const char *args[] = {"--listen", bad_listen[i], NULL};
		assert_int_equal(run_logged(itest_server_bin(), args, log), 2);
		char want[64];
		snprintf(want, sizeof want, "bad value for --listen: %s", bad_listen[i]);
		assert_true(itest_file_contains(log, want));
	}
	/* A good --listen that cannot be bound (the port is ours): non-zero. */
	const char *data = itest_subdir(dir, "server");
	assert_non_null(data);
	const char *args[] = {"--listen", server, "--data", data, "--rsa-bits", "2048", NULL};
	int st = run_logged(itest_server_bin(), args, log);
	assert_true(st != 0 && st < 128);
	char want[64];
	snprintf(want, sizeof want, "cannot listen on 127.0.0.1:%d", lport);
	assert_true(itest_file_contains(log, want));
	close(lfd);

	/* Nothing listening: the client reports connection_failed, exit 1. */
	int bfd = loopback_socket(0, &lport);
	const char *chome = itest_subdir(dir, "erin");
	assert_non_null(chome);
	struct itest_client *c = itest_client_start(lport, chome, "erin", NULL);
	assert_non_null(c);
	json_decref(itest_client_expect_error(c, "connection_failed", ITEST_TIMEOUT_MS));
	assert_int_equal(itest_client_wait_exit(c, ITEST_TIMEOUT_MS), 1);
	close(bfd);
}

/* ---- signals ----------------------------------------------------------- */

/* Stops the server with SIG while two clients are registered and a third
 * connection sits in the middle of nothing: exit status 0, clients told. */
static void stop_with_clients(int port, struct itest_server *srv, const char *dir, int sig,
			      const char *key_status)
{
	struct itest_client *c1 = itest_client_start(port, itest_subdir(dir, "frank"),
		"frank", NULL);
	struct itest_client *c2 = itest_client_start(port, itest_subdir(dir, "grace"),
		"grace", NULL);
	assert_non_null(c1);
	assert_non_null(c2);
	json_t *ev = itest_client_expect(c1, "registered", ITEST_TIMEOUT_MS);
	assert_non_null(ev);
	assert_string_equal(itest_json_str(ev, "server_key"), key_status);
	json_decref(ev);
	ev = itest_client_expect(c2, "registered", ITEST_TIMEOUT_MS);
	assert_non_null(ev);
	json_decref(ev);
	int raw = itest_tcp_connect(port);
	assert_true(raw >= 0);

	assert_int_equal(itest_server_stop_signal(srv, sig), 0);
	rt_lost_quit(c1);
	rt_lost_quit(c2);
	assert_int_equal(itest_tcp_wait_closed(raw, ITEST_TIMEOUT_MS), 1);
	close(raw);
}

static void test_signals(void **state)
{
	(void)state;
	if (!itest_have_binaries())
		skip();
	const char *dir = itest_tmpdir("signals");
	assert_non_null(dir);
	const char *data = itest_subdir(dir, "server");
	assert_non_null(data);

	struct itest_server *srv = itest_server_start(data, server_args);
	assert_non_null(srv);
	int port = itest_server_port(srv);
	stop_with_clients(port, srv, dir, SIGTERM, "new");

	srv = itest_server_start_on(data, port, server_args);
	assert_non_null(srv);
	/* A default SIGINT would show as 130: 0 means it was handled. */
	stop_with_clients(port, srv, dir, SIGINT, "known");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_nick_binding, itest_teardown),
		cmocka_unit_test_teardown(test_server_key_changed, itest_teardown),
		cmocka_unit_test_teardown(test_saved_nick, itest_teardown),
		cmocka_unit_test_teardown(test_command_lines, itest_teardown),
		cmocka_unit_test_teardown(test_signals, itest_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
