#!/usr/bin/env bash
# Installs the browser tests' npm packages (tests/browser: playwright-core,
# pinned in package-lock.json) with `npm ci`, once per lock file: a stamp
# beside node_modules records which lock file it was installed from. Never
# downloads a browser (--ignore-scripts; the tests drive Debian's chromium).
set -euo pipefail
dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/../tests/browser" && pwd)"
stamp="$dir/node_modules/.dc-lock-sha256"
want=$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)
if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
  exit 0
fi
command -v npm >/dev/null || { echo "browser-deps: npm is missing; run scripts/install-deps.sh" >&2; exit 1; }
echo "browser-deps: npm ci in tests/browser"
(cd "$dir" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
echo "$want" >"$stamp"
