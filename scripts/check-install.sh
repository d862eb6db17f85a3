#!/bin/sh
# The install rules and the example service unit, checked (CTest
# "check_install"):
# - `cmake --install` (what `make install` runs) into a scratch DESTDIR puts
#   exactly the two shipped programs and their manual pages there, nothing
#   else (no test variant from testbin/, no tool), modes 0755 and 0644;
# - the installed programs run (--version), and are the shipped ones (the
#   test variants hold the test clock's variable name, these must not);
# - man finds the installed pages;
# - docs/cryptocat-server.service names the installed server, whose options
#   there parse; systemd-analyze verifies the unit (with its man: link) and
#   rates its sandbox at most 2.0 ("OK");
# - scripts/uninstall.sh (`make uninstall`) removes every installed file.
#   scripts/check-install.sh BUILD_DIR
set -eu
[ $# -eq 1 ] || { echo "usage: $0 BUILD_DIR" >&2; exit 2; }
src=$(cd "$(dirname "$0")/.." && pwd)
build=$1
prefix=/usr/local
dest=$(mktemp -d)
scratch=$(mktemp -d)
trap 'rm -rf "$dest" "$scratch"' EXIT
fail() {
	echo "check-install: $*" >&2
	exit 1
}

DESTDIR=$dest cmake --install "$build" --prefix "$prefix" >/dev/null
want="./usr/local/bin/cryptocat
./usr/local/sbin/cryptocat-server
./usr/local/share/man/man1/cryptocat.1
./usr/local/share/man/man8/cryptocat-server.8"
got=$(cd "$dest" && find . ! -type d | LC_ALL=C sort)
[ "$got" = "$want" ] || fail "installed:
$got
instead of:
$want"

for f in bin/cryptocat sbin/cryptocat-server; do
	path=$dest$prefix/$f
	[ "$(stat -c %a "$path")" = 755 ] || fail "$f has mode $(stat -c %a "$path")"
	out=$("$path" --version) || fail "$f --version failed"
	case $out in
	"${f#*/} "[0-9]*) ;;
	*) fail "$f --version says: $out" ;;
	esac
	! grep -q CRYPTOCAT_CLOCK_FILE "$path" || fail "$f is a test variant"
done
for page in man1/cryptocat.1 man8/cryptocat-server.8; do
	path=$dest$prefix/share/man/$page
	[ "$(stat -c %a "$path")" = 644 ] || fail "$page has mode $(stat -c %a "$path")"
	cmp -s "$path" "$src/docs/man/${page#*/}" || fail "$page is not docs/man's"
done
for name in cryptocat cryptocat-server; do
	found=$(man -M "$dest$prefix/share/man" -w "$name") || fail "man does not find $name"
	case $found in "$dest"*) ;; *) fail "man finds $name at $found" ;; esac
done

# The example unit, pointed at the installed server.
command -v systemd-analyze >/dev/null ||
	fail "no systemd-analyze (scripts/install-deps.sh installs systemd)"
unit=$scratch/cryptocat-server.service
sed "s|^ExecStart=$prefix/sbin/cryptocat-server |ExecStart=$dest$prefix/sbin/cryptocat-server |" \
	"$src/docs/cryptocat-server.service" >"$unit"
exec_line=$(grep '^ExecStart=' "$unit")
case $exec_line in
"ExecStart=$dest"*) ;;
*) fail "the unit's ExecStart does not name $prefix/sbin/cryptocat-server: $exec_line" ;;
esac
# Its options parse (--help, last, exits 0 once they have); %S is /var/lib.
# shellcheck disable=SC2086
set -- $(echo "${exec_line#ExecStart=}" | sed "s|%S|$scratch|g")
"$@" --help >/dev/null || fail "the unit's command line does not parse: $*"
out=$(MANPATH=$dest$prefix/share/man systemd-analyze verify "$unit" 2>&1) ||
	fail "systemd-analyze verify: $out"
[ -z "$out" ] || fail "systemd-analyze verify warns: $out"
systemd-analyze security --offline=true --threshold=20 "$unit" >"$scratch/security" 2>&1 ||
	fail "the unit's sandbox rates above 2.0: $(tail -n 1 "$scratch/security")"

DESTDIR=$dest "$src/scripts/uninstall.sh" "$build" "$prefix" >/dev/null
left=$(cd "$dest" && find . ! -type d)
[ -z "$left" ] || fail "make uninstall left: $left"
echo "check-install: installed, ran, verified the unit, uninstalled"
