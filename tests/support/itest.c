/* Integration-test support: see itest.h. */
#include "itest.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#ifndef CC_BINARY_DIR
#error "CC_BINARY_DIR must be defined (the build directory holding the binaries)"
#endif

#define ITEST_SERVER_ATTEMPTS 5
#define ITEST_HIST 16          /* lines of recent client I/O kept for diagnostics */
#define ITEST_HIST_LINE 600    /* longest history line printed */
#define ITEST_TAIL_BYTES 4000  /* how much of a log's end a diagnostic prints */
#define ITEST_LINE_MAX (64u * 1024 * 1024)

enum proc_kind { PROC_SERVER, PROC_CLIENT, PROC_RUN };

struct itest_proc {
	struct itest_proc *next;
	enum proc_kind kind;
	pid_t pid;
	int reaped;
	int status;            /* encoded as in itest.h, valid once reaped */
	int wstatus;           /* raw waitpid() status, if have_wstatus */
	int have_wstatus;
	char *name;            /* for diagnostics: "server :4242", "client alice" */
	char *log_path;        /* NULL if the output goes to /dev/null */
};

struct itest_server {
	struct itest_proc proc;  /* first: the registry holds &proc */
	int port;
};

struct itest_client {
	struct itest_proc proc;  /* first: the registry holds &proc */
	char *nick;
	int in_fd;               /* our end of its stdin, -1 once closed */
	int out_fd;              /* our end of its stdout */
	int out_eof;
	char *buf;               /* bytes read and not yet returned as lines */
	size_t len, cap;
	char *hist[ITEST_HIST];  /* recent I/O: "> sent", "< received" */
	size_t hist_next;
};

enum track_kind { TRACK_DIR, TRACK_FILE, TRACK_MEM };

struct tracked {
	struct tracked *next;
	enum track_kind kind;
	char *path;
};

static int itest_inited;
static pid_t itest_owner;
static struct itest_proc *itest_procs;
static struct tracked *itest_tracked;
static double itest_scale = 1.0;
static int itest_verbose;

/* ---- small helpers -------------------------------------------------- */

static void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p) {
		fputs("[itest] out of memory\n", stderr);
		abort();
	}
	return p;
}

static void *xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (!q) {
		fputs("[itest] out of memory\n", stderr);
		abort();
	}
	return q;
}

static char *xstrdup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *d = xmalloc(n);
	memcpy(d, s, n);
	return d;
}

static char *xvasprintf(const char *fmt, va_list ap)
{
	va_list ap2;
	va_copy(ap2, ap);
	int n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0) {
		fputs("[itest] vsnprintf failed\n", stderr);
		abort();
	}
	char *s = xmalloc((size_t)n + 1);
	vsnprintf(s, (size_t)n + 1, fmt, ap);
	return s;
}

static char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static char *xasprintf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *s = xvasprintf(fmt, ap);
	va_end(ap);
	return s;
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* Milliseconds left until DEADLINE, clamped to [0, INT_MAX]. */
static int remaining_ms(int64_t deadline)
{
	int64_t left = deadline - now_ms();
	if (left < 0)
		return 0;
	if (left > INT_MAX)
		return INT_MAX;
	return (int)left;
}

static int64_t deadline_after(int timeout_ms)
{
	return now_ms() + itest_scale_ms(timeout_ms < 0 ? 0 : timeout_ms);
}

static void set_cloexec(int fd)
{
	int flags = fcntl(fd, F_GETFD);
	if (flags >= 0)
		fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
}

static void set_nonblock(int fd)
{
	int flags = fcntl(fd, F_GETFL);
	if (flags >= 0)
		fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

static int env_flag(const char *name)
{
	const char *v = getenv(name);
	return v && *v && strcmp(v, "0") != 0;
}

static void itest_init(void)
{
	if (itest_inited)
		return;
	itest_inited = 1;
	itest_owner = getpid();

	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = SIG_IGN;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGPIPE, &sa, NULL);

	/* Keep 0..2 open so no pipe or log we open lands there and gets
	 * clobbered by the dup2()s in a child. */
	for (int fd = 0; fd <= 2; fd++)
		if (fcntl(fd, F_GETFD) < 0 && errno == EBADF)
			if (open("/dev/null", O_RDWR) < 0)
				break;

	const char *scale = getenv("ITEST_TIMEOUT_SCALE");
	if (scale && *scale) {
		char *end;
		double v = strtod(scale, &end);
		if (end != scale && v > 0)
			itest_scale = v;
	}
	itest_verbose = env_flag("ITEST_VERBOSE");
	/* The clients read no config file of the person running the tests
	 * (a test that wants one sets XDG_CONFIG_HOME or passes --config). */
	setenv("XDG_CONFIG_HOME", "/nonexistent/cryptocat-itest", 1);
	atexit(itest_cleanup);
}

int itest_scale_ms(int ms)
{
	itest_init();
	if (ms <= 0)
		return ms;
	double v = ms * itest_scale;
	if (v > INT_MAX)
		return INT_MAX;
	return v < 1 ? 1 : (int)v;
}

static const char *track(enum track_kind kind, char *path)
{
	struct tracked *t = xmalloc(sizeof *t);
	t->kind = kind;
	t->path = path;
	t->next = itest_tracked;
	itest_tracked = t;
	return path;
}

static void track_file_once(const char *path)
{
	for (struct tracked *t = itest_tracked; t; t = t->next)
		if (t->kind == TRACK_FILE && strcmp(t->path, path) == 0)
			return;
	track(TRACK_FILE, xstrdup(path));
}

/* The directory part of PATH ("." if none), malloc'd. */
static char *parent_dir(const char *path)
{
	size_t n = strlen(path);
	while (n > 1 && path[n - 1] == '/')
		n--;
	while (n > 0 && path[n - 1] != '/')
		n--;
	if (n == 0)
		return xstrdup(".");
	while (n > 1 && path[n - 1] == '/')
		n--;
	char *d = xmalloc(n + 1);
	memcpy(d, path, n);
	d[n] = '\0';
	return d;
}

