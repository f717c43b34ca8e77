#!/usr/bin/env bash
# setup.sh: installs every Debian package Coffer needs to build, run and test. Idempotent; run as
# root on Debian 12 (bookworm). Set COFFER_SETUP_SKIP=1 to skip (when the machine is known ready).
set -euo pipefail
[ "${COFFER_SETUP_SKIP:-0}" = 1 ] && exit 0
# xxd embeds the web console (console/) and openapi/coffer.json into cofferd at build time.
BUILD_PKGS="build-essential make pkg-config libmicrohttpd-dev libjansson-dev libsqlite3-dev libpq-dev \
libssl-dev libzstd-dev libcurl4-openssl-dev libgnutls28-dev xxd"
# clang and its runtime (libFuzzer) build the fuzz targets of tests/fuzz (make fuzz-bin); the openssl
# tool checks certificates in e2e_tls; dpkg-dev and jq: the package suite builds and checks the Debian
# package (scripts/build-deb.sh), and jq reads openapi/coffer.json in scripts/api-coverage.sh; chromium,
# chromium-driver and python3-selenium drive the web console in a real (headless) browser
# (tests/console); nothing downloads a browser.
TEST_PKGS="curl sqlite3 tar attr openssl clang libclang-rt-14-dev dpkg-dev jq chromium chromium-driver python3-selenium"
# python3-venv: tests/schemathesis/run.sh installs the pinned schemathesis from PyPI into a venv under
# build/ (Python only in that test).
TEST_PKGS="$TEST_PKGS python3-venv"
# man-db and groff-base: the cli_docs suite renders the man pages coffer(1) and cofferd(8) with man -l.
TEST_PKGS="$TEST_PKGS man-db groff-base"
# ccache: scripts/test.sh builds through it, so a clean clone reuses the objects an earlier clone on
# the same machine compiled (the build is then about 16 s instead of 105 s on two cores).
TEST_PKGS="$TEST_PKGS ccache"
# zsh: the cli_docs suite checks the zsh completion (zsh -n, and completions typed into a zsh on a pty).
TEST_PKGS="$TEST_PKGS zsh"
# PostgreSQL 15 (the SQL mover's engine, docs/databases.md): the server binaries land in
# /usr/lib/postgresql/15/bin; the daemon and the tests start their own servers, so Debian's default
# cluster is not wanted (see no_main_cluster below).
PG_PKGS="postgresql-15 postgresql-client-15"
want="$BUILD_PKGS $PG_PKGS"
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
# debian_archive_uri: the URI this machine's own apt configuration uses for bookworm's archive (a
# deb822 .sources stanza or a one-line .list entry): the project names no mirror of its own.
debian_archive_uri() {
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    awk 'BEGIN { RS = ""; FS = "\n" }
         { u = ""; s = 0
           for (i = 1; i <= NF; i++) {
             if ($i ~ /^URIs:/) { sub(/^URIs:[ \t]*/, "", $i); split($i, a, " "); u = a[1] }
             if ($i ~ /^Suites:/ && $i ~ /[ \t]bookworm([ \t]|$)/) s = 1
           }
           if (u != "" && s) print u }' "$f"
  done
  grep -hE '^deb[[:space:]]+(\[[^]]*\][[:space:]]+)?[^[:space:]]+[[:space:]]+bookworm[[:space:]]' \
    /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
    sed -E 's/^deb[[:space:]]+(\[[^]]*\][[:space:]]+)?([^[:space:]]+).*/\2/'
}
if [ "${1:-}" = "--test" ] && ! go_ok; then
  if ! apt-cache policy golang-1.23-go 2>/dev/null | grep -q 'Candidate: [0-9]'; then
    uri=$(debian_archive_uri | head -n 1)
    if [ -z "$uri" ]; then
      echo "setup: no apt source for bookworm found to add bookworm-backports from (Go >= 1.23 is needed)" >&2
      exit 1
    fi
    echo "deb $uri bookworm-backports main" | $SUDO tee /etc/apt/sources.list.d/coffer-backports.list >/dev/null
  fi
  want="$want golang-1.23-go"
fi
# no_main_cluster: tells postgresql-common not to create and start a "main" cluster when the server
# package is installed (create_main_cluster = false in createcluster.conf, unless it says so already).
no_main_cluster() {
  local f=/etc/postgresql-common/createcluster.conf
  grep -qE '^[[:space:]]*create_main_cluster[[:space:]]*=[[:space:]]*(false|off|no|0)' "$f" 2>/dev/null && return 0
  $SUDO mkdir -p /etc/postgresql-common
  echo "create_main_cluster = false   # coffer: servers are started by the daemon and the tests" |
    $SUDO tee -a "$f" >/dev/null
}
missing=""
for p in $want; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  echo "setup: installing:$missing"
  case " $missing " in *" postgresql-15 "*) no_main_cluster ;; esac
  $SUDO apt-get update -qq
  # confold: keep our createcluster.conf if the package that ships it is installed only now
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq -o Dpkg::Options::=--force-confdef \
    -o Dpkg::Options::=--force-confold $missing >/dev/null
fi
# The S3-compatible server of the object-storage tests (tests/e2e/s3test.c): versitygw, built once
# from the Go module proxy at a pinned version into ~/.cache/coffer/versitygw-<version>/ (the tests
# look there, or at $COFFER_VERSITYGW). Its posix backend keeps object-lock state in user.* xattrs
# (the `attr` package above gives setfattr for checking a filesystem by hand).
VERSITYGW_VERSION=v1.8.0
if [ "${1:-}" = "--test" ]; then
  vgw_dir="${HOME:-/root}/.cache/coffer/versitygw-$VERSITYGW_VERSION"
  if [ ! -x "$vgw_dir/versitygw" ]; then
    gobin=$(command -v go || ls /usr/lib/go-1.2[3-9]/bin/go 2>/dev/null | tail -n 1)
    if [ -z "$gobin" ]; then
      echo "setup: no Go toolchain to build versitygw with" >&2
      exit 1
    fi
    echo "setup: building versitygw $VERSITYGW_VERSION into $vgw_dir"
    mkdir -p "$vgw_dir"
    GOBIN="$vgw_dir" GOFLAGS=-buildvcs=false timeout 1800 "$gobin" install \
      "github.com/versity/versitygw/cmd/versitygw@$VERSITYGW_VERSION"
  fi
fi
