#!/usr/bin/env bash
# Benchmarks of dc against the design note's Python stack (pika) on a private
# broker and database; writes build/bench/results.json and docs/BENCHMARKS.md.
#
#   make bench            full run (about 5-10 minutes on 2 cores)
#   make bench QUICK=1    short run (under 5 minutes): fewer messages and repetitions
#
# Environment (optional): BUILD (build dir, default build), BENCH_RABBIT_PORT
# (56850), BENCH_PG_PORT (55450), BENCH_DEAD_PORT (a port with no broker,
# 56999), BENCH_DB_DIR (where the SQLite files under test live; default a
# private folder in /dev/shm, see docs/BENCHMARKS.md "Method").
# The cluster section (SPEC §10 cluster.*): BENCH_CLUSTER_PORTS
# (56861,56862,56863), BENCH_PG_HA_PORTS (55496,55497); BENCH_ONLY=cluster
# runs that section alone and merges its keys into an existing results.json.
#
# Every comparison runs interleaved (dc, pika, null, dc, pika, null, ...) so
# that noise from other work on the machine hits each side alike. Every
# process this script starts is ended by the exit trap, by pid.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$(cd "$repo" && mkdir -p "${BUILD:-build}" && cd "${BUILD:-build}" && pwd)
quick=${QUICK:-}
[[ "$quick" == 0 ]] && quick=""
quick_flag=0
[[ -n "$quick" ]] && quick_flag=1
out=$build/bench
run=$out/run
svc=$out/services
rport=${BENCH_RABBIT_PORT:-56850}
pgport=${BENCH_PG_PORT:-55450}
dead_port=${BENCH_DEAD_PORT:-56999}
db_dir=${BENCH_DB_DIR:-/dev/shm/dc-bench-$$}
python=/usr/bin/python3
tools=$repo/bench/tools.py
bench_bin=$build/bench/dc-bench
manager_bin=$build/apps/dc-manager
dcctl_bin=$build/apps/dcctl
raw=$out/raw.txt
pg_url=postgresql://postgres@127.0.0.1:$pgport/dc_test
psql_bin=${DC_PG_BIN:-/usr/lib/postgresql/15/bin}/psql

if [[ -n "$quick" ]]; then
  publish_count=2000 publish_reps=3
  drain_count=5000 drain_reps=3
  disk_drain_count=300
  latency_count=600 latency_reps=2
  fallback_reps=6 dead_reps=2 scale_reps=2
  bc_managers=10 bc_apps_per=100 bc_reps=1
else
  publish_count=10000 publish_reps=5
  drain_count=20000 drain_reps=3
  disk_drain_count=1000
  latency_count=2000 latency_reps=3
  fallback_reps=12 dead_reps=3 scale_reps=3
  bc_managers=20 bc_apps_per=500 bc_reps=1
fi
# BENCH_ONLY=cluster: the cluster section alone (it needs the set-up and the
# drain functions, which come first; the publish loop runs no repetition).
[[ "${BENCH_ONLY:-}" == cluster ]] && publish_reps=0
drain_apps=1000
poll_interval=1.0
heartbeat_s=2

log() { printf '[bench %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() {
  log "FAILED: $*"
  exit 1
}
now_us() { date +%s%6N; }
jget() { "$python" -c 'import json,sys; print(json.loads(sys.stdin.read())[sys.argv[1]])' "$1"; }
calc() { "$python" -c "print(round($1, 3))"; }
emit() {
  [[ "$2" =~ ^-?[0-9]+(\.[0-9]+)?(e-?[0-9]+)?$ ]] || die "measurement $1 gave no number ('$2')"
  log "  $1 = $2"
  echo "$1 $2" >>"$raw"
}

for f in "$bench_bin" "$manager_bin" "$dcctl_bin" "$build/bench/dc-api-bench" "$build/apps/dc-api"; do
  [[ -x "$f" ]] || die "$f is missing: run 'make build' first (DC_BUILD_BENCH=ON)"
done
"$python" -c 'import pika' 2>/dev/null || die "pika is not importable by $python (scripts/install-deps.sh installs python3-pika)"

# ------------------------------------------------------------ processes

pids=()
broker_pid=""
rabbit() { DC_RABBIT_PORT=$rport DC_SERVICES_DIR=$svc "$repo/scripts/rabbitmq-local.sh" "$@"; }
postgres() { DC_PG_PORT=$pgport DC_SERVICES_DIR=$svc "$repo/scripts/postgres-local.sh" "$@"; }

stop_pid() {
  local pid=$1 i
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 100; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null || true
}

