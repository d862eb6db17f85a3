#!/usr/bin/env bash
# make memcheck: the integration tests (ctest -R test_itest) with the server
# and the client they start running under valgrind's memcheck.
#
#   scripts/memcheck.sh BUILD_DIR [CTEST_REGEX]
#
# The test programs start ITEST_SERVER_BIN / ITEST_CLIENT_BIN (tests/support/
# itest.h); here those are small wrappers that exec valgrind on the test
# variants (BUILD_DIR/testbin/). valgrind exits 99 on any error or leak, and
# the tests check every exit status they wait for; the logs are searched
# here as well, for the processes whose status no test reads (see below). Timeouts are scaled (ITEST_TIMEOUT_SCALE, default 40: a
# 2048-bit key made under valgrind takes tens of seconds), and the tests run
# one at a time (JOBS, default 1): each starts several programs at once.
set -euo pipefail

build=${1:?usage: memcheck.sh BUILD_DIR [CTEST_REGEX]}
regex=${2:-test_itest}
build=$(cd "$build" && pwd)
src=$(cd "$(dirname "$0")/.." && pwd)
out=$build/memcheck
rm -rf "$out"
mkdir -p "$out/logs"

# Leaks of every kind valgrind can be sure of, and every memory error.
# "still reachable" (OpenSSL's and libevent's globals at exit) is not a leak.
vg_opts=(--error-exitcode=99 --leak-check=full
	 --show-leak-kinds=definite,indirect,possible
	 --errors-for-leak-kinds=definite,indirect,possible
	 --num-callers=30
	 --suppressions="$src/scripts/memcheck.supp"
	 "--log-file=$out/logs/%q{ITEST_VG_NAME}.%p.log")

# The server's 5 s handshake timeout is too short for a handshake under
# valgrind (an RSA operation takes seconds there, several clients at once):
# 120 s. A test's own handshake or idle timeout (a few seconds, for its
# slowloris rows) is multiplied by 10 for the same reason; the tests' waits
# are scaled more (ITEST_TIMEOUT_SCALE). And there the handshake queue is long
# enough to raise the proof of work, which the tests' raw clients do not
# solve: none unless a test asks. The defaults go first, so that a test's own
# options still win.
for prog in cryptocat-server cryptocat; do
	first=""
	[ "$prog" = cryptocat-server ] &&
		first=" '--handshake-timeout' '120' '--puzzle-max' '0'"
	{
		echo '#!/bin/sh'
		echo "ITEST_VG_NAME=$prog; export ITEST_VG_NAME"
		cat <<'EOS'
# Each argument after --handshake-timeout or --idle-timeout times 10.
n=$#
scale=
while [ "$n" -gt 0 ]; do
	a=$1
	shift
	n=$((n - 1))
	if [ -n "$scale" ]; then
		case $a in *[!0-9]*|'') ;; *) a=$((a * 10)) ;; esac
	fi
	scale=
	case $a in --handshake-timeout|--idle-timeout) scale=1 ;; esac
	set -- "$@" "$a"
done
EOS
		printf 'exec valgrind'
		printf " '%s'" "${vg_opts[@]}"
		printf " '%s'%s \"\$@\"\n" "$build/testbin/$prog" "$first"
	} >"$out/$prog"
	chmod +x "$out/$prog"
done

export ITEST_SERVER_BIN=$out/cryptocat-server
export ITEST_CLIENT_BIN=$out/cryptocat
export ITEST_TIMEOUT_SCALE=${ITEST_TIMEOUT_SCALE:-40}
# Memory bounds read from /proc measure valgrind itself: its leak check decides.
export ITEST_UNDER_VALGRIND=1

start=$(date +%s)
status=0
# test_itest_release checks the release binaries for test hooks; here the
# programs it would look at are the wrappers above, which run the test
# variants (hooks and all), so it cannot pass and says nothing about memory.
(cd "$build" && ctest -R "$regex" -E '^test_itest_release$' --output-on-failure \
	-j "${JOBS:-1}" --timeout 14400) || status=$?

# The tests check the exit status (99 on any error or leak) of every process
# they stop. A process killed on purpose (a crash point raises SIGKILL, which
# valgrind still reports on) holds what it was using then: "possibly lost"
# there is its live state, so the logs are searched for memory errors and
# for blocks definitely or indirectly lost, which no kill explains.
vg_faults='Invalid (read|write|free)|uninitialised|Conditional jump|Mismatched free'
vg_faults="$vg_faults|overlap|are definitely lost|are indirectly lost"
bad=0
for log in "$out"/logs/*.log; do
	[ -e "$log" ] || continue
	if grep -qE "$vg_faults" "$log"; then
		echo "memcheck: errors in $log:"
		sed -n '1,200p' "$log"
		bad=1
	fi
done
n=$(ls "$out/logs" | wc -l)
echo "memcheck: $n processes under valgrind, $(( $(date +%s) - start )) s"
[ "$bad" -eq 0 ] || status=1
[ "$status" -eq 0 ] && echo "memcheck: no errors, no leaks"
exit "$status"
