#!/usr/bin/env bash
# make bench-soak: issue 11's target 7. Steady paced load (scenario B: 200
# clients, 10 senders, 100-byte messages, 4,000 messages/s, read acks every
# 64) for SOAK_SECONDS against one fresh cryptocat-server. loadgen prints an
# INTERVAL line per interval (its deliveries' p50/p99, the server's VmRSS at
# the interval's end); the figures compare the first interval with the last:
#   memory drift: (last VmRSS - first VmRSS) / first, target within 5 %;
#   p99: last over first, target at most 1.5x ("p99 steady").
# The first interval's memory, not the idle server's, is the start: setting
# up 200 clients and a room grows the heap once, before the steady state.
#
# Knobs: SOAK_SECONDS (default 600), SOAK_INTERVAL (default 60, or a quarter
# of a shorter run), SOAK_RATE (4000), BENCH_BUILD, BENCH_CC_PORT (17778),
# BENCH_KEYS. Writes build/bench/soak.log and build/bench/soak.json.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BENCH_BUILD:-$ROOT/build}
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
SECONDS_TOTAL=${SOAK_SECONDS:-600}
RATE=${SOAK_RATE:-4000}
PORT=${BENCH_CC_PORT:-17778}
KEYS=${BENCH_KEYS:-/tmp/cryptocat-bench-keys}
if [ -n "${SOAK_INTERVAL:-}" ]; then
	INTERVAL=$SOAK_INTERVAL
elif [ "$SECONDS_TOTAL" -ge 240 ]; then
	INTERVAL=60
else
	INTERVAL=$((SECONDS_TOTAL / 4))
	[ "$INTERVAL" -ge 1 ] || INTERVAL=1
fi
OUT=$BUILD/bench

say() { printf 'soak: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

case $SECONDS_TOTAL in '' | *[!0-9]*) die "SOAK_SECONDS must be whole seconds" ;; esac
[ "$SECONDS_TOTAL" -ge 20 ] || die "SOAK_SECONDS must be at least 20"

TMP=$(mktemp -d /tmp/cryptocat-soak.XXXXXX)
SERVER_PID=
LOADGEN_PID=
cleanup() {
	[ -z "$LOADGEN_PID" ] || kill "$LOADGEN_PID" 2>/dev/null || true
	if [ -n "$SERVER_PID" ]; then
		kill "$SERVER_PID" 2>/dev/null || true
		wait "$SERVER_PID" 2>/dev/null || true
	fi
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ ! -f "$BUILD/build.ninja" ]; then
	cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
cmake --build "$BUILD" --target cryptocat-server loadgen >/dev/null ||
	die "build failed: run 'cmake --build $BUILD' to see why"
mkdir -p "$OUT"

# As bench/run.sh starts it (the per-address limits and the proof of work
# lifted: every client is 127.0.0.1; a fresh data directory), but for the
# default --max-output (8 MiB): over ten minutes a server that falls behind
# would otherwise queue up to 256 MiB for each of 200 receivers (a 60 s
# run on a loaded machine reached 7 GB); here the lagging receiver is
# dropped, and the run fails its checks, as a soak should.
"$BUILD/cryptocat-server" --listen "127.0.0.1:$PORT" --data "$TMP/data" --log-level warn \
	--preauth-per-address 1000000 \
	--handshake-rate 1000000 --handshake-burst 1000000 --puzzle-max 0 \
	>"$TMP/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 300); do
	(exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
	kill -0 "$SERVER_PID" 2>/dev/null || die "the server exited at start: $(cat "$TMP/server.log")"
	sleep 0.1
done

say "$(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg); ${SECONDS_TOTAL}s at $RATE msg/s, an INTERVAL line every ${INTERVAL}s"
rc=0
"$BUILD/loadgen" --port "$PORT" --keys "$KEYS" --clients 200 --senders 10 --size 100 \
	--rate "$RATE" --ack-every 64 --verify-every 1000 --warmup 0 --duration "$SECONDS_TOTAL" \
	--interval "$INTERVAL" --server-pid "$SERVER_PID" --setup-timeout 300 --label soak \
	>"$TMP/loadgen.out" 2>&1 &
LOADGEN_PID=$!
wait "$LOADGEN_PID" || rc=$?
LOADGEN_PID=

{
	cat "$TMP/loadgen.out"
	echo
	# The first and the last interval; a last one shorter than half an
	# interval is not printed by loadgen, so the last line is a whole one.
	awk -v rc="$rc" -v interval="$INTERVAL" '
	function field(line, key,    n, i, kv) {
		n = split(line, kv, " ")
		for (i = 1; i <= n; i++)
			if (index(kv[i], key "=") == 1)
				return substr(kv[i], length(key) + 2)
		return ""
	}
	/^INTERVAL / { n++; line[n] = $0 }
	END {
		if (n < 2) {
			print "soak: fewer than two intervals: nothing to compare"
			print "FIGURE name=soak_rss_drift_pct ours=- unit=% target=within_5 met=no note=fewer than two intervals"
			print "FIGURE name=soak_p99_last_over_first ours=- unit=ms target=ratio<=1.5 met=no note=fewer than two intervals"
			exit
		}
		r0 = field(line[1], "server_rss_kib"); r1 = field(line[n], "server_rss_kib")
		p0 = field(line[1], "p99_ms"); p1 = field(line[n], "p99_ms")
		worst = 0
		for (i = 1; i <= n; i++)
			if (field(line[i], "p99_ms") + 0 > worst)
				worst = field(line[i], "p99_ms") + 0
		checks = rc == 0 ? "" : " note=loadgen failed its checks (status " rc ")"
		drift = r0 > 0 ? (r1 - r0) * 100 / r0 : 0
		printf "soak: %d intervals of %s s; server VmRSS %d KiB after the first, %d KiB after the last (%+.2f %%); p99 %s ms first, %s ms last, worst %.2f ms\n",
		       n, interval, r0, r1, drift, p0, p1, worst
		met = (r0 > 0 && drift <= 5 && drift >= -5 && rc == 0) ? "yes" : "no"
		printf "FIGURE name=soak_rss_drift_pct ours=%.2f unit=%% target=within_5 met=%s%s\n", drift, met, checks
		printf "FIGURE name=soak_rss_kib ours=%d bound=%d ratio=%.3f unit=KiB target=- met=n/a note=last interval against the first (the bound column)\n", r1, r0, (r0 > 0 ? r1 / r0 : 0)
		ratio = p0 > 0 ? p1 / p0 : 0
		met = (p0 > 0 && ratio <= 1.5 && rc == 0) ? "yes" : "no"
		note = checks == "" ? " note=last interval against the first (the bound column)" : checks
		printf "FIGURE name=soak_p99_ms ours=%.2f bound=%.2f ratio=%.2f unit=ms target=ratio<=1.5 met=%s%s\n", p1, p0, ratio, met, note
		printf "FIGURE name=soak_p99_worst_interval_ms ours=%.2f unit=ms target=- met=n/a\n", worst
	}' "$TMP/loadgen.out"
} | tee "$OUT/soak.log"

echo
"$ROOT/bench/figures.sh" "$OUT/soak.json" "$OUT/soak.log"
[ "$rc" -eq 0 ] || die "loadgen exited with status $rc (see $OUT/soak.log)"
