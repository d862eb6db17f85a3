#include "util/conffile.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Keys and values are echoed in messages at most this long. */
#define ECHO_MAX 64

static void why_set(char *why, size_t why_len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void why_set(char *why, size_t why_len, const char *fmt, ...)
{
	va_list ap;
	if (!why || !why_len)
		return;
	va_start(ap, fmt);
	vsnprintf(why, why_len, fmt, ap);
	va_end(ap);
}

static int is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/* P[0..*N) without the blanks around it. */
static const char *trim(const char *p, size_t *n)
{
	while (*n && is_blank(*p)) {
		p++;
		(*n)--;
	}
	while (*n && is_blank(p[*n - 1]))
		(*n)--;
	return p;
}

static const struct option *option_find(const struct option *options, const char *name,
					size_t n)
{
	for (const struct option *o = options; o->name; o++)
		if (strlen(o->name) == n && memcmp(o->name, name, n) == 0)
			return o;
	return NULL;
}

/* "--" PREFIX NAME. */
static char *arg_make(const char *prefix, const char *name)
{
	size_t plen = strlen(prefix), nlen = strlen(name);
	char *s = malloc(2 + plen + nlen + 1);
	if (!s)
		return NULL;
	memcpy(s, "--", 2);
	memcpy(s + 2, prefix, plen);
	memcpy(s + 2 + plen, name, nlen + 1);
	return s;
}

/* "--" NAME "=" HEAD and the VLEN bytes of VALUE. */
static char *arg_make2(const char *name, const char *head, const char *value, size_t vlen)
{
	size_t nlen = strlen(name), hlen = strlen(head);
	char *s = malloc(2 + nlen + 1 + hlen + vlen + 1), *p = s;
	if (!s)
		return NULL;
	memcpy(p, "--", 2);
	p += 2;
	memcpy(p, name, nlen);
	p += nlen;
	*p++ = '=';
	memcpy(p, head, hlen);
	p += hlen;
	memcpy(p, value, vlen);
	p[vlen] = '\0';
	return s;
}

int conffile_parse_bool(const char *s)
{
	static const char *const on[] = {"on", "yes", "true"}, *const off[] = {"off", "no", "false"};
	for (size_t i = 0; s && i < 3; i++) {
		if (strcasecmp(s, on[i]) == 0)
			return 1;
		if (strcasecmp(s, off[i]) == 0)
			return 0;
	}
	return -1;
}

/* One line (without its newline): its argument in *ARG (NULL for a blank
 * line or a comment). CC_ERR_USAGE with WHY for a bad line. */
static cc_err line_parse(const char *name, unsigned lineno, const char *line, size_t n,
			 const struct option *options, int key_bit, char **arg, char *why,
			 size_t why_len)
{
	*arg = NULL;
	if (memchr(line, '\0', n)) {
		why_set(why, why_len, "%s:%u: a NUL byte in the line", name, lineno);
		return CC_ERR_USAGE;
	}
	line = trim(line, &n);
	if (n == 0 || line[0] == '#')
		return CC_OK;
	const char *eq = memchr(line, '=', n);
	if (!eq) {
		why_set(why, why_len, "%s:%u: expected key = value, not '%.*s'", name, lineno,
			(int)(n < ECHO_MAX ? n : ECHO_MAX), line);
		return CC_ERR_USAGE;
	}
	size_t klen = (size_t)(eq - line), vlen = n - klen - 1;
	const char *key = trim(line, &klen), *value = trim(eq + 1, &vlen);
	int kshow = (int)(klen < ECHO_MAX ? klen : ECHO_MAX);
	if (klen == 0) {
		why_set(why, why_len, "%s:%u: no key before '='", name, lineno);
		return CC_ERR_USAGE;
	}
	const struct option *o = option_find(options, key, klen);
	if (!o || !(o->val & key_bit)) {
		const struct option *pos = NULL;
		if (klen > 3 && memcmp(key, "no-", 3) == 0)
			pos = option_find(options, key + 3, klen - 3);
		if (pos && (pos->val & key_bit) && pos->has_arg == no_argument)
			why_set(why, why_len, "%s:%u: unknown key '%.*s' (write %s = off)", name,
				lineno, kshow, key, pos->name);
		else if (o)
			why_set(why, why_len, "%s:%u: '%.*s' is an option of the command line only",
				name, lineno, kshow, key);
		else
			why_set(why, why_len, "%s:%u: unknown key '%.*s'", name, lineno, kshow, key);
		return CC_ERR_USAGE;
	}
	if (vlen == 0) {
		why_set(why, why_len, "%s:%u: no value for '%s'", name, lineno, o->name);
		return CC_ERR_USAGE;
	}
	if (o->has_arg != no_argument) {
		/* What the shell does on a command line: "~/x" is $HOME/x. */
		if (value[0] == '~' && (vlen == 1 || value[1] == '/')) {
			const char *home = getenv("HOME");
			if (!home || !*home) {
				why_set(why, why_len, "%s:%u: '~' in the value, but HOME is not set",
					name, lineno);
				return CC_ERR_USAGE;
			}
			*arg = arg_make2(o->name, home, value + 1, vlen - 1);
		} else {
			*arg = arg_make2(o->name, "", value, vlen);
		}
		return *arg ? CC_OK : CC_ERR_NOMEM;
	}
	/* A boolean: its value is checked here, where the line is known. */
	char word[8] = "";
	if (vlen < sizeof word)
		memcpy(word, value, vlen);
	int on = conffile_parse_bool(word);
	if (on < 0) {
		why_set(why, why_len, "%s:%u: '%s' is on or off (yes/no, true/false), not '%.*s'",
			name, lineno, o->name, (int)(vlen < ECHO_MAX ? vlen : ECHO_MAX), value);
		return CC_ERR_USAGE;
	}
	if (!on) {
		char neg[128];
		int w = snprintf(neg, sizeof neg, "no-%s", o->name);
		if (w < 0 || (size_t)w >= sizeof neg || !option_find(options, neg, (size_t)w)) {
			why_set(why, why_len, "%s:%u: '%s' cannot be turned off", name, lineno,
				o->name);
			return CC_ERR_USAGE;
		}
	}
	*arg = arg_make(on ? "" : "no-", o->name);
	return *arg ? CC_OK : CC_ERR_NOMEM;
}

void conffile_args_free(struct conffile_args *a)
{
	if (!a)
		return;
	for (int i = 1; a->argv && i <= a->nfile; i++)
		free(a->argv[i]);
	free(a->argv);
	free(a->lines);
	free(a->path);
	memset(a, 0, sizeof *a);
}

cc_err conffile_parse(const char *name, const char *text, size_t len,
		      const struct option *options, int key_bit, int argc, char **argv,
		      struct conffile_args *out, char *why, size_t why_len)
{
	cc_err err = CC_ERR_NOMEM;
	size_t nlines = 1;

	memset(out, 0, sizeof *out);
	if (argc < 1)
		return CC_ERR_USAGE;
	for (size_t i = 0; i < len; i++)
		nlines += text[i] == '\n';
	/* At most one argument a line, then the command line and the NULL. */
	out->argv = calloc(nlines + (size_t)argc + 1, sizeof *out->argv);
	out->lines = calloc(nlines, sizeof *out->lines);
	if (name && !(out->path = strdup(name)))
		goto fail;
	if (!out->argv || !out->lines)
		goto fail;
	out->argv[0] = argv[0];
	const char *p = text, *end = text + len;
	for (unsigned lineno = 1; p < end; lineno++) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *eol = nl ? nl : end;
		char *arg;
		if ((err = line_parse(name, lineno, p, (size_t)(eol - p), options, key_bit, &arg, why,
				      why_len)))
			goto fail;
		if (arg) {
			out->lines[out->nfile] = lineno;
			out->argv[1 + out->nfile++] = arg;
		}
		p = nl ? nl + 1 : end;
	}
	for (int i = 1; i < argc; i++)
		out->argv[1 + out->nfile + i - 1] = argv[i];
	out->argc = 1 + out->nfile + argc - 1;
	return CC_OK;
fail:
	if (err == CC_ERR_NOMEM)
		why_set(why, why_len, "%s", cc_err_str(err));
	conffile_args_free(out);
	return err;
}

