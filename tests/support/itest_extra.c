/* Integration-test support additions: see itest_extra.h. */
#include "itest_extra.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "itest.h"

#define EXTRA_TAIL_BYTES 3000

int64_t itest_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int left_ms(int64_t deadline)
{
	int64_t left = deadline - itest_now_ms();
	if (left < 0)
		return 0;
	return left > 1000000000 ? 1000000000 : (int)left;
}

int itest_file_contains(const char *path, const char *needle)
{
	char *text = itest_read_file(path, NULL);
	int found = text && strstr(text, needle) != NULL;
	free(text);
	return found;
}

int itest_wait_file_contains(const char *path, const char *needle, int timeout_ms)
{
	int64_t deadline = itest_now_ms() + itest_scale_ms(timeout_ms);
	for (;;) {
		if (itest_file_contains(path, needle))
			return 1;
		if (left_ms(deadline) == 0)
			break;
		struct timespec ts = {0, 10 * 1000000L};
		nanosleep(&ts, NULL);
	}
	fprintf(stderr, "[itest] %s: no \"%s\" after %d ms\n", path, needle,
		itest_scale_ms(timeout_ms));
	size_t len = 0;
	char *text = itest_read_file(path, &len);
	if (text) {
		const char *tail = len > EXTRA_TAIL_BYTES ? text + len - EXTRA_TAIL_BYTES : text;
		fprintf(stderr, "[itest]   its tail:\n%s\n", tail);
		free(text);
	}
	return 0;
}

int itest_copy_file(const char *src, const char *dst, unsigned mode)
{
	size_t len = 0;
	char *data = itest_read_file(src, &len);
	if (!data) {
		fprintf(stderr, "[itest] cannot read %s: %s\n", src, strerror(errno));
		return -1;
	}
	int fd = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, (mode_t)mode);
	int ok = fd >= 0 && fchmod(fd, (mode_t)mode) == 0 &&
		 write(fd, data, len) == (ssize_t)len;
	if (fd >= 0 && close(fd) != 0)
		ok = 0;
	if (!ok)
		fprintf(stderr, "[itest] cannot write %s: %s\n", dst, strerror(errno));
	free(data);
	return ok ? 0 : -1;
}

/* 1 once N bytes are in P, 0 if the peer closed first, -1 otherwise. */
static int read_exact(int fd, uint8_t *p, size_t n, int64_t deadline)
{
	size_t got = 0;
	while (got < n) {
		ssize_t r = recv(fd, p + got, n - got, MSG_DONTWAIT);
		if (r > 0) {
			got += (size_t)r;
			continue;
		}
		if (r == 0 || (r < 0 && errno == ECONNRESET))
			return 0;
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			return -1;
		int left = left_ms(deadline);
		if (left == 0)
			return -1;
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		if (poll(&pfd, 1, left) < 0 && errno != EINTR)
			return -1;
	}
	return 1;
}

int itest_read_frame(int fd, size_t max, uint8_t **frame, size_t *len, int timeout_ms)
{
	int64_t deadline = itest_now_ms() + itest_scale_ms(timeout_ms);
	uint8_t hdr[4];
	*frame = NULL;
	*len = 0;
	int r = read_exact(fd, hdr, sizeof hdr, deadline);
	if (r != 1) {
		if (r < 0)
			fprintf(stderr, "[itest] no frame header within %d ms\n",
				itest_scale_ms(timeout_ms));
		return r;
	}
	uint32_t n = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 |
		     (uint32_t)hdr[2] << 8 | hdr[3];
	if (n == 0 || n > max) {
		fprintf(stderr, "[itest] frame length %u (cap %zu)\n", n, max);
		return -1;
	}
	uint8_t *p = malloc((size_t)n + sizeof hdr);
	if (!p)
		return -1;
	memcpy(p, hdr, sizeof hdr);
	r = read_exact(fd, p + sizeof hdr, n, deadline);
	if (r != 1) {
		if (r < 0)
			fprintf(stderr, "[itest] frame body of %u bytes incomplete after "
				"%d ms\n", n, itest_scale_ms(timeout_ms));
		free(p);
		return r;
	}
	*frame = p;
	*len = (size_t)n + sizeof hdr;
	return 1;
}

int itest_tcp_wait_closed_count(int fd, int timeout_ms, size_t *got)
{
	int64_t deadline = itest_now_ms() + itest_scale_ms(timeout_ms);
	char buf[16384];
	*got = 0;
	for (;;) {
		ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
		if (n == 0)
			return 1;
		if (n > 0) {
			*got += (size_t)n;
			continue;
		}
		if (errno == ECONNRESET)
			return 1;
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			return -1;
		int left = left_ms(deadline);
		if (left == 0)
			return 0;
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		if (poll(&pfd, 1, left) < 0 && errno != EINTR)
			return -1;
	}
}

int itest_tcp_connect_rcvbuf(int port, int rcvbuf)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	/* Before connect: the window scale is agreed in the SYN. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf) != 0)
		goto fail;
	struct sockaddr_in sa;
	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int r;
	do
		r = connect(fd, (struct sockaddr *)&sa, sizeof sa);
	while (r != 0 && errno == EINTR);
	if (r != 0)
		goto fail;
	return fd;
fail:
	fprintf(stderr, "[itest] connect with SO_RCVBUF %d: %s\n", rcvbuf, strerror(errno));
	close(fd);
	return -1;
}
