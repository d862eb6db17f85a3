#include "util/err.h"

static const struct {
	const char *code;
	const char *text;
} cc_err_table[CC_ERR_COUNT_] = {
	[CC_OK] = {"ok", "success"},
	[CC_ERR_NOMEM] = {"no_memory", "out of memory"},
	[CC_ERR_TRUNCATED] = {"truncated", "input is truncated"},
	[CC_ERR_TOO_LARGE] = {"too_large", "a length exceeds its limit"},
	[CC_ERR_TRAILING] = {"trailing_bytes", "unexpected bytes after the message"},
	[CC_ERR_BAD_TYPE] = {"bad_type", "unknown message type"},
	[CC_ERR_MALFORMED] = {"malformed", "malformed input"},
	[CC_ERR_CRYPTO] = {"crypto_error", "cryptographic operation failed"},
	[CC_ERR_AUTH] = {"auth_failed", "authentication failed"},
	[CC_ERR_IO] = {"io_error", "input/output error"},
	[CC_ERR_STORE] = {"store_error", "storage error"},
	[CC_ERR_NOT_FOUND] = {"not_found", "not found"},
	[CC_ERR_EXISTS] = {"exists", "already exists"},
	[CC_ERR_VERSION] = {"bad_version", "unsupported protocol version"},
	[CC_ERR_NICK_TAKEN] = {"nick_taken", "nickname is taken by another key"},
	[CC_ERR_BAD_NICK] = {"bad_nick", "nickname must be 1 to 32 characters of A-Z a-z 0-9 _ . -"},
	[CC_ERR_STATE] = {"bad_state", "not allowed in this state"},
	[CC_ERR_LIMIT] = {"limit", "a server limit was reached"},
	[CC_ERR_KEY_CHANGED] = {"key_changed", "a pinned key has changed"},
	[CC_ERR_TIMEOUT] = {"timeout", "timed out"},
	[CC_ERR_CLOSED] = {"closed", "connection closed"},
	[CC_ERR_USAGE] = {"usage", "bad usage"},
	[CC_ERR_INTERNAL] = {"internal", "internal error"},
	[CC_ERR_UNKNOWN_USER] = {"unknown_user", "no user has that nickname"},
	[CC_ERR_NO_SUCH_ROOM] = {"no_such_room", "no such room"},
	[CC_ERR_NOT_ADMIN] = {"not_admin", "only the room's admin may do that"},
	[CC_ERR_STALE_EPOCH] = {"stale_epoch", "the room has a newer key"},
	[CC_ERR_MUST_TRANSFER_ADMIN] = {"must_transfer_admin", "hand the admin role to another member first"},
	[CC_ERR_TOO_LONG] = {"too_long", "message too long"},
	[CC_ERR_FORBIDDEN] = {"forbidden", "not allowed"},
	[CC_ERR_SECURITY] = {"security", "a security check failed"},
	[CC_ERR_REPLAYED] = {"replayed", "a message replayed or out of order"},
	[CC_ERR_OUTDATED] = {"outdated", "older than a version already known"},
	[CC_ERR_EPOCH_CLOSED] = {"epoch_closed", "a member left: the room needs a new key first"},
	[CC_ERR_BAD_PASSPHRASE] = {"bad_passphrase", "the passphrase does not open this home's keys"},
	[CC_ERR_REVOKED] = {"revoked", "the key was replaced by its owner"},
	[CC_ERR_PUZZLE] = {"puzzle", "the handshake's proof of work is wrong or too hard"},
};

const char *cc_err_str(cc_err err)
{
	if ((unsigned)err >= CC_ERR_COUNT_ || cc_err_table[err].text == 0)
		return "unknown error";
	return cc_err_table[err].text;
}

const char *cc_err_code(cc_err err)
{
	if ((unsigned)err >= CC_ERR_COUNT_ || cc_err_table[err].code == 0)
		return "unknown";
	return cc_err_table[err].code;
}
