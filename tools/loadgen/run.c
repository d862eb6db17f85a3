/* Load generator: the run: sending, phases, timers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "loadgen.h"
#include "../procstat.h"

static void send_one(struct lg_sender *s)
{
	if (g.o.irc)
		lg_irc_send_one(s);
	else
		lg_cc_send_one(s);
}

static void loadavg(char *out, size_t n)
{
	FILE *f = fopen("/proc/loadavg", "r");
	out[0] = '\0';
	if (f) {
		if (fgets(out, (int)n, f)) {
			/* the three averages only */
			char *p = out;
			for (int spaces = 0; *p; p++)
				if (*p == ' ' && ++spaces == 3)
					break;
			*p = '\0';
		}
		fclose(f);
	}
}

void lg_sender_fill(struct lg_sender *s)
{
	unsigned n = 0;
	while (g.sending && s->c->state == ST_JOINED && s->sent - s->acked < g.o.window &&
	       !g.exit_code) {
		send_one(s);
		n++;
	}
	if (n && g.o.irc)
		lg_irc_ping(s);
}

static void on_pace(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	if (!g.sending)
		return;
	/* Each sender sends rate/S messages a second, from t0 on. */
	double per = g.o.rate / g.o.senders;
	uint64_t due = (uint64_t)(lg_secs(lg_now_ns() - g.t0) * per) + 1;
	for (unsigned i = 0; i < g.o.senders; i++) {
		struct lg_sender *s = &g.senders[i];
		while (s->sent < due && s->c->state == ST_JOINED && !g.exit_code)
			send_one(s);
	}
	lg_flush_dirty();
}

uint64_t lg_expected_deliveries(void)
{
	return g.sent_total * (g.o.clients - 1);
}

static void on_window_start(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	g.in_window = true;
	g.win_t0 = lg_now_ns();
	g.srv_ticks0 = g.o.server_pid > 0 ? procstat_cpu_ticks(g.o.server_pid) : 0;
	g.self_ticks0 = procstat_cpu_ticks((long)getpid());
	g.srv_cpu_ok = g.srv_ticks0 != 0;
	g.self_cpu_ok = g.self_ticks0 != 0;
	loadavg(g.load0, sizeof g.load0);
	if (*g.o.follower) {
		printf("FOLLOW start sent=%llu t_ns=%llu\n", (unsigned long long)g.sent_total,
		       (unsigned long long)g.win_t0);
		fflush(stdout);
	}
}

static void on_interval(evutil_socket_t fd, short what, void *arg);

static void on_window_end(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	g.win_t1 = lg_now_ns();
	g.in_window = false;
	g.sending = false;
	if (*g.o.follower) {
		printf("FOLLOW end sent=%llu t_ns=%llu\n", (unsigned long long)g.sent_total,
		       (unsigned long long)g.win_t1);
		fflush(stdout);
	}
	g.srv_ticks1 = g.srv_cpu_ok ? procstat_cpu_ticks(g.o.server_pid) : 0;
	g.self_ticks1 = g.self_cpu_ok ? procstat_cpu_ticks((long)getpid()) : 0;
	g.srv_cpu_ok = g.srv_ticks1 != 0;
	g.self_cpu_ok = g.self_ticks1 != 0;
	loadavg(g.load1, sizeof g.load1);
	if (g.interval_ev) {
		/* The last interval, if it is more than half of one. */
		if (lg_secs(g.win_t1 - g.ivl_t0) >= g.o.interval / 2)
			on_interval(-1, 0, NULL);
		event_del(g.interval_ev);
	}
	if (g.pace_ev)
		event_del(g.pace_ev);
	g.phase = PH_DRAIN;
	g.drain_deadline = g.win_t1 + (uint64_t)(g.o.drain * 1e9);
}

static void on_timeline(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	uint64_t now = lg_now_ns();
	fprintf(stderr, "loadgen: t=%5.1f s  sent %6llu/s  delivered %8llu/s  worst latency %7.1f ms%s\n",
		lg_secs(now - g.t0), (unsigned long long)(g.sent_total - g.tl_sent),
		(unsigned long long)(g.deliv_total - g.tl_deliv), (double)g.tl_max_us / 1000.0,
		g.in_window ? "" : "  (not measured)");
	g.tl_sent = g.sent_total;
	g.tl_deliv = g.deliv_total;
	g.tl_max_us = 0;
}

/* --interval: one machine-readable line per interval, for long runs
 * (bench/soak.sh): what was sent and delivered, the latency of those
 * deliveries, and the server's memory at the interval's end. */
