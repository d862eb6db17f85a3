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

#define PROTO_VERSION 5
/* The handshake's proof of work (docs/PROTOCOL.md 4.2): a server asks for at
 * most this many leading zero bits. */
#define PROTO_PUZZLE_BITS_MAX 32
#define PROTO_NICK_MAX 32
#define PROTO_X25519_LEN 32
#define PROTO_RANDOM_LEN 32
#define PROTO_FINGERPRINT_LEN 32
#define PROTO_RSA_PUB_MAX 600
#define PROTO_RSA_BYTES_MAX 512
#define PROTO_SEALED_AUTH_MAX 2048
#define PROTO_ERROR_TEXT_MAX 1024
#define PROTO_ROOM_ID_LEN 16
#define PROTO_SIGN_PUB_LEN 32
#define PROTO_SIGN_CERT_MAX 512
#define PROTO_TITLE_CT_MAX 512
/* A record that adds PROTO_RECORD_SUBJECTS_MAX members (proto/room.h). */
#define PROTO_RECORD_MAX (18 * 1024)
#define PROTO_WRAPPED_MAX 512
/* A room message envelope: 16 KiB of text plus its header and signature. */
#define PROTO_ENVELOPE_MAX (20 * 1024)
/* Items in one list: a room's keys (up to 5,120 members) fit one request. */
#define PROTO_LIST_MAX 8192

enum proto_type {
	PROTO_CLIENT_HELLO = 0x01,
	PROTO_SERVER_HELLO = 0x02,
	PROTO_CLIENT_KEY = 0x03,
	PROTO_CLIENT_AUTH = 0x04,
	PROTO_WELCOME = 0x05,
	PROTO_PING = 0x06,
	PROTO_PONG = 0x07,
	/* rooms: requests carry a request_id that the answer (or ERROR) echoes */
	PROTO_SIGNING_KEY = 0x10,
	PROTO_OK = 0x11,
	PROTO_USERS_GET = 0x12,
	PROTO_USERS = 0x13,
	PROTO_ROOM_CREATE = 0x14,
	PROTO_ROOMS_LIST = 0x15,
	PROTO_ROOMS = 0x16,
	PROTO_ROOM_JOIN = 0x17,
	PROTO_ROOM_STATE = 0x18,
	PROTO_ROOM_MSG = 0x19,
	PROTO_MSG_SEND = 0x1a,
	PROTO_SENT = 0x1b,
	PROTO_ROOM_ADD = 0x1c,
	PROTO_ROOM_RECORD = 0x1d,
	PROTO_ROOM_DISCONNECT = 0x1e,
	PROTO_ROOM_LEAVE = 0x1f,
	PROTO_JOIN_DONE = 0x20,
	PROTO_ROOM_KICK = 0x21,
	PROTO_ROOM_ADMIN = 0x22,
	PROTO_ROOM_REKEY = 0x23,
	PROTO_ROOM_FETCH = 0x24,
	PROTO_REKEY_OWED = 0x25,
	PROTO_ROOM_READ = 0x26,
	PROTO_RECEIVE_KEY = 0x27,
	PROTO_KEYS_ACK = 0x28,
	PROTO_KEY_MOVE = 0x29,
	PROTO_ROOM_MOVE = 0x2a,
	PROTO_PART = 0x2b,
	PROTO_ERROR = 0x7f,
};

/* Lists: a u16 count, then the items back to back. Decoding checks every
 * item; the list keeps a view of the encoded items, read with an iterator.
 * To encode, build raw with proto_item_encode and set count. */
enum proto_item_kind {
	PROTO_ITEM_NICK,      /* struct proto_nick_item */
	PROTO_ITEM_BLOB,      /* struct proto_blob_item */
	PROTO_ITEM_USER,      /* struct proto_user_item */
	PROTO_ITEM_WRAPPED,   /* struct proto_wrapped_item */
	PROTO_ITEM_ROOM,      /* struct proto_room_item */
	PROTO_ITEM_GONE,      /* struct proto_gone_item */
	PROTO_ITEM_CHAIN,     /* struct proto_chain_item */
	PROTO_ITEM_COUNT_
};

/* A view of bytes inside the decoded input (or the caller's memory when encoding). */
struct proto_bytes {
	const uint8_t *p;
	size_t len;
};

struct proto_list {
	uint16_t count;
	struct proto_bytes raw;
};

struct proto_list_iter {
	struct bufreader r;
	enum proto_item_kind kind;
	uint16_t left;
};

struct proto_nick_item {
	struct proto_bytes nick;
};

struct proto_blob_item {
	struct proto_bytes data;          /* <= PROTO_RECORD_MAX */
};

