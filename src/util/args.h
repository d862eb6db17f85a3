/* Command-line values shared by the programs: numbers and HOST:PORT. */
#ifndef CC_UTIL_ARGS_H
#define CC_UTIL_ARGS_H

#include <stddef.h>
#include <stdint.h>

/* An unsigned decimal in [min, max], nothing else: 0 on success, -1 if not. */
int args_parse_uint(const char *s, unsigned long long min, unsigned long long max,
		    unsigned long long *out);
/* "HOST:PORT" or "[V6]:PORT" with a port of 1..65535; host gets at most
 * host_len - 1 characters. 0 on success, -1 if not. */
int args_parse_host_port(const char *s, char *host, size_t host_len, uint16_t *port);

#endif
