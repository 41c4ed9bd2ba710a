// The metrics dc-manager exports (docs/OPERATIONS.md lists them). Series are
// resolved once here, so the hot path is one relaxed atomic per update.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "observe/metrics.h"
#include "protocol/command.h"
#include "store/store.h"

namespace dc {

// One app's state as the per-app gauges show it.
struct AppStatusSample {
  std::string app_id;
  AppStatus status = AppStatus::stopped;
};

// The per-app families, from a snapshot of this manager's apps: two series
// per app, dc_app_running{app_id} (1 while RUNNING, else 0) and
// dc_app_status{app_id,status} (1, the current status only).
std::string format_app_status_metrics(const std::vector<AppStatusSample>& apps);

class ManagerMetrics {
 public:
  // Also registers the process_* metrics (observe/process_metrics.h).
  ManagerMetrics();

  // One EXECUTED / NOT_EXECUTED outcome of a `command`, with its
  // issue-to-outcome latency (dc_command_latency_seconds{command}).
  void command_finished(CmdName command, CmdFlag flag, DeliveryPath path, double latency_seconds);
  Counter& poison() { return *poison_; }
  Counter& duplicates() { return *duplicates_; }
  Counter& other_manager() { return *other_manager_; }
  Counter& reconnects() { return *reconnects_; }
  void set_mode(ManagerMode mode) { mode_->set_exclusive(to_string(mode)); }
  // Counts indexed by AppStatus.
  void set_apps(const std::array<int64_t, 5>& by_status);
  // The apps the per-app gauges show from now on (all of this manager's;
  // apps absent from `apps` disappear from /metrics).
  void set_app_states(std::vector<AppStatusSample> apps);

  uint64_t commands(CmdFlag flag, DeliveryPath path) const;
  std::string render() const { return registry_.render(); }

  // For /healthz: the loop's last turn, updated every iteration.
  std::atomic<int64_t> last_loop_micros{0};

 private:
  MetricsRegistry registry_;
  // [executed, not_executed][broker, poll]
  std::array<std::array<Counter*, 2>, 2> commands_{};
  Counter* poison_ = nullptr;
  Counter* duplicates_ = nullptr;
  Counter* other_manager_ = nullptr;
  Counter* reconnects_ = nullptr;
  GaugeFamily* mode_ = nullptr;
  GaugeFamily* apps_ = nullptr;
  std::array<Histogram*, 5> latency_{};  // by CmdName - 1
  // The per-app snapshot, rendered by a collector at scrape time.
  mutable std::mutex app_states_mutex_;
  std::vector<AppStatusSample> app_states_;
};

}  // namespace dc
