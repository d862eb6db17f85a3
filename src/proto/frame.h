/* Frames: the unit on the wire and inside records.
 *
 *   u32 length (big-endian) || length bytes of body
 *
 * The length is checked against a hard cap before anything is allocated:
 * 64 KiB before authentication, 1 MiB (configurable) after. An empty body is
 * malformed: every body starts with at least a type byte or a tag. */
#ifndef CC_PROTO_FRAME_H
#define CC_PROTO_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

#define PROTO_FRAME_HEADER_LEN 4
#define PROTO_FRAME_MAX_PREAUTH (64u * 1024)
#define PROTO_FRAME_MAX_DEFAULT (1024u * 1024)
#define PROTO_FRAME_MAX_LIMIT (16u * 1024 * 1024)

/* Looks at the bytes at in:
 *   CC_OK             a whole frame is there; *body_len is its body length
 *                     (the body starts at in + PROTO_FRAME_HEADER_LEN)
 *   CC_ERR_TRUNCATED  more bytes are needed
 *   CC_ERR_TOO_LARGE  the header announces more than max
 *   CC_ERR_MALFORMED  the header announces an empty body */
cc_err proto_frame_peek(const uint8_t *in, size_t in_len, size_t max, size_t *body_len);

/* Reads just the 4-byte header at hdr: CC_OK with *body_len, or
 * CC_ERR_TOO_LARGE / CC_ERR_MALFORMED as above. For stream readers that
 * check the cap before they wait for (and buffer) the body. */
cc_err proto_frame_header(const uint8_t hdr[PROTO_FRAME_HEADER_LEN], size_t max,
			  size_t *body_len);

/* Appends the header and body of one frame. */
cc_err proto_frame_put(struct buf *out, const uint8_t *body, size_t len);

#endif
