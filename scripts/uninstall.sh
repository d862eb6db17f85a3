#!/bin/sh
# make uninstall: removes from $DESTDIR$PREFIX what `make install` puts there.
# The list comes from the install rules themselves (CMakeLists.txt): they
# install into a scratch directory first, and each file found there is
# removed from the real place. Directories stay (they may be shared).
#   scripts/uninstall.sh BUILD_DIR PREFIX      (DESTDIR from the environment)
set -eu
[ $# -eq 2 ] || { echo "usage: $0 BUILD_DIR PREFIX" >&2; exit 2; }
build=$1
prefix=$2
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
DESTDIR=$stage cmake --install "$build" --prefix "$prefix" >/dev/null
(cd "$stage" && find . ! -type d) | while read -r f; do
	target="${DESTDIR:-}${f#.}"
	if [ -e "$target" ] || [ -L "$target" ]; then
		rm -f "$target"
		echo "-- Removed: $target"
	fi
done
