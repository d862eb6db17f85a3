/* A SOCKS5 proxy for the tests, on its own thread: it writes down what each
 * client asked for (the methods offered, the credentials, the address type
 * and the host name) and, for names the test mapped, opens the connection
 * and relays bytes both ways, as Tor would for an .onion name it knows.
 *
 * It can also misbehave on purpose: answer CONNECT with a given reply code,
 * refuse every method, refuse the credentials, or say nothing at all (after
 * the greeting, or after CONNECT), for the client's error paths.
 *
 * Written from RFC 1928 and RFC 1929 alone, not from the client's code. */
#ifndef CC_TESTS_SOCKS_PROXY_H
#define CC_TESTS_SOCKS_PROXY_H

#include <stddef.h>
#include <stdint.h>

struct socks_proxy;

enum socks_proxy_mode {
	SOCKS_PROXY_RELAY,          /* the real thing: a mapped name is connected */
	SOCKS_PROXY_REPLY,          /* CONNECT is answered with the reply code set */
	SOCKS_PROXY_NO_METHOD,      /* method 0xFF: none acceptable */
	SOCKS_PROXY_BAD_AUTH,       /* username/password chosen, then refused */
	SOCKS_PROXY_MUTE,           /* accepts, then never says a word */
	SOCKS_PROXY_MUTE_CONNECT,   /* answers the greeting (and auth), not CONNECT */
};

/* What one client asked for. */
struct socks_proxy_request {
	uint8_t methods[16];
	size_t nmethods;
	char user[256], pass[256];  /* empty if no username/password came */
	uint8_t atyp;               /* 0 if no CONNECT came */
	char host[256];             /* ATYP 3's name */
	uint16_t port;
};

/* Listens on 127.0.0.1 (an ephemeral port). NULL on failure. */
struct socks_proxy *socks_proxy_start(void);
int socks_proxy_port(const struct socks_proxy *p);
/* NAME:PORT connects to 127.0.0.1:TO_PORT; any other name is answered
 * with reply 4 (host unreachable), as a proxy that cannot resolve it. */
void socks_proxy_map(struct socks_proxy *p, const char *name, uint16_t port, int to_port);
void socks_proxy_set_mode(struct socks_proxy *p, enum socks_proxy_mode mode, uint8_t reply);
/* How many clients connected so far, and what the I-th asked for (0:
 * found, -1: no such one). */
size_t socks_proxy_count(struct socks_proxy *p);
int socks_proxy_request(struct socks_proxy *p, size_t i, struct socks_proxy_request *out);
/* Closes everything and joins the threads. NULL is fine. */
void socks_proxy_stop(struct socks_proxy *p);

#endif
