#!/bin/sh
# Builds the stand-ins and the self-test with gcc, clang and gcc+ASan/UBSan,
# and runs each. Usage: tests/support/selftest/run.sh [scratch-dir]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
out=${1:-/tmp/itest-selftest}
flags="-std=c11 -g -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes
 -Wmissing-prototypes -Wvla -Wformat=2 -Wno-format-nonliteral
 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE"
for variant in gcc clang asan; do
	case $variant in
	gcc)   cc=gcc;   extra="-O2 -D_FORTIFY_SOURCE=2" ;;
	clang) cc=clang; extra="-O2" ;;
	asan)  cc=${ASAN_CC:-gcc}; extra="-O0 -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" ;;
	esac
	dir=$out/$variant
	mkdir -p "$dir"
	$cc $flags $extra -Wno-missing-prototypes -o "$dir/cryptocat-server" "$here/fake_server.c"
	$cc $flags $extra -Wno-missing-prototypes -o "$dir/cryptocat" "$here/fake_client.c"
	$cc $flags $extra -I"$root/src" -I"$root/tests/support" \
		-DCC_SOURCE_DIR="\"$root\"" -DCC_BINARY_DIR="\"$dir\"" \
		-o "$dir/selftest" "$here/selftest.c" "$root/tests/support/itest.c" \
		-lcmocka -ljansson
	echo "==== $variant"
	(cd "$dir" && ITEST_TIMEOUT_SCALE=${ITEST_TIMEOUT_SCALE:-0.2} ./selftest)
done
