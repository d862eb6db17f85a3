/* The server as a Tor onion service (--onion; docs/TOR.md): at start it asks
 * a running tor, over its control port, for a v3 onion service whose port
 * leads to our listener (ADD_ONION), and keeps that control connection open
 * for its whole life: when the server stops, tor drops the service.
 *
 * The service's key is kept in the data directory (onion_key, 0600), so the
 * .onion address is the same after every restart; the address is also
 * written to onion_hostname for scripts. Authentication: a password from
 * --tor-control-password-file, else the cookie file tor names in its
 * PROTOCOLINFO answer, else none if tor allows it.
 *
 * The conversation is short and happens once, before any client: it is
 * blocking, with a 10 s limit on each step (util/torctl.c parses it). */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "server/server_internal.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/torctl.h"

#define ONION_STEP_MS 10000
#define ONION_KEY_FILE "onion_key"
#define ONION_HOSTNAME_FILE "onion_hostname"
#define ONION_KEY_PREFIX "ED25519-V3:"
#define ONION_KEY_MAX 200        /* "ED25519-V3:" and 88 characters of base64 */
#define ONION_SERVICE_ID_LEN 56  /* v3: base32 of 35 bytes */

struct torctl_conn {
	int fd;
	char in[TORCTL_REPLY_MAX];
	size_t in_len;
	const char *where;           /* "host:port", for messages */
};

static cc_err ctl_connect(struct torctl_conn *c, const char *host, uint16_t port)
{
	struct addrinfo hints = {0}, *res = NULL, *ai;
	char port_s[8];
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	snprintf(port_s, sizeof port_s, "%u", port);
	int rc = getaddrinfo(host, port_s, &hints, &res);
	if (rc != 0) {
		log_error("onion: cannot resolve tor's control port %s: %s", c->where,
			  gai_strerror(rc));
		return CC_ERR_IO;
	}
	c->fd = -1;
	for (ai = res; ai && c->fd < 0; ai = ai->ai_next) {
		int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0)
			continue;
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			c->fd = fd;
		else
			close(fd);
	}
	freeaddrinfo(res);
	if (c->fd < 0) {
		log_error("onion: cannot connect to tor's control port %s: %s (is tor running,"
			  " with ControlPort set?)", c->where, strerror(errno));
		return CC_ERR_IO;
	}
	struct timeval tv = {ONION_STEP_MS / 1000, 0};
	setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	return CC_OK;
}

/* Sends LINE (CRLF added) and reads one whole reply into R. SECRET: the
 * line is not logged. */
static cc_err ctl_command(struct torctl_conn *c, const char *line, struct torctl_reply *r)
{
	char out[1024];
	int n = snprintf(out, sizeof out, "%s\r\n", line);
	if (n < 0 || (size_t)n >= sizeof out)
		return CC_ERR_TOO_LARGE;
	for (size_t sent = 0; sent < (size_t)n;) {
		ssize_t w = send(c->fd, out + sent, (size_t)n - sent, MSG_NOSIGNAL);
		if (w <= 0) {
			mem_wipe(out, sizeof out);
			log_error("onion: cannot write to tor's control port %s: %s", c->where,
				  w == 0 ? "closed" : strerror(errno));
			return CC_ERR_IO;
		}
		sent += (size_t)w;
	}
	mem_wipe(out, sizeof out);
	for (;;) {
		size_t used = 0;
		cc_err err = torctl_reply_parse(c->in, c->in_len, r, &used);
		if (err == CC_OK) {
			memmove(c->in, c->in + used, c->in_len - used);
			c->in_len -= used;
			return CC_OK;
		}
		if (err != CC_ERR_TRUNCATED) {
			log_error("onion: tor's control port %s sent a reply we cannot read (%s)",
				  c->where, cc_err_str(err));
			return err;
		}
		ssize_t got = recv(c->fd, c->in + c->in_len, sizeof c->in - c->in_len, 0);
		if (got <= 0) {
			log_error("onion: tor's control port %s %s", c->where,
				  got == 0 ? "closed the connection"
					   : errno == EAGAIN ? "did not answer within 10 s"
							     : strerror(errno));
			return got == 0 ? CC_ERR_CLOSED : CC_ERR_IO;
		}
		c->in_len += (size_t)got;
	}
}

