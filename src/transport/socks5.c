/* The SOCKS5 client of socks5.h: RFC 1928 (CONNECT, ATYP 3) and RFC 1929.
 * Each reply is taken whole or not at all, so the caller can hand over
 * whatever arrived and call again when more does. */
#include "transport/socks5.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SOCKS5_VERSION 5
#define SOCKS5_AUTH_NONE 0x00
#define SOCKS5_AUTH_USERPASS 0x02
#define SOCKS5_AUTH_REFUSED 0xff
#define SOCKS5_USERPASS_VERSION 1
#define SOCKS5_CMD_CONNECT 1
#define SOCKS5_ATYP_IPV4 1
#define SOCKS5_ATYP_NAME 3
#define SOCKS5_ATYP_IPV6 4

/* ---- proxy URLs -------------------------------------------------------------- */

static cc_err url_error(char *why, size_t why_len, const char *url, const char *reason)
{
	snprintf(why, why_len, "bad proxy %s: %s (want socks5h://HOST:PORT)", url, reason);
	return CC_ERR_USAGE;
}

cc_err socks5_url_parse(const char *url, struct socks5_proxy *out, char *why, size_t why_len)
{
	static const char *const schemes[] = {"socks5h://", "socks5://"};
	const char *rest = NULL;
	memset(out, 0, sizeof *out);
	for (size_t i = 0; i < sizeof schemes / sizeof schemes[0]; i++)
		if (strncmp(url, schemes[i], strlen(schemes[i])) == 0)
			rest = url + strlen(schemes[i]);
	if (!rest)
		return url_error(why, why_len, url, "only SOCKS5 proxies are supported");
	if (strchr(rest, '@'))
		return url_error(why, why_len, url, "no user name in the address");
	if (strchr(rest, '/'))
		return url_error(why, why_len, url, "no path after the port");
	const char *host = rest, *host_end, *colon;
	if (*rest == '[') {
		host = rest + 1;
		host_end = strchr(host, ']');
		if (!host_end || host_end[1] != ':')
			return url_error(why, why_len, url, "an IPv6 address goes in brackets, "
							    "then :PORT");
		colon = host_end + 1;
	} else {
		colon = strrchr(rest, ':');
		if (!colon)
			return url_error(why, why_len, url, "no port");
		host_end = colon;
		if (memchr(host, ':', (size_t)(host_end - host)))
			return url_error(why, why_len, url, "an IPv6 address goes in brackets");
	}
	size_t host_len = (size_t)(host_end - host);
	if (host_len == 0 || host_len > SOCKS5_HOST_MAX)
		return url_error(why, why_len, url, "no host, or one over 255 bytes");
	/* A name or an address: letters, digits, '.', '-', '_'; ':' only in
	 * brackets, where it must be (an IPv6 address). */
	bool bracketed = *rest == '[', colon_seen = false;
	for (size_t i = 0; i < host_len; i++) {
		char ch = host[i];
		colon_seen |= ch == ':';
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '.' || ch == '-' || ch == '_' ||
		      (ch == ':' && bracketed)))
			return url_error(why, why_len, url, "a character a host name cannot hold");
	}
	if (bracketed && !colon_seen)
		return url_error(why, why_len, url, "brackets are for an IPv6 address");
	char *end;
	const char *port = colon + 1;
	if (*port < '0' || *port > '9')
		return url_error(why, why_len, url, "a port is a number from 1 to 65535");
	unsigned long p = strtoul(port, &end, 10);
	if (*end || p == 0 || p > 65535)
		return url_error(why, why_len, url, "a port is a number from 1 to 65535");
	memcpy(out->host, host, host_len);
	out->host[host_len] = '\0';
	out->port = (uint16_t)p;
	return CC_OK;
}

/* ---- reply codes ------------------------------------------------------------- */

