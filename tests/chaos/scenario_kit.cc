#include "chaos/scenario_kit.h"

#include <algorithm>
#include <fstream>
#include <iostream>
#include <map>

namespace dc::chaos {

using std::chrono::milliseconds;
using std::chrono::seconds;

void say(const std::string& line) { std::cerr << "[chaos " << format_iso8601(now()) << "] " << line << std::endl; }

// Sleeps, waking early when the run is interrupted (SIGINT/SIGTERM).
void nap(milliseconds d) {
  const auto until = Clock::now() + d;
  while (Clock::now() < until && !g_interrupted.load()) {
    std::this_thread::sleep_for(
        std::min(milliseconds(50), std::chrono::duration_cast<milliseconds>(until - Clock::now())));
  }
}

double seconds_between(TimePoint a, TimePoint b) { return std::chrono::duration<double>(b - a).count(); }

// NOT_EXECUTED reasons grouped by their first words ("unknown app", "stop failed").
std::string short_reason(const std::optional<std::string>& result) {
  if (!result) return "(no reason)";
  std::string r = *result;
  const size_t cut = r.find_first_of(":('");
  if (cut != std::string::npos && cut > 0) r = r.substr(0, cut);
  while (!r.empty() && r.back() == ' ') r.pop_back();
  return r.size() > 40 ? r.substr(0, 40) : r;
}

namespace {

// The time of the last line of dc-manager log `path` that contains `needle`
// (lines start with an ISO-8601 UTC time).
std::optional<TimePoint> last_log_time(const std::string& path, const std::string& needle) {
  std::ifstream in(path);
  std::optional<TimePoint> last;
  for (std::string line; std::getline(in, line);) {
    if (line.find(needle) == std::string::npos) continue;
    if (auto t = parse_iso8601(line.substr(0, line.find(' ')))) last = t;
  }
  return last;
}

}  // namespace

// Waits until no command is PENDING (or the deadline); returns whether it settled.
bool settle(Fixture& f, milliseconds deadline) {
  const auto until = Clock::now() + deadline;
  while (!g_interrupted.load()) {
    CommandFilter filter;
    filter.pending_only = true;
    filter.limit = 0;
    auto pending = f.monitor->list_commands(filter);
    if (pending && pending->empty()) return true;
    if (Clock::now() >= until) return false;
    nap(milliseconds(250));
  }
  return false;
}

// The outside check of SPEC §6 over the commands table and the witness file.
void judge(Fixture& f, const std::vector<std::string>& ids, Row& row) {
  CommandFilter filter;
  filter.limit = 0;
  auto rows = f.monitor->list_commands(filter);
  if (!rows) {
    row.failures.push_back("cannot read the commands table: " + rows.error().message());
    return;
  }
  std::map<std::string, std::vector<const CommandRecord*>> by_id;
  std::map<std::string, std::vector<const CommandRecord*>> by_app;
  for (const auto& r : *rows) {
    by_id[r.cmd_id].push_back(&r);
    by_app[r.app_id].push_back(&r);
  }
  row.issued += ids.size();
  for (const auto& id : ids) {
    auto it = by_id.find(id);
    if (it == by_id.end()) {
      ++row.lost;
      continue;
    }
    for (const CommandRecord* r : it->second) {
      if (r->flag == CmdFlag::pending) {
        ++row.lost;
      } else if (r->flag == CmdFlag::executed) {
        ++row.executed;
      } else {
        ++row.not_executed;
        ++row.reasons[short_reason(r->result)];
      }
      if (r->path == DeliveryPath::poll && r->flag != CmdFlag::pending) ++row.via_poll;
    }
  }
  for (auto& [app, list] : by_app) {
    std::sort(list.begin(), list.end(), [](auto* a, auto* b) { return a->seq < b->seq; });
    std::optional<TimePoint> last;
    for (const CommandRecord* r : list) {
      if (!r->executed_at) continue;
      if (last && *r->executed_at < *last) ++row.order_violations;
      last = r->executed_at;
    }
  }
  // Effects: one witness line per start of an app, tagged with the command id.
  std::map<std::string, int> starts;
  std::ifstream in(f.witness);
  for (std::string line; std::getline(in, line);) {
    const size_t space = line.find(' ');
    if (space != std::string::npos) ++starts[line.substr(space + 1)];
  }
  uint64_t stray = 0;
  for (const auto& [id, n] : starts) {
    if (n > 1) ++row.duplicated;
    auto it = by_id.find(id);
    if (it == by_id.end() || it->second.front()->flag != CmdFlag::executed) ++stray;
  }
  if (stray > 0) {
    row.notes.push_back(std::to_string(stray) + " app start(s) whose command is not recorded EXECUTED");
  }
  // Recovery: from each fault's end to the next outcome (via the broker
  // when the fault was the broker path's).
  for (size_t i = 0; i < f.lifts.size(); ++i) {
    std::optional<TimePoint> first;
    for (const auto& r : *rows) {
      if (!r.executed_at || *r.executed_at < f.lifts[i]) continue;
      if (f.recovery_issued_after && r.issued_at < f.lifts[i]) continue;
      if (f.broker_recovery && r.path != DeliveryPath::broker) continue;
      if (!first || *r.executed_at < *first) first = r.executed_at;
    }
    if (first) row.recovery_s = std::max(row.recovery_s, seconds_between(f.lifts[i], *first));
  }
  if (row.lost > 0) row.failures.push_back(std::to_string(row.lost) + " command(s) lost (still PENDING or missing)");
  if (row.duplicated > 0) row.failures.push_back(std::to_string(row.duplicated) + " command(s) took effect twice");
  if (row.order_violations > 0) {
    row.failures.push_back(std::to_string(row.order_violations) + " per-app order violation(s)");
  }
}

// Stops the manager (SIGTERM, must exit 0 within 30 s) and the apps it left.
void stop_manager(Fixture& f, ManagerProcess& m, Row& row) {
  if (m.running()) {
    if (auto code = m.wait(milliseconds(0))) {
      row.failures.push_back("dc-manager had exited with code " + std::to_string(*code) + " (log " + m.log_path() +
                             ")");
    } else {
      auto exit_code = m.terminate(seconds(30));
      if (!exit_code) {
        row.failures.push_back("dc-manager did not exit within 30 s of SIGTERM (hang; log " + m.log_path() + ")");
      } else if (*exit_code != 0) {
        row.failures.push_back("dc-manager exited " + std::to_string(*exit_code) + " on SIGTERM (log " + m.log_path() +
                               ")");
      }
    }
  }
  const int orphans = kill_orphan_apps(f.manager);
  if (orphans > 0) row.notes.push_back(std::to_string(orphans) + " app process(es) left running after shutdown");
}

// The common shape: manager up, stream on, `faults` in this thread, then
// settle, stop and judge.
Row stream_run(Fixture& f, const std::string& label, int manager_port, int count, double rate,
               const std::function<void(Stream&, ManagerProcess&, Row&)>& faults,
               const std::function<void(Row&)>& before_stop) {
  Row row;
  row.scenario = label;
  say(label + ": " + std::to_string(count) + " commands at " + std::to_string(static_cast<int>(rate)) + "/s");
  if (auto st = f.prepare(20, 3); !st) {
    row.failures.push_back(st.error().message());
    return row;
  }
  ManagerProcess m(f.ctx.paths, f.spec(manager_port));
  if (auto st = m.spawn(); !st) {
    row.failures.push_back(st.error().message());
    return row;
  }
  if (!f.wait_ready(m.pid(), seconds(30))) {
    row.failures.push_back("dc-manager did not take its lease within 30 s (log " + m.log_path() + ")");
    return row;
  }
  Stream stream(f, count, rate, f.ctx.rng());
  if (!stream.start()) {
    row.failures.push_back("cannot open the store for the command source");
    return row;
  }
  faults(stream, m, row);
  const TimePoint faults_done = now();
  stream.join();
  // After a broker-path fault the manager must come back to broker mode
  // (reconnect backoff is capped at 10 s); the probes then measure it.
  if (f.broker_recovery && !f.lifts.empty() && m.running()) {
    const auto until = Clock::now() + seconds(60);
    bool back = false;
    while (!back && Clock::now() < until && !g_interrupted.load()) {
      if (auto managers = f.monitor->list_managers()) {
        for (const auto& rec : *managers) back = back || (rec.name == f.manager && rec.mode == ManagerMode::broker);
      }
      if (!back) nap(milliseconds(100));
    }
    if (back) {
      // When it went back is in its log ("mode fallback -> broker"), not in
      // when this check ran (after the stream ended).
      const std::optional<TimePoint> at = last_log_time(m.log_path(), "-> broker");
      const double after = seconds_between(faults_done, at.value_or(now()));
      row.notes.push_back(after >= 0 ? "back in broker mode " + std::to_string(after).substr(0, 4) +
                                           " s after the last fault ended"
                                     : "back in broker mode before the last fault ended");
    } else {
      row.failures.push_back("dc-manager not back in broker mode 60 s after the last fault ended");
    }
  }
  // A short probe stream after the last fault, so that recovery is measured
  // (and the healed path exercised) even when the main stream ended during
  // an outage.
  Stream probe(f, 20, 20, f.ctx.rng());
  if (!probe.start()) row.failures.push_back("cannot open the store for the probe source");
  probe.join();
  const TimePoint last_issued = probe.finished_at();
  const bool settled = settle(f, milliseconds(f.ctx.pick(90000, 240000)));
  row.settle_s = seconds_between(last_issued, now());
  if (!settled) row.notes.push_back("did not settle before the deadline");
  if (before_stop) before_stop(row);
  stop_manager(f, m, row);
  auto counters = stream.counters();
  const auto probe_counters = probe.counters();
  counters.published += probe_counters.published;
  counters.publish_failed += probe_counters.publish_failed;
  counters.record_refused += probe_counters.record_refused;
  counters.record_ambiguous += probe_counters.record_ambiguous;
  row.notes.push_back(
      "source: " + std::to_string(counters.published) + " published, " + std::to_string(counters.publish_failed) +
      " publish failed (left to the DB path)" +
      (counters.record_refused ? ", " + std::to_string(counters.record_refused) + " refused by the DB" : "") +
      (counters.record_ambiguous ? ", " + std::to_string(counters.record_ambiguous) +
                                       " recorded by a COMMIT whose answer was lost (found on retry)"
                                 : ""));
  if (m.spawn_count() > 1) row.notes.push_back("manager started " + std::to_string(m.spawn_count()) + " times");
  std::vector<std::string> ids = stream.ids();
  for (auto& id : probe.ids()) ids.push_back(std::move(id));
  ids.insert(ids.end(), f.extra_ids.begin(), f.extra_ids.end());
  judge(f, ids, row);
  say(label + ": " + (row.passed() ? "PASS" : "FAIL"));
  return row;
}

}  // namespace dc::chaos
