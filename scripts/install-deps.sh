#!/usr/bin/env bash
# Installs every system package dc needs, from Debian's archive only.
# Idempotent: packages already present are skipped, and apt-get runs only
# when something is missing. This file is the single list of dependencies.
set -euo pipefail

packages=(
  # toolchain
  build-essential cmake ninja-build pkg-config clang clang-format clang-tidy
  libclang-rt-14-dev
  # libraries
  librabbitmq-dev libsqlite3-dev libpq-dev nlohmann-json3-dev
  libtomlplusplus-dev libcli11-dev libspdlog-dev libfmt-dev libssl-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  # HTTP (dc-api, /metrics): Boost.Beast and Asio, header-only, with OpenSSL
  libboost1.81-dev
  # services the tests and the demo start privately
  rabbitmq-server postgresql sqlite3 openssl
  # interop tests and the benchmark's reference peers (/usr/bin/python3);
  # jsonschema checks dc-api's OpenAPI document against the live server
  python3 python3-pika python3-jsonschema
  # the dashboard's browser tests: Playwright (npm, tests/browser) drives
  # Debian's chromium headless; no browser is ever downloaded
  chromium
  # misc tools used by scripts; faketime: a manager with a skewed clock in
  # the lease test; util-linux: unshare (managers as pid 1 of their own pid
  # namespace, like containers)
  procps iproute2 curl faketime util-linux
  # make package: man pages from --help, the package's checker; make
  # package-test: a throwaway Debian 12 root to install it into
  help2man lintian debootstrap
  # the zsh completion's syntax check (tests/packaging)
  zsh
)

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done
# Node.js and npm for the browser tests: Debian's, unless a node with npm is
# already installed (say from NodeSource, whose nodejs bundles npm and
# conflicts with Debian's npm package).
if ! command -v npm >/dev/null 2>&1; then
  for p in nodejs npm; do
    status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    [[ "$status" == "install ok installed" ]] || missing+=("$p")
  done
fi

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
sudo_cmd=()
[[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
# The Debian rabbitmq-server and postgresql packages start system services in
# their postinst; policy-rc.d keeps them down: dc runs private instances.
policy=/usr/sbin/policy-rc.d
created_policy=0
if [[ ! -e $policy && $(id -u) -eq 0 ]]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && created_policy=1
fi
trap '[[ $created_policy -eq 1 ]] && rm -f "$policy"' EXIT
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "install-deps: done"
