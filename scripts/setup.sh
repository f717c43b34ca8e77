#!/usr/bin/env bash
# setup.sh: installs every Debian package Coffer needs to build, run and test. Idempotent; run as
# root on Debian 12 (bookworm). Set COFFER_SETUP_SKIP=1 to skip (when the machine is known ready).
set -euo pipefail
[ "${COFFER_SETUP_SKIP:-0}" = 1 ] && exit 0
BUILD_PKGS="build-essential make pkg-config libmicrohttpd-dev libjansson-dev libsqlite3-dev libpq-dev \
libssl-dev libzstd-dev libcurl4-openssl-dev"
TEST_PKGS="curl sqlite3 tar attr"
want="$BUILD_PKGS"
[ "${1:-}" = "--test" ] && want="$want $TEST_PKGS"
SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
# Go for the conformance suite (the official IBM client is a Go module whose go.mod needs Go 1.23):
# a Go of at least 1.23 already on the machine, else Debian's golang-1.23-go from bookworm-backports
# (bookworm's own golang-go is 1.19, too old). tests/conformance/run.sh finds either.
go_ok() {
  local g v
  for g in "$(command -v go 2>/dev/null)" /usr/local/go/bin/go /usr/lib/go-1.2[3-9]/bin/go; do
    [ -n "$g" ] && [ -x "$g" ] || continue
    v=$("$g" env GOVERSION 2>/dev/null | sed -E 's/^go1\.([0-9]+).*/\1/')
    [ -n "$v" ] && [ "$v" -ge 23 ] 2>/dev/null && return 0
  done
  return 1
}
if [ "${1:-}" = "--test" ] && ! go_ok; then
  if ! apt-cache policy golang-1.23-go 2>/dev/null | grep -q 'Candidate: [0-9]'; then
    echo "deb http://deb.debian.org/debian bookworm-backports main" | $SUDO tee /etc/apt/sources.list.d/coffer-backports.list >/dev/null
  fi
  want="$want golang-1.23-go"
fi
missing=""
for p in $want; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  echo "setup: installing:$missing"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing >/dev/null
fi
