#!/usr/bin/env bash
# run.sh: runs the Go conformance suite (the official IBM Go client against the real cofferd).
# Builds nothing of Coffer: `make test-bin` must have built build/asan/cofferd (or set COFFER_BIN).
# The first run downloads the Go modules named in go.mod/go.sum through the Go module proxy into the
# module cache; later runs work offline from that cache. Prints go test -v output (--- PASS/--- FAIL
# lines for tests/run-all.sh).
set -euo pipefail
cd "$(dirname "$0")"
# The newest Go at hand: PATH, /usr/local/go, or Debian's versioned packages (scripts/setup.sh).
for d in /usr/local/go/bin /usr/lib/go-1.2[3-9]/bin; do
  if ! command -v go >/dev/null 2>&1 || ! go env GOVERSION 2>/dev/null | grep -qE '^go1\.(2[3-9]|[3-9][0-9])'; then
    [ -x "$d/go" ] && export PATH="$d:$PATH"
  fi
done
export GOTOOLCHAIN=local
# -mod=mod lets go resolve from go.mod/go.sum without a vendor folder; once the module cache holds the
# versions pinned there, nothing is fetched. GOFLAGS from the caller is kept in front.
export GOFLAGS="${GOFLAGS:+$GOFLAGS }-mod=mod"
exec go test -v -count=1 -timeout "${CONFORMANCE_TIMEOUT:-10m}" ./...