/* Reads up to N-1 bytes of PATH's first line into OUT (NUL-ended, CR and
 * LF cut). */
static cc_err read_first_line(const char *path, char *out, size_t n, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? CC_ERR_NOT_FOUND : CC_ERR_IO;
	ssize_t r = read(fd, out, n - 1);
	close(fd);
	if (r < 0)
		return CC_ERR_IO;
	out[r] = '\0';
	*len = (size_t)r;
	char *nl = strpbrk(out, "\r\n");
	if (nl) {
		*nl = '\0';
		*len = (size_t)(nl - out);
	}
	return CC_OK;
}

static cc_err authenticate(struct torctl_conn *c, const struct server_config *cfg)
{
	struct torctl_reply r;
	char line[TORCTL_REPLY_MAX], methods[200] = "", cookie_file[4096] = "";
	cc_err err;

	if ((err = ctl_command(c, "PROTOCOLINFO 1", &r)))
		return err;
	if (r.status != 250) {
		log_error("onion: tor refused PROTOCOLINFO (%d %s)", r.status,
			  r.nlines ? r.lines[0] : "");
		return CC_ERR_AUTH;
	}
	for (size_t i = 0; i < r.nlines; i++) {
		if (strncmp(r.lines[i], "AUTH ", 5) != 0)
			continue;
		if (torctl_value(r.lines[i], "METHODS", methods, sizeof methods) < 0 ||
		    torctl_value(r.lines[i], "COOKIEFILE", cookie_file, sizeof cookie_file) < 0) {
			log_error("onion: tor's PROTOCOLINFO answer is not what we can read");
			return CC_ERR_MALFORMED;
		}
	}
	if (cfg->tor_control_password_file[0]) {
		char pass[512], quoted[1100];
		size_t len = 0;
		err = read_first_line(cfg->tor_control_password_file, pass, sizeof pass, &len);
		if (err) {
			log_error("onion: cannot read the control password file %s",
				  cfg->tor_control_password_file);
			return err;
		}
		err = torctl_quote(pass, quoted, sizeof quoted);
		mem_wipe(pass, sizeof pass);
		if (!err && snprintf(line, sizeof line, "AUTHENTICATE %s", quoted) >= (int)sizeof line)
			err = CC_ERR_TOO_LARGE;
		mem_wipe(quoted, sizeof quoted);
		if (err) {
			log_error("onion: the control password cannot be sent (%s)", cc_err_str(err));
			return err;
		}
	} else if (strstr(methods, "COOKIE") && cookie_file[0]) {
		uint8_t cookie[32];
		char hex[65];
		int fd = open(cookie_file, O_RDONLY | O_CLOEXEC);
		ssize_t got = fd >= 0 ? read(fd, cookie, sizeof cookie) : -1;
		if (fd >= 0)
			close(fd);
		if (got != (ssize_t)sizeof cookie) {
			log_error("onion: cannot read tor's cookie file %s: %s (is the server's user"
				  " allowed to read it? give --tor-control-password-file instead)",
				  cookie_file, got < 0 ? strerror(errno) : "not 32 bytes");
			return CC_ERR_IO;
		}
		hex_encode(cookie, sizeof cookie, hex);
		snprintf(line, sizeof line, "AUTHENTICATE %s", hex);
		mem_wipe(cookie, sizeof cookie);
		mem_wipe(hex, sizeof hex);
	} else if (strstr(methods, "NULL")) {
		snprintf(line, sizeof line, "AUTHENTICATE");
	} else {
		log_error("onion: tor's control port asks for %s; give its password with"
			  " --tor-control-password-file", methods[0] ? methods : "an unknown method");
		return CC_ERR_AUTH;
	}
	err = ctl_command(c, line, &r);
	mem_wipe(line, sizeof line);
	if (err)
		return err;
	if (r.status != 250) {
		log_error("onion: tor refused our authentication (%d %s)", r.status,
			  r.nlines ? r.lines[0] : "");
		return CC_ERR_AUTH;
	}
	return CC_OK;
}

