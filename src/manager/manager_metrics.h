// The metrics dc-manager exports (docs/OPERATIONS.md lists them). Series are
// resolved once here, so the hot path is one relaxed atomic per update.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>

#include "observe/metrics.h"
#include "protocol/command.h"
#include "store/store.h"

namespace dc {

class ManagerMetrics {
 public:
  ManagerMetrics();

  // One EXECUTED / NOT_EXECUTED outcome, with its issue-to-outcome latency.
  void command_finished(CmdFlag flag, DeliveryPath path, double latency_seconds);
  Counter& poison() { return *poison_; }
  Counter& duplicates() { return *duplicates_; }
  Counter& other_manager() { return *other_manager_; }
  Counter& reconnects() { return *reconnects_; }
  void set_mode(ManagerMode mode) { mode_->set_exclusive(to_string(mode)); }
  // Counts indexed by AppStatus.
  void set_apps(const std::array<int64_t, 5>& by_status);

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
  Histogram* latency_ = nullptr;
};

}  // namespace dc
