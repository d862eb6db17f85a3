/* Stand-in for cryptocat-server, only to test tests/support/itest.c.
 * Extra options: --fail (exit 3 at once), --ignore-term, --term-exit N,
 * --slow-start MS, --max-bytes N (close a connection after N bytes). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t stop;

static void on_sig(int sig)
{
	stop = sig;
}

int main(int argc, char **argv)
{
	const char *listen_at = NULL, *data = NULL;
	int ignore_term = 0, term_exit = 0, slow = 0, max_bytes = 16;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--listen") && i + 1 < argc)
			listen_at = argv[++i];
		else if (!strcmp(argv[i], "--data") && i + 1 < argc)
			data = argv[++i];
		else if (!strcmp(argv[i], "--log-level") && i + 1 < argc)
			fprintf(stderr, "log level %s\n", argv[++i]);
		else if (!strcmp(argv[i], "--fail")) {
			fprintf(stderr, "failing as asked\n");
			return 3;
		} else if (!strcmp(argv[i], "--ignore-term"))
			ignore_term = 1;
		else if (!strcmp(argv[i], "--term-exit") && i + 1 < argc)
			term_exit = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--slow-start") && i + 1 < argc)
			slow = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--max-bytes") && i + 1 < argc)
			max_bytes = atoi(argv[++i]);
		else {
			fprintf(stderr, "usage: unknown %s\n", argv[i]);
			return 2;
		}
	}
	if (!listen_at || !data)
		return 2;
	const char *colon = strrchr(listen_at, ':');
	if (!colon)
		return 2;
	int port = atoi(colon + 1);
	fprintf(stderr, "fake server starting on %d data %s\n", port, data);
	if (slow) {
		struct timespec ts = {slow / 1000, (slow % 1000) * 1000000L};
		nanosleep(&ts, NULL);
	}
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_sig;
	sigaction(SIGINT, &sa, NULL);
	if (!ignore_term)
		sigaction(SIGTERM, &sa, NULL);
	else
		signal(SIGTERM, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);

	int lfd = socket(AF_INET, SOCK_STREAM, 0);
	int one = 1;
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	struct sockaddr_in sa_in;
	memset(&sa_in, 0, sizeof sa_in);
	sa_in.sin_family = AF_INET;
	sa_in.sin_port = htons((unsigned short)port);
	sa_in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(lfd, (struct sockaddr *)&sa_in, sizeof sa_in) != 0) {
		perror("bind");
		return 1;
	}
	listen(lfd, 16);
	struct pollfd fds[64];
	int got[64];
	int n = 1;
	fds[0].fd = lfd;
	fds[0].events = POLLIN;
	while (!stop) {
		if (poll(fds, (nfds_t)n, 100) <= 0)
			continue;
		if ((fds[0].revents & POLLIN) && n < 64) {
			int c = accept(lfd, NULL, NULL);
			if (c >= 0) {
				fds[n].fd = c;
				fds[n].events = POLLIN;
				fds[n].revents = 0;
				got[n] = 0;
				n++;
				fprintf(stderr, "accepted\n");
			}
		}
		for (int i = 1; i < n; i++) {
			if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			char buf[4096];
			ssize_t r = read(fds[i].fd, buf, sizeof buf);
			if (r > 0) {
				got[i] += (int)r;
				(void)!write(fds[i].fd, "ack", 3);
			}
			if (r <= 0 || got[i] > max_bytes) {
				fprintf(stderr, "closing a connection after %d bytes\n",
					got[i]);
				close(fds[i].fd);
				fds[i] = fds[n - 1];
				got[i] = got[n - 1];
				n--;
				i--;
			}
		}
	}
	fprintf(stderr, "fake server: signal %d, exiting %d\n", (int)stop,
		term_exit);
	return term_exit;
}
