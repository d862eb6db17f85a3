#!/usr/bin/env bash
# Replays every fuzz target's seed corpus, then fuzzes each for SECONDS.
# Usage: scripts/fuzz.sh BUILD_DIR SECONDS
set -euo pipefail
build=$1
seconds=$2
root=$(cd "$(dirname "$0")/.." && pwd)
status=0
for bin in "$build"/fuzz_*; do
  [ -x "$bin" ] || continue
  name=$(basename "$bin")
  corpus="$root/fuzz/corpus/${name#fuzz_}"
  work="$build/corpus-${name#fuzz_}"
  mkdir -p "$work" "$root/fuzz/artifacts"
  echo "== $name: replaying seed corpus"
  "$bin" -runs=0 "$corpus" >"$build/$name.replay.log" 2>&1 || { cat "$build/$name.replay.log"; status=1; continue; }
  echo "== $name: fuzzing ${seconds}s"
  if ! "$bin" -max_total_time="$seconds" -print_final_stats=0 \
        -artifact_prefix="$root/fuzz/artifacts/$name-" "$work" "$corpus" \
        >"$build/$name.fuzz.log" 2>&1; then
    tail -n 40 "$build/$name.fuzz.log"
    status=1
  else
    grep -E '^#[0-9]+[[:space:]]+DONE' "$build/$name.fuzz.log" | tail -n 1 || true
  fi
done
if [ $status -eq 0 ]; then echo "fuzz: all targets clean"; fi
exit $status
