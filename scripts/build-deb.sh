#!/usr/bin/env bash
# build-deb.sh [OUTDIR]: builds the Debian package coffer_<VERSION>_<arch>.deb from the tree: `make
# install DESTDIR=<stage> PREFIX=/usr` (the daemon, the CLI, cofferd's systemd unit, /etc/default/cofferd,
# the docs), a DEBIAN/ directory (control with the library dependencies dpkg-shlibdeps finds, conffiles,
# maintainer scripts from packaging/deb/), then dpkg-deb --root-owner-group --build. Prints the path of
# the package. Needs dpkg-dev (scripts/setup.sh). The data directory /var/lib/coffer is never removed by
# the package, not even on purge: it holds the backups and their key.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-build/deb}"
version=$(cat VERSION)
arch=$(dpkg --print-architecture)
stage="build/deb-stage"
rm -rf "$stage"
make -s -j"$(nproc)" all
make -s install DESTDIR="$PWD/$stage" PREFIX=/usr >/dev/null
mkdir -p "$stage/DEBIAN" "$out"
# dpkg-shlibdeps wants a debian/control beside it: a minimal one in a scratch directory
shl=$(mktemp -d)
trap 'rm -rf "$shl"' EXIT
mkdir -p "$shl/debian"
printf 'Source: coffer\n\nPackage: coffer\nArchitecture: any\n' >"$shl/debian/control"
deps=$(cd "$shl" && dpkg-shlibdeps -O "$OLDPWD/$stage/usr/bin/cofferd" "$OLDPWD/$stage/usr/bin/coffer" 2>/dev/null |
       sed -n 's/^shlibs:Depends=//p')
size=$(du -sk --exclude=DEBIAN "$stage" | cut -f1)
cat >"$stage/DEBIAN/control" <<CONTROL
Package: coffer
Version: $version
Architecture: $arch
Maintainer: Coffer developers <coffer@localhost>
Installed-Size: $size
Depends: $deps
Recommends: postgresql-15
Section: admin
Priority: optional
Description: backup and recovery service (data-protect v2 and site restore APIs)
 Coffer protects files on hosts and PostgreSQL databases in a deduplicated, compressed and
 encrypted repository, driven through the IBM data-protect v2 REST API (cofferd) and the
 coffer command-line client.
CONTROL
printf '/etc/default/cofferd\n/etc/coffer/cofferd.conf\n' >"$stage/DEBIAN/conffiles"
install -m 0755 packaging/deb/postinst packaging/deb/prerm packaging/deb/postrm "$stage/DEBIAN/"
deb="$out/coffer_${version}_${arch}.deb"
dpkg-deb --root-owner-group --build "$stage" "$deb" >/dev/null
echo "$deb"