/* A key as tor writes it: the prefix, then base64 only (nothing that could
 * end the command line or add an argument to it). */
static bool onion_key_valid(const char *key)
{
	size_t n = strlen(key), p = strlen(ONION_KEY_PREFIX);
	if (n <= p || n >= ONION_KEY_MAX || strncmp(key, ONION_KEY_PREFIX, p) != 0)
		return false;
	for (size_t i = p; i < n; i++)
		if (!strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=",
			    key[i]))
			return false;
	return true;
}

static bool service_id_valid(const char *id)
{
	if (strlen(id) != ONION_SERVICE_ID_LEN)
		return false;
	for (const char *p = id; *p; p++)
		if (!strchr("abcdefghijklmnopqrstuvwxyz234567", *p))
			return false;
	return true;
}

/* Writes TEXT and a newline to DIR/NAME (mode 0600) by a rename. */
static cc_err write_file(const char *dir, const char *name, const char *text)
{
	char path[4200], tmp[4300];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	snprintf(tmp, sizeof tmp, "%s.new", path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return CC_ERR_IO;
	size_t n = strlen(text);
	bool ok = write(fd, text, n) == (ssize_t)n && write(fd, "\n", 1) == 1 && fsync(fd) == 0;
	ok = close(fd) == 0 && ok;
	if (!ok || rename(tmp, path) != 0) {
		unlink(tmp);
		return CC_ERR_IO;
	}
	return CC_OK;
}

static void onion_control_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server *srv = arg;
	char junk[512];
	(void)what;
	ssize_t n = recv(fd, junk, sizeof junk, 0);
	if (n > 0)
		return;  /* asynchronous events: we asked for none */
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	log_error("onion: tor closed its control connection: %s.onion is gone until the server"
		  " restarts (clients on this machine still reach the listener)", srv->onion_id);
	server_onion_stop(srv);
}

