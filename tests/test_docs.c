/* The manual pages and the README cannot drift from the programs:
 *
 *   test_client_page   every option `cryptocat --help` shows is in
 *                      cryptocat(1) and the README; every option the page's
 *                      OPTIONS section describes is in --help; every command
 *                      of /help (the shared table and the full-screen UI's)
 *                      has its entry in the page's COMMANDS section
 *   test_server_page   the same for `cryptocat-server --help` and
 *                      cryptocat-server(8)
 *   test_pages_render  groff renders both pages without a warning, on the
 *                      devices man uses (utf8, latin1, ascii)
 *
 * and each page's title line names the version that --version prints. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/cli/cli.h"
#include "client/tui/internal.h"
#include "support/itest.h"

#define MAN_DIR CC_SOURCE_DIR "/docs/man"

/* What COMMAND printed on its standard output (caller frees). */
static char *run_output(const char *command)
{
	FILE *p = popen(command, "r");
	assert_non_null(p);
	size_t len = 0, cap = 4096;
	char *out = malloc(cap);
	assert_non_null(out);
	size_t n;
	while ((n = fread(out + len, 1, cap - len - 1, p)) > 0) {
		len += n;
		if (cap - len < 2) {
			out = realloc(out, cap *= 2);
			assert_non_null(out);
		}
	}
	out[len] = '\0';
	int status = pclose(p);
	if (status != 0)
		fail_msg("'%s' exited with status %d", command, status);
	return out;
}

static char *read_text(const char *path)
{
	char *text = itest_read_file(path, NULL);
	if (!text)
		fail_msg("cannot read %s", path);
	return text;
}

/* The options "--name" of a --help text, as a NULL-terminated array of
 * names without the dashes (caller frees the array and its strings). */
static char **help_options(const char *help)
{
	size_t n = 0;
	char **names = calloc(256, sizeof *names);
	assert_non_null(names);
	for (const char *p = help; (p = strstr(p, "--"));) {
		p += 2;
		size_t len = strspn(p, "abcdefghijklmnopqrstuvwxyz0123456789-");
		while (len && p[len - 1] == '-')
			len--;
		if (!len)
			continue;
		char *name = strndup(p, len);
		int seen = 0;
		for (size_t i = 0; i < n; i++)
			seen |= strcmp(names[i], name) == 0;
		if (seen || n == 255)
			free(name);
		else
			names[n++] = name;
		p += len;
	}
	assert_true(n > 5);
	return names;
}

static void free_names(char **names)
{
	for (size_t i = 0; names[i]; i++)
		free(names[i]);
	free(names);
}

/* 1 if roff TEXT has option NAME written "\-\-na\-me", not followed by more
 * of a longer option's name. */
static int page_has_option(const char *text, const char *name)
{
	char roff[128] = "\\-\\-";
	size_t k = strlen(roff);
	for (const char *p = name; *p && k + 3 < sizeof roff; p++) {
		if (*p == '-')
			roff[k++] = '\\';
		roff[k++] = *p;
	}
	roff[k] = '\0';
	for (const char *p = text; (p = strstr(p, roff)); p += k) {
		const char *after = p + k;
		if (strncmp(after, "\\-", 2) != 0 && !strchr("abcdefghijklmnopqrstuvwxyz0123456789",
							     *after ? *after : '-'))
			return 1;
	}
	return 0;
}

/* 1 if the Markdown TEXT has `--name` as a whole option. */
static int readme_has_option(const char *text, const char *name)
{
	size_t n = strlen(name);
	for (const char *p = text; (p = strstr(p, "--")); p += 2)
		if (strncmp(p + 2, name, n) == 0 &&
		    !strchr("abcdefghijklmnopqrstuvwxyz0123456789-", p[2 + n] ? p[2 + n] : ' '))
			return 1;
	return 0;
}

/* The section of the page that starts with ".SH TITLE" (malloc'd). */
static char *page_section(const char *page, const char *title)
{
	char head[64];
	snprintf(head, sizeof head, "\n.SH %s\n", title);
	const char *start = strstr(page, head);
	if (!start)
		fail_msg("the page has no section %s", title);
	start += strlen(head);
	const char *end = strstr(start, "\n.SH ");
	return strndup(start, end ? (size_t)(end - start) : strlen(start));
}

/* Every option described in the OPTIONS section (the tag line after each
 * .TP) is one of HELP's. */
