#!/usr/bin/env bash
# Side-by-side fan-out benchmark: Crypto Cat against ngircd (a plaintext IRC
# server in C), the same scenarios driven by the same load generator
# (tools/loadgen/), then one comparison table and its FIGURE lines (make
# bench's fanout stage: bench/bench.sh gathers them). docs/BENCHMARKS.md
# explains what is measured and what the figures mean.
#
# Everything runs on 127.0.0.1 and stops by itself (about 70 s; QUICK=1 40 s).
# It installs ngircd with apt if it is missing, builds cryptocat-server and
# loadgen if needed, and stops both servers on any exit.
#
# Knobs (environment):
#   BENCH_BUILD=DIR        build directory (default: build, as the Makefile)
#   QUICK=1                the short form (make bench QUICK=1): 2 s measured after
#                          0.5 s of warm-up, the same scenarios and checks
#   BENCH_DURATION=SEC     measured seconds per run (default 5; QUICK: 2)
#   BENCH_WARMUP=SEC       sending before the measured time (default 1; QUICK: 0.5)
#   BENCH_WINDOW=N         burst: messages in flight per sender (default 32)
#   BENCH_CC_PORT=PORT     Crypto Cat's port (default 17777; ngircd's is 16667,
#                          fixed by bench/ngircd-bench.conf)
#   BENCH_KEYS=DIR         cached RSA identity keys (default /tmp/cryptocat-bench-keys)
#   BENCH_NGIRCD_NODELAY=0 run ngircd as shipped, with Nagle on its sockets
#                          (default 1: TCP_NODELAY, as cryptocat-server sets it)
#   BENCH_ONLY=cryptocat|ngircd   run one side only
#   BENCH_CC_ARGS="..."    more cryptocat-server options (e.g. --flush-interval-us 1000)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BENCH_BUILD:-$ROOT/build}
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
CONF=$ROOT/bench/ngircd-bench.conf  # ngircd's settings (bench/ngircd.md)
QUICK=${QUICK:-0}
if [ "$QUICK" = 1 ]; then
	DURATION=${BENCH_DURATION:-2}
	WARMUP=${BENCH_WARMUP:-0.5}
else
	DURATION=${BENCH_DURATION:-5}
	WARMUP=${BENCH_WARMUP:-1}
fi
WINDOW=${BENCH_WINDOW:-32}
CC_PORT=${BENCH_CC_PORT:-17777}
IRC_PORT=16667
KEYS=${BENCH_KEYS:-/tmp/cryptocat-bench-keys}
NODELAY=${BENCH_NGIRCD_NODELAY:-1}
ONLY=${BENCH_ONLY:-}

# The scenarios: label, clients, senders, bytes, mode (burst or a rate in
# msg/s), and how often Crypto Cat's receivers acknowledge reads (64, as the
# client does; 0: never, a Crypto Cat-only row that IRC has no counterpart of).
SCENARIOS=(
	"A 200 10 100 burst 64"
	"A0 200 10 100 burst 0"
	"B 200 10 100 4000 64"
	"C 50 5 1024 burst 64"
)

