/* The typed message codec: bytes in, typed messages out. No crypto, no I/O.
 *
 * A message is a type byte followed by its fields in a fixed order:
 *   u8/u16/u32/u64     big-endian integers
 *   fixed[N]           exactly N bytes
 *   bytes16 / bytes32  u16 / u32 length, then that many bytes (each with a cap)
 *   str16              bytes16 holding UTF-8 text without NUL
 *   nick               bytes16 holding 1..32 of [A-Za-z0-9_.-]
 * Decoding rejects unknown types, fields over their caps and trailing bytes.
 * Decoded variable-length fields are views into the input: they live as long
 * as the input buffer does. docs/PROTOCOL.md lists every message. */
#ifndef CC_PROTO_MSG_H
#define CC_PROTO_MSG_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

#define PROTO_VERSION 1
#define PROTO_NICK_MAX 32
#define PROTO_X25519_LEN 32
#define PROTO_RANDOM_LEN 32
#define PROTO_FINGERPRINT_LEN 32
#define PROTO_RSA_PUB_MAX 600
#define PROTO_RSA_BYTES_MAX 512
#define PROTO_SEALED_AUTH_MAX 2048
#define PROTO_ERROR_TEXT_MAX 1024

enum proto_type {
	PROTO_CLIENT_HELLO = 0x01,
	PROTO_SERVER_HELLO = 0x02,
	PROTO_CLIENT_KEY = 0x03,
	PROTO_CLIENT_AUTH = 0x04,
	PROTO_WELCOME = 0x05,
	PROTO_PING = 0x06,
	PROTO_PONG = 0x07,
	PROTO_ERROR = 0x7f,
};

/* A view of bytes inside the decoded input (or the caller's memory when encoding). */
struct proto_bytes {
	const uint8_t *p;
	size_t len;
};

struct proto_client_hello {
	uint16_t version;
	uint8_t eph[PROTO_X25519_LEN];
	uint8_t random[PROTO_RANDOM_LEN];
};

struct proto_server_hello {
	uint16_t version;
	uint8_t eph[PROTO_X25519_LEN];
	uint8_t random[PROTO_RANDOM_LEN];
	struct proto_bytes server_key;    /* RSA SubjectPublicKeyInfo DER */
};

struct proto_client_key {
	struct proto_bytes session_ct;    /* RSA-OAEP of the 32-byte session secret */
	struct proto_bytes sealed_auth;   /* AES-256-GCM of a CLIENT_AUTH message */
};

struct proto_client_auth {
	struct proto_bytes identity_key;  /* RSA SubjectPublicKeyInfo DER */
	struct proto_bytes nick;
	struct proto_bytes signature;     /* RSA-PSS over the transcript */
};

struct proto_welcome {
	struct proto_bytes nick;          /* as registered (case preserved) */
	uint8_t fingerprint[PROTO_FINGERPRINT_LEN];
	uint64_t server_time_ms;
	uint32_t max_frame;               /* the server's frame cap after auth */
};

struct proto_ping {
	uint64_t token;
};

struct proto_error {
	uint32_t request_id;              /* 0 when not an answer to a request */
	uint16_t code;                    /* a cc_err value */
	struct proto_bytes text;
};

struct proto_msg {
	uint8_t type;
	union {
		struct proto_client_hello client_hello;
		struct proto_server_hello server_hello;
		struct proto_client_key client_key;
		struct proto_client_auth client_auth;
		struct proto_welcome welcome;
		struct proto_ping ping;       /* PING and PONG */
		struct proto_error error;
	} u;
};

/* Decodes exactly len bytes into out (views point into p). */
cc_err proto_msg_decode(const uint8_t *p, size_t len, struct proto_msg *out);
/* Appends the encoding of m to out; checks the same caps as decoding. */
cc_err proto_msg_encode(const struct proto_msg *m, struct buf *out);
/* The message's name for logs ("client_hello"), or NULL if unknown. */
const char *proto_type_name(uint8_t type);

/* 1 if s (n bytes) is a valid nickname: 1..32 of [A-Za-z0-9_.-]. */
int proto_nick_valid(const uint8_t *s, size_t n);
/* 1 if s (n bytes) is well-formed UTF-8 with no NUL and no overlongs/surrogates. */
int proto_utf8_valid(const uint8_t *s, size_t n);
/* A view of a C string. */
struct proto_bytes proto_bytes_str(const char *s);

#endif
