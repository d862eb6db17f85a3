/* Where the passphrase comes from: see passphrase.h. */
#include "client/cli/passphrase.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "util/buf.h"

#define PROMPT_TRIES 3

/* A passphrase as read, wiped on every way out. */
struct pass_buf {
	char b[CLIENT_PASSPHRASE_MAX + 2];
	size_t len;
};

/* ---- the terminal ------------------------------------------------------------------- */

/* Signals that arrive while echo is off: the terminal is put back first,
 * then the signal acts as it would have (after OpenBSD's readpassphrase). */
static const int prompt_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGTSTP, SIGTTIN,
				     SIGTTOU};
#define PROMPT_NSIGNALS (sizeof prompt_signals / sizeof prompt_signals[0])
static volatile sig_atomic_t prompt_signal;

static void prompt_on_signal(int sig)
{
	prompt_signal = sig;
}

/* Reads a line from fd until '\n' (not kept): CC_ERR_TOO_LARGE past the
 * limit, CC_ERR_CLOSED at the end of input, CC_ERR_TIMEOUT for a signal. */
static cc_err prompt_read_line(int fd, struct pass_buf *p)
{
	p->len = 0;
	for (;;) {
		char c;
		ssize_t r = read(fd, &c, 1);
		if (r < 0 && errno == EINTR) {
			if (prompt_signal)
				return CC_ERR_TIMEOUT;
			continue;
		}
		if (r < 0)
			return CC_ERR_IO;
		if (r == 0)
			return CC_ERR_CLOSED;
		if (c == '\n')
			break;
		if (p->len < sizeof p->b)
			p->b[p->len++] = c;
	}
	if (p->len > 0 && p->b[p->len - 1] == '\r')
		p->len--;
	return p->len > CLIENT_PASSPHRASE_MAX ? CC_ERR_TOO_LARGE : CC_OK;
}

/* Asks on /dev/tty with echo off: CC_ERR_NOT_FOUND if there is no terminal. */
static cc_err prompt(const char *question, struct pass_buf *p)
{
	int fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return CC_ERR_NOT_FOUND;
	struct termios old, quiet;
	struct sigaction sa, saved[PROMPT_NSIGNALS];
	cc_err err;
	for (;;) {
		if (tcgetattr(fd, &old) != 0) {
			close(fd);
			return CC_ERR_NOT_FOUND;
		}
		prompt_signal = 0;
		memset(&sa, 0, sizeof sa);
		sa.sa_handler = prompt_on_signal;   /* no SA_RESTART: read() returns */
		sigemptyset(&sa.sa_mask);
		for (size_t i = 0; i < PROMPT_NSIGNALS; i++)
			sigaction(prompt_signals[i], &sa, &saved[i]);
		quiet = old;
		quiet.c_lflag &= (tcflag_t)~ECHO;
		quiet.c_lflag |= ECHONL;    /* the Enter still shows */
		ssize_t w = write(fd, question, strlen(question));
		(void)w;
		err = tcsetattr(fd, TCSAFLUSH, &quiet) == 0 ? prompt_read_line(fd, p) : CC_ERR_IO;
		tcsetattr(fd, TCSAFLUSH, &old);
		for (size_t i = 0; i < PROMPT_NSIGNALS; i++)
			sigaction(prompt_signals[i], &saved[i], NULL);
		if (!prompt_signal)
			break;
		/* The terminal is back as it was: now the signal may act. A stop
		 * (Ctrl-Z) comes back here and asks again. */
		int sig = prompt_signal;
		mem_wipe(p, sizeof *p);
		kill(getpid(), sig);
		if (sig != SIGTSTP && sig != SIGTTIN && sig != SIGTTOU)
			break;
		w = write(fd, "\n", 1);
	}
	close(fd);
	if (err == CC_ERR_CLOSED || prompt_signal)
		err = CC_ERR_CLOSED;
	if (err)
		mem_wipe(p, sizeof *p);
	return err;
}

static void tty_say(const char *line)
{
	int fd = open("/dev/tty", O_WRONLY | O_NOCTTY | O_CLOEXEC);
	if (fd >= 0) {
		ssize_t w = write(fd, line, strlen(line));
		(void)w;
		close(fd);
	}
}

