/* The tests' SOCKS5 proxy: socks_proxy.h. One thread accepts; each client
 * gets a thread that speaks SOCKS5 with it and then relays. A pipe whose
 * write end is closed at the stop wakes every poll. */
#include "socks_proxy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define PROXY_MAX_CONNS 64
#define PROXY_MAX_MAPS 8

struct socks_proxy_conn {
	struct socks_proxy *proxy;
	int fd;
	size_t index;            /* its request's */
	pthread_t thread;
};

struct socks_proxy {
	int listen_fd, port;
	int stop_pipe[2];
	pthread_t thread;
	pthread_mutex_t lock;
	enum socks_proxy_mode mode;
	uint8_t reply;
	struct {
		char name[256];
		uint16_t port;
		int to_port;
	} maps[PROXY_MAX_MAPS];
	size_t nmaps;
	struct socks_proxy_request requests[PROXY_MAX_CONNS];
	struct socks_proxy_conn conns[PROXY_MAX_CONNS];
	size_t nconns;
};

/* Waits until FD is readable; false once the proxy stops. */
static bool wait_readable(struct socks_proxy *p, int fd)
{
	struct pollfd pfd[2] = {{fd, POLLIN, 0}, {p->stop_pipe[0], POLLIN, 0}};
	for (;;) {
		int n = poll(pfd, 2, -1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || pfd[1].revents)
			return false;
		if (pfd[0].revents)
			return true;
	}
}

static bool read_exact(struct socks_proxy *p, int fd, void *out, size_t n)
{
	uint8_t *o = out;
	while (n) {
		if (!wait_readable(p, fd))
			return false;
		ssize_t r = read(fd, o, n);
		if (r <= 0)
			return false;
		o += r;
		n -= (size_t)r;
	}
	return true;
}

static bool write_all(int fd, const void *data, size_t n)
{
	const uint8_t *d = data;
	while (n) {
		ssize_t w = write(fd, d, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return false;
		d += w;
		n -= (size_t)w;
	}
	return true;
}

/* Until the peer closes or the proxy stops. */
static void wait_closed(struct socks_proxy *p, int fd)
{
	uint8_t junk[256];
	while (wait_readable(p, fd) && read(fd, junk, sizeof junk) > 0)
		;
}

static int connect_local(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0)
		return fd;
	if (fd >= 0)
		close(fd);
	return -1;
}

