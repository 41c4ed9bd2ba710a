#!/usr/bin/env bash
# A private PostgreSQL 15 pair for the cluster scenarios: a primary and a
# streaming standby, synchronous by default, on loopback.
#
#   scripts/postgres-ha.sh start         initialise (first time) and start both; returns once the
#                                        standby streams (and is the synchronous one)
#   scripts/postgres-ha.sh stop          stop both servers of this pair
#   scripts/postgres-ha.sh status        roles and replication; exit 0 when the pair is complete
#   scripts/postgres-ha.sh kill-primary  SIGKILL every process of the primary (a lost machine)
#   scripts/postgres-ha.sh promote       make the standby the primary, as an HA manager does
#   scripts/postgres-ha.sh rejoin        rebuild the former primary as the new primary's standby
#   scripts/postgres-ha.sh stop-standby  stop the standby, first clearing synchronous_standby_names
#                                        (a lost standby; `start` brings it back)
#   scripts/postgres-ha.sh primary-port  print the port of the current primary
#   scripts/postgres-ha.sh lag-standby SECONDS
#                                        hold the WAL the primary sends the standby for SECONDS
#                                        (a slow link: in sync mode commits wait, in async mode
#                                        they return, and a failover meanwhile loses them)
#
# Nodes 1 and 2 keep their ports whatever their role; `promote` swaps the
# roles. What `promote` does is what Patroni or pg_auto_failover do on a
# failover: fence the old primary (stop it if it still runs), `pg_ctl
# promote` the standby, and, since no standby is left to confirm commits,
# clear synchronous_standby_names on the new primary so writes do not wait
# forever. `rejoin` (or the next `start`) rebuilds the old primary from a
# fresh base backup of the new one, starts it as a standby and makes it
# synchronous again.
#
# Environment (all optional):
#   DC_PG_HA_PORTS     ports of nodes 1 and 2 on 127.0.0.1     (default 55481,55482)
#   DC_PG_HA_SYNC      on: a commit returns once the standby has it (synchronous_standby_names set);
#                      off: asynchronous streaming, where a failover can lose the last commits (default on)
#   DC_PG_HA_FSYNC     on: flush WAL to disk on commit, as in production (benchmarks); default off
#   DC_SERVICES_DIR    state root (default <repo>/build/services)
#   DC_PG_BIN          PostgreSQL binaries (default /usr/lib/postgresql/15/bin)
#
# A test fixture like scripts/postgres-local.sh: trusts every local
# connection and, unless DC_PG_HA_FSYNC=on, runs with fsync off, which
# survives the process kills the scenarios inflict but not a power cut.
# `start` writes $DC_SERVICES_DIR/postgres-ha.env exporting DC_DB_URL, the multi-host URL
# postgresql://postgres@127.0.0.1:P1,127.0.0.1:P2/dc?target_session_attrs=read-write.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/lib/postgres-server.sh
source "$repo/scripts/lib/postgres-server.sh"
IFS=, read -r -a ports <<<"${DC_PG_HA_PORTS:-55481,55482}"
sync_mode=${DC_PG_HA_SYNC:-on}
fsync=${DC_PG_HA_FSYNC:-off}
pg_bin=${DC_PG_BIN:-/usr/lib/postgresql/15/bin}
database=dc
env_file=$services_dir/postgres-ha.env
deadline_s=60

die() {
  echo "postgres-ha: $*" >&2
  exit 1
}