say() { printf 'bench: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

TMP=$(mktemp -d /tmp/cryptocat-bench.XXXXXX)
SERVER_PID=
LOADGEN_PID=
failures=0

stop_server() {
	if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
		kill "$SERVER_PID" 2>/dev/null || true
		for _ in $(seq 50); do
			kill -0 "$SERVER_PID" 2>/dev/null || break
			sleep 0.1
		done
		kill -9 "$SERVER_PID" 2>/dev/null || true
		wait "$SERVER_PID" 2>/dev/null || true
	fi
	SERVER_PID=
	# The data of a finished run is not needed again (see start_cryptocat),
	# but for its key.
	if [ -n "${CC_DATA:-}" ]; then
		[ -f "$TMP/server_key.pem" ] || cp -p "$CC_DATA/server_key.pem" "$TMP/" 2>/dev/null || true
		rm -rf "$CC_DATA"
		CC_DATA=
	fi
}

cleanup() {
	if [ -n "$LOADGEN_PID" ]; then
		kill "$LOADGEN_PID" 2>/dev/null || true
		wait "$LOADGEN_PID" 2>/dev/null || true
	fi
	stop_server
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port_busy() {
	if command -v ss >/dev/null 2>&1; then
		ss -Hltn "sport = :$1" | grep -q .
	else
		(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
	fi
}

# Waits until the server listens on the port, or gives up.
wait_listen() {
	local port=$1 what=$2
	for _ in $(seq 300); do
		port_busy "$port" && return 0
		kill -0 "$SERVER_PID" 2>/dev/null || die "$what exited at start (log: $3)"
		sleep 0.1
	done
	die "$what does not listen on 127.0.0.1:$port after 30 s"
}

# ---- what the benchmark needs --------------------------------------------------

if [ "$ONLY" != cryptocat ] && ! command -v ngircd >/dev/null 2>&1; then
	say "installing ngircd (apt)"
	sudo=""
	[ "$(id -u)" -ne 0 ] && sudo=sudo
	export DEBIAN_FRONTEND=noninteractive
	$sudo apt-get -o DPkg::Lock::Timeout=600 -y -q update >/dev/null
	$sudo apt-get -o DPkg::Lock::Timeout=600 -y -q install --no-install-recommends ngircd >/dev/null
fi
[ "$ONLY" = cryptocat ] || [ -f "$CONF" ] || die "missing $CONF"

if [ ! -f "$BUILD/build.ninja" ]; then
	cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
cmake --build "$BUILD" --target cryptocat-server loadgen >/dev/null ||
	die "build failed: run 'cmake --build $BUILD' to see why"
LOADGEN=$BUILD/loadgen
SERVER=$BUILD/cryptocat-server

if [ "$ONLY" != ngircd ] && port_busy "$CC_PORT"; then
	die "127.0.0.1:$CC_PORT is in use (set BENCH_CC_PORT)"
fi
if [ "$ONLY" != cryptocat ] && port_busy "$IRC_PORT"; then
	die "127.0.0.1:$IRC_PORT is in use (another ngircd?); stop it first"
fi

# ngircd leaves Nagle on; cryptocat-server sets TCP_NODELAY. For the same
# setting on both sides ngircd gets it from a tiny LD_PRELOAD shim.
PRELOAD=
if [ "$ONLY" != cryptocat ] && [ "$NODELAY" = 1 ]; then
	cat >"$TMP/nodelay.c" <<'EOF'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

/* TCP_NODELAY on every accepted socket, as cryptocat-server sets it. */
static int nodelay(int fd)
{
	int one = 1;
	if (fd >= 0)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	return fd;
}

int accept(int fd, struct sockaddr *sa, socklen_t *len)
{
	int (*real)(int, struct sockaddr *, socklen_t *) =
		(int (*)(int, struct sockaddr *, socklen_t *))dlsym(RTLD_NEXT, "accept");
	return nodelay(real(fd, sa, len));
}

int accept4(int fd, struct sockaddr *sa, socklen_t *len, int flags)
{
	int (*real)(int, struct sockaddr *, socklen_t *, int) =
		(int (*)(int, struct sockaddr *, socklen_t *, int))dlsym(RTLD_NEXT, "accept4");
	return nodelay(real(fd, sa, len, flags));
}
EOF
	if cc -O2 -shared -fPIC -o "$TMP/nodelay.so" "$TMP/nodelay.c" -ldl 2>"$TMP/nodelay.err"; then
		PRELOAD=$TMP/nodelay.so
	else
		say "cannot build the TCP_NODELAY shim; ngircd runs with Nagle on"
		NODELAY=0
	fi
fi

# ---- servers ---------------------------------------------------------------------

# One fresh server per scenario, so that the 60-second housekeeping timer
# (retention, nickname expiry) never falls inside a measurement: its cost is
# measured on its own (docs/BENCHMARKS.md). Each also gets a fresh data
# directory: a second run on the same data measured 3x slower (a grown
# database, other state), and the runs must not depend on their order.
RUNS=0
start_cryptocat() {
	RUNS=$((RUNS + 1))
	CC_DATA=$TMP/cc-data.$RUNS
	rm -rf "$CC_DATA"
	# The server's RSA key is the only thing kept: making a new one
	# costs seconds per run and measures nothing.
	if [ -f "$TMP/server_key.pem" ]; then
		mkdir -m 700 "$CC_DATA"
		cp -p "$TMP/server_key.pem" "$CC_DATA/"
	fi
	# Every load-generator client comes from 127.0.0.1: the per-address
	# handshake limits and the proof of work (flood defences, measured by
	# the flood stage) are lifted so that they are not what is measured here.
	# Output limits are the defaults (--max-output 8 MiB, --output-soft):
	# flow control holds senders back instead of dropping a slow receiver.
	# shellcheck disable=SC2086
	"$SERVER" --listen "127.0.0.1:$CC_PORT" --data "$CC_DATA" --log-level warn \
		--preauth-per-address 1000000 \
		--handshake-rate 1000000 --handshake-burst 1000000 --puzzle-max 0 \
		${BENCH_CC_ARGS:-} >>"$TMP/cryptocat.log" 2>&1 &
	SERVER_PID=$!
	wait_listen "$CC_PORT" cryptocat-server "$TMP/cryptocat.log"
}

start_ngircd() {
	mkdir -p /tmp/cryptocat-bench-ngircd.d
	# -n: stay in the foreground, so $! is ngircd itself.
	if [ -n "$PRELOAD" ]; then
		LD_PRELOAD=$PRELOAD ngircd -n -f "$CONF" >>"$TMP/ngircd.log" 2>&1 &
	else
		ngircd -n -f "$CONF" >>"$TMP/ngircd.log" 2>&1 &
	fi
	SERVER_PID=$!
	wait_listen "$IRC_PORT" ngircd "$TMP/ngircd.log"
}

# run_one SIDE LABEL CLIENTS SENDERS BYTES MODE ACKS
run_one() {
	local side=$1 label=$2 clients=$3 senders=$4 bytes=$5 mode=$6 acks=$7
	local args=(--clients "$clients" --senders "$senders" --size "$bytes"
		--duration "$DURATION" --warmup "$WARMUP" --label "$label/$side")
	if [ "$mode" = burst ]; then
		args+=(--burst --window "$WINDOW")
	else
		args+=(--rate "$mode")
	fi
	if [ "$side" = cryptocat ]; then
		start_cryptocat
		args+=(--port "$CC_PORT" --keys "$KEYS" --verify-every 1000 --ack-every "$acks")
	else
		start_ngircd
		args+=(--irc --port "$IRC_PORT")
	fi
	local rc=0
	# In the background and waited for, so that a signal reaches the trap at
	# once; timeout bounds a run that would hang (it forwards TERM to loadgen).
	timeout 240 "$LOADGEN" "${args[@]}" --server-pid "$SERVER_PID" --setup-timeout 120 \
		>"$TMP/run.out" 2>&1 &
	LOADGEN_PID=$!
	wait "$LOADGEN_PID" || rc=$?
	LOADGEN_PID=
	cat "$TMP/run.out"
	grep '^RESULT ' "$TMP/run.out" >>"$TMP/results" || true
	if [ "$rc" -ne 0 ]; then
		say "$label/$side: loadgen exited with status $rc"
		failures=$((failures + 1))
	fi
	stop_server
}

say "$(nproc) CPUs, $(uname -r), load average $(cut -d' ' -f1-3 /proc/loadavg)"
say "measuring ${DURATION}s per run after ${WARMUP}s of warm-up; burst window $WINDOW per sender"
: >"$TMP/results"
for scenario in "${SCENARIOS[@]}"; do
	read -r label clients senders bytes mode acks <<<"$scenario"
	for side in cryptocat ngircd; do
		[ -z "$ONLY" ] || [ "$ONLY" = "$side" ] || continue
		[ "$side" = cryptocat ] || [ "$acks" != 0 ] || continue
		run_one "$side" "$label" "$clients" "$senders" "$bytes" "$mode" "$acks"
	done
done

# ---- the comparison --------------------------------------------------------------

echo
echo "Comparison (same generator, same machine, 127.0.0.1; ngircd TCP_NODELAY: $([ "$NODELAY" = 1 ] && echo on || echo off))"
awk -v window="$WINDOW" '
function field(line, key,    n, i, kv) {
	n = split(line, kv, " ")
	for (i = 1; i <= n; i++)
		if (index(kv[i], key "=") == 1)
			return substr(kv[i], length(key) + 2)
	return ""
}
/^RESULT / {
	split(field($0, "label"), lp, "/")
	sc = lp[1]; side = lp[2]
	if (!(sc in seen)) { seen[sc] = 1; order[++n] = sc }
	desc[sc] = sprintf("%s cl %s snd %s B %s", field($0, "clients"), field($0, "senders"),
			   field($0, "size"), field($0, "mode"))
	if (sc ~ /0$/)
		desc[sc] = desc[sc] " no acks"
	dps[sc, side] = field($0, "deliveries_per_s")
	mps[sc, side] = field($0, "msgs_per_s")
	p50[sc, side] = field($0, "p50_ms")
	p99[sc, side] = field($0, "p99_ms")
	cpu[sc, side] = field($0, "server_cpu")
	ok[sc, side] = (field($0, "lost") == 0 && field($0, "reordered") == 0 &&
			field($0, "verify_failures") == 0 && field($0, "dropped") == 0) ? "ok" : "CHECK"
}
END {
	printf "%-3s %-38s %-9s %7s %13s %8s %8s %8s %5s\n", "", "scenario", "server",
	       "msgs/s", "deliveries/s", "p50 ms", "p99 ms", "srv CPU", ""
	for (i = 1; i <= n; i++) {
		sc = order[i]
		for (k = 1; k <= 2; k++) {
			side = k == 1 ? "cryptocat" : "ngircd"
			if (!((sc, side) in dps))
				continue
			printf "%-3s %-38s %-9s %7d %13d %8.2f %8.2f %7.1f%% %5s\n",
			       k == 1 || !((sc, "cryptocat") in dps) ? sc : "",
			       k == 1 || !((sc, "cryptocat") in dps) ? desc[sc] : "",
			       side, mps[sc, side], dps[sc, side], p50[sc, side],
			       p99[sc, side], cpu[sc, side], ok[sc, side]
		}
		# A0 (no acks) has no IRC run of its own: it compares with the IRC run of A.
		base = sc
		sub(/0$/, "", base)
		if (((sc, "cryptocat") in dps) && ((base, "ngircd") in dps) && dps[base, "ngircd"] > 0)
			printf "%-3s %-38s %-9s %7s %12.2fx\n", "", base == sc ? "" : "(ngircd: " base ")",
			       "ratio", "", dps[sc, "cryptocat"] / dps[base, "ngircd"]
	}
	print "deliveries/s: messages received by all receivers per second (each message reaches clients - 1)."
	print "ratio: Crypto Cat deliveries/s over ngircd. CPU: the server process, 100% = one core."
	print "no acks: receivers never send ROOM_READ (the client sends one every 64 messages)."
}' "$TMP/results"

# ---- FIGURE lines (bench/figures.sh gathers them into the table of make bench) ----

# deliveries/s side by side (bursts A and C: target 1.0x), deliveries per
# server CPU-second (target 2.0x; acks on: A, B, C) and B's p99 (no worse).
# A0 (no acks) is shown against ngircd's A, without a target.
labels=
for scenario in "${SCENARIOS[@]}"; do
	read -r label _ <<<"$scenario"
	labels="$labels $label"
done
awk -v labels="$labels" '
function field(line, key,    n, i, kv) {
	n = split(line, kv, " ")
	for (i = 1; i <= n; i++)
		if (index(kv[i], key "=") == 1)
			return substr(kv[i], length(key) + 2)
	return ""
}
function per_cpu(sc, side) {
	return cpu[sc, side] > 0 ? dps[sc, side] / (cpu[sc, side] / 100) : -1
}
# figure NAME OURS PEER UNIT TARGET(ratio>=X, ratio<=X or -) FORMAT NOTE
function figure(name, o, p, unit, target, fmt, note,    line, r, met, lim) {
	line = "FIGURE name=" name " ours=" (o < 0 ? "-" : sprintf(fmt, o))
	met = "n/a"
	if (p >= 0)
		line = line " peer=" sprintf(fmt, p)
	if (p >= 0 && o >= 0) {
		if (p > 0) {
			r = o / p
			line = line sprintf(" ratio=%.2f", r)
			lim = substr(target, 8) + 0
			if (target ~ /^ratio>=/)
				met = r >= lim ? "yes" : "no"
			else if (target ~ /^ratio<=/)
				met = r <= lim ? "yes" : "no"
		}
	}
	# A target that could not be checked is not met.
	if (target != "-" && (o < 0 || p < 0))
		met = "no"
	if (note != "" && met == "yes")
		met = "no"
	line = line " unit=" unit " target=" target " met=" met
	if (note != "")
		line = line " note=" note
	print line
}
/^RESULT / {
	split(field($0, "label"), lp, "/")
	sc = lp[1]; side = lp[2]
	dps[sc, side] = field($0, "deliveries_per_s") + 0
	p99[sc, side] = field($0, "p99_ms") + 0
	cpu[sc, side] = field($0, "server_cpu") + 0
	bad[sc, side] = !(field($0, "lost") == 0 && field($0, "reordered") == 0 &&
			  field($0, "verify_failures") == 0 && field($0, "dropped") == 0)
}
END {
	# Every scenario gets its rows, a run that failed (no RESULT) included.
	n = split(labels, order, " ")
	for (i = 1; i <= n; i++) {
		sc = order[i]
		base = sc
		sub(/0$/, "", base)
		have = (base, "ngircd") in dps
		if (!((sc, "cryptocat") in dps)) {
			dps[sc, "cryptocat"] = -1
			p99[sc, "cryptocat"] = -1
			note = "no Crypto Cat result: the run failed or was not run"
		} else
			note = bad[sc, "cryptocat"] ? "Crypto Cat failed its checks (lost, reordered, unverified or dropped)" : ""
		if (have && bad[base, "ngircd"])
			note = note (note == "" ? "" : "; ") "ngircd failed its checks"
		if (!have && note == "")
			note = "no ngircd run to compare with"
		info = base != sc ? "-" : ""
		tput = info != "" || sc == "B" ? "-" : "ratio>=1.0"
		figure("fanout_" sc "_deliveries_per_s", dps[sc, "cryptocat"], have ? dps[base, "ngircd"] : -1,
		       "deliveries/s", tput, "%.0f", note)
		figure("fanout_" sc "_deliveries_per_cpu_s", per_cpu(sc, "cryptocat"),
		       have ? per_cpu(base, "ngircd") : -1, "deliveries/cpu-s",
		       info != "" ? "-" : "ratio>=2.0", "%.0f", note)
		if (sc == "B")
			figure("fanout_B_p99_ms", p99[sc, "cryptocat"], have ? p99[base, "ngircd"] : -1, "ms",
			       "ratio<=1.0", "%.2f", note)
	}
}' "$TMP/results"

if [ "$failures" -ne 0 ]; then
	say "$failures run(s) failed or failed their checks (see above)"
	exit 1
fi