/* ---- files and the environment ---------------------------------------------------- */

/* The file's first line (a final "\n" or "\r\n" is not part of it). */
static cc_err read_file(const char *path, struct pass_buf *p, char *why, size_t why_len)
{
	p->len = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		snprintf(why, why_len, "cannot read the passphrase file %s: %s", path,
			 fd < 0 ? strerror(errno) : "not a regular file");
		if (fd >= 0)
			close(fd);
		return CC_ERR_IO;
	}
	if (st.st_mode & 077)
		fprintf(stderr, "cryptocat: warning: the passphrase file %s can be read by others\n",
			path);
	cc_err err = CC_OK;
	for (;;) {
		ssize_t r = read(fd, p->b + p->len, sizeof p->b - p->len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			err = r < 0 ? CC_ERR_IO : CC_OK;
			break;
		}
		p->len += (size_t)r;
		if (p->len == sizeof p->b) {
			err = CC_ERR_TOO_LARGE;
			break;
		}
	}
	close(fd);
	const char *nl = err ? NULL : memchr(p->b, '\n', p->len);
	if (nl) {
		if ((size_t)(nl - p->b) + 1 != p->len)
			err = CC_ERR_MALFORMED;  /* more than one line */
		p->len = (size_t)(nl - p->b);
		if (p->len > 0 && p->b[p->len - 1] == '\r')
			p->len--;
	}
	if (!err && (memchr(p->b, '\0', p->len) || p->len > CLIENT_PASSPHRASE_MAX))
		err = CC_ERR_MALFORMED;
	if (err) {
		snprintf(why, why_len, "the passphrase file %s %s", path,
			 err == CC_ERR_IO ? "cannot be read"
					  : "must hold one line of at most 1024 bytes, without NUL");
		mem_wipe(p, sizeof *p);
	}
	return err;
}

/* NAME's value, then wiped from this process's environment (so nothing it
 * starts inherits it). 0 if unset. */
static int take_env(const char *name, struct pass_buf *p)
{
	char *v = getenv(name);
	p->len = 0;
	if (!v)
		return 0;
	size_t n = strlen(v);
	p->len = n < sizeof p->b ? n : sizeof p->b;
	memcpy(p->b, v, p->len);
	mem_wipe(v, n);
	unsetenv(name);
	return 1;
}

/* ---- the session's passphrase -------------------------------------------------------- */

static void text_error(void *ctx, const char *code, const char *message)
{
	(void)ctx;
	fprintf(stderr, "cryptocat: %s: %s\n", code, message);
}

static void text_changed(void *ctx, bool protected)
{
	(void)ctx;
	fprintf(stderr, protected ? "cryptocat: passphrase changed: the keys are now under the"
				    " new passphrase\n"
				  : "cryptocat: passphrase removed: the keys are now stored in clear\n");
}

const struct passphrase_report passphrase_report_text = {text_error, text_changed, NULL};

static int fail(const struct passphrase_report *r, cc_err err, const char *message)
{
	r->error(r->ctx, cc_err_code(err), message ? message : cc_err_str(err));
	return err == CC_ERR_BAD_PASSPHRASE ? CLIENT_EXIT_PASSPHRASE
	       : err == CC_ERR_USAGE        ? CLIENT_EXIT_USAGE
					    : CLIENT_EXIT_ERROR;
}

/* The current passphrase from the file or the environment: 1 if given
 * (p set), 0 if not, -1 on error (reported, *status set). */
static int given(const struct passphrase_options *o, const struct passphrase_report *r,
		 struct pass_buf *p, int *status)
{
	char why[4400];
	if (o->file) {
		cc_err err = read_file(o->file, p, why, sizeof why);
		if (err) {
			*status = fail(r, CC_ERR_USAGE, why);
			return -1;
		}
		return 1;
	}
	/* Set but empty counts as not set: no passphrase is empty. */
	if (!take_env(PASSPHRASE_ENV, p) || p->len == 0)
		return 0;
	if (p->len <= CLIENT_PASSPHRASE_MAX)
		return 1;
	mem_wipe(p, sizeof *p);
	*status = fail(r, CC_ERR_USAGE, PASSPHRASE_ENV " is over 1024 bytes");
	return -1;
}

