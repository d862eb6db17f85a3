/* The server as an onion service (--onion; docs/TOR.md), against a real tor
 * from Debian that the test starts with DisableNetwork 1: nothing leaves
 * the machine, and ADD_ONION still answers (the service is made locally;
 * only its publication waits for a network).
 *
 *   1. With tor's cookie: the server asks tor for a service, logs its
 *      .onion address and writes it to onion_hostname, keeps its key in
 *      onion_key (0600). tor really holds the service while the server
 *      runs (the same key offered by the test is refused as a collision),
 *      drops it when the server stops (the same key is then taken), and
 *      the address is the same after a restart. Local clients still use
 *      the listener, and loopback is exempt from the per-address limits.
 *   2. With a password (--tor-control-password-file): the right one works,
 *      a wrong one is a clear error and the server does not start.
 *   3. No tor at the control port, and an onion_key that is not one: clear
 *      errors, the server does not start. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "support/itest.h"
#include "support/itest_extra.h"
#include "support/itest_rooms.h"
#include "util/buf.h"
#include "util/torctl.h"

#define TOR_PASSWORD "correct horse battery staple"

static pid_t tor_pid;
static int tor_port;
static char tor_dir[512];

static int onion_teardown(void **state)
{
	if (tor_pid > 0) {
		kill(tor_pid, SIGTERM);
		waitpid(tor_pid, NULL, 0);
		tor_pid = 0;
	}
	return itest_teardown(state);
}

/* The last line `tor --hash-password` printed. */
static void hash_password(const char *dir, char *out, size_t n)
{
	const char *log = itest_path(dir, "hash.log");
	const char *const args[] = {"--hash-password", TOR_PASSWORD, "--quiet", NULL};
	assert_int_equal(itest_run("/usr/sbin/tor", args, log, ITEST_TIMEOUT_MS), 0);
	size_t len;
	char *text = itest_read_file(log, &len);
	assert_non_null(text);
	char *line = strstr(text, "16:");
	assert_non_null(line);
	size_t l = strcspn(line, "\r\n");
	assert_true(l < n);
	memcpy(out, line, l);
	out[l] = '\0';
	free(text);
}

/* A tor of the test's own: no network, a control port with the cookie and
 * a password, waited for until it accepts. */
