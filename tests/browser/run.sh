#!/usr/bin/env bash
# ctest's entry to the browser tests: installs the npm packages if needed,
# picks the private broker's port (the shared test broker's port + 7, like
# the C++ suites' private nodes), and runs dashboard.test.mjs with node's
# test runner. Skips (exit 77) when chromium or node is missing, unless
# DC_REQUIRE_SERVICES=1 (make test), where that is a failure.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
missing=""
[[ -x "${CHROMIUM:-/usr/bin/chromium}" ]] || missing="chromium"
command -v node >/dev/null || missing="$missing node"
command -v sqlite3 >/dev/null || missing="$missing sqlite3"
if [[ -n "$missing" ]]; then
  echo "browser tests: missing$missing (scripts/install-deps.sh installs them)" >&2
  [[ "${DC_REQUIRE_SERVICES:-}" == 1 ]] && exit 1
  exit 77
fi
"$repo/scripts/browser-deps.sh"
shared_port=${DC_TEST_RABBIT_PORT:-${DC_RABBIT_PORT:-56720}}
export DC_BROWSER_RABBIT_PORT=${DC_BROWSER_RABBIT_PORT:-$((shared_port + 12))}
export DC_SOURCE_DIR="$repo"
cd "$here"
exec node --test --test-reporter=spec dashboard.test.mjs
