#!/usr/bin/python3
"""Helpers of scripts/bench.sh: bulk set-up, waiting for rows, statistics and
the docs/BENCHMARKS.md report. Not timed themselves; see each subcommand.

  register-sqlite DB --manager M --apps N     bulk-insert apps app-00000.. (schema from `dcctl db init`)
  register-pg URL --managers K --apps-per N   bulk-insert K*N apps for managers m00..; one statement
  wait DB|URL --count N --timeout S           until N command rows are finished; prints
                                              {"done", "max_executed_us", "min_issued_us"}
  log-time FILE PATTERN --timeout S           the timestamp (us) of the first log line containing PATTERN
  summarize RAW OUT                           medians and spreads of raw samples -> results.json
  report RESULTS OUT                          docs/BENCHMARKS.md from results.json
"""
import argparse
import datetime
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import time

PSQL = os.environ.get("DC_PG_BIN", "/usr/lib/postgresql/15/bin") + "/psql"


def app_id(i):
    return f"app-{i:05d}"


def micros(text):
    """dc's time text (ISO-8601 UTC, 3 or 6 fractional digits) -> unix micros."""
    text = text.rstrip("Z")
    if "." in text:
        head, frac = text.split(".")
        frac = (frac + "000000")[:6]
    else:
        head, frac = text, "000000"
    t = datetime.datetime.strptime(head, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=datetime.timezone.utc)
    return int(t.timestamp()) * 1_000_000 + int(frac)


def psql(url, sql):
    out = subprocess.run([PSQL, "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", url, "-c", sql],
                         check=True, capture_output=True, text=True)
    return out.stdout.strip()


def cmd_register_sqlite(a):
    db = sqlite3.connect(a.db, isolation_level=None)
    db.execute("BEGIN")
    db.executemany(
        "INSERT INTO apps (app_id, name, manager, exec, disable, status) VALUES (?, ?, ?, ?, 0, 'STOPPED')",
        ((app_id(i), app_id(i), a.manager, '["/bin/true"]') for i in range(a.apps)))
    db.execute("COMMIT")
    db.close()


def cmd_register_pg(a):
    # Manager k owns apps k*N .. k*N+N-1.
    psql(a.url, "INSERT INTO apps (app_id, name, manager, exec, disable, status) "
         f"SELECT 'app-' || lpad(i::text, 5, '0'), 'app-' || lpad(i::text, 5, '0'), "
         f"'m' || lpad((i / {a.apps_per})::text, 2, '0'), '[\"/bin/true\"]', false, 'STOPPED' "
         f"FROM generate_series(0, {a.managers * a.apps_per - 1}) AS i")


def finished(target):
    sql = "SELECT count(*), max(executed_at), min(issued_at) FROM commands WHERE flag <> 0"
    if target.startswith("postgresql://"):
        row = psql(target, sql).split("|")
    else:
        db = sqlite3.connect(f"file:{target}?mode=ro", uri=True, timeout=10.0)
        try:
            row = db.execute(sql).fetchone()
        finally:
            db.close()
    return int(row[0] or 0), row[1] or None, row[2] or None


def cmd_wait(a):
    deadline = time.monotonic() + a.timeout
    while True:
        done, max_exec, min_issued = finished(a.target)
        if done >= a.count:
            print(json.dumps({"done": done, "max_executed_us": micros(max_exec), "min_issued_us": micros(min_issued)}))
            return 0
        if time.monotonic() > deadline:
            print(f"bench: only {done} of {a.count} commands finished within {a.timeout} s", file=sys.stderr)
            return 1
        time.sleep(a.interval)


def cmd_log_time(a):
    deadline = time.monotonic() + a.timeout
    while True:
        try:
            with open(a.file, encoding="utf-8", errors="replace") as f:
                for line in f:
                    if a.pattern in line:
                        print(micros(line.split(" ", 1)[0]))
                        return 0
        except FileNotFoundError:
            pass
        if time.monotonic() > deadline:
            print(f"bench: no line with '{a.pattern}' in {a.file} within {a.timeout} s", file=sys.stderr)
            return 1
        time.sleep(0.005)


# ------------------------------------------------------------- statistics