/* A user as the server's directory knows it. */
struct proto_user_item {
	struct proto_bytes nick;
	struct proto_bytes identity_key;  /* RSA DER */
	uint32_t sign_version;            /* the certificate's counter; 0: none yet */
	uint8_t sign_pub[PROTO_SIGN_PUB_LEN];  /* all zeros: none yet */
	struct proto_bytes sign_cert;     /* RSA-PSS over version and key; empty: none */
	uint32_t recv_version;            /* the receiving key's counter; 0: none yet */
	uint64_t recv_created_ms;         /* when its owner made it */
	uint8_t recv_pub[PROTO_X25519_LEN];  /* X25519; all zeros: none yet */
	struct proto_bytes recv_cert;     /* RSA-PSS over version, time and key */
};

/* A room key wrapped to a member for an epoch. */
struct proto_wrapped_item {
	struct proto_bytes nick;
	uint32_t epoch;
	struct proto_bytes wrapped;
};

/* A room in a ROOMS listing: the server's word only (clients show what
 * they verified themselves where they have it). */
struct proto_room_item {
	uint8_t room_id[PROTO_ROOM_ID_LEN];
	struct proto_bytes admin;         /* nick */
	uint32_t epoch;
	uint32_t members;
	uint32_t unread;
	uint32_t pending_keys;            /* wrapped secrets waiting for the asker */
};

/* A member whose nickname expired, not yet signed out of the room's chain. */
struct proto_gone_item {
	uint8_t fingerprint[PROTO_FINGERPRINT_LEN];
	struct proto_bytes nick;
};

/* A membership record with its place among the room's messages: position is
 * the id of the last message the server stored before the record (0: none). */
struct proto_chain_item {
	uint64_t position;
	struct proto_bytes record;        /* <= PROTO_RECORD_MAX */
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
	uint8_t puzzle_bits;              /* proof of work asked for; 0: none */
};

