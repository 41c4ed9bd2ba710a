#!/usr/bin/env bash
# make package-test: the Debian package in a clean Debian 12 root.
#
# Builds (once; cached as $BUILD/package-test/debian12-*.tar) a minimal
# Debian 12 root with debootstrap from the mirror this machine's apt already
# uses (read from /etc/apt/sources.list{,.d}), then in a fresh copy of it,
# through chroot:
#   1. installs the package's dependencies from the mirror (apt-get satisfy)
#      and records every file of the root;
#   2. installs build/packages/dc_*.deb with apt-get, runs every program's
#      --version and dc-manager --print-config (as root and as the dc user),
#      checks the dc user, the units (systemd-analyze verify), the conffile
#      and its mode, the state and log directories, the man pages and the
#      bash and zsh completion (the installed script completes, and equals
#      `dcctl completion bash`);
#   3. apt-get remove: the root's files are those of step 1 plus the
#      conffiles (/etc/dc/dc.toml, /etc/logrotate.d/dc), nothing else;
#   4. apt-get purge: exactly the files of step 1 (the dc user stays, as
#      Debian's system users do).
# Needs root (debootstrap, chroot, mount). About 2-3 minutes the first time
# (debootstrap), well under a minute after.
set -euo pipefail

root_dir=$(cd "$(dirname "$0")/.." && pwd)
cd "$root_dir"
build=${BUILD:-build}
[[ $(id -u) -eq 0 ]] || { echo "package-test: needs root (debootstrap, chroot)" >&2; exit 2; }
shopt -s nullglob
debs=("$build"/packages/dc_*.deb)
[[ ${#debs[@]} -eq 1 ]] || { echo "package-test: expected one $build/packages/dc_*.deb; run make package" >&2; exit 2; }
deb=$(realpath "${debs[0]}")
version=$(dpkg-deb -f "$deb" Version)
started=$(date +%s)
say() { echo "package-test: $*"; }
fail() { echo "package-test: FAIL: $*" >&2; exit 1; }

# --- the mirror: this machine's Debian 12 sources, "URI SUITE" per line -------
apt_sources() {
  /usr/bin/python3 - <<'PY'
import glob, re
entries = []
def add(uri, suites, comps):
    for suite in suites:
        if suite.startswith("bookworm") and "main" in comps:
            entries.append((uri.rstrip("/"), suite))
for path in ["/etc/apt/sources.list"] + sorted(glob.glob("/etc/apt/sources.list.d/*.list")):
    try:
        lines = open(path).read().splitlines()
    except OSError:
        continue
    for line in lines:
        line = re.sub(r"\[[^]]*\]", "", line.split("#")[0]).split()
        if len(line) >= 4 and line[0] == "deb":
            add(line[1], [line[2]], line[3:])
for path in sorted(glob.glob("/etc/apt/sources.list.d/*.sources")):
    try:
        text = open(path).read()
    except OSError:
        continue
    for block in re.split(r"\n\s*\n", text):
        fields = {}
        for line in block.splitlines():
            if line.startswith("#") or ":" not in line:
                continue
            key, value = line.split(":", 1)
            fields[key.strip().lower()] = value.split()
        if "deb" in fields.get("types", []) and fields.get("enabled", ["yes"]) != ["no"]:
            for uri in fields.get("uris", []):
                add(uri, fields.get("suites", []), fields.get("components", []))
for uri, suite in entries:
    print(uri, suite)
PY
}
sources=$(apt_sources)
mirror=$(awk '$2 == "bookworm" { print $1; exit }' <<<"$sources")
[[ -n $mirror ]] || fail "no Debian 12 (bookworm) main archive in /etc/apt/sources.list{,.d}"

# --- the cached base root ----------------------------------------------------------
cache=$root_dir/$build/package-test
mkdir -p "$cache"
key=$(printf '%s systemd,adduser minbase' "$mirror" | md5sum | cut -c1-12)
tarball=$cache/debian12-$key.tar
if [[ ! -f $tarball ]]; then
  say "debootstrap: a Debian 12 root from the configured mirror (once; cached in $tarball)"
  bootstrap=$(mktemp -d "$cache/bootstrap.XXXXXX")
  debootstrap --variant=minbase --include=systemd,adduser bookworm "$bootstrap" "$mirror" >"$cache/debootstrap.log" 2>&1 ||
    { tail -20 "$cache/debootstrap.log" >&2; rm -rf --one-file-system "$bootstrap"; fail "debootstrap failed"; }
  tar -C "$bootstrap" -cf "$tarball.tmp" . && mv "$tarball.tmp" "$tarball"
  rm -rf --one-file-system "$bootstrap"
fi

target=$(mktemp -d "$cache/root.XXXXXX")
cleanup() {
  for mount in "$target/proc"; do
    mountpoint -q "$mount" 2>/dev/null && umount -l "$mount"
  done
  rm -rf --one-file-system "$target"
}
trap cleanup EXIT
tar -C "$target" -xf "$tarball"
chmod 0755 "$target"  # mktemp made it 0700: the dc user must reach /usr
awk '{ print "deb " $1 " " $2 " main" }' <<<"$sources" | sort -u >"$target/etc/apt/sources.list"
cp /etc/resolv.conf "$target/etc/resolv.conf" 2>/dev/null || true
printf '#!/bin/sh\nexit 101\n' >"$target/usr/sbin/policy-rc.d" && chmod 0755 "$target/usr/sbin/policy-rc.d"
mount -t proc proc "$target/proc"
in_root() { chroot "$target" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C.UTF-8 HOME=/root \
  DEBIAN_FRONTEND=noninteractive "$@"; }

# Every file and directory of the root, less what apt and dpkg keep for
# themselves, the kernel's file systems and the user databases' backups.
snapshot() {
  in_root find / -xdev \( -path /proc -o -path /sys -o -path /dev -o -path /run -o -path /tmp \
    -o -path /var/cache -o -path /var/lib/apt -o -path /var/lib/dpkg -o -path /var/log/apt \
    -o -path /var/log/dpkg.log -o -path /var/log/alternatives.log -o -path /etc/ld.so.cache \
    -o -path /etc/passwd- -o -path /etc/group- -o -path /etc/shadow- -o -path /etc/gshadow- \
    -o -path /usr/sbin/policy-rc.d \) -prune -o -print | LC_ALL=C sort
}

# --- 1. dependencies from the mirror ------------------------------------------------
say "apt-get update and the package's dependencies from $mirror"
in_root apt-get update -qq >"$cache/apt.log" 2>&1 || { tail "$cache/apt.log" >&2; fail "apt-get update"; }
depends=$(dpkg-deb -f "$deb" Depends)
in_root apt-get satisfy -y -qq --no-install-recommends "$depends" >>"$cache/apt.log" 2>&1 ||
  { tail "$cache/apt.log" >&2; fail "apt-get satisfy '$depends'"; }
snapshot >"$cache/files.before"

# --- 2. install and check ----------------------------------------------------------
say "apt-get install ./$(basename "$deb")"
cp "$deb" "$target/tmp/"
in_root apt-get install -y -qq --no-install-recommends "/tmp/$(basename "$deb")" >>"$cache/apt.log" 2>&1 ||
  { tail -30 "$cache/apt.log" >&2; fail "apt-get install"; }

for program in dcctl dc-manager dc-api dc-worker; do
  out=$(in_root "$program" --version) || fail "$program --version exits $?"
  [[ $out == "$program $version" ]] || fail "$program --version printed '$out', expected '$program $version'"
done
say "every program's --version: $version"
config=$(cd / && in_root dc-manager --print-config) || fail "dc-manager --print-config"
grep -q '"rabbit_queue":"dc_manager"\|"rabbit_queue": "dc_manager"' <<<"$config" || fail "print-config: $config"
in_root setpriv --reuid=dc --regid=dc --init-groups dc-manager --print-config >/dev/null ||
  fail "the dc user cannot read /etc/dc/dc.toml"
say "dc-manager --print-config reads /etc/dc/dc.toml (as root and as dc)"

passwd=$(in_root getent passwd dc) || fail "no dc user"
[[ $passwd == dc:x:*:*:*:/var/lib/dc:/usr/sbin/nologin ]] || fail "dc user: $passwd"
for unit in dc-manager@.service dc-worker@.service dc-api.service; do
  [[ -f $target/lib/systemd/system/$unit ]] || fail "no unit $unit"
  grep -q '^Type=notify$' "$target/lib/systemd/system/$unit" || fail "$unit is not Type=notify"
  grep -q '^WatchdogSec=' "$target/lib/systemd/system/$unit" || fail "$unit has no WatchdogSec"
done
verify=$(in_root systemd-analyze verify /lib/systemd/system/dc-api.service \
  /lib/systemd/system/dc-manager@site_a.service /lib/systemd/system/dc-worker@pipeline.service 2>&1 |
  grep -v -e 'Failed to .*bus' -e 'Cannot add dependency' || true)
[[ -z $verify ]] || fail "systemd-analyze verify: $verify"
say "user dc, three Type=notify units (systemd-analyze verify: clean)"

[[ $(in_root dpkg-query -W -f='${Conffiles}' dc) == *"/etc/dc/dc.toml "* ]] || fail "/etc/dc/dc.toml is not a conffile"
[[ $(in_root stat -c '%a %U %G' /etc/dc/dc.toml) == "640 root dc" ]] || fail "/etc/dc/dc.toml is not 0640 root:dc"
for dir in /var/lib/dc /var/lib/dc/logs /var/log/dc; do
  [[ $(in_root stat -c '%a %U %G' "$dir") == "750 dc dc" ]] || fail "$dir is not 0750 dc:dc"
done
for file in /usr/share/man/man1/dcctl.1.gz /usr/share/man/man8/dc-manager.8.gz /usr/share/man/man8/dc-api.8.gz \
  /usr/share/man/man8/dc-worker.8.gz /usr/lib/sysusers.d/dc.conf /usr/lib/tmpfiles.d/dc.conf /etc/logrotate.d/dc \
  /usr/share/zsh/vendor-completions/_dcctl /usr/share/doc/dc/copyright; do
  [[ -f $target$file ]] || fail "missing $file"
done
zcat "$target/usr/share/man/man1/dcctl.1.gz" | grep -q 'rabbit\\-host' || fail "dcctl.1 does not list the options"
completion=/usr/share/bash-completion/completions/dcctl
in_root dcctl completion bash | cmp -s - "$target$completion" || fail "dcctl completion bash differs from $completion"
in_root dcctl completion zsh | cmp -s - "$target/usr/share/zsh/vendor-completions/_dcctl" ||
  fail "dcctl completion zsh differs from the installed _dcctl"
words=$(in_root bash -c "source $completion; COMP_WORDS=(dcctl sta); COMP_CWORD=1; _dcctl; echo \${COMPREPLY[*]}")
[[ $words == "start status" ]] || fail "bash completion of 'dcctl sta' gave '$words'"
say "conffile 0640 root:dc, state and log dirs, man pages, completion ('dcctl sta<TAB>': $words)"

# --- 3. remove: only the conffiles stay --------------------------------------------
in_root apt-get remove -y -qq dc >>"$cache/apt.log" 2>&1 || { tail "$cache/apt.log" >&2; fail "apt-get remove"; }
snapshot >"$cache/files.removed"
added=$(comm -13 "$cache/files.before" "$cache/files.removed")
lost=$(comm -23 "$cache/files.before" "$cache/files.removed")
expected=$'/etc/dc\n/etc/dc/dc.toml\n/etc/logrotate.d/dc'
[[ -z $lost ]] || fail "apt-get remove took files that were there before: $lost"
[[ $added == "$expected" ]] || fail "after apt-get remove, expected only the conffiles, found:"$'\n'"$added"
say "apt-get remove leaves only the conffiles: $(tr '\n' ' ' <<<"$added")"

# --- 4. purge: nothing ----------------------------------------------------------------
in_root apt-get purge -y -qq dc >>"$cache/apt.log" 2>&1 || { tail "$cache/apt.log" >&2; fail "apt-get purge"; }
snapshot >"$cache/files.purged"
diff -u "$cache/files.before" "$cache/files.purged" >"$cache/files.diff" ||
  fail "apt-get purge left a difference (see $cache/files.diff): $(cat "$cache/files.diff")"
in_root dpkg-statoverride --list /etc/dc/dc.toml >/dev/null 2>&1 && fail "the statoverride survived the purge"
in_root getent passwd dc >/dev/null || fail "purge removed the dc user (Debian keeps system users)"
say "apt-get purge leaves nothing (the dc user stays, as Debian's system users do)"
say "PASS in $(($(date +%s) - started)) s"
