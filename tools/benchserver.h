/* The mechanics the benchmarks share to run a cryptocat-server (or another
 * of their programs) on 127.0.0.1: a free port, a connection to it, the
 * process started with its output to a log, the wait until it listens, and
 * its stop. Each tool keeps its own arguments and says its own errors.
 * Header-only, as tools/benchkeys.h: each C file of tools/ is a program of
 * its own. */
#ifndef CC_TOOLS_BENCHSERVER_H
#define CC_TOOLS_BENCHSERVER_H

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

/* How often the waits below look again. */
#define BENCHSERVER_POLL_US 20000

/* A TCP port of 127.0.0.1 free now (bound, read, released), or -1 (errno
 * says why). */
static inline int benchserver_free_port(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t len = sizeof a;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int ok = fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
		 getsockname(fd, (struct sockaddr *)&a, &len) == 0;
	int saved = errno;
	if (fd >= 0)
		close(fd);
	errno = saved;
	return ok ? ntohs(a.sin_port) : -1;
}

/* A socket connected (or, non-blocking, connecting) to 127.0.0.1:port, or
 * -1. */
static inline int benchserver_connect(int port, bool nonblocking)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | (nonblocking ? SOCK_NONBLOCK : 0), 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&a, sizeof a) == 0 || (nonblocking && errno == EINPROGRESS))
		return fd;
	close(fd);
	return -1;
}

/* Starts argv (argv[0] a path) with its stdout and stderr appended to log;
 * its pid, or -1 if fork failed. */
static inline pid_t benchserver_spawn(char *const argv[], const char *log)
{
	pid_t pid = fork();
	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execv(argv[0], argv);
		_exit(127);
	}
	return pid;
}

/* Waits up to seconds until pid listens on 127.0.0.1:port (a server on a
 * fresh data directory makes its RSA key first). A blocking socket
 * connected to it, which the caller closes or keeps; -1 if pid exited
 * (reaped), -2 if it does not listen in time. */
static inline int benchserver_wait(pid_t pid, int port, double seconds)
{
	for (double waited = 0; waited < seconds; waited += BENCHSERVER_POLL_US / 1e6) {
		int fd = benchserver_connect(port, false);
		if (fd >= 0)
			return fd;
		if (waitpid(pid, NULL, WNOHANG) == pid)
			return -1;
		usleep(BENCHSERVER_POLL_US);
	}
	return -2;
}

/* SIGTERM, as an operator stops it, and reaps it: its wait status. If it
 * has not gone within grace seconds it is killed and the answer is -1; a
 * grace below 0 waits as long as it takes. */
static inline int benchserver_stop(pid_t pid, double grace)
{
	int status = 0;
	pid_t got = 0;
	kill(pid, SIGTERM);
	if (grace < 0)
		return waitpid(pid, &status, 0) == pid ? status : -1;
	for (double waited = 0; waited < grace; waited += BENCHSERVER_POLL_US / 1e6) {
		if ((got = waitpid(pid, &status, WNOHANG)) != 0)
			break;
		usleep(BENCHSERVER_POLL_US);
	}
	if (got != pid) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		return -1;
	}
	return status;
}

#endif