((${#ports[@]} == 2)) || die "DC_PG_HA_PORTS must list two ports, got '${DC_PG_HA_PORTS:-}'"
for p in "${ports[@]}"; do [[ "$p" =~ ^[0-9]+$ ]] || die "'$p' in DC_PG_HA_PORTS is not a port number"; done
[[ "$sync_mode" == on || "$sync_mode" == off ]] || die "DC_PG_HA_SYNC must be on or off, got '$sync_mode'"
[[ "$fsync" == on || "$fsync" == off ]] || die "DC_PG_HA_FSYNC must be on or off, got '$fsync'"
[[ -x "$pg_bin/postgres" ]] || die "no PostgreSQL binaries in $pg_bin: run scripts/install-deps.sh or set DC_PG_BIN"

base=$services_dir/postgres-ha-${ports[0]}
# As in postgres-local.sh: the server user must reach the data through every
# parent folder, else the data goes to /tmp.
choose_base() {
  mkdir -p "$base"
  if [[ $(id -u) -eq 0 ]]; then chown "$server_user" "$base"; fi
  if ! as_server test -w "$base" 2>/dev/null; then
    base=/tmp/dc-postgres-ha-${ports[0]}
    echo "postgres-ha: $services_dir is not writable by user $server_user; using $base instead"
    mkdir -p "$base"
    if [[ $(id -u) -eq 0 ]]; then chown "$server_user" "$base"; fi
  fi
}
if [[ ! -d "$base" && -d /tmp/dc-postgres-ha-${ports[0]} ]]; then base=/tmp/dc-postgres-ha-${ports[0]}; fi

data_dir() { echo "$base/node$1/data"; }
socket_dir() { echo "$base/node$1/run"; }
log_file() { echo "$base/node$1/postgres.log"; }
port_of() { echo "${ports[$(($1 - 1))]}"; }
other() { echo $((3 - $1)); }
app_name() { echo "dc_pg$1"; }
# The node that is (or last was) the primary.
primary() { if [[ -s "$base/primary" ]]; then cat "$base/primary"; else echo 1; fi; }
set_primary() { echo "$1" >"$base/primary"; }

running() { [[ -f "$(data_dir "$1")/PG_VERSION" ]] && as_server "$pg_bin/pg_ctl" status -D "$(data_dir "$1")" >/dev/null 2>&1; }
postmaster_pid() { head -n 1 "$(data_dir "$1")/postmaster.pid" 2>/dev/null; }

psql_on() {
  local n=$1
  shift
  "$pg_bin/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$(port_of "$n")" -U postgres -d postgres "$@"
}

wait_ready() {
  local n=$1 deadline=$((SECONDS + deadline_s))
  until "$pg_bin/pg_isready" -q -h 127.0.0.1 -p "$(port_of "$n")" -d postgres -U postgres; do
    if ((SECONDS >= deadline)); then
      tail -n 20 "$(log_file "$n")" >&2 || true
      die "node $n did not accept connections on 127.0.0.1:$(port_of "$n") within ${deadline_s}s"
    fi
    sleep 0.2
  done
}

# Server settings common to both roles. synchronous_standby_names is not
# among them: it lives in postgresql.auto.conf (ALTER SYSTEM), so that a
# promotion can change it without a restart.
server_options() {
  local n=$1 o
  o="-c listen_addresses=127.0.0.1 -c port=$(port_of "$n") -c unix_socket_directories=$(socket_dir "$n")"
  o+=" -c fsync=$fsync -c full_page_writes=$fsync -c max_connections=200"
  o+=" -c wal_level=replica -c max_wal_senders=10 -c max_replication_slots=10 -c hot_standby=on"
  o+=" -c wal_receiver_status_interval=1s -c wal_sender_timeout=10s -c wal_receiver_timeout=10s"
  o+=" -c cluster_name=$(app_name "$n")"
  echo "$o"
}

start_server() {
  local n=$1 role=$2 options
  options=$(server_options "$n")
  if [[ $role == standby ]]; then
    local up
    up=$(primary)
    as_server touch "$(data_dir "$n")/standby.signal"
    options+=" -c primary_conninfo='host=127.0.0.1 port=$(port_of "$up") user=postgres application_name=$(app_name "$n")'"
    options+=" -c primary_slot_name=$(app_name "$n")"
  fi
  as_server mkdir -p "$(socket_dir "$n")"
  as_server "$pg_bin/pg_ctl" start -D "$(data_dir "$n")" -l "$(log_file "$n")" -w -t "$deadline_s" -o "$options" \
    >/dev/null || {
    tail -n 20 "$(log_file "$n")" >&2 || true
    die "pg_ctl start of node $n ($role) failed (is port $(port_of "$n") taken? set DC_PG_HA_PORTS); log: $(log_file "$n")"
  }
  wait_ready "$n"
}

stop_server() {
  local n=$1
  running "$n" || return 0
  as_server "$pg_bin/pg_ctl" stop -D "$(data_dir "$n")" -m fast -w -t "$deadline_s" >/dev/null || true
}

# The primary's synchronous_standby_names: the standby's application name
# when a commit must wait for it, '' otherwise.
set_sync_names() {
  local n=$1 value=$2
  psql_on "$n" -c "ALTER SYSTEM SET synchronous_standby_names = '$value'" -c "SELECT pg_reload_conf()" >/dev/null
}

init_primary() {
  local n=$1
  as_server mkdir -p "$(data_dir "$n")"
  as_server chmod 700 "$(data_dir "$n")"
  as_server "$pg_bin/initdb" -D "$(data_dir "$n")" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 \
    >"$base/initdb.log" 2>&1 || die "initdb failed; see $base/initdb.log"
}

# A fresh copy of the primary's data for node N, which then starts as its
# standby through a physical replication slot (so the primary keeps the WAL
# it has not received yet).
build_standby() {
  local n=$1 up
  up=$(primary)
  stop_server "$n"
  as_server rm -rf "$(data_dir "$n")"
  psql_on "$up" -tAc "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = '$(app_name "$n")'" >/dev/null
  psql_on "$up" -tAc "SELECT pg_create_physical_replication_slot('$(app_name "$n")')" >/dev/null
  # --checkpoint=fast: the default waits for a spread checkpoint (minutes).
  as_server "$pg_bin/pg_basebackup" -h 127.0.0.1 -p "$(port_of "$up")" -U postgres -D "$(data_dir "$n")" -X stream \
    --checkpoint=fast \
    >"$base/basebackup.log" 2>&1 || die "pg_basebackup from node $up failed; see $base/basebackup.log"
  rm -f "$base/node$n.stale"
  start_server "$n" standby
}

# wait_streaming UP DOWN [sync]: waits until the primary UP sees the
# standby DOWN streaming (with "sync": as its synchronous standby).
wait_streaming() {
  local up=$1 down=$2 want="streaming${3:+ $3}" deadline=$((SECONDS + deadline_s)) state
  while :; do
    state=$(psql_on "$up" -tAc "SELECT state || ' ' || sync_state FROM pg_stat_replication WHERE application_name = '$(app_name "$down")'" 2>/dev/null || true)
    [[ "$state" == "$want"* ]] && return 0
    if ((SECONDS >= deadline)); then die "node $down is not $want from node $up after ${deadline_s}s (state '$state')"; fi
    sleep 0.2
  done
}

# The primary UP waits for DOWN's confirmation of every commit (sync mode)
# or not (async mode).
make_synchronous() {
  local up=$1 down=$2
  wait_streaming "$up" "$down"
  if [[ $sync_mode == on ]]; then
    set_sync_names "$up" "$(app_name "$down")"
    wait_streaming "$up" "$down" sync
  else
    set_sync_names "$up" ""
  fi
}

ensure_database() {
  local n=$1 exists
  exists=$(psql_on "$n" -tAc "SELECT 1 FROM pg_database WHERE datname = '$database'")
  [[ "$exists" == 1 ]] || psql_on "$n" -c "CREATE DATABASE $database ENCODING 'UTF8' TEMPLATE template0" >/dev/null
}

write_env() {
  local tmp=$env_file.tmp.$$
  cat >"$tmp" <<EOF
# Written by scripts/postgres-ha.sh start; source it to point dc at the pair.
export DC_DB_URL='postgresql://postgres@127.0.0.1:${ports[0]},127.0.0.1:${ports[1]}/$database?target_session_attrs=read-write'
export DC_PG_HA_PORTS=${ports[0]},${ports[1]}
EOF
  mv "$tmp" "$env_file"
}

cmd_start() {
  choose_base
  local up down
  up=$(primary)
  down=$(other "$up")
  [[ -f "$(data_dir "$up")/PG_VERSION" ]] || init_primary "$up"
  # The primary never carries standby.signal: it would come back read-only.
  as_server rm -f "$(data_dir "$up")/standby.signal"
  running "$up" || start_server "$up" primary
  ensure_database "$up"
  if [[ -f "$base/node$down.stale" || ! -f "$(data_dir "$down")/PG_VERSION" ]]; then
    build_standby "$down"
  elif ! running "$down"; then
    start_server "$down" standby
  fi
  make_synchronous "$up" "$down"
  write_env
  echo "postgres-ha: primary node $up on 127.0.0.1:$(port_of "$up"), standby node $down on 127.0.0.1:$(port_of "$down") ($([[ $sync_mode == on ]] && echo synchronous || echo asynchronous)); env in $env_file"
}

cmd_stop() {
  stop_server 1
  stop_server 2
  echo "postgres-ha: stopped"
}

cmd_status() {
  local up down ok=0
  up=$(primary)
  down=$(other "$up")
  if running "$up"; then
    echo "postgres-ha: node $up (127.0.0.1:$(port_of "$up")) primary, running"
  else
    echo "postgres-ha: node $up (127.0.0.1:$(port_of "$up")) primary, not running"
    ok=1
  fi
  if running "$down"; then
    local state
    state=$(psql_on "$up" -tAc "SELECT state || ', ' || sync_state FROM pg_stat_replication WHERE application_name = '$(app_name "$down")'" 2>/dev/null || true)
    echo "postgres-ha: node $down (127.0.0.1:$(port_of "$down")) standby, running (${state:-not streaming})"
    [[ -n "$state" ]] || ok=1
  else
    echo "postgres-ha: node $down (127.0.0.1:$(port_of "$down")) standby, not running$([[ -f "$base/node$down.stale" ]] && echo ' (former primary; rejoin rebuilds it)')"
    ok=1
  fi
  return $ok
}

# Every process of the primary at once (the postmaster and its backends), as
# when its machine dies: no backend lives on to answer a client.
cmd_kill_primary() {
  local up pid
  up=$(primary)
  pid=$(postmaster_pid "$up") || true
  if [[ -z "$pid" ]] || ! kill -0 "$pid" 2>/dev/null; then die "the primary (node $up) is not running"; fi
  local children
  children=$(pgrep -P "$pid" || true)
  # shellcheck disable=SC2086
  kill -KILL "$pid" $children 2>/dev/null || true
  local p
  for p in $pid $children; do
    while kill -0 "$p" 2>/dev/null; do sleep 0.05; done
  done
  echo "postgres-ha: primary node $up (postmaster pid $pid and $(wc -w <<<"$children") backend(s)) killed"
}

cmd_promote() {
  local old new
  old=$(primary)
  new=$(other "$old")
  running "$new" || die "the standby (node $new) is not running: nothing to promote"
  # Fence the old primary first: two primaries must never accept writes.
  if running "$old"; then
    echo "postgres-ha: stopping the old primary (node $old) before promoting"
    stop_server "$old"
  fi
  as_server "$pg_bin/pg_ctl" promote -D "$(data_dir "$new")" -w -t "$deadline_s" >/dev/null ||
    die "pg_ctl promote of node $new failed; log: $(log_file "$new")"
  set_primary "$new"
  touch "$base/node$old.stale"
  # No standby is left to confirm commits.
  set_sync_names "$new" ""
  local deadline=$((SECONDS + deadline_s))
  until [[ "$(psql_on "$new" -tAc 'SELECT pg_is_in_recovery()')" == f ]]; do
    ((SECONDS >= deadline)) && die "node $new still in recovery ${deadline_s}s after promote"
    sleep 0.1
  done
  echo "postgres-ha: node $new (127.0.0.1:$(port_of "$new")) is the primary now; node $old must rejoin"
}

# A standby lost while synchronous_standby_names still names it would make
# every commit wait forever; an HA manager clears the setting first, and so
# does this.
cmd_stop_standby() {
  local up down
  up=$(primary)
  down=$(other "$up")
  running "$up" && set_sync_names "$up" ""
  stop_server "$down"
  echo "postgres-ha: standby node $down stopped; the primary (node $up) commits alone"
}

cmd_rejoin() {
  local up down
  up=$(primary)
  down=$(other "$up")
  running "$up" || die "the primary (node $up) is not running"
  build_standby "$down"
  make_synchronous "$up" "$down"
  echo "postgres-ha: node $down rejoined as the standby of node $up"
}

# Stops the primary's WAL sender for the standby, so the WAL stays on the
# primary (a receiver held instead would still find it in its socket buffer).
cmd_lag_standby() {
  local seconds=$1 up down pid
  [[ "$seconds" =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "lag-standby takes a number of seconds"
  up=$(primary)
  down=$(other "$up")
  pid=$(psql_on "$up" -tAc "SELECT pid FROM pg_stat_replication WHERE application_name = '$(app_name "$down")'") || true
  [[ "$pid" =~ ^[0-9]+$ ]] || die "no WAL sender for the standby (node $down) on the primary (node $up)"
  kill -STOP "$pid"
  sleep "$seconds"
  kill -CONT "$pid" 2>/dev/null || true
  echo "postgres-ha: WAL sender for node $down (pid $pid) held for ${seconds}s"
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  kill-primary) cmd_kill_primary ;;
  promote) cmd_promote ;;
  rejoin) cmd_rejoin ;;
  stop-standby) cmd_stop_standby ;;
  primary-port) port_of "$(primary)" ;;
  lag-standby) cmd_lag_standby "${2:-}" ;;
  *)
    echo "usage: $0 start|stop|status|kill-primary|promote|rejoin|stop-standby|primary-port|lag-standby SECONDS" >&2
    echo "  (env: DC_PG_HA_PORTS, DC_PG_HA_SYNC, DC_SERVICES_DIR, DC_PG_BIN)" >&2
    exit 2
    ;;
esac