def cmd_summarize(a):
    samples = {}
    with open(a.raw, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                key, value = line.split()
                samples.setdefault(key, []).append(float(value))
    results = {}
    for key, values in samples.items():
        if key.startswith("@"):  # a single fact (machine, parameters), not a sample
            results[key[1:]] = values[-1]
            continue
        med = statistics.median(values)
        results[key] = round(med, 3)
        results[key + ".min"] = round(min(values), 3)
        results[key + ".max"] = round(max(values), 3)
        results[key + ".n"] = len(values)
        # Spread: half the min-max range relative to the median, in percent.
        results[key + ".spread_pct"] = round(50.0 * (max(values) - min(values)) / med, 1) if med else 0.0
    meta_path = a.raw + ".meta.json"
    if os.path.exists(meta_path):
        with open(meta_path, encoding="utf-8") as f:
            results.update(json.load(f))
    with open(a.out, "w", encoding="utf-8") as f:
        json.dump(dict(sorted(results.items())), f, indent=2)
        f.write("\n")


# ------------------------------------------------------------- report

def fmt(v, digits=0):
    if v is None:
        return "n/a"
    if abs(v) >= 100 or digits == 0:
        return f"{v:,.0f}"
    return f"{v:,.{digits}f}"


def spread(r, key):
    if key + ".spread_pct" not in r:
        return ""
    return f" (±{r[key + '.spread_pct']:.0f} %, n={int(r[key + '.n'])})"


def plain_summary(r):
    """One sentence per area, in words, from the figures."""
    g = r.get
    out = []

    def ratio(a, b):
        return g(a) / g(b) if g(a) is not None and g(b) else None

    x = ratio("publish.dc", "publish.pika")
    if x:
        out.append(f"Publishing: dc's Publisher gets {fmt(g('publish.dc'))} confirmed persistent commands/s, "
                   f"{x:.1f}× pika's {fmt(g('publish.pika'))}/s (pika waits for each confirm; dc keeps a window "
                   "of confirms in flight).")
    for p in ("1", "64"):
        xp, xn = ratio(f"drain_p{p}.dc", f"drain_p{p}.pika"), ratio(f"drain_p{p}.dc", f"drain_p{p}.null")
        if xp and xn:
            line = (f"Draining at prefetch {p}: dc-manager carries out {fmt(g(f'drain_p{p}.dc'))} commands/s, "
                    f"{xp:.1f}× the pika manager and {100 * xn:.0f} % of a consumer that only acks")
            xe = ratio(f"drain_p{p}.dc", f"drain_p{p}.null_ack_each")
            if xe:
                line += f" the way dc-manager does ({100 * xe:.0f} % of one that acks each message on its own)"
            out.append(line + ".")
    if g("drain_disk_p1.dc") is not None and g("drain_disk_p1.pika") is not None:
        out.append(f"With the SQLite file on this machine's disk instead of tmpfs (every commit waits for fsync; "
                   f"a bare commit loop made {fmt(g('machine.disk_fsync_commits_per_s'))} commits/s) at prefetch 1: "
                   f"dc {fmt(g('drain_disk_p1.dc'))}/s, pika {fmt(g('drain_disk_p1.pika'))}/s (one run each).")
    if g("latency_ms.p50") is not None:
        out.append(f"Latency from publish to EXECUTED in the store at 200 commands/s: p50 {g('latency_ms.p50'):.2f} ms, "
                   f"p99 {g('latency_ms.p99'):.1f} ms.")
    if g("fallback_ms.sqlite") is not None:
        out.append(f"With the broker down a command is carried out within {fmt(g('fallback_ms.sqlite'))} ms on SQLite "
                   f"(polling every {g('param.poll_interval_s', 1.0)} s) and {g('fallback_ms.postgresql', 0):.0f} ms "
                   "on PostgreSQL (LISTEN/NOTIFY), worst of the runs; a silently dead broker is noticed after "
                   f"{fmt(g('detect_dead_broker_ms'))} ms with rabbit_heartbeat={g('param.rabbit_heartbeat_s')} s.")
    if g("rss_mib.apps_10000") is not None:
        out.append(f"A manager of 10,000 apps holds {g('rss_mib.apps_10000'):.1f} MiB resident "
                   f"({g('rss_mib.apps_10', 0):.1f} MiB with 10 apps) and starts consuming after "
                   f"{fmt(g('startup_ms.apps_10000'))} ms.")
    if g("broadcast_10000_s") is not None:
        out.append(f"A broadcast ENABLE to {int(g('param.broadcast_apps', 0)):,} apps on "
                   f"{int(g('param.broadcast_managers', 0))} managers (PostgreSQL) took {g('broadcast_10000_s'):.1f} s "
                   "until every row was EXECUTED.")
    return out


def cmd_report(a):
    with open(a.results, encoding="utf-8") as f:
        r = json.load(f)
    g = r.get
    rows = []  # (target, measured, met)

    def ratio_row(label, num, den, need, unit_note):
        if g(num) is None or g(den) is None or not g(den):
            rows.append((label, "not measured", None))
            return
        ratio = g(num) / g(den)
        rows.append((label, f"{ratio:.2f}× ({fmt(g(num))} vs {fmt(g(den))} {unit_note})", ratio >= need))

    ratio_row("publish ≥ 10× pika", "publish.dc", "publish.pika", 10, "msg/s")
    for p in ("p1", "p64"):
        ratio_row(f"drain ≥ 2× pika, prefetch {p[1:]}", f"drain_{p}.dc", f"drain_{p}.pika", 2, "cmd/s")
        ratio_row(f"drain ≥ 70 % of null consumer, prefetch {p[1:]}", f"drain_{p}.dc", f"drain_{p}.null", 0.7,
                  "msg/s")

    for t in ("t1", "t8"):
        ratio_row(f"tasks: in-process actor ≥ 5× the Python reference, {t[1:]} thread(s)", f"tasks.inproc_per_s.{t}",
                  f"tasks.python_ref_per_s.{t}", 5, "tasks/s")
    ratio_row("tasks: executable actor bound by process spawn (≥ 50 % of the bare posix_spawn loop)",
              "tasks.exec_per_s.t8", "tasks.spawn_baseline_per_s", 0.5, "per s")

    def bound_row(label, key, limit, unit):
        if g(key) is None:
            rows.append((label, "not measured", None))
        else:
            rows.append((label, f"{fmt(g(key), 2)} {unit}", g(key) <= limit))

    bound_row("latency p50 ≤ 1 ms", "latency_ms.p50", 1.0, "ms")
    bound_row("latency p99 ≤ 5 ms", "latency_ms.p99", 5.0, "ms")
    bound_row("fallback on PostgreSQL ≤ 100 ms (worst of runs)", "fallback_ms.postgresql", 100.0, "ms")
    poll_ms = 1000.0 * g("param.poll_interval_s", 1.0)
    bound_row(f"fallback on SQLite ≤ poll_interval + 100 ms = {poll_ms + 100:.0f} ms (worst of runs)",
              "fallback_ms.sqlite", poll_ms + 100, "ms")
    bound_row("RSS ≤ 15 MiB at 10,000 apps", "rss_mib.apps_10000", 15.0, "MiB")

    met = sum(1 for _, _, m in rows if m)
    out = []
    w = out.append
    w("# Benchmarks")
    w("")
    w("Generated by `make bench` (scripts/bench.sh) from `build/bench/results.json`; do not edit by hand.")
    w(f"Mode: **{'QUICK' if g('param.quick') else 'full'}**. "
      f"Machine: {g('machine.nproc', '?')} cores, {g('machine.cpu', '?')}, kernel {g('machine.kernel', '?')}; "
      f"run {g('machine.date', '?')} at commit `{g('machine.commit', '?')}`.")
    w("")
    w("## Summary")
    w("")
    w(f"{met} of {len(rows)} targets met.")
    w("")
    for line in plain_summary(r):
        w(f"- {line}")
    w("")
    w("Every comparison was run as interleaved repetitions (dc, pika, null, dc, pika, null, ...) so that")
    w("noise from other work on the machine hits each side alike; the figure is the median and the spread")
    w("is half the min-max range relative to it. The machine is shared with builds and tests of other")
    w("engineers while this runs: treat single figures as ±20 % unless the spread says better.")
    w("")
    w("## Targets")
    w("")
    w("| target | measured | met |")
    w("|---|---|---|")
    for label, measured, ok in rows:
        w(f"| {label} | {measured} | {'met' if ok else ('not met' if ok is not None else '—')} |")
    w("")
    w("## All figures")
    w("")
    w("| key | median | spread |")
    w("|---|---|---|")
    for key in sorted(r):
        if key.endswith((".min", ".max", ".n", ".spread_pct")) or key.startswith(("machine.", "param.")):
            continue
        w(f"| `{key}` | {fmt(r[key], 2)} | {spread(r, key).strip()} |")
    w("")
    w("## Parameters")
    w("")
    for key in sorted(k for k in r if k.startswith("param.")):
        w(f"- `{key}` = {r[key]}")
    w("")
    if a.notes and os.path.exists(a.notes):
        with open(a.notes, encoding="utf-8") as f:
            w(f.read().rstrip())
        w("")
    with open(a.out, "w", encoding="utf-8") as f:
        f.write("\n".join(out))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("register-sqlite")
    s.add_argument("db")
    s.add_argument("--manager", required=True)
    s.add_argument("--apps", type=int, required=True)
    s = sub.add_parser("register-pg")
    s.add_argument("url")
    s.add_argument("--managers", type=int, required=True)
    s.add_argument("--apps-per", type=int, required=True)
    s = sub.add_parser("wait")
    s.add_argument("target", help="SQLite file or postgresql:// URL")
    s.add_argument("--count", type=int, required=True)
    s.add_argument("--timeout", type=float, default=300)
    s.add_argument("--interval", type=float, default=0.25)
    s = sub.add_parser("log-time")
    s.add_argument("file")
    s.add_argument("pattern")
    s.add_argument("--timeout", type=float, default=60)
    s = sub.add_parser("summarize")
    s.add_argument("raw")
    s.add_argument("out")
    s = sub.add_parser("report")
    s.add_argument("results")
    s.add_argument("out")
    s.add_argument("--notes", help="markdown appended to the report (what bounds each figure)")
    s.add_argument("--summary", default="", help="plain-language summary sentence(s)")
    a = p.parse_args()
    return {
        "register-sqlite": cmd_register_sqlite,
        "register-pg": cmd_register_pg,
        "wait": cmd_wait,
        "log-time": cmd_log_time,
        "summarize": cmd_summarize,
        "report": cmd_report,
    }[a.cmd](a) or 0


if __name__ == "__main__":
    sys.exit(main())
