#!/usr/bin/env bash
# Runs each libFuzzer target of the sanitizer build for FUZZ_SECONDS (default
# 20) on a scratch copy of its seed corpus in fuzz/corpus/<name>; crashes are
# written to build-san/fuzz/artifacts/. `make fuzz` runs them for 10 minutes
# each and keeps new corpus entries (FUZZ_KEEP_CORPUS=1).
set -euo pipefail
cd "$(dirname "$0")/.."
san_build=${SAN_BUILD:-build-san}
seconds=${FUZZ_SECONDS:-20}
artifacts=$san_build/fuzz/artifacts
mkdir -p "$artifacts"
status=0
for target in "$san_build"/fuzz/*_fuzz; do
  [[ -x $target ]] || continue
  name=$(basename "$target" _fuzz)
  seeds=fuzz/corpus/$name
  work=$san_build/fuzz/corpus-$name
  mkdir -p "$work"
  [[ -d $seeds ]] && cp -n "$seeds"/* "$work"/ 2>/dev/null || true
  echo "fuzz: $name for ${seconds}s"
  if ! "$target" -max_total_time="$seconds" -max_len=70000 -timeout=10 -rss_limit_mb=2048 \
      -artifact_prefix="$artifacts/$name-" "$work" >"$san_build/fuzz/$name.log" 2>&1; then
    echo "fuzz: $name FAILED; see $san_build/fuzz/$name.log and $artifacts/"
    tail -30 "$san_build/fuzz/$name.log"
    status=1
  else
    grep -E '^Done [0-9]+ runs' "$san_build/fuzz/$name.log" | sed "s/^/fuzz: $name: /" || true
  fi
  if [[ ${FUZZ_KEEP_CORPUS:-0} == 1 && -d $seeds ]]; then
    "$target" -merge=1 "$seeds" "$work" >/dev/null 2>&1 || true
  fi
done
exit $status
