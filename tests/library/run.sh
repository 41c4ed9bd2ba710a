#!/usr/bin/env bash
# ctest library_install: the library as another project sees it. Installs
# dc's `dev` component (cmake --install) into a temporary prefix, builds
# tests/library/consumer against it twice, with find_package(dc) and with
# pkg-config, and runs each build against the real broker and an SQLite
# file. Each run must have recorded its command (a row in `commands` for the
# app) and its messages must have arrived: the command in the manager's
# queue (message_id = the command id, body naming the app), the task in its
# task queue.
#   run.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1
source=$2
host=${DC_TEST_RABBIT_HOST:-}
port=${DC_TEST_RABBIT_PORT:-}
if [[ -z $host || -z $port ]]; then
  [[ ${DC_REQUIRE_SERVICES:-0} == 1 ]] && { echo "library test: DC_TEST_RABBIT_HOST/PORT not set" >&2; exit 1; }
  echo "library test: skipped, no broker (scripts/rabbitmq-local.sh start and source its env)"
  exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix

cmake --install "$build" --prefix "$prefix" --component dev >/dev/null
pc=$(find "$prefix" -name dc.pc -print -quit)
[[ -n $pc ]] || { echo "library test: no dc.pc installed" >&2; exit 1; }
[[ -n $(find "$prefix" -name dcConfig.cmake -print -quit) ]] || { echo "library test: no dcConfig.cmake" >&2; exit 1; }

echo "library test: a project with find_package(dc)"
cmake -S "$source/tests/library/consumer" -B "$tmp/with-cmake" -G Ninja -DCMAKE_PREFIX_PATH="$prefix" \
  -DCMAKE_BUILD_TYPE=Release >"$tmp/cmake.log" 2>&1 && cmake --build "$tmp/with-cmake" >>"$tmp/cmake.log" 2>&1 ||
  { cat "$tmp/cmake.log" >&2; exit 1; }
echo "library test: the same program with pkg-config"
export PKG_CONFIG_PATH=$(dirname "$pc")
mkdir -p "$tmp/with-pkg-config"
# shellcheck disable=SC2046 # pkg-config's output is a list of flags
c++ -std=c++20 -O1 -o "$tmp/with-pkg-config/issue_one" "$source/tests/library/consumer/main.cc" \
  $(pkg-config --cflags --libs dc) || exit 1

for variant in with-cmake with-pkg-config; do
  tag=${variant//-/_}_$$
  manager=libtest_mgr_$tag
  app=libtest_app_$tag
  queue=libtest_tasks_$tag
  db=$tmp/$variant.sqlite3
  out=$("$tmp/$variant/issue_one" "sqlite://$db" "$host" "$port" "$manager" "$app" "$queue") || exit 1
  command_id=$(sed -n 's/^command //p' <<<"$out")
  task_id=$(sed -n 's/^task //p' <<<"$out")
  rows=$(/usr/bin/python3 -c 'import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
print(db.execute("select count(*) from commands where cmd_id = ? and app_id = ? and command = 1",
                 (sys.argv[2], sys.argv[3])).fetchone()[0])' "$db" "$command_id" "$app")
  [[ $rows == 1 ]] || { echo "library test ($variant): no commands row for $command_id" >&2; exit 1; }
  /usr/bin/python3 - "$host" "$port" "$manager" "$command_id" "$app" "$queue" "$task_id" <<'PY' || exit 1
import json, sys, pika
host, port, manager, command_id, app, queue, task_id = sys.argv[1:]
conn = pika.BlockingConnection(pika.ConnectionParameters(host=host, port=int(port)))
ch = conn.channel()
try:
    method, props, body = ch.basic_get(queue=manager, auto_ack=True)
    assert method is not None, f"no message in the manager's queue {manager}"
    assert props.message_id == command_id, f"message_id {props.message_id} != {command_id}"
    assert json.loads(body)["app_id"] == app, body
    method, props, body = ch.basic_get(queue=queue, auto_ack=True)
    assert method is not None, f"no message in the task queue {queue}"
    assert json.loads(body)["message_id"] == task_id, body
finally:
    for q in (manager, queue, queue + ".DQ", queue + ".XQ"):
        ch.queue_delete(queue=q)
    conn.close()
PY
  echo "library test ($variant): command $command_id recorded and delivered, task $task_id queued"
done
