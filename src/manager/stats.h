// Counters the manager keeps about itself, read by the metrics endpoint from
// another thread (hence atomics) and by tests.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <mutex>
#include <vector>

namespace dc {

struct ManagerStats {
  // [flag: 1 executed, 2 not executed][path: 0 broker, 1 poll]
  std::array<std::array<std::atomic<uint64_t>, 2>, 3> commands{};
  std::atomic<uint64_t> poison{0};
  std::atomic<uint64_t> duplicates{0};
  std::atomic<uint64_t> other_manager{0};
  std::atomic<uint64_t> reconnects{0};
  std::atomic<uint64_t> mode_broker{0};  // 1 in broker mode, 0 in fallback
  std::array<std::atomic<int64_t>, 5> apps_by_status{};  // indexed by AppStatus

  // Command latency (issue to outcome), seconds, fixed buckets.
  static constexpr std::array<double, 14> kLatencyBuckets{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                          0.1,    0.25,  0.5,    1,     2.5,  5,     10};
  std::array<std::atomic<uint64_t>, kLatencyBuckets.size() + 1> latency_buckets{};  // last = +Inf
  std::atomic<uint64_t> latency_count{0};
  std::atomic<uint64_t> latency_sum_micros{0};

  void observe_latency(double seconds) {
    size_t i = 0;
    while (i < kLatencyBuckets.size() && seconds > kLatencyBuckets[i]) ++i;
    latency_buckets[i].fetch_add(1, std::memory_order_relaxed);
    latency_count.fetch_add(1, std::memory_order_relaxed);
    latency_sum_micros.fetch_add(static_cast<uint64_t>(seconds > 0 ? seconds * 1e6 : 0), std::memory_order_relaxed);
  }
};

}  // namespace dc