static char *sanitize(const char *s)
{
	if (!s || !*s)
		return xstrdup("none");
	char *d = xstrdup(s);
	for (char *p = d; *p; p++) {
		unsigned char ch = (unsigned char)*p;
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '_' || ch == '-' ||
		      ch == '.'))
			*p = '_';
	}
	if (strlen(d) > 40)
		d[40] = '\0';
	return d;
}

/* Prints the end of the file at PATH, each line indented. */
static void print_tail(const char *label, const char *path)
{
	if (!path)
		return;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "[itest]   %s %s: cannot open: %s\n", label, path,
			strerror(errno));
		return;
	}
	struct stat st;
	off_t start = 0;
	if (fstat(fd, &st) == 0 && st.st_size > ITEST_TAIL_BYTES)
		start = st.st_size - ITEST_TAIL_BYTES;
	char buf[ITEST_TAIL_BYTES + 1];
	ssize_t n = pread(fd, buf, ITEST_TAIL_BYTES, start);
	close(fd);
	if (n < 0)
		n = 0;
	buf[n] = '\0';
	char *p = buf;
	if (start > 0) {
		char *nl = strchr(p, '\n');
		if (nl)
			p = nl + 1;
	}
	fprintf(stderr, "[itest]   %s %s%s:\n", label, path,
		start > 0 ? " (tail)" : "");
	if (!*p) {
		fputs("[itest]     (empty)\n", stderr);
		return;
	}
	while (*p) {
		char *nl = strchr(p, '\n');
		int len = nl ? (int)(nl - p) : (int)strlen(p);
		fprintf(stderr, "[itest]     | %.*s\n", len, p);
		p += len + (nl ? 1 : 0);
	}
}

/* ---- files ------------------------------------------------------------ */

static int rm_rf_at(int at, const char *name)
{
	struct stat st;
	if (fstatat(at, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
		return errno == ENOENT ? 0 : -1;
	if (!S_ISDIR(st.st_mode))
		return unlinkat(at, name, 0);
	int fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -1;
	fchmod(fd, 0700);
	DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -1;
	}
	int rc = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (rm_rf_at(fd, e->d_name) != 0)
			rc = -1;
	}
	closedir(d);
	if (unlinkat(at, name, AT_REMOVEDIR) != 0)
		rc = -1;
	return rc;
}

const char *itest_tmpdir(const char *name)
{
	itest_init();
	const char *base = getenv("TMPDIR");
	if (!base || base[0] != '/')
		base = "/tmp";
	char *clean = sanitize(name);
	char *tmpl = xasprintf("%s/cryptocat-itest-%s-XXXXXX", base, clean);
	free(clean);
	if (!mkdtemp(tmpl)) {
		fprintf(stderr, "[itest] mkdtemp %s: %s\n", tmpl, strerror(errno));
		free(tmpl);
		return NULL;
	}
	return track(TRACK_DIR, tmpl);
}

const char *itest_path(const char *parent, const char *name)
{
	itest_init();
	return track(TRACK_MEM, xasprintf("%s/%s", parent, name));
}

const char *itest_subdir(const char *parent, const char *name)
{
	if (!parent || !name)
		return NULL;
	const char *path = itest_path(parent, name);
	struct stat st;
	if (mkdir(path, 0700) != 0 &&
	    !(errno == EEXIST && stat(path, &st) == 0 && S_ISDIR(st.st_mode))) {
		fprintf(stderr, "[itest] mkdir %s: %s\n", path, strerror(errno));
		return NULL;
	}
	return path;
}