static void section_options_in_help(const char *page, char **help)
{
	char *sec = page_section(page, "OPTIONS");
	size_t found = 0;
	for (char *line = strstr(sec, ".TP\n"); line; line = strstr(line, ".TP\n")) {
		line += 4;
		char *eol = strchr(line, '\n');
		char *tag = strndup(line, eol ? (size_t)(eol - line) : strlen(line));
		for (char *p = tag; (p = strstr(p, "\\-\\-"));) {
			char name[64];
			size_t k = 0;
			for (p += 4; k + 1 < sizeof name; p++) {
				if (strncmp(p, "\\-", 2) == 0 && p[2] >= 'a' && p[2] <= 'z') {
					name[k++] = '-';
					p++;
				} else if ((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9')) {
					name[k++] = *p;
				} else {
					break;
				}
			}
			name[k] = '\0';
			int known = 0;
			for (size_t i = 0; help[i]; i++)
				known |= strcmp(help[i], name) == 0;
			if (!known)
				fail_msg("the page describes --%s, which --help does not show", name);
			found++;
		}
		free(tag);
	}
	assert_true(found > 5);
	free(sec);
}

/* The page's .TH line names the version --version prints. */
static void page_version(const char *page, const char *version_cmd)
{
	char *version = run_output(version_cmd);  /* "cryptocat 0.1.0 (protocol 3)" */
	char *space = strchr(version, ' ');
	assert_non_null(space);
	char want[64];
	snprintf(want, sizeof want, "\"cryptocat %.*s\"", (int)strcspn(space + 1, " \n"),
		 space + 1);
	char *th = strstr(page, "\n.TH ");
	assert_non_null(th);
	char *eol = strchr(th + 1, '\n');
	assert_non_null(eol);
	*eol = '\0';
	if (!strstr(th, want))
		fail_msg("the page's title line (%s) does not name %s", th + 1, want);
	*eol = '\n';
	free(version);
}

static void check_options(const char *program, const char *page_path)
{
	char cmd[512];
	snprintf(cmd, sizeof cmd, "%s/%s --help", CC_BINARY_DIR, program);
	char *help_text = run_output(cmd);
	char **help = help_options(help_text);
	char *page = read_text(page_path);
	char *readme = read_text(CC_SOURCE_DIR "/README.md");
	for (size_t i = 0; help[i]; i++) {
		if (!page_has_option(page, help[i]))
			fail_msg("--%s (%s --help) is missing from %s", help[i], program, page_path);
		if (!readme_has_option(readme, help[i]))
			fail_msg("--%s (%s --help) is missing from README.md", help[i], program);
	}
	section_options_in_help(page, help);
	snprintf(cmd, sizeof cmd, "%s/%s --version", CC_BINARY_DIR, program);
	page_version(page, cmd);
	free(readme);
	free(page);
	free_names(help);
	free(help_text);
}

/* 1 if the COMMANDS section has an entry (a tag line) for NAME. */
static int section_has_command(const char *sec, const char *name)
{
	size_t n = strlen(name);
	for (const char *p = sec; (p = strstr(p, ".TP\n.B")); p += 4) {
		const char *word = p + 6 + strspn(p + 6, "IR");
		word += strspn(word, " ");
		if (strncmp(word, name, n) == 0 && (word[n] == ' ' || word[n] == '\n'))
			return 1;
	}
	return 0;
}

static void test_client_page(void **state)
{
	(void)state;
	check_options("cryptocat", MAN_DIR "/cryptocat.1");
	char *page = read_text(MAN_DIR "/cryptocat.1");
	char *sec = page_section(page, "COMMANDS");
	size_t n = 0;
	const struct cli_command *c;
	for (size_t i = 0; (c = cli_command_at(NULL, i)); i++) {
		if (!*c->name)
			continue;  /* a line of text, not a command */
		if (!section_has_command(sec, c->name))
			fail_msg("the command %s (/help) is missing from cryptocat(1)", c->name);
		n++;
	}
	for (size_t i = 0; i < tui_ncommands; i++, n++)
		if (!section_has_command(sec, tui_commands[i].name))
			fail_msg("the command %s (the full-screen UI's /help) is missing from "
				 "cryptocat(1)",
				 tui_commands[i].name);
	assert_true(n > 15);
	free(sec);
	free(page);
}

static void test_server_page(void **state)
{
	(void)state;
	check_options("cryptocat-server", MAN_DIR "/cryptocat-server.8");
}

static void test_pages_render(void **state)
{
	static const char *const pages[] = {"cryptocat.1", "cryptocat-server.8"};
	static const char *const devices[] = {"utf8", "latin1", "ascii"};
	char cmd[1024];
	(void)state;
	if (system("command -v groff >/dev/null") != 0)
		fail_msg("no groff: scripts/install-deps.sh installs groff-base");
	for (size_t i = 0; i < 2; i++) {
		for (size_t d = 0; d < 3; d++) {
			/* -ww: every warning; -z: no output but the warnings. */
			snprintf(cmd, sizeof cmd, "groff -man -ww -z -T%s %s/%s 2>&1", devices[d],
				 MAN_DIR, pages[i]);
			char *warnings = run_output(cmd);
			if (*warnings)
				fail_msg("groff -T%s warns about %s:\n%s", devices[d], pages[i],
					 warnings);
			free(warnings);
		}
		/* And it says something: a page that rendered to nothing would
		 * pass the above. */
		snprintf(cmd, sizeof cmd, "groff -man -Tutf8 %s/%s | wc -l", MAN_DIR, pages[i]);
		char *lines = run_output(cmd);
		assert_true(atoi(lines) > 100);
		free(lines);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_client_page),
		cmocka_unit_test(test_server_page),
		cmocka_unit_test(test_pages_render),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