static void relay(struct socks_proxy *p, int a, int b)
{
	uint8_t data[16384];
	struct pollfd pfd[3] = {{a, POLLIN, 0}, {b, POLLIN, 0}, {p->stop_pipe[0], POLLIN, 0}};
	for (;;) {
		if (poll(pfd, 3, -1) < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		if (pfd[2].revents)
			return;
		for (int i = 0; i < 2; i++) {
			if (!pfd[i].revents)
				continue;
			ssize_t r = read(pfd[i].fd, data, sizeof data);
			if (r <= 0 || !write_all(pfd[1 - i].fd, data, (size_t)r))
				return;
		}
	}
}

static void reply(int fd, uint8_t code)
{
	const uint8_t r[10] = {5, code, 0, 1, 127, 0, 0, 1, 0, 0};
	write_all(fd, r, sizeof r);
}

static void *conn_main(void *arg)
{
	struct socks_proxy_conn *c = arg;
	struct socks_proxy *p = c->proxy;
	struct socks_proxy_request req = {0};
	uint8_t hdr[4], n;
	int up = -1;

	pthread_mutex_lock(&p->lock);
	enum socks_proxy_mode mode = p->mode;
	uint8_t code = p->reply;
	pthread_mutex_unlock(&p->lock);

	if (mode == SOCKS_PROXY_MUTE) {
		wait_closed(p, c->fd);
		goto out;
	}
	/* The greeting: VER NMETHODS METHODS. */
	if (!read_exact(p, c->fd, hdr, 2) || hdr[0] != 5 || hdr[1] == 0 ||
	    hdr[1] > sizeof req.methods || !read_exact(p, c->fd, req.methods, hdr[1]))
		goto out;
	req.nmethods = hdr[1];
	bool userpass = memchr(req.methods, 2, req.nmethods) != NULL;
	bool none = memchr(req.methods, 0, req.nmethods) != NULL;
	if (mode == SOCKS_PROXY_NO_METHOD || (!userpass && !none)) {
		write_all(c->fd, "\x05\xff", 2);
		goto record;
	}
	/* As Tor does: username/password when offered. */
	write_all(c->fd, userpass ? "\x05\x02" : "\x05\x00", 2);
	if (userpass) {
		uint8_t ver;
		if (!read_exact(p, c->fd, &ver, 1) || ver != 1 || !read_exact(p, c->fd, &n, 1) ||
		    !read_exact(p, c->fd, req.user, n) || !read_exact(p, c->fd, &n, 1) ||
		    !read_exact(p, c->fd, req.pass, n))
			goto record;
		if (mode == SOCKS_PROXY_BAD_AUTH) {
			write_all(c->fd, "\x01\x01", 2);
			goto record;
		}
		write_all(c->fd, "\x01\x00", 2);
	}
	/* CONNECT: VER CMD RSV ATYP ADDR PORT. */
	if (!read_exact(p, c->fd, hdr, 4) || hdr[0] != 5 || hdr[1] != 1)
		goto record;
	req.atyp = hdr[3];
	if (hdr[3] == 3) {
		if (!read_exact(p, c->fd, &n, 1) || !read_exact(p, c->fd, req.host, n))
			goto record;
	} else {
		uint8_t addr[16];
		if (!read_exact(p, c->fd, addr, hdr[3] == 1 ? 4 : 16))
			goto record;
	}
	uint8_t port[2];
	if (!read_exact(p, c->fd, port, 2))
		goto record;
	req.port = (uint16_t)(port[0] << 8 | port[1]);
	if (mode == SOCKS_PROXY_MUTE_CONNECT) {
		pthread_mutex_lock(&p->lock);
		p->requests[c->index] = req;
		pthread_mutex_unlock(&p->lock);
		wait_closed(p, c->fd);
		goto out;
	}
	if (mode == SOCKS_PROXY_REPLY) {
		reply(c->fd, code);
		goto record;
	}
	int to = 0;
	pthread_mutex_lock(&p->lock);
	for (size_t i = 0; i < p->nmaps; i++)
		if (req.atyp == 3 && strcmp(p->maps[i].name, req.host) == 0 &&
		    p->maps[i].port == req.port)
			to = p->maps[i].to_port;
	p->requests[c->index] = req;
	pthread_mutex_unlock(&p->lock);
	if (!to || (up = connect_local(to)) < 0) {
		reply(c->fd, to ? 5 : 4);
		goto out;
	}
	reply(c->fd, 0);
	relay(p, c->fd, up);
	goto out;
record:
	pthread_mutex_lock(&p->lock);
	p->requests[c->index] = req;
	pthread_mutex_unlock(&p->lock);
out:
	if (up >= 0)
		close(up);
	shutdown(c->fd, SHUT_RDWR);
	return NULL;
}

static void *accept_main(void *arg)
{
	struct socks_proxy *p = arg;
	for (;;) {
		if (!wait_readable(p, p->listen_fd))
			return NULL;
		int fd = accept(p->listen_fd, NULL, NULL);
		if (fd < 0)
			continue;
		fcntl(fd, F_SETFD, FD_CLOEXEC);  /* the test's children must not hold it */
		pthread_mutex_lock(&p->lock);
		if (p->nconns == PROXY_MAX_CONNS) {
			pthread_mutex_unlock(&p->lock);
			fprintf(stderr, "[socks] too many connections\n");
			close(fd);
			continue;
		}
		struct socks_proxy_conn *c = &p->conns[p->nconns];
		c->proxy = p;
		c->fd = fd;
		c->index = p->nconns;
		if (pthread_create(&c->thread, NULL, conn_main, c) == 0)
			p->nconns++;
		else
			close(fd);
		pthread_mutex_unlock(&p->lock);
	}
}

struct socks_proxy *socks_proxy_start(void)
{
	struct socks_proxy *p = calloc(1, sizeof *p);
	if (!p)
		return NULL;
	pthread_mutex_init(&p->lock, NULL);
	p->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t len = sizeof sa;
	if (p->listen_fd < 0 || bind(p->listen_fd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
	    listen(p->listen_fd, 64) != 0 ||
	    getsockname(p->listen_fd, (struct sockaddr *)&sa, &len) != 0 ||
	    pipe(p->stop_pipe) != 0) {
		if (p->listen_fd >= 0)
			close(p->listen_fd);
		free(p);
		return NULL;
	}
	p->port = ntohs(sa.sin_port);
	fcntl(p->stop_pipe[0], F_SETFD, FD_CLOEXEC);
	fcntl(p->stop_pipe[1], F_SETFD, FD_CLOEXEC);
	if (pthread_create(&p->thread, NULL, accept_main, p) != 0) {
		close(p->listen_fd);
		close(p->stop_pipe[0]);
		close(p->stop_pipe[1]);
		free(p);
		return NULL;
	}
	return p;
}

int socks_proxy_port(const struct socks_proxy *p)
{
	return p->port;
}

void socks_proxy_map(struct socks_proxy *p, const char *name, uint16_t port, int to_port)
{
	pthread_mutex_lock(&p->lock);
	if (p->nmaps < PROXY_MAX_MAPS) {
		snprintf(p->maps[p->nmaps].name, sizeof p->maps[p->nmaps].name, "%s", name);
		p->maps[p->nmaps].port = port;
		p->maps[p->nmaps].to_port = to_port;
		p->nmaps++;
	}
	pthread_mutex_unlock(&p->lock);
}

void socks_proxy_set_mode(struct socks_proxy *p, enum socks_proxy_mode mode, uint8_t code)
{
	pthread_mutex_lock(&p->lock);
	p->mode = mode;
	p->reply = code;
	pthread_mutex_unlock(&p->lock);
}

size_t socks_proxy_count(struct socks_proxy *p)
{
	pthread_mutex_lock(&p->lock);
	size_t n = p->nconns;
	pthread_mutex_unlock(&p->lock);
	return n;
}

int socks_proxy_request(struct socks_proxy *p, size_t i, struct socks_proxy_request *out)
{
	int rc = -1;
	pthread_mutex_lock(&p->lock);
	if (i < p->nconns) {
		*out = p->requests[i];
		rc = 0;
	}
	pthread_mutex_unlock(&p->lock);
	return rc;
}

void socks_proxy_stop(struct socks_proxy *p)
{
	if (!p)
		return;
	close(p->stop_pipe[1]);
	pthread_join(p->thread, NULL);
	for (size_t i = 0; i < p->nconns; i++) {
		pthread_join(p->conns[i].thread, NULL);
		close(p->conns[i].fd);
	}
	close(p->stop_pipe[0]);
	close(p->listen_fd);
	pthread_mutex_destroy(&p->lock);
	free(p);
}
