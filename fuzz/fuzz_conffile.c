/* Fuzz target: the config file's parser (src/util/conffile.h), over any
 * bytes a file can hold.
 *
 * It accepts or refuses. Refused: the message names the file and a line
 * that exists, and nothing is left allocated. Accepted: each line gave at
 * most one argument, "--" and a key (or "--no-" and a boolean key), with a
 * value exactly for the options that take one, numbered with a line that
 * exists, in order; the command line follows, untouched; and getopt_long
 * takes every argument as the option it names, as the client's main() will.
 *
 * CC_FUZZ_GEN_SEEDS=dir writes the seed corpus (fuzz/corpus/conffile: good
 * files, each kind of bad line, CRLF, NUL bytes, "~/") and exits. */
#define FUZZ_NAME "fuzz_conffile"
#include "fuzz_common.h"

#include <getopt.h>

#include "util/conffile.h"

#define KEY 0x100

/* The client's kinds of option: values, booleans with their no- forms,
 * options of the command line only. */
static const struct option options[] = {
	{"server", required_argument, NULL, 1 | KEY},
	{"nick", required_argument, NULL, 2 | KEY},
	{"home", required_argument, NULL, 3 | KEY},
	{"plain", no_argument, NULL, 4 | KEY},
	{"no-plain", no_argument, NULL, 5},
	{"color", no_argument, NULL, 6 | KEY},
	{"no-color", no_argument, NULL, 7},
	{"lonely", no_argument, NULL, 8 | KEY},
	{"config", required_argument, NULL, 9},
	{"help", no_argument, NULL, 10},
	{NULL, 0, NULL, 0},
};

static const struct option *find(const char *name, size_t n)
{
	for (const struct option *o = options; o->name; o++)
		if (strlen(o->name) == n && memcmp(o->name, name, n) == 0)
			return o;
	return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char prog[] = "prog", flag[] = "--nick=cli", rest[] = "rest";
	char *cmdline[] = {prog, flag, rest, NULL};
	struct conffile_args a;
	char why[256];
	unsigned lines = 1;
	for (size_t i = 0; i < size; i++)
		lines += data[i] == '\n';

	/* An exact-size copy: a read past the text is an ASan report. */
	char *text = malloc(size ? size : 1);
	CHECK(text != NULL);
	memcpy(text, data, size);
	why[0] = '\0';
	cc_err err = conffile_parse("fuzz.conf", text, size, options, KEY, 3, cmdline, &a, why,
				    sizeof why);
	if (err) {
		CHECK(err == CC_ERR_USAGE);
		CHECK(a.argv == NULL && a.lines == NULL && a.path == NULL && a.argc == 0);
		CHECK(strncmp(why, "fuzz.conf:", 10) == 0);
		unsigned long at = strtoul(why + 10, NULL, 10);
		CHECK(at >= 1 && at <= lines);
		free(text);
		return 0;
	}
	CHECK(a.argc == a.nfile + 3 && a.argv[a.argc] == NULL && (unsigned)a.nfile <= lines);
	CHECK(a.argv[0] == prog && a.argv[a.nfile + 1] == flag && a.argv[a.nfile + 2] == rest);
	for (int i = 1; i <= a.nfile; i++) {
		const char *arg = a.argv[i];
		CHECK(strncmp(arg, "--", 2) == 0);
		unsigned line = conffile_line(&a, i);
		CHECK(line >= 1 && line <= lines && (i == 1 || line > conffile_line(&a, i - 1)));
		const char *eq = strchr(arg, '=');
		const struct option *o = find(arg + 2, eq ? (size_t)(eq - arg - 2) : strlen(arg + 2));
		CHECK(o != NULL);
		if (eq) {
			CHECK(o->has_arg == required_argument && (o->val & KEY) && eq[1] != '\0');
		} else {
			const struct option *key = strncmp(o->name, "no-", 3) == 0
							   ? find(o->name + 3, strlen(o->name + 3))
							   : o;
			CHECK(o->has_arg == no_argument && key && (key->val & KEY));
		}
	}
	/* getopt_long takes each as the option it names, and the command line
	 * after them. */
	int opt, n = 0;
	optind = 0;
	opterr = 0;
	while ((opt = getopt_long(a.argc, a.argv, "", options, NULL)) != -1) {
		CHECK(opt != '?' && opt != ':');
		n++;
	}
	CHECK(n == a.nfile + 1 && optind == a.argc - 1);
	conffile_args_free(&a);
	free(text);
	return 0;
}

static void gen_seeds(const char *dir)
{
	static const struct {
		const char *name, *text;
	} seeds[] = {
		{"good", "# a comment\n\nserver = example.org:7777\nnick=alice\n  color = off  \n"
			 "plain = yes\nhome = ~/chat\n"},
		{"crlf", "server = h:1\r\nnick = bob\r\n"},
		{"no_newline", "nick = x"},
		{"no_equals", "nick = a\nserver h:1\n"},
		{"no_key", " = value\n"},
		{"unknown", "colour = on\n"},
		{"negative_key", "no-color = yes\n"},
		{"command_line_only", "help = yes\n"},
		{"no_value", "server =\n"},
		{"bad_bool", "color = maybe\n"},
		{"cannot_turn_off", "lonely = off\n"},
		{"equals_in_value", "nick = a=b=c\n"},
		{"tilde", "home = ~\nhome = ~/x\nhome = ~user\n"},
		{"blank_lines", "\n\n\t\n   \n# x = y\n"},
	};
	for (size_t i = 0; i < sizeof seeds / sizeof *seeds; i++)
		fuzz_write(dir, seeds[i].name, seeds[i].text, strlen(seeds[i].text));
	static const char nul[] = "nick = a\nserver = h\0:1\n";
	fuzz_write(dir, "nul", nul, sizeof nul - 1);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	/* "~/" needs a home, and the same one on every run. */
	setenv("HOME", "/home/fuzz", 1);
	const char *dir = getenv("CC_FUZZ_GEN_SEEDS");
	if (dir) {
		gen_seeds(dir);
		exit(0);
	}
	return 0;
}
