#!/usr/bin/env bash
# The fault-injection suite (tests/chaos): crashes, cuts, freezes, database
# outages and hostile input against the real dc-manager, RabbitMQ and
# PostgreSQL, checked from outside (docs/RELIABILITY.md says what and how).
#
#   scripts/chaos.sh               full sizes (make chaos); regenerates docs/RELIABILITY.md
#   CHAOS_SHORT=1 scripts/chaos.sh short sizes, a few minutes (ctest: chaos_short)
#
# Environment (all optional):
#   BUILD              build directory (default build)
#   CHAOS_BIN          the dc-chaos driver (default $BUILD/tests/chaos/dc-chaos)
#   CHAOS_MANAGER_DIR  where dc-manager is (default $BUILD/apps)
#   CHAOS_WORK_DIR     private state: brokers, databases, logs (default $BUILD/chaos/<mode>)
#   CHAOS_RABBIT_PORT  AMQP port of the private broker (default 56910 short, 56920 full;
#                      short mode inside make test: the test broker's port + 3)
#   CHAOS_PG_PORT      port of the private PostgreSQL (default 56960 short, 56970 full;
#                      short mode with DC_PG_PORT set: DC_PG_PORT + 1)
#   CHAOS_SEED         random seed, to replay a run's timing
#   CHAOS_ONLY         comma list of scenarios (see dc-chaos --help)
#   CHAOS_REPORT       where to write the report (default: docs/RELIABILITY.md in
#                      full mode, $CHAOS_WORK_DIR/report.md in short mode)
#   CHAOS_CLUSTER_PORTS, CHAOS_PG_HA_PORTS, CHAOS_CLUSTER_ONLY
#                      the cluster scenarios (section "Across machines" below)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
build=${BUILD:-build}
if [[ "${CHAOS_SHORT:-0}" == 1 ]]; then
  mode=short
  default_rabbit=56910 default_pg=56960
  # Inside `make test`, next to the suite's own services, so that suites
  # run side by side on other ports never collide.
  [[ -n ${DC_TEST_RABBIT_PORT:-} ]] && default_rabbit=$((DC_TEST_RABBIT_PORT + 3))
  [[ -n ${DC_PG_PORT:-} ]] && default_pg=$((DC_PG_PORT + 1))
else
  mode=full
  default_rabbit=56920 default_pg=56970
fi
bin=${CHAOS_BIN:-$root/$build/tests/chaos/dc-chaos}
manager_dir=${CHAOS_MANAGER_DIR:-$root/$build/apps}
work=${CHAOS_WORK_DIR:-$root/$build/chaos/$mode}
rabbit_port=${CHAOS_RABBIT_PORT:-$default_rabbit}
pg_port=${CHAOS_PG_PORT:-$default_pg}
if [[ $mode == full ]]; then report=${CHAOS_REPORT:-$root/docs/RELIABILITY.md}; else report=${CHAOS_REPORT:-$work/report.md}; fi