char *itest_read_file(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	size_t cap = 4096, n = 0;
	char *data = xmalloc(cap);
	for (;;) {
		if (cap - n < 2) {
			cap *= 2;
			data = xrealloc(data, cap);
		}
		ssize_t r = read(fd, data + n, cap - n - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			close(fd);
			free(data);
			return NULL;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	data[n] = '\0';
	if (len)
		*len = n;
	return data;
}

/* ---- processes ---------------------------------------------------------- */

static int encode_status(int st)
{
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	if (WIFSIGNALED(st))
		return 128 + WTERMSIG(st);
	return -1;
}

static void describe_status(const struct itest_proc *p, char *out, size_t n)
{
	if (!p->have_wstatus)
		snprintf(out, n, "unknown status");
	else if (WIFSIGNALED(p->wstatus))
		snprintf(out, n, "killed by signal %d (%s)", WTERMSIG(p->wstatus),
			strsignal(WTERMSIG(p->wstatus)));
	else
		snprintf(out, n, "exit status %d", p->status);
}

static void proc_reaped(struct itest_proc *p, pid_t r, int st)
{
	p->reaped = 1;
	p->have_wstatus = r == p->pid;
	p->wstatus = st;
	p->status = r == p->pid ? encode_status(st) : -1;
}

/* 1 if the process has exited (and is reaped), 0 if it still runs. */
static int proc_poll(struct itest_proc *p)
{
	if (p->reaped)
		return 1;
	int st;
	pid_t r;
	do
		r = waitpid(p->pid, &st, WNOHANG);
	while (r < 0 && errno == EINTR);
	if (r == 0)
		return 0;
	proc_reaped(p, r, st);
	return 1;
}

/* Waits up to TIMEOUT_MS (already scaled) for the process to exit. */
static int proc_wait(struct itest_proc *p, int timeout_ms)
{
	int64_t deadline = now_ms() + timeout_ms;
	for (;;) {
		if (proc_poll(p))
			return 1;
		if (remaining_ms(deadline) == 0)
			return 0;
		sleep_ms(5);
	}
}

static void proc_kill(struct itest_proc *p)
{
	if (p->reaped)
		return;
	kill(p->pid, SIGKILL);
	int st;
	pid_t r;
	do
		r = waitpid(p->pid, &st, 0);
	while (r < 0 && errno == EINTR);
	proc_reaped(p, r, st);
}

static void proc_register(struct itest_proc *p)
{
	p->next = itest_procs;
	itest_procs = p;
}

static void proc_unregister(struct itest_proc *p)
{
	for (struct itest_proc **pp = &itest_procs; *pp; pp = &(*pp)->next) {
		if (*pp == p) {
			*pp = p->next;
			p->next = NULL;
			return;
		}
	}
}

static void client_free(struct itest_client *c);

/* Unregisters and frees a server, client or run record. */
static void proc_free(struct itest_proc *p)
{
	proc_unregister(p);
	if (p->kind == PROC_CLIENT) {
		client_free((struct itest_client *)(void *)p);
		return;
	}
	free(p->name);
	free(p->log_path);
	free(p);
}

struct argvec {
	char **v;
	size_t n, cap;
};

static void argv_push(struct argvec *a, const char *s)
{
	if (a->n + 2 > a->cap) {
		a->cap = a->cap ? a->cap * 2 : 16;
		a->v = xrealloc(a->v, a->cap * sizeof *a->v);
	}
	a->v[a->n++] = xstrdup(s);
	a->v[a->n] = NULL;
}

static void argv_push_all(struct argvec *a, const char *const *args)
{
	for (size_t i = 0; args && args[i]; i++)
		argv_push(a, args[i]);
}

static void argv_free(struct argvec *a)
{
	for (size_t i = 0; i < a->n; i++)
		free(a->v[i]);
	free(a->v);
	a->v = NULL;
	a->n = a->cap = 0;
}

/* ARGS has OPT, as "OPT" or "OPT=...". */
static int has_option(const char *const *args, const char *opt)
{
	size_t n = strlen(opt);
	for (size_t i = 0; args && args[i]; i++)
		if (strncmp(args[i], opt, n) == 0 &&
		    (args[i][n] == '\0' || args[i][n] == '='))
			return 1;
	return 0;
}

/* A log file opened for appending (O_CLOEXEC; the child's dup2 clears it),
 * or /dev/null for a NULL path. */
static int open_log(const char *path)
{
	int fd = open(path ? path : "/dev/null",
		O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd < 0)
		fprintf(stderr, "[itest] open %s: %s\n", path ? path : "/dev/null",
			strerror(errno));
	return fd;
}

/* fork + exec PATH with ARGV; the child's 0, 1, 2 become IN, OUT, ERR. The
 * child dies with the test process (Linux). -1 if fork failed. */
static pid_t spawn(const char *path, char *const argv[], int in, int out, int err)
{
	pid_t parent = getpid();
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		fprintf(stderr, "[itest] fork: %s\n", strerror(errno));
		return -1;
	}
	if (pid > 0)
		return pid;

	/* Child: system calls only, then exec or _exit (never exit(): that
	 * would run the test's atexit handlers here). */
#ifdef __linux__
	prctl(PR_SET_PDEATHSIG, SIGKILL);
#endif
	if (getppid() != parent)
		_exit(126);
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = SIG_DFL;
	sigemptyset(&sa.sa_mask);
	const int sigs[] = {SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGCHLD};
	for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
		sigaction(sigs[i], &sa, NULL);
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);

	if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0)
		_exit(126);
	execv(path, argv);
	const char *msg = "[itest] exec failed: ";
	if (write(2, msg, strlen(msg)) < 0 || write(2, path, strlen(path)) < 0 ||
	    write(2, "\n", 1) < 0)
		_exit(127);
	_exit(127);
}

/* ---- setup and cleanup ------------------------------------------------ */

void itest_cleanup(void)
{
	if (!itest_inited || getpid() != itest_owner)
		return;
	while (itest_procs) {
		struct itest_proc *p = itest_procs;
		if (!proc_poll(p)) {
			fprintf(stderr, "[itest] cleanup: killing %s (pid %ld), "
				"still running (did the test fail?)\n", p->name,
				(long)p->pid);
			proc_kill(p);
			print_tail("its log", p->log_path);
		}
		proc_free(p);
	}

	int keep = env_flag("ITEST_KEEP");
	/* Files first (they may lie outside the directories), then dirs. */
	for (int pass = 0; pass < 2; pass++) {
		for (struct tracked *t = itest_tracked; t; t = t->next) {
			if (pass == 0 && t->kind == TRACK_FILE) {
				if (keep)
					fprintf(stderr, "[itest] kept log %s\n", t->path);
				else if (unlink(t->path) != 0 && errno != ENOENT)
					fprintf(stderr, "[itest] unlink %s: %s\n",
						t->path, strerror(errno));
			}
			if (pass == 1 && t->kind == TRACK_DIR) {
				if (keep)
					fprintf(stderr, "[itest] kept dir %s\n", t->path);
				else if (rm_rf_at(AT_FDCWD, t->path) != 0)
					fprintf(stderr, "[itest] could not remove %s: %s\n",
						t->path, strerror(errno));
			}
		}
	}
	while (itest_tracked) {
		struct tracked *t = itest_tracked;
		itest_tracked = t->next;
		free(t->path);
		free(t);
	}
}

int itest_teardown(void **state)
{
	(void)state;
	itest_cleanup();
	return 0;
}

/* Where the test variants of the programs are (with the test hooks: the
 * clock of CRYPTOCAT_CLOCK_FILE); without CC_TESTBIN_DIR (the harness's own
 * self-test), the programs in CC_BINARY_DIR. */
#ifdef CC_TESTBIN_DIR
#define ITEST_BIN_DIR CC_TESTBIN_DIR
#else
#define ITEST_BIN_DIR CC_BINARY_DIR
#endif

