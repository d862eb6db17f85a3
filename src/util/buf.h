/* Bounds-checked byte buffers, after OpenSSH's sshbuf.
 *
 * struct buf is a growable writer that owns its memory and refuses to grow past
 * its max. struct bufreader is a read cursor over bytes it does not own; every
 * get checks the remaining length first and, on failure, leaves the cursor
 * where it was. Integers are big-endian. */
#ifndef CC_UTIL_BUF_H
#define CC_UTIL_BUF_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

#define BUF_MAX_DEFAULT (16u * 1024 * 1024)

struct buf {
	uint8_t *data;
	size_t len;   /* bytes written */
	size_t cap;   /* bytes allocated */
	size_t max;   /* hard ceiling on len */
};

void buf_init(struct buf *b, size_t max);
/* Wipes the contents (they may be secret) and frees them. */
void buf_free(struct buf *b);
/* Forgets the contents (wiped) but keeps the allocation. */
void buf_reset(struct buf *b);
/* Forgets contents that are not secret (ciphertext) without wiping them. */
void buf_clear(struct buf *b);
cc_err buf_reserve(struct buf *b, size_t extra);
/* Room for n more bytes at the end; *out points at them. len grows by n. */
cc_err buf_append_space(struct buf *b, size_t n, uint8_t **out);
/* Drops the first n bytes (n <= len). */
void buf_consume(struct buf *b, size_t n);

cc_err buf_put_u8(struct buf *b, uint8_t v);
cc_err buf_put_u16(struct buf *b, uint16_t v);
cc_err buf_put_u32(struct buf *b, uint32_t v);
cc_err buf_put_u64(struct buf *b, uint64_t v);
cc_err buf_put_bytes(struct buf *b, const void *p, size_t n);
/* Length-prefixed byte strings: u16 or u32 length, then the bytes. */
cc_err buf_put_bytes16(struct buf *b, const void *p, size_t n);
cc_err buf_put_bytes32(struct buf *b, const void *p, size_t n);
cc_err buf_put_str16(struct buf *b, const char *s);

struct bufreader {
	const uint8_t *p;
	size_t len;   /* bytes remaining at p */
};

void bufreader_init(struct bufreader *r, const void *p, size_t len);
size_t bufreader_remaining(const struct bufreader *r);
/* CC_ERR_TRAILING unless every byte was read. */
cc_err bufreader_expect_end(const struct bufreader *r);

cc_err bufreader_get_u8(struct bufreader *r, uint8_t *v);
cc_err bufreader_get_u16(struct bufreader *r, uint16_t *v);
cc_err bufreader_get_u32(struct bufreader *r, uint32_t *v);
cc_err bufreader_get_u64(struct bufreader *r, uint64_t *v);
/* Points *p at the next n bytes (no copy) and skips them. */
cc_err bufreader_get_view(struct bufreader *r, size_t n, const uint8_t **p);
cc_err bufreader_get_copy(struct bufreader *r, void *dst, size_t n);
/* Length-prefixed views; a length over max is CC_ERR_TOO_LARGE. */
cc_err bufreader_get_bytes16(struct bufreader *r, size_t max, const uint8_t **p, size_t *n);
cc_err bufreader_get_bytes32(struct bufreader *r, size_t max, const uint8_t **p, size_t *n);

/* Loads and stores of big-endian integers in raw memory. */
static inline uint16_t load_be16(const uint8_t *p)
{
	return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}
static inline uint32_t load_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline uint64_t load_be64(const uint8_t *p)
{
	return (uint64_t)load_be32(p) << 32 | load_be32(p + 4);
}
static inline void store_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}
static inline void store_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}
static inline void store_be64(uint8_t *p, uint64_t v)
{
	store_be32(p, (uint32_t)(v >> 32));
	store_be32(p + 4, (uint32_t)v);
}

/* Wipes memory in a way the compiler may not drop. */
void mem_wipe(void *p, size_t n);

/* Lowercase hex of n bytes into out, which holds 2n+1 chars. */
void hex_encode(const uint8_t *p, size_t n, char *out);
/* Decodes exactly 2n hex chars; CC_ERR_MALFORMED on anything else. */
cc_err hex_decode(const char *hex, uint8_t *out, size_t n);

#endif
