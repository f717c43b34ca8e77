#!/usr/bin/env bash
# run.sh: the Debian package built from the tree (scripts/build-deb.sh), checked, installed, started
# and removed, and the same for the coffer-agent package (scripts/build-agent-packages.sh: the .deb and
# the kScript installer DownloadAgent serves; the coffer package carries both under
# /usr/share/coffer/agent and the installed cofferd serves them byte for byte). Prints PASS/FAIL/SKIP lines and "N passed, N failed[, N skipped]" (tests/run-all.sh's
# suite "package"). Installing needs root (dpkg -i); as another user those tests are skipped. The
# package is purged at the end whatever happened; /var/lib/coffer is removed only when this run made it
# and it is still empty. The daemon is started from the installed unit's ExecStart, on a loopback port
# and a temporary data directory (no systemd is needed: where it runs, postinst starts the service too).
set -uo pipefail
cd "$(dirname "$0")/../.."
tmp=$(mktemp -d "${TMPDIR:-/tmp}/coffer-package-XXXXXX")
passed=0; failed=0; skipped=0; pid=""; installed=0; made_varlib=0; agent_installed=0; made_agentlib=0
ok() { echo "PASS $1"; passed=$((passed + 1)); }
bad() { echo "FAIL $1: $2"; failed=$((failed + 1)); }
skip() { echo "SKIP $1: $2"; skipped=$((skipped + 1)); }
cleanup() {
  [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
  if [ "$installed" = 1 ]; then dpkg -P coffer >/dev/null 2>&1; fi
  if [ "$agent_installed" = 1 ]; then dpkg -P coffer-agent >/dev/null 2>&1; fi
  if [ "$made_agentlib" = 1 ]; then rm -rf /var/lib/coffer-agent; fi
  if [ "$made_varlib" = 1 ]; then rmdir /var/lib/coffer 2>/dev/null; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
version=$(cat VERSION)

deb=$(scripts/build-deb.sh "$tmp/deb" 2>"$tmp/build.log" | tail -n 1)
if [ -f "$deb" ]; then ok "package_builds ($(basename "$deb"))"; else bad package_builds "$(tail -n 5 "$tmp/build.log")"; fi

if [ -f "$deb" ]; then
  contents=$(dpkg-deb --contents "$deb" | awk '{print $6}')
  missing=""
  for f in ./usr/bin/cofferd ./usr/bin/coffer ./lib/systemd/system/cofferd.service ./etc/default/cofferd \
           ./etc/coffer/cofferd.conf ./usr/share/doc/coffer/operations.md ./usr/share/man/man1/coffer.1.gz \
           ./usr/share/man/man8/cofferd.8.gz ./usr/share/bash-completion/completions/coffer; do
    grep -qx "$f" <<<"$contents" || missing="$missing $f"
  done
  if [ -z "$missing" ]; then ok package_holds_the_daemon_cli_unit_and_docs; else bad package_holds_the_daemon_cli_unit_and_docs "missing:$missing"; fi
  v=$(dpkg-deb --field "$deb" Version); d=$(dpkg-deb --field "$deb" Depends)
  if [ "$v" = "$version" ] && grep -q libmicrohttpd12 <<<"$d" && grep -q libpq5 <<<"$d"; then
    ok package_version_and_dependencies
  else
    bad package_version_and_dependencies "Version '$v' (want $version), Depends '$d'"
  fi
fi

arch=$(dpkg --print-architecture)
agent_deb=build/agent/coffer-agent_${version}_${arch}.deb
agent_sh=build/agent/coffer-agent_${version}_${arch}.sh
if [ -f "$deb" ]; then
  # build-deb.sh ran make install, which built the agent packages from the tree first
  if [ -f "$agent_deb" ] && [ -f "$agent_sh" ] && grep -qx "./usr/share/coffer/agent/$(basename "$agent_deb")" <<<"$contents" &&
     grep -qx "./usr/share/coffer/agent/$(basename "$agent_sh")" <<<"$contents" && grep -qx ./usr/bin/coffer-agent <<<"$contents"; then
    ok package_carries_the_agent_packages
  else
    bad package_carries_the_agent_packages "agent packages $(ls build/agent 2>&1 | tr '\n' ' '); coffer holds: $(grep agent <<<"$contents" | tr '\n' ' ')"
  fi
fi
if [ -f "$agent_deb" ]; then
  ac=$(dpkg-deb --contents "$agent_deb" | awk '{print $6}')
  missing=""
  for f in ./usr/bin/coffer-agent ./lib/systemd/system/coffer-agent.service ./etc/default/coffer-agent; do
    grep -qx "$f" <<<"$ac" || missing="$missing $f"
  done
  av=$(dpkg-deb --field "$agent_deb" Version); ap=$(dpkg-deb --field "$agent_deb" Package)
  ainfo=$(dpkg-deb --info "$agent_deb")
  if [ -z "$missing" ] && [ "$av" = "$version" ] && [ "$ap" = coffer-agent ] && grep -q ' postinst' <<<"$ainfo"; then
    ok agent_deb_holds_binary_unit_and_defaults
  else
    bad agent_deb_holds_binary_unit_and_defaults "missing:$missing; Package '$ap' Version '$av'; $(grep -c postinst <<<"$ainfo") postinst"
  fi
  # the kScript installer into a temporary prefix, without root's places
  if sh "$agent_sh" --prefix "$tmp/agent-prefix" --state-dir "$tmp/agent-state" --no-systemd >"$tmp/agent-sh.log" 2>&1 &&
     [ "$("$tmp/agent-prefix/bin/coffer-agent" --version)" = "coffer-agent $version" ] &&
     [ "$(stat -c %a "$tmp/agent-state")" = 700 ]; then
    ok agent_script_installs_into_a_prefix
  else
    bad agent_script_installs_into_a_prefix "$(tail -n 3 "$tmp/agent-sh.log")"
  fi
fi

if [ "$(id -u)" != 0 ] || [ ! -f "$deb" ]; then
  for t in installs installed_man_pages_and_completion unit_verifies installed_daemon_serves_the_cli installed_daemon_serves_the_agent removes_and_keeps_data \
           agent_installs agent_removes; do skip "$t" "needs root and the package"; done
else
  [ -d /var/lib/coffer ] || made_varlib=1
  if dpkg -i "$deb" >"$tmp/dpkg.log" 2>&1 && dpkg-query -W -f='${Status} ${Version}' coffer | grep -q "install ok installed $version"; then
    installed=1; ok installs
  else
    bad installs "$(tail -n 5 "$tmp/dpkg.log")"
  fi
  unit=/lib/systemd/system/cofferd.service
  if [ "$installed" = 1 ]; then
    # the installed man pages are found by man, and the installed completion completes
    m1=$(man -w coffer 2>&1); m8=$(man -w 8 cofferd 2>&1)
    comp=$(bash -c 'source /usr/share/bash-completion/completions/coffer; COMP_WORDS=(coffer gr); COMP_CWORD=1; _coffer; echo "${COMPREPLY[*]}"' 2>&1)
    if [ "$m1" = /usr/share/man/man1/coffer.1.gz ] && [ "$m8" = /usr/share/man/man8/cofferd.8.gz ] && [ "$comp" = group ]; then
      ok installed_man_pages_and_completion
    else
      bad installed_man_pages_and_completion "man -w coffer: '$m1'; man -w 8 cofferd: '$m8'; coffer gr<TAB>: '$comp'"
    fi
    if ! command -v systemd-analyze >/dev/null; then
      skip unit_verifies "systemd-analyze is not installed"
    elif systemd-analyze verify "$unit" >"$tmp/verify.log" 2>&1; then
      ok unit_verifies
    else
      bad unit_verifies "$(head -n 5 "$tmp/verify.log")"
    fi
    # the unit's own ExecStart, on a temporary data directory and a free loopback port
    exec_start=$(sed -n 's/^ExecStart=//p' "$unit")
    # (its --config names the installed file, whose data_dir /var/lib/coffer a flag overrides)
    cmd="$exec_start --data-dir $tmp/data"
    mkdir -p -m 0700 "$tmp/data"
    COFFER_LISTEN=127.0.0.1:0 $cmd >"$tmp/daemon.out" 2>"$tmp/daemon.err" &
    pid=$!
    port=""
    for _ in $(seq 1 100); do
      port=$(sed -n 's/^cofferd ready port=//p' "$tmp/daemon.out")
      [ -n "$port" ] && break
      sleep 0.1
    done
    listed=""
    if [ -n "$port" ]; then
      listed=$(/usr/bin/coffer --url "http://127.0.0.1:$port/v2" --key "$(cat "$tmp/data/admin.key")" --json policy list 2>&1)
    fi
    served=""
    if [ -n "$port" ]; then
      curl -s -o "$tmp/served.deb" -w '%{http_code}' -X POST -H "Authorization: Bearer $(cat "$tmp/data/admin.key")" \
        -H 'X-IBM-Tenant-Id: package-test' -H 'Content-Type: application/json' \
        -d '{"platform":"kLinux","linuxParams":{"packageType":"kDEB"}}' "http://127.0.0.1:$port/v2/data-protect/agents/download" \
        >"$tmp/served.code" 2>&1
      served=$(cat "$tmp/served.code")
    fi
    if [ "$served" = 200 ] && cmp -s "$tmp/served.deb" "$agent_deb"; then
      ok installed_daemon_serves_the_agent
    else
      bad installed_daemon_serves_the_agent "DownloadAgent kDEB: status '$served', bytes $(stat -c %s "$tmp/served.deb" 2>/dev/null) vs $(stat -c %s "$agent_deb")"
    fi
    kill -TERM "$pid" 2>/dev/null; wait "$pid"; rc=$?; pid=""
    if [ -n "$port" ] && [ "$(/usr/bin/cofferd --version)" = "cofferd $version" ] && jq -e . >/dev/null 2>&1 <<<"$listed" &&
       [ "$rc" = 0 ]; then
      ok installed_daemon_serves_the_cli
    else
      bad installed_daemon_serves_the_cli "port '$port', CLI said '$listed', exit $rc; $(tail -n 3 "$tmp/daemon.err")"
    fi
    if dpkg -P coffer >"$tmp/purge.log" 2>&1 && [ ! -e /usr/bin/cofferd ] && [ ! -e "$unit" ] && [ -d /var/lib/coffer ]; then
      installed=0; ok removes_and_keeps_data
    else
      bad removes_and_keeps_data "$(tail -n 3 "$tmp/purge.log"); /var/lib/coffer $( [ -d /var/lib/coffer ] && echo kept || echo gone)"
    fi
  else
    for t in installed_man_pages_and_completion unit_verifies installed_daemon_serves_the_cli installed_daemon_serves_the_agent removes_and_keeps_data; do
      skip "$t" "the package did not install"
    done
  fi
  # the agent package (it conflicts with coffer, which is removed by now), installed and removed
  if [ "$installed" = 0 ] && [ -f "$agent_deb" ]; then
    [ -d /var/lib/coffer-agent ] || made_agentlib=1
    if dpkg -i "$agent_deb" >"$tmp/agent-dpkg.log" 2>&1 && agent_installed=1 &&
       [ "$(/usr/bin/coffer-agent --version)" = "coffer-agent $version" ] &&
       [ "$(stat -c %a /var/lib/coffer-agent)" = 700 ] && [ "$(cat /var/lib/coffer-agent/installed-by)" = deb ] &&
       { [ "$made_agentlib" = 0 ] || [ "$(stat -c %a /var/lib/coffer-agent/admin-password)" = 600 ]; } &&
       { ! command -v systemd-analyze >/dev/null || systemd-analyze verify /lib/systemd/system/coffer-agent.service >"$tmp/agent-verify.log" 2>&1; }; then
      ok agent_installs
    else
      bad agent_installs "$(tail -n 5 "$tmp/agent-dpkg.log" "$tmp/agent-verify.log" 2>/dev/null)"
    fi
    if [ "$agent_installed" = 1 ] && dpkg -P coffer-agent >"$tmp/agent-purge.log" 2>&1 && [ ! -e /usr/bin/coffer-agent ] &&
       [ ! -e /lib/systemd/system/coffer-agent.service ]; then
      agent_installed=0; ok agent_removes
    else
      bad agent_removes "$(tail -n 3 "$tmp/agent-purge.log" 2>/dev/null)"
    fi
  else
    for t in agent_installs agent_removes; do skip "$t" "the coffer package is still installed or the agent package is missing"; done
  fi
fi
if [ "$skipped" -ne 0 ]; then echo "$passed passed, $failed failed, $skipped skipped"; else echo "$passed passed, $failed failed"; fi
[ "$failed" -eq 0 ]