# Absolute paths: the driver's children start in their own directories.
abs() { case $1 in /*) echo "$1" ;; *) echo "$root/$1" ;; esac; }
bin=$(abs "$bin") manager_dir=$(abs "$manager_dir") work=$(abs "$work") report=$(abs "$report")

[[ -x "$bin" ]] || {
  echo "chaos: no driver at $bin; build it: ninja -C $build dc-chaos" >&2
  exit 2
}
[[ -x "$manager_dir/dc-manager" ]] || {
  echo "chaos: no dc-manager in $manager_dir; build it: ninja -C $build dc-manager" >&2
  exit 2
}

# --- Across machines (tests/chaos/cluster_scenarios.h) ---------------------
# The cluster scenarios run a private three-node RabbitMQ cluster and a
# PostgreSQL primary/standby pair (scripts/rabbitmq-cluster.sh,
# scripts/postgres-ha.sh) on ports of their own.
if [[ $mode == full ]]; then
  default_cluster=56941,56942,56943 default_pg_ha=56991,56992
else
  default_cluster=56931,56932,56933 default_pg_ha=56981,56982
fi
export CHAOS_CLUSTER_PORTS=${CHAOS_CLUSTER_PORTS:-$default_cluster}
export CHAOS_PG_HA_PORTS=${CHAOS_PG_HA_PORTS:-$default_pg_ha}
cluster_cleanup() {
  DC_SERVICES_DIR="$work/services" DC_CLUSTER_RABBIT_PORTS=$CHAOS_CLUSTER_PORTS ./scripts/rabbitmq-cluster.sh stop >/dev/null 2>&1 || true
  local dir
  for dir in "$work/services" "$work/services-async"; do
    [[ -d "$dir" ]] && DC_SERVICES_DIR="$dir" DC_PG_HA_PORTS=$CHAOS_PG_HA_PORTS ./scripts/postgres-ha.sh stop >/dev/null 2>&1 || true
  done
}
# ---------------------------------------------------------------------------

# A fresh work dir per run; the services' data lives in it too.
rm -rf "$work"
mkdir -p "$work"

# Second line of defence behind the driver's own cleanup: if it dies, end
# what it started (recorded pids that are still dc-managers), stop the
# private broker and database, whatever happens.
cleanup() {
  local rc=$?
  if [[ -f "$work/children.pids" ]]; then
    while read -r pid; do
      if [[ -r /proc/$pid/cmdline ]] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q dc-manager; then
        kill -KILL "$pid" 2>/dev/null || true
      fi
    done <"$work/children.pids"
  fi
  DC_SERVICES_DIR="$work/services" DC_RABBIT_PORT=$rabbit_port ./scripts/rabbitmq-local.sh stop >/dev/null 2>&1 || true
  DC_SERVICES_DIR="$work/services" DC_PG_PORT=$pg_port ./scripts/postgres-local.sh stop >/dev/null 2>&1 || true
  cluster_cleanup
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

args=(--source-dir "$root" --bin-dir "$manager_dir" --work-dir "$work"
  --rabbit-port "$rabbit_port" --pg-port "$pg_port" --report "$work/tables.md")
[[ $mode == full ]] && args+=(--full)
[[ -n "${CHAOS_SEED:-}" ]] && args+=(--seed "$CHAOS_SEED")
[[ -n "${CHAOS_ONLY:-}" ]] && args+=(--only "$CHAOS_ONLY")

status=0
"$bin" "${args[@]}" || status=$?

commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
if [[ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ]]; then commit+=" (with uncommitted changes)"; fi
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//' || echo unknown)
{
  cat <<HEAD
# Reliability report

Generated by \`scripts/chaos.sh\` (\`make chaos\`; the short mode runs in
\`make test\` as the ctest \`chaos_short\`). Do not edit by hand: rerun it.

- date: $(date -u +%Y-%m-%dT%H:%M:%SZ)
- machine: $(uname -srm), $(nproc) CPU(s) ($cpu), $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo) RAM
- commit: $commit
- driver exit status: $status ($([[ $status == 0 ]] && echo "every scenario passed" || echo "FAILURES below"))

## What is checked

The promise under test (SPEC §6): a command is never lost and takes effect
once, in per-app issue order. Each scenario runs the real \`dc-manager\`
against a private RabbitMQ (and PostgreSQL where named), issues a known set of
commands with dcctl's semantics (record in the database first, then publish
with confirms on one reused connection; a failed publish leaves the row
PENDING), breaks something at random moments, and then checks from outside:

- **lost**: commands still PENDING after the settle deadline, or missing;
- **duplicated effects**: witness apps (\`examples/collector\`) append
  \`app_id command_id\` to a witness file on every start; a command id with more
  than one line took effect twice;
- **order violations**: per app, \`executed_at\` must follow \`seq\` (issue order)
  in the \`commands\` table;
- **via DB path**: outcomes delivered by the poll/sweep path instead of the broker;
- **recovery (worst)**: over the faults of a row, the longest time from the
  fault's end to the next command outcome — via the broker for broker and
  network faults, via any path for manager and database faults; for the
  same-name row, how long the second manager took to refuse;
- **settle**: from the last command issued to no command PENDING.

80 % of the commands are ENABLE/DISABLE on 20 volume apps (cheap), 20 % are
START/STOP/RESTART on 3 witness apps (real processes). Every manager is
stopped with SIGTERM at the end and must exit 0.

The rows marked "cluster:", "PostgreSQL:" and "both:" run across machines
(docs/OPERATIONS.md, "Across machines"): three RabbitMQ nodes with quorum
queues (\`scripts/rabbitmq-cluster.sh\`) and, for the database rows, a
PostgreSQL primary with a synchronous standby (\`scripts/postgres-ha.sh\`)
reached through a multi-host \`db_url\`. Their recovery is counted from the
loss of the broker node, or from the promotion of the standby, as each row's
notes say; poison sent during their faults must reach the dead-letter queue
with reason \`rejected\`. The row marked "not covered" is the same database
failover with an asynchronous standby whose WAL is held back: it shows what
that configuration loses, and does not fail the run.

## Results

HEAD
  cat "$work/tables.md" 2>/dev/null || echo "(the driver produced no tables; exit status $status)"
} >"$report"
echo "chaos: report written to $report"
exit $status
