#!/usr/bin/env bash
# api-coverage.sh: prints, for every operation of ../shared/api/wire-contract.md, whether cofferd routes
# it (a route table in src/api has its method and path) and which tests name it: conformance files
# that call the SDK method (or name the operation), e2e files that use its path. The raw material of
# docs/api-coverage.md; a route with no test is not counted as working there.
set -euo pipefail
cd "$(dirname "$0")/.."
contract=${1:-../shared/api/wire-contract.md}
routes=$(grep -ho '{ *"[A-Z]*", *"/[^"]*"' src/api/*.c | sed -E 's/\{ *"([A-Z]+)", *"([^"]*)"/\1 \2/' | sed -E 's/\{[^}]*\}/{}/g' | sort -u)
grep -E '^### (GET|POST|PUT|PATCH|DELETE) ' "$contract" | sed -E 's/^### ([A-Z]+) ([^ ]+)  \(([^ )]+).*/\1 \2 \3/' |
while read -r method path op; do
  norm=$(echo "$path" | sed -E 's/\{[^}]*\}/{}/g')
  if echo "$routes" | grep -qxF "$method /v2$norm" || echo "$routes" | grep -qxF "$method $norm"; then r=yes; else r=no; fi
  conf=$(grep -lE "\b$op\b" tests/conformance/*_test.go 2>/dev/null | xargs -r -n1 basename | paste -sd, - || true)
  static=$(echo "$path" | sed -E 's/\{[^}]*\}.*//; s#/$##')
  tail=$(echo "$path" | sed -E 's#.*\}##')
  e2e=$(grep -lF -- "${tail:-$static}" tests/e2e/e2e_*.c 2>/dev/null | xargs -r -n1 basename | paste -sd, - || true)
  printf '%s|%s|%s|%s|%s|%s\n' "$method" "$path" "$op" "$r" "${conf:--}" "${e2e:--}"
done
