// The fault-injection scenarios (issue "Reliability and security"). Each
// issues a known set of commands against a real dc-manager, breaks something
// at random moments, and then checks from outside, in the commands table and
// the witness file the apps append to on every start, that SPEC §6 held:
// every command ended EXECUTED or NOT_EXECUTED (none PENDING, none missing),
// no effect happened twice, and each app's commands took effect in issue
// order.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "chaos/harness.h"

namespace dc::chaos {

// One row of a result table.
struct Row {
  std::string scenario;
  int faults = 0;  // faults injected
  uint64_t issued = 0;
  uint64_t executed = 0;
  uint64_t not_executed = 0;
  std::map<std::string, uint64_t> reasons;  // NOT_EXECUTED reasons, shortened
  uint64_t lost = 0;                        // still PENDING after the settle deadline, or missing
  uint64_t duplicated = 0;                  // command ids with more than one witness line
  uint64_t order_violations = 0;            // per app, a later seq finished before an earlier one
  uint64_t via_poll = 0;                    // outcomes delivered by the database path
  double recovery_s = -1;                   // worst time back to service after a fault; < 0: not measured
  double settle_s = 0;                      // last command issued -> everything finished
  std::vector<std::string> failures;        // why the row fails; empty = pass
  std::vector<std::string> notes;
  std::string verdict;  // shown instead of PASS when set (a row that demonstrates a limit)
  bool passed() const { return failures.empty(); }
};

// Hostile-input results: one line per message kind.
struct HostileLine {
  std::string kind;
  size_t bytes = 0;
  std::string expected;  // "dead-lettered" or "executed"
  std::string observed;
  bool ok = false;
};
struct HostileReport {
  std::vector<HostileLine> lines;
  long rss_before_kib = -1, rss_after_kib = -1, peak_kib = -1;
  uint64_t dead_lettered = 0, poison_sent = 0;
};

// Set by SIGINT/SIGTERM: scenarios wind down, then everything is stopped.
extern std::atomic<bool> g_interrupted;

struct Context {
  Paths paths;
  bool short_mode = true;
  uint64_t seed = 0;
  std::mt19937_64 rng;
  std::string run_id;  // unique per run; prefixes manager names and exchanges
  int rabbit_port = 0;
  int pg_port = 0;
  Rabbit* rabbit = nullptr;  // the run's broker (started by the driver)

  // Uniform random duration in [lo, hi] milliseconds.
  std::chrono::milliseconds random_ms(int lo, int hi);
  // Scales a size: `short_value` in short mode, `full_value` otherwise.
  int pick(int short_value, int full_value) const { return short_mode ? short_value : full_value; }
};

std::vector<Row> run_broker_kill(Context& ctx);
std::vector<Row> run_manager_kill(Context& ctx);
std::vector<Row> run_network(Context& ctx);  // clean close, blackhole, slow link
std::vector<Row> run_broker_freeze(Context& ctx);
std::vector<Row> run_database(Context& ctx);  // PostgreSQL restart, SQLite locked
std::vector<Row> run_topology_delete(Context& ctx);
std::vector<Row> run_duplicate_name(Context& ctx);
std::vector<Row> run_hostile(Context& ctx, HostileReport& report);
// Issue 11: an exit collected late, broadcasts meeting newer apps, the lease
// under long work and a freeze, the fallback while reconnects hang.
std::vector<Row> run_late_exits(Context& ctx);
std::vector<Row> run_broadcast_newer_apps(Context& ctx);
std::vector<Row> run_lease_takeover(Context& ctx);
std::vector<Row> run_hanging_reconnects(Context& ctx);

}  // namespace dc::chaos
