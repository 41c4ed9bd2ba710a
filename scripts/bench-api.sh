#!/usr/bin/env bash
# dc-api's benchmarks (SPEC §10 api.* keys), the last section of `make bench`
# (scripts/bench.sh runs it) and runnable alone:
#
#   scripts/bench-api.sh            full (about 2 minutes)
#   QUICK=1 scripts/bench-api.sh    short (under a minute)
#
# Measures, against a private broker and an SQLite database in /dev/shm:
#   api.direct_commands_per_s   the issuing layer called directly (4 threads,
#                               as many as dc-api's workers)
#   api.commands_per_s          POST /api/v1/commands from 16 keep-alive clients
#   api.latency_ms.{p50,p99}    POST at a fixed 500 requests/s
#   api.sse_fanout_ms.p99       1,000 open event streams: change -> every stream
#   api.rss_mib                 dc-api's RSS with those streams open
#   api.idle_cpu_pct            dc-api's CPU (% of one core) while they idle
# and merges them into build/bench/results.json (other keys are kept), then
# writes the "API" section of docs/BENCHMARKS.md (between its markers).
#
# Environment (optional): BUILD (default build), BENCH_RABBIT_PORT (a broker
# already running there is used as is; otherwise one is started on
# BENCH_API_RABBIT_PORT, default 56860), BENCH_API_PORT (dc-api's port,
# default 56870).
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$(cd "$repo" && mkdir -p "${BUILD:-build}" && cd "${BUILD:-build}" && pwd)
quick=${QUICK:-}
[[ "$quick" == 0 ]] && quick=""
out=$build/bench
work=$(mktemp -d /dev/shm/dc-bench-api-XXXXXX)
python=/usr/bin/python3
bench_bin=$build/bench/dc-api-bench
api_bin=$build/apps/dc-api
dcctl_bin=$build/apps/dcctl
api_port=${BENCH_API_PORT:-56870}
for f in "$bench_bin" "$api_bin" "$dcctl_bin"; do
  [[ -x "$f" ]] || { echo "bench-api: $f is missing; run 'make build'" >&2; exit 1; }
done

if [[ -n "$quick" ]]; then
  count=1000 reps=2 latency_s=5 sse_events=3 idle_s=5
else
  count=3000 reps=3 latency_s=10 sse_events=5 idle_s=10
fi
streams=1000 clients=16 rate=500 apps=100

log() { printf '[bench-api %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() {
  log "FAILED: $*"
  exit 1
}
jget() { "$python" -c 'import json,sys; print(json.loads(sys.stdin.read())[sys.argv[1]])' "$1"; }

