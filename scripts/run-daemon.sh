#!/usr/bin/env bash
# run-daemon.sh: sets up a fresh machine, builds, and runs cofferd on its embedded defaults
# (SQLite catalog and local repository under ./var, listening on 127.0.0.1:8080). Extra arguments go
# to cofferd (for example --listen 127.0.0.1:9090 or --data-dir /srv/coffer).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
make -j"$(nproc)" all
exec build/cofferd "$@"
