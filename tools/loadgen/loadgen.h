/* What the load generator's files share: its options, its state (one global,
 * g, defined in main.c) and the functions one file gives the others. main.c
 * says what the generator does and which file holds what. */
#ifndef CC_TOOLS_LOADGEN_H
#define CC_TOOLS_LOADGEN_H

#include <event2/event.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/crypto.h"
#include "e2e/e2e.h"
#include "proto/msg.h"
#include "proto/room.h"
#include "util/buf.h"

struct chan;

#define LG_CC_MAX_CLIENTS 256        /* a room holds at most 256 members */
#define LG_IRC_MAX_CLIENTS 5000
#define LG_IN_START (256u * 1024)
#define LG_READ_MIN (64u * 1024)
#define LG_OUT_MAX (256u * 1024 * 1024)
#define LG_IRC_PART_MAX 400          /* IRC lines are at most 512 bytes */
#define LG_IRC_LINE_MAX 4096
#define LG_CHANNEL "#bench"
#define LG_MAX_WORKERS 16

/* The latency histogram: microseconds, about 0.1% precision. */
#define LG_HIST_SUB_BITS 10
#define LG_HIST_SUB (1u << LG_HIST_SUB_BITS)
#define LG_HIST_LEN (LG_HIST_SUB * 40)

/* ---- options ---------------------------------------------------------------- */

struct lg_opts {
	bool irc;
	char host[64];
	uint16_t port;
	unsigned clients, senders, size;
	bool burst;
	unsigned window;
	double rate;                 /* messages/s, all senders together */
	double duration, warmup, drain, setup_timeout;
	char keys[1024];
	long server_pid;
	unsigned verify_every;
	long pool;                   /* per sender; -1: auto */
	unsigned ack_every;
	unsigned connect_batch;
	bool nodelay;
	bool timeline;
	double interval;             /* seconds between INTERVAL lines; 0: none */
	char label[64];
	/* A member played by another program (bench_follow's real client):
	 * added to the room, not connected here; the run waits for go_file. */
	char follower[33];
	char go_file[256];
};

/* ---- state ------------------------------------------------------------------- */

enum lg_phase { PH_CONNECT, PH_CREATE, PH_JOIN, PH_RUN, PH_DRAIN, PH_DONE };

enum lg_state {
	ST_IDLE,        /* not opened yet */
	ST_CONNECTING,  /* TCP connect in progress */
	ST_HELLO,       /* CLIENT_HELLO sent (IRC: NICK and USER) */
	ST_KEY,         /* CLIENT_KEY sent, waiting for WELCOME */
	ST_SIGNKEY,     /* SIGNING_KEY sent, waiting for OK */
	ST_RECVKEY,     /* RECEIVE_KEY sent, waiting for OK */
	ST_READY,       /* registered */
	ST_JOINING,
	ST_JOINED,
	ST_DEAD,
};

struct lg_conn;

struct lg_sender {
	struct lg_conn *c;
	uint64_t sent;               /* messages sent: the last seq */
	uint64_t acked;              /* answered: SENT, ERROR, or PONG (IRC) */
	uint64_t *sent_ns;           /* send time, by seq */
	size_t sent_cap;
	const uint8_t *pool;         /* pre-sealed MSG_SEND frames for seq 1..pool_n */
	size_t pool_n, stride;
	uint64_t live_sealed;
	uint8_t chain_key[E2E_KEY_LEN];  /* the sender's chain, at number keys_n + 1 */
	uint8_t (*keys)[E2E_KEY_LEN];    /* message keys of numbers 1..keys_n */
	size_t keys_n, keys_cap;
};

struct lg_conn {
	unsigned idx;
	char nick[16];
	int fd;
	enum lg_state state;
	struct event *rev, *wev;
	uint8_t *in;                 /* bytes read, not yet handled from in_off */
	size_t in_len, in_off, in_cap;
	struct buf out;              /* bytes to write, from out_off */
	size_t out_off;
	struct buf plain;            /* Crypto Cat: inner frames for the next record */
	bool dirty;
	struct lg_conn *dirty_next;
	struct chan *ch;
	uint32_t next_req, req_signkey, req_recvkey, req_join;
	uint64_t *last_seq;          /* per sender: the last seq received */
	uint64_t last_msg_id, unacked;
	bool oper;
};

struct lg {
	struct lg_opts o;
	struct sockaddr_in addr;
	struct event_base *base;
	struct event *tick_ev, *pace_ev, *win_start_ev, *win_end_ev;
	struct lg_conn *conns;
	struct lg_sender *senders;
	struct lg_conn *dirty;
	enum lg_phase phase;
	unsigned next_open, pending, registered, joined, dead;
	unsigned workers;
	uint64_t t_setup, t_registered, t_created, t_joined;
	double pool_secs;
	size_t pool_total;

