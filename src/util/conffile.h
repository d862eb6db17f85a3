/* A program's config file: "key = value" lines, each turned into the
 * command-line argument it stands for ("--key=value"), placed before the
 * command line's own. So one table (getopt's struct option) names both the
 * options and the keys, one parser reads every value wherever it came from,
 * and a flag given on the command line overrides the file.
 *
 * The format: one "key = value" per line (blanks around both are ignored);
 * blank lines, and lines whose first non-blank character is '#'. A key is a
 * long option's name whose struct option val has the caller's key bit; an
 * option without a value is a boolean key, on/off, yes/no or true/false
 * ("--key" or "--no-key"). A value that starts with "~/" starts with $HOME
 * instead, as the shell would do on a command line. Anything else is an
 * error that names the file and the line: "FILE:LINE: what". */
#ifndef CC_UTIL_CONFFILE_H
#define CC_UTIL_CONFFILE_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "util/err.h"

/* A config file is a few lines: a larger one is refused. */
#define CONFFILE_MAX_BYTES (64u * 1024)

struct conffile_args {
	int argc;
	/* argv[0], the file's arguments, then the command line's (borrowed);
	 * NULL-terminated, ready for getopt_long. */
	char **argv;
	int nfile;              /* argv[1 .. nfile] came from the file */
	unsigned *lines;        /* lines[i]: the line of argv[1 + i] */
	char *path;             /* the file read, or NULL */
};

/* Parses TEXT (LEN bytes, the file NAME) and puts its arguments into OUT,
 * between ARGV[0] and ARGV[1..ARGC-1]. Options are looked up in OPTIONS
 * (ended by a NULL name); KEY_BIT marks those that are keys. On error OUT is
 * empty and WHY (WHY_LEN bytes) says "NAME:LINE: what": CC_ERR_USAGE for a
 * bad line, CC_ERR_NOMEM. */
cc_err conffile_parse(const char *name, const char *text, size_t len,
		      const struct option *options, int key_bit, int argc, char **argv,
		      struct conffile_args *out, char *why, size_t why_len);

/* Reads PATH and parses it as above. A missing file is an error
 * (CC_ERR_NOT_FOUND) only if REQUIRED; otherwise OUT holds the command line
 * alone. A file that cannot be read is CC_ERR_IO, one over
 * CONFFILE_MAX_BYTES CC_ERR_TOO_LARGE; WHY says which file and why. */
cc_err conffile_load(const char *path, bool required, const struct option *options,
		     int key_bit, int argc, char **argv, struct conffile_args *out,
		     char *why, size_t why_len);

/* For a program's main(): the file named by the option whose val is
 * CONFIG_VAL (which must exist), else APP's default one
 * (conffile_default_path) if there is one, loaded as by conffile_load().
 * No file is read when an option whose val is in SKIP (ended by 0) is on
 * the command line: --help and --version, which a broken file must not
 * hide. The options are found by a first pass of getopt_long over ARGV
 * (which may permute it), so that abbreviations and "--" mean what they
 * will mean in the real pass; optind is then reset to 0 for it. */
cc_err conffile_for_main(const char *app, int argc, char **argv, const struct option *options,
			 int key_bit, int config_val, const int *skip, struct conffile_args *out,
			 char *why, size_t why_len);

/* Prints the keys (the names of the options with KEY_BIT) to F, indented by
 * two spaces, lines at most WIDTH columns. */
void conffile_print_keys(FILE *f, const struct option *options, int key_bit, size_t width);

void conffile_args_free(struct conffile_args *a);

/* The file's line that argument I of A came from; 0 if it came from the
 * command line. */
unsigned conffile_line(const struct conffile_args *a, int i);

/* $XDG_CONFIG_HOME/APP/config, else $HOME/.config/APP/config.
 * CC_ERR_NOT_FOUND when neither variable is set, CC_ERR_TOO_LARGE when the
 * path does not fit in N bytes. */
cc_err conffile_default_path(const char *app, char *out, size_t n);

/* on, yes, true: 1; off, no, false: 0 (any case); anything else: -1. */
int conffile_parse_bool(const char *s);

#endif
