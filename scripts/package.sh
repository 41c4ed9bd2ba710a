#!/usr/bin/env bash
# make package: the Debian package of dc from the release build, staged and
# built with dpkg-deb (no debhelper needed), then checked with lintian.
#
#   BUILD=build ./scripts/package.sh      -> build/packages/dc_<version>_<arch>.deb
#
# Contents: what `cmake --install --component runtime` puts under /usr
# (the four programs, stripped; their man pages; dcctl's completion), plus
# the Debian side from packaging/: the systemd units, sysusers.d and
# tmpfiles.d files, /etc/dc/dc.toml and /etc/logrotate.d/dc (conffiles), the
# maintainer scripts. The version is project(VERSION) of CMakeLists.txt;
# the runtime dependencies come from dpkg-shlibdeps. Fails when lintian
# reports an error.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
build=${BUILD:-build}
cache=$build/CMakeCache.txt
[[ -f $cache ]] || { echo "package: no $cache; run make build first" >&2; exit 2; }
version=$(sed -n 's/^CMAKE_PROJECT_VERSION:STATIC=//p' "$cache")
[[ -n $version ]] || { echo "package: no project version in $cache" >&2; exit 2; }
arch=$(dpkg --print-architecture)
for program in dc-manager dcctl dc-api dc-worker; do
  [[ -x $build/apps/$program ]] || { echo "package: $build/apps/$program is not built" >&2; exit 2; }
done

work=$root/$build/package
stage=$work/dc
out=$root/$build/packages
rm -rf "$work"
mkdir -p "$stage/DEBIAN" "$out"
rm -f "$out"/dc_*.deb

# /usr: programs, man pages, completion.
DESTDIR=$stage cmake --install "$build" --prefix /usr --component runtime --strip >/dev/null
for page in man1/dcctl.1 man8/dc-manager.8 man8/dc-api.8 man8/dc-worker.8; do
  [[ -f $stage/usr/share/man/$page.gz ]] || { echo "package: man page $page missing (help2man?)" >&2; exit 2; }
done

# The Debian side. Debian 12 keeps units under /lib/systemd/system.
install -D -m 0644 packaging/dc-manager@.service "$stage/lib/systemd/system/dc-manager@.service"
install -D -m 0644 packaging/dc-worker@.service "$stage/lib/systemd/system/dc-worker@.service"
install -D -m 0644 packaging/dc-api.service "$stage/lib/systemd/system/dc-api.service"
install -D -m 0644 packaging/dc.sysusers "$stage/usr/lib/sysusers.d/dc.conf"
install -D -m 0644 packaging/dc.tmpfiles "$stage/usr/lib/tmpfiles.d/dc.conf"
install -D -m 0644 packaging/dc.toml.example "$stage/etc/dc/dc.toml"
install -D -m 0644 packaging/dc.logrotate "$stage/etc/logrotate.d/dc"
install -D -m 0644 packaging/debian/copyright "$stage/usr/share/doc/dc/copyright"
install -D -m 0644 packaging/README.md "$stage/usr/share/doc/dc/README.md"
for doc in CONFIGURATION OPERATIONS API TASKS; do
  gzip -9nc "docs/$doc.md" >"$stage/usr/share/doc/dc/$doc.md.gz"
done
commit=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
date=$(git log -1 --format=%aD 2>/dev/null || date -R)
printf 'dc (%s) unstable; urgency=medium\n\n  * Built from commit %s.\n\n -- dc maintainers <dc-maintainers@example.org>  %s\n' \
  "$version" "$commit" "$date" | gzip -9n >"$stage/usr/share/doc/dc/changelog.gz"

# DEBIAN/: maintainer scripts, conffiles, md5sums, control.
install -m 0755 packaging/debian/postinst packaging/debian/prerm packaging/debian/postrm "$stage/DEBIAN/"
printf '/etc/dc/dc.toml\n/etc/logrotate.d/dc\n' >"$stage/DEBIAN/conffiles"
shlibs_dir=$work/shlibs
mkdir -p "$shlibs_dir/debian"
printf 'Source: dc\n\nPackage: dc\nArchitecture: any\n' >"$shlibs_dir/debian/control"
shlibs=$(cd "$shlibs_dir" && dpkg-shlibdeps -O "$stage"/usr/bin/* 2>/dev/null | sed -n 's/^shlibs:Depends=//p')
[[ -n $shlibs ]] || { echo "package: dpkg-shlibdeps found no dependencies" >&2; exit 1; }
(cd "$stage" && find . -type f ! -path './DEBIAN/*' ! -path './etc/*' -printf '%P\0' | LC_ALL=C sort -z |
  xargs -0 md5sum) >"$stage/DEBIAN/md5sums"
size=$(du -sk --exclude=DEBIAN "$stage" | cut -f1)
sed -e "s/@VERSION@/$version/" -e "s/@ARCH@/$arch/" -e "s/@INSTALLED_SIZE@/$size/" -e "s/@SHLIBS@/$shlibs/" \
  packaging/debian/control.in >"$stage/DEBIAN/control"

# Directories 0755, files as installed; everything root-owned in the archive.
find "$stage" -type d -exec chmod 0755 {} +
deb=$out/dc_${version}_${arch}.deb
dpkg-deb --root-owner-group -Zxz --build "$stage" "$deb" >/dev/null
echo "package: $deb ($(du -h "$deb" | cut -f1))"

if command -v lintian >/dev/null 2>&1; then
  lintian --fail-on error --suppress-tags-from-file /dev/null "$deb" | tee "$out/lintian.txt" || {
    echo "package: lintian reports errors (above)" >&2
    exit 1
  }
  echo "package: lintian: $(grep -c '^E:' "$out/lintian.txt" || true) errors, $(grep -c '^W:' "$out/lintian.txt" || true) warnings"
else
  echo "package: lintian not installed (scripts/install-deps.sh installs it)" >&2
  exit 1
fi
