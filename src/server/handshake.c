/* Handshakes under attack (docs/ROBUSTNESS.md ("Handshake floods")): the RSA work off the
 * event loop, per-address limits, and the adaptive proof of work.
 *
 * The one RSA private-key operation of a handshake (chan_server_finish_key)
 * runs on a small pool of worker threads fed from a bounded FIFO. A worker
 * touches only the job's channel and the server key; the loop learns of a
 * finished job through an eventfd and hands the result back to the
 * connection. A connection that goes away while its job is queued or running
 * leaves the channel to the job, which is freed when the job comes back.
 *
 * Per address (an IPv4 address, or an IPv6 /64): at most preauth_per_addr
 * connections still in their handshake, and new connections through a token
 * bucket (handshake_rate per second, handshake_burst at once); not for
 * loopback when the server is an onion service (tor connects from there).
 *
 * The puzzle's difficulty (PROTOCOL.md 4.2), decided in the loop thread:
 * "hot" is jobs waiting for a worker (more than the workers), or the last
 * second's CLIENT_KEYs (solved or not) enough to keep the workers a quarter
 * busy. Hot: at least PUZZLE_START bits, one more each second more than four
 * jobs per worker are waiting, up to puzzle_max_bits. Five seconds without
 * being hot: back to puzzle_min_bits. */
#include <errno.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "crypto/crypto.h"
#include "server/server_internal.h"
#include "transport/chan.h"
#include "util/clock.h"
#include "util/log.h"

#define PUZZLE_START 16       /* bits: ~65 k hashes, tens of ms for a client */
#define CALM_MS 5000          /* not hot this long: the puzzle goes away */
#define ADDR_BUCKETS 4096
#define JOB_NS_GUESS 2000000  /* an RSA-3072 job before one was measured */
#define STATS_EVERY_S 10
#define WORKER_NICE 10        /* relative weight about 1/10 of the loop's */

struct hs_job {
	struct hs_job *next;
	struct conn *conn;       /* NULL once the connection went away (loop only) */
	struct chan *chan;       /* owned by the job while it is out */
	struct buf wire;         /* a plaintext ERROR, if the key was refused */
	cc_err err;
	bool started, cancelled; /* under the pool's lock */
};

struct hs_addr {
	struct hs_addr *next;
	uint8_t key[17];         /* family, then 4 or 8 address bytes, zero padded */
	unsigned preauth;        /* its connections still in their handshake */
	uint64_t tokens_milli;   /* the bucket, in thousandths of a connection */
	uint64_t refill_ms;
};

struct hs_pool {
	struct server *srv;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	pthread_t *threads;
	unsigned nthreads;
	bool stop;
	struct hs_job *head, *tail;  /* waiting for a worker */
	unsigned waiting;
	struct hs_job *done;         /* back from a worker, for the loop */
	uint64_t job_ns_avg;         /* moving average of one job's time */
	uint64_t rsa_jobs;           /* jobs run: at most one RSA operation each */
	int efd;
	struct event *done_ev, *tick_ev;

	/* loop thread only */
	unsigned level;              /* the puzzle's bits now */
	uint64_t hot_ms;             /* the last time it was hot */
	unsigned keys_this_second;
	unsigned ticks;
	struct hs_addr *addrs[ADDR_BUCKETS];
	uint64_t addr_seed;
	uint64_t puzzle_refused, busy_refused, addr_refused, rate_refused;
	uint64_t cancelled;          /* jobs never run: their connection left first */
	uint64_t orphans;            /* jobs back after their connection left */
	uint64_t last_logged;        /* the sum of all counters at the last log */
};

