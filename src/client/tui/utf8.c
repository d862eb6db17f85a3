/* UTF-8 clusters and their columns: see utf8.h. */
#include "client/tui/utf8.h"

#include <stdio.h>
#include <string.h>
#include <wctype.h>

size_t tui_utf8_decode(const char *s, size_t n, uint32_t *cp)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t len;
	uint32_t min, c;
	if (p[0] < 0x80) {
		*cp = p[0];
		return 1;
	}
	if ((p[0] & 0xe0) == 0xc0)
		len = 2, c = p[0] & 0x1f, min = 0x80;
	else if ((p[0] & 0xf0) == 0xe0)
		len = 3, c = p[0] & 0x0f, min = 0x800;
	else if ((p[0] & 0xf8) == 0xf0)
		len = 4, c = p[0] & 0x07, min = 0x10000;
	else
		return 0;
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (p[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return len;
}

bool tui_utf8_is_control(uint32_t cp)
{
	return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || cp == 0x061c || cp == 0x200e ||
	       cp == 0x200f || (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069) ||
	       cp == 0x2028 || cp == 0x2029;
}

/* A code point that joins the cluster before it. */
static bool is_zero_width(uint32_t cp)
{
	return !tui_utf8_is_control(cp) && wcwidth((wchar_t)cp) == 0;
}

size_t tui_utf8_cluster_len(const char *s, size_t n)
{
	uint32_t cp;
	size_t len = tui_utf8_decode(s, n, &cp);
	if (len == 0)
		return 1;  /* an invalid byte stands alone */
	if (tui_utf8_is_control(cp))
		return len;
	while (len < n) {
		uint32_t next;
		size_t l = tui_utf8_decode(s + len, n - len, &next);
		if (l == 0 || !is_zero_width(next))
			break;
		len += l;
	}
	return len;
}

size_t tui_utf8_cluster_prev(const char *s, size_t n, size_t pos)
{
	/* Clusters are found from the start: going back from pos cannot tell
	 * a mark's base from the mark before it. Lines are short enough. */
	size_t at = 0, prev = 0;
	if (pos > n)
		pos = n;
	while (at < pos) {
		prev = at;
		at += tui_utf8_cluster_len(s + at, n - at);
	}
	return prev;
}

static void glyph_escape(struct tui_glyph *g, const char *text)
{
	g->escaped = true;
	g->nwc = 0;
	snprintf(g->esc, sizeof g->esc, "%s", text);
	g->cols = (int)strlen(g->esc);
}

void tui_glyph_of(const char *s, size_t len, struct tui_glyph *g)
{
	char esc[16];
	uint32_t cp;
	size_t l = tui_utf8_decode(s, len, &cp);

	memset(g, 0, sizeof *g);
	if (l == 0) {
		snprintf(esc, sizeof esc, "\\x%02x", (unsigned char)s[0]);
		glyph_escape(g, esc);
		return;
	}
	if (cp < 0x20 || cp == 0x7f) {
		snprintf(esc, sizeof esc, "^%c", cp == 0x7f ? '?' : (char)(cp + 0x40));
		glyph_escape(g, esc);
		return;
	}
	int w = tui_utf8_is_control(cp) ? -1 : wcwidth((wchar_t)cp);
	if (w < 0) {
		snprintf(esc, sizeof esc, "\\u%04x", (unsigned)cp);
		glyph_escape(g, esc);
		return;
	}
	if (w == 0) {
		/* A mark with nothing to sit on: give it a base, so it shows. */
		g->wc[g->nwc++] = 0x25cc;
		w = 1;
	}
	g->cols = w;
	for (size_t at = 0; at < len && g->nwc < TUI_GLYPH_WC_MAX;) {
		size_t k = tui_utf8_decode(s + at, len - at, &cp);
		if (k == 0)
			break;
		g->wc[g->nwc++] = (wchar_t)cp;
		at += k;
	}
}

int tui_utf8_cols(const char *s, size_t n)
{
	int cols = 0;
	struct tui_glyph g;
	for (size_t at = 0; at < n;) {
		size_t len = tui_utf8_cluster_len(s + at, n - at);
		tui_glyph_of(s + at, len, &g);
		cols += g.cols;
		at += len;
	}
	return cols;
}

bool tui_utf8_is_space(const char *s, size_t len)
{
	uint32_t cp;
	return tui_utf8_decode(s, len, &cp) && (cp == ' ' || cp == '\t' || iswspace((wint_t)cp));
}

bool tui_utf8_is_word(const char *s, size_t len)
{
	uint32_t cp;
	if (!tui_utf8_decode(s, len, &cp) || tui_utf8_is_space(s, len))
		return false;
	if (cp < 0x80)
		return (cp >= '0' && cp <= '9') || (cp >= 'a' && cp <= 'z') ||
		       (cp >= 'A' && cp <= 'Z') || cp == '_';
	return !tui_utf8_is_control(cp);
}
