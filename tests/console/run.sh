#!/usr/bin/env bash
# run.sh: the web console's browser test. Starts the real daemon (build/asan/cofferd, or COFFER_BIN)
# on a loopback port with a temp data directory, drives /console in headless Chromium through
# Selenium (Debian's chromium, chromium-driver and python3-selenium: scripts/setup.sh --test; nothing
# downloads a browser) with tests/console/test_console.py, and prints its PASS/FAIL lines and
# "N passed, N failed". Screenshots of each page go to CONSOLE_SCREENS (default
# build/test-logs/console-screens; tests/run-all.sh passes one under its log directory). The database
# steps start a private PostgreSQL 15 as the postgres user under the temp dir; they SKIP (with the
# reason) when that user cannot reach it (a parent of TMPDIR not traversable) or PostgreSQL is not
# installed. The daemon is stopped by its pid at the end; an ASan report in its log is a failure.
set -uo pipefail
cd "$(dirname "$0")/../.."
bin="${COFFER_BIN:-build/asan/cofferd}"
screens="${CONSOLE_SCREENS:-build/test-logs/console-screens}"
py=/usr/bin/python3
missing=""
[ -x "$bin" ] || missing="$missing $bin (run make test-bin)"
[ -x /usr/bin/chromium ] || missing="$missing chromium"
[ -x /usr/bin/chromedriver ] || missing="$missing chromium-driver"
"$py" -c 'import selenium' 2>/dev/null || missing="$missing python3-selenium"
if [ -n "$missing" ]; then
  echo "FAIL console_setup: missing:$missing (scripts/setup.sh --test installs the packages)"
  echo "0 passed, 1 failed"
  exit 1
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/coffer-console-XXXXXX")
mkdir -p "$work/data" "$screens"
screens=$(cd "$screens" && pwd)
key="console-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
log="$work/cofferd.log"
COFFER_ADMIN_KEY="$key" ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}" \
  "$bin" --data-dir "$work/data" --listen 127.0.0.1:0 >"$log" 2>&1 &
pid=$!
stop() {
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
  fi
  wait "$pid" 2>/dev/null
}
trap 'stop; rm -rf "$work"' EXIT
port=""
for _ in $(seq 1 600); do # up to 60 s (ASan start-up, migrations)
  port=$(sed -n 's/^cofferd ready port=\([0-9]*\).*/\1/p' "$log" | head -n 1)
  [ -n "$port" ] && break
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
if [ -z "$port" ]; then
  echo "FAIL console_daemon: cofferd did not start"; tail -n 20 "$log"
  echo "0 passed, 1 failed"
  exit 1
fi
CONSOLE_URL="http://127.0.0.1:$port" CONSOLE_KEY="$key" CONSOLE_TMP="$work" CONSOLE_SCREENS="$screens" \
  timeout -k 10 "${CONSOLE_TIMEOUT:-480}" "$py" tests/console/test_console.py | tee "$work/out.txt"
rc=${PIPESTATUS[0]}
stop
p=$(grep -c '^PASS ' "$work/out.txt"); f=$(grep -c '^FAIL ' "$work/out.txt"); s=$(grep -c '^SKIP ' "$work/out.txt")
if grep -q 'ERROR: AddressSanitizer\|runtime error:\|LeakSanitizer' "$log"; then
  echo "FAIL console_daemon_sanitizers: the daemon's log holds a sanitizer report:"
  grep -A 15 'ERROR: AddressSanitizer\|runtime error:\|LeakSanitizer' "$log" | head -40
  f=$((f + 1))
else
  echo "PASS console_daemon_sanitizers"; p=$((p + 1))
fi
if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
  echo "FAIL console_driver: the browser test exited with status $rc"; f=$((f + 1))
fi
[ "$f" -ne 0 ] && { echo "--- daemon log (last lines):"; tail -n 30 "$log"; }
echo "screenshots: $screens"
if [ "$s" -ne 0 ]; then echo "$p passed, $f failed, $s skipped"; else echo "$p passed, $f failed"; fi
[ "$f" -eq 0 ]
