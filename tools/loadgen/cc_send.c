/* Load generator: Crypto Cat sending: sealing envelopes, the pool sealed
 * before the run, and sending them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "loadgen.h"
#include "proto/frame.h"
#include "util/clock.h"

/* "SEQ TS " then 'x' up to size bytes: ASCII, so valid UTF-8. */
static void text_make(char *out, size_t size, uint64_t seq, uint64_t ts)
{
	char head[48];
	int n = snprintf(head, sizeof head, "%llu %llu ", (unsigned long long)seq,
			 (unsigned long long)ts);
	memset(out, 'x', size);
	memcpy(out, head, (size_t)n < size ? (size_t)n : size);
}

/* One MSG_SEND as an inner frame (u32 length, message), appended to out. */
static cc_err cc_seal_frame(unsigned si, uint64_t seq, uint64_t ts, char *text,
			    struct buf *env_buf, struct buf *out)
{
	struct proto_envelope env = {0};
	struct proto_msg m = {.type = PROTO_MSG_SEND};
	size_t start = out->len;
	uint8_t *hdr;
	cc_err err;

	text_make(text, g.o.size, seq, ts);
	env.version = PROTO_ENVELOPE_VERSION;
	memcpy(env.room_id, g.room_id, PROTO_ROOM_ID_LEN);
	env.epoch = g.epoch;
	env.sender = proto_bytes_str(g.conns[si].nick);
	env.seq = seq;
	env.time_ms = clock_now_ms();
	env.head_seq = g.head_seq;
	memcpy(env.head_hash, g.head_hash, PROTO_HASH_LEN);
	env_buf->len = 0;
	const uint8_t *key = lg_sender_key(&g.senders[si], seq);
	if (!key)
		return CC_ERR_NOMEM;
	if ((err = e2e_message_seal(g.seed[si], key, &env, (const uint8_t *)text, g.o.size,
				    env_buf)))
		return err;
	/* The request id is the seq: SENT names the message it answers. */
	m.u.msg_send.request_id = (uint32_t)seq;
	m.u.msg_send.envelope = (struct proto_bytes){env_buf->data, env_buf->len};
	if ((err = buf_append_space(out, PROTO_FRAME_HEADER_LEN, &hdr)) ||
	    (err = proto_msg_encode(&m, out))) {
		out->len = start;
		return err;
	}
	store_be32(out->data + start, (uint32_t)(out->len - start - PROTO_FRAME_HEADER_LEN));
	return CC_OK;
}

struct pool_job {
	size_t *base;     /* per sender: offset of its first entry */
	size_t per;       /* entries per sender */
};

static int pool_seal_one(size_t job, void *ctx)
{
	struct pool_job *pj = ctx;
	unsigned si = (unsigned)(job / pj->per);
	uint64_t seq = job % pj->per + 1;
	struct lg_sender *s = &g.senders[si];

	g.scratch_frame.len = 0;
	if (cc_seal_frame(si, seq, lg_now_ns(), g.text, &g.scratch_env, &g.scratch_frame) ||
	    g.scratch_frame.len != s->stride)
		return 1;
	memcpy(g.pool_mem + pj->base[si] + (seq - 1) * s->stride, g.scratch_frame.data, s->stride);
	return 0;
}

const uint8_t *lg_sender_key(struct lg_sender *s, uint64_t seq)
{
	if (seq == 0)
		return NULL;
	if (s->keys_n == 0 && s->keys_cap == 0 &&
	    e2e_chain_start(g.room_base, g.fp[s->c->idx], s->chain_key) != CC_OK)
		return NULL;
	if (seq > s->keys_cap) {
		size_t cap = s->keys_cap ? s->keys_cap : 1024;
		while (cap < seq)
			cap *= 2;
		void *p = realloc(s->keys, cap * sizeof *s->keys);
		if (!p)
			return NULL;
		s->keys = p;
		s->keys_cap = cap;
	}
	while (s->keys_n < seq) {
		if (e2e_ratchet_step(s->chain_key, s->keys[s->keys_n], s->chain_key) != CC_OK)
			return NULL;
		s->keys_n++;
	}
	return s->keys[seq - 1];
}