static const char *bin_path(const char *env, const char *name, char **cache)
{
	if (!*cache) {
		const char *v = getenv(env);
		*cache = v && *v ? xstrdup(v) : xasprintf("%s/%s", ITEST_BIN_DIR, name);
	}
	return *cache;
}

static char *itest_server_bin_path;
static char *itest_client_bin_path;

const char *itest_server_bin(void)
{
	return bin_path("ITEST_SERVER_BIN", "cryptocat-server", &itest_server_bin_path);
}

const char *itest_client_bin(void)
{
	return bin_path("ITEST_CLIENT_BIN", "cryptocat", &itest_client_bin_path);
}

const char *itest_release_server_bin(void)
{
	return CC_BINARY_DIR "/cryptocat-server";
}

const char *itest_release_client_bin(void)
{
	return CC_BINARY_DIR "/cryptocat";
}

void itest_use_binaries(const char *server, const char *client)
{
	free(itest_server_bin_path);
	itest_server_bin_path = server ? xstrdup(server) : NULL;
	free(itest_client_bin_path);
	itest_client_bin_path = client ? xstrdup(client) : NULL;
}

static int check_bin(const char *path)
{
	if (access(path, X_OK) == 0)
		return 1;
	fprintf(stderr, "[itest] %s is not an executable: %s\n", path,
		strerror(errno));
	return 0;
}

int itest_have_binaries(void)
{
	int ok = check_bin(itest_server_bin());
	return check_bin(itest_client_bin()) && ok;
}

/* ---- raw TCP ---------------------------------------------------------- */

static void loopback(struct sockaddr_in *sa, int port)
{
	memset(sa, 0, sizeof *sa);
	sa->sin_family = AF_INET;
	sa->sin_port = htons((uint16_t)port);
	sa->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
}

int itest_free_port(void)
{
	itest_init();
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		return -1;
	struct sockaddr_in sa;
	loopback(&sa, 0);
	socklen_t len = sizeof sa;
	int port = -1;
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
		port = ntohs(sa.sin_port);
	else
		fprintf(stderr, "[itest] free port: %s\n", strerror(errno));
	close(fd);
	return port;
}

