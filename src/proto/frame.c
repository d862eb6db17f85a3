#include "proto/frame.h"

cc_err proto_frame_header(const uint8_t hdr[PROTO_FRAME_HEADER_LEN], size_t max,
			  size_t *body_len)
{
	uint32_t len = load_be32(hdr);
	if (len > max)
		return CC_ERR_TOO_LARGE;
	if (len == 0)
		return CC_ERR_MALFORMED;
	*body_len = len;
	return CC_OK;
}

cc_err proto_frame_peek(const uint8_t *in, size_t in_len, size_t max, size_t *body_len)
{
	size_t len;
	if (in_len < PROTO_FRAME_HEADER_LEN)
		return CC_ERR_TRUNCATED;
	cc_err err = proto_frame_header(in, max, &len);
	if (err)
		return err;
	if (in_len - PROTO_FRAME_HEADER_LEN < len)
		return CC_ERR_TRUNCATED;
	*body_len = len;
	return CC_OK;
}

cc_err proto_frame_put(struct buf *out, const uint8_t *body, size_t len)
{
	if (len == 0 || len > PROTO_FRAME_MAX_LIMIT)
		return len ? CC_ERR_TOO_LARGE : CC_ERR_MALFORMED;
	return buf_put_bytes32(out, body, len);
}