static const struct {
	uint8_t reply;
	const char *code;
	const char *text;
} socks5_replies[] = {
	{0x00, "open", "the tunnel is open"},
	{0x01, "proxy_failed", "the proxy failed (general SOCKS server failure)"},
	{0x02, "proxy_refused", "the proxy's rules do not allow this connection"},
	{0x03, "network_unreachable", "the network is unreachable from the proxy"},
	{0x04, "host_unreachable", "the host is unreachable (or its name unknown) from the proxy"},
	{0x05, "connection_refused", "the server refused the connection from the proxy"},
	{0x06, "ttl_expired", "the connection timed out at the proxy (TTL expired)"},
	{0x07, "proxy_unsupported", "the proxy does not support CONNECT"},
	{0x08, "proxy_unsupported", "the proxy does not take host names (address type)"},
	/* Tor's extended errors (SocksPort ExtendedErrors). */
	{0xf0, "onion_not_found", "the onion service's descriptor cannot be found: it is "
				  "offline, or the address is wrong"},
	{0xf1, "onion_descriptor_invalid", "the onion service's descriptor is invalid"},
	{0xf2, "onion_intro_failed", "the onion service's introduction failed"},
	{0xf3, "onion_rendezvous_failed", "the rendezvous with the onion service failed"},
	{0xf4, "onion_auth_missing", "the onion service needs client authorization"},
	{0xf5, "onion_auth_wrong", "the onion service refused our client authorization"},
	{0xf6, "onion_address_invalid", "the onion address is not valid"},
	{0xf7, "onion_intro_timeout", "the onion service's introduction timed out"},
};

const char *socks5_reply_code(uint8_t reply)
{
	for (size_t i = 0; i < sizeof socks5_replies / sizeof socks5_replies[0]; i++)
		if (socks5_replies[i].reply == reply)
			return socks5_replies[i].code;
	return "proxy_failed";
}

const char *socks5_reply_text(uint8_t reply)
{
	for (size_t i = 0; i < sizeof socks5_replies / sizeof socks5_replies[0]; i++)
		if (socks5_replies[i].reply == reply)
			return socks5_replies[i].text;
	return "the proxy failed with a reply code SOCKS5 does not define";
}

/* ---- the exchange ------------------------------------------------------------ */

static cc_err fail(struct socks5 *s, cc_err err, const char *code, const char *text)
{
	s->state = SOCKS5_FAILED;
	s->error_code = code;
	s->error_text = text;
	socks5_clear(s);
	return err;
}

void socks5_clear(struct socks5 *s)
{
	mem_wipe(s->user, sizeof s->user);
	mem_wipe(s->pass, sizeof s->pass);
}

static cc_err put_connect(struct socks5 *s, struct buf *out)
{
	size_t n = strlen(s->host);
	uint8_t req[4 + 1 + SOCKS5_HOST_MAX + 2];
	req[0] = SOCKS5_VERSION;
	req[1] = SOCKS5_CMD_CONNECT;
	req[2] = 0;
	req[3] = SOCKS5_ATYP_NAME;
	req[4] = (uint8_t)n;
	memcpy(req + 5, s->host, n);
	store_be16(req + 5 + n, s->port);
	s->state = SOCKS5_CONNECT;
	return buf_put_bytes(out, req, 5 + n + 2);
}

static cc_err put_userpass(struct socks5 *s, struct buf *out)
{
	size_t u = strlen(s->user), p = strlen(s->pass);
	uint8_t req[3 + 2 * SOCKS5_CRED_MAX];
	req[0] = SOCKS5_USERPASS_VERSION;
	req[1] = (uint8_t)u;
	memcpy(req + 2, s->user, u);
	req[2 + u] = (uint8_t)p;
	memcpy(req + 3 + u, s->pass, p);
	s->state = SOCKS5_AUTH;
	cc_err err = buf_put_bytes(out, req, 3 + u + p);
	mem_wipe(req, sizeof req);
	return err;
}