int itest_tcp_connect(int port)
{
	itest_init();
	if (port <= 0 || port > 65535) {
		errno = EINVAL;
		return -1;
	}
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		return -1;
	set_cloexec(fd);
	struct sockaddr_in sa;
	loopback(&sa, port);
	int r;
	do
		r = connect(fd, (struct sockaddr *)&sa, sizeof sa);
	while (r != 0 && errno == EINTR);
	if (r != 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

int itest_tcp_send_all(int fd, const void *data, size_t len)
{
	itest_init();
	const char *p = data;
	while (len > 0) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int itest_tcp_wait_closed(int fd, int timeout_ms)
{
	int64_t deadline = deadline_after(timeout_ms);
	char buf[4096];
	for (;;) {
		ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
		if (n == 0)
			return 1;
		if (n > 0)
			continue;
		if (errno == ECONNRESET)
			return 1;
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			return -1;
		int left = remaining_ms(deadline);
		if (left == 0)
			return 0;
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		if (poll(&pfd, 1, left) < 0 && errno != EINTR)
			return -1;
	}
}

/* ---- any program ------------------------------------------------------ */

static struct itest_proc *proc_new(enum proc_kind kind, size_t size, pid_t pid,
	char *name, const char *log_path)
{
	struct itest_proc *p = xmalloc(size);
	memset(p, 0, size);
	p->kind = kind;
	p->pid = pid;
	p->name = name;
	p->log_path = log_path ? xstrdup(log_path) : NULL;
	proc_register(p);
	return p;
}

int itest_run(const char *path, const char *const *args, const char *log_path,
	int timeout_ms)
{
	itest_init();
	int in = open("/dev/null", O_RDONLY | O_CLOEXEC);
	int out = open_log(log_path);
	if (in < 0 || out < 0) {
		if (in >= 0)
			close(in);
		if (out >= 0)
			close(out);
		return -1;
	}
	if (log_path)
		track_file_once(log_path);
	struct argvec av = {0};
	argv_push(&av, path);
	argv_push_all(&av, args);
	pid_t pid = spawn(path, av.v, in, out, out);
	argv_free(&av);
	close(in);
	close(out);
	if (pid < 0)
		return -1;
	struct itest_proc *p = proc_new(PROC_RUN, sizeof *p, pid,
		xasprintf("run %s", path), log_path);
	int status;
	if (proc_wait(p, itest_scale_ms(timeout_ms))) {
		status = p->status;
	} else {
		fprintf(stderr, "[itest] %s (pid %ld) did not exit within %d ms; "
			"killing it\n", p->name, (long)pid, itest_scale_ms(timeout_ms));
		proc_kill(p);
		print_tail("its log", p->log_path);
		status = -1;
	}
	proc_free(p);
	return status;
}

/* ---- server ----------------------------------------------------------- */

int itest_server_port(const struct itest_server *s)
{
	return s ? s->port : -1;
}

pid_t itest_server_pid(const struct itest_server *s)
{
	return s ? s->proc.pid : -1;
}

const char *itest_server_log(const struct itest_server *s)
{
	return s ? s->proc.log_path : NULL;
}

/* One attempt. Returns the server, or NULL with *retry set if the process
 * exited during startup (worth another try). */
static struct itest_server *server_try(const char *data_dir, int port,
	const char *const *extra_args, int *retry, int last)
{
	*retry = 0;
	char *dir = parent_dir(data_dir);
	char *log_path = xasprintf("%s/server-%d.log", dir, port);
	free(dir);
	int in = open("/dev/null", O_RDONLY | O_CLOEXEC);
	int out = open_log(log_path);
	if (in < 0 || out < 0) {
		if (in >= 0)
			close(in);
		if (out >= 0)
			close(out);
		free(log_path);
		return NULL;
	}
	track_file_once(log_path);

	char listen[32];
	snprintf(listen, sizeof listen, "127.0.0.1:%d", port);
	struct argvec av = {0};
	argv_push(&av, itest_server_bin());
	argv_push(&av, "--listen");
	argv_push(&av, listen);
	argv_push(&av, "--data");
	argv_push(&av, data_dir);
	if (!has_option(extra_args, "--log-level")) {
		const char *level = getenv("ITEST_LOG_LEVEL");
		argv_push(&av, "--log-level");
		argv_push(&av, level && *level ? level : "debug");
	}
	argv_push_all(&av, extra_args);
	pid_t pid = spawn(itest_server_bin(), av.v, in, out, out);
	argv_free(&av);
	close(in);
	close(out);
	if (pid < 0) {
		free(log_path);
		return NULL;
	}

	struct itest_server *s = (struct itest_server *)(void *)proc_new(
		PROC_SERVER, sizeof *s, pid, xasprintf("server :%d", port), log_path);
	free(log_path);
	s->port = port;

	int timeout = itest_scale_ms(ITEST_START_TIMEOUT_MS);
	int64_t deadline = now_ms() + timeout;
	for (;;) {
		if (proc_poll(&s->proc))
			break;
		int fd = itest_tcp_connect(port);
		if (fd >= 0) {
			close(fd);
			/* A connect can reach another process that owns the
			 * port; ours would then have failed to bind. */
			if (!proc_poll(&s->proc))
				return s;
			break;
		}
		if (remaining_ms(deadline) == 0) {
			fprintf(stderr, "[itest] %s (pid %ld): port not accepting "
				"connections after %d ms\n", s->proc.name, (long)pid,
				timeout);
			proc_kill(&s->proc);
			print_tail("server log", s->proc.log_path);
			proc_free(&s->proc);
			return NULL;
		}
		sleep_ms(20);
	}

	char what[96];
	describe_status(&s->proc, what, sizeof what);
	fprintf(stderr, "[itest] %s (pid %ld) exited during startup (%s)%s\n",
		s->proc.name, (long)pid, what, last ? "" : "; retrying");
	if (last)
		print_tail("server log", s->proc.log_path);
	proc_free(&s->proc);
	*retry = 1;
	return NULL;
}

struct itest_server *itest_server_start_on(const char *data_dir, int port,
	const char *const *extra_args)
{
	itest_init();
	if (!data_dir || !check_bin(itest_server_bin()))
		return NULL;
	for (int attempt = 0; attempt < ITEST_SERVER_ATTEMPTS; attempt++) {
		int p = port > 0 ? port : itest_free_port();
		if (p <= 0)
			return NULL;
		if (attempt > 0 && port > 0)
			sleep_ms(200);
		int retry;
		struct itest_server *s = server_try(data_dir, p, extra_args, &retry,
			attempt == ITEST_SERVER_ATTEMPTS - 1);
		if (s || !retry)
			return s;
	}
	fprintf(stderr, "[itest] server did not start after %d attempts\n",
		ITEST_SERVER_ATTEMPTS);
	return NULL;
}

struct itest_server *itest_server_start(const char *data_dir,
	const char *const *extra_args)
{
	return itest_server_start_on(data_dir, 0, extra_args);
}

int itest_server_stop_signal(struct itest_server *s, int sig)
{
	if (!s)
		return -1;
	int status;
	int timeout = itest_scale_ms(ITEST_STOP_TIMEOUT_MS);
	if (!s->proc.reaped)
		kill(s->proc.pid, sig);
	if (proc_wait(&s->proc, timeout)) {
		status = s->proc.status;
		if (status != 0) {
			char what[96];
			describe_status(&s->proc, what, sizeof what);
			fprintf(stderr, "[itest] %s (pid %ld) stopped with %s\n",
				s->proc.name, (long)s->proc.pid, what);
			print_tail("server log", s->proc.log_path);
		}
	} else {
		fprintf(stderr, "[itest] %s (pid %ld) still running %d ms after "
			"signal %d; killing it\n", s->proc.name, (long)s->proc.pid,
			timeout, sig);
		proc_kill(&s->proc);
		print_tail("server log", s->proc.log_path);
		status = -1;
	}
	proc_free(&s->proc);
	return status;
}

int itest_server_stop(struct itest_server *s)
{
	return itest_server_stop_signal(s, SIGTERM);
}

void itest_server_kill(struct itest_server *s)
{
	if (!s)
		return;
	proc_kill(&s->proc);
	proc_free(&s->proc);
}

/* ---- client ----------------------------------------------------------- */

static void client_free(struct itest_client *c)
{
	if (c->in_fd >= 0)
		close(c->in_fd);
	if (c->out_fd >= 0)
		close(c->out_fd);
	for (size_t i = 0; i < ITEST_HIST; i++)
		free(c->hist[i]);
	free(c->buf);
	free(c->nick);
	free(c->proc.name);
	free(c->proc.log_path);
	free(c);
}

pid_t itest_client_pid(const struct itest_client *c)
{
	return c ? c->proc.pid : -1;
}

const char *itest_client_log(const struct itest_client *c)
{
	return c ? c->proc.log_path : NULL;
}

const char *itest_client_nick(const struct itest_client *c)
{
	return c ? c->nick : NULL;
}

static void client_hist(struct itest_client *c, char dir, const char *line)
{
	size_t n = strlen(line);
	if (n > ITEST_HIST_LINE)
		n = ITEST_HIST_LINE;
	char *h = xmalloc(n + 3 + 4);
	h[0] = dir;
	h[1] = ' ';
	memcpy(h + 2, line, n);
	if (n < strlen(line))
		memcpy(h + 2 + n, "...", 4);
	else
		h[2 + n] = '\0';
	size_t slot = c->hist_next % ITEST_HIST;
	free(c->hist[slot]);
	c->hist[slot] = h;
	c->hist_next++;
	if (itest_verbose)
		fprintf(stderr, "[itest] %s %s\n", c->proc.name, h);
}

static void client_diag(struct itest_client *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Prints MESSAGE, then everything that helps to see why. */
static void client_diag(struct itest_client *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *msg = xvasprintf(fmt, ap);
	va_end(ap);
	fprintf(stderr, "[itest] %s (pid %ld): %s\n", c->proc.name,
		(long)c->proc.pid, msg);
	free(msg);
	if (c->len > 0) {
		/* Read from the client but not yet returned to the test. */
		fputs("[itest]   read, not yet consumed:\n", stderr);
		size_t off = 0;
		for (int shown = 0; off < c->len && shown < ITEST_HIST; shown++) {
			const char *p = c->buf + off;
			const char *nl = memchr(p, '\n', c->len - off);
			size_t n = nl ? (size_t)(nl - p) : c->len - off;
			fprintf(stderr, "[itest]     < %.*s%s\n",
				(int)(n > ITEST_HIST_LINE ? ITEST_HIST_LINE : n), p,
				nl ? "" : "  (no newline yet)");
			off += n + (nl ? 1 : 0);
		}
		if (off < c->len)
			fputs("[itest]     ...\n", stderr);
	}
	size_t first = c->hist_next > ITEST_HIST ? c->hist_next - ITEST_HIST : 0;
	if (c->hist_next == 0) {
		fputs("[itest]   no I/O with it yet\n", stderr);
	} else {
		fputs("[itest]   recent I/O (> sent, < received):\n", stderr);
		for (size_t i = first; i < c->hist_next; i++)
			fprintf(stderr, "[itest]     %s\n", c->hist[i % ITEST_HIST]);
	}
	if (proc_poll(&c->proc)) {
		char what[96];
		describe_status(&c->proc, what, sizeof what);
		fprintf(stderr, "[itest]   the client has exited: %s\n", what);
	} else {
		fputs("[itest]   the client is still running\n", stderr);
	}
	print_tail("client stderr", c->proc.log_path);
}

static struct itest_client *client_spawn(struct argvec *av, const char *nick,
	const char *log_path)
{
	int in[2], out[2];
	if (pipe(in) != 0) {
		fprintf(stderr, "[itest] pipe: %s\n", strerror(errno));
		return NULL;
	}
	if (pipe(out) != 0) {
		fprintf(stderr, "[itest] pipe: %s\n", strerror(errno));
		close(in[0]);
		close(in[1]);
		return NULL;
	}
	for (int i = 0; i < 2; i++) {
		set_cloexec(in[i]);
		set_cloexec(out[i]);
	}
	int err = open_log(log_path);
	if (err < 0) {
		close(in[0]);
		close(in[1]);
		close(out[0]);
		close(out[1]);
		return NULL;
	}
	if (log_path)
		track_file_once(log_path);
	pid_t pid = spawn(itest_client_bin(), av->v, in[0], out[1], err);
	close(in[0]);
	close(out[1]);
	close(err);
	if (pid < 0) {
		close(in[1]);
		close(out[0]);
		return NULL;
	}
	set_nonblock(in[1]);
	set_nonblock(out[0]);
	struct itest_client *c = (struct itest_client *)(void *)proc_new(
		PROC_CLIENT, sizeof *c, pid,
		nick ? xasprintf("client %s", nick) : xstrdup("client"), log_path);
	c->nick = nick ? xstrdup(nick) : NULL;
	c->in_fd = in[1];
	c->out_fd = out[0];
	return c;
}

struct itest_client *itest_client_start(int port, const char *home,
	const char *nick, const char *const *extra_args)
{
	itest_init();
	if (!home || !check_bin(itest_client_bin()))
		return NULL;
	char server[32];
	snprintf(server, sizeof server, "127.0.0.1:%d", port);
	struct argvec av = {0};
	argv_push(&av, itest_client_bin());
	argv_push(&av, "--batch");
	argv_push(&av, "--server");
	argv_push(&av, server);
	argv_push(&av, "--home");
	argv_push(&av, home);
	if (nick) {
		argv_push(&av, "--nick");
		argv_push(&av, nick);
	}
	if (!has_option(extra_args, "--rsa-bits")) {
		argv_push(&av, "--rsa-bits");
		argv_push(&av, "2048");
	}
	argv_push_all(&av, extra_args);

	/* HOME/../client-NICK.log, or -2, -3... for a restarted client. */
	char *dir = parent_dir(home);
	char *clean = sanitize(nick);
	char *log_path = NULL;
	for (int i = 1; i < 1000; i++) {
		free(log_path);
		log_path = i == 1 ? xasprintf("%s/client-%s.log", dir, clean)
			: xasprintf("%s/client-%s-%d.log", dir, clean, i);
		int fd = open(log_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd >= 0) {
			close(fd);
			break;
		}
		if (errno != EEXIST)
			break;  /* open_log() reports it */
	}
	free(dir);
	free(clean);
	struct itest_client *c = client_spawn(&av, nick, log_path);
	free(log_path);
	argv_free(&av);
	return c;
}

struct itest_client *itest_client_start_args(const char *const *args,
	const char *log_path)
{
	itest_init();
	if (!check_bin(itest_client_bin()))
		return NULL;
	struct argvec av = {0};
	argv_push(&av, itest_client_bin());
	argv_push_all(&av, args);
	struct itest_client *c = client_spawn(&av, NULL, log_path);
	argv_free(&av);
	return c;
}

int itest_client_send(struct itest_client *c, const char *line)
{
	if (!c || !line)
		return -1;
	client_hist(c, '>', line);
	if (c->in_fd < 0) {
		client_diag(c, "cannot send \"%s\": stdin already closed", line);
		return -1;
	}
	size_t n = strlen(line);
	char *data = xmalloc(n + 1);
	memcpy(data, line, n);
	data[n] = '\n';
	size_t off = 0;
	int64_t deadline = deadline_after(ITEST_TIMEOUT_MS);
	int rc = 0;
	while (off < n + 1) {
		ssize_t w = write(c->in_fd, data + off, n + 1 - off);
		if (w > 0) {
			off += (size_t)w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			int left = remaining_ms(deadline);
			struct pollfd pfd = {.fd = c->in_fd, .events = POLLOUT};
			if (left > 0 && poll(&pfd, 1, left) >= 0)
				continue;
			client_diag(c, "cannot send \"%s\": its stdin stayed full", line);
		} else {
			client_diag(c, "cannot send \"%s\": %s", line,
				w < 0 ? strerror(errno) : "short write");
		}
		rc = -1;
		break;
	}
	free(data);
	return rc;
}

int itest_client_sendf(struct itest_client *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *line = xvasprintf(fmt, ap);
	va_end(ap);
	int rc = itest_client_send(c, line);
	free(line);
	return rc;
}

void itest_client_close_stdin(struct itest_client *c)
{
	if (!c || c->in_fd < 0)
		return;
	close(c->in_fd);
	c->in_fd = -1;
	client_hist(c, '>', "(stdin closed)");
}

/* Reads what is available, waiting up to TIMEOUT_MS for something.
 * 1 if bytes came, 0 if none came, -1 at EOF or on error. */
static int client_fill(struct itest_client *c, int timeout_ms)
{
	if (c->out_eof)
		return -1;
	struct pollfd pfd = {.fd = c->out_fd, .events = POLLIN};
	int r = poll(&pfd, 1, timeout_ms);
	if (r < 0 && errno == EINTR)
		return 0;
	if (r < 0) {
		client_diag(c, "poll on its stdout: %s", strerror(errno));
		c->out_eof = 1;
		return -1;
	}
	if (r == 0)
		return 0;
	size_t got = 0;
	while (got < 1024 * 1024) {
		if (c->cap - c->len < 4096) {
			if (c->cap >= ITEST_LINE_MAX && !memchr(c->buf, '\n', c->len)) {
				client_diag(c, "more than %u bytes without a newline",
					ITEST_LINE_MAX);
				c->out_eof = 1;
				return -1;
			}
			c->cap = c->cap ? c->cap * 2 : 8192;
			c->buf = xrealloc(c->buf, c->cap);
		}
		ssize_t n = read(c->out_fd, c->buf + c->len, c->cap - c->len - 1);
		if (n > 0) {
			c->len += (size_t)n;
			got += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return got > 0;
		c->out_eof = 1;
		return got > 0 ? 1 : -1;
	}
	return 1;
}

/* The next complete line (without "\n" or "\r\n"), malloc'd, or NULL. At
 * EOF, an unterminated last line is returned as a line. */
static char *client_take_line(struct itest_client *c)
{
	if (c->len == 0)
		return NULL;
	char *nl = memchr(c->buf, '\n', c->len);
	if (!nl && !c->out_eof)
		return NULL;
	size_t n = nl ? (size_t)(nl - c->buf) : c->len;
	size_t used = nl ? n + 1 : n;
	if (n > 0 && c->buf[n - 1] == '\r')
		n--;
	char *line = xmalloc(n + 1);
	memcpy(line, c->buf, n);
	line[n] = '\0';
	memmove(c->buf, c->buf + used, c->len - used);
	c->len -= used;
	return line;
}

enum next_result { NEXT_OK, NEXT_TIMEOUT, NEXT_EOF, NEXT_BAD };

/* The next JSON object within TIMEOUT_MS (already scaled), or NULL and *RES
 * saying why. Prints a diagnostic on failure unless QUIET (WHAT says what we
 * were waiting for). */
static json_t *client_next_ex(struct itest_client *c, int timeout_ms,
	const char *what, int quiet, enum next_result *res)
{
	int64_t deadline = now_ms() + timeout_ms;
	char *line = NULL;
	for (;;) {
		line = client_take_line(c);
		if (line && line[0] == '\0') {
			free(line);  /* blank lines carry nothing */
			continue;
		}
		if (line)
			break;
		if (c->out_eof) {
			*res = NEXT_EOF;
			if (!quiet) {
				/* Give the exit status a moment to be known. */
				proc_wait(&c->proc, itest_scale_ms(1000));
				client_diag(c, "its stdout closed while waiting for %s",
					what);
			}
			return NULL;
		}
		int left = remaining_ms(deadline);
		if (left == 0) {
			*res = NEXT_TIMEOUT;
			if (!quiet)
				client_diag(c, "timed out waiting for %s", what);
			return NULL;
		}
		client_fill(c, left);
	}
	client_hist(c, '<', line);
	json_error_t err;
	json_t *j = json_loads(line, 0, &err);
	if (!j || !json_is_object(j)) {
		*res = NEXT_BAD;
		if (!quiet)
			client_diag(c, "waiting for %s, got a line that is not a JSON "
				"object (%s): %s", what, j ? "not an object" : err.text,
				line);
		json_decref(j);
		free(line);
		return NULL;
	}
	free(line);
	*res = NEXT_OK;
	return j;
}

char *itest_client_next_line(struct itest_client *c, int timeout_ms)
{
	int64_t deadline = now_ms() + itest_scale_ms(timeout_ms);
	for (;;) {
		char *line = client_take_line(c);
		if (line) {
			client_hist(c, '<', line);
			return line;
		}
		int left = remaining_ms(deadline);
		if (c->out_eof || left == 0) {
			client_diag(c, "no line of output came");
			return NULL;
		}
		client_fill(c, left);
	}
}

json_t *itest_client_next(struct itest_client *c, int timeout_ms)
{
	if (!c)
		return NULL;
	enum next_result res;
	int ms = itest_scale_ms(timeout_ms);
	char *what = xasprintf("a line (%d ms)", ms);
	json_t *j = client_next_ex(c, ms, what, 0, &res);
	free(what);
	return j;
}

static int has_event(const json_t *j, const char *event)
{
	const char *ev = itest_json_str(j, "event");
	return ev && strcmp(ev, event) == 0;
}

json_t *itest_client_expect(struct itest_client *c, const char *event,
	int timeout_ms)
{
	if (!c || !event)
		return NULL;
	int ms = itest_scale_ms(timeout_ms);
	char *what = xasprintf("event \"%s\" (%d ms)", event, ms);
	enum next_result res;
	json_t *j = client_next_ex(c, ms, what, 0, &res);
	if (j && !has_event(j, event)) {
		char *got = itest_json_dump(j);
		client_diag(c, "expected event \"%s\", got: %s", event, got);
		free(got);
		json_decref(j);
		j = NULL;
	}
	free(what);
	return j;
}

json_t *itest_client_expect_error(struct itest_client *c, const char *code,
	int timeout_ms)
{
	json_t *j = itest_client_expect(c, "error", timeout_ms);
	if (!j || !code)
		return j;
	const char *got = itest_json_str(j, "code");
	if (!got || strcmp(got, code) != 0) {
		char *line = itest_json_dump(j);
		client_diag(c, "expected error code \"%s\", got: %s", code, line);
		free(line);
		json_decref(j);
		return NULL;
	}
	return j;
}

json_t *itest_client_wait_for(struct itest_client *c, const char *event,
	int timeout_ms)
{
	if (!c || !event)
		return NULL;
	char *what = xasprintf("event \"%s\" (skipping others, %d ms in all)",
		event, itest_scale_ms(timeout_ms));
	int64_t deadline = deadline_after(timeout_ms);
	json_t *j;
	for (;;) {
		enum next_result res;
		j = client_next_ex(c, remaining_ms(deadline), what, 0, &res);
		if (!j && res != NEXT_BAD)
			break;
		if (j && has_event(j, event))
			break;
		if (j) {
			char *line = itest_json_dump(j);
			fprintf(stderr, "[itest] %s skipped: %s\n", c->proc.name, line);
			free(line);
			json_decref(j);
		}
	}
	free(what);
	return j;
}

/* A silence window grows with the scale only up to 4 times: under valgrind
 * (40 times) a 20 s window would become 13 minutes, in which the programs'
 * own timers (a keepalive at 60 s) fire, which is not what a test that
 * expects silence is about. */
static int silence_ms(int ms)
{
	itest_init();
	double f = itest_scale < 4 ? itest_scale : 4;
	double v = ms * f;
	return v > INT_MAX ? INT_MAX : v < 1 ? 1 : (int)v;
}

int itest_client_expect_silence(struct itest_client *c, int timeout_ms)
{
	if (!c)
		return 0;
	enum next_result res;
	json_t *j = client_next_ex(c, silence_ms(timeout_ms), "silence", 1,
		&res);
	if (res == NEXT_TIMEOUT)
		return 1;
	if (j) {
		char *line = itest_json_dump(j);
		client_diag(c, "expected no output for %d ms, got: %s",
			silence_ms(timeout_ms), line);
		free(line);
		json_decref(j);
	} else if (res == NEXT_EOF) {
		client_diag(c, "expected no output, but its stdout closed");
	} else {
		client_diag(c, "expected no output, got a line that is not JSON");
	}
	return 0;
}

int itest_client_wait_exit(struct itest_client *c, int timeout_ms)
{
	if (!c)
		return -1;
	int timeout = itest_scale_ms(timeout_ms < 0 ? 0 : timeout_ms);
	int64_t deadline = now_ms() + timeout;
	int status;
	for (;;) {
		/* Drain stdout so the client never blocks on a full pipe. */
		if (!c->out_eof)
			client_fill(c, 0);
		char *line;
		while ((line = client_take_line(c)) != NULL) {
			if (line[0])
				client_hist(c, '<', line);
			free(line);
		}
		if (proc_poll(&c->proc)) {
			status = c->proc.status;
			if (status != 0) {
				char what[96];
				describe_status(&c->proc, what, sizeof what);
				client_diag(c, "exited with %s", what);
			}
			break;
		}
		int left = remaining_ms(deadline);
		if (left == 0) {
			client_diag(c, "did not exit within %d ms; killing it", timeout);
			proc_kill(&c->proc);
			status = -1;
			break;
		}
		if (c->out_eof) {
			sleep_ms(left < 5 ? left : 5);
		} else {
			struct pollfd pfd = {.fd = c->out_fd, .events = POLLIN};
			poll(&pfd, 1, left < 10 ? left : 10);
		}
	}
	proc_free(&c->proc);
	return status;
}

void itest_client_kill(struct itest_client *c)
{
	if (!c)
		return;
	proc_kill(&c->proc);
	proc_free(&c->proc);
}

/* ---- JSON ------------------------------------------------------------- */

const char *itest_json_str(const json_t *obj, const char *key)
{
	if (!obj || !key || !json_is_object(obj))
		return NULL;
	return json_string_value(json_object_get(obj, key));
}

long long itest_json_int(const json_t *obj, const char *key, long long def)
{
	if (!obj || !key || !json_is_object(obj))
		return def;
	const json_t *v = json_object_get(obj, key);
	return json_is_integer(v) ? (long long)json_integer_value(v) : def;
}

char *itest_json_dump(const json_t *obj)
{
	if (!obj)
		return xstrdup("(null)");
	char *s = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
	return s ? s : xstrdup("(unprintable)");
}