static void *hs_worker(void *arg)
{
	struct hs_pool *p = arg;
	/* Below the loop thread: when the cores are short, the connections that
	 * are already open are served first and the handshakes wait (Linux
	 * gives each thread its own nice value). */
	int base = getpriority(PRIO_PROCESS, 0);
	if (setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), base + WORKER_NICE) != 0)
		log_debug("handshake worker: cannot lower its priority: %s", strerror(errno));
	pthread_mutex_lock(&p->lock);
	for (;;) {
		while (!p->stop && !p->head)
			pthread_cond_wait(&p->wake, &p->lock);
		if (p->stop)
			break;
		struct hs_job *job = p->head;
		p->head = job->next;
		if (!p->head)
			p->tail = NULL;
		p->waiting--;
		job->started = true;
		bool run = !job->cancelled;
		pthread_mutex_unlock(&p->lock);

		struct timespec t0, t1;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		if (run)
			job->err = chan_server_finish_key(job->chan, &job->wire);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		uint64_t ns = (uint64_t)(t1.tv_sec - t0.tv_sec) * 1000000000u +
			      (uint64_t)(t1.tv_nsec - t0.tv_nsec);

		pthread_mutex_lock(&p->lock);
		if (run) {
			p->rsa_jobs++;
			p->job_ns_avg = (7 * p->job_ns_avg + ns) / 8;
		}
		job->next = p->done;
		p->done = job;
		uint64_t one = 1;
		ssize_t w = write(p->efd, &one, sizeof one);
		(void)w;  /* the counter is already non-zero if it fails */
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

static void hs_job_free(struct hs_job *job)
{
	buf_free(&job->wire);
	free(job);
}

/* Finished jobs, in the loop: each goes back to its connection, if any. */
static void hs_done_cb(evutil_socket_t fd, short what, void *arg)
{
	struct hs_pool *p = arg;
	uint64_t n;
	(void)what;
	ssize_t r = read(fd, &n, sizeof n);
	(void)r;
	pthread_mutex_lock(&p->lock);
	struct hs_job *done = p->done;
	p->done = NULL;
	pthread_mutex_unlock(&p->lock);
	while (done) {
		struct hs_job *job = done;
		done = job->next;
		if (job->conn) {
			job->conn->hs_job = NULL;
			server_conn_key_done(job->conn, job->err, &job->wire);
		} else {
			p->orphans++;
			p->cancelled += job->cancelled;
			chan_free(job->chan);
		}
		hs_job_free(job);
	}
}

static void hs_heat(struct hs_pool *p, unsigned waiting)
{
	const struct server_config *cfg = p->srv->cfg;
	unsigned start = PUZZLE_START < cfg->puzzle_max_bits ? PUZZLE_START : cfg->puzzle_max_bits;
	if (p->level < start) {
		p->level = start;
		log_warn("handshakes: %u waiting for a worker; asking for a %u-bit proof of work",
			 waiting, p->level);
	}
	p->hot_ms = clock_mono_ms();
}

static void hs_log_stats(struct hs_pool *p, enum log_level level)
{
	pthread_mutex_lock(&p->lock);
	uint64_t rsa = p->rsa_jobs;
	pthread_mutex_unlock(&p->lock);
	uint64_t sum = rsa + p->puzzle_refused + p->busy_refused + p->addr_refused +
		       p->rate_refused;
	if (sum == p->last_logged && level != LOG_LEVEL_INFO)
		return;
	p->last_logged = sum;
	log_msg(level,
		"handshake stats: rsa_jobs=%llu puzzle_refused=%llu busy_refused=%llu "
		"addr_refused=%llu rate_refused=%llu cancelled=%llu orphans=%llu puzzle_bits=%u",
		(unsigned long long)rsa, (unsigned long long)p->puzzle_refused,
		(unsigned long long)p->busy_refused, (unsigned long long)p->addr_refused,
		(unsigned long long)p->rate_refused, (unsigned long long)p->cancelled,
		(unsigned long long)p->orphans, p->level);
}

static void hs_addr_sweep(struct hs_pool *p, uint64_t now);

/* Once a second: the puzzle's level, the address table's sweep, the stats. */
static void hs_tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct hs_pool *p = arg;
	const struct server_config *cfg = p->srv->cfg;
	(void)fd;
	(void)what;
	pthread_mutex_lock(&p->lock);
	unsigned waiting = p->waiting;
	uint64_t job_ns = p->job_ns_avg;
	pthread_mutex_unlock(&p->lock);
	uint64_t now = clock_mono_ms();

	/* The workers' busy time the last second's keys would have cost, against
	 * a quarter of what they have. */
	bool hot = waiting > p->nthreads ||
		   (uint64_t)p->keys_this_second * job_ns * 4 > (uint64_t)p->nthreads * 1000000000u;
	p->keys_this_second = 0;
	if (hot && cfg->puzzle_max_bits) {
		hs_heat(p, waiting);
		if (waiting > 4 * p->nthreads && p->level < cfg->puzzle_max_bits) {
			p->level++;
			log_warn("handshakes: still %u waiting; asking for %u bits", waiting,
				 p->level);
		}
	} else if (p->level && now - p->hot_ms >= CALM_MS) {
		log_info("handshakes: calm again; no proof of work asked");
		p->level = 0;
	}
	hs_addr_sweep(p, now);
	if (++p->ticks % STATS_EVERY_S == 0)
		hs_log_stats(p, LOG_LEVEL_DEBUG);
}

unsigned hs_puzzle_bits(const struct server *srv)
{
	const struct hs_pool *p = srv->hs;
	unsigned min = srv->cfg->puzzle_min_bits;
	return p->level > min ? p->level : min;
}

