#include "util/args.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int args_parse_uint(const char *s, unsigned long long min, unsigned long long max,
		    unsigned long long *out)
{
	char *end;
	/* strtoull would take "-1" and " 5": refuse anything but digits. */
	if (!s || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

int args_parse_host_port(const char *s, char *host, size_t host_len, uint16_t *port)
{
	const char *colon = strrchr(s, ':');
	unsigned long long p;
	if (!colon || colon == s || args_parse_uint(colon + 1, 1, 65535, &p))
		return -1;
	const char *h = s;
	size_t n = (size_t)(colon - s);
	if (h[0] == '[' && n >= 2 && h[n - 1] == ']') {
		h++;
		n -= 2;
	}
	if (n == 0 || n >= host_len)
		return -1;
	memcpy(host, h, n);
	host[n] = '\0';
	*port = (uint16_t)p;
	return 0;
}
