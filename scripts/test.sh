#!/usr/bin/env bash
# test.sh: sets up a fresh machine, builds everything (the product with ASan+UBSan for tests), and
# runs every suite: C unit tests, end-to-end tests against the real daemon, and the conformance suite
# through the official IBM Go client. Ends with one line "N passed, N failed" over all suites.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test
# The build goes through ccache (installed by setup.sh) unless COFFER_CCACHE=0: a clean clone compiles
# everything again (about 210 CPU-seconds, 105 s on two cores), while ccache's store (~/.cache/ccache)
# outlives the clone on the machine (32 CPU-seconds then). CCACHE_BASEDIR and CCACHE_NOHASHDIR let a
# clone in another directory hit the same entries (the sources are compiled by relative paths; the
# debug info's compilation directory is then the first clone's).
if [ "${COFFER_CCACHE:-1}" = 1 ] && command -v ccache >/dev/null; then
  CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=1 make -s -j"$(nproc)" CC="ccache cc" FUZZ_CC="ccache clang" test-bin
else
  make -s -j"$(nproc)" test-bin
fi
exec tests/run-all.sh
