#!/usr/bin/env bash
# A private PostgreSQL 15 for the integration tests and local demos.
#
#   scripts/postgres-local.sh start    initialise (first time) and start; returns once it accepts connections
#   scripts/postgres-local.sh stop     stop this instance (and only this one)
#   scripts/postgres-local.sh status   exit 0 when this instance is running
#
# Environment:
#   DC_SERVICES_DIR   where service state lives (default <repo>/build/services)
#   DC_PG_PORT        TCP port on 127.0.0.1 (default 55432)
#   DC_PG_BIN         PostgreSQL binaries (default /usr/lib/postgresql/15/bin)
#
# The server listens on 127.0.0.1 only, keeps its unix socket inside its data
# area, trusts every local connection and runs with fsync off: it is a test
# fixture, never a place for real data. No system service is touched.
# `start` writes ${DC_SERVICES_DIR}/postgres.env exporting DC_TEST_PG_URL.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/lib/postgres-server.sh
source "$repo/scripts/lib/postgres-server.sh"
port=${DC_PG_PORT:-55432}
pg_bin=${DC_PG_BIN:-/usr/lib/postgresql/15/bin}
database=dc_test
env_file=$services_dir/postgres.env
start_deadline_s=30

die() {
  echo "postgres-local: $*" >&2
  exit 1
}

[[ -x "$pg_bin/postgres" ]] || die "no PostgreSQL binaries in $pg_bin: run scripts/install-deps.sh or set DC_PG_BIN"
[[ "$port" =~ ^[0-9]+$ ]] || die "DC_PG_PORT must be a port number, got '$port'"

# The data area must be reachable by the server user through every parent
# folder. When the services dir is not (e.g. a repo under a private home), the
# data goes to /tmp instead and we say so.
data_root=$services_dir/postgres
choose_data_root() {
  mkdir -p "$data_root"
  if [[ $(id -u) -eq 0 ]]; then chown "$server_user" "$data_root"; fi
  if ! as_server test -w "$data_root" 2>/dev/null; then
    local fallback=/tmp/dc-postgres-$port
    echo "postgres-local: $data_root is not writable by user $server_user; using $fallback instead"
    data_root=$fallback
    mkdir -p "$data_root"
    if [[ $(id -u) -eq 0 ]]; then chown "$server_user" "$data_root"; fi
    chmod 700 "$data_root"
  fi
}
# A previous start may have fallen back to /tmp; find the instance there too.
if [[ ! -d "$data_root/data" && -d "/tmp/dc-postgres-$port/data" ]]; then
  data_root=/tmp/dc-postgres-$port
fi
data_dir() { echo "$data_root/data"; }
socket_dir() { echo "$data_root/run"; }
log_file() { echo "$data_root/postgres.log"; }

is_running() {
  [[ -f "$(data_dir)/PG_VERSION" ]] && as_server "$pg_bin/pg_ctl" status -D "$(data_dir)" >/dev/null 2>&1
}

wait_ready() {
  local deadline=$((SECONDS + start_deadline_s))
  until "$pg_bin/pg_isready" -q -h 127.0.0.1 -p "$port" -d postgres -U postgres; do
    if ((SECONDS >= deadline)); then
      tail -n 20 "$(log_file)" >&2 || true
      die "server did not accept connections on 127.0.0.1:$port within ${start_deadline_s}s (log: $(log_file))"
    fi
    sleep 0.2
  done
}

psql_admin() { "$pg_bin/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres -d postgres "$@"; }

ensure_database() {
  local exists
  exists=$(psql_admin -tAc "SELECT 1 FROM pg_database WHERE datname = '$database'")
  if [[ "$exists" != "1" ]]; then
    psql_admin -c "CREATE DATABASE $database ENCODING 'UTF8' TEMPLATE template0"
  fi
}

write_env() {
  mkdir -p "$services_dir"
  local tmp=$env_file.tmp.$$
  cat >"$tmp" <<EOF
# Written by scripts/postgres-local.sh start; source it before running the tests.
export DC_TEST_PG_URL=postgresql://postgres@127.0.0.1:$port/$database
EOF
  mv "$tmp" "$env_file"
}

cmd_start() {
  choose_data_root
  if is_running; then
    ensure_database
    write_env
    echo "postgres-local: already running on 127.0.0.1:$port (data $(data_dir)); env in $env_file"
    return 0
  fi
  if [[ ! -f "$(data_dir)/PG_VERSION" ]]; then
    as_server mkdir -p "$(data_dir)"
    as_server chmod 700 "$(data_dir)"
    as_server "$pg_bin/initdb" -D "$(data_dir)" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 \
      >"$data_root/initdb.log" 2>&1 || die "initdb failed; see $data_root/initdb.log"
  fi
  as_server mkdir -p "$(socket_dir)"
  # Settings on the command line, not in postgresql.conf, so a changed
  # DC_PG_PORT takes effect on the next start.
  local options
  options="-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$(socket_dir)"
  options+=" -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
  as_server "$pg_bin/pg_ctl" start -D "$(data_dir)" -l "$(log_file)" -w -t "$start_deadline_s" -o "$options" \
    >/dev/null || {
    tail -n 20 "$(log_file)" >&2 || true
    die "pg_ctl start failed (is port $port taken? set DC_PG_PORT); log: $(log_file)"
  }
  wait_ready
  ensure_database
  write_env
  echo "postgres-local: listening on 127.0.0.1:$port, database $database (data $(data_dir)); env in $env_file"
}

cmd_stop() {
  if is_running; then
    as_server "$pg_bin/pg_ctl" stop -D "$(data_dir)" -m fast -w -t "$start_deadline_s" >/dev/null
    echo "postgres-local: stopped (data $(data_dir))"
  else
    echo "postgres-local: not running"
  fi
}

cmd_status() {
  if is_running; then
    echo "postgres-local: running on 127.0.0.1:$port (data $(data_dir))"
    return 0
  fi
  echo "postgres-local: not running"
  return 3
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  *)
    echo "usage: $0 start|stop|status" >&2
    exit 2
    ;;
esac
