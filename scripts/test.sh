#!/usr/bin/env bash
# The whole suite, as `make test` and CI run it: starts a private RabbitMQ and
# PostgreSQL, runs every test of the release build and of the ASan+UBSan
# build against them, fuzzes the parsers briefly, and stops the services
# whatever happens. Expects `make build build-san` to have run.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
build=${BUILD:-build}
san_build=${SAN_BUILD:-build-san}
jobs=${JOBS:-2}
export DC_SERVICES_DIR=${DC_SERVICES_DIR:-$root/$build/services}

cleanup() {
  local rc=$?
  ./scripts/rabbitmq-local.sh stop >/dev/null 2>&1 || true
  ./scripts/postgres-local.sh stop >/dev/null 2>&1 || true
  exit $rc
}
trap cleanup EXIT INT TERM

./scripts/rabbitmq-local.sh start
./scripts/postgres-local.sh start
# rabbitmq-local.sh names its env file after a port other than the default.
rabbit_env=$DC_SERVICES_DIR/rabbitmq.env
if [[ -n "${DC_RABBIT_PORT:-}" && "$DC_RABBIT_PORT" != 56720 ]]; then rabbit_env=$DC_SERVICES_DIR/rabbitmq-$DC_RABBIT_PORT.env; fi
# shellcheck disable=SC1090
source "$rabbit_env"
# shellcheck disable=SC1091
source "$DC_SERVICES_DIR/postgres.env"
export DC_REQUIRE_SERVICES=1
export DC_SOURCE_DIR=$root

status=0
summary=$root/$build/test-summary.txt
: >"$summary"
echo "== release build: all tests"
ctest --test-dir "$build" --output-on-failure -j"$jobs" --timeout 300 | tee -a "$summary" || status=1

# The fault-injection run (chaos_short) is timing-heavy and the demo run
# (demo_runs_to_the_end) repeats steps the end-to-end suites cover; both run
# on the release build only. Every other test, the end-to-end and browser
# suites against the sanitized dc-manager and dc-api included, runs again
# under ASan+UBSan.
echo "== sanitizer build (ASan+UBSan): all tests but the fault-injection and demo runs"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir "$san_build" --output-on-failure -j"$jobs" --timeout 600 -E '^(chaos_short|demo_runs_to_the_end)$' |
  tee -a "$summary" || status=1

echo "== fuzzing the parsers briefly"
FUZZ_SECONDS=${FUZZ_SECONDS:-20} ./scripts/fuzz.sh || { status=1; echo "make test: a fuzz target failed"; }

# One closing line over both ctest runs (the fuzzers report above).
read -r total failed < <(awk '/tests passed, [0-9]+ tests failed out of/ {f += $4; t += $NF} END {print t+0, f+0}' "$summary")
[[ $total -gt 0 ]] || status=1
echo "make test: $((total - failed)) passed, $failed failed"
exit $status