cc_err hs_submit(struct conn *c)
{
	struct hs_pool *p = c->srv->hs;
	p->keys_this_second++;
	struct hs_job *job = calloc(1, sizeof *job);
	if (!job)
		return CC_ERR_NOMEM;
	buf_init(&job->wire, PROTO_FRAME_MAX_PREAUTH);
	job->conn = c;
	job->chan = c->chan;

	pthread_mutex_lock(&p->lock);
	if (p->waiting >= c->srv->cfg->handshake_queue) {
		pthread_mutex_unlock(&p->lock);
		hs_job_free(job);
		p->busy_refused++;
		hs_heat(p, c->srv->cfg->handshake_queue);
		return CC_ERR_LIMIT;
	}
	if (p->tail)
		p->tail->next = job;
	else
		p->head = job;
	p->tail = job;
	unsigned waiting = ++p->waiting;
	pthread_cond_signal(&p->wake);
	pthread_mutex_unlock(&p->lock);
	c->hs_job = job;
	/* Falling behind: ask new clients for work at once, not at the tick. */
	if (waiting > p->nthreads && c->srv->cfg->puzzle_max_bits)
		hs_heat(p, waiting);
	return CC_OK;
}

void hs_note_puzzle_refused(struct server *srv)
{
	srv->hs->puzzle_refused++;
	srv->hs->keys_this_second++;
}

/* ---- per-address limits ---- */

static void addr_key(const struct sockaddr *sa, uint8_t key[17])
{
	memset(key, 0, 17);
	key[0] = (uint8_t)sa->sa_family;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
		memcpy(key + 1, &in->sin_addr, 4);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
		const uint8_t *a = in6->sin6_addr.s6_addr;
		static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
		if (memcmp(a, mapped, sizeof mapped) == 0) {
			/* An IPv4 client on a dual-stack socket counts as that address. */
			key[0] = AF_INET;
			memcpy(key + 1, a + 12, 4);
		} else {
			memcpy(key + 1, a, 8);  /* the /64 */
		}
	}
}

static bool addr_is_loopback(const uint8_t key[17])
{
	static const uint8_t v6_loopback[8] = {0};
	if (key[0] == AF_INET)
		return key[1] == 127;
	/* ::1 is in the /64 of zeros, which holds nothing else a peer can have. */
	return key[0] == AF_INET6 && memcmp(key + 1, v6_loopback, 8) == 0;
}

/* FNV-1a over a random seed and the key: an attacker cannot aim at one chain. */
static size_t addr_bucket(const struct hs_pool *p, const uint8_t key[17])
{
	uint64_t h = 1469598103934665603ull ^ p->addr_seed;
	for (size_t i = 0; i < 17; i++)
		h = (h ^ key[i]) * 1099511628211ull;
	return (size_t)(h % ADDR_BUCKETS);
}

static void addr_refill(const struct server_config *cfg, struct hs_addr *a, uint64_t now)
{
	uint64_t full = (uint64_t)cfg->handshake_burst * 1000;
	uint64_t gained = (now - a->refill_ms) * cfg->handshake_rate;
	a->tokens_milli = a->tokens_milli + gained < full ? a->tokens_milli + gained : full;
	a->refill_ms = now;
}

/* Entries with nothing in the handshake and a full bucket say nothing. */
static void hs_addr_sweep(struct hs_pool *p, uint64_t now)
{
	const struct server_config *cfg = p->srv->cfg;
	for (size_t i = 0; i < ADDR_BUCKETS; i++) {
		struct hs_addr **pp = &p->addrs[i];
		while (*pp) {
			struct hs_addr *a = *pp;
			addr_refill(cfg, a, now);
			if (a->preauth == 0 && a->tokens_milli == (uint64_t)cfg->handshake_burst * 1000) {
				*pp = a->next;
				free(a);
			} else {
				pp = &a->next;
			}
		}
	}
}

cc_err hs_admit(struct conn *c, const struct sockaddr *sa, const char **why)
{
	struct hs_pool *p = c->srv->hs;
	const struct server_config *cfg = c->srv->cfg;
	uint8_t key[17];
	uint64_t now = clock_mono_ms();

	addr_key(sa, key);
	/* Behind an onion service every client arrives from tor, on loopback: one
	 * quota would be shared by all of them. There the proof of work and the
	 * bounded queue are the defence (as in Tor's own onion services). */
	if (cfg->onion && addr_is_loopback(key))
		return CC_OK;
	size_t b = addr_bucket(p, key);
	struct hs_addr *a = p->addrs[b];
	while (a && memcmp(a->key, key, sizeof key) != 0)
		a = a->next;
	if (!a) {
		if (!(a = calloc(1, sizeof *a))) {
			*why = "server is out of memory";
			return CC_ERR_NOMEM;
		}
		memcpy(a->key, key, sizeof key);
		a->tokens_milli = (uint64_t)cfg->handshake_burst * 1000;
		a->refill_ms = now;
		a->next = p->addrs[b];
		p->addrs[b] = a;
	}
	addr_refill(cfg, a, now);
	if (a->preauth >= cfg->preauth_per_addr) {
		p->addr_refused++;
		*why = "too many handshakes in progress from your address";
		return CC_ERR_LIMIT;
	}
	if (a->tokens_milli < 1000) {
		p->rate_refused++;
		*why = "too many new connections from your address";
		return CC_ERR_LIMIT;
	}
	a->tokens_milli -= 1000;
	a->preauth++;
	c->hs_addr = a;
	return CC_OK;
}

