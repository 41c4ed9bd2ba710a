#!/usr/bin/env bash
# The narrated demo behind `make run`: one dc-manager on the embedded default
# (SQLite) with a private RabbitMQ node and dc-api, driven by dcctl through the
# whole command set, by curl and by dcctl's remote mode through dc-api, then
# through a broker outage (fallback to polling the database) and back. It
# ends with everything running: the dashboard's URL and a viewer and an
# operator token are printed, and Ctrl-C stops it all cleanly.
#
# Everything lives under $BUILD/demo (wiped at the start of each run); the
# broker and dc-api listen on 127.0.0.1 only. Whatever happens (a failed
# step, Ctrl-C), the trap stops dc-api, the manager and the broker.
# Exit status: 0 when every step did what it should (and, at the end, on
# Ctrl-C), 1 otherwise (130 on Ctrl-C before the end).
#
# Environment (optional):
#   BUILD              build directory holding apps/dc-manager, apps/dcctl and apps/dc-api (default build)
#   DEMO_RABBIT_PORT   AMQP port of the demo's broker (default 56750; the test broker uses 56720);
#                      the manager's /metrics listens on the next port, dc-api on the one after
#   DEMO_WAIT          1 (default): keep everything running at the end until Ctrl-C;
#                      0: shut down at once and exit (tests)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
build=${BUILD:-build}
[[ $build == /* ]] || build=$root/$build
readonly root build
readonly demo=$build/demo
readonly port=${DEMO_RABBIT_PORT:-56750}
readonly metrics_port=$((port + 1))
readonly api_port=$((port + 2))
readonly wait_at_end=${DEMO_WAIT:-1}
readonly manager_bin=$build/apps/dc-manager
readonly dcctl_bin=$build/apps/dcctl
readonly api_bin=$build/apps/dc-api
readonly collector=$root/examples/collector
readonly app=collector manager=manager_1

for f in "$manager_bin" "$dcctl_bin" "$api_bin"; do
  [[ -x $f ]] || {
    echo "demo: $f is missing; run 'make build' (or 'make run', which builds first)" >&2
    exit 1
  }
done
[[ -x $collector ]] || {
  echo "demo: the example app $collector is missing or not executable" >&2
  exit 1
}
for tool in python3 curl; do
  command -v "$tool" >/dev/null || {
    echo "demo: $tool is needed (to read dcctl's JSON and /metrics); run scripts/install-deps.sh" >&2
    exit 1
  }
done

# The demo's configuration comes from its own file only: configuration
# variables of the caller's environment (DC_RABBIT_HOST, DC_DB_URL, ...) would
# override it, so they are dropped.
while IFS= read -r var; do unset "$var"; done < <(compgen -e | grep '^DC_' || true)
export DC_CONFIG=$demo/dc.toml

# --- output helpers ---------------------------------------------------------

if [[ -t 1 ]]; then
  bold=$'\e[1m' dim=$'\e[2m' red=$'\e[31m' green=$'\e[32m' reset=$'\e[0m'
else
  bold='' dim='' red='' green='' reset=''
fi
step_no=0
step() {
  step_no=$((step_no + 1))
  printf '\n%s%d. %s%s\n' "$bold" "$step_no" "$*" "$reset"
}
say() { printf '%s\n' "$*"; }
good() { printf '%s✓ %s%s\n' "$green" "$*" "$reset"; }
fail() {
  printf '%sdemo FAILED at step %d: %s%s\n' "$red" "$step_no" "$*" "$reset" >&2
  exit 1
}
dcctl() { "$dcctl_bin" "$@"; }
# The arguments as a shell would need them typed, each after a space.
shell_words() {
  local a
  for a in "$@"; do
    if [[ $a =~ ^[A-Za-z0-9_./:=,@+-]+$ ]]; then
      printf ' %s' "$a"
    else
      printf " '%s'" "${a//\'/\'\\\'\'}"
    fi
  done
}
# Prints `$ dcctl ARGS` as typed, runs it, prints its output indented and
# returns its exit status.
run_dcctl() {
  printf '%s$ dcctl%s%s\n' "$dim" "$(shell_words "$@")" "$reset"
  local rc=0 out
  out=$("$dcctl_bin" "$@" 2>&1) || rc=$?
  [[ -z $out ]] || printf '%s\n' "$out" | sed 's/^/  /'
  return "$rc"
}
# Reads one JSON document on stdin and prints the value of a Python
# expression over it (bound to `d`); prints nothing when the expression fails.
json_get() {
  python3 -c '
import json, sys
d = json.load(sys.stdin)
try:
    v = eval(sys.argv[1], {}, {"d": d})
except (KeyError, IndexError, TypeError, StopIteration):
    sys.exit(0)
print(v if not isinstance(v, bool) else str(v).lower())' "$1"
}
app_field() { dcctl apps show "$app" --json | json_get "d.get('$1')"; }
manager_mode() {
  dcctl managers --json | json_get "next(m['mode'] for m in d if m['name'] == '$manager')"
}
now_ms() { date +%s%3N; }

# Runs an issuing dcctl command with --wait; fails the demo unless it exits 0
# (EXECUTED).
issue() {
  local rc=0
  run_dcctl "$@" || rc=$?
  ((rc == 0)) || fail "'dcctl $*' exited $rc (0 = EXECUTED, 1 = NOT_EXECUTED, 3 = timed out)"
}
expect_app() {
  local field=$1 want=$2 got
  got=$(app_field "$field")
  [[ $got == "$want" ]] || fail "app $app: $field is '$got', expected '$want'"
}

# --- services and clean-up --------------------------------------------------

broker() { DC_SERVICES_DIR=$demo/services DC_RABBIT_PORT=$port "$root/scripts/rabbitmq-local.sh" "$@"; }
manager_pid=''
api_pid=''
broker_started=0
manager_started=0

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [[ -n $api_pid ]] && kill -0 "$api_pid" 2>/dev/null; then
    kill -TERM "$api_pid" 2>/dev/null || true
    local api_deadline=$((SECONDS + 10))
    while kill -0 "$api_pid" 2>/dev/null && ((SECONDS < api_deadline)); do sleep 0.1; done
    kill -KILL "$api_pid" 2>/dev/null || true
  fi
  if [[ -n $manager_pid ]] && kill -0 "$manager_pid" 2>/dev/null; then
    echo "demo: stopping dc-manager (pid $manager_pid)" >&2
    kill -TERM "$manager_pid" 2>/dev/null || true
    local deadline=$((SECONDS + 20))
    while kill -0 "$manager_pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.2; done
    if kill -0 "$manager_pid" 2>/dev/null; then
      echo "demo: dc-manager did not stop in 20 s; killing it and its app" >&2
      kill -KILL "$manager_pid" 2>/dev/null || true
      # The app runs in its own process group (id = its pid): end it too.
      local app_pid
      app_pid=$(app_field pid 2>/dev/null || true)
      if [[ $app_pid =~ ^[0-9]+$ ]]; then kill -KILL -- "-$app_pid" 2>/dev/null || true; fi
    fi
  fi
  # Only a node this run started: `stop` on a port someone else's node uses
  # would end that node's epmd.
  ((broker_started == 0)) || broker stop >/dev/null 2>&1 || true
  if ((rc == 130 || rc == 143)); then
    echo "demo: interrupted; manager and broker stopped" >&2
  elif ((rc != 0 && manager_started == 1)) && [[ -s $demo/manager.log ]]; then
    echo "demo: last lines of $demo/manager.log:" >&2
    tail -n 15 "$demo/manager.log" | sed 's/^/  /' >&2
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Waits up to $1 seconds for manager_mode to become $2.
wait_for_mode() {
  local limit=$1 want=$2 deadline
  deadline=$(($(now_ms) + limit * 1000))
  while [[ $(manager_mode) != "$want" ]]; do
    kill -0 "$manager_pid" 2>/dev/null || fail "dc-manager exited (see $demo/manager.log)"
    (($(now_ms) < deadline)) || return 1
    sleep 0.25
  done
}

# --- the demo -----------------------------------------------------------------

started_ms=$(now_ms)
printf '%sdc demo%s: one manager, SQLite, a private RabbitMQ on 127.0.0.1:%s; files in %s\n' \
  "$bold" "$reset" "$port" "${demo#"$root"/}"

# A node left over from an interrupted run would keep old queue contents.
if broker status >/dev/null 2>&1; then broker stop >/dev/null; fi
for p in "$port" "$metrics_port" "$api_port"; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
    echo "demo: port $p is taken by another process; choose free ones with DEMO_RABBIT_PORT=..." >&2
    exit 1
  fi
done
rm -rf "$demo"
mkdir -p "$demo"
cat >"$DC_CONFIG" <<EOF
# dc-manager and dcctl both read this file (DC_CONFIG points at it).
rabbit_host = "127.0.0.1"
rabbit_port = $port
rabbit_queue = "$manager"
db_url = "sqlite://$demo/dc.sqlite3"
log_dir = "$demo/logs"
poll_interval = 0.5
stop_timeout = 5
metrics_listen = "127.0.0.1:$metrics_port"
# dc-api (SPEC §8): the HTTP API and the dashboard.
api_listen = "127.0.0.1:$api_port"
api_tokens_file = "$demo/api-tokens"
EOF

step "Start a private RabbitMQ node"
broker_started=1
broker start | grep -v ' source ' | sed 's/^/  /'

step "Create the database"
run_dcctl db init || fail "dcctl db init failed"

step "Register the example app '$app' for manager '$manager'"
run_dcctl apps add "$app" --manager "$manager" --exec "[\"$collector\"]" || fail "dcctl apps add failed"
run_dcctl apps list

step "Start dc-manager in the background"
"$manager_bin" >"$demo/manager.log" 2>&1 &
manager_pid=$! manager_started=1
say "  dc-manager pid $manager_pid, log ${demo#"$root"/}/manager.log"
wait_for_mode 20 broker || fail "dc-manager did not reach broker mode within 20 s"
run_dcctl managers

step "Start dc-api (the HTTP API and dashboard) with two tokens"
printf '%s$ dc-api token add demo-viewer --role viewer%s\n' "$dim" "$reset"
viewer_token=$("$api_bin" token add demo-viewer --role viewer --quiet) || fail "dc-api token add failed"
printf '%s$ dc-api token add demo-operator --role operator%s\n' "$dim" "$reset"
operator_token=$("$api_bin" token add demo-operator --role operator --quiet) || fail "dc-api token add failed"
printf '%s\n' "$operator_token" >"$demo/operator.token"
chmod 600 "$demo/operator.token"
say "  the tokens file holds only their SHA-256 hashes:"
sed 's/^/    /' "$demo/api-tokens"
"$api_bin" >"$demo/api.log" 2>&1 &
api_pid=$!
api_url=http://127.0.0.1:$api_port
deadline=$((SECONDS + 20))
until curl -fsS "$api_url/healthz" >/dev/null 2>&1; do
  kill -0 "$api_pid" 2>/dev/null || fail "dc-api exited (see $demo/api.log)"
  ((SECONDS < deadline)) || fail "dc-api did not answer within 20 s"
  sleep 0.2
done
say "  dc-api pid $api_pid on $api_url, log ${demo#"$root"/}/api.log"

step "START with args; they reach the app as DC_ARGS"
issue start "$app" --args '{"company_id":"123456","monitoring":true}' --wait
expect_app status RUNNING
run_dcctl apps list
sleep 1.5
say "  the app's log (${demo#"$root"/}/logs/$app.log):"
head -n 3 "$demo/logs/$app.log" | sed 's/^/    /'
grep -q '"company_id":"123456"' "$demo/logs/$app.log" || fail "the app's log does not show the args"
good "the app received DC_ARGS"

step "RESTART: stop, then start again (new pid)"
old_pid=$(app_field pid)
issue restart "$app" --wait
expect_app status RUNNING
new_pid=$(app_field pid)
[[ $new_pid != "$old_pid" ]] || fail "pid unchanged after RESTART ($old_pid)"
run_dcctl status "$app" || fail "dcctl status $app: not RUNNING after RESTART"

step "DISABLE: the schedule will not start it (an explicit START still would)"
issue disable "$app" --wait
expect_app disable true
run_dcctl apps list

step "ENABLE"
issue enable "$app" --wait
expect_app disable false
run_dcctl apps list

step "STOP"
issue stop "$app" --wait
expect_app status STOPPED
run_dcctl apps list

step "START through dc-api, as any HTTP client would (waits up to 10 s for the outcome)"
printf '%s$ curl -H "Authorization: Bearer $T" -d %s %s%s\n' "$dim" \
  "'{\"app_id\":\"$app\",\"command\":\"START\",\"args\":{\"company_id\":\"123456\"}}'" \
  "'$api_url/api/v1/commands?wait=10'" "$reset"
answer=$(curl -sS -H "Authorization: Bearer $operator_token" \
  -d "{\"app_id\":\"$app\",\"command\":\"START\",\"args\":{\"company_id\":\"123456\"}}" \
  "$api_url/api/v1/commands?wait=10") || fail "POST /api/v1/commands failed"
python3 -c '
import json, sys
d = json.load(sys.stdin)
print("  " + json.dumps({k: d.get(k) for k in ("command_id", "command_name", "issued_by", "published", "done")}))
print("  outcome:", d["outcomes"][0]["flag_name"], "-", d["outcomes"][0]["result"])' <<<"$answer" ||
  fail "the API answered: $answer"
[[ $(json_get "d['outcomes'][0]['flag_name']" <<<"$answer") == EXECUTED ]] || fail "the API's START was not EXECUTED: $answer"
[[ $(json_get "d['issued_by']" <<<"$answer") == demo-operator ]] || fail "issued_by is not the token's name"
expect_app status RUNNING
good "EXECUTED, issued_by = the token's name (demo-operator)"

step "STOP with dcctl's remote mode: through dc-api, no database or broker credentials"
issue stop "$app" --wait --api-url "$api_url" --api-token-file "$demo/operator.token"
expect_app status STOPPED

step "Kill the broker: the manager falls back to polling the database"
broker kill | sed 's/^/  /'
wait_for_mode 30 fallback || fail "the manager did not switch to fallback within 30 s"
run_dcctl managers

step "START while the broker is down: stored, then carried out through the database"
issue start "$app" --wait
expect_app status RUNNING
poll_cmd=$(dcctl commands list --app "$app" --limit 1 --json | json_get "d[0]['cmd_id']")
run_dcctl commands show "$poll_cmd"
path=$(dcctl commands show "$poll_cmd" --json | json_get "d['rows'][0]['path']")
[[ $path == poll ]] || fail "command $poll_cmd went by path '$path', expected 'poll'"
good "delivered by path 'poll' (the database), not the broker"

step "Restart the broker: the manager reconnects by itself"
broker start | grep -v ' source ' | sed 's/^/  /'
back_from=$(now_ms)
wait_for_mode 40 broker || fail "the manager was not back in broker mode within 40 s"
back_ms=$(($(now_ms) - back_from))
run_dcctl managers
good "back in broker mode $((back_ms / 1000)).$(printf '%03d' $((back_ms % 1000)) | cut -c1) s after the broker came up"

step "STOP, through the broker again"
issue stop "$app" --wait
expect_app status STOPPED
stop_cmd=$(dcctl commands list --app "$app" --limit 1 --json | json_get "d[0]['cmd_id']")
path=$(dcctl commands show "$stop_cmd" --json | json_get "d['rows'][0]['path']")
[[ $path == broker ]] || fail "command $stop_cmd went by path '$path', expected 'broker'"
say "  the command log, newest first (PATH: who delivered it):"
dcctl commands list --app "$app" | sed 's/^/    /'

step "Metrics and health (metrics_listen = 127.0.0.1:$metrics_port)"
printf '%s$ curl -s http://127.0.0.1:%s/healthz%s\n' "$dim" "$metrics_port" "$reset"
curl -fsS "http://127.0.0.1:$metrics_port/healthz" | sed 's/^/  /' || fail "/healthz did not answer 200"
printf '%s$ curl -s http://127.0.0.1:%s/metrics | grep ...%s\n' "$dim" "$metrics_port" "$reset"
metrics=$(curl -fsS "http://127.0.0.1:$metrics_port/metrics") || fail "/metrics did not answer 200"
grep -E '^dc_(commands_total|mode|broker_reconnects_total)' <<<"$metrics" | sed 's/^/  /'
grep -qx 'dc_commands_total{outcome="executed",path="poll"} 1' <<<"$metrics" ||
  fail "/metrics does not count the one command carried out through the database"
grep -qx 'dc_broker_reconnects_total 1' <<<"$metrics" || fail "/metrics does not count the one reconnection"

if ((wait_at_end)); then
  step "Everything is running: the dashboard"
  say "  dashboard:       ${bold}$api_url/${reset}"
  say "  viewer token:    $viewer_token"
  say "  operator token:  $operator_token"
  say "  (sign in with a token; START/STOP $app there or with curl as above, kill the broker with"
  say "   'DC_SERVICES_DIR=${demo#"$root"/}/services DC_RABBIT_PORT=$port scripts/rabbitmq-local.sh kill'"
  say "   and watch the manager turn to fallback)"
  say "  Press Ctrl-C to stop dc-api, the manager and the broker."
  stop_requested=0
  trap 'stop_requested=1' INT TERM
  while ((stop_requested == 0)); do
    kill -0 "$manager_pid" 2>/dev/null || fail "dc-manager exited (see $demo/manager.log)"
    kill -0 "$api_pid" 2>/dev/null || fail "dc-api exited (see $demo/api.log)"
    sleep 0.5 &
    wait $! 2>/dev/null || true
  done
  trap 'exit 130' INT
  trap 'exit 143' TERM
  printf '\n'
fi

step "Shut down: SIGTERM to dc-api and dc-manager, then stop the broker"
kill -TERM "$api_pid"
deadline=$((SECONDS + 10))
while kill -0 "$api_pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.1; done
api_rc=0
wait "$api_pid" || api_rc=$?
api_pid=''
((api_rc == 0)) || fail "dc-api exited with status $api_rc, expected 0"
say "  dc-api exited with status 0"
kill -TERM "$manager_pid"
deadline=$((SECONDS + 30))
while kill -0 "$manager_pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.2; done
kill -0 "$manager_pid" 2>/dev/null && fail "dc-manager did not exit within 30 s of SIGTERM"
manager_rc=0
wait "$manager_pid" || manager_rc=$?
manager_pid=''
((manager_rc == 0)) || fail "dc-manager exited with status $manager_rc, expected 0"
say "  dc-manager exited with status 0"
run_dcctl managers
broker stop | sed 's/^/  /'

say ""
say "  from the manager's log:"
grep -E 'INFO (mode |manager .* stopped$)' "$demo/manager.log" | cut -c1-140 | sed 's/^/    /'

elapsed_ms=$(($(now_ms) - started_ms))
printf '\n%sdemo passed%s in %d s; database, logs and config are in %s\n' "$green" "$reset" \
  $((elapsed_ms / 1000)) "${demo#"$root"/}"