	/* Crypto Cat */
	struct crypto_rsa_key **keys;
	uint8_t (*fp)[CRYPTO_FINGERPRINT_LEN];
	uint8_t (*seed)[CRYPTO_ED25519_SEED_LEN];
	uint8_t (*spub)[CRYPTO_ED25519_PUB_LEN];
	uint8_t (*recv_priv)[CRYPTO_X25519_LEN];   /* each client's receiving key (version 1) */
	uint8_t (*recv_pub)[CRYPTO_X25519_LEN];
	uint64_t recv_created_ms;
	uint32_t recv_version;
	uint8_t server_fp[CRYPTO_FINGERPRINT_LEN];
	bool have_server_fp;
	uint8_t room_id[PROTO_ROOM_ID_LEN];
	uint8_t room_secret[E2E_KEY_LEN];  /* the epoch's secret, as wrapped */
	uint8_t room_base[E2E_KEY_LEN];    /* the epoch's base: every chain key comes from it */
	uint32_t epoch;                    /* the room's epoch (one per member added) */
	uint32_t head_seq;                 /* the chain's head, named by every envelope */
	uint8_t head_hash[PROTO_HASH_LEN];
	uint8_t *pool_mem;
	size_t pool_len;
	struct buf scratch_env, scratch_frame;

	/* the run */
	uint64_t t0;
	bool sending, in_window, waiting_go;
	uint64_t win_t0, win_t1, drain_deadline, t_drained;
	uint64_t srv_ticks0, srv_ticks1, self_ticks0, self_ticks1;
	bool srv_cpu_ok, self_cpu_ok;
	char load0[64], load1[64];
	uint64_t sent_total, sent_win;
	uint64_t deliv_total, deliv_win;
	uint64_t records_win, room_msgs_win;
	uint64_t verify_ctr, verified, verify_fail;
	uint64_t reordered, bad, run_errors, backlog;
	uint64_t lat_max_us;
	uint64_t *hist;
	uint64_t read_ns;            /* when the bytes being handled were read */
	struct event *timeline_ev;
	uint64_t tl_sent, tl_deliv, tl_max_us;
	struct event *interval_ev;   /* --interval: latency and server memory per interval */
	uint64_t *ivl_hist, ivl_max_us, ivl_sent, ivl_deliv, ivl_t0;
	char text[PROTO_TEXT_MAX + 64];
	uint8_t open_buf[PROTO_TEXT_MAX + 1];
	int exit_code;
};

extern struct lg g;

/* util.c: small helpers, the latency histogram */
uint64_t lg_now_ns(void);
double lg_secs(uint64_t ns);
void lg_die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
/* A failure that ends the run: the loop stops and nothing is reported. */
void lg_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Runs fn for every job in `workers` forked processes, job j in process
 * j % workers, and waits for them: key generation and pre-sealing are CPU
 * work the loop does not need to wait for one by one. 0 if all succeeded. */
typedef int (*lg_job_fn)(size_t job, void *ctx);
int lg_run_parallel(size_t njobs, unsigned workers, lg_job_fn fn, void *ctx);
/* The value below which a fraction p of the samples fall, in ms. */
double lg_hist_pct(double p);
/* The same over another histogram (--interval's), whose largest sample is max_us. */
double lg_hist_pct_of(const uint64_t *hist, double p, uint64_t max_us);
/* One message reached one receiver, latency_ns after it was sent. */
void lg_account_delivery(uint64_t latency_ns);

/* conn.c: connections, sockets and buffers */
void lg_mark_dirty(struct lg_conn *c);
/* Every callback ends here: whatever was queued goes out in one write per
 * connection (and, for Crypto Cat, one record). */
void lg_flush_dirty(void);
void lg_conn_close(struct lg_conn *c);
/* During setup any failure ends the run; later a lost connection is counted. */
void lg_conn_fail(struct lg_conn *c, const char *why);
/* Keeps at most --connect-batch connections registering at once. */
void lg_open_more(void);
void lg_conn_registered(struct lg_conn *c);

/* cc.c and cc_room.c: Crypto Cat */
/* Everyone registered: bench0's client core makes the room, then all join. */
void lg_cc_create_room(void);
void lg_cc_join_all(void);
/* A join's room state: the room's key and chain head, checked. */
void lg_cc_on_room_state(struct lg_conn *c, const struct proto_room_state *st);

/* The message key of SEQ (from 1) of sender S, its chain stepped as far as
 * needed; NULL without memory. */
const uint8_t *lg_sender_key(struct lg_sender *s, uint64_t seq);

/* run.c: the run: sending, phases, timers */
/* Burst: top the sender's window up. */
void lg_sender_fill(struct lg_sender *s);
uint64_t lg_expected_deliveries(void);
/* Everyone has joined: seal the pool (Crypto Cat), start the clock and send. */
void lg_run_start(void);
/* The 20 ms tick: gives up on a set-up that takes too long, ends the drain. */
void lg_on_tick(evutil_socket_t fd, short what, void *arg);

/* cc.c: the Crypto Cat handshake, room, receiving */
void lg_cc_on_connected(struct lg_conn *c);
/* Handles the frames read so far. */
void lg_cc_process(struct lg_conn *c);

/* cc_send.c: Crypto Cat sealing and sending */
void lg_cc_send_one(struct lg_sender *s);
/* Seals each sender's envelopes for the run before it starts, in parallel,
 * so that sealing does not limit what the generator can send. */
void lg_cc_build_pool(void);

/* irc.c: the IRC protocol */
void lg_irc_on_connected(struct lg_conn *c);
/* Handles the lines read so far. */
void lg_irc_process(struct lg_conn *c);
void lg_irc_send_one(struct lg_sender *s);
void lg_irc_ping(struct lg_sender *s);

/* keys.c: the cached identity keys */
/* Loads bench0..N-1's identity keys, making the missing ones (in parallel). */
void lg_keys_prepare(void);

#endif
