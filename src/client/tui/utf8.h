/* UTF-8 for the full-screen UI: code points, the clusters the cursor moves
 * over, and how each cluster is drawn in terminal columns. No curses here,
 * so the line editor and the layout can be unit-tested.
 *
 * A cluster is one code point that takes space (or an invalid byte, or a
 * control) followed by the zero-width code points that go with it
 * (combining marks, variation selectors, ZWJ): the cursor never stops
 * inside one, and never inside a UTF-8 sequence. Column widths are the C
 * library's wcwidth() under the process's LC_CTYPE (a UTF-8 locale). */
#ifndef CC_CLIENT_TUI_UTF8_H
#define CC_CLIENT_TUI_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <wchar.h>

/* The most code points drawn in one cell: a base and 4 marks (ncurses'
 * CCHARW_MAX is 5); further marks stay in the text but are not drawn. */
#define TUI_GLYPH_WC_MAX 5

/* Decodes one code point at s (n > 0 bytes): its length (1..4), or 0 if the
 * bytes there are not well-formed UTF-8 (overlong, surrogate, out of range,
 * cut short). */
size_t tui_utf8_decode(const char *s, size_t n, uint32_t *cp);

/* True for what is never drawn as such: C0 and C1 controls, DEL, and the
 * bidirectional and line-separator controls display_escape() escapes. */
bool tui_utf8_is_control(uint32_t cp);

/* The length in bytes of the cluster at s (n > 0): at least 1, at most n. */
size_t tui_utf8_cluster_len(const char *s, size_t n);
/* The start of the cluster before pos (0 < pos <= n), in s[0..n). */
size_t tui_utf8_cluster_prev(const char *s, size_t n, size_t pos);

/* How one cluster is drawn: either the code points themselves in cols
 * columns (1 or 2), or, when escaped, the ASCII text esc in reverse video
 * (an invalid byte as \xNN, a control as ^X or \uNNNN, a code point the
 * terminal cannot draw as \uNNNN). A cluster that starts with a mark gets a
 * dotted circle (U+25CC) as its base, so it is seen. */
struct tui_glyph {
	int cols;
	bool escaped;
	size_t nwc;
	wchar_t wc[TUI_GLYPH_WC_MAX];
	char esc[16];
};
void tui_glyph_of(const char *s, size_t len, struct tui_glyph *g);

/* Columns the first n bytes of s take when drawn glyph by glyph. */
int tui_utf8_cols(const char *s, size_t n);

/* Whether a cluster belongs to a word for Alt-B/Alt-F: anything but
 * white space and ASCII punctuation (letters, digits, CJK, emoji). */
bool tui_utf8_is_word(const char *s, size_t len);
/* Whether a cluster is white space (Ctrl-W deletes back to it). */
bool tui_utf8_is_space(const char *s, size_t len);

#endif
