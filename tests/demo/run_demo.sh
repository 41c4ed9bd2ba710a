#!/usr/bin/env bash
# ctest's run of `make run`'s demo to its end (DEMO_WAIT=0): every step's
# check must hold. Its broker takes the shared test broker's port + 13 (and
# the manager's /metrics and dc-api the two ports after it).
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
shared_port=${DC_TEST_RABBIT_PORT:-${DC_RABBIT_PORT:-56720}}
export DEMO_RABBIT_PORT=$((shared_port + 13)) DEMO_WAIT=0
exec "$repo/scripts/demo.sh"