cc_err server_onion_start(struct server *srv)
{
	const struct server_config *cfg = srv->cfg;
	struct torctl_conn c = {.fd = -1};
	struct torctl_reply r = {0};
	char where[300], key[ONION_KEY_MAX + 1] = "", cmd[600], id[ONION_SERVICE_ID_LEN + 1] = "",
		new_key[ONION_KEY_MAX + 1] = "", key_path[4200];
	size_t key_len = 0;
	cc_err err;

	if (!cfg->onion)
		return CC_OK;
	snprintf(where, sizeof where, strchr(cfg->tor_control_host, ':') ? "[%s]:%u" : "%s:%u",
		 cfg->tor_control_host, cfg->tor_control_port);
	c.where = where;
	/* The listener's real port (--listen may have said 0). */
	struct sockaddr_storage ss;
	socklen_t sl = sizeof ss;
	uint16_t local_port = cfg->listen_port;
	if (getsockname(evconnlistener_get_fd(srv->listener), (struct sockaddr *)&ss, &sl) == 0)
		local_port = ntohs(ss.ss_family == AF_INET6
					   ? ((struct sockaddr_in6 *)&ss)->sin6_port
					   : ((struct sockaddr_in *)&ss)->sin_port);
	uint16_t virt_port = cfg->onion_port ? cfg->onion_port : local_port;
	/* tor connects to the listener: its own address, or loopback. */
	const char *target = strcmp(cfg->listen_host, "0.0.0.0") == 0 ? "127.0.0.1"
			     : strcmp(cfg->listen_host, "::") == 0    ? "[::1]"
								      : NULL;
	char target_buf[300];
	if (!target) {
		snprintf(target_buf, sizeof target_buf,
			 strchr(cfg->listen_host, ':') ? "[%s]" : "%s", cfg->listen_host);
		target = target_buf;
	}

	snprintf(key_path, sizeof key_path, "%s/" ONION_KEY_FILE, cfg->data_dir);
	err = read_first_line(key_path, key, sizeof key, &key_len);
	if (err == CC_ERR_NOT_FOUND) {
		key[0] = '\0';
	} else if (err || !onion_key_valid(key)) {
		log_error("onion: %s is not an onion service key as tor writes it; move it away"
			  " to make a new address", key_path);
		err = err ? err : CC_ERR_MALFORMED;
		goto out;
	}
	if ((err = ctl_connect(&c, cfg->tor_control_host, cfg->tor_control_port)) ||
	    (err = authenticate(&c, cfg)))
		goto out;
	snprintf(cmd, sizeof cmd, "ADD_ONION %s Port=%u,%s:%u", key[0] ? key : "NEW:ED25519-V3",
		 virt_port, target, local_port);
	err = ctl_command(&c, cmd, &r);
	mem_wipe(cmd, sizeof cmd);
	if (err)
		goto out;
	if (r.status != 250) {
		log_error("onion: tor refused ADD_ONION (%d %s)%s", r.status,
			  r.nlines ? r.lines[0] : "",
			  r.status == 550 ? ": is another server already running with this key?" : "");
		err = CC_ERR_AUTH;
		goto out;
	}
	for (size_t i = 0; i < r.nlines; i++) {
		if (torctl_value(r.lines[i], "ServiceID", id, sizeof id) < 0 ||
		    torctl_value(r.lines[i], "PrivateKey", new_key, sizeof new_key) < 0) {
			err = CC_ERR_MALFORMED;
			break;
		}
	}
	if (err || !service_id_valid(id) || (!key[0] && !onion_key_valid(new_key))) {
		log_error("onion: tor's answer to ADD_ONION is not what we can read");
		err = CC_ERR_MALFORMED;
		goto out;
	}
	/* A new key is kept before anyone learns the address. */
	if (!key[0] && (err = write_file(cfg->data_dir, ONION_KEY_FILE, new_key))) {
		log_error("onion: cannot save the onion service key in %s: the address would"
			  " change at the next start", key_path);
		goto out;
	}
	snprintf(srv->onion_id, sizeof srv->onion_id, "%s", id);
	char host[ONION_SERVICE_ID_LEN + 8];
	snprintf(host, sizeof host, "%s.onion", id);
	if (write_file(cfg->data_dir, ONION_HOSTNAME_FILE, host))
		log_warn("onion: cannot write %s/" ONION_HOSTNAME_FILE, cfg->data_dir);
	srv->onion_ev = event_new(srv->base, c.fd, EV_READ | EV_PERSIST, onion_control_cb, srv);
	if (!srv->onion_ev || event_add(srv->onion_ev, NULL) != 0) {
		err = CC_ERR_NOMEM;
		goto out;
	}
	srv->onion_fd = c.fd;
	c.fd = -1;
	log_info("onion service: %s:%u (tor at %s%s)", host, virt_port, where,
		 key[0] ? "" : ", a new address");
out:
	if (c.fd >= 0)
		close(c.fd);
	mem_wipe(key, sizeof key);
	mem_wipe(new_key, sizeof new_key);
	mem_wipe(&c, sizeof c);  /* what tor sent, the new key among it */
	mem_wipe(&r, sizeof r);
	return err;
}

void server_onion_stop(struct server *srv)
{
	if (srv->onion_ev) {
		event_free(srv->onion_ev);
		srv->onion_ev = NULL;
	}
	if (srv->onion_fd >= 0) {
		close(srv->onion_fd);
		srv->onion_fd = -1;
	}
}
