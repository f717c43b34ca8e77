#!/usr/bin/env bash
# run.sh: runs the Go conformance suite (the official IBM Go client against the real cofferd).
# Builds nothing of Coffer: `make test-bin` must have built build/asan/cofferd (or set COFFER_BIN).
# The first run downloads the Go modules named in go.mod/go.sum through the Go module proxy into the
# module cache; later runs work offline from that cache. Prints go test -v output (--- PASS/--- FAIL
# lines for tests/run-all.sh).
set -euo pipefail
cd "$(dirname "$0")"
if ! command -v go >/dev/null 2>&1; then
  export PATH="$PATH:/usr/local/go/bin"
fi
# -mod=mod lets go resolve from go.mod/go.sum without a vendor folder; once the module cache holds the
# versions pinned there, nothing is fetched. GOFLAGS from the caller is kept in front.
export GOFLAGS="${GOFLAGS:+$GOFLAGS }-mod=mod"
exec go test -v -count=1 -timeout "${CONFORMANCE_TIMEOUT:-10m}" ./...