/* Prompts for the passphrase of a protected home and checks it, three
 * tries: CLIENT_EXIT_OK with *out, or the failure. */
static int prompt_checked(const char *home, const struct passphrase_report *r,
			  const char *question, struct home_secrets **out)
{
	struct pass_buf p = {.len = 0};
	char message[4400];
	for (int tries = 1;; tries++) {
		cc_err err = prompt(question, &p);
		if (err == CC_ERR_NOT_FOUND) {
			snprintf(message, sizeof message, "the keys in %s are protected by a passphrase:"
				 " give it with --passphrase-file or %s (no terminal to ask on)",
				 home, PASSPHRASE_ENV);
			return fail(r, CC_ERR_BAD_PASSPHRASE, message);
		}
		if (!err && p.len == 0)
			err = CC_ERR_CLOSED;
		if (err)
			return fail(r, CC_ERR_BAD_PASSPHRASE, err == CC_ERR_TOO_LARGE
				    ? "the passphrase is over 1024 bytes" : "no passphrase given");
		err = client_secrets_new(p.b, p.len, out);
		mem_wipe(&p, sizeof p);
		if (!err)
			err = client_home_unlock(home, *out);
		if (!err)
			return CLIENT_EXIT_OK;
		client_secrets_free(*out);
		*out = NULL;
		if (err != CC_ERR_BAD_PASSPHRASE)
			return fail(r, err, NULL);
		if (tries == PROMPT_TRIES)
			return fail(r, err, "wrong passphrase");
		tty_say("Wrong passphrase, try again.\n");
	}
}

/* A passphrase given to a home that has none is refused: whoever gave it
 * believes the keys are protected, and they are not. */
static int not_wanted(const char *home, const struct passphrase_report *r)
{
	char message[4400];
	snprintf(message, sizeof message, "%s has no passphrase: its keys are stored in clear"
		 " (cryptocat --change-passphrase sets one)", home);
	return fail(r, CC_ERR_BAD_PASSPHRASE, message);
}

int passphrase_session(const char *home, const struct passphrase_options *o,
		       const struct passphrase_report *r, struct home_secrets **out)
{
	struct pass_buf p = {.len = 0};
	enum client_home_lock lock;
	int status = CLIENT_EXIT_OK;
	char message[4400];
	*out = NULL;
	cc_err err = client_home_lock_get(home, &lock);
	if (err)
		return fail(r, err, NULL);
	int g = given(o, r, &p, &status);
	if (g < 0)
		return status;
	if (g > 0 && lock == CLIENT_HOME_CLEAR) {
		mem_wipe(&p, sizeof p);
		return not_wanted(home, r);
	}
	if (g > 0) {
		err = client_secrets_new(p.b, p.len, out);
		mem_wipe(&p, sizeof p);
		/* Checked now, so that every front end can say so before it starts
		 * (a new home has nothing to check it against: it protects it). */
		if (!err && lock == CLIENT_HOME_PASSPHRASE)
			err = client_home_unlock(home, *out);
		if (!err)
			return CLIENT_EXIT_OK;
		client_secrets_free(*out);
		*out = NULL;
		snprintf(message, sizeof message, "wrong passphrase for %s", home);
		return fail(r, err, err == CC_ERR_BAD_PASSPHRASE ? message : NULL);
	}
	if (lock != CLIENT_HOME_PASSPHRASE)
		return CLIENT_EXIT_OK;
	if (o->batch) {
		snprintf(message, sizeof message, "the keys in %s are protected by a passphrase:"
			 " give it with --passphrase-file or %s", home, PASSPHRASE_ENV);
		return fail(r, CC_ERR_BAD_PASSPHRASE, message);
	}
	snprintf(message, sizeof message, "Passphrase for %s: ", home);
	return prompt_checked(home, r, message, out);
}

/* ---- --change-passphrase ---------------------------------------------------------------- */

