#!/usr/bin/env bash
# build-agent-packages.sh [OUTDIR]: builds the two coffer-agent installers cofferd serves through
# DownloadAgent (docs/operations.md, "Agent packages"), from build/coffer-agent, into OUTDIR (default
# build/agent):
#   coffer-agent_<VERSION>_<arch>.deb  (kDEB) `make install-agent DESTDIR=<stage> PREFIX=/usr` (the
#       binary, its systemd unit, /etc/default/coffer-agent), a DEBIAN/ directory (control with the
#       library dependencies dpkg-shlibdeps finds, conffiles, packaging/agent/postinst and prerm),
#       then dpkg-deb --root-owner-group --build (as scripts/build-deb.sh does for cofferd);
#   coffer-agent_<VERSION>_<arch>.sh   (kScript) packaging/agent/install.sh.in with the version, the
#       binary's SHA-256, the unit and the line where the binary starts filled in, the binary appended.
# Each file is written under a temporary name and renamed, so a package that exists is whole. Prints
# the two paths. Needs dpkg-dev (scripts/setup.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-build/agent}"
version=$(cat VERSION)
arch=$(dpkg --print-architecture)
bin=build/coffer-agent
[ -x "$bin" ] || make -s build/coffer-agent
mkdir -p "$out"
work=$(mktemp -d "${TMPDIR:-/tmp}/coffer-agent-pkg-XXXXXX")
trap 'rm -rf "$work"' EXIT

# ---- kDEB ----
stage="$work/stage"
make -s install-agent DESTDIR="$stage" PREFIX=/usr >/dev/null
mkdir -p "$stage/DEBIAN" "$work/shl/debian"
printf 'Source: coffer\n\nPackage: coffer-agent\nArchitecture: any\n' >"$work/shl/debian/control"
deps=$(cd "$work/shl" && dpkg-shlibdeps -O "$stage/usr/bin/coffer-agent" 2>/dev/null | sed -n 's/^shlibs:Depends=//p')
size=$(du -sk --exclude=DEBIAN "$stage" | cut -f1)
cat >"$stage/DEBIAN/control" <<CONTROL
Package: coffer-agent
Version: $version
Architecture: $arch
Maintainer: Coffer developers <coffer@localhost>
Installed-Size: $size
Depends: $deps
Conflicts: coffer
Section: admin
Priority: optional
Description: Coffer agent: backs up and restores this host's files for a remote cofferd
 coffer-agent registers with a Coffer server (cofferd) using a registration token, then backs up
 and restores the host's files over HTTPS as the server schedules, and serves the data-source
 connector's local API. The coffer package (cofferd) already holds the agent: do not install both.
CONTROL
echo "/etc/default/coffer-agent" >"$stage/DEBIAN/conffiles"
install -m 0755 packaging/agent/postinst packaging/agent/prerm "$stage/DEBIAN/"
deb="$out/coffer-agent_${version}_${arch}.deb"
dpkg-deb --root-owner-group --build "$stage" "$work/agent.deb" >/dev/null
mv -f "$work/agent.deb" "$deb.tmp" && mv -f "$deb.tmp" "$deb"

# ---- kScript ----
unit=$(sed 's|@SYSCONFDIR@|/etc|g' packaging/coffer-agent.service.in)
sum=$(sha256sum "$bin" | cut -d' ' -f1)
tmpl=packaging/agent/install.sh.in
header_lines=$(($(wc -l <"$tmpl") + $(printf '%s\n' "$unit" | wc -l) - 1))
awk -v version="$version" -v sum="$sum" -v line="$((header_lines + 1))" -v unit="$unit" '
  { gsub(/@VERSION@/, version); gsub(/@SHA256@/, sum); gsub(/@PAYLOAD_LINE@/, line) }
  $0 == "@UNIT@" { print unit; next }
  { print }' "$tmpl" >"$work/install.sh"
[ "$(wc -l <"$work/install.sh")" = "$header_lines" ] || { echo "build-agent-packages: header is not $header_lines lines" >&2; exit 1; }
cat "$bin" >>"$work/install.sh"
chmod 0755 "$work/install.sh"
sh="$out/coffer-agent_${version}_${arch}.sh"
mv -f "$work/install.sh" "$sh.tmp" && mv -f "$sh.tmp" "$sh"
echo "$deb"
echo "$sh"
