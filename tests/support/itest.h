/* Integration-test support: real cryptocat-server and cryptocat (batch mode)
 * processes on 127.0.0.1, driven from a cmocka test.
 *
 * A typical test:
 *
 *	const char *dir = itest_tmpdir("rooms");
 *	struct itest_server *srv =
 *		itest_server_start(itest_subdir(dir, "server"), NULL);
 *	assert_non_null(srv);
 *	struct itest_client *a = itest_client_start(itest_server_port(srv),
 *		itest_subdir(dir, "alice"), "alice", NULL);
 *	assert_non_null(a);
 *	json_t *ev = itest_client_expect(a, "registered", ITEST_TIMEOUT_MS);
 *	assert_non_null(ev);
 *	assert_string_equal(itest_json_str(ev, "nick"), "alice");
 *	json_decref(ev);
 *	assert_int_equal(itest_client_send(a, "/quit"), 0);
 *	assert_int_equal(itest_client_wait_exit(a, ITEST_TIMEOUT_MS), 0);
 *	assert_int_equal(itest_server_stop(srv), 0);
 *
 * and `cmocka_unit_test_teardown(test_rooms, itest_teardown)` so that a test
 * that fails halfway leaves no process or directory behind.
 *
 * Failures never abort: functions return NULL / -1 and print a diagnostic on
 * stderr (what was read, the recent I/O with the client, the tail of the
 * process's log), and the test asserts on the result.
 *
 * Processes and paths are tracked by the library. itest_cleanup() (also run
 * by atexit, and by itest_teardown) kills every child still running, prints
 * the tail of its log (a child left running usually means the test failed
 * midway), and removes every directory made by itest_tmpdir() and every log
 * file, unless the environment has ITEST_KEEP=1 (then it prints their paths).
 * Children also get SIGKILL if the test process dies (Linux
 * PR_SET_PDEATHSIG), so a crashed or timed-out test leaves nothing running.
 *
 * Environment:
 *	ITEST_KEEP=1            keep temporary directories and logs
 *	ITEST_VERBOSE=1         echo every line sent to and read from clients
 *	ITEST_TIMEOUT_SCALE=N   multiply every timeout by N (e.g. 4 under valgrind)
 *	ITEST_LOG_LEVEL=L       server --log-level (default "debug")
 *	ITEST_SERVER_BIN, ITEST_CLIENT_BIN   override the binaries' paths
 *
 * XDG_CONFIG_HOME is set to a directory that does not exist, so the clients
 * read no config file unless a test writes one and points them at it.
 *
 * The programs started are the test variants, CC_TESTBIN_DIR/cryptocat-server
 * and CC_TESTBIN_DIR/cryptocat (build/testbin/: the shipped programs plus the
 * test hooks of src/testhooks/, e.g. the clock of CRYPTOCAT_CLOCK_FILE);
 * itest_use_binaries() switches to others, e.g. the shipped ones.
 *
 * Not thread-safe: call it from the test's main thread only. The library
 * ignores SIGPIPE in the test process (writes to a dead peer return EPIPE).
 * Exit statuses are reported as the exit code (0..255) for a normal exit,
 * 128 + N for death by signal N, and -1 for a timeout or a wait error. */
#ifndef CC_TESTS_ITEST_H
#define CC_TESTS_ITEST_H

#include <stddef.h>
#include <sys/types.h>

#include <jansson.h>

/* Default timeout for one expected event (generous: ASan is slow, and a
 * client generates a 2048-bit RSA key at first start). */
#define ITEST_TIMEOUT_MS 15000
/* For a run that derives several scrypt keys (16 MiB and eight passes
 * each: a passphrase change does four): seconds on a loaded machine. */
#define ITEST_SCRYPT_TIMEOUT_MS 60000
/* How long itest_server_start() waits for the port to accept connections. */
#define ITEST_START_TIMEOUT_MS 10000
/* How long itest_server_stop() waits after SIGTERM before SIGKILL. */
#define ITEST_STOP_TIMEOUT_MS 10000

struct itest_server;
struct itest_client;

/* ---- setup and cleanup ---------------------------------------------- */

/* Kills (SIGKILL) and reaps every child still running, frees every server
 * and client struct still held (pointers to them become invalid), and
 * removes the temporary directories and log files (unless ITEST_KEEP=1).
 * Safe to call more than once; a no-op in a forked child. */
void itest_cleanup(void);
/* itest_cleanup() as a cmocka setup/teardown function (returns 0). */
int itest_teardown(void **state);
/* 1 if both binaries exist and are executable, else 0 (with a note on
 * stderr): lets a test call skip() before the programs are built. */
