/* Keys from the terminal's bytes: see keys.h. */
#define _GNU_SOURCE  /* memmem */
#include "client/tui/keys.h"

#include <stdlib.h>
#include <string.h>

#include "client/tui/utf8.h"

static const char PASTE_END[] = "\x1b[201~";
#define PASTE_END_LEN (sizeof PASTE_END - 1)
/* A CSI sequence longer than this is not one we know. */
#define CSI_MAX 32

void keys_init(struct keys *k)
{
	memset(k, 0, sizeof *k);
}

void keys_free(struct keys *k)
{
	free(k->paste);
	memset(k, 0, sizeof *k);
}

static void emit(keys_fn fn, void *ctx, enum key_sym sym, uint32_t cp, bool alt,
		 const void *text, size_t len)
{
	struct key key = {.sym = sym, .cp = cp, .alt = alt, .text = text, .len = len};
	fn(ctx, &key);
}

static void emit_mod(keys_fn fn, void *ctx, enum key_sym sym, unsigned mod)
{
	/* xterm's modifier parameter: 1 + (shift 1, alt 2, ctrl 4). */
	struct key key = {.sym = sym};
	if (mod > 1) {
		key.shift = (mod - 1) & 1;
		key.alt = (mod - 1) & 2;
		key.ctrl = (mod - 1) & 4;
	}
	fn(ctx, &key);
}

/* ---- pastes ------------------------------------------------------------------- */

static void paste_add(struct keys *k, const unsigned char *s, size_t n)
{
	size_t total = k->paste_total + n;
	if (total < k->paste_total)
		total = SIZE_MAX;
	k->paste_total = total;
	if (total > KEYS_PASTE_MAX || n == 0)
		return;  /* too big: counted, not kept */
	if (k->paste_len + n > k->paste_cap) {
		size_t cap = k->paste_cap ? k->paste_cap : 4096;
		while (cap < k->paste_len + n)
			cap *= 2;
		char *p = realloc(k->paste, cap);
		if (!p) {
			k->paste_total = SIZE_MAX;  /* reported as too big */
			return;
		}
		k->paste = p;
		k->paste_cap = cap;
	}
	memcpy(k->paste + k->paste_len, s, n);
	k->paste_len += n;
}

bool keys_in_paste(const struct keys *k)
{
	return k->in_paste;
}

void keys_end_paste(struct keys *k, keys_fn fn, void *ctx)
{
	if (!k->in_paste)
		return;
	/* Bytes held back as a possible start of the end marker are text. */
	paste_add(k, k->pend, k->npend);
	k->npend = 0;
	k->in_paste = false;
	if (k->paste_total > KEYS_PASTE_MAX)
		emit(fn, ctx, KEY_SYM_PASTE_TOO_BIG, 0, false, NULL, k->paste_total);
	else
		emit(fn, ctx, KEY_SYM_PASTE, 0, false, k->paste ? k->paste : "", k->paste_len);
	free(k->paste);
	k->paste = NULL;
	k->paste_len = k->paste_cap = k->paste_total = 0;
}

/* Inside a paste: everything up to the end marker is text. Returns the
 * bytes used; a possible start of the marker at the end waits. */
static size_t parse_paste(struct keys *k, const unsigned char *s, size_t n, keys_fn fn,
			  void *ctx)
{
	const unsigned char *end = memmem(s, n, PASTE_END, PASTE_END_LEN);
	if (end) {
		paste_add(k, s, (size_t)(end - s));
		k->npend = 0;
		keys_end_paste(k, fn, ctx);
		return (size_t)(end - s) + PASTE_END_LEN;
	}
	size_t keep = 0;
	for (size_t l = PASTE_END_LEN - 1; l > 0; l--) {
		if (l <= n && memcmp(s + n - l, PASTE_END, l) == 0) {
			keep = l;
			break;
		}
	}
	paste_add(k, s, n - keep);
	return n - keep;
}

/* ---- escape sequences ----------------------------------------------------------- */

static const enum key_sym tilde_keys[] = {
	[1] = KEY_SYM_HOME, [2] = KEY_SYM_INSERT, [3] = KEY_SYM_DELETE, [4] = KEY_SYM_END,
	[5] = KEY_SYM_PGUP, [6] = KEY_SYM_PGDN,   [7] = KEY_SYM_HOME,   [8] = KEY_SYM_END,
};