cc_err conffile_load(const char *path, bool required, const struct option *options,
		     int key_bit, int argc, char **argv, struct conffile_args *out,
		     char *why, size_t why_len)
{
	memset(out, 0, sizeof *out);
	FILE *f = fopen(path, "r");
	if (!f) {
		int e = errno;
		if (e == ENOENT && !required)
			return conffile_parse(NULL, "", 0, options, key_bit, argc, argv, out, why,
					      why_len);
		why_set(why, why_len, "%s: %s", path, strerror(e));
		return e == ENOENT ? CC_ERR_NOT_FOUND : CC_ERR_IO;
	}
	/* One byte over the cap tells a file that is too large. */
	char *text = malloc(CONFFILE_MAX_BYTES + 1);
	if (!text) {
		fclose(f);
		why_set(why, why_len, "%s", cc_err_str(CC_ERR_NOMEM));
		return CC_ERR_NOMEM;
	}
	size_t len = fread(text, 1, CONFFILE_MAX_BYTES + 1, f);
	int failed = ferror(f), e = errno;
	fclose(f);
	cc_err err;
	if (failed) {
		why_set(why, why_len, "%s: %s", path, strerror(e));
		err = CC_ERR_IO;
	} else if (len > CONFFILE_MAX_BYTES) {
		why_set(why, why_len, "%s: larger than %u bytes", path, CONFFILE_MAX_BYTES);
		err = CC_ERR_TOO_LARGE;
	} else {
		err = conffile_parse(path, text, len, options, key_bit, argc, argv, out, why,
				     why_len);
	}
	free(text);
	return err;
}