struct proto_client_key {
	uint64_t puzzle_nonce;            /* the proof of work (any value at 0 bits) */
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

/* Requests and answers about rooms; see docs/PROTOCOL.md section 8. */
struct proto_signing_key {
	uint32_t request_id;
	uint32_t version;                 /* counts the user's signing keys from 1 */
	uint8_t sign_pub[PROTO_SIGN_PUB_LEN];
	struct proto_bytes sign_cert;
};

/* The user's receiving key: room secrets are wrapped to it. */
struct proto_receive_key {
	uint32_t request_id;
	uint32_t version;                 /* counts the user's receiving keys from 1 */
	uint64_t created_ms;
	uint8_t recv_pub[PROTO_X25519_LEN];
	struct proto_bytes recv_cert;
};

/* The client holds the keys of a room up to an epoch: the server may forget
 * the secrets it kept wrapped for it. */
struct proto_keys_ack {
	uint8_t room_id[PROTO_ROOM_ID_LEN];
	uint32_t epoch;
};

/* The session's user moves to a new identity key: the statement signed by
 * both keys (docs/PROTOCOL.md 9.10). */
struct proto_key_move {
	uint32_t request_id;
	struct proto_bytes new_key;       /* RSA DER */
	uint64_t time_ms;
	struct proto_bytes old_sig;       /* RSA-PSS by the session's (old) key */
	struct proto_bytes new_sig;       /* RSA-PSS by the new key */
};

struct proto_request {                /* OK, ROOMS_LIST: just the id */
	uint32_t request_id;
};

struct proto_users_get {
	uint32_t request_id;
	struct proto_list nicks;          /* PROTO_ITEM_NICK */
};

struct proto_users {
	uint32_t request_id;
	struct proto_list users;          /* PROTO_ITEM_USER */
};

struct proto_room_create {
	uint32_t request_id;
	uint8_t room_id[PROTO_ROOM_ID_LEN];
	struct proto_bytes title_ct;
	struct proto_list records;        /* PROTO_ITEM_BLOB: create, then adds */
	struct proto_list keys;           /* PROTO_ITEM_WRAPPED, epoch 0 */
};

struct proto_rooms {
	uint32_t request_id;
	struct proto_list rooms;          /* PROTO_ITEM_ROOM */
};

struct proto_room_ref {               /* ROOM_JOIN, ROOM_DISCONNECT, JOIN_DONE,
					 ROOM_FETCH, REKEY_OWED (request_id 0) */
	uint32_t request_id;
	uint8_t room_id[PROTO_ROOM_ID_LEN];
};

struct proto_room_state {
	uint32_t request_id;
	uint8_t room_id[PROTO_ROOM_ID_LEN];
	struct proto_bytes title_ct;      /* of the current epoch */
	struct proto_list records;        /* PROTO_ITEM_CHAIN: the whole chain */
	struct proto_list users;          /* PROTO_ITEM_USER: everyone the chain names */
	struct proto_list keys;           /* PROTO_ITEM_WRAPPED: the asker's keys */
	struct proto_list gone;           /* PROTO_ITEM_GONE: members whose nickname
					     expired, not yet signed out */
	uint32_t backlog;                 /* ROOM_MSGs that follow before JOIN_DONE */
};

/* The first part of a long USERS or ROOM_STATE answer: the answer's own
 * records and users follow these (docs/PROTOCOL.md section 8). */
struct proto_part {
	uint32_t request_id;
	struct proto_list records;        /* PROTO_ITEM_CHAIN */
	struct proto_list users;          /* PROTO_ITEM_USER */
};

struct proto_room_msg {
	uint8_t room_id[PROTO_ROOM_ID_LEN];
	uint64_t msg_id;                  /* per room, from 1 */
	uint64_t server_ts_ms;
	struct proto_bytes envelope;      /* proto/room.h */
};

struct proto_msg_send {
	uint32_t request_id;
	struct proto_bytes envelope;
};

struct proto_sent {
	uint32_t request_id;
	uint8_t room_id[PROTO_ROOM_ID_LEN];
	uint64_t msg_id;
	uint64_t server_ts_ms;
};

struct proto_room_record {            /* a membership change, to the members */
	uint8_t room_id[PROTO_ROOM_ID_LEN];
	uint64_t position;                /* as in struct proto_chain_item */
	struct proto_bytes record;
	struct proto_list users;          /* PROTO_ITEM_USER: its actor and subject */
	struct proto_list keys;           /* PROTO_ITEM_WRAPPED: the recipient's key of a
					     new epoch (none if the epoch is unchanged) */
};

/* ADD, KICK and REKEY start an epoch: records, the new title and key per member. */
struct proto_room_rekey {             /* ROOM_ADD and ROOM_KICK (one record), ROOM_REKEY */
	uint32_t request_id;
	uint8_t room_id[PROTO_ROOM_ID_LEN];
	struct proto_list records;        /* PROTO_ITEM_BLOB */
	struct proto_bytes title_ct;      /* under the new epoch's key */
	struct proto_list keys;           /* PROTO_ITEM_WRAPPED: the new epoch, every member */
};

struct proto_room_read {              /* the client has handled up to msg_id */
	uint8_t room_id[PROTO_ROOM_ID_LEN];
	uint64_t msg_id;
};

struct proto_room_leave {
	uint32_t request_id;
	uint8_t room_id[PROTO_ROOM_ID_LEN];
	struct proto_bytes record;        /* the signed leave record */
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
		struct proto_signing_key signing_key;
		struct proto_request request;     /* OK, ROOMS_LIST */
		struct proto_users_get users_get;
		struct proto_users users;
		struct proto_room_create room_create;
		struct proto_rooms rooms;
		struct proto_room_ref room_ref;   /* ROOM_JOIN, ROOM_DISCONNECT, JOIN_DONE */
		struct proto_room_state room_state;
		struct proto_part part;
		struct proto_room_msg room_msg;
		struct proto_msg_send msg_send;
		struct proto_sent sent;
		struct proto_room_record room_record;
		struct proto_room_leave room_leave;   /* ROOM_LEAVE, ROOM_ADMIN */
		struct proto_room_rekey room_rekey;   /* ROOM_ADD, ROOM_KICK, ROOM_REKEY */
		struct proto_room_read room_read;
		struct proto_receive_key receive_key;
		struct proto_keys_ack keys_ack;
		struct proto_key_move key_move;
		/* ROOM_FETCH and REKEY_OWED use room_ref */
	} u;
};

/* Decodes exactly len bytes into out (views point into p). */
cc_err proto_msg_decode(const uint8_t *p, size_t len, struct proto_msg *out);
/* Appends the encoding of m to out; checks the same caps as decoding. */
cc_err proto_msg_encode(const struct proto_msg *m, struct buf *out);
/* The message's name for logs ("client_hello"), or NULL if unknown. */
const char *proto_type_name(uint8_t type);

/* The request_id of a request or answer, 0 for messages without one. */
uint32_t proto_msg_request_id(const struct proto_msg *m);
/* Appends one encoded item of the kind to raw. */
cc_err proto_item_encode(enum proto_item_kind kind, const void *item, struct buf *raw);
void proto_list_iter_init(struct proto_list_iter *it, const struct proto_list *list,
			  enum proto_item_kind kind);
/* CC_OK with the next item in *item (views into the list), CC_ERR_NOT_FOUND
 * at the end. */
cc_err proto_list_next(struct proto_list_iter *it, void *item);

/* 1 if s (n bytes) is a valid nickname: 1..32 of [A-Za-z0-9_.-]. */
int proto_nick_valid(const uint8_t *s, size_t n);
/* 1 if s (n bytes) is well-formed UTF-8 with no NUL and no overlongs/surrogates. */
int proto_utf8_valid(const uint8_t *s, size_t n);
/* A view of a C string. */
struct proto_bytes proto_bytes_str(const char *s);

#endif