void hs_conn_authenticated(struct conn *c)
{
	if (c->hs_addr) {
		c->hs_addr->preauth--;
		c->hs_addr = NULL;
	}
}

void hs_conn_gone(struct conn *c)
{
	struct hs_pool *p = c->srv->hs;
	hs_conn_authenticated(c);
	if (!c->hs_job)
		return;
	/* The channel stays with the job: a worker may be using it right now. */
	pthread_mutex_lock(&p->lock);
	if (!c->hs_job->started)
		c->hs_job->cancelled = true;
	pthread_mutex_unlock(&p->lock);
	c->hs_job->conn = NULL;
	c->hs_job = NULL;
	c->chan = NULL;
}

/* ---- the pool's life ---- */

cc_err hs_pool_start(struct server *srv)
{
	struct hs_pool *p = calloc(1, sizeof *p);
	if (!p)
		return CC_ERR_NOMEM;
	srv->hs = p;
	p->srv = srv;
	p->efd = -1;
	p->job_ns_avg = JOB_NS_GUESS;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->wake, NULL);
	if (crypto_random_bytes((uint8_t *)&p->addr_seed, sizeof p->addr_seed) != CC_OK)
		return CC_ERR_CRYPTO;
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned n = srv->cfg->handshake_workers ? srv->cfg->handshake_workers
						 : (unsigned)(cores > 0 ? cores : 1);
	p->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	p->threads = calloc(n, sizeof *p->threads);
	if (p->efd < 0 || !p->threads)
		return CC_ERR_NOMEM;
	p->done_ev = event_new(srv->base, p->efd, EV_READ | EV_PERSIST, hs_done_cb, p);
	p->tick_ev = event_new(srv->base, -1, EV_PERSIST, hs_tick_cb, p);
	struct timeval second = {1, 0};
	/* A finished handshake is served work: its client has paid and waited. */
	if (p->done_ev)
		event_priority_set(p->done_ev, 0);
	if (!p->done_ev || !p->tick_ev || event_add(p->done_ev, NULL) || event_add(p->tick_ev, &second))
		return CC_ERR_NOMEM;
	for (; p->nthreads < n; p->nthreads++)
		if (pthread_create(&p->threads[p->nthreads], NULL, hs_worker, p) != 0) {
			log_error("cannot start a handshake worker: %s", strerror(errno));
			return p->nthreads ? CC_OK : CC_ERR_NOMEM;
		}
	log_info("%u handshake workers, queue %u", p->nthreads, srv->cfg->handshake_queue);
	return CC_OK;
}

/* After every connection was freed: their jobs have no connection left. */
void hs_pool_stop(struct server *srv)
{
	struct hs_pool *p = srv->hs;
	if (!p)
		return;
	hs_log_stats(p, LOG_LEVEL_INFO);
	pthread_mutex_lock(&p->lock);
	p->stop = true;
	pthread_cond_broadcast(&p->wake);
	pthread_mutex_unlock(&p->lock);
	for (unsigned i = 0; i < p->nthreads; i++)
		pthread_join(p->threads[i], NULL);
	struct hs_job *lists[2] = {p->head, p->done};
	for (int l = 0; l < 2; l++)
		while (lists[l]) {
			struct hs_job *job = lists[l];
			lists[l] = job->next;
			chan_free(job->chan);
			hs_job_free(job);
		}
	for (size_t i = 0; i < ADDR_BUCKETS; i++)
		while (p->addrs[i]) {
			struct hs_addr *a = p->addrs[i];
			p->addrs[i] = a->next;
			free(a);
		}
	if (p->done_ev)
		event_free(p->done_ev);
	if (p->tick_ev)
		event_free(p->tick_ev);
	if (p->efd >= 0)
		close(p->efd);
	pthread_cond_destroy(&p->wake);
	pthread_mutex_destroy(&p->lock);
	free(p->threads);
	free(p);
	srv->hs = NULL;
}
