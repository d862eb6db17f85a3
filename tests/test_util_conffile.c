/* util/conffile.h: a config file's lines as the arguments they stand for,
 * and every kind of bad line reported with its file and line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/conffile.h"

#define KEY 0x100

/* A table like a program's: keys, booleans with their no- forms, and
 * options of the command line only. */
static const struct option options[] = {
	{"server", required_argument, NULL, 1 | KEY},
	{"nick", required_argument, NULL, 2 | KEY},
	{"color", no_argument, NULL, 3 | KEY},
	{"no-color", no_argument, NULL, 4},
	{"plain", no_argument, NULL, 5 | KEY},
	{"no-plain", no_argument, NULL, 6},
	{"lonely", no_argument, NULL, 7 | KEY},  /* a boolean without a no- form */
	{"config", required_argument, NULL, 8},
	{"help", no_argument, NULL, 9},
	{NULL, 0, NULL, 0},
};

static char prog[] = "prog", flag[] = "--nick=cli", extra[] = "extra";
static char *cmdline[] = {prog, flag, extra, NULL};

static cc_err parse(const char *text, struct conffile_args *a, char *why, size_t n)
{
	return conffile_parse("f.conf", text, strlen(text), options, KEY, 3, cmdline, a, why, n);
}

static void test_good_file(void **state)
{
	struct conffile_args a;
	char why[256] = "";
	(void)state;
	const char *text = "# a comment\n"
			   "\n"
			   "   server   =  example.org:7777  \r\n"
			   "\t# indented comment = not a key\n"
			   "nick=alice\n"
			   "color = off\n"
			   "plain = Yes\n"
			   "nick = a b = c";  /* the last line has no newline; '=' in a value */
	assert_int_equal(parse(text, &a, why, sizeof why), CC_OK);
	static const char *const want[] = {"prog", "--server=example.org:7777", "--nick=alice",
					   "--no-color", "--plain", "--nick=a b = c", "--nick=cli",
					   "extra"};
	static const unsigned want_lines[] = {0, 3, 5, 6, 7, 8, 0, 0};
	assert_int_equal(a.argc, 8);
	assert_int_equal(a.nfile, 5);
	for (int i = 0; i < a.argc; i++) {
		assert_string_equal(a.argv[i], want[i]);
		assert_int_equal(conffile_line(&a, i), want_lines[i]);
	}
	assert_null(a.argv[a.argc]);
	assert_string_equal(a.path, "f.conf");
	conffile_args_free(&a);
}

static void test_empty_file(void **state)
{
	struct conffile_args a;
	char why[64];
	(void)state;
	assert_int_equal(parse("", &a, why, sizeof why), CC_OK);
	assert_int_equal(a.argc, 3);
	assert_int_equal(a.nfile, 0);
	assert_string_equal(a.argv[1], "--nick=cli");
	assert_int_equal(conffile_line(&a, 1), 0);
	conffile_args_free(&a);
	assert_int_equal(parse("\n\n# only comments\n   \n", &a, why, sizeof why), CC_OK);
	assert_int_equal(a.nfile, 0);
	conffile_args_free(&a);
}

/* Each bad line, alone at line 3 after two good ones: the error names the
 * file, the line and what is wrong. */
static void test_bad_lines(void **state)
{
	static const struct {
		const char *line, *why;
	} cases[] = {
		{"server example.org:7777", "f.conf:3: expected key = value, not 'server example.org:7777'"},
		{"= value", "f.conf:3: no key before '='"},
		{"colour = on", "f.conf:3: unknown key 'colour'"},
		{"--server = x:1", "f.conf:3: unknown key '--server'"},
		{"Server = x:1", "f.conf:3: unknown key 'Server'"},
		{"no-color = yes", "f.conf:3: unknown key 'no-color' (write color = off)"},
		{"help = yes", "f.conf:3: 'help' is an option of the command line only"},
		{"config = /etc/x", "f.conf:3: 'config' is an option of the command line only"},
		{"server =", "f.conf:3: no value for 'server'"},
		{"nick =   \t", "f.conf:3: no value for 'nick'"},
		{"color = maybe", "f.conf:3: 'color' is on or off (yes/no, true/false), not 'maybe'"},
		{"color = on please", "f.conf:3: 'color' is on or off (yes/no, true/false), not 'on please'"},
		{"color =", "f.conf:3: no value for 'color'"},
		{"lonely = off", "f.conf:3: 'lonely' cannot be turned off"},
	};
	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char text[256], why[256] = "";
		struct conffile_args a;
		snprintf(text, sizeof text, "nick = bob\n# fine so far\n%s\nserver = x:1\n",
			 cases[i].line);
		assert_int_equal(parse(text, &a, why, sizeof why), CC_ERR_USAGE);
		assert_string_equal(why, cases[i].why);
		assert_null(a.argv);
		assert_int_equal(a.argc, 0);
	}
}

