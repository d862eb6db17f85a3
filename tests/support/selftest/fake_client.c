/* Stand-in for cryptocat --batch, only to test tests/support/itest.c.
 * Connects to --server, prints {"event":"registered",...}, then obeys:
 * /quit, /echo TEXT, /error CODE, /garbage, /partial, /many N, /exit N,
 * /crash, /stderr TEXT, /sleep MS, /hang (ignore stdin and hang). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static void msleep(int ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

int main(int argc, char **argv)
{
	const char *server = NULL, *home = NULL, *nick = NULL;
	int batch = 0, bits = 0;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--batch"))
			batch = 1;
		else if (!strcmp(argv[i], "--server") && i + 1 < argc)
			server = argv[++i];
		else if (!strcmp(argv[i], "--home") && i + 1 < argc)
			home = argv[++i];
		else if (!strcmp(argv[i], "--nick") && i + 1 < argc)
			nick = argv[++i];
		else if (!strcmp(argv[i], "--rsa-bits") && i + 1 < argc)
			bits = atoi(argv[++i]);
		else {
			fprintf(stderr, "usage: unknown option %s\n", argv[i]);
			return 2;
		}
	}
	if (!batch || !server || !home || !nick) {
		fprintf(stderr, "usage: cryptocat --batch --server H:P --home D --nick N\n");
		return 2;
	}
	fprintf(stderr, "fake client %s home %s bits %d\n", nick, home, bits);
	const char *colon = strrchr(server, ':');
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa;
	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_port = htons((unsigned short)atoi(colon ? colon + 1 : "0"));
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
		printf("{\"event\":\"error\",\"code\":\"connect_failed\",\"message\":\"no server\"}\n");
		fflush(stdout);
		return 1;
	}
	printf("{\"event\":\"registered\",\"nick\":\"%s\",\"fingerprint\":\"%d\"}\n",
		nick, bits);
	fflush(stdout);
	char line[8192];
	while (fgets(line, sizeof line, stdin)) {
		line[strcspn(line, "\n")] = '\0';
		if (!strcmp(line, "/quit")) {
			printf("{\"event\":\"bye\"}\n");
			return 0;
		} else if (!strncmp(line, "/echo ", 6)) {
			printf("{\"event\":\"echo\",\"text\":\"%s\"}\n", line + 6);
		} else if (!strncmp(line, "/error ", 7)) {
			printf("{\"event\":\"error\",\"code\":\"%s\",\"message\":\"m\"}\n",
				line + 7);
		} else if (!strcmp(line, "/garbage")) {
			printf("this is not json\n");
		} else if (!strcmp(line, "/partial")) {
			printf("{\"event\":\"par");
			fflush(stdout);
			msleep(150);
			printf("tial\"}\r\n");
		} else if (!strncmp(line, "/many ", 6)) {
			int n = atoi(line + 6);
			for (int i = 0; i < n; i++)
				printf("{\"event\":\"tick\",\"i\":%d,\"pad\":\"%0100d\"}\n", i, 0);
		} else if (!strncmp(line, "/exit ", 6)) {
			fflush(stdout);
			return atoi(line + 6);
		} else if (!strcmp(line, "/crash")) {
			fflush(stdout);
			signal(SIGABRT, SIG_DFL);
			abort();
		} else if (!strncmp(line, "/stderr ", 8)) {
			fprintf(stderr, "%s\n", line + 8);
		} else if (!strncmp(line, "/sleep ", 7)) {
			msleep(atoi(line + 7));
			printf("{\"event\":\"slept\"}\n");
		} else if (!strcmp(line, "/hang")) {
			for (;;)
				pause();
		} else {
			printf("{\"event\":\"error\",\"code\":\"usage\",\"message\":\"%s\"}\n",
				line);
		}
		fflush(stdout);
	}
	close(fd);
	return 0;
}
