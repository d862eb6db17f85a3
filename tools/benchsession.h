/* A blocking raw client session, for the benchmarks that check or time one
 * request at a time (bench_membership, bench_rooms' verify.c): write all of
 * what the channel queued, read exactly what a frame needs (with a
 * timeout), and the next inner message through the channel, the handshake
 * carried on as it comes. Each call returns false with s->why set (the
 * first failure kept); the caller decides whether that ends the program.
 * Header-only, as tools/benchkeys.h: each C file of tools/ is a program of
 * its own. */
#ifndef CC_TOOLS_BENCHSESSION_H
#define CC_TOOLS_BENCHSESSION_H

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proto/frame.h"
#include "proto/msg.h"
#include "transport/chan.h"
#include "util/buf.h"

/* A server silent this long has failed the run. */
#define BENCHSESSION_TIMEOUT_MS 60000

struct benchsession {
	int fd;            /* connected, blocking */
	struct chan *ch;
	struct buf out;    /* what the channel queued, not yet written */
	char why[200];
};

/* Records "what: detail" unless a failure is recorded already; false. */
static inline bool benchsession_fail(struct benchsession *s, const char *what, const char *detail)
{
	if (!s->why[0])
		snprintf(s->why, sizeof s->why, "%s: %s", what, detail);
	return false;
}

static inline bool benchsession_flush(struct benchsession *s)
{
	size_t off = 0;
	while (off < s->out.len) {
		ssize_t n = write(s->fd, s->out.data + off, s->out.len - off);
		if (n <= 0)
			return benchsession_fail(s, "write", strerror(errno));
		off += (size_t)n;
	}
	buf_reset(&s->out);
	return true;
}

static inline bool benchsession_read(struct benchsession *s, uint8_t *p, size_t n)
{
	while (n) {
		struct pollfd pfd = {s->fd, POLLIN, 0};
		if (poll(&pfd, 1, BENCHSESSION_TIMEOUT_MS) != 1)
			return benchsession_fail(s, "read", "no answer in time");
		ssize_t r = read(s->fd, p, n);
		if (r <= 0)
			return benchsession_fail(s, "read",
						 r == 0 ? "the server closed" : strerror(errno));
		p += r;
		n -= (size_t)r;
	}
	return true;
}

/* The next inner message (views valid until the next call). */
static inline bool benchsession_next(struct benchsession *s, struct proto_msg *m)
{
	for (;;) {
		const uint8_t *body;
		size_t len;
		cc_err err = chan_pop_frame(s->ch, &body, &len);
		if (err == CC_OK) {
			err = proto_msg_decode(body, len, m);
			return err == CC_OK || benchsession_fail(s, "decode", cc_err_str(err));
		}
		if (err != CC_ERR_TRUNCATED)
			return benchsession_fail(s, "a frame", cc_err_str(err));
		uint8_t hdr[PROTO_FRAME_HEADER_LEN];
		if (!benchsession_read(s, hdr, sizeof hdr))
			return false;
		uint32_t n = load_be32(hdr);
		if (n == 0 || n > chan_frame_cap(s->ch))
			return benchsession_fail(s, "a frame", "length over the cap");
		uint8_t *frame = malloc((size_t)n + sizeof hdr);
		if (!frame)
			return benchsession_fail(s, "a frame", "out of memory");
		memcpy(frame, hdr, sizeof hdr);
		enum chan_event ev = CHAN_EVENT_NONE;
		bool got = benchsession_read(s, frame + sizeof hdr, n);
		if (got)
			err = chan_recv_frame(s->ch, frame, (size_t)n + sizeof hdr, &s->out, &ev);
		free(frame);
		if (!got)
			return false;
		if (err)
			return benchsession_fail(s, "a record", cc_err_str(err));
		if (ev == CHAN_EVENT_SERVER_KEY && (err = chan_client_continue(s->ch, &s->out)))
			return benchsession_fail(s, "handshake", cc_err_str(err));
		if (!benchsession_flush(s))
			return false;
	}
}

#endif
