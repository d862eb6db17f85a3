#include "util/display.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Code points that change how the text around them is laid out. */
static int display_is_format_control(uint32_t cp)
{
	return cp == 0x061c || cp == 0x200e || cp == 0x200f || (cp >= 0x202a && cp <= 0x202e) ||
	       (cp >= 0x2066 && cp <= 0x2069) || cp == 0x2028 || cp == 0x2029;
}

/* Decodes one UTF-8 sequence at s (n > 0 bytes left): its length, or 0 if it
 * is not well-formed (overlong, surrogate, out of range, cut short). */
static size_t display_utf8_next(const unsigned char *s, size_t n, uint32_t *cp)
{
	size_t len;
	uint32_t min;
	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if ((s[0] & 0xe0) == 0xc0)
		len = 2, *cp = s[0] & 0x1f, min = 0x80;
	else if ((s[0] & 0xf0) == 0xe0)
		len = 3, *cp = s[0] & 0x0f, min = 0x800;
	else if ((s[0] & 0xf8) == 0xf0)
		len = 4, *cp = s[0] & 0x07, min = 0x10000;
	else
		return 0;
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		*cp = *cp << 6 | (s[i] & 0x3f);
	}
	if (*cp < min || *cp > 0x10ffff || (*cp >= 0xd800 && *cp <= 0xdfff))
		return 0;
	return len;
}

char *display_escape(const char *s, size_t n, const char *cont)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t cont_len = cont ? strlen(cont) : 0;
	/* Worst cases: 6 bytes out per byte in (\u0080 from 2 bytes is less),
	 * or a newline and the continuation mark. */
	size_t per = 6 > 1 + cont_len ? 6 : 1 + cont_len;
	if (n > (SIZE_MAX - 1) / per)
		return NULL;
	char *out = malloc(n * per + 1), *o = out;
	if (!out)
		return NULL;
	for (size_t i = 0; i < n;) {
		uint32_t cp;
		size_t len = display_utf8_next(p + i, n - i, &cp);
		if (len == 0) {
			o += sprintf(o, "\\x%02x", p[i]);
			i++;
			continue;
		}
		if (cp == '\n' && cont) {
			*o++ = '\n';
			memcpy(o, cont, cont_len);
			o += cont_len;
		} else if (cp == '\\') {
			*o++ = '\\';
			*o++ = '\\';
		} else if (cp == '\t' || cp == '\r' || cp == '\n') {
			*o++ = '\\';
			*o++ = cp == '\t' ? 't' : cp == '\r' ? 'r' : 'n';
		} else if (cp < 0x20 || cp == 0x7f) {
			o += sprintf(o, "\\x%02x", (unsigned)cp);
		} else if ((cp >= 0x80 && cp <= 0x9f) || display_is_format_control(cp)) {
			o += sprintf(o, "\\u%04x", (unsigned)cp);
		} else {
			memcpy(o, p + i, len);
			o += len;
		}
		i += len;
	}
	*o = '\0';
	return out;
}