own_broker=0
api_pid=""
rport=${BENCH_RABBIT_PORT:-}
rabbit() { DC_RABBIT_PORT=$rport DC_SERVICES_DIR=$work/services "$repo/scripts/rabbitmq-local.sh" "$@"; }
cleanup() {
  local rc=$?
  set +e
  if [[ -n "$api_pid" ]]; then
    kill -TERM "$api_pid" 2>/dev/null
    wait "$api_pid" 2>/dev/null
  fi
  ((own_broker)) && rabbit stop >/dev/null 2>&1
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [[ -z "$rport" ]] || ! (exec 3<>"/dev/tcp/127.0.0.1/$rport") 2>/dev/null; then
  rport=${BENCH_API_RABBIT_PORT:-56860}
  rabbit start >/dev/null || die "could not start a broker on port $rport"
  own_broker=1
fi
(exec 3<>"/dev/tcp/127.0.0.1/$api_port") 2>/dev/null && die "port $api_port is taken; set BENCH_API_PORT"

export DC_DB_URL="sqlite://$work/api.sqlite3" DC_RABBIT_HOST=127.0.0.1 DC_RABBIT_PORT=$rport
export DC_RABBIT_EXCHANGE=bench_api DC_API_TOKENS_FILE=$work/tokens DC_API_LISTEN=127.0.0.1:$api_port
unset DC_CONFIG
"$dcctl_bin" db init >/dev/null
"$python" - "$work/api.sqlite3" "$apps" <<'EOF'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.executemany("INSERT INTO apps (app_id, name, manager, exec) VALUES (?, ?, 'bench_api_m', '[\"/bin/true\"]')",
               [(f"bench-app-{i}", f"bench-app-{i}") for i in range(int(sys.argv[2]))])
db.commit()
EOF
"$api_bin" token add bench --role admin --quiet >"$work/token"

log "direct vs API: $count commands, $reps interleaved repetitions (ENABLE, nobody consuming)"
"$api_bin" --log-level warn 2>"$work/api.log" &
api_pid=$!
for _ in $(seq 100); do
  curl -fsS "http://127.0.0.1:$api_port/healthz" >/dev/null 2>&1 && break
  sleep 0.1
done
direct=() http=()
for ((rep = 1; rep <= reps; rep++)); do
  w=$("$bench_bin" direct --db-url "$DC_DB_URL" --rabbit-port "$rport" --exchange bench_api --count "$count" \
    --threads 4 --apps "$apps") || die "direct"
  direct+=("$(jget per_s <<<"$w")")
  w=$("$bench_bin" http --url "http://127.0.0.1:$api_port" --token-file "$work/token" --count "$count" \
    --clients "$clients" --apps "$apps") || die "http"
  http+=("$(jget per_s <<<"$w")")
  log "  rep $rep: direct ${direct[-1]}/s, API ${http[-1]}/s"
done

log "latency: POST at $rate/s for $latency_s s"
lat=$("$bench_bin" latency --url "http://127.0.0.1:$api_port" --token-file "$work/token" --rate "$rate" \
  --duration "$latency_s" --apps "$apps") || die "latency"
log "  $lat"

log "event streams: $streams open, $sse_events changes, then $idle_s s idle"
sse=$("$bench_bin" sse --url "http://127.0.0.1:$api_port" --token-file "$work/token" --streams "$streams" \
  --events "$sse_events" --api-pid "$api_pid" --idle "$idle_s" --apps "$apps") || die "sse"
log "  $sse"

mkdir -p "$out"
"$python" - "$out/results.json" "$repo/docs/BENCHMARKS.md" "${direct[*]}" "${http[*]}" "$lat" "$sse" \
  "${quick:+1}" "$count" "$reps" <<'EOF'
import json, os, statistics, sys
results_path, doc_path, direct, http, lat, sse, quick, count, reps = sys.argv[1:]
direct = [float(x) for x in direct.split()]
http = [float(x) for x in http.split()]
lat, sse = json.loads(lat), json.loads(sse)
keys = {
    "api.direct_commands_per_s": round(statistics.median(direct), 1),
    "api.commands_per_s": round(statistics.median(http), 1),
    "api.latency_ms.p50": round(lat["p50_ms"], 3),
    "api.latency_ms.p99": round(lat["p99_ms"], 3),
    "api.sse_fanout_ms.p99": round(sse["fanout_p99_ms"], 3),
    "api.rss_mib": round(sse["rss_mib"], 1),
    "api.idle_cpu_pct": round(sse["idle_cpu_pct"], 3),
}
results = {}
if os.path.exists(results_path):
    with open(results_path) as f:
        results = json.load(f)
results.update(keys)
with open(results_path, "w") as f:
    json.dump(results, f, indent=2, sort_keys=True)
    f.write("\n")

ratio = keys["api.commands_per_s"] / keys["api.direct_commands_per_s"] * 100
rows = [
    ("api.commands_per_s", f"{keys['api.commands_per_s']:.0f} /s", f"≥ 50 % of direct: {ratio:.0f} %",
     "yes" if ratio >= 50 else "no"),
    ("api.direct_commands_per_s", f"{keys['api.direct_commands_per_s']:.0f} /s", "(the baseline)", ""),
    ("api.latency_ms.p50", f"{keys['api.latency_ms.p50']:.2f} ms", "", ""),
    ("api.latency_ms.p99", f"{keys['api.latency_ms.p99']:.2f} ms", "≤ 10 ms",
     "yes" if keys["api.latency_ms.p99"] <= 10 else "no"),
    ("api.sse_fanout_ms.p99", f"{keys['api.sse_fanout_ms.p99']:.1f} ms", "≤ 1000 ms",
     "yes" if keys["api.sse_fanout_ms.p99"] <= 1000 else "no"),
    ("api.rss_mib", f"{keys['api.rss_mib']:.1f} MiB", "≤ 64 MiB", "yes" if keys["api.rss_mib"] <= 64 else "no"),
    ("api.idle_cpu_pct", f"{keys['api.idle_cpu_pct']:.2f} %", "(as low as it goes)", ""),
]
section = ["<!-- api-bench:begin (written by scripts/bench-api.sh) -->", "## API (dc-api, SPEC §8)", ""]
section.append(f"Run: {'QUICK' if quick else 'full'}, {count} commands per side, {reps} interleaved repetitions "
               f"(median); SQLite in /dev/shm, a private broker, nobody consuming (ENABLE commands, so only the "
               f"source's work is measured: record, then publish with confirms). Latency: POST at "
               f"{lat['rate_per_s']:.0f}/s for {lat['count']} requests, timed from each request's scheduled send "
               f"(open loop), achieved {lat['achieved_per_s']:.0f}/s, max {lat['max_ms']:.1f} ms. Event streams: "
               f"{sse['streams']} open at once, {sse['events']} changes (PATCH of an app), p50 "
               f"{sse['fanout_p50_ms']:.1f} ms, max {sse['fanout_max_ms']:.1f} ms; idle CPU over "
               f"{sse['idle_seconds']:.0f} s with them open.")
section += ["", "| key | value | target | met |", "|---|---|---|---|"]
section += [f"| `{k}` | {v} | {t} | {m} |" for k, v, t, m in rows]
section += ["", "Each rep (direct / API, commands/s): " +
            ", ".join(f"{d:.0f} / {h:.0f}" for d, h in zip(direct, http)) + ".",
            "<!-- api-bench:end -->"]
text = open(doc_path).read() if os.path.exists(doc_path) else "# Benchmarks\n"
begin, end = text.find("<!-- api-bench:begin"), text.find("<!-- api-bench:end -->")
block = "\n".join(section)
if begin >= 0 and end >= 0:
    text = text[:begin] + block + text[end + len("<!-- api-bench:end -->"):]
else:
    text = text.rstrip("\n") + "\n\n" + block + "\n"
with open(doc_path, "w") as f:
    f.write(text)
for k, v in keys.items():
    print(f"{k} = {v}")
EOF
log "api.* keys merged into $out/results.json; docs/BENCHMARKS.md section \"API\" written"