static void on_interval(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	uint64_t now = lg_now_ns();
	double secs = lg_secs(now - g.ivl_t0);
	long rss = g.o.server_pid > 0 ? procstat_status_kib(g.o.server_pid, "VmRSS") : -1;
	printf("INTERVAL t=%.0f secs=%.2f sent=%llu deliveries=%llu deliveries_per_s=%.0f "
	       "p50_ms=%.2f p99_ms=%.2f max_ms=%.2f server_rss_kib=%ld\n",
	       lg_secs(now - g.t0), secs, (unsigned long long)(g.sent_total - g.ivl_sent),
	       (unsigned long long)(g.deliv_total - g.ivl_deliv),
	       secs > 0 ? (double)(g.deliv_total - g.ivl_deliv) / secs : 0,
	       lg_hist_pct_of(g.ivl_hist, 0.50, g.ivl_max_us),
	       lg_hist_pct_of(g.ivl_hist, 0.99, g.ivl_max_us), (double)g.ivl_max_us / 1000.0, rss);
	fflush(stdout);
	memset(g.ivl_hist, 0, LG_HIST_LEN * sizeof *g.ivl_hist);
	g.ivl_max_us = 0;
	g.ivl_sent = g.sent_total;
	g.ivl_deliv = g.deliv_total;
	g.ivl_t0 = now;
}

void lg_run_start(void)
{
	g.t_joined = lg_now_ns();
	if (!g.o.irc)
		lg_cc_build_pool();
	if (g.exit_code)
		return;
	g.phase = PH_RUN;
	/* Sealing blocked the loop: timers must count from now, not from the
	 * time libevent cached before it. */
	event_base_update_cache_time(g.base);
	g.t0 = lg_now_ns();
	g.sending = true;
	struct timeval w0 = {(time_t)g.o.warmup, (suseconds_t)((g.o.warmup - (double)(time_t)g.o.warmup) * 1e6)};
	double end = g.o.warmup + g.o.duration;
	struct timeval w1 = {(time_t)end, (suseconds_t)((end - (double)(time_t)end) * 1e6)};
	g.win_start_ev = evtimer_new(g.base, on_window_start, NULL);
	g.win_end_ev = evtimer_new(g.base, on_window_end, NULL);
	if (!g.win_start_ev || !g.win_end_ev) {
		lg_fail("out of memory");
		return;
	}
	evtimer_add(g.win_start_ev, &w0);
	evtimer_add(g.win_end_ev, &w1);
	if (g.o.timeline) {
		struct timeval sec = {1, 0};
		g.timeline_ev = event_new(g.base, -1, EV_PERSIST, on_timeline, NULL);
		if (g.timeline_ev)
			event_add(g.timeline_ev, &sec);
	}
	if (g.o.interval > 0) {
		struct timeval every = {(time_t)g.o.interval,
					(suseconds_t)((g.o.interval - (double)(time_t)g.o.interval) * 1e6)};
		g.ivl_hist = calloc(LG_HIST_LEN, sizeof *g.ivl_hist);
		g.interval_ev = event_new(g.base, -1, EV_PERSIST, on_interval, NULL);
		if (!g.ivl_hist || !g.interval_ev) {
			lg_fail("out of memory");
			return;
		}
		g.ivl_t0 = g.t0;
		event_add(g.interval_ev, &every);
	}
	if (g.o.burst) {
		for (unsigned i = 0; i < g.o.senders; i++)
			lg_sender_fill(&g.senders[i]);
	} else {
		struct timeval ms = {0, 1000};
		g.pace_ev = event_new(g.base, -1, EV_PERSIST, on_pace, NULL);
		if (!g.pace_ev) {
			lg_fail("out of memory");
			return;
		}
		event_add(g.pace_ev, &ms);
		on_pace(-1, 0, NULL);
	}
	lg_flush_dirty();
}

void lg_on_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	uint64_t now = lg_now_ns();
	if (g.waiting_go && access(g.o.go_file, F_OK) == 0) {
		g.waiting_go = false;
		lg_run_start();
		return;
	}
	if (g.phase < PH_RUN && now - g.t_setup > (uint64_t)(g.o.setup_timeout * 1e9)) {
		lg_fail("setup took longer than %.0f s (registered %u, joined %u of %u)",
			g.o.setup_timeout, g.registered, g.joined, g.o.clients);
		return;
	}
	if (g.phase == PH_DRAIN &&
	    (g.deliv_total >= lg_expected_deliveries() || now >= g.drain_deadline)) {
		g.t_drained = now;
		g.phase = PH_DONE;
		event_base_loopbreak(g.base);
	}
}