int itest_have_binaries(void);
/* Paths of the binaries the functions below start: CC_TESTBIN_DIR
 * "/cryptocat-server" and CC_TESTBIN_DIR "/cryptocat" (CC_BINARY_DIR if
 * CC_TESTBIN_DIR is not defined), or ITEST_SERVER_BIN / ITEST_CLIENT_BIN, or
 * what itest_use_binaries() set. */
const char *itest_server_bin(void);
const char *itest_client_bin(void);
/* The shipped programs, without test hooks: CC_BINARY_DIR "/cryptocat-server"
 * and CC_BINARY_DIR "/cryptocat". */
const char *itest_release_server_bin(void);
const char *itest_release_client_bin(void);
/* From now on start SERVER and CLIENT; NULL: back to the default (the
 * environment's or the test variant). Strings are copied. */
void itest_use_binaries(const char *server, const char *client);
/* ms multiplied by ITEST_TIMEOUT_SCALE (every timeout here goes through it). */
int itest_scale_ms(int ms);

/* ---- files ------------------------------------------------------------ */

/* A fresh, empty directory $TMPDIR/cryptocat-itest-NAME-XXXXXX (TMPDIR
 * defaults to /tmp; characters of NAME outside [A-Za-z0-9_.-] become '_').
 * The string is owned by the library and valid until itest_cleanup(), which
 * removes the directory and all it holds. NULL on failure (with a
 * diagnostic). */
const char *itest_tmpdir(const char *name);
/* Makes PARENT/NAME (mode 0700; fine if it exists) and returns that path,
 * owned by the library until itest_cleanup(). NULL on failure. */
const char *itest_subdir(const char *parent, const char *name);
/* PARENT/NAME as a string owned by the library (nothing is created). */
const char *itest_path(const char *parent, const char *name);
/* The whole file, NUL-terminated, malloc'd (caller frees); *len (if not
 * NULL) gets its length. NULL if it cannot be read. */
char *itest_read_file(const char *path, size_t *len);

/* ---- server ----------------------------------------------------------- */

/* Starts `cryptocat-server --listen 127.0.0.1:PORT --data DATA_DIR
 * [--log-level L] EXTRA_ARGS...` on a free port; stdout and stderr go to
 * DATA_DIR/../server-PORT.log. --log-level L (ITEST_LOG_LEVEL, default debug)
 * is left out if EXTRA_ARGS already has --log-level. EXTRA_ARGS is a
 * NULL-terminated array, or NULL. Returns once a TCP connect to the port
 * succeeds (polled every 20 ms, up to ITEST_START_TIMEOUT_MS). If the process
 * exits first (e.g. it lost a race for the port), it is retried on another
 * port, up to 5 times. NULL on failure, after printing the log's tail. */
struct itest_server *itest_server_start(const char *data_dir,
	const char *const *extra_args);
/* The same on a given port (0: pick one), e.g. to restart a server on the
 * port its clients pinned. A failed start is retried on the same port after
 * 200 ms (the previous process's socket may not be free yet). */
struct itest_server *itest_server_start_on(const char *data_dir, int port,
	const char *const *extra_args);
int itest_server_port(const struct itest_server *s);
pid_t itest_server_pid(const struct itest_server *s);
const char *itest_server_log(const struct itest_server *s);
/* SIGTERM, then waits up to ITEST_STOP_TIMEOUT_MS (then SIGKILL and -1).
 * Returns the exit status (0 expected; 23 would be a LeakSanitizer report).
 * A non-zero status prints the log's tail. Frees S. */
int itest_server_stop(struct itest_server *s);
/* The same with another signal (e.g. SIGINT). */
int itest_server_stop_signal(struct itest_server *s, int sig);
/* SIGKILL (a crash, as far as the clients can tell), reaps, frees S. */
void itest_server_kill(struct itest_server *s);

/* ---- client ----------------------------------------------------------- */

/* Starts `cryptocat --batch --server 127.0.0.1:PORT --home HOME --nick NICK
 * --rsa-bits 2048 EXTRA_ARGS...`: --nick is left out if NICK is NULL, and
 * --rsa-bits 2048 if EXTRA_ARGS has --rsa-bits. stdin and stdout are pipes
 * to the test; stderr goes to HOME/../client-NICK.log (client-NICK-2.log for
 * the second client of that nick, and so on). HOME is not created here (see
 * itest_subdir()). NULL on failure. */
struct itest_client *itest_client_start(int port, const char *home,
	const char *nick, const char *const *extra_args);