/* F1..F12 as ESC [ N ~. */
static int fkey_of(unsigned p)
{
	static const unsigned codes[] = {11, 12, 13, 14, 15, 17, 18, 19, 20, 21, 23, 24};
	for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
		if (codes[i] == p)
			return (int)i + 1;
	return 0;
}

static void csi_key(struct keys *k, const unsigned char *seq, size_t len, keys_fn fn, void *ctx)
{
	unsigned p[2] = {0, 1};
	size_t np = 0;
	bool digits = false;
	unsigned char final = seq[len - 1];
	/* Parameters: numbers separated by ';' (only the first two matter). */
	for (size_t i = 2; i < len - 1; i++) {
		unsigned char c = seq[i];
		if (c >= '0' && c <= '9') {
			if (np < 2 && p[np] < 100000)
				p[np] = p[np] * 10 + (c - '0');
			digits = true;
		} else if (c == ';') {
			np++;
			if (np < 2)
				p[np] = 0;
		} else {
			goto unknown;
		}
	}
	if (!digits)
		p[0] = 1;
	switch (final) {
	case 'A': emit_mod(fn, ctx, KEY_SYM_UP, p[1]); return;
	case 'B': emit_mod(fn, ctx, KEY_SYM_DOWN, p[1]); return;
	case 'C': emit_mod(fn, ctx, KEY_SYM_RIGHT, p[1]); return;
	case 'D': emit_mod(fn, ctx, KEY_SYM_LEFT, p[1]); return;
	case 'H': emit_mod(fn, ctx, KEY_SYM_HOME, p[1]); return;
	case 'F': emit_mod(fn, ctx, KEY_SYM_END, p[1]); return;
	case 'Z': emit_mod(fn, ctx, KEY_SYM_BACKTAB, 1); return;
	case 'P': case 'Q': case 'R': case 'S':
		emit(fn, ctx, KEY_SYM_FKEY, final - 'P' + 1u, false, NULL, 0);
		return;
	case '~':
		if (p[0] == 200) {
			k->in_paste = true;
			k->paste_len = k->paste_total = 0;
			return;
		}
		if (p[0] == 201)
			return;  /* the end of a paste we did not see begin */
		if (p[0] < sizeof tilde_keys / sizeof tilde_keys[0] && p[0] != 0) {
			emit_mod(fn, ctx, tilde_keys[p[0]], p[1]);
			return;
		}
		if (fkey_of(p[0])) {
			emit(fn, ctx, KEY_SYM_FKEY, (uint32_t)fkey_of(p[0]), false, NULL, 0);
			return;
		}
		break;
	default:
		break;
	}
unknown:
	emit(fn, ctx, KEY_SYM_UNKNOWN, 0, false, seq, len);
}

static void ss3_key(unsigned char c, const unsigned char *seq, keys_fn fn, void *ctx)
{
	switch (c) {
	case 'A': emit_mod(fn, ctx, KEY_SYM_UP, 1); return;
	case 'B': emit_mod(fn, ctx, KEY_SYM_DOWN, 1); return;
	case 'C': emit_mod(fn, ctx, KEY_SYM_RIGHT, 1); return;
	case 'D': emit_mod(fn, ctx, KEY_SYM_LEFT, 1); return;
	case 'H': emit_mod(fn, ctx, KEY_SYM_HOME, 1); return;
	case 'F': emit_mod(fn, ctx, KEY_SYM_END, 1); return;
	case 'M': emit_mod(fn, ctx, KEY_SYM_ENTER, 1); return;
	case 'P': case 'Q': case 'R': case 'S':
		emit(fn, ctx, KEY_SYM_FKEY, c - 'P' + 1u, false, NULL, 0);
		return;
	default:
		emit(fn, ctx, KEY_SYM_UNKNOWN, 0, false, seq, 3);
		return;
	}
}

/* One key that is not an escape sequence, at s (n > 0), with Alt if alt.
 * Returns the bytes used, or 0 if a UTF-8 sequence is cut short and more
 * may come (not when final). */
