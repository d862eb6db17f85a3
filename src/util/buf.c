#include "util/buf.h"

#include <stdlib.h>
#include <string.h>

void mem_wipe(void *p, size_t n)
{
	/* explicit_bzero: as fast as memset, and never optimised away. (A
	 * volatile byte loop cost a quarter of the server's CPU.) */
	if (n)
		explicit_bzero(p, n);
}

void buf_init(struct buf *b, size_t max)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = max ? max : BUF_MAX_DEFAULT;
}

void buf_free(struct buf *b)
{
	if (b->data) {
		mem_wipe(b->data, b->cap);
		free(b->data);
	}
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
}

void buf_clear(struct buf *b)
{
	b->len = 0;
}

void buf_reset(struct buf *b)
{
	if (b->data)
		mem_wipe(b->data, b->len);
	b->len = 0;
}

cc_err buf_reserve(struct buf *b, size_t extra)
{
	if (extra > b->max || b->len > b->max - extra)
		return CC_ERR_TOO_LARGE;
	size_t need = b->len + extra;
	if (need <= b->cap)
		return CC_OK;
	size_t cap = b->cap ? b->cap : 256;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	if (cap > b->max)
		cap = b->max;
	/* No realloc: old bytes may be secret, so copy and wipe. */
	uint8_t *n = malloc(cap);
	if (!n)
		return CC_ERR_NOMEM;
	if (b->data) {
		memcpy(n, b->data, b->len);
		mem_wipe(b->data, b->cap);
		free(b->data);
	}
	b->data = n;
	b->cap = cap;
	return CC_OK;
}

cc_err buf_append_space(struct buf *b, size_t n, uint8_t **out)
{
	if (n == 0 && !b->data) {
		*out = NULL;  /* nothing to write, nowhere to point */
		return CC_OK;
	}
	cc_err err = buf_reserve(b, n);
	if (err)
		return err;
	*out = b->data + b->len;
	b->len += n;
	return CC_OK;
}

void buf_consume(struct buf *b, size_t n)
{
	if (n >= b->len) {
		buf_reset(b);
		return;
	}
	memmove(b->data, b->data + n, b->len - n);
	mem_wipe(b->data + b->len - n, n);
	b->len -= n;
}

cc_err buf_put_bytes(struct buf *b, const void *p, size_t n)
{
	uint8_t *dst;
	cc_err err = buf_append_space(b, n, &dst);
	if (err)
		return err;
	if (n)
		memcpy(dst, p, n);
	return CC_OK;
}

cc_err buf_put_u8(struct buf *b, uint8_t v)
{
	return buf_put_bytes(b, &v, 1);
}

cc_err buf_put_u16(struct buf *b, uint16_t v)
{
	uint8_t t[2];
	store_be16(t, v);
	return buf_put_bytes(b, t, sizeof t);
}

cc_err buf_put_u32(struct buf *b, uint32_t v)
{
	uint8_t t[4];
	store_be32(t, v);
	return buf_put_bytes(b, t, sizeof t);
}

cc_err buf_put_u64(struct buf *b, uint64_t v)
{
	uint8_t t[8];
	store_be64(t, v);
	return buf_put_bytes(b, t, sizeof t);
}

cc_err buf_put_bytes16(struct buf *b, const void *p, size_t n)
{
	if (n > UINT16_MAX)
		return CC_ERR_TOO_LARGE;
	cc_err err = buf_reserve(b, 2 + n);
	if (err)
		return err;
	buf_put_u16(b, (uint16_t)n);
	return buf_put_bytes(b, p, n);
}

cc_err buf_put_bytes32(struct buf *b, const void *p, size_t n)
{
	if (n > UINT32_MAX)
		return CC_ERR_TOO_LARGE;
	cc_err err = buf_reserve(b, 4 + n);
	if (err)
		return err;
	buf_put_u32(b, (uint32_t)n);
	return buf_put_bytes(b, p, n);
}

cc_err buf_put_str16(struct buf *b, const char *s)
{
	return buf_put_bytes16(b, s, strlen(s));
}

void bufreader_init(struct bufreader *r, const void *p, size_t len)
{
	r->p = p;
	r->len = len;
}

size_t bufreader_remaining(const struct bufreader *r)
{
	return r->len;
}

cc_err bufreader_expect_end(const struct bufreader *r)
{
	return r->len ? CC_ERR_TRAILING : CC_OK;
}

cc_err bufreader_get_view(struct bufreader *r, size_t n, const uint8_t **p)
{
	if (n > r->len)
		return CC_ERR_TRUNCATED;
	*p = r->p;
	r->p += n;
	r->len -= n;
	return CC_OK;
}

cc_err bufreader_get_copy(struct bufreader *r, void *dst, size_t n)
{
	const uint8_t *p;
	cc_err err = bufreader_get_view(r, n, &p);
	if (err)
		return err;
	if (n)
		memcpy(dst, p, n);
	return CC_OK;
}

cc_err bufreader_get_u8(struct bufreader *r, uint8_t *v)
{
	const uint8_t *p;
	cc_err err = bufreader_get_view(r, 1, &p);
	if (!err)
		*v = p[0];
	return err;
}

cc_err bufreader_get_u16(struct bufreader *r, uint16_t *v)
{
	const uint8_t *p;
	cc_err err = bufreader_get_view(r, 2, &p);
	if (!err)
		*v = load_be16(p);
	return err;
}

cc_err bufreader_get_u32(struct bufreader *r, uint32_t *v)
{
	const uint8_t *p;
	cc_err err = bufreader_get_view(r, 4, &p);
	if (!err)
		*v = load_be32(p);
	return err;
}

cc_err bufreader_get_u64(struct bufreader *r, uint64_t *v)
{
	const uint8_t *p;
	cc_err err = bufreader_get_view(r, 8, &p);
	if (!err)
		*v = load_be64(p);
	return err;
}

/* Reads a length of width bytes, then that many bytes; the cursor moves only
 * when both fit. */
static cc_err bufreader_get_prefixed(struct bufreader *r, size_t width, size_t max,
				     const uint8_t **p, size_t *n)
{
	if (r->len < width)
		return CC_ERR_TRUNCATED;
	size_t len = width == 2 ? load_be16(r->p) : load_be32(r->p);
	if (len > max)
		return CC_ERR_TOO_LARGE;
	if (len > r->len - width)
		return CC_ERR_TRUNCATED;
	*p = r->p + width;
	*n = len;
	r->p += width + len;
	r->len -= width + len;
	return CC_OK;
}

cc_err bufreader_get_bytes16(struct bufreader *r, size_t max, const uint8_t **p, size_t *n)
{
	return bufreader_get_prefixed(r, 2, max, p, n);
}

cc_err bufreader_get_bytes32(struct bufreader *r, size_t max, const uint8_t **p, size_t *n)
{
	return bufreader_get_prefixed(r, 4, max, p, n);
}

void hex_encode(const uint8_t *p, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 15];
	}
	out[2 * n] = '\0';
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

cc_err hex_decode(const char *hex, uint8_t *out, size_t n)
{
	if (strlen(hex) != 2 * n)
		return CC_ERR_MALFORMED;
	for (size_t i = 0; i < n; i++) {
		int hi = hex_value(hex[2 * i]), lo = hex_value(hex[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return CC_ERR_MALFORMED;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return CC_OK;
}
