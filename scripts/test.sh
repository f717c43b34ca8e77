#!/usr/bin/env bash
# test.sh: sets up a fresh machine, builds everything (the product with ASan+UBSan for tests), and
# runs every suite: C unit tests, end-to-end tests against the real daemon, and the conformance suite
# through the official IBM Go client. Ends with one line "N passed, N failed" over all suites.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test
make -s -j"$(nproc)" test-bin
exec tests/run-all.sh