void lg_cc_build_pool(void)
{
	size_t per;
	if (g.o.pool >= 0)
		per = (size_t)g.o.pool;
	else if (!g.o.burst)
		per = (size_t)(g.o.rate / g.o.senders * (g.o.warmup + g.o.duration) * 1.05) + 64;
	else  /* enough for 1500 messages/s per sender; more are sealed live */
		per = (size_t)((g.o.warmup + g.o.duration) * 1500);
	if (g.o.pool < 0 && per * g.o.senders > 150000)
		per = 150000 / g.o.senders;
	if (per == 0)
		return;
	size_t *base = calloc(g.o.senders, sizeof *base);
	if (!base) {
		lg_fail("out of memory");
		return;
	}
	/* Every entry of a sender has the same size: seal one to learn it. */
	size_t total = 0;
	for (unsigned i = 0; i < g.o.senders; i++) {
		g.scratch_frame.len = 0;
		if (cc_seal_frame(i, 1, 0, g.text, &g.scratch_env, &g.scratch_frame)) {
			free(base);
			lg_fail("cannot seal a message");
			return;
		}
		g.senders[i].stride = g.scratch_frame.len;
		base[i] = total;
		total += per * g.scratch_frame.len;
	}
	g.pool_mem = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (g.pool_mem == MAP_FAILED) {
		g.pool_mem = NULL;
		free(base);
		lg_fail("cannot map %zu bytes for the pool", total);
		return;
	}
	g.pool_len = total;
	uint64_t t = lg_now_ns();
	/* Every sender's message keys for the pool, before the workers fork:
	 * a ratchet is stepped in order. */
	for (unsigned i = 0; i < g.o.senders; i++)
		if (!lg_sender_key(&g.senders[i], per)) {
			free(base);
			lg_fail("out of memory");
			return;
		}
	struct pool_job pj = {base, per};
	if (lg_run_parallel(per * g.o.senders, g.workers, pool_seal_one, &pj)) {
		free(base);
		lg_fail("sealing the pool failed");
		return;
	}
	g.pool_secs = lg_secs(lg_now_ns() - t);
	g.pool_total = per * g.o.senders;
	for (unsigned i = 0; i < g.o.senders; i++) {
		g.senders[i].pool = g.pool_mem + base[i];
		g.senders[i].pool_n = per;
	}
	free(base);
}

static bool sent_ns_room(struct lg_sender *s, uint64_t seq)
{
	if (seq < s->sent_cap)
		return true;
	size_t cap = s->sent_cap ? s->sent_cap * 2 : 4096;
	while (cap <= seq)
		cap *= 2;
	uint64_t *p = realloc(s->sent_ns, cap * sizeof *p);
	if (!p) {
		lg_fail("out of memory");
		return false;
	}
	s->sent_ns = p;
	s->sent_cap = cap;
	return true;
}

void lg_cc_send_one(struct lg_sender *s)
{
	unsigned si = s->c->idx;
	uint64_t seq = s->sent + 1;
	uint64_t t = lg_now_ns();

	if (!sent_ns_room(s, seq))
		return;
	if (seq <= s->pool_n) {
		if (buf_put_bytes(&s->c->plain, s->pool + (seq - 1) * s->stride, s->stride)) {
			lg_conn_fail(s->c, "output buffer full");
			return;
		}
	} else {
		/* Past the pool: sealed now, with the send time in the text. */
		if (cc_seal_frame(si, seq, t, g.text, &g.scratch_env, &s->c->plain)) {
			lg_conn_fail(s->c, "cannot seal a message");
			return;
		}
		s->live_sealed++;
	}
	s->sent_ns[seq] = t;
	s->sent = seq;
	g.sent_total++;
	if (g.in_window)
		g.sent_win++;
	lg_mark_dirty(s->c);
}
