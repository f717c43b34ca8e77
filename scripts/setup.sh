#!/usr/bin/env bash
# setup.sh: installs every Debian package Coffer needs to build, run and test. Idempotent; run as
# root on Debian 12 (bookworm). Set COFFER_SETUP_SKIP=1 to skip (when the machine is known ready).
set -euo pipefail
[ "${COFFER_SETUP_SKIP:-0}" = 1 ] && exit 0
BUILD_PKGS="build-essential make pkg-config libmicrohttpd-dev libjansson-dev libsqlite3-dev libpq-dev \
libssl-dev libzstd-dev libcurl4-openssl-dev"
TEST_PKGS="curl sqlite3 tar attr postgresql postgresql-client"
want="$BUILD_PKGS"
[ "${1:-}" = "--test" ] && want="$want $TEST_PKGS"
# Go for the conformance suite (the official IBM client is a Go module): Debian's unless one is present.
if [ "${1:-}" = "--test" ] && ! command -v go >/dev/null 2>&1 && [ ! -x /usr/local/go/bin/go ]; then
  want="$want golang-go"
fi
missing=""
for p in $want; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  echo "setup: installing:$missing"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing >/dev/null
fi
