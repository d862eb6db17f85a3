#!/bin/sh
# The layering rules of DESIGN.md, checked on the sources (run by `make test`
# through CTest): each layer includes only the layers below it; OpenSSL only
# in src/crypto/, SQLite only in src/store/, jansson only in the batch front
# end, curses only in the full-screen UI; the client core touches no
# terminal and no standard stream.
set -eu
cd "$(dirname "$0")/.."
status=0

fail() {
	echo "check-layers: $*" >&2
	status=1
}

# includes DIR ALLOWED...: every project include of DIR's files names one of
# ALLOWED (a directory under src/, or "client/core" and the like).
includes() {
	dir=$1
	shift
	for f in $(find "src/$dir" -maxdepth 1 -name '*.[ch]'); do
		grep -o '#include "[a-z_]*/[a-z_/]*\.h"' "$f" | sed 's/#include "//; s/"$//' |
		while read -r inc; do
			ok=0
			for allowed in "$@"; do
				case $inc in "$allowed"/*) ok=1 ;; esac
			done
			[ $ok = 1 ] || { echo "$f includes $inc"; }
		done
	done
}

check() {
	out=$(includes "$@")
	[ -z "$out" ] || fail "layer $1 reaches above itself:
$out"
}

check util util
check proto util proto
check crypto util crypto
check transport util proto crypto transport
check e2e util proto crypto e2e
check store util store
check server util proto crypto transport e2e store server
check client/core util proto crypto transport e2e store client/core
check client/cli util proto client/core client/cli
check client/batch util client/core client/cli client/batch
check client/plain util client/core client/cli client/plain
check client/tui util proto client/core client/cli client/tui
check testhooks util

only_in() {
	pattern=$1
	where=$2
	found=$(grep -rlE "$pattern" src | grep -v "^src/$where/" || true)
	[ -z "$found" ] || fail "$pattern outside src/$where/: $found"
}
only_in '#include <openssl/' crypto
only_in '#include <sqlite3.h>' store
only_in '#include <jansson.h>' client/batch
only_in '#include <(n?curses|ncursesw/|term\.h)' client/tui

# The client core: no terminal, no standard stream (front ends own those).
found=$(grep -nE '\b(stdout|stderr|stdin|printf|fprintf|puts|fputs|putchar|getchar|isatty)\b|curses' \
	src/client/core/*.[ch] | grep -v '^\S*:\s*[0-9]*:\s*/\?\*' || true)
[ -z "$found" ] || fail "the client core touches a stream or the terminal:
$found"

[ $status = 0 ] && echo "check-layers: every layer includes only those below it"
exit $status