cc_err conffile_for_main(const char *app, int argc, char **argv, const struct option *options,
			 int key_bit, int config_val, const int *skip, struct conffile_args *out,
			 char *why, size_t why_len)
{
	char fallback[4200];
	const char *path = NULL;
	bool skipped = false;
	int opt;

	opterr = 0;
	optind = 0;
	while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
		if (opt == config_val)
			path = optarg;
		for (size_t i = 0; skip && skip[i]; i++)
			skipped |= opt == skip[i];
	}
	optind = 0;  /* the next getopt_long starts afresh (glibc) */
	bool required = path != NULL;
	if (!path && conffile_default_path(app, fallback, sizeof fallback) == CC_OK)
		path = fallback;
	if (!path || skipped)
		return conffile_parse(NULL, "", 0, options, key_bit, argc, argv, out, why, why_len);
	return conffile_load(path, required, options, key_bit, argc, argv, out, why, why_len);
}

void conffile_print_keys(FILE *f, const struct option *options, int key_bit, size_t width)
{
	size_t col = 0;
	for (const struct option *o = options; o->name; o++) {
		if (!(o->val & key_bit))
			continue;
		size_t n = strlen(o->name);
		if (col && col + 1 + n > width) {
			fputc('\n', f);
			col = 0;
		}
		fprintf(f, "%s%s", col ? " " : "  ", o->name);
		col += (col ? 1 : 2) + n;
	}
	if (col)
		fputc('\n', f);
}

unsigned conffile_line(const struct conffile_args *a, int i)
{
	return i >= 1 && i <= a->nfile ? a->lines[i - 1] : 0;
}

cc_err conffile_default_path(const char *app, char *out, size_t n)
{
	const char *dir = getenv("XDG_CONFIG_HOME");
	int w;
	/* The XDG spec: a relative path there is ignored. */
	if (dir && dir[0] == '/')
		w = snprintf(out, n, "%s/%s/config", dir, app);
	else if ((dir = getenv("HOME")) && *dir)
		w = snprintf(out, n, "%s/.config/%s/config", dir, app);
	else
		return CC_ERR_NOT_FOUND;
	return w > 0 && (size_t)w < n ? CC_OK : CC_ERR_TOO_LARGE;
}
