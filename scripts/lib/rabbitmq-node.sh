# shellcheck shell=bash
# A private RabbitMQ node run as the calling user straight from
# /usr/lib/rabbitmq/bin (the /usr/sbin wrapper would switch to the rabbitmq
# user), on 127.0.0.1 only, with its own epmd port, Erlang cookie (HOME) and
# state directory. Sourced by scripts/rabbitmq-local.sh (one node) and
# scripts/rabbitmq-cluster.sh (three); defines functions only.

# rabbit_port_open PORT: something accepts TCP connections on 127.0.0.1:PORT.
rabbit_port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# rabbit_pid PIDFILE: prints the node's pid when it is alive.
rabbit_pid() {
  [[ -s "$1" ]] || return 1
  local r_pid
  r_pid=$(<"$1")
  [[ "$r_pid" =~ ^[0-9]+$ ]] && kill -0 "$r_pid" 2>/dev/null && echo "$r_pid"
}

# rabbit_prepare_dir DIR HOME: the state directory (mnesia, logs, no
# plugins) and the private HOME that holds the Erlang cookie.
rabbit_prepare_dir() {
  mkdir -p "$2" "$1/mnesia" "$1/log"
  chmod 700 "$2"
  echo "[]." >"$1/enabled_plugins"
  : >"$1/rabbitmq-env.conf"
}

# rabbit_base_config AMQP_PORT: the rabbitmq.conf lines every private node has.
rabbit_base_config() {
  echo "listeners.tcp.default = 127.0.0.1:$1"
  echo "loopback_users.guest = true"
  echo "disk_free_limit.absolute = 50MB"
  echo "log.file.level = info"
  echo "log.console = false"
}

# rabbit_start_epmd EPMD_PORT: epmd on its own port, started ahead of the
# node and waited for, so the node's distribution never races it. Returns 1
# when it does not come up within 15 s.
rabbit_start_epmd() {
  rabbit_port_open "$1" && return 0
  ERL_EPMD_ADDRESS=127.0.0.1 ERL_EPMD_PORT="$1" setsid epmd -daemon >/dev/null 2>&1 </dev/null || true
  local r_deadline=$((SECONDS + 15))
  until rabbit_port_open "$1"; do
    ((SECONDS >= r_deadline)) && return 1
    sleep 0.1
  done
}

# rabbit_launch NODE AMQP_PORT DIST_PORT EPMD_PORT HOME DIR PIDFILE LOG:
# starts the node in the background (its config in DIR) and sets
# rabbit_launched to the pid of its start script. setsid and redirected
# output: the node must not hold the caller's terminal or pipe open (a test
# runner waiting for EOF would hang).
rabbit_launch() {
  local r_node=$1 r_amqp=$2 r_dist=$3 r_epmd=$4 r_home=$5 r_dir=$6 r_pidfile=$7 r_log=$8
  setsid env \
    HOME="$r_home" \
    ERL_EPMD_PORT="$r_epmd" \
    ERL_EPMD_ADDRESS=127.0.0.1 \
    RABBITMQ_NODENAME="$r_node" \
    RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 \
    RABBITMQ_NODE_PORT="$r_amqp" \
    RABBITMQ_DIST_PORT="$r_dist" \
    RABBITMQ_CONF_ENV_FILE="$r_dir/rabbitmq-env.conf" \
    RABBITMQ_CONFIG_FILE="$r_dir/rabbitmq.conf" \
    RABBITMQ_ADVANCED_CONFIG_FILE="$r_dir/advanced.config" \
    RABBITMQ_ENABLED_PLUGINS_FILE="$r_dir/enabled_plugins" \
    RABBITMQ_MNESIA_BASE="$r_dir/mnesia" \
    RABBITMQ_LOG_BASE="$r_dir/log" \
    RABBITMQ_PID_FILE="$r_pidfile" \
    RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="+S 2:2 +sbwt none +sbwtdcpu none +sbwtdio none -kernel inet_dist_use_interface {127,0,0,1}" \
    /usr/lib/rabbitmq/bin/rabbitmq-server >"$r_log" 2>&1 </dev/null &
  # shellcheck disable=SC2034  # read by the sourcing script
  rabbit_launched=$!
}
