#!/usr/bin/env bash
# A private three-node RabbitMQ cluster on loopback, for quorum queues and
# the cluster fault scenarios (docs/OPERATIONS.md, "Across machines").
#
#   scripts/rabbitmq-cluster.sh start       start every node (idempotent), join them into one cluster,
#                                           return once all three report it healthy
#   scripts/rabbitmq-cluster.sh stop        stop every node of this cluster (and its epmd)
#   scripts/rabbitmq-cluster.sh status      one line per node; exit 0 when the cluster is healthy
#   scripts/rabbitmq-cluster.sh kill N      SIGKILL node N's VM (N = 1, 2 or 3); its data stays
#   scripts/rabbitmq-cluster.sh start N     start node N again; returns once the cluster is healthy
#   scripts/rabbitmq-cluster.sh stop N      graceful stop of node N, once its quorum queues can lose it
#   scripts/rabbitmq-cluster.sh restart N   stop N + start N: one step of a rolling restart
#   scripts/rabbitmq-cluster.sh freeze N    SIGSTOP node N's VM (a hung node: sockets stay open)
#   scripts/rabbitmq-cluster.sh thaw N      SIGCONT node N's VM
#   scripts/rabbitmq-cluster.sh heal N      after a thaw: wait until the cluster is healthy; if it
#                                           records a partition instead, restart node N
#   scripts/rabbitmq-cluster.sh pid N       print node N's VM pid
#   scripts/rabbitmq-cluster.sh ctl N ARGS  rabbitmqctl ARGS against node N
#
# Like scripts/rabbitmq-local.sh, the nodes run as the calling user straight
# from /usr/lib/rabbitmq/bin, listen on 127.0.0.1 only, share one private
# epmd and Erlang cookie, and keep their state under
# $DC_SERVICES_DIR/rabbitmq-cluster-<port1>/; a system broker is never touched.
# The settings are the ones RabbitMQ's clustering and partition guides ask
# for on three nodes: cluster_partition_handling = pause_minority (a node
# cut off from the other two pauses instead of serving a split brain) and a
# short net_ticktime, so a hung node is declared down in seconds.
#
# Environment (all optional):
#   DC_CLUSTER_RABBIT_PORTS  AMQP ports of nodes 1,2,3       (default 56781,56782,56783)
#   DC_CLUSTER_DIST_PORTS    Erlang distribution ports        (default: each AMQP port - 30000)
#   DC_CLUSTER_EPMD_PORT     the cluster's own epmd           (default: first AMQP port - 29000)
#   DC_CLUSTER_NET_TICKTIME  seconds; a node silent for about this long is down (default 15)
#   DC_SERVICES_DIR          state root                       (default <repo>/build/services)
#
# `start` writes $DC_SERVICES_DIR/rabbitmq-cluster.env exporting DC_RABBIT_HOST
# (the three 127.0.0.1:PORT, comma-separated), DC_RABBIT_QUEUE_TYPE=quorum,
# DC_TEST_RABBITMQCTL (node 1) and DC_CLUSTER_RABBITMQCTL_1..3.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly repo_root
# shellcheck source=scripts/lib/rabbitmq-node.sh
source "${repo_root}/scripts/lib/rabbitmq-node.sh"
readonly services_dir="${DC_SERVICES_DIR:-${repo_root}/build/services}"
IFS=, read -r -a ports <<<"${DC_CLUSTER_RABBIT_PORTS:-56781,56782,56783}"
((${#ports[@]} == 3)) || {
  echo "rabbitmq-cluster: DC_CLUSTER_RABBIT_PORTS must list three ports, got '${DC_CLUSTER_RABBIT_PORTS:-}'" >&2
  exit 2
}
for p in "${ports[@]}"; do
  [[ "$p" =~ ^[0-9]+$ ]] || {
    echo "rabbitmq-cluster: '$p' in DC_CLUSTER_RABBIT_PORTS is not a port number" >&2
    exit 2
  }
done
# Below the kernel's ephemeral range (32768-60999), as in rabbitmq-local.sh:
# no outgoing connection can hold a distribution or epmd port.
derive_port() { if (($1 >= 31024 && $1 < 61768)); then echo $(($1 - $2)); else echo $(($1 + 1000 + $2 / 1000)); fi; }
if [[ -n "${DC_CLUSTER_DIST_PORTS:-}" ]]; then
  IFS=, read -r -a dist_ports <<<"$DC_CLUSTER_DIST_PORTS"
else
  dist_ports=("$(derive_port "${ports[0]}" 30000)" "$(derive_port "${ports[1]}" 30000)" "$(derive_port "${ports[2]}" 30000)")
fi
readonly epmd_port="${DC_CLUSTER_EPMD_PORT:-$(derive_port "${ports[0]}" 29000)}"
readonly net_ticktime="${DC_CLUSTER_NET_TICKTIME:-15}"
readonly base="${services_dir}/rabbitmq-cluster-${ports[0]}"
readonly home="${base}/home" # the cluster's Erlang cookie lives here
readonly env_file="${services_dir}/rabbitmq-cluster.env"
readonly start_deadline_s=120
declare -a wrappers=() # pid of each rabbitmq-server started by this call

die() {
  echo "rabbitmq-cluster: $*" >&2
  exit 1
}

check_n() { [[ "${1:-}" =~ ^[123]$ ]] || die "node number must be 1, 2 or 3, got '${1:-}'"; }
node_name() { echo "dc-cluster-${ports[0]}-$1@localhost"; }
node_dir() { echo "${base}/node$1"; }
amqp_port() { echo "${ports[$(($1 - 1))]}"; }
pid_file() { echo "$(node_dir "$1")/rabbitmq.pid"; }
log_file() { echo "$(node_dir "$1")/log/console.log"; }

port_open() { rabbit_port_open "$1"; }
node_pid() { rabbit_pid "$(pid_file "$1")"; }

# T (stopped) in /proc/PID/stat: frozen by freeze N.
node_frozen() {
  local pid
  pid=$(node_pid "$1") || return 1
  [[ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" == T ]]
}

ctl() {
  local n=$1
  shift
  timeout 60 env HOME="$home" ERL_EPMD_PORT="$epmd_port" /usr/lib/rabbitmq/bin/rabbitmqctl -n "$(node_name "$n")" "$@"
}
upgrade_ctl() {
  local n=$1
  shift
  timeout 300 env HOME="$home" ERL_EPMD_PORT="$epmd_port" /usr/lib/rabbitmq/bin/rabbitmq-upgrade -n "$(node_name "$n")" "$@"
}

write_config() {
  local n=$1 dir
  dir=$(node_dir "$n")
  rabbit_prepare_dir "$dir" "$home"
  {
    echo "# generated by scripts/rabbitmq-cluster.sh; rewritten on every start"
    rabbit_base_config "$(amqp_port "$n")"
    echo "cluster_partition_handling = pause_minority"
  } >"${dir}/rabbitmq.conf"
  echo "[{kernel, [{net_ticktime, ${net_ticktime}}]}]." >"${dir}/advanced.config"
}

start_epmd() { rabbit_start_epmd "$epmd_port" || die "epmd did not come up on 127.0.0.1:${epmd_port}"; }

# Starts node N in the background; does not wait.
launch_node() {
  local n=$1
  write_config "$n"
  echo "rabbitmq-cluster: starting $(node_name "$n") (AMQP 127.0.0.1:$(amqp_port "$n"), log $(log_file "$n"))"
  rabbit_launch "$(node_name "$n")" "$(amqp_port "$n")" "${dist_ports[$((n - 1))]}" "$epmd_port" "$home" \
    "$(node_dir "$n")" "$(pid_file "$n")" "$(log_file "$n")"
  wrappers[n]=$rabbit_launched
}

# Waits until node N accepts AMQP. Returns 1 when the node exited.
wait_amqp() {
  local n=$1 deadline=$((SECONDS + start_deadline_s))
  until node_pid "$n" >/dev/null && port_open "$(amqp_port "$n")"; do
    local wrapper="${wrappers[n]:-}"
    if ! node_pid "$n" >/dev/null && { [[ -z "$wrapper" ]] || ! kill -0 "$wrapper" 2>/dev/null; }; then return 1; fi
    if ((SECONDS >= deadline)); then
      tail -n 30 "$(log_file "$n")" >&2 || true
      die "node $(node_name "$n") not accepting AMQP on 127.0.0.1:$(amqp_port "$n") after ${start_deadline_s}s"
    fi
    sleep 0.5
  done
}

# One line per node, "N STATE", as the cluster sees it, from a single
# rabbitmqctl call (each call starts an Erlang VM: seconds on a busy
# machine). STATE: healthy (its broker runs, sees all three nodes running
# and no partition), alone (not yet in node 1's cluster), paused (VM up,
# broker not running, e.g. pause_minority), partial (sees fewer nodes),
# partitioned, or down (unreachable). Asked on the first node that is up.
cluster_view() {
  local n asker=""
  for n in 1 2 3; do
    if node_pid "$n" >/dev/null && ! node_frozen "$n"; then
      asker=$n
      break
    fi
  done
  [[ -n "$asker" ]] || return 1
  local all
  all="['$(node_name 1)','$(node_name 2)','$(node_name 3)']"
  ctl "$asker" eval "
    Ns = ${all},
    lists:foreach(fun({I, N}) ->
      Members = rpc:call(N, rabbit_mnesia, cluster_nodes, [all], 5000),
      Running = rpc:call(N, rabbit_nodes, all_running, [], 5000),
      Parts = rpc:call(N, rabbit_node_monitor, partitions, [], 5000),
      State = if
        not is_list(Members) -> down;
        not is_list(Running) -> paused;
        Parts =/= [] -> partitioned;
        true -> case lists:member(hd(Ns), Members) of
                  false -> alone;
                  true -> case lists:all(fun(M) -> lists:member(M, Running) end, Ns) of
                            true -> healthy;
                            false -> partial
                          end
                end
      end,
      io:format(\"~b ~s~n\", [I, State])
    end, lists:zip([1, 2, 3], Ns)), ok." 2>/dev/null | grep -E '^[123] [a-z]+$'
}

# healthy [VIEW]: every node up, accepting AMQP, and healthy in VIEW
# (cluster_view's output; asked afresh when not given).
healthy() {
  local n view="${1:-}"
  for n in 1 2 3; do
    node_pid "$n" >/dev/null && ! node_frozen "$n" && port_open "$(amqp_port "$n")" || return 1
  done
  [[ -n "$view" ]] || view=$(cluster_view) || return 1
  [[ "$(grep -c ' healthy$' <<<"$view")" == 3 ]]
}

wait_healthy() {
  local deadline=$((SECONDS + start_deadline_s))
  until healthy; do
    if ((SECONDS >= deadline)); then
      status_lines >&2
      die "the cluster is not healthy after ${start_deadline_s}s (logs under ${base}/node*/log)"
    fi
    sleep 1
  done
}

# Nodes 2 and 3 join node 1's cluster unless they are members already.
join_if_needed() {
  local view n
  view=$(cluster_view) || die "cannot ask the nodes about the cluster"
  for n in 2 3; do
    grep -qx "$n alone" <<<"$view" || continue
    echo "rabbitmq-cluster: $(node_name "$n") joins $(node_name 1)"
    ctl "$n" stop_app >/dev/null
    ctl "$n" reset >/dev/null 2>&1
    ctl "$n" join_cluster "$(node_name 1)" >/dev/null 2>&1
    ctl "$n" start_app >/dev/null
  done
}

write_env() {
  local hosts="127.0.0.1:${ports[0]},127.0.0.1:${ports[1]},127.0.0.1:${ports[2]}"
  local ctl_base="env HOME=${home} ERL_EPMD_PORT=${epmd_port} /usr/lib/rabbitmq/bin/rabbitmqctl -n"
  local tmp="${env_file}.tmp.$$"
  {
    echo "# generated by scripts/rabbitmq-cluster.sh start"
    echo "export DC_RABBIT_HOST=${hosts}"
    echo "export DC_RABBIT_QUEUE_TYPE=quorum"
    echo "export DC_TEST_RABBITMQCTL=\"${ctl_base} $(node_name 1)\""
    local n
    for n in 1 2 3; do echo "export DC_CLUSTER_RABBITMQCTL_${n}=\"${ctl_base} $(node_name "$n")\""; done
    echo "export DC_CLUSTER_RABBIT_PORTS=${ports[0]},${ports[1]},${ports[2]}"
  } >"$tmp"
  mv "$tmp" "$env_file"
}

start_all() {
  mkdir -p "$services_dir" "$base"
  local n
  for n in 1 2 3; do
    if ! node_pid "$n" >/dev/null && port_open "$(amqp_port "$n")"; then
      die "port $(amqp_port "$n") is taken by another process; choose others with DC_CLUSTER_RABBIT_PORTS"
    fi
  done
  start_epmd
  # A node of an existing cluster waits for its peers while it boots, so the
  # nodes start together; a fresh node 2 or 3 joins node 1 afterwards.
  for n in 1 2 3; do
    if node_frozen "$n"; then kill -CONT "$(node_pid "$n")"; fi
    node_pid "$n" >/dev/null || launch_node "$n"
  done
  for n in 1 2 3; do wait_amqp "$n" || die "node $(node_name "$n") exited during start-up; log: $(log_file "$n")"; done
  join_if_needed
  wait_healthy
  write_env
  echo "rabbitmq-cluster: 3 nodes running and clustered, AMQP on 127.0.0.1:${ports[0]},${ports[1]},${ports[2]}"
  echo "rabbitmq-cluster: source ${env_file}"
}

start_one() {
  local n=$1
  start_epmd
  if node_frozen "$n"; then kill -CONT "$(node_pid "$n")"; fi
  if ! node_pid "$n" >/dev/null; then
    port_open "$(amqp_port "$n")" && die "port $(amqp_port "$n") is taken by another process"
    launch_node "$n"
  fi
  wait_amqp "$n" || die "node $(node_name "$n") exited during start-up; log: $(log_file "$n")"
  wait_healthy
  echo "rabbitmq-cluster: $(node_name "$n") back in the cluster (pid $(node_pid "$n"))"
}

# Graceful stop of node N, falling back to SIGKILL after 30 s.
stop_node() {
  local n=$1 pid
  pid=$(node_pid "$n") || return 0
  if node_frozen "$n"; then kill -CONT "$pid"; fi
  ctl "$n" stop >/dev/null 2>&1 || true
  local deadline=$((SECONDS + 30))
  while kill -0 "$pid" 2>/dev/null; do
    if ((SECONDS >= deadline)); then
      echo "rabbitmq-cluster: $(node_name "$n") (pid ${pid}) did not stop, sending SIGKILL" >&2
      kill -KILL "$pid" 2>/dev/null || true
      break
    fi
    sleep 0.3
  done
  rm -f "$(pid_file "$n")"
}

# One node of a running cluster, the way RabbitMQ's rolling-upgrade guide
# says: only once every quorum queue it hosts has a quorum without it.
stop_one() {
  local n=$1
  node_pid "$n" >/dev/null || {
    echo "rabbitmq-cluster: $(node_name "$n") not running"
    return 0
  }
  upgrade_ctl "$n" await_online_quorum_plus_one -t 120 >/dev/null 2>&1 ||
    echo "rabbitmq-cluster: warning: quorum queues on $(node_name "$n") did not reach quorum + 1 in 120 s" >&2
  stop_node "$n"
  echo "rabbitmq-cluster: $(node_name "$n") stopped"
}

stop_all() {
  local n
  # Reverse order: node 1 stops last, so it is the one that boots first next time.
  for n in 3 2 1; do stop_node "$n"; done
  ERL_EPMD_PORT="$epmd_port" epmd -kill >/dev/null 2>&1 || true
  echo "rabbitmq-cluster: stopped"
}

kill_one() {
  local n=$1 pid
  pid=$(node_pid "$n") || die "$(node_name "$n") not running"
  kill -KILL "$pid"
  while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
  echo "rabbitmq-cluster: $(node_name "$n") (pid ${pid}) killed"
}

signal_one() {
  local n=$1 sig=$2 pid
  pid=$(node_pid "$n") || die "$(node_name "$n") not running"
  kill "-$sig" "$pid"
  echo "rabbitmq-cluster: $(node_name "$n") (pid ${pid}) SIG${sig}"
}

# A frozen node that wakes up did not see the others go down, so
# pause_minority does not pause it; the others did see it go, and the
# cluster records a partition that stays until a node restarts. RabbitMQ's
# partitions guide says to restart the nodes of the side trusted least: the
# node that was away.
heal_one() {
  local n=$1 view healthy_since="" deadline=$((SECONDS + 2 * net_ticktime + 60))
  # The woken node notices the partition only seconds later: the cluster
  # counts as healed once it has looked healthy for 10 s running.
  while ((SECONDS < deadline)); do
    view=$(cluster_view) || view=""
    if grep -q ' partitioned$' <<<"$view"; then
      echo "rabbitmq-cluster: a partition is recorded since $(node_name "$n") came back; restarting it"
      stop_node "$n"
      start_one "$n"
      return 0
    fi
    if healthy "$view"; then
      healthy_since=${healthy_since:-$SECONDS}
      if ((SECONDS - healthy_since >= 10)); then
        echo "rabbitmq-cluster: healthy"
        return 0
      fi
    else
      healthy_since=""
    fi
    sleep 1
  done
  wait_healthy
}

# status_lines [VIEW]
status_lines() {
  local n state view="${1:-}"
  [[ -n "$view" ]] || view=$(cluster_view) || view=""
  for n in 1 2 3; do
    if ! node_pid "$n" >/dev/null; then
      state="not running"
    elif node_frozen "$n"; then
      state="frozen (pid $(node_pid "$n"))"
    else
      state="$(awk -v n="$n" '$1 == n {print $2}' <<<"$view")"
      state="running (pid $(node_pid "$n")), ${state:-unknown}"
    fi
    echo "rabbitmq-cluster: node $n $(node_name "$n") AMQP 127.0.0.1:$(amqp_port "$n"): ${state}"
  done
}

usage() {
  echo "usage: $0 start|stop|status | start|stop|restart|kill|freeze|thaw|heal|pid N | ctl N ARGS..." >&2
  echo "  (env: DC_CLUSTER_RABBIT_PORTS, DC_CLUSTER_DIST_PORTS, DC_CLUSTER_EPMD_PORT, DC_CLUSTER_NET_TICKTIME, DC_SERVICES_DIR)" >&2
  exit 2
}

cmd="${1:-}"
n="${2:-}"
case "$cmd" in
  start)
    if [[ -z "$n" ]]; then start_all; else
      check_n "$n"
      start_one "$n"
    fi
    ;;
  stop)
    if [[ -z "$n" ]]; then stop_all; else
      check_n "$n"
      stop_one "$n"
    fi
    ;;
  restart)
    check_n "$n"
    stop_one "$n"
    start_one "$n"
    ;;
  status)
    view=$(cluster_view) || view=""
    status_lines "$view"
    healthy "$view"
    ;;
  kill)
    check_n "$n"
    kill_one "$n"
    ;;
  freeze)
    check_n "$n"
    signal_one "$n" STOP
    ;;
  thaw)
    check_n "$n"
    signal_one "$n" CONT
    ;;
  heal)
    check_n "$n"
    heal_one "$n"
    ;;
  pid)
    check_n "$n"
    node_pid "$n" || die "$(node_name "$n") not running"
    ;;
  ctl)
    check_n "$n"
    shift 2
    ctl "$n" "$@"
    ;;
  *) usage ;;
esac
