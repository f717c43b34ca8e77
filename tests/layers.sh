#!/usr/bin/env bash
# layers.sh: checks the structure rules of docs/architecture.md on the built objects, so they cannot
# rot unseen. From the symbols each object of build/asan/obj/src/*/*.o defines and uses (nm):
#   no_circle_between_files   no two source files reach each other through calls (tsort finds loops)
#   modules_call_down_only    a module uses only the modules below it (the table below)
#   wire_names_only_in_api    no string literal below src/api is an IBM wire field name (the names come
#                             from ../shared/api/wire-contract.md; src/cli is a client of the API;
#                             src/agentd/local_api.c serves the connector-side operations on the agent)
# Prints "PASS name" or "FAIL name: why" for each and a last line "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
objdir=build/asan/obj/src
passed=0; failed=0
pass() { echo "PASS $1"; passed=$((passed + 1)); }
fail() { echo "FAIL $1: $2"; failed=$((failed + 1)); }
work=$(mktemp -d "${TMPDIR:-/tmp}/coffer-layers-XXXXXX")
trap 'rm -rf "$work"' EXIT

objs=$(ls "$objdir"/*/*.o 2>/dev/null)
if [ -z "$objs" ]; then
  fail no_circle_between_files "no objects under $objdir (run make test-bin)"
  fail modules_call_down_only "no objects under $objdir"
else
  # "file symbol" for every defined and every used symbol (sanitizer and libc symbols never match).
  for o in $objs; do
    f=${o#"$objdir"/}; f=${f%.o}
    nm "$o" | awk -v f="$f" '$2 ~ /^[TDBR]$/ { print f, $3 >> "'"$work"'/defs" } $1 == "U" { print f, $2 >> "'"$work"'/uses" }'
  done
  # edges "user definer" between different files
  awk 'NR == FNR { def[$2] = $1; next } ($2 in def) && def[$2] != $1 { print $1, def[$2] }' \
    "$work/defs" "$work/uses" | sort -u >"$work/edges"
  if tsort "$work/edges" >/dev/null 2>"$work/loops"; then
    pass no_circle_between_files
  else
    fail no_circle_between_files "$(grep -v 'input contains a loop' "$work/loops" | sed 's/^tsort: //' | tr '\n' ' ')"
  fi
  # the modules each module may use (docs/architecture.md: calls go down only)
  allowed() {
    case $1 in
      util) echo "" ;;
      repo|catalog) echo "util" ;;
      engine) echo "repo util" ;;
      svc) echo "engine catalog repo util" ;;
      sched) echo "svc engine catalog repo util" ;;
      agent) echo "catalog util" ;;
      agentd) echo "agent engine repo util" ;;
      api) echo "sched svc engine agent catalog repo util" ;;
      cli) echo "util" ;;
      *) echo "?" ;;
    esac
  }
  bad=""
  while read -r a b; do
    ma=${a%%/*}; mb=${b%%/*}
    [ "$ma" = "$mb" ] && continue
    case " $(allowed "$ma") " in *" $mb "*) ;; *) bad="$bad $a->$b" ;; esac
  done <"$work/edges"
  if [ -z "$bad" ]; then pass modules_call_down_only; else fail modules_call_down_only "$(echo "$bad" | tr ' ' '\n' | sort -u | head -10 | tr '\n' ' ')"; fi
fi

contract=../shared/api/wire-contract.md
if [ ! -f "$contract" ]; then
  fail wire_names_only_in_api "$contract is missing (the wire contract lists the field names)"
else
  # field names of the contract that are camelCase (one word such as "id" or "name" is no tell)
  grep -o '`[a-z][a-zA-Z0-9]*[A-Z][a-zA-Z0-9]*`' "$contract" | tr -d '`' | sort -u | sed 's/.*/"&"/' >"$work/names"
  hits=$(grep -rnoF -f "$work/names" src --include=*.c --include=*.h | grep -v '^src/api/\|^src/cli/\|^src/agentd/local_api.c:')
  if [ -z "$hits" ]; then pass wire_names_only_in_api
  else fail wire_names_only_in_api "$(echo "$hits" | head -8 | tr '\n' ' ')"; fi
fi
echo "${passed} passed, ${failed} failed"
[ "$failed" -eq 0 ]
