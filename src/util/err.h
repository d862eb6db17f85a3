/* The one error enum of Crypto Cat. Values are part of the wire protocol
 * (ERROR messages carry them as u16), so never renumber: only append. */
#ifndef CC_UTIL_ERR_H
#define CC_UTIL_ERR_H

typedef enum cc_err {
	CC_OK = 0,
	CC_ERR_NOMEM = 1,          /* allocation failed */
	CC_ERR_TRUNCATED = 2,      /* input ended before a field did */
	CC_ERR_TOO_LARGE = 3,      /* a length over its cap */
	CC_ERR_TRAILING = 4,       /* bytes left after a complete message */
	CC_ERR_BAD_TYPE = 5,       /* unknown message type */
	CC_ERR_MALFORMED = 6,      /* a field that does not parse */
	CC_ERR_CRYPTO = 7,         /* a crypto library failure */
	CC_ERR_AUTH = 8,           /* a tag, signature or key check failed */
	CC_ERR_IO = 9,             /* read/write/socket failure */
	CC_ERR_STORE = 10,         /* database failure */
	CC_ERR_NOT_FOUND = 11,
	CC_ERR_EXISTS = 12,
	CC_ERR_VERSION = 13,       /* unsupported protocol version */
	CC_ERR_NICK_TAKEN = 14,    /* nickname bound to another key */
	CC_ERR_BAD_NICK = 15,      /* nickname not 1..32 of [A-Za-z0-9_.-] */
	CC_ERR_STATE = 16,         /* message not allowed in this state */
	CC_ERR_LIMIT = 17,         /* a server limit was reached */
	CC_ERR_KEY_CHANGED = 18,   /* a pinned key changed */
	CC_ERR_TIMEOUT = 19,
	CC_ERR_CLOSED = 20,        /* peer closed the connection */
	CC_ERR_USAGE = 21,         /* bad command line or command */
	CC_ERR_INTERNAL = 22,      /* a bug: should never be seen */
	CC_ERR_UNKNOWN_USER = 23,  /* no user has that nickname */
	CC_ERR_NO_SUCH_ROOM = 24,  /* no room, or not a member: the same answer */
	CC_ERR_NOT_ADMIN = 25,     /* only the room's admin may do that */
	CC_ERR_STALE_EPOCH = 26,   /* the room has a newer key: refresh, then retry */
	CC_ERR_MUST_TRANSFER_ADMIN = 27, /* the admin must hand the role over first */
	CC_ERR_TOO_LONG = 28,      /* message text over its limit */
	CC_ERR_FORBIDDEN = 29,     /* the session may not do that */
	CC_ERR_SECURITY = 30,      /* a signature, chain or key check failed */
	CC_ERR_REPLAYED = 31,      /* a message number already used */
	CC_ERR_OUTDATED = 32,      /* older than one already known (a key's version) */
	CC_ERR_EPOCH_CLOSED = 33,  /* a member left: the room needs a new key first */
	CC_ERR_BAD_PASSPHRASE = 34, /* the passphrase is wrong, missing, or not wanted */
	CC_ERR_REVOKED = 35,       /* the key was replaced by its owner: never again */
	CC_ERR_PUZZLE = 36,        /* the handshake's proof of work: wrong, or too hard */
	CC_ERR_COUNT_
} cc_err;

/* A sentence for people: "nickname is taken". */
const char *cc_err_str(cc_err err);
/* A stable snake_case code for programs: "nick_taken". */
const char *cc_err_code(cc_err err);

#endif
