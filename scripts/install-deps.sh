#!/usr/bin/env bash
# Installs the Debian packages Crypto Cat builds and tests with (tmux: the
# full-screen UI's end-to-end tests drive it in a tmux pane; groff-base and
# man-db: the manual pages are rendered, warnings failing the test, and found
# where `make install` puts them; systemd: systemd-analyze checks the example
# service unit; all three are on the project's machines already; tor: the
# onion-service test runs a tor of its own with DisableNetwork, so nothing
# leaves the machine). Called by `make
# run` and `make test`; does nothing when everything is already there.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config clang
  libssl-dev libevent-dev libsqlite3-dev libncurses-dev
  libcmocka-dev libjansson-dev sqlite3
  tmux groff-base man-db systemd tor
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "install-deps: installing ${missing[*]}"
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
# Wait for another apt/dpkg to release its lock rather than failing.
apt_opts=(-o DPkg::Lock::Timeout=600 -y -q)
$sudo apt-get "${apt_opts[@]}" update
$sudo apt-get "${apt_opts[@]}" install --no-install-recommends "${missing[@]}"