static void tor_start(const char *dir)
{
	if (access("/usr/sbin/tor", X_OK) != 0)
		fail_msg("tor is not installed: scripts/install-deps.sh installs it");
	char hashed[200], torrc[4096];
	hash_password(dir, hashed, sizeof hashed);
	snprintf(tor_dir, sizeof tor_dir, "%s", itest_subdir(dir, "tor"));
	assert_int_equal(chmod(tor_dir, 0700), 0);
	tor_port = itest_free_port();
	snprintf(torrc, sizeof torrc,
		 "DataDirectory %s\nDisableNetwork 1\nSocksPort 0\nControlPort 127.0.0.1:%d\n"
		 "CookieAuthentication 1\nHashedControlPassword %s\nLog notice file %s/tor.log\n",
		 tor_dir, tor_port, hashed, tor_dir);
	const char *rc_path = itest_path(dir, "torrc");
	FILE *f = fopen(rc_path, "w");
	assert_non_null(f);
	fputs(torrc, f);
	fclose(f);
	tor_pid = fork();
	assert_true(tor_pid >= 0);
	if (tor_pid == 0) {
		int null = open("/dev/null", O_RDWR);
		dup2(null, 0);
		dup2(null, 1);
		dup2(null, 2);
		execl("/usr/sbin/tor", "tor", "-f", rc_path, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 300; i++) {
		int fd = itest_tcp_connect(tor_port);
		if (fd >= 0) {
			close(fd);
			return;
		}
		usleep(100 * 1000);
	}
	fail_msg("tor did not open its control port (see %s/tor.log)", tor_dir);
}

/* ---- the test's own control connection ------------------------------------------ */

static int ctl_open(void)
{
	int fd = itest_tcp_connect(tor_port);
	assert_true(fd >= 0);
	return fd;
}

/* Sends LINE, returns the reply's status (R filled). */
static int ctl(int fd, const char *line, struct torctl_reply *r)
{
	static char in[TORCTL_REPLY_MAX];
	size_t len = 0, used;
	char out[1200];
	snprintf(out, sizeof out, "%s\r\n", line);
	assert_int_equal(itest_tcp_send_all(fd, out, strlen(out)), 0);
	for (;;) {
		cc_err err = torctl_reply_parse(in, len, r, &used);
		if (err == CC_OK)
			return r->status;
		assert_int_equal(err, CC_ERR_TRUNCATED);
		ssize_t got = read(fd, in + len, sizeof in - len);
		assert_true(got > 0);
		len += (size_t)got;
	}
}

static int ctl_authed(void)
{
	struct torctl_reply r;
	char quoted[100], line[200];
	int fd = ctl_open();
	assert_int_equal(torctl_quote(TOR_PASSWORD, quoted, sizeof quoted), CC_OK);
	snprintf(line, sizeof line, "AUTHENTICATE %s", quoted);
	assert_int_equal(ctl(fd, line, &r), 250);
	return fd;
}

/* ADD_ONION with the server's key, from the test: its status. */
static int add_same_key(const char *data)
{
	struct torctl_reply r;
	char key[300], line[400], id[100];
	size_t len;
	char *text = itest_read_file(itest_path(data, "onion_key"), &len);
	assert_non_null(text);
	assert_true(len < sizeof key);
	snprintf(key, sizeof key, "%.*s", (int)strcspn(text, "\n"), text);
	free(text);
	int fd = ctl_authed();
	snprintf(line, sizeof line, "ADD_ONION %s Flags=DiscardPK Port=1,127.0.0.1:1", key);
	int status = ctl(fd, line, &r);
	if (status == 250) {
		assert_int_equal(torctl_value(r.lines[0], "ServiceID", id, sizeof id), 1);
		snprintf(line, sizeof line, "DEL_ONION %s", id);
		assert_int_equal(ctl(fd, line, &r), 250);
	}
	close(fd);
	return status;
}

/* The address the server wrote, once it has (NULL-free: asserts). */
static void hostname_of(const char *data, char out[128])
{
	for (int i = 0; i < 200; i++) {
		size_t len;
		char *text = itest_read_file(itest_path(data, "onion_hostname"), &len);
		if (text) {
			snprintf(out, 128, "%.*s", (int)strcspn(text, "\n"), text);
			free(text);
			return;
		}
		usleep(50 * 1000);
	}
	fail_msg("the server wrote no onion_hostname");
}

static void expect_onion_address(const char *host)
{
	assert_int_equal(strlen(host), 56 + 6);
	assert_string_equal(host + 56, ".onion");
	for (int i = 0; i < 56; i++)
		assert_non_null(strchr("abcdefghijklmnopqrstuvwxyz234567", host[i]));
}

/* ---- 1. with the cookie ---------------------------------------------------------- */

static void test_onion_service(void **state)
{
	char ctl_addr[64], host[128], again[128], line[300];
	(void)state;
	const char *dir = itest_tmpdir("onion");
	tor_start(dir);
	snprintf(ctl_addr, sizeof ctl_addr, "127.0.0.1:%d", tor_port);
	const char *data = itest_path(dir, "data");
	/* One unauthenticated connection per address: loopback is exempt. */
	const char *const args[] = {"--onion", "--tor-control", ctl_addr,
				    "--preauth-per-address", "1", NULL};
	struct itest_server *srv = itest_server_start(data, args);
	assert_non_null(srv);
	hostname_of(data, host);
	expect_onion_address(host);
	snprintf(line, sizeof line, "onion service: %s:%d", host, itest_server_port(srv));
	assert_true(itest_file_contains(itest_server_log(srv), line));
	struct stat st;
	assert_int_equal(stat(itest_path(data, "onion_key"), &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	/* tor holds it: the same key is a collision while the server runs. */
	assert_int_equal(add_same_key(data), 550);
	/* Local clients still use the listener; and since tor brings every onion
	 * client from loopback, the per-address limits spare it: alice registers
	 * while another loopback connection sits in its handshake. */
	int held = itest_tcp_connect(itest_server_port(srv));
	assert_true(held >= 0);
	struct itest_client *c = rt_client(itest_server_port(srv), itest_subdir(dir, "alice"),
					   "alice", "alice");
	rt_quit(c);
	close(held);
	int port = itest_server_port(srv);
	assert_int_equal(itest_server_stop(srv), 0);
	/* Gone with the server: tor takes the same key from anyone now. */
	assert_int_equal(add_same_key(data), 250);
	/* The same address after a restart. */
	assert_int_equal(unlink(itest_path(data, "onion_hostname")), 0);
	srv = itest_server_start_on(data, port, args);
	assert_non_null(srv);
	hostname_of(data, again);
	assert_string_equal(again, host);
	assert_int_equal(add_same_key(data), 550);
	assert_int_equal(itest_server_stop(srv), 0);
}

/* ---- 2. with a password ------------------------------------------------------------ */

static void test_password(void **state)
{
	char ctl_addr[64], host[128];
	(void)state;
	const char *dir = itest_tmpdir("onion-password");
	tor_start(dir);
	snprintf(ctl_addr, sizeof ctl_addr, "127.0.0.1:%d", tor_port);
	const char *good = itest_path(dir, "good.pass"), *bad = itest_path(dir, "bad.pass");
	FILE *f = fopen(good, "w");
	assert_non_null(f);
	fputs(TOR_PASSWORD "\n", f);
	fclose(f);
	f = fopen(bad, "w");
	assert_non_null(f);
	fputs("not the password\n", f);
	fclose(f);

	const char *data = itest_path(dir, "data");
	const char *const args[] = {"--onion", "--tor-control", ctl_addr,
				    "--tor-control-password-file", good, NULL};
	struct itest_server *srv = itest_server_start(data, args);
	assert_non_null(srv);
	hostname_of(data, host);
	expect_onion_address(host);
	assert_int_equal(itest_server_stop(srv), 0);

	const char *log = itest_path(dir, "bad.log");
	char listen[64];
	snprintf(listen, sizeof listen, "127.0.0.1:%d", itest_free_port());
	const char *const bad_args[] = {"--listen", listen, "--data", data, "--onion",
					"--tor-control", ctl_addr, "--tor-control-password-file",
					bad, NULL};
	int status = itest_run(itest_server_bin(), bad_args, log, ITEST_TIMEOUT_MS);
	assert_true(status > 0);
	assert_true(itest_file_contains(log, "tor refused our authentication"));
}

/* ---- 3. no tor, a bad key file ------------------------------------------------------ */

static void test_errors(void **state)
{
	char ctl_addr[64], listen[64];
	(void)state;
	const char *dir = itest_tmpdir("onion-errors");
	snprintf(listen, sizeof listen, "127.0.0.1:%d", itest_free_port());
	const char *data = itest_subdir(dir, "data");
	snprintf(ctl_addr, sizeof ctl_addr, "127.0.0.1:%d", itest_free_port());
	const char *log = itest_path(dir, "none.log");
	const char *const args[] = {"--listen", listen, "--data", data, "--onion",
				    "--tor-control", ctl_addr, NULL};
	assert_true(itest_run(itest_server_bin(), args, log, ITEST_TIMEOUT_MS) > 0);
	assert_true(itest_file_contains(log, "cannot connect to tor's control port"));

	/* A key file that would smuggle an argument into ADD_ONION. */
	FILE *f = fopen(itest_path(data, "onion_key"), "w");
	assert_non_null(f);
	fputs("ED25519-V3:abc Port=22,127.0.0.1:22\n", f);
	fclose(f);
	log = itest_path(dir, "key.log");
	assert_true(itest_run(itest_server_bin(), args, log, ITEST_TIMEOUT_MS) > 0);
	assert_true(itest_file_contains(log, "is not an onion service key"));

	/* --onion's companions without it. */
	const char *const lonely[] = {"--onion-port", "80", NULL};
	assert_int_equal(itest_run(itest_server_bin(), lonely, NULL, ITEST_TIMEOUT_MS), 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_onion_service, onion_teardown),
		cmocka_unit_test_teardown(test_password, onion_teardown),
		cmocka_unit_test_teardown(test_errors, onion_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
