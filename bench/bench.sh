#!/usr/bin/env bash
# make bench: every stage of issue 11's benchmark, then ONE table of every
# target (ours beside the peer or the bound) and build/bench/results.json.
#
#   bench/bench.sh              the full set (about 4 minutes on 2 cores)
#   QUICK=1 bench/bench.sh      the same comparisons, short (under 3 minutes)
#
# Each stage prints FIGURE lines (bench/figures.sh describes the format) among
# its human output; its whole output is shown and kept in build/bench/STAGE.log.
# A stage that fails does not stop the others; the exit status is 1 if any
# failed. Knobs: BENCH_BUILD=DIR (default build), BENCH_STAGES="fanout conns"
# (run only these), and those of bench/run.sh (bench/README.md).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BENCH_BUILD:-$ROOT/build}
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
QUICK=${QUICK:-0}
[ "$QUICK" = 1 ] || QUICK=0
export QUICK BENCH_BUILD=$BUILD
OUT=$BUILD/bench
KEYS=${BENCH_KEYS:-/tmp/cryptocat-bench-keys}

say() { printf 'bench: %s\n' "$*" >&2; }

# ---- the stages ----------------------------------------------------------------
#
# To add a stage: write a function stage_NAME that prints FIGURE lines (any
# other output is kept as it is) and returns non-zero on failure, and add NAME
# to STAGES. Its output lands in $OUT/NAME.log and its figures in the table.

STAGES=(
	fanout      # A, A0, B, C against ngircd: deliveries/s, per CPU-second, B p99
	rooms       # 5,000-member rooms: create, add, kick by a real client core
	conns       # memory per registered idle connection
	handshakes  # handshakes/s against openssl speed's bound, clients served
	flood       # handshake floods (bench_flood, issue 10); full run only
	client_follow  # one real cryptocat --batch following 4,000 msg/s: CPU, lag
)

stage_fanout() {
	"$ROOT/bench/run.sh"
}

stage_rooms() {
	# A real client core creates a room of N, adds one, kicks one
	# (tools/bench_rooms/).
	local n=5000
	[ "$QUICK" = 1 ] && n=1000
	"$BUILD/bench_rooms" --server "$BUILD/cryptocat-server" --keys "$KEYS" --members "$n"
}

stage_conns() {
	local n=10000
	[ "$QUICK" = 1 ] && n=2000
	"$BUILD/bench_conns" memory --server "$BUILD/cryptocat-server" --keys "$KEYS" \
		--connections "$n"
}

stage_handshakes() {
	local secs=10 speed=3
	[ "$QUICK" = 1 ] && secs=3 && speed=1
	"$BUILD/bench_conns" handshakes --server "$BUILD/cryptocat-server" --keys "$KEYS" \
		--seconds "$secs" --speed-seconds "$speed"
}

stage_flood() {
	# Its four 10 s scenarios are a minute: left out of the short form
	# (make bench-flood runs it alone; its smoke run is a ctest).
	if [ "$QUICK" = 1 ]; then
		echo "bench_flood: skipped in QUICK=1 (make bench-flood runs it)"
		return 0
	fi
	"$BUILD/bench_flood"
}

stage_client_follow() {
	local secs=10
	[ "$QUICK" = 1 ] && secs=4
	"$BUILD/bench_follow" --duration "$secs" --keys "$KEYS"
}

# ---- running them ----------------------------------------------------------------

selected=${BENCH_STAGES:-${STAGES[*]}}
for s in $selected; do
	declare -F "stage_$s" >/dev/null || { say "no such stage: $s (stages: ${STAGES[*]})"; exit 2; }
done

if [ ! -f "$BUILD/build.ninja" ]; then
	cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
cmake --build "$BUILD" --target cryptocat-server loadgen bench_conns bench_flood bench_rooms >/dev/null ||
	{ say "build failed: run 'cmake --build $BUILD' to see why"; exit 1; }
mkdir -p "$OUT"
for s in "${STAGES[@]}"; do rm -f "$OUT/$s.log"; done
rm -f "$OUT/results.json" "$OUT/table.txt"

start=$(date +%s)
failed=()
logs=()
say "$(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg); QUICK=$QUICK; stages: $selected"
for s in $selected; do
	say "---- stage $s ----"
	t=$(date +%s)
	rc=0
	"stage_$s" 2>&1 | tee "$OUT/$s.log" || rc=$?
	logs+=("$OUT/$s.log")
	say "stage $s: $(( $(date +%s) - t )) s, status $rc"
	if [ "$rc" -ne 0 ]; then
		failed+=("$s")
		# A row of its own, so that the table cannot hide a failed stage
		# (its figures may be missing or partial).
		echo "FIGURE name=stage_${s}_failed ours=$rc unit=status target=0 met=no" \
			"note=the stage failed: see $OUT/$s.log" | tee -a "$OUT/$s.log"
	fi
done

echo
echo "Issue 11's targets ($(nproc) CPUs, QUICK=$QUICK, $(( $(date +%s) - start )) s; every figure from this one invocation):"
"$ROOT/bench/figures.sh" "$OUT/results.json" "${logs[@]}" | tee "$OUT/table.txt"
if [ ${#failed[@]} -ne 0 ]; then
	say "stages that failed: ${failed[*]} (their logs: $OUT/STAGE.log)"
	exit 1
fi