static size_t plain_key(const unsigned char *s, size_t n, bool alt, bool final, keys_fn fn,
			void *ctx)
{
	unsigned char b = s[0];
	if (b == '\r' || b == '\n') {
		emit(fn, ctx, KEY_SYM_ENTER, 0, alt, NULL, 0);
	} else if (b == '\t') {
		emit(fn, ctx, KEY_SYM_TAB, 0, alt, NULL, 0);
	} else if (b == 0x7f || b == 0x08) {
		emit(fn, ctx, KEY_SYM_BACKSPACE, 0, alt, NULL, 0);
	} else if (b < 0x20) {
		emit(fn, ctx, KEY_SYM_CTRL, b == 0 ? '@' : b < 0x1b ? b + 0x60u : b + 0x40u, alt,
		     NULL, 0);
	} else {
		uint32_t cp;
		size_t l = tui_utf8_decode((const char *)s, n, &cp);
		if (l == 0) {
			/* Cut short, or not UTF-8: wait only if what came could
			 * still become a character. */
			size_t need = (b & 0xe0) == 0xc0 ? 2 : (b & 0xf0) == 0xe0 ? 3
				      : (b & 0xf8) == 0xf0 ? 4 : 0;
			bool could = need > n;
			for (size_t i = 1; could && i < n; i++)
				could = (s[i] & 0xc0) == 0x80;
			if (could && !final)
				return 0;
			emit(fn, ctx, KEY_SYM_INVALID, b, alt, s, 1);
			return 1;
		}
		emit(fn, ctx, KEY_SYM_CHAR, cp, alt, s, l);
		return l;
	}
	return 1;
}

/* One key at s (n > 0): the bytes used, or 0 to wait for more. */
static size_t parse_key(struct keys *k, const unsigned char *s, size_t n, bool final,
			keys_fn fn, void *ctx)
{
	if (s[0] != 0x1b)
		return plain_key(s, n, false, final, fn, ctx);
	if (n == 1) {
		if (!final)
			return 0;
		emit(fn, ctx, KEY_SYM_ESC, 0, false, NULL, 0);
		return 1;
	}
	if (s[1] == '[') {
		size_t i = 2;
		while (i < n && i < CSI_MAX && s[i] >= 0x20 && s[i] <= 0x3f)
			i++;
		if (i == CSI_MAX) {
			emit(fn, ctx, KEY_SYM_UNKNOWN, 0, false, s, i);
			return i;
		}
		if (i == n) {
			if (!final)
				return 0;
			emit(fn, ctx, KEY_SYM_UNKNOWN, 0, false, s, n);
			return n;
		}
		if (s[i] < 0x40 || s[i] > 0x7e) {
			/* Not a sequence after all: drop what it was, keep the rest. */
			emit(fn, ctx, KEY_SYM_UNKNOWN, 0, false, s, i);
			return i;
		}
		csi_key(k, s, i + 1, fn, ctx);
		return i + 1;
	}
	if (s[1] == 'O') {
		if (n == 2) {
			if (!final)
				return 0;
			emit(fn, ctx, KEY_SYM_CHAR, 'O', true, "O", 1);
			return 2;
		}
		ss3_key(s[2], s, fn, ctx);
		return 3;
	}
	if (s[1] == 0x1b) {
		emit(fn, ctx, KEY_SYM_ESC, 0, false, NULL, 0);
		return 1;
	}
	size_t l = plain_key(s + 1, n - 1, true, final, fn, ctx);
	return l ? l + 1 : 0;
}

static void parse(struct keys *k, const unsigned char *s, size_t n, bool final, keys_fn fn,
		  void *ctx)
{
	size_t at = 0;
	while (at < n) {
		size_t used = k->in_paste ? parse_paste(k, s + at, n - at, fn, ctx)
					  : parse_key(k, s + at, n - at, final, fn, ctx);
		if (used == 0)
			break;
		at += used;
	}
	/* What is left is the start of a sequence: at most CSI_MAX bytes. */
	size_t left = n - at;
	if (left > sizeof k->pend)
		left = sizeof k->pend;  /* cannot happen: sequences are shorter */
	memmove(k->pend, s + at, left);
	k->npend = left;
}

bool keys_feed(struct keys *k, const char *s, size_t n, keys_fn fn, void *ctx)
{
	/* Process what waited and the new bytes as one run, a piece at a
	 * time, so that nothing large is copied. */
	while (n > 0) {
		unsigned char run[sizeof k->pend + 4096];
		size_t take = n < 4096 ? n : 4096;
		memcpy(run, k->pend, k->npend);
		memcpy(run + k->npend, s, take);
		size_t len = k->npend + take;
		k->npend = 0;
		parse(k, run, len, false, fn, ctx);
		s += take;
		n -= take;
	}
	return k->npend > 0;
}

void keys_flush(struct keys *k, keys_fn fn, void *ctx)
{
	if (k->in_paste || k->npend == 0)
		return;
	unsigned char run[sizeof k->pend];
	size_t len = k->npend;
	memcpy(run, k->pend, len);
	k->npend = 0;
	parse(k, run, len, true, fn, ctx);
}
