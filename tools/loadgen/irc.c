/* Load generator: the IRC protocol, in plaintext: NICK/USER, JOIN, PRIVMSG. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "loadgen.h"

/* IRC writes its lines straight to the output buffer. */
static void out_put(struct lg_conn *c, const void *p, size_t n)
{
	if (buf_put_bytes(&c->out, p, n))
		lg_conn_fail(c, "output buffer full");
	lg_mark_dirty(c);
}

static void out_printf(struct lg_conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void out_printf(struct lg_conn *c, const char *fmt, ...)
{
	char line[LG_IRC_LINE_MAX];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	if (n > 0)
		out_put(c, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
}

void lg_irc_on_connected(struct lg_conn *c)
{
	out_printf(c, "NICK %s\r\nUSER %s 0 * :bench\r\n", c->nick, c->nick);
}

/* A message of size bytes goes as ceil(size / 400) PRIVMSGs, each text
 * "SENDER SEQ TS PART/PARTS " and padding; the last part completes it. */
void lg_irc_send_one(struct lg_sender *s)
{
	uint64_t seq = s->sent + 1;
	uint64_t t = lg_now_ns();
	unsigned parts = (g.o.size + LG_IRC_PART_MAX - 1) / LG_IRC_PART_MAX;
	size_t left = g.o.size;

	if (parts == 0)
		parts = 1;
	for (unsigned p = 0; p < parts; p++) {
		char line[LG_IRC_PART_MAX + 128];
		size_t want = left < LG_IRC_PART_MAX ? left : LG_IRC_PART_MAX;
		int n = snprintf(line, sizeof line, "PRIVMSG " LG_CHANNEL " :%u %llu %llu %u/%u ",
				 s->c->idx, (unsigned long long)seq, (unsigned long long)t, p, parts);
		size_t head = (size_t)n - (sizeof "PRIVMSG " LG_CHANNEL " :" - 1);
		size_t pad = want > head ? want - head : 0;
		memset(line + n, 'x', pad);
		memcpy(line + n + pad, "\r\n", 2);
		out_put(s->c, line, (size_t)n + pad + 2);
		left -= want;
	}
	s->sent = seq;
	g.sent_total++;
	if (g.in_window)
		g.sent_win++;
}

void lg_irc_ping(struct lg_sender *s)
{
	out_printf(s->c, "PING :%llu\r\n", (unsigned long long)s->sent);
}

static bool take_u64(const char **p, const char *end, uint64_t *v)
{
	const char *q = *p;
	uint64_t x = 0;
	while (q < end && *q == ' ')
		q++;
	if (q == end || *q < '0' || *q > '9')
		return false;
	while (q < end && *q >= '0' && *q <= '9')
		x = x * 10 + (uint64_t)(*q++ - '0');
	*p = q;
	*v = x;
	return true;
}

static void irc_on_privmsg(struct lg_conn *c, const char *text, size_t len)
{
	const char *p = text, *end = text + len;
	uint64_t si, seq, ts, part, parts;

	if (!take_u64(&p, end, &si) || !take_u64(&p, end, &seq) || !take_u64(&p, end, &ts) ||
	    !take_u64(&p, end, &part) || p == end || *p++ != '/' || !take_u64(&p, end, &parts) ||
	    si >= g.o.senders) {
		g.bad++;
		return;
	}
	if (part + 1 < parts)
		return;  /* the last part completes the message */
	if (g.in_window)
		g.room_msgs_win++;
	if (seq <= c->last_seq[si])
		g.reordered++;
	else
		c->last_seq[si] = seq;
	lg_account_delivery(g.read_ns > ts ? g.read_ns - ts : 0);
}

/* One line, without its CR LF. */
static void irc_on_line(struct lg_conn *c, const char *line, size_t len)
{
	if (len >= 5 && memcmp(line, "PING ", 5) == 0) {
		out_printf(c, "PONG %.*s\r\n", (int)(len - 5), line + 5);
		return;
	}
	if (len >= 6 && memcmp(line, "ERROR ", 6) == 0) {
		char why[600];
		snprintf(why, sizeof why, "%.*s", (int)(len < 500 ? len : 500), line);
		lg_conn_fail(c, why);
		return;
	}
	if (len == 0 || line[0] != ':')
		return;
	const char *end = line + len;
	const char *cmd = memchr(line, ' ', len);
	if (!cmd)
		return;
	cmd++;
	const char *cmd_end = memchr(cmd, ' ', (size_t)(end - cmd));
	if (!cmd_end)
		return;
	size_t cmd_len = (size_t)(cmd_end - cmd);

	if (cmd_len == 7 && memcmp(cmd, "PRIVMSG", 7) == 0) {
		const char *colon = memchr(cmd_end, ':', (size_t)(end - cmd_end));
		if (colon)
			irc_on_privmsg(c, colon + 1, (size_t)(end - colon - 1));
		return;
	}
	if (cmd_len == 4 && memcmp(cmd, "PONG", 4) == 0) {
		const char *colon = memchr(cmd_end, ':', (size_t)(end - cmd_end));
		uint64_t token;
		const char *p = colon ? colon + 1 : end;
		if (c->idx < g.o.senders && take_u64(&p, end, &token)) {
			struct lg_sender *s = &g.senders[c->idx];
			if (token > s->acked && token <= s->sent)
				s->acked = token;
			if (g.o.burst)
				lg_sender_fill(s);
		}
		return;
	}
	if (cmd_len != 3)
		return;
	if (memcmp(cmd, "001", 3) == 0 && c->state == ST_HELLO) {
		lg_conn_registered(c);
		/* Senders lift ngircd's flood limits (bench/README.md), then all join. */
		if (c->idx < g.o.senders)
			out_printf(c, "OPER bench benchpw\r\nMODE %s +F\r\n", c->nick);
		out_printf(c, "JOIN " LG_CHANNEL "\r\n");
		c->state = ST_JOINING;
	} else if (memcmp(cmd, "366", 3) == 0 && c->state == ST_JOINING) {
		c->state = ST_JOINED;
		if (++g.joined == g.o.clients) {
			g.phase = PH_JOIN;
			lg_run_start();
		}
	} else if (memcmp(cmd, "381", 3) == 0) {
		c->oper = true;
	} else if (cmd[0] == '4' || cmd[0] == '5') {
		char why[600];
		snprintf(why, sizeof why, "%.*s", (int)(len < 500 ? len : 500), line);
		if (c->state != ST_JOINED)
			lg_conn_fail(c, why);
		else if (++g.run_errors <= 5)
			fprintf(stderr, "loadgen: %s: %s\n", c->nick, why);
	}
}

void lg_irc_process(struct lg_conn *c)
{
	while (c->state != ST_DEAD && !g.exit_code) {
		const uint8_t *p = c->in + c->in_off;
		size_t avail = c->in_len - c->in_off;
		const uint8_t *nl = memchr(p, '\n', avail);
		if (!nl) {
			if (avail > LG_IRC_LINE_MAX)
				lg_conn_fail(c, "line too long");
			return;
		}
		size_t len = (size_t)(nl - p);
		c->in_off += len + 1;
		if (len && p[len - 1] == '\r')
			len--;
		irc_on_line(c, (const char *)p, len);
	}
}
