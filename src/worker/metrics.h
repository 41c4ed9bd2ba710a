// dc-worker's metrics, under the names of Dramatiq's Prometheus middleware
// so dashboards built for Dramatiq work unchanged (labels queue_name and
// actor_name on each):
//
//   dramatiq_messages_total                 counter    messages processed (run or skipped)
//   dramatiq_message_errors_total           counter    attempts that failed
//   dramatiq_message_retries_total          counter    retries enqueued
//   dramatiq_message_rejects_total          counter    messages dead-lettered
//   dramatiq_messages_inprogress            gauge      messages being run now
//   dramatiq_delayed_messages_inprogress    gauge      delayed messages held until their eta
//   dramatiq_message_duration_milliseconds  histogram  time spent running, Dramatiq's buckets
//
// plus the process_* metrics of every Prometheus client (process_metrics.h)
// and dc_worker_* series of our own (consumers connected, undecodable
// messages). Thread safe (observe/metrics.h).
#pragma once

#include <string_view>

#include "observe/metrics.h"

namespace dc::worker {

// Dramatiq's duration buckets (ms); +Inf is implicit.
inline constexpr double kDurationBucketsMs[] = {5,    10,   25,   50,   75,    100,   250,   500,    750,
                                                1000, 2500, 5000, 7500, 10000, 30000, 60000, 600000, 900000};

class WorkerMetrics {
 public:
  WorkerMetrics();

  MetricsRegistry& registry() { return registry_; }
  std::string render() const { return registry_.render(); }

  CounterFamily* messages = nullptr;
  CounterFamily* errors = nullptr;
  CounterFamily* retries = nullptr;
  CounterFamily* rejects = nullptr;
  GaugeFamily* inprogress = nullptr;
  GaugeFamily* delayed_inprogress = nullptr;
  HistogramFamily* duration_ms = nullptr;
  GaugeFamily* consumers_connected = nullptr;  // dc_worker_consumer_connected{queue}
  CounterFamily* undecodable = nullptr;        // dc_worker_undecodable_messages_total{queue}

 private:
  MetricsRegistry registry_;
};

}  // namespace dc::worker
