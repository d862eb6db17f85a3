/* Where a session's passphrase comes from, for every front end, before any
 * of them runs (the full-screen UI has not taken the screen yet):
 * --passphrase-file FILE, else the environment variable CRYPTOCAT_PASSPHRASE,
 * else, when the home has a passphrase and this is not batch mode, a prompt
 * on the terminal (/dev/tty, echo off) that checks what is typed and asks
 * again, three times in all. Batch mode never prompts.
 *
 * And --change-passphrase, the whole command: the current passphrase as
 * above, the new one from --new-passphrase-file FILE, else
 * CRYPTOCAT_NEW_PASSPHRASE (set, even empty), else a prompt typed twice; an
 * empty new passphrase removes it (the keys are then kept in clear). */
#ifndef CC_CLIENT_CLI_PASSPHRASE_H
#define CC_CLIENT_CLI_PASSPHRASE_H

#include <stdbool.h>

#include "client/core/client.h"

#define PASSPHRASE_ENV "CRYPTOCAT_PASSPHRASE"
#define PASSPHRASE_NEW_ENV "CRYPTOCAT_NEW_PASSPHRASE"

struct passphrase_options {
	const char *file;               /* --passphrase-file, or NULL */
	const char *new_file;           /* --new-passphrase-file, or NULL */
	bool batch;                     /* never prompt */
};

/* How a front end reports what happens before its session: batch as JSON,
 * the others as text on standard error. */
struct passphrase_report {
	void (*error)(void *ctx, const char *code, const char *message);
	/* --change-passphrase done: the keys are now under a passphrase, or
	 * in clear. */
	void (*changed)(void *ctx, bool protected);
	void *ctx;
};

/* Errors and the change as text on standard error (batch has its own,
 * batch.h). */
extern const struct passphrase_report passphrase_report_text;

/* The passphrase context for HOME (*out NULL when none is given: the core
 * then says whether one was needed). Returns an exit status (enum
 * client_exit): CLIENT_EXIT_OK, or the failure, already reported. */
int passphrase_session(const char *home, const struct passphrase_options *o,
		       const struct passphrase_report *r, struct home_secrets **out);
/* --change-passphrase on HOME; returns the exit status. */
int passphrase_change(const char *home, const struct passphrase_options *o,
		      const struct passphrase_report *r);

#endif