cleanup() {
  local rc=$?
  set +e
  [[ -n "$broker_pid" ]] && kill -CONT "$broker_pid" 2>/dev/null
  for pid in "${pids[@]}"; do stop_pid "$pid"; done
  rabbit stop >/dev/null 2>&1
  postgres stop >/dev/null 2>&1
  cluster_services stop >/dev/null 2>&1
  [[ -z "${BENCH_DB_DIR:-}" ]] && rm -rf "$db_dir"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# start_manager NAME DB_URL PREFETCH LOG [RABBIT_PORT [HEARTBEAT]] -> sets $last_pid
# ($mgr_hosts and $mgr_queue_type: another broker, e.g. the cluster)
start_manager() {
  local name=$1 url=$2 prefetch=$3 logf=$4 port=${5:-$rport} hb=${6:-10}
  rm -f "$logf"
  (cd "$run" && exec env -u DC_CONFIG DC_RABBIT_HOST="${mgr_hosts:-127.0.0.1}" DC_RABBIT_PORT="$port" \
    DC_RABBIT_QUEUE_TYPE="${mgr_queue_type:-classic}" DC_RABBIT_QUEUE="$name" \
    DC_RABBIT_PREFETCH="$prefetch" DC_RABBIT_HEARTBEAT="$hb" DC_DB_URL="$url" DC_LOG_DIR="$run/logs" \
    DC_POLL_INTERVAL="$poll_interval" "$manager_bin" --log-file "$logf" 2>>"$logf.stderr") &
  last_pid=$!
  pids+=("$last_pid")
}

# ($bench_broker: other broker flags, e.g. the cluster's host list)
bench() {
  if ((${#bench_broker[@]})); then "$bench_bin" "$@" "${bench_broker[@]}"; else "$bench_bin" "$@" --port "$rport"; fi
}
bench_broker=()

# ------------------------------------------------------------ cluster (SPEC §10 cluster.*)
#
# Replication's cost, side by side in one run: a three-node RabbitMQ cluster
# with quorum queues (quorum3) against the single node above with classic
# queues (classic1), for publishing and for draining at prefetch 1 and 64;
# and the store on a PostgreSQL primary with a synchronous standby against
# that same primary with its standby stopped (the same server and settings,
# fsync on as in production: the difference is the standby's round trip and
# flush per commit). The store drains run on the classic single node, so only
# the database differs; the order of the two alternates between repetitions.
cluster_ports=${BENCH_CLUSTER_PORTS:-56861,56862,56863}
pg_ha_ports=${BENCH_PG_HA_PORTS:-55496,55497}
cluster_hosts="127.0.0.1:${cluster_ports//,/,127.0.0.1:}"
pg_pair_url="postgresql://postgres@127.0.0.1:${pg_ha_ports/,/,127.0.0.1:}/dc?target_session_attrs=read-write"

# pg_reset [URL]: an empty dc schema in the database at URL (default
# $pg_url): every table dc creates dropped, then dcctl db init.
pg_reset() {
  local url=${1:-$pg_url}
  PGOPTIONS='-c client_min_messages=warning' "$psql_bin" -X -q -v ON_ERROR_STOP=1 "$url" \
    -c "DROP TABLE IF EXISTS commands, apps, managers, events, schema_version CASCADE" >/dev/null
  "$dcctl_bin" --db-url "$url" db init >/dev/null
}

# cluster_services start|stop: the cluster and the PostgreSQL pair, under $svc.
cluster_services() {
  DC_CLUSTER_RABBIT_PORTS=$cluster_ports DC_SERVICES_DIR=$svc "$repo/scripts/rabbitmq-cluster.sh" "$1" &&
    pg_pair "$1"
}
pg_pair() { DC_PG_HA_PORTS=$pg_ha_ports DC_PG_HA_FSYNC=on DC_SERVICES_DIR=$svc "$repo/scripts/postgres-ha.sh" "$@"; }

# on_cluster CMD...: CMD with the bench tools and managers on the cluster.
on_cluster() {
  local -a saved=("${bench_broker[@]}")
  bench_broker=(--host "$cluster_hosts" --port "${cluster_ports%%,*}" --queue-type quorum)
  mgr_hosts=$cluster_hosts mgr_queue_type=quorum "$@"
  bench_broker=("${saved[@]}")
}

# drain_pg_pair COUNT BODIES: commands/s of dc-manager m00 at prefetch 1,
# its store on the pair's current primary (standby attached or not).
drain_pg_pair() {
  local count=$1 bodies=$2 t0 w
  pg_reset "$pg_pair_url"
  "$python" "$tools" register-pg "$pg_pair_url" --managers 1 --apps-per "$drain_apps"
  bench reset-queue --queue m00 >/dev/null
  bench publish --queue m00 --bodies "$bodies" >/dev/null
  start_manager m00 "$pg_pair_url" 1 "$run/drain-pg-pair.log"
  local pid=$last_pid
  t0=$("$python" "$tools" log-time "$run/drain-pg-pair.log" "consuming queue" --timeout 60) || die "dc-manager did not start; see $run/drain-pg-pair.log*"
  w=$("$python" "$tools" wait "$pg_pair_url" --count "$count" --timeout 900 --interval 0.5) || die "dc-manager did not drain; see $run/drain-pg-pair.log"
  stop_pid "$pid"
  result=$(calc "$count / (($(jget max_executed_us <<<"$w") - $t0) / 1e6)")
}

cluster_bench() {
  local count reps pg_count rep prefetch w
  if [[ -n "$quick" ]]; then count=2000 reps=2 pg_count=1000; else count=10000 reps=3 pg_count=3000; fi
  log "cluster: three RabbitMQ nodes ($cluster_ports) and a PostgreSQL pair ($pg_ha_ports)"
  DC_CLUSTER_RABBIT_PORTS=$cluster_ports DC_SERVICES_DIR=$svc "$repo/scripts/rabbitmq-cluster.sh" stop >/dev/null 2>&1 || true
  rm -rf "$svc/rabbitmq-cluster-${cluster_ports%%,*}"
  cluster_services start >/dev/null || die "could not start the cluster or the PostgreSQL pair"
  "$bench_bin" bodies --count "$count" --apps "$drain_apps" --out "$out/cluster.jsonl" >/dev/null
  "$bench_bin" bodies --count "$pg_count" --apps "$drain_apps" --out "$out/cluster_pg.jsonl" >/dev/null

  log "cluster: publish $count confirmed messages, quorum3 vs classic1, $reps interleaved repetitions"
  for ((rep = 1; rep <= reps; rep++)); do
    on_cluster bench reset-queue --queue bench_publish >/dev/null
    w=$(on_cluster bench publish --queue bench_publish --bodies "$out/cluster.jsonl") || die "publish to the cluster failed"
    emit cluster.publish.quorum3 "$(jget per_s <<<"$w")"
    bench reset-queue --queue bench_publish >/dev/null
    w=$(bench publish --queue bench_publish --bodies "$out/cluster.jsonl") || die "publish failed"
    emit cluster.publish.classic1 "$(jget per_s <<<"$w")"
  done
  on_cluster bench reset-queue --queue bench_publish >/dev/null
  bench reset-queue --queue bench_publish >/dev/null

  for prefetch in 1 64; do
    log "cluster: drain $count preloaded commands at prefetch $prefetch, quorum3 vs classic1, $reps repetitions"
    for ((rep = 1; rep <= reps; rep++)); do
      on_cluster drain_dc "$prefetch" "$count" "$out/cluster.jsonl" "$db_dir"
      emit "cluster.drain_p$prefetch.quorum3" "$result"
      drain_dc "$prefetch" "$count" "$out/cluster.jsonl" "$db_dir"
      emit "cluster.drain_p$prefetch.classic1" "$result"
    done
  done

  log "cluster: drain $pg_count commands at prefetch 1 into PostgreSQL: synchronous pair vs the primary alone, $reps repetitions"
  local setup
  for ((rep = 1; rep <= reps; rep++)); do
    for setup in $( ((rep % 2)) && echo "pair single" || echo "single pair"); do
      if [[ $setup == pair ]]; then
        pg_pair start >/dev/null || die "the PostgreSQL pair did not come back"
      else
        pg_pair stop-standby >/dev/null || die "could not stop the standby"
      fi
      drain_pg_pair "$pg_count" "$out/cluster_pg.jsonl"
      emit "cluster.pg_$([[ $setup == pair ]] && echo sync_pair || echo single).drain_p1" "$result"
    done
  done
  bench reset-queue --queue m00 >/dev/null
  cluster_services stop >/dev/null 2>&1 || true
}
# ------------------------------------------------------------ (end of the cluster section)

# A fresh copy of a template SQLite database.
fresh_db() {
  local template=$1 name=$2
  rm -f "$db_dir/$name" "$db_dir/$name-wal" "$db_dir/$name-shm"
  cp "$template" "$db_dir/$name"
  echo "$db_dir/$name"
}

# make_template FILE MANAGER APPS
make_template() {
  rm -f "$1" "$1-wal" "$1-shm"
  "$dcctl_bin" --db-url "sqlite://$1" db init >/dev/null
  "$python" "$tools" register-sqlite "$1" --manager "$2" --apps "$3"
}



# ------------------------------------------------------------ set-up

if [[ -n "$quick" ]]; then log "mode: QUICK; results in $out"; else log "mode: full; results in $out"; fi
rm -rf "$run"
mkdir -p "$run/logs" "$db_dir" "$svc"
: >"$raw"
# A fresh broker every run: queues bound to "all" would otherwise keep the
# previous run's broadcast and replay it into the next measurement.
rabbit stop >/dev/null 2>&1 || true
rm -rf "$svc/rabbitmq-$rport"
rabbit start >/dev/null || die "could not start the broker on port $rport"
broker_pid=$(<"$svc/rabbitmq-$rport/rabbitmq.pid")
postgres start >/dev/null || die "could not start PostgreSQL on port $pgport"
(exec 3<>"/dev/tcp/127.0.0.1/$dead_port") 2>/dev/null && die "BENCH_DEAD_PORT $dead_port is in use; choose a free one"

make_template "$out/drain.sqlite3" bench_drain "$drain_apps"
make_template "$out/scale10.sqlite3" bench_scale 10
make_template "$out/scale10000.sqlite3" bench_scale 10000
"$bench_bin" bodies --count "$publish_count" --apps "$drain_apps" --out "$out/publish.jsonl" >/dev/null
"$bench_bin" bodies --count "$drain_count" --apps "$drain_apps" --out "$out/drain.jsonl" >/dev/null
"$bench_bin" bodies --count "$disk_drain_count" --apps "$drain_apps" --out "$out/drain_disk.jsonl" >/dev/null

# ------------------------------------------------------------ publish

log "publish: $publish_count confirmed persistent messages, $publish_reps interleaved repetitions"
for ((rep = 1; rep <= publish_reps; rep++)); do
  bench reset-queue --queue bench_publish >/dev/null
  w=$(bench publish --queue bench_publish --bodies "$out/publish.jsonl") || die "dc publish failed"
  emit publish.dc "$(jget per_s <<<"$w")"
  bench reset-queue --queue bench_publish >/dev/null
  w=$("$python" "$repo/bench/reference/pika_publish.py" --port "$rport" --queue bench_publish \
    --bodies "$out/publish.jsonl") || die "pika publish failed"
  emit publish.pika "$(jget per_s <<<"$w")"
done
bench reset-queue --queue bench_publish >/dev/null

# ------------------------------------------------------------ drain

# preload BODIES: an empty bench_drain queue holding exactly these messages.
preload() {
  bench reset-queue --queue bench_drain >/dev/null
  bench publish --queue bench_drain --bodies "$1" >/dev/null
}

# The drain functions run in this shell (never in $(...)), so that the
# processes they start are known to the exit trap; each sets $result.
# drain_dc PREFETCH COUNT BODIES DB_DIR: commands/s
drain_dc() {
  local prefetch=$1 count=$2 bodies=$3 dir=$4 db t0 w
  db=$dir/drain-dc.sqlite3
  rm -f "$db" "$db-wal" "$db-shm"
  cp "$out/drain.sqlite3" "$db"
  preload "$bodies"
  start_manager bench_drain "sqlite://$db" "$prefetch" "$run/drain-dc.log"
  local pid=$last_pid
  # Timed from the manager's "consuming queue" line: start-up (store, lease,
  # recovery, topology) is not part of the drain rate.
  t0=$("$python" "$tools" log-time "$run/drain-dc.log" "consuming queue" --timeout 60) || die "dc-manager did not start; see $run/drain-dc.log*"
  w=$("$python" "$tools" wait "$db" --count "$count" --timeout 900) || die "dc-manager did not drain; see $run/drain-dc.log"
  stop_pid "$pid"
  result=$(calc "$count / (($(jget max_executed_us <<<"$w") - $t0) / 1e6)")
}

drain_pika() {
  local prefetch=$1 count=$2 bodies=$3 dir=$4 db t0 w
  db=$dir/drain-pika.sqlite3
  rm -f "$db" "$db-wal" "$db-shm"
  cp "$out/drain.sqlite3" "$db"
  preload "$bodies"
  rm -f "$run/drain-pika.out"
  "$python" "$repo/bench/reference/pika_manager.py" --port "$rport" --queue bench_drain --prefetch "$prefetch" \
    --db "$db" --log-file "$run/drain-pika.log" >"$run/drain-pika.out" 2>"$run/drain-pika.err" &
  local pid=$!
  pids+=("$pid")
  local i
  for ((i = 0; i < 600; i++)); do
    [[ -s "$run/drain-pika.out" ]] && break
    kill -0 "$pid" 2>/dev/null || die "pika_manager.py exited; see $run/drain-pika.err"
    sleep 0.05
  done
  t0=$(jget start_us <"$run/drain-pika.out")
  w=$("$python" "$tools" wait "$db" --count "$count" --timeout 900) || die "pika_manager.py did not drain; see $run/drain-pika.err"
  stop_pid "$pid"
  result=$(calc "$count / (($(jget max_executed_us <<<"$w") - $t0) / 1e6)")
}

# drain_null PREFETCH COUNT BODIES [ACK]: ACK batch (as dc-manager acks, the
# default) or each (one ack per message).
drain_null() {
  local prefetch=$1 count=$2 bodies=$3 ack=${4:-batch}
  preload "$bodies"
  local w
  w=$(bench null-consume --queue bench_drain --prefetch "$prefetch" --count "$count" --ack "$ack" --timeout 300) ||
    die "null consumer failed"
  result=$(jget per_s <<<"$w")
}

if [[ "${BENCH_ONLY:-}" == cluster ]]; then
  # The cluster section alone: its keys replace the cluster.* ones of an
  # existing results.json; every other key is kept.
  cluster_bench
  "$python" "$tools" summarize "$raw" "$out/results.cluster.json"
  "$python" - "$out/results.cluster.json" "$out/results.json" <<'EOF'
import json, os, sys
new = json.load(open(sys.argv[1]))
old = json.load(open(sys.argv[2])) if os.path.exists(sys.argv[2]) else {}
old = {k: v for k, v in old.items() if not k.startswith("cluster.")}
old.update({k: v for k, v in new.items() if k.startswith("cluster.")})
with open(sys.argv[2], "w") as f:
    json.dump(dict(sorted(old.items())), f, indent=2)
    f.write("\n")
EOF
  log "results: cluster.* merged into $out/results.json"
  exit 0
fi

for prefetch in 1 64; do
  log "drain: $drain_count preloaded ENABLE/DISABLE over $drain_apps apps, prefetch $prefetch, $drain_reps interleaved repetitions"
  for ((rep = 1; rep <= drain_reps; rep++)); do
    drain_dc "$prefetch" "$drain_count" "$out/drain.jsonl" "$db_dir"
    emit "drain_p$prefetch.dc" "$result"
    drain_pika "$prefetch" "$drain_count" "$out/drain.jsonl" "$db_dir"
    emit "drain_p$prefetch.pika" "$result"
    drain_null "$prefetch" "$drain_count" "$out/drain.jsonl"
    emit "drain_p$prefetch.null" "$result"
    if ((prefetch > 1)); then
      drain_null "$prefetch" "$drain_count" "$out/drain.jsonl" each
      emit "drain_p$prefetch.null_ack_each" "$result"
    fi
  done
done

log "drain with the SQLite file on this machine's disk (fsync per commit): $disk_drain_count commands, prefetch 1"
mkdir -p "$out/disk"
drain_dc 1 "$disk_drain_count" "$out/drain_disk.jsonl" "$out/disk"
emit drain_disk_p1.dc "$result"
drain_pika 1 "$disk_drain_count" "$out/drain_disk.jsonl" "$out/disk"
emit drain_disk_p1.pika "$result"
fsync_rate=$("$python" - "$out/disk/fsync.sqlite3" <<'EOF'
import os, sqlite3, sys, time
p = sys.argv[1]
for f in (p, p + "-wal", p + "-shm"):
    if os.path.exists(f): os.remove(f)
c = sqlite3.connect(p, isolation_level=None)
c.execute("PRAGMA journal_mode=WAL"); c.execute("PRAGMA synchronous=FULL")
c.execute("CREATE TABLE t (a INTEGER PRIMARY KEY, b TEXT)")
n, t = 200, time.perf_counter()
for i in range(n):
    c.execute("BEGIN IMMEDIATE"); c.execute("INSERT INTO t (b) VALUES (?)", ("x" * 100,)); c.execute("COMMIT")
print(round(n / (time.perf_counter() - t), 1))
EOF
)
emit "@machine.disk_fsync_commits_per_s" "$fsync_rate"

log "store loop: the store work of one command at prefetch 1, back to back (no broker), $drain_reps runs"
for ((rep = 1; rep <= drain_reps; rep++)); do
  db=$(fresh_db "$out/drain.sqlite3" store-loop.sqlite3)
  w=$("$bench_bin" store-loop --db-url "sqlite://$db" --count "$drain_count" --apps "$drain_apps") || die "store loop failed"
  emit store_loop_us "$(jget us_per_command <<<"$w")"
done

# ------------------------------------------------------------ latency

log "latency: ENABLE/DISABLE published at 200/s, publish -> executed_at, $latency_reps repetitions of $latency_count"
for ((rep = 1; rep <= latency_reps; rep++)); do
  db=$(fresh_db "$out/drain.sqlite3" latency.sqlite3)
  bench reset-queue --queue bench_drain >/dev/null
  start_manager bench_drain "sqlite://$db" 1 "$run/latency.log"
  pid=$last_pid
  "$python" "$tools" log-time "$run/latency.log" "consuming queue" --timeout 60 >/dev/null || die "dc-manager did not start"
  sleep 0.5
  lat=$(bench latency --queue bench_drain --db-url "sqlite://$db" --rate 200 --count "$latency_count" \
    --apps "$drain_apps" --timeout 60)
  stop_pid "$pid"
  emit latency_ms.p50 "$(jget p50_ms <<<"$lat")"
  emit latency_ms.p99 "$(jget p99_ms <<<"$lat")"
  emit latency_ms.max "$(jget max_ms <<<"$lat")"
  emit latency.achieved_rate_per_s "$(jget achieved_rate_per_s <<<"$lat")"
done

# ------------------------------------------------------------ fallback

log "fallback: broker down, issue_command -> EXECUTED ($fallback_reps commands each on SQLite and PostgreSQL)"
db=$(fresh_db "$out/drain.sqlite3" fallback.sqlite3)
start_manager bench_drain "sqlite://$db" 1 "$run/fallback-sqlite.log" "$dead_port"
pid=$last_pid
"$python" "$tools" log-time "$run/fallback-sqlite.log" "-> fallback" --timeout 60 >/dev/null || die "no fallback mode"
fb=$("$bench_bin" fallback --db-url "sqlite://$db" --dead-port "$dead_port" --app app-00000 \
  --repetitions "$fallback_reps" --timeout 30)
stop_pid "$pid"
# The target is a bound: the worst of the runs is the figure.
emit fallback_ms.sqlite "$(jget max_ms <<<"$fb")"
emit fallback_ms.sqlite_p50 "$(jget p50_ms <<<"$fb")"

pg_reset
"$python" "$tools" register-pg "$pg_url" --managers 1 --apps-per "$drain_apps"
start_manager m00 "$pg_url" 1 "$run/fallback-pg.log" "$dead_port"
pid=$last_pid
"$python" "$tools" log-time "$run/fallback-pg.log" "-> fallback" --timeout 60 >/dev/null || die "no fallback mode"
sleep 0.3
fb=$("$bench_bin" fallback --db-url "$pg_url" --dead-port "$dead_port" --app app-00000 \
  --repetitions "$fallback_reps" --timeout 30)
stop_pid "$pid"
emit fallback_ms.postgresql "$(jget max_ms <<<"$fb")"
emit fallback_ms.postgresql_p50 "$(jget p50_ms <<<"$fb")"

log "dead broker: SIGSTOP the broker, rabbit_heartbeat=$heartbeat_s; time to 'broker connection lost' ($dead_reps runs)"
for ((rep = 1; rep <= dead_reps; rep++)); do
  db=$(fresh_db "$out/drain.sqlite3" dead.sqlite3)
  bench reset-queue --queue bench_hb >/dev/null
  start_manager bench_hb "sqlite://$db" 1 "$run/dead.log" "$rport" "$heartbeat_s"
  pid=$last_pid
  "$python" "$tools" log-time "$run/dead.log" "consuming queue" --timeout 60 >/dev/null || die "dc-manager did not start"
  sleep 1
  t_stop=$(now_us)
  kill -STOP "$broker_pid"
  t_lost=$("$python" "$tools" log-time "$run/dead.log" "broker connection lost" --timeout 60) || {
    kill -CONT "$broker_pid"
    die "the manager never noticed the stopped broker"
  }
  kill -CONT "$broker_pid"
  stop_pid "$pid"
  emit detect_dead_broker_ms "$(calc "($t_lost - $t_stop) / 1000")"
  bench reset-queue --queue bench_hb >/dev/null # the broker answers again
done

# ------------------------------------------------------------ scale

log "scale: RSS and start-to-consuming with 10 and 10,000 apps ($scale_reps interleaved runs)"
for ((rep = 1; rep <= scale_reps; rep++)); do
  for apps in 10 10000; do
    db=$(fresh_db "$out/scale$apps.sqlite3" scale.sqlite3)
    bench reset-queue --queue bench_scale >/dev/null
    t_launch=$(now_us)
    start_manager bench_scale "sqlite://$db" 1 "$run/scale.log"
    pid=$last_pid
    t_cons=$("$python" "$tools" log-time "$run/scale.log" "consuming queue" --timeout 60) || die "dc-manager did not start"
    # Idle CPU over 4 s (4 schedule ticks: each lists all apps of the
    # manager) and the resident set in that steady state.
    sleep 0.5
    ticks0=$(awk '{print $14 + $15}' "/proc/$pid/stat")
    sleep 4
    ticks1=$(awk '{print $14 + $15}' "/proc/$pid/stat")
    rss_kb=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status")
    hwm_kb=$(awk '/^VmHWM:/ {print $2}' "/proc/$pid/status")
    stop_pid "$pid"
    emit "rss_mib.apps_$apps" "$(calc "$rss_kb / 1024")"
    emit "rss_peak_mib.apps_$apps" "$(calc "$hwm_kb / 1024")"
    emit "startup_ms.apps_$apps" "$(calc "($t_cons - $t_launch) / 1000")"
    emit "idle_cpu_pct.apps_$apps" "$(calc "100.0 * ($ticks1 - $ticks0) / $(getconf CLK_TCK) / 4")"
  done
done

bc_total=$((bc_managers * bc_apps_per))
log "broadcast: dcctl enable --all to $bc_managers managers x $bc_apps_per apps on PostgreSQL ($bc_reps runs)"
for ((rep = 1; rep <= bc_reps; rep++)); do
  pg_reset
  "$python" "$tools" register-pg "$pg_url" --managers "$bc_managers" --apps-per "$bc_apps_per"
  bc_pids=()
  for ((m = 0; m < bc_managers; m++)); do
    name=$(printf 'm%02d' "$m")
    start_manager "$name" "$pg_url" 1 "$run/bc-$name.log"
    bc_pids+=("$last_pid")
  done
  for ((m = 0; m < bc_managers; m++)); do
    name=$(printf 'm%02d' "$m")
    "$python" "$tools" log-time "$run/bc-$name.log" "consuming queue" --timeout 120 >/dev/null || die "manager $name did not start"
  done
  (cd "$run" && env -u DC_CONFIG "$dcctl_bin" --db-url "$pg_url" --rabbit-host 127.0.0.1 --rabbit-port "$rport" \
    enable --all >/dev/null) || die "dcctl enable --all failed"
  w=$("$python" "$tools" wait "$pg_url" --count "$bc_total" --timeout 900 --interval 0.5) || die "broadcast not finished"
  # A manager busy with one delivery for longer than two heartbeats loses its
  # connection; count how often that happened (see docs/BENCHMARKS.md).
  losses=$(cat "$run"/bc-m*.log | grep -c "broker connection lost" || true)
  for pid in "${bc_pids[@]}"; do stop_pid "$pid"; done
  emit broadcast.connection_losses "$losses"
  emit broadcast_10000_s "$(calc "($(jget max_executed_us <<<"$w") - $(jget min_issued_us <<<"$w")) / 1e6")"
done

# ------------------------------------------------------------ pipeline tasks (SPEC §9; tasks.* keys)
# dc-worker's throughput with a no-op actor in-process (1 and 8 threads) and
# as an executable (/bin/true, 8 threads), next to a worker written like
# Dramatiq's on pika (bench/reference/dramatiq_like_worker.py) and the bare
# posix_spawn loop an executable actor is bound by; and confirmed enqueue,
# one message at a time, dc's TaskEnqueuer against Dramatiq-on-pika with
# confirm_delivery. Each worker run drains a preloaded queue of its own.

task_bench=$build/bench/dc-task-bench
task_ref=$repo/bench/reference/dramatiq_like_worker.py
[[ -x "$task_bench" ]] || die "$task_bench is missing: run 'make build' first (DC_BUILD_BENCH=ON)"
if [[ -n "$quick" ]]; then
  task_count=3000 task_py_count=1500 task_exec_count=600 task_spawn_count=1500 task_enqueue_count=1000 task_reps=2
else
  task_count=20000 task_py_count=6000 task_exec_count=3000 task_spawn_count=6000 task_enqueue_count=5000 task_reps=3
fi
task_noop=$(type -P true)  # a path: posix_spawn does not search PATH
log "pipeline tasks: $task_count in-process, $task_py_count Python, $task_exec_count exec tasks x $task_reps"
for ((rep = 1; rep <= task_reps; rep++)); do
  w=$("$task_bench" enqueue --port "$rport" --queue "bench_tq_enq_dc_$rep" --count "$task_enqueue_count") ||
    die "dc task enqueue failed"
  emit tasks.enqueue.dc "$(jget per_s <<<"$w")"
  w=$("$python" "$task_ref" enqueue --port "$rport" --queue "bench_tq_enq_py_$rep" --count "$task_enqueue_count") ||
    die "pika task enqueue failed"
  emit tasks.enqueue.pika "$(jget per_s <<<"$w")"
  for t in 1 8; do
    w=$("$task_bench" worker --port "$rport" --queue "bench_tq_in_${t}_$rep" --count "$task_count" --threads "$t") ||
      die "dc-worker in-process run failed"
    emit "tasks.inproc_per_s.t$t" "$(jget per_s <<<"$w")"
    "$task_bench" preload --port "$rport" --queue "bench_tq_py_${t}_$rep" --count "$task_py_count" ||
      die "preloading the Python reference's queue failed"
    w=$("$python" "$task_ref" worker --port "$rport" --queue "bench_tq_py_${t}_$rep" --count "$task_py_count" \
      --threads "$t") || die "the Python reference worker failed"
    emit "tasks.python_ref_per_s.t$t" "$(jget per_s <<<"$w")"
  done
  w=$("$task_bench" worker --port "$rport" --queue "bench_tq_exec_$rep" --count "$task_exec_count" --threads 8 \
    --exec "$task_noop") || die "dc-worker exec run failed"
  emit tasks.exec_per_s.t8 "$(jget per_s <<<"$w")"
  w=$("$task_bench" spawn --count "$task_spawn_count" --threads 8 --program "$task_noop") || die "spawn loop failed"
  emit tasks.spawn_baseline_per_s "$(jget per_s <<<"$w")"
done
emit @param.tasks.inproc_count "$task_count"
emit @param.tasks.python_ref_count "$task_py_count"
emit @param.tasks.exec_count "$task_exec_count"
emit @param.tasks.enqueue_count "$task_enqueue_count"

cluster_bench

# ------------------------------------------------------------ results

commit=$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)
[[ -n "$(git -C "$repo" status --porcelain 2>/dev/null)" ]] && commit+="+uncommitted"
"$python" - "$raw.meta.json" <<EOF
import json, sys
meta = {
    "machine.nproc": $(nproc),
    "machine.cpu": """$(lscpu | sed -n 's/^Model name:[[:space:]]*//p' | head -1)""",
    "machine.kernel": "$(uname -r)",
    "machine.date": "$(date -u +%Y-%m-%dT%H:%M:%SZ)",
    "machine.commit": "$commit",
    "machine.load_avg_at_end": "$(cut -d' ' -f1-3 /proc/loadavg)",
    "machine.sqlite_dir_under_test": "${BENCH_DB_DIR:-/dev/shm (tmpfs)}",
    "param.quick": $quick_flag,
    "param.publish_count": $publish_count,
    "param.drain_count": $drain_count,
    "param.drain_apps": $drain_apps,
    "param.disk_drain_count": $disk_drain_count,
    "param.latency_count": $latency_count,
    "param.latency_rate_per_s": 200,
    "param.poll_interval_s": $poll_interval,
    "param.rabbit_heartbeat_s": $heartbeat_s,
    "param.broadcast_managers": $bc_managers,
    "param.broadcast_apps_per_manager": $bc_apps_per,
    "param.broadcast_apps": $bc_total,
}
json.dump(meta, open(sys.argv[1], "w"))
EOF
"$python" "$tools" summarize "$raw" "$out/results.json"
"$python" "$tools" report "$out/results.json" "$repo/docs/BENCHMARKS.md" --notes "$repo/bench/NOTES.md"

# ------------------------------------------------------------ API (dc-api)

# Its own script: merges the api.* keys into results.json and writes its
# section at the end of docs/BENCHMARKS.md. It uses this run's broker.
BUILD=$build BENCH_RABBIT_PORT=$rport QUICK=$quick "$repo/scripts/bench-api.sh" || die "bench-api.sh failed"
log "results: $out/results.json; report: docs/BENCHMARKS.md"