/* "~/x" is $HOME/x, as the shell makes it on a command line. */
static void test_tilde(void **state)
{
	struct conffile_args a;
	char why[128];
	(void)state;
	setenv("HOME", "/home/u", 1);
	assert_int_equal(parse("server = ~/sock\nnick = ~\nnick = a~/b\nnick = ~b\n", &a, why,
			       sizeof why),
			 CC_OK);
	assert_string_equal(a.argv[1], "--server=/home/u/sock");
	assert_string_equal(a.argv[2], "--nick=/home/u");
	assert_string_equal(a.argv[3], "--nick=a~/b");
	assert_string_equal(a.argv[4], "--nick=~b");  /* another user's home: not expanded */
	conffile_args_free(&a);
	unsetenv("HOME");
	assert_int_equal(parse("nick = x\nserver = ~/sock\n", &a, why, sizeof why), CC_ERR_USAGE);
	assert_string_equal(why, "f.conf:2: '~' in the value, but HOME is not set");
}

static void test_nul_byte(void **state)
{
	static const char text[] = "nick = bob\nserver = x\0y:1\n";
	struct conffile_args a;
	char why[128];
	(void)state;
	assert_int_equal(conffile_parse("f.conf", text, sizeof text - 1, options, KEY, 3, cmdline,
					&a, why, sizeof why),
			 CC_ERR_USAGE);
	assert_string_equal(why, "f.conf:2: a NUL byte in the line");
}

static void test_bool(void **state)
{
	(void)state;
	static const char *const on[] = {"on", "yes", "true", "ON", "Yes", "TRUE"};
	static const char *const off[] = {"off", "no", "false", "OFF", "No", "False"};
	static const char *const bad[] = {"", "1", "0", "y", "n", "onn", "of", " on", NULL};
	for (size_t i = 0; i < 6; i++) {
		assert_int_equal(conffile_parse_bool(on[i]), 1);
		assert_int_equal(conffile_parse_bool(off[i]), 0);
	}
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_int_equal(conffile_parse_bool(bad[i]), -1);
}

/* A file on disk: read, missing (an error only when named), too large. */
static void test_load(void **state)
{
	char dir[] = "/tmp/cryptocat-conffile-XXXXXX", path[256], why[512];
	struct conffile_args a;
	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/config", dir);

	assert_int_equal(conffile_load(path, false, options, KEY, 3, cmdline, &a, why, sizeof why),
			 CC_OK);
	assert_int_equal(a.nfile, 0);
	assert_int_equal(a.argc, 3);
	assert_null(a.path);
	conffile_args_free(&a);
	assert_int_equal(conffile_load(path, true, options, KEY, 3, cmdline, &a, why, sizeof why),
			 CC_ERR_NOT_FOUND);
	char want[512];
	snprintf(want, sizeof want, "%s: No such file or directory", path);
	assert_string_equal(why, want);

	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs("server = h:1\nbogus\n", f);
	fclose(f);
	assert_int_equal(conffile_load(path, false, options, KEY, 3, cmdline, &a, why, sizeof why),
			 CC_ERR_USAGE);
	snprintf(want, sizeof want, "%s:2: expected key = value, not 'bogus'", path);
	assert_string_equal(why, want);

	f = fopen(path, "w");
	assert_non_null(f);
	fputs("server = h:1\n", f);
	fclose(f);
	assert_int_equal(conffile_load(path, true, options, KEY, 3, cmdline, &a, why, sizeof why),
			 CC_OK);
	assert_int_equal(a.nfile, 1);
	assert_string_equal(a.argv[1], "--server=h:1");
	assert_string_equal(a.path, path);
	conffile_args_free(&a);

	/* A comment line long enough to pass the cap. */
	f = fopen(path, "w");
	assert_non_null(f);
	fputc('#', f);
	for (unsigned i = 0; i < CONFFILE_MAX_BYTES; i++)
		fputc('x', f);
	fclose(f);
	assert_int_equal(conffile_load(path, false, options, KEY, 3, cmdline, &a, why, sizeof why),
			 CC_ERR_TOO_LARGE);
	assert_non_null(strstr(why, "larger than"));

	/* A directory is not a file to read. */
	assert_int_equal(conffile_load(dir, false, options, KEY, 3, cmdline, &a, why, sizeof why),
			 CC_ERR_IO);
	assert_non_null(strstr(why, "Is a directory"));
	unlink(path);
	rmdir(dir);
}

static void test_default_path(void **state)
{
	char out[256];
	(void)state;
	setenv("XDG_CONFIG_HOME", "/x/conf", 1);
	setenv("HOME", "/home/u", 1);
	assert_int_equal(conffile_default_path("cryptocat", out, sizeof out), CC_OK);
	assert_string_equal(out, "/x/conf/cryptocat/config");
	/* Empty or relative: ignored, as the XDG spec says. */
	setenv("XDG_CONFIG_HOME", "", 1);
	assert_int_equal(conffile_default_path("cryptocat", out, sizeof out), CC_OK);
	assert_string_equal(out, "/home/u/.config/cryptocat/config");
	setenv("XDG_CONFIG_HOME", "rel/conf", 1);
	assert_int_equal(conffile_default_path("cryptocat", out, sizeof out), CC_OK);
	assert_string_equal(out, "/home/u/.config/cryptocat/config");
	assert_int_equal(conffile_default_path("cryptocat", out, 10), CC_ERR_TOO_LARGE);
	unsetenv("XDG_CONFIG_HOME");
	unsetenv("HOME");
	assert_int_equal(conffile_default_path("cryptocat", out, sizeof out), CC_ERR_NOT_FOUND);
}

