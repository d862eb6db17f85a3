/* Tor's control protocol, the part a server needs to publish an onion
 * service (control-spec.txt: PROTOCOLINFO, AUTHENTICATE, ADD_ONION): replies
 * parsed, values found in them, strings quoted. No I/O here
 * (server/onion.c talks to tor), so it can be fuzzed (fuzz/fuzz_torctl.c).
 *
 * A reply is lines "NNN-text", "NNN+text" (data follows, up to a line ".")
 * and a last line "NNN text", each ended by CRLF (a bare LF is taken too),
 * all with the same code NNN. */
#ifndef CC_UTIL_TORCTL_H
#define CC_UTIL_TORCTL_H

#include <stddef.h>

#include "util/err.h"

#define TORCTL_LINES_MAX 32
#define TORCTL_REPLY_MAX 8192   /* our replies are a few hundred bytes */

struct torctl_reply {
	int status;                    /* 250, 515, 550, ... */
	size_t nlines;
	const char *lines[TORCTL_LINES_MAX];  /* each line's text, NUL-ended, in text */
	char text[TORCTL_REPLY_MAX];
};

/* Takes one whole reply from the start of IN (LEN bytes): CC_OK with *used
 * its length; CC_ERR_TRUNCATED if its last line has not come yet (and LEN is
 * under the cap); CC_ERR_MALFORMED for a line that is not a reply line, a
 * code that changes within the reply, a CR that does not end a line, or a
 * NUL; CC_ERR_TOO_LARGE for a reply
 * over TORCTL_REPLY_MAX bytes or TORCTL_LINES_MAX lines. */
cc_err torctl_reply_parse(const char *in, size_t len, struct torctl_reply *out, size_t *used);

/* The value of KEY=VALUE among LINE's space-separated words: a QuotedString
 * (unescaped) or the word up to the next space. 1: found and copied to OUT
 * (N bytes with the NUL); 0: not there; -1: too long or a bad quote. */
int torctl_value(const char *line, const char *key, char *out, size_t n);

/* S as a QuotedString ("..." with \ and " escaped) in OUT (N bytes):
 * CC_ERR_TOO_LARGE if it does not fit, CC_ERR_MALFORMED if S holds a
 * control character (which could end the command line). */
cc_err torctl_quote(const char *s, char *out, size_t n);

#endif
