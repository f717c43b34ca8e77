#!/usr/bin/env bash
# api-coverage.sh: prints, for every operation of the OpenAPI description openapi/coffer.json (every
# route cofferd serves, both APIs and Coffer's extensions; tests/unit/test_openapi.c keeps it equal to
# the route tables), whether a route table in src/api has its method and path, and which tests name
# it: conformance files that call the SDK method (or name the operation), e2e files that use its path.
# Then every route of the tables the description lacks (a route added after the description was last
# edited). Stands only on files inside the repository. The raw material of docs/api-coverage.md; a
# route with no test is not counted as working there. Output: method|path|operationId|tag|routed|
# conformance files|e2e files, and "UNDOCUMENTED method path" lines. Needs jq (scripts/setup.sh --test).
set -euo pipefail
cd "$(dirname "$0")/.."
desc=${1:-openapi/coffer.json}
norm() { sed -E 's/\{[^}]*\}/{}/g'; }
routes=$(grep -ho '{ *"[A-Z]*", *[A-Z]*"/[^"]*"\|{ *"[A-Z]*", *"/[^"]*"' src/api/*.c |
  sed -E 's/\{ *"([A-Z]+)", *"([^"]*)"/\1 \2/' | norm | sort -u)
# site_api.c spells its paths with the SITES/EXEC macros, connector_side.c with BOTH(): expand them.
sites=$(sed -nE 's/^#define SITES "([^"]*)"/\1/p' src/api/site_api.c)
execs="$sites$(sed -nE 's/^#define EXEC SITES "([^"]*)"/\1/p' src/api/site_api.c)"
routes="$routes
$(grep -hoE '\{ *"[A-Z]+", *(SITES|EXEC) "[^"]*"' src/api/site_api.c |
  sed -E "s#\{ *\"([A-Z]+)\", *SITES \"#\1 $sites#; s#\{ *\"([A-Z]+)\", *EXEC \"#\1 $execs#; s/\"\$//" | norm)
$(grep -hoE 'BOTH\("[A-Z]+", *"[^"]*"\)' src/api/*.c | sed -E 's/BOTH\("([A-Z]+)", *"([^"]*)"\)/\1 \2\n\1 \/v2\2/' | norm)"
routes=$(echo "$routes" | sort -u)
documented=""
while IFS='|' read -r method path op tag both; do
  m=$(echo "$method" | tr a-z A-Z)
  n=$(echo "$path" | norm)
  documented="$documented
$m $n"
  [ "$both" = true ] && documented="$documented
$m ${n#/v2}"
  if echo "$routes" | grep -qxF "$m $n"; then r=yes; else r=no; fi
  conf=$(grep -lE "\b$op\b" tests/conformance/*_test.go 2>/dev/null | xargs -r -n1 basename | paste -sd, - || true)
  static=$(echo "$path" | sed -E 's/\{[^}]*\}.*//; s#/$##; s#^/v2##')
  tail=$(echo "$path" | sed -E 's#.*\}##')
  e2e=$(grep -lF -- "${tail:-$static}" tests/e2e/e2e_*.c 2>/dev/null | xargs -r -n1 basename | paste -sd, - || true)
  printf '%s|%s|%s|%s|%s|%s|%s\n' "$m" "$path" "$op" "$tag" "$r" "${conf:--}" "${e2e:--}"
done < <(jq -r '.paths | to_entries[] | .key as $p | (.value["x-coffer-also-without-v2"] // false) as $b
  | .value | to_entries[] | select(.key | test("^(get|put|post|delete|patch)$"))
  | [.key, $p, .value.operationId, (.value.tags[0] // "-"), ($b | tostring)] | join("|")' "$desc")
echo "$routes" | while read -r m p; do
  [ -n "$m" ] || continue
  case "$p" in /v2/coffer-test/*) continue ;; esac
  echo "$documented" | grep -qxF "$m $p" || echo "UNDOCUMENTED $m $p"
done
