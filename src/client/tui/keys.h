/* Keys from the terminal's bytes: UTF-8 characters, control keys, Alt
 * (ESC and a key), the escape sequences of xterm and its kin (arrows,
 * Home/End, PgUp/PgDn, Delete, with Ctrl/Alt modifiers), and bracketed
 * paste (ESC [200~ ... ESC [201~) as one piece of text that no key inside
 * can act on. The UI reads the terminal itself rather than through curses
 * so that a paste is never taken for typing. No curses here.
 *
 * Bytes come in pieces as read; a sequence cut at the end of one piece
 * waits for the next, or for keys_flush() when the caller's short timer
 * says nothing more came (a lone ESC is then the Esc key). */
#ifndef CC_CLIENT_TUI_KEYS_H
#define CC_CLIENT_TUI_KEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The largest paste taken: 64 lines of a message's 16 KiB. */
#define KEYS_PASTE_MAX (1024 * 1024)

enum key_sym {
	KEY_SYM_CHAR,       /* cp, and its UTF-8 in text/len */
	KEY_SYM_CTRL,       /* Ctrl and cp: 'a'..'z', '@', '\\', ']', '^', '_' */
	KEY_SYM_ENTER,
	KEY_SYM_TAB,
	KEY_SYM_BACKTAB,
	KEY_SYM_BACKSPACE,
	KEY_SYM_DELETE,
	KEY_SYM_INSERT,
	KEY_SYM_LEFT,
	KEY_SYM_RIGHT,
	KEY_SYM_UP,
	KEY_SYM_DOWN,
	KEY_SYM_HOME,
	KEY_SYM_END,
	KEY_SYM_PGUP,
	KEY_SYM_PGDN,
	KEY_SYM_ESC,
	KEY_SYM_FKEY,       /* cp: 1..20 */
	KEY_SYM_PASTE,      /* text/len: what was pasted, as it came */
	KEY_SYM_PASTE_TOO_BIG,  /* a paste over KEYS_PASTE_MAX; len: its size */
	KEY_SYM_INVALID,    /* a byte that is not UTF-8: text[0] */
	KEY_SYM_UNKNOWN,    /* an escape sequence not known here: text/len */
};

struct key {
	enum key_sym sym;
	bool alt, ctrl, shift;
	uint32_t cp;
	const char *text;   /* valid during the callback only */
	size_t len;
};

typedef void (*keys_fn)(void *ctx, const struct key *k);

struct keys {
	unsigned char pend[64];  /* the start of a sequence not complete yet */
	size_t npend;
	bool in_paste;
	char *paste;             /* what a paste brought so far */
	size_t paste_len, paste_cap;
	size_t paste_total;      /* bytes, counting those past the cap */
};

void keys_init(struct keys *k);
void keys_free(struct keys *k);
/* Decodes n bytes, calling fn for each key complete. True if some bytes
 * wait for more (the caller then arms a short timer for keys_flush). */
bool keys_feed(struct keys *k, const char *s, size_t n, keys_fn fn, void *ctx);
/* Nothing more came: what waits is taken as it is (a lone ESC is Esc, a
 * cut UTF-8 sequence is invalid bytes). A paste still open stays open. */
void keys_flush(struct keys *k, keys_fn fn, void *ctx);
/* A paste whose end marker never came (a terminal that lost it): ends it
 * with what came, so typing works again. */
bool keys_in_paste(const struct keys *k);
void keys_end_paste(struct keys *k, keys_fn fn, void *ctx);

#endif