/* The new passphrase: CLIENT_EXIT_OK with p (len 0: none), or the failure. */
static int new_passphrase(const struct passphrase_options *o, const struct passphrase_report *r,
			  struct pass_buf *p)
{
	char why[4400];
	if (o->new_file) {
		cc_err err = read_file(o->new_file, p, why, sizeof why);
		return err ? fail(r, CC_ERR_USAGE, why) : CLIENT_EXIT_OK;
	}
	if (take_env(PASSPHRASE_NEW_ENV, p)) {
		if (p->len <= CLIENT_PASSPHRASE_MAX)
			return CLIENT_EXIT_OK;
		mem_wipe(p, sizeof *p);
		return fail(r, CC_ERR_USAGE, "the new passphrase is over 1024 bytes");
	}
	if (o->batch)
		return fail(r, CC_ERR_USAGE, "no new passphrase: give it with --new-passphrase-file"
			    " or " PASSPHRASE_NEW_ENV " (empty: none)");
	for (int tries = 1;; tries++) {
		struct pass_buf again;
		cc_err err = prompt("New passphrase (empty: keep the keys in clear): ", p);
		if (!err)
			err = prompt("The new passphrase again: ", &again);
		if (err)
			mem_wipe(p, sizeof *p);
		if (err == CC_ERR_NOT_FOUND)
			return fail(r, CC_ERR_USAGE, "no terminal to ask on: give the new passphrase"
				    " with --new-passphrase-file or " PASSPHRASE_NEW_ENV);
		if (err)
			return fail(r, CC_ERR_USAGE, err == CC_ERR_TOO_LARGE
				    ? "the passphrase is over 1024 bytes" : "no passphrase given");
		int same = again.len == p->len && memcmp(again.b, p->b, p->len) == 0;
		mem_wipe(&again, sizeof again);
		if (same)
			return CLIENT_EXIT_OK;
		mem_wipe(p, sizeof *p);
		if (tries == PROMPT_TRIES)
			return fail(r, CC_ERR_USAGE, "the two new passphrases differ");
		tty_say("They differ, try again.\n");
	}
}

int passphrase_change(const char *home, const struct passphrase_options *o,
		      const struct passphrase_report *r)
{
	struct home_secrets *old_s = NULL, *new_s = NULL;
	struct pass_buf p = {.len = 0};
	char question[4400];
	enum client_home_lock lock;
	int status = CLIENT_EXIT_OK;
	cc_err err = client_home_lock_get(home, &lock);
	if (err)
		return fail(r, err, NULL);
	if (lock == CLIENT_HOME_NEW) {
		snprintf(question, sizeof question, "%s has no keys yet: run cryptocat once first"
			 " (with %s set, its keys are protected from the start)", home, PASSPHRASE_ENV);
		return fail(r, CC_ERR_NOT_FOUND, question);
	}
	int g = given(o, r, &p, &status);
	if (g < 0)
		return status;
	if (g > 0 && lock == CLIENT_HOME_CLEAR) {
		mem_wipe(&p, sizeof p);
		return not_wanted(home, r);
	}
	if (g > 0) {
		err = client_secrets_new(p.b, p.len, &old_s);
		mem_wipe(&p, sizeof p);
		if (!err)
			err = client_home_unlock(home, old_s);
		if (err)
			status = fail(r, err, err == CC_ERR_BAD_PASSPHRASE ? "wrong passphrase" : NULL);
	} else if (lock == CLIENT_HOME_PASSPHRASE) {
		snprintf(question, sizeof question, "Current passphrase for %s: ", home);
		if (o->batch)
			status = fail(r, CC_ERR_BAD_PASSPHRASE, "the keys are protected by a"
				      " passphrase: give it with --passphrase-file or " PASSPHRASE_ENV);
		else
			status = prompt_checked(home, r, question, &old_s);
	}
	if (status == CLIENT_EXIT_OK)
		status = new_passphrase(o, r, &p);
	if (status == CLIENT_EXIT_OK) {
		bool protect = p.len > 0;
		err = client_secrets_new(p.b, p.len, &new_s);
		mem_wipe(&p, sizeof p);
		if (!err)
			err = client_home_change_passphrase(home, old_s, new_s);
		if (err)
			status = fail(r, err, NULL);
		else
			r->changed(r->ctx, protect);
	}
	mem_wipe(&p, sizeof p);
	client_secrets_free(old_s);
	client_secrets_free(new_s);
	return status;
}