/* Starts the client binary with exactly ARGS (NULL-terminated, without
 * argv[0]; may be NULL), e.g. to test command-line errors. stderr goes to
 * LOG_PATH (NULL: /dev/null). */
struct itest_client *itest_client_start_args(const char *const *args,
	const char *log_path);
pid_t itest_client_pid(const struct itest_client *c);
const char *itest_client_log(const struct itest_client *c);
const char *itest_client_nick(const struct itest_client *c);

/* Writes LINE and "\n" to the client's stdin. 0, or -1 if it could not
 * (the client exited: EPIPE; or the pipe stayed full for ITEST_TIMEOUT_MS). */
int itest_client_send(struct itest_client *c, const char *line);
/* printf-style itest_client_send(). */
int itest_client_sendf(struct itest_client *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Closes the client's stdin (it should then exit 0). */
void itest_client_close_stdin(struct itest_client *c);

/* The next line of output, parsed as a JSON object (caller json_decref()s).
 * NULL on timeout, EOF or a line that is not a JSON object, after printing a
 * diagnostic: the partial line, the recent I/O, the tail of stderr. */
json_t *itest_client_next(struct itest_client *c, int timeout_ms);
/* The next line of output as it came (no newline; malloc'd, caller frees),
 * for a client in its plain, human mode. NULL on timeout or EOF. */
char *itest_client_next_line(struct itest_client *c, int timeout_ms);
/* The next line, which must have "event": EVENT. Otherwise prints what came
 * and returns NULL (the line is consumed). */
json_t *itest_client_expect(struct itest_client *c, const char *event,
	int timeout_ms);
/* The next line, which must be {"event":"error","code":CODE,...}. */
json_t *itest_client_expect_error(struct itest_client *c, const char *code,
	int timeout_ms);
/* Skips lines (printing each as "skipped: ...") until one has "event":
 * EVENT; TIMEOUT_MS is for the whole wait. NULL on timeout/EOF. */
json_t *itest_client_wait_for(struct itest_client *c, const char *event,
	int timeout_ms);
/* 1 if the client printed nothing for TIMEOUT_MS (no diagnostic: silence is
 * what the caller wants), 0 if a line came (printed, and consumed) or the
 * client closed its stdout. TIMEOUT_MS is scaled here, by at most 4 (not
 * ITEST_TIMEOUT_SCALE's 40 under valgrind, in which the programs' own
 * timers would fire): pass it unscaled. */
int itest_client_expect_silence(struct itest_client *c, int timeout_ms);

/* Waits for the client to exit (reading and discarding its output, so it
 * cannot block on a full pipe) and returns its exit status. On timeout,
 * prints a diagnostic, SIGKILLs it and returns -1. Frees C. It does not close
 * stdin: send "/quit" or call itest_client_close_stdin() first. */
int itest_client_wait_exit(struct itest_client *c, int timeout_ms);
/* SIGKILL, reap, free C. */
void itest_client_kill(struct itest_client *c);

/* ---- JSON ------------------------------------------------------------- */

/* The string value of OBJ[KEY], or NULL (no key, not a string, OBJ NULL). */
const char *itest_json_str(const json_t *obj, const char *key);
/* The integer value of OBJ[KEY], or DEF. */
long long itest_json_int(const json_t *obj, const char *key, long long def);
/* OBJ as one compact line, malloc'd (caller frees); "(null)" for NULL. */
char *itest_json_dump(const json_t *obj);

/* ---- raw TCP ---------------------------------------------------------- */

/* A port that was free a moment ago (bind 127.0.0.1:0, read, close); -1. */
int itest_free_port(void);
/* A blocking TCP socket connected to 127.0.0.1:PORT, or -1. */
int itest_tcp_connect(int port);
/* Writes all LEN bytes. 0, or -1 (e.g. the peer closed: EPIPE/ECONNRESET). */
int itest_tcp_send_all(int fd, const void *data, size_t len);
/* Reads and discards whatever comes until the peer closes. 1 if it closed
 * (EOF or ECONNRESET) within TIMEOUT_MS, 0 on timeout, -1 on another error.
 * Does not close FD. */
int itest_tcp_wait_closed(int fd, int timeout_ms);

/* ---- any program ------------------------------------------------------ */

/* Runs PATH with ARGS (NULL-terminated, without argv[0]; may be NULL),
 * stdin from /dev/null, stdout and stderr to LOG_PATH (NULL: /dev/null),
 * and returns its exit status, or -1 after TIMEOUT_MS (then it is killed). */
int itest_run(const char *path, const char *const *args, const char *log_path,
	int timeout_ms);

#endif