cc_err socks5_start(struct socks5 *s, const char *host, uint16_t port, const char *user,
		    const char *pass, struct buf *out)
{
	memset(s, 0, sizeof *s);
	size_t n = strlen(host);
	if (n == 0 || n > SOCKS5_HOST_MAX || port == 0)
		return fail(s, CC_ERR_USAGE, "bad_host", "the server's name is empty or too long "
							 "for a proxy");
	memcpy(s->host, host, n + 1);
	s->port = port;
	if (user) {
		size_t u = strlen(user), p = pass ? strlen(pass) : 0;
		if (u == 0 || u > SOCKS5_CRED_MAX || p == 0 || p > SOCKS5_CRED_MAX)
			return fail(s, CC_ERR_USAGE, "bad_credentials",
				    "proxy credentials are 1 to 255 bytes each");
		memcpy(s->user, user, u + 1);
		memcpy(s->pass, pass, p + 1);
	}
	uint8_t hello[4] = {SOCKS5_VERSION, 1, SOCKS5_AUTH_NONE, 0};
	if (user) {
		hello[1] = 2;
		hello[3] = SOCKS5_AUTH_USERPASS;
	}
	s->state = SOCKS5_METHOD;
	return buf_put_bytes(out, hello, user ? 4 : 3);
}

/* A CONNECT reply: VER REP RSV ATYP BND.ADDR BND.PORT. */
static cc_err recv_connect(struct socks5 *s, const uint8_t *in, size_t len, size_t *used)
{
	if (len < 5)
		return CC_ERR_TRUNCATED;
	if (in[0] != SOCKS5_VERSION || in[2] != 0)
		return fail(s, CC_ERR_MALFORMED, "proxy_protocol",
			    "the proxy's reply is not SOCKS5");
	size_t addr;
	switch (in[3]) {
	case SOCKS5_ATYP_IPV4:
		addr = 4;
		break;
	case SOCKS5_ATYP_IPV6:
		addr = 16;
		break;
	case SOCKS5_ATYP_NAME:
		addr = 1 + (size_t)in[4];
		break;
	default:
		return fail(s, CC_ERR_MALFORMED, "proxy_protocol",
			    "the proxy's reply has an unknown address type");
	}
	size_t need = 4 + addr + 2;
	if (len < need)
		return CC_ERR_TRUNCATED;
	*used = need;
	s->reply = in[1];
	if (in[1] != 0)
		return fail(s, CC_ERR_IO, socks5_reply_code(in[1]), socks5_reply_text(in[1]));
	s->state = SOCKS5_OPEN;
	socks5_clear(s);
	return CC_OK;
}

cc_err socks5_recv(struct socks5 *s, const uint8_t *in, size_t len, size_t *used,
		   struct buf *out)
{
	*used = 0;
	switch (s->state) {
	case SOCKS5_METHOD:
		if (len < 2)
			return CC_ERR_TRUNCATED;
		if (in[0] != SOCKS5_VERSION)
			return fail(s, CC_ERR_MALFORMED, "proxy_protocol",
				    "the proxy does not speak SOCKS5");
		*used = 2;
		if (in[1] == SOCKS5_AUTH_NONE)
			return put_connect(s, out);
		if (in[1] == SOCKS5_AUTH_USERPASS && s->user[0])
			return put_userpass(s, out);
		return fail(s, CC_ERR_AUTH, "proxy_refused",
			    in[1] == SOCKS5_AUTH_REFUSED
				    ? "the proxy accepts none of our authentication methods"
				    : "the proxy chose an authentication method we did not offer");
	case SOCKS5_AUTH:
		if (len < 2)
			return CC_ERR_TRUNCATED;
		*used = 2;
		if (in[0] != SOCKS5_USERPASS_VERSION)
			return fail(s, CC_ERR_MALFORMED, "proxy_protocol",
				    "the proxy's answer to our credentials is not RFC 1929");
		if (in[1] != 0)
			return fail(s, CC_ERR_AUTH, "proxy_auth_failed",
				    "the proxy refused our user name and password");
		socks5_clear(s);
		return put_connect(s, out);
	case SOCKS5_CONNECT:
		return recv_connect(s, in, len, used);
	case SOCKS5_OPEN:
	case SOCKS5_FAILED:
		break;
	}
	return CC_ERR_STATE;
}
