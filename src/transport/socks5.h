/* A SOCKS5 client with no I/O (RFC 1928, with RFC 1929 username/password
 * authentication): bytes from the proxy in, bytes to it out, as chan.h does
 * for our own protocol.
 *
 * Only CONNECT with ATYP 3: the host name goes to the proxy as the user gave
 * it, so the client never resolves it itself (no DNS leak, and .onion names
 * work). socks5:// and socks5h:// both mean that here.
 *
 * Username/password is offered beside "no authentication": Tor picks it, and
 * with IsolateSOCKSAuth (its default) keeps streams with different
 * credentials on different circuits; the client gives each identity its own
 * random username. */
#ifndef CC_TRANSPORT_SOCKS5_H
#define CC_TRANSPORT_SOCKS5_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"
#include "util/err.h"

#define SOCKS5_HOST_MAX 255   /* ATYP 3: a one-byte length */
#define SOCKS5_CRED_MAX 255   /* RFC 1929: one-byte lengths */

/* What a proxy address names: socks5h://HOST:PORT, socks5://HOST:PORT
 * (the same here), [IPv6]:PORT in brackets. */
struct socks5_proxy {
	char host[SOCKS5_HOST_MAX + 1];
	uint16_t port;
};

/* Parses a proxy URL. CC_ERR_USAGE with a reason in why (why_len bytes)
 * for anything else: another scheme, no port, a path, a user in the URL. */
cc_err socks5_url_parse(const char *url, struct socks5_proxy *out, char *why, size_t why_len);

enum socks5_state {
	SOCKS5_METHOD,     /* the greeting is sent; the method choice awaited */
	SOCKS5_AUTH,       /* username/password sent; its answer awaited */
	SOCKS5_CONNECT,    /* CONNECT sent; the reply awaited */
	SOCKS5_OPEN,       /* the tunnel is open: what follows is the server's */
	SOCKS5_FAILED,
};

struct socks5 {
	enum socks5_state state;
	char host[SOCKS5_HOST_MAX + 1];
	uint16_t port;
	char user[SOCKS5_CRED_MAX + 1];
	char pass[SOCKS5_CRED_MAX + 1];
	/* Why it failed (state SOCKS5_FAILED): a short code for scripts
	 * ("host_unreachable", "onion_not_found", ...) and a sentence. */
	const char *error_code;
	const char *error_text;
	uint8_t reply;     /* the proxy's reply code, 0 if none came */
};

/* Starts a tunnel to host:port (host: 1 to 255 bytes, no NUL) and appends
 * the greeting to out. user and pass (each 1 to 255 bytes) are offered as
 * username/password authentication; NULL offers none. */
cc_err socks5_start(struct socks5 *s, const char *host, uint16_t port, const char *user,
		    const char *pass, struct buf *out);

/* Takes what the proxy sent so far (in, len: all of it not yet used).
 * CC_ERR_TRUNCATED: a reply is not whole yet, nothing used. CC_OK: *used
 * bytes were one reply, and either the next request was appended to out or
 * the state is now SOCKS5_OPEN (bytes after *used are the server's). Any
 * other error: the state is SOCKS5_FAILED and error_code says why. */
cc_err socks5_recv(struct socks5 *s, const uint8_t *in, size_t len, size_t *used,
		   struct buf *out);

/* The error code and sentence of a CONNECT reply code (RFC 1928's 1-8 and
 * Tor's extended 0xF0-0xF7), for messages; code 0 is "open". */
const char *socks5_reply_code(uint8_t reply);
const char *socks5_reply_text(uint8_t reply);

/* Wipes the credentials. */
void socks5_clear(struct socks5 *s);

#endif