/* For main(): --config (even abbreviated) names the file, else the default
 * one is read if it exists; --help skips a broken one. */
static void test_for_main(void **state)
{
	char dir[] = "/tmp/cryptocat-conffile-XXXXXX", path[256], other[256], why[512];
	struct conffile_args a;
	static const int skip[] = {9, 0};
	(void)state;
	assert_non_null(mkdtemp(dir));
	setenv("XDG_CONFIG_HOME", dir, 1);
	char *plain[] = {prog, NULL};
	/* No default file: the command line alone. */
	assert_int_equal(conffile_for_main("app", 1, plain, options, KEY, 8, skip, &a, why,
					   sizeof why),
			 CC_OK);
	assert_int_equal(a.argc, 1);
	assert_int_equal(a.nfile, 0);
	conffile_args_free(&a);

	snprintf(path, sizeof path, "%s/app", dir);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(path, sizeof path, "%s/app/config", dir);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs("nick = default\n", f);
	fclose(f);
	assert_int_equal(conffile_for_main("app", 1, plain, options, KEY, 8, skip, &a, why,
					   sizeof why),
			 CC_OK);
	assert_int_equal(a.nfile, 1);
	assert_string_equal(a.argv[1], "--nick=default");
	assert_string_equal(a.path, path);
	assert_int_equal(optind, 0);
	conffile_args_free(&a);

	snprintf(other, sizeof other, "%s/other", dir);
	f = fopen(other, "w");
	assert_non_null(f);
	fputs("nick = other\nserver = h:2\n", f);
	fclose(f);
	char conf_opt[300];
	snprintf(conf_opt, sizeof conf_opt, "--conf=%s", other);
	char *named[] = {prog, conf_opt, NULL};
	assert_int_equal(conffile_for_main("app", 2, named, options, KEY, 8, skip, &a, why,
					   sizeof why),
			 CC_OK);
	assert_int_equal(a.nfile, 2);
	assert_string_equal(a.argv[1], "--nick=other");
	assert_string_equal(a.argv[3], conf_opt);
	conffile_args_free(&a);

	unlink(other);
	assert_int_equal(conffile_for_main("app", 2, named, options, KEY, 8, skip, &a, why,
					   sizeof why),
			 CC_ERR_NOT_FOUND);
	assert_non_null(strstr(why, "No such file"));

	f = fopen(path, "w");
	assert_non_null(f);
	fputs("broken\n", f);
	fclose(f);
	assert_int_equal(conffile_for_main("app", 1, plain, options, KEY, 8, skip, &a, why,
					   sizeof why),
			 CC_ERR_USAGE);
	char help[] = "--help";
	char *with_help[] = {prog, help, NULL};
	assert_int_equal(conffile_for_main("app", 2, with_help, options, KEY, 8, skip, &a, why,
					   sizeof why),
			 CC_OK);
	assert_int_equal(a.nfile, 0);
	assert_int_equal(a.argc, 2);
	conffile_args_free(&a);
	unlink(path);
	snprintf(path, sizeof path, "%s/app", dir);
	rmdir(path);
	rmdir(dir);
	unsetenv("XDG_CONFIG_HOME");
}

static void test_print_keys(void **state)
{
	char *text = NULL;
	size_t len = 0;
	(void)state;
	FILE *f = open_memstream(&text, &len);
	assert_non_null(f);
	conffile_print_keys(f, options, KEY, 18);
	fclose(f);
	assert_string_equal(text, "  server nick\n  color plain\n  lonely\n");
	free(text);
}

/* The arguments made from a file go through getopt_long as the command
 * line's do, before them, so a flag given there comes last and wins. */
static void test_getopt(void **state)
{
	struct conffile_args a;
	char why[128];
	const char *nick = NULL;
	int opt, color = -1;
	(void)state;
	assert_int_equal(parse("nick = filenick\ncolor = no\n", &a, why, sizeof why), CC_OK);
	optind = 0;
	opterr = 0;
	while ((opt = getopt_long(a.argc, a.argv, "", options, NULL)) != -1) {
		switch (opt & ~KEY) {
		case 2:
			nick = optarg;
			break;
		case 4:
			color = 0;
			break;
		default:
			fail_msg("unexpected option %d", opt);
		}
	}
	assert_string_equal(nick, "cli");
	assert_int_equal(color, 0);
	assert_int_equal(optind, a.argc - 1);
	assert_string_equal(a.argv[optind], "extra");
	conffile_args_free(&a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good_file),   cmocka_unit_test(test_empty_file),
		cmocka_unit_test(test_bad_lines),   cmocka_unit_test(test_nul_byte),
		cmocka_unit_test(test_bool),        cmocka_unit_test(test_load),
		cmocka_unit_test(test_default_path), cmocka_unit_test(test_getopt),
		cmocka_unit_test(test_tilde),       cmocka_unit_test(test_for_main),
		cmocka_unit_test(test_print_keys),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
