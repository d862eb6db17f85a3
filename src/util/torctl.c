/* Tor control replies: torctl.h. */
#include "util/torctl.h"

#include <stdbool.h>
#include <string.h>

/* The end of the line that starts at P (its LF), or NULL if none yet. */
static const char *line_end(const char *p, const char *end)
{
	const char *lf = memchr(p, '\n', (size_t)(end - p));
	return lf;
}

/* Copies [p, q) (CR before q dropped) into the reply's text. */
static const char *keep(struct torctl_reply *out, size_t *at, const char *p, const char *q)
{
	if (q > p && q[-1] == '\r')
		q--;
	size_t n = (size_t)(q - p);
	if (*at + n + 1 > sizeof out->text)
		return NULL;
	char *dst = out->text + *at;
	memcpy(dst, p, n);
	dst[n] = '\0';
	*at += n + 1;
	return dst;
}

cc_err torctl_reply_parse(const char *in, size_t len, struct torctl_reply *out, size_t *used)
{
	const char *p = in, *end = in + len;
	size_t at = 0;
	memset(out, 0, sizeof *out);
	out->status = -1;
	*used = 0;
	if (memchr(in, '\0', len))
		return CC_ERR_MALFORMED;
	for (;;) {
		const char *lf = line_end(p, end);
		if (!lf)
			return len >= TORCTL_REPLY_MAX ? CC_ERR_TOO_LARGE : CC_ERR_TRUNCATED;
		if (lf - p < 4 || p[0] < '2' || p[0] > '6' || p[1] < '0' || p[1] > '9' ||
		    p[2] < '0' || p[2] > '9' || (p[3] != '-' && p[3] != '+' && p[3] != ' '))
			return CC_ERR_MALFORMED;
		size_t body = (size_t)(lf - p) - (lf[-1] == '\r');
		if (memchr(p, '\r', body))
			return CC_ERR_MALFORMED;  /* a CR only ends a line */
		int code = (p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0');
		if (out->status >= 0 && code != out->status)
			return CC_ERR_MALFORMED;
		out->status = code;
		if (out->nlines == TORCTL_LINES_MAX)
			return CC_ERR_TOO_LARGE;
		const char *text = keep(out, &at, p + 4, lf);
		if (!text)
			return CC_ERR_TOO_LARGE;
		out->lines[out->nlines++] = text;
		char kind = p[3];
		p = lf + 1;
		if (kind == ' ') {
			*used = (size_t)(p - in);
			return CC_OK;
		}
		if (kind == '+') {
			/* Data lines up to ".": skipped (nothing we ask for has them). */
			for (;;) {
				lf = line_end(p, end);
				if (!lf)
					return len >= TORCTL_REPLY_MAX ? CC_ERR_TOO_LARGE
								       : CC_ERR_TRUNCATED;
				size_t n = (size_t)(lf - p);
				bool dot = (n == 1 && p[0] == '.') ||
					   (n == 2 && p[0] == '.' && p[1] == '\r');
				p = lf + 1;
				if (dot)
					break;
			}
		}
	}
}

int torctl_value(const char *line, const char *key, char *out, size_t n)
{
	size_t klen = strlen(key);
	const char *p = line;
	while (*p) {
		while (*p == ' ')
			p++;
		const char *word = p;
		if (strncmp(word, key, klen) == 0 && word[klen] == '=') {
			const char *v = word + klen + 1;
			size_t o = 0;
			if (*v == '"') {
				for (v++; *v && *v != '"'; v++) {
					if (*v == '\\') {
						v++;
						if (!*v)
							return -1;
					}
					if (o + 1 >= n)
						return -1;
					out[o++] = *v;
				}
				if (*v != '"')
					return -1;
			} else {
				for (; *v && *v != ' '; v++) {
					if (o + 1 >= n)
						return -1;
					out[o++] = *v;
				}
			}
			out[o] = '\0';
			return 1;
		}
		/* The next word: past a quoted string as a whole. */
		bool quoted = false;
		for (; *p && (quoted || *p != ' '); p++) {
			if (*p == '\\' && quoted && p[1])
				p++;
			else if (*p == '"')
				quoted = !quoted;
		}
	}
	return 0;
}

cc_err torctl_quote(const char *s, char *out, size_t n)
{
	size_t o = 0;
	if (n < 3)
		return CC_ERR_TOO_LARGE;
	out[o++] = '"';
	for (; *s; s++) {
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return CC_ERR_MALFORMED;
		if (*s == '"' || *s == '\\') {
			if (o + 1 >= n)
				return CC_ERR_TOO_LARGE;
			out[o++] = '\\';
		}
		if (o + 2 >= n)
			return CC_ERR_TOO_LARGE;
		out[o++] = *s;
	}
	out[o++] = '"';
	out[o] = '\0';
	return CC_OK;
}
